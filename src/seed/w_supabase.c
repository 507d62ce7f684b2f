/* The Supabase writer of `mdp seed`: the daily exports of the app's tables (accounts,
 * user_profiles, communication_prefs, onboarding_progress, locations, visibility_checks,
 * oauth_logins) as PostgreSQL's COPY ... TO STDOUT WITH (FORMAT csv, HEADER) writes them: the rows
 * changed that day, in the order of their change. Columns: config/supabase-schema.sql. */
#include "seed_world.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    T_ACCOUNTS,
    T_USER_PROFILES,
    T_COMM_PREFS,
    T_ONBOARDING,
    T_LOCATIONS,
    T_VC,
    T_OAUTH,
    T_NTABLES
};

static const char *const CSV_HEADERS[T_NTABLES] = {
    "account_id,business_name,main_category,price_range,is_active,created_at,updated_at",
    "user_id,account_id,email,name,persona,preferences,settings,is_active,signup_at,last_login_at,"
    "created_at,updated_at",
    "user_id,tone,address,help_level,updated_at",
    "progress_id,user_id,account_id,step_id,completion_status,started_at,completed_at,"
    "duration_seconds,updated_at",
    "location_id,account_id,address,city,country,gbp_place_id,latitude,longitude,created_at,"
    "updated_at",
    "check_id,user_id,account_id,location_id,overall_score,gbp_score,social_score,web_score,"
    "competitor_count,processing_time_seconds,created_at,updated_at",
    "event_id,user_id,provider,success,error_code,created_at"};
static const char *const CSV_TABLES[T_NTABLES] = {
    "accounts",  "user_profiles",     "communication_prefs", "onboarding_progress",
    "locations", "visibility_checks", "oauth_logins"};

struct supabase {
    struct mdp__spool table[T_NTABLES];
    struct mdp_buf row;
};

/* Appends one CSV field: NULL is empty and unquoted; '' and values with , " CR LF are quoted. */
static void csv_field(struct mdp_buf *b, const char *v, int first)
{
    if (!first) mdp_buf_putc(b, ',');
    if (!v) return;
    if (!*v || strpbrk(v, ",\"\r\n")) {
        mdp_buf_putc(b, '"');
        for (const char *p = v; *p; p++) {
            if (*p == '"') mdp_buf_putc(b, '"');
            mdp_buf_putc(b, *p);
        }
        mdp_buf_putc(b, '"');
    } else {
        mdp_buf_puts(b, v);
    }
}

static int csv_row(struct mdp__seed *s, struct supabase *w, int table, int64_t ts, int n,
                   const char *const *vals)
{
    if (mdp__day_index(s, ts) < 0) return 0;
    struct mdp_buf *b = &w->row;
    mdp_buf_reset(b);
    for (int i = 0; i < n; i++)
        csv_field(b, vals[i], i == 0);
    if (mdp_buf_putc(b, '\n')) return mdp__nomem(s);
    s->st->csv_rows++;
    return mdp__spool_add(s, &w->table[table], ts, b->data, b->len);
}

static int account_rows(struct mdp__seed *s, struct supabase *w, const struct mdp__account *a,
                        int64_t t)
{
    char id[37], created[40];
    mdp_uuid_format(&a->id, id);
    mdp__pg_ts(t, created);
    const char *row[] = {id,      a->name, MDP__CATEGORIES[a->category], MDP__PRICES[a->price], "t",
                         created, created};
    int rc = csv_row(s, w, T_ACCOUNTS, t, 7, row);
    for (int i = 0; i < a->nloc && !rc; i++) {
        const struct mdp__location *l = &a->loc[i];
        const struct mdp__city *c = &MDP__CITIES[l->city];
        char lid[37], lat[24], lng[24], lcreated[40], addr[128];
        mdp_uuid_format(&l->id, lid);
        snprintf(lat, sizeof lat, "%.8f", l->lat);
        snprintf(lng, sizeof lng, "%.8f", l->lng);
        mdp__pg_ts(t + i, lcreated);
        snprintf(addr, sizeof addr, "%s, %s %s", l->street, l->postal, c->name);
        const char *lrow[] = {lid, id,  addr,     c->name, "DE", l->on_maps ? l->place_id : NULL,
                              lat, lng, lcreated, lcreated};
        rc = csv_row(s, w, T_LOCATIONS, t + i, 10, lrow);
    }
    return rc;
}

static int profile_row(struct mdp__seed *s, struct supabase *w, const struct mdp__user *u,
                       int64_t t, int onb_done)
{
    char uid[37], aid[37], signup[40], now[40], last[40], prefs[256], settings[160];
    mdp_uuid_format(&u->id, uid);
    mdp_uuid_format(&u->acc->id, aid);
    mdp__pg_ts(u->signup_ms, signup);
    mdp__pg_ts(t, now);
    if (u->last_login_ms > 0) mdp__pg_ts(u->last_login_ms, last);
    snprintf(prefs, sizeof prefs, "{\"tone\": \"%s\", \"address\": \"%s\", \"language\": \"de\"}",
             MDP__TONES[u->tone], MDP__ADDRESSES[u->address]);
    snprintf(settings, sizeof settings,
             "{\"onboarding_completed\": %s, \"newsletter\": %s, \"theme\": \"%s\"}",
             onb_done ? "true" : "false", u->marketing_from >= 0 ? "true" : "false",
             (u->persona & 1) ? "dark" : "light");
    const char *persona = MDP__PERSONAS[u->persona];
    if (mdp__bad(s)) { /* a persona the app added before the platform knew it */
        persona = "unknown-uwe";
        s->st->bad_unknown_enum++;
    }
    const char *row[] = {uid,    aid,      u->email, u->name, persona,
                         prefs,  settings, "t",      signup,  u->last_login_ms > 0 ? last : NULL,
                         signup, now};
    return csv_row(s, w, T_USER_PROFILES, t, 12, row);
}

static int supabase_on(struct mdp__seed *s, void *state, const struct mdp__happening *h)
{
    struct supabase *w = state;
    const struct mdp__user *u = h->u;
    char uid[37] = "", aid[37] = "", ts[40];
    if (u) {
        mdp_uuid_format(&u->id, uid);
        mdp_uuid_format(&u->acc->id, aid);
    }
    mdp__pg_ts(h->t, ts);
    switch (h->kind) {
    case MDP__H_ACCOUNT:
        return account_rows(s, w, h->a, h->t);
    case MDP__H_SIGNUP: {
        int rc = profile_row(s, w, u, h->t, 0);
        const char *row[] = {uid, MDP__TONES[u->tone], MDP__ADDRESSES[u->address],
                             MDP__HELP_LEVELS[u->help], ts};
        return rc ? rc : csv_row(s, w, T_COMM_PREFS, h->t, 5, row);
    }
    case MDP__H_ONB_STEP: {
        int64_t dur = h->step.dur_s, end = h->t + dur * 1000;
        struct mdp_uuid pid;
        mdp__uuid7_at(s, h->t, &pid);
        char id[37], end_ts[40], ds[24];
        mdp_uuid_format(&pid, id);
        mdp__pg_ts(end, end_ts);
        snprintf(ds, sizeof ds, "%lld", (long long)dur);
        int finished = strcmp(h->step.status, "abandoned") != 0;
        const char *row[] = {id,
                             uid,
                             aid,
                             h->step.step,
                             h->step.status,
                             ts,
                             finished ? end_ts : NULL,
                             finished ? ds : NULL,
                             end_ts};
        return csv_row(s, w, T_ONBOARDING, end, 9, row);
    }
    case MDP__H_ONB_DONE:
        return profile_row(s, w, u, h->t, 1);
    case MDP__H_LOGIN: {
        struct mdp_uuid id;
        mdp__uuid7_at(s, h->t, &id);
        char eid[37];
        mdp_uuid_format(&id, eid);
        const char *row[] = {
            eid, uid, h->login.provider, h->login.error ? "f" : "t", h->login.error, ts};
        return csv_row(s, w, T_OAUTH, h->t, 6, row);
    }
    case MDP__H_VC: {
        char cid[37], lid[37], done[40], v[6][16];
        mdp_uuid_format(&h->vc.check_id, cid);
        mdp_uuid_format(&h->l->id, lid);
        mdp__pg_ts(h->t + h->vc.secs * 1000, done);
        snprintf(v[0], 16, "%d", h->vc.overall);
        snprintf(v[1], 16, "%d", h->vc.gbp);
        snprintf(v[2], 16, "%d", h->vc.social);
        snprintf(v[3], 16, "%d", h->vc.web);
        snprintf(v[4], 16, "%d", h->vc.competitors);
        snprintf(v[5], 16, "%d", h->vc.secs);
        const char *row[] = {cid, uid, aid, lid, v[0], v[1], v[2], v[3], v[4], v[5], ts, done};
        return csv_row(s, w, T_VC, h->t, 12, row);
    }
    default:
        return 0;
    }
}

static int supabase_init(struct mdp__seed *s, void **state)
{
    struct supabase *w = calloc(1, sizeof *w);
    if (!w) return mdp__nomem(s);
    *state = w;
    mdp_buf_init(&w->row);
    int rc = 0;
    for (int t = 0; t < T_NTABLES && !rc; t++)
        rc = mdp__spool_init(s, &w->table[t], CSV_TABLES[t]);
    return rc;
}

static int append_row(struct mdp__seed *s, void *ud, int64_t ts, const char *text, size_t len)
{
    (void)ts;
    return mdp_buf_append(ud, text, len) ? mdp__nomem(s) : 0;
}

static int supabase_finish(struct mdp__seed *s, void *state)
{
    struct supabase *w = state;
    int rc = 0;
    struct mdp_buf b;
    mdp_buf_init(&b);
    for (int t = 0; t < T_NTABLES && !rc; t++) {
        for (int64_t day = 0; day < s->ndays && !rc; day++) {
            mdp_buf_reset(&b);
            if (mdp_buf_printf(&b, "%s\n", CSV_HEADERS[t])) rc = mdp__nomem(s);
            size_t header = b.len;
            if (!rc) rc = mdp__spool_drain(s, &w->table[t], day, append_row, &b);
            if (rc || b.len == header) continue; /* nothing changed that day: no export */
            /* an export cut off mid-row (an interrupted transfer) */
            if (t == T_ONBOARDING && mdp__bad(s) && b.len > 40) {
                b.len -= 1 + mdp__rng_below(&s->r, 30);
                b.data[b.len] = '\0';
                s->st->bad_truncated++;
            }
            char date[11], key[160];
            mdp_date_format(s->o->start_day + day, date, sizeof date);
            snprintf(key, sizeof key, "supabase/%s/dt=%s/%s.csv", CSV_TABLES[t], date,
                     CSV_TABLES[t]);
            rc = mdp__seed_put(s, key, b.data, b.len);
        }
    }
    mdp_buf_cleanup(&b);
    return rc;
}

static void supabase_cleanup(struct mdp__seed *s, void *state)
{
    struct supabase *w = state;
    if (!w) return;
    for (int t = 0; t < T_NTABLES; t++)
        mdp__spool_cleanup(s, &w->table[t]);
    mdp_buf_cleanup(&w->row);
    free(w);
}

const struct mdp__writer mdp__writer_supabase = {"supabase",      supabase_init,    supabase_on,
                                                 supabase_finish, supabase_cleanup, NULL};
