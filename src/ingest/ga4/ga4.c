/* The ga4 connector: GA4 Data API runReport responses for the configured property, as returned or
 * as saved exchanges. Headers are positional: every row has one dimension value per dimension
 * header and one metric value per metric header, and metric values are strings converted by their
 * header's type (TYPE_INTEGER as an integer, the others as numbers). The `date` dimension is
 * YYYYMMDD in the property's time zone. A report without data has no rows and no rowCount. Saved
 * requests and API errors (429 RESOURCE_EXHAUSTED, ...) are recorded, not quarantined. */
#include "ga4.h"
#include "../ingest_internal.h"
#include "mdp/time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { X_ROWS, X_REPORTS, X_API_ERRORS, X_REQUESTS };

int mdp_ga4_metric_value(const char *type, const char *text, double *out)
{
    if (!type || !text || !*text) return MDP_ERR_PARSE;
    char *end;
    errno = 0;
    if (strcmp(type, "TYPE_INTEGER") == 0) {
        long long v = strtoll(text, &end, 10);
        if (errno || *end) return MDP_ERR_PARSE;
        *out = (double)v;
        return 0;
    }
    static const char *numeric[] = {
        "TYPE_FLOAT", "TYPE_SECONDS",  "TYPE_MILLISECONDS", "TYPE_MINUTES",
        "TYPE_HOURS", "TYPE_STANDARD", "TYPE_CURRENCY",     "TYPE_FEET",
        "TYPE_MILES", "TYPE_METERS",   "TYPE_KILOMETERS",   "TYPE_PERCENT",
        NULL};
    for (int i = 0; numeric[i]; i++) {
        if (strcmp(type, numeric[i]) != 0) continue;
        double v = strtod(text, &end);
        if (errno || *end || end == text) return MDP_ERR_PARSE;
        /* durations are reported in their unit; keep seconds as the common one */
        if (strcmp(type, "TYPE_MILLISECONDS") == 0)
            v /= 1000.0;
        else if (strcmp(type, "TYPE_MINUTES") == 0)
            v *= 60.0;
        else if (strcmp(type, "TYPE_HOURS") == 0)
            v *= 3600.0;
        *out = v;
        return 0;
    }
    return MDP_ERR_UNSUPPORTED;
}

static int headers(json_object *a, int metrics)
{
    if (!a) return -1;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *h = json_object_array_get_idx(a, i);
        if (!mdp__jget(h, "name") || (metrics && !mdp__jget(h, "type"))) return -1;
    }
    return (int)json_object_array_length(a);
}

static const char *value_of(json_object *v)
{
    /* proto3 JSON leaves an empty value out: {} is "" */
    const char *s = mdp__jget(v, "value");
    return s ? s : json_object_is_type(v, json_type_object) ? "" : NULL;
}

static int check_report(struct mdp_check *ck, json_object *r, const char *raw, size_t len)
{
    json_object *dh = mdp__jarr(r, "dimensionHeaders"), *mh = mdp__jarr(r, "metricHeaders"), *v;
    int nd = headers(dh, 0), nm = headers(mh, 1);
    if (nd < 0 || nm < 0)
        return mdp_check_bad(ck, "ga4_invalid_headers", ck->key,
                             "dimensionHeaders and metricHeaders: arrays of {name[, type]}", raw,
                             len);
    int date_col = -1;
    for (int i = 0; i < nd; i++)
        if (strcmp(mdp__jget(json_object_array_get_idx(dh, (size_t)i), "name"), "date") == 0)
            date_col = i;
    json_object *rows = mdp__jarr(r, "rows");
    size_t nrows = rows ? json_object_array_length(rows) : 0;
    int64_t row_count = 0;
    if (json_object_object_get_ex(r, "rowCount", &v)) {
        if (!json_object_is_type(v, json_type_int) || (row_count = json_object_get_int64(v)) < 0)
            return mdp_check_bad(ck, "ga4_invalid_row_count", ck->key, "rowCount is a number >= 0",
                                 raw, len);
    }
    if ((size_t)row_count < nrows && json_object_object_get_ex(r, "rowCount", &v))
        return mdp_check_bad(ck, "ga4_invalid_row_count", ck->key, "fewer rowCount than rows", raw,
                             len);
    ck->c->extra[X_REPORTS]++;
    json_object *q = mdp__jobj(r, "propertyQuota"), *t;
    (void)q;
    (void)t;
    int rc = 0;
    char loc[600], detail[200];
    for (size_t i = 0; i < nrows && !rc; i++) {
        json_object *row = json_object_array_get_idx(rows, i);
        json_object *dv = mdp__jarr(row, "dimensionValues"), *mv = mdp__jarr(row, "metricValues");
        const char *rt = json_object_to_json_string_ext(row, JSON_C_TO_STRING_PLAIN);
        mdp__loc(loc, sizeof loc, ck->key, "#rows[%zu]", i);
        if ((nd && (!dv || json_object_array_length(dv) != (size_t)nd)) ||
            (nm && (!mv || json_object_array_length(mv) != (size_t)nm))) {
            rc = mdp_check_bad(ck, "ga4_row_shape", loc, "one value per header, by position", rt,
                               strlen(rt));
            continue;
        }
        int64_t ts = -1;
        const char *bad = NULL;
        for (int k = 0; k < nd && !bad; k++) {
            const char *s = value_of(json_object_array_get_idx(dv, (size_t)k));
            int64_t day;
            if (!s)
                bad = "ga4_invalid_dimension", snprintf(detail, sizeof detail, "dimension %d", k);
            else if (k == date_col && (strlen(s) != 8 || mdp_date_parse(s, &day)))
                bad = "ga4_invalid_date",
                snprintf(detail, sizeof detail, "date '%.20s' is not YYYYMMDD", s);
            else if (k == date_col)
                ts = day * MDP_MS_PER_DAY;
        }
        for (int k = 0; k < nm && !bad; k++) {
            const char *type = mdp__jget(json_object_array_get_idx(mh, (size_t)k), "type");
            const char *s = value_of(json_object_array_get_idx(mv, (size_t)k));
            double x;
            int crc = s ? mdp_ga4_metric_value(type, s, &x) : MDP_ERR_PARSE;
            if (crc) {
                bad = crc == MDP_ERR_UNSUPPORTED ? "ga4_unknown_metric_type" : "ga4_invalid_metric";
                snprintf(detail, sizeof detail, "metric %d: '%.20s' as %s", k, s ? s : "", type);
            }
        }
        if (bad) {
            rc = mdp_check_bad(ck, bad, loc, detail, rt, strlen(rt));
        } else {
            ck->c->extra[X_ROWS]++;
            mdp_check_ok(ck, ts);
        }
    }
    return rc;
}

static int check(struct mdp_check *ck, const char *p, size_t n)
{
    json_object *o, *r;
    int rc = mdp__api_open(ck, p, n, X_API_ERRORS, &o, &r);
    if (rc <= 0) return rc;
    rc = 0;
    if (mdp__jarr(r, "dateRanges") && mdp__jarr(r, "metrics")) {
        ck->c->extra[X_REQUESTS]++; /* a saved runReport request, kept for provenance */
        mdp_check_ok(ck, -1);
    } else {
        rc = check_report(ck, r, p, n);
    }
    json_object_put(o);
    return rc;
}

int mdp__ga4_pull(struct mdp_pull *p, struct mdp_diag *d);

/* Its configuration map: the sources.ga4.* keys (`mdp config keys` lists them). */
static const struct mdp_config_key CONFIG[] = {
    {"sources.ga4.property_id", MDP_CFG_STR, MDP_CONFIG_OFF(ga4_property_id), "495696125", 0, 0,
     NULL, "GA4 property whose runReport data is pulled (spec 1)."},
    {"sources.ga4.time_zone", MDP_CFG_STR, MDP_CONFIG_OFF(ga4_time_zone), "Europe/Berlin", 0, 0,
     NULL, "Reporting time zone of the GA4 property; its `date` dimension is in this zone."},
    {"sources.ga4.credentials_env", MDP_CFG_ENVNAME, MDP_CONFIG_OFF(ga4_credentials_env),
     "GOOGLE_APPLICATION_CREDENTIALS", 0, 0, NULL,
     "Environment variable with the path of the service account's JSON key (client_email, "
     "private_key, token_uri) for `mdp ingest ga4 --pull`."},
    {"sources.ga4.api_base", MDP_CFG_STR, MDP_CONFIG_OFF(ga4_api_base),
     "https://analyticsdata.googleapis.com", 0, 0, NULL,
     "Base URL of the GA4 Data API (a test server in the tests)."},
    {"sources.ga4.user_deletion_base", MDP_CFG_STR, MDP_CONFIG_OFF(ga4_user_deletion_base),
     "https://www.googleapis.com/analytics/v3", 0, 0, NULL,
     "Base URL of the Google Analytics User Deletion API (userDeletionRequests:upsert), which "
     "erasure calls for sources.ga4.property_id (a test server in the tests)."},
    {"sources.ga4.dimensions", MDP_CFG_STRLIST, MDP_CONFIG_OFF(ga4_dimensions), "date,eventName", 0,
     0, NULL, "Dimensions of the runReport request."},
    {"sources.ga4.metrics", MDP_CFG_STRLIST, MDP_CONFIG_OFF(ga4_metrics),
     "eventCount,activeUsers,sessions", 0, 0, NULL, "Metrics of the runReport request."},
    {"sources.ga4.page_size", MDP_CFG_INT, MDP_CONFIG_OFF(ga4_page_size), "10000", 1, 250000, NULL,
     "Rows per runReport page (limit); pages follow until rowCount is reached."},
    {NULL, MDP_CFG_STR, 0, NULL, 0, 0, NULL, NULL}};

const struct mdp_connector MDP__CONNECTOR_GA4 = {
    .name = "ga4",
    .source = "ga4",
    .summary = "GA4 Data API runReport responses for the configured property",
    .help =
        "Usage: mdp ingest ga4 [--pull [--from D] [--to D]] [--date D] [--dir LAKE]\n"
        "\n"
        "--pull  first run the report for sources.ga4.property_id over --from..--to (default:\n"
        "        yesterday, UTC) with the service account whose key file the variable named by\n"
        "        sources.ga4.credentials_env points to; pages follow until rowCount, 429/5xx\n"
        "        are retried with backoff; each page's response lands as delivered.\n"
        "\n"
        "Takes GA4 Data API runReport responses from <landing>/ga4/runreport/dt=D/*.json, as the "
        "API\n"
        "returns them or as saved exchanges {\"method\",\"url\",\"body\"}. Each row is a record:\n"
        "one value per header by position, metric values (strings) convertible by their header's\n"
        "type, `date` as YYYYMMDD (in sources.ga4.time_zone). A report without data (no rows, no\n"
        "rowCount) is valid. API errors (429 RESOURCE_EXHAUSTED, ...) and saved requests are\n"
        "recorded, not quarantined.\n",
    .landing_prefix = "ga4/",
    .dataset = NULL,
    .ext = "json",
    .sample_key = "ga4/runreport/dt=2026-10-01/r.json",
    .config = CONFIG,
    .extra_names = {"rows", "reports", "API errors", "saved requests"},
    .check = check,
    .pull = mdp__ga4_pull,
};
