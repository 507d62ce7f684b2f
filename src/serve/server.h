/* The HTTP side of the service (src/serve/): the server object, the request and its arena, and the
 * route table. server.c is the core (libmicrohttpd daemon, request lifecycle, limits,
 * suspend/resume around the group commit, start and stop); keys.c checks API keys; metrics.c keeps
 * and renders the Prometheus metrics; background.c reloads the snapshot and runs the SES
 * micro-batches; routes_*.c hold the handlers, one file per route family, listed in MDP__ROUTES
 * below. Adding a route: write its handler in its family's file and add one line to MDP__ROUTES
 * (docs/serve.md). */
#ifndef MDP_SERVE_SERVER_H
#define MDP_SERVE_SERVER_H
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mdp/buf.h"
#include "mdp/config.h"
#include "mdp/lake.h"
#include "serve_internal.h"

/* ---- the route table ---- */
struct mdp__req;
typedef enum MHD_Result (*mdp__handler)(struct mdp__req *r);

enum { MDP__GET = 1, MDP__POST = 2 }; /* methods of a route (GET takes HEAD too) */
/* scopes a route's key must have; MDP__SIGNED: the route checks a signature itself, which is its
 * credential when sources.ses.verify_signatures is on (then no key is asked) */
enum {
    MDP__SCOPE_NONE = 0,
    MDP__SCOPE_COLLECT = 1,
    MDP__SCOPE_PERSONALIZE = 2,
    MDP__SCOPE_ADMIN = 4,
    MDP__SIGNED = 8
};

/* One line per route: path, methods, scope, handler. The handler is called once the whole request
 * is read (body in r->body), with the method allowed, the key checked and the limits kept; it
 * answers with mdp__respond / mdp__fail, or suspends with mdp__commit_and_wait. */
#define MDP__ROUTES(X)                                                                             \
    X("/healthz", MDP__GET, MDP__SCOPE_NONE, mdp__route_healthz)                                   \
    X("/readyz", MDP__GET, MDP__SCOPE_NONE, mdp__route_readyz)                                     \
    X("/metrics", MDP__GET, MDP__SCOPE_ADMIN, mdp__route_metrics)                                  \
    X("/v1/events", MDP__POST, MDP__SCOPE_COLLECT, mdp__route_events)                              \
    X("/v1/ses/sns", MDP__POST, MDP__SCOPE_COLLECT | MDP__SIGNED, mdp__route_sns)                  \
    X("/v1/personalize", MDP__GET | MDP__POST, MDP__SCOPE_PERSONALIZE, mdp__route_personalize)     \
    X("/v1/feedback", MDP__POST, MDP__SCOPE_PERSONALIZE, mdp__route_feedback)

#define MDP__ROUTE_DECLARE(path, methods, scope, fn) enum MHD_Result fn(struct mdp__req *r);
MDP__ROUTES(MDP__ROUTE_DECLARE)
#define MDP__ROUTE_COUNT(path, methods, scope, fn) +1
enum { MDP__NROUTES = 0 MDP__ROUTES(MDP__ROUTE_COUNT) }; /* route index NROUTES: no route */

struct mdp__route {
    const char *path;
    int methods, scope;
    mdp__handler handle;
};
extern const struct mdp__route mdp__routes[MDP__NROUTES];
/* the route's path, or "other" for MDP__NROUTES (metrics' label) */
const char *mdp__route_name(int route);

/* ---- per-request memory ---- */
/* A bump allocator (nginx's pool): allocations live until the request ends, then go at once. The
 * first chunk stays with the pooled request for the next one on the thread; larger needs get
 * chunks of their own, freed when the request ends. */
struct mdp__arena_chunk;
struct mdp__arena {
    struct mdp__arena_chunk *first; /* kept across requests */
    struct mdp__arena_chunk *extra; /* freed by _reset */
};
/* n bytes aligned for any type, zeroed; NULL when out of memory. Freed by _reset / _cleanup. */
void *mdp__arena_alloc(struct mdp__arena *a, size_t n);
/* Frees the request's allocations (keeps the first chunk's storage). */
void mdp__arena_reset(struct mdp__arena *a);
/* Frees everything. */
void mdp__arena_cleanup(struct mdp__arena *a);

/* ---- the server ---- */
struct mdp__key {
    char name[48];
    int scopes;
    char hash[65];
};

#define MDP__NBUCKETS  14
#define MDP__MAX_SLOTS 128
struct mdp__slot; /* a thread's request metrics (metrics.c) */
struct mdp_cost;
struct mdp__metrics {
    struct mdp__slot *slots; /* one per thread: no shared cache lines */
    atomic_int nslots;
    atomic_llong events_accepted, events_quarantined, ses_accepted, ses_quarantined;
    atomic_llong events_suppressed; /* events of erased people dropped (mdp/suppress.h) */
    atomic_llong curate_runs;
    /* the cost model's figures (include/mdp/cost.h), refreshed by the background thread every
     * serve.cost_refresh_seconds and read by /metrics; guarded by cost_mu */
    pthread_mutex_t cost_mu;
    struct mdp_cost *cost; /* NULL until the first refresh succeeded */
};

struct mdp_server {
    const struct mdp_config *cfg;
    struct mdp_lake *lake;
    struct MHD_Daemon *mhd;
    struct mdp__key *keys;
    int nkeys;
    struct mdp__committer *committer;
    struct mdp__snap_holder snap;
    struct mdp_state *state; /* guarded by state_mu */
    pthread_mutex_t state_mu;
    struct mdp_bandit *bandit;
    struct mdp_suppress_live *suppress; /* erased people; refreshed by background.c */
    struct mdp__pz pz;
    char cert_cache[1200];
    int verify_sns;
    atomic_int in_flight;
    atomic_int stopping;
    struct mdp__metrics metrics;
    /* the days of the SES events taken since the last micro-batch (background.c) */
    atomic_int ses_dirty;
    pthread_mutex_t days_mu;
    int64_t ses_from, ses_to;
    pthread_t bg;
    atomic_int bg_stop;
    int bg_started;
    char url[96]; /* http://HOST:PORT, as bound */
};

/* ---- a request ---- */
struct mdp__req {
    struct mdp__req *next_free; /* in the thread's pool */
    struct mdp_server *s;
    struct MHD_Connection *conn;
    const char *method;
    int route; /* index in mdp__routes; MDP__NROUTES: none */
    int64_t t0_us;
    struct mdp_buf body;
    struct mdp_buf resp; /* the response body, sent from here without a copy */
    struct mdp_buf aux;  /* a scratch buffer for the route, reused across requests */
    struct mdp__arena arena;
    const char *ctype; /* NULL: application/json */
    int status;
    int too_big;
    int waiting; /* suspended for the group commit */
    int ready;   /* the response is final */
    int commit_rc;
    void (*resumed)(struct mdp__req *r); /* after the group commit: sets status and resp */
    void *ud;                            /* the route's state (from the arena) */
};

/* Queues r->status with r->resp (r->ctype) as the answer. */
enum MHD_Result mdp__respond(struct mdp__req *r);
/* Answers {"error":{"code","message"}} with status. */
enum MHD_Result mdp__fail(struct mdp__req *r, int status, const char *code, const char *msg);
/* Suspends the connection until lines are durable in raw/<source>/<dataset>/dt=<day>/ (the group
 * commit), then calls resumed (r->commit_rc set) and answers. lines are copied. */
enum MHD_Result mdp__commit_and_wait(struct mdp__req *r, const char *source, const char *dataset,
                                     int64_t day, const struct mdp_buf *lines,
                                     void (*resumed)(struct mdp__req *r));
/* A request header (NULL when absent). */
const char *mdp__header(const struct mdp__req *r, const char *name);

/* ---- keys (keys.c) ---- */
/* Parses serve.keys; *out is malloc'd (caller frees). */
int mdp__keys_parse(const struct mdp_config *cfg, struct mdp__key **out, int *n,
                    struct mdp_diag *d);
/* 0 when the request carries a key with scope; else 401 (none, unknown) or 403 (scope). */
int mdp__authorize(const struct mdp_server *s, struct MHD_Connection *c, int scope);

/* ---- metrics (metrics.c) ---- */
int mdp__metrics_init(struct mdp__metrics *m);
void mdp__metrics_cleanup(struct mdp__metrics *m);
/* Counts a finished request (on its thread's slot). */
void mdp__metrics_request(struct mdp_server *s, int route, int status, int64_t us);
/* The Prometheus text of every metric into o. */
void mdp__metrics_render(struct mdp_server *s, struct mdp_buf *o);
/* Replaces the cost figures /metrics shows by c (malloc'd; taken over, the old ones freed). */
void mdp__metrics_set_cost(struct mdp__metrics *m, struct mdp_cost *c);
/* The request counts per route and latency bucket since start, kept between two snapshots. */
struct mdp__metrics_prev {
    long long hist[MDP__NROUTES + 1][MDP__NBUCKETS];
};
/* The latency snapshot the lake keeps (docs/quality.md "Service metrics snapshots") into o: the
 * histograms since start, and the requests and p50/p90/p99 since prev, which it then updates. */
void mdp__metrics_snapshot(struct mdp_server *s, int64_t now_ms, int64_t interval_ms,
                           struct mdp__metrics_prev *prev, struct mdp_buf *o);

/* ---- background work (background.c) ---- */
/* Starts / stops the thread that reloads the snapshot and runs the SES micro-batches. */
int mdp__background_start(struct mdp_server *s);
void mdp__background_stop(struct mdp_server *s);
/* Marks day as having new SES raw objects (the next micro-batch curates it). */
void mdp__ses_day_dirty(struct mdp_server *s, int64_t day);
/* Returns the fact_email_events day of an SNS envelope env whose Message is an SES message: the
 * day of its type's member's timestamp, else of mail.timestamp, else day (routes_sns.c). Reads
 * any JSON: a missing, null or non-string member is skipped. */
int64_t mdp__sns_event_day(json_object *env, int64_t day);

#endif
