/* Erasure (include/mdp/erase.h, docs/privacy.md §6): the plan, its idempotent steps, the
 * certificate and the erasure log. Where the person is comes from the subject locator
 * (include/mdp/subject.h) over the data inventory; the places the locator does not read (the
 * landing folder, the quarantines, superseded Parquet files, leftovers of unfinished writes) are
 * found here by their bytes. The survivor scan (mdp_erase_scan) shares nothing with the deletion
 * path: it walks the folder on disk (an S3 lake's local cache) and looks at bytes and rows, and on
 * AWS also at every version of every object and every DynamoDB state item. On a versioned bucket
 * each object the erasure deletes or overwrites loses its old versions too (docs/privacy.md §7). */
#define _GNU_SOURCE /* nftw with FTW_ACTIONRETVAL, memmem */
#include "mdp/erase.h"
#include "mdp/alloc.h"
#include "mdp/bandit.h"
#include "mdp/config.h"
#include "mdp/consent.h"
#include "mdp/engine.h"
#include "mdp/hash.h"
#include "mdp/ingest.h"
#include "mdp/inventory.h"
#include "mdp/lake.h"
#include "mdp/ml.h"
#include "mdp/pseudonym.h"
#include "mdp/retention.h"
#include "mdp/rewrite.h"
#include "mdp/snapshot.h"
#include "mdp/state.h"
#include "mdp/subject.h"
#include "mdp/suppress.h"
#include "mdp/time.h"
#include "mdp/uuid.h"
#include "mdp/net.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PENDING  "_meta/erasure/pending/"
#define LOG      "_meta/erasure/log/"
#define RAW_SEEN "_meta/state/curate/raw_seen"
static const char HASH_TAG[] = ",\"hash\":\"";

/* ---- the key ---- */

int mdp_erase_key_load(struct mdp_lake *lake, const char *env_name, int create,
                       struct mdp_erase_key *k, struct mdp_diag *d)
{
    memset(k, 0, sizeof *k);
    const char *v = env_name ? getenv(env_name) : NULL;
    if (v && *v) {
        k->len = strlen(v) < MDP_ERASE_KEY_MAX ? strlen(v) : MDP_ERASE_KEY_MAX;
        memcpy(k->key, v, k->len);
        snprintf(k->source, sizeof k->source, "env:%s", env_name);
        return 0;
    }
    struct mdp_state *st = NULL;
    int rc = mdp_state_open_lake(lake, &st, d);
    char *body = NULL;
    int64_t exp = 0;
    if (!rc) rc = mdp_state_get(st, "erasure", "hmac_key", "k", &body, &exp, d);
    if (rc == MDP_ERR_NOT_FOUND && !create) {
        mdp_state_close(st);
        return rc;
    }
    if (rc == MDP_ERR_NOT_FOUND) {
        unsigned char raw[32];
        char hex[65], item[96];
        if (RAND_bytes(raw, sizeof raw) != 1) {
            rc = mdp_diag_set(d, MDP_ERR_CRYPTO, "no random bytes for the erasure key");
        } else {
            mdp_hex_encode(raw, sizeof raw, hex);
            snprintf(item, sizeof item, "{\"key\":\"%s\"}", hex);
            struct mdp_state_item it = {"hmac_key", "k", item, 0};
            rc = mdp_state_put(st, "erasure", &it, MDP_STATE_IF_ABSENT, d);
            if (rc == MDP_ERR_EXISTS) rc = 0; /* another process made it first */
            if (!rc) rc = mdp_state_get(st, "erasure", "hmac_key", "k", &body, &exp, d);
        }
    }
    if (!rc) {
        json_object *o = json_tokener_parse(body ? body : "");
        json_object *jk;
        if (o && json_object_object_get_ex(o, "key", &jk) && json_object_get_string_len(jk) == 64) {
            memcpy(k->key, json_object_get_string(jk), 64);
            k->len = 64;
            snprintf(k->source, sizeof k->source, "state:erasure/hmac_key");
        } else {
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "state store: erasure/hmac_key is not a key");
        }
        json_object_put(o);
    }
    free(body);
    mdp_state_close(st);
    return rc;
}

static void keyed(const struct mdp_erase_key *k, const char *what, const char *v, char out[65])
{
    char buf[600];
    snprintf(buf, sizeof buf, "%s:%s", what, v);
    mdp_hmac_sha256_hex(k->key, k->len, buf, strlen(buf), out);
}

/* ---- needles: the person's keys, lower-cased, matched in bytes ---- */

struct needles {
    char **v;
    size_t n;
};

static int needle_add(struct needles *nd, const char *s)
{
    if (!s || strlen(s) < 6) return 0; /* too short to be told apart from other bytes */
    char **nv = mdp_realloc(nd->v, (nd->n + 1) * sizeof *nv);
    if (!nv) return MDP_ERR_NOMEM;
    nd->v = nv;
    if (!(nd->v[nd->n] = mdp_strdup(s))) return MDP_ERR_NOMEM;
    for (char *p = nd->v[nd->n]; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    nd->n++;
    return 0;
}

static void needles_free(struct needles *nd)
{
    for (size_t i = 0; i < nd->n; i++)
        free(nd->v[i]);
    free(nd->v);
    nd->v = NULL;
    nd->n = 0;
}

/* 1 when the n bytes at p hold one of the needles, ASCII case-insensitively. Large inputs are
 * lower-cased in chunks (overlapping by the longest needle) and searched with memmem. */
static int holds_slow(const struct needles *nd, const char *p, size_t n);

static int holds(const struct needles *nd, const char *p, size_t n)
{
    enum { CHUNK = 1 << 20 };
    if (n <= 4096) return holds_slow(nd, p, n);
    size_t longest = 0;
    for (size_t k = 0; k < nd->n; k++)
        if (strlen(nd->v[k]) > longest) longest = strlen(nd->v[k]);
    char *low = mdp_malloc(CHUNK + longest);
    if (!low) return holds_slow(nd, p, n);
    int hit = 0;
    for (size_t off = 0; off < n && !hit; off += CHUNK) {
        size_t len = n - off < CHUNK + longest ? n - off : CHUNK + longest;
        for (size_t i = 0; i < len; i++)
            low[i] = (char)tolower((unsigned char)p[off + i]);
        for (size_t k = 0; k < nd->n && !hit; k++)
            hit = memmem(low, len, nd->v[k], strlen(nd->v[k])) != NULL;
    }
    free(low);
    return hit;
}

static int holds_slow(const struct needles *nd, const char *p, size_t n)
{
    for (size_t k = 0; k < nd->n; k++) {
        size_t m = strlen(nd->v[k]);
        if (m == 0 || m > n) continue;
        const char *c = nd->v[k];
        for (size_t i = 0; i + m <= n; i++) {
            if (tolower((unsigned char)p[i]) != c[0]) continue;
            size_t j = 1;
            while (j < m && tolower((unsigned char)p[i + j]) == c[j])
                j++;
            if (j == m) return 1;
        }
    }
    return 0;
}

static int bytes_hold(const struct needles *nd, const uint8_t *uid, const char *p, size_t n);

static const char B64_MARK[] = "\"payload_encoding\"";

/* 1 when a quarantine record of the n bytes at p (lines of JSON) carries a base64 payload (a
 * delivery that is no UTF-8: a gzip'd one, a damaged one) whose decoded bytes hold the person;
 * -1 when out of memory. */
static int payloads_hold(const struct needles *nd, const uint8_t *uid, const char *p, size_t n)
{
    const char *end = p + n, *m;
    int hit = 0;
    for (const char *at = p;
         !hit && (m = memmem(at, (size_t)(end - at), B64_MARK, sizeof B64_MARK - 1));) {
        const char *ls = m, *le = memchr(m, '\n', (size_t)(end - m));
        while (ls > p && ls[-1] != '\n')
            ls--;
        if (!le) le = end;
        at = le;
        json_tokener *tok = json_tokener_new();
        json_object *o = tok && le - ls < INT32_MAX ? json_tokener_parse_ex(tok, ls, (int)(le - ls))
                                                    : NULL,
                    *v;
        if (tok)
            json_tokener_free(tok);
        else
            hit = -1;
        json_object *enc;
        if (o && json_object_object_get_ex(o, "payload_encoding", &enc) &&
            json_object_is_type(enc, json_type_string) &&
            strcmp(json_object_get_string(enc), "base64") == 0 &&
            json_object_object_get_ex(o, "payload", &v) &&
            json_object_is_type(v, json_type_string)) {
            size_t bl = (size_t)json_object_get_string_len(v);
            unsigned char *raw = mdp_malloc(bl / 4 * 3 + 4);
            int rn = raw && bl < INT32_MAX
                         ? EVP_DecodeBlock(raw, (const unsigned char *)json_object_get_string(v),
                                           (int)bl)
                         : -1;
            if (!raw) hit = -1;
            if (rn > 0) { /* EVP_DecodeBlock counts the padding as bytes */
                const char *b64 = json_object_get_string(v);
                rn -= (bl > 0 && b64[bl - 1] == '=') + (bl > 1 && b64[bl - 2] == '=');
                hit = bytes_hold(nd, uid, (const char *)raw, (size_t)rn);
            }
            free(raw);
        }
        json_object_put(o);
    }
    return hit;
}

/* 1 when the n bytes at p hold a needle or the user id's 16 bytes (uid, may be NULL). Bytes that
 * hide text are looked into as well: a gzip'd object (a Firehose delivery kept as received) as
 * far as it inflates, and the base64 payloads of quarantine records. -1 when out of memory. */
static int bytes_hold(const struct needles *nd, const uint8_t *uid, const char *p, size_t n)
{
    if (holds(nd, p, n) || (uid && n >= 16 && memmem(p, n, uid, 16))) return 1;
    if (mdp_gzip_magic(p, n)) {
        struct mdp_buf z;
        mdp_buf_init(&z);
        int hit = mdp_buf_gunzip(&z, p, n) == MDP_ERR_NOMEM ? -1
                  : z.len                                   ? bytes_hold(nd, uid, z.data, z.len)
                                                            : 0;
        mdp_buf_cleanup(&z);
        return hit;
    }
    return memmem(p, n, B64_MARK, sizeof B64_MARK - 1) ? payloads_hold(nd, uid, p, n) : 0;
}

/* A record the rewrite drops: one that holds the person, in its text or its encoded payload. */
static int match_record(const char *rec, size_t n, void *ud)
{
    return bytes_hold(ud, NULL, rec, n) != 0;
}

/* ---- the job ---- */

struct job {
    const struct mdp_inventory *inv;
    struct mdp_lake *lake;
    struct mdp_engine *e;
    const struct mdp_erase_opts *o;
    json_object *plan; /* owned */
    char id[33];
    char pending_key[128];
    struct needles all;    /* user_id, addresses, their SHA-256 */
    struct needles narrow; /* all + external ids (raw datasets keyed by a person's ids) */
    struct needles wide;   /* all + account ids + external ids (datasets keyed by them) */
    struct mdp_diag *d;
    int64_t versions_purged; /* old object versions deleted (versioned S3 buckets) */
};

static json_object *jarr(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v)) {
        v = json_object_new_array();
        json_object_object_add(o, k, v);
    }
    return v;
}

/* member k of o when it is a string, else NULL (a stored plan's shape is checked on load:
 * plan_check) */
static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* element i of array a as a string; "" for a missing or non-string one (a plan is the job's own
 * document, but one edited by hand must fail a step, not crash it) */
static const char *jat(json_object *a, size_t i)
{
    json_object *v = json_object_array_get_idx(a, i);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static int64_t jint(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static void crash_point(const struct job *j, const char *step)
{
#ifdef MDP_FAULT_INJECTION
    if (j->o->crash_after && strcmp(j->o->crash_after, step) == 0) raise(SIGKILL);
#else
    (void)j;
    (void)step;
#endif
}

/* An object that held the person was deleted or overwritten: a versioned bucket still keeps what
 * it was (and a delete marker whose key may name the person), and the local cache (S3) a stale
 * copy; both go (docs/privacy.md §7). No-ops on a file lake. */
static int forget(struct job *j, const char *key)
{
    int64_t n = 0;
    int rc = mdp_store_purge_versions(j->lake->store, key, &n, j->d);
    if (!rc) j->versions_purged += n;
    if (!rc) rc = mdp_store_evict(j->lake->store, key, 0, j->d);
    return rc;
}

/* Deletes key and forgets it; absent is fine (done before a crash). */
static int delete_forget(struct job *j, const char *key)
{
    int rc = mdp_store_delete(j->lake->store, key, j->d);
    if (rc == MDP_ERR_NOT_FOUND) rc = 0;
    return rc ? rc : forget(j, key);
}

/* Needles from the subject lists of the plan. */
static int needles_from_plan(struct job *j)
{
    json_object *s, *v;
    if (!json_object_object_get_ex(j->plan, "subject", &s))
        return mdp_diag_set(j->d, MDP_ERR_PARSE, "%s: no subject", j->pending_key);
    int rc = needle_add(&j->all, jstr(s, "user_id"));
    rc = rc ? rc : needle_add(&j->wide, jstr(s, "user_id"));
    static const char *const NARROW[] = {"emails", "email_sha", NULL};
    static const char *const WIDE[] = {"account_ids", "external_ids", NULL};
    for (int k = 0; !rc && NARROW[k]; k++)
        if (json_object_object_get_ex(s, NARROW[k], &v))
            for (size_t i = 0; !rc && i < json_object_array_length(v); i++) {
                const char *x = jat(v, i);
                rc = needle_add(&j->all, x);
                if (!rc) rc = needle_add(&j->wide, x);
            }
    for (int k = 0; !rc && WIDE[k]; k++)
        if (json_object_object_get_ex(s, WIDE[k], &v))
            for (size_t i = 0; !rc && i < json_object_array_length(v); i++)
                rc = needle_add(&j->wide, jat(v, i));
    for (size_t i = 0; !rc && i < j->all.n; i++)
        rc = needle_add(&j->narrow, j->all.v[i]);
    if (!rc && json_object_object_get_ex(s, "external_ids", &v))
        for (size_t i = 0; !rc && i < json_object_array_length(v); i++)
            rc = needle_add(&j->narrow, jat(v, i));
    return rc ? mdp_diag_set(j->d, rc, "out of memory") : 0;
}

static json_object *str_list(const struct mdp_subject_keys *k)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < k->n; i++)
        json_object_array_add(a, json_object_new_string(k->v[i]));
    return a;
}

static int ds_has_kind(const struct mdp_inv_dataset *ds, enum mdp_subject_kind k)
{
    for (size_t i = 0; i < ds->nsubject_keys; i++)
        if (ds->subject_keys[i].kind == k) return 1;
    return 0;
}

/* The locator's hits, sorted into the plan's lists. */
struct plan_ud {
    struct job *j;
};

/* The bytes of key into data (reset first), a gzip'd object inflated (as far as it inflates): the
 * person's records are found and cut in its text, and a rewrite writes that text back
 * uncompressed, as ingest lands a delivery it dropped records from. *sha (may be NULL) gets the
 * SHA-256 of the bytes as stored. Returns 0 or mdp_store_get's errors, MDP_ERR_NOMEM, with d. */
static int get_plain(struct job *j, const char *key, struct mdp_buf *data, char sha[65])
{
    int rc = mdp_store_get(j->lake->store, key, data, j->d);
    if (rc) return rc;
    if (sha) mdp_sha256_hex(data->data ? data->data : "", data->len, sha);
    if (!mdp_gzip_magic(data->data, data->len)) return 0;
    struct mdp_buf z;
    mdp_buf_init(&z);
    if (mdp_buf_gunzip(&z, data->data, data->len) == MDP_ERR_NOMEM) {
        mdp_buf_cleanup(&z);
        return mdp_diag_set(j->d, MDP_ERR_NOMEM, "out of memory inflating %s", key);
    }
    mdp_buf_cleanup(data);
    *data = z;
    return 0;
}

static int on_hit(const struct mdp_subject_hit *h, void *ud)
{
    struct job *j = ((struct plan_ud *)ud)->j;
    const struct mdp_inv_dataset *ds = h->dataset;
    json_object *x = json_object_new_object();
    json_object_object_add(x, "dataset", json_object_new_string(ds->name));
    json_object_object_add(x, "key", json_object_new_string(h->location));
    json_object_object_add(x, "rows", json_object_new_int64(h->rows));
    const char *list = NULL;
    switch (ds->store) {
    case MDP_INV_SUPABASE:
        list = "supabase";
        break;
    case MDP_INV_RAW:
        json_object_put(x);
        return 0; /* found by bytes (plan_raw) */
    case MDP_INV_CURATED:
    case MDP_INV_ML:
        list = "parquet";
        json_object_object_add(x, "table", json_object_new_string(ds->location));
        break;
    case MDP_INV_SERVING:
        list = "snapshot";
        break;
    case MDP_INV_STATE:
        /* a dataset kept by legal obligation (the consent journal) is not erased: its records
         * prove consent; the person's clear address is what leaves (docs/privacy.md §6) */
        list = strcmp(ds->legal_basis, "legal_obligation") == 0 ? "kept" : "state";
        json_object_object_add(x, "pk", json_object_new_string(h->pk ? h->pk : ""));
        json_object_object_add(x, "sk", json_object_new_string(h->sk ? h->sk : ""));
        break;
    default:
        list = "kept";
        break;
    }
    json_object_array_add(jarr(j->plan, list), x);
    return 0;
}

/* Objects under prefix whose bytes (or key) hold the person: rewritten in place (landing,
 * quarantine) or into new content-addressed objects (raw: list "raw", dataset ds). */
struct byte_scan {
    struct job *j;
    const char *list;
    const struct mdp_inv_dataset *ds;
    int rc;
};

static int on_object(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct byte_scan *b = ud;
    struct mdp_buf data;
    mdp_buf_init(&data);
    int rc = get_plain(b->j, key, &data, NULL);
    if (rc) {
        mdp_buf_cleanup(&data);
        return b->rc = rc;
    }
    /* raw datasets keyed by account only (the app's accounts, locations) are matched by the
     * person's own accounts too; the others by the person's ids, addresses and external ids */
    int wide = !b->ds ||
               (ds_has_kind(b->ds, MDP_SUBJ_ACCOUNT_ID) && !ds_has_kind(b->ds, MDP_SUBJ_USER_ID) &&
                !ds_has_kind(b->ds, MDP_SUBJ_EMAIL) && !ds_has_kind(b->ds, MDP_SUBJ_EMAIL_LOWER));
    const struct needles *nd = wide ? &b->j->wide : &b->j->narrow;
    if (holds(nd, key, strlen(key)) || (data.data && bytes_hold(nd, NULL, data.data, data.len))) {
        json_object *x = json_object_new_object();
        if (b->ds) json_object_object_add(x, "dataset", json_object_new_string(b->ds->name));
        json_object_object_add(x, "key", json_object_new_string(key));
        if (b->ds) json_object_object_add(x, "wide", json_object_new_boolean(wide));
        json_object_array_add(jarr(b->j->plan, b->list), x);
    }
    mdp_buf_cleanup(&data);
    return 0;
}

struct files {
    char **v;
    size_t n;
};

static void files_free(struct files *f)
{
    mdp_store_keys_free(f->v, f->n);
}

/* A SQL condition: the row (as text) holds one of the needles. */
static int row_holds_sql(const struct needles *nd, const char *alias, struct mdp_buf *out)
{
    mdp_buf_puts(out, "(");
    for (size_t i = 0; i < nd->n; i++) {
        mdp_buf_printf(out, "%scontains(lower(CAST(%s AS VARCHAR)), ", i ? " OR " : "", alias);
        mdp_sql_quote(out, nd->v[i]);
        mdp_buf_puts(out, ")");
    }
    if (!nd->n) mdp_buf_puts(out, "false");
    mdp_buf_puts(out, ")");
    return mdp_buf_error(out);
}

/* *rows: the rows of the Parquet file key (bytes: its size, -1 when unknown) holding a needle */
static int parquet_holds(struct job *j, const struct needles *nd, const char *key, int64_t bytes,
                         int64_t *rows)
{
    struct mdp_buf path, sql, n;
    mdp_buf_init(&path);
    mdp_buf_init(&sql);
    mdp_buf_init(&n);
    int rc = mdp_store_stage_object(j->lake->store, key, bytes, j->d); /* S3: into the cache */
    if (!rc) rc = mdp_store_local_path(j->lake->store, key, &path);
    mdp_buf_puts(&sql, "SELECT count(*) FROM read_parquet(");
    mdp_sql_quote(&sql, path.data ? path.data : "");
    mdp_buf_puts(&sql, ", hive_partitioning = false) t WHERE ");
    row_holds_sql(nd, "t", &sql);
    if (!rc && mdp_buf_error(&sql)) rc = mdp_diag_set(j->d, MDP_ERR_NOMEM, "out of memory");
    if (!rc) rc = mdp_engine_scalar(j->e, sql.data, &n, j->d);
    if (!rc) *rows = strtoll(n.data ? n.data : "0", NULL, 10);
    mdp_buf_cleanup(&path);
    mdp_buf_cleanup(&sql);
    mdp_buf_cleanup(&n);
    return rc;
}

/* The Parquet files under a prefix with their sizes (so that staging one needs no LIST). */
struct sized_file {
    char *key;
    int64_t bytes;
};
struct sized_files {
    struct sized_file *v;
    size_t n, cap;
};

static int sized_any(const char *key, int64_t size, void *ud)
{
    struct sized_files *f = ud;
    if (mdp_grow(&f->v, &f->cap, f->n + 1, sizeof *f->v, 16) || !(f->v[f->n].key = mdp_strdup(key)))
        return MDP_ERR_NOMEM;
    f->v[f->n++].bytes = size;
    return 0;
}

static int sized_parquet(const char *key, int64_t size, void *ud)
{
    size_t kl = strlen(key);
    return kl < 8 || strcmp(key + kl - 8, ".parquet") != 0 ? 0 : sized_any(key, size, ud);
}

static int parse_uuid16(const char *s, uint8_t out[16]);

/* Rows of a superseded serving snapshot file that hold the person: 1 when its bytes hold the
 * user id's 16 bytes (the snapshot's key) or one of the person's keys, else 0. */
static int snapshot_holds(struct job *j, const char *key, int64_t *rows)
{
    uint8_t uid[16];
    json_object *subj = json_object_object_get(j->plan, "subject");
    const char *u = jstr(subj, "user_id");
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_store_get(j->lake->store, key, &b, j->d);
    if (rc == MDP_ERR_NOT_FOUND) rc = 0; /* gone meanwhile */
    int hit = rc || !b.len
                  ? 0
                  : bytes_hold(&j->all, u && !parse_uuid16(u, uid) ? uid : NULL, b.data, b.len);
    if (hit < 0) rc = mdp_diag_set(j->d, MDP_ERR_NOMEM, "out of memory reading %s", key);
    *rows = hit > 0;
    mdp_buf_cleanup(&b);
    return rc;
}

/* Files of the published tables and of the serving snapshot that the current manifest does not
 * name (superseded versions, not yet vacuumed) and that hold the person: deleted with the
 * rest (list "superseded"). */
static int plan_superseded(struct job *j)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < j->inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &j->inv->datasets[i];
        int serving = ds->store == MDP_INV_SERVING;
        if ((ds->store != MDP_INV_CURATED && ds->store != MDP_INV_ML && !serving) ||
            !ds->nsubject_keys)
            continue;
        struct mdp_manifest m;
        memset(&m, 0, sizeof m);
        int r = mdp_lake_current(j->lake, ds->location, &m, j->d);
        if (r && r != MDP_ERR_NOT_FOUND) return r;
        struct sized_files f = {0};
        char prefix[600];
        snprintf(prefix, sizeof prefix, "%s/", ds->location);
        rc = mdp_store_list(j->lake->store, prefix, serving ? sized_any : sized_parquet, &f, j->d);
        if (rc == MDP_ERR_NOMEM) rc = mdp_diag_set(j->d, rc, "out of memory listing %s", prefix);
        for (size_t k = 0; !rc && k < f.n; k++) {
            int current = 0;
            for (size_t x = 0; x < m.nfiles && !current; x++)
                current = strcmp(m.files[x].key, f.v[k].key) == 0;
            if (current) continue;
            int64_t rows = 0;
            rc = serving ? snapshot_holds(j, f.v[k].key, &rows)
                         : parquet_holds(j, &j->all, f.v[k].key, f.v[k].bytes, &rows);
            if (!rc && rows > 0) {
                json_object *x = json_object_new_object();
                json_object_object_add(x, "key", json_object_new_string(f.v[k].key));
                json_object_object_add(x, "rows", json_object_new_int64(rows));
                json_object_array_add(jarr(j->plan, "superseded"), x);
            }
        }
        for (size_t k = 0; k < f.n; k++)
            free(f.v[k].key);
        free(f.v);
        mdp_manifest_cleanup(&m);
    }
    return rc;
}

/* The new key of a raw object without the person's records ("" when nothing is left), its
 * counts and hashes, into x. */
static int raw_outcome(struct job *j, json_object *x, const struct mdp_buf *data,
                       const char *old_sha, struct mdp_buf *out)
{
    const char *key = jstr(x, "key");
    json_object *jw;
    int wide = json_object_object_get_ex(x, "wide", &jw) && json_object_get_boolean(jw);
    int64_t dropped = 0, kept = 0;
    int rc = mdp_rewrite_records(key, data->data ? data->data : "", data->len, match_record,
                                 wide ? &j->wide : &j->narrow, out, &dropped, &kept, j->d);
    if (rc) return rc;
    char new_sha[65] = "";
    json_object_object_add(x, "old_sha256", json_object_new_string(old_sha));
    json_object_object_add(x, "records_removed", json_object_new_int64(dropped));
    json_object_object_add(x, "records_kept", json_object_new_int64(kept));
    struct mdp_buf nk;
    mdp_buf_init(&nk);
    if (kept > 0) {
        /* raw/<source>/<dataset>/dt=D/<hash>.<ext> */
        char src[128], dsn[128], day[16];
        const char *dot = strrchr(key, '.'), *slash = strrchr(key, '/');
        int64_t dd;
        if (sscanf(key, "raw/%127[^/]/%127[^/]/dt=%10[0-9-]/", src, dsn, day) != 3 ||
            mdp_date_parse(day, &dd))
            return mdp_diag_set(j->d, MDP_ERR_PARSE, "%s: not a raw object key", key);
        mdp_sha256_hex(out->data, out->len, new_sha);
        rc = mdp_lake_raw_key(src, dsn, dd, out->data, out->len,
                              dot && dot > slash ? dot + 1 : NULL, &nk, j->d);
        if (rc) {
            mdp_buf_cleanup(&nk);
            return rc;
        }
    }
    json_object_object_add(x, "new", json_object_new_string(nk.data ? nk.data : ""));
    json_object_object_add(x, "new_sha256", json_object_new_string(new_sha));
    mdp_buf_cleanup(&nk);
    return 0;
}

static int plan_raw_outcomes(struct job *j)
{
    json_object *raw;
    if (!json_object_object_get_ex(j->plan, "raw", &raw)) return 0;
    struct mdp_buf data, out;
    mdp_buf_init(&data);
    mdp_buf_init(&out);
    int rc = 0;
    for (size_t i = 0; !rc && i < json_object_array_length(raw); i++) {
        json_object *x = json_object_array_get_idx(raw, i);
        char sha[65];
        rc = get_plain(j, jstr(x, "key"), &data, sha);
        if (!rc) rc = raw_outcome(j, x, &data, sha, &out);
    }
    mdp_buf_cleanup(&data);
    mdp_buf_cleanup(&out);
    return rc;
}

static int new_uuid(char out[37])
{
    struct mdp_uuid u;
    int rc = mdp_uuid7_new(&u);
    if (!rc) mdp_uuid_format(&u, out);
    return rc;
}

/* Resolves, locates and writes down everything to touch. */
static int make_plan(struct job *j, struct mdp_subject_ctx *ctx, const struct mdp_subject *s)
{
    char run_id[37], now[40], h[65];
    if (new_uuid(run_id)) return mdp_diag_set(j->d, MDP_ERR_CRYPTO, "no run id");
    mdp_time_format_ms(mdp_time_now_ms(), now, sizeof now);
    j->plan = json_object_new_object();
    json_object_object_add(j->plan, "erasure", json_object_new_string(j->id));
    json_object_object_add(j->plan, "run_id", json_object_new_string(run_id));
    json_object_object_add(j->plan, "planned_at", json_object_new_string(now));
    json_object *subj = json_object_new_object();
    json_object_object_add(subj, "user_id", json_object_new_string(s->user_id));
    json_object_object_add(subj, "emails", str_list(&s->emails));
    json_object_object_add(subj, "email_sha", str_list(&s->email_sha));
    json_object_object_add(subj, "account_ids", str_list(&s->account_ids));
    json_object_object_add(subj, "external_ids", str_list(&s->external_ids));
    json_object_object_add(j->plan, "subject", subj);
    json_object *eh = json_object_new_array();
    for (size_t i = 0; i < s->emails.n; i++) {
        keyed(j->o->key, "email", s->emails.v[i], h);
        json_object_array_add(eh, json_object_new_string(h));
    }
    json_object_object_add(j->plan, "email_hmacs", eh);
    json_object_object_add(j->plan, "supabase_connected",
                           json_object_new_boolean(ctx->pg_conninfo != NULL));
    int rc = needles_from_plan(j);
    struct plan_ud pu = {j};
    if (!rc) rc = mdp_subject_locate(ctx, s, on_hit, &pu, NULL, j->d);
    for (size_t i = 0; !rc && i < j->inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &j->inv->datasets[i];
        if (ds->store != MDP_INV_RAW || !ds->nsubject_keys) continue;
        char prefix[600];
        snprintf(prefix, sizeof prefix, "%s/", ds->location);
        struct byte_scan b = {j, "raw", ds, 0};
        rc = mdp_store_list(j->lake->store, prefix, on_object, &b, j->d);
        if (b.rc) rc = b.rc;
    }
    static const char *const INPLACE[] = {"landing/", "raw/_quarantine/", "curated/_quarantine/",
                                          NULL};
    for (int k = 0; !rc && INPLACE[k]; k++) {
        struct byte_scan b = {j, "inplace", NULL, 0};
        rc = mdp_store_list(j->lake->store, INPLACE[k], on_object, &b, j->d);
        if (b.rc) rc = b.rc;
    }
    if (!rc) rc = plan_superseded(j);
    if (!rc) rc = plan_raw_outcomes(j);
    return rc;
}

/* ---- the steps ---- */

static int step_ledger(struct job *j)
{
    char marker[160];
    snprintf(marker, sizeof marker, PENDING "%s.ledger", j->id);
    int64_t size;
    if (json_object_object_get(j->plan, "ledger_seq") ||
        mdp_store_head(j->lake->store, marker, &size, NULL) == 0)
        return 0;
    json_object *raw;
    json_object *targets = json_object_new_array();
    int64_t objects = 0, rows = 0;
    if (json_object_object_get_ex(j->plan, "raw", &raw))
        for (size_t i = 0; i < json_object_array_length(raw); i++) {
            json_object *x = json_object_array_get_idx(raw, i), *t = json_object_new_object();
            json_object_object_add(t, "old", json_object_new_string(jstr(x, "key")));
            json_object_object_add(t, "new", json_object_new_string(jstr(x, "new")));
            json_object_object_add(t, "records", json_object_new_int64(jint(x, "records_removed")));
            json_object_array_add(targets, t);
            objects++;
            rows += jint(x, "records_removed");
        }
    struct mdp_buf f;
    mdp_buf_init(&f);
    char subj[65];
    keyed(j->o->key, "user", jstr(json_object_object_get(j->plan, "subject"), "user_id"), subj);
    mdp_buf_printf(&f,
                   "\"erasure\":\"%s\",\"subject_hmac\":\"%s\",\"rule\":{\"deletion\":"
                   "\"erasure\",\"basis\":\"GDPR Art. 17\"},\"targets\":%s,\"objects\":%lld,"
                   "\"rows\":%lld",
                   j->id, subj, json_object_to_json_string_ext(targets, JSON_C_TO_STRING_PLAIN),
                   (long long)objects, (long long)rows);
    json_object_put(targets);
    int rc = mdp_buf_error(&f) ? mdp_diag_set(j->d, MDP_ERR_NOMEM, "out of memory") : 0;
    int64_t seq = 0;
    for (int tries = 0; !rc && tries < 5; tries++) {
        rc = mdp_ledger_append(j->lake, "erasure", f.data, &seq, NULL, j->d);
        if (rc != MDP_ERR_EXISTS) break;
        rc = 0;
    }
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)seq);
    if (!rc) rc = mdp_store_put(j->lake->store, marker, text, strlen(text), 0, j->d);
    if (!rc) json_object_object_add(j->plan, "ledger_seq", json_object_new_int64(seq));
    mdp_buf_cleanup(&f);
    return rc;
}

/* Supabase: one transaction; child tables first, user_profiles, then what hangs on accounts that
 * no other user has (locations, then the account). */
static int step_supabase(struct job *j, const char *conninfo)
{
    json_object *sb;
    if (!conninfo || !json_object_object_get_ex(j->plan, "supabase", &sb)) return 0;
    const char *uid = jstr(json_object_object_get(j->plan, "subject"), "user_id");
    PGconn *pg = mdp_net_pg_connect(conninfo);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        int rc = mdp_diag_set(j->d, MDP_ERR_IO, "cannot connect to Supabase: %s",
                              pg ? PQerrorMessage(pg) : "out of memory");
        PQfinish(pg);
        return rc;
    }
    int rc = 0;
    PGresult *r = PQexec(pg, "BEGIN");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) rc = MDP_ERR_IO;
    PQclear(r);
    /* the person's accounts that no other user belongs to */
    static const char *const ACC =
        "SELECT array_agg(a) FROM (SELECT DISTINCT account_id AS a FROM public.user_profiles "
        "WHERE user_id = $1::uuid AND account_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
        "public.user_profiles o WHERE o.account_id = user_profiles.account_id AND o.user_id <> "
        "$1::uuid)) x";
    char *accs = NULL;
    const char *p1[1] = {uid};
    if (!rc) {
        r = PQexecParams(pg, ACC, 1, NULL, p1, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = MDP_ERR_IO;
        else if (!PQgetisnull(r, 0, 0))
            accs = mdp_strdup(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    /* order: tables found by user_id other than user_profiles, user_profiles, then account-keyed
     * tables other than accounts, then accounts */
    for (int pass = 0; !rc && pass < 4; pass++) {
        for (size_t i = 0; !rc && i < j->inv->ndatasets; i++) {
            const struct mdp_inv_dataset *ds = &j->inv->datasets[i];
            if (ds->store != MDP_INV_SUPABASE) continue;
            int by_user = 0, by_acc = 0;
            for (size_t k = 0; k < ds->nsubject_keys; k++) {
                by_user |= ds->subject_keys[k].kind == MDP_SUBJ_USER_ID;
                by_acc |= ds->subject_keys[k].kind == MDP_SUBJ_ACCOUNT_ID;
            }
            int profiles = strcmp(ds->location, "public.user_profiles") == 0;
            int accounts = strcmp(ds->location, "public.accounts") == 0;
            int mine = pass == 0   ? by_user && !profiles
                       : pass == 1 ? profiles
                       : pass == 2 ? !by_user && by_acc && !accounts
                                   : accounts;
            if (!mine || (pass >= 2 && !accs)) continue;
            const char *dot = strchr(ds->location, '.');
            if (!dot || strchr(ds->location, '"')) {
                rc = mdp_diag_set(j->d, MDP_ERR_INVALID, "%s: not a schema.table", ds->location);
                break;
            }
            char sql[400];
            snprintf(sql, sizeof sql, "DELETE FROM \"%.*s\".\"%s\" WHERE %s",
                     (int)(dot - ds->location), ds->location, dot + 1,
                     pass < 2 ? "user_id = $1::uuid" : "account_id = ANY($1::uuid[])");
            const char *pv[1] = {pass < 2 ? uid : accs};
            r = PQexecParams(pg, sql, 1, NULL, pv, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                rc = mdp_diag_set(j->d, MDP_ERR_IO, "Supabase: deleting from %s: %s", ds->location,
                                  PQerrorMessage(pg));
            } else {
                json_object *x = json_object_new_object();
                json_object_object_add(x, "table", json_object_new_string(ds->location));
                json_object_object_add(x, "deleted",
                                       json_object_new_int64(strtoll(PQcmdTuples(r), NULL, 10)));
                json_object_array_add(jarr(j->plan, "supabase_deleted"), x);
            }
            PQclear(r);
        }
    }
    r = PQexec(pg, rc ? "ROLLBACK" : "COMMIT");
    if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = mdp_diag_set(j->d, MDP_ERR_IO, "Supabase: commit: %s", PQerrorMessage(pg));
    PQclear(r);
    if (rc == MDP_ERR_IO && !j->d->msg[0])
        mdp_diag_set(j->d, rc, "Supabase: %s", PQerrorMessage(pg));
    free(accs);
    PQfinish(pg);
    return rc;
}

/* Puts the subject (n addresses, the user id) on the suppression list under the erasure's id;
 * *added counts the new entries. A later ingest, replay, collector or decision-log flush drops
 * the person's records from then on. */
static int suppress_subject(struct mdp_state *st, const char *const *emails, size_t n,
                            const char *user_id, const char *id, int64_t *added, struct mdp_diag *d)
{
    int rc = 0, a = 0;
    *added = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        rc = mdp_suppress_add(st, emails[i], user_id, id, mdp_time_now_ms(), &a, d);
        *added += a;
    }
    if (!rc && !n) {
        rc = mdp_suppress_add(st, NULL, user_id, id, mdp_time_now_ms(), &a, d);
        *added += a;
    }
    return rc;
}

static int step_state(struct job *j, struct mdp_state *st)
{
    json_object *items;
    /* the consent journal keeps its records and its chain; the person's contact rows (the only
     * place that names them in clear) go. A journal written before pseudonymization is re-chained
     * once first (a no-op afterwards). */
    struct mdp_consent_migration mig;
    int rc = mdp_consent_migrate(j->lake, st, &mig, j->d);
    json_object *subj = json_object_object_get(j->plan, "subject"), *em;
    int64_t forgotten = jint(j->plan, "consent_contact_rows");
    struct mdp_consent_forgotten f;
    if (!rc) rc = mdp_consent_forget(st, NULL, jstr(subj, "user_id"), &f, j->d);
    if (!rc) forgotten += f.email_rows + f.user_rows;
    if (json_object_object_get_ex(subj, "emails", &em))
        for (size_t i = 0; !rc && i < json_object_array_length(em); i++) {
            rc = mdp_consent_forget(st, jat(em, i), NULL, &f, j->d);
            if (!rc) forgotten += f.email_rows + f.user_rows;
        }
    /* the suppression list (put first, before the plan: a rerun that resumes adds nothing) */
    int64_t suppressed = 0;
    if (!rc) {
        size_t n =
            json_object_object_get_ex(subj, "emails", &em) ? json_object_array_length(em) : 0;
        const char **v = mdp_calloc(n ? n : 1, sizeof *v);
        if (!v) rc = mdp_diag_set(j->d, MDP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; v && i < n; i++)
            v[i] = jat(em, i);
        if (v) rc = suppress_subject(st, v, n, jstr(subj, "user_id"), j->id, &suppressed, j->d);
        free(v);
    }
    if (!rc)
        json_object_object_add(
            j->plan, "suppressed_entries",
            json_object_new_int64(jint(j->plan, "suppressed_entries") + suppressed));
    if (!rc) {
        json_object_object_add(j->plan, "consent_contact_rows", json_object_new_int64(forgotten));
        json_object_object_add(j->plan, "consent_migrated", json_object_new_int64(mig.migrated));
    }
    if (json_object_object_get_ex(j->plan, "state", &items))
        for (size_t i = 0; !rc && i < json_object_array_length(items); i++) {
            json_object *x = json_object_array_get_idx(items, i);
            const char *ds = jstr(x, "dataset");
            const struct mdp_inv_dataset *d = mdp_inventory_find(j->inv, ds);
            if (!d) continue;
            rc = mdp_state_delete(st, d->location, jstr(x, "pk"), jstr(x, "sk"), j->d);
        }
    return rc;
}

/* ---- state items found through the per-subject index ---- */

struct owned {
    char **table, **pk, **sk;
    size_t n, cap;
};

static int owned_one(const char *table, const struct mdp_state_item *it, void *ud)
{
    struct owned *o = ud;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 16;
        char **t = mdp_realloc(o->table, cap * sizeof *t);
        if (t) o->table = t;
        char **p = t ? mdp_realloc(o->pk, cap * sizeof *p) : NULL;
        if (p) o->pk = p;
        char **k = p ? mdp_realloc(o->sk, cap * sizeof *k) : NULL;
        if (k) o->sk = k;
        if (!k) return MDP_ERR_NOMEM;
        o->cap = cap;
    }
    o->table[o->n] = mdp_strdup(table);
    o->pk[o->n] = mdp_strdup(it->pk);
    o->sk[o->n] = mdp_strdup(it->sk);
    o->n++;
    return o->table[o->n - 1] && o->pk[o->n - 1] && o->sk[o->n - 1] ? 0 : MDP_ERR_NOMEM;
}

static void owned_free(struct owned *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->table[i]);
        free(o->pk[i]);
        free(o->sk[i]);
    }
    free(o->table);
    free(o->pk);
    free(o->sk);
    memset(o, 0, sizeof *o);
}

/* adds n to the number at plan[obj][name] (a rerun adds what it did on top of the crashed run's) */
static void plan_count(struct job *j, const char *obj, const char *name, int64_t n)
{
    json_object *o;
    if (!json_object_object_get_ex(j->plan, obj, &o)) {
        o = json_object_new_object();
        json_object_object_add(j->plan, obj, o);
    }
    json_object_object_add(o, name, json_object_new_int64(jint(o, name) + n));
}

static int put_plan(struct job *j);

/* The bandit's counters without the person: mdp_bandit_forget subtracts their rewards (found
 * through the per-subject index), so the posteriors equal a replay without them. It runs before
 * the state step, which deletes the located items (the reward records among them) by key.
 * Idempotent: a rerun takes back what is left. */
static int step_bandit(struct job *j, struct mdp_state *st)
{
    json_object *subj = json_object_object_get(j->plan, "subject");
    const char *uid = jstr(subj, "user_id");
    if (!uid || !*uid) return 0;
    unsigned char key[MDP_SUBJECT_KEY_LEN];
    char p[65];
    struct mdp_bandit_forgotten f;
    int rc = mdp_subject_key(st, key, j->d);
    if (!rc) rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_USER_ID, uid, p, j->d);
    OPENSSL_cleanse(key, sizeof key);
    if (!rc) rc = mdp_bandit_forget(st, p, &f, j->d);
    if (!rc) {
        plan_count(j, "bandit", "rewards_removed", f.rewards);
        plan_count(j, "bandit", "successes_removed", f.successes);
        plan_count(j, "bandit", "failures_removed", f.failures);
        plan_count(j, "bandit", "arms_changed", f.arms);
        rc = put_plan(j); /* a rerun's certificate keeps what this run took back */
    }
    return rc;
}

/* Every state item that carries one of the person's pseudonyms (user id, each address, each
 * address's SHA-256), found through the state store's per-subject index and deleted: what the
 * locator's plan did not name (items written since the plan). Idempotent. */
static int step_state_indexed(struct job *j, struct mdp_state *st)
{
    json_object *subj = json_object_object_get(j->plan, "subject"), *em = NULL;
    unsigned char key[MDP_SUBJECT_KEY_LEN];
    char ps[64][65];
    int np = 0;
    int rc = mdp_subject_key(st, key, j->d);
    const char *uid = jstr(subj, "user_id");
    if (!rc && uid && *uid)
        rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_USER_ID, uid, ps[np++], j->d);
    if (json_object_object_get_ex(subj, "emails", &em))
        for (size_t i = 0; !rc && i < json_object_array_length(em) && np + 2 <= 64; i++) {
            const char *e = jat(em, i);
            char lower[300], sha[65];
            size_t k = 0;
            for (; e[k] && k + 1 < sizeof lower; k++)
                lower[k] = (char)tolower((unsigned char)e[k]);
            lower[k] = '\0';
            rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_EMAIL, e, ps[np++], j->d);
            if (!rc) rc = mdp_sha256_hex(lower, strlen(lower), sha) ? MDP_ERR_CRYPTO : 0;
            if (!rc)
                rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_EMAIL_SHA256, sha, ps[np++], j->d);
        }
    OPENSSL_cleanse(key, sizeof key);
    struct owned o = {0};
    for (int i = 0; !rc && i < np; i++)
        rc = mdp_state_query_subject(st, ps[i], owned_one, &o, j->d);
    if (rc == MDP_ERR_NOMEM) mdp_diag_set(j->d, rc, "out of memory listing the person's items");
    for (size_t i = 0; !rc && i < o.n; i++) {
        rc = mdp_state_delete(st, o.table[i], o.pk[i], o.sk[i], j->d);
        if (!rc) plan_count(j, "state_indexed", o.table[i], 1);
    }
    owned_free(&o);
    return rc;
}

/* 1 when an external id has the shape of a GA4 client id ("<digits>.<digits>"). */
static int ga4_client_id(const char *s)
{
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || !dot[1]) return 0;
    for (const char *p = s; *p; p++)
        if (p != dot && !isdigit((unsigned char)*p)) return 0;
    return 1;
}

/* GA4: a User Deletion API request per client id linked to the person, when the GA4 source is
 * configured (its service account's variable set); upsert is idempotent, so a rerun asks again
 * for what has no answer recorded. */
static int step_ga4(struct job *j)
{
    const struct mdp_config *cfg = j->o->cfg;
    json_object *ext, *done;
    if (json_object_object_get_ex(j->plan, "ga4", &done)) return 0;
    const char *var = cfg ? cfg->ga4_credentials_env : NULL;
    const char *cred = var ? getenv(var) : NULL;
    json_object *ga = json_object_new_object();
    if (!cfg || !cred || !*cred || !cfg->ga4_property_id || !*cfg->ga4_property_id) {
        json_object_object_add(ga, "status",
                               json_object_new_string("not requested: the GA4 source is not "
                                                      "configured (sources.ga4.credentials_env)"));
        json_object_object_add(j->plan, "ga4", ga);
        return 0;
    }
    json_object *reqs = json_object_new_array();
    int rc = 0;
    json_object *subj = json_object_object_get(j->plan, "subject");
    if (json_object_object_get_ex(subj, "external_ids", &ext))
        for (size_t i = 0; !rc && i < json_object_array_length(ext); i++) {
            const char *id = jat(ext, i);
            if (!ga4_client_id(id)) continue;
            struct mdp_ga4_deletion g;
            rc = mdp_ga4_user_deletion(cfg, "CLIENT_ID", id, &g, j->d);
            if (rc) break;
            char h[65];
            keyed(j->o->key, "ga4", id, h);
            json_object *x = json_object_new_object();
            json_object_object_add(x, "id_type", json_object_new_string("CLIENT_ID"));
            json_object_object_add(x, "id_hmac", json_object_new_string(h));
            json_object_object_add(x, "deletion_request_time",
                                   json_object_new_string(g.deletion_request_time));
            json_object_object_add(x, "attempts", json_object_new_int(g.attempts));
            json_object_array_add(reqs, x);
            free(g.response); /* it repeats the client id: the certificate keeps its keyed hash */
        }
    if (rc) {
        json_object_put(reqs);
        json_object_put(ga);
        return rc;
    }
    json_object_object_add(
        ga, "status",
        json_object_new_string(json_object_array_length(reqs)
                                   ? "requested"
                                   : "no GA4 client id is linked to the person"));
    json_object_object_add(ga, "requests", reqs);
    json_object_object_add(j->plan, "ga4", ga);
    return 0;
}

/* raw/ objects: new object first, then the old one goes; curate's record follows. */
static int step_raw(struct job *j)
{
    json_object *raw;
    if (!json_object_object_get_ex(j->plan, "raw", &raw)) return 0;
    struct mdp_buf data, out;
    mdp_buf_init(&data);
    mdp_buf_init(&out);
    int rc = 0;
    for (size_t i = 0; !rc && i < json_object_array_length(raw); i++) {
        json_object *x = json_object_array_get_idx(raw, i);
        const char *key = jstr(x, "key"), *nk = jstr(x, "new");
        rc = get_plain(j, key, &data, NULL);
        if (rc == MDP_ERR_NOT_FOUND) { /* done before a crash (its old versions may not be) */
            rc = forget(j, key);
            continue;
        }
        int64_t dropped = 0, kept = 0;
        json_object *jw;
        int wide = json_object_object_get_ex(x, "wide", &jw) && json_object_get_boolean(jw);
        if (!rc)
            rc = mdp_rewrite_records(key, data.data ? data.data : "", data.len, match_record,
                                     wide ? &j->wide : &j->narrow, &out, &dropped, &kept, j->d);
        if (!rc && nk && *nk) rc = mdp_store_put(j->lake->store, nk, out.data, out.len, 0, j->d);
        if (!rc && strcmp(nk ? nk : "", key) != 0) rc = delete_forget(j, key);
        if (!rc && i == 0) crash_point(j, "raw-first");
    }
    /* curate's record of what it took in names the new objects, not the old ones */
    struct mdp_buf seen, nseen;
    mdp_buf_init(&seen);
    mdp_buf_init(&nseen);
    int r = rc ? 0 : mdp_store_get(j->lake->store, RAW_SEEN, &seen, j->d);
    if (!rc && r == 0) {
        for (char *p = seen.data, *nl; p && (nl = strchr(p, '\n')); p = nl + 1) {
            *nl = '\0';
            const char *repl = p;
            for (size_t i = 0; i < json_object_array_length(raw); i++) {
                json_object *x = json_object_array_get_idx(raw, i);
                if (strcmp(jstr(x, "key"), p) == 0) repl = jstr(x, "new");
            }
            if (*repl) mdp_buf_printf(&nseen, "%s\n", repl);
        }
        rc = mdp_buf_error(&nseen)
                 ? mdp_diag_set(j->d, MDP_ERR_NOMEM, "out of memory")
                 : mdp_store_put(j->lake->store, RAW_SEEN, nseen.data ? nseen.data : "", nseen.len,
                                 0, j->d);
    } else if (!rc && r != MDP_ERR_NOT_FOUND) {
        rc = r;
    }
    mdp_buf_cleanup(&seen);
    mdp_buf_cleanup(&nseen);
    mdp_buf_cleanup(&data);
    mdp_buf_cleanup(&out);
    return rc;
}

/* Landing and quarantine objects: rewritten under the same key (they are not content-addressed);
 * an object whose key names the person, or with nothing left, is deleted. */
static int step_inplace(struct job *j)
{
    json_object *l;
    if (!json_object_object_get_ex(j->plan, "inplace", &l)) return 0;
    struct mdp_buf data, out;
    mdp_buf_init(&data);
    mdp_buf_init(&out);
    int rc = 0;
    for (size_t i = 0; !rc && i < json_object_array_length(l); i++) {
        json_object *x = json_object_array_get_idx(l, i);
        const char *key = jstr(x, "key");
        rc = get_plain(j, key, &data, NULL);
        if (rc == MDP_ERR_NOT_FOUND) {
            rc = forget(j, key);
            continue;
        }
        int64_t dropped = 0, kept = 0;
        int whole = holds(&j->wide, key, strlen(key));
        if (!rc && !whole)
            rc = mdp_rewrite_records(key, data.data ? data.data : "", data.len, match_record,
                                     &j->wide, &out, &dropped, &kept, j->d);
        if (rc == MDP_ERR_PARSE) { /* not records we can cut: the object goes whole */
            rc = 0;
            whole = 1;
        }
        if (!rc && (whole || kept == 0))
            rc = delete_forget(j, key);
        else if (!rc && dropped)
            rc = mdp_store_put(j->lake->store, key, out.data, out.len, 0, j->d);
        if (!rc && !(whole || kept == 0)) rc = forget(j, key);
        if (!rc && !json_object_object_get(x, "records_removed")) {
            json_object_object_add(x, "records_removed", json_object_new_int64(dropped));
            json_object_object_add(x, "whole", json_object_new_boolean(whole || kept == 0));
        }
    }
    mdp_buf_cleanup(&data);
    mdp_buf_cleanup(&out);
    return rc;
}

/* The key of a rewritten Parquet file: the same path with run-<old> replaced by run-<run_id>. */
static void parquet_new_key(const char *key, const char *run_id, char *out, size_t n)
{
    const char *r = strstr(key, "/run-");
    const char *e = r ? strchr(r + 5, '/') : NULL;
    if (!r || !e)
        snprintf(out, n, "%s.erased-%s", key, run_id);
    else
        snprintf(out, n, "%.*s/run-%s%s", (int)(r - key), key, run_id, e);
}

static int file_sha(struct mdp_lake *lake, const char *key, char out[65], int64_t *bytes,
                    struct mdp_diag *d)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_store_get(lake->store, key, &b, d);
    if (!rc) {
        mdp_sha256_hex(b.data ? b.data : "", b.len, out);
        *bytes = (int64_t)b.len;
    }
    mdp_buf_cleanup(&b);
    return rc;
}

/* One table: every planned file still in its current state is rewritten into the erasure's run
 * folder; one new manifest; then the old files go. */
static int step_parquet_table(struct job *j, const char *table, json_object *list)
{
    const char *run_id = jstr(j->plan, "run_id");
    struct mdp_manifest m;
    int rc = mdp_lake_current(j->lake, table, &m, j->d);
    if (rc == MDP_ERR_NOT_FOUND) return 0;
    if (rc) return rc;
    struct mdp_manifest_file *nf = mdp_calloc(m.nfiles ? m.nfiles : 1, sizeof *nf);
    char(*keys)[1024] = mdp_calloc(m.nfiles ? m.nfiles : 1, sizeof *keys);
    size_t nn = 0;
    int changed = 0;
    if (!nf || !keys) rc = mdp_diag_set(j->d, MDP_ERR_NOMEM, "out of memory");
    struct mdp_buf src, dst, cond;
    mdp_buf_init(&src);
    mdp_buf_init(&dst);
    mdp_buf_init(&cond);
    /* tables found by the person's id or address lose the rows holding those; tables found only
     * by account or external id (dim_account, identity_held_back) the rows holding the person's
     * own accounts or external ids */
    const struct mdp_inv_dataset *ds =
        list && json_object_array_length(list)
            ? mdp_inventory_find(j->inv, jstr(json_object_array_get_idx(list, 0), "dataset"))
            : NULL;
    int wide = ds && !ds_has_kind(ds, MDP_SUBJ_USER_ID) && !ds_has_kind(ds, MDP_SUBJ_EMAIL) &&
               !ds_has_kind(ds, MDP_SUBJ_EMAIL_LOWER) && !ds_has_kind(ds, MDP_SUBJ_EMAIL_SHA256);
    if (!rc && row_holds_sql(wide ? &j->wide : &j->all, "t", &cond))
        rc = mdp_diag_set(j->d, MDP_ERR_NOMEM, "out of memory");
    /* the condition reads each row as the struct t (the rewrite's alias of the file) */
    for (size_t i = 0; !rc && i < m.nfiles; i++) {
        json_object *hit = NULL;
        for (size_t k = 0; k < json_object_array_length(list) && !hit; k++) {
            json_object *x = json_object_array_get_idx(list, k);
            if (strcmp(jstr(x, "key"), m.files[i].key) == 0) hit = x;
        }
        if (!hit) {
            nf[nn++] = m.files[i];
            continue;
        }
        parquet_new_key(m.files[i].key, run_id, keys[i], sizeof keys[i]);
        rc = mdp_store_stage_object(j->lake->store, m.files[i].key, m.files[i].bytes, j->d);
        if (!rc) rc = mdp_store_local_path(j->lake->store, m.files[i].key, &src);
        if (!rc) rc = mdp_store_local_path(j->lake->store, keys[i], &dst);
        if (!rc) rc = mdp_local_mkdirs(dst.data, 0, 0755, j->d);
        int64_t kept = 0;
        if (!rc) rc = mdp_rewrite_parquet(j->e, src.data, dst.data, cond.data, &kept, j->d);
        if (rc) break;
        changed = 1;
        json_object_object_add(
            hit, "rows_removed",
            json_object_new_int64(m.files[i].rows >= 0 ? m.files[i].rows - kept : -1));
        int64_t bytes = 0;
        char sha[65];
        if (kept == 0) {
            unlink(dst.data); /* nothing left: the file leaves the table */
            json_object_object_add(hit, "new", json_object_new_string(""));
            continue;
        }
        /* S3: the rewritten file goes up from the cache (file: already in place) */
        rc = mdp_store_upload_local(j->lake->store, keys[i], j->d);
        if (!rc) rc = file_sha(j->lake, keys[i], sha, &bytes, j->d);
        if (rc) break;
        nf[nn] = m.files[i];
        nf[nn].key = keys[i];
        nf[nn].bytes = bytes;
        nf[nn].rows = kept;
        memcpy(nf[nn].sha256, sha, 65);
        nn++;
    }
    if (!rc && changed) {
        crash_point(j, "parquet-written");
        /* nobody else in the table: it stays, empty, with its columns */
        rc = nn ? mdp_lake_publish(j->lake, table, nf, nn, run_id, NULL, j->d)
                : mdp_engine_publish_empty(j->e, j->lake, table, run_id, j->d);
        if (!rc) crash_point(j, "parquet-published");
    }
    /* the old files of every planned entry go (also after a crash past the publication) */
    for (size_t k = 0; !rc && k < json_object_array_length(list); k++)
        rc = delete_forget(j, jstr(json_object_array_get_idx(list, k), "key"));
    mdp_buf_cleanup(&src);
    mdp_buf_cleanup(&dst);
    mdp_buf_cleanup(&cond);
    free(nf);
    free(keys);
    mdp_manifest_cleanup(&m);
    return rc;
}

static int step_parquet(struct job *j)
{
    json_object *pq;
    int rc = 0;
    if (json_object_object_get_ex(j->plan, "parquet", &pq)) {
        /* table by table, in the plan's order */
        for (size_t i = 0; !rc && i < json_object_array_length(pq); i++) {
            const char *table = jstr(json_object_array_get_idx(pq, i), "table");
            int first = 1;
            for (size_t k = 0; k < i && first; k++)
                first = strcmp(jstr(json_object_array_get_idx(pq, k), "table"), table) != 0;
            if (!first) continue;
            json_object *list = json_object_new_array();
            for (size_t k = i; k < json_object_array_length(pq); k++) {
                json_object *x = json_object_array_get_idx(pq, k);
                if (strcmp(jstr(x, "table"), table) == 0)
                    json_object_array_add(list, json_object_get(x));
            }
            rc = step_parquet_table(j, table, list);
            json_object_put(list);
        }
    }
    json_object *sup;
    if (!rc && json_object_object_get_ex(j->plan, "superseded", &sup))
        for (size_t i = 0; !rc && i < json_object_array_length(sup); i++)
            rc = delete_forget(j, jstr(json_object_array_get_idx(sup, i), "key"));
    return rc;
}

static int parse_uuid16(const char *s, uint8_t out[16])
{
    int n = 0;
    for (const char *p = s; *p && n < 32; p++) {
        if (*p == '-') continue;
        int v = isdigit((unsigned char)*p) ? *p - '0'
                : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
                                           : -1;
        if (v < 0) return -1;
        out[n / 2] = (uint8_t)(n % 2 ? out[n / 2] | v : v << 4);
        n++;
    }
    return n == 32 ? 0 : -1;
}

/* The serving snapshot without the person's record, published as a new version. */
static int step_snapshot(struct job *j)
{
    uint8_t uid[16];
    const char *u = jstr(json_object_object_get(j->plan, "subject"), "user_id");
    if (!u || parse_uuid16(u, uid)) return 0;
    struct mdp_snapshot *s = NULL;
    int rc = mdp_snapshot_open_lake(j->lake, &s, j->d);
    if (rc == MDP_ERR_NOT_FOUND) return 0;
    if (rc) return rc;
    if (!mdp_snapshot_find(s, uid)) {
        mdp_snapshot_close(s);
        return 0;
    }
    struct mdp_snapshot_writer w;
    mdp_snapshot_writer_init(&w);
    for (int64_t i = 0; !rc && i < mdp_snapshot_count(s); i++) {
        struct mdp_snapshot_rec r = *mdp_snapshot_at(s, i);
        if (memcmp(r.user_id, uid, 16) == 0) continue;
        r.persona = mdp_snapshot_writer_string(&w, mdp_snapshot_string(s, r.persona));
        r.tone = mdp_snapshot_writer_string(&w, mdp_snapshot_string(s, r.tone));
        rc = mdp_snapshot_writer_add(&w, &r);
    }
    int64_t day = mdp_snapshot_day(s);
    mdp_snapshot_close(s);
    struct mdp_buf b;
    mdp_buf_init(&b);
    if (!rc) rc = mdp_snapshot_writer_bytes(&w, day, &b);
    if (rc) rc = mdp_diag_set(j->d, rc, "out of memory rewriting the serving snapshot");
    struct mdp_manifest m;
    memset(&m, 0, sizeof m);
    if (!rc) rc = mdp_lake_current(j->lake, MDP_SNAPSHOT_TABLE, &m, j->d);
    char key[1024];
    if (!rc) {
        parquet_new_key(m.files[0].key, jstr(j->plan, "run_id"), key, sizeof key);
        rc = mdp_store_put(j->lake->store, key, b.data, b.len, 0, j->d);
    }
    if (!rc) {
        struct mdp_manifest_file f = m.files[0];
        f.key = key;
        f.bytes = (int64_t)b.len;
        f.rows = (int64_t)w.n;
        mdp_sha256_hex(b.data, b.len, f.sha256);
        json_object_object_add(j->plan, "snapshot_old_sha256",
                               json_object_new_string(m.files[0].sha256));
        json_object_object_add(j->plan, "snapshot_new_sha256", json_object_new_string(f.sha256));
        rc = mdp_lake_publish(j->lake, MDP_SNAPSHOT_TABLE, &f, 1, jstr(j->plan, "run_id"), NULL,
                              j->d);
        if (!rc) rc = delete_forget(j, m.files[0].key);
    }
    mdp_manifest_cleanup(&m);
    mdp_buf_cleanup(&b);
    mdp_snapshot_writer_cleanup(&w);
    return rc;
}

/* Leftovers of unfinished writes and scratch files that hold the person: removed. */
struct tmp_walk {
    struct job *j;
    int64_t removed;
};
static struct tmp_walk *tmp_cur;

static int tmp_visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || !S_ISREG(sb->st_mode)) return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    int hit = 0;
    if (sb->st_size > 0) {
        void *p = mmap(NULL, (size_t)sb->st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            hit = holds(&tmp_cur->j->wide, p, (size_t)sb->st_size);
            munmap(p, (size_t)sb->st_size);
        }
    }
    close(fd);
    if (hit && unlink(path) == 0) tmp_cur->removed++;
    return 0;
}

static int step_tmp(struct job *j)
{
    static const char *const DIRS[] = {"_tmp", "_meta/tmp", NULL};
    struct tmp_walk t = {j, 0};
    for (int k = 0; DIRS[k]; k++) {
        struct mdp_buf p;
        mdp_buf_init(&p);
        if (mdp_store_local_path(j->lake->store, DIRS[k], &p) == 0 && p.data) {
            tmp_cur = &t;
            nftw(p.data, tmp_visit, 16, FTW_PHYS);
            tmp_cur = NULL;
        }
        mdp_buf_cleanup(&p);
    }
    json_object_object_add(j->plan, "tmp_removed", json_object_new_int64(t.removed));
    return 0;
}

/* ---- old versions (a versioned S3 bucket; file lakes keep none) ---- */

/* Does one stored version of key hold the person (nd, or the 16 bytes of uid when not NULL)?
 * *out_rows: the Parquet rows that do, 1 for other bytes, 0 for none. A Parquet version is read
 * by the engine from a scratch copy in the local _meta/tmp/, removed afterwards. */
static int version_holds(struct mdp_lake *lake, struct mdp_engine *e, const struct needles *nd,
                         const uint8_t *uid, const char *key, const char *vid, int64_t *out_rows,
                         struct mdp_diag *d)
{
    *out_rows = 0;
    struct mdp_buf b, path, sql, n;
    mdp_buf_init(&b);
    mdp_buf_init(&path);
    mdp_buf_init(&sql);
    mdp_buf_init(&n);
    int rc = mdp_store_get_version(lake->store, key, vid, &b, d);
    if (rc == MDP_ERR_NOT_FOUND) rc = 0; /* gone meanwhile */
    size_t kl = strlen(key);
    if (!rc && kl > 8 && strcmp(key + kl - 8, ".parquet") == 0 && b.len) {
        char scratch[96];
        snprintf(scratch, sizeof scratch, "_meta/tmp/erase-version-%ld.parquet", (long)getpid());
        rc = mdp_store_local_path(lake->store, scratch, &path);
        FILE *f = rc ? NULL : fopen(path.data, "wb");
        if (!rc && (!f || fwrite(b.data, 1, b.len, f) != b.len))
            rc = mdp_diag_set(d, MDP_ERR_IO, "cannot write the scratch file %s: %s", path.data,
                              strerror(errno));
        if (f && fclose(f) && !rc)
            rc = mdp_diag_set(d, MDP_ERR_IO, "cannot write the scratch file %s", path.data);
        mdp_buf_puts(&sql, "SELECT count(*) FROM read_parquet(");
        mdp_sql_quote(&sql, path.data ? path.data : "");
        mdp_buf_puts(&sql, ", hive_partitioning = false) t WHERE ");
        row_holds_sql(nd, "t", &sql);
        if (!rc && mdp_buf_error(&sql)) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        if (!rc) rc = mdp_engine_scalar(e, sql.data, &n, d);
        if (!rc) *out_rows = strtoll(n.data ? n.data : "0", NULL, 10);
        if (path.data) unlink(path.data);
    } else if (!rc && b.len) {
        int hit = bytes_hold(nd, uid, b.data, b.len);
        if (hit < 0) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory inflating %s", key);
        *out_rows = hit > 0;
    }
    mdp_buf_cleanup(&b);
    mdp_buf_cleanup(&path);
    mdp_buf_cleanup(&sql);
    mdp_buf_cleanup(&n);
    return rc;
}

struct ver {
    char *key, *vid;
    int latest, marker;
};
struct vers {
    struct ver *v;
    size_t n, cap;
    int noncurrent_only;
    int rc;
};

static int ver_add(const char *key, const char *vid, int64_t size, int latest, int marker, void *ud)
{
    (void)size;
    struct vers *vs = ud;
    if (strncmp(key, "_meta/erasure/", 14) == 0) return 0; /* erasure's own records */
    if (vs->noncurrent_only && latest && !marker) return 0;
    if (mdp_grow(&vs->v, &vs->cap, vs->n, sizeof *vs->v, 64)) return vs->rc = MDP_ERR_NOMEM;
    struct ver *x = &vs->v[vs->n];
    x->key = mdp_strdup(key);
    x->vid = mdp_strdup(vid);
    x->latest = latest;
    x->marker = marker;
    if (!x->key || !x->vid) {
        free(x->key);
        free(x->vid);
        return vs->rc = MDP_ERR_NOMEM;
    }
    vs->n++;
    return 0;
}

static void vers_free(struct vers *vs)
{
    for (size_t i = 0; i < vs->n; i++) {
        free(vs->v[i].key);
        free(vs->v[i].vid);
    }
    free(vs->v);
    memset(vs, 0, sizeof *vs);
}

/* Collects the versions of the whole lake (MDP_ERR_UNSUPPORTED: a store without versions). */
static int vers_list(struct mdp_lake *lake, int noncurrent_only, struct vers *vs,
                     struct mdp_diag *d)
{
    memset(vs, 0, sizeof *vs);
    vs->noncurrent_only = noncurrent_only;
    struct mdp_diag quiet = {0};
    int rc = mdp_store_versions(lake->store, "", ver_add, vs, &quiet);
    if (rc == MDP_ERR_UNSUPPORTED) return rc;
    if (vs->rc) return mdp_diag_set(d, vs->rc, "out of memory listing the object versions");
    if (rc) mdp_diag_set(d, rc, "%s", quiet.msg);
    return rc;
}

/* Versions older than the current objects, and delete markers, that hold the person (objects
 * deleted or overwritten before this erasure, by vacuum or retention): purged, so that a versioned
 * bucket keeps nothing of the person the erasure did not delete itself. */
static int step_versions(struct job *j)
{
    struct vers vs;
    int rc = vers_list(j->lake, 1, &vs, j->d);
    if (rc == MDP_ERR_UNSUPPORTED) return 0;
    for (size_t i = 0; !rc && i < vs.n; i++) {
        const struct ver *x = &vs.v[i];
        if (i && strcmp(vs.v[i - 1].key, x->key) == 0) continue; /* the key is purged whole */
        int hit = 0;
        for (size_t k = i; !rc && !hit && k < vs.n && strcmp(vs.v[k].key, x->key) == 0; k++) {
            int64_t rows = 0;
            hit = holds(&j->wide, x->key, strlen(x->key));
            if (!hit && !vs.v[k].marker)
                rc = version_holds(j->lake, j->e, &j->wide, NULL, x->key, vs.v[k].vid, &rows, j->d);
            hit |= rows > 0;
        }
        if (!rc && hit) rc = forget(j, x->key);
    }
    vers_free(&vs);
    /* the cache (S3) must not keep copies of what the bucket no longer holds */
    static const char *const ZONES[] = {"raw/", "landing/", "curated/", "ml/", "serving/", NULL};
    for (int k = 0; !rc && ZONES[k]; k++)
        rc = mdp_store_evict(j->lake->store, ZONES[k], 1, j->d);
    if (!rc)
        json_object_object_add(j->plan, "versions_purged",
                               json_object_new_int64(j->versions_purged));
    return rc;
}

/* ---- the survivor scan ---- */

struct scan {
    const struct needles *nd;
    uint8_t uid[16];
    int have_uid;
    size_t root_len;
    struct files parquet;
    mdp_erase_survivor_cb cb;
    void *ud;
    int64_t files, survivors;
    int err;
};
static struct scan *scan_cur;

static int scan_visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    struct scan *s = scan_cur;
    const char *rel = path + s->root_len + (path[s->root_len] == '/');
    if (type == FTW_D && strcmp(rel, "_meta/erasure") == 0) return FTW_SKIP_SUBTREE;
    (void)ftw;
    if (type != FTW_F || !S_ISREG(sb->st_mode)) return 0;
    s->files++;
    size_t n = strlen(path);
    if (n > 8 && strcmp(path + n - 8, ".parquet") == 0) {
        char **nv = mdp_realloc(s->parquet.v, (s->parquet.n + 1) * sizeof *nv);
        if (!nv || !(nv[s->parquet.n] = mdp_strdup(path))) {
            if (nv) s->parquet.v = nv;
            s->err = MDP_ERR_NOMEM;
            return FTW_STOP;
        }
        s->parquet.v = nv;
        s->parquet.n++;
        return 0;
    }
    int hit = holds(s->nd, rel, strlen(rel));
    int fd = open(path, O_RDONLY);
    if (fd >= 0 && sb->st_size > 0) {
        void *p = mmap(NULL, (size_t)sb->st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            int h = bytes_hold(s->nd, s->have_uid ? s->uid : NULL, p, (size_t)sb->st_size);
            if (h < 0) s->err = MDP_ERR_NOMEM;
            hit |= h > 0;
            munmap(p, (size_t)sb->st_size);
        }
    }
    if (fd >= 0) close(fd);
    if (hit) {
        s->survivors++;
        if (s->cb && s->cb(rel, "bytes", -1, s->ud)) return FTW_STOP;
    }
    return 0;
}

/* The state store on DynamoDB (a SQLite file is in the lake, or the S3 cache, and read by its
 * bytes above): every item of every table, its keys and body. */
struct names {
    char **v;
    size_t n, cap;
};

static int name_add(const char *table, int64_t items, void *ud)
{
    (void)items;
    struct names *t = ud;
    if (mdp_grow(&t->v, &t->cap, t->n, sizeof *t->v, 16) || !(t->v[t->n] = mdp_strdup(table)))
        return MDP_ERR_NOMEM;
    t->n++;
    return 0;
}

struct item_scan {
    const struct needles *nd;
    int64_t hits;
};

static int item_holds(const struct mdp_state_item *it, void *ud)
{
    struct item_scan *x = ud;
    const char *f[3] = {it->pk, it->sk, it->body};
    for (int i = 0; i < 3; i++)
        if (f[i] && holds(x->nd, f[i], strlen(f[i]))) {
            x->hits++;
            break;
        }
    return 0;
}

static int scan_dynamodb(struct mdp_lake *lake, const struct needles *nd, struct scan *s,
                         struct mdp_diag *d)
{
    const char *loc = mdp_state_location();
    if (!loc || strncmp(loc, "dynamodb://", 11) != 0) return 0;
    struct mdp_state *st = NULL;
    struct names t = {0};
    int rc = mdp_state_open_lake(lake, &st, d);
    if (!rc) rc = mdp_state_tables(st, name_add, &t, d);
    if (rc == MDP_ERR_NOMEM) rc = mdp_diag_set(d, rc, "out of memory listing the state tables");
    for (size_t i = 0; !rc && i < t.n; i++) {
        struct item_scan x = {nd, 0};
        rc = mdp_state_scan(st, t.v[i], item_holds, &x, d);
        s->files++;
        if (!rc && x.hits) {
            char where[300];
            snprintf(where, sizeof where, "dynamodb:%s", t.v[i]);
            s->survivors++;
            if (s->cb) s->cb(where, "items", x.hits, s->ud);
        }
    }
    for (size_t i = 0; i < t.n; i++)
        free(t.v[i]);
    free(t.v);
    mdp_state_close(st);
    return rc;
}

/* Every version of every object of a versioned store (S3): the current objects themselves, and
 * what the bucket keeps of overwritten and deleted ones. */
static int scan_versions(struct mdp_lake *lake, struct mdp_engine *e, const struct needles *nd,
                         struct scan *s, struct mdp_diag *d)
{
    struct vers vs;
    int rc = vers_list(lake, 0, &vs, d);
    if (rc == MDP_ERR_UNSUPPORTED) return 0;
    for (size_t i = 0; !rc && i < vs.n; i++) {
        const struct ver *x = &vs.v[i];
        int64_t rows = 0;
        s->files++;
        int hit = holds(nd, x->key, strlen(x->key));
        if (!x->marker)
            rc = version_holds(lake, e, nd, s->have_uid ? s->uid : NULL, x->key, x->vid, &rows, d);
        if (!rc && (hit || rows > 0)) {
            char where[1200];
            snprintf(where, sizeof where, "%s (version %s%s)", x->key, x->vid,
                     x->marker   ? ", delete marker"
                     : x->latest ? ", current"
                                 : "");
            s->survivors++;
            size_t kl = strlen(x->key);
            int pq = kl > 8 && strcmp(x->key + kl - 8, ".parquet") == 0;
            if (s->cb && s->cb(where, pq && rows ? "rows" : "bytes", pq && rows ? rows : -1, s->ud))
                break;
        }
    }
    vers_free(&vs);
    return rc;
}

int mdp_erase_scan(const struct mdp_inventory *inv, struct mdp_lake *lake, struct mdp_engine *e,
                   const char *user_id, const char *email, const char *conninfo,
                   mdp_erase_survivor_cb cb, void *ud, int64_t *out_files, int64_t *out_survivors,
                   struct mdp_diag *d)
{
    struct needles nd = {0};
    char sha[65] = "";
    int rc = needle_add(&nd, user_id);
    if (!rc && email && *email) {
        char low[320];
        if (mdp_email_normalize(email, low, sizeof low) > 0) {
            rc = needle_add(&nd, low);
            mdp_sha256_hex(low, strlen(low), sha);
            if (!rc) rc = needle_add(&nd, sha);
        }
    }
    if (rc) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    struct scan s;
    memset(&s, 0, sizeof s);
    s.nd = &nd;
    s.have_uid = user_id && parse_uuid16(user_id, s.uid) == 0;
    s.cb = cb;
    s.ud = ud;
    struct mdp_buf root;
    mdp_buf_init(&root);
    rc = mdp_store_local_path(lake->store, "_meta", &root);
    if (!rc && root.data) {
        root.len -= 6; /* "/_meta" */
        root.data[root.len] = '\0';
        s.root_len = root.len;
        scan_cur = &s;
        nftw(root.data, scan_visit, 32, FTW_PHYS | FTW_ACTIONRETVAL);
        scan_cur = NULL;
        if (s.err) rc = mdp_diag_set(d, s.err, "out of memory scanning the lake");
    } else if (!rc) {
        rc = mdp_diag_set(d, MDP_ERR_UNSUPPORTED, "the survivor scan needs a local lake");
    }
    struct mdp_buf sql, n;
    mdp_buf_init(&sql);
    mdp_buf_init(&n);
    for (size_t i = 0; !rc && i < s.parquet.n; i++) {
        mdp_buf_reset(&sql);
        mdp_buf_puts(&sql, "SELECT count(*) FROM read_parquet(");
        mdp_sql_quote(&sql, s.parquet.v[i]);
        mdp_buf_puts(&sql, ", hive_partitioning = false) t WHERE ");
        row_holds_sql(&nd, "t", &sql);
        rc = mdp_buf_error(&sql) ? mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory")
                                 : mdp_engine_scalar(e, sql.data, &n, d);
        int64_t rows = rc ? 0 : strtoll(n.data ? n.data : "0", NULL, 10);
        if (rows > 0) {
            s.survivors++;
            if (cb) cb(s.parquet.v[i] + s.root_len + 1, "rows", rows, ud);
        }
    }
    if (!rc) rc = scan_versions(lake, e, &nd, &s, d);
    if (!rc) rc = scan_dynamodb(lake, &nd, &s, d);
    /* Supabase: every table of the inventory by its subject keys */
    PGconn *pg = NULL;
    if (!rc && conninfo) {
        pg = mdp_net_pg_connect(conninfo);
        if (!pg || PQstatus(pg) != CONNECTION_OK)
            rc = mdp_diag_set(d, MDP_ERR_IO, "cannot connect to Supabase: %s",
                              pg ? PQerrorMessage(pg) : "out of memory");
    }
    for (size_t i = 0; !rc && pg && i < inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &inv->datasets[i];
        if (ds->store != MDP_INV_SUPABASE || strchr(ds->location, '"')) continue;
        const char *dot = strchr(ds->location, '.');
        if (!dot) continue;
        for (size_t k = 0; !rc && k < ds->nsubject_keys; k++) {
            const struct mdp_inv_subject_key *sk = &ds->subject_keys[k];
            const char *v = sk->kind == MDP_SUBJ_USER_ID ? user_id
                            : sk->kind == MDP_SUBJ_EMAIL || sk->kind == MDP_SUBJ_EMAIL_LOWER ? email
                            : sk->kind == MDP_SUBJ_EMAIL_SHA256                              ? sha
                                                                                             : NULL;
            if (!v || !*v || strchr(sk->column, '"')) continue;
            char q[512];
            snprintf(q, sizeof q,
                     "SELECT count(*) FROM \"%.*s\".\"%s\" WHERE lower(\"%s\"::text) = lower($1)",
                     (int)(dot - ds->location), ds->location, dot + 1, sk->column);
            const char *pv[1] = {v};
            PGresult *r = PQexecParams(pg, q, 1, NULL, pv, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = mdp_diag_set(d, MDP_ERR_IO, "Supabase: counting %s: %s", ds->location,
                                  PQerrorMessage(pg));
            } else {
                int64_t c = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
                s.files++;
                if (c > 0) {
                    s.survivors++;
                    char where[300];
                    snprintf(where, sizeof where, "supabase:%s", ds->location);
                    if (cb) cb(where, mdp_subject_kind_name(sk->kind), c, ud);
                }
            }
            PQclear(r);
        }
    }
    if (pg) PQfinish(pg);
    if (out_files) *out_files = s.files;
    if (out_survivors) *out_survivors = s.survivors;
    files_free(&s.parquet);
    mdp_buf_cleanup(&sql);
    mdp_buf_cleanup(&n);
    mdp_buf_cleanup(&root);
    needles_free(&nd);
    return rc;
}

/* ---- the certificate and the log ---- */

struct last {
    char key[256];
};

static int last_key(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct last *l = ud;
    if (strcmp(key, l->key) > 0) snprintf(l->key, sizeof l->key, "%s", key);
    return 0;
}

static int log_head(struct mdp_lake *lake, int64_t *seq, char hash[65], struct mdp_diag *d)
{
    struct last l = {""};
    *seq = 0;
    hash[0] = '\0';
    int rc = mdp_store_list(lake->store, LOG, last_key, &l, d);
    if (rc || !l.key[0]) return rc;
    struct mdp_buf b;
    mdp_buf_init(&b);
    rc = mdp_store_get(lake->store, l.key, &b, d);
    json_object *o = rc ? NULL : json_tokener_parse(b.data ? b.data : "");
    if (!rc && (!o || !jstr(o, "hash")))
        rc = mdp_diag_set(d, MDP_ERR_PARSE, "%s: not an erasure certificate", l.key);
    if (!rc) {
        *seq = jint(o, "seq");
        snprintf(hash, 65, "%s", jstr(o, "hash"));
    }
    json_object_put(o);
    mdp_buf_cleanup(&b);
    return rc;
}

struct surv {
    json_object *list;
};

static int on_survivor(const char *where, const char *what, int64_t n, void *ud)
{
    struct surv *s = ud;
    json_object *x = json_object_new_object();
    /* where is a lake key or table: never the person's id (a key that names the person is
     * reported by its SHA-256) */
    char h[65];
    mdp_sha256_hex(where, strlen(where), h);
    json_object_object_add(x, "where_sha256", json_object_new_string(h));
    json_object_object_add(x, "what", json_object_new_string(what));
    json_object_object_add(x, "n", json_object_new_int64(n));
    json_object_array_add(s->list, x);
    return 0;
}

static json_object *copy_fields(json_object *list, const char *const *fields)
{
    json_object *out = json_object_new_array();
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        json_object *x = json_object_array_get_idx(list, i), *y = json_object_new_object(), *v;
        for (int k = 0; fields[k]; k++)
            if (json_object_object_get_ex(x, fields[k], &v))
                json_object_object_add(y, fields[k], json_object_get(v));
        json_object_array_add(out, y);
    }
    return out;
}

static int write_certificate(struct job *j, int64_t files, json_object *found, int64_t survivors,
                             struct mdp_buf *out)
{
    json_object *p = j->plan, *v;
    json_object *c = json_object_new_object();
    char subj[65], now[40];
    keyed(j->o->key, "user", jstr(json_object_object_get(p, "subject"), "user_id"), subj);
    mdp_time_format_ms(mdp_time_now_ms(), now, sizeof now);
    json_object_object_add(c, "certificate", json_object_new_string("mdp-erasure/1"));
    json_object_object_add(c, "erasure", json_object_new_string(j->id));
    json_object_object_add(c, "subject_hmac", json_object_new_string(subj));
    json_object_object_add(c, "email_hmacs",
                           json_object_get(json_object_object_get(p, "email_hmacs")));
    json_object_object_add(c, "key", json_object_new_string(j->o->key->source));
    json_object_object_add(c, "planned_at",
                           json_object_get(json_object_object_get(p, "planned_at")));
    json_object_object_add(c, "finished_at", json_object_new_string(now));
    json_object *stores = json_object_new_object();
    /* Supabase */
    json_object *sb = json_object_new_object();
    int connected =
        json_object_object_get_ex(p, "supabase_connected", &v) && json_object_get_boolean(v);
    json_object_object_add(sb, "status",
                           json_object_new_string(connected ? "deleted" : "not_connected"));
    static const char *const SB[] = {"dataset", "rows", NULL};
    static const char *const SBD[] = {"table", "deleted", NULL};
    json_object_object_add(sb, "found", copy_fields(json_object_object_get(p, "supabase"), SB));
    json_object_object_add(sb, "deleted",
                           copy_fields(json_object_object_get(p, "supabase_deleted"), SBD));
    json_object_object_add(stores, "supabase", sb);
    /* state */
    static const char *const ST[] = {"dataset", NULL};
    json_object *st = json_object_new_object();
    json_object_object_add(st, "deleted", copy_fields(json_object_object_get(p, "state"), ST));
    json_object_object_add(st, "kept_legal_obligation",
                           copy_fields(json_object_object_get(p, "kept"), ST));
    json_object_object_add(st, "consent_contact_rows_deleted",
                           json_object_new_int64(jint(p, "consent_contact_rows")));
    json_object_object_add(st, "consent_records_rechained",
                           json_object_new_int64(jint(p, "consent_migrated")));
    json_object *ix = json_object_object_get(p, "state_indexed");
    json_object_object_add(st, "indexed_items_deleted",
                           ix ? json_object_get(ix) : json_object_new_object());
    json_object_object_add(st, "compacted", json_object_new_boolean(1));
    json_object_object_add(stores, "state", st);
    /* the bandit: the person's rewards subtracted from their arms (a replay without them) */
    json_object *bd = json_object_new_object(), *bp = json_object_object_get(p, "bandit");
    json_object_object_add(
        bd, "method",
        json_object_new_string("every reward counted for the person's pseudonym (state table "
                               "bandit_reward, found through the per-subject index) subtracted "
                               "from its arm with its record deleted in one transaction: the "
                               "counters equal a replay of the feedback without the person"));
    static const char *const BN[] = {"rewards_removed", "successes_removed", "failures_removed",
                                     "arms_changed", NULL};
    for (int i = 0; BN[i]; i++)
        json_object_object_add(bd, BN[i], json_object_new_int64(jint(bp, BN[i])));
    json_object_object_add(stores, "bandit_counters", bd);
    /* raw */
    static const char *const RAW[] = {"dataset",      "key",        "new",
                                      "old_sha256",   "new_sha256", "records_removed",
                                      "records_kept", NULL};
    json_object *raw = json_object_new_object();
    json_object_object_add(raw, "rewritten", copy_fields(json_object_object_get(p, "raw"), RAW));
    json_object_object_add(raw, "ledger_seq", json_object_new_int64(jint(p, "ledger_seq")));
    json_object_object_add(stores, "raw", raw);
    /* landing and quarantine: keys may name the person, so they are listed by hash */
    json_object *inplace = json_object_new_array(), *l;
    if (json_object_object_get_ex(p, "inplace", &l))
        for (size_t i = 0; i < json_object_array_length(l); i++) {
            json_object *x = json_object_array_get_idx(l, i), *y = json_object_new_object();
            char h[65];
            mdp_sha256_hex(jstr(x, "key"), strlen(jstr(x, "key")), h);
            json_object_object_add(y, "key_sha256", json_object_new_string(h));
            json_object_object_add(y, "records_removed",
                                   json_object_new_int64(jint(x, "records_removed")));
            json_object_object_add(y, "deleted",
                                   json_object_get(json_object_object_get(x, "whole")));
            json_object_array_add(inplace, y);
        }
    json_object_object_add(stores, "landing_and_quarantine", inplace);
    /* Parquet */
    json_object *pq = json_object_new_array();
    if (json_object_object_get_ex(p, "parquet", &l))
        for (size_t i = 0; i < json_object_array_length(l); i++) {
            json_object *x = json_object_array_get_idx(l, i), *y = json_object_new_object();
            json_object_object_add(y, "dataset",
                                   json_object_get(json_object_object_get(x, "dataset")));
            json_object_object_add(y, "old", json_object_get(json_object_object_get(x, "key")));
            json_object *rr;
            json_object_object_add(
                y, "rows_removed",
                json_object_new_int64(json_object_object_get_ex(x, "rows_removed", &rr)
                                          ? json_object_get_int64(rr)
                                          : jint(x, "rows")));
            char nk[1024], sha[65] = "";
            int64_t bytes = 0;
            parquet_new_key(jstr(x, "key"), jstr(p, "run_id"), nk, sizeof nk);
            struct mdp_diag nd = {0};
            if (file_sha(j->lake, nk, sha, &bytes, &nd) == 0) {
                json_object_object_add(y, "new", json_object_new_string(nk));
                json_object_object_add(y, "new_sha256", json_object_new_string(sha));
            } else {
                json_object_object_add(y, "new", json_object_new_string(""));
            }
            json_object_array_add(pq, y);
        }
    json_object_object_add(stores, "parquet", pq);
    static const char *const SUP[] = {"key", "rows", NULL};
    json_object_object_add(stores, "superseded_parquet_deleted",
                           copy_fields(json_object_object_get(p, "superseded"), SUP));
    json_object *sn = json_object_new_object();
    json_object_object_add(sn, "old_sha256",
                           json_object_get(json_object_object_get(p, "snapshot_old_sha256")));
    json_object_object_add(sn, "new_sha256",
                           json_object_get(json_object_object_get(p, "snapshot_new_sha256")));
    json_object_object_add(stores, "serving_snapshot", sn);
    json_object_object_add(stores, "temporary_files_removed",
                           json_object_new_int64(jint(p, "tmp_removed")));
    /* a versioned bucket's old versions and delete markers of the objects that held the person
     * (0 on a file lake, which keeps none) */
    json_object_object_add(stores, "object_versions_purged",
                           json_object_new_int64(jint(p, "versions_purged")));
    json_object *ext = json_object_new_object();
    json_object_object_add(stores, "ga4", json_object_get(json_object_object_get(p, "ga4")));
    json_object_object_add(stores, "suppression_entries_added",
                           json_object_new_int64(jint(p, "suppressed_entries")));
    json_object_object_add(
        ext, "bandit_anonymous_feedback",
        json_object_new_string("feedback counted without an owner (decision ids made before "
                               "they named the user, feedback counted before the server "
                               "recorded owners) cannot be attributed and stays in the "
                               "counters"));
    json_object_object_add(
        ext, "backups",
        json_object_new_string("Supabase point-in-time recovery, DynamoDB backups and copies "
                               "outside the lake's bucket (replication, exports) keep data until "
                               "their own expiry"));
    json_object_object_add(stores, "not_erased_here", ext);
    json_object_object_add(c, "stores", stores);
    json_object *ver = json_object_new_object();
    json_object_object_add(
        ver, "method",
        json_object_new_string(
            "re-scan of every file of the lake folder on disk (S3: its local cache, and every "
            "version of every object of the bucket) (bytes, ASCII case-insensitive: user_id, "
            "address, SHA-256 of the address; the user_id's 16 bytes), every Parquet file through "
            "DuckDB (each row as text), every item of a DynamoDB state table, every Supabase table "
            "of the inventory by its subject keys; _meta/erasure/ excluded"));
    json_object_object_add(ver, "files_scanned", json_object_new_int64(files));
    json_object_object_add(ver, "supabase", json_object_new_boolean(connected));
    json_object_object_add(ver, "survivors", json_object_new_int64(survivors));
    json_object_object_add(ver, "found", json_object_get(found));
    json_object_object_add(c, "verification", ver);
    int rc = 0;
    for (int tries = 0; tries < 5; tries++) {
        int64_t seq;
        char prev[65], hash[65], hmac[65];
        if ((rc = log_head(j->lake, &seq, prev, j->d))) break;
        json_object_object_add(c, "seq", json_object_new_int64(seq + 1));
        json_object_object_add(c, "prev_hash", json_object_new_string(prev));
        const char *body = json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN);
        size_t blen = strlen(body) - 1; /* without the closing brace */
        mdp_sha256_hex(body, blen, hash);
        mdp_hmac_sha256_hex(j->o->key->key, j->o->key->len, body, blen, hmac);
        mdp_buf_reset(out);
        mdp_buf_append(out, body, blen);
        mdp_buf_printf(out, "%s%s\",\"hmac\":\"%s\"}\n", HASH_TAG, hash, hmac);
        if (mdp_buf_error(out)) {
            rc = mdp_diag_set(j->d, MDP_ERR_NOMEM, "out of memory");
            break;
        }
        char key[128];
        snprintf(key, sizeof key, LOG "%010lld.json", (long long)seq + 1);
        rc = mdp_store_put(j->lake->store, key, out->data, out->len, MDP_PUT_IF_ABSENT, j->d);
        if (rc != MDP_ERR_EXISTS) break;
    }
    json_object_put(c);
    return rc;
}

/* ---- the run ---- */

/* Whether member k of o is absent or a string (need: present and a string). */
static int str_member(json_object *o, const char *k, int need)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v)) return !need;
    return json_object_is_type(v, json_type_string);
}

/* Whether member k of o is absent or an array whose elements are strings. */
static int str_array(json_object *o, const char *k)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v)) return 1;
    if (!json_object_is_type(v, json_type_array)) return 0;
    for (size_t i = 0; i < json_object_array_length(v); i++)
        if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string)) return 0;
    return 1;
}

/* A stored plan is the job's own document, read again by the steps as it was written (jstr and
 * jat take its strings as they are). One edited or damaged by hand is refused here, naming the
 * member, instead of failing a step halfway or crashing one. 0, or the member's path in why. */
static int plan_check(json_object *p, char *why, size_t wn)
{
    static const char *const LISTS[] = {
        "supabase", "parquet",    "snapshot",         "state", "kept", "raw",
        "inplace",  "superseded", "supabase_deleted", NULL};
    static const char *const OPT[] = {"dataset", "table",      "pk",         "sk",
                                      "new",     "old_sha256", "new_sha256", NULL};
    json_object *subj, *l;
    if (!json_object_is_type(p, json_type_object)) return snprintf(why, wn, "(not an object)"), -1;
    if (!str_member(p, "erasure", 1)) return snprintf(why, wn, "erasure"), -1;
    if (!str_member(p, "run_id", 1)) return snprintf(why, wn, "run_id"), -1;
    if (!str_array(p, "email_hmacs")) return snprintf(why, wn, "email_hmacs"), -1;
    if (!json_object_object_get_ex(p, "subject", &subj) ||
        !json_object_is_type(subj, json_type_object) || !str_member(subj, "user_id", 1))
        return snprintf(why, wn, "subject.user_id"), -1;
    static const char *const SUBJ[] = {"emails", "email_sha", "account_ids", "external_ids", NULL};
    for (int k = 0; SUBJ[k]; k++)
        if (!str_array(subj, SUBJ[k])) return snprintf(why, wn, "subject.%s", SUBJ[k]), -1;
    for (int k = 0; LISTS[k]; k++) {
        if (!json_object_object_get_ex(p, LISTS[k], &l)) continue;
        if (!json_object_is_type(l, json_type_array)) return snprintf(why, wn, "%s", LISTS[k]), -1;
        for (size_t i = 0; i < json_object_array_length(l); i++) {
            json_object *x = json_object_array_get_idx(l, i);
            if (!json_object_is_type(x, json_type_object) || !str_member(x, "key", 1))
                return snprintf(why, wn, "%s[%zu].key", LISTS[k], i), -1;
            for (int m = 0; OPT[m]; m++)
                if (!str_member(x, OPT[m], 0))
                    return snprintf(why, wn, "%s[%zu].%s", LISTS[k], i, OPT[m]), -1;
        }
    }
    return 0;
}

/* A pending plan for the subject: by user_id's keyed hash, or by an address's. */
static int load_pending(struct job *j, const char *user_id, const char *email)
{
    char h[65], eh[65] = "";
    struct files f = {0};
    int rc = mdp_store_list_keys(j->lake->store, PENDING, ".json", &f.v, &f.n, j->d);
    if (user_id) keyed(j->o->key, "user", user_id, h);
    if (email) {
        char low[320];
        if (mdp_email_normalize(email, low, sizeof low) > 0) keyed(j->o->key, "email", low, eh);
    }
    struct mdp_buf b;
    mdp_buf_init(&b);
    for (size_t i = 0; !rc && i < f.n && !j->plan; i++) {
        if (mdp_store_get(j->lake->store, f.v[i], &b, j->d)) continue;
        json_object *o = json_tokener_parse(b.data ? b.data : "");
        if (!o) continue;
        int hit = user_id && strncmp(jstr(o, "erasure") ? jstr(o, "erasure") : "", h, 32) == 0;
        json_object *a;
        if (!hit && eh[0] && json_object_object_get_ex(o, "email_hmacs", &a))
            for (size_t k = 0; k < json_object_array_length(a) && !hit; k++)
                hit = strcmp(jat(a, k), eh) == 0;
        char why[96];
        if (hit && plan_check(o, why, sizeof why)) {
            rc = mdp_diag_set(j->d, MDP_ERR_PARSE,
                              "%s: this erasure's pending plan is damaged (%s is missing or of "
                              "the wrong type); nothing was changed. Move it aside to plan the "
                              "erasure anew",
                              f.v[i], why);
            json_object_put(o);
        } else if (hit) {
            j->plan = o;
            snprintf(j->id, sizeof j->id, "%s", jstr(o, "erasure"));
        } else {
            json_object_put(o);
        }
    }
    mdp_buf_cleanup(&b);
    files_free(&f);
    return rc;
}

static int put_plan(struct job *j)
{
    const char *t = json_object_to_json_string_ext(j->plan, JSON_C_TO_STRING_PLAIN);
    return mdp_store_put(j->lake->store, j->pending_key, t, strlen(t), 0, j->d);
}

int mdp_erase_run(const struct mdp_inventory *inv, struct mdp_lake *lake, struct mdp_engine *e,
                  const struct mdp_erase_opts *o, struct mdp_buf *out, struct mdp_diag *d)
{
    if (!o->user_id == !o->email)
        return mdp_diag_set(d, MDP_ERR_INVALID, "erasure needs a user_id or an address (one)");
    struct job j;
    memset(&j, 0, sizeof j);
    j.inv = inv;
    j.lake = lake;
    j.e = e;
    j.o = o;
    j.d = d;
    struct mdp_state *st = NULL;
    struct mdp_subject *s = NULL;
    int rc = mdp_state_open_lake(lake, &st, d);
    /* without a key no erasure ever ran here: nothing can be pending */
    if (!rc && o->key->len) rc = load_pending(&j, o->user_id, o->email);
    /* the locator reads raw JSON strictly, and raw objects keep malformed records as received
     * (quarantined at ingest, still the person's bytes): raw is found here by its bytes, and the
     * locator sees every other dataset (and the app's raw CSV exports, for the addresses) */
    struct mdp_inventory sub = *inv;
    sub.datasets = mdp_calloc(inv->ndatasets ? inv->ndatasets : 1, sizeof *sub.datasets);
    sub.ndatasets = 0;
    if (!sub.datasets) rc = rc ? rc : mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; sub.datasets && i < inv->ndatasets; i++)
        if (inv->datasets[i].store != MDP_INV_RAW ||
            strncmp(inv->datasets[i].location, "raw/supabase/", 13) == 0)
            sub.datasets[sub.ndatasets++] = inv->datasets[i];
    struct mdp_subject_ctx ctx = {&sub, lake, e, st, o->conninfo, NULL, 0};
    if (!rc && !j.plan) {
        /* the whole inventory: what it does not list, the plan cannot find (a pending plan is
         * finished whatever appeared since) */
        struct mdp_subject_ctx all = {inv, lake, e, st, o->conninfo, NULL, 0};
        rc = mdp_subject_require_listed(&all, "erasure", d);
        if (!rc) rc = mdp_subject_resolve(&ctx, o->user_id, o->email, &s, d);
        if (!rc && !s->user_id)
            rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND,
                              "no such user: neither the lake%s nor a pending erasure knows %s",
                              o->conninfo ? ", Supabase" : "",
                              o->user_id ? "this user_id" : "this address");
        if (!rc) {
            /* a user_id nothing holds is unknown as well */
            int64_t hits = 0;
            struct mdp_diag nd = {0};
            if (mdp_subject_locate(&ctx, s, NULL, NULL, &hits, &nd) == 0 && hits == 0 &&
                !s->emails.n)
                rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND,
                                  "no such user: nothing in the lake%s holds %s",
                                  o->conninfo ? " or Supabase" : "",
                                  o->user_id ? "this user_id" : "this address");
        }
        if (!rc && !o->dry_run && o->begin) rc = o->begin(o->begin_ud, d);
        /* the lake's own key is made only now, for a subject that exists, by a real run */
        if (!rc && !o->key->len && !o->dry_run) rc = mdp_erase_key_load(lake, NULL, 1, o->key, d);
        if (!rc) {
            char h[65];
            keyed(o->key, "user", s->user_id, h);
            snprintf(j.id, sizeof j.id, "%.32s", h);
            /* suppressed before the plan lists the raw zone: a running server drops the person's
             * decisions at its next decision-log flush, so no object of theirs lands behind the
             * plan's listing (docs/privacy.md §6) */
            int64_t early = 0;
            if (!o->dry_run)
                rc = suppress_subject(st, (const char *const *)s->emails.v, s->emails.n, s->user_id,
                                      j.id, &early, d);
            if (!rc) rc = make_plan(&j, &ctx, s);
            if (!rc)
                json_object_object_add(j.plan, "suppressed_entries", json_object_new_int64(early));
        }
    } else if (!rc) {
        if (!o->dry_run && o->begin) rc = o->begin(o->begin_ud, d);
        if (!rc) rc = needles_from_plan(&j);
    }
    snprintf(j.pending_key, sizeof j.pending_key, PENDING "%s.json", j.id);
    if (!rc && o->dry_run) {
        /* the plan without the subject's clear ids */
        json_object *c = json_object_new_object();
        json_object_object_foreach(j.plan, k, v)
        {
            if (strcmp(k, "subject") == 0) continue;
            json_object_object_add(c, k, json_object_get(v));
        }
        const char *t = json_object_to_json_string_ext(c, JSON_C_TO_STRING_PRETTY);
        mdp_buf_reset(out);
        mdp_buf_printf(out, "%s\n", t);
        json_object_put(c);
        goto done;
    }
    if (!rc) rc = put_plan(&j);
    if (!rc) crash_point(&j, "plan");
    if (!rc) rc = step_ledger(&j);
    if (!rc) crash_point(&j, "ledger");
    if (!rc) rc = step_supabase(&j, o->conninfo);
    if (!rc) rc = step_ga4(&j);
    if (!rc) rc = put_plan(&j); /* GA4's answers are not asked for twice */
    if (!rc) crash_point(&j, "supabase");
    if (!rc) rc = step_bandit(&j, st);
    if (!rc) rc = step_state(&j, st);
    if (!rc) rc = step_state_indexed(&j, st);
    if (!rc) rc = put_plan(&j); /* the counts of the bandit's and the indexed items' deletions */
    if (!rc) crash_point(&j, "state");
    if (!rc) rc = step_raw(&j);
    if (!rc) crash_point(&j, "raw");
    if (!rc) rc = step_inplace(&j);
    if (!rc) crash_point(&j, "inplace");
    if (!rc) rc = step_parquet(&j);
    if (!rc) crash_point(&j, "parquet");
    if (!rc) rc = step_snapshot(&j);
    if (!rc) crash_point(&j, "snapshot");
    if (!rc) rc = step_tmp(&j);
    if (!rc) rc = step_versions(&j);
    if (!rc) crash_point(&j, "versions");
    if (!rc) rc = mdp_state_compact(st, d);
    if (!rc) rc = put_plan(&j); /* what the steps learnt (counts, hashes) for a rerun's cert */
    int64_t files = 0, survivors = 0;
    json_object *found = json_object_new_array();
    if (!rc) {
        json_object *subj = json_object_object_get(j.plan, "subject"), *em;
        const char *email =
            json_object_object_get_ex(subj, "emails", &em) && json_object_array_length(em)
                ? jat(em, 0)
                : NULL;
        struct surv sv = {found};
        rc = mdp_erase_scan(inv, lake, e, jstr(subj, "user_id"), email, o->conninfo, on_survivor,
                            &sv, &files, &survivors, d);
    }
    if (!rc) crash_point(&j, "scan");
    if (!rc) rc = write_certificate(&j, files, found, survivors, out);
    json_object_put(found);
    if (!rc) crash_point(&j, "certificate");
    if (!rc) {
        /* the plan names the person, and a versioned bucket keeps every version of it: it goes
         * with all of them, after the ledger's marker (the plan's ledger_seq keeps a rerun from a
         * second ledger entry) and its own current version last, so that a kill leaves a plan
         * its rerun finishes, or nothing */
        char marker[160];
        snprintf(marker, sizeof marker, PENDING "%s.ledger", j.id);
        rc = mdp_store_delete_every_version(lake->store, marker, NULL, d);
        if (!rc) rc = mdp_store_delete_every_version(lake->store, j.pending_key, NULL, d);
        if (!rc) rc = mdp_store_evict(lake->store, marker, 0, d);
        if (!rc) rc = mdp_store_evict(lake->store, j.pending_key, 0, d);
    }
    if (!rc) crash_point(&j, "end");
    if (!rc && survivors)
        rc = mdp_diag_set(d, MDP_ERR_EXISTS,
                          "the re-scan found %lld place(s) still holding the person: see the "
                          "certificate's verification",
                          (long long)survivors);
done:
    json_object_put(j.plan);
    needles_free(&j.all);
    needles_free(&j.narrow);
    needles_free(&j.wide);
    mdp_subject_free(s);
    mdp_state_close(st);
    free(sub.datasets);
    return rc;
}

/* ---- verify ---- */

int mdp_erase_verify(const struct mdp_inventory *inv, struct mdp_lake *lake, struct mdp_engine *e,
                     const struct mdp_erase_key *key, const char *text, size_t len,
                     const char *user_id, const char *email, const char *conninfo,
                     struct mdp_buf *report, struct mdp_diag *d)
{
    mdp_buf_reset(report);
    const char *tag = NULL;
    for (const char *p = text; p && (p = strstr(p, HASH_TAG)) && (size_t)(p - text) < len; p++)
        tag = p; /* the last one */
    json_object *c = json_tokener_parse(text);
    if (!c || !tag || !jstr(c, "hash") || !jstr(c, "hmac")) {
        json_object_put(c);
        return mdp_diag_set(d, MDP_ERR_PARSE, "not an erasure certificate");
    }
    size_t blen = (size_t)(tag - text);
    char hash[65], hmac[65];
    mdp_sha256_hex(text, blen, hash);
    mdp_hmac_sha256_hex(key->key, key->len, text, blen, hmac);
    int rc = 0;
    if (strcmp(hash, jstr(c, "hash")) != 0)
        rc = mdp_diag_set(d, MDP_ERR_PARSE,
                          "the certificate was altered: its SHA-256 does not match");
    else if (strcmp(hmac, jstr(c, "hmac")) != 0)
        rc = mdp_diag_set(d, MDP_ERR_PARSE,
                          "the certificate's HMAC does not match (altered, or another key than %s)",
                          key->source);
    if (!rc) mdp_buf_printf(report, "ok   hash and HMAC (%s)\n", key->source);
    /* the log holds it, and the chain up to it */
    int64_t seq = jint(c, "seq");
    char prev[65] = "";
    struct mdp_buf b;
    mdp_buf_init(&b);
    for (int64_t i = 1; !rc && i <= seq; i++) {
        char k[128];
        snprintf(k, sizeof k, LOG "%010lld.json", (long long)i);
        int r = mdp_store_get(lake->store, k, &b, d);
        if (r) {
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "erasure log: %s is missing (%s)", k,
                              mdp_strerror(r));
            break;
        }
        json_object *o = json_tokener_parse(b.data ? b.data : "");
        const char *t2 = NULL;
        for (const char *p = b.data; p && (p = strstr(p, HASH_TAG)); p++)
            t2 = p;
        char h2[65];
        if (!o || !t2 || !jstr(o, "hash")) {
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "erasure log: %s is not a certificate", k);
        } else {
            mdp_sha256_hex(b.data, (size_t)(t2 - b.data), h2);
            if (strcmp(h2, jstr(o, "hash")) != 0)
                rc = mdp_diag_set(d, MDP_ERR_PARSE, "erasure log: %s was altered", k);
            else if (strcmp(jstr(o, "prev_hash") ? jstr(o, "prev_hash") : "", prev) != 0)
                rc = mdp_diag_set(d, MDP_ERR_PARSE,
                                  "erasure log: %s does not follow the entry before it", k);
            else if (jint(o, "seq") != i)
                rc = mdp_diag_set(d, MDP_ERR_PARSE, "erasure log: %s holds seq %lld", k,
                                  (long long)jint(o, "seq"));
            else
                snprintf(prev, sizeof prev, "%s", h2);
            if (!rc && i == seq && (b.len != len || memcmp(b.data, text, len) != 0))
                rc = mdp_diag_set(d, MDP_ERR_PARSE,
                                  "the certificate differs from erasure log entry %s", k);
        }
        json_object_put(o);
    }
    mdp_buf_cleanup(&b);
    if (!rc)
        mdp_buf_printf(report, "ok   erasure log entry %lld and the chain before it\n",
                       (long long)seq);
    if (!rc && (user_id || email)) {
        char h[65];
        if (user_id) {
            keyed(key, "user", user_id, h);
            if (!jstr(c, "subject_hmac") || strcmp(h, jstr(c, "subject_hmac")) != 0)
                rc = mdp_diag_set(d, MDP_ERR_PARSE, "the certificate is about another subject");
        }
        if (!rc && email) {
            char low[320];
            json_object *a;
            int hit = 0;
            if (mdp_email_normalize(email, low, sizeof low) > 0) {
                keyed(key, "email", low, h);
                if (json_object_object_get_ex(c, "email_hmacs", &a))
                    for (size_t i = 0; i < json_object_array_length(a) && !hit; i++)
                        hit = strcmp(jat(a, i), h) == 0;
            }
            if (!hit)
                rc = mdp_diag_set(d, MDP_ERR_PARSE, "the certificate is about another subject");
        }
        int64_t files = 0, survivors = 0;
        if (!rc)
            rc = mdp_erase_scan(inv, lake, e, user_id, email, conninfo, NULL, NULL, &files,
                                &survivors, d);
        if (!rc && survivors)
            rc = mdp_diag_set(d, MDP_ERR_EXISTS,
                              "the re-scan finds %lld place(s) still holding the person",
                              (long long)survivors);
        if (!rc)
            mdp_buf_printf(report, "ok   re-scan: %lld file(s) and table(s), no survivor\n",
                           (long long)files);
    }
    json_object_put(c);
    if (!rc && mdp_buf_error(report)) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    return rc;
}
