/* Record-level rewrites (include/mdp/rewrite.h). The JSON scanner here only finds where values
 * begin and end (strings, escapes and nesting); it does not interpret them: json-c checks that a
 * rewritten SQS batch still parses. Records are dropped with the separator that follows them, so
 * that the kept bytes read exactly as before. */
#include "mdp/rewrite.h"
#include "mdp/alloc.h"
#include "mdp/engine.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

struct span {
    size_t s, e; /* [s, e) */
};

struct spans {
    struct span *v;
    size_t n, cap;
};

static int spans_add(struct spans *sp, size_t s, size_t e)
{
    if (sp->n == sp->cap) {
        size_t ncap = sp->cap ? sp->cap * 2 : 64;
        struct span *nv = mdp_realloc(sp->v, ncap * sizeof *nv);
        if (!nv) return MDP_ERR_NOMEM;
        sp->v = nv;
        sp->cap = ncap;
    }
    sp->v[sp->n].s = s;
    sp->v[sp->n].e = e;
    sp->n++;
    return 0;
}

static size_t skip_ws(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i;
}

/* The end of the string starting at p[i] == '"' (one past the closing quote), or 0. */
static size_t string_end(const char *p, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (p[i] == '\\')
            i++;
        else if (p[i] == '"')
            return i + 1;
    }
    return 0;
}

/* The end of the value starting at p[i] (one past it), or 0 when it does not close. */
static size_t value_end(const char *p, size_t i, size_t n)
{
    if (i >= n) return 0;
    if (p[i] == '"') return string_end(p, i, n);
    if (p[i] == '{' || p[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            char c = p[i];
            if (c == '"') {
                size_t e = string_end(p, i, n);
                if (!e) return 0;
                i = e - 1;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
        }
        return 0;
    }
    /* a scalar: up to a delimiter */
    size_t s = i;
    while (i < n && !strchr(" \t\r\n,]}", p[i]))
        i++;
    return i > s ? i : 0;
}

/* The element spans of the "Records" array of the object at [s, e), when it has one. Returns 1
 * (the spans in out), 0 for an object without one or one that does not parse (a value cut off
 * as received: a record of its own), or MDP_ERR_NOMEM. */
static int records_array(const char *p, size_t s, size_t e, struct spans *out, size_t *out_close)
{
    size_t i = skip_ws(p, s + 1, e);
    while (i < e && p[i] == '"') {
        size_t ke = string_end(p, i, e);
        if (!ke) return 0;
        int is_records = ke - i == 9 && memcmp(p + i, "\"Records\"", 9) == 0;
        i = skip_ws(p, ke, e);
        if (i >= e || p[i] != ':') return 0;
        i = skip_ws(p, i + 1, e);
        size_t ve = value_end(p, i, e);
        if (!ve) return 0;
        if (is_records && p[i] == '[') {
            size_t j = skip_ws(p, i + 1, ve);
            while (j < ve - 1) {
                size_t ee = value_end(p, j, ve);
                if (!ee) return 0;
                if (spans_add(out, j, ee)) return MDP_ERR_NOMEM;
                j = skip_ws(p, ee, ve);
                if (j < ve && p[j] == ',') j = skip_ws(p, j + 1, ve);
            }
            *out_close = ve - 1; /* the ']' */
            return 1;
        }
        i = skip_ws(p, ve, e);
        if (i < e && p[i] == ',') i = skip_ws(p, i + 1, e);
    }
    return 0;
}

/* Lines (CSV: records, a quoted field may hold a newline). */
static int split_lines(const char *p, size_t n, int csv, struct spans *out)
{
    size_t s = 0;
    int quoted = 0;
    for (size_t i = 0; i < n; i++) {
        if (csv && p[i] == '"') quoted = !quoted;
        if (p[i] == '\n' && !quoted) {
            if (spans_add(out, s, i + 1)) return MDP_ERR_NOMEM;
            s = i + 1;
        }
    }
    if (s < n && spans_add(out, s, n)) return MDP_ERR_NOMEM;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int mdp_rewrite_records(const char *key, const char *data, size_t len, mdp_rewrite_match match,
                        void *ud, struct mdp_buf *out, int64_t *out_dropped, int64_t *out_kept,
                        struct mdp_diag *d)
{
    struct spans sp = {0};
    int64_t dropped = 0, kept = 0;
    int rc = 0;
    mdp_buf_reset(out);
    if (ends_with(key, ".csv") || ends_with(key, ".ndjson")) {
        int csv = ends_with(key, ".csv");
        if ((rc = split_lines(data, len, csv, &sp))) goto out;
        for (size_t i = 0; i < sp.n; i++) {
            const char *r = data + sp.v[i].s;
            size_t rn = sp.v[i].e - sp.v[i].s;
            if ((csv && i == 0) || !match(r, rn, ud)) {
                mdp_buf_append(out, r, rn);
                kept += !(csv && i == 0);
            } else {
                dropped++;
            }
        }
        goto out;
    }
    /* JSON: the top-level values */
    size_t i = skip_ws(data, 0, len);
    while (i < len) {
        size_t e = value_end(data, i, len);
        if (!e) {
            /* a value cut off as received (raw keeps malformed records): it is a record of its
             * own, up to the next value that closes */
            for (e = i + 1; e < len; e++) {
                if ((data[e] != '{' && data[e] != '[') || !value_end(data, e, len)) continue;
                size_t b = e; /* a value nested in the cut one follows ':', ',' or '[' */
                while (b > i && strchr(" \t\r\n", data[b - 1]))
                    b--;
                if (!strchr(":,[", data[b - 1])) break;
            }
        }
        if ((rc = spans_add(&sp, i, e))) goto out;
        i = skip_ws(data, e, len);
    }
    if (sp.n == 1 && data[sp.v[0].s] == '{') {
        struct spans el = {0};
        size_t close = 0;
        int r = records_array(data, sp.v[0].s, sp.v[0].e, &el, &close);
        if (r == MDP_ERR_NOMEM) {
            free(el.v);
            rc = MDP_ERR_NOMEM;
            goto out;
        }
        if (r == 1) {
            /* an SQS batch: the envelope stays, elements go with the separator after them */
            int *keep = mdp_calloc(el.n ? el.n : 1, sizeof *keep);
            if (!keep) {
                free(el.v);
                rc = MDP_ERR_NOMEM;
                goto out;
            }
            size_t last = (size_t)-1;
            for (size_t k = 0; k < el.n; k++) {
                keep[k] = !match(data + el.v[k].s, el.v[k].e - el.v[k].s, ud);
                if (keep[k])
                    last = k, kept++;
                else
                    dropped++;
            }
            size_t head_end = el.n ? el.v[0].s : close;
            mdp_buf_append(out, data, head_end);
            for (size_t k = 0; k < el.n; k++) {
                if (!keep[k]) continue;
                size_t to = k == last ? el.v[k].e : el.v[k + 1].s;
                mdp_buf_append(out, data + el.v[k].s, to - el.v[k].s);
            }
            size_t tail = el.n ? el.v[el.n - 1].e : close;
            mdp_buf_append(out, data + tail, len - tail);
            free(keep);
            free(el.v);
            if (!mdp_buf_error(out) && dropped) {
                json_object *o = json_tokener_parse(out->data);
                if (!o)
                    rc = mdp_diag_set(d, MDP_ERR_PARSE, "%s: the rewritten batch is not JSON", key);
                json_object_put(o);
            }
            goto out;
        }
        free(el.v);
    }
    if (sp.n) mdp_buf_append(out, data, sp.v[0].s);
    for (size_t k = 0; k < sp.n; k++) {
        size_t to = k + 1 < sp.n ? sp.v[k + 1].s : len;
        if (match(data + sp.v[k].s, sp.v[k].e - sp.v[k].s, ud)) {
            dropped++;
        } else {
            mdp_buf_append(out, data + sp.v[k].s, to - sp.v[k].s);
            kept++;
        }
    }
    if (!sp.n) mdp_buf_append(out, data, len);
out:
    free(sp.v);
    if (!rc && mdp_buf_error(out)) rc = MDP_ERR_NOMEM;
    if (rc == MDP_ERR_NOMEM) mdp_diag_set(d, rc, "out of memory rewriting %s", key);
    if (out_dropped) *out_dropped = rc ? 0 : dropped;
    if (out_kept) *out_kept = rc ? 0 : kept;
    return rc;
}

int mdp_rewrite_parquet(struct mdp_engine *e, const char *src_path, const char *dst_path,
                        const char *drop_where, int64_t *out_kept, struct mdp_diag *d)
{
    struct mdp_buf src, sql, n;
    mdp_buf_init(&src);
    mdp_buf_init(&sql);
    mdp_buf_init(&n);
    mdp_buf_puts(&src, "read_parquet(");
    mdp_sql_quote(&src, src_path);
    mdp_buf_puts(&src, ", hive_partitioning = false) t");
    mdp_buf_printf(&sql, "COPY (SELECT * FROM %s WHERE NOT coalesce((%s), false)) TO ",
                   src.data ? src.data : "", drop_where);
    mdp_sql_quote(&sql, dst_path);
    mdp_buf_puts(&sql, " (FORMAT parquet, COMPRESSION zstd)");
    int rc = mdp_buf_error(&src) || mdp_buf_error(&sql)
                 ? mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory rewriting %s", src_path)
                 : mdp_engine_exec(e, sql.data, d);
    if (!rc && out_kept) {
        mdp_buf_reset(&sql);
        mdp_buf_puts(&sql, "SELECT count(*) FROM read_parquet(");
        mdp_sql_quote(&sql, dst_path);
        mdp_buf_puts(&sql, ")");
        rc = mdp_buf_error(&sql) ? mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory")
                                 : mdp_engine_scalar(e, sql.data, &n, d);
        if (!rc) *out_kept = strtoll(n.data ? n.data : "0", NULL, 10);
    }
    mdp_buf_cleanup(&src);
    mdp_buf_cleanup(&sql);
    mdp_buf_cleanup(&n);
    return rc;
}
