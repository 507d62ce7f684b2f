/* The ddb connector: DynamoDB Streams changes of VcTokens and ConsentJournal, as Kinesis Data
 * Firehose writes them to S3 (records concatenated with no delimiter by default, or one per line;
 * gzip-compressed when so configured) and as Lambda stream events (Records[] with SequenceNumber).
 * Every record is validated: eventName INSERT/MODIFY/REMOVE with the images that go with it, a
 * known table, Keys present, every attribute value an object with exactly one of the ten type keys
 * (N as decimal text of up to 38 digits, BOOL a boolean, NULL true, B/BS base64, sets non-empty
 * and without repeats, M and L recursive). REMOVEs by TTL expiry (userIdentity of the DynamoDB
 * service) are counted apart from application deletes. Duplicates: the same eventID. A Firehose
 * object is read with yajl's stream parser when nobody asks for the parsed records, and with
 * json-c's DOM otherwise and from the first record the stream reader does not pass (docs/ingest.md,
 * "The DynamoDB check reads with yajl"). */
#include "../ingest_internal.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { X_INSERTS, X_MODIFIES, X_USER_REMOVES, X_TTL_REMOVES };

static const char *const TABLES[] = {"VcTokens", "ConsentJournal", NULL};

int mdp__ddb_seq_cmp(const char *a, const char *b);

/* Sequence numbers are decimal strings of 21 to 40 digits: longer is larger, else lexical. */
int mdp__ddb_seq_cmp(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb) return la < lb ? -1 : 1;
    int c = strcmp(a, b);
    return (c > 0) - (c < 0);
}

static int digits_only(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

/* DynamoDB numbers: decimal text of n bytes with up to 38 significant digits, optional sign,
 * point and exponent. */
static int ddb_number(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    int sig = 0, any = 0, dot = 0;
    if (p < end && (*p == '-' || *p == '+')) p++;
    for (; p < end; p++) {
        if (isdigit((unsigned char)*p)) {
            any = 1;
            if (sig || *p != '0') sig++;
        } else if (*p == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    if (!any) return 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '-' || *p == '+')) p++;
        if (p == end || !isdigit((unsigned char)*p)) return 0;
        while (p < end && isdigit((unsigned char)*p))
            p++;
    }
    return p == end && sig <= 38;
}

/* Base64 text of n bytes. */
static int base64_ok(const char *s, size_t n)
{
    if (n % 4) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(isalnum((unsigned char)c) || c == '+' || c == '/' || (c == '=' && i >= n - 2)))
            return 0;
    }
    return 1;
}

/* The path of an attribute value (NewImage.tags[2].name), as links up to its image: it is
 * written out only when the value is bad, not for every attribute of every record. */
struct seg {
    const struct seg *up; /* NULL: the image itself (key is its name) */
    const char *key;      /* a member name, or NULL: an index */
    size_t idx;
};

/* The path into out (on bytes; 256 as the path was kept), each level cut to on - 1 bytes as the
 * text kept per level was. */
static void path_text(const struct seg *at, char *out, size_t on)
{
    if (!at->up) {
        snprintf(out, on, "%s", at->key);
        return;
    }
    char up[256];
    path_text(at->up, up, sizeof up);
    int k = at->key ? snprintf(out, on, "%s.%s", up, at->key)
                    : snprintf(out, on, "%s[%zu]", up, at->idx);
    if (k < 0) out[0] = '\0';
}

/* where = "<path>: <message>". */
static void __attribute__((format(printf, 4, 5)))
say(char *where, size_t wn, const struct seg *at, const char *fmt, ...)
{
    char path[256];
    path_text(at, path, sizeof path);
    int k = snprintf(where, wn, "%s: ", path);
    if (k >= 0 && (size_t)k < wn) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(where + k, wn - (size_t)k, fmt, ap);
        va_end(ap);
    }
}

/* The C string of a json-c string, as the checks read it (up to its first NUL). */
static int av_string(json_object *x, const char **s, size_t *n)
{
    if (!json_object_is_type(x, json_type_string)) return 0;
    *s = json_object_get_string(x);
    *n = strlen(*s);
    return 1;
}

/* Validates one attribute value; on failure writes its path and what is wrong into where. */
static int valid_av(json_object *v, char *where, size_t wn, const struct seg *at, int depth)
{
    if (depth > 32 || !json_object_is_type(v, json_type_object) ||
        json_object_object_length(v) != 1) {
        say(where, wn, at, "an attribute value has exactly one type key");
        return 0;
    }
    const char *s;
    size_t n;
    json_object_object_foreach(v, type, x)
    {
        if (strcmp(type, "S") == 0) {
            if (json_object_is_type(x, json_type_string)) return 1;
        } else if (strcmp(type, "N") == 0) {
            if (av_string(x, &s, &n) && ddb_number(s, n)) return 1;
            say(where, wn, at, "N is decimal text of up to 38 digits");
            return 0;
        } else if (strcmp(type, "B") == 0) {
            if (av_string(x, &s, &n) && base64_ok(s, n)) return 1;
        } else if (strcmp(type, "BOOL") == 0) {
            if (json_object_is_type(x, json_type_boolean)) return 1;
        } else if (strcmp(type, "NULL") == 0) {
            if (json_object_is_type(x, json_type_boolean) && json_object_get_boolean(x)) return 1;
        } else if (strcmp(type, "SS") == 0 || strcmp(type, "NS") == 0 || strcmp(type, "BS") == 0) {
            if (!json_object_is_type(x, json_type_array) || json_object_array_length(x) == 0) break;
            size_t len = json_object_array_length(x);
            for (size_t i = 0; i < len; i++) {
                json_object *e = json_object_array_get_idx(x, i);
                if (!av_string(e, &s, &n) || (type[0] == 'N' && !ddb_number(s, n)) ||
                    (type[0] == 'B' && !base64_ok(s, n))) {
                    say(where, wn, at, "%s holds %s", type,
                        type[0] == 'N'   ? "numbers as text"
                        : type[0] == 'B' ? "base64"
                                         : "strings");
                    return 0;
                }
                for (size_t j = 0; j < i; j++)
                    if (strcmp(s, json_object_get_string(json_object_array_get_idx(x, j))) == 0) {
                        say(where, wn, at, "%s repeats a member", type);
                        return 0;
                    }
            }
            return 1;
        } else if (strcmp(type, "M") == 0) {
            if (!json_object_is_type(x, json_type_object)) break;
            json_object_object_foreach(x, k, e)
            {
                struct seg sub = {at, k, 0};
                if (!valid_av(e, where, wn, &sub, depth + 1)) return 0;
            }
            return 1;
        } else if (strcmp(type, "L") == 0) {
            if (!json_object_is_type(x, json_type_array)) break;
            for (size_t i = 0; i < json_object_array_length(x); i++) {
                struct seg sub = {at, NULL, i};
                if (!valid_av(json_object_array_get_idx(x, i), where, wn, &sub, depth + 1))
                    return 0;
            }
            return 1;
        } else {
            say(where, wn, at, "unknown type key %s", type);
            return 0;
        }
        say(where, wn, at, "a %s value of the wrong JSON type", type);
        return 0;
    }
    return 0;
}

static int valid_image(json_object *img, const char *name, char *where, size_t wn)
{
    struct seg root = {NULL, name, 0};
    json_object_object_foreach(img, k, v)
    {
        struct seg at = {&root, k, 0};
        if (!valid_av(v, where, wn, &at, 0)) return 0;
    }
    return 1;
}

/* What validate() reads of a change record, as either reader found it: json-c's DOM (find_view)
 * or the stream reader (sax_*). Texts are NUL-terminated and borrowed; NULL when the member is
 * missing or not a string. The C_ texts are NewImage's attributes of a ConsentJournal item: an
 * attribute's S value (for expires_at its S or N value), once every attribute value is valid. */
enum {
    T_EVENT_NAME,
    T_EVENT_ID,
    T_TABLE,
    T_ARN,
    T_PRECISION,
    T_SEQ,
    T_PRINCIPAL,
    T_UI_TYPE,
    C_EMAIL,
    C_USER_ID,
    C_TYPE,
    C_DECISION,
    C_TS,
    C_EXPIRES,
    T_COUNT
};

struct view {
    const char *t[T_COUNT];
    int dynamodb, identity; /* the member is an object */
    int keys;               /* dynamodb.Keys is an object with members */
    int ni, oi;             /* NewImage, OldImage are objects */
    int has_time;           /* ApproximateCreationDateTime is a number: time */
    double time;
};

static const char *const CONSENT_ATTRS[] = {
    "email", "user_id", "consent_type", "decision", "ts", "expires_at", NULL};

/* The S (or, with n_ok, N) value of an attribute value a of an image, or NULL. */
static const char *image_str(json_object *a, int n_ok)
{
    if (!json_object_is_type(a, json_type_object)) return NULL;
    const char *s = mdp__jget(a, "S");
    return s ? s : n_ok ? mdp__jget(a, "N") : NULL;
}

/* The view of json-c's record r, and its images (Keys, NewImage, OldImage objects, or NULL) in
 * img for their check. */
static void find_view(json_object *r, struct view *v, json_object **img)
{
    enum { EV_NAME, EV_ID, TABLE, ARN, DYNAMODB, IDENTITY };
    static const char *const RN[] = {"eventName", "eventID",      "tableName", "eventSourceARN",
                                     "dynamodb",  "userIdentity", NULL};
    enum { KEYS, NEW_IMAGE, OLD_IMAGE, TIME, PRECISION, SEQ };
    static const char *const DN[] = {"Keys",
                                     "NewImage",
                                     "OldImage",
                                     "ApproximateCreationDateTime",
                                     "ApproximateCreationDateTimePrecision",
                                     "SequenceNumber",
                                     NULL};
    /* the members are found in one walk over each object, not a hash lookup each */
    json_object *m[6], *dm[6], *a[6];
    memset(v, 0, sizeof *v);
    mdp__jmembers(r, RN, m);
    v->t[T_EVENT_NAME] = mdp__jtext(m[EV_NAME]);
    v->t[T_EVENT_ID] = mdp__jtext(m[EV_ID]);
    v->t[T_TABLE] = mdp__jtext(m[TABLE]);
    v->t[T_ARN] = mdp__jtext(m[ARN]);
    if ((v->identity = json_object_is_type(m[IDENTITY], json_type_object))) {
        v->t[T_PRINCIPAL] = mdp__jget(m[IDENTITY], "principalId");
        v->t[T_UI_TYPE] = mdp__jget(m[IDENTITY], "type");
    }
    img[0] = img[1] = img[2] = NULL;
    if (!(v->dynamodb = json_object_is_type(m[DYNAMODB], json_type_object))) return;
    mdp__jmembers(m[DYNAMODB], DN, dm);
    for (int i = 0; i < 3; i++)
        img[i] = json_object_is_type(dm[KEYS + i], json_type_object) ? dm[KEYS + i] : NULL;
    v->keys = img[0] && json_object_object_length(img[0]) > 0;
    v->ni = img[1] != NULL;
    v->oi = img[2] != NULL;
    json_object *t = dm[TIME];
    if ((v->has_time =
             json_object_is_type(t, json_type_int) || json_object_is_type(t, json_type_double)))
        v->time = json_object_get_double(t);
    v->t[T_PRECISION] = mdp__jtext(dm[PRECISION]);
    v->t[T_SEQ] = mdp__jtext(dm[SEQ]);
    if (v->ni) {
        mdp__jmembers(img[1], CONSENT_ATTRS, a);
        for (int i = 0; i < 6; i++)
            v->t[C_EMAIL + i] = image_str(a[i], C_EMAIL + i == C_EXPIRES);
    }
}

/* The consent vocabulary, read here without the consent module (gov/ reads ingest's verdicts, so
 * ingest does not include gov): the purposes are consent.purposes' NAME:BASIS items of the
 * configuration (unchecked without one: the consent import checks them against the journal's
 * own list), the skew is MDP_CONSENT_MAX_SKEW_MS (test_ingest holds them equal), and a time is
 * ISO-8601 text or epoch seconds as mdp_consent_time_parse reads it. */
#define CONSENT_MAX_SKEW_MS (5 * 60 * 1000)

static int purpose_known(const struct mdp_check *ck, const char *name)
{
    if (!ck->cfg) return 1;
    size_t n = strlen(name);
    for (int i = 0; i < ck->cfg->consent_purposes.n; i++) {
        const char *it = ck->cfg->consent_purposes.v[i];
        if (strncmp(it, name, n) == 0 && (it[n] == ':' || it[n] == '\0')) return 1;
    }
    return 0;
}

static int consent_time(const char *s, int64_t *ms)
{
    size_t n = strlen(s);
    if (n && strspn(s, "0123456789") == n) return mdp_time_parse_epoch_s(s, ms);
    return mdp_time_parse_iso(s, n, ms);
}

/* A ConsentJournal item (email and/or user_id (a UUIDv7, ingest.non_v7_ids), ts ISO-8601,
 * consent_type, decision, optional expires_at as ISO-8601 text or epoch seconds) must make a valid
 * journal record: a configured purpose, granted/withdrawn, a decision time not later than the
 * change's stream time plus the allowed skew, an expiry after the decision. */
static const char *consent_check(const struct mdp_check *ck, const struct view *v,
                                 int64_t stream_ms, char *detail, size_t dn, int *non_v7)
{
    const char *email = v->t[C_EMAIL], *uid = v->t[C_USER_ID], *why;
    if ((!email || !*email) && (!uid || !*uid))
        return snprintf(detail, dn, "NewImage has neither email nor user_id"),
               "consent_missing_subject";
    if (uid && *uid &&
        (why = mdp__v7_id(ck, "NewImage.user_id", uid, strlen(uid), non_v7, detail, dn)))
        return why;
    const char *purpose = v->t[C_TYPE], *dec = v->t[C_DECISION];
    if (!purpose || !purpose_known(ck, purpose))
        return snprintf(detail, dn, "consent_type %.64s is not a configured purpose",
                        purpose ? purpose : "(missing)"),
               "consent_unknown_purpose";
    if (!dec || (strcmp(dec, "granted") != 0 && strcmp(dec, "withdrawn") != 0))
        return snprintf(detail, dn, "decision %.64s is not granted or withdrawn",
                        dec ? dec : "(missing)"),
               "consent_invalid_decision";
    const char *ts = v->t[C_TS];
    int64_t t, exp;
    if (!ts || mdp_time_parse_iso(ts, strlen(ts), &t))
        return snprintf(detail, dn, "ts %.64s is not an ISO-8601 time", ts ? ts : "(missing)"),
               "consent_invalid_ts";
    if (t > stream_ms + CONSENT_MAX_SKEW_MS)
        return snprintf(detail, dn, "ts %.64s is later than the change itself", ts),
               "consent_future_ts";
    const char *ex = v->t[C_EXPIRES];
    if (ex && (consent_time(ex, &exp) || exp <= t))
        return snprintf(detail, dn, "expires_at %.64s is no time after ts", ex),
               "consent_invalid_expiry";
    return NULL;
}

/* Validates one change record. lambda: the Lambda/Streams shape (seconds, SequenceNumber, table in
 * eventSourceARN); else the Firehose shape (ms, tableName). img: json-c's images (find_view), whose
 * attribute values are checked here; NULL from the stream reader, which checked them as it read.
 */
static const char *validate(const struct mdp_check *ck, const struct view *v,
                            json_object *const *img, int lambda, char *detail, size_t dn,
                            int64_t *ts, int *kind, int *non_v7, const char **id,
                            struct mdp_uuid *u, int *canonical)
{
    const char *ev = v->t[T_EVENT_NAME];
    if (!ev) return snprintf(detail, dn, "eventName"), "ddb_missing_event_name";
    int ins = strcmp(ev, "INSERT") == 0, mod = strcmp(ev, "MODIFY") == 0,
        rem = strcmp(ev, "REMOVE") == 0;
    if (!ins && !mod && !rem) return snprintf(detail, dn, "%s", ev), "ddb_unknown_event_name";
    if (!(*id = v->t[T_EVENT_ID])) return snprintf(detail, dn, "eventID"), "ddb_missing_event_id";
    /* a canonical UUID is its duplicate key's 16 bytes: its slot's miss under what follows */
    if ((*canonical = mdp_uuid_parse_canonical(*id, strlen(*id), u) == 0))
        mdp__check_prefetch_uuid(ck, "ddb", u);
    const char *table = v->t[T_TABLE];
    char tbuf[256];
    if (lambda) {
        /* arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label> */
        const char *arn = v->t[T_ARN], *t = arn ? strstr(arn, ":table/") : NULL;
        if (t) {
            t += 7;
            const char *e = strchr(t, '/');
            snprintf(tbuf, sizeof tbuf, "%.*s", (int)(e ? e - t : (long)strlen(t)), t);
            table = tbuf;
        }
    }
    int known = 0;
    for (int i = 0; table && TABLES[i]; i++)
        known |= strcmp(table, TABLES[i]) == 0;
    if (!known)
        return snprintf(detail, dn, "%s", table ? table : "no table name"), "ddb_unknown_table";
    if (!v->dynamodb) return snprintf(detail, dn, "dynamodb"), "ddb_missing_dynamodb";
    if (!v->keys) return snprintf(detail, dn, "dynamodb.Keys"), "ddb_missing_keys";
    int ni = v->ni, oi = v->oi;
    /* images by eventName: INSERT new, MODIFY both, REMOVE old (KEYS_ONLY streams have none) */
    if ((ni || oi) && ((ins && (!ni || oi)) || (rem && (ni || !oi))))
        return snprintf(detail, dn, "%s with the wrong images", ev), "ddb_invalid_images";
    if (mod && (ni != oi))
        return snprintf(detail, dn, "MODIFY with one image"), "ddb_invalid_images";
    if (img && (!valid_image(img[0], "Keys", detail, dn) ||
                (ni && !valid_image(img[1], "NewImage", detail, dn)) ||
                (oi && !valid_image(img[2], "OldImage", detail, dn))))
        return "ddb_invalid_attribute_value";
    if (!v->has_time)
        return snprintf(detail, dn, "dynamodb.ApproximateCreationDateTime is a number"),
               "ddb_invalid_time";
    double t = v->time;
    const char *prec = v->t[T_PRECISION];
    /* Streams/Lambda: epoch seconds (maybe fractional); Firehose: ms, or us with MICROSECOND */
    double ms = lambda ? t * 1000.0 : prec && strcmp(prec, "MICROSECOND") == 0 ? t / 1000.0 : t;
    /* the range is checked on the double first: one out of int64_t's range has no conversion
     * (UBSan, fuzz_ddb), and NaN fails the comparison */
    if (!(ms > -1.0 && ms < (double)MDP_TIME_MAX_MS + 1.0))
        return snprintf(detail, dn, "ApproximateCreationDateTime"), "ddb_invalid_time";
    *ts = (int64_t)ms;
    if (*ts < 0 || *ts > MDP_TIME_MAX_MS)
        return snprintf(detail, dn, "ApproximateCreationDateTime"), "ddb_invalid_time";
    if (lambda) {
        const char *seq = v->t[T_SEQ];
        if (!seq || !digits_only(seq, 1, 40))
            return snprintf(detail, dn, "SequenceNumber is a digit string"),
                   "ddb_invalid_sequence_number";
    }
    if (strcmp(table, "ConsentJournal") == 0 && ni) {
        const char *why = consent_check(ck, v, *ts, detail, dn, non_v7);
        if (why) return why;
    }
    /* a TTL expiry is a REMOVE by the DynamoDB service principal */
    const char *pid = v->t[T_PRINCIPAL], *uit = v->t[T_UI_TYPE];
    int ttl = rem && pid && strcmp(pid, "dynamodb.amazonaws.com") == 0 && uit &&
              strcmp(uit, "Service") == 0;
    *kind = ins ? X_INSERTS : mod ? X_MODIFIES : ttl ? X_TTL_REMOVES : X_USER_REMOVES;
    return NULL;
}

/* ---- the stream reader: yajl's callbacks, no DOM ----
 * Firehose objects are read with it when nobody asks for the parsed record (the ingest stage). A
 * record is taken here only when it is valid and json-c would read it the same way; at the first
 * record that is not (a fault, an invalid record, a repeated member, JSON that json-c reads
 * differently or more leniently: the events reader's rules, docs/ingest.md), json-c's splitter
 * goes on from that record's first byte and decides it and the rest as before. Records after a
 * \u escape, \f or \v in the object are json-c's (mdp__sax_safe_prefix), and so are a record
 * followed by a comment
 * (json-c's parse of the record reads it too) and a Lambda event (a Records member) whole.
 * fuzz_ddb compares the two paths on every input. */
#define SAX_DEPTH 32
#define SAX_STR   128 /* the member texts kept (a longer one: json-c's to read) */
#define SAX_SET   16  /* the members of a set compared for repeats */

enum frame { F_RECORD, F_DYNAMODB, F_IDENTITY, F_IMAGE, F_MAP, F_AV, F_LIST, F_SET, F_SKIP };

/* What a key of a record, its dynamodb or its userIdentity says of the value to come: a T_ text,
 * one of these, or K_SKIP. */
enum { K_SKIP = -1, K_DYNAMODB = T_COUNT, K_IDENTITY, K_KEYS, K_NEW_IMAGE, K_OLD_IMAGE, K_TIME };

/* An attribute value's type key. */
enum { A_NONE, A_S, A_N, A_B, A_BOOL, A_NULL, A_SS, A_NS, A_BS, A_M, A_L };

struct level {
    unsigned char frame;
    signed char key;     /* F_RECORD, F_DYNAMODB, F_IDENTITY: K_ or T_ of the next value; F_AV and
                       * F_SET: A_ type; F_IMAGE: the C_ slot of the attribute read, or -1 */
    signed char slot;    /* F_AV: the C_ slot its value fills, or -1 */
    unsigned char image; /* F_IMAGE: 0 Keys, 1 NewImage, 2 OldImage */
    int n;               /* the members or elements read */
};

struct sax {
    struct view v;
    struct mdp_check *ck;
    struct mdp__splitter *sp; /* advanced past every record taken here */
    yajl_handle h;
    size_t limit;  /* the first byte that yajl and json-c may read differently, or the end */
    unsigned seen; /* the T_ and K_ members met in the record: a repeat is json-c's to judge */
    int depth, rc, nset;
    struct level lv[SAX_DEPTH + 1];
    char text[T_COUNT][SAX_STR];
    char set[SAX_SET][SAX_STR];
    size_t setn[SAX_SET];
};

#define IS(lit) (n == sizeof lit - 1 && memcmp(k, lit, sizeof lit - 1) == 0)

static int record_key(const char *k, size_t n)
{
    return IS("eventName")        ? T_EVENT_NAME
           : IS("eventID")        ? T_EVENT_ID
           : IS("tableName")      ? T_TABLE
           : IS("eventSourceARN") ? T_ARN
           : IS("dynamodb")       ? K_DYNAMODB
           : IS("userIdentity")   ? K_IDENTITY
                                  : K_SKIP;
}

static int dynamodb_key(const char *k, size_t n)
{
    return IS("Keys")                                   ? K_KEYS
           : IS("NewImage")                             ? K_NEW_IMAGE
           : IS("OldImage")                             ? K_OLD_IMAGE
           : IS("ApproximateCreationDateTime")          ? K_TIME
           : IS("ApproximateCreationDateTimePrecision") ? T_PRECISION
           : IS("SequenceNumber")                       ? T_SEQ
                                                        : K_SKIP;
}

static int av_type(const char *k, size_t n)
{
    return IS("S")      ? A_S
           : IS("N")    ? A_N
           : IS("B")    ? A_B
           : IS("BOOL") ? A_BOOL
           : IS("NULL") ? A_NULL
           : IS("SS")   ? A_SS
           : IS("NS")   ? A_NS
           : IS("BS")   ? A_BS
           : IS("M")    ? A_M
           : IS("L")    ? A_L
                        : A_NONE;
}
#undef IS

static int sax_key(void *ud, const char *k, size_t n)
{
    struct sax *x = ud;
    struct level *l = &x->lv[x->depth];
    int code = K_SKIP;
    switch (l->frame) {
    case F_RECORD:
        if (n == 7 && memcmp(k, "Records", 7) == 0) return 0; /* a Lambda event: json-c's */
        code = record_key(k, n);
        break;
    case F_DYNAMODB:
        code = dynamodb_key(k, n);
        break;
    case F_IDENTITY:
        code = n == 11 && memcmp(k, "principalId", 11) == 0 ? T_PRINCIPAL
               : n == 4 && memcmp(k, "type", 4) == 0        ? T_UI_TYPE
                                                            : K_SKIP;
        break;
    case F_IMAGE:
        l->n++;
        l->key = -1;
        for (int i = 0; l->image == 1 && CONSENT_ATTRS[i]; i++)
            if (strlen(CONSENT_ATTRS[i]) == n && memcmp(CONSENT_ATTRS[i], k, n) == 0)
                code = l->key = (signed char)(C_EMAIL + i);
        break;
    case F_AV:
        return l->n++ == 0 && (l->key = (signed char)av_type(k, n)) != A_NONE;
    default:
        return 1;
    }
    if (code != K_SKIP) {
        if (x->seen & 1u << code) return 0; /* json-c keeps the last value: its to read */
        x->seen |= 1u << code;
    }
    if (l->frame != F_IMAGE) l->key = (signed char)code;
    return 1;
}

static int push(struct sax *x, enum frame f, int key, int slot, int image)
{
    if (x->depth == SAX_DEPTH) return 0;
    x->lv[++x->depth] = (struct level){(unsigned char)f, (signed char)key, (signed char)slot,
                                       (unsigned char)image, 0};
    return 1;
}

static int keep(struct sax *x, int slot, const char *s, size_t n)
{
    if (n >= SAX_STR) return 0;
    memcpy(x->text[slot], s, n);
    x->text[slot][n] = '\0';
    x->v.t[slot] = x->text[slot];
    return 1;
}

/* A value of kind (s, n: a string's or number's text) where the reader stands. Returns 0 when
 * the record is json-c's to judge (yajl then stops). */
static int sax_value(void *ud, enum mdp__sax_kind kind, const char *s, size_t n)
{
    struct sax *x = ud;
    int sub = kind == MDP__SAX_MAP || kind == MDP__SAX_ARRAY;
    if (x->depth == 0) { /* a record begins */
        memset(&x->v, 0, sizeof x->v);
        x->seen = 0;
        return kind == MDP__SAX_MAP && push(x, F_RECORD, K_SKIP, -1, 0);
    }
    struct level *l = &x->lv[x->depth];
    switch (l->frame) {
    case F_RECORD:
    case F_DYNAMODB:
    case F_IDENTITY:
        if (l->key >= 0 && l->key < T_COUNT) {
            if (kind == MDP__SAX_STRING && !keep(x, l->key, s, n)) return 0;
        } else if (kind == MDP__SAX_MAP && l->key == K_DYNAMODB) {
            x->v.dynamodb = 1;
            return push(x, F_DYNAMODB, K_SKIP, -1, 0);
        } else if (kind == MDP__SAX_MAP && l->key == K_IDENTITY) {
            x->v.identity = 1;
            return push(x, F_IDENTITY, K_SKIP, -1, 0);
        } else if (kind == MDP__SAX_MAP && l->key >= K_KEYS && l->key <= K_OLD_IMAGE) {
            if (l->key == K_NEW_IMAGE) x->v.ni = 1;
            if (l->key == K_OLD_IMAGE) x->v.oi = 1;
            return push(x, F_IMAGE, -1, -1, l->key - K_KEYS);
        } else if (kind == MDP__SAX_NUMBER && l->key == K_TIME) {
            char b[20];
            memcpy(b, s, n);
            b[n] = '\0'; /* as json-c reads it: an integer, or a double with a point */
            x->v.has_time = 1;
            x->v.time = memchr(b, '.', n) ? strtod(b, NULL) : (double)strtoll(b, NULL, 10);
        }
        return sub ? push(x, F_SKIP, K_SKIP, -1, 0) : 1;
    case F_SKIP:
        return sub ? push(x, F_SKIP, K_SKIP, -1, 0) : 1;
    case F_IMAGE:
        return kind == MDP__SAX_MAP && push(x, F_AV, A_NONE, l->key, 0);
    case F_MAP:
        return kind == MDP__SAX_MAP && push(x, F_AV, A_NONE, -1, 0);
    case F_LIST:
        return kind == MDP__SAX_MAP && push(x, F_AV, A_NONE, -1, 0);
    case F_AV:
        switch (l->key) {
        case A_S:
            return kind == MDP__SAX_STRING && (l->slot < 0 || keep(x, l->slot, s, n));
        case A_N:
            return kind == MDP__SAX_STRING && ddb_number(s, n) &&
                   (l->slot != C_EXPIRES || keep(x, l->slot, s, n));
        case A_B:
            return kind == MDP__SAX_STRING && base64_ok(s, n);
        case A_BOOL:
            return kind == MDP__SAX_TRUE || kind == MDP__SAX_FALSE;
        case A_NULL:
            return kind == MDP__SAX_TRUE;
        case A_SS:
        case A_NS:
        case A_BS:
            x->nset = 0;
            return kind == MDP__SAX_ARRAY && push(x, F_SET, l->key, -1, 0);
        case A_M:
            return kind == MDP__SAX_MAP && push(x, F_MAP, K_SKIP, -1, 0);
        case A_L:
            return kind == MDP__SAX_ARRAY && push(x, F_LIST, K_SKIP, -1, 0);
        default:
            return 0;
        }
    case F_SET:
        if (kind != MDP__SAX_STRING || (l->key == A_NS && !ddb_number(s, n)) ||
            (l->key == A_BS && !base64_ok(s, n)) || n >= SAX_STR || x->nset == SAX_SET)
            return 0;
        for (int i = 0; i < x->nset; i++)
            if (x->setn[i] == n && memcmp(x->set[i], s, n) == 0) return 0; /* a repeat */
        memcpy(x->set[x->nset], s, n);
        x->setn[x->nset++] = n;
        l->n++;
        return 1;
    default:
        return 0;
    }
}

/* Counts a valid record, or a duplicate of an eventID seen before. */
static int take_valid(struct mdp_check *ck, const char *id, const struct mdp_uuid *u, int canonical,
                      int64_t ts, int kind, int non_v7, json_object *r)
{
    int dup = canonical ? mdp__check_dup_uuid(ck, "ddb", u) : mdp_check_dup(ck, "ddb", id);
    if (dup) return dup < 0 ? dup : 0;
    ck->c->extra[kind]++;
    ck->c->non_v7_ids += non_v7;
    return mdp_check_ok_record(ck, ts, r);
}

/* The record read ends at the reader's position: taken when valid and before the limit. */
static int record_end(struct sax *x)
{
    size_t end = yajl_get_bytes_consumed(x->h), next = end;
    if (end > x->limit) return 0;
    /* json-c's parse of a record goes on into a comment after it (a bad one fails the record) */
    while (next < x->sp->n && strchr(" \t\r\n", x->sp->p[next]))
        next++;
    if (next < x->sp->n && x->sp->p[next] == '/') return 0;
    char detail[300];
    int64_t ts = -1;
    int kind = 0, non_v7 = 0, canonical = 0;
    const char *id = NULL;
    struct mdp_uuid u;
    if (validate(x->ck, &x->v, NULL, 0, detail, sizeof detail, &ts, &kind, &non_v7, &id, &u,
                 &canonical))
        return 0;
    if ((x->rc = take_valid(x->ck, id, &u, canonical, ts, kind, non_v7, NULL))) return 0;
    mdp__splitter_took(x->sp, end);
    return 1;
}

static int sax_end(void *ud)
{
    struct sax *x = ud;
    const struct level *l = &x->lv[x->depth];
    if ((l->frame == F_AV && l->n != 1) || (l->frame == F_SET && l->n == 0)) return 0;
    if (l->frame == F_IMAGE && l->image == 0) x->v.keys = l->n > 0;
    return --x->depth > 0 || record_end(x);
}

/* Reads the records of sp's object with yajl from its start, taking each one it may, and leaves
 * sp after the last one taken (where json-c's splitter goes on). Returns 0, or an error of taking
 * a record. */
static int sax_read(struct mdp_check *ck, struct mdp__splitter *sp)
{
    const char *p = sp->p;
    size_t n = sp->n;
    /* json-c's parse takes at most INT32_MAX bytes: a longer object is its to refuse */
    if (n > (size_t)INT32_MAX) return 0;
    struct sax *x = calloc(1, sizeof *x);
    if (!x) return 0; /* json-c's path reads it all */
    x->ck = ck;
    x->sp = sp;
    x->limit = mdp__sax_safe_prefix(p, n);
    struct mdp__sax cb = {sax_value, sax_key, sax_end, x};
    if ((x->h = mdp__sax_alloc(&cb))) {
        yajl_config(x->h, yajl_allow_multiple_values, 1);
        if (yajl_parse(x->h, (const unsigned char *)p, n) == yajl_status_ok)
            yajl_complete_parse(x->h);
        yajl_free(x->h);
    }
    int rc = x->rc;
    free(x);
    return rc;
}

/* Where a record is and what it came as, for its verdict: the location and (for a Records[]
 * element) its bytes are made only when the record is bad. */
struct at {
    int lambda; /* Records[idx] of a Lambda event, else record idx at byte start */
    size_t idx, start;
    const char *raw; /* the record's bytes, or NULL: obj, serialized */
    size_t len;
    json_object *obj;
};

static int bad(struct mdp_check *ck, const struct at *a, const char *why, const char *detail)
{
    char loc[600];
    const char *raw = a->raw;
    size_t len = a->len;
    if (!raw) {
        raw = json_object_to_json_string_ext(a->obj, JSON_C_TO_STRING_PLAIN);
        len = strlen(raw);
    }
    if (a->lambda)
        mdp__loc(loc, sizeof loc, ck->key, "#Records[%zu]", a->idx);
    else
        mdp__loc(loc, sizeof loc, ck->key, "#record[%zu]@%zu", a->idx, a->start);
    return mdp_check_bad(ck, why, loc, detail, raw, len);
}

static int take(struct mdp_check *ck, json_object *r, const struct at *a)
{
    char detail[300];
    int64_t ts = -1;
    int kind = 0, non_v7 = 0;
    detail[0] = '\0';
    if (!json_object_is_type(r, json_type_object))
        return bad(ck, a, "json_not_object", "a change record is a JSON object");
    const char *id = NULL;
    struct mdp_uuid u;
    int canonical = 0;
    struct view v;
    json_object *img[3];
    find_view(r, &v, img);
    const char *why = validate(ck, &v, img, a->lambda, detail, sizeof detail, &ts, &kind, &non_v7,
                               &id, &u, &canonical);
    if (why) return bad(ck, a, why, detail);
    return take_valid(ck, id, &u, canonical, ts, kind, non_v7, r);
}

static int check(struct mdp_check *ck, const char *p, size_t n)
{
    struct mdp_buf plain;
    mdp_buf_init(&plain);
    int rc = 0;
    json_tokener *tok = NULL;
    if (mdp_gzip_magic(p, n)) {
        if ((rc = mdp_buf_gunzip(&plain, p, n)) == MDP_ERR_NOMEM) goto out;
        if (rc) {
            /* what inflated before the damage is still read; the damaged object is quarantined */
            rc = mdp_check_bad(ck, "gzip_corrupt", ck->key,
                               "the gzip stream is truncated or corrupt", p, n);
            if (rc || plain.len == 0) goto out;
        }
        p = plain.data;
        n = plain.len;
    }
    struct mdp__splitter sp;
    mdp__splitter_init(&sp, p, n);
    /* nobody asks for the parsed record: valid records need no DOM */
    if (!ck->on_verdict && (rc = sax_read(ck, &sp))) goto out;
    /* A Lambda stream event is one object with Records; a Firehose object is records back to
     * back. The first value is parsed once: it is the event when nothing but whitespace follows
     * it and it has Records, else the first record. */
    enum json_tokener_error err;
    tok = mdp__json_tokener(); /* the thread's; NULL: one per record */
    sp.tok = tok;
    json_object *r;
    size_t start, len;
    int first = sp.idx == 0, more = mdp__splitter_next(&sp, &r, &start, &len, &err);
    if (first && more && r && p[start] == '{') {
        size_t rest = sp.pos;
        while (rest < n && strchr(" \t\r\n", p[rest]))
            rest++;
        json_object *recs = rest == n ? mdp__jarr(r, "Records") : NULL;
        for (size_t i = 0; recs && i < json_object_array_length(recs) && !rc; i++) {
            json_object *e = json_object_array_get_idx(recs, i);
            struct at a = {1, i, 0, NULL, 0, e};
            rc = take(ck, e, &a);
        }
        if (recs) {
            json_object_put(r);
            goto out;
        }
    }
    for (; more; more = rc ? 0 : mdp__splitter_next(&sp, &r, &start, &len, &err)) {
        struct at a = {0, (size_t)(sp.idx - 1), start, p + start, len, NULL};
        if (!r)
            rc = bad(ck, &a, mdp__json_reason(err), json_tokener_error_desc(err));
        else
            rc = take(ck, r, &a);
        json_object_put(r);
    }
out:
    mdp__json_tokener_put(tok);
    mdp_buf_cleanup(&plain);
    return rc;
}

const struct mdp_connector MDP__CONNECTOR_DDB = {
    .name = "ddb",
    .source = "dynamodb",
    .summary = "DynamoDB Streams (VcTokens, ConsentJournal) via Firehose objects or Lambda events",
    .help =
        "Usage: mdp ingest ddb [--date D] [--dir LAKE]\n"
        "\n"
        "Takes DynamoDB change records of VcTokens and ConsentJournal from\n"
        "<landing>/dynamodb/firehose/YYYY/MM/DD/HH/<object> (Firehose: records back to back or "
        "one\n"
        "per line, gzip-compressed or not; ApproximateCreationDateTime in ms) and\n"
        "<landing>/dynamodb/lambda/dt=D/*.json (Lambda stream events: Records[], epoch seconds,\n"
        "SequenceNumber). Every attribute value is checked (exactly one type key; N as decimal\n"
        "text). A record that does not parse is quarantined and reading resumes at the next one.\n"
        "REMOVEs by TTL expiry (userIdentity: the DynamoDB service) are counted apart from\n"
        "application deletes. The same eventID twice counts as a duplicate.\n",
    .landing_prefix = "dynamodb/",
    .dataset = NULL,
    .ext = "json",
    .sample_key = "dynamodb/firehose/2026/10/01/00/x",
    .extra_names = {"inserts", "modifies", "application deletes", "TTL deletes"},
    .check = check,
};
