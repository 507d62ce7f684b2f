/* Fuzz target: the AWS client's answer walkers (src/store/store_s3.c, src/store/aws.c). Each input
 * goes through all of them, as any answer may reach any walker: a ListObjectsV2 page, a
 * ListObjectVersions page, a CreateMultipartUpload answer (its UploadId), a CompleteMultipartUpload answer (a late <Error>),
 * and an error body (S3's XML <Error>, IAM's <ErrorResponse>, DynamoDB's and Glue's JSON). Checked:
 * no crash or leak, a listed key is a string, a found UploadId is not empty, a parse failure comes
 * with a message, the error code and message are terminated within their fields. */
#include "mdp/aws.h"
#include "mdp/store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_key(const char *key, int64_t size, int64_t mtime_ms, void *ud)
{
    (void)size;
    (void)mtime_ms;
    if (!key || !*key) __builtin_trap(); /* keys no longer than strip are skipped */
    return ++*(long *)ud > 5000;         /* a stop from the callback is returned as is */
}

static int on_version(const char *key, const char *vid, int64_t size, int latest, int marker,
                      void *ud)
{
    (void)size;
    if (!key || !*key || !vid || !*vid || (latest & ~1) || (marker & ~1)) __builtin_trap();
    return ++*(long *)ud > 5000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct mdp_buf token;
    mdp_buf_init(&token);
    struct mdp_diag d = {0};
    long n = 0;
    int more = -1;
    int rc = mdp__s3_list_page(body, size, 5, on_key, &n, &token, &more, &d);
    if (rc == 1 ? n <= 5000 : rc == 0 ? more && !token.len : !d.msg[0] || more) __builtin_trap();
    mdp_buf_cleanup(&token);

    struct mdp_buf km, vm;
    mdp_buf_init(&km);
    mdp_buf_init(&vm);
    memset(&d, 0, sizeof d);
    n = 0;
    more = -1;
    rc = mdp__s3_versions_page(body, size, 5, on_version, &n, &km, &vm, &more, &d);
    if (rc == 1 ? n <= 5000 : rc == 0 ? more && !km.len : !d.msg[0] || more) __builtin_trap();
    mdp_buf_cleanup(&km);
    mdp_buf_cleanup(&vm);

    char *id = NULL;
    rc = mdp__s3_upload_id(body, size, &id);
    if (rc == 0 ? !id || !*id : id != NULL) __builtin_trap();
    free(id);

    (void)mdp__s3_complete_failed(body, size);

    struct mdp_aws_response r;
    mdp_aws_response_init(&r);
    mdp_buf_append(&r.body, body, size); /* an answer's body ends in a NUL, as mdp_buf keeps it */
    mdp__aws_parse_error_body(&r);
    if (memchr(r.error_code, 0, sizeof r.error_code) == NULL ||
        memchr(r.error_message, 0, sizeof r.error_message) == NULL)
        __builtin_trap();
    mdp_aws_response_cleanup(&r);
    return 0;
}
