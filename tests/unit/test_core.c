/* Unit tests of the core: errors, buffers, time, UUIDv7 and hashing (with the fixtures' vectors).
 */
#include "testutil.h"
#include "mdp/buf.h"
#include "mdp/err.h"
#include "mdp/hash.h"
#include "mdp/net.h"
#include "mdp/strset.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <errno.h>
#include <stdint.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <json-c/json.h>
#include <string.h>

static void test_err_names_are_stable(void **st)
{
    (void)st;
    /* the numbers are a contract: logs and scripts see them */
    assert_int_equal(MDP_ERR_NOMEM, -1);
    assert_int_equal(MDP_ERR_NOSPACE, -10);
    assert_int_equal(MDP_ERR_UNSUPPORTED, -15);
    assert_string_equal(mdp_strerror(MDP_ERR_NOSPACE), "no space left on device");
    assert_string_equal(mdp_strerror(12345), "unknown error");
    assert_int_equal(mdp_err_from_errno(ENOSPC), MDP_ERR_NOSPACE);
    assert_int_equal(mdp_err_from_errno(ENOENT), MDP_ERR_NOT_FOUND);
    struct mdp_diag d = {0};
    assert_int_equal(mdp_diag_set(&d, MDP_ERR_IO, "x %d", 5), MDP_ERR_IO);
    assert_string_equal(d.msg, "x 5");
}

static void test_buf_json_escaping(void **st)
{
    (void)st;
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_buf_json_str(&b, "a\"b\\c\n\x01/"), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001/\"");
    mdp_buf_reset(&b);
    for (int i = 0; i < 10000; i++)
        mdp_buf_putc(&b, 'x');
    assert_int_equal(b.len, 10000);
    assert_int_equal(b.data[10000], '\0');
    char *s = mdp_buf_steal(&b);
    assert_null(b.data);
    free(s);
    /* any text, escaped and parsed back by json-c, is the same text: runs of plain characters
     * between escapes, escapes at both ends, every control character and DEL */
    unsigned seed = 7;
    for (int round = 0; round < 2000; round++) {
        char in[64];
        int n = (int)(seed % 63);
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = (char)(1 + (seed >> 16) % 127);
        }
        in[n] = '\0';
        mdp_buf_init(&b);
        assert_int_equal(mdp_buf_json_str(&b, in), 0);
        json_object *o = json_tokener_parse(b.data);
        assert_non_null(o);
        assert_string_equal(json_object_get_string(o), in);
        for (size_t i = 0; i < b.len; i++) /* nothing raw that JSON forbids */
            assert_true((unsigned char)b.data[i] >= 0x20 && b.data[i] != 0x7f);
        json_object_put(o);
        mdp_buf_cleanup(&b);
    }
}

/* issue 11: the first failed append sticks, so a text built with many unchecked appends is never
 * handed on cut short (a size no allocator can give fails without any fault injection) */
static void test_buf_errors_stick(void **st)
{
    (void)st;
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_buf_error(&b), 0);
    assert_int_equal(mdp_buf_puts(&b, "SELECT 1"), 0);
    assert_int_equal(mdp_buf_reserve(&b, SIZE_MAX), MDP_ERR_NOMEM);
    assert_int_equal(mdp_buf_error(&b), MDP_ERR_NOMEM);
    /* every later append is a no-op returning the same error; the content stays as it was */
    assert_int_equal(mdp_buf_puts(&b, " WHERE x = 1"), MDP_ERR_NOMEM);
    assert_int_equal(mdp_buf_putc(&b, ';'), MDP_ERR_NOMEM);
    assert_int_equal(mdp_buf_printf(&b, "%d", 42), MDP_ERR_NOMEM);
    assert_int_equal(mdp_buf_append(&b, "ab", 2), MDP_ERR_NOMEM);
    assert_int_equal(mdp_buf_json_str(&b, "v"), MDP_ERR_NOMEM);
    assert_int_equal(mdp_buf_cat(&b, &MDP_LIT("x"), 1), MDP_ERR_NOMEM);
    assert_int_equal(mdp_buf_reserve(&b, 1), MDP_ERR_NOMEM);
    assert_int_equal(b.err, MDP_ERR_NOMEM);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "SELECT 1");
    /* handing over reports the error instead of the truncated text, and frees */
    char *out = (char *)&b;
    size_t n = 99;
    assert_int_equal(mdp_buf_take(&b, &out, &n), MDP_ERR_NOMEM);
    assert_null(out);
    assert_int_equal(n, 0);
    assert_null(b.data);
    assert_int_equal(mdp_buf_error(&b), 0);
    /* mdp_buf_steal says it with NULL */
    assert_int_equal(mdp_buf_puts(&b, "{\"a\":"), 0);
    assert_int_equal(mdp_buf_cat(&b, (const struct mdp_piece[]){{"x", SIZE_MAX}, {"y", 2}}, 2),
                     MDP_ERR_NOMEM);
    assert_int_equal(mdp_buf_puts(&b, "1}"), MDP_ERR_NOMEM);
    assert_null(mdp_buf_steal(&b));
    assert_null(b.data);
    /* the first error is the one kept: a bad format after an out-of-memory stays NOMEM */
    assert_int_equal(mdp_buf_reserve(&b, SIZE_MAX), MDP_ERR_NOMEM);
    assert_int_equal(mdp_buf_json_strn(&b, "x", SIZE_MAX), MDP_ERR_NOMEM);
    assert_int_equal(mdp_buf_error(&b), MDP_ERR_NOMEM);
    mdp_buf_cleanup(&b);
    assert_int_equal(mdp_buf_error(&b), 0);
    assert_int_equal(mdp_buf_puts(&b, "fresh"), 0);
    mdp_buf_cleanup(&b);
}

/* reset and truncate clear the error: a record dropped after a failure does not poison the next */
static void test_buf_reset_truncate_clear(void **st)
{
    (void)st;
    struct mdp_buf b;
    mdp_buf_init(&b);
    assert_int_equal(mdp_buf_puts(&b, "line1\n"), 0);
    size_t mark = b.len;
    assert_int_equal(mdp_buf_puts(&b, "{\"half"), 0);
    assert_int_equal(mdp_buf_reserve(&b, SIZE_MAX), MDP_ERR_NOMEM);
    mdp_buf_truncate(&b, mark);
    assert_int_equal(mdp_buf_error(&b), 0);
    assert_string_equal(b.data, "line1\n");
    assert_int_equal(mdp_buf_puts(&b, "line2\n"), 0);
    mdp_buf_truncate(&b, 1000); /* longer than the content: nothing to cut */
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(mdp_buf_take(&b, &out, &n), 0);
    assert_string_equal(out, "line1\nline2\n");
    assert_int_equal(n, 12);
    free(out);
    /* take of a buffer never appended to gives an empty string, not NULL */
    assert_int_equal(mdp_buf_take(&b, &out, &n), 0);
    assert_string_equal(out, "");
    assert_int_equal(n, 0);
    free(out);
    assert_int_equal(mdp_buf_puts(&b, "x"), 0);
    assert_int_equal(mdp_buf_reserve(&b, SIZE_MAX), MDP_ERR_NOMEM);
    mdp_buf_reset(&b);
    assert_int_equal(mdp_buf_error(&b), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(mdp_buf_printf(&b, "%s=%d", "k", 7), 0);
    assert_string_equal(b.data, "k=7");
    mdp_buf_cleanup(&b);
}

/* the raw zone's guard against bytes DuckDB's JSON reader refuses (ingest.c): each offending byte
 * becomes U+FFFD, everything else is kept byte for byte, and a well-formed text is left alone */
static void test_utf8_repair(void **st)
{
    (void)st;
    struct mdp_buf b;
    mdp_buf_init(&b);
    size_t at = 99;
    const char ok[] = "F\xc3\xbcr mehr G\xc3\xa4ste \xf0\x9f\x8d\xbd plain ascii text here";
    assert_int_equal(mdp_utf8_repair(ok, sizeof ok - 1, &b, &at), 0);
    assert_null(b.data);
    assert_int_equal(at, 99);
    /* a sequence cut by truncation, a stray continuation byte, an overlong '/', a surrogate */
    const char bad[] = "3 Tipps f\xc3\xbcr mehr G\xc3\",\x80x\xc0\xafy\xed\xa0\x80z";
    int64_t n = mdp_utf8_repair(bad, sizeof bad - 1, &b, &at);
    assert_int_equal(n, 7);
    assert_int_equal(at, 19);
    assert_string_equal(b.data, "3 Tipps f\xc3\xbcr mehr G\xef\xbf\xbd\",\xef\xbf\xbdx"
                                "\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
    assert_true(mdp_utf8_valid(b.data, b.len));
    /* the cut at the very end (the last byte a lead byte) */
    assert_int_equal(mdp_utf8_repair("ab\xe2\x82", 4, &b, &at), 2);
    assert_int_equal(at, 2);
    assert_string_equal(b.data, "ab\xef\xbf\xbd\xef\xbf\xbd");
    mdp_buf_cleanup(&b);
}

static void test_time_iso_forms(void **st)
{
    (void)st;
    int64_t ms;
    /* the SES doc's offset form */
    assert_int_equal(mdp_time_parse_iso("2009-12-03T04:24:21.000-05:00", (size_t)-1, &ms), 0);
    assert_int_equal(ms, 1259832261000LL);
    assert_int_equal(mdp_time_parse_iso("2024-11-05T14:03:27.512Z", (size_t)-1, &ms), 0);
    assert_int_equal(ms, 1730815407512LL);
    /* a space before a compact offset, as one SES mail example shows */
    assert_int_equal(mdp_time_parse_iso("2018-10-08T14:05:45 +0000", (size_t)-1, &ms), 0);
    assert_int_equal(ms, 1539007545000LL);
    /* microseconds are truncated to ms; a date alone is midnight UTC */
    assert_int_equal(mdp_time_parse_iso("2024-11-05T14:03:27.512999+00:00", (size_t)-1, &ms), 0);
    assert_int_equal(ms, 1730815407512LL);
    assert_int_equal(mdp_time_parse_iso("2024-02-29", (size_t)-1, &ms), 0);
    assert_int_equal(ms, 1709164800000LL);
    /* errors */
    assert_int_equal(mdp_time_parse_iso("2023-02-29", (size_t)-1, &ms), MDP_ERR_RANGE);
    assert_int_equal(mdp_time_parse_iso("2026-13-45T25:61:00Z", (size_t)-1, &ms), MDP_ERR_RANGE);
    assert_int_equal(mdp_time_parse_iso("2024-11-05T14:03:27", (size_t)-1, &ms), MDP_ERR_PARSE);
    assert_int_equal(mdp_time_parse_iso("2024-11-05T14:03:27.Z", (size_t)-1, &ms), MDP_ERR_PARSE);
    assert_int_equal(mdp_time_parse_iso("", (size_t)-1, &ms), MDP_ERR_PARSE);
    assert_int_equal(mdp_time_parse_iso(NULL, (size_t)-1, &ms), MDP_ERR_PARSE); /* a JSON null */
    assert_int_equal(mdp_time_parse_iso("2024-11-05T14:03:27Zjunk", (size_t)-1, &ms),
                     MDP_ERR_PARSE);
    /* length-bounded input is not read past its end */
    assert_int_equal(mdp_time_parse_iso("2024-11-05XXXX", 10, &ms), 0);
}

/* Which Supabase connection strings name another machine (sslmode=require by default there). */
static void test_net_pg_remote(void **st)
{
    (void)st;
    unsetenv("PGHOST");
    static const struct {
        const char *dsn;
        int remote;
    } C[] = {
        {"postgresql://postgres@127.0.0.1:5432/app", 0},
        {"host=127.0.0.1 port=5 user=postgres dbname=postgres", 0},
        {"host=localhost dbname=x", 0},
        {"host=/var/run/postgresql dbname=x", 0},
        {"host=::1", 0},
        {"dbname=x", 0}, /* the default socket */
        {"host=db.abc.supabase.co dbname=postgres", 1},
        {"postgresql://u@db.abc.supabase.co:5432/postgres?sslmode=require", 1},
        {"host=127.0.0.1,db.example.com", 1},
        {"hostaddr=10.0.0.5", 1},
        {"host=db.example.com hostaddr=127.0.0.1", 1}, /* the name is what TLS is for */
        {"host=localhostile.example", 1},
        {"host=127.example.com", 1},
        {"host=127.0.0.2,localhost", 0},
        {"this is = not = a dsn", 1},
    };
    for (size_t i = 0; i < sizeof C / sizeof *C; i++)
        if (mdp_net_pg_remote(C[i].dsn) != C[i].remote)
            fail_msg("%s: want %d", C[i].dsn, C[i].remote);
    setenv("PGHOST", "db.example.com", 1);
    assert_int_equal(mdp_net_pg_remote("dbname=x"), 1);
    unsetenv("PGHOST");
}

static void test_time_epoch_and_date_key(void **st)
{
    (void)st;
    int64_t ms;
    assert_int_equal(mdp_time_parse_epoch_s("1730822607", &ms), 0);
    assert_int_equal(ms, 1730822607000LL);
    assert_int_equal(mdp_time_parse_epoch_s("1693997155.0", &ms), 0);
    assert_int_equal(ms, 1693997155000LL);
    assert_int_equal(mdp_time_parse_epoch_s("1693997155.25", &ms), 0);
    assert_int_equal(ms, 1693997155250LL);
    assert_int_equal(mdp_time_parse_epoch_ms("1730815407512", &ms), 0);
    assert_int_equal(ms, 1730815407512LL);
    assert_int_not_equal(mdp_time_parse_epoch_s("12a", &ms), 0);
    assert_int_not_equal(mdp_time_parse_epoch_s("99999999999999999999", &ms), 0);
    /* date_key is the UTC date: 23:30 at -05:00 is the next day in UTC */
    assert_int_equal(mdp_time_parse_iso("2024-12-31T23:30:00-05:00", (size_t)-1, &ms), 0);
    assert_int_equal(mdp_date_key(ms), 20250101);
    assert_int_equal(mdp_date_key(0), 19700101);
    assert_int_equal(mdp_date_key(-1), 19691231);
    char buf[32];
    assert_int_equal(mdp_time_format_ms(1730815407512LL, buf, sizeof buf), 0);
    assert_string_equal(buf, "2024-11-05T14:03:27.512Z");
    int64_t days;
    assert_int_equal(mdp_date_parse("20241105", &days), 0);
    assert_int_equal(mdp_date_key_from_days(days), 20241105);
    assert_int_equal(mdp_weekday_iso(days), 2); /* a Tuesday */
}

static void test_time_roundtrip_many(void **st)
{
    (void)st;
    /* every day across four centuries formats and parses back to itself */
    for (int64_t d = -146097; d < 146097 * 2; d += 13) {
        int64_t ms = d * MDP_MS_PER_DAY + (d % 86400) * 1000 + 7, back;
        char buf[32];
        if (ms < MDP_TIME_MIN_MS || ms > MDP_TIME_MAX_MS) continue;
        assert_int_equal(mdp_time_format_ms(ms, buf, sizeof buf), 0);
        assert_int_equal(mdp_time_parse_iso(buf, (size_t)-1, &back), 0);
        assert_int_equal(back, ms);
    }
}

static void test_uuid_rfc9562_vector(void **st)
{
    (void)st;
    size_t n;
    char *text = tu_read(tu_data("fixtures/ids/uuidv7-rfc9562-a6.json"), &n);
    assert_non_null(text);
    json_object *o = json_tokener_parse(text), *v;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "uuid_as_printed_in_rfc", &v));
    struct mdp_uuid u;
    assert_int_equal(mdp_uuid_parse(json_object_get_string(v), &u), 0);
    assert_int_equal(mdp_uuid_version(&u), 7);
    assert_true(mdp_uuid_is_rfc_variant(&u));
    assert_true(json_object_object_get_ex(o, "unix_ts_ms", &v));
    assert_int_equal(mdp_uuid7_time_ms(&u), json_object_get_int64(v));
    char canon[37];
    mdp_uuid_format(&u, canon);
    assert_true(json_object_object_get_ex(o, "uuid_canonical_lowercase", &v));
    assert_string_equal(canon, json_object_get_string(v));
    json_object_put(o);
    free(text);
    assert_int_equal(mdp_uuid_parse("017f22e279b07cc398c4dc0c0c07398f", &u), 0);
    assert_int_not_equal(mdp_uuid_parse("017f22e2-79b0-7cc3-98c4-dc0c0c07398", &u), 0);
    assert_int_not_equal(mdp_uuid_parse("017f22e2-79b0-7cc3-98c4-dc0c0c07398g", &u), 0);
    assert_int_not_equal(mdp_uuid_parse("017f22e2+79b0-7cc3-98c4-dc0c0c07398f", &u), 0);
    /* issue 16: the length-given and the canonical parse (lowercase 8-4-4-4-12 only) */
    struct mdp_uuid w;
    const char *id = "017f22e2-79b0-7cc3-98c4-dc0c0c07398f",
               *up = "017F22E2-79B0-7CC3-98C4-DC0C0C07398F";
    assert_int_equal(mdp_uuid_parse_n(id, 36, &u), 0);
    assert_int_equal(mdp_uuid_parse_canonical(id, 36, &w), 0);
    assert_memory_equal(u.b, w.b, 16);
    assert_int_equal(mdp_uuid_parse_n(up, 36, &w), 0);
    assert_memory_equal(u.b, w.b, 16);
    assert_int_not_equal(mdp_uuid_parse_canonical(up, 36, &w), 0);
    assert_int_not_equal(mdp_uuid_parse_canonical("017f22e279b07cc398c4dc0c0c07398f", 32, &w), 0);
    assert_int_not_equal(mdp_uuid_parse_n("017f22e2-79b0-7cc3-98c4-dc0c0c0739\0f", 36, &w), 0);
    assert_int_not_equal(mdp_uuid_parse_n("017f22e2-79b0-7cc3-98c4-dc0c0c07398f", 35, &w), 0);
    assert_int_not_equal(mdp_uuid_parse_canonical("017f22e2-79b0-7cc3-98c4+dc0c0c07398f", 36, &w),
                         0);
}

/* The digit value of c for the parses (upper: 'A'-'F' taken too), or -1: the plain reference the
 * parses' table of digit values is checked against. */
static int ref_digit(int c, int upper)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (upper && c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Every byte value at every position of the three forms (canonical, 36 with any case, 32 without
 * hyphens) is accepted exactly when it is a digit of that form, and then decoded to its value, in
 * the byte and the half the position says; a hyphen's position takes a hyphen only. */
static void test_uuid_every_byte_everywhere(void **st)
{
    (void)st;
    const char *base36 = "017f22e2-79b0-7cc3-98c4-dc0c0c07398f";
    char base32[33];
    for (int i = 0, k = 0; base36[i]; i++)
        if (base36[i] != '-') base32[k++] = base36[i];
    base32[32] = '\0';
    struct mdp_uuid good, u;
    assert_int_equal(mdp_uuid_parse_canonical(base36, 36, &good), 0);
    for (int form = 0; form < 3; form++) {
        const char *base = form == 2 ? base32 : base36;
        size_t n = form == 2 ? 32 : 36;
        for (size_t pos = 0; pos < n; pos++) {
            int digit_no =
                form == 2 ? (int)pos : (int)pos - (pos > 8) - (pos > 13) - (pos > 18) - (pos > 23);
            int hyphen = form != 2 && (pos == 8 || pos == 13 || pos == 18 || pos == 23);
            for (int c = 0; c < 256; c++) {
                char s[37];
                memcpy(s, base, n);
                s[n] = '\0';
                s[pos] = (char)c;
                int rc =
                    form == 0 ? mdp_uuid_parse_canonical(s, n, &u) : mdp_uuid_parse_n(s, n, &u);
                int v = hyphen ? (c == '-' ? 0 : -1) : ref_digit(c, form != 0);
                if (v < 0) {
                    assert_int_not_equal(rc, 0);
                    continue;
                }
                assert_int_equal(rc, 0);
                struct mdp_uuid want = good;
                if (!hyphen) {
                    int byte = digit_no / 2, shift = digit_no % 2 ? 0 : 4;
                    want.b[byte] = (uint8_t)((want.b[byte] & ~(0x0f << shift)) | v << shift);
                }
                assert_memory_equal(u.b, want.b, 16);
            }
        }
    }
}

/* Issue 16: a cleared set knows nothing and refills (past its first table and chunk, and again
 * after shrinking back) as a new one would. */
/* The chunk allocator shared by the string set and the duplicate index: 8-aligned cuts, a copy
 * larger than a chunk in a chunk of its own, emptied chunks reused before new ones are made. */
static void test_chunks(void **st)
{
    (void)st;
    struct mdp_chunks c = {0};
    char *a = mdp_chunks_alloc(&c, 3), *b = mdp_chunks_alloc(&c, 9);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal((uintptr_t)a % 8, 0);
    assert_ptr_equal(b, a + 8);
    struct mdp_chunk *first = c.head;
    char *big = mdp_chunks_alloc(&c, 100000);
    assert_non_null(big);
    memset(big, 'x', 100000);
    assert_ptr_not_equal(c.head, first);
    assert_true(c.head->cap >= 100000);
    assert_ptr_equal(c.head->next, first);
    mdp_chunks_empty(&c, &c.head->next); /* the first chunk goes spare, the big one stays */
    assert_null(c.head->next);
    assert_ptr_equal(c.spare, first);
    char *d = mdp_chunks_alloc(&c, 16); /* the big one is full: the spare is taken */
    assert_ptr_equal(c.head, first);
    assert_ptr_equal(d, first->data);
    assert_null(c.spare);
    mdp_chunks_trim(&c);
    assert_ptr_equal(c.head, first);
    assert_null(c.head->next);
    assert_int_equal(c.head->used, 0);
    mdp_chunks_free(&c);
    assert_null(c.head);
    mdp_chunks_free(&c);
}

static void test_strset_clear(void **st)
{
    (void)st;
    struct mdp_strset *s = mdp_strset_new();
    assert_non_null(s);
    char k[32];
    for (int round = 0; round < 3; round++) {
        int n = round == 1 ? 10 : 5000; /* 5000 ids: a bigger table and several chunks */
        for (int i = 0; i < n; i++) {
            int len = snprintf(k, sizeof k, "id-%d-%d", round, i);
            assert_int_equal(mdp_strset_add(s, k, (size_t)len), 1);
        }
        assert_int_equal(mdp_strset_count(s), n);
        for (int i = 0; i < n; i++) {
            int len = snprintf(k, sizeof k, "id-%d-%d", round, i);
            assert_int_equal(mdp_strset_add(s, k, (size_t)len), 0);
        }
        int len = snprintf(k, sizeof k, "id-%d-0", round - 1);
        assert_int_equal(mdp_strset_has(s, k, (size_t)len), 0);
        mdp_strset_clear(s);
        assert_int_equal(mdp_strset_count(s), 0);
        assert_int_equal(mdp_strset_has(s, "id-0-0", 6), 0);
    }
    mdp_strset_clear(NULL);
    mdp_strset_free(s);
}

static uint64_t fixed_rng(void *state)
{
    uint64_t *s = state;
    return (*s += 0x9e3779b97f4a7c15ULL);
}

static void test_uuid7_monotonic_within_ms(void **st)
{
    (void)st;
    struct mdp_uuid7_gen g;
    uint64_t state = 1;
    mdp_uuid7_gen_init(&g, fixed_rng, &state);
    struct mdp_uuid prev, cur;
    assert_int_equal(mdp_uuid7_next(&g, 1645557742000LL, &prev), 0);
    /* 10000 ids in the same millisecond: the counter overflows and borrows the next ms */
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(mdp_uuid7_next(&g, 1645557742000LL, &cur), 0);
        assert_true(memcmp(prev.b, cur.b, 16) < 0);
        assert_int_equal(mdp_uuid_version(&cur), 7);
        assert_true(mdp_uuid_is_rfc_variant(&cur));
        prev = cur;
    }
    assert_true(mdp_uuid7_time_ms(&cur) > 1645557742000LL);
    /* the clock going backwards does not break the order */
    assert_int_equal(mdp_uuid7_next(&g, 1000, &cur), 0);
    assert_true(memcmp(prev.b, cur.b, 16) < 0);
}

static void test_hash_fixture_vectors(void **st)
{
    (void)st;
    char *text = tu_read(tu_data("fixtures/ids/sha256-email-pseudonyms.json"), NULL);
    assert_non_null(text);
    json_object *o = json_tokener_parse(text), *vec, *neg, *fips;
    assert_true(json_object_object_get_ex(o, "vectors", &vec));
    size_t n = json_object_array_length(vec);
    assert_true(n >= 5);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(vec, i), *in, *want;
        json_object_object_get_ex(e, "input", &in);
        json_object_object_get_ex(e, "sha256_hex", &want);
        char hex[65];
        assert_int_equal(mdp_email_hash(json_object_get_string(in), hex), 0);
        assert_string_equal(hex, json_object_get_string(want));
    }
    /* the raw-input and trailing-newline hashes are what we must NOT produce */
    assert_true(json_object_object_get_ex(o, "negative_checks", &neg));
    for (size_t i = 0; i < 2; i++) {
        json_object *e = json_object_array_get_idx(neg, i), *in, *bad;
        json_object_object_get_ex(e, "input", &in);
        json_object_object_get_ex(e, "sha256_hex", &bad);
        char hex[65];
        if (mdp_email_hash(json_object_get_string(in), hex) == 0)
            assert_string_not_equal(hex, json_object_get_string(bad));
    }
    assert_true(json_object_object_get_ex(o, "sanity_vectors_fips180", &fips));
    for (size_t i = 0; i < json_object_array_length(fips); i++) {
        json_object *e = json_object_array_get_idx(fips, i), *in, *want;
        json_object_object_get_ex(e, "input", &in);
        json_object_object_get_ex(e, "sha256_hex", &want);
        char hex[65];
        const char *s = json_object_get_string(in);
        assert_int_equal(mdp_sha256_hex(s, strlen(s), hex), 0);
        assert_string_equal(hex, json_object_get_string(want));
    }
    json_object_put(o);
    free(text);
}

static void test_hash_normalize_and_keyed(void **st)
{
    (void)st;
    char out[64], hex1[65], hex2[65];
    assert_int_equal(mdp_email_normalize("  Foo@Example.COM \t\r\n", out, sizeof out), 15);
    assert_string_equal(out, "foo@example.com");
    assert_int_equal(mdp_email_normalize(" \t ", out, sizeof out), MDP_ERR_INVALID);
    assert_int_equal(mdp_email_normalize("a-very-long-address@example.com", out, 8), MDP_ERR_RANGE);
    /* RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?") */
    const char *msg = "what do ya want for nothing?";
    assert_int_equal(mdp_hmac_sha256_hex("Jefe", 4, msg, strlen(msg), hex1), 0);
    assert_string_equal(hex1, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_int_equal(mdp_email_hash_keyed("Foo@Example.com", "k", 1, hex1), 0);
    assert_int_equal(mdp_email_hash_keyed("foo@example.com ", "k", 1, hex2), 0);
    assert_string_equal(hex1, hex2);
    assert_int_equal(mdp_email_hash_keyed("foo@example.com", "other", 5, hex2), 0);
    assert_string_not_equal(hex1, hex2);
    assert_int_equal(mdp_email_hash_keyed("foo@example.com", "", 0, hex2), MDP_ERR_INVALID);
}

/* the hash in pieces (the decision-log writer's steps) equals the one-shot hash */
static void test_sha256_in_pieces(void **st)
{
    (void)st;
    char one[65], parts[65];
    struct mdp_sha256 *h = mdp_sha256_new();
    assert_non_null(h);
    assert_int_equal(mdp_sha256_update(h, "a", 1), 0);
    assert_int_equal(mdp_sha256_update(h, "", 0), 0);
    assert_int_equal(mdp_sha256_update(h, "bc", 2), 0);
    assert_int_equal(mdp_sha256_final_hex(h, parts), 0);
    /* FIPS 180-2's "abc" */
    assert_string_equal(parts, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    size_t n = 300000;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 2654435761u >> 13);
    assert_int_equal(mdp_sha256_hex(data, n, one), 0);
    h = mdp_sha256_new();
    for (size_t off = 0, k = 1; off < n; off += k, k = k * 3 + 7)
        assert_int_equal(mdp_sha256_update(h, data + off, off + k > n ? n - off : k), 0);
    assert_int_equal(mdp_sha256_final_hex(h, parts), 0);
    assert_string_equal(one, parts);
    mdp_sha256_free(mdp_sha256_new()); /* one given up on */
    mdp_sha256_free(NULL);
    free(data);
}

/* n bytes of text gzip'd (one member) into out */
static void gz(const char *text, size_t n, struct mdp_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t bound = deflateBound(&z, (uLong)n);
    assert_int_equal(mdp_buf_reserve(out, bound), 0);
    z.next_in = (unsigned char *)(uintptr_t)text;
    z.avail_in = (uInt)n;
    z.next_out = (unsigned char *)out->data + out->len;
    z.avail_out = (uInt)bound;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out->len += bound - z.avail_out;
    deflateEnd(&z);
}

/* mdp_buf_gunzip: members one after the other, a cut stream gives what came before the cut
 * (MDP_ERR_PARSE), and the bound of mdp_buf_gunzip_max holds exactly */
static void test_gunzip_members_damage_and_bound(void **state)
{
    (void)state;
    struct mdp_buf z, out;
    mdp_buf_init(&z);
    mdp_buf_init(&out);
    gz("{\"a\":1}\n", 8, &z);
    gz("{\"b\":2}\n", 8, &z);
    assert_true(mdp_gzip_magic(z.data, z.len));
    assert_false(mdp_gzip_magic("{}", 2));
    assert_int_equal(mdp_buf_gunzip(&out, z.data, z.len), 0);
    assert_string_equal(out.data, "{\"a\":1}\n{\"b\":2}\n");
    mdp_buf_reset(&out);
    assert_int_equal(mdp_buf_gunzip_max(&out, z.data, z.len, 16), 0); /* exactly the bound */
    mdp_buf_reset(&out);
    assert_int_equal(mdp_buf_gunzip_max(&out, z.data, z.len, 15), MDP_ERR_RANGE);
    assert_true(out.len <= 15);
    /* cut inside the second member: the first is there, the error says the stream is damaged */
    mdp_buf_reset(&out);
    assert_int_equal(mdp_buf_gunzip(&out, z.data, z.len - 4), MDP_ERR_PARSE);
    assert_true(out.len >= 8 && memcmp(out.data, "{\"a\":1}\n", 8) == 0);
    /* a large run of one byte: refused at the bound, not inflated whole */
    static char big[1 << 20];
    memset(big, ' ', sizeof big);
    mdp_buf_reset(&z);
    gz(big, sizeof big, &z);
    assert_true(z.len < 4096);
    mdp_buf_reset(&out);
    assert_int_equal(mdp_buf_gunzip_max(&out, z.data, z.len, 65536), MDP_ERR_RANGE);
    assert_true(out.len <= 65536);
    mdp_buf_cleanup(&z);
    mdp_buf_cleanup(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_names_are_stable),
        cmocka_unit_test(test_buf_json_escaping),
        cmocka_unit_test(test_buf_errors_stick),
        cmocka_unit_test(test_buf_reset_truncate_clear),
        cmocka_unit_test(test_utf8_repair),
        cmocka_unit_test(test_time_iso_forms),
        cmocka_unit_test(test_time_epoch_and_date_key),
        cmocka_unit_test(test_net_pg_remote),
        cmocka_unit_test(test_time_roundtrip_many),
        cmocka_unit_test(test_uuid_rfc9562_vector),
        cmocka_unit_test(test_uuid_every_byte_everywhere),
        cmocka_unit_test(test_strset_clear),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_uuid7_monotonic_within_ms),
        cmocka_unit_test(test_hash_fixture_vectors),
        cmocka_unit_test(test_hash_normalize_and_keyed),
        cmocka_unit_test(test_sha256_in_pieces),
        cmocka_unit_test(test_gunzip_members_damage_and_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
