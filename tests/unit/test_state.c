/* Unit tests of the state store (conditional writes, reads by key and by partition in sort-key
 * order, TTL purge, counters, transactions) and of the consent journal, DOI tokens and bandit on
 * top of it. They run against each backend: the SQLite file by default, and DynamoDB when
 * MDP_TEST_STATE_DYNAMODB=1 (tests/integration/state_dynamodb.sh starts moto and sets the AWS_*
 * variables; every test gets a table of its own, made as `mdp aws bootstrap` makes one). */
#include "testutil.h"
#include "mdp/aws.h"
#include "mdp/bandit.h"
#include "mdp/consent.h"
#include "mdp/hash.h"
#include "mdp/state.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

static int g_dynamodb;  /* the backend under test: 0 SQLite, 1 DynamoDB */
static char g_loc[512]; /* what open_tmp opened: a second handle opens the same */

static struct mdp_state *open_tmp(char **dir)
{
    *dir = tu_tmpdir();
    struct mdp_state *s = NULL;
    struct mdp_diag d = {0};
    if (g_dynamodb) {
        static int seq;
        char name[128];
        snprintf(name, sizeof name, "mdp-test-state-%ld-%d", (long)getpid(), ++seq);
        struct mdp_aws *a = NULL;
        int created = 0, ttl = 0;
        if (mdp_aws_open(NULL, &a, &d) || mdp_state_dynamodb_create(a, name, &created, &ttl, &d))
            fail_msg("%s", d.msg);
        assert_int_equal(created, 1);
        assert_int_equal(ttl, 1);
        /* a second bootstrap finds it all in place */
        assert_int_equal(mdp_state_dynamodb_create(a, name, &created, &ttl, &d), 0);
        assert_int_equal(created + ttl, 0);
        mdp_aws_close(a);
        snprintf(g_loc, sizeof g_loc, "dynamodb://%s", name);
    } else {
        snprintf(g_loc, sizeof g_loc, "%s/state.sqlite", *dir);
    }
    if (mdp_state_open(g_loc, &s, &d)) fail_msg("%s", d.msg);
    assert_string_equal(mdp_state_backend(s), g_dynamodb ? "dynamodb" : "sqlite");
    return s;
}

/* a counter item's body holds exactly s and f (the order of the fields is the backend's) */
static void assert_counts(const char *body, int64_t s, int64_t f)
{
    json_object *o = json_tokener_parse(body), *v;
    assert_non_null(o);
    int n = 0;
    if (s >= 0) {
        assert_true(json_object_object_get_ex(o, "s", &v));
        assert_int_equal(json_object_get_int64(v), s);
        n++;
    }
    if (f >= 0) {
        assert_true(json_object_object_get_ex(o, "f", &v));
        assert_int_equal(json_object_get_int64(v), f);
        n++;
    }
    assert_int_equal(json_object_object_length(o), n);
    json_object_put(o);
}

struct seen {
    char sks[8][8];
    int n;
};

static int collect(const struct mdp_state_item *it, void *ud)
{
    struct seen *s = ud;
    snprintf(s->sks[s->n++], sizeof s->sks[0], "%s", it->sk);
    return 0;
}

static void test_state_items(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir);
    struct mdp_diag d = {0};
    struct mdp_state_item a = {"p", "2", "{\"v\":2}", 0}, b = {"p", "1", "{\"v\":1}", 100},
                          c = {"q", "1", "{}", 50};
    assert_int_equal(mdp_state_put(s, "t", &a, MDP_STATE_IF_ABSENT, &d), 0);
    assert_int_equal(mdp_state_put(s, "t", &b, MDP_STATE_IF_ABSENT, &d), 0);
    assert_int_equal(mdp_state_put(s, "t", &c, 0, &d), 0);
    struct mdp_state_item a2 = {"p", "2", "{\"v\":3}", 0};
    assert_int_equal(mdp_state_put(s, "t", &a2, MDP_STATE_IF_ABSENT, &d), MDP_ERR_EXISTS);
    char *body = NULL;
    int64_t exp = -1;
    assert_int_equal(mdp_state_get(s, "t", "p", "2", &body, &exp, &d), 0);
    assert_string_equal(body, "{\"v\":2}"); /* the lost conditional write changed nothing */
    assert_int_equal(exp, 0);
    free(body);
    assert_int_equal(mdp_state_put(s, "t", &a2, 0, &d), 0);
    assert_int_equal(mdp_state_get(s, "t", "p", "2", &body, NULL, &d), 0);
    assert_string_equal(body, "{\"v\":3}");
    free(body);
    assert_int_equal(mdp_state_get(s, "other", "p", "2", &body, NULL, &d), MDP_ERR_NOT_FOUND);

    struct seen seen = {0};
    assert_int_equal(mdp_state_query(s, "t", "p", 0, 0, collect, &seen, &d), 0);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.sks[0], "1");
    assert_string_equal(seen.sks[1], "2");
    memset(&seen, 0, sizeof seen);
    assert_int_equal(mdp_state_query(s, "t", "p", 1, 1, collect, &seen, &d), 0);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.sks[0], "2");

    int n = -1;
    assert_int_equal(mdp_state_purge_expired(s, "t", 50, &n, &d), 0);
    assert_int_equal(n, 1); /* q/1 expires at 50: gone; p/1 (100) and p/2 (never) stay */
    assert_int_equal(mdp_state_get(s, "t", "q", "1", &body, NULL, &d), MDP_ERR_NOT_FOUND);
    assert_int_equal(mdp_state_get(s, "t", "p", "1", &body, NULL, &d), 0);
    free(body);
    assert_int_equal(mdp_state_delete(s, "t", "p", "1", &d), 0);
    assert_int_equal(mdp_state_get(s, "t", "p", "1", &body, NULL, &d), MDP_ERR_NOT_FOUND);
    mdp_state_close(s);
    tu_rmdir(dir);
}

static void test_consent_rules(void **st)
{
    (void)st;
    struct mdp_diag d = {0};
    struct mdp_consent_record r = {0};
    int g = -1;
    assert_int_equal(mdp_consent_decision_parse("granted", &g), 0);
    assert_int_equal(g, 1);
    assert_int_equal(mdp_consent_decision_parse("withdrawn", &g), 0);
    assert_int_equal(g, 0);
    assert_int_equal(mdp_consent_decision_parse("Granted", &g), MDP_ERR_INVALID);
    assert_int_equal(mdp_consent_subject(&r, NULL, "", &d), MDP_ERR_INVALID);
    assert_int_equal(mdp_consent_subject(&r, "no-at-sign", NULL, &d), MDP_ERR_INVALID);
    assert_int_equal(mdp_consent_subject(&r, " X@Y.de\n", NULL, &d), 0);
    assert_string_equal(r.email_lower, "x@y.de");
    strcpy(r.purpose, "ml");
    r.ts_ms = 1000000;
    int64_t now = 1000000 - MDP_CONSENT_MAX_SKEW_MS;
    assert_int_equal(mdp_consent_validate(&r, now, &d), 0); /* exactly at the skew: accepted */
    assert_int_equal(mdp_consent_validate(&r, now - 1, &d), MDP_ERR_INVALID);
    r.expires_at_ms = r.ts_ms;
    assert_int_equal(mdp_consent_validate(&r, r.ts_ms, &d), MDP_ERR_INVALID);
    r.expires_at_ms = 0;
    strcpy(r.purpose, "ML");
    assert_int_equal(mdp_consent_validate(&r, r.ts_ms, &d), MDP_ERR_INVALID);
    assert_non_null(strstr(d.msg, "unknown purpose 'ML'"));
}

static void test_consent_chain(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir);
    struct mdp_diag d = {0};
    struct mdp_consent_verify v;
    assert_int_equal(mdp_consent_verify(s, &v, &d), 0);
    assert_int_equal(v.records, 0);
    assert_int_equal(v.bad_seq, 0);
    char prev[65] = "";
    for (int i = 0; i < 3; i++) {
        struct mdp_consent_record r = {0};
        assert_int_equal(mdp_consent_subject(&r, NULL, "u1", &d), 0);
        strcpy(r.purpose, "analytics");
        strcpy(r.source, "test");
        r.granted = i != 1;
        r.ts_ms = 1000 + i;
        assert_int_equal(mdp_consent_append(s, &r, 2000, &d), 0);
        assert_int_equal(r.seq, i + 1);
        assert_string_equal(r.prev_hash, prev);
        strcpy(prev, r.hash);
    }
    assert_int_equal(mdp_consent_verify(s, &v, &d), 0);
    assert_int_equal(v.records, 3);
    assert_int_equal(v.bad_seq, 0);
    struct mdp_consent_status cs[8];
    int n = 0;
    assert_int_equal(mdp_consent_status_at(s, NULL, "u1", 1001, cs, 8, &n, &d), 0);
    for (int i = 0; i < n; i++)
        if (strcmp(cs[i].purpose, "analytics") == 0) assert_false(cs[i].valid);
    assert_int_equal(mdp_consent_status_at(s, NULL, "u1", 1002, cs, 8, &n, &d), 0);
    for (int i = 0; i < n; i++)
        if (strcmp(cs[i].purpose, "analytics") == 0) assert_true(cs[i].valid && cs[i].seq == 3);
    /* Rewriting the middle record's stored bytes breaks the chain right there. */
    char *body = NULL;
    assert_int_equal(
        mdp_state_get(s, "consent_journal", "journal", "0000000000000002", &body, NULL, &d), 0);
    char *p = strstr(body, "\"withdrawn\"");
    assert_non_null(p);
    memcpy(p, "\"granted\"  ", 11);
    struct mdp_state_item it = {"journal", "0000000000000002", body, 0};
    assert_int_equal(mdp_state_put(s, "consent_journal", &it, 0, &d), 0);
    free(body);
    assert_int_equal(mdp_consent_verify(s, &v, &d), 0);
    assert_int_equal(v.bad_seq, 2);
    mdp_state_close(s);
    tu_rmdir(dir);
}

struct appender {
    const char *path;
    int fails;
};

static void *append_many(void *arg)
{
    struct appender *a = arg;
    struct mdp_state *s;
    struct mdp_diag d = {0};
    if (mdp_state_open(a->path, &s, &d)) {
        a->fails = -1;
        return NULL;
    }
    for (int i = 0; i < 40; i++) {
        struct mdp_consent_record r = {0};
        if (mdp_consent_subject(&r, NULL, "u2", &d)) a->fails++;
        strcpy(r.purpose, "analytics");
        strcpy(r.source, "test");
        r.granted = i % 2;
        r.ts_ms = 1000 + i;
        if (mdp_consent_append(s, &r, 2000, &d)) a->fails++;
    }
    mdp_state_close(s);
    return NULL;
}

/* Four threads with their own handles append 160 records at once: one unbroken chain, and the
 * head names the last record (an appender that finishes late must not set it back). */
static void test_consent_racing_appenders(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir);
    struct mdp_diag d = {0};
    const char *path = g_loc;
    pthread_t t[4];
    struct appender a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct appender){path, 0};
        assert_int_equal(pthread_create(&t[i], NULL, append_many, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].fails, 0);
    }
    struct mdp_consent_verify v;
    assert_int_equal(mdp_consent_verify(s, &v, &d), 0);
    assert_int_equal(v.records, 160);
    assert_int_equal(v.bad_seq, 0);
    char *head = NULL;
    assert_int_equal(mdp_state_get(s, "consent_head", "journal", "head", &head, NULL, &d), 0);
    assert_non_null(strstr(head, "\"seq\":160,"));
    free(head);
    mdp_state_close(s);
    tu_rmdir(dir);
}

/* A pointer that only moves forward: absent -> written; an older or equal value -> refused with
 * the item unchanged; a newer one -> written; a second handle on the same file sees the same. */
static void test_state_put_if_newer(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir), *s2;
    struct mdp_diag d = {0};
    char *body = NULL;
    assert_int_equal(mdp_state_open(g_loc, &s2, &d), 0);
    struct mdp_state_item h5 = {"j", "head", "{\"seq\":5,\"hash\":\"e\"}", 0};
    struct mdp_state_item h4 = {"j", "head", "{\"seq\":4,\"hash\":\"d\"}", 0};
    struct mdp_state_item h6 = {"j", "head", "{\"seq\":6,\"hash\":\"f\"}", 0};
    assert_int_equal(mdp_state_put_if_newer(s, "heads", &h5, "seq", 5, &d), 0);
    assert_int_equal(mdp_state_put_if_newer(s2, "heads", &h4, "seq", 4, &d), MDP_ERR_EXISTS);
    assert_int_equal(mdp_state_put_if_newer(s2, "heads", &h5, "seq", 5, &d), MDP_ERR_EXISTS);
    assert_int_equal(mdp_state_get(s, "heads", "j", "head", &body, NULL, &d), 0);
    assert_string_equal(body, h5.body);
    free(body);
    assert_int_equal(mdp_state_put_if_newer(s2, "heads", &h6, "seq", 6, &d), 0);
    assert_int_equal(mdp_state_get(s, "heads", "j", "head", &body, NULL, &d), 0);
    assert_string_equal(body, h6.body);
    free(body);
    assert_int_equal(mdp_state_put_if_newer(s, "heads", &h6, "Seq!", 7, &d), MDP_ERR_INVALID);
    /* the consent journal's head: an appender that took seq 1 but writes its head after the
     * one that took seq 2 leaves the head at 2, so a cut-off last record is still detected */
    struct mdp_consent_record r = {0};
    assert_int_equal(mdp_consent_subject(&r, NULL, "u1", &d), 0);
    strcpy(r.purpose, "analytics");
    strcpy(r.source, "test");
    r.granted = 1;
    r.ts_ms = 1000;
    assert_int_equal(mdp_consent_append(s, &r, 2000, &d), 0);
    char first[128];
    snprintf(first, sizeof first, "{\"seq\":1,\"hash\":\"%s\"}", r.hash);
    r.ts_ms = 1001;
    assert_int_equal(mdp_consent_append(s, &r, 2000, &d), 0);
    assert_int_equal(r.seq, 2);
    struct mdp_state_item late = {"journal", "head", first, 0};
    assert_int_equal(mdp_state_put_if_newer(s2, "consent_head", &late, "seq", 1, &d),
                     MDP_ERR_EXISTS);
    assert_int_equal(mdp_state_delete(s, "consent_journal", "journal", "0000000000000002", &d), 0);
    struct mdp_consent_verify v;
    assert_int_equal(mdp_consent_verify(s, &v, &d), 0);
    assert_int_equal(v.bad_seq, 2); /* the head still names seq 2: the cut is found */
    mdp_state_close(s2);
    mdp_state_close(s);
    tu_rmdir(dir);
}

/* A lease (mdp/lease.h): taken while absent or lapsed (lease_until below now), refused while held,
 * renewed by its holder (below its own last lease_until + 1), taken by another once lapsed, after
 * which the old holder's renewal is refused, and released (lease_until 0). The condition's bound
 * differs from the value written, which each backend must keep apart. */
static void test_state_put_if_below(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir), *s2;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_state_open(g_loc, &s2, &d), 0);
    struct mdp_state_item a160 = {"lake", "-", "{\"lease_until\":160,\"holder\":\"a\"}", 0};
    struct mdp_state_item b180 = {"lake", "-", "{\"lease_until\":180,\"holder\":\"b\"}", 0};
    struct mdp_state_item a190 = {"lake", "-", "{\"lease_until\":190,\"holder\":\"a\"}", 0};
    struct mdp_state_item b260 = {"lake", "-", "{\"lease_until\":260,\"holder\":\"b\"}", 0};
    struct mdp_state_item a220 = {"lake", "-", "{\"lease_until\":220,\"holder\":\"a\"}", 0};
    struct mdp_state_item b0 = {"lake", "-", "{\"lease_until\":0,\"holder\":\"b\"}", 0};
    struct mdp_state_item c70 = {"lake", "-", "{\"lease_until\":70,\"holder\":\"c\"}", 0};
    const char *F = "lease_until";
    assert_int_equal(mdp_state_put_if_below(s, "leases", &a160, F, 100, 160, &d), 0);
    assert_int_equal(mdp_state_put_if_below(s2, "leases", &b180, F, 120, 180, &d), MDP_ERR_EXISTS);
    assert_int_equal(mdp_state_put_if_below(s, "leases", &a190, F, 161, 190, &d), 0);
    assert_int_equal(mdp_state_put_if_below(s2, "leases", &b180, F, 185, 180, &d), MDP_ERR_EXISTS);
    assert_int_equal(mdp_state_put_if_below(s2, "leases", &b260, F, 200, 260, &d), 0);
    assert_int_equal(mdp_state_put_if_below(s, "leases", &a220, F, 191, 220, &d), MDP_ERR_EXISTS);
    char *body = NULL;
    assert_int_equal(mdp_state_get(s, "leases", "lake", "-", &body, NULL, &d), 0);
    assert_string_equal(body, b260.body);
    free(body);
    assert_int_equal(mdp_state_put_if_below(s2, "leases", &b0, F, 261, 0, &d), 0);
    assert_int_equal(mdp_state_put_if_below(s, "leases", &c70, F, 10, 70, &d), 0);
    assert_int_equal(mdp_state_get(s2, "leases", "lake", "-", &body, NULL, &d), 0);
    assert_string_equal(body, c70.body);
    free(body);
    assert_int_equal(mdp_state_put_if_below(s, "leases", &c70, "Lease!", 10, 70, &d),
                     MDP_ERR_INVALID);
    mdp_state_close(s2);
    mdp_state_close(s);
    tu_rmdir(dir);
}

struct doi_grants {
    const char *evidence;
    int n;
};

static int count_doi_grants(const struct mdp_consent_record *r, void *ud)
{
    struct doi_grants *g = ud;
    if (strcmp(r->evidence, g->evidence) == 0) g->n++;
    return 0;
}

/* A confirmation interrupted between its claim and its grant (the crash the header of
 * mdp_doi_confirm used to admit) is finished by the next call, with the grant in the journal exactly
 * once; a young claim counts as in progress. Planted states stand in for the crash points. */
static void test_doi_confirm_interrupted_issue11(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir);
    struct mdp_diag d = {0};
    const int64_t t0 = 1793491200000; /* 2026-11-01T00:00:00Z */
    char tok[3][MDP_DOI_TOKEN_LEN + 1], th[3][65], ev[3][256];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mdp_doi_issue(s, "ann@example.de", NULL, t0, tok[i], &d), 0);
        assert_int_equal(mdp_sha256_hex(tok[i], MDP_DOI_TOKEN_LEN, th[i]), 0);
        snprintf(ev[i], sizeof ev[i], "doi:%s", th[i]);
    }
    char claim[96];
    snprintf(claim, sizeof claim, "{\"confirmed_ms\":%lld}", (long long)(t0 + 1000));
    /* 0: crashed right after the claim; 1: crashed after the grant, before its seq was noted */
    for (int i = 0; i < 2; i++) {
        struct mdp_state_item c = {th[i], "confirmation", claim, 0};
        assert_int_equal(mdp_state_put(s, "vc_tokens", &c, 0, &d), 0);
    }
    char fin[96];
    snprintf(fin, sizeof fin, "{\"confirmed_ms\":%lld,\"finishing\":true}", (long long)(t0 + 1000));
    struct mdp_state_item c1 = {th[1], "confirmation", fin, 0};
    assert_int_equal(mdp_state_put(s, "vc_tokens", &c1, 0, &d), 0);
    struct mdp_consent_record g = {0};
    assert_int_equal(mdp_consent_subject(&g, "ann@example.de", NULL, &d), 0);
    strcpy(g.purpose, "vc_report");
    g.granted = 1;
    g.ts_ms = t0 + 1000;
    strcpy(g.source, "doi");
    snprintf(g.evidence, sizeof g.evidence, "%s", ev[1]);
    assert_int_equal(mdp_consent_append(s, &g, t0 + 2000, &d), 0);
    const int64_t later = t0 + 1000 + MDP_DOI_FINISH_AFTER_MS;
    int res = -1;
    int64_t seq = -1;
    /* young claims are in progress: used, nothing appended */
    assert_int_equal(mdp_doi_confirm(s, tok[0], later - 1, &res, &seq, &d), 0);
    assert_int_equal(res, MDP_DOI_USED);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mdp_doi_confirm(s, tok[i], later, &res, &seq, &d), 0);
        assert_int_equal(res, MDP_DOI_CONFIRMED);
        if (i == 1) assert_int_equal(seq, g.seq); /* found, not appended again */
        assert_int_equal(mdp_doi_confirm(s, tok[i], later + 1, &res, NULL, &d), 0);
        assert_int_equal(res, MDP_DOI_USED);
        struct doi_grants n = {ev[i], 0};
        assert_int_equal(mdp_consent_each(s, count_doi_grants, &n, &d), 0);
        assert_int_equal(n.n, 1);
    }
    /* an uninterrupted confirmation: one grant, the token confirmed, the claim complete */
    assert_int_equal(mdp_doi_confirm(s, tok[2], t0 + 5000, &res, &seq, &d), 0);
    assert_int_equal(res, MDP_DOI_CONFIRMED);
    struct doi_grants n2 = {ev[2], 0};
    assert_int_equal(mdp_consent_each(s, count_doi_grants, &n2, &d), 0);
    assert_int_equal(n2.n, 1);
    char *body = NULL;
    assert_int_equal(mdp_state_get(s, "vc_tokens", th[2], "token", &body, NULL, &d), 0);
    assert_non_null(strstr(body, "\"status\":\"confirmed\""));
    free(body);
    assert_int_equal(mdp_state_get(s, "vc_tokens", th[2], "confirmation", &body, NULL, &d), 0);
    assert_non_null(strstr(body, "\"seq\":"));
    free(body);
    assert_int_equal(mdp_doi_confirm(s, tok[2], later * 2, &res, NULL, &d), 0);
    assert_int_equal(res, MDP_DOI_USED);
    mdp_state_close(s);
    tu_rmdir(dir);
}

static void test_doi_tokens(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir);
    struct mdp_diag d = {0};
    const int64_t t0 = 1793491200000; /* 2026-11-01T00:00:00Z */
    char a[MDP_DOI_TOKEN_LEN + 1], b[MDP_DOI_TOKEN_LEN + 1], c[MDP_DOI_TOKEN_LEN + 1];
    assert_int_equal(mdp_doi_issue(s, " Bob@Example.DE ", "192.0.2.7", t0, a, &d), 0);
    assert_int_equal(mdp_doi_issue(s, "bob@example.de", "2001:db8::1", t0, b, &d), 0);
    assert_int_equal(mdp_doi_issue(s, "eve@example.de", NULL, t0, c, &d), 0);
    assert_int_equal(strlen(a), MDP_DOI_TOKEN_LEN);
    assert_string_not_equal(a, b);
    assert_int_equal(mdp_doi_issue(s, "x@y.de", "999.1.1.1", t0, c, &d), MDP_ERR_INVALID);
    assert_int_equal(mdp_doi_issue(s, NULL, NULL, t0, c, &d), MDP_ERR_INVALID);
    /* the plain token is nowhere in the store */
    char *body = NULL;
    char th[65];
    assert_int_equal(mdp_sha256_hex(a, MDP_DOI_TOKEN_LEN, th), 0);
    assert_int_equal(mdp_state_get(s, "vc_tokens", th, "token", &body, NULL, &d), 0);
    assert_null(strstr(body, a));
    assert_non_null(strstr(body, "\"email_lower\":\"bob@example.de\""));
    assert_non_null(strstr(body, "\"status\":\"pending\""));
    free(body);

    int res = -1;
    int64_t seq = 0;
    /* one millisecond before 7 days: still good; confirmed once only */
    assert_int_equal(mdp_doi_confirm(s, a, t0 + MDP_DOI_TTL_MS - 1, &res, &seq, &d), 0);
    assert_int_equal(res, MDP_DOI_CONFIRMED);
    assert_int_equal(seq, 1);
    assert_int_equal(mdp_doi_confirm(s, a, t0 + 1000, &res, NULL, &d), 0);
    assert_int_equal(res, MDP_DOI_USED);
    /* exactly at 7 days: expired */
    assert_int_equal(mdp_doi_confirm(s, b, t0 + MDP_DOI_TTL_MS, &res, NULL, &d), 0);
    assert_int_equal(res, MDP_DOI_EXPIRED);
    /* unknown: never issued, or not a token at all */
    char fake[MDP_DOI_TOKEN_LEN + 1];
    memset(fake, 'a', MDP_DOI_TOKEN_LEN);
    fake[MDP_DOI_TOKEN_LEN] = '\0';
    assert_int_equal(mdp_doi_confirm(s, fake, t0, &res, NULL, &d), 0);
    assert_int_equal(res, MDP_DOI_UNKNOWN);
    assert_int_equal(mdp_doi_confirm(s, "short", t0, &res, NULL, &d), 0);
    assert_int_equal(res, MDP_DOI_UNKNOWN);
    /* a confirmation that another process already claimed counts as used */
    assert_int_equal(mdp_sha256_hex(c, MDP_DOI_TOKEN_LEN, th), 0);
    struct mdp_state_item claim = {th, "confirmation", "{}", 0};
    assert_int_equal(mdp_state_put(s, "vc_tokens", &claim, MDP_STATE_IF_ABSENT, &d), 0);
    assert_int_equal(mdp_doi_confirm(s, c, t0, &res, NULL, &d), 0);
    assert_int_equal(res, MDP_DOI_USED);

    /* the grant is in the journal with the token hash as evidence */
    struct mdp_consent_status cs[8];
    int n = 0;
    assert_int_equal(
        mdp_consent_status_at(s, "BOB@example.de", NULL, t0 + MDP_DOI_TTL_MS, cs, 8, &n, &d), 0);
    assert_string_equal(cs[0].purpose, "vc_report");
    assert_true(cs[0].valid);
    struct mdp_consent_verify v;
    assert_int_equal(mdp_consent_verify(s, &v, &d), 0);
    assert_int_equal(v.records, 1);
    assert_int_equal(v.bad_seq, 0);

    /* purge: nothing before 7 days, every token item at 7 days; a purged token is unknown */
    int purged = -1;
    assert_int_equal(mdp_doi_purge(s, t0 + MDP_DOI_TTL_MS - 1000, &purged, &d), 0);
    assert_int_equal(purged, 0);
    assert_int_equal(mdp_doi_purge(s, t0 + MDP_DOI_TTL_MS, &purged, &d), 0);
    assert_int_equal(purged, 4); /* 3 tokens and a's confirmation; the hand-made claim has no TTL */
    assert_int_equal(mdp_doi_confirm(s, b, t0, &res, NULL, &d), 0);
    assert_int_equal(res, MDP_DOI_UNKNOWN);
    mdp_state_close(s);
    tu_rmdir(dir);
}

/* UpdateItem ADD: atomic counters, also across two handles on one file */
static void test_state_add_scan(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir), *s2;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_state_open(g_loc, &s2, &d), 0);
    int64_t v = 0;
    assert_int_equal(mdp_state_add(s, "bandit", "ctx", "a", "s", 1, &v, &d), 0);
    assert_int_equal(v, 1);
    assert_int_equal(mdp_state_add(s2, "bandit", "ctx", "a", "s", 2, &v, &d), 0);
    assert_int_equal(v, 3);
    assert_int_equal(mdp_state_add(s, "bandit", "ctx", "a", "f", 5, &v, &d), 0);
    assert_int_equal(v, 5);
    assert_int_equal(mdp_state_add(s, "bandit", "ctx", "a", "bad-name", 1, &v, &d),
                     MDP_ERR_INVALID);
    char *body = NULL;
    assert_int_equal(mdp_state_get(s, "bandit", "ctx", "a", &body, NULL, &d), 0);
    assert_counts(body, 3, 5);
    free(body);
    assert_int_equal(mdp_state_add(s, "bandit", "b-ctx", "z", "s", 1, NULL, &d), 0);
    assert_int_equal(mdp_state_add(s, "other", "ctx", "a", "s", 1, NULL, &d), 0);
    struct seen seen = {0};
    assert_int_equal(mdp_state_scan(s, "bandit", collect, &seen, &d), 0);
    assert_int_equal(seen.n, 2); /* the bandit table only, in (pk, sk) order: b-ctx, ctx */
    assert_string_equal(seen.sks[0], "z");
    assert_string_equal(seen.sks[1], "a");
    /* the bandit loads what the store holds */
    struct mdp_bandit *b;
    assert_int_equal(mdp_bandit_open(s2, &b, &d), 0);
    assert_int_equal(mdp_bandit_feedback(b, s2, "ctx", "a", 1, &d), 0);
    assert_int_equal(mdp_state_get(s, "bandit", "ctx", "a", &body, NULL, &d), 0);
    assert_counts(body, 4, 5);
    free(body);
    mdp_bandit_close(b);
    mdp_state_close(s2);
    mdp_state_close(s);
    tu_rmdir(dir);
}

/* Beta draws have the right mean and spread; Thompson sampling explores below min_events and
 * then prefers the arm with the better posterior; propensities are probabilities */
static void test_bandit_policy(void **st)
{
    (void)st;
    struct mdp_rng r;
    mdp_rng_seed(&r, 42);
    double sum = 0, sq = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = mdp_rng_beta(&r, 3, 7);
        assert_true(x > 0 && x < 1);
        sum += x;
        sq += x * x;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    assert_true(fabs(mean - 0.3) < 0.005);                /* a / (a + b) */
    assert_true(fabs(var - 21.0 / (100.0 * 11)) < 0.001); /* ab / ((a+b)^2 (a+b+1)) */
    mean = 0;
    for (int i = 0; i < n; i++)
        mean += mdp_rng_beta(&r, 0.5, 0.5) / n; /* a < 1 takes the boost path */
    assert_true(fabs(mean - 0.5) < 0.01);

    struct mdp_bandit *b;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_bandit_open(NULL, &b, &d), 0);
    const char *v[] = {"x", "y", "z"};
    double prop;
    enum mdp_bandit_policy pol;
    int counts[3] = {0};
    for (int i = 0; i < 3000; i++) {
        int k = mdp_bandit_choose(b, "c", v, 3, 30, &r, &prop, &pol);
        assert_int_equal(pol, MDP_BANDIT_EXPLORE);
        assert_true(fabs(prop - 1.0 / 3) < 1e-9);
        counts[k]++;
    }
    for (int k = 0; k < 3; k++) /* uniform: each near 1000 */
        assert_true(counts[k] > 850 && counts[k] < 1150);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(mdp_bandit_feedback(b, NULL, "c", "y", 1, &d), 0);
        assert_int_equal(mdp_bandit_feedback(b, NULL, "c", "x", 0, &d), 0);
    }
    memset(counts, 0, sizeof counts);
    for (int i = 0; i < 1000; i++) {
        int k = mdp_bandit_choose(b, "c", v, 3, 30, &r, &prop, &pol);
        assert_int_equal(pol, MDP_BANDIT_THOMPSON);
        assert_true(prop > 0 && prop <= 1);
        counts[k]++;
    }
    assert_true(counts[1] > 850); /* y: 20 successes; z: no data; x: 20 failures */
    assert_true(counts[0] < 20);
    char ctx[64];
    assert_int_equal(mdp_bandit_context(ctx, sizeof ctx, "solo-sarah", NULL, "du", "1-3", "tip"),
                     0);
    assert_string_equal(ctx, "solo-sarah|unknown|du|1-3|tip");
    mdp_bandit_close(b);
}

/* Issue 11, defect 3: consent decisions, DOI confirmations and erasure records are acknowledged,
 * so the store's connection must fsync on commit (synchronous=FULL, 2), on a new file and on a
 * reopened one (the level is per connection, not stored in the file). */
static void test_state_synchronous_full_issue11(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir);
    struct mdp_diag d = {0};
    int level = -1;
    assert_int_equal(mdp_state_synchronous(s, -1, &level, &d), 0);
    assert_int_equal(level, 2);
    struct mdp_state_item it = {"p", "1", "{}", 0};
    assert_int_equal(mdp_state_put(s, "t", &it, 0, &d), 0);
    /* bench/ lowers it to measure; a reopened handle is FULL again */
    assert_int_equal(mdp_state_synchronous(s, 1, &level, &d), 0);
    assert_int_equal(level, 1);
    assert_int_equal(mdp_state_synchronous(s, 7, &level, &d), MDP_ERR_INVALID);
    mdp_state_close(s);
    char path[512];
    snprintf(path, sizeof path, "%s/state.sqlite", dir);
    assert_int_equal(mdp_state_open(path, &s, &d), 0);
    assert_int_equal(mdp_state_synchronous(s, -1, &level, &d), 0);
    assert_int_equal(level, 2);
    mdp_state_close(s);
    tu_rmdir(dir);
}

struct arms {
    int64_t s, f;
    int n;
};

static int count_arms(const struct mdp_bandit_arm *a, void *ud)
{
    struct arms *x = ud;
    x->s += a->successes;
    x->f += a->failures;
    x->n++;
    return 0;
}

/* issue 11, defect 4: the feedback's "seen" mark and the bandit's count are one transaction. A
 * write that fails after the mark (here: the count's item holds a body that is not JSON, so the
 * add fails) leaves neither; a mark that exists counts nothing; a clean one writes both. */
static void test_state_transact_feedback(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir);
    struct mdp_diag d = {0};
    char *body = NULL;
    struct mdp_state_item broken = {"ctx", "a", "not json", 0};
    assert_int_equal(mdp_state_put(s, "bandit", &broken, 0, &d), 0);
    struct mdp_bandit *b;
    assert_int_equal(mdp_bandit_open(NULL, &b, &d), 0);
    struct mdp_state_item mark = {"dec-1|click", "fb", "{}", 0};
    assert_int_not_equal(mdp_bandit_feedback_once(b, s, "feedback", &mark, "ctx", "a", 1, &d), 0);
    assert_int_equal(mdp_state_get(s, "feedback", "dec-1|click", "fb", &body, NULL, &d),
                     MDP_ERR_NOT_FOUND); /* the mark went with the failed count */
    assert_int_equal(mdp_state_get(s, "bandit", "ctx", "a", &body, NULL, &d), 0);
    assert_string_equal(body, "not json");
    free(body);
    /* repaired, the same feedback is counted once, with its mark */
    assert_int_equal(mdp_state_delete(s, "bandit", "ctx", "a", &d), 0);
    assert_int_equal(mdp_bandit_feedback_once(b, s, "feedback", &mark, "ctx", "a", 1, &d), 0);
    assert_int_equal(mdp_bandit_feedback_once(b, s, "feedback", &mark, "ctx", "a", 1, &d),
                     MDP_ERR_EXISTS);
    assert_int_equal(mdp_state_get(s, "bandit", "ctx", "a", &body, NULL, &d), 0);
    assert_counts(body, 1, -1);
    free(body);
    assert_int_equal(mdp_state_get(s, "feedback", "dec-1|click", "fb", &body, NULL, &d), 0);
    free(body);
    /* the bandit in memory follows the store, and only what was committed */
    struct arms seen = {0, 0, 0};
    assert_int_equal(mdp_bandit_each(b, count_arms, &seen), 0);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.s, 1);
    /* a condition that fails anywhere in the transaction writes nothing */
    struct mdp_state_write w[2] = {
        {MDP_STATE_ADD, "bandit", {"ctx", "a", NULL, 0}, 0, "s", 5, NULL, NULL},
        {MDP_STATE_PUT, "feedback", mark, MDP_STATE_IF_ABSENT, NULL, 0, NULL, NULL},
    };
    assert_int_equal(mdp_state_transact(s, w, 2, &d), MDP_ERR_EXISTS);
    assert_int_equal(mdp_state_get(s, "bandit", "ctx", "a", &body, NULL, &d), 0);
    assert_counts(body, 1, -1);
    free(body);
    assert_int_equal(mdp_state_transact(s, w, 1, &d), 0);
    assert_int_equal(mdp_state_transact(s, w, 101, &d), MDP_ERR_INVALID);
    mdp_bandit_close(b);
    mdp_state_close(s);
    tu_rmdir(dir);
}

/* Issue 12: items that belong to a person carry their subject and are found through the
 * per-subject index (not a scan), across tables, in (table, pk, sk) order; a later put of the same
 * key without a subject leaves the index; a transaction's PUT indexes and its DELETE removes. */
struct owned_seen {
    char what[8][64];
    int n;
};

static int owned_cb(const char *table, const struct mdp_state_item *it, void *ud)
{
    struct owned_seen *o = ud;
    if (o->n < 8) snprintf(o->what[o->n++], 64, "%s/%s/%s", table, it->pk, it->sk);
    return 0;
}

static void test_state_subject_index(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir);
    struct mdp_diag d = {0};
    struct mdp_state_item a = {"p1", "1", "{\"v\":1}", 0}, b = {"p2", "1", "{\"v\":2}", 0},
                          c = {"p3", "1", "{\"v\":3}", 0};
    assert_int_equal(mdp_state_put_subject(s, "tokens", &a, "alice", 0, &d), 0);
    assert_int_equal(mdp_state_put_subject(s, "contact", &b, "alice", 0, &d), 0);
    assert_int_equal(mdp_state_put_subject(s, "contact", &c, "bob", 0, &d), 0);
    assert_int_equal(mdp_state_put(s, "contact", &a, 0, &d), 0); /* nobody's */
    struct owned_seen o = {0};
    assert_int_equal(mdp_state_query_subject(s, "alice", owned_cb, &o, &d), 0);
    assert_int_equal(o.n, 2);
    assert_string_equal(o.what[0], "contact/p2/1");
    assert_string_equal(o.what[1], "tokens/p1/1");
    assert_int_equal(mdp_state_query_subject(s, "", owned_cb, &o, &d), MDP_ERR_INVALID);
    /* replaced without a subject: no longer the person's */
    assert_int_equal(mdp_state_put(s, "contact", &b, 0, &d), 0);
    o.n = 0;
    assert_int_equal(mdp_state_query_subject(s, "alice", owned_cb, &o, &d), 0);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.what[0], "tokens/p1/1");
    /* a transaction: the PUT is indexed, the DELETE goes with it */
    struct mdp_state_write w[2] = {
        {MDP_STATE_PUT, "marks", {"m1", "x", "{}", 0}, 0, NULL, 0, NULL, "bob"},
        {MDP_STATE_DELETE, "contact", {"p3", "1", NULL, 0}, 0, NULL, 0, NULL, NULL},
    };
    assert_int_equal(mdp_state_transact(s, w, 2, &d), 0);
    o.n = 0;
    assert_int_equal(mdp_state_query_subject(s, "bob", owned_cb, &o, &d), 0);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.what[0], "marks/m1/x");
    /* the bandit: a person's rewards come off their arms, anonymous ones stay (issue 12) */
    struct mdp_bandit *bd;
    assert_int_equal(mdp_bandit_open(s, &bd, &d), 0);
    struct mdp_state_item m1 = {"e1", "replay", "{}", 0}, m2 = {"e2", "replay", "{}", 0},
                          m3 = {"e3", "replay", "{}", 0}, m4 = {"e4", "replay", "{}", 0};
    assert_int_equal(mdp_bandit_feedback_owned(bd, s, "replayed", &m1, "carol", "ctx", "a", 1, &d),
                     0);
    assert_int_equal(mdp_bandit_feedback_owned(bd, s, "replayed", &m2, "carol", "ctx", "b", 0, &d),
                     0);
    assert_int_equal(mdp_bandit_feedback_owned(bd, s, "replayed", &m3, "dave", "ctx", "a", 1, &d),
                     0);
    assert_int_equal(mdp_bandit_feedback_owned(bd, s, "replayed", &m4, NULL, "ctx", "a", 0, &d), 0);
    assert_int_equal(mdp_bandit_feedback_owned(bd, s, "replayed", &m1, "carol", "ctx", "a", 1, &d),
                     MDP_ERR_EXISTS);
    struct mdp_bandit_forgotten f;
    assert_int_equal(mdp_bandit_forget(s, "carol", &f, &d), 0);
    assert_int_equal(f.rewards, 2);
    assert_int_equal(f.successes, 1);
    assert_int_equal(f.failures, 1);
    assert_int_equal(f.arms, 2);
    char *body = NULL;
    assert_int_equal(mdp_state_get(s, "bandit", "ctx", "a", &body, NULL, &d), 0);
    assert_counts(body, 1, 1); /* dave's success and the anonymous failure */
    free(body);
    assert_int_equal(mdp_state_get(s, "bandit", "ctx", "b", &body, NULL, &d), 0);
    assert_counts(body, -1, 0);
    free(body);
    /* idempotent: nothing of carol's is left to take back */
    assert_int_equal(mdp_bandit_forget(s, "carol", &f, &d), 0);
    assert_int_equal(f.rewards, 0);
    mdp_bandit_close(bd);
    mdp_state_close(s);
    tu_rmdir(dir);
}

/* Issue 12's backfill (`mdp dsar reindex`): mdp_state_set_subject gives an existing item a subject
 * (body, TTL and counters untouched), says whether it changed anything, moves an item from one
 * subject to another, and refuses a missing item or an empty subject. */
static void test_state_set_subject_issue12(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir);
    struct mdp_diag d = {0};
    struct mdp_state_item a = {"p1", "1", "{\"v\":1}", 4102444800};
    assert_int_equal(mdp_state_put(s, "contact", &a, 0, &d), 0);
    assert_int_equal(mdp_state_add(s, "bandit", "ctx", "a", "s", 2, NULL, &d), 0);
    struct owned_seen o = {0};
    assert_int_equal(mdp_state_query_subject(s, "alice", owned_cb, &o, &d), 0);
    assert_int_equal(o.n, 0); /* written without a subject: not found */
    int changed = -1;
    assert_int_equal(mdp_state_set_subject(s, "contact", "p1", "1", "alice", &changed, &d), 0);
    assert_int_equal(changed, 1);
    assert_int_equal(mdp_state_set_subject(s, "bandit", "ctx", "a", "alice", &changed, &d), 0);
    assert_int_equal(changed, 1);
    assert_int_equal(mdp_state_query_subject(s, "alice", owned_cb, &o, &d), 0);
    assert_int_equal(o.n, 2);
    assert_string_equal(o.what[0], "bandit/ctx/a");
    assert_string_equal(o.what[1], "contact/p1/1");
    /* the item itself is as it was */
    char *body = NULL;
    int64_t exp = 0;
    assert_int_equal(mdp_state_get(s, "contact", "p1", "1", &body, &exp, &d), 0);
    assert_string_equal(body, "{\"v\":1}");
    assert_int_equal(exp, 4102444800);
    free(body);
    assert_int_equal(mdp_state_get(s, "bandit", "ctx", "a", &body, NULL, &d), 0);
    assert_counts(body, 2, -1);
    free(body);
    /* again: nothing to change; another subject: moved */
    assert_int_equal(mdp_state_set_subject(s, "contact", "p1", "1", "alice", &changed, &d), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(mdp_state_set_subject(s, "contact", "p1", "1", "bob", NULL, &d), 0);
    o.n = 0;
    assert_int_equal(mdp_state_query_subject(s, "alice", owned_cb, &o, &d), 0);
    assert_int_equal(o.n, 1);
    o.n = 0;
    assert_int_equal(mdp_state_query_subject(s, "bob", owned_cb, &o, &d), 0);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.what[0], "contact/p1/1");
    /* no such item (and nothing made), an empty subject */
    changed = -1;
    assert_int_equal(mdp_state_set_subject(s, "contact", "nope", "1", "alice", &changed, &d),
                     MDP_ERR_NOT_FOUND);
    assert_int_equal(changed, 0);
    assert_int_equal(mdp_state_get(s, "contact", "nope", "1", &body, NULL, &d), MDP_ERR_NOT_FOUND);
    assert_int_equal(mdp_state_set_subject(s, "contact", "p1", "1", "", &changed, &d),
                     MDP_ERR_INVALID);
    mdp_state_close(s);
    tu_rmdir(dir);
}

/* Issue 12: a state file made before the subject column gets it (and its index) when opened;
 * its old items stay readable and carry no subject. */
static void test_state_subject_migration(void **st)
{
    (void)st;
    char *dir = tu_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/state.sqlite", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE items (tbl TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL, "
                     "body TEXT NOT NULL, expires_at INTEGER NOT NULL DEFAULT 0, "
                     "PRIMARY KEY (tbl, pk, sk)) WITHOUT ROWID;"
                     "INSERT INTO items VALUES ('contact', 'old', '1', '{}', 0);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    struct mdp_state *s = NULL, *s2 = NULL;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_state_open(path, &s, &d), 0);
    assert_int_equal(mdp_state_open(path, &s2, &d), 0); /* a second open: already migrated */
    char *body = NULL;
    assert_int_equal(mdp_state_get(s, "contact", "old", "1", &body, NULL, &d), 0);
    assert_string_equal(body, "{}");
    free(body);
    struct mdp_state_item it = {"new", "1", "{}", 0};
    assert_int_equal(mdp_state_put_subject(s2, "contact", &it, "erin", 0, &d), 0);
    struct owned_seen o = {0};
    assert_int_equal(mdp_state_query_subject(s, "erin", owned_cb, &o, &d), 0);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.what[0], "contact/new/1");
    /* the old item gets its subject afterwards (the backfill) */
    int changed = 0;
    assert_int_equal(mdp_state_set_subject(s, "contact", "old", "1", "erin", &changed, &d), 0);
    assert_int_equal(changed, 1);
    o.n = 0;
    assert_int_equal(mdp_state_query_subject(s, "erin", owned_cb, &o, &d), 0);
    assert_int_equal(o.n, 2);
    assert_string_equal(o.what[0], "contact/new/1");
    assert_string_equal(o.what[1], "contact/old/1");
    mdp_state_close(s);
    mdp_state_close(s2);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_master WHERE type='index' "
                                        "AND name='items_subject'",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
    tu_rmdir(dir);
}

/* DynamoDB acknowledges only durable writes: the level reads FULL and cannot be lowered */
static void test_state_synchronous_dynamodb(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir);
    struct mdp_diag d = {0};
    int level = -1;
    assert_int_equal(mdp_state_synchronous(s, -1, &level, &d), 0);
    assert_int_equal(level, 2);
    assert_int_equal(mdp_state_synchronous(s, 1, &level, &d), MDP_ERR_UNSUPPORTED);
    assert_int_equal(level, -1);
    mdp_state_close(s);
    tu_rmdir(dir);
}

/* The DynamoDB backend's own rules: a table that does not exist, a counter on an item with a
 * body (counters live on items of their own there), an empty sort key (DynamoDB refuses it) */
static void test_state_dynamodb_rules(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir), *none = NULL;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_state_open("dynamodb://no-such-table", &none, &d), MDP_ERR_NOT_FOUND);
    assert_null(none);
    assert_non_null(strstr(d.msg, "no-such-table does not exist"));
    struct mdp_state_item b = {"ctx", "a", "{\"s\":1}", 0};
    assert_int_equal(mdp_state_put(s, "bandit", &b, 0, &d), 0);
    assert_int_equal(mdp_state_add(s, "bandit", "ctx", "a", "s", 1, NULL, &d), MDP_ERR_IO);
    assert_non_null(strstr(d.msg, "holds a body"));
    struct mdp_state_item e = {"p", "", "{}", 0};
    assert_int_equal(mdp_state_put(s, "t", &e, 0, &d), MDP_ERR_INVALID);
    assert_int_equal(mdp_state_put(s, "a#b", &b, 0, &d), MDP_ERR_INVALID);
    mdp_state_close(s);
    tu_rmdir(dir);
}

static int count_big(const struct mdp_state_item *it, void *ud)
{
    int *n = ud;
    char want[16];
    snprintf(want, sizeof want, "%04d", 2 * *n + 1); /* the odd ones never expire */
    assert_string_equal(it->sk, want);
    assert_int_equal(strlen(it->body), 64 * 1024 - 1);
    (*n)++;
    return 0;
}

/* pagination: a partition and a table of 20 items of 64 KB each (more than one 1 MB page) come
 * back whole and in order, through Query (both directions, with a limit) and Scan */
static void test_state_pages(void **st)
{
    (void)st;
    char *dir;
    struct mdp_state *s = open_tmp(&dir);
    struct mdp_diag d = {0};
    static char big[64 * 1024];
    memset(big, 'y', sizeof big - 1);
    for (int i = 0; i < 40; i++) {
        char sk[16];
        snprintf(sk, sizeof sk, "%04d", i);
        struct mdp_state_item it = {"p", sk, big, i % 2 ? 0 : 100};
        assert_int_equal(mdp_state_put(s, "big", &it, 0, &d), 0);
    }
    int64_t ne = -1, bytes = -1;
    assert_int_equal(mdp_state_count_expired(s, "big", 100, &ne, &bytes, &d), 0);
    assert_int_equal(ne, 20);
    assert_int_equal(bytes, 20 * (int64_t)(sizeof big - 1));
    int n = 0;
    assert_int_equal(mdp_state_purge_expired(s, "big", 100, &n, &d), 0);
    assert_int_equal(n, 20);
    n = 0;
    assert_int_equal(mdp_state_query(s, "big", "p", 0, 0, count_big, &n, &d), 0);
    assert_int_equal(n, 20);
    n = 0;
    assert_int_equal(mdp_state_scan(s, "big", count_big, &n, &d), 0);
    assert_int_equal(n, 20);
    struct seen seen = {0};
    assert_int_equal(mdp_state_query(s, "big", "p", 1, 3, collect, &seen, &d), 0);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.sks[0], "0039");
    assert_string_equal(seen.sks[2], "0035");
    mdp_state_close(s);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(test_state_items),
        cmocka_unit_test(test_consent_rules),
        cmocka_unit_test(test_consent_chain),
        cmocka_unit_test(test_doi_tokens),
        cmocka_unit_test(test_doi_confirm_interrupted_issue11),
        cmocka_unit_test(test_state_add_scan),
        cmocka_unit_test(test_bandit_policy),
        cmocka_unit_test(test_state_put_if_newer),
        cmocka_unit_test(test_state_put_if_below),
        cmocka_unit_test(test_consent_racing_appenders),
        cmocka_unit_test(test_state_transact_feedback),
        cmocka_unit_test(test_state_pages),
        cmocka_unit_test(test_state_subject_index),
        cmocka_unit_test(test_state_set_subject_issue12),
    };
    const struct CMUnitTest sqlite_only[] = {
        cmocka_unit_test(test_state_synchronous_full_issue11),
        cmocka_unit_test(test_state_subject_migration),
    };
    const struct CMUnitTest dynamodb_only[] = {
        cmocka_unit_test(test_state_synchronous_dynamodb),
        cmocka_unit_test(test_state_dynamodb_rules),
    };
    const char *e = getenv("MDP_TEST_STATE_DYNAMODB");
    g_dynamodb = e && strcmp(e, "1") == 0;
    int rc = cmocka_run_group_tests_name(g_dynamodb ? "state (dynamodb)" : "state (sqlite)", shared,
                                         NULL, NULL);
    if (g_dynamodb)
        rc += cmocka_run_group_tests_name("dynamodb backend", dynamodb_only, NULL, NULL);
    else
        rc += cmocka_run_group_tests_name("sqlite backend", sqlite_only, NULL, NULL);
    return rc;
}
