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

static int dq_parse_cmd(struct cli *c, int argc, char **argv)
{
    if (argc != 3) return cli_usage("dq", "expects: mdp dq parse FILE");
    const char *path = argv[2];
    size_t len = 0;
    char *src = read_file(path, &len);
    if (!src) return EXIT_FAIL;
    struct mdp_dq_doc *doc = NULL;
    struct mdp_dq_error err;
    int rc = mdp_dq_parse(src, len, &doc, &err);
    free(src);
    if (rc == MDP_ERR_PARSE) {
        fprintf(stderr, "%s:%d:%d: %s\n", path, err.line, err.col, err.msg);
        return EXIT_FAIL;
    }
    if (rc) return cli_fail("dq parse", EXIT_FAIL, "%s", mdp_strerror(rc));
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

static int dq_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2) return cli_usage("dq", "expects a subcommand: parse");
    if (strcmp(argv[1], "parse") == 0) return dq_parse_cmd(c, argc, argv);
    return cli_usage("dq", "unknown subcommand '%s'", argv[1]);
}

const struct cli_command CMD_DQ = {
    "dq", "data-quality rules in Glue's DQDL: check and print them",
    "Usage: mdp dq parse FILE\n"
    "\n"
    "parse  checks a DQDL ruleset (AWS Glue Data Quality's language) and prints each rule in\n"
    "       canonical form, one per line (--json: {\"rules\": [...]}). On the first error it\n"
    "       prints FILE:LINE:COL: message and exits 1. Column names may be in double quotes\n"
    "       (Glue) or single quotes (the specification); see docs/quality.md.\n",
    dq_run, 0};
