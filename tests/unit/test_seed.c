/* Unit tests of the seed generator (determinism, the bad-record mix) and of the ingest stage end to
 * end (what is kept, what is quarantined and why, idempotence, the run log), on crafted inputs. */
#include "testutil.h"
#include "mdp/lake.h"
#include "mdp/pipeline.h"
#include "mdp/seed.h"
#include "mdp/hash.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <dirent.h>
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

static void seed_opts(const char *dir, uint64_t seed, double bad, size_t budget, int single,
                      struct mdp_seed_stats *st, struct digest *g)
{
    struct mdp_store *s;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_open(dir, 1, &s, &d), 0);
    struct mdp_seed_opts o = {60,     10,    seed, bad, 20362, "495696125", "Europe/Berlin",
                              budget, single};
    int rc = mdp_seed_generate(&o, s, st, &d);
    if (rc) fail_msg("%s", d.msg);
    g->s = s;
    mdp_buf_init(&g->all);
    mdp_buf_init(&g->keys);
    g->files = 0;
    assert_int_equal(mdp_store_list(s, "", digest_cb, g, &d), 0);
    mdp_store_close(s);
}

static void seed_budget(const char *dir, uint64_t seed, double bad, size_t budget,
                        struct mdp_seed_stats *st, struct digest *g)
{
    seed_opts(dir, seed, bad, budget, 0, st, g);
}

static void seed_into(const char *dir, uint64_t seed, double bad, struct mdp_seed_stats *st,
                      struct digest *g)
{
    seed_budget(dir, seed, bad, 0, st, g);
}

static int entries(const char *dir)
{
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    int n = 0;
    for (struct dirent *e; (e = readdir(dh));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(dh);
    return n;
}

/* Issue 11, defect 8: a run streams through per-day spools that go to scratch files when memory
 * is short. Spilling (here after every few KiB: sorted runs merged per day) must not change a
 * byte, and the scratch folder must be gone afterwards. */
static void test_seed_spilled_spools_same_bytes(void **st)
{
    (void)st;
    char *a = tu_tmpdir(), *b = tu_tmpdir(), *scratch = tu_tmpdir();
    const char *old = getenv("TMPDIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("TMPDIR", scratch, 1);
    struct mdp_seed_stats sa, sb;
    struct digest ga, gb;
    seed_budget(a, 5, 0.05, 0, &sa, &ga);
    seed_budget(b, 5, 0.05, 4096, &sb, &gb);
    assert_int_equal(entries(scratch), 0); /* spilled, then cleaned up */
    if (saved) {
        setenv("TMPDIR", saved, 1);
        free(saved);
    } else {
        unsetenv("TMPDIR");
    }
    assert_int_equal(ga.files, gb.files);
    assert_int_equal(ga.all.len, gb.all.len);
    assert_memory_equal(ga.all.data, gb.all.data, ga.all.len);
    mdp_buf_cleanup(&ga.all);
    mdp_buf_cleanup(&gb.all);
    mdp_buf_cleanup(&ga.keys);
    mdp_buf_cleanup(&gb.keys);
    tu_rmdir(a);
    tu_rmdir(b);
    tu_rmdir(scratch);
}

/* Issue 11, defect 8: the run uses both cores (landing puts, the spools' stores and spills, the
 * app events' days on threads of their own). Threads must not change a byte nor a count: a run on
 * one thread and a threaded one, both spilling (and the threaded one also without spilling), make
 * the same files with the same bytes, and leave no scratch files. */
static void test_seed_threads_same_bytes(void **st)
{
    (void)st;
    char *a = tu_tmpdir(), *b = tu_tmpdir(), *c = tu_tmpdir(), *scratch = tu_tmpdir();
    const char *old = getenv("TMPDIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("TMPDIR", scratch, 1);
    struct mdp_seed_stats sa, sb, sc;
    struct digest ga, gb, gc;
    seed_opts(a, 11, 0.05, 8192, 1, &sa, &ga);
    seed_opts(b, 11, 0.05, 8192, 0, &sb, &gb);
    seed_opts(c, 11, 0.05, 0, 0, &sc, &gc);
    assert_int_equal(entries(scratch), 0);
    if (saved) {
        setenv("TMPDIR", saved, 1);
        free(saved);
    } else {
        unsetenv("TMPDIR");
    }
    assert_true(ga.files > 100); /* every source, many days */
    assert_int_equal(sa.files, ga.files);
    assert_memory_equal(&sa, &sb, sizeof sa);
    assert_memory_equal(&sa, &sc, sizeof sa);
    assert_int_equal(ga.files, gb.files);
    assert_int_equal(ga.files, gc.files);
    assert_int_equal(ga.all.len, gb.all.len);
    assert_memory_equal(ga.all.data, gb.all.data, ga.all.len);
    assert_int_equal(ga.all.len, gc.all.len);
    assert_memory_equal(ga.all.data, gc.all.data, ga.all.len);
    struct digest *gs[] = {&ga, &gb, &gc};
    for (int i = 0; i < 3; i++) {
        mdp_buf_cleanup(&gs[i]->all);
        mdp_buf_cleanup(&gs[i]->keys);
    }
    tu_rmdir(a);
    tu_rmdir(b);
    tu_rmdir(c);
    tu_rmdir(scratch);
}

/* A landing folder that cannot take a source's files: the run fails with the store's precise
 * error (also when the failing put was made by a writer thread) and leaves no scratch files. */
static void test_seed_failed_put_is_reported(void **st)
{
    (void)st;
    char *a = tu_tmpdir(), *scratch = tu_tmpdir(), path[1024];
    snprintf(path, sizeof path, "%s/gbp", a);
    assert_int_equal(tu_write(path, "not a folder", 12), 0);
    const char *old = getenv("TMPDIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("TMPDIR", scratch, 1);
    struct mdp_store *s;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_open(a, 1, &s, &d), 0);
    struct mdp_seed_opts o = {60, 10, 4, 0.01, 20362, "495696125", "Europe/Berlin", 4096, 0};
    struct mdp_seed_stats stats;
    assert_int_not_equal(mdp_seed_generate(&o, s, &stats, &d), 0);
    if (!strstr(d.msg, "gbp")) fail_msg("the error does not name the folder: %s", d.msg);
    mdp_store_close(s);
    assert_int_equal(entries(scratch), 0);
    if (saved) {
        setenv("TMPDIR", saved, 1);
        free(saved);
    } else {
        unsetenv("TMPDIR");
    }
    tu_rmdir(a);
    tu_rmdir(scratch);
}

/* the first n-byte needle in [p, end), or NULL (the digest holds NULs: no strstr) */
static const char *find(const char *p, const char *end, const char *needle, size_t n)
{
    for (; p + n <= end; p++)
        if (*p == *needle && memcmp(p, needle, n) == 0) return p;
    return NULL;
}

/* Issue 11: user, account and location ids are UUIDv7 (ingest quarantines other versions), and
 * so are the events' own ids. Checks every id of every seeded app event. */
static void test_seed_ids_are_uuid7(void **st)
{
    (void)st;
    char *a = tu_tmpdir();
    struct mdp_seed_stats s;
    struct digest g;
    seed_into(a, 9, 0.0, &s, &g);
    static const char *const keys[] = {"\"event_id\":\"", "\"user_id\":\"", "\"account_id\":\"",
                                       "\"location_id\":\""};
    long checked = 0;
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        size_t klen = strlen(keys[k]);
        for (const char *p = g.all.data; (p = find(p, g.all.data + g.all.len, keys[k], klen));) {
            p += klen;
            char id[37];
            memcpy(id, p, 36);
            id[36] = '\0';
            struct mdp_uuid u;
            if (mdp_uuid_parse(id, &u) != 0 || mdp_uuid_version(&u) != 7)
                fail_msg("%.*s%s is not a UUIDv7", (int)klen, keys[k], id);
            checked++;
        }
    }
    assert_true(checked > 4 * s.events / 2);
    mdp_buf_cleanup(&g.all);
    mdp_buf_cleanup(&g.keys);
    tu_rmdir(a);
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
    struct mdp_seed_opts o = {0, 10, 1, 0, 20362, "1", "UTC", 0, 0};
    struct mdp_seed_stats s;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_seed_generate(&o, NULL, &s, &d), MDP_ERR_INVALID);
    o.users = 1;
    o.bad_rate = 0.9;
    assert_int_equal(mdp_seed_generate(&o, NULL, &s, &d), MDP_ERR_INVALID);
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

static void test_ingest_stage_end_to_end(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    char landing[1024], path[1200];
    struct mdp_config cfg;
    tu_lake_config(dir, &cfg, landing, sizeof landing);
    struct mdp_store *ls;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_open(landing, 1, &ls, &d), 0);
    const char *ev =
        "{\"event_id\":\"017f22e2-79b0-7cc3-98c4-dc0c0c07398f\",\"user_id\":"
        "\"017f22e2-79b0-7cc3-98c4-dc0c0c07398a\",\"timestamp\":\"2026-10-01T10:00:00Z\","
        "\"event_type\":\"page_view\"}\n{\"event_id\":\n";
    assert_int_equal(mdp_store_put(ls, "events/dt=2026-10-01/events.ndjson", ev, strlen(ev), 0, &d),
                     0);
    assert_int_equal(mdp_store_put(ls, "mystery/file.bin", "??", 2, 0, &d), 0);
    mdp_store_close(ls);
    struct mdp_lake *lake;
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    cfg.ingest_max_quarantine_share = 1.0; /* half of this tiny delivery is bad on purpose */
    struct collected col = {0};
    struct mdp_stage_ctx ctx = {&cfg, lake, -1, on_run, &col, 0};
    if (mdp_pipeline_run(&ctx, &d)) fail_msg("%s", d.msg);
    const struct mdp_run *r = find_run(&col, "ingest.events");
    assert_int_equal(r->in, 2);
    assert_int_equal(r->out, 1);
    assert_int_equal(r->quarantined, 1);
    char newest[32];
    mdp_time_format_ms(r->newest_event_ms, newest, sizeof newest);
    assert_string_equal(newest, "2026-10-01T10:00:00.000Z");
    r = find_run(&col, "ingest.unknown");
    assert_int_equal(r->quarantined, 1); /* an unknown drop is kept, in quarantine */
    r = find_run(&col, "inventory");
    assert_int_equal(r->out, 3); /* raw object + 2 quarantine batches */
    assert_string_equal(r->status, "ok");
    /* the raw object is the delivered bytes, unchanged, named by their SHA-256 */
    char hex[65];
    mdp_sha256_hex(ev, strlen(ev), hex);
    snprintf(path, sizeof path, "%s/raw/events/app_events/dt=2026-10-01/%.32s.ndjson", dir, hex);
    size_t rawlen = 0;
    char *raw = tu_read(path, &rawlen);
    assert_non_null(raw);
    assert_int_equal(rawlen, strlen(ev));
    assert_memory_equal(raw, ev, rawlen);
    free(raw);
    /* a second run lands nothing new */
    col.n = 0;
    assert_int_equal(mdp_pipeline_run(&ctx, &d), 0);
    r = find_run(&col, "ingest.events");
    assert_int_equal(r->in, 0);
    assert_non_null(strstr(r->message, "1 deliveries, 1 taken before"));
    /* an unknown stage is refused before anything runs */
    assert_int_equal(mdp_strlist_set(&cfg.pipeline_stages, "ingest,curate_everything"), 0);
    col.n = 0;
    assert_int_equal(mdp_pipeline_run(&ctx, &d), MDP_ERR_CONFIG);
    assert_int_equal(col.n, 0);
    assert_non_null(strstr(d.msg, "curate_everything"));
    mdp_lake_close(lake);
    mdp_config_cleanup(&cfg);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_same_seed_same_bytes),
        cmocka_unit_test(test_seed_no_bad_records_at_rate_zero),
        cmocka_unit_test(test_seed_spilled_spools_same_bytes),
        cmocka_unit_test(test_seed_threads_same_bytes),
        cmocka_unit_test(test_seed_ids_are_uuid7),
        cmocka_unit_test(test_seed_failed_put_is_reported),
        cmocka_unit_test(test_seed_rejects_bad_options),
        cmocka_unit_test(test_ingest_stage_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
