/* DQDL printer: the canonical form of parsed rules, as Glue prints them (double quotes, one space
 * between tokens, every operand of and/or in parentheses, keywords in their documented case).
 * mdp dq parse prints rules with it, and the tests check that printing a parsed document and
 * parsing the output gives the same text again. */
#include "mdp/dq.h"

#include <string.h>

/* A string in double quotes. Only a backslash that would otherwise read as an escape (before a
 * quote, another backslash or the end) is doubled, so regular expressions print as written. */
static int put_str(struct mdp_buf *b, const char *s)
{
    int rc = mdp_buf_putc(b, '"');
    for (const char *c = s; !rc && *c; c++) {
        if (*c == '"')
            rc = mdp_buf_puts(b, "\\\"");
        else if (*c == '\\' && (c[1] == '"' || c[1] == '\\' || c[1] == '\0'))
            rc = mdp_buf_puts(b, "\\\\");
        else
            rc = mdp_buf_putc(b, *c);
    }
    return rc ? rc : mdp_buf_putc(b, '"');
}

static int put_num(struct mdp_buf *b, const struct mdp_dq_num *n)
{
    int rc = 0;
    switch (n->kind) {
    case MDP_DQ_N_LIT:
        return mdp_buf_puts(b, n->text);
    case MDP_DQ_N_NULL:
        return mdp_buf_puts(b, "NULL");
    case MDP_DQ_N_NEG:
        rc = mdp_buf_putc(b, '-');
        return rc ? rc : put_num(b, n->args[0]);
    case MDP_DQ_N_BIN:
        rc = put_num(b, n->args[0]);
        if (!rc) rc = mdp_buf_printf(b, " %c ", n->op);
        return rc ? rc : put_num(b, n->args[1]);
    case MDP_DQ_N_PAREN:
        rc = mdp_buf_putc(b, '(');
        if (!rc) rc = put_num(b, n->args[0]);
        return rc ? rc : mdp_buf_putc(b, ')');
    case MDP_DQ_N_CALL:
        rc = mdp_buf_printf(b, "%s(", n->text);
        for (int i = 0; !rc && i < n->nargs; i++) {
            if (i) rc = mdp_buf_puts(b, ", ");
            if (!rc) rc = put_num(b, n->args[i]);
        }
        return rc ? rc : mdp_buf_putc(b, ')');
    }
    return 0;
}

static int put_value(struct mdp_buf *b, const struct mdp_dq_value *v)
{
    switch (v->kind) {
    case MDP_DQ_V_NUM:
        return put_num(b, v->num);
    case MDP_DQ_V_STR:
        return put_str(b, v->s);
    case MDP_DQ_V_NULL:
        return mdp_buf_puts(b, "NULL");
    case MDP_DQ_V_EMPTY:
        return mdp_buf_puts(b, "EMPTY");
    case MDP_DQ_V_WS_ONLY:
        return mdp_buf_puts(b, "WHITESPACES_ONLY");
    case MDP_DQ_V_VAR:
        return mdp_buf_printf(b, "$%s", v->s);
    case MDP_DQ_V_NOW:
        if (!v->sign) return mdp_buf_puts(b, "now()");
        return mdp_buf_printf(b, "(now() %c %lld %s)", v->sign, v->amount, v->unit);
    case MDP_DQ_V_DURATION:
    case MDP_DQ_V_SIZE:
        return mdp_buf_printf(b, "%lld %s", v->amount, v->unit);
    }
    return 0;
}

static int put_cond(struct mdp_buf *b, const struct mdp_dq_cond *c)
{
    static const char *const OPS[] = {"=",  "!=",     ">",       ">=",
                                      "<",  "<=",     "between", "not between",
                                      "in", "not in", "matches", "not matches"};
    int rc = mdp_buf_printf(b, "%s ", OPS[c->op]);
    if (rc) return rc;
    if (c->op == MDP_DQ_OP_BETWEEN || c->op == MDP_DQ_OP_NOT_BETWEEN) {
        rc = put_value(b, &c->vals[0]);
        if (!rc) rc = mdp_buf_puts(b, " and ");
        return rc ? rc : put_value(b, &c->vals[1]);
    }
    if (c->list) {
        rc = mdp_buf_putc(b, '[');
        for (int i = 0; !rc && i < c->nvals; i++) {
            if (i) rc = mdp_buf_puts(b, ", ");
            if (!rc) rc = put_value(b, &c->vals[i]);
        }
        return rc ? rc : mdp_buf_putc(b, ']');
    }
    return put_value(b, &c->vals[0]);
}

int mdp_dq_print_rule(const struct mdp_dq_rule *r, struct mdp_buf *out)
{
    int rc = 0;
    if (r->kind != MDP_DQ_RULE) {
        for (int i = 0; !rc && i < r->nkids; i++) {
            if (i) rc = mdp_buf_puts(out, r->kind == MDP_DQ_AND ? " and " : " or ");
            if (!rc) rc = mdp_buf_putc(out, '(');
            if (!rc) rc = mdp_dq_print_rule(r->kids[i], out);
            if (!rc) rc = mdp_buf_putc(out, ')');
        }
        return rc;
    }
    rc = mdp_buf_puts(out, r->type);
    for (int i = 0; !rc && i < r->nparams; i++) {
        rc = mdp_buf_putc(out, ' ');
        if (!rc && r->connectors[i]) rc = mdp_buf_printf(out, "%s ", r->connectors[i]);
        if (!rc) rc = put_str(out, r->params[i]);
    }
    if (!rc && r->has_cond) {
        rc = mdp_buf_putc(out, ' ');
        if (!rc) rc = put_cond(out, &r->cond);
    }
    if (!rc && r->where) {
        rc = mdp_buf_puts(out, " where ");
        if (!rc) rc = put_str(out, r->where);
    }
    for (int i = 0; !rc && i < r->ntags; i++) {
        rc = mdp_buf_printf(out, " with %s ", r->tags[i].name);
        if (!rc) rc = put_cond(out, &r->tags[i].cond);
    }
    if (!rc && r->nlabels) {
        rc = mdp_buf_puts(out, " labels={");
        for (int i = 0; !rc && i < r->nlabels; i++) {
            if (i) rc = mdp_buf_puts(out, ", ");
            if (!rc) rc = put_str(out, r->labels[i].key);
            if (!rc) rc = mdp_buf_puts(out, ": ");
            if (!rc) rc = put_str(out, r->labels[i].value);
        }
        if (!rc) rc = mdp_buf_putc(out, '}');
    }
    return rc;
}

static int put_dict(struct mdp_buf *b, const char *name, const struct mdp_dq_pair *pr, int n)
{
    int rc = mdp_buf_printf(b, "%s = {", name);
    for (int i = 0; !rc && i < n; i++) {
        if (i) rc = mdp_buf_puts(b, ", ");
        if (!rc) rc = put_str(b, pr[i].key);
        if (!rc) rc = mdp_buf_puts(b, ": ");
        if (!rc && pr[i].value) {
            rc = put_str(b, pr[i].value);
        } else if (!rc) {
            rc = mdp_buf_putc(b, '[');
            for (int j = 0; !rc && j < pr[i].nlist; j++) {
                if (j) rc = mdp_buf_puts(b, ", ");
                if (!rc) rc = put_str(b, pr[i].list[j]);
            }
            if (!rc) rc = mdp_buf_putc(b, ']');
        }
    }
    return rc ? rc : mdp_buf_puts(b, "}\n");
}

static int put_list(struct mdp_buf *b, const char *name, struct mdp_dq_rule *const *r, int n)
{
    int rc = mdp_buf_printf(b, "%s = [%s", name, n ? "\n" : "");
    for (int i = 0; !rc && i < n; i++) {
        rc = mdp_buf_puts(b, "    ");
        if (!rc) rc = mdp_dq_print_rule(r[i], b);
        if (!rc) rc = mdp_buf_puts(b, i + 1 < n ? ",\n" : "\n");
    }
    return rc ? rc : mdp_buf_puts(b, "]\n");
}

int mdp_dq_print_doc(const struct mdp_dq_doc *d, struct mdp_buf *out)
{
    int rc = 0;
    if (d->has_metadata) rc = put_dict(out, "Metadata", d->metadata, d->nmetadata);
    if (!rc && d->has_sources) rc = put_dict(out, "DataSources", d->sources, d->nsources);
    for (int i = 0; !rc && i < d->nconsts; i++) {
        const struct mdp_dq_const *c = &d->consts[i];
        rc = mdp_buf_printf(out, "%s = %s", c->name, c->list ? "[" : "");
        for (int j = 0; !rc && j < c->nvals; j++) {
            if (j) rc = mdp_buf_puts(out, ", ");
            if (!rc) rc = put_value(out, &c->vals[j]);
        }
        if (!rc) rc = mdp_buf_puts(out, c->list ? "]\n" : "\n");
    }
    if (!rc && d->has_rules) rc = put_list(out, "Rules", d->rules, d->nrules);
    if (!rc && d->has_analyzers) rc = put_list(out, "Analyzers", d->analyzers, d->nanalyzers);
    return rc;
}
