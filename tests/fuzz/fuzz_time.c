/* Fuzz target: ISO-8601, epoch and date parsers. A parsed instant must format and parse back to
 * itself. */
#include "mdp/time.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t ms, back, days;
    if (mdp_time_parse_iso((const char *)data, size, &ms) == 0) {
        char buf[32];
        if (mdp_time_format_ms(ms, buf, sizeof buf) != 0) __builtin_trap();
        if (mdp_time_parse_iso(buf, (size_t)-1, &back) != 0 || back != ms) __builtin_trap();
        (void)mdp_date_key(ms);
    }
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    (void)mdp_time_parse_epoch_s(s, &ms);
    (void)mdp_time_parse_epoch_ms(s, &ms);
    if (mdp_date_parse(s, &days) == 0) {
        char buf[11];
        if (mdp_date_format(days, buf, sizeof buf) != 0) __builtin_trap();
    }
    free(s);
    return 0;
}
