/* The SES writer of `mdp seed`: the double-opt-in mail's identity notification and the campaign
 * mails' event-publishing records, wrapped in SNS envelopes as SNS writes them (pretty-printed,
 * " : " separators, Message a compact JSON string) and delivered as Lambda SQS events of 1-10
 * records per batch file, per day in arrival order. */
#include "seed_world.h"
#include "mdp/hash.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGION      "eu-central-1"
#define ACCOUNT     "123456789012"
#define SOURCE_ADDR "no-reply@mail.example.com"
#define FROM_HDR    "matbakh.app <no-reply@mail.example.com>"

struct ses {
    struct mdp__spool sns; /* SNS envelopes (SQS bodies) by arrival */
};

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

/* Spools an SES JSON record for SNS delivery at t (+ SNS latency), with the bad-record mix. */
static int queue_sns(struct mdp__seed *s, struct ses *w, const char *topic, json_object *record,
                     int64_t t)
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
    int rc = mdp__spool_add(s, &w->sns, at, env, strlen(env));
    if (!rc && bad == 3) { /* SNS/SQS at-least-once: the same message again */
        int64_t again = at + 1000 + (int64_t)mdp__rng_below(&s->r, 120000);
        if (mdp__day_index(s, again) >= 0) {
            s->st->bad_duplicate++;
            s->st->ses_messages++;
            rc = mdp__spool_add(s, &w->sns, again, env, strlen(env));
        }
    }
    free(env);
    return rc;
}

/* Identity notification for the double-opt-in mail: kind is Delivery, Bounce or Complaint. */
static int doi_mail(struct mdp__seed *s, struct ses *w, const struct mdp__user *u, int64_t t,
                    const char *kind)
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
    return queue_sns(s, w, "ses-feedback", rec, ft);
}

/* One event-publishing record: eventType with its member, then mail. */
static int publish_event(struct mdp__seed *s, struct ses *w, const struct mail_info *m,
                         const char *type, const char *member, json_object *detail, int64_t t,
                         int with_headers)
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
    return queue_sns(s, w, "ses-events-vc-marketing", rec, t);
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

static json_object *unsubscribe_obj(int64_t st)
{
    char ts[32];
    mdp__iso(st, ts);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "contactList", mdp__jstr("matbakh-newsletter"));
    json_object_object_add(o, "timestamp", mdp__jstr(ts));
    json_object_object_add(o, "source", mdp__jstr("UnsubscribeHeader"));
    json_object *np = json_object_new_object(), *op = json_object_new_object();
    json_object *nt = json_object_new_array(), *ot = json_object_new_array();
    json_object *ntp = json_object_new_object(), *otp = json_object_new_object();
    json_object_object_add(ntp, "topicName", mdp__jstr("marketing"));
    json_object_object_add(ntp, "subscriptionStatus", mdp__jstr("OptOut"));
    json_object_object_add(otp, "topicName", mdp__jstr("marketing"));
    json_object_object_add(otp, "subscriptionStatus", mdp__jstr("OptIn"));
    json_object_array_add(nt, ntp);
    json_object_array_add(ot, otp);
    json_object_object_add(np, "unsubscribeAll", json_object_new_boolean(1));
    json_object_object_add(np, "topicSubscriptionStatus", nt);
    json_object_object_add(op, "unsubscribeAll", json_object_new_boolean(0));
    json_object_object_add(op, "topicSubscriptionStatus", ot);
    json_object_object_add(o, "newTopicPreferences", np);
    json_object_object_add(o, "oldTopicPreferences", op);
    return o;
}

static json_object *delay_obj(const struct mail_info *m, int64_t dt)
{
    char ts[32], exp[32];
    json_object *o = json_object_new_object(), *rs = json_object_new_array(),
                *rr = json_object_new_object();
    mdp__iso(dt, ts);
    mdp__iso(dt + 3 * 3600000, exp);
    json_object_object_add(o, "timestamp", mdp__jstr(ts));
    json_object_object_add(o, "delayType", mdp__jstr("TransientCommunicationFailure"));
    json_object_object_add(o, "expirationTime", mdp__jstr(exp));
    json_object_object_add(rr, "emailAddress", mdp__jstr(m->email));
    json_object_object_add(rr, "status", mdp__jstr("4.4.1"));
    json_object_object_add(rr, "diagnosticCode",
                           mdp__jstr("smtp; 421 4.4.1 Unable to connect to remote host"));
    json_object_array_add(rs, rr);
    json_object_object_add(o, "delayedRecipients", rs);
    return o;
}

/* A campaign mail's records: Send, then what the world decided became of it. */
static int campaign_mail(struct mdp__seed *s, struct ses *w, const struct mdp__user *u, int64_t t,
                         const struct mdp__mail *mm)
{
    static const char *copies[] = {"A", "B", "C"};
    static const char *subjects[] = {"s1", "s2"};
    struct mail_info m = {u->email,
                          mm->subject,
                          "vc-marketing",
                          mm->campaign,
                          copies[mm->copy],
                          subjects[mm->subject_variant],
                          "",
                          t};
    ses_message_id(s, t, m.message_id);
    int rc = publish_event(s, w, &m, "Send", "send", json_object_new_object(), t + 5, 1);
    if (rc) return rc;
    if (mm->fate == MDP__MAIL_REJECTED) { /* rejected for content */
        json_object *o = json_object_new_object();
        json_object_object_add(o, "reason", mdp__jstr("Bad content"));
        return publish_event(s, w, &m, "Reject", "reject", o, t + 10, 1);
    }
    if (mm->fate == MDP__MAIL_RENDER_FAILED) { /* template could not be rendered: no headers */
        json_object *f = json_object_new_object();
        json_object_object_add(
            f, "errorMessage",
            mdp__jstr("Attribute 'business_name' is not present in the rendering data."));
        json_object_object_add(f, "templateName", mdp__jstr("vc_weekly_digest"));
        return publish_event(s, w, &m, "Rendering Failure", "failure", f, t + 10, 0);
    }
    int64_t dt = mm->delivered_ms;
    if (mm->fate == MDP__MAIL_BOUNCED)
        return publish_event(s, w, &m, "Bounce", "bounce", bounce_obj(s, &m, dt, 1), dt, 1);
    if (mm->delayed_ms >= 0)
        rc = publish_event(s, w, &m, "DeliveryDelay", "deliveryDelay",
                           delay_obj(&m, mm->delayed_ms), mm->delayed_ms, 0);
    if (!rc)
        rc = publish_event(s, w, &m, "Delivery", "delivery", delivery_obj(s, &m, dt, 1), dt, 1);
    int64_t ot = mm->opened_ms, ct = mm->clicked_ms, st = mm->unsubscribed_ms;
    if (!rc && ot >= 0) rc = publish_event(s, w, &m, "Open", "open", open_obj(s, ot), ot, 1);
    if (!rc && ct >= 0) rc = publish_event(s, w, &m, "Click", "click", click_obj(s, &m, ct), ct, 1);
    if (!rc && st >= 0) /* unsubscribe via the List-Unsubscribe header */
        rc = publish_event(s, w, &m, "Subscription", "subscription", unsubscribe_obj(st), st, 1);
    int64_t kt = mm->complained_ms;
    if (!rc && kt >= 0)
        rc = publish_event(s, w, &m, "Complaint", "complaint", complaint_obj(s, &m, kt), kt, 1);
    return rc;
}

/* ---- the writer ---- */

static int ses_init(struct mdp__seed *s, void **state)
{
    struct ses *w = calloc(1, sizeof *w);
    if (!w) return mdp__nomem(s);
    *state = w;
    return mdp__spool_init(s, &w->sns, "ses");
}

static int ses_on(struct mdp__seed *s, void *state, const struct mdp__happening *h)
{
    if (h->kind == MDP__H_DOI_MAIL) return doi_mail(s, state, h->u, h->t, h->doi_kind);
    if (h->kind == MDP__H_CAMPAIGN) return campaign_mail(s, state, h->u, h->t, h->mail);
    return 0;
}

/* Lambda SQS event batches of one day, 1-10 records each, printed as json-c prints them pretty
 * (the bodies are most of the bytes: printing beats building objects). */
struct batcher {
    char date[11];
    int batch;
    size_t take, n;
    struct mdp_buf b;
};

static int flush_batch(struct mdp__seed *s, struct batcher *b)
{
    if (!b->n) return 0;
    if (mdp_buf_puts(&b->b, "\n  ]\n}")) return mdp__nomem(s);
    char key[96];
    snprintf(key, sizeof key, "ses/sqs/dt=%s/batch-%05d.json", b->date, b->batch++);
    int rc = mdp__seed_put(s, key, b->b.data, b->b.len);
    mdp_buf_reset(&b->b);
    b->n = 0;
    return rc;
}

static int batch_record(struct mdp__seed *s, void *ud, int64_t ts, const char *body, size_t len)
{
    struct batcher *b = ud;
    if (!b->n) b->take = 1 + mdp__rng_below(&s->r, 10);
    char mid[37], md5[33];
    mdp__uuid4(s, mid);
    mdp_md5_hex(body, len, md5);
    long long first = (long long)ts + 60 + (long long)mdp__rng_below(&s->r, 900);
    struct mdp_buf *o = &b->b;
    int e = mdp_buf_puts(o, b->n ? ",\n    {\n" : "{\n  \"Records\": [\n    {\n");
    e |= mdp_buf_printf(o,
                        "      \"messageId\": \"%s\",\n      \"receiptHandle\": \"AQEB%.40s\",\n"
                        "      \"body\": ",
                        mid, md5);
    e |= mdp_buf_json_strn(o, body, len);
    e |= mdp_buf_printf(
        o,
        ",\n      \"attributes\": {\n        \"ApproximateReceiveCount\": \"1\",\n"
        "        \"SentTimestamp\": \"%lld\",\n        \"SenderId\": \"AIDAIENQZJOLO23YVJ4VO\",\n"
        "        \"ApproximateFirstReceiveTimestamp\": \"%lld\"\n      },\n"
        "      \"messageAttributes\": {\n      },\n      \"md5OfBody\": \"%s\",\n"
        "      \"eventSource\": \"aws:sqs\",\n"
        "      \"eventSourceARN\": \"arn:aws:sqs:" REGION ":" ACCOUNT ":ses-feedback-queue\",\n"
        "      \"awsRegion\": \"" REGION "\"\n    }",
        (long long)ts + 20, first, md5);
    if (e) return mdp__nomem(s);
    return ++b->n == b->take ? flush_batch(s, b) : 0;
}

static int ses_finish(struct mdp__seed *s, void *state)
{
    struct ses *w = state;
    int rc = 0;
    for (int64_t day = 0; day < s->ndays && !rc; day++) {
        struct batcher b = {.batch = 0};
        mdp_buf_init(&b.b);
        mdp_date_format(s->o->start_day + day, b.date, sizeof b.date);
        rc = mdp__spool_drain(s, &w->sns, day, batch_record, &b);
        if (!rc) rc = flush_batch(s, &b);
        mdp_buf_cleanup(&b.b);
    }
    return rc;
}

static void ses_cleanup(struct mdp__seed *s, void *state)
{
    struct ses *w = state;
    if (!w) return;
    mdp__spool_cleanup(s, &w->sns);
    free(w);
}

const struct mdp__writer mdp__writer_ses = {"ses", ses_init, ses_on, ses_finish, ses_cleanup, NULL};
