/* The lake (ARCHITECTURE 3): zones and layout over an object store, the content-addressed raw
 * writer, the quarantine writer, table publication through versioned manifests, and the run log.
 *
 *   raw/<source>/<dataset>/dt=YYYY-MM-DD/<sha256-32>.<ext>     bytes as received, named by content
 *   raw/_quarantine/<source>/<dataset>/dt=YYYY-MM-DD/<batch>.ndjson   {reason, location, payload}
 *   curated/..., ml/...                                       data files, seen only via manifests
 *   _meta/lake.json                                           marks the folder as a lake
 *   _meta/manifests/<table>/v0000000001.json + CURRENT        published table states
 *   _meta/runs/dt=YYYY-MM-DD/<run_id>.json                    one record per job run
 *
 * Naming raw objects by the SHA-256 of their bytes makes ingestion idempotent (the same bytes land
 * once) and the lake deterministic (the same input gives the same tree). */
#ifndef MDP_LAKE_H
#define MDP_LAKE_H

#include <stdint.h>
#include "mdp/buf.h"
#include "mdp/err.h"
#include "mdp/store.h"

struct mdp_lake {
    struct mdp_store *store;
    char *location; /* as given by the user */
};

/* Opens the lake at location (folder or file:// URL). With create, makes the folder and the
 * zones; without, fails with MDP_ERR_NOT_FOUND unless _meta/lake.json exists. location is copied.
 * *out (NULL on failure) is freed by the caller with mdp_lake_close; it owns its store. Returns 0,
 * MDP_ERR_NOT_FOUND, mdp_store_open's errors (MDP_ERR_INVALID, MDP_ERR_UNSUPPORTED, MDP_ERR_IO,
 * MDP_ERR_PERM), MDP_ERR_NOMEM, with d. */
int mdp_lake_open(const char *location, int create, struct mdp_lake **out, struct mdp_diag *d);
/* Closes the store and frees lake (NULL is fine). */
void mdp_lake_close(struct mdp_lake *lake);

/* ---- raw zone ---- */
/* Stores bytes as received under raw/<source>/<dataset>/dt=<day>/<sha256[0:32]>.<ext>.
 * out_key (may be NULL) receives the key; *out_existed is 1 when identical bytes were already
 * there (a duplicate delivery), 0 when written now; it may be NULL. out_key is the caller's buffer
 * (reset and filled; freed with mdp_buf_cleanup); data is borrowed for the call. source, dataset
 * and ext (NULL: no extension) are [a-z0-9_-]+. Returns 0 (also for a duplicate),
 * MDP_ERR_INVALID (a name), MDP_ERR_RANGE (day), the store's MDP_ERR_IO / MDP_ERR_NOSPACE,
 * MDP_ERR_NOMEM, with d. */
int mdp_lake_raw_put(struct mdp_lake *lake, const char *source, const char *dataset, int64_t day,
                     const void *data, size_t len, const char *ext, struct mdp_buf *out_key,
                     int *out_existed, struct mdp_diag *d);

/* The key mdp_lake_raw_put would use, without writing: out_key is the caller's buffer (reset and
 * filled; freed with mdp_buf_cleanup). Returns 0, MDP_ERR_INVALID (a name), MDP_ERR_RANGE (day),
 * MDP_ERR_CRYPTO, or MDP_ERR_NOMEM (out_key's sticky error, not in d). */
int mdp_lake_raw_key(const char *source, const char *dataset, int64_t day, const void *data,
                     size_t len, const char *ext, struct mdp_buf *out_key, struct mdp_diag *d);
/* The same from the content's SHA-256 (64 hex chars), for a writer that hashed it piece by piece
 * (the key names an object mdp_lake_raw_put would write; writing it is the caller's). Returns 0,
 * MDP_ERR_INVALID (a name), MDP_ERR_RANGE (day) or MDP_ERR_NOMEM, with d. */
int mdp_lake_raw_key_hex(const char *source, const char *dataset, int64_t day,
                         const char *sha256_hex, const char *ext, struct mdp_buf *out_key,
                         struct mdp_diag *d);

/* ---- quarantine ---- */
struct mdp_quarantine {
    char *source, *dataset;
    int64_t day;
    struct mdp_buf lines;
    int64_t count;
};
/* Makes q, the caller's storage, an empty batch for source/dataset/day (both names copied into q).
 * Release it with mdp_quarantine_cleanup. Cannot report failure: out of memory leaves q->source or
 * q->dataset NULL, which mdp_quarantine_flush does not check. */
void mdp_quarantine_init(struct mdp_quarantine *q, const char *source, const char *dataset,
                         int64_t day);
/* Adds a record: reason (machine-readable, e.g. "json_truncated"), location ("file:line" or
 * "key#record"), detail (human text, may be NULL) and the offending bytes (stored as text when they
 * are valid UTF-8, else base64 with payload_encoding "base64"). Everything is copied into q;
 * nothing is written to the lake until mdp_quarantine_flush. Returns 0 or MDP_ERR_NOMEM (no diag;
 * q's buffer then keeps its sticky error and every later add fails too). */
int mdp_quarantine_add(struct mdp_quarantine *q, const char *reason, const char *location,
                       const char *detail, const void *payload, size_t len);
/* Writes the records (if any) to raw/_quarantine/<source>/<dataset>/dt=<day>/<batch_id>.ndjson
 * atomically; batch_id is the id of what they came from (the raw object's hash), so a re-run
 * rewrites the same object. q keeps its records (flush does not clear it); lake and batch_id are
 * borrowed. Returns 0 (also when q holds no record: nothing is written), MDP_ERR_NOMEM when an add
 * (or the init) ran out of memory (nothing is written then: never a batch with a record missing or
 * cut off), MDP_ERR_RANGE (day), MDP_ERR_INVALID (a key the store refuses), MDP_ERR_IO /
 * MDP_ERR_NOSPACE, with d. */
int mdp_quarantine_flush(struct mdp_quarantine *q, struct mdp_lake *lake, const char *batch_id,
                         struct mdp_diag *d);
/* Frees what q owns (NULL is fine); q itself is the caller's storage. Unflushed records are
 * lost. */
void mdp_quarantine_cleanup(struct mdp_quarantine *q);

/* ---- publication of tables ---- */
struct mdp_manifest_file {
    char *key; /* object key of a data file */
    int64_t bytes;
    int64_t rows; /* -1 when unknown */
    char sha256[65];
};
struct mdp_manifest {
    char *table;
    int64_t version;
    char *run_id;
    int64_t published_ms;
    struct mdp_manifest_file *files;
    size_t nfiles;
};
/* Publishes a new state of table (e.g. "curated/facts/fact_email_events") made of files that are
 * already written: writes manifest v<N+1> with put-if-absent, then switches CURRENT to it in one
 * atomic put. Readers see the old or the new state. Files are checked to exist first (with the size
 * they declare, when >= 0). files, table and run_id are borrowed for the call; *out_version (may be
 * NULL) gets the version published. Returns 0, MDP_ERR_INVALID (a table not under curated/, ml/ or
 * serving/), MDP_ERR_NOT_FOUND (a data file is missing), MDP_ERR_IO (a data file's size differs, or
 * the store), MDP_ERR_NOSPACE, MDP_ERR_NOMEM, with d. */
int mdp_lake_publish(struct mdp_lake *lake, const char *table,
                     const struct mdp_manifest_file *files, size_t nfiles, const char *run_id,
                     int64_t *out_version, struct mdp_diag *d);
/* Calls cb for every published table (one with a CURRENT manifest pointer) whose name starts with
 * prefix ("curated/", "ml/", or "" for all), in name order; the name is borrowed for the call.
 * Returns 0, the non-zero value of cb that stopped the walk, or MDP_ERR_IO / MDP_ERR_NOMEM, with
 * d. */
int mdp_lake_tables(struct mdp_lake *lake, const char *prefix,
                    int (*cb)(const char *table, void *ud), void *ud, struct mdp_diag *d);
/* Reads the current manifest of table into out, the caller's storage (zeroed first); the caller
 * frees what it holds with mdp_manifest_cleanup (on failure it holds nothing). Returns 0,
 * MDP_ERR_NOT_FOUND if never published, MDP_ERR_PARSE (a corrupt CURRENT or manifest),
 * MDP_ERR_IO, MDP_ERR_NOMEM, with d. */
int mdp_lake_current(struct mdp_lake *lake, const char *table, struct mdp_manifest *out,
                     struct mdp_diag *d);
/* Frees what m owns and zeroes it (NULL is fine); m itself is the caller's storage. */
void mdp_manifest_cleanup(struct mdp_manifest *m);

/* ---- run log ---- */
struct mdp_run {
    char run_id[37];
    char job[64];
    char status[16]; /* "ok", "failed" */
    int64_t start_ms, end_ms;
    int64_t in, out, quarantined, duplicates, bytes;
    int64_t newest_event_ms; /* newest event time the run saw (freshness), or -1 */
    char message[512];
    /* the cost model: object store requests this run made (set by mdp_run_end: the process's
     * requests not yet claimed by an earlier record, so nested runs never count one twice) and
     * the bytes its SQL read (set by the job: query, curate) */
    int64_t puts, gets, lists, scanned_bytes;
    int64_t suppressed; /* ingest: records of erased subjects dropped (mdp/suppress.h) */
};
/* Starts a record: new run id (UUIDv7), job name, start time, zero counts. */
void mdp_run_begin(struct mdp_run *r, const char *job);
/* Finishes and stores the record at _meta/runs/dt=<start day>/<run_id>.json: sets end time,
 * status (copied) and the request counts (puts, gets, lists; the record's own put included) in
 * r. Returns 0, or the store's error (MDP_ERR_IO, MDP_ERR_NOSPACE) or MDP_ERR_NOMEM with d. */
int mdp_run_end(struct mdp_lake *lake, struct mdp_run *r, const char *status, struct mdp_diag *d);
/* Calls cb for every stored record, oldest first (by start day, then run id); r is borrowed for
 * the call. A stored object that is not JSON is skipped. Returns 0, cb's non-zero value (which
 * stops the walk), or MDP_ERR_IO / MDP_ERR_NOMEM with d. */
int mdp_runlog_each(struct mdp_lake *lake, int (*cb)(const struct mdp_run *r, void *ud), void *ud,
                    struct mdp_diag *d);

/* ---- vacuum (src/lake/vacuum.c) ---- */
/* What vacuum does, one action at a time. */
enum mdp_vacuum_what {
    MDP_VACUUM_TMP = 1,        /* a leftover of an unfinished write removed */
    MDP_VACUUM_MANIFEST = 2,   /* a manifest version neither CURRENT nor recent removed */
    MDP_VACUUM_RUN_FOLDER = 3, /* a run folder no kept manifest names removed */
    MDP_VACUUM_COMPACT = 4,    /* a closed day's small raw objects compacted into one */
    MDP_VACUUM_RESUME = 5      /* an interrupted compaction finished */
};
struct mdp_vacuum_action {
    enum mdp_vacuum_what what;
    const char *key;    /* leftover, manifest version, run folder (".../run-<id>/") or raw folder */
    const char *object; /* COMPACT, RESUME: the daily object; else NULL */
    int64_t objects;    /* objects removed (run folder: its files; compact: the small objects) */
    int64_t bytes;      /* bytes removed (compact: bytes of the daily object) */
    int64_t lines;      /* COMPACT: lines of the daily object */
};
struct mdp_vacuum_opts {
    int dry_run;      /* report what would be done, change nothing */
    int64_t grace_ms; /* nothing younger than this is removed (run folders, manifests, leftovers) */
    int64_t now_ms;   /* the clock; 0: now */
};
struct mdp_vacuum_stats {
    int64_t tmp_files, tmp_bytes;
    int64_t manifests;
    int64_t run_folders, run_objects, run_bytes;
    int64_t compacted_days, compacted_objects, compacted_lines, compacted_bytes;
    int64_t resumed;
};
/* Cleans the lake (docs/lake.md "mdp lake vacuum"):
 *  1. leftovers of unfinished writes older than the grace period (mdp_store_orphans);
 *  2. manifest versions that are not CURRENT, not published within the grace period and not
 *     superseded within it, then run folders (curated/, ml/, serving/, _meta/tables/: the path
 *     up to a "run-<id>" segment) that no remaining version names, whose run id (UUIDv7) and
 *     newest object are both older than the grace period; what CURRENT names is never touched;
 *  3. the NDJSON objects of raw/events/app_events, raw/ses/http and raw/serve/decisions of a
 *     closed day (before today UTC, 15 minutes' margin) compacted into one object per folder: the
 *     lines of the small objects in key order, each object's lines in their order, named by its
 *     SHA-256 like every raw object. A record (_meta/state/vacuum/compacted/<source>/<dataset>/
 *     dt=D/<object>.txt: state, object, the parts) is written first, then the object, then the
 *     parts are removed and the record marked done; a run finding a pending record finishes it
 *     when the object exists, else drops it. So a crash anywhere loses no line and a re-run never
 *     counts one twice.
 * on_action (may be NULL) sees every action after it is done (dry run: instead), COMPACT after the
 * daily object is written and before the parts are removed; a non-zero return stops vacuum and is
 * returned. out (may be NULL) receives the totals. Returns 0 or an error with the reason in d
 * (MDP_ERR_PARSE for a manifest it cannot read: it then removes no run folder). Not to be run
 * twice at once on one lake. */
int mdp_lake_vacuum(struct mdp_lake *lake, const struct mdp_vacuum_opts *o,
                    int (*on_action)(const struct mdp_vacuum_action *a, void *ud), void *ud,
                    struct mdp_vacuum_stats *out, struct mdp_diag *d);
/* The default grace period of `mdp lake vacuum` and of the vacuum stage: a day. */
#define MDP_VACUUM_GRACE_MS (24 * 3600 * 1000LL)
/* Puts the totals into a run record: in = objects removed or compacted, out = days compacted,
 * bytes = bytes removed, and a one-line message. */
void mdp_vacuum_to_run(const struct mdp_vacuum_stats *st, struct mdp_run *r);
/* 1 when the raw object key was compacted away by vacuum (its lines live on in a daily object,
 * whose key goes to out_object when not NULL: the caller's buffer, reset and filled, freed with
 * mdp_buf_cleanup), 0 when not. Ingest asks it before landing a delivery again. Returns 1, 0, or a
 * negative error (MDP_ERR_IO, MDP_ERR_NOMEM) with d; a compaction record it cannot believe is
 * skipped. */
int mdp_lake_raw_compacted(struct mdp_lake *lake, const char *key, struct mdp_buf *out_object,
                           struct mdp_diag *d);

#endif
