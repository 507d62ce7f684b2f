/* The gbp connector's pull: accounts.locations.list of the Business Information API for each
 * account of sources.gbp.accounts, with the readMask the curated tables need, following
 * nextPageToken; every page's response body lands as delivered. The OAuth access token comes from
 * the environment and travels only in the Authorization header. */
#include "../ingest_internal.h"
#include "mdp/time.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_MASK                                                                                  \
    "name,languageCode,storeCode,title,phoneNumbers,categories,storefrontAddress,websiteUri,"      \
    "regularHours,latlng,openInfo,metadata,profile"

int mdp__gbp_pull(struct mdp_pull *p, struct mdp_diag *d);

int mdp__gbp_pull(struct mdp_pull *p, struct mdp_diag *d)
{
    const struct mdp_config *cfg = p->cfg;
    const char *token = getenv(cfg->gbp_token_env);
    if (!token || !*token)
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "gbp: the access token is read from the environment variable %s "
                            "(sources.gbp.token_env), which is not set",
                            cfg->gbp_token_env);
    if (cfg->gbp_accounts.n == 0)
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "gbp: sources.gbp.accounts names no account to pull");
    struct mdp__http_response resp;
    mdp_buf_init(&resp.body);
    int rc = 0, pages = 0;
    char err[256], url[2048], date[11];
    mdp_date_format(p->day, date, sizeof date);
    for (int a = 0; !rc && a < cfg->gbp_accounts.n; a++) {
        const char *acct = cfg->gbp_accounts.v[a];
        for (const char *q = acct; *q; q++)
            if (*q < '0' || *q > '9')
                rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                                  "sources.gbp.accounts: '%s' is not an account id", acct);
        char *page_token = NULL;
        for (int page = 0; !rc; page++) {
            char *esc = page_token ? curl_easy_escape(NULL, page_token, 0) : NULL;
            snprintf(url, sizeof url, "%s/v1/accounts/%s/locations?readMask=%s&pageSize=100%s%s",
                     cfg->gbp_api_base, acct, READ_MASK, esc ? "&pageToken=" : "", esc ? esc : "");
            curl_free(esc);
            int attempts;
            if (mdp__http_retry(cfg->http_max_retries, cfg->http_retry_base_ms, "GET", url, NULL,
                                token, NULL, &resp, &attempts, err, sizeof err)) {
                rc = mdp_diag_set(d, MDP_ERR_IO, "gbp: account %s: %s", acct, err);
                break;
            }
            if (resp.status != 200) {
                rc = mdp_diag_set(
                    d, resp.status == 401 || resp.status == 403 ? MDP_ERR_PERM : MDP_ERR_IO,
                    "gbp: account %s: HTTP %ld%s", acct, resp.status,
                    resp.status == 401 ? " (the access token is invalid or expired)" : "");
                break;
            }
            char key[512];
            snprintf(key, sizeof key, "gbp/locations/dt=%s/accounts-%s-page-%d.json", date, acct,
                     page);
            if ((rc = mdp_store_put(p->landing, key, resp.body.data ? resp.body.data : "",
                                    resp.body.len, 0, d)))
                break;
            pages++;
            p->files++;
            json_object *r = json_tokener_parse(resp.body.data ? resp.body.data : "");
            json_object *locs = mdp__jarr(r, "locations");
            p->rows += locs ? (long long)json_object_array_length(locs) : 0;
            const char *next = mdp__jget(r, "nextPageToken");
            free(page_token);
            page_token = next && *next && page < 10000 ? strdup(next) : NULL;
            json_object_put(r);
            if (!page_token) break;
        }
        free(page_token);
    }
    snprintf(p->note, sizeof p->note, "pulled %lld locations of %d accounts in %d pages",
             (long long)p->rows, cfg->gbp_accounts.n, pages);
    mdp_buf_cleanup(&resp.body);
    return rc;
}
