/* `mdp ingest`: run one connector (or list them) over the landing folder. The options every
 * connector takes are here; a connector's own flags (struct mdp_connector.flags) and its help are
 * in its table, so this file names no connector. */
#include "cli.h"
#include "mdp/ingest.h"
#include "mdp/pipeline.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ingest_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2) return cli_usage("ingest", "expects a source (mdp ingest --list names them)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(CMD_INGEST.help, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--list") == 0) {
        const struct mdp_connector *const *all = mdp_connectors();
        for (int i = 0; all[i]; i++)
            printf("%-9s %s\n", all[i]->name, all[i]->summary);
        return EXIT_OK;
    }
    const struct mdp_connector *k = mdp_connector_find(argv[1]);
    if (!k)
        return cli_usage("ingest", "no such source '%s' (mdp ingest --list names them)", argv[1]);
    if (cli_wants_help(argc - 1, argv + 1)) {
        fputs(k->help, stdout);
        return EXIT_OK;
    }
    if (cli_config(c)) return EXIT_FAIL;
    int64_t day = -1;
    int pull = 0, full = 0, nflags = 0;
    const char *flags[9] = {NULL}; /* the connector's own flags given, NULL-ended */
    int64_t yesterday = mdp_days_from_ms(mdp_time_now_ms()) - 1, from = yesterday, to = yesterday;
    for (int i = 2; i < argc; i++) {
        const char *v;
        int m;
        const struct mdp_connector_flag *f = k->flags;
        while (f && f->name && strcmp(f->name, argv[i]) != 0)
            f++;
        if (f && f->name) {
            if (nflags < 8) flags[nflags++] = f->name;
        } else if (strcmp(argv[i], "--pull") == 0 && k->pull) {
            pull = 1;
        } else if (strcmp(argv[i], "--full") == 0 && k->pull) {
            full = 1;
        } else if (k->pull && (m = cli_opt(argc, argv, &i, "--from", &v))) {
            if (m < 0 || strlen(v) != 10 || mdp_date_parse(v, &from))
                return cli_usage("ingest", "--from needs a date YYYY-MM-DD");
        } else if (k->pull && (m = cli_opt(argc, argv, &i, "--to", &v))) {
            if (m < 0 || strlen(v) != 10 || mdp_date_parse(v, &to))
                return cli_usage("ingest", "--to needs a date YYYY-MM-DD");
        } else if ((m = cli_opt(argc, argv, &i, "--date", &v))) {
            if (m < 0 || strlen(v) != 10 || mdp_date_parse(v, &day))
                return cli_usage("ingest", "--date needs a date YYYY-MM-DD");
        } else if ((m = cli_opt(argc, argv, &i, "--dir", &v))) {
            if (m < 0) return cli_usage("ingest", "--dir needs a folder");
            char *s = strdup(v);
            if (!s) return EXIT_FAIL;
            free(c->cfg.lake_dir);
            c->cfg.lake_dir = s;
        } else {
            return cli_usage("ingest", "unexpected argument '%s'", argv[i]);
        }
    }
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("ingest", EXIT_FAIL, "%s", d.msg);
    struct cli_runs runs = {0};
    if (full && !pull) {
        mdp_lake_close(lake);
        return cli_usage("ingest", "--full goes with --pull");
    }
    struct mdp_lease *lease;
    int rc = cli_lease_take("ingest", c, lake, &lease);
    if (rc) {
        mdp_lake_close(lake);
        return rc;
    }
    struct mdp_pull pl;
    memset(&pl, 0, sizeof pl);
    struct mdp_store *landing = NULL;
    if (pull) {
        /* fetch into the landing folder; the deliveries then take the ordinary path */
        char *ldir = mdp_config_landing_dir(&c->cfg);
        rc = ldir ? mdp_store_open(ldir, 1, &landing, &d) : MDP_ERR_NOMEM;
        free(ldir);
        pl.cfg = &c->cfg;
        pl.lake = lake;
        pl.landing = landing;
        pl.full = full;
        pl.day = mdp_days_from_ms(mdp_time_now_ms());
        pl.from_day = from;
        pl.to_day = to < from ? from : to;
        if (!rc) rc = k->pull(&pl, &d);
        if (!rc && !c->json) fprintf(stderr, "mdp ingest %s: %s\n", k->name, pl.note);
    }
    struct mdp_stage_ctx ctx = {&c->cfg, lake, day, cli_keep_run, &runs, flags};
    struct mdp_run run;
    mdp_run_begin(&run, k->name);
    if (!rc) rc = mdp_ingest_run(&ctx, k->name, &run, &d);
    /* the source's position moves only once what was pulled is landed */
    if (!rc && pull && k->commit) rc = k->commit(&pl, &d);
    mdp_store_close(landing);
    cli_print_runs(stdout, runs.v, runs.n, c->json);
    if (c->json) fputc('\n', stdout);
    if (runs.n == 0 && !rc && !c->json) printf("nothing delivered for %s\n", k->name);
    cli_runs_free(&runs);
    rc = cli_lease_release("ingest", lease, rc ? cli_fail("ingest", EXIT_FAIL, "%s", d.msg) : 0);
    mdp_lake_close(lake);
    return rc;
}

const struct cli_command CMD_INGEST = {
    "ingest", "run one source's connector over the landing folder",
    "Usage: mdp ingest <source> [--date YYYY-MM-DD] [--dir LAKE]\n"
    "       mdp ingest <source> --help\n"
    "       mdp ingest --list\n"
    "\n"
    "Takes what <source> delivered into the landing folder (lake.landing_dir): every delivery "
    "goes\n"
    "byte for byte into raw/<source>/<dataset>/dt=D/, named by its SHA-256 (a delivery taken "
    "before\n"
    "lands nothing), each record is checked, bad ones are quarantined with a reason and their\n"
    "location, duplicates (same id) are counted. Prints one line with the counts; the run log "
    "gets\n"
    "it too, with the newest event time seen. Exits 1 when the source fails or more than\n"
    "ingest.max_quarantine_share of its records is quarantined. `mdp run` runs every configured\n"
    "source (ingest.sources) as its ingest stage.\n"
    "\n"
    "Sources: mdp ingest --list names them; mdp ingest <source> --help documents each, with\n"
    "its own options (ses: --verify-signatures; ga4, gbp, meta, supabase: --pull).\n",
    ingest_run, 1};
