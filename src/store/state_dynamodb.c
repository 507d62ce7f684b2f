/* The DynamoDB backend of the state store (include/mdp/state.h; docs/aws.md "State"). One table
 * holds every state table: the item of (table, pk, sk) has the partition key "table#pk" and the
 * sort key sk, so a Query of one partition is a state partition in sort-key order, and an
 * attribute tbl names the state table for Scan. Attributes: body (S, the opaque body), expires_at
 * (N, epoch seconds, the table's TTL attribute; absent for "never"), n_<field> (N: counters of
 * UpdateItem ADD, and the number put-if-newer compares), subject (S, optional: the per-subject
 * index). A counter item has no body: its body reads as the JSON object of its n_ numbers.
 *
 * Every request goes through mdp_aws_json (SigV4 by curl, retries on throttling and 5xx). Reads are
 * strongly consistent: the consent head, the DOI claims and the bandit counters are read right
 * after they were written, possibly by another process. */
#include "state_impl.h"

#include "mdp/alloc.h"
#include "mdp/aws.h"
#include "mdp/buf.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TARGET "DynamoDB_20120810."

struct ddb {
    struct mdp_state base; /* first: the handle state.c dispatches on */
    struct mdp_aws *aws;
    char *table;
};
#define DDB(s) ((struct ddb *)(s))

static const struct mdp__state_ops DDB_OPS;

/* ---- JSON building (json-c reports no allocation failure here: a NULL member serializes as
 * null, which DynamoDB refuses with a ValidationException, so nothing wrong is ever written) ---- */

static json_object *av_s(const char *v)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "S", json_object_new_string(v));
    return o;
}

static json_object *av_n(int64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "N", json_object_new_string(b));
    return o;
}

static int check_key(const char *table, const char *pk, const char *sk, struct mdp_diag *d)
{
    if (!*table || strchr(table, '#'))
        return mdp_diag_set(d, MDP_ERR_INVALID,
                            "state store: table name '%s' must be non-empty and without '#'",
                            table);
    if (!*sk)
        return mdp_diag_set(d, MDP_ERR_INVALID,
                            "state store: %s item %s: DynamoDB needs a non-empty sort key", table,
                            pk);
    return 0;
}

/* the partition key "table#pk" */
static char *full_pk(const char *table, const char *pk)
{
    size_t n = strlen(table) + strlen(pk) + 2;
    char *p = mdp_malloc(n);
    if (p) snprintf(p, n, "%s#%s", table, pk);
    return p;
}

/* {"pk":{"S":"table#pk"},"sk":{"S":sk}} or NULL (out of memory) */
static json_object *key_of(const char *table, const char *pk, const char *sk)
{
    char *p = full_pk(table, pk);
    if (!p) return NULL;
    json_object *k = json_object_new_object();
    json_object_object_add(k, "pk", av_s(p));
    json_object_object_add(k, "sk", av_s(sk));
    free(p);
    return k;
}

static json_object *request(const struct ddb *s)
{
    json_object *r = json_object_new_object();
    json_object_object_add(r, "TableName", json_object_new_string(s->table));
    return r;
}

/* A request naming the state table and the item's Key, or NULL (out of memory). */
static json_object *keyed_request(const struct ddb *s, const char *table, const char *pk,
                                  const char *sk)
{
    json_object *r = request(s), *key = key_of(table, pk, sk);
    if (!key) {
        json_object_put(r);
        return NULL;
    }
    json_object_object_add(r, "Key", key);
    return r;
}

/* Sends req (consumed) as operation op; *out (may be NULL: dropped) gets the answer. */
static int call(struct ddb *s, const char *op, json_object *req, json_object **out, char *err_type,
                size_t err_len, struct mdp_diag *d)
{
    if (out) *out = NULL;
    if (err_type && err_len) *err_type = '\0';
    if (!req) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    char target[64];
    snprintf(target, sizeof target, TARGET "%s", op);
    json_object *ans = NULL;
    int rc = body
                 ? mdp_aws_json(s->aws, "dynamodb", "1.0", target, body, &ans, err_type, err_len, d)
                 : mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    json_object_put(req);
    if (out)
        *out = ans;
    else
        json_object_put(ans);
    return rc;
}

/* ---- decoding an item ---- */

static const char *attr_s(json_object *item, const char *name)
{
    json_object *a, *v;
    if (!json_object_object_get_ex(item, name, &a) || !json_object_is_type(a, json_type_object) ||
        !json_object_object_get_ex(a, "S", &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* 1 and *out when attribute name is a number holding an integer, 0 when absent, -1 when it is
 * there but not an integer number */
static int attr_n(json_object *a, int64_t *out)
{
    json_object *v;
    if (!json_object_is_type(a, json_type_object) || !json_object_object_get_ex(a, "N", &v) ||
        !json_object_is_type(v, json_type_string))
        return -1;
    const char *t = json_object_get_string(v);
    char *end;
    errno = 0;
    long long x = strtoll(t, &end, 10);
    if (errno || end == t || *end) return -1;
    *out = x;
    return 1;
}

struct item {
    char *table, *pk, *sk, *body;
    int64_t expires_at;
};

static void item_free(struct item *it)
{
    free(it->table);
    free(it->pk);
    free(it->sk);
    free(it->body);
    memset(it, 0, sizeof *it);
}

/* The body of a counter item: {"field":n,...} in the order the attributes came. */
static int counters_body(json_object *item, char **out, struct mdp_diag *d)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_puts(&b, "{");
    int n = 0, rc = 0;
    json_object_object_foreach(item, name, a)
    {
        if (strncmp(name, "n_", 2) != 0) continue;
        int64_t v;
        if (attr_n(a, &v) != 1) {
            rc =
                mdp_diag_set(d, MDP_ERR_PARSE, "state store: attribute %s is not an integer", name);
            break;
        }
        const char *f = name + 2;
        for (const char *p = f; *p && !rc; p++)
            if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
                rc = mdp_diag_set(d, MDP_ERR_PARSE, "state store: bad counter attribute %s", name);
        if (rc) break;
        mdp_buf_printf(&b, "%s\"%s\":%lld", n++ ? "," : "", f, (long long)v);
    }
    mdp_buf_puts(&b, "}");
    if (!rc && (rc = mdp_buf_take(&b, out, NULL))) mdp_diag_set(d, rc, "out of memory");
    mdp_buf_cleanup(&b);
    return rc;
}

static int decode_item(json_object *item, struct item *out, struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    if (!json_object_is_type(item, json_type_object))
        return mdp_diag_set(d, MDP_ERR_PARSE, "state store: a DynamoDB item is not an object");
    const char *pk = attr_s(item, "pk"), *sk = attr_s(item, "sk"), *body = attr_s(item, "body");
    if (!pk || !sk)
        return mdp_diag_set(d, MDP_ERR_PARSE, "state store: a DynamoDB item without pk/sk strings");
    const char *hash = strchr(pk, '#');
    if (!hash || hash == pk)
        return mdp_diag_set(d, MDP_ERR_PARSE,
                            "state store: DynamoDB item key '%.80s' does not start with its table",
                            pk);
    json_object *e;
    if (json_object_object_get_ex(item, "expires_at", &e) && attr_n(e, &out->expires_at) != 1)
        return mdp_diag_set(d, MDP_ERR_PARSE, "state store: expires_at of %.80s is not an integer",
                            pk);
    int rc = 0;
    out->table = mdp_strndup(pk, (size_t)(hash - pk));
    out->pk = mdp_strdup(hash + 1);
    out->sk = mdp_strdup(sk);
    if (body)
        out->body = mdp_strdup(body);
    else
        rc = counters_body(item, &out->body, d);
    if (!rc && (!out->table || !out->pk || !out->sk || !out->body))
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    if (rc) item_free(out);
    return rc;
}

int mdp_state_dynamodb_decode(const char *json, size_t len, char **out_table, char **out_pk,
                              char **out_sk, char **out_body, int64_t *out_expires,
                              struct mdp_diag *d)
{
    *out_table = *out_pk = *out_sk = *out_body = NULL;
    *out_expires = 0;
    if (len > (size_t)INT32_MAX) return mdp_diag_set(d, MDP_ERR_PARSE, "state store: item too big");
    json_tokener *tok = json_tokener_new();
    if (!tok) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    json_object *o = json_tokener_parse_ex(tok, json, (int)len);
    int rc;
    if (!o || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len)
        rc = mdp_diag_set(d, MDP_ERR_PARSE, "state store: a DynamoDB item is not one JSON value");
    else {
        struct item it;
        rc = decode_item(o, &it, d);
        if (!rc) {
            *out_table = it.table;
            *out_pk = it.pk;
            *out_sk = it.sk;
            *out_body = it.body;
            *out_expires = it.expires_at;
        }
    }
    json_object_put(o);
    json_tokener_free(tok);
    return rc;
}

/* ---- opening ---- */

int mdp__state_dynamodb_open(const char *table, struct mdp_state **out, struct mdp_diag *d)
{
    *out = NULL;
    if (!*table)
        return mdp_diag_set(d, MDP_ERR_INVALID, "state store: dynamodb:// needs a table name");
    struct ddb *s = mdp_calloc(1, sizeof *s);
    if (!s || !(s->table = mdp_strdup(table))) {
        free(s);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    s->base.ops = &DDB_OPS;
    int rc = mdp_aws_open(NULL, &s->aws, d);
    if (!rc) {
        rc = call(s, "DescribeTable", request(s), NULL, NULL, 0, d);
        if (rc == MDP_ERR_NOT_FOUND)
            mdp_diag_set(d, rc,
                         "state store: DynamoDB table %s does not exist (state.dynamodb_table; "
                         "`mdp aws bootstrap` creates it)",
                         table);
    }
    if (rc) {
        mdp_aws_close(s->aws);
        free(s->table);
        free(s);
        return rc;
    }
    *out = &s->base;
    return 0;
}

static void ddb_close(struct mdp_state *st)
{
    struct ddb *s = DDB(st);
    mdp_aws_close(s->aws);
    free(s->table);
    free(s);
}

static int ddb_synchronous(struct mdp_state *s, int set, int *out_level, struct mdp_diag *d)
{
    (void)s;
    if (set >= 0)
        return mdp_diag_set(d, MDP_ERR_UNSUPPORTED,
                            "state store: DynamoDB has no durability level to set");
    if (out_level) *out_level = 2; /* a write is acknowledged when durable */
    return 0;
}

/* ---- writes ---- */

/* The whole item of it (plus extra number attribute n_<field> = value when field is set). */
static json_object *item_of(const char *table, const struct mdp_state_item *it, const char *field,
                            int64_t value, const char *subject)
{
    json_object *item = key_of(table, it->pk, it->sk);
    if (!item) return NULL;
    json_object_object_add(item, "tbl", av_s(table));
    json_object_object_add(item, "body", av_s(it->body));
    if (subject) json_object_object_add(item, "subject", av_s(subject));
    if (it->expires_at > 0) json_object_object_add(item, "expires_at", av_n(it->expires_at));
    if (field) {
        char name[80];
        snprintf(name, sizeof name, "n_%s", field);
        json_object_object_add(item, name, av_n(value));
    }
    return item;
}

static int ddb_put(struct mdp_state *st, const char *table, const struct mdp_state_item *it,
                   const char *subject, int flags, struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    int rc = check_key(table, it->pk, it->sk, d);
    if (rc) return rc;
    json_object *req = request(s), *item = item_of(table, it, NULL, 0, subject);
    if (!item) {
        json_object_put(req);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    json_object_object_add(req, "Item", item);
    if (flags & MDP_STATE_IF_ABSENT)
        json_object_object_add(req, "ConditionExpression",
                               json_object_new_string("attribute_not_exists(pk)"));
    rc = call(s, "PutItem", req, NULL, NULL, 0, d);
    if (rc == MDP_ERR_EXISTS)
        mdp_diag_set(d, rc, "state store: %s item %s/%s exists", table, it->pk, it->sk);
    return rc;
}

static int ddb_put_if_below(struct mdp_state *st, const char *table,
                            const struct mdp_state_item *it, const char *field, int64_t below,
                            int64_t value, struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    int rc = check_key(table, it->pk, it->sk, d);
    if (rc) return rc;
    json_object *req = request(s), *item = item_of(table, it, field, value, NULL);
    if (!item) {
        json_object_put(req);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    char name[80];
    snprintf(name, sizeof name, "n_%s", field);
    json_object *names = json_object_new_object(), *vals = json_object_new_object();
    json_object_object_add(names, "#f", json_object_new_string(name));
    json_object_object_add(vals, ":v", av_n(below));
    json_object_object_add(req, "Item", item);
    json_object_object_add(
        req, "ConditionExpression",
        json_object_new_string("attribute_not_exists(pk) OR attribute_not_exists(#f) OR #f < :v"));
    json_object_object_add(req, "ExpressionAttributeNames", names);
    json_object_object_add(req, "ExpressionAttributeValues", vals);
    rc = call(s, "PutItem", req, NULL, NULL, 0, d);
    if (rc == MDP_ERR_EXISTS)
        mdp_diag_set(d, rc, "state store: %s item %s/%s has %s >= %lld", table, it->pk, it->sk,
                     field, (long long)below);
    return rc;
}

static int ddb_delete(struct mdp_state *st, const char *table, const char *pk, const char *sk,
                      struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    int rc = check_key(table, pk, sk, d);
    if (rc) return rc;
    json_object *req = keyed_request(s, table, pk, sk);
    if (!req) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    return call(s, "DeleteItem", req, NULL, NULL, 0, d);
}

/* The UpdateItem of an ADD (as a request or a transaction's Update): adds delta to n_<field>,
 * names the state table, and refuses an item that holds a body. */
static json_object *add_update(struct ddb *s, const char *table, const char *pk, const char *sk,
                               const char *field, int64_t delta)
{
    json_object *u = keyed_request(s, table, pk, sk);
    if (!u) return NULL;
    char name[80];
    snprintf(name, sizeof name, "n_%s", field);
    json_object *names = json_object_new_object(), *vals = json_object_new_object();
    json_object_object_add(names, "#f", json_object_new_string(name));
    json_object_object_add(names, "#t", json_object_new_string("tbl"));
    json_object_object_add(names, "#b", json_object_new_string("body"));
    json_object_object_add(vals, ":d", av_n(delta));
    json_object_object_add(vals, ":t", av_s(table));
    json_object_object_add(u, "UpdateExpression", json_object_new_string("SET #t = :t ADD #f :d"));
    json_object_object_add(u, "ConditionExpression",
                           json_object_new_string("attribute_not_exists(#b)"));
    json_object_object_add(u, "ExpressionAttributeNames", names);
    json_object_object_add(u, "ExpressionAttributeValues", vals);
    return u;
}

static int body_conflict(const char *table, const char *pk, const char *sk, struct mdp_diag *d)
{
    return mdp_diag_set(d, MDP_ERR_IO,
                        "state store: %s item %s/%s holds a body, so it cannot hold counters "
                        "(DynamoDB backend: counters live on items of their own)",
                        table, pk, sk);
}

static int ddb_add(struct mdp_state *st, const char *table, const char *pk, const char *sk,
                   const char *field, int64_t delta, int64_t *out, struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    int rc = check_key(table, pk, sk, d);
    if (rc) return rc;
    json_object *req = add_update(s, table, pk, sk, field, delta), *ans = NULL;
    if (req) json_object_object_add(req, "ReturnValues", json_object_new_string("UPDATED_NEW"));
    rc = call(s, "UpdateItem", req, &ans, NULL, 0, d);
    if (rc == MDP_ERR_EXISTS) return body_conflict(table, pk, sk, d);
    if (!rc && out) {
        char name[80];
        snprintf(name, sizeof name, "n_%s", field);
        json_object *attrs, *a;
        if (!json_object_object_get_ex(ans, "Attributes", &attrs) ||
            !json_object_object_get_ex(attrs, name, &a) || attr_n(a, out) != 1)
            rc = mdp_diag_set(d, MDP_ERR_PARSE,
                              "state store: UpdateItem of %s item %s/%s returned no %s", table, pk,
                              sk, name);
    }
    json_object_put(ans);
    return rc;
}

/* ---- reads ---- */

/* GetItem: *out_item is the item object (a reference the caller puts) or NULL when absent. */
static int get_item(struct ddb *s, const char *table, const char *pk, const char *sk,
                    json_object **out_item, struct mdp_diag *d)
{
    *out_item = NULL;
    json_object *req = keyed_request(s, table, pk, sk), *ans = NULL, *item;
    if (!req) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    json_object_object_add(req, "ConsistentRead", json_object_new_boolean(1));
    int rc = call(s, "GetItem", req, &ans, NULL, 0, d);
    if (!rc && json_object_object_get_ex(ans, "Item", &item) &&
        json_object_is_type(item, json_type_object))
        *out_item = json_object_get(item);
    json_object_put(ans);
    return rc;
}

static int ddb_get(struct mdp_state *st, const char *table, const char *pk, const char *sk,
                   char **body_out, int64_t *expires_out, struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    int rc = check_key(table, pk, sk, d);
    if (rc) return rc;
    json_object *item = NULL;
    rc = get_item(s, table, pk, sk, &item, d);
    if (!rc && !item)
        rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND, "state store: no %s item %s/%s", table, pk, sk);
    if (!rc) {
        struct item it;
        rc = decode_item(item, &it, d);
        if (!rc) {
            *body_out = it.body;
            it.body = NULL;
            if (expires_out) *expires_out = it.expires_at;
            item_free(&it);
        }
    }
    json_object_put(item);
    return rc;
}

/* Pages through Query or Scan (op) of req (consumed): calls each for every item until it returns
 * non-zero (returned) or the pages end; limit > 0 stops after that many items. */
static int pages(struct ddb *s, const char *op, json_object *req, int limit,
                 int (*each)(json_object *item, void *ud), void *ud, struct mdp_diag *d)
{
    if (!req) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    int rc = 0, seen = 0;
    for (;;) {
        if (limit > 0) json_object_object_add(req, "Limit", json_object_new_int(limit - seen));
        json_object *ans = NULL, *items, *last;
        rc = call(s, op, json_object_get(req), &ans, NULL, 0, d);
        if (rc) break;
        if (json_object_object_get_ex(ans, "Items", &items) &&
            json_object_is_type(items, json_type_array)) {
            size_t n = json_object_array_length(items);
            for (size_t i = 0; i < n && !rc && (limit <= 0 || seen < limit); i++, seen++)
                rc = each(json_object_array_get_idx(items, i), ud);
        }
        int more = json_object_object_get_ex(ans, "LastEvaluatedKey", &last) &&
                   json_object_is_type(last, json_type_object) && (limit <= 0 || seen < limit);
        if (more) json_object_object_add(req, "ExclusiveStartKey", json_object_get(last));
        json_object_put(ans);
        if (rc || !more) break;
    }
    json_object_put(req);
    return rc;
}

struct walk {
    mdp_state_cb cb;
    void *ud;
    struct mdp_diag *d;
};

static int walk_one(json_object *o, void *ud)
{
    struct walk *w = ud;
    struct item it;
    int rc = decode_item(o, &it, w->d);
    if (rc) return rc;
    struct mdp_state_item x = {it.pk, it.sk, it.body, it.expires_at};
    rc = w->cb(&x, w->ud);
    item_free(&it);
    return rc;
}

static int ddb_query(struct mdp_state *st, const char *table, const char *pk, int reverse,
                     int limit, mdp_state_cb cb, void *ud, struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    int rc = check_key(table, pk, "-", d);
    if (rc) return rc;
    char *p = full_pk(table, pk);
    if (!p) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    json_object *req = request(s), *vals = json_object_new_object();
    json_object_object_add(vals, ":p", av_s(p));
    free(p);
    json_object_object_add(req, "KeyConditionExpression", json_object_new_string("pk = :p"));
    json_object_object_add(req, "ExpressionAttributeValues", vals);
    json_object_object_add(req, "ScanIndexForward", json_object_new_boolean(!reverse));
    json_object_object_add(req, "ConsistentRead", json_object_new_boolean(1));
    struct walk w = {cb, ud, d};
    return pages(s, "Query", req, limit, walk_one, &w, d);
}

/* A Scan of the items of table (filter: its tbl, and extra when not NULL, which may use :now),
 * returning only projection's attributes when projection is not NULL (#t tbl, #b body, #e
 * expires_at are named). */
static json_object *scan_request(struct ddb *s, const char *table, const char *extra, int64_t now_s,
                                 const char *projection)
{
    json_object *req = request(s), *names = json_object_new_object(),
                *vals = json_object_new_object();
    json_object_object_add(names, "#t", json_object_new_string("tbl"));
    json_object_object_add(names, "#b", json_object_new_string("body"));
    json_object_object_add(names, "#e", json_object_new_string("expires_at"));
    char filter[160];
    if (table) {
        snprintf(filter, sizeof filter, "#t = :t%s%s", extra ? " AND " : "", extra ? extra : "");
        json_object_object_add(vals, ":t", av_s(table));
        if (extra) json_object_object_add(vals, ":now", av_n(now_s));
        json_object_object_add(req, "FilterExpression", json_object_new_string(filter));
        json_object_object_add(req, "ExpressionAttributeValues", vals);
    } else {
        json_object_put(vals);
    }
    /* DynamoDB refuses names the request does not use: name only what filter and projection do */
    char used[256] = "";
    snprintf(used, sizeof used, "%s %s", table ? filter : "", projection ? projection : "");
    static const char *const all[] = {"#t", "#b", "#e"};
    for (int i = 0; i < 3; i++)
        if (!strstr(used, all[i])) json_object_object_del(names, all[i]);
    if (json_object_object_length(names))
        json_object_object_add(req, "ExpressionAttributeNames", names);
    else
        json_object_put(names);
    if (projection)
        json_object_object_add(req, "ProjectionExpression", json_object_new_string(projection));
    json_object_object_add(req, "ConsistentRead", json_object_new_boolean(1));
    return req;
}

struct collected {
    struct item *v;
    size_t n, cap;
    struct mdp_diag *d;
};

static int collect_one(json_object *o, void *ud)
{
    struct collected *c = ud;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct item *nv = mdp_realloc(c->v, cap * sizeof *nv);
        if (!nv) return mdp_diag_set(c->d, MDP_ERR_NOMEM, "out of memory");
        c->v = nv;
        c->cap = cap;
    }
    int rc = decode_item(o, &c->v[c->n], c->d);
    if (!rc) c->n++;
    return rc;
}

static void collected_free(struct collected *c)
{
    for (size_t i = 0; i < c->n; i++)
        item_free(&c->v[i]);
    free(c->v);
}

static int by_key(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    int c = strcmp(x->pk, y->pk);
    return c ? c : strcmp(x->sk, y->sk);
}

/* A Scan returns items in hash order; the interface promises (pk, sk) order, so the table's items
 * are gathered and sorted (state tables are small: counters, heads, tokens). */
static int ddb_scan(struct mdp_state *st, const char *table, mdp_state_cb cb, void *ud,
                    struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    int rc = check_key(table, "-", "-", d);
    if (rc) return rc;
    struct collected c = {NULL, 0, 0, d};
    rc = pages(s, "Scan", scan_request(s, table, NULL, 0, NULL), 0, collect_one, &c, d);
    if (!rc && c.n) qsort(c.v, c.n, sizeof *c.v, by_key);
    for (size_t i = 0; i < c.n && !rc; i++) {
        struct mdp_state_item x = {c.v[i].pk, c.v[i].sk, c.v[i].body, c.v[i].expires_at};
        rc = cb(&x, ud);
    }
    collected_free(&c);
    return rc;
}

struct keys {
    json_object *arr; /* of {"pk":..,"sk":..} */
    int64_t bytes;
};

static int key_one(json_object *o, void *ud)
{
    struct keys *k = ud;
    json_object *pk, *sk, *key = json_object_new_object();
    if (!key) return MDP_ERR_NOMEM;
    if (json_object_object_get_ex(o, "pk", &pk))
        json_object_object_add(key, "pk", json_object_get(pk));
    if (json_object_object_get_ex(o, "sk", &sk))
        json_object_object_add(key, "sk", json_object_get(sk));
    const char *b = attr_s(o, "body");
    if (b) k->bytes += (int64_t)strlen(b);
    return json_object_array_add(k->arr, key) ? MDP_ERR_NOMEM : 0;
}

/* The keys (and body bytes) of table's items that expired by now_s. */
static int expired(struct ddb *s, const char *table, int64_t now_s, struct keys *k,
                   const char *projection, struct mdp_diag *d)
{
    k->arr = json_object_new_array();
    k->bytes = 0;
    if (!k->arr) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    return pages(s, "Scan", scan_request(s, table, "#e <= :now", now_s, projection), 0, key_one, k,
                 d);
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

/* BatchWriteItem of DeleteRequests for keys, 25 at a time, retrying what DynamoDB hands back as
 * unprocessed (it does so under throttling) with a growing pause. */
static int batch_delete(struct ddb *s, json_object *keys, struct mdp_diag *d)
{
    size_t n = json_object_array_length(keys);
    int rc = 0;
    for (size_t at = 0; at < n && !rc; at += 25) {
        json_object *reqs = json_object_new_array();
        for (size_t i = at; i < n && i < at + 25; i++) {
            json_object *del = json_object_new_object(), *w = json_object_new_object();
            json_object_object_add(del, "Key", json_object_get(json_object_array_get_idx(keys, i)));
            json_object_object_add(w, "DeleteRequest", del);
            json_object_array_add(reqs, w);
        }
        json_object *items = json_object_new_object();
        json_object_object_add(items, s->table, reqs);
        for (int attempt = 0; items && !rc; attempt++) {
            json_object *req = json_object_new_object(), *ans = NULL, *un, *left;
            json_object_object_add(req, "RequestItems", items);
            items = NULL;
            rc = call(s, "BatchWriteItem", req, &ans, NULL, 0, d);
            if (!rc && json_object_object_get_ex(ans, "UnprocessedItems", &un) &&
                json_object_object_get_ex(un, s->table, &left) &&
                json_object_array_length(left) > 0) {
                if (attempt >= 10)
                    rc = mdp_diag_set(d, MDP_ERR_IO,
                                      "state store: BatchWriteItem on %s left %zu deletes "
                                      "unprocessed after %d attempts",
                                      s->table, json_object_array_length(left), attempt + 1);
                else {
                    items = json_object_get(un);
                    pause_ms(50L << (attempt < 6 ? attempt : 6));
                }
            }
            json_object_put(ans);
        }
        json_object_put(items);
    }
    return rc;
}

static int ddb_purge_expired(struct mdp_state *st, const char *table, int64_t now_s, int *n_out,
                             struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    int rc = check_key(table, "-", "-", d);
    if (rc) return rc;
    struct keys k;
    rc = expired(s, table, now_s, &k, "pk, sk", d);
    if (!rc) rc = batch_delete(s, k.arr, d);
    if (!rc && n_out) *n_out = (int)json_object_array_length(k.arr);
    json_object_put(k.arr);
    return rc;
}

static int ddb_count_expired(struct mdp_state *st, const char *table, int64_t now_s, int64_t *out_n,
                             int64_t *out_bytes, struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    int rc = check_key(table, "-", "-", d);
    if (rc) return rc;
    struct keys k;
    rc = expired(s, table, now_s, &k, "pk, sk, #b", d);
    if (!rc) {
        *out_n = (int64_t)json_object_array_length(k.arr);
        if (out_bytes) *out_bytes = k.bytes;
    }
    json_object_put(k.arr);
    return rc;
}

struct counts {
    char **names;
    int64_t *n;
    size_t len, cap;
};

static int count_one(json_object *o, void *ud)
{
    struct counts *c = ud;
    const char *t = attr_s(o, "tbl");
    if (!t) return 0; /* not a state item */
    for (size_t i = 0; i < c->len; i++)
        if (strcmp(c->names[i], t) == 0) return c->n[i]++, 0;
    if (c->len == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char **nn = mdp_realloc(c->names, cap * sizeof *nn);
        if (!nn) return MDP_ERR_NOMEM;
        c->names = nn;
        int64_t *nv = mdp_realloc(c->n, cap * sizeof *nv);
        if (!nv) return MDP_ERR_NOMEM;
        c->n = nv;
        c->cap = cap;
    }
    if (!(c->names[c->len] = mdp_strdup(t))) return MDP_ERR_NOMEM;
    c->n[c->len++] = 1;
    return 0;
}

static int ddb_tables(struct mdp_state *st, int (*cb)(const char *table, int64_t items, void *ud),
                      void *ud, struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    struct counts c = {0};
    int rc = pages(s, "Scan", scan_request(s, NULL, NULL, 0, "#t"), 0, count_one, &c, d);
    if (rc == MDP_ERR_NOMEM) mdp_diag_set(d, rc, "out of memory");
    /* name order: a selection sort of a handful of names */
    for (size_t i = 0; !rc && i < c.len; i++) {
        size_t m = i;
        for (size_t j = i + 1; j < c.len; j++)
            if (strcmp(c.names[j], c.names[m]) < 0) m = j;
        char *tn = c.names[i];
        int64_t tc = c.n[i];
        c.names[i] = c.names[m], c.n[i] = c.n[m];
        c.names[m] = tn, c.n[m] = tc;
        rc = cb(c.names[i], c.n[i], ud);
    }
    for (size_t i = 0; i < c.len; i++)
        free(c.names[i]);
    free(c.names);
    free(c.n);
    return rc;
}

/* ---- transactions ---- */

static int ddb_transact(struct mdp_state *st, const struct mdp_state_write *w, int n,
                        struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    int rc = 0;
    json_object *items = json_object_new_array();
    if (!items) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && !rc; i++) {
        rc = check_key(w[i].table, w[i].item.pk, w[i].item.sk, d);
        if (rc) break;
        json_object *op = json_object_new_object();
        if (w[i].op == MDP_STATE_PUT) {
            json_object *put = request(s),
                        *item = item_of(w[i].table, &w[i].item, NULL, 0, w[i].subject);
            json_object_object_add(put, "Item", item);
            if (w[i].flags & MDP_STATE_IF_ABSENT)
                json_object_object_add(put, "ConditionExpression",
                                       json_object_new_string("attribute_not_exists(pk)"));
            json_object_object_add(op, "Put", put);
        } else if (w[i].op == MDP_STATE_DELETE) {
            json_object *del = request(s);
            json_object_object_add(del, "Key", key_of(w[i].table, w[i].item.pk, w[i].item.sk));
            json_object_object_add(op, "Delete", del);
        } else {
            json_object_object_add(
                op, "Update",
                add_update(s, w[i].table, w[i].item.pk, w[i].item.sk, w[i].field, w[i].delta));
        }
        json_object_array_add(items, op);
    }
    if (rc) {
        json_object_put(items);
        return rc;
    }
    json_object *req = json_object_new_object();
    json_object_object_add(req, "TransactItems", items);
    char err[96];
    rc = call(s, "TransactWriteItems", req, NULL, err, sizeof err, d);
    if (rc && strcmp(err, "TransactionCanceledException") == 0) {
        /* nothing was written; say why as the SQLite backend does: a PUT whose item exists
         * lost its condition (MDP_ERR_EXISTS), else an ADD met an item with a body */
        char why[sizeof d->msg];
        snprintf(why, sizeof why, "%s", d->msg);
        int found = 0;
        for (int i = 0; i < n && !found; i++) {
            if (w[i].op != MDP_STATE_PUT || !(w[i].flags & MDP_STATE_IF_ABSENT)) continue;
            json_object *item = NULL;
            int r = get_item(s, w[i].table, w[i].item.pk, w[i].item.sk, &item, d);
            if (r) return r;
            if (item) {
                found = 1;
                rc = mdp_diag_set(d, MDP_ERR_EXISTS, "state store: %s item %s/%s exists",
                                  w[i].table, w[i].item.pk, w[i].item.sk);
            }
            json_object_put(item);
        }
        if (!found)
            rc = mdp_diag_set(d, MDP_ERR_IO, "state store: transaction of %d writes refused: %s", n,
                              why);
        return rc;
    }
    /* a transaction returns no values: read the counters back */
    for (int i = 0; i < n && !rc; i++) {
        if (w[i].op != MDP_STATE_ADD || !w[i].out) continue;
        json_object *item = NULL, *a;
        rc = get_item(s, w[i].table, w[i].item.pk, w[i].item.sk, &item, d);
        char name[80];
        snprintf(name, sizeof name, "n_%s", w[i].field);
        if (!rc &&
            (!item || !json_object_object_get_ex(item, name, &a) || attr_n(a, w[i].out) != 1))
            rc = mdp_diag_set(d, MDP_ERR_IO, "state store: %s item %s/%s has no %s after the add",
                              w[i].table, w[i].item.pk, w[i].item.sk, name);
        json_object_put(item);
    }
    return rc;
}

/* ---- the table itself (mdp aws bootstrap) ---- */

static json_object *attr_def(const char *name)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "AttributeName", json_object_new_string(name));
    json_object_object_add(o, "AttributeType", json_object_new_string("S"));
    return o;
}

static json_object *key_elem(const char *name, const char *type)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "AttributeName", json_object_new_string(name));
    json_object_object_add(o, "KeyType", json_object_new_string(type));
    return o;
}

static json_object *key_schema(const char *hash, const char *range)
{
    json_object *a = json_object_new_array();
    json_object_array_add(a, key_elem(hash, "HASH"));
    json_object_array_add(a, key_elem(range, "RANGE"));
    return a;
}

/* the table's status ("ACTIVE", "CREATING", ...) into status, or MDP_ERR_NOT_FOUND */
static int describe(struct ddb *s, char *status, size_t len, struct mdp_diag *d)
{
    json_object *ans = NULL, *t, *st;
    int rc = call(s, "DescribeTable", request(s), &ans, NULL, 0, d);
    if (!rc)
        snprintf(status, len, "%s",
                 json_object_object_get_ex(ans, "Table", &t) &&
                         json_object_object_get_ex(t, "TableStatus", &st)
                     ? json_object_get_string(st)
                     : "");
    json_object_put(ans);
    return rc;
}

int mdp_state_dynamodb_create(struct mdp_aws *a, const char *name, int *out_created,
                              int *out_ttl_enabled, struct mdp_diag *d)
{
    if (out_created) *out_created = 0;
    if (out_ttl_enabled) *out_ttl_enabled = 0;
    struct ddb s = {{&DDB_OPS}, a, (char *)name};
    char status[32] = "";
    int rc = describe(&s, status, sizeof status, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        json_object *req = request(&s), *defs = json_object_new_array(),
                    *gsis = json_object_new_array(), *gsi = json_object_new_object(),
                    *proj = json_object_new_object();
        json_object_array_add(defs, attr_def("pk"));
        json_object_array_add(defs, attr_def("sk"));
        json_object_array_add(defs, attr_def("subject"));
        json_object_object_add(req, "AttributeDefinitions", defs);
        json_object_object_add(req, "KeySchema", key_schema("pk", "sk"));
        json_object_object_add(req, "BillingMode", json_object_new_string("PAY_PER_REQUEST"));
        json_object_object_add(gsi, "IndexName", json_object_new_string(MDP_STATE_SUBJECT_INDEX));
        json_object_object_add(gsi, "KeySchema", key_schema("subject", "pk"));
        json_object_object_add(proj, "ProjectionType", json_object_new_string("KEYS_ONLY"));
        json_object_object_add(gsi, "Projection", proj);
        json_object_array_add(gsis, gsi);
        json_object_object_add(req, "GlobalSecondaryIndexes", gsis);
        char err[96];
        rc = call(&s, "CreateTable", req, NULL, err, sizeof err, d);
        if (!rc && out_created) *out_created = 1;
        if (rc && strcmp(err, "ResourceInUseException") == 0) rc = 0; /* a racing bootstrap */
        for (int i = 0; !rc && i < 300; i++) {
            if ((rc = describe(&s, status, sizeof status, d))) break;
            if (strcmp(status, "ACTIVE") == 0) break;
            pause_ms(200);
        }
        if (!rc && strcmp(status, "ACTIVE") != 0)
            rc = mdp_diag_set(d, MDP_ERR_IO, "DynamoDB table %s is still %s after a minute", name,
                              status);
    }
    if (rc) return rc;
    json_object *req = request(&s), *ans = NULL, *desc, *st;
    rc = call(&s, "DescribeTimeToLive", req, &ans, NULL, 0, d);
    const char *ttl = !rc && json_object_object_get_ex(ans, "TimeToLiveDescription", &desc) &&
                              json_object_object_get_ex(desc, "TimeToLiveStatus", &st)
                          ? json_object_get_string(st)
                          : "DISABLED";
    int on = strcmp(ttl, "ENABLED") == 0 || strcmp(ttl, "ENABLING") == 0;
    json_object_put(ans);
    if (!rc && !on) {
        json_object *spec = json_object_new_object();
        req = request(&s);
        json_object_object_add(spec, "Enabled", json_object_new_boolean(1));
        json_object_object_add(spec, "AttributeName", json_object_new_string("expires_at"));
        json_object_object_add(req, "TimeToLiveSpecification", spec);
        rc = call(&s, "UpdateTimeToLive", req, NULL, NULL, 0, d);
        if (!rc && out_ttl_enabled) *out_ttl_enabled = 1;
    }
    return rc;
}

/* DynamoDB keeps no pages of deleted items a reader could find: nothing to compact. */
static int ddb_compact(struct mdp_state *st, struct mdp_diag *d)
{
    (void)st;
    (void)d;
    return 0;
}

/* ---- the per-subject index ---- */

struct by_subject {
    struct ddb *s;
    const char *subject;
    struct collected c;
};

/* one key of the index (KEYS_ONLY: pk, sk, subject): the item itself, read consistently, since
 * the index is eventually consistent (an item deleted or given another subject since is skipped) */
static int subject_key_one(json_object *o, void *ud)
{
    struct by_subject *b = ud;
    const char *pk = attr_s(o, "pk"), *sk = attr_s(o, "sk"), *hash = pk ? strchr(pk, '#') : NULL;
    if (!pk || !sk || !hash || hash == pk)
        return mdp_diag_set(b->c.d, MDP_ERR_PARSE, "state store: a by_subject key without pk/sk");
    char *table = mdp_strndup(pk, (size_t)(hash - pk));
    if (!table) return mdp_diag_set(b->c.d, MDP_ERR_NOMEM, "out of memory");
    json_object *item = NULL;
    int rc = get_item(b->s, table, hash + 1, sk, &item, b->c.d);
    free(table);
    const char *now = item ? attr_s(item, "subject") : NULL;
    if (!rc && now && strcmp(now, b->subject) == 0) rc = collect_one(item, &b->c);
    json_object_put(item);
    return rc;
}

static int by_table_key(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    int c = strcmp(x->table, y->table);
    return c ? c : by_key(a, b);
}

static int ddb_query_subject(struct mdp_state *st, const char *subject, mdp_state_subject_cb cb,
                             void *ud, struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    struct by_subject b = {s, subject, {NULL, 0, 0, d}};
    json_object *req = request(s), *vals = json_object_new_object();
    json_object_object_add(req, "IndexName", json_object_new_string(MDP_STATE_SUBJECT_INDEX));
    json_object_object_add(vals, ":s", av_s(subject));
    json_object_object_add(req, "KeyConditionExpression", json_object_new_string("subject = :s"));
    json_object_object_add(req, "ExpressionAttributeValues", vals);
    int rc = pages(s, "Query", req, 0, subject_key_one, &b, d);
    if (!rc && b.c.n) qsort(b.c.v, b.c.n, sizeof *b.c.v, by_table_key);
    for (size_t i = 0; i < b.c.n && !rc; i++) {
        struct mdp_state_item x = {b.c.v[i].pk, b.c.v[i].sk, b.c.v[i].body, b.c.v[i].expires_at};
        rc = cb(b.c.v[i].table, &x, ud);
    }
    collected_free(&b.c);
    return rc;
}

/* UpdateItem SET subject, only on an item that exists and carries another subject or none (so
 * that an unchanged item is not written); the condition's failure is told apart by a GetItem */
static int ddb_set_subject(struct mdp_state *st, const char *table, const char *pk, const char *sk,
                           const char *subject, int *out_changed, struct mdp_diag *d)
{
    struct ddb *s = DDB(st);
    int rc = check_key(table, pk, sk, d);
    if (rc) return rc;
    json_object *req = keyed_request(s, table, pk, sk);
    if (!req) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    json_object *names = json_object_new_object(), *vals = json_object_new_object();
    json_object_object_add(names, "#s", json_object_new_string("subject"));
    json_object_object_add(vals, ":s", av_s(subject));
    json_object_object_add(req, "UpdateExpression", json_object_new_string("SET #s = :s"));
    json_object_object_add(
        req, "ConditionExpression",
        json_object_new_string("attribute_exists(pk) AND (attribute_not_exists(#s) OR #s <> :s)"));
    json_object_object_add(req, "ExpressionAttributeNames", names);
    json_object_object_add(req, "ExpressionAttributeValues", vals);
    rc = call(s, "UpdateItem", req, NULL, NULL, 0, d);
    if (!rc) {
        if (out_changed) *out_changed = 1;
        return 0;
    }
    if (rc != MDP_ERR_EXISTS) return rc;
    json_object *item = NULL;
    if (d) memset(d, 0, sizeof *d);
    rc = get_item(s, table, pk, sk, &item, d);
    if (!rc && !item)
        rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND, "state store: no %s item %s/%s", table, pk, sk);
    json_object_put(item);
    return rc;
}

static const struct mdp__state_ops DDB_OPS = {
    "dynamodb",        ddb_close,         ddb_synchronous, ddb_put,           ddb_put_if_below,
    ddb_get,           ddb_delete,        ddb_query,       ddb_add,           ddb_transact,
    ddb_scan,          ddb_purge_expired, ddb_tables,      ddb_count_expired, ddb_compact,
    ddb_query_subject, ddb_set_subject,
};
