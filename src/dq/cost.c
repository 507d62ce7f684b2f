/* The cost model (include/mdp/cost.h, docs/quality.md "Cost"): one listing of the lake prices the
 * storage, the run log's request and scan counters price S3 requests and Athena, the service's
 * requests price DynamoDB. Nothing here writes: `mdp cost` and `mdp report` are read-only. */
#include "mdp/cost.h"
#include "mdp/model.h"
#include "mdp/time.h"
#include "snapshots.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define GIB      1073741824.0
#define TIB      1099511627776.0
#define DAY_MS   86400000LL
#define STANDARD "STANDARD"

struct listing {
    struct mdp_cost *c;
    int64_t span_ms; /* length of the month */
};

static const char *zone_of(const char *key)
{
    static const char *const zones[] = {"raw/",     "curated/", "ml/",
                                        "serving/", "_meta/",   "landing/"};
    for (size_t i = 0; i < sizeof zones / sizeof *zones; i++)
        if (strncmp(key, zones[i], strlen(zones[i])) == 0) return zones[i];
    return "other/";
}

static struct mdp_cost_zone *zone_get(struct mdp_cost *c, const char *zone_slash)
{
    size_t n = strlen(zone_slash) - 1;
    for (int i = 0; i < c->nzones; i++)
        if (strlen(c->zones[i].zone) == n && strncmp(c->zones[i].zone, zone_slash, n) == 0)
            return &c->zones[i];
    if (c->nzones == MDP_COST_MAX_ZONES) return &c->zones[MDP_COST_MAX_ZONES - 1];
    struct mdp_cost_zone *z = &c->zones[c->nzones++];
    snprintf(z->zone, sizeof z->zone, "%.*s", (int)n, zone_slash);
    snprintf(z->storage_class, sizeof z->storage_class, "%s", STANDARD);
    return z;
}

static int on_object(const char *key, int64_t size, int64_t mtime_ms, void *ud)
{
    struct listing *l = ud;
    struct mdp_cost *c = l->c;
    if (mtime_ms > c->now_ms) return 0; /* written after now: not there yet */
    struct mdp_cost_zone *z = zone_get(c, zone_of(key));
    int64_t from = mtime_ms > c->month_start_ms ? mtime_ms : c->month_start_ms;
    z->objects++;
    z->bytes += size;
    z->gb_months += (double)size / GIB * (double)(c->now_ms - from) / (double)l->span_ms;
    return 0;
}

struct usage {
    struct mdp_cost *c;
    int64_t min_bytes;
};

/* A counter of a run record as the model takes it: a value no run can have (negative, or more
 * than 2^50: a petabyte, a quadrillion requests) is a damaged record and counts as 0, which also
 * keeps the sums far from overflowing. */
static int64_t sane(int64_t v)
{
    return v >= 0 && v <= (1LL << 50) ? v : 0;
}

static int on_run(const struct mdp_run *r, void *ud)
{
    struct usage *u = ud;
    struct mdp_cost *c = u->c;
    if (r->start_ms < c->month_start_ms || r->start_ms > c->now_ms) return 0;
    c->runs++;
    c->puts += sane(r->puts);
    c->gets += sane(r->gets);
    c->lists += sane(r->lists);
    if (sane(r->scanned_bytes) > 0) {
        c->scan_queries++;
        c->scanned_bytes += r->scanned_bytes;
        c->billed_scanned_bytes +=
            r->scanned_bytes > u->min_bytes ? r->scanned_bytes : u->min_bytes;
    }
    return 0;
}

/* requests served: every route's; the state store (DynamoDB) works for personalize and feedback */
static int on_snap(const struct mdp__snap *s, void *ud)
{
    struct mdp_cost *c = ud;
    if (c->requests_served < 0) c->requests_served = 0;
    c->requests_served += (int64_t)s->all.requests;
    for (int i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].route, "/v1/personalize") == 0 ||
            strcmp(s->routes[i].route, "/v1/feedback") == 0)
            c->state_requests += (int64_t)s->routes[i].requests;
    return 0;
}

int mdp_cost_figures(struct mdp_lake *lake, const struct mdp_config *cfg, int64_t now_us,
                     struct mdp_cost *out, struct mdp_diag *d)
{
    struct mdp_cost *c = out;
    memset(c, 0, sizeof *c);
    c->now_ms = now_us ? now_us / 1000 : mdp_time_now_ms();
    int64_t y;
    unsigned m, day;
    mdp_civil_from_days(mdp_days_from_ms(c->now_ms), &y, &m, &day);
    snprintf(c->month, sizeof c->month, "%04lld-%02u", (long long)y, m);
    c->month_start_ms = mdp_days_from_civil(y, m, 1) * DAY_MS;
    c->month_end_ms =
        (m == 12 ? mdp_days_from_civil(y + 1, 1, 1) : mdp_days_from_civil(y, m + 1, 1)) * DAY_MS;
    int64_t span = c->month_end_ms - c->month_start_ms;
    c->requests_served = -1;

    /* storage: one listing; the fixed zones first, so the order is stable */
    static const char *const order[] = {"raw/", "curated/", "ml/", "serving/", "_meta/"};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        zone_get(c, order[i]);
    struct listing l = {c, span};
    int rc = mdp_store_list_time(lake->store, "", on_object, &l, d);
    if (rc) return rc;
    for (int i = 0; i < c->nzones; i++) {
        struct mdp_cost_zone *z = &c->zones[i];
        z->usd = z->gb_months * cfg->cost_s3_gb_month;
        c->s3_bytes += z->bytes;
        c->s3_gb_months += z->gb_months;
        c->s3_storage += z->usd;
    }

    /* requests and scans: the run log of the month */
    struct usage u = {c, cfg->cost_athena_min_bytes};
    if ((rc = mdp_runlog_each(lake, on_run, &u, d))) return rc;
    c->s3_requests = (double)(c->puts + c->lists) / 1000.0 * cfg->cost_s3_put_1000 +
                     (double)c->gets / 1000.0 * cfg->cost_s3_get_1000;
    c->athena = (double)c->billed_scanned_bytes / TIB * cfg->cost_athena_tb;
    if ((rc = mdp__snapshots_each(lake, c->month_start_ms - 1, c->now_ms, on_snap, c, d)))
        return rc;
    if (c->state_requests > 0) {
        c->ddb_read_units = (double)c->state_requests * cfg->cost_ddb_reads_per_request;
        c->ddb_write_units = (double)c->state_requests * cfg->cost_ddb_writes_per_request;
        c->dynamodb = c->ddb_read_units / 1e6 * cfg->cost_ddb_read_million +
                      c->ddb_write_units / 1e6 * cfg->cost_ddb_write_million;
    }
    c->total = c->s3_storage + c->s3_requests + c->athena + c->dynamodb;

    /* forecast: today's bytes stay to the month's end; usage goes on at the month's rate so far
     * (at least a day of it, so that the first hour of a month does not multiply by 700) */
    int64_t elapsed = c->now_ms - c->month_start_ms;
    if (elapsed < DAY_MS) elapsed = DAY_MS;
    double rate = (double)span / (double)elapsed;
    double rest = (double)c->s3_bytes / GIB * (double)(c->month_end_ms - c->now_ms) / (double)span;
    c->s3_usd_month_forecast = c->s3_storage + rest * cfg->cost_s3_gb_month + c->s3_requests * rate;
    c->athena_usd_month_forecast = c->athena * rate;
    c->dynamodb_usd_month_forecast = c->dynamodb * rate;
    c->total_usd_month_forecast =
        c->s3_usd_month_forecast + c->athena_usd_month_forecast + c->dynamodb_usd_month_forecast;
    return 0;
}

int mdp_cost_json(const struct mdp_cost *c, struct mdp_buf *out)
{
    char now[32], start[32], end[32];
    mdp_time_format_ms(c->now_ms, now, sizeof now);
    mdp_time_format_ms(c->month_start_ms, start, sizeof start);
    mdp_time_format_ms(c->month_end_ms, end, sizeof end);
    mdp_buf_printf(out,
                   "{\"month\":\"%s\",\"now\":\"%s\",\"month_start\":\"%s\",\"month_end\":\"%s\","
                   "\"storage\":{\"bytes\":%lld,\"gb_months\":%.9g,\"zones\":[",
                   c->month, now, start, end, (long long)c->s3_bytes, c->s3_gb_months);
    for (int i = 0; i < c->nzones; i++) {
        const struct mdp_cost_zone *z = &c->zones[i];
        mdp_buf_printf(
            out,
            "%s{\"zone\":\"%s\",\"storage_class\":\"%s\",\"objects\":%lld,\"bytes\":%lld,"
            "\"gb_months\":%.9g,\"usd\":%.9g}",
            i ? "," : "", z->zone, z->storage_class, (long long)z->objects, (long long)z->bytes,
            z->gb_months, z->usd);
    }
    mdp_buf_printf(out,
                   "]},\"usage\":{\"runs\":%lld,\"put\":%lld,\"get\":%lld,\"list\":%lld,"
                   "\"scanned_bytes\":%lld,\"scan_queries\":%lld,\"billed_scanned_bytes\":%lld,",
                   (long long)c->runs, (long long)c->puts, (long long)c->gets, (long long)c->lists,
                   (long long)c->scanned_bytes, (long long)c->scan_queries,
                   (long long)c->billed_scanned_bytes);
    if (c->requests_served >= 0)
        mdp_buf_printf(out, "\"requests_served\":%lld,\"state_store_requests\":%lld,",
                       (long long)c->requests_served, (long long)c->state_requests);
    else
        mdp_buf_puts(out, "\"requests_served\":null,\"state_store_requests\":0,");
    mdp_buf_printf(out,
                   "\"dynamodb_read_units\":%.1f,\"dynamodb_write_units\":%.1f},"
                   "\"usd\":{\"s3_storage\":%.9g,\"s3_requests\":%.9g,\"athena\":%.9g,"
                   "\"dynamodb\":%.9g,\"total\":%.9g},"
                   "\"forecast_usd\":{\"s3\":%.9g,\"athena\":%.9g,\"dynamodb\":%.9g,"
                   "\"total\":%.9g}}",
                   c->ddb_read_units, c->ddb_write_units, c->s3_storage, c->s3_requests, c->athena,
                   c->dynamodb, c->total, c->s3_usd_month_forecast, c->athena_usd_month_forecast,
                   c->dynamodb_usd_month_forecast, c->total_usd_month_forecast);
    return mdp_buf_error(out);
}

/* ---- bytes a query scans ---- */

/* 1 when word occurs in sql as a whole identifier (case-insensitive). */
static int names(const char *sql, const char *word)
{
    size_t n = strlen(word);
    if (!n) return 0;
    for (const char *p = sql; *p; p++) {
        if (strncasecmp(p, word, n) != 0) continue;
        int before = p > sql && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = isalnum((unsigned char)p[n]) || p[n] == '_';
        if (!before && !after) return 1;
    }
    return 0;
}

struct scan {
    struct mdp_lake *lake;
    const char *sql;
    int64_t bytes;
    struct mdp_diag *d;
};

static int scan_table(const char *table, void *ud)
{
    struct scan *s = ud;
    const char *alias = NULL, *view = mdp_table_spec_name(table, &alias);
    if (!names(s->sql, view) && !(alias && names(s->sql, alias))) return 0;
    struct mdp_manifest m;
    int rc = mdp_lake_current(s->lake, table, &m, s->d);
    if (rc == MDP_ERR_NOT_FOUND) return 0;
    if (rc) return rc;
    for (size_t i = 0; i < m.nfiles; i++)
        if (m.files[i].bytes > 0) s->bytes += m.files[i].bytes;
    mdp_manifest_cleanup(&m);
    return 0;
}

int mdp_cost_query_scan(struct mdp_lake *lake, const char *sql, int64_t *out_bytes,
                        struct mdp_diag *d)
{
    struct scan s = {lake, sql, 0, d};
    *out_bytes = 0;
    int rc = mdp_curate_tables(lake, scan_table, &s, d);
    if (!rc) *out_bytes = s.bytes;
    return rc;
}

int mdp_cost_metric(const char *metric, int64_t now_ms, double *out_value, void *ud,
                    struct mdp_diag *d)
{
    const struct mdp_cost_source *src = ud;
    static const char *const names[] = {
        "cost.s3_usd_month_forecast", "cost.athena_usd_month_forecast",
        "cost.dynamodb_usd_month_forecast", "cost.total_usd_month_forecast", "cost.total_usd"};
    size_t i = 0;
    while (i < sizeof names / sizeof *names && strcmp(metric, names[i]) != 0)
        i++;
    if (i == sizeof names / sizeof *names || !src) return 0;
    struct mdp_cost c;
    int rc = mdp_cost_figures(src->lake, src->cfg, now_ms * 1000, &c, d);
    if (rc) return rc;
    const double v[] = {c.s3_usd_month_forecast, c.athena_usd_month_forecast,
                        c.dynamodb_usd_month_forecast, c.total_usd_month_forecast, c.total};
    *out_value = v[i];
    return 1;
}
