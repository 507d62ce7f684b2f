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

#endif
