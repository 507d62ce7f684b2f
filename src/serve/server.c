/* The HTTP server (include/mdp/serve.h) on libmicrohttpd: poll mode with a thread pool (epoll
 * stalls under a burst of connections on Debian 12's 0.9.75), a response queued only once the
 * request is complete (queueing on the first call turns keep-alive off), connections suspended
 * while their records are group-committed, limits that answer 413/503 at once, API keys by scope,
 * Prometheus metrics, graceful shutdown on SIGTERM. */
#include "mdp/serve.h"
#include "mdp/hash.h"
#include "mdp/ingest.h"
#include "mdp/log.h"
#include "mdp/ml.h"
#include "mdp/model.h"
#include "mdp/pipeline.h"
#include "mdp/time.h"
#include "mdp/uuid.h"
#include "../ingest/ses/sns_verify.h"
#include "serve_internal.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

enum route {
    R_HEALTH,
    R_READY,
    R_METRICS,
    R_EVENTS,
    R_SNS,
    R_PERSONALIZE,
    R_FEEDBACK,
    R_OTHER,
    NR
};
static const char *const ROUTE_NAMES[NR] = {"/healthz",     "/readyz",     "/metrics",
                                            "/v1/events",   "/v1/ses/sns", "/v1/personalize",
                                            "/v1/feedback", "other"};
enum { S_COLLECT = 1, S_PERSONALIZE = 2, S_ADMIN = 4 };
#define NBUCKETS 14
static const double BUCKETS[NBUCKETS - 1] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                             0.025,  0.05,    0.1,    0.25,  0.5,    1.0};

struct key {
    char name[48];
    int scopes;
    char hash[65];
};

struct server {
    const struct mdp_config *cfg;
    struct mdp_lake *lake;
    struct MHD_Daemon *mhd;
    struct key *keys;
    int nkeys;
    struct mdp__committer *committer;
    struct mdp__snap_holder snap;
    struct mdp_state *state;
    pthread_mutex_t state_mu;
    struct mdp_bandit *bandit;
    struct mdp__pz pz;
    char cert_cache[1200];
    int verify_sns;
    atomic_int in_flight;
    atomic_int stopping;
    atomic_int ses_dirty;
    struct slot *slots; /* request metrics, one slot per thread (no shared cache lines) */
    atomic_int nslots;
    atomic_llong events_accepted, events_quarantined, ses_accepted, ses_quarantined;
    atomic_llong curate_runs;
    pthread_mutex_t days_mu; /* the days of the SES events taken since the last micro-batch */
    int64_t ses_from, ses_to;
};

#define MAX_SLOTS 128
struct slot {
    _Atomic long long status_count[NR][6]; /* by status class 1xx..5xx; [0] unused */
    _Atomic long long hist[NR][NBUCKETS];
    _Atomic long long lat_sum_us[NR];
    char pad[64];
};

/* this thread's metrics slot (threads beyond MAX_SLOTS share the last one) */
static struct slot *my_slot(struct server *s)
{
    static __thread struct slot *mine;
    static __thread const struct server *owner;
    if (!mine || owner != s) {
        int i = s->nslots++;
        mine = &s->slots[i < MAX_SLOTS ? i : MAX_SLOTS - 1];
        owner = s;
    }
    return mine;
}

static long long sum_status(struct server *s, int rt, int c)
{
    long long v = 0;
    for (int i = 0; i < MAX_SLOTS && i < s->nslots; i++)
        v += s->slots[i].status_count[rt][c];
    return v;
}

static long long sum_hist(struct server *s, int rt, int b)
{
    long long v = 0;
    for (int i = 0; i < MAX_SLOTS && i < s->nslots; i++)
        v += s->slots[i].hist[rt][b];
    return v;
}

static long long sum_lat(struct server *s, int rt)
{
    long long v = 0;
    for (int i = 0; i < MAX_SLOTS && i < s->nslots; i++)
        v += s->slots[i].lat_sum_us[rt];
    return v;
}

struct req {
    struct req *next_free; /* in the thread's pool */
    struct server *s;
    struct MHD_Connection *conn;
    enum route route;
    int64_t t0_us;
    struct mdp_buf body;
    int too_big;
    int waiting; /* suspended for the group commit */
    int ready;   /* the response below is final */
    int status;
    struct mdp_buf resp;
    const char *ctype;
    int commit_rc;
    /* events: what to tell once committed */
    int64_t accepted, rejected, event_day;
    struct mdp_buf errors; /* JSON array body of rejected events */
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- requests: a pool per thread (a request starts and ends on its connection's thread) ---- */

#define POOL_MAX 64
struct reqpool {
    struct req *head;
    int n;
};
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void req_free(struct req *r)
{
    mdp_buf_cleanup(&r->body);
    mdp_buf_cleanup(&r->resp);
    mdp_buf_cleanup(&r->errors);
    free(r);
}

static void pool_free(void *p)
{
    struct reqpool *pool = p;
    for (struct req *r = pool->head, *next; r; r = next) {
        next = r->next_free;
        req_free(r);
    }
    free(pool);
}

static void pool_key_create(void)
{
    pthread_key_create(&pool_key, pool_free);
}

static struct reqpool *my_pool(void)
{
    static __thread struct reqpool *mine;
    if (!mine && (mine = calloc(1, sizeof *mine))) {
        pthread_once(&pool_once, pool_key_create);
        pthread_setspecific(pool_key, mine); /* freed when the thread ends */
    }
    return mine;
}

/* a cleared request whose buffers keep their storage */
static struct req *req_get(void)
{
    struct reqpool *pool = my_pool();
    struct req *r = pool ? pool->head : NULL;
    if (!r) {
        if ((r = calloc(1, sizeof *r))) {
            mdp_buf_init(&r->body);
            mdp_buf_init(&r->resp);
            mdp_buf_init(&r->errors);
        }
        return r;
    }
    pool->head = r->next_free;
    pool->n--;
    struct mdp_buf body = r->body, resp = r->resp, errors = r->errors;
    memset(r, 0, sizeof *r);
    r->body = body;
    r->resp = resp;
    r->errors = errors;
    mdp_buf_reset(&r->body);
    mdp_buf_reset(&r->resp);
    mdp_buf_reset(&r->errors);
    return r;
}

static void req_put(struct req *r)
{
    struct reqpool *pool = my_pool();
    /* a large body's storage is not kept */
    if (!pool || pool->n >= POOL_MAX || r->body.cap > 65536) {
        req_free(r);
        return;
    }
    r->next_free = pool->head;
    pool->head = r;
    pool->n++;
}

/* ---- keys ---- */

static int parse_keys(const struct mdp_config *cfg, struct key **out, int *n, struct mdp_diag *d)
{
    const struct mdp_strlist *l = &cfg->serve_keys;
    struct key *v = calloc((size_t)(l->n ? l->n : 1), sizeof *v);
    if (!v) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < l->n; i++) {
        char item[300];
        snprintf(item, sizeof item, "%s", l->v[i]);
        char *a = strchr(item, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        int ok = a && b && a > item && a - item < 48 && strlen(b + 1) == 64;
        for (const char *p = b ? b + 1 : ""; ok && *p; p++)
            ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');
        if (ok) {
            *a = *b = '\0';
            snprintf(v[i].name, sizeof v[i].name, "%.47s", item);
            memcpy(v[i].hash, b + 1, 65);
            for (char *t = strtok(a + 1, "+"); ok && t; t = strtok(NULL, "+")) {
                int sc = !strcmp(t, "collect")       ? S_COLLECT
                         : !strcmp(t, "personalize") ? S_PERSONALIZE
                         : !strcmp(t, "admin")       ? S_ADMIN
                                                     : 0;
                ok = sc != 0;
                v[i].scopes |= sc;
            }
            ok = ok && v[i].scopes;
        }
        if (!ok) {
            free(v);
            /* the item names a hash, never a key: it may be shown */
            return mdp_diag_set(d, MDP_ERR_CONFIG,
                                "serve.keys: item %d is not NAME:SCOPES:SHA256 (SCOPES of "
                                "collect, personalize, admin joined by +; SHA256 64 lower-case "
                                "hex digits)",
                                i + 1);
        }
    }
    *out = v;
    *n = l->n;
    return 0;
}

int mdp_serve_keys_check(const struct mdp_config *cfg, struct mdp_diag *d)
{
    struct key *v;
    int n;
    int rc = parse_keys(cfg, &v, &n, d);
    if (!rc) free(v);
    return rc;
}

int mdp_serve_key_new(char token_out[65], char hash_out[65])
{
    unsigned char raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) return MDP_ERR_IO;
    mdp_hex_encode(raw, sizeof raw, token_out);
    token_out[64] = '\0';
    return mdp_sha256_hex(token_out, 64, hash_out);
}

/* 0 when the request carries a key with scope; else 401 (none, unknown) or 403 (scope). */
static int authorize(struct server *s, struct MHD_Connection *c, int scope)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 401;
    char hash[65];
    const char *tok = h + 7;
    size_t len = strlen(tok);
    /* a thread remembers the last key it verified (a client sends the same key again and again):
     * compared in constant time, so a match saves the hash and a miss tells nothing */
    static __thread char last[128];
    static __thread size_t last_len;
    static __thread int last_key = -1;
    static __thread const struct server *last_server;
    int found = -1;
    if (last_server == s && last_key >= 0 && len == last_len && CRYPTO_memcmp(tok, last, len) == 0)
        found = last_key;
    if (found < 0) {
        if (mdp_sha256_hex(tok, len, hash)) return 401;
        for (int i = 0; i < s->nkeys; i++) /* every key is compared: the time tells not which */
            if (CRYPTO_memcmp(hash, s->keys[i].hash, 64) == 0) found = i;
        if (found < 0) return 401;
        if (len < sizeof last) {
            memcpy(last, tok, len);
            last_len = len;
            last_key = found;
            last_server = s;
        }
    }
    return (s->keys[found].scopes & scope) ? 0 : 403;
}

/* ---- responses ---- */

static enum MHD_Result queue(struct req *r)
{
    /* the body stays in r->resp until the request completes: no copy */
    struct MHD_Response *res = MHD_create_response_from_buffer(
        r->resp.len, r->resp.data ? r->resp.data : (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!res) return MHD_NO;
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->ctype ? r->ctype : "application/json");
    if (r->status == 401) MHD_add_response_header(res, "WWW-Authenticate", "Bearer");
    if (r->status == 405)
        MHD_add_response_header(
            res, MHD_HTTP_HEADER_ALLOW,
            r->route == R_PERSONALIZE                                              ? "GET, POST"
            : r->route == R_HEALTH || r->route == R_READY || r->route == R_METRICS ? "GET"
                                                                                   : "POST");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, res);
    MHD_destroy_response(res);
    return ret;
}

static enum MHD_Result fail_now(struct req *r, int status, const char *code, const char *msg)
{
    r->status = mdp__error(&r->resp, status, code, "%s", msg);
    r->ready = 1;
    return queue(r);
}

/* ---- routing ---- */

static enum route route_of(const char *url)
{
    for (int i = 0; i < R_OTHER; i++)
        if (strcmp(url, ROUTE_NAMES[i]) == 0) return (enum route)i;
    return R_OTHER;
}

static int method_ok(enum route rt, const char *m)
{
    int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0, post = strcmp(m, "POST") == 0;
    switch (rt) {
    case R_HEALTH:
    case R_READY:
    case R_METRICS:
        return get;
    case R_PERSONALIZE:
        return get || post;
    case R_EVENTS:
    case R_SNS:
    case R_FEEDBACK:
        return post;
    default:
        return 1;
    }
}

static int scope_of(struct server *s, enum route rt)
{
    switch (rt) {
    case R_EVENTS:
        return S_COLLECT;
    case R_SNS:
        return s->verify_sns ? 0 : S_COLLECT; /* a verified signature is the SNS's credential */
    case R_PERSONALIZE:
    case R_FEEDBACK:
        return S_PERSONALIZE;
    case R_METRICS:
        return S_ADMIN;
    default:
        return 0;
    }
}

/* ---- /v1/events ---- */

static void commit_done(void *ud, int rc)
{
    struct req *r = ud;
    r->commit_rc = rc;
    if (rc) r->s->events_accepted -= r->accepted; /* nothing of it was made durable */
    MHD_resume_connection(r->conn);
}

/* Suspends the connection until the group commit of lines has been fsync'd (commit_done resumes
 * it, and the handler then answers). */
static enum MHD_Result commit_and_wait(struct req *r, const char *source, const char *dataset,
                                       int64_t day, const struct mdp_buf *lines)
{
    r->waiting = 1;
    MHD_suspend_connection(r->conn);
    if (mdp__committer_submit(r->s->committer, source, dataset, day, lines->data, lines->len,
                              commit_done, r)) {
        r->commit_rc = MDP_ERR_NOMEM;
        MHD_resume_connection(r->conn);
    }
    return MHD_YES;
}

static const char *content_type(struct MHD_Connection *c)
{
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    return t ? t : "";
}

static enum MHD_Result handle_events(struct req *r)
{
    struct server *s = r->s;
    const char *ct = content_type(r->conn);
    int ndjson = strncasecmp(ct, "application/x-ndjson", 20) == 0;
    if (!ndjson && strncasecmp(ct, "application/json", 16) != 0)
        return fail_now(r, 415, "unsupported_media_type",
                        "send application/json (an event or an array) or application/x-ndjson");
    const char *p = r->body.data ? r->body.data : "";
    size_t n = r->body.len;
    if (!mdp_utf8_valid(p, n)) return fail_now(r, 400, "invalid_utf8", "the body is not UTF-8");
    /* the events, one JSON text each */
    struct mdp_buf lines, ok;
    mdp_buf_init(&lines);
    mdp_buf_init(&ok);
    const char *why;
    if (mdp__events_split(p, n, ndjson, &lines, &why)) {
        mdp_buf_cleanup(&lines);
        return fail_now(r, 400, "invalid_json", why);
    }
    int64_t day = mdp_days_from_ms(mdp_time_now_ms());
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "events", "app_events", day);
    size_t nlines = 0;
    for (size_t i = 0; i < lines.len; i++)
        nlines += lines.data[i] == '\n';
    unsigned char *rejected = calloc(nlines ? nlines : 1, 1);
    long bad = rejected ? mdp__events_check(lines.data, lines.len, &q, rejected, nlines) : -1;
    if (bad < 0) {
        free(rejected);
        mdp_quarantine_cleanup(&q);
        mdp_buf_cleanup(&lines);
        mdp_buf_cleanup(&ok);
        return fail_now(r, 503, "out_of_memory", "the server is short of memory; retry");
    }
    /* the rejected ones, by index, with the connector's reason and detail */
    mdp_buf_puts(&r->errors, "[");
    for (const char *e = q.lines.data; e && *e;) {
        const char *nl = strchr(e, '\n');
        json_object *o = json_tokener_parse(e), *v;
        const char *loc =
            o && json_object_object_get_ex(o, "location", &v) ? json_object_get_string(v) : "";
        const char *colon = strrchr(loc, ':');
        json_object *x = json_object_new_object();
        json_object_object_add(
            x, "index", json_object_new_int64(colon ? strtoll(colon + 1, NULL, 10) - 1 : -1));
        json_object_object_add(
            x, "reason",
            json_object_new_string(o && json_object_object_get_ex(o, "reason", &v)
                                       ? json_object_get_string(v)
                                       : "invalid_event"));
        json_object_object_add(
            x, "detail",
            json_object_new_string(o && json_object_object_get_ex(o, "detail", &v) &&
                                           json_object_get_string(v)
                                       ? json_object_get_string(v)
                                       : ""));
        mdp_buf_printf(&r->errors, "%s%s", r->rejected ? "," : "",
                       json_object_to_json_string_ext(x, JSON_C_TO_STRING_PLAIN));
        json_object_put(x);
        json_object_put(o);
        r->rejected++;
        e = nl ? nl + 1 : NULL;
    }
    mdp_buf_puts(&r->errors, "]");
    size_t index = 0;
    for (char *line = lines.data, *end; line && *line; line = end ? end + 1 : NULL, index++) {
        end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        if (!rejected[index]) {
            mdp_buf_append(&ok, line, len);
            r->accepted++;
        }
    }
    free(rejected);
    mdp_buf_cleanup(&lines);
    if (q.count) {
        char batch[64];
        struct mdp_uuid u;
        mdp_uuid7_new(&u);
        mdp_uuid_format(&u, batch);
        struct mdp_diag d = {0};
        if (mdp_quarantine_flush(&q, s->lake, batch, &d))
            mdp_log(MDP_LOG_ERROR, "cannot write quarantine", LOG_STR("error", d.msg), MDP_LF_END);
        s->events_quarantined += r->rejected;
    }
    mdp_quarantine_cleanup(&q);
    if (!r->accepted) {
        mdp_buf_cleanup(&ok);
        r->status = 400;
        mdp_buf_reset(&r->resp);
        mdp_buf_printf(&r->resp,
                       "{\"accepted\":0,\"rejected\":%lld,\"errors\":%s,\"error\":{\"code\":"
                       "\"invalid_events\",\"message\":\"every event was rejected\"}}",
                       (long long)r->rejected, r->errors.data);
        r->ready = 1;
        return queue(r);
    }
    s->events_accepted += r->accepted;
    /* answered only once durable: suspend until the group commit has fsync'd */
    enum MHD_Result ret = commit_and_wait(r, "events", "app_events", day, &ok);
    mdp_buf_cleanup(&ok);
    return ret;
}

static void finish_events(struct req *r)
{
    mdp_buf_reset(&r->resp);
    if (r->commit_rc) {
        r->status = mdp__error(&r->resp, 503, "not_durable",
                               "the events could not be written; nothing was accepted, retry");
        return;
    }
    r->status = r->rejected ? 400 : 202;
    mdp_buf_printf(&r->resp, "{\"accepted\":%lld,\"rejected\":%lld,\"errors\":%s%s}",
                   (long long)r->accepted, (long long)r->rejected, r->errors.data,
                   r->rejected ? ",\"error\":{\"code\":\"invalid_events\",\"message\":\"some "
                                 "events were rejected and quarantined; the others are accepted\"}"
                               : "");
}

/* ---- /v1/ses/sns ---- */

static void record_subscription(struct server *s, json_object *env, const char *type)
{
    const char *topic = NULL, *id = NULL;
    json_object *v;
    if (json_object_object_get_ex(env, "TopicArn", &v)) topic = json_object_get_string(v);
    if (json_object_object_get_ex(env, "MessageId", &v)) id = json_object_get_string(v);
    char sk[200];
    snprintf(sk, sizeof sk, "%s:%s", type, id ? id : "?");
    struct mdp_state_item it = {topic ? topic : "?", sk,
                                json_object_to_json_string_ext(env, JSON_C_TO_STRING_PLAIN), 0};
    struct mdp_diag d = {0};
    pthread_mutex_lock(&s->state_mu);
    int rc = mdp_state_put(s->state, "sns_subscriptions", &it, 0, &d);
    pthread_mutex_unlock(&s->state_mu);
    mdp_log(rc ? MDP_LOG_ERROR : MDP_LOG_INFO, "SNS subscription message", LOG_STR("type", type),
            LOG_STR("topic", topic ? topic : "?"), MDP_LF_END);
    if (strcmp(type, "SubscriptionConfirmation") == 0 &&
        strcmp(s->cfg->serve_sns_confirm, "fetch") == 0 &&
        json_object_object_get_ex(env, "SubscribeURL", &v)) {
        const char *url = json_object_get_string(v);
        /* only AWS's own SNS endpoint, over TLS */
        if (url && strncmp(url, "https://sns.", 12) == 0 && strstr(url, ".amazonaws.com")) {
            CURL *c = curl_easy_init();
            if (c) {
                curl_easy_setopt(c, CURLOPT_URL, url);
                curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
                curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
                CURLcode cr = curl_easy_perform(c);
                mdp_log(cr ? MDP_LOG_ERROR : MDP_LOG_INFO, "SNS subscription confirmed",
                        LOG_STR("result", curl_easy_strerror(cr)), MDP_LF_END);
                curl_easy_cleanup(c);
            }
        }
    }
}

static enum MHD_Result handle_sns(struct req *r)
{
    struct server *s = r->s;
    const char *why;
    json_object *env = mdp__parse_json(r->body.data ? r->body.data : "", r->body.len, &why);
    if (!env || !json_object_is_type(env, json_type_object)) {
        json_object_put(env);
        return fail_now(r, 400, "invalid_json", env ? "an SNS message is a JSON object" : why);
    }
    json_object *v;
    const char *type =
        json_object_object_get_ex(env, "Type", &v) ? json_object_get_string(v) : NULL;
    const char *hdr =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "x-amz-sns-message-type");
    if (!type || (hdr && strcmp(hdr, type) != 0)) {
        json_object_put(env);
        return fail_now(r, 400, "invalid_sns_message",
                        "Type is missing or differs from x-amz-sns-message-type");
    }
    char vwhy[300];
    if (s->verify_sns && mdp__sns_verify(env, s->cert_cache, 1, vwhy, sizeof vwhy)) {
        json_object_put(env);
        return fail_now(r, 403, "invalid_signature", vwhy);
    }
    if (!strcmp(type, "SubscriptionConfirmation") || !strcmp(type, "UnsubscribeConfirmation")) {
        record_subscription(s, env, type);
        r->status = 200;
        mdp_buf_reset(&r->resp);
        mdp_buf_printf(&r->resp, "{\"recorded\":\"%s\"}", type);
        json_object_put(env);
        r->ready = 1;
        return queue(r);
    }
    if (strcmp(type, "Notification") != 0) {
        json_object_put(env);
        return fail_now(r, 400, "invalid_sns_message", "Type is not an SNS message type");
    }
    /* the ses connector's own check of the envelope and the SES message in it */
    const char *line = json_object_to_json_string_ext(env, JSON_C_TO_STRING_PLAIN);
    size_t len = strlen(line);
    int64_t day = mdp_days_from_ms(mdp_time_now_ms());
    struct mdp_ingest_counts c = {0};
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "ses", "http", day);
    mdp_ingest_check("ses/http/dt=1970-01-01/http.json", line, len, &c, &q);
    if (c.quarantined) {
        char batch[40], reason[80] = "invalid_ses_message";
        struct mdp_uuid u;
        mdp_uuid7_new(&u);
        mdp_uuid_format(&u, batch);
        json_object *o = json_tokener_parse(q.lines.data ? q.lines.data : "{}"), *rv;
        if (o && json_object_object_get_ex(o, "reason", &rv))
            snprintf(reason, sizeof reason, "%s", json_object_get_string(rv));
        json_object_put(o);
        struct mdp_diag d = {0};
        mdp_quarantine_flush(&q, s->lake, batch, &d);
        mdp_quarantine_cleanup(&q);
        json_object_put(env);
        s->ses_quarantined++;
        r->status = mdp__error(&r->resp, 400, "invalid_ses_message",
                               "the message was quarantined: %s", reason);
        r->ready = 1;
        return queue(r);
    }
    mdp_quarantine_cleanup(&q);
    /* the day the SES event belongs to: its fact_email_events partition */
    json_object *msg = json_object_object_get_ex(env, "Message", &v)
                           ? json_tokener_parse(json_object_get_string(v))
                           : NULL,
                *mail, *ts;
    int64_t ms;
    r->event_day = day;
    if (msg && json_object_object_get_ex(msg, "mail", &mail) &&
        json_object_object_get_ex(mail, "timestamp", &ts) &&
        mdp_time_parse_iso(json_object_get_string(ts), strlen(json_object_get_string(ts)), &ms) ==
            0)
        r->event_day = mdp_days_from_ms(ms);
    /* as stg_ses: the type's own member's timestamp, when it has one (a complaint comes later) */
    json_object *kind = NULL, *member;
    if (msg && !json_object_object_get_ex(msg, "eventType", &kind))
        json_object_object_get_ex(msg, "notificationType", &kind);
    char mname[32] = "";
    for (const char *k = kind ? json_object_get_string(kind) : ""; *k && strlen(mname) < 31; k++)
        mname[strlen(mname)] = (char)(*k >= 'A' && *k <= 'Z' ? *k + 32 : *k);
    if (mname[0] && json_object_object_get_ex(msg, mname, &member) &&
        json_object_object_get_ex(member, "timestamp", &ts) &&
        mdp_time_parse_iso(json_object_get_string(ts), strlen(json_object_get_string(ts)), &ms) ==
            0)
        r->event_day = mdp_days_from_ms(ms);
    json_object_put(msg);
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_append(&b, line, len);
    mdp_buf_putc(&b, '\n');
    json_object_put(env);
    r->accepted = 1;
    enum MHD_Result ret = commit_and_wait(r, "ses", "http", day, &b);
    mdp_buf_cleanup(&b);
    return ret;
}

static void finish_sns(struct req *r)
{
    mdp_buf_reset(&r->resp);
    if (r->commit_rc) {
        r->status = mdp__error(&r->resp, 503, "not_durable", "the message could not be written");
        return;
    }
    struct server *s = r->s;
    s->ses_accepted++;
    pthread_mutex_lock(&s->days_mu);
    if (!s->ses_dirty || r->event_day < s->ses_from) s->ses_from = r->event_day;
    if (!s->ses_dirty || r->event_day > s->ses_to) s->ses_to = r->event_day;
    s->ses_dirty = 1;
    pthread_mutex_unlock(&s->days_mu);
    r->status = 200;
    mdp_buf_puts(&r->resp, "{\"accepted\":1}");
}

/* ---- /v1/personalize, /v1/feedback ---- */

struct args {
    struct mdp__pz *pz;
    struct mdp__pz_req rq;
    struct mdp_buf *out;
    int status;
};

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    struct args *a = cls;
    a->status = mdp__pz_req_add(a->pz, &a->rq, key, value ? value : "", a->out);
    return a->status ? MHD_NO : MHD_YES;
}

static enum MHD_Result handle_json_route(struct req *r, const char *method)
{
    json_object *req;
    if (strcmp(method, "POST") == 0) {
        if (strncasecmp(content_type(r->conn), "application/json", 16) != 0)
            return fail_now(r, 415, "unsupported_media_type", "send application/json");
        const char *why;
        req = mdp__parse_json(r->body.data ? r->body.data : "", r->body.len, &why);
        if (!req) return fail_now(r, 400, "invalid_json", why);
        if (!json_object_is_type(req, json_type_object)) {
            json_object_put(req);
            return fail_now(r, 400, "invalid_json", "the body is a JSON object");
        }
    } else if (r->route == R_PERSONALIZE) {
        /* the query arguments straight into the request: no JSON on the hot path */
        struct args a = {&r->s->pz, {0}, &r->resp, 0};
        a.rq.onb_day = -1;
        MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg, &a);
        r->status = a.status ? a.status : mdp__personalize_req(&r->s->pz, &a.rq, &r->resp);
        r->ready = 1;
        return queue(r);
    } else {
        return fail_now(r, 405, "method_not_allowed", "this route does not take that method");
    }
    r->status = r->route == R_PERSONALIZE
                    ? mdp__personalize(&r->s->pz, req, &r->resp)
                    : mdp__feedback(
                          &r->s->pz, req,
                          MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key"),
                          &r->resp);
    json_object_put(req);
    r->ready = 1;
    return queue(r);
}

/* ---- health and metrics ---- */

static enum MHD_Result handle_ready(struct req *r)
{
    struct server *s = r->s;
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
    r->ready = 1;
    return queue(r);
}

struct metrics_ud {
    struct mdp_buf *out;
};

static int metric_arm(const struct mdp_bandit_arm *a, void *ud)
{
    struct metrics_ud *m = ud;
    mdp_buf_printf(m->out,
                   "mdp_bandit_decisions_total{context=\"%s\",variant=\"%s\"} %lld\n"
                   "mdp_bandit_feedback_total{context=\"%s\",variant=\"%s\",outcome=\"success\"} "
                   "%lld\n"
                   "mdp_bandit_feedback_total{context=\"%s\",variant=\"%s\",outcome=\"failure\"} "
                   "%lld\n",
                   a->context, a->variant, (long long)a->decisions, a->context, a->variant,
                   (long long)a->successes, a->context, a->variant, (long long)a->failures);
    return 0;
}

static enum MHD_Result handle_metrics(struct req *r)
{
    struct server *s = r->s;
    struct mdp_buf *o = &r->resp;
    mdp_buf_reset(o);
    mdp_buf_puts(o, "# HELP mdp_http_requests_total HTTP requests by route and status class.\n"
                    "# TYPE mdp_http_requests_total counter\n");
    for (int rt = 0; rt < NR; rt++)
        for (int c = 1; c <= 5; c++)
            if (sum_status(s, rt, c))
                mdp_buf_printf(o, "mdp_http_requests_total{route=\"%s\",status=\"%dxx\"} %lld\n",
                               ROUTE_NAMES[rt], c, sum_status(s, rt, c));
    mdp_buf_puts(o, "# HELP mdp_http_request_duration_seconds Time from the request's first "
                    "byte to its response.\n# TYPE mdp_http_request_duration_seconds histogram\n");
    for (int rt = 0; rt < NR; rt++) {
        long long cum = 0, total = 0;
        for (int b = 0; b < NBUCKETS; b++)
            total += sum_hist(s, rt, b);
        if (!total) continue;
        for (int b = 0; b < NBUCKETS; b++) {
            cum += sum_hist(s, rt, b);
            if (b < NBUCKETS - 1)
                mdp_buf_printf(o,
                               "mdp_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                               "%lld\n",
                               ROUTE_NAMES[rt], BUCKETS[b], cum);
            else
                mdp_buf_printf(o,
                               "mdp_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"}"
                               " %lld\n",
                               ROUTE_NAMES[rt], cum);
        }
        mdp_buf_printf(o,
                       "mdp_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                       "mdp_http_request_duration_seconds_count{route=\"%s\"} %lld\n",
                       ROUTE_NAMES[rt], sum_lat(s, rt) / 1e6, ROUTE_NAMES[rt], total);
    }
    mdp_buf_printf(o,
                   "# TYPE mdp_events_accepted_total counter\nmdp_events_accepted_total %lld\n"
                   "# TYPE mdp_events_quarantined_total counter\n"
                   "mdp_events_quarantined_total %lld\n"
                   "# TYPE mdp_ses_accepted_total counter\nmdp_ses_accepted_total %lld\n"
                   "# TYPE mdp_ses_quarantined_total counter\nmdp_ses_quarantined_total %lld\n"
                   "# TYPE mdp_raw_objects_committed_total counter\n"
                   "mdp_raw_objects_committed_total %lld\n"
                   "# TYPE mdp_curate_runs_total counter\nmdp_curate_runs_total %lld\n"
                   "# TYPE mdp_http_in_flight gauge\nmdp_http_in_flight %d\n",
                   (long long)s->events_accepted, (long long)s->events_quarantined,
                   (long long)s->ses_accepted, (long long)s->ses_quarantined,
                   (long long)mdp__committer_objects(s->committer), (long long)s->curate_runs,
                   (int)s->in_flight);
    mdp_buf_puts(o, "# HELP mdp_bandit_decisions_total Decisions of the bandit by context and "
                    "variant (since start); feedback counts are the posterior's.\n"
                    "# TYPE mdp_bandit_decisions_total counter\n"
                    "# TYPE mdp_bandit_feedback_total counter\n");
    struct metrics_ud m = {o};
    mdp_bandit_each(s->bandit, metric_arm, &m);
    r->status = 200;
    r->ctype = "text/plain; version=0.0.4; charset=utf-8";
    r->ready = 1;
    return queue(r);
}

/* ---- the access handler ---- */

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    struct server *s = cls;
    struct req *r = *con_cls;
    if (!r) {
        if (!(r = req_get())) return MHD_NO;
        r->s = s;
        r->conn = c;
        r->t0_us = now_us();
        r->route = route_of(url);
        *con_cls = r;
        int n = ++s->in_flight;
        /* early answers (the body is not read): the connection closes after them */
        if (s->stopping) return fail_now(r, 503, "shutting_down", "the server is shutting down");
        if (n > s->cfg->serve_max_in_flight)
            return fail_now(r, 503, "overloaded", "too many requests in flight; retry later");
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoll(cl, NULL, 10) > s->cfg->serve_max_body)
            return fail_now(r, 413, "body_too_large",
                            "the body is larger than serve.max_body_bytes");
        if (r->route == R_OTHER) return fail_now(r, 404, "not_found", "no such route");
        if (!method_ok(r->route, method))
            return fail_now(r, 405, "method_not_allowed", "this route does not take that method");
        int scope = scope_of(s, r->route);
        int a = scope ? authorize(s, c, scope) : 0;
        if (a == 401)
            return fail_now(r, 401, "unauthorized",
                            "send Authorization: Bearer <key> (a key of serve.keys)");
        if (a == 403) return fail_now(r, 403, "forbidden", "the key lacks this route's scope");
        return MHD_YES; /* the response waits for the whole request (keep-alive) */
    }
    if (r->ready) return MHD_YES; /* an early answer is queued; the rest of the body is dropped */
    if (*upload_size) {
        if (r->body.len + *upload_size > (size_t)s->cfg->serve_max_body)
            r->too_big = 1;
        else if (mdp_buf_append(&r->body, upload, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->waiting) { /* resumed after the group commit */
        if (r->route == R_EVENTS)
            finish_events(r);
        else
            finish_sns(r);
        r->waiting = 0;
        r->ready = 1;
        return queue(r);
    }
    if (r->too_big)
        return fail_now(r, 413, "body_too_large", "the body is larger than serve.max_body_bytes");
    switch (r->route) {
    case R_HEALTH:
        r->status = 200;
        mdp_buf_puts(&r->resp, "{\"status\":\"ok\"}");
        r->ready = 1;
        return queue(r);
    case R_READY:
        return handle_ready(r);
    case R_METRICS:
        return handle_metrics(r);
    case R_EVENTS:
        return handle_events(r);
    case R_SNS:
        return handle_sns(r);
    default:
        return handle_json_route(r, method);
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    struct server *s = cls;
    struct req *r = *con_cls;
    if (!r) return;
    int64_t us = now_us() - r->t0_us;
    int cls100 = r->status >= 100 && r->status < 600 ? r->status / 100 : 5;
    struct slot *sl = my_slot(s);
    sl->status_count[r->route][cls100]++;
    int b = 0;
    while (b < NBUCKETS - 1 && us / 1e6 > BUCKETS[b])
        b++;
    sl->hist[r->route][b]++;
    sl->lat_sum_us[r->route] += us;
    req_put(r); /* MHD is done with the response, which pointed into r->resp */
    *con_cls = NULL;
    s->in_flight--;
}

/* ---- background: snapshot reloads, SES micro-batches ---- */

struct bg {
    struct server *s;
    pthread_t thread;
    atomic_int stop;
};

static void *background(void *arg)
{
    struct bg *g = arg;
    struct server *s = g->s;
    int64_t last_reload = 0, last_curate = 0;
    while (!g->stop) {
        int64_t now = mdp_time_now_ms();
        if (now - last_reload >= s->cfg->serve_reload_s * 1000) {
            struct mdp_diag d = {0};
            int r = mdp__snap_reload(&s->snap, s->lake, &d);
            if (r > 0)
                mdp_log(MDP_LOG_INFO, "serving snapshot loaded",
                        LOG_INT("users", mdp_snapshot_count(s->snap.snap)), MDP_LF_END);
            else if (r < 0)
                mdp_log(MDP_LOG_ERROR, "serving snapshot not loaded", LOG_STR("error", d.msg),
                        MDP_LF_END);
            last_reload = now;
        }
        if (s->ses_dirty && now - last_curate >= s->cfg->serve_ses_publish_s * 1000) {
            /* a micro-batch: the partitions of the days that got new raw objects */
            pthread_mutex_lock(&s->days_mu);
            struct mdp_curate_opts o = {0, s->ses_from, s->ses_to};
            s->ses_dirty = 0;
            pthread_mutex_unlock(&s->days_mu);
            struct mdp_stage_ctx ctx = {s->cfg, s->lake, -1, NULL, NULL, 0};
            struct mdp_run run;
            mdp_run_begin(&run, "curate");
            struct mdp_diag d = {0};
            int rc = mdp_curate(&ctx, &o, &run, &d);
            if (rc) snprintf(run.message, sizeof run.message, "%s", d.msg);
            struct mdp_diag ld = {0};
            mdp_run_end(s->lake, &run, rc ? "failed" : "ok", &ld);
            mdp_log(rc ? MDP_LOG_ERROR : MDP_LOG_INFO, "micro-batch curate",
                    LOG_STR("status", rc ? d.msg : "ok"), MDP_LF_END);
            if (rc) { /* try again next round, with these days too */
                pthread_mutex_lock(&s->days_mu);
                if (!s->ses_dirty || o.from_day < s->ses_from) s->ses_from = o.from_day;
                if (!s->ses_dirty || o.to_day > s->ses_to) s->ses_to = o.to_day;
                s->ses_dirty = 1;
                pthread_mutex_unlock(&s->days_mu);
            }
            s->curate_runs++;
            last_curate = mdp_time_now_ms();
        }
        usleep(100000);
    }
    return NULL;
}

/* ---- start and stop ---- */

static int listen_addr(const char *listen, struct sockaddr_in *sa, struct mdp_diag *d)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    long port;
    if (!colon || colon - listen >= (long)sizeof host || (port = strtol(colon + 1, NULL, 10)) < 0 ||
        port > 65535)
        return mdp_diag_set(d, MDP_ERR_CONFIG, "serve.listen: '%s' is not HOST:PORT", listen);
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sa->sin_addr) != 1)
        return mdp_diag_set(d, MDP_ERR_CONFIG, "serve.listen: '%s' is not an IPv4 address", host);
    return 0;
}

static int decision_key(struct server *s, struct mdp_diag *d)
{
    char *body = NULL;
    int rc = mdp_state_get(s->state, "serve", "decision_key", "k", &body, NULL, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        unsigned char raw[32];
        char hex[65];
        if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
            return mdp_diag_set(d, MDP_ERR_IO, "no randomness for the decision key");
        mdp_hex_encode(raw, sizeof raw, hex);
        hex[64] = '\0';
        struct mdp_state_item it = {"decision_key", "k", hex, 0};
        rc = mdp_state_put(s->state, "serve", &it, MDP_STATE_IF_ABSENT, d);
        if (rc == MDP_ERR_EXISTS) rc = 0;
        if (!rc) rc = mdp_state_get(s->state, "serve", "decision_key", "k", &body, NULL, d);
    }
    if (!rc) snprintf(s->pz.key, sizeof s->pz.key, "%s", body);
    free(body);
    if (!rc && mdp__pz_sign_check(&s->pz))
        rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                          "cannot sign decision ids: the stored decision key is not 64 hex digits "
                          "or OpenSSL lacks SipHash");
    return rc;
}

int mdp_serve(const struct mdp_config *cfg, struct mdp_lake *lake, struct mdp_diag *d)
{
    struct server *s = calloc(1, sizeof *s);
    if (!s) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    s->cfg = cfg;
    s->lake = lake;
    if (!(s->slots = calloc(MAX_SLOTS, sizeof *s->slots))) {
        free(s);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    s->verify_sns = strcmp(cfg->ses_verify, "off") != 0;
    pthread_mutex_init(&s->state_mu, NULL);
    pthread_mutex_init(&s->days_mu, NULL);
    pthread_rwlock_init(&s->snap.lock, NULL);
    struct mdp_buf cc;
    mdp_buf_init(&cc);
    mdp_store_local_path(lake->store, "_meta/cache/sns-certs", &cc);
    snprintf(s->cert_cache, sizeof s->cert_cache, "%s", cc.data ? cc.data : "");
    mdp_buf_cleanup(&cc);
    struct sockaddr_in sa;
    int rc = parse_keys(cfg, &s->keys, &s->nkeys, d);
    if (!rc) rc = listen_addr(cfg->serve_listen, &sa, d);
    if (!rc) rc = mdp_state_open_lake(lake, &s->state, d);
    if (!rc) rc = decision_key(s, d);
    if (!rc) rc = mdp_bandit_open(s->state, &s->bandit, d);
    if (!rc) rc = mdp__catalogue_load(cfg, &s->pz.cat, d);
    if (!rc)
        rc = mdp__committer_start(lake, cfg->serve_log_flush_s, cfg->serve_log_flush_mb,
                                  &s->committer, d);
    if (rc) goto out;
    struct mdp_diag sd = {0};
    if (mdp__snap_reload(&s->snap, lake, &sd) < 0)
        mdp_log(MDP_LOG_ERROR, "serving snapshot not loaded", LOG_STR("error", sd.msg), MDP_LF_END);
    s->pz.cfg = cfg;
    s->pz.bandit = s->bandit;
    s->pz.snap = &s->snap;
    s->pz.state = s->state;
    s->pz.state_mu = &s->state_mu;
    s->pz.committer = s->committer;
    /* SIGTERM and SIGINT are taken by sigwait below, not by a handler in some thread */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    long threads = cfg->serve_threads ? cfg->serve_threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    s->mhd = MHD_start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->serve_max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->serve_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    if (!s->mhd) {
        rc = mdp_diag_set(d, MDP_ERR_IO, "cannot listen on %s: %s", cfg->serve_listen,
                          strerror(errno));
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_in bound;
    socklen_t bl = sizeof bound;
    int port = ntohs(sa.sin_port);
    if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &bl) == 0)
        port = ntohs(bound.sin_port);
    char host[64];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    struct bg g = {s, 0, 0};
    pthread_create(&g.thread, NULL, background, &g);
    if (!s->nkeys)
        mdp_log(MDP_LOG_WARN,
                "serve.keys is empty: every route that needs a key answers 401 (mdp serve "
                "key new makes a key)",
                MDP_LF_END);
    printf("listening on http://%s:%d\n", host, port);
    fflush(stdout);
    mdp_log(MDP_LOG_INFO, "serving", LOG_STR("host", host), LOG_INT("port", port),
            LOG_INT("threads", threads), LOG_INT("keys", s->nkeys), MDP_LF_END);
    int sig = 0;
    sigwait(&set, &sig);
    mdp_log(MDP_LOG_INFO, "shutting down", LOG_INT("signal", sig), MDP_LF_END);
    /* stop accepting; let what is in flight finish (bounded by the request timeout) */
    s->stopping = 1;
    MHD_socket lfd = MHD_quiesce_daemon(s->mhd);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    for (int i = 0; i < cfg->serve_timeout_s * 100 && s->in_flight > 0; i++)
        usleep(10000);
    g.stop = 1;
    pthread_join(g.thread, NULL);
    MHD_stop_daemon(s->mhd);
    printf("stopped\n");
    fflush(stdout);
out:
    mdp__committer_stop(s->committer); /* writes and fsyncs what was queued */
    mdp_bandit_close(s->bandit);
    mdp__catalogue_free(&s->pz.cat);
    mdp_state_close(s->state);
    if (s->snap.snap) mdp_snapshot_close(s->snap.snap);
    pthread_rwlock_destroy(&s->snap.lock);
    pthread_mutex_destroy(&s->state_mu);
    pthread_mutex_destroy(&s->days_mu);
    free(s->keys);
    free(s->slots);
    free(s);
    return rc;
}
