/* Fuzz target for one connector's parser, chosen at build time by MDP_FUZZ_KEY (a landing key the
 * connector handles); CMake builds one target per connector: fuzz_events, fuzz_ses, fuzz_ddb,
 * fuzz_ga4, fuzz_gbp, fuzz_meta, fuzz_supabase. Every record read must end valid, quarantined or a
 * duplicate, and every quarantined one must have its quarantine line. */
#include "mdp/ingest.h"
#include "mdp/lake.h"

#include <stdint.h>
#include <string.h>

#ifndef MDP_FUZZ_KEY
#error "define MDP_FUZZ_KEY"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mdp_ingest_counts c;
    memset(&c, 0, sizeof c);
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "fuzz", "fuzz", 0);
    int rc = mdp_ingest_check(MDP_FUZZ_KEY, (const char *)data, size, &c, &q);
    if (rc == 0 && c.in != c.out + c.quarantined + c.duplicates) __builtin_trap();
    if (rc == 0 && q.count != c.quarantined) __builtin_trap();
    mdp_quarantine_cleanup(&q);
    return 0;
}
