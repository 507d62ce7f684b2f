/* POST /v1/ses/sns (server.h's MDP__ROUTES): the HTTP(S) subscription endpoint of the SES feedback
 * topic. Subscription messages are recorded in the state store (and confirmed when configured); a
 * Notification gets the ses connector's check, is group-committed to raw/ses/http/ before the
 * answer, and marks its event day for the next micro-batch curate (background.c). */
#include "mdp/ingest.h"
#include "mdp/log.h"
#include "mdp/time.h"
#include "mdp/uuid.h"
#include "mdp/net.h"
#include "server.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

struct sns_state {
    int64_t event_day; /* the fact_email_events partition of the message */
};

static void record_subscription(struct mdp_server *s, json_object *env, const char *type)
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
                mdp_net_curl_tls(c);
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

/* the day of o's string member "timestamp" into *day; a missing, null, non-string or unreadable
 * one leaves it */
static void timestamp_day(json_object *o, int64_t *day)
{
    json_object *ts;
    int64_t ms;
    if (json_object_object_get_ex(o, "timestamp", &ts) &&
        json_object_is_type(ts, json_type_string) &&
        mdp_time_parse_iso(json_object_get_string(ts), (size_t)json_object_get_string_len(ts),
                           &ms) == 0)
        *day = mdp_days_from_ms(ms);
}

int64_t mdp__sns_event_day(json_object *env, int64_t day)
{
    json_object *v;
    json_object *msg = json_object_object_get_ex(env, "Message", &v) &&
                               json_object_is_type(v, json_type_string)
                           ? json_tokener_parse(json_object_get_string(v))
                           : NULL,
                *mail;
    if (msg && json_object_object_get_ex(msg, "mail", &mail)) timestamp_day(mail, &day);
    /* as stg_ses: the type's own member's timestamp, when it has one (a complaint comes later) */
    json_object *kind = NULL, *member;
    if (msg && !json_object_object_get_ex(msg, "eventType", &kind))
        json_object_object_get_ex(msg, "notificationType", &kind);
    char mname[32] = "";
    if (json_object_is_type(kind, json_type_string))
        for (const char *k = json_object_get_string(kind); *k && strlen(mname) < 31; k++)
            mname[strlen(mname)] = (char)(*k >= 'A' && *k <= 'Z' ? *k + 32 : *k);
    if (mname[0] && json_object_object_get_ex(msg, mname, &member)) timestamp_day(member, &day);
    json_object_put(msg);
    return day;
}

/* mdp_ingest_verdicts' callback: keeps the reason of the first quarantined record */
static int first_reason(void *ud, const struct mdp_verdict *v)
{
    char *reason = ud;
    if (v->kind == MDP_VERDICT_QUARANTINED && v->reason &&
        strcmp(reason, "invalid_ses_message") == 0)
        snprintf(reason, 80, "%s", v->reason);
    return 0;
}

static void sns_committed(struct mdp__req *r)
{
    struct sns_state *st = r->ud;
    mdp_buf_reset(&r->resp);
    if (r->commit_rc) {
        r->status = mdp__error(&r->resp, 503, "not_durable", "the message could not be written");
        return;
    }
    r->s->metrics.ses_accepted++;
    mdp__ses_day_dirty(r->s, st->event_day);
    r->status = 200;
    mdp_buf_puts(&r->resp, "{\"accepted\":1}");
}

enum MHD_Result mdp__route_sns(struct mdp__req *r)
{
    struct mdp_server *s = r->s;
    const char *why;
    json_object *env = mdp__parse_json(r->body.data ? r->body.data : "", r->body.len, &why);
    if (!env || !json_object_is_type(env, json_type_object)) {
        json_object_put(env);
        return mdp__fail(r, 400, "invalid_json", env ? "an SNS message is a JSON object" : why);
    }
    json_object *v;
    const char *type =
        json_object_object_get_ex(env, "Type", &v) ? json_object_get_string(v) : NULL;
    const char *hdr = mdp__header(r, "x-amz-sns-message-type");
    if (!type || (hdr && strcmp(hdr, type) != 0)) {
        json_object_put(env);
        return mdp__fail(r, 400, "invalid_sns_message",
                         "Type is missing or differs from x-amz-sns-message-type");
    }
    char vwhy[300];
    if (s->verify_sns &&
        mdp_ingest_sns_verify(r->body.data, r->body.len, s->cert_cache, 1, vwhy, sizeof vwhy)) {
        json_object_put(env);
        return mdp__fail(r, 403, "invalid_signature", vwhy);
    }
    if (!strcmp(type, "SubscriptionConfirmation") || !strcmp(type, "UnsubscribeConfirmation")) {
        record_subscription(s, env, type);
        r->status = 200;
        mdp_buf_reset(&r->resp);
        mdp_buf_printf(&r->resp, "{\"recorded\":\"%s\"}", type);
        json_object_put(env);
        return mdp__respond(r);
    }
    if (strcmp(type, "Notification") != 0) {
        json_object_put(env);
        return mdp__fail(r, 400, "invalid_sns_message", "Type is not an SNS message type");
    }
    struct sns_state *st = mdp__arena_alloc(&r->arena, sizeof *st);
    if (!st) {
        json_object_put(env);
        return mdp__fail(r, 503, "out_of_memory", "the server is short of memory; retry");
    }
    r->ud = st;
    /* the ses connector's own check of the envelope and the SES message in it */
    const char *line = json_object_to_json_string_ext(env, JSON_C_TO_STRING_PLAIN);
    size_t len = strlen(line);
    int64_t day = mdp_days_from_ms(mdp_time_now_ms());
    struct mdp_ingest_counts c = {0};
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "ses", "http", day);
    char reason[80] = "invalid_ses_message";
    int rc =
        mdp_ingest_verdicts("ses", "ses/http", line, len, s->cfg, &q, first_reason, reason, &c);
    if (rc == 0 && c.quarantined) {
        char batch[40];
        struct mdp_uuid u;
        mdp_uuid7_new(&u);
        mdp_uuid_format(&u, batch);
        struct mdp_diag d = {0};
        mdp_quarantine_flush(&q, s->lake, batch, &d);
        mdp_quarantine_cleanup(&q);
        json_object_put(env);
        s->metrics.ses_quarantined++;
        r->status = mdp__error(&r->resp, 400, "invalid_ses_message",
                               "the message was quarantined: %s", reason);
        return mdp__respond(r);
    }
    if (rc) {
        mdp_quarantine_cleanup(&q);
        json_object_put(env);
        return mdp__fail(r, 503, "out_of_memory", "the server is short of memory; retry");
    }
    mdp_quarantine_cleanup(&q);
    st->event_day = mdp__sns_event_day(env, day);
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_append(&b, line, len);
    mdp_buf_putc(&b, '\n');
    json_object_put(env);
    enum MHD_Result ret = mdp__commit_and_wait(r, "ses", "http", day, &b, sns_committed);
    mdp_buf_cleanup(&b);
    return ret;
}
