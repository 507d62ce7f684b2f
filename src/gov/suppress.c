/* The suppression list (include/mdp/suppress.h): state table "suppression", partition key the
 * pseudonym, sort key its kind, body {"kind","reason","added_ms"}. */
#include "mdp/suppress.h"
#include "mdp/hash.h"
#include "mdp/pseudonym.h"
#include "mdp/state.h"
#include "mdp/strset.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE "suppression"
/* the version counter's key in TABLE: never a pseudonym (64 hex) nor a kind */
#define VERSION_PK "~version"
#define VERSION_SK "n"

/* The pseudonyms of a subject: up to three (address, its SHA-256, user id), with their kinds. */
struct keys {
    char h[3][65];
    const char *kind[3];
    int n;
};

static int subject_keys(struct mdp_state *s, const char *email, const char *user_id, struct keys *k,
                        struct mdp_diag *d)
{
    memset(k, 0, sizeof *k);
    if (email && !*email) email = NULL;
    if (user_id && !*user_id) user_id = NULL;
    if (!email && !user_id)
        return mdp_diag_set(d, MDP_ERR_INVALID, "a suppressed subject needs an email or a user_id");
    unsigned char key[MDP_SUBJECT_KEY_LEN];
    int rc = mdp_subject_key(s, key, d);
    if (!rc && email) {
        char sha[65];
        rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_EMAIL, email, k->h[k->n], d);
        if (!rc) k->kind[k->n++] = "email";
        if (!rc && mdp_email_hash(email, sha))
            rc = mdp_diag_set(d, MDP_ERR_CRYPTO, "SHA-256 failed");
        if (!rc) rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_EMAIL_SHA256, sha, k->h[k->n], d);
        if (!rc) k->kind[k->n++] = "email_sha256";
    }
    if (!rc && user_id) {
        rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_USER_ID, user_id, k->h[k->n], d);
        if (!rc) k->kind[k->n++] = "user_id";
    }
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

int mdp_suppress_add(struct mdp_state *s, const char *email, const char *user_id,
                     const char *reason, int64_t now_ms, int *added_out, struct mdp_diag *d)
{
    if (added_out) *added_out = 0;
    struct keys k;
    int added = 0;
    int rc = subject_keys(s, email, user_id, &k, d);
    for (int i = 0; !rc && i < k.n; i++) {
        json_object *o = json_object_new_object();
        if (!o) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        json_object_object_add(o, "kind", json_object_new_string(k.kind[i]));
        json_object_object_add(o, "reason", json_object_new_string(reason ? reason : ""));
        json_object_object_add(o, "added_ms", json_object_new_int64(now_ms));
        struct mdp_state_item it = {k.h[i], k.kind[i],
                                    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), 0};
        rc = mdp_state_put(s, TABLE, &it, MDP_STATE_IF_ABSENT, d);
        json_object_put(o);
        if (rc == MDP_ERR_EXISTS)
            rc = 0; /* on the list already: the first entry (and its reason) stays */
        else if (!rc) {
            added++;
            if (added_out) (*added_out)++;
        }
    }
    /* long-running readers (the collector) reload when this moves */
    if (!rc && added) rc = mdp_state_add(s, TABLE, VERSION_PK, VERSION_SK, "n", 1, NULL, d);
    return rc;
}

int mdp_suppress_contains(struct mdp_state *s, const char *email, const char *user_id, int *found,
                          struct mdp_diag *d)
{
    *found = 0;
    struct keys k;
    int rc = subject_keys(s, email, user_id, &k, d);
    for (int i = 0; !rc && i < k.n && !*found; i++) {
        char *body = NULL;
        rc = mdp_state_get(s, TABLE, k.h[i], k.kind[i], &body, NULL, d);
        free(body);
        if (rc == 0) *found = 1;
        if (rc == MDP_ERR_NOT_FOUND) rc = 0;
    }
    return rc;
}

struct list_walk {
    int (*cb)(const struct mdp_suppress_entry *e, void *ud);
    void *ud;
};

static int list_one(const struct mdp_state_item *it, void *ud)
{
    struct list_walk *w = ud;
    if (strcmp(it->pk, VERSION_PK) == 0) return 0;
    json_object *o = json_tokener_parse(it->body), *v;
    const char *reason = "";
    int64_t added = 0;
    if (o && json_object_object_get_ex(o, "reason", &v) && json_object_is_type(v, json_type_string))
        reason = json_object_get_string(v);
    if (o && json_object_object_get_ex(o, "added_ms", &v)) added = json_object_get_int64(v);
    struct mdp_suppress_entry e = {it->pk, it->sk, reason ? reason : "", added};
    int rc = w->cb(&e, w->ud);
    json_object_put(o);
    return rc;
}

int mdp_suppress_list(struct mdp_state *s, int (*cb)(const struct mdp_suppress_entry *e, void *ud),
                      void *ud, struct mdp_diag *d)
{
    struct list_walk w = {cb, ud};
    return mdp_state_scan(s, TABLE, list_one, &w, d);
}

/* ---- matching ---- */

struct mdp_suppress_set {
    unsigned char key[MDP_SUBJECT_KEY_LEN];
    struct mdp_strset *h;
};

static int load_one(const struct mdp_state_item *it, void *ud)
{
    struct mdp_suppress_set *set = ud;
    if (strcmp(it->pk, VERSION_PK) == 0) return 0;
    if (strlen(it->pk) != 64) return MDP_ERR_PARSE;
    return mdp_strset_add(set->h, it->pk, 64) < 0 ? MDP_ERR_NOMEM : 0;
}

int mdp_suppress_load(struct mdp_state *s, struct mdp_suppress_set **out, struct mdp_diag *d)
{
    *out = NULL;
    struct mdp_suppress_set *set = calloc(1, sizeof *set);
    if (!set || !(set->h = mdp_strset_new())) {
        free(set);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory loading the suppression list");
    }
    int rc = mdp_state_scan(s, TABLE, load_one, set, d);
    if (rc == MDP_ERR_PARSE)
        rc = mdp_diag_set(d, rc, "state store table %s holds a row that is not a pseudonym", TABLE);
    else if (rc == MDP_ERR_NOMEM)
        rc = mdp_diag_set(d, rc, "out of memory loading the suppression list");
    if (!rc && mdp_strset_count(set->h) > 0) rc = mdp_subject_key(s, set->key, d);
    if (rc || mdp_strset_count(set->h) == 0) {
        mdp_suppress_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

void mdp_suppress_set_free(struct mdp_suppress_set *set)
{
    if (!set) return;
    mdp_strset_free(set->h);
    OPENSSL_cleanse(set->key, sizeof set->key);
    free(set);
}

size_t mdp_suppress_set_count(const struct mdp_suppress_set *set)
{
    return set ? mdp_strset_count(set->h) : 0;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int is_alnum(char c)
{
    return is_hex(c) || (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z');
}
static int is_local(char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
static int is_domain(char c)
{
    return is_alnum(c) || c == '.' || c == '-';
}

static int hit(const struct mdp_suppress_set *set, enum mdp_pseudonym_kind kind, const char *p,
               size_t n)
{
    char v[300], h[65];
    if (n == 0 || n >= sizeof v) return 0;
    memcpy(v, p, n);
    v[n] = '\0';
    if (mdp_subject_pseudonym(set->key, kind, v, h, NULL)) return 0;
    return mdp_strset_has(set->h, h, 64);
}

/* a UUID's text at p (36 characters, 8-4-4-4-12 hex) */
static int uuid_at(const char *p, size_t left)
{
    if (left < 36) return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? p[i] != '-' : !is_hex(p[i])) return 0;
    }
    return 1;
}

int mdp_suppress_match(const struct mdp_suppress_set *set, const char *p, size_t n)
{
    if (!set) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        int boundary = i == 0 || !is_alnum(p[i - 1]);
        if (c == '@') { /* an address: the longest local part before, the domain after */
            size_t a = i, b = i + 1;
            while (a > 0 && is_local(p[a - 1]))
                a--;
            while (b < n && is_domain(p[b]))
                b++;
            while (b > i + 1 && p[b - 1] == '.')
                b--;
            if (a < i && b > i + 1 && hit(set, MDP_PSEUDONYM_EMAIL, p + a, b - a)) return 1;
        } else if (boundary && is_hex(c)) {
            if (uuid_at(p + i, n - i) && (n - i == 36 || !is_alnum(p[i + 36])) &&
                hit(set, MDP_PSEUDONYM_USER_ID, p + i, 36))
                return 1;
            size_t k = i;
            while (k < n && is_hex(p[k]))
                k++;
            if (k - i == 64 && (k == n || !is_alnum(p[k])) &&
                hit(set, MDP_PSEUDONYM_EMAIL_SHA256, p + i, 64))
                return 1;
        }
    }
    return 0;
}

/* ---- the live list ---- */

struct mdp_suppress_live {
    pthread_rwlock_t mu; /* guards set */
    struct mdp_suppress_set *set;
    int64_t version; /* -1: nothing loaded */
};

int mdp_suppress_live_new(struct mdp_suppress_live **out, struct mdp_diag *d)
{
    struct mdp_suppress_live *l = calloc(1, sizeof *l);
    if (!l) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    pthread_rwlock_init(&l->mu, NULL);
    l->version = -1;
    *out = l;
    return 0;
}

void mdp_suppress_live_free(struct mdp_suppress_live *l)
{
    if (!l) return;
    mdp_suppress_set_free(l->set);
    pthread_rwlock_destroy(&l->mu);
    free(l);
}

int mdp_suppress_live_refresh(struct mdp_suppress_live *l, struct mdp_state *s, int *out_reloaded,
                              struct mdp_diag *d)
{
    if (out_reloaded) *out_reloaded = 0;
    char *body = NULL;
    int64_t version = 0;
    int rc = mdp_state_get(s, TABLE, VERSION_PK, VERSION_SK, &body, NULL, d);
    if (rc == 0) {
        json_object *o = json_tokener_parse(body), *v;
        if (o && json_object_object_get_ex(o, "n", &v)) version = json_object_get_int64(v);
        json_object_put(o);
    } else if (rc == MDP_ERR_NOT_FOUND) {
        rc = 0; /* a list never added to since versions exist: version 0 */
    }
    free(body);
    if (rc || version == l->version) return rc;
    struct mdp_suppress_set *set = NULL, *old;
    rc = mdp_suppress_load(s, &set, d);
    if (rc) return rc;
    pthread_rwlock_wrlock(&l->mu);
    old = l->set;
    l->set = set;
    l->version = version;
    pthread_rwlock_unlock(&l->mu);
    mdp_suppress_set_free(old);
    if (out_reloaded) *out_reloaded = 1;
    return 0;
}

int mdp_suppress_live_match(struct mdp_suppress_live *l, const char *p, size_t n)
{
    if (!l) return 0;
    pthread_rwlock_rdlock(&l->mu);
    int hit = mdp_suppress_match(l->set, p, n);
    pthread_rwlock_unlock(&l->mu);
    return hit;
}

size_t mdp_suppress_live_count(struct mdp_suppress_live *l)
{
    if (!l) return 0;
    pthread_rwlock_rdlock(&l->mu);
    size_t n = mdp_suppress_set_count(l->set);
    pthread_rwlock_unlock(&l->mu);
    return n;
}
