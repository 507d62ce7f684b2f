/* `mdp freshness` (the sources' age against their SLAs) and `mdp alarms eval|list|history` (the
 * CloudWatch-style alarms); the work is in src/dq/ (include/mdp/quality.h). */
#include "cli.h"
#include "mdp/quality.h"
#include "mdp/time.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int open_lake(const char *cmd, struct cli *c, struct mdp_lake **out)
{
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, out, &d)) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    return 0;
}

/* --now T (ISO-8601 or YYYY-MM-DD) into *now_ms; *handled is 1 when argv[*i] was it. */
static int now_option(const char *cmd, int argc, char **argv, int *i, int64_t *now_ms, int *handled)
{
    const char *v;
    int m = cli_opt(argc, argv, i, "--now", &v);
    *handled = m != 0;
    if (m < 0) return cli_usage(cmd, "--now needs a time (ISO-8601, e.g. 2026-12-04T18:00:00Z)");
    if (m > 0 && mdp_time_parse_iso(v, (size_t)-1, now_ms))
        return cli_usage(cmd, "--now: '%s' is not an ISO-8601 time", v);
    return 0;
}

static void fmt_age(int64_t ms, char *buf, size_t n)
{
    if (ms < 0) {
        snprintf(buf, n, "-");
        return;
    }
    int64_t s = ms / 1000;
    if (s >= 86400)
        snprintf(buf, n, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(buf, n, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(buf, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(buf, n, "%llds", (long long)s);
}

/* ---- freshness ---- */

static int freshness_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    int64_t now = mdp_time_now_ms();
    for (int i = 1; i < argc; i++) {
        int handled = 0;
        int rc = cli_lake_option("freshness", c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (handled) continue;
        if ((rc = now_option("freshness", argc, argv, &i, &now, &handled))) return rc;
        if (!handled) return cli_usage("freshness", "unexpected argument '%s'", argv[i]);
    }
    struct mdp_lake *lake = NULL;
    if (open_lake("freshness", c, &lake)) return EXIT_FAIL;
    struct mdp_diag d = {0};
    struct mdp_freshness f;
    int rc = 0, never = 0, late = 0;
    if (c->json) {
        struct mdp_buf b;
        mdp_buf_init(&b);
        rc = mdp_freshness_json(lake, &c->cfg, now * 1000, &b, &d);
        if (!rc) printf("%s\n", b.data);
        mdp_buf_cleanup(&b);
    }
    if (!rc) rc = mdp_freshness_compute(lake, &c->cfg, now, &f, &d);
    mdp_lake_close(lake);
    if (rc) {
        mdp_freshness_cleanup(&f);
        return cli_fail("freshness", EXIT_FAIL, "%s", d.msg);
    }
    if (!c->json)
        printf("%-10s %-6s %-9s %-7s %-25s %-25s %s\n", "source", "state", "age", "sla",
               "newest event", "newest landing", "30d SLA met");
    for (size_t i = 0; i < f.n; i++) {
        const struct mdp_fresh_source *s = &f.v[i];
        never += s->state == MDP_FRESH_NEVER;
        late += s->state == MDP_FRESH_LATE;
        if (c->json) continue;
        char age[32], sla[32], ev[32] = "-", la[32] = "-";
        fmt_age(s->age_ms, age, sizeof age);
        fmt_age(s->sla_ms, sla, sizeof sla);
        if (s->newest_event_ms >= 0) mdp_time_format_ms(s->newest_event_ms, ev, sizeof ev);
        if (s->newest_landing_ms >= 0) mdp_time_format_ms(s->newest_landing_ms, la, sizeof la);
        printf("%-10s %-6s %-9s %-7s %-25s %-25s %.1f%%\n", s->source,
               s->state == MDP_FRESH_OK     ? "OK"
               : s->state == MDP_FRESH_LATE ? "LATE"
                                            : "NEVER",
               age, sla, ev, la, s->compliance_pct);
    }
    mdp_freshness_cleanup(&f);
    if (never || late)
        return cli_fail("freshness", EXIT_FAIL,
                        "%d source(s) never delivered, %d past their SLA (freshness.slas)", never,
                        late);
    return EXIT_OK;
}

const struct cli_command CMD_FRESHNESS = {
    "freshness", "age of every source against its freshness SLA, and 30-day compliance",
    "Usage: mdp freshness [--now T] [--dir LAKE] [--json]\n"
    "\n"
    "For every source of freshness.slas (SOURCE:DURATION, e.g. ga4:24h), from the run log and "
    "the raw\n"
    "zone: the newest event time and the newest landing, the age (now minus the newest event "
    "time; the\n"
    "landing time when no event time is known), the state (OK within the SLA, LATE past it, "
    "NEVER when\n"
    "the source never delivered) and the SLA compliance of the last 30 UTC days (a day counts "
    "when the\n"
    "age stayed within the SLA all day). --now T evaluates as of T (ISO-8601): nothing landed "
    "later\n"
    "counts. --json prints {\"now\", \"sources\": [...]} with a \"daily\" list per source.\n"
    "Exits 1 when a source is NEVER or LATE (the table is printed first).\n",
    freshness_run, 0};
