/* The supabase connector's check: PostgreSQL CSV exports (COPY ... TO STDOUT WITH (FORMAT csv,
 * HEADER)) of the app tables, one file per table and day. Records are checked against the header's
 * field count with RFC 4180 quoting (a quoted field may hold commas, quotes and newlines); a file
 * cut off mid-record is caught by its missing final newline. The header itself is compared with the
 * last one seen for the table (kept in _meta/state/supabase/<table>/columns): a column added or
 * removed in the source is schema drift, recorded (extra counter, a drift record) and never a
 * crash. The id columns (user_id, account_id, location_id, wherever they appear) hold UUIDv7s
 * (ingest.non_v7_ids). */
#include "../ingest_internal.h"
#include "mdp/alloc.h"
#include "mdp/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { X_ROWS, X_TABLES, X_SCHEMA_CHANGES };

/* The table of a landing key supabase/<table>/dt=.../... */
static int table_of(const char *key, char *out, size_t n)
{
    const char *t = key + strlen("supabase/"), *sl = strchr(t, '/');
    if (!sl || sl == t || (size_t)(sl - t) >= n) return -1;
    snprintf(out, n, "%.*s", (int)(sl - t), t);
    return 0;
}

/* The columns each table's state holds, as far as this run knows (one per table seen): read once
 * per run and kept up to date with what this run writes, so a delivery costs no request for them
 * (on S3 each read was a GET per delivery). The state is written through, before the delivery's
 * raw object lands, whenever it changes: a crash leaves it as the landed deliveries showed it. */
struct known_columns {
    char table[128];
    struct mdp_buf header;
};
struct supabase_run {
    struct known_columns *v;
    size_t n, cap;
};

static int supabase_init(struct mdp_connector_run *r, struct mdp_diag *d)
{
    if (!(r->state = mdp_calloc(1, sizeof(struct supabase_run))))
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    return 0;
}

static void supabase_exit(struct mdp_connector_run *r)
{
    struct supabase_run *sr = r->state;
    for (size_t i = 0; sr && i < sr->n; i++)
        mdp_buf_cleanup(&sr->v[i].header);
    if (sr) free(sr->v);
    free(sr);
    r->state = NULL;
}

/* The known columns of table, or NULL (not read yet, or forgotten after a failed write). */
static struct known_columns *known(struct supabase_run *sr, const char *table)
{
    for (size_t i = 0; sr && i < sr->n; i++)
        if (!strcmp(sr->v[i].table, table)) return &sr->v[i];
    return NULL;
}

/* Drops what is known of table: the next delivery reads the state again. */
static void forget(struct supabase_run *sr, const char *table)
{
    struct known_columns *k = known(sr, table);
    if (!k) return;
    mdp_buf_cleanup(&k->header);
    *k = sr->v[--sr->n];
}

/* Remembers header as table's stored columns (best effort: out of memory only costs a GET). */
static void remember(struct supabase_run *sr, const char *table, const char *header, size_t len)
{
    if (!sr) return;
    struct known_columns *k = known(sr, table);
    if (!k) {
        if (sr->n == sr->cap) {
            size_t cap = sr->cap ? 2 * sr->cap : 8;
            struct known_columns *v = mdp_realloc(sr->v, cap * sizeof *v);
            if (!v) return;
            sr->v = v;
            sr->cap = cap;
        }
        k = &sr->v[sr->n++];
        snprintf(k->table, sizeof k->table, "%s", table);
        mdp_buf_init(&k->header);
    }
    mdp_buf_reset(&k->header);
    if (mdp_buf_append(&k->header, header, len)) forget(sr, table);
}

static void record_header(struct mdp_check *ck, const char *header, size_t len)
{
    char table[128], key[300];
    if (!ck->lake || table_of(ck->key, table, sizeof table)) return;
    snprintf(key, sizeof key, "_meta/state/supabase/%s/columns", table);
    struct supabase_run *sr = ck->state; /* NULL: a check outside a run, which reads the state */
    struct known_columns *k = known(sr, table);
    struct mdp_buf prev;
    mdp_buf_init(&prev);
    struct mdp_diag d = {0};
    int rc = k ? mdp_buf_append(&prev, k->header.data ? k->header.data : "", k->header.len)
               : mdp_store_get(ck->lake->store, key, &prev, &d);
    if (rc) {
        if (rc == MDP_ERR_NOT_FOUND && mdp_store_put(ck->lake->store, key, header, len, 0, &d) == 0)
            remember(sr, table, header, len);
        mdp_buf_cleanup(&prev);
        return; /* else unreadable: asked again by the next delivery */
    }
    if (!k) remember(sr, table, prev.data ? prev.data : "", prev.len);
    if (prev.len != len || memcmp(prev.data, header, len) != 0) {
        /* a drift record: what the columns were and are, and which delivery showed it */
        struct mdp_buf rec, rk;
        mdp_buf_init(&rec);
        mdp_buf_init(&rk);
        mdp_buf_puts(&rec, "{\"table\":");
        mdp_buf_json_str(&rec, table);
        mdp_buf_puts(&rec, ",\"delivery\":");
        mdp_buf_json_str(&rec, ck->key);
        mdp_buf_puts(&rec, ",\"before\":");
        mdp_buf_json_strn(&rec, prev.data, prev.len);
        mdp_buf_puts(&rec, ",\"after\":");
        mdp_buf_json_strn(&rec, header, len);
        mdp_buf_puts(&rec, "}\n");
        char hex[65];
        if (!mdp_buf_error(&rec)) {
            mdp_sha256_hex(rec.data, rec.len, hex);
            mdp_buf_printf(&rk, "_meta/state/supabase/%s/drift/%.32s.json", table, hex);
        }
        /* out of memory: no cut-off drift record, and the old columns stay, so the next delivery
         * shows the drift again */
        if (!mdp_buf_error(&rec) && !mdp_buf_error(&rk) &&
            mdp_store_put(ck->lake->store, rk.data, rec.data, rec.len, 0, &d) == 0) {
            if (mdp_store_put(ck->lake->store, key, header, len, 0, &d) == 0)
                remember(sr, table, header, len);
            else /* the state may or may not hold them: read it again */
                forget(sr, table);
            ck->c->extra[X_SCHEMA_CHANGES]++;
        }
        mdp_buf_cleanup(&rec);
        mdp_buf_cleanup(&rk);
    }
    mdp_buf_cleanup(&prev);
}

/* Spec 2's ids: in every table, these columns hold UUIDv7s (or are empty: NULL). */
static const char *const ID_COLUMNS[] = {"user_id", "account_id", "location_id", NULL};
#define MAX_ID_COLS 8

struct csv_ids {
    int n, col[MAX_ID_COLS]; /* field index of each id column of the header */
    const char *name[MAX_ID_COLS];
    const char *why; /* the first bad id of the current record, or NULL */
    char detail[160];
    int non_v7;
};

/* A field's text without CR and surrounding quotes. */
static void field_text(const char **f, size_t *len)
{
    if (*len && (*f)[*len - 1] == '\r') (*len)--;
    if (*len >= 2 && (*f)[0] == '"' && (*f)[*len - 1] == '"') {
        (*f)++;
        *len -= 2;
    }
}

/* Called at the end of every field: the header names the id columns, a record's are checked. */
static void on_field(struct mdp_check *ck, struct csv_ids *ids, int header, int idx, const char *f,
                     size_t len)
{
    field_text(&f, &len);
    for (int k = 0; header && ID_COLUMNS[k]; k++)
        if (ids->n < MAX_ID_COLS && len == strlen(ID_COLUMNS[k]) &&
            memcmp(f, ID_COLUMNS[k], len) == 0) {
            ids->col[ids->n] = idx;
            ids->name[ids->n++] = ID_COLUMNS[k];
        }
    for (int k = 0; !header && !ids->why && k < ids->n; k++)
        if (ids->col[k] == idx && len > 0)
            ids->why =
                mdp__v7_id(ck, ids->name[k], f, len, &ids->non_v7, ids->detail, sizeof ids->detail);
}

static int check(struct mdp_check *ck, const char *p, size_t n)
{
    size_t i = 0, line = 1, rec_line = 1, rec_start = 0, field_start = 0;
    int expected = -1, fields = 1, inq = 0, rc = 0;
    char loc[600], det[96];
    struct csv_ids ids = {0};
    while (i < n && !rc) {
        char ch = p[i];
        if (inq) {
            if (ch == '"') {
                if (i + 1 < n && p[i + 1] == '"')
                    i++;
                else
                    inq = 0;
            } else if (ch == '\n') {
                line++;
            }
        } else if (ch == '"') {
            inq = 1;
        } else if (ch == ',') {
            on_field(ck, &ids, expected < 0, fields - 1, p + field_start, i - field_start);
            fields++;
            field_start = i + 1;
        } else if (ch == '\n') {
            ck->line = (long)rec_line;
            on_field(ck, &ids, expected < 0, fields - 1, p + field_start, i - field_start);
            if (expected < 0) {
                expected = fields;
                size_t hl = i - rec_start;
                if (hl && p[rec_start + hl - 1] == '\r') hl--;
                record_header(ck, p + rec_start, hl);
                ck->c->extra[X_TABLES]++;
            } else if (fields != expected) {
                snprintf(det, sizeof det, "%d fields, the header has %d", fields, expected);
                rc = mdp_check_bad(ck, "csv_column_count",
                                   mdp__loc(loc, sizeof loc, ck->key, ":%zu", rec_line), det,
                                   p + rec_start, i - rec_start);
            } else if (ids.why) {
                rc =
                    mdp_check_bad(ck, ids.why, mdp__loc(loc, sizeof loc, ck->key, ":%zu", rec_line),
                                  ids.detail, p + rec_start, i - rec_start);
            } else {
                ck->c->extra[X_ROWS]++;
                ck->c->non_v7_ids += ids.non_v7;
                rc = mdp_check_ok(ck, -1);
            }
            ids.why = NULL;
            ids.non_v7 = 0;
            fields = 1;
            line++;
            rec_line = line;
            rec_start = field_start = i + 1;
        }
        i++;
    }
    ck->line = (long)rec_line;
    if (!rc &&
        rec_start < n) /* a last record (or header) without its newline: the export was cut */
        rc = mdp_check_bad(ck, inq ? "csv_unterminated_quote" : "csv_truncated",
                           mdp__loc(loc, sizeof loc, ck->key, ":%zu", rec_line),
                           expected < 0 ? "the header does not end with a newline"
                                        : "the last record does not end with a newline",
                           p + rec_start, n - rec_start);
    return rc;
}

int mdp__supabase_pull(struct mdp_pull *p, struct mdp_diag *d);
int mdp__supabase_commit(struct mdp_pull *p, struct mdp_diag *d);

/* Its configuration map: the sources.supabase.* keys (`mdp config keys` lists them). */
static const struct mdp_config_key CONFIG[] = {
    {"sources.supabase.dsn_env", MDP_CFG_ENVNAME, MDP_CONFIG_OFF(supabase_dsn_env),
     "MDP_SUPABASE_DSN", 0, 0, NULL,
     "Environment variable holding the PostgreSQL connection string of the Supabase database "
     "(postgresql://user:password@host:port/db?sslmode=require) for `mdp ingest supabase --pull`."},
    {"sources.supabase.tables", MDP_CFG_STRLIST, MDP_CONFIG_OFF(supabase_tables),
     "accounts,user_profiles,communication_prefs,onboarding_progress,locations,visibility_checks,"
     "oauth_logins:created_at",
     0, 0, NULL,
     "Tables of schema public that `--pull` exports, each as NAME or NAME:COLUMN where COLUMN "
     "(default updated_at) is its incremental watermark."},
    {NULL, MDP_CFG_STR, 0, NULL, 0, 0, NULL, NULL}};

const struct mdp_connector MDP__CONNECTOR_SUPABASE = {
    .name = "supabase",
    .source = "supabase",
    .summary = "Supabase/PostgreSQL app tables, daily CSV exports",
    .help =
        "Usage: mdp ingest supabase [--date D] [--dir LAKE]\n"
        "\n"
        "Takes the daily exports of the app tables from "
        "<landing>/supabase/<table>/dt=D/<table>.csv,\n"
        "in PostgreSQL's COPY ... TO STDOUT WITH (FORMAT csv, HEADER) format (tables and columns:\n"
        "config/supabase-schema.sql). Each record must have the header's field count; a file cut\n"
        "off mid-record is quarantined from that record on. The id columns user_id, account_id\n"
        "and location_id hold UUIDv7s or nothing (another UUID version: id_not_uuidv7, or\n"
        "counted with ingest.non_v7_ids: count). A header that differs from the\n"
        "table's last one is schema drift: recorded under _meta/state/supabase/<table>/drift/ and\n"
        "counted, never a failure.\n",
    .landing_prefix = "supabase/",
    .dataset = NULL,
    .ext = "csv",
    .sample_key = "supabase/t/dt=2026-10-01/t.csv",
    .config = CONFIG,
    .init = supabase_init,
    .exit = supabase_exit,
    .extra_names = {"rows", "tables", "schema changes", NULL},
    .check = check,
    .pull = mdp__supabase_pull,
    .commit = mdp__supabase_commit,
};
