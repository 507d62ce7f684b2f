/* The copy-variant bandit of spec 6: per (context, variant) a Beta(successes + 1, failures + 1)
 * posterior; Thompson sampling picks the variant with the largest draw, and a context with fewer
 * than min_events feedback events is explored uniformly. Counts live in the state store (table
 * "bandit", partition = context, sort key = variant, body {"s":N,"f":N}: atomic adds, durable)
 * and in memory for the hot path. Thread-safe. */
#ifndef MDP_BANDIT_H
#define MDP_BANDIT_H
#include <stdint.h>
#include "mdp/err.h"

struct mdp_state;
struct mdp_state_item;
struct mdp_bandit;

/* Loads every arm of the store st (borrowed for the call; NULL: start empty, memory only). *out is
 * freed by the caller with mdp_bandit_close. Returns 0, or the store's error (MDP_ERR_IO) or
 * MDP_ERR_NOMEM, with d; *out is then left as it was. */
int mdp_bandit_open(struct mdp_state *st, struct mdp_bandit **out, struct mdp_diag *d);
/* Frees b and its arms (NULL is fine). No other thread may use b any more. */
void mdp_bandit_close(struct mdp_bandit *b);

/* A per-thread random source (xorshift128+), seeded from the OS. */
struct mdp_rng {
    uint64_t s[2];
    double spare; /* the second normal draw of a pair */
    int has_spare;
};
/* Seeds r, the caller's storage (splitmix64 of seed; the same seed gives the same sequence). An
 * rng is not thread-safe: one per thread. */
void mdp_rng_seed(struct mdp_rng *r, uint64_t seed);
/* Returns the next 64 random bits. */
uint64_t mdp_rng_next(struct mdp_rng *r);
/* Returns a uniform draw in the open interval (0, 1). */
double mdp_rng_unit(struct mdp_rng *r);
/* Returns a draw from Beta(a, b), a, b > 0 (two Gamma draws, Marsaglia-Tsang). */
double mdp_rng_beta(struct mdp_rng *r, double a, double b);

enum mdp_bandit_policy { MDP_BANDIT_EXPLORE = 0, MDP_BANDIT_THOMPSON = 1 };
/* Chooses among n variants (n <= 64) for context: returns the index, the policy used and the
 * propensity (the probability of this choice under the policy: 1/n when exploring; under
 * Thompson sampling estimated from 2,000 posterior draws, once per change of the context's
 * counts). Counts a decision for the arm. Returns the index (0 <= index < n, with *propensity and
 * *policy set), or -1 when n is out of range or memory runs out (then neither is set). Safe to
 * call from many threads at once, each with its own rng. The variant names must stay valid while
 * the bandit lives (the catalogue's strings, borrowed: a context remembers its arms by them);
 * context is copied. */
int mdp_bandit_choose(struct mdp_bandit *b, const char *context, const char *const *variants, int n,
                      long min_events, struct mdp_rng *rng, double *propensity,
                      enum mdp_bandit_policy *policy);
/* Records feedback: positive adds a success, else a failure; durable in the store st first (NULL:
 * in memory only). Thread-safe. Returns 0, or the store's error (MDP_ERR_IO; nothing counted in
 * memory) or MDP_ERR_NOMEM (counted in the store, not yet in memory), with d. */
int mdp_bandit_feedback(struct mdp_bandit *b, struct mdp_state *st, const char *context,
                        const char *variant, int positive, struct mdp_diag *d);
/* As mdp_bandit_feedback, once: the mark (an item of mark_table written only if absent, e.g.
 * "this decision's signal was counted") and the count are one transaction of the store, so that a
 * crash cannot keep one without the other. MDP_ERR_EXISTS (nothing counted) when the mark exists.
 * st must not be NULL; the mark is borrowed for the call. Returns 0, MDP_ERR_EXISTS, or as
 * mdp_bandit_feedback. */
int mdp_bandit_feedback_once(struct mdp_bandit *b, struct mdp_state *st, const char *mark_table,
                             const struct mdp_state_item *mark, const char *context,
                             const char *variant, int positive, struct mdp_diag *d);

/* As mdp_bandit_feedback_once, for a reward that belongs to a person: subject (borrowed; NULL or
 * "": nobody, then exactly mdp_bandit_feedback_once) is the person's pseudonym (mdp/pseudonym.h,
 * the user id's). The mark then carries the subject, and one more item in the same transaction
 * (table MDP_BANDIT_REWARDS, key "<mark_table>|<mark pk>" / mark sk, body {"c":context,"v":variant,
 * "p":0|1}, the subject) remembers which arm this person's reward counted on, so that
 * mdp_bandit_forget can take it back. Returns as mdp_bandit_feedback_once. */
int mdp_bandit_feedback_owned(struct mdp_bandit *b, struct mdp_state *st, const char *mark_table,
                              const struct mdp_state_item *mark, const char *subject,
                              const char *context, const char *variant, int positive,
                              struct mdp_diag *d);
/* The state table of the per-person reward records of mdp_bandit_feedback_owned. */
#define MDP_BANDIT_REWARDS "bandit_reward"

/* What mdp_bandit_forget took back. */
struct mdp_bandit_forgotten {
    int64_t rewards;   /* reward records found and taken back */
    int64_t successes; /* of them successes */
    int64_t failures;  /* of them failures */
    int64_t arms;      /* distinct (context, variant) arms whose counts changed */
};
/* The erasure of a person from the bandit: every reward mdp_bandit_feedback_owned counted for
 * subject (found through the state store's per-subject index, never a scan) is subtracted from its
 * arm and its record deleted, one transaction per reward, so that the counters equal those of a
 * replay of the same feedback without this person, and a crash at any point leaves each reward
 * either counted with its record or neither (a rerun finishes). Rewards counted without a subject
 * (anonymous feedback) cannot be attributed and stay. A running server's in-memory counts catch up
 * at the arm's next feedback or restart. out (the caller's) is zeroed first. Returns 0,
 * MDP_ERR_INVALID (empty subject), MDP_ERR_PARSE (a reward record that is not {"c","v","p"}),
 * the store's errors, MDP_ERR_NOMEM, with d. */
int mdp_bandit_forget(struct mdp_state *st, const char *subject, struct mdp_bandit_forgotten *out,
                      struct mdp_diag *d);

/* The arms, for reports and metrics: cb per (context, variant) in name order. */
struct mdp_bandit_arm {
    const char *context, *variant;
    int64_t successes, failures, decisions;
};
/* Takes a copy of every arm under the lock, then calls cb without it (cb may use b); the arm and
 * its strings are borrowed for the call. Returns 0, cb's non-zero value (which stops the walk), or
 * MDP_ERR_NOMEM. */
int mdp_bandit_each(struct mdp_bandit *b, int (*cb)(const struct mdp_bandit_arm *a, void *ud),
                    void *ud);

/* The context key: the spec 6 dimensions joined by '|': persona|tone|address|onb bucket|surface,
 * written to out, the caller's buffer of n bytes. A NULL or empty dimension reads "unknown";
 * surface must not be NULL. Returns 0, or MDP_ERR_RANGE when the key does not fit in n bytes. */
int mdp_bandit_context(char *out, size_t n, const char *persona, const char *tone,
                       const char *address, const char *bucket, const char *surface);

#endif
