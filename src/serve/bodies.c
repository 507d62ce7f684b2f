/* The request bodies of the service: strict JSON, the collector's event batches (one event, an
 * array, or NDJSON) and the check of one event (serve_internal.h). Fuzzed by fuzz_serve. */
#include "mdp/ingest.h"
#include "serve_internal.h"

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

struct rejections {
    unsigned char *rejected;
    size_t n;
    long bad;
};

/* Marks the line of every quarantined event; line i + 1 is event i of the batch. */
static int on_verdict(void *ud, const struct mdp_verdict *v)
{
    struct rejections *r = ud;
    if (v->kind == MDP_VERDICT_QUARANTINED && v->line >= 1 && (size_t)v->line <= r->n &&
        !r->rejected[v->line - 1]) {
        r->rejected[v->line - 1] = 1;
        r->bad++;
    }
    return 0;
}

long mdp__events_check(const char *lines, size_t len, struct mdp_quarantine *q,
                       unsigned char *rejected, size_t n)
{
    struct rejections r = {rejected, n, 0};
    int rc = mdp_ingest_verdicts("events", MDP__EVENTS_LOCATION, lines, len, NULL, q, on_verdict,
                                 &r, NULL);
    return rc ? -1 : r.bad;
}
