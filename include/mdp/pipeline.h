/* The pipeline that `mdp run` runs: named stages in a configured order, each recorded in the run
 * log, stopping at the first failure. Stages are registered in one table (src/pipeline/stages.c);
 * later work adds stages (curate, segments, features, dq, ...) by adding a line there. */
#ifndef MDP_PIPELINE_H
#define MDP_PIPELINE_H

#include <stdint.h>
#include "mdp/config.h"
#include "mdp/lake.h"

struct mdp_stage_ctx {
    const struct mdp_config *cfg;
    struct mdp_lake *lake;
    int64_t day; /* the --date to work on (days since epoch), or -1 for everything pending */
    /* optional: called after each finished run record (stage or sub-run such as land.ses) */
    void (*on_run)(const struct mdp_run *r, void *ud);
    void *ud;
    /* `mdp ingest NAME`: the connector's own flags given (NULL-ended, e.g. ses's
     * --verify-signatures), or NULL */
    const char *const *ingest_flags;
};

struct mdp_stage {
    const char *name;
    const char *summary;
    /* Does the work; fills counts in run (in/out/quarantined/duplicates/bytes). Returns 0 or error
     * with diag. The pipeline records the run with its status. */
    int (*run)(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d);
};

/* Returns the stage named name, or NULL when no stage has that name. The stage is static (never
 * freed). */
const struct mdp_stage *mdp_stage_find(const char *name);
/* Returns the NULL-terminated list of every known stage, in the registry's order; the list and its
 * stages are static (never freed). */
const struct mdp_stage *const *mdp_stage_all(void);

/* Runs the stages named in cfg->pipeline_stages in order. Every stage name is checked before
 * anything runs. Returns 0, or the failing stage's error (diag names the stage). */
int mdp_pipeline_run(struct mdp_stage_ctx *ctx, struct mdp_diag *d);

/* the stages */
/* The ingest stage: returns mdp_ingest_run(ctx, NULL, run, d). */
int mdp_stage_ingest(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d);
/* The ingest stage for one connector (`mdp ingest NAME`), or all configured ones (only NULL): lands
 * every delivery of the landing folder (a missing landing folder is nothing to ingest, not an
 * error), records one run per connector and adds the counts to run. only and ctx are borrowed.
 * Returns 0; MDP_ERR_STAGE when a connector's quarantined share exceeds
 * ingest.max_quarantine_share (its records are landed and quarantined all the same); a connector
 * init hook's error; MDP_ERR_IO / MDP_ERR_NOSPACE (store), MDP_ERR_NOMEM; each with d. */
int mdp_ingest_run(struct mdp_stage_ctx *ctx, const char *only, struct mdp_run *run,
                   struct mdp_diag *d);
/* The inventory stage: lists every raw and quarantine object of the lake (zone, source, dataset,
 * dt, key, bytes) into the table _meta/tables/raw_inventory. Returns 0, or MDP_ERR_NO_ENGINE /
 * MDP_ERR_ENGINE, MDP_ERR_IO, MDP_ERR_NOMEM with d. */
int mdp_stage_inventory(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d);
/* The retention stage (not a default one: removing is the operator's choice): loads the inventory
 * (governance.inventory), plans at the current time and applies the plan as `mdp retention apply`
 * does, with --supabase when governance.retention_stage_supabase is on (src/gov/retention.c);
 * run->in = the plan's steps, run->out = objects and items removed, run->bytes their bytes, the
 * message the totals. Returns 0, MDP_ERR_CONFIG (on, but no connection string in
 * sources.supabase.dsn_env), or mdp_inventory_load's, mdp_retention_plan's or
 * mdp_retention_apply_with's error with d. */
int mdp_stage_retention(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d);

#endif
