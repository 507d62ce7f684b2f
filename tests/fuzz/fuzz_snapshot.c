/* Fuzz target: the serving snapshot reader. Any file must open cleanly or be refused; an opened one
 * must find each of its records by id and read strings within its bounds. */
#include "mdp/snapshot.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/mdp-fuzz-snapshot-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    struct mdp_snapshot *s = NULL;
    struct mdp_diag d = {0};
    if (mdp_snapshot_open(path, &s, &d) == 0) {
        int64_t n = mdp_snapshot_count(s);
        for (int64_t i = 0; i < n && i < 64; i++) {
            const struct mdp_snapshot_rec *r = mdp_snapshot_at(s, i);
            const struct mdp_snapshot_rec *f = mdp_snapshot_find(s, r->user_id);
            if (!f || memcmp(f->user_id, r->user_id, 16) != 0) __builtin_trap();
            const char *p = mdp_snapshot_string(s, r->persona),
                       *t = mdp_snapshot_string(s, r->tone);
            if ((p && strlen(p) >= 32) || (t && strlen(t) >= 32)) __builtin_trap();
            (void)mdp_snapshot_bucket_name(r->onb_bucket);
            (void)mdp_snapshot_engagement_name(r->engagement);
            (void)mdp_snapshot_consent_name(r->consent_state);
        }
        mdp_snapshot_close(s);
    } else if (!d.msg[0]) {
        __builtin_trap(); /* a refusal says why */
    }
    unlink(path);
    return 0;
}
