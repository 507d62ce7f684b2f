/* Unit tests of the object store's file backend and of the lake: atomic puts, conditional puts,
 * listing, a full disk, the raw writer, quarantine, manifests, the publish fence and the run log;
 * and the crash test: a publisher killed with SIGKILL at random points always leaves the old or the
 * new state. */
#include "testutil.h"
#include "mdp/hash.h"
#include "mdp/lake.h"
#include "mdp/lease.h"
#include "mdp/ml.h"
#include "mdp/state.h"
#include "mdp/store.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

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

static int no_version(const char *key, const char *vid, int64_t size, int latest, int marker,
                      void *ud)
{
    (void)key, (void)vid, (void)size, (void)latest, (void)marker, (void)ud;
    fail_msg("a file store has no versions");
    return 1;
}

/* What erasure calls on a versioned bucket is harmless on a file lake: it keeps no versions, its
 * local paths are the objects themselves (nothing evicted), and bad keys are refused. */
static void test_file_store_versions_and_evict(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_store *s;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_open(dir, 0, &s, &d), 0);
    assert_int_equal(mdp_store_put(s, "raw/a/x.json", "{}", 2, 0, &d), 0);
    assert_int_equal(mdp_store_versions(s, "", no_version, NULL, &d), MDP_ERR_UNSUPPORTED);
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_store_get_version(s, "raw/a/x.json", "v1", &b, &d), MDP_ERR_UNSUPPORTED);
    assert_int_equal(mdp_store_get_version(s, "raw/a/x.json", "", &b, &d), MDP_ERR_INVALID);
    assert_int_equal(mdp_store_get_version(s, "../x", "v1", &b, &d), MDP_ERR_INVALID);
    int64_t n = -1;
    assert_int_equal(mdp_store_purge_versions(s, "raw/a/x.json", &n, &d), 0);
    assert_int_equal(n, 0);
    assert_int_equal(mdp_store_purge_versions(s, "a//b", &n, &d), MDP_ERR_INVALID);
    assert_int_equal(mdp_store_evict(s, "raw/", 0, &d), 0);
    assert_int_equal(mdp_store_evict(s, "raw/a/x.json", 1, &d), 0);
    assert_int_equal(mdp_store_evict(s, "raw/../x", 0, &d), MDP_ERR_INVALID);
    assert_int_equal(mdp_store_get(s, "raw/a/x.json", &b, &d), 0); /* still there */
    /* for good: a plain delete here, absent is no error, the key is checked */
    assert_int_equal(mdp_store_put(s, "_meta/erasure/pending/p.json", "{}", 2, 0, &d), 0);
    assert_int_equal(mdp_store_delete_every_version(s, "_meta/erasure/pending/p.json", &n, &d), 0);
    assert_int_equal(mdp_store_head(s, "_meta/erasure/pending/p.json", NULL, &d),
                     MDP_ERR_NOT_FOUND);
    assert_int_equal(mdp_store_delete_every_version(s, "_meta/erasure/pending/p.json", NULL, &d),
                     0);
    assert_int_equal(mdp_store_delete_every_version(s, "a//b", NULL, &d), MDP_ERR_INVALID);
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
    /* large pieces go to write() directly when nothing is buffered, small ones through the
     * buffer: the bytes stay in order either way */
    size_t big = 200000;
    char *p = malloc(big);
    assert_non_null(p);
    for (size_t i = 0; i < big; i++)
        p[i] = (char)('a' + i % 26);
    assert_int_equal(mdp_store_writer_open(s, "x/mixed", &w, &d), 0);
    assert_int_equal(w->write(w, p, big, &d), 0);       /* direct */
    assert_int_equal(w->write(w, "<small>", 7, &d), 0); /* buffered */
    assert_int_equal(w->write(w, p, big, &d), 0);       /* buffered behind it */
    assert_int_equal(w->commit(w, &d), 0);
    assert_int_equal(mdp_store_get(s, "x/mixed", &b, &d), 0);
    assert_int_equal(b.len, 2 * big + 7);
    assert_memory_equal(b.data, p, big);
    assert_memory_equal(b.data + big, "<small>", 7);
    assert_memory_equal(b.data + big + 7, p, big);
    free(p);
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
    /* s3:// is a backend now (tests/integration/aws.sh); other schemes are refused */
    assert_int_equal(mdp_store_open("gs://bucket/x", 0, &(struct mdp_store *){0}, &d),
                     MDP_ERR_UNSUPPORTED);
    assert_int_equal(mdp_store_open("s3://Not_A_Bucket/x", 0, &(struct mdp_store *){0}, &d),
                     MDP_ERR_INVALID);
    assert_non_null(strstr(d.msg, "not a valid S3 bucket name"));
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
    /* the key from a hash computed elsewhere (the decision-log writer hashes in steps) */
    assert_int_equal(mdp_lake_raw_key_hex("events", "app_events", 20362, hex, "ndjson", &key, &d),
                     0);
    assert_string_equal(key.data, want);
    assert_int_equal(mdp_lake_raw_key_hex("Events", "app_events", 20362, hex, NULL, &key, &d),
                     MDP_ERR_INVALID);
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

/* The publish fence (mdp_lease_fence): a job holding the lake's lease publishes; after `mdp lake
 * lease --break` removed it and nobody took it, its next publish takes it again; once another job
 * holds it, the publish is refused, nothing becomes visible, and the lease counts as lost. A lake
 * of another location, whose lease this process does not hold, is not fenced. An item of this
 * holder with a later lease_until than it knows (a write done but not answered) is its own; one
 * that is not a lease's is not. */
static void test_publish_fence(void **st)
{
    (void)st;
    char *dir = tu_tmpdir(), *dir2 = tu_tmpdir();
    struct mdp_lake *lake, *other;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    assert_int_equal(mdp_lake_open(dir2, 1, &other, &d), 0);
    struct mdp_lease_opts o = {"fence-test", 60, 0};
    struct mdp_lease *l;
    assert_int_equal(mdp_lease_take(lake, MDP_LEASE_LAKE, &o, &l, &d), 0);
    int64_t v;
    assert_int_equal(mdp_lake_publish(lake, "curated/facts/x", NULL, 0, "r1", &v, &d), 0);
    assert_int_equal(v, 1);

    assert_int_equal(mdp_lease_break(lake, MDP_LEASE_LAKE, &d), 0);
    struct mdp_lease_info li;
    assert_int_equal(mdp_lease_show(lake, MDP_LEASE_LAKE, &li, &d), 0);
    assert_int_equal(li.taken, 0);
    assert_int_equal(mdp_lake_publish(lake, "curated/facts/x", NULL, 0, "r2", &v, &d), 0);
    assert_int_equal(v, 2);
    assert_int_equal(mdp_lease_show(lake, MDP_LEASE_LAKE, &li, &d), 0);
    assert_true(li.held);
    assert_string_equal(li.holder, "fence-test");
    assert_int_equal(li.pid, (long)getpid());
    assert_int_equal(mdp_lease_lost(l), 0);

    /* another job's lease, as it would be after ours lapsed */
    struct mdp_state *s;
    assert_int_equal(mdp_state_open_lake(lake, &s, &d), 0);
    char body[512];
    snprintf(body, sizeof body,
             "{\"lease_until\":%lld,\"holder\":\"other\",\"host\":\"h2\",\"pid\":4242,"
             "\"since\":\"2026-01-01T00:00:00Z\"}",
             (long long)time(NULL) + 600);
    struct mdp_state_item it = {MDP_LEASE_LAKE, "-", body, 0};
    assert_int_equal(mdp_state_put(s, "leases", &it, 0, &d), 0);
    assert_int_equal(mdp_lake_publish(lake, "curated/facts/x", NULL, 0, "r3", &v, &d),
                     MDP_ERR_EXISTS);
    assert_non_null(strstr(d.msg, "publishes nothing more"));
    assert_int_equal(mdp_lease_lost(l), 1);
    struct mdp_manifest m;
    assert_int_equal(mdp_lake_current(lake, "curated/facts/x", &m, &d), 0);
    assert_string_equal(m.run_id, "r2");
    mdp_manifest_cleanup(&m);
    /* refused again without asking the store, and the other lake is not fenced */
    assert_int_equal(mdp_lake_publish(lake, "curated/facts/x", NULL, 0, "r4", &v, &d),
                     MDP_ERR_EXISTS);
    assert_int_equal(mdp_lake_publish(other, "curated/facts/x", NULL, 0, "r5", &v, &d), 0);

    assert_int_equal(mdp_lease_release(l, &d), 1);
    assert_non_null(strstr(d.msg, "lost the lake's lease"));
    assert_int_equal(mdp_lease_show(lake, MDP_LEASE_LAKE, &li, &d), 0);
    assert_string_equal(li.holder, "other"); /* the lost lease is not given back */
    /* once released, this process holds no lease: nothing is fenced */
    assert_int_equal(mdp_lake_publish(lake, "curated/facts/x", NULL, 0, "r6", &v, &d), 0);

    /* a renewal that was done though the store failed to answer it: the item still names this
     * process, with a later lease_until than the lease knows; it stays this job's own */
    struct mdp_state *s2;
    assert_int_equal(mdp_lease_take(other, MDP_LEASE_LAKE, &o, &l, &d), 0);
    assert_int_equal(mdp_lease_show(other, MDP_LEASE_LAKE, &li, &d), 0);
    assert_int_equal(mdp_state_open_lake(other, &s2, &d), 0);
    snprintf(body, sizeof body,
             "{\"lease_until\":%lld,\"holder\":\"%s\",\"host\":\"%s\",\"pid\":%ld,"
             "\"since\":\"%s\"}",
             (long long)li.until + 30, li.holder, li.host, li.pid, li.since);
    assert_int_equal(mdp_state_put(s2, "leases", &it, 0, &d), 0);
    assert_int_equal(mdp_lake_publish(other, "curated/facts/x", NULL, 0, "r7", &v, &d), 0);
    assert_int_equal(mdp_lease_lost(l), 0);
    snprintf(body, sizeof body,
             "{\"lease_until\":%lld,\"holder\":\"%s\",\"host\":\"%s\",\"pid\":%ld,"
             "\"since\":\"%s\"}",
             (long long)li.until + 90, li.holder, li.host, li.pid, li.since);
    assert_int_equal(mdp_state_put(s2, "leases", &it, 0, &d), 0); /* and once more, unseen */
    assert_int_equal(mdp_lease_release(l, &d), 0);
    assert_int_equal(mdp_lease_show(other, MDP_LEASE_LAKE, &li, &d), 0);
    assert_int_equal(li.until, 0); /* given back */
    /* an item that is not a lease's any more (written by hand, another tool): not this job's */
    assert_int_equal(mdp_lease_take(other, MDP_LEASE_LAKE, &o, &l, &d), 0);
    struct mdp_state_item junk = {MDP_LEASE_LAKE, "-", "{\"note\":\"not a lease\"}", 0};
    assert_int_equal(mdp_state_put(s2, "leases", &junk, 0, &d), 0);
    assert_int_equal(mdp_lake_publish(other, "curated/facts/x", NULL, 0, "r8", &v, &d),
                     MDP_ERR_EXISTS);
    assert_non_null(strstr(d.msg, "publishes nothing more"));
    assert_int_equal(mdp_lease_lost(l), 1);
    assert_int_equal(mdp_lease_release(l, &d), 1);
    mdp_state_close(s2);
    mdp_state_close(s);
    mdp_lake_close(other);
    mdp_lake_close(lake);
    tu_rmdir(dir2);
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

/* ---- issue 11, defect 9: mdp lake vacuum ---- */

static void write_file_aged(const char *root, const char *rel, const char *body, int64_t age_s)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    assert_int_equal(tu_write(path, body, strlen(body)), 0);
    if (age_s) {
        struct timespec ts[2];
        ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age_s;
        ts[0].tv_nsec = ts[1].tv_nsec = 0;
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
    }
}

static int exists(const char *root, const char *rel)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return stat(path, &st) == 0;
}

struct orphans_seen {
    char names[8][160];
    int n;
};

static int note_orphan(const char *name, int64_t size, int64_t mtime_ms, void *ud)
{
    (void)size;
    struct orphans_seen *o = ud;
    assert_true(mtime_ms > 0);
    if (o->n < 8) snprintf(o->names[o->n++], sizeof o->names[0], "%s", name);
    return 0;
}

static int note_time(const char *key, int64_t size, int64_t mtime_ms, void *ud)
{
    (void)size;
    if (strcmp(key, "a/old.json") == 0) *(int64_t *)ud = mtime_ms;
    return 0;
}

/* The store's sweep finds the leftovers of unfinished writes in _tmp/ and inside data folders,
 * only those older than the cut-off, and removes them only when asked; listing gives times; a
 * delete removes the folders it empties. */
static void test_issue11_store_orphans_and_times(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_store *s;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_open(dir, 0, &s, &d), 0);
    write_file_aged(dir, "_tmp/.tmp-1-1-old", "x", 3 * 3600);
    write_file_aged(dir, "_tmp/.tmp-1-2-young", "x", 0);
    write_file_aged(dir, "curated/t/run-x/.tmp-9-9-part_0.parquet", "xy", 3 * 3600);
    write_file_aged(dir, "a/old.json", "{}", 3 * 3600);
    int64_t cut = mdp_time_now_ms() - 3600 * 1000;
    struct orphans_seen o = {0};
    assert_int_equal(mdp_store_orphans(s, cut, 0, note_orphan, &o, &d), 0);
    assert_int_equal(o.n, 2);
    assert_string_equal(o.names[0], "_tmp/.tmp-1-1-old");
    assert_string_equal(o.names[1], "curated/t/run-x/.tmp-9-9-part_0.parquet");
    assert_true(exists(dir, "_tmp/.tmp-1-1-old")); /* listed, not removed */
    assert_int_equal(mdp_store_orphans(s, cut, 1, NULL, NULL, &d), 0);
    assert_false(exists(dir, "_tmp/.tmp-1-1-old"));
    assert_false(exists(dir, "curated/t/run-x/.tmp-9-9-part_0.parquet"));
    assert_true(exists(dir, "_tmp/.tmp-1-2-young"));
    assert_true(exists(dir, "a/old.json")); /* a whole object is never an orphan */
    int64_t t = 0;
    assert_int_equal(mdp_store_list_time(s, "a/", note_time, &t, &d), 0);
    assert_true(t > 0 && t < cut);
    assert_int_equal(mdp_store_put(s, "b/c/d/x.json", "1", 1, 0, &d), 0);
    assert_int_equal(mdp_store_delete(s, "b/c/d/x.json", &d), 0);
    assert_false(exists(dir, "b"));
    assert_int_equal(mdp_store_put(s, "b/c/d/x.json", "1", 1, 0, &d), 0); /* made again */
    mdp_store_close(s);
    tu_rmdir(dir);
}

struct actions {
    char keys[32][200];
    enum mdp_vacuum_what what[32];
    int n, stop_at_compact;
};

static int note_action(const struct mdp_vacuum_action *a, void *ud)
{
    struct actions *x = ud;
    if (x->n < 32) {
        x->what[x->n] = a->what;
        snprintf(x->keys[x->n++], sizeof x->keys[0], "%s", a->key);
    }
    return x->stop_at_compact && a->what == MDP_VACUUM_COMPACT ? 7 : 0;
}

static void put_file(struct mdp_lake *lake, const char *key, struct mdp_manifest_file *f)
{
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_put(lake->store, key, "PAR1", 4, 0, &d), 0);
    memset(f, 0, sizeof *f);
    f->key = (char *)key;
    f->bytes = 4;
    f->rows = 1;
}

/* Manifest versions go when not CURRENT and old (published and superseded before the grace
 * period), then the run folders only they named; CURRENT's folder stays; a young unnamed folder
 * stays; a dry run changes nothing; a manifest that cannot be read stops it before any removal. */
static void test_issue11_vacuum_run_folders(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    struct mdp_uuid u;
    char a[40], b[40], c[40], ka[200], kb[200], kc[200];
    mdp_uuid7_new(&u), mdp_uuid_format(&u, a);
    mdp_uuid7_new(&u), mdp_uuid_format(&u, b);
    mdp_uuid7_new(&u), mdp_uuid_format(&u, c);
    snprintf(ka, sizeof ka, "curated/facts/t/run-%s/date_key=20261001/part_0.parquet", a);
    snprintf(kb, sizeof kb, "curated/facts/t/run-%s/date_key=20261001/part_0.parquet", b);
    snprintf(kc, sizeof kc, "ml/segments/run-%s-20261001/segment_date=2026-10-01/p.parquet", c);
    struct mdp_manifest_file f;
    put_file(lake, ka, &f);
    assert_int_equal(mdp_lake_publish(lake, "curated/facts/t", &f, 1, a, NULL, &d), 0);
    put_file(lake, kb, &f);
    assert_int_equal(mdp_lake_publish(lake, "curated/facts/t", &f, 1, b, NULL, &d), 0);
    put_file(lake, kc, &f); /* never published: a crashed job's, or one still writing */
    /* now: everything is younger than the grace period */
    struct mdp_vacuum_opts o = {0, 24 * 3600 * 1000LL, 0};
    struct actions x = {0};
    struct mdp_vacuum_stats vs;
    assert_int_equal(mdp_lake_vacuum(lake, &o, note_action, &x, &vs, &d), 0);
    assert_int_equal(x.n, 0);
    /* two days later: v1 and run a go, run b (CURRENT) stays, the unpublished one goes */
    o.now_ms = mdp_time_now_ms() + 2 * 24 * 3600 * 1000LL;
    o.dry_run = 1;
    assert_int_equal(mdp_lake_vacuum(lake, &o, note_action, &x, &vs, &d), 0);
    assert_int_equal(x.n, 3);
    assert_int_equal(vs.manifests, 1);
    assert_int_equal(vs.run_folders, 2);
    assert_true(exists(dir, ka) && exists(dir, kc));
    assert_true(exists(dir, "_meta/manifests/curated/facts/t/v0000000001.json"));
    o.dry_run = 0;
    memset(&x, 0, sizeof x);
    assert_int_equal(mdp_lake_vacuum(lake, &o, note_action, &x, &vs, &d), 0);
    assert_int_equal(x.n, 3);
    assert_int_equal(x.what[0], MDP_VACUUM_MANIFEST); /* the version before its folder */
    assert_string_equal(x.keys[0], "_meta/manifests/curated/facts/t/v0000000001.json");
    assert_int_equal(x.what[1], MDP_VACUUM_RUN_FOLDER);
    assert_false(exists(dir, ka));
    assert_false(exists(dir, kc));
    assert_true(exists(dir, kb));
    struct mdp_manifest m;
    assert_int_equal(mdp_lake_current(lake, "curated/facts/t", &m, &d), 0);
    assert_int_equal(m.version, 2);
    mdp_manifest_cleanup(&m);
    /* a manifest it cannot read: an error naming it, nothing removed */
    put_file(lake, ka, &f);
    assert_int_equal(mdp_store_put(lake->store, "_meta/manifests/curated/facts/u/v0000000001.json",
                                   "{\"files\":", 9, 0, &d),
                     0);
    assert_int_equal(mdp_lake_vacuum(lake, &o, NULL, NULL, &vs, &d), MDP_ERR_PARSE);
    assert_non_null(strstr(d.msg, "curated/facts/u/v0000000001.json"));
    assert_true(exists(dir, ka));
    mdp_lake_close(lake);
    tu_rmdir(dir);
}

struct cat {
    struct mdp_buf all;
    struct mdp_store *s;
};

static int cat_object(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct cat *c = ud;
    struct mdp_buf one;
    struct mdp_diag d = {0};
    mdp_buf_init(&one);
    assert_int_equal(mdp_store_get(c->s, key, &one, &d), 0);
    mdp_buf_append(&c->all, one.data, one.len);
    if (one.len && one.data[one.len - 1] != '\n') mdp_buf_putc(&c->all, '\n');
    mdp_buf_cleanup(&one);
    return 0;
}

static int count_cb(const char *key, int64_t size, void *ud)
{
    (void)key, (void)size;
    (*(int *)ud)++;
    return 0;
}

/* Compaction keeps every line (the parts' bytes in key order, a missing last newline added), names
 * the daily object by its SHA-256, leaves today alone; stopped after the daily object is written
 * (a crash there), the parts are still there, the record says pending, ingest already counts the
 * parts as taken, and a re-run finishes: one object with every line once. */
static void test_issue11_vacuum_compaction(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    const char *bodies[] = {"{\"e\":1}\n{\"e\":2}\n", "{\"e\":3}\n", "{\"e\":1}\n", "{\"e\":4}"};
    char parts[4][200];
    struct mdp_buf key;
    mdp_buf_init(&key);
    int64_t day = 20362, today = mdp_days_from_ms(mdp_time_now_ms());
    for (int i = 0; i < 4; i++) {
        assert_int_equal(mdp_lake_raw_put(lake, "events", "app_events", day, bodies[i],
                                          strlen(bodies[i]), "ndjson", &key, NULL, &d),
                         0);
        snprintf(parts[i], sizeof parts[i], "%s", key.data);
    }
    /* today's objects and a single object's day stay as they are */
    assert_int_equal(
        mdp_lake_raw_put(lake, "serve", "decisions", today, "a\n", 2, "ndjson", NULL, NULL, &d), 0);
    assert_int_equal(
        mdp_lake_raw_put(lake, "serve", "decisions", today, "b\n", 2, "ndjson", NULL, NULL, &d), 0);
    assert_int_equal(mdp_lake_raw_put(lake, "ses", "http", day, "c\n", 2, "ndjson", NULL, NULL, &d),
                     0);
    /* the expected bytes: the parts in key order, "{\"e\":4}" given its newline */
    struct cat want;
    mdp_buf_init(&want.all);
    want.s = lake->store;
    assert_int_equal(mdp_store_list(lake->store, "raw/events/app_events/", cat_object, &want, &d),
                     0);
    char hex[65], daily[200];
    mdp_sha256_hex(want.all.data, want.all.len, hex);
    snprintf(daily, sizeof daily, "raw/events/app_events/dt=2025-10-01/%.32s.ndjson", hex);

    struct mdp_vacuum_opts o = {0, 3600 * 1000LL, 0};
    struct actions x = {.stop_at_compact = 1};
    struct mdp_vacuum_stats vs;
    assert_int_equal(mdp_lake_vacuum(lake, &o, note_action, &x, &vs, &d), 7);
    assert_string_equal(x.keys[x.n - 1], "raw/events/app_events/dt=2025-10-01/");
    assert_int_equal(vs.compacted_lines, 5);
    for (int i = 0; i < 4; i++)
        assert_true(exists(dir, parts[i]));
    assert_true(exists(dir, daily));
    struct mdp_buf rec;
    mdp_buf_init(&rec);
    char rk[300];
    snprintf(rk, sizeof rk,
             "_meta/state/vacuum/compacted/events/app_events/dt=2025-10-01/%.32s.ndjson.txt", hex);
    assert_int_equal(mdp_store_get(lake->store, rk, &rec, &d), 0);
    assert_memory_equal(rec.data, "pending\n", 8);
    assert_int_equal(mdp_lake_raw_compacted(lake, parts[0], &key, &d), 1);
    assert_string_equal(key.data, daily);
    assert_int_equal(mdp_lake_raw_compacted(lake, daily, NULL, &d), 0);

    /* a dry run after the crash lists the finish and no new compaction, and changes nothing */
    memset(&x, 0, sizeof x);
    o.dry_run = 1;
    assert_int_equal(mdp_lake_vacuum(lake, &o, note_action, &x, &vs, &d), 0);
    assert_int_equal(x.n, 1);
    assert_int_equal(x.what[0], MDP_VACUUM_RESUME);
    assert_true(exists(dir, parts[0]));

    memset(&x, 0, sizeof x);
    o.dry_run = 0;
    assert_int_equal(mdp_lake_vacuum(lake, &o, note_action, &x, &vs, &d), 0);
    assert_int_equal(x.n, 1);
    assert_int_equal(x.what[0], MDP_VACUUM_RESUME);
    for (int i = 0; i < 4; i++)
        assert_false(exists(dir, parts[i]));
    size_t len;
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, daily);
    char *got = tu_read(path, &len);
    assert_int_equal(len, want.all.len);
    assert_memory_equal(got, want.all.data, len);
    free(got);
    assert_int_equal(mdp_store_get(lake->store, rk, &rec, &d), 0);
    assert_memory_equal(rec.data, "done\n", 5);
    assert_int_equal(mdp_lake_raw_compacted(lake, parts[3], NULL, &d), 1);
    int n = 0;
    assert_int_equal(mdp_store_list(lake->store, "raw/serve/decisions/", count_cb, &n, &d), 0);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(mdp_store_list(lake->store, "raw/ses/http/", count_cb, &n, &d), 0);
    assert_int_equal(n, 1);
    /* nothing left to do */
    memset(&x, 0, sizeof x);
    assert_int_equal(mdp_lake_vacuum(lake, &o, note_action, &x, &vs, &d), 0);
    assert_int_equal(x.n, 0);
    mdp_buf_cleanup(&rec);
    mdp_buf_cleanup(&key);
    mdp_buf_cleanup(&want.all);
    mdp_lake_close(lake);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_are_validated),
        cmocka_unit_test(test_file_store_roundtrip),
        cmocka_unit_test(test_file_store_versions_and_evict),
        cmocka_unit_test(test_streaming_writer),
        cmocka_unit_test(test_unusable_lake_paths),
        cmocka_unit_test(test_full_disk_leaves_old_object),
        cmocka_unit_test(test_raw_put_is_content_addressed),
        cmocka_unit_test(test_quarantine_records),
        cmocka_unit_test(test_publish_checks_files),
        cmocka_unit_test(test_publish_survives_kill_at_any_point),
        cmocka_unit_test(test_publish_fence),
        cmocka_unit_test(test_run_log_roundtrip),
        cmocka_unit_test(test_issue11_store_orphans_and_times),
        cmocka_unit_test(test_issue11_vacuum_run_folders),
        cmocka_unit_test(test_issue11_vacuum_compaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
