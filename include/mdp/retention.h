/* Retention (docs/privacy.md §4): what the data inventory's rules make due at a time T, and its
 * removal. The plan lists per dataset what is due: raw day folders (dt=D) and quarantine day
 * folders, the deliveries of the lake's landing folder that ingest lands in a due raw day, date
 * partitions of published curated and ml tables, rows of inactive users in tables
 * that mix them with kept rows (clock since_last_activity, computed from the lake's own activity
 * facts), state-store items past their TTL, the consent journal's records whose proof is no longer
 * needed (since_event: the period after the decision stopped being in force), and the inactive
 * users' rows in Supabase. Apply removes exactly the plan: a hash-chained
 * ledger entry per dataset first (_meta/ledger/), then new table versions through the manifest
 * mechanism (readers see the old or the new state), then the files and items themselves. */
#ifndef MDP_RETENTION_H
#define MDP_RETENTION_H

#include <stddef.h>
#include <stdint.h>
#include "mdp/err.h"

struct mdp_inventory;
struct mdp_inv_dataset;
struct mdp_lake;
struct mdp_engine;

/* What one step of the plan removes. Never renumbered. */
enum mdp_ret_unit {
    MDP_RET_DAY_FOLDER = 1,  /* a raw or quarantine day folder: target "raw/<src>/<ds>/dt=D/" */
    MDP_RET_PARTITION = 2,   /* a date partition of a published table: target "<col>=<value>" */
    MDP_RET_ROWS = 3,        /* rows of subjects inside files that keep other rows: target the
                               table; rows = how many */
    MDP_RET_ITEMS = 4,       /* state-store items past their TTL: target the state-store table */
    MDP_RET_SOURCE_ROWS = 5, /* rows of inactive users in a source system (Supabase): target its
                               table; keys = the user_ids; rows = -1 until deleted */
    MDP_RET_RECORDS = 6,     /* consent journal records that no longer prove a decision in force
                               (mdp_consent_due): target the state table; keys = "<seq>:<hash>";
                               pruned to tombstones that keep the chain (mdp_consent_prune) */
    MDP_RET_LANDING = 7      /* deliveries in the lake's landing folder that ingest lands in a raw
                               day folder the rule makes due (mdp_ingest_route): target
                               "landing for raw/<src>/<ds>/dt=D/"; keys = the landing keys */
};

struct mdp_ret_step {
    const struct mdp_inv_dataset *dataset; /* borrowed from the inventory */
    enum mdp_ret_unit unit;
    char *target;
    int64_t day;     /* DAY_FOLDER, PARTITION: the day (days since the epoch); else -1 */
    int64_t objects; /* files (or items) removed */
    int64_t rows;    /* rows or records, -1 when not counted (raw objects: records unparsed) */
    int64_t bytes;
    char **keys; /* DAY_FOLDER, PARTITION: the object keys (nkeys); ROWS: the user_ids */
    size_t nkeys;
};

struct mdp_ret_plan {
    int64_t now_ms;
    struct mdp_ret_step *steps;
    size_t nsteps, cap;
    int64_t inactive_users; /* subjects past since_last_activity (the ROWS steps' user_ids) */
};

/* Computes what the inventory's rules make due at now_ms in the lake (and its state store).
 * Inactive users: a user whose newest activity (dim_user's signup and last login, the newest
 * event of the user in the curated facts, identity_links' last_seen) is older than the rule's
 * period is due in every since_last_activity dataset of the lake that has a user_id. e reads the
 * published tables. *out (NULL on failure) is freed with mdp_ret_plan_free; it borrows datasets
 * from inv, which must outlive it. Returns 0, or MDP_ERR_IO / MDP_ERR_ENGINE / MDP_ERR_PARSE /
 * MDP_ERR_NOMEM with d. */
int mdp_retention_plan(const struct mdp_inventory *inv, struct mdp_lake *lake, struct mdp_engine *e,
                       int64_t now_ms, struct mdp_ret_plan **out, struct mdp_diag *d);
/* Frees plan (NULL is fine). */
void mdp_ret_plan_free(struct mdp_ret_plan *plan);

/* Totals of an apply. */
struct mdp_ret_stats {
    int64_t steps, objects, rows, bytes, items, ledger_entries;
    int64_t source_rows;    /* rows deleted in Supabase */
    int64_t source_skipped; /* SOURCE_ROWS steps left alone (no connection given) */
};
/* Removes exactly what plan lists, dataset by dataset: a ledger entry first
 * (_meta/ledger/<seq>.json: the dataset, its rule, the clock, every target with its counts and
 * bytes, the previous entry's hash and its own SHA-256), then for published tables a new version
 * without the due partitions or rows (mdp_lake_publish), then the files, the raw objects (and
 * their keys in curate's record of what it took in, so that curate does not rebuild the days
 * retention emptied) and the state-store items. e rewrites tables with due rows. out (may be NULL)
 * receives the totals. A crash leaves every table in its old or new state; the next plan lists
 * what is left. Returns 0 or the error of the step that failed (MDP_ERR_IO, MDP_ERR_ENGINE,
 * MDP_ERR_EXISTS when another run wrote the same ledger entry, MDP_ERR_NOMEM) with d. */
int mdp_retention_apply(const struct mdp_ret_plan *plan, struct mdp_lake *lake,
                        struct mdp_engine *e, struct mdp_ret_stats *out, struct mdp_diag *d);
/* As mdp_retention_apply, and with conninfo (a libpq connection string, never logged; NULL: the
 * sources are left alone and their steps counted in source_skipped) also the SOURCE_ROWS steps of
 * Supabase datasets: per dataset a ledger entry, then one transaction deleting the users' rows
 * (`DELETE FROM table WHERE user_id = ANY(...)`; foreign keys cascade). Returns as
 * mdp_retention_apply, or MDP_ERR_IO with the server's message. */
int mdp_retention_apply_with(const struct mdp_ret_plan *plan, struct mdp_lake *lake,
                             struct mdp_engine *e, const char *conninfo, struct mdp_ret_stats *out,
                             struct mdp_diag *d);

/* Walks the ledger in order and checks its chain (every entry's hash over its content and the
 * previous hash), then that every tombstone of the consent journal (in the lake's state store) is
 * listed, with its hash, by an entry (a tombstone keeps the chain but not the content, so only the
 * ledger tells retention's from a record deleted by hand). *out_entries (may be NULL) counts the
 * entries. Returns 0, MDP_ERR_PARSE naming the first entry that was altered, removed or reordered
 * or the first tombstone no entry made, or MDP_ERR_IO / MDP_ERR_NOMEM, with d. */
int mdp_retention_ledger_verify(struct mdp_lake *lake, int64_t *out_entries, struct mdp_diag *d);

/* The ledger for other writers than retention (the consent journal's migration, erasure). Appends
 * one entry: {"seq":N,"what":what,"applied_at":"<now>",<members>,"prev_hash":"...","hash":"..."},
 * members being JSON object members without braces (may be NULL or empty; it must not hold a
 * member named prev_hash or hash, also not nested: verification finds the first), with
 * put-if-absent, chained to the newest entry so mdp_retention_ledger_verify checks it like every
 * other. *seq_out and hash_out (each may be NULL) get the entry's seq and hash. Returns 0,
 * MDP_ERR_EXISTS (another writer took the seq: read again and retry), MDP_ERR_IO, MDP_ERR_PARSE
 * (an unreadable newest entry) or MDP_ERR_NOMEM, with d. */
int mdp_ledger_append(struct mdp_lake *lake, const char *what, const char *members,
                      int64_t *seq_out, char hash_out[65], struct mdp_diag *d);
/* The newest ledger entry: *seq (0 for an empty ledger), hash (65 bytes, "" when empty) and, when
 * body_out is not NULL, its text (malloc'd, NUL-terminated, the caller frees it; NULL when empty).
 * Returns 0, MDP_ERR_IO, MDP_ERR_PARSE or MDP_ERR_NOMEM, with d. */
int mdp_ledger_last(struct mdp_lake *lake, int64_t *seq, char hash[65], char **body_out,
                    struct mdp_diag *d);

/* The newest raw day retention removed (days since the epoch) into *out_day, or -1 when it has
 * removed none. A point-in-time backfill of a date on or before it cannot be reproduced from raw
 * and is refused (docs/privacy.md §4). Returns 0, or MDP_ERR_IO / MDP_ERR_PARSE with d. */
int mdp_retention_raw_horizon(struct mdp_lake *lake, int64_t *out_day, struct mdp_diag *d);

/* The newest day of raw/<source>/<dataset>/ that retention removed (days since the epoch) into
 * *out_day, or -1 when it removed none. Ingest skips a delivery of that day or older (it would bring
 * back what retention removed: the landing folder keeps what the sources delivered). Returns 0, or
 * MDP_ERR_IO / MDP_ERR_PARSE with d. */
int mdp_retention_expired_day(struct mdp_lake *lake, const char *source, const char *dataset,
                              int64_t *out_day, struct mdp_diag *d);

#endif
