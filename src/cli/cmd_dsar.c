/* `mdp dsar`: data subject requests (docs/privacy.md §5, §6). One table of subcommands: add a line
 * to SUBS (name, summary, help, run) for a new one. */
#include "cli.h"
#include "mdp/dsar.h"
#include "mdp/engine.h"
#include "mdp/erase.h"
#include "mdp/inventory.h"
#include "mdp/lake.h"
#include "mdp/ml.h"
#include "mdp/state.h"
#include "mdp/subject.h"

#include <stdlib.h>
#include <string.h>

struct dsar_sub {
    const char *name;
    const char *summary;
    const char *help;
    int (*run)(struct cli *c, int argc, char **argv);
};

/* What every subcommand opens: the inventory, the lake, the engine, the state store and, when
 * configured, the connection string of Supabase. */
struct dsar_env {
    struct mdp_inventory *inv;
    struct mdp_lake *lake;
    struct mdp_engine *e;
    struct mdp_state *state;
    struct mdp_subject_ctx ctx;
};

static void dsar_env_close(struct dsar_env *v)
{
    mdp_state_close(v->state);
    mdp_engine_close(v->e);
    mdp_lake_close(v->lake);
    mdp_inventory_free(v->inv);
    memset(v, 0, sizeof *v);
}

/* Opens everything; prints the error and returns EXIT_FAIL on failure. */
static int dsar_env_open(const char *cmd, struct cli *c, const char *inventory, struct dsar_env *v)
{
    struct mdp_diag d = {0};
    memset(v, 0, sizeof *v);
    int rc = mdp_inventory_load(inventory ? inventory : mdp_inventory_file(&c->cfg), &v->inv, &d);
    if (!rc) rc = mdp_lake_open(c->cfg.lake_dir, 0, &v->lake, &d);
    struct mdp_engine_opts eo = {NULL, c->cfg.engine_threads, c->cfg.engine_memory_limit};
    if (!rc) rc = mdp_engine_open(&eo, &v->e, &d);
    if (!rc) rc = mdp_state_open_lake(v->lake, &v->state, &d);
    if (rc) {
        dsar_env_close(v);
        return cli_fail(cmd, EXIT_FAIL, "%s", d.msg);
    }
    v->ctx.inv = v->inv;
    v->ctx.lake = v->lake;
    v->ctx.e = v->e;
    v->ctx.state = v->state;
    const char *var = c->cfg.supabase_dsn_env;
    const char *dsn = var ? getenv(var) : NULL;
    v->ctx.pg_conninfo = dsn && *dsn ? dsn : NULL;
    const char *key = c->cfg.pseudo_key_env ? getenv(c->cfg.pseudo_key_env) : NULL;
    if (key && strlen(key) >= 16) {
        v->ctx.hmac_key = key;
        v->ctx.hmac_keylen = strlen(key);
    }
    return 0;
}

/* ---- export ---- */

static const char EXPORT_HELP[] =
    "Usage: mdp dsar export USER_ID|--email ADDRESS --out DIR [--dir LAKE] [--file INVENTORY]\n"
    "                       [--json]\n"
    "\n"
    "Exports everything the platform holds about one person (GDPR Art. 15 and 20) as a\n"
    "bundle: the folder DIR and the archive DIR.tar with the same files:\n"
    "  <dataset>.ndjson  one per dataset of the data inventory that can hold a person and is\n"
    "                    read here (raw objects, curated and ml tables, the serving snapshot,\n"
    "                    the state store: consent journal, DOI tokens; Supabase when\n"
    "                    configured); a line per record, {\"location\":...,\"record\":...};\n"
    "                    empty when the dataset holds nothing about the person\n"
    "  art15.json        purposes, legal bases, recipients, retention, sources and transfers\n"
    "                    per dataset, from the inventory\n"
    "  manifest.json     the keys searched, each file's SHA-256, size and row count, and the\n"
    "                    datasets not read here (vendors' systems, AWS tables) with why\n"
    "The person is found by user_id or by address (trimmed, lower-cased), then by everything\n"
    "those lead to: the addresses and their SHA-256 (and keyed pseudonym), account ids, and\n"
    "external ids through identity_links. Supabase is read over libpq when the variable named\n"
    "by sources.supabase.dsn_env is set; if it cannot be reached the export fails.\n"
    "Deterministic: the same lake gives the same bytes. Exit 1 when nothing is held about the\n"
    "person, when DIR or DIR.tar exists, when a store cannot be read, or when the lake holds a\n"
    "dataset the inventory does not list (it could not be searched: mdp inventory check);\n"
    "nothing is written then.\n";

/* The options of the dsar subcommands: what each accepts is a set of DA_ flags; positional
 * arguments fill cert (DA_CERT only) and then user. */
enum { DA_OUT_DIR = 1, DA_OUT_FILE = 2, DA_DRY_RUN = 4, DA_CERT = 8 };
struct dsar_args {
    const char *user, *email, *file, *out, *cert;
    int dry_run;
};

static int dsar_args(const char *cmd, struct cli *c, int argc, char **argv, int accepts,
                     struct dsar_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 2; i < argc; i++) {
        int handled = 0, m;
        int rc = cli_lake_option(cmd, c, argc, argv, &i, &handled);
        if (rc) return rc;
        if (handled) continue;
        const char *v;
        if ((m = cli_opt(argc, argv, &i, "--email", &v))) {
            if (m < 0) return cli_usage(cmd, "--email needs an address");
            a->email = v;
        } else if ((m = cli_opt(argc, argv, &i, "--file", &v))) {
            if (m < 0) return cli_usage(cmd, "--file needs the inventory's path");
            a->file = v;
        } else if ((accepts & (DA_OUT_DIR | DA_OUT_FILE)) &&
                   (m = cli_opt(argc, argv, &i, "--out", &v))) {
            if (m < 0)
                return cli_usage(cmd, "--out needs a %s", accepts & DA_OUT_DIR ? "folder" : "file");
            a->out = v;
        } else if ((accepts & DA_DRY_RUN) && strcmp(argv[i], "--dry-run") == 0) {
            a->dry_run = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage(cmd, "unexpected option '%s'", argv[i]);
        } else if ((accepts & DA_CERT) && !a->cert) {
            a->cert = argv[i];
        } else if (!a->user) {
            a->user = argv[i];
        } else {
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        }
    }
    return 0;
}

static int dsar_export(struct cli *c, int argc, char **argv)
{
    const char *cmd = "dsar export";
    struct dsar_args a;
    int arc = dsar_args(cmd, c, argc, argv, DA_OUT_DIR, &a);
    if (arc) return arc;
    const char *user = a.user, *email = a.email, *outdir = a.out, *file = a.file;
    if (!user == !email) return cli_usage(cmd, "expects a USER_ID or --email ADDRESS (one)");
    if (!outdir) return cli_usage(cmd, "expects --out DIR");
    struct dsar_env v;
    if (dsar_env_open(cmd, c, file, &v)) return EXIT_FAIL;
    struct mdp_diag d = {0};
    struct mdp_subject *s = NULL;
    struct mdp_dsar_export_stats st;
    int rc = mdp_subject_resolve(&v.ctx, user, email, &s, &d);
    if (!rc) rc = mdp_dsar_export(&v.ctx, s, outdir, &st, &d);
    if (!rc) {
        if (c->json) {
            printf("{\"out\":");
            fflush(stdout);
            struct mdp_buf b;
            mdp_buf_init(&b);
            mdp_buf_json_str(&b, outdir);
            mdp_buf_puts(&b, ",\"user_id\":");
            if (s->user_id)
                mdp_buf_json_str(&b, s->user_id);
            else
                mdp_buf_puts(&b, "null");
            if (!mdp_buf_error(&b)) fputs(b.data, stdout);
            mdp_buf_cleanup(&b);
            printf(",\"datasets\":%lld,\"not_read\":%lld,\"files\":%lld,\"hits\":%lld,"
                   "\"rows\":%lld,\"tar_sha256\":\"%s\"}\n",
                   (long long)st.datasets, (long long)st.not_read, (long long)st.files,
                   (long long)st.hits, (long long)st.rows, st.tar_sha256);
        } else {
            printf("exported %lld record(s) of %s from %lld place(s) in %lld dataset(s) into %s "
                   "and %s.tar (sha256 %s); %lld dataset(s) not read here are listed in the "
                   "manifest\n",
                   (long long)st.rows, s->user_id ? s->user_id : "the address", (long long)st.hits,
                   (long long)st.datasets, outdir, outdir, st.tar_sha256, (long long)st.not_read);
        }
    }
    mdp_subject_free(s);
    dsar_env_close(&v);
    if (rc) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg[0] ? d.msg : mdp_strerror(rc));
    return EXIT_OK;
}

/* ---- erase and verify ---- */

static const char ERASE_HELP[] =
    "Usage: mdp dsar erase USER_ID|--email ADDRESS [--dry-run] [--out CERT] [--dir LAKE]\n"
    "                      [--file INVENTORY] [--json]\n"
    "\n"
    "Erases one person from every store of the data inventory (GDPR Art. 17) as a journaled\n"
    "job: the plan is written first (_meta/erasure/pending/), each step can be repeated, and\n"
    "running the same command again after a crash finishes the job. Before the plan lists\n"
    "anything, the person goes on the suppression list: later ingests, bandit replays, the\n"
    "collector and a running mdp serve's decision log drop their records from then on. Steps:\n"
    "Supabase rows (one transaction, child tables first; when the variable named by\n"
    "sources.supabase.dsn_env is set), state-store items (DOI tokens; the consent journal is\n"
    "kept: legal obligation), raw objects rewritten without the person's records (new\n"
    "content-addressed names, a ledger entry in _meta/ledger/), landing and quarantine\n"
    "objects, the Parquet files of published tables holding the person (a new table version;\n"
    "a table left without rows stays, empty, with its columns), superseded files, the serving\n"
    "snapshot, leftovers of unfinished writes; the state store is compacted. On an S3 lake\n"
    "the old versions and delete markers of every object deleted or overwritten go too, and\n"
    "stale copies leave the local cache. Then every store (on S3: every object version;\n"
    "DynamoDB: every item) is scanned again for the id, the address and its SHA-256, and a\n"
    "certificate without personal data (the subject by keyed hash, an HMAC over it) is\n"
    "appended to _meta/erasure/log/ and printed (or written to CERT). The HMAC key: the\n"
    "pseudonym key (pseudonymization.key_env) when set, else the lake's own erasure key in\n"
    "the state store.\n"
    "--dry-run prints the plan (the subject by keyed hash) and changes nothing.\n"
    "Exit 1 for an unknown person or a lake holding a dataset the inventory does not list\n"
    "(nothing changed), a failed step (rerun to finish), or survivors found by the re-scan\n"
    "(the certificate says where, by hash).\n";

static const char VERIFY_HELP[] =
    "Usage: mdp dsar verify CERT [USER_ID] [--email ADDRESS] [--dir LAKE] [--file INVENTORY]\n"
    "\n"
    "Checks an erasure certificate: its SHA-256 and HMAC, that the erasure log holds it\n"
    "unchanged, and the log's hash chain up to it. Given the person's id or address (the\n"
    "certificate names them only by keyed hash), also that it is about them and that a\n"
    "re-scan of every store finds nothing of them (the scan looks for what it is given: give\n"
    "both to search for the id, the address and its SHA-256). Exit 0 when all hold, 1 naming\n"
    "the first check that fails.\n";

/* The HMAC key; with create 0 a lake without one yet gives an empty key (erase makes it when it
 * has a subject to erase; verify then fails: no certificate can exist). */
static int load_key(struct cli *c, struct dsar_env *v, int create, struct mdp_erase_key *k)
{
    struct mdp_diag d = {0};
    int rc = mdp_erase_key_load(v->lake, c->cfg.pseudo_key_env, create, k, &d);
    if (rc == MDP_ERR_NOT_FOUND && !create) return 0;
    if (rc) return cli_fail("dsar", EXIT_FAIL, "%s", d.msg);
    return 0;
}

struct erase_lease {
    struct cli *c;
    struct mdp_lake *lake;
    struct mdp_lease *lease;
    int failed; /* cli_lease_take's exit code (printed): EXIT_BUSY while another job holds it */
};

/* mdp_erase_opts.begin: the lake's lease, once the person is known */
static int erase_begin(void *ud, struct mdp_diag *d)
{
    struct erase_lease *el = ud;
    el->failed = cli_lease_take("dsar erase", el->c, el->lake, &el->lease);
    return el->failed ? mdp_diag_set(d, MDP_ERR_EXISTS, "the lake's lease was not taken") : 0;
}

static int dsar_erase(struct cli *c, int argc, char **argv)
{
    const char *cmd = "dsar erase";
    struct dsar_args a;
    int arc = dsar_args(cmd, c, argc, argv, DA_OUT_FILE | DA_DRY_RUN, &a);
    if (arc) return arc;
    const char *user = a.user, *email = a.email, *file = a.file, *out = a.out;
    int dry = a.dry_run;
    if (!user == !email) return cli_usage(cmd, "expects a USER_ID or --email ADDRESS (one)");
    struct dsar_env v;
    if (dsar_env_open(cmd, c, file, &v)) return EXIT_FAIL;
    struct mdp_erase_key key;
    if (load_key(c, &v, 0, &key)) {
        dsar_env_close(&v);
        return EXIT_FAIL;
    }
    /* the locator and the erasure open the state store themselves */
    mdp_state_close(v.state);
    v.state = NULL;
    /* a job running meanwhile could publish again what this erases: one writer at a time, from
     * the moment the person is known (an unknown one changes nothing) */
    struct erase_lease el = {c, v.lake, NULL, 0};
    struct mdp_erase_opts o = {
        user,        email, v.ctx.pg_conninfo, &key, &c->cfg, dry, getenv("MDP_ERASE_CRASH_AFTER"),
        erase_begin, &el};
    struct mdp_diag d = {0};
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_erase_run(v.inv, v.lake, v.e, &o, &b, &d);
    int wrote = 0;
    if ((!rc || rc == MDP_ERR_EXISTS) && b.data) {
        if (out && !dry) {
            FILE *f = fopen(out, "w");
            if (!f || fwrite(b.data, 1, b.len, f) != b.len) {
                if (!rc) rc = mdp_diag_set(&d, MDP_ERR_IO, "cannot write %s", out);
            } else {
                wrote = 1;
            }
            if (f && fclose(f) && !rc) rc = mdp_diag_set(&d, MDP_ERR_IO, "cannot write %s", out);
        }
        if (!wrote) fputs(b.data, stdout);
    }
    mdp_buf_cleanup(&b);
    int status = el.failed ? el.failed
                 : rc      ? cli_fail(cmd, EXIT_FAIL, "%s", d.msg[0] ? d.msg : mdp_strerror(rc))
                           : 0;
    status = cli_lease_release(cmd, el.lease, status);
    dsar_env_close(&v);
    if (!status && wrote && !c->json) printf("erasure done; certificate written to %s\n", out);
    return status;
}

static int dsar_verify(struct cli *c, int argc, char **argv)
{
    const char *cmd = "dsar verify";
    struct dsar_args a;
    int arc = dsar_args(cmd, c, argc, argv, DA_CERT, &a);
    if (arc) return arc;
    const char *cert = a.cert, *user = a.user, *email = a.email, *file = a.file;
    if (!cert) return cli_usage(cmd, "expects the certificate's file");
    FILE *f = fopen(cert, "rb");
    if (!f) return cli_fail(cmd, EXIT_FAIL, "cannot read %s", cert);
    struct mdp_buf text;
    mdp_buf_init(&text);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        mdp_buf_append(&text, chunk, n);
    fclose(f);
    if (mdp_buf_error(&text) || !text.data) {
        mdp_buf_cleanup(&text);
        return cli_fail(cmd, EXIT_FAIL, "%s: empty or unreadable", cert);
    }
    struct dsar_env v;
    if (dsar_env_open(cmd, c, file, &v)) {
        mdp_buf_cleanup(&text);
        return EXIT_FAIL;
    }
    struct mdp_erase_key key;
    struct mdp_diag d = {0};
    int rc = load_key(c, &v, 0, &key) ? MDP_ERR_IO : 0;
    if (!rc && !key.len)
        rc = mdp_diag_set(&d, MDP_ERR_NOT_FOUND,
                          "this lake has no erasure key: no erasure ran here");
    struct mdp_buf report;
    mdp_buf_init(&report);
    if (!rc)
        rc = mdp_erase_verify(v.inv, v.lake, v.e, &key, text.data, text.len, user, email,
                              v.ctx.pg_conninfo, &report, &d);
    if (report.data) fputs(report.data, stdout);
    mdp_buf_cleanup(&report);
    mdp_buf_cleanup(&text);
    dsar_env_close(&v);
    if (rc) return cli_fail(cmd, EXIT_FAIL, "%s: %s", cert, d.msg[0] ? d.msg : mdp_strerror(rc));
    printf("certificate %s verified\n", cert);
    return EXIT_OK;
}

/* ---- reindex ---- */

static const char REINDEX_HELP[] =
    "Usage: mdp dsar reindex [--dry-run] [--dir LAKE] [--json]\n"
    "\n"
    "Backfills the state store's per-subject index (docs/privacy.md §8): erasure and export find\n"
    "a person's state items through it, and items written before it existed carry no subject.\n"
    "Gives every consent contact row (consent_contact: the key is the pseudonym) and every DOI\n"
    "token (vc_tokens: the pseudonym of the address it names) the subject its writer gives it\n"
    "today. Idempotent: items already indexed are not written. Items that do not name their\n"
    "owner (feedback and replay marks, the bandit's counters) cannot be attributed and stay.\n"
    "Run it once on a lake older than the index, before the next erasure.\n"
    "--dry-run counts what it would set and changes nothing (not even the subject key).\n"
    "Prints per table the items that belong to a person, how many got (or would get) their\n"
    "subject, how many had it and how many cannot be read. Exit 1 when the store cannot be\n"
    "read or written.\n";

static int dsar_reindex(struct cli *c, int argc, char **argv)
{
    const char *cmd = "dsar reindex";
    struct dsar_args a;
    int arc = dsar_args(cmd, c, argc, argv, DA_DRY_RUN, &a);
    if (arc) return arc;
    if (a.user || a.email || a.file)
        return cli_usage(cmd, "takes no person and no inventory: it walks the whole state store");
    struct mdp_diag d = {0};
    struct mdp_lake *lake = NULL;
    struct mdp_state *st = NULL;
    struct mdp_dsar_reindex r;
    memset(&r, 0, sizeof r);
    int rc = mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d);
    if (!rc) rc = mdp_state_open_lake(lake, &st, &d);
    if (!rc) rc = mdp_dsar_reindex(st, a.dry_run, &r, &d);
    mdp_state_close(st);
    mdp_lake_close(lake);
    if (rc) return cli_fail(cmd, EXIT_FAIL, "%s", d.msg[0] ? d.msg : mdp_strerror(rc));
    if (c->json) {
        printf("{\"dry_run\":%s,\"set\":%lld,\"unreadable\":%lld,\"tables\":[",
               a.dry_run ? "true" : "false", (long long)r.set, (long long)r.unreadable);
        for (int i = 0; i < r.n; i++)
            printf("%s{\"table\":\"%s\",\"items\":%lld,\"set\":%lld,\"already\":%lld,"
                   "\"unreadable\":%lld}",
                   i ? "," : "", r.t[i].table, (long long)r.t[i].items, (long long)r.t[i].set,
                   (long long)r.t[i].already, (long long)r.t[i].unreadable);
        puts("]}");
        return EXIT_OK;
    }
    for (int i = 0; i < r.n; i++)
        printf("%-16s %lld items of a person, %lld %s, %lld indexed already, %lld unreadable\n",
               r.t[i].table, (long long)r.t[i].items, (long long)r.t[i].set,
               a.dry_run ? "to set" : "set", (long long)r.t[i].already,
               (long long)r.t[i].unreadable);
    printf("%s%lld items %s\n", a.dry_run ? "dry run: " : "", (long long)r.set,
           a.dry_run ? "would get their subject" : "got their subject");
    return EXIT_OK;
}

/* ---- the table ---- */

static const struct dsar_sub SUBS[] = {
    {"export", "export everything held about one person as a bundle (Art. 15)", EXPORT_HELP,
     dsar_export},
    {"erase", "erase one person from every store, with a certificate (Art. 17)", ERASE_HELP,
     dsar_erase},
    {"verify", "check an erasure certificate, its log chain, and re-scan for the person",
     VERIFY_HELP, dsar_verify},
    {"reindex", "backfill the state store's per-subject index on items older than it", REINDEX_HELP,
     dsar_reindex},
    {NULL, NULL, NULL, NULL},
};

static void dsar_help(FILE *f)
{
    fputs("Usage: mdp dsar SUBCOMMAND ... (mdp dsar SUBCOMMAND --help)\n"
          "\n"
          "Data subject requests over every store of the data inventory (docs/privacy.md):\n",
          f);
    for (const struct dsar_sub *s = SUBS; s->name; s++)
        fprintf(f, "  %-8s %s\n", s->name, s->summary);
}

static int dsar_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        dsar_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    for (const struct dsar_sub *s = SUBS; s->name; s++) {
        if (strcmp(argv[1], s->name) != 0) continue;
        if (cli_wants_help(argc, argv)) {
            fputs(s->help, stdout);
            return EXIT_OK;
        }
        if (cli_config(c)) return EXIT_FAIL;
        return s->run(c, argc, argv);
    }
    return cli_usage("dsar", "unknown subcommand '%s'", argv[1]);
}

const struct cli_command CMD_DSAR = {
    "dsar", "data subject requests: export, erase (with a certificate), verify, reindex",
    "Usage: mdp dsar export|erase|verify|reindex ... (mdp dsar SUBCOMMAND --help)\n", dsar_run, 1};
