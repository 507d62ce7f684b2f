/* The duplicate index of the ingest stage (include/mdp/ingest.h, mdp_dedup_window): the ids of the
 * current and the previous delivery day in one open-addressing table, so that an id costs one
 * probe where a set per day cost two. A slot is 8 bytes: 32 bits of the key's hash and the key's
 * number. Keys are numbered as they come and kept in that order in blocks of records (a UUID key,
 * 0xff, 16 bytes and the kind as mdp__dedup_key makes it, as its 16 bytes and the index of its
 * kind; any other key as a copy in a chunk), so that adding one writes next to the one before,
 * and a probe reads a record only when the hash matches. Moving to the next day only moves the
 * first live number: an entry is live while its key's number is yesterday's first or later, and
 * the dead ones are dropped in one sweep over the table when it next fills. */
#include "ingest_internal.h"
#include "mdp/alloc.h"
#include "mdp/err.h"
#include "mdp/strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define FIRST_CAP 1024
#define KINDS     8  /* kinds of UUID key kept inline; the keys of more (none so far) go as text */
#define KIND_MAX  23 /* the longest kind kept inline */
#define UUID_KEY  0x80000000u
#define BSHIFT    12 /* 4,096 keys a block */
#define BLOCK     (1u << BSHIFT)
#define BNUM_MASK (UINT32_MAX >> BSHIFT) /* block numbers wrap with the keys' numbers */

/* 8 bytes: eight to a cache line, so that a day of ids spans few pages (each probe lands on a
 * random one, and under this machine's paravirtualized MMU a miss of the TLB costs more than the
 * cache miss: perf put the probe's time on its first load, the prefetch included). */
struct slot {
    uint32_t tag; /* the key's hash, never 0; 0: a slot never used. Its low bits are the home */
    uint32_t ref; /* the key's number: which record holds it */
};

struct rec { /* a key, in the block of its number; written in order, so no random page */
    union {
        unsigned char u[16];
        const char *text; /* in a chunk */
    } k;
    uint32_t len; /* UUID_KEY | the kind's index, or the text's length */
};

struct mdp_dedup_index {
    struct slot *t;
    void *tmem;       /* the allocation t lies in */
    size_t cap, used; /* slots, and those in use, live or dead */
    size_t n_cur, n_prev;
    /* Keys are numbered as they come (modulo 2^32); those from live_from on are live: today's
     * from cur_from, yesterday's before. A number's record is in block (number >> BSHIFT), kept
     * in a ring of nb (a power of two) so that the blocks of dead keys are written again. */
    uint32_t next, live_from, cur_from;
    struct rec **blocks;
    size_t nb;
    uint32_t gen;         /* the current day's, for the chunks of text keys: 2 and up */
    struct mdp_chunks ch; /* the copies of text keys; a chunk's tag: its newest generation */
    int nkinds;
    unsigned char klen[KINDS];
    char kinds[KINDS][KIND_MAX + 1];
    const char *lit[KINDS]; /* a string constant of each kind, known by its address */
};

static int is_live(const struct mdp_dedup_index *x, const struct slot *s)
{
    return s->ref - x->live_from < x->next - x->live_from;
}

static struct rec *rec_of(const struct mdp_dedup_index *x, uint32_t ref)
{
    return &x->blocks[(ref >> BSHIFT) & (x->nb - 1)][ref & (BLOCK - 1)];
}

static uint64_t mix(uint64_t h) /* MurmurHash3's finalizer: every bit moves every bit */
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

/* The slot's tag of a 64-bit hash: 32 bits of it, never 0. Two keys with the same tag are told
 * apart by their records (one in 2^32 of the slots passed). */
static uint32_t tag_of(uint64_t h)
{
    uint32_t t = (uint32_t)(h >> 32);
    return t ? t : 1;
}

/* Both halves mixed whole: which bytes of a UUID vary (a v7's low random bits, the counter of a
 * test's ids) differs by producer, and the table takes the hash's low bits. */
static uint32_t uuid_tag(const unsigned char *u, uint32_t kind)
{
    uint64_t a, b;
    memcpy(&a, u, 8);
    memcpy(&b, u + 8, 8);
    return tag_of(mix(mix(a ^ kind) ^ b));
}

/* The index of kind (n bytes) among the inline kinds, adding it; -1 when it cannot be one. */
static int kind_index(struct mdp_dedup_index *x, const char *kind, size_t n)
{
    for (int i = 0; i < x->nkinds; i++)
        if (x->klen[i] == n && memcmp(x->kinds[i], kind, n) == 0) return i;
    if (n > KIND_MAX || x->nkinds == KINDS) return -1;
    memcpy(x->kinds[x->nkinds], kind, n);
    x->klen[x->nkinds] = (unsigned char)n;
    return x->nkinds++;
}

/* kind_index of a string constant (a literal, never written): after the first time it is known
 * by its address, not compared byte for byte for every id. */
static int lit_index(struct mdp_dedup_index *x, const char *kind)
{
    for (int i = 0; i < x->nkinds; i++)
        if (x->lit[i] == kind) return i;
    int k = kind_index(x, kind, strlen(kind));
    if (k >= 0) x->lit[k] = kind;
    return k;
}

/* A zeroed table of cap slots in *out_mem (freed with free()), or NULL. A big one is aligned to
 * 2 MiB and given transparent huge pages, for fewer misses of the TLB. Advice only: the kernel
 * may ignore it. */
static struct slot *table_new(size_t cap, void **out_mem)
{
    const size_t huge = (size_t)2 << 20, bytes = cap * sizeof(struct slot);
    if (bytes < huge) return *out_mem = mdp_calloc(cap, sizeof(struct slot));
    char *m = *out_mem = mdp_calloc(1, bytes + huge); /* big: mmapped, not touched yet */
    if (!m) return NULL;
    char *t = (char *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
#ifdef MADV_HUGEPAGE
    madvise(t, bytes, MADV_HUGEPAGE);
#endif
    return (struct slot *)t;
}

/* Puts s into t (cap slots, no dead ones) at the first free slot from its home. */
static void place(struct slot *t, size_t cap, const struct slot *s)
{
    size_t i = s->tag & (cap - 1);
    while (t[i].tag)
        i = (i + 1) & (cap - 1);
    t[i] = *s;
}

/* The live entries into a new table of cap slots. */
static int rehash(struct mdp_dedup_index *x, size_t cap)
{
    void *mem;
    struct slot *t = table_new(cap, &mem);
    if (!t) return MDP_ERR_NOMEM;
    for (size_t i = 0; i < x->cap; i++)
        if (x->t[i].tag && is_live(x, &x->t[i])) place(t, cap, &x->t[i]);
    free(x->tmem);
    x->t = t;
    x->tmem = mem;
    x->cap = cap;
    x->used = x->n_cur + x->n_prev;
    return 0;
}

/* Drops the dead entries in place, in one pass. It starts after a slot never used, which no
 * probe path crosses, and takes each live entry out and puts it back from its home: the slots
 * it probes were all passed already, so none of them empties again later in the pass. */
static void sweep(struct mdp_dedup_index *x)
{
    size_t mask = x->cap - 1, start = 0;
    while (x->t[start].tag) /* there is one: the table is never full */
        start++;
    for (size_t k = 1; k <= x->cap; k++) {
        struct slot *s = &x->t[(start + k) & mask];
        if (!s->tag) continue;
        struct slot e = *s;
        s->tag = 0;
        if (is_live(x, &e)) place(x->t, x->cap, &e);
    }
    x->used = x->n_cur + x->n_prev;
}

/* The blocks of the live keys' numbers and of the next one, as block numbers from *first on:
 * returns how many. */
static size_t live_blocks(const struct mdp_dedup_index *x, uint32_t *first)
{
    *first = x->live_from >> BSHIFT;
    return (((x->next >> BSHIFT) - *first) & BNUM_MASK) + 1;
}

/* Frees the blocks of dead keys, but for those of the live ones and the next. */
static void free_dead_blocks(struct mdp_dedup_index *x)
{
    uint32_t first;
    size_t n = live_blocks(x, &first);
    for (size_t j = 0; j < x->nb; j++)
        if (((j - first) & (x->nb - 1)) >= n) { /* not one of the n from first */
            free(x->blocks[j]);
            x->blocks[j] = NULL;
        }
}

/* A ring of at least need blocks, the live ones moved to where their numbers now go. */
static int grow_ring(struct mdp_dedup_index *x, size_t need)
{
    size_t nb = x->nb ? x->nb * 2 : 4;
    while (nb < need)
        nb *= 2;
    struct rec **b = mdp_calloc(nb, sizeof *b);
    if (!b) return MDP_ERR_NOMEM;
    uint32_t first;
    size_t n = live_blocks(x, &first) - 1; /* the next key's block is not made yet */
    for (size_t i = 0; i < n && x->nb; i++) {
        struct rec **old = &x->blocks[(first + i) & (x->nb - 1)];
        b[(first + i) & (nb - 1)] = *old;
        *old = NULL;
    }
    for (size_t j = 0; j < x->nb; j++) /* dead ones */
        free(x->blocks[j]);
    free(x->blocks);
    x->blocks = b;
    x->nb = nb;
    return 0;
}

/* The record for the next key's number (not taken yet: x->next moves when it is filled), or
 * NULL when out of memory. */
static struct rec *rec_next(struct mdp_dedup_index *x)
{
    uint32_t first;
    size_t n = live_blocks(x, &first);
    if (n > x->nb && grow_ring(x, n)) return NULL;
    struct rec **b = &x->blocks[(x->next >> BSHIFT) & (x->nb - 1)];
    if (!*b && !(*b = mdp_malloc(BLOCK * sizeof **b))) return NULL; /* else dead: written again */
    return &(*b)[x->next & (BLOCK - 1)];
}

/* Room for one more entry: a table 70% in use is swept of its dead entries, grown when half of
 * it is live, and shrunk when an eighth or less is (after a big day, or a reset), when the blocks
 * of dead keys are freed too. */
static int make_room(struct mdp_dedup_index *x)
{
    size_t live = x->n_cur + x->n_prev, cap = x->cap;
    if ((live + 1) * 2 > cap) {
        cap *= 2;
    } else if (cap > FIRST_CAP && live * 8 < cap) {
        for (cap = FIRST_CAP; cap < live * 4; cap *= 2)
            ;
        free_dead_blocks(x);
    }
    if (cap != x->cap) return rehash(x, cap);
    sweep(x);
    return 0;
}

/* A copy of the text (n bytes) in the index's chunks, or NULL when out of memory. */
static const char *copy(struct mdp_dedup_index *x, const char *str, size_t n)
{
    char *d = mdp_chunks_alloc(&x->ch, n);
    if (!d) return NULL;
    memcpy(d, str, n);
    x->ch.head->tag = x->gen;
    return d;
}

/* 1 if the key (tag, len as in the record; key: 16 bytes, or text) is live, else adds it for
 * today and returns 0; MDP_ERR_NOMEM. An entry found dead is no match: its slot is taken for the
 * new one when no live one follows. */
static int probe(struct mdp_dedup_index *x, uint32_t tag, uint32_t len, const void *key)
{
    if ((x->used + 1) * 10 > x->cap * 7 && make_room(x)) return MDP_ERR_NOMEM;
    size_t mask = x->cap - 1, i = tag & mask, at = SIZE_MAX;
    for (; x->t[i].tag; i = (i + 1) & mask) {
        const struct slot *s = &x->t[i];
        if (!is_live(x, s)) {
            if (at == SIZE_MAX) at = i;
        } else if (s->tag == tag) {
            const struct rec *r = rec_of(x, s->ref);
            if (r->len == len &&
                (len & UUID_KEY ? memcmp(r->k.u, key, 16) == 0 : memcmp(r->k.text, key, len) == 0))
                return 1;
        }
    }
    struct rec *r = rec_next(x);
    if (!r) return MDP_ERR_NOMEM;
    if (len & UUID_KEY)
        memcpy(r->k.u, key, 16);
    else if (!(r->k.text = copy(x, key, len)))
        return MDP_ERR_NOMEM;
    r->len = len;
    if (at == SIZE_MAX) {
        at = i;
        x->used++;
    }
    x->t[at] = (struct slot){tag, x->next++};
    x->n_cur++;
    return 0;
}

/* mdp__dedup_seen_uuid of the kind's index k (-1: no inline kind). */
static int seen_uuid(struct mdp_dedup_index *x, int k, const char *kind, size_t klen,
                     const unsigned char u[16])
{
    if (k < 0) { /* as text, which is what its key would be */
        char buf[512];
        if (1 + 16 + klen > sizeof buf) return 0;
        buf[0] = (char)0xff;
        memcpy(buf + 1, u, 16);
        memcpy(buf + 17, kind, klen);
        return probe(x, tag_of(mdp_strset_hash(buf, 17 + klen)), (uint32_t)(17 + klen), buf);
    }
    return probe(x, uuid_tag(u, (uint32_t)k), UUID_KEY | (uint32_t)k, u);
}

int mdp__dedup_seen_uuid(struct mdp_dedup_window *w, const char *kind, size_t klen,
                         const unsigned char u[16])
{
    return seen_uuid(w->ix, kind_index(w->ix, kind, klen), kind, klen, u);
}

int mdp__dedup_seen_uuid_lit(struct mdp_dedup_window *w, const char *kind,
                             const unsigned char u[16])
{
    int k = lit_index(w->ix, kind);
    return seen_uuid(w->ix, k, kind, k < 0 ? strlen(kind) : 0, u);
}

void mdp__dedup_prefetch_uuid(struct mdp_dedup_window *w, const char *kind, size_t klen,
                              const unsigned char u[16])
{
    struct mdp_dedup_index *x = w->ix;
    int k = kind_index(x, kind, klen);
    if (k >= 0) __builtin_prefetch(&x->t[uuid_tag(u, (uint32_t)k) & (x->cap - 1)]);
}

void mdp__dedup_prefetch_uuid_lit(struct mdp_dedup_window *w, const char *kind,
                                  const unsigned char u[16])
{
    struct mdp_dedup_index *x = w->ix;
    int k = lit_index(x, kind);
    if (k >= 0) __builtin_prefetch(&x->t[uuid_tag(u, (uint32_t)k) & (x->cap - 1)]);
}

void mdp__dedup_prefetch(struct mdp_dedup_window *w, const char *key, size_t len)
{
    if ((unsigned char)key[0] == 0xff && len > 17)
        mdp__dedup_prefetch_uuid(w, key + 17, len - 17, (const unsigned char *)key + 1);
    else
        __builtin_prefetch(&w->ix->t[tag_of(mdp_strset_hash(key, len)) & (w->ix->cap - 1)]);
}

int mdp__dedup_seen(struct mdp_dedup_window *w, const char *key, size_t len)
{
    if ((unsigned char)key[0] == 0xff && len > 17) /* a UUID key: a kind never starts so */
        return mdp__dedup_seen_uuid(w, key + 17, len - 17, (const unsigned char *)key + 1);
    if (len >= UUID_KEY) return 0; /* not kept, as a key too long for mdp__dedup_key */
    return probe(w->ix, tag_of(mdp_strset_hash(key, len)), (uint32_t)len, key);
}

static struct mdp_dedup_index *index_new(void)
{
    struct mdp_dedup_index *x = mdp_calloc(1, sizeof *x);
    if (!x) return NULL;
    if (!(x->t = table_new(FIRST_CAP, &x->tmem))) {
        free(x);
        return NULL;
    }
    x->cap = FIRST_CAP;
    x->gen = 2;
    return x;
}

int mdp_dedup_window_enter(struct mdp_dedup_window *w, int64_t day, struct mdp_check *ck)
{
    struct mdp_dedup_index *x = w->ix;
    if (!x) {
        if (!(x = w->ix = index_new())) return MDP_ERR_NOMEM;
        w->day = day;
    } else if (day != w->day) {
        /* the next day keeps today's ids as yesterday's; a gap, or a step back (another
         * channel), starts over: every key numbered before then is dead */
        int next = day == w->day + 1;
        if (x->gen > UINT32_MAX - 4) { /* never in practice: start the generations again */
            memset(x->t, 0, x->cap * sizeof *x->t);
            x->used = x->n_cur = x->n_prev = 0;
            x->gen = 2;
            next = 0;
        }
        x->gen += next ? 1 : 2;
        x->live_from = next ? x->cur_from : x->next; /* the keys before it are dead */
        x->cur_from = x->next;
        x->n_prev = next ? x->n_cur : 0;
        x->n_cur = 0;
        w->day = day;
        /* copies of dead entries are never read (a probe looks at a live entry's key only):
         * their chunks are emptied for the copies to come */
        struct mdp_chunk **pc = &x->ch.head;
        while (*pc && x->gen - (*pc)->tag <= 1)
            pc = &(*pc)->next;
        mdp_chunks_empty(&x->ch, pc);
    }
    ck->win = w;
    return 0;
}

int mdp__dedup_number_from(struct mdp_dedup_window *w, uint32_t first)
{
    struct mdp_dedup_index *x = w->ix;
    if (!x || x->next != x->live_from || x->n_cur || x->n_prev) return MDP_ERR_INVALID;
    x->next = x->live_from = x->cur_from = first;
    return 0;
}

size_t mdp_dedup_window_count(const struct mdp_dedup_window *w)
{
    return w->ix ? w->ix->n_cur + w->ix->n_prev : 0;
}

void mdp_dedup_window_cleanup(struct mdp_dedup_window *w)
{
    if (w->ix) {
        mdp_chunks_free(&w->ix->ch);
        for (size_t j = 0; j < w->ix->nb; j++)
            free(w->ix->blocks[j]);
        free(w->ix->blocks);
        free(w->ix->tmem);
        free(w->ix);
    }
    memset(w, 0, sizeof *w);
}
