/* `mdp bandit report` and `mdp bandit replay` (include/mdp/serve.h): the posterior of every arm
 * with the fairness gap between groups, and the batch pipeline's email feedback fed into the
 * bandit once per event. */
#include "mdp/engine.h"
#include "mdp/log.h"
#include "mdp/ml.h"
#include "mdp/model.h"
#include "mdp/pseudonym.h"
#include "mdp/suppress.h"
#include "mdp/serve.h"
#include "mdp/uuid.h"
#include "serve_internal.h"

#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 256

struct group {
    char name[64];
    int64_t s, f;
};

struct report {
    FILE *out;
    int json, first;
    int field; /* which '|' field of the context is the group (0 persona, ...) */
    struct group g[MAX_GROUPS];
    int ng;
};

static void field_of(const char *context, int field, char *out, size_t n)
{
    const char *p = context;
    for (int i = 0; i < field && p; i++)
        if ((p = strchr(p, '|'))) p++;
    const char *e = p ? strchr(p, '|') : NULL;
    snprintf(out, n, "%.*s", p ? (int)(e ? e - p : (long)strlen(p)) : 0, p ? p : "");
}

static int report_arm(const struct mdp_bandit_arm *a, void *ud)
{
    struct report *r = ud;
    double al = (double)a->successes + 1, be = (double)a->failures + 1, n = al + be;
    double mean = al / n, sd = sqrt(al * be / (n * n * (n + 1)));
    double lo = fmax(0, mean - 1.96 * sd), hi = fmin(1, mean + 1.96 * sd);
    if (r->json)
        fprintf(r->out,
                "%s{\"context\":\"%s\",\"variant\":\"%s\",\"successes\":%lld,\"failures\":%lld,"
                "\"posterior_mean\":%.4f,\"ci95\":[%.4f,%.4f]}",
                r->first ? "" : ",", a->context, a->variant, (long long)a->successes,
                (long long)a->failures, mean, lo, hi);
    else
        fprintf(r->out, "%-52s %-22s %8lld %8lld   %.3f  [%.3f, %.3f]\n", a->context, a->variant,
                (long long)a->successes, (long long)a->failures, mean, lo, hi);
    r->first = 0;
    char gname[64];
    field_of(a->context, r->field, gname, sizeof gname);
    int k = 0;
    while (k < r->ng && strcmp(r->g[k].name, gname) != 0)
        k++;
    if (k == r->ng && r->ng < MAX_GROUPS) snprintf(r->g[r->ng++].name, 64, "%s", gname);
    if (k < MAX_GROUPS) {
        r->g[k].s += a->successes;
        r->g[k].f += a->failures;
    }
    return 0;
}

static int group_field(const char *key)
{
    static const char *const names[] = {"persona", "tone", "address", "onb_day", "surface"};
    for (int i = 0; i < 5; i++)
        if (strcmp(key, names[i]) == 0) return i;
    return -1;
}

int mdp_bandit_report(const struct mdp_config *cfg, struct mdp_lake *lake, FILE *out, int json,
                      int *flagged, struct mdp_diag *d)
{
    struct mdp_state *st = NULL;
    struct mdp_bandit *b = NULL;
    int rc = mdp_state_open_lake(lake, &st, d);
    if (!rc) rc = mdp_bandit_open(st, &b, d);
    *flagged = 0;
    if (json)
        fputs("{\"arms\":[", out);
    else
        fprintf(out, "%-52s %-22s %8s %8s   %s\n", "CONTEXT", "VARIANT", "SUCCESS", "FAILURE",
                "POSTERIOR MEAN [95% INTERVAL]");
    for (int gi = 0; !rc && gi < (cfg->pz_groups.n ? cfg->pz_groups.n : 1); gi++) {
        const char *gkey = cfg->pz_groups.n ? cfg->pz_groups.v[gi] : "persona";
        struct report r;
        memset(&r, 0, sizeof r);
        r.out = gi == 0 ? out : NULL;
        r.json = json;
        r.first = 1;
        r.field = group_field(gkey);
        if (r.field < 0) {
            rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                              "personalize.fairness_groups: '%s' is not one of persona, tone, "
                              "address, onb_day, surface",
                              gkey);
            break;
        }
        if (gi > 0) { /* the arms were printed once; only the groups of this key are summed */
            FILE *null = fopen("/dev/null", "w");
            r.out = null;
            mdp_bandit_each(b, report_arm, &r);
            fclose(null);
        } else {
            mdp_bandit_each(b, report_arm, &r);
            fputs(json ? "],\"fairness\":["
                       : "\nfairness (success rate of the bandit's choices "
                         "per group; flagged above 5 points)\n",
                  out);
        }
        double lo = 2, hi = -1;
        for (int k = 0; k < r.ng; k++) {
            int64_t n = r.g[k].s + r.g[k].f;
            if (!n) continue;
            double rate = (double)r.g[k].s / (double)n;
            lo = fmin(lo, rate);
            hi = fmax(hi, rate);
            if (!json)
                fprintf(out, "  %-8s %-24s %.3f (%lld feedback)\n", gkey, r.g[k].name, rate,
                        (long long)n);
        }
        double gap = hi >= lo ? (hi - lo) * 100 : 0;
        int flag = gap > 5.0;
        *flagged |= flag;
        if (json)
            fprintf(out, "%s{\"group\":\"%s\",\"groups\":%d,\"gap_points\":%.2f,\"flagged\":%s}",
                    gi ? "," : "", gkey, r.ng, gap, flag ? "true" : "false");
        else
            fprintf(out, "  largest gap by %s: %.1f points%s\n", gkey, gap,
                    flag ? "  ** FLAGGED (above 5) **" : "");
    }
    if (json) fputs("]}\n", out);
    mdp_bandit_close(b);
    mdp_state_close(st);
    return rc;
}

/* ---- replay ---- */

struct replay {
    struct mdp__catalogue cat;
    struct mdp_snapshot *snap;
    struct mdp_state *st;
    struct mdp_bandit *b;
    struct mdp_bandit_replay *stats;
    struct mdp_diag *d;
    struct mdp_suppress_set *suppressed; /* NULL: nobody erased */
    unsigned char key[MDP_SUBJECT_KEY_LEN];
};

static int replay_row(void *ud, int ncols, const char *const *v)
{
    struct replay *r = ud;
    if (ncols != 4 || !v[0] || !v[1] || !v[2] || !v[3]) return 0;
    r->stats->rows++;
    /* an erased person's events never count again, even if a copy of them came back */
    if (r->suppressed && mdp_suppress_match(r->suppressed, v[1], strlen(v[1])))
        return r->stats->suppressed++, 0;
    const struct mdp__variant *var = NULL;
    for (int i = 0; i < r->cat.n && !var; i++)
        if (strcmp(r->cat.v[i].name, v[3]) == 0) var = &r->cat.v[i];
    struct mdp_uuid u;
    if (!var || mdp_uuid_parse(v[1], &u)) return r->stats->unknown_variant++, 0;
    const struct mdp_snapshot_rec *rec = r->snap ? mdp_snapshot_find(r->snap, u.b) : NULL;
    if (!rec || !(rec->flags & MDP_SNAP_PERSONALIZATION)) return r->stats->no_consent++, 0;
    char context[300];
    mdp_bandit_context(context, sizeof context, mdp_snapshot_string(r->snap, rec->persona),
                       mdp_snapshot_string(r->snap, rec->tone), NULL,
                       mdp_snapshot_bucket_name(rec->onb_bucket), var->surface);
    /* once per event, whoever replays and however often: the mark and the count together */
    /* the reward carries the user's pseudonym, so that an erasure can take it back */
    char subject[65];
    struct mdp_state_item it = {v[0], "replay", "{}", 0};
    int rc = mdp_subject_pseudonym(r->key, MDP_PSEUDONYM_USER_ID, v[1], subject, r->d);
    if (!rc)
        rc = mdp_bandit_feedback_owned(r->b, r->st, "bandit_replayed", &it, subject, context,
                                       var->name, strcmp(v[2], "click") == 0, r->d);
    if (rc == MDP_ERR_EXISTS) {
        memset(r->d, 0, sizeof *r->d);
        return r->stats->already++, 0;
    }
    if (!rc) r->stats->applied++;
    return rc;
}

int mdp_bandit_replay(const struct mdp_config *cfg, struct mdp_lake *lake,
                      struct mdp_bandit_replay *stats, struct mdp_diag *d)
{
    memset(stats, 0, sizeof *stats);
    struct replay r;
    memset(&r, 0, sizeof r);
    r.stats = stats;
    r.d = d;
    struct mdp_engine *e = NULL;
    int rc = mdp__catalogue_load(cfg, &r.cat, d);
    if (!rc) rc = mdp_snapshot_open_lake(lake, &r.snap, d);
    if (!rc) rc = mdp_state_open_lake(lake, &r.st, d);
    if (!rc) rc = mdp_bandit_open(r.st, &r.b, d);
    if (!rc) rc = mdp_subject_key(r.st, r.key, d);
    if (!rc) rc = mdp_suppress_load(r.st, &r.suppressed, d);
    struct mdp_engine_opts eo = {NULL, cfg->engine_threads, cfg->engine_memory_limit};
    if (!rc) rc = mdp_engine_open(&eo, &e, d);
    if (!rc)
        rc = mdp_engine_attach_table(e, lake, "curated/facts/fact_email_events",
                                     "fact_email_events", d);
    /* a click is a success of the copy that was sent, a bounce a failure (spec 6) */
    struct mdp_rows_cb cb = {NULL, replay_row, &r};
    if (!rc)
        rc = mdp_engine_query(e,
                              "SELECT CAST(event_id AS VARCHAR), CAST(user_id AS VARCHAR), "
                              "event_type, coalesce(subject_variant, copy_variant) FROM "
                              "fact_email_events WHERE event_type IN ('click', 'bounce') AND "
                              "user_id IS NOT NULL ORDER BY \"timestamp\", event_id",
                              &cb, d);
    mdp_engine_close(e);
    mdp_suppress_set_free(r.suppressed);
    OPENSSL_cleanse(r.key, sizeof r.key);
    mdp_bandit_close(r.b);
    mdp_state_close(r.st);
    mdp_snapshot_close(r.snap);
    mdp__catalogue_free(&r.cat);
    return rc;
}
