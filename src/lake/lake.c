/* Lake layout, the raw writer and the quarantine writer (include/mdp/lake.h). */
#include "mdp/lake.h"
#include "mdp/alloc.h"
#include "mdp/hash.h"
#include "mdp/time.h"

#include <json-c/json.h>
#include <stdio.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define LAKE_MARKER "_meta/lake.json"

int mdp_lake_open(const char *location, int create, struct mdp_lake **out, struct mdp_diag *d)
{
    *out = NULL;
    struct mdp_store *st = NULL;
    int rc = mdp_store_open(location, create, &st, d);
    if (rc) return rc;
    int64_t size;
    rc = mdp_store_head(st, LAKE_MARKER, &size, NULL);
    if (rc == MDP_ERR_NOT_FOUND && create) {
        const char *marker = "{\"format\":\"matbakh-dp lake\",\"version\":1}\n";
        rc = mdp_store_put(st, LAKE_MARKER, marker, strlen(marker), MDP_PUT_IF_ABSENT, d);
        if (rc == MDP_ERR_EXISTS) rc = 0; /* another process created it first */
    } else if (rc == MDP_ERR_NOT_FOUND) {
        rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND, "%s: not a lake (no %s; run `mdp init`)", location,
                          LAKE_MARKER);
    } else if (rc) {
        mdp_diag_set(d, rc, "%s: cannot read %s: %s", location, LAKE_MARKER, mdp_strerror(rc));
    }
    if (rc) {
        mdp_store_close(st);
        return rc;
    }
    struct mdp_lake *l = mdp_calloc(1, sizeof *l);
    if (!l || !(l->location = mdp_strdup(location))) {
        free(l);
        mdp_store_close(st);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    l->store = st;
    *out = l;
    return 0;
}

void mdp_lake_close(struct mdp_lake *lake)
{
    if (!lake) return;
    mdp_store_close(lake->store);
    free(lake->location);
    free(lake);
}

static int name_ok(const char *s)
{
    if (!s || !*s) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

int mdp_lake_raw_key_hex(const char *source, const char *dataset, int64_t day, const char *hex,
                         const char *ext, struct mdp_buf *out_key, struct mdp_diag *d)
{
    if (!name_ok(source) || !name_ok(dataset) || (ext && !name_ok(ext)))
        return mdp_diag_set(d, MDP_ERR_INVALID, "raw: bad source/dataset/ext name");
    char date[11];
    int rc = mdp_date_format(day, date, sizeof date);
    if (rc) return mdp_diag_set(d, rc, "raw: day out of range");
    mdp_buf_reset(out_key);
    rc = mdp_buf_printf(out_key, "raw/%s/%s/dt=%s/%.32s%s%s", source, dataset, date, hex,
                        ext ? "." : "", ext ? ext : "");
    return rc ? mdp_diag_set(d, rc, "raw: out of memory building the key") : 0;
}

int mdp_lake_raw_key(const char *source, const char *dataset, int64_t day, const void *data,
                     size_t len, const char *ext, struct mdp_buf *out_key, struct mdp_diag *d)
{
    char hex[65];
    int rc = mdp_sha256_hex(data, len, hex);
    if (rc) return mdp_diag_set(d, rc, "raw: cannot hash");
    return mdp_lake_raw_key_hex(source, dataset, day, hex, ext, out_key, d);
}

int mdp_lake_raw_put(struct mdp_lake *lake, const char *source, const char *dataset, int64_t day,
                     const void *data, size_t len, const char *ext, struct mdp_buf *out_key,
                     int *out_existed, struct mdp_diag *d)
{
    struct mdp_buf key;
    mdp_buf_init(&key);
    int rc = mdp_lake_raw_key(source, dataset, day, data, len, ext, &key, d);
    if (!rc) {
        rc = mdp_store_put(lake->store, key.data, data, len, MDP_PUT_IF_ABSENT, d);
        if (out_existed) *out_existed = rc == MDP_ERR_EXISTS;
        if (rc == MDP_ERR_EXISTS) rc = 0;
    }
    if (!rc && out_key) {
        mdp_buf_reset(out_key);
        rc = mdp_buf_append(out_key, key.data, key.len);
    }
    mdp_buf_cleanup(&key);
    return rc;
}

void mdp_quarantine_init(struct mdp_quarantine *q, const char *source, const char *dataset,
                         int64_t day)
{
    q->source = mdp_strdup(source); /* NULL when out of memory: mdp_quarantine_flush says so */
    q->dataset = mdp_strdup(dataset);
    q->day = day;
    q->count = 0;
    mdp_buf_init(&q->lines);
    /* out of memory for the names: sticks on the lines, so every add and the flush report it */
    if (!q->source || !q->dataset) mdp_buf_reserve(&q->lines, SIZE_MAX);
}

int mdp_quarantine_add(struct mdp_quarantine *q, const char *reason, const char *location,
                       const char *detail, const void *payload, size_t len)
{
    struct mdp_buf *b = &q->lines;
    int rc = mdp_buf_puts(b, "{\"reason\":");
    if (!rc) rc = mdp_buf_json_str(b, reason);
    if (!rc) rc = mdp_buf_puts(b, ",\"location\":");
    if (!rc) rc = mdp_buf_json_str(b, location);
    if (!rc && detail) {
        rc = mdp_buf_puts(b, ",\"detail\":");
        if (!rc) rc = mdp_buf_json_str(b, detail);
    }
    if (!rc) {
        if (mdp_utf8_valid(payload, len)) {
            rc = mdp_buf_puts(b, ",\"payload\":");
            if (!rc) rc = mdp_buf_json_strn(b, payload, len);
        } else {
            size_t need = 4 * ((len + 2) / 3) + 1;
            unsigned char *enc = mdp_malloc(need);
            if (!enc) /* the error sticks on the lines too, so flush refuses a batch without it */
                return mdp_buf_reserve(b, SIZE_MAX);
            int n = EVP_EncodeBlock(enc, payload, (int)len);
            rc = mdp_buf_puts(b, ",\"payload_encoding\":\"base64\",\"payload\":");
            if (!rc) rc = mdp_buf_json_strn(b, (const char *)enc, (size_t)n);
            free(enc);
        }
    }
    if (!rc) rc = mdp_buf_puts(b, "}\n");
    if (!rc) q->count++;
    return rc;
}

int mdp_quarantine_flush(struct mdp_quarantine *q, struct mdp_lake *lake, const char *batch_id,
                         struct mdp_diag *d)
{
    /* a record that ran out of memory would be missing or cut off: write nothing rather (checked
     * before the count: the first record may be the one that failed) */
    if (mdp_buf_error(&q->lines) || !q->source || !q->dataset)
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory recording the quarantined records");
    if (q->count == 0) return 0;
    char date[11];
    if (mdp_date_format(q->day, date, sizeof date))
        return mdp_diag_set(d, MDP_ERR_RANGE, "quarantine: day out of range");
    struct mdp_buf key;
    mdp_buf_init(&key);
    int rc = mdp_buf_printf(&key, "raw/_quarantine/%s/%s/dt=%s/%s.ndjson", q->source, q->dataset,
                            date, batch_id);
    if (rc) mdp_diag_set(d, rc, "out of memory recording the quarantined records");
    if (!rc) rc = mdp_store_put(lake->store, key.data, q->lines.data, q->lines.len, 0, d);
    mdp_buf_cleanup(&key);
    return rc;
}

void mdp_quarantine_cleanup(struct mdp_quarantine *q)
{
    if (!q) return;
    free(q->source);
    free(q->dataset);
    q->source = q->dataset = NULL;
    mdp_buf_cleanup(&q->lines);
}
