/* Unit tests of the seed generator (determinism, the bad-record mix) and of the land stage (what is
 * kept, what is quarantined and why, idempotence), on crafted inputs with known defects. */
#include "testutil.h"
#include "mdp/lake.h"
#include "mdp/pipeline.h"
#include "mdp/seed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct digest {
    struct mdp_store *s;
    struct mdp_buf all;  /* key NUL content ... */
    struct mdp_buf keys; /* "\n" key "\n" key ... */
    int files;
};

static int digest_cb(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct digest *g = ud;
    struct mdp_buf b;
    mdp_buf_init(&b);
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_get(g->s, key, &b, &d), 0);
    mdp_buf_puts(&g->all, key);
    mdp_buf_putc(&g->all, 0);
    mdp_buf_printf(&g->keys, "\n%s", key);
    mdp_buf_append(&g->all, b.data ? b.data : "", b.len);
    mdp_buf_cleanup(&b);
    g->files++;
    return 0;
}

static void seed_into(const char *dir, uint64_t seed, double bad, struct mdp_seed_stats *st,
                      struct digest *g)
{
    struct mdp_store *s;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_open(dir, 1, &s, &d), 0);
    struct mdp_seed_opts o = {60, 10, seed, bad, 20362, "495696125", "Europe/Berlin"};
    int rc = mdp_seed_generate(&o, s, st, &d);
    if (rc) fail_msg("%s", d.msg);
    g->s = s;
    mdp_buf_init(&g->all);
    mdp_buf_init(&g->keys);
    g->files = 0;
    assert_int_equal(mdp_store_list(s, "", digest_cb, g, &d), 0);
    mdp_store_close(s);
}

static void test_seed_same_seed_same_bytes(void **st)
{
    (void)st;
    char *a = tu_tmpdir(), *b = tu_tmpdir(), *c = tu_tmpdir();
    struct mdp_seed_stats sa, sb, sc;
    struct digest ga, gb, gc;
    seed_into(a, 7, 0.05, &sa, &ga);
    seed_into(b, 7, 0.05, &sb, &gb);
    seed_into(c, 8, 0.05, &sc, &gc);
    assert_true(ga.files > 50);
    assert_int_equal(ga.files, (int)sa.files);
    assert_int_equal(ga.all.len, gb.all.len);
    assert_memory_equal(ga.all.data, gb.all.data, ga.all.len);
    assert_true(gc.all.len != ga.all.len || memcmp(ga.all.data, gc.all.data, ga.all.len) != 0);
    /* every source is there */
    const char *prefixes[] = {"supabase/user_profiles/",
                              "supabase/onboarding_progress/",
                              "supabase/communication_prefs/",
                              "supabase/accounts/",
                              "supabase/locations/",
                              "supabase/visibility_checks/",
                              "supabase/oauth_logins/",
                              "events/dt=",
                              "ses/sqs/dt=",
                              "dynamodb/firehose/",
                              "ga4/runreport/dt=",
                              "gbp/locations/dt=",
                              "meta/me_accounts/",
                              "meta/pages/",
                              "meta/ig_users/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        char needle[128];
        snprintf(needle, sizeof needle, "\n%s", prefixes[i]);
        if (!strstr(ga.keys.data, needle)) fail_msg("no file under %s", prefixes[i]);
    }
    assert_true(sa.bad_truncated + sa.bad_missing_id + sa.bad_unknown_enum + sa.bad_duplicate > 0);
    mdp_buf_cleanup(&ga.all);
    mdp_buf_cleanup(&gb.all);
    mdp_buf_cleanup(&gc.all);
    mdp_buf_cleanup(&ga.keys);
    mdp_buf_cleanup(&gb.keys);
    mdp_buf_cleanup(&gc.keys);
    tu_rmdir(a);
    tu_rmdir(b);
    tu_rmdir(c);
}

static void test_seed_no_bad_records_at_rate_zero(void **st)
{
    (void)st;
    char *a = tu_tmpdir();
    struct mdp_seed_stats s;
    struct digest g;
    seed_into(a, 3, 0.0, &s, &g);
    assert_int_equal(s.bad_truncated + s.bad_missing_id + s.bad_unknown_enum + s.bad_duplicate +
                         s.bad_bad_timestamp,
                     0);
    assert_true(s.events > 100 && s.ses_messages > 10 && s.ddb_records > 50);
    mdp_buf_cleanup(&g.all);
    mdp_buf_cleanup(&g.keys);
    tu_rmdir(a);
}

static void test_seed_rejects_bad_options(void **st)
{
    (void)st;
    struct mdp_seed_opts o = {0, 10, 1, 0, 20362, "1", "UTC"};
    struct mdp_seed_stats s;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_seed_generate(&o, NULL, &s, &d), MDP_ERR_INVALID);
    o.users = 1;
    o.bad_rate = 0.9;
    assert_int_equal(mdp_seed_generate(&o, NULL, &s, &d), MDP_ERR_INVALID);
}

static void check(const char *key, const char *data, int64_t in, int64_t out, int64_t q,
                  const char *reason)
{
    struct mdp_land_counts c = {0};
    struct mdp_quarantine qu;
    mdp_quarantine_init(&qu, "s", "d", 0);
    assert_int_equal(mdp_land_check(key, data, strlen(data), &c, &qu), 0);
    if (c.in != in || c.out != out || c.quarantined != q)
        fail_msg("%s: in/out/q %lld/%lld/%lld, want %lld/%lld/%lld", key, (long long)c.in,
                 (long long)c.out, (long long)c.quarantined, (long long)in, (long long)out,
                 (long long)q);
    if (reason && (!qu.lines.data || !strstr(qu.lines.data, reason)))
        fail_msg("%s: quarantine lacks reason %s: %s", key, reason,
                 qu.lines.data ? qu.lines.data : "");
    mdp_quarantine_cleanup(&qu);
}

static void test_land_checks(void **st)
{
    (void)st;
    /* CSV as COPY writes it: quoted newlines and commas are one field */
    check("supabase/accounts/dt=2026-10-01/accounts.csv", "a,b,c\n1,\"x,\ny\",3\n4,5,6\n", 2, 2, 0,
          NULL);
    check("supabase/accounts/dt=2026-10-01/accounts.csv", "a,b,c\n1,2\n4,5,6\n", 2, 1, 1,
          "csv_column_count");
    check("supabase/accounts/dt=2026-10-01/accounts.csv", "a,b,c\n1,2,3\n4,5", 2, 1, 1,
          "csv_truncated");
    check("supabase/accounts/dt=2026-10-01/accounts.csv", "a,\"b\nc,1\n3", 1, 0, 1,
          "csv_unterminated_quote"); /* found by fuzz_land: a header that never ends */
    check("supabase/accounts/dt=2026-10-01/accounts.csv", "a,b,c\n1,\"2,3\n", 1, 0, 1,
          "csv_unterminated_quote");
    /* NDJSON: one object per line, CRLF tolerated, blank lines skipped */
    check("events/dt=2026-10-01/e.ndjson", "{\"a\":1}\r\n\n{\"a\":2}\n{\"a\":\n[1]\n{} {}\n", 5, 2,
          3, "json_truncated");
    check("events/dt=2026-10-01/e.ndjson", "[1]\n", 1, 0, 1, "json_not_object");
    /* Firehose: concatenated, a cut record between two good ones costs only itself */
    const char *rec = "{\"awsRegion\":\"x\",\"dynamodb\":{\"Keys\":{\"k\":{\"S\":\"v\"}}}}";
    char obj[1024];
    snprintf(obj, sizeof obj, "%s%.30s%s%s", rec, rec, rec, rec);
    check("dynamodb/firehose/2026/10/01/00/x", obj, 4, 3, 1, "json_");
    snprintf(obj, sizeof obj, "%s\n%s\n", rec, rec);
    check("dynamodb/firehose/2026/10/01/00/x", obj, 2, 2, 0, NULL);
    /* SQS event: a truncated body is one quarantined record, the rest stand */
    check("ses/sqs/dt=2026-10-01/b.json",
          "{\"Records\":[{\"body\":\"{\\\"Type\\\":\\\"Notification\\\",\\\"TopicArn\\\":\\\"t\\\","
          "\\\"Message\\\":\\\"{\\\\\\\"eventType\\\\\\\":\\\\\\\"Open\\\\\\\"}\\\"}\"},"
          "{\"body\":\"{\\\"Type\\\":\\\"Notif\"},"
          "{\"body\":\"{\\\"eventType\\\":\\\"Open\\\"}\"}]}",
          3, 2, 1, "sns_body_truncated");
    check("ses/sqs/dt=2026-10-01/b.json",
          "{\"Records\":[{\"body\":\"{\\\"Type\\\":\\\"Notification\\\","
          "\\\"TopicArn\\\":\\\"t\\\",\\\"Message\\\":\\\"not json\\\"}\"}]}",
          1, 0, 1, "sns_message_invalid");
    check("ses/sqs/dt=2026-10-01/b.json", "{\"Records\":", 1, 0, 1, "json_truncated");
    check("gbp/locations/dt=2026-10-01/a.json", "{\"locations\":[]}", 1, 1, 0, NULL);
    check("gbp/locations/dt=2026-10-01/a.json", "{\"locations\":[]}}", 1, 0, 1, "json_invalid");
    struct mdp_land_counts c = {0};
    assert_int_equal(mdp_land_check("nowhere/x", "x", 1, &c, NULL), MDP_ERR_NOT_FOUND);
}

struct collected {
    struct mdp_run runs[32];
    int n;
};

static void on_run(const struct mdp_run *r, void *ud)
{
    struct collected *c = ud;
    if (c->n < 32) c->runs[c->n++] = *r;
}

static const struct mdp_run *find_run(struct collected *c, const char *job)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->runs[i].job, job) == 0) return &c->runs[i];
    fail_msg("no run %s", job);
    return NULL;
}

static void test_land_stage_end_to_end(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    char landing[1024], path[1200];
    snprintf(landing, sizeof landing, "%s/landing", dir);
    struct mdp_config cfg;
    assert_int_equal(mdp_config_defaults(&cfg), 0);
    free(cfg.lake_dir);
    cfg.lake_dir = strdup(dir);
    free(cfg.landing_dir);
    cfg.landing_dir = strdup(landing);
    struct mdp_store *ls;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_open(landing, 1, &ls, &d), 0);
    const char *ev = "{\"event_id\":\"1\"}\n{\"event_id\":\n";
    assert_int_equal(mdp_store_put(ls, "events/dt=2026-10-01/events.ndjson", ev, strlen(ev), 0, &d),
                     0);
    assert_int_equal(mdp_store_put(ls, "mystery/file.bin", "??", 2, 0, &d), 0);
    mdp_store_close(ls);
    struct mdp_lake *lake;
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    struct collected col = {0};
    struct mdp_stage_ctx ctx = {&cfg, lake, -1, on_run, &col};
    assert_int_equal(mdp_pipeline_run(&ctx, &d), 0);
    const struct mdp_run *r = find_run(&col, "land.events");
    assert_int_equal(r->in, 2);
    assert_int_equal(r->out, 1);
    assert_int_equal(r->quarantined, 1);
    r = find_run(&col, "land.unknown");
    assert_int_equal(r->quarantined, 1); /* an unknown drop is kept, in quarantine */
    r = find_run(&col, "inventory");
    assert_int_equal(r->out, 3); /* raw object + 2 quarantine batches */
    assert_string_equal(r->status, "ok");
    /* the raw object is the delivered bytes, unchanged */
    snprintf(path, sizeof path, "%s/raw/events/app_events/dt=2026-10-01", dir);
    struct mdp_buf k;
    mdp_buf_init(&k);
    struct mdp_buf body;
    mdp_buf_init(&body);
    /* a second run lands nothing new */
    col.n = 0;
    assert_int_equal(mdp_pipeline_run(&ctx, &d), 0);
    r = find_run(&col, "land.events");
    assert_int_equal(r->in, 0);
    assert_int_equal(r->duplicates, 1);
    /* an unknown stage is refused before anything runs */
    free(cfg.pipeline_stages[1]);
    cfg.pipeline_stages[1] = strdup("curate_everything");
    col.n = 0;
    assert_int_equal(mdp_pipeline_run(&ctx, &d), MDP_ERR_CONFIG);
    assert_int_equal(col.n, 0);
    assert_non_null(strstr(d.msg, "curate_everything"));
    mdp_buf_cleanup(&k);
    mdp_buf_cleanup(&body);
    mdp_lake_close(lake);
    mdp_config_cleanup(&cfg);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_same_seed_same_bytes),
        cmocka_unit_test(test_seed_no_bad_records_at_rate_zero),
        cmocka_unit_test(test_seed_rejects_bad_options),
        cmocka_unit_test(test_land_checks),
        cmocka_unit_test(test_land_stage_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
