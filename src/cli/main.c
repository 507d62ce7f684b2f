/* mdp: the matbakh-dp command line. Global options, then a command and its options:
 *   mdp [--config FILE] [--json] [--log-level L] [--wait SECONDS] <command> [options]
 * Exit codes: 0 ok, 1 failure, 2 usage error, 75 the lake is busy (another writing job's lease). Results go to stdout, logs (JSON lines) and errors to
 * stderr. */
#include "cli.h"
#include "mdp/alloc.h"
#include "mdp/aws.h"
#include "mdp/consent.h"
#include "mdp/engine.h"
#include "mdp/lake.h"
#include "mdp/lease.h"
#include "mdp/log.h"
#include "mdp/net.h"
#include "mdp/state.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* one line per group of commands, so that adding one is a one-line change */
/* clang-format off */
static const struct cli_command *const COMMANDS[] = {
    &CMD_INIT,  &CMD_SEED,    &CMD_RUN,     &CMD_INGEST,   &CMD_CURATE,   &CMD_QUERY,
    &CMD_LINT,  &CMD_CATALOG, &CMD_SHELL,   &CMD_DEMO,     &CMD_RUNS,     &CMD_IDS,
    &CMD_HASH,  &CMD_CONFIG,  &CMD_CONSENT, &CMD_SEGMENTS, &CMD_FEATURES, &CMD_SNAPSHOT,
    &CMD_SERVE, &CMD_BANDIT,  &CMD_LAKE,    &CMD_DQ,
    &CMD_FRESHNESS, &CMD_ALARMS,
    &CMD_COST, &CMD_REPORT,
    &CMD_INVENTORY, &CMD_RETENTION,
    &CMD_DSAR,
    &CMD_CDC,
    &CMD_AWS,
    NULL};
/* clang-format on */

int cli_fail(const char *cmd, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* an error path that left its diag empty still says something (oom_cli.sh fails on it) */
    fprintf(stderr, "mdp%s%s: %s\n", cmd ? " " : "", cmd ? cmd : "",
            msg[0] ? msg : "failed, and the library gave no detail");
    return code;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mdp%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'mdp%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    va_end(ap);
    return EXIT_USAGE;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    }
    return 0;
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **out_val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *out_val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) return -1;
    *out_val = argv[++*i];
    return 1;
}

void cli_keep_run(const struct mdp_run *r, void *ud)
{
    struct cli_runs *rs = ud;
    if (rs->n == rs->cap) {
        int cap = rs->cap ? rs->cap * 2 : 32;
        struct mdp_run *nv = mdp_realloc(rs->v, (size_t)cap * sizeof *nv);
        if (!nv) return; /* a summary line lost, not the run */
        rs->v = nv;
        rs->cap = cap;
    }
    rs->v[rs->n++] = *r;
}

void cli_runs_free(struct cli_runs *rs)
{
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

int cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return -1;
    *out = (long)v;
    return 0;
}

int cli_config(struct cli *c)
{
    if (c->have_cfg) return 0;
    struct mdp_diag d = {0};
    int rc;
    if (c->config_path) {
        rc = mdp_config_load(c->config_path, &c->cfg, &d);
    } else if (access("mdp.yaml", F_OK) == 0) {
        rc = mdp_config_load("mdp.yaml", &c->cfg, &d);
    } else {
        rc = mdp_config_defaults(&c->cfg);
        if (rc) snprintf(d.msg, sizeof d.msg, "%s", mdp_strerror(rc));
    }
    if (!rc) rc = mdp_consent_configure(&c->cfg.consent_purposes, &d);
    if (!rc) rc = mdp_aws_configure(&c->cfg, &d);
    if (!rc) rc = mdp_state_configure(&c->cfg, &d);
    if (!rc) rc = mdp_net_configure(&c->cfg, &d);
    if (rc) return cli_fail(NULL, EXIT_FAIL, "%s", d.msg[0] ? d.msg : mdp_strerror(rc));
    c->have_cfg = 1;
    if (c->wait_s >= 0) c->cfg.lease_wait_s = c->wait_s;
    enum mdp_log_level lvl;
    const char *level = c->log_level ? c->log_level : c->cfg.log_level;
    if (mdp_log_level_parse(level, &lvl) == 0) mdp_log_set_level(lvl);
    return 0;
}

int cli_lease_take(const char *cmd, struct cli *c, struct mdp_lake *lake, struct mdp_lease **out)
{
    struct mdp_diag d = {0};
    struct mdp_lease_opts o = {cmd, c->cfg.lease_s, c->cfg.lease_wait_s};
    int rc = mdp_lease_take(lake, MDP_LEASE_LAKE, &o, out, &d);
    if (rc == MDP_ERR_EXISTS) return cli_fail(cmd, EXIT_BUSY, "%s", d.msg);
    return rc ? cli_fail(cmd, EXIT_FAIL,
                         "cannot take the lake's lease: %s (`mdp lake lease` shows it; `mdp lake "
                         "lease --break` removes one that is broken or whose holder is gone)",
                         d.msg)
              : 0;
}

int cli_lease_release(const char *cmd, struct mdp_lease *l, int rc)
{
    struct mdp_diag d = {0};
    int r = mdp_lease_release(l, &d);
    if (r) {
        cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
        return rc ? rc : EXIT_FAIL;
    }
    return rc;
}

static void print_help(FILE *f)
{
    fprintf(f,
            "mdp - matbakh-dp, the data platform of matbakh.app\n"
            "\n"
            "Usage: mdp [--config FILE] [--json] [--log-level LEVEL] [--wait SECONDS] <command>\n"
            "           [options]\n"
            "\n"
            "Commands:\n");
    for (int i = 0; COMMANDS[i]; i++)
        fprintf(f, "  %-8s %s\n", COMMANDS[i]->name, COMMANDS[i]->summary);
    fprintf(
        f,
        "\n"
        "Global options:\n"
        "  --config FILE      configuration file (default: ./mdp.yaml if present, else built-in\n"
        "                     defaults; `mdp config keys` documents every key)\n"
        "  --json             machine-readable output where the output is data\n"
        "  --log-level LEVEL  debug|info|warn|error|off (logs are JSON lines on stderr)\n"
        "  --wait SECONDS     a writing job (ingest, curate, run, ...) waits this long for "
        "another\n"
        "                     one's lease on the lake (default lake.lease_wait_seconds: 0)\n"
        "  -h, --help         this help; `mdp <command> --help` for a command\n"
        "  -V, --version      version of mdp and of the DuckDB library it loads\n"
        "\n"
        "Exit status: 0 success, 1 failure, 2 usage error, 75 the lake is busy: another writing\n"
        "job holds its lease (run again later, or pass --wait).\n"
        "Environment: MDP_DUCKDB_LIB (path of libduckdb.so), MDP_PSEUDONYM_KEY (HMAC key for\n"
        "keyed pseudonyms; the variable's name is configurable).\n"
        "Start with `mdp demo`; docs/ in the repository explains the lake and every command.\n");
}

int main(int argc, char **argv)
{
    struct cli c;
    memset(&c, 0, sizeof c);
    c.wait_s = -1;
    /* a file-size limit or quota must fail the write (EFBIG: reported, old state kept), not kill us
     */
    signal(SIGXFSZ, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_help(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            struct mdp_diag d = {0};
            const char *dv = mdp_engine_version(&d);
            printf("mdp %s (DuckDB %s)\n", MDP_VERSION, dv ? dv : "not loaded: see MDP_DUCKDB_LIB");
            return EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            c.json = 1;
        } else if (strcmp(a, "--wait") == 0 || strncmp(a, "--wait=", 7) == 0) {
            const char *v = a[6] == '=' ? a + 7 : i + 1 < argc ? argv[++i] : NULL;
            long n;
            if (!v || cli_parse_long(v, 0, 86400, &n))
                return cli_usage(NULL, "--wait needs a number of seconds, 0 to 86400");
            c.wait_s = n;
        } else if (strcmp(a, "--config") == 0 || strcmp(a, "--log-level") == 0) {
            if (i + 1 >= argc) return cli_usage(NULL, "%s needs a value", a);
            if (a[2] == 'c')
                c.config_path = argv[++i];
            else
                c.log_level = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            c.config_path = a + 9;
        } else if (strncmp(a, "--log-level=", 12) == 0) {
            c.log_level = a + 12;
        } else {
            return cli_usage(NULL, "unknown global option '%s'", a);
        }
    }
    if (c.log_level) {
        enum mdp_log_level lvl;
        if (mdp_log_level_parse(c.log_level, &lvl))
            return cli_usage(NULL, "--log-level: '%s' is not one of debug|info|warn|error|off",
                             c.log_level);
    }
    if (i >= argc) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    /* --json is a global option, also accepted after the command (mdp runs --json) */
    int w = i;
    for (int r = i; r < argc; r++) {
        if (strcmp(argv[r], "--") == 0) {
            while (r < argc)
                argv[w++] = argv[r++];
            break;
        }
        if (strcmp(argv[r], "--json") == 0)
            c.json = 1;
        else
            argv[w++] = argv[r];
    }
    argc = w;
    const char *name = argv[i];
    if (strcmp(name, "help") == 0) {
        if (i + 1 >= argc) {
            print_help(stdout);
            return EXIT_OK;
        }
        name = argv[i + 1];
        for (int k = 0; COMMANDS[k]; k++)
            if (strcmp(COMMANDS[k]->name, name) == 0) {
                fputs(COMMANDS[k]->help, stdout);
                return EXIT_OK;
            }
        return cli_usage(NULL, "no such command '%s'", name);
    }
    for (int k = 0; COMMANDS[k]; k++) {
        if (strcmp(COMMANDS[k]->name, name) != 0) continue;
        if (!COMMANDS[k]->own_help && cli_wants_help(argc - i, argv + i)) {
            fputs(COMMANDS[k]->help, stdout);
            return EXIT_OK;
        }
        int rc = COMMANDS[k]->run(&c, argc - i, argv + i);
        if (c.have_cfg) mdp_config_cleanup(&c.cfg);
        return rc;
    }
    return cli_usage(NULL, "no such command '%s'", name);
}
