/* DOI tokens (double opt-in, spec 1 VcTokens): issue, confirm once, purge after the TTL. The state
 * store keeps, under table "vc_tokens" and partition = the token's SHA-256, the item "token"
 * (address, requesting IP, status, expiry) and, once confirmed, the item "confirmation", written
 * with a conditional put so that a token is confirmed exactly once even when two requests race. */
#include "mdp/consent.h"
#include "mdp/hash.h"
#include "mdp/pseudonym.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKENS "vc_tokens"

static int64_t ttl_seconds(int64_t expires_ms)
{
    return (expires_ms + 999) / 1000;
}

int mdp_doi_issue(struct mdp_state *s, const char *email, const char *ip, int64_t now_ms,
                  char token_out[MDP_DOI_TOKEN_LEN + 1], struct mdp_diag *d)
{
    struct mdp_consent_record subj = {0};
    int rc = mdp_consent_subject(&subj, email, NULL, d);
    if (rc) return rc;
    if (!email || !*email)
        return mdp_diag_set(d, MDP_ERR_INVALID, "a DOI token needs an email address");
    unsigned char a[16];
    if (ip && *ip && inet_pton(AF_INET, ip, a) != 1 && inet_pton(AF_INET6, ip, a) != 1)
        return mdp_diag_set(d, MDP_ERR_INVALID, "'%s' is not an IPv4 or IPv6 address", ip);
    unsigned char raw[MDP_DOI_TOKEN_LEN / 2];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return mdp_diag_set(d, MDP_ERR_CRYPTO, "the random generator failed");
    mdp_hex_encode(raw, sizeof raw, token_out);
    char th[65];
    if (mdp_sha256_hex(token_out, MDP_DOI_TOKEN_LEN, th))
        return mdp_diag_set(d, MDP_ERR_CRYPTO, "SHA-256 failed");
    int64_t exp = now_ms + MDP_DOI_TTL_MS;
    json_object *o = json_object_new_object();
    if (!o) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    json_object_object_add(o, "token_hash", json_object_new_string(th));
    json_object_object_add(o, "email_lower", json_object_new_string(subj.email_lower));
    json_object_object_add(o, "ip_start", ip && *ip ? json_object_new_string(ip) : NULL);
    json_object_object_add(o, "status", json_object_new_string("pending"));
    json_object_object_add(o, "created_ms", json_object_new_int64(now_ms));
    json_object_object_add(o, "expires_at_ms", json_object_new_int64(exp));
    struct mdp_state_item it = {
        th, "token", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), ttl_seconds(exp)};
    /* the token names the address: indexed by its pseudonym, so erasure and export find it
     * without a scan */
    unsigned char key[MDP_SUBJECT_KEY_LEN];
    char subject[65];
    rc = mdp_subject_key(s, key, d);
    if (!rc) rc = mdp_subject_pseudonym(key, MDP_PSEUDONYM_EMAIL, subj.email_lower, subject, d);
    OPENSSL_cleanse(key, sizeof key);
    if (!rc) rc = mdp_state_put_subject(s, TOKENS, &it, subject, MDP_STATE_IF_ABSENT, d);
    json_object_put(o);
    if (rc) memset(token_out, 0, MDP_DOI_TOKEN_LEN + 1);
    return rc;
}

struct find_grant {
    const char *evidence;
    int64_t seq;
};

static int find_grant_cb(const struct mdp_consent_record *r, void *ud)
{
    struct find_grant *f = ud;
    if (strcmp(r->evidence, f->evidence) == 0) f->seq = r->seq;
    return 0;
}

/* Appends the vc_report grant r of token th unless the journal already holds it (a grant that was
 * appended before a crash kept it from being noted on the claim), then notes its seq on the
 * claim, which completes the confirmation; the claim expires with the token (exp_ms). r->seq gets
 * the grant's seq. */
static int finish_grant(struct mdp_state *s, const char *th, struct mdp_consent_record *r,
                        int64_t now_ms, int64_t exp_ms, struct mdp_diag *d)
{
    struct find_grant f = {r->evidence, -1};
    int rc = 0;
    char *claim = NULL;
    if (mdp_state_get(s, TOKENS, th, "confirmation", &claim, NULL, d) == 0 &&
        strstr(claim, "\"finishing\"")) /* a finish was tried before: look for its grant */
        rc = mdp_consent_each(s, find_grant_cb, &f, d);
    free(claim);
    if (rc) return rc;
    if (f.seq >= 0) {
        r->seq = f.seq;
    } else {
        /* mark the attempt first, so that a retry after a crash looks for this grant */
        char mb[96];
        snprintf(mb, sizeof mb, "{\"confirmed_ms\":%lld,\"finishing\":true}", (long long)r->ts_ms);
        struct mdp_state_item m = {th, "confirmation", mb, ttl_seconds(exp_ms)};
        if ((rc = mdp_state_put(s, TOKENS, &m, 0, d))) return rc;
        if ((rc = mdp_consent_append(s, r, now_ms, d))) return rc;
    }
    char cb[96];
    snprintf(cb, sizeof cb, "{\"confirmed_ms\":%lld,\"seq\":%lld}", (long long)r->ts_ms,
             (long long)r->seq);
    struct mdp_state_item c = {th, "confirmation", cb, ttl_seconds(exp_ms)};
    return mdp_state_put(s, TOKENS, &c, 0, d);
}

int mdp_doi_confirm(struct mdp_state *s, const char *token, int64_t now_ms, int *result,
                    int64_t *seq_out, struct mdp_diag *d)
{
    *result = MDP_DOI_UNKNOWN;
    char norm[MDP_DOI_TOKEN_LEN + 1];
    size_t n = strlen(token);
    if (n != MDP_DOI_TOKEN_LEN) return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)token[i])) return 0;
        norm[i] = (char)tolower((unsigned char)token[i]);
    }
    norm[n] = '\0';
    char th[65];
    if (mdp_sha256_hex(norm, n, th)) return mdp_diag_set(d, MDP_ERR_CRYPTO, "SHA-256 failed");
    char *body = NULL;
    int rc = mdp_state_get(s, TOKENS, th, "token", &body, NULL, d);
    if (rc == MDP_ERR_NOT_FOUND) return 0;
    if (rc) return rc;
    json_object *o = json_tokener_parse(body);
    free(body);
    json_object *v;
    if (!o || !json_object_object_get_ex(o, "expires_at_ms", &v)) {
        json_object_put(o);
        return mdp_diag_set(d, MDP_ERR_PARSE, "the stored token %.12s... is unreadable", th);
    }
    int64_t exp = json_object_get_int64(v);
    struct mdp_consent_record r = {0};
    if (json_object_object_get_ex(o, "email_lower", &v) && json_object_is_type(v, json_type_string))
        snprintf(r.email_lower, sizeof r.email_lower, "%s", json_object_get_string(v));
    strcpy(r.purpose, "vc_report");
    r.granted = 1;
    strcpy(r.source, "doi");
    snprintf(r.evidence, sizeof r.evidence, "doi:%s", th);
    char *claim = NULL;
    rc = mdp_state_get(s, TOKENS, th, "confirmation", &claim, NULL, d);
    if (rc == 0) {
        /* claimed before: used, unless the claim never got its grant (a failure or a crash
         * between the two) and is old enough that no confirmation is still writing it */
        *result = MDP_DOI_USED;
        json_object *c = json_tokener_parse(claim), *cv;
        int64_t claimed = c && json_object_object_get_ex(c, "confirmed_ms", &cv)
                              ? json_object_get_int64(cv)
                              : now_ms;
        int granted = c && json_object_object_get_ex(c, "seq", &cv);
        json_object_put(c);
        if (!granted && now_ms - claimed >= MDP_DOI_FINISH_AFTER_MS) {
            r.ts_ms = claimed;
            rc = finish_grant(s, th, &r, now_ms, exp, d);
            if (!rc) {
                *result = MDP_DOI_CONFIRMED;
                if (seq_out) *seq_out = r.seq;
            }
        }
    } else if (rc != MDP_ERR_NOT_FOUND) {
        /* keep rc */
    } else if (now_ms >= exp) {
        *result = MDP_DOI_EXPIRED;
        rc = 0;
    } else {
        /* the claim and the token's new status in one transaction, then the grant, then the
         * grant's seq on the claim (what marks the confirmation complete) */
        char cb[64];
        snprintf(cb, sizeof cb, "{\"confirmed_ms\":%lld}", (long long)now_ms);
        json_object_object_add(o, "status", json_object_new_string("confirmed"));
        struct mdp_state_write w[2] = {
            {.op = MDP_STATE_PUT,
             .table = TOKENS,
             .item = {th, "confirmation", cb, ttl_seconds(exp)},
             .flags = MDP_STATE_IF_ABSENT},
            {.op = MDP_STATE_PUT,
             .table = TOKENS,
             .item = {th, "token", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                      ttl_seconds(exp)}}};
        rc = mdp_state_transact(s, w, 2, d);
        if (rc == MDP_ERR_EXISTS) {
            *result = MDP_DOI_USED;
            rc = 0;
        } else if (rc == 0) {
            r.ts_ms = now_ms;
            rc = finish_grant(s, th, &r, now_ms, exp, d);
            if (!rc) {
                *result = MDP_DOI_CONFIRMED;
                if (seq_out) *seq_out = r.seq;
            }
        }
    }
    free(claim);
    json_object_put(o);
    return rc;
}

int mdp_doi_purge(struct mdp_state *s, int64_t now_ms, int *n_out, struct mdp_diag *d)
{
    return mdp_state_purge_expired(s, TOKENS, now_ms / 1000, n_out, d);
}
