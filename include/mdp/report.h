/* The success-metrics report (spec section 10; docs/quality.md "Report"): the figures of every
 * section (freshness SLA compliance, DQ score trend and rule violations, cost to date and
 * forecast, alarms, quarantine per source, personalization latency, erasure and export audits)
 * gathered from the lake as one JSON document, and the same document rendered as one
 * self-contained HTML page (inline CSS, JS and SVG; it loads nothing). Only aggregates go in: no
 * user id, email or payload reaches the report. */
#ifndef MDP_REPORT_H
#define MDP_REPORT_H

#include <stdint.h>
#include "mdp/buf.h"
#include "mdp/config.h"
#include "mdp/err.h"
#include "mdp/lake.h"

/* Appends the report's figures as of now_us (microseconds since the epoch; 0: the clock) as one
 * JSON object to out, the caller's buffer (docs/quality.md "Report" names the fields). Reads the
 * lake only; lake and cfg are borrowed. A section whose source is missing (no DQ runs, no service
 * metrics, no DuckDB library) is reported as such in its "note", not as an error. Returns 0, or
 * MDP_ERR_IO / MDP_ERR_NOMEM with d. */
int mdp_report_json(struct mdp_lake *lake, const struct mdp_config *cfg, int64_t now_us,
                    struct mdp_buf *out, struct mdp_diag *d);

/* Appends the HTML page showing the report json (len bytes, as mdp_report_json made it; borrowed)
 * to out, the caller's buffer: the JSON is embedded in the page, and the page's script draws the
 * tables and charts from it. Returns 0 or the buffer's sticky error (MDP_ERR_NOMEM). */
int mdp_report_html(const char *json, size_t len, struct mdp_buf *out);

#endif
