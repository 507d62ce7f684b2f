/* String set (include/mdp/strset.h): linear probing over a power-of-two table, grown at 70%. */
#include "mdp/strset.h"
#include "mdp/alloc.h"
#include "mdp/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    char *s;
    size_t len;
    uint64_t h;
};

struct mdp_strset {
    struct slot *t;
    size_t cap, n;
};

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
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

void mdp_strset_free(struct mdp_strset *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->t[i].s);
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

int mdp_strset_add(struct mdp_strset *s, const char *str, size_t len)
{
    if ((s->n + 1) * 10 > s->cap * 7 && grow(s)) return MDP_ERR_NOMEM;
    uint64_t h = fnv1a(str, len);
    size_t i = h & (s->cap - 1);
    while (s->t[i].s) {
        if (s->t[i].h == h && s->t[i].len == len && memcmp(s->t[i].s, str, len) == 0) return 0;
        i = (i + 1) & (s->cap - 1);
    }
    char *c = mdp_malloc(len + 1);
    if (!c) return MDP_ERR_NOMEM;
    memcpy(c, str, len);
    c[len] = '\0';
    s->t[i] = (struct slot){c, len, h};
    s->n++;
    return 1;
}

int mdp_strset_has(const struct mdp_strset *s, const char *str, size_t len)
{
    uint64_t h = fnv1a(str, len);
    for (size_t i = h & (s->cap - 1); s->t[i].s; i = (i + 1) & (s->cap - 1))
        if (s->t[i].h == h && s->t[i].len == len && memcmp(s->t[i].s, str, len) == 0) return 1;
    return 0;
}

size_t mdp_strset_count(const struct mdp_strset *s)
{
    return s->n;
}
