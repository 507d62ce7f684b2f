/* Structured logging: one JSON object per line on stderr (or a chosen FILE), with a level, a
 * message and typed fields. PII and secrets never reach the output: every string field and the
 * message are scrubbed (email addresses become "email:<sha256 prefix>", values of fields whose name
 * says token/key/secret/password/authorization become "[redacted]", Bearer tokens are cut).
 * The library logs only through this module; it never prints otherwise. Thread-safe. */
#ifndef MDP_LOG_H
#define MDP_LOG_H

#include <stdio.h>
#include <stdint.h>

enum mdp_log_level { MDP_LOG_DEBUG = 0, MDP_LOG_INFO, MDP_LOG_WARN, MDP_LOG_ERROR, MDP_LOG_OFF };

/* Field kinds for the variadic list; end the list with MDP_LF_END. */
enum mdp_log_field { MDP_LF_END = 0, MDP_LF_STR, MDP_LF_INT, MDP_LF_DBL, MDP_LF_BOOL };

#define LOG_STR(k, v)  MDP_LF_STR, (const char *)(k), (const char *)(v)
#define LOG_INT(k, v)  MDP_LF_INT, (const char *)(k), (int64_t)(v)
#define LOG_DBL(k, v)  MDP_LF_DBL, (const char *)(k), (double)(v)
#define LOG_BOOL(k, v) MDP_LF_BOOL, (const char *)(k), (int)(v)

/* Sets the lowest level that is written (process-wide). */
void mdp_log_set_level(enum mdp_log_level lvl);
/* Returns the lowest level that is written. */
enum mdp_log_level mdp_log_get_level(void);
/* Parses "debug|info|warn|error|off"; returns 0 or MDP_ERR_INVALID. */
int mdp_log_level_parse(const char *s, enum mdp_log_level *out_lvl);
/* Where lines go (default stderr). Borrowed; the caller keeps it open while logging. */
void mdp_log_set_stream(FILE *f);

/* Logs msg with fields: mdp_log(MDP_LOG_INFO, "stage done", LOG_STR("stage", s), LOG_INT("rows",
 * n), MDP_LF_END). */
void mdp_log(enum mdp_log_level lvl, const char *msg, ...);

struct mdp_buf;
/* Scrubs PII and secrets from text (borrowed) into out, appended to the caller's buffer (the rules
 * above). Exposed for tests and for other writers of operator-facing text. Returns 0 or
 * MDP_ERR_NOMEM (the error stays on out, see mdp/buf.h). */
int mdp_log_scrub(const char *text, struct mdp_buf *out);
/* Returns 1 if a field of this name carries secrets (token, key, secret, password, authorization),
 * else 0. */
int mdp_log_is_secret_name(const char *name);

#endif
