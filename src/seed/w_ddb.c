/* The DynamoDB writer of `mdp seed`: change records of VcTokens (the double-opt-in token: issued,
 * confirmed, deleted or expired by TTL) and ConsentJournal (every consent decision) in the
 * Kinesis-Data-Streams-for-DynamoDB shape, concatenated into Firehose objects (no delimiter by
 * default; the newline delimiter after a mid-window configuration change), buffered 300 s or
 * 5 MiB and named after the first record's arrival. */
#include "seed_world.h"
#include "mdp/hash.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define REGION "eu-central-1"

static const char *const UA_MOBILE =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148";
static const char *const UA_DESKTOP =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36";

struct ddb {
    struct mdp__spool recs; /* change records by creation time */
};

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

static int queue_ddb(struct mdp__seed *s, struct ddb *w, const char *table, const char *event,
                     json_object *keys, json_object *newimg, json_object *oldimg, int ttl_delete,
                     int64_t t)
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
    int rc = mdp__spool_add(s, &w->recs, t, text, strlen(text));
    if (!rc && bad == 3) { /* a redelivered record (same eventID) */
        s->st->bad_duplicate++;
        s->st->ddb_records++;
        rc = mdp__spool_add(s, &w->recs, t + 2000, text, strlen(text));
    }
    free(text);
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

static int token(struct mdp__seed *s, struct ddb *w, const struct mdp__user *u, int64_t t,
                 int confirms, int64_t confirm_ms)
{
    unsigned char raw[32];
    for (int i = 0; i < 32; i++)
        raw[i] = (unsigned char)mdp__rng_below(&s->r, 256);
    char hash[65];
    mdp_sha256_hex(raw, sizeof raw, hash);
    int rc = queue_ddb(s, w, "VcTokens", "INSERT", token_keys(hash),
                       token_image(s, u, hash, "pending", t, 0, 0, 1), NULL, 0, t);
    if (rc) return rc;
    if (confirms) {
        rc = queue_ddb(s, w, "VcTokens", "MODIFY", token_keys(hash),
                       token_image(s, u, hash, "verified", t, confirm_ms, 1, 2),
                       token_image(s, u, hash, "pending", t, 0, 0, 1), 0, confirm_ms);
        /* the app deletes consumed tokens after a day */
        int64_t del = confirm_ms + MDP_MS_PER_DAY;
        if (!rc)
            rc = queue_ddb(s, w, "VcTokens", "REMOVE", token_keys(hash), NULL,
                           token_image(s, u, hash, "verified", t, confirm_ms, 1, 2), 0, del);
    } else {
        /* never confirmed: TTL expiry removes it (within 48 h after ttl) */
        int64_t exp = t + 7 * MDP_MS_PER_DAY + (int64_t)mdp__rng_below(&s->r, 36 * 3600000);
        rc = queue_ddb(s, w, "VcTokens", "REMOVE", token_keys(hash), NULL,
                       token_image(s, u, hash, "pending", t, 0, 0, 1), 1, exp);
    }
    return rc;
}

static int consent(struct mdp__seed *s, struct ddb *w, const struct mdp__user *u, int64_t t,
                   const char *purpose, const char *decision)
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
    return queue_ddb(s, w, "ConsentJournal", "INSERT", k, o, NULL, 0, t);
}

/* ---- the writer ---- */

static int ddb_init(struct mdp__seed *s, void **state)
{
    struct ddb *w = calloc(1, sizeof *w);
    if (!w) return mdp__nomem(s);
    *state = w;
    return mdp__spool_init(s, &w->recs, "ddb");
}

static int ddb_on(struct mdp__seed *s, void *state, const struct mdp__happening *h)
{
    if (h->kind == MDP__H_TOKEN)
        return token(s, state, h->u, h->t, h->token.confirms, h->token.confirm_ms);
    if (h->kind == MDP__H_CONSENT)
        return consent(s, state, h->u, h->t, h->consent.purpose, h->consent.decision);
    return 0;
}

/* Firehose's buffer: records in arrival order, across days. */
struct firehose {
    struct mdp_buf b;
    int64_t first;
    int version;
};

/* Firehose's GZIP compression of one object into out (reset first). Returns 0 or -1. */
static int gzip_into(const struct mdp_buf *in, struct mdp_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 16 + 15: a gzip header (mtime 0: the same bytes for the same seed) */
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    size_t bound = deflateBound(&z, (uLong)in->len);
    mdp_buf_reset(out);
    int rc = mdp_buf_reserve(out, bound) ? -1 : 0;
    if (!rc) {
        z.next_in = (unsigned char *)in->data;
        z.avail_in = (uInt)in->len;
        z.next_out = (unsigned char *)out->data;
        z.avail_out = (uInt)bound;
        rc = deflate(&z, Z_FINISH) == Z_STREAM_END ? 0 : -1;
        out->len = bound - z.avail_out;
    }
    deflateEnd(&z);
    return rc;
}

static int firehose_flush(struct mdp__seed *s, struct firehose *f)
{
    if (!f->b.len) return 0;
    int64_t days = mdp_days_from_ms(f->first), y;
    unsigned mo, d;
    mdp_civil_from_days(days, &y, &mo, &d);
    int64_t rem = f->first - days * MDP_MS_PER_DAY;
    int hh = (int)(rem / 3600000), mm = (int)(rem / 60000 % 60), ss = (int)(rem / 1000 % 60);
    char uuid[37], key[200];
    mdp__uuid4(s, uuid);
    snprintf(
        key, sizeof key,
        "dynamodb/firehose/%04d/%02u/%02u/%02d/vc-ddb-cdc-%d-%04d-%02u-%02u-%02d-%02d-%02d-%s%s",
        (int)y, mo, d, hh, f->version, (int)y, mo, d, hh, mm, ss, uuid,
        f->version == 3 ? ".gz" : "");
    int rc = 0;
    if (f->version == 3) { /* GZIP compression on: the object is gzip'd and named .gz */
        struct mdp_buf z;
        mdp_buf_init(&z);
        rc = gzip_into(&f->b, &z) ? mdp__nomem(s) : mdp__seed_put(s, key, z.data, z.len);
        mdp_buf_cleanup(&z);
    } else {
        rc = mdp__seed_put(s, key, f->b.data, f->b.len);
    }
    mdp_buf_reset(&f->b);
    return rc;
}

static int firehose_add(struct mdp__seed *s, void *ud, int64_t ts, const char *text, size_t len)
{
    struct firehose *f = ud;
    /* Firehose buffers 300 s or 5 MiB; the object is named after its oldest record's arrival */
    if (f->b.len && (ts + 700 >= f->first + 300000 || f->b.len >= 5u << 20)) {
        int rc = firehose_flush(s, f);
        if (rc) return rc;
    }
    if (!f->b.len) {
        f->first = ts + 700;
        int64_t mid_window = s->start_ms + (s->end_ms - s->start_ms) / 2;
        /* the delimiter was switched on mid-window (stream version 2), GZIP compression in the
         * last quarter (version 3): each change of the stream's configuration bumps its version */
        int64_t last_quarter = s->start_ms + (s->end_ms - s->start_ms) * 3 / 4;
        f->version = f->first >= last_quarter ? 3 : f->first >= mid_window ? 2 : 1;
    }
    if (mdp_buf_append(&f->b, text, len) || (f->version >= 2 && mdp_buf_putc(&f->b, '\n')))
        return mdp__nomem(s);
    return 0;
}

static int ddb_finish(struct mdp__seed *s, void *state)
{
    struct ddb *w = state;
    struct firehose f = {.version = 1};
    mdp_buf_init(&f.b);
    int rc = 0;
    for (int64_t day = 0; day < s->ndays && !rc; day++)
        rc = mdp__spool_drain(s, &w->recs, day, firehose_add, &f);
    if (!rc) rc = firehose_flush(s, &f);
    mdp_buf_cleanup(&f.b);
    return rc;
}

static void ddb_cleanup(struct mdp__seed *s, void *state)
{
    struct ddb *w = state;
    if (!w) return;
    mdp__spool_cleanup(s, &w->recs);
    free(w);
}

const struct mdp__writer mdp__writer_ddb = {"ddb", ddb_init, ddb_on, ddb_finish, ddb_cleanup, NULL};
