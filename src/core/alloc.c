/* The allocation wrapper (include/mdp/alloc.h): plain malloc, plus a call counter that fails one
 * chosen allocation in a fault-injection build, so the tests labelled `oom` can walk every
 * allocation of an operation and check that it fails cleanly. */
#include "mdp/alloc.h"
#include "mdp/err.h"

#include <stdlib.h>
#include <string.h>

#ifdef MDP_FAULT_INJECTION
#include <stdatomic.h>

static atomic_long calls;
static atomic_long fail_at = -1; /* -1: MDP_FAIL_ALLOC_AT not read yet; 0: never fail */

/* counts this call; 1 when it is the one to fail */
static int inject(void)
{
    long at = atomic_load(&fail_at);
    if (at < 0) {
        const char *e = getenv("MDP_FAIL_ALLOC_AT");
        long v = e ? strtol(e, NULL, 10) : 0;
        long unread = -1;
        atomic_compare_exchange_strong(&fail_at, &unread, v > 0 ? v : 0);
        at = atomic_load(&fail_at);
    }
    long n = atomic_fetch_add(&calls, 1) + 1;
    return at > 0 && n == at;
}

int mdp_alloc_fail_at(long n)
{
    atomic_store(&fail_at, n > 0 ? n : 0);
    atomic_store(&calls, 0);
    return 0;
}

long mdp_alloc_calls(void)
{
    return atomic_load(&calls);
}
#else
#define inject() 0

int mdp_alloc_fail_at(long n)
{
    return MDP_ERR_UNSUPPORTED;
}

long mdp_alloc_calls(void)
{
    return -1;
}
#endif

void *mdp_malloc(size_t n)
{
    return inject() ? NULL : malloc(n);
}

void *mdp_calloc(size_t n, size_t size)
{
    return inject() ? NULL : calloc(n, size);
}

void *mdp_realloc(void *p, size_t n)
{
    return inject() ? NULL : realloc(p, n);
}

char *mdp_strdup(const char *s)
{
    return inject() ? NULL : strdup(s);
}

char *mdp_strndup(const char *s, size_t n)
{
    return inject() ? NULL : strndup(s, n);
}

void mdp_free(void *p)
{
    free(p);
}
