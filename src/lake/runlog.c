/* The run log (include/mdp/lake.h): one JSON object per job run under _meta/runs/, written when the
 * run ends, so `mdp runs`, the demo summary, freshness checks and DuckDB (read_json) can all read
 * what ran, when, with which counts and outcome. */
#include "mdp/lake.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

void mdp_run_begin(struct mdp_run *r, const char *job)
{
    memset(r, 0, sizeof *r);
    struct mdp_uuid u;
    mdp_uuid7_new(&u);
    mdp_uuid_format(&u, r->run_id);
    snprintf(r->job, sizeof r->job, "%s", job);
    snprintf(r->status, sizeof r->status, "running");
    r->start_ms = mdp_time_now_ms();
    r->newest_event_ms = -1;
}

/* The requests already written into a record: a record claims what came after (relaxed atomics
 * are enough; two records ending at once may each claim a little of the other's, never twice). */
static int64_t claimed_put, claimed_get, claimed_list;

static int64_t claim(int64_t *claimed, int64_t total)
{
    int64_t before = __atomic_exchange_n(claimed, total, __ATOMIC_RELAXED);
    return total > before ? total - before : 0;
}

int mdp_run_end(struct mdp_lake *lake, struct mdp_run *r, const char *status, struct mdp_diag *d)
{
    r->end_ms = mdp_time_now_ms();
    struct mdp_store_requests t;
    mdp_store_requests_total(&t);
    r->puts = claim(&claimed_put, t.put + 1); /* + 1: this record's own put */
    r->gets = claim(&claimed_get, t.get);
    r->lists = claim(&claimed_list, t.list);
    snprintf(r->status, sizeof r->status, "%s", status);
    char start[32], end[32], date[11];
    mdp_time_format_ms(r->start_ms, start, sizeof start);
    mdp_time_format_ms(r->end_ms, end, sizeof end);
    mdp_date_format(mdp_days_from_ms(r->start_ms), date, sizeof date);
    struct mdp_buf b, key;
    mdp_buf_init(&b);
    mdp_buf_init(&key);
    mdp_buf_printf(&b, "{\"run_id\":\"%s\",\"job\":", r->run_id);
    mdp_buf_json_str(&b, r->job);
    mdp_buf_printf(&b,
                   ",\"status\":\"%s\",\"start\":\"%s\",\"end\":\"%s\",\"duration_ms\":%lld,"
                   "\"in\":%lld,\"out\":%lld,\"quarantined\":%lld,\"duplicates\":%lld,"
                   "\"suppressed\":%lld,\"bytes\":%lld,\"message\":",
                   r->status, start, end, (long long)(r->end_ms - r->start_ms), (long long)r->in,
                   (long long)r->out, (long long)r->quarantined, (long long)r->duplicates,
                   (long long)r->suppressed, (long long)r->bytes);
    mdp_buf_json_str(&b, r->message);
    mdp_buf_printf(
        &b, ",\"requests\":{\"put\":%lld,\"get\":%lld,\"list\":%lld},\"scanned_bytes\":%lld",
        (long long)r->puts, (long long)r->gets, (long long)r->lists, (long long)r->scanned_bytes);
    char newest[32];
    if (r->newest_event_ms >= 0 &&
        mdp_time_format_ms(r->newest_event_ms, newest, sizeof newest) == 0)
        mdp_buf_printf(&b, ",\"newest_event\":\"%s\"", newest);
    else
        mdp_buf_puts(&b, ",\"newest_event\":null");
    int rc = mdp_buf_puts(&b, "}\n"); /* or the first error of the appends above (sticky) */
    if (!rc) rc = mdp_buf_printf(&key, "_meta/runs/dt=%s/%s.json", date, r->run_id);
    if (rc) mdp_diag_set(d, rc, "out of memory building the run record of %s", r->job);
    if (!rc) rc = mdp_store_put(lake->store, key.data, b.data, b.len, 0, d);
    mdp_buf_cleanup(&b);
    mdp_buf_cleanup(&key);
    return rc;
}

struct each {
    struct mdp_lake *lake;
    int (*cb)(const struct mdp_run *, void *);
    void *ud;
    struct mdp_diag *d;
};

static void copy_str(json_object *o, const char *k, char *dst, size_t n)
{
    json_object *v;
    if (json_object_object_get_ex(o, k, &v)) snprintf(dst, n, "%s", json_object_get_string(v));
}

static int64_t get_i64(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static int each_cb(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct each *e = ud;
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_store_get(e->lake->store, key, &b, e->d);
    if (rc) {
        mdp_buf_cleanup(&b);
        return rc;
    }
    json_object *o = json_tokener_parse(b.data);
    mdp_buf_cleanup(&b);
    if (!o) return 0; /* not a run record: skip rather than fail the listing */
    struct mdp_run r;
    memset(&r, 0, sizeof r);
    copy_str(o, "run_id", r.run_id, sizeof r.run_id);
    copy_str(o, "job", r.job, sizeof r.job);
    copy_str(o, "status", r.status, sizeof r.status);
    copy_str(o, "message", r.message, sizeof r.message);
    json_object *v;
    if (json_object_object_get_ex(o, "start", &v))
        mdp_time_parse_iso(json_object_get_string(v), (size_t)-1, &r.start_ms);
    if (json_object_object_get_ex(o, "end", &v))
        mdp_time_parse_iso(json_object_get_string(v), (size_t)-1, &r.end_ms);
    r.in = get_i64(o, "in");
    r.out = get_i64(o, "out");
    r.quarantined = get_i64(o, "quarantined");
    r.duplicates = get_i64(o, "duplicates");
    r.suppressed = get_i64(o, "suppressed");
    r.bytes = get_i64(o, "bytes");
    r.scanned_bytes = get_i64(o, "scanned_bytes");
    if (json_object_object_get_ex(o, "requests", &v) && json_object_is_type(v, json_type_object)) {
        r.puts = get_i64(v, "put");
        r.gets = get_i64(v, "get");
        r.lists = get_i64(v, "list");
    }
    r.newest_event_ms = -1;
    if (json_object_object_get_ex(o, "newest_event", &v) &&
        json_object_is_type(v, json_type_string))
        mdp_time_parse_iso(json_object_get_string(v), (size_t)-1, &r.newest_event_ms);
    json_object_put(o);
    return e->cb(&r, e->ud);
}

int mdp_runlog_each(struct mdp_lake *lake, int (*cb)(const struct mdp_run *r, void *ud), void *ud,
                    struct mdp_diag *d)
{
    /* keys sort by day, then by run id (UUIDv7: time order) */
    struct each e = {lake, cb, ud, d};
    return mdp_store_list(lake->store, "_meta/runs/", each_cb, &e, d);
}
