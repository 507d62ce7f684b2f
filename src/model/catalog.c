/* The catalog for the distributed path (`mdp catalog ddl`): Athena DDL and Glue CreateTable input
 * for every published curated and ml table. A table's LOCATION is the run folder of its current
 * manifest (s3://<bucket>/<table>/run-<id>/): applying the DDL again after a publish (or Glue
 * UpdateTable) is Athena's atomic switch to the new state. Facts get partition projection on
 * date_key over the range the manifest covers, so no partitions need to be registered. */
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

struct table_info {
    char name[200], view[80], location[600];
    struct colset cols;
    int partitioned;
    long long min_key, max_key;
};

static int describe(struct mdp_engine *e, struct mdp_lake *lake, const char *table,
                    const char *bucket, struct table_info *ti, struct mdp_diag *d)
{
    memset(ti, 0, sizeof *ti);
    snprintf(ti->name, sizeof ti->name, "%s", table);
    snprintf(ti->view, sizeof ti->view, "%s", strrchr(table, '/') + 1);
    struct mdp_manifest m;
    int rc = mdp_lake_current(lake, table, &m, d);
    if (rc) return rc;
    /* the run folder: <table>/run-<id>/ */
    const char *k = m.nfiles ? m.files[0].key : "";
    const char *run = strstr(k, "/run-");
    const char *end = run ? strchr(run + 1, '/') : NULL;
    snprintf(ti->location, sizeof ti->location, "s3://%s/%.*s/", bucket, end ? (int)(end - k) : 0,
             k);
    ti->partitioned = m.nfiles && strstr(k, "/date_key=") != NULL;
    ti->min_key = 99999999;
    for (size_t i = 0; i < m.nfiles; i++) {
        const char *p = strstr(m.files[i].key, "/date_key=");
        if (!p) continue;
        long long v = atoll(p + 10);
        if (v < ti->min_key) ti->min_key = v;
        if (v > ti->max_key) ti->max_key = v;
    }
    mdp_manifest_cleanup(&m);
    rc = mdp_engine_attach_table(e, lake, table, ti->view, d);
    char sql[300];
    snprintf(
        sql, sizeof sql,
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '%s' "
        "ORDER BY ordinal_position",
        ti->view);
    struct mdp_rows_cb cb = {NULL, col_row, &ti->cols};
    if (!rc) rc = mdp_engine_query(e, sql, &cb, d);
    return rc;
}

static void print_ddl(FILE *out, const struct table_info *ti, const char *db)
{
    fprintf(out, "CREATE EXTERNAL TABLE IF NOT EXISTS `%s`.`%s` (\n", db, ti->view);
    int first = 1;
    for (int i = 0; i < ti->cols.n; i++) {
        if (ti->partitioned && !strcmp(ti->cols.v[i].name, "date_key")) continue;
        char t[64];
        athena_type(ti->cols.v[i].type, t, sizeof t);
        fprintf(out, "%s  `%s` %s", first ? "" : ",\n", ti->cols.v[i].name, t);
        first = 0;
    }
    fprintf(out, "\n)\n");
    if (ti->partitioned) fprintf(out, "PARTITIONED BY (`date_key` int)\n");
    fprintf(out,
            "STORED AS PARQUET\nLOCATION '%s'\nTBLPROPERTIES (\n  'parquet.compression' = 'ZSTD'",
            ti->location);
    if (ti->partitioned)
        fprintf(out,
                ",\n  'projection.enabled' = 'true',\n  'projection.date_key.type' = 'integer',\n"
                "  'projection.date_key.range' = '%lld,%lld',\n"
                "  'storage.location.template' = '%sdate_key=${date_key}/'",
                ti->min_key, ti->max_key, ti->location);
    fprintf(out, "\n);\n\n");
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
            ti->partitioned && !strcmp(ti->cols.v[i].name, "date_key") ? parts : cols, c);
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
    if (ti->partitioned) {
        char range[64], tmpl[700];
        snprintf(range, sizeof range, "%lld,%lld", ti->min_key, ti->max_key);
        snprintf(tmpl, sizeof tmpl, "%sdate_key=${date_key}/", ti->location);
        json_object_object_add(params, "projection.enabled", json_object_new_string("true"));
        json_object_object_add(params, "projection.date_key.type",
                               json_object_new_string("integer"));
        json_object_object_add(params, "projection.date_key.range", json_object_new_string(range));
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
    if (!rc && c->arr)
        json_object_array_add(c->arr, glue_input(&ti, c->db));
    else if (!rc)
        print_ddl(c->out, &ti, c->db);
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
