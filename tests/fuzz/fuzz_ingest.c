/* Fuzz target for one connector's parser, chosen at build time by MDP_FUZZ_CONNECTOR (its name);
 * CMake builds one target per folder of src/ingest/ (fuzz_events, fuzz_ses, fuzz_ddb, ...), and the
 * input is checked under the sample landing key of the connector's table. Every record read must
 * end valid, quarantined or a duplicate, and every quarantined one must have its quarantine line.
 */
#include "mdp/ingest.h"
#include "mdp/lake.h"

#include <stdint.h>
#include <string.h>

#ifndef MDP_FUZZ_CONNECTOR
#error "define MDP_FUZZ_CONNECTOR"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct mdp_connector *k = mdp_connector_find(MDP_FUZZ_CONNECTOR);
    /* the connector must exist, take its own sample key, and route it to itself */
    if (!k || !k->sample_key || mdp_connector_for_key(k->sample_key) != k) __builtin_trap();
    struct mdp_ingest_counts c;
    memset(&c, 0, sizeof c);
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "fuzz", "fuzz", 0);
    int rc = mdp_ingest_check(k->sample_key, (const char *)data, size, &c, &q);
    if (rc == 0 && c.in != c.out + c.quarantined + c.duplicates) __builtin_trap();
    if (rc == 0 && q.count != c.quarantined) __builtin_trap();
    mdp_quarantine_cleanup(&q);
    return 0;
}
