/* Hashing and pseudonymization (spec 7): SHA-256 of the normalized email for analytics, and a keyed
 * HMAC-SHA256 variant for deployments that must rule out dictionary attacks. OpenSSL does the
 * cryptography; this module only normalizes and formats. Thread-safe. */
#ifndef MDP_HASH_H
#define MDP_HASH_H

#include <stddef.h>

#define MDP_SHA256_HEX_LEN 64

/* out_hex receives 64 lowercase hex chars and a NUL (65 bytes). Returns 0 or MDP_ERR_CRYPTO. */
int mdp_sha256_hex(const void *data, size_t len, char out_hex[65]);
/* The same hash over data given in pieces, for a caller that works in small steps (the serve's
 * decision-log writer): new, update with each piece in order, then final. */
struct mdp_sha256;
/* Returns a fresh hash, owned by the caller until final or mdp_sha256_free frees it; NULL when
 * out of memory (or OpenSSL refuses). */
struct mdp_sha256 *mdp_sha256_new(void);
/* Adds the next piece. Returns 0 or MDP_ERR_CRYPTO. */
int mdp_sha256_update(struct mdp_sha256 *h, const void *data, size_t len);
/* Writes the hex as mdp_sha256_hex would for all pieces together, and frees h. Returns 0 or
 * MDP_ERR_CRYPTO. */
int mdp_sha256_final_hex(struct mdp_sha256 *h, char out_hex[65]);
/* Frees a hash given up on (NULL is fine). */
void mdp_sha256_free(struct mdp_sha256 *h);
/* The SHA-256 of the local file at path, read in 1 MiB steps, into out_hex (65 bytes). Returns 0,
 * MDP_ERR_NOT_FOUND (no such file), MDP_ERR_IO (unreadable), MDP_ERR_NOMEM or MDP_ERR_CRYPTO. */
int mdp_sha256_file(const char *path, char out_hex[65]);
/* HMAC-SHA256 of data with key, as 64 lowercase hex chars and a NUL into out_hex (65 bytes).
 * Returns 0 or MDP_ERR_CRYPTO. */
int mdp_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
                        char out_hex[65]);
/* MD5 as 32 hex chars and a NUL into out_hex: only for formats that carry it (SQS md5OfBody),
 * never for security. Returns 0 or MDP_ERR_CRYPTO. */
int mdp_md5_hex(const void *data, size_t len, char out_hex[33]);

/* Normalizes an email for pseudonymization: trims ASCII whitespace (SP, HT, CR, LF, VT, FF) at both
 * ends and ASCII-lowercases. Writes into out (size outsz). Returns the length, or MDP_ERR_RANGE if
 * it does not fit, or MDP_ERR_INVALID if the result is empty. */
int mdp_email_normalize(const char *email, char *out, size_t outsz);

/* SHA-256 hex of the normalized email (spec 7 "SHA-256(email)") into out_hex (65 bytes). Returns 0,
 * or MDP_ERR_RANGE / MDP_ERR_INVALID as mdp_email_normalize, or MDP_ERR_CRYPTO. */
int mdp_email_hash(const char *email, char out_hex[65]);
/* HMAC-SHA256 hex of the normalized email with key into out_hex (65 bytes). Returns 0, or
 * MDP_ERR_INVALID (no key, or an empty email), MDP_ERR_RANGE or MDP_ERR_CRYPTO. */
int mdp_email_hash_keyed(const char *email, const void *key, size_t keylen, char out_hex[65]);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void mdp_hex_encode(const unsigned char *in, size_t n, char *out);

#endif
