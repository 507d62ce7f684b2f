/* The AWS client (include/mdp/aws.h): settings, the credentials chain, requests signed by libcurl's
 * CURLOPT_AWS_SIGV4 with retries, and the JSON protocol. What curl 7.88 does not do for us, done
 * here without touching the signature itself: the payload hash header (x-amz-content-sha256,
 * OpenSSL's SHA-256 through mdp_sha256_hex), the canonical query string and the escaped path. */
#include "mdp/aws.h"
#include "mdp/alloc.h"
#include "mdp/config.h"
#include "mdp/hash.h"
#include "mdp/log.h"
#include "mdp/time.h"
#include "mdp/net.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- settings ---- */

static char empty_str[] = "";
static struct mdp_aws_settings g_set = {empty_str, empty_str, 1,    empty_str,
                                        5,         100,       2048, empty_str};
static int g_set_owned;

static void settings_free(struct mdp_aws_settings *s)
{
    char **f[] = {&s->region, &s->endpoint_url, &s->kms_key_id, &s->cache_dir};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        if (*f[i] != empty_str) free(*f[i]);
        *f[i] = empty_str;
    }
}

/* Copies src into dst (dst's strings are fresh copies, never NULL). */
static int settings_copy(struct mdp_aws_settings *dst, const struct mdp_aws_settings *src)
{
    *dst = *src;
    const char *in[] = {src->region, src->endpoint_url, src->kms_key_id, src->cache_dir};
    char **out[] = {&dst->region, &dst->endpoint_url, &dst->kms_key_id, &dst->cache_dir};
    for (size_t i = 0; i < 4; i++)
        *out[i] = empty_str;
    for (size_t i = 0; i < 4; i++) {
        if (!in[i] || !*in[i]) continue;
        if (!(*out[i] = mdp_strdup(in[i]))) {
            *out[i] = empty_str;
            settings_free(dst);
            return MDP_ERR_NOMEM;
        }
    }
    return 0;
}

int mdp_aws_configure(const struct mdp_config *cfg, struct mdp_diag *d)
{
    struct mdp_aws_settings in = {cfg->aws_region,
                                  cfg->aws_endpoint_url,
                                  cfg->aws_s3_addressing && strcmp(cfg->aws_s3_addressing, "path")
                                      ? 1
                                      : 0,
                                  cfg->aws_kms_key_id,
                                  cfg->aws_max_retries,
                                  cfg->aws_retry_base_ms,
                                  cfg->aws_cache_mb,
                                  cfg->aws_cache_dir},
                            out;
    if (!cfg->aws_s3_addressing) in.virtual_hosted = 1;
    /* the config's spellings of "not set" */
    if (in.region && !strcmp(in.region, "{env}")) in.region = NULL;
    if (in.endpoint_url && !strcmp(in.endpoint_url, "{env}")) in.endpoint_url = NULL;
    if (in.kms_key_id && !strcmp(in.kms_key_id, "aws/s3")) in.kms_key_id = NULL;
    if (in.cache_dir && !strcmp(in.cache_dir, "{tmp}")) in.cache_dir = NULL;
    if (settings_copy(&out, &in))
        return mdp_diag_set(d, MDP_ERR_NOMEM, "aws settings: out of memory");
    if (g_set_owned) settings_free(&g_set);
    g_set = out;
    g_set_owned = 1;
    return 0;
}

const struct mdp_aws_settings *mdp_aws_settings(void)
{
    return &g_set;
}

/* ---- helpers ---- */

int mdp_aws_uri_escape(struct mdp_buf *out, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
            (keep_slash && *p == '/')) {
            mdp_buf_putc(out, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            mdp_buf_append(out, e, 3);
        }
    }
    return mdp_buf_error(out);
}

int mdp_aws_parse_s3_url(const char *url, char *bucket, size_t bucket_len, char *prefix,
                         size_t prefix_len, struct mdp_diag *d)
{
    if (!url || strncmp(url, "s3://", 5) != 0)
        return mdp_diag_set(d, MDP_ERR_INVALID, "'%s' is not an s3://BUCKET/PREFIX location",
                            url ? url : "");
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    int ok = bl >= 3 && bl <= 63 && bl < bucket_len && isalnum((unsigned char)b[0]) &&
             isalnum((unsigned char)b[bl - 1]);
    for (size_t i = 0; ok && i < bl; i++)
        ok = (b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
             b[i] == '.';
    if (!ok)
        return mdp_diag_set(d, MDP_ERR_INVALID,
                            "%s: '%.*s' is not a valid S3 bucket name (3 to 63 lower-case letters, "
                            "digits, '.' or '-')",
                            url, (int)bl, b);
    memcpy(bucket, b, bl);
    bucket[bl] = 0;
    const char *p = slash ? slash : b + bl;
    while (*p == '/')
        p++;
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/')
        pl--;
    if (pl >= prefix_len) return mdp_diag_set(d, MDP_ERR_INVALID, "%s: prefix too long", url);
    memcpy(prefix, p, pl);
    prefix[pl] = 0;
    return 0;
}

static int env_true(const char *name)
{
    const char *v = getenv(name);
    return v && (!strcasecmp(v, "true") || !strcmp(v, "1"));
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* A small random number for jitter: per-thread xorshift seeded from getrandom. */
static uint64_t jitter_rand(void)
{
    static _Thread_local uint64_t x;
    if (!x) {
        if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x || !x)
            x = (uint64_t)mdp_time_now_ms() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

/* ---- the client ---- */

enum cred_src { SRC_NONE, SRC_ENV, SRC_FILE, SRC_CONTAINER, SRC_IMDS };

#define POOL_MAX 32

struct mdp_aws {
    struct mdp_aws_settings set;
    char region[64];
    char endpoint[512]; /* scheme://host[:port] without a trailing '/', "" for the AWS endpoints */
    pthread_mutex_t lock; /* credentials and the handle pool */
    char *ak, *sk, *token;
    int64_t expires_ms; /* 0: does not expire */
    enum cred_src src;
    char src_name[1200];
    CURLSH *share;
    pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
    CURL *pool[POOL_MAX];
    int npool;
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    struct mdp_aws *a = ud;
    if (data >= 0 && data < CURL_LOCK_DATA_LAST) pthread_mutex_lock(&a->share_lock[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    struct mdp_aws *a = ud;
    if (data >= 0 && data < CURL_LOCK_DATA_LAST) pthread_mutex_unlock(&a->share_lock[data]);
}

const char *mdp_aws_region(const struct mdp_aws *a)
{
    return a->region;
}

const struct mdp_aws_settings *mdp_aws_client_settings(const struct mdp_aws *a)
{
    return &a->set;
}

const char *mdp_aws_endpoint(const struct mdp_aws *a)
{
    return a->endpoint[0] ? a->endpoint : "the AWS endpoints";
}

const char *mdp_aws_credentials_source(const struct mdp_aws *a)
{
    return a->src_name;
}

const char *mdp_aws_access_key_id(const struct mdp_aws *a)
{
    return a->ak ? a->ak : "";
}

static void creds_clear(struct mdp_aws *a)
{
    if (a->sk) memset(a->sk, 0, strlen(a->sk));
    free(a->ak);
    free(a->sk);
    free(a->token);
    a->ak = a->sk = a->token = NULL;
    a->expires_ms = 0;
    a->src = SRC_NONE;
}

static int creds_set(struct mdp_aws *a, const char *ak, const char *sk, const char *token,
                     int64_t expires_ms, enum cred_src src)
{
    creds_clear(a);
    a->ak = mdp_strdup(ak);
    a->sk = mdp_strdup(sk);
    a->token = token && *token ? mdp_strdup(token) : NULL;
    if (!a->ak || !a->sk || (token && *token && !a->token)) {
        creds_clear(a);
        return MDP_ERR_NOMEM;
    }
    a->expires_ms = expires_ms;
    a->src = src;
    return 0;
}

/* Looks up key in [section] of an INI file (the AWS credentials/config format). Returns 1 and
 * the value in out, 0 when the file, section or key is missing, MDP_ERR_CONFIG when unreadable. */
static int ini_get(const char *path, const char *section, const char *key, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : MDP_ERR_CONFIG;
    char line[2048];
    int in = 0, found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *s = line, *e;
        while (isspace((unsigned char)*s))
            s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = 0;
        if (!*s || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close) continue;
            *close = 0;
            char *name = s + 1;
            while (isspace((unsigned char)*name))
                name++;
            char *ne = name + strlen(name);
            while (ne > name && isspace((unsigned char)ne[-1]))
                *--ne = 0;
            in = strcmp(name, section) == 0;
            continue;
        }
        if (!in) continue;
        char *eq = strchr(s, '=');
        if (!eq) continue;
        char *k = s, *ke = eq;
        while (ke > k && isspace((unsigned char)ke[-1]))
            ke--;
        char *v = eq + 1;
        while (isspace((unsigned char)*v))
            v++;
        if ((size_t)(ke - k) == strlen(key) && strncmp(k, key, (size_t)(ke - k)) == 0) {
            snprintf(out, n, "%s", v);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

/* Returns 1 if [section] exists in the file, 0 if not (or no file). */
static int ini_has_section(const char *path, const char *section)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (*s != '[') continue;
        char *close = strchr(s, ']');
        if (!close) continue;
        *close = 0;
        s++;
        while (isspace((unsigned char)*s))
            s++;
        char *e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = 0;
        found = strcmp(s, section) == 0;
    }
    fclose(f);
    return found;
}

static void home_path(char *out, size_t n, const char *env, const char *rel)
{
    const char *v = env_nonempty(env), *home = env_nonempty("HOME");
    if (v)
        snprintf(out, n, "%s", v);
    else
        snprintf(out, n, "%s/%s", home ? home : ".", rel);
}

static size_t plain_body(char *p, size_t size, size_t n, void *ud)
{
    struct mdp_buf *b = ud;
    if (b->len + size * n > (1u << 20)) return 0; /* a credentials answer is small */
    return mdp_buf_append(b, p, size * n) ? 0 : size * n;
}

/* An unsigned request to a metadata endpoint (credentials). Returns 0 with the status in
 * *status, or -1 on a transport error (why in err). */
static int plain_http(const char *method, const char *url, const char *hdr1, const char *hdr2,
                      struct mdp_buf *out, long *status, char *err, size_t en)
{
    CURL *c = curl_easy_init();
    if (!c) return snprintf(err, en, "cannot start an HTTP client"), -1;
    struct curl_slist *h = NULL, *t;
    if (hdr1 && (t = curl_slist_append(h, hdr1))) h = t;
    if (hdr2 && (t = curl_slist_append(h, hdr2))) h = t;
    mdp_buf_reset(out);
    curl_easy_setopt(c, CURLOPT_URL, url);
    mdp_net_curl_tls(c);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "PUT")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, plain_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    else
        snprintf(err, en, "%s", curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

/* Takes AccessKeyId, SecretAccessKey, Token and Expiration from a credentials endpoint's JSON. */
static int creds_from_json(struct mdp_aws *a, const char *text, enum cred_src src,
                           const char *where, struct mdp_diag *d)
{
    json_object *j = json_tokener_parse(text ? text : "");
    json_object *ak = NULL, *sk = NULL, *tok = NULL, *exp = NULL;
    if (!j || !json_object_object_get_ex(j, "AccessKeyId", &ak) ||
        !json_object_object_get_ex(j, "SecretAccessKey", &sk) ||
        !json_object_is_type(ak, json_type_string) || !json_object_is_type(sk, json_type_string)) {
        if (j) json_object_put(j);
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "AWS credentials: %s answered without AccessKeyId and SecretAccessKey",
                            where);
    }
    if (!json_object_object_get_ex(j, "Token", &tok)) tok = NULL;
    int64_t exp_ms = 0;
    if (json_object_object_get_ex(j, "Expiration", &exp) &&
        json_object_is_type(exp, json_type_string)) {
        const char *e = json_object_get_string(exp);
        if (mdp_time_parse_iso(e, strlen(e), &exp_ms)) exp_ms = 0;
    }
    int rc = creds_set(
        a, json_object_get_string(ak), json_object_get_string(sk),
        tok && json_object_is_type(tok, json_type_string) ? json_object_get_string(tok) : NULL,
        exp_ms, src);
    json_object_put(j);
    if (rc) return mdp_diag_set(d, rc, "AWS credentials: out of memory");
    snprintf(a->src_name, sizeof a->src_name, "%s", where);
    return 0;
}

int mdp__aws_creds_json_check(const char *text, struct mdp_diag *d)
{
    struct mdp_aws *a = mdp_calloc(1, sizeof *a);
    if (!a) return mdp_diag_set(d, MDP_ERR_NOMEM, "AWS credentials: out of memory");
    int rc = creds_from_json(a, text, SRC_CONTAINER, "the credentials endpoint", d);
    creds_clear(a);
    free(a);
    return rc;
}

/* The container credentials endpoint (ECS task roles, EKS pod identity). Returns 1 when not
 * configured, 0 with credentials, or an error. */
static int creds_container(struct mdp_aws *a, struct mdp_diag *d)
{
    const char *full = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char *rel = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    if (!full && !rel) return 1;
    char url[1024], auth[4096] = "", err[256];
    if (rel)
        snprintf(url, sizeof url, "http://169.254.170.2%s%s", rel[0] == '/' ? "" : "/", rel);
    else
        snprintf(url, sizeof url, "%s", full);
    const char *tokfile = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tok = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (tokfile) {
        FILE *f = fopen(tokfile, "r");
        char t[3000] = "";
        if (!f)
            return mdp_diag_set(d, MDP_ERR_CONFIG,
                                "AWS credentials: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
                                tokfile, strerror(errno));
        size_t n = fread(t, 1, sizeof t - 1, f);
        fclose(f);
        t[n] = 0;
        while (n && isspace((unsigned char)t[n - 1]))
            t[--n] = 0;
        snprintf(auth, sizeof auth, "Authorization: %s", t);
    } else if (tok) {
        snprintf(auth, sizeof auth, "Authorization: %s", tok);
    }
    struct mdp_buf b;
    mdp_buf_init(&b);
    long status = 0;
    int rc = -1;
    for (int attempt = 0; attempt < 3 && rc; attempt++) {
        if (attempt) sleep_ms(200 << attempt);
        rc = plain_http("GET", url, auth[0] ? auth : NULL, NULL, &b, &status, err, sizeof err);
        if (!rc && status >= 500) rc = -1, snprintf(err, sizeof err, "HTTP %ld", status);
    }
    if (rc || status != 200 || mdp_buf_error(&b)) {
        mdp_buf_cleanup(&b);
        return mdp_diag_set(
            d, MDP_ERR_CONFIG,
            "AWS credentials: the container credentials endpoint (%s) failed: %s",
            rel ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" : "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            rc ? err : (status == 200 ? "out of memory" : "unexpected HTTP status"));
    }
    rc = creds_from_json(a, b.data, SRC_CONTAINER, "the container credentials endpoint", d);
    mdp_buf_cleanup(&b);
    return rc;
}

/* The instance metadata service, IMDSv2 (a session token first). Returns 1 when not reachable or
 * disabled, 0 with credentials, or an error. */
static int creds_imds(struct mdp_aws *a, struct mdp_diag *d)
{
    if (env_true("AWS_EC2_METADATA_DISABLED")) return 1;
    const char *base = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!base) base = "http://169.254.169.254";
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    char url[1024], err[256], hdr[1200], role[256];
    struct mdp_buf b;
    mdp_buf_init(&b);
    long status = 0;
    snprintf(url, sizeof url, "%.*s/latest/api/token", (int)bl, base);
    if (plain_http("PUT", url, "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL, &b, &status,
                   err, sizeof err) ||
        status != 200 || !b.data || mdp_buf_error(&b)) {
        mdp_buf_cleanup(&b);
        return 1; /* no instance metadata service here */
    }
    snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token: %.1000s", b.data);
    snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/", (int)bl, base);
    if (plain_http("GET", url, hdr, NULL, &b, &status, err, sizeof err) || status != 200 ||
        !b.data || mdp_buf_error(&b)) {
        mdp_buf_cleanup(&b);
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "AWS credentials: the instance metadata service has no IAM role for "
                            "this instance (HTTP %ld)",
                            status);
    }
    size_t rl = strcspn(b.data, "\r\n");
    snprintf(role, sizeof role, "%.*s", (int)(rl < 255 ? rl : 255), b.data);
    snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/%s", (int)bl, base,
             role);
    if (plain_http("GET", url, hdr, NULL, &b, &status, err, sizeof err) || status != 200 ||
        mdp_buf_error(&b)) {
        mdp_buf_cleanup(&b);
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "AWS credentials: the instance metadata service failed for role %s "
                            "(HTTP %ld)",
                            role, status);
    }
    int rc = creds_from_json(a, b.data, SRC_IMDS, "instance metadata (IMDSv2)", d);
    mdp_buf_cleanup(&b);
    return rc;
}

/* The chain: environment, shared credentials file, container endpoint, instance metadata. */
static int creds_load(struct mdp_aws *a, struct mdp_diag *d)
{
    const char *ak = env_nonempty("AWS_ACCESS_KEY_ID"), *sk = env_nonempty("AWS_SECRET_ACCESS_KEY");
    if (ak || sk) {
        if (!ak || !sk)
            return mdp_diag_set(d, MDP_ERR_CONFIG, "AWS credentials: %s is set but %s is not",
                                ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                                ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        if (creds_set(a, ak, sk, env_nonempty("AWS_SESSION_TOKEN"), 0, SRC_ENV))
            return mdp_diag_set(d, MDP_ERR_NOMEM, "AWS credentials: out of memory");
        snprintf(a->src_name, sizeof a->src_name,
                 "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)");
        return 0;
    }
    char path[1024], fak[256] = "", fsk[256] = "", ftok[4096] = "";
    const char *profile = env_nonempty("AWS_PROFILE");
    if (!profile) profile = env_nonempty("AWS_DEFAULT_PROFILE");
    home_path(path, sizeof path, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    const char *prof = profile ? profile : "default";
    int r1 = ini_get(path, prof, "aws_access_key_id", fak, sizeof fak);
    int r2 = ini_get(path, prof, "aws_secret_access_key", fsk, sizeof fsk);
    if (r1 < 0 || r2 < 0)
        return mdp_diag_set(d, MDP_ERR_CONFIG, "AWS credentials: cannot read %s: %s", path,
                            strerror(errno));
    if (r1 == 1 && r2 == 1) {
        ini_get(path, prof, "aws_session_token", ftok, sizeof ftok);
        if (creds_set(a, fak, fsk, ftok, 0, SRC_FILE))
            return mdp_diag_set(d, MDP_ERR_NOMEM, "AWS credentials: out of memory");
        snprintf(a->src_name, sizeof a->src_name, "shared credentials file %.900s (profile %s)",
                 path, prof);
        return 0;
    }
    if (r1 == 1 || r2 == 1)
        return mdp_diag_set(d, MDP_ERR_CONFIG, "AWS credentials: profile %s in %s lacks %s", prof,
                            path, r1 == 1 ? "aws_secret_access_key" : "aws_access_key_id");
    if (profile && !ini_has_section(path, profile))
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "AWS credentials: AWS_PROFILE=%s but %s has no such profile", profile,
                            path);
    int rc = creds_container(a, d);
    if (rc <= 0) return rc;
    rc = creds_imds(a, d);
    if (rc <= 0) return rc;
    return mdp_diag_set(
        d, MDP_ERR_CONFIG,
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a "
        "profile in %s (AWS_PROFILE), or run where a container credentials endpoint "
        "(AWS_CONTAINER_CREDENTIALS_*) or the instance metadata service answers",
        path);
}

/* Refreshes temporary credentials five minutes before they expire (caller holds a->lock). */
static int creds_fresh(struct mdp_aws *a, int force, struct mdp_diag *d)
{
    if (!force && a->ak && (!a->expires_ms || a->expires_ms - mdp_time_now_ms() > 300000)) return 0;
    if (force && (a->src == SRC_ENV || a->src == SRC_FILE)) return 0;
    return creds_load(a, d);
}

int mdp_aws_open(const struct mdp_aws_settings *settings, struct mdp_aws **out, struct mdp_diag *d)
{
    *out = NULL;
    if (!settings) settings = &g_set;
    struct mdp_aws *a = mdp_calloc(1, sizeof *a);
    if (!a) return mdp_diag_set(d, MDP_ERR_NOMEM, "aws client: out of memory");
    if (settings_copy(&a->set, settings)) {
        free(a);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "aws client: out of memory");
    }
    pthread_mutex_init(&a->lock, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&a->share_lock[i], NULL);
    int rc = 0;
    const char *region = a->set.region[0] ? a->set.region : env_nonempty("AWS_REGION");
    if (!region) region = env_nonempty("AWS_DEFAULT_REGION");
    if (!region) {
        rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                          "aws.region is not set (nor AWS_REGION or AWS_DEFAULT_REGION): AWS mode "
                          "needs the region of the bucket");
        goto fail;
    }
    size_t rl = strlen(region);
    int ok = rl > 0 && rl < sizeof a->region;
    for (size_t i = 0; ok && i < rl; i++)
        ok = islower((unsigned char)region[i]) || isdigit((unsigned char)region[i]) ||
             region[i] == '-';
    if (!ok) {
        rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                          "aws.region '%s' is not a region name (like eu-central-1)", region);
        goto fail;
    }
    memcpy(a->region, region, rl + 1);
    const char *ep =
        a->set.endpoint_url[0] ? a->set.endpoint_url : env_nonempty("AWS_ENDPOINT_URL");
    if (ep) {
        size_t el = strlen(ep);
        while (el && ep[el - 1] == '/')
            el--;
        if ((strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) || el >= sizeof a->endpoint ||
            memchr(ep, '?', el) || memchr(ep + 8, '/', el > 8 ? el - 8 : 0)) {
            rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                              "aws.endpoint_url '%s' is not http(s)://HOST[:PORT]", ep);
            goto fail;
        }
        memcpy(a->endpoint, ep, el);
        a->endpoint[el] = 0;
    }
    if ((rc = creds_load(a, d))) goto fail;
    a->share = curl_share_init();
    if (!a->share) {
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "aws client: cannot create a curl share");
        goto fail;
    }
    curl_share_setopt(a->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(a->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(a->share, CURLSHOPT_USERDATA, a);
    curl_share_setopt(a->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(a->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    *out = a;
    return 0;
fail:
    mdp_aws_close(a);
    return rc;
}

void mdp_aws_close(struct mdp_aws *a)
{
    if (!a) return;
    for (int i = 0; i < a->npool; i++)
        curl_easy_cleanup(a->pool[i]);
    if (a->share) curl_share_cleanup(a->share);
    creds_clear(a);
    settings_free(&a->set);
    pthread_mutex_destroy(&a->lock);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&a->share_lock[i]);
    free(a);
}

static CURL *handle_get(struct mdp_aws *a)
{
    CURL *h = NULL;
    pthread_mutex_lock(&a->lock);
    if (a->npool) h = a->pool[--a->npool];
    pthread_mutex_unlock(&a->lock);
    if (h)
        curl_easy_reset(h);
    else
        h = curl_easy_init();
    return h;
}

static void handle_put(struct mdp_aws *a, CURL *h)
{
    pthread_mutex_lock(&a->lock);
    if (a->npool < POOL_MAX) {
        a->pool[a->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&a->lock);
    if (h) curl_easy_cleanup(h);
}

/* ---- requests ---- */

void mdp_aws_response_init(struct mdp_aws_response *r)
{
    memset(r, 0, sizeof *r);
    mdp_buf_init(&r->body);
    r->content_length = -1;
    r->last_modified_ms = -1;
}

void mdp_aws_response_cleanup(struct mdp_aws_response *r)
{
    mdp_buf_cleanup(&r->body);
    mdp_aws_response_init(r);
}

struct xfer {
    const struct mdp_aws_request *rq;
    struct mdp_aws_response *rs;
    long status;  /* of the last status line seen (100 Continue is replaced by the final one) */
    int sink_err; /* the sink asked to stop */
    int nomem;
};

static void copy_header_value(char *dst, size_t n, const char *v, size_t len)
{
    while (len && isspace((unsigned char)*v))
        v++, len--;
    while (len && isspace((unsigned char)v[len - 1]))
        len--;
    if (len >= n) len = n - 1;
    memcpy(dst, v, len);
    dst[len] = 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    struct mdp_aws_response *r = x->rs;
    size_t len = size * n;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->etag[0] = r->sse[0] = r->sse_kms_key[0] = r->request_id[0] = 0;
        r->content_length = r->last_modified_ms = -1;
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon) return len;
    size_t nl = (size_t)(colon - p), vl = len - nl - 1;
    const char *v = colon + 1;
    char tmp[128];
    if (nl == 4 && !strncasecmp(p, "ETag", 4))
        copy_header_value(r->etag, sizeof r->etag, v, vl);
    else if (nl == 14 && !strncasecmp(p, "Content-Length", 14)) {
        copy_header_value(tmp, sizeof tmp, v, vl);
        r->content_length = strtoll(tmp, NULL, 10);
    } else if (nl == 13 && !strncasecmp(p, "Last-Modified", 13)) {
        copy_header_value(tmp, sizeof tmp, v, vl);
        time_t t = curl_getdate(tmp, NULL);
        r->last_modified_ms = t < 0 ? -1 : (int64_t)t * 1000;
    } else if (nl == 28 && !strncasecmp(p, "x-amz-server-side-encryption", 28))
        copy_header_value(r->sse, sizeof r->sse, v, vl);
    else if (nl == 43 && !strncasecmp(p, "x-amz-server-side-encryption-aws-kms-key-id", 43))
        copy_header_value(r->sse_kms_key, sizeof r->sse_kms_key, v, vl);
    else if ((nl == 16 && !strncasecmp(p, "x-amz-request-id", 16)) ||
             (nl == 16 && !strncasecmp(p, "x-amzn-RequestId", 16)))
        copy_header_value(r->request_id, sizeof r->request_id, v, vl);
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (x->rq->sink && x->status >= 200 && x->status < 300) {
        if (x->rq->sink(p, len, x->rq->sink_ud)) {
            x->sink_err = 1;
            return 0;
        }
        return len;
    }
    if (mdp_buf_append(&x->rs->body, p, len)) {
        x->nomem = 1;
        return 0;
    }
    return len;
}

/* The text of an XML element child of the root (S3 errors: <Error><Code>...). */
static void xml_child_text(xmlNode *root, const char *name, char *out, size_t n)
{
    for (xmlNode *c = root ? root->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, name)) continue;
        xmlChar *t = xmlNodeGetContent(c);
        if (t) {
            snprintf(out, n, "%s", (const char *)t);
            xmlFree(t);
        }
        return;
    }
}

/* (include/mdp/aws.h) Fills error_code/error_message from an error body: S3's XML or the JSON services'. */
void mdp__aws_parse_error_body(struct mdp_aws_response *r)
{
    r->error_code[0] = r->error_message[0] = 0;
    if (!r->body.data || !r->body.len || r->body.len > INT_MAX || mdp_buf_error(&r->body)) return;
    const char *s = r->body.data;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '<') {
        xmlDoc *doc = xmlReadMemory(r->body.data, (int)r->body.len, "error.xml", NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc) return;
        xmlNode *root = xmlDocGetRootElement(doc);
        /* S3: <Error>; IAM/STS (query protocol): <ErrorResponse><Error> */
        if (root && !strcmp((const char *)root->name, "ErrorResponse"))
            for (xmlNode *c = root->children; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, "Error")) {
                    root = c;
                    break;
                }
        xml_child_text(root, "Code", r->error_code, sizeof r->error_code);
        xml_child_text(root, "Message", r->error_message, sizeof r->error_message);
        xmlFreeDoc(doc);
    } else if (*s == '{') {
        json_object *j = json_tokener_parse(s), *v;
        if (!j) return;
        if ((json_object_object_get_ex(j, "__type", &v) ||
             json_object_object_get_ex(j, "code", &v)) &&
            json_object_is_type(v, json_type_string)) {
            const char *t = json_object_get_string(v), *hash = strrchr(t, '#');
            snprintf(r->error_code, sizeof r->error_code, "%s", hash ? hash + 1 : t);
        }
        if ((json_object_object_get_ex(j, "message", &v) ||
             json_object_object_get_ex(j, "Message", &v)) &&
            json_object_is_type(v, json_type_string))
            snprintf(r->error_message, sizeof r->error_message, "%s", json_object_get_string(v));
        json_object_put(j);
    }
}

static int code_in(const char *code, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(code, *list)) return 1;
    return 0;
}

static const char *const THROTTLING[] = {"Throttling",
                                         "ThrottlingException",
                                         "ThrottledException",
                                         "RequestThrottledException",
                                         "TooManyRequestsException",
                                         "ProvisionedThroughputExceededException",
                                         "TransactionInProgressException",
                                         "RequestLimitExceeded",
                                         "BandwidthLimitExceeded",
                                         "RequestThrottled",
                                         "SlowDown",
                                         "PriorRequestNotComplete",
                                         "EC2ThrottledException",
                                         "RequestTimeout",
                                         "RequestTimeoutException",
                                         "InternalError",
                                         "InternalServerError",
                                         "ServiceUnavailable",
                                         NULL};
static const char *const EXPIRED[] = {"ExpiredToken", "ExpiredTokenException", "RequestExpired",
                                      NULL};

static int retryable(long status, const char *code)
{
    return status >= 500 || status == 429 || code_in(code, THROTTLING);
}

/* The name of what a request touched, for messages: "bucket/key", "bucket", the target. */
static void describe(const struct mdp_aws_request *rq, char *out, size_t n)
{
    if (rq->bucket && rq->key)
        snprintf(out, n, "s3://%s/%s", rq->bucket, rq->key);
    else if (rq->bucket)
        snprintf(out, n, "s3://%s", rq->bucket);
    else
        snprintf(out, n, "%s", rq->service);
}

/* The error code of a final non-2xx answer, and d's message. */
static int map_error(struct mdp_aws *a, const struct mdp_aws_request *rq,
                     const struct mdp_aws_response *r, struct mdp_diag *d)
{
    char what[1200];
    describe(rq, what, sizeof what);
    const char *code = r->error_code, *op = rq->op ? rq->op : rq->method;
    long st = r->status;
    char tail[400];
    snprintf(tail, sizeof tail, "(HTTP %ld%s%s%s%s)", st, code[0] ? " " : "", code,
             r->error_message[0] ? ": " : "", r->error_message);
    if (!strcmp(code, "SignatureDoesNotMatch") || !strcmp(code, "InvalidSignatureException"))
        return mdp_diag_set(d, MDP_ERR_PERM,
                            "%s %s %s: AWS rejected the request signature: wrong secret access key "
                            "for access key %s (credentials from %s) %s",
                            rq->service, op, what, a->ak ? a->ak : "?", a->src_name, tail);
    if (!strcmp(code, "InvalidAccessKeyId") || !strcmp(code, "UnrecognizedClientException") ||
        !strcmp(code, "InvalidClientTokenId"))
        return mdp_diag_set(d, MDP_ERR_PERM,
                            "%s %s %s: the access key id %s is not known to AWS (credentials from "
                            "%s) %s",
                            rq->service, op, what, a->ak ? a->ak : "?", a->src_name, tail);
    if (code_in(code, EXPIRED))
        return mdp_diag_set(d, MDP_ERR_PERM,
                            "%s %s %s: the session token has expired (credentials from %s) %s",
                            rq->service, op, what, a->src_name, tail);
    if (!strcmp(code, "NoSuchBucket"))
        return mdp_diag_set(d, MDP_ERR_NOT_FOUND,
                            "%s %s %s: bucket '%s' does not exist (check the lake location, "
                            "aws.region %s and aws.endpoint_url) %s",
                            rq->service, op, what, rq->bucket ? rq->bucket : "?", a->region, tail);
    if (!strcmp(code, "ConditionalCheckFailedException") ||
        !strcmp(code, "AlreadyExistsException") || !strcmp(code, "ResourceInUseException") ||
        !strcmp(code, "TransactionConflictException") || !strcmp(code, "PreconditionFailed") ||
        !strcmp(code, "ConditionalRequestConflict") || st == 412 ||
        (st == 409 && rq->bucket && rq->key))
        return mdp_diag_set(d, MDP_ERR_EXISTS, "%s %s %s: the condition failed %s", rq->service, op,
                            what, tail);
    if (st == 404 || !strcmp(code, "ResourceNotFoundException") ||
        !strcmp(code, "EntityNotFoundException"))
        return mdp_diag_set(d, MDP_ERR_NOT_FOUND, "%s %s %s: not found %s", rq->service, op, what,
                            tail);
    if ((st == 401 || st == 403) && !code[0])
        return mdp_diag_set(d, MDP_ERR_PERM,
                            "%s %s %s: refused without details: a wrong secret access key for "
                            "access key %s, or an IAM policy that does not allow it (credentials "
                            "from %s) %s",
                            rq->service, op, what, a->ak ? a->ak : "?", a->src_name, tail);
    if (st == 401 || st == 403 || !strcmp(code, "AccessDeniedException") ||
        !strcmp(code, "AccessDenied"))
        return mdp_diag_set(d, MDP_ERR_PERM,
                            "%s %s %s: access denied for access key %s (credentials from %s; the "
                            "IAM policy must allow it, docs/aws.md) %s",
                            rq->service, op, what, a->ak ? a->ak : "?", a->src_name, tail);
    if (st >= 400 && st < 500 && !retryable(st, code))
        return mdp_diag_set(d, MDP_ERR_INVALID, "%s %s %s: the request was refused %s", rq->service,
                            op, what, tail);
    return mdp_diag_set(d, MDP_ERR_IO, "%s %s %s: failed after %d attempts %s", rq->service, op,
                        what, r->attempts, tail);
}

/* Builds the URL: endpoint, bucket (path or host), escaped key, canonical query. */
static int build_url(struct mdp_aws *a, const struct mdp_aws_request *rq, struct mdp_buf *u)
{
    int s3 = !strcmp(rq->service, "s3");
    if (a->endpoint[0]) {
        if (s3 && rq->bucket && a->set.virtual_hosted) {
            const char *hs = strstr(a->endpoint, "://") + 3;
            mdp_buf_printf(u, "%.*s%s.%s", (int)(hs - a->endpoint), a->endpoint, rq->bucket, hs);
        } else {
            mdp_buf_puts(u, a->endpoint);
        }
    } else if (s3) {
        if (rq->bucket && a->set.virtual_hosted)
            mdp_buf_printf(u, "https://%s.s3.%s.amazonaws.com", rq->bucket, a->region);
        else
            mdp_buf_printf(u, "https://s3.%s.amazonaws.com", a->region);
    } else if (!strcmp(rq->service, "iam")) {
        mdp_buf_puts(u, "https://iam.amazonaws.com");
    } else {
        mdp_buf_printf(u, "https://%s.%s.amazonaws.com", rq->service, a->region);
    }
    if (s3 && rq->bucket && !a->set.virtual_hosted) {
        mdp_buf_putc(u, '/');
        mdp_aws_uri_escape(u, rq->bucket, 0);
        if (rq->key) mdp_buf_putc(u, '/');
    } else {
        mdp_buf_putc(u, '/');
    }
    if (rq->key) mdp_aws_uri_escape(u, rq->key, 1);
    if (rq->query && rq->query[0]) {
        /* canonical query: escaped names and values, sorted by name then value, '=' always */
        size_t n = 0;
        while (rq->query[2 * n])
            n++;
        struct mdp_buf *parts = mdp_calloc(n ? n : 1, sizeof *parts);
        if (!parts) return MDP_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) {
            mdp_buf_init(&parts[i]);
            mdp_aws_uri_escape(&parts[i], rq->query[2 * i], 0);
            mdp_buf_putc(&parts[i], '=');
            if (rq->query[2 * i + 1]) mdp_aws_uri_escape(&parts[i], rq->query[2 * i + 1], 0);
            mdp_buf_putc(&parts[i], 0); /* keep a terminator even when empty */
        }
        /* insertion sort on "name=value" (the '=' (0x3d) sorts below every escaped character
         * that may follow a name, so this is the order by name, then value) */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && parts[j - 1].data && parts[j].data &&
                               strcmp(parts[j - 1].data, parts[j].data) > 0;
                 j--) {
                struct mdp_buf t = parts[j];
                parts[j] = parts[j - 1];
                parts[j - 1] = t;
            }
        for (size_t i = 0; i < n; i++) {
            if (mdp_buf_error(&parts[i]))
                mdp_buf_putc(u, 0), u->err = parts[i].err;
            else {
                mdp_buf_putc(u, i ? '&' : '?');
                mdp_buf_puts(u, parts[i].data);
            }
            mdp_buf_cleanup(&parts[i]);
        }
        free(parts);
    }
    return mdp_buf_error(u);
}

/* One attempt. Returns the curl code; x and rs are filled. */
static CURLcode perform(struct mdp_aws *a, CURL *h, const struct mdp_aws_request *rq,
                        const char *url, struct curl_slist *hdrs, struct xfer *x)
{
    char sigv4[160];
    int iam = !strcmp(rq->service, "iam");
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:%s", iam ? "us-east-1" : a->region, rq->service);
    curl_easy_setopt(h, CURLOPT_URL, url);
    mdp_net_curl_tls(h);
    curl_easy_setopt(h, CURLOPT_SHARE, a->share);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
    pthread_mutex_lock(&a->lock);
    curl_easy_setopt(h, CURLOPT_USERNAME, a->ak);
    curl_easy_setopt(h, CURLOPT_PASSWORD, a->sk);
    pthread_mutex_unlock(&a->lock);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    /* a request that moves less than 1 KB/s for 60 s is dead (large bodies take their time) */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, rq->idle_timeout_s > 0 ? rq->idle_timeout_s : 60L);
    curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 300L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    if (!strcmp(rq->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(rq->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(rq->method, "DELETE") && !rq->body) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    return curl_easy_perform(h);
}

int mdp_aws_request(struct mdp_aws *a, const struct mdp_aws_request *rq,
                    struct mdp_aws_response *rs, struct mdp_diag *d)
{
    int rc = 0, s3 = !strcmp(rq->service, "s3");
    struct mdp_buf url;
    mdp_buf_init(&url);
    mdp_buf_reset(&rs->body);
    rs->status = 0;
    rs->attempts = 0;
    rs->error_code[0] = rs->error_message[0] = 0;
    char what[1200];
    describe(rq, what, sizeof what);
    const char *op = rq->op ? rq->op : rq->method;
    if (build_url(a, rq, &url)) {
        mdp_buf_cleanup(&url);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "%s %s %s: out of memory", rq->service, op, what);
    }
    CURL *h = handle_get(a);
    if (!h) {
        mdp_buf_cleanup(&url);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "%s %s: cannot start an HTTP client", rq->service,
                            op);
    }
    char sha[65], line[4200];
    int have_ct = 0;
    for (const char *const *hp = rq->headers; hp && *hp; hp++)
        if (!strncasecmp(*hp, "Content-Type:", 13)) have_ct = 1;
    if (s3 && mdp_sha256_hex(rq->body ? rq->body : "", rq->body ? rq->body_len : 0, sha)) {
        rc = mdp_diag_set(d, MDP_ERR_CRYPTO, "%s %s %s: SHA-256 of the payload failed", rq->service,
                          op, what);
        goto out;
    }
    long max_retries = rq->no_retry ? 0 : a->set.max_retries;
    int refreshed = 0;
    for (int attempt = 0;; attempt++) {
        struct curl_slist *hdrs = NULL, *t;
        int nomem = 0;
#define ADD(s)                                                                                     \
    do {                                                                                           \
        if ((t = curl_slist_append(hdrs, (s))))                                                    \
            hdrs = t;                                                                              \
        else                                                                                       \
            nomem = 1;                                                                             \
    } while (0)
        pthread_mutex_lock(&a->lock);
        rc = creds_fresh(a, 0, d);
        if (!rc && a->token) {
            snprintf(line, sizeof line, "x-amz-security-token: %s", a->token);
            ADD(line);
        }
        pthread_mutex_unlock(&a->lock);
        if (rc) {
            curl_slist_free_all(hdrs);
            goto out;
        }
        if (s3) {
            snprintf(line, sizeof line, "x-amz-content-sha256: %s", sha);
            ADD(line);
        }
        if (!have_ct && rq->body && strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD"))
            ADD("Content-Type: application/octet-stream");
        for (const char *const *hp = rq->headers; hp && *hp; hp++)
            ADD(*hp);
        if (nomem) {
            curl_slist_free_all(hdrs);
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "%s %s %s: out of memory", rq->service, op, what);
            goto out;
        }
#undef ADD
        if (attempt && rq->sink_reset && (rc = rq->sink_reset(rq->sink_ud))) {
            curl_slist_free_all(hdrs);
            mdp_diag_set(d, rc, "%s %s %s: cannot restart the download", rq->service, op, what);
            goto out;
        }
        struct xfer x = {rq, rs, 0, 0, 0};
        mdp_buf_reset(&rs->body);
        rs->error_code[0] = rs->error_message[0] = 0;
        rs->attempts = attempt + 1;
        if (attempt) curl_easy_reset(h);
        CURLcode cc = perform(a, h, rq, url.data, hdrs, &x);
        curl_slist_free_all(hdrs);
        long status = 0;
        if (cc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        rs->status = status;
        if (x.nomem) {
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "%s %s %s: out of memory reading the answer",
                              rq->service, op, what);
            goto out;
        }
        if (x.sink_err) {
            rc = d && d->code ? d->code : MDP_ERR_IO;
            if (!(d && d->code))
                mdp_diag_set(d, MDP_ERR_IO, "%s %s %s: the download was stopped", rq->service, op,
                             what);
            goto out;
        }
        int retry = 0;
        if (cc != CURLE_OK) {
            retry = cc != CURLE_URL_MALFORMAT && cc != CURLE_UNSUPPORTED_PROTOCOL &&
                    cc != CURLE_OUT_OF_MEMORY && cc != CURLE_BAD_FUNCTION_ARGUMENT;
            if (!retry || attempt >= max_retries) {
                rc = mdp_diag_set(
                    d, MDP_ERR_IO, "%s %s %s: %s%s (%s) after %d attempt%s", rq->service, op, what,
                    curl_easy_strerror(cc), mdp_net_curl_hint(cc),
                    a->endpoint[0] ? a->endpoint : "AWS endpoint", attempt + 1, attempt ? "s" : "");
                goto out;
            }
            mdp_log(MDP_LOG_WARN, "aws request failed, retrying", LOG_STR("service", rq->service),
                    LOG_STR("op", op), LOG_STR("error", curl_easy_strerror(cc)),
                    LOG_INT("attempt", attempt + 1), MDP_LF_END);
        } else if ((status >= 200 && status < 300) || status == 304) {
            rc = 0;
            if (mdp_log_get_level() <= MDP_LOG_DEBUG)
                mdp_log(MDP_LOG_DEBUG, "aws request", LOG_STR("service", rq->service),
                        LOG_STR("op", op), LOG_INT("status", status),
                        LOG_INT("attempt", attempt + 1), MDP_LF_END);
            goto out;
        } else {
            mdp__aws_parse_error_body(rs);
            if (!rs->error_code[0] && status == 404 && !strcmp(rq->method, "HEAD"))
                snprintf(rs->error_code, sizeof rs->error_code, "NotFound");
            if (!refreshed && code_in(rs->error_code, EXPIRED) && a->src != SRC_ENV &&
                a->src != SRC_FILE) {
                refreshed = 1;
                pthread_mutex_lock(&a->lock);
                rc = creds_fresh(a, 1, d);
                pthread_mutex_unlock(&a->lock);
                if (rc) goto out;
                attempt--;
                continue;
            }
            retry = retryable(status, rs->error_code);
            if (mdp_log_get_level() <= MDP_LOG_DEBUG)
                mdp_log(MDP_LOG_DEBUG, "aws request", LOG_STR("service", rq->service),
                        LOG_STR("op", op), LOG_INT("status", status),
                        LOG_STR("code", rs->error_code), LOG_INT("attempt", attempt + 1),
                        MDP_LF_END);
            if (!retry || attempt >= max_retries) {
                rc = map_error(a, rq, rs, d);
                goto out;
            }
            mdp_log(MDP_LOG_WARN, "aws request throttled or failed, retrying",
                    LOG_STR("service", rq->service), LOG_STR("op", op), LOG_INT("status", status),
                    LOG_STR("code", rs->error_code), LOG_INT("attempt", attempt + 1), MDP_LF_END);
        }
        /* full jitter: a random wait in [0, min(base * 2^attempt, 200 * base, 20 s)] */
        int64_t cap = a->set.retry_base_ms << (attempt < 20 ? attempt : 20);
        if (cap > 200 * a->set.retry_base_ms) cap = 200 * a->set.retry_base_ms;
        if (cap > 20000) cap = 20000;
        sleep_ms(cap > 0 ? (int64_t)(jitter_rand() % (uint64_t)(cap + 1)) : 0);
    }
out:
    handle_put(a, h);
    mdp_buf_cleanup(&url);
    return rc;
}

int mdp_aws_json(struct mdp_aws *a, const char *service, const char *json_version,
                 const char *target, const char *body, struct json_object **out, char *err_type,
                 size_t err_type_len, struct mdp_diag *d)
{
    *out = NULL;
    if (err_type && err_type_len) err_type[0] = 0;
    char tgt[256], ct[80];
    snprintf(tgt, sizeof tgt, "X-Amz-Target: %s", target);
    snprintf(ct, sizeof ct, "Content-Type: application/x-amz-json-%s",
             json_version ? json_version : "1.0");
    const char *hdrs[] = {tgt, ct, NULL};
    const char *dot = strrchr(target, '.');
    const char *b = body ? body : "{}";
    struct mdp_aws_request rq = {.method = "POST",
                                 .service = service,
                                 .op = dot ? dot + 1 : target,
                                 .headers = hdrs,
                                 .body = b,
                                 .body_len = strlen(b)};
    struct mdp_aws_response rs;
    mdp_aws_response_init(&rs);
    int rc = mdp_aws_request(a, &rq, &rs, d);
    if (rc) {
        if (err_type && err_type_len) snprintf(err_type, err_type_len, "%s", rs.error_code);
        mdp_aws_response_cleanup(&rs);
        return rc;
    }
    struct json_tokener *tok = json_tokener_new();
    if (!tok) {
        mdp_aws_response_cleanup(&rs);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "%s %s: out of memory", service, rq.op);
    }
    const char *text = rs.body.data ? rs.body.data : "";
    json_object *j = json_tokener_parse_ex(tok, text, (int)strlen(text));
    if (!j || json_tokener_get_error(tok) != json_tokener_success) {
        if (j) json_object_put(j);
        json_tokener_free(tok);
        rc = mdp_diag_set(d, MDP_ERR_PARSE, "%s %s: the answer is not JSON (%zu bytes, HTTP %ld)",
                          service, rq.op, rs.body.len, rs.status);
        mdp_aws_response_cleanup(&rs);
        return rc;
    }
    json_tokener_free(tok);
    mdp_aws_response_cleanup(&rs);
    *out = j;
    return 0;
}
