/* Deterministic generator of realistic source data (`mdp seed`): what matbakh.app's sources would
 * deliver, in their official formats, written into a landing folder that stands in for the
 * sources (docs/seed.md lists every file and format):
 *   supabase/<table>/dt=D/<table>.csv        PostgreSQL COPY CSV HEADER exports
 * (config/supabase-schema.sql) events/dt=D/events.ndjson                the app's events, spec 2
 * Event-Payload standard + event_id ses/sqs/dt=D/batch-NNNNN.json            Lambda SQS events
 * whose bodies are SNS envelopes of SES notifications and event-publishing records
 *   dynamodb/firehose/YYYY/MM/DD/HH/vc-ddb-cdc-1-...   Firehose objects of DynamoDB change records
 *                                            (VcTokens, ConsentJournal), concatenated JSON
 *   ga4/runreport/dt=D/response.json         GA4 Data API runReport responses
 *   gbp/locations/dt=D/<gbp account>.json    Business Information accounts.locations.list responses
 *   meta/me_accounts|pages|ig_users/dt=D/... Graph API responses
 * The same options give the same bytes: one PRNG (xoshiro256**) seeded from `seed` drives
 * everything, and nothing depends on the clock or on hash-table order. docs/seed.md describes the
 * simulated world and the one writer per source behind it. */
#ifndef MDP_SEED_H
#define MDP_SEED_H

#include <stdint.h>
#include "mdp/err.h"
#include "mdp/store.h"

struct mdp_seed_opts {
    long users;
    long days;
    uint64_t seed;
    double bad_rate;   /* 0..0.5 */
    int64_t start_day; /* days since epoch (UTC) of the first day */
    const char *ga4_property_id;
    const char *ga4_time_zone;
    /* Bytes the per-day spools may hold in memory before they go to scratch files under $TMPDIR
     * (0: 32 MiB). Changes memory and speed, never the bytes written. */
    size_t spool_budget;
    /* Non-zero: everything on the calling thread (no writer threads for the landing puts, no
     * spools' thread, the app events' days one after the other). Changes speed, never the bytes
     * written; tests use it to check exactly that. */
    int single_thread;
};

/* What was written, per source, for summaries and tests. */
struct mdp_seed_stats {
    int64_t files;
    int64_t bytes;
    int64_t users, accounts, locations;
    int64_t events, ses_messages, ddb_records, csv_rows, ga4_rows, gbp_locations, meta_objects;
    /* bad records mixed in, by kind */
    int64_t bad_truncated, bad_missing_id, bad_unknown_enum, bad_duplicate, bad_bad_timestamp;
};

/* Generates into out (a store rooted at the landing folder), user by user in flat memory: records
 * that must come out per day in time order are spooled to a scratch folder under $TMPDIR (default
 * /tmp), removed before returning. Objects are put atomically but not fsync'd (MDP_PUT_NO_SYNC).
 * Unless opts->single_thread, the run uses up to five threads of its own (landing puts, spools,
 * the app events' days), all joined before returning; out must take puts from several threads.
 * Returns 0, MDP_ERR_INVALID for bad options, or the store's / the scratch folder's error, with the
 * detail in d; stats counts what was written, also on failure. Runs share no state: two runs
 * into different stores may go on at once. */
int mdp_seed_generate(const struct mdp_seed_opts *opts, struct mdp_store *out,
                      struct mdp_seed_stats *stats, struct mdp_diag *d);

#endif
