/* `mdp catalog apply` (include/mdp/catalog.h): the Glue inputs mdp_catalog makes, applied through
 * the Glue API. The database is created when missing; a table is created, or updated when it
 * exists (UpdateTable replaces its input: the location moves to the current run folder, the
 * columns follow the published schema); partitions are read with GetPartitions, the ones no
 * longer published removed with BatchDeletePartition (before the table's update, so a table that
 * lost its partitioning has none left under keys it no longer has), the missing ones created with
 * BatchCreatePartition, the ones at another location moved with BatchUpdatePartition. So after
 * every publish, one apply makes Athena, and engines reading Glue's partitions, read exactly the
 * current state. */
#include "mdp/aws.h"
#include "mdp/catalog.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct apply {
    struct mdp_aws *aws;
    mdp_catalog_report_fn report;
    void *ud;
    struct mdp_catalog_applied *n;
    struct mdp_diag *d;
};

static void say(struct apply *ap, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct apply *ap, const char *fmt, ...)
{
    char line[600];
    va_list va;
    va_start(va, fmt);
    vsnprintf(line, sizeof line, fmt, va);
    va_end(va);
    if (ap->report) ap->report(line, ap->ud);
}

/* POSTs req (consumed) as Glue operation op; *out (may be NULL: dropped) gets the answer. */
static int glue(struct apply *ap, const char *op, json_object *req, json_object **out, char *err,
                size_t err_len)
{
    if (out) *out = NULL;
    if (!req) return mdp_diag_set(ap->d, MDP_ERR_NOMEM, "out of memory");
    const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    char target[80];
    snprintf(target, sizeof target, "AWSGlue.%s", op);
    json_object *ans = NULL;
    int rc = body ? mdp_aws_json(ap->aws, "glue", "1.1", target, body, &ans, err, err_len, ap->d)
                  : mdp_diag_set(ap->d, MDP_ERR_NOMEM, "out of memory");
    json_object_put(req);
    if (out)
        *out = ans;
    else
        json_object_put(ans);
    return rc;
}

static const char *str_at(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int ensure_database(struct apply *ap, const char *db)
{
    json_object *req = json_object_new_object();
    json_object_object_add(req, "Name", json_object_new_string(db));
    int rc = glue(ap, "GetDatabase", req, NULL, NULL, 0);
    if (rc != MDP_ERR_NOT_FOUND) {
        if (!rc) say(ap, "database %s: exists", db);
        return rc;
    }
    json_object *in = json_object_new_object();
    req = json_object_new_object();
    json_object_object_add(in, "Name", json_object_new_string(db));
    json_object_object_add(in, "Description",
                           json_object_new_string("matbakh-dp lake (mdp catalog apply)"));
    json_object_object_add(req, "DatabaseInput", in);
    rc = glue(ap, "CreateDatabase", req, NULL, NULL, 0);
    if (rc == MDP_ERR_EXISTS) rc = 0; /* a racing apply */
    if (!rc) say(ap, "database %s: created", db);
    return rc;
}

static int apply_table(struct apply *ap, json_object *input)
{
    const char *db = str_at(input, "DatabaseName");
    json_object *ti;
    if (!db || !json_object_object_get_ex(input, "TableInput", &ti))
        return mdp_diag_set(ap->d, MDP_ERR_INVALID, "catalog: a table input without its names");
    const char *name = str_at(ti, "Name");
    char err[96];
    int rc = glue(ap, "CreateTable", json_object_get(input), NULL, err, sizeof err);
    if (!rc) {
        ap->n->tables_created++;
        say(ap, "table %s.%s: created", db, name ? name : "?");
    } else if (rc == MDP_ERR_EXISTS) {
        rc = glue(ap, "UpdateTable", json_object_get(input), NULL, NULL, 0);
        if (!rc) {
            ap->n->tables_updated++;
            say(ap, "table %s.%s: updated (location and columns of the current state)", db,
                name ? name : "?");
        }
    }
    return rc;
}

/* the stored partitions of db.table: values[0] -> location, into an object */
static int stored_partitions(struct apply *ap, const char *db, const char *table, json_object *out)
{
    const char *next = NULL;
    json_object *prev = NULL;
    int rc = 0;
    do {
        json_object *req = json_object_new_object(), *ans = NULL, *parts;
        json_object_object_add(req, "DatabaseName", json_object_new_string(db));
        json_object_object_add(req, "TableName", json_object_new_string(table));
        if (next) json_object_object_add(req, "NextToken", json_object_new_string(next));
        json_object_put(prev);
        prev = NULL;
        next = NULL;
        rc = glue(ap, "GetPartitions", req, &ans, NULL, 0);
        if (rc) break;
        if (json_object_object_get_ex(ans, "Partitions", &parts) &&
            json_object_is_type(parts, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(parts); i++) {
                json_object *p = json_object_array_get_idx(parts, i), *vals, *sd;
                if (!json_object_object_get_ex(p, "Values", &vals) ||
                    json_object_array_length(vals) < 1 ||
                    !json_object_is_type(json_object_array_get_idx(vals, 0), json_type_string))
                    continue;
                const char *loc = json_object_object_get_ex(p, "StorageDescriptor", &sd)
                                      ? str_at(sd, "Location")
                                      : NULL;
                json_object_object_add(out,
                                       json_object_get_string(json_object_array_get_idx(vals, 0)),
                                       json_object_new_string(loc ? loc : ""));
            }
        }
        next = str_at(ans, "NextToken");
        if (next && *next)
            prev = ans; /* keeps next alive */
        else {
            next = NULL;
            json_object_put(ans);
        }
    } while (next);
    json_object_put(prev);
    return rc;
}

/* an answer's Errors (BatchCreatePartition, BatchUpdatePartition, BatchDeletePartition) as the
 * request's failure */
static int batch_errors(struct apply *ap, const char *op, const char *table, json_object *ans)
{
    json_object *errs;
    if (!json_object_object_get_ex(ans, "Errors", &errs) ||
        !json_object_is_type(errs, json_type_array) || json_object_array_length(errs) == 0)
        return 0;
    return mdp_diag_set(ap->d, MDP_ERR_IO,
                        "catalog: %s of %s: %zu partitions refused, first: %.200s", op, table,
                        json_object_array_length(errs),
                        json_object_to_json_string(json_object_array_get_idx(errs, 0)));
}

/* Sends the elements of list as member of Glue batch operation op on db.table, per elements a
 * call (Glue's limit for op); partitions Glue refuses fail the call, the first named. */
static int batched(struct apply *ap, const char *op, const char *db, const char *table,
                   const char *member, json_object *list, size_t per)
{
    int rc = 0;
    size_t n = json_object_array_length(list);
    for (size_t at = 0; !rc && at < n; at += per) {
        json_object *req = json_object_new_object(), *chunk = json_object_new_array(), *ans = NULL;
        for (size_t i = at; i < n && i < at + per; i++)
            json_object_array_add(chunk, json_object_get(json_object_array_get_idx(list, i)));
        json_object_object_add(req, "DatabaseName", json_object_new_string(db));
        json_object_object_add(req, "TableName", json_object_new_string(table));
        json_object_object_add(req, member, chunk);
        rc = glue(ap, op, req, &ans, NULL, 0);
        if (!rc) rc = batch_errors(ap, op, table, ans);
        json_object_put(ans);
    }
    return rc;
}

/* Removes the stored partitions (values -> location) that want (values -> 1) does not hold, 25
 * a call (Glue's limit); *n gets how many. */
static int delete_stale(struct apply *ap, const char *db, const char *table, json_object *stored,
                        json_object *want, size_t *n)
{
    json_object *stale = json_object_new_array();
    *n = 0;
    json_object_object_foreach(stored, v, loc)
    {
        (void)loc;
        if (json_object_object_get_ex(want, v, NULL)) continue;
        json_object *p = json_object_new_object(), *vals = json_object_new_array();
        json_object_array_add(vals, json_object_new_string(v));
        json_object_object_add(p, "Values", vals);
        json_object_array_add(stale, p);
    }
    int rc = batched(ap, "BatchDeletePartition", db, table, "PartitionsToDelete", stale, 25);
    if (!rc) *n = json_object_array_length(stale);
    json_object_put(stale);
    return rc;
}

/* The partitions of input (a PartitionInputList) made the table's in Glue; table_input (may be
 * NULL) is the table's own input, applied after the stale partitions are removed. */
static int apply_partitions(struct apply *ap, json_object *input, json_object *table_input)
{
    const char *db = str_at(input, "DatabaseName"), *table = str_at(input, "TableName");
    json_object *list;
    if (!db || !table || !json_object_object_get_ex(input, "PartitionInputList", &list))
        return mdp_diag_set(ap->d, MDP_ERR_INVALID, "catalog: a partition input without names");
    json_object *stored = json_object_new_object(), *create = json_object_new_array(),
                *update = json_object_new_array(), *want = json_object_new_object();
    int rc = stored_partitions(ap, db, table, stored);
    if (rc == MDP_ERR_NOT_FOUND && table_input) rc = 0; /* a table not created yet */
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *vals;
        if (json_object_object_get_ex(json_object_array_get_idx(list, i), "Values", &vals) &&
            json_object_is_type(json_object_array_get_idx(vals, 0), json_type_string))
            json_object_object_add(want, json_object_get_string(json_object_array_get_idx(vals, 0)),
                                   json_object_new_int(1));
    }
    size_t nd = 0;
    if (!rc) rc = delete_stale(ap, db, table, stored, want, &nd);
    if (!rc && table_input) rc = apply_table(ap, table_input);
    long same = 0;
    for (size_t i = 0; !rc && i < json_object_array_length(list); i++) {
        json_object *p = json_object_array_get_idx(list, i), *vals, *sd, *have;
        if (!json_object_object_get_ex(p, "Values", &vals) || json_object_array_length(vals) < 1)
            continue;
        const char *v = json_object_get_string(json_object_array_get_idx(vals, 0));
        const char *loc =
            json_object_object_get_ex(p, "StorageDescriptor", &sd) ? str_at(sd, "Location") : NULL;
        if (!json_object_object_get_ex(stored, v, &have)) {
            json_object_array_add(create, json_object_get(p));
        } else if (!loc || strcmp(loc, json_object_get_string(have)) != 0) {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "PartitionValueList", json_object_get(vals));
            json_object_object_add(e, "PartitionInput", json_object_get(p));
            json_object_array_add(update, e);
        } else {
            same++;
        }
    }
    /* Glue takes 100 partitions a call */
    size_t nc = json_object_array_length(create), nu = json_object_array_length(update);
    if (!rc) rc = batched(ap, "BatchCreatePartition", db, table, "PartitionInputList", create, 100);
    if (!rc) rc = batched(ap, "BatchUpdatePartition", db, table, "Entries", update, 100);
    if (!rc) {
        ap->n->partitions_created += (long)nc;
        ap->n->partitions_updated += (long)nu;
        ap->n->partitions_deleted += (long)nd;
        ap->n->partitions_unchanged += same;
        if (nc || nu || nd || same)
            say(ap,
                "partitions of %s.%s: %zu created, %zu moved to the current run, %zu removed (no "
                "longer published), %ld unchanged",
                db, table, nc, nu, nd, same);
    }
    json_object_put(want);
    json_object_put(stored);
    json_object_put(create);
    json_object_put(update);
    return rc;
}

int mdp_catalog_apply(struct mdp_lake *lake, struct mdp_aws *a, const char *bucket, const char *env,
                      mdp_catalog_report_fn report, void *ud, struct mdp_catalog_applied *out_n,
                      struct mdp_diag *d)
{
    memset(out_n, 0, sizeof *out_n);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    int rc = mdp_catalog(lake, bucket, env, 1, f, d);
    if (fclose(f) && !rc) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    json_object *inputs = NULL;
    if (!rc) {
        inputs = json_tokener_parse(text);
        if (!inputs || !json_object_is_type(inputs, json_type_array))
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "catalog: the Glue inputs are not a JSON array");
    }
    free(text);
    struct apply ap = {a, report, ud, out_n, d};
    char db[80];
    snprintf(db, sizeof db, "matbakh_%s", env);
    if (!rc) rc = ensure_database(&ap, db);
    for (size_t i = 0; !rc && i < json_object_array_length(inputs); i++) {
        json_object *in = json_object_array_get_idx(inputs, i), *x, *y;
        json_object *next = json_object_array_get_idx(inputs, i + 1);
        if (!json_object_object_get_ex(in, "TableInput", &x)) {
            rc = apply_partitions(&ap, in, NULL);
        } else if (next && json_object_object_get_ex(next, "PartitionInputList", &y) &&
                   str_at(next, "TableName") && str_at(x, "Name") &&
                   strcmp(str_at(next, "TableName"), str_at(x, "Name")) == 0) {
            rc = apply_partitions(&ap, next, in); /* the table and its partitions */
            i++;
        } else { /* unpartitioned: Glue keeps none of its partitions (one it had before) */
            json_object *none = json_object_new_object();
            json_object_object_add(none, "DatabaseName", json_object_new_string(db));
            json_object_object_add(
                none, "TableName",
                json_object_new_string(str_at(x, "Name") ? str_at(x, "Name") : ""));
            json_object_object_add(none, "PartitionInputList", json_object_new_array());
            rc = apply_partitions(&ap, none, in);
            json_object_put(none);
        }
    }
    json_object_put(inputs);
    return rc;
}
