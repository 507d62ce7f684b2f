/* The state store's backends (include/mdp/state.h): state.c checks the arguments shared by every
 * backend and dispatches through a table of operations; state_sqlite.c and state_dynamodb.c each
 * fill one. A backend's handle starts with struct mdp_state. Internal to src/store. */
#ifndef MDP_STATE_IMPL_H
#define MDP_STATE_IMPL_H

#include "mdp/state.h"

struct mdp__state_ops {
    const char *name; /* "sqlite", "dynamodb" */
    void (*close)(struct mdp_state *s);
    int (*synchronous)(struct mdp_state *s, int set, int *out_level, struct mdp_diag *d);
    int (*put)(struct mdp_state *s, const char *table, const struct mdp_state_item *it,
               const char *subject, int flags, struct mdp_diag *d);
    /* mdp_state_put_if_below (put_if_newer is below = value) */
    int (*put_if_below)(struct mdp_state *s, const char *table, const struct mdp_state_item *it,
                        const char *field, int64_t below, int64_t value, struct mdp_diag *d);
    int (*get)(struct mdp_state *s, const char *table, const char *pk, const char *sk,
               char **body_out, int64_t *expires_out, struct mdp_diag *d);
    int (*del)(struct mdp_state *s, const char *table, const char *pk, const char *sk,
               struct mdp_diag *d);
    int (*query)(struct mdp_state *s, const char *table, const char *pk, int reverse, int limit,
                 mdp_state_cb cb, void *ud, struct mdp_diag *d);
    int (*add)(struct mdp_state *s, const char *table, const char *pk, const char *sk,
               const char *field, int64_t delta, int64_t *out, struct mdp_diag *d);
    int (*transact)(struct mdp_state *s, const struct mdp_state_write *w, int n,
                    struct mdp_diag *d);
    int (*scan)(struct mdp_state *s, const char *table, mdp_state_cb cb, void *ud,
                struct mdp_diag *d);
    int (*purge_expired)(struct mdp_state *s, const char *table, int64_t now_s, int *n_out,
                         struct mdp_diag *d);
    int (*tables)(struct mdp_state *s, int (*cb)(const char *table, int64_t items, void *ud),
                  void *ud, struct mdp_diag *d);
    int (*count_expired)(struct mdp_state *s, const char *table, int64_t now_s, int64_t *out_n,
                         int64_t *out_bytes, struct mdp_diag *d);
    int (*compact)(struct mdp_state *s, struct mdp_diag *d);
    int (*query_subject)(struct mdp_state *s, const char *subject, mdp_state_subject_cb cb,
                         void *ud, struct mdp_diag *d);
    int (*set_subject)(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                       const char *subject, int *out_changed, struct mdp_diag *d);
};

struct mdp_state {
    const struct mdp__state_ops *ops;
};

/* a field name of a JSON body: lower-case letters and '_' (0 or MDP_ERR_INVALID with d) */
int mdp__state_field_ok(const char *field, struct mdp_diag *d);

/* Opens the SQLite backend at path (state_sqlite.c). */
int mdp__state_sqlite_open(const char *path, struct mdp_state **out, struct mdp_diag *d);
/* Opens the DynamoDB backend on table (state_dynamodb.c). */
int mdp__state_dynamodb_open(const char *table, struct mdp_state **out, struct mdp_diag *d);

#endif
