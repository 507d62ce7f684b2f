/* Growable byte buffer (include/mdp/buf.h): the one place that grows memory for text and bytes.
 * Every append goes through mdp_buf_reserve (or fail below), which is where an error sticks. */
#include "mdp/buf.h"
#include "mdp/alloc.h"
#include "mdp/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void mdp_buf_init(struct mdp_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->err = 0;
}

void mdp_buf_cleanup(struct mdp_buf *b)
{
    if (!b) return;
    free(b->data);
    mdp_buf_init(b);
}

/* records the first error; every later append returns it */
static int fail(struct mdp_buf *b, int rc)
{
    if (!b->err) b->err = rc;
    return b->err;
}

int mdp_buf_reserve(struct mdp_buf *b, size_t more)
{
    if (b->err) return b->err;
    if (more > SIZE_MAX - b->len - 1) return fail(b, MDP_ERR_NOMEM);
    size_t need = b->len + more + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = mdp_realloc(b->data, cap);
    if (!p) return fail(b, MDP_ERR_NOMEM);
    b->data = p;
    b->cap = cap;
    return 0;
}

int mdp_buf_append(struct mdp_buf *b, const void *p, size_t n)
{
    int rc = mdp_buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int mdp_buf_cat(struct mdp_buf *b, const struct mdp_piece *p, size_t n)
{
    size_t total = 0;
    if (b->err) return b->err;
    for (size_t i = 0; i < n; i++) {
        if (p[i].n > SIZE_MAX - total) return fail(b, MDP_ERR_NOMEM);
        total += p[i].n;
    }
    int rc = mdp_buf_reserve(b, total);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        memcpy(b->data + b->len, p[i].s, p[i].n);
        b->len += p[i].n;
    }
    b->data[b->len] = '\0';
    return 0;
}

int mdp_buf_puts(struct mdp_buf *b, const char *s)
{
    return mdp_buf_append(b, s, strlen(s));
}

int mdp_buf_putc(struct mdp_buf *b, char c)
{
    return mdp_buf_append(b, &c, 1);
}

int mdp_buf_vprintf(struct mdp_buf *b, const char *fmt, va_list ap)
{
    if (b->err) return b->err;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return fail(b, MDP_ERR_INVALID);
    int rc = mdp_buf_reserve(b, (size_t)n);
    if (rc) return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int mdp_buf_printf(struct mdp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = mdp_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int mdp_buf_json_strn(struct mdp_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (n > SIZE_MAX - 2) return fail(b, MDP_ERR_NOMEM);
    int rc = mdp_buf_reserve(b, n + 2);
    if (rc) return rc;
    size_t start = b->len; /* a failed escape takes the whole literal back out */
    b->data[b->len++] = '"';
    size_t run = 0; /* start of the characters that need no escape, copied in one piece */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue;
        char esc[7];
        const char *out = esc;
        size_t k = 2;
        switch (c) {
        case '"':
            out = "\\\"";
            break;
        case '\\':
            out = "\\\\";
            break;
        case '\n':
            out = "\\n";
            break;
        case '\r':
            out = "\\r";
            break;
        case '\t':
            out = "\\t";
            break;
        case '\b':
            out = "\\b";
            break;
        case '\f':
            out = "\\f";
            break;
        default: /* other control characters and DEL */
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        }
        if ((rc = mdp_buf_append(b, s + run, i - run)) || (rc = mdp_buf_append(b, out, k)))
            goto undo;
        run = i + 1;
    }
    if ((rc = mdp_buf_append(b, s + run, n - run)) || (rc = mdp_buf_putc(b, '"'))) goto undo;
    return 0;
undo:
    b->len = start;
    b->data[b->len] = '\0';
    return rc;
}

int mdp_buf_json_str(struct mdp_buf *b, const char *s)
{
    return mdp_buf_json_strn(b, s, strlen(s));
}

void mdp_buf_reset(struct mdp_buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->data) b->data[0] = '\0';
}

void mdp_buf_truncate(struct mdp_buf *b, size_t len)
{
    b->err = 0;
    if (len >= b->len) return;
    b->len = len;
    b->data[len] = '\0';
}

int mdp_buf_error(const struct mdp_buf *b)
{
    return b->err;
}

int mdp_buf_take(struct mdp_buf *b, char **out_data, size_t *out_len)
{
    *out_data = NULL;
    if (out_len) *out_len = 0;
    int rc = b->err;
    if (!rc && !b->data) rc = mdp_buf_reserve(b, 0);
    if (rc) {
        mdp_buf_cleanup(b);
        return rc;
    }
    if (b->len == 0) b->data[0] = '\0'; /* a first reservation has no terminator yet */
    *out_data = b->data;
    if (out_len) *out_len = b->len;
    mdp_buf_init(b);
    return 0;
}

char *mdp_buf_steal(struct mdp_buf *b)
{
    char *p;
    mdp_buf_take(b, &p, NULL);
    return p;
}

/* The length of the well-formed UTF-8 sequence of a non-ASCII lead byte at s[i] (2 to 4), or 0
 * when it is not one (a stray continuation byte, a truncated sequence, an overlong form, a
 * surrogate or a code point past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t i, size_t n)
{
    unsigned char c = s[i];
    size_t k;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0)
        k = 1, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        k = 2, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        k = 3, cp = c & 0x07;
    else
        return 0;
    if (i + k >= n) return 0; /* truncated sequence */
    for (size_t j = 1; j <= k; j++) {
        if ((s[i + j] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i + j] & 0x3f);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k + 1;
}

/* The number of leading bytes of s[i..n) that are ASCII, eight at a time where it can. */
static size_t ascii_run(const unsigned char *s, size_t i, size_t n)
{
    size_t j = i;
    while (j + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + j, 8);
        if (w & 0x8080808080808080ull) break;
        j += 8;
    }
    while (j < n && s[j] < 0x80)
        j++;
    return j - i;
}

int mdp_utf8_valid(const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            if (s[i] == 0) return 0;
            i++;
            continue;
        }
        size_t k = utf8_seq(s, i, n);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

int64_t mdp_utf8_repair(const void *p, size_t n, struct mdp_buf *out, size_t *first_bad)
{
    const unsigned char *s = p;
    size_t i = 0, done = 0;
    int64_t bad = 0;
    while (i < n) {
        i += ascii_run(s, i, n);
        if (i >= n) break;
        size_t k = utf8_seq(s, i, n);
        if (k) {
            i += k;
            continue;
        }
        if (!bad) {
            if (first_bad) *first_bad = i;
            mdp_buf_reset(out);
        }
        bad++;
        /* the valid stretch before it, then U+FFFD for the one offending byte (as decoders that
         * replace do, e.g. Python's errors="replace"); the next byte starts afresh */
        mdp_buf_append(out, s + done, i - done);
        mdp_buf_append(out, "\xef\xbf\xbd", 3);
        done = ++i;
    }
    if (bad) {
        mdp_buf_append(out, s + done, n - done);
        if (mdp_buf_error(out)) return -mdp_buf_error(out);
    }
    return bad;
}

size_t mdp_join(char *out, size_t n, const char *sep, const char *const *parts, int nparts)
{
    size_t k = 0, sl = strlen(sep);
    if (!n) return 0;
    for (int i = 0; i < nparts; i++) {
        size_t l = strlen(parts[i]);
        if (i && k + sl < n)
            memcpy(out + k, sep, sl), k += sl;
        else if (i)
            break;
        if (k + l >= n) l = n - 1 - k;
        memcpy(out + k, parts[i], l);
        k += l;
    }
    out[k] = '\0';
    return k;
}

int mdp_grow(void *pv, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n < *cap) return 0;
    size_t want = *cap ? *cap * 2 : first;
    void **v = pv;
    if (want > SIZE_MAX / elem) return MDP_ERR_NOMEM;
    void *nv = mdp_realloc(*v, want * elem);
    if (!nv) return MDP_ERR_NOMEM;
    *v = nv;
    *cap = want;
    return 0;
}

int mdp_gzip_magic(const void *p, size_t n)
{
    const unsigned char *u = p;
    return n >= 2 && u[0] == 0x1f && u[1] == 0x8b;
}

int mdp_buf_gunzip(struct mdp_buf *b, const void *p, size_t n)
{
    return mdp_buf_gunzip_max(b, p, n, SIZE_MAX);
}

int mdp_buf_gunzip_max(struct mdp_buf *b, const void *p, size_t n, size_t max)
{
    size_t start = b->len;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return MDP_ERR_NOMEM;
    z.next_in = (unsigned char *)(uintptr_t)p;
    z.avail_in = (uInt)(n > UINT32_MAX ? UINT32_MAX : n);
    int zr;
    do {
        if (mdp_buf_reserve(b, 65536)) {
            inflateEnd(&z);
            return MDP_ERR_NOMEM;
        }
        if (b->len - start >= max) { /* more than max inflates: refused */
            inflateEnd(&z);
            return MDP_ERR_RANGE;
        }
        size_t room = b->cap - b->len - 1, left = max - (b->len - start);
        if (room > left) room = left;
        uInt avail = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
        z.next_out = (unsigned char *)b->data + b->len;
        z.avail_out = avail;
        zr = inflate(&z, Z_NO_FLUSH);
        b->len += avail - z.avail_out;
        b->data[b->len] = '\0';
        if (zr == Z_STREAM_END && z.avail_in > 0) { /* the next member */
            if (inflateReset(&z) != Z_OK) break;
            zr = Z_OK;
        }
    } while (zr == Z_OK);
    inflateEnd(&z);
    /* Z_BUF_ERROR with no input left: the stream ended before its end */
    return zr == Z_STREAM_END && n <= UINT32_MAX ? 0 : MDP_ERR_PARSE;
}
