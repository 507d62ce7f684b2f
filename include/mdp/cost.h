/* The cost model (docs/quality.md "Cost"): what the lake would cost on AWS this month, from our own
 * counters priced with configured list prices (cost.* keys). Storage comes from a listing of the
 * lake (bytes per zone and storage class, each object's GB-months since it was last written or the
 * month began), requests and bytes scanned from the run log (each record carries the object store
 * requests of its job and the bytes its SQL read), requests served from the service's metrics
 * snapshots. The month-to-date figure is what has accrued up to `now`; the month-end forecast keeps
 * today's stored bytes until the month ends and extrapolates the request, scan and DynamoDB
 * figures linearly in time. `mdp cost`, `mdp report` and the alarms read it. */
#ifndef MDP_COST_H
#define MDP_COST_H

#include <stdint.h>
#include "mdp/buf.h"
#include "mdp/config.h"
#include "mdp/err.h"
#include "mdp/lake.h"

#define MDP_COST_MAX_ZONES 8

/* Stored bytes of one zone (raw, curated, ml, serving, _meta, landing, other) in one storage
 * class (the file backend knows no classes: everything is STANDARD). */
struct mdp_cost_zone {
    char zone[16];
    char storage_class[24];
    int64_t objects, bytes; /* what the listing holds at now */
    double gb_months;       /* month to date: bytes x time stored this month, in GB-months */
    double usd;             /* gb_months priced */
};

struct mdp_cost {
    char month[8];                                /* "YYYY-MM" (UTC) */
    int64_t now_ms, month_start_ms, month_end_ms; /* month_end: first ms of the next month */
    /* storage */
    struct mdp_cost_zone zones[MDP_COST_MAX_ZONES];
    int nzones;
    int64_t s3_bytes;    /* all zones, at now */
    double s3_gb_months; /* all zones, month to date */
    /* usage this month, from the run log */
    int64_t runs; /* run records of the month */
    int64_t puts, gets, lists;
    int64_t scanned_bytes; /* what the SQL of query and curate read */
    int64_t scan_queries;  /* runs that scanned (each billed at least the minimum) */
    int64_t billed_scanned_bytes;
    int64_t requests_served; /* by `mdp serve`, from its metrics snapshots; -1: no snapshot */
    int64_t state_requests;  /* of those, personalize and feedback (the state store's work) */
    double ddb_read_units, ddb_write_units;
    /* USD, month to date */
    double s3_storage, s3_requests, athena, dynamodb, total;
    /* USD, month-end forecast */
    double s3_usd_month_forecast; /* storage and requests */
    double athena_usd_month_forecast;
    double dynamodb_usd_month_forecast;
    double total_usd_month_forecast;
};

/* Computes the figures of the month (UTC) that holds now_us (microseconds since the epoch; 0:
 * the clock) into out, the caller's storage (zeroed first). lake and cfg (the prices) are borrowed.
 * Objects written after now are left out (they did not exist then); so are run records that
 * started after it. Reads only (one listing of the lake, the run log, the serve metrics
 * snapshots). Returns 0, or MDP_ERR_IO / MDP_ERR_NOMEM with d. */
int mdp_cost_figures(struct mdp_lake *lake, const struct mdp_config *cfg, int64_t now_us,
                     struct mdp_cost *out, struct mdp_diag *d);

/* Appends c as one JSON object (docs/quality.md "Cost" names the fields) to out, the caller's
 * buffer. Returns 0 or the buffer's sticky error (MDP_ERR_NOMEM). */
int mdp_cost_json(const struct mdp_cost *c, struct mdp_buf *out);

/* The bytes a query would scan on Athena: the sizes of the current files of every published table
 * whose view (as `mdp query` names it, or its alias) the SQL names as a word, case-insensitive.
 * A table named once is counted once; columns and partitions are not pruned, so this is an upper
 * bound. sql and lake are borrowed. Returns 0 with *out_bytes, or MDP_ERR_IO / MDP_ERR_PARSE /
 * MDP_ERR_NOMEM with d. */
int mdp_cost_query_scan(struct mdp_lake *lake, const char *sql, int64_t *out_bytes,
                        struct mdp_diag *d);

/* What mdp_cost_metric reads: borrowed, they must outlive its registration. */
struct mdp_cost_source {
    struct mdp_lake *lake;
    const struct mdp_config *cfg;
};
/* The cost metrics for the alarms (an mdp_metric_source_fn of include/mdp/quality.h; ud is a
 * struct mdp_cost_source): cost.s3_usd_month_forecast, cost.athena_usd_month_forecast,
 * cost.dynamodb_usd_month_forecast, cost.total_usd_month_forecast and cost.total_usd (month to
 * date) as of now_ms. Sets *out_value and returns 1; returns 0 for a metric it does not know, or
 * mdp_cost_figures' negative error with d. Register it with
 * mdp_metric_source_set(mdp_cost_metric, &src) before evaluating alarms. */
int mdp_cost_metric(const char *metric, int64_t now_ms, double *out_value, void *ud,
                    struct mdp_diag *d);

#endif
