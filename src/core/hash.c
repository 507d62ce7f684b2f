/* Hashing and email pseudonymization on OpenSSL's EVP interfaces (include/mdp/hash.h). */
#include "mdp/hash.h"
#include "mdp/err.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mdp_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int digest_hex(const EVP_MD *md, const void *data, size_t len, char *out_hex)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, d, &n, md, NULL)) return MDP_ERR_CRYPTO;
    mdp_hex_encode(d, n, out_hex);
    return 0;
}

int mdp_sha256_hex(const void *data, size_t len, char out_hex[65])
{
    return digest_hex(EVP_sha256(), data, len, out_hex);
}

struct mdp_sha256 *mdp_sha256_new(void)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    return (struct mdp_sha256 *)c;
}

int mdp_sha256_update(struct mdp_sha256 *h, const void *data, size_t len)
{
    return EVP_DigestUpdate((EVP_MD_CTX *)h, data, len) ? 0 : MDP_ERR_CRYPTO;
}

int mdp_sha256_final_hex(struct mdp_sha256 *h, char out_hex[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = EVP_DigestFinal_ex((EVP_MD_CTX *)h, d, &n);
    EVP_MD_CTX_free((EVP_MD_CTX *)h);
    if (!ok) return MDP_ERR_CRYPTO;
    mdp_hex_encode(d, n, out_hex);
    return 0;
}

void mdp_sha256_free(struct mdp_sha256 *h)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)h);
}

int mdp_sha256_file(const char *path, char out_hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? MDP_ERR_NOT_FOUND : MDP_ERR_IO;
    struct mdp_sha256 *h = mdp_sha256_new();
    char *buf = malloc((size_t)1 << 20);
    int rc = h && buf ? 0 : MDP_ERR_NOMEM;
    size_t n;
    while (!rc && (n = fread(buf, 1, (size_t)1 << 20, f)) > 0)
        rc = mdp_sha256_update(h, buf, n);
    if (!rc && ferror(f)) rc = MDP_ERR_IO;
    fclose(f);
    free(buf);
    if (rc) {
        mdp_sha256_free(h);
        return rc;
    }
    return mdp_sha256_final_hex(h, out_hex);
}

int mdp_md5_hex(const void *data, size_t len, char out_hex[33])
{
    return digest_hex(EVP_md5(), data, len, out_hex);
}

int mdp_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
                        char out_hex[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, d, &n)) return MDP_ERR_CRYPTO;
    mdp_hex_encode(d, n, out_hex);
    return 0;
}

static int is_ascii_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int mdp_email_normalize(const char *email, char *out, size_t outsz)
{
    const unsigned char *s = (const unsigned char *)email;
    size_t n = strlen(email);
    while (n && is_ascii_space(*s))
        s++, n--;
    while (n && is_ascii_space(s[n - 1]))
        n--;
    if (n == 0) return MDP_ERR_INVALID;
    if (n + 1 > outsz) return MDP_ERR_RANGE;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[n] = '\0';
    return (int)n;
}

int mdp_email_hash(const char *email, char out_hex[65])
{
    char norm[512];
    int n = mdp_email_normalize(email, norm, sizeof norm);
    if (n < 0) return n;
    return mdp_sha256_hex(norm, (size_t)n, out_hex);
}

int mdp_email_hash_keyed(const char *email, const void *key, size_t keylen, char out_hex[65])
{
    char norm[512];
    int n = mdp_email_normalize(email, norm, sizeof norm);
    if (n < 0) return n;
    if (!key || keylen == 0) return MDP_ERR_INVALID;
    return mdp_hmac_sha256_hex(key, keylen, norm, (size_t)n, out_hex);
}
