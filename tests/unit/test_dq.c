/* Unit tests of the DQDL module: the parser (valid rulesets round-trip through the printer to
 * their canonical form; invalid ones fail at the expected line and column). The expected texts
 * are written by hand from Glue's documented syntax. */
#include "testutil.h"
#include "mdp/alloc.h"
#include "mdp/dq.h"
#include "mdp/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

struct ok_case {
    const char *name, *src;
    const char *want; /* the rules in canonical form, one per line */
};

struct bad_case {
    const char *name, *src;
    int line, col;
    const char *msg; /* a part of the message */
};

static const struct ok_case OK[] = {
    {"rowcount", "Rules = [ RowCount > 100 ]", "RowCount > 100\n"},
    {"columncount_exact", "Rules=[ColumnCount=5]", "ColumnCount = 5\n"},
    {"iscomplete_single_quotes", "Rules = [ IsComplete 'user_id' ]", "IsComplete \"user_id\"\n"},
    {"iscomplete_double_quotes", "Rules = [ IsComplete \"user_id\" ]", "IsComplete \"user_id\"\n"},
    {"spec_four_rules",
     "Rules = [ ColumnCount = 4, IsComplete 'user_id', IsUnique 'user_id',\n"
     "  ColumnValues 'plan' in ['free', 'pro'] ]",
     NULL /* single-quoted values are rejected: see the bad cases */},
    {"isunique", "Rules = [ IsUnique \"id\" ]", "IsUnique \"id\"\n"},
    {"completeness_where", "Rules = [ Completeness \"email\" >= 0.95 where \"plan = 'pro'\" ]",
     "Completeness \"email\" >= 0.95 where \"plan = 'pro'\"\n"},
    {"uniqueness", "Rules = [ Uniqueness \"id\" > 0.99 ]", "Uniqueness \"id\" > 0.99\n"},
    {"unique_value_ratio", "Rules = [ UniqueValueRatio \"p\" between 0.1 and 0.5 ]",
     "UniqueValueRatio \"p\" between 0.1 and 0.5\n"},
    {"primary_key_two_columns", "Rules = [ IsPrimaryKey \"a\" 'b' ]", "IsPrimaryKey \"a\" \"b\"\n"},
    {"column_values_in", "Rules = [ ColumnValues \"plan\" in [\"free\",\"pro\"] ]",
     "ColumnValues \"plan\" in [\"free\", \"pro\"]\n"},
    {"column_values_not_in_keywords",
     "Rules = [ ColumnValues \"p\" not in [NULL, empty, WHITESPACES_ONLY] ]",
     "ColumnValues \"p\" not in [NULL, EMPTY, WHITESPACES_ONLY]\n"},
    {"column_values_numbers_in", "Rules = [ ColumnValues \"n\" in [1, 2, -3.5] ]",
     "ColumnValues \"n\" in [1, 2, -3.5]\n"},
    {"column_values_not_between", "Rules = [ ColumnValues \"a\" not between 0 and 130 ]",
     "ColumnValues \"a\" not between 0 and 130\n"},
    {"column_values_matches_threshold",
     "Rules = [ ColumnValues \"e\" matches \"[a-z]+\\d\" with threshold >= 0.9 ]",
     "ColumnValues \"e\" matches \"[a-z]+\\d\" with threshold >= 0.9\n"},
    {"column_values_not_matches", "Rules = [ ColumnValues \"e\" not matches \"x\" ]",
     "ColumnValues \"e\" not matches \"x\"\n"},
    {"column_values_ne_empty",
     "Rules = [ ColumnValues \"e\" != EMPTY, ColumnValues \"e\" ! = NULL ]",
     "ColumnValues \"e\" != EMPTY\nColumnValues \"e\" != NULL\n"},
    {"date_now_minus", "Rules = [ ColumnValues \"d\" > (now()-3 days) ]",
     "ColumnValues \"d\" > (now() - 3 days)\n"},
    {"date_between_literals",
     "Rules = [ ColumnValues \"d\" between \"2024-01-01\" and (now() + 1 hours) ]",
     "ColumnValues \"d\" between \"2024-01-01\" and (now() + 1 hours)\n"},
    {"data_freshness",
     "Rules = [ DataFreshness \"ts\" <= 24 hours, DataFreshness \"ts\" between 2 days and 5 days ]",
     "DataFreshness \"ts\" <= 24 hours\nDataFreshness \"ts\" between 2 days and 5 days\n"},
    {"arithmetic_precedence", "Rules = [ RowCount > avg(last(10)) * 0.8 + -(1) ]",
     "RowCount > avg(last(10)) * 0.8 + -(1)\n"},
    {"composite_and", "Rules = [ (IsComplete \"a\") AND (IsUnique \"a\") ]",
     "(IsComplete \"a\") and (IsUnique \"a\")\n"},
    {"composite_and_or_nested",
     "Rules = [ (RowCount > 0) or ((IsComplete \"a\") and (IsUnique \"a\")) ]",
     "(RowCount > 0) or ((IsComplete \"a\") and (IsUnique \"a\"))\n"},
    {"composite_and_binds_tighter",
     "Rules = [ IsComplete \"a\" or IsUnique \"a\" and RowCount > 1 ]",
     "(IsComplete \"a\") or ((IsUnique \"a\") and (RowCount > 1))\n"},
    {"composite_chain_flattened",
     "Rules = [ ((Mean \"a\" > 1) and (Sum \"a\" > 1)) and (Entropy \"a\" > 1) ]",
     "(Mean \"a\" > 1) and (Sum \"a\" > 1) and (Entropy \"a\" > 1)\n"},
    {"between_and_not_a_composite",
     "Rules = [ (ColumnValues \"a\" between 1 and 5) and (RowCount > 0) ]",
     "(ColumnValues \"a\" between 1 and 5) and (RowCount > 0)\n"},
    {"constants",
     "allowed = [\"a\", NULL]\nx = \"b\"\nRules = [ ColumnValues \"p\" in $allowed, ColumnValues "
     "\"p\" = $x ]",
     "ColumnValues \"p\" in $allowed\nColumnValues \"p\" = $x\n"},
    {"labels", "Rules = [ RowCount > 0 labels={\"team\":\"dq\",\"tier\" : \"1\"} ]",
     "RowCount > 0 labels={\"team\": \"dq\", \"tier\": \"1\"}\n"},
    {"metadata_sources_comments",
     "# header\nMetadata = {\"Version\": \"1.0\"} # trailing\nDataSources = {\"Primary\": \"t\", "
     "\"AdditionalDataSources\": [\"r\"]}\nRules = [\n  RowCount > 1 # one\n]",
     "RowCount > 1\n"},
    {"analyzers_only", "Analyzers = [ RowCount, Completeness \"a\", AllStatistics \"b\" ]", ""},
    {"empty_rules", "Rules = [ ]", ""},
    {"customsql", "Rules = [ CustomSql \"select count(*) from primary\" between 10 and 20 ]",
     "CustomSql \"select count(*) from primary\" between 10 and 20\n"},
    {"customsql_rowlevel",
     "Rules = [ CustomSql \"select id from primary where a > 1\" with threshold > 0.5 ]",
     "CustomSql \"select id from primary where a > 1\" with threshold > 0.5\n"},
    {"referential_integrity", "Rules = [ ReferentialIntegrity \"uid\" \"users.{id}\" = 1.0 ]",
     "ReferentialIntegrity \"uid\" \"users.{id}\" = 1.0\n"},
    {"dataset_match", "Rules = [ DatasetMatch \"ref\" \"id->id2\" \"a,b\" >= 0.9 ]",
     "DatasetMatch \"ref\" \"id->id2\" \"a,b\" >= 0.9\n"},
    {"aggregate_schema_rowcount_match",
     "Rules = [ AggregateMatch \"sum(a)\" \"sum(r.a)\" > 0.9, SchemaMatch \"r\" = 1.0, "
     "RowCountMatch \"r\" >= 0.9 ]",
     "AggregateMatch \"sum(a)\" \"sum(r.a)\" > 0.9\nSchemaMatch \"r\" = 1.0\nRowCountMatch \"r\" "
     ">= 0.9\n"},
    {"column_stats",
     "Rules = [ Mean \"x\" > 3, Sum \"x\" < 1000, StandardDeviation \"x\" <= 2.5, Entropy \"x\" > "
     "1, DistinctValuesCount \"x\" = 3 ]",
     "Mean \"x\" > 3\nSum \"x\" < 1000\nStandardDeviation \"x\" <= 2.5\nEntropy \"x\" > "
     "1\nDistinctValuesCount \"x\" = 3\n"},
    {"length_exists_datatype_corr",
     "Rules = [ ColumnLength \"z\" = 5, ColumnExists \"z\", ColumnDataType \"z\" in [\"INTEGER\", "
     "\"LONG\"], ColumnCorrelation \"a\" \"b\" > 0.8 ]",
     "ColumnLength \"z\" = 5\nColumnExists \"z\"\nColumnDataType \"z\" in [\"INTEGER\", "
     "\"LONG\"]\nColumnCorrelation \"a\" \"b\" > 0.8\n"},
    {"names_pattern_anomalies",
     "Rules = [ ColumnNamesMatchPattern \"^[a-z_]+$\", DetectAnomalies \"Completeness\" \"e\" ]",
     "ColumnNamesMatchPattern \"^[a-z_]+$\"\nDetectAnomalies \"Completeness\" \"e\"\n"},
    {"file_rules",
     "Rules = [ FileFreshness \"s3://b/\" > (now() - 24 hours), FileMatch \"s3://b/x\" in "
     "[\"abc\"] with hashAlgorithm = \"MD5\", FileSize \"s3://b/\" < 5 GB, FileUniqueness "
     "\"s3://b/\" > 0.9 ]",
     "FileFreshness \"s3://b/\" > (now() - 24 hours)\nFileMatch \"s3://b/x\" in [\"abc\"] with "
     "hashAlgorithm = \"MD5\"\nFileSize \"s3://b/\" < 5 GB\nFileUniqueness \"s3://b/\" > 0.9\n"},
    {"escapes", "Rules = [ ColumnValues \"a\\\"b\" = \"x\\\\\" ]",
     "ColumnValues \"a\\\"b\" = \"x\\\\\"\n"},
    {"single_quote_escape", "Rules = [ IsComplete 'it\\'s' ]", "IsComplete \"it's\"\n"},
    {"identifier_parameter", "Rules = [ IsComplete user_id ]", "IsComplete \"user_id\"\n"},
    {"connector_of", "Analyzers = [ Completeness of \"a\" ]", ""},
};

static const struct bad_case BAD[] = {
    {"empty_input", "", 1, 1, "expected 'Rules = [' or 'Analyzers = ['"},
    {"lowercase_section", "rules = [ RowCount > 1 ]", 1, 1, "case sensitive"},
    {"unknown_rule_type", "Rules = [\n  IsCompleet \"a\" ]", 2, 3,
     "'IsCompleet' is not a DQDL rule type"},
    {"rule_type_case", "Rules = [ iscomplete \"a\" ]", 1, 11, "not a DQDL rule type"},
    {"trailing_comma", "Rules = [ RowCount > 1, ]", 1, 25, "expected a rule type"},
    {"missing_bracket", "Rules = [ RowCount > 1", 1, 23, "expected ',' or ']'"},
    {"unterminated_string", "Rules = [\n IsComplete \"a ]", 2, 13, "unterminated string"},
    {"missing_condition", "Rules = [ Completeness \"a\" ]", 1, 28,
     "Completeness needs a condition"},
    {"condition_not_taken", "Rules = [ IsComplete \"a\" > 1 ]", 1, 26,
     "IsComplete takes no condition"},
    {"string_for_number", "Rules = [ RowCount = \"many\" ]", 1, 20,
     "RowCount expects a numeric condition"},
    {"too_many_parameters", "Rules = [ IsComplete \"a\" \"b\" ]", 1, 26,
     "IsComplete takes 1 parameter"},
    {"too_few_parameters", "Rules = [ ColumnCorrelation \"a\" > 1 ]", 1, 33,
     "ColumnCorrelation takes 2 parameters"},
    {"single_quoted_value", "Rules = [ ColumnValues 'plan' in ['free'] ]", 1, 35, "single quotes"},
    {"now_without_parens", "Rules = [ ColumnValues \"d\" > now() - 3 days ]", 1, 36,
     "expected ',' or ']'"},
    {"now_offset_without_unit", "Rules = [ ColumnValues \"d\" > (now() - 3) ]", 1, 40,
     "expected days, hours or minutes"},
    {"duration_unit_missing", "Rules = [ DataFreshness \"d\" <= 24 ]", 1, 29, "duration condition"},
    {"between_without_and", "Rules = [ ColumnValues \"a\" between 1 5 ]", 1, 38, "expected 'and'"},
    {"between_strings", "Rules = [ ColumnValues \"a\" between \"x\" and \"y\" ]", 1, 28,
     "not of one kind"},
    {"greater_than_string", "Rules = [ ColumnValues \"a\" > \"x\" ]", 1, 28, "not of one kind"},
    {"mixed_list", "Rules = [ ColumnValues \"a\" in [1, \"x\"] ]", 1, 28, "not of one kind"},
    {"threshold_not_taken", "Rules = [ IsUnique \"a\" with threshold > 0.5 ]", 1, 29,
     "does not take 'with threshold'"},
    {"threshold_string", "Rules = [ ColumnValues \"a\" = \"x\" with threshold = \"y\" ]", 1, 49,
     "numeric condition"},
    {"unknown_with", "Rules = [ ColumnValues \"a\" = \"x\" with foo = 1 ]", 1, 39,
     "unknown option 'with foo'"},
    {"where_not_taken", "Rules = [ ColumnExists \"a\" where \"x\" ]", 1, 28,
     "does not take a where clause"},
    {"undefined_constant", "Rules = [ ColumnValues \"a\" in $nope ]", 1, 31,
     "'$nope' is not a constant"},
    {"constant_twice", "a = \"x\"\na = \"y\"\nRules = []", 2, 1, "defined twice"},
    {"text_after_rules", "Rules = [ RowCount > 1 ]\nextra", 2, 1, "unexpected 'extra'"},
    {"semicolon", "Rules = [ RowCount > 1; ]", 1, 23, "unexpected character ';'"},
    {"not_alone", "Rules = [ ColumnValues \"a\" not = 1 ]", 1, 32, "after 'not'"},
    {"bang_alone", "Rules = [ ColumnValues \"a\" ! 1 ]", 1, 30, "expected '=' after '!'"},
    {"deep_nesting", NULL, 1, 0, "nested more than"},
    {"label_repeated", "Rules = [ RowCount > 0 labels={\"a\":\"1\",\"a\":\"2\"} ]", 1, 40,
     "repeated"},
    {"label_single_quotes", "Rules = [ RowCount > 0 labels={'a':\"1\"} ]", 1, 32, "double quotes"},
    {"metadata_twice", "Metadata = {\"a\": \"b\"}\nMetadata = {\"a\": \"b\"}\nRules = []", 2, 1,
     "at most once"},
    {"empty_list_in", "Rules = [ ColumnValues \"a\" in [] ]", 1, 32, "expected a number"},
    {"decimal_without_leading_digit", "Rules = [ RowCount > .5 ]", 1, 22,
     "expected a number, found '.5'"},
    {"analyzer_with_condition", "Analyzers = [ RowCount > 1 ]", 1, 24, "expected ',' or ']'"},
    {"analyzer_only_type_in_rules", "Rules = [ AllStatistics \"a\" ]", 1, 11,
     "not a DQDL rule type"},
    {"invalid_utf8", "Rules = [ IsComplete \"\xff\" ]", 1, 22, "not UTF-8"},
    {"nul_byte", NULL, 1, 22, "not UTF-8"},
};

static void print_rules(const struct mdp_dq_doc *d, struct mdp_buf *out)
{
    for (int i = 0; i < d->nrules; i++) {
        assert_int_equal(mdp_dq_print_rule(d->rules[i], out), 0);
        assert_int_equal(mdp_buf_putc(out, '\n'), 0);
    }
}

static void run_ok(void **state)
{
    const struct ok_case *c = *state;
    struct mdp_dq_doc *d = NULL, *d2 = NULL;
    struct mdp_dq_error err;
    int rc = mdp_dq_parse(c->src, strlen(c->src), &d, &err);
    if (!c->want) { /* documented as rejected: only the parse result matters */
        assert_int_equal(rc, MDP_ERR_PARSE);
        return;
    }
    if (rc) fail_msg("%s: %d:%d: %s", c->name, err.line, err.col, err.msg);
    struct mdp_buf rules, a, b;
    mdp_buf_init(&rules);
    mdp_buf_init(&a);
    mdp_buf_init(&b);
    print_rules(d, &rules);
    assert_string_equal(rules.data ? rules.data : "", c->want);
    /* the canonical document parses back to itself */
    assert_int_equal(mdp_dq_print_doc(d, &a), 0);
    rc = mdp_dq_parse(a.data, a.len, &d2, &err);
    if (rc) fail_msg("reparse of\n%s\nfailed: %d:%d: %s", a.data, err.line, err.col, err.msg);
    assert_int_equal(mdp_dq_print_doc(d2, &b), 0);
    assert_string_equal(a.data, b.data);
    mdp_buf_cleanup(&rules);
    mdp_buf_cleanup(&a);
    mdp_buf_cleanup(&b);
    mdp_dq_doc_free(d);
    mdp_dq_doc_free(d2);
}

static void run_bad(void **state)
{
    const struct bad_case *c = *state;
    char buf[1024];
    const char *src = c->src;
    size_t len = src ? strlen(src) : 0;
    int want_col = c->col;
    if (strcmp(c->name, "deep_nesting") == 0) {
        size_t n = 0;
        n += (size_t)snprintf(buf, sizeof buf, "Rules = [ ");
        for (int i = 0; i < 100; i++)
            buf[n++] = '(';
        n += (size_t)snprintf(buf + n, sizeof buf - n, "RowCount > 1");
        for (int i = 0; i < 100; i++)
            buf[n++] = ')';
        n += (size_t)snprintf(buf + n, sizeof buf - n, " ]");
        src = buf;
        len = n;
        want_col = 11 + 64; /* the 65th parenthesis */
    } else if (strcmp(c->name, "nul_byte") == 0) {
        memcpy(buf, "Rules = [ IsComplete \"a\0b\" ]", 29);
        src = buf;
        len = 29;
    }
    struct mdp_dq_doc *d = NULL;
    struct mdp_dq_error err;
    assert_int_equal(mdp_dq_parse(src, len, &d, &err), MDP_ERR_PARSE);
    assert_null(d);
    if (!strstr(err.msg, c->msg)) fail_msg("%s: message '%s' lacks '%s'", c->name, err.msg, c->msg);
    if (err.line != c->line || err.col != want_col)
        fail_msg("%s: error at %d:%d (%s), expected %d:%d", c->name, err.line, err.col, err.msg,
                 c->line, want_col);
}

/* The tree of a composite rule, not only its printed form. */
static void test_tree_shape(void **st)
{
    (void)st;
    const char *src = "Rules = [ (ColumnValues \"a\" between 1 and 5) and (IsComplete 'b'),\n"
                      "  ColumnValues \"d\" > (now() - 3 days) with threshold > 0.5 ]";
    struct mdp_dq_doc *d = NULL;
    struct mdp_dq_error err;
    assert_int_equal(mdp_dq_parse(src, strlen(src), &d, &err), 0);
    assert_int_equal(d->nrules, 2);
    const struct mdp_dq_rule *r = d->rules[0];
    assert_int_equal(r->kind, MDP_DQ_AND);
    assert_int_equal(r->nkids, 2);
    assert_string_equal(r->kids[0]->type, "ColumnValues");
    assert_int_equal(r->kids[0]->cond.op, MDP_DQ_OP_BETWEEN);
    assert_true(r->kids[0]->cond.vals[1].num->v == 5.0);
    assert_string_equal(r->kids[1]->params[0], "b");
    r = d->rules[1];
    assert_int_equal(r->line, 2);
    assert_int_equal(r->col, 3);
    assert_int_equal(r->cond.vals[0].kind, MDP_DQ_V_NOW);
    assert_int_equal(r->cond.vals[0].sign, '-');
    assert_int_equal(r->cond.vals[0].amount, 3);
    assert_string_equal(r->cond.vals[0].unit, "days");
    assert_int_equal(r->ntags, 1);
    assert_string_equal(r->tags[0].name, "threshold");
    assert_true(r->tags[0].cond.vals[0].num->v == 0.5);
    mdp_dq_doc_free(d);
}

/* A large ruleset (20000 rules, 1.2 MB): each string used to take a copy the size of the rest
 * of the input (tens of GB here), now its own size. */
static void test_large_ruleset(void **st)
{
    (void)st;
    struct mdp_buf src;
    mdp_buf_init(&src);
    assert_int_equal(mdp_buf_puts(&src, "Rules = [\n"), 0);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(mdp_buf_printf(&src, "%sColumnValues \"c%d\" in [\"a\", \"b\", NULL]\n",
                                        i ? "," : "", i),
                         0);
    assert_int_equal(mdp_buf_puts(&src, "]\n"), 0);
    struct mdp_dq_doc *d = NULL;
    struct mdp_dq_error err;
    if (mdp_dq_parse(src.data, src.len, &d, &err))
        fail_msg("%d:%d: %s", err.line, err.col, err.msg);
    assert_int_equal(d->nrules, 20000);
    assert_string_equal(d->rules[19999]->params[0], "c19999");
    mdp_dq_doc_free(d);
    mdp_buf_cleanup(&src);
}

/* Every rule type of the registry has a hand-written case above that prints it. */
static void test_every_rule_type_has_a_case(void **st)
{
    (void)st;
    int n = 0;
    for (int i = 0; MDP_DQ_RULE_TYPES[i]; i++, n++) {
        char head[64];
        snprintf(head, sizeof head, "%s ", MDP_DQ_RULE_TYPES[i]);
        int found = 0;
        for (size_t k = 0; k < sizeof OK / sizeof OK[0] && !found; k++) {
            const char *w = OK[k].want;
            for (const char *l = w; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, head, strlen(head)) == 0 || strstr(l, head) == l + 1) found = 1;
        }
        if (!found) fail_msg("no case prints %s", MDP_DQ_RULE_TYPES[i]);
    }
    assert_int_equal(n, 31);
}

/* ------------------------------------------------------------------ evaluation */

/* users.csv, by hand (seen: far in the future or past, so that ages do not depend on the clock):
 *   row user_id plan age  email     seen
 *   1   1       free 30   a@x.com   2999-01-01 00:00:00
 *   2   2       pro  NULL b@x.com   2000-01-01 00:00:00
 *   3   3       free 45   ""        NULL       (empty email: kept, not NULL)
 *   4   3       team 200  "  "      2999-06-01 12:00:00   (blank: kept) */
static const char USERS_CSV[] = "user_id,plan,age,email,seen\n"
                                "1,free,30,a@x.com,2999-01-01 00:00:00\n"
                                "2,pro,\\N,b@x.com,2000-01-01 00:00:00\n"
                                "3,free,45,,\\N\n"
                                "3,team,200,\"  \",2999-06-01 12:00:00\n";
static const char MANIFEST[] =
    "{\"null_token\": \"\\\\N\", \"tables\": {\"users\": {\"file\": \"users.csv\", \"columns\": "
    "[[\"user_id\",\"int\"],[\"plan\",\"string\"],[\"age\",\"int\"],[\"email\",\"string\"],"
    "[\"seen\",\"timestamp\"]]}, "
    "\"plans\": {\"file\": \"plans.csv\", \"columns\": [[\"name\",\"string\"]]}, "
    "\"ref\": {\"file\": \"ref.csv\", \"columns\": "
    "[[\"id\",\"int\"],[\"plan\",\"string\"],[\"age\",\"int\"]]}, "
    "\"raw\": {\"file\": \"raw.csv\", \"columns\": [[\"v\",\"string\"],[\"n\",\"int\"]]}}}";

/* ref.csv, the reference of DatasetMatch, AggregateMatch and SchemaMatch:
 *   id plan age
 *   1  free 30     (matches users row 1 on plan and age)
 *   2  pro  NULL   (matches row 2: NULLs are equal)
 *   3  free 46     (row 3 has age 45; row 4 plan team) */
static const char REF_CSV[] = "id,plan,age\n1,free,30\n2,pro,\\N\n3,free,46\n";
/* raw.csv, strings for ColumnDataType:
 *   row v            n     INTEGER LONG DOUBLE DATE
 *   1   "12"         1     yes     yes  yes    no
 *   2   "1.5"        2     no      no   yes    no
 *   3   "abc"        NULL  no      no   no     no
 *   4   NULL         4     (NULL complies with every type)
 *   5   "2024-01-31" 5     no      no   no     yes
 *   6   " 7 "        6     yes     yes  yes    no    (blanks around a number are trimmed)
 *   7   "true"       7     no      no   no     no
 *   8   "3000000000" 8     no      yes  yes    no    (beyond INTEGER's range) */
static const char RAW_CSV[] = "v,n\n12,1\n1.5,2\nabc,\\N\n\\N,4\n2024-01-31,5\n\" 7 \",6\ntrue,7\n"
                              "3000000000,8\n";

struct eval_case {
    const char *rule;
    enum mdp_dq_outcome want;
    const char *metric; /* NULL: not checked */
    double value;       /* hand-computed from USERS_CSV */
};

static const struct eval_case EV[] = {
    /* the specification's four rules, both quote styles */
    {"ColumnCount = 5", MDP_DQ_PASS, "Dataset.*.ColumnCount", 5},
    {"IsComplete 'user_id'", MDP_DQ_PASS, "Column.user_id.Completeness", 1.0},
    {"IsUnique \"user_id\"", MDP_DQ_FAIL, "Column.user_id.Uniqueness", 0.5}, /* 1,2 once of 4 */
    {"ColumnValues 'plan' in [\"free\", \"pro\"]", MDP_DQ_FAIL,
     "Column.plan.ColumnValues.Compliance", 0.75},
    {"ColumnCount = 4", MDP_DQ_FAIL, "Dataset.*.ColumnCount", 5},
    {"IsComplete \"age\"", MDP_DQ_FAIL, "Column.age.Completeness", 0.75},
    {"RowCount = 4", MDP_DQ_PASS, "Dataset.*.RowCount", 4},
    {"RowCount between 4 and 10", MDP_DQ_FAIL, "Dataset.*.RowCount", 4}, /* exclusive */
    {"RowCount = 2 where \"plan = 'free'\"", MDP_DQ_PASS, "Dataset.*.RowCount", 2},
    {"Completeness \"age\" > 0.7", MDP_DQ_PASS, "Column.age.Completeness", 0.75},
    {"Completeness \"email\" = 1.0", MDP_DQ_PASS, "Column.email.Completeness", 1.0},
    {"Completeness 'age' = 1.0 where \"plan = 'free'\"", MDP_DQ_PASS, "Column.age.Completeness",
     1.0},
    {"Uniqueness \"plan\" = 0.5", MDP_DQ_PASS, "Column.plan.Uniqueness", 0.5}, /* pro, team */
    {"UniqueValueRatio \"plan\" > 0.6", MDP_DQ_PASS, "Column.plan.UniqueValueRatio", 2.0 / 3},
    {"DistinctValuesCount \"plan\" = 3", MDP_DQ_PASS, "Column.plan.DistinctValuesCount", 3},
    /* -(1/2 ln 1/2 + 2 * 1/4 ln 1/4) = 1.5 ln 2 */
    {"Entropy \"plan\" > 1.04", MDP_DQ_FAIL, "Column.plan.Entropy", 1.0397207708399179},
    {"IsUnique \"user_id\" where \"plan <> 'team'\"", MDP_DQ_PASS, "Column.user_id.Uniqueness",
     1.0},
    {"IsPrimaryKey \"user_id\"", MDP_DQ_FAIL, "Column.user_id.Uniqueness", 0.5},
    {"IsPrimaryKey \"user_id\" \"plan\"", MDP_DQ_PASS, "Multicolumn.user_id,plan.Uniqueness", 1.0},
    {"ColumnExists \"email\"", MDP_DQ_PASS, NULL, 0},
    {"ColumnExists \"phone\"", MDP_DQ_FAIL, NULL, 0},
    {"IsComplete \"phone\"", MDP_DQ_ERROR, NULL, 0},           /* unknown column: ERROR, not FAIL */
    {"ColumnValues 'Plan' = \"free\"", MDP_DQ_ERROR, NULL, 0}, /* names are case sensitive */
    {"Mean \"age\" between 91.6 and 91.7", MDP_DQ_PASS, "Column.age.Mean", 275.0 / 3},
    {"Sum \"age\" = 275", MDP_DQ_PASS, "Column.age.Sum", 275},
    /* population: sqrt(((30-m)^2 + (45-m)^2 + (200-m)^2) / 3), m = 275/3 */
    {"StandardDeviation \"age\" < 76", MDP_DQ_FAIL, "Column.age.StandardDeviation", 76.847613247},
    {"ColumnLength \"email\" between 0 and 8", MDP_DQ_FAIL, "Column.email.ColumnLength.Compliance",
     0.75}, /* lengths 7 7 0 2: 0 is not > 0 */
    {"ColumnLength \"email\" <= 7", MDP_DQ_PASS, "Column.email.MaximumLength", 7},
    {"ColumnValues \"age\" between 18 and 100 with threshold >= 0.5", MDP_DQ_PASS,
     "Column.age.ColumnValues.Compliance", 0.5},
    {"ColumnValues \"age\" > 100 with threshold > 0.2", MDP_DQ_PASS,
     "Column.age.ColumnValues.Compliance", 0.25},
    {"ColumnValues \"age\" = NULL", MDP_DQ_FAIL, "Column.age.ColumnValues.Compliance", 0.25},
    {"ColumnValues \"age\" != NULL with threshold = 0.75", MDP_DQ_PASS,
     "Column.age.ColumnValues.Compliance", 0.75},
    {"ColumnValues \"age\" not between 40 and 300", MDP_DQ_FAIL,
     "Column.age.ColumnValues.Compliance", 0.25},
    {"ColumnValues \"plan\" not in [\"team\"]", MDP_DQ_FAIL, "Column.plan.ColumnValues.Compliance",
     0.75},
    {"ColumnValues \"plan\" in $allowed", MDP_DQ_PASS, "Column.plan.ColumnValues.Compliance", 1.0},
    {"ColumnValues \"plan\" = \"free\" where \"user_id = 3\"", MDP_DQ_FAIL,
     "Column.plan.ColumnValues.Compliance", 0.5},
    {"ColumnValues \"email\" matches \"[a-z]+@x\\.com\"", MDP_DQ_FAIL,
     "Column.email.ColumnValues.Compliance", 0.5},
    {"ColumnValues \"email\" = WHITESPACES_ONLY", MDP_DQ_FAIL,
     "Column.email.ColumnValues.Compliance", 0.25},
    {"ColumnValues \"email\" in [EMPTY, WHITESPACES_ONLY, NULL]", MDP_DQ_FAIL,
     "Column.email.ColumnValues.Compliance", 0.5},
    {"ColumnValues \"email\" != EMPTY", MDP_DQ_FAIL, "Column.email.ColumnValues.Compliance", 0.75},
    {"CustomSql \"select count(*) from primary where plan = 'free'\" = 2", MDP_DQ_PASS,
     "Dataset.*.CustomSQL", 2},
    {"CustomSql \"select user_id from primary where age > 40\" with threshold = 0.5", MDP_DQ_PASS,
     "Dataset.*.CustomSQL.Compliance", 0.5},
    {"CustomSql \"select count(*) from nosuch\" > 1", MDP_DQ_ERROR, NULL, 0},
    {"RowCount > 1 where \"nosuch > 1\"", MDP_DQ_ERROR, NULL, 0},
    {"(IsComplete \"age\") or (RowCount = 4)", MDP_DQ_PASS, "Dataset.*.RowCount", 4},
    {"(IsComplete \"age\") and (RowCount = 4)", MDP_DQ_FAIL, "Column.age.Completeness", 0.75},
    {"(IsComplete \"phone\") or (RowCount = 4)", MDP_DQ_ERROR, NULL, 0},
    {"RowCount > avg(last(3))", MDP_DQ_ERROR, NULL, 0},          /* no history */
    {"DataFreshness \"age\" <= 3 hours", MDP_DQ_ERROR, NULL, 0}, /* an int is no time */
    /* DatasetMatch against ref (see REF_CSV): keys user_id -> id */
    {"DatasetMatch \"ref\" \"user_id->id\" \"plan,age\" = 0.5", MDP_DQ_PASS,
     "Dataset.ref.DatasetMatch", 0.5}, /* rows 1, 2 */
    {"DatasetMatch \"ref\" \"user_id->id\" \"plan\" >= 0.75", MDP_DQ_PASS,
     "Dataset.ref.DatasetMatch", 0.75}, /* rows 1, 2, 3 */
    {"DatasetMatch \"ref\" \"user_id->id\" > 0.5", MDP_DQ_FAIL, "Dataset.ref.DatasetMatch",
     0.5}, /* value columns: those ref has too (plan, age) */
    {"DatasetMatch \"ref\" \"user_id->id\" \"age->nosuch\" > 0.5", MDP_DQ_ERROR, NULL, 0},
    {"DatasetMatch \"nosuch\" \"user_id\" > 0.5", MDP_DQ_ERROR, NULL, 0},
    /* AggregateMatch: first / second */
    {"AggregateMatch \"sum(age)\" \"sum(age)\" = 1.0", MDP_DQ_PASS, "Column.age.AggregateMatch",
     1.0},
    {"AggregateMatch \"count(user_id)\" \"count(ref.id)\" > 1.3", MDP_DQ_PASS,
     "Column.user_id,id.AggregateMatch", 4.0 / 3},
    {"AggregateMatch \"SUM(age)\" \"sum(ref.age)\" between 0.9 and 1.1", MDP_DQ_FAIL,
     "Column.age.AggregateMatch", 275.0 / 76},
    {"AggregateMatch \"max(age)\" \"max(ref.age)\" > 4", MDP_DQ_PASS, "Column.age.AggregateMatch",
     200.0 / 46},
    {"AggregateMatch \"median(age)\" \"sum(ref.age)\" > 0", MDP_DQ_ERROR, NULL, 0},
    {"AggregateMatch \"count(*)\" \"count(ref.*)\" = 1", MDP_DQ_FAIL, "Column.*.AggregateMatch",
     4.0 / 3},
    /* SchemaMatch: same name and type / columns of either */
    {"SchemaMatch \"users\" = 1.0", MDP_DQ_PASS, "Dataset.users.SchemaMatch", 1.0},
    {"SchemaMatch \"ref\" > 0.3", MDP_DQ_PASS, "Dataset.ref.SchemaMatch",
     2.0 / 6}, /* plan, age of user_id plan age email seen + id */
    {"SchemaMatch \"plans\" = 0", MDP_DQ_PASS, "Dataset.plans.SchemaMatch", 0},
    {"SchemaMatch \"nosuch\" = 1.0", MDP_DQ_ERROR, NULL, 0},
    /* dynamic rules and DetectAnomalies without history */
    {"RowCount > min(last(3)) * 2", MDP_DQ_ERROR, NULL, 0},
    {"DetectAnomalies \"RowCount\"", MDP_DQ_ERROR, NULL, 0},
    {"RowCount > abs(-3)", MDP_DQ_PASS, "Dataset.*.RowCount", 4}, /* abs needs no history */
    /* file rules on the table's own file (users.csv, 153 bytes) */
    {"FileSize = 153 B", MDP_DQ_PASS, "File.users.csv.FileSize.Compliance", 1.0},
    {"FileSize > 1 KB", MDP_DQ_FAIL, "File.users.csv.FileSize.Compliance", 0},
    /* a list of numbers, for a metric and for a file alike */
    {"RowCount in [3, 4]", MDP_DQ_PASS, "Dataset.*.RowCount", 4},
    {"RowCount not in [3, 4]", MDP_DQ_FAIL, "Dataset.*.RowCount", 4},
    {"FileSize in [1 KB, 153 B]", MDP_DQ_PASS, "File.users.csv.FileSize.Compliance", 1.0},
    {"FileSize not in [1 KB, 153 B]", MDP_DQ_FAIL, "File.users.csv.FileSize.Compliance", 0},
};

/* Primary raw (RAW_CSV): ColumnDataType. */
static const struct eval_case EV_RAW[] = {
    {"ColumnDataType \"v\" = \"INTEGER\"", MDP_DQ_FAIL, "Column.v.ColumnDataType.Compliance",
     3.0 / 8},
    {"ColumnDataType 'v' = \"LONG\" with threshold >= 0.5", MDP_DQ_PASS,
     "Column.v.ColumnDataType.Compliance", 0.5},
    {"ColumnDataType \"v\" = \"DOUBLE\" with threshold > 0.6", MDP_DQ_PASS,
     "Column.v.ColumnDataType.Compliance", 5.0 / 8},
    {"ColumnDataType \"v\" = \"DATE\" with threshold > 0.25", MDP_DQ_FAIL,
     "Column.v.ColumnDataType.Compliance", 2.0 / 8},
    {"ColumnDataType \"v\" in [\"INTEGER\", \"DATE\"] with threshold = 0.5", MDP_DQ_PASS,
     "Column.v.ColumnDataType.Compliance", 4.0 / 8},
    {"ColumnDataType \"v\" = \"STRING\"", MDP_DQ_PASS, "Column.v.ColumnDataType.Compliance", 1.0},
    {"ColumnDataType \"v\" = \"INTEGER\" where \"n > 4\" with threshold < 0.3", MDP_DQ_PASS,
     "Column.v.ColumnDataType.Compliance", 0.25}, /* rows 5-8: only " 7 " */
    {"ColumnDataType \"n\" = \"LONG\"", MDP_DQ_PASS, "Column.n.ColumnDataType.Compliance", 1.0},
    {"ColumnDataType \"n\" = \"DOUBLE\"", MDP_DQ_FAIL, "Column.n.ColumnDataType.Compliance",
     1.0 / 8}, /* a BIGINT column is not DOUBLE: only its NULL complies */
    {"ColumnDataType \"v\" = \"UUID\"", MDP_DQ_ERROR, NULL, 0},
    {"ColumnDataType \"nosuch\" = \"DATE\"", MDP_DQ_ERROR, NULL, 0},
    {"ColumnCount = 2", MDP_DQ_PASS, "Dataset.*.ColumnCount", 2},
};

/* Primary users, with files (see file_fixture): a.txt "hello" (mtime 2000-01-01), b.txt "hello"
 * and c.txt "world!" (mtime 2999-01-01), relative to the manifest's folder. */
static const struct eval_case EV_FILES[] = {
    {"FileFreshness \"files\" > (now() - 24 hours)", MDP_DQ_FAIL,
     "File.files.FileFreshness.Compliance", 2.0 / 3},
    {"FileFreshness \"files/b.txt\" > (now() - 24 hours)", MDP_DQ_PASS,
     "File.files/b.txt.FileFreshness.Compliance", 1.0},
    {"FileFreshness \"files/a.txt\" <= 24 hours", MDP_DQ_FAIL,
     "File.files/a.txt.FileFreshness.Compliance", 0},
    {"FileFreshness \"files/a.txt\" < \"2001-01-01\"", MDP_DQ_PASS,
     "File.files/a.txt.FileFreshness.Compliance", 1.0},
    {"FileFreshness \"files\" between \"1999-12-31\" and \"2000-01-02\"", MDP_DQ_FAIL,
     "File.files.FileFreshness.Compliance", 1.0 / 3},
    {"FileSize \"files/a.txt\" = 5 B", MDP_DQ_PASS, "File.files/a.txt.FileSize.Compliance", 1.0},
    {"FileSize \"files\" < 1 KB", MDP_DQ_PASS, "File.files.FileCount", 3},
    {"FileSize \"files\" > 5 B", MDP_DQ_FAIL, "File.files.FileSize.Compliance", 1.0 / 3},
    {"FileUniqueness \"files\" > 0.3", MDP_DQ_PASS, "File.files.FileUniqueness", 1.0 / 3},
    {"FileUniqueness \"files\" = 1.0", MDP_DQ_FAIL, "File.files.FileUniqueness", 1.0 / 3},
    {"FileMatch \"files/a.txt\" \"files/b.txt\"", MDP_DQ_PASS, "File.files/a.txt.FileMatch", 1.0},
    {"FileMatch \"files/a.txt\" \"files/c.txt\"", MDP_DQ_FAIL, "File.files/a.txt.FileMatch", 0},
    {"FileMatch \"files\" \"files/b.txt\"", MDP_DQ_FAIL, "File.files.FileMatch", 2.0 / 3},
    {"FileMatch \"files/a.txt\" in [\"5d41402abc4b2a76b9719d911017c592\"]", MDP_DQ_PASS,
     "File.files/a.txt.FileMatch", 1.0},
    {"FileMatch \"files/c.txt\" in [\"5d41402abc4b2a76b9719d911017c592\"]", MDP_DQ_FAIL,
     "File.files/c.txt.FileMatch", 0},
    {"FileMatch \"files/a.txt\" in "
     "[\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\"] with hashAlgorithm = "
     "\"SHA-256\"",
     MDP_DQ_PASS, "File.files/a.txt.FileMatch", 1.0},
    {"FileMatch \"files/a.txt\" in [\"x\"] with hashAlgorithm = \"CRC32\"", MDP_DQ_ERROR, NULL, 0},
    {"FileMatch \"nosuch.txt\" \"files/a.txt\"", MDP_DQ_ERROR, NULL, 0},
    {"FileSize \"nosuch\" > 1 B", MDP_DQ_ERROR, NULL, 0},
};

/* Primary users, with this history of earlier runs (newest first):
 *   Dataset.*.RowCount          4 4 5 3   (mean 4, population sd sqrt(1/2))
 *   Column.age.Completeness     1 1 1     (sd 0)
 *   Column.age.Mean             90 95     (two runs only) */
static int history(void *ud, const char *metric, double *out, int max)
{
    (void)ud;
    static const double rc[] = {4, 4, 5, 3}, comp[] = {1, 1, 1}, mean[] = {90, 95};
    const double *v = NULL;
    int n = 0;
    if (strcmp(metric, "Dataset.*.RowCount") == 0) v = rc, n = 4;
    if (strcmp(metric, "Column.age.Completeness") == 0) v = comp, n = 3;
    if (strcmp(metric, "Column.age.Mean") == 0) v = mean, n = 2;
    if (n > max) n = max;
    for (int i = 0; i < n; i++)
        out[i] = v[i];
    return n;
}

static const struct eval_case EV_HIST[] = {
    {"RowCount > avg(last(3))", MDP_DQ_FAIL, "Dataset.*.RowCount", 4}, /* 4 > 13/3 */
    {"RowCount >= min(last(4))", MDP_DQ_PASS, "Dataset.*.RowCount", 4},
    {"RowCount <= max(last(2)) * 0.5", MDP_DQ_FAIL, "Dataset.*.RowCount", 4},
    {"RowCount = index(last(3), 2)", MDP_DQ_FAIL, "Dataset.*.RowCount", 4},
    {"RowCount = index(last(3), 0)", MDP_DQ_PASS, "Dataset.*.RowCount", 4},
    {"RowCount between std(last(4)) and sum(last(2))", MDP_DQ_PASS, "Dataset.*.RowCount", 4},
    {"RowCount > avg(last(100)) - 1", MDP_DQ_PASS, "Dataset.*.RowCount", 4}, /* 4 > 3 */
    {"Completeness \"age\" >= avg(last(5))", MDP_DQ_FAIL, "Column.age.Completeness", 0.75},
    {"Completeness \"email\" > avg(last(3))", MDP_DQ_ERROR, NULL, 0}, /* no history of it */
    {"RowCount > median(last(3))", MDP_DQ_ERROR, NULL, 0},
    {"RowCount > avg(3)", MDP_DQ_ERROR, NULL, 0},
    {"DetectAnomalies \"RowCount\"", MDP_DQ_PASS, "Dataset.*.RowCount.UpperBound",
     4 + 3 * 0.70710678118654752},
    {"DetectAnomalies \"Completeness\" 'age'", MDP_DQ_FAIL, "Column.age.Completeness.LowerBound",
     1.0},                                                       /* 0.75 outside [1, 1] */
    {"DetectAnomalies \"Mean\" \"age\"", MDP_DQ_ERROR, NULL, 0}, /* 2 earlier runs < 3 */
    {"DetectAnomalies \"IsComplete\" \"age\"", MDP_DQ_ERROR, NULL, 0},
    {"DetectAnomalies \"Completeness\"", MDP_DQ_ERROR, NULL, 0}, /* needs a column */
};

/* The fixture: the manifest and its tables in dir, and three files for the file rules (a.txt is
 * dated 2000-01-01, b.txt and c.txt 2999-01-01, so that ages do not depend on the clock). */
static void fixture(const char *dir, char *manifest, size_t msz)
{
    char path[512];
    snprintf(path, sizeof path, "%s/users.csv", dir);
    assert_int_equal(tu_write(path, USERS_CSV, strlen(USERS_CSV)), 0);
    snprintf(path, sizeof path, "%s/plans.csv", dir);
    assert_int_equal(tu_write(path, "name\nfree\n", 10), 0);
    snprintf(path, sizeof path, "%s/ref.csv", dir);
    assert_int_equal(tu_write(path, REF_CSV, strlen(REF_CSV)), 0);
    snprintf(path, sizeof path, "%s/raw.csv", dir);
    assert_int_equal(tu_write(path, RAW_CSV, strlen(RAW_CSV)), 0);
    snprintf(path, sizeof path, "%s/files", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    static const char *const F[][2] = {{"a.txt", "hello"}, {"b.txt", "hello"}, {"c.txt", "world!"}};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/files/%s", dir, F[i][0]);
        assert_int_equal(tu_write(path, F[i][1], strlen(F[i][1])), 0);
        struct timeval tv[2] = {{i ? 32472144000 : 946684800, 0}, {i ? 32472144000 : 946684800, 0}};
        assert_int_equal(utimes(path, tv), 0);
    }
    snprintf(manifest, msz, "%s/m.json", dir);
    assert_int_equal(tu_write(manifest, MANIFEST, strlen(MANIFEST)), 0);
}

static int eval_count; /* hand-computed cases evaluated, for the report */

/* Evaluates the cases as one ruleset over primary (with the history callback if hist) and checks
 * each outcome and metric; failed (may be NULL) gets the failing rows. Returns the report. */
static struct mdp_dq_report *run_cases(const struct eval_case *const *cases, int n,
                                       const char *primary, int hist, const char *failed)
{
    char *dir = tu_tmpdir();
    char path[512];
    fixture(dir, path, sizeof path);
    struct mdp_buf src;
    mdp_buf_init(&src);
    assert_int_equal(mdp_buf_puts(&src, "allowed = [\"free\", \"pro\", \"team\"]\nRules = [\n"), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(mdp_buf_printf(&src, "%s%s\n", cases[i]->rule, i + 1 < n ? "," : ""), 0);
    assert_int_equal(mdp_buf_puts(&src, "]\n"), 0);
    struct mdp_dq_doc *doc = NULL;
    struct mdp_dq_error err;
    if (mdp_dq_parse(src.data, src.len, &doc, &err))
        fail_msg("%d:%d: %s", err.line, err.col, err.msg);
    struct mdp_diag d = {0};
    struct mdp_dq_manifest *m = NULL;
    struct mdp_dq_report *rep = NULL;
    if (mdp_dq_manifest_load(path, &m, &d)) fail_msg("%s", d.msg);
    struct mdp_dq_eval_opts o = {.primary = primary, .failed_rows = failed};
    if (hist) o.history = history;
    if (mdp_dq_eval(doc, m, &o, &rep, &d)) fail_msg("%s", d.msg);
    assert_int_equal(rep->n, n);
    int passed = 0;
    for (int i = 0; i < n; i++) {
        const struct mdp_dq_result *r = &rep->results[i];
        eval_count++;
        if (r->outcome != cases[i]->want)
            fail_msg("%s: outcome %d, expected %d (%s)", cases[i]->rule, r->outcome, cases[i]->want,
                     r->message);
        if (cases[i]->want == MDP_DQ_PASS) passed++;
        if (!cases[i]->metric) continue;
        int found = 0;
        for (int k = 0; k < r->nmetrics; k++) {
            if (strcmp(r->metrics[k].name, cases[i]->metric) != 0) continue;
            found = 1;
            if (fabs(r->metrics[k].value - cases[i]->value) > 1e-6)
                fail_msg("%s: %s = %.10g, expected %.10g", cases[i]->rule, cases[i]->metric,
                         r->metrics[k].value, cases[i]->value);
        }
        if (!found) fail_msg("%s: no metric %s", cases[i]->rule, cases[i]->metric);
    }
    assert_int_equal(rep->passed, passed);
    assert_true(fabs(rep->score - (double)passed / n) < 1e-12);
    mdp_dq_manifest_free(m);
    mdp_dq_doc_free(doc);
    mdp_buf_cleanup(&src);
    tu_rmdir(dir);
    return rep;
}

/* Runs the cases (without the ones whose SQL DuckDB rejects when shared_scan is set: then the
 * aggregates of all rules come from one scan; with them that scan fails and every rule runs its
 * own query) and checks outcomes, metrics and the failing rows. */
static void eval_cases(int shared_scan)
{
    char *dir = tu_tmpdir();
    char failed[512];
    snprintf(failed, sizeof failed, "%s/failed.tsv", dir);
    const struct eval_case *cases[sizeof EV / sizeof EV[0]];
    int n = 0;
    for (size_t i = 0; i < sizeof EV / sizeof EV[0]; i++)
        if (!shared_scan || !strstr(EV[i].rule, "nosuch")) cases[n++] = &EV[i];
    mdp_dq_report_free(run_cases(cases, n, "users", 0, failed));
    /* failing rows of IsUnique "user_id" (rule 3): rows 3 and 4, both user_id 3 */
    size_t len = 0;
    char *keys = tu_read(failed, &len);
    assert_non_null(keys);
    assert_non_null(strstr(keys, "3\t3\t3\n3\t4\t3\n"));
    /* ColumnValues 'plan' in [...] (rule 4): row 4 only */
    assert_non_null(strstr(keys, "\n4\t4\t3\n"));
    assert_null(strstr(keys, "\n4\t1\t"));
    free(keys);
    tu_rmdir(dir);
}

static void run_list(const struct eval_case *list, size_t n, const char *primary, int hist)
{
    const struct eval_case *cases[64];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++)
        cases[i] = &list[i];
    mdp_dq_report_free(run_cases(cases, (int)n, primary, hist, NULL));
}

static void test_eval_column_data_type(void **st)
{
    (void)st;
    run_list(EV_RAW, sizeof EV_RAW / sizeof EV_RAW[0], "raw", 0);
}

static void test_eval_files(void **st)
{
    (void)st;
    run_list(EV_FILES, sizeof EV_FILES / sizeof EV_FILES[0], "users", 0);
}

static void test_eval_history(void **st)
{
    (void)st;
    run_list(EV_HIST, sizeof EV_HIST / sizeof EV_HIST[0], "users", 1);
}

/* The Analyzers section: metrics, no outcome, not in the score. */
static void test_eval_analyzers(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    char path[512];
    fixture(dir, path, sizeof path);
    const char *src = "Rules = [ RowCount = 4 ]\n"
                      "Analyzers = [ RowCount, AllStatistics \"age\", ColumnValues \"age\", "
                      "ColumnLength 'email', Completeness \"nosuch\" ]";
    struct mdp_dq_doc *doc = NULL;
    assert_int_equal(mdp_dq_parse(src, strlen(src), &doc, NULL), 0);
    struct mdp_diag d = {0};
    struct mdp_dq_manifest *m = NULL;
    struct mdp_dq_report *rep = NULL;
    if (mdp_dq_manifest_load(path, &m, &d)) fail_msg("%s", d.msg);
    struct mdp_dq_eval_opts o = {.primary = "users"};
    if (mdp_dq_eval(doc, m, &o, &rep, &d)) fail_msg("%s", d.msg);
    assert_int_equal(rep->n, 1);
    assert_int_equal(rep->passed, 1);
    assert_int_equal(rep->nanalyzers, 5);
    static const struct {
        int an;
        const char *name;
        double v;
    } W[] = {{0, "Dataset.*.RowCount", 4},
             {1, "Dataset.*.RowCount", 4},
             {1, "Column.age.Completeness", 0.75},
             {1, "Column.age.Uniqueness", 0.75}, /* 30, 45, 200 once each of 4 rows */
             {1, "Column.age.DistinctValuesCount", 3},
             {1, "Column.age.Mean", 275.0 / 3},
             {1, "Column.age.Sum", 275},
             {1, "Column.age.Minimum", 30},
             {1, "Column.age.Maximum", 200},
             {2, "Column.age.Minimum", 30},
             {2, "Column.age.Maximum", 200},
             {3, "Column.email.MinimumLength", 0},
             {3, "Column.email.MaximumLength", 7}};
    for (size_t i = 0; i < sizeof W / sizeof W[0]; i++) {
        const struct mdp_dq_result *r = &rep->analyzers[W[i].an];
        int found = 0;
        eval_count++;
        for (int k = 0; k < r->nmetrics; k++)
            if (strcmp(r->metrics[k].name, W[i].name) == 0) {
                found = 1;
                if (fabs(r->metrics[k].value - W[i].v) > 1e-9)
                    fail_msg("analyzer %d: %s = %g, expected %g", W[i].an, W[i].name,
                             r->metrics[k].value, W[i].v);
            }
        if (!found) fail_msg("analyzer %d: no %s", W[i].an, W[i].name);
        assert_int_equal(r->outcome, MDP_DQ_PASS);
    }
    assert_int_equal(rep->analyzers[4].outcome, MDP_DQ_ERROR);
    mdp_dq_report_free(rep);
    mdp_dq_manifest_free(m);
    mdp_dq_doc_free(doc);
    tu_rmdir(dir);
}

/* Out of memory (a build with -DMDP_FAULT_INJECTION=ON; skipped otherwise): the rules of issue 13
 * (file rules, DatasetMatch, AggregateMatch, SchemaMatch, ColumnDataType, dynamic rules,
 * DetectAnomalies, analyzers) evaluated with each allocation through mdp/alloc.h failing in turn
 * end in MDP_ERR_NOMEM with no report, or in the clean run's outcomes: never a crash, and under
 * ASan never a leak. The tables are loaded once into an engine the evaluation borrows. */
static void test_eval_oom(void **st)
{
    (void)st;
    if (mdp_alloc_fail_at(0) == MDP_ERR_UNSUPPORTED) skip();
    char *dir = tu_tmpdir();
    char path[512];
    fixture(dir, path, sizeof path);
    const char *src =
        "Rules = [ FileSize \"files\" < 1 KB, FileMatch \"files/a.txt\" \"files/b.txt\",\n"
        "  FileUniqueness \"files\" > 0.3,\n"
        "  DatasetMatch \"ref\" \"user_id->id\" \"plan\" >= 0.75,\n"
        "  AggregateMatch \"sum(age)\" \"sum(ref.age)\" > 1, SchemaMatch \"ref\" > 0.3,\n"
        "  ColumnDataType \"plan\" = \"STRING\", RowCount > avg(last(3)),\n"
        "  (DetectAnomalies \"RowCount\") and (IsComplete \"age\") ]\n"
        "Analyzers = [ AllStatistics \"age\" ]";
    struct mdp_dq_doc *doc = NULL;
    assert_int_equal(mdp_dq_parse(src, strlen(src), &doc, NULL), 0);
    struct mdp_diag d = {0};
    struct mdp_dq_manifest *m = NULL;
    if (mdp_dq_manifest_load(path, &m, &d)) fail_msg("%s", d.msg);
    /* load the tables through a clean evaluation of nothing, into an engine kept open */
    struct mdp_engine *e = NULL;
    assert_int_equal(mdp_engine_open(NULL, &e, &d), 0);
    for (int i = 0; i < m->ntables; i++) {
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "CREATE TABLE \"%s\" AS SELECT * FROM read_csv('%s', header = true, nullstr = "
                 "'\\N', all_varchar = %s)",
                 m->tables[i].name, m->tables[i].file,
                 strcmp(m->tables[i].name, "raw") == 0 ? "true" : "false");
        if (mdp_engine_exec(e, sql, &d)) fail_msg("%s", d.msg);
    }
    struct mdp_dq_eval_opts o = {.primary = "users", .history = history, .engine = e};
    mdp_alloc_fail_at(0);
    struct mdp_dq_report *want = NULL;
    if (mdp_dq_eval(doc, m, &o, &want, &d)) fail_msg("%s", d.msg);
    long total = mdp_alloc_calls();
    assert_true(total > 0);
    for (long n = 1; n <= total; n++) {
        struct mdp_dq_report *got = NULL;
        mdp_alloc_fail_at(n);
        int rc = mdp_dq_eval(doc, m, &o, &got, &d);
        long reached = mdp_alloc_calls();
        mdp_alloc_fail_at(0);
        if (rc == MDP_ERR_NOMEM) {
            assert_null(got);
            continue;
        }
        if (rc) fail_msg("allocation %ld of %ld failed: %d (%s)", n, total, rc, d.msg);
        if (reached >= n) fail_msg("allocation %ld of %ld failed and the call succeeded", n, total);
        assert_int_equal(got->n, want->n);
        for (int i = 0; i < want->n; i++)
            assert_int_equal(got->results[i].outcome, want->results[i].outcome);
        mdp_dq_report_free(got);
    }
    printf("dq eval: %ld allocations, each failed in turn\n", total);
    mdp_dq_report_free(want);
    mdp_engine_close(e);
    mdp_dq_manifest_free(m);
    mdp_dq_doc_free(doc);
    tu_rmdir(dir);
}

/* At least 80 hand-computed evaluation cases ran (issue 13). Runs last. */
static void test_eval_case_count(void **st)
{
    (void)st;
    int distinct =
        (int)(sizeof EV / sizeof EV[0] + sizeof EV_RAW / sizeof EV_RAW[0] +
              sizeof EV_FILES / sizeof EV_FILES[0] + sizeof EV_HIST / sizeof EV_HIST[0]) +
        13 /* analyzer metrics */;
    printf("hand-computed evaluation cases: %d distinct, %d checked\n", distinct, eval_count);
    assert_true(distinct >= 80);
    assert_true(eval_count >= distinct);
}

static void test_eval_hand_computed(void **st)
{
    (void)st;
    eval_cases(0);
}

static void test_eval_hand_computed_one_scan(void **st)
{
    (void)st;
    eval_cases(1);
}

/* A Parquet table: written by DuckDB here, typed by the manifest. Values 1, NULL, 3, 3. */
static void test_eval_parquet(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    char path[512], sql[1024];
    snprintf(path, sizeof path, "%s/t.parquet", dir);
    struct mdp_engine *e = NULL;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_engine_open(NULL, &e, &d), 0);
    snprintf(sql, sizeof sql,
             "COPY (SELECT * FROM (VALUES (1), (NULL), (3), (3)) v(a)) TO '%s' (FORMAT parquet)",
             path);
    if (mdp_engine_exec(e, sql, &d)) fail_msg("%s", d.msg);
    mdp_engine_close(e);
    snprintf(path, sizeof path, "%s/m.json", dir);
    const char *man = "{\"tables\": {\"t\": {\"file\": \"t.parquet\", \"columns\": "
                      "[[\"a\", \"int\"]]}}}";
    assert_int_equal(tu_write(path, man, strlen(man)), 0);
    struct mdp_dq_manifest *m = NULL;
    if (mdp_dq_manifest_load(path, &m, &d)) fail_msg("%s", d.msg);
    const char *rules = "Rules = [ Completeness 'a' = 0.75, Sum \"a\" = 7, IsUnique \"a\" ]";
    struct mdp_dq_doc *doc = NULL;
    assert_int_equal(mdp_dq_parse(rules, strlen(rules), &doc, NULL), 0);
    struct mdp_dq_report *rep = NULL;
    if (mdp_dq_eval(doc, m, NULL, &rep, &d)) fail_msg("%s", d.msg);
    assert_int_equal(rep->n, 3);
    assert_int_equal(rep->results[0].outcome, MDP_DQ_PASS);
    assert_string_equal(rep->results[0].metrics[0].name, "Column.a.Completeness");
    assert_true(rep->results[0].metrics[0].value == 0.75);
    assert_int_equal(rep->results[1].outcome, MDP_DQ_PASS);
    /* only 1 occurs once; the NULL row counts in the denominator: 1/4 */
    assert_int_equal(rep->results[2].outcome, MDP_DQ_FAIL);
    assert_true(rep->results[2].metrics[0].value == 0.25);
    assert_int_equal(rep->passed, 2);
    mdp_dq_report_free(rep);
    mdp_dq_doc_free(doc);
    mdp_dq_manifest_free(m);
    tu_rmdir(dir);
}

static void test_manifest_errors(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/m.json", dir);
    struct mdp_diag d = {0};
    struct mdp_dq_manifest *m = NULL;
    const char *bad =
        "{\"tables\": {\"t\": {\"file\": \"t.csv\", \"columns\": [[\"a\", \"text\"]]}}}";
    assert_int_equal(tu_write(path, bad, strlen(bad)), 0);
    assert_int_equal(mdp_dq_manifest_load(path, &m, &d), MDP_ERR_INVALID);
    assert_null(m);
    assert_non_null(strstr(d.msg, "tables.t.columns[0]"));
    bad = "{\"tables\": {\"t\": {\"file\": \"t.txt\", \"columns\": [[\"a\", \"int\"]]}}}";
    assert_int_equal(tu_write(path, bad, strlen(bad)), 0);
    assert_int_equal(mdp_dq_manifest_load(path, &m, &d), MDP_ERR_INVALID);
    assert_non_null(strstr(d.msg, "tables.t.file"));
    /* a typed column whose value does not parse: the table's load error names it */
    const char *good =
        "{\"tables\": {\"t\": {\"file\": \"t.csv\", \"columns\": [[\"a\", \"int\"]]}}}";
    assert_int_equal(tu_write(path, good, strlen(good)), 0);
    snprintf(path, sizeof path, "%s/t.csv", dir);
    assert_int_equal(tu_write(path, "a\n1\nx\n", 6), 0);
    snprintf(path, sizeof path, "%s/m.json", dir);
    assert_int_equal(mdp_dq_manifest_load(path, &m, &d), 0);
    struct mdp_dq_doc *doc = NULL;
    assert_int_equal(mdp_dq_parse("Rules = [ RowCount > 0 ]", 24, &doc, NULL), 0);
    struct mdp_dq_report *rep = NULL;
    assert_int_equal(mdp_dq_eval(doc, m, NULL, &rep, &d), MDP_ERR_ENGINE);
    assert_null(rep);
    assert_non_null(strstr(d.msg, "table t"));
    mdp_dq_doc_free(doc);
    mdp_dq_manifest_free(m);
    tu_rmdir(dir);
}

int main(void)
{
    enum { NOK = sizeof OK / sizeof OK[0], NBAD = sizeof BAD / sizeof BAD[0] };
    struct CMUnitTest tests[NOK + NBAD + 13];
    int n = 0;
    for (int i = 0; i < NOK; i++) {
        struct CMUnitTest t = {OK[i].name, run_ok, NULL, NULL, (void *)&OK[i]};
        tests[n++] = t;
    }
    for (int i = 0; i < NBAD; i++) {
        struct CMUnitTest t = {BAD[i].name, run_bad, NULL, NULL, (void *)&BAD[i]};
        tests[n++] = t;
    }
    struct CMUnitTest t1 = cmocka_unit_test(test_tree_shape);
    struct CMUnitTest t2 = cmocka_unit_test(test_every_rule_type_has_a_case);
    tests[n++] = t1;
    tests[n++] = t2;
    struct CMUnitTest t3 = cmocka_unit_test(test_eval_hand_computed);
    struct CMUnitTest t4 = cmocka_unit_test(test_manifest_errors);
    tests[n++] = t3;
    tests[n++] = t4;
    struct CMUnitTest t5 = cmocka_unit_test(test_eval_hand_computed_one_scan);
    tests[n++] = t5;
    struct CMUnitTest t6 = cmocka_unit_test(test_eval_parquet);
    tests[n++] = t6;
    struct CMUnitTest t7 = cmocka_unit_test(test_large_ruleset);
    tests[n++] = t7;
    struct CMUnitTest t8 = cmocka_unit_test(test_eval_column_data_type);
    struct CMUnitTest t9 = cmocka_unit_test(test_eval_files);
    struct CMUnitTest t10 = cmocka_unit_test(test_eval_history);
    struct CMUnitTest t11 = cmocka_unit_test(test_eval_analyzers);
    struct CMUnitTest t13 = cmocka_unit_test(test_eval_oom);
    tests[n++] = t13;
    struct CMUnitTest t12 = cmocka_unit_test(test_eval_case_count);
    tests[n++] = t8;
    tests[n++] = t9;
    tests[n++] = t10;
    tests[n++] = t11;
    tests[n++] = t12;
    return _cmocka_run_group_tests("test_dq", tests, (size_t)n, NULL, NULL);
}
