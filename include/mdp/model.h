/* The model runner behind `mdp curate`: the curated tables are SQL models (models/NAME.sql), run on
 * the embedded DuckDB in dependency order. A model file starts with a header of comments:
 *   -- model: fact_email_events            its name (other models use it as a table)
 *   -- table: curated/facts/fact_email_events   published as this lake table (optional)
 *   -- partition_by: date_key              Hive partitioning of the Parquet files (optional)
 *   -- depends: stg_ses, stg_user_profiles models it reads
 * then one SELECT. In the SQL, {{raw}} is the raw zone's folder and {{identity_max_users}} the
 * configured limit. A model whose rows have a _reason column sends those rows to quarantine
 * (curated/_quarantine/<model>.ndjson) and its downstream models skip them. A published model is
 * written as ZSTD Parquet and published atomically (one manifest switch per table). */
#ifndef MDP_MODEL_H
#define MDP_MODEL_H

#include "mdp/pipeline.h"

/* What a curate run rebuilds. full: every partition. Else, with from_day/to_day (days since epoch,
 * -1 when unset): those date_keys; without them: the days that got new raw objects since the last
 * run, each with curate.lookback_days before it (a lake never curated is rebuilt in full). Models
 * compute over the whole raw zone either way; a partitioned table rewrites only the affected
 * partitions and keeps the files of the others, dimensions are rewritten whole. */
struct mdp_curate_opts {
    int full;
    int64_t from_day, to_day;
};
/* Runs the models for what o asks (see above), publishes each table atomically, records a run per
 * model through ctx->on_run and adds the counts to run; when nothing new arrived it records
 * "nothing to rebuild" and succeeds. ctx, o and run are borrowed. Returns 0, or MDP_ERR_ENGINE /
 * MDP_ERR_NO_ENGINE (a model failed; d names it), MDP_ERR_CONFIG (a model file's header or
 * dependencies), MDP_ERR_IO / MDP_ERR_NOSPACE (lake), MDP_ERR_NOMEM, with d. */
int mdp_curate(struct mdp_stage_ctx *ctx, const struct mdp_curate_opts *o, struct mdp_run *run,
               struct mdp_diag *d);
/* The curate stage of `mdp run`: incremental, as mdp_curate with no options; returns as it does. */
int mdp_curate_run(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d);

/* The published curated and ml tables, for the catalog: calls cb per table name (borrowed for the
 * call). Returns 0, the first nonzero return of cb (which stops the walk), or the lake's error
 * (MDP_ERR_IO, MDP_ERR_NOMEM) with d. */
int mdp_curate_tables(struct mdp_lake *lake, int (*cb)(const char *table, void *ud), void *ud,
                      struct mdp_diag *d);

/* Expands a model's SQL (internal, shared with the derived tables): {{raw}} the raw zone's folder;
 * a quoted '{{raw}}/glob' that matches nothing becomes an empty file of its kind in empty_dir (so
 * a source without deliveries gives an empty table, not an error); {{identity_max_users}}; and,
 * when date is set, {{date}}. Returns 0, or -1 for an unterminated quoted path. */
struct mdp_buf;
struct mdp_engine;
struct mdp__model_vars {
    const char *raw, *empty_dir;
    long max_users;
    const char *date;
};
/* out is the caller's buffer (reset first; the caller frees it with mdp_buf_cleanup). Returns 0 or
 * -1 as said above; out of memory is not in the return code but in out's sticky error: check
 * mdp_buf_error(out). */
int mdp__model_expand(const char *sql, const struct mdp__model_vars *v, struct mdp_buf *out);
/* Parses the n bytes of text as model file fname of models folder dir (its header, a template's
 * expansion; the templates are looked up as for a model read from dir), then forgets it: the
 * fuzz target of the model loader. Returns 0, or MDP_ERR_CONFIG / MDP_ERR_NOMEM with a message in
 * d that names the file. */
int mdp__model_parse(const char *dir, const char *fname, const char *text, size_t n,
                     struct mdp_diag *d);

/* Loads the consent journal of st into e as the temp table consent_journal (seq, email_hash,
 * user_id, purpose, granted, ts, expires_at, source) for the gating SQL of curate and the derived
 * tables (internal); *n gets the number of records. The address enters only as its SHA-256. With
 * lake (may be NULL), the records up to the last load are read from their Parquet copy below the
 * lake's local path _meta/cache/consent-journal/ (checked against the journal, kept without clear
 * subjects: docs/privacy.md §2) and only the newer ones from st; the copy is renewed when they
 * have grown to a sixteenth of it. */
struct mdp_state;
struct mdp_lake;
/* e, lake and st are borrowed. Returns 0, or the engine's error (MDP_ERR_ENGINE) or the state
 * store's with d. */
int mdp__consent_journal_load(struct mdp_engine *e, struct mdp_lake *lake, struct mdp_state *st,
                              int64_t *n, struct mdp_diag *d);

/* The benchmark's baseline: the same models as bare DuckDB CREATE + COPY into dir (internal).
 * Returns 0 or the engine's error with d. */
int mdp__curate_bare(struct mdp_stage_ctx *ctx, const char *dir, struct mdp_diag *d);

/* The name the specification gives a published lake table (curated/facts/fact_email_events ->
 * fact_email_events, ml/features -> ml_user_features, ml/segments -> ml_user_segments): the name
 * of its view in `mdp query` and `mdp shell` and of its catalog table. out_alias gets the short
 * name kept as a second view for older queries (features, segments), or NULL when there is none.
 * Returns the view name; it and *out_alias point into table (borrowed: valid as long as table) or
 * into static storage. out_alias may be NULL. No errors. */
const char *mdp_table_spec_name(const char *table, const char **out_alias);

/* Creates a view per published curated/ml table in e, over the files of its current manifest,
 * named as mdp_table_spec_name says, plus a view under the short alias where there is one.
 * Returns the number of tables attached via out_n (aliases not counted). */
struct mdp_engine;
/* A table without a current manifest is skipped; out_n may be NULL; e and lake are borrowed.
 * Returns 0, or MDP_ERR_ENGINE, MDP_ERR_IO, MDP_ERR_NOMEM with d. */
int mdp_curate_attach_all(struct mdp_engine *e, struct mdp_lake *lake, int *out_n,
                          struct mdp_diag *d);

/* The PII check: every text column of every published curated/ml table, except the allowed ones
 * (fact_email_events.email_lower), must hold nothing that looks like an email address. Calls cb
 * per finding; returns 0, or MDP_ERR_INVALID when something was found. */
int mdp_lint_pii(struct mdp_engine *e, struct mdp_lake *lake,
                 void (*cb)(const char *table, const char *column, long long rows, void *ud),
                 void *ud, struct mdp_diag *d);

#endif
