/* `mdp config`: check a configuration file, list every key, show the effective values. */
#include "cli.h"

#include <string.h>

static int config_run(struct cli *c, int argc, char **argv)
{
    if (argc < 2) return cli_usage("config", "expects a subcommand: check, keys or show");
    const char *sub = argv[1];
    if (strcmp(sub, "keys") == 0) {
        int md = argc > 2 && strcmp(argv[2], "--markdown") == 0;
        if (argc > 2 + md)
            return cli_usage("config keys", "unexpected argument '%s'", argv[2 + md]);
        mdp_config_print_keys(stdout, md);
        return EXIT_OK;
    }
    if (strcmp(sub, "check") == 0) {
        if (argc > 3) return cli_usage("config check", "expects at most one FILE");
        if (argc == 3) c->config_path = argv[2];
        if (cli_config(c)) return EXIT_FAIL;
        printf("%s: ok\n", c->cfg.source ? c->cfg.source : "(built-in defaults)");
        return EXIT_OK;
    }
    if (strcmp(sub, "show") == 0) {
        if (argc > 2) return cli_usage("config show", "unexpected argument '%s'", argv[2]);
        if (cli_config(c)) return EXIT_FAIL;
        printf("# effective configuration from %s\n",
               c->cfg.source ? c->cfg.source : "built-in defaults");
        mdp_config_print(stdout, &c->cfg);
        return EXIT_OK;
    }
    return cli_usage("config", "no such subcommand '%s' (check, keys, show)", sub);
}

const struct cli_command CMD_CONFIG = {
    "config", "check a configuration file, list keys, show values",
    "Usage: mdp config check [FILE]\n"
    "       mdp config keys [--markdown]\n"
    "       mdp config show\n"
    "\n"
    "check  loads FILE (or --config, or ./mdp.yaml) strictly: an unknown or mistyped key, a value\n"
    "       of the wrong type or range, a duplicate key or a secret in the file is an error that\n"
    "       names the file, line, column and key\n"
    "keys   every configuration key with its type, default and meaning (docs/configuration.md is\n"
    "       this list)\n"
    "show   the effective configuration (defaults overlaid with the file)\n",
    config_run, 0};
