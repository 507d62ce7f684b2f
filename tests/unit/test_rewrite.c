/* Unit tests of the record-level rewrites erasure uses (include/mdp/rewrite.h): each format keeps
 * every byte of the records it does not drop (separators, a CSV header, an SQS batch's envelope),
 * an object with nothing dropped comes back unchanged, and a JSON value cut off as received is a
 * record of its own. */
#include "testutil.h"
#include "mdp/buf.h"
#include "mdp/rewrite.h"

#include <string.h>

/* drops records holding "ALICE" */
static int alice(const char *rec, size_t n, void *ud)
{
    (void)ud;
    for (size_t i = 0; i + 5 <= n; i++)
        if (memcmp(rec + i, "ALICE", 5) == 0) return 1;
    return 0;
}

static void check(const char *key, const char *in, const char *want, int64_t want_dropped,
                  int64_t want_kept)
{
    struct mdp_buf out;
    mdp_buf_init(&out);
    struct mdp_diag d = {0};
    int64_t dropped = -1, kept = -1;
    assert_int_equal(
        mdp_rewrite_records(key, in, strlen(in), alice, NULL, &out, &dropped, &kept, &d), 0);
    assert_string_equal(out.data ? out.data : "", want);
    assert_int_equal(dropped, want_dropped);
    assert_int_equal(kept, want_kept);
    mdp_buf_cleanup(&out);
}

static void csv_keeps_header_and_quoted_newlines(void **state)
{
    (void)state;
    check("raw/s/d/dt=2026-10-01/a.csv",
          "id,name\n1,\"BOB\nsecond line\"\n2,ALICE\n3,\"CAROL, \"\"ALICE\"\"\"\n4,DAVE",
          "id,name\n1,\"BOB\nsecond line\"\n4,DAVE", 2, 2);
}

static void ndjson_lines(void **state)
{
    (void)state;
    check("k.ndjson", "{\"u\":\"ALICE\"}\n{\"u\":\"BOB\"}\n{\"u\":\"ALICE\"}\n",
          "{\"u\":\"BOB\"}\n", 2, 1);
    check("k.ndjson", "{\"u\":\"BOB\"}\n{\"u\":\"EVE\"}", "{\"u\":\"BOB\"}\n{\"u\":\"EVE\"}", 0, 2);
}

static void concatenated_json_values(void **state)
{
    (void)state;
    check("raw/dynamodb/firehose/dt=2026-10-01/a.json",
          "{\"a\":\"ALICE\",\"s\":\"}{\"}{\"a\":\"BOB\"}\n{\"a\":[\"ALICE\"]}{\"a\":\"EVE\"}",
          "{\"a\":\"BOB\"}\n{\"a\":\"EVE\"}", 2, 2);
}

static void sqs_batch_keeps_its_envelope(void **state)
{
    (void)state;
    check("b.json",
          "{\n  \"Records\": [\n    {\"body\": \"ALICE\"},\n    {\"body\": \"BOB\"},\n"
          "    {\"body\": \"x\\\"ALICE\"}\n  ],\n  \"n\": 3\n}\n",
          "{\n  \"Records\": [\n    {\"body\": \"BOB\"}\n  ],\n  \"n\": 3\n}\n", 2, 1);
    check("b.json", "{\"Records\":[{\"b\":\"ALICE\"}]}", "{\"Records\":[]}", 1, 0);
    check("b.json", "{\"Records\":[{\"b\":\"BOB\"},{\"b\":\"ALICE\"}]}",
          "{\"Records\":[{\"b\":\"BOB\"}]}", 1, 1);
}

static void single_document_is_one_record(void **state)
{
    (void)state;
    check("raw/gbp/locations/dt=2026-10-01/a.json", "{\"name\":\"ALICE\",\"n\":[1,2]}\n", "", 1, 0);
    check("raw/gbp/locations/dt=2026-10-01/a.json", "{\"name\":\"BOB\"}", "{\"name\":\"BOB\"}", 0,
          1);
}

static void a_value_cut_off_is_a_record_of_its_own(void **state)
{
    (void)state;
    check("a.json", "{\"a\":\"BOB\"}{\"a\":\"ALICE\",\"b\":{\"c\":1}{\"a\":\"EVE\"}",
          "{\"a\":\"BOB\"}{\"a\":\"EVE\"}", 1, 2);
    check("a.json", "{\"a\":\"BOB\"}{\"a\":\"CAROL", "{\"a\":\"BOB\"}{\"a\":\"CAROL", 0, 2);
    /* the only value of an object, cut off (a truncated delivery of one record): a record, not a
     * failure (its scan for a Records array once reported "out of memory") */
    check("a.json", "{\"a\":\"ALICE\",\"b\":{\"NUL", "", 1, 0);
    check("a.json", "{\"Records\":[{\"a\":\"ALICE\"},{\"a\":\"BO", "", 1, 0);
    check("a.json", "{\"a\":\"BOB\",\"b\":{\"NUL", "{\"a\":\"BOB\",\"b\":{\"NUL", 0, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_keeps_header_and_quoted_newlines),
        cmocka_unit_test(ndjson_lines),
        cmocka_unit_test(concatenated_json_values),
        cmocka_unit_test(sqs_batch_keeps_its_envelope),
        cmocka_unit_test(single_document_is_one_record),
        cmocka_unit_test(a_value_cut_off_is_a_record_of_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
