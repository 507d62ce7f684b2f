/* Configuration: one YAML file, strict. Every key is declared in a schema table with its type,
 * default and documentation: the core's in src/core/config.c, and each connector's sources.<name>.*
 * keys in its own map (src/ingest/<name>/, struct mdp_connector.config); an unknown, mistyped,
 * duplicated or ill-typed key is an error naming file, line and key. Secrets never come from the
 * file: keys ending in `_env` name the environment variable that holds them. With no file at all
 * the built-in defaults apply (embedded default: a lake folder ./mdp-lake, DuckDB, SQLite). */
#ifndef MDP_CONFIG_H
#define MDP_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include "mdp/err.h"

#define MDP_CONFIG_MAX_LIST 64

/* A list value (e.g. pipeline.stages). */
struct mdp_strlist {
    char *v[MDP_CONFIG_MAX_LIST];
    int n;
};

/* One key of the schema. The value lives in struct mdp_config at off (MDP_CONFIG_OFF). */
enum mdp_config_type {
    MDP_CFG_STR,
    MDP_CFG_INT,
    MDP_CFG_DBL,
    MDP_CFG_ENUM,    /* one of enums ("a|b|c") */
    MDP_CFG_STRLIST, /* with enums: NAME:TAG items, TAG one of enums */
    MDP_CFG_DATE,
    MDP_CFG_ENVNAME /* the name of an environment variable (secrets) */
};
struct mdp_config_key {
    const char *path; /* "sources.ses.verify_signatures"; NULL ends a map */
    enum mdp_config_type type;
    size_t off;
    const char *def;   /* default as text ("a,b" for lists) */
    double min, max;   /* numbers */
    const char *enums; /* "a|b|c" */
    const char *doc;
};
#define MDP_CONFIG_OFF(f) offsetof(struct mdp_config, f)

struct mdp_config {
    char *source; /* the file the values came from, or NULL for built-in defaults */
    /* lake */
    char *lake_dir;
    char *landing_dir;          /* may contain {lake.dir}: use mdp_config_landing_dir() */
    long lease_s, lease_wait_s; /* the writing jobs' lease (mdp/lease.h) */
    /* log */
    char *log_level;
    /* engine (DuckDB) */
    long engine_threads;
    char *engine_memory_limit;
    /* seed */
    long seed_users;
    long seed_days;
    long seed_seed;
    double seed_bad_rate;
    char *seed_start_date;
    /* pipeline */
    struct mdp_strlist pipeline_stages;
    /* consent: NAME:BASIS items */
    struct mdp_strlist consent_purposes;
    /* ingestion */
    struct mdp_strlist ingest_sources;
    double ingest_max_quarantine_share;
    char *ingest_non_v7_ids; /* ingest.non_v7_ids: quarantine | count */
    struct mdp_strlist event_types;
    char *ses_verify; /* sources.ses.verify_signatures: http | always */
    char *models_dir;
    long identity_max_users;
    long curate_lookback_days;
    char *supabase_dsn_env;
    struct mdp_strlist supabase_tables;
    /* sources */
    char *ga4_property_id;
    char *ga4_time_zone;
    char *ga4_credentials_env;
    char *ga4_api_base;
    char *ga4_user_deletion_base;
    struct mdp_strlist ga4_dimensions, ga4_metrics;
    long ga4_page_size;
    long http_max_retries, http_retry_base_ms;
    char *gbp_token_env, *gbp_api_base;
    struct mdp_strlist gbp_accounts;
    char *meta_token_env, *meta_api_base;
    /* serve */
    char *serve_listen;
    long serve_threads, serve_max_connections, serve_max_in_flight, serve_max_body;
    long serve_timeout_s, serve_reload_s, serve_ses_publish_s, serve_log_flush_s,
        serve_log_flush_mb;
    struct mdp_strlist serve_keys;
    char *serve_sns_confirm;
    /* personalize */
    struct mdp_strlist pz_surfaces, pz_allowed, pz_groups;
    long pz_min_events, pz_ttl_h;
    /* pseudonymization */
    char *pseudo_key_id;
    char *pseudo_key_env;
    char *tls_min_version; /* security.tls_min_version: "1.2" | "1.3" (mdp/net.h) */
    char *pg_ca_file;      /* security.pg_ca_file: a PEM file, or "{none}" (mdp/net.h) */
    /* data quality (mdp dq run) */
    char *dq_rules_dir;
    char *dq_fail_stage; /* never | on_error | on_fail */
    /* governance */
    char *gov_inventory;    /* governance.inventory: the data inventory's file */
    char *gov_ret_supabase; /* governance.retention_stage_supabase: "off" | "on" */
    /* cost model (docs/quality.md "Cost"): prices in USD */
    double cost_s3_gb_month, cost_s3_put_1000, cost_s3_get_1000, cost_athena_tb;
    long cost_athena_min_bytes;
    double cost_ddb_write_million, cost_ddb_read_million;
    double cost_ddb_writes_per_request, cost_ddb_reads_per_request;
    /* the state store's backend (include/mdp/state.h) */
    char *state_backend; /* sqlite | dynamodb */
    char *state_dynamodb_table;
    /* freshness and alarms (include/mdp/quality.h) */
    struct mdp_strlist freshness_slas; /* SOURCE:DURATION items */
    char *alarms_file;
    long alarms_webhook_retries, alarms_webhook_timeout_ms, alarms_action_timeout_s;
    long serve_metrics_snapshot_s;
    long serve_cost_refresh_s;
    /* change data capture (include/mdp/cdc.h, docs/cdc.md) */
    char *cdc_slot, *cdc_publication;
    struct mdp_strlist cdc_tables;
    long cdc_flush_ms, cdc_status_interval_s, cdc_lag_interval_s, cdc_reconnect_timeout_s,
        cdc_group_max_mb;
    /* AWS mode (include/mdp/aws.h) */
    char *aws_region, *aws_endpoint_url, *aws_s3_addressing, *aws_kms_key_id, *aws_cache_dir;
    long aws_max_retries, aws_retry_base_ms, aws_cache_mb;
};

/* Fills cfg with the built-in defaults. Returns 0 or MDP_ERR_NOMEM. Free with mdp_config_cleanup.
 */
int mdp_config_defaults(struct mdp_config *cfg);
/* Loads defaults, then the YAML file at path over them. On error returns MDP_ERR_CONFIG (or
 * NOT_FOUND / IO) with "file:line:col: ..." in diag, and cfg is cleaned up. */
int mdp_config_load(const char *path, struct mdp_config *cfg, struct mdp_diag *diag);
/* Same, from a buffer; name is used in messages. text (len bytes, need not be NUL-terminated) and
 * name are borrowed for the call; what cfg keeps is copied. Returns 0, or MDP_ERR_CONFIG (invalid
 * YAML, unknown key, bad value) or MDP_ERR_NOMEM with diag; on error cfg is cleaned up. */
int mdp_config_load_buffer(const char *name, const char *text, size_t len, struct mdp_config *cfg,
                           struct mdp_diag *diag);
/* Frees every string and list cfg owns and sets them to NULL/empty (cfg itself is the caller's
 * storage; NULL is fine). Safe to call twice. */
void mdp_config_cleanup(struct mdp_config *cfg);
/* Returns the landing folder with {lake.dir} replaced; the caller frees it with free(). NULL on out
 * of memory. */
char *mdp_config_landing_dir(const struct mdp_config *cfg);
/* Returns the path a file or folder key names: value itself, or builtin (a path in the source tree
 * mdp was built from) when value is NULL or "{builtin}". Returns one of the two, borrowed. */
const char *mdp_config_path(const char *value, const char *builtin);
/* Replaces a list with the comma-separated items of csv. Returns 0, MDP_ERR_RANGE or NOMEM. */
int mdp_strlist_set(struct mdp_strlist *l, const char *csv);
/* Frees every item of l and empties it (l itself is the caller's storage). */
void mdp_strlist_clear(struct mdp_strlist *l);
/* Returns 1 if s is in the list (exact, case-sensitive match), else 0. */
int mdp_strlist_has(const struct mdp_strlist *l, const char *s);

/* Prints the schema: every key, its type, default and meaning. markdown != 0 prints a table. */
void mdp_config_print_keys(FILE *out, int markdown);
/* Prints the effective configuration as YAML (secrets are only ever names of variables). */
void mdp_config_print(FILE *out, const struct mdp_config *cfg);

#endif
