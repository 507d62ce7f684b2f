/* Atomic publication of table states through versioned manifests (include/mdp/lake.h).
 * A state is a JSON manifest listing data files with sizes, row counts and SHA-256. Publishing
 * writes manifest v<N+1> with put-if-absent (two writers cannot both win a version), then replaces
 * the CURRENT pointer in one atomic put. A crash before the switch leaves the previous state; a
 * manifest that never became CURRENT is ignored and its version skipped by the next publisher. A
 * job that lost the lake's lease publishes nothing (mdp_lease_fence). */
#include "mdp/alloc.h"
#include "mdp/lake.h"
#include "mdp/lease.h"
#include "mdp/time.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int table_ok(const char *t)
{
    if (!mdp_store_key_valid(t)) return 0;
    return strncmp(t, "curated/", 8) == 0 || strncmp(t, "ml/", 3) == 0 ||
           strncmp(t, "serving/", 8) == 0 || strncmp(t, "_meta/tables/", 13) == 0 ||
           strncmp(t, "test/", 5) == 0;
}

void mdp_manifest_cleanup(struct mdp_manifest *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nfiles; i++)
        free(m->files[i].key);
    free(m->files);
    free(m->table);
    free(m->run_id);
    memset(m, 0, sizeof *m);
}

static int parse_manifest(const char *text, size_t len, struct mdp_manifest *m, const char *key,
                          struct mdp_diag *d)
{
    memset(m, 0, sizeof *m);
    json_tokener *tok = json_tokener_new();
    if (!tok) return MDP_ERR_NOMEM;
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    json_tokener_free(tok);
    json_object *v, *files;
    int rc = 0;
    if (!root || !json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "files", &files) ||
        !json_object_is_type(files, json_type_array)) {
        rc = mdp_diag_set(d, MDP_ERR_PARSE, "%s: not a valid manifest", key);
        goto out;
    }
    static const char *const TEXTS[] = {"table", "run_id"};
    for (int t = 0; t < 2 && !rc; t++) {
        if (!json_object_object_get_ex(root, TEXTS[t], &v)) continue;
        if (!json_object_is_type(v, json_type_string)) {
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "%s: '%s' is not a string", key, TEXTS[t]);
            goto out;
        }
        char **dst = t ? &m->run_id : &m->table;
        if (!(*dst = mdp_strdup(json_object_get_string(v)))) rc = MDP_ERR_NOMEM;
    }
    if (json_object_object_get_ex(root, "version", &v)) m->version = json_object_get_int64(v);
    if (json_object_object_get_ex(root, "published_ms", &v))
        m->published_ms = json_object_get_int64(v);
    size_t n = json_object_array_length(files);
    m->files = rc ? NULL : mdp_calloc(n ? n : 1, sizeof *m->files);
    if (!m->files) {
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "%s: out of memory reading the manifest", key);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(files, i);
        struct mdp_manifest_file *mf = &m->files[m->nfiles];
        if (!json_object_object_get_ex(f, "key", &v) || !json_object_is_type(v, json_type_string)) {
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "%s: file entry %zu has no key", key, i);
            goto out;
        }
        if (!mdp_store_key_valid(json_object_get_string(v))) { /* no path out of the lake */
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "%s: file entry %zu has an invalid key", key, i);
            goto out;
        }
        if (!(mf->key = mdp_strdup(json_object_get_string(v)))) {
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "%s: out of memory reading the manifest", key);
            goto out;
        }
        m->nfiles++;
        mf->bytes = json_object_object_get_ex(f, "bytes", &v) ? json_object_get_int64(v) : -1;
        mf->rows = json_object_object_get_ex(f, "rows", &v) ? json_object_get_int64(v) : -1;
        if (json_object_object_get_ex(f, "sha256", &v) && json_object_is_type(v, json_type_string))
            snprintf(mf->sha256, sizeof mf->sha256, "%s", json_object_get_string(v));
    }
out:
    json_object_put(root);
    if (rc) mdp_manifest_cleanup(m);
    return rc;
}

static int read_current(struct mdp_lake *lake, const char *table, int64_t *out_version,
                        struct mdp_diag *d)
{
    struct mdp_buf key, val;
    mdp_buf_init(&key);
    mdp_buf_init(&val);
    int rc = mdp_buf_printf(&key, "_meta/manifests/%s/CURRENT", table);
    if (rc) mdp_diag_set(d, rc, "out of memory reading the manifests");
    if (!rc) rc = mdp_store_get(lake->store, key.data, &val, d);
    if (!rc) {
        char *end;
        long long v = val.data && val.data[0] == 'v' ? strtoll(val.data + 1, &end, 10) : -1;
        if (v <= 0 || (*end != '\n' && *end != '\0'))
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "%s: corrupt pointer", key.data);
        else
            *out_version = v;
    }
    mdp_buf_cleanup(&key);
    mdp_buf_cleanup(&val);
    return rc;
}

int mdp_lake_current(struct mdp_lake *lake, const char *table, struct mdp_manifest *out,
                     struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    int64_t v = 0;
    int rc = read_current(lake, table, &v, d);
    if (rc == MDP_ERR_NOT_FOUND)
        return mdp_diag_set(d, rc, "table %s has never been published", table);
    if (rc) return rc;
    struct mdp_buf key, val;
    mdp_buf_init(&key);
    mdp_buf_init(&val);
    rc = mdp_buf_printf(&key, "_meta/manifests/%s/v%010lld.json", table, (long long)v);
    if (rc) mdp_diag_set(d, rc, "out of memory reading the manifests");
    if (!rc) rc = mdp_store_get(lake->store, key.data, &val, d);
    if (!rc) rc = parse_manifest(val.data, val.len, out, key.data, d);
    mdp_buf_cleanup(&key);
    mdp_buf_cleanup(&val);
    return rc;
}

/* Highest manifest version present (published or not), so a new one never reuses a number. */
struct maxv {
    int64_t max;
};

static int max_cb(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct maxv *mv = ud;
    const char *b = strrchr(key, '/');
    b = b ? b + 1 : key;
    if (b[0] == 'v') {
        long long v = strtoll(b + 1, NULL, 10);
        if (v > mv->max) mv->max = v;
    }
    return 0;
}

int mdp_lake_publish(struct mdp_lake *lake, const char *table,
                     const struct mdp_manifest_file *files, size_t nfiles, const char *run_id,
                     int64_t *out_version, struct mdp_diag *d)
{
    if (!table_ok(table))
        return mdp_diag_set(d, MDP_ERR_INVALID,
                            "publish: '%s' is not a curated/, ml/ or serving/ table", table);
    for (size_t i = 0; i < nfiles; i++) {
        int64_t size;
        int rc = mdp_store_head(lake->store, files[i].key, &size, d);
        if (rc)
            return mdp_diag_set(d, rc, "publish %s: data file %s is missing", table, files[i].key);
        if (files[i].bytes >= 0 && size != files[i].bytes)
            return mdp_diag_set(d, MDP_ERR_IO, "publish %s: %s has %lld bytes, expected %lld",
                                table, files[i].key, (long long)size, (long long)files[i].bytes);
    }
    /* a job that lost the lake's lease (another writer runs now) must not publish */
    int rc = mdp_lease_fence(lake, d);
    if (rc) return rc;
    struct mdp_buf prefix, key, body;
    mdp_buf_init(&prefix);
    mdp_buf_init(&key);
    mdp_buf_init(&body);
    struct maxv mv = {0};
    rc = mdp_buf_printf(&prefix, "_meta/manifests/%s/v", table);
    if (rc) mdp_diag_set(d, rc, "out of memory publishing %s", table);
    if (!rc) rc = mdp_store_list(lake->store, prefix.data, max_cb, &mv, d);
    int64_t version = mv.max;
    for (int attempt = 0; !rc && attempt < 100; attempt++) {
        version++;
        mdp_buf_reset(&body);
        rc = mdp_buf_printf(&body, "{\"table\":");
        mdp_buf_json_str(&body, table);
        mdp_buf_printf(&body, ",\"version\":%lld,\"run_id\":", (long long)version);
        mdp_buf_json_str(&body, run_id ? run_id : "");
        mdp_buf_printf(&body, ",\"published_ms\":%lld,\"files\":[", (long long)mdp_time_now_ms());
        for (size_t i = 0; i < nfiles; i++) {
            mdp_buf_puts(&body, i ? ",{\"key\":" : "{\"key\":");
            mdp_buf_json_str(&body, files[i].key);
            mdp_buf_printf(&body, ",\"bytes\":%lld,\"rows\":%lld,\"sha256\":\"%s\"}",
                           (long long)files[i].bytes, (long long)files[i].rows, files[i].sha256);
        }
        mdp_buf_puts(&body, "]}\n");
        mdp_buf_reset(&key);
        mdp_buf_printf(&key, "_meta/manifests/%s/v%010lld.json", table, (long long)version);
        if ((rc = mdp_buf_error(&body)) || (rc = mdp_buf_error(&key))) {
            mdp_diag_set(d, rc, "out of memory building the manifest of %s", table);
            break;
        }
        rc = mdp_store_put(lake->store, key.data, body.data, body.len, MDP_PUT_IF_ABSENT, d);
        if (rc == MDP_ERR_EXISTS) {
            rc = 0; /* a concurrent publisher took this version: take the next */
            continue;
        }
        if (rc) break;
        mdp_buf_reset(&key);
        mdp_buf_printf(&key, "_meta/manifests/%s/CURRENT", table);
        char ptr[32];
        int n = snprintf(ptr, sizeof ptr, "v%010lld\n", (long long)version);
        if ((rc = mdp_buf_error(&key))) {
            mdp_diag_set(d, rc, "out of memory publishing %s", table);
            break;
        }
        rc = mdp_store_put(lake->store, key.data, ptr, (size_t)n, 0, d);
        if (!rc && out_version) *out_version = version;
        break;
    }
    mdp_buf_cleanup(&prefix);
    mdp_buf_cleanup(&key);
    mdp_buf_cleanup(&body);
    return rc;
}

struct tables_ud {
    int (*cb)(const char *table, void *ud);
    void *ud;
};

static int table_of_key(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct tables_ud *t = ud;
    /* _meta/manifests/<table>/CURRENT */
    size_t kl = strlen(key), pre = strlen("_meta/manifests/");
    if (kl <= pre + 8 || strcmp(key + kl - 8, "/CURRENT") != 0) return 0;
    char table[512];
    snprintf(table, sizeof table, "%.*s", (int)(kl - pre - 8), key + pre);
    return t->cb(table, t->ud);
}

int mdp_lake_tables(struct mdp_lake *lake, const char *prefix,
                    int (*cb)(const char *table, void *ud), void *ud, struct mdp_diag *d)
{
    struct mdp_buf p;
    mdp_buf_init(&p);
    int rc = mdp_buf_printf(&p, "_meta/manifests/%s", prefix ? prefix : "");
    if (rc) mdp_diag_set(d, rc, "out of memory reading the manifests");
    struct tables_ud t = {cb, ud};
    if (!rc) rc = mdp_store_list(lake->store, p.data, table_of_key, &t, d);
    mdp_buf_cleanup(&p);
    return rc;
}
