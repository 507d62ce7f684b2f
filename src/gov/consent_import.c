/* The consent import (mdp/consent.h): ConsentJournal changes that arrived through the DynamoDB
 * stream connector enter the platform's journal, so that they count the same as the platform's own
 * records. The raw objects are read again through ingest's verdicts (mdp_ingest_verdicts: the
 * ddb connector's parser and validation, so what was quarantined there is skipped here); each valid
 * INSERT of ConsentJournal becomes one journal record with evidence "ddb:<eventID>". The eventIDs
 * already in the journal make the import idempotent, also after a crash between two appends. A
 * VcTokens change to status verified counts as a double opt-in confirmation (a vc_report grant,
 * source ddb-doi), as the platform's own `mdp consent doi confirm`. */
#include "mdp/buf.h"
#include "mdp/consent.h"
#include "mdp/ingest.h"
#include "mdp/log.h"
#include "mdp/strset.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVIDENCE_PREFIX "ddb:"

struct import {
    struct mdp_state *s;
    struct mdp_strset *done;
    struct mdp_consent_import *st;
    struct mdp_diag *d;
    int64_t now_ms;
};

static int remember(const struct mdp_consent_record *r, void *ud)
{
    struct import *im = ud;
    size_t n = strlen(EVIDENCE_PREFIX);
    if (strncmp(r->source, "ddb", 3) != 0 || strncmp(r->evidence, EVIDENCE_PREFIX, n) != 0)
        return 0;
    int rc = mdp_strset_add(im->done, r->evidence + n, strlen(r->evidence + n));
    return rc < 0 ? rc : 0;
}

static const char *str_at(json_object *o, const char *k1, const char *k2)
{
    json_object *a, *b;
    if (!json_object_object_get_ex(o, k1, &a)) return NULL;
    if (k2 && !json_object_object_get_ex(a, k2, &b)) return NULL;
    json_object *v = k2 ? b : a;
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int append(struct import *im, struct mdp_consent_record *c, const char *id, int64_t event_ms)
{
    snprintf(c->evidence, sizeof c->evidence, EVIDENCE_PREFIX "%.400s", id);
    /* judged against the change's own time: a replay next year is not "in the future" */
    int rc = mdp_consent_append(im->s, c, event_ms > im->now_ms ? im->now_ms : event_ms, im->d);
    if (rc) return rc;
    if ((rc = mdp_strset_add(im->done, id, strlen(id))) < 0) return rc;
    im->st->imported++;
    return 0;
}

static int is_table(json_object *r, const char *name)
{
    const char *table = str_at(r, "tableName", NULL), *arn = str_at(r, "eventSourceARN", NULL);
    char pat[64];
    snprintf(pat, sizeof pat, ":table/%s/", name);
    return (table && strcmp(table, name) == 0) || (arn && strstr(arn, pat));
}

/* A VcTokens change from pending to verified is a double opt-in confirmation: the same journal
 * record as `mdp consent doi confirm` appends (a vc_report grant), source ddb-doi. */
static int token_change(struct import *im, json_object *dyn, const char *id, int64_t event_ms)
{
    json_object *ni, *oi;
    if (!json_object_object_get_ex(dyn, "NewImage", &ni) ||
        !json_object_object_get_ex(dyn, "OldImage", &oi))
        return im->st->ignored++, 0;
    const char *now = str_at(ni, "status", "S"), *before = str_at(oi, "status", "S");
    const char *email = str_at(ni, "email_lower", "S"), *at = str_at(ni, "verified_at", "S");
    if (!now || strcmp(now, "verified") != 0 || (before && strcmp(before, "verified") == 0) ||
        !email || !mdp_consent_purpose_find("vc_report"))
        return im->st->ignored++, 0;
    if (mdp_strset_has(im->done, id, strlen(id))) return im->st->already++, 0;
    struct mdp_consent_record c;
    memset(&c, 0, sizeof c);
    int rc = mdp_consent_subject(&c, email, NULL, im->d);
    if (rc) return rc;
    if (!at || mdp_consent_time_parse(at, &c.ts_ms) || c.ts_ms > event_ms) c.ts_ms = event_ms;
    snprintf(c.purpose, sizeof c.purpose, "vc_report");
    snprintf(c.source, sizeof c.source, "ddb-doi");
    c.granted = 1;
    return append(im, &c, id, event_ms);
}

static int one_change(void *ud, const struct mdp_verdict *v)
{
    struct import *im = ud;
    if (v->kind != MDP_VERDICT_VALID || !v->record) return 0; /* ingest set it aside or saw it */
    json_object *r = (json_object *)v->record, *dyn, *ni;
    int64_t event_ms = v->event_ms;
    im->st->changes++;
    const char *ev = str_at(r, "eventName", NULL), *id = str_at(r, "eventID", NULL);
    int consent = is_table(r, "ConsentJournal");
    if (id && ev && strcmp(ev, "MODIFY") == 0 && is_table(r, "VcTokens") &&
        json_object_object_get_ex(r, "dynamodb", &dyn))
        return token_change(im, dyn, id, event_ms);
    if (!consent || !ev || strcmp(ev, "INSERT") != 0 || !id ||
        !json_object_object_get_ex(r, "dynamodb", &dyn) ||
        !json_object_object_get_ex(dyn, "NewImage", &ni)) {
        /* journal items are never modified; a TTL REMOVE at the end of retention is expected */
        if (consent && ev && strcmp(ev, "INSERT") != 0)
            mdp_log(MDP_LOG_WARN, "a ConsentJournal change other than INSERT is not imported",
                    LOG_STR("event_name", ev), LOG_STR("event_id", id ? id : ""), MDP_LF_END);
        im->st->ignored++;
        return 0;
    }
    if (mdp_strset_has(im->done, id, strlen(id))) {
        im->st->already++;
        return 0;
    }
    const char *purpose = str_at(ni, "consent_type", "S"), *dec = str_at(ni, "decision", "S");
    if (purpose && !mdp_consent_purpose_find(purpose)) {
        /* ingest quarantines these with a configuration; a pure re-read does not know the list */
        mdp_log(MDP_LOG_WARN, "a ConsentJournal change names no configured purpose; not imported",
                LOG_STR("event_id", id), MDP_LF_END);
        im->st->ignored++;
        return 0;
    }
    struct mdp_consent_record c;
    memset(&c, 0, sizeof c);
    int rc = mdp_consent_subject(&c, str_at(ni, "email", "S"), str_at(ni, "user_id", "S"), im->d);
    const char *ts = str_at(ni, "ts", "S"), *ex = str_at(ni, "expires_at", "S");
    if (!ex) ex = str_at(ni, "expires_at", "N");
    /* the connector validated these fields; a failure here means the two disagree */
    if (!rc &&
        (!purpose || !dec || !ts || strlen(purpose) >= sizeof c.purpose ||
         mdp_consent_decision_parse(dec, &c.granted) || mdp_consent_time_parse(ts, &c.ts_ms) ||
         (ex && mdp_consent_time_parse(ex, &c.expires_at_ms))))
        rc = mdp_diag_set(im->d, MDP_ERR_INVALID, "ConsentJournal change %s is not a record", id);
    if (rc) return rc;
    snprintf(c.purpose, sizeof c.purpose, "%s", purpose);
    snprintf(c.source, sizeof c.source, "ddb");
    return append(im, &c, id, event_ms);
}

struct objects {
    char **v;
    size_t n, cap;
};

static int collect(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct objects *o = ud;
    if (mdp_grow(&o->v, &o->cap, o->n, sizeof *o->v, 64)) return MDP_ERR_NOMEM;
    if (!(o->v[o->n] = strdup(key))) return MDP_ERR_NOMEM;
    o->n++;
    return 0;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mdp_consent_import(struct mdp_lake *lake, struct mdp_state *s, int64_t now_ms,
                       struct mdp_consent_import *out, struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    struct import im = {s, mdp_strset_new(), out, d, now_ms};
    struct objects objs = {0};
    if (!im.done) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    /* a journal written before pseudonymization is re-chained first (once; a no-op after) */
    struct mdp_consent_migration mig;
    int rc = mdp_consent_migrate(lake, s, &mig, d);
    if (!rc) rc = mdp_consent_each(s, remember, &im, d);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "raw/%s/", mdp_connector_find("ddb")->source);
    if (!rc) rc = mdp_store_list(lake->store, prefix, collect, &objs, d);
    if (!rc && objs.n) qsort(objs.v, objs.n, sizeof *objs.v, by_key); /* day, then content hash */
    for (size_t i = 0; i < objs.n && !rc; i++) {
        struct mdp_buf bytes;
        mdp_buf_init(&bytes);
        rc = mdp_store_get(lake->store, objs.v[i], &bytes, d);
        if (!rc) {
            rc = mdp_ingest_verdicts("ddb", objs.v[i], bytes.data, bytes.len, NULL, NULL,
                                     one_change, &im, NULL);
            if (rc && !d->msg[0]) mdp_diag_set(d, rc, "%s: %s", objs.v[i], mdp_strerror(rc));
            out->objects++;
        }
        mdp_buf_cleanup(&bytes);
    }
    for (size_t i = 0; i < objs.n; i++)
        free(objs.v[i]);
    free(objs.v);
    mdp_strset_free(im.done);
    return rc;
}
