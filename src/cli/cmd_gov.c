/* Governance commands over the data inventory: `mdp inventory check|ropa` and
 * `mdp retention plan|apply|verify` (docs/privacy.md §2 and §4). */
#include "cli.h"
#include "mdp/buf.h"
#include "mdp/engine.h"
#include "mdp/inventory.h"
#include "mdp/lake.h"
#include "mdp/retention.h"
#include "mdp/time.h"

#include <stdlib.h>
#include <string.h>

struct gov_opts {
    const char *file;   /* --file INVENTORY */
    const char *now;    /* --now T */
    const char *format; /* --format md|json */
    int supabase;       /* --supabase */
};

/* Parses the options a subcommand allows (allowed: "fnFs" letters for file, now, format,
 * supabase; --dir always). Returns 0 or an exit code. */
static int gov_options(const char *cmd, struct cli *c, int argc, char **argv, const char *allowed,
                       struct gov_opts *o)
{
    for (int i = 2; i < argc; i++) {
        int handled = 0, m;
        int rc = cli_lake_option(cmd, c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (handled) continue;
        const char *v;
        if (strchr(allowed, 'f') && (m = cli_opt(argc, argv, &i, "--file", &v))) {
            if (m < 0) return cli_usage(cmd, "--file needs the inventory's path");
            o->file = v;
        } else if (strchr(allowed, 'n') && (m = cli_opt(argc, argv, &i, "--now", &v))) {
            if (m < 0) return cli_usage(cmd, "--now needs a time (YYYY-MM-DD or ISO 8601)");
            o->now = v;
        } else if (strchr(allowed, 'F') && (m = cli_opt(argc, argv, &i, "--format", &v))) {
            if (m < 0 || (strcmp(v, "md") != 0 && strcmp(v, "json") != 0))
                return cli_usage(cmd, "--format is md or json");
            o->format = v;
        } else if (strchr(allowed, 's') && strcmp(argv[i], "--supabase") == 0) {
            o->supabase = 1;
        } else {
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        }
    }
    return 0;
}

static int load_inventory(const char *cmd, struct cli *c, const struct gov_opts *o,
                          struct mdp_inventory **out)
{
    struct mdp_diag d = {0};
    const char *path = o->file ? o->file : mdp_inventory_file(&c->cfg);
    if (mdp_inventory_load(path, out, &d)) {
        fprintf(stderr, "mdp %s: %s\n", cmd, d.msg);
        return EXIT_FAIL;
    }
    return 0;
}

/* ---- inventory ---- */

struct problems {
    int json;
    int64_t n;
};

static int print_problem(const struct mdp_inv_problem *p, void *ud)
{
    struct problems *pr = ud;
    if (pr->json) {
        struct mdp_buf b;
        mdp_buf_init(&b);
        mdp_buf_puts(&b, pr->n++ ? ",{\"kind\":" : "{\"kind\":");
        mdp_buf_json_str(&b, p->kind);
        mdp_buf_puts(&b, ",\"dataset\":");
        if (p->dataset)
            mdp_buf_json_str(&b, p->dataset);
        else
            mdp_buf_puts(&b, "null");
        mdp_buf_puts(&b, ",\"location\":");
        mdp_buf_json_str(&b, p->location);
        mdp_buf_puts(&b, ",\"column\":");
        if (p->column)
            mdp_buf_json_str(&b, p->column);
        else
            mdp_buf_puts(&b, "null");
        mdp_buf_puts(&b, ",\"detail\":");
        mdp_buf_json_str(&b, p->detail);
        mdp_buf_putc(&b, '}');
        if (!mdp_buf_error(&b)) fputs(b.data, stdout);
        mdp_buf_cleanup(&b);
        return 0;
    }
    pr->n++;
    printf("%s: %s%s%s: %s\n", p->kind, p->dataset ? p->dataset : p->location, p->column ? "." : "",
           p->column ? p->column : "", p->detail);
    return 0;
}

static int inventory_check(struct cli *c, int argc, char **argv)
{
    struct gov_opts o = {0};
    int rc = gov_options("inventory check", c, argc, argv, "fs", &o);
    if (rc) return rc;
    const char *dsn = NULL;
    if (o.supabase) {
        const char *var = c->cfg.supabase_dsn_env;
        dsn = var ? getenv(var) : NULL;
        if (!dsn || !*dsn)
            return cli_fail("inventory check", EXIT_FAIL,
                            "--supabase: no connection configured: set the environment variable "
                            "%s (sources.supabase.dsn_env) to a libpq connection string",
                            var ? var : "(none)");
    }
    struct mdp_inventory *inv = NULL;
    if (load_inventory("inventory check", c, &o, &inv)) return EXIT_FAIL;
    struct mdp_diag d = {0};
    struct mdp_lake *lake = NULL;
    struct mdp_engine *e = NULL;
    struct problems pr = {c->json, 0};
    int64_t n_lake = 0, n_pg = 0;
    if (c->json) fputs("{\"problems\":[", stdout);
    rc = mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d);
    struct mdp_engine_opts eo = {NULL, c->cfg.engine_threads, c->cfg.engine_memory_limit};
    if (!rc) rc = mdp_engine_open(&eo, &e, &d);
    if (!rc)
        rc = mdp_inventory_check_lake(inv, lake, e, c->cfg.models_dir, print_problem, &pr, &n_lake,
                                      &d);
    if (!rc && dsn)
        rc = mdp_inventory_check_supabase(inv, dsn, "public", print_problem, &pr, &n_pg, &d);
    mdp_engine_close(e);
    mdp_lake_close(lake);
    size_t nds = inv->ndatasets;
    mdp_inventory_free(inv);
    if (c->json)
        printf("],\"datasets\":%zu,\"count\":%lld,\"ok\":%s}\n", nds, (long long)(n_lake + n_pg),
               !rc && n_lake + n_pg == 0 ? "true" : "false");
    if (rc) return cli_fail("inventory check", EXIT_FAIL, "%s", d.msg);
    if (n_lake + n_pg) {
        if (!c->json)
            fprintf(stderr,
                    "mdp inventory check: %lld problem(s): classify what is new in %s, or remove "
                    "what no longer exists\n",
                    (long long)(n_lake + n_pg), o.file ? o.file : mdp_inventory_file(&c->cfg));
        return EXIT_FAIL;
    }
    if (!c->json)
        printf("inventory ok: %zu datasets, every published table, column, raw dataset and "
               "state-store table classified%s\n",
               nds, dsn ? ", Supabase included" : "");
    return EXIT_OK;
}

static int inventory_ropa(struct cli *c, int argc, char **argv)
{
    struct gov_opts o = {0};
    int rc = gov_options("inventory ropa", c, argc, argv, "fF", &o);
    if (rc) return rc;
    struct mdp_inventory *inv = NULL;
    if (load_inventory("inventory ropa", c, &o, &inv)) return EXIT_FAIL;
    int json = o.format ? strcmp(o.format, "json") == 0 : c->json;
    struct mdp_diag d = {0};
    rc = mdp_inventory_ropa(inv, stdout, json, &d);
    mdp_inventory_free(inv);
    if (rc) return cli_fail("inventory ropa", EXIT_FAIL, "%s", d.msg);
    return EXIT_OK;
}

static int inventory_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    if (argc < 2) return cli_usage("inventory", "expects a subcommand: check, ropa");
    if (strcmp(argv[1], "check") == 0) return inventory_check(c, argc, argv);
    if (strcmp(argv[1], "ropa") == 0) return inventory_ropa(c, argc, argv);
    return cli_usage("inventory", "unknown subcommand '%s'", argv[1]);
}

const struct cli_command CMD_INVENTORY = {
    "inventory", "the data inventory: check it against the lake, render the Art. 30 record",
    "Usage: mdp inventory check [--supabase] [--dir LAKE] [--file INVENTORY]\n"
    "       mdp inventory ropa [--format md|json] [--file INVENTORY]\n"
    "\n"
    "The data inventory (governance.inventory, default the config/inventory.yaml of the source\n"
    "tree mdp was built from; docs/privacy.md) lists every dataset of every store with purpose,\n"
    "legal basis, owner, PII class per column, subject keys, retention rule and deletion path.\n"
    "It is strict: an unknown key, a missing field or a bad duration is an error naming file,\n"
    "line and key (exit 1).\n"
    "\n"
    "check  compares it with the lake: every published table and every column of its current\n"
    "       Parquet files, every raw dataset and every state-store table must be classified,\n"
    "       and every table, raw dataset and quarantine it names must exist (published, or\n"
    "       declared by a model; a raw dataset's source must be a connector or the service).\n"
    "       --supabase also compares every table and column of the app's schema (public) over\n"
    "       libpq; the connection string comes from the variable named by\n"
    "       sources.supabase.dsn_env. Prints one line per problem (kind: dataset.column:\n"
    "       why; --json: {\"problems\":[...]}) and exits 1 if there is any.\n"
    "ropa   prints the record of processing activities (GDPR Art. 30) generated from it:\n"
    "       controller, DPO, measures, and per dataset purpose, legal basis, data subjects,\n"
    "       personal data by class, recipients, transfers, retention and deletion. Markdown\n"
    "       by default, JSON with --format json (or --json).\n",
    inventory_run, 0};

/* ---- retention ---- */

static int parse_now(const char *s, int64_t *out)
{
    int64_t day;
    if (strlen(s) == 10 && mdp_date_parse(s, &day) == 0) {
        *out = day * MDP_MS_PER_DAY;
        return 0;
    }
    return mdp_time_parse_iso(s, strlen(s), out);
}

static const char *unit_name(enum mdp_ret_unit u)
{
    switch (u) {
    case MDP_RET_DAY_FOLDER:
        return "day_folder";
    case MDP_RET_PARTITION:
        return "partition";
    case MDP_RET_ROWS:
        return "rows";
    case MDP_RET_ITEMS:
        return "items";
    case MDP_RET_SOURCE_ROWS:
        return "source_rows";
    case MDP_RET_RECORDS:
        return "records";
    case MDP_RET_LANDING:
        return "landing";
    }
    return "?";
}

static void print_plan(const struct mdp_ret_plan *p, int json, const char *verb)
{
    char now[40];
    mdp_time_format_ms(p->now_ms, now, sizeof now);
    struct mdp_buf b;
    mdp_buf_init(&b);
    if (json) {
        mdp_buf_printf(&b, "{\"now\":\"%s\",\"inactive_users\":%lld,\"steps\":[", now,
                       (long long)p->inactive_users);
        for (size_t i = 0; i < p->nsteps; i++) {
            const struct mdp_ret_step *s = &p->steps[i];
            mdp_buf_puts(&b, i ? ",{\"dataset\":" : "{\"dataset\":");
            mdp_buf_json_str(&b, s->dataset->name);
            mdp_buf_printf(&b, ",\"unit\":\"%s\",\"target\":", unit_name(s->unit));
            mdp_buf_json_str(&b, s->target);
            mdp_buf_printf(&b, ",\"objects\":%lld,\"rows\":%lld,\"bytes\":%lld,\"rule\":\"%s %s\"}",
                           (long long)s->objects, (long long)s->rows, (long long)s->bytes,
                           s->dataset->retention.period_text,
                           mdp_ret_clock_name(s->dataset->retention.clock));
        }
        mdp_buf_puts(&b, "]}\n");
    } else {
        mdp_buf_printf(&b, "retention %s at %s: %zu step(s)\n", verb, now, p->nsteps);
        /* one line per dataset: how many targets (first .. last), objects, rows, bytes */
        for (size_t i = 0, j; i < p->nsteps; i = j) {
            const struct mdp_ret_step *s = &p->steps[i];
            int64_t obj = 0, rows = 0, bytes = 0;
            int rows_known = 1;
            for (j = i;
                 j < p->nsteps && p->steps[j].dataset == s->dataset && p->steps[j].unit == s->unit;
                 j++) {
                obj += p->steps[j].objects;
                bytes += p->steps[j].bytes;
                if (p->steps[j].rows < 0) rows_known = 0;
                rows += p->steps[j].rows;
            }
            int dated = s->unit == MDP_RET_DAY_FOLDER || s->unit == MDP_RET_PARTITION ||
                        s->unit == MDP_RET_LANDING;
            mdp_buf_printf(&b, "  %-30s %-10s %4zu x  %-24s", s->dataset->name, unit_name(s->unit),
                           j - i, dated ? "" : s->target);
            if (j - i > 1 || dated) {
                const char *a = strrchr(s->target, '=') ? strrchr(s->target, '=') + 1 : s->target;
                const char *l = p->steps[j - 1].target;
                l = strrchr(l, '=') ? strrchr(l, '=') + 1 : l;
                mdp_buf_printf(&b, "%.10s .. %.10s ", a, l);
            }
            mdp_buf_printf(&b, "%6lld objects ", (long long)obj);
            if (rows_known)
                mdp_buf_printf(&b, "%8lld rows ", (long long)rows);
            else
                mdp_buf_puts(&b, "         - rows ");
            mdp_buf_printf(&b, "%10lld bytes  (%s %s)\n", (long long)bytes,
                           s->dataset->retention.period_text,
                           mdp_ret_clock_name(s->dataset->retention.clock));
        }
        if (p->inactive_users)
            mdp_buf_printf(&b, "  inactive users (no activity within the rule's period): %lld\n",
                           (long long)p->inactive_users);
    }
    if (!mdp_buf_error(&b) && b.data) fputs(b.data, stdout);
    mdp_buf_cleanup(&b);
}

static int retention_plan_apply(struct cli *c, int argc, char **argv, int apply)
{
    const char *cmd = apply ? "retention apply" : "retention plan";
    struct gov_opts o = {0};
    int rc = gov_options(cmd, c, argc, argv, apply ? "fns" : "fn", &o);
    if (rc) return rc;
    const char *dsn = NULL;
    if (o.supabase) {
        const char *var = c->cfg.supabase_dsn_env;
        dsn = var ? getenv(var) : NULL;
        if (!dsn || !*dsn)
            return cli_fail(cmd, EXIT_FAIL,
                            "--supabase: no connection configured: set the environment variable "
                            "%s (sources.supabase.dsn_env) to a libpq connection string",
                            var ? var : "(none)");
    }
    int64_t now = mdp_time_now_ms();
    if (o.now && parse_now(o.now, &now))
        return cli_usage(cmd, "--now '%s' is not a date (YYYY-MM-DD) or ISO 8601 time", o.now);
    struct mdp_inventory *inv = NULL;
    if (load_inventory(cmd, c, &o, &inv)) return EXIT_FAIL;
    struct mdp_diag d = {0};
    struct mdp_lake *lake = NULL;
    struct mdp_engine *e = NULL;
    struct mdp_ret_plan *plan = NULL;
    struct mdp_ret_stats st = {0};
    rc = mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d);
    /* apply removes what a concurrent job may be reading or rewriting: one writer at a time */
    struct mdp_lease *lease = NULL;
    int busy = !rc && apply ? cli_lease_take(cmd, c, lake, &lease) : 0;
    if (busy) {
        mdp_lake_close(lake);
        mdp_inventory_free(inv);
        return busy;
    }
    struct mdp_engine_opts eo = {NULL, c->cfg.engine_threads, c->cfg.engine_memory_limit};
    if (!rc) rc = mdp_engine_open(&eo, &e, &d);
    if (!rc) rc = mdp_retention_plan(inv, lake, e, now, &plan, &d);
    if (!rc && apply) rc = mdp_retention_apply_with(plan, lake, e, dsn, &st, &d);
    if (!rc) print_plan(plan, c->json, apply ? "applied" : "plan");
    if (!rc && apply && !c->json)
        printf("removed %lld object(s), %lld row(s), %lld item(s), %lld byte(s); %lld ledger "
               "entr%s in _meta/ledger/\n",
               (long long)st.objects, (long long)st.rows, (long long)st.items, (long long)st.bytes,
               (long long)st.ledger_entries, st.ledger_entries == 1 ? "y" : "ies");
    if (!rc && apply && !c->json && dsn)
        printf("deleted %lld row(s) of inactive users in Supabase\n", (long long)st.source_rows);
    if (!rc && apply && st.source_skipped)
        fprintf(stderr,
                "mdp retention apply: %lld Supabase table(s) hold users due for deletion; left "
                "alone without --supabase\n",
                (long long)st.source_skipped);
    mdp_ret_plan_free(plan);
    mdp_engine_close(e);
    rc = cli_lease_release(cmd, lease, rc ? cli_fail(cmd, EXIT_FAIL, "%s", d.msg) : 0);
    mdp_lake_close(lake);
    mdp_inventory_free(inv);
    return rc;
}

static int retention_verify(struct cli *c, int argc, char **argv)
{
    struct gov_opts o = {0};
    int rc = gov_options("retention verify", c, argc, argv, "", &o);
    if (rc) return rc;
    struct mdp_diag d = {0};
    struct mdp_lake *lake = NULL;
    int64_t n = 0;
    rc = mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d);
    if (!rc) rc = mdp_retention_ledger_verify(lake, &n, &d);
    mdp_lake_close(lake);
    if (rc) return cli_fail("retention verify", EXIT_FAIL, "%s", d.msg);
    if (c->json)
        printf("{\"entries\":%lld,\"ok\":true}\n", (long long)n);
    else
        printf("ledger intact: %lld entr%s\n", (long long)n, n == 1 ? "y" : "ies");
    return EXIT_OK;
}

static int retention_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    if (argc < 2) return cli_usage("retention", "expects a subcommand: plan, apply, verify");
    if (strcmp(argv[1], "plan") == 0) return retention_plan_apply(c, argc, argv, 0);
    if (strcmp(argv[1], "apply") == 0) return retention_plan_apply(c, argc, argv, 1);
    if (strcmp(argv[1], "verify") == 0) return retention_verify(c, argc, argv);
    return cli_usage("retention", "unknown subcommand '%s'", argv[1]);
}

const struct cli_command CMD_RETENTION = {
    "retention", "what the inventory's retention rules make due, and its removal with a ledger",
    "Usage: mdp retention plan [--now T] [--dir LAKE] [--file INVENTORY] [--json]\n"
    "       mdp retention apply [--now T] [--supabase] [--dir LAKE] [--file INVENTORY] [--json]\n"
    "       mdp retention verify [--dir LAKE]\n"
    "\n"
    "plan    lists per dataset of the inventory what its rule makes due at T (default now;\n"
    "        YYYY-MM-DD or ISO 8601): raw and quarantine day folders (dt=D), the landing\n"
    "        folder's deliveries of those raw days (landing), date partitions\n"
    "        of curated and ml tables, rows of users inactive for longer than the rule's\n"
    "        period (from the lake's activity facts) in tables that keep other users' rows,\n"
    "        state-store items past their TTL, consent journal records 3 years after their\n"
    "        decision stopped being in force (records), and the users due in Supabase\n"
    "        (source_rows). Changes nothing.\n"
    "apply   removes exactly the plan: per dataset a ledger entry first (_meta/ledger/,\n"
    "        hash-chained: what, how many, bytes, the rule), then a new table version\n"
    "        without the due partitions or rows (readers see the old or the new state), then\n"
    "        the files, raw objects and items; journal records become tombstones that keep\n"
    "        the hash chain (mdp consent verify counts them). Run it again after a crash: it\n"
    "        finishes.\n"
    "        --supabase also deletes the inactive users' rows in the app's database over\n"
    "        libpq (one transaction per table; the connection string comes from the\n"
    "        variable named by sources.supabase.dsn_env); without it they are left alone and\n"
    "        remembered (state table retention_pending) until an apply with the connection.\n"
    "verify  checks the ledger's hash chain, and that every consent journal record pruned to\n"
    "        a tombstone is listed by an entry with its hash; exit 1 naming the first broken\n"
    "        entry or unlisted tombstone.\n"
    "\n"
    "A raw day retention removed cannot be backfilled: `mdp segments|features --date D` for\n"
    "such a day is refused (docs/privacy.md §4).\n",
    retention_run, 0};
