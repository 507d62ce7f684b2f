/* The ses connector: SES feedback as it arrives through SNS. A delivery may be a Lambda SQS event
 * (Records[].body), a Lambda SNS event (Records[].Sns, with SigningCertUrl/UnsubscribeUrl casing),
 * one SNS envelope (an SQS body or an HTTP POST), or the SES JSON itself (raw message delivery).
 * The SES JSON is an identity notification (notificationType Bounce, Complaint, Delivery) or an
 * event-publishing record (eventType Send, Reject, Bounce, Complaint, Delivery, Open, Click,
 * "Rendering Failure", DeliveryDelay, Subscription); each is validated against its documented
 * members. SNS and SQS deliver at least once: a message whose SNS MessageId or SES feedbackId was
 * seen before in the run is counted as a duplicate. */
#include "../ingest_internal.h"
#include "ses.h"
#include "sns_verify.h"
#include "mdp/alloc.h"
#include "mdp/log.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct type {
    const char *name, *member;
    int has_time; /* the member carries its own timestamp */
};

static const struct type NOTIFICATIONS[] = {{"Bounce", "bounce", 1},
                                            {"Complaint", "complaint", 1},
                                            {"Delivery", "delivery", 1},
                                            {NULL, NULL, 0}};
static const struct type EVENTS[] = {{"Send", "send", 0},
                                     {"Reject", "reject", 0},
                                     {"Bounce", "bounce", 1},
                                     {"Complaint", "complaint", 1},
                                     {"Delivery", "delivery", 1},
                                     {"Open", "open", 1},
                                     {"Click", "click", 1},
                                     {"Rendering Failure", "failure", 0},
                                     {"DeliveryDelay", "deliveryDelay", 1},
                                     {"Subscription", "subscription", 1},
                                     {NULL, NULL, 0}};

enum { X_NOTIFICATIONS, X_EVENTS, X_CONTROL, X_VERIFIED };

static const struct type *find(const struct type *t, const char *name)
{
    for (; name && t->name; t++)
        if (strcmp(t->name, name) == 0) return t;
    return NULL;
}

/* SES timestamps are ISO-8601, usually UTC with ms, sometimes with an offset or a space before it.
 */
static int ses_time(json_object *o, const char *k, int64_t *ms)
{
    return mdp__jtime(o, k, ms);
}

static int strings_array(json_object *a, int nonempty)
{
    if (!a || !json_object_is_type(a, json_type_array)) return 0;
    size_t n = json_object_array_length(a);
    if (nonempty && n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!json_object_is_type(json_object_array_get_idx(a, i), json_type_string)) return 0;
    return 1;
}

static int recipients(json_object *m, const char *k)
{
    json_object *a = mdp__jarr(m, k);
    if (!a || json_object_array_length(a) == 0) return 0;
    for (size_t i = 0; i < json_object_array_length(a); i++)
        if (!mdp__jget(json_object_array_get_idx(a, i), "emailAddress")) return 0;
    return 1;
}

/* The parts one after the other into dst (dn bytes, cut like snprintf): the dedup ids are made
 * for every record, and snprintf's format parsing is most of what they would cost. */
static const char *join(char *dst, size_t dn, const char *const *parts)
{
    size_t k = 0;
    for (; *parts; parts++)
        for (const char *q = *parts; *q && k + 1 < dn; q++)
            dst[k++] = *q;
    dst[k] = '\0';
    return dst;
}

/* v in decimal, in buf (24 bytes). */
static const char *i64(char *buf, int64_t v)
{
    char *q = buf + 23;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    *q = '\0';
    do
        *--q = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--q = '-';
    return q;
}

/* Validates the SES JSON. Returns NULL or the reason (detail says more); sets the event time and
 * the SES-level dedup id (feedbackId, or messageId/type/time for events without one). */
static const char *validate_ses(json_object *r, const char **detail, int64_t *ts, char *id,
                                size_t idn, int *is_event)
{
    /* the members are found in one walk over each object, not a hash lookup each */
    enum { NT, ET, MAIL };
    static const char *const RN[] = {"notificationType", "eventType", "mail", NULL};
    enum { MID, MTS, DEST, TAGS };
    static const char *const MN[] = {"messageId", "timestamp", "destination", "tags", NULL};
    json_object *rm[3], *mm[4];
    mdp__jmembers(r, RN, rm);
    const char *nt = mdp__jtext(rm[NT]), *et = mdp__jtext(rm[ET]);
    const struct type *t;
    *is_event = et != NULL;
    if (nt && strcmp(nt, "AmazonSnsSubscriptionSucceeded") == 0) return *detail = "control", NULL;
    if (!nt && !et)
        return *detail = "neither notificationType nor eventType", "ses_unknown_payload";
    if (!(t = find(nt ? NOTIFICATIONS : EVENTS, nt ? nt : et)))
        return *detail = nt ? nt : et, "ses_unknown_type";
    json_object *mail = json_object_is_type(rm[MAIL], json_type_object) ? rm[MAIL] : NULL;
    if (!mail) return *detail = "mail", "ses_missing_mail";
    unsigned has = mdp__jmembers(mail, MN, mm);
    const char *mid = mdp__jtext(mm[MID]), *mts = mdp__jtext(mm[MTS]);
    if (!mid || !*mid) return *detail = "mail.messageId", "ses_missing_message_id";
    int64_t mail_ts;
    if (!mts || mdp_time_parse_iso(mts, (size_t)-1, &mail_ts))
        return *detail = "mail.timestamp", "ses_invalid_timestamp";
    if (!strings_array(mm[DEST], 1))
        return *detail = "mail.destination must be a non-empty array of strings",
               "ses_invalid_mail";
    json_object *tags = json_object_is_type(mm[TAGS], json_type_object) ? mm[TAGS] : NULL;
    if (has & 1u << TAGS && !tags) /* present, null included, and no object */
        return *detail = "mail.tags must be an object", "ses_invalid_tags";
    if (tags) {
        json_object_object_foreach(tags, k, v)
        {
            (void)k;
            if (!strings_array(v, 0))
                return *detail = "every tag value is an array of strings", "ses_invalid_tags";
        }
    }
    json_object *m = mdp__jobj(r, t->member);
    if (!m) return *detail = t->member, "ses_missing_member";
    *ts = mail_ts;
    if (t->has_time && ses_time(m, "timestamp", ts))
        return *detail = "the member's timestamp", "ses_invalid_timestamp";
    const char *fid = NULL;
    if (strcmp(t->member, "bounce") == 0) {
        const char *bt = mdp__jget(m, "bounceType");
        if (!bt ||
            (strcmp(bt, "Permanent") && strcmp(bt, "Transient") && strcmp(bt, "Undetermined")))
            return *detail = "bounce.bounceType", "ses_invalid_bounce";
        if (!recipients(m, "bouncedRecipients"))
            return *detail = "bounce.bouncedRecipients", "ses_invalid_bounce";
        fid = mdp__jget(m, "feedbackId");
    } else if (strcmp(t->member, "complaint") == 0) {
        if (!recipients(m, "complainedRecipients"))
            return *detail = "complaint.complainedRecipients", "ses_invalid_complaint";
        fid = mdp__jget(m, "feedbackId");
    } else if (strcmp(t->member, "delivery") == 0) {
        if (!strings_array(mdp__jarr(m, "recipients"), 1))
            return *detail = "delivery.recipients", "ses_invalid_delivery";
    } else if (strcmp(t->member, "click") == 0) {
        if (!mdp__jget(m, "link")) return *detail = "click.link", "ses_invalid_click";
    }
    char num[24];
    if (fid)
        join(id, idn, (const char *[]){"feedback:", fid, NULL});
    else
        join(id, idn, (const char *[]){"event:", mid, ":", t->name, ":", i64(num, *ts), NULL});
    return NULL;
}

/* Counts one record as a duplicate if any of its ids (a: alen bytes, from mdp__dedup_key; b: text)
 * was seen; adds all of them. */
static int seen_any(struct mdp_check *ck, const char *a, size_t alen, const char *b)
{
    if (!ck->seen && !ck->win) return 0;
    int dup = 0;
    const char *ids[2] = {a, b};
    size_t lens[2] = {alen, b ? strlen(b) : 0};
    if (b) mdp__check_prefetch_key(ck, b, lens[1]); /* its miss beside a's (prefetched earlier) */
    for (int i = 0; i < 2; i++) {
        if (!ids[i]) continue;
        int rc = mdp__check_seen_n(ck, ids[i], lens[i]);
        if (rc < 0) return rc;
        if (rc == 1) dup = 1;
    }
    if (dup) {
        int stop = mdp_check_duplicate(ck);
        if (stop) return stop < 0 ? stop : -1;
    }
    return dup;
}

/* Where a record is and what it came as, for its verdict: the location and the quarantined bytes
 * are made only when the record is bad. */
struct where {
    size_t rec;      /* its index in Records[] */
    int in_records;  /* 0: the delivery is the record (location: the key) */
    const char *raw; /* the record's bytes, or NULL: obj, serialized */
    size_t rawlen;
    json_object *obj;  /* the record (Records[] element) when raw is NULL */
    json_tokener *tok; /* the delivery's, reused for every layer; NULL: one per parse */
};

static int bad(struct mdp_check *ck, const struct where *w, const char *why, const char *detail)
{
    char loc[600];
    const char *raw = w->raw;
    size_t len = w->rawlen;
    if (!raw) {
        raw = json_object_to_json_string_ext(w->obj, JSON_C_TO_STRING_PLAIN);
        len = strlen(raw);
    }
    if (w->in_records)
        mdp__loc(loc, sizeof loc, ck->key, "#Records[%zu]", w->rec);
    else
        snprintf(loc, sizeof loc, "%s", ck->key);
    return mdp_check_bad(ck, why, loc, detail, raw, len);
}

/* One SES JSON (raw delivery or an envelope's Message). env_id: the key of the SNS MessageId
 * (env_len bytes) or NULL. */
static int take_ses(struct mdp_check *ck, json_object *r, const char *env_id, size_t env_len,
                    const struct where *w)
{
    const char *detail = NULL;
    int64_t ts = -1;
    char id[512] = "";
    int is_event = 0;
    const char *why = validate_ses(r, &detail, &ts, id, sizeof id, &is_event);
    if (why) return bad(ck, w, why, detail);
    if (detail && strcmp(detail, "control") == 0) {
        ck->c->extra[X_CONTROL]++;
        return mdp_check_ok(ck, -1);
    }
    int dup = seen_any(ck, env_id, env_len, id);
    if (dup < 0) return dup;
    if (!dup) {
        ck->c->extra[is_event ? X_EVENTS : X_NOTIFICATIONS]++;
        return mdp_check_ok(ck, ts);
    }
    return 0;
}

/* The members of an SNS envelope take_envelope reads, found in one walk (mdp__jmembers). */
enum { E_TYPE, E_MID, E_TOPIC, E_MSG };
static const char *const ENV[] = {"Type", "MessageId", "TopicArn", "Message", NULL};

/* An SNS envelope; em: its members ENV (from mdp__jmembers). */
static int take_envelope(struct mdp_check *ck, json_object *env, json_object *const *em,
                         const struct where *w)
{
    const char *type = mdp__jtext(em[E_TYPE]), *mid = mdp__jtext(em[E_MID]);
    if (!type || !mid || !mdp__jtext(em[E_TOPIC]))
        return bad(ck, w, "sns_envelope_invalid", "Type, MessageId and TopicArn are required");
    const struct mdp__ses_state *st = ck->state;
    if (st && st->verify) {
        char why[256];
        if (mdp__sns_verify(env, st->cert_cache, 1, why, sizeof why))
            return bad(ck, w, "sns_signature_invalid", why);
        ck->c->extra[X_VERIFIED]++;
    }
    char env_id[300];
    size_t env_len = mdp__dedup_key("sns", mid, strlen(mid), env_id, sizeof env_id);
    if (!env_len) /* as cut before: the first 299 bytes of "sns:<MessageId>" */
        env_len = strlen(join(env_id, sizeof env_id, (const char *[]){"sns:", mid, NULL}));
    mdp__check_prefetch_key(ck, env_id, env_len); /* its miss under the Message's parse */
    if (strcmp(type, "SubscriptionConfirmation") == 0 ||
        strcmp(type, "UnsubscribeConfirmation") == 0) {
        int dup = seen_any(ck, env_id, env_len, NULL);
        if (dup < 0) return dup;
        if (!dup) {
            ck->c->extra[X_CONTROL]++;
            mdp_check_ok(ck, -1);
        }
        return 0;
    }
    if (strcmp(type, "Notification") != 0) return bad(ck, w, "sns_unknown_type", type);
    json_object *msg = em[E_MSG];
    if (!json_object_is_type(msg, json_type_string))
        return bad(ck, w, "sns_envelope_invalid", "no Message string");
    enum json_tokener_error err;
    json_object *r = mdp__json_exact_tok(w->tok, json_object_get_string(msg),
                                         (size_t)json_object_get_string_len(msg), &err);
    int rc;
    if (!r || !json_object_is_type(r, json_type_object))
        rc = bad(ck, w, r ? "sns_message_not_object" : "sns_message_invalid",
                 r ? "Message must hold a JSON object" : json_tokener_error_desc(err));
    else
        rc = take_ses(ck, r, env_id, env_len, w);
    json_object_put(r);
    return rc;
}

/* A body, parsed: an SNS envelope, or (raw message delivery) the SES JSON. */
static int take_object(struct mdp_check *ck, json_object *o, const struct where *w)
{
    json_object *em[4];
    mdp__jmembers(o, ENV, em);
    if (mdp__jtext(em[E_TYPE]) && mdp__jtext(em[E_TOPIC])) return take_envelope(ck, o, em, w);
    return take_ses(ck, o, NULL, 0, w);
}

/* An SQS body or HTTP POST body (w->raw): an SNS envelope, or (raw message delivery) the SES
 * JSON. */
static int take_body(struct mdp_check *ck, const struct where *w)
{
    enum json_tokener_error err;
    json_object *o = mdp__json_exact_tok(w->tok, w->raw, w->rawlen, &err);
    int rc;
    if (!o) {
        rc = bad(ck, w, err == json_tokener_continue ? "sns_body_truncated" : "sns_body_invalid",
                 json_tokener_error_desc(err));
    } else if (!json_object_is_type(o, json_type_object)) {
        rc = bad(ck, w, "sns_body_not_object", "the body must be a JSON object");
    } else {
        rc = take_object(ck, o, w);
    }
    json_object_put(o);
    return rc;
}

static int check(struct mdp_check *ck, const char *p, size_t n)
{
    enum json_tokener_error err;
    json_tokener *tok = mdp__json_tokener(); /* the thread's; NULL: one per parse */
    json_object *top = mdp__json_exact_tok(tok, p, n, &err);
    int rc = 0;
    if (!top || !json_object_is_type(top, json_type_object)) {
        rc =
            mdp_check_bad(ck, top ? "json_not_object" : mdp__json_reason(err), ck->key,
                          top ? "a delivery is a JSON object" : json_tokener_error_desc(err), p, n);
        goto out;
    }
    json_object *recs = mdp__jarr(top, "Records");
    if (!recs) { /* the delivery is one body: parsed above, not again */
        struct where w = {0, 0, p, n, NULL, tok};
        rc = take_object(ck, top, &w);
        goto out;
    }
    for (size_t i = 0; i < json_object_array_length(recs) && !rc; i++) {
        json_object *r = json_object_array_get_idx(recs, i), *v, *sns;
        struct where w = {i, 1, NULL, 0, r, tok};
        if (json_object_is_type(r, json_type_object) && json_object_object_get_ex(r, "body", &v) &&
            json_object_is_type(v, json_type_string)) {
            w.raw = json_object_get_string(v);
            w.rawlen = (size_t)json_object_get_string_len(v);
            rc = take_body(ck, &w);
        } else if ((sns = mdp__jobj(r, "Sns"))) {
            w.obj = sns; /* its bytes are the Sns object's, serialized when it is bad */
            json_object *em[4];
            mdp__jmembers(sns, ENV, em);
            rc = take_envelope(ck, sns, em, &w);
        } else {
            rc = bad(ck, &w, "sqs_record_invalid", "neither an SQS body nor an SNS record");
        }
    }
out:
    json_object_put(top);
    mdp__json_tokener_put(tok);
    return rc;
}

/* Whether file deliveries have their SNS signatures checked: --verify-signatures, or
 * sources.ses.verify_signatures: always. The decision is logged, since replayed files are trusted
 * by default. The certificates are cached in the lake. */
static int ses_init(struct mdp_connector_run *r, struct mdp_diag *d)
{
    (void)d;
    struct mdp__ses_state *st = mdp_calloc(1, sizeof *st);
    if (!st) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    int flag = mdp_connector_run_has_flag(r, "--verify-signatures");
    st->verify = flag || strcmp(r->cfg->ses_verify, "always") == 0;
    struct mdp_buf cache;
    mdp_buf_init(&cache);
    if (st->verify && r->lake &&
        mdp_store_local_path(r->lake->store, "_meta/cache/sns-certs", &cache) == 0) {
        struct mdp_diag cd = {0};
        /* the folder must exist for the cache to be written */
        mdp_store_put(r->lake->store, "_meta/cache/sns-certs/README",
                      "SNS signing certificates by SHA-256 of their URL\n", 50, 0, &cd);
        if (!(st->cert_cache = mdp_buf_steal(&cache))) { /* else certificates go uncached */
            free(st);
            return mdp_diag_set(d, MDP_ERR_NOMEM,
                                "ses: out of memory naming the certificate cache");
        }
    }
    mdp_buf_cleanup(&cache);
    mdp_log(MDP_LOG_INFO,
            st->verify ? "SNS signatures of file deliveries are verified"
                       : "SNS signatures of file deliveries are not verified (file replay)",
            LOG_STR("setting", flag ? "--verify-signatures" : "sources.ses.verify_signatures"),
            MDP_LF_END);
    r->state = st;
    return 0;
}

static void ses_exit(struct mdp_connector_run *r)
{
    struct mdp__ses_state *st = r->state;
    if (st) free(st->cert_cache);
    free(st);
    r->state = NULL;
}

/* Its configuration map: the sources.ses.* keys (`mdp config keys` lists them). */
static const struct mdp_config_key CONFIG[] = {
    {"sources.ses.verify_signatures", MDP_CFG_ENUM, MDP_CONFIG_OFF(ses_verify), "http", 0, 0,
     "http|always|off",
     "SNS signature verification: `http` checks messages that arrive over HTTP and trusts file "
     "replay (the decision is logged); `always` checks file replay too (needs the signing "
     "certificates, fetched from SNS once and cached in <lake>/_meta/cache/sns-certs/); `off` "
     "checks none, and `mdp serve`'s SNS endpoint then demands an API key of scope collect "
     "instead (local tests, or a proxy that verifies)."},
    {NULL, MDP_CFG_STR, 0, NULL, 0, 0, NULL, NULL}};

static const struct mdp_connector_flag FLAGS[] = {
    {"--verify-signatures", "check every SNS signature of the file deliveries"}, {NULL, NULL}};

const struct mdp_connector MDP__CONNECTOR_SES = {
    .name = "ses",
    .source = "ses",
    .summary = "SES feedback (notifications, event publishing) through SNS, SQS or HTTP",
    .help =
        "Usage: mdp ingest ses [--date D] [--dir LAKE] [--verify-signatures]\n"
        "\n"
        "Takes SES feedback from <landing>/ses/<channel>/dt=D/*.json, where a file is a Lambda "
        "SQS\n"
        "event (Records[].body), a Lambda SNS event (Records[].Sns), one SNS envelope (an SQS "
        "body\n"
        "or an HTTP POST body) or, with raw message delivery, the SES JSON itself. The SES JSON "
        "is\n"
        "an identity notification (Bounce, Complaint, Delivery) or an event-publishing record\n"
        "(Send, Reject, Bounce, Complaint, Delivery, Open, Click, Rendering Failure,\n"
        "DeliveryDelay, Subscription); tags are arrays of strings. A message seen before (same\n"
        "SNS MessageId or SES feedbackId) counts as a duplicate.\n"
        "\n"
        "--verify-signatures  check every SNS signature (SignatureVersion 1 and 2; the\n"
        "                     certificate URL must be https on an SNS host). Off for file replay\n"
        "                     by default (sources.ses.verify_signatures); certificates are cached\n"
        "                     in <lake>/_meta/cache/sns-certs/.\n",
    .landing_prefix = "ses/",
    .dataset = NULL,
    .ext = "json",
    .config = CONFIG,
    .extra_names = {"notifications", "events", "control messages", "signatures verified"},
    .sample_key = "ses/sqs/dt=2026-10-01/b.json",
    .flags = FLAGS,
    .init = ses_init,
    .exit = ses_exit,
    .check = check,
};
