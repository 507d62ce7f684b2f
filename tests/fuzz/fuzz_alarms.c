/* Fuzz target: the strict alarms file (config/alarms.yaml, include/mdp/quality.h). Any input must
 * give 0 or an error with a message, never a crash or a leak; a file that parses has only valid
 * alarms (M of N within range, a known metric). */
#include "mdp/quality.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mdp_alarm_set s;
    struct mdp_diag d = {0};
    int rc = mdp_alarms_parse("fuzz.yaml", (const char *)data, size, &s, &d);
    if (rc == 0) {
        for (size_t i = 0; i < s.n; i++) {
            const struct mdp_alarm *a = &s.v[i];
            if (a->datapoints_to_alarm < 1 || a->datapoints_to_alarm > a->evaluation_periods ||
                !mdp_metric_known(a->metric) || a->period_s <= 0)
                __builtin_trap();
        }
    } else if (d.msg[0] == '\0') {
        __builtin_trap(); /* every failure says why */
    }
    mdp_alarm_set_cleanup(&s);
    return 0;
}
