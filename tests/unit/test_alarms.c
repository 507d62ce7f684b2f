/* Unit tests of freshness and alarms (include/mdp/quality.h): CloudWatch's M-of-N decision with
 * each treat_missing_data, table-driven from the cases of AWS's documentation on alarms and
 * missing data; the strict alarms file; the periods of the metrics; an evaluation over a lake with
 * an injected clock (state, history, actions only on a change); freshness over a run log with
 * known landings (age, state, daily compliance). */
#include "mdp/alloc.h"
#include "mdp/config.h"
#include "mdp/engine.h"
#include "mdp/lake.h"
#include "mdp/quality.h"
#include "mdp/time.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define I    MDP_ALARM_INSUFFICIENT_DATA
#define O    MDP_ALARM_OK
#define A    MDP_ALARM_ALARM
#define KEEP 9 /* "retain current state" */

/* "0 - X - X": 0 a datapoint within the threshold, X one breaching it, - a missing one */
static size_t datapoints(const char *s, double *dp)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ') continue;
        dp[n++] = *s == '-' ? NAN : *s == 'X' ? 10.0 : 0.0;
    }
    return n;
}

static struct mdp_alarm alarm_of(int n, int m, enum mdp_alarm_missing missing)
{
    struct mdp_alarm a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "t");
    snprintf(a.metric, sizeof a.metric, "runs.failed");
    a.threshold = 5;
    a.cmp = MDP_CMP_GT;
    a.evaluation_periods = n;
    a.datapoints_to_alarm = m;
    a.missing = missing;
    a.period_s = 60;
    return a;
}

/* AWS's table ("Configuring how CloudWatch alarms treat missing data"): an evaluation range of 5
 * datapoints for an alarm of 3 evaluation periods and 3 datapoints to alarm, the result per
 * treat_missing_data: missing, ignore, breaching, notBreaching. With 3 or more real datapoints
 * the newest 3 decide whatever the setting; with fewer, missing ones are filled only as needed. */
static const struct {
    const char *dp;
    int want[4];
} CW_TABLE[] = {
    {"0 - X - X", {O, O, O, O}},    {"0 0 X 0 X", {O, O, O, O}},
    {"0 - - - -", {O, KEEP, O, O}}, /* breaching fills 2: 2 of 3, stays OK */
    {"- - - - -", {I, KEEP, A, O}}, {"0 X X - X", {A, A, A, A}},
    {"- - X - -", {A, KEEP, A, O}},
};

static void test_cloudwatch_missing_data_table(void **state)
{
    (void)state;
    const enum mdp_alarm_missing how[4] = {MDP_MISSING_MISSING, MDP_MISSING_IGNORE,
                                           MDP_MISSING_BREACHING, MDP_MISSING_NOT_BREACHING};
    const enum mdp_alarm_state currents[3] = {I, O, A};
    for (size_t r = 0; r < sizeof CW_TABLE / sizeof *CW_TABLE; r++) {
        double dp[8];
        size_t n = datapoints(CW_TABLE[r].dp, dp);
        assert_int_equal(n, 5);
        for (int h = 0; h < 4; h++) {
            struct mdp_alarm a = alarm_of(3, 3, how[h]);
            for (int c = 0; c < 3; c++) {
                char reason[300] = "";
                enum mdp_alarm_state got =
                    mdp_alarm_decide(&a, dp, n, currents[c], reason, sizeof reason);
                int want = CW_TABLE[r].want[h] == KEEP ? (int)currents[c] : CW_TABLE[r].want[h];
                if ((int)got != want)
                    fail_msg("'%s' treat_missing_data=%d current=%d: got %s, want %s (%s)",
                             CW_TABLE[r].dp, h, c, mdp_alarm_state_name(got),
                             mdp_alarm_state_name((enum mdp_alarm_state)want), reason);
                assert_true(reason[0] != '\0');
            }
        }
    }
}

/* M of N with full data: the newest N real datapoints, M of them breaching */
static void test_m_of_n(void **state)
{
    (void)state;
    static const struct {
        int n, m;
        const char *dp;
        int want;
    } T[] = {
        {5, 3, "X X 0 0 X X X", A}, /* newest 5: 0 0 X X X -> 3 */
        {5, 3, "X X X 0 0 0 X", O}, /* newest 5: X 0 0 0 X -> 2 */
        {5, 3, "X X X X X 0 0", A}, /* newest 5: X X X 0 0 -> 3 */
        {3, 1, "0 0 0 0 X", A},     {3, 1, "X X 0 0 0", O}, {1, 1, "X X 0", O},
        {1, 1, "0 0 X", A},         {3, 2, "X - 0 - X", A}, /* 3 real: X 0 X -> 2 */
        {3, 2, "0 X - X -", A}, /* older real datapoints stand in for the missing newest */
    };
    for (size_t i = 0; i < sizeof T / sizeof *T; i++) {
        double dp[16];
        size_t n = datapoints(T[i].dp, dp);
        struct mdp_alarm a = alarm_of(T[i].n, T[i].m, MDP_MISSING_MISSING);
        char reason[300];
        enum mdp_alarm_state got = mdp_alarm_decide(&a, dp, n, I, reason, sizeof reason);
        if ((int)got != T[i].want)
            fail_msg("%d of %d over '%s': got %s (%s)", T[i].m, T[i].n, T[i].dp,
                     mdp_alarm_state_name(got), reason);
    }
}

static void test_comparison_operators(void **state)
{
    (void)state;
    double dp[1] = {5.0};
    struct mdp_alarm a = alarm_of(1, 1, MDP_MISSING_MISSING);
    const struct {
        enum mdp_alarm_cmp cmp;
        double thr;
        int want;
    } T[] = {{MDP_CMP_GE, 5, A}, {MDP_CMP_GT, 5, O},   {MDP_CMP_LT, 5, O},
             {MDP_CMP_LE, 5, A}, {MDP_CMP_LT, 5.5, A}, {MDP_CMP_GT, 4.9, A}};
    for (size_t i = 0; i < sizeof T / sizeof *T; i++) {
        a.cmp = T[i].cmp;
        a.threshold = T[i].thr;
        assert_int_equal(mdp_alarm_decide(&a, dp, 1, I, NULL, 0), T[i].want);
    }
}

/* ---- the alarms file ---- */

static const char GOOD[] = "alarms:\n"
                           "  - name: job_failure\n"
                           "    metric: runs.failed\n"
                           "    statistic: Sum\n"
                           "    period: 3600\n"
                           "    evaluation_periods: 3\n"
                           "    datapoints_to_alarm: 2\n"
                           "    threshold: 0\n"
                           "    comparison_operator: GreaterThanThreshold\n"
                           "    treat_missing_data: notBreaching\n"
                           "    alarm_actions:\n"
                           "      - command: echo hi\n"
                           "      - webhook: https://hooks.example.com/x\n"
                           "  - name: ga4_delay\n"
                           "    metric: freshness.ga4.age_s\n"
                           "    statistic: Maximum\n"
                           "    period: 60\n"
                           "    evaluation_periods: 1\n"
                           "    threshold: 93600\n"
                           "    comparison_operator: GreaterThanOrEqualToThreshold\n";

static void test_parse_good(void **state)
{
    (void)state;
    struct mdp_alarm_set s;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_alarms_parse("a.yaml", GOOD, strlen(GOOD), &s, &d), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.v[0].name, "job_failure");
    assert_int_equal(s.v[0].statistic, MDP_STAT_SUM);
    assert_int_equal(s.v[0].evaluation_periods, 3);
    assert_int_equal(s.v[0].datapoints_to_alarm, 2);
    assert_int_equal(s.v[0].missing, MDP_MISSING_NOT_BREACHING);
    assert_int_equal(s.v[0].nactions[0], 2);
    assert_int_equal(s.v[0].actions[0][0].webhook, 0);
    assert_int_equal(s.v[0].actions[0][1].webhook, 1);
    assert_string_equal(s.v[0].actions[0][1].target, "https://hooks.example.com/x");
    /* defaults: M = N, missing */
    assert_int_equal(s.v[1].datapoints_to_alarm, 1);
    assert_int_equal(s.v[1].missing, MDP_MISSING_MISSING);
    assert_int_equal(s.v[1].cmp, MDP_CMP_GE);
    assert_int_equal(s.v[1].line, 14);
    mdp_alarm_set_cleanup(&s);
}

/* each bad file: the message names file, line, column and the key */
static void test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to, *want;
    } T[] = {
        {"    statistic: Sum\n", "    statistik: Sum\n",
         "a.yaml:4:5: alarm 'job_failure': unknown key 'statistik'"},
        {"Sum\n", "Median\n", "a.yaml:4:16: alarm 'job_failure': 'statistic': 'Median' is not one"},
        {"period: 3600", "period: 90", "a.yaml:5:13: alarm 'job_failure': 'period': '90'"},
        {"datapoints_to_alarm: 2", "datapoints_to_alarm: 4",
         "a.yaml:2:5: alarm 'job_failure': datapoints_to_alarm (4) exceeds evaluation_periods (3)"},
        {"threshold: 0", "threshold: zero",
         "a.yaml:8:16: alarm 'job_failure': 'threshold': 'zero' is not a number"},
        {"GreaterThanThreshold", "GreaterThan",
         "a.yaml:9:26: alarm 'job_failure': 'comparison_operator': 'GreaterThan' is not one"},
        {"notBreaching", "notbreaching",
         "a.yaml:10:25: alarm 'job_failure': 'treat_missing_data': 'notbreaching'"},
        {"metric: runs.failed", "metric: runs.broken",
         "a.yaml:3:13: alarm 'job_failure': 'metric': 'runs.broken' is not a metric"},
        {"- webhook: https://hooks", "- webhook: ftp://hooks",
         "a.yaml:13:18: alarm 'job_failure': webhook of 'alarm_actions' must be"},
        {"- command: echo hi", "- email: ops@example.com",
         "a.yaml:12:9: alarm 'job_failure': unknown action 'email'"},
        {"name: ga4_delay", "name: job_failure",
         "a.yaml:14:5: alarm 'job_failure' is defined twice (first at line 2)"},
        {"    threshold: 93600\n", "", "a.yaml:14:5: alarm 'ga4_delay': 'threshold' is required"},
        {"alarms:", "alarm:", "a.yaml:1:1: unknown key 'alarm' at the top level"},
        {"    period: 60\n", "    period: 60\n    period: 120\n",
         "a.yaml:18:5: alarm 'ga4_delay': duplicate key 'period'"},
        {"name: ga4_delay", "name: ga4/delay", "a.yaml:14:11: 'name' must be"},
        {"evaluation_periods: 1", "evaluation_periods: 0",
         "a.yaml:18:25: alarm 'ga4_delay': 'evaluation_periods': '0' is not in 1..100"},
        {"  - name: job_failure\n", "  - name: [job\n", "a.yaml:"},
    };
    for (size_t i = 0; i < sizeof T / sizeof *T; i++) {
        char text[4096];
        const char *at = strstr(GOOD, T[i].from);
        assert_non_null(at);
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - GOOD), GOOD, T[i].to,
                 at + strlen(T[i].from));
        struct mdp_alarm_set s;
        struct mdp_diag d = {0};
        int rc = mdp_alarms_parse("a.yaml", text, strlen(text), &s, &d);
        if (rc != MDP_ERR_CONFIG || strncmp(d.msg, T[i].want, strlen(T[i].want)) != 0)
            fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, d.msg, T[i].want);
        assert_int_equal(s.n, 0);
        assert_null(s.v);
    }
}

/* ---- a lake with an injected clock ---- */

static int64_t T0; /* 2026-11-01T00:00:00Z */

static void put_run(struct mdp_lake *lake, int seq, const char *job, const char *status,
                    int64_t end_ms, int64_t in, int64_t quarantined, int64_t newest_event_ms)
{
    char start[32], end[32], date[11], ev[40] = "null", key[128], body[1024];
    mdp_time_format_ms(end_ms - 1000, start, sizeof start);
    mdp_time_format_ms(end_ms, end, sizeof end);
    if (newest_event_ms >= 0) {
        char t[32];
        mdp_time_format_ms(newest_event_ms, t, sizeof t);
        snprintf(ev, sizeof ev, "\"%s\"", t);
    }
    mdp_date_format(mdp_days_from_ms(end_ms - 1000), date, sizeof date);
    char id[40];
    snprintf(id, sizeof id, "019a0000-0000-7000-8000-%012d", seq);
    snprintf(key, sizeof key, "_meta/runs/dt=%s/%s.json", date, id);
    snprintf(body, sizeof body,
             "{\"run_id\":\"%s\",\"job\":\"%s\",\"status\":\"%s\",\"start\":\"%s\",\"end\":\"%s\","
             "\"duration_ms\":1000,\"in\":%lld,\"out\":%lld,\"quarantined\":%lld,"
             "\"duplicates\":0,\"bytes\":1,\"message\":\"\",\"newest_event\":%s}\n",
             id, job, status, start, end, (long long)in, (long long)(in - quarantined),
             (long long)quarantined, ev);
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_put(lake->store, key, body, strlen(body), 0, &d), 0);
}

struct fixture {
    char *dir;
    struct mdp_lake *lake;
    struct mdp_config cfg;
};

static void open_fixture(struct fixture *f)
{
    f->dir = tu_tmpdir();
    char landing[512];
    tu_lake_config(f->dir, &f->cfg, landing, sizeof landing);
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(f->dir, 1, &f->lake, &d), 0);
}

static void close_fixture(struct fixture *f)
{
    mdp_lake_close(f->lake);
    mdp_config_cleanup(&f->cfg);
    tu_rmdir(f->dir);
}

#define H (3600 * 1000LL)

static void test_metric_periods(void **state)
{
    (void)state;
    struct fixture f;
    open_fixture(&f);
    /* failed runs at the end of the newest period (now), just inside the one before, and at its
     * left edge, which belongs to the period before that */
    int64_t now = T0 + 10 * H;
    put_run(f.lake, 1, "curate", "failed", now, 0, 0, -1);
    put_run(f.lake, 2, "curate", "ok", now - 1, 0, 0, -1);
    put_run(f.lake, 3, "curate", "failed", now - H + 1, 0, 0, -1);
    put_run(f.lake, 4, "curate", "failed", now - H, 0, 0, -1);
    put_run(f.lake, 5, "curate", "failed", now + 1, 0, 0, -1); /* the future: not seen */
    put_run(f.lake, 6, "ingest.ses", "ok", now - 2 * H - 5, 200, 10, -1);
    put_run(f.lake, 7, "ingest.ga4", "ok", now - 2 * H - 9, 100, 20, -1);
    double dp[4];
    struct mdp_diag d = {0};
    assert_int_equal(
        mdp_metric_datapoints(f.lake, &f.cfg, "runs.failed", MDP_STAT_SUM, 3600, now, 4, dp, &d),
        0);
    assert_true(isnan(dp[0]));
    assert_true(dp[1] == 0.0 && dp[2] == 1.0 && dp[3] == 2.0);
    assert_int_equal(mdp_metric_datapoints(f.lake, &f.cfg, "runs.failed", MDP_STAT_SAMPLE_COUNT,
                                           3600, now, 4, dp, &d),
                     0);
    assert_true(dp[3] == 3.0);
    assert_int_equal(mdp_metric_datapoints(f.lake, &f.cfg, "ingest.quarantine_pct",
                                           MDP_STAT_MAXIMUM, 3600, now, 4, dp, &d),
                     0);
    assert_true(isnan(dp[3]) && isnan(dp[2]) && fabs(dp[1] - 20.0) < 1e-9);
    assert_int_equal(mdp_metric_datapoints(f.lake, &f.cfg, "ingest.quarantine_pct",
                                           MDP_STAT_AVERAGE, 3600, now, 4, dp, &d),
                     0);
    assert_true(fabs(dp[1] - 12.5) < 1e-9);
    assert_int_equal(
        mdp_metric_datapoints(f.lake, &f.cfg, "runs.nope", MDP_STAT_SUM, 3600, now, 4, dp, &d),
        MDP_ERR_INVALID);
    /* no dq_results table and no cost source: missing data, not an error */
    assert_int_equal(mdp_metric_datapoints(f.lake, &f.cfg, "dq.violation_pct", MDP_STAT_MAXIMUM,
                                           3600, now, 4, dp, &d),
                     0);
    assert_true(isnan(dp[3]));
    /* a dq_results table as `mdp dq run` publishes it: run a (10 rules, one FAIL, one ERROR)
     * 30 minutes before now, run b (4 rules, all PASS) 90 minutes before */
    struct mdp_engine *e = NULL;
    assert_int_equal(mdp_engine_open(NULL, &e, &d), 0);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT run_id, make_timestamp(%lld::BIGINT * 1000) AS evaluated_at, 't' AS "
             "table_name, i AS rule_index, 'RowCount > 0' AS rule, CASE WHEN run_id = 'a' AND i "
             "= 0 THEN 'FAIL' WHEN run_id = 'a' AND i = 1 THEN 'ERROR' ELSE 'PASS' END AS "
             "outcome, '{}' AS metrics, '' AS message, DATE '2026-11-01' AS dt FROM (VALUES "
             "('a')) r(run_id), range(10) t(i) UNION ALL SELECT 'b', make_timestamp(%lld::BIGINT "
             "* 1000), 't', i, 'RowCount > 0', 'PASS', '{}', '', DATE '2026-11-01' FROM range(4) "
             "t(i)",
             (long long)(now - H / 2), (long long)(now - 3 * H / 2));
    assert_int_equal(mdp_engine_write_table(e, f.lake, sql, "_meta/tables/dq_results", NULL,
                                            "019a0000-0000-7000-8000-000000000099", NULL, &d),
                     0);
    mdp_engine_close(e);
    assert_int_equal(mdp_metric_datapoints(f.lake, &f.cfg, "dq.violation_pct", MDP_STAT_MAXIMUM,
                                           3600, now, 4, dp, &d),
                     0);
    assert_true(isnan(dp[0]) && isnan(dp[1]));
    assert_true(dp[2] == 0.0 && fabs(dp[3] - 20.0) < 1e-9);
    assert_int_equal(mdp_metric_datapoints(f.lake, &f.cfg, "cost.s3_usd_month_forecast",
                                           MDP_STAT_MAXIMUM, 3600, now, 4, dp, &d),
                     0);
    assert_true(isnan(dp[3]));
    close_fixture(&f);
}

static int cost_source(const char *metric, int64_t now_ms, double *out, void *ud,
                       struct mdp_diag *d)
{
    (void)now_ms;
    (void)d;
    if (strcmp(metric, "cost.s3_usd_month_forecast") != 0) return 0;
    *out = *(double *)ud;
    return 1;
}

static void test_eval_with_clock(void **state)
{
    (void)state;
    struct fixture f;
    open_fixture(&f);
    char marks[600], text[2048];
    snprintf(marks, sizeof marks, "%s/actions.txt", f.dir);
    snprintf(text, sizeof text,
             "alarms:\n"
             "  - name: job_failure\n"
             "    metric: runs.failed\n"
             "    statistic: Sum\n"
             "    period: 3600\n"
             "    evaluation_periods: 1\n"
             "    threshold: 0\n"
             "    comparison_operator: GreaterThanThreshold\n"
             "    treat_missing_data: notBreaching\n"
             "    alarm_actions:\n"
             "      - command: echo \"$MDP_ALARM_NAME $MDP_ALARM_OLD_STATE $MDP_ALARM_STATE\" >> "
             "'%s'\n"
             "    ok_actions:\n"
             "      - command: echo \"$MDP_ALARM_NAME $MDP_ALARM_OLD_STATE $MDP_ALARM_STATE\" >> "
             "'%s'\n"
             "      - command: exit 3\n"
             "  - name: s3_cost\n"
             "    metric: cost.s3_usd_month_forecast\n"
             "    statistic: Maximum\n"
             "    period: 86400\n"
             "    evaluation_periods: 1\n"
             "    threshold: 500\n"
             "    comparison_operator: GreaterThanThreshold\n",
             marks, marks);
    struct mdp_alarm_set set;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_alarms_parse("t.yaml", text, strlen(text), &set, &d), 0);
    double cost = 650;
    mdp_metric_source_set(cost_source, &cost);
    put_run(f.lake, 1, "curate", "failed", T0 + 30 * 60 * 1000, 0, 0, -1);
    /* 1: a failure in the last hour: INSUFFICIENT_DATA -> ALARM, the action runs */
    assert_int_equal(mdp_alarms_eval(f.lake, &f.cfg, &set, T0 + H, 1, NULL, NULL, &d), 0);
    /* 2: the same instant again: no change, no action */
    assert_int_equal(mdp_alarms_eval(f.lake, &f.cfg, &set, T0 + H, 1, NULL, NULL, &d), 0);
    /* 3: two hours later the failure is still in the evaluation range (N + 2 periods), and as the
     * newest real datapoint it decides: still ALARM */
    assert_int_equal(mdp_alarms_eval(f.lake, &f.cfg, &set, T0 + 3 * H, 1, NULL, NULL, &d), 0);
    /* 4: out of the range, no run: notBreaching -> OK, two ok actions, one failing */
    cost = 300;
    assert_int_equal(mdp_alarms_eval(f.lake, &f.cfg, &set, T0 + 4 * H, 1, NULL, NULL, &d), 0);
    size_t len;
    char *got = tu_read(marks, &len);
    assert_non_null(got);
    assert_string_equal(got, "job_failure INSUFFICIENT_DATA ALARM\njob_failure ALARM OK\n");
    free(got);
    /* the history and the report's JSON */
    struct mdp_buf b;
    mdp_buf_init(&b);
    free(f.cfg.alarms_file);
    char path[600];
    snprintf(path, sizeof path, "%s/alarms.yaml", f.dir);
    assert_int_equal(tu_write(path, text, strlen(text)), 0);
    f.cfg.alarms_file = strdup(path);
    assert_int_equal(mdp_alarms_json(f.lake, &f.cfg, (T0 + 4 * H) * 1000, &b, &d), 0);
    assert_non_null(strstr(b.data, "{\"name\":\"job_failure\",\"metric\":\"runs.failed\","
                                   "\"state\":\"OK\""));
    assert_non_null(strstr(b.data, "\"since\":\"2026-11-01T04:00:00.000Z\""));
    assert_non_null(strstr(b.data, "{\"time\":\"2026-11-01T01:00:00.000Z\",\"from\":"
                                   "\"INSUFFICIENT_DATA\",\"to\":\"ALARM\""));
    assert_non_null(strstr(b.data, "\"from\":\"ALARM\",\"to\":\"OK\""));
    assert_non_null(strstr(b.data, "{\"type\":\"command\",\"ok\":false"));
    assert_non_null(strstr(b.data, "\"exit\":3}"));
    /* the cost alarm: ALARM at 650, OK at 300 */
    assert_non_null(strstr(b.data,
                           "{\"name\":\"s3_cost\",\"metric\":\"cost.s3_usd_month_forecast\","
                           "\"state\":\"OK\""));
    assert_non_null(strstr(b.data, "[650]"));
    /* as of the first evaluation, the later change is not there yet */
    mdp_buf_reset(&b);
    assert_int_equal(mdp_alarms_json(f.lake, &f.cfg, (T0 + H) * 1000, &b, &d), 0);
    assert_null(strstr(b.data, "\"from\":\"ALARM\",\"to\":\"OK\""));
    mdp_buf_cleanup(&b);
    mdp_metric_source_set(NULL, NULL);
    mdp_alarm_set_cleanup(&set);
    close_fixture(&f);
}

static void test_freshness(void **state)
{
    (void)state;
    struct fixture f;
    open_fixture(&f);
    assert_int_equal(mdp_strlist_set(&f.cfg.freshness_slas, "ga4:24h,ses:1m"), 0);
    /* ga4 lands at 00:00 and 12:00 each day, its newest event an hour older, from 40 days before
     * now's day, except on days 10 and 11 of the 30-day window */
    int64_t today = mdp_days_from_ms(T0) + 40;
    int64_t now = today * MDP_MS_PER_DAY + 18 * H;
    int seq = 1;
    for (int64_t day = today - 40; day <= today; day++) {
        int64_t k = day - (today - 29);
        if (k == 10 || k == 11) continue;
        for (int half = 0; half < 2; half++) {
            int64_t end = day * MDP_MS_PER_DAY + half * 12 * H;
            put_run(f.lake, seq++, "ingest.ga4", "ok", end, 10, 0, end - H);
        }
    }
    put_run(f.lake, seq++, "ingest.ga4", "ok", now + H, 10, 0, now + H);          /* after now */
    put_run(f.lake, seq++, "ingest.supabase", "ok", now - H, 10, 0, now - 2 * H); /* no SLA */
    struct mdp_freshness fr;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_freshness_compute(f.lake, &f.cfg, now, &fr, &d), 0);
    assert_int_equal(fr.n, 2);
    assert_string_equal(fr.v[0].source, "ga4");
    assert_int_equal(fr.v[0].state, MDP_FRESH_OK);
    assert_int_equal(fr.v[0].age_ms, 7 * H); /* landed at 12:00 with an 11:00 event */
    assert_int_equal(fr.v[0].newest_landing_ms, today * MDP_MS_PER_DAY + 12 * H);
    /* the gap: day 10 passes 24 h at 11:00, day 11 all day; day 12 lands at 00:00 sharp */
    for (int k = 0; k < MDP_FRESH_DAYS; k++)
        if (fr.v[0].met[k] != (k != 10 && k != 11)) fail_msg("day %d: met %d", k, fr.v[0].met[k]);
    assert_true(fabs(fr.v[0].compliance_pct - 2800.0 / 30) < 1e-9);
    assert_string_equal(fr.v[1].source, "ses");
    assert_int_equal(fr.v[1].state, MDP_FRESH_NEVER);
    assert_int_equal(fr.v[1].age_ms, -1);
    assert_true(fr.v[1].compliance_pct == 0.0);
    mdp_freshness_cleanup(&fr);
    /* LATE an hour past the SLA; the JSON for the report */
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_freshness_json(f.lake, &f.cfg, (now + 30 * H) * 1000, &b, &d), 0);
    assert_non_null(strstr(b.data, "\"source\":\"ga4\",\"newest_event\":"));
    assert_non_null(strstr(b.data, "\"sla_s\":86400,\"state\":\"LATE\""));
    assert_non_null(strstr(b.data, "\"source\":\"ses\",\"newest_event\":null,\"newest_landing\":"
                                   "null,\"age_s\":null,\"sla_s\":60,\"state\":\"NEVER\""));
    int days = 0;
    for (const char *p = b.data; (p = strstr(p, "\"date\":")); p++)
        days++;
    assert_int_equal(days, 2 * MDP_FRESH_DAYS);
    mdp_buf_cleanup(&b);
    /* a bad SLA is named */
    assert_int_equal(mdp_strlist_set(&f.cfg.freshness_slas, "ga4:24x"), 0);
    assert_int_equal(mdp_freshness_compute(f.lake, &f.cfg, now, &fr, &d), MDP_ERR_CONFIG);
    assert_non_null(strstr(d.msg, "freshness.slas: '24x' of ga4 is no duration"));
    mdp_freshness_cleanup(&fr);
    assert_int_equal(mdp_strlist_set(&f.cfg.freshness_slas, "gaa:24h"), 0);
    assert_int_equal(mdp_freshness_compute(f.lake, &f.cfg, now, &fr, &d), MDP_ERR_CONFIG);
    assert_non_null(strstr(d.msg, "'gaa' is no source"));
    mdp_freshness_cleanup(&fr);
    /* the alarm metric: the age at the end of each period, missing before the first landing */
    assert_int_equal(mdp_strlist_set(&f.cfg.freshness_slas, "ga4:24h"), 0);
    double dp[3];
    assert_int_equal(mdp_metric_datapoints(f.lake, &f.cfg, "freshness.ga4.age_s", MDP_STAT_MAXIMUM,
                                           3600, now, 3, dp, &d),
                     0);
    assert_true(dp[0] == 5 * 3600.0 && dp[1] == 6 * 3600.0 && dp[2] == 7 * 3600.0);
    assert_int_equal(mdp_metric_datapoints(f.lake, &f.cfg, "freshness.ses.age_s", MDP_STAT_MAXIMUM,
                                           3600, now, 3, dp, &d),
                     MDP_ERR_INVALID);
    close_fixture(&f);
}

static void test_duration(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(mdp_time_parse_span("90s", &ms), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(mdp_time_parse_span("5m", &ms), 0);
    assert_int_equal(ms, 300000);
    assert_int_equal(mdp_time_parse_span("2d", &ms), 0);
    assert_int_equal(ms, 2 * MDP_MS_PER_DAY);
    const char *bad[] = {"", "h", "0h", "-1h", "1.5h", "24", "24hh", "1w", "99999999999d"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(mdp_time_parse_span(bad[i], &ms), MDP_ERR_PARSE);
}

/* every allocation of parsing, freshness and the report's JSON fails in turn: a clean
 * MDP_ERR_NOMEM with a message, nothing leaked (ASan), never a crash (fault-injection builds) */
static void test_out_of_memory(void **state)
{
    (void)state;
    if (mdp_alloc_fail_at(0) == MDP_ERR_UNSUPPORTED) skip();
    struct fixture f;
    open_fixture(&f);
    assert_int_equal(mdp_strlist_set(&f.cfg.freshness_slas, "ga4:24h,ses:1m"), 0);
    for (int i = 0; i < 5; i++)
        put_run(f.lake, i + 1, "ingest.ga4", "ok", T0 + i * H, 10, 1, T0 + i * H - 60000);
    int done = 0;
    long n = 1;
    for (; n < 100000 && done != 3; n++) {
        struct mdp_alarm_set s;
        struct mdp_freshness fr;
        struct mdp_buf b;
        mdp_buf_init(&b);
        struct mdp_diag d = {0};
        mdp_alloc_fail_at(n);
        int r1 = mdp_alarms_parse("a.yaml", GOOD, strlen(GOOD), &s, &d);
        int r2 = r1 ? 0 : mdp_freshness_compute(f.lake, &f.cfg, T0 + 10 * H, &fr, &d);
        int r3 = r1 || r2 ? 0 : mdp_freshness_json(f.lake, &f.cfg, (T0 + 10 * H) * 1000, &b, &d);
        mdp_alloc_fail_at(0);
        if (r1 == 0) mdp_alarm_set_cleanup(&s);
        if (r1 == 0) mdp_freshness_cleanup(&fr);
        mdp_buf_cleanup(&b);
        int rc = r1 ? r1 : r2 ? r2 : r3;
        if (rc == 0) {
            done = 3;
            break;
        }
        if (rc != MDP_ERR_NOMEM || !d.msg[0])
            fail_msg("allocation %ld: rc %d, message '%s'", n, rc, d.msg);
    }
    assert_int_equal(done, 3);
    assert_true(n > 20); /* it did fail allocations before succeeding */
    close_fixture(&f);
}

int main(void)
{
    T0 = mdp_days_from_civil(2026, 11, 1) * MDP_MS_PER_DAY;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cloudwatch_missing_data_table),
        cmocka_unit_test(test_m_of_n),
        cmocka_unit_test(test_comparison_operators),
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_metric_periods),
        cmocka_unit_test(test_eval_with_clock),
        cmocka_unit_test(test_freshness),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
