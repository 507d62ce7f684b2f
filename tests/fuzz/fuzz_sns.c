/* Fuzz target: the readers of an SNS envelope (the SES feedback topic's HTTP delivery to
 * `mdp serve`, and SNS envelopes inside SQS deliveries): the event day of its SES message
 * (routes_sns.c), the string to sign (a message missing a signed field is refused, never read past),
 * the signature check without a certificate (it must refuse: nothing is fetched, nothing cached),
 * and the input's bytes as a SigningCertURL. Each must answer, never crash. */
#include "mdp/buf.h"
#include "../../src/ingest/ses/sns_verify.h"
#include "../../src/serve/server.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    (void)mdp__sns_cert_url_ok(text);
    json_tokener *tok = json_tokener_new();
    json_object *env = tok ? json_tokener_parse_ex(tok, text, (int)size) : NULL;
    if (env && json_object_is_type(env, json_type_object)) {
        (void)mdp__sns_event_day(env, 0);
        struct mdp_buf b;
        mdp_buf_init(&b);
        /* a string to sign is "name\nvalue\n" pairs: never empty, always ending a line */
        if (mdp__sns_string_to_sign(env, &b) == 0 && !mdp_buf_error(&b) &&
            (!b.len || b.data[b.len - 1] != '\n'))
            __builtin_trap();
        mdp_buf_cleanup(&b);
        char why[256] = "";
        /* no certificate in the (missing) cache and no fetching: nothing can verify */
        if (mdp__sns_verify(env, "/nonexistent/mdp-fuzz-sns-certs", 0, why, sizeof why) == 0 ||
            !why[0])
            __builtin_trap();
    }
    json_object_put(env);
    if (tok) json_tokener_free(tok);
    free(text);
    return 0;
}
