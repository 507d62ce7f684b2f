/* Fuzz target: the data inventory's strict YAML loader (config/inventory.yaml) and the ISO 8601
 * durations of its retention rules. Any input must give 0 or MDP_ERR_CONFIG with a message, never
 * a crash or a leak; a loaded inventory must render its record of processing activities. */
#include "mdp/inventory.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mdp_inventory *inv = NULL;
    struct mdp_diag d = {0};
    int rc = mdp_inventory_load_buffer("fuzz.yaml", (const char *)data, size, &inv, &d);
    if (rc == 0) {
        FILE *f = fopen("/dev/null", "w");
        if (f) {
            if (mdp_inventory_ropa(inv, f, 1, &d) || mdp_inventory_ropa(inv, f, 0, &d))
                __builtin_trap();
            fclose(f);
        }
        mdp_inventory_free(inv);
    } else if (rc != MDP_ERR_CONFIG && rc != MDP_ERR_NOMEM) {
        __builtin_trap();
    } else if (d.msg[0] == '\0') {
        __builtin_trap(); /* every failure says why */
    }
    /* the first line as a duration */
    char dur[64];
    size_t n = 0;
    while (n < size && n < sizeof dur - 1 && data[n] != '\n')
        n++;
    memcpy(dur, data, n);
    dur[n] = '\0';
    struct mdp_duration du;
    if (mdp_duration_parse(dur, &du) == 0) {
        int64_t t = mdp_duration_before(1790000000000LL, &du);
        (void)mdp_duration_after(t, &du);
    }
    return 0;
}
