/* The ddb connector: DynamoDB Streams changes of VcTokens and ConsentJournal, as Kinesis Data
 * Firehose writes them to S3 (records concatenated with no delimiter by default, or one per line;
 * gzip-compressed when so configured) and as Lambda stream events (Records[] with SequenceNumber).
 * Every record is validated: eventName INSERT/MODIFY/REMOVE with the images that go with it, a
 * known table, Keys present, every attribute value an object with exactly one of the ten type keys
 * (N as decimal text of up to 38 digits, BOOL a boolean, NULL true, B/BS base64, sets non-empty
 * and without repeats, M and L recursive). REMOVEs by TTL expiry (userIdentity of the DynamoDB
 * service) are counted apart from application deletes. Duplicates: the same eventID. */
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

/* DynamoDB numbers: decimal text with up to 38 significant digits, optional sign, point and
 * exponent. */
static int ddb_number(const char *s)
{
    const char *p = s;
    int sig = 0, any = 0, dot = 0;
    if (*p == '-' || *p == '+') p++;
    for (; *p; p++) {
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
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0' && sig <= 38;
}

static int base64_ok(const char *s)
{
    size_t n = strlen(s);
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

/* Validates one attribute value; on failure writes its path and what is wrong into where. */
static int valid_av(json_object *v, char *where, size_t wn, const struct seg *at, int depth)
{
    if (depth > 32 || !json_object_is_type(v, json_type_object) ||
        json_object_object_length(v) != 1) {
        say(where, wn, at, "an attribute value has exactly one type key");
        return 0;
    }
    json_object_object_foreach(v, type, x)
    {
        if (strcmp(type, "S") == 0) {
            if (json_object_is_type(x, json_type_string)) return 1;
        } else if (strcmp(type, "N") == 0) {
            if (json_object_is_type(x, json_type_string) && ddb_number(json_object_get_string(x)))
                return 1;
            say(where, wn, at, "N is decimal text of up to 38 digits");
            return 0;
        } else if (strcmp(type, "B") == 0) {
            if (json_object_is_type(x, json_type_string) && base64_ok(json_object_get_string(x)))
                return 1;
        } else if (strcmp(type, "BOOL") == 0) {
            if (json_object_is_type(x, json_type_boolean)) return 1;
        } else if (strcmp(type, "NULL") == 0) {
            if (json_object_is_type(x, json_type_boolean) && json_object_get_boolean(x)) return 1;
        } else if (strcmp(type, "SS") == 0 || strcmp(type, "NS") == 0 || strcmp(type, "BS") == 0) {
            if (!json_object_is_type(x, json_type_array) || json_object_array_length(x) == 0) break;
            size_t n = json_object_array_length(x);
            for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(x, i);
                const char *s =
                    json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
                if (!s || (type[0] == 'N' && !ddb_number(s)) || (type[0] == 'B' && !base64_ok(s))) {
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

/* The S (or, with n_ok, N) value of an attribute value a of an image, or NULL. */
static const char *image_str(json_object *a, int n_ok)
{
    if (!json_object_is_type(a, json_type_object)) return NULL;
    const char *s = mdp__jget(a, "S");
    return s ? s : n_ok ? mdp__jget(a, "N") : NULL;
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
static const char *consent_check(const struct mdp_check *ck, json_object *ni, int64_t stream_ms,
                                 char *detail, size_t dn, int *non_v7)
{
    enum { EMAIL, USER_ID, TYPE, DECISION, TS, EXPIRES };
    static const char *const NAMES[] = {"email",      "user_id", "consent_type", "decision", "ts",
                                        "expires_at", NULL};
    json_object *a[6];
    mdp__jmembers(ni, NAMES, a);
    const char *email = image_str(a[EMAIL], 0), *uid = image_str(a[USER_ID], 0), *why;
    if ((!email || !*email) && (!uid || !*uid))
        return snprintf(detail, dn, "NewImage has neither email nor user_id"),
               "consent_missing_subject";
    if (uid && *uid &&
        (why = mdp__v7_id(ck, "NewImage.user_id", uid, strlen(uid), non_v7, detail, dn)))
        return why;
    const char *purpose = image_str(a[TYPE], 0), *dec = image_str(a[DECISION], 0);
    if (!purpose || !purpose_known(ck, purpose))
        return snprintf(detail, dn, "consent_type %.64s is not a configured purpose",
                        purpose ? purpose : "(missing)"),
               "consent_unknown_purpose";
    if (!dec || (strcmp(dec, "granted") != 0 && strcmp(dec, "withdrawn") != 0))
        return snprintf(detail, dn, "decision %.64s is not granted or withdrawn",
                        dec ? dec : "(missing)"),
               "consent_invalid_decision";
    const char *ts = image_str(a[TS], 0);
    int64_t t, exp;
    if (!ts || mdp_time_parse_iso(ts, strlen(ts), &t))
        return snprintf(detail, dn, "ts %.64s is not an ISO-8601 time", ts ? ts : "(missing)"),
               "consent_invalid_ts";
    if (t > stream_ms + CONSENT_MAX_SKEW_MS)
        return snprintf(detail, dn, "ts %.64s is later than the change itself", ts),
               "consent_future_ts";
    const char *ex = image_str(a[EXPIRES], 1);
    if (ex && (consent_time(ex, &exp) || exp <= t))
        return snprintf(detail, dn, "expires_at %.64s is no time after ts", ex),
               "consent_invalid_expiry";
    return NULL;
}

/* Validates one change record. lambda: the Lambda/Streams shape (seconds, SequenceNumber, table in
 * eventSourceARN); else the Firehose shape (ms, tableName). */
static const char *validate(const struct mdp_check *ck, json_object *r, int lambda, char *detail,
                            size_t dn, int64_t *ts, int *kind, int *non_v7, const char **id,
                            struct mdp_uuid *u, int *canonical)
{
    /* the members are found in one walk over each object, not a hash lookup each */
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
    json_object *m[6], *dm[6];
    mdp__jmembers(r, RN, m);
    const char *ev = mdp__jtext(m[EV_NAME]);
    if (!ev) return snprintf(detail, dn, "eventName"), "ddb_missing_event_name";
    int ins = strcmp(ev, "INSERT") == 0, mod = strcmp(ev, "MODIFY") == 0,
        rem = strcmp(ev, "REMOVE") == 0;
    if (!ins && !mod && !rem) return snprintf(detail, dn, "%s", ev), "ddb_unknown_event_name";
    if (!(*id = mdp__jtext(m[EV_ID])))
        return snprintf(detail, dn, "eventID"), "ddb_missing_event_id";
    /* a canonical UUID is its duplicate key's 16 bytes: its slot's miss under what follows */
    if ((*canonical = mdp_uuid_parse_canonical(*id, strlen(*id), u) == 0))
        mdp__check_prefetch_uuid(ck, "ddb", u);
    const char *table = mdp__jtext(m[TABLE]);
    char tbuf[256];
    if (lambda) {
        /* arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label> */
        const char *arn = mdp__jtext(m[ARN]), *t = arn ? strstr(arn, ":table/") : NULL;
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
    json_object *d = json_object_is_type(m[DYNAMODB], json_type_object) ? m[DYNAMODB] : NULL, *v;
    if (!d) return snprintf(detail, dn, "dynamodb"), "ddb_missing_dynamodb";
    mdp__jmembers(d, DN, dm);
    json_object *keys = json_object_is_type(dm[KEYS], json_type_object) ? dm[KEYS] : NULL;
    if (!keys || json_object_object_length(keys) == 0)
        return snprintf(detail, dn, "dynamodb.Keys"), "ddb_missing_keys";
    json_object *ni = json_object_is_type(dm[NEW_IMAGE], json_type_object) ? dm[NEW_IMAGE] : NULL;
    json_object *oi = json_object_is_type(dm[OLD_IMAGE], json_type_object) ? dm[OLD_IMAGE] : NULL;
    /* images by eventName: INSERT new, MODIFY both, REMOVE old (KEYS_ONLY streams have none) */
    if ((ni || oi) && ((ins && (!ni || oi)) || (rem && (ni || !oi))))
        return snprintf(detail, dn, "%s with the wrong images", ev), "ddb_invalid_images";
    if (mod && ((ni != NULL) != (oi != NULL)))
        return snprintf(detail, dn, "MODIFY with one image"), "ddb_invalid_images";
    if (!valid_image(keys, "Keys", detail, dn) ||
        (ni && !valid_image(ni, "NewImage", detail, dn)) ||
        (oi && !valid_image(oi, "OldImage", detail, dn)))
        return "ddb_invalid_attribute_value";
    v = dm[TIME];
    if (!(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return snprintf(detail, dn, "dynamodb.ApproximateCreationDateTime is a number"),
               "ddb_invalid_time";
    double t = json_object_get_double(v);
    const char *prec = mdp__jtext(dm[PRECISION]);
    /* Streams/Lambda: epoch seconds (maybe fractional); Firehose: ms, or us with MICROSECOND */
    *ts = lambda                                     ? (int64_t)(t * 1000.0)
          : prec && strcmp(prec, "MICROSECOND") == 0 ? (int64_t)(t / 1000.0)
                                                     : (int64_t)t;
    if (*ts < 0 || *ts > MDP_TIME_MAX_MS)
        return snprintf(detail, dn, "ApproximateCreationDateTime"), "ddb_invalid_time";
    if (lambda) {
        const char *seq = mdp__jtext(dm[SEQ]);
        if (!seq || !digits_only(seq, 1, 40))
            return snprintf(detail, dn, "SequenceNumber is a digit string"),
                   "ddb_invalid_sequence_number";
    }
    if (strcmp(table, "ConsentJournal") == 0 && ni) {
        const char *why = consent_check(ck, ni, *ts, detail, dn, non_v7);
        if (why) return why;
    }
    /* a TTL expiry is a REMOVE by the DynamoDB service principal */
    json_object *ui = json_object_is_type(m[IDENTITY], json_type_object) ? m[IDENTITY] : NULL;
    int ttl = rem && ui && mdp__jget(ui, "principalId") &&
              strcmp(mdp__jget(ui, "principalId"), "dynamodb.amazonaws.com") == 0 &&
              mdp__jget(ui, "type") && strcmp(mdp__jget(ui, "type"), "Service") == 0;
    *kind = ins ? X_INSERTS : mod ? X_MODIFIES : ttl ? X_TTL_REMOVES : X_USER_REMOVES;
    return NULL;
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
    const char *why =
        validate(ck, r, a->lambda, detail, sizeof detail, &ts, &kind, &non_v7, &id, &u, &canonical);
    if (why) return bad(ck, a, why, detail);
    int dup = canonical ? mdp__check_dup_uuid(ck, "ddb", &u) : mdp_check_dup(ck, "ddb", id);
    if (dup < 0) return dup;
    if (!dup) {
        ck->c->extra[kind]++;
        ck->c->non_v7_ids += non_v7;
        return mdp_check_ok_record(ck, ts, r);
    }
    return 0;
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
    /* A Lambda stream event is one object with Records; a Firehose object is records back to
     * back. The first value is parsed once: it is the event when nothing but whitespace follows
     * it and it has Records, else the first record. */
    enum json_tokener_error err;
    tok = mdp__json_tokener(); /* the thread's; NULL: one per record */
    struct mdp__splitter sp;
    mdp__splitter_init(&sp, p, n);
    sp.tok = tok;
    json_object *r;
    size_t start, len;
    int more = mdp__splitter_next(&sp, &r, &start, &len, &err);
    if (more && r && p[start] == '{') {
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
