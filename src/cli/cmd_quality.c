/* `mdp freshness` (the sources' age against their SLAs) and `mdp alarms eval|list|history` (the
 * CloudWatch-style alarms); the work is in src/dq/ (include/mdp/quality.h). */
#include "cli.h"
#include "mdp/alloc.h"
#include "mdp/cost.h"
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
    int never = 0, late = 0;
    int rc = mdp_freshness_compute(lake, &c->cfg, now, &f, &d);
    mdp_lake_close(lake);
    if (rc) {
        mdp_freshness_cleanup(&f);
        return cli_fail("freshness", EXIT_FAIL, "%s", d.msg);
    }
    if (c->json) {
        struct mdp_buf b;
        mdp_buf_init(&b);
        if (mdp_freshness_to_json(&f, &b)) {
            mdp_buf_cleanup(&b);
            mdp_freshness_cleanup(&f);
            return cli_fail("freshness", EXIT_FAIL, "out of memory");
        }
        printf("%s\n", b.data);
        mdp_buf_cleanup(&b);
    } else {
        printf("%-10s %-6s %-9s %-7s %-25s %-25s %s\n", "source", "state", "age", "sla",
               "newest event", "newest landing", "30d SLA met");
    }
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

/* ---- alarms ---- */

struct eval_out {
    int json, n, in_alarm;
};

static void print_result(const struct mdp_alarm_result *r, void *ud)
{
    struct eval_out *o = ud;
    o->in_alarm += r->to == MDP_ALARM_ALARM;
    if (o->json) {
        struct mdp_buf b;
        mdp_buf_init(&b);
        mdp_buf_printf(&b, "%s{\"name\":", o->n ? "," : "");
        mdp_buf_json_str(&b, r->alarm->name);
        mdp_buf_printf(&b,
                       ",\"from\":\"%s\",\"to\":\"%s\",\"changed\":%s,\"actions_failed\":%d,"
                       "\"reason\":",
                       mdp_alarm_state_name(r->from), mdp_alarm_state_name(r->to),
                       r->changed ? "true" : "false", r->actions_failed);
        mdp_buf_json_str(&b, r->reason);
        if (!mdp_buf_putc(&b, '}')) fputs(b.data, stdout);
        mdp_buf_cleanup(&b);
    } else {
        if (r->to != r->from)
            printf("%-28s %-17s (was %s)\n", r->alarm->name, mdp_alarm_state_name(r->to),
                   mdp_alarm_state_name(r->from));
        else
            printf("%-28s %s\n", r->alarm->name, mdp_alarm_state_name(r->to));
        printf("    %s%s\n", r->reason,
               r->actions_failed ? " [an action failed: see mdp alarms history]" : "");
    }
    o->n++;
}

static int print_change(const struct mdp_alarm_change *ch, void *ud)
{
    struct eval_out *o = ud;
    char t[32];
    mdp_time_format_ms(ch->time_ms, t, sizeof t);
    if (o->json) {
        struct mdp_buf b;
        mdp_buf_init(&b);
        mdp_buf_printf(&b, "%s{\"time\":\"%s\",\"alarm\":", o->n ? "," : "", t);
        mdp_buf_json_str(&b, ch->alarm);
        mdp_buf_puts(&b, ",\"from\":");
        mdp_buf_json_str(&b, ch->from);
        mdp_buf_puts(&b, ",\"to\":");
        mdp_buf_json_str(&b, ch->to);
        mdp_buf_puts(&b, ",\"reason\":");
        mdp_buf_json_str(&b, ch->reason);
        mdp_buf_printf(&b, ",\"actions\":%s}", ch->actions_json);
        if (!mdp_buf_error(&b)) fputs(b.data, stdout);
        mdp_buf_cleanup(&b);
    } else {
        printf("%s  %-28s %s -> %s  %s  actions: %s\n", t, ch->alarm, ch->from, ch->to, ch->reason,
               ch->actions_json);
    }
    o->n++;
    return 0;
}

static int alarms_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2) return cli_usage("alarms", "expects: mdp alarms eval|list|history|check");
    const char *sub = argv[1];
    if (strcmp(sub, "eval") && strcmp(sub, "list") && strcmp(sub, "history") &&
        strcmp(sub, "check"))
        return cli_usage("alarms", "unknown subcommand '%s' (eval, list, history, check)", sub);
    if (cli_config(c)) return EXIT_FAIL;
    int64_t now = mdp_time_now_ms();
    int no_actions = 0;
    const char *only = NULL, *file = NULL;
    for (int i = 2; i < argc; i++) {
        int handled = 0;
        int rc = cli_lake_option("alarms", c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (handled) continue;
        if ((rc = now_option("alarms", argc, argv, &i, &now, &handled))) return rc;
        if (handled) continue;
        const char *v;
        int m;
        if (strcmp(argv[i], "--no-actions") == 0) {
            no_actions = 1;
        } else if ((m = cli_opt(argc, argv, &i, "--alarm", &v)) != 0) {
            if (m < 0) return cli_usage("alarms", "--alarm needs a name");
            only = v;
        } else if ((m = cli_opt(argc, argv, &i, "--file", &v)) != 0) {
            if (m < 0) return cli_usage("alarms", "--file needs a path");
            file = v;
        } else {
            return cli_usage("alarms", "unexpected argument '%s'", argv[i]);
        }
    }
    struct mdp_diag d = {0};
    struct mdp_alarm_set set;
    memset(&set, 0, sizeof set);
    size_t all_n = 0;
    if (strcmp(sub, "history") != 0) {
        if (mdp_alarms_load(file ? file : mdp_alarms_file(&c->cfg), &set, &d))
            return cli_fail("alarms", EXIT_FAIL, "%s", d.msg);
        if (only) { /* keep just that one */
            size_t k = 0;
            for (; k < set.n && strcmp(set.v[k].name, only) != 0; k++) {
            }
            if (k == set.n) {
                mdp_alarm_set_cleanup(&set);
                return cli_fail("alarms", EXIT_FAIL, "no alarm '%s' in the alarms file", only);
            }
            if (k) {
                struct mdp_alarm t = set.v[0];
                set.v[0] = set.v[k];
                set.v[k] = t;
            }
            all_n = set.n;
            set.n = 1; /* restored before the cleanup */
        }
    }
    if (all_n) set.n = all_n; /* set.v[0] is the one asked for */
    size_t eval_n = only && strcmp(sub, "history") ? 1 : set.n;
    if (strcmp(sub, "check") == 0) {
        printf("%zu alarms defined, all valid\n", set.n);
        mdp_alarm_set_cleanup(&set);
        return EXIT_OK;
    }
    struct mdp_lake *lake = NULL;
    if (open_lake("alarms", c, &lake)) {
        mdp_alarm_set_cleanup(&set);
        return EXIT_FAIL;
    }
    struct eval_out o = {c->json, 0, 0};
    int rc = 0;
    if (strcmp(sub, "eval") == 0) {
        if (c->json) fputs("{\"alarms\":[", stdout);
        struct mdp_alarm_set some = {set.v, eval_n};
        struct mdp_cost_source cs = {lake, &c->cfg}; /* the cost.* metrics */
        mdp_metric_source_set(mdp_cost_metric, &cs);
        rc = mdp_alarms_eval(lake, &c->cfg, &some, now, !no_actions, print_result, &o, &d);
        mdp_metric_source_set(NULL, NULL);
        if (c->json) fputs("]}\n", stdout);
    } else if (strcmp(sub, "history") == 0) {
        if (c->json) fputs("{\"history\":[", stdout);
        rc = mdp_alarm_history(lake, only, now, print_change, &o, &d);
        if (c->json) fputs("]}\n", stdout);
        if (!rc && !c->json && o.n == 0) printf("no change of state recorded\n");
    } else { /* list */
        struct mdp_buf b;
        mdp_buf_init(&b);
        if (file) { /* the states of the alarms of that file */
            char *copy = mdp_strdup(file);
            if (copy) {
                free(c->cfg.alarms_file);
                c->cfg.alarms_file = copy;
            }
        }
        rc = mdp_alarms_json(lake, &c->cfg, now * 1000, &b, &d);
        if (!rc && c->json) printf("%s\n", b.data);
        mdp_buf_cleanup(&b);
        if (!rc && !c->json)
            for (size_t i = 0; i < eval_n; i++) {
                const struct mdp_alarm *a = &set.v[i];
                printf(
                    "%-28s %-28s %s %s %g, %d of %d x %llds, missing: %s\n", a->name, a->metric,
                    (const char *[]){"Average", "Sum", "Minimum", "Maximum",
                                     "SampleCount"}[a->statistic],
                    (const char *[]){">=", ">", "<", "<="}[a->cmp], a->threshold,
                    a->datapoints_to_alarm, a->evaluation_periods, (long long)a->period_s,
                    (const char *[]){"missing", "ignore", "breaching", "notBreaching"}[a->missing]);
            }
        if (!rc && !c->json) printf("(states and histories: mdp alarms list --json)\n");
    }
    mdp_lake_close(lake);
    mdp_alarm_set_cleanup(&set);
    if (rc) return cli_fail("alarms", EXIT_FAIL, "%s", d.msg);
    return EXIT_OK;
}

const struct cli_command CMD_ALARMS = {
    "alarms", "CloudWatch-style alarms over the lake's metrics: eval, list, history, check",
    "Usage: mdp alarms eval [--now T] [--alarm NAME] [--no-actions] [--file F] [--dir LAKE]\n"
    "       mdp alarms list [--now T] [--file F] [--json]\n"
    "       mdp alarms history [--alarm NAME] [--now T] [--json]\n"
    "       mdp alarms check [--file F]\n"
    "\n"
    "The alarms are defined in alarms.file (default: config/alarms.yaml of the source tree), "
    "with\n"
    "CloudWatch's semantics: metric, statistic, period, threshold and comparison_operator, M of "
    "N\n"
    "datapoints (datapoints_to_alarm of evaluation_periods), treat_missing_data. An alarm starts "
    "in\n"
    "INSUFFICIENT_DATA. eval decides every alarm as of now (or --now T, ISO-8601), stores its "
    "state\n"
    "in the lake (_meta/alarms/state/) and, on a change of state only, runs its actions (a "
    "command\n"
    "or a webhook POST, bounded in time, retried; --no-actions skips them) and records the "
    "change\n"
    "with the actions' outcome (_meta/alarms/history/). list prints the definitions (--json: "
    "states\n"
    "and histories); history prints the recorded changes; check validates the file (a bad key "
    "or\n"
    "value is named with file, line and column). docs/quality.md lists the metrics.\n",
    alarms_run, 0};

/* ---- the demo's summary ---- */

void cli_quality_summary(struct cli *c, struct mdp_lake *lake)
{
    int64_t now = mdp_time_now_ms();
    struct mdp_diag d = {0};
    struct mdp_freshness f;
    if (mdp_freshness_compute(lake, &c->cfg, now, &f, &d) == 0) {
        printf("\nfreshness (mdp freshness):");
        for (size_t i = 0; i < f.n; i++) {
            char age[32];
            fmt_age(f.v[i].age_ms, age, sizeof age);
            printf(" %s %s%s%s", f.v[i].source,
                   f.v[i].state == MDP_FRESH_OK     ? "OK"
                   : f.v[i].state == MDP_FRESH_LATE ? "LATE"
                                                    : "NEVER",
                   f.v[i].age_ms >= 0 ? " " : "", f.v[i].age_ms >= 0 ? age : "");
            if (i + 1 < f.n) putchar(',');
        }
        printf("\n");
    } else {
        printf("\nfreshness: %s\n", d.msg);
    }
    mdp_freshness_cleanup(&f);
    struct mdp_alarm_set set;
    if (mdp_alarms_load(mdp_alarms_file(&c->cfg), &set, &d)) {
        printf("alarms: %s\n", d.msg);
        return;
    }
    struct mdp_cost_source cs = {lake, &c->cfg};
    mdp_metric_source_set(mdp_cost_metric, &cs);
    struct eval_out o = {0, 0, 0};
    printf("alarms (mdp alarms eval):\n");
    if (mdp_alarms_eval(lake, &c->cfg, &set, now, 1, print_result, &o, &d))
        printf("alarms: %s\n", d.msg);
    mdp_metric_source_set(NULL, NULL);
    mdp_alarm_set_cleanup(&set);
}
