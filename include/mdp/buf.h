/* Growable byte buffer used across libmdp. Always NUL-terminated (data[len] == 0) so text can be
 * passed to C string functions once something was appended (data is NULL before that).
 *
 * Errors are sticky: the first append that fails (out of memory, or a bad printf format) leaves
 * the content as it was before that append, records the error in `err`, and makes every later
 * append, printf and reserve a no-op that returns the same error. So a function that builds SQL
 * or JSON with many appends may check once at the end, with mdp_buf_error() or by handing the
 * content over with mdp_buf_take()/mdp_buf_steal(), which report the error instead of passing on
 * a truncated text. Reading `data` directly skips that check: look at mdp_buf_error() first.
 * mdp_buf_reset(), mdp_buf_truncate() and mdp_buf_cleanup() clear the error.
 *
 * Storage comes from mdp_malloc/mdp_realloc (mdp/alloc.h), so it is released with free() as
 * well. A buffer is not thread-safe; guard one shared between threads. */
#ifndef MDP_BUF_H
#define MDP_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct mdp_buf {
    char *data; /* NULL until the first append; owned by the buffer */
    size_t len;
    size_t cap;
    int err; /* 0, or the first error an append returned (sticky, see above) */
};

/* Makes b an empty buffer without error; allocates nothing, so it cannot fail. */
void mdp_buf_init(struct mdp_buf *b);
/* Frees the storage; the buffer is empty, without error and reusable afterwards. Accepts NULL.
 * Returns nothing. */
void mdp_buf_cleanup(struct mdp_buf *b);
/* Ensures room for `more` bytes plus the NUL (for a caller that writes at data + len itself).
 * Returns 0, MDP_ERR_NOMEM (which sticks), or the error already stuck on b; the content is kept. */
int mdp_buf_reserve(struct mdp_buf *b, size_t more);
/* The appends: n bytes at p, a C string, one character, printf-formatted text. Each returns 0,
 * MDP_ERR_NOMEM (out of memory), MDP_ERR_INVALID (printf: an encoding error), or the error already
 * stuck on b; on any error nothing is appended and the error sticks. The arguments are borrowed
 * (copied into b). */
int mdp_buf_append(struct mdp_buf *b, const void *p, size_t n);
/* See mdp_buf_append: returns 0 or the sticky error. */
int mdp_buf_puts(struct mdp_buf *b, const char *s);
/* See mdp_buf_append: returns 0 or the sticky error. */
int mdp_buf_putc(struct mdp_buf *b, char c);
/* See mdp_buf_append: returns 0 or the sticky error. */
int mdp_buf_printf(struct mdp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* See mdp_buf_append: returns 0 or the sticky error. */
int mdp_buf_vprintf(struct mdp_buf *b, const char *fmt, va_list ap);
/* A piece of text with its length, for mdp_buf_cat: MDP_LIT("...") for a literal (the length
 * known at compile time), MDP_STR(s) for a string. */
struct mdp_piece {
    const char *s;
    size_t n;
};
#define MDP_LIT(x) ((struct mdp_piece){"" x, sizeof(x) - 1})
#define MDP_STR(x) ((struct mdp_piece){(x), strlen(x)})
/* Appends the pieces with one reservation (all or nothing): text built on a hot path. The pieces
 * are borrowed. Returns 0 or the sticky error, as mdp_buf_append. */
int mdp_buf_cat(struct mdp_buf *b, const struct mdp_piece *p, size_t n);
/* Appends s as a JSON string literal (quotes and escapes included); s is borrowed. Returns 0 or
 * the sticky error, as mdp_buf_append (on error no part of the literal is left in b). */
int mdp_buf_json_str(struct mdp_buf *b, const char *s);
/* As mdp_buf_json_str for the n bytes at s (which may hold NUL bytes, escaped as \u0000).
 * Returns 0 or the sticky error. */
int mdp_buf_json_strn(struct mdp_buf *b, const char *s, size_t n);
/* Empties b and clears its error, keeping the storage for reuse. Returns nothing. */
void mdp_buf_reset(struct mdp_buf *b);
/* Cuts b back to its first len bytes (len <= b->len; a larger len is ignored) and clears its
 * error: the way to drop a partly built record after a failed append and go on. Returns nothing. */
void mdp_buf_truncate(struct mdp_buf *b, size_t len);
/* Returns the error stuck on b: 0 when every append so far succeeded, else the first error. */
int mdp_buf_error(const struct mdp_buf *b);
/* Hands the content over: on success *out_data is the NUL-terminated text (never NULL; the caller
 * frees it with free()), *out_len (if out_len is not NULL) its length, and b is left empty.
 * Returns 0, the error stuck on b, or MDP_ERR_NOMEM; on error *out_data is NULL and b is cleaned
 * up (empty, error cleared), so a truncated text is never handed on. */
int mdp_buf_take(struct mdp_buf *b, char **out_data, size_t *out_len);
/* mdp_buf_take without the error code: returns the text (the caller frees it with free()) or NULL
 * when an append failed (the error that was stuck on b) or out of memory; b is left empty. */
char *mdp_buf_steal(struct mdp_buf *b);

/* Returns 1 when the n bytes at p start with gzip's magic bytes (1f 8b), else 0. */
int mdp_gzip_magic(const void *p, size_t n);
/* Appends to b the inflation of the gzip stream at p (n bytes, borrowed): every member of it, one
 * after the other, as Firehose concatenates them. Returns 0, MDP_ERR_PARSE for a truncated or
 * corrupt stream (b keeps what inflated before the damage: readers that must not lose a record
 * read it), or MDP_ERR_NOMEM (b's sticky error, as an append's). */
int mdp_buf_gunzip(struct mdp_buf *b, const void *p, size_t n);
/* As mdp_buf_gunzip, appending at most max bytes, so that a small body cannot inflate into
 * gigabytes. Returns as mdp_buf_gunzip, or MDP_ERR_RANGE (b keeps the first max bytes) when the
 * stream inflates to more. */
int mdp_buf_gunzip_max(struct mdp_buf *b, const void *p, size_t n, size_t max);

/* Makes room in a growing array: when n has reached *cap, *(void **)pv is reallocated to twice
 * the capacity (first elements the first time). Returns 0 or MDP_ERR_NOMEM (the array is kept,
 * still owned by the caller, who frees it with free()). Use:
 * if (mdp_grow(&v, &cap, n, sizeof *v, 64)) ...; v[n++] = x; */
int mdp_grow(void *pv, size_t *cap, size_t n, size_t elem, size_t first);

/* Joins parts with sep into out (n bytes, always terminated, cut when too long): a snprintf
 * "%s|%s|..." without the format parsing, for hot paths. Returns the length written; cannot fail.
 * The parts are borrowed; out is the caller's. */
size_t mdp_join(char *out, size_t n, const char *sep, const char *const *parts, int nparts);

/* Returns 1 if the n bytes are well-formed UTF-8 without NUL bytes (no overlong forms, surrogates
 * or code points past U+10FFFF), else 0; s is borrowed. Cannot fail. */
int mdp_utf8_valid(const void *s, size_t n);
/* Checks that the n bytes at s are well-formed UTF-8 (NUL bytes allowed) and, when they are not,
 * writes into out (reset first) a copy where each offending byte is replaced by U+FFFD, and sets
 * *first_bad (if not NULL) to the offset of the first. Returns the number of replacements: 0 when
 * s is well-formed (out untouched), or -MDP_ERR_NOMEM when out could not grow. s is borrowed. */
int64_t mdp_utf8_repair(const void *s, size_t n, struct mdp_buf *out, size_t *first_bad);

#endif
