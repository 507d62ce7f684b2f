/* The data inventory's loader (include/mdp/inventory.h, docs/privacy.md §2): reads
 * config/inventory.yaml strictly (libyaml's document tree, every node checked, errors as
 * "file:line:col: key: why"), plus the ISO 8601 durations its retention rules are written in and
 * the names of its enums. This is the governance inventory, the map of what data exists and why;
 * src/lake/inventory.c is the unrelated raw-inventory stage that lists the raw zone's objects as a
 * Parquet table. `mdp inventory check` (datamap_check.c) compares this map with the lake. */
#include "mdp/alloc.h"
#include "mdp/config.h"
#include "mdp/inventory.h"
#include "mdp/time.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- names ---- */

struct name_val {
    const char *name;
    int val;
};

static const struct name_val STORES[] = {{"supabase", MDP_INV_SUPABASE},
                                         {"dynamodb", MDP_INV_DYNAMODB},
                                         {"external", MDP_INV_EXTERNAL},
                                         {"raw", MDP_INV_RAW},
                                         {"curated", MDP_INV_CURATED},
                                         {"ml", MDP_INV_ML},
                                         {"serving", MDP_INV_SERVING},
                                         {"quarantine", MDP_INV_QUARANTINE},
                                         {"state", MDP_INV_STATE},
                                         {"meta", MDP_INV_META},
                                         {NULL, 0}};
static const struct name_val PIIS[] = {{"none", MDP_PII_NONE},
                                       {"pseudonymous", MDP_PII_PSEUDONYMOUS},
                                       {"direct", MDP_PII_DIRECT},
                                       {NULL, 0}};
static const struct name_val KINDS[] = {{"user_id", MDP_SUBJ_USER_ID},
                                        {"email", MDP_SUBJ_EMAIL},
                                        {"email_lower", MDP_SUBJ_EMAIL_LOWER},
                                        {"email_sha256", MDP_SUBJ_EMAIL_SHA256},
                                        {"email_hmac", MDP_SUBJ_EMAIL_HMAC},
                                        {"external_id", MDP_SUBJ_EXTERNAL_ID},
                                        {"account_id", MDP_SUBJ_ACCOUNT_ID},
                                        {"user_id_hmac", MDP_SUBJ_USER_ID_HMAC},
                                        {NULL, 0}};
static const struct name_val CLOCKS[] = {{"since_event", MDP_CLOCK_SINCE_EVENT},
                                         {"since_last_activity", MDP_CLOCK_SINCE_LAST_ACTIVITY},
                                         {"ttl", MDP_CLOCK_TTL},
                                         {NULL, 0}};
static const struct name_val DELS[] = {{"ttl", MDP_DEL_TTL},
                                       {"batch_job", MDP_DEL_BATCH_JOB},
                                       {"lifecycle", MDP_DEL_LIFECYCLE},
                                       {"vendor_auto_delete", MDP_DEL_VENDOR},
                                       {"cascade_delete", MDP_DEL_CASCADE},
                                       {"partition_drop", MDP_DEL_PARTITION_DROP},
                                       {"rebuild", MDP_DEL_REBUILD},
                                       {"row_rewrite", MDP_DEL_ROW_REWRITE},
                                       {NULL, 0}};
static const struct {
    const char *tag, *text;
} BASES[] = {{"consent", "consent (Art. 6(1)(a) GDPR)"},
             {"contract", "contract (Art. 6(1)(b) GDPR)"},
             {"legal_obligation", "legal obligation (Art. 6(1)(c) GDPR)"},
             {"vital_interest", "vital interests (Art. 6(1)(d) GDPR)"},
             {"public_task", "public task (Art. 6(1)(e) GDPR)"},
             {"legitimate_interest", "legitimate interest (Art. 6(1)(f) GDPR)"},
             {NULL, NULL}};

static const char *name_of(const struct name_val *t, int v)
{
    for (; t->name; t++)
        if (t->val == v) return t->name;
    return "?";
}

static int val_of(const struct name_val *t, const char *s, int *out)
{
    for (; t->name; t++)
        if (strcmp(t->name, s) == 0) return *out = t->val, 0;
    return -1;
}

static void names_list(const struct name_val *t, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (; t->name && used < n; t++) {
        int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", t->name);
        if (w < 0) break;
        used += (size_t)w;
    }
}

const char *mdp_pii_name(enum mdp_pii p)
{
    return name_of(PIIS, (int)p);
}
const char *mdp_ret_clock_name(enum mdp_ret_clock c)
{
    return name_of(CLOCKS, (int)c);
}
const char *mdp_del_path_name(enum mdp_del_path p)
{
    return name_of(DELS, (int)p);
}
const char *mdp_inv_store_name(enum mdp_inv_store s)
{
    return name_of(STORES, (int)s);
}
const char *mdp_subject_kind_name(enum mdp_subject_kind k)
{
    return name_of(KINDS, (int)k);
}

const char *mdp_del_path_text(enum mdp_del_path p)
{
    switch (p) {
    case MDP_DEL_TTL:
        return "items expire by their TTL and are purged (DynamoDB TTL on AWS)";
    case MDP_DEL_BATCH_JOB:
        return "`mdp retention apply` deletes the due rows or items";
    case MDP_DEL_LIFECYCLE:
        return "`mdp retention apply` removes whole day folders (S3 Lifecycle expiration on AWS)";
    case MDP_DEL_VENDOR:
        return "the vendor's own retention setting deletes it at the source";
    case MDP_DEL_CASCADE:
        return "the subject's rows are deleted, cascading by foreign keys (`mdp dsar erase`; "
               "inactive users by `mdp retention apply`)";
    case MDP_DEL_PARTITION_DROP:
        return "`mdp retention apply` drops whole date partitions and publishes the table without "
               "them (Glue BatchDeletePartition on AWS)";
    case MDP_DEL_REBUILD:
        return "rebuilt from its inputs on every run, so it holds only what they still hold";
    case MDP_DEL_ROW_REWRITE:
        return "`mdp retention apply` rewrites the files holding due rows without them";
    }
    return "?";
}

const char *mdp_legal_basis_text(const char *tag)
{
    for (int i = 0; tag && BASES[i].tag; i++)
        if (strcmp(BASES[i].tag, tag) == 0) return BASES[i].text;
    return NULL;
}

/* ---- durations ---- */

int mdp_duration_parse(const char *s, struct mdp_duration *out)
{
    memset(out, 0, sizeof *out);
    if (!s || *s != 'P') return MDP_ERR_PARSE;
    const char *p = s + 1;
    int in_time = 0, any = 0;
    unsigned seen = 0; /* bit per designator, to refuse repeats and wrong order */
    static const char DATE_ORDER[] = "YMWD", TIME_ORDER[] = "HMS";
    int last = -1;
    struct mdp_duration d;
    memset(&d, 0, sizeof d);
    while (*p) {
        if (*p == 'T') {
            if (in_time || !p[1]) return MDP_ERR_PARSE;
            in_time = 1;
            last = -1;
            p++;
            continue;
        }
        if (*p < '0' || *p > '9') return MDP_ERR_PARSE;
        long v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p - '0');
            if (v > 100000 || ++digits > 6) return MDP_ERR_PARSE;
            p++;
        }
        const char *order = in_time ? TIME_ORDER : DATE_ORDER;
        const char *at = *p ? strchr(order, *p) : NULL;
        if (!at) return MDP_ERR_PARSE;
        int idx = (int)(at - order);
        unsigned bit = 1u << (idx + (in_time ? 4 : 0));
        if ((seen & bit) || idx <= last) return MDP_ERR_PARSE;
        seen |= bit;
        last = idx;
        any = 1;
        switch (in_time ? 4 + idx : idx) {
        case 0:
            d.years = (int32_t)v;
            break;
        case 1:
            d.months = (int32_t)v;
            break;
        case 2:
            d.days += (int32_t)(7 * v);
            break;
        case 3:
            d.days += (int32_t)v;
            break;
        case 4:
            d.seconds += 3600LL * v;
            break;
        case 5:
            d.seconds += 60LL * v;
            break;
        default:
            d.seconds += v;
            break;
        }
        p++;
    }
    if (!any) return MDP_ERR_PARSE;
    *out = d;
    return 0;
}

static int64_t shift(int64_t ms, const struct mdp_duration *dur, int sign)
{
    int64_t day = mdp_days_from_ms(ms);
    int64_t in_day = ms - day * MDP_MS_PER_DAY;
    int64_t y;
    unsigned m, dd;
    mdp_civil_from_days(day, &y, &m, &dd);
    int64_t months = y * 12 + (m - 1) + sign * ((int64_t)dur->years * 12 + dur->months);
    int64_t ny = months >= 0 ? months / 12 : -((-months + 11) / 12);
    unsigned nm = (unsigned)(months - ny * 12) + 1;
    static const unsigned DIM[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned last = DIM[nm - 1];
    if (nm == 2 && ((ny % 4 == 0 && ny % 100 != 0) || ny % 400 == 0)) last = 29;
    if (dd > last) dd = last;
    int64_t nd = mdp_days_from_civil(ny, nm, dd) + sign * (int64_t)dur->days;
    return nd * MDP_MS_PER_DAY + in_day + sign * dur->seconds * 1000;
}

int64_t mdp_duration_before(int64_t ms, const struct mdp_duration *dur)
{
    return shift(ms, dur, -1);
}

int64_t mdp_duration_after(int64_t ms, const struct mdp_duration *dur)
{
    return shift(ms, dur, 1);
}

/* ---- the loader ---- */

struct walk {
    const char *name;
    yaml_document_t *doc;
    struct mdp_diag *d;
};

static int fail(struct walk *w, const yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct walk *w, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mdp_diag_set(w->d, MDP_ERR_CONFIG, "%s:%zu:%zu: %s: %s", w->name, n->start_mark.line + 1,
                        n->start_mark.column + 1, key, msg);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A non-empty string value. */
static int take_text(struct walk *w, const yaml_node_t *v, const char *key, char **slot)
{
    const char *t = scalar(v);
    if (!t) return fail(w, v, key, "expects a string, not a mapping or list");
    size_t i = 0;
    while (t[i] == ' ' || t[i] == '\t' || t[i] == '\n')
        i++;
    if (!t[i]) return fail(w, v, key, "must not be empty");
    if (*slot) return fail(w, v, key, "given twice");
    if (!(*slot = mdp_strdup(t))) return mdp_diag_set(w->d, MDP_ERR_NOMEM, "out of memory");
    return 0;
}

static int take_enum(struct walk *w, const yaml_node_t *v, const char *key,
                     const struct name_val *t, int *out)
{
    const char *s = scalar(v);
    if (!s) return fail(w, v, key, "expects a name, not a mapping or list");
    if (val_of(t, s, out)) {
        char list[300];
        names_list(t, list, sizeof list);
        return fail(w, v, key, "'%s' is not one of %s", s, list);
    }
    return 0;
}

/* Checks a mapping for keys that are not plain strings and for duplicates. */
static int check_map(struct walk *w, const yaml_node_t *map, const char *key)
{
    if (map->type != YAML_MAPPING_NODE) return fail(w, map, key, "expects a mapping");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        const char *kt = scalar(kn);
        if (!kt || !vn) return fail(w, kn ? kn : map, key, "keys must be plain strings");
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            const char *qt = scalar(yaml_document_get_node(w->doc, q->key));
            if (qt && strcmp(qt, kt) == 0)
                return fail(w, kn, kt, "duplicate key (first at line %zu)",
                            yaml_document_get_node(w->doc, q->key)->start_mark.line + 1);
        }
    }
    return 0;
}

/* "a.b" into out (n bytes), cut short when too long: it only names a key in a message. */
static void join(char *out, size_t n, const char *a, const char *b)
{
    int w = snprintf(out, n, "%s.%s", a, b);
    if (w < 0) out[0] = '\0';
}

static int valid_ident(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-' || *s == '/'))
            return 0;
    return 1;
}

static int load_retention(struct walk *w, const yaml_node_t *map, struct mdp_inv_dataset *ds,
                          const char *dsname)
{
    char key[300];
    snprintf(key, sizeof key, "datasets.%s.retention", dsname);
    int rc = check_map(w, map, key);
    if (rc) return rc;
    int have_clock = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        const char *k = scalar(kn);
        if (!k) k = "";
        char full[700];
        join(full, sizeof full, key, k);
        if (strcmp(k, "period") == 0) {
            if ((rc = take_text(w, vn, full, &ds->retention.period_text))) return rc;
            if (mdp_duration_parse(ds->retention.period_text, &ds->retention.period))
                return fail(w, vn, full,
                            "'%s' is not an ISO 8601 duration (e.g. P7D, P18M, P3Y, PT12H)",
                            ds->retention.period_text);
        } else if (strcmp(k, "clock") == 0) {
            int v;
            if ((rc = take_enum(w, vn, full, CLOCKS, &v))) return rc;
            ds->retention.clock = (enum mdp_ret_clock)v;
            have_clock = 1;
        } else if (strcmp(k, "column") == 0) {
            if ((rc = take_text(w, vn, full, &ds->retention.column))) return rc;
        } else {
            return fail(w, kn, full, "unknown key (period, clock, column)");
        }
    }
    if (!ds->retention.period_text) return fail(w, map, key, "missing 'period'");
    if (!have_clock) return fail(w, map, key, "missing 'clock'");
    return 0;
}

static int load_columns(struct walk *w, const yaml_node_t *map, struct mdp_inv_dataset *ds,
                        const char *key)
{
    int rc = check_map(w, map, key);
    if (rc) return rc;
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    if (n == 0) return fail(w, map, key, "lists no column: classify at least one");
    if (!(ds->columns = mdp_calloc(n, sizeof *ds->columns)))
        return mdp_diag_set(w->d, MDP_ERR_NOMEM, "out of memory");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        const char *k = scalar(kn);
        if (!k) k = "";
        char full[700];
        join(full, sizeof full, key, k);
        if (!valid_ident(k)) return fail(w, kn, full, "not a column name");
        int v;
        if ((rc = take_enum(w, vn, full, PIIS, &v))) return rc;
        struct mdp_inv_column *c = &ds->columns[ds->ncolumns];
        if (!(c->name = mdp_strdup(k))) return mdp_diag_set(w->d, MDP_ERR_NOMEM, "out of memory");
        c->pii = (enum mdp_pii)v;
        ds->ncolumns++;
    }
    return 0;
}

static int load_subject_keys(struct walk *w, const yaml_node_t *map, struct mdp_inv_dataset *ds,
                             const char *key)
{
    int rc = check_map(w, map, key);
    if (rc) return rc;
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    if (n && !(ds->subject_keys = mdp_calloc(n, sizeof *ds->subject_keys)))
        return mdp_diag_set(w->d, MDP_ERR_NOMEM, "out of memory");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        const char *k = scalar(kn);
        if (!k) k = "";
        char full[700];
        join(full, sizeof full, key, k);
        int v;
        if ((rc = take_enum(w, vn, full, KINDS, &v))) return rc;
        struct mdp_inv_subject_key *s = &ds->subject_keys[ds->nsubject_keys];
        if (!(s->column = mdp_strdup(k))) return mdp_diag_set(w->d, MDP_ERR_NOMEM, "out of memory");
        s->kind = (enum mdp_subject_kind)v;
        ds->nsubject_keys++;
    }
    return 0;
}

/* Fields of a dataset: name, offset of a text slot (or 0 for the structured ones). */
#define DS_OFF(f) offsetof(struct mdp_inv_dataset, f)
static const struct {
    const char *key;
    size_t off;
} TEXT_FIELDS[] = {{"location", DS_OFF(location)},     {"purpose", DS_OFF(purpose)},
                   {"owner", DS_OFF(owner)},           {"subjects", DS_OFF(subjects)},
                   {"recipients", DS_OFF(recipients)}, {"transfers", DS_OFF(transfers)},
                   {"source", DS_OFF(source)},         {NULL, 0}};

static int load_dataset(struct walk *w, const yaml_node_t *kn, const yaml_node_t *map,
                        struct mdp_inv_dataset *ds)
{
    const char *name = scalar(kn);
    if (!name) name = "";
    char key[300];
    snprintf(key, sizeof key, "datasets.%s", name);
    if (!valid_ident(name))
        return fail(w, kn, key, "a dataset name is letters, digits and _ . - / only");
    ds->line = (int)kn->start_mark.line + 1;
    if (!(ds->name = mdp_strdup(name))) return mdp_diag_set(w->d, MDP_ERR_NOMEM, "out of memory");
    int rc = check_map(w, map, key);
    if (rc) return rc;
    int have_store = 0, have_del = 0, have_ret = 0, have_keys = 0;
    const yaml_node_t *keys_node = NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *fk = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *fv = yaml_document_get_node(w->doc, p->value);
        const char *k = scalar(fk);
        if (!k) k = "";
        char full[700];
        join(full, sizeof full, key, k);
        int handled = 0;
        for (int i = 0; TEXT_FIELDS[i].key; i++)
            if (strcmp(k, TEXT_FIELDS[i].key) == 0) {
                if ((rc = take_text(w, fv, full, (char **)((char *)ds + TEXT_FIELDS[i].off))))
                    return rc;
                handled = 1;
            }
        if (handled) continue;
        int v;
        if (strcmp(k, "store") == 0) {
            if ((rc = take_enum(w, fv, full, STORES, &v))) return rc;
            ds->store = (enum mdp_inv_store)v;
            have_store = 1;
        } else if (strcmp(k, "legal_basis") == 0) {
            if ((rc = take_text(w, fv, full, &ds->legal_basis))) return rc;
            if (!mdp_legal_basis_text(ds->legal_basis))
                return fail(w, fv, full,
                            "'%s' is not one of consent, contract, legal_obligation, "
                            "vital_interest, public_task, legitimate_interest (Art. 6(1)(a)-(f))",
                            ds->legal_basis);
        } else if (strcmp(k, "deletion") == 0) {
            if ((rc = take_enum(w, fv, full, DELS, &v))) return rc;
            ds->deletion = (enum mdp_del_path)v;
            have_del = 1;
        } else if (strcmp(k, "retention") == 0) {
            if ((rc = load_retention(w, fv, ds, name))) return rc;
            have_ret = 1;
        } else if (strcmp(k, "columns") == 0) {
            if (ds->columns) return fail(w, fk, full, "given twice");
            if ((rc = load_columns(w, fv, ds, full))) return rc;
        } else if (strcmp(k, "subject_keys") == 0) {
            if ((rc = load_subject_keys(w, fv, ds, full))) return rc;
            have_keys = 1;
            keys_node = fv;
        } else {
            return fail(w, fk, full,
                        "unknown key (store, location, purpose, legal_basis, owner, subjects, "
                        "recipients, transfers, source, retention, deletion, subject_keys, "
                        "columns)");
        }
    }
    static const char *const REQUIRED[] = {"store",   "location",  "purpose",    "legal_basis",
                                           "owner",   "subjects",  "recipients", "transfers",
                                           "source",  "retention", "deletion",   "subject_keys",
                                           "columns", NULL};
    const int have[] = {have_store,
                        ds->location != NULL,
                        ds->purpose != NULL,
                        ds->legal_basis != NULL,
                        ds->owner != NULL,
                        ds->subjects != NULL,
                        ds->recipients != NULL,
                        ds->transfers != NULL,
                        ds->source != NULL,
                        have_ret,
                        have_del,
                        have_keys,
                        ds->columns != NULL};
    for (int i = 0; REQUIRED[i]; i++)
        if (!have[i]) return fail(w, map, key, "missing '%s'", REQUIRED[i]);
    for (size_t i = 0; i < ds->nsubject_keys; i++)
        if (!mdp_inv_dataset_column(ds, ds->subject_keys[i].column))
            return fail(w, keys_node, key, "subject key '%s' is not one of its columns",
                        ds->subject_keys[i].column);
    if (ds->retention.column && !mdp_inv_dataset_column(ds, ds->retention.column))
        return fail(w, map, key, "retention.column '%s' is not one of its columns",
                    ds->retention.column);
    return 0;
}

static int load_root(struct walk *w, const yaml_node_t *root, struct mdp_inventory *inv)
{
    int rc = check_map(w, root, "(top level)");
    if (rc) return rc;
    const yaml_node_t *datasets = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        const char *k = scalar(kn);
        if (!k) k = "";
        if (strcmp(k, "controller") == 0)
            rc = take_text(w, vn, k, &inv->controller);
        else if (strcmp(k, "dpo") == 0)
            rc = take_text(w, vn, k, &inv->dpo);
        else if (strcmp(k, "security") == 0)
            rc = take_text(w, vn, k, &inv->security);
        else if (strcmp(k, "datasets") == 0)
            datasets = vn;
        else
            rc = fail(w, kn, k, "unknown key (controller, dpo, security, datasets)");
        if (rc) return rc;
    }
    if (!inv->controller) return fail(w, root, "controller", "missing");
    if (!inv->dpo) return fail(w, root, "dpo", "missing");
    if (!inv->security) return fail(w, root, "security", "missing");
    if (!datasets) return fail(w, root, "datasets", "missing");
    if ((rc = check_map(w, datasets, "datasets"))) return rc;
    size_t n = (size_t)(datasets->data.mapping.pairs.top - datasets->data.mapping.pairs.start);
    if (n == 0) return fail(w, datasets, "datasets", "lists no dataset");
    if (!(inv->datasets = mdp_calloc(n, sizeof *inv->datasets)))
        return mdp_diag_set(w->d, MDP_ERR_NOMEM, "out of memory");
    for (yaml_node_pair_t *p = datasets->data.mapping.pairs.start;
         p < datasets->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        struct mdp_inv_dataset *ds = &inv->datasets[inv->ndatasets++];
        if ((rc = load_dataset(w, kn, vn, ds))) return rc;
        /* one location per store: two entries for one thing would disagree one day */
        for (size_t i = 0; i + 1 < inv->ndatasets; i++) {
            const struct mdp_inv_dataset *o = &inv->datasets[i];
            if (o->store == ds->store && strcmp(o->location, ds->location) == 0 &&
                ds->store != MDP_INV_EXTERNAL)
                return fail(w, kn, "datasets",
                            "'%s' names the same %s location '%s' as '%s' (line %d)", ds->name,
                            mdp_inv_store_name(ds->store), ds->location, o->name, o->line);
        }
    }
    return 0;
}

static void dataset_cleanup(struct mdp_inv_dataset *ds)
{
    free(ds->name);
    free(ds->location);
    free(ds->purpose);
    free(ds->legal_basis);
    free(ds->owner);
    free(ds->subjects);
    free(ds->recipients);
    free(ds->transfers);
    free(ds->source);
    free(ds->retention.period_text);
    free(ds->retention.column);
    for (size_t i = 0; i < ds->ncolumns; i++)
        free(ds->columns[i].name);
    free(ds->columns);
    for (size_t i = 0; i < ds->nsubject_keys; i++)
        free(ds->subject_keys[i].column);
    free(ds->subject_keys);
}

void mdp_inventory_free(struct mdp_inventory *inv)
{
    if (!inv) return;
    for (size_t i = 0; i < inv->ndatasets; i++)
        dataset_cleanup(&inv->datasets[i]);
    free(inv->datasets);
    free(inv->file);
    free(inv->controller);
    free(inv->dpo);
    free(inv->security);
    free(inv);
}

int mdp_inventory_load_buffer(const char *name, const char *text, size_t len,
                              struct mdp_inventory **out, struct mdp_diag *d)
{
    *out = NULL;
    struct mdp_inventory *inv = mdp_calloc(1, sizeof *inv);
    if (!inv) return mdp_diag_set(d, MDP_ERR_NOMEM, "%s: out of memory", name);
    int rc = 0, have_doc = 0;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        mdp_inventory_free(inv);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "%s: cannot initialize the YAML parser", name);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = mdp_diag_set(d, MDP_ERR_CONFIG, "%s:%zu:%zu: invalid YAML: %s", name,
                          parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                          parser.problem ? parser.problem : "syntax error");
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = mdp_diag_set(d, MDP_ERR_CONFIG, "%s:1:1: the inventory is empty", name);
        goto out;
    }
    struct walk w = {name, &doc, d};
    if ((rc = load_root(&w, root, inv))) goto out;
    yaml_document_t extra;
    if (yaml_parser_load(&parser, &extra)) {
        int more = yaml_document_get_root_node(&extra) != NULL;
        yaml_document_delete(&extra);
        if (more) {
            rc = mdp_diag_set(d, MDP_ERR_CONFIG, "%s: more than one YAML document", name);
            goto out;
        }
    }
    if (!(inv->file = mdp_strdup(name))) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
out:
    if (have_doc) yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc)
        mdp_inventory_free(inv);
    else
        *out = inv;
    return rc;
}

const char *mdp_inventory_file(const struct mdp_config *cfg)
{
    return mdp_config_path(cfg->gov_inventory, MDP_SOURCE_DIR "/config/inventory.yaml");
}

int mdp_inventory_load(const char *path, struct mdp_inventory **out, struct mdp_diag *d)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return mdp_diag_set(d, mdp_err_from_errno(e), "%s: cannot open the inventory: %s", path,
                            strerror(e));
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = mdp_realloc(buf, ncap);
            if (!nb) {
                rc = mdp_diag_set(d, MDP_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) rc = mdp_diag_set(d, MDP_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (!rc) rc = mdp_inventory_load_buffer(path, buf ? buf : "", len, out, d);
    free(buf);
    return rc;
}

const struct mdp_inv_dataset *mdp_inventory_find(const struct mdp_inventory *inv, const char *name)
{
    for (size_t i = 0; inv && i < inv->ndatasets; i++)
        if (strcmp(inv->datasets[i].name, name) == 0) return &inv->datasets[i];
    return NULL;
}

const struct mdp_inv_dataset *mdp_inventory_find_location(const struct mdp_inventory *inv,
                                                          enum mdp_inv_store store,
                                                          const char *location)
{
    for (size_t i = 0; inv && i < inv->ndatasets; i++)
        if (inv->datasets[i].store == store && strcmp(inv->datasets[i].location, location) == 0)
            return &inv->datasets[i];
    return NULL;
}

const struct mdp_inv_column *mdp_inv_dataset_column(const struct mdp_inv_dataset *ds,
                                                    const char *name)
{
    for (size_t i = 0; ds && i < ds->ncolumns; i++)
        if (strcmp(ds->columns[i].name, name) == 0) return &ds->columns[i];
    return NULL;
}
