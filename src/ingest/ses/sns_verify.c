/* SNS message signature verification (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) as AWS
 * documents it: the signing certificate must come from an https URL on an SNS host
 * (sns.<region>.amazonaws.com[.cn]) and end in .pem; the string to sign is the message's fields in
 * a fixed order, each name and value followed by a newline. Certificates are cached by the SHA-256
 * of their URL in a folder (fetched with libcurl on a miss), so a replay does not refetch them. */
#include "sns_verify.h"
#include "../ingest_internal.h"
#include "mdp/alloc.h"
#include "mdp/buf.h"
#include "mdp/hash.h"
#include "mdp/net.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mdp__sns_cert_url_ok(const char *url)
{
    if (!url || strncmp(url, "https://", 8) != 0) return 0;
    const char *host = url + 8, *slash = strchr(host, '/');
    if (!slash) return 0;
    size_t hl = (size_t)(slash - host);
    char h[256];
    if (hl >= sizeof h) return 0;
    memcpy(h, host, hl);
    h[hl] = '\0';
    /* sns.<region>.amazonaws.com or sns.<region>.amazonaws.com.cn, nothing else */
    if (strncmp(h, "sns.", 4) != 0) return 0;
    const char *region = h + 4, *dot = strchr(region, '.');
    if (!dot || dot == region) return 0;
    for (const char *q = region; q < dot; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-')) return 0;
    if (strcmp(dot, ".amazonaws.com") != 0 && strcmp(dot, ".amazonaws.com.cn") != 0) return 0;
    size_t ul = strlen(url);
    return ul > 4 && strcmp(url + ul - 4, ".pem") == 0 && !strchr(url, '?') && !strchr(url, '#');
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct mdp_buf *b = ud;
    if (b->len + size * n > (1u << 16)) return 0; /* a certificate is small */
    return mdp_buf_append(b, p, size * n) ? 0 : size * n;
}

static int fetch(const char *url, struct mdp_buf *out, char *why, size_t wn)
{
    CURL *c = curl_easy_init();
    if (!c) return snprintf(why, wn, "cannot start an HTTP client"), -1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    mdp_net_curl_tls(c);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return snprintf(why, wn, "cannot fetch the signing certificate: %s",
                        curl_easy_strerror(rc)),
               -1;
    if (status != 200)
        return snprintf(why, wn, "fetching the signing certificate: HTTP %ld", status), -1;
    return 0;
}

/* The certificate for url: from the cache folder, else fetched (and cached). */
static X509 *load_cert(const char *url, const char *cache, int may_fetch, char *why, size_t wn)
{
    char hex[65], path[1024];
    mdp_sha256_hex(url, strlen(url), hex);
    struct mdp_buf pem;
    mdp_buf_init(&pem);
    int have = 0;
    if (cache) {
        snprintf(path, sizeof path, "%s/%s.pem", cache, hex);
        FILE *f = fopen(path, "rb");
        if (f) {
            char buf[4096];
            size_t k;
            while ((k = fread(buf, 1, sizeof buf, f)) > 0)
                mdp_buf_append(&pem, buf, k);
            fclose(f);
            if (mdp_buf_error(&pem)) {
                snprintf(why, wn, "out of memory reading the cached signing certificate");
                mdp_buf_cleanup(&pem);
                return NULL;
            }
            have = pem.len > 0;
        }
    }
    if (!have) {
        if (!may_fetch) {
            snprintf(why, wn, "signing certificate not in the cache and fetching is off");
            mdp_buf_cleanup(&pem);
            return NULL;
        }
        if (fetch(url, &pem, why, wn)) {
            mdp_buf_cleanup(&pem);
            return NULL;
        }
        if (cache) {
            FILE *f = fopen(path, "wb");
            if (f) {
                fwrite(pem.data, 1, pem.len, f);
                fclose(f);
            }
        }
    }
    BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    mdp_buf_cleanup(&pem);
    if (!x) snprintf(why, wn, "the signing certificate is not PEM");
    return x;
}

static int add_field(struct mdp_buf *b, json_object *env, const char *name, int optional)
{
    json_object *v;
    if (!json_object_object_get_ex(env, name, &v) || !json_object_is_type(v, json_type_string))
        return optional ? 0 : -1;
    mdp_buf_printf(b, "%s\n%s\n", name, json_object_get_string(v));
    return 0;
}

int mdp__sns_string_to_sign(json_object *env, struct mdp_buf *out)
{
    json_object *t;
    if (!json_object_object_get_ex(env, "Type", &t) || !json_object_is_type(t, json_type_string))
        return -1;
    const char *type = json_object_get_string(t);
    int rc = add_field(out, env, "Message", 0) | add_field(out, env, "MessageId", 0);
    if (strcmp(type, "Notification") == 0) {
        rc |= add_field(out, env, "Subject", 1);
        rc |= add_field(out, env, "Timestamp", 0) | add_field(out, env, "TopicArn", 0) |
              add_field(out, env, "Type", 0);
    } else if (strcmp(type, "SubscriptionConfirmation") == 0 ||
               strcmp(type, "UnsubscribeConfirmation") == 0) {
        rc |= add_field(out, env, "SubscribeURL", 0) | add_field(out, env, "Timestamp", 0) |
              add_field(out, env, "Token", 0) | add_field(out, env, "TopicArn", 0) |
              add_field(out, env, "Type", 0);
    } else {
        return -1;
    }
    return rc ? -1 : 0;
}

int mdp__sns_verify(json_object *env, const char *cert_cache, int may_fetch, char *why, size_t wn)
{
    json_object *v;
    const char *ver =
        json_object_object_get_ex(env, "SignatureVersion", &v) ? json_object_get_string(v) : NULL;
    const EVP_MD *md = ver && strcmp(ver, "1") == 0   ? EVP_sha1()
                       : ver && strcmp(ver, "2") == 0 ? EVP_sha256()
                                                      : NULL;
    if (!md) return snprintf(why, wn, "SignatureVersion must be 1 or 2"), -1;
    const char *url = NULL;
    if (json_object_object_get_ex(env, "SigningCertURL", &v) ||
        json_object_object_get_ex(env, "SigningCertUrl", &v)) /* the Lambda SNS event's casing */
        url = json_object_get_string(v);
    if (!mdp__sns_cert_url_ok(url))
        return snprintf(why, wn, "SigningCertURL is not an https .pem URL on an SNS host"), -1;
    const char *sig64 =
        json_object_object_get_ex(env, "Signature", &v) ? json_object_get_string(v) : NULL;
    if (!sig64 || !*sig64) return snprintf(why, wn, "no Signature"), -1;
    struct mdp_buf sts;
    mdp_buf_init(&sts);
    if (mdp__sns_string_to_sign(env, &sts)) {
        mdp_buf_cleanup(&sts);
        return snprintf(why, wn, "a field that is signed is missing"), -1;
    }
    if (mdp_buf_error(&sts)) {
        mdp_buf_cleanup(&sts);
        return snprintf(why, wn, "out of memory building the string to sign"), -1;
    }
    size_t sl = strlen(sig64);
    unsigned char *sig = mdp_malloc(sl + 3);
    if (!sig) {
        mdp_buf_cleanup(&sts);
        return snprintf(why, wn, "out of memory decoding the Signature"), -1;
    }
    int siglen = sig ? EVP_DecodeBlock(sig, (const unsigned char *)sig64, (int)sl) : -1;
    if (siglen > 0) /* EVP_DecodeBlock counts padding as data */
        for (size_t i = sl; i > 0 && sig64[i - 1] == '='; i--)
            siglen--;
    int ok = -1;
    if (siglen <= 0) {
        snprintf(why, wn, "Signature is not base64");
    } else {
        X509 *cert = load_cert(url, cert_cache, may_fetch, why, wn);
        EVP_PKEY *key = cert ? X509_get_pubkey(cert) : NULL;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (key && ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
            EVP_DigestVerify(ctx, sig, (size_t)siglen, (const unsigned char *)sts.data, sts.len) ==
                1)
            ok = 0;
        else if (cert)
            snprintf(why, wn, "the signature does not match the message");
        EVP_MD_CTX_free(ctx);
        EVP_PKEY_free(key);
        X509_free(cert);
    }
    free(sig);
    mdp_buf_cleanup(&sts);
    return ok;
}

int mdp_ingest_sns_verify(const char *envelope, size_t len, const char *cert_cache, int may_fetch,
                          char *why, size_t wn)
{
    enum json_tokener_error jerr;
    json_object *env = mdp__json_exact(envelope, len, &jerr);
    if (!env || !json_object_is_type(env, json_type_object)) {
        json_object_put(env);
        snprintf(why, wn, "the SNS message is not a JSON object");
        return MDP_ERR_INVALID;
    }
    int rc = mdp__sns_verify(env, cert_cache, may_fetch, why, wn) ? MDP_ERR_INVALID : 0;
    json_object_put(env);
    return rc;
}
