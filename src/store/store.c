/* Object store front end (include/mdp/store.h): key validation and dispatch to the backend's table
 * of operations, so callers never depend on which backend holds the lake. */
#include "mdp/store.h"
#include "mdp/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Process-wide request counts (the cost model): relaxed atomics, the totals need no ordering. */
static int64_t n_put, n_get, n_list;
#define COUNT(v, k) __atomic_fetch_add(&(v), (k), __ATOMIC_RELAXED)

void mdp_store_requests_total(struct mdp_store_requests *out)
{
    out->put = __atomic_load_n(&n_put, __ATOMIC_RELAXED);
    out->get = __atomic_load_n(&n_get, __ATOMIC_RELAXED);
    out->list = __atomic_load_n(&n_list, __ATOMIC_RELAXED);
}

int mdp_store_key_valid(const char *key)
{
    if (!key || !*key || *key == '/') return 0;
    const char *seg = key;
    for (const char *p = key;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t n = (size_t)(p - seg);
            if (n == 0) return 0;
            if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) return 0;
            if (n >= 5 && strncmp(seg, ".tmp-", 5) == 0) return 0;
            if (*p == '\0') break;
            seg = p + 1;
        } else if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\') {
            return 0;
        }
    }
    return strlen(key) < 1024;
}

int mdp_store_open(const char *url, int create, struct mdp_store **out, struct mdp_diag *d)
{
    *out = NULL;
    if (!url || !*url) return mdp_diag_set(d, MDP_ERR_INVALID, "empty store location");
    if (strncmp(url, "file://", 7) == 0) return mdp__store_file_open(url + 7, create, out, d);
    if (strncmp(url, "s3://", 5) == 0) return mdp__store_s3_open(url, create, out, d);
    if (strstr(url, "://"))
        return mdp_diag_set(d, MDP_ERR_UNSUPPORTED,
                            "%s: unsupported store scheme (supported: file://, s3:// or a folder "
                            "path)",
                            url);
    return mdp__store_file_open(url, create, out, d);
}

void mdp_store_close(struct mdp_store *s)
{
    if (s) s->ops->close(s);
}

#define CHECK_KEY(k)                                                                               \
    do {                                                                                           \
        if (!mdp_store_key_valid(k))                                                               \
            return mdp_diag_set(d, MDP_ERR_INVALID, "invalid object key '%s'", (k) ? (k) : "");    \
    } while (0)

int mdp_store_put(struct mdp_store *s, const char *key, const void *data, size_t len, int flags,
                  struct mdp_diag *d)
{
    CHECK_KEY(key);
    COUNT(n_put, 1);
    return s->ops->put(s, key, data, len, flags, d);
}

int mdp_store_get(struct mdp_store *s, const char *key, struct mdp_buf *out, struct mdp_diag *d)
{
    CHECK_KEY(key);
    mdp_buf_reset(out);
    COUNT(n_get, 1);
    return s->ops->get(s, key, out, d);
}

int mdp_store_head(struct mdp_store *s, const char *key, int64_t *out_size, struct mdp_diag *d)
{
    CHECK_KEY(key);
    COUNT(n_get, 1);
    return s->ops->head(s, key, out_size, d);
}

/* A listing is billed per page of 1,000 keys: the callbacks count the keys on their way. */
struct counted {
    mdp_store_list_cb cb;
    mdp_store_list_time_cb tcb;
    void *ud;
    int64_t keys;
};

static int counted_cb(const char *key, int64_t size, void *ud)
{
    struct counted *c = ud;
    if (++c->keys % 1000 == 0) COUNT(n_list, 1);
    return c->cb(key, size, c->ud);
}

static int counted_tcb(const char *key, int64_t size, int64_t mtime_ms, void *ud)
{
    struct counted *c = ud;
    if (++c->keys % 1000 == 0) COUNT(n_list, 1);
    return c->tcb(key, size, mtime_ms, c->ud);
}

int mdp_store_list(struct mdp_store *s, const char *prefix, mdp_store_list_cb cb, void *ud,
                   struct mdp_diag *d)
{
    struct counted c = {cb, NULL, ud, 0};
    COUNT(n_list, 1);
    return s->ops->list(s, prefix ? prefix : "", counted_cb, &c, d);
}

int mdp_store_list_dirs(struct mdp_store *s, const char *prefix, mdp_store_list_cb cb, void *ud,
                        struct mdp_diag *d)
{
    if (!s->ops->list_dirs)
        return mdp_diag_set(d, MDP_ERR_UNSUPPORTED, "listing folders not supported");
    struct counted c = {cb, NULL, ud, 0};
    COUNT(n_list, 1);
    return s->ops->list_dirs(s, prefix ? prefix : "", counted_cb, &c, d);
}

struct key_list {
    const char *suffix;
    size_t slen;
    char ***keys;
    size_t *n;
};

static int key_list_add(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct key_list *l = ud;
    size_t n = strlen(key);
    if (n < l->slen || strcmp(key + n - l->slen, l->suffix) != 0) return 0;
    char **nv = mdp_realloc(*l->keys, (*l->n + 1) * sizeof *nv);
    if (!nv) return MDP_ERR_NOMEM;
    *l->keys = nv;
    if (!(nv[*l->n] = mdp_strdup(key))) return MDP_ERR_NOMEM;
    (*l->n)++;
    return 0;
}

int mdp_store_list_keys(struct mdp_store *s, const char *prefix, const char *suffix, char ***keys,
                        size_t *n, struct mdp_diag *d)
{
    struct key_list l = {suffix ? suffix : "", suffix ? strlen(suffix) : 0, keys, n};
    int rc = mdp_store_list(s, prefix, key_list_add, &l, d);
    if (rc == MDP_ERR_NOMEM) rc = mdp_diag_set(d, rc, "out of memory listing %s", prefix);
    return rc;
}

void mdp_store_keys_free(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

int mdp_store_delete(struct mdp_store *s, const char *key, struct mdp_diag *d)
{
    CHECK_KEY(key);
    return s->ops->del(s, key, d);
}

int mdp_store_list_time(struct mdp_store *s, const char *prefix, mdp_store_list_time_cb cb,
                        void *ud, struct mdp_diag *d)
{
    if (!s->ops->list_time)
        return mdp_diag_set(d, MDP_ERR_UNSUPPORTED, "listing with times not supported");
    struct counted c = {NULL, cb, ud, 0};
    COUNT(n_list, 1);
    return s->ops->list_time(s, prefix ? prefix : "", counted_tcb, &c, d);
}

int mdp_store_orphans(struct mdp_store *s, int64_t before_ms, int remove, mdp_store_orphan_cb cb,
                      void *ud, struct mdp_diag *d)
{
    if (!s->ops->orphans)
        return mdp_diag_set(d, MDP_ERR_UNSUPPORTED, "sweeping unfinished writes not supported");
    return s->ops->orphans(s, before_ms, remove, cb, ud, d);
}

int mdp_store_writer_open(struct mdp_store *s, const char *key, struct mdp_store_writer **out,
                          struct mdp_diag *d)
{
    *out = NULL;
    CHECK_KEY(key);
    if (!s->ops->writer_open)
        return mdp_diag_set(d, MDP_ERR_UNSUPPORTED, "streaming writes not supported");
    COUNT(n_put, 1); /* one object put, however many parts it is written in */
    return s->ops->writer_open(s, key, out, d);
}

int mdp_store_local_path(struct mdp_store *s, const char *key, struct mdp_buf *out)
{
    if (!s->ops->local_path) return MDP_ERR_UNSUPPORTED;
    return s->ops->local_path(s, key, out);
}

int mdp_store_stage(struct mdp_store *s, const char *prefix, struct mdp_diag *d)
{
    if (!s->ops->stage) return 0;
    return s->ops->stage(s, prefix ? prefix : "", d);
}

int mdp_store_stage_object(struct mdp_store *s, const char *key, int64_t bytes, struct mdp_diag *d)
{
    if (!s->ops->stage) return 0;
    if (!key || !*key) return mdp_diag_set(d, MDP_ERR_INVALID, "staging an object without a key");
    if (bytes < 0 || !s->ops->stage_object) return s->ops->stage(s, key, d);
    return s->ops->stage_object(s, key, bytes, d);
}

int mdp_store_upload_local(struct mdp_store *s, const char *prefix, struct mdp_diag *d)
{
    if (!s->ops->upload_local) return 0;
    return s->ops->upload_local(s, prefix ? prefix : "", d);
}

int mdp_store_versions(struct mdp_store *s, const char *prefix, mdp_store_version_cb cb, void *ud,
                       struct mdp_diag *d)
{
    if (!s->ops->versions)
        return mdp_diag_set(d, MDP_ERR_UNSUPPORTED, "this store keeps no object versions");
    COUNT(n_list, 1);
    return s->ops->versions(s, prefix ? prefix : "", cb, ud, d);
}

int mdp_store_get_version(struct mdp_store *s, const char *key, const char *version_id,
                          struct mdp_buf *out, struct mdp_diag *d)
{
    CHECK_KEY(key);
    if (!version_id || !*version_id)
        return mdp_diag_set(d, MDP_ERR_INVALID, "%s: an empty version id", key);
    if (!s->ops->get_version)
        return mdp_diag_set(d, MDP_ERR_UNSUPPORTED, "this store keeps no object versions");
    COUNT(n_get, 1);
    return s->ops->get_version(s, key, version_id, out, d);
}

/* The versions to purge, collected first: deleting while the listing pages would move its
 * markers. With all, the current version is kept apart (current) to go last. */
struct purge {
    const char *key;
    char **ids;
    size_t n, cap;
    int rc, all;
    char *current;
};

static int purge_one(const char *key, const char *version_id, int64_t size, int latest, int marker,
                     void *ud)
{
    (void)size;
    struct purge *p = ud;
    if (strcmp(key, p->key) != 0) return 0;
    if (latest && !marker) {
        if (p->all && !p->current && !(p->current = mdp_strdup(version_id)))
            return p->rc = MDP_ERR_NOMEM;
        return 0;
    }
    if (mdp_grow(&p->ids, &p->cap, p->n, sizeof *p->ids, 8) ||
        !(p->ids[p->n] = mdp_strdup(version_id)))
        return p->rc = MDP_ERR_NOMEM;
    p->n++;
    return 0;
}

static int purge(struct mdp_store *s, const char *key, int all, int64_t *out_n, struct mdp_diag *d)
{
    if (out_n) *out_n = 0;
    CHECK_KEY(key);
    if (!s->ops->versions || !s->ops->delete_version) {
        if (!all) return 0;
        int rc = s->ops->del(s, key, d);
        return rc == MDP_ERR_NOT_FOUND ? 0 : rc;
    }
    struct purge p = {key, NULL, 0, 0, 0, all, NULL};
    COUNT(n_list, 1);
    int rc = s->ops->versions(s, key, purge_one, &p, d);
    if (p.rc) rc = mdp_diag_set(d, p.rc, "out of memory listing the versions of %s", key);
    for (size_t i = 0; !rc && i <= p.n; i++) {
        const char *id = i < p.n ? p.ids[i] : p.current;
        if (!id) break;
        /* by its id even when that is "null" (written before versioning was on): a plain
         * delete would leave a marker */
        rc = s->ops->delete_version(s, key, id, d);
        if (rc == MDP_ERR_NOT_FOUND) rc = 0; /* gone meanwhile */
        if (!rc && out_n) (*out_n)++;
    }
    for (size_t i = 0; i < p.n; i++)
        free(p.ids[i]);
    free(p.ids);
    free(p.current);
    return rc;
}

int mdp_store_purge_versions(struct mdp_store *s, const char *key, int64_t *out_n,
                             struct mdp_diag *d)
{
    return purge(s, key, 0, out_n, d);
}

int mdp_store_delete_every_version(struct mdp_store *s, const char *key, int64_t *out_n,
                                   struct mdp_diag *d)
{
    return purge(s, key, 1, out_n, d);
}

int mdp_store_evict(struct mdp_store *s, const char *prefix, int gone_only, struct mdp_diag *d)
{
    if (prefix && *prefix) { /* a key, or a folder: a key and '/' */
        char k[1024];
        size_t n = strlen(prefix);
        if (n >= sizeof k) n = sizeof k - 1;
        memcpy(k, prefix, n);
        k[n] = '\0';
        if (n && k[n - 1] == '/') k[n - 1] = '\0';
        if (!mdp_store_key_valid(k))
            return mdp_diag_set(d, MDP_ERR_INVALID, "'%s' is not a valid key or prefix", prefix);
    }
    if (!s->ops->evict) return 0;
    return s->ops->evict(s, prefix ? prefix : "", gone_only, d);
}

int mdp_local_mkdirs(const char *path, int whole, int mode, struct mdp_diag *d)
{
    char p[4096];
    size_t n = strlen(path);
    if (n >= sizeof p) return mdp_diag_set(d, MDP_ERR_INVALID, "%s: path too long", path);
    memcpy(p, path, n + 1);
    if (!whole) {
        char *sl = strrchr(p, '/');
        if (!sl) return 0;
        *sl = 0;
    }
    for (char *q = p + 1;; q++) {
        if (*q == '/' || !*q) {
            char c = *q;
            *q = 0;
            if (mkdir(p, (mode_t)mode) && errno != EEXIST) {
                int e = errno;
                return mdp_diag_set(d, mdp_err_from_errno(e), "cannot create folder %s: %s", p,
                                    strerror(e));
            }
            if (!c) break;
            *q = c;
        }
    }
    return 0;
}
