/* Consent (spec 1 and 7): the configured purposes with their legal basis, the append-only consent
 * journal in the state store, its hash-chain verification, and the validity of a subject's consent
 * for a purpose at a point in time (the spec's consent-gating rule).
 *
 * Journal records are chained: each stores the SHA-256 of the previous record, and its own hash
 * covers its exact stored bytes, so altering, deleting or reordering a record breaks the chain at
 * that record. A head item remembers the last record so that cutting off the tail is caught too.
 *
 * Pseudonymous chain (docs/privacy.md §6): a record names its subject only by keyed pseudonyms
 * (email_hmac, user_hmac: mdp/pseudonym.h); the clear address and user id live beside the chain in
 * the contact table (state table "consent_contact", one item per pseudonym), which the readers
 * join back in. Erasure deletes the contact rows (mdp_consent_forget): the records and their
 * chain stay and still verify, but no longer name the person. A journal written before this
 * (records with email_lower / user_id in clear) is re-chained once by mdp_consent_migrate.
 *
 * Usage (the erasure job):
 *     struct mdp_consent_migration m;   // once, before the first erasure; a no-op afterwards
 *     if (mdp_consent_migrate(lake, state, &m, &d)) ...fail...
 *     struct mdp_consent_forgotten f;
 *     if (mdp_consent_forget(state, email_or_NULL, user_id_or_NULL, &f, &d)) ...fail...
 *     // f.records: the subject's journal records (kept); f.email_rows, f.user_rows: contact rows
 *     // deleted; mdp_consent_verify still reports the journal intact */
#ifndef MDP_CONSENT_H
#define MDP_CONSENT_H

#include <stdint.h>
#include "mdp/err.h"
#include "mdp/state.h"

struct mdp_consent_purpose {
    const char *name;
    const char *legal_basis;
    const char *description;
};
/* The purposes in use, terminated by a NULL name: the built-in five until mdp_consent_configure
 * sets those of consent.purposes (process-wide; call it once at startup, before other threads).
 * Returns the table: static, never freed (its entries change only with mdp_consent_configure). */
const struct mdp_consent_purpose *mdp_consent_purposes(void);
struct mdp_strlist;
/* Takes the NAME:BASIS items of consent.purposes (validated by the config loader); the names are
 * copied. Not thread-safe (see above). Returns 0, MDP_ERR_RANGE (too many purposes) or
 * MDP_ERR_CONFIG (an item that is not NAME:BASIS), with d; on error the purposes stay as they
 * were. */
int mdp_consent_configure(const struct mdp_strlist *purposes, struct mdp_diag *d);
/* Returns the purpose named name (an entry of the static table above), or NULL when unknown. */
const struct mdp_consent_purpose *mdp_consent_purpose_find(const char *name);

/* A decision in the future beyond this skew is rejected. */
#define MDP_CONSENT_MAX_SKEW_MS (5 * 60 * 1000)

struct mdp_consent_record {
    int64_t seq;           /* filled by append: 1, 2, ... */
    char email_lower[256]; /* "" when the record names only a user_id, or its contact row was
                              deleted (the subject was erased) */
    char user_id[64];      /* "" when the record names only an email, or was erased */
    char email_hmac[65];   /* the address's keyed pseudonym (mdp/pseudonym.h), filled by append
                              and by the readers; "" without an address */
    char user_hmac[65];    /* the user id's keyed pseudonym; "" without a user id */
    int clear_subject;     /* readers: 1 for a record written before pseudonymization (it holds
                              the subject in clear; mdp_consent_migrate re-chains it) */
    char purpose[32];
    int granted;           /* 1 granted, 0 withdrawn */
    int64_t ts_ms;         /* when the decision was made */
    char source[64];       /* "cli", "ddb", "app", ... */
    int64_t expires_at_ms; /* 0 = does not expire */
    char evidence[512];    /* e.g. the DOI token hash, a form version */
    char prev_hash[65];    /* filled by append */
    char hash[65];         /* filled by append */
};

/* Parses "granted" / "withdrawn" into *granted (1 / 0). Returns 0 or MDP_ERR_INVALID. */
int mdp_consent_decision_parse(const char *s, int *granted);

/* Fills r's subject, normalizing the email (copied into r). Either may be NULL or empty, not both.
 * Returns 0 or MDP_ERR_INVALID (no subject, an email without '@' or over 255 bytes, a user_id
 * over 63 bytes) with d. */
int mdp_consent_subject(struct mdp_consent_record *r, const char *email, const char *user_id,
                        struct mdp_diag *d);

/* Checks a record before it is appended: a subject, a known purpose, a timestamp not later than
 * now + MDP_CONSENT_MAX_SKEW_MS, an expiry after the decision. Returns 0 or MDP_ERR_INVALID with
 * the first problem in d. */
int mdp_consent_validate(const struct mdp_consent_record *r, int64_t now_ms, struct mdp_diag *d);

/* Validates and appends r; fills r->seq, r->prev_hash and r->hash. Safe against concurrent
 * appenders (conditional write, retried). r is the caller's; the store keeps a copy. Returns 0
 * (the record is durable), MDP_ERR_INVALID (validation, nothing written), MDP_ERR_PARSE (the last
 * record is unreadable), MDP_ERR_EXISTS (20 attempts lost the race), MDP_ERR_IO, MDP_ERR_NOMEM,
 * MDP_ERR_CRYPTO, with d. */
int mdp_consent_append(struct mdp_state *s, struct mdp_consent_record *r, int64_t now_ms,
                       struct mdp_diag *d);

/* Calls cb with every journal record in seq order (hashes not checked: that is verify's job), its
 * clear subject joined back in from the contact table (empty once erased). A non-zero return of cb
 * stops the walk and is returned. r is borrowed for the call. Returns 0, cb's value, MDP_ERR_PARSE
 * (an unreadable record or contact row), MDP_ERR_IO or MDP_ERR_NOMEM, with d. */
int mdp_consent_each(struct mdp_state *s, int (*cb)(const struct mdp_consent_record *r, void *ud),
                     void *ud, struct mdp_diag *d);
/* The records after after_seq (0: all) as stored, newest first, for bulk loading where the
 * parsing and the joining happen elsewhere (src/model/ml.c): JSON objects with seq first, then
 * email_hmac and user_hmac (null when absent), purpose, decision, ts_ms, source, expires_at_ms,
 * evidence, prev_hash, hash; a record written before pseudonymization has email_lower and user_id
 * in clear instead of the pseudonyms. body is borrowed for the call. Returns 0, cb's non-zero
 * value, MDP_ERR_IO or MDP_ERR_NOMEM, with d. */
int mdp_consent_each_stored(struct mdp_state *s, int64_t after_seq,
                            int (*cb)(int64_t seq, const char *body, void *ud), void *ud,
                            struct mdp_diag *d);
/* Calls cb for every row of the contact table: a pseudonym (64 hex digits), its kind ('e' an
 * address, email_lower; 'u' a user id) and the clear value, all borrowed for the call. Erasure
 * deletes rows, so a record whose pseudonym has no row any more names nobody. Returns 0, cb's
 * non-zero value, MDP_ERR_PARSE (an unreadable row), MDP_ERR_IO or MDP_ERR_NOMEM, with d. */
int mdp_consent_each_contact(struct mdp_state *s,
                             int (*cb)(const char *hmac, char kind, const char *value, void *ud),
                             void *ud, struct mdp_diag *d);
/* The seq and hash of the record seq (0: the first record of the journal), into *out_seq and
 * hash: what a copy of the journal checks to know it is still a copy of the same records.
 * Returns 0, MDP_ERR_NOT_FOUND (no such record, or an empty journal), MDP_ERR_PARSE, MDP_ERR_IO,
 * with d. */
int mdp_consent_record_at(struct mdp_state *s, int64_t seq, int64_t *out_seq, char hash[65],
                          struct mdp_diag *d);
/* A consent time as ISO-8601 text or as epoch seconds (digits only), into *out_ms. Returns 0,
 * MDP_ERR_PARSE, or MDP_ERR_RANGE (outside the supported years). No diag. */
int mdp_consent_time_parse(const char *s, int64_t *out_ms);
/* Imports the ConsentJournal INSERTs of the DynamoDB stream from the lake's raw zone
 * (raw/dynamodb/) into the journal, source "ddb", evidence "ddb:<eventID>". Idempotent: a change
 * whose eventID is in the journal already is skipped, so re-running (also after a crash) adds
 * nothing twice. Records the ingest quarantined are skipped (the connector's own validation runs
 * again). A journal written before pseudonymization is migrated first (mdp_consent_migrate). */
struct mdp_lake;
struct mdp_consent_import {
    int64_t objects, changes, imported, already, ignored; /* ignored: MODIFY/REMOVE, other tables */
};
/* Runs the import above; out, the caller's, is zeroed and gets the counts. Returns 0, or the
 * journal's, the store's or the connector's error (MDP_ERR_IO, MDP_ERR_PARSE, MDP_ERR_NOMEM), with
 * d; what was imported before a failure stays imported. */
int mdp_consent_import(struct mdp_lake *lake, struct mdp_state *s, int64_t now_ms,
                       struct mdp_consent_import *out, struct mdp_diag *d);
/* The result of a verification. bad_seq is 0 when the journal is intact, else the sequence number
 * of the first record that fails, with the reason. */
struct mdp_consent_verify {
    int64_t records; /* pruned ones included */
    int64_t pruned;  /* records retention pruned (mdp_consent_prune): only their hash is left */
    int64_t bad_seq;
    char reason[256];
};
/* Walks the whole journal and its head; v is the caller's (zeroed first). Returns 0 whether the
 * journal is intact or not (look at v->bad_seq), or MDP_ERR_IO / MDP_ERR_NOMEM when it could not
 * be read, with d. */
int mdp_consent_verify(struct mdp_state *s, struct mdp_consent_verify *v, struct mdp_diag *d);

/* Retention of the journal (docs/privacy.md §4, "The consent journal"): a record is kept while it
 * is the proof of a decision in force, and for the inventory's period (3 years) after it stopped
 * being one. It stops being one when a later decision (by ts, ties by seq) for the same purpose
 * names every subject key it names (so every status lookup that finds it finds the later one
 * first), when its grant expires, or, for a withdrawal, when it is made. A grant in force without
 * expiry is never due. A due record is pruned to a tombstone that keeps its seq, prev_hash and
 * hash, so the chain still verifies across it; readers skip tombstones. */
struct mdp_consent_due {
    int64_t seq;
    char hash[65];
    int64_t ended_ms; /* when it stopped being the proof of a decision in force */
    int64_t bytes;    /* its stored body's */
};
/* The records due at cutoff_ms (ended at or before it) into *out (malloc'd array of *n, seq order,
 * the caller frees it; NULL when none). Tombstones are not listed again. Returns 0,
 * MDP_ERR_UNSUPPORTED (records written before pseudonymization: run mdp_consent_migrate first),
 * MDP_ERR_PARSE (an unreadable record), MDP_ERR_IO, MDP_ERR_NOMEM, with d. */
int mdp_consent_due(struct mdp_state *s, int64_t cutoff_ms, struct mdp_consent_due **out, size_t *n,
                    struct mdp_diag *d);
/* The journal's table copy (src/model/ml.c): a Parquet copy of its gating fields in this folder
 * of the lake's local side, valid only with its digest in the state store (table, pk, sk). */
#define MDP_CONSENT_COPY_DIR    "_meta/cache/consent-journal"
#define MDP_CONSENT_COPY_DIGEST "consent_copy", "journal", "digest"
/* What mdp_consent_prune did. */
struct mdp_consent_pruned {
    int64_t records;      /* records pruned to tombstones by this call */
    int64_t already;      /* listed but pruned before (a rerun after a crash) */
    int64_t contact_rows; /* contact rows deleted: their pseudonym is named by no live record */
};
/* Prunes the records keys name ("<seq>:<hash>", as a retention plan lists them) to tombstones,
 * in transactions of up to 25, then deletes the contact rows (clear addresses and user ids) that
 * no live record names any more (one appended meanwhile gets its row back), and the digest of the
 * journal's table copy (src/model/ml.c), so that the next load rebuilds the copy without them.
 * Idempotent: a record already pruned counts in out->already. out (the caller's) is zeroed and
 * filled. Returns 0, MDP_ERR_INVALID (a malformed key), MDP_ERR_EXISTS (a record's hash differs
 * from its key's: the journal changed since the plan; nothing of it pruned), MDP_ERR_NOT_FOUND (a
 * listed record is missing), MDP_ERR_IO, MDP_ERR_NOMEM, with d. */
int mdp_consent_prune(struct mdp_state *s, char *const *keys, size_t nkeys,
                      struct mdp_consent_pruned *out, struct mdp_diag *d);

/* Calls cb with the seq and hash of every tombstone of the journal (records pruned by retention),
 * in seq order; hash is borrowed for the call. A non-zero return of cb stops the walk and is
 * returned. Returns 0, cb's value, MDP_ERR_IO or MDP_ERR_NOMEM, with d. */
int mdp_consent_each_pruned(struct mdp_state *s, int (*cb)(int64_t seq, const char *hash, void *ud),
                            void *ud, struct mdp_diag *d);

/* What mdp_consent_forget found and did. */
struct mdp_consent_forgotten {
    int64_t records;    /* journal records of the subject (kept, now without a clear subject) */
    int64_t email_rows; /* contact rows of addresses deleted */
    int64_t user_rows;  /* contact rows of user ids deleted */
};
/* Deletes one subject's contact rows: those of email and of user_id (either may be NULL, not
 * both), and of every address or user id that a journal record names together with one of them
 * (so erasing a user id also removes the addresses the user consented with). The records stay, and
 * so does the chain (it never hashed the clear values). out, the caller's, is zeroed and gets the
 * counts; a subject without contact rows is not an error (0 deleted). Returns 0, MDP_ERR_INVALID
 * (no subject, a bad address), MDP_ERR_UNSUPPORTED (a record of the subject was written before
 * pseudonymization: run mdp_consent_migrate first; nothing deleted), MDP_ERR_IO, MDP_ERR_NOMEM,
 * MDP_ERR_CRYPTO, with d. */
int mdp_consent_forget(struct mdp_state *s, const char *email, const char *user_id,
                       struct mdp_consent_forgotten *out, struct mdp_diag *d);

/* What mdp_consent_migrate did. */
struct mdp_consent_migration {
    int64_t records;    /* records in the journal */
    int64_t migrated;   /* records re-chained by this call (0: nothing to do) */
    int64_t ledger_seq; /* the ledger entry linking the old head to the new (0: none written) */
    char old_head[65], new_head[65];
};
/* Re-chains a journal written before pseudonymization, once: every record keeps its seq, purpose,
 * decision, times, source and evidence, its clear subject moves to the contact table and the record
 * names it by pseudonyms; the hashes are recomputed from the first record on. Before the first
 * record is rewritten, a ledger entry (_meta/ledger/, what "consent_journal_migration") links the
 * old head hash to the new one. Refuses a journal whose chain does not verify (nothing changed).
 * Crash-safe: a progress item (consent_head, sort key "migration") is written in the same
 * transaction as each batch of records, and a re-run continues from it (the ledger entry is not
 * written twice). Run it while nothing else appends (stop `mdp serve`). When there is nothing to
 * do it reads one record (out->records stays 0). out (the caller's) is zeroed and filled.
 * Returns 0 (also when there is nothing to migrate), MDP_ERR_PARSE (the chain is broken, with the
 * first bad seq), MDP_ERR_EXISTS (another migration is running), MDP_ERR_IO,
 * MDP_ERR_NOMEM, MDP_ERR_CRYPTO, with d. */
int mdp_consent_migrate(struct mdp_lake *lake, struct mdp_state *s,
                        struct mdp_consent_migration *out, struct mdp_diag *d);

/* The validity of a subject's consent for one purpose at time at_ms: valid when the latest decision
 * with ts <= at_ms is granted and not expired at at_ms. */
struct mdp_consent_status {
    const char *purpose;
    int has_decision;
    int granted;
    int valid;
    int64_t ts_ms, expires_at_ms, seq;
};
/* Fills out[i] for every purpose of mdp_consent_purposes() (in that order); *n_out their count.
 * The subject matches a record by its email (normalized) or its user_id; either may be NULL, not
 * both. out[i].purpose points into the static purpose table. Returns 0, MDP_ERR_INVALID (no
 * subject, bad email), MDP_ERR_RANGE (more purposes than cap), MDP_ERR_IO, with d. */
int mdp_consent_status_at(struct mdp_state *s, const char *email, const char *user_id,
                          int64_t at_ms, struct mdp_consent_status *out, int cap, int *n_out,
                          struct mdp_diag *d);

/* DOI tokens (spec 1: VcTokens, TTL 7 days). Only the token's SHA-256 is stored, with the address,
 * the requesting IP, the status and the expiry (the item's TTL). */
#define MDP_DOI_TTL_MS (7LL * 24 * 3600 * 1000)
/* A claim without its grant this old is taken as interrupted, not in progress. */
#define MDP_DOI_FINISH_AFTER_MS (60LL * 1000)
#define MDP_DOI_TOKEN_LEN       64 /* hex characters of a token */

/* Issues a token for email (requested from ip, may be NULL): writes the token (64 hex chars and a
 * NUL) to token_out, the caller's buffer, to be sent once and never stored (zeroed on failure).
 * Returns 0, MDP_ERR_INVALID (no or bad email, bad ip), MDP_ERR_CRYPTO, MDP_ERR_NOMEM, MDP_ERR_IO,
 * with d. */
int mdp_doi_issue(struct mdp_state *s, const char *email, const char *ip, int64_t now_ms,
                  char token_out[MDP_DOI_TOKEN_LEN + 1], struct mdp_diag *d);

enum mdp_doi_result {
    MDP_DOI_CONFIRMED = 0,
    MDP_DOI_UNKNOWN = 1, /* never issued, malformed, or already purged */
    MDP_DOI_EXPIRED = 2, /* now >= expires_at */
    MDP_DOI_USED = 3,    /* confirmed before */
};
/* Confirms a token: on success the address counts as verified and a vc_report grant is appended to
 * the journal (source "doi", evidence "doi:<token_hash>"); seq_out (may be NULL) gets its seq.
 * Returns 0 with *result set, or an error of the store. A token is confirmed at most once, also
 * when two confirmations race. A malformed token is MDP_DOI_UNKNOWN, not an error. Errors:
 * MDP_ERR_PARSE (an unreadable stored token), MDP_ERR_IO, MDP_ERR_CRYPTO, or mdp_consent_append's,
 * with d. Crash-safe: the claim (written with the token's new status in one transaction) is
 * complete only once it notes the grant's seq; a confirmation whose claim is older than
 * MDP_DOI_FINISH_AFTER_MS and has no seq (a failure or a crash between claim and grant) is finished
 * by the next call (the grant appended once, found again in the journal if it was already there),
 * which returns MDP_DOI_CONFIRMED; a younger one counts as in progress (MDP_DOI_USED). */
int mdp_doi_confirm(struct mdp_state *s, const char *token, int64_t now_ms, int *result,
                    int64_t *seq_out, struct mdp_diag *d);

/* Removes tokens whose TTL has passed; *n_out (may be NULL) counts them (confirmation marks
 * included). Returns 0 or MDP_ERR_IO with d. */
int mdp_doi_purge(struct mdp_state *s, int64_t now_ms, int *n_out, struct mdp_diag *d);

#endif
