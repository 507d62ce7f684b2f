/* Reading the service's metrics snapshots (snapshots.h) for the cost model and the report. */
#include "snapshots.h"
#include "mdp/time.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct walk {
    struct mdp_lake *lake;
    int64_t from_ms, to_ms;
    char from_key[64]; /* keys before this one's day are older than the range */
    int (*cb)(const struct mdp__snap *s, void *ud);
    void *ud;
    struct mdp_diag *d;
};

static double num(json_object *o, const char *k)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, k, &v)) return NAN;
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return NAN;
    return json_object_get_double(v);
}

static void figures(json_object *interval, const char *route, struct mdp__snap_figures *f)
{
    snprintf(f->route, sizeof f->route, "%s", route);
    f->requests = num(interval, "requests");
    /* a count that cannot be one (negative, fractional, absurdly large) counts as none */
    if (!(f->requests >= 0 && f->requests <= 1e12) || f->requests != floor(f->requests))
        f->requests = 0;
    f->p50_ms = num(interval, "p50_ms");
    f->p90_ms = num(interval, "p90_ms");
    f->p99_ms = num(interval, "p99_ms");
}

static int on_key(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct walk *w = ud;
    if (strcmp(key, w->from_key) < 0) return 0;
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_store_get(w->lake->store, key, &b, w->d);
    if (rc) {
        mdp_buf_cleanup(&b);
        return rc == MDP_ERR_NOT_FOUND ? 0 : rc;
    }
    json_object *o = json_tokener_parse(b.data ? b.data : ""), *t, *iv, *routes;
    mdp_buf_cleanup(&b);
    struct mdp__snap s;
    memset(&s, 0, sizeof s);
    if (o && json_object_object_get_ex(o, "time", &t) &&
        mdp_time_parse_iso(json_object_get_string(t), (size_t)-1, &s.time_ms) == 0 &&
        s.time_ms > w->from_ms && s.time_ms <= w->to_ms &&
        json_object_object_get_ex(o, "interval", &iv)) {
        figures(iv, "", &s.all);
        if (json_object_object_get_ex(o, "routes", &routes) &&
            json_object_is_type(routes, json_type_array))
            for (size_t i = 0; i < json_object_array_length(routes) && s.nroutes < MDP__SNAP_ROUTES;
                 i++) {
                json_object *r = json_object_array_get_idx(routes, i), *name, *riv;
                if (json_object_object_get_ex(r, "route", &name) &&
                    json_object_is_type(name, json_type_string) &&
                    json_object_object_get_ex(r, "interval", &riv))
                    figures(riv, json_object_get_string(name), &s.routes[s.nroutes++]);
            }
        rc = w->cb(&s, w->ud);
    }
    json_object_put(o);
    return rc;
}

int mdp__snapshots_each(struct mdp_lake *lake, int64_t from_ms, int64_t to_ms,
                        int (*cb)(const struct mdp__snap *s, void *ud), void *ud,
                        struct mdp_diag *d)
{
    struct walk w = {lake, from_ms, to_ms, "", cb, ud, d};
    char date[11];
    mdp_date_format(mdp_days_from_ms(from_ms > 0 ? from_ms : 0), date, sizeof date);
    snprintf(w.from_key, sizeof w.from_key, "_meta/metrics/serve/dt=%s/", date);
    return mdp_store_list(lake->store, "_meta/metrics/serve/", on_key, &w, d);
}
