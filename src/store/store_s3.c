/* The s3:// object store backend (include/mdp/store.h) on the AWS client (include/mdp/aws.h).
 * A lake at s3://BUCKET/PREFIX keeps its keys under PREFIX/. Every put is atomic by S3's own
 * semantics (an object appears whole or not at all); MDP_PUT_IF_ABSENT is a conditional write
 * (If-None-Match: *, answered 412 when the key exists); a streaming write is a multipart upload
 * (8 MiB parts, never the whole object in memory) that is completed on commit and aborted on
 * abort, so nothing is visible under the key before commit.
 *
 * Encryption: with aws.kms_key_id set, the bucket's default encryption must be SSE-KMS with that
 * key (checked at open) and each put's answer must report aws:kms and that key. The key id is not
 * sent per request: curl 7.88's SigV4 sorts the signed headers as "name:value" lines, which puts
 * x-amz-server-side-encryption-aws-kms-key-id before x-amz-server-side-encryption, and S3 rejects
 * the signature (docs/aws.md). With no key configured every put asks for aws:kms (S3's managed
 * key). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "mdp/alloc.h"
#include "mdp/aws.h"
#include "mdp/hash.h"
#include "mdp/store.h"
#include "mdp/time.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PART_SIZE (8u << 20)

struct s3 {
    struct mdp_aws *aws;
    char bucket[64];
    char prefix[1024]; /* "" or "PREFIX/" */
    char kms_key[256]; /* the configured key, "" for S3's managed key */
    char cache[2200];  /* the local mirror: CACHE_DIR/BUCKET[/PREFIX] (aws.cache_dir) */
    int64_t cache_max; /* aws.cache_mb in bytes */
};

static struct s3 *S3(struct mdp_store *s)
{
    return s->impl;
}

/* PREFIX/key into out. */
static int full_key(const struct s3 *s, const char *key, struct mdp_buf *out)
{
    mdp_buf_reset(out);
    mdp_buf_puts(out, s->prefix);
    mdp_buf_puts(out, key);
    return mdp_buf_error(out);
}

/* Does the key S3 reports (an id or an ARN) name the configured key? */
static int kms_matches(const char *configured, const char *reported)
{
    if (!strcmp(configured, reported)) return 1;
    const char *a = strrchr(configured, '/'), *b = strrchr(reported, '/');
    const char *ca = a ? a + 1 : configured, *cb = b ? b + 1 : reported;
    return !strncmp(configured, "alias/", 6) ? 0 : !strcmp(ca, cb);
}

static const char *const SSE_KMS[] = {"x-amz-server-side-encryption: aws:kms", NULL};
static const char *const SSE_KMS_ABSENT[] = {"x-amz-server-side-encryption: aws:kms",
                                             "If-None-Match: *", NULL};
static const char *const ABSENT[] = {"If-None-Match: *", NULL};

/* The headers of a put or CreateMultipartUpload. */
static const char *const *put_headers(const struct s3 *s, int if_absent)
{
    if (s->kms_key[0]) return if_absent ? ABSENT : NULL;
    return if_absent ? SSE_KMS_ABSENT : SSE_KMS;
}

/* After a put: the answer must say the object is SSE-KMS encrypted (with the configured key). */
static int check_sse(const struct s3 *s, const char *key, const struct mdp_aws_response *r,
                     struct mdp_diag *d)
{
    if (strcmp(r->sse, "aws:kms"))
        return mdp_diag_set(d, MDP_ERR_PERM,
                            "s3://%s/%s%s was stored without SSE-KMS (the answer says '%s'): check "
                            "the bucket's default encryption",
                            s->bucket, s->prefix, key, r->sse);
    if (s->kms_key[0] && r->sse_kms_key[0] && !kms_matches(s->kms_key, r->sse_kms_key))
        return mdp_diag_set(d, MDP_ERR_PERM,
                            "s3://%s/%s%s was encrypted with KMS key %s, not aws.kms_key_id %s: "
                            "the bucket's default encryption names another key",
                            s->bucket, s->prefix, key, r->sse_kms_key, s->kms_key);
    return 0;
}

static int s3_put(struct mdp_store *st, const char *key, const void *data, size_t len, int flags,
                  struct mdp_diag *d)
{
    struct s3 *s = S3(st);
    struct mdp_buf k;
    mdp_buf_init(&k);
    if (full_key(s, key, &k)) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    int if_absent = flags & MDP_PUT_IF_ABSENT;
    struct mdp_aws_request rq = {.method = "PUT",
                                 .service = "s3",
                                 .op = "PutObject",
                                 .bucket = s->bucket,
                                 .key = k.data,
                                 .headers = put_headers(s, if_absent),
                                 .body = data ? data : "",
                                 .body_len = len};
    struct mdp_aws_response r;
    mdp_aws_response_init(&r);
    int rc = mdp_aws_request(s->aws, &rq, &r, d);
    if (rc == MDP_ERR_EXISTS && if_absent && r.attempts > 1) {
        /* a retried conditional put may have lost only to its own first attempt: the object
         * is ours when its ETag is the MD5 of our bytes (single-part puts) */
        char md5[33], want[40];
        struct mdp_aws_request hq = {.method = "HEAD",
                                     .service = "s3",
                                     .op = "HeadObject",
                                     .bucket = s->bucket,
                                     .key = k.data};
        if (!mdp_md5_hex(data ? data : "", len, md5) && !mdp_aws_request(s->aws, &hq, &r, NULL)) {
            snprintf(want, sizeof want, "\"%s\"", md5);
            if (!strcmp(r.etag, want)) rc = 0;
        }
        if (rc)
            mdp_diag_set(d, MDP_ERR_EXISTS, "s3://%s/%s exists (conditional put lost)", s->bucket,
                         k.data);
    } else if (!rc) {
        rc = check_sse(s, key, &r, d);
    } else if (rc == MDP_ERR_EXISTS) {
        mdp_diag_set(d, MDP_ERR_EXISTS, "s3://%s/%s exists (conditional put lost)", s->bucket,
                     k.data);
    }
    mdp_aws_response_cleanup(&r);
    mdp_buf_cleanup(&k);
    return rc;
}

/* One request on one object, version_id NULL for the current one (GetObject, HeadObject,
 * DeleteObject and their version forms): a GET hands the body over to *out, a HEAD sets
 * *out_size; a missing object or version (not a missing bucket) is named in d. */
static int object_request(struct mdp_store *st, const char *method, const char *op, const char *key,
                          const char *version_id, struct mdp_buf *out, int64_t *out_size,
                          struct mdp_diag *d)
{
    struct s3 *s = S3(st);
    struct mdp_buf k;
    mdp_buf_init(&k);
    if (full_key(s, key, &k)) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    const char *q[] = {"versionId", version_id, NULL};
    struct mdp_aws_request rq = {.method = method,
                                 .service = "s3",
                                 .op = op,
                                 .bucket = s->bucket,
                                 .key = k.data,
                                 .query = version_id ? q : NULL};
    struct mdp_aws_response r;
    mdp_aws_response_init(&r);
    int rc = mdp_aws_request(s->aws, &rq, &r, d);
    if (!rc && out) {
        if (mdp_buf_error(&r.body)) {
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        } else {
            mdp_buf_cleanup(out);
            *out = r.body; /* hand the buffer over */
            mdp_buf_init(&r.body);
        }
    } else if (!rc && out_size) {
        *out_size = r.content_length < 0 ? 0 : r.content_length;
    } else if (rc == MDP_ERR_NOT_FOUND && strcmp(r.error_code, "NoSuchBucket")) {
        mdp_diag_set(d, rc, "s3://%s/%s: no such %s", s->bucket, k.data,
                     version_id ? "version" : "object");
    }
    mdp_aws_response_cleanup(&r);
    mdp_buf_cleanup(&k);
    return rc;
}

static int s3_get(struct mdp_store *st, const char *key, struct mdp_buf *out, struct mdp_diag *d)
{
    return object_request(st, "GET", "GetObject", key, NULL, out, NULL, d);
}

static int s3_head(struct mdp_store *st, const char *key, int64_t *out_size, struct mdp_diag *d)
{
    return object_request(st, "HEAD", "HeadObject", key, NULL, NULL, out_size, d);
}

/* ---- listing (ListObjectsV2, 1,000 keys a page, with continuation) ---- */

static const char *xml_text(xmlNode *parent, const char *name, xmlChar **hold)
{
    for (xmlNode *c = parent->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name)) {
            *hold = xmlNodeGetContent(c);
            return *hold ? (const char *)*hold : "";
        }
    return NULL;
}

/* Parses an answer body (no network, no messages; XML_PARSE_HUGE for listings, whose pages may
 * be large): the document (freed by the caller with xmlFreeDoc), *root its root element, or NULL
 * and *root NULL when it is not XML. */
static xmlDoc *xml_doc(const char *body, size_t len, int huge, xmlNode **root)
{
    xmlDoc *doc = body && len && len <= INT_MAX
                      ? xmlReadMemory(body, (int)len, "answer.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                          (huge ? XML_PARSE_HUGE : 0))
                      : NULL;
    *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (doc && !*root) {
        xmlFreeDoc(doc);
        doc = NULL;
    }
    return doc;
}

/* Whether the child element name of parent says true (IsTruncated, IsLatest). */
static int xml_true(xmlNode *parent, const char *name)
{
    xmlChar *h = NULL;
    const char *t = xml_text(parent, name, &h);
    int yes = t && !strcmp(t, "true");
    xmlFree(h);
    return yes;
}

int mdp__s3_list_page(const char *body, size_t len, size_t strip, mdp_store_list_time_cb cb,
                      void *ud, struct mdp_buf *out_token, int *out_more, struct mdp_diag *d)
{
    *out_more = 0;
    mdp_buf_reset(out_token);
    xmlNode *root;
    xmlDoc *doc = xml_doc(body, len, 1, &root);
    if (!doc) return mdp_diag_set(d, MDP_ERR_PARSE, "the answer is not XML");
    int rc = 0, more = xml_true(root, "IsTruncated");
    xmlChar *h = NULL;
    const char *t = xml_text(root, "NextContinuationToken", &h);
    if (more && t) mdp_buf_puts(out_token, t);
    xmlFree(h);
    if (more && (!out_token->len || mdp_buf_error(out_token)))
        rc = mdp_diag_set(d, mdp_buf_error(out_token) ? MDP_ERR_NOMEM : MDP_ERR_PARSE,
                          "truncated without a continuation token");
    for (xmlNode *c = root->children; c && !rc; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        if (!strcmp((const char *)c->name, "CommonPrefixes")) { /* a delimited listing's folders */
            xmlChar *hp = NULL;
            const char *pre = xml_text(c, "Prefix", &hp);
            if (pre && strlen(pre) > strip) rc = cb(pre + strip, -1, 0, ud);
            xmlFree(hp);
            continue;
        }
        if (strcmp((const char *)c->name, "Contents")) continue;
        xmlChar *hk = NULL, *hs = NULL, *hm = NULL;
        const char *key = xml_text(c, "Key", &hk), *size = xml_text(c, "Size", &hs),
                   *mod = xml_text(c, "LastModified", &hm);
        if (key && strlen(key) > strip) {
            int64_t ms = 0;
            if (mod) mdp_time_parse_iso(mod, strlen(mod), &ms);
            int64_t sz = size ? strtoll(size, NULL, 10) : 0;
            rc = cb(key + strip, sz, ms, ud);
        }
        xmlFree(hk);
        xmlFree(hs);
        xmlFree(hm);
    }
    xmlFreeDoc(doc);
    if (!rc) *out_more = more;
    return rc;
}

struct list_adapter {
    mdp_store_list_cb cb;
    mdp_store_list_time_cb tcb;
    void *ud;
};

static int list_adapt(const char *key, int64_t size, int64_t mtime_ms, void *ud)
{
    struct list_adapter *a = ud;
    return a->cb ? a->cb(key, size, a->ud) : a->tcb(key, size, mtime_ms, a->ud);
}

/* ListObjectsV2 of prefix, page by page; with delim, delimited by '/' (the folders directly under
 * prefix come as CommonPrefixes, size -1, and the keys under them not at all). */
static int s3_list_any(struct mdp_store *st, const char *prefix, int delim, mdp_store_list_cb cb,
                       mdp_store_list_time_cb tcb, void *ud, struct mdp_diag *d)
{
    struct s3 *s = S3(st);
    struct mdp_buf p, token;
    mdp_buf_init(&p);
    mdp_buf_init(&token);
    if (full_key(s, prefix ? prefix : "", &p))
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    size_t strip = strlen(s->prefix);
    int rc = 0, more = 1;
    struct mdp_aws_response r;
    mdp_aws_response_init(&r);
    struct list_adapter ad = {cb, tcb, ud};
    while (more && !rc) {
        const char *q[9] = {"list-type", "2", "prefix", p.data};
        int nq = 4;
        if (delim) {
            q[nq++] = "delimiter";
            q[nq++] = "/";
        }
        if (token.len) {
            q[nq++] = "continuation-token";
            q[nq++] = token.data;
        }
        struct mdp_aws_request rq = {.method = "GET",
                                     .service = "s3",
                                     .op = "ListObjectsV2",
                                     .bucket = s->bucket,
                                     .query = q};
        if ((rc = mdp_aws_request(s->aws, &rq, &r, d))) break;
        struct mdp_diag pd = {0};
        rc = mdp__s3_list_page(r.body.data, r.body.len, strip, list_adapt, &ad, &token, &more, &pd);
        if (rc && pd.msg[0]) /* a parse error (else the callback's value, as it set d) */
            mdp_diag_set(d, rc, "s3://%s ListObjectsV2: %s", s->bucket, pd.msg);
    }
    mdp_aws_response_cleanup(&r);
    mdp_buf_cleanup(&p);
    mdp_buf_cleanup(&token);
    return rc;
}

static int s3_list(struct mdp_store *st, const char *prefix, mdp_store_list_cb cb, void *ud,
                   struct mdp_diag *d)
{
    return s3_list_any(st, prefix, 0, cb, NULL, ud, d);
}

static int s3_list_dirs(struct mdp_store *st, const char *prefix, mdp_store_list_cb cb, void *ud,
                        struct mdp_diag *d)
{
    return s3_list_any(st, prefix, 1, cb, NULL, ud, d);
}

static int s3_list_time(struct mdp_store *st, const char *prefix, mdp_store_list_time_cb cb,
                        void *ud, struct mdp_diag *d)
{
    return s3_list_any(st, prefix, 0, NULL, cb, ud, d);
}

static int s3_del(struct mdp_store *st, const char *key, struct mdp_diag *d)
{
    int64_t size;
    int rc = s3_head(st, key, &size, d); /* S3 deletes a missing key silently */
    return rc ? rc : object_request(st, "DELETE", "DeleteObject", key, NULL, NULL, NULL, d);
}

/* ---- versions (ListObjectVersions; a versioned bucket keeps what was overwritten or deleted) ---- */

int mdp__s3_versions_page(const char *body, size_t len, size_t strip, mdp_store_version_cb cb,
                          void *ud, struct mdp_buf *out_key_marker, struct mdp_buf *out_vid_marker,
                          int *out_more, struct mdp_diag *d)
{
    *out_more = 0;
    mdp_buf_reset(out_key_marker);
    mdp_buf_reset(out_vid_marker);
    xmlNode *root;
    xmlDoc *doc = xml_doc(body, len, 1, &root);
    if (!doc) return mdp_diag_set(d, MDP_ERR_PARSE, "the answer is not XML");
    int rc = 0, more = xml_true(root, "IsTruncated");
    if (more) {
        xmlChar *h = NULL;
        const char *t;
        if ((t = xml_text(root, "NextKeyMarker", &h))) mdp_buf_puts(out_key_marker, t);
        xmlFree(h);
        h = NULL;
        if ((t = xml_text(root, "NextVersionIdMarker", &h))) mdp_buf_puts(out_vid_marker, t);
        xmlFree(h);
        if (mdp_buf_error(out_key_marker) || mdp_buf_error(out_vid_marker))
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        else if (!out_key_marker->len)
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "truncated without a key marker");
    }
    for (xmlNode *c = root->children; c && !rc; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        int marker = !strcmp((const char *)c->name, "DeleteMarker");
        if (!marker && strcmp((const char *)c->name, "Version")) continue;
        xmlChar *hk = NULL, *hv = NULL, *hs = NULL;
        const char *key = xml_text(c, "Key", &hk), *vid = xml_text(c, "VersionId", &hv),
                   *size = xml_text(c, "Size", &hs);
        if (key && vid && *vid && strlen(key) > strip)
            rc = cb(key + strip, vid, size ? strtoll(size, NULL, 10) : 0, xml_true(c, "IsLatest"),
                    marker, ud);
        xmlFree(hk);
        xmlFree(hv);
        xmlFree(hs);
    }
    xmlFreeDoc(doc);
    if (!rc) *out_more = more;
    return rc;
}

static int s3_versions(struct mdp_store *st, const char *prefix, mdp_store_version_cb cb, void *ud,
                       struct mdp_diag *d)
{
    struct s3 *s = S3(st);
    struct mdp_buf p, km, vm;
    mdp_buf_init(&p);
    mdp_buf_init(&km);
    mdp_buf_init(&vm);
    if (full_key(s, prefix, &p)) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    size_t strip = strlen(s->prefix);
    struct mdp_aws_response r;
    mdp_aws_response_init(&r);
    int rc = 0, more = 1;
    while (more && !rc) {
        const char *q[9] = {"prefix", p.data, "versions", NULL, NULL};
        if (km.len) {
            q[4] = "key-marker";
            q[5] = km.data;
            q[6] = "version-id-marker";
            q[7] = vm.len ? vm.data : "";
            q[8] = NULL;
        }
        struct mdp_aws_request rq = {.method = "GET",
                                     .service = "s3",
                                     .op = "ListObjectVersions",
                                     .bucket = s->bucket,
                                     .query = q};
        if ((rc = mdp_aws_request(s->aws, &rq, &r, d))) break;
        struct mdp_diag pd = {0};
        rc = mdp__s3_versions_page(r.body.data, r.body.len, strip, cb, ud, &km, &vm, &more, &pd);
        if (rc && pd.msg[0]) /* a parse error (else the callback's value, as it set d) */
            mdp_diag_set(d, rc, "s3://%s ListObjectVersions: %s", s->bucket, pd.msg);
    }
    mdp_aws_response_cleanup(&r);
    mdp_buf_cleanup(&p);
    mdp_buf_cleanup(&km);
    mdp_buf_cleanup(&vm);
    return rc;
}

static int s3_get_version(struct mdp_store *st, const char *key, const char *version_id,
                          struct mdp_buf *out, struct mdp_diag *d)
{
    return object_request(st, "GET", "GetObjectVersion", key, version_id, out, NULL, d);
}

static int s3_delete_version(struct mdp_store *st, const char *key, const char *version_id,
                             struct mdp_diag *d)
{
    return object_request(st, "DELETE", "DeleteObjectVersion", key, version_id, NULL, NULL, d);
}

/* ---- unfinished multipart uploads ---- */

static int abort_upload(struct s3 *s, const char *full, const char *upload_id, struct mdp_diag *d)
{
    const char *q[] = {"uploadId", upload_id, NULL};
    struct mdp_aws_request rq = {.method = "DELETE",
                                 .service = "s3",
                                 .op = "AbortMultipartUpload",
                                 .bucket = s->bucket,
                                 .key = full,
                                 .query = q};
    struct mdp_aws_response r;
    mdp_aws_response_init(&r);
    int rc = mdp_aws_request(s->aws, &rq, &r, d);
    if (rc == MDP_ERR_NOT_FOUND) rc = 0; /* already gone */
    mdp_aws_response_cleanup(&r);
    return rc;
}

static int s3_orphans(struct mdp_store *st, int64_t before_ms, int remove, mdp_store_orphan_cb cb,
                      void *ud, struct mdp_diag *d)
{
    struct s3 *s = S3(st);
    struct mdp_aws_response r;
    mdp_aws_response_init(&r);
    struct mdp_buf km, um;
    mdp_buf_init(&km);
    mdp_buf_init(&um);
    int rc = 0, more = 1;
    while (more && !rc) {
        const char *q[9] = {"uploads", NULL, "prefix", s->prefix, NULL};
        if (km.len) {
            q[4] = "key-marker";
            q[5] = km.data;
            q[6] = "upload-id-marker";
            q[7] = um.len ? um.data : "";
            q[8] = NULL;
        }
        struct mdp_aws_request rq = {.method = "GET",
                                     .service = "s3",
                                     .op = "ListMultipartUploads",
                                     .bucket = s->bucket,
                                     .query = q};
        if ((rc = mdp_aws_request(s->aws, &rq, &r, d))) break;
        xmlNode *root;
        xmlDoc *doc = xml_doc(r.body.data, r.body.len, 1, &root);
        if (!doc) {
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "s3://%s ListMultipartUploads: not XML", s->bucket);
            break;
        }
        more = xml_true(root, "IsTruncated");
        mdp_buf_reset(&km);
        mdp_buf_reset(&um);
        if (more) {
            xmlChar *h = NULL;
            const char *t;
            if ((t = xml_text(root, "NextKeyMarker", &h))) mdp_buf_puts(&km, t);
            xmlFree(h);
            h = NULL;
            if ((t = xml_text(root, "NextUploadIdMarker", &h))) mdp_buf_puts(&um, t);
            xmlFree(h);
            if (!km.len) more = 0;
        }
        for (xmlNode *c = root->children; c && !rc; c = c->next) {
            if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "Upload")) continue;
            xmlChar *hk = NULL, *hu = NULL, *hi = NULL;
            const char *key = xml_text(c, "Key", &hk), *id = xml_text(c, "UploadId", &hu),
                       *init = xml_text(c, "Initiated", &hi);
            int64_t ms = 0;
            if (init) mdp_time_parse_iso(init, strlen(init), &ms);
            if (key && id && ms < before_ms) {
                if (cb) rc = cb(key, 0, ms, ud);
                if (!rc && remove) rc = abort_upload(s, key, id, d);
            }
            xmlFree(hk);
            xmlFree(hu);
            xmlFree(hi);
        }
        xmlFreeDoc(doc);
    }
    mdp_aws_response_cleanup(&r);
    mdp_buf_cleanup(&km);
    mdp_buf_cleanup(&um);
    return rc;
}

/* ---- streaming writes: multipart upload ---- */

struct s3_writer {
    struct mdp_store_writer w;
    struct s3 *s;
    char *key; /* full key */
    char *upload_id;
    struct mdp_buf part; /* at most PART_SIZE bytes waiting */
    char **etags;
    size_t nparts, cap;
    int failed;
};

int mdp__s3_upload_id(const char *body, size_t len, char **out_id)
{
    *out_id = NULL;
    xmlNode *root;
    xmlDoc *doc = xml_doc(body, len, 0, &root);
    xmlChar *h = NULL;
    const char *id = root && !strcmp((const char *)root->name, "InitiateMultipartUploadResult")
                         ? xml_text(root, "UploadId", &h)
                         : NULL;
    int rc = MDP_ERR_PARSE;
    if (id && *id) rc = (*out_id = mdp_strdup(id)) ? 0 : MDP_ERR_NOMEM;
    xmlFree(h);
    if (doc) xmlFreeDoc(doc);
    return rc;
}

int mdp__s3_complete_failed(const char *body, size_t len)
{
    static const char tag[] = "<Error>";
    if (!body) return 0;
    for (size_t i = 0; i + sizeof tag - 1 <= len; i++)
        if (body[i] == '<' && !memcmp(body + i, tag, sizeof tag - 1)) return 1;
    return 0;
}

static int upload_part(struct s3_writer *w, struct mdp_diag *d)
{
    struct s3 *s = w->s;
    int rc;
    struct mdp_aws_response r;
    mdp_aws_response_init(&r);
    if (!w->upload_id) {
        const char *q[] = {"uploads", NULL, NULL};
        struct mdp_aws_request rq = {.method = "POST",
                                     .service = "s3",
                                     .op = "CreateMultipartUpload",
                                     .bucket = s->bucket,
                                     .key = w->key,
                                     .query = q,
                                     .headers = put_headers(s, 0)};
        if ((rc = mdp_aws_request(s->aws, &rq, &r, d))) goto out;
        int irc = mdp__s3_upload_id(r.body.data, r.body.len, &w->upload_id);
        if (irc) {
            rc = mdp_diag_set(d, irc, "s3://%s/%s CreateMultipartUpload: no UploadId in the answer",
                              s->bucket, w->key);
            goto out;
        }
    }
    if ((rc = mdp_grow(&w->etags, &w->cap, w->nparts, sizeof *w->etags, 16))) {
        mdp_diag_set(d, rc, "out of memory");
        goto out;
    }
    char num[24];
    snprintf(num, sizeof num, "%zu", w->nparts + 1);
    const char *q[] = {"partNumber", num, "uploadId", w->upload_id, NULL};
    struct mdp_aws_request rq = {.method = "PUT",
                                 .service = "s3",
                                 .op = "UploadPart",
                                 .bucket = s->bucket,
                                 .key = w->key,
                                 .query = q,
                                 .body = w->part.data ? w->part.data : "",
                                 .body_len = w->part.len};
    if ((rc = mdp_aws_request(s->aws, &rq, &r, d))) goto out;
    if (!r.etag[0]) {
        rc = mdp_diag_set(d, MDP_ERR_PARSE, "s3://%s/%s UploadPart %s: no ETag in the answer",
                          s->bucket, w->key, num);
        goto out;
    }
    if (!(w->etags[w->nparts] = mdp_strdup(r.etag))) {
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        goto out;
    }
    w->nparts++;
    mdp_buf_reset(&w->part);
out:
    mdp_aws_response_cleanup(&r);
    return rc;
}

static void writer_free(struct s3_writer *w)
{
    for (size_t i = 0; i < w->nparts; i++)
        free(w->etags[i]);
    free(w->etags);
    free(w->key);
    free(w->upload_id);
    mdp_buf_cleanup(&w->part);
    free(w);
}

static void s3_writer_abort(struct mdp_store_writer *ww)
{
    struct s3_writer *w = (struct s3_writer *)ww;
    if (w->upload_id) abort_upload(w->s, w->key, w->upload_id, NULL);
    writer_free(w);
}

static int s3_writer_write(struct mdp_store_writer *ww, const void *p, size_t n, struct mdp_diag *d)
{
    struct s3_writer *w = (struct s3_writer *)ww;
    if (w->failed)
        return mdp_diag_set(d, MDP_ERR_IO, "s3://%s/%s: an earlier write failed", w->s->bucket,
                            w->key);
    const char *c = p;
    while (n) {
        size_t room = PART_SIZE - w->part.len, k = n < room ? n : room;
        if (mdp_buf_append(&w->part, c, k)) {
            w->failed = 1;
            return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        }
        c += k;
        n -= k;
        if (w->part.len == PART_SIZE) {
            int rc = upload_part(w, d);
            if (rc) {
                w->failed = 1;
                return rc;
            }
        }
    }
    return 0;
}

static int s3_writer_commit(struct mdp_store_writer *ww, struct mdp_diag *d)
{
    struct s3_writer *w = (struct s3_writer *)ww;
    struct s3 *s = w->s;
    int rc = 0;
    if (w->failed) {
        rc = mdp_diag_set(d, MDP_ERR_IO, "s3://%s/%s: an earlier write failed", s->bucket, w->key);
        s3_writer_abort(ww);
        return rc;
    }
    if (!w->upload_id) { /* small: one put */
        struct mdp_store tmp = {NULL, s};
        rc = s3_put(&tmp, w->key + strlen(s->prefix), w->part.data ? w->part.data : "", w->part.len,
                    0, d);
        writer_free(w);
        return rc;
    }
    if (w->part.len && (rc = upload_part(w, d))) {
        s3_writer_abort(ww);
        return rc;
    }
    struct mdp_buf x;
    mdp_buf_init(&x);
    mdp_buf_puts(&x, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (size_t i = 0; i < w->nparts; i++)
        mdp_buf_printf(&x, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1,
                       w->etags[i]);
    mdp_buf_puts(&x, "</CompleteMultipartUpload>");
    if (mdp_buf_error(&x)) {
        mdp_buf_cleanup(&x);
        s3_writer_abort(ww);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    const char *q[] = {"uploadId", w->upload_id, NULL};
    const char *h[] = {"Content-Type: application/xml", NULL};
    struct mdp_aws_request rq = {.method = "POST",
                                 .service = "s3",
                                 .op = "CompleteMultipartUpload",
                                 .bucket = s->bucket,
                                 .key = w->key,
                                 .query = q,
                                 .headers = h,
                                 .body = x.data,
                                 .body_len = x.len,
                                 .idle_timeout_s = 900};
    struct mdp_aws_response r;
    mdp_aws_response_init(&r);
    rc = mdp_aws_request(s->aws, &rq, &r, d);
    if (rc == MDP_ERR_NOT_FOUND && r.attempts > 1 && !strcmp(r.error_code, "NoSuchUpload")) {
        /* a retry after an attempt that completed the upload but lost its answer: the object
         * is ours when its ETag names as many parts as we uploaded */
        char tail[32];
        snprintf(tail, sizeof tail, "-%zu\"", w->nparts);
        struct mdp_aws_request hq = {.method = "HEAD",
                                     .service = "s3",
                                     .op = "HeadObject",
                                     .bucket = s->bucket,
                                     .key = w->key};
        size_t el;
        if (!mdp_aws_request(s->aws, &hq, &r, NULL) && (el = strlen(r.etag)) > strlen(tail) &&
            !strcmp(r.etag + el - strlen(tail), tail))
            rc = 0;
    }
    /* S3 may answer 200 with an <Error> body when completing fails late */
    if (!rc && mdp__s3_complete_failed(r.body.data, r.body.len))
        rc = mdp_diag_set(d, MDP_ERR_IO, "s3://%s/%s CompleteMultipartUpload failed: %.200s",
                          s->bucket, w->key, r.body.data);
    if (!rc) {
        /* the encryption S3 applied (CompleteMultipartUpload's answer may not say: ask) */
        struct mdp_aws_request hq = {.method = "HEAD",
                                     .service = "s3",
                                     .op = "HeadObject",
                                     .bucket = s->bucket,
                                     .key = w->key};
        if (!r.sse[0]) rc = mdp_aws_request(s->aws, &hq, &r, d);
        if (!rc) rc = check_sse(s, w->key + strlen(s->prefix), &r, d);
    }
    mdp_aws_response_cleanup(&r);
    mdp_buf_cleanup(&x);
    if (rc) {
        s3_writer_abort(ww);
        return rc;
    }
    writer_free(w);
    return 0;
}

static int s3_writer_open(struct mdp_store *st, const char *key, struct mdp_store_writer **out,
                          struct mdp_diag *d)
{
    struct s3 *s = S3(st);
    struct s3_writer *w = mdp_calloc(1, sizeof *w);
    struct mdp_buf k;
    mdp_buf_init(&k);
    if (!w || full_key(s, key, &k) || !(w->key = mdp_buf_steal(&k))) {
        free(w);
        mdp_buf_cleanup(&k);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    w->s = s;
    mdp_buf_init(&w->part);
    w->w.write = s3_writer_write;
    w->w.commit = s3_writer_commit;
    w->w.abort = s3_writer_abort;
    *out = &w->w;
    return 0;
}

/* ---- the local cache (DuckDB reads and writes local files) ---- */

/* The key's place in the cache; its folder is created (best effort: a failure shows when the
 * caller opens the file), so a caller may create the file there (the embedded state store). */
static int s3_local_path(struct mdp_store *st, const char *key, struct mdp_buf *out)
{
    mdp_buf_reset(out);
    mdp_buf_printf(out, "%s/%s", S3(st)->cache, key);
    if (!mdp_buf_error(out)) mdp_local_mkdirs(out->data, 0, 0700, NULL);
    return mdp_buf_error(out);
}

struct dl {
    int fd;
    const char *path;
};

static int dl_sink(const void *p, size_t n, void *ud)
{
    struct dl *x = ud;
    const char *c = p;
    while (n) {
        ssize_t w = write(x->fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int dl_reset(void *ud)
{
    struct dl *x = ud;
    return ftruncate(x->fd, 0) || lseek(x->fd, 0, SEEK_SET) ? MDP_ERR_IO : 0;
}

struct stage_ud {
    struct s3 *s;
    struct mdp_diag *d;
    int64_t fetched;
};

/* One object into the cache, unless a copy of its size is there (objects never change in place:
 * raw is named by its hash, published files live in fresh run folders). */
static int stage_one(const char *key, int64_t size, void *ud)
{
    struct stage_ud *u = ud;
    struct s3 *s = u->s;
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", s->cache, key);
    struct stat sb;
    if (!stat(path, &sb) && S_ISREG(sb.st_mode) && sb.st_size == size) return 0;
    int rc = mdp_local_mkdirs(path, 0, 0700, u->d);
    if (rc) return rc;
    snprintf(tmp, sizeof tmp, "%s/.staging", s->cache);
    if ((rc = mdp_local_mkdirs(tmp, 1, 0700, u->d))) return rc;
    snprintf(tmp, sizeof tmp, "%s/.staging/%ld-XXXXXX", s->cache, (long)getpid());
    struct dl x = {mkstemp(tmp), tmp};
    if (x.fd < 0)
        return mdp_diag_set(u->d, mdp_err_from_errno(errno), "cannot create %s: %s", tmp,
                            strerror(errno));
    struct mdp_buf k;
    mdp_buf_init(&k);
    if (full_key(s, key, &k)) {
        close(x.fd);
        unlink(tmp);
        return mdp_diag_set(u->d, MDP_ERR_NOMEM, "out of memory");
    }
    struct mdp_aws_request rq = {.method = "GET",
                                 .service = "s3",
                                 .op = "GetObject",
                                 .bucket = s->bucket,
                                 .key = k.data,
                                 .sink = dl_sink,
                                 .sink_reset = dl_reset,
                                 .sink_ud = &x};
    struct mdp_aws_response r;
    mdp_aws_response_init(&r);
    rc = mdp_aws_request(s->aws, &rq, &r, u->d);
    mdp_aws_response_cleanup(&r);
    if (close(x.fd) && !rc)
        rc = mdp_diag_set(u->d, MDP_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path))
        rc = mdp_diag_set(u->d, mdp_err_from_errno(errno), "cannot rename %s to %s: %s", tmp, path,
                          strerror(errno));
    if (rc)
        unlink(tmp);
    else
        u->fetched += size;
    mdp_buf_cleanup(&k);
    return rc;
}

static int s3_stage(struct mdp_store *st, const char *prefix, struct mdp_diag *d)
{
    struct s3 *s = S3(st);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", s->cache, prefix);
    int rc = mdp_local_mkdirs(dir, prefix[0] && prefix[strlen(prefix) - 1] == '/', 0700, d);
    struct stage_ud u = {s, d, 0};
    if (!rc) rc = s3_list_any(st, prefix, 0, stage_one, NULL, &u, d);
    return rc;
}

static int s3_stage_object(struct mdp_store *st, const char *key, int64_t bytes, struct mdp_diag *d)
{
    if (!mdp_store_key_valid(key)) return mdp_diag_set(d, MDP_ERR_INVALID, "bad key '%s'", key);
    struct stage_ud u = {S3(st), d, 0};
    return stage_one(key, bytes, &u);
}

struct up_ud {
    struct mdp_store *st;
    size_t root_len;
    struct mdp_diag *d;
    int rc;
};
static struct up_ud *g_up; /* nftw has no user data; uploads run one at a time (g_up_lock) */
static pthread_mutex_t g_up_lock = PTHREAD_MUTEX_INITIALIZER;

static int up_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    struct up_ud *u = g_up;
    if (type != FTW_F) return 0;
    const char *key = path + u->root_len + 1;
    if (!mdp_store_key_valid(key)) return 0; /* .staging leftovers and the like */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        u->rc = mdp_diag_set(u->d, mdp_err_from_errno(errno), "cannot read %s: %s", path,
                             strerror(errno));
        return 1;
    }
    struct mdp_store_writer *w;
    int rc = s3_writer_open(u->st, key, &w, u->d);
    static _Thread_local char chunk[1 << 20];
    while (!rc) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = mdp_diag_set(u->d, MDP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            w->abort(w);
            break;
        }
        if (n == 0) {
            rc = w->commit(w, u->d);
            break;
        }
        if ((rc = w->write(w, chunk, (size_t)n, u->d))) w->abort(w);
    }
    close(fd);
    u->rc = rc;
    return rc ? 1 : 0;
}

static int s3_upload_local(struct mdp_store *st, const char *prefix, struct mdp_diag *d)
{
    struct s3 *s = S3(st);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", s->cache, prefix);
    size_t n = strlen(dir);
    while (n && dir[n - 1] == '/')
        dir[--n] = 0;
    struct stat sb;
    if (stat(dir, &sb)) return 0; /* nothing written */
    struct up_ud u = {st, strlen(s->cache), d, 0};
    pthread_mutex_lock(&g_up_lock);
    g_up = &u;
    if (S_ISREG(sb.st_mode))
        up_one(dir, &sb, FTW_F, NULL);
    else
        nftw(dir, up_one, 16, FTW_PHYS);
    g_up = NULL;
    pthread_mutex_unlock(&g_up_lock);
    return u.rc;
}

/* Bounds the cache: beyond aws.cache_mb, the least recently used files go (oldest access
 * first). Every cached file is a copy of an immutable object, so any may go. */
struct cfile {
    char *path;
    int64_t size;
    int64_t atime;
};
static struct {
    struct cfile *v;
    size_t n, cap;
    int64_t total;
} g_scan;

static size_t g_scan_root; /* length of the cache root in the paths nftw gives */

static int scan_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    if (type != FTW_F) return 0;
    /* only copies of objects may go: raw, curated, ml and serving files; _meta/ holds local
     * state (the embedded state store) and scratch files that a running job uses */
    const char *rel = path + g_scan_root + 1;
    if (strncmp(rel, "raw/", 4) && strncmp(rel, "curated/", 8) && strncmp(rel, "ml/", 3) &&
        strncmp(rel, "serving/", 8))
        return 0;
    if (mdp_grow(&g_scan.v, &g_scan.cap, g_scan.n, sizeof *g_scan.v, 256)) return 1;
    if (!(g_scan.v[g_scan.n].path = mdp_strdup(path))) return 1;
    g_scan.v[g_scan.n].size = sb->st_size;
    g_scan.v[g_scan.n].atime = (int64_t)sb->st_atime;
    g_scan.total += sb->st_size;
    g_scan.n++;
    return 0;
}

static int by_atime(const void *a, const void *b)
{
    const struct cfile *x = a, *y = b;
    return x->atime < y->atime ? -1 : x->atime > y->atime;
}

static void cache_trim(struct s3 *s)
{
    pthread_mutex_lock(&g_up_lock);
    memset(&g_scan, 0, sizeof g_scan);
    g_scan_root = strlen(s->cache);
    nftw(s->cache, scan_one, 16, FTW_PHYS);
    if (g_scan.total > s->cache_max) {
        qsort(g_scan.v, g_scan.n, sizeof *g_scan.v, by_atime);
        for (size_t i = 0; i < g_scan.n && g_scan.total > s->cache_max; i++)
            if (!unlink(g_scan.v[i].path)) g_scan.total -= g_scan.v[i].size;
    }
    for (size_t i = 0; i < g_scan.n; i++)
        free(g_scan.v[i].path);
    free(g_scan.v);
    memset(&g_scan, 0, sizeof g_scan);
    pthread_mutex_unlock(&g_up_lock);
}

/* Drops cached copies (erasure: the cache must not keep what the bucket no longer holds). Only the
 * object zones: the cache's _meta/ may hold an embedded state file, which is no copy. */
struct evict {
    struct s3 *s;
    const char *prefix;
    int gone_only;
    char **keys; /* gone_only: the keys the bucket has under prefix, sorted */
    size_t n, cap;
    int64_t removed;
    int rc;
    struct mdp_diag *d;
};
static struct evict *g_ev; /* nftw has no user data; under g_up_lock */

static int ev_collect(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct evict *e = ud;
    if (mdp_grow(&e->keys, &e->cap, e->n, sizeof *e->keys, 256) ||
        !(e->keys[e->n] = mdp_strdup(key)))
        return e->rc = MDP_ERR_NOMEM;
    e->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int object_zone(const char *key)
{
    static const char *const Z[] = {"raw/", "landing/", "curated/", "ml/", "serving/", NULL};
    for (int i = 0; Z[i]; i++)
        if (!strncmp(key, Z[i], strlen(Z[i]))) return 1;
    return 0;
}

static int ev_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    struct evict *e = g_ev;
    if (type != FTW_F) return 0;
    const char *key = path + strlen(e->s->cache) + 1;
    if (!object_zone(key) || strncmp(key, e->prefix, strlen(e->prefix))) return 0;
    if (e->gone_only && bsearch(&key, e->keys, e->n, sizeof *e->keys, cmp_str)) return 0;
    if (unlink(path) && errno != ENOENT) {
        e->rc = mdp_diag_set(e->d, MDP_ERR_IO, "cannot remove the cached copy %s: %s", path,
                             strerror(errno));
        return 1;
    }
    e->removed++;
    return 0;
}

static int s3_evict(struct mdp_store *st, const char *prefix, int gone_only, struct mdp_diag *d)
{
    struct s3 *s = S3(st);
    struct evict e = {s, prefix, gone_only, NULL, 0, 0, 0, 0, d};
    int rc = 0;
    if (gone_only) {
        rc = s3_list_any(st, prefix, 0, ev_collect, NULL, &e, d);
        if (e.rc) rc = mdp_diag_set(d, e.rc, "out of memory listing %s", prefix);
        if (!rc && e.n) qsort(e.keys, e.n, sizeof *e.keys, cmp_str);
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", s->cache, prefix);
    size_t n = strlen(dir);
    while (n && dir[n - 1] == '/')
        dir[--n] = 0;
    /* a prefix that is not a whole folder name ("raw/x/dt=1" of "dt=10") walks its folder */
    struct stat sb;
    if (!rc && stat(dir, &sb) != 0) {
        char *sl = strrchr(dir, '/');
        if (sl && sl > dir + strlen(s->cache)) *sl = 0;
        if (stat(dir, &sb) != 0) dir[0] = 0;
    }
    if (!rc && dir[0]) {
        pthread_mutex_lock(&g_up_lock);
        g_ev = &e;
        if (S_ISREG(sb.st_mode))
            ev_one(dir, &sb, FTW_F, NULL);
        else
            nftw(dir, ev_one, 16, FTW_PHYS);
        g_ev = NULL;
        pthread_mutex_unlock(&g_up_lock);
        rc = e.rc;
    }
    for (size_t i = 0; i < e.n; i++)
        free(e.keys[i]);
    free(e.keys);
    return rc;
}

static void s3_close(struct mdp_store *st)
{
    struct s3 *s = S3(st);
    cache_trim(s);
    mdp_aws_close(s->aws);
    free(s);
    free(st);
}

static const struct mdp_store_ops S3_OPS = {.scheme = "s3",
                                            .put = s3_put,
                                            .get = s3_get,
                                            .head = s3_head,
                                            .list = s3_list,
                                            .del = s3_del,
                                            .list_time = s3_list_time,
                                            .list_dirs = s3_list_dirs,
                                            .orphans = s3_orphans,
                                            .writer_open = s3_writer_open,
                                            .local_path = s3_local_path,
                                            .stage = s3_stage,
                                            .stage_object = s3_stage_object,
                                            .upload_local = s3_upload_local,
                                            .versions = s3_versions,
                                            .get_version = s3_get_version,
                                            .delete_version = s3_delete_version,
                                            .evict = s3_evict,
                                            .close = s3_close};

/* The bucket must exist and be reachable with these credentials; with aws.kms_key_id set its
 * default encryption must be SSE-KMS with that key. */
static int check_bucket(struct s3 *s, const char *url, struct mdp_diag *d)
{
    struct mdp_aws_response r;
    mdp_aws_response_init(&r);
    /* a listing of one key, not HeadBucket: its errors come with a body that says why (a wrong
     * secret key, an unknown access key, a missing bucket), and the lake needs ListBucket anyway */
    const char *lq[] = {"list-type", "2", "max-keys", "1", "prefix", s->prefix, NULL};
    struct mdp_aws_request rq = {
        .method = "GET", .service = "s3", .op = "ListObjectsV2", .bucket = s->bucket, .query = lq};
    int rc = mdp_aws_request(s->aws, &rq, &r, d);
    if (rc == MDP_ERR_NOT_FOUND)
        rc = mdp_diag_set(d, rc,
                          "%s: bucket '%s' does not exist (lake location; aws.region %s, "
                          "aws.endpoint_url %s)",
                          url, s->bucket, mdp_aws_region(s->aws), mdp_aws_endpoint(s->aws));
    if (rc || !s->kms_key[0]) goto out;
    const char *q[] = {"encryption", NULL, NULL};
    struct mdp_aws_request eq = {.method = "GET",
                                 .service = "s3",
                                 .op = "GetBucketEncryption",
                                 .bucket = s->bucket,
                                 .query = q};
    rc = mdp_aws_request(s->aws, &eq, &r, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                          "%s: bucket '%s' has no default encryption, but aws.kms_key_id is %s: "
                          "set the bucket's default encryption to aws:kms with that key "
                          "(docs/aws.md)",
                          url, s->bucket, s->kms_key);
        goto out;
    }
    if (rc) goto out;
    char alg[64] = "", key[256] = "";
    xmlNode *root;
    xmlDoc *doc = xml_doc(r.body.data, r.body.len, 0, &root);
    for (xmlNode *rule = root ? root->children : NULL; rule; rule = rule->next) {
        if (rule->type != XML_ELEMENT_NODE || strcmp((const char *)rule->name, "Rule")) continue;
        for (xmlNode *c = rule->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE ||
                strcmp((const char *)c->name, "ApplyServerSideEncryptionByDefault"))
                continue;
            xmlChar *h = NULL;
            const char *t = xml_text(c, "SSEAlgorithm", &h);
            if (t) snprintf(alg, sizeof alg, "%s", t);
            xmlFree(h);
            h = NULL;
            t = xml_text(c, "KMSMasterKeyID", &h);
            if (t) snprintf(key, sizeof key, "%s", t);
            xmlFree(h);
        }
    }
    if (doc) xmlFreeDoc(doc);
    if (strcmp(alg, "aws:kms") || !kms_matches(s->kms_key, key))
        rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                          "%s: bucket '%s' encrypts by default with %s%s%s, but aws.kms_key_id is "
                          "%s: set the bucket's default encryption to aws:kms with that key "
                          "(docs/aws.md)",
                          url, s->bucket, alg[0] ? alg : "nothing", key[0] ? " key " : "", key,
                          s->kms_key);
out:
    mdp_aws_response_cleanup(&r);
    return rc;
}

int mdp__store_s3_open(const char *url, int create, struct mdp_store **out, struct mdp_diag *d)
{
    *out = NULL;
    struct s3 *s = mdp_calloc(1, sizeof *s);
    struct mdp_store *st = mdp_calloc(1, sizeof *st);
    if (!s || !st) {
        free(s);
        free(st);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    char prefix[1000];
    int rc = mdp_aws_parse_s3_url(url, s->bucket, sizeof s->bucket, prefix, sizeof prefix, d);
    if (!rc) {
        if (prefix[0]) snprintf(s->prefix, sizeof s->prefix, "%s/", prefix);
        rc = mdp_aws_open(NULL, &s->aws, d);
    }
    if (!rc) {
        snprintf(s->kms_key, sizeof s->kms_key, "%s", mdp_aws_client_settings(s->aws)->kms_key_id);
        const struct mdp_aws_settings *as = mdp_aws_client_settings(s->aws);
        const char *tmp = getenv("TMPDIR");
        char base[1100];
        if (as->cache_dir[0])
            snprintf(base, sizeof base, "%s", as->cache_dir);
        else
            snprintf(base, sizeof base, "%s/mdp-cache-%ld", tmp && *tmp ? tmp : "/tmp",
                     (long)getuid());
        snprintf(s->cache, sizeof s->cache, "%s/%s%s%s", base, s->bucket, prefix[0] ? "/" : "",
                 prefix);
        s->cache_max = (int64_t)as->cache_mb << 20;
        rc = check_bucket(s, url, d);
    }
    if (rc) {
        mdp_aws_close(s->aws);
        free(s);
        free(st);
        return rc;
    }
    st->ops = &S3_OPS;
    st->impl = s;
    *out = st;
    return 0;
}
