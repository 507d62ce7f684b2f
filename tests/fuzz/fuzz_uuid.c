/* Fuzz target: UUID parsing; a parsed UUID must format to the lowercase form of its input. */
#include "mdp/uuid.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    struct mdp_uuid u;
    if (mdp_uuid_parse(s, &u) == 0 && strlen(s) == 36) {
        char out[37];
        mdp_uuid_format(&u, out);
        for (int i = 0; i < 36; i++)
            if (tolower((unsigned char)s[i]) != out[i]) __builtin_trap();
    }
    free(s);
    return 0;
}
