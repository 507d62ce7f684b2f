/* `mdp cost`: the month's cost figures from the cost model (include/mdp/cost.h), and `mdp report`:
 * the success metrics of spec section 10 as one self-contained HTML file or JSON
 * (include/mdp/report.h). Both only read the lake. */
#include "cli.h"
#include "mdp/cost.h"
#include "mdp/report.h"
#include "mdp/time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --now T (ISO-8601 time or date) into microseconds; *handled when argv[*i] was the option. */
static int now_option(const char *cmd, int argc, char **argv, int *i, int64_t *now_us, int *handled)
{
    const char *v;
    int m = cli_opt(argc, argv, i, "--now", &v);
    *handled = m != 0;
    if (!m) return 0;
    int64_t ms;
    if (m < 0 || mdp_time_parse_iso(v, (size_t)-1, &ms))
        return cli_usage(cmd, "--now takes an ISO-8601 time or date (2026-10-15T12:00:00Z)");
    *now_us = ms * 1000;
    return 0;
}

static void print_usd(const char *what, double mtd, double forecast)
{
    printf("%-12s %12.4f %12.4f\n", what, mtd, forecast);
}

static int cost_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    int64_t now_us = 0;
    for (int i = 1; i < argc; i++) {
        int handled, rc = cli_lake_option("cost", c, argc, argv, &i, &handled);
        if (!rc && !handled) rc = now_option("cost", argc, argv, &i, &now_us, &handled);
        if (rc) return rc;
        if (!handled) return cli_usage("cost", "unexpected argument '%s'", argv[i]);
    }
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("cost", EXIT_FAIL, "%s", d.msg);
    struct mdp_cost k;
    int rc = mdp_cost_figures(lake, &c->cfg, now_us, &k, &d);
    mdp_lake_close(lake);
    if (rc) return cli_fail("cost", EXIT_FAIL, "%s", d.msg);
    if (c->json) {
        struct mdp_buf b;
        mdp_buf_init(&b);
        rc = mdp_cost_json(&k, &b);
        if (!rc) printf("%s\n", b.data);
        mdp_buf_cleanup(&b);
        return rc ? cli_fail("cost", EXIT_FAIL, "out of memory") : EXIT_OK;
    }
    char now[32];
    mdp_time_format_ms(k.now_ms, now, sizeof now);
    printf("cost of %s up to %s (USD, AWS list prices as configured)\n\n", k.month, now);
    printf("%-10s %-10s %10s %14s %12s\n", "zone", "class", "objects", "bytes", "GB-months");
    for (int i = 0; i < k.nzones; i++)
        printf("%-10s %-10s %10lld %14lld %12.6f\n", k.zones[i].zone, k.zones[i].storage_class,
               (long long)k.zones[i].objects, (long long)k.zones[i].bytes, k.zones[i].gb_months);
    printf("\nS3 requests: %lld put, %lld get, %lld list; scanned %lld bytes in %lld queries",
           (long long)k.puts, (long long)k.gets, (long long)k.lists, (long long)k.scanned_bytes,
           (long long)k.scan_queries);
    if (k.requests_served >= 0)
        printf("; %lld requests served\n\n", (long long)k.requests_served);
    else
        printf("; requests served: no service metrics\n\n");
    printf("%-12s %12s %12s\n", "", "to date", "forecast");
    print_usd("S3", k.s3_storage + k.s3_requests, k.s3_usd_month_forecast);
    printf("  storage %.4f, requests %.4f to date\n", k.s3_storage, k.s3_requests);
    print_usd("Athena", k.athena, k.athena_usd_month_forecast);
    print_usd("DynamoDB", k.dynamodb, k.dynamodb_usd_month_forecast);
    print_usd("total", k.total, k.total_usd_month_forecast);
    return EXIT_OK;
}

const struct cli_command CMD_COST = {
    "cost", "what the lake costs on AWS this month, to date and forecast",
    "Usage: mdp cost [--now T] [--json] [--dir LAKE]\n"
    "\n"
    "Prices this month's use of the lake with AWS list prices (cost.* keys; defaults:\n"
    "eu-central-1): S3 storage from a listing of the lake (bytes per zone and storage class,\n"
    "each object's GB-months since it was written or the month began), S3 requests and the\n"
    "bytes Athena would scan from the run log (every job records its requests; `mdp query` and\n"
    "curate record the bytes their SQL reads), DynamoDB from the requests `mdp serve` answered.\n"
    "Prints the month to date and a month-end forecast: the bytes stored now stay until the\n"
    "month ends, requests and scans go on at this month's rate. --now T computes the figures as\n"
    "of T (objects written and runs started after T are left out). docs/quality.md \"Cost\".\n",
    cost_run, 0};

/* Writes len bytes to path through a temporary file renamed into place: a reader never sees half
 * a report, and a failure leaves the old one. */
static int write_whole(const char *path, const char *data, size_t len)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return cli_fail("report", EXIT_FAIL, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return cli_fail("report", EXIT_FAIL, "%s: cannot write: %s", path, strerror(errno));
    int bad = fwrite(data, 1, len, f) != len;
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return cli_fail("report", EXIT_FAIL, "%s: cannot write: %s", path, strerror(e));
    }
    return EXIT_OK;
}

static int report_run(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    int64_t now_us = 0;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int m, handled, rc = cli_lake_option("report", c, argc, argv, &i, &handled);
        if (!rc && !handled) rc = now_option("report", argc, argv, &i, &now_us, &handled);
        if (rc) return rc;
        if (handled) continue;
        if ((m = cli_opt(argc, argv, &i, "--out", &v))) {
            if (m < 0 || !*v) return cli_usage("report", "--out needs a file name");
            out = v;
        } else {
            return cli_usage("report", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!out && !c->json) return cli_usage("report", "give --out FILE (HTML) or --json");
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("report", EXIT_FAIL, "%s", d.msg);
    struct mdp_buf json, html;
    mdp_buf_init(&json);
    mdp_buf_init(&html);
    int rc = mdp_report_json(lake, &c->cfg, now_us, &json, &d);
    mdp_lake_close(lake);
    if (rc) {
        mdp_buf_cleanup(&json);
        return cli_fail("report", EXIT_FAIL, "%s", d.msg);
    }
    int ex = EXIT_OK;
    if (out) {
        if (mdp_report_html(json.data, json.len, &html))
            ex = cli_fail("report", EXIT_FAIL, "out of memory building the page");
        else
            ex = write_whole(out, html.data, html.len);
    }
    if (ex == EXIT_OK && c->json) printf("%s\n", json.data);
    mdp_buf_cleanup(&json);
    mdp_buf_cleanup(&html);
    return ex;
}

const struct cli_command CMD_REPORT = {
    "report", "the success metrics of spec section 10 as one HTML page (or JSON)",
    "Usage: mdp report --out report.html [--now T] [--json] [--dir LAKE]\n"
    "       mdp report --json [--now T]\n"
    "\n"
    "Gathers the success metrics of the specification (freshness SLA compliance, DQ rule\n"
    "violations, cost for 10k users, audit success, personalization latency) and the figures\n"
    "behind them: SLA compliance per source over 30 days, DQ score per table and run, rule\n"
    "violations per day, cost to date and forecast, alarm states and history, quarantine per\n"
    "source, latency percentiles, erasure and export audit counts. --out writes one\n"
    "self-contained HTML file (inline CSS, JS and SVG; it loads nothing from the network);\n"
    "--json prints the same figures as JSON. Only aggregates: no personal data. A section\n"
    "without data says why (\"no DQ runs yet\"). --now T reports as of T. docs/quality.md\n"
    "\"Report\".\n",
    report_run, 0};
