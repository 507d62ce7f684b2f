/* The consent journal: purposes, validation, the hash-chained append, verification and the
 * point-in-time status of a subject (see mdp/consent.h). The journal lives in the state store
 * under table "consent_journal", partition "journal", sort key = the 16-digit sequence number. */
#include "mdp/consent.h"
#include "mdp/config.h"
#include "mdp/hash.h"
#include "mdp/time.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOURNAL    "consent_journal"
#define HEAD       "consent_head"
#define PARTITION  "journal"
#define HASH_FIELD ",\"hash\":\""

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

/* The record's bytes without its hash: a JSON object in a fixed key order. Caller frees. */
static char *canonical(const struct mdp_consent_record *r)
{
    json_object *o = json_object_new_object();
    if (!o) return NULL;
    json_object_object_add(o, "seq", json_object_new_int64(r->seq));
    json_object_object_add(o, "email_lower",
                           r->email_lower[0] ? json_object_new_string(r->email_lower) : NULL);
    json_object_object_add(o, "user_id", r->user_id[0] ? json_object_new_string(r->user_id) : NULL);
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

static int take_last(const struct mdp_state_item *it, void *ud)
{
    struct mdp_consent_record *r = ud;
    return parse_record(it->body, r) ? MDP_ERR_PARSE : 0;
}

int mdp_consent_append(struct mdp_state *s, struct mdp_consent_record *r, int64_t now_ms,
                       struct mdp_diag *d)
{
    int rc = mdp_consent_validate(r, now_ms, d);
    if (rc) return rc;
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
        char *c = canonical(r);
        if (!c) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        if (mdp_sha256_hex(c, strlen(c), r->hash)) {
            free(c);
            return mdp_diag_set(d, MDP_ERR_CRYPTO, "SHA-256 failed");
        }
        size_t n = strlen(c);
        char *body = malloc(n + sizeof HASH_FIELD + 66);
        if (!body) {
            free(c);
            return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        }
        memcpy(body, c, n - 1); /* drop the closing brace */
        sprintf(body + n - 1, "%s%s\"}", HASH_FIELD, r->hash);
        free(c);
        char sk[24];
        snprintf(sk, sizeof sk, "%016lld", (long long)r->seq);
        /* The journal is kept for 3 years (spec 7); the retention job, not a TTL, removes it. */
        struct mdp_state_item it = {PARTITION, sk, body, 0};
        rc = mdp_state_put(s, JOURNAL, &it, MDP_STATE_IF_ABSENT, d);
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

struct each {
    int (*cb)(const struct mdp_consent_record *r, void *ud);
    void *ud;
};

static int each_one(const struct mdp_state_item *it, void *ud)
{
    struct each *e = ud;
    struct mdp_consent_record r;
    if (parse_record(it->body, &r)) return MDP_ERR_PARSE;
    return e->cb(&r, e->ud);
}

int mdp_consent_each(struct mdp_state *s, int (*cb)(const struct mdp_consent_record *r, void *ud),
                     void *ud, struct mdp_diag *d)
{
    struct each e = {cb, ud};
    int rc = mdp_state_query(s, JOURNAL, PARTITION, 0, 0, each_one, &e, d);
    if (rc == MDP_ERR_PARSE)
        return mdp_diag_set(d, rc, "a journal record is unreadable; run mdp consent verify");
    return rc;
}

struct each_raw {
    int (*cb)(const char *body, void *ud);
    void *ud;
};

static int each_raw_one(const struct mdp_state_item *it, void *ud)
{
    struct each_raw *e = ud;
    return e->cb(it->body, e->ud);
}

int mdp_consent_each_body(struct mdp_state *s, int (*cb)(const char *body, void *ud), void *ud,
                          struct mdp_diag *d)
{
    struct each_raw e = {cb, ud};
    return mdp_state_query(s, JOURNAL, PARTITION, 0, 0, each_raw_one, &e, d);
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
    if (split_body(it->body, &hashed, hex) || parse_record(it->body, &r))
        return free(hashed), bad(w, seq, "the record is not a journal record%s", "");
    int rc = mdp_sha256_hex(hashed, strlen(hashed), got);
    free(hashed);
    if (rc) return rc;
    if (strcmp(got, hex) != 0)
        return bad(w, seq, "its content does not match its hash (the record was altered)%s", "");
    if (r.seq != seq) return bad(w, seq, "its seq field does not match its key%s", "");
    if (seq != w->expect)
        return bad(w, seq, "the record before it is missing (expected seq %s)",
                   (snprintf(got, sizeof got, "%lld", (long long)w->expect), got));
    if (strcmp(r.prev_hash, w->prev) != 0)
        return bad(w, seq, "its prev_hash does not match the previous record%s", "");
    memcpy(w->prev, hex, sizeof w->prev);
    w->expect++;
    w->v->records++;
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
    int64_t at;
    struct mdp_consent_status *out;
    int n;
};

static int status_one(const struct mdp_state_item *it, void *ud)
{
    struct status_walk *w = ud;
    struct mdp_consent_record r;
    if (parse_record(it->body, &r)) return 0; /* verify reports it */
    int match = (w->email && r.email_lower[0] && strcmp(w->email, r.email_lower) == 0) ||
                (w->user_id && r.user_id[0] && strcmp(w->user_id, r.user_id) == 0);
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
    struct status_walk w = {email, user_id, at_ms, out, n};
    int rc = mdp_state_query(s, JOURNAL, PARTITION, 0, 0, status_one, &w, d);
    if (rc) return rc;
    for (int i = 0; i < n; i++)
        out[i].valid = out[i].has_decision && out[i].granted &&
                       (!out[i].expires_at_ms || out[i].expires_at_ms > at_ms);
    *n_out = n;
    return 0;
}
