/* `mdp serve` (and `mdp serve key new`) and `mdp bandit report|replay` (include/mdp/serve.h). */
#include "cli.h"
#include "mdp/serve.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int key_new(struct cli *c, int argc, char **argv)
{
    const char *name = NULL, *scopes = NULL;
    for (int i = 3; i < argc; i++) {
        const char *v;
        int m;
        if ((m = cli_opt(argc, argv, &i, "--name", &v))) {
            if (m < 0) return cli_usage("serve key new", "--name needs a value");
            name = v;
        } else if ((m = cli_opt(argc, argv, &i, "--scopes", &v))) {
            if (m < 0) return cli_usage("serve key new", "--scopes needs a value");
            scopes = v;
        } else {
            return cli_usage("serve key new", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!name || !scopes) return cli_usage("serve key new", "needs --name and --scopes");
    char token[65], hash[65], item[300];
    snprintf(item, sizeof item, "%s:%s:%064d", name, scopes, 0);
    struct mdp_config probe;
    struct mdp_diag d = {0};
    if (mdp_config_defaults(&probe)) return EXIT_FAIL;
    int rc = mdp_strlist_set(&probe.serve_keys, item);
    if (!rc) rc = mdp_serve_keys_check(&probe, &d);
    mdp_config_cleanup(&probe);
    if (rc)
        return cli_usage("serve key new",
                         "--name is a word and --scopes joins collect, personalize, admin by +");
    if (mdp_serve_key_new(token, hash))
        return cli_fail("serve key new", EXIT_FAIL, "no randomness");
    if (c->json)
        printf("{\"key\":\"%s\",\"config_item\":\"%s:%s:%s\"}\n", token, name, scopes, hash);
    else
        printf("key (shown once; the server keeps only its hash): %s\n"
               "add to serve.keys in the configuration:  \"%s:%s:%s\"\n",
               token, name, scopes, hash);
    return EXIT_OK;
}

static const char SERVE_HELP[] =
    "Usage: mdp serve [--dir LAKE] [--listen HOST:PORT]\n"
    "       mdp serve key new --name NAME --scopes collect+personalize+admin\n"
    "\n"
    "Runs the HTTP service on serve.listen until SIGTERM/SIGINT (then: stop accepting, finish\n"
    "the requests in flight, write and fsync what was accepted). Prints \"listening on URL\".\n"
    "\n"
    "  POST /v1/events       (collect)      app events, one, an array or NDJSON: 202 once durable\n"
    "                                       in raw/events/app_events/, 400 listing rejected ones\n"
    "  POST /v1/ses/sns      (signature)    SNS HTTP subscription: SES notifications into\n"
    "                                       raw/ses/http/ and fact_email_events within\n"
    "                                       serve.ses_publish_seconds\n"
    "  GET|POST /v1/personalize (personalize) {decision_id, variant, copy_id, reason,\n"
    "                                       propensity, policy}: rules, then Thompson sampling\n"
    "  POST /v1/feedback     (personalize)  {decision_id | user_id + variant, signal}; without\n"
    "                                       a decision, Idempotency-Key: K counts a replay once\n"
    "  GET /healthz, /readyz, /metrics (admin)\n"
    "\n"
    "Keys: Authorization: Bearer KEY; serve.keys holds NAME:SCOPES:SHA256 of each key, and\n"
    "`mdp serve key new` makes one. Errors are {\"error\":{\"code\",\"message\"}}. "
    "docs/serve.md.\n";

static int serve_run(struct cli *c, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(SERVE_HELP, stdout);
        return EXIT_OK;
    }
    if (argc >= 3 && strcmp(argv[1], "key") == 0 && strcmp(argv[2], "new") == 0)
        return key_new(c, argc, argv);
    if (cli_config(c)) return EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int handled, m, rc = cli_lake_option("serve", c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (handled) continue;
        if ((m = cli_opt(argc, argv, &i, "--listen", &v))) {
            if (m < 0) return cli_usage("serve", "--listen needs HOST:PORT");
            free(c->cfg.serve_listen);
            c->cfg.serve_listen = strdup(v);
        } else {
            return cli_usage("serve", "unexpected argument '%s'", argv[i]);
        }
    }
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("serve", EXIT_FAIL, "%s", d.msg);
    /* SIGTERM and SIGINT are taken by sigwait below, not by a handler in some thread: blocked
     * before the server starts its threads, which inherit the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct mdp_server *srv;
    int rc = mdp_serve_start(&c->cfg, lake, &srv, &d);
    if (!rc) {
        printf("listening on %s\n", mdp_serve_url(srv));
        fflush(stdout);
        int sig = 0;
        sigwait(&set, &sig);
        mdp_serve_stop(srv);
        printf("stopped\n");
        fflush(stdout);
    }
    mdp_lake_close(lake);
    return rc ? cli_fail("serve", EXIT_FAIL, "%s", d.msg) : EXIT_OK;
}

const struct cli_command CMD_SERVE = {"serve", "the HTTP service: events, SNS, personalization",
                                      SERVE_HELP, serve_run, 0};

static const char BANDIT_HELP[] =
    "Usage: mdp bandit report [--dir LAKE]\n"
    "       mdp bandit replay [--dir LAKE]\n"
    "\n"
    "report  every arm (context x variant) with its feedback counts, posterior mean and 95%\n"
    "        interval; per personalize.fairness_groups key the success rate of the bandit's\n"
    "        choices per group and the largest gap, flagged above 5 points (exit 1 then).\n"
    "replay  feeds the curated email clicks (success) and bounces (failure) of the catalogue's\n"
    "        variants into the bandit, in the user's current context, each event once;\n"
    "        erased people's events (the suppression list) are skipped and counted.\n";

static int bandit_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(BANDIT_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    int report = strcmp(argv[1], "report") == 0;
    if (!report && strcmp(argv[1], "replay") != 0)
        return cli_usage("bandit", "unknown subcommand '%s'", argv[1]);
    if (cli_config(c)) return EXIT_FAIL;
    for (int i = 2; i < argc; i++) {
        int handled, rc = cli_lake_option("bandit", c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (!handled) return cli_usage("bandit", "unexpected argument '%s'", argv[i]);
    }
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("bandit", EXIT_FAIL, "%s", d.msg);
    int rc, flagged = 0;
    if (report) {
        rc = mdp_bandit_report(&c->cfg, lake, stdout, c->json, &flagged, &d);
    } else {
        struct mdp_bandit_replay st;
        rc = mdp_bandit_replay(&c->cfg, lake, &st, &d);
        if (!rc)
            printf(c->json ? "{\"rows\":%lld,\"applied\":%lld,\"already\":%lld,"
                             "\"unknown_variant\":%lld,\"no_consent\":%lld,\"suppressed\":%lld}\n"
                           : "email clicks and bounces: %lld; applied %lld, replayed before %lld, "
                             "variant not in the catalogue %lld, no personalization consent "
                             "%lld, erased people (suppressed) %lld\n",
                   st.rows, st.applied, st.already, st.unknown_variant, st.no_consent,
                   st.suppressed);
    }
    mdp_lake_close(lake);
    if (rc) return cli_fail("bandit", EXIT_FAIL, "%s", d.msg);
    return flagged ? EXIT_FAIL : EXIT_OK;
}

const struct cli_command CMD_BANDIT = {"bandit", "the bandit's posteriors, fairness, replay",
                                       BANDIT_HELP, bandit_run, 0};
