/* A small lake for the report's tests (test_report and tests/acceptance/report_browser.sh, which
 * runs this file's main through the report_fixture program): a dq_results table of two tables
 * over three days, dim_user with 100 users, ingest run records with quarantine, a failed run, and
 * one GiB of raw data. Every figure the tests expect follows from what is written here; "now" is
 * REPORT_FIXTURE_NOW. */
#include "report_fixture.h"
#include "mdp/engine.h"
#include "mdp/lake.h"
#include "mdp/store.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int run_record_ev(struct mdp_lake *lake, const char *id, const char *job, const char *status,
                         const char *start, long long in, long long quarantined,
                         const char *newest_event)
{
    char key[256], body[1024], ev[64] = "null";
    if (newest_event) snprintf(ev, sizeof ev, "\"%s\"", newest_event);
    snprintf(key, sizeof key, "_meta/runs/dt=%.10s/%s.json", start, id);
    /* the freshness runs carry no request counts: the cost figures come from the others */
    snprintf(body, sizeof body,
             "{\"run_id\":\"%s\",\"job\":\"%s\",\"status\":\"%s\",\"start\":\"%s\",\"end\":\"%s\","
             "\"duration_ms\":0,\"in\":%lld,\"out\":%lld,\"quarantined\":%lld,\"duplicates\":0,"
             "\"bytes\":0,\"message\":\"\",%s\"scanned_bytes\":0,\"newest_event\":%s}\n",
             id, job, status, start, start, in, in - quarantined, quarantined,
             newest_event ? "" : "\"requests\":{\"put\":10,\"get\":20,\"list\":1},", ev);
    struct mdp_diag d = {0};
    return mdp_store_put(lake->store, key, body, strlen(body), 0, &d);
}

static int run_record(struct mdp_lake *lake, const char *id, const char *job, const char *status,
                      const char *start, long long in, long long quarantined)
{
    return run_record_ev(lake, id, job, status, start, in, quarantined, NULL);
}

/* run r (1..3) on day 2026-10-(9+r): fact_email_events fails rule 3 in run 2; dim_user's rule 4
 * is an ERROR in run 3 */
static const char *DQ_SQL =
    "SELECT 'run-' || r AS run_id, TIMESTAMP '2026-10-09 06:00:00' + to_days(r::INTEGER) AS "
    "evaluated_at, t AS table_name, i AS rule_index, 'IsComplete \"c' || i || '\"' AS rule, "
    "CASE WHEN t = 'fact_email_events' AND r = 2 AND i = 3 THEN 'FAIL' WHEN t = 'dim_user' AND r = "
    "3 AND i = 4 THEN 'ERROR' ELSE 'PASS' END AS outcome, '{}' AS metrics, '' AS message, "
    "(DATE '2026-10-09' + r::INTEGER) AS dt FROM range(1, 4) r1(r), (VALUES ('fact_email_events'), "
    "('dim_user')) t1(t), range(1, 5) i1(i)";

int report_fixture_build(const char *dir, char *err, size_t errsz)
{
    struct mdp_lake *lake = NULL;
    struct mdp_engine *e = NULL;
    struct mdp_diag d = {0};
    int rc = mdp_lake_open(dir, 1, &lake, &d);
    if (!rc) rc = mdp_engine_open(NULL, &e, &d);
    if (!rc)
        rc = mdp_engine_write_table(e, lake, DQ_SQL, "_meta/tables/dq_results", "dt", "fx1", NULL,
                                    &d);
    if (!rc)
        rc = mdp_engine_write_table(e, lake,
                                    "SELECT 'u' || (i % 100) AS user_id, i AS version FROM "
                                    "range(200) r(i)",
                                    "curated/dimensions/dim_user", NULL, "fx2", NULL, &d);
    if (!rc) rc = run_record(lake, "a1", "ingest.ses", "ok", "2026-10-10T01:00:00.000Z", 1000, 10);
    if (!rc) rc = run_record(lake, "a2", "ingest.ses", "ok", "2026-10-11T01:00:00.000Z", 1000, 30);
    if (!rc) rc = run_record(lake, "a3", "ingest.events", "ok", "2026-10-11T01:00:00.000Z", 500, 0);
    if (!rc) rc = run_record(lake, "a4", "curate", "failed", "2026-10-12T01:00:00.000Z", 0, 0);
    /* more than 30 days before now: outside the window */
    if (!rc) rc = run_record(lake, "a0", "ingest.ses", "ok", "2026-09-01T01:00:00.000Z", 99, 99);
    /* ga4 lands every 12 hours from 1 October, fresh: its SLA (24 h) is met from then on */
    for (int k = 0; !rc && k < 32; k++) {
        char id[16], t[32];
        snprintf(id, sizeof id, "g%02d", k);
        snprintf(t, sizeof t, "2026-10-%02dT%s:00:00.000Z", 1 + k / 2, k % 2 ? "12" : "00");
        rc = run_record_ev(lake, id, "ingest.ga4", "ok", t, 5, 0, t);
    }
    /* the service's metrics snapshots: personalization p99 40, 60, 150 ms */
    static const char *const SNAPS[][2] = {{"2026-10-14", "2026-10-14T10:00:00.000Z"},
                                           {"2026-10-15", "2026-10-15T10:00:00.000Z"},
                                           {"2026-10-16", "2026-10-16T10:00:00.000Z"}};
    static const double P99[] = {40, 60, 150};
    for (int k = 0; !rc && k < 3; k++) {
        char key[128], body[1024];
        snprintf(key, sizeof key, "_meta/metrics/serve/dt=%s/%013d-1.json", SNAPS[k][0], k);
        snprintf(body, sizeof body,
                 "{\"time\":\"%s\",\"interval_s\":60,\"routes\":["
                 "{\"route\":\"/v1/personalize\",\"requests\":%d,\"interval\":{\"requests\":100,"
                 "\"p50_ms\":5,\"p90_ms\":20,\"p99_ms\":%g}},"
                 "{\"route\":\"/v1/events\",\"requests\":%d,\"interval\":{\"requests\":50,"
                 "\"p50_ms\":1,\"p90_ms\":2,\"p99_ms\":3}}],"
                 "\"interval\":{\"requests\":150,\"p50_ms\":3,\"p90_ms\":15,\"p99_ms\":%g}}\n",
                 SNAPS[k][1], 100 * (k + 1), P99[k], 50 * (k + 1), P99[k]);
        rc = mdp_store_put(lake->store, key, body, strlen(body), 0, &d);
    }
    if (!rc) {
        char path[1024];
        snprintf(path, sizeof path, "%s/raw/ses/big/dt=2026-09-20", dir);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
        rc = system(cmd) == 0 ? 0 : MDP_ERR_IO;
        strcat(path, "/a.bin");
        FILE *f = rc ? NULL : fopen(path, "wb");
        if (!f || fclose(f) || truncate(path, 1LL << 30)) rc = MDP_ERR_IO;
        struct timeval tv[2] = {{1789862400, 0}, {1789862400, 0}}; /* 2026-09-20T00:00:00Z */
        if (!rc && utimes(path, tv)) rc = MDP_ERR_IO;
        if (rc && !d.msg[0]) snprintf(d.msg, sizeof d.msg, "cannot make %.400s", path);
    }
    mdp_engine_close(e);
    mdp_lake_close(lake);
    if (rc) snprintf(err, errsz, "%s", d.msg);
    return rc;
}

#ifdef REPORT_FIXTURE_MAIN
int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: report_fixture LAKE_DIR\n");
        return 2;
    }
    char err[600];
    if (report_fixture_build(argv[1], err, sizeof err)) {
        fprintf(stderr, "report_fixture: %s\n", err);
        return 1;
    }
    return 0;
}
#endif
