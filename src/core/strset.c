/* String set (include/mdp/strset.h): linear probing over a power-of-two table, grown at 70%. The
 * copies of the strings live in chunks of 64 KiB, one after the other, so that adding an id costs
 * no allocation of its own (the duplicate index of an ingest run adds one per record), and the
 * hash reads eight bytes at a time. */
#include "mdp/strset.h"
#include "mdp/alloc.h"
#include "mdp/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024)

/* 16 bytes, so that a probe touches one cache line; the length is kept before the copy */
struct slot {
    const char *s; /* the copy in a chunk, NUL-terminated, or NULL: free */
    uint64_t h;
};

struct mdp_strset {
    struct slot *t;
    size_t cap, n;
    struct mdp_chunks ch; /* the copies; emptied by mdp_strset_clear for the next fill */
};

static uint64_t hash(const char *p, size_t n)
{
    const uint64_t m = 0xff51afd7ed558ccdULL;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n, w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * m;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * m;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

uint64_t mdp_strset_hash(const char *str, size_t len)
{
    return hash(str, len);
}

struct mdp_strset *mdp_strset_new(void)
{
    struct mdp_strset *s = mdp_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cap = 1024;
    s->t = mdp_calloc(s->cap, sizeof *s->t);
    if (!s->t) {
        free(s);
        return NULL;
    }
    return s;
}

static void free_list(struct mdp_chunk *c)
{
    for (struct mdp_chunk *next; c; c = next) {
        next = c->next;
        free(c);
    }
}

void *mdp_chunks_alloc(struct mdp_chunks *c, size_t n)
{
    struct mdp_chunk *h = c->head;
    n = (n + 7) & ~(size_t)7;
    if (!h || h->cap - h->used < n) {
        if (c->spare && c->spare->cap >= n) { /* an emptied chunk: no allocation, no fault */
            h = c->spare;
            c->spare = h->next;
        } else {
            size_t cap = n > CHUNK ? n : CHUNK;
            if (!(h = mdp_malloc(sizeof *h + cap))) return NULL;
            h->cap = cap;
            h->tag = 0;
        }
        h->used = 0;
        h->next = c->head;
        c->head = h;
    }
    char *d = h->data + h->used;
    h->used += n;
    return d;
}

void mdp_chunks_empty(struct mdp_chunks *c, struct mdp_chunk **from)
{
    for (struct mdp_chunk *h = *from, *next; h; h = next) {
        next = h->next;
        h->next = c->spare;
        c->spare = h;
    }
    *from = NULL;
}

void mdp_chunks_trim(struct mdp_chunks *c)
{
    free_list(c->spare);
    c->spare = NULL;
    if (c->head) {
        free_list(c->head->next);
        c->head->next = NULL;
        c->head->used = 0;
    }
}

void mdp_chunks_free(struct mdp_chunks *c)
{
    free_list(c->head);
    free_list(c->spare);
    c->head = c->spare = NULL;
}

void mdp_strset_free(struct mdp_strset *s)
{
    if (!s) return;
    mdp_chunks_free(&s->ch);
    free(s->t);
    free(s);
}

static int grow(struct mdp_strset *s)
{
    size_t cap = s->cap * 2;
    struct slot *t = mdp_calloc(cap, sizeof *t);
    if (!t) return MDP_ERR_NOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->t[i].s) continue;
        size_t j = s->t[i].h & (cap - 1);
        while (t[j].s)
            j = (j + 1) & (cap - 1);
        t[j] = s->t[i];
    }
    free(s->t);
    s->t = t;
    s->cap = cap;
    return 0;
}

static size_t len_of(const char *c)
{
    size_t n;
    memcpy(&n, c - sizeof n, sizeof n);
    return n;
}

static int same(const struct slot *t, uint64_t h, const char *str, size_t len)
{
    return t->h == h && len_of(t->s) == len && memcmp(t->s, str, len) == 0;
}

/* A copy of str (after its length) in the set's chunks, or NULL when out of memory. */
static const char *copy(struct mdp_strset *s, const char *str, size_t len)
{
    char *d = mdp_chunks_alloc(&s->ch, sizeof len + len + 1);
    if (!d) return NULL;
    memcpy(d, &len, sizeof len);
    memcpy(d + sizeof len, str, len);
    d[sizeof len + len] = '\0';
    return d + sizeof len;
}

static int add_h(struct mdp_strset *s, const char *str, size_t len, uint64_t h)
{
    size_t i = h & (s->cap - 1);
    while (s->t[i].s) {
        if (same(&s->t[i], h, str, len)) return 0;
        i = (i + 1) & (s->cap - 1);
    }
    const char *c = copy(s, str, len);
    if (!c) return MDP_ERR_NOMEM;
    s->t[i] = (struct slot){c, h};
    s->n++;
    return 1;
}

static int has_h(const struct mdp_strset *s, const char *str, size_t len, uint64_t h)
{
    for (size_t i = h & (s->cap - 1); s->t[i].s; i = (i + 1) & (s->cap - 1))
        if (same(&s->t[i], h, str, len)) return 1;
    return 0;
}

int mdp_strset_add(struct mdp_strset *s, const char *str, size_t len)
{
    if ((s->n + 1) * 10 > s->cap * 7 && grow(s)) return MDP_ERR_NOMEM;
    return add_h(s, str, len, hash(str, len));
}

int mdp_strset_has(const struct mdp_strset *s, const char *str, size_t len)
{
    return has_h(s, str, len, hash(str, len));
}

void mdp_strset_clear(struct mdp_strset *s)
{
    if (!s) return;
    /* A table the last fill used little of goes back to the first size, with one chunk: a set
     * reused for every delivery must not clear a big delivery's table again for every small one
     * after it, nor keep its memory. Else table and chunks stay for a refill of the same size
     * (a day of ids after a day of ids), which then allocates nothing and touches no new page. */
    struct slot *t = s->cap > 1024 && s->n * 8 < s->cap ? mdp_calloc(1024, sizeof *t) : NULL;
    if (t) {
        free(s->t);
        s->t = t;
        s->cap = 1024;
        mdp_chunks_trim(&s->ch);
    } else {
        memset(s->t, 0, s->cap * sizeof *s->t);
        mdp_chunks_empty(&s->ch, &s->ch.head);
    }
    s->n = 0;
}

size_t mdp_strset_count(const struct mdp_strset *s)
{
    return s->n;
}
