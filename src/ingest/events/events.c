/* The events connector: the app's own events as NDJSON, one spec 2 Event-Payload object per line
 * plus event_id (a UUIDv7 the producer makes, so a retried send is recognisable). Each event is
 * validated (event_id a UUIDv7, user_id a UUIDv7, account_id/location_id UUIDv7s when present
 * (ingest.non_v7_ids decides whether another UUID version is quarantined or counted),
 * timestamp ISO-8601, event_type in sources.events.types, external_ids a map of strings,
 * properties an object) and deduplicated on event_id within the run. */
#include "../ingest_internal.h"

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

/* Returns the reason an event is invalid, or NULL; *detail names the field (in buf when it says
 * more). *non_v7 counts ids taken under ingest.non_v7_ids: count. */
static const char *validate(const struct mdp_check *ck, json_object *e, const char **detail,
                            char *buf, size_t bn, int64_t *ts, int *non_v7)
{
    json_object *v;
    const char *s, *why;
    if (!json_object_object_get_ex(e, "event_id", &v))
        return *detail = "event_id", "missing_event_id";
    if (!(s = mdp__jget(e, "event_id")) || !mdp__is_uuid(s, 7))
        return *detail = "event_id must be a UUIDv7 string", "invalid_event_id";
    if (!json_object_object_get_ex(e, "user_id", &v) || json_object_is_type(v, json_type_null))
        return *detail = "user_id", "missing_user_id";
    if (!(s = mdp__jget(e, "user_id")))
        return *detail = "user_id must be a UUID string", "invalid_user_id";
    if ((why = mdp__v7_id(ck, "user_id", s, strlen(s), non_v7, buf, bn))) { /* one parse */
        if (strcmp(why, "invalid_id") == 0)
            return *detail = "user_id must be a UUID string", "invalid_user_id";
        return *detail = buf, why;
    }
    static const char *opt_ids[] = {"account_id", "location_id"};
    for (int i = 0; i < 2; i++) {
        if (!json_object_object_get_ex(e, opt_ids[i], &v) || json_object_is_type(v, json_type_null))
            continue;
        if (!(s = mdp__jget(e, opt_ids[i]))) return *detail = opt_ids[i], "invalid_id";
        if ((why = mdp__v7_id(ck, opt_ids[i], s, strlen(s), non_v7, buf, bn)))
            return *detail = buf, why;
    }
    if (!json_object_object_get_ex(e, "timestamp", &v))
        return *detail = "timestamp", "missing_timestamp";
    if (mdp__jtime(e, "timestamp", ts))
        return *detail = "timestamp must be ISO-8601 with a zone", "invalid_timestamp";
    if (!json_object_object_get_ex(e, "event_type", &v))
        return *detail = "event_type", "missing_event_type";
    if (!(s = mdp__jget(e, "event_type")))
        return *detail = "event_type must be a string", "invalid_event_type";
    if (!known_type(ck, s)) return *detail = "not in sources.events.types", "unknown_event_type";
    if (json_object_object_get_ex(e, "external_ids", &v) &&
        !json_object_is_type(v, json_type_null)) {
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
    if (json_object_object_get_ex(e, "properties", &v) && !json_object_is_type(v, json_type_null) &&
        !json_object_is_type(v, json_type_object))
        return *detail = "properties must be an object", "invalid_properties";
    return NULL;
}

static int check(struct mdp_check *ck, const char *p, size_t n)
{
    size_t pos = 0, start, len, line = 0;
    int rc = 0;
    char loc[512];
    while (!rc && mdp__next_line(p, n, &pos, &start, &len, &line)) {
        enum json_tokener_error err;
        json_object *e = mdp__json_exact(p + start, len, &err);
        mdp__loc(loc, sizeof loc, ck->key, ":%zu", line);
        ck->line = (long)line;
        if (!e || !json_object_is_type(e, json_type_object)) {
            rc = mdp_check_bad(ck, e ? "json_not_object" : mdp__json_reason(err), loc,
                               e ? "a line holds one JSON object" : json_tokener_error_desc(err),
                               p + start, len);
            json_object_put(e);
            continue;
        }
        const char *detail = NULL;
        char buf[160];
        int64_t ts = -1;
        int non_v7 = 0;
        const char *why = validate(ck, e, &detail, buf, sizeof buf, &ts, &non_v7);
        if (why) {
            rc = mdp_check_bad(ck, why, loc, detail, p + start, len);
        } else {
            int dup = mdp_check_dup(ck, "event_id", mdp__jget(e, "event_id"));
            if (dup < 0)
                rc = dup;
            else if (!dup) {
                ck->c->non_v7_ids += non_v7;
                rc = mdp_check_ok_record(ck, ts, e);
            }
        }
        json_object_put(e);
    }
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
