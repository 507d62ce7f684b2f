/* `mdp segments`, `mdp features` and `mdp snapshot`: the derived tables of spec 5 and the serving
 * snapshot (include/mdp/ml.h, include/mdp/snapshot.h). */
#include "cli.h"
#include "mdp/ml.h"
#include "mdp/retention.h"
#include "mdp/snapshot.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int derive(struct cli *c, const char *cmd, int seg, int feat, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    struct mdp_ml_opts o = {-1, -1, seg, feat, 0};
    for (int i = 1; i < argc; i++) {
        int handled, rc = cli_lake_option(cmd, c, argc, argv, &i, &handled);
        if (!rc && !handled)
            rc = cli_date_option(cmd, argc, argv, &i, &o.from_day, &o.to_day, &handled);
        if (rc) return rc;
        if (!handled) return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
    }
    if (cli_date_range_check(cmd, o.from_day, o.to_day)) return EXIT_USAGE;
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d)) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    /* a point-in-time backfill needs the raw of its date: refused once retention removed it
     * (docs/privacy.md §4) */
    int64_t horizon = -1;
    if (mdp_retention_raw_horizon(lake, &horizon, &d) ||
        (o.from_day >= 0 && o.from_day <= horizon)) {
        char day[16], hz[16];
        mdp_date_format(o.from_day, day, sizeof day);
        mdp_date_format(horizon, hz, sizeof hz);
        mdp_lake_close(lake);
        if (horizon < 0) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
        return cli_fail(cmd, EXIT_FAIL,
                        "cannot backfill %s: retention removed the raw data up to %s (raw is "
                        "kept for its retention period only), so the point-in-time inputs of "
                        "that date are gone; the published partitions of older dates stay until "
                        "their own retention (docs/privacy.md)",
                        day, hz);
    }
    struct mdp_lease *lease;
    int rc = cli_lease_take(cmd, c, lake, &lease);
    if (rc) {
        mdp_lake_close(lake);
        return rc;
    }
    struct mdp_stage_ctx ctx = {&c->cfg, lake, -1, NULL, NULL, 0};
    struct mdp_run run;
    mdp_run_begin(&run, cmd);
    rc = mdp_ml_build(&ctx, &o, &run, &d);
    if (rc) snprintf(run.message, sizeof run.message, "%s", d.msg);
    struct mdp_diag ld = {0};
    int lrc = mdp_run_end(lake, &run, rc ? "failed" : "ok", &ld);
    if (!rc) {
        cli_print_runs(stdout, &run, 1, c->json);
        if (c->json) fputc('\n', stdout);
    }
    if (rc)
        rc = cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    else if (lrc)
        rc = cli_fail(cmd, EXIT_FAIL, "cannot write the run log: %s", ld.msg);
    rc = cli_lease_release(cmd, lease, rc);
    mdp_lake_close(lake);
    return rc;
}

static int segments_run(struct cli *c, int argc, char **argv)
{
    return derive(c, "segments", 1, 0, argc, argv);
}

static int features_run(struct cli *c, int argc, char **argv)
{
    return derive(c, "features", 0, 1, argc, argv);
}

#define DATES_HELP                                                                                 \
    "Without a date the newest day with curated events is built (never today, which is not\n"      \
    "over); --date D builds D, --from D --to E every day from D to E, each published on its\n"     \
    "own (a backfill). A date's row uses only data with a timestamp before the end of that day\n"  \
    "(UTC), so a backfill gives what a run on that day would have given.\n"

const struct cli_command CMD_SEGMENTS = {
    "segments", "the daily segments of spec 5 (ml/segments)",
    "Usage: mdp segments [--date YYYY-MM-DD | --from YYYY-MM-DD --to YYYY-MM-DD] [--dir LAKE]\n"
    "\n"
    "Writes, per active user as of the date, onb_day and its bucket (0, 1-3, 4-7, 8-14, 15+),\n"
    "engagement_level (onboarding steps completed in the 30 days ending with the date: high >=\n"
    "10, medium >= 5, else low), consent_state (marketing_opted_in, email_only, unverified) and\n"
    "persona_current to ml/segments/, partitioned by segment_date. Needs a curated lake.\n"
    "\n" DATES_HELP "\n"
    "The SQL is models/ml/segments.sql; docs/ml.md defines every column.\n",
    segments_run, 0};

const struct cli_command CMD_FEATURES = {
    "features", "the ML feature table ml_user_features (ml/features) and the serving snapshot",
    "Usage: mdp features [--date YYYY-MM-DD | --from YYYY-MM-DD --to YYYY-MM-DD] [--dir LAKE]\n"
    "\n"
    "Writes every column of spec 5's ml_user_features for each user with valid `ml` consent as\n"
    "of the date (a user who withdrew has no row from then on) to\n"
    "ml/features/feature_date=YYYY-MM-DD/, and the serving snapshot of the latest date to\n"
    "serving/user_context (`mdp snapshot` reads it).\n"
    "\n" DATES_HELP "\n"
    "The SQL is models/ml/features.sql; docs/ml.md defines every column.\n",
    features_run, 0};

/* ---- snapshot ---- */

static void print_rec(const struct mdp_snapshot *s, const struct mdp_snapshot_rec *r, int json)
{
    char uid[37], avg[32] = "null", vc[16] = "null", last[16] = "null";
    struct mdp_uuid u;
    memcpy(u.b, r->user_id, 16);
    mdp_uuid_format(&u, uid);
    if (r->avg_step_centiseconds >= 0)
        snprintf(avg, sizeof avg, "%d.%02d", r->avg_step_centiseconds / 100,
                 r->avg_step_centiseconds % 100);
    if (r->vc_score_delta_7d != MDP_SNAPSHOT_NULL)
        snprintf(vc, sizeof vc, "%d", r->vc_score_delta_7d);
    if (r->last_activity_days_ago != MDP_SNAPSHOT_NULL)
        snprintf(last, sizeof last, "%d", r->last_activity_days_ago);
    /* engagement comes from usage events: unknown (null) without analytics consent */
    const char *eng =
        r->flags & MDP_SNAP_ANALYTICS ? mdp_snapshot_engagement_name(r->engagement) : NULL;
    const char *persona = mdp_snapshot_string(s, r->persona),
               *tone = mdp_snapshot_string(s, r->tone);
    printf(json ? "{\"user_id\":\"%s\",\"onb_day\":%d,\"onb_day_bucket\":\"%s\","
                  "\"engagement_level\":%s%s%s,\"consent_state\":\"%s\",\"persona_current\":%s%s%s,"
                  "\"personalization_consent\":%s,\"ml_consent\":%s,\"analytics_consent\":%s,"
                  "\"has_features\":%s,"
                  "\"steps_completed_7d\":%u,\"steps_completed_30d\":%u,\"email_opens_7d\":%u,"
                  "\"email_clicks_7d\":%u,\"email_opens_30d\":%u,\"email_clicks_30d\":%u,"
                  "\"login_count_30d\":%u,\"vc_score_delta_7d\":%s,"
                  "\"avg_step_duration_seconds\":%s,\"preferred_comm_tone\":%s%s%s,"
                  "\"last_activity_days_ago\":%s}\n"
                : "user_id                    %s\nonb_day                    %d\n"
                  "onb_day_bucket             %s\nengagement_level           %s%s%s\n"
                  "consent_state              %s\npersona_current            %s%s%s\n"
                  "personalization_consent    %s\nml_consent                 %s\n"
                  "analytics_consent          %s\n"
                  "has_features               %s\nsteps_completed_7d         %u\n"
                  "steps_completed_30d        %u\nemail_opens_7d             %u\n"
                  "email_clicks_7d            %u\nemail_opens_30d            %u\n"
                  "email_clicks_30d           %u\nlogin_count_30d            %u\n"
                  "vc_score_delta_7d          %s\navg_step_duration_seconds  %s\n"
                  "preferred_comm_tone        %s%s%s\nlast_activity_days_ago     %s\n",
           uid, r->onb_day, mdp_snapshot_bucket_name(r->onb_bucket), eng && json ? "\"" : "",
           eng ? eng : "null", eng && json ? "\"" : "", mdp_snapshot_consent_name(r->consent_state),
           persona && json ? "\"" : "", persona ? persona : "null", persona && json ? "\"" : "",
           r->flags & MDP_SNAP_PERSONALIZATION ? "true" : "false",
           r->flags & MDP_SNAP_ML ? "true" : "false",
           r->flags & MDP_SNAP_ANALYTICS ? "true" : "false",
           r->flags & MDP_SNAP_FEATURES ? "true" : "false", r->steps_completed_7d,
           r->steps_completed_30d, r->email_opens_7d, r->email_clicks_7d, r->email_opens_30d,
           r->email_clicks_30d, r->login_count_30d, vc, avg, tone && json ? "\"" : "",
           tone ? tone : "null", tone && json ? "\"" : "", last);
}

static const char SNAPSHOT_HELP[] =
    "Usage: mdp snapshot info [--dir LAKE | --file PATH]\n"
    "       mdp snapshot get USER_ID [--dir LAKE | --file PATH]\n"
    "\n"
    "Reads the serving snapshot that `mdp features` publishes (serving/user_context: one file,\n"
    "48 bytes per user sorted by user_id, mapped into memory by the personalization service).\n"
    "info prints its date, users and load time; get prints one user's segments and features\n"
    "(exit 1 when the user is not in it). docs/ml.md has the format.\n";

static int snapshot_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(SNAPSHOT_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    int get = strcmp(argv[1], "get") == 0;
    if (!get && strcmp(argv[1], "info") != 0)
        return cli_usage("snapshot", "unknown subcommand '%s'", argv[1]);
    if (cli_config(c)) return EXIT_FAIL;
    const char *file = NULL, *user = NULL;
    for (int i = 2; i < argc; i++) {
        const char *v;
        int handled, m, rc = cli_lake_option("snapshot", c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (handled) continue;
        if ((m = cli_opt(argc, argv, &i, "--file", &v))) {
            if (m < 0) return cli_usage("snapshot", "--file needs a path");
            file = v;
        } else if (get && !user && argv[i][0] != '-') {
            user = argv[i];
        } else {
            return cli_usage("snapshot", "unexpected argument '%s'", argv[i]);
        }
    }
    struct mdp_uuid u;
    if (get && (!user || mdp_uuid_parse(user, &u)))
        return cli_usage("snapshot", "get needs a USER_ID (a UUID)");
    struct mdp_diag d = {0};
    struct mdp_snapshot *s = NULL;
    struct mdp_lake *lake = NULL;
    int64_t t0 = mdp_time_now_ms();
    int rc = file ? mdp_snapshot_open(file, &s, &d) : mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d);
    if (!rc && !file) rc = mdp_snapshot_open_lake(lake, &s, &d);
    int64_t ms = mdp_time_now_ms() - t0;
    mdp_lake_close(lake);
    if (rc) return cli_fail("snapshot", EXIT_FAIL, "%s", d.msg);
    int code = EXIT_OK;
    if (get) {
        const struct mdp_snapshot_rec *r = mdp_snapshot_find(s, u.b);
        if (r)
            print_rec(s, r, c->json);
        else
            code = cli_fail("snapshot", EXIT_FAIL, "user %s is not in the snapshot", user);
    } else {
        char date[11];
        mdp_date_format(mdp_snapshot_day(s), date, sizeof date);
        printf(c->json ? "{\"date\":\"%s\",\"users\":%lld,\"load_ms\":%lld}\n"
                       : "date    %s\nusers   %lld\nload_ms %lld\n",
               date, (long long)mdp_snapshot_count(s), (long long)ms);
    }
    mdp_snapshot_close(s);
    return code;
}

const struct cli_command CMD_SNAPSHOT = {
    "snapshot", "read the serving snapshot (segments and features per user)", SNAPSHOT_HELP,
    snapshot_run, 0};
