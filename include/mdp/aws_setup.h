/* Setting up AWS mode (docs/aws.md "Bootstrap" and "IAM"): the lake's bucket made as the
 * specification wants it (versioning, default encryption SSE-KMS, public access blocked), and the
 * least-privilege IAM policy of each job. The state table is mdp_state_dynamodb_create's
 * (mdp/state.h). `mdp aws bootstrap` and `mdp aws policy` are the commands. */
#ifndef MDP_AWS_SETUP_H
#define MDP_AWS_SETUP_H

#include "mdp/buf.h"
#include "mdp/err.h"

struct mdp_aws;

/* Called with one line of what bootstrap found or did ("bucket B: created"); the text is borrowed
 * for the call. Returns nothing. */
typedef void (*mdp_aws_setup_report_fn)(const char *line, void *ud);

/* Makes bucket exist in a's region with versioning enabled, default encryption aws:kms with
 * kms_key_id (an id, ARN or alias/NAME; "" or NULL: the AWS managed key aws/s3) and the bucket
 * key, all four public access blocks on, and a lifecycle that expires noncurrent versions
 * noncurrent_days (>= 1) after they became noncurrent (what retention and erasure deleted or
 * overwrote), then their delete markers, and aborts multipart uploads unfinished after a day; a
 * lifecycle with rules of its own is left alone and reported. Each setting is read first and only
 * written when it differs, so a second run changes nothing; report (may be NULL) gets one line
 * per setting.
 * Everything is borrowed. Returns 0, or the client's errors (MDP_ERR_PERM: the key may not do
 * it; MDP_ERR_EXISTS: the bucket name belongs to another account; MDP_ERR_INVALID,
 * MDP_ERR_IO, MDP_ERR_NOMEM), with d naming the step. */
int mdp_aws_bootstrap_bucket(struct mdp_aws *a, const char *bucket, const char *kms_key_id,
                             int noncurrent_days, mdp_aws_setup_report_fn report, void *ud,
                             struct mdp_diag *d);

/* What a policy is about; every string is borrowed. */
struct mdp_aws_policy_target {
    const char *region;  /* "eu-central-1"; "*" when unknown */
    const char *account; /* the 12-digit account id; "*" when unknown */
    const char *bucket;  /* the lake's bucket */
    const char *prefix;  /* the lake's prefix in the bucket ("" for the bucket's root) */
    const char *table;   /* the state table (state.dynamodb_table) */
    const char *kms_key; /* aws.kms_key_id (id, ARN or alias/NAME) or "" */
    const char *glue_db; /* the Glue database of the catalog (matbakh_<env>) */
};

/* The jobs a policy can be made for, "ingest", "curate", "serve", "dsar", and "all" (their union):
 * a NULL-terminated static array. Returns the array (static storage). */
const char *const *mdp_aws_policy_jobs(void);

/* Appends to out the IAM policy document (JSON, Version 2012-10-17) that job needs and no more:
 * the S3 actions on the lake prefixes it reads and writes, the DynamoDB actions on the state table
 * and its by_subject index, the Glue actions on the catalog's database and tables, and KMS use of
 * the lake's key. out is the caller's buffer. Returns 0, MDP_ERR_INVALID (an unknown job, with d),
 * or out's sticky MDP_ERR_NOMEM. */
int mdp_aws_policy(const struct mdp_aws_policy_target *t, const char *job, struct mdp_buf *out,
                   struct mdp_diag *d);

#endif
