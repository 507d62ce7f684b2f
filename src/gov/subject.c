/* The subject locator (include/mdp/subject.h, docs/privacy.md §3): resolves a person into keys and
 * finds the records that hold them in every store of the data inventory. The inventory says which
 * columns are subject keys and of which kind; this file has no list of datasets. DuckDB reads the
 * lake's Parquet and CSV; raw JSON is read through the store and parsed by json-c (DuckDB's JSON
 * reader fails a whole query on one broken delivery, and raw keeps those as received), its key
 * columns found at any depth; libpq reads Supabase. Hits are collected and sorted before the caller sees them, so
 * the caller may run queries of its own from the callback. */
#define _GNU_SOURCE /* memmem */
#include "mdp/subject.h"
#include "mdp/alloc.h"
#include "mdp/engine.h"
#include "mdp/hash.h"
#include "mdp/lake.h"
#include "mdp/pseudonym.h"
#include "mdp/snapshot.h"
#include "mdp/state.h"
#include "mdp/store.h"
#include "mdp/uuid.h"
#include "mdp/net.h"

#include <ctype.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 12 /* JSON nesting the matcher follows (documents inside strings included) */

/* ---- sorted string lists ---- */

static int keys_find(const struct mdp_subject_keys *k, const char *v, size_t *at)
{
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(k->v[mid], v);
        if (c == 0) {
            if (at) *at = mid;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (at) *at = lo;
    return 0;
}

static int keys_add(struct mdp_subject_keys *k, const char *v)
{
    size_t at;
    if (!v || !*v || keys_find(k, v, &at)) return 0;
    if (mdp_grow(&k->v, &k->cap, k->n + 1, sizeof *k->v, 4)) return MDP_ERR_NOMEM;
    char *c = mdp_strdup(v);
    if (!c) return MDP_ERR_NOMEM;
    memmove(k->v + at + 1, k->v + at, (k->n - at) * sizeof *k->v);
    k->v[at] = c;
    k->n++;
    return 0;
}

static void keys_cleanup(struct mdp_subject_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    memset(k, 0, sizeof *k);
}

void mdp_subject_free(struct mdp_subject *s)
{
    if (!s) return;
    free(s->user_id);
    keys_cleanup(&s->emails);
    keys_cleanup(&s->email_sha);
    keys_cleanup(&s->email_hmac);
    keys_cleanup(&s->account_ids);
    keys_cleanup(&s->external_ids);
    free(s);
}

/* ---- which keys a dataset's columns match ---- */

static int is_email_kind(enum mdp_subject_kind k)
{
    return k == MDP_SUBJ_EMAIL || k == MDP_SUBJ_EMAIL_LOWER;
}

/* 1 when ds has a key that names one person (user_id or an address in any form). */
static int has_person_key(const struct mdp_inv_dataset *ds)
{
    for (size_t i = 0; i < ds->nsubject_keys; i++)
        if (ds->subject_keys[i].kind != MDP_SUBJ_ACCOUNT_ID &&
            ds->subject_keys[i].kind != MDP_SUBJ_EXTERNAL_ID)
            return 1;
    return 0;
}

/* The subject's keys of kind k, as one list; NULL when the kind has none (user_id: in one). */
static const struct mdp_subject_keys *keys_of(const struct mdp_subject *s, enum mdp_subject_kind k,
                                              int use_account)
{
    switch (k) {
    case MDP_SUBJ_EMAIL:
    case MDP_SUBJ_EMAIL_LOWER:
        return &s->emails;
    case MDP_SUBJ_EMAIL_SHA256:
        return &s->email_sha;
    case MDP_SUBJ_EMAIL_HMAC:
        return &s->email_hmac;
    case MDP_SUBJ_EXTERNAL_ID:
        return &s->external_ids;
    case MDP_SUBJ_ACCOUNT_ID:
        return use_account ? &s->account_ids : NULL;
    case MDP_SUBJ_USER_ID:
        return NULL;
    case MDP_SUBJ_USER_ID_HMAC: {
        /* the consent journal's keyed user pseudonym (i12-journal): not a key the locator
         * derives; the journal is found by its contact rows */
        static const struct mdp_subject_keys NONE = {0};
        return &NONE;
    }
    }
    return NULL;
}

/* Whether value v (a column of kind k) is one of the subject's keys. */
static int value_matches(const struct mdp_subject *s, enum mdp_subject_kind k, int use_account,
                         const char *v)
{
    if (!v || !*v) return 0;
    if (k == MDP_SUBJ_USER_ID) return s->user_id && strcmp(v, s->user_id) == 0;
    const struct mdp_subject_keys *ks = keys_of(s, k, use_account);
    if (!ks || ks->n == 0) return 0;
    if (is_email_kind(k)) {
        char norm[320];
        if (mdp_email_normalize(v, norm, sizeof norm) < 0) return 0;
        return keys_find(ks, norm, NULL);
    }
    if (k == MDP_SUBJ_EMAIL_SHA256 || k == MDP_SUBJ_EMAIL_HMAC) {
        char low[80];
        size_t n = strlen(v);
        if (n >= sizeof low) return 0;
        for (size_t i = 0; i <= n; i++)
            low[i] = (char)tolower((unsigned char)v[i]);
        return keys_find(ks, low, NULL);
    }
    return keys_find(ks, v, NULL);
}

/* 1 when kind k of dataset ds can match anything of s. */
static int kind_usable(const struct mdp_subject *s, enum mdp_subject_kind k, int use_account)
{
    if (k == MDP_SUBJ_USER_ID) return s->user_id != NULL;
    const struct mdp_subject_keys *ks = keys_of(s, k, use_account);
    return ks && ks->n > 0;
}

int mdp_subject_readable(const struct mdp_subject_ctx *ctx, const struct mdp_inv_dataset *ds)
{
    if (ds->nsubject_keys == 0) return 0;
    switch (ds->store) {
    case MDP_INV_RAW:
    case MDP_INV_CURATED:
    case MDP_INV_ML:
    case MDP_INV_SERVING:
        return 1;
    case MDP_INV_STATE:
        return ctx->state != NULL;
    case MDP_INV_SUPABASE:
        return ctx->pg_conninfo != NULL;
    default:
        return 0;
    }
}

/* ---- SQL over the lake ---- */

static void quote_ident(struct mdp_buf *b, const char *name)
{
    mdp_buf_putc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"') mdp_buf_putc(b, '"');
        mdp_buf_putc(b, *p);
    }
    mdp_buf_putc(b, '"');
}

static void sql_list(struct mdp_buf *b, const struct mdp_subject_keys *k)
{
    mdp_buf_putc(b, '(');
    for (size_t i = 0; i < k->n; i++) {
        if (i) mdp_buf_putc(b, ',');
        mdp_sql_quote(b, k->v[i]);
    }
    mdp_buf_putc(b, ')');
}

/* Appends the condition "this row holds the subject" over ds's key columns (DuckDB dialect).
 * person_only: only user_id and address kinds. Returns the number of terms (0: cannot match). */
static int sql_where(struct mdp_buf *b, const struct mdp_inv_dataset *ds,
                     const struct mdp_subject *s, int person_only)
{
    int use_account = !has_person_key(ds), n = 0;
    for (size_t i = 0; i < ds->nsubject_keys; i++) {
        const struct mdp_inv_subject_key *k = &ds->subject_keys[i];
        if (person_only && (k->kind == MDP_SUBJ_ACCOUNT_ID || k->kind == MDP_SUBJ_EXTERNAL_ID))
            continue;
        if (!kind_usable(s, k->kind, use_account)) continue;
        mdp_buf_puts(b, n++ ? " OR " : "(");
        if (is_email_kind(k->kind)) {
            mdp_buf_puts(b, "lower(trim(CAST(");
            quote_ident(b, k->column);
            mdp_buf_puts(b, " AS VARCHAR))) IN ");
        } else if (k->kind == MDP_SUBJ_EMAIL_SHA256 || k->kind == MDP_SUBJ_EMAIL_HMAC) {
            mdp_buf_puts(b, "lower(CAST(");
            quote_ident(b, k->column);
            mdp_buf_puts(b, " AS VARCHAR)) IN ");
        } else {
            mdp_buf_puts(b, "CAST(");
            quote_ident(b, k->column);
            mdp_buf_puts(b, " AS VARCHAR) IN ");
        }
        if (k->kind == MDP_SUBJ_USER_ID) {
            mdp_buf_putc(b, '(');
            mdp_sql_quote(b, s->user_id);
            mdp_buf_putc(b, ')');
        } else {
            sql_list(b, keys_of(s, k->kind, use_account));
        }
    }
    if (n) mdp_buf_putc(b, ')');
    return n;
}

static int ends_with(const char *s, const char *suffix);

/* A file of the lake: its key and its local path (what DuckDB's filename column gives back). */
struct lfile {
    char *key, *path;
};
struct lfiles {
    struct lfile *v;
    size_t n, cap;
};

static void lfiles_cleanup(struct lfiles *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].key);
        free(f->v[i].path);
    }
    free(f->v);
    memset(f, 0, sizeof *f);
}

/* The local path of key (bytes: its size when known, else -1); an S3 lake's object is staged into
 * its cache first (a no-op on file://), so that the engine reads the same bytes in both modes. */
static int lfiles_add(struct mdp_lake *lake, struct lfiles *f, const char *key, int64_t bytes,
                      struct mdp_diag *d)
{
    struct mdp_buf p;
    mdp_buf_init(&p);
    int rc = mdp_store_stage_object(lake->store, key, bytes, d);
    if (rc) return rc;
    rc = mdp_store_local_path(lake->store, key, &p);
    if (!rc && mdp_grow(&f->v, &f->cap, f->n + 1, sizeof *f->v, 16)) rc = MDP_ERR_NOMEM;
    if (!rc) {
        f->v[f->n].key = mdp_strdup(key);
        f->v[f->n].path = mdp_buf_steal(&p);
        if (!f->v[f->n].key || !f->v[f->n].path) {
            free(f->v[f->n].key);
            free(f->v[f->n].path);
            rc = MDP_ERR_NOMEM;
        } else {
            f->n++;
        }
    }
    mdp_buf_cleanup(&p);
    return rc;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const struct lfile *)a)->path, ((const struct lfile *)b)->path);
}

static const char *lfiles_key(const struct lfiles *f, const char *path)
{
    struct lfile probe = {NULL, (char *)path};
    const struct lfile *hit = bsearch(&probe, f->v, f->n, sizeof *f->v, cmp_path);
    return hit ? hit->key : NULL;
}

enum rawfmt { FMT_CSV = 1, FMT_JSON = 2 };

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

struct list_raw {
    struct mdp_lake *lake;
    struct lfiles *f;
    enum rawfmt fmt;
    struct mdp_diag *d;
};

static int list_raw_one(const char *key, int64_t size, void *ud)
{
    struct list_raw *l = ud;
    int csv = ends_with(key, ".csv");
    int json = ends_with(key, ".json") || ends_with(key, ".ndjson");
    if ((l->fmt == FMT_CSV && !csv) || (l->fmt == FMT_JSON && !json)) return 0;
    return lfiles_add(l->lake, l->f, key, size, l->d);
}

/* The raw objects of ds in format fmt. */
static int raw_files(const struct mdp_subject_ctx *ctx, const struct mdp_inv_dataset *ds,
                     enum rawfmt fmt, struct lfiles *out, struct mdp_diag *d)
{
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s/", ds->location);
    struct list_raw l = {ctx->lake, out, fmt, d};
    int rc = mdp_store_list(ctx->lake->store, prefix, list_raw_one, &l, d);
    if (rc == MDP_ERR_NOMEM) return mdp_diag_set(d, rc, "out of memory listing %s", prefix);
    if (!rc && out->n) qsort(out->v, out->n, sizeof *out->v, cmp_path);
    return rc;
}

/* The Parquet files of the current version of a published table (none when never published). */
static int table_files(const struct mdp_subject_ctx *ctx, const struct mdp_inv_dataset *ds,
                       struct lfiles *out, int *out_snapshot, struct mdp_diag *d)
{
    struct mdp_manifest m;
    *out_snapshot = 0;
    int rc = mdp_lake_current(ctx->lake, ds->location, &m, d);
    if (rc == MDP_ERR_NOT_FOUND) return 0;
    if (rc) return rc;
    for (size_t i = 0; !rc && i < m.nfiles; i++) {
        if (!ends_with(m.files[i].key, ".parquet")) {
            if (ends_with(m.files[i].key, ".bin")) *out_snapshot = 1;
            if (ends_with(m.files[i].key, ".bin"))
                rc = lfiles_add(ctx->lake, out, m.files[i].key, m.files[i].bytes, d);
            continue;
        }
        rc = lfiles_add(ctx->lake, out, m.files[i].key, m.files[i].bytes, d);
    }
    mdp_manifest_cleanup(&m);
    if (rc == MDP_ERR_NOMEM) return mdp_diag_set(d, rc, "out of memory reading %s", ds->location);
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_path);
    return rc;
}

/* Appends "read_parquet([paths], options)" or "read_csv(...)" for the files f. */
static void sql_from(struct mdp_buf *b, int parquet, const struct lfiles *f, int filename)
{
    mdp_buf_puts(b, parquet ? "read_parquet([" : "read_csv([");
    for (size_t i = 0; i < f->n; i++) {
        if (i) mdp_buf_putc(b, ',');
        mdp_sql_quote(b, f->v[i].path);
    }
    if (parquet)
        mdp_buf_puts(b, "], hive_partitioning = false, union_by_name = true");
    else
        /* no union_by_name: sniffing every file's header costs seconds on a month of daily
         * exports; a header that changed between days fails the query (loudly) instead */
        mdp_buf_puts(b, "], header = true, all_varchar = true, delim = ',', quote = '\"', "
                        "escape = '\"', hive_partitioning = false");
    mdp_buf_puts(b, filename ? ", filename = true)" : ")");
}

static int sql_ready(struct mdp_buf *b, struct mdp_diag *d)
{
    if (mdp_buf_error(b)) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory building a query");
    return 0;
}

/* ---- collected hits ---- */

struct hit {
    char *location, *pk, *sk;
    int64_t rows;
};
struct hits {
    struct hit *v;
    size_t n, cap;
};

static int hits_add(struct hits *h, const char *loc, const char *pk, const char *sk, int64_t rows)
{
    if (mdp_grow(&h->v, &h->cap, h->n + 1, sizeof *h->v, 8)) return MDP_ERR_NOMEM;
    struct hit *x = &h->v[h->n];
    memset(x, 0, sizeof *x);
    x->location = mdp_strdup(loc);
    x->pk = pk ? mdp_strdup(pk) : NULL;
    x->sk = sk ? mdp_strdup(sk) : NULL;
    x->rows = rows;
    if (!x->location || (pk && !x->pk) || (sk && !x->sk)) {
        free(x->location);
        free(x->pk);
        free(x->sk);
        return MDP_ERR_NOMEM;
    }
    h->n++;
    return 0;
}

static void hits_cleanup(struct hits *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].location);
        free(h->v[i].pk);
        free(h->v[i].sk);
    }
    free(h->v);
    memset(h, 0, sizeof *h);
}

static int cmp_hit(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    int c = strcmp(x->location, y->location);
    if (c) return c;
    c = strcmp(x->pk ? x->pk : "", y->pk ? y->pk : "");
    if (c) return c;
    return strcmp(x->sk ? x->sk : "", y->sk ? y->sk : "");
}

/* ---- JSON records ---- */

struct matcher {
    const struct mdp_inv_dataset *ds;
    const struct mdp_subject *s;
    int use_account;
};

static int kind_of_column(const struct mdp_inv_dataset *ds, const char *name)
{
    for (size_t i = 0; i < ds->nsubject_keys; i++)
        if (strcmp(ds->subject_keys[i].column, name) == 0) return (int)ds->subject_keys[i].kind;
    return 0;
}

static int json_holds(const struct matcher *m, json_object *o, int kind, int depth);

static int string_holds(const struct matcher *m, const char *v, int kind, int depth)
{
    if (kind && value_matches(m->s, (enum mdp_subject_kind)kind, m->use_account, v)) return 1;
    const char *p = v;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    if ((*p == '{' || *p == '[') && depth < MAX_DEPTH) {
        /* a JSON document carried as a string (an SNS message inside an SQS body) */
        json_object *inner = json_tokener_parse(p);
        int r = inner ? json_holds(m, inner, kind, depth + 1) : 0;
        json_object_put(inner);
        return r;
    }
    return 0;
}

static int json_holds(const struct matcher *m, json_object *o, int kind, int depth)
{
    if (!o || depth > MAX_DEPTH) return 0;
    switch (json_object_get_type(o)) {
    case json_type_object: {
        json_object_object_foreach(o, k, v)
        {
            int kk = kind_of_column(m->ds, k);
            if (json_holds(m, v, kk ? kk : kind, depth + 1)) return 1;
        }
        return 0;
    }
    case json_type_array: {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
            if (json_holds(m, json_object_array_get_idx(o, i), kind, depth + 1)) return 1;
        return 0;
    }
    case json_type_string:
        return string_holds(m, json_object_get_string(o), kind, depth);
    case json_type_int:
    case json_type_double:
        return kind && value_matches(m->s, (enum mdp_subject_kind)kind, m->use_account,
                                     json_object_get_string(o));
    default:
        return 0;
    }
}

/* The records of a JSON value: the elements of its one top-level array of objects, or itself. */
static json_object *records_array(json_object *o)
{
    if (json_object_get_type(o) != json_type_object) return NULL;
    json_object *found = NULL;
    int n = 0;
    json_object_object_foreach(o, k, v)
    {
        (void)k;
        if (json_object_get_type(v) != json_type_array || json_object_array_length(v) == 0)
            continue;
        int all = 1;
        for (size_t i = 0; all && i < json_object_array_length(v); i++)
            all = json_object_get_type(json_object_array_get_idx(v, i)) == json_type_object;
        if (all) {
            found = v;
            n++;
        }
    }
    return n == 1 ? found : NULL;
}

/* ---- raw JSON objects: read through the store, framed and parsed by json-c ---- */

/* Called per record that holds the subject: a parsed record, or the text of a part that is no
 * JSON (a truncated or broken delivery ingest quarantined) which names one of the keys. */
typedef int (*rec_cb)(json_object *rec, const char *unparsed, size_t ulen, void *ud);

/* The bytes of the raw object key into out (reset first), gzip'd deliveries inflated. */
static int raw_read(const struct mdp_subject_ctx *ctx, const char *key, struct mdp_buf *out,
                    struct mdp_diag *d)
{
    struct mdp_buf raw;
    mdp_buf_init(&raw);
    mdp_buf_reset(out);
    int rc = mdp_store_get(ctx->lake->store, key, &raw, d);
    if (!rc && mdp_gzip_magic(raw.data, raw.len)) {
        /* a damaged delivery (kept in raw as received) is read as far as it inflates: what it
         * holds up to the damage is still the person's */
        if (mdp_buf_gunzip(out, raw.data, raw.len) == MDP_ERR_NOMEM)
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory inflating %s", key);
    } else if (!rc) {
        mdp_buf_cleanup(out); /* its old bytes: out takes raw's */
        *out = raw;
        mdp_buf_init(&raw);
    }
    mdp_buf_cleanup(&raw);
    if (rc) mdp_buf_reset(out);
    return rc;
}

static int has_kind_text(const struct matcher *m, const char *text, size_t len, const char *lower)
{
    for (size_t i = 0; i < m->ds->nsubject_keys; i++) {
        enum mdp_subject_kind k = m->ds->subject_keys[i].kind;
        if (!kind_usable(m->s, k, m->use_account)) continue;
        int folded = is_email_kind(k) || k == MDP_SUBJ_EMAIL_SHA256 || k == MDP_SUBJ_EMAIL_HMAC;
        const char *hay = folded ? lower : text;
        if (k == MDP_SUBJ_USER_ID) {
            if (memmem(text, len, m->s->user_id, strlen(m->s->user_id))) return 1;
            continue;
        }
        const struct mdp_subject_keys *ks = keys_of(m->s, k, m->use_account);
        for (size_t x = 0; x < ks->n; x++)
            if (memmem(hay, len, ks->v[x], strlen(ks->v[x]))) return 1;
    }
    return 0;
}

/* Finds the records of one raw object (text) that hold the subject: NDJSON by line, JSON as one
 * or more values written one after the other; a value is split into records by records_array.
 * A part that does not parse counts as one record when its text names one of the keys (a
 * conservative reading: what cannot be parsed is still the person's if it names them). each
 * (may be NULL) sees every match; *out_n gets their number. Returns 0, each's value, or
 * MDP_ERR_NOMEM with d. */
static int raw_records(const struct matcher *m, const char *key, const struct mdp_buf *text,
                       rec_cb each, void *ud, int64_t *out_n, struct mdp_diag *d)
{
    *out_n = 0;
    if (!text->len) return 0;
    const char *t = text->data;
    size_t len = text->len;
    /* the text with ASCII folded, for addresses and hashes (the keys are lower-case) */
    char *lower = mdp_malloc(len + 1);
    if (!lower) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory reading %s", key);
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)tolower((unsigned char)t[i]);
    lower[len] = '\0';
    int rc = 0;
    if (!has_kind_text(m, t, len, lower)) goto out; /* names none of the keys: nothing to parse */
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory reading %s", key);
        goto out;
    }
    int ndjson = ends_with(key, ".ndjson");
    size_t a = 0;
    while (!rc && a < len) {
        while (a < len && strchr(" \t\r\n", t[a]) && t[a])
            a++;
        if (a >= len) break;
        size_t b = len;
        if (ndjson) {
            const char *nl = memchr(t + a, '\n', len - a);
            b = nl ? (size_t)(nl - t) : len;
        }
        json_tokener_reset(tok);
        json_object *o = json_tokener_parse_ex(tok, t + a, (int)(b - a));
        size_t end = a + json_tokener_get_parse_end(tok);
        int ok = o && json_tokener_get_error(tok) == json_tokener_success;
        if (ok && ndjson) /* the line holds one value and nothing else */
            for (size_t i = end; i < b && ok; i++)
                ok = strchr(" \t\r", t[i]) != NULL && t[i];
        if (!ok) {
            json_object_put(o);
            /* a line of NDJSON, or the rest of a JSON object, that is not JSON */
            if (has_kind_text(m, t + a, b - a, lower + a)) {
                (*out_n)++;
                if (each) rc = each(NULL, t + a, b - a, ud);
            }
            a = b;
            continue;
        }
        json_object *arr = records_array(o);
        size_t cnt = arr ? json_object_array_length(arr) : 1;
        for (size_t i = 0; !rc && i < cnt; i++) {
            json_object *rec = arr ? json_object_array_get_idx(arr, i) : o;
            if (!json_holds(m, rec, 0, 0)) continue;
            (*out_n)++;
            if (each) rc = each(rec, NULL, 0, ud);
        }
        json_object_put(o);
        a = ndjson ? b : end;
    }
    json_tokener_free(tok);
out:
    free(lower);
    return rc;
}

int mdp_subject_json_match(const struct mdp_inv_dataset *ds, const struct mdp_subject *s,
                           const char *text, size_t len, int64_t *out_records, int64_t *out_matches)
{
    if (out_records) *out_records = 0;
    if (out_matches) *out_matches = 0;
    char *copy = mdp_strndup(text, len);
    if (!copy) return MDP_ERR_NOMEM;
    json_object *o = NULL;
    if (strlen(copy) == len) { /* a NUL inside is no JSON text */
        json_tokener *tok = json_tokener_new();
        if (!tok) {
            free(copy);
            return MDP_ERR_NOMEM;
        }
        o = json_tokener_parse_ex(tok, copy, (int)len);
        /* one value and nothing after it but white space */
        if (o && json_tokener_get_error(tok) == json_tokener_success) {
            for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
                if (!strchr(" \t\r\n", copy[i])) {
                    json_object_put(o);
                    o = NULL;
                    break;
                }
        } else {
            json_object_put(o);
            o = NULL;
        }
        json_tokener_free(tok);
    }
    free(copy);
    if (!o) return MDP_ERR_PARSE;
    struct matcher m = {ds, s, !has_person_key(ds)};
    json_object *arr = records_array(o);
    size_t cnt = arr ? json_object_array_length(arr) : 1;
    int64_t hits = 0;
    for (size_t i = 0; i < cnt; i++)
        hits += json_holds(&m, arr ? json_object_array_get_idx(arr, i) : o, 0, 0);
    json_object_put(o);
    if (out_records) *out_records = (int64_t)cnt;
    if (out_matches) *out_matches = hits;
    return 0;
}

/* ---- locating per store ---- */

struct count_scan {
    const struct lfiles *f;
    struct hits *h;
};

static int count_row(void *ud, int ncols, const char *const *v)
{
    struct count_scan *c = ud;
    if (ncols < 2 || !v[0] || !v[1]) return 0;
    const char *key = lfiles_key(c->f, v[0]);
    int64_t n = strtoll(v[1], NULL, 10);
    if (!key || n <= 0) return 0;
    return hits_add(c->h, key, NULL, NULL, n);
}

/* Counts the subject's rows per file of a CSV or Parquet file set with one query. */
static int locate_files(const struct mdp_subject_ctx *ctx, const struct mdp_inv_dataset *ds,
                        const struct mdp_subject *s, int parquet, const struct lfiles *f,
                        struct hits *h, struct mdp_diag *d)
{
    if (f->n == 0) return 0;
    struct mdp_buf sql;
    mdp_buf_init(&sql);
    mdp_buf_puts(&sql, "SELECT filename, count(*) FROM ");
    sql_from(&sql, parquet, f, 1);
    mdp_buf_puts(&sql, " WHERE ");
    int rc = 0;
    if (sql_where(&sql, ds, s, 0)) {
        mdp_buf_puts(&sql, " GROUP BY filename ORDER BY filename");
        rc = sql_ready(&sql, d);
        struct count_scan c = {f, h};
        struct mdp_rows_cb cb = {NULL, count_row, &c};
        if (!rc) rc = mdp_engine_query(ctx->e, sql.data, &cb, d);
        if (rc == MDP_ERR_NOMEM)
            mdp_diag_set(d, rc, "out of memory locating in %s", ds->name);
        else if (rc && d)
            mdp_diag_set(d, rc, "%s: %.400s", ds->name, d->msg);
    }
    mdp_buf_cleanup(&sql);
    return rc;
}

static int locate_raw(const struct mdp_subject_ctx *ctx, const struct mdp_inv_dataset *ds,
                      const struct mdp_subject *s, struct hits *h, struct mdp_diag *d)
{
    struct lfiles csv = {0}, json = {0};
    struct mdp_buf text;
    mdp_buf_init(&text);
    int rc = raw_files(ctx, ds, FMT_CSV, &csv, d);
    if (!rc) rc = raw_files(ctx, ds, FMT_JSON, &json, d);
    if (!rc) rc = locate_files(ctx, ds, s, 0, &csv, h, d);
    struct matcher m = {ds, s, !has_person_key(ds)};
    for (size_t i = 0; !rc && i < json.n; i++) {
        int64_t n = 0;
        rc = raw_read(ctx, json.v[i].key, &text, d);
        if (!rc) rc = raw_records(&m, json.v[i].key, &text, NULL, NULL, &n, d);
        if (!rc && n > 0 && hits_add(h, json.v[i].key, NULL, NULL, n))
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory locating a subject");
    }
    mdp_buf_cleanup(&text);
    lfiles_cleanup(&csv);
    lfiles_cleanup(&json);
    return rc;
}

/* The serving snapshot: one record per user, found by binary search. */
static int snapshot_find(const char *path, const char *user_id, struct mdp_snapshot **out_snap,
                         const struct mdp_snapshot_rec **out_rec, struct mdp_diag *d)
{
    struct mdp_uuid u;
    *out_snap = NULL;
    *out_rec = NULL;
    if (!user_id || mdp_uuid_parse(user_id, &u)) return 0;
    int rc = mdp_snapshot_open(path, out_snap, d);
    if (!rc) *out_rec = mdp_snapshot_find(*out_snap, u.b);
    return rc;
}

static int locate_table(const struct mdp_subject_ctx *ctx, const struct mdp_inv_dataset *ds,
                        const struct mdp_subject *s, struct hits *h, struct mdp_diag *d)
{
    struct lfiles f = {0};
    int snap = 0;
    int rc = table_files(ctx, ds, &f, &snap, d);
    if (!rc && snap) {
        for (size_t i = 0; !rc && i < f.n; i++) {
            struct mdp_snapshot *sn = NULL;
            const struct mdp_snapshot_rec *r = NULL;
            rc = snapshot_find(f.v[i].path, s->user_id, &sn, &r, d);
            if (!rc && r) rc = hits_add(h, f.v[i].key, NULL, NULL, 1);
            mdp_snapshot_close(sn);
        }
    } else if (!rc) {
        rc = locate_files(ctx, ds, s, 1, &f, h, d);
    }
    lfiles_cleanup(&f);
    return rc;
}

struct state_scan {
    const struct matcher *m;
    struct hits *h;
    const char *table;
    int rc;
};

/* whether (loc, pk, sk) is a hit already (the index found it) */
static int hit_has(const struct hits *h, const char *loc, const char *pk, const char *sk)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].pk && h->v[i].sk && strcmp(h->v[i].location, loc) == 0 &&
            strcmp(h->v[i].pk, pk) == 0 && strcmp(h->v[i].sk, sk) == 0)
            return 1;
    return 0;
}

static int state_one(const struct mdp_state_item *it, void *ud)
{
    struct state_scan *st = ud;
    if (hit_has(st->h, st->table, it->pk, it->sk)) return 0;
    json_object *o = json_tokener_parse(it->body ? it->body : "");
    if (!o) return 0; /* not a JSON body: an item the inventory describes otherwise */
    int holds = json_holds(st->m, o, 0, 0);
    json_object_put(o);
    if (holds && hits_add(st->h, st->table, it->pk, it->sk, 1)) return st->rc = MDP_ERR_NOMEM;
    return 0;
}

struct indexed {
    const char *table;
    struct hits *h;
};

static int indexed_one(const char *table, const struct mdp_state_item *it, void *ud)
{
    struct indexed *x = ud;
    if (strcmp(table, x->table) != 0 || hit_has(x->h, table, it->pk, it->sk)) return 0;
    return hits_add(x->h, table, it->pk, it->sk, 1) ? MDP_ERR_NOMEM : 0;
}

/* The items of ds the state store's per-subject index holds for s (its user id's and addresses'
 * pseudonyms, mdp/pseudonym.h). The lake's subject key is only read: a lake without one has no
 * indexed item, and a look-up (an export, a dry run) must not create it. */
static int locate_indexed(const struct mdp_subject_ctx *ctx, const struct mdp_inv_dataset *ds,
                          const struct mdp_subject *s, struct hits *h, struct mdp_diag *d)
{
    unsigned char key[MDP_SUBJECT_KEY_LEN];
    int found = 0;
    int rc = mdp_subject_key_find(ctx->state, key, &found, d);
    if (rc || !found) return rc;
    struct indexed x = {ds->location, h};
    char p[65];
    if (!rc && s->user_id &&
        !(rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_USER_ID, s->user_id, p, d)))
        rc = mdp_state_query_subject(ctx->state, p, indexed_one, &x, d);
    for (size_t i = 0; !rc && i < s->emails.n; i++)
        if (!(rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_EMAIL, s->emails.v[i], p, d)))
            rc = mdp_state_query_subject(ctx->state, p, indexed_one, &x, d);
    for (size_t i = 0; !rc && i < s->email_sha.n; i++)
        if (!(rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_EMAIL_SHA256, s->email_sha.v[i], p, d)))
            rc = mdp_state_query_subject(ctx->state, p, indexed_one, &x, d);
    OPENSSL_cleanse(key, sizeof key);
    if (rc == MDP_ERR_NOMEM) mdp_diag_set(d, rc, "out of memory locating a subject");
    return rc;
}

static int locate_state(const struct mdp_subject_ctx *ctx, const struct mdp_inv_dataset *ds,
                        const struct mdp_subject *s, struct hits *h, struct mdp_diag *d)
{
    /* the index first; the scan then finds what was written before the index existed (state
     * files older than the subject column) by the subject keys in the items' bodies */
    int rc = locate_indexed(ctx, ds, s, h, d);
    if (rc) return rc;
    struct matcher m = {ds, s, !has_person_key(ds)};
    struct state_scan st = {&m, h, ds->location, 0};
    rc = mdp_state_scan(ctx->state, ds->location, state_one, &st, d);
    if (st.rc) rc = mdp_diag_set(d, st.rc, "out of memory scanning %s", ds->location);
    return rc;
}

/* ---- Supabase ---- */

static int pg_connect(const struct mdp_subject_ctx *ctx, PGconn **out, struct mdp_diag *d)
{
    PGconn *pg = mdp_net_pg_connect(ctx->pg_conninfo);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        int rc = mdp_diag_set(d, MDP_ERR_IO, "cannot connect to PostgreSQL (Supabase): %s",
                              pg ? PQerrorMessage(pg) : "out of memory");
        /* the message is libpq's, which names host and port but never the password */
        size_t n = strlen(d ? d->msg : "");
        while (d && n && (d->msg[n - 1] == '\n' || d->msg[n - 1] == ' '))
            d->msg[--n] = '\0';
        PQfinish(pg);
        *out = NULL;
        return rc;
    }
    *out = pg;
    return 0;
}

/* A PostgreSQL text[] literal of k. */
static void pg_array(struct mdp_buf *b, const struct mdp_subject_keys *k)
{
    mdp_buf_putc(b, '{');
    for (size_t i = 0; i < k->n; i++) {
        if (i) mdp_buf_putc(b, ',');
        mdp_buf_putc(b, '"');
        for (const char *p = k->v[i]; *p; p++) {
            if (*p == '"' || *p == '\\') mdp_buf_putc(b, '\\');
            mdp_buf_putc(b, *p);
        }
        mdp_buf_putc(b, '"');
    }
    mdp_buf_putc(b, '}');
}

/* The query "SELECT <what> FROM schema.table t WHERE <subject>" with parameters $1 user_id, $2
 * emails, $3 sha, $4 hmac, $5 external ids, $6 account ids. Returns the number of terms. */
static int pg_sql(PGconn *pg, struct mdp_buf *b, const struct mdp_inv_dataset *ds,
                  const struct mdp_subject *s, const char *what, int person_only)
{
    const char *dot = strchr(ds->location, '.');
    char schema[128], table[128];
    snprintf(schema, sizeof schema, "%.*s", dot ? (int)(dot - ds->location) : 6,
             dot ? ds->location : "public");
    snprintf(table, sizeof table, "%s", dot ? dot + 1 : ds->location);
    char *qs = PQescapeIdentifier(pg, schema, strlen(schema));
    char *qt = PQescapeIdentifier(pg, table, strlen(table));
    mdp_buf_printf(b, "SELECT %s FROM %s.%s t WHERE ", what, qs ? qs : "\"?\"", qt ? qt : "\"?\"");
    if (!qs || !qt) b->err = b->err ? b->err : MDP_ERR_NOMEM;
    PQfreemem(qs);
    PQfreemem(qt);
    int use_account = !has_person_key(ds), n = 0;
    for (size_t i = 0; i < ds->nsubject_keys; i++) {
        const struct mdp_inv_subject_key *k = &ds->subject_keys[i];
        if (person_only && (k->kind == MDP_SUBJ_ACCOUNT_ID || k->kind == MDP_SUBJ_EXTERNAL_ID))
            continue;
        if (!kind_usable(s, k->kind, use_account)) continue;
        char *qc = PQescapeIdentifier(pg, k->column, strlen(k->column));
        if (!qc) {
            b->err = b->err ? b->err : MDP_ERR_NOMEM;
            continue;
        }
        mdp_buf_puts(b, n++ ? " OR " : "(");
        switch (k->kind) {
        case MDP_SUBJ_USER_ID:
            mdp_buf_printf(b, "t.%s::text = $1", qc);
            break;
        case MDP_SUBJ_EMAIL:
        case MDP_SUBJ_EMAIL_LOWER:
            mdp_buf_printf(b, "lower(btrim(t.%s::text)) = ANY($2::text[])", qc);
            break;
        case MDP_SUBJ_EMAIL_SHA256:
            mdp_buf_printf(b, "lower(t.%s::text) = ANY($3::text[])", qc);
            break;
        case MDP_SUBJ_EMAIL_HMAC:
            mdp_buf_printf(b, "lower(t.%s::text) = ANY($4::text[])", qc);
            break;
        case MDP_SUBJ_EXTERNAL_ID:
            mdp_buf_printf(b, "t.%s::text = ANY($5::text[])", qc);
            break;
        case MDP_SUBJ_ACCOUNT_ID:
            mdp_buf_printf(b, "t.%s::text = ANY($6::text[])", qc);
            break;
        case MDP_SUBJ_USER_ID_HMAC:
            mdp_buf_puts(b, "false");
            break;
        }
        PQfreemem(qc);
    }
    if (n) mdp_buf_putc(b, ')');
    return n;
}

/* Runs a query built by pg_sql; *out (PQclear) holds its rows. */
static int pg_run(PGconn *pg, const char *sql, const struct mdp_subject *s,
                  const struct mdp_inv_dataset *ds, PGresult **out, struct mdp_diag *d)
{
    struct mdp_buf a[5];
    const struct mdp_subject_keys *lists[5] = {&s->emails, &s->email_sha, &s->email_hmac,
                                               &s->external_ids, &s->account_ids};
    const char *params[6] = {s->user_id};
    int rc = 0;
    for (int i = 0; i < 5; i++) {
        mdp_buf_init(&a[i]);
        pg_array(&a[i], lists[i]);
        if (mdp_buf_error(&a[i])) rc = MDP_ERR_NOMEM;
        params[i + 1] = a[i].data;
    }
    const Oid types[6] = {25, 1009, 1009, 1009, 1009, 1009}; /* text, text[] */
    PGresult *r = NULL;
    if (!rc) {
        r = PQexecParams(pg, sql, 6, types, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = mdp_diag_set(d, MDP_ERR_IO, "Supabase %s: %s", ds->location,
                              PQresultErrorMessage(r));
            PQclear(r);
            r = NULL;
        }
    } else {
        mdp_diag_set(d, rc, "out of memory querying %s", ds->location);
    }
    for (int i = 0; i < 5; i++)
        mdp_buf_cleanup(&a[i]);
    *out = r;
    return rc;
}

static int locate_supabase(PGconn *pg, const struct mdp_inv_dataset *ds,
                           const struct mdp_subject *s, struct hits *h, struct mdp_diag *d)
{
    struct mdp_buf sql;
    mdp_buf_init(&sql);
    int rc = 0;
    if (pg_sql(pg, &sql, ds, s, "count(*)", 0)) {
        PGresult *r = NULL;
        rc = sql_ready(&sql, d);
        if (!rc) rc = pg_run(pg, sql.data, s, ds, &r, d);
        int64_t n = (!rc && PQntuples(r) == 1) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
        if (!rc && n > 0 && hits_add(h, ds->location, NULL, NULL, n))
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        PQclear(r);
    }
    mdp_buf_cleanup(&sql);
    return rc;
}

/* ---- resolving ---- */

struct collect {
    struct mdp_subject_keys *out;
    enum mdp_subject_kind kind;
    int rc;
};

/* Adds a value of a column of kind c->kind, normalized as the kind is compared. */
static int collect_value(struct collect *c, const char *v)
{
    if (!v || !*v) return 0;
    if (is_email_kind(c->kind)) {
        char norm[320];
        if (mdp_email_normalize(v, norm, sizeof norm) < 0 || !strchr(norm, '@')) return 0;
        return keys_add(c->out, norm);
    }
    if (c->kind == MDP_SUBJ_EMAIL_SHA256 || c->kind == MDP_SUBJ_EMAIL_HMAC) {
        char low[80];
        size_t n = strlen(v);
        if (n >= sizeof low) return 0;
        for (size_t i = 0; i <= n; i++)
            low[i] = (char)tolower((unsigned char)v[i]);
        return keys_add(c->out, low);
    }
    return keys_add(c->out, v);
}

static int collect_row(void *ud, int ncols, const char *const *v)
{
    struct collect *c = ud;
    if (ncols >= 1 && collect_value(c, v[0])) return c->rc = MDP_ERR_NOMEM;
    return 0;
}

/* Collects into out the values of every column of kind `to` in the rows that hold the subject by
 * its own keys (user_id, addresses), over the datasets of the stores allowed. */
static int follow(const struct mdp_subject_ctx *ctx, PGconn *pg, const struct mdp_subject *s,
                  enum mdp_subject_kind to, int tables_only, struct mdp_subject_keys *out,
                  struct mdp_diag *d)
{
    const struct mdp_inventory *inv = ctx->inv;
    int rc = 0;
    for (size_t i = 0; !rc && i < inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &inv->datasets[i];
        int table = ds->store == MDP_INV_CURATED || ds->store == MDP_INV_ML;
        if (tables_only && !table) continue;
        if (!table && ds->store != MDP_INV_RAW && !(ds->store == MDP_INV_SUPABASE && pg)) continue;
        for (size_t k = 0; !rc && k < ds->nsubject_keys; k++) {
            enum mdp_subject_kind kind = ds->subject_keys[k].kind;
            if (kind != to && !(is_email_kind(to) && is_email_kind(kind))) continue;
            const char *col = ds->subject_keys[k].column;
            struct collect c = {out, kind, 0};
            struct mdp_buf sql;
            mdp_buf_init(&sql);
            if (ds->store == MDP_INV_SUPABASE) {
                char *qc = PQescapeIdentifier(pg, col, strlen(col));
                char what[300];
                snprintf(what, sizeof what, "DISTINCT t.%s::text", qc ? qc : "\"?\"");
                PQfreemem(qc);
                if (pg_sql(pg, &sql, ds, s, what, 1)) {
                    PGresult *r = NULL;
                    rc = sql_ready(&sql, d);
                    if (!rc) rc = pg_run(pg, sql.data, s, ds, &r, d);
                    for (int row = 0; !rc && r && row < PQntuples(r); row++)
                        if (!PQgetisnull(r, row, 0) && collect_value(&c, PQgetvalue(r, row, 0)))
                            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
                    PQclear(r);
                }
                mdp_buf_cleanup(&sql);
                continue;
            }
            struct lfiles f = {0};
            int snap = 0;
            rc = table ? table_files(ctx, ds, &f, &snap, d) : raw_files(ctx, ds, FMT_CSV, &f, d);
            if (!rc && f.n && !snap) {
                mdp_buf_puts(&sql, "SELECT DISTINCT CAST(");
                quote_ident(&sql, col);
                mdp_buf_puts(&sql, " AS VARCHAR) FROM ");
                sql_from(&sql, table, &f, 0);
                mdp_buf_puts(&sql, " WHERE ");
                if (sql_where(&sql, ds, s, 1)) {
                    rc = sql_ready(&sql, d);
                    struct mdp_rows_cb cb = {NULL, collect_row, &c};
                    if (!rc) rc = mdp_engine_query(ctx->e, sql.data, &cb, d);
                    if (c.rc)
                        rc = mdp_diag_set(d, c.rc, "out of memory");
                    else if (rc && d)
                        mdp_diag_set(d, rc, "%s: %.400s", ds->name, d->msg);
                }
            }
            lfiles_cleanup(&f);
            mdp_buf_cleanup(&sql);
        }
    }
    return rc;
}

/* Adds the SHA-256 and the keyed pseudonym of every address. */
static int hash_emails(const struct mdp_subject_ctx *ctx, struct mdp_subject *s, struct mdp_diag *d)
{
    for (size_t i = 0; i < s->emails.n; i++) {
        char hex[65];
        if (mdp_email_hash(s->emails.v[i], hex))
            return mdp_diag_set(d, MDP_ERR_CRYPTO, "cannot hash an address");
        if (keys_add(&s->email_sha, hex)) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        if (!ctx->hmac_key) continue;
        if (mdp_email_hash_keyed(s->emails.v[i], ctx->hmac_key, ctx->hmac_keylen, hex))
            return mdp_diag_set(d, MDP_ERR_CRYPTO, "cannot pseudonymize an address");
        if (keys_add(&s->email_hmac, hex)) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    return 0;
}

int mdp_subject_resolve(const struct mdp_subject_ctx *ctx, const char *user_id, const char *email,
                        struct mdp_subject **out, struct mdp_diag *d)
{
    *out = NULL;
    if ((user_id == NULL) == (email == NULL))
        return mdp_diag_set(d, MDP_ERR_INVALID, "give a user_id or an address, not both");
    struct mdp_subject *s = mdp_calloc(1, sizeof *s);
    if (!s) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    PGconn *pg = NULL;
    int rc = 0;
    if (user_id) {
        struct mdp_uuid u;
        if (mdp_uuid_parse(user_id, &u)) {
            rc = mdp_diag_set(d, MDP_ERR_INVALID, "'%.80s' is not a user_id (a UUID)", user_id);
            goto out;
        }
        char canon[37];
        snprintf(canon, sizeof canon, "%s", user_id);
        for (char *p = canon; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (!(s->user_id = mdp_strdup(canon))) rc = MDP_ERR_NOMEM;
    } else {
        char norm[320];
        if (mdp_email_normalize(email, norm, sizeof norm) < 0 || !strchr(norm, '@')) {
            rc = mdp_diag_set(d, MDP_ERR_INVALID,
                              "not an email address (no '@', empty or too "
                              "long)");
            goto out;
        }
        if (keys_add(&s->emails, norm)) rc = MDP_ERR_NOMEM;
    }
    if (rc) goto out;
    if (ctx->pg_conninfo && (rc = pg_connect(ctx, &pg, d))) goto out;
    if ((rc = hash_emails(ctx, s, d))) goto out;
    if (!s->user_id) {
        struct mdp_subject_keys ids = {0};
        rc = follow(ctx, pg, s, MDP_SUBJ_USER_ID, 0, &ids, d);
        if (!rc && ids.n > 1)
            rc = mdp_diag_set(d, MDP_ERR_INVALID,
                              "the address belongs to %zu user_ids; export each by its user_id",
                              ids.n);
        if (!rc && ids.n == 1) {
            s->user_id = ids.v[0];
            ids.v[0] = NULL;
            ids.n = 0;
        }
        keys_cleanup(&ids);
        if (rc) goto out;
    }
    if (s->user_id) {
        rc = follow(ctx, pg, s, MDP_SUBJ_EMAIL, 0, &s->emails, d);
        if (!rc) rc = follow(ctx, pg, s, MDP_SUBJ_EMAIL_SHA256, 0, &s->email_sha, d);
        if (!rc) rc = hash_emails(ctx, s, d);
    }
    if (!rc) rc = follow(ctx, pg, s, MDP_SUBJ_ACCOUNT_ID, 0, &s->account_ids, d);
    if (!rc) rc = follow(ctx, pg, s, MDP_SUBJ_EXTERNAL_ID, 1, &s->external_ids, d);
out:
    if (pg) PQfinish(pg);
    if (rc == MDP_ERR_NOMEM && d && !d->code) mdp_diag_set(d, rc, "out of memory");
    if (rc) {
        mdp_subject_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- locate ---- */

int mdp_subject_locate(const struct mdp_subject_ctx *ctx, const struct mdp_subject *s,
                       mdp_subject_hit_cb cb, void *ud, int64_t *out_hits, struct mdp_diag *d)
{
    PGconn *pg = NULL;
    int64_t total = 0;
    int rc = 0;
    if (out_hits) *out_hits = 0;
    if (ctx->pg_conninfo && (rc = pg_connect(ctx, &pg, d))) return rc;
    for (size_t i = 0; !rc && i < ctx->inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &ctx->inv->datasets[i];
        if (!mdp_subject_readable(ctx, ds)) continue;
        struct hits h = {0};
        switch (ds->store) {
        case MDP_INV_RAW:
            rc = locate_raw(ctx, ds, s, &h, d);
            break;
        case MDP_INV_CURATED:
        case MDP_INV_ML:
        case MDP_INV_SERVING:
            rc = locate_table(ctx, ds, s, &h, d);
            break;
        case MDP_INV_STATE:
            rc = locate_state(ctx, ds, s, &h, d);
            break;
        case MDP_INV_SUPABASE:
            rc = locate_supabase(pg, ds, s, &h, d);
            break;
        default:
            break;
        }
        if (rc == MDP_ERR_NOMEM && d && !d->code) mdp_diag_set(d, rc, "out of memory");
        if (!rc && h.n) qsort(h.v, h.n, sizeof *h.v, cmp_hit);
        for (size_t k = 0; !rc && k < h.n; k++) {
            struct mdp_subject_hit x = {ds, h.v[k].location, h.v[k].pk, h.v[k].sk, h.v[k].rows};
            total++;
            if (cb) rc = cb(&x, ud);
        }
        hits_cleanup(&h);
    }
    if (pg) PQfinish(pg);
    if (out_hits) *out_hits = total;
    return rc;
}

/* ---- the rows of one hit ---- */

struct lines {
    char **v;
    size_t n, cap;
    int rc;
};

static int lines_add(struct lines *l, const char *s)
{
    if (mdp_grow(&l->v, &l->cap, l->n + 1, sizeof *l->v, 16)) return l->rc = MDP_ERR_NOMEM;
    if (!(l->v[l->n] = mdp_strdup(s))) return l->rc = MDP_ERR_NOMEM;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int line_row(void *ud, int ncols, const char *const *v)
{
    return ncols >= 1 && v[0] ? lines_add(ud, v[0]) : 0;
}

static int line_record(json_object *rec, const char *unparsed, size_t ulen, void *ud)
{
    struct lines *l = ud;
    if (rec)
        return lines_add(l, json_object_to_json_string_ext(
                                rec, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_puts(&b, "{\"unparsed\":");
    mdp_buf_json_strn(&b, unparsed, ulen);
    mdp_buf_putc(&b, '}');
    int rc = mdp_buf_error(&b) ? (l->rc = MDP_ERR_NOMEM) : lines_add(l, b.data);
    mdp_buf_cleanup(&b);
    return rc;
}

static int key_path(const struct mdp_subject_ctx *ctx, const char *key, struct mdp_buf *p,
                    struct mdp_diag *d)
{
    int rc = mdp_store_local_path(ctx->lake->store, key, p);
    if (rc) mdp_diag_set(d, rc, "%s: the lake's store has no local paths", key);
    return rc;
}

static int rows_file(const struct mdp_subject_ctx *ctx, const struct mdp_subject *s,
                     const struct mdp_subject_hit *h, struct lines *l, struct mdp_diag *d)
{
    const struct mdp_inv_dataset *ds = h->dataset;
    struct mdp_buf path, sql;
    mdp_buf_init(&path);
    mdp_buf_init(&sql);
    struct lfiles one = {0};
    int rc = key_path(ctx, h->location, &path, d);
    if (!rc) rc = lfiles_add(ctx->lake, &one, h->location, -1, d);
    int parquet = ends_with(h->location, ".parquet");
    int csv = ends_with(h->location, ".csv");
    if (!rc && ends_with(h->location, ".bin")) {
        struct mdp_snapshot *sn = NULL;
        const struct mdp_snapshot_rec *r = NULL;
        rc = snapshot_find(path.data, s->user_id, &sn, &r, d);
        if (!rc && r) {
            struct mdp_buf b;
            mdp_buf_init(&b);
            const char *persona = mdp_snapshot_string(sn, r->persona);
            const char *tone = mdp_snapshot_string(sn, r->tone);
            const char *bucket = mdp_snapshot_bucket_name(r->onb_bucket);
            const char *eng = mdp_snapshot_engagement_name(r->engagement);
            const char *cs = mdp_snapshot_consent_name(r->consent_state);
            mdp_buf_puts(&b, "{\"user_id\":");
            mdp_buf_json_str(&b, s->user_id);
            mdp_buf_printf(&b, ",\"snapshot_day\":%lld,\"onb_day\":%d,\"onb_day_bucket\":",
                           (long long)mdp_snapshot_day(sn), r->onb_day);
            mdp_buf_json_str(&b, bucket ? bucket : "");
            mdp_buf_puts(&b, ",\"engagement_level\":");
            mdp_buf_json_str(&b, eng ? eng : "");
            mdp_buf_puts(&b, ",\"consent_state\":");
            mdp_buf_json_str(&b, cs ? cs : "");
            mdp_buf_puts(&b, ",\"persona\":");
            if (persona)
                mdp_buf_json_str(&b, persona);
            else
                mdp_buf_puts(&b, "null");
            mdp_buf_puts(&b, ",\"preferred_comm_tone\":");
            if (tone)
                mdp_buf_json_str(&b, tone);
            else
                mdp_buf_puts(&b, "null");
            mdp_buf_printf(&b,
                           ",\"flags\":%u,\"steps_completed_7d\":%u,\"steps_completed_30d\":%u,"
                           "\"email_opens_7d\":%u,\"email_clicks_7d\":%u,\"email_opens_30d\":%u,"
                           "\"email_clicks_30d\":%u,\"login_count_30d\":%u",
                           r->flags, r->steps_completed_7d, r->steps_completed_30d,
                           r->email_opens_7d, r->email_clicks_7d, r->email_opens_30d,
                           r->email_clicks_30d, r->login_count_30d);
            if (r->vc_score_delta_7d == MDP_SNAPSHOT_NULL)
                mdp_buf_puts(&b, ",\"vc_score_delta_7d\":null");
            else
                mdp_buf_printf(&b, ",\"vc_score_delta_7d\":%d", r->vc_score_delta_7d);
            if (r->last_activity_days_ago == MDP_SNAPSHOT_NULL)
                mdp_buf_puts(&b, ",\"last_activity_days_ago\":null");
            else
                mdp_buf_printf(&b, ",\"last_activity_days_ago\":%d", r->last_activity_days_ago);
            if (r->avg_step_centiseconds < 0)
                mdp_buf_puts(&b, ",\"avg_step_duration_seconds\":null}");
            else
                mdp_buf_printf(&b, ",\"avg_step_duration_seconds\":%.2f}",
                               r->avg_step_centiseconds / 100.0);
            if (mdp_buf_error(&b) || lines_add(l, b.data)) rc = MDP_ERR_NOMEM;
            mdp_buf_cleanup(&b);
        }
        mdp_snapshot_close(sn);
    } else if (!rc && (parquet || csv)) {
        mdp_buf_puts(&sql, "SELECT CAST(to_json(t) AS VARCHAR) AS j FROM (SELECT * FROM ");
        sql_from(&sql, parquet, &one, 0);
        mdp_buf_puts(&sql, " WHERE ");
        if (sql_where(&sql, ds, s, 0)) {
            mdp_buf_puts(&sql, ") t ORDER BY j");
            rc = sql_ready(&sql, d);
            struct mdp_rows_cb cb = {NULL, line_row, l};
            if (!rc) rc = mdp_engine_query(ctx->e, sql.data, &cb, d);
        }
    } else if (!rc) {
        struct matcher m = {ds, s, !has_person_key(ds)};
        struct mdp_buf text;
        mdp_buf_init(&text);
        int64_t n = 0;
        rc = raw_read(ctx, h->location, &text, d);
        if (!rc) rc = raw_records(&m, h->location, &text, line_record, l, &n, d);
        if (rc == MDP_ERR_NOMEM) mdp_diag_set(d, rc, "out of memory reading %s", h->location);
        mdp_buf_cleanup(&text);
    }
    lfiles_cleanup(&one);
    mdp_buf_cleanup(&path);
    mdp_buf_cleanup(&sql);
    return rc;
}

static int rows_state(const struct mdp_subject_ctx *ctx, const struct mdp_subject_hit *h,
                      struct lines *l, struct mdp_diag *d)
{
    char *body = NULL;
    int64_t exp = 0;
    int rc = mdp_state_get(ctx->state, h->location, h->pk, h->sk, &body, &exp, d);
    if (rc == MDP_ERR_NOT_FOUND) return 0; /* gone since it was located */
    if (rc) return rc;
    json_object *o = json_tokener_parse(body);
    free(body);
    if (!o)
        return mdp_diag_set(d, MDP_ERR_PARSE, "state item %s/%s/%s is not JSON", h->location, h->pk,
                            h->sk);
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_puts(&b, "{\"table\":");
    mdp_buf_json_str(&b, h->location);
    mdp_buf_puts(&b, ",\"pk\":");
    mdp_buf_json_str(&b, h->pk);
    mdp_buf_puts(&b, ",\"sk\":");
    mdp_buf_json_str(&b, h->sk);
    mdp_buf_printf(&b, ",\"expires_at\":%lld,\"item\":", (long long)exp);
    mdp_buf_puts(&b, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
    mdp_buf_putc(&b, '}');
    json_object_put(o);
    if (mdp_buf_error(&b) || lines_add(l, b.data)) rc = MDP_ERR_NOMEM;
    mdp_buf_cleanup(&b);
    return rc;
}

static int rows_supabase(const struct mdp_subject_ctx *ctx, const struct mdp_subject *s,
                         const struct mdp_subject_hit *h, struct lines *l, struct mdp_diag *d)
{
    PGconn *pg = NULL;
    int rc = pg_connect(ctx, &pg, d);
    if (rc) return rc;
    struct mdp_buf sql;
    mdp_buf_init(&sql);
    if (pg_sql(pg, &sql, h->dataset, s, "row_to_json(t)::text", 0)) {
        PGresult *r = NULL;
        rc = sql_ready(&sql, d);
        if (!rc) rc = pg_run(pg, sql.data, s, h->dataset, &r, d);
        for (int row = 0; !rc && r && row < PQntuples(r); row++)
            rc = lines_add(l, PQgetvalue(r, row, 0));
        PQclear(r);
    }
    mdp_buf_cleanup(&sql);
    PQfinish(pg);
    return rc;
}

int mdp_subject_rows(const struct mdp_subject_ctx *ctx, const struct mdp_subject *s,
                     const struct mdp_subject_hit *h, struct mdp_buf *out, int64_t *out_rows,
                     struct mdp_diag *d)
{
    struct lines l = {0};
    int rc;
    if (out_rows) *out_rows = 0;
    switch (h->dataset->store) {
    case MDP_INV_STATE:
        rc = ctx->state ? rows_state(ctx, h, &l, d)
                        : mdp_diag_set(d, MDP_ERR_INVALID, "no state store to read");
        break;
    case MDP_INV_SUPABASE:
        rc = ctx->pg_conninfo ? rows_supabase(ctx, s, h, &l, d)
                              : mdp_diag_set(d, MDP_ERR_INVALID, "Supabase is not configured");
        break;
    default:
        rc = rows_file(ctx, s, h, &l, d);
        break;
    }
    if (!rc && l.rc) rc = l.rc;
    if (!rc && l.n) qsort(l.v, l.n, sizeof *l.v, cmp_str);
    for (size_t i = 0; !rc && i < l.n; i++) {
        mdp_buf_puts(out, l.v[i]);
        mdp_buf_putc(out, '\n');
    }
    if (!rc && mdp_buf_error(out)) rc = MDP_ERR_NOMEM;
    if (rc == MDP_ERR_NOMEM && d && !d->code) mdp_diag_set(d, rc, "out of memory");
    if (!rc && out_rows) *out_rows = (int64_t)l.n;
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i]);
    free(l.v);
    return rc;
}

struct unlisted {
    char first[300];
    int64_t n;
};

static int on_unlisted(const struct mdp_inv_problem *p, void *ud)
{
    struct unlisted *u = ud;
    if (!u->n++) snprintf(u->first, sizeof u->first, "%s", p->location ? p->location : "?");
    return 0;
}

int mdp_subject_require_listed(const struct mdp_subject_ctx *ctx, const char *what,
                               struct mdp_diag *d)
{
    struct unlisted u = {"", 0};
    int rc = mdp_inventory_unlisted(ctx->inv, ctx->lake, on_unlisted, &u, NULL, d);
    if (rc || !u.n) return rc;
    return mdp_diag_set(d, MDP_ERR_INVALID,
                        "the lake holds %lld dataset(s) the inventory does not list (first: %s), "
                        "which the %s could not search; classify them in the inventory (mdp "
                        "inventory check lists them), then run it again. Nothing was changed",
                        (long long)u.n, u.first, what);
}
