/* `mdp dq parse FILE`: checks a DQDL ruleset and prints each rule in canonical form, or the
 * position of the first error as FILE:LINE:COL: message (exit 1). */
#include "cli.h"
#include "mdp/dq.h"
#include "mdp/lake.h"
#include "mdp/time.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DQ_MAX_FILE (16u << 20)

/* Reads a whole file (at most 16 MiB); prints the error itself. */
static char *read_file(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_fail("dq", EXIT_FAIL, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct mdp_buf b;
    mdp_buf_init(&b);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > DQ_MAX_FILE) {
            cli_fail("dq", EXIT_FAIL, "%s: larger than 16 MiB", path);
            rc = -1;
            break;
        }
        rc = mdp_buf_append(&b, chunk, n);
    }
    if (!rc && ferror(f)) {
        cli_fail("dq", EXIT_FAIL, "%s: read error", path);
        rc = -1;
    }
    fclose(f);
    if (rc) {
        mdp_buf_cleanup(&b);
        return NULL;
    }
    *out_len = b.len;
    return b.data ? mdp_buf_steal(&b) : calloc(1, 1);
}

/* Reads and parses the ruleset at path into *out_doc (free with mdp_dq_doc_free). Prints a parse
 * error as FILE:LINE:COL: message, anything else through cli_fail. Returns 0 or EXIT_FAIL. */
static int load_rules(const char *cmd, const char *path, struct mdp_dq_doc **out_doc)
{
    size_t len = 0;
    char *src = read_file(path, &len);
    if (!src) return EXIT_FAIL;
    struct mdp_dq_error err;
    int rc = mdp_dq_parse(src, len, out_doc, &err);
    free(src);
    if (rc == MDP_ERR_PARSE) {
        fprintf(stderr, "%s:%d:%d: %s\n", path, err.line, err.col, err.msg);
        return EXIT_FAIL;
    }
    if (rc) return cli_fail(cmd, EXIT_FAIL, "%s", mdp_strerror(rc));
    return 0;
}

static int dq_parse_cmd(struct cli *c, int argc, char **argv)
{
    if (argc != 3) return cli_usage("dq", "expects: mdp dq parse FILE");
    struct mdp_dq_doc *doc = NULL;
    int rc = load_rules("dq parse", argv[2], &doc);
    if (rc) return rc;
    struct mdp_buf out;
    mdp_buf_init(&out);
    for (int i = 0; !rc && i < doc->nrules; i++) {
        rc = mdp_dq_print_rule(doc->rules[i], &out);
        if (!rc) rc = mdp_buf_putc(&out, '\n');
    }
    if (!rc && c->json) {
        struct mdp_buf j;
        mdp_buf_init(&j);
        rc = mdp_buf_puts(&j, "{\"rules\":[");
        const char *s = out.data ? out.data : "";
        for (int i = 0; !rc && *s; i++) {
            const char *e = strchr(s, '\n');
            if (i) rc = mdp_buf_putc(&j, ',');
            if (!rc) rc = mdp_buf_json_strn(&j, s, (size_t)(e - s));
            s = e + 1;
        }
        if (!rc) rc = mdp_buf_puts(&j, "]}\n");
        if (!rc) fputs(j.data, stdout);
        mdp_buf_cleanup(&j);
    } else if (!rc && out.data) {
        fputs(out.data, stdout);
    }
    mdp_buf_cleanup(&out);
    mdp_dq_doc_free(doc);
    if (rc) return cli_fail("dq parse", EXIT_FAIL, "%s", mdp_strerror(rc));
    return EXIT_OK;
}

static void print_report(const struct mdp_dq_report *rep, int json)
{
    static const char *const OUT[] = {"PASS", "FAIL", "ERROR"};
    struct mdp_buf b;
    mdp_buf_init(&b);
    if (json) {
        (void)mdp_buf_printf(&b, "{\"score\":%.6g,\"passed\":%d,\"total\":%d,\"rules\":[",
                             rep->score, rep->passed, rep->n);
        for (int i = 0; i < rep->n; i++) {
            const struct mdp_dq_result *r = &rep->results[i];
            (void)mdp_buf_printf(&b, "%s{\"rule\":", i ? "," : "");
            (void)mdp_buf_json_str(&b, r->rule);
            (void)mdp_buf_printf(&b, ",\"outcome\":\"%s\",\"message\":", OUT[r->outcome]);
            (void)mdp_buf_json_str(&b, r->message);
            (void)mdp_buf_printf(&b, ",\"failed_rows\":%lld,\"metrics\":{", r->failed_rows);
            for (int k = 0; k < r->nmetrics; k++) {
                if (k) (void)mdp_buf_putc(&b, ',');
                (void)mdp_buf_json_str(&b, r->metrics[k].name);
                (void)mdp_buf_printf(&b, ":%.17g", r->metrics[k].value);
            }
            (void)mdp_buf_puts(&b, "}}");
        }
        (void)mdp_buf_puts(&b, "],\"analyzers\":[");
        for (int i = 0; i < rep->nanalyzers; i++) {
            const struct mdp_dq_result *r = &rep->analyzers[i];
            (void)mdp_buf_printf(&b, "%s{\"analyzer\":", i ? "," : "");
            (void)mdp_buf_json_str(&b, r->rule);
            if (r->outcome == MDP_DQ_ERROR) {
                (void)mdp_buf_puts(&b, ",\"error\":");
                (void)mdp_buf_json_str(&b, r->message);
            }
            (void)mdp_buf_puts(&b, ",\"metrics\":{");
            for (int k = 0; k < r->nmetrics; k++) {
                if (k) (void)mdp_buf_putc(&b, ',');
                (void)mdp_buf_json_str(&b, r->metrics[k].name);
                (void)mdp_buf_printf(&b, ":%.17g", r->metrics[k].value);
            }
            (void)mdp_buf_puts(&b, "}}");
        }
        (void)mdp_buf_puts(&b, "]}\n");
    } else {
        for (int i = 0; i < rep->nanalyzers; i++) {
            const struct mdp_dq_result *r = &rep->analyzers[i];
            (void)mdp_buf_printf(&b, "%-8s %s\n", r->outcome == MDP_DQ_ERROR ? "ERROR" : "ANALYZER",
                                 r->rule);
            if (r->outcome == MDP_DQ_ERROR) (void)mdp_buf_printf(&b, "         %s\n", r->message);
            for (int k = 0; k < r->nmetrics; k++)
                (void)mdp_buf_printf(&b, "         %s = %.10g\n", r->metrics[k].name,
                                     r->metrics[k].value);
        }
        for (int i = 0; i < rep->n; i++) {
            const struct mdp_dq_result *r = &rep->results[i];
            (void)mdp_buf_printf(&b, "%-5s  %s\n       %s\n", OUT[r->outcome], r->rule, r->message);
            for (int k = 0; k < r->nmetrics; k++)
                (void)mdp_buf_printf(&b, "       %s = %.10g\n", r->metrics[k].name,
                                     r->metrics[k].value);
        }
        (void)mdp_buf_printf(&b, "score: %d of %d rules passed (%.4g)\n", rep->passed, rep->n,
                             rep->score);
    }
    if (b.data) fputs(b.data, stdout);
    mdp_buf_cleanup(&b);
}

static int dq_eval_cmd(struct cli *c, int argc, char **argv)
{
    const char *rules = NULL, *manifest = NULL;
    struct mdp_dq_eval_opts o = {0};
    for (int i = 2; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(argc, argv, &i, "--rules", &v)) != 0) {
            if (r < 0) return cli_usage("dq", "--rules needs a FILE");
            rules = v;
        } else if ((r = cli_opt(argc, argv, &i, "--datasets", &v)) != 0) {
            if (r < 0) return cli_usage("dq", "--datasets needs a MANIFEST.json");
            manifest = v;
        } else if ((r = cli_opt(argc, argv, &i, "--primary", &v)) != 0) {
            if (r < 0) return cli_usage("dq", "--primary needs a table name");
            o.primary = v;
        } else if ((r = cli_opt(argc, argv, &i, "--failed-rows", &v)) != 0) {
            if (r < 0) return cli_usage("dq", "--failed-rows needs a FILE");
            o.failed_rows = v;
        } else {
            return cli_usage("dq", "unknown argument '%s'", argv[i]);
        }
    }
    if (!rules || !manifest)
        return cli_usage("dq", "eval needs --rules FILE and --datasets MANIFEST.json");
    struct mdp_dq_doc *doc = NULL;
    int rc = load_rules("dq eval", rules, &doc);
    if (rc) return rc;
    struct mdp_diag d = {0};
    struct mdp_dq_manifest *m = NULL;
    struct mdp_dq_report *rep = NULL;
    rc = mdp_dq_manifest_load(manifest, &m, &d);
    if (!rc) rc = mdp_dq_eval(doc, m, &o, &rep, &d);
    int code = EXIT_OK;
    if (rc) {
        code = cli_fail("dq eval", EXIT_FAIL, "%s", d.msg[0] ? d.msg : mdp_strerror(rc));
    } else {
        print_report(rep, c->json);
        if (rep->passed != rep->n) code = EXIT_FAIL;
    }
    mdp_dq_report_free(rep);
    mdp_dq_manifest_free(m);
    mdp_dq_doc_free(doc);
    return code;
}

static void print_run(const struct mdp_dq_run_result *res, const char *policy, int json)
{
    static const char *const OUT[] = {"PASS", "FAIL", "ERROR"};
    struct mdp_buf b;
    mdp_buf_init(&b);
    char ts[40] = "";
    (void)mdp_time_format_ms(res->evaluated_ms, ts, sizeof ts);
    if (json) {
        (void)mdp_buf_printf(
            &b,
            "{\"run_id\":\"%s\",\"evaluated_at\":\"%s\",\"rules\":%d,\"passed\":%d,"
            "\"failed\":%d,\"errors\":%d,\"fails_run\":%s,\"tables\":[",
            res->run_id, ts, res->rules, res->passed, res->failed, res->errors,
            mdp_dq_run_fails(res, policy) ? "true" : "false");
        for (int i = 0; i < res->ntables; i++) {
            const struct mdp_dq_table_result *t = &res->tables[i];
            (void)mdp_buf_printf(&b, "%s{\"table\":", i ? "," : "");
            (void)mdp_buf_json_str(&b, t->table);
            (void)mdp_buf_puts(&b, ",\"ruleset\":");
            (void)mdp_buf_json_str(&b, t->file);
            if (t->skipped) {
                (void)mdp_buf_puts(&b, ",\"skipped\":\"not published\"}");
                continue;
            }
            (void)mdp_buf_printf(&b, ",\"score\":%.6g,\"rules\":[", t->rep->score);
            for (int k = 0; k < t->rep->n; k++) {
                const struct mdp_dq_result *r = &t->rep->results[k];
                (void)mdp_buf_printf(&b, "%s{\"rule_index\":%d,\"rule\":", k ? "," : "", k + 1);
                (void)mdp_buf_json_str(&b, r->rule);
                (void)mdp_buf_printf(&b, ",\"outcome\":\"%s\",\"message\":", OUT[r->outcome]);
                (void)mdp_buf_json_str(&b, r->message);
                (void)mdp_buf_puts(&b, ",\"metrics\":{");
                for (int m = 0; m < r->nmetrics; m++) {
                    if (m) (void)mdp_buf_putc(&b, ',');
                    (void)mdp_buf_json_str(&b, r->metrics[m].name);
                    if (isfinite(r->metrics[m].value))
                        (void)mdp_buf_printf(&b, ":%.17g", r->metrics[m].value);
                    else
                        (void)mdp_buf_puts(&b, ":null");
                }
                (void)mdp_buf_puts(&b, "}}");
            }
            (void)mdp_buf_puts(&b, "]}");
        }
        (void)mdp_buf_puts(&b, "]}\n");
    } else {
        for (int i = 0; i < res->ntables; i++) {
            const struct mdp_dq_table_result *t = &res->tables[i];
            if (t->skipped) {
                (void)mdp_buf_printf(&b, "%-28s not published: skipped\n", t->table);
                continue;
            }
            (void)mdp_buf_printf(&b, "%-28s %d of %d rules passed\n", t->table, t->rep->passed,
                                 t->rep->n);
            for (int k = 0; k < t->rep->n; k++) {
                const struct mdp_dq_result *r = &t->rep->results[k];
                if (r->outcome == MDP_DQ_PASS) continue;
                (void)mdp_buf_printf(&b, "  %-5s %d: %s\n        %s\n", OUT[r->outcome], k + 1,
                                     r->rule, r->message);
            }
        }
        (void)mdp_buf_printf(&b,
                             "run %s: %d rules, %d passed, %d failed, %d errors; results in "
                             "dq_results\n",
                             res->run_id, res->rules, res->passed, res->failed, res->errors);
    }
    if (b.data) fputs(b.data, stdout);
    mdp_buf_cleanup(&b);
}

static int dq_run_cmd(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    const char *run_id = NULL;
    for (int i = 2; i < argc; i++) {
        const char *v;
        int handled, r = cli_lake_option("dq", c, argc, argv, &i, &handled);
        if (r) return r;
        if (handled) continue;
        if ((r = cli_opt(argc, argv, &i, "--run-id", &v)) != 0) {
            if (r < 0) return cli_usage("dq", "--run-id needs an id");
            if (!*v || strlen(v) > 36 ||
                strspn(v, "0123456789abcdefABCDEF-_.ghijklmnopqrstuvwxyz") != strlen(v))
                return cli_usage("dq", "--run-id: 1 to 36 characters of [0-9a-z._-], not '%s'", v);
            run_id = v;
        } else {
            return cli_usage("dq", "unknown argument '%s'", argv[i]);
        }
    }
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("dq run", EXIT_FAIL, "%s", d.msg);
    struct mdp_lease *lease;
    int out = cli_lease_take("dq run", c, lake, &lease);
    if (out) {
        mdp_lake_close(lake);
        return out;
    }
    struct mdp_run run;
    mdp_run_begin(&run, "dq");
    if (run_id) snprintf(run.run_id, sizeof run.run_id, "%s", run_id);
    struct mdp_dq_run_opts o = {c->cfg.dq_rules_dir, run.run_id, (int)c->cfg.engine_threads,
                                c->cfg.engine_memory_limit};
    struct mdp_dq_run_result *res = NULL;
    int rc = mdp_dq_run(lake, &o, &res, &d), fails = 0;
    if (!rc) {
        run.in = res->rules;
        run.out = res->failed + res->errors;
        fails = mdp_dq_run_fails(res, c->cfg.dq_fail_stage);
        snprintf(run.message, sizeof run.message, "%d rules: %d passed, %d failed, %d errors",
                 res->rules, res->passed, res->failed, res->errors);
        print_run(res, c->cfg.dq_fail_stage, c->json);
    } else {
        snprintf(run.message, sizeof run.message, "%s", d.msg);
    }
    struct mdp_diag ld = {0};
    int lrc = mdp_run_end(lake, &run, rc || fails ? "failed" : "ok", &ld);
    mdp_dq_run_result_free(res);
    if (rc == MDP_ERR_PARSE) {
        fprintf(stderr, "%s\n", d.msg);
        out = EXIT_FAIL;
    } else if (rc) {
        out = cli_fail("dq run", EXIT_FAIL, "%s", d.msg);
    } else if (lrc) {
        out = cli_fail("dq run", EXIT_FAIL, "cannot write the run log: %s", ld.msg);
    } else if (fails) {
        out = cli_fail("dq run", EXIT_FAIL, "dq.fail_stage is %s: not every rule passed",
                       c->cfg.dq_fail_stage);
    }
    out = cli_lease_release("dq run", lease, out);
    mdp_lake_close(lake);
    return out;
}

static int dq_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2) return cli_usage("dq", "expects a subcommand: parse, eval, run");
    if (strcmp(argv[1], "parse") == 0) return dq_parse_cmd(c, argc, argv);
    if (strcmp(argv[1], "eval") == 0) return dq_eval_cmd(c, argc, argv);
    if (strcmp(argv[1], "run") == 0) return dq_run_cmd(c, argc, argv);

    return cli_usage("dq", "unknown subcommand '%s'", argv[1]);
}

const struct cli_command CMD_DQ = {
    "dq", "data-quality rules in Glue's DQDL: check, evaluate, run over the lake",
    "Usage: mdp dq parse FILE\n"
    "       mdp dq eval --rules FILE --datasets MANIFEST.json [--primary NAME]\n"
    "                   [--failed-rows FILE] [--json]\n"
    "       mdp dq run [--run-id ID] [--dir LAKE] [--json]\n"
    "\n"
    "parse  checks a DQDL ruleset (AWS Glue Data Quality's language) and prints each rule in\n"
    "       canonical form, one per line (--json: {\"rules\": [...]}). On the first error it\n"
    "       prints FILE:LINE:COL: message and exits 1. Column names may be in double quotes\n"
    "       (Glue) or single quotes (the specification); see docs/quality.md.\n"
    "eval   evaluates the rules over the tables of MANIFEST.json (CSV or Parquet) with DuckDB:\n"
    "       per rule PASS, FAIL or ERROR (an unknown column is an ERROR), its metrics with\n"
    "       Glue's names and a message; the score is passed / total. --primary names the table\n"
    "       the rules check (default: DataSources' Primary, or the only table). --failed-rows\n"
    "       writes the failing rows of row-level rules (rule number, row, first column) to\n"
    "       FILE. The Analyzers section's metrics are printed too (no outcome, not scored).\n"
    "       Exit 1 unless every rule passed.\n"
    "run    evaluates every ruleset of dq.rules_dir (TABLE.dqdl: one per published table, named\n"
    "       as mdp query names it) against the lake's current tables, prints the rules that did\n"
    "       not pass, and appends one row per rule to the lake table dq_results (run_id,\n"
    "       evaluated_at, table_name, rule_index, rule, outcome, metrics, message, dt), which is\n"
    "       also the history of dynamic rules (avg(last(5))) and DetectAnomalies. A ruleset that\n"
    "       does not parse is FILE:LINE:COL: message, and nothing is evaluated. Exit 1 when\n"
    "       dq.fail_stage (on_error: an ERROR; on_fail: also a FAIL; never) says so, after\n"
    "       writing the results. The dq stage of mdp run does the same.\n",
    dq_run, 0};
