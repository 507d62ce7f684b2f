/* Unit tests of the pgoutput decoder (src/cdc/pgoutput.c) on messages a real PostgreSQL 15 sent
 * (tests/fuzz/corpus/cdc/session_v1.bin: a fuzz-framed session of the app's tables, captured with
 * pg_logical_slot_peek_binary_changes; session_v2.bin the same in protocol version 2 with streaming
 * on, tests/integration/cdc_capture_v2.sh) and on broken ones: every real message decodes, and bad
 * input is an error that names the LSN. */
#include "testutil.h"

#include "mdp/cdc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CDC_CORPUS
#error CDC_CORPUS must name tests/fuzz/corpus/cdc
#endif

/* The messages of a fuzz-framed file: a protocol byte, then 4-byte big-endian lengths. */
struct frames {
    unsigned char *data;
    size_t len, off[2048], n[2048];
    int count, proto;
};

static void load(const char *name, struct frames *f)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", CDC_CORPUS, name);
    memset(f, 0, sizeof *f);
    f->data = (unsigned char *)tu_read(path, &f->len);
    assert_non_null(f->data);
    f->proto = 1 + f->data[0] % 2;
    size_t i = 1;
    while (i + 4 <= f->len && f->count < 2048) {
        size_t n = (size_t)f->data[i] << 24 | (size_t)f->data[i + 1] << 16 |
                   (size_t)f->data[i + 2] << 8 | f->data[i + 3];
        i += 4;
        assert_true(n <= f->len - i);
        f->off[f->count] = i;
        f->n[f->count++] = n;
        i += n;
    }
}

static void test_real_session(void **state)
{
    (void)state;
    struct frames f;
    load("session_v1.bin", &f);
    struct mdp_pgo *p = NULL;
    assert_int_equal(mdp_pgo_new(1, &p), 0);
    int kinds[128] = {0}, deletes_with_key = 0, nulls = 0;
    for (int k = 0; k < f.count; k++) {
        struct mdp_pgo_msg m;
        struct mdp_diag d = {0};
        int rc = mdp_pgo_decode(p, f.data + f.off[k], f.n[k], 0x1000 + (uint64_t)k, &m, &d);
        if (rc) fail_msg("message %d: %s", k, d.msg);
        kinds[(unsigned char)m.kind & 127]++;
        if (m.kind == 'D' && m.old_kind) deletes_with_key++;
        for (int i = 0; (m.kind == 'I' || m.kind == 'U') && i < m.new_tuple.ncols; i++)
            nulls += m.new_tuple.v[i].kind == 'n';
        if (m.kind == 'B') assert_true(m.lsn > 0 && m.time_us > 0 && m.xid > 0);
        if (m.kind == 'C') assert_true(m.end_lsn > m.lsn);
    }
    /* the captured workload: 9 transactions, relations, inserts, updates, deletes, a truncate */
    assert_int_equal(kinds['B'], kinds['C']);
    assert_true(kinds['B'] >= 8);
    assert_true(kinds['R'] >= 3 && kinds['I'] >= 3 && kinds['U'] >= 2 && kinds['D'] >= 2);
    assert_int_equal(kinds['T'], 1);
    assert_int_equal(deletes_with_key, kinds['D']);
    assert_true(nulls > 0);
    const struct mdp_pgo_rel *rel = NULL;
    for (uint32_t oid = 1; !rel && oid < 100000; oid++) {
        const struct mdp_pgo_rel *r = mdp_pgo_relation(p, oid);
        if (r && strcmp(r->relname, "accounts") == 0) rel = r;
    }
    assert_non_null(rel);
    assert_string_equal(rel->nspname, "public");
    assert_string_equal(rel->cols[0].name, "account_id");
    assert_true(rel->cols[0].key);
    assert_false(rel->cols[1].key);
    assert_int_equal(rel->cols[0].type_oid, 2950); /* uuid */
    mdp_pgo_free(p);
    free(f.data);
}

/* Decodes the file's messages; the last must fail with a message holding want and the LSN. */
static void expect_failure(const char *name, int proto, const char *want)
{
    struct frames f;
    load(name, &f);
    struct mdp_pgo *p = NULL;
    assert_int_equal(mdp_pgo_new(proto, &p), 0);
    struct mdp_diag d = {0};
    int rc = 0;
    for (int k = 0; k < f.count && !rc; k++) {
        struct mdp_pgo_msg m;
        rc = mdp_pgo_decode(p, f.data + f.off[k], f.n[k], 0x16B3748, &m, &d);
        if (rc) assert_int_equal(k, f.count - 1);
    }
    assert_int_equal(rc, MDP_ERR_PARSE);
    if (!strstr(d.msg, want) || !strstr(d.msg, "LSN 0/16B3748"))
        fail_msg("%s: '%s' lacks '%s' or the LSN", name, d.msg, want);
    mdp_pgo_free(p);
    free(f.data);
}

static void test_bad_input(void **state)
{
    (void)state;
    expect_failure("bad_unknown_type.bin", 1, "unknown message type (message 'Z'");
    expect_failure("bad_unseen_relation.bin", 1, "which no Relation message described");
    expect_failure("bad_cut_update_6.bin", 1, "cut short");
    expect_failure("bad_relation_cut.bin", 1, "cut short");
    expect_failure("bad_ncols.bin", 1, "whose Relation message has");
    expect_failure("bad_kind.bin", 1, "unknown kind");
    expect_failure("bad_trailing.bin", 1, "trailing bytes");
    expect_failure("bad_stream_in_v1.bin", 1, "Stream Start in protocol version 1");
    expect_failure("bad_truncate_count.bin", 1, "cut short");
    expect_failure("bad_empty.bin", 1, "empty message");
    expect_failure("bad_v2_commit_cut.bin", 2, "cut short (message 'c'");
    expect_failure("bad_v2_abort_cut.bin", 2, "cut short (message 'A'");
    expect_failure("bad_v2_start_trailing.bin", 2, "trailing bytes (message 'S'");
    expect_failure("bad_v2_stream_insert_cut.bin", 2, "cut short (message 'I'");
}

/* A real protocol version 2 session with streaming (logical_decoding_work_mem = 64kB): a streamed
 * transaction with a rolled-back savepoint that commits, one that aborts, then an ordinary
 * transaction whose UPDATE leaves a TOASTed column unchanged. */
static void test_real_session_v2(void **state)
{
    (void)state;
    struct frames f;
    load("session_v2.bin", &f);
    assert_int_equal(f.proto, 2);
    struct mdp_pgo *p = NULL;
    assert_int_equal(mdp_pgo_new(2, &p), 0);
    int kinds[128] = {0}, in_stream = 0, sub_aborts = 0, top_aborts = 0, toast_u = 0;
    uint32_t stream_xid = 0, committed = 0;
    for (int k = 0; k < f.count; k++) {
        struct mdp_pgo_msg m;
        struct mdp_diag d = {0};
        if (mdp_pgo_decode(p, f.data + f.off[k], f.n[k], 0x2000 + (uint64_t)k, &m, &d))
            fail_msg("message %d: %s", k, d.msg);
        kinds[(unsigned char)m.kind & 127]++;
        switch (m.kind) {
        case 'S':
            assert_false(in_stream);
            in_stream = 1;
            stream_xid = m.xid;
            break;
        case 'E':
            assert_true(in_stream);
            in_stream = 0;
            break;
        case 'I':
        case 'R':
            /* inside a stream every change names its (sub)transaction, outside none does */
            if (in_stream)
                assert_true(m.xid >= stream_xid);
            else
                assert_int_equal(m.xid, 0);
            break;
        case 'A':
            assert_false(in_stream);
            if (m.subxid == m.xid)
                top_aborts++;
            else
                sub_aborts++, assert_true(m.subxid > m.xid);
            break;
        case 'c':
            assert_false(in_stream);
            assert_true(m.end_lsn > m.lsn && m.time_us > 0);
            committed = m.xid;
            break;
        case 'U':
            for (int i = 0; i < m.new_tuple.ncols; i++)
                if (m.new_tuple.v[i].kind == 'u') {
                    toast_u++;
                    assert_string_equal(m.rel->cols[i].name, "big");
                }
            break;
        }
    }
    assert_true(kinds['S'] >= 2 && kinds['S'] == kinds['E']);
    assert_int_equal(kinds['c'], 1);
    assert_true(committed > 0);
    assert_int_equal(sub_aborts, 1);
    assert_int_equal(top_aborts, 1);
    assert_true(kinds['I'] > 1000);
    assert_int_equal(toast_u, 1);
    assert_int_equal(kinds['B'], kinds['C']);
    mdp_pgo_free(p);
    free(f.data);
}

static void test_stream_v2(void **state)
{
    (void)state;
    struct frames f;
    load("stream_v2.bin", &f);
    struct mdp_pgo *p = NULL;
    assert_int_equal(mdp_pgo_new(2, &p), 0);
    int starts = 0, commits = 0, aborts = 0, inserts = 0;
    for (int k = 0; k < f.count; k++) {
        struct mdp_pgo_msg m;
        struct mdp_diag d = {0};
        if (mdp_pgo_decode(p, f.data + f.off[k], f.n[k], 1, &m, &d))
            fail_msg("message %d: %s", k, d.msg);
        starts += m.kind == 'S';
        commits += m.kind == 'c';
        aborts += m.kind == 'A';
        if (m.kind == 'I') {
            inserts++;
            assert_true(m.xid > 0); /* a streamed change carries its transaction */
        }
    }
    assert_true(starts > 0 && commits == 1 && aborts == 0 && inserts > 0);
    /* a Stream Abort: xid 7, subtransaction 9 */
    static const unsigned char abort_msg[] = {'A', 0, 0, 0, 7, 0, 0, 0, 9};
    struct mdp_pgo_msg m;
    struct mdp_diag d = {0};
    assert_int_equal(mdp_pgo_decode(p, abort_msg, sizeof abort_msg, 1, &m, &d), 0);
    assert_true(m.kind == 'A' && m.xid == 7 && m.subxid == 9);
    mdp_pgo_free(p);
    free(f.data);
}

static void test_lsn(void **state)
{
    (void)state;
    char s[18];
    uint64_t v;
    mdp_lsn_format(0x16B374D848ULL, s);
    assert_string_equal(s, "16/B374D848");
    assert_int_equal(mdp_lsn_parse("16/b374d848", &v), 0);
    assert_true(v == 0x16B374D848ULL);
    mdp_lsn_format(UINT64_MAX, s);
    assert_string_equal(s, "FFFFFFFF/FFFFFFFF");
    assert_int_equal(mdp_lsn_parse("0/0", &v), 0);
    assert_int_equal(mdp_lsn_parse("/1", &v), MDP_ERR_PARSE);
    assert_int_equal(mdp_lsn_parse("1/", &v), MDP_ERR_PARSE);
    assert_int_equal(mdp_lsn_parse("123456789/0", &v), MDP_ERR_PARSE);
    assert_int_equal(mdp_lsn_parse("1/G", &v), MDP_ERR_PARSE);
    assert_int_equal(mdp_lsn_parse("10", &v), MDP_ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_session), cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_stream_v2),    cmocka_unit_test(test_real_session_v2),
        cmocka_unit_test(test_lsn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
