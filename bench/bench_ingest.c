/* Benchmark: the events, ses and ddb connectors' checks on 1,000,000 records each over ten
 * delivery days, in deliveries of 10,000 records (NDJSON files, Firehose objects) or Lambda SQS
 * events of 10, reporting records/s, MB/s, the input size and memory (RSS) at 300k and at 1M
 * records, each source in its own process: parsing is streaming and the duplicate index holds two
 * delivery days of ids, as the ingest stage does, so memory must not grow with the input once two
 * days are in. Baseline: the bare reader below, parsing the same bytes with json-c alone; the
 * ratio is check time / bare time. For events, yajl's bare parse of the same lines (the stream
 * parser the events check reads valid lines with) is timed too and reported beside json-c's, as
 * informational rows of the summary. QUICK=1: 100,000 records each. With MDP_BENCH_SUMMARY set,
 * one summary line per source is appended there (benchlib.h). An argument (events, ses, ddb)
 * runs that source alone, e.g. under perf. Run by `make bench`. */
#include "benchlib.h"
#include "mdp/ingest.h"
#include "mdp/lake.h"

#include <json-c/json.h>
#include <yajl/yajl_parse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

/* CPU time of this thread: on shared cores, the time other processes hold the core is not ours
 * nor the baseline's, and counting it would make the ratio depend on who else runs. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

/* one delivery of n records of the source */
static void make_delivery(const char *src, long first, long n, struct mdp_buf *b)
{
    mdp_buf_reset(b);
    for (long i = first; i < first + n; i++) {
        if (strcmp(src, "events") == 0) {
            mdp_buf_printf(b,
                           "{\"event_id\":\"01900000-0000-7000-8000-%012lx\",\"user_id\":"
                           "\"01900000-0000-7000-8000-"
                           "%012lx\",\"account_id\":\"01900000-0000-7000-9000-000000000001\","
                           "\"external_ids\":{"
                           "\"ga4_client_id\":\"1234567890.1730815407\"},\"timestamp\":\"2026-10-"
                           "01T10:%02ld:%02ld."
                           "%03ldZ\",\"event_type\":\"step_completed\",\"properties\":{\"step_id\":"
                           "\"comm_prefs\","
                           "\"duration_seconds\":%ld}}\n",
                           i, i % 5000, (i / 60) % 60, i % 60, i % 1000, i % 600);
        } else if (strcmp(src, "ddb") == 0) {
            mdp_buf_printf(
                b,
                "{\"awsRegion\":\"eu-central-1\",\"eventID\":\"%08lx-5a41-4b7e-9a52-0c1f8e6b2d47\","
                "\"eventName\":\"INSERT\",\"userIdentity\":null,\"recordFormat\":\"application/"
                "json\","
                "\"tableName\":\"ConsentJournal\",\"dynamodb\":{\"ApproximateCreationDateTime\":%"
                "ld,"
                "\"Keys\":{\"email\":{\"S\":\"u%ld@example.com\"},\"ts\":{\"S\":\"2026-10-01T10:00:"
                "00Z\"}},"
                "\"NewImage\":{\"email\":{\"S\":\"u%ld@example.com\"},\"ts\":{\"S\":\"2026-10-"
                "01T10:00:00Z\"},"
                "\"consent_type\":{\"S\":\"marketing_email\"},\"decision\":{\"S\":\"granted\"},"
                "\"policy_version\":{\"N\":\"3\"},\"channels\":{\"SS\":[\"email\"]},\"withdrawn_"
                "reason\":{"
                "\"NULL\":true}},\"SizeBytes\":431},\"eventSource\":\"aws:dynamodb\"}",
                i, 1790849100000L + i, i, i); /* the change after its decision (ts) */
        }
    }
    if (strcmp(src, "ses") == 0) { /* one Lambda SQS event of n SNS-wrapped SES records */
        mdp_buf_puts(b, "{\"Records\":[");
        for (long i = first; i < first + n; i++) {
            char msg[1024], env[2048];
            snprintf(msg, sizeof msg,
                     "{\"eventType\":\"Open\",\"mail\":{\"timestamp\":\"2026-10-01T09:00:00.000Z\","
                     "\"source\":"
                     "\"no-reply@mail.example.com\",\"sendingAccountId\":\"123456789012\","
                     "\"messageId\":\"m-%ld\","
                     "\"destination\":[\"u%ld@example.com\"],\"tags\":{\"campaign_id\":[\"cmp\"],"
                     "\"copy_variant\":"
                     "[\"B\"]}},\"open\":{\"ipAddress\":\"192.0.2.1\",\"timestamp\":\"2026-10-"
                     "01T10:00:00.000Z\","
                     "\"userAgent\":\"Mozilla/5.0\"}}",
                     i, i);
            struct mdp_buf e;
            mdp_buf_init(&e);
            mdp_buf_printf(
                &e,
                "{\n  \"Type\" : \"Notification\",\n  \"MessageId\" : "
                "\"%08lx-0000-4000-8000-000000000000\",\n"
                "  \"TopicArn\" : \"arn:aws:sns:eu-central-1:123456789012:ses\",\n  \"Message\" : ",
                i);
            mdp_buf_json_str(&e, msg);
            mdp_buf_puts(&e, "\n}");
            snprintf(env, sizeof env, "%s", e.data);
            mdp_buf_cleanup(&e);
            if (i != first) mdp_buf_putc(b, ',');
            mdp_buf_puts(b, "{\"messageId\":\"q\",\"body\":");
            mdp_buf_json_str(b, env);
            mdp_buf_putc(b, '}');
        }
        mdp_buf_puts(b, "]}");
    }
}

/* The bare reader of the same bytes: what any reader of the delivery pays with json-c alone. It
 * frames the records as the connector must (NDJSON lines split at '\n'; values back to back; the
 * SQS event, then the body and Message strings inside each record, by their known lengths),
 * parses each with one tokener reused for the whole run, and frees it. */
static void bare_read(const char *src, const struct mdp_buf *b, json_tokener *tok)
{
    const char *p = b->data, *end = b->data + b->len;
    if (strcmp(src, "events") == 0) {
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
            if (e > p) {
                json_tokener_reset(tok);
                json_object_put(json_tokener_parse_ex(tok, p, (int)(e - p)));
            }
            p = e + 1;
        }
        return;
    }
    while (p < end) {
        json_tokener_reset(tok);
        json_object *o = json_tokener_parse_ex(tok, p, (int)(end - p));
        size_t used = json_tokener_get_parse_end(tok);
        if (!o || !used) break;
        if (strcmp(src, "ses") == 0) { /* the two inner layers: body, then Message */
            json_object *recs = json_object_object_get(o, "Records");
            for (size_t j = 0; j < json_object_array_length(recs); j++) {
                json_object *body =
                    json_object_object_get(json_object_array_get_idx(recs, j), "body");
                json_tokener_reset(tok);
                json_object *env = json_tokener_parse_ex(tok, json_object_get_string(body),
                                                         json_object_get_string_len(body));
                json_object *msg = json_object_object_get(env, "Message");
                json_tokener_reset(tok);
                json_object_put(json_tokener_parse_ex(tok, json_object_get_string(msg),
                                                      json_object_get_string_len(msg)));
                json_object_put(env);
            }
        }
        json_object_put(o);
        p += used;
        while (p < end && (*p == '\n' || *p == ' '))
            p++;
    }
}

/* The events' lines parsed by yajl alone, with no callbacks: the bare stream parse the events
 * check's reader builds on (one parser per line, as the check takes it), measured beside json-c's
 * as issue 16 asks of a faster parser. */
static void bare_yajl(const struct mdp_buf *b)
{
    const char *p = b->data, *end = b->data + b->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
        if (e > p) {
            yajl_handle h = yajl_alloc(NULL, NULL, NULL);
            if (h && yajl_parse(h, (const unsigned char *)p, (size_t)(e - p)) == yajl_status_ok)
                yajl_complete_parse(h);
            if (h) yajl_free(h);
        }
        p = e + 1;
    }
}

/* The bare reader over g deliveries, timed as one step (the CPU clock is a system call). */
static double baseline_parse(const char *src, const struct mdp_buf *b, long g, json_tokener *tok)
{
    double t0 = now_s();
    for (long j = 0; j < g; j++)
        bare_read(src, &b[j], tok);
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    const char *sources[] = {"events", "ses", "ddb"};
    const char *keys[] = {"events/dt=2026-10-01/e.ndjson", "ses/sqs/dt=2026-10-01/b.json",
                          "dynamodb/firehose/2026/10/01/10/o"};
    const int quick = bench_quick();
    const long total = quick ? 100000 : 1000000, day_len = total / 10;
    printf("%-7s %10s %10s %9s %10s %12s %12s %14s %9s\n", "source", "records", "MB", "rec/s",
           "MB/s", quick ? "RSS@30k KB" : "RSS@300k KB", quick ? "RSS@100k KB" : "RSS@1M KB",
           "baseline MB/s", "ratio");
    fflush(stdout);
    int rc = 0;
    for (int s = 0; s < 3 && !rc; s++) {
        if (argc > 1 && strcmp(argv[1], sources[s]) != 0) continue; /* one source, to profile */
        pid_t pid = fork();
        if (pid > 0) {
            int status;
            waitpid(pid, &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status)) rc = 1;
            continue;
        }
        struct mdp_ingest_counts c;
        memset(&c, 0, sizeof c);
        double t_check = 0, t_base = 0, t_yajl = 0;
        size_t bytes = 0;
        long rss100k = 0;
        json_tokener *tok = json_tokener_new_ex(64); /* the bare reader's, reused throughout */
        /* the records over 10 delivery days: the dedup window holds two days of ids */
        struct mdp_dedup_window win = {0};
        long per = s == 1 ? 10 : 10000; /* Lambda hands SQS messages over 10 at a time */
        /* deliveries timed together: Lambda's 10-record events one by one would time the clock */
        const long g = per == 10 ? 100 : 1;
        struct mdp_buf bufs[100];
        for (long j = 0; j < g; j++)
            mdp_buf_init(&bufs[j]);
        for (long first = 0; first < total; first += per * g) {
            for (long j = 0; j < g; j++) {
                make_delivery(sources[s], first + j * per, per, &bufs[j]);
                bytes += bufs[j].len;
            }
            /* the order alternates so that neither side always finds the bytes warm */
            int base_first = (first / (per * g)) % 2;
            if (base_first) t_base += baseline_parse(sources[s], bufs, g, tok);
            double t0 = now_s();
            for (long j = 0; j < g; j++) {
                /* each delivery checked as the ingest stage does, ids shared across the run */
                struct mdp_quarantine q;
                mdp_quarantine_init(&q, "b", "b", 0);
                struct mdp_check ck = {.key = keys[s], .c = &c, .q = &q};
                mdp_dedup_window_enter(&win, 20362 + (first + j * per) / day_len, &ck);
                mdp_connector_for_key(keys[s])->check(&ck, bufs[j].data, bufs[j].len);
                mdp_quarantine_cleanup(&q);
            }
            t_check += now_s() - t0;
            if (!base_first) t_base += baseline_parse(sources[s], bufs, g, tok);
            if (s == 0) {
                double t1 = now_s();
                bare_yajl(&bufs[0]);
                t_yajl += now_s() - t1;
            }
            if (first + per * g == total * 3 / 10) rss100k = rss_kb();
        }
        long rss1m = rss_kb();
        for (long j = 0; j < g; j++)
            mdp_buf_cleanup(&bufs[j]);
        double mb = (double)bytes / 1048576.0;
        printf("%-7s %10lld %10.1f %9.0f %10.1f %12ld %12ld %14.1f %9.2f\n", sources[s],
               (long long)c.in, mb, (double)c.in / t_check, mb / t_check, rss100k, rss1m,
               mb / t_base, t_check / t_base);
        if (c.quarantined)
            printf("  (%lld quarantined: the generator is wrong)\n", (long long)c.quarantined);
        char name[64];
        snprintf(name, sizeof name, "ingest %s validate", sources[s]);
        bench_summary(name, "MB/s", mb / t_check, mb / t_base, t_check / t_base, "<= 1.2",
                      t_check / t_base <= 1.2 && !c.quarantined);
        if (s == 0) {
            printf("  bare yajl parse of the same lines: %.1f MB/s, %.2fx json-c's time; the check "
                   "takes %.2fx yajl's\n",
                   mb / t_yajl, t_yajl / t_base, t_check / t_yajl);
            bench_summary("ingest events: bare yajl / bare json-c", "MB/s", mb / t_yajl,
                          mb / t_base, t_yajl / t_base, "-", -1);
            bench_summary("ingest events validate / bare yajl", "MB/s", mb / t_check, mb / t_yajl,
                          t_check / t_yajl, "-", -1);
        }
        json_tokener_free(tok);
        printf("  ids kept for duplicates at the end: %zu (two delivery days); memory %s: "
               "%+ld KB\n",
               mdp_dedup_window_count(&win), quick ? "30k->100k" : "300k->1M", rss1m - rss100k);
        mdp_dedup_window_cleanup(&win);
        fflush(stdout);
        _exit(0);
    }
    printf("ratio: check time / json-c parse time of the same bytes (1.0 = validation costs "
           "nothing); times are CPU times of the measuring thread\n");
    return rc;
}
