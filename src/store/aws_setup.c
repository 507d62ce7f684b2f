/* Setting up AWS mode (include/mdp/aws_setup.h): the bucket's bootstrap through the S3 API (each
 * setting read, then written only when it differs) and the least-privilege policy of each job.
 *
 * The policies follow what the code calls (docs/aws.md "IAM"): the object store uses
 * ListObjectsV2 (s3:ListBucket), GetBucketEncryption at open (s3:GetEncryptionConfiguration),
 * GetObject/HeadObject (s3:GetObject), PutObject and multipart
 * uploads (s3:PutObject), AbortMultipartUpload and ListMultipartUploads (cleaning up), DeleteObject;
 * the state store DescribeTable on open, GetItem/Query/Scan, PutItem/UpdateItem/DeleteItem,
 * BatchWriteItem (purges) and TransactWriteItems (whose writes IAM checks as PutItem and UpdateItem);
 * `mdp catalog apply` the Glue database, table and partition calls. */
#include "mdp/aws_setup.h"
#include "mdp/lease.h"

#include "mdp/aws.h"
#include "mdp/state.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- bucket bootstrap ---- */

static void say(mdp_aws_setup_report_fn report, void *ud, const char *fmt, const char *a,
                const char *b)
{
    char line[512];
    snprintf(line, sizeof line, fmt, a, b ? b : "");
    if (report) report(line, ud);
}

/* One S3 bucket request: method on bucket with one sub-resource query (NULL: none), body (XML,
 * sent with its Content-MD5, which the configuration calls require). */
static int bucket_call(struct mdp_aws *a, const char *method, const char *op, const char *bucket,
                       const char *subresource, const char *body, struct mdp_aws_response *resp,
                       struct mdp_diag *d)
{
    const char *query[] = {subresource, NULL, NULL};
    char md5h[128] = "", md5[80] = "";
    const char *headers[] = {md5h, "Content-Type: application/xml", NULL};
    if (body) {
        unsigned char raw[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        unsigned char b64[64];
        if (!EVP_Digest(body, strlen(body), raw, &n, EVP_md5(), NULL))
            return mdp_diag_set(d, MDP_ERR_CRYPTO, "%s of s3://%s: MD5 failed", op, bucket);
        EVP_EncodeBlock(b64, raw, (int)n);
        snprintf(md5, sizeof md5, "%s", (char *)b64);
        snprintf(md5h, sizeof md5h, "Content-MD5: %s", md5);
    }
    struct mdp_aws_request rq = {
        .method = method,
        .service = "s3",
        .op = op,
        .bucket = bucket,
        .query = subresource ? query : NULL,
        .headers = body ? headers : NULL,
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };
    return mdp_aws_request(a, &rq, resp, d);
}

static int has(const struct mdp_aws_response *r, const char *needle)
{
    return r->body.data && strstr(r->body.data, needle) != NULL;
}

#define S3NS "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

static int count(const struct mdp_aws_response *r, const char *needle)
{
    int n = 0;
    for (const char *p = r->body.data; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The lifecycle rules of the bucket: versions made noncurrent by an overwrite or a delete
 * (retention, erasure, a republished manifest) expire after noncurrent_days, then their delete
 * markers; unfinished multipart uploads are aborted after a day. A configuration holding rules
 * of someone else's is left alone (a put would replace it) and reported. */
static int bootstrap_lifecycle(struct mdp_aws *a, const char *bucket, int noncurrent_days,
                               mdp_aws_setup_report_fn report, void *ud, struct mdp_aws_response *r,
                               struct mdp_diag *d)
{
    char days[64], line[256];
    snprintf(days, sizeof days, "<NoncurrentDays>%d</NoncurrentDays>", noncurrent_days);
    int rc =
        bucket_call(a, "GET", "GetBucketLifecycleConfiguration", bucket, "lifecycle", NULL, r, d);
    int rules = 0, ours = 0;
    if (!rc) {
        rules = count(r, "<Rule>");
        ours = count(r, "<ID>mdp-noncurrent-versions</ID>") +
               count(r, "<ID>mdp-incomplete-uploads</ID>");
    } else if (rc == MDP_ERR_NOT_FOUND ||
               (rc == MDP_ERR_INVALID && strstr(r->error_code, "NoSuchLifecycle"))) {
        rc = 0; /* NoSuchLifecycleConfiguration */
    }
    if (rc) return rc;
    if (rules > ours) {
        snprintf(line, sizeof line,
                 "bucket %s: lifecycle has %d rule(s) of its own, left alone; add the rules "
                 "mdp-noncurrent-versions (NoncurrentDays %d) and mdp-incomplete-uploads "
                 "(docs/aws.md)",
                 bucket, rules - ours, noncurrent_days);
        say(report, ud, "%s%s", line, NULL);
        return 0;
    }
    if (ours == 2 && rules == 2 && count(r, days) == 1) {
        snprintf(line, sizeof line,
                 "bucket %s: lifecycle already expires noncurrent versions after %d days", bucket,
                 noncurrent_days);
        say(report, ud, "%s%s", line, NULL);
        return 0;
    }
    char xml[1024];
    snprintf(xml, sizeof xml,
             "<LifecycleConfiguration " S3NS ">"
             "<Rule><ID>mdp-noncurrent-versions</ID><Filter><Prefix></Prefix></Filter>"
             "<Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true"
             "</ExpiredObjectDeleteMarker></Expiration><NoncurrentVersionExpiration>%s"
             "</NoncurrentVersionExpiration></Rule>"
             "<Rule><ID>mdp-incomplete-uploads</ID><Filter><Prefix></Prefix></Filter>"
             "<Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1"
             "</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>"
             "</LifecycleConfiguration>",
             days);
    rc = bucket_call(a, "PUT", "PutBucketLifecycleConfiguration", bucket, "lifecycle", xml, r, d);
    if (!rc) {
        snprintf(line, sizeof line,
                 "bucket %s: lifecycle set: noncurrent versions expire after %d days, "
                 "unfinished uploads after 1",
                 bucket, noncurrent_days);
        say(report, ud, "%s%s", line, NULL);
    }
    return rc;
}

int mdp_aws_bootstrap_bucket(struct mdp_aws *a, const char *bucket, const char *kms_key_id,
                             int noncurrent_days, mdp_aws_setup_report_fn report, void *ud,
                             struct mdp_diag *d)
{
    struct mdp_aws_response r;
    mdp_aws_response_init(&r);
    char xml[1024];
    const char *region = mdp_aws_region(a);
    const char *key = kms_key_id ? kms_key_id : "";
    /* the bucket */
    int rc = bucket_call(a, "HEAD", "HeadBucket", bucket, NULL, NULL, &r, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        if (strcmp(region, "us-east-1") == 0)
            xml[0] = '\0';
        else
            snprintf(xml, sizeof xml,
                     "<CreateBucketConfiguration " S3NS "><LocationConstraint>%s"
                     "</LocationConstraint></CreateBucketConfiguration>",
                     region);
        rc = bucket_call(a, "PUT", "CreateBucket", bucket, NULL, xml[0] ? xml : NULL, &r, d);
        if (!rc) say(report, ud, "bucket %s: created in %s", bucket, region);
    } else if (!rc) {
        say(report, ud, "bucket %s: exists%s", bucket, NULL);
    }
    /* versioning */
    if (!rc) rc = bucket_call(a, "GET", "GetBucketVersioning", bucket, "versioning", NULL, &r, d);
    if (!rc && has(&r, "<Status>Enabled</Status>")) {
        say(report, ud, "bucket %s: versioning already enabled%s", bucket, NULL);
    } else if (!rc) {
        rc = bucket_call(a, "PUT", "PutBucketVersioning", bucket, "versioning",
                         "<VersioningConfiguration " S3NS "><Status>Enabled</Status>"
                         "</VersioningConfiguration>",
                         &r, d);
        if (!rc) say(report, ud, "bucket %s: versioning enabled%s", bucket, NULL);
    }
    /* default encryption */
    int want_enc = 1;
    if (!rc) {
        rc = bucket_call(a, "GET", "GetBucketEncryption", bucket, "encryption", NULL, &r, d);
        if (!rc && has(&r, "<SSEAlgorithm>aws:kms</SSEAlgorithm>") &&
            (!*key || (has(&r, "<KMSMasterKeyID>") && has(&r, key))))
            want_enc = 0;
        else if (rc == MDP_ERR_NOT_FOUND ||
                 (rc == MDP_ERR_INVALID && strstr(r.error_code, "Server")))
            rc = 0; /* ServerSideEncryptionConfigurationNotFoundError */
    }
    if (!rc && !want_enc) {
        say(report, ud, "bucket %s: default encryption already aws:kms %s", bucket, key);
    } else if (!rc) {
        char kid[512] = "";
        if (*key) snprintf(kid, sizeof kid, "<KMSMasterKeyID>%s</KMSMasterKeyID>", key);
        snprintf(xml, sizeof xml,
                 "<ServerSideEncryptionConfiguration " S3NS "><Rule>"
                 "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm>%s"
                 "</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>"
                 "</Rule></ServerSideEncryptionConfiguration>",
                 kid);
        rc = bucket_call(a, "PUT", "PutBucketEncryption", bucket, "encryption", xml, &r, d);
        if (!rc)
            say(report, ud, "bucket %s: default encryption set to aws:kms %s", bucket,
                *key ? key : "(the AWS managed key aws/s3)");
    }
    /* public access block */
    int want_pab = 1;
    if (!rc) {
        rc =
            bucket_call(a, "GET", "GetPublicAccessBlock", bucket, "publicAccessBlock", NULL, &r, d);
        if (!rc && has(&r, "<BlockPublicAcls>true") && has(&r, "<IgnorePublicAcls>true") &&
            has(&r, "<BlockPublicPolicy>true") && has(&r, "<RestrictPublicBuckets>true"))
            want_pab = 0;
        else if (rc == MDP_ERR_NOT_FOUND ||
                 (rc == MDP_ERR_INVALID && strstr(r.error_code, "Public")))
            rc = 0; /* NoSuchPublicAccessBlockConfiguration */
    }
    if (!rc && !want_pab) {
        say(report, ud, "bucket %s: public access already blocked%s", bucket, NULL);
    } else if (!rc) {
        rc = bucket_call(a, "PUT", "PutPublicAccessBlock", bucket, "publicAccessBlock",
                         "<PublicAccessBlockConfiguration " S3NS
                         "><BlockPublicAcls>true</BlockPublicAcls>"
                         "<IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true"
                         "</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets>"
                         "</PublicAccessBlockConfiguration>",
                         &r, d);
        if (!rc)
            say(report, ud, "bucket %s: public access blocked (all four settings)%s", bucket, NULL);
    }
    if (!rc) rc = bootstrap_lifecycle(a, bucket, noncurrent_days, report, ud, &r, d);
    mdp_aws_response_cleanup(&r);
    return rc;
}

/* ---- policies ---- */

enum {
    S3_READ = 1,      /* s3:GetObject */
    S3_WRITE = 2,     /* s3:PutObject, s3:AbortMultipartUpload */
    S3_DELETE = 4,    /* s3:DeleteObject */
    DDB_READ = 8,     /* DescribeTable, GetItem, Query, Scan */
    DDB_WRITE = 16,   /* PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems */
    DDB_SUBJECT = 32, /* Query on the by_subject index */
    GLUE = 64,        /* the catalog */
    /* the old versions a versioned bucket keeps (erasure, docs/privacy.md §7); either bit also
     * grants s3:ListBucketVersions on the bucket */
    S3_READ_VERSIONS = 128,   /* s3:GetObjectVersion */
    S3_DELETE_VERSIONS = 256, /* s3:DeleteObjectVersion */
    /* PutItem of the lake's lease item only (mdp/lease.h; dynamodb:LeadingKeys), for a job that
     * writes no other state */
    DDB_LEASE = 512
};

struct grant {
    const char *prefix; /* under the lake's prefix; "" = everything */
    int what;
};

struct job {
    const char *name;
    int state;               /* DDB_* and GLUE bits */
    struct grant objects[8]; /* ends with a NULL prefix */
};

/* What each job reads and writes (ARCHITECTURE.md §3 is the layout). */
static const struct job JOBS[] = {
    {"ingest",
     DDB_READ | DDB_LEASE, /* reads the suppression list, takes the lake's lease */
     {{"landing/", S3_READ},
      {"raw/", S3_READ | S3_WRITE},
      {"_meta/", S3_READ | S3_WRITE | S3_DELETE},
      {NULL, 0}}},
    {"curate",
     DDB_READ | DDB_WRITE | GLUE,
     {{"raw/", S3_READ},
      {"curated/", S3_READ | S3_WRITE | S3_DELETE},
      {"ml/", S3_READ | S3_WRITE | S3_DELETE},
      {"serving/", S3_READ | S3_WRITE | S3_DELETE},
      {"_meta/", S3_READ | S3_WRITE | S3_DELETE},
      {NULL, 0}}},
    {"serve",
     DDB_READ | DDB_WRITE,
     {{"raw/events/", S3_WRITE},
      {"raw/ses/", S3_WRITE},
      {"raw/serve/", S3_WRITE},
      {"raw/_quarantine/", S3_WRITE},
      {"serving/", S3_READ},
      {"ml/", S3_READ},
      {"_meta/", S3_READ | S3_WRITE},
      {NULL, 0}}},
    {"dsar",
     DDB_READ | DDB_WRITE | DDB_SUBJECT,
     /* an export reads every zone, an erasure's survivor scan every version of every object;
      * an erasure rewrites and deletes objects, and purges their old versions */
     {{"", S3_READ | S3_READ_VERSIONS},
      {"raw/", S3_DELETE | S3_WRITE | S3_DELETE_VERSIONS},
      {"landing/", S3_DELETE | S3_WRITE | S3_DELETE_VERSIONS},
      {"curated/", S3_WRITE | S3_DELETE | S3_DELETE_VERSIONS},
      {"ml/", S3_WRITE | S3_DELETE | S3_DELETE_VERSIONS},
      {"serving/", S3_WRITE | S3_DELETE | S3_DELETE_VERSIONS},
      {"_meta/", S3_WRITE | S3_DELETE | S3_DELETE_VERSIONS},
      {NULL, 0}}},
};
#define NJOBS (sizeof JOBS / sizeof *JOBS)

const char *const *mdp_aws_policy_jobs(void)
{
    static const char *const names[] = {"ingest", "curate", "serve", "dsar", "all", NULL};
    return names;
}

static void add_str(json_object *arr, const char *s)
{
    json_object_array_add(arr, json_object_new_string(s));
}

static json_object *statement(const char *sid, const char *const *actions, json_object *resources)
{
    json_object *st = json_object_new_object(), *acts = json_object_new_array();
    json_object_object_add(st, "Sid", json_object_new_string(sid));
    json_object_object_add(st, "Effect", json_object_new_string("Allow"));
    for (int i = 0; actions[i]; i++)
        add_str(acts, actions[i]);
    json_object_object_add(st, "Action", acts);
    json_object_object_add(st, "Resource", resources);
    return st;
}

/* the object ARNs of grant bit `bit` over the jobs in mask */
static json_object *object_arns(const struct mdp_aws_policy_target *t, unsigned mask, int bit)
{
    json_object *arr = json_object_new_array();
    const char *sep = t->prefix && *t->prefix ? "/" : "";
    for (size_t j = 0; j < NJOBS; j++) {
        if (!(mask & (1u << j))) continue;
        for (const struct grant *g = JOBS[j].objects; g->prefix; g++) {
            if (!(g->what & bit)) continue;
            char arn[1024];
            snprintf(arn, sizeof arn, "arn:aws:s3:::%s/%s%s%s*", t->bucket,
                     t->prefix ? t->prefix : "", sep, g->prefix);
            int dup = 0;
            for (size_t k = 0; k < json_object_array_length(arr) && !dup; k++)
                dup = !strcmp(json_object_get_string(json_object_array_get_idx(arr, k)), arn);
            if (!dup) add_str(arr, arn);
        }
    }
    return arr;
}

int mdp_aws_policy(const struct mdp_aws_policy_target *t, const char *job, struct mdp_buf *out,
                   struct mdp_diag *d)
{
    unsigned mask = 0;
    for (size_t j = 0; j < NJOBS; j++)
        if (!strcmp(job, "all") || !strcmp(job, JOBS[j].name)) mask |= 1u << j;
    if (!mask)
        return mdp_diag_set(d, MDP_ERR_INVALID,
                            "unknown job '%s' (ingest, curate, serve, dsar or all)", job);
    int state = 0, objects = 0;
    for (size_t j = 0; j < NJOBS; j++)
        if (mask & (1u << j)) {
            state |= JOBS[j].state;
            for (const struct grant *g = JOBS[j].objects; g->prefix; g++)
                objects |= g->what;
        }
    const char *region = t->region && *t->region ? t->region : "*";
    const char *account = t->account && *t->account ? t->account : "*";
    char arn[1024];
    json_object *doc = json_object_new_object(), *sts = json_object_new_array(), *res;
    json_object_object_add(doc, "Version", json_object_new_string("2012-10-17"));
    /* listing the bucket (every job lists what it reads; writers find unfinished uploads) */
    static const char *const list[] = {"s3:ListBucket", "s3:ListBucketMultipartUploads",
                                       "s3:GetEncryptionConfiguration", NULL};
    static const char *const list_ro[] = {"s3:ListBucket", "s3:GetEncryptionConfiguration", NULL};
    static const char *const list_v[] = {"s3:ListBucket", "s3:ListBucketMultipartUploads",
                                         "s3:GetEncryptionConfiguration", "s3:ListBucketVersions",
                                         NULL};
    res = json_object_new_array();
    snprintf(arn, sizeof arn, "arn:aws:s3:::%s", t->bucket);
    add_str(res, arn);
    json_object_array_add(sts, statement("ListLake",
                                         objects & (S3_READ_VERSIONS | S3_DELETE_VERSIONS) ? list_v
                                         : objects & S3_WRITE                              ? list
                                                              : list_ro,
                                         res));
    static const char *const get[] = {"s3:GetObject", NULL};
    static const char *const put[] = {"s3:PutObject", "s3:AbortMultipartUpload", NULL};
    static const char *const del[] = {"s3:DeleteObject", NULL};
    if (objects & S3_READ)
        json_object_array_add(sts, statement("ReadObjects", get, object_arns(t, mask, S3_READ)));
    if (objects & S3_WRITE)
        json_object_array_add(sts, statement("WriteObjects", put, object_arns(t, mask, S3_WRITE)));
    if (objects & S3_DELETE)
        json_object_array_add(sts,
                              statement("DeleteObjects", del, object_arns(t, mask, S3_DELETE)));
    static const char *const getv[] = {"s3:GetObjectVersion", NULL};
    static const char *const delv[] = {"s3:DeleteObjectVersion", NULL};
    if (objects & S3_READ_VERSIONS)
        json_object_array_add(
            sts, statement("ReadObjectVersions", getv, object_arns(t, mask, S3_READ_VERSIONS)));
    if (objects & S3_DELETE_VERSIONS)
        json_object_array_add(
            sts, statement("PurgeObjectVersions", delv, object_arns(t, mask, S3_DELETE_VERSIONS)));
    /* the lake's KMS key: every put is encrypted with it (GenerateDataKey), every get decrypts */
    static const char *const kms_rw[] = {"kms:GenerateDataKey", "kms:Decrypt", NULL};
    static const char *const kms_ro[] = {"kms:Decrypt", NULL};
    res = json_object_new_array();
    const char *key = t->kms_key ? t->kms_key : "";
    if (!strncmp(key, "arn:", 4))
        snprintf(arn, sizeof arn, "%s", key);
    else if (*key && strncmp(key, "alias/", 6) != 0)
        snprintf(arn, sizeof arn, "arn:aws:kms:%s:%s:key/%s", region, account, key);
    else /* an alias or the default key: a policy names keys, not aliases */
        snprintf(arn, sizeof arn, "arn:aws:kms:%s:%s:key/*", region, account);
    add_str(res, arn);
    json_object_array_add(sts, statement("LakeKey", objects & S3_WRITE ? kms_rw : kms_ro, res));
    /* the state table */
    if (state & (DDB_READ | DDB_WRITE)) {
        static const char *const ro[] = {"dynamodb:DescribeTable", "dynamodb:GetItem",
                                         "dynamodb:Query", "dynamodb:Scan", NULL};
        static const char *const rw[] = {"dynamodb:DescribeTable",
                                         "dynamodb:GetItem",
                                         "dynamodb:Query",
                                         "dynamodb:Scan",
                                         "dynamodb:PutItem",
                                         "dynamodb:UpdateItem",
                                         "dynamodb:DeleteItem",
                                         "dynamodb:BatchWriteItem",
                                         "dynamodb:TransactWriteItems",
                                         NULL};
        res = json_object_new_array();
        snprintf(arn, sizeof arn, "arn:aws:dynamodb:%s:%s:table/%s", region, account, t->table);
        add_str(res, arn);
        json_object_array_add(sts, statement("StateTable", state & DDB_WRITE ? rw : ro, res));
    }
    if ((state & DDB_LEASE) && !(state & DDB_WRITE)) {
        static const char *const lease[] = {"dynamodb:PutItem", NULL};
        res = json_object_new_array();
        snprintf(arn, sizeof arn, "arn:aws:dynamodb:%s:%s:table/%s", region, account, t->table);
        add_str(res, arn);
        json_object *st = statement("LakeLease", lease, res), *cond = json_object_new_object(),
                    *all = json_object_new_object(), *keys = json_object_new_array();
        add_str(keys, "leases#" MDP_LEASE_LAKE); /* the item's partition key (table#pk) */
        json_object_object_add(all, "dynamodb:LeadingKeys", keys);
        json_object_object_add(cond, "ForAllValues:StringEquals", all);
        json_object_object_add(st, "Condition", cond);
        json_object_array_add(sts, st);
    }
    if (state & DDB_SUBJECT) {
        static const char *const q[] = {"dynamodb:Query", NULL};
        res = json_object_new_array();
        snprintf(arn, sizeof arn, "arn:aws:dynamodb:%s:%s:table/%s/index/%s", region, account,
                 t->table, MDP_STATE_SUBJECT_INDEX);
        add_str(res, arn);
        json_object_array_add(sts, statement("StateBySubject", q, res));
    }
    /* the catalog */
    if (state & GLUE) {
        static const char *const glue[] = {"glue:GetDatabase",
                                           "glue:CreateDatabase",
                                           "glue:GetTable",
                                           "glue:CreateTable",
                                           "glue:UpdateTable",
                                           "glue:GetPartitions",
                                           "glue:BatchCreatePartition",
                                           "glue:BatchUpdatePartition",
                                           "glue:BatchDeletePartition",
                                           NULL};
        res = json_object_new_array();
        snprintf(arn, sizeof arn, "arn:aws:glue:%s:%s:catalog", region, account);
        add_str(res, arn);
        snprintf(arn, sizeof arn, "arn:aws:glue:%s:%s:database/%s", region, account, t->glue_db);
        add_str(res, arn);
        snprintf(arn, sizeof arn, "arn:aws:glue:%s:%s:table/%s/*", region, account, t->glue_db);
        add_str(res, arn);
        json_object_array_add(sts, statement("Catalog", glue, res));
    }
    json_object_object_add(doc, "Statement", sts);
    const char *text = json_object_to_json_string_ext(
        doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text) {
        mdp_buf_puts(out, text);
        mdp_buf_putc(out, '\n');
    }
    json_object_put(doc);
    int rc = mdp_buf_error(out);
    if (!rc && !text) rc = MDP_ERR_NOMEM;
    return rc;
}
