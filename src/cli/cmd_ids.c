/* `mdp ids`: new UUIDv7s and inspection of any UUID (spec 2's ids). */
#include "cli.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

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

static int ids_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2) return cli_usage("ids", "expects a subcommand: new or inspect");
    if (strcmp(argv[1], "new") == 0) return ids_new(c, argc, argv);
    if (strcmp(argv[1], "inspect") == 0) return ids_inspect(c, argc, argv);
    return cli_usage("ids", "no such subcommand '%s' (new, inspect)", argv[1]);
}

const struct cli_command CMD_IDS = {
    "ids", "make UUIDv7s, inspect UUIDs",
    "Usage: mdp ids new [--count N]\n"
    "       mdp ids inspect UUID\n"
    "\n"
    "new      prints N (default 1) new UUIDv7s, one per line, lowercase, strictly increasing\n"
    "         (RFC 9562: 48-bit ms timestamp, a counter within the millisecond)\n"
    "inspect  prints the version and variant of UUID (either case); for v7 also its timestamp in\n"
    "         ms since the epoch and as ISO-8601\n"
    "\n"
    "With the global --json: new prints a JSON array, inspect a JSON object.\n"
    "Example: mdp ids inspect 017F22E2-79B0-7CC3-98C4-DC0C0C07398F   # timestamp 1645557742000\n",
    ids_run, 0};
