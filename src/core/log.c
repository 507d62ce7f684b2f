/* JSON-lines logger with PII scrubbing (include/mdp/log.h). Emails are replaced by a pseudonym
 * (a prefix of their SHA-256, enough to correlate log lines, too short to be the analytics key),
 * secrets by "[redacted]". A line is built in memory and written with one fwrite under a lock so
 * concurrent threads never interleave. */
#include "mdp/log.h"
#include "mdp/buf.h"
#include "mdp/hash.h"
#include "mdp/time.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

static enum mdp_log_level g_level = MDP_LOG_INFO;
static FILE *g_stream;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void mdp_log_set_level(enum mdp_log_level lvl)
{
    g_level = lvl;
}

enum mdp_log_level mdp_log_get_level(void)
{
    return g_level;
}

void mdp_log_set_stream(FILE *f)
{
    g_stream = f;
}

int mdp_log_level_parse(const char *s, enum mdp_log_level *out_lvl)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out_lvl = (enum mdp_log_level)i;
            return 0;
        }
    }
    return -2; /* MDP_ERR_INVALID */
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return 0;
}

int mdp_log_is_secret_name(const char *name)
{
    static const char *words[] = {"token",  "key",           "secret",     "password",
                                  "passwd", "authorization", "credential", "signature"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (contains_nocase(name, words[i])) return 1;
    return 0;
}

static int is_local_char(unsigned char c)
{
    return isalnum(c) || strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL;
}

static int is_domain_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.';
}

int mdp_log_scrub(const char *text, struct mdp_buf *out)
{
    size_t n = strlen(text);
    size_t i = 0;
    int rc = 0;
    while (i < n && !rc) {
        /* Bearer tokens: keep the word, drop the credential. */
        if ((i == 0 || !isalnum((unsigned char)text[i - 1])) &&
            strncasecmp(text + i, "bearer ", 7) == 0) {
            rc = mdp_buf_puts(out, "Bearer [redacted]");
            i += 7;
            while (i < n && !isspace((unsigned char)text[i]) && text[i] != '"')
                i++;
            continue;
        }
        if (text[i] == '@' && i > 0 && is_local_char((unsigned char)text[i - 1])) {
            size_t s = out->len, ls = i;
            /* walk back over the local part already copied */
            while (ls > 0 && is_local_char((unsigned char)text[ls - 1]))
                ls--;
            size_t de = i + 1;
            while (de < n && is_domain_char((unsigned char)text[de]))
                de++;
            const char *dot = memchr(text + i + 1, '.', de - i - 1);
            if (dot && de > i + 2) {
                char email[320], hex[65];
                size_t len = de - ls;
                if (len < sizeof email && s >= i - ls) {
                    memcpy(email, text + ls, len);
                    email[len] = '\0';
                    out->len = s - (i - ls);
                    out->data[out->len] = '\0';
                    if (mdp_email_hash(email, hex) == 0) {
                        hex[12] = '\0';
                        rc = mdp_buf_printf(out, "email:%s", hex);
                    } else {
                        rc = mdp_buf_puts(out, "email:[redacted]");
                    }
                    i = de;
                    continue;
                }
            }
        }
        rc = mdp_buf_putc(out, text[i]);
        i++;
    }
    return rc;
}

/* 0, or MDP_ERR_NOMEM when the value could not be scrubbed (then the line must not be written:
 * it would hold a key without a value) */
static int put_str_field(struct mdp_buf *line, const char *key, const char *val)
{
    int rc = 0;
    struct mdp_buf clean;
    mdp_buf_init(&clean);
    mdp_buf_puts(line, ",");
    mdp_buf_json_str(line, key);
    mdp_buf_putc(line, ':');
    if (!val) {
        mdp_buf_puts(line, "null");
    } else if (mdp_log_is_secret_name(key)) {
        mdp_buf_json_str(line, "[redacted]");
    } else if ((rc = mdp_log_scrub(val, &clean)) == 0) {
        mdp_buf_json_strn(line, clean.data ? clean.data : "", clean.len);
    }
    mdp_buf_cleanup(&clean);
    return rc;
}

void mdp_log(enum mdp_log_level lvl, const char *msg, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (lvl < g_level || lvl >= MDP_LOG_OFF) return;
    struct mdp_buf line, clean;
    mdp_buf_init(&line);
    mdp_buf_init(&clean);
    char ts[32];
    mdp_time_format_ms(mdp_time_now_ms(), ts, sizeof ts);
    mdp_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, names[lvl]);
    int bad = mdp_log_scrub(msg, &clean); /* appends below stop at line's first error */
    mdp_buf_json_strn(&line, clean.data ? clean.data : "", clean.len);
    mdp_buf_cleanup(&clean);

    va_list ap;
    va_start(ap, msg);
    for (;;) {
        enum mdp_log_field kind = (enum mdp_log_field)va_arg(ap, int);
        if (kind == MDP_LF_END) break;
        const char *key = va_arg(ap, const char *);
        switch (kind) {
        case MDP_LF_STR:
            bad |= put_str_field(&line, key, va_arg(ap, const char *));
            break;
        case MDP_LF_INT:
            mdp_buf_putc(&line, ',');
            mdp_buf_json_str(&line, key);
            mdp_buf_printf(&line, ":%lld", (long long)va_arg(ap, int64_t));
            break;
        case MDP_LF_DBL:
            mdp_buf_putc(&line, ',');
            mdp_buf_json_str(&line, key);
            mdp_buf_printf(&line, ":%.6g", va_arg(ap, double));
            break;
        case MDP_LF_BOOL:
            mdp_buf_putc(&line, ',');
            mdp_buf_json_str(&line, key);
            mdp_buf_puts(&line, va_arg(ap, int) ? ":true" : ":false");
            break;
        default:
            goto done; /* a malformed list: stop rather than read garbage */
        }
    }
done:
    va_end(ap);
    mdp_buf_puts(&line, "}\n");
    if (line.data && !bad && !mdp_buf_error(&line)) { /* never half a line, nor a lost message */
        pthread_mutex_lock(&g_lock);
        FILE *f = g_stream ? g_stream : stderr;
        fwrite(line.data, 1, line.len, f);
        fflush(f);
        pthread_mutex_unlock(&g_lock);
    }
    mdp_buf_cleanup(&line);
}
