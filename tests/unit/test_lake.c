/* Unit tests of the object store's file backend and of the lake: atomic puts, conditional puts,
 * listing, a full disk, the raw writer, quarantine, manifests and the run log; and the crash test:
 * a publisher killed with SIGKILL at random points always leaves the old or the new state. */
#include "testutil.h"
#include "mdp/hash.h"
#include "mdp/lake.h"
#include "mdp/store.h"

#include <dirent.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void test_keys_are_validated(void **st)
{
    (void)st;
    assert_true(mdp_store_key_valid("raw/ses/sqs/dt=2026-10-01/a.json"));
    assert_false(mdp_store_key_valid(""));
    assert_false(mdp_store_key_valid("/abs"));
    assert_false(mdp_store_key_valid("a//b"));
    assert_false(mdp_store_key_valid("a/../b"));
    assert_false(mdp_store_key_valid("a/./b"));
    assert_false(mdp_store_key_valid("a/.tmp-x"));
    assert_false(mdp_store_key_valid("a/b\n"));
    assert_false(mdp_store_key_valid("a/"));
}

struct listed {
    char keys[16][128];
    int n;
};

static int list_cb(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct listed *l = ud;
    if (l->n < 16) snprintf(l->keys[l->n++], 128, "%s", key);
    return 0;
}

static void test_file_store_roundtrip(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_store *s;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_open(dir, 0, &s, &d), 0);
    assert_int_equal(mdp_store_put(s, "b/x.json", "{}", 2, 0, &d), 0);
    assert_int_equal(mdp_store_put(s, "a/y/z.txt", "hello", 5, 0, &d), 0);
    assert_int_equal(mdp_store_put(s, "a/y/z.txt", "world!", 6, 0, &d), 0); /* replace */
    assert_int_equal(mdp_store_put(s, "a/y/z.txt", "again", 5, MDP_PUT_IF_ABSENT, &d),
                     MDP_ERR_EXISTS);
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_store_get(s, "a/y/z.txt", &b, &d), 0);
    assert_string_equal(b.data, "world!");
    assert_int_equal(mdp_store_get(s, "a/none", &b, &d), MDP_ERR_NOT_FOUND);
    assert_int_equal(mdp_store_put(s, "../escape", "x", 1, 0, &d), MDP_ERR_INVALID);
    /* an in-flight temp file never shows in a listing */
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/a/.tmp-123-0-partial", dir);
    tu_write(tmp, "part", 4);
    struct listed l = {0};
    assert_int_equal(mdp_store_list(s, "", list_cb, &l, &d), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.keys[0], "a/y/z.txt");
    assert_string_equal(l.keys[1], "b/x.json");
    memset(&l, 0, sizeof l);
    assert_int_equal(mdp_store_list(s, "a/y/", list_cb, &l, &d), 0);
    assert_int_equal(l.n, 1);
    memset(&l, 0, sizeof l);
    assert_int_equal(mdp_store_list(s, "b/x", list_cb, &l, &d), 0); /* prefix of a name */
    assert_int_equal(l.n, 1);
    assert_int_equal(mdp_store_delete(s, "b/x.json", &d), 0);
    assert_int_equal(mdp_store_delete(s, "b/x.json", &d), MDP_ERR_NOT_FOUND);
    mdp_buf_cleanup(&b);
    mdp_store_close(s);
    tu_rmdir(dir);
}

static void test_streaming_writer(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_store *s;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_open(dir, 0, &s, &d), 0);
    assert_int_equal(mdp_store_put(s, "x/obj", "old", 3, 0, &d), 0);
    struct mdp_store_writer *w;
    assert_int_equal(mdp_store_writer_open(s, "x/obj", &w, &d), 0);
    char chunk[4096];
    memset(chunk, 'a', sizeof chunk);
    for (int i = 0; i < 700; i++)
        assert_int_equal(w->write(w, chunk, sizeof chunk, &d), 0); /* > its buffer */
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_store_get(s, "x/obj", &b, &d), 0);
    assert_string_equal(b.data, "old"); /* nothing visible before commit */
    /* nor in the folder: a reader's glob (DuckDB's matches dot files) sees only "obj" */
    char xdir[1024];
    snprintf(xdir, sizeof xdir, "%s/x", dir);
    int entries = 0;
    DIR *xh = opendir(xdir);
    for (struct dirent *e; xh && (e = readdir(xh));)
        entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (xh) closedir(xh);
    assert_int_equal(entries, 1);
    assert_int_equal(w->commit(w, &d), 0);
    assert_int_equal(mdp_store_get(s, "x/obj", &b, &d), 0);
    assert_int_equal(b.len, 700 * sizeof chunk);
    assert_int_equal(mdp_store_writer_open(s, "x/obj", &w, &d), 0);
    assert_int_equal(w->write(w, "new", 3, &d), 0);
    w->abort(w);
    assert_int_equal(mdp_store_get(s, "x/obj", &b, &d), 0);
    assert_int_equal(b.len, 700 * sizeof chunk); /* abort keeps the committed object */
    struct listed l = {0};
    assert_int_equal(mdp_store_list(s, "x/", list_cb, &l, &d), 0);
    assert_int_equal(l.n, 1);
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/x", dir);
    int temps = 0;
    DIR *dh = opendir(tmp);
    for (struct dirent *e; dh && (e = readdir(dh));)
        temps += strncmp(e->d_name, ".tmp-", 5) == 0;
    if (dh) closedir(dh);
    assert_int_equal(temps, 0);
    assert_int_equal(mdp_store_writer_open(s, "../x", &w, &d), MDP_ERR_INVALID);
    mdp_buf_cleanup(&b);
    mdp_store_close(s);
    /* what a crashed writer left in _tmp/ goes at the next open once it is a day old; a file
     * a live writer is still writing stays */
    char old[1100], fresh[1100];
    snprintf(old, sizeof old, "%s/_tmp/.tmp-1-1-obj", dir);
    snprintf(fresh, sizeof fresh, "%s/_tmp/.tmp-1-2-obj", dir);
    tu_write(old, "half", 4);
    tu_write(fresh, "half", 4);
    struct timespec two_days[2] = {{time(NULL) - 2 * 86400, 0}, {time(NULL) - 2 * 86400, 0}};
    assert_int_equal(utimensat(AT_FDCWD, old, two_days, 0), 0);
    assert_int_equal(mdp_store_open(dir, 0, &s, &d), 0);
    assert_int_equal(access(old, F_OK), -1);
    assert_int_equal(access(fresh, F_OK), 0);
    mdp_store_close(s);
    tu_rmdir(dir);
}

static void test_unusable_lake_paths(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    char path[1024];
    /* a folder that is not a lake */
    assert_int_equal(mdp_lake_open(dir, 0, &lake, &d), MDP_ERR_NOT_FOUND);
    assert_non_null(strstr(d.msg, "not a lake"));
    /* a file where the lake should be */
    snprintf(path, sizeof path, "%s/file", dir);
    tu_write(path, "x", 1);
    assert_int_not_equal(mdp_lake_open(path, 1, &lake, &d), 0);
    assert_non_null(strstr(d.msg, "not a folder"));
    /* a lake below a file */
    snprintf(path, sizeof path, "%s/file/lake", dir);
    assert_int_not_equal(mdp_lake_open(path, 1, &lake, &d), 0);
    assert_non_null(strstr(d.msg, "file"));
    assert_int_equal(mdp_store_open("s3://bucket/x", 0, &(struct mdp_store *){0}, &d),
                     MDP_ERR_UNSUPPORTED);
    tu_rmdir(dir);
}

static void test_full_disk_leaves_old_object(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_store *s;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_open(dir, 0, &s, &d), 0);
    assert_int_equal(mdp_store_put(s, "k/obj", "old", 3, 0, &d), 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* a 64 KiB file size limit makes write() fail like a full disk (EFBIG) */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {65536, 65536};
        setrlimit(RLIMIT_FSIZE, &rl);
        size_t n = 1 << 20;
        char *big = calloc(1, n);
        struct mdp_diag cd = {0};
        int rc = mdp_store_put(s, "k/obj", big, n, 0, &cd);
        _exit(rc == MDP_ERR_NOSPACE && strstr(cd.msg, "k/obj") ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_store_get(s, "k/obj", &b, &d), 0);
    assert_string_equal(b.data, "old");
    struct listed l = {0};
    char kdir[1024];
    snprintf(kdir, sizeof kdir, "%s/k", dir);
    assert_int_equal(mdp_store_list(s, "k/", list_cb, &l, &d), 0);
    assert_int_equal(l.n, 1); /* and no temp file was left behind */
    mdp_buf_cleanup(&b);
    mdp_store_close(s);
    tu_rmdir(dir);
}

static void test_raw_put_is_content_addressed(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    struct mdp_buf key;
    mdp_buf_init(&key);
    int existed = -1;
    const char *body = "{\"a\":1}\n";
    assert_int_equal(mdp_lake_raw_put(lake, "events", "app_events", 20362, body, strlen(body),
                                      "ndjson", &key, &existed, &d),
                     0);
    assert_int_equal(existed, 0);
    char hex[65];
    mdp_sha256_hex(body, strlen(body), hex);
    char want[256];
    snprintf(want, sizeof want, "raw/events/app_events/dt=2025-10-01/%.32s.ndjson", hex);
    assert_string_equal(key.data, want);
    assert_int_equal(mdp_lake_raw_put(lake, "events", "app_events", 20362, body, strlen(body),
                                      "ndjson", &key, &existed, &d),
                     0);
    assert_int_equal(existed, 1);
    assert_int_equal(mdp_lake_raw_put(lake, "Events", "x", 0, "", 0, NULL, NULL, NULL, &d),
                     MDP_ERR_INVALID);
    mdp_buf_cleanup(&key);
    mdp_lake_close(lake);
    tu_rmdir(dir);
}

static void test_quarantine_records(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "ses", "sqs", 20362);
    assert_int_equal(mdp_quarantine_add(&q, "json_truncated", "f.json:3", "cut", "{\"a\":", 5), 0);
    const unsigned char bin[] = {0xff, 0x00, 0x41};
    assert_int_equal(mdp_quarantine_add(&q, "binary", "f.bin", NULL, bin, 3), 0);
    assert_int_equal(mdp_quarantine_flush(&q, lake, "abc", &d), 0);
    mdp_quarantine_cleanup(&q);
    char path[1024];
    snprintf(path, sizeof path, "%s/raw/_quarantine/ses/sqs/dt=2025-10-01/abc.ndjson", dir);
    char *text = tu_read(path, NULL);
    assert_non_null(text);
    char *nl = strchr(text, '\n');
    *nl = '\0';
    json_object *a = json_tokener_parse(text), *b = json_tokener_parse(nl + 1), *v;
    assert_true(json_object_object_get_ex(a, "reason", &v));
    assert_string_equal(json_object_get_string(v), "json_truncated");
    assert_true(json_object_object_get_ex(a, "location", &v));
    assert_string_equal(json_object_get_string(v), "f.json:3");
    assert_true(json_object_object_get_ex(a, "payload", &v));
    assert_string_equal(json_object_get_string(v), "{\"a\":");
    assert_true(json_object_object_get_ex(b, "payload_encoding", &v));
    assert_string_equal(json_object_get_string(v), "base64");
    assert_true(json_object_object_get_ex(b, "payload", &v));
    assert_string_equal(json_object_get_string(v), "/wBB");
    json_object_put(a);
    json_object_put(b);
    free(text);
    mdp_lake_close(lake);
    tu_rmdir(dir);
}

static void publish_version(struct mdp_lake *lake, int v, int nfiles)
{
    struct mdp_manifest_file files[8];
    char keys[8][128], body[256];
    struct mdp_diag d = {0};
    for (int i = 0; i < nfiles; i++) {
        snprintf(keys[i], sizeof keys[i], "curated/facts/t/run=%d/part_%d.txt", v, i);
        int n = snprintf(body, sizeof body, "version %d file %d %0*d", v, i, 50 + 40 * i, v);
        if (mdp_store_put(lake->store, keys[i], body, (size_t)n, 0, &d)) _exit(3);
        files[i].key = keys[i];
        files[i].bytes = n;
        files[i].rows = 1;
        mdp_sha256_hex(body, (size_t)n, files[i].sha256);
    }
    if (mdp_lake_publish(lake, "curated/facts/t", files, (size_t)nfiles, "run", NULL, &d)) _exit(4);
}

/* Checks the current state: every listed file exists with its hash and all belong to one
 * version. Returns that version (0 when never published). */
static int check_state(struct mdp_lake *lake)
{
    struct mdp_manifest m;
    struct mdp_diag d = {0};
    int rc = mdp_lake_current(lake, "curated/facts/t", &m, &d);
    if (rc == MDP_ERR_NOT_FOUND) return 0;
    if (rc) fail_msg("current: %s", d.msg);
    assert_int_equal(m.nfiles, 4);
    int version = -1;
    struct mdp_buf b;
    mdp_buf_init(&b);
    for (size_t i = 0; i < m.nfiles; i++) {
        assert_int_equal(mdp_store_get(lake->store, m.files[i].key, &b, &d), 0);
        char hex[65];
        mdp_sha256_hex(b.data, b.len, hex);
        assert_string_equal(hex, m.files[i].sha256);
        int v, f;
        assert_int_equal(sscanf(b.data, "version %d file %d", &v, &f), 2);
        if (version < 0) version = v;
        assert_int_equal(v, version); /* never a mix of two versions */
        assert_int_equal(f, (int)i);
    }
    mdp_buf_cleanup(&b);
    mdp_manifest_cleanup(&m);
    return version;
}

static void test_publish_survives_kill_at_any_point(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    print_message("kill test seed %u\n", seed);
    int last = 0, kills = 0, next = 1;
    for (int round = 0; round < 60; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* the publisher: versions next, next+1, ... until killed */
            for (int v = next;; v++)
                publish_version(lake, v, 4);
        }
        usleep((useconds_t)(rand() % 20000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) kills++;
        int v = check_state(lake);
        assert_true(v >= last); /* never back to an older state */
        last = v;
        next = v + 1000; /* the re-run publishes new versions over whatever was left */
    }
    assert_true(kills > 50);
    /* a clean re-run completes the work */
    publish_version(lake, 999999, 4);
    assert_int_equal(check_state(lake), 999999);
    mdp_lake_close(lake);
    tu_rmdir(dir);
}

static void test_publish_checks_files(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    struct mdp_manifest_file f = {"curated/facts/x/missing.parquet", 10, 1, ""};
    assert_int_equal(mdp_lake_publish(lake, "curated/facts/x", &f, 1, "r", NULL, &d),
                     MDP_ERR_NOT_FOUND);
    assert_non_null(strstr(d.msg, "missing"));
    assert_int_equal(mdp_lake_publish(lake, "raw/x", NULL, 0, "r", NULL, &d), MDP_ERR_INVALID);
    struct mdp_manifest m;
    assert_int_equal(mdp_lake_current(lake, "curated/facts/x", &m, &d), MDP_ERR_NOT_FOUND);
    int64_t v1, v2;
    assert_int_equal(mdp_lake_publish(lake, "curated/facts/x", NULL, 0, "r1", &v1, &d), 0);
    assert_int_equal(mdp_lake_publish(lake, "curated/facts/x", NULL, 0, "r2", &v2, &d), 0);
    assert_int_equal(v2, v1 + 1);
    assert_int_equal(mdp_lake_current(lake, "curated/facts/x", &m, &d), 0);
    assert_string_equal(m.run_id, "r2");
    mdp_manifest_cleanup(&m);
    mdp_lake_close(lake);
    tu_rmdir(dir);
}

static int count_runs(const struct mdp_run *r, void *ud)
{
    struct mdp_run *out = ud;
    *out = *r;
    out->duplicates++;
    return 0;
}

static void test_run_log_roundtrip(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    struct mdp_run r;
    mdp_run_begin(&r, "land.ses");
    r.in = 10;
    r.out = 8;
    r.quarantined = 2;
    r.bytes = 1234;
    snprintf(r.message, sizeof r.message, "two \"bad\" records");
    assert_int_equal(mdp_run_end(lake, &r, "ok", &d), 0);
    struct mdp_run got;
    memset(&got, 0, sizeof got);
    got.duplicates = -1;
    assert_int_equal(mdp_runlog_each(lake, count_runs, &got, &d), 0);
    assert_string_equal(got.run_id, r.run_id);
    assert_string_equal(got.job, "land.ses");
    assert_string_equal(got.status, "ok");
    assert_int_equal(got.in, 10);
    assert_int_equal(got.out, 8);
    assert_int_equal(got.quarantined, 2);
    assert_int_equal(got.bytes, 1234);
    assert_int_equal(got.duplicates, 1); /* one record seen (0 + 1) */
    assert_string_equal(got.message, "two \"bad\" records");
    assert_true(got.end_ms >= got.start_ms && got.start_ms > 0);
    mdp_lake_close(lake);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_are_validated),
        cmocka_unit_test(test_file_store_roundtrip),
        cmocka_unit_test(test_streaming_writer),
        cmocka_unit_test(test_unusable_lake_paths),
        cmocka_unit_test(test_full_disk_leaves_old_object),
        cmocka_unit_test(test_raw_put_is_content_addressed),
        cmocka_unit_test(test_quarantine_records),
        cmocka_unit_test(test_publish_checks_files),
        cmocka_unit_test(test_publish_survives_kill_at_any_point),
        cmocka_unit_test(test_run_log_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
