/* Keyed subject pseudonyms and the lake's subject key (include/mdp/pseudonym.h). */
#include "mdp/pseudonym.h"
#include "mdp/hash.h"
#include "mdp/state.h"
#include "mdp/time.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_TABLE "subject_key"
#define KEY_PK    "key"
#define KEY_SK    "v1"

static int unhex(const char *hex, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + (size_t)k];
            int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (x < 0) return -1;
            v = v * 16 + (unsigned)x;
        }
        out[i] = (unsigned char)v;
    }
    return hex[2 * n] == '\0' ? 0 : -1;
}

/* The stored body: {"key_hex":"<64 hex>","created_ms":N}. */
static int parse_key(const char *body, unsigned char key[MDP_SUBJECT_KEY_LEN])
{
    const char *p = strstr(body, "\"key_hex\":\"");
    if (!p) return -1;
    p += strlen("\"key_hex\":\"");
    char hex[2 * MDP_SUBJECT_KEY_LEN + 1];
    if (strlen(p) < sizeof hex || p[sizeof hex - 1] != '"') return -1;
    memcpy(hex, p, sizeof hex - 1);
    hex[sizeof hex - 1] = '\0';
    return unhex(hex, key, MDP_SUBJECT_KEY_LEN);
}

int mdp_subject_key_find(struct mdp_state *s, unsigned char key[MDP_SUBJECT_KEY_LEN], int *found,
                         struct mdp_diag *d)
{
    *found = 0;
    char *body = NULL;
    int rc = mdp_state_get(s, KEY_TABLE, KEY_PK, KEY_SK, &body, NULL, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        if (d) memset(d, 0, sizeof *d);
        return 0;
    }
    if (rc) return rc;
    int bad = parse_key(body, key);
    free(body);
    if (bad)
        return mdp_diag_set(d, MDP_ERR_PARSE,
                            "state store table %s: the subject key is not 64 hex characters",
                            KEY_TABLE);
    *found = 1;
    return 0;
}

int mdp_subject_key(struct mdp_state *s, unsigned char key[MDP_SUBJECT_KEY_LEN], struct mdp_diag *d)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        char *body = NULL;
        int rc = mdp_state_get(s, KEY_TABLE, KEY_PK, KEY_SK, &body, NULL, d);
        if (rc == 0) {
            int bad = parse_key(body, key);
            free(body);
            if (bad)
                return mdp_diag_set(d, MDP_ERR_PARSE,
                                    "state store table %s: the subject key is not 64 hex "
                                    "characters",
                                    KEY_TABLE);
            return 0;
        }
        if (rc != MDP_ERR_NOT_FOUND) return rc;
        unsigned char fresh[MDP_SUBJECT_KEY_LEN];
        char hex[2 * MDP_SUBJECT_KEY_LEN + 1], nb[160];
        if (RAND_bytes(fresh, sizeof fresh) != 1)
            return mdp_diag_set(d, MDP_ERR_CRYPTO, "no random bytes for the subject key");
        mdp_hex_encode(fresh, sizeof fresh, hex);
        snprintf(nb, sizeof nb, "{\"key_hex\":\"%s\",\"created_ms\":%lld}", hex,
                 (long long)mdp_time_now_ms());
        OPENSSL_cleanse(fresh, sizeof fresh);
        struct mdp_state_item it = {KEY_PK, KEY_SK, nb, 0};
        rc = mdp_state_put(s, KEY_TABLE, &it, MDP_STATE_IF_ABSENT, d);
        OPENSSL_cleanse(nb, sizeof nb);
        OPENSSL_cleanse(hex, sizeof hex);
        if (rc && rc != MDP_ERR_EXISTS) return rc;
        /* written, or another process won the race: read what is stored */
    }
    return mdp_diag_set(d, MDP_ERR_IO, "the subject key could not be read back");
}

int mdp_subject_pseudonym(const unsigned char key[MDP_SUBJECT_KEY_LEN],
                          enum mdp_pseudonym_kind kind, const char *value, char out[65],
                          struct mdp_diag *d)
{
    char buf[16 + 256];
    size_t pre;
    out[0] = '\0';
    if (kind == MDP_PSEUDONYM_EMAIL)
        pre = (size_t)snprintf(buf, sizeof buf, "email:");
    else if (kind == MDP_PSEUDONYM_USER_ID)
        pre = (size_t)snprintf(buf, sizeof buf, "user_id:");
    else if (kind == MDP_PSEUDONYM_EMAIL_SHA256)
        pre = (size_t)snprintf(buf, sizeof buf, "email_sha256:");
    else
        return mdp_diag_set(d, MDP_ERR_INVALID, "unknown subject kind %d", (int)kind);
    /* mdp_email_normalize trims and lower-cases; the same normalization serves ids */
    int n = mdp_email_normalize(value ? value : "", buf + pre, sizeof buf - pre);
    const char *what = kind == MDP_PSEUDONYM_EMAIL     ? "address"
                       : kind == MDP_PSEUDONYM_USER_ID ? "user id"
                                                       : "SHA-256";
    if (n == MDP_ERR_RANGE) return mdp_diag_set(d, n, "the %s is longer than 255 bytes", what);
    if (n < 0) return mdp_diag_set(d, MDP_ERR_INVALID, "the %s is empty", what);
    if (kind == MDP_PSEUDONYM_EMAIL && !strchr(buf + pre, '@'))
        return mdp_diag_set(d, MDP_ERR_INVALID, "the address has no '@'");
    if (kind == MDP_PSEUDONYM_EMAIL_SHA256 &&
        (n != 64 || strspn(buf + pre, "0123456789abcdef") != 64))
        return mdp_diag_set(d, MDP_ERR_INVALID, "a SHA-256 is 64 hex characters");
    int rc = mdp_hmac_sha256_hex(key, MDP_SUBJECT_KEY_LEN, buf, pre + (size_t)n, out);
    OPENSSL_cleanse(buf, sizeof buf);
    return rc ? mdp_diag_set(d, MDP_ERR_CRYPTO, "HMAC-SHA256 failed") : 0;
}
