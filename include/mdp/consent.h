/* Consent (spec 1 and 7): the configured purposes with their legal basis, the append-only consent
 * journal in the state store, its hash-chain verification, and the validity of a subject's consent
 * for a purpose at a point in time (the spec's consent-gating rule).
 *
 * Journal records are chained: each stores the SHA-256 of the previous record, and its own hash
 * covers its exact stored bytes, so altering, deleting or reordering a record breaks the chain at
 * that record. A head item remembers the last record so that cutting off the tail is caught too. */
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
 * sets those of consent.purposes (process-wide; call it once at startup, before other threads). */
const struct mdp_consent_purpose *mdp_consent_purposes(void);
struct mdp_strlist;
/* Takes the NAME:BASIS items of consent.purposes (validated by the config loader). */
int mdp_consent_configure(const struct mdp_strlist *purposes, struct mdp_diag *d);
const struct mdp_consent_purpose *mdp_consent_purpose_find(const char *name);

/* A decision in the future beyond this skew is rejected. */
#define MDP_CONSENT_MAX_SKEW_MS (5 * 60 * 1000)

struct mdp_consent_record {
    int64_t seq;           /* filled by append: 1, 2, ... */
    char email_lower[256]; /* "" when the record names only a user_id */
    char user_id[64];      /* "" when the record names only an email */
    char purpose[32];
    int granted;           /* 1 granted, 0 withdrawn */
    int64_t ts_ms;         /* when the decision was made */
    char source[64];       /* "cli", "ddb", "app", ... */
    int64_t expires_at_ms; /* 0 = does not expire */
    char evidence[512];    /* e.g. the DOI token hash, a form version */
    char prev_hash[65];    /* filled by append */
    char hash[65];         /* filled by append */
};

/* Parses "granted" / "withdrawn". */
int mdp_consent_decision_parse(const char *s, int *granted);

/* Fills r's subject, normalizing the email. Either may be NULL, not both. */
int mdp_consent_subject(struct mdp_consent_record *r, const char *email, const char *user_id,
                        struct mdp_diag *d);

/* Checks a record before it is appended: a subject, a known purpose, a timestamp not later than
 * now + MDP_CONSENT_MAX_SKEW_MS, an expiry after the decision. */
int mdp_consent_validate(const struct mdp_consent_record *r, int64_t now_ms, struct mdp_diag *d);

/* Validates and appends r; fills r->seq, r->prev_hash and r->hash. Safe against concurrent
 * appenders (conditional write, retried). */
int mdp_consent_append(struct mdp_state *s, struct mdp_consent_record *r, int64_t now_ms,
                       struct mdp_diag *d);

/* Calls cb with every journal record in seq order (hashes not checked: that is verify's job). A
 * non-zero return of cb stops the walk and is returned. */
int mdp_consent_each(struct mdp_state *s, int (*cb)(const struct mdp_consent_record *r, void *ud),
                     void *ud, struct mdp_diag *d);
/* The same walk over the stored bodies as they are (JSON objects with the fields of struct
 * mdp_consent_record: seq, email_lower, user_id, purpose, decision, ts_ms, source, expires_at_ms,
 * evidence, prev_hash, hash), for bulk loading where the parsing happens elsewhere. */
int mdp_consent_each_body(struct mdp_state *s, int (*cb)(const char *body, void *ud), void *ud,
                          struct mdp_diag *d);
/* A consent time as ISO-8601 text or as epoch seconds (digits only). 0 or MDP_ERR_PARSE. */
int mdp_consent_time_parse(const char *s, int64_t *out_ms);
/* Imports the ConsentJournal INSERTs of the DynamoDB stream from the lake's raw zone
 * (raw/dynamodb/) into the journal, source "ddb", evidence "ddb:<eventID>". Idempotent: a change
 * whose eventID is in the journal already is skipped, so re-running (also after a crash) adds
 * nothing twice. Records the ingest quarantined are skipped (the connector's own validation runs
 * again). */
struct mdp_lake;
struct mdp_consent_import {
    int64_t objects, changes, imported, already, ignored; /* ignored: MODIFY/REMOVE, other tables */
};
int mdp_consent_import(struct mdp_lake *lake, struct mdp_state *s, int64_t now_ms,
                       struct mdp_consent_import *out, struct mdp_diag *d);
/* The result of a verification. bad_seq is 0 when the journal is intact, else the sequence number
 * of the first record that fails, with the reason. */
struct mdp_consent_verify {
    int64_t records;
    int64_t bad_seq;
    char reason[256];
};
int mdp_consent_verify(struct mdp_state *s, struct mdp_consent_verify *v, struct mdp_diag *d);

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
 * The subject matches a record by its email (normalized) or its user_id; either may be NULL. */
int mdp_consent_status_at(struct mdp_state *s, const char *email, const char *user_id,
                          int64_t at_ms, struct mdp_consent_status *out, int cap, int *n_out,
                          struct mdp_diag *d);

/* DOI tokens (spec 1: VcTokens, TTL 7 days). Only the token's SHA-256 is stored, with the address,
 * the requesting IP, the status and the expiry (the item's TTL). */
#define MDP_DOI_TTL_MS    (7LL * 24 * 3600 * 1000)
#define MDP_DOI_TOKEN_LEN 64 /* hex characters of a token */

/* Issues a token for email (requested from ip, may be NULL): writes the token (64 hex chars and a
 * NUL) to token_out, to be sent once and never stored. */
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
 * when two confirmations race. */
int mdp_doi_confirm(struct mdp_state *s, const char *token, int64_t now_ms, int *result,
                    int64_t *seq_out, struct mdp_diag *d);

/* Removes tokens whose TTL has passed; *n_out (may be NULL) counts them. */
int mdp_doi_purge(struct mdp_state *s, int64_t now_ms, int *n_out, struct mdp_diag *d);

#endif
