/* DuckDB engine wrapper (include/mdp/engine.h): the only file that includes duckdb.h. The C API is
 * resolved with dlopen/dlsym into one table of function pointers, so libmdp links without DuckDB
 * and reports a missing or wrong library in its own words. */
#include "mdp/engine.h"
#include "mdp/alloc.h"
#include "mdp/hash.h"

#include <dlfcn.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <duckdb.h>

#define DUCK_FUNCS(X)                                                                              \
    X(duckdb_library_version)                                                                      \
    X(duckdb_open)                                                                                 \
    X(duckdb_close)                                                                                \
    X(duckdb_connect)                                                                              \
    X(duckdb_disconnect)                                                                           \
    X(duckdb_query)                                                                                \
    X(duckdb_result_error)                                                                         \
    X(duckdb_destroy_result)                                                                       \
    X(duckdb_prepare)                                                                              \
    X(duckdb_prepare_error)                                                                        \
    X(duckdb_destroy_prepare)                                                                      \
    X(duckdb_pending_prepared_streaming)                                                           \
    X(duckdb_pending_error)                                                                        \
    X(duckdb_execute_pending)                                                                      \
    X(duckdb_destroy_pending)                                                                      \
    X(duckdb_fetch_chunk)                                                                          \
    X(duckdb_column_count)                                                                         \
    X(duckdb_column_name)                                                                          \
    X(duckdb_data_chunk_get_size)                                                                  \
    X(duckdb_data_chunk_get_vector)                                                                \
    X(duckdb_vector_get_data)                                                                      \
    X(duckdb_vector_get_validity)                                                                  \
    X(duckdb_validity_row_is_valid)                                                                \
    X(duckdb_destroy_data_chunk)                                                                   \
    X(duckdb_string_is_inlined)                                                                    \
    X(duckdb_string_t_length)                                                                      \
    X(duckdb_string_t_data)                                                                        \
    X(duckdb_appender_create)                                                                      \
    X(duckdb_appender_error)                                                                       \
    X(duckdb_appender_flush)                                                                       \
    X(duckdb_appender_destroy)                                                                     \
    X(duckdb_appender_end_row)                                                                     \
    X(duckdb_append_varchar)                                                                       \
    X(duckdb_append_int64)                                                                         \
    X(duckdb_append_double)                                                                        \
    X(duckdb_append_bool)                                                                          \
    X(duckdb_append_null)

static struct {
#define X(f) __typeof__(f) *f;
    DUCK_FUNCS(X)
#undef X
} api;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_msg[512];

static void load_library(void)
{
    const char *path = getenv("MDP_DUCKDB_LIB");
    if (!path || !*path) path = MDP_DUCKDB_DEFAULT_LIB;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        load_rc = MDP_ERR_NO_ENGINE;
        snprintf(load_msg, sizeof load_msg,
                 "cannot load the DuckDB library %s (%s); run scripts/install-deps.sh or set "
                 "MDP_DUCKDB_LIB to libduckdb.so",
                 path, dlerror());
        return;
    }
#define X(f)                                                                                       \
    if (!(*(void **)&api.f = dlsym(h, #f))) {                                                      \
        load_rc = MDP_ERR_NO_ENGINE;                                                               \
        snprintf(load_msg, sizeof load_msg, "%s lacks %s: DuckDB 1.4 or newer is required", path,  \
                 #f);                                                                              \
        return;                                                                                    \
    }
    DUCK_FUNCS(X)
#undef X
}

static int ensure_loaded(struct mdp_diag *d)
{
    pthread_once(&load_once, load_library);
    if (load_rc) return mdp_diag_set(d, load_rc, "%s", load_msg);
    return 0;
}

const char *mdp_engine_version(struct mdp_diag *d)
{
    if (ensure_loaded(d)) return NULL;
    return api.duckdb_library_version();
}

struct mdp_engine {
    duckdb_database db;
    duckdb_connection con;
};

/* 0 when the SQL built in b is whole; else its error with "out of memory building WHAT" in d, so
 * that a truncated statement never runs */
static int sql_built(const struct mdp_buf *b, const char *what, struct mdp_diag *d)
{
    int rc = mdp_buf_error(b);
    return rc ? mdp_diag_set(d, rc, "out of memory building %s", what) : 0;
}

int mdp_sql_quote(struct mdp_buf *out, const char *s)
{
    int rc = mdp_buf_putc(out, '\'');
    for (; !rc && *s; s++)
        rc = *s == '\'' ? mdp_buf_puts(out, "''") : mdp_buf_putc(out, *s);
    return rc ? rc : mdp_buf_putc(out, '\'');
}

int mdp_engine_open(const struct mdp_engine_opts *opts, struct mdp_engine **out, struct mdp_diag *d)
{
    *out = NULL;
    int rc = ensure_loaded(d);
    if (rc) return rc;
    struct mdp_engine *e = mdp_calloc(1, sizeof *e);
    if (!e) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    const char *path = opts && opts->db_path ? opts->db_path : NULL;
    if (api.duckdb_open(path, &e->db) != DuckDBSuccess) {
        free(e);
        return mdp_diag_set(d, MDP_ERR_ENGINE, "cannot open DuckDB database %s",
                            path ? path : "(in memory)");
    }
    if (api.duckdb_connect(e->db, &e->con) != DuckDBSuccess) {
        api.duckdb_close(&e->db);
        free(e);
        return mdp_diag_set(d, MDP_ERR_ENGINE, "cannot connect to DuckDB");
    }
    struct mdp_buf sql;
    mdp_buf_init(&sql);
    if (opts && opts->threads > 0) mdp_buf_printf(&sql, "SET threads = %ld;", opts->threads);
    if (opts && opts->memory_limit) {
        mdp_buf_puts(&sql, "SET memory_limit = ");
        mdp_sql_quote(&sql, opts->memory_limit);
        mdp_buf_puts(&sql, ";");
    }
    /* the lake is the only storage we use: no extension auto-install from the network */
    mdp_buf_puts(&sql,
                 "SET autoinstall_known_extensions = false; SET autoload_known_extensions = true;");
    rc = sql_built(&sql, "the settings of the SQL engine", d);
    if (!rc) rc = mdp_engine_exec(e, sql.data, d);
    mdp_buf_cleanup(&sql);
    if (rc) {
        mdp_engine_close(e);
        return rc;
    }
    *out = e;
    return 0;
}

void mdp_engine_close(struct mdp_engine *e)
{
    if (!e) return;
    api.duckdb_disconnect(&e->con);
    api.duckdb_close(&e->db);
    free(e);
}

int mdp_engine_exec(struct mdp_engine *e, const char *sql, struct mdp_diag *d)
{
    duckdb_result res;
    int rc = 0;
    if (api.duckdb_query(e->con, sql, &res) != DuckDBSuccess) {
        const char *err = api.duckdb_result_error(&res);
        rc = mdp_diag_set(d, MDP_ERR_ENGINE, "%s", err ? err : "query failed");
    }
    api.duckdb_destroy_result(&res);
    return rc;
}

int mdp_engine_query(struct mdp_engine *e, const char *sql, const struct mdp_rows_cb *cb,
                     struct mdp_diag *d)
{
    /* every column as text: DuckDB renders each type the way its own clients do */
    struct mdp_buf wrapped;
    mdp_buf_init(&wrapped);
    mdp_buf_printf(&wrapped, "SELECT COLUMNS(*)::VARCHAR FROM (%s\n) AS mdp_q", sql);
    int rc = sql_built(&wrapped, "a query", d);
    if (rc) {
        mdp_buf_cleanup(&wrapped);
        return rc;
    }
    duckdb_prepared_statement st = NULL;
    duckdb_pending_result pending = NULL;
    duckdb_result res;
    int have_res = 0;
    char **vals = NULL;
    const char **names = NULL;
    idx_t ncols = 0;
    if (api.duckdb_prepare(e->con, wrapped.data, &st) != DuckDBSuccess) {
        rc = mdp_diag_set(d, MDP_ERR_ENGINE, "%s", api.duckdb_prepare_error(st));
        goto out;
    }
    if (api.duckdb_pending_prepared_streaming(st, &pending) != DuckDBSuccess) {
        rc = mdp_diag_set(d, MDP_ERR_ENGINE, "%s", api.duckdb_pending_error(pending));
        goto out;
    }
    if (api.duckdb_execute_pending(pending, &res) != DuckDBSuccess) {
        have_res = 1;
        rc = mdp_diag_set(d, MDP_ERR_ENGINE, "%s", api.duckdb_result_error(&res));
        goto out;
    }
    have_res = 1;
    ncols = api.duckdb_column_count(&res);
    names = mdp_calloc(ncols + 1, sizeof *names);
    vals = mdp_calloc(ncols + 1, sizeof *vals);
    if (!names || !vals) {
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (idx_t c = 0; c < ncols; c++)
        names[c] = api.duckdb_column_name(&res, c);
    if (cb->header && (rc = cb->header(cb->ud, (int)ncols, names))) goto out;
    for (;;) {
        duckdb_data_chunk chunk = api.duckdb_fetch_chunk(res);
        if (!chunk) break;
        idx_t n = api.duckdb_data_chunk_get_size(chunk);
        duckdb_string_t *cols[ncols ? ncols : 1];
        uint64_t *valid[ncols ? ncols : 1];
        for (idx_t c = 0; c < ncols; c++) {
            duckdb_vector v = api.duckdb_data_chunk_get_vector(chunk, c);
            cols[c] = api.duckdb_vector_get_data(v);
            valid[c] = api.duckdb_vector_get_validity(v);
        }
        for (idx_t r = 0; r < n && !rc; r++) {
            for (idx_t c = 0; c < ncols; c++) {
                free(vals[c]);
                vals[c] = NULL;
                if (valid[c] && !api.duckdb_validity_row_is_valid(valid[c], r)) continue;
                duckdb_string_t *s = &cols[c][r];
                uint32_t len = api.duckdb_string_t_length(*s);
                const char *p = api.duckdb_string_t_data(s);
                vals[c] = mdp_malloc(len + 1);
                if (!vals[c]) {
                    rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
                    break;
                }
                memcpy(vals[c], p, len);
                vals[c][len] = '\0';
            }
            if (!rc && cb->row) rc = cb->row(cb->ud, (int)ncols, (const char *const *)vals);
        }
        api.duckdb_destroy_data_chunk(&chunk);
        if (rc) break;
    }
    {
        const char *err = api.duckdb_result_error(&res);
        if (!rc && err) rc = mdp_diag_set(d, MDP_ERR_ENGINE, "%s", err);
    }
out:
    for (idx_t c = 0; vals && c < ncols; c++)
        free(vals[c]);
    free(vals);
    free(names);
    if (have_res) api.duckdb_destroy_result(&res);
    if (pending) api.duckdb_destroy_pending(&pending);
    if (st) api.duckdb_destroy_prepare(&st);
    mdp_buf_cleanup(&wrapped);
    return rc;
}

struct scalar_ud {
    struct mdp_buf *out;
    int seen;
};

static int scalar_row(void *ud, int ncols, const char *const *v)
{
    struct scalar_ud *s = ud;
    if (s->seen++ || ncols < 1) return 0;
    return v[0] ? mdp_buf_puts(s->out, v[0]) : 0;
}

int mdp_engine_scalar(struct mdp_engine *e, const char *sql, struct mdp_buf *out,
                      struct mdp_diag *d)
{
    mdp_buf_reset(out);
    struct scalar_ud s = {out, 0};
    struct mdp_rows_cb cb = {NULL, scalar_row, &s};
    int rc = mdp_engine_query(e, sql, &cb, d);
    if (!rc && mdp_buf_error(out))
        rc = mdp_diag_set(d, mdp_buf_error(out), "out of memory reading a query's value");
    return rc;
}

struct mdp_appender {
    duckdb_appender app;
    int failed;
};

int mdp_appender_open(struct mdp_engine *e, const char *table, struct mdp_appender **out,
                      struct mdp_diag *d)
{
    *out = NULL;
    struct mdp_appender *a = mdp_calloc(1, sizeof *a);
    if (!a) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    if (api.duckdb_appender_create(e->con, NULL, table, &a->app) != DuckDBSuccess) {
        int rc = mdp_diag_set(d, MDP_ERR_ENGINE, "appender for %s: %s", table,
                              api.duckdb_appender_error(a->app));
        api.duckdb_appender_destroy(&a->app);
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

#define APPEND(call) (((call) == DuckDBSuccess) ? 0 : (a->failed = 1, MDP_ERR_ENGINE))

int mdp_append_str(struct mdp_appender *a, const char *v)
{
    return v ? APPEND(api.duckdb_append_varchar(a->app, v))
             : APPEND(api.duckdb_append_null(a->app));
}

int mdp_append_i64(struct mdp_appender *a, int64_t v)
{
    return APPEND(api.duckdb_append_int64(a->app, v));
}

int mdp_append_f64(struct mdp_appender *a, double v)
{
    return APPEND(api.duckdb_append_double(a->app, v));
}

int mdp_append_bool(struct mdp_appender *a, int v)
{
    return APPEND(api.duckdb_append_bool(a->app, v != 0));
}

int mdp_append_null(struct mdp_appender *a)
{
    return APPEND(api.duckdb_append_null(a->app));
}

int mdp_append_end_row(struct mdp_appender *a, struct mdp_diag *d)
{
    if (a->failed || api.duckdb_appender_end_row(a->app) != DuckDBSuccess) {
        a->failed = 0;
        return mdp_diag_set(d, MDP_ERR_ENGINE, "append: %s", api.duckdb_appender_error(a->app));
    }
    return 0;
}

int mdp_appender_close(struct mdp_appender *a, struct mdp_diag *d)
{
    if (!a) return 0;
    int rc = 0;
    if (api.duckdb_appender_flush(a->app) != DuckDBSuccess)
        rc = mdp_diag_set(d, MDP_ERR_ENGINE, "append flush: %s", api.duckdb_appender_error(a->app));
    api.duckdb_appender_destroy(&a->app);
    free(a);
    return rc;
}

/* ---- Parquet tables in the lake ---- */

struct files_ud {
    struct mdp_lake *lake;
    struct mdp_engine *e;
    struct mdp_manifest_file *v;
    size_t n, cap;
    struct mdp_diag *d;
};

static int collect_file(const char *key, int64_t size, void *ud)
{
    struct files_ud *f = ud;
    size_t kl = strlen(key);
    if (kl < 8 || strcmp(key + kl - 8, ".parquet") != 0) return 0;
    if (mdp_grow(&f->v, &f->cap, f->n, sizeof *f->v, 16))
        return mdp_diag_set(f->d, MDP_ERR_NOMEM, "out of memory listing %s", key);
    struct mdp_manifest_file *mf = &f->v[f->n];
    memset(mf, 0, sizeof *mf);
    if (!(mf->key = mdp_strdup(key)))
        return mdp_diag_set(f->d, MDP_ERR_NOMEM, "out of memory listing %s", key);
    f->n++;
    mf->bytes = size;
    struct mdp_buf bytes, path, sql, val;
    mdp_buf_init(&bytes);
    mdp_buf_init(&path);
    mdp_buf_init(&sql);
    mdp_buf_init(&val);
    int rc = mdp_store_get(f->lake->store, key, &bytes, f->d);
    if (!rc) rc = mdp_sha256_hex(bytes.data, bytes.len, mf->sha256);
    if (!rc) rc = mdp_store_local_path(f->lake->store, key, &path);
    if (!rc) {
        mdp_buf_puts(&sql, "SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata(");
        mdp_sql_quote(&sql, path.data);
        mdp_buf_puts(&sql, ")");
        rc = sql_built(&sql, "the row count of a parquet file", f->d);
        if (!rc) rc = mdp_engine_scalar(f->e, sql.data, &val, f->d);
        if (!rc) mf->rows = strtoll(val.data ? val.data : "0", NULL, 10);
    }
    mdp_buf_cleanup(&bytes);
    mdp_buf_cleanup(&path);
    mdp_buf_cleanup(&sql);
    mdp_buf_cleanup(&val);
    return rc;
}

/* The partition value of a file key ".../<col>=<value>/...": digits of a date_key (20261030) or of
 * a date (2026-10-30) both give YYYYMMDD. */
static int partition_key_of(const char *key, const char *col, int32_t *out)
{
    char pat[80];
    snprintf(pat, sizeof pat, "/%s=", col ? col : "date_key");
    const char *p = strstr(key, pat);
    if (!p) return -1;
    int32_t v = 0;
    int n = 0;
    for (p += strlen(pat); *p && *p != '/'; p++)
        if (*p >= '0' && *p <= '9' && n++ < 9) v = v * 10 + (*p - '0');
    *out = v;
    return n ? 0 : -1;
}

static int in_set(const int32_t *v, size_t n, int32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

int mdp_engine_write_table(struct mdp_engine *e, struct mdp_lake *lake, const char *sql,
                           const char *table, const char *partition_by, const char *run_id,
                           int64_t *out_rows, struct mdp_diag *d)
{
    return mdp_engine_write_partitions(e, lake, sql, table, partition_by, run_id, NULL, 0, out_rows,
                                       d);
}

int mdp_engine_write_partitions(struct mdp_engine *e, struct mdp_lake *lake, const char *sql,
                                const char *table, const char *partition_by, const char *run_id,
                                const int32_t *keys, size_t nkeys, int64_t *out_rows,
                                struct mdp_diag *d)
{
    struct mdp_buf prefix, dir, copy;
    mdp_buf_init(&prefix);
    mdp_buf_init(&dir);
    mdp_buf_init(&copy);
    struct files_ud f = {lake, e, NULL, 0, 0, d};
    int rc = mdp_buf_printf(&prefix, "%s/run-%s", table, run_id);
    if (!rc && !mdp_store_key_valid(prefix.data))
        rc = mdp_diag_set(d, MDP_ERR_INVALID, "bad table name '%s'", table);
    if (!rc && (rc = mdp_store_local_path(lake->store, prefix.data, &dir)))
        mdp_diag_set(d, rc, "table %s: the lake's store has no local paths", table);
    if (rc) goto out;
    {
        /* DuckDB creates neither the run folder nor its parents: a marker object does */
        struct mdp_buf k;
        mdp_buf_init(&k);
        mdp_buf_printf(&k, "%s/_run", prefix.data);
        rc = sql_built(&k, "the key of a run folder", d);
        if (!rc) rc = mdp_store_put(lake->store, k.data, run_id, strlen(run_id), 0, d);
        mdp_buf_cleanup(&k);
        /* an S3 lake: the run folder's local copy in the cache, where DuckDB writes */
        if (!rc) {
            mdp_buf_puts(&prefix, "/");
            rc = sql_built(&prefix, "the prefix of a run folder", d);
            if (!rc) rc = mdp_store_stage(lake->store, prefix.data, d);
            mdp_buf_truncate(&prefix, prefix.len - 1);
        }
        if (rc) goto out;
    }
    mdp_buf_printf(&copy, "COPY (%s\n) TO ", sql);
    if (partition_by && *partition_by) {
        mdp_sql_quote(&copy, dir.data);
        mdp_buf_printf(&copy,
                       " (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (%s), "
                       "WRITE_PARTITION_COLUMNS true, OVERWRITE_OR_IGNORE true, "
                       "FILENAME_PATTERN 'part_{i}')",
                       partition_by);
    } else {
        mdp_buf_puts(&dir, "/part_0.parquet");
        mdp_sql_quote(&copy, dir.data);
        mdp_buf_puts(&copy, " (FORMAT parquet, COMPRESSION zstd)");
    }
    if ((rc = sql_built(&copy, "the COPY that writes a table", d)) ||
        (rc = sql_built(&dir, "the COPY that writes a table", d)))
        goto out;
    if ((rc = mdp_engine_exec(e, copy.data, d))) goto out;
    mdp_buf_puts(&prefix, "/");
    /* an S3 lake: what DuckDB wrote into the local run folder becomes the run folder's objects */
    if ((rc = sql_built(&prefix, "the prefix of a run folder", d)) ||
        (rc = mdp_store_upload_local(lake->store, prefix.data, d)))
        goto out;
    if ((rc = sql_built(&prefix, "the prefix of a run folder", d))) goto out;
    if ((rc = mdp_store_list(lake->store, prefix.data, collect_file, &f, d))) goto out;
    /* the rows this run wrote (a kept partition's rows were written by an earlier run) */
    int64_t rows = 0;
    for (size_t i = 0; i < f.n; i++)
        rows += f.v[i].rows > 0 ? f.v[i].rows : 0;
    if (keys) {
        /* the other date_keys keep the files of the table's current state */
        struct mdp_manifest cur;
        struct mdp_diag nd = {0};
        if (mdp_lake_current(lake, table, &cur, &nd) == 0) {
            for (size_t i = 0; i < cur.nfiles && !rc; i++) {
                int32_t k;
                if (partition_key_of(cur.files[i].key, partition_by, &k) || in_set(keys, nkeys, k))
                    continue;
                if (mdp_grow(&f.v, &f.cap, f.n, sizeof *f.v, 16)) {
                    rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory listing table %s", table);
                    break;
                }
                f.v[f.n] = cur.files[i];
                if (!(f.v[f.n].key = mdp_strdup(cur.files[i].key))) {
                    rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory listing table %s", table);
                    break;
                }
                f.n++;
            }
            mdp_manifest_cleanup(&cur);
        }
    }
    if (!rc) rc = mdp_lake_publish(lake, table, f.v, f.n, run_id, NULL, d);
    if (!rc && out_rows) *out_rows = rows;
out:
    for (size_t i = 0; i < f.n; i++)
        free(f.v[i].key);
    free(f.v);
    mdp_buf_cleanup(&prefix);
    mdp_buf_cleanup(&dir);
    mdp_buf_cleanup(&copy);
    return rc;
}

int mdp_engine_publish_empty(struct mdp_engine *e, struct mdp_lake *lake, const char *table,
                             const char *run_id, struct mdp_diag *d)
{
    int rc = mdp_engine_attach_table(e, lake, table, "__mdp_emptied", d);
    if (!rc)
        rc = mdp_engine_write_table(e, lake, "SELECT * FROM \"__mdp_emptied\" LIMIT 0", table, NULL,
                                    run_id, NULL, d);
    struct mdp_diag nd = {0};
    mdp_engine_exec(e, "DROP VIEW IF EXISTS \"__mdp_emptied\"", &nd);
    return rc;
}

int mdp_engine_attach_table(struct mdp_engine *e, struct mdp_lake *lake, const char *table,
                            const char *view, struct mdp_diag *d)
{
    struct mdp_manifest m;
    int rc = mdp_lake_current(lake, table, &m, d);
    if (rc) return rc;
    struct mdp_buf sql, path;
    mdp_buf_init(&sql);
    mdp_buf_init(&path);
    mdp_buf_printf(&sql, "CREATE OR REPLACE VIEW \"%s\" AS ", view);
    if (m.nfiles == 0) {
        rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND, "table %s has no files", table);
        goto out;
    }
    mdp_buf_puts(&sql, "SELECT * FROM read_parquet([");
    for (size_t i = 0; i < m.nfiles && !rc; i++) {
        /* an S3 lake: the file is read from the local cache */
        if ((rc = mdp_store_stage_object(lake->store, m.files[i].key, m.files[i].bytes, d))) break;
        rc = mdp_store_local_path(lake->store, m.files[i].key, &path);
        if (rc) { /* path.data may be NULL */
            mdp_diag_set(d, rc, "table %s: no local path for %s", table, m.files[i].key);
            break;
        }
        if (i) mdp_buf_putc(&sql, ',');
        mdp_sql_quote(&sql, path.data);
    }
    mdp_buf_puts(&sql, "], hive_partitioning = false, union_by_name = true)");
    if (!rc) rc = sql_built(&sql, "the view of a table", d);
    if (!rc) rc = mdp_engine_exec(e, sql.data, d);
out:
    mdp_buf_cleanup(&sql);
    mdp_buf_cleanup(&path);
    mdp_manifest_cleanup(&m);
    return rc;
}
