/* DQDL lexer and parser: Glue Data Quality's ruleset language into the tree of mdp/dq.h.
 *
 * It follows the grammar of Glue's own parser (awslabs/dqdl): optional Metadata and DataSources
 * dictionaries, constants (`name = "value"` or a list, used as `$name`), then `Rules = [...]`
 * and/or `Analyzers = [...]`; a rule is a type, parameters (optionally preceded by `of` or
 * `and`), an optional condition, an optional where clause, `with` tags and labels; rules combine
 * with and/or and parentheses. On top of the grammar it checks what Glue's rule registry checks:
 * the rule type exists, its parameter count, and that the condition is of a kind the rule takes.
 * Our one extension: a parameter (a column name) may be in single quotes, as the specification
 * writes them.
 *
 * All nodes live in one arena owned by the document, so an error anywhere unwinds with a
 * longjmp to mdp_dq_parse, which frees the arena: a recursive-descent parser with a cleanup path
 * in every function would be three times as long for nothing. */
#include "mdp/dq.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 64 /* parentheses, function calls and unary minus nested in one rule */

/* ---------------------------------------------------------------- arena */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

struct arena {
    struct arena_block *head;
};

static void arena_free(struct arena *a)
{
    if (!a) return;
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *n = b->next;
        free(b);
        b = n;
    }
    free(a);
}

/* ---------------------------------------------------------------- lexer */

enum tok_kind {
    T_EOF,
    T_IDENT,
    T_INT,
    T_DECIMAL,
    T_STRING,
    T_NOW,
    T_VAR,
    T_PUNCT /* text[0] is the character; ">=", "<=" use text */
};

struct tok {
    enum tok_kind kind;
    int line, col;
    const char *text; /* arena copy: identifier, number literal, string value, var name, punct */
    int single;       /* T_STRING in single quotes */
};

struct parser {
    const char *src;
    size_t len, pos;
    int line, col;
    struct tok cur;
    struct arena *arena;
    struct mdp_dq_error *err;
    jmp_buf fail;
    int nomem;
    int depth;
    struct mdp_dq_doc *doc;
};

static void fail_at(struct parser *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));
static void fail_at(struct parser *p, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    p->err->line = line;
    p->err->col = col;
    vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
    va_end(ap);
    longjmp(p->fail, 1);
}

static void *alloc(struct parser *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct arena_block *b = p->arena->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        struct arena_block *nb = malloc(sizeof *nb + cap);
        if (!nb) {
            p->nomem = 1;
            longjmp(p->fail, 1);
        }
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        p->arena->head = nb;
        b = nb;
    }
    void *r = b->data + b->used;
    b->used += n;
    memset(r, 0, n);
    return r;
}

static char *dupn(struct parser *p, const char *s, size_t n)
{
    char *r = alloc(p, n + 1);
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

/* Appends one element to an arena array (doubling; the old copy stays in the arena). */
static void *push(struct parser *p, void *arr, int *n, int *cap, size_t elem)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        if (nc > (1 << 24)) fail_at(p, p->cur.line, p->cur.col, "too many elements");
        void *na = alloc(p, (size_t)nc * elem);
        if (arr) memcpy(na, arr, (size_t)*n * elem);
        arr = na;
        *cap = nc;
    }
    (*n)++;
    return arr;
}

static int is_word(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

static void advance_char(struct parser *p)
{
    if (p->src[p->pos] == '\n') {
        p->line++;
        p->col = 1;
    } else {
        p->col++;
    }
    p->pos++;
}

/* Lexes a quoted string: \" (or \' in single quotes) and \\ are escapes, every other byte
 * (newlines and other backslashes included) is kept as written, as Glue's lexer does. */
static void lex_string(struct parser *p, char q)
{
    int line = p->line, col = p->col;
    /* first find the end, so that the copy is the string's size, not the rest of the input's */
    size_t end = p->pos + 1, n = 0;
    for (;; end++, n++) {
        if (end >= p->len) fail_at(p, line, col, "unterminated string");
        if (p->src[end] == q) break;
        if (p->src[end] == '\\' && end + 1 < p->len &&
            (p->src[end + 1] == q || p->src[end + 1] == '\\'))
            end++;
    }
    char *out = alloc(p, n + 1);
    advance_char(p);
    for (size_t k = 0; k < n; k++) {
        char c = p->src[p->pos];
        if (c == '\\' && (p->src[p->pos + 1] == q || p->src[p->pos + 1] == '\\')) {
            advance_char(p);
            c = p->src[p->pos];
        }
        out[k] = c;
        advance_char(p);
    }
    advance_char(p); /* the closing quote */
    out[n] = '\0';
    if (!mdp_utf8_valid(out, n))
        fail_at(p, line, col, "the string is not UTF-8 text (or holds a NUL byte)");
    p->cur.kind = T_STRING;
    p->cur.text = out;
    p->cur.single = q == '\'';
}

static void next(struct parser *p)
{
    for (;;) {
        if (p->pos >= p->len) break;
        char c = p->src[p->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            advance_char(p);
        } else if (c == '#') {
            while (p->pos < p->len && p->src[p->pos] != '\n')
                advance_char(p);
        } else {
            break;
        }
    }
    struct tok *t = &p->cur;
    memset(t, 0, sizeof *t);
    t->line = p->line;
    t->col = p->col;
    if (p->pos >= p->len) {
        t->kind = T_EOF;
        t->text = "end of input";
        return;
    }
    unsigned char c = (unsigned char)p->src[p->pos];
    if (c == '"' || c == '\'') {
        lex_string(p, (char)c);
        return;
    }
    if (is_word(c)) {
        size_t s = p->pos;
        while (p->pos < p->len && is_word((unsigned char)p->src[p->pos]))
            advance_char(p);
        size_t n = p->pos - s;
        const char *w = p->src + s;
        size_t digits = 0;
        while (digits < n && w[digits] >= '0' && w[digits] <= '9')
            digits++;
        if (digits == n) {
            t->kind = T_INT;
        } else if (digits > 0 && w[digits] == '.' && digits + 1 < n) {
            size_t k = digits + 1;
            while (k < n && w[k] >= '0' && w[k] <= '9')
                k++;
            t->kind = k == n ? T_DECIMAL : T_IDENT;
        } else {
            t->kind = T_IDENT;
        }
        if (t->kind == T_IDENT && n == 3 && memcmp(w, "now", 3) == 0 && p->pos + 1 < p->len &&
            p->src[p->pos] == '(' && p->src[p->pos + 1] == ')') {
            advance_char(p);
            advance_char(p);
            t->kind = T_NOW;
            t->text = "now()";
            return;
        }
        t->text = dupn(p, w, n);
        return;
    }
    if (c == '$') {
        advance_char(p);
        size_t s = p->pos;
        while (p->pos < p->len && is_word((unsigned char)p->src[p->pos]))
            advance_char(p);
        if (p->pos == s) fail_at(p, t->line, t->col, "'$' must be followed by a constant's name");
        t->kind = T_VAR;
        t->text = dupn(p, p->src + s, p->pos - s);
        return;
    }
    static const char punct[] = "=!<>()[]{},:+-*/";
    if (c && strchr(punct, c)) {
        advance_char(p);
        t->kind = T_PUNCT;
        if ((c == '<' || c == '>') && p->pos < p->len && p->src[p->pos] == '=') {
            advance_char(p);
            t->text = c == '<' ? "<=" : ">=";
        } else {
            t->text = dupn(p, (const char *)&c, 1);
        }
        return;
    }
    if (c >= 0x20 && c < 0x7f) fail_at(p, t->line, t->col, "unexpected character '%c'", c);
    fail_at(p, t->line, t->col, "unexpected byte 0x%02x", c);
}

/* ---------------------------------------------------------------- token helpers */

static int is_punct(const struct parser *p, const char *s)
{
    return p->cur.kind == T_PUNCT && strcmp(p->cur.text, s) == 0;
}

static int is_ident(const struct parser *p, const char *s)
{
    return p->cur.kind == T_IDENT && strcmp(p->cur.text, s) == 0;
}

/* and/AND, or/OR, NULL/null... : Glue accepts these in either case. */
static int is_kw2(const struct parser *p, const char *lower, const char *upper)
{
    return is_ident(p, lower) || is_ident(p, upper);
}

static const char *describe(const struct parser *p)
{
    static _Thread_local char buf[80];
    const struct tok *t = &p->cur;
    switch (t->kind) {
    case T_EOF:
        return "end of input";
    case T_STRING:
        return "a quoted string";
    case T_VAR:
        snprintf(buf, sizeof buf, "'$%.60s'", t->text);
        return buf;
    default:
        snprintf(buf, sizeof buf, "'%.60s'", t->text);
        return buf;
    }
}

static void expect_punct(struct parser *p, const char *s, const char *what)
{
    if (!is_punct(p, s))
        fail_at(p, p->cur.line, p->cur.col, "expected '%s' %s, found %s", s, what, describe(p));
    next(p);
}

static const char *expect_dq_string(struct parser *p, const char *what)
{
    if (p->cur.kind != T_STRING)
        fail_at(p, p->cur.line, p->cur.col, "expected %s (a string in double quotes), found %s",
                what, describe(p));
    if (p->cur.single)
        fail_at(p, p->cur.line, p->cur.col,
                "single quotes are accepted only around rule parameters such as column names; "
                "write %s in double quotes",
                what);
    const char *s = p->cur.text;
    next(p);
    return s;
}

static const char *const KEYWORDS[] = {"and",
                                       "AND",
                                       "or",
                                       "OR",
                                       "of",
                                       "OF",
                                       "null",
                                       "NULL",
                                       "empty",
                                       "EMPTY",
                                       "whitespaces_only",
                                       "WHITESPACES_ONLY",
                                       "between",
                                       "in",
                                       "not",
                                       "matches",
                                       "with",
                                       "where",
                                       "labels",
                                       "days",
                                       "hours",
                                       "minutes",
                                       NULL};

static int is_keyword(const char *s)
{
    for (int i = 0; KEYWORDS[i]; i++)
        if (strcmp(KEYWORDS[i], s) == 0) return 1;
    return 0;
}

/* ---------------------------------------------------------------- rule registry */

enum { C_NUM = 1, C_STR = 2, C_DATE = 4, C_DUR = 8, C_SIZE = 16 };
enum { F_WHERE = 1, F_THRESHOLD = 2, F_FILE = 4, F_ANALYZER = 8, F_RULE = 16, F_COND_OPT = 32 };

struct rule_spec {
    const char *name;
    int pmin, pmax; /* parameter count */
    unsigned conds; /* condition kinds it takes (0: none) */
    unsigned flags;
};

#define RA (F_RULE | F_ANALYZER)
static const struct rule_spec SPECS[] = {
    {"RowCount", 0, 0, C_NUM, RA | F_WHERE},
    {"ColumnCount", 0, 0, C_NUM, RA},
    {"Completeness", 1, 1, C_NUM, RA | F_WHERE},
    {"IsComplete", 1, 1, 0, F_RULE | F_WHERE},
    {"IsUnique", 1, 1, 0, F_RULE | F_WHERE},
    {"Uniqueness", 1, 1, C_NUM, RA | F_WHERE},
    {"UniqueValueRatio", 1, 1, C_NUM, RA | F_WHERE},
    {"IsPrimaryKey", 1, 64, 0, F_RULE | F_WHERE},
    {"ColumnValues", 1, 1, C_NUM | C_STR | C_DATE, RA | F_WHERE | F_THRESHOLD},
    {"ColumnLength", 1, 1, C_NUM, RA | F_WHERE | F_THRESHOLD},
    {"ColumnExists", 1, 1, 0, F_RULE},
    {"ColumnDataType", 1, 1, C_STR, F_RULE | F_WHERE | F_THRESHOLD},
    {"ColumnCorrelation", 2, 2, C_NUM, RA | F_WHERE},
    {"DistinctValuesCount", 1, 1, C_NUM, RA | F_WHERE},
    {"Entropy", 1, 1, C_NUM, RA | F_WHERE},
    {"Mean", 1, 1, C_NUM, RA | F_WHERE},
    {"Sum", 1, 1, C_NUM, RA | F_WHERE},
    {"StandardDeviation", 1, 1, C_NUM, RA | F_WHERE},
    {"ColumnNamesMatchPattern", 1, 1, 0, F_RULE},
    {"CustomSql", 1, 1, C_NUM, RA | F_THRESHOLD | F_COND_OPT},
    {"ReferentialIntegrity", 2, 2, C_NUM, F_RULE},
    {"DatasetMatch", 2, 3, C_NUM, F_RULE},
    {"RowCountMatch", 1, 1, C_NUM, F_RULE},
    {"DataFreshness", 1, 1, C_DUR, F_RULE | F_WHERE},
    {"AggregateMatch", 2, 2, C_NUM, F_RULE},
    {"SchemaMatch", 1, 1, C_NUM, F_RULE},
    {"DetectAnomalies", 1, 2, 0, F_RULE},
    {"FileFreshness", 0, 1, C_DATE | C_DUR, F_RULE | F_FILE},
    {"FileMatch", 1, 2, C_STR, F_RULE | F_FILE | F_COND_OPT},
    {"FileSize", 0, 1, C_SIZE, F_RULE | F_FILE},
    {"FileUniqueness", 0, 1, C_NUM, F_RULE | F_FILE},
    {"AllStatistics", 1, 1, 0, F_ANALYZER},
};
#undef RA
#define NSPECS ((int)(sizeof SPECS / sizeof SPECS[0]))

const char *const MDP_DQ_RULE_TYPES[] = {"RowCount",
                                         "ColumnCount",
                                         "Completeness",
                                         "IsComplete",
                                         "IsUnique",
                                         "Uniqueness",
                                         "UniqueValueRatio",
                                         "IsPrimaryKey",
                                         "ColumnValues",
                                         "ColumnLength",
                                         "ColumnExists",
                                         "ColumnDataType",
                                         "ColumnCorrelation",
                                         "DistinctValuesCount",
                                         "Entropy",
                                         "Mean",
                                         "Sum",
                                         "StandardDeviation",
                                         "ColumnNamesMatchPattern",
                                         "CustomSql",
                                         "ReferentialIntegrity",
                                         "DatasetMatch",
                                         "RowCountMatch",
                                         "DataFreshness",
                                         "AggregateMatch",
                                         "SchemaMatch",
                                         "DetectAnomalies",
                                         "FileFreshness",
                                         "FileMatch",
                                         "FileSize",
                                         "FileUniqueness",
                                         NULL};

static const struct rule_spec *find_spec(const char *name)
{
    for (int i = 0; i < NSPECS; i++)
        if (strcmp(SPECS[i].name, name) == 0) return &SPECS[i];
    return NULL;
}

static const char *kinds_name(unsigned k)
{
    if (k == C_NUM) return "a numeric condition";
    if (k == C_STR) return "a string condition (= \"...\", in [...], matches \"...\")";
    if (k == C_DUR) return "a duration condition (e.g. <= 24 hours)";
    if (k == C_SIZE) return "a size condition (e.g. > 5 MB)";
    if (k == (C_DATE | C_DUR)) return "a date or duration condition";
    return "a numeric, string or date condition";
}

/* ---------------------------------------------------------------- values and conditions */

static void enter(struct parser *p)
{
    if (++p->depth > MAX_DEPTH)
        fail_at(p, p->cur.line, p->cur.col, "nested more than %d levels deep", MAX_DEPTH);
}

static struct mdp_dq_num *num_expr(struct parser *p);

static struct mdp_dq_num *num_node(struct parser *p, enum mdp_dq_num_kind k, int nargs)
{
    struct mdp_dq_num *n = alloc(p, sizeof *n);
    n->kind = k;
    n->nargs = nargs;
    if (nargs) n->args = alloc(p, (size_t)nargs * sizeof *n->args);
    return n;
}

static struct mdp_dq_num *num_primary(struct parser *p)
{
    struct mdp_dq_num *n;
    if (p->cur.kind == T_INT || p->cur.kind == T_DECIMAL) {
        n = num_node(p, MDP_DQ_N_LIT, 0);
        n->text = p->cur.text;
        n->v = strtod(p->cur.text, NULL);
        next(p);
        return n;
    }
    if (is_kw2(p, "null", "NULL")) {
        next(p);
        return num_node(p, MDP_DQ_N_NULL, 0);
    }
    if (is_punct(p, "-")) {
        enter(p);
        next(p);
        n = num_node(p, MDP_DQ_N_NEG, 1);
        n->args[0] = num_primary(p);
        p->depth--;
        return n;
    }
    if (is_punct(p, "(")) {
        enter(p);
        next(p);
        n = num_node(p, MDP_DQ_N_PAREN, 1);
        n->args[0] = num_expr(p);
        expect_punct(p, ")", "to close the parenthesis");
        p->depth--;
        return n;
    }
    if (p->cur.kind == T_IDENT && !is_keyword(p->cur.text)) {
        const char *name = p->cur.text;
        int line = p->cur.line, col = p->cur.col;
        next(p);
        /* "now" is the date now() however it is spaced ("now ()", now on one line and its
         * parentheses on the next), never a numeric function: printed, it would read as now() */
        if (!is_punct(p, "(") || strcmp(name, "now") == 0)
            fail_at(p, line, col, "expected a number, found '%s%s'", name,
                    strcmp(name, "now") == 0 ? "()" : "");
        enter(p);
        next(p);
        n = num_node(p, MDP_DQ_N_CALL, 0);
        n->text = name;
        int cap = 0;
        if (!is_punct(p, ")")) {
            for (;;) {
                n->args = push(p, n->args, &n->nargs, &cap, sizeof *n->args);
                n->args[n->nargs - 1] = num_expr(p);
                if (!is_punct(p, ",")) break;
                next(p);
            }
        }
        expect_punct(p, ")", "to close the function call");
        p->depth--;
        return n;
    }
    fail_at(p, p->cur.line, p->cur.col, "expected a number, found %s", describe(p));
}

static struct mdp_dq_num *num_term(struct parser *p)
{
    struct mdp_dq_num *l = num_primary(p);
    while (is_punct(p, "*") || is_punct(p, "/")) {
        char op = p->cur.text[0];
        next(p);
        struct mdp_dq_num *b = num_node(p, MDP_DQ_N_BIN, 2);
        b->op = op;
        b->args[0] = l;
        b->args[1] = num_primary(p);
        l = b;
    }
    return l;
}

static struct mdp_dq_num *num_expr(struct parser *p)
{
    struct mdp_dq_num *l = num_term(p);
    while (is_punct(p, "+") || is_punct(p, "-")) {
        char op = p->cur.text[0];
        next(p);
        struct mdp_dq_num *b = num_node(p, MDP_DQ_N_BIN, 2);
        b->op = op;
        b->args[0] = l;
        b->args[1] = num_term(p);
        l = b;
    }
    return l;
}

static const char *duration_unit(const char *w)
{
    static const char *const U[] = {"days", "hours", "minutes", NULL};
    for (int i = 0; U[i]; i++)
        if (strcmp(w, U[i]) == 0) return U[i];
    return NULL;
}

static const char *size_unit(const char *w)
{
    static const char *const U[] = {"B", "KB", "MB", "GB", "TB", NULL};
    for (int i = 0; U[i]; i++)
        if (strcmp(w, U[i]) == 0) return U[i];
    return NULL;
}

static long long int_text(struct parser *p, const struct tok *t)
{
    errno = 0;
    char *end;
    long long v = strtoll(t->text, &end, 10);
    if (errno || *end) fail_at(p, t->line, t->col, "the number %s is too large", t->text);
    return v;
}

static int looks_date_or_time(const char *s)
{
    size_t n = strlen(s);
    int d = 1;
    if (n == 10) {
        for (size_t i = 0; i < n; i++) {
            int dig = s[i] >= '0' && s[i] <= '9';
            if ((i == 4 || i == 7) ? s[i] != '-' : !dig) d = 0;
        }
        if (d) return 1;
    }
    /* "21:30" or "9:30 PM" */
    const char *c = strchr(s, ':');
    if (!c || c == s || c - s > 2) return 0;
    for (const char *q = s; q < c; q++)
        if (*q < '0' || *q > '9') return 0;
    if (!(c[1] >= '0' && c[1] <= '9' && c[2] >= '0' && c[2] <= '9')) return 0;
    const char *rest = c + 3;
    if (*rest == '\0') return c - s == 2;
    return strcmp(rest, " AM") == 0 || strcmp(rest, " PM") == 0;
}

/* One operand; *kinds gets the condition kinds it fits. */
static void value(struct parser *p, struct mdp_dq_value *v, unsigned *kinds)
{
    if (p->cur.kind == T_STRING) {
        int line = p->cur.line, col = p->cur.col;
        if (p->cur.single)
            fail_at(p, line, col,
                    "single quotes are accepted only around rule parameters such as column "
                    "names; write values in double quotes");
        v->kind = MDP_DQ_V_STR;
        v->s = p->cur.text;
        *kinds = C_STR | (looks_date_or_time(v->s) ? C_DATE : 0);
        next(p);
        return;
    }
    if (p->cur.kind == T_VAR) {
        int line = p->cur.line, col = p->cur.col;
        v->kind = MDP_DQ_V_VAR;
        v->s = p->cur.text;
        int found = 0;
        for (int i = 0; i < p->doc->nconsts; i++)
            if (strcmp(p->doc->consts[i].name, v->s) == 0) found = 1;
        if (!found) fail_at(p, line, col, "'$%s' is not a constant defined before the rules", v->s);
        *kinds = C_STR;
        next(p);
        return;
    }
    if (is_kw2(p, "empty", "EMPTY") || is_kw2(p, "whitespaces_only", "WHITESPACES_ONLY")) {
        v->kind =
            (p->cur.text[0] == 'e' || p->cur.text[0] == 'E') ? MDP_DQ_V_EMPTY : MDP_DQ_V_WS_ONLY;
        *kinds = C_STR;
        next(p);
        return;
    }
    if (is_kw2(p, "null", "NULL")) {
        v->kind = MDP_DQ_V_NULL;
        *kinds = C_NUM | C_STR | C_DATE;
        next(p);
        return;
    }
    if (p->cur.kind == T_NOW) {
        v->kind = MDP_DQ_V_NOW;
        *kinds = C_DATE;
        next(p);
        return;
    }
    /* (now() - 3 days) or a parenthesized number */
    if (is_punct(p, "(") && p->pos < p->len) {
        size_t save_pos = p->pos;
        int save_line = p->line, save_col = p->col;
        struct tok save = p->cur;
        next(p);
        if (p->cur.kind == T_NOW) {
            next(p);
            if (!is_punct(p, "-") && !is_punct(p, "+"))
                fail_at(p, p->cur.line, p->cur.col, "expected '-' or '+' after now(), found %s",
                        describe(p));
            v->sign = p->cur.text[0];
            next(p);
            if (p->cur.kind != T_INT)
                fail_at(p, p->cur.line, p->cur.col,
                        "expected a whole number of days, hours or minutes, found %s", describe(p));
            struct tok amount = p->cur;
            v->amount = int_text(p, &amount);
            next(p);
            if (p->cur.kind != T_IDENT || !(v->unit = duration_unit(p->cur.text)))
                fail_at(p, p->cur.line, p->cur.col,
                        "expected days, hours or minutes after the number, found %s", describe(p));
            next(p);
            expect_punct(p, ")", "to close the date expression");
            v->kind = MDP_DQ_V_NOW;
            *kinds = C_DATE;
            return;
        }
        p->pos = save_pos;
        p->line = save_line;
        p->col = save_col;
        p->cur = save;
    }
    /* a number, a duration (24 hours) or a size (5 MB) */
    struct tok first = p->cur;
    struct mdp_dq_num *n = num_expr(p);
    if (n->kind == MDP_DQ_N_LIT && first.kind == T_INT && p->cur.kind == T_IDENT) {
        const char *u;
        if ((u = duration_unit(p->cur.text))) {
            v->kind = MDP_DQ_V_DURATION;
            *kinds = C_DUR;
        } else if ((u = size_unit(p->cur.text))) {
            v->kind = MDP_DQ_V_SIZE;
            *kinds = C_SIZE;
        }
        if (u) {
            v->amount = int_text(p, &first);
            v->unit = u;
            next(p);
            return;
        }
    }
    v->kind = MDP_DQ_V_NUM;
    v->num = n;
    *kinds = n->kind == MDP_DQ_N_NULL ? (C_NUM | C_STR | C_DATE) : C_NUM;
}

static int starts_condition(const struct parser *p)
{
    return is_punct(p, "=") || is_punct(p, "!") || is_punct(p, ">") || is_punct(p, ">=") ||
           is_punct(p, "<") || is_punct(p, "<=") || is_ident(p, "between") || is_ident(p, "in") ||
           is_ident(p, "not") || is_ident(p, "matches");
}

/* Parses a condition; returns the kinds of condition it is (0 never: mixed operands fail). */
static unsigned condition(struct parser *p, struct mdp_dq_cond *c)
{
    int line = p->cur.line, col = p->cur.col;
    int neg = 0;
    unsigned kinds = C_NUM | C_STR | C_DATE | C_DUR | C_SIZE, k;
    if (is_ident(p, "not")) {
        neg = 1;
        next(p);
        if (!is_ident(p, "between") && !is_ident(p, "in") && !is_ident(p, "matches"))
            fail_at(p, p->cur.line, p->cur.col,
                    "expected 'between', 'in' or 'matches' after 'not', found %s", describe(p));
    }
    if (is_punct(p, "!")) {
        next(p);
        if (!is_punct(p, "="))
            fail_at(p, p->cur.line, p->cur.col, "expected '=' after '!', found %s", describe(p));
        neg = 1;
    }
    if (is_punct(p, "=") || is_punct(p, ">") || is_punct(p, ">=") || is_punct(p, "<") ||
        is_punct(p, "<=")) {
        const char *t = p->cur.text;
        c->op = strcmp(t, "=") == 0    ? (neg ? MDP_DQ_OP_NE : MDP_DQ_OP_EQ)
                : strcmp(t, ">") == 0  ? MDP_DQ_OP_GT
                : strcmp(t, ">=") == 0 ? MDP_DQ_OP_GE
                : strcmp(t, "<") == 0  ? MDP_DQ_OP_LT
                                       : MDP_DQ_OP_LE;
        next(p);
        c->vals = alloc(p, sizeof *c->vals);
        c->nvals = 1;
        value(p, &c->vals[0], &k);
        kinds &= k;
        if (c->op != MDP_DQ_OP_EQ && c->op != MDP_DQ_OP_NE) {
            kinds &= ~(unsigned)C_STR;
            if (c->vals[0].kind == MDP_DQ_V_NULL) kinds = 0;
        }
    } else if (is_ident(p, "between")) {
        c->op = neg ? MDP_DQ_OP_NOT_BETWEEN : MDP_DQ_OP_BETWEEN;
        next(p);
        c->vals = alloc(p, 2 * sizeof *c->vals);
        c->nvals = 2;
        value(p, &c->vals[0], &k);
        kinds &= k;
        if (!is_kw2(p, "and", "AND"))
            fail_at(p, p->cur.line, p->cur.col, "expected 'and' in 'between ... and ...', found %s",
                    describe(p));
        next(p);
        value(p, &c->vals[1], &k);
        kinds &= k;
        kinds &= ~(unsigned)C_STR;
        if (c->vals[0].kind == MDP_DQ_V_NULL || c->vals[1].kind == MDP_DQ_V_NULL) kinds = 0;
    } else if (is_ident(p, "in")) {
        c->op = neg ? MDP_DQ_OP_NOT_IN : MDP_DQ_OP_IN;
        next(p);
        if (p->cur.kind == T_VAR) {
            c->vals = alloc(p, sizeof *c->vals);
            c->nvals = 1;
            value(p, &c->vals[0], &k);
            kinds &= k;
        } else {
            expect_punct(p, "[", "to start the list after 'in'");
            c->list = 1;
            int cap = 0;
            for (;;) {
                c->vals = push(p, c->vals, &c->nvals, &cap, sizeof *c->vals);
                struct mdp_dq_value *v = &c->vals[c->nvals - 1];
                memset(v, 0, sizeof *v);
                if (p->cur.kind == T_VAR)
                    fail_at(p, p->cur.line, p->cur.col,
                            "a constant cannot be an element of a list");
                value(p, v, &k);
                kinds &= k;
                if (!is_punct(p, ",")) break;
                next(p);
            }
            expect_punct(p, "]", "to close the list");
        }
    } else if (is_ident(p, "matches")) {
        c->op = neg ? MDP_DQ_OP_NOT_MATCHES : MDP_DQ_OP_MATCHES;
        next(p);
        c->vals = alloc(p, sizeof *c->vals);
        c->nvals = 1;
        c->vals[0].kind = MDP_DQ_V_STR;
        c->vals[0].s = expect_dq_string(p, "the regular expression");
        kinds = C_STR;
    } else {
        fail_at(p, p->cur.line, p->cur.col,
                "expected a condition (=, !=, >, >=, <, <=, between, "
                "in, matches), found %s",
                describe(p));
    }
    if (!kinds)
        fail_at(p, line, col,
                "the operands of this condition are not of one kind (numbers, strings, dates, "
                "durations or sizes), or the kind does not take this operator");
    return kinds;
}

/* ---------------------------------------------------------------- rules */

static void labels(struct parser *p, struct mdp_dq_rule *r)
{
    int line = p->cur.line, col = p->cur.col;
    next(p);
    expect_punct(p, "=", "after 'labels'");
    expect_punct(p, "{", "to start the labels");
    int cap = 0;
    for (;;) {
        int kl = p->cur.line, kc = p->cur.col;
        const char *k = expect_dq_string(p, "a label key");
        if (!*k || strlen(k) > 128) fail_at(p, kl, kc, "a label key has 1 to 128 characters");
        for (int i = 0; i < r->nlabels; i++)
            if (strcmp(r->labels[i].key, k) == 0)
                fail_at(p, kl, kc, "the label '%s' is repeated", k);
        expect_punct(p, ":", "after the label key");
        int vl = p->cur.line, vc = p->cur.col;
        const char *v = expect_dq_string(p, "a label value");
        if (strlen(v) > 256) fail_at(p, vl, vc, "a label value has at most 256 characters");
        r->labels = push(p, r->labels, &r->nlabels, &cap, sizeof *r->labels);
        r->labels[r->nlabels - 1].key = k;
        r->labels[r->nlabels - 1].value = v;
        if (!is_punct(p, ",")) break;
        next(p);
    }
    expect_punct(p, "}", "to close the labels");
    if (r->nlabels > 10) fail_at(p, line, col, "a rule has at most 10 labels");
}

static struct mdp_dq_rule *leaf(struct parser *p, int analyzer)
{
    struct mdp_dq_rule *r = alloc(p, sizeof *r);
    r->kind = MDP_DQ_RULE;
    r->line = p->cur.line;
    r->col = p->cur.col;
    if (p->cur.kind != T_IDENT)
        fail_at(p, r->line, r->col, "expected a rule type, found %s", describe(p));
    const struct rule_spec *sp = find_spec(p->cur.text);
    if (!sp || !(sp->flags & (analyzer ? F_ANALYZER : F_RULE)))
        fail_at(p, r->line, r->col, "'%s' is not a DQDL %s type", p->cur.text,
                analyzer ? "analyzer" : "rule");
    r->type = sp->name;
    next(p);
    int cap = 0, ccap = 0, nc = 0;
    for (;;) {
        const char *conn = NULL;
        if (is_kw2(p, "of", "OF") || is_kw2(p, "and", "AND")) {
            /* `and` also joins rules: it is a connector only when a parameter follows */
            if (p->cur.text[0] == 'a' || p->cur.text[0] == 'A') {
                size_t sp_ = p->pos;
                int sl = p->line, sc = p->col;
                struct tok st = p->cur;
                next(p);
                int param =
                    p->cur.kind == T_STRING ||
                    (p->cur.kind == T_IDENT && !is_keyword(p->cur.text) && !find_spec(p->cur.text));
                p->pos = sp_;
                p->line = sl;
                p->col = sc;
                p->cur = st;
                if (!param) break;
            }
            conn = (p->cur.text[0] == 'o' || p->cur.text[0] == 'O') ? "of" : "and";
            next(p);
            if (p->cur.kind != T_STRING && p->cur.kind != T_IDENT)
                fail_at(p, p->cur.line, p->cur.col, "expected a parameter after '%s', found %s",
                        conn, describe(p));
        }
        const char *param;
        if (p->cur.kind == T_STRING) {
            param = p->cur.text;
        } else if (p->cur.kind == T_IDENT && !is_keyword(p->cur.text)) {
            param = p->cur.text;
        } else {
            break;
        }
        if (r->nparams >= sp->pmax)
            fail_at(p, p->cur.line, p->cur.col, "%s takes %s%d parameter%s", sp->name,
                    sp->pmin == sp->pmax ? "" : "at most ", sp->pmax, sp->pmax == 1 ? "" : "s");
        r->params = push(p, r->params, &r->nparams, &cap, sizeof *r->params);
        r->params[r->nparams - 1] = param;
        r->connectors = push(p, r->connectors, &nc, &ccap, sizeof *r->connectors);
        r->connectors[nc - 1] = conn;
        next(p);
    }
    if (r->nparams < sp->pmin)
        fail_at(p, p->cur.line, p->cur.col, "%s takes %s%d parameter%s (a column name in quotes)",
                sp->name, sp->pmin == sp->pmax ? "" : "at least ", sp->pmin,
                sp->pmin == 1 ? "" : "s");
    if (analyzer) return r;
    if (starts_condition(p)) {
        int line = p->cur.line, col = p->cur.col;
        if (!sp->conds) fail_at(p, line, col, "%s takes no condition", sp->name);
        unsigned k = condition(p, &r->cond);
        r->has_cond = 1;
        if (!(k & sp->conds))
            fail_at(p, line, col, "%s expects %s", sp->name, kinds_name(sp->conds));
    } else if (sp->conds && !(sp->flags & F_COND_OPT)) {
        fail_at(p, p->cur.line, p->cur.col, "%s needs a condition (%s), found %s", sp->name,
                kinds_name(sp->conds), describe(p));
    }
    if (is_ident(p, "where")) {
        if (!(sp->flags & F_WHERE))
            fail_at(p, p->cur.line, p->cur.col, "%s does not take a where clause", sp->name);
        next(p);
        r->where = expect_dq_string(p, "the where clause's SQL condition");
    }
    int tcap = 0;
    while (is_ident(p, "with")) {
        next(p);
        int line = p->cur.line, col = p->cur.col;
        if (p->cur.kind != T_IDENT || is_keyword(p->cur.text))
            fail_at(p, line, col, "expected 'threshold' or a file option after 'with', found %s",
                    describe(p));
        const char *name = p->cur.text;
        int thr = strcmp(name, "threshold") == 0;
        if (thr && !(sp->flags & F_THRESHOLD))
            fail_at(p, line, col, "%s does not take 'with threshold'", sp->name);
        if (!thr && !(sp->flags & F_FILE))
            fail_at(p, line, col, "unknown option 'with %s' (only 'with threshold' here)", name);
        for (int i = 0; i < r->ntags; i++)
            if (strcmp(r->tags[i].name, name) == 0)
                fail_at(p, line, col, "'with %s' is repeated", name);
        next(p);
        r->tags = push(p, r->tags, &r->ntags, &tcap, sizeof *r->tags);
        struct mdp_dq_tag *t = &r->tags[r->ntags - 1];
        memset(t, 0, sizeof *t);
        t->name = name;
        int cl = p->cur.line, cc = p->cur.col;
        unsigned k = condition(p, &t->cond);
        if (thr && !(k & C_NUM)) fail_at(p, cl, cc, "'with threshold' expects a numeric condition");
        if (!thr && !(k & (C_NUM | C_STR)))
            fail_at(p, cl, cc, "'with %s' expects a string or numeric condition", name);
    }
    if (is_ident(p, "labels")) labels(p, r);
    return r;
}

static struct mdp_dq_rule *rule_or(struct parser *p);

static struct mdp_dq_rule *rule_primary(struct parser *p)
{
    if (is_punct(p, "(")) {
        int line = p->cur.line, col = p->cur.col;
        enter(p);
        next(p);
        struct mdp_dq_rule *r = rule_or(p);
        expect_punct(p, ")", "to close the parenthesis");
        p->depth--;
        if (r->kind == MDP_DQ_RULE) {
            r->line = line;
            r->col = col;
        }
        return r;
    }
    return leaf(p, 0);
}

/* and binds tighter than or (as in Glue's grammar); a chain of one operator is one node. */
static struct mdp_dq_rule *rule_chain(struct parser *p, enum mdp_dq_rule_kind kind)
{
    struct mdp_dq_rule *l = kind == MDP_DQ_OR ? rule_chain(p, MDP_DQ_AND) : rule_primary(p);
    const char *lo = kind == MDP_DQ_OR ? "or" : "and", *up = kind == MDP_DQ_OR ? "OR" : "AND";
    if (!is_kw2(p, lo, up)) return l;
    struct mdp_dq_rule *c = alloc(p, sizeof *c);
    c->kind = kind;
    c->line = l->line;
    c->col = l->col;
    int cap = 0;
    c->kids = push(p, c->kids, &c->nkids, &cap, sizeof *c->kids);
    c->kids[0] = l;
    while (is_kw2(p, lo, up)) {
        next(p);
        struct mdp_dq_rule *r = kind == MDP_DQ_OR ? rule_chain(p, MDP_DQ_AND) : rule_primary(p);
        c->kids = push(p, c->kids, &c->nkids, &cap, sizeof *c->kids);
        c->kids[c->nkids - 1] = r;
    }
    /* flatten (a and b) and c into one chain: the same rule */
    int n = 0;
    for (int i = 0; i < c->nkids; i++)
        n += c->kids[i]->kind == kind ? c->kids[i]->nkids : 1;
    if (n != c->nkids) {
        struct mdp_dq_rule **k = alloc(p, (size_t)n * sizeof *k);
        int j = 0;
        for (int i = 0; i < c->nkids; i++) {
            if (c->kids[i]->kind == kind)
                for (int m = 0; m < c->kids[i]->nkids; m++)
                    k[j++] = c->kids[i]->kids[m];
            else
                k[j++] = c->kids[i];
        }
        c->kids = k;
        c->nkids = n;
    }
    return c;
}

static struct mdp_dq_rule *rule_or(struct parser *p)
{
    return rule_chain(p, MDP_DQ_OR);
}

static void rule_list(struct parser *p, const char *section, struct mdp_dq_rule ***out, int *n,
                      int analyzer)
{
    next(p);
    expect_punct(p, "=", section[0] == 'R' ? "after 'Rules'" : "after 'Analyzers'");
    expect_punct(p, "[", "to start the list");
    int cap = 0;
    if (is_punct(p, "]")) {
        next(p);
        return;
    }
    for (;;) {
        *out = push(p, *out, n, &cap, sizeof **out);
        (*out)[*n - 1] = analyzer ? leaf(p, 1) : rule_or(p);
        if (is_punct(p, ",")) {
            next(p);
            continue;
        }
        if (is_punct(p, "]")) break;
        fail_at(p, p->cur.line, p->cur.col, "expected ',' or ']' after the %s, found %s",
                analyzer ? "analyzer" : "rule", describe(p));
    }
    next(p);
}

/* ---------------------------------------------------------------- document */

static void dictionary(struct parser *p, struct mdp_dq_pair **out, int *n)
{
    next(p);
    expect_punct(p, "=", "after the section name");
    expect_punct(p, "{", "to start the dictionary");
    int cap = 0;
    for (;;) {
        const char *k = expect_dq_string(p, "a key");
        expect_punct(p, ":", "after the key");
        *out = push(p, *out, n, &cap, sizeof **out);
        struct mdp_dq_pair *pr = &(*out)[*n - 1];
        memset(pr, 0, sizeof *pr);
        pr->key = k;
        if (is_punct(p, "[")) {
            next(p);
            int lcap = 0;
            for (;;) {
                pr->list = push(p, pr->list, &pr->nlist, &lcap, sizeof *pr->list);
                pr->list[pr->nlist - 1] = expect_dq_string(p, "a list element");
                if (!is_punct(p, ",")) break;
                next(p);
            }
            expect_punct(p, "]", "to close the list");
        } else {
            pr->value = expect_dq_string(p, "a value");
        }
        if (!is_punct(p, ",")) break;
        next(p);
    }
    expect_punct(p, "}", "to close the dictionary");
}

static void constant(struct parser *p)
{
    struct mdp_dq_doc *d = p->doc;
    int line = p->cur.line, col = p->cur.col;
    const char *name = p->cur.text;
    if (strcasecmp(name, "rules") == 0 || strcasecmp(name, "analyzers") == 0 ||
        strcasecmp(name, "metadata") == 0 || strcasecmp(name, "datasources") == 0)
        fail_at(p, line, col,
                "section names are case sensitive: Metadata, DataSources, Rules, Analyzers");
    if (is_keyword(name) || find_spec(name))
        fail_at(p, line, col, "'%s' is a reserved word and cannot name a constant", name);
    for (int i = 0; i < d->nconsts; i++)
        if (strcmp(d->consts[i].name, name) == 0)
            fail_at(p, line, col, "the constant '%s' is defined twice", name);
    next(p);
    expect_punct(p, "=", "after the constant's name");
    struct mdp_dq_const c = {.name = name};
    unsigned k;
    if (is_punct(p, "[")) {
        next(p);
        c.list = 1;
        int cap = 0;
        for (;;) {
            c.vals = push(p, c.vals, &c.nvals, &cap, sizeof *c.vals);
            struct mdp_dq_value *v = &c.vals[c.nvals - 1];
            memset(v, 0, sizeof *v);
            int vl = p->cur.line, vc = p->cur.col;
            if (p->cur.kind == T_VAR) fail_at(p, vl, vc, "a constant cannot refer to another");
            value(p, v, &k);
            if (!(k & C_STR))
                fail_at(p, vl, vc, "a constant holds strings, NULL, EMPTY or WHITESPACES_ONLY");
            if (!is_punct(p, ",")) break;
            next(p);
        }
        expect_punct(p, "]", "to close the list");
    } else {
        int vl = p->cur.line, vc = p->cur.col;
        if (p->cur.kind == T_VAR) fail_at(p, vl, vc, "a constant cannot refer to another");
        c.vals = alloc(p, sizeof *c.vals);
        c.nvals = 1;
        value(p, &c.vals[0], &k);
        if (!(k & C_STR))
            fail_at(p, vl, vc, "a constant holds strings, NULL, EMPTY or WHITESPACES_ONLY");
    }
    int cap = d->nconsts; /* exact-size arrays: push doubles from here */
    d->consts = push(p, d->consts, &d->nconsts, &cap, sizeof *d->consts);
    d->consts[d->nconsts - 1] = c;
}

static void document(struct parser *p)
{
    struct mdp_dq_doc *d = p->doc;
    next(p);
    if (is_ident(p, "Metadata")) {
        dictionary(p, &d->metadata, &d->nmetadata);
        d->has_metadata = 1;
    }
    if (is_ident(p, "DataSources")) {
        dictionary(p, &d->sources, &d->nsources);
        d->has_sources = 1;
    }
    while (p->cur.kind == T_IDENT && !is_ident(p, "Rules") && !is_ident(p, "Analyzers")) {
        if (is_ident(p, "Metadata") || is_ident(p, "DataSources"))
            fail_at(p, p->cur.line, p->cur.col,
                    "%s comes at most once, before DataSources, constants and the rules",
                    p->cur.text);
        constant(p);
    }
    if (is_ident(p, "Rules")) {
        rule_list(p, "Rules", &d->rules, &d->nrules, 0);
        d->has_rules = 1;
    }
    if (is_ident(p, "Analyzers")) {
        rule_list(p, "Analyzers", &d->analyzers, &d->nanalyzers, 1);
        d->has_analyzers = 1;
    }
    if (!d->has_rules && !d->has_analyzers)
        fail_at(p, p->cur.line, p->cur.col, "expected 'Rules = [' or 'Analyzers = [', found %s",
                describe(p));
    if (p->cur.kind != T_EOF)
        fail_at(p, p->cur.line, p->cur.col, "unexpected %s after the %s", describe(p),
                d->has_analyzers ? "analyzers" : "rules");
}

/* The one setjmp: every error unwinds here (locals of the callers are not touched after it). */
static int run(struct parser *p)
{
    if (setjmp(p->fail)) return p->nomem ? MDP_ERR_NOMEM : MDP_ERR_PARSE;
    p->doc = alloc(p, sizeof *p->doc);
    p->doc->arena = p->arena;
    document(p);
    return 0;
}

int mdp_dq_parse(const char *src, size_t len, struct mdp_dq_doc **out_doc, struct mdp_dq_error *err)
{
    struct mdp_dq_error dummy;
    if (!err) err = &dummy;
    memset(err, 0, sizeof *err);
    *out_doc = NULL;
    struct parser *p = calloc(1, sizeof *p);
    if (!p) return MDP_ERR_NOMEM;
    p->arena = calloc(1, sizeof *p->arena);
    if (!p->arena) {
        free(p);
        return MDP_ERR_NOMEM;
    }
    p->src = src;
    p->len = len;
    p->line = 1;
    p->col = 1;
    p->err = err;
    int rc = run(p);
    if (rc) {
        if (rc == MDP_ERR_NOMEM) snprintf(err->msg, sizeof err->msg, "out of memory");
        arena_free(p->arena);
    } else {
        *out_doc = p->doc;
    }
    free(p);
    return rc;
}

void mdp_dq_doc_free(struct mdp_dq_doc *doc)
{
    if (doc) arena_free(doc->arena); /* the document lives in its own arena */
}
