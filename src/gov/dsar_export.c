/* The export of a data subject's data (include/mdp/dsar.h, docs/privacy.md §5): the subject
 * locator finds every place, the inventory names every dataset and its Art. 15 information, and
 * the bundle is written beside its final name and renamed into place, so it is whole or absent.
 * The archive is POSIX ustar written here with fixed owners, modes and times (the platform links
 * no archive library; ustar is a header of fixed-width octal fields per file). */
#include "mdp/dsar.h"
#include "mdp/alloc.h"
#include "mdp/buf.h"
#include "mdp/hash.h"
#include "mdp/inventory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT "mdp-dsar-export/1"

struct xhit {
    size_t ds; /* index into the inventory */
    char *location, *pk, *sk;
    int64_t rows;
};
struct xhits {
    struct xhit *v;
    size_t n, cap;
    const struct mdp_inventory *inv;
};

static int keep_hit(const struct mdp_subject_hit *h, void *ud)
{
    struct xhits *x = ud;
    if (mdp_grow(&x->v, &x->cap, x->n + 1, sizeof *x->v, 32)) return MDP_ERR_NOMEM;
    struct xhit *t = &x->v[x->n];
    memset(t, 0, sizeof *t);
    t->ds = (size_t)(h->dataset - x->inv->datasets);
    t->rows = h->rows;
    t->location = mdp_strdup(h->location);
    t->pk = h->pk ? mdp_strdup(h->pk) : NULL;
    t->sk = h->sk ? mdp_strdup(h->sk) : NULL;
    if (!t->location || (h->pk && !t->pk) || (h->sk && !t->sk)) {
        free(t->location);
        free(t->pk);
        free(t->sk);
        return MDP_ERR_NOMEM;
    }
    x->n++;
    return 0;
}

static void xhits_cleanup(struct xhits *x)
{
    for (size_t i = 0; i < x->n; i++) {
        free(x->v[i].location);
        free(x->v[i].pk);
        free(x->v[i].sk);
    }
    free(x->v);
}

/* One file of the bundle. */
struct bfile {
    char *name;
    struct mdp_buf data;
    int64_t rows; /* -1: not a dataset file */
    const struct mdp_inv_dataset *ds;
    char sha[65];
};
struct bundle {
    struct bfile *v;
    size_t n, cap;
};

static struct bfile *bundle_add(struct bundle *b, const char *name)
{
    if (mdp_grow(&b->v, &b->cap, b->n + 1, sizeof *b->v, 16)) return NULL;
    struct bfile *f = &b->v[b->n];
    memset(f, 0, sizeof *f);
    mdp_buf_init(&f->data);
    f->rows = -1;
    if (!(f->name = mdp_strdup(name))) return NULL;
    b->n++;
    return f;
}

static void bundle_cleanup(struct bundle *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].name);
        mdp_buf_cleanup(&b->v[i].data);
    }
    free(b->v);
}

static int cmp_bfile(const void *a, const void *b)
{
    return strcmp(((const struct bfile *)a)->name, ((const struct bfile *)b)->name);
}

/* Why a dataset that can hold a person is not read here; NULL when it is. */
static const char *not_read_reason(const struct mdp_subject_ctx *ctx,
                                   const struct mdp_inv_dataset *ds)
{
    if (ds->nsubject_keys == 0 || mdp_subject_readable(ctx, ds)) return NULL;
    switch (ds->store) {
    case MDP_INV_SUPABASE:
        return "Supabase is not configured here (sources.supabase.dsn_env names no connection)";
    case MDP_INV_DYNAMODB:
        return "an AWS table: on the embedded platform its items are the state store's (the "
               "state.* datasets of this bundle)";
    case MDP_INV_EXTERNAL:
        return "a vendor's system the platform reads from; what the platform copied is in the "
               "raw and curated datasets of this bundle, the rest is held by the vendor (see "
               "art15.json: source and recipients)";
    case MDP_INV_STATE:
        return "the state store could not be opened";
    case MDP_INV_META:
        return "a copy the platform derives from another dataset of this bundle (the consent "
               "journal's gating fields) and rebuilds from it: the records are in that dataset's "
               "file";
    default:
        return "not a store the export reads";
    }
}

static void json_keys(struct mdp_buf *b, const struct mdp_subject_keys *k)
{
    mdp_buf_putc(b, '[');
    for (size_t i = 0; i < k->n; i++) {
        if (i) mdp_buf_putc(b, ',');
        mdp_buf_json_str(b, k->v[i]);
    }
    mdp_buf_putc(b, ']');
}

static void json_columns(struct mdp_buf *b, const struct mdp_inv_dataset *ds, enum mdp_pii cls)
{
    mdp_buf_putc(b, '[');
    int n = 0;
    for (size_t i = 0; i < ds->ncolumns; i++) {
        if (ds->columns[i].pii != cls) continue;
        if (n++) mdp_buf_putc(b, ',');
        mdp_buf_json_str(b, ds->columns[i].name);
    }
    mdp_buf_putc(b, ']');
}

static void json_field(struct mdp_buf *b, const char *key, const char *v, int comma)
{
    if (comma) mdp_buf_putc(b, ',');
    mdp_buf_json_str(b, key);
    mdp_buf_putc(b, ':');
    if (v)
        mdp_buf_json_str(b, v);
    else
        mdp_buf_puts(b, "null");
}

/* art15.json: the information Art. 15(1) and (2) GDPR ask for, per dataset, from the inventory. */
static void art15(struct mdp_buf *b, const struct mdp_subject_ctx *ctx, const struct mdp_subject *s,
                  const int64_t *rows)
{
    const struct mdp_inventory *inv = ctx->inv;
    mdp_buf_puts(b, "{\"format\":\"" FORMAT "\"");
    json_field(b, "controller", inv->controller, 1);
    json_field(b, "dpo", inv->dpo, 1);
    json_field(b, "security", inv->security, 1);
    json_field(b, "user_id", s->user_id, 1);
    json_field(b, "rights",
               "You may ask for rectification (Art. 16), erasure (Art. 17), restriction (Art. 18) "
               "and portability (Art. 20), object to processing based on legitimate interest "
               "(Art. 21), withdraw consent at any time for the future (Art. 7(3)), and lodge a "
               "complaint with a supervisory authority (Art. 77).",
               1);
    json_field(b, "automated_decisions",
               "Personalisation chooses the app's copy (tone, wording) from segments and features; "
               "it has no legal or similarly significant effect (Art. 22).",
               1);
    mdp_buf_puts(b, ",\"datasets\":[");
    int n = 0;
    for (size_t i = 0; i < inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &inv->datasets[i];
        if (ds->nsubject_keys == 0) continue;
        mdp_buf_puts(b, n++ ? ",{" : "{");
        json_field(b, "dataset", ds->name, 0);
        json_field(b, "store", mdp_inv_store_name(ds->store), 1);
        json_field(b, "location", ds->location, 1);
        json_field(b, "purpose", ds->purpose, 1);
        json_field(b, "legal_basis", ds->legal_basis, 1);
        json_field(b, "legal_basis_text", mdp_legal_basis_text(ds->legal_basis), 1);
        json_field(b, "subjects", ds->subjects, 1);
        json_field(b, "recipients", ds->recipients, 1);
        json_field(b, "transfers", ds->transfers, 1);
        json_field(b, "source", ds->source, 1);
        mdp_buf_puts(b, ",\"retention\":{");
        json_field(b, "period", ds->retention.period_text, 0);
        json_field(b, "clock", mdp_ret_clock_name(ds->retention.clock), 1);
        json_field(b, "column", ds->retention.column, 1);
        mdp_buf_putc(b, '}');
        json_field(b, "deletion", mdp_del_path_name(ds->deletion), 1);
        json_field(b, "deletion_text", mdp_del_path_text(ds->deletion), 1);
        mdp_buf_puts(b, ",\"personal_data\":{\"direct\":");
        json_columns(b, ds, MDP_PII_DIRECT);
        mdp_buf_puts(b, ",\"pseudonymous\":");
        json_columns(b, ds, MDP_PII_PSEUDONYMOUS);
        mdp_buf_putc(b, '}');
        const char *why = not_read_reason(ctx, ds);
        if (why)
            mdp_buf_puts(b, ",\"rows\":null");
        else
            mdp_buf_printf(b, ",\"rows\":%lld", (long long)rows[i]);
        mdp_buf_putc(b, '}');
    }
    mdp_buf_puts(b, "]}\n");
}

/* The SHA-256 of the file at path into hex. Returns 0 or -1 (unreadable). */
static int file_sha256(const char *path, char hex[65])
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    FILE *f = path ? fopen(path, "rb") : NULL;
    int rc = f ? 0 : -1;
    char chunk[8192];
    size_t n;
    while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        mdp_buf_append(&b, chunk, n);
    if (f && ferror(f)) rc = -1;
    if (f) fclose(f);
    if (!rc && (mdp_buf_error(&b) || mdp_sha256_hex(b.data ? b.data : "", b.len, hex))) rc = -1;
    mdp_buf_cleanup(&b);
    return rc;
}

/* ---- writing ---- */

static int write_file(const char *path, const void *p, size_t n, struct mdp_diag *d)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return mdp_diag_set(d, mdp_err_from_errno(errno), "cannot create %s: %s", path,
                            strerror(errno));
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            return mdp_diag_set(d, mdp_err_from_errno(e), "cannot write %s: %s", path, strerror(e));
        }
        c += w;
        n -= (size_t)w;
    }
    if (fsync(fd) || close(fd))
        return mdp_diag_set(d, mdp_err_from_errno(errno), "cannot write %s: %s", path,
                            strerror(errno));
    return 0;
}

/* A ustar header for name (split into prefix/name when long) of size bytes. */
static int tar_header(struct mdp_buf *t, const char *prefix, const char *name, size_t size, int dir)
{
    unsigned char h[512];
    memset(h, 0, sizeof h);
    if (strlen(name) >= 100 || strlen(prefix) >= 155) return MDP_ERR_RANGE;
    memcpy(h, name, strlen(name));
    snprintf((char *)h + 100, 8, "%07o", dir ? 0755u : 0644u);
    snprintf((char *)h + 108, 8, "%07o", 0u);
    snprintf((char *)h + 116, 8, "%07o", 0u);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    snprintf((char *)h + 136, 12, "%011o", 0u);
    memset(h + 148, ' ', 8);
    h[156] = dir ? '5' : '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    snprintf((char *)h + 329, 8, "%07o", 0u);
    snprintf((char *)h + 337, 8, "%07o", 0u);
    memcpy(h + 345, prefix, strlen(prefix));
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof h; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    return mdp_buf_append(t, h, sizeof h);
}

static int tar_build(struct mdp_buf *t, const char *base, const struct bundle *b)
{
    static const char zeros[512];
    char dirname[160];
    snprintf(dirname, sizeof dirname, "%s/", base);
    int rc =
        strlen(dirname) < 100 ? tar_header(t, "", dirname, 0, 1) : tar_header(t, base, "", 0, 1);
    for (size_t i = 0; !rc && i < b->n; i++) {
        const struct bfile *f = &b->v[i];
        rc = tar_header(t, base, f->name, f->data.len, 0);
        if (!rc && f->data.len) rc = mdp_buf_append(t, f->data.data, f->data.len);
        if (!rc && f->data.len % 512) rc = mdp_buf_append(t, zeros, 512 - f->data.len % 512);
    }
    /* the end: two zero blocks, then zeros up to a 10240-byte record as tar(1) writes it */
    if (!rc) rc = mdp_buf_append(t, zeros, 512);
    if (!rc) rc = mdp_buf_append(t, zeros, 512);
    while (!rc && t->len % 10240)
        rc = mdp_buf_append(t, zeros, 512);
    return rc;
}

static void remove_tree(const char *dir, const struct bundle *b)
{
    struct mdp_buf p;
    mdp_buf_init(&p);
    for (size_t i = 0; i < b->n; i++) {
        mdp_buf_reset(&p);
        mdp_buf_printf(&p, "%s/%s", dir, b->v[i].name);
        if (!mdp_buf_error(&p)) unlink(p.data);
    }
    mdp_buf_cleanup(&p);
    rmdir(dir);
}

int mdp_dsar_export(const struct mdp_subject_ctx *ctx, const struct mdp_subject *s,
                    const char *out_dir, struct mdp_dsar_export_stats *out, struct mdp_diag *d)
{
    const struct mdp_inventory *inv = ctx->inv;
    struct mdp_dsar_export_stats st;
    memset(&st, 0, sizeof st);
    if (out) *out = st;
    char dir[4096], tarpath[4200], tmpdir[4200], tmptar[4200];
    size_t dl = strlen(out_dir);
    while (dl > 1 && out_dir[dl - 1] == '/')
        dl--;
    if (dl == 0 || dl >= sizeof dir - 64)
        return mdp_diag_set(d, MDP_ERR_INVALID, "--out needs a folder path");
    memcpy(dir, out_dir, dl);
    dir[dl] = '\0';
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strlen(base) > 150)
        return mdp_diag_set(d, MDP_ERR_INVALID, "--out %s: name a new folder", out_dir);
    snprintf(tarpath, sizeof tarpath, "%s.tar", dir);
    snprintf(tmpdir, sizeof tmpdir, "%s.tmp-%ld", dir, (long)getpid());
    snprintf(tmptar, sizeof tmptar, "%s.tar.tmp-%ld", dir, (long)getpid());
    struct stat sb;
    if (stat(dir, &sb) == 0)
        return mdp_diag_set(d, MDP_ERR_EXISTS,
                            "%s exists: an export never overwrites; name a "
                            "new folder",
                            dir);
    if (stat(tarpath, &sb) == 0)
        return mdp_diag_set(d, MDP_ERR_EXISTS, "%s exists: an export never overwrites", tarpath);

    struct xhits hits = {NULL, 0, 0, inv};
    struct bundle b = {0};
    struct mdp_buf rows, tar;
    mdp_buf_init(&rows);
    mdp_buf_init(&tar);
    int64_t *per_ds = mdp_calloc(inv->ndatasets ? inv->ndatasets : 1, sizeof *per_ds);
    int made_dir = 0, rc = per_ds ? 0 : MDP_ERR_NOMEM;
    if (!rc) rc = mdp_subject_require_listed(ctx, "export", d); /* else it is incomplete */
    if (!rc) rc = mdp_subject_locate(ctx, s, keep_hit, &hits, NULL, d);
    if (rc == MDP_ERR_NOMEM) mdp_diag_set(d, rc, "out of memory locating the subject");
    if (!rc && hits.n == 0) {
        rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND,
                          "nothing about this subject in any store that was searched (%s); "
                          "nothing written",
                          ctx->pg_conninfo ? "the lake, its state store and Supabase"
                                           : "the lake and its state store; Supabase is not "
                                             "configured");
    }
    /* one file per readable dataset that can hold a person, in inventory order */
    size_t h = 0;
    for (size_t i = 0; !rc && i < inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &inv->datasets[i];
        if (ds->nsubject_keys == 0) continue;
        if (not_read_reason(ctx, ds)) {
            st.not_read++;
            continue;
        }
        char name[300];
        snprintf(name, sizeof name, "%s.ndjson", ds->name);
        struct bfile *f = bundle_add(&b, name);
        if (!f) {
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
            break;
        }
        f->ds = ds;
        f->rows = 0;
        st.datasets++;
        for (; !rc && h < hits.n && hits.v[h].ds == i; h++) {
            const struct xhit *x = &hits.v[h];
            struct mdp_subject_hit sh = {ds, x->location, x->pk, x->sk, x->rows};
            int64_t nrows = 0;
            mdp_buf_reset(&rows);
            rc = mdp_subject_rows(ctx, s, &sh, &rows, &nrows, d);
            st.hits++;
            /* each line: {"location": ..., "record": <the record>} */
            for (size_t p = 0; !rc && p < rows.len;) {
                const char *line = rows.data + p, *nl = memchr(line, '\n', rows.len - p);
                size_t len = nl ? (size_t)(nl - line) : rows.len - p;
                mdp_buf_puts(&f->data, "{\"location\":");
                mdp_buf_json_str(&f->data, x->location);
                mdp_buf_puts(&f->data, ",\"record\":");
                mdp_buf_append(&f->data, line, len);
                mdp_buf_puts(&f->data, "}\n");
                p += len + 1;
            }
            f->rows += nrows;
        }
        per_ds[i] = f->rows;
        st.rows += f->rows;
        if (!rc && mdp_buf_error(&f->data)) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    if (!rc) {
        struct bfile *f = bundle_add(&b, "art15.json");
        if (!f) rc = MDP_ERR_NOMEM;
        if (!rc) art15(&f->data, ctx, s, per_ds);
        if (!rc && mdp_buf_error(&f->data)) rc = MDP_ERR_NOMEM;
        if (rc) mdp_diag_set(d, rc, "out of memory");
    }
    if (!rc) {
        if (b.n) qsort(b.v, b.n, sizeof *b.v, cmp_bfile);
        for (size_t i = 0; !rc && i < b.n; i++)
            if (mdp_sha256_hex(b.v[i].data.data ? b.v[i].data.data : "", b.v[i].data.len,
                               b.v[i].sha))
                rc = mdp_diag_set(d, MDP_ERR_CRYPTO, "SHA-256 failed");
    }
    if (!rc) {
        struct mdp_buf m;
        mdp_buf_init(&m);
        mdp_buf_puts(&m, "{\"format\":\"" FORMAT "\",\"subject\":{");
        json_field(&m, "user_id", s->user_id, 0);
        mdp_buf_puts(&m, ",\"emails\":");
        json_keys(&m, &s->emails);
        mdp_buf_puts(&m, ",\"email_sha256\":");
        json_keys(&m, &s->email_sha);
        mdp_buf_puts(&m, ",\"account_ids\":");
        json_keys(&m, &s->account_ids);
        mdp_buf_puts(&m, ",\"external_ids\":");
        json_keys(&m, &s->external_ids);
        /* which inventory decided what was searched: its hash, not its path (a path differs
         * between machines, the bytes do not) */
        char ihex[65];
        mdp_buf_printf(&m, "},\"inventory_sha256\":");
        if (file_sha256(inv->file, ihex) == 0)
            mdp_buf_printf(&m, "\"%s\"", ihex);
        else
            mdp_buf_puts(&m, "null");
        mdp_buf_puts(&m, ",\"files\":[");
        for (size_t i = 0; i < b.n; i++) {
            const struct bfile *f = &b.v[i];
            mdp_buf_puts(&m, i ? ",{" : "{");
            json_field(&m, "name", f->name, 0);
            json_field(&m, "dataset", f->ds ? f->ds->name : NULL, 1);
            json_field(&m, "store", f->ds ? mdp_inv_store_name(f->ds->store) : NULL, 1);
            if (f->rows >= 0)
                mdp_buf_printf(&m, ",\"rows\":%lld", (long long)f->rows);
            else
                mdp_buf_puts(&m, ",\"rows\":null");
            mdp_buf_printf(&m, ",\"bytes\":%zu,\"sha256\":\"%s\"}", f->data.len, f->sha);
        }
        mdp_buf_puts(&m, "],\"not_read\":[");
        int n = 0;
        for (size_t i = 0; i < inv->ndatasets; i++) {
            const char *why = not_read_reason(ctx, &inv->datasets[i]);
            if (!why) continue;
            mdp_buf_puts(&m, n++ ? ",{" : "{");
            json_field(&m, "dataset", inv->datasets[i].name, 0);
            json_field(&m, "store", mdp_inv_store_name(inv->datasets[i].store), 1);
            json_field(&m, "why", why, 1);
            mdp_buf_putc(&m, '}');
        }
        mdp_buf_printf(&m,
                       "],\"totals\":{\"datasets\":%lld,\"not_read\":%lld,\"hits\":%lld,"
                       "\"rows\":%lld}}\n",
                       (long long)st.datasets, (long long)st.not_read, (long long)st.hits,
                       (long long)st.rows);
        struct bfile *f = mdp_buf_error(&m) ? NULL : bundle_add(&b, "manifest.json");
        if (!f) {
            mdp_buf_cleanup(&m);
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        } else {
            f->data = m;
            mdp_sha256_hex(f->data.data, f->data.len, f->sha);
            if (b.n) qsort(b.v, b.n, sizeof *b.v, cmp_bfile);
        }
    }
    st.files = (int64_t)b.n;
    if (!rc && (rc = tar_build(&tar, base, &b)))
        mdp_diag_set(d, rc,
                     rc == MDP_ERR_RANGE ? "a name is too long for the archive" : "out of memory");
    if (!rc && mdp_sha256_hex(tar.data, tar.len, st.tar_sha256))
        rc = mdp_diag_set(d, MDP_ERR_CRYPTO, "SHA-256 failed");
    /* write beside the final names, then rename: whole or absent */
    if (!rc) {
        if (mkdir(tmpdir, 0755))
            rc = mdp_diag_set(d, mdp_err_from_errno(errno), "cannot create %s: %s", tmpdir,
                              strerror(errno));
        else
            made_dir = 1;
    }
    for (size_t i = 0; !rc && i < b.n; i++) {
        struct mdp_buf p;
        mdp_buf_init(&p);
        mdp_buf_printf(&p, "%s/%s", tmpdir, b.v[i].name);
        rc = mdp_buf_error(&p)
                 ? mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory")
                 : write_file(p.data, b.v[i].data.data ? b.v[i].data.data : "", b.v[i].data.len, d);
        mdp_buf_cleanup(&p);
    }
    if (!rc) rc = write_file(tmptar, tar.data, tar.len, d);
    if (!rc && rename(tmpdir, dir))
        rc = mdp_diag_set(d, mdp_err_from_errno(errno), "cannot rename %s to %s: %s", tmpdir, dir,
                          strerror(errno));
    if (!rc) {
        made_dir = 0;
        if (rename(tmptar, tarpath)) {
            rc = mdp_diag_set(d, mdp_err_from_errno(errno), "cannot rename %s to %s: %s", tmptar,
                              tarpath, strerror(errno));
            remove_tree(dir, &b);
        }
    }
    if (rc) {
        if (made_dir) remove_tree(tmpdir, &b);
        unlink(tmptar);
    }
    if (!rc && out) *out = st;
    free(per_ds);
    mdp_buf_cleanup(&rows);
    mdp_buf_cleanup(&tar);
    bundle_cleanup(&b);
    xhits_cleanup(&hits);
    return rc;
}
