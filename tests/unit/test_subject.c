/* The subject locator (include/mdp/subject.h) on a small lake built here: resolving by address and
 * by user_id, following accounts and external ids, the matching rule (key columns at any depth,
 * JSON inside strings, batches split into records, addresses compared normalized and whole,
 * account ids only where no person key exists), the rows of a hit, and the errors. Uses the real
 * engine (DuckDB) and state store. */
#include "mdp/engine.h"
#include "mdp/inventory.h"
#include "mdp/lake.h"
#include "mdp/ml.h"
#include "mdp/state.h"
#include "mdp/subject.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANN   "01890a5d-ac96-774b-bcce-b302099a8001"
#define BOB   "01890a5d-ac96-774b-bcce-b302099a8002"
#define CAROL "01890a5d-ac96-774b-bcce-b302099a8003"
#define ACC   "01890a5d-ac96-774b-bcce-b302099aa001" /* Ann's and Bob's account */

static const char INVENTORY[] =
    "controller: c\ndpo: d\nsecurity: s\n"
    "datasets:\n"
    "  raw.t.profiles:\n"
    "    store: raw\n    location: raw/t/profiles\n"
    "    purpose: &p p\n    legal_basis: contract\n    owner: &o o\n    subjects: &s s\n"
    "    recipients: &r r\n    transfers: &t none\n    source: &src src\n"
    "    retention: &ret {period: P90D, clock: since_event}\n    deletion: lifecycle\n"
    "    subject_keys: {user_id: user_id, email: email, account_id: account_id}\n"
    "    columns: {user_id: pseudonymous, email: direct, account_id: pseudonymous}\n"
    "  raw.t.accounts:\n"
    "    store: raw\n    location: raw/t/accounts\n"
    "    purpose: *p\n    legal_basis: contract\n    owner: *o\n    subjects: *s\n"
    "    recipients: *r\n    transfers: *t\n    source: *src\n    retention: *ret\n"
    "    deletion: lifecycle\n"
    "    subject_keys: {account_id: account_id}\n"
    "    columns: {account_id: pseudonymous, name: none}\n"
    "  raw.t.sqs:\n"
    "    store: raw\n    location: raw/t/sqs\n"
    "    purpose: *p\n    legal_basis: contract\n    owner: *o\n    subjects: *s\n"
    "    recipients: *r\n    transfers: *t\n    source: *src\n    retention: *ret\n"
    "    deletion: lifecycle\n"
    "    subject_keys: {destination: email}\n"
    "    columns: {destination: direct, body: none}\n"
    "  raw.t.events:\n"
    "    store: raw\n    location: raw/t/events\n"
    "    purpose: *p\n    legal_basis: contract\n    owner: *o\n    subjects: *s\n"
    "    recipients: *r\n    transfers: *t\n    source: *src\n    retention: *ret\n"
    "    deletion: lifecycle\n"
    "    subject_keys: {user_id: user_id, account_id: account_id, external_ids: external_id}\n"
    "    columns: {user_id: pseudonymous, account_id: pseudonymous, external_ids: pseudonymous,"
    " n: none}\n"
    "  curated.t.links:\n"
    "    store: curated\n    location: curated/dimensions/links\n"
    "    purpose: *p\n    legal_basis: contract\n    owner: *o\n    subjects: *s\n"
    "    recipients: *r\n    transfers: *t\n    source: *src\n    retention: *ret\n"
    "    deletion: rebuild\n"
    "    subject_keys: {user_id: user_id, external_id: external_id}\n"
    "    columns: {user_id: pseudonymous, external_id: pseudonymous}\n"
    "  state.t.journal:\n"
    "    store: state\n    location: journal_t\n"
    "    purpose: *p\n    legal_basis: legal_obligation\n    owner: *o\n    subjects: *s\n"
    "    recipients: *r\n    transfers: *t\n    source: *src\n    retention: *ret\n"
    "    deletion: batch_job\n"
    "    subject_keys: {email_lower: email_lower, user_id: user_id}\n"
    "    columns: {email_lower: direct, user_id: pseudonymous, purpose: none}\n";

struct fx {
    char *dir;
    struct mdp_lake *lake;
    struct mdp_engine *e;
    struct mdp_state *st;
    struct mdp_inventory *inv;
    struct mdp_subject_ctx ctx;
};

static void put(struct fx *f, const char *key, const char *text)
{
    struct mdp_diag d = {0};
    int rc = mdp_store_put(f->lake->store, key, text, strlen(text), 0, &d);
    if (rc) fail_msg("%s: %s", key, d.msg);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct mdp_diag d = {0};
    f->dir = tu_tmpdir();
    assert_int_equal(mdp_lake_open(f->dir, 1, &f->lake, &d), 0);
    assert_int_equal(mdp_engine_open(NULL, &f->e, &d), 0);
    assert_int_equal(mdp_state_open_lake(f->lake, &f->st, &d), 0);
    int rc = mdp_inventory_load_buffer("test.yaml", INVENTORY, sizeof INVENTORY - 1, &f->inv, &d);
    if (rc) fail_msg("%s", d.msg);
    /* Ann changed her address; Bob shares her account; Carol's address contains Ann's */
    put(f, "raw/t/profiles/dt=2026-10-01/a.csv",
        "user_id,email,account_id\n" ANN ", Ann@Example.COM ," ACC "\n" BOB ",bob@example.com," ACC
        "\n" CAROL ",xann@example.com,\n");
    put(f, "raw/t/profiles/dt=2026-10-02/b.csv",
        "user_id,email,account_id\n" ANN ",ann.new@example.com," ACC "\n");
    put(f, "raw/t/accounts/dt=2026-10-01/c.csv",
        "account_id,name\n" ACC ",Cafe\n01890a5d-ac96-774b-bcce-b302099aa002,Other\n");
    /* an SQS batch: Ann's record carries her address inside an SNS message inside the body */
    put(f, "raw/t/sqs/dt=2026-10-01/d.json",
        "{\"Records\":[{\"body\":\"{\\\"Message\\\":\\\"{\\\\\\\"mail\\\\\\\":{"
        "\\\\\\\"destination\\\\\\\":"
        "[\\\\\\\"ann@example.com\\\\\\\"]}}\\\"}\"},"
        "{\"body\":\"{\\\"Message\\\":\\\"{\\\\\\\"mail\\\\\\\":{\\\\\\\"destination\\\\\\\":"
        "[\\\\\\\"xann@example.com\\\\\\\"]}}\\\"}\"}]}");
    put(f, "raw/t/sqs/dt=2026-10-02/e.json",
        "{\"Records\":[{\"destination\":[\"bob@example.com\"]}]}");
    /* events: Ann's, an anonymous one with her GA4 id, and Bob's on the shared account */
    put(f, "raw/t/events/dt=2026-10-01/f.ndjson",
        "{\"user_id\":\"" ANN "\",\"account_id\":\"" ACC "\",\"n\":1}\n"
        "{\"user_id\":null,\"external_ids\":{\"ga4_client_id\":\"111.222\"},\"n\":2}\n"
        "{\"user_id\":\"" BOB "\",\"account_id\":\"" ACC "\",\"n\":3}\n");
    struct mdp_buf sql;
    mdp_buf_init(&sql);
    mdp_buf_puts(&sql, "SELECT * FROM (VALUES ('" ANN "', '111.222'), ('" BOB
                       "', '333.444')) t(user_id, external_id)");
    rc = mdp_engine_write_table(f->e, f->lake, sql.data, "curated/dimensions/links", NULL, "r1",
                                NULL, &d);
    mdp_buf_cleanup(&sql);
    if (rc) fail_msg("%s", d.msg);
    struct mdp_state_item it = {"journal", "0001",
                                "{\"email_lower\":\"ann@example.com\",\"user_id\":null,"
                                "\"purpose\":\"vc_report\"}",
                                0};
    assert_int_equal(mdp_state_put(f->st, "journal_t", &it, 0, &d), 0);
    struct mdp_state_item it2 = {"journal", "0002",
                                 "{\"email_lower\":\"bob@example.com\",\"user_id\":\"" BOB
                                 "\",\"purpose\":\"vc_report\"}",
                                 0};
    assert_int_equal(mdp_state_put(f->st, "journal_t", &it2, 0, &d), 0);
    f->ctx.inv = f->inv;
    f->ctx.lake = f->lake;
    f->ctx.e = f->e;
    f->ctx.state = f->st;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    mdp_inventory_free(f->inv);
    mdp_state_close(f->st);
    mdp_engine_close(f->e);
    mdp_lake_close(f->lake);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

struct found {
    char text[4096];
    int n;
};

static int on_hit(const struct mdp_subject_hit *h, void *ud)
{
    struct found *fo = ud;
    size_t len = strlen(fo->text);
    /* a Parquet file is named by the engine: its folder stands for it */
    int folder = strstr(h->location, ".parquet") != NULL;
    int loclen = folder ? (int)(strrchr(h->location, '/') - h->location) : (int)strlen(h->location);
    snprintf(fo->text + len, sizeof fo->text - len, "%s %.*s%s%s %lld\n", h->dataset->name, loclen,
             h->location, h->sk ? "#" : "", h->sk ? h->sk : "", (long long)h->rows);
    fo->n++;
    return 0;
}

static const char ANN_HITS[] = "raw.t.profiles raw/t/profiles/dt=2026-10-01/a.csv 1\n"
                               "raw.t.profiles raw/t/profiles/dt=2026-10-02/b.csv 1\n"
                               "raw.t.accounts raw/t/accounts/dt=2026-10-01/c.csv 1\n"
                               "raw.t.sqs raw/t/sqs/dt=2026-10-01/d.json 1\n"
                               "raw.t.events raw/t/events/dt=2026-10-01/f.ndjson 2\n"
                               "curated.t.links curated/dimensions/links/run-r1 1\n"
                               "state.t.journal journal_t#0001 1\n";

static void check_ann(struct fx *f, struct mdp_subject *s)
{
    assert_string_equal(s->user_id, ANN);
    assert_int_equal(s->emails.n, 2);
    assert_string_equal(s->emails.v[0], "ann.new@example.com");
    assert_string_equal(s->emails.v[1], "ann@example.com");
    assert_int_equal(s->email_sha.n, 2);
    assert_int_equal(s->account_ids.n, 1);
    assert_string_equal(s->account_ids.v[0], ACC);
    assert_int_equal(s->external_ids.n, 1);
    assert_string_equal(s->external_ids.v[0], "111.222");
    struct found fo = {{0}, 0};
    struct mdp_diag d = {0};
    int64_t n = -1;
    int rc = mdp_subject_locate(&f->ctx, s, on_hit, &fo, &n, &d);
    if (rc) fail_msg("%s", d.msg);
    assert_int_equal(n, fo.n);
    assert_string_equal(fo.text, ANN_HITS);
}

static void test_resolve_by_email(void **state)
{
    struct fx *f = *state;
    struct mdp_subject *s = NULL;
    struct mdp_diag d = {0};
    int rc = mdp_subject_resolve(&f->ctx, NULL, "  ANN@example.com\t", &s, &d);
    if (rc) fail_msg("%s", d.msg);
    check_ann(f, s);
    mdp_subject_free(s);
}

static void test_resolve_by_id(void **state)
{
    struct fx *f = *state;
    struct mdp_subject *s = NULL;
    struct mdp_diag d = {0};
    int rc = mdp_subject_resolve(&f->ctx, ANN, NULL, &s, &d);
    if (rc) fail_msg("%s", d.msg);
    check_ann(f, s);
    mdp_subject_free(s);
}

struct rows_of {
    struct fx *f;
    struct mdp_subject *s;
    struct mdp_buf all;
};

static int collect_rows(const struct mdp_subject_hit *h, void *ud)
{
    struct rows_of *r = ud;
    struct mdp_diag d = {0};
    int64_t n = -1;
    mdp_buf_printf(&r->all, "# %s\n", h->dataset->name);
    int rc = mdp_subject_rows(&r->f->ctx, r->s, h, &r->all, &n, &d);
    if (rc) fail_msg("%s", d.msg);
    assert_int_equal(n, h->rows);
    return 0;
}

static void test_rows(void **state)
{
    struct fx *f = *state;
    struct mdp_diag d = {0};
    struct rows_of r = {f, NULL, {0}};
    mdp_buf_init(&r.all);
    assert_int_equal(mdp_subject_resolve(&f->ctx, ANN, NULL, &r.s, &d), 0);
    assert_int_equal(mdp_subject_locate(&f->ctx, r.s, collect_rows, &r, NULL, &d), 0);
    const char *t = r.all.data;
    /* her rows only: not Bob's, not Carol's address that contains hers */
    assert_null(strstr(t, BOB));
    assert_null(strstr(t, "xann@"));
    assert_null(strstr(t, CAROL));
    assert_non_null(strstr(t, "Ann@Example.COM"));
    assert_non_null(strstr(t, "ann.new@example.com"));
    assert_non_null(strstr(t, "\"ga4_client_id\":\"111.222\""));
    assert_non_null(strstr(t, "{\"table\":\"journal_t\",\"pk\":\"journal\",\"sk\":\"0001\","));
    assert_non_null(strstr(t, "{\"user_id\":\"" ANN "\",\"external_id\":\"111.222\"}"));
    /* the SQS record of the batch, not the batch */
    assert_null(strstr(t, "Records"));
    mdp_buf_cleanup(&r.all);
    mdp_subject_free(r.s);
}

static void test_account_only_without_person_key(void **state)
{
    struct fx *f = *state;
    struct mdp_diag d = {0};
    struct mdp_subject *s = NULL;
    /* Bob shares Ann's account: the account's row is his too, Ann's events on it are not */
    assert_int_equal(mdp_subject_resolve(&f->ctx, BOB, NULL, &s, &d), 0);
    struct found fo = {{0}, 0};
    assert_int_equal(mdp_subject_locate(&f->ctx, s, on_hit, &fo, NULL, &d), 0);
    assert_non_null(strstr(fo.text, "raw.t.accounts raw/t/accounts/dt=2026-10-01/c.csv 1\n"));
    assert_non_null(strstr(fo.text, "raw.t.events raw/t/events/dt=2026-10-01/f.ndjson 1\n"));
    assert_non_null(strstr(fo.text, "raw.t.sqs raw/t/sqs/dt=2026-10-02/e.json 1\n"));
    assert_non_null(strstr(fo.text, "state.t.journal journal_t#0002 1\n"));
    assert_null(strstr(fo.text, "d.json"));
    mdp_subject_free(s);
}

static void test_unknown_and_bad(void **state)
{
    struct fx *f = *state;
    struct mdp_diag d = {0};
    struct mdp_subject *s = NULL;
    assert_int_equal(
        mdp_subject_resolve(&f->ctx, "01890a5d-ac96-774b-bcce-b302099a8fff", NULL, &s, &d), 0);
    int64_t n = -1;
    assert_int_equal(mdp_subject_locate(&f->ctx, s, NULL, NULL, &n, &d), 0);
    assert_int_equal(n, 0);
    mdp_subject_free(s);
    s = NULL;
    assert_int_equal(mdp_subject_resolve(&f->ctx, "nope", NULL, &s, &d), MDP_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(d.msg, "not a user_id"));
    assert_int_equal(mdp_subject_resolve(&f->ctx, NULL, "no-at-sign", &s, &d), MDP_ERR_INVALID);
    assert_int_equal(mdp_subject_resolve(&f->ctx, ANN, "a@b.c", &s, &d), MDP_ERR_INVALID);
    /* an address of two user_ids is refused */
    put(f, "raw/t/profiles/dt=2026-10-03/g.csv",
        "user_id,email,account_id\n" CAROL ",bob@example.com,\n");
    assert_int_equal(mdp_subject_resolve(&f->ctx, NULL, "bob@example.com", &s, &d),
                     MDP_ERR_INVALID);
    assert_non_null(strstr(d.msg, "2 user_ids"));
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resolve_by_email, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_by_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_only_without_person_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_bad, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
