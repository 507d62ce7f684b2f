/* The connector registry and the one path every delivery takes (include/mdp/ingest.h): raw put by
 * content hash, the connector's check, the quarantine batch; and the `ingest` stage of `mdp run`,
 * which runs the configured connectors over the landing folder and records one run per connector
 * (counts, newest event time, connector-specific counters), failing a connector whose quarantined
 * share passes ingest.max_quarantine_share. */
#include "ingest_internal.h"
#include "mdp/hash.h"
#include "mdp/log.h"
#include "mdp/ml.h"
#include "mdp/pipeline.h"
#include "mdp/retention.h"
#include "mdp/state.h"
#include "mdp/suppress.h"
#include "mdp/strset.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct mdp_connector *const CONNECTORS[] = {
#define MDP_CONNECTOR(n) &MDP__CONNECTOR_##n,
#include "connectors.def"
#undef MDP_CONNECTOR
    NULL};

/* For core/config.c: the connectors' configuration maps come after the core's keys. */
const struct mdp_config_key *mdp__connector_config_map(size_t i, int *end);

const struct mdp_config_key *mdp__connector_config_map(size_t i, int *end)
{
    for (size_t k = 0; k <= i; k++)
        if (!CONNECTORS[k]) {
            *end = 1;
            return NULL;
        }
    *end = 0;
    return CONNECTORS[i]->config;
}

const struct mdp_connector *const *mdp_connectors(void)
{
    return CONNECTORS;
}

const struct mdp_connector *mdp_connector_find(const char *name)
{
    for (int i = 0; CONNECTORS[i]; i++)
        if (strcmp(CONNECTORS[i]->name, name) == 0) return CONNECTORS[i];
    return NULL;
}

const struct mdp_connector *mdp_connector_for_key(const char *key)
{
    for (int i = 0; CONNECTORS[i]; i++)
        if (strncmp(key, CONNECTORS[i]->landing_prefix, strlen(CONNECTORS[i]->landing_prefix)) == 0)
            return CONNECTORS[i];
    return NULL;
}

int mdp_connector_run_has_flag(const struct mdp_connector_run *r, const char *flag)
{
    for (const char *const *f = r->flags; f && *f; f++)
        if (strcmp(*f, flag) == 0) return 1;
    return 0;
}

/* ---- helpers for connectors ---- */

/* Reports one verdict; a stop from the caller sticks. */
static int verdict(struct mdp_check *ck, enum mdp_verdict_kind kind, int64_t event_ms,
                   const char *reason, const char *location, const char *detail, const void *record)
{
    long index = ck->nrec++;
    if (ck->stop_rc || !ck->on_verdict) return ck->stop_rc;
    struct mdp_verdict v = {kind, index, ck->line, event_ms, reason, location, detail, record};
    ck->stop_rc = ck->on_verdict(ck->on_verdict_ud, &v);
    return ck->stop_rc;
}

int mdp_check_bad(struct mdp_check *ck, const char *reason, const char *location,
                  const char *detail, const void *payload, size_t len)
{
    ck->c->in++;
    ck->c->quarantined++;
    int rc = ck->q ? mdp_quarantine_add(ck->q, reason, location, detail, payload, len) : 0;
    return rc ? rc : verdict(ck, MDP_VERDICT_QUARANTINED, -1, reason, location, detail, NULL);
}

int mdp_check_ok_record(struct mdp_check *ck, int64_t event_ms, const void *record)
{
    ck->c->in++;
    ck->c->out++;
    if (event_ms > ck->c->newest_event_ms) ck->c->newest_event_ms = event_ms;
    return verdict(ck, MDP_VERDICT_VALID, event_ms, NULL, NULL, NULL, record);
}

int mdp_check_ok(struct mdp_check *ck, int64_t event_ms)
{
    return mdp_check_ok_record(ck, event_ms, NULL);
}

int mdp_check_duplicate(struct mdp_check *ck)
{
    ck->c->in++;
    ck->c->duplicates++;
    return verdict(ck, MDP_VERDICT_DUPLICATE, -1, NULL, NULL, NULL, NULL);
}

int mdp__check_seen_n(struct mdp_check *ck, const char *key, size_t len)
{
    if (!key) return 0;
    if (ck->win) return mdp__dedup_seen(ck->win, key, len);
    if (!ck->seen) return 0;
    int rc = mdp_strset_add(ck->seen, key, len);
    return rc < 0 ? rc : rc == 0;
}

int mdp_check_seen(struct mdp_check *ck, const char *id)
{
    return id ? mdp__check_seen_n(ck, id, strlen(id)) : 0;
}

/* The binary key of u of kind into buf (bn bytes): its length, or 0 when it does not fit. */
static size_t uuid_key(const char *kind, size_t k, const struct mdp_uuid *u, char *buf, size_t bn)
{
    if (1 + sizeof u->b + k > bn) return 0;
    buf[0] = (char)0xff;
    memcpy(buf + 1, u->b, sizeof u->b);
    memcpy(buf + 1 + sizeof u->b, kind, k);
    return 1 + sizeof u->b + k;
}

size_t mdp__dedup_key(const char *kind, const char *id, size_t n, char *buf, size_t bn)
{
    size_t k = strlen(kind), len; /* no snprintf: this runs for every record */
    struct mdp_uuid u;
    if (mdp_uuid_parse_canonical(id, n, &u) == 0 && (len = uuid_key(kind, k, &u, buf, bn)))
        return len;
    if (k + 1 + n >= bn) return 0;
    memcpy(buf, kind, k);
    buf[k] = ':';
    memcpy(buf + k + 1, id, n);
    buf[k + 1 + n] = '\0';
    return k + 1 + n;
}

/* mdp_check_dup of a key made by mdp__dedup_key. */
static int check_dup_key(struct mdp_check *ck, const char *buf, size_t len)
{
    if (!len) return 0;
    int rc = mdp__check_seen_n(ck, buf, len);
    if (rc == 1) {
        int stop = mdp_check_duplicate(ck);
        if (stop) return stop < 0 ? stop : -1;
    }
    return rc;
}

/* check_dup_key of a verdict of the window's (1: seen). */
static int dup_verdict(struct mdp_check *ck, int rc)
{
    if (rc == 1) {
        int stop = mdp_check_duplicate(ck);
        if (stop) return stop < 0 ? stop : -1;
    }
    return rc;
}

/* mdp__check_dup_uuid of any kind (lit: 1 when it is a string constant). */
static int dup_uuid(struct mdp_check *ck, const char *kind, const struct mdp_uuid *u, int lit)
{
    if (ck->win)
        return dup_verdict(ck, lit ? mdp__dedup_seen_uuid_lit(ck->win, kind, u->b)
                                   : mdp__dedup_seen_uuid(ck->win, kind, strlen(kind), u->b));
    if (!ck->seen) return 0;
    char buf[512];
    return check_dup_key(ck, buf, uuid_key(kind, strlen(kind), u, buf, sizeof buf));
}

int mdp__check_dup_uuid(struct mdp_check *ck, const char *kind, const struct mdp_uuid *u)
{
    return dup_uuid(ck, kind, u, 1);
}

int mdp_check_dup(struct mdp_check *ck, const char *kind, const char *id)
{
    if ((!ck->seen && !ck->win) || !id) return 0;
    size_t n = strlen(id);
    struct mdp_uuid u;
    if (ck->win && mdp_uuid_parse_canonical(id, n, &u) == 0)
        return dup_uuid(ck, kind, &u, 0); /* the caller's kind may be in a buffer it reuses */
    char buf[512];
    return check_dup_key(ck, buf, mdp__dedup_key(kind, id, n, buf, sizeof buf));
}

void mdp__check_prefetch_uuid(const struct mdp_check *ck, const char *kind,
                              const struct mdp_uuid *u)
{
    if (ck->win) mdp__dedup_prefetch_uuid_lit(ck->win, kind, u->b);
}

void mdp__check_prefetch_key(const struct mdp_check *ck, const char *key, size_t len)
{
    if (ck->win && len) mdp__dedup_prefetch(ck->win, key, len);
}

int mdp_ingest_check(const char *key, const char *data, size_t len, struct mdp_ingest_counts *c,
                     struct mdp_quarantine *q)
{
    if (c->newest_event_ms == 0) c->newest_event_ms = -1;
    struct mdp_ingest_counts mine;
    int rc = mdp_ingest_verdicts(NULL, key, data, len, NULL, q, NULL, NULL, &mine);
    if (rc == 0 || rc == MDP_ERR_NOMEM) {
        /* added to what the caller counted before */
        c->in += mine.in;
        c->out += mine.out;
        c->quarantined += mine.quarantined;
        c->duplicates += mine.duplicates;
        c->non_v7_ids += mine.non_v7_ids;
        if (mine.newest_event_ms > c->newest_event_ms) c->newest_event_ms = mine.newest_event_ms;
        for (int i = 0; i < 4; i++)
            c->extra[i] += mine.extra[i];
    }
    return rc;
}

int mdp_ingest_verdicts(const char *connector, const char *key, const char *data, size_t len,
                        const struct mdp_config *cfg, struct mdp_quarantine *q,
                        int (*on_verdict)(void *ud, const struct mdp_verdict *v), void *ud,
                        struct mdp_ingest_counts *out_counts)
{
    struct mdp_ingest_counts c;
    memset(&c, 0, sizeof c);
    c.newest_event_ms = -1;
    if (out_counts) *out_counts = c;
    const struct mdp_connector *k = connector ? mdp_connector_find(connector)
                                    : key     ? mdp_connector_for_key(key)
                                              : NULL;
    if (!k) return MDP_ERR_NOT_FOUND;
    if (!key) key = k->name; /* locations start with something */
    struct mdp_strset *seen = mdp__seen_set();
    if (!seen) return MDP_ERR_NOMEM;
    struct mdp_check ck = {0};
    ck.key = key;
    ck.c = &c;
    ck.q = q;
    ck.seen = seen;
    ck.cfg = cfg;
    ck.on_verdict = on_verdict;
    ck.on_verdict_ud = ud;
    int rc = k->check(&ck, data ? data : "", len);
    if (ck.stop_rc) rc = ck.stop_rc; /* the caller's stop, whatever the connector made of it */
    mdp__seen_set_put(seen);
    if (out_counts) *out_counts = c;
    return rc;
}

/* ---- suppression: erased subjects stay out ---- */

/* Removes the elements of o's array members that name a suppressed subject (a batch of records
 * in one document: Records[] of an SQS or Lambda event, rows[] of a report). Returns how many. */
static int64_t prune(const struct mdp_suppress_set *set, json_object *o)
{
    int64_t n = 0;
    if (!json_object_is_type(o, json_type_object)) return 0;
    json_object_object_foreach(o, k, v)
    {
        (void)k;
        if (!json_object_is_type(v, json_type_array)) continue;
        for (size_t i = json_object_array_length(v); i-- > 0;) {
            const char *t = json_object_to_json_string_ext(json_object_array_get_idx(v, i),
                                                           JSON_C_TO_STRING_PLAIN);
            if (t && mdp_suppress_match(set, t, strlen(t))) {
                json_object_array_del_idx(v, i, 1);
                n++;
            }
        }
    }
    return n;
}

/* The record [a, b) of p (o: its parsed form, or NULL): kept, dropped with the line end after it,
 * or, for a document whose batch holds the subject's records among others', replaced by the
 * document without them. */
static void unit(const struct mdp_suppress_set *set, const char *p, size_t n, size_t a, size_t b,
                 json_object *o, size_t *copied, struct mdp_buf *kept, int64_t *dropped)
{
    while (b > a && strchr(" \t\r\n", p[b - 1])) /* a value's span may end in whitespace */
        b--;
    if (b <= a || !mdp_suppress_match(set, p + a, b - a)) return;
    int64_t pruned = o ? prune(set, o) : 0;
    const char *rest = pruned ? json_object_to_json_string_ext(
                                    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                              : NULL;
    mdp_buf_append(kept, p + *copied, a - *copied);
    if (rest && !mdp_suppress_match(set, rest, strlen(rest))) {
        mdp_buf_puts(kept, rest); /* the other records of the batch stay */
        *copied = b;
        *dropped += pruned;
        return;
    }
    size_t end = b;
    while (end < n && (p[end] == ' ' || p[end] == '\t' || p[end] == '\r'))
        end++;
    if (end < n && p[end] == '\n') end++;
    *copied = end;
    (*dropped)++;
}

int mdp_ingest_suppress(const struct mdp_suppress_set *set, const char *data, size_t len,
                        struct mdp_buf *kept, int64_t *dropped, struct mdp_diag *d)
{
    *dropped = 0;
    if (!set || !len) return 0;
    struct mdp_buf plain;
    mdp_buf_init(&plain);
    if (mdp_gzip_magic(data, len)) {
        int rc = mdp_buf_gunzip(&plain, data, len);
        if (rc) {
            mdp_buf_cleanup(&plain);
            return rc == MDP_ERR_NOMEM ? mdp_diag_set(d, rc, "out of memory inflating")
                                       : 0; /* corrupt: the connector quarantines it whole */
        }
        data = plain.data ? plain.data : "";
        len = plain.len;
    }
    size_t first = 0, copied = 0;
    while (first < len && strchr(" \t\r\n", data[first]))
        first++;
    if (first < len && (data[first] == '{' || data[first] == '[')) {
        struct mdp__splitter sp;
        mdp__splitter_init(&sp, data, len);
        json_object *o;
        size_t start, n, prev = 0;
        enum json_tokener_error err;
        while (mdp__splitter_next(&sp, &o, &start, &n, &err)) {
            if (start > prev) { /* what lies between two values is a record of its own */
                size_t a = prev;
                while (a < start && strchr(" \t\r\n", data[a]))
                    a++;
                if (a < start) unit(set, data, len, a, start, NULL, &copied, kept, dropped);
            }
            if (start >= copied) unit(set, data, len, start, start + n, o, &copied, kept, dropped);
            json_object_put(o);
            prev = start + n > copied ? start + n : copied;
        }
        if (prev < len && copied <= prev)
            unit(set, data, len, prev, len, NULL, &copied, kept, dropped);
    } else {
        size_t pos = 0, s0, ln, lineno = 0;
        while (mdp__next_line(data, len, &pos, &s0, &ln, &lineno))
            if (s0 >= copied) unit(set, data, len, s0, s0 + ln, NULL, &copied, kept, dropped);
    }
    if (*dropped) mdp_buf_append(kept, data + copied, len - copied);
    mdp_buf_cleanup(&plain);
    if (*dropped && mdp_buf_error(kept))
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory removing suppressed records");
    if (!*dropped) mdp_buf_reset(kept);
    return 0;
}

/* ---- the ingest stage ---- */

#define MAXC 16

struct run_state {
    struct mdp_stage_ctx *ctx;
    struct mdp_store *landing;
    const char *only; /* one connector, or NULL for the configured ones */
    struct mdp_ingest_counts per[MAXC];
    int64_t busy_ms[MAXC];
    struct mdp_ingest_counts unknown;
    struct mdp_dedup_window win[MAXC];
    struct mdp_connector_run hook[MAXC]; /* each connector's run, from its init hook */
    unsigned char started[MAXC];         /* init ran (and succeeded): exit is due */
    struct mdp_suppress_set *sup;        /* erased subjects, or NULL (none) */
    struct mdp_diag *d;
    /* What the lake holds, read once per run instead of asked per delivery (on S3 each question
     * is a request): the retention horizon per source/dataset (read only where the listing of
     * the horizons shows one), the keys of every raw day folder a
     * delivery went to (listed once, then kept up to date with this run's puts; where the store
     * lists folders, only the day folders that exist are listed, found by one listing of the
     * dataset's folder), and the raw folders that have compaction records at all (listed once). */
    struct expired_day {
        char source[64], dataset[64];
        int64_t day;
    } expired[32];
    int nexpired;
    struct mdp_strset *horizons;       /* the keys of the retention horizons (listed once) */
    struct mdp_strset *raw_keys;       /* raw objects known to exist */
    struct mdp_strset *raw_listed;     /* raw day folders listed into raw_keys */
    struct mdp_strset *compacted_dirs; /* "source/dataset/dt=D/" with compaction records */
    struct mdp_strset *ds_listed;      /* dataset folders raw/source/dataset/ listed for days */
    struct mdp_strset *day_dirs;       /* the day folders those listings found */
    int no_list_dirs;                  /* the store lists no folders: list each day folder */
    int compacted_loaded;
    struct uploader *up;
};

static int index_of(const struct mdp_connector *k)
{
    for (int i = 0; CONNECTORS[i]; i++)
        if (CONNECTORS[i] == k) return i;
    return -1;
}

/* n digits at p. */
static int digits(const char *p, int n)
{
    for (int i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9') return 0;
    return 1;
}

/* The delivery day of a landing key, from its path and never from the time it arrived: the first
 * folder after the connector's prefix that is a dt=YYYY-MM-DD folder (our layout) or the start of
 * YYYY/MM/DD/ folders (Firehose's default S3 prefix, which follows the folders of the delivery
 * stream's own prefix: dynamodb/firehose/2024/11/05/14/<object>). 0 with *out, or -1 when the key
 * is not dated (or names no real day). */
static int key_day(const char *key, size_t skip, int64_t *out)
{
    size_t n = strlen(key);
    for (size_t i = skip <= n ? skip : n; i < n; i++) {
        if (i > 0 && key[i - 1] != '/') continue;
        const char *seg = key + i;
        char buf[11];
        if (strncmp(seg, "dt=", 3) == 0 && n - i >= 14 && seg[13] == '/') {
            memcpy(buf, seg + 3, 10);
        } else if (n - i >= 11 && digits(seg, 4) && seg[4] == '/' && digits(seg + 5, 2) &&
                   seg[7] == '/' && digits(seg + 8, 2) && seg[10] == '/') {
            snprintf(buf, sizeof buf, "%.4s-%.2s-%.2s", seg, seg + 5, seg + 8);
        } else {
            continue;
        }
        buf[10] = '\0';
        return mdp_date_parse(buf, out) ? -1 : 0;
    }
    return -1;
}

/* The raw dataset a connector lands key in: its own, or the first folder after its prefix. */
static void dataset_of(const struct mdp_connector *k, const char *key, char *out, size_t n)
{
    snprintf(out, n, "%s", k->dataset ? k->dataset : "unrouted");
    if (!k->dataset) {
        const char *seg = key + strlen(k->landing_prefix), *sl = strchr(seg, '/');
        if (sl && sl > seg && (size_t)(sl - seg) < n)
            snprintf(out, n, "%.*s", (int)(sl - seg), seg);
    }
}

int mdp_ingest_route(const char *landing_key, char *location, size_t n, int64_t *out_day)
{
    const struct mdp_connector *k = mdp_connector_for_key(landing_key);
    if (!k) return MDP_ERR_NOT_FOUND;
    char dataset[64];
    dataset_of(k, landing_key, dataset, sizeof dataset);
    snprintf(location, n, "raw/%s/%s", k->source, dataset);
    if (key_day(landing_key, strlen(k->landing_prefix), out_day) != 0) *out_day = -1;
    return 0;
}

static int deliver_unknown(struct run_state *S, const char *key, const struct mdp_buf *data,
                           int64_t day)
{
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "unknown", "unrouted", day);
    S->unknown.in++;
    S->unknown.quarantined++;
    S->unknown.files++;
    S->unknown.bytes += (int64_t)data->len;
    int rc = mdp_quarantine_add(&q, "unknown_source", key, "no connector handles this landing path",
                                data->data ? data->data : "", data->len);
    char hex[65];
    mdp_sha256_hex(data->data ? data->data : "", data->len, hex);
    hex[32] = '\0';
    if (!rc) rc = mdp_quarantine_flush(&q, S->ctx->lake, hex, S->d);
    mdp_quarantine_cleanup(&q);
    return rc;
}

/* ---- what the lake holds, read once per run ---- */

/* The compaction records' folder, as include/mdp/lake.h lays it out (vacuum writes them). */
#define COMPACTED_RECORDS "_meta/state/vacuum/compacted/"

/* The retention horizons' folder, as src/gov/retention.c writes it (<source>/<dataset>). */
#define EXPIRED_RECORDS "_meta/state/retention/expired/"

static int add_key_cb(const char *key, int64_t size, void *ud);

/* The newest day retention removed of source/dataset (-1: none), read once per run: one listing
 * tells which datasets have a horizon at all, and only those are read. */
static int expired_day(struct run_state *S, const char *source, const char *dataset, int64_t *out)
{
    for (int i = 0; i < S->nexpired; i++)
        if (!strcmp(S->expired[i].source, source) && !strcmp(S->expired[i].dataset, dataset)) {
            *out = S->expired[i].day;
            return 0;
        }
    int rc = 0;
    if (!S->horizons) {
        if (!(S->horizons = mdp_strset_new()))
            return mdp_diag_set(S->d, MDP_ERR_NOMEM, "out of memory");
        if ((rc = mdp_store_list(S->ctx->lake->store, EXPIRED_RECORDS, add_key_cb, S->horizons,
                                 S->d))) {
            mdp_strset_free(S->horizons);
            S->horizons = NULL;
            return rc == MDP_ERR_NOMEM ? mdp_diag_set(S->d, rc, "out of memory") : rc;
        }
    }
    char key[300];
    int kl = snprintf(key, sizeof key, EXPIRED_RECORDS "%s/%s", source, dataset);
    if (kl > 0 && (size_t)kl < sizeof key && !mdp_strset_has(S->horizons, key, (size_t)kl))
        *out = -1;
    else
        rc = mdp_retention_expired_day(S->ctx->lake, source, dataset, out, S->d);
    int n = S->nexpired;
    if (!rc && n < (int)(sizeof S->expired / sizeof S->expired[0]) && strlen(source) < 64 &&
        strlen(dataset) < 64) { /* else asked again next time: correct, only slower */
        snprintf(S->expired[n].source, 64, "%s", source);
        snprintf(S->expired[n].dataset, 64, "%s", dataset);
        S->expired[n].day = *out;
        S->nexpired++;
    }
    return rc;
}

static int add_key_cb(const char *key, int64_t size, void *ud)
{
    (void)size;
    int rc = mdp_strset_add(ud, key, strlen(key));
    return rc < 0 ? rc : 0;
}

/* Adds the folder part after COMPACTED_RECORDS ("source/dataset/dt=D/") of a record's key. */
static int add_record_dir_cb(const char *key, int64_t size, void *ud)
{
    (void)size;
    const char *rel = key + strlen(COMPACTED_RECORDS), *sl = strrchr(rel, '/');
    if (strncmp(key, COMPACTED_RECORDS, strlen(COMPACTED_RECORDS)) != 0 || !sl) return 0;
    int rc = mdp_strset_add(ud, rel, (size_t)(sl - rel) + 1);
    return rc < 0 ? rc : 0;
}

/* Whether the day folder of rawkey (its first flen bytes) is known not to exist, from one listing
 * of its dataset's folder per run: 1, 0 (it exists or nothing is known: list it), or an error. */
static int day_dir_absent(struct run_state *S, const char *rawkey, size_t flen)
{
    if (S->no_list_dirs) return 0;
    size_t dlen = flen - 1;
    while (dlen > 0 && rawkey[dlen - 1] != '/')
        dlen--;
    if (!dlen) return 0;
    int rc = 0;
    if (!S->ds_listed && !(S->ds_listed = mdp_strset_new())) rc = MDP_ERR_NOMEM;
    if (!rc && !S->day_dirs && !(S->day_dirs = mdp_strset_new())) rc = MDP_ERR_NOMEM;
    if (rc) return mdp_diag_set(S->d, rc, "out of memory");
    if (!mdp_strset_has(S->ds_listed, rawkey, dlen)) {
        char folder[1024];
        snprintf(folder, sizeof folder, "%.*s", (int)dlen, rawkey);
        struct mdp_diag ld = {0};
        rc = mdp_store_list_dirs(S->ctx->lake->store, folder, add_key_cb, S->day_dirs, &ld);
        if (rc == MDP_ERR_UNSUPPORTED) {
            S->no_list_dirs = 1;
            return 0;
        }
        if (rc == MDP_ERR_NOMEM) return mdp_diag_set(S->d, rc, "out of memory listing %s", folder);
        if (rc) {
            *S->d = ld;
            return rc;
        }
        if ((rc = mdp_strset_add(S->ds_listed, rawkey, dlen)) < 0)
            return mdp_diag_set(S->d, rc, "out of memory");
    }
    return !mdp_strset_has(S->day_dirs, rawkey, flen);
}

/* Whether the raw object rawkey (raw/source/dataset/dt=D/hash.ext) was taken before: 1 when it
 * exists (its day folder is listed once per run, unless its dataset's listing showed no such
 * folder) or was compacted away by vacuum (asked only when its folder has compaction records,
 * which are listed once per run), else 0; or an error. */
static int raw_taken(struct run_state *S, const char *rawkey)
{
    const char *sl = strrchr(rawkey, '/');
    size_t flen = (size_t)(sl - rawkey) + 1;
    int rc = 0;
    if (!S->raw_keys && !(S->raw_keys = mdp_strset_new())) rc = MDP_ERR_NOMEM;
    if (!rc && !S->raw_listed && !(S->raw_listed = mdp_strset_new())) rc = MDP_ERR_NOMEM;
    if (rc) return mdp_diag_set(S->d, rc, "out of memory");
    if (!mdp_strset_has(S->raw_listed, rawkey, flen)) {
        int absent = day_dir_absent(S, rawkey, flen);
        if (absent < 0) return absent;
        char folder[1024];
        snprintf(folder, sizeof folder, "%.*s", (int)flen, rawkey);
        /* an absent folder holds nothing but what this run puts there */
        if (!absent &&
            (rc = mdp_store_list(S->ctx->lake->store, folder, add_key_cb, S->raw_keys, S->d)))
            return rc == MDP_ERR_NOMEM ? mdp_diag_set(S->d, rc, "out of memory listing %s", folder)
                                       : rc;
        if ((rc = mdp_strset_add(S->raw_listed, rawkey, flen)) < 0)
            return mdp_diag_set(S->d, rc, "out of memory");
    }
    if (mdp_strset_has(S->raw_keys, rawkey, strlen(rawkey))) return 1;
    if (!S->compacted_loaded) {
        if (!(S->compacted_dirs = mdp_strset_new()))
            return mdp_diag_set(S->d, MDP_ERR_NOMEM, "out of memory");
        rc = mdp_store_list(S->ctx->lake->store, COMPACTED_RECORDS, add_record_dir_cb,
                            S->compacted_dirs, S->d);
        if (rc) return rc == MDP_ERR_NOMEM ? mdp_diag_set(S->d, rc, "out of memory") : rc;
        S->compacted_loaded = 1;
    }
    if (strncmp(rawkey, "raw/", 4) != 0 || !mdp_strset_has(S->compacted_dirs, rawkey + 4, flen - 4))
        return 0;
    return mdp_lake_raw_compacted(S->ctx->lake, rawkey, NULL, S->d);
}

/* ---- landing: a bounded pool of uploads for remote lakes ----
 * On S3 each put is a round trip, so a run that lands one delivery at a time waits on the network
 * for most of its time. A remote lake gets UP_THREADS workers (the AWS client is thread-safe and
 * keeps a handle per request) fed by a queue bounded in jobs and bytes; a file lake lands inline,
 * as before. Each job keeps the order that makes the raw object the commit point: its quarantine
 * batch first, then the raw object (conditional, content-addressed, atomic). The first failure
 * stops the run: no new job is taken, the queued ones still land (each is whole), and the error is
 * the run's. */
#define UP_THREADS   8
#define UP_MAX_JOBS  32
#define UP_MAX_BYTES ((size_t)64 << 20)

struct up_job {
    struct up_job *next;
    struct mdp_buf key, bytes;
    struct mdp_quarantine q;
    char batch[40];
};

struct uploader {
    pthread_mutex_t mu;
    pthread_cond_t more, room;
    struct up_job *head, *tail;
    size_t njobs, nbytes; /* queued and in flight */
    int closing, rc;
    struct mdp_diag d; /* the first failure */
    struct mdp_lake *lake;
    pthread_t th[UP_THREADS];
    int nth;
};

/* Lands one delivery: the quarantine batch, then the raw object. */
static int land(struct mdp_lake *lake, struct up_job *j, struct mdp_diag *d)
{
    int rc = mdp_quarantine_flush(&j->q, lake, j->batch, d);
    if (!rc)
        rc = mdp_store_put(lake->store, j->key.data, j->bytes.data ? j->bytes.data : "",
                           j->bytes.len, MDP_PUT_IF_ABSENT, d);
    return rc == MDP_ERR_EXISTS ? 0 : rc; /* the same bytes, landed by a concurrent run */
}

static void job_free(struct up_job *j)
{
    if (!j) return;
    mdp_buf_cleanup(&j->key);
    mdp_buf_cleanup(&j->bytes);
    mdp_quarantine_cleanup(&j->q);
    free(j);
}

static void *up_worker(void *arg)
{
    struct uploader *u = arg;
    pthread_mutex_lock(&u->mu);
    for (;;) {
        while (!u->head && !u->closing)
            pthread_cond_wait(&u->more, &u->mu);
        struct up_job *j = u->head;
        if (!j) break; /* closing and drained */
        u->head = j->next;
        if (!u->head) u->tail = NULL;
        pthread_mutex_unlock(&u->mu);
        struct mdp_diag d = {0};
        int rc = land(u->lake, j, &d);
        pthread_mutex_lock(&u->mu);
        if (rc && !u->rc) {
            u->rc = rc;
            u->d = d;
        }
        u->njobs--;
        u->nbytes -= j->bytes.len;
        pthread_cond_broadcast(&u->room);
        pthread_mutex_unlock(&u->mu);
        job_free(j);
        pthread_mutex_lock(&u->mu);
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

/* A pool for a remote lake, or NULL (a file lake, or no thread could start): land inline. */
static struct uploader *uploader_new(struct mdp_lake *lake)
{
    if (!strcmp(lake->store->ops->scheme, "file")) return NULL;
    struct uploader *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->more, NULL);
    pthread_cond_init(&u->room, NULL);
    u->lake = lake;
    while (u->nth < UP_THREADS && pthread_create(&u->th[u->nth], NULL, up_worker, u) == 0)
        u->nth++;
    if (u->nth) return u;
    pthread_cond_destroy(&u->more);
    pthread_cond_destroy(&u->room);
    pthread_mutex_destroy(&u->mu);
    free(u);
    return NULL;
}

/* Hands j (owned from here on) to the pool, waiting for room; lands it inline without a pool.
 * Returns 0, or the first failure of any job so far (with S->d). */
static int uploader_submit(struct run_state *S, struct up_job *j)
{
    struct uploader *u = S->up;
    if (!u) {
        int rc = land(S->ctx->lake, j, S->d);
        job_free(j);
        return rc;
    }
    pthread_mutex_lock(&u->mu);
    while (!u->rc && u->njobs > 0 &&
           (u->njobs >= UP_MAX_JOBS || u->nbytes + j->bytes.len > UP_MAX_BYTES))
        pthread_cond_wait(&u->room, &u->mu);
    int rc = u->rc;
    if (!rc) {
        u->njobs++;
        u->nbytes += j->bytes.len;
        if (u->tail)
            u->tail->next = j;
        else
            u->head = j;
        u->tail = j;
        pthread_cond_signal(&u->more);
    } else {
        *S->d = u->d;
    }
    pthread_mutex_unlock(&u->mu);
    if (rc) job_free(j);
    return rc;
}

/* Waits for every queued job and frees the pool (NULL is fine). Returns the first failure (its
 * message into d) or 0. */
static int uploader_finish(struct uploader *u, struct mdp_diag *d)
{
    if (!u) return 0;
    pthread_mutex_lock(&u->mu);
    u->closing = 1;
    pthread_cond_broadcast(&u->more);
    pthread_mutex_unlock(&u->mu);
    for (int i = 0; i < u->nth; i++)
        pthread_join(u->th[i], NULL);
    int rc = u->rc;
    if (rc && d) *d = u->d;
    pthread_cond_destroy(&u->more);
    pthread_cond_destroy(&u->room);
    pthread_mutex_destroy(&u->mu);
    free(u);
    return rc;
}

static int ingest_file(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct run_state *S = ud;
    const struct mdp_connector *k = mdp_connector_for_key(key);
    if (k && S->only && strcmp(k->name, S->only) != 0) return 0;
    if (k && !S->only && !mdp_strlist_has(&S->ctx->cfg->ingest_sources, k->name)) return 0;
    if (!k && S->only) return 0;
    int64_t day = -1;
    if (key_day(key, k ? strlen(k->landing_prefix) : 0, &day) != 0) day = -1;
    if (S->ctx->day >= 0 && day != S->ctx->day) return 0;
    int64_t t0 = mdp_time_now_ms();
    struct mdp_buf data, rawkey, kept, fixed, plain;
    mdp_buf_init(&data);
    mdp_buf_init(&rawkey);
    mdp_buf_init(&kept);
    mdp_buf_init(&fixed);
    mdp_buf_init(&plain);
    int rc = mdp_store_get(S->landing, key, &data, S->d);
    if (rc) goto out;
    if (day < 0) day = mdp_days_from_ms(t0); /* undated deliveries land on the day they arrive */
    if (!k) {
        rc = deliver_unknown(S, key, &data, day);
        goto out;
    }
    int ci = index_of(k);
    struct mdp_ingest_counts *c = &S->per[ci];
    c->files++;
    c->bytes += (int64_t)data.len;
    char dataset[64];
    dataset_of(k, key, dataset, sizeof dataset);
    /* a delivery of a day retention removed stays out: the landing folder still holds it */
    int64_t expired = -1;
    if ((rc = expired_day(S, k->source, dataset, &expired))) goto out;
    if (day <= expired) {
        c->files_seen++;
        goto out;
    }
    /* The raw object is the commit point: check, write the quarantine batch, then land the bytes.
     * A crash before the raw put leaves the delivery untaken, and the re-run rewrites the same
     * quarantine object (named by the delivery's hash): nothing lost, nothing twice. */
    const char *bytes = data.data ? data.data : "";
    size_t blen = data.len;
    /* A gzip'd delivery (Firehose with GZIP compression; recognised by its magic bytes, whatever
     * its name) is taken inflated: its records are checked, and raw holds its text, which DuckDB
     * reads as the dataset's format. A damaged stream gives what inflated before the damage; the
     * delivery as it came goes to the quarantine (gzip_corrupt), so nothing is lost. One from
     * which nothing inflates lands as it came, like any delivery that is no UTF-8 (the same empty
     * text for two such deliveries would name one raw object, and the second would be taken as
     * taken before). */
    int gz_bad = 0, inflated = 0;
    if (mdp_gzip_magic(bytes, blen)) {
        if ((rc = mdp_buf_gunzip(&plain, bytes, blen)) == MDP_ERR_NOMEM) {
            mdp_diag_set(S->d, rc, "%s: out of memory inflating", key);
            goto out;
        }
        gz_bad = rc != 0;
        rc = 0;
        if ((inflated = plain.len || !gz_bad)) { /* else nothing inflated: as it came (below) */
            bytes = plain.data ? plain.data : "";
            blen = plain.len;
        }
    }
    /* records of erased subjects never reach raw or quarantine */
    int64_t suppressed = 0;
    if (S->sup && (rc = mdp_ingest_suppress(S->sup, bytes, blen, &kept, &suppressed, S->d)))
        goto out;
    if (suppressed) {
        bytes = kept.data ? kept.data : "";
        blen = kept.len;
        size_t sp = 0;
        while (sp < blen && strchr(" \t\r\n", bytes[sp]))
            sp++;
        if (sp == blen) { /* nothing but the erased subject's records: nothing to land */
            c->suppressed += suppressed;
            goto out;
        }
    }
    /* DuckDB reads raw as UTF-8 and refuses a whole object over one bad byte (an SQS body cut in
     * transit inside a character), which would stop curate: such a delivery lands repaired, each
     * offending byte replaced by U+FFFD, and its delivered bytes go to the quarantine beside the
     * verdicts on its records, so nothing is lost. The same delivery repairs to the same bytes,
     * hence the same raw key: a re-run takes it as before. */
    const char *orig = bytes;
    size_t orig_len = blen, bad_at = 0;
    int64_t bad = mdp_utf8_repair(bytes, blen, &fixed, &bad_at);
    if (bad < 0) {
        rc = mdp_diag_set(S->d, MDP_ERR_NOMEM, "%s: out of memory repairing its UTF-8", key);
        goto out;
    }
    if (bad) {
        bytes = fixed.data;
        blen = fixed.len;
    }
    rc = mdp_lake_raw_key(k->source, dataset, day, bytes, blen, k->ext, &rawkey, S->d);
    if (rc) goto out;
    if ((rc = raw_taken(S, rawkey.data)) < 0) goto out;
    if (rc == 1) { /* taken before: same bytes, nothing new */
        rc = 0;
        c->files_seen++;
        goto out;
    }
    c->suppressed += suppressed;
    c->gzipped += plain.data != NULL;
    c->gzip_damaged += gz_bad;
    struct up_job *j = calloc(1, sizeof *j);
    if (!j) {
        rc = mdp_diag_set(S->d, MDP_ERR_NOMEM, "%s: out of memory", key);
        goto out;
    }
    mdp_quarantine_init(&j->q, k->source, dataset, day);
    struct mdp_check ck = {.key = key,
                           .c = c,
                           .q = &j->q,
                           .cfg = S->ctx->cfg,
                           .state = S->hook[ci].state,
                           .lake = S->ctx->lake};
    if ((rc = mdp_dedup_window_enter(&S->win[ci], day, &ck))) {
        mdp_diag_set(S->d, rc, "%s: %s preparing the duplicate check", key, mdp_strerror(rc));
        job_free(j);
        goto out;
    }
    if (gz_bad && (rc = mdp_check_bad(&ck, "gzip_corrupt", key,
                                      "the gzip stream is truncated or corrupt; its records up to "
                                      "the damage are read, the delivery as it came is here",
                                      data.data ? data.data : "", data.len))) {
        mdp_diag_set(S->d, rc, "%s: %s quarantining it", key, mdp_strerror(rc));
        job_free(j);
        goto out;
    }
    if (bad) {
        char where[600], why[200];
        snprintf(where, sizeof where, "%s@%zu", key, bad_at);
        snprintf(why, sizeof why,
                 "%lld byte(s) not well-formed UTF-8 (the first at byte %zu) replaced by U+FFFD "
                 "in raw; the payload is the delivery as it came",
                 (long long)bad, bad_at);
        if ((rc = mdp_quarantine_add(&j->q, "invalid_utf8", where, why, orig, orig_len))) {
            mdp_diag_set(S->d, rc, "%s: out of memory", key);
            job_free(j);
            goto out;
        }
        c->repaired++;
        mdp_log(MDP_LOG_WARN, "delivery not UTF-8: landed repaired, kept in quarantine",
                LOG_STR("key", key), LOG_INT("bytes_replaced", bad),
                LOG_INT("first_at", (int64_t)bad_at), MDP_LF_END);
    }
    rc = k->check(&ck, bytes, blen);
    if (rc) {
        S->busy_ms[ci] += mdp_time_now_ms() - t0;
        mdp_diag_set(S->d, rc, "%s: %s while checking", key, mdp_strerror(rc));
        job_free(j);
        goto out;
    }
    /* a later delivery of the same bytes in this run is taken before */
    if ((rc = mdp_strset_add(S->raw_keys, rawkey.data, rawkey.len)) < 0) {
        mdp_diag_set(S->d, rc, "out of memory");
        job_free(j);
        goto out;
    }
    snprintf(j->batch, sizeof j->batch, "%.32s", strrchr(rawkey.data, '/') + 1);
    j->key = rawkey; /* moved into the job */
    mdp_buf_init(&rawkey);
    struct mdp_buf *landed = bad ? &fixed : suppressed ? &kept : inflated ? &plain : &data;
    j->bytes = *landed; /* moved into the job */
    mdp_buf_init(landed);
    rc = uploader_submit(S, j);
    S->busy_ms[ci] += mdp_time_now_ms() - t0;
out:
    mdp_buf_cleanup(&data);
    mdp_buf_cleanup(&rawkey);
    mdp_buf_cleanup(&kept);
    mdp_buf_cleanup(&fixed);
    mdp_buf_cleanup(&plain);
    return rc;
}

static void record_run(struct run_state *S, const char *name, const struct mdp_ingest_counts *c,
                       int64_t busy, const struct mdp_connector *k, int failed, const char *why,
                       int *lrc)
{
    struct mdp_run sub;
    char job[64];
    snprintf(job, sizeof job, "ingest.%s", name);
    mdp_run_begin(&sub, job);
    sub.start_ms -= busy; /* the record spans the connector's busy time */
    sub.in = c->in;
    sub.out = c->out;
    sub.quarantined = c->quarantined;
    sub.duplicates = c->duplicates;
    sub.suppressed = c->suppressed;
    sub.bytes = c->bytes;
    sub.newest_event_ms = c->newest_event_ms;
    int n = snprintf(sub.message, sizeof sub.message, "%lld deliveries, %lld taken before",
                     (long long)c->files, (long long)c->files_seen);
    for (int i = 0; k && i < 4 && k->extra_names[i] && n > 0 && (size_t)n < sizeof sub.message; i++)
        n += snprintf(sub.message + n, sizeof sub.message - (size_t)n, ", %lld %s",
                      (long long)c->extra[i], k->extra_names[i]);
    if (c->non_v7_ids && n > 0 && (size_t)n < sizeof sub.message)
        n += snprintf(sub.message + n, sizeof sub.message - (size_t)n, ", %lld ids not UUIDv7",
                      (long long)c->non_v7_ids);
    if (c->suppressed && n > 0 && (size_t)n < sizeof sub.message)
        n += snprintf(sub.message + n, sizeof sub.message - (size_t)n,
                      ", %lld suppressed (erased subjects)", (long long)c->suppressed);
    if (c->repaired && n > 0 && (size_t)n < sizeof sub.message)
        n += snprintf(sub.message + n, sizeof sub.message - (size_t)n,
                      ", %lld landed with invalid UTF-8 replaced (originals in quarantine)",
                      (long long)c->repaired);
    if (c->gzipped && n > 0 && (size_t)n < sizeof sub.message)
        n += snprintf(sub.message + n, sizeof sub.message - (size_t)n,
                      ", %lld gzip'd taken inflated (%lld damaged, originals in quarantine)",
                      (long long)c->gzipped, (long long)c->gzip_damaged);
    if (why && n > 0 && (size_t)n < sizeof sub.message)
        snprintf(sub.message + n, sizeof sub.message - (size_t)n, "; %s", why);
    struct mdp_diag ld = {0};
    int rc = mdp_run_end(S->ctx->lake, &sub, failed ? "failed" : "ok", &ld);
    if (rc && !*lrc) *lrc = mdp_diag_set(S->d, rc, "run log: %s", ld.msg);
    if (S->ctx->on_run) S->ctx->on_run(&sub, S->ctx->ud);
}

int mdp_ingest_run(struct mdp_stage_ctx *ctx, const char *only, struct mdp_run *run,
                   struct mdp_diag *d)
{
    struct run_state *S = calloc(1, sizeof *S);
    if (!S) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    S->ctx = ctx;
    S->only = only;
    S->d = d;
    for (int i = 0; i < MAXC; i++)
        S->per[i].newest_event_ms = -1;
    int rc = 0;
    /* each connector that runs gets its init hook before anything is read */
    for (int i = 0; CONNECTORS[i] && !rc; i++) {
        const struct mdp_connector *k = CONNECTORS[i];
        if (only ? strcmp(k->name, only) != 0
                 : !mdp_strlist_has(&ctx->cfg->ingest_sources, k->name))
            continue;
        S->hook[i] = (struct mdp_connector_run){ctx->cfg, ctx->lake, ctx->ingest_flags, NULL};
        if (k->init && (rc = k->init(&S->hook[i], d))) break;
        S->started[i] = 1;
    }
    if (!rc) { /* the suppression list: erased subjects' records stay out */
        struct mdp_state *st = NULL;
        rc = mdp_state_open_lake(ctx->lake, &st, d);
        if (rc == MDP_ERR_UNSUPPORTED)
            rc = 0; /* a lake without local paths has no embedded state store */
        else if (!rc)
            rc = mdp_suppress_load(st, &S->sup, d);
        mdp_state_close(st);
    }
    char *dir = rc ? NULL : mdp_config_landing_dir(ctx->cfg);
    if (!rc && !dir) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    int orc = rc ? rc : mdp_store_open(dir, 0, &S->landing, d);
    if (!rc && orc == MDP_ERR_NOT_FOUND) {
        /* nothing delivered yet is not an error: nothing to ingest */
        mdp_log(MDP_LOG_WARN, "landing folder does not exist; nothing to ingest",
                LOG_STR("dir", dir), MDP_LF_END);
    } else if (!rc && (rc = orc) == 0) {
        S->up = uploader_new(ctx->lake);
        rc = mdp_store_list(S->landing, "", ingest_file, S, d);
        struct mdp_diag ud = {0};
        int urc = uploader_finish(S->up, &ud); /* what was queued lands, even after a failure */
        if (urc && !rc) rc = mdp_diag_set(d, urc, "%s", ud.msg);
        mdp_store_close(S->landing);
    }
    int lrc = 0, over = 0;
    char why[300] = "";
    for (int i = 0; CONNECTORS[i]; i++) {
        struct mdp_ingest_counts *c = &S->per[i];
        run->in += c->in;
        run->out += c->out;
        run->quarantined += c->quarantined;
        run->duplicates += c->duplicates;
        run->suppressed += c->suppressed;
        run->bytes += c->bytes;
        if (c->newest_event_ms > run->newest_event_ms) run->newest_event_ms = c->newest_event_ms;
        if (!c->files) continue;
        double share = c->in ? (double)c->quarantined / (double)c->in : 0;
        int failed = rc != 0 || share > ctx->cfg->ingest_max_quarantine_share;
        char reason[200] = "";
        if (!rc && failed) {
            snprintf(reason, sizeof reason,
                     "%.1f%% of records quarantined, above the %.1f%% allowed", 100 * share,
                     100 * ctx->cfg->ingest_max_quarantine_share);
            if (!over++) snprintf(why, sizeof why, "%s: %s", CONNECTORS[i]->name, reason);
        }
        record_run(S, CONNECTORS[i]->name, c, S->busy_ms[i], CONNECTORS[i], failed,
                   reason[0] ? reason : NULL, &lrc);
    }
    if (S->unknown.files) {
        run->in += S->unknown.in;
        run->quarantined += S->unknown.quarantined;
        record_run(S, "unknown", &S->unknown, 0, NULL, rc != 0, "deliveries no connector handles",
                   &lrc);
    }
    if (!rc && over)
        rc = mdp_diag_set(d, MDP_ERR_STAGE,
                          "%s (ingest.max_quarantine_share; the records are "
                          "landed and quarantined)",
                          why);
    if (!rc) rc = lrc;
    for (int i = 0; i < MAXC; i++) {
        mdp_dedup_window_cleanup(&S->win[i]);
        if (S->started[i] && CONNECTORS[i]->exit) CONNECTORS[i]->exit(&S->hook[i]);
    }
    mdp_suppress_set_free(S->sup);
    mdp_strset_free(S->horizons);
    mdp_strset_free(S->raw_keys);
    mdp_strset_free(S->raw_listed);
    mdp_strset_free(S->compacted_dirs);
    mdp_strset_free(S->ds_listed);
    mdp_strset_free(S->day_dirs);
    free(dir);
    free(S);
    return rc;
}

int mdp_stage_ingest(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d)
{
    return mdp_ingest_run(ctx, NULL, run, d);
}
