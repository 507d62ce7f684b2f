/* Benchmark: what durability costs the state store (issue 11, defect 3). Consent appends/s, DOI
 * confirmations/s (each one token read, two writes and a journal append) and bandit counter
 * updates/s (mdp_state_add), on one connection, with SQLite's synchronous=NORMAL (the old setting:
 * a power loss may drop acknowledged commits) and synchronous=FULL (the store's setting: the WAL
 * is fsynced at every commit), in a fresh store on the disk the lake would use (MDP_BENCH_DIR,
 * default the current folder: /tmp may be memory, where fsync costs nothing). Prints the rates and
 * FULL's cost as a ratio; docs/consent.md records the figures. Run by `make bench`. */
#include "benchlib.h"
#include "mdp/consent.h"
#include "mdp/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define APPENDS  400
#define CONFIRMS 200
#define COUNTERS 400

struct rates {
    double appends, confirms, counters;
};

static int run(const char *dir, int level, struct rates *out)
{
    char path[600];
    snprintf(path, sizeof path, "%s/bench-state-%d-%ld.sqlite", dir, level, (long)getpid());
    struct mdp_state *s = NULL;
    struct mdp_diag d = {0};
    int rc = mdp_state_open(path, &s, &d), got = -1;
    if (!rc) rc = mdp_state_synchronous(s, level, &got, &d);
    if (!rc && got != level) rc = mdp_diag_set(&d, MDP_ERR_IO, "level %d not in force", level);
    int64_t now = 1793000000000LL; /* 2026-10-25: fixed, so the records are the same each run */
    double t0 = bench_now_s();
    for (int i = 0; !rc && i < APPENDS; i++) {
        struct mdp_consent_record r = {0};
        char email[64];
        snprintf(email, sizeof email, "user%d@example.de", i);
        rc = mdp_consent_subject(&r, email, NULL, &d);
        snprintf(r.purpose, sizeof r.purpose, "%s", i % 2 ? "analytics" : "ml");
        r.granted = 1;
        r.ts_ms = now;
        snprintf(r.source, sizeof r.source, "bench");
        if (!rc) rc = mdp_consent_append(s, &r, now, &d);
    }
    out->appends = APPENDS / (bench_now_s() - t0);
    static char tokens[CONFIRMS][MDP_DOI_TOKEN_LEN + 1];
    for (int i = 0; !rc && i < CONFIRMS; i++) {
        char email[64];
        snprintf(email, sizeof email, "doi%d@example.de", i);
        rc = mdp_doi_issue(s, email, NULL, now, tokens[i], &d);
    }
    t0 = bench_now_s();
    for (int i = 0; !rc && i < CONFIRMS; i++) {
        int result = 0;
        rc = mdp_doi_confirm(s, tokens[i], now + 1000, &result, NULL, &d);
        if (!rc && result != MDP_DOI_CONFIRMED)
            rc = mdp_diag_set(&d, MDP_ERR_INVALID, "token %d not confirmed (%d)", i, result);
    }
    out->confirms = CONFIRMS / (bench_now_s() - t0);
    t0 = bench_now_s();
    for (int i = 0; !rc && i < COUNTERS; i++)
        rc = mdp_state_add(s, "bandit_bench", "ctx", i % 2 ? "a" : "b", "s", 1, NULL, &d);
    out->counters = COUNTERS / (bench_now_s() - t0);
    mdp_state_close(s);
    static const char *const ext[] = {"", "-wal", "-shm"};
    for (int k = 0; k < 3; k++) {
        char p[640];
        snprintf(p, sizeof p, "%s%s", path, ext[k]);
        remove(p);
    }
    if (rc) fprintf(stderr, "bench_state: %s\n", d.msg);
    return rc;
}

int main(void)
{
    const char *dir = getenv("MDP_BENCH_DIR");
    if (!dir || !*dir) dir = ".";
    struct rates normal, full;
    if (run(dir, 1, &normal) || run(dir, 2, &full)) return 1;
    printf("state store in %s (one connection, WAL):\n", dir);
    printf("  %-28s %12s %12s %8s\n", "", "NORMAL /s", "FULL /s", "FULL/NORMAL");
    printf("  %-28s %12.0f %12.0f %8.2f\n", "consent appends", normal.appends, full.appends,
           full.appends / normal.appends);
    printf("  %-28s %12.0f %12.0f %8.2f\n", "DOI confirmations", normal.confirms, full.confirms,
           full.confirms / normal.confirms);
    printf("  %-28s %12.0f %12.0f %8.2f\n", "bandit counter updates", normal.counters,
           full.counters, full.counters / normal.counters);
    /* no target: what synchronous=FULL (the baseline column) costs against NORMAL */
    bench_summary("state consent appends (NORMAL vs FULL)", "/s", normal.appends, full.appends,
                  normal.appends / full.appends, "-", -1);
    bench_summary("state bandit counter updates (NORMAL vs FULL)", "/s", normal.counters,
                  full.counters, normal.counters / full.counters, "-", -1);
    return 0;
}
