/* `mdp curate`, `mdp query` and `mdp lint`: build the curated tables, query what is published,
 * and check the curated zone for PII. */
#include "cli.h"
#include "mdp/cost.h"
#include "mdp/alloc.h"
#include "mdp/aws.h"
#include "mdp/catalog.h"
#include "mdp/engine.h"
#include "mdp/model.h"
#include "mdp/pipeline.h"
#include "mdp/time.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_lake_option(const char *cmd, struct cli *c, int argc, char **argv, int *i, int *handled)
{
    const char *v;
    int m = cli_opt(argc, argv, i, "--dir", &v);
    *handled = m != 0;
    if (m < 0) return cli_usage(cmd, "--dir needs a folder");
    if (m > 0) {
        char *s = mdp_strdup(v);
        if (!s) return cli_fail(cmd, EXIT_FAIL, "out of memory");
        free(c->cfg.lake_dir);
        c->cfg.lake_dir = s;
    }
    return 0;
}

int cli_date_option(const char *cmd, int argc, char **argv, int *i, int64_t *from, int64_t *to,
                    int *handled)
{
    const char *v;
    int m, which = 0; /* 0 --date, 1 --from, 2 --to */
    *handled = 1;
    if (!(m = cli_opt(argc, argv, i, "--date", &v)) && (which = 1) &&
        !(m = cli_opt(argc, argv, i, "--from", &v)) && (which = 2))
        m = cli_opt(argc, argv, i, "--to", &v);
    if (!m) return *handled = 0;
    int64_t day;
    if (m < 0 || strlen(v) != 10 || mdp_date_parse(v, &day))
        return cli_usage(cmd, "a date is YYYY-MM-DD");
    if (which != 2) *from = day;
    if (which != 1) *to = day;
    return 0;
}

int cli_date_range_check(const char *cmd, int64_t from, int64_t to)
{
    if ((from >= 0) != (to >= 0) || to < from)
        return cli_usage(cmd, "--from needs --to (on or after it); --date D is one day");
    return 0;
}

static int curate_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    struct mdp_curate_opts o = {0, -1, -1};
    for (int i = 1; i < argc; i++) {
        int handled, rc = cli_lake_option("curate", c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (handled) continue;
        if (strcmp(argv[i], "--full") == 0) {
            o.full = 1;
        } else if ((rc = cli_date_option("curate", argc, argv, &i, &o.from_day, &o.to_day,
                                         &handled)) ||
                   handled) {
            if (rc) return rc;
        } else {
            return cli_usage("curate", "unexpected argument '%s'", argv[i]);
        }
    }
    if (o.full && o.from_day >= 0)
        return cli_usage("curate", "--full rebuilds every date; it does not go with dates");
    if (cli_date_range_check("curate", o.from_day, o.to_day)) return EXIT_USAGE;
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("curate", EXIT_FAIL, "%s", d.msg);
    struct mdp_lease *lease;
    int rc = cli_lease_take("curate", c, lake, &lease);
    if (rc) {
        mdp_lake_close(lake);
        return rc;
    }
    struct cli_runs runs = {0};
    struct mdp_stage_ctx ctx = {&c->cfg, lake, -1, cli_keep_run, &runs, 0};
    struct mdp_run run;
    mdp_run_begin(&run, "curate");
    rc = mdp_curate(&ctx, &o, &run, &d);
    cli_print_runs(stdout, runs.v, runs.n, c->json);
    if (c->json) fputc('\n', stdout);
    cli_runs_free(&runs);
    rc = cli_lease_release("curate", lease, rc ? cli_fail("curate", EXIT_FAIL, "%s", d.msg) : 0);
    mdp_lake_close(lake);
    return rc;
}

const struct cli_command CMD_CURATE = {
    "curate", "build the curated star schema from the raw zone",
    "Usage: mdp curate [--full | --date YYYY-MM-DD | --from YYYY-MM-DD --to YYYY-MM-DD] [--dir "
    "LAKE]\n"
    "\n"
    "Runs the SQL models (curate.models_dir: one NAME.sql per table) on the embedded DuckDB in\n"
    "dependency order and publishes the curated tables of spec 4 (fact_onboarding_steps,\n"
    "fact_visibility_check, fact_email_events, fact_login_oauth, dim_user, dim_account,\n"
    "dim_location, dim_time, identity_links) as ZSTD Parquet, facts partitioned by date_key. Each\n"
    "table is published atomically: readers see the old or the new table. Rows that cannot be\n"
    "curated go to curated/_quarantine/<model>.ndjson with a reason.\n"
    "\n"
    "By default a run is incremental: the facts' date_key partitions of the days that got new raw\n"
    "data since the last run, and curate.lookback_days before each (late events), are rebuilt;\n"
    "the other partitions keep their files; dimensions are rebuilt whole. --date / --from --to\n"
    "rebuild the given days; --full rebuilds everything (a lake never curated is built in full).\n"
    "The result equals a full rebuild of the same raw zone. docs/curated.md.\n",
    curate_run, 0};

/* ---- query ---- */

struct table_out {
    char **cells; /* row-major, ncols per row */
    size_t n, cap;
    int ncols;
    int fmt; /* 0 table, 1 csv */
};

static int q_header(void *ud, int ncols, const char *const *names)
{
    struct table_out *t = ud;
    t->ncols = ncols;
    if (t->fmt == 1) {
        for (int i = 0; i < ncols; i++)
            printf("%s%s", i ? "," : "", names[i]);
        printf("\n");
        return 0;
    }
    for (int i = 0; i < ncols; i++) {
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 256;
            char **nv = mdp_realloc(t->cells, cap * sizeof *nv);
            if (!nv) return MDP_ERR_NOMEM;
            t->cells = nv;
            t->cap = cap;
        }
        if (!(t->cells[t->n] = mdp_strdup(names[i]))) return MDP_ERR_NOMEM;
        t->n++;
    }
    return 0;
}

static void csv_cell(const char *v)
{
    if (!v) return;
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, stdout);
        return;
    }
    putchar('"');
    for (; *v; v++) {
        if (*v == '"') putchar('"');
        putchar(*v);
    }
    putchar('"');
}

static int q_row(void *ud, int ncols, const char *const *v)
{
    struct table_out *t = ud;
    if (t->fmt == 1) {
        for (int i = 0; i < ncols; i++) {
            if (i) putchar(',');
            csv_cell(v[i]);
        }
        putchar('\n');
        return 0;
    }
    if (t->n / (size_t)(ncols ? ncols : 1) > 10000)
        return 0; /* a table is for reading: 10,000 rows */
    for (int i = 0; i < ncols; i++) {
        if (t->n == t->cap) {
            size_t cap = t->cap * 2;
            char **nv = mdp_realloc(t->cells, cap * sizeof *nv);
            if (!nv) return MDP_ERR_NOMEM;
            t->cells = nv;
            t->cap = cap;
        }
        if (!(t->cells[t->n] = mdp_strdup(v[i] ? v[i] : "NULL"))) return MDP_ERR_NOMEM;
        t->n++;
    }
    return 0;
}

static void print_table(struct table_out *t)
{
    if (!t->ncols) return;
    size_t *w = mdp_calloc((size_t)t->ncols, sizeof *w);
    if (!w) {
        fprintf(stderr, "error: out of memory printing the table\n");
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        size_t l = strlen(t->cells[i]);
        if (l > 60) l = 60;
        if (l > w[i % (size_t)t->ncols]) w[i % (size_t)t->ncols] = l;
    }
    size_t rows = t->n / (size_t)t->ncols;
    for (size_t r = 0; r < rows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            printf("%s%-*.*s", c ? " | " : "", (int)w[c], 60, s);
        }
        printf("\n");
        if (r == 0) {
            for (int c = 0; c < t->ncols; c++) {
                printf("%s", c ? "-+-" : "");
                for (size_t k = 0; k < w[c]; k++)
                    putchar('-');
            }
            printf("\n");
        }
    }
    printf("(%zu row%s)\n", rows - 1, rows == 2 ? "" : "s");
    free(w);
}

static int json_row(void *ud, int ncols, const char *const *v)
{
    int *first = ud;
    if (ncols >= 1) printf("%s%s", *first ? "[" : ",\n", v[0] ? v[0] : "null");
    *first = 0;
    return 0;
}

static int query_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    const char *sql = NULL, *format = c->json ? "json" : "table";
    char *sql_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int handled, m, rc = cli_lake_option("query", c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (handled) continue;
        if ((m = cli_opt(argc, argv, &i, "--format", &v))) {
            if (m < 0 || (strcmp(v, "table") && strcmp(v, "csv") && strcmp(v, "json")))
                return cli_usage("query", "--format is table, csv or json");
            format = v;
        } else if ((m = cli_opt(argc, argv, &i, "--file", &v))) {
            if (m < 0 || sql)
                return cli_usage("query", "--file needs a file, and the SQL comes once");
            FILE *f = strcmp(v, "-") == 0 ? stdin : fopen(v, "rb");
            if (!f) return cli_fail("query", EXIT_FAIL, "%s: cannot read", v);
            struct mdp_buf b;
            mdp_buf_init(&b);
            char chunk[4096];
            size_t k;
            while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
                mdp_buf_append(&b, chunk, k);
            if (f != stdin) fclose(f);
            sql = sql_file = mdp_buf_steal(&b);
            if (!sql) return cli_fail("query", EXIT_FAIL, "%s: out of memory reading the SQL", v);
        } else if (!sql) {
            sql = argv[i]; /* the SQL may well start with "--" (a comment) */
        } else {
            return cli_usage("query", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!sql) return cli_usage("query", "expects the SQL to run (an argument, or --file F)");
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("query", EXIT_FAIL, "%s", d.msg);
    struct mdp_engine *e = NULL;
    struct mdp_engine_opts eo = {NULL, c->cfg.engine_threads, c->cfg.engine_memory_limit};
    int rc = mdp_engine_open(&eo, &e, &d);
    int nviews = 0;
    if (!rc) rc = mdp_curate_attach_all(e, lake, &nviews, &d);
    if (!rc && strcmp(format, "json") == 0) {
        struct mdp_buf w;
        mdp_buf_init(&w);
        mdp_buf_printf(&w, "SELECT to_json(q)::VARCHAR FROM (%s\n) q", sql);
        int first = 1;
        struct mdp_rows_cb cb = {NULL, json_row, &first};
        if ((rc = mdp_buf_error(&w)))
            mdp_diag_set(&d, rc, "out of memory building the query");
        else
            rc = mdp_engine_query(e, w.data, &cb, &d);
        if (!rc) printf("%s\n", first ? "[]" : "]");
        mdp_buf_cleanup(&w);
    } else if (!rc) {
        struct table_out t = {0};
        t.fmt = strcmp(format, "csv") == 0;
        struct mdp_rows_cb cb = {q_header, q_row, &t};
        rc = mdp_engine_query(e, sql, &cb, &d);
        if (!rc && !t.fmt) print_table(&t);
        for (size_t i = 0; i < t.n; i++)
            free(t.cells[i]);
        free(t.cells);
    }
    mdp_engine_close(e);
    if (!rc) { /* the cost model's bytes scanned: a run record per query (best effort) */
        struct mdp_run r;
        struct mdp_diag qd = {0};
        mdp_run_begin(&r, "query");
        if (mdp_cost_query_scan(lake, sql, &r.scanned_bytes, &qd) == 0) {
            snprintf(r.message, sizeof r.message, "scanned %lld bytes", (long long)r.scanned_bytes);
            mdp_run_end(lake, &r, "ok", &qd);
        }
    }
    mdp_lake_close(lake);
    free(sql_file);
    return rc ? cli_fail("query", EXIT_FAIL, "%s", d.msg) : EXIT_OK;
}

const struct cli_command CMD_QUERY = {
    "query", "run SQL over the published curated and ml tables",
    "Usage: mdp query \"SQL\" [--format table|csv|json] [--dir LAKE]\n"
    "       mdp query --file QUERY.sql [...]     (--file - reads standard input)\n"
    "\n"
    "Runs SQL (DuckDB's dialect) over views of every published curated and ml table, named as\n"
    "the specification names them (fact_email_events, dim_user, identity_links,\n"
    "ml_user_features, ml_user_segments, ...; features and segments still work as aliases).\n"
    "A view holds exactly the files of the table's\n"
    "current manifest, so a query never sees a half-published table. --format table (default;\n"
    "the first 10,000 rows), csv (RFC 4180, all rows) or json (an array of objects; also with the\n"
    "global --json). docs/curated.md has the four join paths of spec 4 as examples.\n",
    query_run, 0};

/* ---- lint ---- */

static void finding(const char *table, const char *column, long long rows, void *ud)
{
    (void)ud;
    fprintf(stderr,
            "mdp lint pii: %s.%s: %lld row(s) hold something that looks like an email address\n",
            table, column, rows);
}

static int lint_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "pii") != 0) return cli_usage("lint", "expects: mdp lint pii");
    if (cli_config(c)) return EXIT_FAIL;
    for (int i = 2; i < argc; i++) {
        int handled, rc = cli_lake_option("lint", c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (!handled) return cli_usage("lint", "unexpected argument '%s'", argv[i]);
    }
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("lint", EXIT_FAIL, "%s", d.msg);
    struct mdp_engine *e = NULL;
    struct mdp_engine_opts eo = {NULL, c->cfg.engine_threads, c->cfg.engine_memory_limit};
    int rc = mdp_engine_open(&eo, &e, &d);
    if (!rc) rc = mdp_lint_pii(e, lake, finding, NULL, &d);
    mdp_engine_close(e);
    mdp_lake_close(lake);
    if (rc) return cli_fail("lint pii", EXIT_FAIL, "%s", d.msg);
    printf(
        "no email addresses in the curated and ml zones outside fact_email_events.email_lower\n");
    return EXIT_OK;
}

const struct cli_command CMD_LINT = {
    "lint", "check the curated and ml zones for PII",
    "Usage: mdp lint pii [--dir LAKE]\n"
    "\n"
    "Scans every text, JSON, list and map column of every published curated and ml table for\n"
    "values that look like email addresses. The one column allowed to hold addresses is\n"
    "fact_email_events.email_lower (spec 4; docs/curated.md says why and who may read it).\n"
    "Exit 1 naming each table.column with findings, 0 when clean.\n",
    lint_run, 0};

/* ---- catalog ---- */

static void catalog_line(const char *line, void *ud)
{
    (void)ud;
    printf("%s\n", line);
}

static int catalog_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "ddl") != 0 && strcmp(argv[1], "apply") != 0))
        return cli_usage("catalog", "expects: mdp catalog ddl|apply");
    int apply = strcmp(argv[1], "apply") == 0;
    if (cli_config(c)) return EXIT_FAIL;
    const char *bucket = NULL, *env = "dev";
    int glue = 0;
    for (int i = 2; i < argc; i++) {
        const char *v;
        int handled, m, rc = cli_lake_option("catalog", c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (handled) continue;
        if (!apply && strcmp(argv[i], "--glue-json") == 0) {
            glue = 1;
        } else if ((m = cli_opt(argc, argv, &i, "--bucket", &v))) {
            if (m < 0) return cli_usage("catalog", "--bucket needs a name");
            bucket = v;
        } else if ((m = cli_opt(argc, argv, &i, "--env", &v))) {
            if (m < 0 || !*v || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(v))
                return cli_usage("catalog",
                                 "--env needs a name of lowercase letters, digits and -");
            env = v;
        } else {
            return cli_usage("catalog", "unexpected argument '%s'", argv[i]);
        }
    }
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("catalog", EXIT_FAIL, "%s", d.msg);
    int rc;
    if (apply) {
        struct mdp_aws *a = NULL;
        struct mdp_catalog_applied n;
        rc = mdp_aws_open(NULL, &a, &d);
        if (!rc) rc = mdp_catalog_apply(lake, a, bucket, env, catalog_line, NULL, &n, &d);
        if (!rc)
            printf("catalog applied: %ld tables created, %ld updated; %ld partitions created, %ld "
                   "moved, %ld removed, %ld unchanged\n",
                   n.tables_created, n.tables_updated, n.partitions_created, n.partitions_updated,
                   n.partitions_deleted, n.partitions_unchanged);
        mdp_aws_close(a);
    } else {
        rc = mdp_catalog(lake, bucket, env, glue, stdout, &d);
    }
    mdp_lake_close(lake);
    return rc ? cli_fail("catalog", EXIT_FAIL, "%s", d.msg) : EXIT_OK;
}

const struct cli_command CMD_CATALOG = {
    "catalog", "Athena DDL / Glue tables for the published tables",
    "Usage: mdp catalog ddl [--bucket NAME] [--env ENV] [--glue-json] [--dir LAKE]\n"
    "       mdp catalog apply [--bucket NAME] [--env ENV] [--dir LAKE]\n"
    "\n"
    "Prints CREATE EXTERNAL TABLE statements (Athena, STORED AS PARQUET, partition projection on\n"
    "date_key for the facts) for every published curated and ml table, in database matbakh_<env>,\n"
    "located in s3://<bucket>/ (default matbakh-data-<env>) at the table's current run folder;\n"
    "with --glue-json, the same as a JSON array of Glue CreateTable inputs, a partitioned table's\n"
    "followed by its partitions (BatchCreatePartition input). After each publish,\n"
    "apply it again (or Glue UpdateTable): that is Athena's atomic switch to the new state. The\n"
    "lake folder is synced to the bucket as it is (docs/curated.md).\n"
    "\n"
    "apply does that through the Glue API (the aws.* settings; docs/aws.md \"Catalog\"): creates\n"
    "the database when missing, creates or updates every table at its current run folder, and\n"
    "registers every partition at its run folder (projected tables too, for engines that read\n"
    "Glue's partitions), removing the ones no longer published; it prints what it did. Run it\n"
    "after each publish.\n",
    catalog_run, 0};

/* ---- shell ---- */

static int shell_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        int handled, rc = cli_lake_option("shell", c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (!handled) return cli_usage("shell", "unexpected argument '%s'", argv[i]);
    }
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("shell", EXIT_FAIL, "%s", d.msg);
    struct mdp_engine *e = NULL;
    struct mdp_engine_opts eo = {NULL, c->cfg.engine_threads, c->cfg.engine_memory_limit};
    int n = 0, rc = mdp_engine_open(&eo, &e, &d);
    if (!rc) rc = mdp_curate_attach_all(e, lake, &n, &d);
    int tty = isatty(0);
    if (!rc && tty)
        printf("matbakh-dp shell on %s: %d tables (SHOW TABLES;), statements end with ';', Ctrl-D "
               "quits\n",
               c->cfg.lake_dir, n);
    struct mdp_buf stmt;
    mdp_buf_init(&stmt);
    char line[8192];
    int failures = 0;
    while (!rc) {
        if (tty) fputs(stmt.len ? "   ...> " : "mdp> ", stdout);
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin)) break;
        mdp_buf_puts(&stmt, line);
        size_t k = strlen(line);
        while (k && strchr(" \t\r\n", line[k - 1]))
            k--;
        if (!k || line[k - 1] != ';') continue;
        struct table_out t = {0};
        struct mdp_rows_cb cb = {q_header, q_row, &t};
        struct mdp_diag qd = {0};
        /* the statement without its ';' (the query is wrapped to render every type as text) */
        if (mdp_buf_error(&stmt)) {
            fprintf(stderr, "error: out of memory reading the statement\n");
            failures++;
            mdp_buf_reset(&stmt);
            continue;
        }
        char *semi = strrchr(stmt.data, ';');
        *semi = '\0';
        if (mdp_engine_query(e, stmt.data, &cb, &qd)) {
            fprintf(stderr, "error: %s\n", qd.msg);
            failures++;
        } else {
            print_table(&t);
        }
        for (size_t i = 0; i < t.n; i++)
            free(t.cells[i]);
        free(t.cells);
        mdp_buf_reset(&stmt);
    }
    mdp_buf_cleanup(&stmt);
    mdp_engine_close(e);
    mdp_lake_close(lake);
    if (rc) return cli_fail("shell", EXIT_FAIL, "%s", d.msg);
    return failures && !tty ? EXIT_FAIL : EXIT_OK;
}

const struct cli_command CMD_SHELL = {
    "shell", "an interactive SQL session over the published tables",
    "Usage: mdp shell [--dir LAKE]\n"
    "\n"
    "Reads SQL statements (ending with ';') from the terminal or standard input and runs each "
    "over\n"
    "views of the published curated and ml tables, as `mdp query` does, printing a table. Errors\n"
    "are printed and the session goes on; with input from a pipe, the exit status is 1 if any\n"
    "statement failed. Ctrl-D ends it.\n",
    shell_run, 0};
