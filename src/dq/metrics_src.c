/* The metrics alarms watch (include/mdp/quality.h, docs/quality.md "Metrics"): each source turns
 * what the lake holds into samples (time, value), which are cut into periods and reduced with the
 * alarm's statistic. A period without a sample is a missing datapoint. The k-th of n periods
 * (oldest first) holds the samples at t with now - t in [(n-1-k)*P, (n-k)*P): the newest ends at
 * now, inclusive.
 *
 *   freshness.<source>.age_s   the source's age (freshness.c) at the end of each period
 *   runs.failed                1 per run record with status failed, 0 per other (end time)
 *   ingest.quarantine_pct      per ingest.<source> run with records: quarantined / in, percent
 *   dq.violation_pct           per dq run (dq_results): rules not PASS / rules, percent
 *   serve.latency_p99_ms       per snapshot the service wrote (_meta/metrics/serve/): its p99
 *   cost.s3_usd_month_forecast, cost.athena_usd_month_forecast   from the registered source
 *                                                              (mdp_metric_source_set), at now
 *   cdc.slot_lag_bytes, cdc.slot_lag_s   per lag snapshot of the replication slot (mdp cdc run, mdp
 *                                        cdc lag --record: _meta/metrics/cdc/, docs/cdc.md) */
#include "mdp/alloc.h"
#include "mdp/engine.h"
#include "mdp/quality.h"
#include "mdp/time.h"
#include "quality_internal.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mdp_metric_source_fn g_source;
static void *g_source_ud;

void mdp_metric_source_set(mdp_metric_source_fn fn, void *ud)
{
    g_source = fn;
    g_source_ud = ud;
}

/* the dq_results table as `mdp dq run` publishes it (MDP_DQ_RESULTS_TABLE of its branch) */
static const char *const DQ_TABLES[] = {"_meta/tables/dq_results", NULL};

static const char *const COST_METRICS[] = {"cost.s3_usd_month_forecast",
                                           "cost.athena_usd_month_forecast", NULL};

int mdp_metric_known(const char *m)
{
    if (strcmp(m, "runs.failed") == 0 || strcmp(m, "ingest.quarantine_pct") == 0 ||
        strcmp(m, "dq.violation_pct") == 0 || strcmp(m, "serve.latency_p99_ms") == 0 ||
        strcmp(m, "cdc.slot_lag_bytes") == 0 || strcmp(m, "cdc.slot_lag_s") == 0)
        return 1;
    for (int i = 0; COST_METRICS[i]; i++)
        if (strcmp(m, COST_METRICS[i]) == 0) return 1;
    /* freshness.<source>.age_s: the source is checked against freshness.slas when evaluated */
    size_t n = strlen(m);
    if (n > 16 && strncmp(m, "freshness.", 10) == 0 && strcmp(m + n - 6, ".age_s") == 0) {
        for (size_t i = 10; i < n - 6; i++)
            if (!((m[i] >= 'a' && m[i] <= 'z') || (m[i] >= '0' && m[i] <= '9') || m[i] == '_'))
                return 0;
        return 1;
    }
    return 0;
}

/* Reduces samples into periods. */
struct agg {
    int64_t now_ms, period_ms;
    size_t n;
    double *sum, *min, *max;
    long *count;
};

static void add_sample(struct agg *g, int64_t t, double v)
{
    if (t > g->now_ms || !isfinite(v)) return;
    int64_t back = (g->now_ms - t) / g->period_ms; /* 0: the newest period */
    if (back < 0 || (size_t)back >= g->n) return;
    size_t k = g->n - 1 - (size_t)back;
    if (!g->count[k] || v < g->min[k]) g->min[k] = v;
    if (!g->count[k] || v > g->max[k]) g->max[k] = v;
    g->sum[k] += v;
    g->count[k]++;
}

struct run_ud {
    struct agg *g;
    int quarantine;
};

static int on_run(const struct mdp_run *r, void *ud)
{
    struct run_ud *u = ud;
    if (u->quarantine) {
        if (strncmp(r->job, "ingest.", 7) == 0 && r->in > 0)
            add_sample(u->g, r->end_ms, 100.0 * (double)r->quarantined / (double)r->in);
    } else {
        add_sample(u->g, r->end_ms, strcmp(r->status, "failed") == 0 ? 1.0 : 0.0);
    }
    return 0;
}

static int freshness_samples(struct mdp_lake *lake, const struct mdp_config *cfg,
                             const char *metric, struct agg *g, struct mdp_diag *d)
{
    char src[64];
    size_t n = strlen(metric) - 16;
    if (n >= sizeof src) n = sizeof src - 1;
    memcpy(src, metric + 10, n);
    src[n] = '\0';
    struct mdp__fresh_all all;
    int rc = mdp__fresh_load(lake, cfg, g->now_ms, &all, d);
    const struct mdp__fresh_hist *h = NULL;
    for (size_t i = 0; !rc && i < all.n; i++)
        if (strcmp(all.v[i].source, src) == 0) h = &all.v[i];
    if (!rc && !h)
        rc = mdp_diag_set(d, MDP_ERR_INVALID, "metric %s: '%s' has no entry in freshness.slas",
                          metric, src);
    for (size_t k = 0; !rc && k < g->n; k++) {
        int64_t t = g->now_ms - (int64_t)(g->n - 1 - k) * g->period_ms;
        int64_t age = mdp__fresh_age_at(h, t);
        if (age >= 0) add_sample(g, t, (double)age / 1000.0);
    }
    mdp__fresh_all_cleanup(&all);
    return rc;
}

struct snap_ud {
    struct mdp_lake *lake;
    struct agg *g;
    char from_key[64]; /* keys before this one's day are older than the range */
    struct mdp_diag *d;
    const char *field; /* NULL: the serve snapshot's interval.p99_ms; else a top-level number */
};

static int on_snapshot(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct snap_ud *u = ud;
    if (strcmp(key, u->from_key) < 0) return 0;
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_store_get(u->lake->store, key, &b, u->d);
    if (rc) {
        mdp_buf_cleanup(&b);
        return rc == MDP_ERR_NOT_FOUND ? 0 : rc;
    }
    json_object *o = json_tokener_parse(b.data ? b.data : "");
    mdp_buf_cleanup(&b);
    json_object *t, *iv, *p99;
    int64_t ms;
    if (u->field) { /* a lag snapshot: {"time": ..., "lag_bytes": N, "lag_s": X, ...} */
        if (o && json_object_object_get_ex(o, "time", &t) &&
            mdp_time_parse_iso(json_object_get_string(t), (size_t)-1, &ms) == 0 &&
            json_object_object_get_ex(o, u->field, &iv) &&
            (json_object_is_type(iv, json_type_double) || json_object_is_type(iv, json_type_int)))
            add_sample(u->g, ms, json_object_get_double(iv));
        json_object_put(o);
        return 0;
    }
    if (o && json_object_object_get_ex(o, "time", &t) &&
        mdp_time_parse_iso(json_object_get_string(t), (size_t)-1, &ms) == 0 &&
        json_object_object_get_ex(o, "interval", &iv) &&
        json_object_object_get_ex(iv, "p99_ms", &p99) &&
        (json_object_is_type(p99, json_type_double) || json_object_is_type(p99, json_type_int)))
        add_sample(u->g, ms, json_object_get_double(p99));
    json_object_put(o);
    return 0;
}

struct dq_ud {
    struct agg *g;
};

static int dq_row(void *ud, int ncols, const char *const *v)
{
    struct dq_ud *u = ud;
    int64_t ms;
    if (ncols == 2 && v[0] && v[1] && mdp_time_parse_epoch_ms(v[0], &ms) == 0)
        add_sample(u->g, ms, strtod(v[1], NULL));
    return 0;
}

static int dq_samples(struct mdp_lake *lake, const struct mdp_config *cfg, struct agg *g,
                      struct mdp_diag *d)
{
    const char *table = NULL;
    for (int i = 0; DQ_TABLES[i] && !table; i++) {
        struct mdp_manifest m;
        int rc = mdp_lake_current(lake, DQ_TABLES[i], &m, d);
        mdp_manifest_cleanup(&m);
        if (rc == 0)
            table = DQ_TABLES[i];
        else if (rc != MDP_ERR_NOT_FOUND)
            return rc;
    }
    if (!table) return 0; /* no dq run yet: missing data */
    struct mdp_engine_opts eo = {NULL, cfg->engine_threads, cfg->engine_memory_limit};
    struct mdp_engine *e = NULL;
    int rc = mdp_engine_open(&eo, &e, d);
    if (!rc) rc = mdp_engine_attach_table(e, lake, table, "dq_results", d);
    if (rc == MDP_ERR_NOT_FOUND) { /* published without files: no rows */
        mdp_engine_close(e);
        return 0;
    }
    struct dq_ud u = {g};
    struct mdp_rows_cb cb = {NULL, dq_row, &u};
    if (!rc)
        rc = mdp_engine_query(e,
                              "SELECT epoch_ms(max(evaluated_at)::TIMESTAMP), "
                              "100.0 * count(*) FILTER (WHERE outcome <> 'PASS') / count(*) "
                              "FROM dq_results GROUP BY run_id",
                              &cb, d);
    mdp_engine_close(e);
    return rc;
}

int mdp_metric_datapoints(struct mdp_lake *lake, const struct mdp_config *cfg, const char *metric,
                          enum mdp_alarm_stat statistic, int64_t period_s, int64_t now_ms, size_t n,
                          double *out, struct mdp_diag *d)
{
    if (!mdp_metric_known(metric))
        return mdp_diag_set(d, MDP_ERR_INVALID, "unknown metric '%s'", metric);
    if (n == 0 || period_s <= 0)
        return mdp_diag_set(d, MDP_ERR_INVALID, "metric %s: no periods to evaluate", metric);
    struct agg g = {now_ms, period_s * 1000, n, NULL, NULL, NULL, NULL};
    g.sum = mdp_calloc(n, sizeof *g.sum);
    g.min = mdp_calloc(n, sizeof *g.min);
    g.max = mdp_calloc(n, sizeof *g.max);
    g.count = mdp_calloc(n, sizeof *g.count);
    int rc = 0;
    if (!g.sum || !g.min || !g.max || !g.count) {
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (strncmp(metric, "freshness.", 10) == 0) {
        rc = freshness_samples(lake, cfg, metric, &g, d);
    } else if (strcmp(metric, "runs.failed") == 0 || strcmp(metric, "ingest.quarantine_pct") == 0) {
        struct run_ud u = {&g, metric[0] == 'i'};
        rc = mdp_runlog_each(lake, on_run, &u, d);
    } else if (strcmp(metric, "dq.violation_pct") == 0) {
        rc = dq_samples(lake, cfg, &g, d);
    } else if (strcmp(metric, "serve.latency_p99_ms") == 0) {
        struct snap_ud u = {lake, &g, "", d, NULL};
        char date[11];
        int64_t from = now_ms - (int64_t)n * g.period_ms;
        mdp_date_format(mdp_days_from_ms(from > 0 ? from : 0), date, sizeof date);
        snprintf(u.from_key, sizeof u.from_key, "_meta/metrics/serve/dt=%s/", date);
        rc = mdp_store_list(lake->store, "_meta/metrics/serve/", on_snapshot, &u, d);
    } else if (strncmp(metric, "cdc.slot_lag_", 13) == 0) {
        struct snap_ud u = {lake, &g, "", d,
                            strcmp(metric, "cdc.slot_lag_s") == 0 ? "lag_s" : "lag_bytes"};
        char date[11];
        int64_t from = now_ms - (int64_t)n * g.period_ms;
        mdp_date_format(mdp_days_from_ms(from > 0 ? from : 0), date, sizeof date);
        snprintf(u.from_key, sizeof u.from_key, "_meta/metrics/cdc/dt=%s/", date);
        rc = mdp_store_list(lake->store, "_meta/metrics/cdc/", on_snapshot, &u, d);
    } else if (g_source) { /* cost.* */
        double v;
        int r = g_source(metric, now_ms, &v, g_source_ud, d);
        if (r < 0)
            rc = r;
        else if (r > 0)
            add_sample(&g, now_ms, v);
    }
    if (rc == MDP_ERR_NOMEM && d && !d->msg[0]) mdp_diag_set(d, rc, "out of memory");
    for (size_t k = 0; !rc && k < n; k++) {
        if (!g.count[k]) {
            out[k] = NAN;
            continue;
        }
        switch (statistic) {
        case MDP_STAT_AVERAGE:
            out[k] = g.sum[k] / (double)g.count[k];
            break;
        case MDP_STAT_SUM:
            out[k] = g.sum[k];
            break;
        case MDP_STAT_MINIMUM:
            out[k] = g.min[k];
            break;
        case MDP_STAT_MAXIMUM:
            out[k] = g.max[k];
            break;
        case MDP_STAT_SAMPLE_COUNT:
            out[k] = (double)g.count[k];
            break;
        }
    }
out:
    free(g.sum);
    free(g.min);
    free(g.max);
    free(g.count);
    return rc;
}
