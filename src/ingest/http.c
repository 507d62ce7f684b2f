/* The HTTP client of the connectors that pull from web APIs (ga4, gbp, meta): libcurl requests
 * with a bearer token, and retries on transport errors, 429 and 5xx with exponential backoff and
 * full jitter (a random wait up to base * 2^attempt, at most 64x base), honouring Retry-After.
 * Tokens go in the Authorization header, never in URLs, so they do not reach logs. */
#include "ingest_internal.h"
#include "mdp/log.h"
#include "mdp/time.h"
#include "mdp/net.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct mdp__http_response *r = ud;
    if (r->body.len + size * n > (256u << 20)) return 0;
    return mdp_buf_append(&r->body, p, size * n) ? 0 : size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct mdp__http_response *r = ud;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
        r->retry_after_s = strtol(p + 12, NULL, 10);
    return len;
}

int mdp__http(const char *method, const char *url, const char *content_type, const char *auth,
              const char *body, struct mdp__http_response *out, char *err, size_t en)
{
    CURL *c = curl_easy_init();
    if (!c) return snprintf(err, en, "cannot start an HTTP client"), -1;
    struct curl_slist *h = NULL;
    char line[2200];
    if (content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        h = curl_slist_append(h, line);
    }
    if (auth) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", auth);
        h = curl_slist_append(h, line);
    }
    mdp_buf_reset(&out->body);
    out->status = 0;
    out->retry_after_s = -1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    mdp_net_curl_tls(c);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return snprintf(err, en, "%s%s", curl_easy_strerror(rc), mdp_net_curl_hint(rc)), -1;
    return 0;
}

int mdp__http_retry(long max_retries, long base_ms, const char *method, const char *url,
                    const char *ctype, const char *auth, const char *body,
                    struct mdp__http_response *out, int *attempts, char *err, size_t en)
{
    for (int a = 0;; a++) {
        int rc = mdp__http(method, url, ctype, auth, body, out, err, en);
        *attempts = a + 1;
        int retry = rc != 0 || out->status == 429 || out->status >= 500;
        if (!retry) return 0;
        if (a >= max_retries) {
            if (!rc) snprintf(err, en, "HTTP %ld after %d attempts", out->status, a + 1);
            return -1;
        }
        int64_t cap = (int64_t)base_ms << (a < 6 ? a : 6);
        uint32_t r = 0;
        if (getrandom(&r, sizeof r, 0) != sizeof r) r = (uint32_t)mdp_time_now_ms();
        int64_t wait = (int64_t)((double)cap * ((double)r / 4294967296.0));
        if (out->retry_after_s >= 0 && out->retry_after_s * 1000 > wait)
            wait = out->retry_after_s * 1000;
        mdp_log(MDP_LOG_WARN, "HTTP request will be retried", LOG_INT("status", out->status),
                LOG_INT("attempt", a + 1), LOG_INT("wait_ms", wait), MDP_LF_END);
        struct timespec ts = {wait / 1000, (long)(wait % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}
