/* The library's allocation wrapper: every allocation that should be testable under memory
 * pressure goes through mdp_malloc/mdp_calloc/mdp_realloc/mdp_strdup/mdp_strndup, whose memory is released
 * with free() (or mdp_free, the same thing), so a pointer may cross between the two worlds.
 *
 * In a build with -DMDP_FAULT_INJECTION=ON the wrapper counts its calls and makes one chosen call
 * fail, as if out of memory: the N-th after mdp_alloc_fail_at(N), or the N-th of the process when
 * the environment holds MDP_FAIL_ALLOC_AT=N. The `oom` tests use it to check that every failure
 * ends in a clean MDP_ERR_NOMEM. In other builds the wrapper is plain malloc. Thread-safe. */
#ifndef MDP_ALLOC_H
#define MDP_ALLOC_H

#include <stddef.h>

/* malloc(n). Returns the memory (the caller frees it with free()) or NULL when out of memory. */
void *mdp_malloc(size_t n);
/* calloc(n, size). Returns zeroed memory (the caller frees it with free()) or NULL. */
void *mdp_calloc(size_t n, size_t size);
/* realloc(p, n). Returns the moved memory (the caller frees it with free()) or NULL, in which
 * case p is untouched and still owned by the caller. */
void *mdp_realloc(void *p, size_t n);
/* strdup(s); s is borrowed. Returns the copy (the caller frees it with free()) or NULL. */
char *mdp_strdup(const char *s);
/* strndup(s, n): at most n bytes of s, terminated; s is borrowed. Returns the copy (the caller
 * frees it with free()) or NULL. */
char *mdp_strndup(const char *s, size_t n);
/* free(p); accepts NULL. Returns nothing. */
void mdp_free(void *p);

/* Fault injection (tests only): from now on, the n-th call of the wrapper fails (n >= 1), or none
 * (n == 0); the call counter restarts at 0. Returns 0, or MDP_ERR_UNSUPPORTED in a build without
 * MDP_FAULT_INJECTION. */
int mdp_alloc_fail_at(long n);
/* Returns the number of wrapper calls since the last mdp_alloc_fail_at (or the start), or -1 in a
 * build without MDP_FAULT_INJECTION. */
long mdp_alloc_calls(void);

#endif
