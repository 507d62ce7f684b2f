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
 * backfill does not turn back what is served). run counts: in journal records, out rows written.
 * ctx, o and run are borrowed. Returns 0 (also when o->skip_if_empty and there is nothing to
 * derive yet; run->message says so), MDP_ERR_INVALID (empty date range), MDP_ERR_NOT_FOUND (no
 * curated dim_user or events to pick the default day from), MDP_ERR_NO_ENGINE / MDP_ERR_ENGINE,
 * MDP_ERR_IO / MDP_ERR_NOSPACE (state store, lake), MDP_ERR_NOMEM, with d. The dates published
 * before a failure stay published. */
int mdp_ml_build(struct mdp_stage_ctx *ctx, const struct mdp_ml_opts *o, struct mdp_run *run,
                 struct mdp_diag *d);

/* The benchmark's baseline (internal): the journal as a Parquet file, and the same SQL for one
 * date run bare in DuckDB (journal from that file; features, segments and the snapshot's rows
 * copied to Parquet files in out_dir). Returns 0 or the engine's / state store's error with d. */
int mdp__ml_export_journal(struct mdp_stage_ctx *ctx, const char *path, struct mdp_diag *d);
/* The bare run for day (see above): features.parquet, segments.parquet and snapshot.parquet in
 * out_dir, the journal read from the Parquet file journal. Returns 0 or the engine's error (a
 * missing file is MDP_ERR_ENGINE) with d. */
int mdp__ml_bare(struct mdp_stage_ctx *ctx, int64_t day, const char *journal, const char *out_dir,
                 struct mdp_diag *d);

/* Opens the state store: the process-wide location of mdp_state_configure when one is set
 * (AWS mode: dynamodb://TABLE), else the lake's <lake>/_meta/state.sqlite, as mdp_state_open
 * does: *out (NULL on failure) is freed by the caller with mdp_state_close. Returns 0, MDP_ERR_UNSUPPORTED when the
 * lake's store has no local paths, or mdp_state_open's errors, with d. */
int mdp_state_open_lake(struct mdp_lake *lake, struct mdp_state **out, struct mdp_diag *d);

/* Stages of `mdp run`: consent (imports the stream's ConsentJournal into the journal), segments,
 * features (with the snapshot). Both derived stages work on ctx->day, or the default day.
 * consent returns 0 or mdp_consent_import's / the state store's error with d; run counts in
 * changes, out imported, duplicates already in the journal. */
int mdp_stage_consent(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d);
/* The segments stage: mdp_ml_build of ctx->day with segments only and skip_if_empty; returns as it
 * does. */
int mdp_stage_segments(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d);
/* The features stage: mdp_ml_build of ctx->day with features (and the snapshot) and skip_if_empty;
 * returns as it does. */
int mdp_stage_features(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d);

#endif
