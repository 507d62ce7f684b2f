/* UUID parsing and formatting, and monotonic UUIDv7 generation (include/mdp/uuid.h). */
#include "mdp/uuid.h"
#include "mdp/err.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static uint64_t os_rand64(void *unused)
{
    (void)unused;
    uint64_t v = 0;
    size_t got = 0;
    while (got < sizeof v) {
        ssize_t n = getrandom((char *)&v + got, sizeof v - got, 0);
        if (n > 0) got += (size_t)n;
    }
    return v;
}

void mdp_uuid7_gen_init(struct mdp_uuid7_gen *g, uint64_t (*rand64)(void *), void *rng)
{
    g->last_ms = -1;
    g->counter = 0;
    g->rand64 = rand64 ? rand64 : os_rand64;
    g->rng = rng;
}

int mdp_uuid7_next(struct mdp_uuid7_gen *g, int64_t now_ms, struct mdp_uuid *out)
{
    uint64_t r = g->rand64(g->rng);
    if (now_ms > g->last_ms) {
        g->last_ms = now_ms;
        /* start in the lower half so a burst in one ms has room to count up */
        g->counter = (uint16_t)(r & 0x7ff);
    } else if (g->counter < 0xfff) {
        g->counter++;
    } else {
        /* counter exhausted: borrow the next millisecond (RFC 9562 6.2) */
        g->last_ms++;
        g->counter = (uint16_t)(r & 0x7ff);
    }
    if (g->last_ms < 0 || g->last_ms > 0xffffffffffffLL) return MDP_ERR_RANGE;
    uint64_t ts = (uint64_t)g->last_ms;
    uint64_t rb = g->rand64(g->rng);
    uint8_t *b = out->b;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ts >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (g->counter >> 8));
    b[7] = (uint8_t)(g->counter & 0xff);
    b[8] = (uint8_t)(0x80 | ((rb >> 56) & 0x3f));
    for (int i = 9; i < 16; i++)
        b[i] = (uint8_t)(rb >> (8 * (15 - i)));
    return 0;
}

int mdp_uuid7_new(struct mdp_uuid *out)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static struct mdp_uuid7_gen gen;
    static int ready;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    pthread_mutex_lock(&lock);
    if (!ready) {
        mdp_uuid7_gen_init(&gen, NULL, NULL);
        ready = 1;
    }
    int rc = mdp_uuid7_next(&gen, now, out);
    pthread_mutex_unlock(&lock);
    return rc;
}

void mdp_uuid_format(const struct mdp_uuid *u, char buf[37])
{
    static const char hex[] = "0123456789abcdef";
    char *p = buf;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        *p++ = hex[u->b[i] >> 4];
        *p++ = hex[u->b[i] & 15];
    }
    *p = '\0';
}

/* hex digit values plus one (0: no digit), as constant tables; LOWER: lowercase digits only */
#define DIGITS                                                                                     \
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,        \
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16
static const signed char HEX[256] = {
    DIGITS, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16};
static const signed char LOWER[256] = {DIGITS};
#undef DIGITS

/* where byte i's two digits start, with and without the hyphens of 8-4-4-4-12 */
static const unsigned char AT36[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
static const unsigned char AT32[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};

/* 16 bytes from the 32 hex digits of s at the offsets at (val: the digits taken). Every id of
 * every ingested record is parsed here: one pass of table lookups, one branch at the end. */
static int parse_with(const signed char *val, const unsigned char *at, const char *s,
                      struct mdp_uuid *out)
{
    const unsigned char *p = (const unsigned char *)s;
    int bad = 0;
    for (int i = 0; i < 16; i++) {
        int hi = val[p[at[i]]] - 1, lo = val[p[at[i] + 1]] - 1;
        bad |= hi | lo; /* negative when either is no digit */
        out->b[i] = (uint8_t)((unsigned)hi << 4 | (unsigned)lo);
    }
    return bad < 0 ? MDP_ERR_PARSE : 0;
}

static int hyphens_at(const char *s)
{
    return s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-';
}

int mdp_uuid_parse_n(const char *s, size_t n, struct mdp_uuid *out)
{
    if (n == 36) return hyphens_at(s) ? parse_with(HEX, AT36, s, out) : MDP_ERR_PARSE;
    return n == 32 ? parse_with(HEX, AT32, s, out) : MDP_ERR_PARSE;
}

int mdp_uuid_parse_canonical(const char *s, size_t n, struct mdp_uuid *out)
{
    return n == 36 && hyphens_at(s) ? parse_with(LOWER, AT36, s, out) : MDP_ERR_PARSE;
}

int mdp_uuid_parse(const char *s, struct mdp_uuid *out)
{
    return mdp_uuid_parse_n(s, strlen(s), out);
}

int mdp_uuid_version(const struct mdp_uuid *u)
{
    return u->b[6] >> 4;
}

int mdp_uuid_is_rfc_variant(const struct mdp_uuid *u)
{
    return (u->b[8] & 0xc0) == 0x80;
}

int64_t mdp_uuid7_time_ms(const struct mdp_uuid *u)
{
    int64_t t = 0;
    for (int i = 0; i < 6; i++)
        t = t << 8 | u->b[i];
    return t;
}
