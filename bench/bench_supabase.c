/* Benchmark: the supabase connector's export (`--pull --full`) of a table of 1,000,000 event-shaped
 * rows, against the baseline of a bare libpq COPY ... TO STDOUT WITH (FORMAT csv, HEADER) of the
 * same query drained in memory, measured in the same run (best of 3 each). The target is a ratio
 * of at least 0.8 (export throughput / bare COPY throughput). Needs a PostgreSQL with the table:
 * bench/supabase.sh starts one and loads it. Usage: MDP_SUPABASE_DSN=... bench_supabase */
#include "benchlib.h"
#include "mdp/config.h"
#include "mdp/ingest.h"
#include "mdp/lake.h"
#include "mdp/time.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double bare_copy(const char *dsn, long long *rows, long long *bytes)
{
    PGconn *c = PQconnectdb(dsn);
    double t0 = now_s();
    PGresult *r = PQexec(c, "COPY (SELECT * FROM public.events_bench ORDER BY created_at) TO "
                            "STDOUT WITH (FORMAT csv, HEADER)");
    PQclear(r);
    char *buf;
    int n;
    *rows = -1; /* the header */
    *bytes = 0;
    while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
        (*rows)++;
        *bytes += n;
        PQfreemem(buf);
    }
    while ((r = PQgetResult(c)))
        PQclear(r);
    double t = now_s() - t0;
    PQfinish(c);
    return t;
}

int main(void)
{
    const char *dsn = getenv("MDP_SUPABASE_DSN");
    if (!dsn) {
        fprintf(stderr, "bench_supabase: set MDP_SUPABASE_DSN (bench/supabase.sh does)\n");
        return 1;
    }
    char dir[] = "/tmp/mdp-bench-pg-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    struct mdp_config cfg;
    mdp_config_defaults(&cfg);
    mdp_strlist_set(&cfg.supabase_tables, "events_bench:created_at");
    struct mdp_diag d = {0};
    struct mdp_lake *lake;
    struct mdp_store *landing;
    char ld[600];
    snprintf(ld, sizeof ld, "%s/landing", dir);
    if (mdp_lake_open(dir, 1, &lake, &d) || mdp_store_open(ld, 1, &landing, &d)) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    double best_bare = 1e9, best_pull = 1e9;
    long long rows = 0, bytes = 0, pulled = 0;
    for (int i = 0; i < 3; i++) {
        double t = bare_copy(dsn, &rows, &bytes);
        if (t < best_bare) best_bare = t;
        struct mdp_pull p;
        memset(&p, 0, sizeof p);
        p.cfg = &cfg;
        p.lake = lake;
        p.landing = landing;
        p.full = 1;
        p.day = 20362 + i; /* a fresh delivery name each round */
        double t0 = now_s();
        if (mdp_connector_find("supabase")->pull(&p, &d)) {
            fprintf(stderr, "pull: %s\n", d.msg);
            return 1;
        }
        t = now_s() - t0;
        pulled = p.rows;
        if (t < best_pull) best_pull = t;
    }
    printf("rows %lld, CSV %.1f MiB\n", rows, bytes / 1048576.0);
    printf("bare libpq COPY TO STDOUT: %.0f rows/s (%.2f s)\n", rows / best_bare, best_bare);
    printf("mdp supabase export:       %.0f rows/s (%.2f s, %lld rows, written to the landing "
           "folder and fsync'd)\n",
           pulled / best_pull, best_pull, pulled);
    printf("ratio export / bare COPY throughput: %.2f (target >= 0.80)\n", best_bare / best_pull);
    bench_summary("supabase export (rows/s)", "rows/s", pulled / best_pull, rows / best_bare,
                  best_bare / best_pull, ">= 0.80", best_bare / best_pull >= 0.80);
    mdp_store_close(landing);
    mdp_lake_close(lake);
    mdp_config_cleanup(&cfg);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
