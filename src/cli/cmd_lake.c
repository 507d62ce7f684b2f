/* Lake commands: `mdp init`, `mdp seed`, `mdp run`, `mdp demo` and `mdp runs`. */
#include "cli.h"
#include "mdp/alloc.h"
#include "mdp/buf.h"
#include "mdp/lake.h"
#include "mdp/lease.h"
#include "mdp/log.h"
#include "mdp/pipeline.h"
#include "mdp/seed.h"
#include "mdp/time.h"

#include <stdlib.h>
#include <string.h>

static int set_str(char **slot, const char *v)
{
    char *s = mdp_strdup(v);
    if (!s) return cli_fail(NULL, -1, "out of memory copying '%s'", v);
    free(*slot);
    *slot = s;
    return 0;
}

static int open_lake(const char *cmd, struct cli *c, int create, struct mdp_lake **out)
{
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, create, out, &d))
        return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    return 0;
}

/* ---- init ---- */

static int init_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int m = cli_opt(argc, argv, &i, "--dir", &v);
        if (m < 0) return cli_usage("init", "--dir needs a folder");
        if (m == 0) return cli_usage("init", "unexpected argument '%s'", argv[i]);
        if (set_str(&c->cfg.lake_dir, v)) return EXIT_FAIL;
    }
    struct mdp_lake *lake;
    if (open_lake("init", c, 1, &lake)) return EXIT_FAIL;
    if (c->json)
        printf("{\"lake\":\"%s\"}\n", c->cfg.lake_dir);
    else
        printf("lake ready at %s\n", c->cfg.lake_dir);
    mdp_lake_close(lake);
    return EXIT_OK;
}

const struct cli_command CMD_INIT = {
    "init", "create a lake",
    "Usage: mdp init [--dir FOLDER]\n"
    "\n"
    "Creates the lake at FOLDER (default: lake.dir, ./mdp-lake): the folder and _meta/lake.json,\n"
    "which marks it as a lake. The zones raw/, curated/, ml/ fill as stages write (an object "
    "store\n"
    "has no empty folders). Safe to run on an existing lake.\n",
    init_run, 0};

/* ---- seed ---- */

struct seed_args {
    const char *out;
};

/* Applies seed options from argv onto the configuration. Returns 0, or an exit code. */
static int seed_options(const char *cmd, struct cli *c, int argc, char **argv, int i0,
                        struct seed_args *sa, int allow_dir)
{
    for (int i = i0; i < argc; i++) {
        const char *v;
        long n;
        int m;
        if ((m = cli_opt(argc, argv, &i, "--users", &v))) {
            if (m < 0 || cli_parse_long(v, 1, 10000000, &n))
                return cli_usage(cmd, "--users needs a number from 1 to 10000000");
            c->cfg.seed_users = n;
        } else if ((m = cli_opt(argc, argv, &i, "--days", &v))) {
            if (m < 0 || cli_parse_long(v, 1, 3660, &n))
                return cli_usage(cmd, "--days needs a number from 1 to 3660");
            c->cfg.seed_days = n;
        } else if ((m = cli_opt(argc, argv, &i, "--seed", &v))) {
            if (m < 0 || cli_parse_long(v, 0, 9007199254740991L, &n))
                return cli_usage(cmd, "--seed needs a whole number >= 0");
            c->cfg.seed_seed = n;
        } else if ((m = cli_opt(argc, argv, &i, "--bad-rate", &v))) {
            char *end;
            double r = m < 0 ? -1 : strtod(v, &end);
            if (m < 0 || *end || r < 0 || r > 0.5)
                return cli_usage(cmd, "--bad-rate needs a share from 0 to 0.5 (e.g. 0.02)");
            c->cfg.seed_bad_rate = r;
        } else if ((m = cli_opt(argc, argv, &i, "--start", &v))) {
            int64_t day;
            if (m < 0 || strlen(v) != 10 || mdp_date_parse(v, &day))
                return cli_usage(cmd, "--start needs a date YYYY-MM-DD");
            if (set_str(&c->cfg.seed_start_date, v)) return EXIT_FAIL;
        } else if (sa && (m = cli_opt(argc, argv, &i, "--out", &v))) {
            if (m < 0) return cli_usage(cmd, "--out needs a folder");
            sa->out = v;
        } else if (allow_dir && (m = cli_opt(argc, argv, &i, "--dir", &v))) {
            if (m < 0) return cli_usage(cmd, "--dir needs a folder");
            if (set_str(&c->cfg.lake_dir, v)) return EXIT_FAIL;
        } else {
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        }
    }
    return 0;
}

static int do_seed(const char *cmd, struct cli *c, const char *out, struct mdp_seed_stats *st)
{
    struct mdp_seed_opts o;
    memset(&o, 0, sizeof o);
    o.users = c->cfg.seed_users;
    o.days = c->cfg.seed_days;
    o.seed = (uint64_t)c->cfg.seed_seed;
    o.bad_rate = c->cfg.seed_bad_rate;
    mdp_date_parse(c->cfg.seed_start_date, &o.start_day);
    o.ga4_property_id = c->cfg.ga4_property_id;
    o.ga4_time_zone = c->cfg.ga4_time_zone;
    struct mdp_diag d = {0};
    struct mdp_store *store = NULL;
    if (mdp_store_open(out, 1, &store, &d)) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    int rc = mdp_seed_generate(&o, store, st, &d);
    mdp_store_close(store);
    if (rc) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    return 0;
}

static void print_seed_stats(FILE *f, const struct mdp_seed_stats *s, int json)
{
    if (json) {
        fprintf(
            f,
            "{\"files\":%lld,\"bytes\":%lld,\"users\":%lld,\"accounts\":%lld,\"locations\":%lld,"
            "\"events\":%lld,\"ses_messages\":%lld,\"ddb_records\":%lld,\"csv_rows\":%lld,"
            "\"ga4_rows\":%lld,\"gbp_locations\":%lld,\"meta_objects\":%lld,\"bad\":{"
            "\"truncated\":%lld,\"missing_id\":%lld,\"unknown_enum\":%lld,\"duplicate\":%lld,"
            "\"bad_timestamp\":%lld}}",
            (long long)s->files, (long long)s->bytes, (long long)s->users, (long long)s->accounts,
            (long long)s->locations, (long long)s->events, (long long)s->ses_messages,
            (long long)s->ddb_records, (long long)s->csv_rows, (long long)s->ga4_rows,
            (long long)s->gbp_locations, (long long)s->meta_objects, (long long)s->bad_truncated,
            (long long)s->bad_missing_id, (long long)s->bad_unknown_enum,
            (long long)s->bad_duplicate, (long long)s->bad_bad_timestamp);
        return;
    }
    fprintf(f,
            "seeded %lld users, %lld accounts, %lld locations: %lld files, %.1f MiB\n"
            "  app events %lld, Supabase rows %lld, SES messages %lld, DynamoDB records %lld,\n"
            "  GA4 rows %lld, GBP locations %lld, Meta objects %lld\n"
            "  bad records mixed in: %lld truncated, %lld missing id, %lld unknown enum value,\n"
            "  %lld duplicate deliveries, %lld bad timestamp\n",
            (long long)s->users, (long long)s->accounts, (long long)s->locations,
            (long long)s->files, (double)s->bytes / 1048576.0, (long long)s->events,
            (long long)s->csv_rows, (long long)s->ses_messages, (long long)s->ddb_records,
            (long long)s->ga4_rows, (long long)s->gbp_locations, (long long)s->meta_objects,
            (long long)s->bad_truncated, (long long)s->bad_missing_id,
            (long long)s->bad_unknown_enum, (long long)s->bad_duplicate,
            (long long)s->bad_bad_timestamp);
}

static int seed_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    struct seed_args sa = {NULL};
    int rc = seed_options("seed", c, argc, argv, 1, &sa, 0);
    if (rc) return rc;
    char *landing = sa.out ? mdp_strdup(sa.out) : mdp_config_landing_dir(&c->cfg);
    if (!landing) return cli_fail("seed", EXIT_FAIL, "out of memory");
    struct mdp_seed_stats st;
    rc = do_seed("seed", c, landing, &st);
    if (!rc) {
        if (!c->json) printf("landing folder: %s\n", landing);
        print_seed_stats(stdout, &st, c->json);
        if (c->json) fputc('\n', stdout);
    }
    free(landing);
    return rc;
}

const struct cli_command CMD_SEED = {
    "seed", "generate realistic source data in the sources' own formats",
    "Usage: mdp seed [--users N] [--days D] [--seed S] [--bad-rate R] [--start YYYY-MM-DD]\n"
    "                [--out FOLDER]\n"
    "\n"
    "Writes what matbakh.app's sources would deliver over D days for N users into the landing\n"
    "folder (default lake.landing_dir): Supabase CSV exports, app events (NDJSON), SES feedback\n"
    "in SNS envelopes in Lambda SQS events, DynamoDB change records in Firehose objects, GA4\n"
    "runReport responses, Business Profile locations and Facebook/Instagram Graph objects.\n"
    "docs/seed.md lists every file and its format. The same options give the same bytes.\n"
    "\n"
    "  --users N       users (default seed.users, 1000)\n"
    "  --days D        days of activity (default seed.days, 30)\n"
    "  --seed S        PRNG seed (default seed.seed, 42)\n"
    "  --bad-rate R    share of bad records: truncated JSON, missing ids, unknown enum values,\n"
    "                  duplicate deliveries, bad timestamps (default seed.bad_rate, 0.01)\n"
    "  --start DATE    first day, UTC (default seed.start_date)\n"
    "  --out FOLDER    where to write (default lake.landing_dir)\n",
    seed_run, 0};

/* ---- run ---- */

void cli_print_runs(FILE *f, const struct mdp_run *runs, int n, int json)
{
    if (json) {
        struct mdp_buf b;
        mdp_buf_init(&b);
        mdp_buf_putc(&b, '[');
        for (int i = 0; i < n; i++) {
            const struct mdp_run *r = &runs[i];
            char newest[32] = "";
            if (r->newest_event_ms >= 0)
                mdp_time_format_ms(r->newest_event_ms, newest, sizeof newest);
            mdp_buf_printf(&b,
                           "%s{\"job\":\"%s\",\"run_id\":\"%s\",\"status\":\"%s\",\"in\":%lld,"
                           "\"out\":%lld,\"quarantined\":%lld,\"duplicates\":%lld,"
                           "\"suppressed\":%lld,\"bytes\":%lld,\"ms\":%lld,\"newest_event\":",
                           i ? "," : "", r->job, r->run_id, r->status, (long long)r->in,
                           (long long)r->out, (long long)r->quarantined, (long long)r->duplicates,
                           (long long)r->suppressed, (long long)r->bytes,
                           (long long)(r->end_ms - r->start_ms));
            if (newest[0])
                mdp_buf_json_str(&b, newest);
            else
                mdp_buf_puts(&b, "null");
            mdp_buf_puts(&b, ",\"message\":");
            mdp_buf_json_str(&b, r->message);
            mdp_buf_printf(&b, ",\"requests\":{\"put\":%lld,\"get\":%lld,\"list\":%lld}}",
                           (long long)r->puts, (long long)r->gets, (long long)r->lists);
        }
        mdp_buf_putc(&b, ']');
        if (mdp_buf_error(&b)) /* nothing rather than a cut-off JSON array */
            fprintf(stderr, "mdp: out of memory printing the runs as JSON\n");
        else
            fwrite(b.data, 1, b.len, f);
        mdp_buf_cleanup(&b);
        return;
    }
    int w = 16;
    for (int i = 0; i < n; i++)
        if ((int)strlen(runs[i].job) > w) w = (int)strlen(runs[i].job);
    fprintf(f, "%-*s %-7s %9s %9s %11s %10s %10s %8s\n", w, "stage", "status", "in", "out",
            "quarantined", "duplicates", "bytes", "time");
    for (int i = 0; i < n; i++) {
        const struct mdp_run *r = &runs[i];
        fprintf(f, "%-*s %-7s %9lld %9lld %11lld %10lld %10lld %6.2f s\n", w, r->job, r->status,
                (long long)r->in, (long long)r->out, (long long)r->quarantined,
                (long long)r->duplicates, (long long)r->bytes,
                (double)(r->end_ms - r->start_ms) / 1000.0);
    }
}

static int pipeline(const char *cmd, struct cli *c, struct mdp_lake *lake, int64_t day,
                    struct cli_runs *sum)
{
    struct mdp_lease *lease;
    int rc = cli_lease_take(cmd, c, lake, &lease);
    if (rc) return rc;
    struct mdp_stage_ctx ctx = {&c->cfg, lake, day, cli_keep_run, sum, 0};
    struct mdp_diag d = {0};
    if (mdp_pipeline_run(&ctx, &d)) rc = cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    return cli_lease_release(cmd, lease, rc);
}

static int run_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    int64_t day = -1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int m;
        if (strcmp(argv[i], "--list") == 0) {
            const struct mdp_stage *const *all = mdp_stage_all();
            for (int k = 0; all[k]; k++)
                printf("%-10s %s\n", all[k]->name, all[k]->summary);
            return EXIT_OK;
        } else if ((m = cli_opt(argc, argv, &i, "--date", &v))) {
            if (m < 0 || strlen(v) != 10 || mdp_date_parse(v, &day))
                return cli_usage("run", "--date needs a date YYYY-MM-DD");
        } else if ((m = cli_opt(argc, argv, &i, "--stages", &v))) {
            if (m < 0 || !*v) return cli_usage("run", "--stages needs a comma-separated list");
            if (mdp_strlist_set(&c->cfg.pipeline_stages, v))
                return cli_usage("run", "--stages: too many stages");
        } else if ((m = cli_opt(argc, argv, &i, "--dir", &v))) {
            if (m < 0) return cli_usage("run", "--dir needs a folder");
            if (set_str(&c->cfg.lake_dir, v)) return EXIT_FAIL;
        } else {
            return cli_usage("run", "unexpected argument '%s'", argv[i]);
        }
    }
    for (int i = 0; i < c->cfg.pipeline_stages.n; i++)
        if (!mdp_stage_find(c->cfg.pipeline_stages.v[i]))
            return cli_usage("run", "unknown stage '%s' (see mdp run --list)",
                             c->cfg.pipeline_stages.v[i]);
    struct mdp_lake *lake;
    if (open_lake("run", c, 0, &lake)) return EXIT_FAIL;
    struct cli_runs runs = {0}, *sum = &runs;
    int rc = pipeline("run", c, lake, day, sum);
    {
        cli_print_runs(stdout, sum->v, sum->n, c->json);
        if (c->json) fputc('\n', stdout);
    }
    cli_runs_free(sum);
    mdp_lake_close(lake);
    return rc;
}

const struct cli_command CMD_RUN = {
    "run", "run the pipeline's stages in order",
    "Usage: mdp run [--date YYYY-MM-DD] [--stages a,b,...] [--dir LAKE] [--list]\n"
    "\n"
    "Runs the stages of pipeline.stages (or --stages) in order on the lake, records every stage "
    "in\n"
    "the run log (_meta/runs/) and stops at the first failure, exiting 1 with its message.\n"
    "--date limits the work to one day's deliveries. --list names the known stages.\n"
    "Output: one line per stage and source with what went in, what came out, what was\n"
    "quarantined, what had already landed, bytes and time (--json: an array).\n",
    run_run, 0};

/* ---- demo ---- */

static int demo_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    int rc = seed_options("demo", c, argc, argv, 1, NULL, 1);
    if (rc) return rc;
    int64_t t0 = mdp_time_now_ms();
    struct mdp_lake *lake;
    if (open_lake("demo", c, 1, &lake)) return EXIT_FAIL;
    char *landing = mdp_config_landing_dir(&c->cfg);
    struct mdp_seed_stats st;
    rc = landing ? do_seed("demo", c, landing, &st) : EXIT_FAIL;
    int64_t t1 = mdp_time_now_ms();
    struct cli_runs runs = {0}, *sum = &runs;
    if (!rc) rc = pipeline("demo", c, lake, -1, sum);
    if (rc == 0 || sum->n) {
        if (c->json) {
            printf("{\"lake\":\"%s\",\"landing\":\"%s\",\"seed\":", c->cfg.lake_dir, landing);
            print_seed_stats(stdout, &st, 1);
            printf(",\"stages\":");
            cli_print_runs(stdout, sum->v, sum->n, 1);
            printf(",\"seconds\":%.2f}\n", (double)(mdp_time_now_ms() - t0) / 1000.0);
        } else {
            printf("matbakh-dp demo: lake %s\n\n", c->cfg.lake_dir);
            print_seed_stats(stdout, &st, 0);
            printf("  (%.2f s, into %s)\n\n", (double)(t1 - t0) / 1000.0, landing);
            cli_print_runs(stdout, sum->v, sum->n, 0);
            /* the consent gate's effect (rows withheld for lack of analytics consent) */
            for (int i = 0; i < sum->n; i++)
                if (strstr(sum->v[i].message, "withheld"))
                    printf("%s: %s\n", sum->v[i].job, sum->v[i].message);
            printf("\ntotal %.2f s. Quarantined records: %s/raw/_quarantine/; run log: "
                   "%s/_meta/runs/ (mdp runs).\n",
                   (double)(mdp_time_now_ms() - t0) / 1000.0, c->cfg.lake_dir, c->cfg.lake_dir);
            cli_quality_summary(c, lake);
        }
    }
    cli_runs_free(sum);
    free(landing);
    mdp_lake_close(lake);
    return rc;
}

const struct cli_command CMD_DEMO = {
    "demo", "create a lake, seed it, run the pipeline, print a summary",
    "Usage: mdp demo [--dir LAKE] [--users N] [--days D] [--seed S] [--bad-rate R]\n"
    "                [--start YYYY-MM-DD]\n"
    "\n"
    "The platform's main job on the embedded default, end to end: creates the lake (default\n"
    "./mdp-lake), seeds its landing folder (default 1000 users, 30 days), runs `mdp run` and\n"
    "prints per stage what went in, came out, was quarantined, and the time, then the sources'\n"
    "freshness and the alarms' states (config/alarms.yaml, evaluated now). Running it again\n"
    "gives the same lake content: the same seed makes the same bytes, and the raw zone is\n"
    "content-addressed, so nothing lands twice.\n",
    demo_run, 0};

/* ---- runs ---- */

struct runs_ud {
    struct mdp_run *v;
    int n, cap;
};

static int keep_run(const struct mdp_run *r, void *ud)
{
    struct runs_ud *u = ud;
    if (u->n == u->cap) {
        int cap = u->cap ? u->cap * 2 : 64;
        struct mdp_run *nv = mdp_realloc(u->v, (size_t)cap * sizeof *nv);
        if (!nv) return MDP_ERR_NOMEM;
        u->v = nv;
        u->cap = cap;
    }
    u->v[u->n++] = *r;
    return 0;
}

static int runs_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    long last = 20;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int m;
        if ((m = cli_opt(argc, argv, &i, "--last", &v))) {
            if (m < 0 || cli_parse_long(v, 1, 1000000, &last))
                return cli_usage("runs", "--last needs a number");
        } else if ((m = cli_opt(argc, argv, &i, "--dir", &v))) {
            if (m < 0) return cli_usage("runs", "--dir needs a folder");
            if (set_str(&c->cfg.lake_dir, v)) return EXIT_FAIL;
        } else {
            return cli_usage("runs", "unexpected argument '%s'", argv[i]);
        }
    }
    struct mdp_lake *lake;
    if (open_lake("runs", c, 0, &lake)) return EXIT_FAIL;
    struct runs_ud u = {0};
    struct mdp_diag d = {0};
    int rc = mdp_runlog_each(lake, keep_run, &u, &d);
    mdp_lake_close(lake);
    if (rc) {
        free(u.v);
        return cli_fail("runs", EXIT_FAIL, "%s", d.msg[0] ? d.msg : mdp_strerror(rc));
    }
    int from = u.n > last ? u.n - (int)last : 0;
    cli_print_runs(stdout, u.v + from, u.n - from, c->json);
    if (c->json) fputc('\n', stdout);
    free(u.v);
    return EXIT_OK;
}

const struct cli_command CMD_RUNS = {
    "runs", "show the run log",
    "Usage: mdp runs [--last N] [--dir LAKE]\n"
    "\n"
    "Prints the last N (default 20) records of the run log (_meta/runs/), oldest first: job,\n"
    "status, counts in/out/quarantined/duplicates, bytes and duration (--json: an array).\n",
    runs_run, 0};

/* ---- lake vacuum ---- */

static const char LAKE_HELP[] =
    "Usage: mdp lake vacuum [--dry-run] [--grace HOURS] [--dir LAKE]\n"
    "       mdp lake lease [--break] [--dir LAKE] [--json]\n"
    "\n"
    "vacuum  cleans the lake (docs/lake.md):\n"
    "        - removes leftovers of unfinished writes (in _tmp/, and .tmp-* files older versions\n"
    "          left inside data folders) older than the grace period;\n"
    "        - removes manifest versions that are not CURRENT and were neither published nor\n"
    "          superseded within the grace period, then the run folders (run-<run_id>/ under\n"
    "          curated/, ml/, serving/, _meta/tables/) that no remaining version names and\n"
    "          whose run and files are older than the grace period; CURRENT's are never touched;\n"
    "        - compacts the small NDJSON objects of the collector (raw/events/app_events), of\n"
    "          raw/ses/http and of the decision logs (raw/serve/decisions) of every closed day\n"
    "          (before today UTC) into one object per day, every line kept byte for byte;\n"
    "          curate's incremental runs keep counting every line once.\n"
    "        Prints every action (--json: one object), and writes a run-log record (job vacuum).\n"
    "        Safe to re-run after a crash; a re-run finishes an interrupted compaction.\n"
    "\n"
    "  --dry-run      list what would be done and change nothing (no run-log record either)\n"
    "  --grace HOURS  nothing younger is removed (default 24; 0 removes everything unnamed)\n"
    "\n"
    "lease   says who holds the lake's lease (one writing job at a time: ingest, curate, run,\n"
    "        segments, features, dq run, retention apply, dsar erase, lake vacuum), since when "
    "and\n"
    "        until when it was last renewed, or who held it last; changes nothing. Exit 0 either\n"
    "        way. docs/lake.md, \"One writer at a time\".\n"
    "  --break  removes the lease, whoever holds it: for a job known to be gone (one of another\n"
    "           host, before its lease lapses) or an item that is not a lease's; prints what it\n"
    "           removed. A live holder takes it again at its next renewal, or finds it lost.\n";

struct vac_print {
    int json, dry, n;
};

static int vac_print(const struct mdp_vacuum_action *a, void *ud)
{
    struct vac_print *p = ud;
    static const char *const NAMES[] = {"", "tmp", "manifest", "run_folder", "compact", "resume"};
    const char *what = NAMES[a->what];
    if (p->json) {
        struct mdp_buf b;
        mdp_buf_init(&b);
        mdp_buf_printf(&b, "%s{\"what\":\"%s\",\"key\":", p->n ? "," : "", what);
        mdp_buf_json_str(&b, a->key);
        if (a->object) {
            mdp_buf_puts(&b, ",\"object\":");
            mdp_buf_json_str(&b, a->object);
        }
        mdp_buf_printf(&b, ",\"objects\":%lld,\"bytes\":%lld", (long long)a->objects,
                       (long long)a->bytes);
        if (a->what == MDP_VACUUM_COMPACT)
            mdp_buf_printf(&b, ",\"lines\":%lld", (long long)a->lines);
        mdp_buf_putc(&b, '}');
        int rc = mdp_buf_error(&b);
        if (!rc) fputs(b.data, stdout);
        mdp_buf_cleanup(&b);
        if (rc) return rc;
    } else if (a->what == MDP_VACUUM_COMPACT) {
        printf("%scompact     %s: %lld objects -> %s (%lld lines, %lld bytes)\n",
               p->dry ? "would " : "", a->key, (long long)a->objects, a->object,
               (long long)a->lines, (long long)a->bytes);
    } else if (a->what == MDP_VACUUM_RESUME) {
        printf("%sfinish      %s: the parts of %s\n", p->dry ? "would " : "", a->key, a->object);
    } else {
        printf("%sremove      %s (%s, %lld objects, %lld bytes)\n", p->dry ? "would " : "", a->key,
               what, (long long)a->objects, (long long)a->bytes);
    }
    p->n++;
    return 0;
}

/* `mdp lake lease`: who holds the lake's lease */
static int lease_show(struct cli *c, int argc, char **argv)
{
    const char *cmd = "lake lease";
    if (cli_config(c)) return EXIT_FAIL;
    int brk = 0;
    for (int i = 2; i < argc; i++) {
        int handled, rc = cli_lake_option(cmd, c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (!handled && strcmp(argv[i], "--break") == 0)
            brk = 1;
        else if (!handled)
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
    }
    struct mdp_lake *lake;
    if (open_lake(cmd, c, 0, &lake)) return EXIT_FAIL;
    struct mdp_lease_info li;
    struct mdp_diag d = {0};
    int rc = mdp_lease_show(lake, MDP_LEASE_LAKE, &li, &d);
    if (brk) {
        /* what it held, when readable; a broken item is removed all the same */
        if (rc) fprintf(stderr, "mdp %s: the item was not readable: %s\n", cmd, d.msg);
        d = (struct mdp_diag){0};
        rc = mdp_lease_break(lake, MDP_LEASE_LAKE, &d);
        mdp_lake_close(lake);
        if (rc) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
        if (li.held)
            printf("broke the lease held by `%s` (process %ld on %s) since %s\n", li.holder, li.pid,
                   li.host, li.since);
        else
            printf("removed the lease's item; no job held it\n");
        return EXIT_OK;
    }
    mdp_lake_close(lake);
    if (rc) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    char until[40] = "";
    if (li.until) mdp_time_format_ms(li.until * 1000, until, sizeof until);
    if (c->json) {
        struct mdp_buf b;
        mdp_buf_init(&b);
        mdp_buf_printf(&b, "{\"held\":%s,\"taken\":%s,\"holder\":", li.held ? "true" : "false",
                       li.taken ? "true" : "false");
        mdp_buf_json_str(&b, li.holder);
        mdp_buf_puts(&b, ",\"host\":");
        mdp_buf_json_str(&b, li.host);
        mdp_buf_printf(&b, ",\"pid\":%ld,\"since\":", li.pid);
        mdp_buf_json_str(&b, li.since);
        mdp_buf_printf(&b, ",\"until\":\"%s\"}\n", until);
        if (mdp_buf_error(&b)) {
            mdp_buf_cleanup(&b);
            return cli_fail(cmd, EXIT_FAIL, "out of memory");
        }
        fputs(b.data, stdout);
        mdp_buf_cleanup(&b);
    } else if (!li.taken) {
        printf("free: no writing job has taken the lake's lease yet\n");
    } else if (li.held) {
        printf("held by `%s` (process %ld on %s) since %s, renewed until %s\n", li.holder, li.pid,
               li.host, li.since, until);
    } else {
        printf("free: last held by `%s` (process %ld on %s) from %s%s%s\n", li.holder, li.pid,
               li.host, li.since, li.until ? ", lapsed at " : ", released", until);
    }
    return EXIT_OK;
}

static int lake_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(LAKE_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "lease") == 0) return lease_show(c, argc, argv);
    if (strcmp(argv[1], "vacuum") != 0)
        return cli_usage("lake", "unknown subcommand '%s'", argv[1]);
    if (cli_config(c)) return EXIT_FAIL;
    struct mdp_vacuum_opts o = {0, MDP_VACUUM_GRACE_MS, 0};
    for (int i = 2; i < argc; i++) {
        const char *v;
        int m, handled;
        long hours;
        if (strcmp(argv[i], "--dry-run") == 0) {
            o.dry_run = 1;
        } else if ((m = cli_opt(argc, argv, &i, "--grace", &v))) {
            if (m < 0 || cli_parse_long(v, 0, 24L * 365 * 100, &hours))
                return cli_usage("lake vacuum", "--grace needs a number of hours");
            o.grace_ms = (int64_t)hours * 3600 * 1000;
        } else {
            int rc = cli_lake_option("lake vacuum", c, argc, argv, &i, &handled);
            if (rc) return rc;
            if (!handled) return cli_usage("lake vacuum", "unexpected argument '%s'", argv[i]);
        }
    }
    struct mdp_lake *lake;
    if (open_lake("lake vacuum", c, 0, &lake)) return EXIT_FAIL;
    struct mdp_lease *lease = NULL;
    if (!o.dry_run) {
        int lrc = cli_lease_take("lake vacuum", c, lake, &lease);
        if (lrc) {
            mdp_lake_close(lake);
            return lrc;
        }
    }
    struct mdp_run r;
    mdp_run_begin(&r, "vacuum");
    struct vac_print p = {c->json, o.dry_run, 0};
    struct mdp_vacuum_stats st;
    struct mdp_diag d = {0}, nd = {0};
    if (c->json) printf("{\"dry_run\":%s,\"actions\":[", o.dry_run ? "true" : "false");
    int rc = mdp_lake_vacuum(lake, &o, vac_print, &p, &st, &d);
    mdp_vacuum_to_run(&st, &r);
    if (rc) snprintf(r.message, sizeof r.message, "%s", d.msg[0] ? d.msg : mdp_strerror(rc));
    if (!o.dry_run) mdp_run_end(lake, &r, rc ? "failed" : "ok", &nd);
    int lost = cli_lease_release("lake vacuum", lease, 0);
    mdp_lake_close(lake);
    if (c->json)
        printf("],\"tmp_files\":%lld,\"tmp_bytes\":%lld,\"manifests\":%lld,\"run_folders\":%lld,"
               "\"run_objects\":%lld,\"run_bytes\":%lld,\"compacted_days\":%lld,"
               "\"compacted_objects\":%lld,\"compacted_lines\":%lld,\"compacted_bytes\":%lld,"
               "\"resumed\":%lld}\n",
               (long long)st.tmp_files, (long long)st.tmp_bytes, (long long)st.manifests,
               (long long)st.run_folders, (long long)st.run_objects, (long long)st.run_bytes,
               (long long)st.compacted_days, (long long)st.compacted_objects,
               (long long)st.compacted_lines, (long long)st.compacted_bytes, (long long)st.resumed);
    else
        printf("%s%s\n", o.dry_run ? "dry run, nothing changed: would have " : "", r.message);
    if (rc) return cli_fail("lake vacuum", EXIT_FAIL, "%s", d.msg[0] ? d.msg : mdp_strerror(rc));
    return lost;
}

const struct cli_command CMD_LAKE = {"lake", "lake maintenance: vacuum; who holds the lease",
                                     LAKE_HELP, lake_run, 0};
