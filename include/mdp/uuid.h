/* UUIDs per RFC 9562, with UUIDv7 (48-bit Unix ms timestamp, version 7, variant 10) as the
 * platform's id (spec 2). Generation is monotonic within a process: ids from one generator are
 * strictly increasing even within one millisecond (a 12-bit counter in rand_a, RFC 9562 6.2 method
 * 1, seeded randomly; on overflow the timestamp moves one ms ahead). Output is lowercase; input is
 * accepted in either case. */
#ifndef MDP_UUID_H
#define MDP_UUID_H

#include <stddef.h>
#include <stdint.h>

struct mdp_uuid {
    uint8_t b[16];
};

#define MDP_UUID_STR_LEN 36

/* A generator. Its random bits come from `rand64` (with state `rng`), or from the OS (getrandom)
 * when rand64 is NULL. Deterministic generators (seed data) pass their own PRNG. */
struct mdp_uuid7_gen {
    int64_t last_ms;
    uint16_t counter;
    uint64_t (*rand64)(void *rng);
    void *rng;
};

/* Starts a generator; rand64 and rng are borrowed and must outlive it. */
void mdp_uuid7_gen_init(struct mdp_uuid7_gen *g, uint64_t (*rand64)(void *), void *rng);
/* Next id for time now_ms (pass mdp_time_now_ms()) into *out, strictly greater than the previous
 * one. Returns 0 or MDP_ERR_RANGE (a time outside the 48-bit timestamp). */
int mdp_uuid7_next(struct mdp_uuid7_gen *g, int64_t now_ms, struct mdp_uuid *out);
/* Next id of the process-wide generator (thread-safe) on the wall clock, into *out. Returns 0 or
 * MDP_ERR_RANGE, as mdp_uuid7_next. */
int mdp_uuid7_new(struct mdp_uuid *out);

/* Formats as 8-4-4-4-12 lowercase hex; buf needs 37 bytes. */
void mdp_uuid_format(const struct mdp_uuid *u, char buf[37]);
/* Parses 8-4-4-4-12 hex in either case (also 32 hex digits without hyphens) into *out. Returns 0
 * or MDP_ERR_PARSE. */
int mdp_uuid_parse(const char *s, struct mdp_uuid *out);
/* mdp_uuid_parse of the n bytes at s (no NUL needed). Returns 0 or MDP_ERR_PARSE (*out then
 * undefined). Thread-safe. */
int mdp_uuid_parse_n(const char *s, size_t n, struct mdp_uuid *out);
/* Parses the canonical text only: 36 bytes, lowercase 8-4-4-4-12, the form mdp_uuid_format
 * writes, so that exactly one text maps to each UUID (a duplicate index may keep the 16 bytes in
 * place of the text). Returns 0 or MDP_ERR_PARSE (*out then undefined). Thread-safe. */
int mdp_uuid_parse_canonical(const char *s, size_t n, struct mdp_uuid *out);
/* Returns the version nibble (0-15; 7 for a UUIDv7). */
int mdp_uuid_version(const struct mdp_uuid *u);
/* Returns 1 if the variant bits are 10 (RFC 9562), else 0. */
int mdp_uuid_is_rfc_variant(const struct mdp_uuid *u);
/* Returns the timestamp in ms of a v7 UUID (the first 48 bits, whatever the version). */
int64_t mdp_uuid7_time_ms(const struct mdp_uuid *u);

#endif
