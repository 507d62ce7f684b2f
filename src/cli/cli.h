/* Shared parts of the mdp command line: the command table, global options, configuration loading
 * and reporting. Commands live one group per file (cmd_*.c) and use only public headers. */
#ifndef MDP_CLI_H
#define MDP_CLI_H

#include <stdint.h>
#include <stdio.h>
#include "mdp/config.h"
#include "mdp/err.h"

#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2
#define EXIT_BUSY  75 /* sysexits' EX_TEMPFAIL: another writing job holds the lake's lease */

struct cli {
    const char *config_path; /* --config, or NULL */
    int json;                /* --json */
    const char *log_level;   /* --log-level */
    long wait_s;             /* --wait, or -1 */
    struct mdp_config cfg;
    int have_cfg;
};

struct cli_command {
    const char *name;
    const char *summary;
    const char *help; /* full text for `mdp NAME --help` */
    int (*run)(struct cli *c, int argc, char **argv);
    int own_help; /* the command prints help itself (per subcommand) */
};

extern const struct cli_command CMD_INIT, CMD_SEED, CMD_RUN, CMD_DEMO, CMD_RUNS, CMD_IDS, CMD_HASH,
    CMD_CONFIG, CMD_INGEST, CMD_CURATE, CMD_QUERY, CMD_LINT, CMD_CATALOG, CMD_SHELL, CMD_CONSENT,
    CMD_SEGMENTS, CMD_FEATURES, CMD_SNAPSHOT, CMD_SERVE, CMD_BANDIT, CMD_LAKE, CMD_DQ;
extern const struct cli_command CMD_INVENTORY, CMD_RETENTION; /* cmd_gov.c */
extern const struct cli_command CMD_COST, CMD_REPORT;
extern const struct cli_command CMD_FRESHNESS, CMD_ALARMS;
extern const struct cli_command CMD_DSAR; /* cmd_dsar.c */
extern const struct cli_command CMD_CDC;  /* cmd_cdc.c */
extern const struct cli_command CMD_AWS;  /* cmd_aws.c */

/* Loads the configuration (--config, else ./mdp.yaml when present, else defaults) once. Prints the
 * error and returns non-zero on failure. */
int cli_config(struct cli *c);
/* Prints "mdp CMD: message" to stderr and returns code. */
int cli_fail(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A usage error: message plus a pointer to --help; returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 if argv has -h or --help before a "--". */
int cli_wants_help(int argc, char **argv);
/* Matches argv[*i] against option `name` ("--count"): as "--count V" (advancing *i) or
 * "--count=V". Returns 1 with *out_val set, 0 if it is another argument, -1 if the value is
 * missing. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **out_val);
/* Run records collected while a command runs (the on_run callback of a stage context). */
struct cli_runs {
    struct mdp_run *v;
    int n, cap;
};
void cli_keep_run(const struct mdp_run *r, void *ud); /* appends a copy; ud is a struct cli_runs */
void cli_runs_free(struct cli_runs *rs);

/* Prints run records as a table (or a JSON array). */
struct mdp_run;
void cli_print_runs(FILE *f, const struct mdp_run *runs, int n, int json);
/* --dir LAKE: overrides lake.dir. *handled is 1 when argv[*i] was the option. */
int cli_lake_option(const char *cmd, struct cli *c, int argc, char **argv, int *i, int *handled);
/* --date D (from = to = D), --from D, --to D into days since epoch. *handled is 1 when argv[*i] was
 * one of them; returns 0 or EXIT_USAGE. */
int cli_date_option(const char *cmd, int argc, char **argv, int *i, int64_t *from, int64_t *to,
                    int *handled);
/* Both set or both unset (-1), to on or after from; else a usage error (EXIT_USAGE). */
int cli_date_range_check(const char *cmd, int64_t from, int64_t to);
/* Prints the sources' freshness and evaluates the alarms (with their actions), for the demo's
 * summary; problems are printed, not returned. */
struct mdp_lake;
void cli_quality_summary(struct cli *c, struct mdp_lake *lake);
/* One writing job at a time per lake (mdp/lease.h): takes the lake's lease for command cmd
 * (c's config loaded: lake.lease_seconds, lake.lease_wait_seconds or --wait), into *out. Returns
 * 0, or prints why not and returns EXIT_BUSY (another job holds it) or EXIT_FAIL. */
struct mdp_lease;
int cli_lease_take(const char *cmd, struct cli *c, struct mdp_lake *lake, struct mdp_lease **out);
/* Releases what cli_lease_take took (NULL is fine). Returns rc when it is not EXIT_OK, else
 * EXIT_OK, or EXIT_FAIL (printed) when the lease was lost during the run (another job wrote at the
 * same time) or could not be released. */
int cli_lease_release(const char *cmd, struct mdp_lease *l, int rc);
/* Parses a whole decimal number in [min, max]. */
int cli_parse_long(const char *s, long min, long max, long *out);

#endif
