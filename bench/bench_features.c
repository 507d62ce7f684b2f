/* Benchmark: `mdp features` for one date on a seeded, ingested and curated lake (MDP_BENCH_USERS
 * users, default 100,000, over 30 days; the stream's consent imported), against the baseline of the
 * same SQL (models/ml/inputs.sql + features.sql) run bare in DuckDB in the same run: the journal
 * read from a Parquet export, COPY to Parquet, no journal loading from the state store, no
 * manifest, no snapshot. Reports wall time, peak memory (each in its own process) and the ratio
 * (target <= 1.3), and the first run, which writes the journal's Parquet copy. Then the serving snapshot: written for 1,000,000 users, the time to open (map and check)
 * it and the mean lookup time. Run by `make bench`; MDP_BENCH_LAKE reuses an ingested lake. */
#include "benchlib.h"
#include "mdp/buf.h"
#include "mdp/consent.h"
#include "mdp/lake.h"
#include "mdp/ml.h"
#include "mdp/model.h"
#include "mdp/snapshot.h"
#include "mdp/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY (20362 + 29) /* the last seeded day: 2026-10-30 */

struct env {
    struct bench_lake *b;
    char journal[400], out[400];
};

static int with_lake(struct env *e,
                     int (*fn)(struct env *, struct mdp_stage_ctx *, struct mdp_diag *))
{
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(e->b->dir, 0, &lake, &d)) return fprintf(stderr, "%s\n", d.msg), 1;
    struct mdp_stage_ctx ctx = {&e->b->cfg, lake, -1, NULL, NULL, 0};
    int rc = fn(e, &ctx, &d);
    if (rc) fprintf(stderr, "bench_features: %s\n", d.msg);
    mdp_lake_close(lake);
    return rc;
}

static int prepare(struct env *e, struct mdp_stage_ctx *ctx, struct mdp_diag *d)
{
    struct mdp_run run;
    mdp_run_begin(&run, "curate");
    struct mdp_curate_opts full = {1, -1, -1};
    /* MDP_BENCH_NO_CURATE: the reused lake (MDP_BENCH_LAKE) is curated already */
    int rc = getenv("MDP_BENCH_NO_CURATE") ? 0 : mdp_curate(ctx, &full, &run, d);
    struct mdp_state *st = NULL;
    struct mdp_consent_import im;
    if (!rc) rc = mdp_state_open_lake(ctx->lake, &st, d);
    if (!rc) rc = mdp_consent_import(ctx->lake, st, 4102444800000LL, &im, d);
    mdp_state_close(st);
    if (!rc) rc = mdp__ml_export_journal(ctx, e->journal, d);
    if (!rc) printf("prepared: curated, %lld consent changes imported\n", (long long)im.imported);
    return rc;
}

static int ours(struct env *e, struct mdp_stage_ctx *ctx, struct mdp_diag *d)
{
    (void)e;
    struct mdp_ml_opts o = {DAY, DAY, 0, 1, 0};
    struct mdp_run run;
    mdp_run_begin(&run, "features");
    int rc = mdp_ml_build(ctx, &o, &run, d);
    if (!rc) printf("  features: %lld rows\n", (long long)run.out), fflush(stdout);
    return rc;
}

static int bare(struct env *e, struct mdp_stage_ctx *ctx, struct mdp_diag *d)
{
    char cmd[900];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", e->out, e->out);
    if (system(cmd)) return 1;
    return mdp__ml_bare(ctx, DAY, e->journal, e->out, d);
}

static int run_ours(void *ud)
{
    return with_lake(ud, ours);
}

static int run_bare(void *ud)
{
    return with_lake(ud, bare);
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int bench_snapshot(const char *dir)
{
    enum { USERS = 1000000, LOOKUPS = 1000000 };
    struct mdp_snapshot_writer w;
    mdp_snapshot_writer_init(&w);
    static const char *const personas[] = {"solo-sarah", "bewahrer-ben", "wachstums-walter",
                                           "ketten-katrin"};
    struct mdp_snapshot_rec r;
    memset(&r, 0, sizeof r);
    uint8_t(*ids)[16] = malloc((size_t)USERS * 16);
    if (!ids) return 1;
    for (int i = 0; i < USERS; i++) {
        uint64_t a = next(), b = next();
        memcpy(r.user_id, &a, 8);
        memcpy(r.user_id + 8, &b, 8);
        memcpy(ids[i], r.user_id, 16);
        r.persona = mdp_snapshot_writer_string(&w, personas[i % 4]);
        r.onb_day = (int16_t)(i % 30);
        r.steps_completed_30d = (uint16_t)(i % 17);
        if (mdp_snapshot_writer_add(&w, &r)) return 1;
    }
    struct mdp_buf bytes;
    mdp_buf_init(&bytes);
    char path[400];
    snprintf(path, sizeof path, "%s/snapshot-1m.bin", dir);
    if (mdp_snapshot_writer_bytes(&w, DAY, &bytes)) return 1;
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes.data, 1, bytes.len, f) != bytes.len || fclose(f)) return 1;
    printf("snapshot: %d users, %.1f MB\n", USERS, bytes.len / 1048576.0);
    mdp_buf_cleanup(&bytes);
    mdp_snapshot_writer_cleanup(&w);
    double best = 1e9;
    struct mdp_snapshot *s = NULL;
    struct mdp_diag d = {0};
    for (int k = 0; k < 5; k++) {
        double t0 = bench_now_s();
        if (mdp_snapshot_open(path, &s, &d)) return fprintf(stderr, "%s\n", d.msg), 1;
        double t = bench_now_s() - t0;
        if (t < best) best = t;
        if (k < 4) mdp_snapshot_close(s);
    }
    int found = 0;
    double t0 = bench_now_s();
    for (int i = 0; i < LOOKUPS; i++)
        found += mdp_snapshot_find(s, ids[(next() % USERS)]) != NULL;
    double tl = bench_now_s() - t0;
    mdp_snapshot_close(s);
    free(ids);
    printf("snapshot load (open, map, check header and order): %.1f ms for %d users "
           "(target well under 1 s: %.4f of it)\n",
           best * 1000, USERS, best);
    printf("snapshot lookup: %.0f ns mean over %d random users (%d found)\n", tl / LOOKUPS * 1e9,
           LOOKUPS, found);
    bench_summary("serving snapshot load, 1M users", "ms", best * 1000, -1, -1, "< 1000 ms",
                  best < 1.0);
    bench_summary("serving snapshot lookup", "ns", tl / LOOKUPS * 1e9, -1, -1, "-", -1);
    return found == LOOKUPS ? 0 : 1;
}

int main(void)
{
    struct bench_lake b;
    if (bench_lake_open(&b, "bench_features")) return 1;
    struct env e = {&b, "", ""};
    snprintf(e.journal, sizeof e.journal, "%s/_meta/tmp/bench-journal.parquet", b.dir);
    snprintf(e.out, sizeof e.out, "%s/_meta/tmp/bench-bare-features", b.dir);
    if (with_lake(&e, prepare)) return 1;
    long peak_bare, peak_ours, peak_cold;
    double best_bare = 1e9, best_ours = 1e9;
    /* the first run reads the whole journal from the state store and writes its Parquet copy
     * (docs/ml.md); the runs after it read the copy and the records after it */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s/_meta/cache/consent-journal", b.dir);
    if (system(cmd)) return 1;
    double cold = bench_measure("bench_features", run_ours, &e, &peak_cold);
    for (int i = 0; i < 3; i++) {
        double t = bench_measure("bench_features", run_bare, &e, &peak_bare);
        if (t < best_bare) best_bare = t;
        t = bench_measure("bench_features", run_ours, &e, &peak_ours);
        if (t < best_ours) best_ours = t;
    }
    printf("bare DuckDB (same SQL, journal from Parquet, results COPY'd to Parquet): %.2f s, peak "
           "%ld MB\n",
           best_bare, peak_bare / 1024);
    printf("mdp features (+ journal from the state store, manifest, snapshot): %.2f s, peak %ld MB "
           "(memory_limit %s)\n",
           best_ours, peak_ours / 1024, b.cfg.engine_memory_limit);
    printf("ratio mdp features / bare DuckDB wall time: %.2f (target <= 1.30)\n",
           best_ours / best_bare);
    printf("first run (no journal copy yet: the whole journal from the state store, the copy "
           "written): %.2f s, %.2fx bare, peak %ld MB\n",
           cold, cold / best_bare, peak_cold / 1024);
    char name[96];
    snprintf(name, sizeof name, "features %lld raw records (wall)", b.raw_records);
    bench_summary(name, "s", best_ours, best_bare, best_ours / best_bare, "<= 1.30",
                  best_ours / best_bare <= 1.30);
    bench_summary("features peak RSS", "MB", peak_ours / 1024.0, peak_bare / 1024.0,
                  (double)peak_ours / peak_bare, "-", -1);
    bench_summary("features first run (journal copy written)", "s", cold, best_bare,
                  cold / best_bare, "-", -1);
    int rc = bench_snapshot(b.dir);
    return bench_lake_close(&b) || rc;
}
