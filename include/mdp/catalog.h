/* The catalog for Athena, Trino and Spark: DDL and Glue table input for the published tables. */
#ifndef MDP_CATALOG_H
#define MDP_CATALOG_H

#include <stdio.h>
#include "mdp/lake.h"

/* Writes Athena DDL (CREATE DATABASE/EXTERNAL TABLE with partition projection on date_key) or, with
 * glue_json, a JSON array of Glue CreateTable inputs {DatabaseName, TableInput} for every published
 * curated and ml table, located in s3://<bucket> (default matbakh-data-<env>) at the run folder of
 * its current manifest. Database: matbakh_<env>. lake, bucket (NULL for the default), env and out
 * are borrowed for the call. Returns 0, or MDP_ERR_NO_ENGINE / MDP_ERR_ENGINE (DuckDB), MDP_ERR_IO
 * or MDP_ERR_NOT_FOUND (reading a manifest), MDP_ERR_NOMEM, with d. Output written before a failure
 * stays in out. */
int mdp_catalog(struct mdp_lake *lake, const char *bucket, const char *env, int glue_json,
                FILE *out, struct mdp_diag *d);

struct mdp_aws;
/* What mdp_catalog_apply did. */
struct mdp_catalog_applied {
    long tables_created, tables_updated;
    long partitions_created, partitions_updated, partitions_deleted, partitions_unchanged;
};
/* Called with one line of what apply did ("table matbakh_dev.dim_user: created"); the text is
 * borrowed for the call. Returns nothing. */
typedef void (*mdp_catalog_report_fn)(const char *line, void *ud);
/* Applies what mdp_catalog(glue_json) describes through the Glue API of a: creates the database
 * matbakh_<env> when missing, creates each table or updates it (UpdateTable: the current run
 * folder, the published columns), removes the partitions no longer published (BatchDeletePartition,
 * 25 a call, before the table's update), creates missing partitions and moves those at another
 * location (BatchCreatePartition, BatchUpdatePartition, 100 a call, after GetPartitions); every
 * partitioned table's partitions are registered, projected ones too. Idempotent: a
 * second apply with nothing published in between changes no partition. lake, a, bucket (NULL for
 * matbakh-data-<env>), env and ud are borrowed; report may be NULL; *out_n (the caller's) is
 * filled. Returns 0, mdp_catalog's errors, or the Glue client's (MDP_ERR_PERM, MDP_ERR_INVALID,
 * MDP_ERR_IO: also partitions Glue refused, the first named), MDP_ERR_NOMEM, with d. What was
 * applied before a failure stays applied (each call is atomic; a rerun completes). */
int mdp_catalog_apply(struct mdp_lake *lake, struct mdp_aws *a, const char *bucket, const char *env,
                      mdp_catalog_report_fn report, void *ud, struct mdp_catalog_applied *out_n,
                      struct mdp_diag *d);

#endif
