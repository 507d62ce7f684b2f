/* JSON helpers shared by the connectors (ingest_internal.h). json-c parses; these functions frame
 * the input (exact values, concatenated values, lines) and read typed members. */
#include "ingest_internal.h"
#include "mdp/alloc.h"
#include "mdp/strset.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

const char *mdp__json_reason(enum json_tokener_error e)
{
    return e == json_tokener_continue ? "json_truncated" : "json_invalid";
}

/* What a thread keeps between checks: a tokener (its parse stack is an allocation, and SQS
 * deliveries of ten records are common) and the duplicate set of mdp_ingest_verdicts (a table and
 * a chunk). Each is lent out and comes back; while it is out (a check inside a verdict callback
 * that checks again) a borrower gets one of its own. Freed when the thread ends; the main thread's
 * stay reachable from thread-local storage until the process ends. */
struct scratch {
    json_tokener *tok;
    struct mdp_strset *seen;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local struct scratch *scratch;

static void scratch_free(void *p)
{
    struct scratch *sc = p;
    if (sc->tok) json_tokener_free(sc->tok);
    mdp_strset_free(sc->seen);
    free(sc);
    scratch = NULL; /* a check from a later destructor of this thread makes a new one */
}

static void scratch_key_create(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

/* This thread's scratch, or NULL when out of memory. */
static struct scratch *my_scratch(void)
{
    if (scratch) return scratch;
    pthread_once(&scratch_once, scratch_key_create);
    struct scratch *sc = mdp_calloc(1, sizeof *sc);
    if (!sc) return NULL;
    if (pthread_setspecific(scratch_key, sc)) {
        free(sc);
        return NULL;
    }
    return scratch = sc;
}

json_tokener *mdp__json_tokener(void)
{
    struct scratch *sc = my_scratch();
    json_tokener *tok = sc ? sc->tok : NULL;
    if (tok) {
        sc->tok = NULL;
        return tok;
    }
    return json_tokener_new_ex(MAX_DEPTH);
}

void mdp__json_tokener_put(json_tokener *tok)
{
    if (!tok) return;
    struct scratch *sc = my_scratch();
    if (sc && !sc->tok) {
        sc->tok = tok;
        return;
    }
    json_tokener_free(tok);
}

struct mdp_strset *mdp__seen_set(void)
{
    struct scratch *sc = my_scratch();
    struct mdp_strset *s = sc ? sc->seen : NULL;
    if (s) {
        sc->seen = NULL;
        return s;
    }
    return mdp_strset_new();
}

void mdp__seen_set_put(struct mdp_strset *s)
{
    if (!s) return;
    struct scratch *sc = my_scratch();
    if (sc && !sc->seen) {
        mdp_strset_clear(s);
        sc->seen = s;
        return;
    }
    mdp_strset_free(s);
}

json_object *mdp__json_exact_tok(json_tokener *tok, const char *p, size_t n,
                                 enum json_tokener_error *err)
{
    if (!tok) return mdp__json_exact(p, n, err);
    json_tokener_reset(tok);
    json_object *o = n > (size_t)INT32_MAX ? NULL : json_tokener_parse_ex(tok, p, (int)n);
    *err = n > (size_t)INT32_MAX ? json_tokener_error_size : json_tokener_get_error(tok);
    if (o && json_tokener_get_parse_end(tok) < n) {
        for (size_t i = json_tokener_get_parse_end(tok); i < n; i++)
            if (!strchr(" \t\r\n", p[i])) {
                json_object_put(o);
                o = NULL;
                *err = json_tokener_error_parse_unexpected;
                break;
            }
    } else if (!o && *err == json_tokener_success) {
        *err = json_tokener_continue; /* only whitespace, or a value cut before its end */
    }
    return o;
}

json_object *mdp__json_exact(const char *p, size_t n, enum json_tokener_error *err)
{
    json_tokener *tok = mdp__json_tokener();
    if (!tok) {
        *err = json_tokener_error_size;
        return NULL;
    }
    json_object *o = mdp__json_exact_tok(tok, p, n, err);
    mdp__json_tokener_put(tok);
    return o;
}

void mdp__splitter_init(struct mdp__splitter *s, const char *p, size_t n)
{
    memset(s, 0, sizeof *s);
    s->p = p;
    s->n = n;
}

static size_t lead_len(const char *p, size_t n)
{
    if (n < 4 || p[0] != '{' || p[1] != '"') return 0;
    for (size_t i = 2; i + 1 < n && i < 64; i++)
        if (p[i] == '"') return p[i + 1] == ':' ? i + 2 : 0;
    return 0;
}

static size_t next_start(const struct mdp__splitter *s, size_t from)
{
    for (size_t k = from; k < s->n; k++) {
        if (s->p[k] != '{') continue;
        if (s->ll ? (s->n - k >= s->ll && memcmp(s->p + k, s->lead, s->ll) == 0)
                  : (k > 0 && (s->p[k - 1] == '}' || s->p[k - 1] == '\n')))
            return k;
    }
    return s->n;
}

int mdp__splitter_next(struct mdp__splitter *s, json_object **out, size_t *start, size_t *len,
                       enum json_tokener_error *err)
{
    while (s->pos < s->n && strchr(" \t\r\n", s->p[s->pos]))
        s->pos++;
    if (s->pos >= s->n) return 0;
    json_tokener *tok = s->tok ? s->tok : mdp__json_tokener();
    *out = NULL;
    *err = json_tokener_error_size;
    size_t remain = s->n - s->pos, used = 0;
    if (tok && remain <= (size_t)INT32_MAX) {
        json_tokener_reset(tok);
        *out = json_tokener_parse_ex(tok, s->p + s->pos, (int)remain);
        *err = json_tokener_get_error(tok);
        used = json_tokener_get_parse_end(tok);
        if (!*out && *err == json_tokener_success) *err = json_tokener_continue;
    }
    if (tok != s->tok) mdp__json_tokener_put(tok);
    *start = s->pos;
    if (*out && used > 0) {
        if (!s->lead && (s->ll = lead_len(s->p + s->pos, used))) s->lead = s->p + s->pos;
        s->pos += used;
    } else {
        json_object_put(*out);
        *out = NULL;
        s->pos = next_start(s, s->pos + 1);
    }
    *len = s->pos - *start;
    s->idx++;
    return 1;
}

void mdp__splitter_took(struct mdp__splitter *s, size_t end)
{
    size_t start = s->pos;
    while (start < end && strchr(" \t\r\n", s->p[start]))
        start++;
    if (!s->lead && (s->ll = lead_len(s->p + start, end - start))) s->lead = s->p + start;
    s->pos = end;
    s->idx++;
}

static int sax_null(void *c)
{
    const struct mdp__sax *s = c;
    return s->value(s->ud, MDP__SAX_NULL, NULL, 0);
}

static int sax_bool(void *c, int b)
{
    const struct mdp__sax *s = c;
    return s->value(s->ud, b ? MDP__SAX_TRUE : MDP__SAX_FALSE, NULL, 0);
}

static int sax_number(void *c, const char *t, size_t n)
{
    const struct mdp__sax *s = c;
    if (n > 18 || memchr(t, 'e', n) || memchr(t, 'E', n)) return 0; /* json-c's to judge */
    return s->value(s->ud, MDP__SAX_NUMBER, t, n);
}

static int sax_string(void *c, const unsigned char *t, size_t n)
{
    const struct mdp__sax *s = c;
    return s->value(s->ud, MDP__SAX_STRING, (const char *)t, n);
}

static int sax_start_map(void *c)
{
    const struct mdp__sax *s = c;
    return s->value(s->ud, MDP__SAX_MAP, NULL, 0);
}

static int sax_start_array(void *c)
{
    const struct mdp__sax *s = c;
    return s->value(s->ud, MDP__SAX_ARRAY, NULL, 0);
}

static int sax_key(void *c, const unsigned char *k, size_t n)
{
    const struct mdp__sax *s = c;
    return s->key(s->ud, (const char *)k, n);
}

static int sax_end(void *c)
{
    const struct mdp__sax *s = c;
    return s->end(s->ud);
}

static const yajl_callbacks SAX = {
    .yajl_null = sax_null,
    .yajl_boolean = sax_bool,
    .yajl_number = sax_number,
    .yajl_string = sax_string,
    .yajl_start_map = sax_start_map,
    .yajl_map_key = sax_key,
    .yajl_end_map = sax_end,
    .yajl_start_array = sax_start_array,
    .yajl_end_array = sax_end,
};

yajl_handle mdp__sax_alloc(const struct mdp__sax *s)
{
    return yajl_alloc(&SAX, NULL, (void *)(uintptr_t)s);
}

size_t mdp__sax_safe_prefix(const char *p, size_t n)
{
    size_t lim = n;
    const char *q;
    if ((q = memchr(p, '\f', lim))) lim = (size_t)(q - p);
    if ((q = memchr(p, '\v', lim))) lim = (size_t)(q - p);
    /* an escape is two bytes from its backslash: an escaped backslash never starts another */
    for (const char *b = p, *e = p + lim; (b = memchr(b, '\\', (size_t)(e - b))) && b + 1 < e;
         b += 2)
        if (b[1] == 'u') return (size_t)(b - p);
    return lim;
}

int mdp__sax_parse(yajl_handle h, const char *p, size_t n, const size_t *end)
{
    int ok = yajl_parse(h, (const unsigned char *)p, n) == yajl_status_ok &&
             yajl_complete_parse(h) == yajl_status_ok;
    yajl_free(h);
    /* only blanks after the value, as json-c's exact parse allows: yajl takes a string cut off
     * after the value (`{...}"`) as input still to come */
    for (size_t i = ok ? *end : n; i < n; i++)
        if (!strchr(" \t\r\n", p[i])) return 0;
    return ok;
}

int mdp__next_line(const char *p, size_t n, size_t *pos, size_t *start, size_t *len, size_t *lineno)
{
    while (*pos < n) {
        const char *nl = memchr(p + *pos, '\n', n - *pos);
        size_t end = nl ? (size_t)(nl - p) : n;
        *start = *pos;
        *len = end - *pos;
        *pos = end + 1;
        (*lineno)++;
        if (*len && p[*start + *len - 1] == '\r') (*len)--;
        if (*len) return 1;
    }
    return 0;
}

unsigned mdp__jmembers(json_object *o, const char *const *names, json_object **out)
{
    unsigned has = 0;
    int n = 0;
    while (names[n])
        out[n++] = NULL;
    if (!o || !json_object_is_type(o, json_type_object)) return 0;
    json_object_object_foreach(o, k, v)
    {
        for (int i = 0; i < n; i++)
            if (k[0] == names[i][0] && strcmp(k, names[i]) == 0) {
                out[i] = v;
                has |= 1u << i;
                break;
            }
    }
    return has;
}

const char *mdp__jtext(json_object *v)
{
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

const char *mdp__jget(json_object *o, const char *k)
{
    json_object *v;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

json_object *mdp__jobj(json_object *o, const char *k)
{
    json_object *v;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v) ||
        !json_object_is_type(v, json_type_object))
        return NULL;
    return v;
}

json_object *mdp__jarr(json_object *o, const char *k)
{
    json_object *v;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v) ||
        !json_object_is_type(v, json_type_array))
        return NULL;
    return v;
}

int mdp__is_uuid(const char *s, int version)
{
    struct mdp_uuid u;
    if (!s || strlen(s) != 36 || mdp_uuid_parse_n(s, 36, &u)) return 0;
    return version <= 0 || mdp_uuid_version(&u) == version;
}

const char *mdp__v7_id(const struct mdp_check *ck, const char *field, const char *s, size_t len,
                       int *non_v7, char *detail, size_t dn)
{
    struct mdp_uuid u;
    if (!s || len != 36 || mdp_uuid_parse_n(s, 36, &u)) {
        snprintf(detail, dn, "%s is not a UUID", field);
        return "invalid_id";
    }
    int v = mdp_uuid_version(&u), rfc = mdp_uuid_is_rfc_variant(&u);
    if (v == 7 && rfc) return NULL;
    if (ck->cfg && ck->cfg->ingest_non_v7_ids && strcmp(ck->cfg->ingest_non_v7_ids, "count") == 0) {
        (*non_v7)++;
        return NULL;
    }
    if (v == 7)
        snprintf(detail, dn, "%s has version 7 but not the RFC 9562 variant", field);
    else
        snprintf(detail, dn, "%s is a UUID of version %d, not 7 (spec 2; ingest.non_v7_ids)", field,
                 v);
    return "id_not_uuidv7";
}

int mdp__jtime(json_object *o, const char *k, int64_t *ms)
{
    const char *s = mdp__jget(o, k);
    return s && mdp_time_parse_iso(s, (size_t)-1, ms) == 0 ? 0 : -1;
}

const char *mdp__loc(char *buf, size_t n, const char *key, const char *fmt, ...)
{
    int k = snprintf(buf, n, "%s", key);
    if (k >= 0 && (size_t)k < n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf + k, n - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return buf;
}

json_object *mdp__api_payload(json_object *o, int *status, const char **url)
{
    json_object *body, *v;
    *status = 0;
    if (url) *url = NULL;
    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "body", &body))
        return o;
    int exchange = 0;
    if (json_object_object_get_ex(o, "httpStatus", &v) && json_object_is_type(v, json_type_int)) {
        *status = json_object_get_int(v);
        exchange = 1;
    }
    if (mdp__jget(o, "method") && mdp__jget(o, "url")) {
        if (url) *url = mdp__jget(o, "url");
        exchange = 1;
    }
    return exchange ? body : o;
}

int mdp__api_error(json_object *payload, int status, char *detail, size_t n)
{
    json_object *e = mdp__jobj(payload, "error"), *v;
    if (!e) return 0;
    /* Google: {code, message, status}; Graph API: {message, type, code, error_subcode, fbtrace_id}
     */
    long code = json_object_object_get_ex(e, "code", &v) ? (long)json_object_get_int64(v) : status;
    const char *st = mdp__jget(e, "status") ? mdp__jget(e, "status") : mdp__jget(e, "type");
    snprintf(detail, n, "API error %ld%s%s", code, st ? " " : "", st ? st : "");
    return mdp__jget(e, "message") != NULL ? 1 : -1;
}

int mdp__api_open(struct mdp_check *ck, const char *p, size_t n, int api_error_slot,
                  json_object **root, json_object **payload)
{
    enum json_tokener_error err;
    int status, rc;
    char detail[200];
    *payload = NULL;
    *root = mdp__json_exact(p, n, &err);
    if (!*root || !json_object_is_type(*root, json_type_object)) {
        rc = mdp_check_bad(ck, *root ? "json_not_object" : mdp__json_reason(err), ck->key,
                           *root ? "a response is a JSON object" : json_tokener_error_desc(err), p,
                           n);
        json_object_put(*root);
        *root = NULL;
        return rc < 0 ? rc : 0;
    }
    json_object *r = mdp__api_payload(*root, &status, NULL);
    int e = mdp__api_error(r, status, detail, sizeof detail);
    if (e == 0 && json_object_is_type(r, json_type_object)) {
        *payload = r;
        return 1;
    }
    if (e > 0) { /* a quota or auth error is a fact about the pull: kept and counted */
        ck->c->extra[api_error_slot]++;
        mdp_check_ok(ck, -1);
        rc = 0;
    } else {
        rc = mdp_check_bad(
            ck, e < 0 ? "api_error_invalid" : "json_not_object", ck->key,
            e < 0 ? "an error envelope without a message" : "a response is a JSON object", p, n);
    }
    json_object_put(*root);
    *root = NULL;
    return rc < 0 ? rc : 0;
}
