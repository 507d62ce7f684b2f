/* Benchmark: `mdp dq eval` of 16 rules over MDP_BENCH_DQ_ROWS rows (default 10,000,000) of a
 * Parquet table, against the same checks written as bare SQL in DuckDB (one aggregate scan, the
 * uniqueness and the distinct/entropy groupings): both load the table into an in-memory DuckDB
 * with one thread and compute the same numbers. Wall time and peak memory each in its own process;
 * prints the ratio (target <= 1.3). Run by `make bench`. */
#include "benchlib.h"
#include "mdp/dq.h"
#include "mdp/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char RULES[] =
    "Rules = [\n"
    "    RowCount > 0,\n"
    "    ColumnCount = 7,\n"
    "    IsComplete \"id\",\n"
    "    Completeness \"email\" > 0.9,\n"
    "    IsUnique \"id\",\n"
    "    ColumnValues \"plan\" in [\"free\", \"pro\", \"team\"],\n"
    "    ColumnValues \"age\" between 0 and 130,\n"
    "    ColumnValues \"email\" matches \"[a-z0-9]+@[a-z]+\\.com\" with threshold > 0.9,\n"
    "    ColumnLength \"email\" <= 40,\n"
    "    Mean \"amount\" between 0 and 1000,\n"
    "    Sum \"amount\" > 0,\n"
    "    StandardDeviation \"amount\" < 1000,\n"
    "    DistinctValuesCount \"plan\" = 3,\n"
    "    Entropy \"plan\" > 0.5,\n"
    "    ColumnCorrelation \"age\" \"amount\" between -1 and 1,\n"
    "    DataFreshness \"ts\" <= 36500 days\n"
    "]\n";

/* The same 16 checks as an engineer would write them for DuckDB by hand. */
static const char *const BARE[] = {
    "SELECT count(*), count(id), count(email), count(*) FILTER (WHERE plan IN ('free', 'pro', "
    "'team')), count(*) FILTER (WHERE age > 0 AND age < 130), count(*) FILTER (WHERE "
    "regexp_full_match(email, '[a-z0-9]+@[a-z]+\\.com')), count(*) FILTER (WHERE length(email) <= "
    "40), avg(amount), sum(amount), stddev_pop(amount), corr(age, amount), count(*) FILTER (WHERE "
    "current_timestamp - ts::TIMESTAMPTZ <= INTERVAL 36500 DAY) FROM t",
    "SELECT count(*) FROM information_schema.columns WHERE table_name = 't'",
    "SELECT count(*) FROM (SELECT id FROM t WHERE id IS NOT NULL GROUP BY id HAVING count(*) = 1)",
    "WITH f AS (SELECT count(*)::DOUBLE AS n FROM t WHERE plan IS NOT NULL GROUP BY plan), c AS "
    "(SELECT count(*)::DOUBLE AS tot FROM t) SELECT (SELECT count(*) FROM f), (SELECT -sum(n / tot "
    "* ln(n / tot)) FROM f, c)",
    NULL};

struct env {
    char dir[300], parquet[400], manifest[400];
    long rows;
};

static int make_data(struct env *e)
{
    struct mdp_engine *eng = NULL;
    struct mdp_diag d = {0};
    struct mdp_engine_opts eo = {NULL, 0, NULL};
    char sql[2048];
    snprintf(sql, sizeof sql,
             "COPY (SELECT i AS id, 'u' || (i %% 100000) || '@' || (['mail', 'web', 'x'])[1 + i "
             "%% 3] || '.com' AS email, (['free', 'pro', 'team'])[1 + (i * 7) %% 3] AS plan, "
             "(i * 13) %% 100 + 1 AS age, ((i * 31) %% 1000) / 10.0 AS amount, TIMESTAMP "
             "'2026-10-01' + INTERVAL (i %% 1000000) SECOND AS ts, i %% 5 = 0 AS flag FROM "
             "range(%ld) r(i)) TO '%s' (FORMAT parquet, COMPRESSION zstd)",
             e->rows, e->parquet);
    int rc = mdp_engine_open(&eo, &eng, &d);
    if (!rc) rc = mdp_engine_exec(eng, sql, &d);
    mdp_engine_close(eng);
    if (rc) fprintf(stderr, "bench_dq: %s\n", d.msg);
    return rc;
}

static int run_mdp(void *ud)
{
    struct env *e = ud;
    struct mdp_dq_doc *doc = NULL;
    struct mdp_dq_manifest *m = NULL;
    struct mdp_dq_report *rep = NULL;
    struct mdp_diag d = {0};
    int rc = mdp_dq_parse(RULES, strlen(RULES), &doc, NULL);
    if (!rc) rc = mdp_dq_manifest_load(e->manifest, &m, &d);
    if (!rc) rc = mdp_dq_eval(doc, m, NULL, &rep, &d);
    if (!rc && rep->passed != 16) {
        for (int i = 0; i < rep->n; i++)
            if (rep->results[i].outcome != MDP_DQ_PASS)
                fprintf(stderr, "bench_dq: %s: %s\n", rep->results[i].rule,
                        rep->results[i].message);
        rc = 1;
    }
    if (rc && d.msg[0]) fprintf(stderr, "bench_dq: %s\n", d.msg);
    mdp_dq_report_free(rep);
    mdp_dq_manifest_free(m);
    mdp_dq_doc_free(doc);
    return rc;
}

static int ignore_row(void *ud, int n, const char *const *v)
{
    (void)ud, (void)n, (void)v;
    return 0;
}

static int run_bare(void *ud)
{
    struct env *e = ud;
    struct mdp_engine *eng = NULL;
    struct mdp_diag d = {0};
    struct mdp_engine_opts eo = {NULL, 1, NULL};
    char sql[1024];
    snprintf(sql, sizeof sql,
             "CREATE TABLE t AS SELECT id::BIGINT AS id, email::VARCHAR AS email, plan::VARCHAR "
             "AS plan, age::BIGINT AS age, amount::DOUBLE AS amount, ts::TIMESTAMP AS ts, "
             "flag::BOOLEAN AS flag FROM read_parquet('%s')",
             e->parquet);
    int rc = mdp_engine_open(&eo, &eng, &d);
    if (!rc) rc = mdp_engine_exec(eng, sql, &d);
    struct mdp_rows_cb cb = {NULL, ignore_row, NULL};
    for (int i = 0; !rc && BARE[i]; i++)
        rc = mdp_engine_query(eng, BARE[i], &cb, &d);
    mdp_engine_close(eng);
    if (rc) fprintf(stderr, "bench_dq: %s\n", d.msg);
    return rc;
}

int main(void)
{
    struct env e;
    const char *rows = getenv("MDP_BENCH_DQ_ROWS");
    long dflt = bench_quick() ? 300000L : 10000000L;
    e.rows = rows ? strtol(rows, NULL, 10) : dflt;
    if (e.rows < 1) e.rows = dflt;
    snprintf(e.dir, sizeof e.dir, "%s/bench-dq-%ld", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (long)getpid());
    char cmd[400];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", e.dir);
    if (system(cmd) != 0) return 1;
    snprintf(e.parquet, sizeof e.parquet, "%s/t.parquet", e.dir);
    snprintf(e.manifest, sizeof e.manifest, "%s/m.json", e.dir);
    FILE *f = fopen(e.manifest, "w");
    if (!f) return 1;
    fputs("{\"tables\": {\"t\": {\"file\": \"t.parquet\", \"columns\": [[\"id\", \"int\"], "
          "[\"email\", \"string\"], [\"plan\", \"string\"], [\"age\", \"int\"], [\"amount\", "
          "\"double\"], [\"ts\", \"timestamp\"], [\"flag\", \"boolean\"]]}}}\n",
          f);
    if (fclose(f) != 0) return 1;
    double t0 = bench_now_s();
    if (make_data(&e)) return 1;
    printf("data: %ld rows, 7 columns, Parquet, written in %.1f s\n", e.rows, bench_now_s() - t0);
    fflush(stdout);
    long bare_kb = 0, mdp_kb = 0;
    double best_bare = 1e9, best_mdp = 1e9;
    for (int i = 0; i < 2; i++) {
        double b = bench_measure("bare", run_bare, &e, &bare_kb);
        double m = bench_measure("mdp dq eval", run_mdp, &e, &mdp_kb);
        if (b < best_bare) best_bare = b;
        if (m < best_mdp) best_mdp = m;
    }
    printf("bare DuckDB (the 16 checks as 4 hand-written queries, 1 thread): %.2f s, peak %ld MB\n",
           best_bare, bare_kb / 1024);
    printf("mdp dq eval (16 DQDL rules, 1 thread):                          %.2f s, peak %ld MB\n",
           best_mdp, mdp_kb / 1024);
    printf("ratio mdp dq eval / bare DuckDB wall time: %.2f (target <= 1.30)\n",
           best_mdp / best_bare);
    char name[96];
    snprintf(name, sizeof name, "dq eval 16 rules, %ld rows (wall)", e.rows);
    bench_summary(name, "s", best_mdp, best_bare, best_mdp / best_bare, "<= 1.30",
                  best_mdp / best_bare <= 1.30);
    snprintf(cmd, sizeof cmd, "rm -rf %s", e.dir);
    return system(cmd) != 0;
}
