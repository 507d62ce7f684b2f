/* Internal parts of the service (src/serve/): the group committer that makes accepted records
 * durable in the raw zone, the snapshot holder, the personalization policy and the request
 * handlers' shared state. */
#ifndef MDP_SERVE_INTERNAL_H
#define MDP_SERVE_INTERNAL_H
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mdp/bandit.h"
#include "mdp/buf.h"
#include "mdp/config.h"
#include "mdp/lake.h"
#include "mdp/pseudonym.h"
#include "mdp/snapshot.h"
#include "mdp/state.h"
#include "mdp/suppress.h"

/* ---- group commit ---- */
/* Records submitted by concurrent requests are written together: one raw object per stream and
 * day per round (mdp_lake_raw_put: temporary name, fsync, rename), then each submitter's done is
 * called (from the committer thread) with the result. A request answers only after its done. */
struct mdp__committer;
typedef void (*mdp__commit_done)(void *ud, int rc);
/* Appends (below) are written every flush_seconds, or once a thread has buffered flush_mb MiB. */
int mdp__committer_start(struct mdp_lake *lake, long flush_seconds, long flush_mb,
                         struct mdp__committer **out, struct mdp_diag *d);
/* Copies data (NDJSON lines, each ending in \n) for raw/<source>/<dataset>/dt=<day>/. done may be
 * NULL (fire and forget, still written before stop returns). */
int mdp__committer_submit(struct mdp__committer *c, const char *source, const char *dataset,
                          int64_t day, const char *data, size_t len, mdp__commit_done done,
                          void *ud);
/* Appends to a stream without waiting (decision logs, where throughput matters more than
 * durability at the answer): returns this thread's buffer of the stream, locked (NULL when out of
 * memory); append whole lines to it, then call _end. Written at the next flush (see _start) and
 * before _stop returns. */
struct mdp_buf *mdp__committer_begin(struct mdp__committer *c, const char *source,
                                     const char *dataset, int64_t day);
void mdp__committer_end(struct mdp__committer *c);
/* A filter of appends: called with a job's lines (data[0..len), whole lines) on the committer's or
 * the log writer's thread just before they are written; it may drop whole lines, moving the rest
 * down in place, and returns the new length. */
typedef size_t (*mdp__append_filter)(void *ud, char *data, size_t len);
/* Sets the filter of the appends (NULL: none), before the first append. */
void mdp__committer_filter(struct mdp__committer *c, mdp__append_filter fn, void *ud);
/* Objects written so far (for metrics). */
int64_t mdp__committer_objects(struct mdp__committer *c);
/* Writes what is queued, then stops the thread. */
void mdp__committer_stop(struct mdp__committer *c);

/* ---- the snapshot, swapped without downtime ---- */
struct mdp__snap_holder {
    pthread_rwlock_t lock;
    struct mdp_snapshot *snap; /* NULL until one is published */
    int64_t version;           /* manifest version of the loaded one */
};
/* Loads the lake's current snapshot when its manifest version differs from the held one. Returns
 * 1 when it swapped, 0 when nothing changed or none exists, < 0 on a failure (the old one stays).
 */
int mdp__snap_reload(struct mdp__snap_holder *h, struct mdp_lake *lake, struct mdp_diag *d);

/* ---- personalization ---- */
struct mdp__variant {
    char surface[48], name[48], tone[24];
};
struct mdp__catalogue {
    struct mdp__variant *v;
    int n;
};
int mdp__catalogue_load(const struct mdp_config *cfg, struct mdp__catalogue *c, struct mdp_diag *d);
void mdp__catalogue_free(struct mdp__catalogue *c);

struct mdp__pz {
    const struct mdp_config *cfg;
    struct mdp__catalogue cat;
    struct mdp_bandit *bandit;
    struct mdp__snap_holder *snap;
    struct mdp_state *state; /* guarded by state_mu */
    pthread_mutex_t *state_mu;
    char key[65]; /* the decision ids' key: 64 hex digits (the tag uses the first 16 bytes) */
    struct mdp__committer *committer;
    /* the suppression list (NULL: none), refreshed under state_mu before an owned feedback and
     * before each decision-log write (mdp__pz_log_filter) */
    struct mdp_suppress_live *suppress;
    atomic_llong log_suppressed; /* decision-log lines of erased people dropped at a write */
    /* the lake's subject key (mdp/pseudonym.h), read under state_mu at the first owned feedback */
    unsigned char subject_key[MDP_SUBJECT_KEY_LEN];
    int has_subject_key;
};
/* The decision log's filter (mdp__append_filter, ud the struct mdp__pz): drops the lines that
 * name a user on the suppression list, reloaded first if an erasure changed it, so a decision
 * made before an erasure and written after it does not bring the person back (docs/privacy.md
 * §6). Lines without a user id (no consent) are kept. Costs nothing while the list is empty. */
size_t mdp__pz_log_filter(void *ud, char *data, size_t len);
/* Answers a personalization request. The request is a JSON object {user_id, surface, context}
 * (GET's query arguments are turned into one). Fills out with the JSON response; returns the
 * HTTP status (200, or 4xx with an error body). */
int mdp__personalize(struct mdp__pz *p, json_object *req, struct mdp_buf *out);
/* A personalization request, parsed (strings borrowed from the request). */
struct mdp__pz_req {
    const char *user_id, *surface, *persona, *tone, *address;
    long onb_day; /* -1: not given */
};
/* Adds one argument (a query argument, or a context key of a JSON body): user_id, surface, or a
 * context key, which must be on personalize.allowed_context. 0, or a 4xx status with out set. */
int mdp__pz_req_add(struct mdp__pz *p, struct mdp__pz_req *rq, const char *key, const char *value,
                    struct mdp_buf *out);
/* Answers a parsed request (as mdp__personalize). */
int mdp__personalize_req(struct mdp__pz *p, const struct mdp__pz_req *rq, struct mdp_buf *out);
/* 0 when decision ids can be signed with p->key (OpenSSL has SipHash, the key is hex) */
int mdp__pz_sign_check(const struct mdp__pz *p);
/* Answers a feedback request ({decision_id | user_id + variant, signal, ...}). idem_key (NULL:
 * none), the request's Idempotency-Key, counts a request without decision_id once per key (within
 * personalize.decision_ttl_hours); with a decision_id the decision and signal deduplicate. */
int mdp__feedback(struct mdp__pz *p, json_object *req, const char *idem_key, struct mdp_buf *out);
/* ---- request bodies (bodies.c) ---- */
/* Parses a JSON body strictly (one value, valid UTF-8, nothing after it); NULL with why. */
json_object *mdp__parse_json(const char *p, size_t n, const char **why);
/* The events of a collector body (one JSON event, a JSON array, or NDJSON when ndjson) as NDJSON
 * lines; 0, or -1 with why (invalid JSON or UTF-8, no event). */
int mdp__events_split(const char *p, size_t n, int ndjson, struct mdp_buf *lines, const char **why);
/* Checks the events of lines (one per line, no blank lines: mdp__events_split's output) with the
 * events connector as one delivery: the rejected ones go to q with their reason and the location
 * "POST /v1/events:<line>", and rejected[line - 1] is set (n: the number of lines). Returns how
 * many were rejected, or -1 when out of memory. */
#define MDP__EVENTS_LOCATION "POST /v1/events"
long mdp__events_check(const char *lines, size_t len, struct mdp_quarantine *q,
                       unsigned char *rejected, size_t n);
/* Writes {"error":{"code":...,"message":...}} into out and returns status. */
int mdp__error(struct mdp_buf *out, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#endif
