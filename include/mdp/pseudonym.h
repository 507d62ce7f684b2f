/* Keyed subject pseudonyms (docs/privacy.md §6): the HMAC-SHA256 of a subject's normalized email
 * address or user id under the lake's subject key. The consent journal's hash chain and the
 * suppression list hold only these, never the clear address or id.
 *
 * The subject key is 32 random bytes generated once per lake, on first use, and kept in the state
 * store (table "subject_key"), so that every process of the lake (CLI, server, jobs) computes the
 * same pseudonyms without configuration, and a key that could change (an environment variable)
 * cannot silently split one person into two. Whoever holds the state store can test a guessed
 * address against a pseudonym; the key is as sensitive as the store itself.
 *
 * Usage (the erasure job):
 *     unsigned char key[MDP_SUBJECT_KEY_LEN];
 *     char e[65], u[65];
 *     if (mdp_subject_key(state, key, &d) ||
 *         mdp_subject_pseudonym(key, MDP_PSEUDONYM_EMAIL, "Anna@Example.de", e, &d) ||
 *         mdp_subject_pseudonym(key, MDP_PSEUDONYM_USER_ID, user_id, u, &d)) ...fail...
 */
#ifndef MDP_PSEUDONYM_H
#define MDP_PSEUDONYM_H

#include "mdp/err.h"

struct mdp_state;

#define MDP_SUBJECT_KEY_LEN 32

enum mdp_pseudonym_kind {
    MDP_PSEUDONYM_EMAIL = 1,   /* an address: trimmed and ASCII-lowercased first (email_lower) */
    MDP_PSEUDONYM_USER_ID = 2, /* a user id: trimmed and ASCII-lowercased first (UUID text) */
    MDP_PSEUDONYM_EMAIL_SHA256 = 3 /* an address's SHA-256 (64 hex), lowercased first */
};

/* Reads the lake's subject key from the state store into key (the caller's buffer), creating it
 * (OpenSSL random bytes, a put-if-absent, so that racing processes agree on one key) when the
 * store has none. Returns 0, MDP_ERR_CRYPTO (no random bytes), MDP_ERR_PARSE (the stored key is
 * not 64 hex characters), MDP_ERR_IO or MDP_ERR_NOMEM, with d. */
int mdp_subject_key(struct mdp_state *s, unsigned char key[MDP_SUBJECT_KEY_LEN],
                    struct mdp_diag *d);

/* As mdp_subject_key, but only reads: *found (the caller's) is 0 when the store has no key yet
 * (then nothing was ever pseudonymized there, and key is left as it was), 1 with key filled.
 * For look-ups that must not change the store (an export, a dry run). Returns 0, MDP_ERR_PARSE,
 * MDP_ERR_IO or MDP_ERR_NOMEM, with d. */
int mdp_subject_key_find(struct mdp_state *s, unsigned char key[MDP_SUBJECT_KEY_LEN], int *found,
                         struct mdp_diag *d);

/* The pseudonym of value (borrowed) as 64 lowercase hex characters and a NUL into out (the
 * caller's): HMAC-SHA256 under key of "email:" + email_lower, of "user_id:" + the normalized
 * id, or of "email_sha256:" + the hex digest (the prefix keeps kinds from ever sharing a
 * pseudonym). Returns 0,
 * MDP_ERR_INVALID (empty after trimming, an address without '@', a SHA-256 that is not 64
 * hex characters, a kind not in the enum),
 * MDP_ERR_RANGE (an address over 255 or an id over 255 bytes) or MDP_ERR_CRYPTO, with d. */
int mdp_subject_pseudonym(const unsigned char key[MDP_SUBJECT_KEY_LEN],
                          enum mdp_pseudonym_kind kind, const char *value, char out[65],
                          struct mdp_diag *d);

#endif
