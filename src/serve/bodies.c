/* The request bodies of the service: strict JSON, the collector's event batches (one event, an
 * array, or NDJSON) and the check of one event (serve_internal.h). Fuzzed by fuzz_serve. */
#include "mdp/ingest.h"
#include "serve_internal.h"

#include "mdp/strset.h"

#include <stdio.h>
#include <stdlib.h>
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
        /* one event per line, without blank lines or CRs, so line i + 1 is event i */
        for (size_t i = 0; i < n;) {
            const char *nl = memchr(p + i, '\n', n - i);
            size_t end = nl ? (size_t)(nl - p) : n, len = end - i;
            if (len && p[i + len - 1] == '\r') len--;
            if (len) {
                mdp_buf_append(lines, p + i, len);
                mdp_buf_putc(lines, '\n');
            }
            i = end + 1;
        }
    }
    if (!lines->len) return *why = "the body holds no event", -1;
    return 0;
}

extern const struct mdp_connector MDP__CONNECTOR_EVENTS;

long mdp__events_check(const char *lines, size_t len, struct mdp_quarantine *q,
                       unsigned char *rejected, size_t n)
{
    struct mdp_ingest_counts c = {0};
    c.newest_event_ms = -1;
    struct mdp_strset *seen = mdp_strset_new();
    if (!seen) return -1;
    struct mdp_check ck = {0};
    ck.key = MDP__EVENTS_LOCATION;
    ck.c = &c;
    ck.q = q;
    ck.seen = seen;
    size_t before = q->lines.len;
    int rc = MDP__CONNECTOR_EVENTS.check(&ck, lines, len);
    mdp_strset_free(seen);
    if (rc) return -1;
    long bad = 0;
    /* the quarantine entries name their line: <key>:<line> */
    for (const char *e = q->lines.data ? q->lines.data + before : NULL; e && *e;) {
        const char *nl = strchr(e, '\n');
        const char *loc = strstr(e, "\"location\":\"" MDP__EVENTS_LOCATION ":");
        if (loc && (!nl || loc < nl)) {
            size_t line =
                strtoul(loc + strlen("\"location\":\"" MDP__EVENTS_LOCATION ":"), NULL, 10);
            if (line >= 1 && line <= n && !rejected[line - 1]) {
                rejected[line - 1] = 1;
                bad++;
            }
        }
        e = nl ? nl + 1 : NULL;
    }
    return bad;
}
