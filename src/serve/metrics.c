/* The service's Prometheus metrics (server.h): requests by route and status class and a latency
 * histogram per route, counted on one slot per thread (no shared cache lines on the hot path) and
 * summed when /metrics is read; the collector's and the committer's counters; the bandit's arms. */
#include "mdp/cost.h"
#include "mdp/time.h"
#include "server.h"

#include <stdlib.h>

#define NR (MDP__NROUTES + 1) /* the routes, and "other" */
static const double BUCKETS[MDP__NBUCKETS - 1] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};

struct mdp__slot {
    _Atomic long long status_count[NR][6]; /* by status class 1xx..5xx; [0] unused */
    _Atomic long long hist[NR][MDP__NBUCKETS];
    _Atomic long long lat_sum_us[NR];
    char pad[64];
};

int mdp__metrics_init(struct mdp__metrics *m)
{
    m->slots = calloc(MDP__MAX_SLOTS, sizeof *m->slots);
    if (!m->slots) return MDP_ERR_NOMEM;
    m->cost = NULL;
    pthread_mutex_init(&m->cost_mu, NULL);
    return 0;
}

void mdp__metrics_cleanup(struct mdp__metrics *m)
{
    if (!m->slots) return;
    free(m->slots);
    m->slots = NULL;
    free(m->cost);
    m->cost = NULL;
    pthread_mutex_destroy(&m->cost_mu);
}

void mdp__metrics_set_cost(struct mdp__metrics *m, struct mdp_cost *c)
{
    pthread_mutex_lock(&m->cost_mu);
    struct mdp_cost *old = m->cost;
    m->cost = c;
    pthread_mutex_unlock(&m->cost_mu);
    free(old);
}

/* The cost model's figures as gauges (docs/quality.md "Cost"): what the month has cost so far and
 * its forecast per item, and the bytes stored per zone and storage class. */
static void render_cost(struct mdp__metrics *m, struct mdp_buf *o)
{
    pthread_mutex_lock(&m->cost_mu);
    const struct mdp_cost *c = m->cost;
    if (c) {
        mdp_buf_printf(o,
                       "# HELP mdp_cost_usd_month_to_date The cost model's USD of the month so far "
                       "(month %s).\n# TYPE mdp_cost_usd_month_to_date gauge\n"
                       "mdp_cost_usd_month_to_date{item=\"s3_storage\"} %.6f\n"
                       "mdp_cost_usd_month_to_date{item=\"s3_requests\"} %.6f\n"
                       "mdp_cost_usd_month_to_date{item=\"athena\"} %.6f\n"
                       "mdp_cost_usd_month_to_date{item=\"dynamodb\"} %.6f\n"
                       "mdp_cost_usd_month_to_date{item=\"total\"} %.6f\n"
                       "# HELP mdp_cost_usd_month_forecast The cost model's month-end forecast in "
                       "USD.\n# TYPE mdp_cost_usd_month_forecast gauge\n"
                       "mdp_cost_usd_month_forecast{item=\"s3\"} %.6f\n"
                       "mdp_cost_usd_month_forecast{item=\"athena\"} %.6f\n"
                       "mdp_cost_usd_month_forecast{item=\"dynamodb\"} %.6f\n"
                       "mdp_cost_usd_month_forecast{item=\"total\"} %.6f\n"
                       "# HELP mdp_lake_stored_bytes Bytes stored in the lake per zone and storage "
                       "class, when the cost model last ran.\n# TYPE mdp_lake_stored_bytes gauge\n",
                       c->month, c->s3_storage, c->s3_requests, c->athena, c->dynamodb, c->total,
                       c->s3_usd_month_forecast, c->athena_usd_month_forecast,
                       c->dynamodb_usd_month_forecast, c->total_usd_month_forecast);
        for (int i = 0; i < c->nzones; i++)
            mdp_buf_printf(o, "mdp_lake_stored_bytes{zone=\"%s\",storage_class=\"%s\"} %lld\n",
                           c->zones[i].zone, c->zones[i].storage_class,
                           (long long)c->zones[i].bytes);
    }
    pthread_mutex_unlock(&m->cost_mu);
}

/* this thread's slot (threads beyond MDP__MAX_SLOTS share the last one) */
static struct mdp__slot *my_slot(struct mdp__metrics *m)
{
    static __thread struct mdp__slot *mine;
    static __thread const struct mdp__metrics *owner;
    if (!mine || owner != m) {
        int i = m->nslots++;
        mine = &m->slots[i < MDP__MAX_SLOTS ? i : MDP__MAX_SLOTS - 1];
        owner = m;
    }
    return mine;
}

void mdp__metrics_request(struct mdp_server *s, int route, int status, int64_t us)
{
    int c = status >= 100 && status < 600 ? status / 100 : 5;
    struct mdp__slot *sl = my_slot(&s->metrics);
    sl->status_count[route][c]++;
    int b = 0;
    while (b < MDP__NBUCKETS - 1 && us / 1e6 > BUCKETS[b])
        b++;
    sl->hist[route][b]++;
    sl->lat_sum_us[route] += us;
}

static int nslots(const struct mdp__metrics *m)
{
    return m->nslots < MDP__MAX_SLOTS ? m->nslots : MDP__MAX_SLOTS;
}

static long long sum_status(const struct mdp__metrics *m, int rt, int c)
{
    long long v = 0;
    for (int i = 0; i < nslots(m); i++)
        v += m->slots[i].status_count[rt][c];
    return v;
}

static long long sum_hist(const struct mdp__metrics *m, int rt, int b)
{
    long long v = 0;
    for (int i = 0; i < nslots(m); i++)
        v += m->slots[i].hist[rt][b];
    return v;
}

static long long sum_lat(const struct mdp__metrics *m, int rt)
{
    long long v = 0;
    for (int i = 0; i < nslots(m); i++)
        v += m->slots[i].lat_sum_us[rt];
    return v;
}

static int metric_arm(const struct mdp_bandit_arm *a, void *ud)
{
    mdp_buf_printf(ud,
                   "mdp_bandit_decisions_total{context=\"%s\",variant=\"%s\"} %lld\n"
                   "mdp_bandit_feedback_total{context=\"%s\",variant=\"%s\",outcome=\"success\"} "
                   "%lld\n"
                   "mdp_bandit_feedback_total{context=\"%s\",variant=\"%s\",outcome=\"failure\"} "
                   "%lld\n",
                   a->context, a->variant, (long long)a->decisions, a->context, a->variant,
                   (long long)a->successes, a->context, a->variant, (long long)a->failures);
    return 0;
}

void mdp__metrics_render(struct mdp_server *s, struct mdp_buf *o)
{
    struct mdp__metrics *m = &s->metrics;
    mdp_buf_reset(o);
    mdp_buf_puts(o, "# HELP mdp_http_requests_total HTTP requests by route and status class.\n"
                    "# TYPE mdp_http_requests_total counter\n");
    for (int rt = 0; rt < NR; rt++)
        for (int c = 1; c <= 5; c++)
            if (sum_status(m, rt, c))
                mdp_buf_printf(o, "mdp_http_requests_total{route=\"%s\",status=\"%dxx\"} %lld\n",
                               mdp__route_name(rt), c, sum_status(m, rt, c));
    mdp_buf_puts(o, "# HELP mdp_http_request_duration_seconds Time from the request's first "
                    "byte to its response.\n# TYPE mdp_http_request_duration_seconds histogram\n");
    for (int rt = 0; rt < NR; rt++) {
        long long cum = 0, total = 0;
        for (int b = 0; b < MDP__NBUCKETS; b++)
            total += sum_hist(m, rt, b);
        if (!total) continue;
        const char *name = mdp__route_name(rt);
        for (int b = 0; b < MDP__NBUCKETS; b++) {
            cum += sum_hist(m, rt, b);
            if (b < MDP__NBUCKETS - 1)
                mdp_buf_printf(o,
                               "mdp_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                               "%lld\n",
                               name, BUCKETS[b], cum);
            else
                mdp_buf_printf(o,
                               "mdp_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"}"
                               " %lld\n",
                               name, cum);
        }
        mdp_buf_printf(o,
                       "mdp_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                       "mdp_http_request_duration_seconds_count{route=\"%s\"} %lld\n",
                       name, sum_lat(m, rt) / 1e6, name, total);
    }
    mdp_buf_printf(o,
                   "# TYPE mdp_events_accepted_total counter\nmdp_events_accepted_total %lld\n"
                   "# TYPE mdp_events_quarantined_total counter\n"
                   "mdp_events_quarantined_total %lld\n"
                   "# TYPE mdp_events_suppressed_total counter\n"
                   "mdp_events_suppressed_total %lld\n"
                   "# TYPE mdp_decisions_suppressed_total counter\n"
                   "mdp_decisions_suppressed_total %lld\n"
                   "# TYPE mdp_ses_accepted_total counter\nmdp_ses_accepted_total %lld\n"
                   "# TYPE mdp_ses_quarantined_total counter\nmdp_ses_quarantined_total %lld\n"
                   "# TYPE mdp_raw_objects_committed_total counter\n"
                   "mdp_raw_objects_committed_total %lld\n"
                   "# TYPE mdp_curate_runs_total counter\nmdp_curate_runs_total %lld\n"
                   "# TYPE mdp_http_in_flight gauge\nmdp_http_in_flight %d\n"
                   "# HELP mdp_suppressed_subjects Entries of the erasure suppression list in "
                   "force (reloaded when its version moves).\n"
                   "# TYPE mdp_suppressed_subjects gauge\nmdp_suppressed_subjects %zu\n",
                   (long long)m->events_accepted, (long long)m->events_quarantined,
                   (long long)m->events_suppressed, (long long)s->pz.log_suppressed,
                   (long long)m->ses_accepted, (long long)m->ses_quarantined,
                   (long long)mdp__committer_objects(s->committer), (long long)m->curate_runs,
                   (int)s->in_flight, mdp_suppress_live_count(s->suppress));
    mdp_buf_puts(o, "# HELP mdp_bandit_decisions_total Decisions of the bandit by context and "
                    "variant (since start); feedback counts are the posterior's.\n"
                    "# TYPE mdp_bandit_decisions_total counter\n"
                    "# TYPE mdp_bandit_feedback_total counter\n");
    mdp_bandit_each(s->bandit, metric_arm, o);
    render_cost(m, o);
}

/* The q-quantile (0..1) of a histogram of n requests in ms, interpolated linearly inside its
 * bucket as Prometheus's histogram_quantile does (the +Inf bucket gives the last finite bound). */
static double quantile_ms(const long long *h, long long n, double q)
{
    double rank = q * (double)n, lo = 0, cum = 0;
    for (int b = 0; b < MDP__NBUCKETS - 1; b++) {
        if (cum + (double)h[b] >= rank && h[b] > 0)
            return 1000.0 * (lo + (BUCKETS[b] - lo) * (rank - cum) / (double)h[b]);
        cum += (double)h[b];
        lo = BUCKETS[b];
    }
    return 1000.0 * BUCKETS[MDP__NBUCKETS - 2];
}

static void put_interval(struct mdp_buf *o, const long long *h)
{
    long long n = 0;
    for (int b = 0; b < MDP__NBUCKETS; b++)
        n += h[b];
    if (!n) {
        mdp_buf_puts(o, "{\"requests\":0,\"p50_ms\":null,\"p90_ms\":null,\"p99_ms\":null}");
        return;
    }
    mdp_buf_printf(o, "{\"requests\":%lld,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f}", n,
                   quantile_ms(h, n, 0.5), quantile_ms(h, n, 0.9), quantile_ms(h, n, 0.99));
}

void mdp__metrics_snapshot(struct mdp_server *s, int64_t now_ms, int64_t interval_ms,
                           struct mdp__metrics_prev *prev, struct mdp_buf *o)
{
    const struct mdp__metrics *m = &s->metrics;
    char t[32];
    mdp_time_format_ms(now_ms, t, sizeof t);
    mdp_buf_reset(o);
    mdp_buf_printf(o, "{\"time\":\"%s\",\"interval_s\":%.3f,\"buckets_le_s\":[", t,
                   (double)interval_ms / 1000.0);
    for (int b = 0; b < MDP__NBUCKETS - 1; b++)
        mdp_buf_printf(o, "%s%g", b ? "," : "", BUCKETS[b]);
    mdp_buf_puts(o, ",null],\"routes\":[");
    long long all[MDP__NBUCKETS] = {0};
    int first = 1;
    for (int rt = 0; rt < NR; rt++) {
        long long cur[MDP__NBUCKETS], delta[MDP__NBUCKETS], total = 0;
        for (int b = 0; b < MDP__NBUCKETS; b++) {
            cur[b] = sum_hist(m, rt, b);
            delta[b] = cur[b] - prev->hist[rt][b];
            all[b] += delta[b];
            total += cur[b];
            prev->hist[rt][b] = cur[b];
        }
        if (!total) continue;
        mdp_buf_printf(o, "%s{\"route\":\"%s\",\"requests\":%lld,\"status\":{", first ? "" : ",",
                       mdp__route_name(rt), total);
        for (int c = 1; c <= 5; c++)
            mdp_buf_printf(o, "%s\"%dxx\":%lld", c > 1 ? "," : "", c, sum_status(m, rt, c));
        mdp_buf_printf(o, "},\"latency_sum_s\":%.6f,\"hist\":[", sum_lat(m, rt) / 1e6);
        for (int b = 0; b < MDP__NBUCKETS; b++)
            mdp_buf_printf(o, "%s%lld", b ? "," : "", cur[b]);
        mdp_buf_puts(o, "],\"interval\":");
        put_interval(o, delta);
        mdp_buf_putc(o, '}');
        first = 0;
    }
    mdp_buf_puts(o, "],\"interval\":");
    put_interval(o, all);
    mdp_buf_puts(o, "}\n");
}
