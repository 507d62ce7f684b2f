/* The `inventory` stage: a Parquet table of every object in the raw zone and the quarantine
 * (_meta/tables/raw_inventory), rebuilt from a listing and published atomically, so that freshness
 * checks and analysts can ask "what arrived when" with SQL instead of walking folders. */
#include "mdp/engine.h"
#include "mdp/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inv {
    struct mdp_appender *app;
    struct mdp_diag *d;
    int64_t rows;
};

static int add_object(const char *key, int64_t size, void *ud)
{
    struct inv *iv = ud;
    /* raw/<source>/<dataset>/dt=YYYY-MM-DD/<name> or
     * raw/_quarantine/<source>/<dataset>/dt=.../<name> */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", key);
    char *parts[8];
    int n = 0;
    for (char *t = strtok(buf, "/"); t && n < 8; t = strtok(NULL, "/"))
        parts[n++] = t;
    int quarantine = n >= 2 && strcmp(parts[1], "_quarantine") == 0;
    int o = quarantine ? 1 : 0;
    if (n != 5 + o || strncmp(parts[3 + o], "dt=", 3) != 0) return 0; /* not a raw object */
    int rc = mdp_append_str(iv->app, quarantine ? "quarantine" : "raw");
    if (!rc) rc = mdp_append_str(iv->app, parts[1 + o]);
    if (!rc) rc = mdp_append_str(iv->app, parts[2 + o]);
    if (!rc) rc = mdp_append_str(iv->app, parts[3 + o] + 3);
    if (!rc) rc = mdp_append_str(iv->app, key);
    if (!rc) rc = mdp_append_i64(iv->app, size);
    if (!rc) rc = mdp_append_end_row(iv->app, iv->d);
    if (!rc) iv->rows++;
    return rc;
}

int mdp_stage_inventory(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d)
{
    struct mdp_engine_opts eo = {NULL, ctx->cfg->engine_threads, ctx->cfg->engine_memory_limit};
    struct mdp_engine *e = NULL;
    struct inv iv = {NULL, d, 0};
    int rc = mdp_engine_open(&eo, &e, d);
    if (rc) return rc;
    rc = mdp_engine_exec(
        e,
        "CREATE TABLE raw_inventory (zone VARCHAR, source VARCHAR, dataset VARCHAR, "
        "dt DATE, key VARCHAR, bytes BIGINT)",
        d);
    if (!rc) rc = mdp_appender_open(e, "raw_inventory", &iv.app, d);
    if (!rc) rc = mdp_store_list(ctx->lake->store, "raw/", add_object, &iv, d);
    int crc = mdp_appender_close(iv.app, d);
    if (!rc) rc = crc;
    run->in = iv.rows;
    if (!rc)
        rc = mdp_engine_write_table(
            e, ctx->lake, "SELECT * FROM raw_inventory ORDER BY zone, source, dataset, dt, key",
            "_meta/tables/raw_inventory", "source", run->run_id, &run->out, d);
    mdp_engine_close(e);
    return rc;
}
