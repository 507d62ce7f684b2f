/* Growable byte buffer used across libmdp. Always NUL-terminated (data[len] == 0) so text can be
 * passed to C string functions; a failed grow keeps the old contents. */
#ifndef MDP_BUF_H
#define MDP_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct mdp_buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
};

void mdp_buf_init(struct mdp_buf *b);
/* Frees the storage; the buffer is empty and reusable afterwards. Accepts NULL. */
void mdp_buf_cleanup(struct mdp_buf *b);
/* Ensures room for `more` bytes plus the NUL. Returns 0 or MDP_ERR_NOMEM (buffer unchanged). */
int mdp_buf_reserve(struct mdp_buf *b, size_t more);
int mdp_buf_append(struct mdp_buf *b, const void *p, size_t n);
int mdp_buf_puts(struct mdp_buf *b, const char *s);
int mdp_buf_putc(struct mdp_buf *b, char c);
int mdp_buf_printf(struct mdp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int mdp_buf_vprintf(struct mdp_buf *b, const char *fmt, va_list ap);
/* A piece of text with its length, for mdp_buf_cat: MDP_LIT("...") for a literal (the length
 * known at compile time), MDP_STR(s) for a string. */
struct mdp_piece {
    const char *s;
    size_t n;
};
#define MDP_LIT(x) ((struct mdp_piece){"" x, sizeof(x) - 1})
#define MDP_STR(x) ((struct mdp_piece){(x), strlen(x)})
/* Appends the pieces with one reservation (all or nothing): text built on a hot path. */
int mdp_buf_cat(struct mdp_buf *b, const struct mdp_piece *p, size_t n);
/* Appends s as a JSON string literal (quotes and escapes included). */
int mdp_buf_json_str(struct mdp_buf *b, const char *s);
int mdp_buf_json_strn(struct mdp_buf *b, const char *s, size_t n);
void mdp_buf_reset(struct mdp_buf *b);
/* Hands the storage to the caller (free() it) and leaves b empty. Never NULL on success. */
char *mdp_buf_steal(struct mdp_buf *b);

/* Makes room in a growing array: when n has reached *cap, *(void **)pv is reallocated to twice
 * the capacity (first elements the first time). 0 or MDP_ERR_NOMEM (the array is kept). Use:
 * if (mdp_grow(&v, &cap, n, sizeof *v, 64)) ...; v[n++] = x; */
int mdp_grow(void *pv, size_t *cap, size_t n, size_t elem, size_t first);

/* Joins parts with sep into out (n bytes, always terminated, cut when too long): a snprintf
 * "%s|%s|..." without the format parsing, for hot paths. Returns the length written. */
size_t mdp_join(char *out, size_t n, const char *sep, const char *const *parts, int nparts);

/* 1 if the n bytes are well-formed UTF-8 without NUL bytes (no overlong forms, surrogates or
 * code points past U+10FFFF), else 0. */
int mdp_utf8_valid(const void *s, size_t n);

#endif
