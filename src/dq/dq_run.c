/* `mdp dq run` and the dq stage: evaluates the rulesets of a folder (one TABLE.dqdl per published
 * table) against the lake's current published state, through the same views `mdp query` uses,
 * and appends the outcomes to the lake table _meta/tables/dq_results (one row per rule, a dt
 * partition per day), which is also the history of dynamic rules and DetectAnomalies. Every
 * ruleset is parsed before anything is evaluated: a broken file changes nothing. */
#include "mdp/alloc.h"
#include "mdp/config.h"
#include "mdp/dq.h"
#include "mdp/engine.h"
#include "mdp/lake.h"
#include "mdp/model.h"
#include "mdp/pipeline.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DQ_TABLE        MDP_DQ_RESULTS_TABLE
#define DQ_MAX_RULESETS 1024
#define DQ_MAX_FILE     (16u << 20)

void mdp_dq_run_result_free(struct mdp_dq_run_result *r)
{
    if (!r) return;
    for (int i = 0; i < r->ntables; i++) {
        free(r->tables[i].table);
        free(r->tables[i].file);
        mdp_dq_report_free(r->tables[i].rep);
    }
    free(r->tables);
    free(r);
}

int mdp_dq_run_fails(const struct mdp_dq_run_result *r, const char *policy)
{
    if (!r || !policy || strcmp(policy, "never") == 0) return 0;
    if (strcmp(policy, "on_fail") == 0) return r->failed + r->errors > 0;
    return r->errors > 0;
}

/* ---------------------------------------------------------------- rulesets */

struct ruleset {
    char *table, *path;
    struct mdp_dq_doc *doc;
};

static int by_table(const void *a, const void *b)
{
    return strcmp(((const struct ruleset *)a)->table, ((const struct ruleset *)b)->table);
}

static int read_whole(const char *path, struct mdp_buf *out, struct mdp_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) return mdp_diag_set(d, MDP_ERR_IO, "%s: %s", path, strerror(errno));
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (out->len + n > DQ_MAX_FILE)
            rc = mdp_diag_set(d, MDP_ERR_INVALID, "%s: larger than 16 MiB", path);
        else if (mdp_buf_append(out, chunk, n))
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory reading %s", path);
    }
    if (!rc && ferror(f)) rc = mdp_diag_set(d, MDP_ERR_IO, "%s: read error", path);
    fclose(f);
    return rc;
}

static void rulesets_free(struct ruleset *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].table);
        free(v[i].path);
        mdp_dq_doc_free(v[i].doc);
    }
    free(v);
}

/* Every DIR/NAME.dqdl, parsed, in name order. A parse error is MDP_ERR_PARSE with
 * "FILE:LINE:COL: message". */
static int load_rulesets(const char *dir, struct ruleset **out, size_t *out_n, struct mdp_diag *d)
{
    *out = NULL;
    *out_n = 0;
    DIR *dp = opendir(dir);
    if (!dp)
        return mdp_diag_set(d, errno == ENOENT ? MDP_ERR_NOT_FOUND : MDP_ERR_IO,
                            "dq.rules_dir %s: %s", dir, strerror(errno));
    struct ruleset *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(dp))) {
        size_t l = strlen(de->d_name);
        if (l <= 5 || strcmp(de->d_name + l - 5, ".dqdl") != 0 || de->d_name[0] == '.') continue;
        if (n >= DQ_MAX_RULESETS) {
            rc =
                mdp_diag_set(d, MDP_ERR_INVALID, "%s: more than %d rulesets", dir, DQ_MAX_RULESETS);
            break;
        }
        if (mdp_grow(&v, &cap, n, sizeof *v, 16)) {
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
        memset(&v[n], 0, sizeof v[n]);
        struct mdp_buf p;
        mdp_buf_init(&p);
        if (mdp_buf_printf(&p, "%s/%s", dir, de->d_name) ||
            !(v[n].table = mdp_strndup(de->d_name, l - 5))) {
            mdp_buf_cleanup(&p);
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
        v[n++].path = mdp_buf_steal(&p);
    }
    closedir(dp);
    if (!rc) qsort(v, n, sizeof *v, by_table);
    for (size_t i = 0; !rc && i < n; i++) {
        struct mdp_buf src;
        mdp_buf_init(&src);
        rc = read_whole(v[i].path, &src, d);
        if (!rc) {
            struct mdp_dq_error err;
            rc = mdp_dq_parse(src.data ? src.data : "", src.len, &v[i].doc, &err);
            if (rc == MDP_ERR_PARSE)
                mdp_diag_set(d, rc, "%s:%d:%d: %s", v[i].path, err.line, err.col, err.msg);
            else if (rc)
                mdp_diag_set(d, rc, "%s: %s", v[i].path, mdp_strerror(rc));
        }
        mdp_buf_cleanup(&src);
    }
    if (rc) {
        rulesets_free(v, n);
        return rc;
    }
    *out = v;
    *out_n = n;
    return 0;
}

/* ---------------------------------------------------------------- the lake's tables */

struct cols_ctx {
    struct mdp_dq_manifest *m;
    int nomem;
};

/* One row of information_schema.columns (table, column, type), in table order. */
static int col_row(void *ud, int n, const char *const *v)
{
    struct cols_ctx *c = ud;
    if (n < 3 || !v[0] || !v[1] || !v[2]) return 0;
    struct mdp_dq_manifest *m = c->m;
    struct mdp_dq_table *t = m->ntables ? &m->tables[m->ntables - 1] : NULL;
    if (!t || strcmp(t->name, v[0]) != 0) {
        size_t cap = (size_t)m->ntables; /* grown one at a time: few tables */
        struct mdp_dq_table *nt = mdp_realloc(m->tables, (cap + 1) * sizeof *nt);
        if (!nt) return c->nomem = 1, MDP_ERR_NOMEM;
        m->tables = nt;
        t = &m->tables[m->ntables];
        memset(t, 0, sizeof *t);
        if (!(t->name = mdp_strdup(v[0]))) return c->nomem = 1, MDP_ERR_NOMEM;
        m->ntables++;
    }
    char **nc = mdp_realloc(t->cols, (size_t)(t->ncols + 1) * sizeof *nc);
    if (!nc) return c->nomem = 1, MDP_ERR_NOMEM;
    t->cols = nc;
    char **ty = mdp_realloc(t->types, (size_t)(t->ncols + 1) * sizeof *ty);
    if (!ty) return c->nomem = 1, MDP_ERR_NOMEM;
    t->types = ty;
    t->cols[t->ncols] = mdp_strdup(v[1]);
    t->types[t->ncols] = mdp_strdup(v[2]);
    if (!t->cols[t->ncols] || !t->types[t->ncols]) {
        free(t->cols[t->ncols]);
        free(t->types[t->ncols]);
        return c->nomem = 1, MDP_ERR_NOMEM;
    }
    t->ncols++;
    return 0;
}

/* The tables and views of the engine (the published state) as a manifest without files; dir is
 * the lake's folder, where the file rules' relative paths start. */
static int lake_manifest(struct mdp_engine *e, const char *dir, struct mdp_dq_manifest **out,
                         struct mdp_diag *d)
{
    struct mdp_dq_manifest *m = mdp_calloc(1, sizeof *m);
    if (!m || !(m->null_token = mdp_strdup("")) || !(m->dir = mdp_strdup(dir))) {
        mdp_dq_manifest_free(m);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    struct cols_ctx c = {m, 0};
    struct mdp_rows_cb cb = {NULL, col_row, &c};
    int rc = mdp_engine_query(e,
                              "SELECT table_name, column_name, data_type FROM "
                              "information_schema.columns WHERE table_schema = 'main' AND "
                              "table_name NOT LIKE '\\_\\_%' ESCAPE '\\' "
                              "ORDER BY table_name, ordinal_position",
                              &cb, d);
    if (c.nomem) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    if (rc) {
        mdp_dq_manifest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---------------------------------------------------------------- history */

struct hrow {
    char *run_id;
    json_object *metrics;
};

struct history {
    struct hrow *v;
    size_t n, cap;
    int nomem;
};

static int hist_row(void *ud, int n, const char *const *v)
{
    struct history *h = ud;
    if (n < 2 || !v[0] || !v[1]) return 0;
    json_object *j = json_tokener_parse(v[1]);
    if (!j) return 0; /* not ours to judge here: a row without metrics has no history */
    if (!json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        return 0;
    }
    if (mdp_grow(&h->v, &h->cap, h->n, sizeof *h->v, 64)) {
        json_object_put(j);
        h->nomem = 1;
        return 0;
    }
    if (!(h->v[h->n].run_id = mdp_strdup(v[0]))) {
        json_object_put(j);
        h->nomem = 1;
        return 0;
    }
    h->v[h->n++].metrics = j;
    return 0;
}

static void history_free(struct history *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].run_id);
        json_object_put(h->v[i].metrics);
    }
    free(h->v);
    memset(h, 0, sizeof *h);
}

/* The earlier results of table, newest run first. No dq_results yet: no history. */
static int history_load(struct mdp_engine *e, int have_results, const char *table,
                        struct history *h, struct mdp_diag *d)
{
    memset(h, 0, sizeof *h);
    if (!have_results) return 0;
    struct mdp_buf sql;
    mdp_buf_init(&sql);
    int rc = mdp_buf_puts(&sql, "SELECT run_id, metrics FROM dq_results WHERE table_name = ");
    if (!rc) rc = mdp_sql_quote(&sql, table);
    if (!rc) rc = mdp_buf_puts(&sql, " ORDER BY evaluated_at DESC, run_id, rule_index");
    if (rc) {
        mdp_buf_cleanup(&sql);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    struct mdp_rows_cb cb = {NULL, hist_row, h};
    rc = mdp_engine_query(e, sql.data, &cb, d);
    mdp_buf_cleanup(&sql);
    if (!rc && h->nomem) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    if (rc) history_free(h);
    return rc;
}

/* mdp_dq_history_fn over the loaded rows: one value per earlier run, newest first. */
static int history_lookup(void *ud, const char *metric, double *out, int max)
{
    const struct history *h = ud;
    int n = 0;
    const char *last_run = NULL;
    for (size_t i = 0; i < h->n && n < max; i++) {
        json_object *v = NULL;
        if (last_run && strcmp(last_run, h->v[i].run_id) == 0) continue;
        if (!json_object_object_get_ex(h->v[i].metrics, metric, &v)) continue;
        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
            continue;
        out[n++] = json_object_get_double(v);
        last_run = h->v[i].run_id;
    }
    return n;
}

/* ---------------------------------------------------------------- results */

static int metrics_json(const struct mdp_dq_result *r, struct mdp_buf *b)
{
    mdp_buf_reset(b);
    int rc = mdp_buf_putc(b, '{');
    for (int k = 0; !rc && k < r->nmetrics; k++) {
        if (k) rc = mdp_buf_putc(b, ',');
        if (!rc) rc = mdp_buf_json_str(b, r->metrics[k].name);
        double v = r->metrics[k].value;
        if (!rc) rc = isfinite(v) ? mdp_buf_printf(b, ":%.17g", v) : mdp_buf_puts(b, ":null");
    }
    return rc ? rc : mdp_buf_putc(b, '}');
}

static const char *const OUTCOME[] = {"PASS", "FAIL", "ERROR"};

/* Appends the rows of res to the staging table and writes dq_results: today's partition is the
 * rows it already had plus these; the other days keep their files. */
static int write_results(struct mdp_engine *e, struct mdp_lake *lake, int have_results,
                         const struct mdp_dq_run_result *res, struct mdp_diag *d)
{
    char ts[40];
    if (mdp_time_format_ms(res->evaluated_ms, ts, sizeof ts))
        return mdp_diag_set(d, MDP_ERR_RANGE, "evaluated_at out of range");
    ts[10] = ' '; /* 2024-11-05 14:03:27.512, UTC, as a TIMESTAMP takes it */
    ts[strlen(ts) - 1] = '\0';
    int rc = mdp_engine_exec(e,
                             "CREATE OR REPLACE TABLE __dq_new (run_id VARCHAR, evaluated_at "
                             "VARCHAR, table_name VARCHAR, rule_index BIGINT, rule VARCHAR, "
                             "outcome VARCHAR, metrics VARCHAR, message VARCHAR)",
                             d);
    if (rc) return rc;
    struct mdp_appender *a = NULL;
    if ((rc = mdp_appender_open(e, "__dq_new", &a, d))) return rc;
    struct mdp_buf mj;
    mdp_buf_init(&mj);
    int64_t rows = 0;
    for (int i = 0; !rc && i < res->ntables; i++) {
        const struct mdp_dq_table_result *t = &res->tables[i];
        for (int k = 0; !rc && t->rep && k < t->rep->n; k++) {
            const struct mdp_dq_result *r = &t->rep->results[k];
            if (metrics_json(r, &mj)) {
                rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
                break;
            }
            rc = mdp_append_str(a, res->run_id);
            if (!rc) rc = mdp_append_str(a, ts);
            if (!rc) rc = mdp_append_str(a, t->table);
            if (!rc) rc = mdp_append_i64(a, k + 1);
            if (!rc) rc = mdp_append_str(a, r->rule);
            if (!rc) rc = mdp_append_str(a, OUTCOME[r->outcome]);
            if (!rc) rc = mdp_append_str(a, mj.data);
            if (!rc) rc = mdp_append_str(a, r->message);
            rc = mdp_append_end_row(a, d);
            rows++;
        }
    }
    mdp_buf_cleanup(&mj);
    int crc = mdp_appender_close(a, d);
    if (!rc) rc = crc;
    if (rc || rows == 0) return rc;
    /* the day of evaluated_at (UTC) is the partition */
    char date[16];
    memcpy(date, ts, 10);
    date[10] = '\0';
    int32_t key = (int32_t)(atoi(date) * 10000 + atoi(date + 5) * 100 + atoi(date + 8));
    struct mdp_buf sql;
    mdp_buf_init(&sql);
    rc = mdp_buf_puts(&sql, "SELECT run_id, evaluated_at::TIMESTAMP AS evaluated_at, table_name, "
                            "rule_index::INTEGER AS rule_index, rule, outcome, metrics, message, "
                            "evaluated_at::TIMESTAMP::DATE AS dt FROM __dq_new");
    if (!rc && have_results)
        rc = mdp_buf_printf(&sql,
                            " UNION ALL SELECT run_id, evaluated_at, table_name, rule_index, rule, "
                            "outcome, metrics, message, dt FROM dq_results WHERE dt = DATE '%s'",
                            date);
    if (rc) {
        mdp_buf_cleanup(&sql);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    rc = mdp_engine_write_partitions(e, lake, sql.data, DQ_TABLE, "dt", res->run_id, &key, 1, NULL,
                                     d);
    mdp_buf_cleanup(&sql);
    return rc;
}

/* ---------------------------------------------------------------- the run */

int mdp_dq_run(struct mdp_lake *lake, const struct mdp_dq_run_opts *o,
               struct mdp_dq_run_result **out, struct mdp_diag *d)
{
    *out = NULL;
    struct ruleset *sets = NULL;
    size_t nsets = 0;
    struct mdp_engine *e = NULL;
    struct mdp_dq_manifest *m = NULL;
    struct mdp_dq_run_result *res = NULL;
    struct mdp_buf root;
    mdp_buf_init(&root);
    const char *dir = mdp_config_path(o ? o->rules_dir : NULL, MDP_SOURCE_DIR "/config/dq");
    int rc = load_rulesets(dir, &sets, &nsets, d);
    if (rc) goto out;
    res = mdp_calloc(1, sizeof *res);
    if (!res || (nsets && !(res->tables = mdp_calloc(nsets, sizeof *res->tables)))) {
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (o && o->run_id && *o->run_id) {
        snprintf(res->run_id, sizeof res->run_id, "%s", o->run_id);
    } else {
        struct mdp_uuid u;
        if ((rc = mdp_uuid7_new(&u))) {
            mdp_diag_set(d, rc, "no run id: %s", mdp_strerror(rc));
            goto out;
        }
        mdp_uuid_format(&u, res->run_id);
    }
    res->evaluated_ms = mdp_time_now_ms();
    struct mdp_engine_opts eo = {NULL, o ? o->engine_threads : 0, o ? o->memory_limit : NULL};
    if ((rc = mdp_engine_open(&eo, &e, d))) goto out;
    if ((rc = mdp_curate_attach_all(e, lake, NULL, d))) goto out;
    int r = mdp_engine_attach_table(e, lake, DQ_TABLE, "dq_results", d);
    if (r && r != MDP_ERR_NOT_FOUND) {
        rc = r;
        goto out;
    }
    int have_results = r == 0;
    memset(d, 0, sizeof *d);
    if ((rc = mdp_store_local_path(lake->store, "_meta", &root))) {
        mdp_diag_set(d, rc, "the lake's store has no local paths");
        goto out;
    }
    root.data[root.len - 5] = '\0'; /* the lake's folder, with its slash */
    if ((rc = lake_manifest(e, root.data, &m, d))) goto out;
    for (size_t i = 0; i < nsets; i++) {
        struct mdp_dq_table_result *t = &res->tables[res->ntables++];
        if (!(t->table = mdp_strdup(sets[i].table)) || !(t->file = mdp_strdup(sets[i].path))) {
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
            goto out;
        }
        int published = 0;
        for (int k = 0; k < m->ntables; k++)
            if (strcmp(m->tables[k].name, sets[i].table) == 0) published = 1;
        if (!published) {
            /* not published yet (a fresh lake before its first curate or features run):
             * nothing to check, said in the summary; freshness watches absence */
            t->skipped = 1;
            res->skipped++;
            continue;
        }
        struct history h;
        if ((rc = history_load(e, have_results, sets[i].table, &h, d))) goto out;
        struct mdp_dq_eval_opts eo2 = {
            .primary = sets[i].table, .history = history_lookup, .history_ud = &h, .engine = e};
        rc = mdp_dq_eval(sets[i].doc, m, &eo2, &t->rep, d);
        history_free(&h);
        if (rc) {
            char why[sizeof d->msg];
            snprintf(why, sizeof why, "%s", d->msg);
            mdp_diag_set(d, rc, "%s: %s", sets[i].path, why);
            goto out;
        }
        for (int k = 0; k < t->rep->n; k++) {
            res->rules++;
            enum mdp_dq_outcome oc = t->rep->results[k].outcome;
            if (oc == MDP_DQ_PASS) res->passed++;
            if (oc == MDP_DQ_FAIL) res->failed++;
            if (oc == MDP_DQ_ERROR) res->errors++;
        }
    }
    rc = write_results(e, lake, have_results, res, d);
out:
    mdp_buf_cleanup(&root);
    mdp_dq_manifest_free(m);
    mdp_engine_close(e);
    rulesets_free(sets, nsets);
    if (rc) {
        mdp_dq_run_result_free(res);
        return rc;
    }
    *out = res;
    return 0;
}

int mdp_stage_dq(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d)
{
    struct mdp_dq_run_opts o = {ctx->cfg->dq_rules_dir, run->run_id, (int)ctx->cfg->engine_threads,
                                ctx->cfg->engine_memory_limit};
    struct mdp_dq_run_result *res = NULL;
    int rc = mdp_dq_run(ctx->lake, &o, &res, d);
    if (rc) return rc;
    run->in = res->rules;
    run->out = res->failed + res->errors;
    snprintf(run->message, sizeof run->message,
             "%d rules over %d tables: %d passed, %d failed, %d errors; %d rulesets skipped (table "
             "not published)",
             res->rules, res->ntables - res->skipped, res->passed, res->failed, res->errors,
             res->skipped);
    if (mdp_dq_run_fails(res, ctx->cfg->dq_fail_stage))
        rc = mdp_diag_set(d, MDP_ERR_STAGE, "dq.fail_stage %s: %d rules failed, %d errors (%s)",
                          ctx->cfg->dq_fail_stage, res->failed, res->errors,
                          "mdp query \"SELECT * FROM dq_results WHERE outcome <> 'PASS'\"");
    mdp_dq_run_result_free(res);
    return rc;
}
