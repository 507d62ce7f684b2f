/* Unit tests of the cost model (include/mdp/cost.h): storage GB-months from a listing with
 * modification times, the run log's request and scan counters, the Athena minimum, the month-end
 * forecast, the bytes a query scans, and the store's request counts claimed by run records. Every
 * expected figure is computed by hand in the comments from the default (eu-central-1) prices. */
#include "testutil.h"
#include "mdp/config.h"
#include "mdp/cost.h"
#include "mdp/lake.h"
#include "mdp/store.h"
#include "mdp/time.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define GIB (1LL << 30)
#define TIB (1LL << 40)

/* A sparse file of size bytes at dir/key, last modified at iso. */
static void object_at(const char *dir, const char *key, int64_t size, const char *iso)
{
    char path[1024], cmd[1200];
    snprintf(path, sizeof path, "%s/%s", dir, key);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(truncate(path, (off_t)size), 0);
    int64_t ms;
    assert_int_equal(mdp_time_parse_iso(iso, (size_t)-1, &ms), 0);
    struct timeval tv[2] = {{(time_t)(ms / 1000), 0}, {(time_t)(ms / 1000), 0}};
    assert_int_equal(utimes(path, tv), 0);
}

/* A run record as mdp_run_end writes it, with given counters. */
static void run_record(struct mdp_lake *lake, const char *id, const char *start, long long put,
                       long long get, long long list, long long scanned)
{
    char key[256], body[1024];
    snprintf(key, sizeof key, "_meta/runs/dt=%.10s/%s.json", start, id);
    snprintf(body, sizeof body,
             "{\"run_id\":\"%s\",\"job\":\"query\",\"status\":\"ok\",\"start\":\"%s\",\"end\":"
             "\"%s\",\"duration_ms\":0,\"in\":0,\"out\":0,\"quarantined\":0,\"duplicates\":0,"
             "\"bytes\":0,\"message\":\"\",\"requests\":{\"put\":%lld,\"get\":%lld,\"list\":%lld},"
             "\"scanned_bytes\":%lld,\"newest_event\":null}\n",
             id, start, start, put, get, list, scanned);
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_put(lake->store, key, body, strlen(body), 0, &d), 0);
}

static void test_month_to_date_and_forecast(void **st)
{
    (void)st;
    char *dir = tu_tmpdir(), landing[1024];
    struct mdp_config cfg;
    tu_lake_config(dir, &cfg, landing, sizeof landing);
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    /* October 2026 has 31 days; now = 16 Oct 12:00 is exactly half of it */
    object_at(dir, "raw/x/dt=2026-09-20/a.bin", GIB, "2026-09-20T00:00:00Z");     /* whole half */
    object_at(dir, "curated/facts/y/b.parquet", 2 * GIB, "2026-10-08T12:00:00Z"); /* 8 days */
    object_at(dir, "ml/features/c.parquet", GIB, "2026-10-20T00:00:00Z");         /* later */
    run_record(lake, "r1", "2026-10-10T00:00:00.000Z", 1000, 2000, 1000, TIB);
    run_record(lake, "r2", "2026-10-11T00:00:00.000Z", 0, 0, 0, 1000);     /* billed 10 MB */
    run_record(lake, "r3", "2026-09-30T23:59:59.000Z", 999999, 0, 0, TIB); /* last month */
    run_record(lake, "r4", "2026-10-17T00:00:00.000Z", 999999, 0, 0, TIB); /* after now */
    int64_t now_ms;
    assert_int_equal(mdp_time_parse_iso("2026-10-16T12:00:00Z", (size_t)-1, &now_ms), 0);
    struct mdp_cost c;
    assert_int_equal(mdp_cost_figures(lake, &cfg, now_ms * 1000, &c, &d), 0);
    assert_string_equal(c.month, "2026-10");
    /* the run records and the lake marker were written today (after now): not counted */
    assert_int_equal(c.s3_bytes, 3 * GIB);
    int raw = -1, cur = -1, ml = -1;
    for (int i = 0; i < c.nzones; i++) {
        if (!strcmp(c.zones[i].zone, "raw")) raw = i;
        if (!strcmp(c.zones[i].zone, "curated")) cur = i;
        if (!strcmp(c.zones[i].zone, "ml")) ml = i;
        assert_string_equal(c.zones[i].storage_class, "STANDARD");
    }
    assert_true(raw >= 0 && cur >= 0 && ml >= 0);
    assert_int_equal(c.zones[raw].bytes, GIB);
    assert_int_equal(c.zones[ml].objects, 0);
    assert_float_equal(c.zones[raw].gb_months, 0.5, 1e-12);
    assert_float_equal(c.zones[cur].gb_months, 2.0 * 8 / 31, 1e-12);
    double storage = (0.5 + 16.0 / 31) * 0.0245;
    assert_float_equal(c.s3_storage, storage, 1e-12);
    /* r1 and r2 only */
    assert_int_equal(c.runs, 2);
    assert_int_equal(c.puts, 1000);
    assert_int_equal(c.gets, 2000);
    assert_int_equal(c.lists, 1000);
    assert_int_equal(c.scan_queries, 2);
    assert_int_equal(c.billed_scanned_bytes, TIB + 10485760);
    double requests = 2.0 * 0.0054 + 2.0 * 0.00043;
    assert_float_equal(c.s3_requests, requests, 1e-12);
    double athena = (1.0 + 10485760.0 / (double)TIB) * 5;
    assert_float_equal(c.athena, athena, 1e-9);
    assert_int_equal(c.requests_served, -1);
    assert_float_equal(c.dynamodb, 0, 0);
    assert_float_equal(c.total, storage + requests + athena, 1e-9);
    /* forecast: the 3 GiB stay for the other half month; usage doubles */
    assert_float_equal(c.s3_usd_month_forecast, storage + 1.5 * 0.0245 + 2 * requests, 1e-9);
    assert_float_equal(c.athena_usd_month_forecast, 2 * athena, 1e-9);
    assert_float_equal(c.total_usd_month_forecast,
                       storage + 1.5 * 0.0245 + 2 * requests + 2 * athena, 1e-9);

    /* JSON: parses, and carries the same figures */
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_cost_json(&c, &b), 0);
    json_object *o = json_tokener_parse(b.data), *v, *w;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "forecast_usd", &v));
    assert_true(json_object_object_get_ex(v, "athena", &w));
    assert_float_equal(json_object_get_double(w), 2 * athena, 1e-6);
    assert_true(json_object_object_get_ex(o, "usage", &v));
    assert_true(json_object_object_get_ex(v, "requests_served", &w));
    assert_null(w);
    json_object_put(o);
    mdp_buf_cleanup(&b);

    /* a different price changes the figure in proportion */
    cfg.cost_athena_tb = 6.5;
    assert_int_equal(mdp_cost_figures(lake, &cfg, now_ms * 1000, &c, &d), 0);
    assert_float_equal(c.athena, athena / 5 * 6.5, 1e-9);
    /* the first hour of a month is forecast as if a whole day had passed */
    assert_int_equal(mdp_time_parse_iso("2026-10-01T01:00:00Z", (size_t)-1, &now_ms), 0);
    assert_int_equal(mdp_cost_figures(lake, &cfg, now_ms * 1000, &c, &d), 0);
    assert_int_equal(c.runs, 0);
    assert_int_equal(c.s3_bytes, GIB); /* only a.bin existed */
    assert_float_equal(c.s3_usd_month_forecast,
                       0.0245 * (1.0 / 31 / 24) + 0.0245 * (1 - 1.0 / 31 / 24), 1e-12);
    mdp_lake_close(lake);
    mdp_config_cleanup(&cfg);
    tu_rmdir(dir);
}

static void test_query_scan_counts_named_tables(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    char data[1234];
    memset(data, 'x', sizeof data);
    assert_int_equal(mdp_store_put(lake->store, "curated/facts/fact_email_events/run-a/p.parquet",
                                   data, sizeof data, 0, &d),
                     0);
    assert_int_equal(mdp_store_put(lake->store, "ml/features/run-b/p.parquet", data, 100, 0, &d),
                     0);
    struct mdp_manifest_file f1 = {"curated/facts/fact_email_events/run-a/p.parquet", 1234, -1, ""};
    struct mdp_manifest_file f2 = {"ml/features/run-b/p.parquet", 100, -1, ""};
    assert_int_equal(
        mdp_lake_publish(lake, "curated/facts/fact_email_events", &f1, 1, "a", NULL, &d), 0);
    assert_int_equal(mdp_lake_publish(lake, "ml/features", &f2, 1, "b", NULL, &d), 0);
    int64_t n = -1;
    assert_int_equal(mdp_cost_query_scan(lake, "select * from FACT_EMAIL_EVENTS", &n, &d), 0);
    assert_int_equal(n, 1234);
    /* a view named twice counts once; the spec name and the alias of ml/features both count */
    assert_int_equal(mdp_cost_query_scan(lake,
                                         "select * from fact_email_events a join fact_email_events "
                                         "b using (x), ml_user_features",
                                         &n, &d),
                     0);
    assert_int_equal(n, 1334);
    assert_int_equal(mdp_cost_query_scan(lake, "select 1 from features", &n, &d), 0);
    assert_int_equal(n, 100);
    /* a longer identifier is another name */
    assert_int_equal(mdp_cost_query_scan(lake, "select * from fact_email_events_x", &n, &d), 0);
    assert_int_equal(n, 0);
    mdp_lake_close(lake);
    tu_rmdir(dir);
}

static int count_key(const char *key, int64_t size, void *ud)
{
    (void)key;
    (void)size;
    ++*(int64_t *)ud;
    return 0;
}

static void test_run_records_claim_requests_once(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    struct mdp_run outer, inner, r;
    mdp_run_begin(&outer, "outer");
    assert_int_equal(mdp_run_end(lake, &outer, "ok", &d), 0); /* claims what came before */
    mdp_run_begin(&outer, "outer");
    for (int i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof key, "x/%d", i);
        assert_int_equal(mdp_store_put(lake->store, key, "a", 1, 0, &d), 0);
    }
    mdp_run_begin(&inner, "inner");
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_store_get(lake->store, "x/0", &b, &d), 0);
    int64_t size;
    assert_int_equal(mdp_store_head(lake->store, "x/1", &size, &d), 0);
    assert_int_equal(mdp_run_end(lake, &inner, "ok", &d), 0);
    /* inner: 3 puts, 2 gets (get + head), its own put */
    assert_int_equal(inner.puts, 4);
    assert_int_equal(inner.gets, 2);
    assert_int_equal(mdp_store_put(lake->store, "x/9", "a", 1, 0, &d), 0);
    assert_int_equal(mdp_run_end(lake, &outer, "ok", &d), 0);
    assert_int_equal(outer.puts, 2); /* x/9 and its own: not the inner's again */
    assert_int_equal(outer.gets, 0);
    /* a listing: one request, plus one per further 1,000 keys */
    mdp_run_begin(&r, "list");
    for (int i = 0; i < 1000; i++) {
        char key[32];
        snprintf(key, sizeof key, "y/%04d", i);
        assert_int_equal(mdp_store_put(lake->store, key, "", 0, MDP_PUT_NO_SYNC, &d), 0);
    }
    assert_int_equal(mdp_run_end(lake, &r, "ok", &d), 0);
    mdp_run_begin(&r, "list");
    int64_t keys = 0;
    assert_int_equal(mdp_store_list(lake->store, "y/", count_key, &keys, &d), 0);
    assert_int_equal(keys, 1000);
    assert_int_equal(mdp_run_end(lake, &r, "ok", &d), 0);
    assert_int_equal(r.lists, 2);
    /* the record carries the counts, and the run log reads them back */
    mdp_buf_reset(&b);
    char key[128], date[11];
    mdp_date_format(mdp_days_from_ms(r.start_ms), date, sizeof date);
    snprintf(key, sizeof key, "_meta/runs/dt=%s/%s.json", date, r.run_id);
    assert_int_equal(mdp_store_get(lake->store, key, &b, &d), 0);
    assert_non_null(strstr(b.data, "\"requests\":{\"put\":1,\"get\":0,\"list\":2}"));
    mdp_buf_cleanup(&b);
    mdp_lake_close(lake);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_month_to_date_and_forecast),
        cmocka_unit_test(test_query_scan_counts_named_tables),
        cmocka_unit_test(test_run_records_claim_requests_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
