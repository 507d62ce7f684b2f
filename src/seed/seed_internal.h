/* Shared state of the seed generator (src/seed/): the PRNG, the simulated world (accounts,
 * locations, users) and per-day output queues. Internal to the seed module. */
#ifndef MDP_SEED_INTERNAL_H
#define MDP_SEED_INTERNAL_H

#include "mdp/seed.h"
#include "mdp/buf.h"
#include "mdp/uuid.h"

#include <json-c/json.h>

struct mdp__rng {
    uint64_t s[4];
};
void mdp__rng_seed(struct mdp__rng *r, uint64_t seed);
uint64_t mdp__rng_next(struct mdp__rng *r);
uint64_t mdp__rng_next_cb(void *r); /* for uuid generators */
uint64_t mdp__rng_below(struct mdp__rng *r, uint64_t n);
double mdp__rng_unit(struct mdp__rng *r);
int mdp__rng_chance(struct mdp__rng *r, double p);
/* log-normal with the given median and spread (sigma of the log) */
double mdp__rng_lognormal(struct mdp__rng *r, double median, double sigma);

/* A timestamped output line; queues are sorted by (ts, seq) before writing. */
struct mdp__item {
    int64_t ts;
    int64_t seq;
    char *text;
};
struct mdp__queue {
    struct mdp__item *v;
    size_t n, cap;
};

enum {
    T_ACCOUNTS,
    T_USER_PROFILES,
    T_COMM_PREFS,
    T_ONBOARDING,
    T_LOCATIONS,
    T_VC,
    T_OAUTH,
    T_NTABLES
};

enum {
    GA4_PAGE_VIEW,
    GA4_SESSION_START,
    GA4_USER_ENGAGEMENT,
    GA4_FIRST_VISIT,
    GA4_SIGN_UP,
    GA4_SCROLL,
    GA4_NEVENTS
};

struct mdp__account {
    struct mdp_uuid id;
    char name[96];
    int category, price;
    int64_t created_ms;
    int first_loc, nloc;
    int gbp; /* linked to Google Business Profile */
    char gbp_account[24];
};

struct mdp__location {
    struct mdp_uuid id;
    int account, city;
    char street[96], postal[8];
    double lat, lng;
    int on_maps;
    char place_id[40];
    char gbp_id[24];
    char title[200];
};

struct mdp__user {
    struct mdp_uuid id;
    int account, persona, tone, address, help;
    char email[128], name[80];
    int64_t signup_ms;
    char ga4_client_id[32];
    int fb, ig;
    char fb_page_id[24], ig_id[24], fb_page_name[96];
    int verified;
    int64_t marketing_from, marketing_until; /* consent interval, -1 = never */
    int64_t last_login_ms;
    int onb_done;
};

struct mdp__seed {
    const struct mdp_seed_opts *o;
    struct mdp__rng r;
    struct mdp_store *out;
    struct mdp_seed_stats *st;
    struct mdp_diag *d;
    int64_t start_ms, end_ms, ndays, seq;
    struct mdp__account *acc;
    size_t nacc;
    struct mdp__location *loc;
    size_t nloc;
    struct mdp__user *users;
    size_t nusers;
    struct mdp__queue *events;         /* per day */
    struct mdp__queue *sns;            /* per day: SNS envelopes (SQS bodies) */
    struct mdp__queue ddb;             /* Firehose records, all days */
    struct mdp__queue *csv[T_NTABLES]; /* per table, per day */
    int64_t (*ga4)[GA4_NEVENTS][3];    /* per day: eventCount, activeUsers, sessions */
    int64_t *active_users;             /* per day */
};

/* queue helpers */
int mdp__queue_push(struct mdp__seed *s, struct mdp__queue *q, int64_t ts, char *text);
void mdp__queue_sort(struct mdp__queue *q);
void mdp__queue_free(struct mdp__queue *q);
/* day index of ts in the window, or -1 */
int64_t mdp__day_index(struct mdp__seed *s, int64_t ts);
/* writes bytes to the landing store, counting files and bytes */
int mdp__seed_put(struct mdp__seed *s, const char *key, const char *data, size_t len);
/* deterministic ids */
void mdp__uuid7_at(struct mdp__seed *s, int64_t ms, struct mdp_uuid *out);
void mdp__uuid4(struct mdp__seed *s, char out[37]);
void mdp__digits(struct mdp__seed *s, char *out, int n); /* n random digits, first non-zero */
/* 2026-10-01T14:03:27.512Z */
void mdp__iso(int64_t ms, char out[32]);
/* json-c to text: compact (SES records, DynamoDB) or pretty (API responses) */
char *mdp__json_text(json_object *o, int pretty);
json_object *mdp__jstr(const char *s);
json_object *mdp__jdouble(double v, int decimals);
/* should this record be a bad one? */
int mdp__bad(struct mdp__seed *s);

/* the sources */
int mdp__seed_world(struct mdp__seed *s); /* accounts, locations, users + app activity */
int mdp__seed_ses_user(struct mdp__seed *s, struct mdp__user *u, int64_t t, const char *kind);
int mdp__seed_campaigns(struct mdp__seed *s);
int mdp__seed_ddb_token(struct mdp__seed *s, struct mdp__user *u, int64_t t, int confirms,
                        int64_t confirm_ms);
int mdp__seed_ddb_consent(struct mdp__seed *s, struct mdp__user *u, int64_t t, const char *purpose,
                          const char *decision);
int mdp__seed_write_ses(struct mdp__seed *s);
int mdp__seed_write_ddb(struct mdp__seed *s);
int mdp__seed_write_ga4(struct mdp__seed *s);
int mdp__seed_write_gbp(struct mdp__seed *s);
int mdp__seed_write_meta(struct mdp__seed *s);

extern const char *const MDP__PERSONAS[4];
extern const char *const MDP__TONES[3];
extern const char *const MDP__ADDRESSES[3];

#endif
