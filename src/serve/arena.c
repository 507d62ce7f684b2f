/* Per-request memory of the server (server.h): a bump allocator whose first chunk stays with the
 * pooled request of its thread, so that a usual request allocates nothing from malloc, and whose
 * larger chunks are freed when the request ends (nginx's pools). */
#include "server.h"

#include <stdlib.h>
#include <string.h>

#define FIRST_CHUNK 4096

struct mdp__arena_chunk {
    struct mdp__arena_chunk *next;
    size_t cap, used;
    max_align_t data[];
};

static struct mdp__arena_chunk *chunk_new(size_t cap)
{
    struct mdp__arena_chunk *c = malloc(sizeof *c + cap);
    if (c) {
        c->next = NULL;
        c->cap = cap;
        c->used = 0;
    }
    return c;
}

static void *bump(struct mdp__arena_chunk *c, size_t n)
{
    if (!c || c->cap - c->used < n) return NULL;
    void *p = (char *)c->data + c->used;
    c->used += n;
    return memset(p, 0, n);
}

void *mdp__arena_alloc(struct mdp__arena *a, size_t n)
{
    const size_t al = sizeof(max_align_t);
    if (n > SIZE_MAX - al) return NULL;
    n = (n + al - 1) / al * al;
    if (!a->first && !(a->first = chunk_new(FIRST_CHUNK))) return NULL;
    void *p = bump(a->first, n);
    if (!p) p = bump(a->extra, n);
    if (!p) { /* a chunk of its own, at least twice the last one */
        size_t cap = a->extra ? a->extra->cap * 2 : FIRST_CHUNK * 2;
        if (cap < n) cap = n;
        struct mdp__arena_chunk *c = chunk_new(cap);
        if (!c) return NULL;
        c->next = a->extra;
        a->extra = c;
        p = bump(c, n);
    }
    return p;
}

void mdp__arena_reset(struct mdp__arena *a)
{
    for (struct mdp__arena_chunk *c = a->extra, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->extra = NULL;
    if (a->first) a->first->used = 0;
}

void mdp__arena_cleanup(struct mdp__arena *a)
{
    mdp__arena_reset(a);
    free(a->first);
    a->first = NULL;
}
