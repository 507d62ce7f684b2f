/* The operations routes (server.h's MDP__ROUTES): GET /healthz (the process serves), GET /readyz
 * (a snapshot is loaded and the state store answers) and GET /metrics (Prometheus text, metrics.c).
 */
#include "mdp/snapshot.h"
#include "mdp/time.h"
#include "server.h"

#include <stdlib.h>

enum MHD_Result mdp__route_healthz(struct mdp__req *r)
{
    r->status = 200;
    mdp_buf_puts(&r->resp, "{\"status\":\"ok\"}");
    return mdp__respond(r);
}

enum MHD_Result mdp__route_readyz(struct mdp__req *r)
{
    struct mdp_server *s = r->s;
    char *body = NULL;
    struct mdp_diag d = {0};
    pthread_mutex_lock(&s->state_mu);
    int rc = mdp_state_get(s->state, "serve", "ready", "probe", &body, NULL, &d);
    pthread_mutex_unlock(&s->state_mu);
    free(body);
    int state_ok = rc == 0 || rc == MDP_ERR_NOT_FOUND;
    pthread_rwlock_rdlock(&s->snap.lock);
    int64_t users = s->snap.snap ? mdp_snapshot_count(s->snap.snap) : -1;
    int64_t day = s->snap.snap ? mdp_snapshot_day(s->snap.snap) : 0;
    pthread_rwlock_unlock(&s->snap.lock);
    char date[11] = "";
    if (users >= 0) mdp_date_format(day, date, sizeof date);
    r->status = state_ok && users >= 0 ? 200 : 503;
    mdp_buf_reset(&r->resp);
    mdp_buf_printf(&r->resp, "{\"ready\":%s,\"state_store\":%s,\"snapshot\":",
                   r->status == 200 ? "true" : "false", state_ok ? "true" : "false");
    if (users >= 0)
        mdp_buf_printf(&r->resp, "{\"date\":\"%s\",\"users\":%lld}}", date, (long long)users);
    else
        mdp_buf_puts(&r->resp, "null}");
    return mdp__respond(r);
}

enum MHD_Result mdp__route_metrics(struct mdp__req *r)
{
    mdp__metrics_render(r->s, &r->resp);
    r->status = 200;
    r->ctype = "text/plain; version=0.0.4; charset=utf-8";
    return mdp__respond(r);
}
