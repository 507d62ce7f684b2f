/* The state store: small, mutable, keyed state (consent journal, DOI tokens, bandit counters,
 * feedback dedup, SNS subscriptions), as opposed to the immutable lake. The interface follows
 * DynamoDB's model so that both backends implement it one to one: items live in named tables under
 * a partition key and a sort key, are read by key or by a partition in sort-key order, are written
 * unconditionally or only if absent (a conditional write), and may carry a TTL (expires_at, epoch
 * seconds) after which a purge removes them. Bodies are opaque text (JSON by convention).
 *
 * Two backends, chosen by the location mdp_state_open gets (docs/aws.md "State"):
 * - a SQLite file (the embedded default, <lake>/_meta/state.sqlite) in WAL mode with a busy
 *   timeout, so the server and the CLI can use one file at once, and synchronous=FULL: a write that
 *   returned 0 survives a power loss (consent, DOI and erasure records are acknowledged to people
 *   and to the app);
 * - dynamodb://TABLE (AWS mode, state.backend: dynamodb): one DynamoDB table holds every state
 *   table, the state table folded into the partition key ("TABLE#pk"); requests go through the
 *   process-wide AWS client settings (mdp/aws.h). Counters (mdp_state_add) live on items of their
 *   own, as number attributes: an item written with a body cannot also be counted on there.
 * Not thread-safe per handle: open one handle per thread. */
#ifndef MDP_STATE_H
#define MDP_STATE_H

#include <stdint.h>
#include "mdp/err.h"

struct mdp_state;
struct mdp_config;

struct mdp_state_item {
    const char *pk;
    const char *sk;
    const char *body;
    int64_t expires_at; /* epoch seconds; 0 = never */
};

enum { MDP_STATE_IF_ABSENT = 1 };

/* Opens the store at path: "dynamodb://TABLE" (the table must exist: `mdp aws bootstrap` or
 * mdp_state_dynamodb_create make it; opening checks it with DescribeTable), else a SQLite file
 * (created when missing; its folder must exist). path is borrowed. *out (NULL on failure) is freed
 * by the caller with mdp_state_close. Returns 0, MDP_ERR_IO (cannot open or initialize the file;
 * the SQLite message in d), MDP_ERR_NOT_FOUND (no such DynamoDB table), mdp_aws_open's
 * MDP_ERR_CONFIG (no region or credentials), MDP_ERR_PERM, MDP_ERR_INVALID (an empty table name),
 * or MDP_ERR_NOMEM, with d. */
int mdp_state_open(const char *path, struct mdp_state **out, struct mdp_diag *d);
/* Closes and frees s (NULL is fine). What a call returned 0 for is already durable. Returns
 * nothing. */
void mdp_state_close(struct mdp_state *s);
/* Returns the backend's name, "sqlite" or "dynamodb" (static storage). */
const char *mdp_state_backend(const struct mdp_state *s);

/* Sets the process-wide location from cfg (borrowed): state.backend dynamodb makes it
 * "dynamodb://<state.dynamodb_table>", sqlite makes it NULL (the lake's own file). Not
 * thread-safe: the CLI calls it once after loading the config. Returns 0, MDP_ERR_CONFIG (dynamodb
 * without a table name) or MDP_ERR_NOMEM, with d (the previous choice stays). */
int mdp_state_configure(const struct mdp_config *cfg, struct mdp_diag *d);
/* Returns the location mdp_state_configure chose (static storage, valid until the next call), or
 * NULL for the lake's SQLite file (mdp_state_open_lake in mdp/ml.h opens either). */
const char *mdp_state_location(void);

/* The durability level of s's connection, SQLite's PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL,
 * 3 EXTRA. set >= 0 changes it first (only bench/ does, to measure what FULL costs; every handle
 * mdp_state_open returns is FULL), -1 only reads it. out_level (may be NULL) gets the level in
 * force, -1 on failure. DynamoDB acknowledges only durable writes: it reads as 2 and cannot be
 * changed (MDP_ERR_UNSUPPORTED). Returns 0, MDP_ERR_INVALID for a level above 3, MDP_ERR_IO,
 * MDP_ERR_UNSUPPORTED. */
int mdp_state_synchronous(struct mdp_state *s, int set, int *out_level, struct mdp_diag *d);

/* Writes an item (replacing one with the same key). table and it are borrowed for the call; the
 * store keeps copies. Returns 0, MDP_ERR_EXISTS with MDP_STATE_IF_ABSENT when (table, pk, sk)
 * exists (nothing written), or MDP_ERR_IO, with d. */
int mdp_state_put(struct mdp_state *s, const char *table, const struct mdp_state_item *it,
                  int flags, struct mdp_diag *d);
/* Writes an item only when it is absent or the number field of the stored body is below value
 * (DynamoDB: PutItem with ConditionExpression attribute_not_exists(pk) OR #field < :value); the
 * new body should carry field = value. MDP_ERR_EXISTS when the stored one is as new or newer: a
 * pointer that only moves forward (a journal's head) under racing writers. field must be lower-case
 * letters and '_' (else MDP_ERR_INVALID). Returns 0 when written, MDP_ERR_EXISTS, MDP_ERR_INVALID,
 * MDP_ERR_IO, with d. */
int mdp_state_put_if_newer(struct mdp_state *s, const char *table, const struct mdp_state_item *it,
                           const char *field, int64_t value, struct mdp_diag *d);
/* As mdp_state_put_if_newer with the condition's bound apart from the value written: writes it
 * (whose body must carry field = value) when the item is absent or its stored field is below
 * `below`; the stored field is then value. A lease (mdp/lease.h) is taken when its lease_until is
 * below now and written with lease_until = now + ttl. Returns as mdp_state_put_if_newer. */
int mdp_state_put_if_below(struct mdp_state *s, const char *table, const struct mdp_state_item *it,
                           const char *field, int64_t below, int64_t value, struct mdp_diag *d);
/* As mdp_state_put, and the item carries subject (borrowed; NULL or "": none), the pseudonym of the
 * person it belongs to (mdp/pseudonym.h), by which mdp_state_query_subject finds it without a scan
 * (SQLite: an indexed column; DynamoDB: the attribute of the by_subject index). A later put of the
 * same key replaces the subject with its own. Returns as mdp_state_put. */
int mdp_state_put_subject(struct mdp_state *s, const char *table, const struct mdp_state_item *it,
                          const char *subject, int flags, struct mdp_diag *d);
/* Reads an item; *body_out is malloc'd (the caller frees it with free(); NULL on failure),
 * *expires_out (may be NULL) gets its expires_at. An expired item not yet purged is returned.
 * Returns 0, MDP_ERR_NOT_FOUND when absent, MDP_ERR_IO, MDP_ERR_NOMEM, with d. */
int mdp_state_get(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                  char **body_out, int64_t *expires_out, struct mdp_diag *d);
/* Deletes an item. Returns 0 (also when it was absent) or MDP_ERR_IO with d. */
int mdp_state_delete(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                     struct mdp_diag *d);

/* Calls cb for the items of partition pk in ascending sort-key order (descending with reverse),
 * at most limit items (0 = all). A non-zero return of cb stops the walk and is returned. */
typedef int (*mdp_state_cb)(const struct mdp_state_item *it, void *ud);
/* Walks partition pk as described above. The item cb sees and its strings are borrowed for that
 * call only: copy what you keep. Returns 0, cb's non-zero value, or MDP_ERR_IO with d. */
int mdp_state_query(struct mdp_state *s, const char *table, const char *pk, int reverse, int limit,
                    mdp_state_cb cb, void *ud, struct mdp_diag *d);

/* Adds delta to the number field of an item's JSON body (creating the item, or the field, at 0)
 * in one atomic step, as DynamoDB's UpdateItem ADD; *out (may be NULL) gets the new value. field
 * must be lower-case letters and '_'. Returns 0, MDP_ERR_INVALID (field), MDP_ERR_IO (also when
 * the stored body is not JSON), with d. */
int mdp_state_add(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                  const char *field, int64_t delta, int64_t *out, struct mdp_diag *d);
/* One write of a transaction (mdp_state_transact). PUT writes item (with flags
 * MDP_STATE_IF_ABSENT: only when absent); ADD adds delta to the number field of item (pk, sk) as
 * mdp_state_add does, and stores the new value in *out when out is not NULL; DELETE removes item
 * (pk, sk) (also when absent). A PUT's subject (NULL: none) is indexed as by mdp_state_put_subject. */
enum mdp_state_op { MDP_STATE_PUT = 1, MDP_STATE_ADD = 2, MDP_STATE_DELETE = 3 };
struct mdp_state_write {
    enum mdp_state_op op;
    const char *table;
    struct mdp_state_item item; /* ADD uses pk and sk only */
    int flags;                  /* PUT */
    const char *field;          /* ADD */
    int64_t delta;              /* ADD */
    int64_t *out;               /* ADD, may be NULL */
    const char *subject;        /* PUT, may be NULL */
};
/* Applies the n writes all or none (DynamoDB's TransactWriteItems: a Put with the condition
 * attribute_not_exists(pk), an Update ADD; that backend reads ADD's new values back afterwards,
 * since a transaction returns none). Returns 0, MDP_ERR_EXISTS when a PUT's condition fails
 * (nothing written), or the error of the write that failed (nothing written). The writes are
 * borrowed for the call. n is at most 100 (DynamoDB's limit): MDP_ERR_INVALID beyond. */
int mdp_state_transact(struct mdp_state *s, const struct mdp_state_write *w, int n,
                       struct mdp_diag *d);
/* Calls cb for every item of table, in (pk, sk) order (DynamoDB's Scan); the item is borrowed for
 * the call. Returns 0, cb's non-zero value (which stops the scan), or MDP_ERR_IO with d. */
int mdp_state_scan(struct mdp_state *s, const char *table, mdp_state_cb cb, void *ud,
                   struct mdp_diag *d);
/* Called per item of mdp_state_query_subject with its state table; both borrowed for the call. */
typedef int (*mdp_state_subject_cb)(const char *table, const struct mdp_state_item *it, void *ud);
/* Calls cb for every item, of any table, written with this subject (mdp_state_put_subject or a
 * transaction's PUT), in (table, pk, sk) order, through the per-subject index (SQLite: the index
 * items_subject; DynamoDB: a Query of the by_subject index, then a consistent GetItem per key). A
 * non-zero return of cb stops the walk and is returned. Items written before the index existed
 * (state files older than the subject column) carry none and are not found. Returns 0, cb's value,
 * MDP_ERR_INVALID (an empty subject), MDP_ERR_IO or MDP_ERR_NOMEM, with d. */
int mdp_state_query_subject(struct mdp_state *s, const char *subject, mdp_state_subject_cb cb,
                            void *ud, struct mdp_diag *d);
/* Sets the subject (borrowed, not empty) of the existing item (table, pk, sk), its body, TTL and
 * counters left as they are: the backfill of the per-subject index on items written before it
 * existed (`mdp dsar reindex`). *out_changed (may be NULL) is 1 when the item carried no subject or
 * another one, 0 when it carried this one already (nothing written). Returns 0, MDP_ERR_INVALID
 * (an empty subject), MDP_ERR_NOT_FOUND (no such item), MDP_ERR_IO, MDP_ERR_NOMEM, with d. */
int mdp_state_set_subject(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                          const char *subject, int *out_changed, struct mdp_diag *d);
/* Makes deleted items unreadable from the file itself (erasure, docs/privacy.md §6): checkpoints
 * the write-ahead log, rewrites the database without free pages (VACUUM) and empties the log
 * again (DynamoDB: nothing to do). Not inside a transaction. Returns 0 or MDP_ERR_IO with d. */
int mdp_state_compact(struct mdp_state *s, struct mdp_diag *d);
/* Removes the items of table whose expires_at is set and <= now_s; *n_out (if not NULL) counts.
 * Returns 0 or MDP_ERR_IO with d. */
int mdp_state_purge_expired(struct mdp_state *s, const char *table, int64_t now_s, int *n_out,
                            struct mdp_diag *d);

/* Calls cb for every table that holds at least one item, in name order, with its item count; the
 * name is borrowed for the call. Returns 0, cb's non-zero value (which stops the walk), or
 * MDP_ERR_IO with d. (The data inventory's check: every kind of item must be classified.) */
int mdp_state_tables(struct mdp_state *s, int (*cb)(const char *table, int64_t items, void *ud),
                     void *ud, struct mdp_diag *d);
/* Counts the items of table whose expires_at is set and <= now_s (what mdp_state_purge_expired
 * would remove) into *out_n, and their bodies' bytes into *out_bytes (may be NULL). Returns 0 or
 * MDP_ERR_IO with d. */
int mdp_state_count_expired(struct mdp_state *s, const char *table, int64_t now_s, int64_t *out_n,
                            int64_t *out_bytes, struct mdp_diag *d);

/* ---- the DynamoDB backend's table (AWS mode; docs/aws.md "State") ---- */
struct mdp_aws;
/* The name of the per-subject global secondary index (partition key "subject", the owner's
 * pseudonymous id, on items that carry one), which erasure queries instead of scanning. */
#define MDP_STATE_SUBJECT_INDEX "by_subject"
/* Creates the DynamoDB table name (on-demand billing, keys pk/sk strings, the by_subject index) if
 * it does not exist, waits until it is ACTIVE and makes sure its TTL is on attribute expires_at.
 * a (borrowed) is the client to use. *out_created (may be NULL) is 1 when the table was made now,
 * 0 when it was there; *out_ttl_enabled (may be NULL) 1 when TTL was turned on now. Idempotent.
 * Returns 0, the client's errors (MDP_ERR_PERM, MDP_ERR_INVALID, MDP_ERR_IO, ...) or MDP_ERR_IO
 * when the table does not become ACTIVE within a minute, with d. */
int mdp_state_dynamodb_create(struct mdp_aws *a, const char *name, int *out_created,
                              int *out_ttl_enabled, struct mdp_diag *d);
/* Decodes one DynamoDB item of the state table (the JSON text of an "Item" map: {"pk":{"S":..},
 * "sk":{"S":..}, "body":{"S":..} | "n_<field>":{"N":..}..., "expires_at":{"N":..}}) into its
 * state table, item and body (a counter item's body is the JSON object of its n_ numbers).
 * *out_table, *out_pk, *out_sk and *out_body are malloc'd, freed by the caller with free() (all
 * NULL on failure); *out_expires gets expires_at (0 when absent). Returns 0, MDP_ERR_PARSE (not
 * a JSON object, a key missing or not a string, a pk without its table, a number that is not an
 * integer) or MDP_ERR_NOMEM, with d. */
int mdp_state_dynamodb_decode(const char *json, size_t len, char **out_table, char **out_pk,
                              char **out_sk, char **out_body, int64_t *out_expires,
                              struct mdp_diag *d);

#endif
