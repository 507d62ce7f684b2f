/* The derived tables of spec 5: the daily segments (ml/segments) and the ML feature table
 * ml_user_features (ml/features), both partitioned by date and computed point in time from the
 * curated tables, the raw Supabase versions and the consent journal (models/ml/ (inputs, segments,
 * features .sql)), plus the serving snapshot (include/mdp/snapshot.h) of the latest date. Features
 * are consent-gated: only users with valid `ml` consent as of the date get a row. */
#ifndef MDP_ML_H
#define MDP_ML_H
#include "mdp/pipeline.h"

struct mdp_state;

struct mdp_ml_opts {
    int64_t from_day, to_day; /* days since epoch; -1/-1: the default day (mdp_ml_default_day) */
    int segments;             /* write ml/segments */
    int features;             /* write ml/features and the serving snapshot */
    int skip_if_empty; /* no curated dim_user or no events yet: succeed with nothing (stages) */
};
/* Builds the tables for every date from..to, each date published atomically on its own. The
 * serving snapshot follows the last date unless the current snapshot is of a later date (a
 * backfill does not turn back what is served). run counts: out rows written. */
int mdp_ml_build(struct mdp_stage_ctx *ctx, const struct mdp_ml_opts *o, struct mdp_run *run,
                 struct mdp_diag *d);

/* The benchmark's baseline (internal): the journal as a Parquet file, and the same SQL for one
 * date run bare in DuckDB (journal from that file; features, segments and the snapshot's rows
 * copied to Parquet files in out_dir). */
int mdp__ml_export_journal(struct mdp_stage_ctx *ctx, const char *path, struct mdp_diag *d);
int mdp__ml_bare(struct mdp_stage_ctx *ctx, int64_t day, const char *journal, const char *out_dir,
                 struct mdp_diag *d);

/* Opens the lake's state store (<lake>/_meta/state.sqlite). */
int mdp_state_open_lake(struct mdp_lake *lake, struct mdp_state **out, struct mdp_diag *d);

/* Stages of `mdp run`: consent (imports the stream's ConsentJournal into the journal), segments,
 * features (with the snapshot). Both derived stages work on ctx->day, or the default day. */
int mdp_stage_consent(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d);
int mdp_stage_segments(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d);
int mdp_stage_features(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d);

#endif
