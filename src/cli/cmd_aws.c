/* `mdp aws`: setting up AWS mode (docs/aws.md). bootstrap makes the state table (TTL, the
 * by_subject index) and the lake's bucket (versioning, SSE-KMS, public access blocked), each only
 * when missing or different; policy prints the least-privilege IAM policy of a job. */
#include "cli.h"
#include "mdp/aws.h"
#include "mdp/aws_setup.h"
#include "mdp/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_line(const char *line, void *ud)
{
    (void)ud;
    printf("%s\n", line);
}

/* the bucket and prefix: --bucket, else lake.dir when it is s3://, else NULL with empty strings */
static int lake_bucket(struct cli *c, const char *opt, char *bucket, size_t bl, char *prefix,
                       size_t pl)
{
    struct mdp_diag d = {0};
    bucket[0] = prefix[0] = '\0';
    if (opt) {
        char url[400];
        snprintf(url, sizeof url, "s3://%s", opt);
        if (mdp_aws_parse_s3_url(url, bucket, bl, prefix, pl, &d))
            return cli_usage("aws", "--bucket: %s", d.msg);
        return 0;
    }
    if (strncmp(c->cfg.lake_dir, "s3://", 5) == 0 &&
        mdp_aws_parse_s3_url(c->cfg.lake_dir, bucket, bl, prefix, pl, &d))
        return cli_fail("aws", EXIT_FAIL, "lake.dir: %s", d.msg);
    return 0;
}

static int bootstrap(struct cli *c, int argc, char **argv)
{
    const char *bucket_opt = NULL, *table = c->cfg.state_dynamodb_table;
    int no_bucket = 0, noncurrent_days = 30;
    for (int i = 2; i < argc; i++) {
        const char *v;
        int m;
        if ((m = cli_opt(argc, argv, &i, "--bucket", &v))) {
            if (m < 0) return cli_usage("aws", "--bucket needs a name");
            bucket_opt = v;
        } else if ((m = cli_opt(argc, argv, &i, "--table", &v))) {
            if (m < 0 || !*v) return cli_usage("aws", "--table needs a name");
            table = v;
        } else if ((m = cli_opt(argc, argv, &i, "--noncurrent-days", &v))) {
            char *end = NULL;
            long n = m < 0 ? 0 : strtol(v, &end, 10);
            if (m < 0 || !end || *end || n < 1 || n > 3650)
                return cli_usage("aws", "--noncurrent-days needs a number of days from 1 to 3650");
            noncurrent_days = (int)n;
        } else if (strcmp(argv[i], "--no-bucket") == 0) {
            no_bucket = 1;
        } else {
            return cli_usage("aws", "unexpected argument '%s'", argv[i]);
        }
    }
    char bucket[128], prefix[256];
    int rc = lake_bucket(c, bucket_opt, bucket, sizeof bucket, prefix, sizeof prefix);
    if (rc) return rc;
    if (!no_bucket && !bucket[0])
        return cli_usage("aws",
                         "no bucket: set lake.dir to s3://BUCKET/PREFIX, give --bucket NAME, or "
                         "--no-bucket for the state table only");
    struct mdp_aws *a = NULL;
    struct mdp_diag d = {0};
    if ((rc = mdp_aws_open(NULL, &a, &d))) return cli_fail("aws", EXIT_FAIL, "%s", d.msg);
    int created = 0, ttl = 0;
    rc = mdp_state_dynamodb_create(a, table, &created, &ttl, &d);
    if (!rc) {
        printf("table %s: %s (keys pk, sk; index %s)\n", table, created ? "created" : "exists",
               MDP_STATE_SUBJECT_INDEX);
        printf("table %s: TTL on expires_at %s\n", table, ttl ? "enabled" : "already enabled");
    }
    if (!rc && !no_bucket)
        rc = mdp_aws_bootstrap_bucket(a, bucket, mdp_aws_client_settings(a)->kms_key_id,
                                      noncurrent_days, print_line, NULL, &d);
    mdp_aws_close(a);
    return rc ? cli_fail("aws", EXIT_FAIL, "bootstrap: %s", d.msg) : EXIT_OK;
}

static int policy(struct cli *c, int argc, char **argv)
{
    const char *job = "all", *account = "*", *bucket_opt = NULL, *env = "dev";
    for (int i = 2; i < argc; i++) {
        const char *v;
        int m;
        if ((m = cli_opt(argc, argv, &i, "--job", &v))) {
            if (m < 0) return cli_usage("aws", "--job needs ingest, curate, serve, dsar or all");
            job = v;
        } else if ((m = cli_opt(argc, argv, &i, "--account", &v))) {
            if (m < 0 || strlen(v) != 12 || strspn(v, "0123456789") != 12)
                return cli_usage("aws", "--account needs the 12-digit account id");
            account = v;
        } else if ((m = cli_opt(argc, argv, &i, "--bucket", &v))) {
            if (m < 0) return cli_usage("aws", "--bucket needs a name");
            bucket_opt = v;
        } else if ((m = cli_opt(argc, argv, &i, "--env", &v))) {
            if (m < 0 || !*v || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(v))
                return cli_usage("aws", "--env needs a name of lowercase letters, digits and -");
            env = v;
        } else {
            return cli_usage("aws", "unexpected argument '%s'", argv[i]);
        }
    }
    int known = 0;
    for (const char *const *j = mdp_aws_policy_jobs(); *j; j++)
        known |= !strcmp(*j, job);
    if (!known)
        return cli_usage("aws", "--job: '%s' is not ingest, curate, serve, dsar or all", job);
    char bucket[128], prefix[256], glue_db[96];
    int rc = lake_bucket(c, bucket_opt, bucket, sizeof bucket, prefix, sizeof prefix);
    if (rc) return rc;
    if (!bucket[0]) snprintf(bucket, sizeof bucket, "matbakh-data-%s", env);
    snprintf(glue_db, sizeof glue_db, "matbakh_%s", env);
    const struct mdp_aws_settings *st = mdp_aws_settings();
    const char *region = st->region && *st->region ? st->region : getenv("AWS_REGION");
    if (!region || !*region) region = getenv("AWS_DEFAULT_REGION");
    struct mdp_aws_policy_target t = {
        region && *region ? region : "*",     account, bucket, prefix, c->cfg.state_dynamodb_table,
        st->kms_key_id ? st->kms_key_id : "", glue_db};
    struct mdp_buf out;
    mdp_buf_init(&out);
    struct mdp_diag d = {0};
    rc = mdp_aws_policy(&t, job, &out, &d);
    if (!rc) fputs(out.data, stdout);
    mdp_buf_cleanup(&out);
    return rc ? cli_fail("aws", EXIT_FAIL, "policy: %s", d.msg[0] ? d.msg : mdp_strerror(rc))
              : EXIT_OK;
}

static int aws_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "bootstrap") != 0 && strcmp(argv[1], "policy") != 0))
        return cli_usage("aws", "expects: mdp aws bootstrap|policy");
    if (cli_config(c)) return EXIT_FAIL;
    return strcmp(argv[1], "bootstrap") == 0 ? bootstrap(c, argc, argv) : policy(c, argc, argv);
}

const struct cli_command CMD_AWS = {
    "aws", "set up AWS mode: the state table and bucket, IAM policies",
    "Usage: mdp aws bootstrap [--bucket NAME[/PREFIX]] [--table NAME] [--noncurrent-days N]\n"
    "                         [--no-bucket]\n"
    "       mdp aws policy [--job ingest|curate|serve|dsar|all] [--account ID] [--bucket NAME]\n"
    "                      [--env ENV]\n"
    "\n"
    "bootstrap creates what AWS mode needs, idempotently, and prints what it found or did:\n"
    "the state table (state.dynamodb_table; keys pk and sk, on-demand, TTL on expires_at, the\n"
    "by_subject index for erasure) and the lake's bucket (from lake.dir s3://BUCKET/PREFIX, or\n"
    "--bucket) with versioning, default encryption SSE-KMS with aws.kms_key_id, every public\n"
    "access block on, and a lifecycle: versions that retention, erasure or a republish made\n"
    "noncurrent expire after --noncurrent-days (default 30; until then they still hold the\n"
    "data), unfinished multipart uploads after a day. A lifecycle with rules of its own is left\n"
    "alone and reported. Credentials and region come from the aws.* settings and the standard\n"
    "AWS chain.\n"
    "\n"
    "policy prints the IAM policy (JSON) a job needs and no more: S3 actions on the lake prefixes\n"
    "it reads and writes, DynamoDB actions on the state table (and its index for dsar), Glue\n"
    "actions on the catalog (curate: `mdp catalog apply`), KMS use of the lake's key. Without\n"
    "--account the ARNs carry '*' for the account. docs/aws.md lists what each job does.\n",
    aws_run, 0};
