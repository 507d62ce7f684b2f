/* Ingestion: one connector per source of the specification, each a folder src/ingest/<name>/
 * and a line in src/ingest/connectors.def. A connector says where its deliveries arrive in the
 * landing folder, how to check one delivery (parse and validate every record, quarantine the bad
 * ones with a reason and their location, recognise duplicates), and optionally how to pull from the
 * live source. Every delivery takes one path: its bytes go, unchanged, into
 * raw/<source>/<dataset>/dt=D/ named by their SHA-256 (a delivery seen before lands nothing), then
 * the connector checks it, then its quarantine batch is written. The run log gets one record per
 * connector with the counts and the newest event time seen (for freshness). */
#ifndef MDP_INGEST_H
#define MDP_INGEST_H

#include <stdint.h>
#include "mdp/config.h"
#include "mdp/lake.h"
#include "mdp/strset.h"

struct mdp_ingest_counts {
    int64_t in;                       /* records read */
    int64_t out;                      /* valid, first seen */
    int64_t quarantined;              /* invalid: in quarantine with a reason */
    int64_t duplicates;               /* valid, but seen before in this run (same id) */
    int64_t newest_event_ms;          /* newest event time among valid records, or -1 */
    int64_t files, files_seen, bytes; /* deliveries, deliveries already landed, bytes read */
    int64_t extra[4];                 /* connector-specific counters, named by its extra_names */
    int64_t non_v7_ids;               /* valid records taken with an id that is a UUID but not v7
                                         (ingest.non_v7_ids: count) */
    int64_t suppressed;               /* records dropped before landing: they name an erased
                                         subject (the suppression list, mdp/suppress.h) */
    int64_t repaired;                 /* deliveries that were not well-formed UTF-8: landed with
                                         each offending byte replaced by U+FFFD, the delivered bytes
                                         kept in quarantine (reason invalid_utf8) */
    int64_t gzipped, gzip_damaged;    /* gzip'd deliveries taken inflated; of those, streams cut
                                         off or corrupt (their records up to the damage taken, the
                                         delivery kept in quarantine: gzip_corrupt) */
};

/* What happened to one record of a delivery (mdp_ingest_verdicts). */
enum mdp_verdict_kind {
    MDP_VERDICT_VALID = 0,       /* valid and first seen: taken */
    MDP_VERDICT_QUARANTINED = 1, /* invalid: set aside with a reason */
    MDP_VERDICT_DUPLICATE = 2    /* valid, but its id was seen before in the delivery */
};

struct mdp_verdict {
    enum mdp_verdict_kind kind;
    long index;       /* the record's place in the delivery, 0-based, in reading order */
    long line;        /* its first line (1-based) for line formats (events, supabase), else 0 */
    int64_t event_ms; /* valid: the event time the connector parsed, or -1 (none) */
    /* quarantined: the machine-readable reason, where (as in the quarantine: "key:line",
     * "key#Records[3]") and what; NULL otherwise */
    const char *reason, *location, *detail;
    /* valid: the connector's parsed form, or NULL when it has none to give (the ddb and events
     * connectors give the record's json_object *) */
    const void *record;
};

struct mdp_dedup_window;

/* What a connector's check works with. */
struct mdp_check {
    const char *key; /* the delivery's landing key (or a name given by the caller) */
    struct mdp_ingest_counts *c;
    struct mdp_quarantine *q;
    /* The duplicate index: the window of the ingest stage (mdp_dedup_window_enter sets it) or,
     * when that is NULL, one set for the check (tests, mdp_ingest_verdicts); both NULL disable
     * dedup. */
    struct mdp_dedup_window *win;
    struct mdp_strset *seen;
    const struct mdp_config *cfg; /* may be NULL: built-in defaults */
    void *state;                  /* the connector's own, from its init hook; NULL in pure checks */
    struct mdp_lake *lake;        /* for connector state (schema drift); NULL in pure checks */
    /* Optional: called with the verdict of every record (mdp_ingest_verdicts). A non-zero return
     * stops the check: the helpers below return it from then on. */
    int (*on_verdict)(void *ud, const struct mdp_verdict *v);
    void *on_verdict_ud;
    long line;   /* set by line-format connectors before they judge a record */
    long nrec;   /* records judged so far */
    int stop_rc; /* the first non-zero return of on_verdict */
};

/* Helpers for connectors. Each record read ends in exactly one of these; they return 0, or
 * an error (out of memory, or the caller's stop from on_verdict) that the check returns.
 * mdp_check_bad counts a quarantined record and adds it to ck->q (when set; reason, location,
 * detail and payload are copied there, borrowed otherwise). Returns 0, MDP_ERR_NOMEM or the
 * stop. */
int mdp_check_bad(struct mdp_check *ck, const char *reason, const char *location,
                  const char *detail, const void *payload, size_t len);
/* Counts a valid record with its event time (-1: none) and reports it. Returns 0 or the stop. */
int mdp_check_ok(struct mdp_check *ck, int64_t event_ms);
/* The same, with the connector's parsed form of the record for on_verdict (borrowed for the
 * call). Returns 0 or the stop. */
int mdp_check_ok_record(struct mdp_check *ck, int64_t event_ms, const void *record);
/* Returns 1 (and counts a duplicate) if id was seen before in this run, 0 if new (or when dedup is
 * off: ck->win and ck->seen NULL, or id NULL), < 0 on error or when on_verdict stopped the check
 * (the stop itself is kept in ck->stop_rc). kind and id are copied into the index (a lowercase
 * canonical UUID id as its 16 bytes). A "kind:id" of 512 bytes or more is not deduplicated (taken
 * as new). */
int mdp_check_dup(struct mdp_check *ck, const char *kind, const char *id);
/* 1 if id (already prefixed by its kind) was seen in this or the previous delivery day, else adds
 * it and returns 0; < 0 on error. Counts nothing. It keeps the text as it is, so it does not meet
 * what mdp_check_dup kept of a UUID: a kind's ids go through one of the two. */
int mdp_check_seen(struct mdp_check *ck, const char *id);
/* Counts one duplicate record (for connectors that decide it themselves). Returns 0 or the stop. */
int mdp_check_duplicate(struct mdp_check *ck);

/* Duplicate detection keeps the ids of the current and the previous delivery day per connector:
 * redeliveries (SNS/SQS at least once, Firehose retries) come within minutes or hours, and older
 * duplicates are removed when curated. So memory depends on the busiest day, not on how much
 * history a run ingests. Deliveries are taken in key order, which is day order per channel. */
struct mdp_dedup_index;
struct mdp_dedup_window {       /* the caller's storage, zeroed before the first enter */
    struct mdp_dedup_index *ix; /* both days' ids in one table (src/ingest/dedup.c) */
    int64_t day;
};
/* Moves the window to day (the next day keeps the current day's ids as the previous day's; any
 * other day, a gap or a step back, starts with none) and points ck->win at w, which ck borrows
 * until the cleanup. Returns 0 or MDP_ERR_NOMEM (w unchanged). */
int mdp_dedup_window_enter(struct mdp_dedup_window *w, int64_t day, struct mdp_check *ck);
/* Returns the number of ids the window holds for the current and the previous day. */
size_t mdp_dedup_window_count(const struct mdp_dedup_window *w);
/* Frees the index and zeroes w; a check still pointing at it must not be used any more. */
void mdp_dedup_window_cleanup(struct mdp_dedup_window *w);

struct mdp_pull;

/* A connector's own option of `mdp ingest NAME` (a flag without a value). */
struct mdp_connector_flag {
    const char *name; /* "--verify-signatures" */
    const char *help; /* one line for the usage */
};

/* What a connector's init and exit hooks work with, once per run of the ingest stage. */
struct mdp_connector_run {
    const struct mdp_config *cfg;
    struct mdp_lake *lake;
    const char *const *flags; /* the connector's flags given on the command line (NULL-ended) */
    void *state; /* set by init, handed to every check (mdp_check.state), freed by exit */
};

/* Returns 1 if flag was given for this run, else 0. */
int mdp_connector_run_has_flag(const struct mdp_connector_run *r, const char *flag);

struct mdp_config_key;

struct mdp_connector {
    const char *name;   /* `mdp ingest NAME` */
    const char *source; /* raw/<source>/ */
    const char *summary;
    const char *help;           /* for `mdp ingest NAME --help` */
    const char *landing_prefix; /* its deliveries in the landing folder */
    const char *dataset;        /* raw dataset; NULL: the landing path segment after the prefix */
    const char *ext;            /* raw object extension */
    const char *sample_key;     /* a landing key it takes (its fuzz target checks under it) */
    /* Its configuration map: the sources.<name>.* keys, ended by a NULL path, or NULL. `mdp config
     * keys` and docs/configuration.md list them with the core's. */
    const struct mdp_config_key *config;
    const struct mdp_connector_flag *flags; /* its own options, ended by a NULL name, or NULL */
    /* Optional: before its first delivery of a run (r->state for its checks), and after the run
     * (frees what init made; called whenever init succeeded). init returns 0 or an error with d. */
    int (*init)(struct mdp_connector_run *r, struct mdp_diag *d);
    void (*exit)(struct mdp_connector_run *r);
    const char *extra_names[4]; /* names of counts.extra[] for the run message, or NULL */
    int (*check)(struct mdp_check *ck, const char *data, size_t len);
    /* Optional: fetch from the live source into the landing folder (full: ignore watermarks).
     * What it pulls is then taken by the ordinary delivery path; only when that succeeded is
     * commit called to advance the source's position (watermarks), so a failed run re-pulls. */
    int (*pull)(struct mdp_pull *p, struct mdp_diag *d);
    int (*commit)(struct mdp_pull *p, struct mdp_diag *d);
};

/* What a pull works with. */
struct mdp_pull {
    const struct mdp_config *cfg;
    struct mdp_lake *lake;
    struct mdp_store *landing;
    int full;                 /* ignore the watermarks: export everything */
    int64_t day;              /* the delivery day (UTC days since epoch) */
    int64_t from_day, to_day; /* the report range, for sources that pull by date (ga4) */
    int64_t rows, files;      /* what the pull delivered */
    char note[256];           /* e.g. drift or watermark summary for the output */
};

/* Returns the registry: every connector, NULL-terminated, in connectors.def order; static. */
const struct mdp_connector *const *mdp_connectors(void);
/* Returns the connector named name (static), or NULL when there is none. */
const struct mdp_connector *mdp_connector_find(const char *name);
/* Returns the first connector whose landing_prefix begins landing_key (static), or NULL. */
const struct mdp_connector *mdp_connector_for_key(const char *landing_key);
/* Where ingest lands the delivery at landing_key (relative to the landing folder): the raw
 * dataset folder "raw/<source>/<dataset>" into location (n bytes, the caller's) and the delivery
 * day from its path (a dt=YYYY-MM-DD folder, or Firehose's YYYY/MM/DD/) into *out_day, -1 when the
 * path names none (such a delivery lands on the day it arrives). Returns 0, or MDP_ERR_NOT_FOUND
 * when no connector takes the key. */
int mdp_ingest_route(const char *landing_key, char *location, size_t n, int64_t *out_day);

struct mdp_suppress_set;
/* Removes from a delivery every record that names a suppressed subject (mdp_suppress_match), so
 * that nothing of it reaches raw or quarantine. Records are the top-level JSON values of a
 * delivery that starts with '{' or '[' (NDJSON, concatenated Firehose JSON; the bytes between
 * values, such as an unparseable line, count as records too), else its lines (CSV, text); a
 * dropped record takes its line end with it, every other byte is kept as it was. A JSON document
 * that batches records of several people in an array member (Records[] of an SQS or Lambda event,
 * rows[]) loses only the elements that name the subject, and is then written back compactly by
 * json-c (same content, other whitespace); when the subject is named outside such an array, the
 * document goes whole. A gzip delivery is inflated first and, when something is dropped, the rest
 * is kept uncompressed; a corrupt gzip stream is left as it is (the connector quarantines it
 * whole). *dropped gets the number of records removed; when it is 0, kept is left empty and the
 * delivery is to be taken as it is, else kept (the caller's, initialized) holds the remaining
 * bytes (possibly none). The erasure job's rewrite of a raw object uses the same function, so a
 * redelivery lands under the same content-addressed name. Returns 0 or MDP_ERR_NOMEM, with d. */
int mdp_ingest_suppress(const struct mdp_suppress_set *set, const char *data, size_t len,
                        struct mdp_buf *kept, int64_t *dropped, struct mdp_diag *d);

/* The Google Analytics User Deletion API (erasure, docs/privacy.md §6): what Google answered. */
struct mdp_ga4_deletion {
    long http_status;
    int attempts;                   /* requests made (retries on 429/5xx included) */
    char deletion_request_time[64]; /* the response's deletionRequestTime (RFC 3339): Google
                                       deletes the user's data received up to this time */
    char *response;                 /* the response body as received (malloc'd; the caller frees
                                       it); holds the id sent, so record it as the erasure's
                                       policy on ids allows */
};
/* Asks Google Analytics to delete one person's data: POST
 * <sources.ga4.user_deletion_base>/userDeletion/userDeletionRequests:upsert with
 * {"kind":"analytics#userDeletionRequest","id":{"type":id_type,"userId":id},"propertyId":
 * sources.ga4.property_id}, authenticated as the service account of sources.ga4.credentials_env
 * (scope analytics.user.deletion), retried on 429 and 5xx. id_type is "CLIENT_ID" (the GA4
 * client id of identity_links), "USER_ID" or "APP_INSTANCE_ID"; id is borrowed. Upsert is
 * idempotent on Google's side: asking twice is safe. out (the caller's) is zeroed and filled;
 * out->response is set only on success. Usage (the erasure job):
 *     struct mdp_ga4_deletion g;
 *     if (mdp_ga4_user_deletion(cfg, "CLIENT_ID", client_id, &g, &d) == 0) {
 *         ...record g.deletion_request_time...; free(g.response);
 *     }
 * Returns 0, MDP_ERR_INVALID (a bad id type or id, or HTTP 400), MDP_ERR_CONFIG (no key file, a
 * property id that is not digits), MDP_ERR_PERM (the token endpoint refused the key, HTTP 401/403),
 * MDP_ERR_IO (transport, other statuses), MDP_ERR_PARSE (no deletionRequestTime),
 * MDP_ERR_CRYPTO, MDP_ERR_NOMEM, with d. The access token is never logged. */
int mdp_ga4_user_deletion(const struct mdp_config *cfg, const char *id_type, const char *id,
                          struct mdp_ga4_deletion *out, struct mdp_diag *d);

/* Checks one delivery without a lake (tests, fuzzing): routes by key to its connector. Returns 0,
 * MDP_ERR_NOT_FOUND when no connector handles the key, or MDP_ERR_NOMEM. */
int mdp_ingest_check(const char *key, const char *data, size_t len, struct mdp_ingest_counts *c,
                     struct mdp_quarantine *q);

/* Checks one delivery as the ingest stage does, without a lake, and reports a verdict for every
 * record to on_verdict, in reading order: valid (with its event time and, for ddb and events, the
 * parsed record), quarantined (reason, location, detail) or duplicate (an id seen before in this
 * delivery). This is how the rest of the platform reads ingest's decisions (the consent import,
 * the service's event collector) instead of the connectors' internals.
 *   connector  the connector's name ("events", "ddb", ...), or NULL to route by key
 *   key        the delivery's landing key, or any name; it starts every location (NULL: the
 *              connector's name)
 *   data, len  the delivery's bytes (borrowed; gzip'd Firehose objects are inflated)
 *   cfg        the configuration (event types, ingest.non_v7_ids, ...), or NULL for the built-in
 *              defaults
 *   q          optional: the quarantined records are also added to it (mdp_quarantine_add)
 *   on_verdict called once per record; everything the verdict points to is borrowed for the call
 *              only (copy what you keep). A non-zero return stops the check and is returned.
 *   out_counts optional: the delivery's counts
 * SNS signatures are not verified here (no certificate cache). Returns 0, MDP_ERR_NOT_FOUND (no
 * such connector, or none handles key), MDP_ERR_NOMEM, or on_verdict's non-zero return. Thread
 * safe for distinct arguments. */
int mdp_ingest_verdicts(const char *connector, const char *key, const char *data, size_t len,
                        const struct mdp_config *cfg, struct mdp_quarantine *q,
                        int (*on_verdict)(void *ud, const struct mdp_verdict *v), void *ud,
                        struct mdp_ingest_counts *out_counts);

/* Verifies the AWS SNS signature of one SNS message envelope (JSON text: Notification,
 * SubscriptionConfirmation or UnsubscribeConfirmation) with the certificate its SigningCertURL
 * names (only https on sns.<region>.amazonaws.com), read from the cache folder cert_cache or, when
 * may_fetch, fetched into it. This is the ses connector's own check, for the service's SNS
 * endpoint. envelope and cert_cache are borrowed; why (wn bytes, the caller's) gets the reason on
 * failure. Returns 0 when the signature verifies, MDP_ERR_INVALID (why says what failed: not JSON,
 * an unknown SignatureVersion, a certificate URL off AWS, a bad signature, an unreachable
 * certificate). Thread safe. */
int mdp_ingest_sns_verify(const char *envelope, size_t len, const char *cert_cache, int may_fetch,
                          char *why, size_t wn);

#endif
