/* The data inventory (docs/privacy.md §2): config/inventory.yaml, one strict YAML file that lists
 * every dataset of every store the platform touches (the sources, the lake's raw, curated, ml and
 * serving zones, the quarantine, the state store's item kinds) with its purpose, legal basis,
 * owner, recipients, PII class per column, subject keys, retention rule and deletion path.
 * Retention, export and erasure read it; none of them keeps a list of datasets of its own.
 *
 * Not to be confused with the raw-inventory stage (src/lake/inventory.c, `inventory` in
 * pipeline.stages), which writes a Parquet listing of the raw zone's objects: that one says what
 * bytes the lake holds, this one says what the data is for and how long it may be kept. */
#ifndef MDP_INVENTORY_H
#define MDP_INVENTORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "mdp/err.h"

struct mdp_config;

/* Where a dataset lives. Never renumbered. */
enum mdp_inv_store {
    MDP_INV_SUPABASE = 1,   /* location: a PostgreSQL table "schema.table" */
    MDP_INV_DYNAMODB = 2,   /* location: a DynamoDB table name (AWS mode; embedded: state store) */
    MDP_INV_EXTERNAL = 3,   /* a third party's system we read from (GA4, GBP, Meta, SES); location:
                               a free description, checked by nothing */
    MDP_INV_RAW = 4,        /* location: "raw/<source>/<dataset>" */
    MDP_INV_CURATED = 5,    /* location: a published table "curated/..." */
    MDP_INV_ML = 6,         /* location: a published table "ml/..." */
    MDP_INV_SERVING = 7,    /* location: a published table "serving/..." */
    MDP_INV_QUARANTINE = 8, /* location: "raw/_quarantine" or "curated/_quarantine" */
    MDP_INV_STATE = 9,      /* location: a state-store table (SQLite embedded, DynamoDB on AWS) */
    MDP_INV_META = 10       /* location: a prefix under _meta/ (run log, ledger) */
};

/* The PII class of a column. Never renumbered. */
enum mdp_pii {
    MDP_PII_NONE = 0,         /* says nothing about a person */
    MDP_PII_PSEUDONYMOUS = 1, /* a person only through a key held elsewhere (user_id, hashes) */
    MDP_PII_DIRECT = 2        /* identifies a person by itself (address, name, IP) */
};

/* How a subject key finds a person. Never renumbered. */
enum mdp_subject_kind {
    MDP_SUBJ_USER_ID = 1,      /* the platform's user_id (UUIDv7) */
    MDP_SUBJ_EMAIL = 2,        /* the address as given */
    MDP_SUBJ_EMAIL_LOWER = 3,  /* trimmed, lower-cased address */
    MDP_SUBJ_EMAIL_SHA256 = 4, /* SHA-256 hex of email_lower (spec 7's analytics pseudonym) */
    MDP_SUBJ_EMAIL_HMAC = 5,   /* keyed pseudonym of email_lower (mdp/pseudonym.h) */
    MDP_SUBJ_EXTERNAL_ID = 6,  /* an external id, resolved through identity_links */
    MDP_SUBJ_ACCOUNT_ID = 7,   /* the account a user belongs to */
    MDP_SUBJ_USER_ID_HMAC = 8  /* keyed pseudonym of the user_id (mdp/pseudonym.h) */
};

/* The clock a retention period runs on. Never renumbered. */
enum mdp_ret_clock {
    MDP_CLOCK_SINCE_EVENT = 1, /* from the record's own time (event, day folder, partition) */
    MDP_CLOCK_SINCE_LAST_ACTIVITY = 2, /* from the subject's last activity in the lake */
    MDP_CLOCK_TTL = 3                  /* from the item's own expiry (expires_at) */
};

/* How data leaves a dataset. Never renumbered. */
enum mdp_del_path {
    MDP_DEL_TTL = 1,            /* expiry of the item (state store TTL, DynamoDB TTL) */
    MDP_DEL_BATCH_JOB = 2,      /* `mdp retention apply` deletes rows or items */
    MDP_DEL_LIFECYCLE = 3,      /* whole day folders (S3 Lifecycle on AWS) */
    MDP_DEL_VENDOR = 4,         /* the vendor's own retention (GA4 data retention setting) */
    MDP_DEL_CASCADE = 5,        /* DELETE of the subject's rows, cascading by foreign keys */
    MDP_DEL_PARTITION_DROP = 6, /* whole date partitions of a published table */
    MDP_DEL_REBUILD = 7,        /* rebuilt from its inputs on every run: holds what they hold */
    MDP_DEL_ROW_REWRITE = 8     /* the files holding due rows are rewritten without them */
};

/* An ISO 8601 duration PnYnMnWnDTnHnMnS (no fractions, no sign). */
struct mdp_duration {
    int32_t years, months, days; /* weeks are folded into days */
    int64_t seconds;             /* the time part */
};

struct mdp_inv_column {
    char *name;
    enum mdp_pii pii;
};

struct mdp_inv_subject_key {
    char *column; /* a column of the dataset */
    enum mdp_subject_kind kind;
};

struct mdp_inv_retention {
    char *period_text; /* as written, e.g. "P18M" */
    struct mdp_duration period;
    enum mdp_ret_clock clock;
    char *column; /* the column (or field) the clock reads, or NULL: the day folder / partition */
};

struct mdp_inv_dataset {
    char *name; /* unique id, e.g. "curated.fact_email_events" */
    enum mdp_inv_store store;
    char *location;    /* see enum mdp_inv_store */
    char *purpose;     /* why the data is processed (Art. 30(1)(b)) */
    char *legal_basis; /* tag: consent | contract | legal_obligation | vital_interest |
                          public_task | legitimate_interest (Art. 6(1)(a)-(f)) */
    char *owner;       /* the team answerable for it */
    char *subjects;    /* categories of data subjects (Art. 30(1)(c)) */
    char *recipients;  /* categories of recipients (Art. 30(1)(d)) */
    char *transfers;   /* transfers to third countries and their safeguard, or "none" */
    char *source;      /* where the data comes from (Art. 14(2)(f)) */
    struct mdp_inv_retention retention;
    enum mdp_del_path deletion;
    struct mdp_inv_column *columns;
    size_t ncolumns;
    struct mdp_inv_subject_key *subject_keys; /* may be empty: nothing about one person */
    size_t nsubject_keys;
    int line; /* where it starts in the file */
};

struct mdp_inventory {
    char *file;       /* the file it was read from (or the name given to the buffer loader) */
    char *controller; /* the controller's name and contact (Art. 30(1)(a)) */
    char *dpo;        /* the data protection officer's contact */
    char *security;   /* the technical and organisational measures (Art. 30(1)(g)) */
    struct mdp_inv_dataset *datasets;
    size_t ndatasets;
};

/* Reads the inventory file at path into a new object (*out, NULL on failure; freed with
 * mdp_inventory_free). Strict: an unknown or duplicate key, a missing field, a bad duration, PII
 * class, clock, deletion path, legal basis or store, a subject key naming no column, or two
 * datasets with one name is an error whose message in d is "file:line:col: key: why". Returns 0,
 * MDP_ERR_NOT_FOUND / MDP_ERR_IO (the file), MDP_ERR_CONFIG (its content), MDP_ERR_NOMEM. */
int mdp_inventory_load(const char *path, struct mdp_inventory **out, struct mdp_diag *d);
/* The same from a buffer (len bytes, need not be NUL-terminated); name is used in messages. text and
 * name are borrowed for the call; *out (NULL on failure) is freed with mdp_inventory_free. Returns
 * 0, MDP_ERR_CONFIG (the content, with "name:line:col: key: why" in d) or MDP_ERR_NOMEM. */
int mdp_inventory_load_buffer(const char *name, const char *text, size_t len,
                              struct mdp_inventory **out, struct mdp_diag *d);
/* Frees inv and everything it owns (NULL is fine). Returns nothing. */
void mdp_inventory_free(struct mdp_inventory *inv);
/* The inventory file of cfg: governance.inventory, with {builtin} (the default) the
 * config/inventory.yaml of the source tree mdp was built from, so the commands that read it work
 * from any folder. Returns a static or cfg-owned string; never NULL. */
const char *mdp_inventory_file(const struct mdp_config *cfg);

/* Returns the dataset named name, or NULL when there is none. The result is borrowed from inv. */
const struct mdp_inv_dataset *mdp_inventory_find(const struct mdp_inventory *inv, const char *name);
/* Returns the dataset of store whose location is location, or NULL when there is none. The result
 * is borrowed from inv. */
const struct mdp_inv_dataset *mdp_inventory_find_location(const struct mdp_inventory *inv,
                                                          enum mdp_inv_store store,
                                                          const char *location);
/* Returns the column name of ds, or NULL when ds has none of that name. Borrowed from ds. */
const struct mdp_inv_column *mdp_inv_dataset_column(const struct mdp_inv_dataset *ds,
                                                    const char *name);

/* Parses an ISO 8601 duration ("P7D", "P18M", "P3Y", "PT12H", "P1Y2M3DT4H5M6S", "P2W") into out.
 * At least one component; no fractions, signs or repeated components; each number at most 100000.
 * Returns 0 or MDP_ERR_PARSE (out zeroed). */
int mdp_duration_parse(const char *s, struct mdp_duration *out);
/* Returns the instant `dur` before ms (calendar arithmetic in UTC: months and years step back by
 * calendar months, a day of month beyond the target month's end clamps to its last day). */
int64_t mdp_duration_before(int64_t ms, const struct mdp_duration *dur);
/* Returns the instant `dur` after ms (the same calendar arithmetic, forward). */
int64_t mdp_duration_after(int64_t ms, const struct mdp_duration *dur);

/* Returns the name of a PII class as the YAML file writes it ("direct"); a static string. */
const char *mdp_pii_name(enum mdp_pii p);
/* Returns the name of a clock ("since_event"); a static string. */
const char *mdp_ret_clock_name(enum mdp_ret_clock c);
/* Returns the name of a deletion path ("partition_drop"); a static string. */
const char *mdp_del_path_name(enum mdp_del_path p);
/* Returns a sentence saying what the deletion path does, for the record of processing activities;
 * a static string. */
const char *mdp_del_path_text(enum mdp_del_path p);
/* Returns the name of a store ("curated"); a static string. */
const char *mdp_inv_store_name(enum mdp_inv_store s);
/* Returns the name of a subject key kind ("email_sha256"); a static string. */
const char *mdp_subject_kind_name(enum mdp_subject_kind k);
/* Returns the legal basis for people ("consent (Art. 6(1)(a) GDPR)") of a tag ("consent"), or
 * NULL for an unknown tag; a static string. */
const char *mdp_legal_basis_text(const char *tag);

/* Writes the record of processing activities (GDPR Art. 30) generated from inv to f: markdown
 * (json == 0) or one JSON document (json != 0). Every field is filled from the inventory (the
 * loader refuses empty ones). inv and f are borrowed. Returns 0 or MDP_ERR_IO / MDP_ERR_NOMEM with
 * d. */
int mdp_inventory_ropa(const struct mdp_inventory *inv, FILE *f, int json, struct mdp_diag *d);

/* ---- checking the inventory against what exists (src/gov/datamap_check.c) ---- */

/* One thing `mdp inventory check` found wrong. Every string is borrowed for the callback. */
struct mdp_inv_problem {
    const char *dataset;  /* the inventory's dataset, or NULL when the thing is not in it */
    const char *location; /* the table, raw dataset folder or state-store table concerned */
    const char *column;   /* the column concerned, or NULL */
    const char *kind;     /* "unclassified_column", "unknown_column", "unlisted_dataset",
                             "missing_dataset" */
    const char *detail;   /* a sentence for people */
};
/* Called per problem; a non-zero return stops the check and is returned. */
typedef int (*mdp_inv_problem_cb)(const struct mdp_inv_problem *p, void *ud);

struct mdp_lake;
struct mdp_engine;
/* Compares inv with the lake: every published table (curated/, ml/, serving/, _meta/tables/) must
 * be a dataset of the inventory and, when it is Parquet, every column of its current files (read
 * through the engine e) must be classified and every classified column must exist; every raw
 * dataset folder (raw/<source>/<dataset>/) and every state-store table in the lake's state store
 * must be in the inventory; every curated, ml and serving dataset of the inventory must be a
 * published table of the lake or a table a model of models_dir declares (`-- table: ...`), and
 * every raw dataset's source must be a connector or `serve`. cb sees each problem; out_problems
 * (may be NULL) gets their number. Everything is borrowed. Returns 0 (also with problems: they are
 * the result), cb's non-zero value, or the lake's, the engine's or the state store's error
 * (MDP_ERR_IO, MDP_ERR_ENGINE, MDP_ERR_PARSE, MDP_ERR_NOMEM) with d. */
int mdp_inventory_check_lake(const struct mdp_inventory *inv, struct mdp_lake *lake,
                             struct mdp_engine *e, const char *models_dir, mdp_inv_problem_cb cb,
                             void *ud, int64_t *out_problems, struct mdp_diag *d);
/* What a search by the inventory cannot see: calls cb (kind "unlisted_dataset") for every
 * published table, raw dataset folder and state-store table of the lake that inv does not list,
 * without reading any table (no engine). Export and erasure refuse such a lake. out_n (may be
 * NULL) gets their number; everything is borrowed. Returns 0 (also when some are found), cb's
 * non-zero value, or the lake's or the state store's error (MDP_ERR_IO, MDP_ERR_PARSE,
 * MDP_ERR_NOMEM) with d. */
int mdp_inventory_unlisted(const struct mdp_inventory *inv, struct mdp_lake *lake,
                           mdp_inv_problem_cb cb, void *ud, int64_t *out_n, struct mdp_diag *d);
/* Compares inv with a PostgreSQL database over libpq (conninfo: a libpq connection string, never
 * logged): every table and column of schema (e.g. "public") must be classified by a supabase
 * dataset whose location is "schema.table", and every supabase dataset and column of the inventory
 * must exist. Reports as mdp_inventory_check_lake. Returns 0, cb's value, MDP_ERR_IO (cannot
 * connect or query: the server's message in d, without the connection string) or MDP_ERR_NOMEM. */
int mdp_inventory_check_supabase(const struct mdp_inventory *inv, const char *conninfo,
                                 const char *schema, mdp_inv_problem_cb cb, void *ud,
                                 int64_t *out_problems, struct mdp_diag *d);

#endif
