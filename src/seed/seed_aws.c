/* Seed generator, part 2: AWS sources. SES feedback (identity notifications and event publishing)
 * wrapped in SNS envelopes as SNS writes them (pretty-printed, " : " separators, Message a compact
 * JSON string), delivered as Lambda SQS events; and DynamoDB change records of VcTokens and
 * ConsentJournal in the Kinesis-Data-Streams-for-DynamoDB shape, concatenated into Firehose objects
 * (no delimiter by default; the newline delimiter after a mid-window configuration change). */
#include "seed_internal.h"
#include "mdp/hash.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGION      "eu-central-1"
#define ACCOUNT     "123456789012"
#define SOURCE_ADDR "no-reply@mail.example.com"
#define FROM_HDR    "matbakh.app <no-reply@mail.example.com>"

static const char *const UA_MOBILE =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148";
static const char *const UA_DESKTOP =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36";

static void ses_message_id(struct mdp__seed *s, int64_t t, char out[80])
{
    char u[37];
    mdp__uuid4(s, u);
    snprintf(out, 80, "0102%012llx-%s-000000", (unsigned long long)t, u);
}

static json_object *str_array1(const char *v)
{
    json_object *a = json_object_new_array();
    json_object_array_add(a, mdp__jstr(v));
    return a;
}

struct mail_info {
    const char *email, *subject, *config_set, *campaign, *copy, *subj_variant;
    char message_id[80];
    int64_t sent_ms;
};

static json_object *header(const char *name, const char *value)
{
    json_object *h = json_object_new_object();
    json_object_object_add(h, "name", mdp__jstr(name));
    json_object_object_add(h, "value", mdp__jstr(value));
    return h;
}

/* The `mail` object. with_headers: headersTruncated/headers/commonHeaders present. */
static json_object *mail_obj(struct mdp__seed *s, const struct mail_info *m, int with_headers,
                             int with_source_arn, int with_tags)
{
    char ts[32];
    mdp__iso(m->sent_ms, ts);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "timestamp", mdp__jstr(ts));
    json_object_object_add(o, "source", mdp__jstr(SOURCE_ADDR));
    if (with_source_arn)
        json_object_object_add(
            o, "sourceArn",
            mdp__jstr("arn:aws:ses:" REGION ":" ACCOUNT ":identity/mail.example.com"));
    if (!with_tags) json_object_object_add(o, "sourceIp", mdp__jstr("203.0.113.10"));
    json_object_object_add(o, "sendingAccountId", mdp__jstr(ACCOUNT));
    json_object_object_add(o, "messageId", mdp__jstr(m->message_id));
    json_object_object_add(o, "destination", str_array1(m->email));
    if (with_headers) {
        json_object_object_add(o, "headersTruncated", json_object_new_boolean(0));
        json_object *h = json_object_new_array();
        json_object_array_add(h, header("From", FROM_HDR));
        json_object_array_add(h, header("To", m->email));
        json_object_array_add(h, header("Subject", m->subject));
        json_object_array_add(h, header("MIME-Version", "1.0"));
        json_object_array_add(
            h, header("Content-Type", "multipart/alternative; boundary=\"XBoundary\""));
        char date[40];
        if (!with_tags) {
            /* RFC 5322 date of the send time */
            static const char *wd[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
            static const char *mn[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
            int64_t days = mdp_days_from_ms(m->sent_ms), y;
            unsigned mo, dd;
            mdp_civil_from_days(days, &y, &mo, &dd);
            int64_t rem = m->sent_ms - days * MDP_MS_PER_DAY;
            snprintf(date, sizeof date, "%s, %02u %s %04d %02d:%02d:%02d +0000",
                     wd[mdp_weekday_iso(days) - 1], dd, mn[mo - 1], (int)y, (int)(rem / 3600000),
                     (int)(rem / 60000 % 60), (int)(rem / 1000 % 60));
            json_object_array_add(h, header("Date", date));
        }
        if (with_tags) {
            char tags[200];
            snprintf(tags, sizeof tags, "campaign_id=%s, copy_variant=%s, subject_variant=%s",
                     m->campaign, m->copy, m->subj_variant);
            json_object_array_add(h, header("X-SES-CONFIGURATION-SET", m->config_set));
            json_object_array_add(h, header("X-SES-MESSAGE-TAGS", tags));
        }
        json_object_object_add(o, "headers", h);
        json_object *ch = json_object_new_object();
        json_object_object_add(ch, "from", str_array1(FROM_HDR));
        if (!with_tags) json_object_object_add(ch, "date", mdp__jstr(date));
        json_object_object_add(ch, "to", str_array1(m->email));
        json_object_object_add(ch, "messageId", mdp__jstr(m->message_id));
        json_object_object_add(ch, "subject", mdp__jstr(m->subject));
        json_object_object_add(o, "commonHeaders", ch);
    }
    if (with_tags) {
        json_object *t = json_object_new_object();
        json_object_object_add(t, "ses:operation", str_array1("SendEmail"));
        json_object_object_add(t, "ses:configuration-set", str_array1(m->config_set));
        json_object_object_add(t, "ses:source-ip", str_array1("203.0.113.10"));
        json_object_object_add(t, "ses:from-domain", str_array1("mail.example.com"));
        json_object_object_add(t, "ses:caller-identity", str_array1("matbakh-mailer"));
        json_object_object_add(t, "campaign_id", str_array1(m->campaign));
        json_object_object_add(t, "copy_variant", str_array1(m->copy));
        json_object_object_add(t, "subject_variant", str_array1(m->subj_variant));
        json_object_object_add(o, "tags", t);
    }
    (void)s;
    return o;
}

/* Bounce member. Identity notifications lead with feedbackId and carry remoteMtaIp; event
 * publishing puts feedbackId after the timestamp and has no remoteMtaIp (as the SES examples). */
static json_object *bounce_obj(struct mdp__seed *s, const struct mail_info *m, int64_t t, int ep)
{
    char ts[32], fid[80];
    mdp__iso(t, ts);
    ses_message_id(s, t, fid);
    int permanent = mdp__rng_chance(&s->r, 0.7);
    json_object *b = json_object_new_object();
    if (!ep) json_object_object_add(b, "feedbackId", mdp__jstr(fid));
    json_object_object_add(b, "bounceType", mdp__jstr(permanent ? "Permanent" : "Transient"));
    json_object_object_add(b, "bounceSubType", mdp__jstr(permanent ? "General" : "MailboxFull"));
    json_object *rs = json_object_new_array(), *r = json_object_new_object();
    json_object_object_add(r, "emailAddress", mdp__jstr(m->email));
    json_object_object_add(r, "action", mdp__jstr("failed"));
    json_object_object_add(r, "status", mdp__jstr(permanent ? "5.1.1" : "4.2.2"));
    char diag[200];
    snprintf(diag, sizeof diag, "smtp; %s <%s>: %s", permanent ? "550 5.1.1" : "452 4.2.2",
             m->email, permanent ? "Recipient address rejected: User unknown" : "Mailbox full");
    json_object_object_add(r, "diagnosticCode", mdp__jstr(diag));
    json_object_array_add(rs, r);
    json_object_object_add(b, "bouncedRecipients", rs);
    json_object_object_add(b, "timestamp", mdp__jstr(ts));
    if (ep) json_object_object_add(b, "feedbackId", mdp__jstr(fid));
    if (!ep) json_object_object_add(b, "remoteMtaIp", mdp__jstr("198.51.100.25"));
    json_object_object_add(b, "reportingMTA", mdp__jstr("dsn; a8-12.smtp-out.amazonses.com"));
    return b;
}

static json_object *complaint_obj(struct mdp__seed *s, const struct mail_info *m, int64_t t)
{
    char ts[32], fid[80], arrival[40];
    mdp__iso(t, ts);
    ses_message_id(s, t, fid);
    /* the feedback loop reports arrival in its own zone: +01:00 */
    mdp__iso(t - 4000 + 3600000, arrival);
    arrival[23] = '\0';
    strcat(arrival, "+01:00");
    json_object *c = json_object_new_object();
    json_object_object_add(c, "feedbackId", mdp__jstr(fid));
    json_object_object_add(c, "complaintSubType", NULL);
    json_object *rs = json_object_new_array(), *r = json_object_new_object();
    json_object_object_add(r, "emailAddress", mdp__jstr(m->email));
    json_object_array_add(rs, r);
    json_object_object_add(c, "complainedRecipients", rs);
    json_object_object_add(c, "timestamp", mdp__jstr(ts));
    json_object_object_add(c, "userAgent", mdp__jstr("ExampleMail Feedback Loop (V0.01)"));
    json_object_object_add(c, "complaintFeedbackType", mdp__jstr("abuse"));
    json_object_object_add(c, "arrivalDate", mdp__jstr(arrival));
    return c;
}

static json_object *delivery_obj(struct mdp__seed *s, const struct mail_info *m, int64_t t, int ep)
{
    char ts[32];
    mdp__iso(t, ts);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "timestamp", mdp__jstr(ts));
    json_object_object_add(o, "processingTimeMillis", json_object_new_int64(t - m->sent_ms));
    json_object_object_add(o, "recipients", str_array1(m->email));
    json_object_object_add(o, "smtpResponse", mdp__jstr("250 2.0.0 OK  1730815409 ok"));
    if (!ep) json_object_object_add(o, "remoteMtaIp", mdp__jstr("198.51.100.40"));
    json_object_object_add(o, "reportingMTA", mdp__jstr("a8-70.smtp-out.amazonses.com"));
    (void)s;
    return o;
}

/* SNS envelope exactly as SNS formats it for HTTP/SQS delivery. */
static char *sns_envelope(struct mdp__seed *s, const char *topic, const char *message, int64_t t)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char mid[37], sub[37], ts[32], sig[345], cert[33];
    mdp__uuid4(s, mid);
    mdp__uuid4(s, sub);
    mdp__iso(t, ts);
    memcpy(sig, "EXAMPLE", 7);
    for (int i = 7; i < 342; i++)
        sig[i] = b64[mdp__rng_below(&s->r, 64)];
    sig[342] = '=';
    sig[343] = '=';
    sig[344] = '\0';
    for (int i = 0; i < 32; i++)
        cert[i] = "0123456789abcdef"[mdp__rng_below(&s->r, 16)];
    cert[32] = '\0';
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_printf(&b, "{\n  \"Type\" : \"Notification\",\n  \"MessageId\" : \"%s\",\n", mid);
    mdp_buf_printf(&b, "  \"TopicArn\" : \"arn:aws:sns:" REGION ":" ACCOUNT ":%s\",\n", topic);
    mdp_buf_puts(&b, "  \"Message\" : ");
    mdp_buf_json_str(&b, message);
    mdp_buf_printf(&b, ",\n  \"Timestamp\" : \"%s\",\n  \"SignatureVersion\" : \"1\",\n", ts);
    mdp_buf_printf(&b, "  \"Signature\" : \"%s\",\n", sig);
    mdp_buf_printf(&b,
                   "  \"SigningCertURL\" : \"https://sns." REGION
                   ".amazonaws.com/SimpleNotificationService-%s.pem\",\n",
                   cert);
    mdp_buf_printf(&b,
                   "  \"UnsubscribeURL\" : \"https://sns." REGION
                   ".amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:" REGION
                   ":" ACCOUNT ":%s:%s\"\n}",
                   topic, sub);
    return mdp_buf_steal(&b);
}

/* Queues an SES JSON record for SNS delivery at t (+ SNS latency), with the bad-record mix. */
static int queue_sns(struct mdp__seed *s, const char *topic, json_object *record, int64_t t)
{
    char *msg = mdp__json_text(record, 0);
    if (!msg) return mdp_diag_set(s->d, MDP_ERR_NOMEM, "seed: out of memory");
    int64_t at = t + 150 + (int64_t)mdp__rng_below(&s->r, 400);
    int64_t day = mdp__day_index(s, at);
    if (day < 0) {
        free(msg);
        return 0;
    }
    int bad = mdp__bad(s) ? 1 + (int)mdp__rng_below(&s->r, 3) : 0;
    if (bad == 2) { /* an event type this platform has never seen */
        char *p = strstr(msg, "\"eventType\":\"");
        char *q = p ? NULL : strstr(msg, "\"notificationType\":\"");
        if (p || q) {
            const char *key = p ? "\"eventType\":\"" : "\"notificationType\":\"";
            char *v = (p ? p : q) + strlen(key);
            char *e = strchr(v, '"');
            struct mdp_buf nb;
            mdp_buf_init(&nb);
            mdp_buf_append(&nb, msg, (size_t)(v - msg));
            mdp_buf_puts(&nb, "ComplianceHold");
            mdp_buf_puts(&nb, e);
            free(msg);
            msg = mdp_buf_steal(&nb);
            s->st->bad_unknown_enum++;
        } else {
            bad = 0;
        }
    }
    char *env = sns_envelope(s, topic, msg, at);
    free(msg);
    if (!env) return mdp_diag_set(s->d, MDP_ERR_NOMEM, "seed: out of memory");
    if (bad == 1) { /* cut in transit */
        size_t n = strlen(env);
        env[n / 3 + mdp__rng_below(&s->r, n / 2)] = '\0';
        s->st->bad_truncated++;
    }
    s->st->ses_messages++;
    int rc = mdp__queue_push(s, &s->sns[day], at, env);
    if (!rc && bad == 3) { /* SNS/SQS at-least-once: the same message again */
        int64_t again = at + 1000 + (int64_t)mdp__rng_below(&s->r, 120000);
        int64_t d2 = mdp__day_index(s, again);
        if (d2 >= 0) {
            s->st->bad_duplicate++;
            s->st->ses_messages++;
            rc = mdp__queue_push(s, &s->sns[d2], again,
                                 strdup(s->sns[day].v[s->sns[day].n - 1].text));
        }
    }
    return rc;
}

/* Identity notification for the double-opt-in mail: kind is Delivery, Bounce or Complaint. */
int mdp__seed_ses_user(struct mdp__seed *s, struct mdp__user *u, int64_t t, const char *kind)
{
    struct mail_info m = {
        u->email, "Bitte bestätige deine E-Mail-Adresse", NULL, NULL, NULL, NULL, "", t};
    ses_message_id(s, t, m.message_id);
    int64_t ft = t + 1200 + (int64_t)mdp__rng_below(&s->r, 3000);
    json_object *rec = json_object_new_object();
    json_object_object_add(rec, "notificationType", mdp__jstr(kind));
    int with_headers = 1;
    if (kind[0] == 'B') {
        json_object_object_add(rec, "bounce", bounce_obj(s, &m, ft, 0));
    } else if (kind[0] == 'C') {
        ft += 3600000 * (1 + (int64_t)mdp__rng_below(&s->r, 30));
        json_object_object_add(rec, "complaint", complaint_obj(s, &m, ft));
    } else {
        with_headers = 0; /* delivery notifications here come without original headers */
    }
    json_object_object_add(rec, "mail", mail_obj(s, &m, with_headers, 1, 0));
    if (kind[0] == 'D') json_object_object_add(rec, "delivery", delivery_obj(s, &m, ft, 0));
    return queue_sns(s, "ses-feedback", rec, ft);
}

/* One event-publishing record: eventType with its member, then mail. */
static int publish_event(struct mdp__seed *s, const struct mail_info *m, const char *type,
                         const char *member, json_object *detail, int64_t t, int with_headers)
{
    json_object *rec = json_object_new_object();
    json_object_object_add(rec, "eventType", mdp__jstr(type));
    /* Open and Click records carry no sourceArn; Delivery adds the ses:outgoing-ip tag; Bounce
     * and Complaint put their member before mail (the order of the SES examples) */
    int open_click = strcmp(type, "Open") == 0 || strcmp(type, "Click") == 0;
    int lead = strcmp(type, "Bounce") == 0 || strcmp(type, "Complaint") == 0;
    json_object *mail = mail_obj(s, m, with_headers, !open_click, 1);
    if (strcmp(type, "Delivery") == 0) {
        json_object *tags;
        if (json_object_object_get_ex(mail, "tags", &tags))
            json_object_object_add(tags, "ses:outgoing-ip", str_array1("54.240.8.21"));
    }
    if (lead) json_object_object_add(rec, member, detail);
    json_object_object_add(rec, "mail", mail);
    if (!lead) json_object_object_add(rec, member, detail);
    return queue_sns(s, "ses-events-vc-marketing", rec, t);
}

static json_object *open_obj(struct mdp__seed *s, int64_t t)
{
    char ts[32];
    mdp__iso(t, ts);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ipAddress", mdp__jstr("192.0.2.200"));
    json_object_object_add(o, "timestamp", mdp__jstr(ts));
    json_object_object_add(o, "userAgent",
                           mdp__jstr(mdp__rng_chance(&s->r, 0.6) ? UA_MOBILE : UA_DESKTOP));
    return o;
}

static json_object *click_obj(struct mdp__seed *s, const struct mail_info *m, int64_t t)
{
    char ts[32], link[200];
    mdp__iso(t, ts);
    snprintf(link, sizeof link,
             "https://app.example.com/visibility?utm_source=ses&utm_medium=email&utm_campaign=%s",
             m->campaign);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ipAddress", mdp__jstr("192.0.2.200"));
    json_object_object_add(o, "link", mdp__jstr(link));
    json_object *lt = json_object_new_object();
    json_object_object_add(lt, "link_name",
                           str_array1(mdp__rng_chance(&s->r, 0.7) ? "hero_cta" : "footer"));
    json_object_object_add(lt, "position", str_array1("1"));
    json_object_object_add(o, "linkTags", lt);
    json_object_object_add(o, "timestamp", mdp__jstr(ts));
    json_object_object_add(o, "userAgent",
                           mdp__jstr(mdp__rng_chance(&s->r, 0.6) ? UA_MOBILE : UA_DESKTOP));
    return o;
}

static int campaign_mail(struct mdp__seed *s, struct mdp__user *u, int64_t t, const char *campaign,
                         const char *subject)
{
    static const char *copies[] = {"A", "B", "C"};
    static const char *subjects[] = {"s1", "s2"};
    struct mail_info m = {u->email,
                          subject,
                          "vc-marketing",
                          campaign,
                          copies[mdp__rng_below(&s->r, 3)],
                          subjects[mdp__rng_below(&s->r, 2)],
                          "",
                          t};
    ses_message_id(s, t, m.message_id);
    int rc = publish_event(s, &m, "Send", "send", json_object_new_object(), t + 5, 1);
    double r = mdp__rng_unit(&s->r);
    int64_t dt = t + 800 + (int64_t)mdp__rng_below(&s->r, 4000);
    char ts[32];
    if (r < 0.003) { /* rejected for content */
        json_object *o = json_object_new_object();
        json_object_object_add(o, "reason", mdp__jstr("Bad content"));
        return rc ? rc : publish_event(s, &m, "Reject", "reject", o, t + 10, 1);
    }
    if (r < 0.005) { /* template could not be rendered: no headers */
        json_object *f = json_object_new_object();
        json_object_object_add(
            f, "errorMessage",
            mdp__jstr("Attribute 'business_name' is not present in the rendering data."));
        json_object_object_add(f, "templateName", mdp__jstr("vc_weekly_digest"));
        return rc ? rc : publish_event(s, &m, "Rendering Failure", "failure", f, t + 10, 0);
    }
    if (r < 0.025) {
        return rc ? rc : publish_event(s, &m, "Bounce", "bounce", bounce_obj(s, &m, dt, 1), dt, 1);
    }
    if (r < 0.035) { /* delayed first, delivered later */
        json_object *o = json_object_new_object(), *rs = json_object_new_array(),
                    *rr = json_object_new_object();
        char exp[32];
        mdp__iso(dt, ts);
        mdp__iso(dt + 3 * 3600000, exp);
        json_object_object_add(o, "timestamp", mdp__jstr(ts));
        json_object_object_add(o, "delayType", mdp__jstr("TransientCommunicationFailure"));
        json_object_object_add(o, "expirationTime", mdp__jstr(exp));
        json_object_object_add(rr, "emailAddress", mdp__jstr(m.email));
        json_object_object_add(rr, "status", mdp__jstr("4.4.1"));
        json_object_object_add(rr, "diagnosticCode",
                               mdp__jstr("smtp; 421 4.4.1 Unable to connect to remote host"));
        json_object_array_add(rs, rr);
        json_object_object_add(o, "delayedRecipients", rs);
        if (!rc) rc = publish_event(s, &m, "DeliveryDelay", "deliveryDelay", o, dt, 0);
        dt += 1800000;
    }
    if (!rc) rc = publish_event(s, &m, "Delivery", "delivery", delivery_obj(s, &m, dt, 1), dt, 1);
    if (!rc && mdp__rng_chance(&s->r, 0.45)) {
        int64_t ot = dt + (int64_t)mdp__rng_lognormal(&s->r, 3 * 3600000.0, 1.2);
        rc = publish_event(s, &m, "Open", "open", open_obj(s, ot), ot, 1);
        if (!rc && mdp__rng_chance(&s->r, 0.35)) {
            int64_t ct = ot + 5000 + (int64_t)mdp__rng_below(&s->r, 120000);
            rc = publish_event(s, &m, "Click", "click", click_obj(s, &m, ct), ct, 1);
        }
        if (!rc && mdp__rng_chance(&s->r, 0.01)) { /* unsubscribe via the List-Unsubscribe header */
            int64_t st = ot + 60000;
            json_object *o = json_object_new_object();
            mdp__iso(st, ts);
            json_object_object_add(o, "contactList", mdp__jstr("matbakh-newsletter"));
            json_object_object_add(o, "timestamp", mdp__jstr(ts));
            json_object_object_add(o, "source", mdp__jstr("UnsubscribeHeader"));
            json_object *np = json_object_new_object(), *op = json_object_new_object();
            json_object *nt = json_object_new_array(), *ot2 = json_object_new_array();
            json_object *ntp = json_object_new_object(), *otp = json_object_new_object();
            json_object_object_add(ntp, "topicName", mdp__jstr("marketing"));
            json_object_object_add(ntp, "subscriptionStatus", mdp__jstr("OptOut"));
            json_object_object_add(otp, "topicName", mdp__jstr("marketing"));
            json_object_object_add(otp, "subscriptionStatus", mdp__jstr("OptIn"));
            json_object_array_add(nt, ntp);
            json_object_array_add(ot2, otp);
            json_object_object_add(np, "unsubscribeAll", json_object_new_boolean(1));
            json_object_object_add(np, "topicSubscriptionStatus", nt);
            json_object_object_add(op, "unsubscribeAll", json_object_new_boolean(0));
            json_object_object_add(op, "topicSubscriptionStatus", ot2);
            json_object_object_add(o, "newTopicPreferences", np);
            json_object_object_add(o, "oldTopicPreferences", op);
            rc = publish_event(s, &m, "Subscription", "subscription", o, st, 1);
            if (!rc) rc = mdp__seed_ddb_consent(s, u, st + 500, "marketing_email", "withdrawn");
            u->marketing_until = st;
        }
    }
    if (!rc && mdp__rng_chance(&s->r, 0.002))
        rc = publish_event(s, &m, "Complaint", "complaint", complaint_obj(s, &m, dt + 7200000),
                           dt + 7200000, 1);
    return rc;
}

int mdp__seed_campaigns(struct mdp__seed *s)
{
    /* a weekly campaign, Tuesdays 09:00 UTC, to everyone opted in to marketing email by then */
    static const char *subjects[] = {"Deine Sichtbarkeit diese Woche", "3 Tipps für mehr Gäste",
                                     "So steht dein Restaurant im Vergleich", "Neue Bewertungen"};
    int rc = 0;
    int n = 0;
    for (int64_t day = 0; day < s->ndays && !rc; day++) {
        int64_t abs_day = s->o->start_day + day;
        if (mdp_weekday_iso(abs_day) != 2) continue;
        int64_t t = abs_day * MDP_MS_PER_DAY + 9 * 3600000;
        int64_t y;
        unsigned mo, dd;
        mdp_civil_from_days(abs_day, &y, &mo, &dd);
        char campaign[48];
        snprintf(campaign, sizeof campaign, "cmp_%04d_%02u_w%02u", (int)y, mo, dd);
        for (size_t i = 0; i < s->nusers && !rc; i++) {
            struct mdp__user *u = &s->users[i];
            if (u->marketing_from < 0 || u->marketing_from > t) continue;
            if (u->marketing_until >= 0 && u->marketing_until <= t) continue;
            rc = campaign_mail(s, u, t + (int64_t)i * 37, campaign, subjects[n % 4]);
        }
        n++;
    }
    return rc;
}

/* ---- DynamoDB change records (Kinesis Data Streams for DynamoDB -> Firehose shape) ---- */

static json_object *av(const char *type, json_object *v)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, type, v);
    return o;
}

static json_object *av_s(const char *v)
{
    return av("S", mdp__jstr(v));
}

static json_object *av_n(int64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    return av("N", mdp__jstr(b));
}

static int queue_ddb(struct mdp__seed *s, const char *table, const char *event, json_object *keys,
                     json_object *newimg, json_object *oldimg, int ttl_delete, int64_t t)
{
    char eid[37];
    mdp__uuid4(s, eid);
    int bad = mdp__bad(s) ? 1 + (int)mdp__rng_below(&s->r, 3) : 0;
    json_object *r = json_object_new_object();
    json_object_object_add(r, "awsRegion", mdp__jstr(REGION));
    json_object_object_add(r, "eventID", mdp__jstr(eid));
    json_object_object_add(r, "eventName", mdp__jstr(event));
    if (ttl_delete) {
        json_object *ui = json_object_new_object();
        json_object_object_add(ui, "type", mdp__jstr("Service"));
        json_object_object_add(ui, "principalId", mdp__jstr("dynamodb.amazonaws.com"));
        json_object_object_add(r, "userIdentity", ui);
    } else {
        json_object_object_add(r, "userIdentity", NULL);
    }
    json_object_object_add(r, "recordFormat", mdp__jstr("application/json"));
    json_object_object_add(r, "tableName", mdp__jstr(table));
    json_object *dd = json_object_new_object();
    json_object_object_add(dd, "ApproximateCreationDateTime", json_object_new_int64(t));
    if (bad == 2) {
        json_object_put(keys); /* a record without its key: cannot be applied */
        s->st->bad_missing_id++;
    } else {
        json_object_object_add(dd, "Keys", keys);
    }
    size_t size = 0;
    if (newimg) size += strlen(json_object_to_json_string_ext(newimg, JSON_C_TO_STRING_PLAIN)) / 2;
    if (oldimg) size += strlen(json_object_to_json_string_ext(oldimg, JSON_C_TO_STRING_PLAIN)) / 2;
    if (newimg) json_object_object_add(dd, "NewImage", newimg);
    if (oldimg) json_object_object_add(dd, "OldImage", oldimg);
    json_object_object_add(dd, "SizeBytes", json_object_new_int64((int64_t)size + 40));
    json_object_object_add(r, "dynamodb", dd);
    json_object_object_add(r, "eventSource", mdp__jstr("aws:dynamodb"));
    char *text = mdp__json_text(r, 0);
    if (!text) return mdp_diag_set(s->d, MDP_ERR_NOMEM, "seed: out of memory");
    if (mdp__day_index(s, t) < 0) {
        free(text);
        return 0;
    }
    if (bad == 1) { /* truncated record */
        text[strlen(text) / 2] = '\0';
        s->st->bad_truncated++;
    }
    s->st->ddb_records++;
    int rc = mdp__queue_push(s, &s->ddb, t, text);
    if (!rc && bad == 3) { /* a redelivered record (same eventID) */
        s->st->bad_duplicate++;
        s->st->ddb_records++;
        rc = mdp__queue_push(s, &s->ddb, t + 2000, strdup(s->ddb.v[s->ddb.n - 1].text));
    }
    return rc;
}

static json_object *token_image(struct mdp__seed *s, const struct mdp__user *u, const char *hash,
                                const char *status, int64_t created, int64_t verified, int attempts,
                                int history)
{
    char ts[32], ip[48];
    mdp__iso(created, ts);
    if (u->persona == 2)
        snprintf(ip, sizeof ip, "2001:db8:85a3::%x", (unsigned)(u->signup_ms % 65536));
    else
        snprintf(ip, sizeof ip, "203.0.113.%d", (int)(u->signup_ms % 250) + 1);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "token_hash", av_s(hash));
    char email[128];
    mdp_email_normalize(u->email, email, sizeof email);
    json_object_object_add(o, "email_lower", av_s(email));
    json_object_object_add(o, "ip_start", av_s(ip));
    json_object_object_add(o, "status", av_s(status));
    json_object_object_add(o, "ttl", av_n(created / 1000 + 7 * 86400));
    json_object_object_add(o, "created_at", av_s(ts));
    json_object_object_add(o, "attempts", av_n(attempts));
    json_object_object_add(o, "consumed", av("BOOL", json_object_new_boolean(verified > 0)));
    if (verified > 0) {
        char vt[32];
        mdp__iso(verified, vt);
        json_object_object_add(o, "verified_at", av_s(vt));
    } else {
        json_object_object_add(o, "verified_at", av("NULL", json_object_new_boolean(1)));
    }
    json_object *ss = json_object_new_array();
    json_object_array_add(ss, mdp__jstr("newsletter"));
    json_object_array_add(ss, mdp__jstr("vc_report"));
    json_object_object_add(o, "scopes", av("SS", ss));
    json_object *meta = json_object_new_object();
    json_object_object_add(meta, "ua", av_s(mdp__rng_chance(&s->r, 0.5) ? UA_MOBILE : UA_DESKTOP));
    json_object_object_add(meta, "locale", av_s("de-DE"));
    json_object *risk = av("N", mdp__jstr(mdp__rng_chance(&s->r, 0.5) ? "0.12" : "0.05"));
    json_object_object_add(meta, "risk_score", risk);
    json_object_object_add(o, "meta", av("M", meta));
    json_object *hist = json_object_new_array();
    for (int i = 0; i < history; i++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "event", av_s(i == 0 ? "issued" : "verified"));
        json_object_object_add(e, "at", av_n((i == 0 ? created : verified) / 1000));
        json_object_array_add(hist, av("M", e));
    }
    json_object_object_add(o, "history", av("L", hist));
    return o;
}

static json_object *token_keys(const char *hash)
{
    json_object *k = json_object_new_object();
    json_object_object_add(k, "token_hash", av_s(hash));
    return k;
}

int mdp__seed_ddb_token(struct mdp__seed *s, struct mdp__user *u, int64_t t, int confirms,
                        int64_t confirm_ms)
{
    unsigned char raw[32];
    for (int i = 0; i < 32; i++)
        raw[i] = (unsigned char)mdp__rng_below(&s->r, 256);
    char hash[65];
    mdp_sha256_hex(raw, sizeof raw, hash);
    int rc = queue_ddb(s, "VcTokens", "INSERT", token_keys(hash),
                       token_image(s, u, hash, "pending", t, 0, 0, 1), NULL, 0, t);
    if (rc) return rc;
    if (confirms) {
        rc = queue_ddb(s, "VcTokens", "MODIFY", token_keys(hash),
                       token_image(s, u, hash, "verified", t, confirm_ms, 1, 2),
                       token_image(s, u, hash, "pending", t, 0, 0, 1), 0, confirm_ms);
        /* the app deletes consumed tokens after a day */
        int64_t del = confirm_ms + MDP_MS_PER_DAY;
        if (!rc)
            rc = queue_ddb(s, "VcTokens", "REMOVE", token_keys(hash), NULL,
                           token_image(s, u, hash, "verified", t, confirm_ms, 1, 2), 0, del);
    } else {
        /* never confirmed: TTL expiry removes it (within 48 h after ttl) */
        int64_t exp = t + 7 * MDP_MS_PER_DAY + (int64_t)mdp__rng_below(&s->r, 36 * 3600000);
        rc = queue_ddb(s, "VcTokens", "REMOVE", token_keys(hash), NULL,
                       token_image(s, u, hash, "pending", t, 0, 0, 1), 1, exp);
    }
    return rc;
}

int mdp__seed_ddb_consent(struct mdp__seed *s, struct mdp__user *u, int64_t t, const char *purpose,
                          const char *decision)
{
    char email[128], ts[32];
    mdp_email_normalize(u->email, email, sizeof email);
    mdp__iso(t, ts);
    json_object *k = json_object_new_object();
    json_object_object_add(k, "email", av_s(email));
    json_object_object_add(k, "ts", av_s(ts));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "email", av_s(email));
    json_object_object_add(o, "ts", av_s(ts));
    json_object_object_add(o, "consent_type", av_s(purpose));
    json_object_object_add(o, "decision", av_s(decision));
    json_object_object_add(o, "policy_version", av_n(3));
    json_object *ch = json_object_new_array();
    json_object_array_add(ch, mdp__jstr("email"));
    json_object_object_add(o, "channels", av("SS", ch));
    json_object *src = json_object_new_object();
    json_object_object_add(src, "form",
                           av_s(strcmp(decision, "granted") == 0 ? "signup_v2" : "preferences"));
    json_object_object_add(src, "ip", av_s("203.0.113.24"));
    json_object_object_add(src, "double_opt_in", av("BOOL", json_object_new_boolean(1)));
    json_object_object_add(o, "source", av("M", src));
    json_object *ev = json_object_new_array();
    json_object_array_add(ev, av_s(u->ga4_client_id));
    json_object_array_add(ev, av_n(t / 1000));
    json_object_object_add(o, "evidence", av("L", ev));
    if (strcmp(decision, "withdrawn") == 0)
        json_object_object_add(o, "withdrawn_reason", av_s("user_request"));
    else
        json_object_object_add(o, "withdrawn_reason", av("NULL", json_object_new_boolean(1)));
    return queue_ddb(s, "ConsentJournal", "INSERT", k, o, NULL, 0, t);
}

/* ---- writing ---- */

int mdp__seed_write_ses(struct mdp__seed *s)
{
    int rc = 0;
    for (int64_t day = 0; day < s->ndays && !rc; day++) {
        struct mdp__queue *q = &s->sns[day];
        if (!q->n) continue;
        mdp__queue_sort(q);
        char date[11];
        mdp_date_format(s->o->start_day + day, date, sizeof date);
        int batch = 0;
        for (size_t i = 0; i < q->n && !rc; batch++) {
            size_t take = 1 + mdp__rng_below(&s->r, 10);
            json_object *ev = json_object_new_object(), *recs = json_object_new_array();
            for (size_t k = 0; k < take && i < q->n; k++, i++) {
                json_object *r = json_object_new_object(), *a = json_object_new_object();
                char mid[37], md5[33], sent[24], first[24], rh[80];
                mdp__uuid4(s, mid);
                const char *body = q->v[i].text;
                mdp_md5_hex(body, strlen(body), md5);
                snprintf(sent, sizeof sent, "%lld", (long long)q->v[i].ts + 20);
                snprintf(first, sizeof first, "%lld",
                         (long long)q->v[i].ts + 60 + (long long)mdp__rng_below(&s->r, 900));
                snprintf(rh, sizeof rh, "AQEB%.40s", md5);
                json_object_object_add(r, "messageId", mdp__jstr(mid));
                json_object_object_add(r, "receiptHandle", mdp__jstr(rh));
                json_object_object_add(r, "body", mdp__jstr(body));
                json_object_object_add(a, "ApproximateReceiveCount", mdp__jstr("1"));
                json_object_object_add(a, "SentTimestamp", mdp__jstr(sent));
                json_object_object_add(a, "SenderId", mdp__jstr("AIDAIENQZJOLO23YVJ4VO"));
                json_object_object_add(a, "ApproximateFirstReceiveTimestamp", mdp__jstr(first));
                json_object_object_add(r, "attributes", a);
                json_object_object_add(r, "messageAttributes", json_object_new_object());
                json_object_object_add(r, "md5OfBody", mdp__jstr(md5));
                json_object_object_add(r, "eventSource", mdp__jstr("aws:sqs"));
                json_object_object_add(
                    r, "eventSourceARN",
                    mdp__jstr("arn:aws:sqs:" REGION ":" ACCOUNT ":ses-feedback-queue"));
                json_object_object_add(r, "awsRegion", mdp__jstr(REGION));
                json_object_array_add(recs, r);
            }
            json_object_object_add(ev, "Records", recs);
            char *text = mdp__json_text(ev, 1);
            if (!text) return mdp_diag_set(s->d, MDP_ERR_NOMEM, "seed: out of memory");
            char key[96];
            snprintf(key, sizeof key, "ses/sqs/dt=%s/batch-%05d.json", date, batch);
            rc = mdp__seed_put(s, key, text, strlen(text));
            free(text);
        }
    }
    return rc;
}

int mdp__seed_write_ddb(struct mdp__seed *s)
{
    mdp__queue_sort(&s->ddb);
    int rc = 0;
    /* Firehose buffers 300 s or 5 MiB; the object is named after its oldest record's arrival */
    int64_t mid_window = s->start_ms + (s->end_ms - s->start_ms) / 2;
    for (size_t i = 0; i < s->ddb.n && !rc;) {
        int64_t first = s->ddb.v[i].ts + 700;
        int version = first >= mid_window ? 2 : 1; /* the delimiter was switched on mid-window */
        struct mdp_buf b;
        mdp_buf_init(&b);
        while (i < s->ddb.n && s->ddb.v[i].ts + 700 < first + 300000 && b.len < 5u << 20) {
            mdp_buf_puts(&b, s->ddb.v[i].text);
            if (version == 2) mdp_buf_putc(&b, '\n');
            i++;
        }
        int64_t days = mdp_days_from_ms(first), y;
        unsigned mo, d;
        mdp_civil_from_days(days, &y, &mo, &d);
        int64_t rem = first - days * MDP_MS_PER_DAY;
        int hh = (int)(rem / 3600000), mm = (int)(rem / 60000 % 60), ss = (int)(rem / 1000 % 60);
        char uuid[37], key[200];
        mdp__uuid4(s, uuid);
        snprintf(
            key, sizeof key,
            "dynamodb/firehose/%04d/%02u/%02u/%02d/vc-ddb-cdc-%d-%04d-%02u-%02u-%02d-%02d-%02d-%s",
            (int)y, mo, d, hh, version, (int)y, mo, d, hh, mm, ss, uuid);
        rc = mdp__seed_put(s, key, b.data, b.len);
        mdp_buf_cleanup(&b);
    }
    return rc;
}
