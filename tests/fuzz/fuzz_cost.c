/* Fuzz target: the documents the cost model and the report read back from the lake. The input is
 * stored as a service metrics snapshot (_meta/metrics/serve/) and as a run record (_meta/runs/),
 * both of which mdp_cost_figures parses; whatever they hold, the figures must stay finite and
 * non-negative and mdp_cost_json must print one JSON object. The input is also embedded as the
 * report's data in the page: no '<' of it may reach the page's script verbatim. */
#define _GNU_SOURCE /* memmem: the input may hold NUL bytes */
#include "mdp/config.h"
#include "mdp/cost.h"
#include "mdp/lake.h"
#include "mdp/report.h"
#include "mdp/store.h"

#include <dirent.h>
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void rm_tree(const char *path)
{
    DIR *dh = opendir(path);
    if (dh) {
        struct dirent *de;
        while ((de = readdir(dh))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            rm_tree(sub);
        }
        closedir(dh);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void check(double v)
{
    if (!isfinite(v) || v < 0) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[] = "/tmp/fuzz-cost-XXXXXX";
    if (!mkdtemp(dir)) return 0;
    struct mdp_lake *lake = NULL;
    struct mdp_diag d = {0};
    struct mdp_config cfg;
    struct mdp_buf b;
    mdp_buf_init(&b);
    if (mdp_config_defaults(&cfg)) goto out;
    if (mdp_lake_open(dir, 1, &lake, &d)) goto out;
    if (mdp_store_put(lake->store, "_meta/metrics/serve/dt=2026-10-10/0000000000001-1.json", data,
                      size, 0, &d) ||
        mdp_store_put(lake->store, "_meta/runs/dt=2026-10-10/r.json", data, size, 0, &d))
        goto out;
    struct mdp_cost c;
    /* 2026-10-16T12:00:00Z */
    if (mdp_cost_figures(lake, &cfg, 1792152000000000LL, &c, &d) == 0) {
        const double v[] = {c.s3_storage,
                            c.s3_requests,
                            c.athena,
                            c.dynamodb,
                            c.total,
                            c.s3_usd_month_forecast,
                            c.athena_usd_month_forecast,
                            c.dynamodb_usd_month_forecast,
                            c.total_usd_month_forecast,
                            (double)c.puts,
                            (double)c.gets,
                            (double)c.lists,
                            (double)c.billed_scanned_bytes};
        for (size_t i = 0; i < sizeof v / sizeof *v; i++)
            check(v[i]);
        if (mdp_cost_json(&c, &b) == 0) {
            json_object *o = json_tokener_parse(b.data);
            if (!o) __builtin_trap();
            json_object_put(o);
        }
    }
    mdp_buf_reset(&b);
    if (mdp_report_html((const char *)data, size, &b) == 0) {
        const char *start = strstr(b.data, "id=\"report-data\">");
        const char *end =
            start ? memmem(start, b.len - (size_t)(start - b.data), "</script>", 9) : NULL;
        /* the data ends where the page's own </script> is: after all of the input */
        if (!start || !end || (size_t)(end - start) < size) __builtin_trap();
    }
out:
    mdp_buf_cleanup(&b);
    mdp_config_cleanup(&cfg);
    mdp_lake_close(lake);
    rm_tree(dir);
    return 0;
}
