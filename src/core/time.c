/* ISO-8601 and epoch parsing, formatting and date_key (include/mdp/time.h). Calendar arithmetic is
 * done on integers (days from civil) so results do not depend on TZ, locale or libc's timegm. */
#include "mdp/time.h"
#include "mdp/err.h"

#include <string.h>
#include <stdio.h>
#include <time.h>

int64_t mdp_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mdp_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void mdp_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int mdp_weekday_iso(int64_t days)
{
    /* 1970-01-01 was a Thursday (4) */
    int64_t w = (days % 7 + 7 + 3) % 7; /* 0 = Monday */
    return (int)w + 1;
}

static int days_in_month(int64_t y, unsigned m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

/* Reads exactly n digits at *p (bounded by end). */
static int digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*p >= end || (*p)[0] < '0' || (*p)[0] > '9') return -1;
        v = v * 10 + ((*p)[0] - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

int mdp_time_parse_iso(const char *s, size_t len, int64_t *out_ms)
{
    if (!s) return MDP_ERR_PARSE; /* a JSON null's text, for one */
    if (len == (size_t)-1) len = strlen(s);
    const char *p = s, *end = s + len;
    int Y, M, D, h = 0, mi = 0, sec = 0;
    int64_t frac_ms = 0;
    if (digits(&p, end, 4, &Y) || p >= end || *p++ != '-' || digits(&p, end, 2, &M) || p >= end ||
        *p++ != '-' || digits(&p, end, 2, &D))
        return MDP_ERR_PARSE;
    if (M < 1 || M > 12 || Y < 1 || D < 1 || D > days_in_month(Y, (unsigned)M))
        return MDP_ERR_RANGE;
    int64_t off_min = 0;
    if (p < end) {
        if (*p != 'T' && *p != 't' && *p != ' ') return MDP_ERR_PARSE;
        p++;
        if (digits(&p, end, 2, &h) || p >= end || *p++ != ':' || digits(&p, end, 2, &mi))
            return MDP_ERR_PARSE;
        if (p < end && *p == ':') {
            p++;
            if (digits(&p, end, 2, &sec)) return MDP_ERR_PARSE;
            if (p < end && (*p == '.' || *p == ',')) {
                p++;
                int nd = 0;
                while (p < end && *p >= '0' && *p <= '9') {
                    if (nd < 3) frac_ms = frac_ms * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0) return MDP_ERR_PARSE;
                for (int k = nd; k < 3; k++)
                    frac_ms *= 10;
            }
        }
        /* 24:00:00 is allowed only as the end of a day */
        if (h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi || sec || frac_ms)))
            return MDP_ERR_RANGE;
        if (sec == 60) sec = 59, frac_ms = 999; /* leap second: clamp, keep ordering */
        if (p < end && *p == ' ') p++;          /* "2018-10-08T14:05:45 +0000" (SES doc) */
        if (p >= end) return MDP_ERR_PARSE;     /* a time needs a zone: local time is ambiguous */
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (digits(&p, end, 2, &oh)) return MDP_ERR_PARSE;
            if (p < end && *p == ':') p++;
            if (p < end && digits(&p, end, 2, &om)) return MDP_ERR_PARSE;
            if (oh > 23 || om > 59) return MDP_ERR_RANGE;
            off_min = sign * (oh * 60 + om);
        } else {
            return MDP_ERR_PARSE;
        }
        if (p != end) return MDP_ERR_PARSE;
    }
    int64_t days = mdp_days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t ms = days * MDP_MS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + frac_ms -
                 off_min * 60000;
    if (ms < MDP_TIME_MIN_MS || ms > MDP_TIME_MAX_MS) return MDP_ERR_RANGE;
    *out_ms = ms;
    return 0;
}

/* Parses [-]digits[.digits] scaled by 10^scale_digits into an integer (fraction truncated). */
static int parse_scaled(const char *s, int scale, int64_t *out)
{
    const char *p = s;
    int neg = 0;
    if (*p == '-') neg = 1, p++;
    if (*p < '0' || *p > '9') return MDP_ERR_PARSE;
    int64_t v = 0;
    while (*p >= '0' && *p <= '9') {
        if (v > (INT64_MAX - 9) / 10) return MDP_ERR_RANGE;
        v = v * 10 + (*p++ - '0');
    }
    int64_t frac = 0;
    int nd = 0;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return MDP_ERR_PARSE;
        while (*p >= '0' && *p <= '9') {
            if (nd < scale) frac = frac * 10 + (*p - '0');
            nd++;
            p++;
        }
    }
    if (*p) return MDP_ERR_PARSE;
    for (int k = nd < scale ? nd : scale; k < scale; k++)
        frac *= 10;
    int64_t mul = 1;
    for (int k = 0; k < scale; k++)
        mul *= 10;
    if (v > (INT64_MAX - frac) / mul) return MDP_ERR_RANGE;
    v = v * mul + frac;
    *out = neg ? -v : v;
    return 0;
}

int mdp_time_parse_epoch_s(const char *s, int64_t *out_ms)
{
    int64_t v;
    int rc = parse_scaled(s, 3, &v);
    if (rc) return rc;
    if (v < MDP_TIME_MIN_MS || v > MDP_TIME_MAX_MS) return MDP_ERR_RANGE;
    *out_ms = v;
    return 0;
}

int mdp_time_parse_epoch_ms(const char *s, int64_t *out_ms)
{
    int64_t v;
    int rc = parse_scaled(s, 0, &v);
    if (rc == MDP_ERR_PARSE) {
        /* "1730815407512.0" */
        const char *dot = strchr(s, '.');
        char tmp[32];
        if (!dot || (size_t)(dot - s) >= sizeof tmp) return rc;
        memcpy(tmp, s, (size_t)(dot - s));
        tmp[dot - s] = '\0';
        for (const char *q = dot + 1; *q; q++)
            if (*q < '0' || *q > '9') return MDP_ERR_PARSE;
        if (dot[1] == '\0') return MDP_ERR_PARSE;
        rc = parse_scaled(tmp, 0, &v);
    }
    if (rc) return rc;
    if (v < MDP_TIME_MIN_MS || v > MDP_TIME_MAX_MS) return MDP_ERR_RANGE;
    *out_ms = v;
    return 0;
}

int mdp_date_parse(const char *s, int64_t *out_days)
{
    size_t n = strlen(s);
    int Y, M, D;
    const char *p = s, *end = s + n;
    if (n == 8) {
        if (digits(&p, end, 4, &Y) || digits(&p, end, 2, &M) || digits(&p, end, 2, &D))
            return MDP_ERR_PARSE;
    } else if (n == 10) {
        if (digits(&p, end, 4, &Y) || *p++ != '-' || digits(&p, end, 2, &M) || *p++ != '-' ||
            digits(&p, end, 2, &D))
            return MDP_ERR_PARSE;
    } else {
        return MDP_ERR_PARSE;
    }
    if (Y < 1 || M < 1 || M > 12 || D < 1 || D > days_in_month(Y, (unsigned)M))
        return MDP_ERR_RANGE;
    *out_days = mdp_days_from_civil(Y, (unsigned)M, (unsigned)D);
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t mdp_days_from_ms(int64_t ms)
{
    return floor_div(ms, MDP_MS_PER_DAY);
}

int mdp_time_format_ms(int64_t ms, char *buf, size_t n)
{
    if (ms < MDP_TIME_MIN_MS || ms > MDP_TIME_MAX_MS || n < 25) return MDP_ERR_RANGE;
    int64_t days = mdp_days_from_ms(ms);
    int64_t rem = ms - days * MDP_MS_PER_DAY;
    int64_t y;
    unsigned m, d;
    mdp_civil_from_days(days, &y, &m, &d);
    snprintf(buf, n, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", (int)y, m, d, (int)(rem / 3600000),
             (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
    return 0;
}

int mdp_date_format(int64_t days, char *buf, size_t n)
{
    int64_t y;
    unsigned m, d;
    if (n < 11) return MDP_ERR_RANGE;
    mdp_civil_from_days(days, &y, &m, &d);
    if (y < 1 || y > 9999) return MDP_ERR_RANGE;
    snprintf(buf, n, "%04d-%02u-%02u", (int)y, m, d);
    return 0;
}

int32_t mdp_date_key_from_days(int64_t days)
{
    int64_t y;
    unsigned m, d;
    mdp_civil_from_days(days, &y, &m, &d);
    return (int32_t)(y * 10000 + m * 100 + d);
}

int32_t mdp_date_key(int64_t ms)
{
    return mdp_date_key_from_days(mdp_days_from_ms(ms));
}

int mdp_time_parse_span(const char *s, int64_t *out_ms)
{
    if (!s || *s < '0' || *s > '9') return MDP_ERR_PARSE;
    int64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > 1000000000LL) return MDP_ERR_PARSE;
        v = v * 10 + (*p - '0');
    }
    int64_t unit;
    switch (*p) {
    case 's':
        unit = 1000;
        break;
    case 'm':
        unit = 60000;
        break;
    case 'h':
        unit = 3600000;
        break;
    case 'd':
        unit = MDP_MS_PER_DAY;
        break;
    default:
        return MDP_ERR_PARSE;
    }
    if (p[1] != '\0' || v <= 0 || v > 3650 * MDP_MS_PER_DAY / unit) return MDP_ERR_PARSE;
    *out_ms = v * unit;
    return 0;
}
