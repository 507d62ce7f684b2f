/* The events connector: the app's own events as NDJSON, one spec 2 Event-Payload object per line
 * plus event_id (a UUIDv7 the producer makes, so a retried send is recognisable). Each event is
 * validated (event_id a UUIDv7, user_id a UUIDv7, account_id/location_id UUIDv7s when present
 * (ingest.non_v7_ids decides whether another UUID version is quarantined or counted),
 * timestamp ISO-8601, event_type in sources.events.types, external_ids a map of strings,
 * properties an object) and deduplicated on event_id within the run. */
#include "../ingest_internal.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <string.h>

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

/* The members validate() reads, found in one walk over the event's members (json-c keeps one
 * entry per key: a repeated key's last value wins, as a lookup would find). A member present as
 * JSON null has its bit in `has` and a NULL value. */
enum {
    M_EVENT_ID,
    M_USER_ID,
    M_ACCOUNT_ID,
    M_LOCATION_ID,
    M_TIMESTAMP,
    M_EVENT_TYPE,
    M_EXT,
    M_PROPS
};

struct members {
    json_object *v[8];
    unsigned has;
};

static void find_members(json_object *e, struct members *m)
{
    memset(m, 0, sizeof *m);
    json_object_object_foreach(e, k, v)
    {
        int i;
        switch (k[0]) {
        case 'e':
            i = strcmp(k, "event_id") == 0       ? M_EVENT_ID
                : strcmp(k, "event_type") == 0   ? M_EVENT_TYPE
                : strcmp(k, "external_ids") == 0 ? M_EXT
                                                 : -1;
            break;
        case 'u':
            i = strcmp(k, "user_id") == 0 ? M_USER_ID : -1;
            break;
        case 'a':
            i = strcmp(k, "account_id") == 0 ? M_ACCOUNT_ID : -1;
            break;
        case 'l':
            i = strcmp(k, "location_id") == 0 ? M_LOCATION_ID : -1;
            break;
        case 't':
            i = strcmp(k, "timestamp") == 0 ? M_TIMESTAMP : -1;
            break;
        case 'p':
            i = strcmp(k, "properties") == 0 ? M_PROPS : -1;
            break;
        default:
            i = -1;
        }
        if (i >= 0) {
            m->v[i] = v;
            m->has |= 1u << i;
        }
    }
}

static const char *str_of(json_object *v, size_t *len)
{
    if (!json_object_is_type(v, json_type_string)) return NULL;
    *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

/* Returns the reason an event is invalid, or NULL; *detail names the field (in buf when it says
 * more). *non_v7 counts ids taken under ingest.non_v7_ids: count. *id: the event_id; *u its 16
 * bytes, already parsed from the text raw when not NULL (prefetch_event_id), which is taken when
 * the member's text is the same. The checks run in a fixed order, so an event with several faults
 * always gets the same reason. */
static const char *validate(const struct mdp_check *ck, json_object *e, const char **detail,
                            char *buf, size_t bn, int64_t *ts, int *non_v7, const char **id,
                            const char *raw, struct mdp_uuid *u, int *canonical)
{
    struct members m;
    const char *s, *why;
    size_t len = 0;
    find_members(e, &m);
    if (!(m.has & 1u << M_EVENT_ID)) return *detail = "event_id", "missing_event_id";
    /* the canonical text first: its 16 bytes are then the duplicate key as they are */
    if (!(s = str_of(m.v[M_EVENT_ID], &len)) || len != 36 ||
        (!(*canonical =
               (raw && memcmp(raw, s, 36) == 0) || mdp_uuid_parse_canonical(s, 36, u) == 0) &&
         mdp_uuid_parse_n(s, 36, u)) ||
        mdp_uuid_version(u) != 7)
        return *detail = "event_id must be a UUIDv7 string", "invalid_event_id";
    *id = s;
    if (!m.v[M_USER_ID]) return *detail = "user_id", "missing_user_id";
    if (!(s = str_of(m.v[M_USER_ID], &len)))
        return *detail = "user_id must be a UUID string", "invalid_user_id";
    if ((why = mdp__v7_id(ck, "user_id", s, len, non_v7, buf, bn))) { /* one parse */
        if (strcmp(why, "invalid_id") == 0)
            return *detail = "user_id must be a UUID string", "invalid_user_id";
        return *detail = buf, why;
    }
    static const char *opt_ids[] = {"account_id", "location_id"};
    for (int i = 0; i < 2; i++) {
        json_object *v = m.v[M_ACCOUNT_ID + i];
        if (!v) continue; /* missing or null */
        if (!(s = str_of(v, &len))) return *detail = opt_ids[i], "invalid_id";
        if ((why = mdp__v7_id(ck, opt_ids[i], s, len, non_v7, buf, bn))) return *detail = buf, why;
    }
    if (!(m.has & 1u << M_TIMESTAMP)) return *detail = "timestamp", "missing_timestamp";
    if (!(s = str_of(m.v[M_TIMESTAMP], &len)) || mdp_time_parse_iso(s, len, ts))
        return *detail = "timestamp must be ISO-8601 with a zone", "invalid_timestamp";
    if (!(m.has & 1u << M_EVENT_TYPE)) return *detail = "event_type", "missing_event_type";
    if (!(s = str_of(m.v[M_EVENT_TYPE], &len)))
        return *detail = "event_type must be a string", "invalid_event_type";
    if (!known_type(ck, s)) return *detail = "not in sources.events.types", "unknown_event_type";
    json_object *v = m.v[M_EXT];
    if (v) {
        if (!json_object_is_type(v, json_type_object))
            return *detail = "external_ids must be an object", "invalid_external_ids";
        json_object_object_foreach(v, key, val)
        {
            (void)key;
            if (!json_object_is_type(val, json_type_string))
                return *detail = "every external id is a string (ids overflow doubles)",
                       "invalid_external_ids";
        }
    }
    if (m.v[M_PROPS] && !json_object_is_type(m.v[M_PROPS], json_type_object))
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

static int check(struct mdp_check *ck, const char *p, size_t n)
{
    size_t pos = 0, start, len, line = 0;
    int rc = 0;
    json_tokener *tok = mdp__json_tokener(); /* the thread's; NULL: one per line */
    while (!rc && mdp__next_line(p, n, &pos, &start, &len, &line)) {
        enum json_tokener_error err;
        struct mdp_uuid u;
        const char *raw = prefetch_event_id(ck, p + start, len, &u);
        json_object *e = mdp__json_exact_tok(tok, p + start, len, &err);
        ck->line = (long)line;
        if (!e || !json_object_is_type(e, json_type_object)) {
            rc = bad(ck, line, e ? "json_not_object" : mdp__json_reason(err),
                     e ? "a line holds one JSON object" : json_tokener_error_desc(err), p + start,
                     len);
            json_object_put(e);
            continue;
        }
        const char *detail = NULL, *id = NULL;
        char buf[160];
        int64_t ts = -1;
        int non_v7 = 0, canonical = 0;
        const char *why =
            validate(ck, e, &detail, buf, sizeof buf, &ts, &non_v7, &id, raw, &u, &canonical);
        if (why) {
            rc = bad(ck, line, why, detail, p + start, len);
        } else {
            int dup = canonical ? mdp__check_dup_uuid(ck, "event_id", &u)
                                : mdp_check_dup(ck, "event_id", id);
            if (dup < 0)
                rc = dup;
            else if (!dup) {
                ck->c->non_v7_ids += non_v7;
                rc = mdp_check_ok_record(ck, ts, e);
            }
        }
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
