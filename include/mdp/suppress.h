/* The suppression list (docs/privacy.md §6): keyed pseudonyms (mdp/pseudonym.h) of erased
 * subjects' user ids and addresses, kept in the state store (table "suppression"), so that a
 * later ingest cannot bring an erased person back: ingest drops every record that names a
 * suppressed id,
 * address or address SHA-256 before anything of it reaches raw or quarantine, and counts it as
 * `suppressed`. The list holds no clear value: an address is stored as two pseudonyms (of the
 * address and of its SHA-256, spec 7's analytics key), a user id as one.
 *
 * Usage (the erasure job, after its deletions):
 *     int added;
 *     if (mdp_suppress_add(state, email_or_NULL, user_id_or_NULL, "erasure:<id>", now_ms, &added,
 *                          &d)) ...fail...
 * and ingest:
 *     struct mdp_suppress_set *set;            // NULL when the list is empty: nothing to do
 *     mdp_suppress_load(state, &set, &d);
 *     if (set && mdp_suppress_match(set, record, record_len)) ...drop the record...
 *     mdp_suppress_set_free(set);
 */
#ifndef MDP_SUPPRESS_H
#define MDP_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>
#include "mdp/err.h"

struct mdp_state;

/* Adds the subject: email and/or user_id (either may be NULL or empty, not both; borrowed).
 * reason (may be NULL) is stored with the entries and must not hold personal data (an erasure id).
 * Idempotent: *added_out (may be NULL) counts the entries that were new (0 to 3). Returns 0,
 * MDP_ERR_INVALID (no subject, a bad address), MDP_ERR_IO, MDP_ERR_CRYPTO, MDP_ERR_NOMEM, with
 * d. */
int mdp_suppress_add(struct mdp_state *s, const char *email, const char *user_id,
                     const char *reason, int64_t now_ms, int *added_out, struct mdp_diag *d);

/* Whether the subject is suppressed: *found (the caller's) is 1 when the address or the user id
 * (either may be NULL, not both) is on the list, else 0. Returns 0, MDP_ERR_INVALID, MDP_ERR_IO,
 * MDP_ERR_CRYPTO, with d. */
int mdp_suppress_contains(struct mdp_state *s, const char *email, const char *user_id, int *found,
                          struct mdp_diag *d);

/* One entry of the list, as mdp_suppress_list hands it over (strings borrowed for the call). */
struct mdp_suppress_entry {
    const char *pseudonym; /* 64 hex characters */
    const char *kind;      /* "email", "email_sha256", "user_id" */
    const char *reason;    /* as given to mdp_suppress_add ("" when none) */
    int64_t added_ms;
};
/* Calls cb for every entry in (pseudonym, kind) order. A non-zero return of cb stops the walk and
 * is returned. Returns 0, cb's value, MDP_ERR_IO, with d. */
int mdp_suppress_list(struct mdp_state *s, int (*cb)(const struct mdp_suppress_entry *e, void *ud),
                      void *ud, struct mdp_diag *d);

/* The list loaded for matching many records (ingest). */
struct mdp_suppress_set;
/* Loads the whole list with the subject key into *out (freed with mdp_suppress_set_free); *out is
 * NULL when the list is empty (then nothing needs matching, and no key is created). Returns 0,
 * MDP_ERR_IO, MDP_ERR_NOMEM, MDP_ERR_PARSE, MDP_ERR_CRYPTO, with d. */
int mdp_suppress_load(struct mdp_state *s, struct mdp_suppress_set **out, struct mdp_diag *d);
/* Frees set (NULL is fine). */
void mdp_suppress_set_free(struct mdp_suppress_set *set);
/* Returns the number of entries in set (0 for NULL). */
size_t mdp_suppress_set_count(const struct mdp_suppress_set *set);
/* Returns 1 when the n bytes at p (one record, in any text format) name a suppressed subject,
 * else 0:
 * every address-like token (local@domain), every UUID (8-4-4-4-12 hex) and every 64-hex token
 * (an address's SHA-256) in it is pseudonymized and looked up. NULL set: 0. Thread-safe for
 * concurrent readers. */
int mdp_suppress_match(const struct mdp_suppress_set *set, const char *p, size_t n);

/* ---- the list in a long-running process (the server's collector, issue 12) ----
 * Loaded once, matched without touching the store, and reloaded only when the list changed: every
 * mdp_suppress_add that adds an entry also bumps a version counter (item "~version"/"n" of the
 * list's table, never an entry), which a refresh reads with one get.
 *
 *     struct mdp_suppress_live *l;
 *     mdp_suppress_live_new(&l, &d);
 *     mdp_suppress_live_refresh(l, state, NULL, &d);   // at start, then now and then
 *     if (mdp_suppress_live_match(l, record, len)) ...drop it, count it...
 *     mdp_suppress_live_free(l);
 */
struct mdp_suppress_live;
/* An empty live list into *out (freed with mdp_suppress_live_free). Returns 0 or MDP_ERR_NOMEM,
 * with d. */
int mdp_suppress_live_new(struct mdp_suppress_live **out, struct mdp_diag *d);
/* Frees l (NULL is fine). No other thread may use it any more. */
void mdp_suppress_live_free(struct mdp_suppress_live *l);
/* Reads the list's version from s (borrowed; the caller serializes its use of s) and, when it
 * differs from the one loaded (or nothing was loaded yet), loads the list again and swaps it in.
 * *out_reloaded (may be NULL) is 1 when it did. Thread-safe against mdp_suppress_live_match. On
 * failure the previous list stays in force. Returns 0 or mdp_suppress_load's errors, with d. */
int mdp_suppress_live_refresh(struct mdp_suppress_live *l, struct mdp_state *s, int *out_reloaded,
                              struct mdp_diag *d);
/* As mdp_suppress_match over the list in force: returns 1 when the n bytes at p name a suppressed
 * subject, else 0 (also when none is loaded or l is NULL). Thread-safe: many threads may match
 * while one refreshes. */
int mdp_suppress_live_match(struct mdp_suppress_live *l, const char *p, size_t n);
/* Returns the number of entries in force (0 for NULL). Thread-safe. */
size_t mdp_suppress_live_count(struct mdp_suppress_live *l);

#endif
