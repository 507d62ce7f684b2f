/* The gbp connector: Google Business Profile (Business Information API v1) locations, from
 * accounts.locations.list responses ({"locations":[...], "nextPageToken"?}) or locations.get (one
 * Location), as returned or as saved exchanges. Only readMask'd fields come back, so any field may
 * be missing; what is present is checked: name is locations/<digits>, metadata.placeId a string,
 * latlng numbers in range, hours TimeOfDay objects (hours 0-24, minutes 0-59; {} is midnight) on
 * known days. Ids stay strings. */
#include "../ingest_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

enum { X_LOCATIONS, X_API_ERRORS };

static int is_day(const char *s)
{
    static const char *days[] = {"MONDAY", "TUESDAY",  "WEDNESDAY", "THURSDAY",
                                 "FRIDAY", "SATURDAY", "SUNDAY",    NULL};
    for (int i = 0; s && days[i]; i++)
        if (strcmp(s, days[i]) == 0) return 1;
    return 0;
}

static int time_of_day(json_object *t, int close)
{
    if (!t) return 0;
    json_object *v;
    int h = 0, m = 0;
    if (json_object_object_get_ex(t, "hours", &v)) {
        if (!json_object_is_type(v, json_type_int)) return 0;
        h = json_object_get_int(v);
    }
    if (json_object_object_get_ex(t, "minutes", &v)) {
        if (!json_object_is_type(v, json_type_int)) return 0;
        m = json_object_get_int(v);
    }
    return h >= 0 && m >= 0 && m <= 59 && (h <= 23 || (close && h == 24 && m == 0));
}

static const char *validate(json_object *l, char *detail, size_t dn)
{
    const char *name = mdp__jget(l, "name");
    if (!name || strncmp(name, "locations/", 10) != 0 || !name[10])
        return snprintf(detail, dn, "name must be locations/<id>"), "gbp_invalid_name";
    for (const char *p = name + 10; *p; p++)
        if (!isdigit((unsigned char)*p))
            return snprintf(detail, dn, "location id is digits"), "gbp_invalid_name";
    json_object *md = mdp__jobj(l, "metadata"), *v;
    if (md && json_object_object_get_ex(md, "placeId", &v) &&
        !json_object_is_type(v, json_type_string))
        return snprintf(detail, dn, "metadata.placeId is a string"), "gbp_invalid_place_id";
    json_object *ll = mdp__jobj(l, "latlng");
    if (ll) {
        json_object *la, *lo;
        if (!json_object_object_get_ex(ll, "latitude", &la) ||
            !json_object_object_get_ex(ll, "longitude", &lo) || json_object_get_double(la) < -90 ||
            json_object_get_double(la) > 90 || json_object_get_double(lo) < -180 ||
            json_object_get_double(lo) > 180)
            return snprintf(detail, dn, "latlng out of range"), "gbp_invalid_latlng";
    }
    json_object *periods = mdp__jarr(mdp__jobj(l, "regularHours"), "periods");
    for (size_t i = 0; periods && i < json_object_array_length(periods); i++) {
        json_object *p = json_object_array_get_idx(periods, i);
        if (!is_day(mdp__jget(p, "openDay")) || !is_day(mdp__jget(p, "closeDay")) ||
            !time_of_day(mdp__jobj(p, "openTime"), 0) || !time_of_day(mdp__jobj(p, "closeTime"), 1))
            return snprintf(detail, dn, "regularHours.periods[%zu]", i), "gbp_invalid_hours";
    }
    return NULL;
}

static int take(struct mdp_check *ck, json_object *l, const char *loc, const char *raw, size_t len)
{
    char detail[200];
    const char *why = validate(l, detail, sizeof detail);
    if (why) return mdp_check_bad(ck, why, loc, detail, raw, len);
    ck->c->extra[X_LOCATIONS]++;
    mdp_check_ok(ck, -1);
    return 0;
}

static int check(struct mdp_check *ck, const char *p, size_t n)
{
    json_object *o, *r;
    int rc = mdp__api_open(ck, p, n, X_API_ERRORS, &o, &r);
    if (rc <= 0) return rc;
    rc = 0;
    char loc[600];
    json_object *list = mdp__jarr(r, "locations");
    if (list ||
        json_object_object_length(r) == 0) { /* a list page; {} is an account without locations */
        for (size_t i = 0; list && i < json_object_array_length(list) && !rc; i++) {
            json_object *l = json_object_array_get_idx(list, i);
            const char *t = json_object_to_json_string_ext(l, JSON_C_TO_STRING_PLAIN);
            rc =
                take(ck, l, mdp__loc(loc, sizeof loc, ck->key, "#locations[%zu]", i), t, strlen(t));
        }
    } else if (mdp__jget(r, "name")) {
        rc = take(ck, r, ck->key, p, n);
    } else {
        rc = mdp_check_bad(ck, "gbp_unknown_payload", ck->key,
                           "neither a location list nor a location", p, n);
    }
    json_object_put(o);
    return rc;
}

int mdp__gbp_pull(struct mdp_pull *p, struct mdp_diag *d);

/* Its configuration map: the sources.gbp.* keys (`mdp config keys` lists them). */
static const struct mdp_config_key CONFIG[] = {
    {"sources.gbp.token_env", MDP_CFG_ENVNAME, MDP_CONFIG_OFF(gbp_token_env), "MDP_GBP_TOKEN", 0, 0,
     NULL,
     "Environment variable with an OAuth access token (scope business.manage) for `mdp ingest gbp "
     "--pull`."},
    {"sources.gbp.api_base", MDP_CFG_STR, MDP_CONFIG_OFF(gbp_api_base),
     "https://mybusinessbusinessinformation.googleapis.com", 0, 0, NULL,
     "Base URL of the Business Information API."},
    {"sources.gbp.accounts", MDP_CFG_STRLIST, MDP_CONFIG_OFF(gbp_accounts), "", 0, 0, NULL,
     "Business Profile account ids (digits) whose locations `--pull` lists."},
    {NULL, MDP_CFG_STR, 0, NULL, 0, 0, NULL, NULL}};

const struct mdp_connector MDP__CONNECTOR_GBP = {
    .name = "gbp",
    .source = "gbp",
    .summary = "Google Business Profile locations (Business Information API v1)",
    .help =
        "Usage: mdp ingest gbp [--pull] [--date D] [--dir LAKE]\n"
        "\n"
        "--pull  first list the locations of every account of sources.gbp.accounts (token from\n"
        "        the variable named by sources.gbp.token_env), following nextPageToken.\n"
        "\n"
        "Takes Business Information API responses from <landing>/gbp/locations/dt=D/*.json:\n"
        "accounts.locations.list pages ({\"locations\":[...]}) or locations.get (one "
        "Location), as\n"
        "returned or as saved exchanges {\"method\",\"url\",\"body\"}. Fields are readMask'd, "
        "so any\n"
        "may be missing; present ones are checked (name locations/<digits>, placeId a string,\n"
        "latlng in range, opening hours as TimeOfDay). Ids stay strings.\n",
    .landing_prefix = "gbp/",
    .dataset = NULL,
    .ext = "json",
    .sample_key = "gbp/locations/dt=2026-10-01/l.json",
    .config = CONFIG,
    .extra_names = {"locations", "API errors", NULL, NULL},
    .check = check,
    .pull = mdp__gbp_pull,
};
