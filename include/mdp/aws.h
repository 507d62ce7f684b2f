/* The AWS client of AWS mode: settings (the aws.* config keys), the standard credentials chain,
 * signed requests and the JSON protocol. Requests are signed by libcurl (CURLOPT_AWS_SIGV4,
 * "aws:amz:REGION:SERVICE"); this module only prepares what curl 7.88 needs for a signature AWS
 * accepts: the payload's SHA-256 in x-amz-content-sha256 (OpenSSL), the canonical query string
 * (sorted, '=' on every pair, upper-case %-escapes) and the path (each key segment %-escaped once).
 * Every request is retried on transport errors, 5xx and throttling answers with exponential backoff
 * and full jitter (aws.max_retries, aws.retry_base_ms). Connections are reused (a pool of curl
 * handles and a curl share of DNS, TLS sessions and connections).
 *
 * Credentials, in this order (as the AWS SDKs): AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+
 * AWS_SESSION_TOKEN); the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
 * ~/.aws/credentials) section AWS_PROFILE (else "default"); the container credentials endpoint
 * (AWS_CONTAINER_CREDENTIALS_FULL_URI or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, with
 * AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]); the instance metadata service with IMDSv2 tokens
 * (AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the address, AWS_EC2_METADATA_DISABLED=true skips
 * it). Temporary credentials are refreshed five minutes before they expire. Secrets never reach
 * logs or messages. A client is thread-safe: many threads may send requests through one. */
#ifndef MDP_AWS_H
#define MDP_AWS_H

#include <stddef.h>
#include <stdint.h>
#include "mdp/buf.h"
#include "mdp/err.h"

struct mdp_config;
struct json_object;
struct mdp_aws;

/* The aws.* settings. Strings are owned by whoever filled the struct (mdp_aws_configure: the
 * process). */
struct mdp_aws_settings {
    char *region;       /* aws.region; "" takes AWS_REGION, then AWS_DEFAULT_REGION */
    char *endpoint_url; /* aws.endpoint_url; "" takes AWS_ENDPOINT_URL, else the AWS endpoints */
    int virtual_hosted; /* aws.s3_addressing: 1 virtual (bucket.host), 0 path (host/bucket) */
    char *kms_key_id;   /* aws.kms_key_id: the KMS key every S3 put is encrypted with */
    long max_retries;   /* aws.max_retries */
    long retry_base_ms; /* aws.retry_base_ms */
    long cache_mb;      /* aws.cache_mb: bound of the local staging cache */
    char *cache_dir;    /* aws.cache_dir; "" is $TMPDIR (or /tmp)/mdp-cache-<uid> */
};

/* Copies the aws.* values of cfg (borrowed) into the process-wide settings that mdp_aws_open(NULL)
 * and the s3:// store use; called by the CLI after loading the config. Returns 0 or MDP_ERR_NOMEM
 * with d (the previous settings stay). Not thread-safe: call before any client is opened. */
int mdp_aws_configure(const struct mdp_config *cfg, struct mdp_diag *d);
/* Returns the process-wide settings (static storage, valid until the next mdp_aws_configure;
 * built-in defaults before the first call). */
const struct mdp_aws_settings *mdp_aws_settings(void);

/* Opens a client with settings (borrowed for the call and copied; NULL: the process-wide ones).
 * Resolves the region (error naming aws.region when there is none) and the credentials (error
 * naming every place looked at when there are none), so a missing setting fails here and not in
 * the middle of a job. *out (NULL on failure) is freed by the caller with mdp_aws_close.
 * Returns 0, MDP_ERR_CONFIG (no region, no credentials, a bad endpoint, an unreadable or
 * malformed credentials file or endpoint answer), MDP_ERR_NOMEM, with d. */
int mdp_aws_open(const struct mdp_aws_settings *settings, struct mdp_aws **out, struct mdp_diag *d);
/* Frees a (NULL is fine) and everything it holds. Not while other threads use a. Returns
 * nothing. */
void mdp_aws_close(struct mdp_aws *a);
/* Returns the client's region (borrowed; lives as long as a). */
const char *mdp_aws_region(const struct mdp_aws *a);
/* Returns the client's settings (borrowed copy; lives as long as a). */
const struct mdp_aws_settings *mdp_aws_client_settings(const struct mdp_aws *a);
/* Returns the endpoint in use ("http://127.0.0.1:5000"), or "the AWS endpoints" (static or a's
 * storage, borrowed). */
const char *mdp_aws_endpoint(const struct mdp_aws *a);
/* Returns where the credentials came from ("environment", "shared credentials file (profile
 * NAME)", "container endpoint", "instance metadata"): static or a's storage, borrowed. */
const char *mdp_aws_credentials_source(const struct mdp_aws *a);
/* Returns the access key id in use (borrowed; not a secret, but logs should still prefer
 * mdp_aws_credentials_source). */
const char *mdp_aws_access_key_id(const struct mdp_aws *a);

/* Receives response body bytes (n > 0) instead of the response's body buffer; returns 0 to go
 * on, non-zero to abort the request (it then fails with MDP_ERR_IO unless d says otherwise). */
typedef int (*mdp_aws_sink_fn)(const void *p, size_t n, void *ud);
/* Called before a retried request sends again, so a sink can drop what it got; returns 0 or an
 * error code that ends the request. */
typedef int (*mdp_aws_sink_reset_fn)(void *ud);

/* One request. Everything is borrowed for the call. */
struct mdp_aws_request {
    const char *method;  /* "GET", "PUT", "POST", "HEAD", "DELETE" */
    const char *service; /* signing name and endpoint: "s3", "dynamodb", "glue", "iam", "sts" */
    const char *op;      /* operation name for messages and logs ("PutObject") */
    const char *bucket;  /* S3: the bucket (path or virtual-hosted by the settings), else NULL */
    const char *key;     /* S3: the object key, not escaped (done here; '/' kept), else NULL */
    /* Query parameters as name, value pairs ending with NULL, not escaped (done here, sorted;
     * a NULL value is sent as "name="). NULL: none. */
    const char *const *query;
    /* Extra headers as "Name: value" lines ending with NULL (x-amz-*, Content-Type,
     * If-None-Match, ...). Removing a header ("Name:") is not allowed: curl would sign it. */
    const char *const *headers;
    const void *body; /* request body (len bytes) or NULL */
    size_t body_len;
    mdp_aws_sink_fn sink; /* NULL: the body goes to the response's buffer */
    mdp_aws_sink_reset_fn sink_reset;
    void *sink_ud;
    int no_retry; /* 1: one attempt only (conditional writes whose first attempt may have landed) */
    /* Seconds without a byte moving before an attempt is given up (0: 60). S3 may think for
     * minutes over a CompleteMultipartUpload of many parts. */
    long idle_timeout_s;
};

/* What came back. Fill with mdp_aws_response_init, free with mdp_aws_response_cleanup. */
struct mdp_aws_response {
    long status;              /* HTTP status (0: none received) */
    struct mdp_buf body;      /* the body (error bodies too), unless a sink took it */
    char etag[130];           /* ETag header, with its quotes, "" if none */
    int64_t content_length;   /* Content-Length header, -1 if none */
    int64_t last_modified_ms; /* Last-Modified header, -1 if none */
    char sse[32];             /* x-amz-server-side-encryption header, "" if none */
    char sse_kms_key[256];    /* x-amz-server-side-encryption-aws-kms-key-id header, "" if none */
    char request_id[80];      /* x-amz-request-id or x-amzn-RequestId */
    char error_code[96]; /* the service's error code ("NoSuchKey", "AccessDenied", ...) or "" */
    char error_message[256];
    int attempts; /* how many times it was sent */
};

/* Makes r empty (allocates nothing). Returns nothing. */
void mdp_aws_response_init(struct mdp_aws_response *r);
/* Frees what r holds (r itself is the caller's); r is empty and reusable. Returns nothing. */
void mdp_aws_response_cleanup(struct mdp_aws_response *r);

/* Sends rq, signed, retrying transport errors, 5xx and throttling (429, 503 SlowDown, S3's and
 * the JSON services' throttling codes) unless rq->no_retry. resp (the caller's, initialised) is
 * reset and filled. Returns 0 on a 2xx answer (and on 304); otherwise the error of the final
 * answer, with d naming the operation, bucket/key or target, the HTTP status and the service's
 * error code and message: MDP_ERR_NOT_FOUND (404, NoSuchKey, NoSuchBucket: the message says
 * which), MDP_ERR_EXISTS (412 PreconditionFailed, 409 ConditionalRequestConflict),
 * MDP_ERR_PERM (401/403: wrong secret (SignatureDoesNotMatch), unknown access key, access
 * denied, expired token: the message says which setting to check), MDP_ERR_INVALID (other 4xx),
 * MDP_ERR_IO (5xx or transport errors after the retries, a sink's abort), MDP_ERR_CONFIG (no
 * credentials any more), MDP_ERR_NOMEM. */
int mdp_aws_request(struct mdp_aws *a, const struct mdp_aws_request *rq,
                    struct mdp_aws_response *resp, struct mdp_diag *d);

/* The JSON protocol (DynamoDB: version "1.0", prefix "DynamoDB_20120810"; Glue: "1.1",
 * "AWSGlue"): POSTs body (JSON text, borrowed; NULL sends "{}") to service with
 * X-Amz-Target: target ("DynamoDB_20120810.GetItem") and Content-Type
 * application/x-amz-json-VERSION, retrying as mdp_aws_request (also on
 * ProvisionedThroughputExceededException, ThrottlingException, RequestLimitExceeded). On
 * success *out is the parsed answer (the caller frees it with json_object_put). On a service
 * error *out is NULL and, when err_type is not NULL, the error's type without its namespace
 * ("ConditionalCheckFailedException") is copied into err_type (err_type_len bytes). Returns 0,
 * MDP_ERR_EXISTS (ConditionalCheckFailedException, TransactionConflict, AlreadyExistsException),
 * MDP_ERR_NOT_FOUND (ResourceNotFoundException, EntityNotFoundException), MDP_ERR_PERM
 * (authentication or authorization), MDP_ERR_INVALID (other 4xx: ValidationException, ...),
 * MDP_ERR_PARSE (a 2xx answer that is not JSON), MDP_ERR_IO, MDP_ERR_CONFIG, MDP_ERR_NOMEM,
 * with d. */
int mdp_aws_json(struct mdp_aws *a, const char *service, const char *json_version,
                 const char *target, const char *body, struct json_object **out, char *err_type,
                 size_t err_type_len, struct mdp_diag *d);

/* Fills r->error_code and r->error_message from r->body, an error answer: S3's XML <Error>, the
 * query protocol's <ErrorResponse><Error> (IAM, STS) or the JSON services' {"__type" | "code",
 * "message" | "Message"} (a "namespace#Type" keeps its Type). Both stay "" when the body says
 * nothing readable. The body must end in a NUL (mdp_buf keeps one). Internal; public for the fuzz
 * target fuzz_s3_xml. Returns nothing. */
void mdp__aws_parse_error_body(struct mdp_aws_response *r);
/* Reads text as a credentials endpoint's JSON answer (AccessKeyId, SecretAccessKey, Token,
 * Expiration) into a client made for the call, then forgets it. Internal; public for the fuzz
 * target fuzz_aws_creds. Returns 0, or MDP_ERR_CONFIG / MDP_ERR_NOMEM with d. */
int mdp__aws_creds_json_check(const char *text, struct mdp_diag *d);

/* Appends s %-escaped the AWS way (RFC 3986 unreserved characters kept, every other byte as
 * %XX with upper-case hex; '/' kept when keep_slash) to out. Returns 0 or out's sticky error. */
int mdp_aws_uri_escape(struct mdp_buf *out, const char *s, int keep_slash);

/* Splits "s3://bucket/prefix" into its bucket and prefix (without leading or trailing '/'; ""
 * when none), each copied into the caller's buffers (bucket_len, prefix_len bytes). Returns 0,
 * or MDP_ERR_INVALID with d (not s3://, no bucket, a bucket name S3 does not allow, too long). */
int mdp_aws_parse_s3_url(const char *url, char *bucket, size_t bucket_len, char *prefix,
                         size_t prefix_len, struct mdp_diag *d);

#endif
