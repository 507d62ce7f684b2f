/* The service's metrics snapshots (_meta/metrics/serve/dt=D/<ms>-<pid>.json, written by
 * `mdp serve` every serve.metrics_snapshot_seconds; docs/quality.md) as the cost model and the
 * report read them: per snapshot its time, and per route and overall the requests of the interval
 * since the previous snapshot with their p50/p90/p99 latency. Internal to src/dq/. */
#ifndef MDP_DQ_SNAPSHOTS_H
#define MDP_DQ_SNAPSHOTS_H

#include <stdint.h>
#include "mdp/err.h"
#include "mdp/lake.h"

#define MDP__SNAP_ROUTES 16

struct mdp__snap_figures {
    char route[40];                /* "" for the overall figures */
    double requests;               /* in the interval */
    double p50_ms, p90_ms, p99_ms; /* NAN when the interval had no request */
};

struct mdp__snap {
    int64_t time_ms;
    struct mdp__snap_figures all;
    struct mdp__snap_figures routes[MDP__SNAP_ROUTES];
    int nroutes;
};

/* Calls cb for every snapshot with from_ms < time <= to_ms, oldest first (by key: day, then
 * time); s is borrowed for the call. A snapshot that is not such JSON is skipped. Returns 0, cb's
 * non-zero value, or MDP_ERR_IO / MDP_ERR_NOMEM with d. */
int mdp__snapshots_each(struct mdp_lake *lake, int64_t from_ms, int64_t to_ms,
                        int (*cb)(const struct mdp__snap *s, void *ud), void *ud,
                        struct mdp_diag *d);

#endif
