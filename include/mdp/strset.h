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

/* Chunks that copies are cut from one after the other (64 KiB each, or one the size of a larger
 * copy), so that a copy costs no allocation of its own: the copies of a string set and of the
 * ingest stage's duplicate index. A zeroed struct mdp_chunks is empty; it owns its chunks. */
struct mdp_chunk {
    struct mdp_chunk *next; /* the next older */
    uint32_t tag;           /* the user's (the duplicate index: the newest generation in it) */
    size_t used, cap;
    _Alignas(8) char data[];
};
struct mdp_chunks {
    struct mdp_chunk *head;  /* the newest, which copies are cut from */
    struct mdp_chunk *spare; /* emptied chunks, taken before a new one is allocated */
};

/* Returns n bytes (rounded up to 8, aligned to 8) in the newest chunk of c, after a spare or a
 * new chunk when it is full; the bytes are owned by c (freed by mdp_chunks_free, reused after
 * mdp_chunks_empty). Returns NULL when out of memory. */
void *mdp_chunks_alloc(struct mdp_chunks *c, size_t n);
/* Empties the chunks from *from to the oldest (from points into c's list: &c->head or a
 * chunk's next) into c's spares, for the copies to come, and ends the list there. The chunks stay
 * owned by c; copies cut from them are no longer to be read. */
void mdp_chunks_empty(struct mdp_chunks *c, struct mdp_chunk **from);
/* Keeps only the newest chunk, emptied, and frees the others and the spares: a set that was big
 * once does not keep its memory. */
void mdp_chunks_trim(struct mdp_chunks *c);
/* Frees every chunk of c and leaves it empty. Accepts an empty one. */
void mdp_chunks_free(struct mdp_chunks *c);

#endif
