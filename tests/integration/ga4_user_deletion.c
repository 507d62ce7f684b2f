/* Test driver of the GA4 User Deletion API client (mdp_ga4_user_deletion), which only the erasure
 * job calls: loads CONFIG, sends one request for ID_TYPE ID, and prints the outcome as one JSON
 * object ({"ok":true,"status":..,"attempts":..,"deletionRequestTime":..,"response":{...}} or
 * {"ok":false,"error":"..."}). Exit 0 on success, 1 on failure.
 * Usage: ga4_user_deletion CONFIG ID_TYPE ID */
#include "mdp/buf.h"
#include "mdp/config.h"
#include "mdp/ingest.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: ga4_user_deletion CONFIG ID_TYPE ID\n");
        return 2;
    }
    struct mdp_config cfg;
    struct mdp_diag d = {0};
    if (mdp_config_load(argv[1], &cfg, &d)) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    struct mdp_ga4_deletion g;
    int rc = mdp_ga4_user_deletion(&cfg, argv[2], argv[3], &g, &d);
    struct mdp_buf b;
    mdp_buf_init(&b);
    if (rc) {
        mdp_buf_puts(&b, "{\"ok\":false,\"error\":");
        mdp_buf_json_str(&b, d.msg);
    } else {
        mdp_buf_printf(&b, "{\"ok\":true,\"status\":%ld,\"attempts\":%d,\"deletionRequestTime\":",
                       g.http_status, g.attempts);
        mdp_buf_json_str(&b, g.deletion_request_time);
        mdp_buf_printf(&b, ",\"response\":%s", g.response);
    }
    mdp_buf_puts(&b, "}\n");
    fputs(b.data ? b.data : "{}\n", stdout);
    mdp_buf_cleanup(&b);
    free(g.response);
    mdp_config_cleanup(&cfg);
    return rc ? 1 : 0;
}
