/* Freshness SLAs and alarms (spec 8; docs/quality.md "Freshness" and "Alarms").
 *
 * Freshness: per source (freshness.slas in the configuration), the newest event time and the
 * newest landing, from the run log (the ingest.<source> records) and the raw zone (objects under
 * raw/<source>/ newer than the source's last ingest run: what the service collected itself). The
 * age is now minus the newest event time (the landing time when no event time is known); a source
 * is OK within its SLA, LATE past it, NEVER when nothing ever landed. The 30-day compliance is the
 * share of UTC days, the last being now's, during which the age never exceeded the SLA.
 *
 * Alarms: CloudWatch's metric alarms over the lake's own metrics, defined in a strict YAML file
 * (alarms.file): metric, statistic, period, threshold and comparison operator, M of N datapoints,
 * treat_missing_data; states OK / ALARM / INSUFFICIENT_DATA; actions (a shell command or a webhook
 * POST) on a change of state only; state and history kept in the lake under _meta/alarms/.
 *
 * Times in this header are milliseconds since the epoch, except the *_json functions' now_us
 * (microseconds), which the report's interface asks for. Nothing here is thread-safe across calls
 * on one lake: `mdp alarms eval` is not to run twice at once. */
#ifndef MDP_QUALITY_H
#define MDP_QUALITY_H

#include <stddef.h>
#include <stdint.h>
#include "mdp/buf.h"
#include "mdp/config.h"
#include "mdp/err.h"
#include "mdp/lake.h"

/* ---- freshness ---- */

#define MDP_FRESH_DAYS 30

enum mdp_fresh_state { MDP_FRESH_OK = 0, MDP_FRESH_LATE = 1, MDP_FRESH_NEVER = 2 };

struct mdp_fresh_source {
    char source[32];           /* the connector's name (ga4, supabase, ddb, ...) */
    int64_t sla_ms;            /* the configured SLA */
    int64_t newest_event_ms;   /* newest event time landed by now, or -1 */
    int64_t newest_landing_ms; /* when the source last landed something, or -1 */
    int64_t age_ms;            /* now minus the newest event (or landing); -1 when NEVER */
    enum mdp_fresh_state state;
    double compliance_pct;           /* met days of the MDP_FRESH_DAYS, in percent */
    signed char met[MDP_FRESH_DAYS]; /* per UTC day, oldest first: 1 met, 0 not */
};

struct mdp_freshness {
    int64_t now_ms;
    struct mdp_fresh_source *v; /* in the order of freshness.slas */
    size_t n;
};

/* Computes every configured source's freshness as of now_ms (nothing landed after now_ms counts).
 * out is the caller's storage, zeroed first; free what it holds with mdp_freshness_cleanup (also
 * on failure). Returns 0 (also when sources are LATE or NEVER: that is the result, not an error),
 * MDP_ERR_CONFIG (freshness.slas: an item that is no SOURCE:DURATION of a known source),
 * MDP_ERR_IO / MDP_ERR_NOMEM from reading the run log or listing the raw zone, with d. */
int mdp_freshness_compute(struct mdp_lake *lake, const struct mdp_config *cfg, int64_t now_ms,
                          struct mdp_freshness *out, struct mdp_diag *d);
/* Frees what f holds and zeroes it (NULL is fine); f itself is the caller's storage. */
void mdp_freshness_cleanup(struct mdp_freshness *f);
/* Appends the freshness as one JSON object to out, the caller's buffer:
 * {"now", "sources": [{"source", "newest_event", "newest_landing", "age_s", "sla_s",
 * "state": "OK|LATE|NEVER", "compliance_30d_pct", "daily": [{"date", "met"}] x 30}]}
 * (times ISO-8601 UTC or null; age_s null for NEVER). now_us: microseconds since the epoch.
 * Returns as mdp_freshness_compute; on error out keeps what it held before the call. */
int mdp_freshness_json(struct mdp_lake *lake, const struct mdp_config *cfg, int64_t now_us,
                       struct mdp_buf *out, struct mdp_diag *d);
/* Appends f (computed by mdp_freshness_compute, borrowed) to out as mdp_freshness_json does.
 * Returns 0 or the buffer's sticky error (MDP_ERR_NOMEM); on error out keeps what it held. */
int mdp_freshness_to_json(const struct mdp_freshness *f, struct mdp_buf *out);

/* ---- alarms ---- */

enum mdp_alarm_state {
    MDP_ALARM_INSUFFICIENT_DATA = 0, /* where every alarm starts */
    MDP_ALARM_OK = 1,
    MDP_ALARM_ALARM = 2
};
enum mdp_alarm_stat {
    MDP_STAT_AVERAGE,
    MDP_STAT_SUM,
    MDP_STAT_MINIMUM,
    MDP_STAT_MAXIMUM,
    MDP_STAT_SAMPLE_COUNT
};
enum mdp_alarm_cmp {
    MDP_CMP_GE, /* GreaterThanOrEqualToThreshold */
    MDP_CMP_GT, /* GreaterThanThreshold */
    MDP_CMP_LT, /* LessThanThreshold */
    MDP_CMP_LE  /* LessThanOrEqualToThreshold */
};
enum mdp_alarm_missing {
    MDP_MISSING_MISSING, /* the default */
    MDP_MISSING_IGNORE,
    MDP_MISSING_BREACHING,
    MDP_MISSING_NOT_BREACHING
};

/* One action: a shell command (run with /bin/sh -c) or a webhook URL (POST, JSON body). */
struct mdp_alarm_action {
    int webhook; /* 0: command, 1: webhook */
    char *target;
};

struct mdp_alarm {
    char name[65];
    char *description; /* may be NULL */
    char metric[96];   /* e.g. freshness.ga4.age_s (docs/quality.md lists them) */
    enum mdp_alarm_stat statistic;
    int64_t period_s;
    double threshold;
    enum mdp_alarm_cmp cmp;
    int evaluation_periods;  /* N */
    int datapoints_to_alarm; /* M, 1..N */
    enum mdp_alarm_missing missing;
    /* on entering ALARM, OK, INSUFFICIENT_DATA (CloudWatch's AlarmActions, OKActions,
     * InsufficientDataActions) */
    struct mdp_alarm_action *actions[3];
    size_t nactions[3];
    int line; /* where it is defined */
};

struct mdp_alarm_set {
    struct mdp_alarm *v;
    size_t n;
};

/* Parses an alarms file held in text (len bytes; name is used in messages) into out, the caller's
 * storage (zeroed first). Strict: an unknown key, a missing required key, a bad value or a
 * duplicate name fails with MDP_ERR_CONFIG and "NAME:LINE:COL: ..." naming the key in d. Free with
 * mdp_alarm_set_cleanup (also on failure). Returns 0, MDP_ERR_CONFIG or MDP_ERR_NOMEM. */
int mdp_alarms_parse(const char *name, const char *text, size_t len, struct mdp_alarm_set *out,
                     struct mdp_diag *d);
/* Reads and parses the file at path (at most 1 MiB). Returns as mdp_alarms_parse, or
 * MDP_ERR_NOT_FOUND / MDP_ERR_IO with d. */
int mdp_alarms_load(const char *path, struct mdp_alarm_set *out, struct mdp_diag *d);
/* Frees what s holds and zeroes it (NULL is fine). */
void mdp_alarm_set_cleanup(struct mdp_alarm_set *s);
/* The alarms file of cfg: alarms.file, with {builtin} the config/alarms.yaml of the source tree.
 * Returns a static or cfg-owned string; never NULL. */
const char *mdp_alarms_file(const struct mdp_config *cfg);

/* CloudWatch's decision over the datapoints of the evaluation range, oldest first (n of them; NaN
 * is a missing datapoint): with at least N real datapoints the newest N decide (M breaching:
 * ALARM, else OK); with fewer, the gap is filled as treat_missing_data says (breaching,
 * notBreaching), or the real ones decide alone (missing: INSUFFICIENT_DATA when there are none,
 * ALARM when the real ones, at least min(M, real) of them, breach; ignore: like missing, but the
 * current state is kept when the newest datapoint is missing or none is there). reason (may be
 * NULL) receives a sentence saying why. Returns the new state; cannot fail. */
enum mdp_alarm_state mdp_alarm_decide(const struct mdp_alarm *a, const double *dp, size_t n,
                                      enum mdp_alarm_state current, char *reason, size_t rn);
/* Returns the name of a state ("OK", "ALARM", "INSUFFICIENT_DATA"), a static string. */
const char *mdp_alarm_state_name(enum mdp_alarm_state s);

/* A source of metric values the library does not compute itself (the cost figures): it sets
 * *out_value and returns 1 when it knows metric at now_ms, 0 when that is missing data, or a
 * negative error with d. Registered per process; NULL removes it. Not thread-safe. */
typedef int (*mdp_metric_source_fn)(const char *metric, int64_t now_ms, double *out_value, void *ud,
                                    struct mdp_diag *d);
/* Registers fn (with ud, borrowed until replaced) as the source of the metrics the library does
 * not compute itself; NULL removes it. Returns nothing. */
void mdp_metric_source_set(mdp_metric_source_fn fn, void *ud);

/* The datapoints of metric with statistic over n periods of period_s seconds that end at now_ms,
 * oldest first, into out (n doubles, NaN = missing). Returns 0, MDP_ERR_INVALID (an unknown
 * metric), or an error reading the lake (MDP_ERR_IO, MDP_ERR_ENGINE, MDP_ERR_NOMEM) with d. */
int mdp_metric_datapoints(struct mdp_lake *lake, const struct mdp_config *cfg, const char *metric,
                          enum mdp_alarm_stat statistic, int64_t period_s, int64_t now_ms, size_t n,
                          double *out, struct mdp_diag *d);
/* Returns 1 when metric names a metric mdp_metric_datapoints knows, else 0. */
int mdp_metric_known(const char *metric);

/* What one evaluation did to one alarm. */
struct mdp_alarm_result {
    const struct mdp_alarm *alarm; /* borrowed from the set */
    enum mdp_alarm_state from, to;
    int changed;
    char reason[300];
    int actions_failed; /* actions that did not succeed (recorded in the history) */
};

/* Evaluates every alarm of set at now_ms: reads its state (_meta/alarms/state/<name>.json; a new
 * alarm is INSUFFICIENT_DATA), its datapoints, decides; on a change writes a history record
 * (_meta/alarms/history/dt=D/<ms>-<name>.json) with the outcome of the actions it ran (each
 * bounded in time, webhooks retried with backoff per alarms.webhook_retries), then the new state.
 * with_actions 0 records changes without running actions. on_result (may be NULL) sees each
 * result. A failed action is recorded, never an error. Returns 0, MDP_ERR_INVALID (an alarm whose
 * M of N is out of range, a metric without its source), MDP_ERR_PARSE (a stored state that is not
 * one), or an error reading metrics or writing the lake (MDP_ERR_IO, MDP_ERR_ENGINE,
 * MDP_ERR_NOMEM), with d; alarms evaluated before the failing one keep their new state. */
int mdp_alarms_eval(struct mdp_lake *lake, const struct mdp_config *cfg,
                    const struct mdp_alarm_set *set, int64_t now_ms, int with_actions,
                    void (*on_result)(const struct mdp_alarm_result *r, void *ud), void *ud,
                    struct mdp_diag *d);

/* Appends the alarms' states and histories (newest last) as one JSON object to out:
 * {"now", "alarms": [{"name", "metric", "state", "reason", "since", "history": [{"time", "from",
 * "to", "reason"}]}]} for the alarms of cfg's alarms file, as stored in the lake (never evaluated:
 * INSUFFICIENT_DATA, since null). now_us: microseconds since the epoch; history after it is left
 * out. Returns 0, MDP_ERR_CONFIG (the alarms file), MDP_ERR_IO, MDP_ERR_NOMEM with d; on error
 * out keeps what it held before the call. */
int mdp_alarms_json(struct mdp_lake *lake, const struct mdp_config *cfg, int64_t now_us,
                    struct mdp_buf *out, struct mdp_diag *d);

/* One stored change of state (the history), passed to mdp_alarm_history's callback; borrowed. */
struct mdp_alarm_change {
    int64_t time_ms;
    const char *alarm, *from, *to, *reason;
    const char *actions_json; /* the actions' outcomes as a JSON array text */
};
/* Calls cb for every stored change, oldest first, of alarm (NULL: all) up to now_ms. Returns 0,
 * cb's non-zero value, MDP_ERR_IO / MDP_ERR_NOMEM with d. A record that is not JSON is skipped. */
int mdp_alarm_history(struct mdp_lake *lake, const char *alarm, int64_t now_ms,
                      int (*cb)(const struct mdp_alarm_change *c, void *ud), void *ud,
                      struct mdp_diag *d);

#endif
