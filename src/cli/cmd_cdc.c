/* `mdp cdc setup|run|lag`: change data capture from Supabase's PostgreSQL over logical
 * replication (include/mdp/cdc.h, docs/cdc.md). The connection string comes from the same
 * environment variable as `mdp ingest supabase --pull` (sources.supabase.dsn_env). */
#include "cli.h"
#include "mdp/cdc.h"
#include "mdp/lake.h"
#include "mdp/lease.h"
#include "mdp/log.h"
#include "mdp/model.h"
#include "mdp/pipeline.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* A duration: whole seconds with an optional unit s, m or h ("60s", "5m", "90"), 1 s to 1 day.
 * Returns 0 with *out_ms, or -1. */
static int parse_duration(const char *s, int64_t *out_ms)
{
    char *end;
    if (!s || *s < '0' || *s > '9') return -1;
    long long v = strtoll(s, &end, 10);
    long long mult = 1000;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mult = 60000, end++;
    else if (*end == 'h')
        mult = 3600000, end++;
    if (*end || v < 1 || v > 86400 || v * mult > 86400000LL) return -1;
    *out_ms = v * mult;
    return 0;
}

/* A --curate-every tick, in the child process mdp_cdc_run forks: `mdp curate`'s code path
 * (incremental) on a lake of its own, under the lake's lease like `mdp curate` (while another
 * writing job holds it the tick fails, and the next one tries again). */
static int curate_tick(void *ud, struct mdp_diag *d)
{
    struct cli *c = ud;
    struct mdp_lake *lake;
    int rc = mdp_lake_open(c->cfg.lake_dir, 0, &lake, d);
    if (rc) return rc;
    struct mdp_lease *lease;
    struct mdp_lease_opts lo = {"cdc run (curate)", c->cfg.lease_s, 0};
    rc = mdp_lease_take(lake, MDP_LEASE_LAKE, &lo, &lease, d);
    if (!rc) {
        struct mdp_stage_ctx ctx = {&c->cfg, lake, -1, NULL, NULL, 0};
        struct mdp_curate_opts co = {0, -1, -1};
        struct mdp_run run;
        mdp_run_begin(&run, "curate");
        rc = mdp_curate(&ctx, &co, &run, d);
        int lrc = mdp_lease_release(lease, rc ? NULL : d);
        if (!rc && lrc) rc = lrc < 0 ? lrc : MDP_ERR_EXISTS;
    }
    mdp_lake_close(lake);
    return rc;
}

static const char HELP[] =
    "Usage: mdp cdc setup [--slot NAME] [--publication NAME] [--dir LAKE]\n"
    "       mdp cdc run [--slot NAME] [--publication NAME] [--once | --duration S]\n"
    "                   [--curate-every DURATION] [--protocol 1|2] [--dir LAKE]\n"
    "       mdp cdc lag [--slot NAME] [--record] [--dir LAKE]\n"
    "\n"
    "Change data capture from Supabase's PostgreSQL by logical replication (pgoutput).\n"
    "  setup  creates the publication (FOR TABLE cdc.tables; missing tables are added) and the\n"
    "         logical replication slot when they do not exist, and warns about tables whose\n"
    "         deletes cannot be captured (no primary key). Idempotent.\n"
    "  run    streams the slot's changes into raw/supabase_cdc/<table>/dt=D/ (one NDJSON line\n"
    "         per change: LSN, commit LSN and time, operation, old key, new row), writing each\n"
    "         group of committed transactions before confirming it to the server, so a crash\n"
    "         loses and duplicates nothing. Resumes after a lost connection. Stops at SIGINT or\n"
    "         SIGTERM (after writing what is committed), with --duration S after S seconds, or\n"
    "         with --once when it has every change committed before it started (up to the\n"
    "         server's WAL insert position then; or when the server answers but its position\n"
    "         has stood still for 3 s). On PostgreSQL 14+ it asks for protocol version 2,\n"
    "         which streams large transactions before their commit: they are buffered\n"
    "         (spilled to a file under TMPDIR when large) and written at their commit,\n"
    "         dropped at their abort.\n"
    "  lag    prints the slot's lag (bytes of WAL it retains, seconds since the consumer last\n"
    "         confirmed); --record also writes it to _meta/metrics/cdc/ for the alarms.\n"
    "\n"
    "Options:\n"
    "  --slot NAME         the replication slot (default: cdc.slot)\n"
    "  --publication NAME  the publication (default: cdc.publication)\n"
    "  --curate-every DURATION  (run) also run `mdp curate` every DURATION (60s, 5m, 1h)\n"
    "                      while streaming, in a child process: a row deleted in PostgreSQL\n"
    "                      leaves dim_user etc. within about one interval; a failed curate is\n"
    "                      logged and retried at the next tick, CDC goes on\n"
    "  --protocol 1|2      (run) pgoutput protocol version: 2 (default) streams in-progress\n"
    "                      transactions when the server offers it, 1 never does\n"
    "  --dir LAKE          the lake (default: lake.dir)\n"
    "The connection string is read from the variable named by sources.supabase.dsn_env\n"
    "(default MDP_SUPABASE_DSN). docs/cdc.md describes the privileges it needs.\n";

static int cdc_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2) return cli_usage("cdc", "expects setup, run or lag");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        cli_wants_help(argc, argv)) {
        fputs(HELP, stdout);
        return EXIT_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "setup") != 0 && strcmp(sub, "run") != 0 && strcmp(sub, "lag") != 0)
        return cli_usage("cdc", "no such subcommand '%s' (setup, run, lag)", sub);
    if (cli_config(c)) return EXIT_FAIL;
    struct mdp_cdc_opts o;
    memset(&o, 0, sizeof o);
    o.slot = c->cfg.cdc_slot;
    o.publication = c->cfg.cdc_publication;
    int record = 0, proto_given = 0;
    for (int i = 2; i < argc; i++) {
        const char *v;
        int m, handled = 0;
        if ((m = cli_opt(argc, argv, &i, "--slot", &v))) {
            if (m < 0) return cli_usage("cdc", "--slot needs a name");
            o.slot = v;
        } else if ((m = cli_opt(argc, argv, &i, "--publication", &v))) {
            if (m < 0) return cli_usage("cdc", "--publication needs a name");
            o.publication = v;
        } else if (strcmp(sub, "run") == 0 && strcmp(argv[i], "--once") == 0) {
            o.once = 1;
        } else if (strcmp(sub, "run") == 0 && (m = cli_opt(argc, argv, &i, "--duration", &v))) {
            long s;
            if (m < 0 || cli_parse_long(v, 1, 31L * 86400, &s))
                return cli_usage("cdc", "--duration needs whole seconds (1 to 2678400)");
            o.duration_ms = s * 1000;
        } else if (strcmp(sub, "run") == 0 && (m = cli_opt(argc, argv, &i, "--curate-every", &v))) {
            if (m < 0 || parse_duration(v, &o.curate_every_ms))
                return cli_usage("cdc", "--curate-every needs a duration such as 60s, 5m or 1h "
                                        "(1 s to 1 day)");
        } else if (strcmp(sub, "run") == 0 && (m = cli_opt(argc, argv, &i, "--protocol", &v))) {
            if (m < 0 || (strcmp(v, "1") != 0 && strcmp(v, "2") != 0))
                return cli_usage("cdc", "--protocol is 1 or 2");
            o.stream = v[0] == '2';
            proto_given = 1;
        } else if (strcmp(sub, "lag") == 0 && strcmp(argv[i], "--record") == 0) {
            record = 1;
        } else {
            int r = cli_lake_option("cdc", c, argc, argv, &i, &handled);
            if (r) return r;
            if (!handled) return cli_usage("cdc", "unexpected argument '%s'", argv[i]);
        }
    }
    if (o.once && o.duration_ms)
        return cli_usage("cdc", "--once and --duration exclude each other");
    const char *var = c->cfg.supabase_dsn_env;
    o.dsn = getenv(var);
    if (!o.dsn || !*o.dsn)
        return cli_fail("cdc", EXIT_FAIL,
                        "the connection string is read from the environment variable %s "
                        "(sources.supabase.dsn_env), which is not set",
                        var);
    const char *tables[65] = {NULL};
    if (c->cfg.cdc_tables.n > 64)
        return cli_fail("cdc", EXIT_FAIL, "cdc.tables: at most 64 tables");
    for (int i = 0; i < c->cfg.cdc_tables.n; i++)
        tables[i] = c->cfg.cdc_tables.v[i];
    o.tables = tables;
    o.flush_ms = c->cfg.cdc_flush_ms;
    o.status_ms = c->cfg.cdc_status_interval_s * 1000;
    o.lag_interval_ms = c->cfg.cdc_lag_interval_s * 1000;
    o.reconnect_ms = c->cfg.cdc_reconnect_timeout_s * 1000;
    o.group_bytes = (size_t)c->cfg.cdc_group_max_mb << 20;
    o.stop = &g_stop;
    if (!proto_given) o.stream = 1;
    o.curate = curate_tick;
    o.curate_ud = c;

    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("cdc", EXIT_FAIL, "%s", d.msg);
    int rc;
    if (strcmp(sub, "setup") == 0) {
        struct mdp_buf rep;
        mdp_buf_init(&rep);
        rc = mdp_cdc_setup(lake, &o, &rep, &d);
        if (rep.data && !mdp_buf_error(&rep)) fputs(rep.data, stdout);
        mdp_buf_cleanup(&rep);
    } else if (strcmp(sub, "lag") == 0) {
        struct mdp_cdc_lag lag;
        rc = mdp_cdc_lag_measure(lake, o.dsn, o.slot, record, &lag, &d);
        if (!rc && c->json)
            printf("{\"slot\":\"%s\",\"lag_bytes\":%lld,\"lag_s\":%.3f,\"active\":%s,"
                   "\"confirmed_lsn\":\"%s\",\"current_lsn\":\"%s\"}\n",
                   o.slot, (long long)lag.lag_bytes, lag.lag_s, lag.active ? "true" : "false",
                   lag.confirmed_lsn, lag.current_lsn);
        else if (!rc)
            printf("slot %s: %lld bytes behind (%.1f s), %s, confirmed %s, server at %s\n", o.slot,
                   (long long)lag.lag_bytes, lag.lag_s, lag.active ? "active" : "inactive",
                   lag.confirmed_lsn, lag.current_lsn);
    } else {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        struct mdp_cdc_stats st;
        struct mdp_run run;
        mdp_run_begin(&run, "cdc.supabase");
        rc = mdp_cdc_run(lake, &o, &st, &d);
        char lsn[18];
        mdp_lsn_format(st.confirmed_lsn, lsn);
        run.in = st.changes;
        run.out = st.changes;
        run.bytes = st.bytes;
        run.duplicates = st.skipped_txns;
        snprintf(run.message, sizeof run.message,
                 "%lld transactions, %lld changes, %lld objects, %lld replayed transactions "
                 "dropped, %lld reconnects, %lld schema changes, %lld streamed transactions "
                 "(%lld aborted), %lld curate runs (%lld failed), protocol %d, confirmed up to "
                 "%s%s%s",
                 (long long)st.txns, (long long)st.changes, (long long)st.objects,
                 (long long)st.skipped_txns, (long long)st.reconnects, (long long)st.drift,
                 (long long)st.streamed_txns, (long long)st.streamed_aborts,
                 (long long)st.curate_runs, (long long)st.curate_failures, st.proto, lsn,
                 rc ? ": " : "", rc ? "failed (the error follows)" : "");
        struct mdp_diag rd = {0};
        mdp_run_end(lake, &run, rc ? "failed" : "ok", &rd);
        if (c->json)
            printf("{\"slot\":\"%s\",\"transactions\":%lld,\"changes\":%lld,\"objects\":%lld,"
                   "\"bytes\":%lld,\"replayed_transactions\":%lld,\"reconnects\":%lld,"
                   "\"schema_changes\":%lld,\"warnings\":%lld,\"streamed_transactions\":%lld,"
                   "\"streamed_aborts\":%lld,\"curate_runs\":%lld,\"curate_failures\":%lld,"
                   "\"protocol\":%d,\"confirmed_lsn\":\"%s\"}\n",
                   o.slot, (long long)st.txns, (long long)st.changes, (long long)st.objects,
                   (long long)st.bytes, (long long)st.skipped_txns, (long long)st.reconnects,
                   (long long)st.drift, (long long)st.warnings, (long long)st.streamed_txns,
                   (long long)st.streamed_aborts, (long long)st.curate_runs,
                   (long long)st.curate_failures, st.proto, lsn);
        else
            printf("cdc %s: %s\n", o.slot, run.message);
    }
    mdp_lake_close(lake);
    if (rc) return cli_fail("cdc", EXIT_FAIL, "%s", d.msg[0] ? d.msg : mdp_strerror(rc));
    return EXIT_OK;
}

const struct cli_command CMD_CDC = {
    "cdc", "change data capture from Supabase (logical replication): setup, run, lag", HELP,
    cdc_run, 1};
