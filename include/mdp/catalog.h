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

#endif
