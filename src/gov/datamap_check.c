/* `mdp inventory check`: compares the data inventory (datamap.c) with what exists, so that a new
 * table, column, raw dataset or state-store item kind without a classification fails CI, and an
 * inventory entry naming something that is not there is caught as well. Published tables' columns
 * are read from the current Parquet files through the engine; Supabase's over libpq from
 * information_schema. */
#include "mdp/alloc.h"
#include "mdp/buf.h"
#include "mdp/engine.h"
#include "mdp/ingest.h"
#include "mdp/inventory.h"
#include "mdp/lake.h"
#include "mdp/ml.h"
#include "mdp/state.h"
#include "mdp/strset.h"
#include "mdp/net.h"

#include <dirent.h>
#include <stdarg.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chk {
    const struct mdp_inventory *inv;
    mdp_inv_problem_cb cb;
    void *ud;
    int64_t n;
    struct mdp_diag *d;
};

static int report(struct chk *c, const char *dataset, const char *location, const char *column,
                  const char *kind, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int report(struct chk *c, const char *dataset, const char *location, const char *column,
                  const char *kind, const char *fmt, ...)
{
    char detail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    struct mdp_inv_problem p = {dataset, location, column, kind, detail};
    c->n++;
    return c->cb ? c->cb(&p, c->ud) : 0;
}

static enum mdp_inv_store store_of_table(const char *table)
{
    if (strncmp(table, "curated/", 8) == 0) return MDP_INV_CURATED;
    if (strncmp(table, "ml/", 3) == 0) return MDP_INV_ML;
    if (strncmp(table, "serving/", 8) == 0) return MDP_INV_SERVING;
    return MDP_INV_META;
}

/* ---- published tables and their columns ---- */

struct cols {
    char **v;
    size_t n, cap;
    int err;
};

static int col_row(void *ud, int ncols, const char *const *values)
{
    struct cols *c = ud;
    if (ncols < 1 || !values[0]) return 0;
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 32;
        char **nv = mdp_realloc(c->v, ncap * sizeof *nv);
        if (!nv) return c->err = MDP_ERR_NOMEM;
        c->v = nv;
        c->cap = ncap;
    }
    if (!(c->v[c->n] = mdp_strdup(values[0]))) return c->err = MDP_ERR_NOMEM;
    c->n++;
    return 0;
}

static void cols_free(struct cols *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i]);
    free(c->v);
}

/* 1 when every file of the current manifest is Parquet. */
static int is_parquet(struct mdp_lake *lake, const char *table, struct mdp_diag *d, int *rc)
{
    struct mdp_manifest m;
    *rc = mdp_lake_current(lake, table, &m, d);
    if (*rc) return 0;
    int all = m.nfiles > 0;
    for (size_t i = 0; i < m.nfiles; i++) {
        size_t n = strlen(m.files[i].key);
        if (n < 8 || strcmp(m.files[i].key + n - 8, ".parquet") != 0) all = 0;
    }
    mdp_manifest_cleanup(&m);
    return all;
}

struct tab_walk {
    struct chk *c;
    struct mdp_lake *lake;
    struct mdp_engine *e;
    struct mdp_strset *published;
};

static int check_table(const char *table, void *ud)
{
    struct tab_walk *t = ud;
    struct chk *c = t->c;
    if (mdp_strset_add(t->published, table, strlen(table)) < 0)
        return mdp_diag_set(c->d, MDP_ERR_NOMEM, "out of memory");
    const struct mdp_inv_dataset *ds =
        mdp_inventory_find_location(c->inv, store_of_table(table), table);
    if (!ds)
        return report(c, NULL, table, NULL, "unlisted_dataset",
                      "published table %s is not in the inventory: classify it and its columns",
                      table);
    int rc = 0;
    if (!t->e) return 0; /* unlisted datasets only (mdp_inventory_unlisted) */
    if (!is_parquet(t->lake, table, c->d, &rc)) return rc;
    rc = mdp_engine_attach_table(t->e, t->lake, table, "mdp_inv_check", c->d);
    if (rc) return rc;
    struct cols cols = {0};
    struct mdp_rows_cb cb = {NULL, col_row, &cols};
    rc = mdp_engine_query(t->e, "SELECT column_name FROM (DESCRIBE mdp_inv_check)", &cb, c->d);
    if (cols.err) rc = mdp_diag_set(c->d, MDP_ERR_NOMEM, "out of memory reading %s", table);
    for (size_t i = 0; !rc && i < cols.n; i++)
        if (!mdp_inv_dataset_column(ds, cols.v[i]))
            rc = report(c, ds->name, table, cols.v[i], "unclassified_column",
                        "column %s of %s has no PII class in the inventory (%s, line %d)",
                        cols.v[i], table, ds->name, ds->line);
    for (size_t k = 0; !rc && k < ds->ncolumns; k++) {
        int found = 0;
        for (size_t i = 0; i < cols.n && !found; i++)
            found = strcmp(cols.v[i], ds->columns[k].name) == 0;
        if (!found)
            rc = report(c, ds->name, table, ds->columns[k].name, "unknown_column",
                        "the inventory classifies column %s, which %s does not have",
                        ds->columns[k].name, table);
    }
    cols_free(&cols);
    return rc;
}

/* ---- raw datasets ---- */

struct raw_walk {
    struct chk *c;
    struct mdp_strset *seen;
    int rc;
};

static int raw_key(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct raw_walk *w = ud;
    if (strncmp(key, "raw/_quarantine/", 16) == 0) return 0;
    const char *a = strchr(key + 4, '/');
    const char *b = a ? strchr(a + 1, '/') : NULL;
    if (!b) return 0; /* not raw/<source>/<dataset>/...: nothing the layout puts there */
    size_t n = (size_t)(b - key);
    if (mdp_strset_has(w->seen, key, n)) return 0;
    if (mdp_strset_add(w->seen, key, n) < 0)
        return w->rc = mdp_diag_set(w->c->d, MDP_ERR_NOMEM, "out of memory");
    char loc[512];
    snprintf(loc, sizeof loc, "%.*s", (int)n, key);
    if (!mdp_inventory_find_location(w->c->inv, MDP_INV_RAW, loc))
        return w->rc = report(w->c, NULL, loc, NULL, "unlisted_dataset",
                              "raw dataset %s is in the lake but not in the inventory", loc);
    return 0;
}

/* 1 when the raw location's source is something that writes to raw: a connector (the first
 * folder of its landing prefix), the service (serve) or the CDC consumer (supabase_cdc). */
static int raw_source_known(const char *loc)
{
    const char *src = loc + 4, *slash = strchr(src, '/');
    if (!slash) return 0;
    size_t n = (size_t)(slash - src);
    if (n == 5 && strncmp(src, "serve", 5) == 0) return 1;
    if (n == 12 && strncmp(src, "supabase_cdc", 12) == 0) return 1;
    const struct mdp_connector *const *cs = mdp_connectors();
    for (size_t i = 0; cs && cs[i]; i++) {
        const char *lp = cs[i]->landing_prefix;
        if (lp && strncmp(lp, src, n) == 0 && lp[n] == '/') return 1;
    }
    return 0;
}

/* ---- models: the tables they declare ---- */

static int model_declares(const char *models_dir, const char *table)
{
    DIR *dir = models_dir ? opendir(models_dir) : NULL;
    if (!dir) return 0;
    struct dirent *de;
    int found = 0;
    while (!found && (de = readdir(dir))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".sql") != 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", models_dir, de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        char line[512];
        for (int i = 0; i < 8 && fgets(line, sizeof line, f); i++) {
            if (strncmp(line, "-- table: ", 10) != 0) continue;
            line[strcspn(line, "\r\n")] = '\0';
            found = strcmp(line + 10, table) == 0;
            break;
        }
        fclose(f);
    }
    closedir(dir);
    return found;
}

/* ---- state store ---- */

static int state_table(const char *table, int64_t items, void *ud)
{
    struct chk *c = ud;
    if (mdp_inventory_find_location(c->inv, MDP_INV_STATE, table)) return 0;
    return report(c, NULL, table, NULL, "unlisted_dataset",
                  "state-store table %s (%lld items) is not in the inventory", table,
                  (long long)items);
}

/* The check; e NULL: only what the lake holds and the inventory does not list (no columns, no
 * datasets missing from the lake). */
static int check_lake(const struct mdp_inventory *inv, struct mdp_lake *lake, struct mdp_engine *e,
                      const char *models_dir, mdp_inv_problem_cb cb, void *ud,
                      int64_t *out_problems, struct mdp_diag *d)
{
    struct chk c = {inv, cb, ud, 0, d};
    struct mdp_strset *published = mdp_strset_new(), *raw = mdp_strset_new();
    struct mdp_state *st = NULL;
    int rc = 0;
    if (!published || !raw) {
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        goto out;
    }
    struct tab_walk tw = {&c, lake, e, published};
    rc = mdp_lake_tables(lake, "", check_table, &tw, d);
    if (rc) goto out;
    struct raw_walk rw = {&c, raw, 0};
    rc = mdp_store_list(lake->store, "raw/", raw_key, &rw, d);
    if (rw.rc) rc = rw.rc;
    if (rc) goto out;
    /* what the inventory names must exist */
    for (size_t i = 0; e && !rc && i < inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &inv->datasets[i];
        const char *loc = ds->location;
        switch (ds->store) {
        case MDP_INV_CURATED:
        case MDP_INV_ML:
        case MDP_INV_SERVING:
            if (!mdp_strset_has(published, loc, strlen(loc)) && !model_declares(models_dir, loc))
                rc = report(&c, ds->name, loc, NULL, "missing_dataset",
                            "the inventory names table %s (line %d): no model declares it and "
                            "the lake has not published it",
                            loc, ds->line);
            break;
        case MDP_INV_RAW:
            if (strncmp(loc, "raw/", 4) != 0 || !raw_source_known(loc))
                rc = report(&c, ds->name, loc, NULL, "missing_dataset",
                            "the inventory names raw dataset %s (line %d), which no connector "
                            "and no service writes",
                            loc, ds->line);
            break;
        case MDP_INV_QUARANTINE:
            if (strcmp(loc, "raw/_quarantine") != 0 && strcmp(loc, "curated/_quarantine") != 0)
                rc = report(&c, ds->name, loc, NULL, "missing_dataset",
                            "the inventory names quarantine %s (line %d): the lake has "
                            "raw/_quarantine and curated/_quarantine",
                            loc, ds->line);
            break;
        default:
            break;
        }
    }
    if (rc) goto out;
    rc = mdp_state_open_lake(lake, &st, d);
    if (!rc) rc = mdp_state_tables(st, state_table, &c, d);
out:
    mdp_state_close(st);
    mdp_strset_free(published);
    mdp_strset_free(raw);
    if (out_problems) *out_problems = c.n;
    return rc;
}

int mdp_inventory_check_lake(const struct mdp_inventory *inv, struct mdp_lake *lake,
                             struct mdp_engine *e, const char *models_dir, mdp_inv_problem_cb cb,
                             void *ud, int64_t *out_problems, struct mdp_diag *d)
{
    if (!e) return mdp_diag_set(d, MDP_ERR_INVALID, "inventory check: no engine");
    return check_lake(inv, lake, e, models_dir, cb, ud, out_problems, d);
}

int mdp_inventory_unlisted(const struct mdp_inventory *inv, struct mdp_lake *lake,
                           mdp_inv_problem_cb cb, void *ud, int64_t *out_n, struct mdp_diag *d)
{
    return check_lake(inv, lake, NULL, NULL, cb, ud, out_n, d);
}

/* ---- Supabase over libpq ---- */

int mdp_inventory_check_supabase(const struct mdp_inventory *inv, const char *conninfo,
                                 const char *schema, mdp_inv_problem_cb cb, void *ud,
                                 int64_t *out_problems, struct mdp_diag *d)
{
    struct chk c = {inv, cb, ud, 0, d};
    int rc = 0;
    PGconn *pg = mdp_net_pg_connect(conninfo);
    PGresult *res = NULL;
    if (!pg) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory connecting to PostgreSQL");
    if (PQstatus(pg) != CONNECTION_OK) {
        rc = mdp_diag_set(d, MDP_ERR_IO, "cannot connect to PostgreSQL: %s", PQerrorMessage(pg));
        goto out;
    }
    const char *params[1] = {schema};
    res = PQexecParams(pg,
                       "SELECT c.table_name, c.column_name FROM information_schema.columns c "
                       "JOIN information_schema.tables t USING (table_schema, table_name) "
                       "WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE' "
                       "ORDER BY c.table_name, c.ordinal_position",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = mdp_diag_set(d, MDP_ERR_IO, "PostgreSQL: reading information_schema: %s",
                          PQerrorMessage(pg));
        goto out;
    }
    int n = PQntuples(res);
    char loc[512];
    for (int i = 0; !rc && i < n; i++) {
        const char *table = PQgetvalue(res, i, 0), *col = PQgetvalue(res, i, 1);
        snprintf(loc, sizeof loc, "%s.%s", schema, table);
        const struct mdp_inv_dataset *ds = mdp_inventory_find_location(inv, MDP_INV_SUPABASE, loc);
        int first = i == 0 || strcmp(PQgetvalue(res, i - 1, 0), table) != 0;
        if (!ds) {
            if (first)
                rc = report(&c, NULL, loc, NULL, "unlisted_dataset",
                            "Supabase table %s is not in the inventory", loc);
        } else if (!mdp_inv_dataset_column(ds, col)) {
            rc = report(&c, ds->name, loc, col, "unclassified_column",
                        "column %s of Supabase table %s has no PII class in the inventory (%s, "
                        "line %d)",
                        col, loc, ds->name, ds->line);
        }
    }
    /* and the other way round: every supabase dataset and column of the inventory exists */
    size_t sl = strlen(schema);
    for (size_t k = 0; !rc && k < inv->ndatasets; k++) {
        const struct mdp_inv_dataset *ds = &inv->datasets[k];
        if (ds->store != MDP_INV_SUPABASE) continue;
        const char *table = ds->location;
        if (strncmp(table, schema, sl) != 0 || table[sl] != '.') continue; /* another schema */
        table += sl + 1;
        int any = 0;
        for (size_t j = 0; !rc && j < ds->ncolumns; j++) {
            int found = 0;
            for (int i = 0; i < n && !found; i++)
                if (strcmp(PQgetvalue(res, i, 0), table) == 0) {
                    any = 1;
                    found = strcmp(PQgetvalue(res, i, 1), ds->columns[j].name) == 0;
                }
            if (!any) {
                rc = report(&c, ds->name, ds->location, NULL, "missing_dataset",
                            "the inventory names Supabase table %s (line %d), which the database "
                            "does not have",
                            ds->location, ds->line);
                break;
            }
            if (!found)
                rc = report(&c, ds->name, ds->location, ds->columns[j].name, "unknown_column",
                            "the inventory classifies column %s, which Supabase table %s does "
                            "not have",
                            ds->columns[j].name, ds->location);
        }
    }
out:
    PQclear(res);
    PQfinish(pg);
    if (out_problems) *out_problems = c.n;
    return rc;
}
