/* The ga4 connector's pull: a GA4 Data API client. It authenticates as a service account (a JWT
 * signed RS256 with OpenSSL, exchanged at the key's token_uri for an access token, cached until a
 * minute before it expires), posts runReport for the configured property, dimensions and metrics
 * with orderBys on the date (stable pages), and follows pages until offset + rows reaches
 * rowCount. Requests answered 429 or 5xx, or not at all, are retried with exponential backoff and
 * full jitter, honouring Retry-After. Each page's response body is written, byte for byte, into
 * the landing folder; the propertyQuota figures are kept in _meta/state/ga4/quota.json. */
#include "../ingest_internal.h"
#include "mdp/alloc.h"
#include "mdp/log.h"
#include "mdp/time.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct token_cache {
    char token[2048];
    int64_t expires_ms;
    char key_id[128];
    char scope[128]; /* what the token was granted for */
};
static struct token_cache g_token; /* one per process: a pull runs in one thread */

/* appends base64url of the n bytes at in; an error sticks on out (reported where out is used) */
static void b64url(const unsigned char *in, size_t n, struct mdp_buf *out)
{
    if (mdp_buf_reserve(out, 4 * ((n + 2) / 3) + 1)) return;
    char *tmp = out->data + out->len; /* encoded in place, then cut at the padding */
    int k = EVP_EncodeBlock((unsigned char *)tmp, in, (int)n);
    for (int i = 0; i < k; i++) {
        if (tmp[i] == '+')
            tmp[i] = '-';
        else if (tmp[i] == '/')
            tmp[i] = '_';
        else if (tmp[i] == '=') {
            k = i;
            break;
        }
    }
    out->len += (size_t)k;
    out->data[out->len] = '\0';
}

/* An access token for the service account in the key file named by the credentials variable. */
#define SCOPE_READ   "https://www.googleapis.com/auth/analytics.readonly"
#define SCOPE_DELETE "https://www.googleapis.com/auth/analytics.user.deletion"

static int access_token(const struct mdp_config *cfg, const char *scope, struct mdp_diag *d)
{
    int64_t now = mdp_time_now_ms();
    if (g_token.token[0] && g_token.expires_ms - 60000 > now && strcmp(g_token.scope, scope) == 0)
        return 0;
    g_token.token[0] = '\0';
    const char *var = cfg->ga4_credentials_env, *path = getenv(var);
    if (!path || !*path)
        return mdp_diag_set(
            d, MDP_ERR_CONFIG,
            "ga4: the service account key file is named by the environment variable "
            "%s (sources.ga4.credentials_env), which is not set",
            var);
    json_object *key = json_object_from_file(path);
    const char *email = mdp__jget(key, "client_email"), *pem = mdp__jget(key, "private_key");
    const char *token_uri = mdp__jget(key, "token_uri"), *kid = mdp__jget(key, "private_key_id");
    if (!email || !pem) {
        json_object_put(key);
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "ga4: %s is not a service account key (client_email, private_key)",
                            path);
    }
    if (!token_uri) token_uri = "https://oauth2.googleapis.com/token";
    /* header.claims, base64url, signed RS256 */
    char hdr[256], claims[1024];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"RS256\",\"typ\":\"JWT\"%s%s%s}", kid ? ",\"kid\":\"" : "",
             kid ? kid : "", kid ? "\"" : "");
    struct mdp_buf cl;
    mdp_buf_init(&cl);
    mdp_buf_puts(&cl, "{\"iss\":");
    mdp_buf_json_str(&cl, email);
    mdp_buf_puts(&cl, ",\"scope\":");
    mdp_buf_json_str(&cl, scope);
    mdp_buf_puts(&cl, ",\"aud\":");
    mdp_buf_json_str(&cl, token_uri);
    mdp_buf_printf(&cl, ",\"iat\":%lld,\"exp\":%lld}", (long long)(now / 1000),
                   (long long)(now / 1000 + 3600));
    if (mdp_buf_error(&cl)) {
        mdp_buf_cleanup(&cl);
        json_object_put(key);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "ga4: out of memory building the token request");
    }
    snprintf(claims, sizeof claims, "%s", cl.data);
    mdp_buf_cleanup(&cl);
    struct mdp_buf jwt, form;
    mdp_buf_init(&jwt);
    mdp_buf_init(&form);
    b64url((const unsigned char *)hdr, strlen(hdr), &jwt);
    mdp_buf_putc(&jwt, '.');
    b64url((const unsigned char *)claims, strlen(claims), &jwt);
    int rc = mdp_buf_error(&jwt);
    if (rc) rc = mdp_diag_set(d, rc, "ga4: out of memory building the token request");
    BIO *bio = rc ? NULL : BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = 0;
    unsigned char *sig = NULL;
    if (rc) {
        /* out of memory above: nothing to sign */
    } else if (!pk || !ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) != 1 ||
               EVP_DigestSign(ctx, NULL, &siglen, (unsigned char *)jwt.data, jwt.len) != 1 ||
               !(sig = mdp_malloc(siglen)) ||
               EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)jwt.data, jwt.len) != 1) {
        rc = mdp_diag_set(d, MDP_ERR_CRYPTO,
                          "ga4: cannot sign the token request with the key in %s", path);
    } else {
        mdp_buf_putc(&jwt, '.');
        b64url(sig, siglen, &jwt);
    }
    free(sig);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    struct mdp__http_response resp;
    mdp_buf_init(&resp.body);
    char err[256];
    int attempts;
    if (!rc) {
        mdp_buf_printf(
            &form,
            "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer&assertion=%s",
            jwt.data);
        if ((rc = mdp_buf_error(&jwt)) || (rc = mdp_buf_error(&form)))
            rc = mdp_diag_set(d, rc, "ga4: out of memory building the token request");
        else if (mdp__http_retry(cfg->http_max_retries, cfg->http_retry_base_ms, "POST", token_uri,
                                 "application/x-www-form-urlencoded", NULL, form.data, &resp,
                                 &attempts, err, sizeof err))
            rc = mdp_diag_set(d, MDP_ERR_IO, "ga4: token endpoint %s: %s", token_uri, err);
        else if (resp.status != 200)
            rc = mdp_diag_set(
                d, resp.status == 400 || resp.status == 401 ? MDP_ERR_PERM : MDP_ERR_IO,
                "ga4: token endpoint %s answered HTTP %ld (check the service account)", token_uri,
                resp.status);
    }
    if (!rc) {
        json_object *t = json_tokener_parse(resp.body.data ? resp.body.data : "");
        const char *at = mdp__jget(t, "access_token");
        json_object *ex;
        if (!at || strlen(at) >= sizeof g_token.token) {
            rc = mdp_diag_set(d, MDP_ERR_IO, "ga4: the token endpoint gave no access_token");
        } else {
            snprintf(g_token.token, sizeof g_token.token, "%s", at);
            snprintf(g_token.scope, sizeof g_token.scope, "%s", scope);
            int64_t secs =
                json_object_object_get_ex(t, "expires_in", &ex) ? json_object_get_int64(ex) : 3600;
            g_token.expires_ms = now + secs * 1000;
        }
        json_object_put(t);
    }
    mdp_buf_cleanup(&resp.body);
    mdp_buf_cleanup(&jwt);
    mdp_buf_cleanup(&form);
    json_object_put(key);
    return rc;
}

static void request_body(const struct mdp_config *cfg, const char *from, const char *to,
                         long offset, struct mdp_buf *b)
{
    mdp_buf_reset(b);
    mdp_buf_printf(b,
                   "{\"dateRanges\":[{\"startDate\":\"%s\",\"endDate\":\"%s\"}],\"dimensions\":[",
                   from, to);
    for (int i = 0; i < cfg->ga4_dimensions.n; i++) {
        mdp_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        mdp_buf_json_str(b, cfg->ga4_dimensions.v[i]);
        mdp_buf_putc(b, '}');
    }
    mdp_buf_puts(b, "],\"metrics\":[");
    for (int i = 0; i < cfg->ga4_metrics.n; i++) {
        mdp_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        mdp_buf_json_str(b, cfg->ga4_metrics.v[i]);
        mdp_buf_putc(b, '}');
    }
    mdp_buf_puts(b, "],\"orderBys\":[");
    int first = 1;
    for (int i = 0; i < cfg->ga4_dimensions.n;
         i++) { /* every dimension: a total order, stable pages */
        mdp_buf_puts(b, first ? "" : ",");
        mdp_buf_puts(b, "{\"dimension\":{\"dimensionName\":");
        mdp_buf_json_str(b, cfg->ga4_dimensions.v[i]);
        mdp_buf_puts(b, ",\"orderType\":\"ALPHANUMERIC\"},\"desc\":false}");
        first = 0;
    }
    mdp_buf_printf(b, "],\"limit\":\"%ld\",\"offset\":\"%ld\",\"returnPropertyQuota\":true}",
                   cfg->ga4_page_size, offset);
}

int mdp__ga4_pull(struct mdp_pull *p, struct mdp_diag *d);

int mdp__ga4_pull(struct mdp_pull *p, struct mdp_diag *d)
{
    const struct mdp_config *cfg = p->cfg;
    char from[11], to[11], url[1024];
    mdp_date_format(p->from_day, from, sizeof from);
    mdp_date_format(p->to_day, to, sizeof to);
    for (const char *q = cfg->ga4_property_id; *q; q++)
        if (*q < '0' || *q > '9')
            return mdp_diag_set(d, MDP_ERR_CONFIG, "sources.ga4.property_id must be digits");
    snprintf(url, sizeof url, "%s/v1beta/properties/%s:runReport", cfg->ga4_api_base,
             cfg->ga4_property_id);
    int rc = access_token(cfg, SCOPE_READ, d);
    struct mdp_buf body;
    struct mdp__http_response resp;
    mdp_buf_init(&body);
    mdp_buf_init(&resp.body);
    long offset = 0, row_count = -1;
    int page = 0, retries = 0;
    char err[256];
    while (!rc && (row_count < 0 || offset < row_count)) {
        request_body(cfg, from, to, offset, &body);
        if ((rc = mdp_buf_error(&body))) {
            rc = mdp_diag_set(d, rc, "ga4: out of memory building the runReport request");
            break;
        }
        int attempts = 0;
        if (mdp__http_retry(cfg->http_max_retries, cfg->http_retry_base_ms, "POST", url,
                            "application/json", g_token.token, body.data, &resp, &attempts, err,
                            sizeof err)) {
            rc = mdp_diag_set(d, MDP_ERR_IO, "ga4: runReport %s: %s", url, err);
            break;
        }
        retries += attempts - 1;
        if (resp.status == 401 || resp.status == 403) {
            g_token.token[0] = '\0';
            rc = mdp_diag_set(d, MDP_ERR_PERM,
                              "ga4: runReport answered HTTP %ld: the service account lacks "
                              "access to property %s",
                              resp.status, cfg->ga4_property_id);
            break;
        }
        if (resp.status != 200) {
            rc = mdp_diag_set(d, MDP_ERR_IO, "ga4: runReport answered HTTP %ld", resp.status);
            break;
        }
        json_object *r = json_tokener_parse(resp.body.data ? resp.body.data : "");
        json_object *rows = mdp__jarr(r, "rows"), *v;
        long n = rows ? (long)json_object_array_length(rows) : 0;
        row_count =
            json_object_object_get_ex(r, "rowCount", &v) ? (long)json_object_get_int64(v) : 0;
        json_object *quota = mdp__jobj(r, "propertyQuota");
        if (quota) {
            const char *qt = json_object_to_json_string_ext(quota, JSON_C_TO_STRING_PLAIN);
            struct mdp_diag qd = {0};
            mdp_store_put(p->lake->store, "_meta/state/ga4/quota.json", qt, strlen(qt), 0, &qd);
        }
        json_object_put(r);
        /* the response body, as received, is the delivery */
        char key[512], date[11];
        mdp_date_format(p->day, date, sizeof date);
        snprintf(key, sizeof key, "ga4/runreport/dt=%s/property=%s_%s_%s_offset-%ld.json", date,
                 cfg->ga4_property_id, from, to, offset);
        rc = mdp_store_put(p->landing, key, resp.body.data ? resp.body.data : "", resp.body.len, 0,
                           d);
        p->files++;
        p->rows += n;
        page++;
        if (n == 0) break; /* no progress: stop rather than loop */
        offset += n;
    }
    snprintf(p->note, sizeof p->note, "pulled %lld rows of %s..%s in %d pages (%d retries)",
             (long long)p->rows, from, to, page, retries);
    mdp_buf_cleanup(&body);
    mdp_buf_cleanup(&resp.body);
    return rc;
}

/* ---- the User Deletion API (erasure) ---- */

int mdp_ga4_user_deletion(const struct mdp_config *cfg, const char *id_type, const char *id,
                          struct mdp_ga4_deletion *out, struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    static const char *const TYPES[] = {"CLIENT_ID", "USER_ID", "APP_INSTANCE_ID"};
    int known = 0;
    for (size_t i = 0; id_type && i < sizeof TYPES / sizeof *TYPES; i++)
        known |= strcmp(id_type, TYPES[i]) == 0;
    if (!known)
        return mdp_diag_set(d, MDP_ERR_INVALID,
                            "ga4 user deletion: the id type must be CLIENT_ID, USER_ID or "
                            "APP_INSTANCE_ID");
    if (!id || !*id || strlen(id) > 256)
        return mdp_diag_set(d, MDP_ERR_INVALID, "ga4 user deletion: the id is empty or too long");
    const char *prop = cfg->ga4_property_id;
    if (!*prop || strspn(prop, "0123456789") != strlen(prop))
        return mdp_diag_set(d, MDP_ERR_CONFIG, "sources.ga4.property_id must be digits");
    char url[1024];
    snprintf(url, sizeof url, "%s/userDeletion/userDeletionRequests:upsert",
             cfg->ga4_user_deletion_base);
    int rc = access_token(cfg, SCOPE_DELETE, d);
    struct mdp_buf body;
    struct mdp__http_response resp;
    mdp_buf_init(&body);
    mdp_buf_init(&resp.body);
    if (!rc) {
        mdp_buf_puts(&body, "{\"kind\":\"analytics#userDeletionRequest\",\"id\":{\"type\":");
        mdp_buf_json_str(&body, id_type);
        mdp_buf_puts(&body, ",\"userId\":");
        mdp_buf_json_str(&body, id);
        mdp_buf_puts(&body, "},\"propertyId\":");
        mdp_buf_json_str(&body, prop);
        mdp_buf_putc(&body, '}');
        if (mdp_buf_error(&body))
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "ga4 user deletion: out of memory");
    }
    char err[256];
    int attempts = 0;
    if (!rc && mdp__http_retry(cfg->http_max_retries, cfg->http_retry_base_ms, "POST", url,
                               "application/json", g_token.token, body.data, &resp, &attempts, err,
                               sizeof err))
        rc = mdp_diag_set(d, MDP_ERR_IO, "ga4 user deletion: %s: %s", url, err);
    if (!rc) {
        out->http_status = resp.status;
        out->attempts = attempts;
        json_object *r = json_tokener_parse(resp.body.data ? resp.body.data : "");
        const char *t = mdp__jget(r, "deletionRequestTime");
        json_object *e = mdp__jobj(r, "error");
        const char *msg = e ? mdp__jget(e, "message") : NULL;
        if (resp.status == 401 || resp.status == 403) {
            g_token.token[0] = '\0';
            rc = mdp_diag_set(d, MDP_ERR_PERM,
                              "ga4 user deletion answered HTTP %ld: the service account may not "
                              "delete users of property %s (%s)",
                              resp.status, prop, msg ? msg : "no message");
        } else if (resp.status != 200) {
            rc = mdp_diag_set(d, resp.status == 400 ? MDP_ERR_INVALID : MDP_ERR_IO,
                              "ga4 user deletion answered HTTP %ld: %s", resp.status,
                              msg ? msg : "no message");
        } else if (!t || strlen(t) >= sizeof out->deletion_request_time) {
            rc = mdp_diag_set(d, MDP_ERR_PARSE,
                              "ga4 user deletion: the response has no deletionRequestTime");
        } else {
            snprintf(out->deletion_request_time, sizeof out->deletion_request_time, "%s", t);
            out->response = mdp_buf_steal(&resp.body);
            if (!out->response) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        }
        json_object_put(r);
    }
    mdp_buf_cleanup(&body);
    mdp_buf_cleanup(&resp.body);
    return rc;
}
