/* The derived tables (include/mdp/ml.h): segments, features and the serving snapshot, computed
 * per date from models/ml/ (inputs, segments, features .sql) on the embedded DuckDB over the
 * published curated tables and the consent journal. */
#include "mdp/ml.h"
#include "mdp/consent.h"
#include "mdp/engine.h"
#include "mdp/hash.h"
#include "mdp/log.h"
#include "mdp/model.h"
#include "mdp/snapshot.h"
#include "mdp/state.h"
#include "mdp/time.h"
#include "mdp/uuid.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mdp_state_open_lake(struct mdp_lake *lake, struct mdp_state **out, struct mdp_diag *d)
{
    if (mdp_state_location()) return mdp_state_open(mdp_state_location(), out, d);
    struct mdp_buf path;
    mdp_buf_init(&path);
    int rc = mdp_store_local_path(lake->store, "_meta/state.sqlite", &path);
    if (rc)
        mdp_diag_set(d, rc,
                     "the lake's store has no local paths for the state store's SQLite file (an "
                     "s3:// lake keeps its state in DynamoDB: set state.backend: dynamodb)");
    else
        rc = mdp_state_open(path.data, out, d);
    mdp_buf_cleanup(&path);
    return rc;
}

static char *read_file(const char *path, struct mdp_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) return mdp_diag_set(d, MDP_ERR_IO, "%s: cannot read", path), NULL;
    struct mdp_buf b;
    mdp_buf_init(&b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (mdp_buf_append(&b, chunk, n)) break;
    fclose(f);
    char *text;
    if (mdp_buf_take(&b, &text, NULL)) /* never a cut-off SQL file */
        return mdp_diag_set(d, MDP_ERR_NOMEM, "%s: out of memory reading it", path), NULL;
    return text;
}

/* 0 when the SQL built in b is whole; else MDP_ERR_NOMEM with "out of memory building WHAT" in d,
 * so that a truncated statement never runs */
static int sql_built(const struct mdp_buf *b, const char *what, struct mdp_diag *d)
{
    int rc = mdp_buf_error(b);
    return rc ? mdp_diag_set(d, rc, "out of memory building %s", what) : 0;
}

/* ---- the consent journal as a table ---- */

/* The journal's gating fields are kept as Parquet beside the lake (docs/privacy.md §2, "the
 * journal's table copy"): journal-F-L-H.parquet holds records F..L (the journal is dense and its
 * records never change, except when retention prunes them, which drops the copy's digest), H the first 16 hex digits of record L's hash. It holds the keyed
 * pseudonyms only, as the journal does; the clear subjects are joined in from the contact table
 * on every load, so an erasure (which deletes contact rows) needs no rewrite of it. */
#define JCACHE MDP_CONSENT_COPY_DIR
/* the copy's SHA-256, recorded in the state store (beside the journal it is made from) when the
 * copy is written: table, pk, sk (retention's pruning deletes it: mdp_consent_prune) */
#define JDIGEST MDP_CONSENT_COPY_DIGEST

struct journal_load {
    struct mdp_appender *a;
    struct mdp_diag *d;
    int64_t n, newest;
    int clear; /* a record written before pseudonymization was seen: no copy is written */
};

static int load_one(int64_t seq, const char *body, void *ud)
{
    struct journal_load *l = ud;
    if (!l->n) l->newest = seq;
    if (!strstr(body, "\"email_hmac\":")) l->clear = 1;
    /* the fields gating needs come before the evidence and the hashes (the canonical order of a
     * journal record): only they are handed over, closed as an object */
    const char *cut = strstr(body, ",\"evidence\":");
    char small[1024];
    if (cut && (size_t)(cut - body) + 2 <= sizeof small) {
        memcpy(small, body, (size_t)(cut - body));
        memcpy(small + (cut - body), "}", 2);
        body = small;
    }
    mdp_append_str(l->a, body);
    l->n++;
    return mdp_append_end_row(l->a, l->d);
}

static int contact_row(const char *hmac, char kind, const char *value, void *ud)
{
    struct journal_load *l = ud;
    mdp_append_str(l->a, hmac);
    mdp_append_str(l->a, kind == 'e' ? "e" : "u");
    mdp_append_str(l->a, value);
    return mdp_append_end_row(l->a, l->d);
}

/* the copy: its path (empty: none or unusable), its records first..last */
struct jcopy {
    struct mdp_buf dir, path;
    int64_t first, last;
};

/* Finds the newest copy in the folder and checks it against the journal: the same first record,
 * and record L with the hash its name carries. A copy that fails the check (a journal rewritten
 * by the migration, a different state store) is removed. */
static void jcopy_find(struct mdp_lake *lake, struct mdp_state *st, struct jcopy *c)
{
    mdp_buf_init(&c->dir);
    mdp_buf_init(&c->path);
    c->first = c->last = 0;
    if (!lake || mdp_store_local_path(lake->store, JCACHE, &c->dir)) return;
    DIR *dh = opendir(c->dir.data);
    if (!dh) return;
    char best[256] = "", h16[17] = "";
    struct dirent *de;
    while ((de = readdir(dh))) {
        long long f, l;
        char h[17], tail[16];
        if (sscanf(de->d_name, "journal-%lld-%lld-%16[0-9a-f].%15s", &f, &l, h, tail) == 4 &&
            strcmp(tail, "parquet") == 0 && f >= 1 && l >= f && l > c->last) {
            c->first = f;
            c->last = l;
            memcpy(h16, h, sizeof h16);
            snprintf(best, sizeof best, "%s", de->d_name);
        }
    }
    closedir(dh);
    if (!c->last) return;
    mdp_buf_printf(&c->path, "%s/%s", c->dir.data, best);
    struct mdp_diag nd = {0};
    int64_t seq = 0;
    char hash[65];
    int ok = !mdp_buf_error(&c->path) && !mdp_consent_record_at(st, 0, &seq, hash, &nd) &&
             seq == c->first && !mdp_consent_record_at(st, c->last, &seq, hash, &nd) &&
             strncmp(hash, h16, 16) == 0;
    /* and its bytes are those written: the digest recorded for this file's name */
    int same = 0, recorded = 0;
    if (ok) {
        char *body = NULL, have[65], want[80];
        char name[300];
        recorded =
            mdp_state_get(st, JDIGEST, &body, NULL, &nd) == 0 && body &&
            sscanf(body, "{\"file\":\"%299[^\"]\",\"sha256\":\"%64[0-9a-f]\"}", name, want) == 2 &&
            strcmp(name, best) == 0;
        same = recorded && mdp_sha256_file(c->path.data, have) == 0 && strcmp(have, want) == 0;
        free(body);
    }
    if (!ok || !same) {
        if (!mdp_buf_error(&c->path)) unlink(c->path.data);
        if (ok && recorded) /* the journal is fine; the copy is not what was written */
            mdp_log(MDP_LOG_WARN,
                    "consent journal copy dropped: its bytes differ from the digest recorded "
                    "when it was written (the journal is read whole and the copy rebuilt)",
                    LOG_INT("last_seq", c->last), MDP_LF_END);
        else if (ok) /* a copy of an older version, or one whose digest was never put */
            mdp_log(MDP_LOG_INFO,
                    "consent journal copy dropped: no digest is recorded for it (the journal is "
                    "read whole and the copy rebuilt)",
                    LOG_INT("last_seq", c->last), MDP_LF_END);
        else
            mdp_log(MDP_LOG_INFO, "consent journal copy dropped: it does not match the journal",
                    LOG_INT("last_seq", c->last), MDP_LF_END);
        mdp_buf_reset(&c->path);
        c->first = c->last = 0;
    }
}

/* Writes the records of consent_pseudo as the new copy (records c->first or the journal's first,
 * to newest) and removes the older copies. A copy that cannot be written is only logged: the
 * next load reads the state store again. */
static void jcopy_write(struct mdp_engine *e, struct mdp_state *st, struct jcopy *c, int64_t newest)
{
    struct mdp_diag nd = {0};
    int64_t first = 0, seq = 0;
    char hash[65], fhash[65];
    if (!c->dir.len || mdp_consent_record_at(st, 0, &first, fhash, &nd) ||
        mdp_consent_record_at(st, newest, &seq, hash, &nd))
        return;
    if (mdp_local_mkdirs(c->dir.data, 1, 0755, &nd)) {
        mdp_log(MDP_LOG_WARN,
                "consent journal copy not written (the next run reads the journal "
                "again)",
                LOG_STR("why", nd.msg), MDP_LF_END);
        return;
    }
    struct mdp_buf tmp, fin, sql;
    mdp_buf_init(&tmp);
    mdp_buf_init(&fin);
    mdp_buf_init(&sql);
    mdp_buf_printf(&tmp, "%s/.journal-%ld.tmp", c->dir.data, (long)getpid());
    mdp_buf_printf(&fin, "%s/journal-%lld-%lld-%.16s.parquet", c->dir.data, (long long)first,
                   (long long)newest, hash);
    mdp_buf_puts(&sql, "COPY (SELECT * EXCLUDE (email_clear, user_clear) FROM consent_pseudo) TO ");
    if (!mdp_buf_error(&tmp)) mdp_sql_quote(&sql, tmp.data);
    mdp_buf_puts(&sql, " (FORMAT parquet, COMPRESSION zstd)");
    int rc = mdp_buf_error(&tmp) || mdp_buf_error(&fin) || mdp_buf_error(&sql)
                 ? MDP_ERR_NOMEM
                 : mdp_engine_exec(e, sql.data, &nd);
    /* its digest goes to the state store before the copy takes its name: a copy is never found
     * without the record of what it should hold */
    char sha[65], body[400];
    if (!rc) rc = mdp_sha256_file(tmp.data, sha);
    if (!rc) {
        snprintf(body, sizeof body, "{\"file\":\"%s\",\"sha256\":\"%s\"}",
                 strrchr(fin.data, '/') + 1, sha);
        struct mdp_state_item it = {"journal", "digest", body, 0};
        rc = mdp_state_put(st, "consent_copy", &it, 0, &nd);
    }
    if (!rc && rename(tmp.data, fin.data) != 0)
        rc = mdp_diag_set(&nd, MDP_ERR_IO, "rename: %s", strerror(errno));
    if (rc) {
        if (tmp.data) unlink(tmp.data);
        mdp_log(MDP_LOG_WARN,
                "consent journal copy not written (the next run reads the journal "
                "again)",
                LOG_STR("why", nd.msg[0] ? nd.msg : mdp_strerror(rc)), MDP_LF_END);
    } else {
        DIR *dh = opendir(c->dir.data);
        const char *keep = strrchr(fin.data, '/') + 1;
        struct dirent *de;
        while (dh && (de = readdir(dh)))
            if (strncmp(de->d_name, "journal-", 8) == 0 && strcmp(de->d_name, keep) != 0) {
                mdp_buf_reset(&tmp);
                mdp_buf_printf(&tmp, "%s/%s", c->dir.data, de->d_name);
                if (!mdp_buf_error(&tmp)) unlink(tmp.data);
            }
        if (dh) closedir(dh);
    }
    mdp_buf_cleanup(&tmp);
    mdp_buf_cleanup(&fin);
    mdp_buf_cleanup(&sql);
}

/* The journal's records as a table. The records after the copy's last one (all without a copy)
 * go in as text and DuckDB parses them (vectorized, on every core: parsing them one by one here
 * cost more than the features themselves); the contact table is joined in SQL, and the address
 * only enters the table as its pseudonym, the SHA-256 of email_lower (normalized when the record
 * was appended), as in dim_user.email_hash. */
static int journal_load(struct mdp_engine *e, struct mdp_state *st, struct jcopy *c, int64_t *n,
                        struct mdp_diag *d)
{
    struct journal_load l = {NULL, d, 0, 0, 0};
    int rc = mdp_engine_exec(e,
                             "CREATE OR REPLACE TEMP TABLE consent_contact_t (hmac VARCHAR, kind "
                             "VARCHAR, value VARCHAR); CREATE OR REPLACE TEMP TABLE consent_raw "
                             "(body VARCHAR)",
                             d);
    if (!rc) rc = mdp_appender_open(e, "consent_contact_t", &l.a, d);
    if (!rc) rc = mdp_consent_each_contact(st, contact_row, &l, d);
    int crc = mdp_appender_close(l.a, d);
    if (!rc) rc = crc;
    l.a = NULL;
    if (!rc) rc = mdp_appender_open(e, "consent_raw", &l.a, d);
    if (!rc) rc = mdp_consent_each_stored(st, c->last, load_one, &l, d);
    crc = mdp_appender_close(l.a, d);
    if (!rc) rc = crc;
    static const char PARSED[] =
        "SELECT j.seq AS seq, j.email_hmac AS email_hmac, j.user_hmac AS user_hmac, "
        "j.email_lower AS email_clear, j.user_id AS user_clear, j.purpose AS purpose, "
        "j.decision = 'granted' AS granted, make_timestamp(j.ts_ms * 1000) AS ts, "
        "make_timestamp(nullif(j.expires_at_ms, 0) * 1000) AS expires_at, j.source AS source "
        "FROM (SELECT from_json(body, '{\"seq\":\"BIGINT\",\"email_hmac\":\"VARCHAR\","
        "\"user_hmac\":\"VARCHAR\",\"email_lower\":\"VARCHAR\",\"user_id\":\"VARCHAR\","
        "\"purpose\":\"VARCHAR\",\"decision\":\"VARCHAR\",\"ts_ms\":\"BIGINT\",\"source\":"
        "\"VARCHAR\",\"expires_at_ms\":\"BIGINT\"}') AS j FROM consent_raw)";
    struct mdp_buf sql;
    mdp_buf_init(&sql);
    mdp_buf_puts(&sql, "CREATE OR REPLACE TEMP TABLE consent_pseudo AS ");
    if (c->path.len) {
        mdp_buf_puts(&sql, "SELECT seq, email_hmac, user_hmac, NULL::VARCHAR AS email_clear, "
                           "NULL::VARCHAR AS user_clear, purpose, granted, ts, expires_at, source "
                           "FROM read_parquet(");
        mdp_sql_quote(&sql, c->path.data);
        mdp_buf_puts(&sql, ") UNION ALL ");
    }
    mdp_buf_puts(&sql, PARSED);
    if (!rc && !(rc = sql_built(&sql, "the consent journal's load", d)))
        rc = mdp_engine_exec(e, sql.data, d);
    mdp_buf_cleanup(&sql);
    int64_t copied = c->path.len ? c->last - c->first + 1 : 0;
    /* a new copy when there is none, or when the records after it are 1/16 of it: reading those
     * from the state store then costs a small part of reading the whole journal */
    if (!rc && l.n && !l.clear && l.n * 16 >= copied) jcopy_write(e, st, c, l.newest);
    if (!rc)
        rc = mdp_engine_exec(
            e,
            "CREATE OR REPLACE TEMP TABLE consent_journal AS "
            "SELECT p.seq AS seq, CASE WHEN p.email_clear IS NULL THEN ce.h WHEN p.email_clear <> "
            "'' THEN sha256(p.email_clear) END AS email_hash, nullif(coalesce(p.user_clear, "
            "cu.value), '') AS user_id, p.purpose AS purpose, p.granted AS granted, p.ts AS ts, "
            "p.expires_at AS expires_at, p.source AS source FROM consent_pseudo p "
            "LEFT JOIN (SELECT hmac, sha256(value) AS h FROM consent_contact_t WHERE kind = 'e') "
            "ce ON ce.hmac = p.email_hmac "
            "LEFT JOIN (SELECT hmac, value FROM consent_contact_t WHERE kind = 'u') cu "
            "ON cu.hmac = p.user_hmac; "
            "DROP TABLE consent_raw; DROP TABLE consent_pseudo; DROP TABLE consent_contact_t",
            d);
    mdp_log(MDP_LOG_DEBUG, "consent journal loaded", LOG_INT("from_copy", copied),
            LOG_INT("from_state_store", l.n), MDP_LF_END);
    *n = copied + l.n;
    return rc;
}

int mdp__consent_journal_load(struct mdp_engine *e, struct mdp_lake *lake, struct mdp_state *st,
                              int64_t *n, struct mdp_diag *d)
{
    struct jcopy c;
    jcopy_find(lake, st, &c);
    int rc = journal_load(e, st, &c, n, d);
    if (rc == MDP_ERR_ENGINE && c.path.len) {
        /* the copy went away under us (a concurrent load renewed it): read the journal whole */
        mdp_log(MDP_LOG_INFO, "consent journal copy unreadable, reading the journal whole",
                LOG_STR("why", d->msg), MDP_LF_END);
        memset(d, 0, sizeof *d);
        mdp_buf_reset(&c.path);
        c.first = c.last = 0;
        rc = journal_load(e, st, &c, n, d);
    }
    mdp_buf_cleanup(&c.dir);
    mdp_buf_cleanup(&c.path);
    return rc;
}

/* ---- the snapshot ---- */

struct snap_ud {
    struct mdp_snapshot_writer w;
    int bad;
};

static int clamp16(const char *v)
{
    long x = v ? strtol(v, NULL, 10) : 0;
    return x < 0 ? 0 : x > 65535 ? 65535 : (int)x;
}

static int code_of(const char *v, const char *const *names, int n, int dflt)
{
    for (int i = 0; v && i < n; i++)
        if (strcmp(v, names[i]) == 0) return i;
    return dflt;
}

/* columns: see SNAP_SQL */
static int snap_row(void *ud, int ncols, const char *const *v)
{
    struct snap_ud *s = ud;
    static const char *const buckets[] = {"0", "1-3", "4-7", "8-14", "15+"};
    static const char *const eng[] = {"low", "medium", "high"};
    static const char *const cs[] = {"unverified", "email_only", "marketing_opted_in"};
    struct mdp_uuid u;
    if (ncols != 20 || !v[0] || mdp_uuid_parse(v[0], &u)) {
        s->bad++;
        return 0;
    }
    struct mdp_snapshot_rec r;
    memset(&r, 0, sizeof r);
    memcpy(r.user_id, u.b, 16);
    r.onb_day = (int16_t)(v[1] ? strtol(v[1], NULL, 10) : 0);
    r.onb_bucket = (uint8_t)code_of(v[2], buckets, 5, 0);
    r.engagement = (uint8_t)code_of(v[3], eng, 3, 0);
    r.consent_state = (uint8_t)code_of(v[4], cs, 3, 0);
    r.persona = mdp_snapshot_writer_string(&s->w, v[5]);
    r.flags = (uint8_t)((v[6] && strcmp(v[6], "true") == 0 ? MDP_SNAP_PERSONALIZATION : 0) |
                        (v[7] && strcmp(v[7], "true") == 0 ? MDP_SNAP_ML : 0) |
                        (v[8] && strcmp(v[8], "true") == 0 ? MDP_SNAP_FEATURES : 0) |
                        (v[9] && strcmp(v[9], "true") == 0 ? MDP_SNAP_ACTIVE : 0) |
                        (v[19] && strcmp(v[19], "true") == 0 ? MDP_SNAP_ANALYTICS : 0));
    r.steps_completed_7d = (uint16_t)clamp16(v[10]);
    r.steps_completed_30d = (uint16_t)clamp16(v[11]);
    r.email_opens_7d = (uint16_t)clamp16(v[12]);
    r.email_clicks_7d = (uint16_t)clamp16(v[13]);
    r.email_opens_30d = (uint16_t)clamp16(v[14]);
    r.email_clicks_30d = (uint16_t)clamp16(v[15]);
    r.login_count_30d = (uint16_t)clamp16(v[16]);
    r.vc_score_delta_7d = v[17] ? (int16_t)strtol(v[17], NULL, 10) : MDP_SNAPSHOT_NULL;
    /* v[18]: "avg|tone|last_activity" packed by SNAP_SQL */
    r.avg_step_centiseconds = -1;
    r.last_activity_days_ago = MDP_SNAPSHOT_NULL;
    r.tone = MDP_SNAPSHOT_NONE;
    if (v[18]) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", v[18]);
        char *a = buf, *t = strchr(a, '|'), *l = t ? strchr(t + 1, '|') : NULL;
        if (t && l) {
            *t++ = '\0';
            *l++ = '\0';
            if (*a) r.avg_step_centiseconds = (int32_t)(strtod(a, NULL) * 100.0 + 0.5);
            if (*t) r.tone = mdp_snapshot_writer_string(&s->w, t);
            if (*l) r.last_activity_days_ago = (int16_t)strtol(l, NULL, 10);
        }
    }
    return mdp_snapshot_writer_add(&s->w, &r);
}

/* every user with a segment or a feature row for the date */
static const char SNAP_SQL[] =
    "SELECT CAST(user_id AS VARCHAR), s.onb_day, s.onb_day_bucket, s.engagement_level, "
    "s.consent_state, coalesce(s.persona_current, u.persona), "
    "coalesce(cp.valid, false), coalesce(cm.valid, false), f.user_id IS NOT NULL, "
    "s.user_id IS NOT NULL, "
    "f.steps_completed_7d, f.steps_completed_30d, f.email_opens_7d, f.email_clicks_7d, "
    "f.email_opens_30d, f.email_clicks_30d, f.login_count_30d, f.vc_score_delta_7d, "
    "CASE WHEN f.user_id IS NOT NULL THEN concat_ws('|', coalesce(CAST(f.avg_step_duration_seconds "
    "AS VARCHAR), ''), coalesce(f.preferred_comm_tone, ''), "
    "coalesce(CAST(f.last_activity_days_ago AS VARCHAR), '')) END, "
    "coalesce(ca.valid, false) "
    "FROM ml_users u "
    "LEFT JOIN ml_out_segments s USING (user_id) "
    "LEFT JOIN ml_out_features f USING (user_id) "
    "LEFT JOIN (SELECT user_id, valid FROM ml_consent WHERE purpose = 'personalization') cp "
    "USING (user_id) "
    "LEFT JOIN (SELECT user_id, valid FROM ml_consent WHERE purpose = 'ml') cm USING (user_id) "
    "LEFT JOIN (SELECT user_id, valid FROM ml_consent WHERE purpose = 'analytics') ca "
    "USING (user_id) "
    "WHERE s.user_id IS NOT NULL OR f.user_id IS NOT NULL";

static int write_snapshot(struct mdp_engine *e, struct mdp_lake *lake, int64_t day,
                          const char *run_id, int64_t *rows, struct mdp_diag *d)
{
    struct snap_ud s;
    memset(&s, 0, sizeof s);
    mdp_snapshot_writer_init(&s.w);
    struct mdp_rows_cb cb = {NULL, snap_row, &s};
    struct mdp_buf bytes, key;
    mdp_buf_init(&bytes);
    mdp_buf_init(&key);
    int rc = mdp_engine_query(e, SNAP_SQL, &cb, d);
    if (!rc && s.bad)
        rc = mdp_diag_set(d, MDP_ERR_INVALID, "snapshot: %d rows without a valid user_id", s.bad);
    if (!rc) rc = mdp_snapshot_writer_bytes(&s.w, day, &bytes);
    char date[11];
    mdp_date_format(day, date, sizeof date);
    if (!rc) {
        mdp_buf_printf(&key, "%s/run-%s/user_context-%s.bin", MDP_SNAPSHOT_TABLE, run_id, date);
        rc = sql_built(&key, "the key of the snapshot", d);
    }
    if (!rc) rc = sql_built(&bytes, "the snapshot", d);
    if (!rc) rc = mdp_store_put(lake->store, key.data, bytes.data, bytes.len, 0, d);
    struct mdp_manifest_file f;
    memset(&f, 0, sizeof f);
    f.key = key.data;
    f.bytes = (int64_t)bytes.len;
    f.rows = (int64_t)s.w.n;
    if (!rc) rc = mdp_sha256_hex(bytes.data, bytes.len, f.sha256);
    if (!rc) rc = mdp_lake_publish(lake, MDP_SNAPSHOT_TABLE, &f, 1, run_id, NULL, d);
    if (!rc) *rows = (int64_t)s.w.n;
    mdp_snapshot_writer_cleanup(&s.w);
    mdp_buf_cleanup(&bytes);
    mdp_buf_cleanup(&key);
    return rc;
}

/* ---- the job ---- */

/* The curated tables the SQL reads; a fact table not published yet (a source that delivered
 * nothing) stands in empty, with the columns the SQL uses. dim_user must exist. */
static const struct {
    const char *name, *empty;
} NEEDED[] = {
    {"dim_user", NULL},
    {"fact_onboarding_steps",
     "SELECT NULL::UUID AS user_id, NULL::VARCHAR AS event_type, NULL::INTEGER AS "
     "duration_seconds, NULL::TIMESTAMP AS \"timestamp\", NULL::INTEGER AS date_key WHERE false"},
    {"fact_email_events",
     "SELECT NULL::UUID AS user_id, NULL::VARCHAR AS event_type, NULL::TIMESTAMP AS "
     "\"timestamp\", NULL::INTEGER AS date_key WHERE false"},
    {"fact_login_oauth",
     "SELECT NULL::UUID AS user_id, NULL::BOOLEAN AS success, NULL::TIMESTAMP AS \"timestamp\", "
     "NULL::INTEGER AS date_key WHERE false"},
    {"fact_visibility_check",
     "SELECT NULL::UUID AS user_id, NULL::INTEGER AS overall_score, NULL::TIMESTAMP AS "
     "\"timestamp\", NULL::INTEGER AS date_key WHERE false"},
};

/* The newest day with curated events, but never later than yesterday (UTC): today is not over. */
static int default_day(struct mdp_engine *e, int64_t *day, struct mdp_diag *d)
{
    struct mdp_buf v;
    mdp_buf_init(&v);
    int rc = mdp_engine_scalar(
        e,
        "SELECT strftime(least(current_date - 1, max(strptime(CAST(k AS VARCHAR), '%Y%m%d'))), "
        "'%Y-%m-%d') FROM (SELECT max(date_key) AS k FROM fact_onboarding_steps UNION ALL "
        "SELECT max(date_key) FROM fact_email_events UNION ALL SELECT max(date_key) FROM "
        "fact_login_oauth UNION ALL SELECT max(date_key) FROM fact_visibility_check)",
        &v, d);
    if (!rc && (!v.data || !*v.data))
        rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND,
                          "the curated facts hold no events yet: nothing to derive (give --date)");
    if (!rc && mdp_date_parse(v.data, day))
        rc = mdp_diag_set(d, MDP_ERR_ENGINE, "unexpected default date '%s'", v.data);
    mdp_buf_cleanup(&v);
    return rc;
}

struct job {
    struct mdp_stage_ctx *ctx;
    struct mdp_engine *e;
    char *inputs, *seg_sql, *feat_sql;
    struct mdp_buf raw, tmp, sql, exp;
};

static int expand_exec(struct job *j, const char *tmpl, const char *date, const char *prefix,
                       const char *what, struct mdp_diag *d)
{
    struct mdp__model_vars mv = {j->raw.data, j->tmp.data, j->ctx->cfg->identity_max_users, date};
    if (mdp__model_expand(tmpl, &mv, &j->exp))
        return mdp_diag_set(d, MDP_ERR_CONFIG, "%s: an unterminated '{{raw}}/...' path", what);
    mdp_buf_reset(&j->sql);
    mdp_buf_printf(&j->sql, "%s%s", prefix, j->exp.data);
    if (mdp_buf_error(&j->exp) || mdp_buf_error(&j->sql))
        return mdp_diag_set(d, MDP_ERR_NOMEM, "%s (%s): out of memory building the SQL", what,
                            date);
    struct mdp_diag ed = {0};
    if (mdp_engine_exec(j->e, j->sql.data, &ed))
        return mdp_diag_set(d, MDP_ERR_ENGINE, "%s (%s): %.400s", what, date, ed.msg);
    return 0;
}

static int build_day(struct job *j, const struct mdp_ml_opts *o, int64_t day, int snapshot,
                     struct mdp_run *run, struct mdp_diag *d)
{
    char date[11], rid[64];
    mdp_date_format(day, date, sizeof date);
    int32_t key = mdp_date_key_from_days(day);
    /* one run folder per date: each date is published (and replaced) on its own */
    snprintf(rid, sizeof rid, "%s-%d", run->run_id, (int)key);
    int rc = expand_exec(j, j->inputs, date, "", "models/ml/inputs.sql", d);
    if (!rc)
        rc = expand_exec(j, j->seg_sql, date, "CREATE OR REPLACE TEMP TABLE ml_out_segments AS ",
                         "models/ml/segments.sql", d);
    if (!rc)
        rc = expand_exec(j, j->feat_sql, date, "CREATE OR REPLACE TEMP TABLE ml_out_features AS ",
                         "models/ml/features.sql", d);
    int64_t rows = 0;
    if (!rc && o->segments) {
        rc = mdp_engine_write_partitions(j->e, j->ctx->lake,
                                         "SELECT * FROM ml_out_segments ORDER BY user_id",
                                         "ml/segments", "segment_date", rid, &key, 1, &rows, d);
        run->out += rows;
    }
    if (!rc && o->features) {
        rc = mdp_engine_write_partitions(j->e, j->ctx->lake,
                                         "SELECT * FROM ml_out_features ORDER BY user_id",
                                         "ml/features", "feature_date", rid, &key, 1, &rows, d);
        run->out += rows;
    }
    if (!rc && snapshot) rc = write_snapshot(j->e, j->ctx->lake, day, rid, &rows, d);
    if (!rc)
        mdp_log(MDP_LOG_INFO, "derived tables built", LOG_STR("date", date),
                LOG_INT("snapshot", snapshot), MDP_LF_END);
    return rc;
}

static int64_t current_snapshot_day(struct mdp_lake *lake)
{
    struct mdp_manifest m;
    struct mdp_diag nd = {0};
    if (mdp_lake_current(lake, MDP_SNAPSHOT_TABLE, &m, &nd)) return -1;
    int64_t day = -1;
    const char *p = m.nfiles == 1 ? strstr(m.files[0].key, "/user_context-") : NULL;
    if (p) {
        char date[11];
        snprintf(date, sizeof date, "%.10s", p + 14);
        if (mdp_date_parse(date, &day)) day = -1;
    }
    mdp_manifest_cleanup(&m);
    return day;
}

/* Reads the SQL, checks the purposes, opens the engine with views over the published tables
 * (empty stand-ins for facts not published yet). */
static int job_open(struct job *j, struct mdp_stage_ctx *ctx, struct mdp_diag *d)
{
    memset(j, 0, sizeof *j);
    j->ctx = ctx;
    mdp_buf_init(&j->raw);
    mdp_buf_init(&j->tmp);
    mdp_buf_init(&j->sql);
    mdp_buf_init(&j->exp);
    char path[1200];
    const char *dir = mdp_config_path(ctx->cfg->models_dir, MDP_SOURCE_DIR "/models");
    int rc = 0;
    for (int i = 0; !rc && i < 3; i++) {
        static const char *const files[] = {"inputs.sql", "segments.sql", "features.sql"};
        char **dst[] = {&j->inputs, &j->seg_sql, &j->feat_sql};
        snprintf(path, sizeof path, "%s/ml/%s", dir, files[i]);
        if (!(*dst[i] = read_file(path, d))) rc = d->code ? d->code : MDP_ERR_IO;
    }
    for (const char *const *p =
             (const char *const[]){"vc_report", "marketing_email", "personalization", "ml", NULL};
         !rc && *p; p++)
        if (!mdp_consent_purpose_find(*p))
            rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                              "consent.purposes lacks '%s', which the derived tables need", *p);
    if (!rc && !(rc = mdp_store_put(ctx->lake->store, "_meta/tmp/empty.csv", "", 0, 0, d)) &&
        ((rc = mdp_store_local_path(ctx->lake->store, "raw", &j->raw)) ||
         (rc = mdp_store_local_path(ctx->lake->store, "_meta/tmp", &j->tmp))))
        mdp_diag_set(d, rc, "the lake's store has no local paths");
    /* an S3 lake: DuckDB reads the raw zone and scratch files from the local cache */
    if (!rc && !(rc = mdp_store_stage(ctx->lake->store, "raw/", d)))
        rc = mdp_store_stage(ctx->lake->store, "_meta/tmp/", d);
    struct mdp_engine_opts eo = {NULL, ctx->cfg->engine_threads, ctx->cfg->engine_memory_limit};
    if (!rc) rc = mdp_engine_open(&eo, &j->e, d);
    struct mdp_diag nd = {0};
    if (!rc) mdp_engine_exec(j->e, "SET TimeZone = 'UTC'", &nd);
    int nviews = 0;
    if (!rc) rc = mdp_curate_attach_all(j->e, ctx->lake, &nviews, d);
    for (size_t i = 0; !rc && i < sizeof NEEDED / sizeof *NEEDED; i++) {
        mdp_buf_reset(&j->sql);
        mdp_buf_printf(&j->sql,
                       "SELECT count(*) FROM duckdb_views() WHERE view_name = '%s' AND NOT "
                       "internal",
                       NEEDED[i].name);
        if ((rc = sql_built(&j->sql, "the SQL that looks for the curated tables", d))) break;
        struct mdp_buf v;
        mdp_buf_init(&v);
        rc = mdp_engine_scalar(j->e, j->sql.data, &v, d);
        int have = !rc && v.data && strcmp(v.data, "1") == 0;
        mdp_buf_cleanup(&v);
        if (rc || have) continue;
        if (!NEEDED[i].empty) {
            rc = mdp_diag_set(d, MDP_ERR_NOT_FOUND,
                              "the curated table %s is not published yet: run `mdp curate` first",
                              NEEDED[i].name);
            break;
        }
        mdp_buf_reset(&j->sql);
        mdp_buf_printf(&j->sql, "CREATE VIEW %s AS %s", NEEDED[i].name, NEEDED[i].empty);
        rc = sql_built(&j->sql, "the SQL of an empty curated table", d);
        if (!rc) rc = mdp_engine_exec(j->e, j->sql.data, d);
    }
    return rc;
}

static void job_close(struct job *j)
{
    mdp_engine_close(j->e);
    free(j->inputs);
    free(j->seg_sql);
    free(j->feat_sql);
    mdp_buf_cleanup(&j->raw);
    mdp_buf_cleanup(&j->tmp);
    mdp_buf_cleanup(&j->sql);
    mdp_buf_cleanup(&j->exp);
}

/* Runs pre + the quoted path + post. */
static int exec_path(struct job *j, const char *pre, const char *path, const char *post,
                     struct mdp_diag *d)
{
    mdp_buf_reset(&j->sql);
    mdp_buf_puts(&j->sql, pre);
    mdp_sql_quote(&j->sql, path);
    mdp_buf_puts(&j->sql, post);
    int rc = sql_built(&j->sql, "a statement that names a file", d);
    return rc ? rc : mdp_engine_exec(j->e, j->sql.data, d);
}

int mdp__ml_export_journal(struct mdp_stage_ctx *ctx, const char *path, struct mdp_diag *d)
{
    struct job j;
    struct mdp_state *st = NULL;
    int64_t n = 0;
    int rc = job_open(&j, ctx, d);
    if (!rc) rc = mdp_state_open_lake(ctx->lake, &st, d);
    if (!rc) rc = mdp__consent_journal_load(j.e, ctx->lake, st, &n, d);
    if (!rc) rc = exec_path(&j, "COPY consent_journal TO ", path, " (FORMAT parquet)", d);
    mdp_state_close(st);
    job_close(&j);
    return rc;
}

int mdp__ml_bare(struct mdp_stage_ctx *ctx, int64_t day, const char *journal, const char *out_dir,
                 struct mdp_diag *d)
{
    struct job j;
    char date[11];
    mdp_date_format(day, date, sizeof date);
    int rc = job_open(&j, ctx, d);
    if (!rc)
        rc = exec_path(&j, "CREATE TEMP TABLE consent_journal AS SELECT * FROM read_parquet(",
                       journal, ")", d);
    /* the same statements as a features run (inputs, segments, features, the snapshot's join),
     * each result copied to Parquet: what a hand-written DuckDB job would do */
    if (!rc) rc = expand_exec(&j, j.inputs, date, "", "models/ml/inputs.sql", d);
    if (!rc)
        rc = expand_exec(&j, j.seg_sql, date, "CREATE OR REPLACE TEMP TABLE ml_out_segments AS ",
                         "models/ml/segments.sql", d);
    if (!rc)
        rc = expand_exec(&j, j.feat_sql, date, "CREATE OR REPLACE TEMP TABLE ml_out_features AS ",
                         "models/ml/features.sql", d);
    static const char *const outs[][2] = {{"ml_out_features", "features.parquet"},
                                          {"ml_out_segments", "segments.parquet"},
                                          {SNAP_SQL, "snapshot.parquet"}};
    for (size_t i = 0; !rc && i < sizeof outs / sizeof *outs; i++) {
        struct mdp_buf copy, path;
        mdp_buf_init(&copy);
        mdp_buf_init(&path);
        mdp_buf_printf(&path, "%s/%s", out_dir, outs[i][1]);
        mdp_buf_printf(&copy, "COPY (%s%s) TO ", i < 2 ? "SELECT * FROM " : "", outs[i][0]);
        if (!mdp_buf_error(&path)) mdp_sql_quote(&copy, path.data); /* else NULL: checked below */
        mdp_buf_puts(&copy, " (FORMAT parquet, COMPRESSION zstd)");
        if (!(rc = sql_built(&path, "the COPY of an ml output", d)) &&
            !(rc = sql_built(&copy, "the COPY of an ml output", d)))
            rc = mdp_engine_exec(j.e, copy.data, d);
        mdp_buf_cleanup(&copy);
        mdp_buf_cleanup(&path);
    }
    job_close(&j);
    return rc;
}

int mdp_ml_build(struct mdp_stage_ctx *ctx, const struct mdp_ml_opts *o, struct mdp_run *run,
                 struct mdp_diag *d)
{
    struct job j;
    struct mdp_state *st = NULL;
    int rc = job_open(&j, ctx, d);
    if (!rc) rc = mdp_state_open_lake(ctx->lake, &st, d);
    int64_t nrec = 0;
    if (!rc) rc = mdp__consent_journal_load(j.e, ctx->lake, st, &nrec, d);
    run->in = nrec;
    int64_t from = o->from_day, to = o->to_day;
    if (!rc && from < 0 && to < 0) {
        rc = default_day(j.e, &from, d);
        to = from;
    }
    if (rc == MDP_ERR_NOT_FOUND && o->skip_if_empty) {
        /* a pipeline on a lake without curated users or events yet: nothing to derive */
        snprintf(run->message, sizeof run->message, "nothing to derive: %.400s", d->msg);
        mdp_log(MDP_LOG_WARN, "nothing to derive", LOG_STR("why", d->msg), MDP_LF_END);
        memset(d, 0, sizeof *d);
        rc = 0;
        from = 0;
        to = -1;
    }
    if (!rc && (from < 0 || to < from) && !(o->skip_if_empty && to < from))
        rc = mdp_diag_set(d, MDP_ERR_INVALID, "the date range is empty");
    int64_t snap_day = o->features ? current_snapshot_day(ctx->lake) : -1;
    for (int64_t day = from; !rc && day <= to; day++)
        rc = build_day(&j, o, day, o->features && day == to && to >= snap_day, run, d);
    if (!rc && to >= from)
        snprintf(run->message, sizeof run->message, "%s%s%s for %lld day(s), %lld journal records",
                 o->segments ? "segments" : "", o->segments && o->features ? " and " : "",
                 o->features ? "features" : "", (long long)(to - from + 1), (long long)nrec);
    mdp_state_close(st);
    job_close(&j);
    return rc;
}

static int stage(struct mdp_stage_ctx *ctx, int seg, int feat, struct mdp_run *run,
                 struct mdp_diag *d)
{
    struct mdp_ml_opts o = {ctx->day, ctx->day, seg, feat, 1};
    return mdp_ml_build(ctx, &o, run, d);
}

int mdp_stage_segments(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d)
{
    return stage(ctx, 1, 0, run, d);
}

int mdp_stage_features(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d)
{
    return stage(ctx, 0, 1, run, d);
}

int mdp_stage_consent(struct mdp_stage_ctx *ctx, struct mdp_run *run, struct mdp_diag *d)
{
    struct mdp_state *st = NULL;
    struct mdp_consent_import im;
    int rc = mdp_state_open_lake(ctx->lake, &st, d);
    if (!rc) rc = mdp_consent_import(ctx->lake, st, mdp_time_now_ms(), &im, d);
    mdp_state_close(st);
    if (rc) return rc;
    run->in = im.changes;
    run->out = im.imported;
    run->duplicates = im.already;
    snprintf(run->message, sizeof run->message,
             "%lld ConsentJournal changes imported, %lld already in the journal, %lld other "
             "changes, from %lld raw objects",
             (long long)im.imported, (long long)im.already, (long long)im.ignored,
             (long long)im.objects);
    return 0;
}
