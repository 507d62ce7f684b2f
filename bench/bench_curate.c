/* Benchmark: `mdp curate` on a seeded and ingested lake (MDP_BENCH_USERS users, default 100,000,
 * over 30 days), against the baseline of the same model SQL run as bare DuckDB (CREATE TABLE AS +
 * COPY ... TO ... (FORMAT parquet, PARTITION_BY (date_key))) without quarantine, file hashing,
 * manifests or the run log, in the same run. Reports raw records/s and MB/s, peak memory (each
 * measured in its own process), and the overhead ratio (target <= 1.3). Memory is bounded by
 * engine.memory_limit (MDP_BENCH_MEMORY, default 2GB), not by the input. Run by `make bench`. */
#include "benchlib.h"
#include "mdp/lake.h"
#include "mdp/model.h"
#include "mdp/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int do_curate(void *ud)
{
    struct bench_lake *e = ud;
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(e->dir, 0, &lake, &d)) return 1;
    struct mdp_stage_ctx ctx = {&e->cfg, lake, -1, NULL, NULL, 0};
    struct mdp_run run;
    mdp_run_begin(&run, "curate");
    struct mdp_curate_opts full = {1, -1, -1}; /* the baseline builds everything: so do we */
    int rc = mdp_curate(&ctx, &full, &run, &d);
    if (rc) fprintf(stderr, "curate: %s\n", d.msg);
    mdp_lake_close(lake);
    return rc;
}

static int do_bare(void *ud)
{
    struct bench_lake *e = ud;
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    char out[512];
    snprintf(out, sizeof out, "%s/bare", e->dir);
    if (mdp_lake_open(e->dir, 0, &lake, &d)) return 1;
    struct mdp_stage_ctx ctx = {&e->cfg, lake, -1, NULL, NULL, 0};
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", out, out);
    if (system(cmd)) return 1;
    int rc = mdp__curate_bare(&ctx, out, &d);
    if (rc) fprintf(stderr, "bare: %s\n", d.msg);
    mdp_lake_close(lake);
    return rc;
}

int main(void)
{
    struct bench_lake e;
    if (bench_lake_open(&e, "bench_curate")) return 1;
    long peak_bare, peak_ours;
    double best_bare = 1e9, best_ours = 1e9;
    for (int i = 0; i < 2; i++) {
        double t = bench_measure("bench_curate", do_bare, &e, &peak_bare);
        if (t < best_bare) best_bare = t;
        t = bench_measure("bench_curate", do_curate, &e, &peak_ours);
        if (t < best_ours) best_ours = t;
    }
    printf("bare DuckDB (same SQL, COPY to Parquet):  %.2f s, peak %ld MB\n", best_bare,
           peak_bare / 1024);
    printf("mdp curate (+ quarantine, hashes, manifests, run log): %.2f s, peak %ld MB "
           "(memory_limit %s)\n",
           best_ours, peak_ours / 1024, e.cfg.engine_memory_limit);
    printf("throughput: %.0f raw records/s, %.1f MB/s\n", e.raw_records / best_ours,
           e.raw_mb / best_ours);
    printf("ratio mdp curate / bare DuckDB wall time: %.2f (target <= 1.30)\n",
           best_ours / best_bare);
    char name[96];
    snprintf(name, sizeof name, "curate %lld raw records (wall)", e.raw_records);
    bench_summary(name, "s", best_ours, best_bare, best_ours / best_bare, "<= 1.30",
                  best_ours / best_bare <= 1.30);
    bench_summary("curate peak RSS", "MB", peak_ours / 1024.0, peak_bare / 1024.0,
                  (double)peak_ours / peak_bare, "-", -1);
    return bench_lake_close(&e);
}
