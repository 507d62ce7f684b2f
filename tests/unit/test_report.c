/* Unit tests of the success-metrics report (include/mdp/report.h) over the fixture lake of
 * report_fixture.c: every figure checked against what the fixture wrote, computed by hand; the
 * sections without a source say so; the page embeds the JSON safely and loads nothing. */
#include "testutil.h"
#include "report_fixture.h"
#include "mdp/config.h"
#include "mdp/lake.h"
#include "mdp/report.h"
#include "mdp/time.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *get(json_object *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *k = strtok(buf, "."); k && o; k = strtok(NULL, ".")) {
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)atoi(k));
        else if (!json_object_object_get_ex(o, k, &o))
            o = NULL;
    }
    return o;
}
#define D(o, p) json_object_get_double(get((o), (p)))
#define I(o, p) json_object_get_int64(get((o), (p)))
#define S(o, p) json_object_get_string(get((o), (p)))

static void test_report_figures(void **st)
{
    (void)st;
    char *dir = tu_tmpdir(), landing[1024], err[600];
    assert_int_equal(report_fixture_build(dir, err, sizeof err), 0);
    struct mdp_config cfg;
    tu_lake_config(dir, &cfg, landing, sizeof landing);
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 0, &lake, &d), 0);
    int64_t now_ms;
    assert_int_equal(mdp_time_parse_iso(REPORT_FIXTURE_NOW, (size_t)-1, &now_ms), 0);
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_report_json(lake, &cfg, now_ms * 1000, &b, &d), 0);
    json_object *r = json_tokener_parse(b.data);
    assert_non_null(r);

    /* DQ: per table (name order) and run: 4 rules each */
    assert_string_equal(S(r, "dq.tables.0.table"), "dim_user");
    assert_int_equal(json_object_array_length(get(r, "dq.tables.0.runs")), 3);
    assert_float_equal(D(r, "dq.tables.0.runs.0.score"), 1.0, 1e-9);
    assert_float_equal(D(r, "dq.tables.0.runs.2.score"), 0.75, 1e-9); /* the ERROR */
    assert_string_equal(S(r, "dq.tables.0.runs.2.time"), "2026-10-12T06:00:00Z");
    assert_string_equal(S(r, "dq.tables.1.table"), "fact_email_events");
    assert_float_equal(D(r, "dq.tables.1.runs.1.score"), 0.75, 1e-9); /* the FAIL */
    assert_string_equal(S(r, "dq.tables.1.runs.1.run_id"), "run-2");
    assert_int_equal(json_object_array_length(get(r, "dq.daily")), 3);
    assert_string_equal(S(r, "dq.daily.0.date"), "2026-10-10");
    assert_float_equal(D(r, "dq.daily.0.pct"), 0.0, 1e-9);
    assert_float_equal(D(r, "dq.daily.1.pct"), 12.5, 1e-9);
    assert_int_equal(I(r, "dq.rules"), 24);
    assert_int_equal(I(r, "dq.violations"), 2);
    assert_float_equal(D(r, "dq.violations_pct"), 100.0 * 2 / 24, 1e-4);
    assert_null(get(r, "dq.note"));

    /* the metrics of spec 10, in order */
    assert_string_equal(S(r, "metrics.1.id"), "dq");
    assert_float_equal(D(r, "metrics.1.value"), 100.0 * 2 / 24, 1e-4);
    assert_false(json_object_get_boolean(get(r, "metrics.1.met")));
    /* cost: 1 GiB stored for half of October, 4 runs of 10 put, 20 get, 1 list; 100 users */
    double storage = 0.5 * 0.0245, requests = 44 / 1000.0 * 0.0054 + 80 / 1000.0 * 0.00043;
    double forecast = storage + 0.5 * 0.0245 + 2 * requests + 2 * 300 * (0.1525 + 0.7625) / 1e6;
    assert_float_equal(D(r, "cost.usd.s3_storage"), storage, 1e-9);
    assert_float_equal(D(r, "cost.usd.s3_requests"), requests, 1e-9);
    assert_float_equal(D(r, "cost.forecast_usd.total"), forecast, 1e-8);
    assert_int_equal(I(r, "users"), 100);
    assert_string_equal(S(r, "metrics.2.id"), "cost");
    assert_float_equal(D(r, "metrics.2.value"), forecast * 100, 1e-5);
    assert_true(json_object_get_boolean(get(r, "metrics.2.met")));
    /* DynamoDB: 300 personalization requests this month, one read and one write unit each */
    assert_int_equal(I(r, "cost.usage.requests_served"), 450);
    assert_int_equal(I(r, "cost.usage.state_store_requests"), 300);
    double ddb = 300 * (0.1525 + 0.7625) / 1e6;
    assert_float_equal(D(r, "cost.usd.dynamodb"), ddb, 1e-12);
    /* latency: the highest personalization p99 of the window; per route its newest interval */
    assert_string_equal(S(r, "metrics.4.id"), "latency");
    assert_float_equal(D(r, "metrics.4.value"), 150, 1e-9);
    assert_true(json_object_get_boolean(get(r, "metrics.4.met")));
    assert_int_equal(json_object_array_length(get(r, "latency.p99_trend")), 3);
    assert_float_equal(D(r, "latency.p99_trend.0.p99_ms"), 40, 1e-9);
    assert_string_equal(S(r, "latency.routes.0.route"), "/v1/personalize");
    assert_float_equal(D(r, "latency.routes.0.p90_ms"), 20, 1e-9);
    assert_string_equal(S(r, "latency.routes.0.time"), "2026-10-16T10:00:00.000Z");
    assert_string_equal(S(r, "latency.routes.1.route"), "/v1/events");
    /* freshness: ga4 met its SLA on the 16 days from 1 October (of 30); the others never
     * delivered or are late, so the mean compliance is ga4's share over the 7 sources */
    json_object *ga4 = NULL, *srcs = get(r, "freshness.sources");
    for (size_t i = 0; i < json_object_array_length(srcs); i++)
        if (!strcmp(S(json_object_array_get_idx(srcs, i), "source"), "ga4"))
            ga4 = json_object_array_get_idx(srcs, i);
    assert_non_null(ga4);
    assert_string_equal(S(ga4, "state"), "OK");
    assert_int_equal(json_object_array_length(get(ga4, "daily")), 30);
    double ga4_pct = D(ga4, "compliance_30d_pct");
    assert_float_equal(ga4_pct, 100.0 * 16 / 30, 0.05); /* printed with one decimal */
    assert_float_equal(D(r, "metrics.0.value"), 100.0 * 16 / 30 / json_object_array_length(srcs),
                       1e-4);
    assert_false(json_object_get_boolean(get(r, "metrics.0.met")));
    /* alarms: the shipped alarms, never evaluated here */
    assert_true(json_object_array_length(get(r, "alarms.alarms")) > 0);
    assert_string_equal(S(r, "alarms.alarms.0.state"), "INSUFFICIENT_DATA");
    /* audits: none exist */
    assert_null(get(r, "metrics.3.met"));
    assert_null(get(r, "audit.erasure"));
    assert_non_null(strstr(S(r, "audit.note"), "none"));

    /* quarantine per ingest source (first seen first), in the window only (a0 is older) */
    assert_int_equal(json_object_array_length(get(r, "quarantine.sources")), 3);
    assert_string_equal(S(r, "quarantine.sources.0.source"), "ga4");
    assert_int_equal(I(r, "quarantine.sources.0.records"), 32 * 5);
    assert_string_equal(S(r, "quarantine.sources.1.source"), "ses");
    assert_int_equal(I(r, "quarantine.sources.1.records"), 2000);
    assert_int_equal(I(r, "quarantine.sources.1.quarantined"), 40);
    assert_float_equal(D(r, "quarantine.sources.1.share_pct"), 2.0, 1e-9);
    assert_string_equal(S(r, "quarantine.sources.2.source"), "events");
    assert_int_equal(I(r, "runs.total"), 4 + 32);
    assert_int_equal(I(r, "runs.failed"), 1);
    json_object_put(r);

    /* the page: the JSON inside, no '<' from the data, nothing fetched */
    struct mdp_buf h;
    mdp_buf_init(&h);
    const char *evil = "{\"x\":\"</script><script>alert(1)</script>\"}";
    assert_int_equal(mdp_report_html(evil, strlen(evil), &h), 0);
    assert_null(strstr(h.data, "</script><script>alert"));
    assert_non_null(strstr(h.data, "\\u003c/script>"));
    mdp_buf_reset(&h);
    assert_int_equal(mdp_report_html(b.data, b.len, &h), 0);
    assert_non_null(strstr(h.data, "\"violations\":2"));
    assert_null(strstr(h.data, "/*MDP_REPORT_DATA*/"));
    assert_null(strstr(h.data, " src="));
    assert_null(strstr(h.data, "href="));
    assert_null(strstr(h.data, "https:"));
    mdp_buf_cleanup(&h);
    mdp_buf_cleanup(&b);
    mdp_lake_close(lake);
    mdp_config_cleanup(&cfg);
    tu_rmdir(dir);
}

static void test_report_without_sources(void **st)
{
    (void)st;
    char *dir = tu_tmpdir(), landing[1024];
    struct mdp_config cfg;
    tu_lake_config(dir, &cfg, landing, sizeof landing);
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_report_json(lake, &cfg, 0, &b, &d), 0);
    json_object *r = json_tokener_parse(b.data);
    assert_non_null(r);
    assert_string_equal(S(r, "dq.note"), "no DQ runs yet (no dq_results table)");
    assert_null(get(r, "dq.violations_pct"));
    assert_null(get(r, "metrics.1.met"));
    assert_null(get(r, "users"));
    assert_null(get(r, "metrics.2.value"));
    assert_int_equal(json_object_array_length(get(r, "quarantine.sources")), 0);
    json_object_put(r);
    mdp_buf_cleanup(&b);
    mdp_lake_close(lake);
    mdp_config_cleanup(&cfg);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_figures),
        cmocka_unit_test(test_report_without_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
