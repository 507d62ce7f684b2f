/* Unit tests of the connectors: each format's rules on valid, broken and hostile input, duplicates,
 * SNS signature verification (a key and certificate made here; the string to sign written from the
 * AWS documentation, not taken from the code under test), gzip'd Firehose objects, schema drift,
 * and the quarantine threshold of the ingest stage. */
#include "testutil.h"
#include "../../src/ingest/ingest_internal.h"
#include "../../src/ingest/ses/ses.h"
#include "mdp/consent.h"
#include "mdp/hash.h"
#include "mdp/ingest.h"
#include "mdp/pipeline.h"
#include "mdp/strset.h"
#include "mdp/time.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int mdp__ddb_seq_cmp(const char *a, const char *b);
int mdp_ga4_metric_value(const char *type, const char *text, double *out);

struct result {
    struct mdp_ingest_counts c;
    char reasons[4096];
};

/* Runs the connector for key on data; reasons get the quarantine lines. */
static struct result run_check(const char *key, const char *data, size_t len, int verify,
                               const char *cache)
{
    /* the ses connector's run state, as its init hook makes it */
    struct mdp__ses_state ses = {verify, (char *)cache};
    struct result r;
    memset(&r, 0, sizeof r);
    r.c.newest_event_ms = -1;
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "t", "t", 0);
    struct mdp_strset *seen = mdp_strset_new();
    struct mdp_check ck = {.key = key, .c = &r.c, .q = &q, .seen = seen, .state = &ses};
    const struct mdp_connector *k = mdp_connector_for_key(key);
    assert_non_null(k);
    assert_int_equal(k->check(&ck, data, len), 0);
    snprintf(r.reasons, sizeof r.reasons, "%s", q.lines.data ? q.lines.data : "");
    assert_int_equal(q.count, r.c.quarantined);
    assert_int_equal(r.c.in, r.c.out + r.c.quarantined + r.c.duplicates);
    mdp_strset_free(seen);
    mdp_quarantine_cleanup(&q);
    return r;
}

static struct result check_str(const char *key, const char *data)
{
    return run_check(key, data, strlen(data), 0, NULL);
}

static void expect(const char *key, const char *data, int64_t out, int64_t q, int64_t dup,
                   const char *reason)
{
    struct result r = check_str(key, data);
    if (r.c.out != out || r.c.quarantined != q || r.c.duplicates != dup)
        fail_msg("%s: out/q/dup %lld/%lld/%lld, want %lld/%lld/%lld; %s", key, (long long)r.c.out,
                 (long long)r.c.quarantined, (long long)r.c.duplicates, (long long)out,
                 (long long)q, (long long)dup, r.reasons);
    if (reason && !strstr(r.reasons, reason))
        fail_msg("%s: no reason %s in %s", key, reason, r.reasons);
}

static char *fixture(const char *rel, size_t *len)
{
    char *t = tu_read(tu_data(rel), len);
    if (!t) fail_msg("missing fixture %s", rel);
    return t;
}

/* ---------------------------------------------------------------- events */

#define EV(id, extra)                                                                              \
    "{\"event_id\":\"" id "\",\"user_id\":\"01900000-0000-7000-8000-000000000001\","               \
    "\"timestamp\":\"2026-10-01T10:00:00.000+02:00\",\"event_type\":\"step_completed\"" extra "}"
#define ID1 "01900000-0000-7000-8000-00000000000a"
#define ID2 "01900000-0000-7000-8000-00000000000b"

static void test_events(void **st)
{
    (void)st;
    const char *k = "events/dt=2026-10-01/e.ndjson";
    struct result r = check_str(
        k, EV(ID1, ",\"external_ids\":{\"fb_page_id\":\"104512345678901\"}") "\r\n\n" EV(ID2, ""));
    assert_int_equal(r.c.out, 2);
    char iso[32];
    mdp_time_format_ms(r.c.newest_event_ms, iso, sizeof iso);
    assert_string_equal(iso, "2026-10-01T08:00:00.000Z");
    expect(k, EV(ID1, "") "\n" EV(ID1, ""), 1, 0, 1, NULL); /* a retried send */
    expect(k,
           "{\"event_id\":\"" ID1
           "\",\"timestamp\":\"2026-10-01T10:00:00Z\",\"event_type\":\"page_view\"}",
           0, 1, 0, "missing_user_id");
    expect(k, EV("not-a-uuid", ""), 0, 1, 0, "invalid_event_id");
    expect(k, EV("017f22e2-79b0-4cc3-98c4-dc0c0c07398f", ""), 0, 1, 0, "invalid_event_id"); /* v4 */
    expect(k, EV(ID1, ",\"external_ids\":{\"fb_page_id\":104512345678901}"), 0, 1, 0,
           "invalid_external_ids");
    expect(k, EV(ID1, ",\"properties\":[1]"), 0, 1, 0, "invalid_properties");
    expect(k, EV(ID1, ",\"account_id\":\"x\""), 0, 1, 0, "invalid_id");
    expect(k,
           "{\"event_id\":\"" ID1 "\",\"user_id\":\"01900000-0000-7000-8000-000000000001\","
           "\"timestamp\":\"2026-13-45T25:61:00Z\",\"event_type\":\"page_view\"}",
           0, 1, 0, "invalid_timestamp");
    expect(k,
           "{\"event_id\":\"" ID1 "\",\"user_id\":\"01900000-0000-7000-8000-000000000001\","
           "\"timestamp\":\"2026-10-01T10:00:00Z\",\"event_type\":\"step_teleported\"}",
           0, 1, 0, "unknown_event_type");
    expect(k, "{\"event_id\":", 0, 1, 0, "json_truncated");
    expect(k, "[]", 0, 1, 0, "json_not_object");
    expect(k, "\n\n", 0, 0, 0, NULL);
    /* the location names the line */
    r = check_str(k, EV(ID1, "") "\n{bad\n");
    assert_non_null(strstr(r.reasons, "\"location\":\"events/dt=2026-10-01/e.ndjson:2\""));
}

/* The check reads each line's event_id ahead of the parse, from the raw bytes, to start the load
 * of its duplicate slot. That is only a hint: the parsed member decides. Lines where the first
 * "event_id" in the bytes is not the member (a nested one, a repeated key whose last value wins,
 * one that is not canonical) count exactly as their parsed event_id says, with the run's set and
 * with the two-day window. */
static void test_events_id_read_ahead(void **st)
{
    (void)st;
    const char *k = "events/dt=2026-10-01/e.ndjson";
#define NESTED_FIRST(outer)                                                                        \
    "{\"properties\":{\"event_id\":\"" ID2 "\"},\"event_id\":\"" outer "\""                        \
    ",\"user_id\":\"01900000-0000-7000-8000-000000000001\",\"timestamp\":\"2026-10-01T10:00:"      \
    "00Z\","                                                                                       \
    "\"event_type\":\"page_view\"}"
#define REPEATED(last)                                                                             \
    "{\"event_id\":\"" ID2 "\",\"user_id\":\"01900000-0000-7000-8000-000000000001\","              \
    "\"timestamp\":\"2026-10-01T10:00:00Z\",\"event_type\":\"page_view\",\"event_id\":\"" last     \
    "\"}"
    const char *lines = NESTED_FIRST(ID1) "\n"                 /* ID1: new */
        REPEATED(ID1) "\n"                                     /* ID1 again: a duplicate, not ID2 */
        EV(ID2, "") "\n"                                       /* ID2 was only ever a hint: new */
        EV("01900000-0000-7000-8000-00000000000A", "") "\n"    /* uppercase: text, new */
        REPEATED("01900000-0000-7000-8000-00000000000A") "\n"  /* the same text: duplicate */
        EV("01900000-0000-7000-8000-00000000000c\\u0000", ""); /* not an id after all */
#undef NESTED_FIRST
#undef REPEATED
    expect(k, lines, 3, 1, 2, "invalid_event_id");
    /* the same lines through the window, the ingest stage's index, where the hint is a prefetch */
    struct mdp_dedup_window w = {0};
    struct mdp_ingest_counts c;
    memset(&c, 0, sizeof c);
    c.newest_event_ms = -1;
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "t", "t", 0);
    struct mdp_check ck = {.key = k, .c = &c, .q = &q};
    assert_int_equal(mdp_dedup_window_enter(&w, 20362, &ck), 0);
    assert_int_equal(mdp_connector_for_key(k)->check(&ck, lines, strlen(lines)), 0);
    assert_int_equal(c.out, 3);
    assert_int_equal(c.duplicates, 2);
    assert_int_equal(c.quarantined, 1);
    mdp_quarantine_cleanup(&q);
    mdp_dedup_window_cleanup(&w);
}

/* The check reads a line with yajl's stream parser when nobody asks for the parsed record (the
 * ingest stage), and with json-c's DOM when a caller wants it (mdp_ingest_verdicts' callback,
 * the collector). Both readers must judge every line alike; the stream reader leaves json-c to
 * judge what the two parsers read differently. Each line here is judged by both, with the
 * verdict it must get (NULL: valid). */
static int first_verdict(void *ud, const struct mdp_verdict *v)
{
    snprintf(ud, 64, "%s", v->kind == MDP_VERDICT_VALID ? "valid" : v->reason ? v->reason : "?");
    return 0;
}

/* Appends each verdict's name to the buffer ud (512 bytes): valid, duplicate, or the reason. */
static int all_verdicts(void *ud, const struct mdp_verdict *v)
{
    char *b = ud;
    size_t n = strlen(b);
    snprintf(b + n, 512 - n, "%s%s", n ? "," : "",
             v->kind == MDP_VERDICT_VALID       ? "valid"
             : v->kind == MDP_VERDICT_DUPLICATE ? "duplicate"
             : v->reason                        ? v->reason
                                                : "?");
    return 0;
}

static void test_events_two_readers(void **st)
{
    (void)st;
    const char *k = "events/dt=2026-10-01/e.ndjson";
#define EVT(extra)                                                                                 \
    "{\"event_id\":\"" ID1 "\",\"user_id\":\"01900000-0000-7000-8000-000000000001\","              \
    "\"timestamp\":\"2026-10-01T10:00:00Z\",\"event_type\":\"page_view\"" extra "}"
    static const struct {
        const char *line, *want;
    } cases[] = {
        {EVT(""), NULL},
        /* \u escapes are json-c's, the others yajl's: both must decode them alike */
        {EVT(",\"properties\":{\"q\":\"say \\\"hi\\\" \\u00fc\"}"), NULL},
        {EVT(",\"properties\":{\"q\":\"say \\\"hi\\\" \\\\ \\/ \\t \\\\u00fc\"}"), NULL},
        {EVT(",\"event_type\":\"page\\/view\""), "unknown_event_type"},
        {EVT(",\"event_type\":\"page\\u005fview\""), NULL},
        {EVT(",\"event_type\":\"page_view\\u0000\""), NULL}, /* json-c's text ends at the NUL */
        {EVT(",\"user\\u005fid\":null"), "missing_user_id"},
        {EVT(",\"user_id\":\"01900000-0000-7000-8000-00000000000\\/\""), "invalid_user_id"},
        {EVT(",\f\"properties\":{}"), "json_invalid"}, /* \f and \v: yajl's blanks, not json-c's */
        {EVT(",\v\"properties\":{}"), "json_invalid"},
        {EVT(",\"properties\":{\"x\":1.5e3,\"y\":123456789012345678901234}"), NULL},
        {EVT(",\"account_id\":null,\"location_id\":null,\"external_ids\":null,\"properties\":null"),
         NULL},
        {EVT(",\"user_id\":null"), "missing_user_id"}, /* the last value of a key wins */
        {EVT(",\"event_type\":\"nope\""), "unknown_event_type"},
        {EVT(",\"event_id\":\"" ID2 "\""), NULL},
        {EVT(",\"external_ids\":{\"a\":1},\"external_ids\":{\"a\":\"s\"}"), NULL},
        {EVT(",\"external_ids\":{\"a\":1,\"a\":\"s\"}"), NULL},
        {EVT(",\"external_ids\":{\"a\":{\"b\":\"c\"}}"), "invalid_external_ids"},
        {EVT(",\"external_ids\":[\"a\"]"), "invalid_external_ids"},
        {EVT(",\"properties\":{\"d\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]"
             "]"
             "]]]]]]]]]]}"),
         NULL}, /* 38 deep: json-c's limit is 64 */
        {EVT("") " {\"a\":1}", "json_invalid"},
        {EVT("") "\"", "json_invalid"}, /* a string begun after the event */
        {EVT("") " tru", "json_invalid"},
        {EVT("") " \t", NULL},
        {"[" EVT("") "]", "json_not_object"},
        {"\"event\"", "json_not_object"},
        {EVT(",\"properties\":{\"a\":1},"), NULL}, /* json-c takes a trailing comma */
    };
#undef EVT
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *want = cases[i].want ? cases[i].want : "valid";
        struct result r = check_str(k, cases[i].line); /* the stream reader first */
        int valid = r.c.out == 1 && r.c.quarantined == 0;
        if (valid != !cases[i].want || (cases[i].want && !strstr(r.reasons, cases[i].want)))
            fail_msg("case %zu, no callback: want %s, got %s", i, want,
                     valid ? "valid" : r.reasons);
        char got[64] = "";
        assert_int_equal(mdp_ingest_verdicts(NULL, k, cases[i].line, strlen(cases[i].line), NULL,
                                             NULL, first_verdict, got, NULL),
                         0);
        if (strcmp(got, want) != 0) fail_msg("case %zu, json-c: want %s, got %s", i, want, got);
    }
}

/* ---------------------------------------------------------------- ses */

static void test_ses_fixtures_and_variants(void **st)
{
    (void)st;
    const char *files[] = {"fixtures/ses/notifications/bounce.sns.json",
                           "fixtures/ses/notifications/bounce.message.json",
                           "fixtures/ses/notifications/complaint.sns.json",
                           "fixtures/ses/event-publishing/click.sns.json",
                           "fixtures/ses/event-publishing/send.record.json",
                           "fixtures/ses/event-publishing/open.sns.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        size_t n;
        char *t = fixture(files[i], &n);
        struct result r = run_check("ses/fixtures/dt=2024-11-05/x.json", t, n, 0, NULL);
        if (r.c.out != 1 || r.c.quarantined) fail_msg("%s: %s", files[i], r.reasons);
        free(t);
    }
    /* an SQS batch of two bodies: the same SNS message twice is one message and a duplicate */
    size_t n;
    char *env = fixture("fixtures/ses/event-publishing/click.sns.json", &n);
    json_object *batch = json_object_new_object(), *recs = json_object_new_array();
    for (int i = 0; i < 2; i++) {
        json_object *r = json_object_new_object();
        json_object_object_add(r, "messageId", json_object_new_string("m"));
        json_object_object_add(r, "body", json_object_new_string_len(env, (int)n));
        json_object_array_add(recs, r);
    }
    json_object_object_add(batch, "Records", recs);
    const char *text = json_object_to_json_string(batch);
    expect("ses/sqs/dt=2024-11-05/b.json", text, 1, 0, 1, NULL);
    json_object_put(batch);
    /* a Lambda SNS event (SigningCertUrl casing) */
    json_object *envj = json_tokener_parse(env), *ev = json_object_new_object(),
                *r2 = json_object_new_array(), *rec = json_object_new_object();
    json_object_object_add(rec, "EventSource", json_object_new_string("aws:sns"));
    json_object_object_add(rec, "Sns", envj);
    json_object_array_add(r2, rec);
    json_object_object_add(ev, "Records", r2);
    expect("ses/lambda/dt=2024-11-05/e.json", json_object_to_json_string(ev), 1, 0, 0, NULL);
    json_object_put(ev);
    /* truncated body inside a batch: that record only */
    char cut[4096];
    json_object *open_body = json_object_new_string("{\"eventType\":\"Open\"}");
    snprintf(cut, sizeof cut,
             "{\"Records\":[{\"body\":\"{\\\"Type\\\" : \\\"Notif\"},{\"body\":%s}]}",
             json_object_to_json_string(open_body));
    json_object_put(open_body);
    struct result r = check_str("ses/sqs/dt=2024-11-05/c.json", cut);
    assert_int_equal(r.c.quarantined, 2); /* the cut body, and an Open without mail */
    assert_non_null(strstr(r.reasons, "sns_body_truncated"));
    assert_non_null(strstr(r.reasons, "ses_missing_mail"));
    free(env);
}

/* the mail object of an SES message, open (its tags or closing brace follow): test_ses_records
 * and test_ses_two_readers */
#define MAIL                                                                                       \
    "\"mail\":{\"timestamp\":\"2024-11-05T14:20:00.187Z\",\"messageId\":\"m1\",\"destination\":["  \
    "\"a@example.com\"]"

static void test_ses_records(void **st)
{
    (void)st;
    const char *k = "ses/raw/dt=2024-11-05/r.json";
    expect(k,
           "{\"eventType\":\"Rendering Failure\"," MAIL
           "},\"failure\":{\"errorMessage\":\"x\",\"templateName\":\"t\"}}",
           1, 0, 0, NULL);
    expect(k, "{\"eventType\":\"Send\"," MAIL ",\"tags\":{\"campaign_id\":[\"c\"]}},\"send\":{}}",
           1, 0, 0, NULL);
    expect(k, "{\"eventType\":\"Send\"," MAIL ",\"tags\":{\"campaign_id\":\"c\"}},\"send\":{}}", 0,
           1, 0, "ses_invalid_tags");
    expect(k, "{\"eventType\":\"Teleport\"," MAIL "}}", 0, 1, 0, "ses_unknown_type");
    expect(k,
           "{\"notificationType\":\"Bounce\"," MAIL
           "},\"bounce\":{\"bounceType\":\"Permanent\",\"bouncedRecipients\":[],"
           "\"timestamp\":\"2024-11-05T14:20:00Z\",\"feedbackId\":\"f\"}}",
           0, 1, 0, "ses_invalid_bounce");
    expect(k,
           "{\"notificationType\":\"Complaint\"," MAIL
           "},\"complaint\":{\"complainedRecipients\":[{\"emailAddress\":\"a@example.com\"}],"
           "\"timestamp\":\"2009-12-03T04:24:21.000-05:00\",\"feedbackId\":\"f\"}}",
           1, 0, 0, NULL);
    expect(
        k,
        "{\"notificationType\":\"Delivery\",\"mail\":{\"messageId\":\"m\",\"destination\":[\"a\"],"
        "\"timestamp\":\"yesterday\"},\"delivery\":{}}",
        0, 1, 0, "ses_invalid_timestamp");
    expect(k, "{\"notificationType\":\"AmazonSnsSubscriptionSucceeded\",\"message\":\"ok\"}", 1, 0,
           0, NULL);
    expect(k, "{\"hello\":1}", 0, 1, 0, "ses_unknown_payload");
    expect(k,
           "{\"Type\":\"Notification\",\"MessageId\":\"x\",\"TopicArn\":\"t\",\"Message\":\"[1]\"}",
           0, 1, 0, "sns_message_not_object");
    expect(k, "{\"Type\":\"Teleport\",\"MessageId\":\"x\",\"TopicArn\":\"t\"}", 0, 1, 0,
           "sns_unknown_type");
}

/* The ses connector reads an SNS envelope's Message with yajl's stream reader when nobody asks
 * for the records, and with json-c otherwise and whenever the stream reader does not pass it: both
 * must judge every message alike. Each case is one or more SES messages (split at '|'), each in
 * an SNS envelope, all in one Lambda SQS event. */
static void test_ses_two_readers(void **st)
{
    (void)st;
    const char *k = "ses/sqs/dt=2024-11-05/b.json";
#define OPEN(x)                                                                                    \
    "{\"eventType\":\"Open\"," MAIL "}" x ",\"open\":{\"timestamp\":\"2024-11-05T14:21:00Z\"}}"
#define BOUNCE(r)                                                                                  \
    "{\"notificationType\":\"Bounce\"," MAIL "},\"bounce\":{\"bounceType\":\"Permanent\","         \
    "\"timestamp\":\"2024-11-05T14:20:01Z\",\"feedbackId\":\"f1\",\"bouncedRecipients\":" r "}}"
    static const struct {
        const char *msgs, *want;
    } cases[] = {
        {OPEN(""), "valid"},
        {"{\"eventType\":\"Open\"," MAIL ",\"tags\":{\"c\":[\"x\"],\"e\":[]}},\"open\":{"
         "\"timestamp\":\"2024-11-05T14:21:00Z\",\"n\":1.5e5,\"d\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
         "[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}",
         "valid"}, /* an exponent and 37 deep: json-c's */
        {"{\"eventType\":\"Click\"," MAIL "},\"click\":{\"timestamp\":\"2024-11-05T14:21:00Z\","
         "\"link\":\"https://example.com\"}}",
         "valid"},
        {"{\"eventType\":\"Click\"," MAIL "},\"click\":{\"timestamp\":\"2024-11-05T14:21:00Z\","
         "\"link\":7}}",
         "ses_invalid_click"},
        {BOUNCE("[{\"emailAddress\":\"a@example.com\"},{\"emailAddress\":\"b\",\"status\":\"5.1."
                "1\"}]"),
         "valid"},
        {BOUNCE("[{\"status\":\"5.1.1\"}]"), "ses_invalid_bounce"},
        {BOUNCE("[{\"emailAddress\":\"a\",\"emailAddress\":7}]"), "ses_invalid_bounce"},
        {BOUNCE("[]"), "ses_invalid_bounce"},
        {BOUNCE("[{\"emailAddress\":\"a\"}]") "|" BOUNCE("[{\"emailAddress\":\"a\"}]"),
         "valid,duplicate"}, /* the same feedbackId */
        {"{\"notificationType\":\"Complaint\"," MAIL "},\"complaint\":{\"timestamp\":"
         "\"2009-12-03T04:24:21.000-05:00\",\"feedbackId\":\"f2\",\"complainedRecipients\":[{"
         "\"emailAddress\":\"a\"}]}}",
         "valid"},
        {"{\"notificationType\":\"Delivery\"," MAIL "},\"delivery\":{\"timestamp\":"
         "\"2024-11-05T14:20:01Z\",\"recipients\":[\"a\"]}}",
         "valid"},
        {"{\"notificationType\":\"Delivery\"," MAIL "},\"delivery\":{\"timestamp\":"
         "\"2024-11-05T14:20:01Z\",\"recipients\":[]}}",
         "ses_invalid_delivery"},
        {"{\"eventType\":\"Teleport\",\"eventType\":\"Open\"," MAIL
         "},\"open\":{\"timestamp\":\"2024-11-05T14:21:00Z\"}}",
         "valid"}, /* the last value of a key wins */
        {"{\"eventType\":\"Open\",\"eventType\":7," MAIL
         "},\"open\":{\"timestamp\":\"2024-11-05T14:21:00Z\"}}",
         "ses_unknown_payload"},
        {OPEN(",\"mail\":{\"messageId\":\"\"}"), "ses_missing_message_id"},
        {"{\"eventType\":\"Open\"," MAIL
         ",\"tags\":null},\"open\":{\"timestamp\":\"2024-11-05T14:21:00Z\"}}",
         "ses_invalid_tags"},
        {"{\"eventType\":\"Open\"," MAIL
         ",\"tags\":{\"a\":[1]}},\"open\":{\"timestamp\":\"2024-11-05T14:21:00Z\"}}",
         "ses_invalid_tags"},
        {OPEN(",\"click\":{\"link\":\"x\"}"), "valid"}, /* a second member object */
        {"{\"eventType\":\"Open\"," MAIL "},\"open\":[]}", "ses_missing_member"},
        {"{\"eventType\":\"Open\"," MAIL ",\"x\":\"say \\\"hi\\\"\"},\"open\":{\"timestamp\":"
         "\"2024-11-05T14:21:00Z\"}}",
         "valid"}, /* escapes other than \u: yajl's */
        {"{\"eventType\":\"Open\"," MAIL ",\"x\":\"\\u00fc \\ud83d\\ude00 \\u0000\"},\"open\":{"
         "\"timestamp\":\"2024-11-05T14:21:00Z\"}}",
         "valid"}, /* \u escapes: json-c's */
        {"{\"eventType\":\"Op\\u0065n\"," MAIL
         "},\"open\":{\"timestamp\":\"2024-11-05T14:21:00Z\"}}",
         "valid"},
        {OPEN("") " x", "sns_message_invalid"},
        {OPEN("") "\"", "sns_message_invalid"}, /* a string begun after the message */
        {OPEN("") " \t", "valid"},
        {"\f" OPEN(""), "sns_message_invalid"}, /* \f: yajl's blank, not json-c's */
        {"[1]", "sns_message_not_object"},
        {"{\"notificationType\":\"AmazonSnsSubscriptionSucceeded\",\"message\":\"ok\"}", "valid"},
        {"{\"eventType\":\"DeliveryDelay\"," MAIL "},\"deliveryDelay\":{}}",
         "ses_invalid_timestamp"},
        {"{\"eventType\":\"Open\",\"mail\":{\"timestamp\":\"2024-11-05T14:20:00.187Z\","
         "\"messageId\":\"m-0123456789012345678901234567890123456789012345678901234567890123456789"
         "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
         "890123456789012345678901234567890123456789012345678901234567890123456789\",\"destination"
         "\":[\"a\"]},\"open\":{\"timestamp\":\"2024-11-05T14:21:00Z\"}}",
         "valid"},                          /* a text of 256 bytes or more: json-c's */
        {OPEN(",\"u\":\"\xff\""), "valid"}, /* not UTF-8: yajl refuses, json-c takes it */
    };
#undef BOUNCE
#undef OPEN
#undef MAIL
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *want = cases[i].want;
        json_object *ev = json_object_new_object(), *recs = json_object_new_array();
        char msgs[2048];
        snprintf(msgs, sizeof msgs, "%s", cases[i].msgs);
        int m = 0;
        for (char *save = NULL, *msg = strtok_r(msgs, "|", &save); msg;
             msg = strtok_r(NULL, "|", &save), m++) {
            char mid[32];
            snprintf(mid, sizeof mid, "sns-%zu-%d", i, m);
            json_object *env = json_object_new_object(), *rec = json_object_new_object();
            json_object_object_add(env, "Type", json_object_new_string("Notification"));
            json_object_object_add(env, "MessageId", json_object_new_string(mid));
            json_object_object_add(env, "TopicArn", json_object_new_string("arn:t"));
            json_object_object_add(env, "Message", json_object_new_string(msg));
            json_object_object_add(rec, "body",
                                   json_object_new_string(json_object_to_json_string(env)));
            json_object_array_add(recs, rec);
            json_object_put(env);
        }
        json_object_object_add(ev, "Records", recs);
        const char *obj = json_object_to_json_string(ev);
        char got[512] = "";
        struct mdp_ingest_counts vc;
        assert_int_equal(
            mdp_ingest_verdicts(NULL, k, obj, strlen(obj), NULL, NULL, all_verdicts, got, &vc), 0);
        if (strcmp(got, want) != 0) fail_msg("case %zu, json-c: want %s, got %s", i, want, got);
        struct result r = check_str(k, obj); /* the stream reader first */
        if (r.c.out != vc.out || r.c.duplicates != vc.duplicates ||
            r.c.quarantined != vc.quarantined || memcmp(r.c.extra, vc.extra, sizeof vc.extra) ||
            r.c.newest_event_ms != vc.newest_event_ms ||
            (vc.quarantined && !strstr(r.reasons, want)))
            fail_msg("case %zu, no callback: out/dup/q %lld/%lld/%lld, want %s; %s", i,
                     (long long)r.c.out, (long long)r.c.duplicates, (long long)r.c.quarantined,
                     want, r.reasons);
        json_object_put(ev);
    }
}

/* Builds a key, a self-signed certificate, and signs like SNS does. */
static EVP_PKEY *make_key_and_cert(const char *cache, const char *url)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"sns.amazonaws.com",
                               -1, -1, 0);
    X509_set_issuer_name(x, nm);
    X509_sign(x, key, EVP_sha256());
    char hex[65], path[1024];
    mdp_sha256_hex(url, strlen(url), hex);
    snprintf(path, sizeof path, "%s/%s.pem", cache, hex);
    FILE *f = fopen(path, "wb");
    PEM_write_X509(f, x);
    fclose(f);
    X509_free(x);
    return key;
}

static char *sign_b64(EVP_PKEY *key, const EVP_MD *md, const char *text)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = 0;
    EVP_DigestSignInit(ctx, NULL, md, NULL, key);
    EVP_DigestSign(ctx, NULL, &n, (const unsigned char *)text, strlen(text));
    unsigned char *sig = malloc(n);
    EVP_DigestSign(ctx, sig, &n, (const unsigned char *)text, strlen(text));
    char *b64 = malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, sig, (int)n);
    free(sig);
    EVP_MD_CTX_free(ctx);
    return b64;
}

static char *envelope(const char *msg, const char *sig, const char *url, const char *version)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "Type", json_object_new_string("Notification"));
    json_object_object_add(e, "MessageId",
                           json_object_new_string("11111111-2222-3333-4444-555555555555"));
    json_object_object_add(e, "TopicArn",
                           json_object_new_string("arn:aws:sns:eu-central-1:123456789012:ses"));
    json_object_object_add(e, "Subject",
                           json_object_new_string("Amazon SES Email Event Notification"));
    json_object_object_add(e, "Message", json_object_new_string(msg));
    json_object_object_add(e, "Timestamp", json_object_new_string("2024-11-05T16:03:10.240Z"));
    json_object_object_add(e, "SignatureVersion", json_object_new_string(version));
    json_object_object_add(e, "Signature", json_object_new_string(sig));
    json_object_object_add(e, "SigningCertURL", json_object_new_string(url));
    char *t = strdup(json_object_to_json_string(e));
    json_object_put(e);
    return t;
}

static void test_sns_signatures(void **st)
{
    (void)st;
    char *cache = tu_tmpdir();
    const char *url =
        "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";
    EVP_PKEY *key = make_key_and_cert(cache, url);
    const char *msg = "{\"eventType\":\"Send\",\"mail\":{\"timestamp\":\"2024-11-05T14:20:00."
                      "187Z\",\"messageId\":\"m\","
                      "\"destination\":[\"a@example.com\"]},\"send\":{}}";
    /* the string to sign, as the SNS documentation lists it for a Notification */
    char sts[2048];
    snprintf(sts, sizeof sts,
             "Message\n%s\nMessageId\n11111111-2222-3333-4444-555555555555\nSubject\nAmazon SES "
             "Email Event "
             "Notification\nTimestamp\n2024-11-05T16:03:10.240Z\nTopicArn\narn:aws:sns:eu-central-"
             "1:123456789012:ses\n"
             "Type\nNotification\n",
             msg);
    const char *k = "ses/http/dt=2024-11-05/m.json";
    for (int v = 1; v <= 2; v++) {
        char *sig = sign_b64(key, v == 1 ? EVP_sha1() : EVP_sha256(), sts);
        char *good = envelope(msg, sig, url, v == 1 ? "1" : "2");
        struct result r = run_check(k, good, strlen(good), 1, cache);
        if (r.c.out != 1 || r.c.extra[3] != 1) fail_msg("v%d: %s", v, r.reasons);
        /* the same bytes without verification are taken too; tampering is caught only with it */
        char *bad = envelope("{\"eventType\":\"Send\"}", sig, url, v == 1 ? "1" : "2");
        r = run_check(k, bad, strlen(bad), 1, cache);
        assert_non_null(strstr(r.reasons, "sns_signature_invalid"));
        free(bad);
        /* the wrong digest for the version */
        bad = envelope(msg, sig, url, v == 1 ? "2" : "1");
        r = run_check(k, bad, strlen(bad), 1, cache);
        assert_int_equal(r.c.quarantined, 1);
        free(bad);
        free(good);
        free(sig);
    }
    /* certificate URLs that are not SNS's */
    const char *urls[] = {"http://sns.eu-central-1.amazonaws.com/x.pem",
                          "https://sns.eu-central-1.amazonaws.com.evil.example/x.pem",
                          "https://evil.example/sns.eu-central-1.amazonaws.com/x.pem",
                          "https://sns.eu-central-1.amazonaws.com/x.pem?x=1",
                          "https://sns..amazonaws.com/x.pem",
                          "https://sns.eu-central-1.amazonaws.com/x.crt"};
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        char *e = envelope(msg, "AAAA", urls[i], "1");
        struct result r = run_check(k, e, strlen(e), 1, cache);
        if (!strstr(r.reasons, "not an https .pem URL on an SNS host"))
            fail_msg("%s accepted: %s", urls[i], r.reasons);
        free(e);
    }
    /* the fixtures' signatures are fake: with verification on they are refused */
    size_t n;
    char *fx = fixture("fixtures/ses/event-publishing/click.sns.json", &n);
    json_object *o = json_tokener_parse(fx);
    EVP_PKEY_free(make_key_and_cert(
        cache, json_object_get_string(json_object_object_get(o, "SigningCertURL"))));
    struct result r = run_check(k, fx, n, 1, cache);
    assert_non_null(strstr(r.reasons, "sns_signature_invalid"));
    json_object_put(o);
    free(fx);
    EVP_PKEY_free(key);
    tu_rmdir(cache);
}

/* ---------------------------------------------------------------- ddb */

static char *gzip_bytes(const char *p, size_t n, size_t *out_n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    char *out = malloc(cap);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)n;
    z.next_out = (unsigned char *)out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static void test_ddb(void **st)
{
    (void)st;
    size_t n;
    char *fh = fixture("fixtures/dynamodb/firehose-s3/2024/11/05/14/"
                       "vc-ddb-cdc-2-2024-11-05-14-09-47-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                       &n);
    const char *k = "dynamodb/firehose/2024/11/05/14/x";
    struct result plain = run_check(k, fh, n, 0, NULL);
    assert_int_equal(plain.c.out, 5);
    assert_int_equal(plain.c.quarantined, 0);
    assert_int_equal(plain.c.extra[3], 1); /* one TTL delete */
    assert_int_equal(plain.c.extra[2], 1); /* one application delete */
    /* no delimiter: the same records back to back */
    char *joined = malloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (fh[i] != '\n') joined[j++] = fh[i];
    struct result cat = run_check(k, joined, j, 0, NULL);
    assert_int_equal(cat.c.out, 5);
    /* gzip'd, and a gzip cut short */
    size_t gn;
    char *gz = gzip_bytes(fh, n, &gn);
    struct result g = run_check(k, gz, gn, 0, NULL);
    assert_int_equal(g.c.out, 5);
    assert_int_equal(g.c.newest_event_ms, plain.c.newest_event_ms);
    g = run_check(k, gz, gn / 2, 0, NULL);
    assert_non_null(strstr(g.reasons, "gzip_corrupt"));
    free(gz);
    /* a record cut in the middle costs only itself */
    char *cut = malloc(n + 1);
    const char *second = strchr(fh, '\n') + 1;
    size_t first = (size_t)(second - fh), half = (size_t)(strchr(second, '\n') - second) / 2;
    memcpy(cut, fh, first + half);
    memcpy(cut + first + half, strchr(second, '\n') + 1,
           n - (size_t)(strchr(second, '\n') + 1 - fh));
    size_t cn = first + half + n - (size_t)(strchr(second, '\n') + 1 - fh);
    struct result c = run_check(k, cut, cn, 0, NULL);
    assert_int_equal(c.c.out, 4);
    assert_int_equal(c.c.quarantined, 1);
    free(cut);
    free(joined);
    free(fh);
    /* Lambda stream events */
    const char *lam[] = {"fixtures/dynamodb/vctokens-insert.lambda-event.json",
                         "fixtures/dynamodb/vctokens-modify.lambda-event.json",
                         "fixtures/dynamodb/vctokens-remove-user-delete.lambda-event.json"};
    for (size_t i = 0; i < 3; i++) {
        char *t = fixture(lam[i], &n);
        struct result r = run_check("dynamodb/lambda/dt=2024-11-05/e.json", t, n, 0, NULL);
        if (r.c.out != 1 || r.c.quarantined) fail_msg("%s: %s", lam[i], r.reasons);
        free(t);
    }
    /* attribute values */
#define REC(img)                                                                                   \
    "{\"awsRegion\":\"x\",\"eventID\":\"e1\",\"eventName\":\"INSERT\",\"userIdentity\":null,"      \
    "\"tableName\":\"VcTokens\",\"dynamodb\":{\"ApproximateCreationDateTime\":1730815407512,"      \
    "\"Keys\":{\"token_hash\":{\"S\":\"h\"}},\"NewImage\":" img "}}"
    expect(
        k,
        REC("{\"a\":{\"N\":\"12345678901234567890123456789012345678\"},\"b\":{\"BS\":[\"AAEC\"]},"
            "\"c\":{\"NULL\":true},\"d\":{\"M\":{\"e\":{\"L\":[{\"NS\":[\"1\",\"2.5\"]}]}}}}"),
        1, 0, 0, NULL);
    expect(k, REC("{\"a\":{\"N\":12}}"), 0, 1, 0, "NewImage.a: N is decimal text");
    expect(k, REC("{\"a\":{\"N\":\"123456789012345678901234567890123456789\"}}"), 0, 1, 0,
           "ddb_invalid_attribute_value");
    expect(k, REC("{\"a\":{\"S\":\"x\",\"N\":\"1\"}}"), 0, 1, 0, "exactly one type key");
    expect(k, REC("{\"a\":{\"SS\":[\"x\",\"x\"]}}"), 0, 1, 0, "repeats a member");
    expect(k, REC("{\"a\":{\"SS\":[]}}"), 0, 1, 0, "ddb_invalid_attribute_value");
    expect(k, REC("{\"a\":{\"NULL\":false}}"), 0, 1, 0, "ddb_invalid_attribute_value");
    expect(k, REC("{\"a\":{\"B\":\"not base64!\"}}"), 0, 1, 0, "ddb_invalid_attribute_value");
    expect(k, REC("{\"a\":{\"M\":{\"b\":{\"X\":\"1\"}}}}"), 0, 1, 0,
           "NewImage.a.b: unknown type key X");
    expect(k, REC("{}") REC("{}"), 1, 0, 1, NULL); /* the same eventID twice */
    expect(k,
           "{\"awsRegion\":\"x\",\"eventID\":\"e\",\"eventName\":\"INSERT\",\"tableName\":"
           "\"Users\",\"dynamodb\":{}}",
           0, 1, 0, "ddb_unknown_table");
    expect(k,
           "{\"awsRegion\":\"x\",\"eventID\":\"e\",\"eventName\":\"MODIFY\",\"tableName\":"
           "\"VcTokens\",\"dynamodb\":{"
           "\"ApproximateCreationDateTime\":1,\"Keys\":{\"k\":{\"S\":\"v\"}},\"NewImage\":{}}}",
           0, 1, 0, "ddb_invalid_images");
#undef REC
    /* sequence numbers beyond 64 bits compare by length, then digits */
    assert_true(mdp__ddb_seq_cmp("100000000000000000000000", "99999999999999999999999") > 0);
    assert_true(mdp__ddb_seq_cmp("111111111111111111111", "111111111111111111112") < 0);
    assert_int_equal(
        mdp__ddb_seq_cmp("4421584500000000017450439091", "4421584500000000017450439091"), 0);
}

/* The ddb connector reads Firehose objects with yajl's stream reader when nobody asks for the
 * records, and goes on with json-c's splitter from the first record the stream reader leaves to
 * it: both must judge every record alike, record by record. */
static void test_ddb_two_readers(void **st)
{
    (void)st;
    const char *k = "dynamodb/firehose/2024/11/05/14/x";
#define DREC(id, ev, table, ddb)                                                                   \
    "{\"eventID\":\"" id "\",\"eventName\":\"" ev "\",\"tableName\":\"" table "\","                \
    "\"dynamodb\":{\"ApproximateCreationDateTime\":1730815407512,"                                 \
    "\"Keys\":{\"k\":{\"S\":\"v\"}}" ddb "}}"
#define VC(id, ni) DREC(id, "INSERT", "VcTokens", ",\"NewImage\":" ni)
#define CJ(id, ni) DREC(id, "INSERT", "ConsentJournal", ",\"NewImage\":" ni)
#define CONSENT(x)                                                                                 \
    "{" x "\"ts\":{\"S\":\"2024-11-05T14:00:00Z\"},\"consent_type\":{\"S\":\"ml\"},"               \
    "\"decision\":{\"S\":\"granted\"}}"
#define DEEP5(x)                                                                                   \
    "{\"M\":{\"a\":{\"M\":{\"a\":{\"M\":{\"a\":{\"M\":{\"a\":{\"M\":{\"a\":" x "}}}}}}}}}}"
    static const struct {
        const char *obj, *want;
    } cases[] = {
        {VC("e1", "{\"a\":{\"S\":\"x\"}}") VC("e2", "{}"), "valid,valid"},
        {VC("e1", "{\"a\":{\"N\":\"1.5e3\"},\"b\":{\"BS\":[\"AAEC\"]},\"c\":{\"NULL\":true},"
                  "\"d\":{\"M\":{\"e\":{\"L\":[{\"NS\":[\"1\",\"2.5\"]},{\"BOOL\":false}]}}},"
                  "\"f\":{\"SS\":[\"x\",\"y\"]},\"g\":{\"B\":\"AAEC\"},\"h\":{\"L\":[]}}"),
         "valid"},
        {VC("e1", "{}") "\n" VC("e1", "{}"), "valid,duplicate"},
        {DREC("e1", "INSERT\",\"eventName\":\"X", "VcTokens", ""), "ddb_unknown_event_name"},
        {DREC("e1", "X\",\"eventName\":\"INSERT", "VcTokens", ""), "valid"},
        {CJ("e1", CONSENT("\"email\":{\"S\":\"a@b.example\"},")), "valid"},
        {CJ("e1", CONSENT("\"email\":{\"S\":\"a@b.example\"},\"email\":{\"N\":\"1\"},")),
         "consent_missing_subject"}, /* the last value of a key wins */
        {CJ("e1", CONSENT("\"email\":{\"N\":\"1\"},\"email\":{\"S\":\"a@b.example\"},")), "valid"},
        {CJ("e1", CONSENT("\"email\":{\"S\":\"a@b.example\"},\"expires_at\":{\"N\":\"1\"},")),
         "consent_invalid_expiry"},
        {CJ("e1", CONSENT("\"user_id\":{\"S\":\"not-a-uuid\"},")), "invalid_id"},
        {VC("e1", "{\"a\":{\"S\":\"x\",\"S\":\"y\"}}"), "valid"}, /* one type key for json-c */
        {VC("e1", "{\"a\":{\"S\":\"x\",\"N\":\"1\"}}"), "ddb_invalid_attribute_value"},
        {VC("e1", "{\"a\":{\"SS\":[\"x\",\"x\"]}}"), "ddb_invalid_attribute_value"},
        {VC("e1", "{\"a\":{\"SS\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\","
                  "\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\",\"r\",\"s\",\"t\"]}}"),
         "valid"},
        {VC("e1", "{}") VC("e2", "{\"a\":{\"S\":\"q\\\"uote \\u00fc\"}}") VC("e3", "{}"),
         "valid,valid,valid"},
        /* escapes other than \u are yajl's: both must decode them alike */
        {VC("e1", "{}") VC("e2", "{\"a\":{\"S\":\"q\\\"uote \\\\ \\/ \\\\u00fc\"}}") VC("e3", "{}"),
         "valid,valid,valid"},
        {VC("e1", "{\"a\":{\"SS\":[\"x/\",\"x\\/\"]}}"), "ddb_invalid_attribute_value"},
        {VC("e1", "{\"a\":{\"SS\":[\"\\ud800\",\"\\udc00\"]}}"), "ddb_invalid_attribute_value"},
        {VC("e1", "{\"a\":{\"SS\":[\"\\ud800\",\"?\"]}}"), "valid"},
        {VC("e1", "{\"a\":{\"SS\":[\"\\ud800\",\"\\ufffd\"]}}"),
         "ddb_invalid_attribute_value"}, /* json-c decodes a lone surrogate as U+FFFD, yajl not */
        {VC("e1", "{\"a\":{\"SS\":[\"x\\\"\",\"x\\\\\"]}}"), "valid"},
        {DREC("e1", "IN\\/SERT", "VcTokens", ""), "ddb_unknown_event_name"},
        {DREC("e1", "INS\\u0045RT", "VcTokens", ""), "valid"},
        {VC("e1", "{}") DREC("e2", "INSERT\\", "VcTokens", ""), "valid,json_invalid"},
        {VC("e1", "{}") "\f" VC("e2", "{}"), "valid,json_invalid,valid"},
        {VC("e1", "{}") " \"", "valid,json_truncated"},
        {VC("e1", "{}") " /* c */ " VC("e2", "{}"), "valid,valid"},
        {VC("e1", "{}") ", " VC("e2", "{}"), "valid,json_invalid,valid"},
        /* json-c reads on after a record into a comment: a bad one fails the record */
        {VC("e1", "{}") " /json\n" VC("e2", "{}"), "json_invalid,valid"},
        {"[" VC("e1", "{}") "]", "json_not_object"},
#define RECS                                                                                       \
    "{\"Records\":[],\"eventID\":\"e1\",\"eventName\":\"INSERT\",\"tableName\":\"VcTokens\","      \
    "\"dynamodb\":{\"ApproximateCreationDateTime\":1730815407512,\"Keys\":{\"k\":{\"S\":\"v\"}}}}"
        {RECS VC("e2", "{}"), "valid,valid"}, /* not alone: a record, not a Lambda event */
        {RECS "\n", ""},                      /* alone: a Lambda event of no records */
#undef RECS
        {DREC("e1", "INSERT", "VcTokens", ",\"NewImage\":null"), "valid"}, /* keys only */
        {DREC("e1", "MODIFY", "VcTokens", ",\"NewImage\":{},\"OldImage\":null"),
         "ddb_invalid_images"},
        {"{\"eventID\":\"e1\",\"eventName\":\"INSERT\",\"tableName\":\"VcTokens\","
         "\"dynamodb\":{\"ApproximateCreationDateTime\":1.730815407512e12,\"Keys\":{}}}",
         "ddb_missing_keys"},
        {"{\"eventID\":\"e1\",\"eventName\":\"INSERT\",\"tableName\":\"VcTokens\","
         "\"dynamodb\":{\"ApproximateCreationDateTime\":1.730815407512e12,\"Keys\":{\"k\":{\"S\":"
         "\"v\"}}}}",
         "valid"},
        {"{\"eventID\":\"e1\",\"eventName\":\"INSERT\",\"tableName\":\"VcTokens\","
         "\"dynamodb\":{\"ApproximateCreationDateTime\":1730815407512345.5,"
         "\"ApproximateCreationDateTimePrecision\":\"MICROSECOND\",\"Keys\":{\"k\":{\"S\":"
         "\"v\"}}}}",
         "valid"},
        {"{\"eventID\":\"e1\",\"eventName\":\"INSERT\",\"tableName\":\"VcTokens\","
         "\"dynamodb\":{\"ApproximateCreationDateTime\":\"1730815407512\",\"Keys\":{\"k\":{\"S\":"
         "\"v\"}}}}",
         "ddb_invalid_time"},
#define TIMED(t)                                                                                   \
    "{\"eventID\":\"e1\",\"eventName\":\"INSERT\",\"tableName\":\"VcTokens\",\"dynamodb\":{"       \
    "\"ApproximateCreationDateTime\":" t ",\"Keys\":{\"k\":{\"S\":\"v\"}}}}"
        /* out of int64_t's range as a double (UBSan, fuzz_ddb): the range is checked first */
        {TIMED("1e19"), "ddb_invalid_time"},
        {TIMED("18446744073709551616"), "ddb_invalid_time"},
        {TIMED("-1e300"), "ddb_invalid_time"},
        {TIMED("NaN"), "ddb_invalid_time"},
        {TIMED("-0.5"), "valid"}, /* truncated to 0, as before */
#undef TIMED
        {"{\"eventID\":\"e1\",\"eventName\":\"REMOVE\",\"tableName\":\"VcTokens\","
         "\"userIdentity\":{\"type\":\"Service\",\"principalId\":\"dynamodb.amazonaws.com\"},"
         "\"dynamodb\":{\"ApproximateCreationDateTime\":1730815407512,\"Keys\":{\"k\":{\"S\":"
         "\"v\"}},\"OldImage\":{}}}",
         "valid"},
        {VC("e1", "{\"a\":" DEEP5(DEEP5(DEEP5("{\"S\":\"x\"}"))) "}"), "valid"}, /* 15 deep */
        {VC("e1", "{\"a\":{\"S\":\"M\xc3\xbcller\"},\"b\":{\"S\":\"\xff\"}}"), "valid"},
        {"{\"eventID\":7,\"eventName\":\"INSERT\"}", "ddb_missing_event_id"},
        {VC("e1", "{}") VC("e2", "{\"a\":{\"N\":\"x\"}}") VC("e3", "{}"),
         "valid,ddb_invalid_attribute_value,valid"},
    };
#undef DEEP5
#undef CONSENT
#undef CJ
#undef VC
#undef DREC
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *obj = cases[i].obj, *want = cases[i].want;
        char got[512] = "";
        struct mdp_ingest_counts vc;
        assert_int_equal(
            mdp_ingest_verdicts(NULL, k, obj, strlen(obj), NULL, NULL, all_verdicts, got, &vc), 0);
        if (strcmp(got, want) != 0) fail_msg("case %zu, json-c: want %s, got %s", i, want, got);
        struct result r = check_str(k, obj); /* the stream reader first */
        int64_t valid = 0, dup = 0, q = 0;
        const char *at = r.reasons;
        for (const char *w = want; *w; w += strcspn(w, ","), w += *w == ',') {
            size_t len = strcspn(w, ",");
            if (len == 5 && strncmp(w, "valid", 5) == 0) {
                valid++;
            } else if (len == 9 && strncmp(w, "duplicate", 9) == 0) {
                dup++;
            } else { /* the reasons in the quarantine, in order */
                char reason[64];
                snprintf(reason, sizeof reason, "%.*s", (int)len, w);
                q++;
                if (!(at = strstr(at, reason)))
                    fail_msg("case %zu, no callback: no %s in %s", i, reason, r.reasons);
                at += len;
            }
        }
        if (r.c.out != valid || r.c.duplicates != dup || r.c.quarantined != q ||
            memcmp(r.c.extra, vc.extra, sizeof vc.extra) != 0 ||
            r.c.newest_event_ms != vc.newest_event_ms)
            fail_msg("case %zu, no callback: out/dup/q %lld/%lld/%lld, want %s; %s", i,
                     (long long)r.c.out, (long long)r.c.duplicates, (long long)r.c.quarantined,
                     want, r.reasons);
    }
}

/* ---------------------------------------------------------------- ga4, gbp, meta, supabase */

static void test_ga4(void **st)
{
    (void)st;
    const char *files[] = {"fixtures/ga4/runreport.response.json",
                           "fixtures/ga4/runreport.request.json",
                           "fixtures/ga4/runreport-empty.response.json"};
    const int64_t rows[] = {8, 0, 0};
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        char *t = fixture(files[i], &n);
        struct result r = run_check("ga4/runreport/dt=2024-11-01/r.json", t, n, 0, NULL);
        if (r.c.quarantined || r.c.extra[0] != rows[i]) fail_msg("%s: %s", files[i], r.reasons);
        if (i == 0) {
            char iso[32];
            mdp_time_format_ms(r.c.newest_event_ms, iso, sizeof iso);
            assert_string_equal(iso, "2024-11-02T00:00:00.000Z");
        }
        free(t);
    }
    const char *k = "ga4/runreport/dt=2024-11-01/r.json";
#define RR(rows)                                                                                   \
    "{\"dimensionHeaders\":[{\"name\":\"date\"}],\"metricHeaders\":[{\"name\":\"sessions\","       \
    "\"type\":\"TYPE_INTEGER\"},"                                                                  \
    "{\"name\":\"t\",\"type\":\"TYPE_SECONDS\"}],\"rows\":" rows ",\"rowCount\":1}"
    expect(k,
           RR("[{\"dimensionValues\":[{\"value\":\"20241101\"}],\"metricValues\":[{\"value\":"
              "\"12\"},{\"value\":\"1.5\"}]}]"),
           1, 0, 0, NULL);
    expect(k,
           RR("[{\"dimensionValues\":[{\"value\":\"20241101\"}],\"metricValues\":[{\"value\":\"1."
              "5\"},{\"value\":\"1\"}]}]"),
           0, 1, 0, "ga4_invalid_metric");
    expect(k,
           RR("[{\"dimensionValues\":[{\"value\":\"2024-11-01\"}],\"metricValues\":[{\"value\":"
              "\"1\"},{\"value\":\"1\"}]}]"),
           0, 1, 0, "ga4_invalid_date");
    expect(k,
           RR("[{\"dimensionValues\":[{\"value\":\"20241101\"}],\"metricValues\":[{\"value\":\"1\"}"
              "]}]"),
           0, 1, 0, "ga4_row_shape");
    expect(k,
           "{\"httpStatus\":429,\"body\":{\"error\":{\"code\":429,\"message\":\"Exhausted property "
           "tokens per hour\","
           "\"status\":\"RESOURCE_EXHAUSTED\"}}}",
           1, 0, 0, NULL);
    expect(k, "{\"error\":{\"code\":500}}", 0, 1, 0, "api_error_invalid");
#undef RR
    double v;
    assert_int_equal(mdp_ga4_metric_value("TYPE_MILLISECONDS", "1500", &v), 0);
    assert_true(v > 1.49 && v < 1.51);
    assert_int_equal(mdp_ga4_metric_value("TYPE_INTEGER", "4127", &v), 0);
    assert_true(v == 4127.0);
    assert_int_equal(mdp_ga4_metric_value("TYPE_INTEGER", "4.1", &v), MDP_ERR_PARSE);
    assert_int_equal(mdp_ga4_metric_value("TYPE_FUTURE", "1", &v), MDP_ERR_UNSUPPORTED);
}

static void test_gbp_meta(void **st)
{
    (void)st;
    size_t n;
    char *t = fixture("fixtures/gbp/location.get.json", &n);
    struct result r = run_check("gbp/locations/dt=2024-11-05/l.json", t, n, 0, NULL);
    assert_int_equal(r.c.out, 1);
    assert_int_equal(r.c.quarantined, 0);
    free(t);
    const char *k = "gbp/locations/dt=2024-11-05/l.json";
    expect(k, "{\"locations\":[{\"name\":\"locations/1\"},{\"name\":\"accounts/1/locations/2\"}]}",
           1, 1, 0, "gbp_invalid_name");
    expect(k, "{\"locations\":[{\"name\":\"locations/1\",\"metadata\":{\"placeId\":12}}]}", 0, 1, 0,
           "gbp_invalid_place_id");
    expect(k,
           "{\"locations\":[{\"name\":\"locations/"
           "1\",\"regularHours\":{\"periods\":[{\"openDay\":\"MONDAY\",\"openTime\":{},"
           "\"closeDay\":\"MONDAY\",\"closeTime\":{\"hours\":24}},{\"openDay\":\"FUNDAY\","
           "\"openTime\":{},\"closeDay\":"
           "\"MONDAY\",\"closeTime\":{}}]}}]}",
           0, 1, 0, "gbp_invalid_hours");
    expect(k, "{}", 0, 0, 0, NULL);
    const char *metas[] = {"fixtures/meta/me-accounts.json", "fixtures/meta/page.json",
                           "fixtures/meta/ig-user.json",
                           "fixtures/meta/page.fields-instagram_business_account.json"};
    const int64_t outs[] = {2, 1, 1, 1};
    for (size_t i = 0; i < 4; i++) {
        t = fixture(metas[i], &n);
        r = run_check("meta/fixtures/dt=2024-11-05/m.json", t, n, 0, NULL);
        if (r.c.out != outs[i] || r.c.quarantined) fail_msg("%s: %s", metas[i], r.reasons);
        free(t);
    }
    k = "meta/pages/dt=2024-11-05/p.json";
    expect(k, "{\"id\":104512345678901}", 0, 1, 0, "meta_invalid_id");
    expect(k, "{\"id\":\"1\",\"instagram_business_account\":{\"id\":17841400000000001}}", 0, 1, 0,
           "meta_invalid_id");
    expect(k, "{\"id\":\"1\",\"fan_count\":\"12\"}", 0, 1, 0, "meta_invalid_count");
    expect(k,
           "{\"httpStatus\":400,\"body\":{\"error\":{\"message\":\"Error validating access "
           "token\",\"type\":\"OAuthException\","
           "\"code\":190,\"error_subcode\":463}}}",
           1, 0, 0, NULL);
}

static void test_supabase_csv(void **st)
{
    (void)st;
    const char *k = "supabase/accounts/dt=2026-10-01/accounts.csv";
    expect(k, "a,b,c\n1,\"x,\ny\",3\n4,5,6\n", 2, 0, 0, NULL);
    expect(k, "a,b,c\n1,2\n4,5,6\n", 1, 1, 0, "csv_column_count");
    expect(k, "a,b,c\n1,2,3\n4,5", 1, 1, 0, "csv_truncated");
    expect(k, "a,b,c\n1,\"2,3\n", 0, 1, 0, "csv_unterminated_quote");
    expect(k, "a,\"b\nc,1\n3", 0, 1, 0,
           "csv_unterminated_quote"); /* found by fuzzing: a header that never ends */
}

/* ---------------------------------------------------------------- the stage: drift, threshold */

struct runs {
    struct mdp_run v[32];
    int n;
};

static void keep(const struct mdp_run *r, void *ud)
{
    struct runs *x = ud;
    if (x->n < 32) x->v[x->n++] = *r;
}

static void test_stage_drift_and_threshold(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    char landing[1024];
    struct mdp_config cfg;
    tu_lake_config(dir, &cfg, landing, sizeof landing);
    struct mdp_store *ls;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_store_open(landing, 1, &ls, &d), 0);
    const char *day1 = "account_id,business_name\n01900000-0000-7000-8000-000000000001,A\n",
               *day2 = "account_id,business_name,main_category\n"
                       "01900000-0000-7000-8000-000000000002,B,c\n";
    mdp_store_put(ls, "supabase/accounts/dt=2026-10-01/accounts.csv", day1, strlen(day1), 0, &d);
    mdp_store_put(ls, "supabase/accounts/dt=2026-10-02/accounts.csv", day2, strlen(day2), 0, &d);
    /* a second change in the same run is compared with the first change's columns, which the run
     * keeps instead of reading the state per delivery */
    const char *day3 = "account_id,main_category\n01900000-0000-7000-8000-000000000003,c\n";
    mdp_store_put(ls, "supabase/accounts/dt=2026-10-03/accounts.csv", day3, strlen(day3), 0, &d);
    struct mdp_lake *lake;
    assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
    struct runs rs = {0};
    struct mdp_stage_ctx ctx = {&cfg, lake, -1, keep, &rs, 0};
    struct mdp_run run;
    mdp_run_begin(&run, "t");
    assert_int_equal(mdp_ingest_run(&ctx, "supabase", &run, &d), 0);
    assert_int_equal(rs.n, 1);
    assert_non_null(strstr(rs.v[0].message, "2 schema changes"));
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_store_get(lake->store, "_meta/state/supabase/accounts/columns", &b, &d),
                     0);
    assert_string_equal(b.data, "account_id,main_category");
    char **drift = NULL;
    size_t ndrift = 0;
    assert_int_equal(mdp_store_list_keys(lake->store, "_meta/state/supabase/accounts/drift/", NULL,
                                         &drift, &ndrift, &d),
                     0);
    assert_int_equal(ndrift, 2);
    mdp_store_keys_free(drift, ndrift);
    /* the next run reads the state once: the same columns are no drift, others are */
    const char *day4 = "account_id,main_category\n01900000-0000-7000-8000-000000000004,d\n",
               *day5 = "account_id\n01900000-0000-7000-8000-000000000005\n";
    mdp_store_put(ls, "supabase/accounts/dt=2026-10-04/accounts.csv", day4, strlen(day4), 0, &d);
    mdp_store_put(ls, "supabase/accounts/dt=2026-10-05/accounts.csv", day5, strlen(day5), 0, &d);
    rs.n = 0;
    mdp_run_begin(&run, "t");
    assert_int_equal(mdp_ingest_run(&ctx, "supabase", &run, &d), 0);
    assert_non_null(strstr(rs.v[0].message, "1 schema changes"));
    mdp_buf_reset(&b);
    assert_int_equal(mdp_store_get(lake->store, "_meta/state/supabase/accounts/columns", &b, &d),
                     0);
    assert_string_equal(b.data, "account_id");
    /* a delivery with most records bad fails the connector, but everything is landed */
    const char *ev = "{bad\n{bad\n";
    mdp_store_put(ls, "events/dt=2026-10-01/events.ndjson", ev, strlen(ev), 0, &d);
    rs.n = 0;
    mdp_run_begin(&run, "t");
    assert_int_equal(mdp_ingest_run(&ctx, "events", &run, &d), MDP_ERR_STAGE);
    assert_non_null(strstr(d.msg, "100.0% of records quarantined"));
    assert_string_equal(rs.v[0].status, "failed");
    assert_int_equal(rs.v[0].quarantined, 2);
    cfg.ingest_max_quarantine_share = 1.0;
    mdp_buf_cleanup(&b);
    mdp_store_close(ls);
    mdp_lake_close(lake);
    mdp_config_cleanup(&cfg);
    tu_rmdir(dir);
}

/* Issue 11, one verdict API: mdp_ingest_verdicts gives each record's verdict in order, with its
 * line, event time, reason and location, and the parsed record; a caller's stop is returned. */
struct seen_verdicts {
    int n, stop_at;
    struct {
        enum mdp_verdict_kind kind;
        long index, line;
        int64_t event_ms;
        char reason[64], location[128], event_id[64];
    } v[8];
};

static int collect_verdict(void *ud, const struct mdp_verdict *v)
{
    struct seen_verdicts *s = ud;
    if (s->n >= 8) return 0;
    s->v[s->n].kind = v->kind;
    s->v[s->n].index = v->index;
    s->v[s->n].line = v->line;
    s->v[s->n].event_ms = v->event_ms;
    snprintf(s->v[s->n].reason, sizeof s->v[s->n].reason, "%s", v->reason ? v->reason : "");
    snprintf(s->v[s->n].location, sizeof s->v[s->n].location, "%s", v->location ? v->location : "");
    json_object *r = (json_object *)v->record, *id;
    if (r && json_object_object_get_ex(r, "event_id", &id))
        snprintf(s->v[s->n].event_id, sizeof s->v[s->n].event_id, "%s", json_object_get_string(id));
    if (r && json_object_object_get_ex(r, "eventID", &id))
        snprintf(s->v[s->n].event_id, sizeof s->v[s->n].event_id, "%s", json_object_get_string(id));
    s->n++;
    return s->stop_at && s->n == s->stop_at ? 42 : 0;
}

static void test_issue11_verdicts(void **st)
{
    (void)st;
    const char *batch = EV(ID1, "") "\n\n{bad\n" EV(ID1, "") "\n" EV(ID2, "") "\n";
    struct seen_verdicts s = {0};
    struct mdp_ingest_counts c;
    assert_int_equal(mdp_ingest_verdicts("events", "POST /v1/events", batch, strlen(batch), NULL,
                                         NULL, collect_verdict, &s, &c),
                     0);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.v[0].kind, MDP_VERDICT_VALID);
    assert_int_equal(s.v[0].line, 1);
    assert_string_equal(s.v[0].event_id, ID1);
    char iso[32];
    mdp_time_format_ms(s.v[0].event_ms, iso, sizeof iso);
    assert_string_equal(iso, "2026-10-01T08:00:00.000Z");
    assert_int_equal(s.v[1].kind, MDP_VERDICT_QUARANTINED);
    assert_int_equal(s.v[1].index, 1);
    assert_int_equal(s.v[1].line, 3); /* the blank line counts */
    assert_string_equal(s.v[1].reason, "json_invalid");
    assert_string_equal(s.v[1].location, "POST /v1/events:3");
    assert_int_equal(s.v[2].kind, MDP_VERDICT_DUPLICATE);
    assert_int_equal(s.v[2].line, 4);
    assert_int_equal(s.v[3].kind, MDP_VERDICT_VALID);
    assert_string_equal(s.v[3].event_id, ID2);
    assert_int_equal(c.in, 4);
    assert_int_equal(c.out, 2);
    assert_int_equal(c.quarantined, 1);
    assert_int_equal(c.duplicates, 1);
    /* a stop is returned and nothing more is reported */
    struct seen_verdicts s2 = {.stop_at = 2};
    assert_int_equal(mdp_ingest_verdicts("events", "x", batch, strlen(batch), NULL, NULL,
                                         collect_verdict, &s2, NULL),
                     42);
    assert_int_equal(s2.n, 2);
    /* routing by key, the ddb record form, and an unknown connector */
    size_t len;
    char *fh = fixture("fixtures/dynamodb/firehose-s3/2024/11/05/14/"
                       "vc-ddb-cdc-2-2024-11-05-14-09-47-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                       &len);
    struct seen_verdicts s3 = {0};
    assert_int_equal(mdp_ingest_verdicts(NULL, "dynamodb/firehose/2024/11/05/14/x", fh, len, NULL,
                                         NULL, collect_verdict, &s3, &c),
                     0);
    assert_true(s3.n > 0);
    assert_int_equal(s3.v[0].kind, MDP_VERDICT_VALID);
    assert_true(s3.v[0].event_id[0] != '\0');
    assert_true(s3.v[0].event_ms > 0);
    free(fh);
    assert_int_equal(mdp_ingest_verdicts("nope", "x", "", 0, NULL, NULL, NULL, NULL, NULL),
                     MDP_ERR_NOT_FOUND);
}

/* Issue 11, defect 5: user_id, account_id and location_id are UUIDv7 (spec 2) wherever they arrive:
 * the app's events, the Supabase exports' id columns, ConsentJournal's user_id. Another version is
 * quarantined (id_not_uuidv7, naming the field and the location), or taken and counted under
 * ingest.non_v7_ids: count; a value that is no UUID is quarantined either way. */
#define V4 "017f22e2-79b0-4cc3-98c4-dc0c0c07398f"
#define V7 "01900000-0000-7000-8000-000000000001"

static struct mdp_ingest_counts check_cfg(const struct mdp_config *cfg, const char *key,
                                          const char *data, char *reasons, size_t rn)
{
    struct mdp_ingest_counts c;
    memset(&c, 0, sizeof c);
    c.newest_event_ms = -1;
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "t", "t", 0);
    struct mdp_check ck = {.key = key, .c = &c, .q = &q, .cfg = cfg};
    assert_int_equal(mdp_connector_for_key(key)->check(&ck, data, strlen(data)), 0);
    snprintf(reasons, rn, "%s", q.lines.data ? q.lines.data : "");
    mdp_quarantine_cleanup(&q);
    return c;
}

static void test_issue11_ids_uuidv7(void **st)
{
    (void)st;
    static const struct {
        const char *key, *data, *where;
    } bad[] = {
        {"events/dt=2026-10-01/e.ndjson",
         "{\"event_id\":\"" ID1 "\",\"user_id\":\"" V4 "\",\"timestamp\":\"2026-10-01T10:00:00Z\","
         "\"event_type\":\"page_view\"}\n",
         "user_id is a UUID of version 4"},
        {"events/dt=2026-10-01/e.ndjson",
         "{\"event_id\":\"" ID1 "\",\"user_id\":\"" V7 "\",\"location_id\":\"" V4 "\","
         "\"timestamp\":\"2026-10-01T10:00:00Z\",\"event_type\":\"page_view\"}\n",
         "location_id is a UUID of version 4"},
        {"supabase/locations/dt=2026-10-01/locations.csv",
         "location_id,account_id,name\n" V7 "," V7 ",a\n" V7 ",\"" V4 "\",b\n",
         "account_id is a UUID of version 4"},
        {"supabase/user_profiles/dt=2026-10-01/user_profiles.csv",
         "user_id,account_id,email\r\n" V7 ",,a@example.com\r\n" V4 "," V7 ",b@example.com\r\n",
         "user_id is a UUID of version 4"},
        {"dynamodb/lambda/dt=2026-10-01/c.json",
         "{\"Records\":[{\"eventID\":\"e1\",\"eventName\":\"INSERT\",\"eventSourceARN\":"
         "\"arn:aws:dynamodb:eu-central-1:1:table/ConsentJournal/stream/x\",\"dynamodb\":{"
         "\"ApproximateCreationDateTime\":1790000000,\"SequenceNumber\":\"1\",\"Keys\":{\"user_"
         "id\":"
         "{\"S\":\"" V4 "\"}},\"NewImage\":{\"user_id\":{\"S\":\"" V4 "\"},\"ts\":{\"S\":"
         "\"2026-09-21T10:00:00Z\"},\"consent_type\":{\"S\":\"analytics\"},\"decision\":{\"S\":"
         "\"granted\"}}}}]}",
         "NewImage.user_id is a UUID of version 4"},
    };
    struct mdp_config cfg;
    assert_int_equal(mdp_config_defaults(&cfg), 0);
    assert_string_equal(cfg.ingest_non_v7_ids, "quarantine");
    char reasons[4096];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct mdp_ingest_counts c =
            check_cfg(&cfg, bad[i].key, bad[i].data, reasons, sizeof reasons);
        if (c.quarantined != 1 || !strstr(reasons, "\"reason\":\"id_not_uuidv7\"") ||
            !strstr(reasons, bad[i].where) || !strstr(reasons, bad[i].key))
            fail_msg("%s: quarantined %lld: %s", bad[i].key, (long long)c.quarantined, reasons);
        /* the built-in default (no configuration) is the same */
        struct mdp_ingest_counts c0 =
            check_cfg(NULL, bad[i].key, bad[i].data, reasons, sizeof reasons);
        assert_int_equal(c0.quarantined, 1);
    }
    /* count: taken and counted */
    free(cfg.ingest_non_v7_ids);
    cfg.ingest_non_v7_ids = strdup("count");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct mdp_ingest_counts c =
            check_cfg(&cfg, bad[i].key, bad[i].data, reasons, sizeof reasons);
        if (c.quarantined != 0 || c.non_v7_ids != 1)
            fail_msg("%s (count): quarantined %lld, non-v7 %lld: %s", bad[i].key,
                     (long long)c.quarantined, (long long)c.non_v7_ids, reasons);
    }
    /* not a UUID at all is quarantined under count too */
    struct mdp_ingest_counts c = check_cfg(&cfg, "supabase/accounts/dt=2026-10-01/accounts.csv",
                                           "account_id,name\nabc,x\n", reasons, sizeof reasons);
    assert_int_equal(c.quarantined, 1);
    assert_non_null(strstr(reasons, "\"reason\":\"invalid_id\""));
    /* a v7 of the wrong variant is no UUIDv7 */
    c = check_cfg(NULL, "events/dt=2026-10-01/e.ndjson",
                  "{\"event_id\":\"" ID1 "\",\"user_id\":\"01900000-0000-7000-c000-000000000001\","
                  "\"timestamp\":\"2026-10-01T10:00:00Z\",\"event_type\":\"page_view\"}\n",
                  reasons, sizeof reasons);
    assert_int_equal(c.quarantined, 1);
    assert_non_null(strstr(reasons, "not the RFC 9562 variant"));
    mdp_config_cleanup(&cfg);
}

/* Issue 11: ingest reads the consent vocabulary without including the consent module; it must
 * agree with it (the skew, the configured purposes). */
static const char *consent_change(char *buf, size_t n, const char *ts, const char *purpose)
{
    snprintf(buf, n,
             "{\"Records\":[{\"eventID\":\"e1\",\"eventName\":\"INSERT\",\"eventSourceARN\":"
             "\"arn:aws:dynamodb:eu-central-1:1:table/ConsentJournal/stream/x\",\"dynamodb\":{"
             "\"ApproximateCreationDateTime\":1790000000,\"SequenceNumber\":\"1\",\"Keys\":{"
             "\"email\":{\"S\":\"a@example.com\"}},\"NewImage\":{\"email\":{\"S\":"
             "\"a@example.com\"},\"ts\":{\"S\":\"%s\"},\"consent_type\":{\"S\":\"%s\"},"
             "\"decision\":{\"S\":\"granted\"}}}}]}",
             ts, purpose);
    return buf;
}

static void test_issue11_consent_vocabulary(void **st)
{
    (void)st;
    struct mdp_config cfg;
    assert_int_equal(mdp_config_defaults(&cfg), 0);
    char buf[1024], reasons[4096], ts[40];
    const char *key = "dynamodb/lambda/dt=2026-09-21/c.json";
    int64_t stream_ms = 1790000000LL * 1000;
    mdp_time_format_ms(stream_ms + MDP_CONSENT_MAX_SKEW_MS, ts, sizeof ts);
    struct mdp_ingest_counts c = check_cfg(
        &cfg, key, consent_change(buf, sizeof buf, ts, "analytics"), reasons, sizeof reasons);
    assert_int_equal(c.out, 1);
    mdp_time_format_ms(stream_ms + MDP_CONSENT_MAX_SKEW_MS + 1000, ts, sizeof ts);
    c = check_cfg(&cfg, key, consent_change(buf, sizeof buf, ts, "analytics"), reasons,
                  sizeof reasons);
    assert_int_equal(c.quarantined, 1);
    assert_non_null(strstr(reasons, "consent_future_ts"));
    /* every configured purpose is known, another is not */
    for (int i = 0; i < cfg.consent_purposes.n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(cfg.consent_purposes.v[i], ":"),
                 cfg.consent_purposes.v[i]);
        assert_non_null(mdp_consent_purpose_find(name));
        c = check_cfg(&cfg, key, consent_change(buf, sizeof buf, "2026-09-21T10:00:00Z", name),
                      reasons, sizeof reasons);
        assert_int_equal(c.out, 1);
    }
    c = check_cfg(&cfg, key, consent_change(buf, sizeof buf, "2026-09-21T10:00:00Z", "telepathy"),
                  reasons, sizeof reasons);
    assert_int_equal(c.quarantined, 1);
    assert_non_null(strstr(reasons, "consent_unknown_purpose"));
    mdp_config_cleanup(&cfg);
}

/* Issue 11: a connector's own flag reaches it through the generic runner: ses's
 * --verify-signatures (ctx.ingest_flags, as `mdp ingest ses` passes it) makes its init hook turn
 * verification on, without the runner or the CLI knowing about SNS. */
static int last_key(const char *key, int64_t size, void *ud)
{
    (void)size;
    snprintf(ud, 512, "%s", key);
    return 0;
}

static void test_issue11_connector_flags(void **st)
{
    (void)st;
    const struct mdp_connector *ses = mdp_connector_find("ses");
    assert_non_null(ses->init);
    assert_string_equal(ses->flags[0].name, "--verify-signatures");
    const char *env = "{\"Type\":\"Notification\",\"MessageId\":\"m1\",\"TopicArn\":\"arn:aws:sns:"
                      "eu-central-1:1:t\",\"Message\":\"{}\",\"SignatureVersion\":\"1\","
                      "\"Signature\":\"AAAA\",\"SigningCertURL\":\"http://example.com/c.pem\","
                      "\"Timestamp\":\"2026-10-01T10:00:00.000Z\"}";
    for (int verify = 0; verify < 2; verify++) {
        char *dir = tu_tmpdir();
        char landing[1024];
        struct mdp_config cfg;
        tu_lake_config(dir, &cfg, landing, sizeof landing);
        cfg.ingest_max_quarantine_share = 1.0;
        struct mdp_store *ls;
        struct mdp_diag d = {0};
        assert_int_equal(mdp_store_open(landing, 1, &ls, &d), 0);
        assert_int_equal(mdp_store_put(ls, "ses/sqs/dt=2026-10-01/a.json", env, strlen(env), 0, &d),
                         0);
        struct mdp_lake *lake;
        assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
        struct runs rs = {0};
        const char *flags[] = {"--verify-signatures", NULL};
        struct mdp_stage_ctx ctx = {&cfg, lake, -1, keep, &rs, verify ? flags : NULL};
        struct mdp_run run;
        mdp_run_begin(&run, "t");
        assert_int_equal(mdp_ingest_run(&ctx, "ses", &run, &d), 0);
        assert_int_equal(rs.n, 1);
        char qkey[512] = "";
        assert_int_equal(mdp_store_list(lake->store, "raw/_quarantine/ses/", last_key, qkey, &d),
                         0);
        struct mdp_buf q;
        mdp_buf_init(&q);
        assert_int_equal(mdp_store_get(lake->store, qkey, &q, &d), 0);
        /* unverified, the empty message is what is wrong; verified, the certificate URL is */
        assert_int_equal(rs.v[0].quarantined, 1);
        assert_non_null(strstr(q.data, verify ? "\"reason\":\"sns_signature_invalid\""
                                              : "\"reason\":\"ses_unknown_payload\""));
        mdp_buf_cleanup(&q);
        mdp_store_close(ls);
        mdp_lake_close(lake);
        mdp_config_cleanup(&cfg);
        tu_rmdir(dir);
    }
}

/* Issue 11, defect 1: the delivery day comes from the landing path of every source's dated layout
 * (dt=D folders, and Firehose's YYYY/MM/DD/HH/ after the dataset folder), never from the day it
 * arrived; and `--date D` (ctx.day) selects exactly that day's deliveries. */
static int count_objects(const char *key, int64_t size, void *ud)
{
    (void)key;
    (void)size;
    (*(int *)ud)++;
    return 0;
}

static void test_issue11_delivery_day_from_path(void **st)
{
    (void)st;
    static const struct {
        const char *connector, *on_day, *next_day, *raw_day;
    } layouts[] = {
        {"supabase", "supabase/accounts/dt=2024-11-05/accounts.csv",
         "supabase/accounts/dt=2024-11-06/accounts.csv", "raw/supabase/accounts/dt=2024-11-05/"},
        {"events", "events/dt=2024-11-05/a.ndjson", "events/dt=2024-11-06/a.ndjson",
         "raw/events/app_events/dt=2024-11-05/"},
        {"ses", "ses/sqs/dt=2024-11-05/a.json", "ses/sqs/dt=2024-11-06/a.json",
         "raw/ses/sqs/dt=2024-11-05/"},
        {"ddb", "dynamodb/firehose/2024/11/05/14/vc-ddb-cdc-1-2024-11-05-14-00-00-x",
         "dynamodb/firehose/2024/11/06/00/vc-ddb-cdc-1-2024-11-06-00-00-00-x",
         "raw/dynamodb/firehose/dt=2024-11-05/"},
        {"ddb", "dynamodb/lambda/dt=2024-11-05/a.json", "dynamodb/lambda/dt=2024-11-06/a.json",
         "raw/dynamodb/lambda/dt=2024-11-05/"},
        {"ga4", "ga4/runreport/dt=2024-11-05/a.json", "ga4/runreport/dt=2024-11-06/a.json",
         "raw/ga4/runreport/dt=2024-11-05/"},
        {"gbp", "gbp/locations/dt=2024-11-05/a.json", "gbp/locations/dt=2024-11-06/a.json",
         "raw/gbp/locations/dt=2024-11-05/"},
        {"meta", "meta/me_accounts/dt=2024-11-05/a.json", "meta/me_accounts/dt=2024-11-06/a.json",
         "raw/meta/me_accounts/dt=2024-11-05/"},
    };
    int64_t day;
    assert_int_equal(mdp_date_parse("2024-11-05", &day), 0);
    for (size_t i = 0; i < sizeof layouts / sizeof *layouts; i++) {
        char *dir = tu_tmpdir();
        char landing[1024];
        struct mdp_config cfg;
        tu_lake_config(dir, &cfg, landing, sizeof landing);
        cfg.ingest_max_quarantine_share = 1.0; /* the bytes matter here, not their validity */
        struct mdp_store *ls;
        struct mdp_diag d = {0};
        assert_int_equal(mdp_store_open(landing, 1, &ls, &d), 0);
        char a[64], b[64];
        snprintf(a, sizeof a, "delivery %zu of the day\n", i);
        snprintf(b, sizeof b, "delivery %zu of the next day\n", i);
        assert_int_equal(mdp_store_put(ls, layouts[i].on_day, a, strlen(a), 0, &d), 0);
        assert_int_equal(mdp_store_put(ls, layouts[i].next_day, b, strlen(b), 0, &d), 0);
        struct mdp_lake *lake;
        assert_int_equal(mdp_lake_open(dir, 1, &lake, &d), 0);
        struct runs rs = {0};
        struct mdp_stage_ctx ctx = {&cfg, lake, day, keep, &rs, 0};
        struct mdp_run run;
        mdp_run_begin(&run, "t");
        assert_int_equal(mdp_ingest_run(&ctx, layouts[i].connector, &run, &d), 0);
        if (rs.n != 1 || !strstr(rs.v[0].message, "1 deliveries"))
            fail_msg("%s: --date 2024-11-05 did not select it (%d runs: %s)", layouts[i].on_day,
                     rs.n, rs.n ? rs.v[0].message : "nothing delivered");
        int n = 0, all = 0;
        assert_int_equal(mdp_store_list(lake->store, layouts[i].raw_day, count_objects, &n, &d), 0);
        char source[64]; /* raw/<source>/ */
        const char *sl = strchr(layouts[i].raw_day + 4, '/');
        snprintf(source, sizeof source, "%.*s", (int)(sl - layouts[i].raw_day) + 1,
                 layouts[i].raw_day);
        assert_int_equal(mdp_store_list(lake->store, source, count_objects, &all, &d), 0);
        if (n != 1 || all != 1)
            fail_msg("%s: %d objects under %s, %d under %s", layouts[i].on_day, n,
                     layouts[i].raw_day, all, source);
        mdp_store_close(ls);
        mdp_lake_close(lake);
        mdp_config_cleanup(&cfg);
        tu_rmdir(dir);
    }
}

static void test_dedup_window(void **st)
{
    (void)st;
    struct mdp_dedup_window w = {0};
    struct mdp_ingest_counts c;
    memset(&c, 0, sizeof c);
    struct mdp_check ck = {.key = "events/x", .c = &c};
    assert_int_equal(mdp_dedup_window_enter(&w, 100, &ck), 0);
    assert_int_equal(mdp_check_dup(&ck, "e", "a"), 0);
    assert_int_equal(mdp_check_dup(&ck, "e", "a"), 1); /* the same day */
    assert_int_equal(mdp_dedup_window_enter(&w, 101, &ck), 0);
    assert_int_equal(mdp_check_dup(&ck, "e", "a"), 1); /* the next day still knows it */
    assert_int_equal(mdp_check_dup(&ck, "e", "b"), 0);
    assert_int_equal(mdp_dedup_window_enter(&w, 102, &ck), 0);
    assert_int_equal(mdp_check_dup(&ck, "e", "b"), 1);
    assert_int_equal(mdp_check_dup(&ck, "e", "a"),
                     0); /* two days later: left to the curated layer */
    assert_int_equal(mdp_dedup_window_enter(&w, 50, &ck), 0); /* a step back starts over */
    assert_ptr_equal(ck.win, &w);
    assert_int_equal(c.duplicates, 3);
    /* issue 16: the sets are emptied and reused, never carrying ids into another day */
    assert_int_equal(mdp_check_dup(&ck, "e", "b"), 0);
    assert_int_equal(mdp_dedup_window_enter(&w, 51, &ck), 0);
    assert_int_equal(mdp_check_dup(&ck, "e", "c"), 0);
    assert_int_equal(mdp_dedup_window_enter(&w, 52, &ck), 0); /* 50's set comes back empty */
    assert_int_equal(mdp_check_dup(&ck, "e", "b"), 0);
    assert_int_equal(mdp_check_dup(&ck, "e", "c"), 1);
    assert_int_equal(mdp_dedup_window_enter(&w, 60, &ck), 0); /* a gap: nothing known */
    assert_int_equal(mdp_check_dup(&ck, "e", "b"), 0);
    assert_int_equal(mdp_check_dup(&ck, "e", "c"), 0);
    assert_int_equal(c.duplicates, 4);
    mdp_dedup_window_cleanup(&w);
}

/* Issue 16: a canonical UUID id is kept as its 16 bytes; which ids count as the same must not
 * change: the same text is a duplicate, another case or another kind is not. */
static void test_issue16_uuid_dedup_keys(void **st)
{
    (void)st;
    struct mdp_dedup_window w = {0};
    struct mdp_ingest_counts c;
    memset(&c, 0, sizeof c);
    struct mdp_check ck = {.key = "events/x", .c = &c};
    const char *id = "01900000-0000-7000-8000-00000000002a";
    const char *up = "01900000-0000-7000-8000-00000000002A";
    assert_int_equal(mdp_dedup_window_enter(&w, 1, &ck), 0);
    assert_int_equal(mdp_check_dup(&ck, "event_id", id), 0);
    assert_int_equal(mdp_check_dup(&ck, "event_id", id), 1);
    assert_int_equal(mdp_check_dup(&ck, "event_id", up), 0); /* as text: not the same id */
    assert_int_equal(mdp_check_dup(&ck, "event_id", up), 1);
    assert_int_equal(mdp_check_dup(&ck, "ddb", id), 0); /* another kind */
    assert_int_equal(c.duplicates, 2);
    mdp_dedup_window_cleanup(&w);
}

/* Issue 16: the window keeps both days in one table, where it kept a set per day. Which ids count as
 * duplicates must not change: a long run of days (rollovers, gaps, steps back; UUID ids of more
 * kinds than the table keeps inline, uppercase and plain text ids) is checked against the two
 * sets it replaced, through enough ids to grow, sweep and shrink the table. */
/* 120 days of keys against an oracle of two string sets, the keys numbered from first on (the
 * numbers wrap at 2^32: a window that lives long enough crosses it) */
static void dedup_window_against_sets(uint32_t first, int wrap)
{
    struct mdp_dedup_window w = {0};
    uint64_t added = 0; /* keys numbered */
    struct mdp_ingest_counts c;
    memset(&c, 0, sizeof c);
    struct mdp_check ck = {.key = "events/x", .c = &c};
    struct mdp_strset *cur = NULL, *prev = NULL;
    static const char *const kinds[] = {
        "event_id", "ddb", "k2", "k3", "k4",
        "k5",       "k6",  "k7", "k8", "a-kind-too-long-to-keep-inline"};
    uint64_t r = 0x9e3779b97f4a7c15ULL;
    int64_t day = 1000;
    long dups = 0;
    for (int d = 0; d < 120; d++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        int step = (int)(r >> 60); /* mostly the next day, sometimes the same, a gap or back */
        int64_t next = step < 10 ? day + 1 : step < 12 ? day : step < 14 ? day + 3 : day - 5;
        if (d == 0 || next != day) {
            if (d > 0 && next == day + 1) {
                mdp_strset_free(prev);
                prev = cur;
            } else {
                mdp_strset_free(cur);
                mdp_strset_free(prev);
                prev = NULL;
            }
            cur = mdp_strset_new();
            assert_non_null(cur);
        }
        day = next;
        assert_int_equal(mdp_dedup_window_enter(&w, day, &ck), 0);
        if (d == 0) assert_int_equal(mdp__dedup_number_from(&w, first), 0);
        int n = d % 40 < 30 ? 3000 : d % 40 < 35 ? 30000 : 50; /* busy days, then quiet ones */
        for (int i = 0; i < n; i++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned long v = (unsigned long)(r >> 33) % 40000;
            const char *kind = kinds[(r >> 20) % 10];
            char id[64], ref[128];
            int form = (int)((r >> 10) % 4);
            if (form == 0)
                snprintf(id, sizeof id, "plain-%lu", v);
            else
                snprintf(id, sizeof id,
                         form == 1 ? "01900000-0000-7000-8000-%012lX"
                                   : "01900000-0000-7000-8000-%012lx",
                         v);
            snprintf(ref, sizeof ref, "%s:%s", kind, id);
            int want = prev && mdp_strset_has(prev, ref, strlen(ref));
            if (!want) want = mdp_strset_add(cur, ref, strlen(ref)) == 0;
            dups += want;
            added += !want;
            assert_int_equal(mdp_check_dup(&ck, kind, id), want);
        }
        assert_int_equal(mdp_dedup_window_count(&w),
                         mdp_strset_count(cur) + (prev ? mdp_strset_count(prev) : 0));
    }
    assert_int_equal(c.duplicates, dups);
    assert_true(dups > 10000);
    /* keys are numbered one after the other: asked to, the run crossed 2^32 */
    if (wrap) assert_true(first + added > UINT32_MAX);
    assert_int_equal(mdp__dedup_number_from(&w, 0), MDP_ERR_INVALID); /* it holds keys */
    mdp_strset_free(cur);
    mdp_strset_free(prev);
    mdp_dedup_window_cleanup(&w);
}

static void test_issue16_dedup_window_one_table(void **st)
{
    (void)st;
    dedup_window_against_sets(0, 0);
}

/* about 720,000 keys from 2^32 - 300,000 on: the wrap falls in the middle of the run */
static void test_dedup_window_numbers_wrap(void **st)
{
    (void)st;
    dedup_window_against_sets(UINT32_MAX - 300000u, 1);
}

/* Issue 16: a check lends the thread's tokener and duplicate set; a check run from inside a verdict
 * callback (while the outer one holds them) gets its own, and neither sees the other's ids. */
struct nested {
    int inner_rc, calls;
    struct mdp_ingest_counts inner;
};

static int nested_verdict(void *ud, const struct mdp_verdict *v)
{
    struct nested *n = ud;
    (void)v;
    const char *batch = EV(ID1, "") "\n" EV(ID1, "") "\n";
    n->calls++;
    n->inner_rc = mdp_ingest_verdicts("events", "inner", batch, strlen(batch), NULL, NULL, NULL,
                                      NULL, &n->inner);
    return 0;
}

static void test_issue16_nested_checks(void **st)
{
    (void)st;
    const char *batch = EV(ID1, "") "\n" EV(ID2, "") "\n" EV(ID1, "") "\n";
    struct nested n = {0};
    struct mdp_ingest_counts c;
    for (int round = 0; round < 2; round++) { /* the second finds the lent state given back */
        memset(&n, 0, sizeof n);
        assert_int_equal(mdp_ingest_verdicts("events", "outer", batch, strlen(batch), NULL, NULL,
                                             nested_verdict, &n, &c),
                         0);
        assert_int_equal(n.calls, 3);
        assert_int_equal(n.inner_rc, 0);
        assert_int_equal(n.inner.out, 1);
        assert_int_equal(n.inner.duplicates, 1);
        assert_int_equal(c.out, 2);
        assert_int_equal(c.duplicates, 1);
    }
}

/* Issue 16: the checks make a bad record's location, attribute path and quarantined bytes only when
 * it is bad (and parse each layer with one reused tokener). What they write must be what they
 * wrote when every record had them made up front. */
#define REC16(img)                                                                                 \
    "{\"awsRegion\":\"x\",\"eventID\":\"e1\",\"eventName\":\"INSERT\",\"userIdentity\":null,"      \
    "\"tableName\":\"VcTokens\",\"dynamodb\":{\"ApproximateCreationDateTime\":1730815407512,"      \
    "\"Keys\":{\"token_hash\":{\"S\":\"h\"}},\"NewImage\":" img "}}"
static void test_issue16_lazy_locations(void **st)
{
    (void)st;
    /* ses: an SQS body that does not parse, in Records[1] */
    struct result r = check_str("ses/sqs/dt=2026-10-01/b.json",
                                "{\"Records\":[{\"body\":\"{}\"},{\"body\":\"{\\\"Type\"}]}");
    assert_non_null(strstr(r.reasons, "\"location\":\"ses/sqs/dt=2026-10-01/b.json#Records[1]\""));
    assert_non_null(strstr(r.reasons, "\"reason\":\"sns_body_truncated\""));
    assert_non_null(strstr(r.reasons, "\"payload\":\"{\\\"Type\""));
    /* ses: an Sns record without TopicArn: its bytes are the Sns object, serialized */
    r = check_str("ses/lambda/dt=2026-10-01/e.json",
                  "{\"Records\":[{\"Sns\":{\"Type\":\"Notification\",\"MessageId\":\"m1\"}}]}");
    assert_non_null(strstr(r.reasons, "\"reason\":\"sns_envelope_invalid\",\"location\":\"ses/"
                                      "lambda/dt=2026-10-01/e.json#Records[0]\""));
    assert_non_null(strstr(r.reasons, "\"payload\":\"{\\\"Type\\\":\\\"Notification\\\","
                                      "\\\"MessageId\\\":\\\"m1\\\"}\""));
    /* ses: neither body nor Sns: the record, serialized */
    r = check_str("ses/sqs/dt=2026-10-01/b.json", "{\"Records\":[{\"x\":1}]}");
    assert_non_null(strstr(r.reasons, "\"reason\":\"sqs_record_invalid\""));
    assert_non_null(strstr(r.reasons, "#Records[0]\""));
    assert_non_null(strstr(r.reasons, "\"payload\":\"{\\\"x\\\":1}\""));
    /* ses: a bare body (no Records) is the delivery itself: located by the key alone */
    r = check_str("ses/http/dt=2026-10-01/p.json",
                  "{\"Type\":\"Notification\",\"TopicArn\":\"a\"}");
    assert_non_null(strstr(r.reasons, "\"location\":\"ses/http/dt=2026-10-01/p.json\""));
    /* ddb, Firehose: the second record, at its byte offset, with its path inside a list */
    const char *k = "dynamodb/firehose/2024/11/05/14/o";
    const char *good = REC16("{}");
    char buf[2048];
    snprintf(buf, sizeof buf, "%s%s", good,
             REC16("{\"m\":{\"M\":{\"l\":{\"L\":[{\"S\":\"x\"},{\"N\":\"1e\"}]}}}}"));
    r = check_str(k, buf);
    assert_int_equal(r.c.out, 1);
    char want[512];
    snprintf(want, sizeof want, "\"location\":\"%s#record[1]@%zu\"", k, strlen(good));
    assert_non_null(strstr(r.reasons, want));
    assert_non_null(
        strstr(r.reasons, "\"detail\":\"NewImage.m.l[1]: N is decimal text of up to 38 digits\""));
    /* ddb, Lambda: Records[1], its bytes serialized */
    r = check_str("dynamodb/lambda/dt=2024-11-05/e.json",
                  "{\"Records\":[{\"eventName\":\"INSERT\"},{\"eventName\":\"UPSERT\"}]}");
    assert_int_equal(r.c.quarantined, 2);
    assert_non_null(strstr(r.reasons, "e.json#Records[1]\",\"detail\":\"UPSERT\""));
    assert_non_null(strstr(r.reasons, "\"payload\":\"{\\\"eventName\\\":\\\"UPSERT\\\"}\""));
    /* ddb: one record that is the only value of the object is still a Firehose record */
    expect(k, good, 1, 0, 0, NULL);
    expect(k, "  {\"Records\":[]}  \n", 0, 0, 0, NULL); /* an empty Lambda event */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_events_id_read_ahead),
        cmocka_unit_test(test_events_two_readers),
        cmocka_unit_test(test_ses_fixtures_and_variants),
        cmocka_unit_test(test_ses_records),
        cmocka_unit_test(test_ses_two_readers),
        cmocka_unit_test(test_sns_signatures),
        cmocka_unit_test(test_ddb),
        cmocka_unit_test(test_ddb_two_readers),
        cmocka_unit_test(test_ga4),
        cmocka_unit_test(test_gbp_meta),
        cmocka_unit_test(test_supabase_csv),
        cmocka_unit_test(test_stage_drift_and_threshold),
        cmocka_unit_test(test_dedup_window),
        cmocka_unit_test(test_dedup_window_numbers_wrap),
        cmocka_unit_test(test_issue16_uuid_dedup_keys),
        cmocka_unit_test(test_issue16_dedup_window_one_table),
        cmocka_unit_test(test_issue16_nested_checks),
        cmocka_unit_test(test_issue11_delivery_day_from_path),
        cmocka_unit_test(test_issue11_ids_uuidv7),
        cmocka_unit_test(test_issue11_verdicts),
        cmocka_unit_test(test_issue11_consent_vocabulary),
        cmocka_unit_test(test_issue11_connector_flags),
        cmocka_unit_test(test_issue16_lazy_locations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
