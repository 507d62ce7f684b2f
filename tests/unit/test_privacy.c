/* Unit tests of the privacy building blocks of erasure (docs/privacy.md §6): the consent journal's
 * keyed pseudonyms and deletable contact table, forgetting a subject, the one-time migration of a
 * journal written before pseudonymization (with its ledger entry), and the suppression list. */
#include "testutil.h"
#include "mdp/consent.h"
#include "mdp/buf.h"
#include "mdp/engine.h"
#include "mdp/hash.h"
#include "mdp/ingest.h"
#include "mdp/lake.h"
#include "mdp/model.h"
#include "mdp/pseudonym.h"
#include "mdp/retention.h"
#include "mdp/state.h"
#include "mdp/suppress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct env {
    char *dir;
    struct mdp_lake *lake;
    struct mdp_state *s;
};

static void env_open(struct env *e)
{
    struct mdp_diag d = {0};
    e->dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/lake", e->dir);
    assert_int_equal(mdp_lake_open(path, 1, &e->lake, &d), 0);
    snprintf(path, sizeof path, "%s/lake/_meta/state.sqlite", e->dir);
    assert_int_equal(mdp_state_open(path, &e->s, &d), 0);
}

static void env_close(struct env *e)
{
    mdp_state_close(e->s);
    mdp_lake_close(e->lake);
    tu_rmdir(e->dir);
}

static void record(struct mdp_state *s, const char *email, const char *user, const char *purpose,
                   int granted, int64_t ts)
{
    struct mdp_diag d = {0};
    struct mdp_consent_record r = {0};
    assert_int_equal(mdp_consent_subject(&r, email, user, &d), 0);
    snprintf(r.purpose, sizeof r.purpose, "%s", purpose);
    snprintf(r.source, sizeof r.source, "cli");
    r.granted = granted;
    r.ts_ms = ts;
    assert_int_equal(mdp_consent_append(s, &r, ts, &d), 0);
}

/* Every body of a state-store table concatenated (to grep for clear values). */
struct all {
    char buf[1 << 16];
    size_t n;
    int items;
};
static int cat_item(const struct mdp_state_item *it, void *ud)
{
    struct all *a = ud;
    a->n += (size_t)snprintf(a->buf + a->n, sizeof a->buf - a->n, "%s|%s|%s\n", it->pk, it->sk,
                             it->body);
    a->items++;
    return 0;
}
static void table_text(struct mdp_state *s, const char *table, struct all *a)
{
    struct mdp_diag d = {0};
    a->n = 0;
    a->buf[0] = '\0';
    a->items = 0;
    assert_int_equal(mdp_state_scan(s, table, cat_item, a, &d), 0);
}

static int valid_at(struct mdp_state *s, const char *email, const char *user, const char *purpose,
                    int64_t at)
{
    struct mdp_diag d = {0};
    struct mdp_consent_status st[16];
    int n = 0;
    assert_int_equal(mdp_consent_status_at(s, email, user, at, st, 16, &n, &d), 0);
    for (int i = 0; i < n; i++)
        if (strcmp(st[i].purpose, purpose) == 0) return st[i].valid;
    fail_msg("no purpose %s", purpose);
    return -1;
}

struct seen {
    int n, with_email, with_user;
    char emails[8][256];
};
static int see(const struct mdp_consent_record *r, void *ud)
{
    struct seen *s = ud;
    if (r->email_lower[0]) snprintf(s->emails[s->with_email++ % 8], 256, "%s", r->email_lower);
    if (r->user_id[0]) s->with_user++;
    s->n++;
    return 0;
}
static int see_body(int64_t seq, const char *body, void *ud)
{
    struct all *a = ud;
    a->n +=
        (size_t)snprintf(a->buf + a->n, sizeof a->buf - a->n, "%lld|%s\n", (long long)seq, body);
    return 0;
}
static int see_contact(const char *hmac, char kind, const char *value, void *ud)
{
    struct all *a = ud;
    assert_int_equal(strlen(hmac), 64);
    a->n += (size_t)snprintf(a->buf + a->n, sizeof a->buf - a->n, "%c:%s\n", kind, value);
    return 0;
}

static void test_pseudonyms(void **st)
{
    (void)st;
    struct env e;
    env_open(&e);
    struct mdp_diag d = {0};
    unsigned char k1[MDP_SUBJECT_KEY_LEN], k2[MDP_SUBJECT_KEY_LEN];
    assert_int_equal(mdp_subject_key(e.s, k1, &d), 0);
    assert_int_equal(mdp_subject_key(e.s, k2, &d), 0);
    assert_memory_equal(k1, k2, sizeof k1); /* generated once, then read */
    char a[65], b[65], c[65], u[65];
    assert_int_equal(mdp_subject_pseudonym(k1, MDP_PSEUDONYM_EMAIL, " Anna@Example.DE ", a, &d), 0);
    assert_int_equal(mdp_subject_pseudonym(k1, MDP_PSEUDONYM_EMAIL, "anna@example.de", b, &d), 0);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 64);
    /* keyed: not the plain SHA-256 of the address */
    assert_int_equal(mdp_email_hash("anna@example.de", c), 0);
    assert_string_not_equal(a, c);
    assert_int_equal(mdp_subject_pseudonym(k1, MDP_PSEUDONYM_USER_ID, "anna@example.de", u, &d), 0);
    assert_string_not_equal(a, u); /* kinds never share a pseudonym */
    assert_int_equal(mdp_subject_pseudonym(k1, MDP_PSEUDONYM_EMAIL, "no-at", a, &d),
                     MDP_ERR_INVALID);
    assert_int_equal(mdp_subject_pseudonym(k1, MDP_PSEUDONYM_USER_ID, "  ", a, &d),
                     MDP_ERR_INVALID);
    /* another lake has another key, so other pseudonyms */
    struct env f;
    env_open(&f);
    unsigned char k3[MDP_SUBJECT_KEY_LEN];
    assert_int_equal(mdp_subject_key(f.s, k3, &d), 0);
    assert_memory_not_equal(k1, k3, sizeof k1);
    env_close(&f);
    env_close(&e);
}

/* The journal both journal tests start from: anna by address (ml), anna with user id uid
 * (analytics), bob (ml, granted or withdrawn), a user id alone (ml). */
static void four_records(struct mdp_state *s, const char *uid, int bob_granted)
{
    record(s, "Anna@Example.de", NULL, "ml", 1, 1000);
    record(s, "anna@example.de", uid, "analytics", 1, 2000);
    record(s, "bob@example.de", NULL, "ml", bob_granted, 3000);
    record(s, NULL, "other-user", "ml", 1, 4000);
}

static void test_journal_pseudonymous_and_forget(void **st)
{
    (void)st;
    struct env e;
    env_open(&e);
    struct mdp_diag d = {0};
    const char *uid = "0190f5c2-0000-7000-8000-0000000000aa";
    four_records(e.s, uid, 1);

    /* the chain holds no clear subject; the contact table does */
    struct all *a = malloc(sizeof *a);
    table_text(e.s, "consent_journal", a);
    assert_int_equal(a->items, 4);
    assert_null(strstr(a->buf, "anna@example.de"));
    assert_null(strstr(a->buf, uid));
    assert_null(strstr(a->buf, "bob@"));
    assert_non_null(strstr(a->buf, "\"email_hmac\":\""));
    table_text(e.s, "consent_contact", a);
    assert_int_equal(a->items, 4); /* anna, bob, uid, other-user */
    assert_non_null(strstr(a->buf, "anna@example.de"));

    /* every reader keeps working: status by address and id, the walks with the clear subject */
    assert_true(valid_at(e.s, "ANNA@example.de", NULL, "ml", 1500));
    assert_true(valid_at(e.s, NULL, uid, "analytics", 2500));
    assert_false(valid_at(e.s, NULL, uid, "ml", 2500)); /* that grant named only the address */
    struct seen sn = {0};
    assert_int_equal(mdp_consent_each(e.s, see, &sn, &d), 0);
    assert_int_equal(sn.n, 4);
    assert_int_equal(sn.with_email, 3);
    assert_int_equal(sn.with_user, 2);
    assert_string_equal(sn.emails[0], "anna@example.de");
    /* the bulk walk hands over the stored records (pseudonymous), newest first */
    a->n = 0;
    assert_int_equal(mdp_consent_each_stored(e.s, 0, see_body, a, &d), 0);
    assert_null(strstr(a->buf, "anna@"));
    assert_non_null(strstr(a->buf, "4|{\"seq\":4,\"email_hmac\":null,\"user_hmac\":\""));
    assert_true(strstr(a->buf, "4|") < strstr(a->buf, "1|{\"seq\":1,"));
    a->n = 0;
    assert_int_equal(mdp_consent_each_stored(e.s, 2, see_body, a, &d), 0);
    assert_null(strstr(a->buf, "\"seq\":2,")); /* only the records after seq 2 */
    assert_non_null(strstr(a->buf, "3|{\"seq\":3,"));
    struct mdp_consent_verify v;
    assert_int_equal(mdp_consent_verify(e.s, &v, &d), 0);
    assert_int_equal(v.bad_seq, 0);

    /* forgetting by user id also forgets the address the user consented with */
    struct mdp_consent_forgotten fg;
    assert_int_equal(mdp_consent_forget(e.s, NULL, uid, &fg, &d), 0);
    assert_int_equal(fg.records, 2);
    assert_int_equal(fg.email_rows, 1);
    assert_int_equal(fg.user_rows, 1);
    table_text(e.s, "consent_contact", a);
    assert_int_equal(a->items, 2);
    assert_null(strstr(a->buf, "anna@"));
    assert_null(strstr(a->buf, uid));
    assert_non_null(strstr(a->buf, "bob@example.de"));
    /* the records and the chain stay */
    assert_int_equal(mdp_consent_verify(e.s, &v, &d), 0);
    assert_int_equal(v.bad_seq, 0);
    assert_int_equal(v.records, 4);
    memset(&sn, 0, sizeof sn);
    assert_int_equal(mdp_consent_each(e.s, see, &sn, &d), 0);
    assert_int_equal(sn.n, 4);
    assert_int_equal(sn.with_email, 1); /* only bob's record still has an address */
    assert_string_equal(sn.emails[0], "bob@example.de");
    a->n = 0;
    assert_int_equal(mdp_consent_each_contact(e.s, see_contact, a, &d), 0);
    assert_null(strstr(a->buf, "anna@"));
    assert_non_null(strstr(a->buf, "e:bob@example.de"));
    /* proof of consent by whoever presents the address still works: the pseudonym matches */
    assert_true(valid_at(e.s, "anna@example.de", NULL, "ml", 1500));
    /* forgetting again finds the records, deletes nothing */
    assert_int_equal(mdp_consent_forget(e.s, "anna@example.de", NULL, &fg, &d), 0);
    assert_int_equal(fg.records, 2);
    assert_int_equal(fg.email_rows + fg.user_rows, 0);
    assert_int_equal(mdp_consent_forget(e.s, NULL, NULL, &fg, &d), MDP_ERR_INVALID);
    /* new decisions after an erasure append to the same chain */
    record(e.s, "carla@example.de", NULL, "ml", 1, 5000);
    assert_int_equal(mdp_consent_verify(e.s, &v, &d), 0);
    assert_int_equal(v.bad_seq, 0);
    free(a);
    env_close(&e);
}

/* consent_journal as the gating SQL sees it (mdp__consent_journal_load), a line per record in seq
 * order: seq|email_hash|user_id|purpose|granted ('-' for NULL); *n gets the count it reports. */
static void journal_table(struct env *e, struct mdp_buf *out, int64_t *n)
{
    struct mdp_diag d = {0};
    struct mdp_engine *eng;
    assert_int_equal(mdp_engine_open(NULL, &eng, &d), 0);
    assert_int_equal(mdp__consent_journal_load(eng, e->lake, e->s, n, &d), 0);
    assert_int_equal(mdp_engine_scalar(eng,
                                       "SELECT string_agg(concat_ws('|', seq, coalesce(email_hash, "
                                       "'-'), coalesce(user_id, '-'), purpose, granted), chr(10) "
                                       "ORDER BY seq) FROM consent_journal",
                                       out, &d),
                     0);
    mdp_engine_close(eng);
}

/* The names of the journal's Parquet copies, sorted, comma-separated. */
static void copies(struct env *e, char *out, size_t cap)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls %s/lake/_meta/cache/consent-journal 2>/dev/null | tr '\\n' ,",
             e->dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t k = fread(out, 1, cap - 1, p);
    out[k] = '\0';
    pclose(p);
}

/* After a load that had to read around a bad copy: the same table as before (want, 5 records)
 * and one copy again, named as before */
static void loads_as_before(struct env *e, struct mdp_buf *t2, const char *want, const char *before)
{
    char names[512];
    int64_t n = 0;
    mdp_buf_reset(t2);
    journal_table(e, t2, &n);
    assert_int_equal(n, 5);
    assert_string_equal(t2->data, want);
    copies(e, names, sizeof names);
    assert_string_equal(names, before);
}

static void test_journal_table(void **st)
{
    (void)st;
    struct env e;
    env_open(&e);
    struct mdp_diag d = {0};
    const char *uid = "0190f5c2-0000-7000-8000-0000000000aa";
    four_records(e.s, uid, 0);
    char anna[65], bob[65], want[1024], names[512];
    assert_int_equal(mdp_email_hash("anna@example.de", anna), 0);
    assert_int_equal(mdp_email_hash("bob@example.de", bob), 0);

    /* the first load reads the state store and writes the copy of records 1..4 */
    struct mdp_buf t;
    mdp_buf_init(&t);
    int64_t n = 0;
    journal_table(&e, &t, &n);
    assert_int_equal(n, 4);
    snprintf(want, sizeof want,
             "1|%s|-|ml|true\n2|%s|%s|analytics|true\n3|%s|-|ml|false\n"
             "4|-|other-user|ml|true",
             anna, anna, uid, bob);
    assert_string_equal(t.data, want);
    copies(&e, names, sizeof names);
    assert_int_equal(strncmp(names, "journal-1-4-", 12), 0);
    assert_ptr_equal(strchr(names, ','), names + strlen(names) - 1); /* one copy */
    /* the copy names nobody in clear: only the pseudonyms the journal itself keeps */
    char cmd[700];
    snprintf(cmd, sizeof cmd,
             "grep -rlaF -e anna@ -e bob@ -e other-user %s/lake/_meta/cache >/dev/null", e.dir);
    assert_int_not_equal(system(cmd), 0);

    /* a record after the copy: read from the state store, the copy renewed (1 >= 4/16) */
    record(e.s, "carla@example.de", NULL, "vc_report", 1, 5000);
    journal_table(&e, &t, &n);
    assert_int_equal(n, 5);
    assert_int_equal(strncmp(t.data, want, strlen(want)), 0);
    assert_non_null(strstr(t.data, "\n5|"));
    assert_null(strstr(t.data + strlen(want) + 3, "\n")); /* nothing after record 5 */
    copies(&e, names, sizeof names);
    assert_int_equal(strncmp(names, "journal-1-5-", 12), 0);
    assert_ptr_equal(strchr(names, ','), names + strlen(names) - 1); /* the older copy is gone */

    /* an erasure deletes contact rows only; the copy (unchanged) joins to nobody for anna */
    struct mdp_consent_forgotten fg;
    assert_int_equal(mdp_consent_forget(e.s, NULL, uid, &fg, &d), 0);
    char before[512];
    snprintf(before, sizeof before, "%s", names);
    journal_table(&e, &t, &n);
    assert_int_equal(n, 5);
    assert_non_null(strstr(t.data, "1|-|-|ml|true\n2|-|-|analytics|true\n3|"));
    assert_null(strstr(t.data, anna));
    assert_null(strstr(t.data, uid));
    copies(&e, names, sizeof names);
    assert_string_equal(names, before);

    /* a copy that does not match the journal (here: the hash in its name) is dropped and rebuilt */
    snprintf(cmd, sizeof cmd,
             "cd %s/lake/_meta/cache/consent-journal && mv journal-1-5-* "
             "journal-1-5-0000000000000000.parquet",
             e.dir);
    assert_int_equal(system(cmd), 0);
    struct mdp_buf t2;
    mdp_buf_init(&t2);
    loads_as_before(&e, &t2, t.data, before);

    /* a copy cut short (not Parquet any more): the load reads the journal whole and writes it anew */
    snprintf(cmd, sizeof cmd,
             "cd %s/lake/_meta/cache/consent-journal && truncate -s 100 journal-1-5-*", e.dir);
    assert_int_equal(system(cmd), 0);
    loads_as_before(&e, &t2, t.data, before);
    snprintf(cmd, sizeof cmd,
             "test $(stat -c %%s %s/lake/_meta/cache/consent-journal/journal-1-5-*) -gt 100",
             e.dir);
    assert_int_equal(system(cmd), 0);

    /* a copy altered in place, still Parquet under the same name (every decision flipped): its
     * bytes are not those whose digest was recorded, so it is dropped and the journal read whole;
     * the gating sees the journal's decisions, not the altered ones */
    char path[600], alt[700], sql[1600];
    snprintf(path, sizeof path, "%s/lake/_meta/cache/consent-journal/%.*s", e.dir,
             (int)strcspn(before, ","), before);
    snprintf(alt, sizeof alt, "%s.alt", path);
    snprintf(sql, sizeof sql,
             "COPY (SELECT * REPLACE (NOT granted AS granted) FROM read_parquet('%s')) TO '%s' "
             "(FORMAT parquet)",
             path, alt);
    struct mdp_engine *eng;
    assert_int_equal(mdp_engine_open(NULL, &eng, &d), 0);
    assert_int_equal(mdp_engine_exec(eng, sql, &d), 0);
    mdp_engine_close(eng);
    assert_int_equal(rename(alt, path), 0);
    loads_as_before(&e, &t2, t.data, before); /* written anew, with its digest */
    loads_as_before(&e, &t2, t.data, before); /* and trusted again */
    mdp_buf_cleanup(&t);
    mdp_buf_cleanup(&t2);
    env_close(&e);
}

/* Writes a journal in the format before pseudonymization (the subject in clear). */
static void old_record(struct mdp_state *s, int64_t seq, const char *email, const char *user,
                       const char *purpose, int64_t ts, char prev[65])
{
    char em[300], us[100], body[1024], hash[65], sk[24];
    snprintf(em, sizeof em, email ? "\"%s\"" : "null", email);
    snprintf(us, sizeof us, user ? "\"%s\"" : "null", user);
    int n = snprintf(body, sizeof body,
                     "{\"seq\":%lld,\"email_lower\":%s,\"user_id\":%s,\"purpose\":\"%s\","
                     "\"decision\":\"granted\",\"ts_ms\":%lld,\"source\":\"cli\","
                     "\"expires_at_ms\":null,\"evidence\":\"form-v1\",\"prev_hash\":\"%s\"}",
                     (long long)seq, em, us, purpose, (long long)ts, prev);
    assert_int_equal(mdp_sha256_hex(body, (size_t)n, hash), 0);
    snprintf(body + n - 1, sizeof body - (size_t)n + 1, ",\"hash\":\"%s\"}", hash);
    snprintf(sk, sizeof sk, "%016lld", (long long)seq);
    struct mdp_diag d = {0};
    struct mdp_state_item it = {"journal", sk, body, 0};
    assert_int_equal(mdp_state_put(s, "consent_journal", &it, 0, &d), 0);
    char head[128];
    snprintf(head, sizeof head, "{\"seq\":%lld,\"hash\":\"%s\"}", (long long)seq, hash);
    struct mdp_state_item h = {"journal", "head", head, 0};
    assert_int_equal(mdp_state_put(s, "consent_head", &h, 0, &d), 0);
    memcpy(prev, hash, 65);
}

static void test_journal_migration(void **st)
{
    (void)st;
    struct env e;
    env_open(&e);
    struct mdp_diag d = {0};
    char prev[65] = "";
    const char *uid = "0190f5c2-0000-7000-8000-0000000000bb";
    /* 45 records: more than two batches of the migration */
    for (int i = 1; i <= 45; i++) {
        char em[64];
        snprintf(em, sizeof em, "user%d@example.de", i % 7);
        old_record(e.s, i, i % 5 ? em : NULL, i % 3 ? NULL : uid, i % 2 ? "ml" : "analytics",
                   1000 * i, prev);
    }
    char old_head[65];
    memcpy(old_head, prev, 65);
    struct mdp_consent_verify v;
    assert_int_equal(mdp_consent_verify(e.s, &v, &d), 0);
    assert_int_equal(v.bad_seq, 0);
    /* readers understand the old format before the migration */
    assert_true(valid_at(e.s, "user1@example.de", NULL, "ml", 1000));
    /* forgetting a subject written in clear is refused until the journal is migrated */
    struct mdp_consent_forgotten fg;
    assert_int_equal(mdp_consent_forget(e.s, "user1@example.de", NULL, &fg, &d),
                     MDP_ERR_UNSUPPORTED);
    assert_non_null(strstr(d.msg, "mdp consent migrate"));
    /* the gating table reads the clear subjects; no Parquet copy is made of such a journal */
    struct mdp_buf t0, t1;
    mdp_buf_init(&t0);
    mdp_buf_init(&t1);
    int64_t n = 0;
    char names[512], h1[65];
    journal_table(&e, &t0, &n);
    assert_int_equal(n, 45);
    assert_int_equal(mdp_email_hash("user1@example.de", h1), 0);
    assert_non_null(strstr(t0.data, h1));
    assert_non_null(strstr(t0.data, uid));
    copies(&e, names, sizeof names);
    assert_string_equal(names, "");

    struct mdp_consent_migration m;
    assert_int_equal(mdp_consent_migrate(e.lake, e.s, &m, &d), 0);
    assert_int_equal(m.records, 45);
    assert_int_equal(m.migrated, 45);
    assert_string_equal(m.old_head, old_head);
    assert_string_not_equal(m.new_head, old_head);
    assert_int_equal(m.ledger_seq, 1);
    /* the chain verifies, holds no clear subject, and the head is the new one */
    assert_int_equal(mdp_consent_verify(e.s, &v, &d), 0);
    assert_int_equal(v.bad_seq, 0);
    assert_int_equal(v.records, 45);
    struct all *a = malloc(sizeof *a);
    table_text(e.s, "consent_journal", a);
    assert_null(strstr(a->buf, "@example.de"));
    assert_null(strstr(a->buf, uid));
    assert_null(strstr(a->buf, "email_lower"));
    assert_non_null(strstr(a->buf, "\"evidence\":\"form-v1\""));
    table_text(e.s, "consent_head", a);
    assert_non_null(strstr(a->buf, m.new_head));
    assert_null(strstr(a->buf, "migration")); /* the progress record is gone */
    /* the same gating table after it, now with a copy */
    journal_table(&e, &t1, &n);
    assert_string_equal(t1.data, t0.data);
    copies(&e, names, sizeof names);
    assert_int_equal(strncmp(names, "journal-1-45-", 13), 0);
    mdp_buf_cleanup(&t0);
    mdp_buf_cleanup(&t1);
    /* the ledger links the old head to the new one, and its chain verifies */
    int64_t lseq, n_entries;
    char lhash[65], *body = NULL;
    assert_int_equal(mdp_ledger_last(e.lake, &lseq, lhash, &body, &d), 0);
    assert_int_equal(lseq, 1);
    char want[200];
    snprintf(want, sizeof want, "\"old_head_seq\":45,\"old_head_hash\":\"%s\"", old_head);
    assert_non_null(strstr(body, want));
    snprintf(want, sizeof want, "\"new_head_seq\":45,\"new_head_hash\":\"%s\"", m.new_head);
    assert_non_null(strstr(body, want));
    assert_non_null(strstr(body, "\"what\":\"consent_journal_migration\""));
    assert_null(strstr(body, "@example.de"));
    free(body);
    int lv = mdp_retention_ledger_verify(e.lake, &n_entries, &d);
    if (lv) fail_msg("%s", d.msg);
    assert_int_equal(n_entries, 1);
    /* the readers give the same answers as before */
    assert_true(valid_at(e.s, "user1@example.de", NULL, "ml", 1000));
    assert_true(valid_at(e.s, NULL, uid, "ml", 3000 * 3));
    struct seen sn = {0};
    if (mdp_consent_each(e.s, see, &sn, &d)) fail_msg("%s", d.msg);
    assert_int_equal(sn.n, 45);
    assert_int_equal(sn.with_email, 36); /* every record but each fifth */
    assert_int_equal(sn.with_user, 15);
    /* once: a second run changes nothing and writes no ledger entry */
    assert_int_equal(mdp_consent_migrate(e.lake, e.s, &m, &d), 0);
    assert_int_equal(m.migrated, 0);
    assert_int_equal(m.ledger_seq, 0);
    assert_int_equal(mdp_retention_ledger_verify(e.lake, &n_entries, &d), 0);
    assert_int_equal(n_entries, 1);
    /* now the subject can be forgotten, and the chain still verifies */
    assert_int_equal(mdp_consent_forget(e.s, NULL, uid, &fg, &d), 0);
    assert_int_equal(fg.records > 15, 1); /* the uid's records and those of its addresses */
    assert_int_equal(fg.user_rows, 1);
    assert_int_equal(mdp_consent_verify(e.s, &v, &d), 0);
    assert_int_equal(v.bad_seq, 0);
    table_text(e.s, "consent_contact", a);
    assert_null(strstr(a->buf, uid));
    free(a);
    env_close(&e);
}

static void test_migration_refuses_broken_and_resumes(void **st)
{
    (void)st;
    struct env e;
    env_open(&e);
    struct mdp_diag d = {0};
    char prev[65] = "";
    for (int i = 1; i <= 30; i++)
        old_record(e.s, i, "x@example.de", NULL, "ml", 1000 * i, prev);
    /* an altered record: the migration refuses and changes nothing */
    char *b = NULL;
    assert_int_equal(
        mdp_state_get(e.s, "consent_journal", "journal", "0000000000000007", &b, NULL, &d), 0);
    char *saved = strdup(b);
    char *p = strstr(b, "\"granted\"");
    memcpy(p, "\"grantee\"", 9);
    struct mdp_state_item it = {"journal", "0000000000000007", b, 0};
    assert_int_equal(mdp_state_put(e.s, "consent_journal", &it, 0, &d), 0);
    struct mdp_consent_migration m;
    assert_int_equal(mdp_consent_migrate(e.lake, e.s, &m, &d), MDP_ERR_PARSE);
    assert_non_null(strstr(d.msg, "broken at seq 7"));
    int64_t n_entries = -1;
    assert_int_equal(mdp_retention_ledger_verify(e.lake, &n_entries, &d), 0);
    assert_int_equal(n_entries, 0);
    it.body = saved;
    assert_int_equal(mdp_state_put(e.s, "consent_journal", &it, 0, &d), 0);
    free(b);
    free(saved);
    /* a crash after the first batch: simulated by migrating, then putting back the old records
     * 21..30 and a progress record as the first batch's transaction left them */
    char old_k[65] = "", new_k[65] = "";
    char *olds[31] = {0};
    for (int i = 1; i <= 30; i++) {
        char sk[24];
        snprintf(sk, sizeof sk, "%016d", i);
        assert_int_equal(mdp_state_get(e.s, "consent_journal", "journal", sk, &olds[i], NULL, &d),
                         0);
    }
    memcpy(old_k, strstr(olds[20], ",\"hash\":\"") + 9, 64);
    old_k[64] = '\0';
    assert_int_equal(mdp_consent_migrate(e.lake, e.s, &m, &d), 0);
    char new_head[65];
    memcpy(new_head, m.new_head, 65);
    char *b20 = NULL;
    assert_int_equal(
        mdp_state_get(e.s, "consent_journal", "journal", "0000000000000020", &b20, NULL, &d), 0);
    memcpy(new_k, strstr(b20, ",\"hash\":\"") + 9, 64);
    new_k[64] = '\0';
    free(b20);
    for (int i = 21; i <= 30; i++) {
        char sk[24];
        snprintf(sk, sizeof sk, "%016d", i);
        struct mdp_state_item o = {"journal", sk, olds[i], 0};
        assert_int_equal(mdp_state_put(e.s, "consent_journal", &o, 0, &d), 0);
    }
    char pb[512], oh[65];
    memcpy(oh, strstr(olds[30], ",\"hash\":\"") + 9, 64);
    oh[64] = '\0';
    snprintf(pb, sizeof pb,
             "{\"done\":20,\"old_k\":\"%s\",\"new_k\":\"%s\",\"old_seq\":30,\"old_head\":\"%s\","
             "\"new_head\":\"%s\",\"ledger\":1,\"ledger_seq\":1}",
             old_k, new_k, oh, new_head);
    struct mdp_state_item pr = {"journal", "migration", pb, 0};
    assert_int_equal(mdp_state_put(e.s, "consent_head", &pr, 0, &d), 0);
    char hb[128];
    snprintf(hb, sizeof hb, "{\"seq\":30,\"hash\":\"%s\"}", oh);
    struct mdp_state_item h = {"journal", "head", hb, 0};
    assert_int_equal(mdp_state_put(e.s, "consent_head", &h, 0, &d), 0);
    /* the re-run finishes from record 21, writes no second ledger entry, ends at the same head */
    assert_int_equal(mdp_consent_migrate(e.lake, e.s, &m, &d), 0);
    assert_int_equal(m.migrated, 10);
    assert_string_equal(m.new_head, new_head);
    struct mdp_consent_verify v;
    assert_int_equal(mdp_consent_verify(e.s, &v, &d), 0);
    assert_int_equal(v.bad_seq, 0);
    assert_int_equal(v.records, 30);
    assert_int_equal(mdp_retention_ledger_verify(e.lake, &n_entries, &d), 0);
    assert_int_equal(n_entries, 1);
    for (int i = 1; i <= 30; i++)
        free(olds[i]);
    env_close(&e);
}

static void test_suppression(void **st)
{
    (void)st;
    struct env e;
    env_open(&e);
    struct mdp_diag d = {0};
    struct mdp_suppress_set *set = NULL;
    /* an empty list: nothing loaded, no key made */
    assert_int_equal(mdp_suppress_load(e.s, &set, &d), 0);
    assert_null(set);
    char *kb = NULL;
    assert_int_equal(mdp_state_get(e.s, "subject_key", "key", "v1", &kb, NULL, &d),
                     MDP_ERR_NOT_FOUND);
    const char *uid = "0190F5C2-0000-7000-8000-0000000000CC";
    int added = -1, found = -1;
    assert_int_equal(mdp_suppress_add(e.s, "Erin@Example.de", uid, "erasure:e1", 1000, &added, &d),
                     0);
    assert_int_equal(added, 3);
    assert_int_equal(mdp_suppress_add(e.s, "erin@example.de", NULL, "erasure:e2", 2000, &added, &d),
                     0);
    assert_int_equal(added, 0);
    assert_int_equal(
        mdp_suppress_contains(e.s, NULL, "0190f5c2-0000-7000-8000-0000000000cc", &found, &d), 0);
    assert_int_equal(found, 1);
    assert_int_equal(mdp_suppress_contains(e.s, "frank@example.de", NULL, &found, &d), 0);
    assert_int_equal(found, 0);
    assert_int_equal(mdp_suppress_add(e.s, NULL, "", NULL, 0, NULL, &d), MDP_ERR_INVALID);
    struct all *a = malloc(sizeof *a);
    table_text(e.s, "suppression", a);
    assert_int_equal(a->items, 4); /* the three entries and the list's version counter */
    assert_null(strstr(a->buf, "erin"));
    assert_null(strstr(a->buf, "0190"));
    assert_non_null(strstr(a->buf, "erasure:e1")); /* the first reason stays */
    char sha[65];
    assert_int_equal(mdp_email_hash("erin@example.de", sha), 0);
    assert_null(strstr(a->buf, sha));

    assert_int_equal(mdp_suppress_load(e.s, &set, &d), 0);
    assert_non_null(set);
    assert_int_equal(mdp_suppress_set_count(set), 3);
#define M(text) mdp_suppress_match(set, text, strlen(text))
    assert_true(M("{\"email\":\"ERIN@example.DE\"}"));
    assert_true(M("To: Erin <erin@example.de>"));
    assert_true(M("x,0190f5c2-0000-7000-8000-0000000000cc,y"));
    char line[200];
    snprintf(line, sizeof line, "{\"email_hash\":\"%s\"}", sha);
    assert_true(M(line));
    assert_false(M("{\"email\":\"erin@example.dev\"}"));      /* another domain */
    assert_false(M("{\"email\":\"xerin@example.de\"}"));      /* another local part */
    assert_false(M("a0190f5c2-0000-7000-8000-0000000000cc")); /* inside a longer token */
    assert_false(M("0190f5c2-0000-7000-8000-0000000000cd"));
    assert_false(M(""));
#undef M
    /* issue 12: the list in a long-running process reloads only when it changed */
    struct mdp_suppress_live *live = NULL;
    int reloaded = -1;
    assert_int_equal(mdp_suppress_live_new(&live, &d), 0);
    assert_false(mdp_suppress_live_match(live, "erin@example.de", 15));
    assert_int_equal(mdp_suppress_live_refresh(live, e.s, &reloaded, &d), 0);
    assert_int_equal(reloaded, 1);
    assert_int_equal(mdp_suppress_live_count(live), 3);
    assert_true(mdp_suppress_live_match(live, "erin@example.de", 15));
    assert_false(mdp_suppress_live_match(live, "frank@example.de", 16));
    assert_int_equal(mdp_suppress_live_refresh(live, e.s, &reloaded, &d), 0);
    assert_int_equal(reloaded, 0); /* unchanged: one get, no reload */
    assert_int_equal(
        mdp_suppress_add(e.s, "frank@example.de", NULL, "erasure:e3", 3000, &added, &d), 0);
    assert_int_equal(added, 2);
    assert_int_equal(mdp_suppress_live_refresh(live, e.s, &reloaded, &d), 0);
    assert_int_equal(reloaded, 1);
    assert_int_equal(mdp_suppress_live_count(live), 5);
    assert_true(mdp_suppress_live_match(live, "frank@example.de", 16));
    mdp_suppress_live_free(live);
    /* deliveries: NDJSON lines, CSV lines, a batch document, concatenated JSON */
    struct mdp_buf kept;
    mdp_buf_init(&kept);
    int64_t dropped = -1;
    const char *nd = "{\"id\":1,\"user_id\":\"a\"}\n{\"id\":2,\"e\":\"erin@example.de\"}\n"
                     "not json erin@example.de\n{\"id\":3}\n";
    assert_int_equal(mdp_ingest_suppress(set, nd, strlen(nd), &kept, &dropped, &d), 0);
    assert_int_equal(dropped, 2);
    assert_string_equal(kept.data, "{\"id\":1,\"user_id\":\"a\"}\n{\"id\":3}\n");
    mdp_buf_reset(&kept);
    const char *csv = "user_id,email\r\nu1,a@b.de\r\n0190f5c2-0000-7000-8000-0000000000cc,x\r\n"
                      "u3,c@d.de";
    assert_int_equal(mdp_ingest_suppress(set, csv, strlen(csv), &kept, &dropped, &d), 0);
    assert_int_equal(dropped, 1);
    assert_string_equal(kept.data, "user_id,email\r\nu1,a@b.de\r\nu3,c@d.de");
    mdp_buf_reset(&kept);
    const char *batch = "{\n  \"Records\": [\n {\"body\": \"to a@b.de\"},\n"
                        "  {\"body\": \"to erin@example.de\"}, {\"body\": \"x/y\"}\n  ]\n}\n";
    assert_int_equal(mdp_ingest_suppress(set, batch, strlen(batch), &kept, &dropped, &d), 0);
    assert_int_equal(dropped, 1);
    assert_string_equal(kept.data, "{\"Records\":[{\"body\":\"to a@b.de\"},{\"body\":\"x/y\"}]}\n");
    mdp_buf_reset(&kept);
    const char *cat = "{\"a\":\"erin@example.de\"}{\"a\":\"b\"}";
    assert_int_equal(mdp_ingest_suppress(set, cat, strlen(cat), &kept, &dropped, &d), 0);
    assert_int_equal(dropped, 1);
    assert_string_equal(kept.data, "{\"a\":\"b\"}");
    mdp_buf_reset(&kept);
    const char *clean = "{\"a\":1}\n";
    assert_int_equal(mdp_ingest_suppress(set, clean, strlen(clean), &kept, &dropped, &d), 0);
    assert_int_equal(dropped, 0);
    assert_int_equal(kept.len, 0);
    mdp_buf_cleanup(&kept);
    mdp_suppress_set_free(set);
    free(a);
    env_close(&e);
}

/* Retention of the journal (docs/privacy.md §4): which records are due, their pruning to
 * tombstones that keep the chain, the contact rows no live record names, reruns, appends after. */
#define DAY (86400000LL)

static void record_exp(struct mdp_state *s, const char *email, const char *user,
                       const char *purpose, int granted, int64_t ts, int64_t expires)
{
    struct mdp_diag d = {0};
    struct mdp_consent_record r = {0};
    assert_int_equal(mdp_consent_subject(&r, email, user, &d), 0);
    snprintf(r.purpose, sizeof r.purpose, "%s", purpose);
    snprintf(r.source, sizeof r.source, "cli");
    r.granted = granted;
    r.ts_ms = ts;
    r.expires_at_ms = expires;
    assert_int_equal(mdp_consent_append(s, &r, 100 * DAY, &d), 0);
}

static void due_seqs(struct mdp_state *s, int64_t cutoff, char *out, size_t n, char ***keys,
                     size_t *nkeys)
{
    struct mdp_diag d = {0};
    struct mdp_consent_due *due = NULL;
    size_t k = 0;
    assert_int_equal(mdp_consent_due(s, cutoff, &due, &k, &d), 0);
    out[0] = '\0';
    if (keys) *keys = calloc(k + 1, sizeof **keys);
    for (size_t i = 0; i < k; i++) {
        snprintf(out + strlen(out), n - strlen(out), "%s%lld@%lld", i ? "," : "",
                 (long long)due[i].seq, (long long)(due[i].ended_ms / DAY));
        if (keys) {
            char key[96];
            snprintf(key, sizeof key, "%lld:%s", (long long)due[i].seq, due[i].hash);
            (*keys)[i] = strdup(key);
        }
    }
    if (nkeys) *nkeys = k;
    free(due);
}

static void keys_free(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

static void test_journal_retention(void **st)
{
    (void)st;
    struct env e;
    env_open(&e);
    struct mdp_diag d = {0};
    const char *u1 = "0190f5c2-0000-7000-8000-0000000000a1",
               *u2 = "0190f5c2-0000-7000-8000-0000000000a2",
               *u3 = "0190f5c2-0000-7000-8000-0000000000a3";
    record_exp(e.s, "anna@example.de", NULL, "ml", 1, 1000, 0);            /* 1: superseded by 3 */
    record_exp(e.s, "anna@example.de", u1, "analytics", 1, 2000, 0);       /* 2: in force */
    record_exp(e.s, "anna@example.de", NULL, "ml", 0, 10 * DAY, 0);        /* 3: a withdrawal */
    record_exp(e.s, "bob@example.de", NULL, "ml", 1, 3000, 20 * DAY);      /* 4: expires day 20 */
    record_exp(e.s, NULL, u1, "ml", 1, 5 * DAY, 0);                        /* 5: in force */
    record_exp(e.s, "carla@example.de", u2, "vc_report", 1, DAY, 0);       /* 6: see below */
    record_exp(e.s, "carla@example.de", NULL, "vc_report", 1, 2 * DAY, 0); /* 7: in force */
    record_exp(e.s, NULL, u3, "personalization", 1, DAY, 0);               /* 8: superseded by 9 */
    record_exp(e.s, "dora@example.de", u3, "personalization", 0, 3 * DAY, 0); /* 9 */
    /* 7 does not supersede 6: it lacks 6's user id, by which a lookup still finds 6 first */
    char got[256], **keys;
    size_t nk;
    due_seqs(e.s, 15 * DAY, got, sizeof got, NULL, NULL);
    assert_string_equal(got, "1@10,3@10,8@3,9@3");
    due_seqs(e.s, 25 * DAY, got, sizeof got, NULL, NULL);
    assert_string_equal(got, "1@10,3@10,4@20,8@3,9@3");
    due_seqs(e.s, 2 * DAY, got, sizeof got, NULL, NULL);
    assert_string_equal(got, "");

    /* a digest of the table copy, as src/model/ml.c records it: pruning drops it */
    struct mdp_state_item dig = {"journal", "digest", "{\"file\":\"x\",\"sha256\":\"y\"}", 0};
    assert_int_equal(mdp_state_put(e.s, "consent_copy", &dig, 0, &d), 0);
    /* a key whose hash is not the record's: refused, nothing pruned */
    due_seqs(e.s, 15 * DAY, got, sizeof got, &keys, &nk);
    char *bad_key = keys[0];
    char forged[96];
    snprintf(forged, sizeof forged, "1:%064d", 0);
    keys[0] = forged;
    struct mdp_consent_pruned pr;
    assert_int_equal(mdp_consent_prune(e.s, keys, nk, &pr, &d), MDP_ERR_EXISTS);
    assert_int_equal(pr.records, 0);
    keys[0] = bad_key;

    struct mdp_consent_verify v;
    assert_int_equal(mdp_consent_prune(e.s, keys, nk, &pr, &d), 0);
    assert_int_equal(pr.records, 4);
    assert_int_equal(pr.already, 0);
    /* dora's address and u3 were named only by 8 and 9; anna's address is still named by 2 */
    assert_int_equal(pr.contact_rows, 2);
    struct all *a = malloc(sizeof *a);
    table_text(e.s, "consent_contact", a);
    assert_null(strstr(a->buf, "dora@"));
    assert_null(strstr(a->buf, u3));
    assert_non_null(strstr(a->buf, "anna@example.de"));
    table_text(e.s, "consent_journal", a);
    assert_int_equal(a->items, 9); /* the tombstones keep their places */
    assert_non_null(
        strstr(a->buf, "|0000000000000001|{\"seq\":1,\"pruned\":true,\"prev_hash\":\"\","));
    char *body = NULL;
    assert_int_equal(mdp_state_get(e.s, "consent_copy", "journal", "digest", &body, NULL, &d),
                     MDP_ERR_NOT_FOUND);
    assert_int_equal(mdp_consent_verify(e.s, &v, &d), 0);
    assert_int_equal(v.bad_seq, 0);
    assert_int_equal(v.records, 9);
    assert_int_equal(v.pruned, 4);
    /* the decisions in force are as before: anna analytics by address and by id, carla by id */
    assert_true(valid_at(e.s, "anna@example.de", NULL, "analytics", 50 * DAY));
    assert_true(valid_at(e.s, NULL, u1, "ml", 50 * DAY));
    assert_true(valid_at(e.s, NULL, u2, "vc_report", 50 * DAY));
    assert_false(valid_at(e.s, "anna@example.de", NULL, "ml", 50 * DAY));
    assert_false(valid_at(e.s, "dora@example.de", NULL, "personalization", 50 * DAY));

    /* a rerun (after a crash, say) prunes nothing twice; nothing is due again */
    assert_int_equal(mdp_consent_prune(e.s, keys, nk, &pr, &d), 0);
    assert_int_equal(pr.records, 0);
    assert_int_equal(pr.already, 4);
    keys_free(keys, nk);
    due_seqs(e.s, 15 * DAY, got, sizeof got, NULL, NULL);
    assert_string_equal(got, "");

    /* the newest record pruned: an append after it chains to the tombstone */
    record_exp(e.s, "erik@example.de", NULL, "ml", 0, 4 * DAY, 0); /* 10: a withdrawal */
    due_seqs(e.s, 15 * DAY, got, sizeof got, &keys, &nk);
    assert_string_equal(got, "10@4");
    assert_int_equal(mdp_consent_prune(e.s, keys, nk, &pr, &d), 0);
    keys_free(keys, nk);
    record_exp(e.s, "erik@example.de", NULL, "ml", 1, 50 * DAY, 0); /* 11 */
    assert_int_equal(mdp_consent_verify(e.s, &v, &d), 0);
    assert_int_equal(v.bad_seq, 0);
    assert_int_equal(v.records, 11);
    assert_int_equal(v.pruned, 5);
    assert_true(valid_at(e.s, "erik@example.de", NULL, "ml", 60 * DAY));
    /* the readers skip the tombstones: an erasure still finds and forgets a subject */
    struct mdp_consent_forgotten fg;
    assert_int_equal(mdp_consent_forget(e.s, "anna@example.de", NULL, &fg, &d), 0);
    assert_int_equal(fg.records, 2); /* 2 (its address) and 5 (its user id, linked by 2) */

    /* a tombstone altered (another hash) breaks the chain at the next record */
    table_text(e.s, "consent_journal", a);
    char sk[24] = "0000000000000003", *t = NULL;
    assert_int_equal(mdp_state_get(e.s, "consent_journal", "journal", sk, &t, NULL, &d), 0);
    char *h = strstr(t, "\"hash\":\"") + 8;
    h[0] = h[0] == 'a' ? 'b' : 'a';
    struct mdp_state_item it = {"journal", sk, t, 0};
    assert_int_equal(mdp_state_put(e.s, "consent_journal", &it, 0, &d), 0);
    free(t);
    assert_int_equal(mdp_consent_verify(e.s, &v, &d), 0);
    assert_int_equal(v.bad_seq, 4);
    free(a);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pseudonyms),
        cmocka_unit_test(test_journal_pseudonymous_and_forget),
        cmocka_unit_test(test_journal_table),
        cmocka_unit_test(test_journal_migration),
        cmocka_unit_test(test_migration_refuses_broken_and_resumes),
        cmocka_unit_test(test_suppression),
        cmocka_unit_test(test_journal_retention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
