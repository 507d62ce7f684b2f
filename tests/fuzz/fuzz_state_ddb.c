/* Fuzz target: the DynamoDB backend's item decoder (an item as GetItem, Query and Scan return it).
 * A decoded item has its table, keys and body; a counter item's body is a JSON object. */
#include "mdp/state.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *table, *pk, *sk, *body;
    int64_t exp;
    struct mdp_diag d = {0};
    int rc = mdp_state_dynamodb_decode((const char *)data, size, &table, &pk, &sk, &body, &exp, &d);
    if (rc == 0) {
        if (!table || !*table || strchr(table, '#') || !pk || !sk || !body) __builtin_trap();
        free(table);
        free(pk);
        free(sk);
        free(body);
    } else if (table || pk || sk || body || !d.msg[0]) {
        __builtin_trap();
    }
    return 0;
}
