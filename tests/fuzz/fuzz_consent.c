/* Fuzz target: the consent journal's record reader. Arbitrary bytes stored as a journal record
 * (as someone with write access to the store could leave them) must be reported by verify, never
 * crash it, the status lookup or retention's readers (the due records, the tombstones); a record
 * that verifies must be readable by status. */
#include "mdp/consent.h"
#include "mdp/state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_pruned(int64_t seq, const char *hash, void *ud)
{
    if (seq != 1 || strlen(hash) != 64) __builtin_trap(); /* the record's own seq, a whole hash */
    ++*(int *)ud;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mdp_state *s;
    struct mdp_diag d = {0};
    if (!s && mdp_state_open(":memory:", &s, &d)) __builtin_trap();
    char *body = malloc(size + 1);
    if (!body) return 0;
    memcpy(body, data, size);
    body[size] = '\0';
    struct mdp_state_item it = {"journal", "0000000000000001", body, 0};
    if (mdp_state_put(s, "consent_journal", &it, 0, &d)) __builtin_trap();
    struct mdp_consent_verify v;
    if (mdp_consent_verify(s, &v, &d)) __builtin_trap();
    if (v.bad_seq == 0 && v.records != 1) __builtin_trap();
    struct mdp_consent_status st[8];
    int n = 0;
    if (mdp_consent_status_at(s, "a@b.de", "u1", INT64_MAX, st, 8, &n, &d)) __builtin_trap();
    /* retention: an unreadable record is an error, never a crash; one tombstone at most */
    struct mdp_consent_due *due = NULL;
    size_t nd = 0;
    (void)mdp_consent_due(s, INT64_MAX, &due, &nd, &d);
    if (nd > 1) __builtin_trap();
    free(due);
    if (mdp_consent_each_pruned(s, count_pruned, &n, &d)) __builtin_trap();
    free(body);
    return 0;
}
