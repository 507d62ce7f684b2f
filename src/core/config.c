/* Strict YAML configuration (include/mdp/config.h). The schema is the single source of truth:
 * parsing, defaults, validation, `mdp config keys` and docs/configuration.md all come from it. It
 * is the table below followed by the connectors' own maps (their sources.<name>.* keys, declared in
 * src/ingest/<name>/). libyaml parses; this file walks the document tree and checks every node
 * against the table. */
#include "mdp/alloc.h"
#include "mdp/config.h"
#include "mdp/time.h"
#include "mdp/log.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define K_STR     MDP_CFG_STR
#define K_INT     MDP_CFG_INT
#define K_DBL     MDP_CFG_DBL
#define K_ENUM    MDP_CFG_ENUM
#define K_STRLIST MDP_CFG_STRLIST
#define K_DATE    MDP_CFG_DATE
#define K_ENVNAME MDP_CFG_ENVNAME
#define OFF       MDP_CONFIG_OFF

static const struct mdp_config_key KEYS[] = {
    {"lake.dir", K_STR, OFF(lake_dir), "./mdp-lake", 0, 0, NULL,
     "Folder of the local lake (embedded default). Created by `mdp init`; zones raw/, curated/, "
     "ml/ and _meta/ live below it."},
    {"lake.landing_dir", K_STR, OFF(landing_dir), "{lake.dir}/landing", 0, 0, NULL,
     "Folder where the sources drop what they deliver (exports, Firehose objects, SQS batches, API "
     "responses) for `mdp run` to land; `mdp seed` writes here. {lake.dir} is replaced."},
    {"lake.lease_seconds", K_INT, OFF(lease_s), "60", 3, 86400, NULL,
     "The writing jobs' lease on the lake (ingest, curate, run, segments, features, dq run, "
     "retention apply, dsar erase, lake vacuum; one at a time): how long it lives without renewal. "
     "A running job renews it every third of that; a job that died leaves it to lapse after this "
     "long (at once when it ran on this host). docs/lake.md."},
    {"lake.lease_wait_seconds", K_INT, OFF(lease_wait_s), "0", 0, 86400, NULL,
     "How long a writing job waits for another's lease on the lake before it gives up (exit 75); "
     "0 gives up at once. The global option --wait SECONDS overrides it."},
    {"log.level", K_ENUM, OFF(log_level), "info", 0, 0, "debug|info|warn|error|off",
     "Least level written to stderr as JSON lines."},
    {"engine.threads", K_INT, OFF(engine_threads), "0", 0, 1024, NULL,
     "DuckDB worker threads; 0 uses every core."},
    {"engine.memory_limit", K_STR, OFF(engine_memory_limit), "2GB", 0, 0, NULL,
     "DuckDB memory limit (DuckDB syntax, e.g. 512MB, 4GB); larger work spills to disk."},
    {"seed.users", K_INT, OFF(seed_users), "1000", 1, 10000000, NULL,
     "Users that `mdp seed` generates."},
    {"seed.days", K_INT, OFF(seed_days), "30", 1, 3660, NULL,
     "Days of activity `mdp seed` generates."},
    {"seed.seed", K_INT, OFF(seed_seed), "42", 0, 9007199254740991.0, NULL,
     "PRNG seed of `mdp seed`; the same seed gives the same bytes."},
    {"seed.bad_rate", K_DBL, OFF(seed_bad_rate), "0.01", 0, 0.5, NULL,
     "Share of realistic bad records `mdp seed` mixes in (truncated JSON, missing ids, unknown "
     "enum values, duplicates)."},
    {"seed.start_date", K_DATE, OFF(seed_start_date), "2026-10-01", 0, 0, NULL,
     "First day (UTC) of the seeded activity; fixed so that seed output does not depend on today."},
    {"pipeline.stages", K_STRLIST, OFF(pipeline_stages),
     "ingest,consent,curate,dq,segments,features,dq,inventory", 0, 0, NULL,
     "Stages `mdp run` runs, in order (`mdp run --list` names the known ones)."},
    {"consent.purposes", K_STRLIST, OFF(consent_purposes),
     "vc_report:consent,marketing_email:consent,analytics:consent,personalization:consent,ml:"
     "consent",
     0, 0, "consent|contract|legal_obligation|legitimate_interest",
     "The processing purposes a consent decision can name, each as NAME:BASIS with its legal basis "
     "(GDPR Art. 6(1)); `mdp consent purposes` lists them. A consent record or ConsentJournal "
     "change naming another purpose is rejected (CLI) or quarantined (ingest). Segments need "
     "marketing_email, features need ml."},
    {"ingest.sources", K_STRLIST, OFF(ingest_sources), "supabase,events,ses,ddb,ga4,gbp,meta", 0, 0,
     NULL, "Connectors the ingest stage runs (`mdp ingest --list` names them)."},
    {"curate.models_dir", K_STR, OFF(models_dir), "{builtin}", 0, 0, NULL,
     "Folder of the SQL models (one NAME.sql per table) that `mdp curate` runs; {builtin} is the "
     "models/ folder of the source tree mdp was built from."},
    {"curate.identity_max_users", K_INT, OFF(identity_max_users), "5", 1, 1000000, NULL,
     "An external id seen with more users than this is held back from identity_links, not "
     "linked (over-stitching)."},
    {"curate.lookback_days", K_INT, OFF(curate_lookback_days), "3", 0, 365, NULL,
     "An incremental `mdp curate` rebuilds the date_key partitions of the days that got new raw "
     "data and of this many days before each (events arriving late)."},
    {"ingest.http_max_retries", K_INT, OFF(http_max_retries), "5", 0, 20, NULL,
     "Retries of an API request (ga4, gbp, meta) answered 429, 5xx or not at all: exponential "
     "backoff with full jitter, Retry-After honoured."},
    {"ingest.http_retry_base_ms", K_INT, OFF(http_retry_base_ms), "1000", 1, 60000, NULL,
     "First backoff of those retries; it doubles each time, up to 64 times this."},
    {"ingest.max_quarantine_share", K_DBL, OFF(ingest_max_quarantine_share), "0.05", 0, 1, NULL,
     "A connector's run fails when more than this share of its records is quarantined (the "
     "records are still landed and quarantined)."},
    {"ingest.non_v7_ids", K_ENUM, OFF(ingest_non_v7_ids), "quarantine", 0, 0, "quarantine|count",
     "user_id, account_id and location_id are UUIDv7 (spec 2). `quarantine` sets a record with "
     "a UUID of another version aside (reason id_not_uuidv7, naming the field); `count` takes it "
     "and counts it in the run message (`N ids not UUIDv7`), for a source that is still "
     "migrating. A value that is no UUID at all is quarantined either way."},
    {"serve.listen", K_STR, OFF(serve_listen), "127.0.0.1:8080", 0, 0, NULL,
     "Address and port `mdp serve` listens on (HOST:PORT; port 0 picks a free one and prints it)."},
    {"serve.threads", K_INT, OFF(serve_threads), "0", 0, 256, NULL,
     "Worker threads of the HTTP server (poll mode, one thread pool); 0: one per CPU the process "
     "may run on (its affinity mask)."},
    {"serve.max_connections", K_INT, OFF(serve_max_connections), "1024", 1, 65536, NULL,
     "Open connections at most; more are refused at accept."},
    {"serve.max_in_flight", K_INT, OFF(serve_max_in_flight), "512", 1, 1000000, NULL,
     "Requests being worked on at most; one more is answered 503 at once (overload)."},
    {"serve.max_body_bytes", K_INT, OFF(serve_max_body), "1048576", 1024, 268435456, NULL,
     "Largest request body; a larger one is answered 413 without reading it."},
    {"serve.timeout_seconds", K_INT, OFF(serve_timeout_s), "10", 1, 3600, NULL,
     "A connection idle (or a client this slow) for this long is closed."},
    {"serve.keys", K_STRLIST, OFF(serve_keys), "", 0, 0, NULL,
     "API keys as NAME:SCOPES:SHA256 (SCOPES joined by +, of collect, personalize, admin; SHA256 "
     "the hex digest of the key): only the hash is configured. `mdp serve key new` makes one."},
    {"serve.snapshot_reload_seconds", K_INT, OFF(serve_reload_s), "10", 1, 86400, NULL,
     "How often the server looks for a newer serving snapshot and swaps it in."},
    {"serve.ses_publish_seconds", K_INT, OFF(serve_ses_publish_s), "30", 1, 3600, NULL,
     "SES notifications taken over HTTP are curated (fact_email_events) at most this long after "
     "they arrive (a micro-batch of the affected partitions)."},
    {"serve.decision_log_flush_seconds", K_INT, OFF(serve_log_flush_s), "60", 1, 900, NULL,
     "Decision log lines are buffered and written to raw/serve/decisions/ at least this often, "
     "all threads' lines of a day as one object (Firehose's IntervalInSeconds); at once on "
     "SIGTERM. A crash loses at most this long of log lines, never an acknowledged event."},
    {"serve.decision_log_flush_mb", K_INT, OFF(serve_log_flush_mb), "16", 1, 512, NULL,
     "... or as soon as one worker thread has buffered this many MiB of them (Firehose's "
     "SizeInMBs)."},
    {"serve.sns_confirm", K_ENUM, OFF(serve_sns_confirm), "record", 0, 0, "record|fetch",
     "SubscriptionConfirmation: record it (an operator confirms), or also fetch its SubscribeURL."},
    {"personalize.surfaces", K_STRLIST, OFF(pz_surfaces),
     "onboarding_tip:default_tip:neutral,onboarding_tip:tip_encouraging:encouraging,"
     "onboarding_tip:tip_facts:facts,onboarding_tip:tip_brief:brief,"
     "email_subject:default_subject:neutral,email_subject:subject_encouraging:encouraging,"
     "email_subject:subject_facts:facts,email_subject:subject_brief:brief",
     0, 0, NULL,
     "The copy catalogue as SURFACE:VARIANT:TONE items; the first variant of a surface is its "
     "default copy (users without personalization consent, unknown users)."},
    {"personalize.allowed_context", K_STRLIST, OFF(pz_allowed),
     "user_id,surface,persona,tone,address,onb_day,locale,channel", 0, 0, NULL,
     "Keys a personalization context may carry; any other key (gender, origin, age, ...) is "
     "refused with 400 (spec 6 guardrail)."},
    {"personalize.min_events", K_INT, OFF(pz_min_events), "30", 0, 1000000, NULL,
     "Below this many feedback events in a context the bandit explores uniformly (spec 6)."},
    {"personalize.decision_ttl_hours", K_INT, OFF(pz_ttl_h), "72", 1, 8760, NULL,
     "Feedback for a decision older than this is rejected."},
    {"personalize.fairness_groups", K_STRLIST, OFF(pz_groups), "persona", 0, 0, NULL,
     "Context keys whose groups `mdp bandit report` compares (spec 6: gap below 5 points)."},
    {"pseudonymization.key_id", K_STR, OFF(pseudo_key_id), "k1", 0, 0, NULL,
     "Id of the HMAC key for keyed email pseudonyms; recorded next to every keyed hash."},
    {"pseudonymization.key_env", K_ENVNAME, OFF(pseudo_key_env), "MDP_PSEUDONYM_KEY", 0, 0, NULL,
     "Environment variable holding the HMAC key (secrets never come from this file)."},
    {"security.tls_min_version", K_ENUM, OFF(tls_min_version), "1.3", 0, 0, "1.2|1.3",
     "Lowest TLS version of every outbound connection (spec 7: TLS 1.3): AWS, the Google and Meta "
     "APIs, SNS, webhooks (libcurl) and Supabase (libpq's ssl_min_protocol_version, unless the "
     "connection string sets its own; to another machine's host also sslmode=require unless it "
     "or PGSSLMODE names one). 1.2 only for an endpoint without 1.3. http:// endpoints stay "
     "plain."},
    {"security.pg_ca_file", K_STR, OFF(pg_ca_file), "{none}", 0, 0, NULL,
     "PEM file of the certificate authorities a Supabase (PostgreSQL) server's certificate must "
     "chain to (Supabase's prod-ca-2021.crt, from the project's database settings). Set: a "
     "connection to another machine's host gets sslrootcert=FILE and, unless its string or "
     "PGSSLMODE names an sslmode, sslmode=verify-full (the certificate and the host name are "
     "checked). {none}: sslmode=require, encrypted but the certificate unchecked."},
    {"dq.rules_dir", K_STR, OFF(dq_rules_dir), "{builtin}", 0, 0, NULL,
     "Folder of the data-quality rulesets `mdp dq run` (and the dq stage) evaluates: one "
     "TABLE.dqdl in Glue's DQDL per published table, named as `mdp query` names it; {builtin} is "
     "the config/dq/ folder of the source tree mdp was built from."},
    {"dq.fail_stage", K_ENUM, OFF(dq_fail_stage), "on_error", 0, 0, "never|on_error|on_fail",
     "When `mdp dq run` and the dq stage fail (the results are written to dq_results first): "
     "on_error when a rule could not be evaluated (ERROR), on_fail also when a rule failed, never "
     "not for rule outcomes."},
    {"governance.inventory", K_STR, OFF(gov_inventory), "{builtin}", 0, 0, NULL,
     "The data inventory (docs/privacy.md): every dataset with purpose, legal basis, owner, PII "
     "class per column, subject keys, retention rule and deletion path. `mdp inventory`, `mdp "
     "retention` and `mdp dsar` read it; {builtin} is config/inventory.yaml of the source tree mdp "
     "was built from; a relative path is taken from the working folder."},
    {"governance.retention_stage_supabase", K_ENUM, OFF(gov_ret_supabase), "off", 0, 0, "off|on",
     "Whether the retention stage of `mdp run` also deletes the inactive users' rows in Supabase "
     "(as `mdp retention apply --supabase`: one transaction per table, foreign keys cascading) "
     "over the connection in sources.supabase.dsn_env; off: they are listed and left, and a "
     "person runs the command."},
    {"cost.s3_standard_usd_per_gb_month", K_DBL, OFF(cost_s3_gb_month), "0.0245", 0, 1000, NULL,
     "Price of S3 Standard storage per GB-month (GB = 2^30 bytes); default: AWS list price in "
     "eu-central-1 (first 50 TB). `mdp cost` prices every lake object with it."},
    {"cost.s3_put_usd_per_1000", K_DBL, OFF(cost_s3_put_1000), "0.0054", 0, 1000, NULL,
     "Price of 1,000 S3 PUT, COPY, POST or LIST requests (eu-central-1 list price)."},
    {"cost.s3_get_usd_per_1000", K_DBL, OFF(cost_s3_get_1000), "0.00043", 0, 1000, NULL,
     "Price of 1,000 S3 GET or HEAD requests (eu-central-1 list price)."},
    {"cost.athena_usd_per_tb", K_DBL, OFF(cost_athena_tb), "5", 0, 100000, NULL,
     "Price of Athena per TB (2^40 bytes) scanned (eu-central-1 list price); applied to the bytes "
     "`mdp query` and curate read."},
    {"cost.athena_min_bytes_per_query", K_INT, OFF(cost_athena_min_bytes), "10485760", 0,
     1099511627776.0, NULL,
     "Athena bills at least this many bytes per query (10 MB); the cost model does the same."},
    {"cost.dynamodb_usd_per_million_writes", K_DBL, OFF(cost_ddb_write_million), "0.7625", 0,
     100000, NULL,
     "DynamoDB on-demand price per million write request units (eu-central-1 list price)."},
    {"cost.dynamodb_usd_per_million_reads", K_DBL, OFF(cost_ddb_read_million), "0.1525", 0, 100000,
     NULL, "DynamoDB on-demand price per million read request units (eu-central-1 list price)."},
    {"cost.dynamodb_writes_per_request", K_DBL, OFF(cost_ddb_writes_per_request), "1", 0, 1000,
     NULL,
     "Write request units the state store (DynamoDB in AWS mode) takes per request `mdp serve` "
     "answers: the model's assumption (a bandit counter or decision write)."},
    {"cost.dynamodb_reads_per_request", K_DBL, OFF(cost_ddb_reads_per_request), "1", 0, 1000, NULL,
     "Read request units per request `mdp serve` answers (the context's bandit counters, one "
     "strongly consistent read up to 4 KB)."},
    {"state.backend", K_ENUM, OFF(state_backend), "sqlite", 0, 0, "sqlite|dynamodb",
     "Where the state store lives (consent journal, DOI tokens, bandit counters, feedback "
     "dedup): sqlite is the lake's _meta/state.sqlite; dynamodb is the table "
     "state.dynamodb_table through the aws.* settings (AWS mode, docs/aws.md \"State\")."},
    {"state.dynamodb_table", K_STR, OFF(state_dynamodb_table), "matbakh-state", 0, 0, NULL,
     "The DynamoDB table of the state store with state.backend dynamodb; `mdp aws bootstrap` "
     "creates it (TTL on expires_at, the by_subject index)."},
    {"freshness.slas", K_STRLIST, OFF(freshness_slas),
     "ga4:24h,supabase:24h,ddb:5m,ses:1m,gbp:48h,meta:48h,events:1h", 0, 0, NULL,
     "Freshness SLA per source as SOURCE:DURATION (units s, m, h, d): `mdp freshness` reports a "
     "source LATE when its newest event is older than this, NEVER when it never delivered."},
    {"alarms.file", K_STR, OFF(alarms_file), "{builtin}", 0, 0, NULL,
     "The alarms definitions (docs/quality.md \"Alarms\") that `mdp alarms` evaluates; "
     "{builtin} is config/alarms.yaml of the source tree mdp was built from."},
    {"alarms.webhook_retries", K_INT, OFF(alarms_webhook_retries), "3", 0, 10, NULL,
     "Retries of a webhook action answered 429, 5xx or not at all (backoff 0.5 s, doubling)."},
    {"alarms.webhook_timeout_ms", K_INT, OFF(alarms_webhook_timeout_ms), "5000", 100, 60000, NULL,
     "Time limit of one webhook attempt; an action never takes longer than its attempts' limits "
     "and backoffs together."},
    {"alarms.action_timeout_seconds", K_INT, OFF(alarms_action_timeout_s), "10", 1, 600, NULL,
     "A command action still running after this long is killed (and recorded as failed)."},
    {"serve.metrics_snapshot_seconds", K_INT, OFF(serve_metrics_snapshot_s), "60", 1, 86400, NULL,
     "How often `mdp serve` writes its latency histogram to _meta/metrics/serve/ (the alarms' "
     "serve.latency_p99_ms and the report read it)."},
    {"serve.cost_refresh_seconds", K_INT, OFF(serve_cost_refresh_s), "600", 10, 86400, NULL,
     "How often `mdp serve` recomputes the cost model (one listing of the lake and the run log, on "
     "its background thread) for the mdp_cost_* gauges of /metrics; the first time at start."},
    {"cdc.slot", K_STR, OFF(cdc_slot), "mdp_cdc", 0, 0, NULL,
     "The logical replication slot `mdp cdc setup` creates and `mdp cdc run` reads ([a-z0-9_]+; "
     "one consumer per slot)."},
    {"cdc.publication", K_STR, OFF(cdc_publication), "mdp_cdc", 0, 0, NULL,
     "The publication (the tables whose changes the slot sends) `mdp cdc setup` creates."},
    {"cdc.tables", K_STRLIST, OFF(cdc_tables),
     "accounts,user_profiles,communication_prefs,onboarding_progress,locations,visibility_checks,"
     "oauth_logins",
     0, 0, NULL, "Tables of schema public that `mdp cdc setup` puts into the publication."},
    {"cdc.flush_ms", K_INT, OFF(cdc_flush_ms), "500", 1, 600000, NULL,
     "The longest a committed change waits in memory before its group is written to raw and "
     "confirmed (groups are also written whenever the stream goes idle)."},
    {"cdc.group_max_mb", K_INT, OFF(cdc_group_max_mb), "16", 1, 4096, NULL,
     "A group of committed transactions is written once its objects reach this size."},
    {"cdc.status_interval_seconds", K_INT, OFF(cdc_status_interval_s), "10", 1, 3600, NULL,
     "Standby status updates (the confirmed position) go to the server at least this often; keep "
     "it below the server's wal_sender_timeout."},
    {"cdc.lag_interval_seconds", K_INT, OFF(cdc_lag_interval_s), "60", 0, 86400, NULL,
     "How often `mdp cdc run` writes the slot's lag to _meta/metrics/cdc/ (the alarms' "
     "cdc.slot_lag_bytes and cdc.slot_lag_s); 0: never."},
    {"cdc.reconnect_timeout_seconds", K_INT, OFF(cdc_reconnect_timeout_s), "300", 0, 86400, NULL,
     "`mdp cdc run` retries a lost connection for this long, then fails."},
    {"aws.region", K_STR, OFF(aws_region), "{env}", 0, 0, NULL,
     "AWS region of the lake's bucket and of every AWS call (eu-central-1, ...); {env} takes "
     "AWS_REGION, then AWS_DEFAULT_REGION. AWS mode without a region is an error naming this key."},
    {"aws.endpoint_url", K_STR, OFF(aws_endpoint_url), "{env}", 0, 0, NULL,
     "Endpoint of every AWS service (http://127.0.0.1:5000 for moto, a MinIO address); {env} "
     "takes AWS_ENDPOINT_URL, else the regional AWS endpoints (https://SERVICE.REGION.amazonaws."
     "com)."},
    {"aws.s3_addressing", K_ENUM, OFF(aws_s3_addressing), "virtual", 0, 0, "path|virtual",
     "How S3 requests name the bucket: virtual (https://BUCKET.s3.REGION.amazonaws.com/KEY, what "
     "AWS recommends) or path (ENDPOINT/BUCKET/KEY: moto, MinIO, an endpoint given as an IP)."},
    {"aws.kms_key_id", K_STR, OFF(aws_kms_key_id), "aws/s3", 0, 0, NULL,
     "KMS key (id or ARN) the lake's objects are encrypted with (SSE-KMS). Set: the bucket's "
     "default encryption must be aws:kms with this key (checked when the lake opens) and every "
     "put's answer must name it; aws/s3: every put asks for aws:kms with S3's managed key "
     "(docs/aws.md explains why the key id is not sent per request)."},
    {"aws.max_retries", K_INT, OFF(aws_max_retries), "5", 0, 20, NULL,
     "Retries of an AWS request answered 5xx, throttled (429, SlowDown, "
     "ProvisionedThroughputExceeded, ...) or not at all: exponential backoff with full jitter."},
    {"aws.retry_base_ms", K_INT, OFF(aws_retry_base_ms), "100", 1, 60000, NULL,
     "First backoff of those retries; it doubles each time, up to 200 times this (at most 20 s)."},
    {"aws.cache_mb", K_INT, OFF(aws_cache_mb), "2048", 16, 1000000, NULL,
     "Bound of the local cache folder where curate, segments and features stage the S3 objects "
     "they read (DuckDB reads local files); least recently used objects are removed beyond it."},
    {"aws.cache_dir", K_STR, OFF(aws_cache_dir), "{tmp}", 0, 0, NULL,
     "The local cache folder of AWS mode; {tmp} is $TMPDIR (else /tmp)/mdp-cache-UID."},
};
#define NKEYS (sizeof KEYS / sizeof *KEYS)

/* The connectors' own maps (their sources.<name>.* keys) come after the core's: the i-th
 * registered connector's map, NULL when it has none; *end is set past the last connector
 * (src/ingest/ingest.c). */
const struct mdp_config_key *mdp__connector_config_map(size_t i, int *end);

static size_t map_len(const struct mdp_config_key *m)
{
    size_t n = 0;
    while (m && m[n].path)
        n++;
    return n;
}

/* The schema's i-th key, over the core table and then the connectors' maps; NULL past the end. */
static const struct mdp_config_key *key_at(size_t i)
{
    if (i < NKEYS) return &KEYS[i];
    i -= NKEYS;
    int end = 0;
    for (size_t c = 0;; c++) {
        const struct mdp_config_key *m = mdp__connector_config_map(c, &end);
        if (end) return NULL;
        size_t n = map_len(m);
        if (i < n) return &m[i];
        i -= n;
    }
}

/* A list whose key has enums holds NAME:TAG items: NAME [a-z][a-z0-9_]{0,30}, unique, and TAG one
 * of enums ("a|b|c"). */
static int check_tagged_list(const struct mdp_strlist *l, const char *enums, char *why,
                             size_t whysz)
{
    for (int i = 0; i < l->n; i++) {
        const char *it = l->v[i], *colon = strchr(it, ':');
        size_t nl = colon ? (size_t)(colon - it) : 0;
        int ok = colon && nl >= 1 && nl <= 31 && it[0] >= 'a' && it[0] <= 'z';
        for (size_t j = 0; ok && j < nl; j++)
            ok = (it[j] >= 'a' && it[j] <= 'z') || (it[j] >= '0' && it[j] <= '9') || it[j] == '_';
        if (ok) {
            const char *p = enums, *tag = colon + 1;
            size_t tl = strlen(tag);
            for (ok = 0; p && !ok;) {
                const char *e = strchr(p, '|');
                size_t m = e ? (size_t)(e - p) : strlen(p);
                ok = m == tl && strncmp(p, tag, tl) == 0;
                p = e ? e + 1 : NULL;
            }
        }
        if (!ok) {
            snprintf(why, whysz, "item '%s' is not NAME:BASIS (NAME lower-case, BASIS one of %s)",
                     it, enums);
            return MDP_ERR_CONFIG;
        }
        for (int j = 0; j < i; j++)
            if (strncmp(l->v[j], it, nl + 1) == 0) {
                snprintf(why, whysz, "'%.*s' is listed twice", (int)nl, it);
                return MDP_ERR_CONFIG;
            }
    }
    return 0;
}

static const char *type_name(enum mdp_config_type t)
{
    switch (t) {
    case K_STR:
        return "string";
    case K_INT:
        return "integer";
    case K_DBL:
        return "number";
    case K_ENUM:
        return "enum";
    case K_STRLIST:
        return "list of strings";
    case K_DATE:
        return "date (YYYY-MM-DD)";
    case K_ENVNAME:
        return "environment variable name";
    }
    return "?";
}

static char **str_at(struct mdp_config *c, const struct mdp_config_key *k)
{
    return (char **)((char *)c + k->off);
}

void mdp_strlist_clear(struct mdp_strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

int mdp_strlist_set(struct mdp_strlist *l, const char *csv)
{
    mdp_strlist_clear(l);
    const char *p = csv;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (l->n >= MDP_CONFIG_MAX_LIST) return MDP_ERR_RANGE;
        char *s = mdp_strndup(p, n);
        if (!s) return MDP_ERR_NOMEM;
        l->v[l->n++] = s;
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

int mdp_strlist_has(const struct mdp_strlist *l, const char *s)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0) return 1;
    return 0;
}

static struct mdp_strlist *list_at(struct mdp_config *c, const struct mdp_config_key *k)
{
    return (struct mdp_strlist *)((char *)c + k->off);
}

/* Validates text for key k and stores it; on failure writes why into why. */
static int set_value(struct mdp_config *c, const struct mdp_config_key *k, const char *text,
                     char *why, size_t whysz)
{
    switch (k->type) {
    case K_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno || end == text || *end) {
            snprintf(why, whysz, "expected an integer, got '%s'", text);
            return MDP_ERR_CONFIG;
        }
        if ((double)v < k->min || (double)v > k->max) {
            snprintf(why, whysz, "%lld is out of range [%.0f, %.0f]", v, k->min, k->max);
            return MDP_ERR_CONFIG;
        }
        *(long *)((char *)c + k->off) = (long)v;
        return 0;
    }
    case K_DBL: {
        char *end;
        errno = 0;
        double v = strtod(text, &end);
        if (errno || end == text || *end || !isfinite(v)) {
            snprintf(why, whysz, "expected a number, got '%s'", text);
            return MDP_ERR_CONFIG;
        }
        if (v < k->min || v > k->max) {
            snprintf(why, whysz, "%g is out of range [%g, %g]", v, k->min, k->max);
            return MDP_ERR_CONFIG;
        }
        *(double *)((char *)c + k->off) = v;
        return 0;
    }
    case K_ENUM: {
        const char *p = k->enums;
        size_t n = strlen(text);
        while (p) {
            const char *e = strchr(p, '|');
            size_t m = e ? (size_t)(e - p) : strlen(p);
            if (m == n && strncmp(p, text, n) == 0) break;
            p = e ? e + 1 : NULL;
        }
        if (!p) {
            snprintf(why, whysz, "'%s' is not one of %s", text, k->enums);
            return MDP_ERR_CONFIG;
        }
        break;
    }
    case K_DATE: {
        int64_t d;
        if (strlen(text) != 10 || mdp_date_parse(text, &d)) {
            snprintf(why, whysz, "expected a date YYYY-MM-DD, got '%s'", text);
            return MDP_ERR_CONFIG;
        }
        break;
    }
    case K_ENVNAME: {
        int ok = *text != '\0' && !(*text >= '0' && *text <= '9');
        for (const char *p = text; *p && ok; p++)
            ok = (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_';
        if (!ok) {
            snprintf(why, whysz,
                     "expected the NAME of an environment variable ([A-Z_][A-Z0-9_]*), "
                     "not a value: secrets are read from the environment");
            return MDP_ERR_CONFIG;
        }
        break;
    }
    case K_STR:
        if (*text == '\0') {
            snprintf(why, whysz, "must not be empty");
            return MDP_ERR_CONFIG;
        }
        break;
    case K_STRLIST: {
        int rc = mdp_strlist_set(list_at(c, k), text);
        if (rc || !k->enums) return rc;
        return check_tagged_list(list_at(c, k), k->enums, why, whysz);
    }
    }
    char *s = mdp_strdup(text);
    if (!s) return MDP_ERR_NOMEM;
    free(*str_at(c, k));
    *str_at(c, k) = s;
    return 0;
}

void mdp_config_cleanup(struct mdp_config *cfg)
{
    if (!cfg) return;
    for (size_t i = 0; key_at(i); i++) {
        enum mdp_config_type t = key_at(i)->type;
        if (t == K_STR || t == K_ENUM || t == K_DATE || t == K_ENVNAME) {
            free(*str_at(cfg, key_at(i)));
            *str_at(cfg, key_at(i)) = NULL;
        } else if (t == K_STRLIST) {
            mdp_strlist_clear(list_at(cfg, key_at(i)));
        }
    }
    free(cfg->source);
    cfg->source = NULL;
}

int mdp_config_defaults(struct mdp_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char why[256];
    for (size_t i = 0; key_at(i); i++) {
        int rc = set_value(cfg, key_at(i), key_at(i)->def, why, sizeof why);
        if (rc) {
            mdp_config_cleanup(cfg);
            return rc;
        }
    }
    return 0;
}

static const struct mdp_config_key *find_key(const char *path)
{
    for (size_t i = 0; key_at(i); i++)
        if (strcmp(key_at(i)->path, path) == 0) return key_at(i);
    return NULL;
}

/* 1 if some key starts with prefix + "." (so prefix is a section). */
static int is_section(const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; key_at(i); i++)
        if (strncmp(key_at(i)->path, prefix, n) == 0 && key_at(i)->path[n] == '.') return 1;
    return 0;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

static const char *suggest(const char *path)
{
    const char *best = NULL;
    size_t bd = 3;
    for (size_t i = 0; key_at(i); i++) {
        size_t d = edit_distance(path, key_at(i)->path);
        if (d < bd) bd = d, best = key_at(i)->path;
    }
    return best;
}

struct walk {
    const char *name;
    yaml_document_t *doc;
    struct mdp_config *cfg;
    struct mdp_diag *diag;
};

static int fail(struct walk *w, yaml_node_t *n, const char *fmt, const char *a, const char *b)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, a, b ? b : "");
    return mdp_diag_set(w->diag, MDP_ERR_CONFIG, "%s:%zu:%zu: %s", w->name, n->start_mark.line + 1,
                        n->start_mark.column + 1, msg);
}

static int walk_map(struct walk *w, yaml_node_t *map, const char *prefix);

static int scalar_text(yaml_node_t *n, const char **out)
{
    if (n->type != YAML_SCALAR_NODE) return -1;
    *out = (const char *)n->data.scalar.value;
    return 0;
}

static int walk_value(struct walk *w, yaml_node_t *keynode, const char *path, yaml_node_t *val)
{
    const struct mdp_config_key *k = find_key(path);
    if (!k) {
        if (is_section(path)) {
            if (val->type != YAML_MAPPING_NODE)
                return fail(w, val, "'%s' is a section: expected a mapping of keys%s", path, NULL);
            return walk_map(w, val, path);
        }
        const char *leaf = strrchr(path, '.');
        leaf = leaf ? leaf + 1 : path;
        if (mdp_log_is_secret_name(leaf))
            return fail(w, keynode,
                        "key '%s' looks like a secret: secrets are never read from the "
                        "configuration file; name an environment variable with a `*_env` key%s",
                        path, NULL);
        const char *s = suggest(path);
        if (s) return fail(w, keynode, "unknown key '%s' (did you mean '%s'?)", path, s);
        return fail(w, keynode, "unknown key '%s' (`mdp config keys` lists them)%s", path, NULL);
    }
    char why[300];
    if (k->type == K_STRLIST) {
        if (val->type != YAML_SEQUENCE_NODE)
            return fail(w, val, "'%s' expects a list of strings%s", path, NULL);
        char csv[4096] = "";
        size_t used = 0;
        int count = 0;
        for (yaml_node_item_t *it = val->data.sequence.items.start;
             it < val->data.sequence.items.top; it++) {
            yaml_node_t *item = yaml_document_get_node(w->doc, *it);
            const char *t;
            if (!item || scalar_text(item, &t) || !*t || strchr(t, ','))
                return fail(w, item ? item : val, "'%s' expects non-empty strings without commas%s",
                            path, NULL);
            if (++count > MDP_CONFIG_MAX_LIST)
                return fail(w, item, "'%s' has more than the allowed entries%s", path, NULL);
            int n = snprintf(csv + used, sizeof csv - used, "%s%s", used ? "," : "", t);
            if (n < 0 || (size_t)n >= sizeof csv - used)
                return fail(w, item, "'%s' is too long%s", path, NULL);
            used += (size_t)n;
        }
        int rc = mdp_strlist_set(list_at(w->cfg, k), csv);
        if (rc) return mdp_diag_set(w->diag, rc, "%s: %s", w->name, mdp_strerror(rc));
        if (k->enums && check_tagged_list(list_at(w->cfg, k), k->enums, why, sizeof why))
            return fail(w, val, "'%s': %s", path, why);
        return 0;
    }
    const char *t;
    if (scalar_text(val, &t))
        return fail(w, val, "'%s' expects a %s, not a mapping or list", path, type_name(k->type));
    int rc = set_value(w->cfg, k, t, why, sizeof why);
    if (rc == MDP_ERR_CONFIG) return fail(w, val, "'%s': %s", path, why);
    if (rc) return mdp_diag_set(w->diag, rc, "%s: %s", w->name, mdp_strerror(rc));
    return 0;
}

static int walk_map(struct walk *w, yaml_node_t *map, const char *prefix)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        const char *kt;
        if (!kn || !vn || scalar_text(kn, &kt))
            return fail(w, kn ? kn : map, "keys must be plain strings%s%s", "", NULL);
        /* duplicate keys: YAML 1.2 forbids them, libyaml does not check */
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *qk = yaml_document_get_node(w->doc, q->key);
            const char *qt;
            if (qk && !scalar_text(qk, &qt) && strcmp(qt, kt) == 0) {
                char line[24];
                snprintf(line, sizeof line, "%zu", qk->start_mark.line + 1);
                return fail(w, kn, "duplicate key '%s' (first at line %s)", kt, line);
            }
        }
        char path[256];
        int n = snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", kt);
        if (n < 0 || (size_t)n >= sizeof path)
            return fail(w, kn, "key path too long%s%s", "", NULL);
        int rc = walk_value(w, kn, path, vn);
        if (rc) return rc;
    }
    return 0;
}

int mdp_config_load_buffer(const char *name, const char *text, size_t len, struct mdp_config *cfg,
                           struct mdp_diag *diag)
{
    int rc = mdp_config_defaults(cfg);
    if (rc) return mdp_diag_set(diag, rc, "%s: %s", name, mdp_strerror(rc));
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_doc = 0;
    if (!yaml_parser_initialize(&parser)) {
        rc = mdp_diag_set(diag, MDP_ERR_NOMEM, "%s: cannot initialize the YAML parser", name);
        goto out_noparser;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = mdp_diag_set(diag, MDP_ERR_CONFIG, "%s:%zu:%zu: invalid YAML: %s", name,
                          parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                          parser.problem ? parser.problem : "syntax error");
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) goto ok; /* empty file: defaults */
    if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0) goto ok;
    if (root->type != YAML_MAPPING_NODE) {
        rc = mdp_diag_set(diag, MDP_ERR_CONFIG,
                          "%s:%zu:%zu: the top level must be a mapping of keys", name,
                          root->start_mark.line + 1, root->start_mark.column + 1);
        goto out;
    }
    {
        /* a second document in one file is a mistake we report rather than ignore */
        yaml_document_t extra;
        if (yaml_parser_load(&parser, &extra)) {
            int more = yaml_document_get_root_node(&extra) != NULL;
            yaml_document_delete(&extra);
            if (more) {
                rc = mdp_diag_set(diag, MDP_ERR_CONFIG,
                                  "%s: more than one YAML document; put every key in one", name);
                goto out;
            }
        }
    }
    struct walk w = {name, &doc, cfg, diag};
    rc = walk_map(&w, root, "");
    if (rc) goto out;
ok:
    cfg->source = mdp_strdup(name);
    rc = cfg->source ? 0 : MDP_ERR_NOMEM;
out:
    if (have_doc) yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
out_noparser:
    if (rc) mdp_config_cleanup(cfg);
    return rc;
}

int mdp_config_load(const char *path, struct mdp_config *cfg, struct mdp_diag *diag)
{
    memset(cfg, 0, sizeof *cfg);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return mdp_diag_set(diag, mdp_err_from_errno(e), "%s: cannot open configuration: %s", path,
                            strerror(e));
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (cap - len < 4096) {
            if (cap > (1u << 20)) {
                rc =
                    mdp_diag_set(diag, MDP_ERR_CONFIG, "%s: configuration larger than 1 MiB", path);
                break;
            }
            char *nb = mdp_realloc(buf, cap + 8192);
            if (!nb) {
                rc = mdp_diag_set(diag, MDP_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap += 8192;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) rc = mdp_diag_set(diag, MDP_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (!rc) rc = mdp_config_load_buffer(path, buf ? buf : "", len, cfg, diag);
    free(buf);
    return rc;
}

static void print_default(FILE *out, const struct mdp_config_key *k)
{
    if (k->type == K_STRLIST) {
        fprintf(out, "[%s]", k->def);
    } else {
        fprintf(out, "%s", k->def);
    }
}

void mdp_config_print_keys(FILE *out, int markdown)
{
    if (markdown) {
        fprintf(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
        for (size_t i = 0; key_at(i); i++) {
            const struct mdp_config_key *k = key_at(i);
            fprintf(out, "| `%s` | %s", k->path, type_name(k->type));
            if (k->type == K_ENUM) fprintf(out, " (`%s`)", k->enums);
            if (k->type == K_STRLIST && k->enums) fprintf(out, " of NAME:BASIS (`%s`)", k->enums);
            if (k->type == K_INT || k->type == K_DBL) fprintf(out, " %g..%g", k->min, k->max);
            fprintf(out, " | `");
            print_default(out, k);
            fprintf(out, "` | %s |\n", k->doc);
        }
        return;
    }
    for (size_t i = 0; key_at(i); i++) {
        const struct mdp_config_key *k = key_at(i);
        fprintf(out, "%s (%s", k->path, type_name(k->type));
        if (k->type == K_ENUM) fprintf(out, ": %s", k->enums);
        if (k->type == K_STRLIST && k->enums) fprintf(out, " of NAME:BASIS, BASIS: %s", k->enums);
        fprintf(out, ", default ");
        print_default(out, k);
        fprintf(out, ")\n    %s\n", k->doc);
    }
}

void mdp_config_print(FILE *out, const struct mdp_config *cfg)
{
    const char *section = "";
    size_t seclen = 0;
    for (size_t i = 0; key_at(i); i++) {
        const struct mdp_config_key *k = key_at(i);
        const char *dot = strrchr(k->path, '.');
        size_t sl = (size_t)(dot - k->path);
        if (sl != seclen || strncmp(section, k->path, sl) != 0) {
            /* print the nested sections of this key that differ from the previous one */
            fprintf(out, "# %.*s\n", (int)sl, k->path);
            section = k->path;
            seclen = sl;
        }
        fprintf(out, "%s: ", k->path);
        struct mdp_config *c = (struct mdp_config *)cfg;
        switch (k->type) {
        case K_INT:
            fprintf(out, "%ld\n", *(long *)((char *)c + k->off));
            break;
        case K_DBL:
            fprintf(out, "%g\n", *(double *)((char *)c + k->off));
            break;
        case K_STRLIST: {
            const struct mdp_strlist *l = list_at(c, k);
            fprintf(out, "[");
            for (int j = 0; j < l->n; j++)
                fprintf(out, "%s%s", j ? ", " : "", l->v[j]);
            fprintf(out, "]\n");
            break;
        }
        default:
            fprintf(out, "\"%s\"\n", *str_at(c, k));
            break;
        }
    }
}

const char *mdp_config_path(const char *value, const char *builtin)
{
    return !value || strcmp(value, "{builtin}") == 0 ? builtin : value;
}

char *mdp_config_landing_dir(const struct mdp_config *cfg)
{
    const char *tpl = cfg->landing_dir, *mark = strstr(tpl, "{lake.dir}");
    if (!mark) return mdp_strdup(tpl);
    size_t n = strlen(tpl) - 10 + strlen(cfg->lake_dir) + 1;
    char *out = mdp_malloc(n);
    if (out) snprintf(out, n, "%.*s%s%s", (int)(mark - tpl), tpl, cfg->lake_dir, mark + 10);
    return out;
}
