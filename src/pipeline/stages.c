/* The stage registry and the runner behind `mdp run` (include/mdp/pipeline.h). */
#include "mdp/pipeline.h"
#include "mdp/dq.h"
#include "mdp/lake.h"
#include "mdp/log.h"
#include "mdp/ml.h"
#include "mdp/model.h"

#include <stdio.h>
#include <string.h>

static const struct mdp_stage INGEST = {
    "ingest",
    "every configured connector: what the sources delivered (landing folder) into the immutable "
    "raw zone, records checked, bad ones quarantined with a reason, duplicates counted",
    mdp_stage_ingest};
static const struct mdp_stage INVENTORY = {
    "inventory",
    "rebuild _meta/tables/raw_inventory (Parquet): every raw object with its source, "
    "dataset, day and size",
    mdp_stage_inventory};

static const struct mdp_stage CURATE = {
    "curate",
    "the star schema of spec 4 (facts, dimensions, dim_time, identity_links) from the raw zone: "
    "models/*.sql on DuckDB, published as partitioned Parquet",
    mdp_curate_run};

static const struct mdp_stage CONSENT = {
    "consent",
    "import the ConsentJournal changes (and double opt-in confirmations of VcTokens) of the "
    "DynamoDB stream from the raw zone into the consent journal, idempotently",
    mdp_stage_consent};

static const struct mdp_stage SEGMENTS = {
    "segments",
    "the daily segments of spec 5 (onb_day, engagement_level, consent_state, persona_current) "
    "into ml/segments, for --date or the newest day with events",
    mdp_stage_segments};

static const struct mdp_stage FEATURES = {
    "features",
    "ml_user_features of spec 5 into ml/features for users with valid ml consent, point in "
    "time, and the serving snapshot serving/user_context",
    mdp_stage_features};

static const struct mdp_stage DQ = {
    "dq",
    "the data-quality rulesets (dq.rules_dir, one TABLE.dqdl per published table, Glue's DQDL) "
    "against the published tables; outcomes appended to dq_results; fails per dq.fail_stage",
    mdp_stage_dq};

/* `mdp lake vacuum` with its default grace period; not in the default list (removing is the
 * operator's choice), for a schedule that runs it after the others */
static int stage_vacuum(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d)
{
    struct mdp_vacuum_opts o = {0, MDP_VACUUM_GRACE_MS, 0};
    struct mdp_vacuum_stats st;
    int rc = mdp_lake_vacuum(ctx->lake, &o, NULL, NULL, &st, d);
    mdp_vacuum_to_run(&st, run);
    return rc;
}

static const struct mdp_stage VACUUM = {
    "vacuum",
    "mdp lake vacuum: leftovers of unfinished writes, run folders no manifest names (older than "
    "a day), closed days' small raw objects of the collector compacted (not a default stage)",
    stage_vacuum};

static const struct mdp_stage RETENTION = {
    "retention",
    "mdp retention apply at the current time (governance.inventory's rules, a ledger entry per "
    "dataset; Supabase's rows when governance.retention_stage_supabase is on; not a default "
    "stage)",
    mdp_stage_retention};

static const struct mdp_stage *const STAGES[] = {
    &INGEST, &CURATE, &CONSENT, &SEGMENTS, &FEATURES, &INVENTORY, &VACUUM, &RETENTION, &DQ, NULL};

const struct mdp_stage *const *mdp_stage_all(void)
{
    return STAGES;
}

const struct mdp_stage *mdp_stage_find(const char *name)
{
    for (int i = 0; STAGES[i]; i++)
        if (strcmp(STAGES[i]->name, name) == 0) return STAGES[i];
    return NULL;
}

int mdp_pipeline_run(struct mdp_stage_ctx *ctx, struct mdp_diag *d)
{
    const struct mdp_config *cfg = ctx->cfg;
    for (int i = 0; i < cfg->pipeline_stages.n; i++)
        if (!mdp_stage_find(cfg->pipeline_stages.v[i]))
            return mdp_diag_set(d, MDP_ERR_CONFIG,
                                "pipeline.stages: unknown stage '%s' (`mdp run --list` names them)",
                                cfg->pipeline_stages.v[i]);
    for (int i = 0; i < cfg->pipeline_stages.n; i++) {
        const struct mdp_stage *st = mdp_stage_find(cfg->pipeline_stages.v[i]);
        struct mdp_run run;
        mdp_run_begin(&run, st->name);
        mdp_log(MDP_LOG_INFO, "stage started", LOG_STR("stage", st->name),
                LOG_STR("run_id", run.run_id), MDP_LF_END);
        struct mdp_diag sd = {0};
        int rc = st->run(ctx, &run, &sd);
        if (rc) snprintf(run.message, sizeof run.message, "%s", sd.msg);
        struct mdp_diag ld = {0};
        int lrc = mdp_run_end(ctx->lake, &run, rc ? "failed" : "ok", &ld);
        if (ctx->on_run) ctx->on_run(&run, ctx->ud);
        mdp_log(rc ? MDP_LOG_ERROR : MDP_LOG_INFO, rc ? "stage failed" : "stage finished",
                LOG_STR("stage", st->name), LOG_INT("in", run.in), LOG_INT("out", run.out),
                LOG_INT("quarantined", run.quarantined), LOG_INT("ms", run.end_ms - run.start_ms),
                MDP_LF_END);
        if (rc) return mdp_diag_set(d, MDP_ERR_STAGE, "stage %s failed: %s", st->name, sd.msg);
        if (lrc)
            return mdp_diag_set(d, lrc, "stage %s: cannot write the run log: %s", st->name, ld.msg);
    }
    return 0;
}
