/* The lake (ARCHITECTURE 3): zones and layout over an object store, the content-addressed raw
 * writer, the quarantine writer, table publication through versioned manifests, and the run log.
 *
 *   raw/<source>/<dataset>/dt=YYYY-MM-DD/<sha256-32>.<ext>     bytes as received, named by content
 *   raw/_quarantine/<source>/<dataset>/dt=YYYY-MM-DD/<batch>.ndjson   {reason, location, payload}
 *   curated/..., ml/...                                       data files, visible only via
 * manifests _meta/lake.json                                           marks the folder as a lake
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
 * zones; without, fails with MDP_ERR_NOT_FOUND unless _meta/lake.json exists. */
int mdp_lake_open(const char *location, int create, struct mdp_lake **out, struct mdp_diag *d);
void mdp_lake_close(struct mdp_lake *lake);

/* ---- raw zone ---- */
/* Stores bytes as received under raw/<source>/<dataset>/dt=<day>/<sha256[0:32]>.<ext>.
 * out_key (may be NULL) receives the key; *out_existed is 1 when identical bytes were already
 * there (a duplicate delivery), 0 when written now. */
int mdp_lake_raw_put(struct mdp_lake *lake, const char *source, const char *dataset, int64_t day,
                     const void *data, size_t len, const char *ext, struct mdp_buf *out_key,
                     int *out_existed, struct mdp_diag *d);

/* The key mdp_lake_raw_put would use, without writing (out_key is reset and filled). */
int mdp_lake_raw_key(const char *source, const char *dataset, int64_t day, const void *data,
                     size_t len, const char *ext, struct mdp_buf *out_key, struct mdp_diag *d);

/* ---- quarantine ---- */
struct mdp_quarantine {
    char *source, *dataset;
    int64_t day;
    struct mdp_buf lines;
    int64_t count;
};
void mdp_quarantine_init(struct mdp_quarantine *q, const char *source, const char *dataset,
                         int64_t day);
/* Adds a record: reason (machine-readable, e.g. "json_truncated"), location ("file:line" or
 * "key#record"), detail (human text, may be NULL) and the offending bytes (stored as text when they
 * are valid UTF-8, else base64 with payload_encoding "base64"). */
int mdp_quarantine_add(struct mdp_quarantine *q, const char *reason, const char *location,
                       const char *detail, const void *payload, size_t len);
/* Writes the records (if any) to raw/_quarantine/<source>/<dataset>/dt=<day>/<batch_id>.ndjson
 * atomically; batch_id is the id of what they came from (the raw object's hash), so a re-run
 * rewrites the same object. */
int mdp_quarantine_flush(struct mdp_quarantine *q, struct mdp_lake *lake, const char *batch_id,
                         struct mdp_diag *d);
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
 * atomic put. Readers see the old or the new state. Files are checked to exist first. */
int mdp_lake_publish(struct mdp_lake *lake, const char *table,
                     const struct mdp_manifest_file *files, size_t nfiles, const char *run_id,
                     int64_t *out_version, struct mdp_diag *d);
/* Calls cb for every published table (one with a CURRENT manifest pointer) whose name starts with
 * prefix ("curated/", "ml/", or "" for all), in name order. A non-zero return from cb stops. */
int mdp_lake_tables(struct mdp_lake *lake, const char *prefix,
                    int (*cb)(const char *table, void *ud), void *ud, struct mdp_diag *d);
/* Reads the current manifest of table. MDP_ERR_NOT_FOUND if never published. */
int mdp_lake_current(struct mdp_lake *lake, const char *table, struct mdp_manifest *out,
                     struct mdp_diag *d);
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
};
/* Starts a record: new run id (UUIDv7), job name, start time, zero counts. */
void mdp_run_begin(struct mdp_run *r, const char *job);
/* Finishes and stores the record at _meta/runs/dt=<start day>/<run_id>.json. */
int mdp_run_end(struct mdp_lake *lake, struct mdp_run *r, const char *status, struct mdp_diag *d);
/* Calls cb for every stored record, oldest first. */
int mdp_runlog_each(struct mdp_lake *lake, int (*cb)(const struct mdp_run *r, void *ud), void *ud,
                    struct mdp_diag *d);

#endif
