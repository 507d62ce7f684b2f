/* A set of strings (open addressing), used to recognise ids seen before: event_id, SNS
 * MessageId, SES feedbackId, DynamoDB eventID. Strings are copied (into chunks the set owns, not
 * one allocation each). Not thread-safe. */
#ifndef MDP_STRSET_H
#define MDP_STRSET_H

#include <stddef.h>
#include <stdint.h>

struct mdp_strset;

/* Returns an empty set (the caller frees it with mdp_strset_free) or NULL when out of memory. */
struct mdp_strset *mdp_strset_new(void);
/* Frees the set and the copies of its strings. Accepts NULL. */
void mdp_strset_free(struct mdp_strset *s);
/* Empties the set (accepts NULL), keeping its table and the chunks of copies for the strings to
 * come: a set refilled to the same size (a day of ids after a day) allocates nothing. A set whose
 * last fill used an eighth of its table or less goes back to its first size and one chunk, so a
 * set reused per delivery does not keep a big delivery's memory. */
void mdp_strset_clear(struct mdp_strset *s);
/* Adds s (len bytes; borrowed, the set keeps a copy). Returns 1 if it was new, 0 if it was already
 * there, MDP_ERR_NOMEM. */
int mdp_strset_add(struct mdp_strset *s, const char *str, size_t len);
/* Returns the hash the set uses for str (len bytes), for indexes of ids built on the same keys
 * (the ingest stage's duplicate index). */
uint64_t mdp_strset_hash(const char *str, size_t len);
/* Returns the number of strings in the set. */
size_t mdp_strset_count(const struct mdp_strset *s);
/* Returns 1 if the string (len bytes) is in the set, else 0. */
int mdp_strset_has(const struct mdp_strset *s, const char *str, size_t len);

#endif
