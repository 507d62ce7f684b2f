/* The SQL engine: embedded DuckDB behind a small C interface. This header and src/lake/engine.c are
 * the only code that knows DuckDB; everything else runs SQL through these calls. The library is
 * loaded at run time (dlopen) from MDP_DUCKDB_LIB or the path the build baked in, so commands that
 * need no SQL run without it, and a missing library is a clear MDP_ERR_NO_ENGINE, not a loader
 * crash. One engine is used by one thread at a time. */
#ifndef MDP_ENGINE_H
#define MDP_ENGINE_H

#include <stdint.h>
#include "mdp/err.h"
#include "mdp/lake.h"

struct mdp_engine;

struct mdp_engine_opts {
    const char *db_path;      /* NULL: in memory */
    long threads;             /* 0: DuckDB's default (all cores) */
    const char *memory_limit; /* NULL: DuckDB's default */
};

/* Loads the library (once per process, thread-safe) and opens a database; opts (NULL for all
 * defaults) is borrowed for the call. *out (NULL on failure) is freed by the caller with
 * mdp_engine_close. Returns 0, MDP_ERR_NO_ENGINE (library missing or incompatible: diag names the
 * path tried), MDP_ERR_ENGINE (cannot open or configure the database), MDP_ERR_NOMEM. */
int mdp_engine_open(const struct mdp_engine_opts *opts, struct mdp_engine **out,
                    struct mdp_diag *d);
/* Closes the database and frees e (NULL is fine). Close every appender of e first. */
void mdp_engine_close(struct mdp_engine *e);
/* Returns DuckDB's version string ("v1.4.4"), static (owned by the library), or NULL with d
 * (MDP_ERR_NO_ENGINE) if the library cannot be loaded. */
const char *mdp_engine_version(struct mdp_diag *d);

/* Runs SQL (one or more statements) and discards results. Returns 0 or MDP_ERR_ENGINE with DuckDB's
 * message in d (statements before the failing one stay done). */
int mdp_engine_exec(struct mdp_engine *e, const char *sql, struct mdp_diag *d);

/* Streams the rows of a query. Every value is passed as text (DuckDB's cast to VARCHAR) or NULL.
 * header is called once with the column names before the first row (also for zero rows).
 * A non-zero return from a callback stops the query and is returned. */
struct mdp_rows_cb {
    int (*header)(void *ud, int ncols, const char *const *names);
    int (*row)(void *ud, int ncols, const char *const *values);
    void *ud;
};
/* Runs the query sql (one SELECT, wrapped as a subquery); names and values handed to the callbacks
 * are borrowed for that call only. Returns 0, the callback's non-zero value, MDP_ERR_ENGINE with
 * DuckDB's message, or MDP_ERR_NOMEM, with d. */
int mdp_engine_query(struct mdp_engine *e, const char *sql, const struct mdp_rows_cb *cb,
                     struct mdp_diag *d);
/* Runs a query that returns one value and copies it as text into out, the caller's buffer (reset
 * first; empty for NULL or no row; freed with mdp_buf_cleanup). Returns as mdp_engine_query. */
int mdp_engine_scalar(struct mdp_engine *e, const char *sql, struct mdp_buf *out,
                      struct mdp_diag *d);

/* Appender: fast row insertion into an existing table. Append one value per column, then end the
 * row. The value appends return 0 or MDP_ERR_ENGINE without a message; a failure is remembered
 * and reported, with DuckDB's message, by the next mdp_append_end_row, so checking only that is
 * enough. */
struct mdp_appender;
/* Opens an appender on table of e. *out (NULL on failure) is freed by the caller with
 * mdp_appender_close, before e is closed. Returns 0, MDP_ERR_ENGINE (no such table), or
 * MDP_ERR_NOMEM, with d. */
int mdp_appender_open(struct mdp_engine *e, const char *table, struct mdp_appender **out,
                      struct mdp_diag *d);
/* Appends a text value (copied; NULL appends NULL). Returns 0 or MDP_ERR_ENGINE (see above). */
int mdp_append_str(struct mdp_appender *a, const char *v);
/* Appends a BIGINT value. Returns 0 or MDP_ERR_ENGINE (see above). */
int mdp_append_i64(struct mdp_appender *a, int64_t v);
/* Appends a DOUBLE value. Returns 0 or MDP_ERR_ENGINE (see above). */
int mdp_append_f64(struct mdp_appender *a, double v);
/* Appends a BOOLEAN value (v != 0). Returns 0 or MDP_ERR_ENGINE (see above). */
int mdp_append_bool(struct mdp_appender *a, int v);
/* Appends a NULL. Returns 0 or MDP_ERR_ENGINE (see above). */
int mdp_append_null(struct mdp_appender *a);
/* Ends the row. Returns 0, or MDP_ERR_ENGINE with d when this row or one of its values failed
 * (wrong column count or type); the failure is then cleared for the next row. */
int mdp_append_end_row(struct mdp_appender *a, struct mdp_diag *d);
/* Flushes and frees a (NULL is fine: returns 0). Returns 0 or MDP_ERR_ENGINE with d when the flush
 * fails (a constraint violated, for instance); a is freed either way. */
int mdp_appender_close(struct mdp_appender *a, struct mdp_diag *d);

/* Writes the result of sql as ZSTD Parquet into the lake under <table>/run-<run_id>/, Hive-
 * partitioned by partition_by (comma-separated columns, or NULL for one unpartitioned file set),
 * then publishes the files as the table's new state (mdp_lake_publish). The lake must have local
 * paths (file backend). out_rows (may be NULL) receives the number of rows written. sql, table, partition_by
 * and run_id are borrowed. Returns 0, MDP_ERR_INVALID (a table name that is no key),
 * MDP_ERR_UNSUPPORTED (no local paths), MDP_ERR_ENGINE (the query or the COPY), mdp_lake_publish's
 * errors, MDP_ERR_IO / MDP_ERR_NOSPACE, MDP_ERR_NOMEM, with d. Files written before a failure stay
 * in the run folder, unpublished (vacuum removes them). */
int mdp_engine_write_table(struct mdp_engine *e, struct mdp_lake *lake, const char *sql,
                           const char *table, const char *partition_by, const char *run_id,
                           int64_t *out_rows, struct mdp_diag *d);
/* The same, replacing only the partitions in keys (nkeys of them, as YYYYMMDD: the table is
 * partitioned by one date_key INTEGER or DATE column): sql should select those rows; the table's
 * other partitions keep the files of their current state in the new manifest (their rows are not
 * counted in out_rows: this run did not write them). keys is borrowed; returns as
 * mdp_engine_write_table. */
int mdp_engine_write_partitions(struct mdp_engine *e, struct mdp_lake *lake, const char *sql,
                                const char *table, const char *partition_by, const char *run_id,
                                const int32_t *keys, size_t nkeys, int64_t *out_rows,
                                struct mdp_diag *d);

/* Publishes table as one Parquet file of no rows, with the columns of its current files, under
 * <table>/run-<run_id>/part_0.parquet: for a job that removes every row (retention's last
 * partition, an erasure of the table's only person), so that the table stays queryable and keeps
 * its columns instead of vanishing. The current files are read (their schemas) before the new
 * version is published; the caller deletes them after. Returns mdp_engine_attach_table's and
 * mdp_engine_write_table's errors, with d. */
int mdp_engine_publish_empty(struct mdp_engine *e, struct mdp_lake *lake, const char *table,
                             const char *run_id, struct mdp_diag *d);

/* Creates (or replaces) view `view` over the published state of table: readers of the view see
 * exactly the files of the current manifest. Returns 0, MDP_ERR_NOT_FOUND if never published or
 * the manifest has no files, MDP_ERR_PARSE (a corrupt manifest), MDP_ERR_UNSUPPORTED (no local
 * paths), MDP_ERR_ENGINE, MDP_ERR_IO, MDP_ERR_NOMEM, with d. */
int mdp_engine_attach_table(struct mdp_engine *e, struct mdp_lake *lake, const char *table,
                            const char *view, struct mdp_diag *d);

/* Quotes s as a SQL string literal ('...' with '' doubling), appended to out, the caller's buffer.
 * Returns 0 or MDP_ERR_NOMEM (out's sticky error). */
int mdp_sql_quote(struct mdp_buf *out, const char *s);

#endif
