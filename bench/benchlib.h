/* Shared helpers of the benchmarks: a monotonic clock, measuring a step in its own process (wall
 * time and peak RSS), a seeded, ingested lake to measure on, the QUICK size switch and the lines of
 * the summary table. */
#ifndef MDP_BENCHLIB_H
#define MDP_BENCHLIB_H
#include "mdp/config.h"

double bench_now_s(void);
/* Runs fn(ud) in a child process; returns its wall time in seconds and its peak RSS in KB. Exits
 * the benchmark when the step fails. */
double bench_measure(const char *name, int (*fn)(void *), void *ud, long *peak_kb);

struct bench_lake {
    struct mdp_config cfg;
    char dir[256];
    int reused;            /* MDP_BENCH_LAKE: an existing lake, kept afterwards */
    long long raw_records; /* records the ingest took in */
    double raw_mb;
};
/* A lake of MDP_BENCH_USERS users (default 100,000; 1,000 with QUICK=1) over 30 days, seeded and
 * ingested, in a new temporary folder; or the lake named by MDP_BENCH_LAKE: used as it is when it
 * holds a lake, else seeded and ingested there and kept (so that several benchmarks share one
 * seeding, as bench/run.sh does). MDP_BENCH_MEMORY sets
 * engine.memory_limit. Returns 0 or 1 (with a message on stderr). */
int bench_lake_open(struct bench_lake *b, const char *name);
/* Removes the lake unless MDP_BENCH_LAKE named it; frees the configuration. */
int bench_lake_close(struct bench_lake *b);

/* 1 when QUICK=1 is set (`make bench QUICK=1`): every benchmark runs at a size that keeps the
 * whole of `make bench` under five minutes; the full size is the default. */
int bench_quick(void);
/* Appends one row to the summary table that `make bench` prints at its end (bench/run.sh): the
 * tab-separated line name, our figure, the baseline's, the ratio, the target, the verdict, to the
 * file named by MDP_BENCH_SUMMARY (nothing when it is unset). A negative baseline or ratio prints
 * as "-"; verdict 1 is PASS, 0 FAIL, -1 a figure reported without a target. */
void bench_summary(const char *name, const char *unit, double ours, double baseline, double ratio,
                   const char *target, int verdict);
#endif
