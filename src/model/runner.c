/* The model runner (include/mdp/model.h): loads the models (*.sql files), orders them by their
 * depends, runs each as a DuckDB table, quarantines rows with a _reason, and publishes the models
 * that name a table as partitioned Parquet through the lake's manifests. Also attaches the
 * published state as views for queries, and the PII lint. */
#include "mdp/model.h"
#include "mdp/alloc.h"
#include "mdp/engine.h"
#include "mdp/hash.h"
#include "mdp/strset.h"
#include "mdp/log.h"
#include "mdp/ml.h"
#include "mdp/state.h"
#include "mdp/time.h"

#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MODELS 64
#define MAX_DEPS   16

struct model {
    char name[64], table[200], partition[64], file[600];
    /* a model made from a template (models/_templates/<template>.sql) and its parameters */
    char tmpl[64], source[64], key[64], version_ts[64], columns[512], toast[512];
    char *deps[MAX_DEPS];
    int ndeps;
    char *sql;
    int done;
    int64_t rows;
};

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == '\t'))
        s[--n] = '\0';
    size_t k = strspn(s, " \t");
    if (k) memmove(s, s + k, strlen(s + k) + 1);
}

static int header_value(const char *line, const char *key, char *out, size_t n)
    __attribute__((unused));
static int header_value(const char *line, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    if (strncmp(line, "-- ", 3) != 0 || strncmp(line + 3, key, kl) != 0 || line[3 + kl] != ':')
        return 0;
    /* a longer value is cut to n - 1 bytes, as the fields it goes to cut it further (a Release
     * build's -Wformat-truncation wants the cut seen) */
    int w = snprintf(out, n, "%s", line + 4 + kl);
    if (w < 0) out[0] = '\0';
    trim(out);
    return 1;
}

/* The column list of a template model: its names (trimmed, each a plain identifier) into
 * out[*n]; 0, or -1 when one is empty or not an identifier. The array holds at most cap. */
static int column_names(char *list, char **out, int cap, int *n)
{
    *n = 0;
    for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
        trim(t);
        if (!*t || *n == cap || strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(t))
            return -1;
        out[(*n)++] = t;
    }
    return 0;
}

/* The placeholders a template's SQL may hold, in the order expand() knows them. */
static const char *const PLACEHOLDERS[] = {
    "source",       "key",        "version_ts", "csv_columns", "row_columns",
    "null_columns", "toast_list", "toast_u",    "toast_fill",  NULL};

/* Appends placeholder k's text for model m (cols: its columns, the key first; toast: its toast
 * columns, none when nt is 0). */
static void expand(int k, const struct model *m, char *const *cols, int nc, char *const *toast,
                   int nt, struct mdp_buf *b)
{
    switch (k) {
    case 0:
    case 1:
    case 2:
        mdp_buf_puts(b, k == 0 ? m->source : k == 1 ? m->key : m->version_ts);
        break;
    case 3:
        for (int c = 0; c < nc; c++)
            mdp_buf_printf(b, "%s'%s': 'VARCHAR'", c ? ", " : "", cols[c]);
        break;
    case 4:
        for (int c = 1; c < nc; c++)
            mdp_buf_printf(b, "%s           json_extract_string(j, '$.row.%s') AS %s,",
                           c > 1 ? "\n" : "", cols[c], cols[c]);
        break;
    case 5:
        for (int c = 1; c < nc; c++)
            mdp_buf_printf(b, "%sNULL AS %s", c > 1 ? ", " : "", cols[c]);
        break;
    case 6:
        if (nt)
            mdp_buf_puts(b, ",\n           CAST(json_extract(json, '$.unchanged_toast') AS "
                            "VARCHAR[]) AS _u");
        break;
    case 7:
        if (nt) mdp_buf_puts(b, ", _u");
        break;
    default: /* toast_fill: a column left out of an update takes the previous version's value */
        if (!nt) {
            mdp_buf_puts(b, "    SELECT * FROM versions");
            break;
        }
        mdp_buf_puts(b, "    SELECT * REPLACE (");
        for (int c = 0; c < nt; c++)
            mdp_buf_printf(b,
                           "\n        CASE WHEN list_contains(_u, '%1$s') THEN (last_value(CASE "
                           "WHEN NOT coalesce(list_contains(_u, '%1$s'), false) THEN {'v': %1$s} "
                           "END IGNORE NULLS) OVER prev).v ELSE %1$s END AS %1$s%2$s",
                           toast[c], c + 1 < nt ? "," : ")");
        mdp_buf_printf(b,
                       "\n    FROM versions\n    WINDOW prev AS (PARTITION BY %s ORDER BY _ts "
                       "NULLS FIRST, _src, _lsn ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)",
                       m->key);
    }
}

/* The SQL of a template model: _templates/<m->tmpl>.sql of its folder (else of the built-in
 * models/), its leading comment lines left out, with the PLACEHOLDERS filled in from the model's
 * headers (every other {{...}}, such as {{raw}}, is left for mdp__model_expand). Appends to b; 0,
 * or an error naming the model's file. */
static int from_template(const char *dir, struct model *m, struct mdp_buf *b, struct mdp_diag *d)
{
    if (!m->source[0] || !m->key[0] || !m->version_ts[0] || !m->columns[0])
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "%s: template '%s' needs the headers source, key, version_ts and "
                            "columns",
                            m->file, m->tmpl);
    char list[512], tlist[512], *cols[64], *toast[64];
    int nc, nt = 0;
    snprintf(list, sizeof list, "%s", m->columns);
    if (column_names(list, cols, 64, &nc) || nc < 2 || strcmp(cols[0], m->key) != 0)
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "%s: columns must list identifiers, the key '%s' first, and at least "
                            "one more",
                            m->file, m->key);
    snprintf(tlist, sizeof tlist, "%s", m->toast);
    int bad = m->toast[0] && column_names(tlist, toast, 64, &nt);
    for (int t = 0; !bad && t < nt; t++) {
        int c = 1;
        while (c < nc && strcmp(cols[c], toast[t]) != 0)
            c++;
        bad = c == nc;
    }
    if (bad)
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "%s: toast must list columns named in columns, other than the key '%s'",
                            m->file, m->key);
    if (strspn(m->tmpl, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(m->tmpl))
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "%s: template '%s' is not a name of models/_templates/ (a-z, 0-9, _)",
                            m->file, m->tmpl);
    /* the models folder's own templates first, then the built-in ones (a folder of copied or
     * custom models need not copy the templates it does not change) */
    char path[800], builtin[800];
    snprintf(path, sizeof path, "%s/_templates/%s.sql", dir, m->tmpl);
    snprintf(builtin, sizeof builtin, "%s/models/_templates/%s.sql", MDP_SOURCE_DIR, m->tmpl);
    FILE *f = fopen(path, "rb");
    if (!f) f = fopen(builtin, "rb");
    if (!f)
        return mdp_diag_set(d, MDP_ERR_CONFIG, "%s: template '%s' not found (%s, %s)", m->file,
                            m->tmpl, path, builtin);
    struct mdp_buf t;
    mdp_buf_init(&t);
    char line[4096];
    int head = 1;
    while (fgets(line, sizeof line, f))
        if (!(head && strncmp(line, "--", 2) == 0)) {
            head = 0;
            mdp_buf_puts(&t, line);
        }
    fclose(f);
    for (const char *p = t.data ? t.data : ""; *p;) {
        int k = -1;
        size_t kl = 0;
        if (p[0] == '{' && p[1] == '{')
            for (int i = 0; PLACEHOLDERS[i] && k < 0; i++) {
                kl = strlen(PLACEHOLDERS[i]);
                if (strncmp(p + 2, PLACEHOLDERS[i], kl) == 0 && strncmp(p + 2 + kl, "}}", 2) == 0)
                    k = i;
            }
        if (k < 0) {
            mdp_buf_putc(b, *p++);
            continue;
        }
        p += 4 + kl;
        expand(k, m, cols, nc, toast, nt, b);
    }
    mdp_buf_cleanup(&t);
    return 0;
}

/* Reads model fname of folder dir from f (closed here) into m, whose file is set: its header, its
 * SQL (a template's filled in). 0, or an error naming the file; m holds what was read so far. */
static int read_model(const char *dir, const char *fname, FILE *f, struct model *m,
                      struct mdp_diag *d)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    char line[4096];
    int in_header = 1;
    while (fgets(line, sizeof line, f)) {
        char v[512];
        if (in_header && strncmp(line, "--", 2) == 0) {
            const struct {
                const char *key;
                char *dst;
                size_t n;
            } fields[] = {{"model", m->name, sizeof m->name},
                          {"table", m->table, sizeof m->table},
                          {"partition_by", m->partition, sizeof m->partition},
                          {"template", m->tmpl, sizeof m->tmpl},
                          {"source", m->source, sizeof m->source},
                          {"key", m->key, sizeof m->key},
                          {"version_ts", m->version_ts, sizeof m->version_ts},
                          {"columns", m->columns, sizeof m->columns},
                          {"toast", m->toast, sizeof m->toast}};
            int hit = 0;
            for (size_t i = 0; !hit && i < sizeof fields / sizeof *fields; i++)
                hit = header_value(line, fields[i].key, fields[i].dst, fields[i].n);
            if (!hit && header_value(line, "depends", v, sizeof v))
                for (char *t = strtok(v, ","); t && m->ndeps < MAX_DEPS; t = strtok(NULL, ",")) {
                    trim(t);
                    if (*t && !(m->deps[m->ndeps++] = mdp_strdup(t))) {
                        fclose(f);
                        mdp_buf_cleanup(&b);
                        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory reading %s", m->file);
                    }
                }
        } else {
            in_header = 0;
        }
        mdp_buf_puts(&b, line);
    }
    fclose(f);
    int trc = m->tmpl[0] ? from_template(dir, m, &b, d) : 0;
    if (trc) {
        mdp_buf_cleanup(&b);
        return trc;
    }
    m->sql = mdp_buf_steal(&b);
    if (!m->sql)
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory reading the SQL of %s", m->file);
    if (!m->name[0])
        return mdp_diag_set(d, MDP_ERR_CONFIG, "%s: the header has no '-- model: NAME'", m->file);
    char expect[80];
    snprintf(expect, sizeof expect, "%s.sql", m->name);
    if (strcmp(expect, fname) != 0)
        return mdp_diag_set(d, MDP_ERR_CONFIG, "%s: model '%s' must live in %s", m->file, m->name,
                            expect);
    return 0;
}

static int load_model(const char *dir, const char *fname, struct model *m, struct mdp_diag *d)
{
    memset(m, 0, sizeof *m);
    snprintf(m->file, sizeof m->file, "%s/%s", dir, fname);
    FILE *f = fopen(m->file, "rb");
    if (!f) return mdp_diag_set(d, MDP_ERR_IO, "%s: cannot read", m->file);
    return read_model(dir, fname, f, m, d);
}

static void free_models(struct model *ms, int n);

int mdp__model_parse(const char *dir, const char *fname, const char *text, size_t n,
                     struct mdp_diag *d)
{
    struct model m;
    memset(&m, 0, sizeof m);
    snprintf(m.file, sizeof m.file, "%s/%s", dir, fname);
    /* fmemopen refuses a size of 0: an empty file reads as one */
    FILE *f = n ? fmemopen((void *)text, n, "rb") : fopen("/dev/null", "rb");
    if (!f) return mdp_diag_set(d, MDP_ERR_NOMEM, "%s: cannot open the text", m.file);
    int rc = read_model(dir, fname, f, &m, d);
    free_models(&m, 1);
    return rc;
}

static void free_models(struct model *ms, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < ms[i].ndeps; k++)
            free(ms[i].deps[k]);
        free(ms[i].sql);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_all(const char *dir, struct model *ms, int *n, struct mdp_diag *d)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return mdp_diag_set(d, MDP_ERR_NOT_FOUND,
                            "%s: cannot open the models folder (curate.models_dir)", dir);
    char *names[MAX_MODELS];
    int k = 0, nomem = 0;
    for (struct dirent *e; (e = readdir(dh)) && k < MAX_MODELS;) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".sql") == 0 && e->d_name[0] != '.') {
            if ((names[k] = mdp_strdup(e->d_name)))
                k++;
            else
                nomem = 1;
        }
    }
    closedir(dh);
    qsort(names, (size_t)k, sizeof *names, cmp_str);
    int rc =
        nomem ? mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory listing the models in %s", dir) : 0;
    *n = 0;
    int was = rc;
    for (int i = 0; i < k; i++) {
        if (!rc && !(rc = load_model(dir, names[i], &ms[*n], d)))
            (*n)++;
        else if (!was) /* the model that failed: what it had read so far */
            free_models(&ms[*n], 1);
        was = rc;
        free(names[i]);
    }
    for (int i = 0; !rc && i < *n; i++)
        for (int j = 0; j < ms[i].ndeps && !rc; j++) {
            int found = 0;
            for (int q = 0; q < *n; q++)
                found |= strcmp(ms[q].name, ms[i].deps[j]) == 0;
            if (!found)
                rc = mdp_diag_set(d, MDP_ERR_CONFIG, "%s: depends on unknown model '%s'",
                                  ms[i].file, ms[i].deps[j]);
        }
    return rc;
}

/* a SQL string literal of s */
static void sql_quote(struct mdp_buf *out, const char *s)
{
    mdp_buf_putc(out, '\'');
    for (; *s; s++) {
        if (*s == '\'') mdp_buf_putc(out, '\'');
        mdp_buf_putc(out, *s);
    }
    mdp_buf_putc(out, '\'');
}

/* whether a file whose name starts with a dot sits where the pattern's last part would match it
 * (the last part with a dot in front: glob(3) skips such names, DuckDB's glob does not) */
static int hidden_beside(const char *pattern)
{
    const char *slash = strrchr(pattern, '/');
    if (!slash || slash[1] == '.') return 0;
    char hp[1300];
    if (snprintf(hp, sizeof hp, "%.*s/.%s", (int)(slash - pattern), pattern, slash + 1) >=
        (int)sizeof hp)
        return 0;
    glob_t g;
    int found = glob(hp, 0, NULL, &g) == 0 && g.gl_pathc > 0;
    globfree(&g);
    return found;
}

int mdp__model_expand(const char *sql, const struct mdp__model_vars *v, struct mdp_buf *out)
{
    mdp_buf_reset(out);
    const char *p = sql, *raw = v->raw, *empty_dir = v->empty_dir;
    while (*p) {
        if (strncmp(p, "'{{raw}}/", 9) == 0) {
            const char *end = strchr(p + 1, '\'');
            if (!end) return -1;
            char rel[512], path[1200];
            snprintf(rel, sizeof rel, "%.*s", (int)(end - (p + 9)), p + 9);
            snprintf(path, sizeof path, "%s/%s", raw, rel);
            glob_t g;
            int any = glob(path, 0, NULL, &g) == 0 && g.gl_pathc > 0;
            if (any && hidden_beside(path)) {
                /* DuckDB's glob also matches names with a leading dot (a partial object an older
                 * mdp left after a crash, macOS's ._ files): then the files glob(3) found, by name
                 */
                mdp_buf_putc(out, '[');
                for (size_t k = 0; k < g.gl_pathc; k++) {
                    if (k) mdp_buf_putc(out, ',');
                    sql_quote(out, g.gl_pathv[k]);
                }
                mdp_buf_putc(out, ']');
            } else if (any) {
                sql_quote(out, path);
            } else {
                const char *ext = strrchr(rel, '.');
                mdp_buf_printf(out, "'%s/empty%s'", empty_dir, ext ? ext : ".json");
            }
            globfree(&g);
            p = end + 1;
        } else if (strncmp(p, "{{raw}}", 7) == 0) {
            mdp_buf_puts(out, raw);
            p += 7;
        } else if (strncmp(p, "{{identity_max_users}}", 22) == 0) {
            mdp_buf_printf(out, "%ld", v->max_users);
            p += 22;
        } else if (v->date && strncmp(p, "{{date}}", 8) == 0) {
            mdp_buf_puts(out, v->date);
            p += 8;
        } else {
            mdp_buf_putc(out, *p++);
        }
    }
    return 0;
}

/* 0 when the text built in b is whole; else MDP_ERR_NOMEM with "out of memory building WHAT of
 * model NAME" in d, so that a truncated statement is never run */
static int built(const struct mdp_buf *b, const char *what, const char *name, struct mdp_diag *d)
{
    int rc = mdp_buf_error(b);
    if (!rc) return 0;
    return mdp_diag_set(d, rc, "out of memory building %s of model %s", what, name);
}

static int64_t scalar_i64(struct mdp_engine *e, const char *sql, struct mdp_diag *d)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    int64_t v = mdp_engine_scalar(e, sql, &b, d) == 0 && b.data ? strtoll(b.data, NULL, 10) : -1;
    mdp_buf_cleanup(&b);
    return v;
}

/* Rows with a _reason go to curated/_quarantine/<model>.ndjson (replaced on each full build, so
 * re-runs do not add; locations relative to the lake, so equal lakes give equal files). Returns the
 * number quarantined, or < 0. */
static int64_t quarantine_rows(struct mdp_engine *e, struct mdp_lake *lake, const struct model *m,
                               const char *raw_dir, const char *tmp_dir, struct mdp_diag *d)
{
    char sql[4096], path[1024];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM information_schema.columns WHERE table_name = '%s' AND "
             "column_name = '_reason'",
             m->name);
    if (scalar_i64(e, sql, d) != 1) return 0;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\" WHERE _reason IS NOT NULL", m->name);
    int64_t n = scalar_i64(e, sql, d);
    if (n <= 0) return n;
    snprintf(path, sizeof path, "%s/q-%s.ndjson", tmp_dir, m->name);
    snprintf(sql, sizeof sql,
             "COPY (SELECT reason, location, to_json(t)::VARCHAR AS payload FROM (SELECT _reason "
             "AS reason, "
             "replace(_location, '%s/', 'raw/') AS location, * EXCLUDE (_reason, _location) FROM "
             "\"%.63s\" "
             "WHERE _reason IS NOT NULL) t ORDER BY ALL) TO '%s' (FORMAT json)",
             raw_dir, m->name, path);
    int rc = mdp_engine_exec(e, sql, d);
    if (rc) return rc;
    FILE *f = fopen(path, "rb");
    struct mdp_buf b;
    mdp_buf_init(&b);
    char buf[65536];
    size_t k;
    while (f && (k = fread(buf, 1, sizeof buf, f)) > 0)
        mdp_buf_append(&b, buf, k);
    if (f) fclose(f);
    remove(path);
    char key[300];
    snprintf(key, sizeof key, "curated/_quarantine/%.63s.ndjson", m->name);
    rc = built(&b, "the quarantine file", m->name, d);
    if (!rc) rc = mdp_store_put(lake->store, key, b.data ? b.data : "", b.len, 0, d);
    mdp_buf_cleanup(&b);
    return rc ? rc : n;
}

/* Rows a model marks with _withheld (the purpose whose consent is missing) are left out of the
 * table and of everything built on it: raw keeps them (its own legal basis, the 90-day backup), and
 * unlike quarantined rows they are not copied anywhere, only counted (the run log's message).
 * Returns the number withheld, or < 0. */
static int64_t withhold_rows(struct mdp_engine *e, const struct model *m, struct mdp_diag *d)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM information_schema.columns WHERE table_name = '%.63s' AND "
             "column_name = '_withheld'",
             m->name);
    if (scalar_i64(e, sql, d) != 1) return 0;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%.63s\" WHERE _withheld IS NOT NULL",
             m->name);
    int64_t n = scalar_i64(e, sql, d);
    if (n < 0) return MDP_ERR_ENGINE;
    snprintf(sql, sizeof sql,
             "DELETE FROM \"%.63s\" WHERE _withheld IS NOT NULL; ALTER TABLE \"%.63s\" DROP "
             "COLUMN _withheld",
             m->name, m->name);
    int rc = mdp_engine_exec(e, sql, d);
    return rc ? rc : n;
}

/* The partitions to rebuild: keys (date_keys) when incremental; all when keys is NULL. */
struct scope {
    int32_t *keys;
    size_t n, cap;
    int nothing_new;
    struct mdp_buf seen_now; /* the raw objects curated by this run, for the next one */
};

/* bare_dir: the benchmark's baseline, the same SQL as plain DuckDB CREATE + COPY ... TO bare_dir,
 * without quarantine, hashing, manifests or the run log; NULL for the real thing. */
static int run_models(struct mdp_stage_ctx *ctx, struct mdp_run *run, const char *bare_dir,
                      const struct scope *sc, struct mdp_diag *d);

static int add_key(struct scope *sc, int64_t day)
{
    int32_t k = mdp_date_key_from_days(day);
    for (size_t i = 0; i < sc->n; i++)
        if (sc->keys[i] == k) return 0;
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 64;
        int32_t *nv = mdp_realloc(sc->keys, cap * sizeof *nv);
        if (!nv) return MDP_ERR_NOMEM;
        sc->keys = nv;
        sc->cap = cap;
    }
    sc->keys[sc->n++] = k;
    return 0;
}

struct seen_scan {
    struct scope *sc;
    struct mdp_strset *before, *now; /* now: the keys listed, when there is a before */
    long lookback;
    int rc;
    int64_t raw_bytes; /* what the models' raw globs cover (the cost model's bytes scanned) */
};

/* the day of a raw key and the lookback days before it become partitions to rebuild */
static int add_key_days(struct seen_scan *s, const char *key)
{
    const char *dt = strstr(key, "/dt=");
    int64_t day;
    char buf[11];
    if (!dt || strlen(dt) < 14) return 0;
    memcpy(buf, dt + 4, 10);
    buf[10] = '\0';
    if (mdp_date_parse(buf, &day)) return 0;
    for (long k = 0; k <= s->lookback; k++)
        if ((s->rc = add_key(s->sc, day - k))) return s->rc;
    return 0;
}

static int scan_raw(const char *key, int64_t size, void *ud)
{
    struct seen_scan *s = ud;
    if (strncmp(key, "raw/_quarantine/", 16) == 0) return 0;
    s->raw_bytes += size;
    mdp_buf_printf(&s->sc->seen_now, "%s\n", key);
    if (s->now && mdp_strset_add(s->now, key, strlen(key)) < 0) return s->rc = MDP_ERR_NOMEM;
    if (!s->before || mdp_strset_has(s->before, key, strlen(key))) return 0;
    return add_key_days(s, key);
}

int mdp_curate(struct mdp_stage_ctx *ctx, const struct mdp_curate_opts *o, struct mdp_run *run,
               struct mdp_diag *d)
{
    struct scope sc;
    memset(&sc, 0, sizeof sc);
    mdp_buf_init(&sc.seen_now);
    struct mdp_buf prev;
    mdp_buf_init(&prev);
    struct mdp_diag nd = {0};
    int rc = 0;
    int have_prev = mdp_store_get(ctx->lake->store, "_meta/state/curate/raw_seen", &prev, &nd) == 0;
    struct mdp_strset *before = NULL;
    if (have_prev && !o->full && o->from_day < 0) { /* what the last run took in */
        before = mdp_strset_new();
        for (char *p = prev.data, *nl; p && *p && before; p = nl + 1) {
            if (!(nl = strchr(p, '\n'))) break;
            if (mdp_strset_add(before, p, (size_t)(nl - p)) < 0) {
                mdp_strset_free(before); /* then !before && have_prev: out of memory below */
                before = NULL;
            }
        }
    }
    struct mdp_strset *now = before ? mdp_strset_new() : NULL;
    struct seen_scan s = {&sc, before, now, ctx->cfg->curate_lookback_days, 0, 0};
    if ((have_prev && !o->full && o->from_day < 0 && !before) || (before && !now))
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory reading what curate took in before");
    else
        rc = mdp_store_list(ctx->lake->store, "raw/", scan_raw, &s, d);
    if (!rc && mdp_buf_error(&sc.seen_now)) rc = MDP_ERR_NOMEM;
    /* an object taken in before and gone now (compacted by vacuum, dropped by retention) changes
     * its day as much as a new one does */
    for (char *p = prev.data, *nl; !rc && now && p && *p; p = nl + 1) {
        if (!(nl = strchr(p, '\n'))) break;
        if (mdp_strset_has(now, p, (size_t)(nl - p))) continue;
        *nl = '\0';
        rc = add_key_days(&s, p);
        *nl = '\n';
    }
    if (!rc && o->from_day >= 0)
        for (int64_t day = o->from_day; day <= o->to_day && !rc; day++)
            rc = add_key(&sc, day);
    if (rc == MDP_ERR_NOMEM && !strstr(d->msg, "out of memory"))
        rc = mdp_diag_set(d, rc, "out of memory choosing the partitions to rebuild");
    int incremental = !o->full && (o->from_day >= 0 || before);
    if (!rc && incremental && sc.n == 0) sc.nothing_new = 1;
    if (!rc && !incremental) {
        free(sc.keys);
        sc.keys = NULL;
        sc.n = 0;
    }
    if (!rc && sc.nothing_new) {
        struct mdp_run r;
        mdp_run_begin(&r, "curate");
        snprintf(r.message, sizeof r.message,
                 "no new raw data since the last run: nothing to rebuild");
        mdp_run_end(ctx->lake, &r, "ok", &nd);
        if (ctx->on_run) ctx->on_run(&r, ctx->ud);
    } else if (!rc) {
        run->scanned_bytes += s.raw_bytes;
        rc = run_models(ctx, run, NULL, &sc, d);
        /* the next incremental run starts from what this one took in */
        if (!rc)
            rc = mdp_store_put(ctx->lake->store, "_meta/state/curate/raw_seen",
                               sc.seen_now.data ? sc.seen_now.data : "", sc.seen_now.len, 0, d);
    }
    mdp_strset_free(before);
    mdp_strset_free(now);
    mdp_buf_cleanup(&prev);
    mdp_buf_cleanup(&sc.seen_now);
    free(sc.keys);
    return rc;
}

int mdp_curate_run(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d)
{
    struct mdp_curate_opts o = {0, -1, -1};
    return mdp_curate(ctx, &o, run, d);
}

int mdp__curate_bare(struct mdp_stage_ctx *ctx, const char *dir, struct mdp_diag *d)
{
    struct mdp_run run;
    mdp_run_begin(&run, "bare");
    struct scope sc;
    memset(&sc, 0, sizeof sc);
    return run_models(ctx, &run, dir, &sc, d);
}

static int run_models(struct mdp_stage_ctx *ctx, struct mdp_run *run, const char *bare_dir,
                      const struct scope *sc, struct mdp_diag *d)
{
    static struct model ms[MAX_MODELS];
    const char *dir = mdp_config_path(ctx->cfg->models_dir, MDP_SOURCE_DIR "/models");
    int n = 0, rc = load_all(dir, ms, &n, d);
    struct mdp_engine *e = NULL;
    struct mdp_buf raw, tmp, sql, exp;
    mdp_buf_init(&raw);
    mdp_buf_init(&tmp);
    mdp_buf_init(&sql);
    mdp_buf_init(&exp);
    if (rc) goto out;
    struct mdp_diag nd = {0};
    /* empty stand-ins for sources that delivered nothing yet */
    if ((rc = mdp_store_put(ctx->lake->store, "_meta/tmp/empty.json", "", 0, 0, d)) ||
        (rc = mdp_store_put(ctx->lake->store, "_meta/tmp/empty.ndjson", "", 0, 0, d)) ||
        (rc = mdp_store_put(ctx->lake->store, "_meta/tmp/empty.csv", "", 0, 0, d)))
        goto out;
    if ((rc = mdp_store_local_path(ctx->lake->store, "raw", &raw)) ||
        (rc = mdp_store_local_path(ctx->lake->store, "_meta/tmp", &tmp))) {
        rc = mdp_diag_set(d, rc, "curate: the lake's store has no local paths");
        goto out;
    }
    /* DuckDB reads local files: an S3 lake's raw zone and scratch files are staged into its
     * local cache (only what is not there yet: raw objects never change) */
    if ((rc = mdp_store_stage(ctx->lake->store, "raw/", d)) ||
        (rc = mdp_store_stage(ctx->lake->store, "_meta/tmp/", d)))
        goto out;
    /* a scratch database on disk: its tables are buffer-managed, so a build larger than
     * memory_limit is evicted to disk instead of failing; removed when the run ends */
    char scratch[1200];
    snprintf(scratch, sizeof scratch, "%s/curate-%s.duckdb", tmp.data, run->run_id);
    struct mdp_engine_opts eo = {scratch, ctx->cfg->engine_threads, ctx->cfg->engine_memory_limit};
    if ((rc = mdp_engine_open(&eo, &e, d))) goto out;
    mdp_engine_exec(e, "SET TimeZone = 'UTC'", &nd);
    /* large builds spill to the lake's tmp folder rather than fail at memory_limit; the models
     * sort where order matters, so insertion order need not be kept (it costs memory) */
    mdp_buf_reset(&sql);
    mdp_buf_puts(&sql, "SET preserve_insertion_order = false; SET temp_directory = ");
    mdp_buf_printf(&exp, "%s/duckdb", tmp.data);
    if (!mdp_buf_error(&exp)) mdp_sql_quote(&sql, exp.data); /* exp.data may be NULL else */
    if ((rc = mdp_buf_error(&exp)) || (rc = mdp_buf_error(&sql))) {
        rc = mdp_diag_set(d, rc, "out of memory building the SQL that sets up curate");
        goto out;
    }
    if ((rc = mdp_engine_exec(e, sql.data, d))) goto out;
    /* the consent journal, for the models that gate on consent (fact_onboarding_steps: the app's
     * events need valid analytics consent at the event's time, docs/curated.md) */
    {
        struct mdp_state *st = NULL;
        int64_t nrec = 0;
        rc = mdp_state_open_lake(ctx->lake, &st, d);
        if (!rc) rc = mdp__consent_journal_load(e, ctx->lake, st, &nrec, d);
        mdp_state_close(st);
        if (rc) goto out;
    }
    for (int round = 0; !rc && round < n; round++) {
        int progressed = 0;
        for (int i = 0; i < n && !rc; i++) {
            struct model *m = &ms[i];
            if (m->done) continue;
            int ready = 1;
            int64_t in = 0;
            for (int k = 0; k < m->ndeps; k++)
                for (int q = 0; q < n; q++)
                    if (strcmp(ms[q].name, m->deps[k]) == 0) {
                        ready &= ms[q].done;
                        in += ms[q].rows;
                    }
            if (!ready) continue;
            progressed = 1;
            struct mdp_run r;
            char job[96];
            snprintf(job, sizeof job, "curate.%.63s", m->name);
            mdp_run_begin(&r, job);
            struct mdp__model_vars mv = {raw.data, tmp.data, ctx->cfg->identity_max_users, NULL};
            if (mdp__model_expand(m->sql, &mv, &exp)) {
                rc = mdp_diag_set(d, MDP_ERR_CONFIG, "%s: an unterminated '{{raw}}/...' path",
                                  m->file);
                break;
            }
            if ((rc = built(&exp, "the SQL", m->name, d))) break;
            /* on the SQL's first line, so DuckDB's LINE numbers are the file's */
            mdp_buf_reset(&sql);
            mdp_buf_printf(&sql, "CREATE OR REPLACE TABLE \"%s\" AS %s", m->name, exp.data);
            if ((rc = built(&sql, "the SQL", m->name, d))) break;
            struct mdp_diag md = {0};
            if (bare_dir) { /* the baseline: the engine alone */
                if (mdp_engine_exec(e, sql.data, &md) || withhold_rows(e, m, &md) < 0) {
                    rc = mdp_diag_set(d, MDP_ERR_ENGINE, "%s: %.400s", m->file, md.msg);
                } else if (m->table[0]) {
                    mdp_buf_reset(&sql);
                    mdp_buf_printf(
                        &sql,
                        "COPY \"%.63s\" TO '%s/%.63s' (FORMAT parquet, COMPRESSION zstd%s%s%s)",
                        m->name, bare_dir, m->name, m->partition[0] ? ", PARTITION_BY (" : "",
                        m->partition[0] ? m->partition : "",
                        m->partition[0] ? "), OVERWRITE_OR_IGNORE true" : "");
                    if (!m->partition[0]) {
                        mdp_buf_reset(&sql);
                        mdp_buf_printf(&sql,
                                       "COPY \"%.63s\" TO '%s/%.63s.parquet' (FORMAT parquet, "
                                       "COMPRESSION zstd)",
                                       m->name, bare_dir, m->name);
                    }
                    if ((rc = built(&sql, "the COPY", m->name, d))) break;
                    if (mdp_engine_exec(e, sql.data, &md))
                        rc = mdp_diag_set(d, MDP_ERR_ENGINE, "%.400s", md.msg);
                }
                m->done = 1;
                continue;
            }
            if (mdp_engine_exec(e, sql.data, &md)) {
                rc = mdp_diag_set(d, MDP_ERR_ENGINE, "%s: %.400s", m->file, md.msg);
            } else {
                char cq[256];
                snprintf(cq, sizeof cq, "SELECT count(*) FROM \"%.63s\"", m->name);
                m->rows = scalar_i64(e, cq, d);
                int64_t q = quarantine_rows(e, ctx->lake, m, raw.data, tmp.data, d);
                if (q < 0) rc = (int)q;
                int64_t withheld = rc ? 0 : withhold_rows(e, m, d);
                if (withheld < 0) rc = (int)withheld;
                if (withheld > 0) m->rows -= withheld;
                r.quarantined = q > 0 ? q : 0;
                r.in = m->ndeps ? in : m->rows;
                r.out = m->rows - r.quarantined;
                if (!rc && m->table[0]) {
                    /* incremental: a partitioned table rewrites only the affected date_keys */
                    int partial =
                        sc->keys && m->partition[0] && strcmp(m->partition, "date_key") == 0;
                    if (partial) { /* a table never published is written whole */
                        struct mdp_manifest cur;
                        struct mdp_diag cd = {0};
                        partial = mdp_lake_current(ctx->lake, m->table, &cur, &cd) == 0;
                        if (partial) mdp_manifest_cleanup(&cur);
                    }
                    mdp_buf_reset(&sql);
                    mdp_buf_printf(&sql, "SELECT * FROM \"%s\"", m->name);
                    if (partial) {
                        mdp_buf_puts(&sql, " WHERE date_key IN (0");
                        for (size_t k = 0; k < sc->n; k++)
                            mdp_buf_printf(&sql, ",%d", (int)sc->keys[k]);
                        mdp_buf_putc(&sql, ')');
                    }
                    int64_t written = 0;
                    rc = built(&sql, "the SELECT that publishes", m->name, d);
                    if (!rc)
                        rc = mdp_engine_write_partitions(e, ctx->lake, sql.data, m->table,
                                                         m->partition[0] ? m->partition : NULL,
                                                         run->run_id, partial ? sc->keys : NULL,
                                                         partial ? sc->n : 0, &written, d);
                    if (rc) {
                        char why[300];
                        snprintf(why, sizeof why, "%.290s", d->msg);
                        mdp_diag_set(d, rc, "%s: publishing %s: %s", m->file, m->table, why);
                    }
                    char wh[96] = "";
                    if (withheld > 0)
                        snprintf(wh, sizeof wh, "; %lld withheld: no valid analytics consent",
                                 (long long)withheld);
                    if (partial)
                        snprintf(r.message, sizeof r.message,
                                 "published %s (%lld rows; %zu date_keys rebuilt%s)", m->table,
                                 (long long)written, sc->n, wh);
                    else
                        snprintf(r.message, sizeof r.message, "published %s (%lld rows%s)",
                                 m->table, (long long)written, wh);
                }
            }
            if (rc && !r.message[0]) snprintf(r.message, sizeof r.message, "%.500s", d->msg);
            m->done = 1;
            run->in += r.in;
            run->out += m->table[0] ? r.out : 0;
            run->quarantined += r.quarantined;
            struct mdp_diag ld = {0};
            mdp_run_end(ctx->lake, &r, rc ? "failed" : "ok", &ld);
            if (ctx->on_run) ctx->on_run(&r, ctx->ud);
        }
        if (!progressed) {
            rc = mdp_diag_set(d, MDP_ERR_CONFIG, "curate: the models' depends form a cycle");
            break;
        }
        int all = 1;
        for (int i = 0; i < n; i++)
            all &= ms[i].done;
        if (all) break;
    }
out:
    mdp_engine_close(e);
    if (e) {
        char wal[1300];
        remove(scratch);
        snprintf(wal, sizeof wal, "%s.wal", scratch);
        remove(wal);
    }
    free_models(ms, n);
    mdp_buf_cleanup(&raw);
    mdp_buf_cleanup(&tmp);
    mdp_buf_cleanup(&sql);
    mdp_buf_cleanup(&exp);
    return rc;
}

/* ---- reading the published state ---- */

struct tables {
    char *v[128];
    int n;
};

static int keep_table(const char *table, void *ud)
{
    struct tables *t = ud;
    if (t->n < 128 && !strstr(table, "/_")) t->v[t->n++] = strdup(table);
    return 0;
}

/* The published curated and ml tables (the caller frees the names). */
static int published_tables(struct mdp_lake *lake, struct tables *t, struct mdp_diag *d)
{
    memset(t, 0, sizeof *t);
    int rc = mdp_lake_tables(lake, "curated/", keep_table, t, d);
    if (!rc) rc = mdp_lake_tables(lake, "ml/", keep_table, t, d);
    return rc;
}

int mdp_curate_tables(struct mdp_lake *lake, int (*cb)(const char *table, void *ud), void *ud,
                      struct mdp_diag *d)
{
    struct tables t;
    int rc = published_tables(lake, &t, d);
    for (int i = 0; i < t.n; i++) {
        if (!rc) rc = cb(t.v[i], ud);
        free(t.v[i]);
    }
    return rc;
}

/* The lake keeps the short folder names of the first release (ml/features, ml/segments: paths
 * are part of the published state and of readers' bookmarks); the specification's names are the
 * views'. The segment table has no name in the spec (section 3 only has ml/segments/, "user
 * segments"): ml_user_segments follows ml_user_features. */
static const struct {
    const char *table, *spec;
} SPEC_NAMES[] = {
    {"ml/features", "ml_user_features"},
    {"ml/segments", "ml_user_segments"},
};

const char *mdp_table_spec_name(const char *table, const char **out_alias)
{
    const char *last = strrchr(table, '/');
    last = last ? last + 1 : table;
    if (out_alias) *out_alias = NULL;
    for (size_t i = 0; i < sizeof SPEC_NAMES / sizeof SPEC_NAMES[0]; i++)
        if (strcmp(table, SPEC_NAMES[i].table) == 0) {
            if (out_alias) *out_alias = last;
            return SPEC_NAMES[i].spec;
        }
    return last;
}

/* Tables of the lake's own bookkeeping that queries see as well (not curated, so neither in the
 * catalog nor checked by the PII lint): lake table, view. */
static const char *const META_VIEWS[][2] = {
    {"_meta/tables/dq_results", "dq_results"},
};

int mdp_curate_attach_all(struct mdp_engine *e, struct mdp_lake *lake, int *out_n,
                          struct mdp_diag *d)
{
    struct tables t;
    int rc = published_tables(lake, &t, d);
    int n = 0;
    for (size_t i = 0; !rc && i < sizeof META_VIEWS / sizeof META_VIEWS[0]; i++) {
        int r = mdp_engine_attach_table(e, lake, META_VIEWS[i][0], META_VIEWS[i][1], d);
        if (r == 0)
            n++;
        else if (r != MDP_ERR_NOT_FOUND)
            rc = r;
    }

    for (int i = 0; i < t.n; i++) {
        if (!rc) {
            const char *alias = NULL, *view = mdp_table_spec_name(t.v[i], &alias);
            int r = mdp_engine_attach_table(e, lake, t.v[i], view, d);
            if (r == 0) {
                n++;
                if (alias) {
                    char sql[200];
                    snprintf(sql, sizeof sql,
                             "CREATE OR REPLACE VIEW \"%s\" AS SELECT * FROM \"%s\"", alias, view);
                    rc = mdp_engine_exec(e, sql, d);
                }
            } else if (r != MDP_ERR_NOT_FOUND) {
                rc = r;
            }
        }
        free(t.v[i]);
    }
    if (out_n) *out_n = n;
    return rc;
}

struct cols {
    char names[64][64];
    int n;
};

static int col_row(void *ud, int ncols, const char *const *v)
{
    struct cols *c = ud;
    if (ncols >= 1 && v[0] && c->n < 64) snprintf(c->names[c->n++], 64, "%s", v[0]);
    return 0;
}

int mdp_lint_pii(struct mdp_engine *e, struct mdp_lake *lake,
                 void (*cb)(const char *table, const char *column, long long rows, void *ud),
                 void *ud, struct mdp_diag *d)
{
    /* the one column the spec keeps in clear text, for suppression and reputation work */
    static const char *const allowed[] = {"fact_email_events.email_lower", NULL};
    struct tables t;
    int rc = published_tables(lake, &t, d), found = 0;
    for (int i = 0; i < t.n; i++) {
        const char *view = mdp_table_spec_name(t.v[i], NULL);
        if (!rc) rc = mdp_engine_attach_table(e, lake, t.v[i], view, d);
        struct cols c = {0};
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "SELECT column_name FROM information_schema.columns WHERE table_name = '%s' AND "
                 "(data_type IN ('VARCHAR', 'JSON') OR data_type LIKE 'MAP%%' OR data_type LIKE "
                 "'STRUCT%%' OR "
                 "data_type LIKE '%%[]')",
                 view);
        struct mdp_rows_cb cb2 = {NULL, col_row, &c};
        if (!rc) rc = mdp_engine_query(e, sql, &cb2, d);
        for (int k = 0; !rc && k < c.n; k++) {
            char qual[160];
            snprintf(qual, sizeof qual, "%s.%s", view, c.names[k]);
            int ok = 0;
            for (int a = 0; allowed[a]; a++)
                ok |= strcmp(allowed[a], qual) == 0;
            if (ok) continue;
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM \"%s\" WHERE regexp_matches(CAST(\"%s\" AS VARCHAR), "
                     "'[A-Za-z0-9._%%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}')",
                     view, c.names[k]);
            int64_t hits = scalar_i64(e, sql, d);
            if (hits > 0) {
                found++;
                if (cb) cb(view, c.names[k], (long long)hits, ud);
            }
        }
        free(t.v[i]);
    }
    if (!rc && found)
        rc = mdp_diag_set(d, MDP_ERR_INVALID, "%d column(s) hold email addresses", found);
    return rc;
}
