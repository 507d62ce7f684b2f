/* The success-metrics report (include/mdp/report.h, docs/quality.md "Report"): gathers each
 * section from its source (the cost model, the run log, the dq_results table through DuckDB, the
 * freshness and alarm figures, the service's metrics snapshots) into one JSON document, and wraps
 * that document into the page src/dq/report.html (compiled in as REPORT_PAGE), whose script
 * draws the charts. Each section says in "note" why it is empty when it is. */
#include "mdp/report.h"
#include "mdp/alloc.h"
#include "mdp/cost.h"
#include "mdp/engine.h"
#include "mdp/erase.h"
#include "mdp/model.h"
#include "mdp/quality.h"
#include "mdp/time.h"
#include "snapshots.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_page.h" /* generated at build time from src/dq/report.html */

#define WINDOW_DAYS 30
#define DAY_MS      86400000LL
#define MAX_SOURCES 32

/* ---- run log: quarantine per source, job failures ---- */

struct source_q {
    char source[48];
    int64_t in, quarantined;
};

struct runs {
    int64_t from_ms, to_ms;
    struct source_q src[MAX_SOURCES];
    int nsrc;
    int64_t total, failed;
};

static int on_run(const struct mdp_run *r, void *ud)
{
    struct runs *s = ud;
    if (r->start_ms < s->from_ms || r->start_ms > s->to_ms) return 0;
    s->total++;
    if (strcmp(r->status, "failed") == 0) s->failed++;
    if (strncmp(r->job, "ingest.", 7) != 0 || r->in <= 0) return 0; /* no records: no share */
    const char *name = r->job + 7;
    int i = 0;
    while (i < s->nsrc && strcmp(s->src[i].source, name) != 0)
        i++;
    if (i == s->nsrc) {
        if (s->nsrc == MAX_SOURCES) return 0;
        snprintf(s->src[s->nsrc++].source, sizeof s->src[0].source, "%s", name);
    }
    s->src[i].in += r->in;
    s->src[i].quarantined += r->quarantined;
    return 0;
}

/* ---- SQL sections (dq_results, users) ---- */

struct dq_rows {
    struct mdp_buf *out;
    char table[256];
    int ntables, nrows;
    int64_t rules, violations;
};

/* table_name, run_id, time, rules, passed: grouped into {"table", "runs": [...]} objects */
static int dq_run_row(void *ud, int ncols, const char *const *v)
{
    struct dq_rows *q = ud;
    if (ncols < 5 || !v[0] || !v[1] || !v[2] || !v[3] || !v[4]) return 0;
    if (q->ntables == 0 || strcmp(q->table, v[0]) != 0) {
        mdp_buf_puts(q->out, q->ntables ? "]},{\"table\":" : "{\"table\":");
        mdp_buf_json_str(q->out, v[0]);
        mdp_buf_puts(q->out, ",\"runs\":[");
        snprintf(q->table, sizeof q->table, "%s", v[0]);
        q->ntables++;
        q->nrows = 0;
    }
    long long rules = strtoll(v[3], NULL, 10), passed = strtoll(v[4], NULL, 10);
    mdp_buf_puts(q->out, q->nrows++ ? ",{\"run_id\":" : "{\"run_id\":");
    mdp_buf_json_str(q->out, v[1]);
    mdp_buf_printf(q->out, ",\"time\":\"%.40s\",\"rules\":%lld,\"passed\":%lld,\"score\":%.6g}",
                   v[2], rules, passed, rules ? (double)passed / (double)rules : 0.0);
    return mdp_buf_error(q->out);
}

/* date, rules, violations */
static int dq_day_row(void *ud, int ncols, const char *const *v)
{
    struct dq_rows *q = ud;
    if (ncols < 3 || !v[0] || !v[1] || !v[2]) return 0;
    long long rules = strtoll(v[1], NULL, 10), bad = strtoll(v[2], NULL, 10);
    q->rules += rules;
    q->violations += bad;
    mdp_buf_printf(q->out, "%s{\"date\":\"%.10s\",\"rules\":%lld,\"violations\":%lld,\"pct\":%.6g}",
                   q->nrows++ ? "," : "", v[0], rules, bad,
                   rules ? 100.0 * (double)bad / (double)rules : 0.0);
    return mdp_buf_error(q->out);
}

/* "YYYY-MM-DD HH:MM:SS.mmm" for a SQL TIMESTAMP literal */
static void sql_time(int64_t ms, char *buf, size_t n)
{
    char iso[32];
    mdp_time_format_ms(ms, iso, sizeof iso);
    snprintf(buf, n, "%.10s %.12s", iso, iso + 11);
}

/* The dq section: {"note", "tables": [...], "daily": [...], "rules", "violations",
 * "violations_pct"}; e may be NULL (no engine: the note says why). */
static int dq_section(struct mdp_engine *e, const char *no_engine, int64_t from_ms, int64_t to_ms,
                      struct mdp_buf *out, int64_t *out_rules, int64_t *out_bad)
{
    *out_rules = *out_bad = 0;
    struct mdp_diag d = {0};
    struct mdp_buf v;
    mdp_buf_init(&v);
    int have = 0;
    if (e && mdp_engine_scalar(e,
                               "SELECT count(*) FROM information_schema.tables WHERE table_name = "
                               "'dq_results'",
                               &v, &d) == 0)
        have = v.data && strcmp(v.data, "0") != 0;
    mdp_buf_cleanup(&v);
    mdp_buf_puts(out, "\"dq\":{");
    if (!e || !have) {
        mdp_buf_puts(out, "\"note\":");
        mdp_buf_json_str(out, !e ? no_engine : "no DQ runs yet (no dq_results table)");
        mdp_buf_puts(out, ",\"tables\":[],\"daily\":[],\"rules\":0,\"violations\":0,"
                          "\"violations_pct\":null}");
        return mdp_buf_error(out);
    }
    char from[40], to[40], sql[1024];
    sql_time(from_ms, from, sizeof from);
    sql_time(to_ms, to, sizeof to);
    struct mdp_buf body;
    mdp_buf_init(&body);
    struct dq_rows q = {&body, "", 0, 0, 0, 0};
    snprintf(sql, sizeof sql,
             "SELECT table_name, run_id::VARCHAR, strftime(min(evaluated_at)::TIMESTAMP, "
             "'%%Y-%%m-%%dT%%H:%%M:%%SZ'), count(*), count(*) FILTER (WHERE outcome = 'PASS') "
             "FROM dq_results WHERE evaluated_at::TIMESTAMP > TIMESTAMP '%s' AND "
             "evaluated_at::TIMESTAMP <= TIMESTAMP '%s' GROUP BY 1, 2 ORDER BY 1, 3, 2",
             from, to);
    struct mdp_rows_cb cb = {NULL, dq_run_row, &q};
    mdp_buf_puts(&body, "\"tables\":[");
    int rc = mdp_engine_query(e, sql, &cb, &d);
    if (!rc) {
        mdp_buf_puts(&body, q.ntables ? "]}],\"daily\":[" : "],\"daily\":[");
        q.nrows = 0;
        snprintf(sql, sizeof sql,
                 "SELECT strftime(evaluated_at::DATE, '%%Y-%%m-%%d'), count(*), count(*) FILTER "
                 "(WHERE outcome <> 'PASS') FROM dq_results WHERE evaluated_at::TIMESTAMP > "
                 "TIMESTAMP '%s' AND evaluated_at::TIMESTAMP <= TIMESTAMP '%s' GROUP BY 1 "
                 "ORDER BY 1",
                 from, to);
        cb.row = dq_day_row;
        rc = mdp_engine_query(e, sql, &cb, &d);
    }
    if (rc == MDP_ERR_NOMEM) {
        mdp_buf_cleanup(&body);
        return rc;
    }
    if (rc) { /* a table of another shape: say so, the rest of the report stands */
        mdp_buf_puts(out, "\"note\":");
        char why[600];
        snprintf(why, sizeof why, "dq_results cannot be read: %.500s", d.msg);
        mdp_buf_json_str(out, why);
        mdp_buf_puts(out, ",\"tables\":[],\"daily\":[],\"rules\":0,\"violations\":0,"
                          "\"violations_pct\":null}");
    } else {
        mdp_buf_printf(out, "\"note\":%s,",
                       q.rules ? "null" : "\"no DQ runs in the last 30 days\"");
        mdp_buf_append(out, body.data, body.len);
        mdp_buf_printf(out, "],\"rules\":%lld,\"violations\":%lld,", (long long)q.rules,
                       (long long)q.violations);
        if (q.rules)
            mdp_buf_printf(out, "\"violations_pct\":%.6g}",
                           100.0 * (double)q.violations / (double)q.rules);
        else
            mdp_buf_puts(out, "\"violations_pct\":null}");
        *out_rules = q.rules;
        *out_bad = q.violations;
    }
    int err = mdp_buf_error(&body);
    mdp_buf_cleanup(&body);
    return err ? err : mdp_buf_error(out);
}

static int find_dq(const char *table, void *ud)
{
    const char *last = strrchr(table, '/');
    if (strcmp(last ? last + 1 : table, "dq_results") != 0) return 0;
    snprintf(ud, 512, "%s", table);
    return 1;
}

/* dq_results wherever `mdp dq run` publishes it (any zone), as the view dq_results */
static int attach_dq_results(struct mdp_engine *e, struct mdp_lake *lake, struct mdp_diag *d)
{
    char table[512] = "";
    int rc = mdp_lake_tables(lake, "", find_dq, table, d);
    if (rc < 0) return rc;
    if (!table[0]) return 0;
    rc = mdp_engine_attach_table(e, lake, table, "dq_results", d);
    return rc == MDP_ERR_NOT_FOUND ? 0 : rc;
}

/* distinct users of dim_user, or -1 */
static int64_t user_count(struct mdp_engine *e)
{
    if (!e) return -1;
    struct mdp_diag d = {0};
    struct mdp_buf v;
    mdp_buf_init(&v);
    int64_t n = -1;
    if (mdp_engine_scalar(e, "SELECT count(DISTINCT user_id) FROM dim_user", &v, &d) == 0 &&
        v.data && *v.data)
        n = strtoll(v.data, NULL, 10);
    mdp_buf_cleanup(&v);
    return n;
}

/* ---- service latency: the snapshots `mdp serve` writes to _meta/metrics/serve/ ---- */

#define PERSONALIZE "/v1/personalize"

struct lat {
    struct mdp__snap_figures last[MDP__SNAP_ROUTES]; /* per route, its newest busy interval */
    int n;
    struct mdp_buf *trend; /* {"time", "p99_ms"} of the personalization route, oldest first */
    int ntrend;
    double worst; /* the highest of those p99s */
    int64_t last_ms[MDP__SNAP_ROUTES];
};

static int on_snap(const struct mdp__snap *s, void *ud)
{
    struct lat *l = ud;
    for (int i = 0; i < s->nroutes; i++) {
        const struct mdp__snap_figures *f = &s->routes[i];
        if (f->requests <= 0 || isnan(f->p99_ms)) continue;
        int k = 0;
        while (k < l->n && strcmp(l->last[k].route, f->route) != 0)
            k++;
        if (k == l->n) {
            if (l->n == MDP__SNAP_ROUTES) continue;
            l->n++;
        }
        l->last[k] = *f;
        l->last_ms[k] = s->time_ms;
        if (strcmp(f->route, PERSONALIZE) == 0) {
            char t[32];
            mdp_time_format_ms(s->time_ms, t, sizeof t);
            mdp_buf_printf(l->trend, "%s{\"time\":\"%s\",\"p99_ms\":%.6g}", l->ntrend++ ? "," : "",
                           t, f->p99_ms);
            if (isnan(l->worst) || f->p99_ms > l->worst) l->worst = f->p99_ms;
        }
    }
    return mdp_buf_error(l->trend);
}

static void put_num(struct mdp_buf *b, const char *k, double v)
{
    if (isnan(v))
        mdp_buf_printf(b, ",\"%s\":null", k);
    else
        mdp_buf_printf(b, ",\"%s\":%.6g", k, v);
}

/* The latency section: per route the percentiles of its newest interval with requests, the p99
 * of the personalization route per snapshot, and the highest of those in *out_worst (NAN: no
 * snapshot with personalization requests). */
static int latency_section(struct mdp_lake *lake, int64_t from_ms, int64_t to_ms,
                           struct mdp_buf *out, double *out_worst, struct mdp_diag *d)
{
    struct mdp_buf trend;
    mdp_buf_init(&trend);
    struct lat *l = mdp_calloc(1, sizeof *l);
    if (!l) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory reading the service metrics");
    l->trend = &trend;
    l->worst = NAN;
    int rc = mdp__snapshots_each(lake, from_ms, to_ms, on_snap, l, d);
    if (!rc) {
        *out_worst = l->worst;
        mdp_buf_puts(out, "\"latency\":{\"note\":");
        mdp_buf_puts(out, l->n ? "null" : "\"no service metrics snapshots in the last 30 days\"");
        mdp_buf_puts(out, ",\"routes\":[");
        for (int i = 0; i < l->n; i++) {
            char t[32];
            mdp_time_format_ms(l->last_ms[i], t, sizeof t);
            mdp_buf_printf(out, "%s{\"route\":", i ? "," : "");
            mdp_buf_json_str(out, l->last[i].route);
            mdp_buf_printf(out, ",\"time\":\"%s\",\"requests\":%.0f", t, l->last[i].requests);
            put_num(out, "p50_ms", l->last[i].p50_ms);
            put_num(out, "p90_ms", l->last[i].p90_ms);
            put_num(out, "p99_ms", l->last[i].p99_ms);
            mdp_buf_putc(out, '}');
        }
        mdp_buf_puts(out, "],\"p99_trend\":[");
        if (trend.len) mdp_buf_append(out, trend.data, trend.len);
        mdp_buf_puts(out, "]}");
        rc = mdp_buf_error(out);
    }
    mdp_free(l);
    mdp_buf_cleanup(&trend);
    return rc;
}

/* A section from another module's JSON writer, or {"note": why} when it fails for a reason of
 * its input (a configuration it cannot read): the report still stands. */
static int embedded(struct mdp_buf *out, const char *name, int rc, const struct mdp_buf *part,
                    const char *why, const char *empty)
{
    mdp_buf_printf(out, "\"%s\":", name);
    if (!rc) return mdp_buf_append(out, part->data, part->len);
    char note[600];
    snprintf(note, sizeof note, "%s: %.500s", name, why);
    mdp_buf_puts(out, "{\"note\":");
    mdp_buf_json_str(out, note);
    return mdp_buf_printf(out, ",\"%s\":[]}", empty);
}

/* ---- the document ---- */

static void metric(struct mdp_buf *b, int first, const char *id, const char *name,
                   const char *target, int have, double value, const char *unit, int met,
                   const char *note)
{
    mdp_buf_printf(b, "%s{\"id\":\"%s\",\"name\":\"%s\",\"target\":\"%s\",", first ? "" : ",", id,
                   name, target);
    if (have)
        mdp_buf_printf(b, "\"value\":%.6g,\"unit\":\"%s\",\"met\":%s,", value, unit,
                       met ? "true" : "false");
    else
        mdp_buf_printf(b, "\"value\":null,\"unit\":\"%s\",\"met\":null,", unit);
    mdp_buf_puts(b, "\"note\":");
    mdp_buf_json_str(b, note ? note : "");
    mdp_buf_putc(b, '}');
}

/* ---- audits: the erasure log ---- */

struct audit {
    int64_t certificates, verified, clean; /* clean: verified, and its re-scan found nobody */
    char **keys;
    size_t nkeys;
};

/* Checks every certificate of the erasure log as `mdp dsar verify CERT` does without a subject
 * (its SHA-256 and HMAC under the lake's erasure key, its place in the hash chain) and reads the
 * survivors its re-scan counted. An unreadable log is an error; a certificate that fails is
 * counted, not an error. */
static int audit_section(struct mdp_lake *lake, const struct mdp_config *cfg, struct audit *a,
                         struct mdp_diag *d)
{
    int rc =
        mdp_store_list_keys(lake->store, "_meta/erasure/log/", ".json", &a->keys, &a->nkeys, d);
    if (rc || !a->nkeys) return rc;
    struct mdp_erase_key key;
    memset(&key, 0, sizeof key);
    struct mdp_diag kd = {0};
    int have_key = mdp_erase_key_load(lake, cfg->pseudo_key_env, 0, &key, &kd) == 0;
    struct mdp_buf text, rep;
    mdp_buf_init(&text);
    mdp_buf_init(&rep);
    for (size_t i = 0; i < a->nkeys && !rc; i++) {
        a->certificates++;
        mdp_buf_reset(&text);
        if ((rc = mdp_store_get(lake->store, a->keys[i], &text, d))) break;
        struct mdp_diag vd = {0};
        if (!have_key || mdp_erase_verify(NULL, lake, NULL, &key, text.data, text.len, NULL, NULL,
                                          NULL, &rep, &vd))
            continue;
        a->verified++;
        json_object *c = json_tokener_parse(text.data), *v, *n;
        if (c && json_object_object_get_ex(c, "verification", &v) &&
            json_object_object_get_ex(v, "survivors", &n) && json_object_get_int64(n) == 0)
            a->clean++;
        json_object_put(c);
    }
    mdp_buf_cleanup(&text);
    mdp_buf_cleanup(&rep);
    return rc;
}

static void audit_free(struct audit *a)
{
    mdp_store_keys_free(a->keys, a->nkeys);
}

int mdp_report_json(struct mdp_lake *lake, const struct mdp_config *cfg, int64_t now_us,
                    struct mdp_buf *out, struct mdp_diag *d)
{
    int64_t now_ms = now_us ? now_us / 1000 : mdp_time_now_ms();
    int64_t from_ms = now_ms - WINDOW_DAYS * DAY_MS;
    struct mdp_cost cost;
    int rc = mdp_cost_figures(lake, cfg, now_ms * 1000, &cost, d);
    if (rc) return rc;
    struct runs runs;
    memset(&runs, 0, sizeof runs);
    runs.from_ms = from_ms;
    runs.to_ms = now_ms;
    if ((rc = mdp_runlog_each(lake, on_run, &runs, d))) return rc;

    /* SQL sections: one engine over the published tables; without DuckDB they say so */
    struct mdp_engine *e = NULL;
    struct mdp_diag ed = {0};
    char no_engine[600] = "";
    struct mdp_engine_opts eo = {NULL, cfg->engine_threads, cfg->engine_memory_limit};
    if (mdp_engine_open(&eo, &e, &ed) || mdp_curate_attach_all(e, lake, NULL, &ed) ||
        attach_dq_results(e, lake, &ed)) {
        snprintf(no_engine, sizeof no_engine, "the tables cannot be read: %.500s", ed.msg);
        mdp_engine_close(e);
        e = NULL;
    }
    struct mdp_buf dq;
    mdp_buf_init(&dq);
    int64_t dq_rules, dq_bad;
    rc = dq_section(e, no_engine, from_ms, now_ms, &dq, &dq_rules, &dq_bad);
    int64_t users = user_count(e);
    mdp_engine_close(e);
    if (rc) {
        mdp_buf_cleanup(&dq);
        return mdp_diag_set(d, rc, "out of memory building the report");
    }

    /* freshness, alarms (src/dq/freshness.c, alarms.c) and latency */
    struct mdp_freshness fr;
    struct mdp_diag fd = {0}, ad = {0};
    int frc = mdp_freshness_compute(lake, cfg, now_ms, &fr, &fd);
    double compliance = 0;
    for (size_t i = 0; !frc && i < fr.n; i++)
        compliance += fr.v[i].compliance_pct / (double)fr.n;
    int have_fresh = !frc && fr.n > 0;
    struct mdp_buf fj, aj, lat;
    mdp_buf_init(&fj);
    mdp_buf_init(&aj);
    mdp_buf_init(&lat);
    if (!frc && mdp_freshness_to_json(&fr, &fj))
        frc = mdp_diag_set(&fd, MDP_ERR_NOMEM, "out of memory");
    mdp_freshness_cleanup(&fr);
    int arc = mdp_alarms_json(lake, cfg, now_ms * 1000, &aj, &ad);
    double worst_p99 = NAN;
    rc = latency_section(lake, from_ms, now_ms, &lat, &worst_p99, d);
    if (!rc && (frc == MDP_ERR_IO || frc == MDP_ERR_NOMEM)) rc = mdp_diag_set(d, frc, "%s", fd.msg);
    if (!rc && (arc == MDP_ERR_IO || arc == MDP_ERR_NOMEM)) rc = mdp_diag_set(d, arc, "%s", ad.msg);
    struct audit audit;
    memset(&audit, 0, sizeof audit);
    if (!rc) rc = audit_section(lake, cfg, &audit, d);
    if (rc) goto out;

    char now[32], from[32];
    mdp_time_format_ms(now_ms, now, sizeof now);
    mdp_time_format_ms(from_ms, from, sizeof from);
    mdp_buf_printf(out,
                   "{\"generated\":\"%s\",\"window\":{\"from\":\"%s\",\"to\":\"%s\",\"days\":%d},",
                   now, from, now, WINDOW_DAYS);

    /* the success metrics of spec section 10 */
    char note[256];
    mdp_buf_puts(out, "\"metrics\":[");
    if (have_fresh)
        snprintf(note, sizeof note, "mean of the sources' 30-day compliance (freshness.slas)");
    else
        snprintf(note, sizeof note, "%s",
                 frc ? "freshness cannot be computed (see below)"
                     : "no source has an SLA (freshness.slas)");
    metric(out, 1, "freshness", "Data freshness", "95% SLA compliance", have_fresh, compliance, "%",
           compliance >= 95.0, note);
    double pct = dq_rules ? 100.0 * (double)dq_bad / (double)dq_rules : 0;
    metric(out, 0, "dq", "Data quality", "< 1% DQ rule violations", dq_rules > 0, pct, "%",
           pct < 1.0,
           dq_rules ? "rules not passed / rules evaluated, last 30 days" : "no DQ runs yet");
    double per10k = users > 0 ? cost.total_usd_month_forecast * 10000.0 / (double)users : 0;
    if (users > 0)
        snprintf(note, sizeof note,
                 "month-end forecast %.2f USD for %lld users, scaled linearly to 10,000",
                 cost.total_usd_month_forecast, (long long)users);
    else
        snprintf(note, sizeof note, "no users in dim_user to scale the forecast by");
    metric(out, 0, "cost", "Cost efficiency", "< $1000/month for 10k users", users > 0, per10k,
           "USD/month", per10k < 1000.0, note);
    if (audit.certificates) {
        snprintf(note, sizeof note,
                 "%lld of %lld erasure certificates verify (SHA-256, HMAC, hash chain) with zero "
                 "survivors in their re-scan",
                 (long long)audit.clean, (long long)audit.certificates);
        double apct = 100.0 * (double)audit.clean / (double)audit.certificates;
        metric(out, 0, "audit", "GDPR compliance", "100% audit success", 1, apct, "%",
               audit.clean == audit.certificates, note);
    } else
        metric(out, 0, "audit", "GDPR compliance", "100% audit success", 0, 0, "%", 0,
               "none: no erasure has been audited yet (exports keep no log)");
    metric(out, 0, "latency", "Performance", "< 200 ms personalization API (p99)",
           !isnan(worst_p99), isnan(worst_p99) ? 0 : worst_p99, "ms", worst_p99 < 200.0,
           isnan(worst_p99)
               ? "no personalization requests in the service's snapshots, last 30 days"
               : "highest p99 of /v1/personalize in the service's snapshots, last 30 days");
    mdp_buf_puts(out, "],");

    embedded(out, "freshness", frc, &fj, fd.msg, "sources");
    mdp_buf_putc(out, ',');
    mdp_buf_append(out, dq.data, dq.len);
    mdp_buf_puts(out, ",\"cost\":");
    mdp_cost_json(&cost, out);
    mdp_buf_putc(out, ',');
    embedded(out, "alarms", arc, &aj, ad.msg, "alarms");
    mdp_buf_putc(out, ',');
    mdp_buf_puts(out, "\"quarantine\":{\"note\":");
    mdp_buf_puts(out, runs.nsrc ? "null" : "\"no ingest runs in the last 30 days\"");
    mdp_buf_puts(out, ",\"sources\":[");
    for (int i = 0; i < runs.nsrc; i++) {
        const struct source_q *s = &runs.src[i];
        mdp_buf_printf(out, "%s{\"source\":", i ? "," : "");
        mdp_buf_json_str(out, s->source);
        mdp_buf_printf(out, ",\"records\":%lld,\"quarantined\":%lld,\"share_pct\":%.6g}",
                       (long long)s->in, (long long)s->quarantined,
                       s->in ? 100.0 * (double)s->quarantined / (double)s->in : 0.0);
    }
    mdp_buf_printf(out, "]},\"runs\":{\"total\":%lld,\"failed\":%lld},", (long long)runs.total,
                   (long long)runs.failed);
    mdp_buf_append(out, lat.data, lat.len);
    mdp_buf_putc(out, ',');
    if (audit.certificates)
        mdp_buf_printf(out,
                       "\"audit\":{\"note\":null,\"erasure\":%lld,\"erasure_verified\":%lld,"
                       "\"erasure_clean\":%lld,\"export\":null},",
                       (long long)audit.certificates, (long long)audit.verified,
                       (long long)audit.clean);
    else
        mdp_buf_puts(out, "\"audit\":{\"note\":\"none: no erasure has been audited yet (exports "
                          "keep no log)\",\"erasure\":null,\"export\":null},");
    if (users >= 0)
        mdp_buf_printf(out, "\"users\":%lld}", (long long)users);
    else
        mdp_buf_puts(out, "\"users\":null}");
    rc = mdp_buf_error(out);
    if (!rc && (mdp_buf_error(&fj) || mdp_buf_error(&aj) || mdp_buf_error(&lat)))
        rc = MDP_ERR_NOMEM;
    if (rc) rc = mdp_diag_set(d, rc, "out of memory building the report");
out:
    audit_free(&audit);
    mdp_buf_cleanup(&dq);
    mdp_buf_cleanup(&fj);
    mdp_buf_cleanup(&aj);
    mdp_buf_cleanup(&lat);
    return rc;
}

/* ---- the page ---- */

#define DATA_MARK "/*MDP_REPORT_DATA*/"

int mdp_report_html(const char *json, size_t len, struct mdp_buf *out)
{
    const char *page = (const char *)REPORT_PAGE;
    const char *mark = strstr(page, DATA_MARK);
    if (!mark) return mdp_buf_puts(out, page);
    mdp_buf_append(out, page, (size_t)(mark - page));
    /* inside <script>, "</script>" or "<!--" in a string would end or confuse the element: every
     * '<' goes in as \u003c, which JSON.parse reads back as '<' (it can only occur in strings) */
    size_t start = 0;
    for (size_t i = 0; i < len; i++)
        if (json[i] == '<') {
            mdp_buf_append(out, json + start, i - start);
            mdp_buf_puts(out, "\\u003c");
            start = i + 1;
        }
    mdp_buf_append(out, json + start, len - start);
    return mdp_buf_puts(out, mark + strlen(DATA_MARK));
}
