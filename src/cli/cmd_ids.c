/* `mdp ids`: new UUIDv7s and inspection of any UUID (spec 2's ids). */
#include "cli.h"
#include "mdp/engine.h"
#include "mdp/model.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <stdlib.h>
#include <string.h>

static int ids_new(struct cli *c, int argc, char **argv)
{
    long count = 1;
    for (int i = 2; i < argc; i++) {
        const char *v;
        int m = cli_opt(argc, argv, &i, "--count", &v);
        if (m < 0) return cli_usage("ids new", "--count needs a number");
        if (m == 1) {
            if (cli_parse_long(v, 1, 100000000, &count))
                return cli_usage("ids new", "--count: '%s' is not a number from 1 to 100000000", v);
            continue;
        }
        return cli_usage("ids new", "unexpected argument '%s'", argv[i]);
    }
    static char out[1 << 16];
    size_t used = 0;
    if (c->json) fputs("[", stdout);
    for (long k = 0; k < count; k++) {
        struct mdp_uuid u;
        if (mdp_uuid7_new(&u)) return cli_fail("ids new", EXIT_FAIL, "clock out of UUIDv7 range");
        if (used + 48 > sizeof out) {
            fwrite(out, 1, used, stdout);
            used = 0;
        }
        if (c->json) {
            out[used++] = k ? ',' : ' ';
            out[used++] = '"';
        }
        mdp_uuid_format(&u, out + used);
        used += 36;
        if (c->json)
            out[used++] = '"';
        else
            out[used++] = '\n';
    }
    fwrite(out, 1, used, stdout);
    if (c->json) fputs(" ]\n", stdout);
    return fflush(stdout) == 0 ? EXIT_OK : cli_fail("ids new", EXIT_FAIL, "cannot write output");
}

static int ids_inspect(struct cli *c, int argc, char **argv)
{
    if (argc != 3) return cli_usage("ids inspect", "expects exactly one UUID");
    struct mdp_uuid u;
    if (mdp_uuid_parse(argv[2], &u))
        return cli_fail("ids inspect", EXIT_FAIL,
                        "'%s' is not a UUID (expected 8-4-4-4-12 hex digits, either case)",
                        argv[2]);
    char canon[37], iso[32] = "";
    mdp_uuid_format(&u, canon);
    int ver = mdp_uuid_version(&u);
    int rfc = mdp_uuid_is_rfc_variant(&u);
    int64_t ms = ver == 7 ? mdp_uuid7_time_ms(&u) : 0;
    if (ver == 7) mdp_time_format_ms(ms, iso, sizeof iso);
    if (c->json) {
        printf("{\"uuid\":\"%s\",\"version\":%d,\"variant\":\"%s\"", canon, ver,
               rfc ? "rfc9562" : "other");
        if (ver == 7) printf(",\"timestamp_ms\":%lld,\"timestamp\":\"%s\"", (long long)ms, iso);
        printf("}\n");
    } else {
        printf("uuid:       %s\nversion:    %d\nvariant:    %s\n", canon, ver,
               rfc ? "RFC 9562" : "other");
        if (ver == 7) printf("timestamp:  %lld\niso8601:    %s\n", (long long)ms, iso);
    }
    return EXIT_OK;
}

struct resolved {
    int rows;
    int json;
};

static int resolve_row(void *ud, int ncols, const char *const *v)
{
    struct resolved *r = ud;
    if (r->json)
        printf("%s%s", r->rows ? ",\n" : "[", v[0] ? v[0] : "null");
    else
        printf("%-10s %-36s %-24s %-24s %s\n", v[0] ? v[0] : "", v[1] ? v[1] : "", v[2] ? v[2] : "",
               v[3] ? v[3] : "", v[4] ? v[4] : "");
    r->rows++;
    return 0;
}

static int ids_resolve(struct cli *c, int argc, char **argv)
{
    if (cli_config(c)) return EXIT_FAIL;
    const char *id = NULL;
    for (int i = 2; i < argc; i++) {
        const char *v;
        int m = cli_opt(argc, argv, &i, "--dir", &v);
        if (m < 0) return cli_usage("ids resolve", "--dir needs a folder");
        if (m > 0) {
            free(c->cfg.lake_dir);
            c->cfg.lake_dir = strdup(v);
        } else if (!id) {
            id = argv[i];
        } else {
            return cli_usage("ids resolve", "expects one EXTERNAL_ID");
        }
    }
    if (!id) return cli_usage("ids resolve", "expects an EXTERNAL_ID");
    struct mdp_lake *lake;
    struct mdp_diag d = {0};
    if (mdp_lake_open(c->cfg.lake_dir, 0, &lake, &d))
        return cli_fail("ids resolve", EXIT_FAIL, "%s", d.msg);
    struct mdp_engine *e = NULL;
    int rc = mdp_engine_open(NULL, &e, &d);
    if (!rc) rc = mdp_curate_attach_all(e, lake, NULL, &d);
    struct mdp_buf sql, lit;
    mdp_buf_init(&sql);
    mdp_buf_init(&lit);
    mdp_sql_quote(&lit, id);
    struct resolved r = {0, c->json};
    if (!rc) {
        if (c->json)
            mdp_buf_printf(
                &sql,
                "SELECT to_json(x)::VARCHAR FROM (SELECT 'linked' AS status, source, user_id, "
                "first_seen, last_seen, is_active, NULL AS users FROM identity_links WHERE "
                "external_id = %s "
                "UNION ALL SELECT 'held_back', source, NULL, first_seen, last_seen, NULL, users "
                "FROM identity_held_back WHERE external_id = %s ORDER BY 1, 2, 4) x",
                lit.data, lit.data);
        else
            mdp_buf_printf(
                &sql,
                "SELECT status, who, first_seen, last_seen, source FROM (SELECT 'linked' AS "
                "status, "
                "CAST(user_id AS VARCHAR) AS who, first_seen, last_seen, source FROM "
                "identity_links "
                "WHERE external_id = %s UNION ALL SELECT 'held back', users || ' users (over the "
                "limit)', first_seen, last_seen, source FROM identity_held_back WHERE external_id "
                "= %s) "
                "ORDER BY 1, 3",
                lit.data, lit.data);
        if (!c->json)
            printf("%-10s %-36s %-24s %-24s %s\n", "status", "user", "first seen", "last seen",
                   "source");
        struct mdp_rows_cb cb = {NULL, resolve_row, &r};
        if ((rc = mdp_buf_error(&lit)) || (rc = mdp_buf_error(&sql)))
            mdp_diag_set(&d, rc, "out of memory building the query");
        else
            rc = mdp_engine_query(e, sql.data, &cb, &d);
        if (c->json && !rc) printf("%s\n", r.rows ? "]" : "[]");
    }
    mdp_buf_cleanup(&sql);
    mdp_buf_cleanup(&lit);
    mdp_engine_close(e);
    mdp_lake_close(lake);
    if (rc) return cli_fail("ids resolve", EXIT_FAIL, "%s", d.msg);
    if (!r.rows && !c->json) printf("(%s links to no user)\n", id);
    return EXIT_OK;
}

static int ids_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2) return cli_usage("ids", "expects a subcommand: new or inspect");
    if (strcmp(argv[1], "new") == 0) return ids_new(c, argc, argv);
    if (strcmp(argv[1], "inspect") == 0) return ids_inspect(c, argc, argv);
    if (strcmp(argv[1], "resolve") == 0) return ids_resolve(c, argc, argv);
    return cli_usage("ids", "no such subcommand '%s' (new, inspect, resolve)", argv[1]);
}

const struct cli_command CMD_IDS = {
    "ids", "make UUIDv7s, inspect UUIDs, resolve external ids",
    "Usage: mdp ids new [--count N]\n"
    "       mdp ids inspect UUID\n"
    "       mdp ids resolve EXTERNAL_ID [--dir LAKE]\n"
    "\n"
    "new      prints N (default 1) new UUIDv7s, one per line, lowercase, strictly increasing\n"
    "         (RFC 9562: 48-bit ms timestamp, a counter within the millisecond)\n"
    "inspect  prints the version and variant of UUID (either case); for v7 also its timestamp in\n"
    "         ms since the epoch and as ISO-8601\n"
    "\n"
    "resolve  what an external id (GBP place id, GA4 client id, Facebook page id, Instagram\n"
    "         business id) links to in identity_links, since when and until when; and whether it\n"
    "         is held back because more users than curate.identity_max_users carry it\n"
    "\n"
    "With the global --json: new prints a JSON array, inspect a JSON object, resolve an array.\n"
    "Example: mdp ids inspect 017F22E2-79B0-7CC3-98C4-DC0C0C07398F   # timestamp 1645557742000\n",
    ids_run, 0};
