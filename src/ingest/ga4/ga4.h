/* GA4 helpers shared by the connector and (later) the curated models. */
#ifndef MDP_GA4_H
#define MDP_GA4_H

/* Converts a runReport metric value (always a string) by its header type: TYPE_INTEGER as an
 * integer; TYPE_FLOAT, TYPE_STANDARD, TYPE_CURRENCY, TYPE_PERCENT, distances as numbers; the
 * duration types to seconds. Returns 0, MDP_ERR_PARSE, or MDP_ERR_UNSUPPORTED for an unknown type.
 */
int mdp_ga4_metric_value(const char *type, const char *text, double *out);

#endif
