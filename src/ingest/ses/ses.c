/* The ses connector: SES feedback as it arrives through SNS. A delivery may be a Lambda SQS event
 * (Records[].body), a Lambda SNS event (Records[].Sns, with SigningCertUrl/UnsubscribeUrl casing),
 * one SNS envelope (an SQS body or an HTTP POST), or the SES JSON itself (raw message delivery).
 * The SES JSON is an identity notification (notificationType Bounce, Complaint, Delivery) or an
 * event-publishing record (eventType Send, Reject, Bounce, Complaint, Delivery, Open, Click,
 * "Rendering Failure", DeliveryDelay, Subscription); each is validated against its documented
 * members. SNS and SQS deliver at least once: a message whose SNS MessageId or SES feedbackId was
 * seen before in the run is counted as a duplicate. An envelope's Message is read with yajl's
 * stream parser when nobody asks for the parsed record, and with json-c's DOM otherwise and
 * whenever the stream reader does not pass it (docs/ingest.md, the seventh round). */
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

/* What validate_ses reads of the SES JSON, as either reader found it: json-c's DOM (find_view)
 * or the stream reader (sax_*). Texts are NUL-terminated and borrowed; NULL when the member is
 * missing or not a string. The member fields are those of the type's member object (bounce,
 * open, ...), named by member. */
enum { T_NT, T_ET, T_MID, T_MTS, T_MEMBER_TS, T_BOUNCE_TYPE, T_FEEDBACK_ID, T_COUNT };

struct view {
    const char *t[T_COUNT];
    int mail;           /* mail is an object */
    int dest_ok;        /* mail.destination is a non-empty array of strings */
    int tags_has;       /* mail.tags is present, null included */
    int tags_obj;       /* mail.tags is an object */
    int tags_ok;        /* ... whose values are all arrays of strings */
    const char *member; /* the member object read (its name, as in the types), or NULL */
    int link;           /* its link is a string */
    int bounced_ok;     /* its bouncedRecipients are a non-empty array with emailAddress each */
    int complained_ok;  /* its complainedRecipients, likewise */
    int recipients_ok;  /* its recipients are a non-empty array of strings */
};

/* The view of json-c's SES JSON r. */
static void find_view(json_object *r, struct view *v)
{
    /* the members are found in one walk over each object, not a hash lookup each */
    enum { NT, ET, MAIL };
    static const char *const RN[] = {"notificationType", "eventType", "mail", NULL};
    enum { MID, MTS, DEST, TAGS };
    static const char *const MN[] = {"messageId", "timestamp", "destination", "tags", NULL};
    json_object *rm[3], *mm[4];
    memset(v, 0, sizeof *v);
    mdp__jmembers(r, RN, rm);
    v->t[T_NT] = mdp__jtext(rm[NT]);
    v->t[T_ET] = mdp__jtext(rm[ET]);
    json_object *mail = json_object_is_type(rm[MAIL], json_type_object) ? rm[MAIL] : NULL;
    if ((v->mail = mail != NULL)) {
        unsigned has = mdp__jmembers(mail, MN, mm);
        v->t[T_MID] = mdp__jtext(mm[MID]);
        v->t[T_MTS] = mdp__jtext(mm[MTS]);
        v->dest_ok = strings_array(mm[DEST], 1);
        v->tags_has = (has & 1u << TAGS) != 0;
        json_object *tags = json_object_is_type(mm[TAGS], json_type_object) ? mm[TAGS] : NULL;
        if ((v->tags_obj = v->tags_ok = tags != NULL)) {
            json_object_object_foreach(tags, k, tv)
            {
                (void)k;
                if (!strings_array(tv, 0)) v->tags_ok = 0;
            }
        }
    }
    const char *nt = v->t[T_NT], *et = v->t[T_ET];
    const struct type *t = find(nt ? NOTIFICATIONS : EVENTS, nt ? nt : et);
    json_object *m = t ? mdp__jobj(r, t->member) : NULL;
    if (!m) return;
    v->member = t->member;
    v->t[T_MEMBER_TS] = mdp__jget(m, "timestamp");
    v->t[T_BOUNCE_TYPE] = mdp__jget(m, "bounceType");
    v->t[T_FEEDBACK_ID] = mdp__jget(m, "feedbackId");
    v->link = mdp__jget(m, "link") != NULL;
    v->bounced_ok = recipients(m, "bouncedRecipients");
    v->complained_ok = recipients(m, "complainedRecipients");
    v->recipients_ok = strings_array(mdp__jarr(m, "recipients"), 1);
}

/* Validates the SES JSON's view. Returns NULL or the reason (detail says more); sets the event
 * time and the SES-level dedup id (feedbackId, or messageId/type/time for events without one). */
static const char *validate_ses(const struct view *v, const char **detail, int64_t *ts, char *id,
                                size_t idn, int *is_event)
{
    const char *nt = v->t[T_NT], *et = v->t[T_ET];
    const struct type *t;
    *is_event = et != NULL;
    if (nt && strcmp(nt, "AmazonSnsSubscriptionSucceeded") == 0) return *detail = "control", NULL;
    if (!nt && !et)
        return *detail = "neither notificationType nor eventType", "ses_unknown_payload";
    if (!(t = find(nt ? NOTIFICATIONS : EVENTS, nt ? nt : et)))
        return *detail = nt ? nt : et, "ses_unknown_type";
    if (!v->mail) return *detail = "mail", "ses_missing_mail";
    const char *mid = v->t[T_MID], *mts = v->t[T_MTS];
    if (!mid || !*mid) return *detail = "mail.messageId", "ses_missing_message_id";
    int64_t mail_ts;
    if (!mts || mdp_time_parse_iso(mts, (size_t)-1, &mail_ts))
        return *detail = "mail.timestamp", "ses_invalid_timestamp";
    if (!v->dest_ok)
        return *detail = "mail.destination must be a non-empty array of strings",
               "ses_invalid_mail";
    if (v->tags_has && !v->tags_obj) /* present, null included, and no object */
        return *detail = "mail.tags must be an object", "ses_invalid_tags";
    if (v->tags_obj && !v->tags_ok)
        return *detail = "every tag value is an array of strings", "ses_invalid_tags";
    if (!v->member || strcmp(v->member, t->member) != 0)
        return *detail = t->member, "ses_missing_member";
    *ts = mail_ts;
    /* SES timestamps are ISO-8601, usually UTC with ms, sometimes with an offset or a space */
    const char *mt = v->t[T_MEMBER_TS];
    if (t->has_time && (!mt || mdp_time_parse_iso(mt, (size_t)-1, ts)))
        return *detail = "the member's timestamp", "ses_invalid_timestamp";
    const char *fid = NULL;
    if (strcmp(t->member, "bounce") == 0) {
        const char *bt = v->t[T_BOUNCE_TYPE];
        if (!bt ||
            (strcmp(bt, "Permanent") && strcmp(bt, "Transient") && strcmp(bt, "Undetermined")))
            return *detail = "bounce.bounceType", "ses_invalid_bounce";
        if (!v->bounced_ok) return *detail = "bounce.bouncedRecipients", "ses_invalid_bounce";
        fid = v->t[T_FEEDBACK_ID];
    } else if (strcmp(t->member, "complaint") == 0) {
        if (!v->complained_ok)
            return *detail = "complaint.complainedRecipients", "ses_invalid_complaint";
        fid = v->t[T_FEEDBACK_ID];
    } else if (strcmp(t->member, "delivery") == 0) {
        if (!v->recipients_ok) return *detail = "delivery.recipients", "ses_invalid_delivery";
    } else if (strcmp(t->member, "click") == 0) {
        if (!v->link) return *detail = "click.link", "ses_invalid_click";
    }
    char num[24];
    if (fid)
        join(id, idn, (const char *[]){"feedback:", fid, NULL});
    else
        join(id, idn, (const char *[]){"event:", mid, ":", t->name, ":", i64(num, *ts), NULL});
    return NULL;
}

/* ---- the stream reader of the SES JSON: yajl's callbacks, no DOM ----
 * An SNS envelope's Message is read with it when nobody asks for the parsed record (the ingest
 * stage). It decides "valid" only for what json-c would read the same way; everything else (a
 * fault, an invalid message, a repeated member, JSON that json-c reads differently or more
 * leniently: a \u escape, \f or \v (mdp__sax_safe_prefix), numbers with an exponent or over 18
 * characters, nesting over 32, a text kept of 256 bytes or more, two member objects of the types)
 * goes to json-c's path, which decides as before. Other escapes are read by yajl: SES writes
 * header values such as boundary=\"x\" into most messages. fuzz_ses compares the two paths on
 * every input. */
#define SAX_DEPTH 32
#define SAX_STR   256

enum frame { F_TOP, F_MAIL, F_DEST, F_TAGS, F_TAG, F_MEMBER, F_RLIST, F_RITEM, F_RCPT, F_SKIP };

/* What a key says of the value to come: a T_ text, one of these, or K_SKIP. */
enum {
    K_SKIP = -1,
    K_MAIL = T_COUNT,
    K_MEMBER,
    K_DEST,
    K_TAGS,
    K_LINK,
    K_BOUNCED,
    K_COMPLAINED,
    K_RECIPIENTS,
    K_EMAIL,
    K_TAG
};

struct level {
    unsigned char frame;
    signed char key; /* the code of the member whose value comes next */
    int n;           /* the members or elements read */
};

struct sax {
    struct view v;
    yajl_handle h;
    unsigned seen; /* the codes met in the message: a repeat is json-c's to judge */
    int depth, values;
    const char *name; /* F_TOP: the member object's name when the key named one */
    size_t end;       /* the bytes up to the message's closing brace */
    struct level lv[SAX_DEPTH + 1];
    char text[T_COUNT][SAX_STR];
};

/* The member objects' names, as the types give them. */
static const char *member_name(const char *k, size_t n)
{
    for (int i = 0; EVENTS[i].name; i++)
        if (strlen(EVENTS[i].member) == n && memcmp(EVENTS[i].member, k, n) == 0)
            return EVENTS[i].member;
    return NULL;
}

#define IS(lit) (n == sizeof lit - 1 && memcmp(k, lit, sizeof lit - 1) == 0)

static int sax_key(void *ud, const char *k, size_t n)
{
    struct sax *x = ud;
    struct level *l = &x->lv[x->depth];
    int code = K_SKIP;
    switch (l->frame) {
    case F_TOP:
        code = IS("notificationType")                  ? T_NT
               : IS("eventType")                       ? T_ET
               : IS("mail")                            ? K_MAIL
               : (x->name = member_name(k, n)) != NULL ? K_MEMBER
                                                       : K_SKIP;
        break;
    case F_MAIL:
        code = IS("messageId")     ? T_MID
               : IS("timestamp")   ? T_MTS
               : IS("destination") ? K_DEST
               : IS("tags")        ? K_TAGS
                                   : K_SKIP;
        break;
    case F_MEMBER:
        code = IS("timestamp")              ? T_MEMBER_TS
               : IS("bounceType")           ? T_BOUNCE_TYPE
               : IS("feedbackId")           ? T_FEEDBACK_ID
               : IS("link")                 ? K_LINK
               : IS("bouncedRecipients")    ? K_BOUNCED
               : IS("complainedRecipients") ? K_COMPLAINED
               : IS("recipients")           ? K_RECIPIENTS
                                            : K_SKIP;
        break;
    case F_RITEM:
        if (!IS("emailAddress")) break;
        if (l->n++) return 0; /* a repeated emailAddress */
        code = K_EMAIL;
        break;
    case F_TAGS:
        code = K_TAG;
        break;
    default:
        return 1;
    }
    if (code != K_SKIP && code != K_EMAIL && code != K_TAG) {
        if (x->seen & 1u << code) return 0; /* json-c keeps the last value: its to read */
        x->seen |= 1u << code;
    }
    l->key = (signed char)code;
    return 1;
}
#undef IS

static int push(struct sax *x, enum frame f)
{
    if (x->depth == SAX_DEPTH) return 0;
    x->lv[++x->depth] = (struct level){(unsigned char)f, K_SKIP, 0};
    return 1;
}

/* A value of kind (s, n: a string's text) where the reader stands. Returns 0 when the message is
 * json-c's to judge (yajl then stops). */
static int sax_value(void *ud, enum mdp__sax_kind kind, const char *s, size_t n)
{
    struct sax *x = ud;
    int sub = kind == MDP__SAX_MAP || kind == MDP__SAX_ARRAY;
    if (x->depth == 0) return kind == MDP__SAX_MAP && x->values++ == 0 && push(x, F_TOP);
    struct level *l = &x->lv[x->depth];
    int key = l->key;
    l->key = K_SKIP;
    switch (l->frame) {
    case F_TOP:
    case F_MAIL:
    case F_MEMBER:
        if (key >= 0 && key < T_COUNT) {
            if (kind == MDP__SAX_STRING) {
                if (n >= SAX_STR) return 0;
                memcpy(x->text[key], s, n);
                x->text[key][n] = '\0';
                x->v.t[key] = x->text[key];
            }
        } else if (key == K_MAIL && kind == MDP__SAX_MAP) {
            x->v.mail = 1;
            return push(x, F_MAIL);
        } else if (key == K_MEMBER && kind == MDP__SAX_MAP) {
            x->v.member = x->name;
            return push(x, F_MEMBER);
        } else if (key == K_DEST) {
            return kind == MDP__SAX_ARRAY && push(x, F_DEST);
        } else if (key == K_TAGS) {
            x->v.tags_has = 1;
            if (kind == MDP__SAX_MAP) {
                x->v.tags_obj = x->v.tags_ok = 1;
                return push(x, F_TAGS);
            }
        } else if (key == K_LINK) {
            x->v.link = kind == MDP__SAX_STRING;
        } else if (key == K_BOUNCED || key == K_COMPLAINED) {
            if (kind != MDP__SAX_ARRAY || !push(x, F_RLIST)) return 0;
            x->lv[x->depth].key = (signed char)key;
            return 1;
        } else if (key == K_RECIPIENTS) {
            return kind == MDP__SAX_ARRAY && push(x, F_RCPT);
        }
        return sub ? push(x, F_SKIP) : 1;
    case F_SKIP:
        return sub ? push(x, F_SKIP) : 1;
    case F_TAGS:
        return kind == MDP__SAX_ARRAY && push(x, F_TAG);
    case F_DEST:
    case F_TAG:
    case F_RCPT:
        l->n++;
        return kind == MDP__SAX_STRING;
    case F_RLIST:
        l->key = (signed char)key; /* which list it is stays */
        l->n++;
        return kind == MDP__SAX_MAP && push(x, F_RITEM);
    case F_RITEM:
        if (key == K_EMAIL) return kind == MDP__SAX_STRING;
        return sub ? push(x, F_SKIP) : 1;
    default:
        return 0;
    }
}

static int sax_end(void *ud)
{
    struct sax *x = ud;
    const struct level *l = &x->lv[x->depth];
    switch (l->frame) {
    case F_DEST:
        if (!(x->v.dest_ok = l->n > 0)) return 0;
        break;
    case F_RCPT:
        if (!(x->v.recipients_ok = l->n > 0)) return 0;
        break;
    case F_RLIST:
        if (l->n == 0) return 0;
        if (l->key == K_BOUNCED) x->v.bounced_ok = 1;
        if (l->key == K_COMPLAINED) x->v.complained_ok = 1;
        break;
    case F_RITEM:
        if (l->n == 0) return 0; /* no emailAddress */
        break;
    default:
        break;
    }
    if (--x->depth == 0) x->end = yajl_get_bytes_consumed(x->h);
    return 1;
}

/* Reads the SES JSON [p, p+n) with yajl into x->v. Returns 0 when it is one JSON object that
 * json-c reads the same way, else -1 (json-c's path decides). */
static int sax_read(struct sax *x, const char *p, size_t n)
{
    /* json-c's parse takes at most INT32_MAX bytes: a longer message is its to refuse */
    if (n > (size_t)INT32_MAX || mdp__sax_safe_prefix(p, n) < n) return -1;
    memset(&x->v, 0, sizeof x->v);
    x->seen = 0;
    x->depth = x->values = 0;
    x->end = 0;
    x->name = NULL;
    struct mdp__sax cb = {sax_value, sax_key, sax_end, x};
    if (!(x->h = mdp__sax_alloc(&cb))) return -1;
    return mdp__sax_parse(x->h, p, n, &x->end) && x->values == 1 && x->depth == 0 ? 0 : -1;
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

/* A valid SES JSON (validate_ses's outputs): counted, or a duplicate. env_id: the key of the SNS
 * MessageId (env_len bytes) or NULL. */
static int take_valid(struct mdp_check *ck, const char *detail, int64_t ts, const char *id,
                      int is_event, const char *env_id, size_t env_len)
{
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

/* One SES JSON (raw delivery or an envelope's Message), parsed by json-c. env_id: the key of the
 * SNS MessageId (env_len bytes) or NULL. */
static int take_ses(struct mdp_check *ck, json_object *r, const char *env_id, size_t env_len,
                    const struct where *w)
{
    const char *detail = NULL;
    int64_t ts = -1;
    char id[512] = "";
    int is_event = 0;
    struct view v;
    find_view(r, &v);
    const char *why = validate_ses(&v, &detail, &ts, id, sizeof id, &is_event);
    if (why) return bad(ck, w, why, detail);
    return take_valid(ck, detail, ts, id, is_event, env_id, env_len);
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
    const char *text = json_object_get_string(msg);
    size_t tn = (size_t)json_object_get_string_len(msg);
    if (!ck->on_verdict) { /* nobody asks for the record: a valid message needs no DOM */
        struct sax x;
        const char *detail = NULL;
        int64_t ts = -1;
        char id[512] = "";
        int is_event = 0;
        if (sax_read(&x, text, tn) == 0 &&
            !validate_ses(&x.v, &detail, &ts, id, sizeof id, &is_event))
            return take_valid(ck, detail, ts, id, is_event, env_id, env_len);
    }
    enum json_tokener_error err;
    json_object *r = mdp__json_exact_tok(w->tok, text, tn, &err);
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
