/* The subject locator (docs/privacy.md §3): finding one person in every store the data inventory
 * lists. A subject is resolved from a user_id or an address into all of its keys (user_id,
 * addresses, their SHA-256 and keyed pseudonym, account ids, external ids through
 * identity_links); locating then walks every dataset of the inventory that has subject keys and
 * reports where the person is: raw objects, the Parquet files of a published table's current
 * version, state-store items, the serving snapshot, Supabase tables. Export (`mdp dsar export`)
 * reads the rows of every hit, erasure uses the list of hits.
 *
 * What matches: a record holds the person when one of its subject-key columns (the inventory's
 * subject_keys) holds one of the person's keys of that column's kind. account_id keys count only
 * in datasets that have no user_id or address key (an account may have several users: their
 * rows are found by their own ids). In raw JSON the column may sit at any depth, also inside a
 * JSON document carried as a string (SNS inside SQS); an object whose top level holds one array
 * of objects (an SQS batch, a page of results) is that many records. DuckDB reads Parquet and
 * CSV; raw JSON and NDJSON objects are read through the store and parsed by json-c (a part that
 * does not parse counts when its text names one of the keys). */
#ifndef MDP_SUBJECT_H
#define MDP_SUBJECT_H

#include <stddef.h>
#include <stdint.h>
#include "mdp/buf.h"
#include "mdp/err.h"
#include "mdp/inventory.h"

struct mdp_lake;
struct mdp_engine;
struct mdp_state;

/* A sorted list of distinct strings. */
struct mdp_subject_keys {
    char **v;
    size_t n, cap;
};

/* A resolved subject. Every list is sorted and free of duplicates. */
struct mdp_subject {
    char *user_id;                        /* the platform's user_id, or NULL when none was found */
    struct mdp_subject_keys emails;       /* email_lower values (trimmed, lower-cased) */
    struct mdp_subject_keys email_sha;    /* SHA-256 hex of each address */
    struct mdp_subject_keys email_hmac;   /* keyed pseudonym of each address (empty without key) */
    struct mdp_subject_keys account_ids;  /* accounts the user belongs to */
    struct mdp_subject_keys external_ids; /* external ids linked to the user (identity_links) */
};

/* What the locator works with; everything is borrowed and must outlive the calls. */
struct mdp_subject_ctx {
    const struct mdp_inventory *inv;
    struct mdp_lake *lake;
    struct mdp_engine *e;
    struct mdp_state *state; /* the lake's state store, or NULL: state datasets are skipped */
    const char *pg_conninfo; /* libpq connection string of Supabase, or NULL: not configured
                                 (never logged or put into a message) */
    const void *hmac_key;    /* the pseudonymization key, or NULL */
    size_t hmac_keylen;
};

/* Resolves a subject from user_id or email (exactly one non-NULL): the address is normalized;
 * addresses, account ids and external ids are followed through the datasets that hold two kinds
 * of key (Supabase and raw user_profiles, dim_user's email_hash, the facts' account_id,
 * identity_links). *out (NULL on failure) is freed with mdp_subject_free. A subject that nothing
 * names is not an error here (locate finds no hit). Returns 0, MDP_ERR_INVALID (not a UUID, not
 * an address, or an address of several user_ids, with d), MDP_ERR_IO (Supabase configured but
 * unreachable: the server's message, never the connection string), MDP_ERR_ENGINE, MDP_ERR_NOMEM. */
int mdp_subject_resolve(const struct mdp_subject_ctx *ctx, const char *user_id, const char *email,
                        struct mdp_subject **out, struct mdp_diag *d);
/* Frees s and what it owns (NULL is fine). Returns nothing. */
void mdp_subject_free(struct mdp_subject *s);

/* One place that holds the person. Strings are borrowed for the callback. */
struct mdp_subject_hit {
    const struct mdp_inv_dataset *dataset; /* borrowed from the inventory */
    const char *location; /* raw: the object key; curated/ml: the Parquet file key; serving: the
                             snapshot file key; state: the state-store table; supabase: the
                             "schema.table" */
    const char *pk, *sk;  /* state: the item's keys; else NULL */
    int64_t rows;         /* matching records (raw), rows (Parquet, Supabase), 1 (an item) */
};
typedef int (*mdp_subject_hit_cb)(const struct mdp_subject_hit *h, void *ud);

/* Finds s in every dataset of the inventory that has subject keys and whose store is readable
 * here (raw, curated, ml, serving, state, and supabase when ctx->pg_conninfo is set; external
 * systems and DynamoDB are not read). cb sees each hit, datasets in inventory order and hits of a
 * dataset in key order, so two runs over one lake give the same sequence. out_hits (may be NULL)
 * gets their number. Returns 0, cb's non-zero value, or MDP_ERR_IO (a store, Supabase
 * unreachable), MDP_ERR_ENGINE, MDP_ERR_PARSE (a state item that is not JSON), MDP_ERR_NOMEM, with
 * d. */
int mdp_subject_locate(const struct mdp_subject_ctx *ctx, const struct mdp_subject *s,
                       mdp_subject_hit_cb cb, void *ud, int64_t *out_hits, struct mdp_diag *d);

/* Appends the rows of one hit (as given to the locate callback) to out, the caller's buffer:
 * one JSON object per line, sorted, each ending in '\n'; *out_rows (may be NULL) gets their
 * number. Raw JSON records are re-serialized by json-c, CSV and Parquet rows come from DuckDB's
 * to_json, Supabase rows from row_to_json, a state item as {"table","pk","sk","expires_at",
 * "item"}. Returns 0, or the errors of mdp_subject_locate, with d. */
int mdp_subject_rows(const struct mdp_subject_ctx *ctx, const struct mdp_subject *s,
                     const struct mdp_subject_hit *h, struct mdp_buf *out, int64_t *out_rows,
                     struct mdp_diag *d);

/* Applies the matching rule to one JSON value of a raw object of dataset ds (a line of NDJSON, or
 * a whole JSON object): *out_records (may be NULL) gets the number of records it holds (the
 * elements of its one top-level array of objects, else 1), *out_matches (may be NULL) how many
 * hold s. text (len bytes, need not be NUL-terminated) and everything else are borrowed.
 * Returns 0, MDP_ERR_PARSE (not one JSON value) or MDP_ERR_NOMEM. */
int mdp_subject_json_match(const struct mdp_inv_dataset *ds, const struct mdp_subject *s,
                           const char *text, size_t len, int64_t *out_records,
                           int64_t *out_matches);

/* Returns 1 when dataset ds can hold a person (it has subject keys) and its store is one the
 * locator reads in this context (see mdp_subject_locate), else 0. */
int mdp_subject_readable(const struct mdp_subject_ctx *ctx, const struct mdp_inv_dataset *ds);

/* Refuses a lake that holds what the inventory does not list (mdp_inventory_unlisted): a search
 * by the inventory could not see it, so an export would be incomplete and an erasure would leave
 * the person there. what names the job in the message ("export", "erasure"). Returns 0, or
 * MDP_ERR_INVALID naming the first such dataset and their number, or the lake's error, with d. */
int mdp_subject_require_listed(const struct mdp_subject_ctx *ctx, const char *what,
                               struct mdp_diag *d);

#endif
