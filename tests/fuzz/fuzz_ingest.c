/* Fuzz target for one connector's parser, chosen at build time by MDP_FUZZ_CONNECTOR (its name);
 * CMake builds one target per folder of src/ingest/ (fuzz_events, fuzz_ses, fuzz_ddb, ...), and the
 * input is checked under the sample landing key of the connector's table. Every record read must
 * end valid, quarantined or a duplicate, and every quarantined one must have its quarantine line.
 * The input is checked twice, without and with a verdict callback: a connector may read faster
 * when nobody asks for the parsed record (the events and ddb connectors' stream readers), and both
 * reads must judge every record alike (the same counts, connector counts and newest event time, a
 * verdict per record).
 */
#include "mdp/ingest.h"
#include "mdp/lake.h"

#include <stdint.h>
#include <string.h>

#ifndef MDP_FUZZ_CONNECTOR
#error "define MDP_FUZZ_CONNECTOR"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    long n, valid;
};

static int on_verdict(void *ud, const struct mdp_verdict *v)
{
    struct seen *s = ud;
    s->n++;
    s->valid += v->kind == MDP_VERDICT_VALID;
    return 0;
}

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
    struct mdp_ingest_counts v;
    struct seen s = {0, 0};
    int rv = mdp_ingest_verdicts(NULL, k->sample_key, (const char *)data, size, NULL, NULL,
                                 on_verdict, &s, &v);
    if (rc == 0 && rv == 0 &&
        (v.in != c.in || v.out != c.out || v.quarantined != c.quarantined ||
         v.duplicates != c.duplicates || v.non_v7_ids != c.non_v7_ids ||
         memcmp(v.extra, c.extra, sizeof c.extra) != 0 ||
         (c.in && v.newest_event_ms != c.newest_event_ms) || s.n != v.in || s.valid != v.out))
        __builtin_trap();
    return 0;
}
