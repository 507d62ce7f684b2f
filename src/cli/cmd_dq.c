/* `mdp dq parse FILE`: checks a DQDL ruleset and prints each rule in canonical form, or the
 * position of the first error as FILE:LINE:COL: message (exit 1). */
#include "cli.h"
#include "mdp/dq.h"

#include <errno.h>
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
        (void)mdp_buf_puts(&b, "]}\n");
    } else {
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

static int dq_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2) return cli_usage("dq", "expects a subcommand: parse, eval");
    if (strcmp(argv[1], "parse") == 0) return dq_parse_cmd(c, argc, argv);
    if (strcmp(argv[1], "eval") == 0) return dq_eval_cmd(c, argc, argv);
    return cli_usage("dq", "unknown subcommand '%s'", argv[1]);
}

const struct cli_command CMD_DQ = {
    "dq", "data-quality rules in Glue's DQDL: check, evaluate",
    "Usage: mdp dq parse FILE\n"
    "       mdp dq eval --rules FILE --datasets MANIFEST.json [--primary NAME]\n"
    "                   [--failed-rows FILE] [--json]\n"
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
    "       FILE. Exit 1 unless every rule passed.\n",
    dq_run, 0};
