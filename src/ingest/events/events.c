/* The events connector: the app's own events as NDJSON, one spec 2 Event-Payload object per line
 * plus event_id (a UUIDv7 the producer makes, so a retried send is recognisable). Each event is
 * validated (event_id a UUIDv7, user_id a UUIDv7, account_id/location_id UUIDv7s when present
 * (ingest.non_v7_ids decides whether another UUID version is quarantined or counted),
 * timestamp ISO-8601, event_type in sources.events.types, external_ids a map of strings,
 * properties an object) and deduplicated on event_id within the run. A line is read with yajl's
 * stream parser when nobody asks for the parsed record, and with json-c's DOM otherwise and for
 * every line the stream reader does not pass (docs/ingest.md, "The events check reads with
 * yajl"). */
#include "../ingest_internal.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <string.h>
#include <yajl/yajl_parse.h>

static const char *const DEFAULT_TYPES[] = {
    "signed_up",    "step_started", "step_completed", "step_skipped",    "step_abandoned",
    "onb_complete", "vc_started",   "vc_completed",   "login_succeeded", "login_failed",
    "logout",       "page_view",    "email_click",    "unsubscribe",     NULL};

static int known_type(const struct mdp_check *ck, const char *t)
{
    if (ck->cfg) return mdp_strlist_has(&ck->cfg->event_types, t);
    for (int i = 0; DEFAULT_TYPES[i]; i++)
        if (strcmp(DEFAULT_TYPES[i], t) == 0) return 1;
    return 0;
}

/* The members validate() reads, as either reader found them: json-c's DOM (find_members) or
 * the stream reader (sax_members). A repeated key's last value wins, as json-c keeps it. */
enum {
    M_EVENT_ID,
    M_USER_ID,
    M_ACCOUNT_ID,
    M_LOCATION_ID,
    M_TIMESTAMP,
    M_EVENT_TYPE, /* the members up to here are read as strings */
    M_EXT,
    M_PROPS,
    M_COUNT
};

enum member_kind { K_ABSENT, K_NULL, K_STRING, K_OBJECT, K_OTHER };

struct member {
    enum member_kind kind;
    const char *s; /* K_STRING: the text, NUL-terminated (borrowed), and its length */
    size_t len;
};

struct members {
    struct member v[M_COUNT];
    int ext_strings; /* external_ids is an object whose values are all strings */
};

/* The member a key names, or -1. */
static int member_of(const char *k, size_t n)
{
#define IS(lit) (n == sizeof lit - 1 && memcmp(k, lit, sizeof lit - 1) == 0)
    switch (n ? k[0] : 0) {
    case 'e':
        return IS("event_id")       ? M_EVENT_ID
               : IS("event_type")   ? M_EVENT_TYPE
               : IS("external_ids") ? M_EXT
                                    : -1;
    case 'u':
        return IS("user_id") ? M_USER_ID : -1;
    case 'a':
        return IS("account_id") ? M_ACCOUNT_ID : -1;
    case 'l':
        return IS("location_id") ? M_LOCATION_ID : -1;
    case 't':
        return IS("timestamp") ? M_TIMESTAMP : -1;
    case 'p':
        return IS("properties") ? M_PROPS : -1;
    default:
        return -1;
    }
#undef IS
}

/* The members of json-c's parsed event (json-c keeps one entry per key: the last value). */
static void find_members(json_object *e, struct members *m)
{
    json_object *ext = NULL;
    memset(m, 0, sizeof *m);
    json_object_object_foreach(e, k, v)
    {
        int i = member_of(k, strlen(k));
        if (i < 0) continue;
        if (i == M_EXT) ext = v;
        struct member *x = &m->v[i];
        switch (json_object_get_type(v)) {
        case json_type_null:
            x->kind = K_NULL;
            break;
        case json_type_string:
            x->kind = K_STRING;
            x->s = json_object_get_string(v);
            x->len = (size_t)json_object_get_string_len(v);
            break;
        case json_type_object:
            x->kind = K_OBJECT;
            break;
        default:
            x->kind = K_OTHER;
        }
    }
    if (m->v[M_EXT].kind == K_OBJECT) {
        m->ext_strings = 1;
        json_object_object_foreach(ext, key, val)
        {
            (void)key;
            if (!json_object_is_type(val, json_type_string)) m->ext_strings = 0;
        }
    }
}

/* ---- the stream reader: yajl's callbacks, no DOM ----
 * Valid events take this path when nobody asks for the parsed record (the ingest stage). It
 * decides "valid" only for what json-c would read the same way; everything else (a fault, JSON
 * that json-c reads differently or more leniently) is given to json-c's path, which decides as
 * before: \u escapes, \f and \v (mdp__sax_safe_prefix) and numbers with an exponent or more
 * than 18 characters are left to it, as are nesting deeper than 32 (json-c's limit here is 64),
 * member strings of 64 bytes or more and lines over json-c's INT32_MAX bytes. fuzz_events
 * compares the two paths on every input. */
#define SAX_DEPTH 32
#define SAX_STR   64

struct sax {
    struct members m;
    int depth;  /* 0 outside the event, 1 among its members, ... */
    int member; /* the member whose value comes next (at depth 1), or -1 */
    int in_ext; /* inside external_ids' object */
    int values; /* top-level values begun */
    yajl_handle h;
    size_t end; /* the bytes up to the event's closing brace */
    char text[M_EXT][SAX_STR];
};

/* A scalar value: kind for a member, or refused where it cannot be (returns 0: yajl stops). */
static int sax_scalar(struct sax *x, enum member_kind kind)
{
    if (x->depth == 0 || (x->in_ext && x->depth == 2))
        return 0; /* not an object; a non-string id */
    if (x->depth == 1 && x->member >= 0) {
        x->m.v[x->member].kind = kind;
        x->member = -1;
    }
    return 1;
}

static int sax_null(void *ud)
{
    return sax_scalar(ud, K_NULL);
}

static int sax_bool(void *ud, int b)
{
    (void)b;
    return sax_scalar(ud, K_OTHER);
}

static int sax_number(void *ud, const char *s, size_t n)
{
    if (n > 18 || memchr(s, 'e', n) || memchr(s, 'E', n)) return 0; /* json-c's to judge */
    return sax_scalar(ud, K_OTHER);
}

static int sax_string(void *ud, const unsigned char *s, size_t n)
{
    struct sax *x = ud;
    if (x->depth == 0) return 0;
    if (x->depth == 1 && x->member >= 0) {
        struct member *v = &x->m.v[x->member];
        if (x->member < M_EXT) {
            if (n >= SAX_STR) return 0;
            memcpy(x->text[x->member], s, n);
            x->text[x->member][n] = '\0';
            v->s = x->text[x->member];
            v->len = n;
        }
        v->kind = K_STRING;
        x->member = -1;
    }
    return 1;
}

static int sax_key(void *ud, const unsigned char *k, size_t n)
{
    struct sax *x = ud;
    if (x->depth == 1) x->member = member_of((const char *)k, n);
    return 1;
}

static int sax_open(struct sax *x, enum member_kind kind)
{
    if (x->depth == 1 && x->member >= 0) {
        x->m.v[x->member].kind = kind;
        if (x->member == M_EXT) {
            x->in_ext = kind == K_OBJECT;
            x->m.ext_strings = 1; /* a value that is not a string stops the parse */
        }
        x->member = -1;
    } else if (x->in_ext && x->depth == 2) {
        return 0;
    }
    return ++x->depth <= SAX_DEPTH;
}

static int sax_start_map(void *ud)
{
    struct sax *x = ud;
    if (x->depth == 0) {
        x->member = -1;
        return x->values++ == 0 && ++x->depth;
    }
    return sax_open(x, K_OBJECT);
}

static int sax_start_array(void *ud)
{
    struct sax *x = ud;
    return x->depth > 0 && sax_open(x, K_OTHER);
}

static int sax_end(void *ud)
{
    struct sax *x = ud;
    if (--x->depth == 1) x->in_ext = 0;
    if (x->depth == 0) x->end = yajl_get_bytes_consumed(x->h); /* where yajl's lexer stands */
    return 1;
}

static const yajl_callbacks SAX = {
    .yajl_null = sax_null,
    .yajl_boolean = sax_bool,
    .yajl_number = sax_number,
    .yajl_string = sax_string,
    .yajl_start_map = sax_start_map,
    .yajl_map_key = sax_key,
    .yajl_end_map = sax_end,
    .yajl_start_array = sax_start_array,
    .yajl_end_array = sax_end,
};

/* Reads the line's members with yajl into x. Returns 0 when the line is one JSON object that
 * json-c reads the same way, else -1 (json-c's path decides). */
static int sax_members(struct sax *x, const char *p, size_t n)
{
    /* json-c's parse takes at most INT32_MAX bytes: a longer line is its to refuse */
    if (n > (size_t)INT32_MAX || mdp__sax_safe_prefix(p, n) < n) return -1;
    memset(&x->m, 0, sizeof x->m);
    x->depth = x->values = x->in_ext = 0;
    x->end = 0;
    x->member = -1;
    /* its own callbacks, not mdp__sax's: the dispatch through it cost this check 0.05-0.1 of a
     * bare parse (bench_ingest events), more than the other two readers gain from sharing it */
    if (!(x->h = yajl_alloc(&SAX, NULL, x))) return -1;
    return mdp__sax_parse(x->h, p, n, &x->end) && x->values == 1 && x->depth == 0 ? 0 : -1;
}

/* Returns the reason an event is invalid, or NULL; *detail names the field (in buf when it says
 * more). *non_v7 counts ids taken under ingest.non_v7_ids: count. *id: the event_id; *u its 16
 * bytes, already parsed from the text raw when not NULL (prefetch_event_id), which is taken when
 * the member's text is the same. The checks run in a fixed order, so an event with several faults
 * always gets the same reason. */
static const char *validate(const struct mdp_check *ck, const struct members *m,
                            const char **detail, char *buf, size_t bn, int64_t *ts, int *non_v7,
                            const char **id, const char *raw, struct mdp_uuid *u, int *canonical)
{
    const struct member *v = &m->v[M_EVENT_ID];
    const char *why;
    if (v->kind == K_ABSENT) return *detail = "event_id", "missing_event_id";
    /* the canonical text first: its 16 bytes are then the duplicate key as they are */
    if (v->kind != K_STRING || v->len != 36 ||
        (!(*canonical =
               (raw && memcmp(raw, v->s, 36) == 0) || mdp_uuid_parse_canonical(v->s, 36, u) == 0) &&
         mdp_uuid_parse_n(v->s, 36, u)) ||
        mdp_uuid_version(u) != 7)
        return *detail = "event_id must be a UUIDv7 string", "invalid_event_id";
    *id = v->s;
    v = &m->v[M_USER_ID];
    if (v->kind == K_ABSENT || v->kind == K_NULL) return *detail = "user_id", "missing_user_id";
    if (v->kind != K_STRING) return *detail = "user_id must be a UUID string", "invalid_user_id";
    if ((why = mdp__v7_id(ck, "user_id", v->s, v->len, non_v7, buf, bn))) { /* one parse */
        if (strcmp(why, "invalid_id") == 0)
            return *detail = "user_id must be a UUID string", "invalid_user_id";
        return *detail = buf, why;
    }
    static const char *opt_ids[] = {"account_id", "location_id"};
    for (int i = 0; i < 2; i++) {
        v = &m->v[M_ACCOUNT_ID + i];
        if (v->kind == K_ABSENT || v->kind == K_NULL) continue;
        if (v->kind != K_STRING) return *detail = opt_ids[i], "invalid_id";
        if ((why = mdp__v7_id(ck, opt_ids[i], v->s, v->len, non_v7, buf, bn)))
            return *detail = buf, why;
    }
    v = &m->v[M_TIMESTAMP];
    if (v->kind == K_ABSENT) return *detail = "timestamp", "missing_timestamp";
    if (v->kind != K_STRING || mdp_time_parse_iso(v->s, v->len, ts))
        return *detail = "timestamp must be ISO-8601 with a zone", "invalid_timestamp";
    v = &m->v[M_EVENT_TYPE];
    if (v->kind == K_ABSENT) return *detail = "event_type", "missing_event_type";
    if (v->kind != K_STRING) return *detail = "event_type must be a string", "invalid_event_type";
    if (!known_type(ck, v->s)) return *detail = "not in sources.events.types", "unknown_event_type";
    v = &m->v[M_EXT];
    if (v->kind != K_ABSENT && v->kind != K_NULL) {
        if (v->kind != K_OBJECT)
            return *detail = "external_ids must be an object", "invalid_external_ids";
        if (!m->ext_strings)
            return *detail = "every external id is a string (ids overflow doubles)",
                   "invalid_external_ids";
    }
    v = &m->v[M_PROPS];
    if (v->kind != K_ABSENT && v->kind != K_NULL && v->kind != K_OBJECT)
        return *detail = "properties must be an object", "invalid_properties";
    return NULL;
}

/* Quarantines the line; its location "key:line" is formatted here, for bad lines only. */
static int bad(struct mdp_check *ck, size_t line, const char *why, const char *detail,
               const char *p, size_t len)
{
    char loc[512];
    mdp__loc(loc, sizeof loc, ck->key, ":%zu", line);
    return mdp_check_bad(ck, why, loc, detail, p, len);
}

/* Starts the load of the duplicate slot of the line's event_id, read from the raw bytes before the
 * line is parsed, so that the parse hides the cache miss the probe after it would otherwise wait
 * for. Only a hint: a line where the member is not found as written here gets none, and the
 * parsed event decides everything. Returns the 36 characters it parsed into *u, or NULL. */
static const char *prefetch_event_id(const struct mdp_check *ck, const char *p, size_t n,
                                     struct mdp_uuid *u)
{
    static const char key[] = "\"event_id\":\"";
    const size_t kn = sizeof key - 1;
    const char *end = p + n;
    for (const char *at = p; (at = memchr(at, '"', (size_t)(end - at))); at++) {
        if ((size_t)(end - at) < kn + 36) return NULL;
        if (memcmp(at, key, kn) == 0) {
            if (mdp_uuid_parse_canonical(at + kn, 36, u)) return NULL;
            mdp__check_prefetch_uuid(ck, "event_id", u);
            return at + kn;
        }
    }
    return NULL;
}

/* Ends a line whose event is valid: counted, or a duplicate of an event_id seen before. */
static int take(struct mdp_check *ck, const char *id, const struct mdp_uuid *u, int canonical,
                int64_t ts, int non_v7, json_object *e)
{
    int dup =
        canonical ? mdp__check_dup_uuid(ck, "event_id", u) : mdp_check_dup(ck, "event_id", id);
    if (dup) return dup < 0 ? dup : 0;
    ck->c->non_v7_ids += non_v7;
    return mdp_check_ok_record(ck, ts, e);
}

static int check(struct mdp_check *ck, const char *p, size_t n)
{
    size_t pos = 0, start, len, line = 0;
    int rc = 0;
    json_tokener *tok = NULL; /* the thread's, taken when a line needs it; NULL: one per line */
    /* nobody asks for the parsed record: valid lines need no DOM */
    struct sax sax, *sx = ck->on_verdict ? NULL : &sax;
    while (!rc && mdp__next_line(p, n, &pos, &start, &len, &line)) {
        enum json_tokener_error err;
        struct mdp_uuid u;
        const char *raw = prefetch_event_id(ck, p + start, len, &u);
        const struct mdp_uuid hint = u;
        const char *detail = NULL, *id = NULL, *why;
        char buf[160];
        int64_t ts = -1;
        int non_v7 = 0, canonical = 0;
        ck->line = (long)line;
        if (sx && sax_members(sx, p + start, len) == 0 &&
            !validate(ck, &sx->m, &detail, buf, sizeof buf, &ts, &non_v7, &id, raw, &u,
                      &canonical)) {
            rc = take(ck, id, &u, canonical, ts, non_v7, NULL);
            continue;
        }
        /* json-c's path: the record for on_verdict, and every fault's reason */
        if (!tok) tok = mdp__json_tokener();
        json_object *e = mdp__json_exact_tok(tok, p + start, len, &err);
        if (!e || !json_object_is_type(e, json_type_object)) {
            rc = bad(ck, line, e ? "json_not_object" : mdp__json_reason(err),
                     e ? "a line holds one JSON object" : json_tokener_error_desc(err), p + start,
                     len);
            json_object_put(e);
            continue;
        }
        struct members m;
        find_members(e, &m);
        ts = -1;
        non_v7 = canonical = 0;
        id = NULL;
        if (raw) u = hint; /* the stream reader's validate may have parsed its own text into u */
        why = validate(ck, &m, &detail, buf, sizeof buf, &ts, &non_v7, &id, raw, &u, &canonical);
        rc = why ? bad(ck, line, why, detail, p + start, len)
                 : take(ck, id, &u, canonical, ts, non_v7, e);
        json_object_put(e);
    }
    mdp__json_tokener_put(tok);
    return rc;
}

/* Its configuration map: the sources.events.* keys (`mdp config keys` lists them). */
static const struct mdp_config_key CONFIG[] = {
    {"sources.events.types", MDP_CFG_STRLIST, MDP_CONFIG_OFF(event_types),
     "signed_up,step_started,step_completed,step_skipped,step_abandoned,onb_complete,vc_started,"
     "vc_completed,login_succeeded,login_failed,logout,page_view,email_click,unsubscribe",
     0, 0, NULL,
     "The app's event types; an event of another type is quarantined (unknown_event_type)."},
    {NULL, MDP_CFG_STR, 0, NULL, 0, 0, NULL, NULL}};

const struct mdp_connector MDP__CONNECTOR_EVENTS = {
    .name = "events",
    .source = "events",
    .summary = "the app's own events (spec 2 Event-Payload standard), NDJSON",
    .help =
        "Usage: mdp ingest events [--date D] [--dir LAKE]\n"
        "\n"
        "Takes the app's events from <landing>/events/dt=D/*.ndjson: one JSON object per line in\n"
        "spec 2's Event-Payload standard, plus event_id:\n"
        "  event_id      required, a UUIDv7 made by the producer when the event happens, so a\n"
        "                retried send is recognised and counted as a duplicate, not twice\n"
        "  user_id       required UUIDv7; account_id, location_id: UUIDv7s when present\n"
        "                (another UUID version: id_not_uuidv7, or counted with\n"
        "                ingest.non_v7_ids: count)\n"
        "  timestamp     required ISO-8601 with a zone (Z or +hh:mm)\n"
        "  event_type    required, one of sources.events.types\n"
        "  external_ids  map of strings (gbp_place_id, ga4_client_id, fb_page_id, ...)\n"
        "  properties    object\n"
        "Bad lines are quarantined with a reason (json_truncated, missing_user_id,\n"
        "unknown_event_type, invalid_timestamp, ...) and their line number.\n",
    .landing_prefix = "events/",
    .dataset = "app_events",
    .ext = "ndjson",
    .sample_key = "events/dt=2026-10-01/e.ndjson",
    .config = CONFIG,
    .check = check,
};
