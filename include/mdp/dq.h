/* Data quality: AWS Glue Data Quality's rule language (DQDL). mdp_dq_parse turns a ruleset into
 * a syntax tree (rejecting what Glue's grammar rejects, with the line and column of the first
 * error); mdp_dq_print_rule gives a rule's canonical, Glue-printed form (double quotes, one
 * space between tokens, every operand of and/or in parentheses). docs/quality.md describes the
 * language as we accept it. */
#ifndef MDP_DQ_H
#define MDP_DQ_H

#include <stdint.h>

#include "mdp/buf.h"
#include "mdp/err.h"

struct mdp_engine;

/* Arithmetic in numeric operands: literals, unary minus, + - * / (usual precedence), function
 * calls (avg(last(5)): dynamic rules), parentheses (kept, so the printed form is what was
 * written) and NULL. */
enum mdp_dq_num_kind {
    MDP_DQ_N_LIT = 0,
    MDP_DQ_N_NULL = 1,
    MDP_DQ_N_NEG = 2,
    MDP_DQ_N_BIN = 3, /* op is one of + - * / */
    MDP_DQ_N_CALL = 4,
    MDP_DQ_N_PAREN = 5
};

struct mdp_dq_num {
    enum mdp_dq_num_kind kind;
    double v;                 /* LIT: the value */
    const char *text;         /* LIT: the literal as written; CALL: the function name */
    char op;                  /* BIN */
    struct mdp_dq_num **args; /* BIN: 2 operands; NEG, PAREN: 1; CALL: nargs arguments */
    int nargs;
};

/* One operand of a condition. */
enum mdp_dq_value_kind {
    MDP_DQ_V_NUM = 0,      /* num */
    MDP_DQ_V_STR = 1,      /* s: a quoted string (dates "2024-01-31" and times "9:30 PM" too) */
    MDP_DQ_V_NULL = 2,     /* NULL */
    MDP_DQ_V_EMPTY = 3,    /* EMPTY */
    MDP_DQ_V_WS_ONLY = 4,  /* WHITESPACES_ONLY */
    MDP_DQ_V_VAR = 5,      /* s: the name of a constant ($name) */
    MDP_DQ_V_NOW = 6,      /* now() or (now() sign amount unit) */
    MDP_DQ_V_DURATION = 7, /* amount unit: days, hours, minutes */
    MDP_DQ_V_SIZE = 8      /* amount unit: B, KB, MB, GB, TB */
};

struct mdp_dq_value {
    enum mdp_dq_value_kind kind;
    const char *s;
    struct mdp_dq_num *num;
    char sign;        /* NOW: 0 (plain now()), '+' or '-' */
    long long amount; /* NOW with a sign, DURATION, SIZE */
    const char *unit; /* static string */
};

enum mdp_dq_op {
    MDP_DQ_OP_EQ = 0,
    MDP_DQ_OP_NE = 1,
    MDP_DQ_OP_GT = 2,
    MDP_DQ_OP_GE = 3,
    MDP_DQ_OP_LT = 4,
    MDP_DQ_OP_LE = 5,
    MDP_DQ_OP_BETWEEN = 6, /* exclusive at both ends, as in Glue */
    MDP_DQ_OP_NOT_BETWEEN = 7,
    MDP_DQ_OP_IN = 8,
    MDP_DQ_OP_NOT_IN = 9,
    MDP_DQ_OP_MATCHES = 10,
    MDP_DQ_OP_NOT_MATCHES = 11
};

struct mdp_dq_cond {
    enum mdp_dq_op op;
    struct mdp_dq_value *vals; /* 1 operand, 2 for between, the list for in (or one VAR) */
    int nvals;
    int list; /* in/not in with a bracketed list (0: in $constant) */
};

/* `with NAME condition`: `with threshold > 0.9`, `with hashAlgorithm = "MD5"` (file rules). */
struct mdp_dq_tag {
    const char *name;
    struct mdp_dq_cond cond;
};

struct mdp_dq_label {
    const char *key, *value;
};

enum mdp_dq_rule_kind { MDP_DQ_RULE = 0, MDP_DQ_AND = 1, MDP_DQ_OR = 2 };

struct mdp_dq_rule {
    enum mdp_dq_rule_kind kind;
    int line, col; /* where the rule starts in the source */
    /* MDP_DQ_RULE */
    const char *type;        /* static: "ColumnValues", ... */
    const char **params;     /* column names and other parameters, unquoted */
    const char **connectors; /* per parameter: NULL, "of" or "and" */
    int nparams;
    int has_cond;
    struct mdp_dq_cond cond;
    const char *where; /* the where clause's SQL, or NULL */
    struct mdp_dq_tag *tags;
    int ntags;
    struct mdp_dq_label *labels;
    int nlabels;
    /* MDP_DQ_AND, MDP_DQ_OR: two or more operands */
    struct mdp_dq_rule **kids;
    int nkids;
};

struct mdp_dq_pair {
    const char *key;
    const char *value; /* a string, or NULL when the value is a list */
    const char **list;
    int nlist;
};

struct mdp_dq_const {
    const char *name;
    struct mdp_dq_value *vals; /* one value, or the list */
    int nvals;
    int list;
};

/* A parsed DQDL document. All its memory belongs to it (one arena). */
struct mdp_dq_doc {
    struct mdp_dq_pair *metadata;
    int nmetadata, has_metadata;
    struct mdp_dq_pair *sources;
    int nsources, has_sources;
    struct mdp_dq_const *consts;
    int nconsts;
    struct mdp_dq_rule **rules;
    int nrules, has_rules;
    struct mdp_dq_rule **analyzers;
    int nanalyzers, has_analyzers;
    void *arena; /* internal */
};

/* Where parsing stopped: 1-based line and column (in bytes) and the message. */
struct mdp_dq_error {
    int line, col;
    char msg[256];
};

/* Parses a DQDL document of len bytes. On success *out_doc is a new document (free it with
 * mdp_dq_doc_free). Returns 0, MDP_ERR_PARSE (err says where and why; *out_doc is NULL) or
 * MDP_ERR_NOMEM. Thread-safe (no shared state). */
int mdp_dq_parse(const char *src, size_t len, struct mdp_dq_doc **out_doc,
                 struct mdp_dq_error *err);
/* Frees a document from mdp_dq_parse and everything in it; accepts NULL. Returns nothing. */
void mdp_dq_doc_free(struct mdp_dq_doc *doc);

/* Appends the canonical form of a rule (or analyzer) to out (the caller's buffer; r is borrowed).
 * Returns 0 or MDP_ERR_NOMEM. */
int mdp_dq_print_rule(const struct mdp_dq_rule *r, struct mdp_buf *out);
/* Appends the whole document in canonical form (sections, constants, one rule per line).
 * Parsing the output gives the same document. doc is borrowed, out is the caller's. Returns 0 or
 * MDP_ERR_NOMEM. */
int mdp_dq_print_doc(const struct mdp_dq_doc *doc, struct mdp_buf *out);

/* The rule types the parser accepts, NULL-terminated (static). */
extern const char *const MDP_DQ_RULE_TYPES[];

/* ------------------------------------------------------------------ evaluation */

/* The tables a ruleset runs over, from a manifest file:
 * {"null_token": "\\N", "tables": {"NAME": {"file": "PATH.csv|PATH.parquet",
 *   "columns": [["col", "string|int|double|boolean|date|timestamp"], ...]}}}
 * CSV files have a header; the null token means NULL, empty and blank strings are kept. Paths are
 * relative to the manifest's folder. */
struct mdp_dq_table {
    char *name, *file;
    char **cols, **types;
    int ncols;
};

struct mdp_dq_manifest {
    char *null_token;
    char *dir; /* the folder relative paths (tables, file rules) start from; "" for the current */
    struct mdp_dq_table *tables;
    int ntables;
};

/* Reads a manifest. Returns 0, MDP_ERR_IO, MDP_ERR_PARSE or MDP_ERR_INVALID (d says which key is
 * wrong), MDP_ERR_NOMEM. The caller frees *out with mdp_dq_manifest_free. */
int mdp_dq_manifest_load(const char *path, struct mdp_dq_manifest **out, struct mdp_diag *d);
/* Frees a manifest from mdp_dq_manifest_load; accepts NULL. Returns nothing. */
void mdp_dq_manifest_free(struct mdp_dq_manifest *m);

enum mdp_dq_outcome { MDP_DQ_PASS = 0, MDP_DQ_FAIL = 1, MDP_DQ_ERROR = 2 };

struct mdp_dq_metric {
    char *name; /* Glue's name: Dataset.*.RowCount, Column.user_id.Completeness */
    double value;
};

struct mdp_dq_result {
    char *rule; /* canonical form */
    enum mdp_dq_outcome outcome;
    char *message;
    struct mdp_dq_metric *metrics;
    int nmetrics;
    long long failed_rows; /* row-level rules: rows that failed (their keys went to the file) */
};

struct mdp_dq_report {
    struct mdp_dq_result *results;
    int n, passed;
    double score; /* passed / n (1.0 for an empty ruleset) */
    /* the Analyzers section: metrics only (outcome PASS, or ERROR when not measurable) */
    struct mdp_dq_result *analyzers;
    int nanalyzers;
};

/* The history of earlier runs for dynamic rules (avg(last(5))) and DetectAnomalies: writes up
 * to max earlier values of the metric named metric (Glue's name) into out, newest first, one per
 * run, and returns how many (0: no history). ud is mdp_dq_eval_opts.history_ud. */
typedef int (*mdp_dq_history_fn)(void *ud, const char *metric, double *out, int max);

struct mdp_dq_eval_opts {
    const char *primary; /* the table the rules check; NULL: DataSources' Primary or the only one */
    const char *
        failed_rows; /* file for the keys of failing rows (rule number, row number, key), or NULL */
    /* earlier runs' metrics, or NULL (dynamic rules and DetectAnomalies are then an ERROR) */
    mdp_dq_history_fn history;
    void *history_ud;
    /* an open engine that already holds the manifest's tables as tables or views (the manifest's
     * files are not loaded then; table files may be NULL); NULL: an in-memory one is opened */
    struct mdp_engine *engine;
};

/* Evaluates doc's rules (and its Analyzers) over the manifest's tables with DuckDB. A rule that
 * cannot be evaluated (unknown column, bad SQL in a where clause, a dynamic rule without history)
 * is an ERROR result, not a failure of the call. Returns 0 (*out: free with mdp_dq_report_free), MDP_ERR_NO_ENGINE,
 * MDP_ERR_ENGINE (a table could not be loaded: d says which and why), MDP_ERR_INVALID (no or an
 * unknown primary table), MDP_ERR_IO (failed-rows file), MDP_ERR_NOMEM. */
int mdp_dq_eval(const struct mdp_dq_doc *doc, const struct mdp_dq_manifest *m,
                const struct mdp_dq_eval_opts *opts, struct mdp_dq_report **out,
                struct mdp_diag *d);
/* Frees a report from mdp_dq_eval and its results; accepts NULL. Returns nothing. */
void mdp_dq_report_free(struct mdp_dq_report *r);

/* ------------------------------------------------------------------ mdp dq run */

/* The lake table of rule outcomes, appended per run, partitioned by day (dt), and the history of
 * dynamic rules and DetectAnomalies. Columns: run_id VARCHAR, evaluated_at TIMESTAMP (UTC),
 * table_name VARCHAR, rule_index INTEGER (1-based, in the ruleset's order), rule VARCHAR (the
 * canonical form), outcome VARCHAR (PASS, FAIL, ERROR), metrics VARCHAR (a JSON object of Glue's
 * metric names and numbers), message VARCHAR, dt DATE. `mdp query` shows it as dq_results. */
#define MDP_DQ_RESULTS_TABLE "_meta/tables/dq_results"

struct mdp_lake;
struct mdp_run;
struct mdp_stage_ctx;

struct mdp_dq_run_opts {
    const char *rules_dir;    /* folder of TABLE.dqdl files; NULL or "{builtin}": config/dq */
    const char *run_id;       /* run_id of the rows written; NULL: a new UUIDv7 */
    int engine_threads;       /* DuckDB threads (0: every core) */
    const char *memory_limit; /* DuckDB syntax, or NULL */
};

struct mdp_dq_table_result {
    char *table, *file; /* the table (the ruleset's name) and the ruleset's path */
    int skipped;        /* the table is not published: nothing evaluated, rep is NULL */
    struct mdp_dq_report *rep;
};

struct mdp_dq_run_result {
    char run_id[37];
    int64_t evaluated_ms;               /* evaluated_at, ms since the epoch (UTC) */
    struct mdp_dq_table_result *tables; /* one per ruleset, in table name order */
    int ntables;
    int rules, passed, failed, errors, skipped; /* skipped: rulesets of unpublished tables */
};

/* Evaluates every ruleset of o->rules_dir against the lake's published tables (the views of
 * `mdp query`; reference tables of DatasetMatch and friends are other published tables; file
 * rules' relative paths start at the lake's folder) and appends the outcomes to dq_results.
 * Every ruleset is parsed first: a broken one is MDP_ERR_PARSE with "FILE:LINE:COL: message" in
 * d, and nothing is evaluated or written. Rule outcomes (FAIL, ERROR) are results, not errors of
 * the call: mdp_dq_run_fails applies the policy. lake and o are borrowed. Returns 0 (*out: free
 * with mdp_dq_run_result_free), MDP_ERR_NOT_FOUND / MDP_ERR_IO (the rules folder),
 * MDP_ERR_PARSE, MDP_ERR_NO_ENGINE / MDP_ERR_ENGINE, the lake's errors while writing, or
 * MDP_ERR_NOMEM, each with d. */
int mdp_dq_run(struct mdp_lake *lake, const struct mdp_dq_run_opts *o,
               struct mdp_dq_run_result **out, struct mdp_diag *d);
/* Frees a result of mdp_dq_run; accepts NULL. Returns nothing. */
void mdp_dq_run_result_free(struct mdp_dq_run_result *r);
/* Whether policy (dq.fail_stage: never, on_error, on_fail) fails a run with result r. Returns 1
 * when it does, 0 when not (also for NULL). r and policy are borrowed. */
int mdp_dq_run_fails(const struct mdp_dq_run_result *r, const char *policy);
/* The dq stage of `mdp run`: mdp_dq_run with dq.rules_dir and the stage's run id; the run record
 * counts the rules evaluated (in) and those that did not pass (out). Returns mdp_dq_run's errors,
 * or MDP_ERR_STAGE when dq.fail_stage says the outcomes fail the stage (after writing them). */
int mdp_stage_dq(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d);

#endif
