/* The supabase connector's pull: exports the configured tables of schema public from PostgreSQL
 * (Supabase) with libpq's COPY ... TO STDOUT WITH (FORMAT csv, HEADER) into the landing folder.
 * Full mode exports every row; incremental mode exports the rows whose watermark column is past
 * the table's committed watermark. Each table is read in one REPEATABLE READ snapshot that also
 * gives the new watermark (the column's maximum), kept as pending until the delivery has been
 * landed; commit then makes it the committed one. Rows with the same watermark value committed
 * after a pull are missed by a strict ">" (long transactions): the spec's CDC path (P1) closes
 * that gap; docs/ingest.md says so. */
#include "../ingest_internal.h"
#include "mdp/log.h"
#include "mdp/time.h"
#include "mdp/net.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ident_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 63) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    return !(s[0] >= '0' && s[0] <= '9');
}

static void split_table(const char *entry, char *table, size_t tn, char *col, size_t cn)
{
    const char *c = strchr(entry, ':');
    snprintf(table, tn, "%.*s", (int)(c ? c - entry : (long)strlen(entry)), entry);
    snprintf(col, cn, "%s", c ? c + 1 : "updated_at");
}

static int state_key(char *out, size_t n, const char *table, const char *what)
{
    return snprintf(out, n, "_meta/state/supabase/%s/%s", table, what);
}

static int pq_fail(struct mdp_diag *d, PGconn *c, PGresult *r, const char *what)
{
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int rc = mdp_diag_set(d, MDP_ERR_IO, "supabase: %s: %s%s%s", what, state ? "SQLSTATE " : "",
                          state ? state : "", msg && *msg ? msg : "failed");
    /* libpq messages end with a newline */
    size_t n = strlen(d->msg);
    if (n && d->msg[n - 1] == '\n') d->msg[n - 1] = '\0';
    return rc;
}

static int exec_ok(PGconn *c, const char *sql, struct mdp_diag *d)
{
    PGresult *r = PQexec(c, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK
                 ? 0
                 : pq_fail(d, c, r, sql);
    PQclear(r);
    return rc;
}

/* Field idx (0-based) of a CSV record (COPY's quoting) into out; 0 or -1 when it is not there. */
static int csv_field(const char *rec, size_t n, int idx, struct mdp_buf *out)
{
    mdp_buf_reset(out);
    int f = 0, inq = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = rec[i];
        if (inq) {
            if (ch == '"' && i + 1 < n && rec[i + 1] == '"') {
                if (f == idx) mdp_buf_putc(out, '"');
                i++;
            } else if (ch == '"') {
                inq = 0;
            } else if (f == idx) {
                mdp_buf_putc(out, ch);
            }
        } else if (ch == '"') {
            inq = 1;
        } else if (ch == ',') {
            if (f++ == idx) return 0;
        } else if (ch == '\n' || ch == '\r') {
            break;
        } else if (f == idx) {
            mdp_buf_putc(out, ch);
        }
    }
    return f == idx ? 0 : -1;
}

/* Exports one table: rows past the committed watermark (all with full), ordered by the watermark
 * column, streamed from COPY into the landing folder; the last row's watermark value becomes the
 * pending watermark. One REPEATABLE READ snapshot. */
static int pull_table(struct mdp_pull *p, PGconn *c, const char *table, const char *col,
                      struct mdp_diag *d)
{
    char key[512], sql[1024], lk[512], date[11];
    struct mdp_buf wm, last, field;
    mdp_buf_init(&wm);
    mdp_buf_init(&last);
    mdp_buf_init(&field);
    struct mdp_diag nd = {0};
    struct mdp_store_writer *w = NULL;
    long long rows = 0;
    int col_idx = -1, rc;
    state_key(key, sizeof key, table, "watermark");
    int have_wm = !p->full && mdp_store_get(p->lake->store, key, &wm, &nd) == 0 && wm.len > 0;
    if ((rc = exec_ok(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", d))) goto out;
    /* COPY takes no parameters: the watermark is a literal, escaped by libpq */
    char *lit = have_wm ? PQescapeLiteral(c, wm.data, wm.len) : NULL;
    if (have_wm && !lit) {
        rc = pq_fail(d, c, NULL, "escaping the watermark");
        goto rollback;
    }
    if (have_wm)
        snprintf(sql, sizeof sql,
                 "COPY (SELECT * FROM public.%s WHERE %s > %s::timestamptz ORDER BY %s) TO STDOUT "
                 "WITH (FORMAT csv, HEADER)",
                 table, col, lit, col);
    else
        snprintf(sql, sizeof sql,
                 "COPY (SELECT * FROM public.%s ORDER BY %s) TO STDOUT WITH (FORMAT csv, HEADER)",
                 table, col);
    PQfreemem(lit);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        rc = pq_fail(d, c, r, table);
        PQclear(r);
        goto rollback;
    }
    PQclear(r);
    mdp_date_format(p->day, date, sizeof date);
    snprintf(lk, sizeof lk, "supabase/%s/dt=%s/%s.csv", table, date, table);
    /* a second pull the same day keeps the first delivery: name it by its time */
    if (mdp_store_head(p->landing, lk, NULL, NULL) == 0)
        snprintf(lk, sizeof lk, "supabase/%s/dt=%s/%s.%lld.csv", table, date, table,
                 (long long)mdp_time_now_ms());
    char *buf, *header = NULL;
    int n, header_len = 0;
    /* one CopyData message per row; the first is the header */
    while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
        if (!header) {
            header = buf;
            header_len = n;
            for (int i = 0; col_idx < 0 && csv_field(buf, (size_t)n, i, &field) == 0; i++)
                if (strcmp(field.data ? field.data : "", col) == 0) col_idx = i;
            continue;
        }
        if (!rc && !w) { /* the first row: now there is something to deliver */
            rc = mdp_store_writer_open(p->landing, lk, &w, d);
            if (!rc) rc = w->write(w, header, (size_t)header_len, d);
        }
        if (!rc) rc = w->write(w, buf, (size_t)n, d);
        if (!rc) {
            mdp_buf_reset(&last);
            if ((rc = mdp_buf_append(&last, buf, (size_t)n)))
                mdp_diag_set(d, rc, "supabase: out of memory reading a row of %s", table);
        }
        rows++;
        PQfreemem(buf);
    }
    if (header) PQfreemem(header);
    r = PQgetResult(c);
    if (!rc && (n != -1 || PQresultStatus(r) != PGRES_COMMAND_OK)) rc = pq_fail(d, c, r, table);
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    if (!rc && rows > 0 && col_idx < 0)
        rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                          "supabase: table %s has no column %s (sources.supabase.tables)", table,
                          col);
    if (!rc && w) {
        rc = w->commit(w, d);
        w = NULL;
        /* rows are ordered by the watermark column: the last one holds the new watermark */
        if (!rc && csv_field(last.data, last.len, col_idx, &field) == 0 && field.len) {
            /* a cut-off watermark would skip rows on the next pull */
            if ((rc = mdp_buf_error(&field))) {
                rc = mdp_diag_set(d, rc, "supabase: out of memory reading the watermark of %s",
                                  table);
            } else {
                state_key(key, sizeof key, table, "watermark.pending");
                rc = mdp_store_put(p->lake->store, key, field.data, field.len, 0, d);
            }
        }
        if (!rc) {
            p->rows += rows;
            p->files++;
        }
    }
rollback:
    if (w) w->abort(w);
    exec_ok(c, "ROLLBACK", &nd);
out:
    mdp_buf_cleanup(&wm);
    mdp_buf_cleanup(&last);
    mdp_buf_cleanup(&field);
    return rc;
}

int mdp__supabase_pull(struct mdp_pull *p, struct mdp_diag *d);
int mdp__supabase_commit(struct mdp_pull *p, struct mdp_diag *d);

int mdp__supabase_pull(struct mdp_pull *p, struct mdp_diag *d)
{
    const char *var = p->cfg->supabase_dsn_env, *dsn = getenv(var);
    if (!dsn || !*dsn)
        return mdp_diag_set(
            d, MDP_ERR_CONFIG,
            "supabase: the connection string is read from the environment variable %s "
            "(sources.supabase.dsn_env), which is not set",
            var);
    PGconn *c = mdp_net_pg_connect(dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        /* the message names host and port, never the password */
        int rc = pq_fail(d, c, NULL, "cannot connect");
        PQfinish(c);
        return rc;
    }
    int rc = exec_ok(c, "SET statement_timeout = '15min'; SET application_name = 'matbakh-dp'", d);
    for (int i = 0; !rc && i < p->cfg->supabase_tables.n; i++) {
        char table[128], col[128];
        split_table(p->cfg->supabase_tables.v[i], table, sizeof table, col, sizeof col);
        if (!ident_ok(table) || !ident_ok(col)) {
            rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                              "sources.supabase.tables: '%s' is not table[:column]",
                              p->cfg->supabase_tables.v[i]);
            break;
        }
        rc = pull_table(p, c, table, col, d);
    }
    PQfinish(c);
    snprintf(p->note, sizeof p->note, "pulled %lld rows in %lld exports%s", (long long)p->rows,
             (long long)p->files, p->full ? " (full)" : "");
    return rc;
}

int mdp__supabase_commit(struct mdp_pull *p, struct mdp_diag *d)
{
    int rc = 0;
    for (int i = 0; !rc && i < p->cfg->supabase_tables.n; i++) {
        char table[128], col[128], pk[512], ck[512];
        split_table(p->cfg->supabase_tables.v[i], table, sizeof table, col, sizeof col);
        state_key(pk, sizeof pk, table, "watermark.pending");
        state_key(ck, sizeof ck, table, "watermark");
        struct mdp_buf b;
        mdp_buf_init(&b);
        struct mdp_diag nd = {0};
        if (mdp_store_get(p->lake->store, pk, &b, &nd) == 0) {
            rc = mdp_store_put(p->lake->store, ck, b.data, b.len, 0, d);
            if (!rc) mdp_store_delete(p->lake->store, pk, &nd);
        }
        mdp_buf_cleanup(&b);
    }
    return rc;
}
