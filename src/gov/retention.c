/* Retention (include/mdp/retention.h, docs/privacy.md §4): the plan of what the data inventory's
 * rules make due at a time T, its application, and the hash-chained ledger of removals under
 * _meta/ledger/. The rules come only from the inventory; this file has no list of datasets.
 *
 * Raw and quarantine data leave by whole day folders (dt=D), published curated and ml tables by
 * whole date partitions (a new manifest without them, then the files), tables that mix users by a
 * rewrite without the inactive users' rows, state-store items by their TTL. A folder or partition
 * of day D is due when all of D lies before T minus the period. */
#include "mdp/alloc.h"
#include "mdp/buf.h"
#include "mdp/consent.h"
#include "mdp/engine.h"
#include "mdp/hash.h"
#include "mdp/ingest.h"
#include "mdp/inventory.h"
#include "mdp/lake.h"
#include "mdp/log.h"
#include "mdp/ml.h"
#include "mdp/pipeline.h"
#include "mdp/pseudonym.h"
#include "mdp/retention.h"
#include "mdp/state.h"
#include "mdp/strset.h"
#include "mdp/time.h"
#include "mdp/uuid.h"
#include "mdp/net.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEDGER      "_meta/ledger/"
#define RAW_SEEN    "_meta/state/curate/raw_seen"
#define RAW_HORIZON "_meta/state/retention/raw_horizon"
#define EXPIRED     "_meta/state/retention/expired/" /* <source>/<dataset>: newest day removed */

/* ---- the plan ---- */

static struct mdp_ret_step *add_step(struct mdp_ret_plan *p, const struct mdp_inv_dataset *ds,
                                     enum mdp_ret_unit unit, const char *target, int64_t day)
{
    if (p->nsteps == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 32;
        struct mdp_ret_step *ns = mdp_realloc(p->steps, ncap * sizeof *ns);
        if (!ns) return NULL;
        p->steps = ns;
        p->cap = ncap;
    }
    struct mdp_ret_step *s = &p->steps[p->nsteps];
    memset(s, 0, sizeof *s);
    if (!(s->target = mdp_strdup(target))) return NULL;
    s->dataset = ds;
    s->unit = unit;
    s->day = day;
    p->nsteps++;
    return s;
}

static int add_key(struct mdp_ret_step *s, const char *key)
{
    /* capacity 4, then doubling: a full array has a power-of-two length of at least 4 */
    if (s->nkeys == 0 || (s->nkeys >= 4 && (s->nkeys & (s->nkeys - 1)) == 0)) {
        size_t ncap = s->nkeys ? s->nkeys * 2 : 4;
        char **nk = mdp_realloc(s->keys, ncap * sizeof *nk);
        if (!nk) return MDP_ERR_NOMEM;
        s->keys = nk;
    }
    if (!(s->keys[s->nkeys] = mdp_strdup(key))) return MDP_ERR_NOMEM;
    s->nkeys++;
    return 0;
}

void mdp_ret_plan_free(struct mdp_ret_plan *plan)
{
    if (!plan) return;
    for (size_t i = 0; i < plan->nsteps; i++) {
        for (size_t k = 0; k < plan->steps[i].nkeys; k++)
            free(plan->steps[i].keys[k]);
        free(plan->steps[i].keys);
        free(plan->steps[i].target);
    }
    free(plan->steps);
    free(plan);
}

/* The day of a "dt=YYYY-MM-DD" or "<col>=YYYYMMDD" / "<col>=YYYY-MM-DD" folder value. */
static int folder_day(const char *v, size_t n, int64_t *out)
{
    char buf[11];
    if (n == 10) {
        memcpy(buf, v, 10);
        buf[10] = '\0';
        return mdp_date_parse(buf, out);
    }
    if (n == 8) {
        snprintf(buf, sizeof buf, "%.4s-%.2s-%.2s", v, v + 4, v + 6);
        return mdp_date_parse(buf, out);
    }
    return -1;
}

struct raw_scan {
    struct mdp_ret_plan *p;
    const struct mdp_inv_dataset *ds;
    int64_t cutoff_ms;
    struct mdp_ret_step *cur; /* the step of the folder being listed (keys come in order) */
    int rc;
    struct mdp_diag *d;
};

static int raw_key(const char *key, int64_t size, void *ud)
{
    struct raw_scan *r = ud;
    const char *dt = strstr(key, "/dt=");
    if (!dt) return 0;
    const char *end = strchr(dt + 4, '/');
    int64_t day;
    if (!end || folder_day(dt + 4, (size_t)(end - dt - 4), &day)) return 0;
    if ((day + 1) * MDP_MS_PER_DAY > r->cutoff_ms) return 0;
    size_t flen = (size_t)(end - key) + 1;
    if (!r->cur || strlen(r->cur->target) != flen || strncmp(r->cur->target, key, flen) != 0) {
        char folder[1024];
        snprintf(folder, sizeof folder, "%.*s", (int)flen, key);
        /* keys of one folder are contiguous in a sorted listing; a folder seen before continues */
        r->cur = NULL;
        for (size_t i = r->p->nsteps; i-- > 0;)
            if (r->p->steps[i].dataset == r->ds && strcmp(r->p->steps[i].target, folder) == 0) {
                r->cur = &r->p->steps[i];
                break;
            }
        if (!r->cur && !(r->cur = add_step(r->p, r->ds, MDP_RET_DAY_FOLDER, folder, day)))
            return r->rc = mdp_diag_set(r->d, MDP_ERR_NOMEM, "out of memory planning %s", key);
        r->cur->rows = -1;
    }
    if (add_key(r->cur, key))
        return r->rc = mdp_diag_set(r->d, MDP_ERR_NOMEM, "out of memory planning %s", key);
    r->cur->objects++;
    r->cur->bytes += size;
    return 0;
}

/* The deliveries of the lake's landing folder, routed as ingest routes them (listed once per
 * plan, on the first raw dataset): the raw dataset folder each lands in, and its day. */
struct landed {
    char *key;
    char loc[160];
    int64_t day, bytes;
};
struct landing {
    struct landed *v;
    size_t n, cap;
    int listed, rc;
    struct mdp_diag *d;
};

#define LANDING_DIR "landing/"

static int landing_key(const char *key, int64_t size, void *ud)
{
    struct landing *l = ud;
    struct landed x = {NULL, "", -1, size};
    if (mdp_ingest_route(key + strlen(LANDING_DIR), x.loc, sizeof x.loc, &x.day) || x.day < 0)
        return 0; /* not a connector's, or undated (it landed on its arrival day) */
    if (mdp_grow(&l->v, &l->cap, l->n, sizeof *l->v, 256) || !(x.key = mdp_strdup(key)))
        return l->rc =
                   mdp_diag_set(l->d, MDP_ERR_NOMEM, "out of memory listing the landing folder");
    l->v[l->n++] = x;
    return 0;
}

static void landing_free(struct landing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].key);
    free(l->v);
}

/* The deliveries of raw dataset ds whose day is due: one step per day, after its raw folders
 * (ingest would not take them again, but they are the same records, kept past their period). */
static int plan_landing(struct mdp_ret_plan *p, const struct mdp_inv_dataset *ds,
                        struct mdp_lake *lake, struct landing *l, int64_t cutoff,
                        struct mdp_diag *d)
{
    if (!l->listed) {
        l->listed = 1;
        int rc = mdp_store_list(lake->store, LANDING_DIR, landing_key, l, d);
        if (l->rc || rc) return l->rc ? l->rc : rc;
    }
    size_t first = p->nsteps;
    for (size_t i = 0; i < l->n; i++) {
        const struct landed *x = &l->v[i];
        if (strcmp(x->loc, ds->location) != 0 || (x->day + 1) * MDP_MS_PER_DAY > cutoff) continue;
        char target[300], day[16];
        mdp_date_format(x->day, day, sizeof day);
        snprintf(target, sizeof target, "landing for %s/dt=%s/", ds->location, day);
        struct mdp_ret_step *s = NULL;
        for (size_t k = first; k < p->nsteps && !s; k++)
            if (p->steps[k].day == x->day) s = &p->steps[k];
        if (!s && (s = add_step(p, ds, MDP_RET_LANDING, target, x->day))) s->rows = -1;
        if (!s || add_key(s, x->key))
            return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory planning %s", target);
        s->objects++;
        s->bytes += x->bytes;
    }
    return 0;
}

static int plan_folders(struct mdp_ret_plan *p, const struct mdp_inv_dataset *ds,
                        struct mdp_lake *lake, struct landing *l, int64_t cutoff,
                        struct mdp_diag *d)
{
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s/", ds->location);
    struct raw_scan r = {p, ds, cutoff, NULL, 0, d};
    int rc = mdp_store_list(lake->store, prefix, raw_key, &r, d);
    if (r.rc) rc = r.rc;
    if (!rc && l && ds->store == MDP_INV_RAW) rc = plan_landing(p, ds, lake, l, cutoff, d);
    return rc;
}

/* The partition value of column col in key ("/col=VALUE/"), as a day. */
static int key_partition_day(const char *key, const char *col, int64_t *out, char *seg, size_t n)
{
    char pat[128];
    snprintf(pat, sizeof pat, "/%s=", col);
    const char *at = strstr(key, pat);
    if (!at) return -1;
    const char *v = at + strlen(pat), *end = strchr(v, '/');
    if (!end || folder_day(v, (size_t)(end - v), out)) return -1;
    snprintf(seg, n, "%.*s", (int)(end - at - 1), at + 1);
    return 0;
}

static int plan_partitions(struct mdp_ret_plan *p, const struct mdp_inv_dataset *ds,
                           struct mdp_lake *lake, int64_t cutoff, struct mdp_diag *d)
{
    struct mdp_manifest m;
    int rc = mdp_lake_current(lake, ds->location, &m, d);
    if (rc == MDP_ERR_NOT_FOUND) return 0; /* never published: nothing held */
    if (rc) return rc;
    size_t first = p->nsteps;
    for (size_t i = 0; !rc && i < m.nfiles; i++) {
        int64_t day;
        char seg[128];
        if (key_partition_day(m.files[i].key, ds->retention.column, &day, seg, sizeof seg))
            continue;
        if ((day + 1) * MDP_MS_PER_DAY > cutoff) continue;
        struct mdp_ret_step *s = NULL;
        for (size_t k = first; k < p->nsteps && !s; k++)
            if (strcmp(p->steps[k].target, seg) == 0) s = &p->steps[k];
        if (!s && !(s = add_step(p, ds, MDP_RET_PARTITION, seg, day))) rc = MDP_ERR_NOMEM;
        if (!rc) rc = add_key(s, m.files[i].key);
        if (!rc) {
            s->objects++;
            s->bytes += m.files[i].bytes;
            if (m.files[i].rows >= 0 && s->rows >= 0)
                s->rows += m.files[i].rows;
            else
                s->rows = -1;
        }
    }
    mdp_manifest_cleanup(&m);
    if (rc == MDP_ERR_NOMEM) rc = mdp_diag_set(d, rc, "out of memory planning %s", ds->location);
    return rc;
}

/* ---- inactive users (clock since_last_activity) ---- */

struct ids {
    struct mdp_ret_step *s;
    int err;
};

static int id_row(void *ud, int ncols, const char *const *v)
{
    struct ids *x = ud;
    if (ncols >= 1 && v[0] && add_key(x->s, v[0])) return x->err = MDP_ERR_NOMEM;
    return 0;
}

static void view_name(const struct mdp_inv_dataset *ds, char *out, size_t n)
{
    size_t j = 0;
    j += (size_t)snprintf(out, n, "mdp_ret_");
    for (const char *c = ds->name; *c && j + 1 < n; c++)
        out[j++] = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ? *c : '_';
    out[j] = '\0';
}

/* The activity of users, from the lake's own facts: every published curated table of the
 * inventory with a user_id subject key and a "timestamp" column (the facts), dim_user's signup
 * and last login (any curated table with user_id and those columns), identity_links' last_seen.
 * Attached as views; builds the SQL of (user_id, last) into sql. */
static int activity_sql(const struct mdp_inventory *inv, struct mdp_lake *lake,
                        struct mdp_engine *e, struct mdp_buf *sql, int *out_parts,
                        struct mdp_diag *d)
{
    int parts = 0, rc = 0;
    mdp_buf_puts(sql, "SELECT CAST(user_id AS VARCHAR) AS user_id, max(t) AS last FROM (");
    for (size_t i = 0; !rc && i < inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &inv->datasets[i];
        if (ds->store != MDP_INV_CURATED || !mdp_inv_dataset_column(ds, "user_id")) continue;
        static const char *const TIME_COLS[] = {"timestamp", "last_login", "signup_date",
                                                "last_seen", NULL};
        int any = 0;
        for (int k = 0; TIME_COLS[k]; k++)
            any |= mdp_inv_dataset_column(ds, TIME_COLS[k]) != 0;
        if (!any) continue;
        char view[128];
        view_name(ds, view, sizeof view);
        int r = mdp_engine_attach_table(e, lake, ds->location, view, d);
        if (r == MDP_ERR_NOT_FOUND) continue;
        if (r) return r;
        for (int k = 0; TIME_COLS[k]; k++) {
            if (!mdp_inv_dataset_column(ds, TIME_COLS[k])) continue;
            mdp_buf_printf(sql, "%sSELECT user_id, CAST(\"%s\" AS TIMESTAMP) AS t FROM %s",
                           parts++ ? " UNION ALL " : "", TIME_COLS[k], view);
        }
    }
    mdp_buf_puts(sql, ") WHERE user_id IS NOT NULL GROUP BY 1");
    if (mdp_buf_error(sql)) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    *out_parts = parts;
    return rc;
}

static int plan_inactive(struct mdp_ret_plan *p, const struct mdp_inventory *inv,
                         const struct mdp_inv_dataset *ds, struct mdp_lake *lake,
                         struct mdp_engine *e, int64_t cutoff, struct mdp_diag *d)
{
    if (!mdp_inv_dataset_column(ds, "user_id")) return 0;
    char view[128];
    view_name(ds, view, sizeof view);
    int rc = mdp_engine_attach_table(e, lake, ds->location, view, d);
    if (rc == MDP_ERR_NOT_FOUND) return 0;
    if (rc) return rc;
    struct mdp_buf act, q, n;
    mdp_buf_init(&act);
    mdp_buf_init(&q);
    mdp_buf_init(&n);
    int parts = 0;
    rc = activity_sql(inv, lake, e, &act, &parts, d);
    char cut[40];
    mdp_time_format_ms(cutoff, cut, sizeof cut);
    cut[19] = '\0'; /* YYYY-MM-DDTHH:MM:SS, UTC like the lake's TIMESTAMPs */
    if (!rc && parts) {
        mdp_buf_printf(&q,
                       "SELECT DISTINCT CAST(v.user_id AS VARCHAR) FROM %s v JOIN (%s) a "
                       "ON CAST(v.user_id AS VARCHAR) = a.user_id WHERE a.last < TIMESTAMP '%s' "
                       "ORDER BY 1",
                       view, act.data, cut);
        struct mdp_ret_step *s = add_step(p, ds, MDP_RET_ROWS, ds->location, -1);
        if (!s || mdp_buf_error(&q)) {
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory planning %s", ds->location);
        } else {
            struct ids x = {s, 0};
            struct mdp_rows_cb cb = {NULL, id_row, &x};
            rc = mdp_engine_query(e, q.data, &cb, d);
            if (!rc && x.err) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
            if (!rc && s->nkeys) {
                mdp_buf_reset(&q);
                mdp_buf_printf(&q,
                               "SELECT count(*) FROM %s v JOIN (%s) a ON CAST(v.user_id AS "
                               "VARCHAR) = a.user_id WHERE a.last < TIMESTAMP '%s'",
                               view, act.data, cut);
                rc = mdp_buf_error(&q) ? MDP_ERR_NOMEM : mdp_engine_scalar(e, q.data, &n, d);
                if (!rc) s->rows = strtoll(n.data ? n.data : "0", NULL, 10);
                s->objects = 0;
                struct mdp_manifest m;
                if (!rc && mdp_lake_current(lake, ds->location, &m, d) == 0) {
                    for (size_t i = 0; i < m.nfiles; i++)
                        s->bytes += m.files[i].bytes;
                    s->objects = (int64_t)m.nfiles; /* the files rewritten */
                    mdp_manifest_cleanup(&m);
                }
                if ((int64_t)s->nkeys > p->inactive_users) p->inactive_users = (int64_t)s->nkeys;
            } else if (!rc) { /* nobody inactive: no step */
                free(s->target);
                free(s->keys);
                p->nsteps--;
            }
        }
    }
    mdp_buf_cleanup(&act);
    mdp_buf_cleanup(&q);
    mdp_buf_cleanup(&n);
    return rc;
}

/* The users of a source table (Supabase) inactive since cutoff by the lake's activity: one step
 * listing them, when the table is found by user_id. */
/* Users an apply without a connection planned for a Supabase dataset and could not delete: kept in
 * the state store (table PENDING, pk the dataset, sk the user id, with the user's pseudonym as
 * subject, so an erasure removes them) until an apply with the connection deletes their rows.
 * The lake's own rewrite removed them from the activity facts meanwhile, so the next plan would
 * not find them inactive again. */
#define PENDING "retention_pending"

static int pending_row(const struct mdp_state_item *it, void *ud)
{
    struct ids *x = ud;
    return add_key(x->s, it->sk) ? (x->err = MDP_ERR_NOMEM) : 0;
}

static int plan_source_inactive(struct mdp_ret_plan *p, const struct mdp_inventory *inv,
                                const struct mdp_inv_dataset *ds, struct mdp_lake *lake,
                                struct mdp_engine *e, struct mdp_state **st, int64_t cutoff,
                                struct mdp_diag *d)
{
    int by_user = 0;
    for (size_t i = 0; i < ds->nsubject_keys; i++)
        by_user |= ds->subject_keys[i].kind == MDP_SUBJ_USER_ID &&
                   strcmp(ds->subject_keys[i].column, "user_id") == 0;
    if (!by_user) return 0;
    struct mdp_buf act, q;
    mdp_buf_init(&act);
    mdp_buf_init(&q);
    int parts = 0;
    int rc = activity_sql(inv, lake, e, &act, &parts, d);
    char cut[40];
    mdp_time_format_ms(cutoff, cut, sizeof cut);
    cut[19] = '\0';
    if (!rc) {
        if (parts)
            mdp_buf_printf(&q, "SELECT user_id FROM (%s) WHERE last < TIMESTAMP '%s' ORDER BY 1",
                           act.data, cut);
        struct mdp_ret_step *s = add_step(p, ds, MDP_RET_SOURCE_ROWS, ds->location, -1);
        if (!s || mdp_buf_error(&q)) {
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory planning %s", ds->location);
        } else {
            struct ids x = {s, 0};
            struct mdp_rows_cb cb = {NULL, id_row, &x};
            if (parts) rc = mdp_engine_query(e, q.data, &cb, d);
            /* the users pending from an earlier apply, unless active again since (a login
             * brings them back into the activity facts) */
            struct mdp_ret_step pend = {0}, back = {0};
            struct ids px = {&pend, 0}, bx = {&back, 0};
            if (!rc && !*st) rc = mdp_state_open_lake(lake, st, d);
            if (!rc) rc = mdp_state_query(*st, PENDING, ds->name, 0, 0, pending_row, &px, d);
            if (!rc && pend.nkeys && parts) {
                mdp_buf_reset(&q);
                mdp_buf_printf(&q,
                               "SELECT CAST(user_id AS VARCHAR) FROM (%s) WHERE last >= "
                               "TIMESTAMP '%s' AND CAST(user_id AS VARCHAR) IN (",
                               act.data, cut);
                for (size_t k = 0; k < pend.nkeys; k++) {
                    if (k) mdp_buf_putc(&q, ',');
                    mdp_sql_quote(&q, pend.keys[k]);
                }
                mdp_buf_putc(&q, ')');
                struct mdp_rows_cb bcb = {NULL, id_row, &bx};
                rc = mdp_buf_error(&q) ? mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory")
                                       : mdp_engine_query(e, q.data, &bcb, d);
            }
            for (size_t k = 0; !rc && k < pend.nkeys; k++) {
                int active = 0, have = 0;
                for (size_t m = 0; m < back.nkeys && !active; m++)
                    active = !strcmp(back.keys[m], pend.keys[k]);
                for (size_t m = 0; m < s->nkeys && !have; m++)
                    have = !strcmp(s->keys[m], pend.keys[k]);
                if (!active && !have && add_key(s, pend.keys[k])) x.err = MDP_ERR_NOMEM;
            }
            for (size_t k = 0; k < pend.nkeys; k++)
                free(pend.keys[k]);
            for (size_t k = 0; k < back.nkeys; k++)
                free(back.keys[k]);
            free(pend.keys);
            free(back.keys);
            if (!rc && (x.err || px.err || bx.err))
                rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
            s->rows = -1;
            s->objects = (int64_t)s->nkeys; /* the users */
            if (!rc && !s->nkeys) {
                free(s->target);
                free(s->keys);
                p->nsteps--;
            }
        }
    }
    mdp_buf_cleanup(&act);
    mdp_buf_cleanup(&q);
    return rc;
}

/* ---- state-store items ---- */

static int plan_items(struct mdp_ret_plan *p, const struct mdp_inv_dataset *ds,
                      struct mdp_state *st, int64_t now_ms, struct mdp_diag *d)
{
    int64_t n = 0, bytes = 0;
    int rc = mdp_state_count_expired(st, ds->location, now_ms / 1000, &n, &bytes, d);
    if (rc || n == 0) return rc;
    struct mdp_ret_step *s = add_step(p, ds, MDP_RET_ITEMS, ds->location, -1);
    if (!s) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    s->objects = n;
    s->rows = n;
    s->bytes = bytes;
    return 0;
}

/* The consent journal (a state dataset with a since_event clock): records that stopped proving a
 * decision in force before the cutoff. A journal not yet pseudonymized is left for its migration
 * (logged, not an error: the other datasets' retention goes on). */
static int plan_journal(struct mdp_ret_plan *p, const struct mdp_inv_dataset *ds,
                        struct mdp_state *st, int64_t cutoff, struct mdp_diag *d)
{
    struct mdp_consent_due *due = NULL;
    size_t n = 0;
    struct mdp_diag nd = {0};
    int rc = mdp_consent_due(st, cutoff, &due, &n, &nd);
    if (rc == MDP_ERR_UNSUPPORTED) {
        mdp_log(MDP_LOG_WARN, "retention: the consent journal is left as it is",
                LOG_STR("why", nd.msg), MDP_LF_END);
        return 0;
    }
    if (rc) return mdp_diag_set(d, rc, "%s", nd.msg);
    if (!n) return 0;
    struct mdp_ret_step *s = add_step(p, ds, MDP_RET_RECORDS, ds->location, -1);
    if (!s) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        char key[96];
        snprintf(key, sizeof key, "%lld:%s", (long long)due[i].seq, due[i].hash);
        if (add_key(s, key))
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        else
            s->bytes += due[i].bytes;
    }
    if (!rc) s->objects = s->rows = (int64_t)n;
    free(due);
    return rc;
}

int mdp_retention_plan(const struct mdp_inventory *inv, struct mdp_lake *lake, struct mdp_engine *e,
                       int64_t now_ms, struct mdp_ret_plan **out, struct mdp_diag *d)
{
    *out = NULL;
    struct mdp_ret_plan *p = mdp_calloc(1, sizeof *p);
    if (!p) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    p->now_ms = now_ms;
    struct mdp_state *st = NULL;
    struct landing l = {NULL, 0, 0, 0, 0, d};
    int rc = 0;
    for (size_t i = 0; !rc && i < inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &inv->datasets[i];
        int64_t cutoff = mdp_duration_before(now_ms, &ds->retention.period);
        enum mdp_ret_clock clock = ds->retention.clock;
        switch (ds->store) {
        case MDP_INV_RAW:
            if (clock == MDP_CLOCK_SINCE_EVENT) rc = plan_folders(p, ds, lake, &l, cutoff, d);
            break;
        case MDP_INV_QUARANTINE:
            if (clock == MDP_CLOCK_SINCE_EVENT && ds->deletion == MDP_DEL_LIFECYCLE)
                rc = plan_folders(p, ds, lake, NULL, cutoff, d);
            break;
        case MDP_INV_CURATED:
        case MDP_INV_ML:
            if (ds->deletion == MDP_DEL_PARTITION_DROP && clock == MDP_CLOCK_SINCE_EVENT &&
                ds->retention.column)
                rc = plan_partitions(p, ds, lake, cutoff, d);
            else if (ds->deletion == MDP_DEL_ROW_REWRITE && clock == MDP_CLOCK_SINCE_LAST_ACTIVITY)
                rc = plan_inactive(p, inv, ds, lake, e, cutoff, d);
            break;
        case MDP_INV_STATE:
            if (clock == MDP_CLOCK_TTL) {
                if (!st) rc = mdp_state_open_lake(lake, &st, d);
                if (!rc) rc = plan_items(p, ds, st, now_ms, d);
            } else if (clock == MDP_CLOCK_SINCE_EVENT && ds->deletion == MDP_DEL_BATCH_JOB &&
                       !strcmp(ds->location, "consent_journal")) {
                if (!st) rc = mdp_state_open_lake(lake, &st, d);
                if (!rc) rc = plan_journal(p, ds, st, cutoff, d);
            }
            break;
        case MDP_INV_SUPABASE:
            if (clock == MDP_CLOCK_SINCE_LAST_ACTIVITY && ds->deletion == MDP_DEL_CASCADE)
                rc = plan_source_inactive(p, inv, ds, lake, e, &st, cutoff, d);
            break;
        default:
            break; /* vendors: their own retention settings (docs/privacy.md) */
        }
    }
    mdp_state_close(st);
    landing_free(&l);
    if (rc)
        mdp_ret_plan_free(p);
    else
        *out = p;
    return rc;
}

/* ---- the ledger ---- */

struct last_entry {
    char key[256];
};

static int ledger_key(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct last_entry *l = ud;
    size_t n = strlen(key);
    if (n > 5 && strcmp(key + n - 5, ".json") == 0 && strcmp(key, l->key) > 0)
        snprintf(l->key, sizeof l->key, "%s", key);
    return 0;
}

/* The newest entry's seq and hash (0 and "" for an empty ledger). */
static int ledger_head(struct mdp_lake *lake, int64_t *seq, char hash[65], struct mdp_diag *d)
{
    struct last_entry l = {""};
    *seq = 0;
    hash[0] = '\0';
    int rc = mdp_store_list(lake->store, LEDGER, ledger_key, &l, d);
    if (rc || !l.key[0]) return rc;
    struct mdp_buf b;
    mdp_buf_init(&b);
    rc = mdp_store_get(lake->store, l.key, &b, d);
    json_object *o = rc ? NULL : json_tokener_parse(b.data ? b.data : "");
    json_object *js, *jh;
    if (!rc &&
        (!o || !json_object_object_get_ex(o, "seq", &js) ||
         !json_object_object_get_ex(o, "hash", &jh) || !json_object_is_type(jh, json_type_string)))
        rc = mdp_diag_set(d, MDP_ERR_PARSE, "%s: not a ledger entry", l.key);
    if (!rc) {
        *seq = json_object_get_int64(js);
        snprintf(hash, 65, "%s", json_object_get_string(jh));
    }
    json_object_put(o);
    mdp_buf_cleanup(&b);
    return rc;
}

/* The hash over an entry's text up to (without) its final ,"hash":"..."} part. */
static const char HASH_TAG[] = ",\"hash\":\"";

static int ledger_write(struct mdp_lake *lake, const struct mdp_ret_plan *p, size_t from, size_t to,
                        struct mdp_diag *d)
{
    const struct mdp_inv_dataset *ds = p->steps[from].dataset;
    int64_t seq;
    char prev[65], now[40], applied[40], hash[65];
    int rc = ledger_head(lake, &seq, prev, d);
    if (rc) return rc;
    mdp_time_format_ms(p->now_ms, now, sizeof now);
    mdp_time_format_ms(mdp_time_now_ms(), applied, sizeof applied);
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_printf(&b,
                   "{\"seq\":%lld,\"what\":\"retention\",\"applied_at\":\"%s\",\"now\":\"%s\","
                   "\"dataset\":",
                   (long long)seq + 1, applied, now);
    mdp_buf_json_str(&b, ds->name);
    mdp_buf_puts(&b, ",\"location\":");
    mdp_buf_json_str(&b, ds->location);
    mdp_buf_printf(&b, ",\"rule\":{\"period\":\"%s\",\"clock\":\"%s\",\"deletion\":\"%s\"}",
                   ds->retention.period_text, mdp_ret_clock_name(ds->retention.clock),
                   mdp_del_path_name(ds->deletion));
    int64_t objects = 0, rows = 0, bytes = 0;
    mdp_buf_puts(&b, ",\"targets\":[");
    for (size_t i = from; i < to; i++) {
        const struct mdp_ret_step *s = &p->steps[i];
        mdp_buf_puts(&b, i > from ? ",{\"target\":" : "{\"target\":");
        mdp_buf_json_str(&b, s->target);
        mdp_buf_printf(&b, ",\"objects\":%lld,\"rows\":%lld,\"bytes\":%lld", (long long)s->objects,
                       (long long)s->rows, (long long)s->bytes);
        if (s->unit == MDP_RET_RECORDS) { /* what verify checks a tombstone against */
            mdp_buf_puts(&b, ",\"records\":[");
            for (size_t k = 0; k < s->nkeys; k++) {
                if (k) mdp_buf_putc(&b, ',');
                mdp_buf_json_str(&b, s->keys[k]);
            }
            mdp_buf_putc(&b, ']');
        }
        mdp_buf_putc(&b, '}');
        objects += s->objects;
        rows += s->rows > 0 ? s->rows : 0;
        bytes += s->bytes;
    }
    mdp_buf_printf(&b, "],\"objects\":%lld,\"rows\":%lld,\"bytes\":%lld,\"prev_hash\":\"%s\"",
                   (long long)objects, (long long)rows, (long long)bytes, prev);
    if (mdp_buf_error(&b)) {
        mdp_buf_cleanup(&b);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory writing the ledger");
    }
    mdp_sha256_hex(b.data, b.len, hash);
    mdp_buf_printf(&b, "%s%s\"}\n", HASH_TAG, hash);
    char key[128];
    snprintf(key, sizeof key, LEDGER "%010lld.json", (long long)seq + 1);
    rc = mdp_buf_error(&b) ? mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory")
                           : mdp_store_put(lake->store, key, b.data, b.len, MDP_PUT_IF_ABSENT, d);
    mdp_buf_cleanup(&b);
    return rc;
}

int mdp_ledger_last(struct mdp_lake *lake, int64_t *seq, char hash[65], char **body_out,
                    struct mdp_diag *d)
{
    if (body_out) *body_out = NULL;
    int rc = ledger_head(lake, seq, hash, d);
    if (rc || !body_out || *seq == 0) return rc;
    char key[128];
    snprintf(key, sizeof key, LEDGER "%010lld.json", (long long)*seq);
    struct mdp_buf b;
    mdp_buf_init(&b);
    rc = mdp_store_get(lake->store, key, &b, d);
    if (!rc && !(*body_out = mdp_buf_steal(&b)))
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    mdp_buf_cleanup(&b);
    return rc;
}

int mdp_ledger_append(struct mdp_lake *lake, const char *what, const char *members,
                      int64_t *seq_out, char hash_out[65], struct mdp_diag *d)
{
    int64_t seq;
    char prev[65], applied[40], hash[65];
    int rc = ledger_head(lake, &seq, prev, d);
    if (rc) return rc;
    mdp_time_format_ms(mdp_time_now_ms(), applied, sizeof applied);
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_printf(&b, "{\"seq\":%lld,\"what\":", (long long)seq + 1);
    mdp_buf_json_str(&b, what);
    mdp_buf_printf(&b, ",\"applied_at\":\"%s\"", applied);
    if (members && *members) {
        mdp_buf_putc(&b, ',');
        mdp_buf_puts(&b, members);
    }
    mdp_buf_printf(&b, ",\"prev_hash\":\"%s\"", prev);
    if (mdp_buf_error(&b)) {
        mdp_buf_cleanup(&b);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory writing the ledger");
    }
    mdp_sha256_hex(b.data, b.len, hash);
    mdp_buf_printf(&b, "%s%s\"}\n", HASH_TAG, hash);
    char key[128];
    snprintf(key, sizeof key, LEDGER "%010lld.json", (long long)seq + 1);
    rc = mdp_buf_error(&b) ? mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory")
                           : mdp_store_put(lake->store, key, b.data, b.len, MDP_PUT_IF_ABSENT, d);
    mdp_buf_cleanup(&b);
    if (rc) return rc;
    if (seq_out) *seq_out = seq + 1;
    if (hash_out) memcpy(hash_out, hash, 65);
    return 0;
}

struct verify {
    struct mdp_buf keys;
    int64_t n;
};

static int collect_key(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct verify *v = ud;
    mdp_buf_printf(&v->keys, "%s\n", key);
    v->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds the "seq:hash" of every consent journal record an entry pruned to listed. */
static int ledger_records(const char *entry, struct mdp_strset *listed, struct mdp_diag *d)
{
    json_object *o = json_tokener_parse(entry), *v, *targets, *recs;
    int rc = 0;
    if (o && json_object_object_get_ex(o, "location", &v) &&
        json_object_is_type(v, json_type_string) &&
        !strcmp(json_object_get_string(v), "consent_journal") &&
        json_object_object_get_ex(o, "targets", &targets) &&
        json_object_is_type(targets, json_type_array))
        for (size_t i = 0; !rc && i < json_object_array_length(targets); i++)
            if (json_object_object_get_ex(json_object_array_get_idx(targets, i), "records",
                                          &recs) &&
                json_object_is_type(recs, json_type_array))
                for (size_t k = 0; !rc && k < json_object_array_length(recs); k++) {
                    json_object *r = json_object_array_get_idx(recs, k);
                    if (json_object_is_type(r, json_type_string) &&
                        mdp_strset_add(listed, json_object_get_string(r),
                                       (size_t)json_object_get_string_len(r)) < 0)
                        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
                }
    json_object_put(o);
    return rc;
}

struct pruned_check {
    struct mdp_strset *listed;
    struct mdp_diag *d;
    int64_t n;
};

static int pruned_listed(int64_t seq, const char *hash, void *ud)
{
    struct pruned_check *pc = ud;
    char key[96];
    int n = snprintf(key, sizeof key, "%lld:%s", (long long)seq, hash);
    pc->n++;
    return mdp_strset_has(pc->listed, key, (size_t)n)
               ? 0
               : mdp_diag_set(pc->d, MDP_ERR_PARSE,
                              "consent journal record %lld is a tombstone no retention entry of "
                              "the ledger made (with this hash)",
                              (long long)seq);
}

int mdp_retention_ledger_verify(struct mdp_lake *lake, int64_t *out_entries, struct mdp_diag *d)
{
    struct verify v;
    mdp_buf_init(&v.keys);
    v.n = 0;
    struct mdp_strset *listed = mdp_strset_new();
    if (!listed) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    int rc = mdp_store_list(lake->store, LEDGER, collect_key, &v, d);
    if (!rc && mdp_buf_error(&v.keys)) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    char **keys = NULL;
    size_t n = 0;
    if (!rc && v.n) {
        keys = mdp_calloc((size_t)v.n, sizeof *keys);
        if (!keys) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        for (char *p = v.keys.data, *nl; !rc && p && (nl = strchr(p, '\n')); p = nl + 1) {
            *nl = '\0';
            keys[n++] = p;
        }
        if (keys) qsort(keys, n, sizeof *keys, cmp_str);
    }
    char prev[65] = "";
    struct mdp_buf b;
    mdp_buf_init(&b);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = mdp_store_get(lake->store, keys[i], &b, d);
        if (rc) break;
        char want[128];
        snprintf(want, sizeof want, LEDGER "%010lld.json", (long long)i + 1);
        const char *tag = b.data ? strstr(b.data, HASH_TAG) : NULL;
        char hash[65], got[65];
        if (strcmp(keys[i], want) != 0) {
            rc = mdp_diag_set(d, MDP_ERR_PARSE,
                              "ledger: %s where %s was expected (an entry "
                              "was removed or renamed)",
                              keys[i], want);
        } else if (!tag || strlen(tag) < sizeof HASH_TAG - 1 + 64 + 3) {
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "ledger: %s has no hash", keys[i]);
        } else {
            size_t body = (size_t)(tag - b.data);
            mdp_sha256_hex(b.data, body, hash);
            snprintf(got, sizeof got, "%.64s", tag + sizeof HASH_TAG - 1);
            char pv[80];
            snprintf(pv, sizeof pv, "\"prev_hash\":\"%s\"", prev);
            if (strcmp(hash, got) != 0)
                rc = mdp_diag_set(d, MDP_ERR_PARSE,
                                  "ledger: %s was altered (its hash does not "
                                  "match its content)",
                                  keys[i]);
            else if (!strstr(b.data, pv) || strstr(b.data, pv) > tag)
                rc = mdp_diag_set(d, MDP_ERR_PARSE,
                                  "ledger: %s does not follow the entry "
                                  "before it (prev_hash)",
                                  keys[i]);
            else
                memcpy(prev, got, sizeof prev);
        }
        if (!rc) rc = ledger_records(b.data, listed, d);
    }
    mdp_buf_cleanup(&b);
    free(keys);
    mdp_buf_cleanup(&v.keys);
    /* every tombstone of the consent journal was made by an entry of this ledger */
    struct mdp_state *st = NULL;
    struct pruned_check pc = {listed, d, 0};
    if (!rc) rc = mdp_state_open_lake(lake, &st, d);
    if (!rc) rc = mdp_consent_each_pruned(st, pruned_listed, &pc, d);
    mdp_state_close(st);
    mdp_strset_free(listed);
    if (out_entries) *out_entries = rc ? 0 : (int64_t)n;
    return rc;
}

/* ---- apply ---- */

static int new_run_id(char out[37])
{
    struct mdp_uuid u;
    int rc = mdp_uuid7_new(&u);
    if (!rc) mdp_uuid_format(&u, out);
    return rc;
}

/* A new version of table without the files in drop; without any file left, a file of no rows
 * with the table's columns (the table stays, empty). */
static int publish_without(struct mdp_lake *lake, struct mdp_engine *e, const char *table,
                           char *const *drop, size_t ndrop, struct mdp_diag *d)
{
    struct mdp_manifest m;
    int rc = mdp_lake_current(lake, table, &m, d);
    if (rc) return rc;
    struct mdp_manifest_file *keep = mdp_calloc(m.nfiles ? m.nfiles : 1, sizeof *keep);
    size_t nkeep = 0;
    if (!keep) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < m.nfiles; i++) {
        int gone = 0;
        for (size_t k = 0; k < ndrop && !gone; k++)
            gone = strcmp(m.files[i].key, drop[k]) == 0;
        if (!gone) keep[nkeep++] = m.files[i];
    }
    char run_id[37];
    if (!rc && new_run_id(run_id)) rc = mdp_diag_set(d, MDP_ERR_CRYPTO, "no run id");
    if (!rc && !nkeep && m.nfiles)
        rc = mdp_engine_publish_empty(e, lake, table, run_id, d);
    else if (!rc)
        rc = mdp_lake_publish(lake, table, keep, nkeep, run_id, NULL, d);
    free(keep);
    mdp_manifest_cleanup(&m);
    return rc;
}

/* Rewrites table without the rows of the step's users: a new run folder, published; then the
 * previous version's files go. */
static int rewrite_rows(struct mdp_lake *lake, struct mdp_engine *e, const struct mdp_ret_step *s,
                        struct mdp_diag *d)
{
    const char *table = s->dataset->location;
    struct mdp_manifest old;
    int rc = mdp_lake_current(lake, table, &old, d);
    if (rc) return rc;
    char view[128];
    view_name(s->dataset, view, sizeof view);
    rc = mdp_engine_attach_table(e, lake, table, view, d);
    struct mdp_buf sql;
    mdp_buf_init(&sql);
    if (!rc) {
        mdp_buf_printf(&sql, "SELECT * FROM %s WHERE CAST(user_id AS VARCHAR) NOT IN (", view);
        for (size_t i = 0; i < s->nkeys; i++) {
            if (i) mdp_buf_putc(&sql, ',');
            mdp_sql_quote(&sql, s->keys[i]);
        }
        mdp_buf_puts(&sql, ")");
        if (mdp_buf_error(&sql)) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    char run_id[37];
    if (!rc && new_run_id(run_id)) rc = mdp_diag_set(d, MDP_ERR_CRYPTO, "no run id");
    if (!rc) rc = mdp_engine_write_table(e, lake, sql.data, table, NULL, run_id, NULL, d);
    for (size_t i = 0; !rc && i < old.nfiles; i++) {
        int r = mdp_store_delete(lake->store, old.files[i].key, d);
        if (r && r != MDP_ERR_NOT_FOUND) rc = r;
    }
    mdp_buf_cleanup(&sql);
    mdp_manifest_cleanup(&old);
    return rc;
}

/* Drops the removed raw keys from curate's record of what it took in: retention is not new data
 * (curated partitions have a retention of their own), so curate must not rebuild the emptied
 * days. */
static int forget_raw(struct mdp_lake *lake, struct mdp_strset *gone, struct mdp_diag *d)
{
    struct mdp_buf seen, out;
    mdp_buf_init(&seen);
    mdp_buf_init(&out);
    int rc = mdp_store_get(lake->store, RAW_SEEN, &seen, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        mdp_buf_cleanup(&seen);
        return 0;
    }
    for (char *p = seen.data, *nl; !rc && p && (nl = strchr(p, '\n')); p = nl + 1)
        if (!mdp_strset_has(gone, p, (size_t)(nl - p)))
            rc = mdp_buf_append(&out, p, (size_t)(nl - p) + 1);
    if (!rc)
        rc = mdp_store_put(lake->store, RAW_SEEN, out.data ? out.data : "", out.len, 0, d);
    else if (rc == MDP_ERR_NOMEM)
        rc = mdp_diag_set(d, rc, "out of memory");
    mdp_buf_cleanup(&seen);
    mdp_buf_cleanup(&out);
    return rc;
}

/* Reads a day written by put_day ("YYYY-MM-DD") from key; -1 when absent. */
static int get_day(struct mdp_lake *lake, const char *key, int64_t *out_day, struct mdp_diag *d)
{
    *out_day = -1;
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_store_get(lake->store, key, &b, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        mdp_buf_cleanup(&b);
        return 0;
    }
    int64_t day;
    if (!rc && (!b.data || b.len < 10 || (b.data[10] = '\0', mdp_date_parse(b.data, &day))))
        rc = mdp_diag_set(d, MDP_ERR_PARSE, "%s: not a date", key);
    if (!rc) *out_day = day;
    mdp_buf_cleanup(&b);
    return rc;
}

/* Writes day to key unless what is there is as new or newer. */
static int put_day(struct mdp_lake *lake, const char *key, int64_t day, struct mdp_diag *d)
{
    int64_t have;
    int rc = get_day(lake, key, &have, d);
    if (rc || day <= have) return rc;
    char text[16];
    mdp_date_format(day, text, sizeof text);
    return mdp_store_put(lake->store, key, text, strlen(text), 0, d);
}

int mdp_retention_raw_horizon(struct mdp_lake *lake, int64_t *out_day, struct mdp_diag *d)
{
    return get_day(lake, RAW_HORIZON, out_day, d);
}

int mdp_retention_expired_day(struct mdp_lake *lake, const char *source, const char *dataset,
                              int64_t *out_day, struct mdp_diag *d)
{
    char key[300];
    snprintf(key, sizeof key, EXPIRED "%s/%s", source, dataset);
    return get_day(lake, key, out_day, d);
}

/* Deletes the step's users from its Supabase table in one transaction; *out_rows the rows. */
static int delete_source_rows(PGconn *pg, const struct mdp_ret_step *s, int64_t *out_rows,
                              struct mdp_diag *d)
{
    struct mdp_buf arr, sql;
    mdp_buf_init(&arr);
    mdp_buf_init(&sql);
    mdp_buf_putc(&arr, '{');
    for (size_t i = 0; i < s->nkeys; i++)
        mdp_buf_printf(&arr, "%s%s", i ? "," : "", s->keys[i]);
    mdp_buf_putc(&arr, '}');
    /* the location is the inventory's "schema.table" (`mdp inventory check --supabase` proves it
     * exists), each part quoted as an identifier */
    const char *dot = strchr(s->target, '.');
    if (dot)
        mdp_buf_printf(&sql, "DELETE FROM \"%.*s\".\"%s\" WHERE user_id = ANY($1::uuid[])",
                       (int)(dot - s->target), s->target, dot + 1);
    int rc = 0;
    if (!dot || strchr(s->target, '"'))
        rc = mdp_diag_set(d, MDP_ERR_INVALID, "%s: not a schema.table name", s->target);
    else if (mdp_buf_error(&arr) || mdp_buf_error(&sql))
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    PGresult *r = NULL;
    if (!rc) {
        r = PQexec(pg, "BEGIN");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) rc = MDP_ERR_IO;
        PQclear(r);
    }
    if (!rc) {
        const char *params[1] = {arr.data};
        r = PQexecParams(pg, sql.data, 1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = MDP_ERR_IO;
        else
            *out_rows = strtoll(PQcmdTuples(r), NULL, 10);
        PQclear(r);
        if (rc)
            mdp_diag_set(d, rc, "PostgreSQL: deleting inactive users from %s: %s", s->target,
                         PQerrorMessage(pg));
        r = PQexec(pg, rc ? "ROLLBACK" : "COMMIT");
        if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK) rc = MDP_ERR_IO;
        PQclear(r);
    }
    if (rc == MDP_ERR_IO && !strstr(d->msg, "PostgreSQL"))
        mdp_diag_set(d, rc, "PostgreSQL: deleting inactive users from %s: %s", s->target,
                     PQerrorMessage(pg));
    mdp_buf_cleanup(&arr);
    mdp_buf_cleanup(&sql);
    return rc;
}

int mdp_retention_apply(const struct mdp_ret_plan *plan, struct mdp_lake *lake,
                        struct mdp_engine *e, struct mdp_ret_stats *out, struct mdp_diag *d)
{
    return mdp_retention_apply_with(plan, lake, e, NULL, out, d);
}

struct pending_old {
    const struct mdp_ret_step *s;
    int keep;
    char **drop; /* sort keys to delete */
    size_t n;
    int err;
};

static int pending_old_row(const struct mdp_state_item *it, void *ud)
{
    struct pending_old *o = ud;
    int in_step = 0;
    for (size_t i = 0; o->keep && i < o->s->nkeys && !in_step; i++)
        in_step = !strcmp(o->s->keys[i], it->sk);
    if (in_step) return 0;
    char **nv = mdp_realloc(o->drop, (o->n + 1) * sizeof *nv);
    if (!nv || !(nv[o->n] = mdp_strdup(it->sk))) {
        if (nv) o->drop = nv;
        return o->err = MDP_ERR_NOMEM;
    }
    o->drop = nv;
    o->n++;
    return 0;
}

/* Makes PENDING of the step's dataset hold exactly its users (keep: a step left without a
 * connection) or none (its rows were deleted): users the plan left out (active again) go. */
static int pending_sync(struct mdp_lake *lake, struct mdp_state **st, const struct mdp_ret_step *s,
                        int64_t now_ms, int keep, struct mdp_diag *d)
{
    int rc = *st ? 0 : mdp_state_open_lake(lake, st, d);
    struct pending_old o = {s, keep, NULL, 0, 0};
    if (!rc) rc = mdp_state_query(*st, PENDING, s->dataset->name, 0, 0, pending_old_row, &o, d);
    if (!rc && o.err) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < o.n; i++)
        rc = mdp_state_delete(*st, PENDING, s->dataset->name, o.drop[i], d);
    for (size_t i = 0; i < o.n; i++)
        free(o.drop[i]);
    free(o.drop);
    if (rc || !keep) return rc;
    unsigned char key[MDP_SUBJECT_KEY_LEN];
    rc = mdp_subject_key(*st, key, d);
    char since[40], subject[65];
    mdp_time_format_ms(now_ms, since, sizeof since);
    for (size_t i = 0; !rc && i < s->nkeys; i++) {
        struct mdp_buf b;
        mdp_buf_init(&b);
        mdp_buf_puts(&b, "{\"user_id\":");
        mdp_buf_json_str(&b, s->keys[i]);
        mdp_buf_puts(&b, ",\"dataset\":");
        mdp_buf_json_str(&b, s->dataset->name);
        mdp_buf_printf(&b, ",\"since\":\"%s\"}", since);
        rc = mdp_buf_error(&b)
                 ? mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory")
                 : mdp_subject_pseudonym(key, MDP_PSEUDONYM_USER_ID, s->keys[i], subject, d);
        struct mdp_state_item it = {s->dataset->name, s->keys[i], b.data, 0};
        /* a user pending already keeps the first since */
        if (!rc) rc = mdp_state_put_subject(*st, PENDING, &it, subject, MDP_STATE_IF_ABSENT, d);
        if (rc == MDP_ERR_EXISTS) rc = 0;
        mdp_buf_cleanup(&b);
    }
    memset(key, 0, sizeof key);
    return rc;
}

/* The consent journal's table copy files (MDP_CONSENT_COPY_DIR) hold pruned records: removed now,
 * not at the next load that would drop them for their missing digest. */
static int drop_journal_copy(struct mdp_lake *lake, struct mdp_diag *d)
{
    struct mdp_buf dir, f;
    mdp_buf_init(&dir);
    mdp_buf_init(&f);
    int rc = 0;
    DIR *dh =
        mdp_store_local_path(lake->store, MDP_CONSENT_COPY_DIR, &dir) ? NULL : opendir(dir.data);
    struct dirent *de;
    while (dh && !rc && (de = readdir(dh))) {
        if (strncmp(de->d_name, "journal-", 8) != 0) continue;
        mdp_buf_reset(&f);
        mdp_buf_printf(&f, "%s/%s", dir.data, de->d_name);
        if (mdp_buf_error(&f))
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        else if (unlink(f.data) != 0 && errno != ENOENT)
            rc = mdp_diag_set(d, MDP_ERR_IO, "cannot remove %s: %s", f.data, strerror(errno));
    }
    if (dh) closedir(dh);
    mdp_buf_cleanup(&dir);
    mdp_buf_cleanup(&f);
    return rc;
}

int mdp_retention_apply_with(const struct mdp_ret_plan *plan, struct mdp_lake *lake,
                             struct mdp_engine *e, const char *conninfo, struct mdp_ret_stats *out,
                             struct mdp_diag *d)
{
    PGconn *pg = NULL;
    struct mdp_ret_stats st = {0};
    struct mdp_state *state = NULL;
    struct mdp_strset *gone = mdp_strset_new();
    int64_t horizon = -1;
    int rc = gone ? mdp_retention_raw_horizon(lake, &horizon, d)
                  : mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    int64_t old_horizon = horizon;
    size_t i = 0;
    while (!rc && i < plan->nsteps) {
        size_t j = i;
        while (j < plan->nsteps && plan->steps[j].dataset == plan->steps[i].dataset)
            j++;
        if (plan->steps[i].unit == MDP_RET_SOURCE_ROWS && !conninfo) {
            st.source_skipped += (int64_t)(j - i);
            for (size_t k = i; !rc && k < j; k++)
                rc = pending_sync(lake, &state, &plan->steps[k], plan->now_ms, 1, d);
            i = j;
            continue;
        }
        if (plan->steps[i].unit == MDP_RET_SOURCE_ROWS && !pg) {
            pg = mdp_net_pg_connect(conninfo);
            if (!pg || PQstatus(pg) != CONNECTION_OK) {
                rc = mdp_diag_set(d, MDP_ERR_IO, "cannot connect to PostgreSQL: %s",
                                  pg ? PQerrorMessage(pg) : "out of memory");
                break;
            }
        }
        rc = ledger_write(lake, plan, i, j, d);
        if (!rc) st.ledger_entries++;
        const struct mdp_inv_dataset *ds = plan->steps[i].dataset;
        /* published tables: one new version without every due partition, then the files */
        if (!rc && plan->steps[i].unit == MDP_RET_PARTITION) {
            size_t n = 0;
            for (size_t k = i; k < j; k++)
                n += plan->steps[k].nkeys;
            char **drop = mdp_calloc(n ? n : 1, sizeof *drop);
            if (!drop) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
            for (size_t k = i, m = 0; !rc && k < j; k++)
                for (size_t x = 0; x < plan->steps[k].nkeys; x++)
                    drop[m++] = plan->steps[k].keys[x];
            if (!rc) rc = publish_without(lake, e, ds->location, drop, n, d);
            free(drop);
        }
        for (size_t k = i; !rc && k < j; k++) {
            const struct mdp_ret_step *s = &plan->steps[k];
            switch (s->unit) {
            case MDP_RET_DAY_FOLDER:
            case MDP_RET_PARTITION:
                for (size_t x = 0; !rc && x < s->nkeys; x++) {
                    int r = mdp_store_delete(lake->store, s->keys[x], d);
                    if (r && r != MDP_ERR_NOT_FOUND) rc = r;
                    if (!rc && s->unit == MDP_RET_DAY_FOLDER &&
                        mdp_strset_add(gone, s->keys[x], strlen(s->keys[x])) < 0)
                        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
                }
                if (!rc && s->unit == MDP_RET_DAY_FOLDER && ds->store == MDP_INV_RAW) {
                    char key[300];
                    snprintf(key, sizeof key, EXPIRED "%s", ds->location + 4);
                    rc = put_day(lake, key, s->day, d);
                    if (s->day > horizon) horizon = s->day;
                }
                break;
            case MDP_RET_LANDING:
                for (size_t x = 0; !rc && x < s->nkeys; x++) {
                    int r = mdp_store_delete(lake->store, s->keys[x], d);
                    if (r && r != MDP_ERR_NOT_FOUND) rc = r;
                }
                break;
            case MDP_RET_ROWS:
                rc = rewrite_rows(lake, e, s, d);
                break;
            case MDP_RET_SOURCE_ROWS: {
                int64_t n = 0;
                rc = delete_source_rows(pg, s, &n, d);
                st.source_rows += n;
                if (!rc) rc = pending_sync(lake, &state, s, plan->now_ms, 0, d);
                break;
            }
            case MDP_RET_RECORDS: {
                struct mdp_consent_pruned pr = {0};
                if (!state) rc = mdp_state_open_lake(lake, &state, d);
                if (!rc) rc = mdp_consent_prune(state, s->keys, s->nkeys, &pr, d);
                if (!rc) rc = drop_journal_copy(lake, d);
                st.items += pr.records + pr.contact_rows;
                break;
            }
            case MDP_RET_ITEMS: {
                int n = 0;
                if (!state) rc = mdp_state_open_lake(lake, &state, d);
                if (!rc) rc = mdp_state_purge_expired(state, s->target, plan->now_ms / 1000, &n, d);
                st.items += n;
                break;
            }
            }
            if (!rc) {
                st.steps++;
                if (s->unit != MDP_RET_ITEMS && s->unit != MDP_RET_RECORDS)
                    st.objects += s->objects;
                st.rows += s->rows > 0 ? s->rows : 0;
                st.bytes += s->bytes;
            }
        }
        i = j;
    }
    if (!rc && mdp_strset_count(gone)) rc = forget_raw(lake, gone, d);
    if (!rc && horizon > old_horizon) rc = put_day(lake, RAW_HORIZON, horizon, d);
    mdp_state_close(state);
    mdp_strset_free(gone);
    if (pg) PQfinish(pg);
    if (out) *out = st;
    return rc;
}

int mdp_stage_retention(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d)
{
    struct mdp_inventory *inv = NULL;
    struct mdp_engine *e = NULL;
    struct mdp_ret_plan *plan = NULL;
    struct mdp_ret_stats st = {0};
    struct mdp_engine_opts eo = {NULL, ctx->cfg->engine_threads, ctx->cfg->engine_memory_limit};
    const char *dsn = NULL, *var = ctx->cfg->supabase_dsn_env;
    int rc = 0;
    if (ctx->cfg->gov_ret_supabase && !strcmp(ctx->cfg->gov_ret_supabase, "on") &&
        (!var || !(dsn = getenv(var)) || !*dsn))
        rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                          "governance.retention_stage_supabase is on but %s "
                          "(sources.supabase.dsn_env) holds no connection string",
                          var ? var : "(none)");
    if (!rc) rc = mdp_inventory_load(mdp_inventory_file(ctx->cfg), &inv, d);
    if (!rc) rc = mdp_engine_open(&eo, &e, d);
    if (!rc) rc = mdp_retention_plan(inv, ctx->lake, e, mdp_time_now_ms(), &plan, d);
    if (!rc) rc = mdp_retention_apply_with(plan, ctx->lake, e, dsn, &st, d);
    run->in = plan ? (int64_t)plan->nsteps : 0;
    run->out = st.objects + st.items;
    run->bytes = st.bytes;
    if (!rc)
        snprintf(run->message, sizeof run->message,
                 "%lld step(s) applied: %lld objects, %lld rows, %lld state items, %lld bytes, "
                 "%lld Supabase rows; %lld ledger entries%s",
                 (long long)st.steps, (long long)st.objects, (long long)st.rows,
                 (long long)st.items, (long long)st.bytes, (long long)st.source_rows,
                 (long long)st.ledger_entries,
                 st.source_skipped ? "; Supabase rows left alone "
                                     "(governance.retention_stage_supabase is off)"
                                   : "");
    mdp_ret_plan_free(plan);
    mdp_engine_close(e);
    mdp_inventory_free(inv);
    return rc;
}
