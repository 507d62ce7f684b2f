/* API keys of the service (server.h, include/mdp/serve.h): serve.keys holds NAME:SCOPES:SHA256
 * items, never a key; a request's Bearer key is hashed and compared with every item in constant
 * time. */
#include "mdp/hash.h"
#include "mdp/serve.h"
#include "server.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

int mdp__keys_parse(const struct mdp_config *cfg, struct mdp__key **out, int *n, struct mdp_diag *d)
{
    const struct mdp_strlist *l = &cfg->serve_keys;
    struct mdp__key *v = calloc((size_t)(l->n ? l->n : 1), sizeof *v);
    if (!v) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < l->n; i++) {
        char item[300];
        snprintf(item, sizeof item, "%s", l->v[i]);
        char *a = strchr(item, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        int ok = a && b && a > item && a - item < 48 && strlen(b + 1) == 64;
        for (const char *p = b ? b + 1 : ""; ok && *p; p++)
            ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');
        if (ok) {
            *a = *b = '\0';
            snprintf(v[i].name, sizeof v[i].name, "%.47s", item);
            memcpy(v[i].hash, b + 1, 65);
            for (char *t = strtok(a + 1, "+"); ok && t; t = strtok(NULL, "+")) {
                int sc = !strcmp(t, "collect")       ? MDP__SCOPE_COLLECT
                         : !strcmp(t, "personalize") ? MDP__SCOPE_PERSONALIZE
                         : !strcmp(t, "admin")       ? MDP__SCOPE_ADMIN
                                                     : 0;
                ok = sc != 0;
                v[i].scopes |= sc;
            }
            ok = ok && v[i].scopes;
        }
        if (!ok) {
            free(v);
            /* the item names a hash, never a key: it may be shown */
            return mdp_diag_set(d, MDP_ERR_CONFIG,
                                "serve.keys: item %d is not NAME:SCOPES:SHA256 (SCOPES of "
                                "collect, personalize, admin joined by +; SHA256 64 lower-case "
                                "hex digits)",
                                i + 1);
        }
    }
    *out = v;
    *n = l->n;
    return 0;
}

int mdp_serve_keys_check(const struct mdp_config *cfg, struct mdp_diag *d)
{
    struct mdp__key *v;
    int n;
    int rc = mdp__keys_parse(cfg, &v, &n, d);
    if (!rc) free(v);
    return rc;
}

int mdp_serve_key_new(char token_out[65], char hash_out[65])
{
    unsigned char raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) return MDP_ERR_IO;
    mdp_hex_encode(raw, sizeof raw, token_out);
    token_out[64] = '\0';
    return mdp_sha256_hex(token_out, 64, hash_out);
}

int mdp__authorize(const struct mdp_server *s, struct MHD_Connection *c, int scope)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 401;
    char hash[65];
    const char *tok = h + 7;
    size_t len = strlen(tok);
    /* a thread remembers the last key it verified (a client sends the same key again and again):
     * compared in constant time, so a match saves the hash and a miss tells nothing */
    static __thread char last[128];
    static __thread size_t last_len;
    static __thread int last_key = -1;
    static __thread const struct mdp_server *last_server;
    int found = -1;
    if (last_server == s && last_key >= 0 && len == last_len && CRYPTO_memcmp(tok, last, len) == 0)
        found = last_key;
    if (found < 0) {
        if (mdp_sha256_hex(tok, len, hash)) return 401;
        for (int i = 0; i < s->nkeys; i++) /* every key is compared: the time tells not which */
            if (CRYPTO_memcmp(hash, s->keys[i].hash, 64) == 0) found = i;
        if (found < 0) return 401;
        if (len < sizeof last) {
            memcpy(last, tok, len);
            last_len = len;
            last_key = found;
            last_server = s;
        }
    }
    return (s->keys[found].scopes & scope) ? 0 : 403;
}
