/* SNS signature verification, internal to the ses connector (and the HTTP endpoint later). */
#ifndef MDP_SNS_VERIFY_H
#define MDP_SNS_VERIFY_H

#include <json-c/json.h>
#include <stddef.h>
#include "mdp/buf.h"

/* 1 if url is an https .pem URL on sns.<region>.amazonaws.com(.cn). */
int mdp__sns_cert_url_ok(const char *url);
/* The string AWS signs for this envelope (by its Type). 0, or -1 when a signed field is missing. */
int mdp__sns_string_to_sign(json_object *env, struct mdp_buf *out);
/* 0 if the envelope's signature verifies with the certificate of its SigningCertURL (from the cache
 * folder, or fetched when may_fetch); else -1 with the reason in why. */
int mdp__sns_verify(json_object *env, const char *cert_cache, int may_fetch, char *why, size_t wn);

#endif
