/* `mdp consent`: the consent journal (spec 7): record a decision, show a subject's status per
 * purpose at a point in time, verify the journal's hash chain, list the purposes. The journal lives
 * in the state store, <lake.dir>/_meta/state.sqlite on the embedded default, the DynamoDB table
 * in AWS mode (state.backend). */
#include "cli.h"
#include "mdp/consent.h"
#include "mdp/lake.h"
#include "mdp/state.h"
#include "mdp/suppress.h"
#include "mdp/time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int open_state(struct cli *c, const char *cmd, struct mdp_state **s)
{
    if (cli_config(c)) return EXIT_FAIL;
    struct mdp_diag d = {0};
    if (mdp_state_location()) /* AWS mode: the DynamoDB table */
        return mdp_state_open(mdp_state_location(), s, &d) ? cli_fail(cmd, EXIT_FAIL, "%s", d.msg)
                                                           : 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/_meta", c->cfg.lake_dir);
    if ((mkdir(c->cfg.lake_dir, 0755) && errno != EEXIST) || (mkdir(path, 0755) && errno != EEXIST))
        return cli_fail(cmd, EXIT_FAIL, "cannot create %s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/_meta/state.sqlite", c->cfg.lake_dir);
    if (mdp_state_open(path, s, &d)) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    return 0;
}

static int parse_time(const char *cmd, const char *opt, const char *v, int64_t *out)
{
    if (mdp_time_parse_iso(v, strlen(v), out))
        return cli_usage(cmd, "%s: '%s' is not an ISO-8601 time (e.g. 2026-11-27T10:00:00Z)", opt,
                         v);
    return 0;
}

/* An option of a consent subcommand: a string (str) or an ISO-8601 time (time). */
struct opt {
    const char *name;
    const char **str;
    int64_t *time;
};

/* Parses argv[from..] against opts (terminated by a NULL name); a bare argument goes to *positional
 * when it is not NULL. Returns 0 or EXIT_USAGE (with the message printed). */
static int parse_opts(const char *cmd, int argc, char **argv, int from, const struct opt *opts,
                      const char **positional)
{
    for (int i = from; i < argc; i++) {
        const char *v;
        int m = 0;
        for (const struct opt *o = opts; o->name && m == 0; o++) {
            m = cli_opt(argc, argv, &i, o->name, &v);
            if (m < 0) return cli_usage(cmd, "%s needs a value", o->name);
            if (m == 1 && o->str) *o->str = v;
            if (m == 1 && o->time && parse_time(cmd, o->name, v, o->time)) return EXIT_USAGE;
        }
        if (m) continue;
        if (positional && !*positional && argv[i][0] != '-') {
            *positional = argv[i];
            continue;
        }
        return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
    }
    return 0;
}

static int consent_record(struct cli *c, int argc, char **argv)
{
    const char *cmd = "consent record";
    const char *email = NULL, *user = NULL, *purpose = NULL, *decision = NULL, *source = "cli",
               *evidence = "";
    int64_t now = mdp_time_now_ms();
    struct mdp_consent_record r = {0};
    r.ts_ms = now;
    const struct opt opts[] = {{"--email", &email, NULL},
                               {"--user-id", &user, NULL},
                               {"--purpose", &purpose, NULL},
                               {"--decision", &decision, NULL},
                               {"--source", &source, NULL},
                               {"--evidence", &evidence, NULL},
                               {"--ts", NULL, &r.ts_ms},
                               {"--expires-at", NULL, &r.expires_at_ms},
                               {NULL, NULL, NULL}};
    if (parse_opts(cmd, argc, argv, 2, opts, NULL)) return EXIT_USAGE;
    if (!email && !user) return cli_usage(cmd, "needs --email or --user-id (or both)");
    if (!purpose) return cli_usage(cmd, "needs --purpose");
    if (!decision) return cli_usage(cmd, "needs --decision granted|withdrawn");
    struct mdp_diag d = {0};
    if (mdp_consent_decision_parse(decision, &r.granted))
        return cli_fail(cmd, EXIT_FAIL, "--decision: '%s' is neither granted nor withdrawn",
                        decision);
    if (strlen(purpose) >= sizeof r.purpose || strlen(source) >= sizeof r.source ||
        strlen(evidence) >= sizeof r.evidence)
        return cli_fail(cmd, EXIT_FAIL, "--purpose, --source or --evidence is too long");
    strcpy(r.purpose, purpose);
    strcpy(r.source, source);
    strcpy(r.evidence, evidence);
    if (mdp_consent_subject(&r, email, user, &d) || mdp_consent_validate(&r, now, &d))
        return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    struct mdp_state *s;
    int rc = open_state(c, cmd, &s);
    if (rc) return rc;
    rc = mdp_consent_append(s, &r, now, &d);
    mdp_state_close(s);
    if (rc) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    if (c->json)
        printf("{\"seq\":%lld,\"hash\":\"%s\"}\n", (long long)r.seq, r.hash);
    else
        printf("recorded seq %lld (hash %s)\n", (long long)r.seq, r.hash);
    return EXIT_OK;
}

static int consent_status(struct cli *c, int argc, char **argv)
{
    const char *cmd = "consent status";
    const char *email = NULL, *user = NULL;
    int64_t at = mdp_time_now_ms();
    const struct opt opts[] = {{"--email", &email, NULL},
                               {"--user-id", &user, NULL},
                               {"--at", NULL, &at},
                               {NULL, NULL, NULL}};
    if (parse_opts(cmd, argc, argv, 2, opts, NULL)) return EXIT_USAGE;
    if (!email && !user) return cli_usage(cmd, "needs --email or --user-id (or both)");
    struct mdp_state *s;
    int rc = open_state(c, cmd, &s);
    if (rc) return rc;
    struct mdp_consent_status st[16];
    int n = 0;
    struct mdp_diag d = {0};
    rc = mdp_consent_status_at(s, email, user, at, st, 16, &n, &d);
    mdp_state_close(s);
    if (rc) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    if (!c->json)
        printf("%-16s %-5s %-9s %-24s %s\n", "PURPOSE", "VALID", "DECISION", "SINCE", "EXPIRES");
    else
        fputs("[", stdout);
    for (int i = 0; i < n; i++) {
        char ts[40] = "", ex[40] = "";
        if (st[i].has_decision) mdp_time_format_ms(st[i].ts_ms, ts, sizeof ts);
        if (st[i].expires_at_ms) mdp_time_format_ms(st[i].expires_at_ms, ex, sizeof ex);
        const char *dec = !st[i].has_decision ? "none" : st[i].granted ? "granted" : "withdrawn";
        if (c->json)
            printf("%s{\"purpose\":\"%s\",\"valid\":%s,\"decision\":\"%s\",\"ts\":%s%s%s,"
                   "\"expires_at\":%s%s%s,\"seq\":%lld}",
                   i ? "," : "", st[i].purpose, st[i].valid ? "true" : "false", dec,
                   *ts ? "\"" : "", *ts ? ts : "null", *ts ? "\"" : "", *ex ? "\"" : "",
                   *ex ? ex : "null", *ex ? "\"" : "", (long long)st[i].seq);
        else
            printf("%-16s %-5s %-9s %-24s %s\n", st[i].purpose, st[i].valid ? "yes" : "no", dec,
                   *ts ? ts : "-", *ex ? ex : "-");
    }
    if (c->json) puts("]");
    return EXIT_OK;
}

static int consent_verify(struct cli *c, int argc, char **argv)
{
    if (argc > 2) return cli_usage("consent verify", "unexpected argument '%s'", argv[2]);
    struct mdp_state *s;
    int rc = open_state(c, "consent verify", &s);
    if (rc) return rc;
    struct mdp_consent_verify v;
    struct mdp_diag d = {0};
    rc = mdp_consent_verify(s, &v, &d);
    mdp_state_close(s);
    if (rc) return cli_fail("consent verify", EXIT_FAIL, "%s", d.msg);
    if (c->json) {
        printf("{\"intact\":%s,\"records\":%lld,\"pruned\":%lld", v.bad_seq ? "false" : "true",
               (long long)v.records, (long long)v.pruned);
        if (v.bad_seq)
            printf(",\"bad_seq\":%lld,\"reason\":\"%s\"", (long long)v.bad_seq, v.reason);
        puts("}");
    } else if (!v.bad_seq) {
        printf("consent journal intact: %lld records, hash chain verified", (long long)v.records);
        if (v.pruned)
            printf(" (%lld pruned by retention: their hashes kept in the chain)",
                   (long long)v.pruned);
        putchar('\n');
    }
    if (v.bad_seq)
        return cli_fail("consent verify", EXIT_FAIL, "the journal is broken at seq %lld: %s",
                        (long long)v.bad_seq, v.reason);
    return EXIT_OK;
}

static int consent_purposes(struct cli *c)
{
    if (cli_config(c)) return EXIT_FAIL;
    if (c->json) fputs("[", stdout);
    const struct mdp_consent_purpose *all = mdp_consent_purposes();
    for (const struct mdp_consent_purpose *p = all; p->name; p++) {
        if (c->json)
            printf("%s{\"purpose\":\"%s\",\"legal_basis\":\"%s\",\"description\":\"%s\"}",
                   p == all ? "" : ",", p->name, p->legal_basis, p->description);
        else
            printf("%-16s %-46s %s\n", p->name, p->legal_basis, p->description);
    }
    if (c->json) puts("]");
    return EXIT_OK;
}

static int consent_doi(struct cli *c, int argc, char **argv)
{
    const char *cmd = "consent doi";
    if (argc < 3) return cli_usage(cmd, "expects issue, confirm or purge");
    const char *sub = argv[2], *email = NULL, *ip = NULL, *token = NULL;
    const struct opt opts[] = {{"--email", &email, NULL}, {"--ip", &ip, NULL}, {NULL, NULL, NULL}};
    if (parse_opts(cmd, argc, argv, 3, opts, strcmp(sub, "confirm") == 0 ? &token : NULL))
        return EXIT_USAGE;
    int issue = strcmp(sub, "issue") == 0, confirm = strcmp(sub, "confirm") == 0,
        purge = strcmp(sub, "purge") == 0;
    if (!issue && !confirm && !purge) return cli_usage(cmd, "unknown subcommand '%s'", sub);
    if (issue && !email) return cli_usage("consent doi issue", "needs --email");
    if (confirm && !token) return cli_usage("consent doi confirm", "needs the TOKEN");
    if (!issue && (email || ip)) return cli_usage(cmd, "--email and --ip belong to issue");
    struct mdp_state *s;
    int rc = open_state(c, cmd, &s);
    if (rc) return rc;
    struct mdp_diag d = {0};
    int64_t now = mdp_time_now_ms();
    if (issue) {
        char tok[MDP_DOI_TOKEN_LEN + 1], ex[40];
        rc = mdp_doi_issue(s, email, ip, now, tok, &d);
        mdp_state_close(s);
        if (rc) return cli_fail("consent doi issue", EXIT_FAIL, "%s", d.msg);
        mdp_time_format_ms(now + MDP_DOI_TTL_MS, ex, sizeof ex);
        if (c->json)
            printf("{\"token\":\"%s\",\"expires_at\":\"%s\"}\n", tok, ex);
        else
            printf("%s\n", tok);
        return EXIT_OK;
    }
    if (purge) {
        int n = 0;
        rc = mdp_doi_purge(s, now, &n, &d);
        mdp_state_close(s);
        if (rc) return cli_fail("consent doi purge", EXIT_FAIL, "%s", d.msg);
        if (c->json)
            printf("{\"purged\":%d}\n", n);
        else
            printf("purged %d expired token item(s)\n", n);
        return EXIT_OK;
    }
    int result = 0;
    int64_t seq = 0;
    rc = mdp_doi_confirm(s, token, now, &result, &seq, &d);
    mdp_state_close(s);
    if (rc) return cli_fail("consent doi confirm", EXIT_FAIL, "%s", d.msg);
    static const char *const why[] = {
        NULL, "unknown token (never issued, mistyped, or purged after its 7 days)",
        "the token has expired (valid for 7 days); request a new one",
        "the token was already used"};
    static const char *const code[] = {"confirmed", "unknown", "expired", "used"};
    if (c->json) printf("{\"result\":\"%s\",\"seq\":%lld}\n", code[result], (long long)seq);
    if (result != MDP_DOI_CONFIRMED)
        return cli_fail("consent doi confirm", EXIT_FAIL, "%s", why[result]);
    if (!c->json)
        printf("confirmed: address verified, vc_report granted (journal seq %lld)\n",
               (long long)seq);
    return EXIT_OK;
}

static const char CONSENT_HELP[] =
    "Usage: mdp consent record (--email E | --user-id U) --purpose P --decision granted|withdrawn\n"
    "                          [--ts TIME] [--expires-at TIME] [--source S] [--evidence TEXT]\n"
    "       mdp consent status (--email E | --user-id U) [--at TIME]\n"
    "       mdp consent verify\n"
    "       mdp consent import\n"
    "       mdp consent migrate\n"
    "       mdp consent suppress add|check (--email E | --user-id U) [--reason TEXT]\n"
    "       mdp consent suppress list\n"
    "       mdp consent purposes\n"
    "       mdp consent doi issue --email E [--ip IP]\n"
    "       mdp consent doi confirm TOKEN\n"
    "       mdp consent doi purge\n"
    "\n"
    "The consent journal (spec 7, ConsentJournal): append-only, each record chained to the one\n"
    "before by SHA-256, kept in the state store (<lake.dir>/_meta/state.sqlite, or the DynamoDB\n"
    "table state.dynamodb_table with state.backend: dynamodb).\n"
    "\n"
    "record    appends a decision. The chain names the subject only by keyed pseudonyms\n"
    "          (HMAC-SHA256 with the lake's subject key); the address (trimmed, lower-cased) and\n"
    "          the user id are kept beside it in a contact table that erasure deletes.\n"
    "          TIME is ISO-8601 (default now); a time more than 5 minutes in the future, an\n"
    "          unknown purpose or another decision word is rejected and nothing is written.\n"
    "status    per purpose: whether consent is valid at TIME (default now): the latest decision\n"
    "          at or before TIME is granted and not expired at TIME.\n"
    "verify    walks the hash chain; exit 1 naming the first record that was altered, removed\n"
    "          or reordered, exit 0 when intact. Records retention pruned (3 years after their\n"
    "          decision stopped being in force) keep their hash in the chain and are counted;\n"
    "          `mdp retention verify` checks each against the ledger.\n"
    "import    takes the ConsentJournal INSERTs of the DynamoDB stream from the raw zone into the\n"
    "          journal (source ddb, evidence ddb:<eventID>), and VcTokens confirmations as\n"
    "          vc_report grants (source ddb-doi); a change already imported is skipped, so\n"
    "          running it again adds nothing. `mdp run` does this in its consent stage.\n"
    "migrate   re-chains a journal written before pseudonymization, once (a ledger entry links\n"
    "          the old head hash to the new); import and `mdp run` do it first by themselves.\n"
    "          Run it while nothing else appends (stop mdp serve).\n"
    "suppress  the suppression list of erased subjects (keyed pseudonyms of the address, its\n"
    "          SHA-256 and the user id; no clear value): ingest drops their records before raw\n"
    "          and quarantine and counts them as suppressed. add is idempotent; check prints\n"
    "          true or false; --reason must not hold personal data (an erasure id).\n"
    "purposes  the purposes and their legal basis (consent.purposes).\n"
    "doi       double opt-in (spec VcTokens): issue prints a new token once and stores only its\n"
    "          SHA-256 with the address, the IP and a 7-day expiry; confirm verifies the address\n"
    "          and appends a vc_report grant, or fails as unknown, expired or already used;\n"
    "          purge removes tokens past their 7 days.\n"
    "\n"
    "Every subcommand takes --dir LAKE (default lake.dir).\n"
    "Exit: 0 ok, 1 rejected or broken journal, 2 usage error. --json for machine output.\n";

static int consent_import(struct cli *c, int argc, char **argv)
{
    const char *cmd = "consent import";
    const struct opt opts[] = {{NULL, NULL, NULL}};
    if (parse_opts(cmd, argc, argv, 2, opts, NULL)) return EXIT_USAGE;
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d)) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    struct mdp_state *s;
    int rc = open_state(c, cmd, &s);
    if (rc) {
        mdp_lake_close(lake);
        return rc;
    }
    struct mdp_consent_import im;
    rc = mdp_consent_import(lake, s, mdp_time_now_ms(), &im, &d);
    mdp_state_close(s);
    mdp_lake_close(lake);
    if (rc) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    printf(c->json ? "{\"objects\":%lld,\"changes\":%lld,\"imported\":%lld,\"already\":%lld,"
                     "\"ignored\":%lld}\n"
                   : "raw objects %lld, changes %lld: imported %lld, already in the journal %lld, "
                     "not consent records %lld\n",
           (long long)im.objects, (long long)im.changes, (long long)im.imported,
           (long long)im.already, (long long)im.ignored);
    return EXIT_OK;
}

static int consent_migrate(struct cli *c, int argc, char **argv)
{
    const char *cmd = "consent migrate";
    const struct opt opts[] = {{NULL, NULL, NULL}};
    if (parse_opts(cmd, argc, argv, 2, opts, NULL)) return EXIT_USAGE;
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d)) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    struct mdp_state *s;
    int rc = open_state(c, cmd, &s);
    if (rc) {
        mdp_lake_close(lake);
        return rc;
    }
    struct mdp_consent_migration m;
    rc = mdp_consent_migrate(lake, s, &m, &d);
    mdp_state_close(s);
    mdp_lake_close(lake);
    if (rc) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    if (c->json)
        printf("{\"records\":%lld,\"migrated\":%lld,\"ledger_seq\":%lld,\"old_head\":\"%s\","
               "\"new_head\":\"%s\"}\n",
               (long long)m.records, (long long)m.migrated, (long long)m.ledger_seq, m.old_head,
               m.new_head);
    else if (!m.migrated && !m.ledger_seq)
        printf("nothing to migrate: %lld records, every one pseudonymous\n", (long long)m.records);
    else
        printf("migrated %lld of %lld records; ledger entry %lld links head %s to %s\n",
               (long long)m.migrated, (long long)m.records, (long long)m.ledger_seq, m.old_head,
               m.new_head);
    return EXIT_OK;
}

static int print_entry(const struct mdp_suppress_entry *e, void *ud)
{
    int *json = ud;
    if (*json)
        printf("%s{\"pseudonym\":\"%s\",\"kind\":\"%s\",\"added_ms\":%lld}", json[1]++ ? "," : "",
               e->pseudonym, e->kind, (long long)e->added_ms);
    else
        printf("%s %-12s %lld %s\n", e->pseudonym, e->kind, (long long)e->added_ms, e->reason);
    return 0;
}

static int consent_suppress(struct cli *c, int argc, char **argv)
{
    const char *cmd = "consent suppress";
    const char *what = argc > 2 ? argv[2] : "";
    if (strcmp(what, "add") != 0 && strcmp(what, "check") != 0 && strcmp(what, "list") != 0)
        return cli_usage(cmd, "add, check or list");
    const char *email = NULL, *user = NULL, *reason = "cli";
    const struct opt opts[] = {{"--email", &email, NULL},
                               {"--user-id", &user, NULL},
                               {"--reason", &reason, NULL},
                               {NULL, NULL, NULL}};
    if (parse_opts(cmd, argc, argv, 3, opts, NULL)) return EXIT_USAGE;
    if (strcmp(what, "list") != 0 && !email && !user)
        return cli_usage(cmd, "%s needs --email or --user-id", what);
    struct mdp_state *s;
    int rc = open_state(c, cmd, &s);
    if (rc) return rc;
    struct mdp_diag d = {0};
    int n = 0, found = 0;
    if (strcmp(what, "add") == 0) {
        rc = mdp_suppress_add(s, email, user, reason, mdp_time_now_ms(), &n, &d);
        if (!rc)
            printf(c->json ? "{\"added\":%d}\n" : "added %d entries to the suppression list\n", n);
    } else if (strcmp(what, "check") == 0) {
        rc = mdp_suppress_contains(s, email, user, &found, &d);
        if (!rc) printf(c->json ? "{\"suppressed\":%s}\n" : "%s\n", found ? "true" : "false");
    } else {
        int ud[2] = {c->json, 0};
        if (c->json) fputc('[', stdout);
        rc = mdp_suppress_list(s, print_entry, ud, &d);
        if (c->json) fputs("]\n", stdout);
    }
    mdp_state_close(s);
    if (rc) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    return EXIT_OK;
}

static int consent_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(CONSENT_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    /* --dir LAKE goes with every subcommand: taken out before they parse their options */
    if (cli_config(c)) return EXIT_FAIL;
    for (int i = 2; i < argc; i++) {
        int start = i, handled, rc = cli_lake_option("consent", c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (!handled) continue;
        memmove(&argv[start], &argv[i + 1], (size_t)(argc - i - 1) * sizeof *argv);
        argc -= i - start + 1;
        i = start - 1;
    }
    if (strcmp(argv[1], "record") == 0) return consent_record(c, argc, argv);
    if (strcmp(argv[1], "import") == 0) return consent_import(c, argc, argv);
    if (strcmp(argv[1], "migrate") == 0) return consent_migrate(c, argc, argv);
    if (strcmp(argv[1], "suppress") == 0) return consent_suppress(c, argc, argv);
    if (strcmp(argv[1], "status") == 0) return consent_status(c, argc, argv);
    if (strcmp(argv[1], "verify") == 0) return consent_verify(c, argc, argv);
    if (strcmp(argv[1], "purposes") == 0) return consent_purposes(c);
    if (strcmp(argv[1], "doi") == 0) return consent_doi(c, argc, argv);
    return cli_usage("consent", "unknown subcommand '%s'", argv[1]);
}

const struct cli_command CMD_CONSENT = {"consent",
                                        "record, show and verify consent (the consent journal)",
                                        CONSENT_HELP, consent_run, 1};
