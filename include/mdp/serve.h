/* The service (`mdp serve`): the app's event collector, the SNS endpoint of SES feedback and the
 * personalization runtime (rules plus a Thompson-sampling bandit over the serving snapshot), on
 * libmicrohttpd. Routes, limits, keys and behaviour: docs/serve.md. */
#ifndef MDP_SERVE_H
#define MDP_SERVE_H
#include "mdp/config.h"
#include "mdp/lake.h"

struct mdp_server;

/* Starts the server on cfg->serve_listen: opens the lake's state store, loads the snapshot, starts
 * the group committer, the background thread (snapshot reloads, SES micro-batches) and
 * libmicrohttpd's thread pool, and returns once it accepts. cfg and lake are borrowed and must
 * outlive the server. The library prints nothing and installs no signal handler: a caller that
 * waits for signals with sigwait blocks them before this call, so that the server's threads
 * inherit the mask. *out (NULL on failure) is freed by mdp_serve_stop. Returns 0, or
 * MDP_ERR_CONFIG (serve.keys, serve.listen, personalize.surfaces, the decision key),
 * MDP_ERR_IO (cannot listen, state store), MDP_ERR_NOMEM, with diag. */
int mdp_serve_start(const struct mdp_config *cfg, struct mdp_lake *lake, struct mdp_server **out,
                    struct mdp_diag *d);

/* Returns the address the server accepts on, "http://HOST:PORT" (the bound port when serve.listen
 * named port 0); owned by the server, valid until mdp_serve_stop. */
const char *mdp_serve_url(const struct mdp_server *s);

/* Stops gracefully and frees s (NULL is fine): stops accepting, lets the requests in flight finish
 * (at most serve.timeout_seconds), stops the threads, writes and fsyncs what was accepted. */
void mdp_serve_stop(struct mdp_server *s);

/* A new API key: token_out gets the key (64 hex characters, shown once), hash_out its SHA-256 (what
 * serve.keys holds); both are caller's buffers, NUL-terminated. Returns 0, MDP_ERR_IO when the
 * system's random source fails, or MDP_ERR_CRYPTO when hashing fails. */
int mdp_serve_key_new(char token_out[65], char hash_out[65]);

/* Checks serve.keys (NAME:SCOPES:SHA256 items). Returns 0, MDP_ERR_CONFIG naming the first bad
 * item by its position (never its text), or MDP_ERR_NOMEM, with diag. */
int mdp_serve_keys_check(const struct mdp_config *cfg, struct mdp_diag *d);

#include <stdio.h>
/* Prints every arm's posterior (mean and a 95% interval, normal approximation of the Beta) and, per
 * personalize.fairness_groups key, the success rate of the bandit's choices per group and the
 * largest gap; *flagged is 1 when a gap exceeds 5 percentage points. cfg, lake and out are
 * borrowed. Returns 0, or MDP_ERR_CONFIG (an unknown personalize.fairness_groups key), MDP_ERR_IO /
 * MDP_ERR_NOMEM (state store), with d. */
int mdp_bandit_report(const struct mdp_config *cfg, struct mdp_lake *lake, FILE *out, int json,
                      int *flagged, struct mdp_diag *d);

/* Feeds the curated email clicks (success) and bounces (failure) of copy variants of the
 * catalogue into the bandit, each event once (state table bandit_replayed), for users with valid
 * personalization consent in the serving snapshot, in their current context. */
struct mdp_bandit_replay {
    long long rows, applied, already, unknown_variant, no_consent;
    long long suppressed; /* events of erased people (the suppression list): never counted */
};
/* Runs the replay above, filling the caller's stats (zeroed first). Returns 0, or MDP_ERR_CONFIG
 * (the catalogue), MDP_ERR_NOT_FOUND / MDP_ERR_IO (snapshot, state store, curated table),
 * MDP_ERR_NO_ENGINE / MDP_ERR_ENGINE, MDP_ERR_NOMEM, with d. Events applied before a failure stay
 * applied (and marked replayed). */
int mdp_bandit_replay(const struct mdp_config *cfg, struct mdp_lake *lake,
                      struct mdp_bandit_replay *stats, struct mdp_diag *d);

#endif
