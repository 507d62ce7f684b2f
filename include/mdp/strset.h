/* A set of strings (open addressing, FNV-1a), used to recognise ids seen before: event_id, SNS
 * MessageId, SES feedbackId, DynamoDB eventID. Strings are copied. Not thread-safe. */
#ifndef MDP_STRSET_H
#define MDP_STRSET_H

#include <stddef.h>

struct mdp_strset;

struct mdp_strset *mdp_strset_new(void);
void mdp_strset_free(struct mdp_strset *s);
/* Adds s (len bytes). Returns 1 if it was new, 0 if it was already there, MDP_ERR_NOMEM. */
int mdp_strset_add(struct mdp_strset *s, const char *str, size_t len);
size_t mdp_strset_count(const struct mdp_strset *s);
/* 1 if the string is in the set. */
int mdp_strset_has(const struct mdp_strset *s, const char *str, size_t len);

#endif
