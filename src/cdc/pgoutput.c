/* The pgoutput decoder: the logical replication messages PostgreSQL's built-in output plugin sends
 * (the manual's "Logical Replication Message Formats"), big-endian integers and NUL-terminated
 * strings. Everything is bounds-checked against the message; a message cut short, a type we do not
 * know or a change to a relation no Relation message described is an error naming the LSN, never
 * skipped: a consumer that skipped one would lose a change silently. The relation cache is the
 * decoder's (the server sends a Relation message before the first change of a relation in each
 * session and again after the relation changed). */
#include "mdp/alloc.h"
#include "mdp/cdc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mdp_pgo {
    int proto;
    int in_stream; /* between Stream Start and Stream Stop: changes carry their xid */
    struct mdp_pgo_rel *rels;
    size_t nrels, caprels;
    struct mdp_pgo_value *oldv, *newv;
    size_t capold, capnew;
    const struct mdp_pgo_rel **trunc;
    size_t captrunc;
};

void mdp_lsn_format(uint64_t lsn, char out[18])
{
    snprintf(out, 18, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}

int mdp_lsn_parse(const char *s, uint64_t *out_lsn)
{
    uint64_t hi = 0, lo = 0;
    int nh = 0, nl = 0;
    const char *p = s;
    for (; *p && *p != '/'; p++, nh++) {
        int v = (*p >= '0' && *p <= '9')   ? *p - '0'
                : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
                : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                                           : -1;
        if (v < 0 || nh >= 8) return MDP_ERR_PARSE;
        hi = hi * 16 + (uint64_t)v;
    }
    if (*p != '/' || nh == 0) return MDP_ERR_PARSE;
    for (p++; *p; p++, nl++) {
        int v = (*p >= '0' && *p <= '9')   ? *p - '0'
                : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
                : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                                           : -1;
        if (v < 0 || nl >= 8) return MDP_ERR_PARSE;
        lo = lo * 16 + (uint64_t)v;
    }
    if (nl == 0) return MDP_ERR_PARSE;
    *out_lsn = hi << 32 | lo;
    return 0;
}

int mdp_pgo_new(int proto, struct mdp_pgo **out)
{
    *out = NULL;
    if (proto < 1 || proto > 4) return MDP_ERR_INVALID;
    struct mdp_pgo *p = mdp_calloc(1, sizeof *p);
    if (!p) return MDP_ERR_NOMEM;
    p->proto = proto;
    *out = p;
    return 0;
}

static void rel_clear(struct mdp_pgo_rel *r)
{
    free(r->nspname);
    free(r->relname);
    for (int i = 0; i < r->ncols; i++)
        free(r->cols[i].name);
    free(r->cols);
    memset(r, 0, sizeof *r);
}

void mdp_pgo_free(struct mdp_pgo *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nrels; i++)
        rel_clear(&p->rels[i]);
    free(p->rels);
    free(p->oldv);
    free(p->newv);
    free(p->trunc);
    free(p);
}

const struct mdp_pgo_rel *mdp_pgo_relation(const struct mdp_pgo *p, uint32_t oid)
{
    for (size_t i = 0; i < p->nrels; i++)
        if (p->rels[i].oid == oid) return &p->rels[i];
    return NULL;
}

/* A reader over one message: every get checks the bounds first. */
struct rd {
    const unsigned char *p;
    size_t n, i;
    int bad;
};

static uint64_t get_n(struct rd *r, int bytes)
{
    if (r->bad || r->n - r->i < (size_t)bytes) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int k = 0; k < bytes; k++)
        v = v << 8 | r->p[r->i++];
    return v;
}

static const char *get_str(struct rd *r)
{
    if (r->bad) return NULL;
    const unsigned char *z = memchr(r->p + r->i, '\0', r->n - r->i);
    if (!z) {
        r->bad = 1;
        return NULL;
    }
    const char *s = (const char *)(r->p + r->i);
    r->i = (size_t)(z - r->p) + 1;
    return s;
}

static int fail(struct mdp_diag *d, uint64_t lsn, char kind, const char *fmt, const char *what)
{
    char l[18], k[8];
    mdp_lsn_format(lsn, l);
    if (kind >= 0x21 && kind < 0x7f)
        snprintf(k, sizeof k, "'%c'", kind);
    else
        snprintf(k, sizeof k, "0x%02x", (unsigned char)kind);
    char msg[256];
    snprintf(msg, sizeof msg, fmt, what ? what : "");
    return mdp_diag_set(d, MDP_ERR_PARSE, "pgoutput: %s (message %s at LSN %s)", msg, k, l);
}

static int read_tuple(struct rd *r, struct mdp_pgo_value **vals, size_t *cap,
                      struct mdp_pgo_tuple *out)
{
    int n = (int)get_n(r, 2);
    if (r->bad) return 0;
    if ((size_t)n > *cap) {
        /* a column needs at least its kind byte: a count beyond the message is a lie */
        if ((size_t)n > r->n - r->i) {
            r->bad = 1;
            return 0;
        }
        struct mdp_pgo_value *nv = mdp_realloc(*vals, (size_t)n * sizeof *nv);
        if (!nv) return MDP_ERR_NOMEM;
        *vals = nv;
        *cap = (size_t)n;
    }
    for (int i = 0; i < n && !r->bad; i++) {
        struct mdp_pgo_value *v = &(*vals)[i];
        v->kind = (char)get_n(r, 1);
        v->data = NULL;
        v->len = 0;
        if (v->kind == 't' || v->kind == 'b') {
            uint32_t len = (uint32_t)get_n(r, 4);
            if (r->bad || r->n - r->i < len) {
                r->bad = 1;
                break;
            }
            v->data = (const char *)(r->p + r->i);
            v->len = len;
            r->i += len;
        } else if (v->kind != 'n' && v->kind != 'u') {
            r->bad = 2; /* an unknown column kind */
        }
    }
    out->ncols = n;
    out->v = *vals;
    return 0;
}

static int add_relation(struct mdp_pgo *p, struct rd *r, uint64_t lsn, struct mdp_pgo_msg *m,
                        struct mdp_diag *d)
{
    struct mdp_pgo_rel nr = {0};
    nr.oid = (uint32_t)get_n(r, 4);
    const char *nsp = get_str(r), *rel = get_str(r);
    nr.replident = (char)get_n(r, 1);
    int ncols = (int)get_n(r, 2);
    if (r->bad) return fail(d, lsn, 'R', "a Relation message cut short%s", NULL);
    /* each column takes at least 10 bytes */
    if ((size_t)ncols * 10 > r->n - r->i)
        return fail(d, lsn, 'R', "a Relation message cut short%s", NULL);
    nr.nspname = mdp_strdup(nsp);
    nr.relname = mdp_strdup(rel);
    nr.cols = ncols ? mdp_calloc((size_t)ncols, sizeof *nr.cols) : NULL;
    if (!nr.nspname || !nr.relname || (ncols && !nr.cols)) {
        rel_clear(&nr);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "pgoutput: out of memory for a relation");
    }
    for (int i = 0; i < ncols; i++) {
        struct mdp_pgo_col *c = &nr.cols[i];
        c->key = (int)(get_n(r, 1) & 1);
        const char *name = get_str(r);
        c->type_oid = (uint32_t)get_n(r, 4);
        c->typmod = (int32_t)(uint32_t)get_n(r, 4);
        if (r->bad) {
            nr.ncols = i;
            rel_clear(&nr);
            return fail(d, lsn, 'R', "a Relation message cut short%s", NULL);
        }
        if (!(c->name = mdp_strdup(name))) {
            nr.ncols = i;
            rel_clear(&nr);
            return mdp_diag_set(d, MDP_ERR_NOMEM, "pgoutput: out of memory for a relation");
        }
    }
    nr.ncols = ncols;
    if (r->i != r->n) {
        rel_clear(&nr);
        return fail(d, lsn, 'R', "a Relation message with bytes after its last column%s", NULL);
    }
    for (size_t i = 0; i < p->nrels; i++)
        if (p->rels[i].oid == nr.oid) {
            rel_clear(&p->rels[i]);
            p->rels[i] = nr;
            m->rel = &p->rels[i];
            return 0;
        }
    if (p->nrels == p->caprels) {
        size_t cap = p->caprels ? p->caprels * 2 : 16;
        struct mdp_pgo_rel *nv = mdp_realloc(p->rels, cap * sizeof *nv);
        if (!nv) {
            rel_clear(&nr);
            return mdp_diag_set(d, MDP_ERR_NOMEM, "pgoutput: out of memory for a relation");
        }
        p->rels = nv;
        p->caprels = cap;
    }
    p->rels[p->nrels] = nr;
    m->rel = &p->rels[p->nrels++];
    return 0;
}

static int known_rel(struct mdp_pgo *p, struct rd *r, uint64_t lsn, char kind,
                     const struct mdp_pgo_rel **out, struct mdp_diag *d)
{
    uint32_t oid = (uint32_t)get_n(r, 4);
    if (r->bad) return fail(d, lsn, kind, "a change message cut short%s", NULL);
    if (!(*out = mdp_pgo_relation(p, oid))) {
        char what[64];
        snprintf(what, sizeof what, "%" PRIu32, oid);
        return fail(d, lsn, kind,
                    "a change to relation oid %s, which no Relation message described", what);
    }
    return 0;
}

/* The tuple's column count must be the relation's (else the columns would be misnamed). */
static int tuple_ok(struct rd *r, const struct mdp_pgo_rel *rel, const struct mdp_pgo_tuple *t,
                    uint64_t lsn, char kind, struct mdp_diag *d)
{
    if (r->bad == 2) return fail(d, lsn, kind, "a column of unknown kind%s", NULL);
    if (r->bad) return fail(d, lsn, kind, "a change message cut short%s", NULL);
    if (t->ncols != rel->ncols) {
        char what[96];
        snprintf(what, sizeof what, "%d columns for %s.%s, whose Relation message has %d", t->ncols,
                 rel->nspname, rel->relname, rel->ncols);
        return fail(d, lsn, kind, "a tuple of %s", what);
    }
    return 0;
}

int mdp_pgo_decode(struct mdp_pgo *p, const void *msg, size_t len, uint64_t lsn,
                   struct mdp_pgo_msg *m, struct mdp_diag *d)
{
    memset(m, 0, sizeof *m);
    struct rd r = {msg, len, 0, 0};
    if (len == 0) return fail(d, lsn, 0, "an empty message%s", NULL);
    char kind = (char)get_n(&r, 1);
    m->kind = kind;
    int streamed = p->proto >= 2 && p->in_stream, rc = 0;
    switch (kind) {
    case 'B':
        m->lsn = get_n(&r, 8);
        m->time_us = (int64_t)get_n(&r, 8);
        m->xid = (uint32_t)get_n(&r, 4);
        break;
    case 'C':
        m->flags = (uint8_t)get_n(&r, 1);
        m->lsn = get_n(&r, 8);
        m->end_lsn = get_n(&r, 8);
        m->time_us = (int64_t)get_n(&r, 8);
        break;
    case 'O':
        m->lsn = get_n(&r, 8);
        m->name = get_str(&r);
        break;
    case 'Y':
        if (streamed) m->xid = (uint32_t)get_n(&r, 4);
        m->type_oid = (uint32_t)get_n(&r, 4);
        m->nspname = get_str(&r);
        m->name = get_str(&r);
        break;
    case 'M':
        if (streamed) m->xid = (uint32_t)get_n(&r, 4);
        m->flags = (uint8_t)get_n(&r, 1);
        m->lsn = get_n(&r, 8);
        m->name = get_str(&r);
        m->content_len = (uint32_t)get_n(&r, 4);
        if (!r.bad && r.n - r.i < m->content_len) r.bad = 1;
        if (!r.bad) {
            m->content = (const char *)(r.p + r.i);
            r.i += m->content_len;
        }
        break;
    case 'R':
        if (streamed) m->xid = (uint32_t)get_n(&r, 4);
        return add_relation(p, &r, lsn, m, d);
    case 'I': {
        if (streamed) m->xid = (uint32_t)get_n(&r, 4);
        if ((rc = known_rel(p, &r, lsn, kind, &m->rel, d))) return rc;
        if (get_n(&r, 1) != 'N' && !r.bad)
            return fail(d, lsn, kind, "an Insert without its new tuple%s", NULL);
        if ((rc = read_tuple(&r, &p->newv, &p->capnew, &m->new_tuple))) break;
        if ((rc = tuple_ok(&r, m->rel, &m->new_tuple, lsn, kind, d))) return rc;
        break;
    }
    case 'U': {
        if (streamed) m->xid = (uint32_t)get_n(&r, 4);
        if ((rc = known_rel(p, &r, lsn, kind, &m->rel, d))) return rc;
        char t = (char)get_n(&r, 1);
        if (!r.bad && (t == 'K' || t == 'O')) {
            m->old_kind = t;
            if ((rc = read_tuple(&r, &p->oldv, &p->capold, &m->old_tuple))) break;
            if ((rc = tuple_ok(&r, m->rel, &m->old_tuple, lsn, kind, d))) return rc;
            t = (char)get_n(&r, 1);
        }
        if (!r.bad && t != 'N')
            return fail(d, lsn, kind, "an Update without its new tuple%s", NULL);
        if ((rc = read_tuple(&r, &p->newv, &p->capnew, &m->new_tuple))) break;
        if ((rc = tuple_ok(&r, m->rel, &m->new_tuple, lsn, kind, d))) return rc;
        break;
    }
    case 'D': {
        if (streamed) m->xid = (uint32_t)get_n(&r, 4);
        if ((rc = known_rel(p, &r, lsn, kind, &m->rel, d))) return rc;
        char t = (char)get_n(&r, 1);
        if (!r.bad && t != 'K' && t != 'O')
            return fail(d, lsn, kind, "a Delete without its old key or row%s", NULL);
        m->old_kind = t;
        if ((rc = read_tuple(&r, &p->oldv, &p->capold, &m->old_tuple))) break;
        if ((rc = tuple_ok(&r, m->rel, &m->old_tuple, lsn, kind, d))) return rc;
        break;
    }
    case 'T': {
        if (streamed) m->xid = (uint32_t)get_n(&r, 4);
        uint32_t n = (uint32_t)get_n(&r, 4);
        m->flags = (uint8_t)get_n(&r, 1);
        if (!r.bad && (uint64_t)n * 4 > r.n - r.i) r.bad = 1;
        if (r.bad) break;
        if (n > p->captrunc) {
            const struct mdp_pgo_rel **nv = mdp_realloc((void *)p->trunc, n * sizeof *nv);
            if (!nv) {
                rc = MDP_ERR_NOMEM;
                break;
            }
            p->trunc = nv;
            p->captrunc = n;
        }
        for (uint32_t i = 0; i < n; i++)
            if ((rc = known_rel(p, &r, lsn, kind, &p->trunc[i], d))) return rc;
        m->nrels = (int)n;
        m->rels = p->trunc;
        break;
    }
    case 'S':
        if (p->proto < 2) return fail(d, lsn, kind, "a Stream Start in protocol version 1%s", NULL);
        m->xid = (uint32_t)get_n(&r, 4);
        m->flags = (uint8_t)get_n(&r, 1);
        if (!r.bad) p->in_stream = 1;
        break;
    case 'E':
        if (p->proto < 2) return fail(d, lsn, kind, "a Stream Stop in protocol version 1%s", NULL);
        p->in_stream = 0;
        break;
    case 'c':
        if (p->proto < 2)
            return fail(d, lsn, kind, "a Stream Commit in protocol version 1%s", NULL);
        m->xid = (uint32_t)get_n(&r, 4);
        m->flags = (uint8_t)get_n(&r, 1);
        m->lsn = get_n(&r, 8);
        m->end_lsn = get_n(&r, 8);
        m->time_us = (int64_t)get_n(&r, 8);
        break;
    case 'A':
        if (p->proto < 2) return fail(d, lsn, kind, "a Stream Abort in protocol version 1%s", NULL);
        m->xid = (uint32_t)get_n(&r, 4);
        m->subxid = (uint32_t)get_n(&r, 4);
        break;
    default:
        return fail(d, lsn, kind, "unknown message type%s", NULL);
    }
    if (rc == MDP_ERR_NOMEM) return mdp_diag_set(d, rc, "pgoutput: out of memory for a tuple");
    if (r.bad == 2) return fail(d, lsn, kind, "a column of unknown kind%s", NULL);
    if (r.bad) return fail(d, lsn, kind, "a message cut short%s", NULL);
    if (r.i != r.n) return fail(d, lsn, kind, "a message with trailing bytes%s", NULL);
    return 0;
}
