/* `mdp lake vacuum` (include/mdp/lake.h, docs/lake.md): what the writers leave behind on purpose
 * (every job writes a fresh run folder and never removes the old one, so readers of the old state
 * are never cut off) or by accident (a crash's temporary files), removed once nothing can need it,
 * and the collector's many small raw objects of a closed day compacted into one. Everything goes
 * through the object store interface (list, get, put, delete, the orphan sweep), so the S3 backend
 * gets vacuum for free. Deletions are ordered so that a crash at any point leaves a lake that is
 * readable and whose next vacuum finishes the work: manifest versions before the run folders they
 * named, a compaction's record and its daily object before the small objects. */
#include "mdp/lake.h"
#include "mdp/strset.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORDS "_meta/state/vacuum/compacted/"
/* a day is closed for compaction once it ended this long ago (the service's last flush of it) */
#define CLOSE_MARGIN_MS (15 * 60 * 1000LL)

static const char *const COMPACT_PREFIXES[] = {"raw/events/app_events/", "raw/ses/http/",
                                               "raw/serve/decisions/"};
static const char *const RUN_ZONES[] = {"curated/", "ml/", "serving/", "_meta/tables/"};

struct strv {
    char **v;
    size_t n, cap;
};

static int strv_add(struct strv *s, const char *p, size_t n)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        char **nv = realloc(s->v, cap * sizeof *nv);
        if (!nv) return MDP_ERR_NOMEM;
        s->v = nv;
        s->cap = cap;
    }
    char *c = malloc(n + 1);
    if (!c) return MDP_ERR_NOMEM;
    memcpy(c, p, n);
    c[n] = '\0';
    s->v[s->n++] = c;
    return 0;
}

static void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

struct vac {
    struct mdp_lake *lake;
    const struct mdp_vacuum_opts *o;
    int64_t now_ms, cutoff_ms;
    int (*on_action)(const struct mdp_vacuum_action *a, void *ud);
    void *ud;
    struct mdp_vacuum_stats st;
    struct mdp_strset *resumed_parts; /* dry run: parts a pending record would remove */
    struct mdp_diag *d;
};

static int act(struct vac *v, enum mdp_vacuum_what what, const char *key, const char *object,
               int64_t objects, int64_t bytes, int64_t lines)
{
    struct mdp_vacuum_action a = {what, key, object, objects, bytes, lines};
    return v->on_action ? v->on_action(&a, v->ud) : 0;
}

/* ---- 1. leftovers of unfinished writes ---- */

static int orphan_cb(const char *name, int64_t size, int64_t mtime_ms, void *ud)
{
    (void)mtime_ms;
    struct vac *v = ud;
    v->st.tmp_files++;
    v->st.tmp_bytes += size;
    return act(v, MDP_VACUUM_TMP, name, NULL, 1, size, 0);
}

/* ---- 2. manifest versions and run folders ---- */

struct mver {
    char *table, *key;
    int64_t version, published_ms;
    int keep;
    struct strv files;
};

struct mlist {
    struct mver *v;
    size_t n, cap;
    struct strv currents; /* the tables with a CURRENT pointer */
};

static int mlist_cb(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct mlist *m = ud;
    const char *pre = "_meta/manifests/", *last = strrchr(key, '/');
    size_t pl = strlen(pre);
    if (!last || (size_t)(last - key) <= pl) return 0;
    const char *table = key + pl;
    size_t tl = (size_t)(last - table);
    last++;
    if (strcmp(last, "CURRENT") == 0) return strv_add(&m->currents, table, tl);
    char *end;
    if (last[0] != 'v') return 0;
    long long ver = strtoll(last + 1, &end, 10);
    if (ver <= 0 || strcmp(end, ".json") != 0) return 0;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct mver *nv = realloc(m->v, cap * sizeof *nv);
        if (!nv) return MDP_ERR_NOMEM;
        m->v = nv;
        m->cap = cap;
    }
    struct mver *e = &m->v[m->n];
    memset(e, 0, sizeof *e);
    e->table = strndup(table, tl);
    e->key = strdup(key);
    e->version = ver;
    if (!e->table || !e->key) {
        free(e->table);
        free(e->key);
        return MDP_ERR_NOMEM;
    }
    m->n++;
    return 0;
}

static void mlist_free(struct mlist *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].table);
        free(m->v[i].key);
        strv_free(&m->v[i].files);
    }
    free(m->v);
    strv_free(&m->currents);
}

/* published_ms and the file keys of a manifest version */
static int read_version(struct vac *v, struct mver *e)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_store_get(v->lake->store, e->key, &b, v->d);
    json_object *root = NULL, *files, *pm, *k;
    if (!rc) {
        json_tokener *tok = json_tokener_new();
        if (!tok) rc = MDP_ERR_NOMEM;
        if (tok) root = json_tokener_parse_ex(tok, b.data ? b.data : "", (int)b.len);
        json_tokener_free(tok);
    }
    if (!rc && (!root || !json_object_object_get_ex(root, "files", &files) ||
                !json_object_is_type(files, json_type_array) ||
                !json_object_object_get_ex(root, "published_ms", &pm)))
        rc = mdp_diag_set(v->d, MDP_ERR_PARSE,
                          "%s: not a valid manifest (vacuum removes no run folder until it is "
                          "repaired or removed)",
                          e->key);
    if (!rc) {
        e->published_ms = json_object_get_int64(pm);
        size_t n = json_object_array_length(files);
        for (size_t i = 0; i < n && !rc; i++) {
            json_object *f = json_object_array_get_idx(files, i);
            if (!json_object_object_get_ex(f, "key", &k))
                rc = mdp_diag_set(v->d, MDP_ERR_PARSE, "%s: file entry %zu has no key", e->key, i);
            else
                rc = strv_add(&e->files, json_object_get_string(k),
                              (size_t)json_object_get_string_len(k));
        }
    }
    json_object_put(root);
    mdp_buf_cleanup(&b);
    return rc;
}

static int64_t current_of(struct vac *v, const char *table, int *rc)
{
    struct mdp_buf key, val;
    mdp_buf_init(&key);
    mdp_buf_init(&val);
    int64_t ver = -1;
    *rc = mdp_buf_printf(&key, "_meta/manifests/%s/CURRENT", table);
    if (!*rc) *rc = mdp_store_get(v->lake->store, key.data, &val, v->d);
    if (!*rc) {
        char *end;
        long long n = val.data && val.data[0] == 'v' ? strtoll(val.data + 1, &end, 10) : -1;
        if (n <= 0 || (*end != '\n' && *end != '\0'))
            *rc = mdp_diag_set(v->d, MDP_ERR_PARSE, "%s: corrupt pointer", key.data);
        else
            ver = n;
    }
    mdp_buf_cleanup(&key);
    mdp_buf_cleanup(&val);
    return ver;
}

/* the run folder of a data file: the key up to and including its "run-..." segment and a '/';
 * 0 when the key is not in a run folder */
static size_t run_folder_len(const char *key)
{
    for (const char *p = key; (p = strstr(p, "run-")); p++) {
        if (p != key && p[-1] != '/') continue;
        const char *sl = strchr(p, '/');
        return sl ? (size_t)(sl - key) + 1 : 0;
    }
    return 0;
}

/* the start time of the run a folder "…/run-<uuid7>[-YYYYMMDD]/" belongs to, or -1 */
static int64_t run_time_ms(const char *folder, size_t len)
{
    const char *p = folder + len - 1;
    while (p > folder && p[-1] != '/')
        p--;
    if (strncmp(p, "run-", 4) != 0 || (size_t)(folder + len - p) < 4 + 36 + 1) return -1;
    char id[37];
    memcpy(id, p + 4, 36);
    id[36] = '\0';
    struct mdp_uuid u;
    if (mdp_uuid_parse(id, &u) != 0 || mdp_uuid_version(&u) != 7) return -1;
    return mdp_uuid7_time_ms(&u);
}

struct folder {
    char *key;
    int64_t objects, bytes, newest_ms;
};

struct fscan {
    struct folder *v;
    size_t n, cap;
    int rc;
};

static int folder_cb(const char *key, int64_t size, int64_t mtime_ms, void *ud)
{
    struct fscan *f = ud;
    size_t fl = run_folder_len(key);
    if (!fl) return 0;
    struct folder *last = f->n ? &f->v[f->n - 1] : NULL;
    if (!last || strlen(last->key) != fl || strncmp(last->key, key, fl) != 0) {
        if (f->n == f->cap) {
            size_t cap = f->cap ? f->cap * 2 : 64;
            struct folder *nv = realloc(f->v, cap * sizeof *nv);
            if (!nv) return MDP_ERR_NOMEM;
            f->v = nv;
            f->cap = cap;
        }
        last = &f->v[f->n];
        memset(last, 0, sizeof *last);
        if (!(last->key = strndup(key, fl))) return MDP_ERR_NOMEM;
        f->n++;
    }
    last->objects++;
    last->bytes += size;
    if (mtime_ms > last->newest_ms) last->newest_ms = mtime_ms;
    return 0;
}

static int delete_cb(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct vac *v = ud;
    int rc = mdp_store_delete(v->lake->store, key, v->d);
    return rc == MDP_ERR_NOT_FOUND ? 0 : rc;
}

static int vacuum_runs(struct vac *v)
{
    struct mlist m = {0};
    struct fscan fs = {0};
    struct mdp_strset *named = mdp_strset_new();
    int rc = named ? 0 : MDP_ERR_NOMEM;
    if (!rc) rc = mdp_store_list(v->lake->store, "_meta/manifests/", mlist_cb, &m, v->d);
    for (size_t i = 0; i < m.n && !rc; i++)
        rc = read_version(v, &m.v[i]);
    /* what to keep: CURRENT, and what a reader may still be reading (published or superseded
     * within the grace period) */
    for (size_t i = 0; i < m.n && !rc; i++) {
        struct mver *e = &m.v[i];
        if (e->published_ms > v->cutoff_ms) e->keep = 1;
        for (size_t j = i + 1; j < m.n; j++)
            if (strcmp(m.v[j].table, e->table) == 0) {
                if (m.v[j].published_ms > v->cutoff_ms) e->keep = 1;
                break;
            }
    }
    for (size_t t = 0; t < m.currents.n && !rc; t++) {
        int64_t cur = current_of(v, m.currents.v[t], &rc);
        int found = 0;
        for (size_t i = 0; i < m.n && !rc; i++)
            if (m.v[i].version == cur && strcmp(m.v[i].table, m.currents.v[t]) == 0)
                found = m.v[i].keep = 1;
        if (!rc && !found)
            rc = mdp_diag_set(v->d, MDP_ERR_PARSE,
                              "_meta/manifests/%s/CURRENT names v%lld, which is missing",
                              m.currents.v[t], (long long)cur);
    }
    for (size_t i = 0; i < m.n && !rc; i++) {
        if (!m.v[i].keep) continue;
        for (size_t f = 0; f < m.v[i].files.n && !rc; f++) {
            size_t fl = run_folder_len(m.v[i].files.v[f]);
            if (fl && mdp_strset_add(named, m.v[i].files.v[f], fl) < 0) rc = MDP_ERR_NOMEM;
        }
    }
    /* the manifest versions first: no remaining version ever names a removed file */
    for (size_t i = 0; i < m.n && !rc; i++) {
        if (m.v[i].keep) continue;
        if (!v->o->dry_run) {
            rc = mdp_store_delete(v->lake->store, m.v[i].key, v->d);
            if (rc == MDP_ERR_NOT_FOUND) rc = 0;
        }
        v->st.manifests++;
        if (!rc) rc = act(v, MDP_VACUUM_MANIFEST, m.v[i].key, NULL, 1, 0, 0);
    }
    for (size_t z = 0; z < sizeof RUN_ZONES / sizeof *RUN_ZONES && !rc; z++)
        rc = mdp_store_list_time(v->lake->store, RUN_ZONES[z], folder_cb, &fs, v->d);
    for (size_t i = 0; i < fs.n && !rc; i++) {
        struct folder *f = &fs.v[i];
        size_t fl = strlen(f->key);
        int64_t started = run_time_ms(f->key, fl);
        if (mdp_strset_has(named, f->key, fl) || started < 0 || started > v->cutoff_ms ||
            f->newest_ms > v->cutoff_ms)
            continue;
        if (!v->o->dry_run) rc = mdp_store_list(v->lake->store, f->key, delete_cb, v, v->d);
        v->st.run_folders++;
        v->st.run_objects += f->objects;
        v->st.run_bytes += f->bytes;
        if (!rc) rc = act(v, MDP_VACUUM_RUN_FOLDER, f->key, NULL, f->objects, f->bytes, 0);
    }
    for (size_t i = 0; i < fs.n; i++)
        free(fs.v[i].key);
    free(fs.v);
    mlist_free(&m);
    mdp_strset_free(named);
    return rc;
}

/* ---- 3. compaction of small raw objects ---- */

/* "raw/<source>/<dataset>/dt=YYYY-MM-DD/" of a raw key: its length, and the parts */
static size_t raw_folder(const char *key, char *source, char *dataset, int64_t *day)
{
    const char *a = key + 4, *b, *c, *e;
    if (strncmp(key, "raw/", 4) != 0 || !(b = strchr(a, '/')) || !(c = strchr(b + 1, '/')) ||
        strncmp(c + 1, "dt=", 3) != 0 || !(e = strchr(c + 1, '/')) || e - (c + 4) != 10 ||
        b - a >= 64 || c - (b + 1) >= 64)
        return 0;
    char date[11];
    memcpy(date, c + 4, 10);
    date[10] = '\0';
    if (mdp_date_parse(date, day) != 0) return 0;
    snprintf(source, 64, "%.*s", (int)(b - a), a);
    snprintf(dataset, 64, "%.*s", (int)(c - (b + 1)), b + 1);
    return (size_t)(e - key) + 1;
}

static int record_key(struct mdp_buf *out, const char *folder, const char *object)
{
    mdp_buf_reset(out);
    const char *base = strrchr(object, '/');
    return mdp_buf_printf(out, RECORDS "%s%s.txt", folder + 4, base ? base + 1 : object);
}

/* a record: "pending|done\nobject <key>\npart <key>\n..." */
static int record_put(struct vac *v, const char *key, const char *state, const char *object,
                      const struct strv *parts)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_buf_printf(&b, "%s\nobject %s\n", state, object);
    for (size_t i = 0; i < parts->n && !rc; i++)
        rc = mdp_buf_printf(&b, "part %s\n", parts->v[i]);
    if (!rc) rc = mdp_store_put(v->lake->store, key, b.data, b.len, 0, v->d);
    mdp_buf_cleanup(&b);
    return rc;
}

static int record_parse(const char *text, int *out_pending, struct mdp_buf *object,
                        struct strv *parts)
{
    *out_pending = strncmp(text, "pending\n", 8) == 0;
    int rc = 0;
    for (const char *p = text, *nl; !rc && (nl = strchr(p, '\n')); p = nl + 1) {
        if (strncmp(p, "object ", 7) == 0) {
            mdp_buf_reset(object);
            rc = mdp_buf_append(object, p + 7, (size_t)(nl - p - 7));
        } else if (strncmp(p, "part ", 5) == 0) {
            rc = strv_add(parts, p + 5, (size_t)(nl - p - 5));
        }
    }
    return rc;
}

/* A record is only believed about its own folder: the object and every part are NDJSON objects
 * directly in one raw folder that vacuum compacts. */
static int record_sane(const char *object, const struct strv *parts)
{
    char s[64], ds[64];
    int64_t day;
    size_t fl = object ? raw_folder(object, s, ds, &day) : 0;
    int known = 0;
    for (size_t z = 0; z < sizeof COMPACT_PREFIXES / sizeof *COMPACT_PREFIXES; z++)
        known |= fl && strncmp(object, COMPACT_PREFIXES[z], strlen(COMPACT_PREFIXES[z])) == 0;
    if (!known || strchr(object + fl, '/') || !mdp_store_key_valid(object)) return 0;
    for (size_t i = 0; i < parts->n; i++) {
        const char *p = parts->v[i], *ext = strrchr(p, '.');
        if (strncmp(p, object, fl) != 0 || strchr(p + fl, '/') || !ext ||
            strcmp(ext, ".ndjson") != 0 || !mdp_store_key_valid(p))
            return 0;
    }
    return 1;
}

static int contains(const char *hay, size_t hn, const char *needle, size_t nn)
{
    for (const char *p = hay, *end = hay + hn; nn <= (size_t)(end - p);) {
        const char *c = memchr(p, needle[0], (size_t)(end - p) - nn + 1);
        if (!c) return 0;
        if (memcmp(c, needle, nn) == 0) return 1;
        p = c + 1;
    }
    return 0;
}

/* Before a pending record's parts go: each one still there must be inside the daily object (its
 * bytes, less a newline compaction may have added), else the record is not believed. */
static int parts_inside(struct vac *v, const struct strv *parts, const struct mdp_buf *object,
                        const char *rec)
{
    struct mdp_buf one;
    mdp_buf_init(&one);
    int rc = 0;
    for (size_t i = 0; i < parts->n && !rc; i++) {
        rc = mdp_store_get(v->lake->store, parts->v[i], &one, v->d);
        if (rc == MDP_ERR_NOT_FOUND) {
            rc = 0;
            continue;
        }
        if (rc || !one.len) continue;
        if (!object->len || !contains(object->data, object->len, one.data, one.len))
            rc = mdp_diag_set(v->d, MDP_ERR_PARSE,
                              "%s: %s is not inside the compacted object; the record is left "
                              "alone, nothing removed",
                              rec, parts->v[i]);
    }
    mdp_buf_cleanup(&one);
    return rc;
}

static int remove_parts(struct vac *v, const struct strv *parts, const char *object)
{
    int rc = 0;
    for (size_t i = 0; i < parts->n && !rc; i++) {
        if (strcmp(parts->v[i], object) == 0) continue;
        rc = mdp_store_delete(v->lake->store, parts->v[i], v->d);
        if (rc == MDP_ERR_NOT_FOUND) rc = 0;
    }
    return rc;
}

static int keys_cb(const char *key, int64_t size, void *ud)
{
    (void)size;
    return strv_add(ud, key, strlen(key));
}

/* finishes (or drops) the compactions a crash interrupted */
static int resume(struct vac *v)
{
    struct strv recs = {0}, parts = {0};
    struct mdp_buf text, object, bytes;
    mdp_buf_init(&text);
    mdp_buf_init(&object);
    mdp_buf_init(&bytes);
    int rc = mdp_store_list(v->lake->store, RECORDS, keys_cb, &recs, v->d);
    for (size_t i = 0; i < recs.n && !rc; i++) {
        int pending = 0;
        strv_free(&parts);
        if ((rc = mdp_store_get(v->lake->store, recs.v[i], &text, v->d))) break;
        if ((rc = record_parse(text.data ? text.data : "", &pending, &object, &parts))) break;
        if (!pending) continue;
        if (!record_sane(object.data, &parts)) {
            rc = mdp_diag_set(v->d, MDP_ERR_PARSE,
                              "%s: not a compaction record of one raw folder; left alone",
                              recs.v[i]);
            break;
        }
        int have = mdp_store_get(v->lake->store, object.data, &bytes, NULL) == 0;
        int64_t size = (int64_t)bytes.len;
        if (have && (rc = parts_inside(v, &parts, &bytes, recs.v[i]))) break;
        if (!have) { /* crashed before the object was whole: the parts are all there */
            if (!v->o->dry_run) rc = mdp_store_delete(v->lake->store, recs.v[i], v->d);
            continue;
        }
        if (v->o->dry_run) {
            for (size_t p = 0; p < parts.n && !rc; p++)
                if (mdp_strset_add(v->resumed_parts, parts.v[p], strlen(parts.v[p])) < 0)
                    rc = MDP_ERR_NOMEM;
        } else {
            rc = remove_parts(v, &parts, object.data);
            if (!rc) rc = record_put(v, recs.v[i], "done", object.data, &parts);
        }
        v->st.resumed++;
        if (!rc) rc = act(v, MDP_VACUUM_RESUME, recs.v[i], object.data, (int64_t)parts.n, size, 0);
    }
    strv_free(&recs);
    strv_free(&parts);
    mdp_buf_cleanup(&text);
    mdp_buf_cleanup(&object);
    mdp_buf_cleanup(&bytes);
    return rc;
}

static int compact_folder(struct vac *v, const char *folder, const char *source,
                          const char *dataset, int64_t day, const struct strv *parts)
{
    struct mdp_buf all, one, key, rec;
    mdp_buf_init(&all);
    mdp_buf_init(&one);
    mdp_buf_init(&key);
    mdp_buf_init(&rec);
    int rc = 0;
    int64_t lines = 0;
    /* the parts in key order, each one's lines in their order: the same parts always make the
     * same bytes; a last line without its newline gets one (lines are records) */
    for (size_t i = 0; i < parts->n && !rc; i++) {
        if ((rc = mdp_store_get(v->lake->store, parts->v[i], &one, v->d))) break;
        if (!one.len) continue;
        for (size_t k = 0; k < one.len; k++)
            lines += one.data[k] == '\n';
        rc = mdp_buf_append(&all, one.data, one.len);
        if (!rc && one.data[one.len - 1] != '\n') {
            rc = mdp_buf_putc(&all, '\n');
            lines++;
        }
    }
    if (!rc)
        rc = mdp_lake_raw_key(source, dataset, day, all.data ? all.data : "", all.len, "ndjson",
                              &key, v->d);
    if (!rc) rc = record_key(&rec, folder, key.data);
    if (!rc && !v->o->dry_run) {
        rc = record_put(v, rec.data, "pending", key.data, parts);
        if (!rc)
            rc =
                mdp_store_put(v->lake->store, key.data, all.data ? all.data : "", all.len, 0, v->d);
    }
    if (!rc) {
        v->st.compacted_days++;
        v->st.compacted_objects += (int64_t)parts->n;
        v->st.compacted_lines += lines;
        v->st.compacted_bytes += (int64_t)all.len;
        rc = act(v, MDP_VACUUM_COMPACT, folder, key.data, (int64_t)parts->n, (int64_t)all.len,
                 lines);
    }
    if (!rc && !v->o->dry_run) {
        rc = remove_parts(v, parts, key.data);
        if (!rc) rc = record_put(v, rec.data, "done", key.data, parts);
    }
    mdp_buf_cleanup(&all);
    mdp_buf_cleanup(&one);
    mdp_buf_cleanup(&key);
    mdp_buf_cleanup(&rec);
    return rc;
}

static int compact(struct vac *v)
{
    int64_t today = mdp_days_from_ms(v->now_ms - CLOSE_MARGIN_MS);
    int rc = 0;
    for (size_t z = 0; z < sizeof COMPACT_PREFIXES / sizeof *COMPACT_PREFIXES && !rc; z++) {
        struct strv keys = {0}, parts = {0};
        rc = mdp_store_list(v->lake->store, COMPACT_PREFIXES[z], keys_cb, &keys, v->d);
        char source[64], dataset[64], cur[512] = "";
        int64_t cur_day = 0;
        for (size_t i = 0; i <= keys.n && !rc; i++) {
            char s[64], ds[64];
            int64_t day = 0;
            size_t fl = i < keys.n ? raw_folder(keys.v[i], s, ds, &day) : 0;
            int same = fl && strlen(cur) == fl && strncmp(cur, keys.v[i], fl) == 0;
            if (!same && parts.n >= 2 && cur_day < today)
                rc = compact_folder(v, cur, source, dataset, cur_day, &parts);
            if (!same) {
                strv_free(&parts);
                cur[0] = '\0';
                if (fl && fl < sizeof cur) {
                    memcpy(cur, keys.v[i], fl);
                    cur[fl] = '\0';
                    memcpy(source, s, sizeof source);
                    memcpy(dataset, ds, sizeof dataset);
                    cur_day = day;
                }
            }
            /* only NDJSON objects directly in the day folder */
            if (rc || !cur[0] || i >= keys.n) continue;
            const char *rest = keys.v[i] + strlen(cur), *ext = strrchr(rest, '.');
            if (strchr(rest, '/') || !ext || strcmp(ext, ".ndjson") != 0) continue;
            if (v->resumed_parts && mdp_strset_has(v->resumed_parts, keys.v[i], strlen(keys.v[i])))
                continue;
            rc = strv_add(&parts, keys.v[i], strlen(keys.v[i]));
        }
        strv_free(&keys);
        strv_free(&parts);
    }
    return rc;
}

int mdp_lake_vacuum(struct mdp_lake *lake, const struct mdp_vacuum_opts *o,
                    int (*on_action)(const struct mdp_vacuum_action *a, void *ud), void *ud,
                    struct mdp_vacuum_stats *out, struct mdp_diag *d)
{
    struct vac v;
    memset(&v, 0, sizeof v);
    v.lake = lake;
    v.o = o;
    v.now_ms = o->now_ms ? o->now_ms : mdp_time_now_ms();
    v.cutoff_ms = v.now_ms - (o->grace_ms > 0 ? o->grace_ms : 0);
    v.on_action = on_action;
    v.ud = ud;
    v.d = d;
    int rc = 0;
    if (o->dry_run && !(v.resumed_parts = mdp_strset_new())) rc = MDP_ERR_NOMEM;
    if (!rc) rc = mdp_store_orphans(lake->store, v.cutoff_ms, !o->dry_run, orphan_cb, &v, d);
    if (!rc) rc = vacuum_runs(&v);
    if (!rc) rc = resume(&v);
    if (!rc) rc = compact(&v);
    mdp_strset_free(v.resumed_parts);
    if (out) *out = v.st;
    return rc;
}

void mdp_vacuum_to_run(const struct mdp_vacuum_stats *st, struct mdp_run *r)
{
    r->in = st->tmp_files + st->manifests + st->run_objects + st->compacted_objects;
    r->out = st->compacted_days;
    r->bytes = st->tmp_bytes + st->run_bytes;
    snprintf(r->message, sizeof r->message,
             "%lld temporary files, %lld manifest versions, %lld run folders (%lld objects, %lld "
             "bytes) removed; %lld days compacted (%lld objects into %lld lines); %lld interrupted "
             "compactions finished",
             (long long)st->tmp_files, (long long)st->manifests, (long long)st->run_folders,
             (long long)st->run_objects, (long long)st->run_bytes, (long long)st->compacted_days,
             (long long)st->compacted_objects, (long long)st->compacted_lines,
             (long long)st->resumed);
}

int mdp_lake_raw_compacted(struct mdp_lake *lake, const char *key, struct mdp_buf *out_object,
                           struct mdp_diag *d)
{
    char source[64], dataset[64];
    int64_t day;
    size_t fl = raw_folder(key, source, dataset, &day);
    if (!fl) return 0;
    struct strv recs = {0}, parts = {0};
    struct mdp_buf prefix, text, object;
    mdp_buf_init(&prefix);
    mdp_buf_init(&text);
    mdp_buf_init(&object);
    int rc = mdp_buf_printf(&prefix, RECORDS "%.*s", (int)(fl - 4), key + 4), found = 0;
    if (!rc) rc = mdp_store_list(lake->store, prefix.data, keys_cb, &recs, d);
    for (size_t i = 0; i < recs.n && !rc && !found; i++) {
        int pending;
        strv_free(&parts);
        if ((rc = mdp_store_get(lake->store, recs.v[i], &text, d))) break;
        if ((rc = record_parse(text.data ? text.data : "", &pending, &object, &parts))) break;
        if (!object.len || !record_sane(object.data, &parts) ||
            (pending && mdp_store_head(lake->store, object.data, NULL, NULL) != 0))
            continue;
        for (size_t p = 0; p < parts.n && !found; p++)
            found = strcmp(parts.v[p], key) == 0 && strcmp(object.data, key) != 0;
    }
    if (found && out_object) {
        mdp_buf_reset(out_object);
        rc = mdp_buf_append(out_object, object.data, object.len);
    }
    strv_free(&recs);
    strv_free(&parts);
    mdp_buf_cleanup(&prefix);
    mdp_buf_cleanup(&text);
    mdp_buf_cleanup(&object);
    return rc < 0 ? rc : found;
}
