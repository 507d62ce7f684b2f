/* The backfill of the state store's per-subject index (`mdp dsar reindex`, docs/privacy.md §8):
 * state files written before the index existed hold items that belong to a person but carry no
 * subject, so that erasure and export, which find a person's items through the index only, miss
 * them. This walks the state tables whose items name their owner in their own key or body and
 * gives each the subject its writer gives it today: the consent journal's contact rows
 * (consent.c's "consent_contact": the key is the pseudonym itself) and the DOI tokens (doi.c's
 * "vc_tokens", sort key "token": the pseudonym of the address in the body). Items that cannot
 * name their owner (feedback marks, replay marks, counters) are left alone. */
#include "mdp/alloc.h"
#include "mdp/dsar.h"
#include "mdp/pseudonym.h"
#include "mdp/state.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

struct owned {
    char *pk, *sk;
    char subject[65]; /* "" when it cannot be computed (a dry run on a lake without a key) */
};

struct walk {
    const char *table;
    const unsigned char *key; /* NULL: no subject key yet */
    struct owned *v;
    size_t n, cap;
    int64_t unreadable;
    struct mdp_diag *d;
};

static int is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return 0;
    return n == 64;
}

/* the owner of one item, by the rules of the table's writer; 1 owned, 0 not a person's item */
static int owner_of(struct walk *w, const struct mdp_state_item *it, char subject[65])
{
    subject[0] = '\0';
    if (strcmp(w->table, MDP_DSAR_REINDEX_CONTACT) == 0) {
        if (!is_hex64(it->pk)) return w->unreadable++, 0;
        memcpy(subject, it->pk, 65);
        return 1;
    }
    if (strcmp(it->sk, "token") != 0) return 0; /* a confirmation: not indexed by its writer */
    json_object *o = json_tokener_parse(it->body), *v;
    const char *email = o && json_object_object_get_ex(o, "email_lower", &v) &&
                                json_object_is_type(v, json_type_string)
                            ? json_object_get_string(v)
                            : NULL;
    struct mdp_diag nd = {0};
    int ok = email != NULL;
    if (ok && w->key) ok = !mdp_subject_pseudonym(w->key, MDP_PSEUDONYM_EMAIL, email, subject, &nd);
    json_object_put(o);
    if (!ok) w->unreadable++;
    return ok;
}

static int collect(const struct mdp_state_item *it, void *ud)
{
    struct walk *w = ud;
    char subject[65];
    if (!owner_of(w, it, subject)) return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        struct owned *nv = mdp_realloc(w->v, cap * sizeof *nv);
        if (!nv) return mdp_diag_set(w->d, MDP_ERR_NOMEM, "out of memory");
        w->v = nv;
        w->cap = cap;
    }
    struct owned *o = &w->v[w->n];
    o->pk = mdp_strdup(it->pk);
    o->sk = mdp_strdup(it->sk);
    memcpy(o->subject, subject, sizeof subject);
    if (!o->pk || !o->sk) {
        free(o->pk);
        free(o->sk);
        return mdp_diag_set(w->d, MDP_ERR_NOMEM, "out of memory");
    }
    w->n++;
    return 0;
}

struct find {
    const char *table, *pk, *sk;
};

static int find_one(const char *table, const struct mdp_state_item *it, void *ud)
{
    const struct find *f = ud;
    return strcmp(table, f->table) == 0 && strcmp(it->pk, f->pk) == 0 && strcmp(it->sk, f->sk) == 0;
}

int mdp_dsar_reindex(struct mdp_state *st, int dry_run, struct mdp_dsar_reindex *out,
                     struct mdp_diag *d)
{
    static const char *const tables[] = {MDP_DSAR_REINDEX_CONTACT, MDP_DSAR_REINDEX_TOKENS};
    memset(out, 0, sizeof *out);
    unsigned char key[MDP_SUBJECT_KEY_LEN];
    int found = 1;
    /* a dry run does not make the key: without one, nothing was pseudonymized yet */
    int rc = dry_run ? mdp_subject_key_find(st, key, &found, d) : mdp_subject_key(st, key, d);
    for (size_t t = 0; !rc && t < sizeof tables / sizeof *tables; t++) {
        struct walk w = {tables[t], found ? key : NULL, NULL, 0, 0, 0, d};
        struct mdp_dsar_reindex_table *r = &out->t[out->n++];
        r->table = tables[t];
        rc = mdp_state_scan(st, tables[t], collect, &w, d);
        for (size_t i = 0; !rc && i < w.n; i++) {
            struct owned *o = &w.v[i];
            int changed = 1;
            if (!dry_run) {
                rc = mdp_state_set_subject(st, tables[t], o->pk, o->sk, o->subject, &changed, d);
                if (rc == MDP_ERR_NOT_FOUND) { /* deleted since the scan (an erasure): nothing */
                    memset(d, 0, sizeof *d);
                    rc = 0;
                    continue;
                }
            } else if (o->subject[0]) {
                struct find f = {tables[t], o->pk, o->sk};
                int r2 = mdp_state_query_subject(st, o->subject, find_one, &f, d);
                if (r2 < 0) rc = r2;
                changed = r2 != 1;
            }
            r->items++;
            if (changed)
                r->set++;
            else
                r->already++;
        }
        r->unreadable = w.unreadable;
        out->unreadable += w.unreadable;
        out->set += r->set;
        for (size_t i = 0; i < w.n; i++) {
            free(w.v[i].pk);
            free(w.v[i].sk);
        }
        free(w.v);
    }
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}
