/* The meta connector: Facebook Graph API Pages and Instagram business accounts: /me/accounts list
 * pages ({"data":[...], "paging":{...}}), Page nodes and IG user nodes, as returned or as saved
 * exchanges. Ids are JSON strings (IG user ids have 17 digits, past 2^53): an id that arrives as a
 * number was already corrupted by its producer and is quarantined. Fields that are unset or not
 * permitted are left out, never null. Graph errors ({"error":{"code":190,...}}) are recorded. */
#include "../ingest_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

enum { X_PAGES, X_IG_USERS, X_API_ERRORS };

static int digit_id(json_object *o, const char *k, int required)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v)) return !required;
    if (!json_object_is_type(v, json_type_string)) return 0;
    const char *s = json_object_get_string(v);
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static const char *validate_node(json_object *n, char *detail, size_t dn, int *ig)
{
    if (!digit_id(n, "id", 1))
        return snprintf(detail, dn, "id is a string of digits"), "meta_invalid_id";
    json_object *iba = mdp__jobj(n, "instagram_business_account"), *v;
    if (json_object_object_get_ex(n, "instagram_business_account", &v) &&
        (!iba || !digit_id(iba, "id", 1)))
        return snprintf(detail, dn, "instagram_business_account.id is a string of digits"),
               "meta_invalid_id";
    static const char *counts[] = {"fan_count", "followers_count", "follows_count", "media_count",
                                   NULL};
    for (int i = 0; counts[i]; i++)
        if (json_object_object_get_ex(n, counts[i], &v) && !json_object_is_type(v, json_type_int))
            return snprintf(detail, dn, "%s is a number", counts[i]), "meta_invalid_count";
    *ig = mdp__jget(n, "username") != NULL || json_object_object_get_ex(n, "media_count", &v);
    return NULL;
}

static int take_node(struct mdp_check *ck, json_object *node, const char *loc, const char *raw,
                     size_t len)
{
    char detail[200];
    int ig = 0;
    const char *why = validate_node(node, detail, sizeof detail, &ig);
    if (why) return mdp_check_bad(ck, why, loc, detail, raw, len);
    ck->c->extra[ig ? X_IG_USERS : X_PAGES]++;
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
    json_object *data = mdp__jarr(r, "data");
    if (data) {
        for (size_t i = 0; i < json_object_array_length(data) && !rc; i++) {
            json_object *node = json_object_array_get_idx(data, i);
            const char *t = json_object_to_json_string_ext(node, JSON_C_TO_STRING_PLAIN);
            rc = take_node(ck, node, mdp__loc(loc, sizeof loc, ck->key, "#data[%zu]", i), t,
                           strlen(t));
        }
    } else if (json_object_object_get_ex(r, "id", NULL)) {
        rc = take_node(ck, r, ck->key, p, n);
    } else {
        rc = mdp_check_bad(ck, "meta_unknown_payload", ck->key,
                           "neither a list, a node nor an error", p, n);
    }
    json_object_put(o);
    return rc;
}

int mdp__meta_pull(struct mdp_pull *p, struct mdp_diag *d);

/* Its configuration map: the sources.meta.* keys (`mdp config keys` lists them). */
static const struct mdp_config_key CONFIG[] = {
    {"sources.meta.token_env", MDP_CFG_ENVNAME, MDP_CONFIG_OFF(meta_token_env), "MDP_META_TOKEN", 0,
     0, NULL,
     "Environment variable with a Facebook user access token (pages_show_list, "
     "instagram_basic) for `mdp ingest meta --pull`."},
    {"sources.meta.api_base", MDP_CFG_STR, MDP_CONFIG_OFF(meta_api_base),
     "https://graph.facebook.com/v21.0", 0, 0, NULL,
     "Base URL of the Graph API, with its version."},
    {NULL, MDP_CFG_STR, 0, NULL, 0, 0, NULL, NULL}};

const struct mdp_connector MDP__CONNECTOR_META = {
    .name = "meta",
    .source = "meta",
    .summary = "Facebook Pages and Instagram business accounts (Graph API)",
    .help =
        "Usage: mdp ingest meta [--pull] [--date D] [--dir LAKE]\n"
        "\n"
        "--pull  first read /me/accounts (token from the variable named by\n"
        "        sources.meta.token_env) following paging.next, then every linked IG user.\n"
        "\n"
        "Takes Graph API responses from <landing>/meta/<kind>/dt=D/*.json (kinds: me_accounts,\n"
        "pages, ig_users): /me/accounts pages ({\"data\":[...]}), Page and IG user nodes, as\n"
        "returned or as saved exchanges. Ids must be strings of digits (IG ids exceed 2^53);\n"
        "counts are numbers; Graph errors (e.g. 190 expired token) are recorded. Page access\n"
        "tokens in /me/accounts are kept in raw as delivered and never logged.\n",
    .landing_prefix = "meta/",
    .dataset = NULL,
    .ext = "json",
    .sample_key = "meta/pages/dt=2026-10-01/p.json",
    .config = CONFIG,
    .extra_names = {"pages", "IG users", "API errors", NULL},
    .check = check,
    .pull = mdp__meta_pull,
};
