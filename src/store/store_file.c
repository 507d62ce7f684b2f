/* File backend of the object store. Atomicity comes from POSIX: data is written to a temporary
 * file in <root>/_tmp/, fsync'd, then renamed over the key (or link()ed for put-if-absent, which
 * fails atomically with EEXIST), and the target folder is fsync'd so the rename survives a crash.
 * Temporary files never sit in a data folder: a reader's glob (DuckDB's read_json with a glob
 * matches names with a leading dot too) sees only whole objects, also while a write is under way
 * or after a crash left one behind. Orphans in _tmp/ older than a day are removed at open. The
 * lake folder must be one file system (rename and link do not cross file systems). */
#include "mdp/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct file_store {
    char *root; /* absolute, no trailing slash */
};

static atomic_uint g_tmp_counter;

static int path_of(struct file_store *fs, const char *key, struct mdp_buf *out)
{
    mdp_buf_reset(out);
    return mdp_buf_printf(out, "%s/%s", fs->root, key);
}

/* path_of for an operation with a diag: out of memory says so (the key names the object) */
static int path_d(struct file_store *fs, const char *key, struct mdp_buf *out, struct mdp_diag *d)
{
    int rc = path_of(fs, key, out);
    return rc ? mdp_diag_set(d, rc, "%s: out of memory building its path", key) : 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* mkdir -p for the parent folders of path, fsyncing each parent whose entry was created. */
static int mkdirs_for(char *path, struct mdp_diag *d)
{
    char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    *slash = '\0';
    struct stat st;
    int rc = 0;
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            rc = mdp_diag_set(d, MDP_ERR_IO, "%s: exists and is not a folder", path);
    } else if ((rc = mkdirs_for(path, d)) == 0) {
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            rc = mdp_diag_set(d, mdp_err_from_errno(e), "cannot create folder %s: %s", path,
                              strerror(e));
        } else {
            char *p2 = strrchr(path, '/');
            if (p2 && p2 != path) {
                *p2 = '\0';
                fsync_dir(path);
                *p2 = '/';
            }
        }
    }
    *slash = '/';
    return rc;
}

static int io_fail(struct mdp_diag *d, int e, const char *what, const char *path)
{
    return mdp_diag_set(d, mdp_err_from_errno(e), "%s %s: %s", what, path, strerror(e));
}

#define TMP_DIR      "_tmp"
#define ORPHAN_AGE_S (24 * 3600)

/* a fresh temporary name in <root>/_tmp/ for the object at path (the folder made when missing) */
static int tmp_path_for(struct file_store *fs, const char *path, struct mdp_buf *out,
                        struct mdp_diag *d)
{
    mdp_buf_reset(out);
    int rc = mdp_buf_printf(out, "%s/" TMP_DIR "/x", fs->root);
    if (!rc)
        rc = mkdirs_for(out->data, d);
    else
        mdp_diag_set(d, rc, "%s: out of memory building a temporary path", path);
    if (rc) return rc;
    mdp_buf_reset(out);
    rc = mdp_buf_printf(out, "%s/" TMP_DIR "/.tmp-%ld-%u-%s", fs->root, (long)getpid(),
                        atomic_fetch_add(&g_tmp_counter, 1), strrchr(path, '/') + 1);
    return rc ? mdp_diag_set(d, rc, "%s: out of memory building a temporary path", path) : 0;
}

/* removes what crashed writers left in _tmp/ (older than ORPHAN_AGE_S: a live writer touches its
 * file with every write) */
static void remove_orphans(const char *root)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/" TMP_DIR, root) >= (int)sizeof dir) return;
    DIR *dh = opendir(dir);
    if (!dh) return;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(dh))) {
        char full[PATH_MAX];
        struct stat st;
        if (strncmp(de->d_name, ".tmp-", 5) != 0) continue;
        if (snprintf(full, sizeof full, "%s/%s", dir, de->d_name) >= (int)sizeof full) continue;
        if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > ORPHAN_AGE_S)
            unlink(full);
    }
    closedir(dh);
}

static int fput(struct mdp_store *s, const char *key, const void *data, size_t len, int flags,
                struct mdp_diag *d)
{
    struct file_store *fs = s->impl;
    struct mdp_buf path, tmp;
    mdp_buf_init(&path);
    mdp_buf_init(&tmp);
    int fd = -1, rc = 0, have_tmp = 0;
    if ((rc = path_d(fs, key, &path, d))) goto out;
    if ((rc = tmp_path_for(fs, path.data, &tmp, d))) goto out;
    fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = io_fail(d, errno, "cannot create", tmp.data);
        goto out;
    }
    have_tmp = 1;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = io_fail(d, errno, "cannot write", path.data);
            goto out;
        }
        p += n;
        left -= (size_t)n;
    }
    if (!(flags & MDP_PUT_NO_SYNC) && fsync(fd) != 0) {
        rc = io_fail(d, errno, "cannot fsync", path.data);
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = io_fail(d, errno, "cannot close", path.data);
        goto out;
    }
    fd = -1;
    /* the folder is made last: a delete that empties a folder removes it (fdel) */
    if ((rc = mkdirs_for(path.data, d))) goto out;
    if (flags & MDP_PUT_IF_ABSENT) {
        if (link(tmp.data, path.data) != 0) {
            int e = errno;
            rc = e == EEXIST ? mdp_diag_set(d, MDP_ERR_EXISTS, "%s: already exists", key)
                             : io_fail(d, e, "cannot publish", path.data);
            goto out;
        }
        unlink(tmp.data);
        have_tmp = 0;
    } else {
        if (rename(tmp.data, path.data) != 0) {
            rc = io_fail(d, errno, "cannot publish", path.data);
            goto out;
        }
        have_tmp = 0;
    }
    *strrchr(path.data, '/') = '\0';
    if (!(flags & MDP_PUT_NO_SYNC) && fsync_dir(path.data) != 0)
        rc = io_fail(d, errno, "cannot fsync folder", path.data);
out:
    if (fd >= 0) close(fd);
    if (have_tmp) unlink(tmp.data);
    mdp_buf_cleanup(&path);
    mdp_buf_cleanup(&tmp);
    return rc;
}

static int fget(struct mdp_store *s, const char *key, struct mdp_buf *out, struct mdp_diag *d)
{
    struct file_store *fs = s->impl;
    struct mdp_buf path;
    mdp_buf_init(&path);
    int rc = path_d(fs, key, &path, d);
    if (rc) goto out;
    int fd = open(path.data, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? mdp_diag_set(d, MDP_ERR_NOT_FOUND, "%s: no such object", key)
                             : io_fail(d, errno, "cannot open", path.data);
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND, "%s: is a folder, not an object", key);
        goto out;
    }
    if (st.st_size > 0 && (rc = mdp_buf_reserve(out, (size_t)st.st_size))) {
        close(fd);
        mdp_diag_set(d, rc, "%s: out of memory reading it", key);
        goto out;
    }
    for (;;) {
        if ((rc = mdp_buf_reserve(out, 65536))) {
            mdp_diag_set(d, rc, "%s: out of memory reading it", key);
            break;
        }
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = io_fail(d, errno, "cannot read", path.data);
            break;
        }
        if (n == 0) break;
        out->len += (size_t)n;
        out->data[out->len] = '\0';
    }
    close(fd);
out:
    mdp_buf_cleanup(&path);
    return rc;
}

static int fhead(struct mdp_store *s, const char *key, int64_t *out_size, struct mdp_diag *d)
{
    struct file_store *fs = s->impl;
    struct mdp_buf path;
    mdp_buf_init(&path);
    int rc = path_d(fs, key, &path, d);
    struct stat st;
    if (!rc && (stat(path.data, &st) != 0 || !S_ISREG(st.st_mode))) {
        rc = errno == ENOENT || (rc == 0 && !S_ISREG(st.st_mode))
                 ? mdp_diag_set(d, MDP_ERR_NOT_FOUND, "%s: no such object", key)
                 : io_fail(d, errno, "cannot stat", path.data);
    } else if (!rc && out_size) {
        *out_size = (int64_t)st.st_size;
    }
    mdp_buf_cleanup(&path);
    return rc;
}

struct entry {
    char *key;
    int64_t size, mtime_ms;
};

struct collect {
    struct entry *v;
    size_t n, cap;
};

static int64_t mtime_ms_of(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + (int64_t)(st->st_mtim.tv_nsec / 1000000);
}

static int collect_add(struct collect *c, const char *key, int64_t size, int64_t mtime_ms)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct entry *nv = realloc(c->v, cap * sizeof *nv);
        if (!nv) return MDP_ERR_NOMEM;
        c->v = nv;
        c->cap = cap;
    }
    if (!(c->v[c->n].key = strdup(key))) return MDP_ERR_NOMEM;
    c->v[c->n].mtime_ms = mtime_ms;
    c->v[c->n++].size = size;
    return 0;
}

/* Walks dir (key prefix rel) collecting objects whose key starts with prefix. */
static int walk(const char *dir, const char *rel, const char *prefix, struct collect *c,
                struct mdp_diag *d)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        return io_fail(d, errno, "cannot list", dir);
    }
    int rc = 0;
    struct dirent *de;
    size_t plen = strlen(prefix);
    while (!rc && (de = readdir(dh))) {
        const char *nm = de->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 || strncmp(nm, ".tmp-", 5) == 0) continue;
        char key[PATH_MAX], full[PATH_MAX];
        int k = snprintf(key, sizeof key, "%s%s%s", rel, *rel ? "/" : "", nm);
        int f = snprintf(full, sizeof full, "%s/%s", dir, nm);
        if (k < 0 || f < 0 || (size_t)k >= sizeof key || (size_t)f >= sizeof full) continue;
        /* prune: the key must share the prefix as far as both go */
        size_t kl = (size_t)k, m = kl < plen ? kl : plen;
        if (strncmp(key, prefix, m) != 0) continue;
        struct stat st;
        if (lstat(full, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            rc = walk(full, key, prefix, c, d);
        } else if (S_ISREG(st.st_mode) && kl >= plen) {
            rc = collect_add(c, key, (int64_t)st.st_size, mtime_ms_of(&st));
        }
    }
    closedir(dh);
    return rc;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

/* one listing for both callback shapes (exactly one of cb, tcb is set) */
static int list_any(struct mdp_store *s, const char *prefix, mdp_store_list_cb cb,
                    mdp_store_list_time_cb tcb, void *ud, struct mdp_diag *d)
{
    struct file_store *fs = s->impl;
    struct collect c = {0};
    int rc = walk(fs->root, "", prefix, &c, d);
    if (!rc) {
        if (c.n) qsort(c.v, c.n, sizeof *c.v, cmp_entry);
        for (size_t i = 0; i < c.n && !rc; i++)
            rc = cb ? cb(c.v[i].key, c.v[i].size, ud)
                    : tcb(c.v[i].key, c.v[i].size, c.v[i].mtime_ms, ud);
    }
    for (size_t i = 0; i < c.n; i++)
        free(c.v[i].key);
    free(c.v);
    return rc;
}

static int flist(struct mdp_store *s, const char *prefix, mdp_store_list_cb cb, void *ud,
                 struct mdp_diag *d)
{
    return list_any(s, prefix, cb, NULL, ud, d);
}

static int flist_time(struct mdp_store *s, const char *prefix, mdp_store_list_time_cb cb, void *ud,
                      struct mdp_diag *d)
{
    return list_any(s, prefix, NULL, cb, ud, d);
}

/* Collects every regular .tmp-* file under dir (names relative to the root) last modified before
 * before_ms: in _tmp/ where writes are staged, and inside data folders where versions before
 * _tmp/ staged them. */
static int walk_tmp(const char *dir, const char *rel, int64_t before_ms, struct collect *c,
                    struct mdp_diag *d)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        return io_fail(d, errno, "cannot list", dir);
    }
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(dh))) {
        const char *nm = de->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0) continue;
        char key[PATH_MAX], full[PATH_MAX];
        int k = snprintf(key, sizeof key, "%s%s%s", rel, *rel ? "/" : "", nm);
        int f = snprintf(full, sizeof full, "%s/%s", dir, nm);
        if (k < 0 || f < 0 || (size_t)k >= sizeof key || (size_t)f >= sizeof full) continue;
        struct stat st;
        if (lstat(full, &st) != 0) continue;
        if (S_ISDIR(st.st_mode))
            rc = walk_tmp(full, key, before_ms, c, d);
        else if (S_ISREG(st.st_mode) && strncmp(nm, ".tmp-", 5) == 0 &&
                 mtime_ms_of(&st) < before_ms)
            rc = collect_add(c, key, (int64_t)st.st_size, mtime_ms_of(&st));
    }
    closedir(dh);
    return rc;
}

static int forphans(struct mdp_store *s, int64_t before_ms, int remove, mdp_store_orphan_cb cb,
                    void *ud, struct mdp_diag *d)
{
    struct file_store *fs = s->impl;
    struct collect c = {0};
    int rc = walk_tmp(fs->root, "", before_ms, &c, d);
    if (!rc && c.n) qsort(c.v, c.n, sizeof *c.v, cmp_entry);
    for (size_t i = 0; i < c.n && !rc; i++) {
        if (cb) rc = cb(c.v[i].key, c.v[i].size, c.v[i].mtime_ms, ud);
        if (rc || !remove) continue;
        char full[PATH_MAX];
        if (snprintf(full, sizeof full, "%s/%s", fs->root, c.v[i].key) >= (int)sizeof full)
            continue;
        if (unlink(full) != 0 && errno != ENOENT) rc = io_fail(d, errno, "cannot remove", full);
    }
    for (size_t i = 0; i < c.n; i++)
        free(c.v[i].key);
    free(c.v);
    return rc;
}

static int fdel(struct mdp_store *s, const char *key, struct mdp_diag *d)
{
    struct file_store *fs = s->impl;
    struct mdp_buf path;
    mdp_buf_init(&path);
    int rc = path_d(fs, key, &path, d);
    if (!rc && unlink(path.data) != 0) {
        rc = errno == ENOENT ? mdp_diag_set(d, MDP_ERR_NOT_FOUND, "%s: no such object", key)
                             : io_fail(d, errno, "cannot delete", path.data);
    } else if (!rc) {
        /* an object store has no empty folders: the ones this delete emptied go too (rmdir
         * fails on a folder that is not empty, so a concurrent writer's object stays) */
        size_t rl = strlen(fs->root);
        char *sl;
        while ((sl = strrchr(path.data, '/')) && (size_t)(sl - path.data) > rl) {
            *sl = '\0';
            if (rmdir(path.data) != 0) break;
        }
        fsync_dir(path.data);
    }
    mdp_buf_cleanup(&path);
    return rc;
}

static int flocal(struct mdp_store *s, const char *key, struct mdp_buf *out)
{
    return path_of(s->impl, key, out);
}

static void fclose_store(struct mdp_store *s)
{
    struct file_store *fs = s->impl;
    free(fs->root);
    free(fs);
    free(s);
}

/* Streaming writer: a temporary file in the target folder, buffered writes, then the same
 * fsync + rename + folder fsync as put. */
struct file_writer {
    struct mdp_store_writer w;
    int fd;
    char *tmp, *path;
    char buf[1 << 20];
    size_t used;
};

static int fw_write_all(struct file_writer *fw, const char *p, size_t len, struct mdp_diag *d)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fw->fd, p + off, len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_fail(d, errno, "cannot write", fw->path);
        }
        off += (size_t)n;
    }
    return 0;
}

static int fw_flush(struct file_writer *fw, struct mdp_diag *d)
{
    int rc = fw_write_all(fw, fw->buf, fw->used, d);
    if (!rc) fw->used = 0;
    return rc;
}

/* pieces at least this large go to write() from the caller's memory when nothing is buffered:
 * no copy, and one write per piece (a caller that paces its writes keeps its pace) */
#define FW_DIRECT ((size_t)64 << 10)

static int fw_write(struct mdp_store_writer *w, const void *p, size_t n, struct mdp_diag *d)
{
    struct file_writer *fw = (struct file_writer *)w;
    const char *c = p;
    if (!fw->used && n >= FW_DIRECT) return fw_write_all(fw, c, n, d);
    while (n) {
        size_t k = sizeof fw->buf - fw->used < n ? sizeof fw->buf - fw->used : n;
        memcpy(fw->buf + fw->used, c, k);
        fw->used += k;
        c += k;
        n -= k;
        if (fw->used == sizeof fw->buf) {
            int rc = fw_flush(fw, d);
            if (rc) return rc;
        }
    }
    return 0;
}

static void fw_free(struct file_writer *fw)
{
    if (fw->fd >= 0) close(fw->fd);
    if (fw->tmp) unlink(fw->tmp);
    free(fw->tmp);
    free(fw->path);
    free(fw);
}

static void fw_abort(struct mdp_store_writer *w)
{
    fw_free((struct file_writer *)w);
}

static int fw_commit(struct mdp_store_writer *w, struct mdp_diag *d)
{
    struct file_writer *fw = (struct file_writer *)w;
    int rc = fw_flush(fw, d);
    if (!rc && fsync(fw->fd) != 0) rc = io_fail(d, errno, "cannot fsync", fw->path);
    if (!rc && close(fw->fd) != 0) rc = io_fail(d, errno, "cannot close", fw->path);
    fw->fd = -1;
    if (!rc) rc = mkdirs_for(fw->path, d); /* again: a delete may have removed an emptied one */
    if (!rc && rename(fw->tmp, fw->path) != 0) rc = io_fail(d, errno, "cannot publish", fw->path);
    if (!rc) {
        free(fw->tmp);
        fw->tmp = NULL;
        *strrchr(fw->path, '/') = '\0';
        if (fsync_dir(fw->path) != 0) rc = io_fail(d, errno, "cannot fsync folder", fw->path);
    }
    fw_free(fw);
    return rc;
}

static int fwriter_open(struct mdp_store *s, const char *key, struct mdp_store_writer **out,
                        struct mdp_diag *d)
{
    struct file_store *fs = s->impl;
    struct file_writer *fw = calloc(1, sizeof *fw);
    if (!fw) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    fw->fd = -1;
    struct mdp_buf path, tmp;
    mdp_buf_init(&path);
    mdp_buf_init(&tmp);
    int rc = path_d(fs, key, &path, d);
    if (!rc) rc = mkdirs_for(path.data, d);
    if (!rc) rc = tmp_path_for(fs, path.data, &tmp, d);
    if (!rc) {
        fw->fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fw->fd < 0) rc = io_fail(d, errno, "cannot create", tmp.data);
    }
    fw->tmp = mdp_buf_steal(&tmp);
    fw->path = mdp_buf_steal(&path);
    if (rc || !fw->tmp || !fw->path) {
        if (!rc) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        if (fw->fd < 0 && fw->tmp) {
            free(fw->tmp);
            fw->tmp = NULL;
        }
        fw_free(fw);
        return rc;
    }
    fw->w.write = fw_write;
    fw->w.commit = fw_commit;
    fw->w.abort = fw_abort;
    *out = &fw->w;
    return 0;
}

static const struct mdp_store_ops FILE_OPS = {
    .scheme = "file",
    .put = fput,
    .get = fget,
    .head = fhead,
    .list = flist,
    .del = fdel,
    .list_time = flist_time,
    .orphans = forphans,
    .writer_open = fwriter_open,
    .local_path = flocal,
    .close = fclose_store,
};

int mdp__store_file_open(const char *dir, int create, struct mdp_store **out, struct mdp_diag *d)
{
    *out = NULL;
    struct stat st;
    if (stat(dir, &st) != 0) {
        int e = errno;
        if (e != ENOENT || !create) return io_fail(d, e, "cannot open lake folder", dir);
        struct mdp_buf p;
        mdp_buf_init(&p);
        int rc = mdp_buf_printf(&p, "%s/x", dir);
        if (!rc) rc = mkdirs_for(p.data, d);
        mdp_buf_cleanup(&p);
        if (rc) return rc;
    } else if (!S_ISDIR(st.st_mode)) {
        return mdp_diag_set(d, MDP_ERR_IO, "%s: exists and is not a folder", dir);
    }
    char *abs = realpath(dir, NULL);
    if (!abs) return io_fail(d, errno, "cannot resolve", dir);
    if (access(abs, R_OK | W_OK | X_OK) != 0) {
        int e = errno;
        free(abs);
        return io_fail(d, e, "cannot use lake folder", dir);
    }
    struct mdp_store *s = calloc(1, sizeof *s);
    struct file_store *fs = calloc(1, sizeof *fs);
    if (!s || !fs) {
        free(s);
        free(fs);
        free(abs);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    fs->root = abs;
    remove_orphans(abs);
    s->ops = &FILE_OPS;
    s->impl = fs;
    *out = s;
    return 0;
}
