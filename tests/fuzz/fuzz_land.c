/* Fuzz target: the land stage's format checkers (CSV, NDJSON, Lambda SQS events with SNS envelopes,
 * Firehose concatenated JSON, API responses). The first byte picks the format; every record read
 * must come out either valid or quarantined: in == out + quarantined. */
#include "mdp/lake.h"
#include "mdp/pipeline.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *keys[] = {
        "supabase/t/dt=2026-10-01/t.csv",    "events/dt=2026-10-01/e.ndjson",
        "ses/sqs/dt=2026-10-01/b.json",      "ses/http/dt=2026-10-01/m.json",
        "dynamodb/firehose/2026/10/01/00/x", "ga4/runreport/dt=2026-10-01/r.json"};
    if (size < 1) return 0;
    const char *key = keys[data[0] % 6];
    struct mdp_land_counts c = {0};
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "fuzz", "fuzz", 0);
    int rc = mdp_land_check(key, (const char *)data + 1, size - 1, &c, &q);
    if (rc == 0 && c.in != c.out + c.quarantined) __builtin_trap();
    if (rc == 0 && q.count != c.quarantined) __builtin_trap();
    mdp_quarantine_cleanup(&q);
    return 0;
}
