/* Unit tests of the data inventory (include/mdp/inventory.h): the strict loader and its error
 * messages, ISO 8601 durations and their calendar arithmetic, the record of processing activities,
 * and config/inventory.yaml itself against the specification's retention table (spec 7, all seven
 * rows) and the per-source periods of spec 1 (SES 18, GA4 14, GBP and Meta 24 months, Supabase 36
 * months after the last activity), which is the oracle written down here independently of it. */
#include "testutil.h"
#include "mdp/inventory.h"
#include "mdp/time.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *inventory_path(void)
{
    const char *p = getenv("MDP_INVENTORY");
    return p ? p : "config/inventory.yaml";
}

static struct mdp_inventory *load_repo(void)
{
    struct mdp_inventory *inv = NULL;
    struct mdp_diag d = {0};
    int rc = mdp_inventory_load(inventory_path(), &inv, &d);
    if (rc) fprintf(stderr, "%s\n", d.msg);
    assert_int_equal(rc, 0);
    assert_non_null(inv);
    return inv;
}

/* ---- durations ---- */

static void test_duration_parse(void **state)
{
    (void)state;
    struct mdp_duration d;
    assert_int_equal(mdp_duration_parse("P7D", &d), 0);
    assert_int_equal(d.days, 7);
    assert_int_equal(d.months, 0);
    assert_int_equal(mdp_duration_parse("P18M", &d), 0);
    assert_int_equal(d.months, 18);
    assert_int_equal(mdp_duration_parse("P3Y", &d), 0);
    assert_int_equal(d.years, 3);
    assert_int_equal(mdp_duration_parse("P2W", &d), 0);
    assert_int_equal(d.days, 14);
    assert_int_equal(mdp_duration_parse("PT12H", &d), 0);
    assert_int_equal(d.seconds, 12 * 3600);
    assert_int_equal(mdp_duration_parse("P1Y2M3DT4H5M6S", &d), 0);
    assert_int_equal(d.years, 1);
    assert_int_equal(d.months, 2);
    assert_int_equal(d.days, 3);
    assert_int_equal(d.seconds, 4 * 3600 + 5 * 60 + 6);
    static const char *const BAD[] = {
        "",     "P",    "7D",  "P7",   "PT",   "P7D2D",  "P1D1Y",     "P-1D",    "P1.5D", "P7d",
        "P1DT", "PT1D", "P1X", "P7D ", " P7D", "PT1H1H", "P9999999D", "P1M1W1M", NULL};
    for (int i = 0; BAD[i]; i++) {
        d.days = 99;
        if (mdp_duration_parse(BAD[i], &d) != MDP_ERR_PARSE) fail_msg("accepted '%s'", BAD[i]);
        assert_int_equal(d.days, 0);
    }
}

static int64_t at(const char *iso)
{
    int64_t ms;
    assert_int_equal(mdp_time_parse_iso(iso, strlen(iso), &ms), 0);
    return ms;
}

static void test_duration_calendar(void **state)
{
    (void)state;
    struct mdp_duration d;
    char buf[40];
    mdp_duration_parse("P1M", &d);
    mdp_time_format_ms(mdp_duration_before(at("2026-03-31T10:00:00Z"), &d), buf, sizeof buf);
    assert_string_equal(buf, "2026-02-28T10:00:00.000Z"); /* clamps to the month's end */
    mdp_time_format_ms(mdp_duration_before(at("2028-03-31T00:00:00Z"), &d), buf, sizeof buf);
    assert_string_equal(buf, "2028-02-29T00:00:00.000Z"); /* leap year */
    mdp_duration_parse("P18M", &d);
    mdp_time_format_ms(mdp_duration_before(at("2026-10-15T00:00:00Z"), &d), buf, sizeof buf);
    assert_string_equal(buf, "2025-04-15T00:00:00.000Z");
    mdp_duration_parse("P7D", &d);
    mdp_time_format_ms(mdp_duration_after(at("2026-12-28T12:00:00Z"), &d), buf, sizeof buf);
    assert_string_equal(buf, "2027-01-04T12:00:00.000Z");
    mdp_duration_parse("P3Y", &d);
    mdp_time_format_ms(mdp_duration_after(at("2024-02-29T00:00:00Z"), &d), buf, sizeof buf);
    assert_string_equal(buf, "2027-02-28T00:00:00.000Z");
}

/* ---- the strict loader ---- */

#define HEAD                                                                                       \
    "controller: C\n"                                                                              \
    "dpo: D\n"                                                                                     \
    "security: S\n"                                                                                \
    "datasets:\n"
#define DS_START                                                                                   \
    "  a.b:\n"                                                                                     \
    "    store: curated\n"                                                                         \
    "    location: curated/facts/x\n"                                                              \
    "    purpose: P\n"                                                                             \
    "    legal_basis: consent\n"                                                                   \
    "    owner: O\n"                                                                               \
    "    subjects: S\n"                                                                            \
    "    recipients: R\n"                                                                          \
    "    transfers: none\n"                                                                        \
    "    source: X\n"                                                                              \
    "    deletion: partition_drop\n"
#define DS_END                                                                                     \
    "    retention: {period: P24M, clock: since_event}\n"                                          \
    "    subject_keys: {user_id: user_id}\n"                                                       \
    "    columns: {user_id: pseudonymous, n: none}\n"

static void expect_error(const char *text, const char *want1, const char *want2)
{
    struct mdp_inventory *inv = (struct mdp_inventory *)1;
    struct mdp_diag d = {0};
    int rc = mdp_inventory_load_buffer("inv.yaml", text, strlen(text), &inv, &d);
    if (rc != MDP_ERR_CONFIG) fail_msg("rc %d for:\n%s", rc, text);
    assert_null(inv);
    if (!strstr(d.msg, want1) || (want2 && !strstr(d.msg, want2)))
        fail_msg("message '%s' lacks '%s' / '%s'", d.msg, want1, want2 ? want2 : "");
}

static void test_loader_ok(void **state)
{
    (void)state;
    const char *t = HEAD DS_START DS_END;
    struct mdp_inventory *inv = NULL;
    struct mdp_diag d = {0};
    int rc = mdp_inventory_load_buffer("inv.yaml", t, strlen(t), &inv, &d);
    if (rc) fail_msg("%s", d.msg);
    assert_int_equal(inv->ndatasets, 1);
    const struct mdp_inv_dataset *ds = mdp_inventory_find(inv, "a.b");
    assert_non_null(ds);
    assert_int_equal(ds->store, MDP_INV_CURATED);
    assert_int_equal(ds->retention.period.months, 24);
    assert_int_equal(ds->retention.clock, MDP_CLOCK_SINCE_EVENT);
    assert_int_equal(ds->ncolumns, 2);
    assert_int_equal(mdp_inv_dataset_column(ds, "user_id")->pii, MDP_PII_PSEUDONYMOUS);
    assert_int_equal(mdp_inv_dataset_column(ds, "n")->pii, MDP_PII_NONE);
    assert_null(mdp_inv_dataset_column(ds, "m"));
    assert_int_equal(ds->nsubject_keys, 1);
    assert_int_equal(ds->subject_keys[0].kind, MDP_SUBJ_USER_ID);
    assert_ptr_equal(mdp_inventory_find_location(inv, MDP_INV_CURATED, "curated/facts/x"), ds);
    assert_null(mdp_inventory_find_location(inv, MDP_INV_ML, "curated/facts/x"));
    assert_int_equal(ds->line, 5);
    mdp_inventory_free(inv);
}

static void test_loader_errors(void **state)
{
    (void)state;
    /* unknown key: file, line and the key's full path */
    expect_error(HEAD DS_START "    colour: red\n" DS_END, "inv.yaml:16:5:", "datasets.a.b.colour");
    expect_error("controller: C\ndpo: D\nsecurity: S\nextra: 1\ndatasets: {}\n",
                 "inv.yaml:4:1:", "extra");
    /* a missing field names the dataset's line and the field */
    expect_error(HEAD "  a.b:\n    location: x\n    purpose: P\n"
                      "    legal_basis: consent\n    owner: O\n    subjects: S\n    recipients: R\n"
                      "    transfers: none\n    source: X\n    deletion: partition_drop\n" DS_END,
                 "inv.yaml:6:5: datasets.a.b:", "missing 'store'");
}

static void test_loader_errors2(void **state)
{
    (void)state;
    /* missing owner */
    expect_error(HEAD "  a.b:\n    store: curated\n    location: x\n    purpose: P\n"
                      "    legal_basis: consent\n    subjects: S\n    recipients: R\n"
                      "    transfers: none\n    source: X\n    deletion: partition_drop\n" DS_END,
                 "inv.yaml:", "missing 'owner'");
    /* a bad duration names the line of the value and retention.period */
    expect_error(HEAD DS_START "    retention: {period: 18 months, clock: since_event}\n"
                               "    subject_keys: {}\n    columns: {n: none}\n",
                 "inv.yaml:16:", "datasets.a.b.retention.period");
    expect_error(HEAD DS_START "    retention: {period: P18M, clock: forever}\n"
                               "    subject_keys: {}\n    columns: {n: none}\n",
                 "retention.clock", "'forever' is not one of");
    expect_error(HEAD DS_START "    retention: {period: P18M}\n"
                               "    subject_keys: {}\n    columns: {n: none}\n",
                 "inv.yaml:16:", "missing 'clock'");
    /* a PII class that does not exist */
    expect_error(HEAD DS_START "    retention: {period: P18M, clock: since_event}\n"
                               "    subject_keys: {}\n    columns: {n: secret}\n",
                 "inv.yaml:18:", "datasets.a.b.columns.n");
    /* a subject key naming no column */
    expect_error(HEAD DS_START "    retention: {period: P18M, clock: since_event}\n"
                               "    subject_keys: {uid: user_id}\n    columns: {n: none}\n",
                 "inv.yaml:", "subject key 'uid' is not one of its columns");
    /* a legal basis outside Art. 6(1) */
    expect_error("controller: C\ndpo: D\nsecurity: S\ndatasets:\n  a.b:\n    store: curated\n"
                 "    location: x\n    purpose: P\n    legal_basis: because\n",
                 "inv.yaml:9:18:", "legal_basis");
    /* duplicate keys, empty text, an empty column list */
    expect_error(HEAD DS_START "    owner: again\n" DS_END, "inv.yaml:16:", "duplicate key");
    expect_error(HEAD DS_START "    retention: {period: P1D, clock: ttl}\n"
                               "    subject_keys: {}\n    columns: {}\n",
                 "inv.yaml:18:", "lists no column");
    expect_error("controller: ''\ndpo: D\nsecurity: S\ndatasets: {}\n",
                 "inv.yaml:1:13:", "must not be empty");
    /* two entries for one location */
    expect_error(HEAD DS_START DS_END
                 "  a.c:\n    store: curated\n    location: curated/facts/x\n    purpose: P\n"
                 "    legal_basis: consent\n    owner: O\n    subjects: S\n    recipients: R\n"
                 "    transfers: none\n    source: X\n    deletion: partition_drop\n" DS_END,
                 "inv.yaml:19:3: datasets: 'a.c'", "the same curated location");
    expect_error("controller: [1\n", "inv.yaml:", "invalid YAML");
    expect_error("", "inv.yaml:1:1:", "empty");
}

/* ---- the repository's inventory against the specification ---- */

struct rule {
    const char *dataset;
    int years, months, days;
    enum mdp_ret_clock clock;
    const char *basis;
    enum mdp_del_path deletion;
};

static void check_rule(const struct mdp_inventory *inv, const struct rule *r)
{
    const struct mdp_inv_dataset *ds = mdp_inventory_find(inv, r->dataset);
    if (!ds) fail_msg("the inventory has no dataset '%s'", r->dataset);
    const struct mdp_duration *p = &ds->retention.period;
    if (p->years * 12 + p->months != r->years * 12 + r->months || p->days != r->days ||
        p->seconds != 0)
        fail_msg("%s: retention %s, the specification says %dY%dM%dD", r->dataset,
                 ds->retention.period_text, r->years, r->months, r->days);
    if (ds->retention.clock != r->clock)
        fail_msg("%s: clock %s", r->dataset, mdp_ret_clock_name(ds->retention.clock));
    if (strcmp(ds->legal_basis, r->basis) != 0)
        fail_msg("%s: legal basis %s, the specification says %s", r->dataset, ds->legal_basis,
                 r->basis);
    if (r->deletion && ds->deletion != r->deletion)
        fail_msg("%s: deletion %s", r->dataset, mdp_del_path_name(ds->deletion));
}

static void test_spec_retention_table(void **state)
{
    (void)state;
    struct mdp_inventory *inv = load_repo();
    /* spec 7, "Retention-Richtlinien", row by row */
    static const struct rule SPEC7[] = {
        /* 1. VcTokens (unconfirmed): DOI, 7 days TTL, consent, automatic */
        {"dynamodb.VcTokens", 0, 0, 7, MDP_CLOCK_TTL, "consent", MDP_DEL_TTL},
        {"state.vc_tokens", 0, 0, 7, MDP_CLOCK_TTL, "consent", MDP_DEL_TTL},
        /* 2. ConsentJournal: compliance, 3 years, legal obligation, batch job */
        {"dynamodb.ConsentJournal", 3, 0, 0, MDP_CLOCK_SINCE_EVENT, "legal_obligation",
         MDP_DEL_BATCH_JOB},
        {"state.consent_journal", 3, 0, 0, MDP_CLOCK_SINCE_EVENT, "legal_obligation",
         MDP_DEL_BATCH_JOB},
        /* 3. email events: reputation, 18 months, legitimate interest, S3 lifecycle */
        {"raw.ses.sqs", 0, 18, 0, MDP_CLOCK_SINCE_EVENT, "legitimate_interest", MDP_DEL_LIFECYCLE},
        {"raw.ses.http", 0, 18, 0, MDP_CLOCK_SINCE_EVENT, "legitimate_interest", MDP_DEL_LIFECYCLE},
        {"curated.fact_email_events", 0, 18, 0, MDP_CLOCK_SINCE_EVENT, "legitimate_interest",
         MDP_DEL_PARTITION_DROP},
        {"external.ses", 0, 18, 0, MDP_CLOCK_SINCE_EVENT, "legitimate_interest", 0},
        /* 4. GA4 raw data: analytics, 14 months, consent, GA4 auto-delete */
        {"external.ga4", 0, 14, 0, MDP_CLOCK_SINCE_EVENT, "consent", MDP_DEL_VENDOR},
        {"raw.ga4.runreport", 0, 14, 0, MDP_CLOCK_SINCE_EVENT, "consent", 0},
        /* 5. Supabase raw data: app function, 36 months inactive, contract, cascade delete */
        {"supabase.user_profiles", 0, 36, 0, MDP_CLOCK_SINCE_LAST_ACTIVITY, "contract",
         MDP_DEL_CASCADE},
        {"supabase.accounts", 0, 36, 0, MDP_CLOCK_SINCE_LAST_ACTIVITY, "contract", MDP_DEL_CASCADE},
        {"supabase.communication_prefs", 0, 36, 0, MDP_CLOCK_SINCE_LAST_ACTIVITY, "contract",
         MDP_DEL_CASCADE},
        {"supabase.onboarding_progress", 0, 36, 0, MDP_CLOCK_SINCE_LAST_ACTIVITY, "contract",
         MDP_DEL_CASCADE},
        {"supabase.locations", 0, 36, 0, MDP_CLOCK_SINCE_LAST_ACTIVITY, "contract",
         MDP_DEL_CASCADE},
        {"supabase.visibility_checks", 0, 36, 0, MDP_CLOCK_SINCE_LAST_ACTIVITY, "contract",
         MDP_DEL_CASCADE},
        {"supabase.oauth_logins", 0, 36, 0, MDP_CLOCK_SINCE_LAST_ACTIVITY, "contract",
         MDP_DEL_CASCADE},
        /* 6. S3 raw: backup, 90 days, legitimate interest, S3 lifecycle (rows 3 and 4 above take
         * precedence for SES and GA4) */
        {"raw.supabase.user_profiles", 0, 0, 90, MDP_CLOCK_SINCE_EVENT, "legitimate_interest",
         MDP_DEL_LIFECYCLE},
        {"raw.dynamodb.firehose", 0, 0, 90, MDP_CLOCK_SINCE_EVENT, "legitimate_interest",
         MDP_DEL_LIFECYCLE},
        /* 7. S3 curated/ML: analytics, 24 months, consent, partition drop */
        {"curated.fact_onboarding_steps", 0, 24, 0, MDP_CLOCK_SINCE_EVENT, "consent",
         MDP_DEL_PARTITION_DROP},
        {"curated.fact_visibility_check", 0, 24, 0, MDP_CLOCK_SINCE_EVENT, "consent",
         MDP_DEL_PARTITION_DROP},
        {"curated.fact_login_oauth", 0, 24, 0, MDP_CLOCK_SINCE_EVENT, "consent",
         MDP_DEL_PARTITION_DROP},
        {"ml.segments", 0, 24, 0, MDP_CLOCK_SINCE_EVENT, "consent", MDP_DEL_PARTITION_DROP},
        {"ml.features", 0, 24, 0, MDP_CLOCK_SINCE_EVENT, "consent", MDP_DEL_PARTITION_DROP},
        /* spec 1: Google Business Profile and Facebook/Instagram, 24 months */
        {"external.gbp", 0, 24, 0, MDP_CLOCK_SINCE_EVENT, "contract", 0},
        {"external.meta", 0, 24, 0, MDP_CLOCK_SINCE_EVENT, "consent", 0},
    };
    for (size_t i = 0; i < sizeof SPEC7 / sizeof SPEC7[0]; i++)
        check_rule(inv, &SPEC7[i]);

    /* the zones as wholes: every raw dataset is 90 days unless it is SES (18 months) or GA4 (14
     * months); every partitioned curated fact and ml table 24 months unless email (18 months) */
    int raw = 0, facts = 0;
    for (size_t i = 0; i < inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &inv->datasets[i];
        const struct mdp_duration *p = &ds->retention.period;
        if (ds->store == MDP_INV_RAW) {
            raw++;
            int months = p->years * 12 + p->months;
            if (strncmp(ds->location, "raw/ses/", 8) == 0)
                assert_true(months == 18 && p->days == 0);
            else if (strncmp(ds->location, "raw/ga4/", 8) == 0)
                assert_true(months == 14 && p->days == 0);
            else if (months != 0 || p->days != 90)
                fail_msg("%s: raw kept %s, not P90D", ds->name, ds->retention.period_text);
            assert_int_equal(ds->deletion, MDP_DEL_LIFECYCLE);
        }
        if ((ds->store == MDP_INV_CURATED && strstr(ds->location, "/facts/")) ||
            ds->store == MDP_INV_ML) {
            facts++;
            int months = p->years * 12 + p->months;
            int want = strstr(ds->location, "fact_email_events") ? 18 : 24;
            if (months != want || p->days) fail_msg("%s: %s", ds->name, ds->retention.period_text);
            assert_int_equal(ds->deletion, MDP_DEL_PARTITION_DROP);
            assert_non_null(ds->retention.column); /* the partition column the clock reads */
        }
        /* spec 1: the legal bases by source */
        if (ds->store == MDP_INV_SUPABASE) assert_string_equal(ds->legal_basis, "contract");
    }
    assert_true(raw >= 17);
    assert_int_equal(facts, 6);
    /* spec 1's PII fields */
    const struct mdp_inv_dataset *up = mdp_inventory_find(inv, "supabase.user_profiles");
    assert_int_equal(mdp_inv_dataset_column(up, "email")->pii, MDP_PII_DIRECT);
    assert_int_equal(mdp_inv_dataset_column(up, "name")->pii, MDP_PII_DIRECT);
    assert_int_equal(mdp_inv_dataset_column(up, "preferences")->pii, MDP_PII_NONE);
    const struct mdp_inv_dataset *vc = mdp_inventory_find(inv, "dynamodb.VcTokens");
    assert_int_equal(mdp_inv_dataset_column(vc, "email_lower")->pii, MDP_PII_DIRECT);
    assert_int_equal(mdp_inv_dataset_column(vc, "ip_start")->pii, MDP_PII_DIRECT);
    assert_int_equal(mdp_inv_dataset_column(vc, "token_hash")->pii, MDP_PII_NONE);
    const struct mdp_inv_dataset *cj = mdp_inventory_find(inv, "dynamodb.ConsentJournal");
    assert_int_equal(mdp_inv_dataset_column(cj, "email")->pii, MDP_PII_DIRECT);
    assert_int_equal(mdp_inv_dataset_column(cj, "decision")->pii, MDP_PII_NONE);
    /* spec 1's owners */
    assert_string_equal(mdp_inventory_find(inv, "supabase.user_profiles")->owner, "Product Team");
    assert_string_equal(vc->owner, "Legal/Compliance Team");
    assert_string_equal(mdp_inventory_find(inv, "external.ses")->owner, "DevOps Team");
    assert_string_equal(mdp_inventory_find(inv, "external.ga4")->owner, "Analytics Team");
    assert_string_equal(mdp_inventory_find(inv, "external.gbp")->owner, "Product Team");
    assert_string_equal(mdp_inventory_find(inv, "external.meta")->owner, "Product Team");
    mdp_inventory_free(inv);
}

/* ---- the record of processing activities ---- */

static void no_empty(json_object *o, const char *path)
{
    switch (json_object_get_type(o)) {
    case json_type_string:
        if (json_object_get_string_len(o) == 0) fail_msg("empty field %s", path);
        break;
    case json_type_null:
        fail_msg("null field %s", path);
        break;
    case json_type_object: {
        json_object_object_foreach(o, k, v)
        {
            char p[512];
            snprintf(p, sizeof p, "%s.%s", path, k);
            no_empty(v, p);
        }
        break;
    }
    case json_type_array:
        /* a list of columns may be empty (a dataset without direct PII): the field says so by
         * being a list; the activities themselves must not be */
        for (size_t i = 0; i < json_object_array_length(o); i++) {
            char p[512];
            snprintf(p, sizeof p, "%s[%zu]", path, i);
            no_empty(json_object_array_get_idx(o, i), p);
        }
        break;
    default:
        break;
    }
}

static void test_ropa(void **state)
{
    (void)state;
    struct mdp_inventory *inv = load_repo();
    char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/ropa.json", dir);
    FILE *f = fopen(path, "w");
    struct mdp_diag d = {0};
    assert_int_equal(mdp_inventory_ropa(inv, f, 1, &d), 0);
    fclose(f);
    json_object *root = json_object_from_file(path);
    assert_non_null(root);
    no_empty(root, "$");
    json_object *r, *acts;
    assert_true(json_object_object_get_ex(root, "record_of_processing_activities", &r));
    assert_true(json_object_object_get_ex(r, "activities", &acts));
    assert_int_equal(json_object_array_length(acts), inv->ndatasets);
    static const char *const FIELDS[] = {
        "dataset",   "store",         "location",     "purpose", "legal_basis_text",
        "owner",     "data_subjects", "subject_keys", "source",  "recipients",
        "transfers", "retention",     "deletion",     NULL};
    for (size_t i = 0; i < json_object_array_length(acts); i++) {
        json_object *a = json_object_array_get_idx(acts, i), *v;
        for (int k = 0; FIELDS[k]; k++) {
            if (!json_object_object_get_ex(a, FIELDS[k], &v)) fail_msg("no %s", FIELDS[k]);
            assert_true(json_object_get_string_len(v) > 0);
        }
        assert_non_null(strstr(
            json_object_get_string(json_object_object_get(a, "legal_basis_text")), "Art. 6(1)"));
    }
    json_object_put(root);

    /* markdown: no empty table cell */
    snprintf(path, sizeof path, "%s/ropa.md", dir);
    f = fopen(path, "w");
    assert_int_equal(mdp_inventory_ropa(inv, f, 0, &d), 0);
    fclose(f);
    size_t len;
    char *md = tu_read(path, &len);
    assert_non_null(md);
    assert_null(strstr(md, "|  |"));
    assert_null(strstr(md, "| |"));
    assert_null(strstr(md, "||"));
    assert_non_null(strstr(md, "## supabase.user_profiles"));
    assert_non_null(strstr(md, "| personal data (direct) | email, name |"));
    free(md);
    tu_rmdir(dir);
    mdp_inventory_free(inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parse), cmocka_unit_test(test_duration_calendar),
        cmocka_unit_test(test_loader_ok),      cmocka_unit_test(test_loader_errors),
        cmocka_unit_test(test_loader_errors2), cmocka_unit_test(test_spec_retention_table),
        cmocka_unit_test(test_ropa),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
