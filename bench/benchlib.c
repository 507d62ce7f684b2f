/* Shared helpers of the benchmarks (benchlib.h). */
#include "benchlib.h"
#include "mdp/ingest.h"
#include "mdp/lake.h"
#include "mdp/log.h"
#include "mdp/pipeline.h"
#include "mdp/seed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double bench_measure(const char *name, int (*fn)(void *), void *ud, long *peak_kb)
{
    double t0 = bench_now_s();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(fn(ud) ? 1 : 0);
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    *peak_kb = ru.ru_maxrss;
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "%s: a measured step failed\n", name);
        exit(1);
    }
    return bench_now_s() - t0;
}

int bench_quick(void)
{
    const char *q = getenv("QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

void bench_summary(const char *name, const char *unit, double ours, double baseline, double ratio,
                   const char *target, int verdict)
{
    const char *path = getenv("MDP_BENCH_SUMMARY");
    if (!path || !*path) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    char b[64] = "-", r[64] = "-";
    const char *sp = *unit ? " " : "";
    if (baseline >= 0) snprintf(b, sizeof b, "%.4g%s%s", baseline, sp, unit);
    if (ratio >= 0) snprintf(r, sizeof r, "%.2f", ratio);
    fprintf(f, "%s\t%.4g%s%s\t%s\t%s\t%s\t%s\n", name, ours, sp, unit, b, r, target,
            verdict > 0    ? "PASS"
            : verdict == 0 ? "FAIL"
                           : "-");
    fclose(f);
}

/* the raw records and bytes of a reused lake: the last ingest run of each source */
static void reused_counts(struct bench_lake *b)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import glob,json;r={};[r.__setitem__(j['job'],j) for f in "
             "sorted(glob.glob('%s/_meta/runs/*/*.json')) "
             "for j in [json.load(open(f))] if j['job'].startswith('ingest.') and j['in']];"
             "print('\\\"in\\\":%%d,\\\"bytes\\\":%%d' %% (sum(x['in'] for x in r.values()), "
             "sum(x['bytes'] for x in r.values())))\"",
             b->dir);
    FILE *p = popen(cmd, "r");
    char line[4096] = "";
    if (p && fgets(line, sizeof line, p)) {
        char *q = strstr(line, "\"in\":"), *s = strstr(line, "\"bytes\":");
        if (q) b->raw_records = atoll(q + 5);
        if (s) b->raw_mb = atoll(s + 8) / 1048576.0;
    }
    if (p) pclose(p);
}

int bench_lake_open(struct bench_lake *b, const char *name)
{
    const char *u = getenv("MDP_BENCH_USERS"), *mem = getenv("MDP_BENCH_MEMORY");
    const char *reuse = getenv("MDP_BENCH_LAKE");
    mdp_log_set_level(MDP_LOG_WARN);
    long users = u ? atol(u) : bench_quick() ? 1000 : 100000;
    memset(b, 0, sizeof *b);
    snprintf(b->dir, sizeof b->dir, "%s", reuse ? reuse : "/tmp/mdp-bench-XXXXXX");
    b->reused = reuse != NULL;
    if (!reuse && !mkdtemp(b->dir)) return 1;
    char meta[300];
    snprintf(meta, sizeof meta, "%s/_meta", b->dir);
    int fresh = !reuse || access(meta, F_OK) != 0; /* a named but empty lake is seeded, then kept */
    mdp_config_defaults(&b->cfg);
    free(b->cfg.lake_dir);
    b->cfg.lake_dir = strdup(b->dir);
    char landing[300];
    snprintf(landing, sizeof landing, "%s/landing", b->dir);
    free(b->cfg.landing_dir);
    b->cfg.landing_dir = strdup(landing);
    if (mem) {
        free(b->cfg.engine_memory_limit);
        b->cfg.engine_memory_limit = strdup(mem);
    }
    if (!fresh) {
        reused_counts(b);
        return 0;
    }
    struct mdp_lake *lake;
    struct mdp_store *ls;
    struct mdp_diag d = {0};
    if (mdp_lake_open(b->dir, 1, &lake, &d) || mdp_store_open(landing, 1, &ls, &d)) {
        fprintf(stderr, "%s: %s\n", name, d.msg);
        return 1;
    }
    struct mdp_seed_opts so = {users, 30, 42, 0.01, 20362, "495696125", "Europe/Berlin", 0, 0};
    struct mdp_seed_stats st;
    double t0 = bench_now_s();
    if (mdp_seed_generate(&so, ls, &st, &d)) {
        fprintf(stderr, "%s: seed: %s\n", name, d.msg);
        return 1;
    }
    printf("seed: %ld users, 30 days: %lld files, %.0f MiB in %.0f s\n", users, (long long)st.files,
           st.bytes / 1048576.0, bench_now_s() - t0);
    mdp_store_close(ls);
    struct mdp_stage_ctx ctx = {&b->cfg, lake, -1, NULL, NULL, 0};
    struct mdp_run run;
    mdp_run_begin(&run, "ingest");
    t0 = bench_now_s();
    if (mdp_ingest_run(&ctx, NULL, &run, &d)) {
        fprintf(stderr, "%s: ingest: %s\n", name, d.msg);
        return 1;
    }
    printf("ingest: %lld records, %.0f MiB in %.0f s\n", (long long)run.in, run.bytes / 1048576.0,
           bench_now_s() - t0);
    b->raw_records = run.in;
    b->raw_mb = run.bytes / 1048576.0;
    mdp_lake_close(lake);
    return 0;
}

int bench_lake_close(struct bench_lake *b)
{
    int rc = 0;
    if (!b->reused) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf %s", b->dir);
        rc = system(cmd) != 0;
    }
    mdp_config_cleanup(&b->cfg);
    return rc;
}
