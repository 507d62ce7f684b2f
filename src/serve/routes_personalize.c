/* GET|POST /v1/personalize and POST /v1/feedback (server.h's MDP__ROUTES): the HTTP side of the
 * personalization runtime (personalize.c). A GET's query arguments go straight into the parsed
 * request, without JSON, on the hot path. */
#include "server.h"

#include <string.h>
#include <strings.h>

struct args {
    struct mdp__pz *pz;
    struct mdp__pz_req rq;
    struct mdp_buf *out;
    int status;
};

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    struct args *a = cls;
    a->status = mdp__pz_req_add(a->pz, &a->rq, key, value ? value : "", a->out);
    return a->status ? MHD_NO : MHD_YES;
}

/* the POSTed JSON object; NULL after answering the error (*ret) */
static json_object *json_body(struct mdp__req *r, enum MHD_Result *ret)
{
    const char *ct = mdp__header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        *ret = mdp__fail(r, 415, "unsupported_media_type", "send application/json");
        return NULL;
    }
    const char *why;
    json_object *req = mdp__parse_json(r->body.data ? r->body.data : "", r->body.len, &why);
    if (!req) {
        *ret = mdp__fail(r, 400, "invalid_json", why);
        return NULL;
    }
    if (!json_object_is_type(req, json_type_object)) {
        json_object_put(req);
        *ret = mdp__fail(r, 400, "invalid_json", "the body is a JSON object");
        return NULL;
    }
    return req;
}

enum MHD_Result mdp__route_personalize(struct mdp__req *r)
{
    struct mdp__pz *pz = &r->s->pz;
    if (strcmp(r->method, "POST") != 0) {
        struct args a = {pz, {0}, &r->resp, 0};
        a.rq.onb_day = -1;
        MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg, &a);
        r->status = a.status ? a.status : mdp__personalize_req(pz, &a.rq, &r->resp);
        return mdp__respond(r);
    }
    enum MHD_Result ret;
    json_object *req = json_body(r, &ret);
    if (!req) return ret;
    r->status = mdp__personalize(pz, req, &r->resp);
    json_object_put(req);
    return mdp__respond(r);
}

enum MHD_Result mdp__route_feedback(struct mdp__req *r)
{
    enum MHD_Result ret;
    json_object *req = json_body(r, &ret);
    if (!req) return ret;
    r->status = mdp__feedback(&r->s->pz, req, mdp__header(r, "Idempotency-Key"), &r->resp);
    json_object_put(req);
    return mdp__respond(r);
}
