/* Unit tests of the strict configuration and of the PII-scrubbing logger. */
#include "testutil.h"
#include "mdp/buf.h"
#include "mdp/config.h"
#include "mdp/hash.h"
#include "mdp/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(const char *text, struct mdp_config *cfg, struct mdp_diag *d)
{
    memset(d, 0, sizeof *d);
    return mdp_config_load_buffer("test.yaml", text, strlen(text), cfg, d);
}

static void test_defaults_without_file(void **st)
{
    (void)st;
    struct mdp_config cfg;
    assert_int_equal(mdp_config_defaults(&cfg), 0);
    assert_string_equal(cfg.lake_dir, "./mdp-lake");
    assert_int_equal(cfg.seed_users, 1000);
    assert_int_equal(cfg.seed_days, 30);
    assert_int_equal(cfg.pipeline_stages.n, 8); /* dq after curate and after features */
    assert_string_equal(cfg.pipeline_stages.v[5], "features");
    assert_string_equal(cfg.pipeline_stages.v[6], "dq");
    assert_true(mdp_strlist_has(&cfg.consent_purposes, "ml:consent"));
    assert_string_equal(cfg.pipeline_stages.v[0], "ingest");
    assert_true(mdp_strlist_has(&cfg.ingest_sources, "ddb"));
    assert_true(mdp_strlist_has(&cfg.event_types, "step_completed"));
    char *landing = mdp_config_landing_dir(&cfg);
    assert_string_equal(landing, "./mdp-lake/landing");
    free(landing);
    /* the file and folder keys default to the source tree's ({builtin}) */
    const char *paths[] = {cfg.gov_inventory, cfg.alarms_file, cfg.dq_rules_dir, cfg.models_dir};
    for (int i = 0; i < 4; i++)
        assert_string_equal(mdp_config_path(paths[i], "/src/x"), "/src/x");
    assert_string_equal(mdp_config_path(NULL, "/src/x"), "/src/x");
    assert_null(cfg.source);
    mdp_config_cleanup(&cfg);
}

static void test_valid_file_overrides(void **st)
{
    (void)st;
    struct mdp_config cfg;
    struct mdp_diag d;
    const char *y = "lake:\n  dir: /data/lake\nseed:\n  users: 50\n  bad_rate: 0.2\n"
                    "pipeline:\n  stages: [ingest]\nlog:\n  level: warn\n"
                    "sources.ga4.property_id: \"123\"\ngovernance:\n  inventory: gov/inv.yaml\n";
    assert_int_equal(load(y, &cfg, &d), 0);
    assert_string_equal(cfg.lake_dir, "/data/lake");
    assert_int_equal(cfg.seed_users, 50);
    assert_true(cfg.seed_bad_rate > 0.19 && cfg.seed_bad_rate < 0.21);
    assert_int_equal(cfg.pipeline_stages.n, 1);
    assert_string_equal(cfg.log_level, "warn");
    assert_string_equal(cfg.ga4_property_id, "123");
    assert_string_equal(mdp_config_path(cfg.gov_inventory, "/src/x"), "gov/inv.yaml");
    assert_int_equal(cfg.seed_days, 30); /* untouched keys keep their defaults */
    char *landing = mdp_config_landing_dir(&cfg);
    assert_string_equal(landing, "/data/lake/landing");
    free(landing);
    mdp_config_cleanup(&cfg);
    assert_int_equal(load("", &cfg, &d), 0); /* an empty file is all defaults */
    mdp_config_cleanup(&cfg);
}

static void expect_error(const char *yaml, const char *needle)
{
    struct mdp_config cfg;
    struct mdp_diag d;
    int rc = load(yaml, &cfg, &d);
    if (rc == 0) mdp_config_cleanup(&cfg);
    assert_int_equal(rc, MDP_ERR_CONFIG);
    if (!strstr(d.msg, needle)) fail_msg("message '%s' lacks '%s'", d.msg, needle);
}

static void test_errors_name_file_line_and_key(void **st)
{
    (void)st;
    expect_error("lake:\n  dri: x\n",
                 "test.yaml:2:3: unknown key 'lake.dri' (did you mean 'lake.dir'?)");
    expect_error("seed:\n  users: many\n",
                 "test.yaml:2:10: 'seed.users': expected an integer, got 'many'");
    expect_error("seed:\n  users: 0\n", "out of range");
    expect_error("seed:\n  bad_rate: 0.9\n", "out of range");
    expect_error("log:\n  level: loud\n", "'loud' is not one of debug|info|warn|error|off");
    expect_error("lake:\n  dir: a\n  dir: b\n", "duplicate key 'dir' (first at line 2)");
    expect_error("lake: x\n", "'lake' is a section");
    expect_error("pipeline:\n  stages: land\n", "expects a list of strings");
    expect_error("- a\n- b\n", "the top level must be a mapping");
    expect_error("lake:\n  dir: [\n", "invalid YAML");
    expect_error("seed:\n  start_date: 2026-02-30\n", "expected a date");
    expect_error("weird: 1\n", "unknown key 'weird'");
    expect_error("a: 1\n---\nb: 2\n", "more than one YAML document");
    expect_error("lake:\n  dir: x\n---\nlake:\n  dir: y\n", "more than one YAML document");
}

static void test_secrets_never_from_the_file(void **st)
{
    (void)st;
    expect_error("sources:\n  ga4:\n    client_secret: abc\n", "looks like a secret");
    expect_error("pseudonymization:\n  key: hunter2\n", "looks like a secret");
    expect_error("pseudonymization:\n  key_env: \"my secret value\"\n",
                 "NAME of an environment variable");
    struct mdp_config cfg;
    struct mdp_diag d;
    assert_int_equal(load("pseudonymization:\n  key_env: MY_KEY\n", &cfg, &d), 0);
    assert_string_equal(cfg.pseudo_key_env, "MY_KEY");
    mdp_config_cleanup(&cfg);
}

static void test_load_missing_file(void **st)
{
    (void)st;
    struct mdp_config cfg;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_config_load("/nonexistent/mdp.yaml", &cfg, &d), MDP_ERR_NOT_FOUND);
    assert_non_null(strstr(d.msg, "/nonexistent/mdp.yaml: cannot open configuration"));
}

static void test_shipped_example_config_loads(void **st)
{
    (void)st;
    struct mdp_config cfg;
    struct mdp_diag d = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s/../../config/mdp.yaml", getenv("MDP_TEST_DATA"));
    int rc = mdp_config_load(path, &cfg, &d);
    if (rc) fail_msg("%s", d.msg);
    mdp_config_cleanup(&cfg);
}

/* ---- logging ---- */

static char *capture(void (*fn)(void))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mdp_log_set_stream(f);
    fn();
    mdp_log_set_stream(NULL);
    fclose(f);
    return buf;
}

static void log_pii(void)
{
    mdp_log(MDP_LOG_INFO, "bounce for Alice@Example.com received",
            LOG_STR("recipient", "bob.smith+newsletter@example.org"),
            LOG_STR("api_key", "sk_live_123456"),
            LOG_STR("header", "Authorization: Bearer eyJhbGciOi.abc"), LOG_INT("count", 3),
            MDP_LF_END);
}

static void test_log_scrubs_emails_and_secrets(void **st)
{
    (void)st;
    char *out = capture(log_pii);
    assert_non_null(out);
    assert_null(strstr(out, "Alice@Example.com"));
    assert_null(strstr(out, "bob.smith"));
    assert_null(strstr(out, "example.org"));
    assert_null(strstr(out, "sk_live_123456"));
    assert_null(strstr(out, "eyJhbGciOi"));
    /* the pseudonym is the start of the spec's SHA-256 of the normalized address */
    char hex[65];
    mdp_email_hash("alice@example.com", hex);
    hex[12] = '\0';
    char want[96];
    snprintf(want, sizeof want, "email:%s", hex);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "\"api_key\":\"[redacted]\""));
    assert_non_null(strstr(out, "Bearer [redacted]"));
    assert_non_null(strstr(out, "\"count\":3"));
    assert_non_null(strstr(out, "\"level\":\"info\""));
    assert_int_equal(out[strlen(out) - 1], '\n');
    free(out);
}

static void log_debug_line(void)
{
    mdp_log(MDP_LOG_DEBUG, "hidden", MDP_LF_END);
    mdp_log(MDP_LOG_WARN, "shown", MDP_LF_END);
}

static void test_log_levels(void **st)
{
    (void)st;
    mdp_log_set_level(MDP_LOG_INFO);
    char *out = capture(log_debug_line);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "shown"));
    free(out);
    enum mdp_log_level l;
    assert_int_equal(mdp_log_level_parse("error", &l), 0);
    assert_int_equal(l, MDP_LOG_ERROR);
    assert_int_not_equal(mdp_log_level_parse("verbose", &l), 0);
}

static void test_scrub_keeps_non_emails(void **st)
{
    (void)st;
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_log_scrub("user@localhost and @handle and a@b", &b), 0);
    assert_string_equal(b.data, "user@localhost and @handle and a@b");
    mdp_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_without_file),
        cmocka_unit_test(test_valid_file_overrides),
        cmocka_unit_test(test_errors_name_file_line_and_key),
        cmocka_unit_test(test_secrets_never_from_the_file),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_shipped_example_config_loads),
        cmocka_unit_test(test_log_scrubs_emails_and_secrets),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_scrub_keeps_non_emails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
