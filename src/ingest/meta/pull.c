/* The meta connector's pull: the Graph API's /me/accounts (the Pages the token's user manages, with
 * their Instagram business account) following paging.next, then each linked IG user node. Every
 * response body lands as delivered. The user token comes from the environment and travels only in
 * the Authorization header; a paging.next that leaves the API's host is not followed (it would
 * carry the token elsewhere). Page access tokens in the responses are kept in raw, never logged. */
#include "../ingest_internal.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_FIELDS                                                                                \
    "id,name,category,category_list,tasks,link,fan_count,followers_count,website,instagram_"       \
    "business_account"
#define IG_FIELDS                                                                                  \
    "id,username,name,biography,website,followers_count,follows_count,media_count,profile_"        \
    "picture_url"

int mdp__meta_pull(struct mdp_pull *p, struct mdp_diag *d);

static int same_host(const char *base, const char *url)
{
    const char *hb = strstr(base, "://"), *hu = strstr(url, "://");
    if (!hb || !hu || strncmp(base, url, (size_t)(hb - base)) != 0) return 0;
    hb += 3;
    hu += 3;
    size_t nb = strcspn(hb, "/"), nu = strcspn(hu, "/");
    return nb == nu && strncmp(hb, hu, nb) == 0;
}

static int get(const struct mdp_config *cfg, const char *token, const char *url,
               struct mdp__http_response *resp, struct mdp_diag *d)
{
    char err[256];
    int attempts;
    if (mdp__http_retry(cfg->http_max_retries, cfg->http_retry_base_ms, "GET", url, NULL, token,
                        NULL, resp, &attempts, err, sizeof err))
        return mdp_diag_set(d, MDP_ERR_IO, "meta: %s", err);
    if (resp->status == 200) return 0;
    /* Graph errors say why: 190 is an expired or invalid token */
    json_object *r = json_tokener_parse(resp->body.data ? resp->body.data : "");
    json_object *e = mdp__jobj(r, "error"), *c;
    long code = e && json_object_object_get_ex(e, "code", &c) ? (long)json_object_get_int64(c) : 0;
    int rc = mdp_diag_set(d, resp->status == 400 || resp->status == 401 ? MDP_ERR_PERM : MDP_ERR_IO,
                          "meta: HTTP %ld, Graph error %ld%s", resp->status, code,
                          code == 190 ? " (the access token is expired or invalid)" : "");
    json_object_put(r);
    return rc;
}

int mdp__meta_pull(struct mdp_pull *p, struct mdp_diag *d)
{
    const struct mdp_config *cfg = p->cfg;
    const char *token = getenv(cfg->meta_token_env);
    if (!token || !*token)
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "meta: the access token is read from the environment variable %s "
                            "(sources.meta.token_env), which is not set",
                            cfg->meta_token_env);
    struct mdp__http_response resp;
    mdp_buf_init(&resp.body);
    char url[4096], key[512], date[11];
    mdp_date_format(p->day, date, sizeof date);
    snprintf(url, sizeof url, "%s/me/accounts?fields=%s&limit=100", cfg->meta_api_base,
             PAGE_FIELDS);
    int rc = 0, pages = 0, ig = 0;
    char **ig_ids = NULL;
    size_t nig = 0;
    for (int page = 0; !rc && page < 1000; page++) {
        if ((rc = get(cfg, token, url, &resp, d))) break;
        snprintf(key, sizeof key, "meta/me_accounts/dt=%s/page-%d.json", date, page);
        if ((rc = mdp_store_put(p->landing, key, resp.body.data, resp.body.len, 0, d))) break;
        pages++;
        p->files++;
        json_object *r = json_tokener_parse(resp.body.data ? resp.body.data : "");
        json_object *data = mdp__jarr(r, "data");
        for (size_t i = 0; data && i < json_object_array_length(data); i++) {
            p->rows++;
            const char *id = mdp__jget(
                mdp__jobj(json_object_array_get_idx(data, i), "instagram_business_account"), "id");
            char **nv = id ? realloc(ig_ids, (nig + 1) * sizeof *nv) : NULL;
            if (nv) {
                ig_ids = nv;
                ig_ids[nig++] = strdup(id);
            }
        }
        const char *next = mdp__jget(mdp__jobj(r, "paging"), "next");
        int follow = next && same_host(cfg->meta_api_base, next) && strlen(next) < sizeof url;
        if (follow) snprintf(url, sizeof url, "%s", next);
        json_object_put(r);
        if (!follow) break;
    }
    for (size_t i = 0; !rc && i < nig; i++) {
        int digits = 1;
        for (const char *q = ig_ids[i]; *q; q++)
            digits &= *q >= '0' && *q <= '9';
        if (!digits) continue; /* the ingest check quarantines the page that carried it */
        snprintf(url, sizeof url, "%s/%s?fields=%s", cfg->meta_api_base, ig_ids[i], IG_FIELDS);
        if ((rc = get(cfg, token, url, &resp, d))) break;
        snprintf(key, sizeof key, "meta/ig_users/dt=%s/ig_user=%s.json", date, ig_ids[i]);
        if ((rc = mdp_store_put(p->landing, key, resp.body.data, resp.body.len, 0, d))) break;
        p->files++;
        ig++;
    }
    for (size_t i = 0; i < nig; i++)
        free(ig_ids[i]);
    free(ig_ids);
    snprintf(p->note, sizeof p->note, "pulled %lld pages (%d /me/accounts pages) and %d IG users",
             (long long)p->rows, pages, ig);
    mdp_buf_cleanup(&resp.body);
    return rc;
}
