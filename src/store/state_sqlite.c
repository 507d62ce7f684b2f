/* The SQLite backend of the state store (see mdp/state.h): one table of items keyed by
 * (tbl, pk, sk), with an optional subject column indexed for erasure and export (state files made
 * before it get the column and the index when first opened), WAL journal, a busy timeout so that concurrent processes wait instead of failing.
 * synchronous=FULL: a write is on disk (the WAL fsynced) before it is acknowledged, because this
 * store holds consent decisions, DOI confirmations and erasure records that must survive a power
 * loss once the caller has been told they were recorded (issue 11, defect 3; docs/consent.md has
 * the measured cost). NORMAL, the WAL default, may lose the last commits on power loss.
 */
#include "state_impl.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sq {
    struct mdp_state base; /* first: the handle state.c dispatches on */
    sqlite3 *db;
};
#define DB(s) (((struct sq *)(s))->db)

static const struct mdp__state_ops SQLITE_OPS;

static int fail(struct mdp_state *s, struct mdp_diag *d, const char *what)
{
    return mdp_diag_set(d, MDP_ERR_IO, "state store: %s: %s", what, sqlite3_errmsg(DB(s)));
}

/* The migration of state files made before the subject column: the column (NULL on the old
 * items) and its index, in one write transaction so that two processes opening the same old file
 * cannot both add it. */
static int migrate(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return SQLITE_ERROR;
    int has = 0, r = sqlite3_prepare_v2(db, "PRAGMA table_info(items)", -1, &st, NULL);
    while (r == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        has |= strcmp((const char *)sqlite3_column_text(st, 1), "subject") == 0;
    sqlite3_finalize(st);
    if (r == SQLITE_OK && !has)
        r = sqlite3_exec(db, "ALTER TABLE items ADD COLUMN subject TEXT", NULL, NULL, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_exec(db,
                         "CREATE INDEX IF NOT EXISTS items_subject ON items (subject, tbl, pk, sk) "
                         "WHERE subject IS NOT NULL",
                         NULL, NULL, NULL);
    if (r == SQLITE_OK) r = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (r != SQLITE_OK) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

int mdp__state_sqlite_open(const char *path, struct mdp_state **out, struct mdp_diag *d)
{
    *out = NULL;
    struct sq *s = calloc(1, sizeof *s);
    if (!s) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    if (sqlite3_open_v2(path, &DB(s), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        int rc = mdp_diag_set(d, MDP_ERR_IO, "state store: cannot open %s: %s", path,
                              DB(s) ? sqlite3_errmsg(DB(s)) : "out of memory");
        sqlite3_close(DB(s));
        free(s);
        return rc;
    }
    sqlite3_busy_timeout(DB(s), 10000);
    static const char *const ddl =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=FULL;"
        "CREATE TABLE IF NOT EXISTS items ("
        " tbl TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL, body TEXT NOT NULL,"
        " expires_at INTEGER NOT NULL DEFAULT 0, subject TEXT, PRIMARY KEY (tbl, pk, sk))"
        " WITHOUT ROWID;"
        "CREATE INDEX IF NOT EXISTS items_ttl ON items (tbl, expires_at) WHERE expires_at > 0;";
    if (sqlite3_exec(DB(s), ddl, NULL, NULL, NULL) != SQLITE_OK || migrate(DB(s)) != SQLITE_OK) {
        int rc = mdp_diag_set(d, MDP_ERR_IO, "state store: cannot initialize %s: %s", path,
                              sqlite3_errmsg(DB(s)));
        sqlite3_close(DB(s));
        free(s);
        return rc;
    }
    s->base.ops = &SQLITE_OPS;
    *out = &s->base;
    return 0;
}

static void sq_close(struct mdp_state *s)
{
    sqlite3_close(DB(s));
    free(s);
}

static int sq_synchronous(struct mdp_state *s, int set, int *out_level, struct mdp_diag *d)
{
    if (out_level) *out_level = -1;
    if (set >= 0) {
        char sql[48];
        snprintf(sql, sizeof sql, "PRAGMA synchronous=%d", set);
        if (set > 3 || sqlite3_exec(DB(s), sql, NULL, NULL, NULL) != SQLITE_OK)
            return mdp_diag_set(d, MDP_ERR_INVALID, "state store: synchronous level %d", set);
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(DB(s), "PRAGMA synchronous", -1, &st, NULL) == SQLITE_OK &&
                     sqlite3_step(st) == SQLITE_ROW
                 ? 0
                 : fail(s, d, "PRAGMA synchronous");
    if (!rc && out_level) *out_level = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc;
}

static int prepare(struct mdp_state *s, const char *sql, sqlite3_stmt **st, struct mdp_diag *d)
{
    if (sqlite3_prepare_v2(DB(s), sql, -1, st, NULL) != SQLITE_OK) return fail(s, d, "prepare");
    return 0;
}

/* binds the key (?1 table, ?2 pk, ?3 sk) */
static void bind_key(sqlite3_stmt *st, const char *table, const char *pk, const char *sk)
{
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pk, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sk, -1, SQLITE_STATIC);
}

/* binds an item as the five columns of items (?1..?5) */
static void bind_item(sqlite3_stmt *st, const char *table, const struct mdp_state_item *it)
{
    bind_key(st, table, it->pk, it->sk);
    sqlite3_bind_text(st, 4, it->body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, it->expires_at);
}

static int sq_put(struct mdp_state *s, const char *table, const struct mdp_state_item *it,
                  const char *subject, int flags, struct mdp_diag *d)
{
    sqlite3_stmt *st;
    const char *sql = (flags & MDP_STATE_IF_ABSENT)
                          ? "INSERT INTO items (tbl, pk, sk, body, expires_at, subject) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                          : "INSERT OR REPLACE INTO items (tbl, pk, sk, body, expires_at, subject) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    int rc = prepare(s, sql, &st, d);
    if (rc) return rc;
    bind_item(st, table, it);
    if (subject) sqlite3_bind_text(st, 6, subject, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_CONSTRAINT)
        rc = mdp_diag_set(d, MDP_ERR_EXISTS, "state store: %s item %s/%s exists", table, it->pk,
                          it->sk);
    else if (r != SQLITE_DONE)
        rc = fail(s, d, "put");
    sqlite3_finalize(st);
    return rc;
}

static int sq_put_if_below(struct mdp_state *s, const char *table, const struct mdp_state_item *it,
                           const char *field, int64_t below, int64_t value, struct mdp_diag *d)
{
    (void)value; /* the body carries it: the condition reads the stored body's field */
    int rc = mdp__state_field_ok(field, d);
    if (rc) return rc;
    sqlite3_stmt *st;
    /* one statement: the check and the write cannot be split by another writer */
    rc = prepare(s,
                 "INSERT INTO items (tbl, pk, sk, body, expires_at) VALUES (?1, ?2, ?3, ?4, ?5) "
                 "ON CONFLICT (tbl, pk, sk) DO UPDATE SET body = excluded.body, "
                 "expires_at = excluded.expires_at "
                 "WHERE coalesce(json_extract(items.body, '$.' || ?6), -9223372036854775808) < ?7",
                 &st, d);
    if (rc) return rc;
    bind_item(st, table, it);
    sqlite3_bind_text(st, 6, field, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, below);
    int r = sqlite3_step(st);
    if (r != SQLITE_DONE)
        rc = fail(s, d, "put");
    else if (sqlite3_changes(DB(s)) == 0)
        rc = mdp_diag_set(d, MDP_ERR_EXISTS, "state store: %s item %s/%s has %s >= %lld", table,
                          it->pk, it->sk, field, (long long)below);
    sqlite3_finalize(st);
    return rc;
}

static int sq_get(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                  char **body_out, int64_t *expires_out, struct mdp_diag *d)
{
    *body_out = NULL;
    sqlite3_stmt *st;
    int rc =
        prepare(s, "SELECT body, expires_at FROM items WHERE tbl=?1 AND pk=?2 AND sk=?3", &st, d);
    if (rc) return rc;
    bind_key(st, table, pk, sk);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *body_out = strdup((const char *)sqlite3_column_text(st, 0));
        if (expires_out) *expires_out = sqlite3_column_int64(st, 1);
        if (!*body_out) rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    } else if (r == SQLITE_DONE) {
        rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND, "state store: no %s item %s/%s", table, pk, sk);
    } else {
        rc = fail(s, d, "get");
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_delete(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                     struct mdp_diag *d)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "DELETE FROM items WHERE tbl=?1 AND pk=?2 AND sk=?3", &st, d);
    if (rc) return rc;
    bind_key(st, table, pk, sk);
    if (sqlite3_step(st) != SQLITE_DONE) rc = fail(s, d, "delete");
    sqlite3_finalize(st);
    return rc;
}

/* Steps a statement selecting (pk, sk, body, expires_at), calling cb per row; finalizes it. */
static int each_row(struct mdp_state *s, sqlite3_stmt *st, mdp_state_cb cb, void *ud,
                    struct mdp_diag *d, const char *what)
{
    int r, rc = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        struct mdp_state_item it = {
            (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
            (const char *)sqlite3_column_text(st, 2), sqlite3_column_int64(st, 3)};
        if ((rc = cb(&it, ud))) break;
    }
    if (!rc && r != SQLITE_DONE) rc = fail(s, d, what);
    sqlite3_finalize(st);
    return rc;
}

static int sq_query(struct mdp_state *s, const char *table, const char *pk, int reverse, int limit,
                    mdp_state_cb cb, void *ud, struct mdp_diag *d)
{
    sqlite3_stmt *st;
    const char *sql = reverse ? "SELECT pk, sk, body, expires_at FROM items WHERE tbl=?1 AND pk=?2 "
                                "ORDER BY sk DESC LIMIT ?3"
                              : "SELECT pk, sk, body, expires_at FROM items WHERE tbl=?1 AND pk=?2 "
                                "ORDER BY sk ASC LIMIT ?3";
    int rc = prepare(s, sql, &st, d);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pk, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
    return each_row(s, st, cb, ud, d, "query");
}

static int sq_purge_expired(struct mdp_state *s, const char *table, int64_t now_s, int *n_out,
                            struct mdp_diag *d)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "DELETE FROM items WHERE tbl=?1 AND expires_at > 0 AND expires_at <= ?2",
                     &st, d);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_s);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fail(s, d, "purge");
    else if (n_out)
        *n_out = sqlite3_changes(DB(s));
    sqlite3_finalize(st);
    return rc;
}

static int sq_compact(struct mdp_state *s, struct mdp_diag *d)
{
    /* the WAL holds page images of deleted items until a checkpoint; VACUUM rewrites the file
     * without free pages; the second checkpoint empties the WAL VACUUM itself wrote */
    static const char *const SQL[] = {"PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM",
                                      "PRAGMA wal_checkpoint(TRUNCATE)"};
    for (size_t i = 0; i < sizeof SQL / sizeof *SQL; i++) {
        char *err = NULL;
        if (sqlite3_exec(DB(s), SQL[i], NULL, NULL, &err) != SQLITE_OK) {
            int rc = mdp_diag_set(d, MDP_ERR_IO, "state store: %s: %s", SQL[i],
                                  err ? err : sqlite3_errmsg(DB(s)));
            sqlite3_free(err);
            return rc;
        }
    }
    return 0;
}

static int sq_add(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                  const char *field, int64_t delta, int64_t *out, struct mdp_diag *d)
{
    int rc = mdp__state_field_ok(field, d);
    if (rc) return rc;
    sqlite3_stmt *st;
    rc = prepare(s,
                 "INSERT INTO items (tbl, pk, sk, body, expires_at) "
                 "VALUES (?1, ?2, ?3, json_object(?4, ?5), 0) "
                 "ON CONFLICT (tbl, pk, sk) DO UPDATE SET body = json_set(body, '$.' || ?4, "
                 "coalesce(json_extract(body, '$.' || ?4), 0) + ?5) "
                 "RETURNING json_extract(body, '$.' || ?4)",
                 &st, d);
    if (rc) return rc;
    bind_key(st, table, pk, sk);
    sqlite3_bind_text(st, 4, field, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, delta);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        if (out) *out = sqlite3_column_int64(st, 0);
        r = sqlite3_step(st);
    }
    if (r != SQLITE_DONE) rc = fail(s, d, "add");
    sqlite3_finalize(st);
    return rc;
}

static int sq_transact(struct mdp_state *s, const struct mdp_state_write *w, int n,
                       struct mdp_diag *d)
{
    if (n < 0 || n > 100)
        return mdp_diag_set(d, MDP_ERR_INVALID, "state store: a transaction holds 0 to 100 writes");
    /* IMMEDIATE: the write lock is taken up front, so no other writer's commit fails ours half way
     */
    if (sqlite3_exec(DB(s), "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, d, "begin");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (w[i].op == MDP_STATE_PUT)
            rc = sq_put(s, w[i].table, &w[i].item, w[i].subject, w[i].flags, d);
        else if (w[i].op == MDP_STATE_DELETE)
            rc = sq_delete(s, w[i].table, w[i].item.pk, w[i].item.sk, d);
        else if (w[i].op == MDP_STATE_ADD)
            rc = sq_add(s, w[i].table, w[i].item.pk, w[i].item.sk, w[i].field, w[i].delta, w[i].out,
                        d);
        else
            rc = mdp_diag_set(d, MDP_ERR_INVALID, "state store: write %d has no operation", i + 1);
    }
    if (!rc && sqlite3_exec(DB(s), "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = fail(s, d, "commit");
    if (rc) sqlite3_exec(DB(s), "ROLLBACK", NULL, NULL, NULL); /* a no-op when none is open */
    return rc;
}

static int sq_scan(struct mdp_state *s, const char *table, mdp_state_cb cb, void *ud,
                   struct mdp_diag *d)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "SELECT pk, sk, body, expires_at FROM items WHERE tbl=?1 ORDER BY pk, sk",
                     &st, d);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    return each_row(s, st, cb, ud, d, "scan");
}

static int sq_tables(struct mdp_state *s, int (*cb)(const char *table, int64_t items, void *ud),
                     void *ud, struct mdp_diag *d)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "SELECT tbl, count(*) FROM items GROUP BY tbl ORDER BY tbl", &st, d);
    if (rc) return rc;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        rc = cb((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), ud);
        if (rc) break;
    }
    if (!rc && r != SQLITE_DONE) rc = fail(s, d, "list tables");
    sqlite3_finalize(st);
    return rc;
}

static int sq_count_expired(struct mdp_state *s, const char *table, int64_t now_s, int64_t *out_n,
                            int64_t *out_bytes, struct mdp_diag *d)
{
    sqlite3_stmt *st;
    int rc = prepare(s,
                     "SELECT count(*), coalesce(sum(length(body)), 0) FROM items "
                     "WHERE tbl=?1 AND expires_at > 0 AND expires_at <= ?2",
                     &st, d);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_s);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = fail(s, d, "count expired");
    } else {
        *out_n = sqlite3_column_int64(st, 0);
        if (out_bytes) *out_bytes = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_query_subject(struct mdp_state *s, const char *subject, mdp_state_subject_cb cb,
                            void *ud, struct mdp_diag *d)
{
    sqlite3_stmt *st;
    int rc = prepare(s,
                     "SELECT tbl, pk, sk, body, expires_at FROM items INDEXED BY items_subject "
                     "WHERE subject=?1 ORDER BY tbl, pk, sk",
                     &st, d);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        struct mdp_state_item it = {
            (const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2),
            (const char *)sqlite3_column_text(st, 3), sqlite3_column_int64(st, 4)};
        if ((rc = cb((const char *)sqlite3_column_text(st, 0), &it, ud))) break;
    }
    if (!rc && r != SQLITE_DONE) rc = fail(s, d, "query by subject");
    sqlite3_finalize(st);
    return rc;
}

/* one UPDATE that writes only when the subject differs; no change: the item is there or absent */
static int sq_set_subject(struct mdp_state *s, const char *table, const char *pk, const char *sk,
                          const char *subject, int *out_changed, struct mdp_diag *d)
{
    sqlite3_stmt *st;
    int rc = prepare(s,
                     "UPDATE items SET subject=?4 WHERE tbl=?1 AND pk=?2 AND sk=?3 AND "
                     "subject IS NOT ?4",
                     &st, d);
    if (rc) return rc;
    bind_key(st, table, pk, sk);
    sqlite3_bind_text(st, 4, subject, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) rc = fail(s, d, "set subject");
    sqlite3_finalize(st);
    if (rc) return rc;
    if (sqlite3_changes(DB(s)) == 1) {
        if (out_changed) *out_changed = 1;
        return 0;
    }
    if ((rc = prepare(s, "SELECT 1 FROM items WHERE tbl=?1 AND pk=?2 AND sk=?3", &st, d)))
        return rc;
    bind_key(st, table, pk, sk);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND, "state store: no %s item %s/%s", table, pk, sk);
    else if (r != SQLITE_ROW)
        rc = fail(s, d, "set subject");
    sqlite3_finalize(st);
    return rc;
}

static const struct mdp__state_ops SQLITE_OPS = {
    "sqlite",         sq_close,         sq_synchronous, sq_put,           sq_put_if_below,
    sq_get,           sq_delete,        sq_query,       sq_add,           sq_transact,
    sq_scan,          sq_purge_expired, sq_tables,      sq_count_expired, sq_compact,
    sq_query_subject, sq_set_subject,
};
