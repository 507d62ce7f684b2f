/* Out-of-memory tests (CTest label `oom`, built with -DMDP_FAULT_INJECTION=ON): each operation runs
 * once cleanly to learn its output and how many allocations it makes through the library's
 * wrapper (mdp/alloc.h), then again with the 1st, 2nd, ... Nth of those allocations failing. Every
 * run must either end in MDP_ERR_NOMEM and hand nothing on, or succeed with exactly the clean
 * output: never a crash, never a truncated text reported as success. Under ASan the same runs
 * also prove that no failure path leaks. */
#include "testutil.h"
#include "mdp/alloc.h"
#include "mdp/buf.h"
#include "mdp/config.h"
#include "mdp/err.h"
#include "mdp/ingest.h"
#include "mdp/lake.h"
#include "mdp/log.h"
#include "mdp/state.h"
#include "mdp/store.h"
#include "mdp/engine.h"
#include "mdp/inventory.h"
#include "mdp/ml.h"
#include "mdp/state.h"
#include "mdp/subject.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one run produced: its return code and its output as text (NULL when it handed none). */
struct outcome {
    int rc;
    char *text;
};

typedef struct outcome (*op_fn)(void *ud);

/* Runs op cleanly, then failing each of its allocations in turn. */
static void walk(const char *name, op_fn op, void *ud)
{
    mdp_alloc_fail_at(0);
    struct outcome want = op(ud);
    long total = mdp_alloc_calls();
    if (want.rc != 0 || !want.text) fail_msg("%s: the clean run failed: %d", name, want.rc);
    /* an operation that allocates nothing through the wrapper would test nothing here */
    if (total <= 0) fail_msg("%s: no allocation through mdp/alloc.h", name);
    for (long n = 1; n <= total; n++) {
        mdp_alloc_fail_at(n);
        struct outcome got = op(ud);
        long reached = mdp_alloc_calls();
        mdp_alloc_fail_at(0);
        if (reached < n) { /* this run took a path with fewer allocations: it must be whole */
            if (got.rc != 0 || !got.text || strcmp(got.text, want.text) != 0)
                fail_msg("%s: run %ld (no failure reached) differs from the clean run", name, n);
        } else if (got.rc != MDP_ERR_NOMEM) {
            fail_msg("%s: allocation %ld of %ld failed, got %d (%s) and output %s", name, n, total,
                     got.rc, mdp_strerror(got.rc), got.text ? got.text : "(none)");
        } else if (got.text) {
            fail_msg("%s: allocation %ld failed and output was still handed on: %s", name, n,
                     got.text);
        }
        free(got.text);
    }
    printf("%s: %ld allocations, each failed in turn\n", name, total);
    free(want.text);
}

/* ---- buffer building: SQL text made of many appends, checked once at the end */

static struct outcome op_buf_sql(void *ud)
{
    (void)ud;
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_puts(&b, "SELECT ");
    for (int i = 0; i < 300; i++)
        mdp_buf_printf(&b, "%scol_%d", i ? ", " : "", i);
    mdp_buf_cat(&b, (const struct mdp_piece[]){MDP_LIT(" FROM t"), MDP_LIT(" WHERE name = ")}, 2);
    mdp_buf_putc(&b, '\'');
    mdp_buf_append(&b, "o''neil", 7);
    mdp_buf_putc(&b, '\'');
    struct outcome o = {0, NULL};
    o.rc = mdp_buf_take(&b, &o.text, NULL);
    return o;
}

/* ---- JSON building: an object of escaped strings, and the log scrubber's output */

static struct outcome op_json(void *ud)
{
    (void)ud;
    struct mdp_buf b, scrubbed;
    mdp_buf_init(&b);
    mdp_buf_init(&scrubbed);
    struct outcome o = {0, NULL};
    o.rc =
        mdp_log_scrub("user alice@example.com asked; token=abc123 for bob@example.org", &scrubbed);
    if (o.rc) goto out;
    mdp_buf_putc(&b, '{');
    for (int i = 0; i < 40; i++) {
        mdp_buf_printf(&b, "%s\"k%d\":", i ? "," : "", i);
        mdp_buf_json_str(&b, "quote \" backslash \\ newline \n tab \t ctl \x01 end");
    }
    mdp_buf_puts(&b, ",\"scrubbed\":");
    mdp_buf_json_strn(&b, scrubbed.data, scrubbed.len);
    mdp_buf_putc(&b, '}');
    o.rc = mdp_buf_take(&b, &o.text, NULL);
out:
    mdp_buf_cleanup(&b);
    mdp_buf_cleanup(&scrubbed);
    return o;
}

/* ---- a log line: written whole or not at all (the timestamp masked, it changes between runs) */

static struct outcome op_log(void *ud)
{
    (void)ud;
    struct outcome o = {0, NULL};
    size_t n = 0;
    FILE *f = open_memstream(&o.text, &n);
    assert_non_null(f);
    mdp_log_set_stream(f);
    mdp_log(MDP_LOG_ERROR, "ingest of carol@example.com failed", LOG_STR("stage", "ingest"),
            LOG_INT("rows", 123456789), LOG_BOOL("retry", 1), LOG_STR("detail", "x\"y"),
            MDP_LF_END);
    mdp_log_set_stream(NULL);
    fclose(f);
    if (n == 0) { /* dropped: the line could not be built */
        free(o.text);
        o.text = NULL;
        o.rc = MDP_ERR_NOMEM;
    } else if (n > 31 && strncmp(o.text, "{\"ts\":\"", 7) == 0) {
        memset(o.text + 7, 'T', 24);
    }
    return o;
}

/* ---- config parsing: the demo's configuration file, printed back as the effective config */

static struct outcome op_config(void *ud)
{
    const char *yaml = ud;
    struct mdp_config cfg;
    struct mdp_diag d = {0};
    struct outcome o = {0, NULL};
    o.rc = mdp_config_load_buffer("oom.yaml", yaml, strlen(yaml), &cfg, &d);
    if (o.rc) return o;
    char *landing = mdp_config_landing_dir(&cfg);
    if (!landing) {
        o.rc = MDP_ERR_NOMEM;
        goto out;
    }
    size_t n = 0;
    FILE *f = open_memstream(&o.text, &n);
    assert_non_null(f);
    fprintf(f, "landing %s\n", landing);
    mdp_config_print(f, &cfg);
    fclose(f);
    free(landing);
out:
    mdp_config_cleanup(&cfg);
    return o;
}

/* ---- an ingest check of a fixture (a Firehose object of DynamoDB changes, plus a bad line) */

struct delivery {
    const char *key;
    char *data;
    size_t len;
};

static struct outcome op_ingest(void *ud)
{
    const struct delivery *dl = ud;
    struct mdp_ingest_counts c;
    memset(&c, 0, sizeof c);
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "dynamodb", "firehose", 0);
    struct outcome o = {0, NULL};
    o.rc = mdp_ingest_check(dl->key, dl->data, dl->len, &c, &q);
    if (!o.rc) o.rc = mdp_buf_error(&q.lines);
    if (!o.rc) {
        struct mdp_buf b;
        mdp_buf_init(&b);
        mdp_buf_printf(&b, "in %lld out %lld q %lld dup %lld newest %lld\n", (long long)c.in,
                       (long long)c.out, (long long)c.quarantined, (long long)c.duplicates,
                       (long long)c.newest_event_ms);
        mdp_buf_append(&b, q.lines.data ? q.lines.data : "", q.lines.len);
        o.rc = mdp_buf_take(&b, &o.text, NULL);
    }
    mdp_quarantine_cleanup(&q);
    return o;
}

/* ---- the quarantine writer: records added, then flushed as one object of the lake */

struct qctx {
    struct mdp_lake *lake;
    char *dir;
};

static struct outcome op_quarantine(void *ud)
{
    struct qctx *x = ud;
    struct mdp_quarantine q;
    struct mdp_diag d = {0};
    struct outcome o = {0, NULL};
    mdp_quarantine_init(&q, "events", "app", 20362);
    static const unsigned char bin[] = {0xff, 0xfe, 0x00, 0x41};
    for (int i = 0; i < 20 && !o.rc; i++) {
        char loc[64];
        snprintf(loc, sizeof loc, "events/dt=2025-10-01/e.ndjson:%d", i + 1);
        if (i % 5 == 4)
            o.rc = mdp_quarantine_add(&q, "not_utf8", loc, NULL, bin, sizeof bin);
        else
            o.rc = mdp_quarantine_add(&q, "json_truncated", loc, "line \"cut\" short",
                                      "{\"event_id\":\"x", 14);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/raw/_quarantine/events/app/dt=2025-10-01/oom.ndjson", x->dir);
    remove(path);
    if (!o.rc) o.rc = mdp_quarantine_flush(&q, x->lake, "oom", &d);
    if (!o.rc) {
        size_t n;
        o.text = tu_read(path, &n);
        if (!o.text) o.rc = MDP_ERR_IO;
    }
    mdp_quarantine_cleanup(&q);
    return o;
}

/* Issue 11 (sticky buffer errors): a caller that does not look at each add's result must still
 * never get a quarantine batch with a record missing or cut off: the flush reports the error that
 * stuck on the lines (before the fix it wrote the records that fitted and returned 0). */
static struct outcome op_quarantine_unchecked(void *ud)
{
    struct qctx *x = ud;
    struct mdp_quarantine q;
    struct mdp_diag d = {0};
    struct outcome o = {0, NULL};
    mdp_quarantine_init(&q, "events", "app", 20362);
    static const unsigned char bin[] = {0xff, 0xfe, 0x00, 0x41};
    for (int i = 0; i < 20; i++) {
        char loc[64];
        snprintf(loc, sizeof loc, "events/dt=2025-10-01/e.ndjson:%d", i + 1);
        if (i % 5 == 4)
            mdp_quarantine_add(&q, "not_utf8", loc, NULL, bin, sizeof bin);
        else
            mdp_quarantine_add(&q, "json_truncated", loc, "cut", "{\"event_id\":\"x", 14);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/raw/_quarantine/events/app/dt=2025-10-01/unchecked.ndjson",
             x->dir);
    remove(path);
    o.rc = mdp_quarantine_flush(&q, x->lake, "unchecked", &d);
    if (o.rc == MDP_ERR_NOMEM && !d.msg[0]) o.rc = MDP_ERR_INVALID; /* an error must say why */
    size_t n;
    char *written = tu_read(path, &n);
    if (!o.rc)
        o.text = written ? written : (o.rc = MDP_ERR_IO, NULL);
    else if (written) /* a failed flush that wrote something: handed on */
        o.text = written;
    mdp_quarantine_cleanup(&q);
    return o;
}

/* ---- publishing a table: the manifest and its key are built, then written */

static struct outcome op_publish(void *ud)
{
    struct qctx *x = ud;
    struct mdp_diag d = {0};
    struct outcome o = {0, NULL};
    struct mdp_manifest_file f[3];
    memset(f, 0, sizeof f);
    char keys[3][96];
    for (int i = 0; i < 3; i++) {
        snprintf(keys[i], sizeof keys[i], "test/oom_t/run-r1/date_key=2025100%d/part_0.parquet",
                 i + 1);
        f[i].key = keys[i];
        f[i].bytes = 3;
        f[i].rows = i + 1;
        snprintf(f[i].sha256, sizeof f[i].sha256, "%064d", i);
    }
    o.rc = mdp_lake_publish(x->lake, "test/oom_t", f, 3, "r1", NULL, &d);
    if (o.rc == MDP_ERR_NOMEM && !d.msg[0]) o.rc = MDP_ERR_INVALID; /* an error must say why */
    struct mdp_manifest m;
    struct mdp_diag cd = {0};
    if (!o.rc && !(o.rc = mdp_lake_current(x->lake, "test/oom_t", &m, &cd))) {
        char text[1024];
        int k = snprintf(text, sizeof text, "%s %s %zu", m.table ? m.table : "?",
                         m.run_id ? m.run_id : "?", m.nfiles);
        for (size_t i = 0; i < m.nfiles && k < (int)sizeof text; i++)
            k += snprintf(text + k, sizeof text - (size_t)k, " %s:%lld", m.files[i].key,
                          (long long)m.files[i].rows);
        mdp_manifest_cleanup(&m);
        o.text = strdup(text);
    }
    return o;
}

static void test_oom_quarantine_unchecked(void **st)
{
    (void)st;
    struct qctx x = {NULL, tu_tmpdir()};
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(x.dir, 1, &x.lake, &d), 0);
    walk("quarantine_unchecked", op_quarantine_unchecked, &x);
    mdp_lake_close(x.lake);
    tu_rmdir(x.dir);
}

static void test_oom_publish(void **st)
{
    (void)st;
    struct qctx x = {NULL, tu_tmpdir()};
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(x.dir, 1, &x.lake, &d), 0);
    for (int i = 0; i < 3; i++) {
        char key[96];
        snprintf(key, sizeof key, "test/oom_t/run-r1/date_key=2025100%d/part_0.parquet", i + 1);
        assert_int_equal(mdp_store_put(x.lake->store, key, "PAR", 3, 0, &d), 0);
    }
    walk("publish", op_publish, &x);
    mdp_lake_close(x.lake);
    tu_rmdir(x.dir);
}

static void test_oom_buf_sql(void **st)
{
    (void)st;
    walk("buf_sql", op_buf_sql, NULL);
}

static void test_oom_json(void **st)
{
    (void)st;
    walk("json", op_json, NULL);
}

static void test_oom_log_line(void **st)
{
    (void)st;
    walk("log_line", op_log, NULL);
}

static void test_oom_config(void **st)
{
    (void)st;
    size_t n;
    char *yaml = tu_read(tu_data("../../config/mdp.yaml"), &n);
    assert_non_null(yaml);
    walk("config", op_config, yaml);
    free(yaml);
}

/* ---- the ingest stage's duplicate window: days of UUID and text ids, through its growth */

static struct outcome op_dedup_window(void *ud)
{
    (void)ud;
    struct outcome o = {0, NULL};
    struct mdp_dedup_window w = {0};
    struct mdp_ingest_counts c;
    memset(&c, 0, sizeof c);
    struct mdp_check ck = {.key = "events/x", .c = &c};
    struct mdp_buf b;
    mdp_buf_init(&b);
    for (int day = 0; day < 4 && !o.rc; day++) {
        if ((o.rc = mdp_dedup_window_enter(&w, 100 + day, &ck))) break;
        for (int i = 0; i < 3000 && !o.rc; i++) {
            char id[64];
            int v = (i * 7 + day * 1000) % 5000;
            if (i % 3)
                snprintf(id, sizeof id, "01900000-0000-7000-8000-%012x", v);
            else
                snprintf(id, sizeof id, "text-%d", v);
            int rc = mdp_check_dup(&ck, "event_id", id);
            if (rc < 0) o.rc = rc;
        }
        mdp_buf_printf(&b, "day %d: %lld duplicates, %zu ids\n", day, (long long)c.duplicates,
                       mdp_dedup_window_count(&w));
    }
    mdp_dedup_window_cleanup(&w);
    if (!o.rc) o.rc = mdp_buf_take(&b, &o.text, NULL);
    mdp_buf_cleanup(&b);
    return o;
}

static void test_oom_dedup_window(void **st)
{
    (void)st;
    walk("dedup_window", op_dedup_window, NULL);
}

static void test_oom_ingest_check(void **st)
{
    (void)st;
    size_t n;
    char *fh = tu_read(tu_data("fixtures/dynamodb/firehose-s3/2024/11/05/14/"
                               "vc-ddb-cdc-2-2024-11-05-14-09-47-1a2b3c4d-5e6f-4a7b-8c9d-"
                               "0e1f2a3b4c5d"),
                       &n);
    assert_non_null(fh);
    static const char bad[] = "{\"Keys\": {\"pk\": \"cut";
    char *data = malloc(n + sizeof bad + 1);
    assert_non_null(data);
    memcpy(data, fh, n);
    memcpy(data + n, bad, sizeof bad);
    struct delivery dl = {"dynamodb/firehose/2024/11/05/14/x", data, n + sizeof bad - 1};
    walk("ingest_check", op_ingest, &dl);
    free(data);
    free(fh);
}

static void test_oom_quarantine_writer(void **st)
{
    (void)st;
    struct qctx x = {NULL, tu_tmpdir()};
    struct mdp_diag d = {0};
    assert_int_equal(mdp_lake_open(x.dir, 1, &x.lake, &d), 0);
    walk("quarantine", op_quarantine, &x);
    mdp_lake_close(x.lake);
    tu_rmdir(x.dir);
}

/* ---- the subject locator: resolve, locate and the rows of every hit over a small lake ---- */

#define OOM_ANN "01890a5d-ac96-774b-bcce-b302099a8001"
#define OOM_ACC "01890a5d-ac96-774b-bcce-b302099aa001"

static const char OOM_INVENTORY[] =
    "controller: c\ndpo: d\nsecurity: s\ndatasets:\n"
    "  raw.t.profiles:\n    store: raw\n    location: raw/t/profiles\n    purpose: &p p\n"
    "    legal_basis: contract\n    owner: &o o\n    subjects: &s s\n    recipients: &r r\n"
    "    transfers: &t none\n    source: &src src\n"
    "    retention: &ret {period: P90D, clock: since_event}\n    deletion: lifecycle\n"
    "    subject_keys: {user_id: user_id, email: email, account_id: account_id}\n"
    "    columns: {user_id: pseudonymous, email: direct, account_id: pseudonymous}\n"
    "  raw.t.sqs:\n    store: raw\n    location: raw/t/sqs\n    purpose: *p\n"
    "    legal_basis: contract\n    owner: *o\n    subjects: *s\n    recipients: *r\n"
    "    transfers: *t\n    source: *src\n    retention: *ret\n    deletion: lifecycle\n"
    "    subject_keys: {destination: email, user_id: user_id}\n"
    "    columns: {destination: direct, user_id: pseudonymous}\n"
    "  state.t.journal:\n    store: state\n    location: journal_t\n    purpose: *p\n"
    "    legal_basis: legal_obligation\n    owner: *o\n    subjects: *s\n    recipients: *r\n"
    "    transfers: *t\n    source: *src\n    retention: *ret\n    deletion: batch_job\n"
    "    subject_keys: {email_lower: email_lower}\n"
    "    columns: {email_lower: direct}\n";

struct subj_ctx {
    struct mdp_subject_ctx ctx;
    struct mdp_buf *out;
    struct mdp_subject *s;
};

static int oom_hit(const struct mdp_subject_hit *h, void *ud)
{
    struct subj_ctx *x = ud;
    struct mdp_diag d = {0};
    mdp_buf_printf(x->out, "%s %s %lld\n", h->dataset->name, h->location, (long long)h->rows);
    return mdp_subject_rows(&x->ctx, x->s, h, x->out, NULL, &d);
}

/* resolving by user_id: the address and the account are followed */
static struct outcome op_subject_resolve(void *ud)
{
    struct subj_ctx *x = ud;
    struct mdp_diag d = {0};
    struct mdp_subject *s = NULL;
    struct mdp_buf b;
    mdp_buf_init(&b);
    struct outcome o = {0, NULL};
    o.rc = mdp_subject_resolve(&x->ctx, OOM_ANN, NULL, &s, &d);
    if (!o.rc) {
        mdp_buf_printf(&b, "%s %zu %zu %zu", s->user_id, s->emails.n, s->email_sha.n,
                       s->account_ids.n);
        for (size_t i = 0; i < s->emails.n; i++)
            mdp_buf_printf(&b, " %s", s->emails.v[i]);
        o.rc = mdp_buf_take(&b, &o.text, NULL);
    }
    mdp_subject_free(s);
    mdp_buf_cleanup(&b);
    return o;
}

/* locating a resolved subject and reading the rows of every hit */
static struct outcome op_subject_locate(void *ud)
{
    struct subj_ctx *x = ud;
    struct mdp_diag d = {0};
    struct mdp_buf b;
    mdp_buf_init(&b);
    struct outcome o = {0, NULL};
    x->out = &b;
    o.rc = mdp_subject_locate(&x->ctx, x->s, oom_hit, x, NULL, &d);
    if (!o.rc) o.rc = mdp_buf_take(&b, &o.text, NULL);
    mdp_buf_cleanup(&b);
    return o;
}

static void test_oom_subject(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    struct mdp_diag d = {0};
    struct mdp_lake *lake = NULL;
    struct mdp_engine *e = NULL;
    struct mdp_state *state = NULL;
    struct mdp_inventory *inv = NULL;
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    assert_int_equal(mdp_engine_open(NULL, &e, &d), 0);
    assert_int_equal(mdp_state_open_lake(lake, &state, &d), 0);
    assert_int_equal(
        mdp_inventory_load_buffer("oom.yaml", OOM_INVENTORY, sizeof OOM_INVENTORY - 1, &inv, &d),
        0);
    static const char csv[] = "user_id,email,account_id\n" OOM_ANN ",ann@example.com," OOM_ACC
                              "\n01890a5d-ac96-774b-bcce-b302099a8002,bob@example.com,\n";
    static const char sqs[] =
        "{\"Records\":[{\"destination\":[\"ann@example.com\"]},"
        "{\"destination\":[\"bob@example.com\"]},{\"user_id\":\"" OOM_ANN "\"}]}";
    static const char nd[] = "{\"user_id\":\"" OOM_ANN "\"}\n{\"user_id\":null}\n";
    assert_int_equal(mdp_store_put(lake->store, "raw/t/profiles/dt=2026-10-01/a.csv", csv,
                                   sizeof csv - 1, 0, &d),
                     0);
    assert_int_equal(
        mdp_store_put(lake->store, "raw/t/sqs/dt=2026-10-01/b.json", sqs, sizeof sqs - 1, 0, &d),
        0);
    assert_int_equal(
        mdp_store_put(lake->store, "raw/t/sqs/dt=2026-10-02/c.ndjson", nd, sizeof nd - 1, 0, &d),
        0);
    struct mdp_state_item it = {"journal", "1", "{\"email_lower\":\"ann@example.com\"}", 0};
    assert_int_equal(mdp_state_put(state, "journal_t", &it, 0, &d), 0);
    struct subj_ctx x;
    memset(&x, 0, sizeof x);
    x.ctx.inv = inv;
    x.ctx.lake = lake;
    x.ctx.e = e;
    x.ctx.state = state;
    walk("subject_resolve", op_subject_resolve, &x);
    assert_int_equal(mdp_subject_resolve(&x.ctx, OOM_ANN, NULL, &x.s, &d), 0);
    walk("subject_locate", op_subject_locate, &x);
    mdp_subject_free(x.s);
    mdp_inventory_free(inv);
    mdp_state_close(state);
    mdp_engine_close(e);
    mdp_lake_close(lake);
    tu_rmdir(dir);
}

/* ---- the DynamoDB state backend's item decoder: a counter item's body is built from its numbers */

static struct outcome op_state_ddb_decode(void *ud)
{
    const char *item = ud;
    char *t, *pk, *sk, *body;
    int64_t exp;
    struct mdp_diag d = {0};
    struct outcome o = {0, NULL};
    o.rc = mdp_state_dynamodb_decode(item, strlen(item), &t, &pk, &sk, &body, &exp, &d);
    if (o.rc) return o;
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_printf(&b, "%s|%s|%s|%s|%lld", t, pk, sk, body, (long long)exp);
    free(t);
    free(pk);
    free(sk);
    free(body);
    o.rc = mdp_buf_take(&b, &o.text, NULL);
    return o;
}

static void test_oom_state_ddb_decode(void **st)
{
    (void)st;
    walk("state_ddb_decode", op_state_ddb_decode,
         "{\"pk\":{\"S\":\"bandit#solo|du|tip\"},\"sk\":{\"S\":\"a\"},\"tbl\":{\"S\":\"bandit\"},"
         "\"n_s\":{\"N\":\"3\"},\"n_f\":{\"N\":\"5\"},\"expires_at\":{\"N\":\"99\"}}");
}

int main(void)
{
    if (mdp_alloc_fail_at(0) == MDP_ERR_UNSUPPORTED) {
        fprintf(stderr, "built without MDP_FAULT_INJECTION: nothing to test\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_buf_sql),
        cmocka_unit_test(test_oom_state_ddb_decode),
        cmocka_unit_test(test_oom_json),
        cmocka_unit_test(test_oom_log_line),
        cmocka_unit_test(test_oom_config),
        cmocka_unit_test(test_oom_ingest_check),
        cmocka_unit_test(test_oom_dedup_window),
        cmocka_unit_test(test_oom_quarantine_writer),
        cmocka_unit_test(test_oom_quarantine_unchecked),
        cmocka_unit_test(test_oom_publish),
        cmocka_unit_test(test_oom_subject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
