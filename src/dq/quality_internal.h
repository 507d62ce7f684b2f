/* Shared between the files of the freshness and alarms module (src/dq/freshness.c, alarms.c,
 * alarm_actions.c, metrics_src.c); not a public interface. */
#ifndef MDP_DQ_QUALITY_INTERNAL_H
#define MDP_DQ_QUALITY_INTERNAL_H

#include "mdp/quality.h"

/* One source's landings, sorted by time: at t[i] the newest event known became e[i] (the running
 * maximum, so e is non-decreasing). */
struct mdp__fresh_hist {
    char source[32];
    int64_t sla_ms;
    int64_t *t, *e;
    size_t n, cap;
};
struct mdp__fresh_all {
    struct mdp__fresh_hist *v;
    size_t n;
};

/* Reads the landings of every source of freshness.slas (run log and raw zone) up to now_ms.
 * out is the caller's storage (zeroed first); free with mdp__fresh_all_cleanup (also on failure).
 * Returns 0, MDP_ERR_CONFIG (freshness.slas), MDP_ERR_IO, MDP_ERR_NOMEM with d. */
int mdp__fresh_load(struct mdp_lake *lake, const struct mdp_config *cfg, int64_t now_ms,
                    struct mdp__fresh_all *out, struct mdp_diag *d);
void mdp__fresh_all_cleanup(struct mdp__fresh_all *a);
/* The source's age at t in ms (t minus the newest event landed by t), or -1 when nothing had
 * landed by then. */
int64_t mdp__fresh_age_at(const struct mdp__fresh_hist *h, int64_t t);

/* Runs one action for a change of state; fills result (a JSON object text) into rec, the caller's
 * buffer. Returns 1 when it succeeded, 0 when it failed (recorded in rec). */
int mdp__alarm_action_run(const struct mdp_config *cfg, const struct mdp_alarm *a,
                          const struct mdp_alarm_action *act, enum mdp_alarm_state from,
                          enum mdp_alarm_state to, const char *reason, int64_t now_ms,
                          struct mdp_buf *rec);

#endif
