/* Alarms with CloudWatch's semantics (include/mdp/quality.h): the strict YAML definitions file,
 * the M-of-N decision with treat_missing_data, and the evaluation that keeps each alarm's state
 * (_meta/alarms/state/<name>.json) and its history of changes (_meta/alarms/history/dt=D/
 * <ms>-<name>.json, with the outcome of the actions run) in the lake. The datapoints come from
 * metrics_src.c, the actions run in alarm_actions.c. */
#include "mdp/alloc.h"
#include "mdp/quality.h"
#include "mdp/time.h"
#include "quality_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_ALARMS  256
#define MAX_ACTIONS 16
#define MAX_N       100

const char *mdp_alarm_state_name(enum mdp_alarm_state s)
{
    switch (s) {
    case MDP_ALARM_OK:
        return "OK";
    case MDP_ALARM_ALARM:
        return "ALARM";
    case MDP_ALARM_INSUFFICIENT_DATA:
        break;
    }
    return "INSUFFICIENT_DATA";
}

static int state_parse(const char *s, enum mdp_alarm_state *out)
{
    if (strcmp(s, "OK") == 0)
        *out = MDP_ALARM_OK;
    else if (strcmp(s, "ALARM") == 0)
        *out = MDP_ALARM_ALARM;
    else if (strcmp(s, "INSUFFICIENT_DATA") == 0)
        *out = MDP_ALARM_INSUFFICIENT_DATA;
    else
        return -1;
    return 0;
}

static const char *const STATS[] = {"Average", "Sum", "Minimum", "Maximum", "SampleCount"};
static const char *const CMPS[] = {"GreaterThanOrEqualToThreshold", "GreaterThanThreshold",
                                   "LessThanThreshold", "LessThanOrEqualToThreshold"};
static const char *const CMP_WORDS[] = {"greater than or equal to", "greater than", "less than",
                                        "less than or equal to"};
static const char *const MISSING[] = {"missing", "ignore", "breaching", "notBreaching"};

/* ---- the decision ---- */

static int breaches(const struct mdp_alarm *a, double v)
{
    switch (a->cmp) {
    case MDP_CMP_GE:
        return v >= a->threshold;
    case MDP_CMP_GT:
        return v > a->threshold;
    case MDP_CMP_LT:
        return v < a->threshold;
    case MDP_CMP_LE:
        return v <= a->threshold;
    }
    return 0;
}

enum mdp_alarm_state mdp_alarm_decide(const struct mdp_alarm *a, const double *dp, size_t n,
                                      enum mdp_alarm_state current, char *reason, size_t rn)
{
    size_t N = (size_t)a->evaluation_periods, M = (size_t)a->datapoints_to_alarm;
    size_t real = 0, breach = 0;
    char vals[160] = "";
    size_t vl = 0;
    /* the newest N real datapoints (all of them when there are fewer) */
    for (size_t i = n; i-- > 0 && real < N;) {
        if (isnan(dp[i])) continue;
        real++;
        breach += (size_t)breaches(a, dp[i]);
        if (vl < sizeof vals - 24)
            vl += (size_t)snprintf(vals + vl, sizeof vals - vl, "%s%.6g", real > 1 ? ", " : "",
                                   dp[i]);
    }
    char buf[300];
    if (!reason) reason = buf, rn = sizeof buf;
    enum mdp_alarm_state to;
    size_t fill = N - real, count = breach, need = M;
    const char *how = "";
    if (real < N) {
        switch (a->missing) {
        case MDP_MISSING_BREACHING:
            count += fill;
            how = " (missing data treated as breaching)";
            break;
        case MDP_MISSING_NOT_BREACHING:
            how = " (missing data treated as not breaching)";
            break;
        case MDP_MISSING_IGNORE:
            if (real == 0 || isnan(dp[n - 1])) {
                snprintf(reason, rn,
                         "%zu of %zu datapoints present, the newest missing: state kept "
                         "(treat_missing_data ignore)",
                         real, N);
                return current;
            }
            /* the newest is there: the real datapoints decide, as with missing */
            __attribute__((fallthrough));
        case MDP_MISSING_MISSING:
            if (real == 0) {
                snprintf(reason, rn, "no datapoint in the last %zu periods (treat_missing_data %s)",
                         n, MISSING[a->missing]);
                return MDP_ALARM_INSUFFICIENT_DATA;
            }
            if (need > real) need = real;
            how = " (only the datapoints present count)";
            break;
        }
    }
    to = count >= need ? MDP_ALARM_ALARM : MDP_ALARM_OK;
    if (to == MDP_ALARM_ALARM)
        snprintf(reason, rn,
                 "%zu of the last %zu datapoints [%s] breached: %s the threshold (%.6g)%s", count,
                 N, vals, CMP_WORDS[a->cmp], a->threshold, how);
    else
        snprintf(
            reason, rn,
            "%zu of the last %zu datapoints [%s] breached (%s the threshold %.6g), %zu needed%s",
            count, N, vals, CMP_WORDS[a->cmp], a->threshold, need, how);
    return to;
}

/* ---- the definitions file ---- */

void mdp_alarm_set_cleanup(struct mdp_alarm_set *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        struct mdp_alarm *a = &s->v[i];
        free(a->description);
        for (int k = 0; k < 3; k++) {
            for (size_t j = 0; j < a->nactions[k]; j++)
                free(a->actions[k][j].target);
            free(a->actions[k]);
        }
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

struct parse {
    const char *name;
    yaml_document_t *doc;
    struct mdp_diag *d;
};

static int perr(struct parse *p, yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(struct parse *p, yaml_node_t *n, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mdp_diag_set(p->d, MDP_ERR_CONFIG, "%s:%zu:%zu: %s", p->name, n->start_mark.line + 1,
                        n->start_mark.column + 1, msg);
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int pick(const char *const *names, int count, const char *v)
{
    for (int i = 0; i < count; i++)
        if (strcmp(names[i], v) == 0) return i;
    return -1;
}

static int parse_actions(struct parse *p, struct mdp_alarm *a, int which, const char *key,
                         yaml_node_t *v)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return perr(p, v, "alarm '%s': '%s' expects a list of {command: ...} or {webhook: ...}",
                    a->name, key);
    size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (cnt > MAX_ACTIONS)
        return perr(p, v, "alarm '%s': '%s' has more than %d actions", a->name, key, MAX_ACTIONS);
    if (cnt == 0) return 0;
    a->actions[which] = mdp_calloc(cnt, sizeof *a->actions[which]);
    if (!a->actions[which]) return mdp_diag_set(p->d, MDP_ERR_NOMEM, "out of memory");
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *item = yaml_document_get_node(p->doc, *it);
        if (!item || item->type != YAML_MAPPING_NODE ||
            item->data.mapping.pairs.top - item->data.mapping.pairs.start != 1)
            return perr(p, item ? item : v,
                        "alarm '%s': each item of '%s' is one of {command: ...} or {webhook: ...}",
                        a->name, key);
        yaml_node_pair_t *pr = item->data.mapping.pairs.start;
        yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(p->doc, pr->value);
        const char *k = scalar(kn), *t = scalar(vn);
        int webhook = k && strcmp(k, "webhook") == 0;
        if (!k || (!webhook && strcmp(k, "command") != 0))
            return perr(p, kn ? kn : item,
                        "alarm '%s': unknown action '%s' in '%s' (command or webhook)", a->name,
                        k ? k : "?", key);
        if (!t || !*t)
            return perr(p, vn ? vn : item, "alarm '%s': '%s' of '%s' expects a non-empty string",
                        a->name, k, key);
        if (webhook && strncmp(t, "http://", 7) != 0 && strncmp(t, "https://", 8) != 0)
            return perr(p, vn, "alarm '%s': webhook of '%s' must be an http:// or https:// URL",
                        a->name, key);
        struct mdp_alarm_action *act = &a->actions[which][a->nactions[which]];
        act->webhook = webhook;
        act->target = mdp_strdup(t);
        if (!act->target) return mdp_diag_set(p->d, MDP_ERR_NOMEM, "out of memory");
        a->nactions[which]++;
    }
    return 0;
}

static int parse_long(const char *t, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(t, &end, 10);
    if (errno || end == t || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return s[0] != '.';
}

static int parse_alarm(struct parse *p, yaml_node_t *m, struct mdp_alarm *a)
{
    if (m->type != YAML_MAPPING_NODE)
        return perr(p, m, "each item of 'alarms' is a mapping (name: ..., metric: ..., ...)");
    a->line = (int)m->start_mark.line + 1;
    a->missing = MDP_MISSING_MISSING;
    a->statistic = (enum mdp_alarm_stat) - 1;
    a->cmp = (enum mdp_alarm_cmp) - 1;
    a->threshold = NAN;
    int have_m = 0;
    /* the name first, so every later message can name the alarm */
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        const char *k = scalar(yaml_document_get_node(p->doc, pr->key));
        yaml_node_t *vn = yaml_document_get_node(p->doc, pr->value);
        if (k && strcmp(k, "name") == 0) {
            const char *t = scalar(vn);
            if (!t || !valid_name(t))
                return perr(p, vn ? vn : m,
                            "'name' must be 1 to 64 characters of letters, digits, '_', '-', '.'");
            snprintf(a->name, sizeof a->name, "%s", t);
        }
    }
    if (!a->name[0]) return perr(p, m, "an alarm without 'name'");
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(p->doc, pr->value);
        const char *k = scalar(kn);
        if (!k || !vn)
            return perr(p, kn ? kn : m, "alarm '%s': keys must be plain strings", a->name);
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < pr; q++) {
            const char *qk = scalar(yaml_document_get_node(p->doc, q->key));
            if (qk && strcmp(qk, k) == 0)
                return perr(p, kn, "alarm '%s': duplicate key '%s'", a->name, k);
        }
        if (strcmp(k, "name") == 0) continue;
        int r;
        if (strcmp(k, "alarm_actions") == 0) {
            if ((r = parse_actions(p, a, 0, k, vn))) return r;
            continue;
        }
        if (strcmp(k, "ok_actions") == 0) {
            if ((r = parse_actions(p, a, 1, k, vn))) return r;
            continue;
        }
        if (strcmp(k, "insufficient_data_actions") == 0) {
            if ((r = parse_actions(p, a, 2, k, vn))) return r;
            continue;
        }
        const char *t = scalar(vn);
        if (!t) return perr(p, vn, "alarm '%s': '%s' expects a single value", a->name, k);
        long l;
        int i;
        if (strcmp(k, "description") == 0) {
            free(a->description);
            a->description = mdp_strdup(t);
            if (!a->description) return mdp_diag_set(p->d, MDP_ERR_NOMEM, "out of memory");
        } else if (strcmp(k, "metric") == 0) {
            if (!mdp_metric_known(t) || strlen(t) >= sizeof a->metric)
                return perr(p, vn,
                            "alarm '%s': 'metric': '%s' is not a metric mdp knows "
                            "(docs/quality.md lists them)",
                            a->name, t);
            snprintf(a->metric, sizeof a->metric, "%s", t);
        } else if (strcmp(k, "statistic") == 0) {
            if ((i = pick(STATS, 5, t)) < 0)
                return perr(p, vn,
                            "alarm '%s': 'statistic': '%s' is not one of "
                            "Average|Sum|Minimum|Maximum|SampleCount",
                            a->name, t);
            a->statistic = (enum mdp_alarm_stat)i;
        } else if (strcmp(k, "period") == 0) {
            if (parse_long(t, 10, 7 * 86400, &l) || (l != 10 && l != 30 && l % 60))
                return perr(p, vn,
                            "alarm '%s': 'period': '%s' is no period in seconds (10, 30 or a "
                            "multiple of 60, at most 604800)",
                            a->name, t);
            a->period_s = l;
        } else if (strcmp(k, "threshold") == 0) {
            char *end;
            errno = 0;
            double v = strtod(t, &end);
            if (errno || end == t || *end || !isfinite(v))
                return perr(p, vn, "alarm '%s': 'threshold': '%s' is not a number", a->name, t);
            a->threshold = v;
        } else if (strcmp(k, "comparison_operator") == 0) {
            if ((i = pick(CMPS, 4, t)) < 0)
                return perr(p, vn,
                            "alarm '%s': 'comparison_operator': '%s' is not one of "
                            "GreaterThanOrEqualToThreshold|GreaterThanThreshold|"
                            "LessThanThreshold|LessThanOrEqualToThreshold",
                            a->name, t);
            a->cmp = (enum mdp_alarm_cmp)i;
        } else if (strcmp(k, "evaluation_periods") == 0) {
            if (parse_long(t, 1, MAX_N, &l))
                return perr(p, vn, "alarm '%s': 'evaluation_periods': '%s' is not in 1..%d",
                            a->name, t, MAX_N);
            a->evaluation_periods = (int)l;
        } else if (strcmp(k, "datapoints_to_alarm") == 0) {
            if (parse_long(t, 1, MAX_N, &l))
                return perr(p, vn, "alarm '%s': 'datapoints_to_alarm': '%s' is not in 1..%d",
                            a->name, t, MAX_N);
            a->datapoints_to_alarm = (int)l;
            have_m = 1;
        } else if (strcmp(k, "treat_missing_data") == 0) {
            if ((i = pick(MISSING, 4, t)) < 0)
                return perr(p, vn,
                            "alarm '%s': 'treat_missing_data': '%s' is not one of "
                            "missing|ignore|breaching|notBreaching",
                            a->name, t);
            a->missing = (enum mdp_alarm_missing)i;
        } else {
            return perr(p, kn,
                        "alarm '%s': unknown key '%s' (name, description, metric, statistic, "
                        "period, threshold, comparison_operator, evaluation_periods, "
                        "datapoints_to_alarm, treat_missing_data, alarm_actions, ok_actions, "
                        "insufficient_data_actions)",
                        a->name, k);
        }
    }
    const char *missing = !a->metric[0]                ? "metric"
                          : (int)a->statistic < 0      ? "statistic"
                          : a->period_s == 0           ? "period"
                          : isnan(a->threshold)        ? "threshold"
                          : (int)a->cmp < 0            ? "comparison_operator"
                          : a->evaluation_periods == 0 ? "evaluation_periods"
                                                       : NULL;
    if (missing) return perr(p, m, "alarm '%s': '%s' is required", a->name, missing);
    if (!have_m) a->datapoints_to_alarm = a->evaluation_periods;
    if (a->datapoints_to_alarm > a->evaluation_periods)
        return perr(p, m, "alarm '%s': datapoints_to_alarm (%d) exceeds evaluation_periods (%d)",
                    a->name, a->datapoints_to_alarm, a->evaluation_periods);
    return 0;
}

int mdp_alarms_parse(const char *name, const char *text, size_t len, struct mdp_alarm_set *out,
                     struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_doc = 0, rc = 0;
    if (!yaml_parser_initialize(&parser))
        return mdp_diag_set(d, MDP_ERR_NOMEM, "%s: cannot initialize the YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = mdp_diag_set(d, MDP_ERR_CONFIG, "%s:%zu:%zu: invalid YAML: %s", name,
                          parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                          parser.problem ? parser.problem : "syntax error");
        goto out;
    }
    have_doc = 1;
    struct parse p = {name, &doc, d};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = mdp_diag_set(d, MDP_ERR_CONFIG, "%s: empty: expected 'alarms: [...]'", name);
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        rc = perr(&p, root, "the top level must be a mapping with the key 'alarms'");
        goto out;
    }
    yaml_node_t *list = NULL;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, pr->key);
        const char *k = scalar(kn);
        if (!k || strcmp(k, "alarms") != 0) {
            rc = perr(&p, kn ? kn : root, "unknown key '%s' at the top level (only 'alarms')",
                      k ? k : "?");
            goto out;
        }
        if (list) {
            rc = perr(&p, kn, "duplicate key 'alarms'");
            goto out;
        }
        list = yaml_document_get_node(&doc, pr->value);
    }
    if (!list || list->type != YAML_SEQUENCE_NODE) {
        rc = perr(&p, list ? list : root, "'alarms' expects a list of alarms");
        goto out;
    }
    size_t cnt = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (cnt > MAX_ALARMS) {
        rc = perr(&p, list, "more than %d alarms", MAX_ALARMS);
        goto out;
    }
    if (cnt) {
        out->v = mdp_calloc(cnt, sizeof *out->v);
        if (!out->v) {
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top;
         it++) {
        yaml_node_t *item = yaml_document_get_node(&doc, *it);
        struct mdp_alarm *a = &out->v[out->n++];
        if (!item) {
            rc = perr(&p, list, "an empty alarm");
            goto out;
        }
        if ((rc = parse_alarm(&p, item, a))) goto out;
        for (size_t j = 0; j + 1 < out->n; j++)
            if (strcmp(out->v[j].name, a->name) == 0) {
                rc = perr(&p, item, "alarm '%s' is defined twice (first at line %d)", a->name,
                          out->v[j].line);
                goto out;
            }
    }
out:
    if (have_doc) yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc) mdp_alarm_set_cleanup(out);
    return rc;
}

int mdp_alarms_load(const char *path, struct mdp_alarm_set *out, struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return mdp_diag_set(d, mdp_err_from_errno(e), "%s: cannot open the alarms file: %s", path,
                            strerror(e));
    }
    struct mdp_buf b;
    mdp_buf_init(&b);
    char chunk[16384];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > (1u << 20))
            rc = mdp_diag_set(d, MDP_ERR_CONFIG, "%s: larger than 1 MiB", path);
        else if (mdp_buf_append(&b, chunk, n))
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory reading %s", path);
    }
    if (!rc && ferror(f)) rc = mdp_diag_set(d, MDP_ERR_IO, "%s: read error", path);
    fclose(f);
    if (!rc) rc = mdp_alarms_parse(path, b.data ? b.data : "", b.len, out, d);
    mdp_buf_cleanup(&b);
    return rc;
}

const char *mdp_alarms_file(const struct mdp_config *cfg)
{
    return mdp_config_path(cfg->alarms_file, MDP_SOURCE_DIR "/config/alarms.yaml");
}

/* ---- state and history in the lake ---- */

struct stored_state {
    enum mdp_alarm_state state;
    int64_t since_ms; /* -1: never evaluated */
    char reason[300];
};

static int read_state(struct mdp_lake *lake, const char *name, struct stored_state *st,
                      struct mdp_diag *d)
{
    st->state = MDP_ALARM_INSUFFICIENT_DATA;
    st->since_ms = -1;
    st->reason[0] = '\0';
    char key[160];
    snprintf(key, sizeof key, "_meta/alarms/state/%s.json", name);
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_store_get(lake->store, key, &b, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        mdp_buf_cleanup(&b);
        return 0;
    }
    if (rc) {
        mdp_buf_cleanup(&b);
        return rc;
    }
    json_object *o = json_tokener_parse(b.data ? b.data : "");
    mdp_buf_cleanup(&b);
    json_object *v;
    enum mdp_alarm_state s;
    if (!o || !json_object_object_get_ex(o, "state", &v) ||
        state_parse(json_object_get_string(v), &s)) {
        json_object_put(o);
        return mdp_diag_set(d, MDP_ERR_PARSE, "%s: not an alarm state record", key);
    }
    st->state = s;
    if (json_object_object_get_ex(o, "since", &v) && json_object_is_type(v, json_type_string))
        mdp_time_parse_iso(json_object_get_string(v), (size_t)-1, &st->since_ms);
    if (json_object_object_get_ex(o, "reason", &v) && json_object_is_type(v, json_type_string))
        snprintf(st->reason, sizeof st->reason, "%s", json_object_get_string(v));
    json_object_put(o);
    return 0;
}

static void put_time(struct mdp_buf *b, int64_t ms)
{
    char t[32];
    if (ms < 0 || mdp_time_format_ms(ms, t, sizeof t))
        mdp_buf_puts(b, "null");
    else
        mdp_buf_printf(b, "\"%s\"", t);
}

static int write_state(struct mdp_lake *lake, const struct mdp_alarm *a,
                       const struct stored_state *st, int64_t now_ms, const double *dp, size_t n,
                       struct mdp_diag *d)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_puts(&b, "{\"name\":");
    mdp_buf_json_str(&b, a->name);
    mdp_buf_printf(&b, ",\"metric\":");
    mdp_buf_json_str(&b, a->metric);
    mdp_buf_printf(&b, ",\"state\":\"%s\",\"since\":", mdp_alarm_state_name(st->state));
    put_time(&b, st->since_ms);
    mdp_buf_puts(&b, ",\"evaluated\":");
    put_time(&b, now_ms);
    mdp_buf_puts(&b, ",\"reason\":");
    mdp_buf_json_str(&b, st->reason);
    mdp_buf_puts(&b, ",\"datapoints\":[");
    for (size_t i = 0; i < n; i++)
        if (isnan(dp[i]))
            mdp_buf_printf(&b, "%snull", i ? "," : "");
        else
            mdp_buf_printf(&b, "%s%.17g", i ? "," : "", dp[i]);
    int rc = mdp_buf_puts(&b, "]}\n");
    char key[160];
    snprintf(key, sizeof key, "_meta/alarms/state/%s.json", a->name);
    if (rc)
        mdp_diag_set(d, rc, "out of memory");
    else
        rc = mdp_store_put(lake->store, key, b.data, b.len, 0, d);
    mdp_buf_cleanup(&b);
    return rc;
}

static int write_history(struct mdp_lake *lake, const struct mdp_alarm *a, int64_t now_ms,
                         enum mdp_alarm_state from, enum mdp_alarm_state to, const char *reason,
                         const char *actions, struct mdp_diag *d)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_puts(&b, "{\"time\":");
    put_time(&b, now_ms);
    mdp_buf_puts(&b, ",\"alarm\":");
    mdp_buf_json_str(&b, a->name);
    mdp_buf_puts(&b, ",\"metric\":");
    mdp_buf_json_str(&b, a->metric);
    mdp_buf_printf(&b, ",\"from\":\"%s\",\"to\":\"%s\",\"reason\":", mdp_alarm_state_name(from),
                   mdp_alarm_state_name(to));
    mdp_buf_json_str(&b, reason);
    mdp_buf_printf(&b, ",\"actions\":%s}\n", actions);
    char key[200], date[11];
    mdp_date_format(mdp_days_from_ms(now_ms), date, sizeof date);
    snprintf(key, sizeof key, "_meta/alarms/history/dt=%s/%013lld-%s.json", date, (long long)now_ms,
             a->name);
    int rc = mdp_buf_error(&b);
    if (rc)
        mdp_diag_set(d, rc, "out of memory");
    else
        rc = mdp_store_put(lake->store, key, b.data, b.len, 0, d);
    mdp_buf_cleanup(&b);
    return rc;
}

int mdp_alarms_eval(struct mdp_lake *lake, const struct mdp_config *cfg,
                    const struct mdp_alarm_set *set, int64_t now_ms, int with_actions,
                    void (*on_result)(const struct mdp_alarm_result *r, void *ud), void *ud,
                    struct mdp_diag *d)
{
    int rc = 0;
    struct mdp_buf acts;
    mdp_buf_init(&acts);
    for (size_t i = 0; !rc && i < set->n; i++) {
        const struct mdp_alarm *a = &set->v[i];
        if (a->evaluation_periods < 1 || a->evaluation_periods > MAX_N ||
            a->datapoints_to_alarm < 1 || a->datapoints_to_alarm > a->evaluation_periods) {
            rc = mdp_diag_set(d, MDP_ERR_INVALID, "alarm '%s': %d of %d datapoints is no M of N",
                              a->name, a->datapoints_to_alarm, a->evaluation_periods);
            break;
        }
        struct stored_state st;
        if ((rc = read_state(lake, a->name, &st, d))) break;
        /* CloudWatch reads a range longer than N so that older real datapoints can stand in for
         * missing recent ones; ours is N + 2 periods */
        size_t n = (size_t)a->evaluation_periods + 2;
        double dp[MAX_N + 2];
        rc = mdp_metric_datapoints(lake, cfg, a->metric, a->statistic, a->period_s, now_ms, n, dp,
                                   d);
        if (rc) break;
        struct mdp_alarm_result r;
        memset(&r, 0, sizeof r);
        r.alarm = a;
        r.from = st.state;
        r.to = mdp_alarm_decide(a, dp, n, st.state, r.reason, sizeof r.reason);
        r.changed = r.to != r.from || st.since_ms < 0;
        if (r.to != r.from) {
            int which = r.to == MDP_ALARM_ALARM ? 0 : r.to == MDP_ALARM_OK ? 1 : 2;
            mdp_buf_reset(&acts);
            mdp_buf_putc(&acts, '[');
            for (size_t k = 0; with_actions && k < a->nactions[which]; k++) {
                if (k) mdp_buf_putc(&acts, ',');
                if (!mdp__alarm_action_run(cfg, a, &a->actions[which][k], r.from, r.to, r.reason,
                                           now_ms, &acts))
                    r.actions_failed++;
            }
            if (mdp_buf_putc(&acts, ']')) {
                rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
                break;
            }
            rc = write_history(lake, a, now_ms, r.from, r.to, r.reason, acts.data, d);
            if (rc) break;
            st.since_ms = now_ms;
        } else if (st.since_ms < 0) {
            st.since_ms = now_ms; /* evaluated for the first time, still INSUFFICIENT_DATA */
        }
        st.state = r.to;
        snprintf(st.reason, sizeof st.reason, "%s", r.reason);
        rc = write_state(lake, a, &st, now_ms, dp, n, d);
        if (!rc && on_result) on_result(&r, ud);
    }
    mdp_buf_cleanup(&acts);
    return rc;
}

struct hist_walk {
    struct mdp_lake *lake;
    const char *alarm;
    int64_t now_ms;
    int (*cb)(const struct mdp_alarm_change *c, void *ud);
    void *ud;
    struct mdp_diag *d;
};

static int hist_cb(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct hist_walk *w = ud;
    /* _meta/alarms/history/dt=D/<13 digits>-<name>.json */
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    if (strlen(base) < 20 || base[13] != '-') return 0;
    if (w->alarm) {
        size_t nl = strlen(w->alarm);
        if (strncmp(base + 14, w->alarm, nl) != 0 || strcmp(base + 14 + nl, ".json") != 0) return 0;
    }
    struct mdp_buf b;
    mdp_buf_init(&b);
    int rc = mdp_store_get(w->lake->store, key, &b, w->d);
    if (rc) {
        mdp_buf_cleanup(&b);
        return rc == MDP_ERR_NOT_FOUND ? 0 : rc;
    }
    json_object *o = json_tokener_parse(b.data ? b.data : "");
    mdp_buf_cleanup(&b);
    if (!o) return 0;
    struct mdp_alarm_change c = {0};
    json_object *v;
    c.time_ms = -1;
    if (json_object_object_get_ex(o, "time", &v))
        mdp_time_parse_iso(json_object_get_string(v), (size_t)-1, &c.time_ms);
    c.alarm = json_object_object_get_ex(o, "alarm", &v) ? json_object_get_string(v) : "";
    c.from = json_object_object_get_ex(o, "from", &v) ? json_object_get_string(v) : "";
    c.to = json_object_object_get_ex(o, "to", &v) ? json_object_get_string(v) : "";
    c.reason = json_object_object_get_ex(o, "reason", &v) ? json_object_get_string(v) : "";
    c.actions_json = json_object_object_get_ex(o, "actions", &v)
                         ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)
                         : "[]";
    rc = 0;
    if (c.time_ms >= 0 && c.time_ms <= w->now_ms) rc = w->cb(&c, w->ud);
    json_object_put(o);
    return rc;
}

int mdp_alarm_history(struct mdp_lake *lake, const char *alarm, int64_t now_ms,
                      int (*cb)(const struct mdp_alarm_change *c, void *ud), void *ud,
                      struct mdp_diag *d)
{
    struct hist_walk w = {lake, alarm, now_ms, cb, ud, d};
    return mdp_store_list(lake->store, "_meta/alarms/history/", hist_cb, &w, d);
}

static int hist_json(const struct mdp_alarm_change *c, void *ud)
{
    struct mdp_buf *b = ud;
    if (b->len && b->data[b->len - 1] != '[') mdp_buf_putc(b, ',');
    mdp_buf_puts(b, "{\"time\":");
    put_time(b, c->time_ms);
    mdp_buf_printf(b, ",\"from\":");
    mdp_buf_json_str(b, c->from);
    mdp_buf_puts(b, ",\"to\":");
    mdp_buf_json_str(b, c->to);
    mdp_buf_puts(b, ",\"reason\":");
    mdp_buf_json_str(b, c->reason);
    mdp_buf_puts(b, ",\"actions\":");
    return mdp_buf_printf(b, "%s}", c->actions_json);
}

int mdp_alarms_json(struct mdp_lake *lake, const struct mdp_config *cfg, int64_t now_us,
                    struct mdp_buf *out, struct mdp_diag *d)
{
    int64_t now_ms = now_us / 1000;
    struct mdp_alarm_set set;
    int rc = mdp_alarms_load(mdp_alarms_file(cfg), &set, d);
    if (rc) return rc;
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_puts(&b, "{\"now\":");
    put_time(&b, now_ms);
    mdp_buf_puts(&b, ",\"alarms\":[");
    for (size_t i = 0; !rc && i < set.n; i++) {
        const struct mdp_alarm *a = &set.v[i];
        struct stored_state st;
        if ((rc = read_state(lake, a->name, &st, d))) break;
        mdp_buf_printf(&b, "%s{\"name\":", i ? "," : "");
        mdp_buf_json_str(&b, a->name);
        mdp_buf_puts(&b, ",\"metric\":");
        mdp_buf_json_str(&b, a->metric);
        mdp_buf_printf(&b, ",\"state\":\"%s\",\"reason\":", mdp_alarm_state_name(st.state));
        mdp_buf_json_str(&b, st.reason);
        mdp_buf_puts(&b, ",\"since\":");
        put_time(&b, st.since_ms);
        mdp_buf_puts(&b, ",\"history\":[");
        rc = mdp_alarm_history(lake, a->name, now_ms, hist_json, &b, d);
        if (rc == MDP_ERR_NOMEM && d && !d->msg[0]) mdp_diag_set(d, rc, "out of memory");
        mdp_buf_puts(&b, "]}");
    }
    if (!rc) rc = mdp_buf_puts(&b, "]}");
    if (!rc) rc = mdp_buf_append(out, b.data, b.len);
    if (rc == MDP_ERR_NOMEM && d && !d->msg[0]) mdp_diag_set(d, rc, "out of memory");
    mdp_buf_cleanup(&b);
    mdp_alarm_set_cleanup(&set);
    return rc;
}
