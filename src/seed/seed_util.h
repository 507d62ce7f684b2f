/* The bottom layer of the seed module (src/seed/), shared by the world and every writer and
 * depending on neither: the one PRNG, the run's context (window, landing store, counters), text
 * helpers for the official formats, and the spool that lets a writer emit records in generation
 * order and read them back per day in time order without holding a run in memory. */
#ifndef MDP_SEED_UTIL_H
#define MDP_SEED_UTIL_H

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

/* A spool: records with a timestamp, kept per day of the window. Records go to the day's chain of
 * fixed-size blocks taken from the run's block pool (no buffer ever grows by copying) and, when
 * all days together pass a budget, as sorted runs to per-day files in the run's scratch folder,
 * their blocks going back to the pool; draining a day merges them in (timestamp, order of adding)
 * order, reading each run through a small window, so a day of any size passes through bounded
 * memory. */
struct mdp__block;
struct mdp__runs {
    uint64_t *start; /* offsets of the sorted runs in the day's scratch file */
    size_t n, cap;
    uint64_t end; /* the file's size */
};
struct mdp__dayq {
    struct mdp__block *head, *tail; /* records: [int64 ts][uint32 len][bytes][NUL]... */
    size_t bytes;                   /* block bytes held */
    size_t nrec;
};
struct mdp__spool {
    const char *name;
    struct mdp__dayq *day;  /* ndays */
    struct mdp__runs *runs; /* ndays: what went to the scratch file */
};

#define MDP__MAX_SPOOLS 16

struct mdp__seed {
    const struct mdp_seed_opts *o;
    struct mdp__rng r;
    struct mdp_store *out;
    struct mdp_seed_stats *st;
    struct mdp_diag *d;
    int64_t start_ms, end_ms, ndays;
    char scratch[256];      /* scratch folder of the spools ("" until the first spill) */
    struct mdp__pool *pool; /* the spools' blocks (free ones, bytes held): shared, locked */
    struct mdp__spool *spools[MDP__MAX_SPOOLS];
    int nspools;
    void *writer_state[16]; /* per writer, indexed like the writer table */
    struct mdp__io *io;     /* the landing writes in flight (mdp__io_start) */
    struct mdp__feed *feed; /* the spools' thread (mdp__spool_thread_start) */
};

/* day index of ts in the window, or -1 */
int64_t mdp__day_index(struct mdp__seed *s, int64_t ts);
/* Writes one whole object to the landing store (atomic, not fsync'd), counting files and bytes.
 * After mdp__io_start the put is queued (key and data copied) for the writer threads; an error of
 * an earlier put is returned by a later one or by mdp__io_finish. */
int mdp__seed_put(struct mdp__seed *s, const char *key, const char *data, size_t len);
/* Starts the writer threads (without them, puts are made in place). 0 or MDP_ERR_NOMEM. */
int mdp__io_start(struct mdp__seed *s);
/* Waits for every queued put and stops the threads; returns the first put's error (detail in
 * s->d) or 0. Accepts a run that never started them. */
int mdp__io_finish(struct mdp__seed *s);
/* deterministic ids */
void mdp__uuid7_at(struct mdp__seed *s, int64_t ms, struct mdp_uuid *out);
void mdp__uuid4(struct mdp__seed *s, char out[37]);
void mdp__digits(struct mdp__seed *s, char *out, int n); /* n random digits, first non-zero */
/* 2026-10-01T14:03:27.512Z */
void mdp__iso(int64_t ms, char out[32]);
/* PostgreSQL timestamptz text in UTC: 2026-10-01 14:03:27.512+00 (trailing zeros dropped) */
void mdp__pg_ts(int64_t ms, char out[40]);
/* json-c to text: compact (SES records, DynamoDB) or pretty (API responses); frees o */
char *mdp__json_text(json_object *o, int pretty);
json_object *mdp__jstr(const char *s);
json_object *mdp__jdouble(double v, int decimals);
/* should this record be a bad one? */
int mdp__bad(struct mdp__seed *s);
int mdp__nomem(struct mdp__seed *s);

/* Registers sp with the run (name borrowed). 0 or MDP_ERR_NOMEM. */
int mdp__spool_init(struct mdp__seed *s, struct mdp__spool *sp, const char *name);
/* Adds a record at ts (days outside the window go to the nearest day). Copies text. While the
 * spools' thread runs, the record is handed to it (the order of adding kept) and an error of an
 * earlier add is returned by a later one or by mdp__spool_thread_stop. */
int mdp__spool_add(struct mdp__seed *s, struct mdp__spool *sp, int64_t ts, const char *text,
                   size_t len);
/* Starts the spools' thread, which stores and spills the records added from then on while the
 * world goes on (every spool must be registered before). Without it (no thread to be had) adds are
 * made in place. 0 or MDP_ERR_NOMEM. */
int mdp__spool_thread_start(struct mdp__seed *s);
/* Hands over what is left, waits for the thread to store it and stops it: afterwards the spools
 * are the calling thread's again. Returns the first add's error (detail in s->d) or 0. Accepts a
 * run that never started it. */
int mdp__spool_thread_stop(struct mdp__seed *s);
/* 1 if the spool holds no record of day */
int mdp__spool_empty(const struct mdp__spool *sp, int64_t day);
/* Calls cb for the records of one day in (ts, order of adding) order and forgets them. The text
 * passed to cb is NUL-terminated and valid during the call only. Once no record is added any
 * more, different days (of one spool or of several) may be drained at once on different threads,
 * each with a shallow copy of s whose d and st are its own (the block pool is locked). */
typedef int (*mdp__spool_cb)(struct mdp__seed *s, void *ud, int64_t ts, const char *text,
                             size_t len);
int mdp__spool_drain(struct mdp__seed *s, struct mdp__spool *sp, int64_t day, mdp__spool_cb cb,
                     void *ud);
/* Frees the buffers and removes the scratch files. Accepts a spool never initialised (zeroed). */
void mdp__spool_cleanup(struct mdp__seed *s, struct mdp__spool *sp);
/* Removes the scratch folder (after every spool's cleanup). */
void mdp__scratch_cleanup(struct mdp__seed *s);

#endif
