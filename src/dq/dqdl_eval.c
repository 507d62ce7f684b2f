/* DQDL evaluation: loads the tables of a manifest into an in-memory DuckDB (through the engine
 * wrapper), turns each rule into SQL, and compares the measured metrics with the rule's condition
 * in C. Metric names and semantics follow Glue Data Quality (which builds on Deequ):
 * Completeness is the share of non-NULL values, Uniqueness the share of rows whose value occurs
 * exactly once (NULL rows count in the denominator), Entropy uses natural logarithms and the same
 * denominator, StandardDeviation is the population's, `between` is exclusive. A rule that cannot
 * be measured (unknown column, SQL error in a where clause, a rule type we only parse) is an ERROR
 * result with the reason, never a failure of the whole evaluation. */
#include "mdp/alloc.h"
#include "mdp/dq.h"
#include "mdp/engine.h"
#include "mdp/hash.h"
#include "mdp/time.h"

#include <dirent.h>
#include <sys/stat.h>

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- manifest */

void mdp_dq_manifest_free(struct mdp_dq_manifest *m)
{
    if (!m) return;
    for (int i = 0; i < m->ntables; i++) {
        struct mdp_dq_table *t = &m->tables[i];
        for (int c = 0; c < t->ncols; c++) {
            free(t->cols[c]);
            free(t->types[c]);
        }
        free(t->cols);
        free(t->types);
        free(t->name);
        free(t->file);
    }
    free(m->tables);
    free(m->null_token);
    free(m->dir);
    free(m);
}

static const char *sql_type(const char *t)
{
    static const char *const MAP[][2] = {{"string", "VARCHAR"}, {"int", "BIGINT"},
                                         {"double", "DOUBLE"},  {"boolean", "BOOLEAN"},
                                         {"date", "DATE"},      {"timestamp", "TIMESTAMP"}};
    for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++)
        if (strcmp(MAP[i][0], t) == 0) return MAP[i][1];
    return NULL;
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

int mdp_dq_manifest_load(const char *path, struct mdp_dq_manifest **out, struct mdp_diag *d)
{
    *out = NULL;
    int rc = 0;
    struct mdp_dq_manifest *m = NULL;
    json_object *root = json_object_from_file(path);
    if (!root)
        return mdp_diag_set(d, MDP_ERR_PARSE, "%s: not readable JSON (%s)", path,
                            json_util_get_last_err() ? json_util_get_last_err() : "?");
    m = calloc(1, sizeof *m);
    if (!m) {
        rc = MDP_ERR_NOMEM;
        goto out;
    }
    json_object *v = NULL, *tables = NULL;
    if (json_object_object_get_ex(root, "null_token", &v)) {
        if (!json_object_is_type(v, json_type_string)) {
            rc = mdp_diag_set(d, MDP_ERR_INVALID, "%s: null_token must be a string", path);
            goto out;
        }
        m->null_token = strdup(json_object_get_string(v));
    } else {
        m->null_token = strdup("");
    }
    if (!m->null_token) {
        rc = MDP_ERR_NOMEM;
        goto out;
    }
    if (!json_object_object_get_ex(root, "tables", &tables) ||
        !json_object_is_type(tables, json_type_object) || json_object_object_length(tables) == 0) {
        rc = mdp_diag_set(d, MDP_ERR_INVALID, "%s: tables must be a non-empty object", path);
        goto out;
    }
    size_t dirlen = 0;
    const char *slash = strrchr(path, '/');
    if (slash) dirlen = (size_t)(slash - path) + 1;
    if (!(m->dir = mdp_strndup(path, dirlen))) {
        rc = MDP_ERR_NOMEM;
        goto out;
    }
    m->tables = calloc((size_t)json_object_object_length(tables), sizeof *m->tables);
    if (!m->tables) {
        rc = MDP_ERR_NOMEM;
        goto out;
    }
    json_object_object_foreach(tables, name, tv)
    {
        struct mdp_dq_table *t = &m->tables[m->ntables++];
        json_object *file = NULL, *cols = NULL;
        if (!(t->name = strdup(name))) {
            rc = MDP_ERR_NOMEM;
            goto out;
        }
        if (!json_object_is_type(tv, json_type_object) ||
            !json_object_object_get_ex(tv, "file", &file) ||
            !json_object_is_type(file, json_type_string)) {
            rc =
                mdp_diag_set(d, MDP_ERR_INVALID, "%s: tables.%s.file must be a string", path, name);
            goto out;
        }
        const char *f = json_object_get_string(file);
        if (!ends_with(f, ".csv") && !ends_with(f, ".parquet")) {
            rc = mdp_diag_set(d, MDP_ERR_INVALID, "%s: tables.%s.file must end in .csv or .parquet",
                              path, name);
            goto out;
        }
        size_t fl = strlen(f);
        size_t pre = f[0] == '/' ? 0 : dirlen;
        if (!(t->file = malloc(pre + fl + 1))) {
            rc = MDP_ERR_NOMEM;
            goto out;
        }
        memcpy(t->file, path, pre);
        memcpy(t->file + pre, f, fl + 1);
        if (!json_object_object_get_ex(tv, "columns", &cols) ||
            !json_object_is_type(cols, json_type_array) || json_object_array_length(cols) == 0) {
            rc = mdp_diag_set(d, MDP_ERR_INVALID, "%s: tables.%s.columns must be a non-empty list",
                              path, name);
            goto out;
        }
        size_t nc = json_object_array_length(cols);
        t->cols = calloc(nc, sizeof *t->cols);
        t->types = calloc(nc, sizeof *t->types);
        if (!t->cols || !t->types) {
            rc = MDP_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < nc; i++) {
            json_object *c = json_object_array_get_idx(cols, i);
            json_object *cn =
                c && json_object_is_type(c, json_type_array) && json_object_array_length(c) == 2
                    ? json_object_array_get_idx(c, 0)
                    : NULL;
            json_object *ct = cn ? json_object_array_get_idx(c, 1) : NULL;
            if (!cn || !json_object_is_type(cn, json_type_string) || !ct ||
                !json_object_is_type(ct, json_type_string) ||
                !sql_type(json_object_get_string(ct)) || !*json_object_get_string(cn)) {
                rc = mdp_diag_set(d, MDP_ERR_INVALID,
                                  "%s: tables.%s.columns[%zu] must be [\"name\", "
                                  "\"string|int|double|boolean|date|timestamp\"]",
                                  path, name, i);
                goto out;
            }
            t->cols[i] = strdup(json_object_get_string(cn));
            t->types[i] = strdup(json_object_get_string(ct));
            t->ncols++;
            if (!t->cols[i] || !t->types[i]) {
                rc = MDP_ERR_NOMEM;
                goto out;
            }
        }
    }
out:
    json_object_put(root);
    if (rc) {
        mdp_dq_manifest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---------------------------------------------------------------- results */

void mdp_dq_report_free(struct mdp_dq_report *r)
{
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        struct mdp_dq_result *x = &r->results[i];
        free(x->rule);
        free(x->message);
        for (int k = 0; k < x->nmetrics; k++)
            free(x->metrics[k].name);
        free(x->metrics);
    }
    free(r->results);
    for (int i = 0; i < r->nanalyzers; i++) {
        struct mdp_dq_result *x = &r->analyzers[i];
        free(x->rule);
        free(x->message);
        for (int k = 0; k < x->nmetrics; k++)
            free(x->metrics[k].name);
        free(x->metrics);
    }
    free(r->analyzers);
    free(r);
}

struct ev;
struct res {
    struct ev *ev; /* for dynamic rules: the history */
    enum mdp_dq_outcome outcome;
    char msg[600];
    struct mdp_dq_metric *metrics;
    int nmetrics;
    size_t cap;
    long long failed;
    int nomem;
};

static void metric(struct res *r, double v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void metric(struct res *r, double v, const char *fmt, ...)
{
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (mdp_grow(&r->metrics, &r->cap, (size_t)r->nmetrics, sizeof *r->metrics, 4)) {
        r->nomem = 1;
        return;
    }
    char *s = strdup(name);
    if (!s) {
        r->nomem = 1;
        return;
    }
    r->metrics[r->nmetrics].name = s;
    r->metrics[r->nmetrics++].value = v;
}

static enum mdp_dq_outcome set(struct res *r, enum mdp_dq_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum mdp_dq_outcome set(struct res *r, enum mdp_dq_outcome o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    r->outcome = o;
    return o;
}

/* ---------------------------------------------------------------- evaluation context */

struct ev {
    struct mdp_engine *e;
    const struct mdp_dq_doc *doc;
    const struct mdp_dq_table *t;
    const struct mdp_dq_manifest *m;
    const struct mdp_dq_eval_opts *o;
    FILE *failed;
    int rule_no;
    struct mdp_diag d;
    /* one scan: the aggregates of every rule, collected first, then computed in one query */
    int collecting;
    char **agg;
    double *agg_v;
    int *agg_null;
    size_t nagg, agg_cap;
    int agg_done;
    int nomem; /* an engine call ran out of memory: the evaluation fails with MDP_ERR_NOMEM */
};

static int has_col(const struct ev *ev, const char *c)
{
    for (int i = 0; i < ev->t->ncols; i++)
        if (strcmp(ev->t->cols[i], c) == 0) return 1;
    return 0;
}

static int qident(struct mdp_buf *b, const char *s)
{
    int rc = mdp_buf_putc(b, '"');
    for (; !rc && *s; s++)
        rc = *s == '"' ? mdp_buf_puts(b, "\"\"") : mdp_buf_putc(b, *s);
    return rc ? rc : mdp_buf_putc(b, '"');
}

static int dyn_eval(const struct mdp_dq_num *n, double *out, struct res *r);

/* Numbers of conditions, evaluated in C. -1 (with msg) for what has no value here. */
static int num_eval(const struct mdp_dq_num *n, double *out, struct res *r)
{
    double a, b;
    switch (n->kind) {
    case MDP_DQ_N_LIT:
        *out = n->v;
        return 0;
    case MDP_DQ_N_NULL:
        set(r, MDP_DQ_ERROR, "NULL is not a number to compare a metric with");
        return -1;
    case MDP_DQ_N_NEG:
        if (num_eval(n->args[0], &a, r)) return -1;
        *out = -a;
        return 0;
    case MDP_DQ_N_PAREN:
        return num_eval(n->args[0], out, r);
    case MDP_DQ_N_CALL:
        return dyn_eval(n, out, r);
    case MDP_DQ_N_BIN:
        if (num_eval(n->args[0], &a, r) || num_eval(n->args[1], &b, r)) return -1;
        *out = n->op == '+' ? a + b : n->op == '-' ? a - b : n->op == '*' ? a * b : a / b;
        return 0;
    }
    return -1;
}

/* An operand of a condition as a number (ud: what the reader needs): 0, or -1 with r set. */
typedef int (*operand_fn)(const struct mdp_dq_value *v, double *out, const void *ud, struct res *r);

/* 1 if x meets c, its operands read by operand, 0 if not, -1 (r set to ERROR) when an operand
 * cannot be read or c is a regular-expression match, which what (the thing compared, "a metric",
 * "files") cannot take. The conditions of metrics and of files share it. */
static int cond_of(const struct mdp_dq_cond *c, double x, operand_fn operand, const void *ud,
                   const char *what, struct res *r)
{
    double v[2] = {0, 0};
    if (c->op == MDP_DQ_OP_IN || c->op == MDP_DQ_OP_NOT_IN) {
        int in = 0;
        for (int i = 0; i < c->nvals; i++) {
            if (operand(&c->vals[i], &v[0], ud, r)) return -1;
            if (v[0] == x) in = 1;
        }
        return c->op == MDP_DQ_OP_IN ? in : !in;
    }
    for (int i = 0; i < c->nvals && i < 2; i++)
        if (operand(&c->vals[i], &v[i], ud, r)) return -1;
    switch (c->op) {
    case MDP_DQ_OP_EQ:
        return x == v[0];
    case MDP_DQ_OP_NE:
        return x != v[0];
    case MDP_DQ_OP_GT:
        return x > v[0];
    case MDP_DQ_OP_GE:
        return x >= v[0];
    case MDP_DQ_OP_LT:
        return x < v[0];
    case MDP_DQ_OP_LE:
        return x <= v[0];
    case MDP_DQ_OP_BETWEEN:
        return x > v[0] && x < v[1];
    case MDP_DQ_OP_NOT_BETWEEN:
        return x <= v[0] || x >= v[1];
    default:
        set(r, MDP_DQ_ERROR, "%s cannot be matched with a regular expression", what);
        return -1;
    }
}

/* a metric's operand: a number (or an expression of numbers) */
static int num_operand(const struct mdp_dq_value *v, double *out, const void *ud, struct res *r)
{
    (void)ud;
    if (v->kind != MDP_DQ_V_NUM) {
        set(r, MDP_DQ_ERROR, "a metric is compared with numbers only");
        return -1;
    }
    return num_eval(v->num, out, r);
}

/* 1 if metric m satisfies c, 0 if not, -1 (r set to ERROR) if c has no numeric meaning. */
static int num_cond(const struct mdp_dq_cond *c, double m, struct res *r)
{
    return cond_of(c, m, num_operand, NULL, "a metric", r);
}

/* Dynamic rules (Glue's avg(last(k)) and friends): the last k values of the metric the rule
 * measured (its last metric, the one the condition compares) in earlier runs, newest first.
 * avg, min, max, sum, std (population) of last(k); index(last(k), i) the i-th newest (0: the run
 * before this one); abs(x). Fewer than k earlier runs: the ones there are; none: an ERROR. */
static int dyn_eval(const struct mdp_dq_num *n, double *out, struct res *r)
{
    static const char *const AGG[] = {"avg", "min", "max", "sum", "std", "index", NULL};
    const char *f = n->text;
    if (strcmp(f, "abs") == 0) {
        double a;
        if (n->nargs != 1) {
            set(r, MDP_DQ_ERROR, "abs(...) takes one argument");
            return -1;
        }
        if (num_eval(n->args[0], &a, r)) return -1;
        *out = fabs(a);
        return 0;
    }
    int fi = 0;
    while (AGG[fi] && strcmp(AGG[fi], f) != 0)
        fi++;
    if (!AGG[fi]) {
        set(r, MDP_DQ_ERROR,
            "unknown function %s(...): dynamic rules know avg, min, max, sum, std and index of "
            "last(k), and abs",
            f);
        return -1;
    }
    int is_index = strcmp(f, "index") == 0;
    const struct mdp_dq_num *l = n->nargs >= 1 ? n->args[0] : NULL;
    if (n->nargs != (is_index ? 2 : 1) || l->kind != MDP_DQ_N_CALL ||
        strcmp(l->text, "last") != 0 || l->nargs != 1) {
        set(r, MDP_DQ_ERROR, "%s expects last(k)%s", f, is_index ? " and an index" : "");
        return -1;
    }
    double kd, id = 0;
    if (num_eval(l->args[0], &kd, r)) return -1;
    if (is_index && num_eval(n->args[1], &id, r)) return -1;
    if (kd < 1 || kd > 1000 || kd != floor(kd)) {
        set(r, MDP_DQ_ERROR, "last(k) needs a whole k from 1 to 1000");
        return -1;
    }
    if (id < 0 || id != floor(id) || id >= kd) {
        set(r, MDP_DQ_ERROR, "index(last(k), i) needs a whole i from 0 to k - 1");
        return -1;
    }
    int k = (int)kd;
    struct ev *ev = r->ev;
    if (!ev || !ev->o || !ev->o->history) {
        set(r, MDP_DQ_ERROR,
            "%s(last(%d)) is a dynamic rule: it needs the metrics of earlier runs, which mdp dq "
            "run "
            "keeps in dq_results (mdp dq eval has no history)",
            f, k);
        return -1;
    }
    if (!r->nmetrics) {
        set(r, MDP_DQ_ERROR, "this rule measures no metric a dynamic rule could compare");
        return -1;
    }
    const char *name = r->metrics[r->nmetrics - 1].name;
    double *v = mdp_calloc((size_t)k, sizeof *v);
    if (!v) {
        r->nomem = 1;
        set(r, MDP_DQ_ERROR, "out of memory");
        return -1;
    }
    int got = ev->o->history(ev->o->history_ud, name, v, k);
    if (got <= 0) {
        free(v);
        set(r, MDP_DQ_ERROR, "no earlier run measured %s yet: %s(last(%d)) has no history", name, f,
            k);
        return -1;
    }
    if (got > k) got = k;
    if (is_index && (int)id >= got) {
        free(v);
        set(r, MDP_DQ_ERROR, "index(last(%d), %d): only %d earlier runs measured %s", k, (int)id,
            got, name);
        return -1;
    }
    double acc = is_index ? v[(int)id] : fi == 1 || fi == 2 ? v[0] : 0;
    for (int i = 0; !is_index && i < got; i++) {
        if (fi == 1 && v[i] < acc) acc = v[i];
        if (fi == 2 && v[i] > acc) acc = v[i];
        if (fi == 0 || fi == 3 || fi == 4) acc += v[i];
    }
    if (fi == 0) acc /= got;
    if (fi == 4) {
        double mean = acc / got, ss = 0;
        for (int i = 0; i < got; i++)
            ss += (v[i] - mean) * (v[i] - mean);
        acc = sqrt(ss / got);
    }
    free(v);
    *out = acc;
    return 0;
}

/* ---------------------------------------------------------------- SQL of operands */

static int num_sql(struct mdp_buf *b, const struct mdp_dq_num *n, struct res *r)
{
    int rc = 0;
    switch (n->kind) {
    case MDP_DQ_N_LIT:
        return mdp_buf_puts(b, n->text);
    case MDP_DQ_N_NULL:
        return mdp_buf_puts(b, "NULL");
    case MDP_DQ_N_NEG:
        rc = mdp_buf_puts(b, "(-");
        if (!rc) rc = num_sql(b, n->args[0], r);
        return rc ? rc : mdp_buf_putc(b, ')');
    case MDP_DQ_N_PAREN:
        rc = mdp_buf_putc(b, '(');
        if (!rc) rc = num_sql(b, n->args[0], r);
        return rc ? rc : mdp_buf_putc(b, ')');
    case MDP_DQ_N_BIN:
        rc = mdp_buf_putc(b, '(');
        if (!rc) rc = num_sql(b, n->args[0], r);
        if (!rc) rc = mdp_buf_printf(b, " %c ", n->op);
        if (!rc) rc = num_sql(b, n->args[1], r);
        return rc ? rc : mdp_buf_putc(b, ')');
    case MDP_DQ_N_CALL:
        set(r, MDP_DQ_ERROR, "%s(...) is a dynamic rule: it needs the history of earlier runs",
            n->text);
        return 1;
    }
    return 0;
}

static int val_sql(struct mdp_buf *b, const struct mdp_dq_value *v, struct res *r)
{
    switch (v->kind) {
    case MDP_DQ_V_NUM:
        return num_sql(b, v->num, r);
    case MDP_DQ_V_STR:
        return mdp_sql_quote(b, v->s);
    case MDP_DQ_V_NULL:
        return mdp_buf_puts(b, "NULL");
    case MDP_DQ_V_NOW:
        if (!v->sign) return mdp_buf_puts(b, "current_timestamp");
        return mdp_buf_printf(b, "(current_timestamp %c INTERVAL %lld %s)", v->sign, v->amount,
                              strcmp(v->unit, "days") == 0    ? "DAY"
                              : strcmp(v->unit, "hours") == 0 ? "HOUR"
                                                              : "MINUTE");
    case MDP_DQ_V_DURATION:
        return mdp_buf_printf(b, "INTERVAL %lld %s", v->amount,
                              strcmp(v->unit, "days") == 0    ? "DAY"
                              : strcmp(v->unit, "hours") == 0 ? "HOUR"
                                                              : "MINUTE");
    default:
        set(r, MDP_DQ_ERROR, "this operand has no meaning for a column's values");
        return 1;
    }
}

/* x = v, with the keywords: NULL (IS NULL), EMPTY (''), WHITESPACES_ONLY (blank, not empty). */
static int eq_sql(struct mdp_buf *b, const char *x, const struct mdp_dq_value *v, struct res *r)
{
    switch (v->kind) {
    case MDP_DQ_V_NULL:
        return mdp_buf_printf(b, "(%s IS NULL)", x);
    case MDP_DQ_V_EMPTY:
        return mdp_buf_printf(b, "(%s::VARCHAR = '')", x);
    case MDP_DQ_V_WS_ONLY:
        return mdp_buf_printf(b, "(%s::VARCHAR <> '' AND trim(%s::VARCHAR) = '')", x, x);
    default: {
        int rc = mdp_buf_printf(b, "(%s = ", x);
        if (!rc) rc = val_sql(b, v, r);
        return rc ? rc : mdp_buf_putc(b, ')');
    }
    }
}

static const struct mdp_dq_const *find_const(const struct ev *ev, const char *name)
{
    for (int i = 0; i < ev->doc->nconsts; i++)
        if (strcmp(ev->doc->consts[i].name, name) == 0) return &ev->doc->consts[i];
    return NULL;
}

/* The row predicate of a condition on expression x; NULL rows fail unless the condition names
 * NULL. Non-zero on error (r set, or MDP_ERR_NOMEM). */
static int pred_sql(const struct ev *ev, struct mdp_buf *b, const char *x,
                    const struct mdp_dq_cond *c, struct res *r)
{
    int rc = mdp_buf_puts(b, "coalesce(");
    const struct mdp_dq_value *vals = c->vals;
    int nvals = c->nvals;
    if (!c->list && nvals == 1 && vals[0].kind == MDP_DQ_V_VAR) {
        const struct mdp_dq_const *k = find_const(ev, vals[0].s);
        if (!k) {
            set(r, MDP_DQ_ERROR, "unknown constant $%s", vals[0].s);
            return 1;
        }
        vals = k->vals;
        nvals = k->nvals;
    }
    static const char *const CMP[] = {"=", "!=", ">", ">=", "<", "<="};
    if (nvals < 1) {
        set(r, MDP_DQ_ERROR, "the rule has no condition to check rows with");
        return 1;
    }
    switch (c->op) {
    case MDP_DQ_OP_EQ:
    case MDP_DQ_OP_NE:
        if (!rc && c->op == MDP_DQ_OP_NE) rc = mdp_buf_puts(b, "NOT ");
        if (!rc) rc = eq_sql(b, x, &vals[0], r);
        break;
    case MDP_DQ_OP_GT:
    case MDP_DQ_OP_GE:
    case MDP_DQ_OP_LT:
    case MDP_DQ_OP_LE:
        if (!rc) rc = mdp_buf_printf(b, "(%s %s ", x, CMP[c->op]);
        if (!rc) rc = val_sql(b, &vals[0], r);
        if (!rc) rc = mdp_buf_putc(b, ')');
        break;
    case MDP_DQ_OP_BETWEEN:
    case MDP_DQ_OP_NOT_BETWEEN: {
        int in = c->op == MDP_DQ_OP_BETWEEN;
        if (!rc) rc = mdp_buf_printf(b, "(%s %s ", x, in ? ">" : "<=");
        if (!rc) rc = val_sql(b, &vals[0], r);
        if (!rc) rc = mdp_buf_printf(b, " %s %s %s ", in ? "AND" : "OR", x, in ? "<" : ">=");
        if (!rc) rc = val_sql(b, &vals[1], r);
        if (!rc) rc = mdp_buf_putc(b, ')');
        break;
    }
    case MDP_DQ_OP_IN:
    case MDP_DQ_OP_NOT_IN:
        if (!rc) rc = mdp_buf_puts(b, c->op == MDP_DQ_OP_NOT_IN ? "NOT (" : "(");
        for (int i = 0; !rc && i < nvals; i++) {
            if (i) rc = mdp_buf_puts(b, " OR ");
            if (!rc) rc = eq_sql(b, x, &vals[i], r);
        }
        if (!rc) rc = mdp_buf_putc(b, ')');
        break;
    case MDP_DQ_OP_MATCHES:
    case MDP_DQ_OP_NOT_MATCHES:
        if (!rc)
            rc = mdp_buf_printf(b, "%sregexp_full_match(%s::VARCHAR, ",
                                c->op == MDP_DQ_OP_NOT_MATCHES ? "NOT " : "", x);
        if (!rc) rc = mdp_sql_quote(b, vals[0].s);
        if (!rc) rc = mdp_buf_putc(b, ')');
        break;
    }
    return rc ? rc : mdp_buf_puts(b, ", false)");
}

/* ---------------------------------------------------------------- queries */

struct vals {
    double v[8];
    int null[8];
    int n, rows;
};

static int vals_row(void *ud, int n, const char *const *v)
{
    struct vals *x = ud;
    for (int i = 0; i < n && i < 8; i++) {
        x->null[i] = v[i] == NULL;
        x->v[i] = v[i] ? strtod(v[i], NULL) : 0;
    }
    x->n = n;
    x->rows++;
    return 0;
}

/* Runs a one-row query into x; on failure sets r to ERROR with the engine's message. */
static int query_vals(struct ev *ev, const char *sql, struct vals *x, struct res *r)
{
    memset(x, 0, sizeof *x);
    if (ev->collecting) return set(r, MDP_DQ_ERROR, "collecting"), -1;
    struct mdp_rows_cb cb = {NULL, vals_row, x};
    memset(&ev->d, 0, sizeof ev->d);
    int rc = mdp_engine_query(ev->e, sql, &cb, &ev->d);
    if (rc == MDP_ERR_NOMEM) ev->nomem = r->nomem = 1;
    if (rc) {
        set(r, MDP_DQ_ERROR, "the SQL of this rule failed: %s", ev->d.msg);
        return -1;
    }
    return 0;
}

struct keys_ctx {
    FILE *f;
    int rule_no;
    long long n;
};

static int key_row(void *ud, int n, const char *const *v)
{
    struct keys_ctx *k = ud;
    k->n++;
    if (k->f && n >= 2)
        fprintf(k->f, "%d\t%s\t%s\n", k->rule_no, v[0] ? v[0] : "", v[1] ? v[1] : "\\N");
    return 0;
}

/* Writes the keys of the rows in scope (where) failing pred: rule number, 1-based data row,
 * the first column's value. Returns the count, or -1. */
static long long failed_keys(struct ev *ev, const char *where, const char *pred)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_buf_puts(&b, "SELECT __mdp_row, ");
    if (!rc) rc = qident(&b, ev->t->cols[0]);
    if (!rc)
        rc = mdp_buf_puts(&b, "::VARCHAR FROM (SELECT row_number() OVER () AS __mdp_row, * FROM ");
    if (!rc) rc = qident(&b, ev->t->name);
    if (!rc) rc = mdp_buf_puts(&b, ") WHERE ");
    if (!rc && where) rc = mdp_buf_printf(&b, "(%s) AND ", where);
    if (!rc) rc = mdp_buf_printf(&b, "NOT (%s) ORDER BY __mdp_row", pred);
    struct keys_ctx k = {ev->failed, ev->rule_no, 0};
    struct mdp_rows_cb cb = {NULL, key_row, &k};
    if (!rc) rc = mdp_engine_query(ev->e, b.data, &cb, &ev->d);
    mdp_buf_cleanup(&b);
    if (rc == MDP_ERR_NOMEM) ev->nomem = 1;
    return rc ? -1 : k.n;
}

/* The failing rows of a row-level rule whose aggregates counted known of them: listed (and
 * counted) only when there is a failed-rows file and something to list; one scan saved per
 * passing rule. */
static long long count_failed(struct ev *ev, const char *where, const char *pred, double known)
{
    if (known <= 0) return 0;
    if (!ev->failed) return (long long)known;
    return failed_keys(ev, where, pred);
}

/* An aggregate over the rows in scope: fn, counted only where filter (if any) and the rule's
 * where clause hold. */
struct agg {
    const char *fn, *filter;
};

static int agg_text(struct mdp_buf *b, const struct agg *a, const char *where)
{
    int rc = mdp_buf_puts(b, a->fn);
    if (!rc && (a->filter || where)) {
        rc = mdp_buf_puts(b, " FILTER (WHERE ");
        if (!rc && a->filter) rc = mdp_buf_printf(b, "(%s)%s", a->filter, where ? " AND " : "");
        if (!rc && where) rc = mdp_buf_printf(b, "(%s)", where);
        if (!rc) rc = mdp_buf_putc(b, ')');
    }
    return rc;
}

/* The values of n aggregates (at most 8): from the shared scan when it computed them, else
 * from a query of their own. While collecting, only records them. */
static int agg_vals(struct ev *ev, const char *where, const struct agg *a, int n, struct vals *x,
                    struct res *r)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    int found = 0, rc = 0;
    memset(x, 0, sizeof *x);
    for (int i = 0; i < n && !rc; i++) {
        mdp_buf_reset(&b);
        rc = agg_text(&b, &a[i], where);
        if (rc) break;
        size_t k = 0;
        while (k < ev->nagg && strcmp(ev->agg[k], b.data) != 0)
            k++;
        if (ev->collecting) {
            if (k < ev->nagg) continue;
            rc = mdp_grow(&ev->agg, &ev->agg_cap, ev->nagg, sizeof *ev->agg, 32);
            if (!rc) {
                ev->agg[ev->nagg] = mdp_buf_steal(&b);
                ev->nagg++;
            }
        } else if (ev->agg_done && k < ev->nagg) {
            x->v[i] = ev->agg_v[k];
            x->null[i] = ev->agg_null[k];
            found++;
        }
    }
    mdp_buf_cleanup(&b);
    if (rc) {
        r->nomem = 1;
        return set(r, MDP_DQ_ERROR, "out of memory"), -1;
    }
    if (ev->collecting) return set(r, MDP_DQ_ERROR, "collecting"), -1;
    if (found == n) {
        x->n = n;
        x->rows = 1;
        return 0;
    }
    rc = mdp_buf_puts(&b, "SELECT ");
    for (int i = 0; !rc && i < n; i++) {
        if (i) rc = mdp_buf_puts(&b, ", ");
        if (!rc) rc = agg_text(&b, &a[i], where);
    }
    if (!rc) rc = mdp_buf_puts(&b, " FROM ");
    if (!rc) rc = qident(&b, ev->t->name);
    if (rc) {
        mdp_buf_cleanup(&b);
        r->nomem = 1;
        return set(r, MDP_DQ_ERROR, "out of memory"), -1;
    }
    int q = query_vals(ev, b.data, x, r);
    mdp_buf_cleanup(&b);
    return q;
}

static int scan_row(void *ud, int n, const char *const *v)
{
    struct ev *ev = ud;
    for (int i = 0; i < n && (size_t)i < ev->nagg; i++) {
        ev->agg_null[i] = v[i] == NULL;
        ev->agg_v[i] = v[i] ? strtod(v[i], NULL) : 0;
    }
    return 0;
}

/* The shared scan: every collected aggregate in one query over the table. When it fails (a where
 * clause DuckDB rejects), each rule runs its own query and the failing one reports the error. */
static int shared_scan(struct ev *ev)
{
    if (!ev->nagg) return 0;
    ev->agg_v = calloc(ev->nagg, sizeof *ev->agg_v);
    ev->agg_null = calloc(ev->nagg, sizeof *ev->agg_null);
    if (!ev->agg_v || !ev->agg_null) return MDP_ERR_NOMEM;
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_buf_puts(&b, "SELECT ");
    for (size_t i = 0; !rc && i < ev->nagg; i++)
        rc = mdp_buf_printf(&b, "%s%s", i ? ", " : "", ev->agg[i]);
    if (!rc) rc = mdp_buf_puts(&b, " FROM ");
    if (!rc) rc = qident(&b, ev->t->name);
    if (rc) {
        mdp_buf_cleanup(&b);
        return MDP_ERR_NOMEM;
    }
    struct mdp_rows_cb cb = {NULL, scan_row, ev};
    struct mdp_diag d = {0};
    int q = mdp_engine_query(ev->e, b.data, &cb, &d);
    ev->agg_done = q == 0;
    mdp_buf_cleanup(&b);
    return q == MDP_ERR_NOMEM ? q : 0; /* any other failure: each rule runs its own query */
}

/* FROM t [WHERE w] */
static int from_where(struct mdp_buf *b, const struct ev *ev, const char *where)
{
    int rc = mdp_buf_puts(b, " FROM ");
    if (!rc) rc = qident(b, ev->t->name);
    if (!rc && where) rc = mdp_buf_printf(b, " WHERE (%s)", where);
    return rc;
}

/* Glue's custom SQL names the checked table `primary`, a reserved word in DuckDB: the view is
 * "primary" and the bare word is quoted (outside string literals). */
static int sql_word(char c)
{
    return c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

static int quote_primary(const char *sql, struct mdp_buf *out)
{
    int rc = 0;
    char q = 0;
    for (const char *s = sql; !rc && *s; s++) {
        if (q) {
            if (*s == q) q = 0;
        } else if (*s == '\'' || *s == '"') {
            q = *s;
        } else if (strncasecmp(s, "primary", 7) == 0 && (s == sql || !sql_word(s[-1])) &&
                   !sql_word(s[7])) {
            rc = mdp_buf_puts(out, "\"primary\"");
            s += 6;
            continue;
        }
        rc = mdp_buf_putc(out, *s);
    }
    return rc;
}

/* ---------------------------------------------------------------- rule types */

static int column_rule(const char *type)
{
    static const char *const T[] = {"Completeness",
                                    "IsComplete",
                                    "IsUnique",
                                    "Uniqueness",
                                    "UniqueValueRatio",
                                    "DistinctValuesCount",
                                    "Entropy",
                                    "Mean",
                                    "Sum",
                                    "StandardDeviation",
                                    "ColumnValues",
                                    "ColumnLength",
                                    "IsPrimaryKey",
                                    "DataFreshness",
                                    "ColumnCorrelation",
                                    "ColumnDataType",
                                    "AllStatistics",
                                    NULL};
    for (int i = 0; T[i]; i++)
        if (strcmp(T[i], type) == 0) return 1;
    return 0;
}

/* Compliance of a row-level rule: rows passing pred among rows in scope. */
static enum mdp_dq_outcome row_level(struct ev *ev, const struct mdp_dq_rule *rule, const char *col,
                                     const char *pred, const char *metric_name, struct res *r)
{
    struct vals x;
    const struct agg a[2] = {{"count(*)", pred}, {"count(*)", NULL}};
    if (agg_vals(ev, rule->where, a, 2, &x, r)) return MDP_DQ_ERROR;
    double pass = x.v[0], total = x.v[1];
    double compliance = total > 0 ? pass / total : 1.0;
    metric(r, compliance, "Column.%s.%s", col, metric_name);
    long long nf = count_failed(ev, rule->where, pred, total - pass);
    if (nf < 0) return set(r, MDP_DQ_ERROR, "listing the failing rows failed: %s", ev->d.msg);
    r->failed = nf;
    const struct mdp_dq_tag *thr = NULL;
    for (int i = 0; i < rule->ntags; i++)
        if (strcmp(rule->tags[i].name, "threshold") == 0) thr = &rule->tags[i];
    if (thr) {
        int ok = num_cond(&thr->cond, compliance, r);
        if (ok < 0) return MDP_DQ_ERROR;
        return set(r, ok ? MDP_DQ_PASS : MDP_DQ_FAIL, "%.0f of %.0f rows (%.2f %%) passed", pass,
                   total, compliance * 100);
    }
    return set(r, pass == total ? MDP_DQ_PASS : MDP_DQ_FAIL, "%.0f of %.0f rows passed", pass,
               total);
}

/* Compares a measured metric with the rule's condition. */
static enum mdp_dq_outcome compare(const struct mdp_dq_rule *rule, double m, const char *what,
                                   struct res *r)
{
    if (!rule->has_cond) return set(r, MDP_DQ_PASS, "%s was %.6g", what, m); /* an analyzer */
    int ok = num_cond(&rule->cond, m, r);
    if (ok < 0) return MDP_DQ_ERROR;
    return set(r, ok ? MDP_DQ_PASS : MDP_DQ_FAIL, "%s was %.6g", what, m);
}

/* Frequencies of a column's non-NULL values: once-only values, distinct values, rows in scope,
 * entropy. */
static int frequencies(struct ev *ev, const struct mdp_dq_rule *rule, const char *qc,
                       struct vals *x, struct res *r)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_buf_printf(&b, "WITH f AS (SELECT count(*)::DOUBLE AS n");
    if (!rc) rc = from_where(&b, ev, rule->where);
    if (!rc)
        rc = mdp_buf_printf(&b,
                            "%s %s IS NOT NULL GROUP BY %s), t AS (SELECT count(*)::DOUBLE AS tot",
                            rule->where ? " AND" : " WHERE", qc, qc);
    if (!rc) rc = from_where(&b, ev, rule->where);
    if (!rc)
        rc = mdp_buf_puts(&b, ") SELECT (SELECT count(*) FROM f WHERE n = 1), (SELECT count(*) "
                              "FROM f), (SELECT tot FROM t), (SELECT coalesce(-sum(n / tot * "
                              "ln(n / tot)), 0) FROM f, t)");
    if (rc) {
        mdp_buf_cleanup(&b);
        r->nomem = 1;
        return -1;
    }
    int q = query_vals(ev, b.data, x, r);
    mdp_buf_cleanup(&b);
    return q;
}

/* Splits "a,b" (or "{a,b}") into trimmed names; returns the count (at most max). */
static int split_names(const char *s, char names[][128], int max)
{
    int n = 0;
    while (*s && n < max) {
        while (*s == ' ' || *s == '{' || *s == ',')
            s++;
        size_t k = 0;
        while (*s && *s != ',' && *s != '}' && k < 127)
            names[n][k++] = *s++;
        while (k && names[n][k - 1] == ' ')
            k--;
        names[n][k] = '\0';
        if (k) n++;
        while (*s && *s != ',')
            s++;
    }
    return n;
}

static const struct mdp_dq_table *find_table(const struct mdp_dq_manifest *m, const char *name,
                                             size_t n)
{
    for (int i = 0; i < m->ntables; i++)
        if (strlen(m->tables[i].name) == n && strncmp(m->tables[i].name, name, n) == 0)
            return &m->tables[i];
    return NULL;
}

/* RowCountMatch "ref": rows of the primary / rows of ref. ReferentialIntegrity "a,b" "ref.{x,y}":
 * the share of the primary's rows whose values exist in ref. */
static enum mdp_dq_outcome reference_rule(struct ev *ev, const struct mdp_dq_rule *rule,
                                          struct res *r)
{
    int rim = rule->type[0] == 'R' && rule->type[1] == 'e';
    const char *ref = rule->params[rim ? 1 : 0];
    const char *dot = rim ? strchr(ref, '.') : NULL;
    size_t rn = rim ? (dot ? (size_t)(dot - ref) : strlen(ref)) : strlen(ref);
    const struct mdp_dq_table *rt = find_table(ev->m, ref, rn);
    if (!rt) return set(r, MDP_DQ_ERROR, "no table '%.*s' in the manifest", (int)rn, ref);
    struct mdp_buf b;
    mdp_buf_init(&b);
    struct vals x;
    int rc = 0;
    if (!rim) {
        rc = mdp_buf_puts(&b, "SELECT (SELECT count(*) FROM ");
        if (!rc) rc = qident(&b, ev->t->name);
        if (!rc) rc = mdp_buf_puts(&b, ")::DOUBLE / nullif((SELECT count(*) FROM ");
        if (!rc) rc = qident(&b, rt->name);
        if (!rc) rc = mdp_buf_puts(&b, "), 0)");
        if (rc || query_vals(ev, b.data, &x, r)) goto done;
        if (x.null[0]) {
            set(r, MDP_DQ_ERROR, "the reference table %s has no rows", rt->name);
            goto done;
        }
        metric(r, x.v[0], "Dataset.*.RowCountMatch");
        compare(rule, x.v[0], "the row count ratio", r);
        goto done;
    }
    char cols[8][128], refs[8][128];
    int nc = split_names(rule->params[0], cols, 8);
    int nr = dot ? split_names(dot + 1, refs, 8) : 0;
    if (nc == 0 || nc != nr) {
        set(r, MDP_DQ_ERROR,
            "ReferentialIntegrity needs as many reference columns as columns "
            "(\"a,b\" \"table.{x,y}\")");
        goto done;
    }
    for (int i = 0; i < nc; i++) {
        if (!has_col(ev, cols[i])) {
            set(r, MDP_DQ_ERROR, "column '%s' does not exist in table %s", cols[i], ev->t->name);
            goto done;
        }
        int found = 0;
        for (int k = 0; k < rt->ncols; k++)
            if (strcmp(rt->cols[k], refs[i]) == 0) found = 1;
        if (!found) {
            set(r, MDP_DQ_ERROR, "column '%s' does not exist in table %s", refs[i], rt->name);
            goto done;
        }
    }
    rc = mdp_buf_puts(&b, "SELECT count(__r.__m), count(*) FROM ");
    if (!rc) rc = qident(&b, ev->t->name);
    if (!rc) rc = mdp_buf_puts(&b, " AS __t LEFT JOIN (SELECT DISTINCT ");
    for (int i = 0; !rc && i < nc; i++) {
        if (!rc) rc = qident(&b, refs[i]);
        if (!rc) rc = mdp_buf_printf(&b, " AS __k%d, ", i);
    }
    if (!rc) rc = mdp_buf_puts(&b, "1 AS __m FROM ");
    if (!rc) rc = qident(&b, rt->name);
    if (!rc) rc = mdp_buf_puts(&b, ") AS __r ON ");
    for (int i = 0; !rc && i < nc; i++) {
        if (i) rc = mdp_buf_puts(&b, " AND ");
        if (!rc) rc = mdp_buf_puts(&b, "__t.");
        if (!rc) rc = qident(&b, cols[i]);
        if (!rc) rc = mdp_buf_printf(&b, " = __r.__k%d", i);
    }
    if (rc || query_vals(ev, b.data, &x, r)) goto done;
    double share = x.v[1] > 0 ? x.v[0] / x.v[1] : 1.0;
    metric(r, share, "Column.%s.ReferentialIntegrity", rule->params[0]);
    compare(rule, share, "the share of rows found in the reference", r);
done:
    mdp_buf_cleanup(&b);
    if (rc) {
        r->nomem = 1;
        return set(r, MDP_DQ_ERROR, "out of memory");
    }
    return r->outcome;
}

/* ---------------------------------------------------------------- the rules of point 1 */

static enum mdp_dq_outcome eval_leaf(struct ev *ev, const struct mdp_dq_rule *rule, struct res *r);

/* A manifest type (string, int, ...) or a DuckDB type as DuckDB names it. */
static const char *duck_type(const char *t)
{
    const char *s = sql_type(t);
    return s ? s : t;
}

static const char *col_type(const struct ev *ev, const struct mdp_dq_table *t, const char *c)
{
    (void)ev;
    for (int i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i], c) == 0) return duck_type(t->types[i]);
    return NULL;
}

static int is_numeric_type(const char *t)
{
    static const char *const N[] = {"TINYINT",  "SMALLINT",  "INTEGER",  "BIGINT",  "HUGEINT",
                                    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT",
                                    "DOUBLE",   "DECIMAL",   NULL};
    for (int i = 0; N[i]; i++)
        if (strncmp(t, N[i], strlen(N[i])) == 0) return 1;
    return 0;
}

/* Glue's type names (ColumnDataType) as DuckDB types; NULL for an unknown one. */
static const char *glue_type(const char *g)
{
    static const char *const MAP[][2] = {
        {"BOOLEAN", "BOOLEAN"}, {"DATE", "DATE"},      {"TIMESTAMP", "TIMESTAMP"},
        {"INTEGER", "INTEGER"}, {"INT", "INTEGER"},    {"LONG", "BIGINT"},
        {"BIGINT", "BIGINT"},   {"SHORT", "SMALLINT"}, {"BYTE", "TINYINT"},
        {"FLOAT", "FLOAT"},     {"DOUBLE", "DOUBLE"},  {"DECIMAL", "DECIMAL(38,10)"},
        {"STRING", "VARCHAR"},  {"VARCHAR", "VARCHAR"}};
    for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++)
        if (strcasecmp(MAP[i][0], g) == 0) return MAP[i][1];
    return NULL;
}

/* ColumnDataType "c" = "INTEGER" | in ["INTEGER", "LONG"]: the share of rows whose value is of
 * (a string column: can be cast to) one of the types; NULL rows comply (Completeness is the rule
 * for them). A column of a non-string type complies when its type is one of them. */
static enum mdp_dq_outcome column_data_type(struct ev *ev, const struct mdp_dq_rule *rule,
                                            const char *qc, struct res *r)
{
    const struct mdp_dq_cond *c = &rule->cond;
    const struct mdp_dq_value *vals = c->vals;
    int nvals = c->nvals;
    if (!c->list && nvals == 1 && vals[0].kind == MDP_DQ_V_VAR) {
        const struct mdp_dq_const *k = find_const(ev, vals[0].s);
        if (!k) return set(r, MDP_DQ_ERROR, "unknown constant $%s", vals[0].s);
        vals = k->vals;
        nvals = k->nvals;
    }
    if (c->op != MDP_DQ_OP_EQ && c->op != MDP_DQ_OP_IN)
        return set(r, MDP_DQ_ERROR, "ColumnDataType takes = \"TYPE\" or in [\"TYPE\", ...]");
    const char *ct = col_type(ev, ev->t, rule->params[0]);
    int is_str = ct && (strcmp(ct, "VARCHAR") == 0 || strcmp(ct, "string") == 0);
    struct mdp_buf pred;
    mdp_buf_init(&pred);
    int rc = mdp_buf_printf(&pred, "%s IS NULL", qc), same = 0;
    for (int i = 0; i < nvals; i++) {
        const char *g = vals[i].kind == MDP_DQ_V_STR ? glue_type(vals[i].s) : NULL;
        if (!g) {
            mdp_buf_cleanup(&pred);
            return set(r, MDP_DQ_ERROR,
                       "ColumnDataType: '%s' is no type (BOOLEAN, DATE, TIMESTAMP, INTEGER, LONG, "
                       "SHORT, BYTE, FLOAT, DOUBLE, DECIMAL, STRING)",
                       vals[i].kind == MDP_DQ_V_STR ? vals[i].s : "?");
        }
        if (strncmp(ct, g, strlen(g)) == 0 ||
            (strncmp(g, "DECIMAL", 7) == 0 && strncmp(ct, "DECIMAL", 7) == 0))
            same = 1;
        /* DuckDB casts '1.5' to INTEGER (rounding): whole numbers only for the integer types */
        int whole = strstr(g, "INT") != NULL;
        if (!rc && is_str && whole)
            rc = mdp_buf_printf(&pred,
                                " OR (regexp_full_match(trim(%s), '[+-]?[0-9]+') AND "
                                "try_cast(trim(%s) AS %s) IS NOT NULL)",
                                qc, qc, g);
        else if (!rc && is_str && strcmp(g, "VARCHAR") != 0)
            rc = mdp_buf_printf(&pred, " OR try_cast(%s AS %s) IS NOT NULL", qc, g);
        if (!rc && is_str && strcmp(g, "VARCHAR") == 0) rc = mdp_buf_puts(&pred, " OR true");
    }
    if (!rc && !is_str && same) rc = mdp_buf_puts(&pred, " OR true");
    if (rc) {
        mdp_buf_cleanup(&pred);
        r->nomem = 1;
        return set(r, MDP_DQ_ERROR, "out of memory");
    }
    enum mdp_dq_outcome o =
        row_level(ev, rule, rule->params[0], pred.data, "ColumnDataType.Compliance", r);
    mdp_buf_cleanup(&pred);
    return o;
}

/* "a->b,c" into left and right names (c: both c). Returns the count, or -1 when malformed. */
static int split_mapping(const char *s, char left[][128], char right[][128], int max)
{
    char items[16][128];
    int n = split_names(s, items, max < 16 ? max : 16);
    for (int i = 0; i < n; i++) {
        char *arrow = strstr(items[i], "->");
        if (!arrow) {
            snprintf(left[i], 128, "%s", items[i]);
            snprintf(right[i], 128, "%s", items[i]);
            continue;
        }
        *arrow = '\0';
        char *a = items[i], *b = arrow + 2;
        while (*b == ' ')
            b++;
        size_t al = strlen(a);
        while (al && a[al - 1] == ' ')
            a[--al] = '\0';
        if (!*a || !*b) return -1;
        snprintf(left[i], 128, "%s", a);
        snprintf(right[i], 128, "%s", b);
    }
    return n;
}

static int table_has(const struct mdp_dq_table *t, const char *c)
{
    for (int i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i], c) == 0) return 1;
    return 0;
}

/* DatasetMatch "ref" "k->rk,..." ["v->rv,..."]: the share of the primary's rows that have a row
 * in ref with the same keys and the same values (NULLs equal; without value columns: every
 * column but the keys that ref has under the same name). */
static enum mdp_dq_outcome dataset_match(struct ev *ev, const struct mdp_dq_rule *rule,
                                         struct res *r)
{
    const struct mdp_dq_table *rt = find_table(ev->m, rule->params[0], strlen(rule->params[0]));
    if (!rt) return set(r, MDP_DQ_ERROR, "no table '%s' to match with", rule->params[0]);
    char kl[16][128], kr[16][128], vl[64][128], vr[64][128];
    int nk = split_mapping(rule->params[1], kl, kr, 16), nv = 0;
    if (nk <= 0)
        return set(r, MDP_DQ_ERROR,
                   "DatasetMatch needs key columns as \"key\" or \"key->reference_key\", "
                   "comma-separated");
    if (rule->nparams == 3) {
        nv = split_mapping(rule->params[2], vl, vr, 16);
        if (nv <= 0)
            return set(r, MDP_DQ_ERROR,
                       "DatasetMatch's value columns are \"col\" or \"col->reference_col\", "
                       "comma-separated");
    } else {
        for (int i = 0; i < ev->t->ncols && nv < 64; i++) {
            int key = 0;
            for (int k = 0; k < nk; k++)
                if (strcmp(kl[k], ev->t->cols[i]) == 0) key = 1;
            if (key || !table_has(rt, ev->t->cols[i])) continue;
            snprintf(vl[nv], 128, "%s", ev->t->cols[i]);
            snprintf(vr[nv++], 128, "%s", ev->t->cols[i]);
        }
    }
    for (int i = 0; i < nk + nv; i++) {
        const char *a = i < nk ? kl[i] : vl[i - nk], *b = i < nk ? kr[i] : vr[i - nk];
        if (!has_col(ev, a))
            return set(r, MDP_DQ_ERROR, "column '%s' does not exist in table %s", a, ev->t->name);
        if (!table_has(rt, b))
            return set(r, MDP_DQ_ERROR, "column '%s' does not exist in table %s", b, rt->name);
    }
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_buf_puts(&b, "SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM ");
    if (!rc) rc = qident(&b, rt->name);
    if (!rc) rc = mdp_buf_puts(&b, " AS __r WHERE ");
    for (int i = 0; !rc && i < nk + nv; i++) {
        const char *a = i < nk ? kl[i] : vl[i - nk], *c = i < nk ? kr[i] : vr[i - nk];
        if (i) rc = mdp_buf_puts(&b, " AND ");
        if (!rc) rc = mdp_buf_puts(&b, "__r.");
        if (!rc) rc = qident(&b, c);
        if (!rc) rc = mdp_buf_puts(&b, i < nk ? " = __t." : " IS NOT DISTINCT FROM __t.");
        if (!rc) rc = qident(&b, a);
    }
    if (!rc) rc = mdp_buf_puts(&b, ")), count(*) FROM ");
    if (!rc) rc = qident(&b, ev->t->name);
    if (!rc) rc = mdp_buf_puts(&b, " AS __t");
    if (rc) {
        mdp_buf_cleanup(&b);
        r->nomem = 1;
        return set(r, MDP_DQ_ERROR, "out of memory");
    }
    struct vals x;
    int q = query_vals(ev, b.data, &x, r);
    mdp_buf_cleanup(&b);
    if (q) return MDP_DQ_ERROR;
    double share = x.v[1] > 0 ? x.v[0] / x.v[1] : 1.0;
    metric(r, share, "Dataset.%s.DatasetMatch", rt->name);
    compare(rule, share, "the share of rows matching the reference", r);
    if (r->outcome != MDP_DQ_ERROR)
        snprintf(r->msg, sizeof r->msg, "%.0f of %.0f rows match %s on %d key and %d value columns",
                 x.v[0], x.v[1], rt->name, nk, nv);
    return r->outcome;
}

/* One aggregate of AggregateMatch: "fn(col)" or "fn(table.col)", fn one of sum avg count min max;
 * count(*) too. Writes "SELECT fn(col)::DOUBLE FROM table" into b and the column into col. */
static int aggregate_sql(struct ev *ev, const char *expr, struct mdp_buf *b, char *col,
                         size_t colsz, struct res *r)
{
    static const char *const FN[] = {"sum", "avg", "count", "min", "max", NULL};
    char fn[16], arg[300];
    const char *open = strchr(expr, '('), *close = strrchr(expr, ')');
    size_t fl = open ? (size_t)(open - expr) : 0;
    while (fl && expr[fl - 1] == ' ')
        fl--;
    if (!open || !close || close < open || fl == 0 || fl >= sizeof fn ||
        (size_t)(close - open - 1) >= sizeof arg)
        return set(r, MDP_DQ_ERROR, "'%s' is no aggregate (sum(col), avg(ref.col), count(*), ...)",
                   expr),
               -1;
    memcpy(fn, expr, fl);
    fn[fl] = '\0';
    for (size_t i = 0; i < fl; i++)
        fn[i] = (char)(fn[i] >= 'A' && fn[i] <= 'Z' ? fn[i] + 32 : fn[i]);
    int ok = 0;
    for (int i = 0; FN[i]; i++)
        if (strcmp(FN[i], fn) == 0) ok = 1;
    if (!ok)
        return set(r, MDP_DQ_ERROR, "AggregateMatch knows sum, avg, count, min and max, not %s",
                   fn),
               -1;
    const char *a = open + 1;
    while (*a == ' ')
        a++;
    size_t al = (size_t)(close - a);
    while (al && a[al - 1] == ' ')
        al--;
    memcpy(arg, a, al);
    arg[al] = '\0';
    const struct mdp_dq_table *t = ev->t;
    char *c = arg, *dot = strchr(arg, '.');
    if (dot) {
        const struct mdp_dq_table *rt = find_table(ev->m, arg, (size_t)(dot - arg));
        if (!rt)
            return set(r, MDP_DQ_ERROR, "no table '%.*s' for '%s'", (int)(dot - arg), arg, expr),
                   -1;
        t = rt;
        c = dot + 1;
    }
    int star = strcmp(c, "*") == 0;
    if (star && strcmp(fn, "count") != 0)
        return set(r, MDP_DQ_ERROR, "only count takes *: '%s'", expr), -1;
    if (!star && !table_has(t, c))
        return set(r, MDP_DQ_ERROR, "column '%s' does not exist in table %s", c, t->name), -1;
    snprintf(col, colsz, "%s", c);
    int rc = mdp_buf_printf(b, "(SELECT %s(", fn);
    if (!rc) rc = star ? mdp_buf_putc(b, '*') : qident(b, c);
    if (!rc) rc = mdp_buf_puts(b, ")::DOUBLE FROM ");
    if (!rc) rc = qident(b, t->name);
    if (!rc) rc = mdp_buf_putc(b, ')');
    if (rc) {
        r->nomem = 1;
        return set(r, MDP_DQ_ERROR, "out of memory"), -1;
    }
    return 0;
}

/* AggregateMatch "sum(amount)" "sum(ref.amount)": the first aggregate divided by the second. */
static enum mdp_dq_outcome aggregate_match(struct ev *ev, const struct mdp_dq_rule *rule,
                                           struct res *r)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    char c1[300], c2[300];
    struct vals x;
    int rc = mdp_buf_puts(&b, "SELECT ");
    if (rc) goto nomem;
    if (aggregate_sql(ev, rule->params[0], &b, c1, sizeof c1, r)) goto out;
    if (mdp_buf_puts(&b, ", ")) goto nomem;
    if (aggregate_sql(ev, rule->params[1], &b, c2, sizeof c2, r)) goto out;
    if (query_vals(ev, b.data, &x, r)) goto out;
    if (x.null[0] || x.null[1]) {
        set(r, MDP_DQ_ERROR, "an aggregate is NULL (no non-NULL values)");
        goto out;
    }
    double ratio = x.v[1] != 0 ? x.v[0] / x.v[1] : x.v[0] == 0 ? 1.0 : NAN;
    if (isnan(ratio)) {
        set(r, MDP_DQ_ERROR, "the second aggregate is 0 and the first %.6g: no ratio", x.v[0]);
        goto out;
    }
    if (strcmp(c1, c2) == 0)
        metric(r, ratio, "Column.%s.AggregateMatch", c1);
    else
        metric(r, ratio, "Column.%s,%s.AggregateMatch", c1, c2);
    compare(rule, ratio, "the ratio of the aggregates", r);
    if (r->outcome != MDP_DQ_ERROR)
        snprintf(r->msg, sizeof r->msg, "%.10g / %.10g = %.6g", x.v[0], x.v[1], ratio);
    goto out;
nomem:
    r->nomem = 1;
    set(r, MDP_DQ_ERROR, "out of memory");
out:
    mdp_buf_cleanup(&b);
    return r->outcome;
}

/* SchemaMatch "ref": columns with the same name and type in both / columns of either (order does
 * not matter; names are case sensitive). */
static enum mdp_dq_outcome schema_match(struct ev *ev, const struct mdp_dq_rule *rule,
                                        struct res *r)
{
    const struct mdp_dq_table *rt = find_table(ev->m, rule->params[0], strlen(rule->params[0]));
    if (!rt) return set(r, MDP_DQ_ERROR, "no table '%s' to match with", rule->params[0]);
    int same = 0, only_ref = 0;
    for (int i = 0; i < ev->t->ncols; i++) {
        const char *o = col_type(ev, rt, ev->t->cols[i]);
        if (o && strcmp(o, duck_type(ev->t->types[i])) == 0) same++;
    }
    for (int i = 0; i < rt->ncols; i++)
        if (!table_has(ev->t, rt->cols[i])) only_ref++;
    int all = ev->t->ncols + only_ref;
    double ratio = all ? (double)same / all : 1.0;
    metric(r, ratio, "Dataset.%s.SchemaMatch", rt->name);
    compare(rule, ratio, "SchemaMatch", r);
    if (r->outcome != MDP_DQ_ERROR)
        snprintf(r->msg, sizeof r->msg, "%d of %d columns match %s in name and type", same, all,
                 rt->name);
    return r->outcome;
}

/* The metric rules DetectAnomalies watches, with their column count. */
static int anomaly_target(const char *t)
{
    static const char *const ZERO[] = {"RowCount", "ColumnCount", NULL};
    static const char *const ONE[] = {"Completeness",
                                      "Uniqueness",
                                      "UniqueValueRatio",
                                      "DistinctValuesCount",
                                      "Entropy",
                                      "Mean",
                                      "Sum",
                                      "StandardDeviation",
                                      NULL};
    for (int i = 0; ZERO[i]; i++)
        if (strcmp(ZERO[i], t) == 0) return 0;
    for (int i = 0; ONE[i]; i++)
        if (strcmp(ONE[i], t) == 0) return 1;
    return -1;
}

#define MDP_DQ_ANOMALY_RUNS     20 /* earlier runs an anomaly is judged against, at most */
#define MDP_DQ_ANOMALY_MIN_RUNS 3

/* DetectAnomalies "RowCount" | "Completeness" "col": the metric is measured, then compared with
 * its values in the last (at most 20) earlier runs: outside mean +- 3 standard deviations
 * (population) is an anomaly (FAIL). Needs at least 3 earlier runs. */
static enum mdp_dq_outcome detect_anomalies(struct ev *ev, const struct mdp_dq_rule *rule,
                                            struct res *r)
{
    int want = anomaly_target(rule->params[0]);
    if (want < 0)
        return set(r, MDP_DQ_ERROR,
                   "DetectAnomalies watches RowCount, ColumnCount, Completeness, Uniqueness, "
                   "UniqueValueRatio, DistinctValuesCount, Entropy, Mean, Sum or "
                   "StandardDeviation, not '%s'",
                   rule->params[0]);
    if (rule->nparams - 1 != want)
        return set(r, MDP_DQ_ERROR, "DetectAnomalies \"%s\" takes %s", rule->params[0],
                   want ? "a column" : "no column");
    struct mdp_dq_rule tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.kind = MDP_DQ_RULE;
    tmp.type = rule->params[0];
    tmp.params = rule->params + 1;
    tmp.nparams = want;
    if (eval_leaf(ev, &tmp, r) == MDP_DQ_ERROR) return MDP_DQ_ERROR;
    if (!r->nmetrics) return set(r, MDP_DQ_ERROR, "nothing was measured");
    const char *name = r->metrics[r->nmetrics - 1].name;
    double m = r->metrics[r->nmetrics - 1].value;
    if (!ev->o || !ev->o->history)
        return set(r, MDP_DQ_ERROR,
                   "DetectAnomalies needs the metrics of earlier runs, which mdp dq run keeps in "
                   "dq_results (mdp dq eval has no history)");
    double h[MDP_DQ_ANOMALY_RUNS];
    int got = ev->o->history(ev->o->history_ud, name, h, MDP_DQ_ANOMALY_RUNS);
    if (got > MDP_DQ_ANOMALY_RUNS) got = MDP_DQ_ANOMALY_RUNS;
    if (got < MDP_DQ_ANOMALY_MIN_RUNS)
        return set(r, MDP_DQ_ERROR,
                   "DetectAnomalies needs %s from at least %d earlier runs, there %s %d", name,
                   MDP_DQ_ANOMALY_MIN_RUNS, got == 1 ? "is" : "are", got < 0 ? 0 : got);
    double mean = 0, ss = 0;
    for (int i = 0; i < got; i++)
        mean += h[i];
    mean /= got;
    for (int i = 0; i < got; i++)
        ss += (h[i] - mean) * (h[i] - mean);
    double sd = sqrt(ss / got), lo = mean - 3 * sd, hi = mean + 3 * sd;
    char nm[512];
    snprintf(nm, sizeof nm, "%s", name);
    metric(r, lo, "%s.LowerBound", nm);
    metric(r, hi, "%s.UpperBound", nm);
    int ok = m >= lo && m <= hi;
    return set(r, ok ? MDP_DQ_PASS : MDP_DQ_FAIL,
               "%s = %.6g is %s the expected range [%.6g, %.6g] of %d earlier runs", nm, m,
               ok ? "within" : "outside", lo, hi, got);
}

/* ---- file rules */

struct flist {
    char **v;
    size_t n, cap;
    int nomem;
};

static int fcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files at path (the file itself, or every file below a folder), depth-first. */
static void list_files(const char *path, struct flist *f, int depth)
{
    struct stat st;
    if (f->nomem || depth > 32 || stat(path, &st) != 0) return;
    if (S_ISREG(st.st_mode)) {
        if (mdp_grow(&f->v, &f->cap, f->n, sizeof *f->v, 16) || !(f->v[f->n] = mdp_strdup(path)))
            f->nomem = 1;
        else
            f->n++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) return;
    DIR *dir = opendir(path);
    if (!dir) return;
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        struct mdp_buf p;
        mdp_buf_init(&p);
        if (mdp_buf_printf(&p, "%s/%s", path, de->d_name))
            f->nomem = 1;
        else
            list_files(p.data, f, depth + 1);
        mdp_buf_cleanup(&p);
    }
    closedir(dir);
}

static void flist_free(struct flist *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i]);
    free(f->v);
    memset(f, 0, sizeof *f);
}

/* The files a file rule names: its path (relative to the manifest's folder), or the primary
 * table's file. Non-zero (r set) when there are none. */
static int rule_files(struct ev *ev, const char *param, struct flist *f, char *shown,
                      size_t shownsz, struct res *r)
{
    memset(f, 0, sizeof *f);
    const char *p = param ? param : ev->t->file;
    if (!p) {
        set(r, MDP_DQ_ERROR, "name the file or folder: table %s has no single file", ev->t->name);
        return -1;
    }
    /* named as the manifest names it (relative to its folder) */
    const char *mdir = ev->m->dir ? ev->m->dir : "";
    size_t ml = strlen(mdir);
    snprintf(shown, shownsz, "%s", param ? param : ml && strncmp(p, mdir, ml) == 0 ? p + ml : p);
    struct mdp_buf full;
    mdp_buf_init(&full);
    const char *dir = ev->m->dir ? ev->m->dir : "";
    int rc = param && p[0] != '/' && *dir
                 ? mdp_buf_printf(&full, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", p)
                 : mdp_buf_puts(&full, p);
    if (rc) {
        r->nomem = 1;
        set(r, MDP_DQ_ERROR, "out of memory");
        return -1;
    }
    list_files(full.data, f, 0);
    mdp_buf_cleanup(&full);
    if (f->nomem) {
        r->nomem = 1;
        set(r, MDP_DQ_ERROR, "out of memory");
        flist_free(f);
        return -1;
    }
    if (!f->n) {
        set(r, MDP_DQ_ERROR, "no file at '%s'", shown);
        return -1;
    }
    qsort(f->v, f->n, sizeof *f->v, fcmp);
    return 0;
}

static double unit_seconds(const char *u)
{
    return strcmp(u, "days") == 0 ? 86400.0 : strcmp(u, "hours") == 0 ? 3600.0 : 60.0;
}

static double unit_bytes(const char *u)
{
    return strcmp(u, "KB") == 0   ? 1024.0
           : strcmp(u, "MB") == 0 ? 1048576.0
           : strcmp(u, "GB") == 0 ? 1073741824.0
           : strcmp(u, "TB") == 0 ? 1099511627776.0
                                  : 1.0;
}

/* An operand of a file rule as a number: seconds since the epoch (dates, now()), seconds
 * (durations), bytes (sizes), or the number. */
static int file_operand(const struct mdp_dq_value *v, double now, double *out, struct res *r)
{
    int64_t ms, days;
    switch (v->kind) {
    case MDP_DQ_V_NOW:
        *out = now + (v->sign == '-'   ? -1
                      : v->sign == '+' ? 1
                                       : 0) *
                         (double)v->amount * (v->sign ? unit_seconds(v->unit) : 0);
        return 0;
    case MDP_DQ_V_DURATION:
        *out = (double)v->amount * unit_seconds(v->unit);
        return 0;
    case MDP_DQ_V_SIZE:
        *out = (double)v->amount * unit_bytes(v->unit);
        return 0;
    case MDP_DQ_V_STR:
        if (mdp_time_parse_iso(v->s, strlen(v->s), &ms) == 0) {
            *out = (double)ms / 1000.0;
            return 0;
        }
        if (mdp_date_parse(v->s, &days) == 0) {
            *out = (double)days * 86400.0;
            return 0;
        }
        set(r, MDP_DQ_ERROR, "'%s' is no date (YYYY-MM-DD or an ISO 8601 time)", v->s);
        return -1;
    case MDP_DQ_V_NUM:
        return num_eval(v->num, out, r);
    default:
        set(r, MDP_DQ_ERROR, "this operand has no meaning for files");
        return -1;
    }
}

static int file_operand_at(const struct mdp_dq_value *v, double *out, const void *now,
                           struct res *r)
{
    return file_operand(v, *(const double *)now, out, r);
}

/* 1 if x meets c (operands as file_operand gives them), 0 if not, -1 (r set) on error. */
static int file_cond(const struct mdp_dq_cond *c, double x, double now, struct res *r)
{
    return cond_of(c, x, file_operand_at, &now, "files", r);
}

#define MDP_DQ_HASH_MAX (1u << 30) /* files larger than this are not hashed */

/* The checksum of a file: MD5 (Glue's default) or SHA-256, as lowercase hex. */
static int file_hash(const char *path, int sha, char out[65], struct res *r)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return set(r, MDP_DQ_ERROR, "cannot read %s: %s", path, strerror(errno)), -1;
    struct mdp_buf b;
    mdp_buf_init(&b);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (b.len + n > MDP_DQ_HASH_MAX) {
            rc = -1;
            set(r, MDP_DQ_ERROR, "%s is larger than 1 GiB: not hashed", path);
            break;
        }
        if (mdp_buf_append(&b, chunk, n)) {
            rc = -1;
            r->nomem = 1;
            set(r, MDP_DQ_ERROR, "out of memory");
        }
    }
    if (!rc && ferror(fp)) rc = -1, set(r, MDP_DQ_ERROR, "cannot read %s", path);
    fclose(fp);
    if (!rc) {
        const void *data = b.data ? b.data : "";
        rc = sha ? mdp_sha256_hex(data, b.len, out) : mdp_md5_hex(data, b.len, out);
        if (rc) set(r, MDP_DQ_ERROR, "hashing %s failed", path);
    }
    mdp_buf_cleanup(&b);
    return rc ? -1 : 0;
}

/* FileFreshness, FileSize, FileUniqueness, FileMatch. */
static enum mdp_dq_outcome file_rule(struct ev *ev, const struct mdp_dq_rule *rule, struct res *r)
{
    if (ev->collecting) return set(r, MDP_DQ_ERROR, "collecting");
    const char *type = rule->type;
    double now = (double)mdp_time_now_ms() / 1000.0;
    struct flist f, g;
    memset(&g, 0, sizeof g);
    char shown[512], shown2[512];
    char(*h1)[65] = NULL, (*h2)[65] = NULL;
    if (rule_files(ev, rule->nparams ? rule->params[0] : NULL, &f, shown, sizeof shown, r))
        return MDP_DQ_ERROR;
    size_t pass = 0;
    if (strcmp(type, "FileFreshness") == 0 || strcmp(type, "FileSize") == 0) {
        int size = type[4] == 'S';
        int dur = !size && rule->cond.nvals && rule->cond.vals[0].kind == MDP_DQ_V_DURATION;
        for (size_t i = 0; i < f.n; i++) {
            struct stat st;
            if (stat(f.v[i], &st) != 0) {
                set(r, MDP_DQ_ERROR, "cannot stat %s: %s", f.v[i], strerror(errno));
                goto out;
            }
            double mt = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
            double x = size ? (double)st.st_size : dur ? now - mt : mt;
            int ok = file_cond(&rule->cond, x, now, r);
            if (ok < 0) goto out;
            pass += (size_t)ok;
        }
        double c = (double)pass / (double)f.n;
        metric(r, (double)f.n, "File.%s.FileCount", shown);
        metric(r, c, "File.%s.%s.Compliance", shown, type);
        set(r, pass == f.n ? MDP_DQ_PASS : MDP_DQ_FAIL, "%zu of %zu files at '%s' meet it", pass,
            f.n, shown);
        goto out;
    }
    int sha = strcmp(type, "FileUniqueness") == 0;
    for (int i = 0; i < rule->ntags; i++) {
        if (strcmp(rule->tags[i].name, "hashAlgorithm") != 0) {
            set(r, MDP_DQ_ERROR, "unknown option 'with %s' (hashAlgorithm only)",
                rule->tags[i].name);
            goto out;
        }
        const struct mdp_dq_cond *c = &rule->tags[i].cond;
        const char *a = c->op == MDP_DQ_OP_EQ && c->nvals == 1 && c->vals[0].kind == MDP_DQ_V_STR
                            ? c->vals[0].s
                            : "";
        if (strcasecmp(a, "MD5") == 0)
            sha = 0;
        else if (strcasecmp(a, "SHA-256") == 0 || strcasecmp(a, "SHA256") == 0)
            sha = 1;
        else {
            set(r, MDP_DQ_ERROR, "hashAlgorithm is \"MD5\" or \"SHA-256\"");
            goto out;
        }
    }
    h1 = mdp_calloc(f.n, sizeof *h1);
    if (!h1) goto nomem;
    for (size_t i = 0; i < f.n; i++)
        if (file_hash(f.v[i], sha, h1[i], r)) goto out;
    if (strcmp(type, "FileUniqueness") == 0) {
        for (size_t i = 0; i < f.n; i++) {
            int dup = 0;
            for (size_t k = 0; k < f.n && !dup; k++)
                if (k != i && strcmp(h1[i], h1[k]) == 0) dup = 1;
            pass += !dup;
        }
        double u = (double)pass / (double)f.n;
        metric(r, (double)f.n, "File.%s.FileCount", shown);
        metric(r, u, "File.%s.FileUniqueness", shown);
        compare(rule, u, "the share of unique files", r);
        if (r->outcome != MDP_DQ_ERROR)
            snprintf(r->msg, sizeof r->msg, "%zu of %zu files at '%s' are unique", pass, f.n,
                     shown);
        goto out;
    }
    /* FileMatch */
    if (rule->nparams == 2) {
        if (rule_files(ev, rule->params[1], &g, shown2, sizeof shown2, r)) goto out;
        h2 = mdp_calloc(g.n, sizeof *h2);
        if (!h2) goto nomem;
        for (size_t i = 0; i < g.n; i++)
            if (file_hash(g.v[i], sha, h2[i], r)) goto out;
        for (size_t i = 0; i < f.n; i++) {
            int found = 0;
            for (size_t k = 0; k < g.n && !found; k++)
                found = strcmp(h1[i], h2[k]) == 0;
            pass += (size_t)found;
        }
    } else {
        const struct mdp_dq_cond *c = &rule->cond;
        if (!rule->has_cond || (c->op != MDP_DQ_OP_EQ && c->op != MDP_DQ_OP_IN)) {
            set(r, MDP_DQ_ERROR,
                "FileMatch with one path needs its checksums: in [\"...\"] or = \"...\"");
            goto out;
        }
        for (size_t i = 0; i < f.n; i++) {
            int found = 0;
            for (int k = 0; k < c->nvals && !found; k++)
                found = c->vals[k].kind == MDP_DQ_V_STR && strcasecmp(c->vals[k].s, h1[i]) == 0;
            pass += (size_t)found;
        }
    }
    double share = (double)pass / (double)f.n;
    metric(r, share, "File.%s.FileMatch", shown);
    set(r, pass == f.n ? MDP_DQ_PASS : MDP_DQ_FAIL, "%zu of %zu files at '%s' match (%s)", pass,
        f.n, shown, sha ? "SHA-256" : "MD5");
    goto out;
nomem:
    r->nomem = 1;
    set(r, MDP_DQ_ERROR, "out of memory");
out:
    free(h1);
    free(h2);
    flist_free(&f);
    flist_free(&g);
    return r->outcome;
}

/* Analyzer forms of rules that check rows: ColumnValues gives the minimum and maximum (numbers) or
 * the minimum and maximum length (text); ColumnLength the minimum and maximum length. */
static enum mdp_dq_outcome value_range(struct ev *ev, const struct mdp_dq_rule *rule,
                                       const char *qc, struct res *r)
{
    const char *t = col_type(ev, ev->t, rule->params[0]);
    int num = strcmp(rule->type, "ColumnValues") == 0 && t && is_numeric_type(t);
    struct mdp_buf a, b;
    mdp_buf_init(&a);
    mdp_buf_init(&b);
    int rc = num ? mdp_buf_printf(&a, "min(%s)::DOUBLE", qc)
                 : mdp_buf_printf(&a, "min(length(%s::VARCHAR))", qc);
    if (!rc)
        rc = num ? mdp_buf_printf(&b, "max(%s)::DOUBLE", qc)
                 : mdp_buf_printf(&b, "max(length(%s::VARCHAR))", qc);
    if (rc) {
        mdp_buf_cleanup(&a);
        mdp_buf_cleanup(&b);
        r->nomem = 1;
        return set(r, MDP_DQ_ERROR, "out of memory");
    }
    const struct agg ag[2] = {{a.data, NULL}, {b.data, NULL}};
    struct vals x;
    int q = agg_vals(ev, rule->where, ag, 2, &x, r);
    mdp_buf_cleanup(&a);
    mdp_buf_cleanup(&b);
    if (q) return MDP_DQ_ERROR;
    if (x.null[0]) return set(r, MDP_DQ_ERROR, "'%s' has no non-NULL values", rule->params[0]);
    metric(r, x.v[0], "Column.%s.%s", rule->params[0], num ? "Minimum" : "MinimumLength");
    metric(r, x.v[1], "Column.%s.%s", rule->params[0], num ? "Maximum" : "MaximumLength");
    return set(r, MDP_DQ_PASS, "measured");
}

/* AllStatistics "c": RowCount, Completeness, Uniqueness, DistinctValuesCount, Entropy; numbers
 * also Mean, Sum, StandardDeviation, Minimum, Maximum; text the minimum and maximum length. */
static enum mdp_dq_outcome all_statistics(struct ev *ev, const struct mdp_dq_rule *rule,
                                          struct res *r)
{
    const char *t = col_type(ev, ev->t, rule->params[0]);
    int num = t && is_numeric_type(t), str = t && strcmp(t, "VARCHAR") == 0;
    static const char *const BASE[] = {
        "RowCount", "Completeness", "Uniqueness", "DistinctValuesCount", "Entropy", NULL};
    static const char *const NUM[] = {"Mean", "Sum", "StandardDeviation", NULL};
    const char *types[10];
    int n = 0;
    for (int i = 0; BASE[i]; i++)
        types[n++] = BASE[i];
    for (int i = 0; num && NUM[i]; i++)
        types[n++] = NUM[i];
    if (num || str) types[n++] = num ? "ColumnValues" : "ColumnLength";
    enum mdp_dq_outcome o = MDP_DQ_PASS;
    for (int i = 0; i < n; i++) {
        struct mdp_dq_rule tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.kind = MDP_DQ_RULE;
        tmp.type = types[i];
        tmp.params = rule->params;
        tmp.nparams = strcmp(types[i], "RowCount") == 0 ? 0 : 1;
        char keep[600];
        if (eval_leaf(ev, &tmp, r) == MDP_DQ_ERROR && o != MDP_DQ_ERROR) {
            o = MDP_DQ_ERROR;
            snprintf(keep, sizeof keep, "%s", r->msg);
            set(r, MDP_DQ_ERROR, "%s", keep);
        }
    }
    if (o == MDP_DQ_ERROR) return r->outcome = MDP_DQ_ERROR;
    return set(r, MDP_DQ_PASS, "%d metrics of '%s'", r->nmetrics, rule->params[0]);
}

static enum mdp_dq_outcome eval_leaf(struct ev *ev, const struct mdp_dq_rule *rule, struct res *r)
{
    const char *type = rule->type;
    struct vals x;
    struct mdp_buf b, qc, pred;
    mdp_buf_init(&b);
    mdp_buf_init(&qc);
    mdp_buf_init(&pred);
    enum mdp_dq_outcome o = MDP_DQ_ERROR;
    if (column_rule(type)) {
        for (int i = 0; i < rule->nparams; i++)
            if (!has_col(ev, rule->params[i])) {
                o = set(r, MDP_DQ_ERROR, "column '%s' does not exist in table %s", rule->params[i],
                        ev->t->name);
                goto out;
            }
        if (qident(&qc, rule->params[0])) goto nomem;
    }
    const char *col = rule->nparams ? rule->params[0] : "";
    if (strcmp(type, "RowCount") == 0) {
        const struct agg a[1] = {{"count(*)", NULL}};
        if (agg_vals(ev, rule->where, a, 1, &x, r)) goto out;
        metric(r, x.v[0], "Dataset.*.RowCount");
        o = compare(rule, x.v[0], "RowCount", r);
    } else if (strcmp(type, "ColumnCount") == 0) {
        metric(r, ev->t->ncols, "Dataset.*.ColumnCount");
        o = compare(rule, ev->t->ncols, "ColumnCount", r);
    } else if (strcmp(type, "ColumnExists") == 0) {
        o = has_col(ev, col)
                ? set(r, MDP_DQ_PASS, "column '%s' exists", col)
                : set(r, MDP_DQ_FAIL, "column '%s' does not exist in table %s", col, ev->t->name);
    } else if (strcmp(type, "Completeness") == 0 || strcmp(type, "IsComplete") == 0) {
        if (mdp_buf_printf(&b, "count(%s)", qc.data)) goto nomem;
        const struct agg a[2] = {{b.data, NULL}, {"count(*)", NULL}};
        if (agg_vals(ev, rule->where, a, 2, &x, r)) goto out;
        double c = x.v[1] > 0 ? x.v[0] / x.v[1] : 1.0;
        metric(r, c, "Column.%s.Completeness", col);
        if (type[0] == 'C') {
            o = compare(rule, c, "Completeness", r);
        } else {
            if (mdp_buf_printf(&pred, "%s IS NOT NULL", qc.data)) goto nomem;
            long long nf = count_failed(ev, rule->where, pred.data, x.v[1] - x.v[0]);
            if (nf < 0) {
                o = set(r, MDP_DQ_ERROR, "listing the failing rows failed: %s", ev->d.msg);
                goto out;
            }
            r->failed = nf;
            o = set(r, c == 1.0 ? MDP_DQ_PASS : MDP_DQ_FAIL, "%.0f of %.0f rows are NULL",
                    x.v[1] - x.v[0], x.v[1]);
        }
    } else if (strcmp(type, "IsUnique") == 0 || strcmp(type, "Uniqueness") == 0 ||
               strcmp(type, "UniqueValueRatio") == 0 || strcmp(type, "DistinctValuesCount") == 0 ||
               strcmp(type, "Entropy") == 0) {
        if (frequencies(ev, rule, qc.data, &x, r)) goto out;
        double once = x.v[0], distinct = x.v[1], tot = x.v[2], entropy = x.v[3];
        double uniq = tot > 0 ? once / tot : 1.0;
        if (strcmp(type, "IsUnique") == 0 || strcmp(type, "Uniqueness") == 0) {
            metric(r, uniq, "Column.%s.Uniqueness", col);
            if (type[0] == 'U') {
                o = compare(rule, uniq, "Uniqueness", r);
            } else {
                if (mdp_buf_printf(&pred,
                                   "%s IS NOT NULL AND %s IN (SELECT %s FROM %s GROUP BY %s "
                                   "HAVING count(*) = 1)",
                                   qc.data, qc.data, qc.data, "__mdp_scope", qc.data))
                    goto nomem;
                /* the scope of the duplicates check is the where clause's rows */
                struct mdp_buf sc;
                mdp_buf_init(&sc);
                int rc2 = 0;
                long long nf = 0;
                if (ev->failed && tot - once > 0) {
                    rc2 = mdp_buf_puts(&sc, "CREATE OR REPLACE TEMP VIEW __mdp_scope AS SELECT *");
                    if (!rc2) rc2 = from_where(&sc, ev, rule->where);
                    if (!rc2) rc2 = mdp_engine_exec(ev->e, sc.data, &ev->d);
                    if (rc2 == MDP_ERR_NOMEM) ev->nomem = 1;
                }
                mdp_buf_cleanup(&sc);
                if (!rc2) nf = count_failed(ev, rule->where, pred.data, tot - once);
                if (rc2) nf = -1;
                if (nf < 0) {
                    o = set(r, MDP_DQ_ERROR, "listing the failing rows failed: %s", ev->d.msg);
                    goto out;
                }
                r->failed = nf;
                o = set(r, uniq == 1.0 ? MDP_DQ_PASS : MDP_DQ_FAIL,
                        "%.0f of %.0f rows hold a value no other row holds", once, tot);
            }
        } else if (strcmp(type, "UniqueValueRatio") == 0) {
            double u = distinct > 0 ? once / distinct : 0;
            metric(r, u, "Column.%s.UniqueValueRatio", col);
            o = compare(rule, u, "UniqueValueRatio", r);
        } else if (strcmp(type, "DistinctValuesCount") == 0) {
            metric(r, distinct, "Column.%s.DistinctValuesCount", col);
            o = compare(rule, distinct, "DistinctValuesCount", r);
        } else {
            metric(r, entropy, "Column.%s.Entropy", col);
            o = compare(rule, entropy, "Entropy", r);
        }
    } else if (strcmp(type, "IsPrimaryKey") == 0) {
        struct mdp_buf cols, nn;
        mdp_buf_init(&cols);
        mdp_buf_init(&nn);
        int rc2 = 0;
        for (int i = 0; !rc2 && i < rule->nparams; i++) {
            if (i) rc2 = mdp_buf_puts(&cols, ", ");
            if (!rc2 && i) rc2 = mdp_buf_puts(&nn, " AND ");
            if (!rc2) rc2 = qident(&cols, rule->params[i]);
            if (!rc2) rc2 = qident(&nn, rule->params[i]);
            if (!rc2) rc2 = mdp_buf_puts(&nn, " IS NOT NULL");
        }
        if (!rc2)
            rc2 = mdp_buf_printf(
                &b, "SELECT count(*), count(*) FILTER (WHERE %s), (SELECT count(*) FROM (SELECT %s",
                nn.data, cols.data);
        if (!rc2) rc2 = from_where(&b, ev, rule->where);
        if (!rc2)
            rc2 = mdp_buf_printf(&b, "%s %s GROUP BY %s HAVING count(*) = 1))",
                                 rule->where ? " AND" : " WHERE", nn.data, cols.data);
        if (!rc2) rc2 = from_where(&b, ev, rule->where);
        mdp_buf_cleanup(&cols);
        mdp_buf_cleanup(&nn);
        if (rc2) goto nomem;
        if (query_vals(ev, b.data, &x, r)) goto out;
        double tot = x.v[0], complete = x.v[1], once = x.v[2];
        double c = tot > 0 ? complete / tot : 1.0, u = tot > 0 ? once / tot : 1.0;
        if (rule->nparams == 1) {
            metric(r, c, "Column.%s.Completeness", col);
            metric(r, u, "Column.%s.Uniqueness", col);
        } else {
            char names[400] = "";
            size_t n = 0;
            for (int i = 0; i < rule->nparams && n < sizeof names; i++)
                n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? "," : "",
                                      rule->params[i]);
            metric(r, c, "Multicolumn.%s.Completeness", names);
            metric(r, u, "Multicolumn.%s.Uniqueness", names);
        }
        o = set(r, c == 1.0 && u == 1.0 ? MDP_DQ_PASS : MDP_DQ_FAIL,
                "%.0f of %.0f rows are complete and unique", once, tot);
    } else if (strcmp(type, "Mean") == 0 || strcmp(type, "Sum") == 0 ||
               strcmp(type, "StandardDeviation") == 0) {
        const char *fn = type[0] == 'M' ? "avg" : type[1] == 'u' ? "sum" : "stddev_pop";
        if (mdp_buf_printf(&b, "%s(%s)::DOUBLE", fn, qc.data)) goto nomem;
        const struct agg a[1] = {{b.data, NULL}};
        if (agg_vals(ev, rule->where, a, 1, &x, r)) goto out;
        if (x.null[0]) {
            o = set(r, MDP_DQ_ERROR, "%s of '%s' is undefined: no non-NULL values", type, col);
            goto out;
        }
        metric(r, x.v[0], "Column.%s.%s", col, type);
        o = compare(rule, x.v[0], type, r);
    } else if (!rule->has_cond &&
               (strcmp(type, "ColumnValues") == 0 || strcmp(type, "ColumnLength") == 0)) {
        o = value_range(ev, rule, qc.data, r);
    } else if (strcmp(type, "ColumnValues") == 0) {
        if (pred_sql(ev, &pred, qc.data, &rule->cond, r)) goto err_or_nomem;
        o = row_level(ev, rule, col, pred.data, "ColumnValues.Compliance", r);
    } else if (strcmp(type, "ColumnNamesMatchPattern") == 0) {
        /* the share of column names the pattern matches as a whole */
        int rc2 = mdp_buf_puts(&b, "SELECT count(*) FILTER (WHERE regexp_full_match(n, ");
        if (!rc2) rc2 = mdp_sql_quote(&b, rule->params[0]);
        if (!rc2) rc2 = mdp_buf_puts(&b, ")), count(*) FROM (VALUES ");
        for (int i = 0; !rc2 && i < ev->t->ncols; i++) {
            if (i) rc2 = mdp_buf_puts(&b, ", ");
            if (!rc2) rc2 = mdp_buf_putc(&b, '(');
            if (!rc2) rc2 = mdp_sql_quote(&b, ev->t->cols[i]);
            if (!rc2) rc2 = mdp_buf_putc(&b, ')');
        }
        if (!rc2) rc2 = mdp_buf_puts(&b, ") AS c(n)");
        if (rc2) goto nomem;
        if (query_vals(ev, b.data, &x, r)) goto out;
        double ratio = x.v[1] > 0 ? x.v[0] / x.v[1] : 1.0;
        metric(r, ratio, "Dataset.*.ColumnNamesPatternMatchRatio");
        o = set(r, ratio == 1.0 ? MDP_DQ_PASS : MDP_DQ_FAIL, "%.0f of %.0f column names match",
                x.v[0], x.v[1]);
    } else if (strcmp(type, "DataFreshness") == 0) {
        /* each row's age (now minus the value) against the duration; NULL rows fail */
        struct mdp_buf age;
        mdp_buf_init(&age);
        int rc2 = mdp_buf_printf(&age, "(current_timestamp - %s::TIMESTAMPTZ)", qc.data);
        if (!rc2) rc2 = pred_sql(ev, &pred, age.data, &rule->cond, r);
        mdp_buf_cleanup(&age);
        if (rc2) goto err_or_nomem;
        o = row_level(ev, rule, col, pred.data, "DataFreshness.Compliance", r);
    } else if (strcmp(type, "ColumnCorrelation") == 0) {
        if (mdp_buf_printf(&b, "corr(%s, ", qc.data) || qident(&b, rule->params[1]) ||
            mdp_buf_puts(&b, ")"))
            goto nomem;
        const struct agg a[1] = {{b.data, NULL}};
        if (agg_vals(ev, rule->where, a, 1, &x, r)) goto out;
        if (x.null[0]) {
            o = set(r, MDP_DQ_ERROR,
                    "the correlation is undefined (fewer than two rows with both "
                    "values, or a constant column)");
            goto out;
        }
        metric(r, x.v[0], "Multicolumn.%s,%s.ColumnCorrelation", col, rule->params[1]);
        o = compare(rule, x.v[0], "ColumnCorrelation", r);
    } else if (strcmp(type, "RowCountMatch") == 0 || strcmp(type, "ReferentialIntegrity") == 0) {
        o = reference_rule(ev, rule, r);
    } else if (strcmp(type, "ColumnLength") == 0) {
        struct mdp_buf len;
        mdp_buf_init(&len);
        if (mdp_buf_printf(&len, "length(%s::VARCHAR)", qc.data)) goto nomem;
        int rc2 = pred_sql(ev, &pred, len.data, &rule->cond, r);
        struct mdp_buf mx;
        mdp_buf_init(&mx);
        if (!rc2) rc2 = mdp_buf_printf(&b, "min(%s)", len.data);
        if (!rc2) rc2 = mdp_buf_printf(&mx, "max(%s)", len.data);
        mdp_buf_cleanup(&len);
        if (rc2) {
            mdp_buf_cleanup(&mx);
            goto err_or_nomem;
        }
        const struct agg a[2] = {{b.data, NULL}, {mx.data, NULL}};
        int q = agg_vals(ev, rule->where, a, 2, &x, r);
        mdp_buf_cleanup(&mx);
        if (q) goto out;
        if (!x.null[0]) {
            metric(r, x.v[0], "Column.%s.MinimumLength", col);
            metric(r, x.v[1], "Column.%s.MaximumLength", col);
        }
        o = row_level(ev, rule, col, pred.data, "ColumnLength.Compliance", r);
    } else if (strcmp(type, "CustomSql") == 0) {
        struct mdp_buf sql;
        mdp_buf_init(&sql);
        if (quote_primary(rule->params[0], &sql)) goto nomem;
        int rc2 = rule->has_cond ? mdp_buf_printf(&b, "SELECT * FROM (%s)", sql.data)
                                 : mdp_buf_printf(&b,
                                                  "SELECT (SELECT count(*) FROM (%s)), "
                                                  "(SELECT count(*)",
                                                  sql.data);
        mdp_buf_cleanup(&sql);
        if (rc2) goto nomem;
        if (rule->has_cond) {
            if (query_vals(ev, b.data, &x, r)) goto out;
            if (x.rows != 1 || x.n != 1 || x.null[0]) {
                o = set(r, MDP_DQ_ERROR, "the custom SQL must return one non-NULL number");
                goto out;
            }
            metric(r, x.v[0], "Dataset.*.CustomSQL");
            o = compare(rule, x.v[0], "the custom SQL's value", r);
        } else {
            if (from_where(&b, ev, NULL) || mdp_buf_putc(&b, ')')) goto nomem;
            if (query_vals(ev, b.data, &x, r)) goto out;
            double c = x.v[1] > 0 ? x.v[0] / x.v[1] : 1.0;
            metric(r, c, "Dataset.*.CustomSQL.Compliance");
            const struct mdp_dq_tag *thr = rule->ntags ? &rule->tags[0] : NULL;
            int ok = thr ? num_cond(&thr->cond, c, r) : c == 1.0;
            if (ok < 0) goto out;
            o = set(r, ok ? MDP_DQ_PASS : MDP_DQ_FAIL, "the query returned %.0f of %.0f rows",
                    x.v[0], x.v[1]);
        }
    } else if (strcmp(type, "ColumnDataType") == 0) {
        o = column_data_type(ev, rule, qc.data, r);
    } else if (strcmp(type, "DatasetMatch") == 0) {
        o = dataset_match(ev, rule, r);
    } else if (strcmp(type, "AggregateMatch") == 0) {
        o = aggregate_match(ev, rule, r);
    } else if (strcmp(type, "SchemaMatch") == 0) {
        o = schema_match(ev, rule, r);
    } else if (strcmp(type, "DetectAnomalies") == 0) {
        o = detect_anomalies(ev, rule, r);
    } else if (strncmp(type, "File", 4) == 0) {
        o = file_rule(ev, rule, r);
    } else if (strcmp(type, "AllStatistics") == 0) {
        o = all_statistics(ev, rule, r);
    } else {
        o = set(r, MDP_DQ_ERROR, "%s is not a rule type mdp evaluates", type);
    }
    goto out;
err_or_nomem:
    if (r->outcome == MDP_DQ_ERROR && r->msg[0]) goto out;
nomem:
    r->nomem = 1;
    o = MDP_DQ_ERROR;
out:
    mdp_buf_cleanup(&b);
    mdp_buf_cleanup(&qc);
    mdp_buf_cleanup(&pred);
    r->outcome = o;
    return o;
}

static enum mdp_dq_outcome eval_rule(struct ev *ev, const struct mdp_dq_rule *rule, struct res *r)
{
    if (rule->kind == MDP_DQ_RULE) return eval_leaf(ev, rule, r);
    int pass = 0, fail = 0, err = 0;
    struct mdp_buf msg;
    mdp_buf_init(&msg);
    for (int i = 0; i < rule->nkids; i++) {
        struct res k;
        memset(&k, 0, sizeof k);
        k.ev = ev;
        enum mdp_dq_outcome o = eval_rule(ev, rule->kids[i], &k);
        if (k.nomem) r->nomem = 1;
        for (int m = 0; m < k.nmetrics; m++) {
            metric(r, k.metrics[m].value, "%s", k.metrics[m].name);
            free(k.metrics[m].name);
        }
        free(k.metrics);
        r->failed += k.failed;
        if (o == MDP_DQ_PASS)
            pass++;
        else if (o == MDP_DQ_FAIL)
            fail++;
        else
            err++;
        if (o != MDP_DQ_PASS &&
            mdp_buf_printf(&msg, "%s(%d) %s", msg.len ? "; " : "", i + 1, k.msg))
            r->nomem = 1;
    }
    enum mdp_dq_outcome o;
    if (err)
        o = MDP_DQ_ERROR;
    else if (rule->kind == MDP_DQ_AND)
        o = fail ? MDP_DQ_FAIL : MDP_DQ_PASS;
    else
        o = pass ? MDP_DQ_PASS : MDP_DQ_FAIL;
    set(r, o, "%s", o == MDP_DQ_PASS ? "all operands decided it" : msg.data ? msg.data : "");
    mdp_buf_cleanup(&msg);
    return o;
}

/* ---------------------------------------------------------------- loading */

static int load_table(struct ev *ev, const struct mdp_dq_manifest *m, const struct mdp_dq_table *t,
                      struct mdp_diag *d)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    int csv = ends_with(t->file, ".csv");
    int rc = mdp_buf_puts(&b, "CREATE TABLE ");
    if (!rc) rc = qident(&b, t->name);
    if (!rc) rc = mdp_buf_puts(&b, " AS SELECT ");
    for (int i = 0; !rc && i < t->ncols; i++) {
        if (i) rc = mdp_buf_puts(&b, ", ");
        if (!rc) rc = qident(&b, t->cols[i]);
        if (!rc && !csv) rc = mdp_buf_printf(&b, "::%s AS ", sql_type(t->types[i]));
        if (!rc && !csv) rc = qident(&b, t->cols[i]);
    }
    if (!rc) rc = mdp_buf_puts(&b, csv ? " FROM read_csv(" : " FROM read_parquet(");
    if (!rc) rc = mdp_sql_quote(&b, t->file);
    if (!rc && csv) {
        rc = mdp_buf_puts(&b, ", header = true, auto_detect = false, delim = ',', quote = '\"', "
                              "escape = '\"', nullstr = ");
        if (!rc) rc = mdp_sql_quote(&b, m->null_token);
        if (!rc) rc = mdp_buf_puts(&b, ", columns = {");
        for (int i = 0; !rc && i < t->ncols; i++) {
            if (i) rc = mdp_buf_puts(&b, ", ");
            if (!rc) rc = mdp_sql_quote(&b, t->cols[i]);
            if (!rc) rc = mdp_buf_printf(&b, ": '%s'", sql_type(t->types[i]));
        }
        if (!rc) rc = mdp_buf_putc(&b, '}');
    }
    if (!rc) rc = mdp_buf_putc(&b, ')');
    if (rc) {
        mdp_buf_cleanup(&b);
        return MDP_ERR_NOMEM;
    }
    struct mdp_diag ed = {0};
    rc = mdp_engine_exec(ev->e, b.data, &ed);
    mdp_buf_cleanup(&b);
    if (rc) return mdp_diag_set(d, MDP_ERR_ENGINE, "table %s (%s): %s", t->name, t->file, ed.msg);
    return 0;
}

int mdp_dq_eval(const struct mdp_dq_doc *doc, const struct mdp_dq_manifest *m,
                const struct mdp_dq_eval_opts *opts, struct mdp_dq_report **out, struct mdp_diag *d)
{
    *out = NULL;
    struct ev ev;
    memset(&ev, 0, sizeof ev);
    ev.doc = doc;
    ev.m = m;
    struct mdp_dq_report *rep = NULL;
    int rc = 0;
    const char *primary = opts ? opts->primary : NULL;
    for (int i = 0; !primary && i < doc->nsources; i++)
        if (strcmp(doc->sources[i].key, "Primary") == 0) primary = doc->sources[i].value;
    if (!primary && m->ntables == 1) primary = m->tables[0].name;
    if (!primary)
        return mdp_diag_set(d, MDP_ERR_INVALID,
                            "the manifest has %d tables: say which the rules check (--primary)",
                            m->ntables);
    for (int i = 0; i < m->ntables; i++)
        if (strcmp(m->tables[i].name, primary) == 0) ev.t = &m->tables[i];
    if (!ev.t) return mdp_diag_set(d, MDP_ERR_INVALID, "no table '%s' in the manifest", primary);
    ev.o = opts;
    if (opts && opts->engine) {
        ev.e = opts->engine;
    } else {
        struct mdp_engine_opts eo = {NULL, 1, NULL};
        rc = mdp_engine_open(&eo, &ev.e, d);
        if (rc) return rc;
        for (int i = 0; !rc && i < m->ntables; i++)
            rc = load_table(&ev, m, &m->tables[i], d);
    }
    if (!rc && strcmp(primary, "primary") != 0) {
        struct mdp_buf b;
        mdp_buf_init(&b);
        rc = mdp_buf_puts(&b, "CREATE OR REPLACE TEMP VIEW \"primary\" AS SELECT * FROM ");
        if (!rc) rc = qident(&b, primary);
        if (!rc) rc = mdp_engine_exec(ev.e, b.data, d);
        mdp_buf_cleanup(&b);
    }
    if (rc) goto out;
    if (opts && opts->failed_rows) {
        ev.failed = fopen(opts->failed_rows, "w");
        if (!ev.failed) {
            rc = mdp_diag_set(d, MDP_ERR_IO, "%s: %s", opts->failed_rows, strerror(errno));
            goto out;
        }
    }
    rep = calloc(1, sizeof *rep);
    if (!rep ||
        (doc->nrules && !(rep->results = calloc((size_t)doc->nrules, sizeof *rep->results)))) {
        rc = MDP_ERR_NOMEM;
        goto out;
    }
    if (doc->nanalyzers &&
        !(rep->analyzers = mdp_calloc((size_t)doc->nanalyzers, sizeof *rep->analyzers))) {
        rc = MDP_ERR_NOMEM;
        goto out;
    }
    ev.collecting = 1;
    for (int i = 0; i < doc->nrules + doc->nanalyzers; i++) {
        struct res r;
        memset(&r, 0, sizeof r);
        r.ev = &ev;
        eval_rule(&ev, i < doc->nrules ? doc->rules[i] : doc->analyzers[i - doc->nrules], &r);
        for (int k = 0; k < r.nmetrics; k++)
            free(r.metrics[k].name);
        free(r.metrics);
        if (r.nomem || ev.nomem) {
            rc = MDP_ERR_NOMEM;
            goto out;
        }
    }
    ev.collecting = 0;
    if ((rc = shared_scan(&ev))) goto out;
    for (int i = 0; i < doc->nrules + doc->nanalyzers; i++) {
        struct res r;
        memset(&r, 0, sizeof r);
        r.ev = &ev;
        int an = i >= doc->nrules;
        ev.rule_no = i + 1;
        const struct mdp_dq_rule *rule = an ? doc->analyzers[i - doc->nrules] : doc->rules[i];
        struct mdp_buf text;
        mdp_buf_init(&text);
        enum mdp_dq_outcome o = eval_rule(&ev, rule, &r);
        struct mdp_dq_result *x = an ? &rep->analyzers[rep->nanalyzers++] : &rep->results[rep->n++];
        x->outcome = o;
        if (mdp_dq_print_rule(rule, &text)) r.nomem = 1;
        x->rule = mdp_buf_steal(&text);
        x->message = strdup(r.msg);
        x->metrics = r.metrics;
        x->nmetrics = r.nmetrics;
        x->failed_rows = r.failed;
        if (r.nomem || ev.nomem || !x->message) {
            rc = MDP_ERR_NOMEM;
            goto out;
        }
        if (o == MDP_DQ_PASS && !an) rep->passed++;
    }
    rep->score = rep->n ? (double)rep->passed / rep->n : 1.0;
    if (ev.failed && fflush(ev.failed) != 0) {
        rc = mdp_diag_set(d, MDP_ERR_IO, "%s: %s", opts->failed_rows, strerror(errno));
        goto out;
    }
out:
    if (ev.failed && fclose(ev.failed) != 0 && !rc)
        rc = mdp_diag_set(d, MDP_ERR_IO, "%s: %s", opts->failed_rows, strerror(errno));
    if (!(opts && opts->engine)) mdp_engine_close(ev.e);
    for (size_t i = 0; i < ev.nagg; i++)
        free(ev.agg[i]);
    free(ev.agg);
    free(ev.agg_v);
    free(ev.agg_null);
    if (rc) {
        mdp_dq_report_free(rep);
        return rc;
    }
    *out = rep;
    return 0;
}
