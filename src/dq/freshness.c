/* Freshness SLAs (include/mdp/quality.h): per source, the landings read from the run log (each
 * ingest.<source> record that landed something: its end time, and the newest event time it saw)
 * and from the raw zone (objects under raw/<source>/ newer than the source's last ingest run, which
 * is what `mdp serve` collected itself: their landing time stands for their event time). From those
 * landings, as a step function, comes the age at any instant: the current state, the daily SLA
 * compliance and the alarms' freshness.<source>.age_s metric (metrics_src.c). The raw_inventory
 * table holds the same listing, but only as of its stage's last run, so the store is asked. */
#include "mdp/alloc.h"
#include "mdp/ingest.h"
#include "mdp/quality.h"
#include "mdp/time.h"
#include "quality_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mdp__fresh_all_cleanup(struct mdp__fresh_all *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].t);
        free(a->v[i].e);
    }
    free(a->v);
    memset(a, 0, sizeof *a);
}

static int add_point(struct mdp__fresh_hist *h, int64_t t, int64_t e)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        int64_t *nt = mdp_realloc(h->t, cap * sizeof *nt);
        if (!nt) return MDP_ERR_NOMEM;
        h->t = nt;
        int64_t *ne = mdp_realloc(h->e, cap * sizeof *ne);
        if (!ne) return MDP_ERR_NOMEM;
        h->e = ne;
        h->cap = cap;
    }
    h->t[h->n] = t;
    h->e[h->n] = e;
    h->n++;
    return 0;
}

struct load {
    struct mdp__fresh_all *all;
    int64_t now_ms;
    int64_t *last_run; /* per source: end of its last ingest run that landed something */
    int64_t *newest_real;
    size_t cur; /* the source being listed */
};

static int on_run(const struct mdp_run *r, void *ud)
{
    struct load *L = ud;
    if (strncmp(r->job, "ingest.", 7) != 0 || r->end_ms > L->now_ms || r->end_ms <= 0) return 0;
    if (r->out <= 0 && r->newest_event_ms < 0) return 0; /* nothing landed */
    for (size_t i = 0; i < L->all->n; i++) {
        if (strcmp(L->all->v[i].source, r->job + 7) != 0) continue;
        int64_t e = r->newest_event_ms >= 0 ? r->newest_event_ms : r->end_ms;
        if (r->newest_event_ms > L->newest_real[i]) L->newest_real[i] = r->newest_event_ms;
        if (r->end_ms > L->last_run[i]) L->last_run[i] = r->end_ms;
        return add_point(&L->all->v[i], r->end_ms, e);
    }
    return 0;
}

static int on_raw(const char *key, int64_t size, int64_t mtime_ms, void *ud)
{
    (void)key;
    (void)size;
    struct load *L = ud;
    if (mtime_ms > L->now_ms || mtime_ms <= L->last_run[L->cur]) return 0;
    return add_point(&L->all->v[L->cur], mtime_ms, mtime_ms);
}

static int cmp_point(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

/* Sorts a history by time and makes e the running maximum. */
static int finish_hist(struct mdp__fresh_hist *h)
{
    if (h->n == 0) return 0;
    int64_t *pairs = mdp_malloc(h->n * 2 * sizeof *pairs);
    if (!pairs) return MDP_ERR_NOMEM;
    for (size_t i = 0; i < h->n; i++) {
        pairs[2 * i] = h->t[i];
        pairs[2 * i + 1] = h->e[i];
    }
    qsort(pairs, h->n, 2 * sizeof *pairs, cmp_point);
    int64_t best = INT64_MIN;
    for (size_t i = 0; i < h->n; i++) {
        h->t[i] = pairs[2 * i];
        if (pairs[2 * i + 1] > best) best = pairs[2 * i + 1];
        h->e[i] = best;
    }
    free(pairs);
    return 0;
}

static int parse_slas(const struct mdp_config *cfg, struct mdp__fresh_all *out, struct mdp_diag *d)
{
    const struct mdp_strlist *l = &cfg->freshness_slas;
    if (l->n == 0) return 0;
    out->v = mdp_calloc((size_t)l->n, sizeof *out->v);
    if (!out->v) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < l->n; i++) {
        const char *it = l->v[i], *colon = strchr(it, ':');
        struct mdp__fresh_hist *h = &out->v[out->n];
        size_t nl = colon ? (size_t)(colon - it) : 0;
        if (!colon || nl == 0 || nl >= sizeof h->source)
            return mdp_diag_set(d, MDP_ERR_CONFIG,
                                "freshness.slas: item '%s' is not SOURCE:DURATION (e.g. ga4:24h)",
                                it);
        memcpy(h->source, it, nl);
        h->source[nl] = '\0';
        if (!mdp_connector_find(h->source))
            return mdp_diag_set(
                d, MDP_ERR_CONFIG,
                "freshness.slas: '%s' is no source (`mdp ingest --list` names them)", h->source);
        if (mdp_time_parse_span(colon + 1, &h->sla_ms))
            return mdp_diag_set(d, MDP_ERR_CONFIG,
                                "freshness.slas: '%s' of %s is no duration (a whole number with s, "
                                "m, h or d, e.g. 24h)",
                                colon + 1, h->source);
        for (size_t j = 0; j < out->n; j++)
            if (strcmp(out->v[j].source, h->source) == 0)
                return mdp_diag_set(d, MDP_ERR_CONFIG, "freshness.slas: %s is listed twice",
                                    h->source);
        out->n++;
    }
    return 0;
}

int mdp__fresh_load(struct mdp_lake *lake, const struct mdp_config *cfg, int64_t now_ms,
                    struct mdp__fresh_all *out, struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    int rc = parse_slas(cfg, out, d);
    if (rc || out->n == 0) return rc;
    struct load L = {out, now_ms, NULL, NULL, 0};
    L.last_run = mdp_calloc(out->n, sizeof *L.last_run);
    L.newest_real = mdp_calloc(out->n, sizeof *L.newest_real);
    struct mdp_buf prefix;
    mdp_buf_init(&prefix);
    if (!L.last_run || !L.newest_real) {
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < out->n; i++)
        L.last_run[i] = L.newest_real[i] = -1;
    rc = mdp_runlog_each(lake, on_run, &L, d);
    if (rc == MDP_ERR_NOMEM && d && !d->msg[0])
        mdp_diag_set(d, rc, "out of memory reading the run log");
    for (size_t i = 0; !rc && i < out->n; i++) {
        const struct mdp_connector *k = mdp_connector_find(out->v[i].source);
        mdp_buf_reset(&prefix);
        rc = mdp_buf_printf(&prefix, "raw/%s/", k->source);
        if (rc) {
            mdp_diag_set(d, rc, "out of memory");
            break;
        }
        L.cur = i;
        rc = mdp_store_list_time(lake->store, prefix.data, on_raw, &L, d);
        if (rc == MDP_ERR_UNSUPPORTED) rc = 0; /* a store without times: the run log alone */
        if (rc == MDP_ERR_NOMEM && d && !d->msg[0]) mdp_diag_set(d, rc, "out of memory");
    }
    for (size_t i = 0; !rc && i < out->n; i++)
        if (finish_hist(&out->v[i])) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
out:
    free(L.last_run);
    free(L.newest_real);
    mdp_buf_cleanup(&prefix);
    return rc;
}

/* the index of the last landing at or before t, or -1 */
static long last_at(const struct mdp__fresh_hist *h, int64_t t)
{
    long lo = 0, hi = (long)h->n - 1, best = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (h->t[mid] <= t) {
            best = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return best;
}

int64_t mdp__fresh_age_at(const struct mdp__fresh_hist *h, int64_t t)
{
    long i = last_at(h, t);
    if (i < 0) return -1;
    int64_t age = t - h->e[i];
    return age < 0 ? 0 : age;
}

/* 1 when the age stayed within the SLA all through [start, end]: it grows between landings, so
 * its maxima are at end and just before each landing inside. */
static int day_met(const struct mdp__fresh_hist *h, int64_t start, int64_t end)
{
    int64_t a = mdp__fresh_age_at(h, start);
    if (a < 0 || a > h->sla_ms) return 0;
    a = mdp__fresh_age_at(h, end);
    if (a < 0 || a > h->sla_ms) return 0;
    for (long i = last_at(h, start) + 1; i < (long)h->n && h->t[i] <= end; i++) {
        a = mdp__fresh_age_at(h, h->t[i] - 1);
        if (a < 0 || a > h->sla_ms) return 0;
    }
    return 1;
}

void mdp_freshness_cleanup(struct mdp_freshness *f)
{
    if (!f) return;
    free(f->v);
    memset(f, 0, sizeof *f);
}

int mdp_freshness_compute(struct mdp_lake *lake, const struct mdp_config *cfg, int64_t now_ms,
                          struct mdp_freshness *out, struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    out->now_ms = now_ms;
    struct mdp__fresh_all all;
    int rc = mdp__fresh_load(lake, cfg, now_ms, &all, d);
    if (!rc && all.n) {
        out->v = mdp_calloc(all.n, sizeof *out->v);
        if (!out->v) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; !rc && i < all.n; i++) {
        const struct mdp__fresh_hist *h = &all.v[i];
        struct mdp_fresh_source *s = &out->v[i];
        snprintf(s->source, sizeof s->source, "%s", h->source);
        s->sla_ms = h->sla_ms;
        s->newest_event_ms = s->newest_landing_ms = -1;
        long last = last_at(h, now_ms);
        if (last >= 0) {
            s->newest_landing_ms = h->t[last];
            s->newest_event_ms = h->e[last];
        }
        s->age_ms = mdp__fresh_age_at(h, now_ms);
        s->state = s->age_ms < 0           ? MDP_FRESH_NEVER
                   : s->age_ms > h->sla_ms ? MDP_FRESH_LATE
                                           : MDP_FRESH_OK;
        int64_t today = mdp_days_from_ms(now_ms);
        int met = 0;
        for (int k = 0; k < MDP_FRESH_DAYS; k++) {
            int64_t day = today - (MDP_FRESH_DAYS - 1) + k;
            int64_t start = day * MDP_MS_PER_DAY, end = start + MDP_MS_PER_DAY - 1;
            if (end > now_ms) end = now_ms;
            s->met[k] = (signed char)day_met(h, start, end);
            met += s->met[k];
        }
        s->compliance_pct = 100.0 * met / MDP_FRESH_DAYS;
        out->n++;
    }
    mdp__fresh_all_cleanup(&all);
    return rc;
}

static void put_time(struct mdp_buf *b, int64_t ms)
{
    char t[32];
    if (ms < 0 || mdp_time_format_ms(ms, t, sizeof t)) {
        mdp_buf_puts(b, "null");
        return;
    }
    mdp_buf_printf(b, "\"%s\"", t);
}

static const char *const STATE[] = {"OK", "LATE", "NEVER"};

int mdp_freshness_to_json(const struct mdp_freshness *f, struct mdp_buf *out)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_puts(&b, "{\"now\":");
    put_time(&b, f->now_ms);
    mdp_buf_puts(&b, ",\"sources\":[");
    int64_t today = mdp_days_from_ms(f->now_ms);
    for (size_t i = 0; i < f->n; i++) {
        const struct mdp_fresh_source *s = &f->v[i];
        mdp_buf_printf(&b, "%s{\"source\":", i ? "," : "");
        mdp_buf_json_str(&b, s->source);
        mdp_buf_puts(&b, ",\"newest_event\":");
        put_time(&b, s->newest_event_ms);
        mdp_buf_puts(&b, ",\"newest_landing\":");
        put_time(&b, s->newest_landing_ms);
        if (s->age_ms >= 0)
            mdp_buf_printf(&b, ",\"age_s\":%lld", (long long)(s->age_ms / 1000));
        else
            mdp_buf_puts(&b, ",\"age_s\":null");
        mdp_buf_printf(&b,
                       ",\"sla_s\":%lld,\"state\":\"%s\",\"compliance_30d_pct\":%.1f,\"daily\":[",
                       (long long)(s->sla_ms / 1000), STATE[s->state], s->compliance_pct);
        for (int k = 0; k < MDP_FRESH_DAYS; k++) {
            char date[11];
            mdp_date_format(today - (MDP_FRESH_DAYS - 1) + k, date, sizeof date);
            mdp_buf_printf(&b, "%s{\"date\":\"%s\",\"met\":%s}", k ? "," : "", date,
                           s->met[k] ? "true" : "false");
        }
        mdp_buf_puts(&b, "]}");
    }
    int rc = mdp_buf_puts(&b, "]}");
    if (!rc) rc = mdp_buf_append(out, b.data, b.len);
    mdp_buf_cleanup(&b);
    return rc;
}

int mdp_freshness_json(struct mdp_lake *lake, const struct mdp_config *cfg, int64_t now_us,
                       struct mdp_buf *out, struct mdp_diag *d)
{
    struct mdp_freshness f;
    int rc = mdp_freshness_compute(lake, cfg, now_us / 1000, &f, d);
    if (!rc && (rc = mdp_freshness_to_json(&f, out)))
        mdp_diag_set(d, rc, "out of memory building the freshness JSON");
    mdp_freshness_cleanup(&f);
    return rc;
}
