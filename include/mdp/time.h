/* Time in libmdp: every instant is int64 milliseconds since the Unix epoch, UTC. Parses ISO-8601 as
 * the sources send it (fractions of any length, Z or +-HH:MM / +-HHMM offsets, 'T' or ' ' between
 * date and time, a space before the offset) and epoch seconds or milliseconds, possibly with a
 * fraction. date_key is the spec's YYYYMMDD integer of the UTC calendar date. Pure functions; no
 * locale, no TZ environment; thread-safe. */
#ifndef MDP_TIME_H
#define MDP_TIME_H

#include <stdint.h>
#include <stddef.h>

#define MDP_MS_PER_DAY 86400000LL
/* Accepted years: 0001-9999, so every instant has a 4-digit ISO form. */
#define MDP_TIME_MIN_MS (-62135596800000LL)
#define MDP_TIME_MAX_MS (253402300799999LL)

/* Returns the wall-clock time in ms since the epoch (CLOCK_REALTIME). Cannot fail. */
int64_t mdp_time_now_ms(void);

/* Parses an ISO-8601 timestamp or date (YYYY-MM-DD means midnight UTC) of exactly len bytes (or up
 * to NUL when len is (size_t)-1). Returns 0 or MDP_ERR_PARSE / MDP_ERR_RANGE; MDP_ERR_PARSE for a
 * NULL s (json_object_get_string of a JSON null, say). */
int mdp_time_parse_iso(const char *s, size_t len, int64_t *out_ms);
/* Parses epoch seconds ("1730815407", "1693997155.0") into *out_ms. Returns 0 or MDP_ERR_PARSE /
 * MDP_ERR_RANGE. */
int mdp_time_parse_epoch_s(const char *s, int64_t *out_ms);
/* Parses epoch milliseconds (possibly with a fraction) into *out_ms. Returns 0 or MDP_ERR_PARSE /
 * MDP_ERR_RANGE. */
int mdp_time_parse_epoch_ms(const char *s, int64_t *out_ms);
/* Parses a span: a whole number with a unit s, m, h or d ("90s", "5m", "24h", "2d") into
 * *out_ms. Returns 0 or MDP_ERR_PARSE (no diag). */
int mdp_time_parse_span(const char *s, int64_t *out_ms);
/* Parses YYYY-MM-DD or YYYYMMDD into days since the epoch. Returns 0 or MDP_ERR_PARSE /
 * MDP_ERR_RANGE. */
int mdp_date_parse(const char *s, int64_t *out_days);

/* Formats as 2024-11-05T14:03:27.512Z. buf needs 25 bytes. Returns 0 or MDP_ERR_RANGE. */
int mdp_time_format_ms(int64_t ms, char *buf, size_t n);
/* Formats days since epoch as YYYY-MM-DD into buf (n >= 11 bytes). Returns 0 or MDP_ERR_RANGE (a
 * year outside 0001-9999, or buf too small). */
int mdp_date_format(int64_t days, char *buf, size_t n);

/* Returns YYYYMMDD of the UTC date of ms (spec 4's date_key). Cannot fail. */
int32_t mdp_date_key(int64_t ms);
/* Returns YYYYMMDD of the date `days` after the epoch. Cannot fail. */
int32_t mdp_date_key_from_days(int64_t days);
/* Returns the days since the epoch of the UTC date of ms (floor, also before 1970). */
int64_t mdp_days_from_ms(int64_t ms);

/* Proleptic Gregorian calendar helpers (Howard Hinnant's algorithms). Returns the days since the
 * epoch of y-m-d. Cannot fail. */
int64_t mdp_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The inverse: year, month (1-12) and day (1-31) of `days` into *y, *m, *d. */
void mdp_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* Returns the ISO weekday of `days`: 1 = Monday .. 7 = Sunday. */
int mdp_weekday_iso(int64_t days);

#endif
