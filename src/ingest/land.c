/* The `land` stage: everything the sources dropped into the landing folder goes, byte for byte,
 * into the raw zone (content-addressed, so a re-run or a re-delivery lands nothing twice). Each
 * file is checked for structure in its own format (PostgreSQL CSV exports, NDJSON app events,
 * Lambda SQS events with SNS envelopes, Firehose objects of concatenated JSON, API responses);
 * records that do not parse go to quarantine with a reason and their location, never dropped. The
 * connectors of the ingestion work read these raw objects and apply the semantic checks (ids,
 * enums, dedup). */
#include "mdp/pipeline.h"
#include "mdp/hash.h"
#include "mdp/log.h"
#include "mdp/time.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum fmt { F_CSV, F_NDJSON, F_JSON, F_SQS, F_SNS, F_JSON_CONCAT };

struct kind {
    const char *prefix; /* in the landing folder */
    const char *source;
    const char *dataset; /* NULL: the path segment after the prefix's first segment */
    enum fmt fmt;
    const char *ext;
};

static const struct kind KINDS[] = {
    {"supabase/", "supabase", NULL, F_CSV, "csv"},
    {"events/", "events", "app_events", F_NDJSON, "ndjson"},
    {"ses/sqs/", "ses", "sqs", F_SQS, "json"},
    {"ses/http/", "ses", "sns_http", F_SNS, "json"},
    {"dynamodb/firehose/", "dynamodb", "firehose", F_JSON_CONCAT, "json"},
    {"ga4/runreport/", "ga4", "runreport", F_JSON, "json"},
    {"gbp/locations/", "gbp", "locations", F_JSON, "json"},
    {"meta/", "meta", NULL, F_JSON, "json"},
};
#define NKINDS (sizeof KINDS / sizeof *KINDS)
static const char *const SOURCES[] = {"supabase", "events", "ses",  "dynamodb",
                                      "ga4",      "gbp",    "meta", "unknown"};
#define NSOURCES (sizeof SOURCES / sizeof *SOURCES)

struct counts {
    int64_t in, out, quarantined, duplicates, bytes, files;
};

struct land {
    struct mdp_stage_ctx *ctx;
    struct mdp_store *landing;
    struct counts per[NSOURCES];
    int64_t busy_ms[NSOURCES]; /* time spent on each source's files */
    struct mdp_diag *d;
    int rc;
};

static int source_index(const char *src)
{
    for (size_t i = 0; i < NSOURCES; i++)
        if (strcmp(SOURCES[i], src) == 0) return (int)i;
    return (int)NSOURCES - 1;
}

/* Day of a landing key: a dt=YYYY-MM-DD segment, or Firehose's YYYY/MM/DD/HH/ prefix. */
static int key_day(const char *key, const char *after, int64_t *out)
{
    const char *dt = strstr(key, "/dt=");
    if (dt) {
        char buf[11];
        if (strlen(dt + 4) < 10) return -1;
        memcpy(buf, dt + 4, 10);
        buf[10] = '\0';
        return mdp_date_parse(buf, out) ? -1 : 0;
    }
    int y, m, d;
    if (after && sscanf(after, "%4d/%2d/%2d/", &y, &m, &d) == 3) {
        char buf[16];
        snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
        return mdp_date_parse(buf, out) ? -1 : 0;
    }
    return -1;
}

/* ---- format checks: each adds to in/out and quarantines what fails ---- */

static const char *json_reason(enum json_tokener_error e)
{
    return e == json_tokener_continue ? "json_truncated" : "json_invalid";
}

/* Parses exactly [p, p+n) as one JSON value; returns it or NULL with *err set. */
static json_object *parse_exact(const char *p, size_t n, enum json_tokener_error *err)
{
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        *err = json_tokener_error_size;
        return NULL;
    }
    json_object *o = json_tokener_parse_ex(tok, p, (int)n);
    *err = json_tokener_get_error(tok);
    if (o && json_tokener_get_parse_end(tok) < n) {
        /* trailing bytes: only whitespace is allowed */
        for (size_t i = json_tokener_get_parse_end(tok); i < n; i++)
            if (!strchr(" \t\r\n", p[i])) {
                json_object_put(o);
                o = NULL;
                *err = json_tokener_error_parse_unexpected;
                break;
            }
    } else if (!o && *err == json_tokener_success) {
        *err = json_tokener_continue; /* nothing but whitespace, or cut before the value ended */
    }
    json_tokener_free(tok);
    return o;
}

static int check_csv(const char *key, const char *p, size_t n, struct counts *c,
                     struct mdp_quarantine *q)
{
    size_t i = 0, line = 1, rec_line = 1, rec_start = 0;
    int expected = -1, fields = 1, inq = 0, rc = 0;
    while (i < n && !rc) {
        char ch = p[i];
        if (inq) {
            if (ch == '"') {
                if (i + 1 < n && p[i + 1] == '"')
                    i++;
                else
                    inq = 0;
            } else if (ch == '\n') {
                line++;
            }
        } else if (ch == '"') {
            inq = 1;
        } else if (ch == ',') {
            fields++;
        } else if (ch == '\n') {
            if (expected < 0) {
                expected = fields;
            } else {
                c->in++;
                if (fields != expected) {
                    char loc[300], det[96];
                    snprintf(loc, sizeof loc, "%s:%zu", key, rec_line);
                    snprintf(det, sizeof det, "%d fields, the header has %d", fields, expected);
                    rc = mdp_quarantine_add(q, "csv_column_count", loc, det, p + rec_start,
                                            i - rec_start);
                    c->quarantined++;
                } else {
                    c->out++;
                }
            }
            fields = 1;
            line++;
            rec_line = line;
            rec_start = i + 1;
        }
        i++;
    }
    if (!rc && rec_start < n) { /* a last record without its newline: the export was cut */
        char loc[300];
        snprintf(loc, sizeof loc, "%s:%zu", key, rec_line);
        /* also a header that never ended: it is a record read, and quarantined */
        c->in++;
        rc = mdp_quarantine_add(q, inq ? "csv_unterminated_quote" : "csv_truncated", loc,
                                expected < 0 ? "the header does not end with a newline"
                                             : "the last record does not end with a newline",
                                p + rec_start, n - rec_start);
        c->quarantined++;
    }
    return rc;
}

static int check_ndjson(const char *key, const char *p, size_t n, struct counts *c,
                        struct mdp_quarantine *q)
{
    size_t start = 0, line = 0;
    int rc = 0;
    while (start < n && !rc) {
        const char *nl = memchr(p + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - p) : n;
        size_t len = end - start;
        line++;
        if (len && p[start + len - 1] == '\r') len--;
        if (len) {
            c->in++;
            enum json_tokener_error err;
            json_object *o = parse_exact(p + start, len, &err);
            if (!o || !json_object_is_type(o, json_type_object)) {
                char loc[300];
                snprintf(loc, sizeof loc, "%s:%zu", key, line);
                rc = mdp_quarantine_add(q, o ? "json_not_object" : json_reason(err), loc,
                                        o ? "a line must hold one JSON object"
                                          : json_tokener_error_desc(err),
                                        p + start, len);
                c->quarantined++;
            } else {
                c->out++;
            }
            json_object_put(o);
        }
        start = end + 1;
    }
    return rc;
}

/* The SES payload inside an SQS body or HTTP POST: an SNS envelope whose Message is JSON, or the
 * SES record itself (raw message delivery). Returns a reason or NULL when fine. */
static const char *check_sns_body(const char *body, size_t len, const char **detail)
{
    enum json_tokener_error err;
    json_object *env = parse_exact(body, len, &err);
    const char *why = NULL;
    json_object *type, *topic, *msg;
    if (!env) {
        *detail = json_tokener_error_desc(err);
        return err == json_tokener_continue ? "sns_body_truncated" : "sns_body_invalid";
    }
    if (!json_object_is_type(env, json_type_object)) {
        why = "sns_body_not_object", *detail = "the body must be a JSON object";
    } else if (json_object_object_get_ex(env, "Type", &type) &&
               json_object_object_get_ex(env, "TopicArn", &topic)) {
        if (!json_object_object_get_ex(env, "Message", &msg) ||
            !json_object_is_type(msg, json_type_string)) {
            why = "sns_envelope_invalid", *detail = "the envelope has no Message string";
        } else if (strcmp(json_object_get_string(type), "Notification") == 0) {
            json_object *inner = parse_exact(json_object_get_string(msg),
                                             (size_t)json_object_get_string_len(msg), &err);
            if (!inner || !json_object_is_type(inner, json_type_object))
                why = "sns_message_invalid", *detail = "Message is not a JSON object";
            json_object_put(inner);
        }
    }
    json_object_put(env);
    return why;
}

static int check_sqs(const char *key, const char *p, size_t n, struct counts *c,
                     struct mdp_quarantine *q)
{
    enum json_tokener_error err;
    json_object *ev = parse_exact(p, n, &err), *recs;
    char loc[320];
    if (!ev || !json_object_object_get_ex(ev, "Records", &recs) ||
        !json_object_is_type(recs, json_type_array)) {
        c->in++;
        c->quarantined++;
        json_object_put(ev);
        snprintf(loc, sizeof loc, "%s", key);
        return mdp_quarantine_add(q, ev ? "sqs_event_invalid" : json_reason(err), loc,
                                  ev ? "no Records array" : json_tokener_error_desc(err), p, n);
    }
    int rc = 0;
    size_t nr = json_object_array_length(recs);
    for (size_t i = 0; i < nr && !rc; i++) {
        json_object *r = json_object_array_get_idx(recs, i), *body;
        c->in++;
        snprintf(loc, sizeof loc, "%s#Records[%zu]", key, i);
        if (!json_object_object_get_ex(r, "body", &body) ||
            !json_object_is_type(body, json_type_string)) {
            const char *t = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN);
            rc = mdp_quarantine_add(q, "sqs_record_invalid", loc, "no body string", t, strlen(t));
            c->quarantined++;
            continue;
        }
        const char *detail = NULL;
        const char *why = check_sns_body(json_object_get_string(body),
                                         (size_t)json_object_get_string_len(body), &detail);
        if (why) {
            rc = mdp_quarantine_add(q, why, loc, detail, json_object_get_string(body),
                                    (size_t)json_object_get_string_len(body));
            c->quarantined++;
        } else {
            c->out++;
        }
    }
    json_object_put(ev);
    return rc;
}

static int check_json(const char *key, const char *p, size_t n, enum fmt f, struct counts *c,
                      struct mdp_quarantine *q)
{
    c->in++;
    const char *detail = NULL, *why = NULL;
    if (f == F_SNS) {
        why = check_sns_body(p, n, &detail);
    } else {
        enum json_tokener_error err;
        json_object *o = parse_exact(p, n, &err);
        if (!o)
            why = json_reason(err), detail = json_tokener_error_desc(err);
        else if (!json_object_is_type(o, json_type_object))
            why = "json_not_object", detail = "an API response is a JSON object";
        json_object_put(o);
    }
    if (!why) {
        c->out++;
        return 0;
    }
    c->quarantined++;
    return mdp_quarantine_add(q, why, key, detail, p, n);
}

/* Firehose objects: JSON records concatenated with no delimiter (or one per line). A record that
 * does not parse is quarantined up to where the next record starts, and reading goes on there.
 * Records of one object start alike ({"awsRegion": for DynamoDB), so the next start is found by the
 * opening of the first good record, which a cut-off record's nested objects cannot mimic. */
static size_t lead_len(const char *p, size_t n)
{
    /* {"key": -> the bytes up to and including the colon */
    if (n < 4 || p[0] != '{' || p[1] != '"') return 0;
    for (size_t i = 2; i + 1 < n && i < 64; i++)
        if (p[i] == '"') return p[i + 1] == ':' ? i + 2 : 0;
    return 0;
}

static size_t next_record(const char *p, size_t n, size_t from, const char *lead, size_t ll)
{
    for (size_t k = from; k < n; k++) {
        if (p[k] != '{') continue;
        if (ll ? (n - k >= ll && memcmp(p + k, lead, ll) == 0)
               : (k > 0 && (p[k - 1] == '}' || p[k - 1] == '\n')))
            return k;
    }
    return n;
}

static int check_concat(const char *key, const char *p, size_t n, struct counts *c,
                        struct mdp_quarantine *q)
{
    size_t pos = 0, ll = 0;
    const char *lead = NULL;
    int rc = 0, idx = 0;
    while (!rc) {
        while (pos < n && strchr(" \t\r\n", p[pos]))
            pos++;
        if (pos >= n) break;
        c->in++;
        json_tokener *tok = json_tokener_new_ex(64);
        if (!tok) return MDP_ERR_NOMEM;
        json_object *o = json_tokener_parse_ex(tok, p + pos, (int)(n - pos));
        enum json_tokener_error err = json_tokener_get_error(tok);
        size_t used = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (o && json_object_is_type(o, json_type_object)) {
            c->out++;
            if (!lead && (ll = lead_len(p + pos, used))) lead = p + pos;
            pos += used;
        } else {
            size_t next = next_record(p, n, pos + 1, lead, ll);
            char loc[320];
            snprintf(loc, sizeof loc, "%s#record[%d]@%zu", key, idx, pos);
            rc = mdp_quarantine_add(q, o ? "json_not_object" : json_reason(err), loc,
                                    o ? "a Firehose record is a JSON object"
                                      : json_tokener_error_desc(err),
                                    p + pos, next - pos);
            c->quarantined++;
            pos = next;
        }
        json_object_put(o);
        idx++;
    }
    return rc;
}

static const struct kind *kind_of(const char *key)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (strncmp(key, KINDS[i].prefix, strlen(KINDS[i].prefix)) == 0) return &KINDS[i];
    return NULL;
}

static int run_check(const struct kind *k, const char *key, const char *p, size_t n,
                     struct counts *c, struct mdp_quarantine *q)
{
    switch (k->fmt) {
    case F_CSV:
        return check_csv(key, p, n, c, q);
    case F_NDJSON:
        return check_ndjson(key, p, n, c, q);
    case F_SQS:
        return check_sqs(key, p, n, c, q);
    case F_JSON_CONCAT:
        return check_concat(key, p, n, c, q);
    case F_JSON:
    case F_SNS:
        return check_json(key, p, n, k->fmt, c, q);
    }
    return MDP_ERR_INVALID;
}

int mdp_land_check(const char *key, const char *data, size_t len, struct mdp_land_counts *lc,
                   struct mdp_quarantine *q)
{
    const struct kind *k = kind_of(key);
    if (!k) return MDP_ERR_NOT_FOUND;
    struct counts c = {0};
    int rc = run_check(k, key, data, len, &c, q);
    lc->in += c.in;
    lc->out += c.out;
    lc->quarantined += c.quarantined;
    return rc;
}

/* ---- the stage ---- */

static int land_file(const char *key, int64_t size, void *ud)
{
    struct land *L = ud;
    (void)size;
    const struct kind *k = kind_of(key);
    char dataset[64] = "unrouted";
    const char *source = k ? k->source : "unknown";
    if (k && k->dataset) {
        snprintf(dataset, sizeof dataset, "%s", k->dataset);
    } else if (k) {
        const char *seg = key + strlen(k->prefix);
        const char *sl = strchr(seg, '/');
        if (sl && sl > seg && (size_t)(sl - seg) < sizeof dataset) {
            memcpy(dataset, seg, (size_t)(sl - seg));
            dataset[sl - seg] = '\0';
        }
    }
    int64_t day = -1;
    if (key_day(key, k ? key + strlen(k->prefix) : NULL, &day) != 0) day = -1;
    if (L->ctx->day >= 0 && day != L->ctx->day) return 0;
    int si = source_index(source);
    struct counts *c = &L->per[si];
    int64_t t0 = mdp_time_now_ms();
    struct mdp_buf data, rawkey;
    mdp_buf_init(&data);
    mdp_buf_init(&rawkey);
    int rc = mdp_store_get(L->landing, key, &data, L->d);
    if (rc) goto out;
    if (day < 0) day = mdp_days_from_ms(mdp_time_now_ms());
    c->files++;
    c->bytes += (int64_t)data.len;
    struct mdp_quarantine q;
    if (!k) { /* nothing is dropped: an unknown drop is quarantined whole */
        mdp_quarantine_init(&q, "unknown", "unrouted", day);
        c->in++;
        c->quarantined++;
        rc = mdp_quarantine_add(&q, "unknown_source", key, "no connector handles this landing path",
                                data.data ? data.data : "", data.len);
        char hex[65];
        mdp_sha256_hex(data.data ? data.data : "", data.len, hex);
        hex[32] = '\0';
        if (!rc) rc = mdp_quarantine_flush(&q, L->ctx->lake, hex, L->d);
        mdp_quarantine_cleanup(&q);
        goto out;
    }
    int existed = 0;
    rc = mdp_lake_raw_put(L->ctx->lake, source, dataset, day, data.data ? data.data : "", data.len,
                          k->ext, &rawkey, &existed, L->d);
    if (rc) goto out;
    if (existed) { /* landed before: same bytes, nothing new */
        c->duplicates++;
        goto out;
    }
    mdp_quarantine_init(&q, source, dataset, day);
    const char *p = data.data ? data.data : "";
    rc = run_check(k, key, p, data.len, c, &q);
    if (!rc) {
        /* the quarantine batch is named like the raw object it came from */
        const char *base = strrchr(rawkey.data, '/') + 1;
        char batch[40];
        snprintf(batch, sizeof batch, "%.32s", base);
        rc = mdp_quarantine_flush(&q, L->ctx->lake, batch, L->d);
    } else if (rc == MDP_ERR_NOMEM) {
        mdp_diag_set(L->d, rc, "%s: out of memory while checking", key);
    }
    mdp_quarantine_cleanup(&q);
out:
    L->busy_ms[si] += mdp_time_now_ms() - t0;
    mdp_buf_cleanup(&data);
    mdp_buf_cleanup(&rawkey);
    if (rc) L->rc = rc;
    return rc;
}

int mdp_stage_land(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d)
{
    struct land L;
    memset(&L, 0, sizeof L);
    L.ctx = ctx;
    L.d = d;
    char *dir = mdp_config_landing_dir(ctx->cfg);
    if (!dir) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    int rc = mdp_store_open(dir, 0, &L.landing, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        /* nothing delivered yet is not an error: the stage lands nothing */
        mdp_log(MDP_LOG_WARN, "landing folder does not exist; nothing to land", LOG_STR("dir", dir),
                MDP_LF_END);
        free(dir);
        return 0;
    }
    free(dir);
    if (rc) return rc;
    rc = mdp_store_list(L.landing, "", land_file, &L, d);
    mdp_store_close(L.landing);
    /* one run record per source that had files, then the stage totals */
    for (size_t i = 0; i < NSOURCES; i++) {
        struct counts *c = &L.per[i];
        run->in += c->in;
        run->out += c->out;
        run->quarantined += c->quarantined;
        run->duplicates += c->duplicates;
        run->bytes += c->bytes;
        if (!c->files) continue;
        struct mdp_run sub;
        char job[64];
        snprintf(job, sizeof job, "land.%s", SOURCES[i]);
        mdp_run_begin(&sub, job);
        sub.start_ms -= L.busy_ms[i]; /* the record's span is the source's busy time */
        sub.in = c->in;
        sub.out = c->out;
        sub.quarantined = c->quarantined;
        sub.duplicates = c->duplicates;
        sub.bytes = c->bytes;
        snprintf(sub.message, sizeof sub.message, "%lld files, %lld already landed",
                 (long long)c->files, (long long)c->duplicates);
        struct mdp_diag ld = {0};
        int lrc = mdp_run_end(ctx->lake, &sub, rc ? "failed" : "ok", &ld);
        if (ctx->on_run) ctx->on_run(&sub, ctx->ud);
        if (!rc && lrc) rc = mdp_diag_set(d, lrc, "run log: %s", ld.msg);
    }
    return rc;
}
