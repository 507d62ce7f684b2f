/* Benchmark: `mdp curate` on a seeded and ingested lake (MDP_BENCH_USERS users, default 100,000,
 * over 30 days), against the baseline of the same model SQL run as bare DuckDB (CREATE TABLE AS +
 * COPY ... TO ... (FORMAT parquet, PARTITION_BY (date_key))) without quarantine, file hashing,
 * manifests or the run log, in the same run. Reports raw records/s and MB/s, peak memory (each
 * measured in its own process), and the overhead ratio (target <= 1.3). Memory is bounded by
 * engine.memory_limit (MDP_BENCH_MEMORY, default 2GB), not by the input. Run by `make bench`. */
#include "mdp/config.h"
#include "mdp/ingest.h"
#include "mdp/lake.h"
#include "mdp/log.h"
#include "mdp/model.h"
#include "mdp/pipeline.h"
#include "mdp/seed.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* runs fn in a child; returns seconds, and the child's peak RSS in KB */
static double measure(int (*fn)(void *), void *ud, long *peak_kb)
{
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) _exit(fn(ud) ? 1 : 0);
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    *peak_kb = ru.ru_maxrss;
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "bench_curate: a measured step failed\n");
        exit(1);
    }
    return now_s() - t0;
}

struct env {
    struct mdp_config cfg;
    char dir[256];
};

static int do_curate(void *ud)
{
    struct env *e = ud;
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
    struct env *e = ud;
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

static int measure_all(struct env *ep, long long raw_records, double raw_mb, int cleanup);

int main(void)
{
    const char *u = getenv("MDP_BENCH_USERS"), *mem = getenv("MDP_BENCH_MEMORY");
    const char *reuse =
        getenv("MDP_BENCH_LAKE"); /* an ingested lake to measure on, kept afterwards */
    mdp_log_set_level(MDP_LOG_WARN);
    long users = u ? atol(u) : 100000;
    struct env e;
    snprintf(e.dir, sizeof e.dir, "%s", reuse ? reuse : "/tmp/mdp-bench-curate-XXXXXX");
    if (!reuse && !mkdtemp(e.dir)) return 1;
    mdp_config_defaults(&e.cfg);
    free(e.cfg.lake_dir);
    e.cfg.lake_dir = strdup(e.dir);
    char landing[300];
    snprintf(landing, sizeof landing, "%s/landing", e.dir);
    free(e.cfg.landing_dir);
    e.cfg.landing_dir = strdup(landing);
    if (mem) {
        free(e.cfg.engine_memory_limit);
        e.cfg.engine_memory_limit = strdup(mem);
    }
    struct mdp_lake *lake;
    struct mdp_store *ls;
    struct mdp_diag d = {0};
    if (mdp_lake_open(e.dir, 1, &lake, &d) || mdp_store_open(landing, 1, &ls, &d)) return 1;
    struct mdp_seed_opts so = {users, 30, 42, 0.01, 20362, "495696125", "Europe/Berlin"};
    struct mdp_seed_stats st;
    double t0 = now_s();
    if (reuse) {
        /* measure on the lake as it is: its raw zone's size comes from the last ingest run */
        mdp_store_close(ls);
        long long in = 0, bytes = 0;
        char cmd[700];
        /* the raw records: the last ingest run of each source */
        snprintf(cmd, sizeof cmd,
                 "python3 -c \"import glob,json;r={};[r.__setitem__(j['job'],j) for f in "
                 "sorted(glob.glob('%s/_meta/runs/*/*.json')) "
                 "for j in [json.load(open(f))] if j['job'].startswith('ingest.') and j['in']];"
                 "print('\\\"in\\\":%%d,\\\"bytes\\\":%%d' %% (sum(x['in'] for x in r.values()), "
                 "sum(x['bytes'] for x in r.values())))\"",
                 e.dir);
        FILE *p = popen(cmd, "r");
        char line[4096] = "";
        if (p && fgets(line, sizeof line, p)) {
            char *q = strstr(line, "\"in\":"), *b = strstr(line, "\"bytes\":");
            if (q) in = atoll(q + 5);
            if (b) bytes = atoll(b + 8);
        }
        if (p) pclose(p);
        mdp_lake_close(lake);
        return measure_all(&e, in, bytes / 1048576.0, 0);
    }
    if (mdp_seed_generate(&so, ls, &st, &d)) {
        fprintf(stderr, "seed: %s\n", d.msg);
        return 1;
    }
    printf("seed: %ld users, 30 days: %lld files, %.0f MiB in %.0f s\n", users, (long long)st.files,
           st.bytes / 1048576.0, now_s() - t0);
    mdp_store_close(ls);
    struct mdp_stage_ctx ctx = {&e.cfg, lake, -1, NULL, NULL, 0};
    struct mdp_run run;
    mdp_run_begin(&run, "ingest");
    t0 = now_s();
    if (mdp_ingest_run(&ctx, NULL, &run, &d)) {
        fprintf(stderr, "ingest: %s\n", d.msg);
        return 1;
    }
    printf("ingest: %lld records, %.0f MiB in %.0f s\n", (long long)run.in, run.bytes / 1048576.0,
           now_s() - t0);
    mdp_lake_close(lake);
    return measure_all(&e, (long long)run.in, run.bytes / 1048576.0, 1);
}

static int measure_all(struct env *ep, long long raw_records, double raw_mb, int cleanup)
{
    struct env e = *ep;
    long peak_bare, peak_ours;
    double best_bare = 1e9, best_ours = 1e9;
    for (int i = 0; i < 2; i++) {
        double t = measure(do_bare, &e, &peak_bare);
        if (t < best_bare) best_bare = t;
        t = measure(do_curate, &e, &peak_ours);
        if (t < best_ours) best_ours = t;
    }
    printf("bare DuckDB (same SQL, COPY to Parquet):  %.2f s, peak %ld MB\n", best_bare,
           peak_bare / 1024);
    printf("mdp curate (+ quarantine, hashes, manifests, run log): %.2f s, peak %ld MB "
           "(memory_limit %s)\n",
           best_ours, peak_ours / 1024, e.cfg.engine_memory_limit);
    printf("throughput: %.0f raw records/s, %.1f MB/s\n", raw_records / best_ours,
           raw_mb / best_ours);
    printf("ratio mdp curate / bare DuckDB wall time: %.2f (target <= 1.30)\n",
           best_ours / best_bare);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e.dir);
    mdp_config_cleanup(&ep->cfg);
    return cleanup && system(cmd) != 0 ? 1 : 0;
}
