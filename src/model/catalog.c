/* The catalog for the distributed path (`mdp catalog ddl`): Athena DDL and Glue CreateTable input
 * for every published curated and ml table. A table's LOCATION is the run folder of its current
 * manifest (s3://<bucket>/<table>/run-<id>/): applying the DDL again after a publish (or Glue
 * UpdateTable) is Athena's atomic switch to the new state. A table partitioned by a date column
 * (date_key, feature_date, ...) whose partitions sit in one run folder gets partition projection
 * over the range the manifest covers; one whose partitions were replaced one by one (and so sit in
 * several run folders) gets each partition registered with its own location (ALTER TABLE ADD
 * PARTITION; for Glue a BatchCreatePartition input after the table's CreateTable input). */
#include "mdp/catalog.h"
#include "mdp/buf.h"
#include "mdp/engine.h"
#include "mdp/model.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct column {
    char name[64], type[64];
};

struct colset {
    struct column v[64];
    int n;
};

static int col_row(void *ud, int ncols, const char *const *v)
{
    struct colset *c = ud;
    if (ncols >= 2 && v[0] && v[1] && c->n < 64) {
        snprintf(c->v[c->n].name, 64, "%s", v[0]);
        snprintf(c->v[c->n].type, 64, "%s", v[1]);
        c->n++;
    }
    return 0;
}

/* DuckDB type -> Hive/Athena type */
static void athena_type(const char *t, char *out, size_t n)
{
    if (!strcmp(t, "INTEGER"))
        snprintf(out, n, "int");
    else if (!strcmp(t, "BIGINT"))
        snprintf(out, n, "bigint");
    else if (!strcmp(t, "SMALLINT"))
        snprintf(out, n, "smallint");
    else if (!strcmp(t, "DOUBLE"))
        snprintf(out, n, "double");
    else if (!strcmp(t, "FLOAT"))
        snprintf(out, n, "float");
    else if (!strcmp(t, "BOOLEAN"))
        snprintf(out, n, "boolean");
    else if (!strcmp(t, "DATE"))
        snprintf(out, n, "date");
    else if (!strncmp(t, "TIMESTAMP", 9))
        snprintf(out, n, "timestamp");
    else if (!strncmp(t, "DECIMAL", 7)) {
        snprintf(out, n, "decimal%s", t + 7);
        for (char *p = out; *p; p++)
            if (*p == ' ') memmove(p, p + 1, strlen(p));
    } else
        snprintf(out, n, "string"); /* VARCHAR, UUID, JSON */
}

#define MAX_PARTS 4096

struct part {
    char value[16];  /* 20261030 or 2026-10-30 */
    char folder[64]; /* run-<id> holding it */
};

struct table_info {
    char name[200], view[80], location[600], pcol[48];
    struct colset cols;
    int partitioned, is_date, one_folder;
    struct part *parts;
    size_t nparts;
};

/* For a key <table>/run-<id>/<col>=<value>/part_0.parquet: the run folder, the column and the
 * value. 0, or -1 when the key has no partition segment. */
static int split_key(const char *key, char *folder, size_t fn, char *col, size_t cn, char *val,
                     size_t vn)
{
    const char *run = strstr(key, "/run-"), *end = run ? strchr(run + 1, '/') : NULL;
    if (!end) return -1;
    snprintf(folder, fn, "%.*s", (int)(end - run - 1), run + 1);
    const char *eq = strchr(end + 1, '='), *slash = strchr(end + 1, '/');
    if (!eq || !slash || eq > slash) return -1;
    snprintf(col, cn, "%.*s", (int)(eq - end - 1), end + 1);
    snprintf(val, vn, "%.*s", (int)(slash - eq - 1), eq + 1);
    return 0;
}

static void table_info_cleanup(struct table_info *ti)
{
    free(ti->parts);
    ti->parts = NULL;
}

/* A table whose partitions all sit in the run folder of its first file gets partition
 * projection; one updated partition by partition (an incremental curate, the ml tables' dates)
 * has them in several run folders, so every partition is registered with its own location. */
static int describe(struct mdp_engine *e, struct mdp_lake *lake, const char *table,
                    const char *bucket, struct table_info *ti, struct mdp_diag *d)
{
    memset(ti, 0, sizeof *ti);
    snprintf(ti->name, sizeof ti->name, "%s", table);
    snprintf(ti->view, sizeof ti->view, "%s", mdp_table_spec_name(table, NULL));
    struct mdp_manifest m;
    int rc = mdp_lake_current(lake, table, &m, d);
    if (rc) return rc;
    /* the run folder: <table>/run-<id>/ */
    const char *k = m.nfiles ? m.files[0].key : "";
    const char *run = strstr(k, "/run-");
    const char *end = run ? strchr(run + 1, '/') : NULL;
    snprintf(ti->location, sizeof ti->location, "s3://%s/%.*s/", bucket, end ? (int)(end - k) : 0,
             k);
    char first[64] = "";
    ti->one_folder = 1;
    for (size_t i = 0; i < m.nfiles && !rc; i++) {
        char folder[64], col[48], val[16];
        if (split_key(m.files[i].key, folder, sizeof folder, col, sizeof col, val, sizeof val))
            continue;
        if (!ti->partitioned) {
            ti->partitioned = 1;
            snprintf(ti->pcol, sizeof ti->pcol, "%s", col);
            ti->is_date = strchr(val, '-') != NULL;
            snprintf(first, sizeof first, "%s", folder);
        }
        if (strcmp(folder, first) != 0) ti->one_folder = 0;
        size_t j = 0;
        while (j < ti->nparts && strcmp(ti->parts[j].value, val) != 0)
            j++;
        if (j < ti->nparts) continue; /* several files of one partition */
        if (ti->nparts == MAX_PARTS) {
            rc = mdp_diag_set(d, MDP_ERR_RANGE, "%s: more than %d partitions", table, MAX_PARTS);
            break;
        }
        if (!ti->parts && !(ti->parts = calloc(MAX_PARTS, sizeof *ti->parts))) {
            rc = MDP_ERR_NOMEM;
            break;
        }
        snprintf(ti->parts[ti->nparts].value, sizeof ti->parts[0].value, "%s", val);
        snprintf(ti->parts[ti->nparts].folder, sizeof ti->parts[0].folder, "%s", folder);
        ti->nparts++;
    }
    mdp_manifest_cleanup(&m);
    if (!rc) rc = mdp_engine_attach_table(e, lake, table, ti->view, d);
    char sql[300];
    snprintf(
        sql, sizeof sql,
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '%s' "
        "ORDER BY ordinal_position",
        ti->view);
    struct mdp_rows_cb cb = {NULL, col_row, &ti->cols};
    if (!rc) rc = mdp_engine_query(e, sql, &cb, d);
    if (rc) table_info_cleanup(ti);
    return rc;
}

/* The smallest and largest partition value (both fixed-width, so text order is value order). */
static void part_range(const struct table_info *ti, const char **lo, const char **hi)
{
    *lo = *hi = ti->nparts ? ti->parts[0].value : "";
    for (size_t i = 1; i < ti->nparts; i++) {
        if (strcmp(ti->parts[i].value, *lo) < 0) *lo = ti->parts[i].value;
        if (strcmp(ti->parts[i].value, *hi) > 0) *hi = ti->parts[i].value;
    }
}

/* s3://bucket/<table>/ : the table's root, from the location of its run folder */
static void table_root(const struct table_info *ti, char *out, size_t n)
{
    const char *run = strstr(ti->location, "/run-");
    snprintf(out, n, "%.*s/", run ? (int)(run - ti->location) : (int)strlen(ti->location),
             ti->location);
}

static void print_ddl(FILE *out, const struct table_info *ti, const char *db)
{
    fprintf(out, "CREATE EXTERNAL TABLE IF NOT EXISTS `%s`.`%s` (\n", db, ti->view);
    int first = 1;
    for (int i = 0; i < ti->cols.n; i++) {
        if (ti->partitioned && !strcmp(ti->cols.v[i].name, ti->pcol)) continue;
        char t[64];
        athena_type(ti->cols.v[i].type, t, sizeof t);
        fprintf(out, "%s  `%s` %s", first ? "" : ",\n", ti->cols.v[i].name, t);
        first = 0;
    }
    fprintf(out, "\n)\n");
    if (ti->partitioned)
        fprintf(out, "PARTITIONED BY (`%s` %s)\n", ti->pcol, ti->is_date ? "date" : "int");
    fprintf(out,
            "STORED AS PARQUET\nLOCATION '%s'\nTBLPROPERTIES (\n  'parquet.compression' = 'ZSTD'",
            ti->location);
    const char *lo, *hi;
    part_range(ti, &lo, &hi);
    if (ti->partitioned && ti->one_folder)
        fprintf(out, ",\n  'projection.enabled' = 'true',\n  'projection.%s.type' = '%s',\n",
                ti->pcol, ti->is_date ? "date" : "integer");
    if (ti->partitioned && ti->one_folder && ti->is_date)
        fprintf(out, "  'projection.%s.format' = 'yyyy-MM-dd',\n", ti->pcol);
    if (ti->partitioned && ti->one_folder)
        fprintf(out,
                "  'projection.%s.range' = '%s,%s',\n"
                "  'storage.location.template' = '%s%s=${%s}/'",
                ti->pcol, lo, hi, ti->location, ti->pcol, ti->pcol);
    fprintf(out, "\n);\n\n");
    if (ti->partitioned && !ti->one_folder) {
        char root[600];
        table_root(ti, root, sizeof root);
        fprintf(out, "ALTER TABLE `%s`.`%s` ADD IF NOT EXISTS", db, ti->view);
        for (size_t i = 0; i < ti->nparts; i++)
            fprintf(out, "\n  PARTITION (`%s` = %s%s%s) LOCATION '%s%s/%s=%s/'", ti->pcol,
                    ti->is_date ? "'" : "", ti->parts[i].value, ti->is_date ? "'" : "", root,
                    ti->parts[i].folder, ti->pcol, ti->parts[i].value);
        fprintf(out, ";\n\n");
    }
}

/* Glue BatchCreatePartition input: every partition of a partitioned table at its run folder. */
static json_object *glue_partitions(const struct table_info *ti, const char *db,
                                    json_object *sd_template)
{
    json_object *root = json_object_new_object(), *list = json_object_new_array();
    char root_loc[600];
    table_root(ti, root_loc, sizeof root_loc);
    for (size_t i = 0; i < ti->nparts; i++) {
        json_object *p = json_object_new_object(), *vals = json_object_new_array(), *sd = NULL;
        json_object_array_add(vals, json_object_new_string(ti->parts[i].value));
        json_object_deep_copy(sd_template, &sd, NULL);
        char loc[800];
        snprintf(loc, sizeof loc, "%s%s/%s=%s/", root_loc, ti->parts[i].folder, ti->pcol,
                 ti->parts[i].value);
        json_object_object_add(sd, "Location", json_object_new_string(loc));
        json_object_object_add(p, "Values", vals);
        json_object_object_add(p, "StorageDescriptor", sd);
        json_object_array_add(list, p);
    }
    json_object_object_add(root, "DatabaseName", json_object_new_string(db));
    json_object_object_add(root, "TableName", json_object_new_string(ti->view));
    json_object_object_add(root, "PartitionInputList", list);
    return root;
}

static json_object *glue_input(const struct table_info *ti, const char *db)
{
    json_object *root = json_object_new_object(), *in = json_object_new_object(),
                *sd = json_object_new_object();
    json_object *cols = json_object_new_array(), *parts = json_object_new_array(),
                *params = json_object_new_object();
    for (int i = 0; i < ti->cols.n; i++) {
        char t[64];
        athena_type(ti->cols.v[i].type, t, sizeof t);
        json_object *c = json_object_new_object();
        json_object_object_add(c, "Name", json_object_new_string(ti->cols.v[i].name));
        json_object_object_add(c, "Type", json_object_new_string(t));
        json_object_array_add(
            ti->partitioned && !strcmp(ti->cols.v[i].name, ti->pcol) ? parts : cols, c);
    }
    json_object_object_add(sd, "Columns", cols);
    json_object_object_add(sd, "Location", json_object_new_string(ti->location));
    json_object_object_add(
        sd, "InputFormat",
        json_object_new_string("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"));
    json_object_object_add(
        sd, "OutputFormat",
        json_object_new_string("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"));
    json_object *serde = json_object_new_object();
    json_object_object_add(
        serde, "SerializationLibrary",
        json_object_new_string("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"));
    json_object_object_add(sd, "SerdeInfo", serde);
    json_object_object_add(params, "classification", json_object_new_string("parquet"));
    json_object_object_add(params, "parquet.compression", json_object_new_string("ZSTD"));
    if (ti->partitioned && ti->one_folder) {
        char range[64], tmpl[700], key[96];
        const char *lo, *hi;
        part_range(ti, &lo, &hi);
        snprintf(range, sizeof range, "%s,%s", lo, hi);
        snprintf(tmpl, sizeof tmpl, "%s%s=${%s}/", ti->location, ti->pcol, ti->pcol);
        json_object_object_add(params, "projection.enabled", json_object_new_string("true"));
        snprintf(key, sizeof key, "projection.%s.type", ti->pcol);
        json_object_object_add(params, key,
                               json_object_new_string(ti->is_date ? "date" : "integer"));
        if (ti->is_date) {
            snprintf(key, sizeof key, "projection.%s.format", ti->pcol);
            json_object_object_add(params, key, json_object_new_string("yyyy-MM-dd"));
        }
        snprintf(key, sizeof key, "projection.%s.range", ti->pcol);
        json_object_object_add(params, key, json_object_new_string(range));
        json_object_object_add(params, "storage.location.template", json_object_new_string(tmpl));
    }
    json_object_object_add(in, "Name", json_object_new_string(ti->view));
    json_object_object_add(in, "TableType", json_object_new_string("EXTERNAL_TABLE"));
    json_object_object_add(in, "Parameters", params);
    json_object_object_add(in, "StorageDescriptor", sd);
    json_object_object_add(in, "PartitionKeys", parts);
    json_object_object_add(root, "DatabaseName", json_object_new_string(db));
    json_object_object_add(root, "TableInput", in);
    return root;
}

struct catalog_ud {
    struct mdp_engine *e;
    struct mdp_lake *lake;
    const char *bucket, *db;
    json_object *arr; /* Glue inputs, or NULL for DDL */
    FILE *out;
    struct mdp_diag *d;
};

static int catalog_table(const char *table, void *ud)
{
    struct catalog_ud *c = ud;
    struct table_info ti;
    int rc = describe(c->e, c->lake, table, c->bucket, &ti, c->d);
    if (rc) return rc;
    if (c->arr) {
        /* a partitioned table's partitions follow its input, projected ones too: Glue then holds
         * exactly the published partitions, for engines without partition projection as well
         * (Spark, Trino's Glue catalog) */
        json_object *in = glue_input(&ti, c->db), *tin, *sd;
        json_object_array_add(c->arr, in);
        if (ti.partitioned && json_object_object_get_ex(in, "TableInput", &tin) &&
            json_object_object_get_ex(tin, "StorageDescriptor", &sd))
            json_object_array_add(c->arr, glue_partitions(&ti, c->db, sd));
    } else {
        print_ddl(c->out, &ti, c->db);
    }
    table_info_cleanup(&ti);
    return rc;
}

int mdp_catalog(struct mdp_lake *lake, const char *bucket, const char *env, int glue_json,
                FILE *out, struct mdp_diag *d)
{
    char db[80], bk[200];
    snprintf(db, sizeof db, "matbakh_%s", env);
    snprintf(bk, sizeof bk, "%s", bucket ? bucket : "");
    if (!bucket) snprintf(bk, sizeof bk, "matbakh-data-%s", env);
    struct mdp_engine *e = NULL;
    int rc = mdp_engine_open(NULL, &e, d);
    if (!rc && !glue_json)
        fprintf(out,
                "-- Athena DDL for the matbakh-dp lake in s3://%s (generated by mdp catalog ddl)\n"
                "CREATE DATABASE IF NOT EXISTS `%s`;\n\n",
                bk, db);
    struct catalog_ud c = {e, lake, bk, db, glue_json ? json_object_new_array() : NULL, out, d};
    if (!rc) rc = mdp_curate_tables(lake, catalog_table, &c, d);
    if (c.arr) {
        if (!rc)
            fprintf(out, "%s\n",
                    json_object_to_json_string_ext(c.arr, JSON_C_TO_STRING_PRETTY |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(c.arr);
    }
    mdp_engine_close(e);
    return rc;
}
