/* The consent journal: purposes, validation, the hash-chained append, verification and the
 * point-in-time status of a subject (see mdp/consent.h). The journal lives in the state store
 * under table "consent_journal", partition "journal", sort key = the 16-digit sequence number.
 * Records name their subject by keyed pseudonyms; the clear values are in table "consent_contact"
 * (partition key the pseudonym, sort key "email" or "user_id"). */
#include "mdp/consent.h"
#include "mdp/config.h"
#include "mdp/buf.h"
#include "mdp/hash.h"
#include "mdp/pseudonym.h"
#include "mdp/retention.h"
#include "mdp/time.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JOURNAL    "consent_journal"
#define HEAD       "consent_head"
#define PARTITION  "journal"
#define HASH_FIELD ",\"hash\":\""
#define CONTACT    "consent_contact"
#define SK_EMAIL   "email"
#define SK_USER    "user_id"

/* The purposes the platform knows a description for; consent.purposes chooses which are in use. */
static const struct {
    const char *name, *description;
} KNOWN[] = {
    {"vc_report", "send the Visibility Check report to the confirmed address"},
    {"marketing_email", "marketing and onboarding emails"},
    {"analytics", "usage analytics (GA4, product events)"},
    {"personalization", "personalized onboarding and recommendations"},
    {"ml", "use in ML features and model training"},
};

static const struct {
    const char *tag, *text;
} BASES[] = {
    {"consent", "consent (Art. 6(1)(a) GDPR)"},
    {"contract", "contract (Art. 6(1)(b) GDPR)"},
    {"legal_obligation", "legal obligation (Art. 6(1)(c) GDPR)"},
    {"legitimate_interest", "legitimate interest (Art. 6(1)(f) GDPR)"},
};

#define MAX_PURPOSES 32
static char purpose_names[MAX_PURPOSES][32];
static struct mdp_consent_purpose purposes[MAX_PURPOSES + 1];
static int purposes_set;

/* Until consent.purposes is applied: the known purposes, each based on consent. */
static void ensure_defaults(void)
{
    if (purposes_set) return;
    purposes_set = 1;
    for (size_t k = 0; k < sizeof KNOWN / sizeof *KNOWN; k++)
        purposes[k] =
            (struct mdp_consent_purpose){KNOWN[k].name, BASES[0].text, KNOWN[k].description};
}

const struct mdp_consent_purpose *mdp_consent_purposes(void)
{
    ensure_defaults();
    return purposes;
}

int mdp_consent_configure(const struct mdp_strlist *list, struct mdp_diag *d)
{
    if (list->n > MAX_PURPOSES)
        return mdp_diag_set(d, MDP_ERR_RANGE, "consent.purposes: more than %d purposes",
                            MAX_PURPOSES);
    struct mdp_consent_purpose next[MAX_PURPOSES + 1];
    char names[MAX_PURPOSES][32] = {{0}};
    int n = 0;
    for (int i = 0; i < list->n; i++) {
        const char *it = list->v[i], *colon = strchr(it, ':');
        size_t nl = colon ? (size_t)(colon - it) : 0;
        const char *basis = NULL, *desc = "";
        for (size_t b = 0; colon && b < sizeof BASES / sizeof *BASES; b++)
            if (strcmp(colon + 1, BASES[b].tag) == 0) basis = BASES[b].text;
        if (!basis || nl == 0 || nl >= sizeof names[0])
            return mdp_diag_set(d, MDP_ERR_CONFIG, "consent.purposes: '%s' is not NAME:BASIS", it);
        snprintf(names[n], sizeof names[n], "%.*s", (int)nl, it);
        for (size_t k = 0; k < sizeof KNOWN / sizeof *KNOWN; k++)
            if (strcmp(KNOWN[k].name, names[n]) == 0) desc = KNOWN[k].description;
        next[n].legal_basis = basis;
        next[n].description = desc;
        n++;
    }
    memcpy(purpose_names, names, sizeof names);
    for (int i = 0; i < n; i++) {
        next[i].name = purpose_names[i];
        purposes[i] = next[i];
    }
    purposes[n] = (struct mdp_consent_purpose){NULL, NULL, NULL};
    purposes_set = 1;
    return 0;
}

const struct mdp_consent_purpose *mdp_consent_purpose_find(const char *name)
{
    ensure_defaults();
    for (const struct mdp_consent_purpose *p = purposes; p->name; p++)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}

int mdp_consent_decision_parse(const char *s, int *granted)
{
    if (strcmp(s, "granted") == 0)
        *granted = 1;
    else if (strcmp(s, "withdrawn") == 0)
        *granted = 0;
    else
        return MDP_ERR_INVALID;
    return 0;
}

int mdp_consent_subject(struct mdp_consent_record *r, const char *email, const char *user_id,
                        struct mdp_diag *d)
{
    r->email_lower[0] = r->user_id[0] = '\0';
    if ((!email || !*email) && (!user_id || !*user_id))
        return mdp_diag_set(d, MDP_ERR_INVALID, "a consent subject needs an email or a user_id");
    if (email && *email) {
        int n = mdp_email_normalize(email, r->email_lower, sizeof r->email_lower);
        if (n < 0)
            return mdp_diag_set(d, MDP_ERR_INVALID, "the email is %s",
                                n == MDP_ERR_RANGE ? "longer than 255 bytes" : "empty");
        if (!strchr(r->email_lower, '@'))
            return mdp_diag_set(d, MDP_ERR_INVALID, "the email has no '@'");
    }
    if (user_id && *user_id) {
        if (strlen(user_id) >= sizeof r->user_id)
            return mdp_diag_set(d, MDP_ERR_INVALID, "the user_id is longer than 63 bytes");
        strcpy(r->user_id, user_id);
    }
    return 0;
}

int mdp_consent_validate(const struct mdp_consent_record *r, int64_t now_ms, struct mdp_diag *d)
{
    if (!r->email_lower[0] && !r->user_id[0])
        return mdp_diag_set(d, MDP_ERR_INVALID, "a consent record needs an email or a user_id");
    if (!mdp_consent_purpose_find(r->purpose)) {
        char known[512] = "";
        size_t used = 0;
        for (const struct mdp_consent_purpose *p = purposes; p->name && used < sizeof known; p++) {
            int n = snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", p->name);
            if (n > 0) used += (size_t)n;
        }
        return mdp_diag_set(d, MDP_ERR_INVALID, "unknown purpose '%s' (configured: %s)", r->purpose,
                            known);
    }
    if (r->ts_ms > now_ms + MDP_CONSENT_MAX_SKEW_MS) {
        char a[40], b[40];
        mdp_time_format_ms(r->ts_ms, a, sizeof a);
        mdp_time_format_ms(now_ms, b, sizeof b);
        return mdp_diag_set(d, MDP_ERR_INVALID,
                            "the decision time %s is in the future (now %s, allowed skew 5 min)", a,
                            b);
    }
    if (r->expires_at_ms && r->expires_at_ms <= r->ts_ms)
        return mdp_diag_set(d, MDP_ERR_INVALID, "expires_at is not after the decision time");
    return 0;
}

/* The record's bytes without its hash: a JSON object in a fixed key order, the subject by its
 * pseudonyms only. Caller frees. */
static char *canonical(const struct mdp_consent_record *r)
{
    json_object *o = json_object_new_object();
    if (!o) return NULL;
    json_object_object_add(o, "seq", json_object_new_int64(r->seq));
    json_object_object_add(o, "email_hmac",
                           r->email_hmac[0] ? json_object_new_string(r->email_hmac) : NULL);
    json_object_object_add(o, "user_hmac",
                           r->user_hmac[0] ? json_object_new_string(r->user_hmac) : NULL);
    json_object_object_add(o, "purpose", json_object_new_string(r->purpose));
    json_object_object_add(o, "decision",
                           json_object_new_string(r->granted ? "granted" : "withdrawn"));
    json_object_object_add(o, "ts_ms", json_object_new_int64(r->ts_ms));
    json_object_object_add(o, "source", json_object_new_string(r->source));
    json_object_object_add(o, "expires_at_ms",
                           r->expires_at_ms ? json_object_new_int64(r->expires_at_ms) : NULL);
    json_object_object_add(o, "evidence", json_object_new_string(r->evidence));
    json_object_object_add(o, "prev_hash", json_object_new_string(r->prev_hash));
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* The stored body of r: canonical(r) with its hash, which is computed into r->hash. Caller frees;
 * NULL on failure (*err: MDP_ERR_NOMEM or MDP_ERR_CRYPTO). */
static char *seal(struct mdp_consent_record *r, int *err)
{
    char *c = canonical(r);
    *err = MDP_ERR_NOMEM;
    if (!c) return NULL;
    if (mdp_sha256_hex(c, strlen(c), r->hash)) {
        free(c);
        *err = MDP_ERR_CRYPTO;
        return NULL;
    }
    size_t n = strlen(c);
    char *body = malloc(n + sizeof HASH_FIELD + 66);
    if (body) {
        memcpy(body, c, n - 1); /* drop the closing brace */
        sprintf(body + n - 1, "%s%s\"}", HASH_FIELD, r->hash);
    }
    free(c);
    return body;
}

/* Fills r's pseudonyms from its clear subject. */
static int pseudonyms(struct mdp_state *s, struct mdp_consent_record *r, struct mdp_diag *d)
{
    unsigned char key[MDP_SUBJECT_KEY_LEN];
    int rc = mdp_subject_key(s, key, d);
    r->email_hmac[0] = r->user_hmac[0] = '\0';
    if (!rc && r->email_lower[0])
        rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_EMAIL, r->email_lower, r->email_hmac, d);
    if (!rc && r->user_id[0])
        rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_USER_ID, r->user_id, r->user_hmac, d);
    memset(key, 0, sizeof key);
    return rc;
}

/* Splits a stored body into the hashed part (with its closing brace restored) and the hash. */
static int split_body(const char *body, char **hashed, char hex[65])
{
    const char *h = NULL, *p = body;
    while ((p = strstr(p, HASH_FIELD)))
        h = p++;
    if (!h) return MDP_ERR_PARSE;
    const char *v = h + strlen(HASH_FIELD);
    if (strlen(v) != 66 || strcmp(v + 64, "\"}") != 0) return MDP_ERR_PARSE;
    memcpy(hex, v, 64);
    hex[64] = '\0';
    size_t n = (size_t)(h - body);
    *hashed = malloc(n + 2);
    if (!*hashed) return MDP_ERR_NOMEM;
    memcpy(*hashed, body, n);
    memcpy(*hashed + n, "}", 2);
    return 0;
}

/* A record retention pruned (mdp_consent_prune) keeps only its place in the chain:
 * {"seq":N,"pruned":true,"prev_hash":"<its prev_hash>","hash":"<its hash>"}. Returns 1 for such a
 * body (seq, prev and hash filled), 0 for any other. */
static int tomb_parse(const char *body, int64_t *seq, char prev[65], char hash[65])
{
    static const char A[] = "{\"seq\":", B[] = ",\"pruned\":true,\"prev_hash\":\"",
                      C[] = "\",\"hash\":\"";
    const char *p = body;
    if (strncmp(p, A, sizeof A - 1)) return 0;
    p += sizeof A - 1;
    int64_t n = 0;
    size_t k = 0;
    for (; p[k] >= '0' && p[k] <= '9' && k < 16; k++)
        n = n * 10 + (p[k] - '0');
    if (!k || strncmp(p += k, B, sizeof B - 1)) return 0;
    p += sizeof B - 1;
    size_t pl = strspn(p, "0123456789abcdef");
    if ((pl != 0 && pl != 64) || strncmp(p + pl, C, sizeof C - 1)) return 0;
    const char *h = p + pl + sizeof C - 1;
    if (strspn(h, "0123456789abcdef") != 64 || strcmp(h + 64, "\"}") != 0) return 0;
    *seq = n;
    memcpy(prev, p, pl);
    prev[pl] = '\0';
    memcpy(hash, h, 64);
    hash[64] = '\0';
    return 1;
}

static int is_tomb(const char *body)
{
    int64_t seq;
    char prev[65], hash[65];
    return tomb_parse(body, &seq, prev, hash);
}

static void copy_str(json_object *o, const char *key, char *dst, size_t n)
{
    json_object *v;
    dst[0] = '\0';
    if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        snprintf(dst, n, "%s", json_object_get_string(v));
}

static int64_t get_i64(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* Parses a stored record (without checking its hash). */
static int parse_record(const char *body, struct mdp_consent_record *r)
{
    memset(r, 0, sizeof *r);
    json_object *o = json_tokener_parse(body);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return MDP_ERR_PARSE;
    }
    char dec[16];
    r->seq = get_i64(o, "seq");
    copy_str(o, "email_lower", r->email_lower, sizeof r->email_lower);
    copy_str(o, "user_id", r->user_id, sizeof r->user_id);
    copy_str(o, "email_hmac", r->email_hmac, sizeof r->email_hmac);
    copy_str(o, "user_hmac", r->user_hmac, sizeof r->user_hmac);
    r->clear_subject = json_object_object_get_ex(o, "email_lower", NULL) ||
                       json_object_object_get_ex(o, "user_id", NULL);
    copy_str(o, "purpose", r->purpose, sizeof r->purpose);
    copy_str(o, "decision", dec, sizeof dec);
    r->ts_ms = get_i64(o, "ts_ms");
    copy_str(o, "source", r->source, sizeof r->source);
    r->expires_at_ms = get_i64(o, "expires_at_ms");
    copy_str(o, "evidence", r->evidence, sizeof r->evidence);
    copy_str(o, "prev_hash", r->prev_hash, sizeof r->prev_hash);
    copy_str(o, "hash", r->hash, sizeof r->hash);
    json_object_put(o);
    return mdp_consent_decision_parse(dec, &r->granted) ? MDP_ERR_PARSE : 0;
}

/* The contact rows of r's clear subject as writes (appended to w at *nw); their bodies go into
 * bodies, the caller's, which must outlive the writes. */
static int contact_writes(const struct mdp_consent_record *r, struct mdp_state_write *w, int *nw,
                          char bodies[2][1600], struct mdp_diag *d)
{
    struct mdp_buf b;
    for (int k = 0; k < 2; k++) {
        const char *hm = k ? r->user_hmac : r->email_hmac, *v = k ? r->user_id : r->email_lower;
        if (!hm[0] || !v[0]) continue;
        mdp_buf_init(&b);
        mdp_buf_puts(&b, k ? "{\"user_id\":" : "{\"email_lower\":");
        mdp_buf_json_str(&b, v);
        mdp_buf_putc(&b, '}');
        int bad = mdp_buf_error(&b) || b.len >= 1600;
        if (!bad) memcpy(bodies[k], b.data, b.len + 1);
        mdp_buf_cleanup(&b);
        if (bad) return mdp_diag_set(d, MDP_ERR_NOMEM, "a contact row does not fit");
        w[(*nw)++] = (struct mdp_state_write){
            MDP_STATE_PUT, CONTACT, {hm, k ? SK_USER : SK_EMAIL, bodies[k], 0}, 0, NULL, 0,
            NULL,          hm};
    }
    return 0;
}

static int take_last(const struct mdp_state_item *it, void *ud)
{
    struct mdp_consent_record *r = ud;
    char prev[65];
    if (tomb_parse(it->body, &r->seq, prev, r->hash)) return 0; /* its place in the chain */
    return parse_record(it->body, r) ? MDP_ERR_PARSE : 0;
}

int mdp_consent_append(struct mdp_state *s, struct mdp_consent_record *r, int64_t now_ms,
                       struct mdp_diag *d)
{
    int rc = mdp_consent_validate(r, now_ms, d);
    if (!rc) rc = pseudonyms(s, r, d);
    if (rc) return rc;
    char cbody[2][1600];
    for (int attempt = 0; attempt < 20; attempt++) {
        struct mdp_consent_record last = {0};
        rc = mdp_state_query(s, JOURNAL, PARTITION, 1, 1, take_last, &last, d);
        if (rc == MDP_ERR_PARSE)
            return mdp_diag_set(d, rc,
                                "the last journal record is unreadable; run mdp consent "
                                "verify");
        if (rc) return rc;
        r->seq = last.seq + 1;
        snprintf(r->prev_hash, sizeof r->prev_hash, "%s", last.seq ? last.hash : "");
        char *body = seal(r, &rc);
        if (!body)
            return mdp_diag_set(d, rc, rc == MDP_ERR_CRYPTO ? "SHA-256 failed" : "out of memory");
        char sk[24];
        snprintf(sk, sizeof sk, "%016lld", (long long)r->seq);
        /* The journal is kept for 3 years (spec 7); the retention job, not a TTL, removes it. The
         * record and the contact rows of its clear subject are written together or not at all. */
        struct mdp_state_write w[3];
        int nw = 0;
        w[nw++] = (struct mdp_state_write){
            MDP_STATE_PUT, JOURNAL, {PARTITION, sk, body, 0}, MDP_STATE_IF_ABSENT, NULL, 0,
            NULL,          NULL};
        rc = contact_writes(r, w, &nw, cbody, d);
        if (!rc) rc = mdp_state_transact(s, w, nw, d);
        free(body);
        if (rc == MDP_ERR_EXISTS) continue; /* another appender took this seq: read again */
        if (rc) return rc;
        char head[128];
        snprintf(head, sizeof head, "{\"seq\":%lld,\"hash\":\"%s\"}", (long long)r->seq, r->hash);
        /* the head only moves forward: a racing appender that took a later seq may have
         * written its head first, and this one must not set it back */
        struct mdp_state_item h = {PARTITION, "head", head, 0};
        rc = mdp_state_put_if_newer(s, HEAD, &h, "seq", r->seq, d);
        return rc == MDP_ERR_EXISTS ? 0 : rc;
    }
    return mdp_diag_set(d, MDP_ERR_EXISTS, "the journal is contended: 20 appends lost the race");
}

/* ---- the contact table, joined back into the records ---- */

struct contact {
    char hmac[65];
    char kind; /* 'e' address, 'u' user id */
    char *value;
};

struct contacts {
    struct contact *v;
    size_t n, cap;
};

static int contact_one(const char *hmac, char kind, const char *value, void *ud)
{
    struct contacts *c = ud;
    if (mdp_grow(&c->v, &c->cap, c->n + 1, sizeof *c->v, 64)) return MDP_ERR_NOMEM;
    struct contact *x = &c->v[c->n];
    memcpy(x->hmac, hmac, 65);
    x->kind = kind;
    if (!(x->value = strdup(value))) return MDP_ERR_NOMEM;
    c->n++;
    return 0;
}

static int cmp_contact(const void *a, const void *b)
{
    const struct contact *x = a, *y = b;
    int c = strcmp(x->hmac, y->hmac);
    return c ? c : (x->kind > y->kind) - (x->kind < y->kind);
}

static void contacts_free(struct contacts *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].value);
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* Loads the whole contact table (sorted for lookups). */
static int contacts_load(struct mdp_state *s, struct contacts *c, struct mdp_diag *d)
{
    memset(c, 0, sizeof *c);
    int rc = mdp_consent_each_contact(s, contact_one, c, d);
    if (rc == MDP_ERR_NOMEM) rc = mdp_diag_set(d, rc, "out of memory loading %s", CONTACT);
    if (rc)
        contacts_free(c);
    else if (c->n)
        qsort(c->v, c->n, sizeof *c->v, cmp_contact);
    return rc;
}

static const char *contact_find(const struct contacts *c, const char *hmac, char kind)
{
    if (!hmac[0] || !c->n) return NULL;
    struct contact key = {{0}, kind, NULL};
    snprintf(key.hmac, sizeof key.hmac, "%s", hmac);
    const struct contact *x = bsearch(&key, c->v, c->n, sizeof *c->v, cmp_contact);
    return x ? x->value : NULL;
}

/* Fills the clear subject of a pseudonymous record from the contact table. */
static void resolve(const struct contacts *c, struct mdp_consent_record *r)
{
    if (r->clear_subject) return;
    const char *e = contact_find(c, r->email_hmac, 'e'), *u = contact_find(c, r->user_hmac, 'u');
    snprintf(r->email_lower, sizeof r->email_lower, "%s", e ? e : "");
    snprintf(r->user_id, sizeof r->user_id, "%s", u ? u : "");
}

struct each {
    int (*cb)(const struct mdp_consent_record *r, void *ud);
    void *ud;
    struct contacts c;
};

static int each_one(const struct mdp_state_item *it, void *ud)
{
    struct each *e = ud;
    struct mdp_consent_record r;
    if (is_tomb(it->body)) return 0; /* pruned by retention: nothing to read */
    if (parse_record(it->body, &r)) return MDP_ERR_PARSE;
    resolve(&e->c, &r);
    return e->cb(&r, e->ud);
}

int mdp_consent_each(struct mdp_state *s, int (*cb)(const struct mdp_consent_record *r, void *ud),
                     void *ud, struct mdp_diag *d)
{
    struct each e = {cb, ud, {0}};
    int rc = contacts_load(s, &e.c, d);
    if (rc) return rc;
    rc = mdp_state_query(s, JOURNAL, PARTITION, 0, 0, each_one, &e, d);
    contacts_free(&e.c);
    if (rc == MDP_ERR_PARSE)
        return mdp_diag_set(d, rc, "a journal record is unreadable; run mdp consent verify");
    return rc;
}

struct each_stored {
    int64_t after;
    int (*cb)(int64_t seq, const char *body, void *ud);
    void *ud;
};

enum { WALK_DONE = 1 << 20 }; /* a callback's "stop here", not an error */

static int each_stored_one(const struct mdp_state_item *it, void *ud)
{
    struct each_stored *e = ud;
    int64_t seq = strtoll(it->sk, NULL, 10);
    if (seq <= e->after) return WALK_DONE;
    if (is_tomb(it->body)) return 0;
    int rc = e->cb(seq, it->body, e->ud);
    return rc == WALK_DONE ? MDP_ERR_INVALID : rc;
}

int mdp_consent_each_stored(struct mdp_state *s, int64_t after_seq,
                            int (*cb)(int64_t seq, const char *body, void *ud), void *ud,
                            struct mdp_diag *d)
{
    struct each_stored e = {after_seq, cb, ud};
    /* newest first, so that only the records after after_seq are read */
    int rc = mdp_state_query(s, JOURNAL, PARTITION, 1, 0, each_stored_one, &e, d);
    return rc == WALK_DONE ? 0 : rc;
}

struct each_contact {
    int (*cb)(const char *hmac, char kind, const char *value, void *ud);
    void *ud;
};

static int each_contact_one(const struct mdp_state_item *it, void *ud)
{
    struct each_contact *e = ud;
    int is_email = strcmp(it->sk, SK_EMAIL) == 0;
    if (strlen(it->pk) != 64 || (!is_email && strcmp(it->sk, SK_USER) != 0)) return MDP_ERR_PARSE;
    json_object *o = json_tokener_parse(it->body), *v;
    int rc = MDP_ERR_PARSE;
    if (o && json_object_object_get_ex(o, is_email ? "email_lower" : "user_id", &v) &&
        json_object_is_type(v, json_type_string))
        rc = e->cb(it->pk, is_email ? 'e' : 'u', json_object_get_string(v), e->ud);
    json_object_put(o);
    return rc;
}

int mdp_consent_each_contact(struct mdp_state *s,
                             int (*cb)(const char *hmac, char kind, const char *value, void *ud),
                             void *ud, struct mdp_diag *d)
{
    struct each_contact e = {cb, ud};
    int rc = mdp_state_scan(s, CONTACT, each_contact_one, &e, d);
    if (rc == MDP_ERR_PARSE)
        return mdp_diag_set(d, rc, "state store table %s holds an unreadable row", CONTACT);
    return rc;
}

struct at {
    int64_t seq;
    char hash[65];
};

static int at_one(const struct mdp_state_item *it, void *ud)
{
    struct at *a = ud;
    struct mdp_consent_record r;
    char prev[65];
    if (tomb_parse(it->body, &a->seq, prev, a->hash)) return 0;
    if (parse_record(it->body, &r)) return MDP_ERR_PARSE;
    a->seq = r.seq;
    memcpy(a->hash, r.hash, sizeof a->hash);
    return 0;
}

int mdp_consent_record_at(struct mdp_state *s, int64_t seq, int64_t *out_seq, char hash[65],
                          struct mdp_diag *d)
{
    struct at a = {0, ""};
    int rc;
    if (seq > 0) {
        char sk[24], *body = NULL;
        snprintf(sk, sizeof sk, "%016lld", (long long)seq);
        rc = mdp_state_get(s, JOURNAL, PARTITION, sk, &body, NULL, d);
        if (!rc) {
            struct mdp_state_item it = {PARTITION, sk, body, 0};
            rc = at_one(&it, &a);
        }
        free(body);
    } else {
        rc = mdp_state_query(s, JOURNAL, PARTITION, 0, 1, at_one, &a, d);
        if (!rc && !a.seq) rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND, "the journal is empty");
    }
    if (rc == MDP_ERR_PARSE)
        mdp_diag_set(d, rc, "a journal record is unreadable; run mdp consent verify");
    if (!rc) {
        *out_seq = a.seq;
        memcpy(hash, a.hash, 65);
    }
    return rc;
}

int mdp_consent_time_parse(const char *s, int64_t *out_ms)
{
    size_t n = strlen(s), k = strspn(s, "0123456789");
    if (n && k == n) return mdp_time_parse_epoch_s(s, out_ms);
    return mdp_time_parse_iso(s, n, out_ms);
}

struct walk {
    struct mdp_consent_verify *v;
    char prev[65];
    int64_t expect;
};

static int bad(struct walk *w, int64_t seq, const char *fmt, const char *arg)
{
    w->v->bad_seq = seq;
    snprintf(w->v->reason, sizeof w->v->reason, fmt, arg);
    return 1;
}

static int verify_one(const struct mdp_state_item *it, void *ud)
{
    struct walk *w = ud;
    int64_t seq = strtoll(it->sk, NULL, 10);
    if (seq <= 0) seq = w->expect;
    char *hashed = NULL, hex[65], got[65];
    struct mdp_consent_record r;
    /* a record pruned by retention has no content to hash: its hash stays the link the next
     * record checks (and the retention ledger lists it) */
    int pruned = tomb_parse(it->body, &r.seq, r.prev_hash, hex);
    if (!pruned) {
        if (split_body(it->body, &hashed, hex) || parse_record(it->body, &r))
            return free(hashed), bad(w, seq, "the record is not a journal record%s", "");
        int rc = mdp_sha256_hex(hashed, strlen(hashed), got);
        free(hashed);
        if (rc) return rc;
        if (strcmp(got, hex) != 0)
            return bad(w, seq, "its content does not match its hash (the record was altered)%s",
                       "");
    }
    if (r.seq != seq) return bad(w, seq, "its seq field does not match its key%s", "");
    if (seq != w->expect)
        return bad(w, seq, "the record before it is missing (expected seq %s)",
                   (snprintf(got, sizeof got, "%lld", (long long)w->expect), got));
    if (strcmp(r.prev_hash, w->prev) != 0)
        return bad(w, seq, "its prev_hash does not match the previous record%s", "");
    memcpy(w->prev, hex, sizeof w->prev);
    w->expect++;
    w->v->records++;
    w->v->pruned += pruned;
    return 0;
}

int mdp_consent_verify(struct mdp_state *s, struct mdp_consent_verify *v, struct mdp_diag *d)
{
    memset(v, 0, sizeof *v);
    struct walk w = {v, "", 1};
    int rc = mdp_state_query(s, JOURNAL, PARTITION, 0, 0, verify_one, &w, d);
    if (rc == 1) return 0;
    if (rc) return rc;
    char *head = NULL;
    rc = mdp_state_get(s, HEAD, PARTITION, "head", &head, NULL, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        if (v->records == 0) return 0;
        v->bad_seq = v->records;
        snprintf(v->reason, sizeof v->reason, "the journal head is missing");
        return 0;
    }
    if (rc) return rc;
    json_object *o = json_tokener_parse(head);
    free(head);
    int64_t hseq = o ? get_i64(o, "seq") : -1;
    char hhash[65];
    if (o) copy_str(o, "hash", hhash, sizeof hhash);
    json_object_put(o);
    if (hseq > v->records) {
        v->bad_seq = v->records + 1;
        snprintf(v->reason, sizeof v->reason,
                 "the journal ends at seq %lld but its head records seq %lld (records were "
                 "removed from the end)",
                 (long long)v->records, (long long)hseq);
    } else if (hseq == v->records && hseq > 0 && strcmp(hhash, w.prev) != 0) {
        v->bad_seq = hseq;
        snprintf(v->reason, sizeof v->reason, "the last record does not match the journal head");
    }
    return 0;
}

struct status_walk {
    const char *email, *user_id;
    char email_hmac[65], user_hmac[65];
    int64_t at;
    struct mdp_consent_status *out;
    int n;
};

static int status_one(const struct mdp_state_item *it, void *ud)
{
    struct status_walk *w = ud;
    struct mdp_consent_record r;
    if (parse_record(it->body, &r)) return 0; /* verify reports it */
    int match = r.clear_subject
                    ? (w->email && r.email_lower[0] && strcmp(w->email, r.email_lower) == 0) ||
                          (w->user_id && r.user_id[0] && strcmp(w->user_id, r.user_id) == 0)
                    : (w->email && r.email_hmac[0] && strcmp(w->email_hmac, r.email_hmac) == 0) ||
                          (w->user_id && r.user_hmac[0] && strcmp(w->user_hmac, r.user_hmac) == 0);
    if (!match || r.ts_ms > w->at) return 0;
    for (int i = 0; i < w->n; i++) {
        struct mdp_consent_status *st = &w->out[i];
        if (strcmp(st->purpose, r.purpose) != 0) continue;
        /* Records arrive in seq order; the latest decision by time wins, ties by seq. */
        if (st->has_decision && r.ts_ms < st->ts_ms) return 0;
        st->has_decision = 1;
        st->granted = r.granted;
        st->ts_ms = r.ts_ms;
        st->expires_at_ms = r.expires_at_ms;
        st->seq = r.seq;
    }
    return 0;
}

int mdp_consent_status_at(struct mdp_state *s, const char *email, const char *user_id,
                          int64_t at_ms, struct mdp_consent_status *out, int cap, int *n_out,
                          struct mdp_diag *d)
{
    char norm[256];
    if (email && *email) {
        if (mdp_email_normalize(email, norm, sizeof norm) < 0)
            return mdp_diag_set(d, MDP_ERR_INVALID, "the email is empty or too long");
        email = norm;
    } else {
        email = NULL;
    }
    if (user_id && !*user_id) user_id = NULL;
    if (!email && !user_id)
        return mdp_diag_set(d, MDP_ERR_INVALID, "a consent subject needs an email or a user_id");
    int n = 0;
    for (const struct mdp_consent_purpose *p = mdp_consent_purposes(); p->name; p++) {
        if (n == cap) return mdp_diag_set(d, MDP_ERR_RANGE, "too many purposes");
        memset(&out[n], 0, sizeof out[n]);
        out[n++].purpose = p->name;
    }
    struct status_walk w = {email, user_id, "", "", at_ms, out, n};
    unsigned char key[MDP_SUBJECT_KEY_LEN];
    int rc = mdp_subject_key(s, key, d);
    if (!rc && email) rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_EMAIL, email, w.email_hmac, d);
    if (!rc && user_id)
        rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_USER_ID, user_id, w.user_hmac, d);
    memset(key, 0, sizeof key);
    if (!rc) rc = mdp_state_query(s, JOURNAL, PARTITION, 0, 0, status_one, &w, d);
    if (rc) return rc;
    for (int i = 0; i < n; i++)
        out[i].valid = out[i].has_decision && out[i].granted &&
                       (!out[i].expires_at_ms || out[i].expires_at_ms > at_ms);
    *n_out = n;
    return 0;
}

/* ---- erasure: forgetting a subject's clear values ---- */

#define MAX_LINKED 64

struct forget_walk {
    char hm[MAX_LINKED][65]; /* pseudonyms of the subject: [0] email, [1] user, then linked */
    char kind[MAX_LINKED];   /* 'e' / 'u' */
    int n;
    const char *email, *user_id; /* normalized clear values, for records in the old format */
    int64_t records;
    int clear_hit, overflow;
};

static int has_hmac(const struct forget_walk *w, const char *h, char kind)
{
    for (int i = 0; i < w->n; i++)
        if (w->kind[i] == kind && strcmp(w->hm[i], h) == 0) return 1;
    return 0;
}

static void add_hmac(struct forget_walk *w, const char *h, char kind)
{
    if (!h[0] || has_hmac(w, h, kind)) return;
    if (w->n == MAX_LINKED) {
        w->overflow = 1;
        return;
    }
    memcpy(w->hm[w->n], h, 65);
    w->kind[w->n++] = kind;
}

static int forget_one(const struct mdp_state_item *it, void *ud)
{
    struct forget_walk *w = ud;
    struct mdp_consent_record r;
    if (parse_record(it->body, &r)) return 0; /* verify reports it */
    if (r.clear_subject) {
        char norm[256] = "";
        if (r.email_lower[0]) mdp_email_normalize(r.email_lower, norm, sizeof norm);
        if ((w->email && strcmp(norm, w->email) == 0) ||
            (w->user_id && r.user_id[0] && strcasecmp(r.user_id, w->user_id) == 0))
            w->clear_hit = 1;
        return 0;
    }
    if ((r.email_hmac[0] && has_hmac(w, r.email_hmac, 'e')) ||
        (r.user_hmac[0] && has_hmac(w, r.user_hmac, 'u'))) {
        w->records++;
        add_hmac(w, r.email_hmac, 'e');
        add_hmac(w, r.user_hmac, 'u');
    }
    return 0;
}

int mdp_consent_forget(struct mdp_state *s, const char *email, const char *user_id,
                       struct mdp_consent_forgotten *out, struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    if (email && !*email) email = NULL;
    if (user_id && !*user_id) user_id = NULL;
    if (!email && !user_id)
        return mdp_diag_set(d, MDP_ERR_INVALID, "forgetting a subject needs an email or a user_id");
    struct forget_walk *w = calloc(1, sizeof *w);
    if (!w) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    char norm_e[256], norm_u[256], h[65];
    unsigned char key[MDP_SUBJECT_KEY_LEN];
    int rc = mdp_subject_key(s, key, d);
    if (!rc && email) {
        rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_EMAIL, email, h, d);
        if (!rc) add_hmac(w, h, 'e');
        if (!rc && mdp_email_normalize(email, norm_e, sizeof norm_e) > 0) w->email = norm_e;
    }
    if (!rc && user_id) {
        rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_USER_ID, user_id, h, d);
        if (!rc) add_hmac(w, h, 'u');
        if (!rc && mdp_email_normalize(user_id, norm_u, sizeof norm_u) > 0) w->user_id = norm_u;
    }
    memset(key, 0, sizeof key);
    /* two passes: a record linking an address to a user id found in the first pass brings in the
     * records of that address in the second */
    for (int pass = 0; !rc && pass < 2; pass++) {
        w->records = 0;
        rc = mdp_state_query(s, JOURNAL, PARTITION, 0, 0, forget_one, w, d);
    }
    if (!rc && w->clear_hit)
        rc = mdp_diag_set(d, MDP_ERR_UNSUPPORTED,
                          "the consent journal holds this subject in clear (records written "
                          "before pseudonymization): run `mdp consent migrate` first");
    if (!rc && w->overflow)
        rc = mdp_diag_set(d, MDP_ERR_RANGE,
                          "the subject is linked to more than %d addresses and user ids in the "
                          "consent journal",
                          MAX_LINKED);
    for (int i = 0; !rc && i < w->n; i++) {
        const char *sk = w->kind[i] == 'e' ? SK_EMAIL : SK_USER;
        char *body = NULL;
        rc = mdp_state_get(s, CONTACT, w->hm[i], sk, &body, NULL, d);
        free(body);
        if (rc == MDP_ERR_NOT_FOUND) {
            rc = 0;
            continue;
        }
        if (!rc) rc = mdp_state_delete(s, CONTACT, w->hm[i], sk, d);
        if (!rc) {
            if (w->kind[i] == 'e')
                out->email_rows++;
            else
                out->user_rows++;
        }
    }
    if (!rc) out->records = w->records;
    free(w);
    return rc;
}

/* ---- retention: records that no longer prove a decision in force ---- */

struct jrec {
    int64_t seq, ts, expires, bytes;
    int granted;
    char hash[65], email[65], user[65], purpose[32]; /* email, user: the pseudonyms ("": none) */
};

struct jrecs {
    struct jrec *v;
    size_t n, cap;
    int clear;
};

static int jrec_one(const struct mdp_state_item *it, void *ud)
{
    struct jrecs *j = ud;
    struct mdp_consent_record r;
    if (is_tomb(it->body)) return 0;
    if (parse_record(it->body, &r)) return MDP_ERR_PARSE;
    if (r.clear_subject) {
        j->clear = 1;
        return 0;
    }
    if (mdp_grow(&j->v, &j->cap, j->n + 1, sizeof *j->v, 256)) return MDP_ERR_NOMEM;
    struct jrec *x = &j->v[j->n++];
    x->seq = r.seq;
    x->bytes = (int64_t)strlen(it->body);
    x->ts = r.ts_ms;
    x->expires = r.expires_at_ms;
    x->granted = r.granted;
    memcpy(x->hash, r.hash, sizeof x->hash);
    memcpy(x->email, r.email_hmac, sizeof x->email);
    memcpy(x->user, r.user_hmac, sizeof x->user);
    memcpy(x->purpose, r.purpose, sizeof x->purpose);
    return 0;
}

/* (purpose, the email or the user pseudonym, ts, seq): a decision's later ones follow it */
static int by_key(const struct jrec *x, const struct jrec *y, int user)
{
    int c = strcmp(x->purpose, y->purpose);
    if (!c) c = user ? strcmp(x->user, y->user) : strcmp(x->email, y->email);
    if (!c) c = (x->ts > y->ts) - (x->ts < y->ts);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}
static int by_email(const void *a, const void *b)
{
    return by_key(*(struct jrec *const *)a, *(struct jrec *const *)b, 0);
}
static int by_user(const void *a, const void *b)
{
    return by_key(*(struct jrec *const *)a, *(struct jrec *const *)b, 1);
}

int mdp_consent_due(struct mdp_state *s, int64_t cutoff_ms, struct mdp_consent_due **out, size_t *n,
                    struct mdp_diag *d)
{
    *out = NULL;
    *n = 0;
    struct jrecs j = {0};
    int rc = mdp_state_query(s, JOURNAL, PARTITION, 0, 0, jrec_one, &j, d);
    if (rc == MDP_ERR_PARSE)
        rc = mdp_diag_set(d, rc, "a journal record is unreadable; run mdp consent verify");
    else if (rc == MDP_ERR_NOMEM)
        rc = mdp_diag_set(d, rc, "out of memory reading the journal");
    else if (!rc && j.clear)
        rc = mdp_diag_set(d, MDP_ERR_UNSUPPORTED,
                          "the consent journal holds records written before pseudonymization: "
                          "run `mdp consent migrate` first");
    struct jrec **e = NULL, **u = NULL;
    int64_t *ended = NULL;
    size_t ne = 0, nu = 0, ocap = 0;
    if (!rc && j.n &&
        (!(e = malloc(j.n * sizeof *e)) || !(u = malloc(j.n * sizeof *u)) ||
         !(ended = malloc(j.n * sizeof *ended))))
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < j.n; i++) {
        if (j.v[i].email[0]) e[ne++] = &j.v[i];
        if (j.v[i].user[0]) u[nu++] = &j.v[i];
        ended[i] = INT64_MAX; /* superseded: set below */
    }
    if (!rc) {
        if (ne) qsort(e, ne, sizeof *e, by_email);
        if (nu) qsort(u, nu, sizeof *u, by_user);
        /* a record with an address is superseded by the first later decision for the purpose
         * that names the address, and its user id when it names one too; one with only a user
         * id by the first later one that names the user id */
        for (size_t i = 0; i < ne; i++)
            for (size_t k = i + 1; k < ne && !strcmp(e[k]->purpose, e[i]->purpose) &&
                                   !strcmp(e[k]->email, e[i]->email);
                 k++)
                if (!e[i]->user[0] || !strcmp(e[k]->user, e[i]->user)) {
                    ended[e[i] - j.v] = e[k]->ts;
                    break;
                }
        for (size_t i = 0; i < nu; i++) {
            if (u[i]->email[0]) continue;
            if (i + 1 < nu && !strcmp(u[i + 1]->purpose, u[i]->purpose) &&
                !strcmp(u[i + 1]->user, u[i]->user))
                ended[u[i] - j.v] = u[i + 1]->ts;
        }
        for (size_t i = 0; i < j.n; i++) {
            const struct jrec *x = &j.v[i];
            if (!x->granted)
                ended[i] = x->ts; /* a withdrawal ends consent when it is made */
            else if (x->expires && x->expires < ended[i])
                ended[i] = x->expires;
            if (ended[i] > cutoff_ms) continue;
            if (mdp_grow(out, &ocap, *n + 1, sizeof **out, 64)) {
                rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
                break;
            }
            struct mdp_consent_due *o = &(*out)[(*n)++];
            o->seq = x->seq;
            memcpy(o->hash, x->hash, sizeof o->hash);
            o->ended_ms = ended[i];
            o->bytes = x->bytes;
        }
    }
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    free(e);
    free(u);
    free(ended);
    free(j.v);
    return rc;
}

/* "e:<hmac>" / "u:<hmac>": a pseudonym with its kind, as the prune's sorted lists hold them */
struct pname {
    char v[68];
    char *body; /* its contact row's body once deleted (restored if a new record names it) */
};

static int cmp_pname(const void *a, const void *b)
{
    return strcmp(((const struct pname *)a)->v, ((const struct pname *)b)->v);
}

struct names {
    struct pname *v;
    size_t n, cap;
    unsigned char *live; /* [n]: named by a live record */
    int64_t last_seq;    /* the newest record the walk saw */
};

static int names_add(struct names *x, char kind, const char *hmac)
{
    if (!hmac[0]) return 0;
    if (mdp_grow(&x->v, &x->cap, x->n + 1, sizeof *x->v, 64)) return MDP_ERR_NOMEM;
    snprintf(x->v[x->n].v, sizeof x->v[x->n].v, "%c:%s", kind, hmac);
    x->v[x->n++].body = NULL;
    return 0;
}

static struct pname *names_find(const struct names *x, char kind, const char *hmac)
{
    if (!hmac[0] || !x->n) return NULL;
    struct pname key = {"", NULL};
    snprintf(key.v, sizeof key.v, "%c:%s", kind, hmac);
    return bsearch(&key, x->v, x->n, sizeof *x->v, cmp_pname);
}

/* marks the names a live record holds; tracks the newest seq */
static int mark_live(const struct mdp_state_item *it, void *ud)
{
    struct names *x = ud;
    struct mdp_consent_record r;
    int64_t seq = strtoll(it->sk, NULL, 10);
    if (seq > x->last_seq) x->last_seq = seq;
    if (is_tomb(it->body) || parse_record(it->body, &r)) return 0;
    struct pname *p;
    if ((p = names_find(x, 'e', r.email_hmac))) x->live[p - x->v] = 1;
    if ((p = names_find(x, 'u', r.user_hmac))) x->live[p - x->v] = 1;
    return 0;
}

/* a record appended after the walk that names a deleted row's pseudonym: the row comes back */
struct restore {
    struct mdp_state *s;
    struct names *x;
    struct mdp_diag *d;
    int64_t restored;
};

static int restore_row(struct restore *rs, struct pname *p)
{
    if (!p || !p->body) return 0;
    const char *hm = p->v + 2;
    struct mdp_state_write w = {
        MDP_STATE_PUT, CONTACT, {hm, p->v[0] == 'e' ? SK_EMAIL : SK_USER, p->body, 0}, 0, NULL, 0,
        NULL,          hm};
    int rc = mdp_state_transact(rs->s, &w, 1, rs->d);
    if (!rc) {
        free(p->body);
        p->body = NULL;
        rs->restored++;
    }
    return rc;
}

static int restore_one(int64_t seq, const char *body, void *ud)
{
    (void)seq;
    struct restore *rs = ud;
    struct mdp_consent_record r;
    if (parse_record(body, &r)) return 0;
    int rc = restore_row(rs, names_find(rs->x, 'e', r.email_hmac));
    return rc ? rc : restore_row(rs, names_find(rs->x, 'u', r.user_hmac));
}

struct each_pruned {
    int (*cb)(int64_t seq, const char *hash, void *ud);
    void *ud;
};

static int each_pruned_one(const struct mdp_state_item *it, void *ud)
{
    struct each_pruned *e = ud;
    int64_t seq;
    char prev[65], hash[65];
    /* the key's seq: a body claiming another is verify's to report, and is listed under neither */
    return tomb_parse(it->body, &seq, prev, hash) ? e->cb(strtoll(it->sk, NULL, 10), hash, e->ud)
                                                  : 0;
}

int mdp_consent_each_pruned(struct mdp_state *s, int (*cb)(int64_t seq, const char *hash, void *ud),
                            void *ud, struct mdp_diag *d)
{
    struct each_pruned e = {cb, ud};
    return mdp_state_query(s, JOURNAL, PARTITION, 0, 0, each_pruned_one, &e, d);
}

#define PRUNE_BATCH 25

int mdp_consent_prune(struct mdp_state *s, char *const *keys, size_t nkeys,
                      struct mdp_consent_pruned *out, struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    struct names x = {0};
    struct mdp_state_write w[PRUNE_BATCH];
    char sks[PRUNE_BATCH][24], *bodies[PRUNE_BATCH];
    int nw = 0, rc = 0;
    for (size_t i = 0; !rc && i <= nkeys; i++) {
        if (i == nkeys || nw == PRUNE_BATCH) { /* the batch so far, all or none */
            if (nw) rc = mdp_state_transact(s, w, nw, d);
            if (!rc) out->records += nw;
            for (int k = 0; k < nw; k++)
                free(bodies[k]);
            nw = 0;
            if (rc || i == nkeys) break;
        }
        char want[65], *end, *body = NULL;
        long long seq = strtoll(keys[i], &end, 10);
        if (seq <= 0 || *end != ':' || strlen(end + 1) != 64 ||
            strspn(end + 1, "0123456789abcdef") != 64) {
            rc = mdp_diag_set(d, MDP_ERR_INVALID, "not a journal record key (seq:hash): %.80s",
                              keys[i]);
            break;
        }
        memcpy(want, end + 1, sizeof want);
        snprintf(sks[nw], sizeof sks[nw], "%016lld", seq);
        rc = mdp_state_get(s, JOURNAL, PARTITION, sks[nw], &body, NULL, d);
        if (rc == MDP_ERR_NOT_FOUND)
            rc = mdp_diag_set(d, rc, "journal record %lld is missing", seq);
        int64_t tseq;
        char prev[65], hash[65];
        struct mdp_consent_record r;
        if (!rc && tomb_parse(body, &tseq, prev, hash)) {
            if (strcmp(hash, want) != 0)
                rc = mdp_diag_set(d, MDP_ERR_EXISTS,
                                  "journal record %lld was pruned with another hash", seq);
            else
                out->already++;
        } else if (!rc && parse_record(body, &r)) {
            rc = mdp_diag_set(d, MDP_ERR_PARSE,
                              "journal record %lld is unreadable; run mdp consent verify", seq);
        } else if (!rc && strcmp(r.hash, want) != 0) {
            rc = mdp_diag_set(d, MDP_ERR_EXISTS,
                              "journal record %lld is not the one planned (its hash differs): "
                              "plan again",
                              seq);
        } else if (!rc) {
            char *t = malloc(200);
            if (!t || names_add(&x, 'e', r.email_hmac) || names_add(&x, 'u', r.user_hmac)) {
                free(t);
                rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
            } else {
                snprintf(t, 200,
                         "{\"seq\":%lld,\"pruned\":true,\"prev_hash\":\"%s\",\"hash\":\"%s\"}", seq,
                         r.prev_hash, r.hash);
                bodies[nw] = t;
                w[nw] = (struct mdp_state_write){
                    MDP_STATE_PUT, JOURNAL, {PARTITION, sks[nw], t, 0}, 0, NULL, 0, NULL, NULL};
                nw++;
            }
        }
        free(body);
    }
    for (int k = 0; rc && k < nw; k++)
        free(bodies[k]);
    /* the contact rows of pseudonyms no live record names any more */
    if (!rc && x.n) {
        qsort(x.v, x.n, sizeof *x.v, cmp_pname);
        size_t m = 0;
        for (size_t i = 0; i < x.n; i++)
            if (!m || strcmp(x.v[m - 1].v, x.v[i].v)) x.v[m++] = x.v[i];
        x.n = m;
        if (!(x.live = calloc(x.n, 1))) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        if (!rc) rc = mdp_state_query(s, JOURNAL, PARTITION, 0, 0, mark_live, &x, d);
        for (size_t i = 0; !rc && i < x.n; i++) {
            if (x.live[i]) continue;
            const char *hm = x.v[i].v + 2, *sk = x.v[i].v[0] == 'e' ? SK_EMAIL : SK_USER;
            rc = mdp_state_get(s, CONTACT, hm, sk, &x.v[i].body, NULL, d);
            if (rc == MDP_ERR_NOT_FOUND) { /* erased before */
                rc = 0;
                continue;
            }
            if (!rc) rc = mdp_state_delete(s, CONTACT, hm, sk, d);
            if (!rc) out->contact_rows++;
        }
        /* an append between the walk and the deletes wrote its row in its own transaction,
         * which a delete above may have removed: put such rows back */
        struct restore rs = {s, &x, d, 0};
        if (!rc) rc = mdp_consent_each_stored(s, x.last_seq, restore_one, &rs, d);
        out->contact_rows -= rs.restored;
    }
    for (size_t i = 0; i < x.n; i++)
        free(x.v[i].body);
    free(x.v);
    free(x.live);
    /* the journal's table copy holds the pruned records: without its digest the next load drops
     * it and reads the journal again (src/model/ml.c) */
    if (!rc && out->records) {
        rc = mdp_state_delete(s, MDP_CONSENT_COPY_DIGEST, d);
        if (rc == MDP_ERR_NOT_FOUND) rc = 0;
    }
    return rc;
}

/* ---- the one-time migration of a journal written before pseudonymization ---- */

#define MIGRATION_SK "migration"
#define LEDGER_WHAT  "consent_journal_migration"
#define BATCH        20

struct bodies {
    char **v;
    size_t n, cap;
    int64_t clear;
};

static int collect_body(const struct mdp_state_item *it, void *ud)
{
    struct bodies *b = ud;
    if (mdp_grow(&b->v, &b->cap, b->n + 1, sizeof *b->v, 256)) return MDP_ERR_NOMEM;
    if (!(b->v[b->n] = strdup(it->body))) return MDP_ERR_NOMEM;
    if (!strstr(it->body, "\"email_hmac\":") && !is_tomb(it->body)) b->clear++;
    b->n++;
    return 0;
}

static void bodies_free(struct bodies *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i]);
    free(b->v);
}

struct progress {
    int64_t done, old_seq;
    char old_k[65], new_k[65], old_head[65], new_head[65];
    int ledger;
    int64_t ledger_seq;
};

static int progress_put(struct mdp_state *s, const struct progress *p, int flags,
                        struct mdp_diag *d)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"done\":%lld,\"old_k\":\"%s\",\"new_k\":\"%s\",\"old_seq\":%lld,\"old_head\":"
             "\"%s\",\"new_head\":\"%s\",\"ledger\":%d,\"ledger_seq\":%lld}",
             (long long)p->done, p->old_k, p->new_k, (long long)p->old_seq, p->old_head,
             p->new_head, p->ledger, (long long)p->ledger_seq);
    struct mdp_state_item it = {PARTITION, MIGRATION_SK, body, 0};
    return mdp_state_put(s, HEAD, &it, flags, d);
}

static int progress_get(struct mdp_state *s, struct progress *p, struct mdp_diag *d)
{
    char *body = NULL;
    memset(p, 0, sizeof *p);
    int rc = mdp_state_get(s, HEAD, PARTITION, MIGRATION_SK, &body, NULL, d);
    if (rc) return rc;
    json_object *o = json_tokener_parse(body);
    free(body);
    if (!o) return mdp_diag_set(d, MDP_ERR_PARSE, "the journal's migration record is unreadable");
    p->done = get_i64(o, "done");
    p->old_seq = get_i64(o, "old_seq");
    p->ledger = (int)get_i64(o, "ledger");
    p->ledger_seq = get_i64(o, "ledger_seq");
    copy_str(o, "old_k", p->old_k, sizeof p->old_k);
    copy_str(o, "new_k", p->new_k, sizeof p->new_k);
    copy_str(o, "old_head", p->old_head, sizeof p->old_head);
    copy_str(o, "new_head", p->new_head, sizeof p->new_head);
    json_object_put(o);
    return 0;
}

/* Re-chains one stored record after prev_new: *r gets the new record (pseudonyms, clear subject
 * kept for the contact rows), *body_out its stored bytes (caller frees), old_hash its current
 * hash. Checks that the record is whole and follows prev_old (the old chain) or prev_new (a record
 * appended in the new format after the migration reached it). */
static int rechain(struct mdp_state *s, const char *stored, const char *prev_old,
                   const char *prev_new, struct mdp_consent_record *r, char **body_out,
                   char old_hash[65], struct mdp_diag *d)
{
    char *hashed = NULL, hex[65], got[65];
    *body_out = NULL;
    if (split_body(stored, &hashed, hex) || parse_record(stored, r)) {
        free(hashed);
        return mdp_diag_set(d, MDP_ERR_PARSE, "journal record is unreadable");
    }
    int rc = mdp_sha256_hex(hashed, strlen(hashed), got);
    free(hashed);
    if (rc) return mdp_diag_set(d, MDP_ERR_CRYPTO, "SHA-256 failed");
    if (strcmp(got, hex) != 0)
        return mdp_diag_set(d, MDP_ERR_PARSE,
                            "journal record %lld does not match its hash (altered)",
                            (long long)r->seq);
    if (strcmp(r->prev_hash, prev_old) != 0 && strcmp(r->prev_hash, prev_new) != 0)
        return mdp_diag_set(d, MDP_ERR_PARSE,
                            "journal record %lld does not follow the record before it",
                            (long long)r->seq);
    memcpy(old_hash, hex, 65);
    if (r->clear_subject) {
        char e[256];
        if (r->email_lower[0] && mdp_email_normalize(r->email_lower, e, sizeof e) > 0)
            memcpy(r->email_lower, e, sizeof e);
        rc = pseudonyms(s, r, d);
        if (rc) return rc;
    }
    snprintf(r->prev_hash, sizeof r->prev_hash, "%s", prev_new);
    *body_out = seal(r, &rc);
    return *body_out ? 0 : mdp_diag_set(d, rc, "out of memory");
}

/* Computes the new head hash of the whole journal without writing (pass 1). */
static int dry_chain(struct mdp_state *s, const struct bodies *b, char new_head[65],
                     struct mdp_diag *d)
{
    char prev_old[65] = "", prev_new[65] = "";
    for (size_t i = 0; i < b->n; i++) {
        struct mdp_consent_record r;
        char *body, oh[65];
        int rc = rechain(s, b->v[i], prev_old, prev_new, &r, &body, oh, d);
        free(body);
        if (rc) return rc;
        memcpy(prev_old, oh, 65);
        memcpy(prev_new, r.hash, 65);
    }
    memcpy(new_head, prev_new, 65);
    return 0;
}

static int ledger_once(struct mdp_lake *lake, struct progress *p, int64_t records,
                       struct mdp_diag *d)
{
    int64_t seq;
    char hash[65], *last = NULL;
    int rc = mdp_ledger_last(lake, &seq, hash, &last, d);
    if (rc) return rc;
    char want[160];
    snprintf(want, sizeof want, "\"old_head_seq\":%lld,\"old_head_hash\":\"%s\"",
             (long long)p->old_seq, p->old_head);
    if (last && strstr(last, "\"what\":\"" LEDGER_WHAT "\"") && strstr(last, want)) {
        p->ledger_seq = seq; /* written before a crash */
        free(last);
        return 0;
    }
    free(last);
    char members[640];
    snprintf(members, sizeof members,
             "\"dataset\":\"state.consent_journal\",\"location\":\"consent_journal\","
             "\"reason\":\"the subject moves out of the hash chain into the deletable contact "
             "table (keyed pseudonyms, docs/privacy.md)\",\"records\":%lld,%s,"
             "\"new_head_seq\":%lld,\"new_head_hash\":\"%s\"",
             (long long)records, want, (long long)p->old_seq, p->new_head);
    return mdp_ledger_append(lake, LEDGER_WHAT, members, &p->ledger_seq, NULL, d);
}

int mdp_consent_migrate(struct mdp_lake *lake, struct mdp_state *s,
                        struct mdp_consent_migration *out, struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    struct bodies b = {0};
    struct progress p;
    /* the cheap answer first: a migration rewrites from seq 1 on and every later append is
     * pseudonymous, so with no migration in progress a pseudonymous first record (or none) means
     * there is nothing to do */
    int rc = progress_get(s, &p, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        rc = mdp_state_query(s, JOURNAL, PARTITION, 0, 1, collect_body, &b, d);
        int done = !rc && b.clear == 0;
        bodies_free(&b);
        memset(&b, 0, sizeof b);
        if (rc || done) return rc == MDP_ERR_NOMEM ? mdp_diag_set(d, rc, "out of memory") : rc;
    } else if (rc) {
        return rc;
    }
    rc = mdp_state_query(s, JOURNAL, PARTITION, 0, 0, collect_body, &b, d);
    if (rc == MDP_ERR_NOMEM) rc = mdp_diag_set(d, rc, "out of memory reading the journal");
    out->records = (int64_t)b.n;
    int resumed = 0;
    if (!rc) {
        rc = progress_get(s, &p, d);
        if (rc == 0)
            resumed = 1;
        else if (rc == MDP_ERR_NOT_FOUND)
            rc = 0;
    }
    if (!rc && !resumed && b.clear == 0) { /* nothing to do */
        bodies_free(&b);
        return 0;
    }
    if (!rc && !resumed) {
        struct mdp_consent_verify v;
        rc = mdp_consent_verify(s, &v, d);
        if (!rc && v.bad_seq)
            rc = mdp_diag_set(d, MDP_ERR_PARSE,
                              "the consent journal is broken at seq %lld (%s): it is not migrated",
                              (long long)v.bad_seq, v.reason);
        if (!rc && b.n) {
            struct mdp_consent_record last;
            char *hashed = NULL;
            if (split_body(b.v[b.n - 1], &hashed, p.old_head) || parse_record(b.v[b.n - 1], &last))
                rc = mdp_diag_set(d, MDP_ERR_PARSE, "the last journal record is unreadable");
            free(hashed);
            p.old_seq = last.seq;
        }
        if (!rc) rc = dry_chain(s, &b, p.new_head, d);
        if (!rc) {
            rc = progress_put(s, &p, MDP_STATE_IF_ABSENT, d);
            if (rc == MDP_ERR_EXISTS)
                rc = mdp_diag_set(d, rc, "another migration of the consent journal is running");
        }
    }
    if (!rc && !p.ledger) {
        rc = ledger_once(lake, &p, out->records, d);
        if (!rc) {
            p.ledger = 1;
            rc = progress_put(s, &p, 0, d);
        }
    }
    /* pass 2: rewrite in batches, each with the progress record in the same transaction */
    struct mdp_state_write w[BATCH * 3 + 1];
    char *nb[BATCH] = {0}, sks[BATCH][24];
    /* the writes borrow the records' pseudonyms and the contact bodies until the transaction */
    struct batch_rec {
        struct mdp_consent_record r;
        char cb[2][1600];
    } *br = rc ? NULL : calloc(BATCH, sizeof *br);
    if (!rc && !br) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    size_t i = 0;
    while (!rc && i < b.n && (int64_t)i < p.done)
        i++; /* records before p.done are in the new chain already */
    while (!rc && i < b.n) {
        int nw = 0, k = 0;
        for (; !rc && k < BATCH && i < b.n; k++, i++) {
            struct mdp_consent_record *r = &br[k].r;
            char oh[65];
            rc = rechain(s, b.v[i], p.old_k, p.new_k, r, &nb[k], oh, d);
            if (rc) break;
            snprintf(sks[k], sizeof sks[k], "%016lld", (long long)r->seq);
            w[nw++] = (struct mdp_state_write){
                MDP_STATE_PUT, JOURNAL, {PARTITION, sks[k], nb[k], 0}, 0, NULL, 0, NULL, NULL};
            rc = contact_writes(r, w, &nw, br[k].cb, d);
            memcpy(p.old_k, oh, 65);
            memcpy(p.new_k, r->hash, 65);
            p.done = r->seq;
            if (r->clear_subject) out->migrated++;
        }
        char pb[512];
        if (!rc) {
            snprintf(pb, sizeof pb,
                     "{\"done\":%lld,\"old_k\":\"%s\",\"new_k\":\"%s\",\"old_seq\":%lld,"
                     "\"old_head\":\"%s\",\"new_head\":\"%s\",\"ledger\":%d,\"ledger_seq\":%lld}",
                     (long long)p.done, p.old_k, p.new_k, (long long)p.old_seq, p.old_head,
                     p.new_head, p.ledger, (long long)p.ledger_seq);
            w[nw++] = (struct mdp_state_write){
                MDP_STATE_PUT, HEAD, {PARTITION, MIGRATION_SK, pb, 0}, 0, NULL, 0, NULL, NULL};
            rc = mdp_state_transact(s, w, nw, d);
        }
        for (int j = 0; j < BATCH; j++) {
            free(nb[j]);
            nb[j] = NULL;
        }
    }
    if (!rc && b.n) {
        char head[160];
        snprintf(head, sizeof head, "{\"seq\":%lld,\"hash\":\"%s\"}", (long long)p.done, p.new_k);
        struct mdp_state_item h = {PARTITION, "head", head, 0};
        rc = mdp_state_put(s, HEAD, &h, 0, d);
    }
    if (!rc) rc = mdp_state_delete(s, HEAD, PARTITION, MIGRATION_SK, d);
    if (!rc) {
        memcpy(out->old_head, p.old_head, 65);
        memcpy(out->new_head, p.new_k, 65);
        out->ledger_seq = p.ledger_seq;
    }
    free(br);
    bodies_free(&b);
    return rc;
}
