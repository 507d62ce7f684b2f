/* `mdp hash email`: the spec's pseudonym of an email (SHA-256 of the trimmed, lower-cased address)
 * or its keyed variant (HMAC-SHA256, key from the environment, key id recorded). */
#include "cli.h"
#include "mdp/hash.h"

#include <stdlib.h>
#include <string.h>

static int hash_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "email") != 0)
        return cli_usage("hash", "expects: mdp hash email ADDRESS [--keyed]");
    int keyed = 0;
    const char *addr = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--keyed") == 0)
            keyed = 1;
        else if (strcmp(argv[i], "--") == 0 && i + 1 < argc && !addr)
            addr = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] == '-')
            return cli_usage("hash", "unknown option '%s'", argv[i]);
        else if (!addr)
            addr = argv[i];
        else
            return cli_usage("hash", "expects one ADDRESS");
    }
    if (!addr) return cli_usage("hash", "expects an ADDRESS");
    char norm[512], hex[65];
    int n = mdp_email_normalize(addr, norm, sizeof norm);
    if (n == MDP_ERR_INVALID)
        return cli_fail("hash email", EXIT_FAIL, "the address is empty after trimming");
    if (n < 0) return cli_fail("hash email", EXIT_FAIL, "the address is longer than 511 bytes");
    if (!keyed) {
        if (mdp_sha256_hex(norm, (size_t)n, hex))
            return cli_fail("hash email", EXIT_FAIL, "SHA-256 failed");
        if (c->json)
            printf("{\"algorithm\":\"sha256\",\"hash\":\"%s\"}\n", hex);
        else
            printf("%s\n", hex);
        return EXIT_OK;
    }
    if (cli_config(c)) return EXIT_FAIL;
    const char *var = c->cfg.pseudo_key_env;
    const char *key = getenv(var);
    if (!key || !*key)
        return cli_fail("hash email", EXIT_FAIL,
                        "--keyed needs the HMAC key in the environment variable %s "
                        "(pseudonymization.key_env), which is not set",
                        var);
    if (strlen(key) < 16)
        return cli_fail("hash email", EXIT_FAIL, "the key in %s is shorter than 16 bytes", var);
    if (mdp_hmac_sha256_hex(key, strlen(key), norm, (size_t)n, hex))
        return cli_fail("hash email", EXIT_FAIL, "HMAC-SHA256 failed");
    if (c->json)
        printf("{\"algorithm\":\"hmac-sha256\",\"key_id\":\"%s\",\"hash\":\"%s\"}\n",
               c->cfg.pseudo_key_id, hex);
    else
        printf("hmac-sha256:%s:%s\n", c->cfg.pseudo_key_id, hex);
    return EXIT_OK;
}

const struct cli_command CMD_HASH = {
    "hash", "pseudonymize an email (SHA-256 or keyed HMAC)",
    "Usage: mdp hash email ADDRESS [--keyed]\n"
    "\n"
    "Prints the pseudonym of ADDRESS used in the curated zone (spec 7): the SHA-256, as 64\n"
    "lowercase hex digits, of the address with ASCII whitespace trimmed and ASCII letters\n"
    "lower-cased (no trailing newline is hashed).\n"
    "\n"
    "--keyed  HMAC-SHA256 with the key from the environment variable named by\n"
    "         pseudonymization.key_env (default MDP_PSEUDONYM_KEY, at least 16 bytes), printed as\n"
    "         hmac-sha256:<key_id>:<hex> so every stored hash records which key made it. Use it\n"
    "         where dictionary attacks on plain SHA-256 must be ruled out.\n"
    "\n"
    "Example: mdp hash email \"  Foo@Example.COM \"\n",
    hash_run, 0};
