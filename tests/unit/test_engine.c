/* Unit tests of the DuckDB wrapper: SQL, streamed results, the appender, and partitioned ZSTD
 * Parquet written into the lake, published and read back through the manifest; and the lookup of
 * the serving snapshot the features job writes. */
#include "testutil.h"
#include "mdp/engine.h"
#include "mdp/model.h"
#include "mdp/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rows {
    int ncols, nrows;
    char first[4][64];
    char header[4][32];
    long long sum;
};

static int on_header(void *ud, int ncols, const char *const *names)
{
    struct rows *r = ud;
    r->ncols = ncols;
    for (int i = 0; i < ncols && i < 4; i++)
        snprintf(r->header[i], 32, "%s", names[i]);
    return 0;
}

static int on_row(void *ud, int ncols, const char *const *v)
{
    struct rows *r = ud;
    if (r->nrows == 0)
        for (int i = 0; i < ncols && i < 4; i++)
            snprintf(r->first[i], 64, "%s", v[i] ? v[i] : "<null>");
    if (v[0]) r->sum += atoll(v[0]);
    r->nrows++;
    return 0;
}

static void test_query_streams_all_rows(void **st)
{
    (void)st;
    struct mdp_engine *e;
    struct mdp_diag d = {0};
    struct mdp_engine_opts o = {NULL, 2, "512MB"};
    assert_int_equal(mdp_engine_open(&o, &e, &d), 0);
    struct rows r = {0};
    struct mdp_rows_cb cb = {on_header, on_row, &r};
    /* more rows than one chunk, a NULL, a timestamp and a decimal, all rendered as text */
    assert_int_equal(
        mdp_engine_query(e,
                         "SELECT i AS n, CASE WHEN i = 0 THEN NULL ELSE 'x' END AS s, "
                         "TIMESTAMP '2024-11-05 14:03:27.512' AS ts, 12.5::DECIMAL(10,2) AS d "
                         "FROM range(100000) t(i)",
                         &cb, &d),
        0);
    assert_int_equal(r.ncols, 4);
    assert_string_equal(r.header[0], "n");
    assert_string_equal(r.header[3], "d");
    assert_int_equal(r.nrows, 100000);
    assert_int_equal(r.sum, 4999950000LL);
    assert_string_equal(r.first[1], "<null>");
    assert_string_equal(r.first[2], "2024-11-05 14:03:27.512");
    assert_string_equal(r.first[3], "12.50");
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_engine_scalar(e, "SELECT version()", &b, &d), 0);
    assert_non_null(strstr(b.data, "v1.4"));
    /* errors carry DuckDB's message */
    assert_int_equal(mdp_engine_exec(e, "SELEC 1", &d), MDP_ERR_ENGINE);
    assert_non_null(strstr(d.msg, "syntax error"));
    assert_int_equal(mdp_engine_query(e, "SELECT * FROM no_such_table", &cb, &d), MDP_ERR_ENGINE);
    assert_non_null(strstr(d.msg, "no_such_table"));
    mdp_buf_cleanup(&b);
    mdp_engine_close(e);
}

static void test_appender_and_parquet_table(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_lake *lake;
    struct mdp_engine *e;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    assert_int_equal(mdp_engine_open(NULL, &e, &d), 0);
    assert_int_equal(
        mdp_engine_exec(e,
                        "CREATE TABLE ev (event_id VARCHAR, date_key INTEGER, n BIGINT, "
                        "ok BOOLEAN, score DOUBLE)",
                        &d),
        0);
    struct mdp_appender *a;
    assert_int_equal(mdp_appender_open(e, "ev", &a, &d), 0);
    for (int i = 0; i < 3000; i++) {
        char id[32];
        snprintf(id, sizeof id, "e%05d", i);
        assert_int_equal(mdp_append_str(a, id), 0);
        assert_int_equal(mdp_append_i64(a, 20261001 + i % 3), 0);
        assert_int_equal(i % 7 ? mdp_append_i64(a, i) : mdp_append_null(a), 0);
        assert_int_equal(mdp_append_bool(a, i % 2), 0);
        assert_int_equal(mdp_append_f64(a, i / 2.0), 0);
        assert_int_equal(mdp_append_end_row(a, &d), 0);
    }
    assert_int_equal(mdp_appender_close(a, &d), 0);
    int64_t rows = 0;
    assert_int_equal(mdp_engine_write_table(e, lake, "SELECT * FROM ev", "curated/facts/fact_test",
                                            "date_key", "run1", &rows, &d),
                     0);
    assert_int_equal(rows, 3000);
    struct mdp_manifest m;
    assert_int_equal(mdp_lake_current(lake, "curated/facts/fact_test", &m, &d), 0);
    assert_int_equal(m.nfiles, 3); /* one per date_key */
    for (size_t i = 0; i < m.nfiles; i++) {
        assert_non_null(strstr(m.files[i].key, "/run-run1/date_key=2026100"));
        assert_int_equal(m.files[i].rows, 1000);
    }
    mdp_manifest_cleanup(&m);
    /* read back through the published state, partition column restored from the path */
    assert_int_equal(mdp_engine_attach_table(e, lake, "curated/facts/fact_test", "fact_test", &d),
                     0);
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(
        mdp_engine_scalar(e,
                          "SELECT count(*) || ',' || count(n) || ',' || sum(date_key) || ',' "
                          "|| count(DISTINCT event_id) FROM fact_test",
                          &b, &d),
        0);
    assert_string_equal(b.data, "3000,2571,60783006000,3000");
    /* ZSTD as promised */
    char path[1024];
    snprintf(path, sizeof path,
             "SELECT DISTINCT compression FROM "
             "parquet_metadata('%s/curated/facts/fact_test/run-run1/*/*.parquet')",
             dir);
    assert_int_equal(mdp_engine_scalar(e, path, &b, &d), 0);
    assert_string_equal(b.data, "ZSTD");
    /* a second publication replaces the first for readers, atomically */
    assert_int_equal(mdp_engine_write_table(e, lake, "SELECT * FROM ev WHERE n > 10",
                                            "curated/facts/fact_test", NULL, "run2", &rows, &d),
                     0);
    assert_int_equal(mdp_engine_attach_table(e, lake, "curated/facts/fact_test", "fact_test", &d),
                     0);
    assert_int_equal(mdp_engine_scalar(e, "SELECT count(*) FROM fact_test", &b, &d), 0);
    assert_int_equal(atoll(b.data), rows);
    mdp_buf_cleanup(&b);
    mdp_engine_close(e);
    mdp_lake_close(lake);
    tu_rmdir(dir);
}

static void test_sql_quote(void **st)
{
    (void)st;
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_sql_quote(&b, "it's");
    assert_string_equal(b.data, "'it''s'");
    mdp_buf_cleanup(&b);
}

/* Issue 11, defect 2: the views and catalog tables carry the spec's names; the short folder names
 * of the derived tables stay as aliases. */
static void test_table_spec_names_issue11(void **st)
{
    (void)st;
    const char *alias = "x";
    assert_string_equal(mdp_table_spec_name("ml/features", &alias), "ml_user_features");
    assert_string_equal(alias, "features");
    assert_string_equal(mdp_table_spec_name("ml/segments", &alias), "ml_user_segments");
    assert_string_equal(alias, "segments");
    assert_string_equal(mdp_table_spec_name("curated/facts/fact_email_events", &alias),
                        "fact_email_events");
    assert_null(alias);
    assert_string_equal(mdp_table_spec_name("curated/dimensions/identity_links", NULL),
                        "identity_links");
}

/* mdp_snapshot_find compares ids as two 64-bit halves: ids sharing their first 8 bytes (UUIDv7s of
 * one millisecond), bytes over 0x7f in either half, and absent ids between and beyond them */
static void test_snapshot_find(void **st)
{
    (void)st;
    struct mdp_snapshot_writer w;
    mdp_snapshot_writer_init(&w);
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        struct mdp_snapshot_rec r = {0};
        r.user_id[0] = (uint8_t)(i % 3 == 0 ? 0x01 : 0xf0); /* a third share one high half */
        r.user_id[7] = (uint8_t)(i % 3 == 2 ? i % 256 : 0);
        r.user_id[8] = (uint8_t)(i * 7 % 256);    /* the low half differs, over 0x7f too */
        r.user_id[15] = (uint8_t)(2 * (i / 256)); /* even: odd ones are absent */
        r.onb_day = (int16_t)i;
        assert_int_equal(mdp_snapshot_writer_add(&w, &r), 0);
    }
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_snapshot_writer_bytes(&w, 20000, &b), 0);
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/snap.bin", dir);
    assert_int_equal(tu_write(path, b.data, b.len), 0);
    struct mdp_snapshot *s = NULL;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_snapshot_open(path, &s, &d), 0);
    int found = 0, absent = 0;
    for (int i = 0; i < N; i++) {
        const struct mdp_snapshot_rec *r = &w.v[i];
        const struct mdp_snapshot_rec *f = mdp_snapshot_find(s, r->user_id);
        if (f && memcmp(f->user_id, r->user_id, 16) == 0 && f->onb_day == r->onb_day) found++;
        uint8_t miss[16];
        memcpy(miss, r->user_id, 16);
        miss[15] |= 1;
        absent += mdp_snapshot_find(s, miss) == NULL;
        miss[15] = r->user_id[15];
        miss[0] = 0x80; /* between the two high halves */
        absent += mdp_snapshot_find(s, miss) == NULL;
    }
    assert_int_equal(mdp_snapshot_count(s), N);
    assert_int_equal(found, N);
    assert_int_equal(absent, 2 * N);
    mdp_snapshot_close(s);
    mdp_buf_cleanup(&b);
    mdp_snapshot_writer_cleanup(&w);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_streams_all_rows),
        cmocka_unit_test(test_appender_and_parquet_table),
        cmocka_unit_test(test_sql_quote),
        cmocka_unit_test(test_table_spec_names_issue11),
        cmocka_unit_test(test_snapshot_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
