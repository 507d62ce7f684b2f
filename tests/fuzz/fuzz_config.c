/* Fuzz target: the strict YAML configuration loader. Any input must give 0 or MDP_ERR_CONFIG with
 * a message, never a crash or a leak. */
#include "mdp/config.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mdp_config cfg;
    struct mdp_diag d = {0};
    int rc = mdp_config_load_buffer("fuzz.yaml", (const char *)data, size, &cfg, &d);
    if (rc == 0)
        mdp_config_cleanup(&cfg);
    else if (d.msg[0] == '\0')
        __builtin_trap(); /* every failure says why */
    return 0;
}
