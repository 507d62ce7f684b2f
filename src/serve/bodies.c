/* The request bodies of the service: strict JSON, the collector's event batches (one event, an
 * array, or NDJSON) and the check of one event (serve_internal.h). Fuzzed by fuzz_serve. */
#include "mdp/ingest.h"
#include "serve_internal.h"

#include <stdio.h>
#include <string.h>

/* Parses a JSON body strictly (one value, valid UTF-8). NULL with why on failure. */
json_object *mdp__parse_json(const char *p, size_t n, const char **why)
{
    if (!mdp_utf8_valid(p, n)) {
        *why = "the body is not valid UTF-8";
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) return *why = "out of memory", NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, p, (int)n);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    while (o && used < n && strchr(" \t\r\n", p[used]))
        used++;
    if (!o || e != json_tokener_success || used != n) {
        json_object_put(o);
        *why = o || e == json_tokener_success ? "trailing data after the JSON value"
                                              : json_tokener_error_desc(e);
        return NULL;
    }
    return o;
}

int mdp__events_split(const char *p, size_t n, int ndjson, struct mdp_buf *lines, const char **why)
{
    size_t k = 0;
    while (k < n && strchr(" \t\r\n", p[k]))
        k++;
    if (!ndjson || (k < n && p[k] == '[')) {
        json_object *o = mdp__parse_json(p, n, why);
        if (!o) return -1;
        if (json_object_is_type(o, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(o); i++) {
                mdp_buf_puts(lines, json_object_to_json_string_ext(json_object_array_get_idx(o, i),
                                                                   JSON_C_TO_STRING_PLAIN));
                mdp_buf_putc(lines, '\n');
            }
        } else {
            mdp_buf_puts(lines, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
            mdp_buf_putc(lines, '\n');
        }
        json_object_put(o);
    } else {
        if (!mdp_utf8_valid(p, n)) return *why = "the body is not valid UTF-8", -1;
        mdp_buf_append(lines, p, n);
        if (n && p[n - 1] != '\n') mdp_buf_putc(lines, '\n');
    }
    if (!lines->len) return *why = "the body holds no event", -1;
    return 0;
}

/* One event: the events connector's own check, so the collector and file ingest agree. */
int mdp__event_check(const char *line, size_t len, char *reason, size_t rn, char *detail, size_t dn)
{
    struct mdp_ingest_counts c = {0};
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "events", "app_events", 0);
    mdp_ingest_check("events/dt=1970-01-01/http.ndjson", line, len, &c, &q);
    int bad = c.quarantined > 0;
    if (bad) {
        json_object *o = json_tokener_parse(q.lines.data ? q.lines.data : "{}"), *v;
        snprintf(reason, rn, "%s",
                 o && json_object_object_get_ex(o, "reason", &v) ? json_object_get_string(v)
                                                                 : "invalid_event");
        snprintf(detail, dn, "%s",
                 o && json_object_object_get_ex(o, "detail", &v) && json_object_get_string(v)
                     ? json_object_get_string(v)
                     : "");
        json_object_put(o);
    }
    mdp_quarantine_cleanup(&q);
    return bad;
}
