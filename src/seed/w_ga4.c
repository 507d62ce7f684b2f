/* The GA4 writer of `mdp seed`: one Data API runReport response per day for the configured
 * property (metric values as strings, positional headers, `date` as YYYYMMDD, zero values and
 * empty rows omitted), counted from the world's signups, active days and page views. */
#include "seed_world.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    GA4_PAGE_VIEW,
    GA4_SESSION_START,
    GA4_USER_ENGAGEMENT,
    GA4_FIRST_VISIT,
    GA4_SIGN_UP,
    GA4_SCROLL,
    GA4_NEVENTS
};

struct ga4 {
    int64_t (*count)[GA4_NEVENTS]; /* per day: eventCount */
    int64_t *active_users;         /* per day */
};

static const char *const GA4_NAMES[GA4_NEVENTS] = {
    "page_view", "session_start", "user_engagement", "first_visit", "sign_up", "scroll"};

static json_object *jv(const char *name, const char *v)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, name, mdp__jstr(v));
    return o;
}

static json_object *header(const char *name, const char *type)
{
    json_object *o = jv("name", name);
    if (type) json_object_object_add(o, "type", mdp__jstr(type));
    return o;
}

static json_object *quota(int64_t consumed, int64_t remaining)
{
    json_object *o = json_object_new_object();
    if (consumed) json_object_object_add(o, "consumed", json_object_new_int64(consumed));
    json_object_object_add(o, "remaining", json_object_new_int64(remaining));
    return o;
}

struct ga4_row {
    int ev;
    int64_t count, users, sessions;
};

static int cmp_row(const void *a, const void *b)
{
    const struct ga4_row *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1; /* eventCount desc */
    return x->ev - y->ev;
}

static int ga4_finish(struct mdp__seed *s, void *state)
{
    struct ga4 *w = state;
    int rc = 0;
    int64_t used_today = 0;
    for (int64_t day = 0; day < s->ndays && !rc; day++) {
        struct ga4_row rows[GA4_NEVENTS];
        int n = 0;
        int64_t active = w->active_users[day];
        int64_t sessions = w->count[day][GA4_SESSION_START];
        for (int e = 0; e < GA4_NEVENTS; e++) {
            int64_t c = w->count[day][e];
            if (e == GA4_USER_ENGAGEMENT) c = c * 7 / 10;
            if (c <= 0) continue; /* GA4 returns no row for events that did not happen */
            int64_t users =
                e == GA4_FIRST_VISIT || e == GA4_SIGN_UP ? c : (c < active ? c : active);
            int64_t sess = e == GA4_SESSION_START ? c : (c < sessions ? c : sessions);
            rows[n++] = (struct ga4_row){e, c, users, sess};
        }
        qsort(rows, (size_t)n, sizeof *rows, cmp_row);
        char date[9], iso[11];
        int32_t dk = mdp_date_key_from_days(s->o->start_day + day);
        snprintf(date, sizeof date, "%08d", (int)dk);
        mdp_date_format(s->o->start_day + day, iso, sizeof iso);
        json_object *r = json_object_new_object();
        json_object *dh = json_object_new_array(), *mh = json_object_new_array();
        json_object_array_add(dh, header("date", NULL));
        json_object_array_add(dh, header("eventName", NULL));
        json_object_array_add(mh, header("eventCount", "TYPE_INTEGER"));
        json_object_array_add(mh, header("activeUsers", "TYPE_INTEGER"));
        json_object_array_add(mh, header("sessions", "TYPE_INTEGER"));
        json_object_object_add(r, "dimensionHeaders", dh);
        json_object_object_add(r, "metricHeaders", mh);
        if (n > 0) {
            json_object *arr = json_object_new_array();
            for (int i = 0; i < n; i++) {
                json_object *row = json_object_new_object();
                json_object *dv = json_object_new_array(), *mv = json_object_new_array();
                json_object_array_add(dv, jv("value", date));
                json_object_array_add(dv, jv("value", GA4_NAMES[rows[i].ev]));
                char b[3][24];
                snprintf(b[0], 24, "%lld", (long long)rows[i].count);
                snprintf(b[1], 24, "%lld", (long long)rows[i].users);
                snprintf(b[2], 24, "%lld", (long long)rows[i].sessions);
                for (int k = 0; k < 3; k++)
                    json_object_array_add(mv, jv("value", b[k]));
                json_object_object_add(row, "dimensionValues", dv);
                json_object_object_add(row, "metricValues", mv);
                json_object_array_add(arr, row);
            }
            json_object_object_add(r, "rows", arr);
            json_object_object_add(r, "rowCount", json_object_new_int(n));
        }
        json_object *md = json_object_new_object();
        json_object_object_add(md, "currencyCode", mdp__jstr("EUR"));
        json_object_object_add(md, "timeZone", mdp__jstr(s->o->ga4_time_zone));
        json_object_object_add(r, "metadata", md);
        used_today = 10 + (int64_t)mdp__rng_below(&s->r, 8);
        json_object *pq = json_object_new_object();
        json_object_object_add(pq, "tokensPerDay", quota(used_today, 200000 - used_today));
        json_object_object_add(pq, "tokensPerHour", quota(used_today, 40000 - used_today));
        json_object_object_add(pq, "concurrentRequests", quota(0, 10));
        json_object_object_add(pq, "serverErrorsPerProjectPerHour", quota(0, 10));
        json_object_object_add(pq, "potentiallyThresholdedRequestsPerHour", quota(0, 120));
        json_object_object_add(pq, "tokensPerProjectPerHour",
                               quota(used_today, 14000 - used_today));
        json_object_object_add(r, "propertyQuota", pq);
        json_object_object_add(r, "kind", mdp__jstr("analyticsData#runReport"));
        char *text = mdp__json_text(r, 1);
        if (!text) return mdp_diag_set(s->d, MDP_ERR_NOMEM, "seed: out of memory");
        char key[128];
        snprintf(key, sizeof key, "ga4/runreport/dt=%s/property=%s.json", iso,
                 s->o->ga4_property_id);
        rc = mdp__seed_put(s, key, text, strlen(text));
        s->st->ga4_rows += n;
        free(text);
    }
    return rc;
}

static int ga4_init(struct mdp__seed *s, void **state)
{
    struct ga4 *w = calloc(1, sizeof *w);
    if (!w) return mdp__nomem(s);
    *state = w;
    w->count = calloc((size_t)s->ndays, sizeof *w->count);
    w->active_users = calloc((size_t)s->ndays, sizeof *w->active_users);
    return w->count && w->active_users ? 0 : mdp__nomem(s);
}

static int ga4_on(struct mdp__seed *s, void *state, const struct mdp__happening *h)
{
    struct ga4 *w = state;
    int64_t day = mdp__day_index(s, h->t);
    switch (h->kind) {
    case MDP__H_SIGNUP:
        if (day >= 0) {
            w->count[day][GA4_FIRST_VISIT]++;
            w->count[day][GA4_SIGN_UP]++;
        }
        break;
    case MDP__H_ACTIVE_DAY:
        w->active_users[h->active.day]++;
        w->count[h->active.day][GA4_SESSION_START] += h->active.sessions;
        if (h->active.first) w->count[h->active.day][GA4_PAGE_VIEW] += 3;
        break;
    case MDP__H_PAGE_VIEW:
        if (day >= 0) {
            w->count[day][GA4_PAGE_VIEW]++;
            w->count[day][GA4_SCROLL] += mdp__rng_chance(&s->r, 0.6);
            w->count[day][GA4_USER_ENGAGEMENT]++;
        }
        break;
    default:
        break;
    }
    return 0;
}

static void ga4_cleanup(struct mdp__seed *s, void *state)
{
    struct ga4 *w = state;
    (void)s;
    if (!w) return;
    free(w->count);
    free(w->active_users);
    free(w);
}

const struct mdp__writer mdp__writer_ga4 = {"ga4", ga4_init, ga4_on, ga4_finish, ga4_cleanup, NULL};
