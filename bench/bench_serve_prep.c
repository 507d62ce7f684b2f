/* Prepares a lake for bench_serve.sh: a serving snapshot of MDP_BENCH_USERS users (default
 * 100,000; synthetic, every user with personalization consent and medium engagement, so requests
 * reach the bandit), warm bandit state (60 feedback events per context and variant), and a Lua
 * list of user ids for wrk. Usage: bench_serve_prep LAKE_DIR LUA_OUT */
#include "mdp/bandit.h"
#include "mdp/buf.h"
#include "mdp/hash.h"
#include "mdp/lake.h"
#include "mdp/ml.h"
#include "mdp/snapshot.h"
#include "mdp/state.h"
#include "mdp/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) return fprintf(stderr, "usage: bench_serve_prep LAKE LUA_OUT\n"), 2;
    const char *u = getenv("MDP_BENCH_USERS");
    long users = u ? atol(u) : 100000;
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(argv[1], 1, &lake, &d)) return fprintf(stderr, "%s\n", d.msg), 1;
    static const char *const personas[] = {"solo-sarah", "bewahrer-ben", "wachstums-walter",
                                           "ketten-katrin"};
    static const char *const tones[] = {"encouraging", "brief"};
    struct mdp_snapshot_writer w;
    mdp_snapshot_writer_init(&w);
    FILE *lua = fopen(argv[2], "w");
    if (!lua) return 1;
    fprintf(lua, "ids = {\n");
    for (long i = 0; i < users; i++) {
        struct mdp_uuid id;
        mdp_uuid7_new(&id);
        struct mdp_snapshot_rec r;
        memset(&r, 0, sizeof r);
        memcpy(r.user_id, id.b, 16);
        r.onb_day = (int16_t)(i % 20);
        r.onb_bucket = (uint8_t)(i % 5);
        r.engagement = MDP_ENG_MEDIUM;
        r.consent_state = MDP_CS_MARKETING;
        r.flags = MDP_SNAP_PERSONALIZATION | MDP_SNAP_ML | MDP_SNAP_FEATURES | MDP_SNAP_ACTIVE;
        r.persona = mdp_snapshot_writer_string(&w, personas[i % 4]);
        r.tone = mdp_snapshot_writer_string(&w, tones[i % 2]);
        r.vc_score_delta_7d = MDP_SNAPSHOT_NULL;
        r.last_activity_days_ago = 1;
        r.avg_step_centiseconds = -1;
        if (mdp_snapshot_writer_add(&w, &r)) return 1;
        if (i < 2000) {
            char s[37];
            mdp_uuid_format(&id, s);
            fprintf(lua, "  \"%s\",\n", s);
        }
    }
    fprintf(lua, "}\n");
    fclose(lua);
    struct mdp_buf bytes;
    mdp_buf_init(&bytes);
    char key[200];
    snprintf(key, sizeof key, "%s/run-bench/user_context-2026-10-30.bin", MDP_SNAPSHOT_TABLE);
    struct mdp_manifest_file f;
    memset(&f, 0, sizeof f);
    f.key = key;
    int rc = mdp_snapshot_writer_bytes(&w, 20391, &bytes);
    if (!rc) rc = mdp_store_put(lake->store, key, bytes.data, bytes.len, 0, &d);
    f.bytes = (int64_t)bytes.len;
    f.rows = (int64_t)w.n;
    if (!rc) rc = mdp_sha256_hex(bytes.data, bytes.len, f.sha256);
    if (!rc) rc = mdp_lake_publish(lake, MDP_SNAPSHOT_TABLE, &f, 1, "bench", NULL, &d);
    mdp_buf_cleanup(&bytes);
    mdp_snapshot_writer_cleanup(&w);
    /* warm bandit state: every context past exploration */
    struct mdp_state *st = NULL;
    if (!rc) rc = mdp_state_open_lake(lake, &st, &d);
    static const char *const buckets[] = {"0", "1-3", "4-7", "8-14", "15+"};
    static const char *const variants[] = {"default_tip", "tip_encouraging", "tip_facts",
                                           "tip_brief"};
    for (int p = 0; !rc && p < 4; p++)
        for (int t = 0; !rc && t < 2; t++)
            for (int b = 0; !rc && b < 5; b++) {
                char ctx[200];
                mdp_bandit_context(ctx, sizeof ctx, personas[p], tones[t], NULL, buckets[b],
                                   "onboarding_tip");
                for (int v = 0; !rc && v < 4; v++) {
                    rc = mdp_state_add(st, "bandit", ctx, variants[v], "s", 10 + 5 * v, NULL, &d);
                    if (!rc)
                        rc = mdp_state_add(st, "bandit", ctx, variants[v], "f", 50 - 5 * v, NULL,
                                           &d);
                }
            }
    mdp_state_close(st);
    mdp_lake_close(lake);
    if (rc)
        fprintf(stderr, "bench_serve_prep: %s\n", d.msg);
    else
        printf("prepared: snapshot of %ld users, warm bandit (160 arms)\n", users);
    return rc ? 1 : 0;
}
