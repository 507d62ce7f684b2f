/* The CDC consumer behind `mdp cdc setup|run|lag` (docs/cdc.md). `run` holds a libpq replication
 * connection (replication=database) in COPY BOTH mode on a pgoutput slot and writes committed
 * transactions to raw/supabase_cdc/<table>/dt=<commit day>/<sha256-32>.ndjson, one object per
 * table and commit group, one line per change. A group is written when the stream goes idle, when
 * its oldest change waited flush_ms or when it reached group_bytes, never inside a transaction.
 *
 * Exactly once across kill -9: a group is written as (1) a pending record naming the group's end
 * LSN and object keys, (2) the objects, (3) the checkpoint (the end LSN of its last transaction),
 * (4) the pending record removed; only then is the LSN confirmed to the server. At start a pending
 * record whose objects all exist is completed (the checkpoint moves), one whose objects are
 * partly there is undone (those objects were never confirmed). The server replays from the
 * slot's confirmed position, which is never past the checkpoint; a replayed transaction, one whose
 * commit LSN is before the checkpoint, is recognised and dropped. Objects are named by their
 * content, and every line carries its LSNs, so identical replays are identical objects. */
#include "mdp/alloc.h"
#include "mdp/cdc.h"
#include "mdp/hash.h"
#include "mdp/lake.h"
#include "mdp/log.h"
#include "mdp/store.h"
#include "mdp/time.h"
#include "mdp/net.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG_EPOCH_US 946684800000000LL /* 2000-01-01 in microseconds since 1970 */

static int name_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 63) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    return 1;
}

static int pq_fail(struct mdp_diag *d, PGconn *c, PGresult *r, const char *what)
{
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int rc = mdp_diag_set(d, MDP_ERR_IO, "cdc: %s: %s%s%s", what, state ? "SQLSTATE " : "",
                          state ? state : "", state ? " " : "");
    size_t n = strlen(d->msg);
    snprintf(d->msg + n, sizeof d->msg - n, "%s", msg && *msg ? msg : "failed");
    n = strlen(d->msg);
    while (n && (d->msg[n - 1] == '\n' || d->msg[n - 1] == ' '))
        d->msg[--n] = '\0';
    return rc;
}

/* Runs sql with up to two text parameters; *out (may be NULL) receives the result of a query. */
static int q(PGconn *c, const char *sql, const char *p1, const char *p2, PGresult **out,
             struct mdp_diag *d)
{
    const char *params[2] = {p1, p2};
    int np = p2 ? 2 : p1 ? 1 : 0;
    PGresult *r = np ? PQexecParams(c, sql, np, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
    int st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int rc = pq_fail(d, c, r, sql);
        PQclear(r);
        return rc;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

static PGconn *connect_db(const char *dsn, int replication, struct mdp_diag *d)
{
    const char *keys[] = {"replication", "application_name", NULL};
    const char *vals[] = {"database", "matbakh-dp-cdc", NULL};
    /* after the DSN: these two are ours whatever it says; the TLS minimum is its to change */
    PGconn *c = replication ? mdp_net_pg_connect_params(dsn, keys, vals)
                            : mdp_net_pg_connect_params(dsn, keys + 1, vals + 1);
    if (PQstatus(c) != CONNECTION_OK) {
        /* libpq's message names host and port, never the password */
        pq_fail(d, c, NULL, "cannot connect");
        PQfinish(c);
        return NULL;
    }
    return c;
}

static void state_key(char *out, size_t n, const char *slot, const char *what)
{
    snprintf(out, n, "_meta/state/supabase_cdc/%s/%s", slot, what);
}

static void iso_us(int64_t unix_us, char *out, size_t n)
{
    time_t s = (time_t)(unix_us / 1000000);
    int us = (int)(unix_us % 1000000);
    if (us < 0) {
        us += 1000000;
        s--;
    }
    struct tm tm;
    gmtime_r(&s, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%06dZ", b, us);
}

/* ---- setup ---- */

int mdp_cdc_setup(struct mdp_lake *lake, const struct mdp_cdc_opts *o, struct mdp_buf *report,
                  struct mdp_diag *d)
{
    if (!name_ok(o->slot) || !name_ok(o->publication))
        return mdp_diag_set(d, MDP_ERR_INVALID,
                            "cdc: slot '%s' and publication '%s' must be [a-z0-9_]+ (at most 63)",
                            o->slot, o->publication);
    for (int i = 0; o->tables && o->tables[i]; i++)
        if (!name_ok(o->tables[i]))
            return mdp_diag_set(d, MDP_ERR_INVALID, "cdc: table '%s' is not [a-z0-9_]+",
                                o->tables[i]);
    PGconn *c = connect_db(o->dsn, 0, d);
    if (!c) return MDP_ERR_IO;
    PGresult *r = NULL;
    struct mdp_buf sql;
    mdp_buf_init(&sql);
    int rc = q(c, "SHOW wal_level", NULL, NULL, &r, d);
    if (!rc && strcmp(PQgetvalue(r, 0, 0), "logical") != 0)
        rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                          "cdc: the server's wal_level is '%s'; logical replication needs "
                          "wal_level = logical (postgresql.conf, then a restart)",
                          PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    /* every table must exist before it can be published */
    for (int i = 0; !rc && o->tables && o->tables[i]; i++) {
        mdp_buf_reset(&sql);
        mdp_buf_printf(&sql, "public.%s", o->tables[i]);
        if ((rc = mdp_buf_error(&sql))) break;
        rc = q(c,
               "SELECT c.relreplident, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid "
               "AND i.indisprimary) FROM pg_class c WHERE c.oid = to_regclass($1)",
               sql.data, NULL, &r, d);
        if (rc) break;
        if (PQntuples(r) != 1) {
            rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND, "cdc: table public.%s does not exist",
                              o->tables[i]);
        } else {
            const char *ident = PQgetvalue(r, 0, 0), *pk = PQgetvalue(r, 0, 1);
            if ((ident[0] == 'd' && pk[0] != 't') || ident[0] == 'n')
                mdp_buf_printf(report,
                               "warning: public.%s has no primary key and replica identity %s: "
                               "while it is in the publication PostgreSQL refuses UPDATE and "
                               "DELETE on it, and no delete of it can be captured; add a primary "
                               "key or ALTER TABLE public.%s REPLICA IDENTITY FULL\n",
                               o->tables[i], ident[0] == 'n' ? "NOTHING" : "DEFAULT", o->tables[i]);
        }
        PQclear(r);
        r = NULL;
    }
    /* the publication: created with the tables, or completed */
    if (!rc)
        rc = q(c, "SELECT 1 FROM pg_publication WHERE pubname = $1", o->publication, NULL, &r, d);
    int pub_exists = !rc && PQntuples(r) == 1;
    PQclear(r);
    r = NULL;
    if (!rc && !pub_exists) {
        mdp_buf_reset(&sql);
        mdp_buf_printf(&sql, "CREATE PUBLICATION %s", o->publication);
        for (int i = 0; o->tables && o->tables[i]; i++)
            mdp_buf_printf(&sql, "%s public.%s", i ? "," : " FOR TABLE", o->tables[i]);
        if (!(rc = mdp_buf_error(&sql))) rc = q(c, sql.data, NULL, NULL, NULL, d);
        if (!rc) mdp_buf_printf(report, "created publication %s\n", o->publication);
    } else if (!rc) {
        for (int i = 0; !rc && o->tables && o->tables[i]; i++) {
            rc = q(c,
                   "SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = "
                   "'public' AND tablename = $2",
                   o->publication, o->tables[i], &r, d);
            int has = !rc && PQntuples(r) == 1;
            PQclear(r);
            r = NULL;
            if (rc || has) continue;
            mdp_buf_reset(&sql);
            mdp_buf_printf(&sql, "ALTER PUBLICATION %s ADD TABLE public.%s", o->publication,
                           o->tables[i]);
            if (!(rc = mdp_buf_error(&sql))) rc = q(c, sql.data, NULL, NULL, NULL, d);
            if (!rc)
                mdp_buf_printf(report, "added public.%s to publication %s\n", o->tables[i],
                               o->publication);
        }
        if (!rc) mdp_buf_printf(report, "publication %s exists\n", o->publication);
    }
    /* the slot */
    if (!rc)
        rc = q(c,
               "SELECT plugin, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name "
               "= $1",
               o->slot, NULL, &r, d);
    if (!rc && PQntuples(r) == 1) {
        if (strcmp(PQgetvalue(r, 0, 0), "pgoutput") != 0)
            rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                              "cdc: slot %s exists with plugin '%s', not pgoutput: drop it or "
                              "choose another (cdc.slot)",
                              o->slot, PQgetvalue(r, 0, 0));
        else
            mdp_buf_printf(report, "slot %s exists (confirmed up to %s)\n", o->slot,
                           PQgetvalue(r, 0, 1));
        PQclear(r);
        r = NULL;
    } else if (!rc) {
        PQclear(r);
        r = NULL;
        rc = q(c, "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')",
               o->slot, NULL, &r, d);
        if (!rc) {
            char key[256], now[40];
            state_key(key, sizeof key, o->slot, "slot.json");
            mdp_time_format_ms(mdp_time_now_ms(), now, sizeof now);
            mdp_buf_reset(&sql);
            mdp_buf_puts(&sql, "{\"slot\":");
            mdp_buf_json_str(&sql, o->slot);
            mdp_buf_puts(&sql, ",\"publication\":");
            mdp_buf_json_str(&sql, o->publication);
            mdp_buf_printf(&sql, ",\"start_lsn\":\"%s\",\"created_at\":\"%s\"}\n",
                           PQgetvalue(r, 0, 0), now);
            if (!(rc = mdp_buf_error(&sql)))
                rc = mdp_store_put(lake->store, key, sql.data, sql.len, 0, d);
            if (!rc)
                mdp_buf_printf(report, "created slot %s at LSN %s\n", o->slot, PQgetvalue(r, 0, 0));
        }
        PQclear(r);
        r = NULL;
    }
    if (rc == MDP_ERR_NOMEM && !d->msg[0]) mdp_diag_set(d, rc, "cdc: out of memory");
    mdp_buf_cleanup(&sql);
    PQfinish(c);
    return rc;
}

/* ---- lag ---- */

/* The checkpoint's confirmation time, or -1. */
static int64_t confirmed_ms_of(struct mdp_lake *lake, const char *slot)
{
    char key[256];
    state_key(key, sizeof key, slot, "checkpoint");
    struct mdp_buf b;
    mdp_buf_init(&b);
    struct mdp_diag nd = {0};
    int64_t ms = -1;
    if (mdp_store_get(lake->store, key, &b, &nd) == 0 && b.data) {
        json_object *o = json_tokener_parse(b.data), *v;
        if (o && json_object_object_get_ex(o, "confirmed_ms", &v)) ms = json_object_get_int64(v);
        json_object_put(o);
    }
    mdp_buf_cleanup(&b);
    return ms;
}

int mdp_cdc_lag_measure(struct mdp_lake *lake, const char *dsn, const char *slot, int record,
                        struct mdp_cdc_lag *out, struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    PGconn *c = connect_db(dsn, 0, d);
    if (!c) return MDP_ERR_IO;
    PGresult *r = NULL;
    int rc =
        q(c,
          "SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::"
          "bigint, coalesce(confirmed_flush_lsn::text, ''), pg_current_wal_lsn()::text, active "
          "FROM pg_replication_slots WHERE slot_name = $1",
          slot, NULL, &r, d);
    if (!rc && PQntuples(r) != 1)
        rc =
            mdp_diag_set(d, MDP_ERR_NOT_FOUND, "cdc: no replication slot %s (mdp cdc setup)", slot);
    int64_t now = mdp_time_now_ms();
    if (!rc) {
        out->lag_bytes = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        if (out->lag_bytes < 0) out->lag_bytes = 0;
        snprintf(out->confirmed_lsn, sizeof out->confirmed_lsn, "%s", PQgetvalue(r, 0, 1));
        snprintf(out->current_lsn, sizeof out->current_lsn, "%s", PQgetvalue(r, 0, 2));
        out->active = PQgetvalue(r, 0, 3)[0] == 't';
        int64_t cms = confirmed_ms_of(lake, slot);
        out->lag_s = out->lag_bytes > 0 && cms > 0 && now > cms ? (double)(now - cms) / 1000.0 : 0;
    }
    PQclear(r);
    PQfinish(c);
    if (rc || !record) return rc;
    struct mdp_buf b, k;
    mdp_buf_init(&b);
    mdp_buf_init(&k);
    char iso[40], date[11];
    mdp_time_format_ms(now, iso, sizeof iso);
    mdp_date_format(mdp_days_from_ms(now), date, sizeof date);
    mdp_buf_printf(&b, "{\"time\":\"%s\",\"slot\":", iso);
    mdp_buf_json_str(&b, slot);
    mdp_buf_printf(&b,
                   ",\"lag_bytes\":%" PRId64
                   ",\"lag_s\":%.3f,\"active\":%s,\"confirmed_lsn\":\"%s\""
                   ",\"current_lsn\":\"%s\"}\n",
                   out->lag_bytes, out->lag_s, out->active ? "true" : "false", out->confirmed_lsn,
                   out->current_lsn);
    mdp_buf_printf(&k, "_meta/metrics/cdc/dt=%s/%" PRId64 "-%s.json", date, now, slot);
    if ((rc = mdp_buf_error(&b)) || (rc = mdp_buf_error(&k)))
        mdp_diag_set(d, rc, "cdc: out of memory writing the lag snapshot");
    else
        rc = mdp_store_put(lake->store, k.data, b.data, b.len, 0, d);
    mdp_buf_cleanup(&b);
    mdp_buf_cleanup(&k);
    return rc;
}

/* ---- run ---- */

struct part {
    char table[160];
    int64_t day;
    struct mdp_buf b;
    size_t mark; /* length at the open transaction's Begin */
};

struct spool {
    uint32_t xid;       /* the streamed top-level transaction */
    struct mdp_buf mem; /* its records while small */
    FILE *f;            /* then all of them, in an unlinked file */
    int64_t bytes;      /* what it holds */
    uint32_t *aborted;  /* subtransactions a Stream Abort dropped */
    int naborted, capaborted;
};

struct cdc {
    struct mdp_lake *lake;
    const struct mdp_cdc_opts *o;
    struct mdp_cdc_stats *st;
    PGconn *c;
    struct mdp_pgo *dec;
    uint64_t ckpt_lsn;      /* end LSN of the last transaction in the lake */
    uint64_t confirmed_lsn; /* what the server was told (>= ckpt_lsn) */
    uint64_t received_lsn;
    int64_t confirmed_ms, ckpt_written_ms;
    struct part *parts;
    int nparts, capparts;
    uint64_t group_lsn; /* end LSN of the group's last committed transaction */
    int64_t group_start_ms, group_txns;
    size_t group_bytes;
    int in_txn, skip_txn;
    uint64_t txn_lsn;
    int64_t txn_time_us, txn_seq;
    uint32_t xid;
    uint64_t *warned; /* relations warned about in this session (bit 32: about a delete) */
    int nwarned, capwarned;
    struct mdp_buf line, tail;
    char ckpt_key[256], pending_key[256];
    struct spool *spools; /* streamed transactions not yet committed or aborted */
    int nspools, capspools;
    int in_stream;        /* between Stream Start and Stream Stop */
    struct spool *stream; /* the one being streamed */
    int holding;          /* a curate child runs: write no group */
};

static struct part *part_for(struct cdc *x, const char *table, int64_t day)
{
    for (int i = 0; i < x->nparts; i++)
        if (x->parts[i].day == day && strcmp(x->parts[i].table, table) == 0) return &x->parts[i];
    if (x->nparts == x->capparts) {
        int cap = x->capparts ? x->capparts * 2 : 16;
        struct part *nv = mdp_realloc(x->parts, (size_t)cap * sizeof *nv);
        if (!nv) return NULL;
        x->parts = nv;
        x->capparts = cap;
    }
    struct part *p = &x->parts[x->nparts++];
    snprintf(p->table, sizeof p->table, "%s", table);
    p->day = day;
    mdp_buf_init(&p->b);
    p->mark = 0;
    return p;
}

static void group_clear(struct cdc *x)
{
    for (int i = 0; i < x->nparts; i++)
        mdp_buf_cleanup(&x->parts[i].b);
    x->nparts = 0;
    x->group_bytes = 0;
    x->group_txns = 0;
    x->group_start_ms = 0;
}

/* Drops what the open transaction added (a connection lost before its Commit). */
static void txn_rollback(struct cdc *x)
{
    int w = 0;
    for (int i = 0; i < x->nparts; i++) {
        struct part *p = &x->parts[i];
        mdp_buf_truncate(&p->b, p->mark);
        if (p->b.len == 0)
            mdp_buf_cleanup(&p->b);
        else
            x->parts[w++] = *p;
    }
    x->nparts = w;
    x->in_txn = 0;
}

static int write_checkpoint(struct cdc *x, struct mdp_diag *d)
{
    char l1[18], l2[18], iso[40];
    mdp_lsn_format(x->ckpt_lsn, l1);
    mdp_lsn_format(x->confirmed_lsn, l2);
    int64_t now = mdp_time_now_ms();
    mdp_time_format_ms(now, iso, sizeof iso);
    char buf[512];
    int n =
        snprintf(buf, sizeof buf,
                 "{\"slot\":\"%s\",\"lsn\":\"%s\",\"confirmed_lsn\":\"%s\",\"confirmed_at\":\"%s\","
                 "\"confirmed_ms\":%" PRId64 "}\n",
                 x->o->slot, l1, l2, iso, x->confirmed_ms ? x->confirmed_ms : now);
    x->ckpt_written_ms = now;
    return mdp_store_put(x->lake->store, x->ckpt_key, buf, (size_t)n, 0, d);
}

/* Reads the checkpoint and finishes or undoes a group a crash interrupted. */
static int recover(struct cdc *x, struct mdp_diag *d)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    struct mdp_diag nd = {0};
    int rc = mdp_store_get(x->lake->store, x->ckpt_key, &b, &nd);
    if (rc == 0) {
        json_object *o = json_tokener_parse(b.data ? b.data : ""), *v;
        uint64_t l;
        if (o && json_object_object_get_ex(o, "lsn", &v) &&
            mdp_lsn_parse(json_object_get_string(v), &l) == 0)
            x->ckpt_lsn = l;
        else
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "cdc: %s is not a checkpoint", x->ckpt_key);
        if (!rc && json_object_object_get_ex(o, "confirmed_lsn", &v) &&
            mdp_lsn_parse(json_object_get_string(v), &l) == 0)
            x->confirmed_lsn = l;
        if (!rc && json_object_object_get_ex(o, "confirmed_ms", &v))
            x->confirmed_ms = json_object_get_int64(v);
        json_object_put(o);
    } else if (rc == MDP_ERR_NOT_FOUND) {
        rc = 0;
    } else {
        *d = nd;
    }
    if (x->confirmed_lsn < x->ckpt_lsn) x->confirmed_lsn = x->ckpt_lsn;
    mdp_buf_reset(&b);
    if (!rc && mdp_store_get(x->lake->store, x->pending_key, &b, &nd) == 0) {
        json_object *o = json_tokener_parse(b.data ? b.data : ""), *v, *keys;
        uint64_t l = 0;
        if (!o || !json_object_object_get_ex(o, "lsn", &v) ||
            mdp_lsn_parse(json_object_get_string(v), &l) ||
            !json_object_object_get_ex(o, "keys", &keys) ||
            !json_object_is_type(keys, json_type_array)) {
            rc = mdp_diag_set(d, MDP_ERR_PARSE, "cdc: %s is not a pending group", x->pending_key);
        } else {
            size_t n = json_object_array_length(keys), have = 0;
            for (size_t i = 0; i < n; i++)
                if (mdp_store_head(x->lake->store,
                                   json_object_get_string(json_object_array_get_idx(keys, i)), NULL,
                                   &nd) == 0)
                    have++;
            if (have == n) { /* all there: the group is whole, only the checkpoint was missing */
                x->ckpt_lsn = l;
                if (x->confirmed_lsn < l) x->confirmed_lsn = l;
                rc = write_checkpoint(x, d);
                mdp_log(MDP_LOG_INFO, "cdc: completed the group a crash interrupted",
                        LOG_STR("lsn", json_object_get_string(v)), LOG_INT("objects", (int64_t)n),
                        MDP_LF_END);
            } else { /* partly there: never confirmed, so the server sends it again */
                for (size_t i = 0; i < n; i++)
                    mdp_store_delete(x->lake->store,
                                     json_object_get_string(json_object_array_get_idx(keys, i)),
                                     &nd);
                mdp_log(MDP_LOG_INFO, "cdc: undid the group a crash interrupted",
                        LOG_STR("lsn", json_object_get_string(v)),
                        LOG_INT("written", (int64_t)have), LOG_INT("objects", (int64_t)n),
                        MDP_LF_END);
            }
            if (!rc) rc = mdp_store_delete(x->lake->store, x->pending_key, d);
        }
        json_object_put(o);
    }
    mdp_buf_cleanup(&b);
    return rc;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* A standby status update: written = received, flushed = applied = confirmed. */
static int send_status(struct cdc *x, int reply, struct mdp_diag *d)
{
    unsigned char m[34];
    m[0] = 'r';
    uint64_t w = x->received_lsn > x->confirmed_lsn ? x->received_lsn : x->confirmed_lsn;
    put64(m + 1, w);
    put64(m + 9, x->confirmed_lsn);
    put64(m + 17, x->confirmed_lsn);
    int64_t now_us = mdp_time_now_ms() * 1000 - PG_EPOCH_US;
    put64(m + 25, (uint64_t)now_us);
    m[33] = reply ? 1 : 0;
    if (PQputCopyData(x->c, (const char *)m, sizeof m) != 1 || PQflush(x->c) != 0)
        return pq_fail(d, x->c, NULL, "sending a standby status update");
    return 0;
}

/* Writes the group (pending record, objects, checkpoint), then confirms it. */
static int write_group(struct cdc *x, struct mdp_diag *d)
{
    if (x->group_lsn <= x->ckpt_lsn && x->nparts == 0) return 0;
    int rc = 0;
    char lsn[18];
    mdp_lsn_format(x->group_lsn, lsn);
    struct mdp_buf pend, key;
    mdp_buf_init(&pend);
    mdp_buf_init(&key);
    if (x->nparts) {
        mdp_buf_printf(&pend, "{\"lsn\":\"%s\",\"keys\":[", lsn);
        for (int i = 0; !rc && i < x->nparts; i++) {
            struct part *p = &x->parts[i];
            if ((rc = mdp_buf_error(&p->b))) break;
            rc = mdp_lake_raw_key("supabase_cdc", p->table, p->day, p->b.data, p->b.len, "ndjson",
                                  &key, d);
            if (!rc) {
                if (i) mdp_buf_putc(&pend, ',');
                mdp_buf_json_strn(&pend, key.data, key.len);
            }
        }
        mdp_buf_puts(&pend, "]}\n");
        if (!rc && !(rc = mdp_buf_error(&pend)))
            rc = mdp_store_put(x->lake->store, x->pending_key, pend.data, pend.len, 0, d);
        for (int i = 0; !rc && i < x->nparts; i++) {
            struct part *p = &x->parts[i];
            rc = mdp_lake_raw_put(x->lake, "supabase_cdc", p->table, p->day, p->b.data, p->b.len,
                                  "ndjson", NULL, NULL, d);
            if (!rc) {
                x->st->objects++;
                x->st->bytes += (int64_t)p->b.len;
            }
        }
    }
    if (rc == MDP_ERR_NOMEM && !d->msg[0])
        mdp_diag_set(d, rc, "cdc: out of memory writing a group");
    uint64_t prev = x->ckpt_lsn;
    if (!rc) {
        x->ckpt_lsn = x->group_lsn > x->ckpt_lsn ? x->group_lsn : x->ckpt_lsn;
        if (x->confirmed_lsn < x->ckpt_lsn) x->confirmed_lsn = x->ckpt_lsn;
        x->confirmed_ms = mdp_time_now_ms();
        rc = write_checkpoint(x, d);
        if (rc) x->ckpt_lsn = prev;
    }
    if (!rc && x->nparts) rc = mdp_store_delete(x->lake->store, x->pending_key, d);
    if (!rc) {
        x->st->confirmed_lsn = x->confirmed_lsn;
        group_clear(x);
        if (x->c) rc = send_status(x, 0, d);
    }
    mdp_buf_cleanup(&pend);
    mdp_buf_cleanup(&key);
    return rc;
}

static void json_value(struct mdp_buf *b, const struct mdp_pgo_value *v)
{
    if (v->kind == 'n') {
        mdp_buf_puts(b, "null");
    } else if (v->kind == 't') {
        mdp_buf_json_strn(b, v->data, v->len);
    } else { /* binary (never requested): PostgreSQL's bytea hex form */
        mdp_buf_puts(b, "\"\\\\x");
        char h[3];
        for (uint32_t i = 0; i < v->len; i++) {
            snprintf(h, sizeof h, "%02x", (unsigned char)v->data[i]);
            mdp_buf_puts(b, h);
        }
        mdp_buf_putc(b, '"');
    }
}

/* The value of column i of t, or of old (the whole old row, REPLICA IDENTITY FULL) when t has an
 * unchanged TOASTed value there. */
static const struct mdp_pgo_value *value_at(const struct mdp_pgo_tuple *t,
                                            const struct mdp_pgo_tuple *old, int i)
{
    if (t->v[i].kind == 'u' && old && i < old->ncols && old->v[i].kind != 'u') return &old->v[i];
    return &t->v[i];
}

/* {"col": value, ...} of a tuple; keys_only: the identity columns (all when there are none);
 * old (may be NULL) fills unchanged TOASTed values */
static void json_tuple(struct mdp_buf *b, const struct mdp_pgo_rel *rel,
                       const struct mdp_pgo_tuple *t, int keys_only,
                       const struct mdp_pgo_tuple *old)
{
    int any_key = 0;
    for (int i = 0; i < rel->ncols; i++)
        any_key |= rel->cols[i].key;
    mdp_buf_putc(b, '{');
    int first = 1;
    for (int i = 0; i < t->ncols && i < rel->ncols; i++) {
        const struct mdp_pgo_value *v = value_at(t, old, i);
        if (v->kind == 'u') continue;
        if (keys_only && any_key && !rel->cols[i].key) continue;
        if (!first) mdp_buf_putc(b, ',');
        first = 0;
        mdp_buf_json_str(b, rel->cols[i].name);
        mdp_buf_putc(b, ':');
        json_value(b, v);
    }
    mdp_buf_putc(b, '}');
}

/* The dataset (folder) of a relation: its name in schema public, else schema__name. */
static int dataset_of(const struct mdp_pgo_rel *rel, char *out, size_t n, uint64_t lsn,
                      struct mdp_diag *d)
{
    if (strcmp(rel->nspname, "public") == 0)
        snprintf(out, n, "%s", rel->relname);
    else
        snprintf(out, n, "%s__%s", rel->nspname, rel->relname);
    if (!name_ok(out)) {
        char l[18];
        mdp_lsn_format(lsn, l);
        return mdp_diag_set(d, MDP_ERR_INVALID,
                            "cdc: relation %s.%s (LSN %s) cannot name a raw folder: names of "
                            "published tables must be [a-z0-9_]+",
                            rel->nspname, rel->relname, l);
    }
    return 0;
}

static int warned(struct cdc *x, uint64_t oid)
{
    for (int i = 0; i < x->nwarned; i++)
        if (x->warned[i] == oid) return 1;
    if (x->nwarned == x->capwarned) {
        int cap = x->capwarned ? x->capwarned * 2 : 8;
        uint64_t *nv = mdp_realloc(x->warned, (size_t)cap * sizeof *nv);
        if (!nv) return 0;
        x->warned = nv;
        x->capwarned = cap;
    }
    x->warned[x->nwarned++] = oid;
    return 0;
}

static int has_key(const struct mdp_pgo_rel *rel)
{
    for (int i = 0; i < rel->ncols; i++)
        if (rel->cols[i].key) return 1;
    return 0;
}

/* A Relation message: its columns against the last ones seen for the table (the export path's
 * _meta/state/supabase/<table>/columns); a difference is schema drift, recorded like the
 * export's. */
static int on_relation(struct cdc *x, const struct mdp_pgo_rel *rel, uint64_t lsn,
                       struct mdp_diag *d)
{
    char ds[160], key[300], l[18];
    int rc = dataset_of(rel, ds, sizeof ds, lsn, d);
    if (rc) return rc;
    mdp_lsn_format(lsn, l);
    if (!has_key(rel) && rel->replident != 'f' && !warned(x, rel->oid)) {
        x->st->warnings++;
        mdp_log(MDP_LOG_WARN,
                "cdc: table has no primary key (replica identity default or nothing): its "
                "deletes and updates cannot be captured, and PostgreSQL refuses them while it is "
                "published; add a primary key or set REPLICA IDENTITY FULL",
                LOG_STR("table", ds), LOG_STR("lsn", l), MDP_LF_END);
    }
    struct mdp_buf cols, prev, rec, rk;
    mdp_buf_init(&cols);
    mdp_buf_init(&prev);
    mdp_buf_init(&rec);
    mdp_buf_init(&rk);
    for (int i = 0; i < rel->ncols; i++) {
        if (i) mdp_buf_putc(&cols, ',');
        mdp_buf_puts(&cols, rel->cols[i].name);
    }
    snprintf(key, sizeof key, "_meta/state/supabase/%s/columns", ds);
    struct mdp_diag nd = {0};
    if ((rc = mdp_buf_error(&cols))) goto out;
    rc = mdp_store_get(x->lake->store, key, &prev, &nd);
    if (rc == MDP_ERR_NOT_FOUND) {
        rc = mdp_store_put(x->lake->store, key, cols.data, cols.len, 0, d);
        goto out;
    }
    if (rc) {
        *d = nd;
        goto out;
    }
    if (prev.len == cols.len && memcmp(prev.data, cols.data, cols.len) == 0) goto out;
    mdp_buf_puts(&rec, "{\"table\":");
    mdp_buf_json_str(&rec, ds);
    mdp_buf_printf(&rec, ",\"delivery\":\"cdc:%s\",\"before\":", l);
    mdp_buf_json_strn(&rec, prev.data, prev.len);
    mdp_buf_puts(&rec, ",\"after\":");
    mdp_buf_json_strn(&rec, cols.data, cols.len);
    mdp_buf_puts(&rec, "}\n");
    char hex[65];
    if ((rc = mdp_buf_error(&rec))) goto out;
    mdp_sha256_hex(rec.data, rec.len, hex);
    mdp_buf_printf(&rk, "_meta/state/supabase/%s/drift/%.32s.json", ds, hex);
    if ((rc = mdp_buf_error(&rk))) goto out;
    rc = mdp_store_put(x->lake->store, rk.data, rec.data, rec.len, 0, d);
    if (!rc) rc = mdp_store_put(x->lake->store, key, cols.data, cols.len, 0, d);
    if (!rc) {
        x->st->drift++;
        mdp_log(MDP_LOG_WARN, "cdc: schema drift", LOG_STR("table", ds), LOG_STR("lsn", l),
                LOG_INT("columns", rel->ncols), MDP_LF_END);
    }
out:
    if (rc == MDP_ERR_NOMEM && !d->msg[0]) mdp_diag_set(d, rc, "cdc: out of memory (drift)");
    mdp_buf_cleanup(&cols);
    mdp_buf_cleanup(&prev);
    mdp_buf_cleanup(&rec);
    mdp_buf_cleanup(&rk);
    return rc;
}

/* The part of a change's line after its transaction's fields: "op":... to the end of the line
 * (the commit LSN and time of a streamed transaction are known only at its Stream Commit). */
static int render_change(struct cdc *x, const struct mdp_pgo_msg *m, const struct mdp_pgo_rel *rel,
                         uint64_t lsn, const char *ds, struct mdp_buf *b, struct mdp_diag *d)
{
    char l[18];
    const char *op = m->kind == 'I'   ? "insert"
                     : m->kind == 'U' ? "update"
                     : m->kind == 'D' ? "delete"
                                      : "truncate";
    mdp_lsn_format(lsn, l);
    mdp_buf_reset(b);
    mdp_buf_printf(b, "\"op\":\"%s\",\"schema\":", op);
    mdp_buf_json_str(b, rel->nspname);
    mdp_buf_puts(b, ",\"table\":");
    mdp_buf_json_str(b, rel->relname);
    mdp_buf_puts(b, ",\"key\":");
    if (m->kind == 'T')
        mdp_buf_puts(b, "null");
    else if (m->old_kind)
        json_tuple(b, rel, &m->old_tuple, 1, NULL);
    else if (has_key(rel))
        json_tuple(b, rel, &m->new_tuple, 1, NULL);
    else
        mdp_buf_puts(b, "null");
    if (m->old_kind == 'O') {
        mdp_buf_puts(b, ",\"old\":");
        json_tuple(b, rel, &m->old_tuple, 0, NULL);
    }
    mdp_buf_puts(b, ",\"row\":");
    const struct mdp_pgo_tuple *full_old = m->old_kind == 'O' ? &m->old_tuple : NULL;
    if (m->kind == 'I' || m->kind == 'U')
        json_tuple(b, rel, &m->new_tuple, 0, full_old);
    else
        mdp_buf_puts(b, "null");
    if (m->kind == 'T') mdp_buf_printf(b, ",\"truncate_options\":%u", (unsigned)m->flags);
    if (m->kind == 'U') { /* TOASTed values the update did not touch are not sent */
        int any = 0;
        for (int i = 0; i < m->new_tuple.ncols && i < rel->ncols; i++)
            if (value_at(&m->new_tuple, full_old, i)->kind == 'u') {
                mdp_buf_puts(b, any ? "," : ",\"unchanged_toast\":[");
                mdp_buf_json_str(b, rel->cols[i].name);
                any = 1;
            }
        if (any) mdp_buf_putc(b, ']');
    }
    mdp_buf_puts(b, "}\n");
    if (m->kind == 'D' && rel->replident == 'f' && !warned(x, rel->oid | 1ULL << 32)) {
        x->st->warnings++;
        mdp_log(MDP_LOG_WARN,
                "cdc: delete from a table without primary key: the row is identified by all its "
                "columns (REPLICA IDENTITY FULL; logged once per table and connection)",
                LOG_STR("table", ds), LOG_STR("lsn", l), MDP_LF_END);
    }
    int rc = mdp_buf_error(b);
    return rc ? mdp_diag_set(d, rc, "cdc: out of memory at LSN %s", l) : 0;
}

/* Adds a change's line (its tail rendered by render_change) to the open transaction's part of
 * its table. */
static int emit_change(struct cdc *x, const char *ds, uint64_t lsn, const char *tail,
                       size_t taillen, struct mdp_diag *d)
{
    char l[18], cl[18], t[40];
    mdp_lsn_format(lsn, l);
    mdp_lsn_format(x->txn_lsn, cl);
    iso_us(x->txn_time_us + PG_EPOCH_US, t, sizeof t);
    struct mdp_buf *b = &x->line;
    mdp_buf_reset(b);
    mdp_buf_printf(b,
                   "{\"lsn\":\"%s\",\"commit_lsn\":\"%s\",\"xid\":%" PRIu32
                   ",\"commit_time\":\"%s\",\"seq\":%" PRId64 ",",
                   l, cl, x->xid, t, x->txn_seq);
    mdp_buf_append(b, tail, taillen);
    int rc = mdp_buf_error(b);
    if (rc) return mdp_diag_set(d, rc, "cdc: out of memory at LSN %s", l);
    struct part *p = part_for(x, ds, mdp_days_from_ms((x->txn_time_us + PG_EPOCH_US) / 1000));
    if (!p) return mdp_diag_set(d, MDP_ERR_NOMEM, "cdc: out of memory at LSN %s", l);
    if (p->b.len == 0) p->mark = 0;
    if ((rc = mdp_buf_append(&p->b, b->data, b->len)))
        return mdp_diag_set(d, rc, "cdc: out of memory at LSN %s", l);
    x->group_bytes += b->len;
    x->txn_seq++;
    x->st->changes++;
    return 0;
}

/* ---- streamed transactions (protocol version 2) ----
 * The changes of a transaction the server streams before its commit are kept per top-level xid
 * as records (subtransaction xid, LSN, dataset, line tail), in memory up to SPOOL_MEM and then in
 * an unlinked file, and become lines only at the Stream Commit, which brings the commit LSN and
 * time; a Stream Abort drops the transaction, or only a subtransaction's records. Nothing of a
 * streamed transaction is confirmed before its commit is in the lake, and after a reconnect the
 * server streams it again from its start, so the spools are dropped with the connection. */
#define SPOOL_MEM ((size_t)4 << 20)

static struct spool *spool_find(struct cdc *x, uint32_t xid)
{
    for (int i = 0; i < x->nspools; i++)
        if (x->spools[i].xid == xid) return &x->spools[i];
    return NULL;
}

static void spool_drop(struct cdc *x, struct spool *sp)
{
    mdp_buf_cleanup(&sp->mem);
    if (sp->f) fclose(sp->f);
    free(sp->aborted);
    int i = (int)(sp - x->spools);
    x->spools[i] = x->spools[--x->nspools];
}

static void spools_clear(struct cdc *x)
{
    while (x->nspools)
        spool_drop(x, &x->spools[0]);
    x->in_stream = 0;
}

static int spool_add(struct cdc *x, struct spool *sp, uint32_t subxid, uint64_t lsn, const char *ds,
                     const struct mdp_buf *tail, struct mdp_diag *d)
{
    char l[18];
    mdp_lsn_format(lsn, l);
    unsigned char h[18];
    size_t dl = strlen(ds);
    for (int i = 0; i < 4; i++)
        h[i] = (unsigned char)(subxid >> (24 - 8 * i));
    put64(h + 4, lsn);
    h[12] = (unsigned char)(dl >> 8);
    h[13] = (unsigned char)dl;
    for (int i = 0; i < 4; i++)
        h[14 + i] = (unsigned char)(tail->len >> (24 - 8 * i));
    int64_t add = (int64_t)(sizeof h + dl + tail->len);
    int64_t max = x->o->spill_max_bytes > 0 ? x->o->spill_max_bytes : (int64_t)8 << 30;
    if (sp->bytes + add > max)
        return mdp_diag_set(d, MDP_ERR_NOSPACE,
                            "cdc: streamed transaction %" PRIu32 " exceeds the spill limit of "
                            "%" PRId64 " bytes at LSN %s (nothing of it is confirmed)",
                            sp->xid, max, l);
    sp->bytes += add;
    if (!sp->f && sp->mem.len + (size_t)add > SPOOL_MEM) { /* spill */
        const char *dir = x->o->spill_dir;
        if (!dir || !*dir) dir = getenv("TMPDIR");
        if (!dir || !*dir) dir = "/tmp";
        char path[4096];
        snprintf(path, sizeof path, "%s/mdp-cdc-spill-XXXXXX", dir);
        int fd = mkstemp(path);
        if (fd < 0 || !(sp->f = fdopen(fd, "w+b"))) {
            int e = errno;
            if (fd >= 0) close(fd);
            if (fd >= 0) unlink(path);
            return mdp_diag_set(d, MDP_ERR_IO,
                                "cdc: cannot spill streamed transaction %" PRIu32 " to %s: %s",
                                sp->xid, dir, strerror(e));
        }
        unlink(path); /* gone with the process, whatever happens */
        if (sp->mem.len && fwrite(sp->mem.data, 1, sp->mem.len, sp->f) != sp->mem.len)
            goto write_err;
        mdp_buf_cleanup(&sp->mem);
    }
    if (sp->f) {
        if (fwrite(h, 1, sizeof h, sp->f) != sizeof h || fwrite(ds, 1, dl, sp->f) != dl ||
            fwrite(tail->data, 1, tail->len, sp->f) != tail->len)
            goto write_err;
        return 0;
    }
    mdp_buf_append(&sp->mem, h, sizeof h);
    mdp_buf_append(&sp->mem, ds, dl);
    mdp_buf_append(&sp->mem, tail->data, tail->len);
    int rc = mdp_buf_error(&sp->mem);
    return rc ? mdp_diag_set(d, rc, "cdc: out of memory at LSN %s", l) : 0;
write_err:
    return mdp_diag_set(d, errno == ENOSPC ? MDP_ERR_NOSPACE : MDP_ERR_IO,
                        "cdc: cannot spill streamed transaction %" PRIu32 ": %s", sp->xid,
                        strerror(errno));
}

static int spool_aborted(const struct spool *sp, uint32_t subxid)
{
    for (int i = 0; i < sp->naborted; i++)
        if (sp->aborted[i] == subxid) return 1;
    return 0;
}

/* Turns a committed streamed transaction's records into lines of the open group. */
static int spool_commit(struct cdc *x, struct spool *sp, struct mdp_diag *d)
{
    struct mdp_buf *rec = &x->tail;
    if (sp->f && (fflush(sp->f) != 0 || fseek(sp->f, 0, SEEK_SET) != 0))
        return mdp_diag_set(d, MDP_ERR_IO,
                            "cdc: cannot read back streamed transaction %" PRIu32 ": %s", sp->xid,
                            strerror(errno));
    size_t off = 0;
    for (;;) {
        unsigned char h[18];
        const unsigned char *hp = h;
        if (sp->f) {
            size_t got = fread(h, 1, sizeof h, sp->f);
            if (got == 0 && feof(sp->f)) break;
            if (got != sizeof h) goto read_err;
        } else {
            if (off >= sp->mem.len) break;
            hp = (const unsigned char *)sp->mem.data + off;
            off += sizeof h;
        }
        uint32_t subxid =
            (uint32_t)hp[0] << 24 | (uint32_t)hp[1] << 16 | (uint32_t)hp[2] << 8 | hp[3];
        uint64_t lsn = get64(hp + 4);
        size_t dl = (size_t)hp[12] << 8 | hp[13];
        size_t tl = (size_t)hp[14] << 24 | (size_t)hp[15] << 16 | (size_t)hp[16] << 8 | hp[17];
        char ds[160];
        const char *tail;
        if (dl >= sizeof ds) goto read_err;
        if (sp->f) {
            mdp_buf_reset(rec);
            if (mdp_buf_reserve(rec, tl + 1))
                return mdp_diag_set(d, MDP_ERR_NOMEM, "cdc: out of memory");
            if (fread(ds, 1, dl, sp->f) != dl || fread(rec->data, 1, tl, sp->f) != tl)
                goto read_err;
            tail = rec->data;
        } else {
            memcpy(ds, sp->mem.data + off, dl);
            tail = sp->mem.data + off + dl;
            off += dl + tl;
        }
        ds[dl] = '\0';
        if (spool_aborted(sp, subxid)) continue;
        int rc = emit_change(x, ds, lsn, tail, tl, d);
        if (rc) return rc;
    }
    return 0;
read_err:
    return mdp_diag_set(d, MDP_ERR_IO,
                        "cdc: cannot read back streamed transaction %" PRIu32 " (spill file)",
                        sp->xid);
}

/* One change: a line of the open transaction, or a record of a streamed one. */
static int on_change(struct cdc *x, const struct mdp_pgo_msg *m, const struct mdp_pgo_rel *rel,
                     uint64_t lsn, struct mdp_diag *d)
{
    char ds[160];
    int rc = dataset_of(rel, ds, sizeof ds, lsn, d);
    if (!rc) rc = render_change(x, m, rel, lsn, ds, &x->tail, d);
    if (rc) return rc;
    if (x->in_stream) return spool_add(x, x->stream, m->xid, lsn, ds, &x->tail, d);
    return emit_change(x, ds, lsn, x->tail.data, x->tail.len, d);
}

/* One XLogData payload. */
static int on_message(struct cdc *x, const unsigned char *p, size_t n, uint64_t lsn,
                      struct mdp_diag *d)
{
    struct mdp_pgo_msg m;
    int rc = mdp_pgo_decode(x->dec, p, n, lsn, &m, d);
    if (rc) return rc;
    char l[18];
    switch (m.kind) {
    case 'B':
        if (x->in_txn || x->in_stream) {
            mdp_lsn_format(lsn, l);
            return mdp_diag_set(d, MDP_ERR_PARSE, "cdc: a Begin inside a transaction at LSN %s", l);
        }
        x->in_txn = 1;
        x->txn_lsn = m.lsn;
        x->txn_time_us = m.time_us;
        x->xid = m.xid;
        x->txn_seq = 0;
        /* a transaction before the checkpoint is in the lake already (a replay after a crash) */
        x->skip_txn = m.lsn < x->ckpt_lsn || m.lsn < x->confirmed_lsn;
        for (int i = 0; i < x->nparts; i++)
            x->parts[i].mark = x->parts[i].b.len;
        if (!x->group_start_ms) x->group_start_ms = mdp_time_now_ms();
        break;
    case 'C':
        if (!x->in_txn) {
            mdp_lsn_format(lsn, l);
            return mdp_diag_set(d, MDP_ERR_PARSE, "cdc: a Commit without a Begin at LSN %s", l);
        }
        x->in_txn = 0;
        if (x->skip_txn) {
            x->st->skipped_txns++;
        } else {
            x->st->txns++;
            x->group_txns++;
            if (m.end_lsn > x->group_lsn) x->group_lsn = m.end_lsn;
        }
        break;
    case 'R':
        return on_relation(x, m.rel, lsn, d);
    case 'I':
    case 'U':
    case 'D':
        if (x->in_stream) return on_change(x, &m, m.rel, lsn, d);
        if (!x->in_txn) {
            mdp_lsn_format(lsn, l);
            return mdp_diag_set(d, MDP_ERR_PARSE, "cdc: a change outside a transaction at LSN %s",
                                l);
        }
        if (x->skip_txn) break;
        return on_change(x, &m, m.rel, lsn, d);
    case 'T':
        for (int i = 0; x->in_stream && i < m.nrels; i++)
            if ((rc = on_change(x, &m, m.rels[i], lsn, d))) return rc;
        if (x->in_stream) break;
        if (!x->in_txn) {
            mdp_lsn_format(lsn, l);
            return mdp_diag_set(d, MDP_ERR_PARSE, "cdc: a Truncate outside a transaction at LSN %s",
                                l);
        }
        for (int i = 0; !x->skip_txn && i < m.nrels; i++)
            if ((rc = on_change(x, &m, m.rels[i], lsn, d))) return rc;
        break;
    case 'O': /* the origin of a replicated transaction: nothing to keep */
    case 'Y': /* a type's name: values are in text form anyway */
    case 'M': /* logical decoding messages are not requested */
        break;
    case 'S': { /* Stream Start: the changes up to Stream Stop belong to m.xid */
        if (x->in_txn || x->in_stream) {
            mdp_lsn_format(lsn, l);
            return mdp_diag_set(d, MDP_ERR_PARSE, "cdc: a Stream Start inside a %s at LSN %s",
                                x->in_txn ? "transaction" : "stream", l);
        }
        struct spool *sp = spool_find(x, m.xid);
        if (!sp) {
            if (x->nspools == x->capspools) {
                int cap = x->capspools ? x->capspools * 2 : 8;
                struct spool *nv = mdp_realloc(x->spools, (size_t)cap * sizeof *nv);
                if (!nv) return mdp_diag_set(d, MDP_ERR_NOMEM, "cdc: out of memory");
                x->spools = nv;
                x->capspools = cap;
            }
            sp = &x->spools[x->nspools++];
            memset(sp, 0, sizeof *sp);
            sp->xid = m.xid;
            mdp_buf_init(&sp->mem);
        }
        x->stream = sp;
        x->in_stream = 1;
        break;
    }
    case 'E':
        if (!x->in_stream) {
            mdp_lsn_format(lsn, l);
            return mdp_diag_set(d, MDP_ERR_PARSE,
                                "cdc: a Stream Stop without a Stream Start at "
                                "LSN %s",
                                l);
        }
        x->in_stream = 0;
        x->stream = NULL;
        break;
    case 'c': { /* Stream Commit: the streamed transaction is written like a committed one */
        if (x->in_txn || x->in_stream) {
            mdp_lsn_format(lsn, l);
            return mdp_diag_set(d, MDP_ERR_PARSE, "cdc: a Stream Commit inside a %s at LSN %s",
                                x->in_txn ? "transaction" : "stream", l);
        }
        struct spool *sp = spool_find(x, m.xid);
        if (m.lsn < x->ckpt_lsn || m.lsn < x->confirmed_lsn) { /* a replay after a crash */
            x->st->skipped_txns++;
            if (sp) spool_drop(x, sp);
            break;
        }
        x->in_txn = 1; /* so that an error drops what it added (txn_rollback) */
        x->txn_lsn = m.lsn;
        x->txn_time_us = m.time_us;
        x->xid = m.xid;
        x->txn_seq = 0;
        for (int i = 0; i < x->nparts; i++)
            x->parts[i].mark = x->parts[i].b.len;
        if (!x->group_start_ms) x->group_start_ms = mdp_time_now_ms();
        if (sp && (rc = spool_commit(x, sp, d))) return rc;
        if (sp) spool_drop(x, sp);
        x->in_txn = 0;
        x->st->txns++;
        x->st->streamed_txns++;
        x->group_txns++;
        if (m.end_lsn > x->group_lsn) x->group_lsn = m.end_lsn;
        break;
    }
    case 'A': { /* Stream Abort: of the transaction, or of one subtransaction of it */
        if (x->in_stream) {
            mdp_lsn_format(lsn, l);
            return mdp_diag_set(d, MDP_ERR_PARSE, "cdc: a Stream Abort inside a stream at LSN %s",
                                l);
        }
        struct spool *sp = spool_find(x, m.xid);
        if (!sp) break; /* nothing of it was streamed in this session */
        if (m.subxid == m.xid || m.subxid == 0) {
            spool_drop(x, sp);
            x->st->streamed_aborts++;
            break;
        }
        if (sp->naborted == sp->capaborted) {
            int cap = sp->capaborted ? sp->capaborted * 2 : 8;
            uint32_t *nv = mdp_realloc(sp->aborted, (size_t)cap * sizeof *nv);
            if (!nv) return mdp_diag_set(d, MDP_ERR_NOMEM, "cdc: out of memory");
            sp->aborted = nv;
            sp->capaborted = cap;
        }
        sp->aborted[sp->naborted++] = m.subxid;
        break;
    }
    default:
        mdp_lsn_format(lsn, l);
        return mdp_diag_set(d, MDP_ERR_PARSE, "cdc: an unexpected message '%c' at LSN %s", m.kind,
                            l);
    }
    return 0;
}

/* Connects and starts streaming from the confirmed position. *out_transient is 1 when a retry may
 * succeed: no connection, or the slot still held by a consumer that died (the server notices
 * that with a delay). */
static int start_stream(struct cdc *x, uint64_t *out_target, int *out_transient, struct mdp_diag *d)
{
    *out_transient = 0;
    if (!(x->c = connect_db(x->o->dsn, 1, d))) {
        *out_transient = 1;
        return MDP_ERR_IO;
    }
    PGresult *r = NULL;
    /* the insert position, not the write position: with synchronous_commit off a transaction
     * the client saw commit may not be written yet, and --once must still wait for it */
    int rc = q(x->c, "SELECT pg_current_wal_insert_lsn()::text", NULL, NULL, &r, d);
    if (!rc && out_target && mdp_lsn_parse(PQgetvalue(r, 0, 0), out_target))
        rc = mdp_diag_set(d, MDP_ERR_PARSE, "cdc: the server's WAL position '%s' is not an LSN",
                          PQgetvalue(r, 0, 0));
    PQclear(r);
    if (rc) return rc;
    char sql[512], l[18];
    mdp_lsn_format(x->confirmed_lsn, l);
    /* streaming of in-progress transactions came with PostgreSQL 14 (protocol version 2) */
    int proto = x->o->stream && PQserverVersion(x->c) >= 140000 ? 2 : 1;
    snprintf(sql, sizeof sql,
             "START_REPLICATION SLOT %s LOGICAL %s (proto_version '%d', publication_names '%s'%s)",
             x->o->slot, l, proto, x->o->publication, proto >= 2 ? ", streaming 'on'" : "");
    r = PQexec(x->c, sql);
    if (PQresultStatus(r) != PGRES_COPY_BOTH) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        *out_transient = state && strcmp(state, "55006") == 0; /* object_in_use */
        rc = pq_fail(d, x->c, r, "START_REPLICATION");
    }
    PQclear(r);
    if (rc) return rc;
    mdp_pgo_free(x->dec);
    x->dec = NULL;
    spools_clear(x); /* the server streams open transactions again from their start */
    x->st->proto = proto;
    if (mdp_pgo_new(proto, &x->dec))
        return mdp_diag_set(d, MDP_ERR_NOMEM, "cdc: out of memory for the decoder");
    x->nwarned = 0;
    mdp_log(MDP_LOG_INFO, "cdc: streaming", LOG_STR("slot", x->o->slot), LOG_STR("from", l),
            LOG_INT("protocol", proto), MDP_LF_END);
    return 0;
}

static void drop_conn(struct cdc *x)
{
    if (x->c) PQfinish(x->c);
    x->c = NULL;
}

/* ---- curate ticks (--curate-every) ----
 * Curate runs in a child process: DuckDB and the lake are opened fresh there (the parent has not
 * touched DuckDB, and forks with no thread of its own), and the replication stream goes on in the
 * parent, which keeps answering the server. While the child runs the parent writes no group (the
 * changes wait in memory, and once group_bytes are waiting it stops reading, which the server
 * sees as backpressure, not as a dead consumer: status updates go on), so the child sees exactly
 * the groups whose checkpoint was written and confirmed before it started. */
struct curate_child {
    pid_t pid;
    int fd; /* the read end of the pipe the child writes its error to */
    int64_t started_ms;
};

static int curate_start(struct cdc *x, struct curate_child *cc, struct mdp_diag *d)
{
    int p[2];
    if (pipe(p) != 0)
        return mdp_diag_set(d, MDP_ERR_IO, "cdc: cannot start curate (pipe): %s", strerror(errno));
    fflush(NULL); /* nothing buffered twice */
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return mdp_diag_set(d, MDP_ERR_IO, "cdc: cannot start curate (fork): %s", strerror(e));
    }
    if (pid == 0) { /* the child: never touches the replication connection, leaves by _exit */
        close(p[0]);
        signal(SIGINT, SIG_IGN); /* the parent waits for the tick it started */
        signal(SIGTERM, SIG_IGN);
        struct mdp_diag cd = {0};
        int rc = x->o->curate(x->o->curate_ud, &cd);
        if (rc) {
            const char *m = cd.msg[0] ? cd.msg : "curate failed";
            ssize_t w = write(p[1], m, strlen(m));
            (void)w;
        }
        _exit(rc ? 1 : 0);
    }
    close(p[1]);
    cc->pid = pid;
    cc->fd = p[0];
    cc->started_ms = mdp_time_now_ms();
    x->holding = 1;
    mdp_log(MDP_LOG_INFO, "cdc: curate started", LOG_INT("pid", (int64_t)pid), MDP_LF_END);
    return 0;
}

/* Collects a finished child (wait: block until it finishes). A failure is logged and counted:
 * the next tick retries, CDC goes on. */
static void curate_reap(struct cdc *x, struct curate_child *cc, int wait)
{
    if (!cc->pid) return;
    int status = 0;
    pid_t r;
    do
        r = waitpid(cc->pid, &status, wait ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) return;
    char msg[512] = "";
    ssize_t n = r > 0 ? read(cc->fd, msg, sizeof msg - 1) : -1;
    msg[n > 0 ? n : 0] = '\0';
    close(cc->fd);
    int64_t ms = mdp_time_now_ms() - cc->started_ms;
    cc->pid = 0;
    cc->fd = -1;
    x->holding = 0;
    x->st->curate_runs++;
    if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        mdp_log(MDP_LOG_INFO, "cdc: curate finished", LOG_INT("ms", ms), MDP_LF_END);
        return;
    }
    x->st->curate_failures++;
    if (!msg[0]) {
        if (r > 0 && WIFSIGNALED(status))
            snprintf(msg, sizeof msg, "curate was killed by signal %d", WTERMSIG(status));
        else
            snprintf(msg, sizeof msg, "curate exited with status %d",
                     r > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    mdp_log(MDP_LOG_ERROR, "cdc: curate failed; retrying at the next tick", LOG_STR("error", msg),
            LOG_INT("ms", ms), MDP_LF_END);
}

int mdp_cdc_run(struct mdp_lake *lake, const struct mdp_cdc_opts *o, struct mdp_cdc_stats *st,
                struct mdp_diag *d)
{
    memset(st, 0, sizeof *st);
    if (!name_ok(o->slot) || !name_ok(o->publication))
        return mdp_diag_set(d, MDP_ERR_INVALID,
                            "cdc: slot '%s' and publication '%s' must be [a-z0-9_]+ (at most 63)",
                            o->slot, o->publication);
    struct cdc x;
    memset(&x, 0, sizeof x);
    x.lake = lake;
    x.o = o;
    x.st = st;
    mdp_buf_init(&x.line);
    mdp_buf_init(&x.tail);
    state_key(x.ckpt_key, sizeof x.ckpt_key, o->slot, "checkpoint");
    state_key(x.pending_key, sizeof x.pending_key, o->slot, "pending");
    int rc = recover(&x, d);
    uint64_t target = 0;
    int64_t start = mdp_time_now_ms(), last_msg = start, last_status = start, last_lag = 0,
            last_reply_req = 0, lost_at = 0, backoff = 250, last_progress = start,
            last_keepalive = 0;
    int transient = 0, started = 0;
    struct curate_child cc = {0, -1, 0};
    int64_t last_curate = start;
    if (o->curate_every_ms > 0 && !o->curate)
        rc = mdp_diag_set(d, MDP_ERR_INVALID, "cdc: curate_every_ms without a curate function");
    if (!rc && !(rc = start_stream(&x, &target, &transient, d))) started = 1;
    if (rc && transient) {
        /* the slot may still be held by a consumer that just died: retry like a lost connection */
        drop_conn(&x);
        lost_at = start;
        rc = 0;
        mdp_log(MDP_LOG_WARN, "cdc: cannot start yet, retrying", LOG_STR("error", d->msg),
                MDP_LF_END);
        memset(d, 0, sizeof *d);
    }
    while (!rc) {
        int64_t now = mdp_time_now_ms();
        curate_reap(&x, &cc, 0);
        int stopping =
            (o->stop && *o->stop) || (o->duration_ms > 0 && now - start >= o->duration_ms);
        if (!x.c) { /* reconnecting */
            if (stopping) break;
            struct mdp_diag cd = {0};
            int r = start_stream(&x, target ? NULL : &target, &transient, &cd);
            if (r == 0) {
                st->reconnects += started;
                started = 1;
                lost_at = 0;
                backoff = 250;
                last_msg = last_status = mdp_time_now_ms();
                continue;
            }
            drop_conn(&x);
            if (!transient || now - lost_at >= o->reconnect_ms) {
                *d = cd;
                rc = cd.code ? cd.code : MDP_ERR_IO;
                break;
            }
            mdp_log(MDP_LOG_WARN, "cdc: reconnecting", LOG_STR("error", cd.msg),
                    LOG_INT("retry_in_ms", backoff), MDP_LF_END);
            struct timespec ts = {backoff / 1000, (backoff % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            if (backoff < 5000) backoff *= 2;
            continue;
        }
        if (stopping && !x.in_txn) break;
        if (o->curate_every_ms > 0 && !cc.pid && !x.in_txn &&
            now - last_curate >= o->curate_every_ms) {
            /* what is committed goes to the lake first, so that the tick sees it */
            if ((rc = write_group(&x, d))) break;
            struct mdp_diag cd = {0};
            if (curate_start(&x, &cc, &cd)) {
                x.st->curate_failures++;
                mdp_log(MDP_LOG_ERROR, "cdc: curate failed; retrying at the next tick",
                        LOG_STR("error", cd.msg), MDP_LF_END);
            }
            last_curate = now;
        }
        /* (a streamed transaction still open at the server's position may yet commit) */
        if (o->once && !x.in_txn && x.nparts == 0 && x.nspools == 0 && x.group_lsn <= x.ckpt_lsn &&
            (x.received_lsn >= target || x.confirmed_lsn >= target) && now - last_msg >= 20) {
            char t[18], r[18], c[18];
            mdp_lsn_format(target, t);
            mdp_lsn_format(x.received_lsn, r);
            mdp_lsn_format(x.confirmed_lsn, c);
            mdp_log(MDP_LOG_DEBUG, "cdc: caught up with the server", LOG_STR("target", t),
                    LOG_STR("received", r), LOG_STR("confirmed", c), MDP_LF_END);
            break;
        }
        /* --once where the server's position never reaches the target: it answers our requests
         * (a keepalive just came) but its position has not moved for 3 s. A server that is slow
         * (decoding, a loaded machine) answers nothing meanwhile, so this never cuts it short. */
        if (o->once && !x.in_txn && x.nparts == 0 && x.nspools == 0 && x.group_lsn <= x.ckpt_lsn &&
            last_keepalive && now - last_keepalive < 300 && now - last_progress >= 3000) {
            mdp_log(MDP_LOG_DEBUG, "cdc: the server's position stands still short of the target",
                    MDP_LF_END);
            break;
        }
        char *buf = NULL;
        /* a curate child runs and a full group waits: read no more (backpressure) */
        int full = x.holding && x.group_bytes >= o->group_bytes;
        int n = full ? 0 : PQgetCopyData(x.c, &buf, 1);
        if (n > 0) {
            const unsigned char *p = (const unsigned char *)buf;
            last_msg = now;
            if (p[0] == 'w' && n >= 25) {
                uint64_t at = get64(p + 1);
                /* messages the server sends outside a change (a Relation before the first one)
                 * carry no position: name the last one */
                rc = on_message(&x, p + 25, (size_t)n - 25, at ? at : x.received_lsn, d);
                last_progress = now;
                if (at > x.received_lsn) x.received_lsn = at;
            } else if (p[0] == 'k' && n >= 18) {
                uint64_t end = get64(p + 1);
                last_keepalive = now;
                if (end > x.received_lsn) {
                    x.received_lsn = end;
                    last_progress = now;
                }
                /* nothing open and nothing unwritten: everything before end is in the lake */
                if (!x.in_txn && x.nparts == 0 && x.group_lsn <= x.ckpt_lsn &&
                    end > x.confirmed_lsn) {
                    x.confirmed_lsn = end;
                    x.confirmed_ms = now;
                    st->confirmed_lsn = end;
                }
                if (p[17]) {
                    rc = send_status(&x, 0, d);
                    last_status = now;
                }
            } else {
                rc = mdp_diag_set(d, MDP_ERR_PARSE,
                                  "cdc: a replication message of unknown type 0x%02x (%d bytes) "
                                  "after LSN %" PRIX32 "/%" PRIX32,
                                  p[0], n, (uint32_t)(x.received_lsn >> 32),
                                  (uint32_t)x.received_lsn);
            }
            PQfreemem(buf);
            if (!rc && !x.in_txn && !x.holding &&
                (x.group_bytes >= o->group_bytes ||
                 (x.group_start_ms && now - x.group_start_ms >= o->flush_ms)))
                rc = write_group(&x, d);
            continue;
        }
        if (n == -2 || n == -1) { /* the connection or the stream ended: resume */
            char why[256];
            snprintf(why, sizeof why, "%s", PQerrorMessage(x.c));
            why[strcspn(why, "\n")] = '\0';
            if (x.in_txn) txn_rollback(&x);
            drop_conn(&x);
            spools_clear(&x);
            curate_reap(&x, &cc, 1); /* the group waits for the tick that runs */
            rc = write_group(&x, d);
            if (rc) break;
            if (x.confirmed_ms && x.confirmed_lsn > x.ckpt_lsn) rc = write_checkpoint(&x, d);
            mdp_log(MDP_LOG_WARN, "cdc: connection lost", LOG_STR("error", why), MDP_LF_END);
            lost_at = mdp_time_now_ms();
            continue;
        }
        /* nothing to read: write what is committed, tell the server, wait */
        if (!x.in_txn && !x.holding && (x.nparts || x.group_lsn > x.ckpt_lsn)) {
            rc = write_group(&x, d);
            last_status = now;
            if (rc) break;
        }
        if (now - last_status >= o->status_ms) {
            if (!(rc = send_status(&x, 0, d)) && x.confirmed_lsn > x.ckpt_lsn &&
                now - x.ckpt_written_ms >= o->status_ms)
                rc = write_checkpoint(&x, d);
            last_status = now;
            if (rc) break;
        }
        if (o->once && now - last_msg >= 20 && now - last_reply_req >= 200) {
            rc = send_status(&x, 1, d); /* the server answers with its position */
            last_reply_req = now;
            if (rc) break;
        }
        if (o->lag_interval_ms > 0 && now - last_lag >= o->lag_interval_ms) {
            struct mdp_cdc_lag lag;
            struct mdp_diag ld = {0};
            if (mdp_cdc_lag_measure(lake, o->dsn, o->slot, 1, &lag, &ld))
                mdp_log(MDP_LOG_WARN, "cdc: cannot measure the slot's lag",
                        LOG_STR("error", ld.msg), MDP_LF_END);
            last_lag = now;
        }
        if (full) { /* the socket is readable: do not spin on it */
            struct timespec ts = {0, 50000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        int sock = PQsocket(x.c);
        fd_set rs;
        FD_ZERO(&rs);
        FD_SET(sock, &rs);
        struct timeval tv = {0, 100000};
        if (select(sock + 1, &rs, NULL, NULL, &tv) < 0 && errno != EINTR) {
            rc = mdp_diag_set(d, MDP_ERR_IO, "cdc: waiting for the server: %s", strerror(errno));
            break;
        }
        if (PQconsumeInput(x.c) == 0) {
            /* seen as -2 by the next PQgetCopyData */
        }
    }
    /* a stop or an error: what is committed is written (a decoding error stops before the
     * transaction it is in, whose changes are dropped) */
    struct mdp_diag fd = {0};
    if (x.in_txn) txn_rollback(&x);
    curate_reap(&x, &cc, 1);
    int frc = write_group(&x, rc ? &fd : d);
    if (!rc) rc = frc;
    if (!rc && x.confirmed_lsn > x.ckpt_lsn) rc = write_checkpoint(&x, d);
    if (x.c) {
        PQputCopyEnd(x.c, NULL);
        PQflush(x.c);
    }
    drop_conn(&x);
    st->confirmed_lsn = x.confirmed_lsn;
    group_clear(&x);
    free(x.parts);
    free(x.warned);
    spools_clear(&x);
    free(x.spools);
    mdp_pgo_free(x.dec);
    mdp_buf_cleanup(&x.line);
    mdp_buf_cleanup(&x.tail);
    return rc;
}
