/* The state store's front (include/mdp/state.h): picks the backend from the location
 * (a SQLite file or dynamodb://TABLE), checks what every backend needs checked, and dispatches.
 * The process-wide choice of mdp_state_configure (state.backend, state.dynamodb_table) is what
 * mdp_state_open_lake opens. */
#include "state_impl.h"

#include "mdp/alloc.h"
#include "mdp/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DDB_SCHEME "dynamodb://"

static char *g_location; /* NULL: the lake's SQLite file */

int mdp_state_configure(const struct mdp_config *cfg, struct mdp_diag *d)
{
    char *loc = NULL;
    if (cfg->state_backend && strcmp(cfg->state_backend, "dynamodb") == 0) {
        const char *t = cfg->state_dynamodb_table ? cfg->state_dynamodb_table : "";
        if (!*t)
            return mdp_diag_set(d, MDP_ERR_CONFIG,
                                "state.backend is dynamodb but state.dynamodb_table is empty");
        size_t n = strlen(DDB_SCHEME) + strlen(t) + 1;
        loc = mdp_malloc(n);
        if (!loc) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
        snprintf(loc, n, "%s%s", DDB_SCHEME, t);
    }
    free(g_location);
    g_location = loc;
    return 0;
}

const char *mdp_state_location(void)
{
    return g_location;
}

int mdp_state_open(const char *path, struct mdp_state **out, struct mdp_diag *d)
{
    *out = NULL;
    if (strncmp(path, DDB_SCHEME, strlen(DDB_SCHEME)) == 0)
        return mdp__state_dynamodb_open(path + strlen(DDB_SCHEME), out, d);
    return mdp__state_sqlite_open(path, out, d);
}

void mdp_state_close(struct mdp_state *s)
{
    if (s) s->ops->close(s);
}

const char *mdp_state_backend(const struct mdp_state *s)
{
    return s->ops->name;
}

int mdp__state_field_ok(const char *field, struct mdp_diag *d)
{
    for (const char *p = field; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
            return mdp_diag_set(d, MDP_ERR_INVALID, "state store: bad field name '%s'", field);
    return *field ? 0 : mdp_diag_set(d, MDP_ERR_INVALID, "state store: empty field name");
}

int mdp_state_synchronous(struct mdp_state *s, int set, int *out_level, struct mdp_diag *d)
{
    if (out_level) *out_level = -1;
    if (set > 3) return mdp_diag_set(d, MDP_ERR_INVALID, "state store: synchronous level %d", set);
    return s->ops->synchronous(s, set, out_level, d);
}

int mdp_state_put(struct mdp_state *s, const char *table, const struct mdp_state_item *it,
                  int flags, struct mdp_diag *d)
{
    return s->ops->put(s, table, it, NULL, flags, d);
}

int mdp_state_put_subject(struct mdp_state *s, const char *table, const struct mdp_state_item *it,
                          const char *subject, int flags, struct mdp_diag *d)
{
    return s->ops->put(s, table, it, subject && *subject ? subject : NULL, flags, d);
}

int mdp_state_query_subject(struct mdp_state *s, const char *subject, mdp_state_subject_cb cb,
                            void *ud, struct mdp_diag *d)
{
    if (!subject || !*subject)
        return mdp_diag_set(d, MDP_ERR_INVALID, "state store: an empty subject to look up");
    return s->ops->query_subject(s, subject, cb, ud, d);
}

int mdp_state_set_subject(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                          const char *subject, int *out_changed, struct mdp_diag *d)
{
    if (out_changed) *out_changed = 0;
    if (!subject || !*subject)
        return mdp_diag_set(d, MDP_ERR_INVALID, "state store: an empty subject to set");
    return s->ops->set_subject(s, table, pk, sk, subject, out_changed, d);
}

int mdp_state_put_if_newer(struct mdp_state *s, const char *table, const struct mdp_state_item *it,
                           const char *field, int64_t value, struct mdp_diag *d)
{
    int rc = mdp__state_field_ok(field, d);
    return rc ? rc : s->ops->put_if_below(s, table, it, field, value, value, d);
}

int mdp_state_put_if_below(struct mdp_state *s, const char *table, const struct mdp_state_item *it,
                           const char *field, int64_t below, int64_t value, struct mdp_diag *d)
{
    int rc = mdp__state_field_ok(field, d);
    return rc ? rc : s->ops->put_if_below(s, table, it, field, below, value, d);
}

int mdp_state_get(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                  char **body_out, int64_t *expires_out, struct mdp_diag *d)
{
    *body_out = NULL;
    return s->ops->get(s, table, pk, sk, body_out, expires_out, d);
}

int mdp_state_delete(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                     struct mdp_diag *d)
{
    return s->ops->del(s, table, pk, sk, d);
}

int mdp_state_query(struct mdp_state *s, const char *table, const char *pk, int reverse, int limit,
                    mdp_state_cb cb, void *ud, struct mdp_diag *d)
{
    return s->ops->query(s, table, pk, reverse, limit, cb, ud, d);
}

int mdp_state_add(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                  const char *field, int64_t delta, int64_t *out, struct mdp_diag *d)
{
    int rc = mdp__state_field_ok(field, d);
    return rc ? rc : s->ops->add(s, table, pk, sk, field, delta, out, d);
}

int mdp_state_transact(struct mdp_state *s, const struct mdp_state_write *w, int n,
                       struct mdp_diag *d)
{
    if (n < 0 || n > 100)
        return mdp_diag_set(d, MDP_ERR_INVALID, "state store: a transaction holds 0 to 100 writes");
    for (int i = 0; i < n; i++) {
        if (w[i].op != MDP_STATE_PUT && w[i].op != MDP_STATE_ADD && w[i].op != MDP_STATE_DELETE)
            return mdp_diag_set(d, MDP_ERR_INVALID, "state store: write %d has no operation",
                                i + 1);
        int rc = w[i].op == MDP_STATE_ADD ? mdp__state_field_ok(w[i].field, d) : 0;
        if (rc) return rc;
    }
    return n ? s->ops->transact(s, w, n, d) : 0;
}

int mdp_state_scan(struct mdp_state *s, const char *table, mdp_state_cb cb, void *ud,
                   struct mdp_diag *d)
{
    return s->ops->scan(s, table, cb, ud, d);
}

int mdp_state_purge_expired(struct mdp_state *s, const char *table, int64_t now_s, int *n_out,
                            struct mdp_diag *d)
{
    return s->ops->purge_expired(s, table, now_s, n_out, d);
}

int mdp_state_tables(struct mdp_state *s, int (*cb)(const char *table, int64_t items, void *ud),
                     void *ud, struct mdp_diag *d)
{
    return s->ops->tables(s, cb, ud, d);
}

int mdp_state_count_expired(struct mdp_state *s, const char *table, int64_t now_s, int64_t *out_n,
                            int64_t *out_bytes, struct mdp_diag *d)
{
    return s->ops->count_expired(s, table, now_s, out_n, out_bytes, d);
}

int mdp_state_compact(struct mdp_state *s, struct mdp_diag *d)
{
    return s->ops->compact(s, d);
}
