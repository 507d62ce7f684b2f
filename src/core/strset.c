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

struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(8) char data[];
};

struct mdp_strset {
    struct slot *t;
    size_t cap, n;
    struct chunk *chunks; /* the newest first */
    struct chunk *spare;  /* emptied by mdp_strset_clear, taken before a new one is made */
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

static void free_chunks(struct chunk *c)
{
    for (struct chunk *next; c; c = next) {
        next = c->next;
        free(c);
    }
}

void mdp_strset_free(struct mdp_strset *s)
{
    if (!s) return;
    free_chunks(s->chunks);
    free_chunks(s->spare);
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

/* A copy of str (after its length) in the newest chunk (a new one when it is full), or NULL
 * when out of memory. */
static const char *copy(struct mdp_strset *s, const char *str, size_t len)
{
    struct chunk *c = s->chunks;
    size_t need = sizeof len + len + 1;
    need = (need + 7) & ~(size_t)7;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > CHUNK ? need : CHUNK;
        if (s->spare && s->spare->cap >= need) { /* an emptied chunk: no allocation, no fault */
            c = s->spare;
            s->spare = c->next;
        } else if (!(c = mdp_malloc(sizeof *c + cap))) {
            return NULL;
        } else {
            c->cap = cap;
        }
        c->used = 0;
        c->next = s->chunks;
        s->chunks = c;
    }
    char *d = c->data + c->used;
    memcpy(d, &len, sizeof len);
    memcpy(d + sizeof len, str, len);
    d[sizeof len + len] = '\0';
    c->used += need;
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
        free_chunks(s->spare);
        s->spare = NULL;
        if (s->chunks) {
            free_chunks(s->chunks->next);
            s->chunks->next = NULL;
            s->chunks->used = 0;
        }
    } else {
        memset(s->t, 0, s->cap * sizeof *s->t);
        while (s->chunks) {
            struct chunk *c = s->chunks;
            s->chunks = c->next;
            c->next = s->spare;
            s->spare = c;
        }
    }
    s->n = 0;
}

size_t mdp_strset_count(const struct mdp_strset *s)
{
    return s->n;
}
