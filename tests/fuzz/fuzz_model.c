/* Fuzz target: the model loader (a models/ file's header of `-- key: value` lines, and a template
 * model's expansion from models/_templates/). Any input must load or fail with a message naming
 * the file, never crash or leak. The input is read as stg_fuzz.sql of a folder without templates
 * of its own, so a template model uses the built-in ones. */
#include "mdp/err.h"
#include "mdp/model.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mdp_diag d = {0};
    int rc = mdp__model_parse("/nonexistent/models", "stg_fuzz.sql", (const char *)data, size, &d);
    if (rc && !strstr(d.msg, "stg_fuzz.sql")) __builtin_trap(); /* every failure names the file */
    return 0;
}
