/* Data subject requests (GDPR Art. 15 and 17; docs/privacy.md §5 and §6): the export of
 * everything the platform holds about one person as a deterministic bundle. The person is found by
 * the subject locator (include/mdp/subject.h); what is listed comes only from the data inventory.
 *
 * The bundle is a folder DIR and DIR.tar holding the same files: one <dataset>.ndjson per dataset
 * that can hold a person and is read here (a line per record: {"location": where it is,
 * "record": the record}, 0 lines when the dataset holds nothing about the person), art15.json
 * (purposes, legal bases, recipients, retention, sources and transfers per dataset, from the
 * inventory) and manifest.json (each file's SHA-256, size and row count, and the datasets that
 * were not read, with why). Nothing in it depends on the clock or the machine: the same lake
 * gives the same bytes. */
#ifndef MDP_DSAR_H
#define MDP_DSAR_H

#include <stdint.h>
#include "mdp/err.h"
#include "mdp/subject.h"

/* What an export wrote. */
struct mdp_dsar_export_stats {
    int64_t datasets; /* datasets listed with a file (read here), 0 rows included */
    int64_t not_read; /* datasets that can hold a person but are not read here (vendors, AWS) */
    int64_t files;    /* files in the bundle (datasets, art15.json, manifest.json) */
    int64_t hits;     /* places (objects, files, items, tables) that hold the person */
    int64_t rows;     /* records exported */
    char tar_sha256[65];
};

/* Exports subject s (resolved with mdp_subject_resolve over ctx) into the folder out_dir and the
 * archive out_dir.tar (POSIX ustar; entries sorted, mtime 0, owner 0, modes 0755/0644). Both are
 * built beside out_dir under temporary names and renamed into place only when complete, so a
 * failure leaves neither. out (may be NULL) gets the totals. Everything is borrowed. Returns 0,
 * MDP_ERR_NOT_FOUND (no store holds anything about the person: nothing is written),
 * MDP_ERR_EXISTS (out_dir or out_dir.tar exists), MDP_ERR_IO / MDP_ERR_NOSPACE (writing),
 * mdp_subject_locate's errors (a store that cannot be read, Supabase unreachable) or
 * MDP_ERR_NOMEM, with d. */
int mdp_dsar_export(const struct mdp_subject_ctx *ctx, const struct mdp_subject *s,
                    const char *out_dir, struct mdp_dsar_export_stats *out, struct mdp_diag *d);

/* ---- the backfill of the per-subject index (`mdp dsar reindex`, docs/privacy.md §8) ---- */

struct mdp_state;
/* The state tables whose items name their owner and get a subject: the consent journal's contact
 * rows (the key is the pseudonym) and the DOI tokens (the address in the body). */
#define MDP_DSAR_REINDEX_CONTACT "consent_contact"
#define MDP_DSAR_REINDEX_TOKENS  "vc_tokens"
/* What mdp_dsar_reindex found in one table. */
struct mdp_dsar_reindex_table {
    const char *table;  /* static storage */
    int64_t items;      /* items that belong to a person */
    int64_t set;        /* of them given their subject now (a dry run: that would be) */
    int64_t already;    /* of them that carried it already */
    int64_t unreadable; /* items whose owner cannot be read from them (left as they are) */
};
struct mdp_dsar_reindex {
    struct mdp_dsar_reindex_table t[2];
    int n;
    int64_t set, unreadable; /* the sums over t */
};
/* Gives every item of the tables above that belongs to a person and carries no subject (written
 * before the per-subject index existed) the subject its writer gives it today
 * (mdp_state_set_subject), so that erasure and export find it through the index. Idempotent;
 * items already indexed are not written. dry_run counts and changes nothing (not even the subject
 * key: without one, the DOI tokens' owners cannot be computed and count as to be set). st is
 * borrowed; out (the caller's) is zeroed first. Returns 0, or mdp_subject_key's or the store's
 * errors (MDP_ERR_IO, MDP_ERR_PARSE, MDP_ERR_CRYPTO), MDP_ERR_NOMEM, with d. */
int mdp_dsar_reindex(struct mdp_state *st, int dry_run, struct mdp_dsar_reindex *out,
                     struct mdp_diag *d);

#endif
