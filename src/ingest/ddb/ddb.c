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

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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

/* Validates one attribute value; on failure writes its path into where. */
static int valid_av(json_object *v, char *where, size_t wn, const char *path, int depth)
{
    if (depth > 32 || !json_object_is_type(v, json_type_object) ||
        json_object_object_length(v) != 1) {
        snprintf(where, wn, "%s: an attribute value has exactly one type key", path);
        return 0;
    }
    json_object_object_foreach(v, type, x)
    {
        char sub[256];
        if (strcmp(type, "S") == 0) {
            if (json_object_is_type(x, json_type_string)) return 1;
        } else if (strcmp(type, "N") == 0) {
            if (json_object_is_type(x, json_type_string) && ddb_number(json_object_get_string(x)))
                return 1;
            snprintf(where, wn, "%s: N is decimal text of up to 38 digits", path);
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
                    snprintf(where, wn, "%s: %s holds %s", path, type,
                             type[0] == 'N'   ? "numbers as text"
                             : type[0] == 'B' ? "base64"
                                              : "strings");
                    return 0;
                }
                for (size_t j = 0; j < i; j++)
                    if (strcmp(s, json_object_get_string(json_object_array_get_idx(x, j))) == 0) {
                        snprintf(where, wn, "%s: %s repeats a member", path, type);
                        return 0;
                    }
            }
            return 1;
        } else if (strcmp(type, "M") == 0) {
            if (!json_object_is_type(x, json_type_object)) break;
            json_object_object_foreach(x, k, e)
            {
                snprintf(sub, sizeof sub, "%s.%s", path, k);
                if (!valid_av(e, where, wn, sub, depth + 1)) return 0;
            }
            return 1;
        } else if (strcmp(type, "L") == 0) {
            if (!json_object_is_type(x, json_type_array)) break;
            for (size_t i = 0; i < json_object_array_length(x); i++) {
                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                if (!valid_av(json_object_array_get_idx(x, i), where, wn, sub, depth + 1)) return 0;
            }
            return 1;
        } else {
            snprintf(where, wn, "%s: unknown type key %s", path, type);
            return 0;
        }
        snprintf(where, wn, "%s: a %s value of the wrong JSON type", path, type);
        return 0;
    }
    return 0;
}

static int valid_image(json_object *img, const char *name, char *where, size_t wn)
{
    json_object_object_foreach(img, k, v)
    {
        char path[256];
        snprintf(path, sizeof path, "%s.%s", name, k);
        if (!valid_av(v, where, wn, path, 0)) return 0;
    }
    return 1;
}

/* The S (or, with n_ok, N) value of attribute name in an image, or NULL. */
static const char *image_str(json_object *img, const char *name, int n_ok)
{
    json_object *a = mdp__jobj(img, name);
    const char *s = a ? mdp__jget(a, "S") : NULL;
    return s ? s : a && n_ok ? mdp__jget(a, "N") : NULL;
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
    const char *email = image_str(ni, "email", 0), *uid = image_str(ni, "user_id", 0), *why;
    if ((!email || !*email) && (!uid || !*uid))
        return snprintf(detail, dn, "NewImage has neither email nor user_id"),
               "consent_missing_subject";
    if (uid && *uid &&
        (why = mdp__v7_id(ck, "NewImage.user_id", uid, strlen(uid), non_v7, detail, dn)))
        return why;
    const char *purpose = image_str(ni, "consent_type", 0), *dec = image_str(ni, "decision", 0);
    if (!purpose || !purpose_known(ck, purpose))
        return snprintf(detail, dn, "consent_type %.64s is not a configured purpose",
                        purpose ? purpose : "(missing)"),
               "consent_unknown_purpose";
    if (!dec || (strcmp(dec, "granted") != 0 && strcmp(dec, "withdrawn") != 0))
        return snprintf(detail, dn, "decision %.64s is not granted or withdrawn",
                        dec ? dec : "(missing)"),
               "consent_invalid_decision";
    const char *ts = image_str(ni, "ts", 0);
    int64_t t, exp;
    if (!ts || mdp_time_parse_iso(ts, strlen(ts), &t))
        return snprintf(detail, dn, "ts %.64s is not an ISO-8601 time", ts ? ts : "(missing)"),
               "consent_invalid_ts";
    if (t > stream_ms + CONSENT_MAX_SKEW_MS)
        return snprintf(detail, dn, "ts %.64s is later than the change itself", ts),
               "consent_future_ts";
    const char *ex = image_str(ni, "expires_at", 1);
    if (ex && (consent_time(ex, &exp) || exp <= t))
        return snprintf(detail, dn, "expires_at %.64s is no time after ts", ex),
               "consent_invalid_expiry";
    return NULL;
}

/* Validates one change record. lambda: the Lambda/Streams shape (seconds, SequenceNumber, table in
 * eventSourceARN); else the Firehose shape (ms, tableName). */
static const char *validate(const struct mdp_check *ck, json_object *r, int lambda, char *detail,
                            size_t dn, int64_t *ts, int *kind, int *non_v7)
{
    const char *ev = mdp__jget(r, "eventName");
    if (!ev) return snprintf(detail, dn, "eventName"), "ddb_missing_event_name";
    int ins = strcmp(ev, "INSERT") == 0, mod = strcmp(ev, "MODIFY") == 0,
        rem = strcmp(ev, "REMOVE") == 0;
    if (!ins && !mod && !rem) return snprintf(detail, dn, "%s", ev), "ddb_unknown_event_name";
    if (!mdp__jget(r, "eventID")) return snprintf(detail, dn, "eventID"), "ddb_missing_event_id";
    const char *table = mdp__jget(r, "tableName");
    char tbuf[256];
    if (lambda) {
        /* arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label> */
        const char *arn = mdp__jget(r, "eventSourceARN"), *t = arn ? strstr(arn, ":table/") : NULL;
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
    json_object *d = mdp__jobj(r, "dynamodb"), *v;
    if (!d) return snprintf(detail, dn, "dynamodb"), "ddb_missing_dynamodb";
    json_object *keys = mdp__jobj(d, "Keys");
    if (!keys || json_object_object_length(keys) == 0)
        return snprintf(detail, dn, "dynamodb.Keys"), "ddb_missing_keys";
    json_object *ni = mdp__jobj(d, "NewImage"), *oi = mdp__jobj(d, "OldImage");
    /* images by eventName: INSERT new, MODIFY both, REMOVE old (KEYS_ONLY streams have none) */
    if ((ni || oi) && ((ins && (!ni || oi)) || (rem && (ni || !oi))))
        return snprintf(detail, dn, "%s with the wrong images", ev), "ddb_invalid_images";
    if (mod && ((ni != NULL) != (oi != NULL)))
        return snprintf(detail, dn, "MODIFY with one image"), "ddb_invalid_images";
    if (!valid_image(keys, "Keys", detail, dn) ||
        (ni && !valid_image(ni, "NewImage", detail, dn)) ||
        (oi && !valid_image(oi, "OldImage", detail, dn)))
        return "ddb_invalid_attribute_value";
    if (!json_object_object_get_ex(d, "ApproximateCreationDateTime", &v) ||
        !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return snprintf(detail, dn, "dynamodb.ApproximateCreationDateTime is a number"),
               "ddb_invalid_time";
    double t = json_object_get_double(v);
    const char *prec = mdp__jget(d, "ApproximateCreationDateTimePrecision");
    /* Streams/Lambda: epoch seconds (maybe fractional); Firehose: ms, or us with MICROSECOND */
    *ts = lambda                                     ? (int64_t)(t * 1000.0)
          : prec && strcmp(prec, "MICROSECOND") == 0 ? (int64_t)(t / 1000.0)
                                                     : (int64_t)t;
    if (*ts < 0 || *ts > MDP_TIME_MAX_MS)
        return snprintf(detail, dn, "ApproximateCreationDateTime"), "ddb_invalid_time";
    if (lambda) {
        const char *seq = mdp__jget(d, "SequenceNumber");
        if (!seq || !digits_only(seq, 1, 40))
            return snprintf(detail, dn, "SequenceNumber is a digit string"),
                   "ddb_invalid_sequence_number";
    }
    if (strcmp(table, "ConsentJournal") == 0 && ni) {
        const char *why = consent_check(ck, ni, *ts, detail, dn, non_v7);
        if (why) return why;
    }
    /* a TTL expiry is a REMOVE by the DynamoDB service principal */
    json_object *ui = mdp__jobj(r, "userIdentity");
    int ttl = rem && ui && mdp__jget(ui, "principalId") &&
              strcmp(mdp__jget(ui, "principalId"), "dynamodb.amazonaws.com") == 0 &&
              mdp__jget(ui, "type") && strcmp(mdp__jget(ui, "type"), "Service") == 0;
    *kind = ins ? X_INSERTS : mod ? X_MODIFIES : ttl ? X_TTL_REMOVES : X_USER_REMOVES;
    return NULL;
}

static int take(struct mdp_check *ck, json_object *r, int lambda, const char *loc, const char *raw,
                size_t len)
{
    char detail[300] = "";
    int64_t ts = -1;
    int kind = 0, non_v7 = 0;
    if (!json_object_is_type(r, json_type_object))
        return mdp_check_bad(ck, "json_not_object", loc, "a change record is a JSON object", raw,
                             len);
    const char *why = validate(ck, r, lambda, detail, sizeof detail, &ts, &kind, &non_v7);
    if (why) return mdp_check_bad(ck, why, loc, detail, raw, len);
    int dup = mdp_check_dup(ck, "ddb", mdp__jget(r, "eventID"));
    if (dup < 0) return dup;
    if (!dup) {
        ck->c->extra[kind]++;
        ck->c->non_v7_ids += non_v7;
        return mdp_check_ok_record(ck, ts, r);
    }
    return 0;
}

/* gunzips p into out; returns 0 or -1 (truncated or corrupt stream). */
static int gunzip(const char *p, size_t n, struct mdp_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return -1;
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)n;
    int rc;
    do {
        if (mdp_buf_reserve(out, 65536)) {
            inflateEnd(&z);
            return -1;
        }
        z.next_out = (unsigned char *)out->data + out->len;
        z.avail_out = (uInt)(out->cap - out->len - 1);
        rc = inflate(&z, Z_NO_FLUSH);
        out->len = out->cap - 1 - z.avail_out;
        out->data[out->len] = '\0';
        if (rc == Z_STREAM_END && z.avail_in > 0) { /* concatenated gzip members */
            if (inflateReset(&z) != Z_OK) break;
            rc = Z_OK;
        }
    } while (rc == Z_OK);
    inflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

static int check(struct mdp_check *ck, const char *p, size_t n)
{
    struct mdp_buf plain;
    mdp_buf_init(&plain);
    int rc = 0;
    char loc[600];
    if (n >= 2 && (unsigned char)p[0] == 0x1f && (unsigned char)p[1] == 0x8b) {
        if (gunzip(p, n, &plain)) {
            /* what inflated before the damage is still read; the damaged object is quarantined */
            rc = mdp_check_bad(ck, "gzip_corrupt", ck->key,
                               "the gzip stream is truncated or corrupt", p, n);
            if (rc || plain.len == 0) goto out;
        }
        p = plain.data;
        n = plain.len;
    }
    /* a Lambda stream event is one object with Records; a Firehose object is records back to back
     * (so parsing it as one value stops at the second record, and it is split below) */
    enum json_tokener_error err;
    size_t first = 0;
    while (first < n && strchr(" \t\r\n", p[first]))
        first++;
    json_object *top = first < n && p[first] == '{' ? mdp__json_exact(p, n, &err) : NULL;
    json_object *recs = mdp__jarr(top, "Records");
    if (recs) {
        for (size_t i = 0; i < json_object_array_length(recs) && !rc; i++) {
            json_object *r = json_object_array_get_idx(recs, i);
            const char *t = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN);
            rc = take(ck, r, 1, mdp__loc(loc, sizeof loc, ck->key, "#Records[%zu]", i), t,
                      strlen(t));
        }
        json_object_put(top);
        goto out;
    }
    json_object_put(top);
    struct mdp__splitter sp;
    mdp__splitter_init(&sp, p, n);
    json_object *r;
    size_t start, len;
    while (!rc && mdp__splitter_next(&sp, &r, &start, &len, &err)) {
        mdp__loc(loc, sizeof loc, ck->key, "#record[%d]@%zu", sp.idx - 1, start);
        if (!r)
            rc = mdp_check_bad(ck, mdp__json_reason(err), loc, json_tokener_error_desc(err),
                               p + start, len);
        else
            rc = take(ck, r, 0, loc, p + start, len);
        json_object_put(r);
    }
out:
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
