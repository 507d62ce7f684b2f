/* POST /v1/events (server.h's MDP__ROUTES): the app's event collector. Each event gets the events
 * connector's own check; the valid ones are group-committed to raw/events/app_events/ and the
 * answer waits until they are durable; the rejected ones are quarantined and listed by index. */
#include "mdp/log.h"
#include "mdp/suppress.h"
#include "mdp/time.h"
#include "mdp/uuid.h"
#include "server.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* what the answer tells once committed; the rejected ones' JSON array is in r->aux */
struct events_state {
    int64_t accepted, rejected, suppressed;
};

static void events_committed(struct mdp__req *r)
{
    struct events_state *st = r->ud;
    mdp_buf_reset(&r->resp);
    if (r->commit_rc) {
        r->s->metrics.events_accepted -= st->accepted; /* nothing of it was made durable */
        r->status = mdp__error(&r->resp, 503, "not_durable",
                               "the events could not be written; nothing was accepted, retry");
        return;
    }
    r->status = st->rejected ? 400 : 202;
    if (mdp_buf_error(&r->aux)) { /* the list of rejected events ran out of memory */
        r->status = mdp__error(&r->resp, 503, "out_of_memory",
                               "the server ran out of memory building the reply; the accepted "
                               "events were written");
        return;
    }
    mdp_buf_printf(&r->resp, "{\"accepted\":%lld,\"rejected\":%lld,", (long long)st->accepted,
                   (long long)st->rejected);
    if (st->suppressed) mdp_buf_printf(&r->resp, "\"suppressed\":%lld,", (long long)st->suppressed);
    mdp_buf_printf(&r->resp, "\"errors\":%s%s}", r->aux.data,
                   st->rejected ? ",\"error\":{\"code\":\"invalid_events\",\"message\":\"some "
                                  "events were rejected and quarantined; the others are accepted\"}"
                                : "");
}

/* the quarantined events of q as [{index, reason, detail}] into out; returns how many */
static int64_t list_rejected(const struct mdp_quarantine *q, struct mdp_buf *out)
{
    int64_t n = 0;
    mdp_buf_puts(out, "[");
    for (const char *e = q->lines.data; e && *e;) {
        const char *nl = strchr(e, '\n');
        json_object *o = json_tokener_parse(e), *v;
        const char *loc =
            o && json_object_object_get_ex(o, "location", &v) ? json_object_get_string(v) : "";
        const char *colon = strrchr(loc, ':');
        json_object *x = json_object_new_object();
        json_object_object_add(
            x, "index", json_object_new_int64(colon ? strtoll(colon + 1, NULL, 10) - 1 : -1));
        json_object_object_add(
            x, "reason",
            json_object_new_string(o && json_object_object_get_ex(o, "reason", &v)
                                       ? json_object_get_string(v)
                                       : "invalid_event"));
        json_object_object_add(
            x, "detail",
            json_object_new_string(o && json_object_object_get_ex(o, "detail", &v) &&
                                           json_object_get_string(v)
                                       ? json_object_get_string(v)
                                       : ""));
        mdp_buf_printf(out, "%s%s", n ? "," : "",
                       json_object_to_json_string_ext(x, JSON_C_TO_STRING_PLAIN));
        json_object_put(x);
        json_object_put(o);
        n++;
        e = nl ? nl + 1 : NULL;
    }
    mdp_buf_puts(out, "]");
    return n;
}

enum MHD_Result mdp__route_events(struct mdp__req *r)
{
    struct mdp_server *s = r->s;
    const char *ct = mdp__header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct) ct = "";
    int ndjson = strncasecmp(ct, "application/x-ndjson", 20) == 0;
    if (!ndjson && strncasecmp(ct, "application/json", 16) != 0)
        return mdp__fail(r, 415, "unsupported_media_type",
                         "send application/json (an event or an array) or application/x-ndjson");
    /* a gzip'd body (Content-Encoding: gzip, as trackers send batches) is taken inflated, up to
     * serve.max_body_bytes inflated: a small body must not inflate into gigabytes */
    const char *ce = mdp__header(r, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (ce && *ce && strcasecmp(ce, "identity") != 0) {
        if (strcasecmp(ce, "gzip") != 0)
            return mdp__fail(r, 415, "unsupported_content_encoding",
                             "send the body as it is or gzip'd (Content-Encoding: gzip)");
        struct mdp_buf z;
        mdp_buf_init(&z);
        int zr = mdp_buf_gunzip_max(&z, r->body.data ? r->body.data : "", r->body.len,
                                    (size_t)s->cfg->serve_max_body);
        if (zr) mdp_buf_cleanup(&z);
        if (zr == MDP_ERR_RANGE)
            return mdp__fail(r, 413, "body_too_large",
                             "the inflated body is larger than serve.max_body_bytes");
        if (zr == MDP_ERR_NOMEM)
            return mdp__fail(r, 503, "out_of_memory", "the server is short of memory; retry");
        if (zr) return mdp__fail(r, 400, "invalid_gzip", "the body is not a whole gzip stream");
        mdp_buf_cleanup(&r->body);
        r->body = z; /* the request's from now on */
    }
    const char *p = r->body.data ? r->body.data : "";
    size_t n = r->body.len;
    if (!mdp_utf8_valid(p, n)) return mdp__fail(r, 400, "invalid_utf8", "the body is not UTF-8");
    struct events_state *st = mdp__arena_alloc(&r->arena, sizeof *st);
    if (!st) return mdp__fail(r, 503, "out_of_memory", "the server is short of memory; retry");
    r->ud = st;
    /* the events, one JSON text each */
    struct mdp_buf lines, ok;
    mdp_buf_init(&lines);
    mdp_buf_init(&ok);
    const char *why;
    if (mdp__events_split(p, n, ndjson, &lines, &why)) {
        mdp_buf_cleanup(&lines);
        return mdp__fail(r, 400, "invalid_json", why);
    }
    int64_t day = mdp_days_from_ms(mdp_time_now_ms());
    struct mdp_quarantine q;
    mdp_quarantine_init(&q, "events", "app_events", day);
    size_t nlines = 0;
    for (size_t i = 0; i < lines.len; i++)
        nlines += lines.data[i] == '\n';
    unsigned char *rejected = mdp__arena_alloc(&r->arena, nlines ? nlines : 1);
    long bad = rejected ? mdp__events_check(lines.data, lines.len, &q, rejected, nlines) : -1;
    if (bad < 0) {
        mdp_quarantine_cleanup(&q);
        mdp_buf_cleanup(&lines);
        return mdp__fail(r, 503, "out_of_memory", "the server is short of memory; retry");
    }
    /* a rejected event of an erased person is not quarantined either (it would name them) */
    if (q.count && mdp_suppress_live_count(s->suppress)) {
        struct mdp_buf kept;
        mdp_buf_init(&kept);
        for (const char *e = q.lines.data; e && *e;) {
            const char *nl = strchr(e, '\n');
            size_t len = nl ? (size_t)(nl - e) + 1 : strlen(e);
            if (mdp_suppress_live_match(s->suppress, e, len)) {
                st->suppressed++;
                q.count--;
            } else {
                mdp_buf_append(&kept, e, len);
            }
            e += len;
        }
        mdp_buf_cleanup(&q.lines);
        q.lines = kept;
    }
    /* the rejected ones, by index, with the connector's reason and detail */
    st->rejected = list_rejected(&q, &r->aux);
    size_t index = 0;
    for (char *line = lines.data, *end; line && *line; line = end ? end + 1 : NULL, index++) {
        end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        if (rejected[index]) continue;
        if (mdp_suppress_live_match(s->suppress, line, len)) {
            st->suppressed++; /* an erased person's event: acknowledged, never written */
            continue;
        }
        mdp_buf_append(&ok, line, len);
        st->accepted++;
    }
    mdp_buf_cleanup(&lines);
    s->metrics.events_suppressed += st->suppressed;
    if (q.count) {
        char batch[64];
        struct mdp_uuid u;
        mdp_uuid7_new(&u);
        mdp_uuid_format(&u, batch);
        struct mdp_diag d = {0};
        if (mdp_quarantine_flush(&q, s->lake, batch, &d))
            mdp_log(MDP_LOG_ERROR, "cannot write quarantine", LOG_STR("error", d.msg), MDP_LF_END);
        s->metrics.events_quarantined += st->rejected;
    }
    mdp_quarantine_cleanup(&q);
    if (!st->accepted && mdp_buf_error(&r->aux)) {
        mdp_buf_cleanup(&ok);
        return mdp__fail(r, 503, "out_of_memory", "the server is short of memory; retry");
    }
    if (!st->accepted && !st->rejected) { /* only erased people's events: nothing to write */
        mdp_buf_cleanup(&ok);
        r->status = 202;
        mdp_buf_reset(&r->resp);
        mdp_buf_printf(&r->resp,
                       "{\"accepted\":0,\"rejected\":0,\"suppressed\":%lld,\"errors\":[]}",
                       (long long)st->suppressed);
        return mdp__respond(r);
    }
    if (!st->accepted) {
        mdp_buf_cleanup(&ok);
        r->status = 400;
        mdp_buf_reset(&r->resp);
        mdp_buf_printf(&r->resp,
                       "{\"accepted\":0,\"rejected\":%lld,\"errors\":%s,\"error\":{\"code\":"
                       "\"invalid_events\",\"message\":\"every event was rejected\"}}",
                       (long long)st->rejected, r->aux.data);
        return mdp__respond(r);
    }
    s->metrics.events_accepted += st->accepted;
    /* answered only once durable: suspend until the group commit has fsync'd */
    enum MHD_Result ret =
        mdp__commit_and_wait(r, "events", "app_events", day, &ok, events_committed);
    mdp_buf_cleanup(&ok);
    return ret;
}
