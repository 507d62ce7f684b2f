/* Record-level rewrites of lake objects (docs/privacy.md §1 "the one mechanism: a raw rewrite"):
 * an object is cut into its records, the records a caller's predicate picks are dropped, and every
 * other byte is kept as it was (record order, separators, a CSV header, the envelope of an SQS
 * batch). A Parquet file is rewritten by DuckDB (COPY ... WHERE NOT ...), which keeps the file's own
 * schema, column types and timestamp units. Used by erasure (src/gov/erase.c).
 *
 * Record formats, chosen by the key's extension:
 *   .csv     a header line (always kept) and one record per row (quoted fields may span lines)
 *   .ndjson  one record per line
 *   else     JSON: each top-level value of a concatenation (Firehose) is a record; a single
 *            object with a "Records" array (an SQS batch) has its array elements as records;
 *            any other single value is one record. */
#ifndef MDP_REWRITE_H
#define MDP_REWRITE_H

#include <stddef.h>
#include <stdint.h>
#include "mdp/buf.h"
#include "mdp/err.h"

struct mdp_engine;

/* Decides about one record (its bytes, borrowed for the call): returns 1 to drop it, 0 to keep. */
typedef int (*mdp_rewrite_match)(const char *rec, size_t n, void *ud);

/* Cuts data (len bytes, borrowed) into records by the format of key and puts into out, the
 * caller's buffer (reset and filled; freed with mdp_buf_cleanup), the same bytes without the
 * records match drops. *out_dropped and *out_kept (may be NULL) count records. When nothing is
 * dropped out equals data. A JSON value that does not close (cut off as received) is a record
 * reaching up to the next value that closes. Returns 0, MDP_ERR_PARSE (a rewritten SQS batch that
 * no longer parses: nothing is to be written), or MDP_ERR_NOMEM, with d. */
int mdp_rewrite_records(const char *key, const char *data, size_t len, mdp_rewrite_match match,
                        void *ud, struct mdp_buf *out, int64_t *out_dropped, int64_t *out_kept,
                        struct mdp_diag *d);

/* Writes the rows of the Parquet file src_path that do not satisfy drop_where (a SQL condition
 * over the file's own columns, the row itself being `t`; borrowed) to dst_path as ZSTD Parquet with the file's schema.
 * Hive partition columns of the path are not added (hive_partitioning off). *out_kept (may be
 * NULL) gets the rows written. Returns 0, MDP_ERR_ENGINE with DuckDB's message, or MDP_ERR_NOMEM,
 * with d. */
int mdp_rewrite_parquet(struct mdp_engine *e, const char *src_path, const char *dst_path,
                        const char *drop_where, int64_t *out_kept, struct mdp_diag *d);

#endif
