/* The service's background thread (server.h): reloads the serving snapshot when a newer one is
 * published, runs a micro-batch curate of the days that got SES messages over HTTP, and writes the
 * latency figures to the lake every serve.metrics_snapshot_seconds (and once more at stop), and
 * recomputes the cost model for /metrics every serve.cost_refresh_seconds. */
#include "mdp/alloc.h"
#include "mdp/cost.h"
#include "mdp/lease.h"
#include "mdp/log.h"
#include "mdp/model.h"
#include "mdp/pipeline.h"
#include "mdp/snapshot.h"
#include "mdp/suppress.h"
#include "mdp/time.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void mdp__ses_day_dirty(struct mdp_server *s, int64_t day)
{
    pthread_mutex_lock(&s->days_mu);
    if (!s->ses_dirty || day < s->ses_from) s->ses_from = day;
    if (!s->ses_dirty || day > s->ses_to) s->ses_to = day;
    s->ses_dirty = 1;
    pthread_mutex_unlock(&s->days_mu);
}

static void micro_batch(struct mdp_server *s)
{
    /* the partitions of the days that got new raw objects */
    pthread_mutex_lock(&s->days_mu);
    struct mdp_curate_opts o = {0, s->ses_from, s->ses_to};
    s->ses_dirty = 0;
    pthread_mutex_unlock(&s->days_mu);
    struct mdp_diag d = {0};
    /* under the lake's lease, as `mdp curate`: while a writing job holds it (an erasure that
     * rewrites these partitions, say) the batch waits for the next round */
    struct mdp_lease *lease;
    struct mdp_lease_opts lo = {"serve (SES micro-batch curate)", s->cfg->lease_s, 0};
    int rc = mdp_lease_take(s->lake, MDP_LEASE_LAKE, &lo, &lease, &d);
    if (rc) {
        mdp_log(rc == MDP_ERR_EXISTS ? MDP_LOG_INFO : MDP_LOG_ERROR,
                "micro-batch curate postponed to the next round", LOG_STR("why", d.msg),
                MDP_LF_END);
        mdp__ses_day_dirty(s, o.from_day);
        mdp__ses_day_dirty(s, o.to_day);
        return;
    }
    struct mdp_stage_ctx ctx = {s->cfg, s->lake, -1, NULL, NULL, 0};
    struct mdp_run run;
    mdp_run_begin(&run, "curate");
    rc = mdp_curate(&ctx, &o, &run, &d);
    if (mdp_lease_release(lease, rc ? NULL : &d) && !rc) rc = MDP_ERR_EXISTS;
    if (rc) snprintf(run.message, sizeof run.message, "%s", d.msg);
    struct mdp_diag ld = {0};
    mdp_run_end(s->lake, &run, rc ? "failed" : "ok", &ld);
    mdp_log(rc ? MDP_LOG_ERROR : MDP_LOG_INFO, "micro-batch curate",
            LOG_STR("status", rc ? d.msg : "ok"), MDP_LF_END);
    if (rc) { /* try again next round, with these days too */
        mdp__ses_day_dirty(s, o.from_day);
        mdp__ses_day_dirty(s, o.to_day);
    }
    s->metrics.curate_runs++;
}

/* Leaves the latency figures in the lake (_meta/metrics/serve/dt=D/<ms>-<pid>.json) for the
 * alarms and the report; a failed write is logged and tried again next time. */
static void metrics_snapshot(struct mdp_server *s, int64_t now, int64_t since,
                             struct mdp__metrics_prev *prev)
{
    struct mdp_buf b, key;
    mdp_buf_init(&b);
    mdp_buf_init(&key);
    char date[11];
    mdp_date_format(mdp_days_from_ms(now), date, sizeof date);
    mdp__metrics_snapshot(s, now, now - since, prev, &b);
    int rc = mdp_buf_printf(&key, "_meta/metrics/serve/dt=%s/%013lld-%ld.json", date,
                            (long long)now, (long)getpid());
    if (!rc) rc = mdp_buf_error(&b);
    struct mdp_diag d = {0};
    if (!rc) rc = mdp_store_put(s->lake->store, key.data, b.data, b.len, 0, &d);
    if (rc)
        mdp_log(MDP_LOG_ERROR, "metrics snapshot not written",
                LOG_STR("error", d.msg[0] ? d.msg : mdp_strerror(rc)), MDP_LF_END);
    mdp_buf_cleanup(&b);
    mdp_buf_cleanup(&key);
}

/* Recomputes the cost model for /metrics' gauges; a failure is logged and the old figures stay. */
static void cost_refresh(struct mdp_server *s)
{
    struct mdp_cost *c = mdp_calloc(1, sizeof *c);
    struct mdp_diag d = {0};
    int rc = c ? mdp_cost_figures(s->lake, s->cfg, 0, c, &d) : MDP_ERR_NOMEM;
    if (rc) {
        mdp_log(MDP_LOG_ERROR, "cost figures not computed",
                LOG_STR("error", d.msg[0] ? d.msg : mdp_strerror(rc)), MDP_LF_END);
        free(c);
        return;
    }
    mdp__metrics_set_cost(&s->metrics, c);
}

static void *background(void *arg)
{
    struct mdp_server *s = arg;
    int64_t last_reload = 0, last_curate = 0, last_snapshot = mdp_time_now_ms(), last_cost = 0;
    struct mdp__metrics_prev *prev = mdp_calloc(1, sizeof *prev);
    while (!s->bg_stop) {
        int64_t now = mdp_time_now_ms();
        if (prev && now - last_snapshot >= s->cfg->serve_metrics_snapshot_s * 1000) {
            metrics_snapshot(s, now, last_snapshot, prev);
            last_snapshot = now;
        }
        if (!last_cost || now - last_cost >= s->cfg->serve_cost_refresh_s * 1000) {
            cost_refresh(s);
            last_cost = mdp_time_now_ms();
        }
        if (now - last_reload >= s->cfg->serve_reload_s * 1000) {
            struct mdp_diag d = {0};
            int r = mdp__snap_reload(&s->snap, s->lake, &d);
            if (r > 0)
                mdp_log(MDP_LOG_INFO, "serving snapshot loaded",
                        LOG_INT("users", mdp_snapshot_count(s->snap.snap)), MDP_LF_END);
            else if (r < 0)
                mdp_log(MDP_LOG_ERROR, "serving snapshot not loaded", LOG_STR("error", d.msg),
                        MDP_LF_END);
            /* the suppression list: one get, a reload only after an erasure */
            pthread_mutex_lock(&s->state_mu);
            r = mdp_suppress_live_refresh(s->suppress, s->state, NULL, &d);
            pthread_mutex_unlock(&s->state_mu);
            if (r)
                mdp_log(MDP_LOG_ERROR, "suppression list not reloaded", LOG_STR("error", d.msg),
                        MDP_LF_END);
            last_reload = now;
        }
        if (s->ses_dirty && now - last_curate >= s->cfg->serve_ses_publish_s * 1000) {
            micro_batch(s);
            last_curate = mdp_time_now_ms();
        }
        usleep(100000);
    }
    if (prev) { /* what was served since the last one */
        metrics_snapshot(s, mdp_time_now_ms(), last_snapshot, prev);
        free(prev);
    }
    return NULL;
}

int mdp__background_start(struct mdp_server *s)
{
    s->bg_stop = 0;
    if (pthread_create(&s->bg, NULL, background, s)) return MDP_ERR_NOMEM;
    s->bg_started = 1;
    return 0;
}

void mdp__background_stop(struct mdp_server *s)
{
    if (!s->bg_started) return;
    s->bg_stop = 1;
    pthread_join(s->bg, NULL);
    s->bg_started = 0;
}
