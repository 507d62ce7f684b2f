/* Personalization (spec 6 and 9): the copy catalogue, the policy (rules, then the bandit), signed
 * decision ids, feedback, and the snapshot holder the requests read. */
#include "mdp/alloc.h"
#include "mdp/hash.h"
#include "mdp/log.h"
#include "mdp/time.h"
#include "mdp/uuid.h"
#include "serve_internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

int mdp__error(struct mdp_buf *out, int status, const char *code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_object *o = json_object_new_object(), *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_string(code));
    json_object_object_add(e, "message", json_object_new_string(msg));
    json_object_object_add(o, "error", e);
    mdp_buf_reset(out);
    mdp_buf_puts(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return status;
}

/* ---- the catalogue ---- */

int mdp__catalogue_load(const struct mdp_config *cfg, struct mdp__catalogue *c, struct mdp_diag *d)
{
    memset(c, 0, sizeof *c);
    const struct mdp_strlist *l = &cfg->pz_surfaces;
    if (l->n == 0) return mdp_diag_set(d, MDP_ERR_CONFIG, "personalize.surfaces is empty");
    if (!(c->v = calloc((size_t)l->n, sizeof *c->v)))
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < l->n; i++) {
        const char *a = l->v[i], *b = strchr(a, ':'), *t = b ? strchr(b + 1, ':') : NULL;
        if (!b || !t || b == a || t == b + 1 || !t[1] || b - a >= 48 || t - b - 1 >= 48 ||
            strlen(t + 1) >= 24 || strchr(t + 1, ':')) {
            mdp__catalogue_free(c);
            return mdp_diag_set(d, MDP_ERR_CONFIG,
                                "personalize.surfaces: '%s' is not SURFACE:VARIANT:TONE", a);
        }
        struct mdp__variant *v = &c->v[c->n];
        snprintf(v->surface, sizeof v->surface, "%.*s", (int)(b - a), a);
        snprintf(v->name, sizeof v->name, "%.*s", (int)(t - b - 1), b + 1);
        snprintf(v->tone, sizeof v->tone, "%s", t + 1);
        for (const char *q = a; q < a + strlen(a); q++)
            if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_' || *q == '-' ||
                  *q == ':')) {
                mdp__catalogue_free(c);
                return mdp_diag_set(d, MDP_ERR_CONFIG,
                                    "personalize.surfaces: '%s' may hold only a-z, 0-9, _ and -",
                                    a);
            }
        for (int k = 0; k < c->n; k++)
            if (strcmp(c->v[k].name, v->name) == 0) {
                mdp__catalogue_free(c);
                return mdp_diag_set(d, MDP_ERR_CONFIG,
                                    "personalize.surfaces: variant '%s' is listed twice", v->name);
            }
        c->n++;
    }
    return 0;
}

void mdp__catalogue_free(struct mdp__catalogue *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* the variants of a surface, in catalogue order; returns their count */
static int surface_variants(const struct mdp__catalogue *c, const char *surface,
                            const struct mdp__variant **out, int cap)
{
    int n = 0;
    for (int i = 0; i < c->n && n < cap; i++)
        if (strcmp(c->v[i].surface, surface) == 0) out[n++] = &c->v[i];
    return n;
}

static const struct mdp__variant *variant_named(const struct mdp__catalogue *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0) return &c->v[i];
    return NULL;
}

/* ---- the snapshot holder ---- */

int mdp__snap_reload(struct mdp__snap_holder *h, struct mdp_lake *lake, struct mdp_diag *d)
{
    struct mdp_manifest m;
    struct mdp_diag nd = {0};
    if (mdp_lake_current(lake, MDP_SNAPSHOT_TABLE, &m, &nd)) return 0; /* none yet */
    int64_t version = m.version;
    mdp_manifest_cleanup(&m);
    pthread_rwlock_rdlock(&h->lock);
    int same = h->snap && h->version == version;
    pthread_rwlock_unlock(&h->lock);
    if (same) return 0;
    struct mdp_snapshot *s;
    int rc = mdp_snapshot_open_lake(lake, &s, d);
    if (rc) return -1;
    pthread_rwlock_wrlock(&h->lock);
    struct mdp_snapshot *old = h->snap;
    h->snap = s;
    h->version = version;
    pthread_rwlock_unlock(&h->lock);
    mdp_snapshot_close(old); /* no reader holds it: they hold the read lock while using it */
    return 1;
}

/* ---- decision ids ----
 * <uuid7>.<hex of context \x1f variant \x1f policy>[.<owner>].<tag>: owner, 32 hex digits of the
 * user id's 16 bytes, is there when the decision log names the user (they consented to
 * personalization), so that their feedback can be counted as theirs and an erasure can take it
 * back; the id carries no more than the decision log holds. Ids without it (made before issue 12,
 * or for users without consent) are still valid; their feedback counts without an owner. */

/* appends the hex digits of the len bytes at s to out + *k, as far as whole bytes fit in n bytes
 * (the NUL included) */
static void hex_into(const char *s, size_t len, char *out, size_t *k, size_t n)
{
    size_t room = *k + 1 < n ? (n - *k - 1) / 2 : 0;
    if (len > room) len = room;
    mdp_hex_encode((const unsigned char *)s, len, out + *k);
    *k += 2 * len;
}

static struct mdp_rng *rng(void);

static uint64_t rng64(void *ud)
{
    (void)ud;
    return mdp_rng_next(rng());
}

/* A UUIDv7 from this thread's generator: no lock, no system call per id. */
static void thread_uuid7(struct mdp_uuid *u)
{
    static __thread struct mdp_uuid7_gen gen;
    static __thread int ready;
    if (!ready) {
        mdp_uuid7_gen_init(&gen, rng64, NULL);
        ready = 1;
    }
    mdp_uuid7_next(&gen, mdp_time_now_ms(), u);
}

static int unhex(const char *s, size_t len, char *out, size_t n)
{
    if (len % 2 || len / 2 >= n) return -1;
    for (size_t i = 0; i < len; i += 2) {
        unsigned v;
        char two[3] = {s[i], s[i + 1], 0};
        if (sscanf(two, "%2x", &v) != 1 || !v) return -1;
        out[i / 2] = (char)v;
    }
    out[len / 2] = '\0';
    return 0;
}

/* n bytes from 2n lowercase hex digits at s (as mdp_hex_encode writes them): 0, or -1 */
static int hex_bytes(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return -1;
        out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
    }
    return 0;
}

/* The decision id's tag: SipHash-2-4 with a 128-bit tag (OpenSSL's EVP_MAC "SIPHASH"), keyed with
 * the first 16 bytes of the service's decision key, hex, first 16 digits (64 bits, as a 64-bit
 * HMAC prefix). SipHash is a keyed PRF built as a MAC for short inputs: it costs a third of an
 * HMAC-SHA256 here, and it is on every decision and every feedback. Each thread keeps a context
 * with the key set up. Without a context (out of memory) the tag is left empty: the decision id
 * then fails verification instead of carrying a guessable tag. */
static pthread_key_t mac_key;
static pthread_once_t mac_once = PTHREAD_ONCE_INIT;

static void mac_free(void *ctx)
{
    EVP_MAC_CTX_free(ctx);
}

/* the contexts are freed when their threads end */
static void mac_key_create(void)
{
    pthread_key_create(&mac_key, mac_free);
}

static EVP_MAC_CTX *mac_ctx(const struct mdp__pz *p)
{
    unsigned char key[16];
    for (int i = 0; i < 16; i++) {
        char two[3] = {p->key[2 * i], p->key[2 * i + 1], 0};
        char *end;
        key[i] = (unsigned char)strtoul(two, &end, 16);
        if (*end || !two[0]) return NULL; /* the stored key is 64 hex digits */
    }
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    size_t size = 16;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                           OSSL_PARAM_construct_end()};
    if (ctx && !EVP_MAC_init(ctx, key, sizeof key, params)) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    OPENSSL_cleanse(key, sizeof key);
    return ctx;
}

int mdp__pz_sign_check(const struct mdp__pz *p)
{
    EVP_MAC_CTX *ctx = mac_ctx(p);
    EVP_MAC_CTX_free(ctx);
    return ctx ? 0 : MDP_ERR_CONFIG;
}

/* the tag of the len bytes at body into out (16 hex digits and a NUL) */
static void sign(const struct mdp__pz *p, const char *body, size_t len, char out[17])
{
    static __thread EVP_MAC_CTX *ctx;
    static __thread const struct mdp__pz *owner;
    unsigned char d[16];
    size_t n = 0;
    if (!ctx || owner != p) {
        EVP_MAC_CTX_free(ctx);
        ctx = mac_ctx(p);
        owner = ctx ? p : NULL;
        pthread_once(&mac_once, mac_key_create);
        pthread_setspecific(mac_key, ctx);
    }
    int ok = ctx && EVP_MAC_init(ctx, NULL, 0, NULL) &&
             EVP_MAC_update(ctx, (const unsigned char *)body, len) &&
             EVP_MAC_final(ctx, d, &n, sizeof d) && n == sizeof d;
    if (ok)
        mdp_hex_encode(d, 8, out);
    else
        memset(out, 0, 16);
    out[16] = '\0';
}

/* Writes the decision id into out (n > 37 bytes): <uuid7>.<hex of context 0x1f variant 0x1f
 * policy>[.<owner's 32 hex>].<tag>, built in place (this is on every decision). owner (NULL:
 * none) is the user the decision log names. */
static void decision_id(const struct mdp__pz *p, const char *context, const char *variant,
                        const char *policy, const struct mdp_uuid *owner, char *out, size_t n)
{
    struct mdp_uuid u;
    thread_uuid7(&u);
    mdp_uuid_format(&u, out);
    out[36] = '.';
    size_t k = 37;
    const char *in[3] = {context, variant, policy};
    for (int i = 0; i < 3; i++) {
        if (i) hex_into("\x1f", 1, out, &k, n);
        hex_into(in[i], strlen(in[i]), out, &k, n);
    }
    if (owner && k + 34 <= n) {
        out[k] = '.';
        mdp_hex_encode(owner->b, 16, out + k + 1);
        k += 33;
    }
    char tag[17];
    sign(p, out, k, tag);
    if (k + 18 <= n) {
        out[k] = '.';
        memcpy(out + k + 1, tag, 17);
    }
}

/* Parses and checks a decision id: its signature, its age. owner (37 bytes) gets the user id the
 * id names, "" for an id without one. */
static int parse_decision(const struct mdp__pz *p, const char *id, char *context, size_t cn,
                          char *variant, size_t vn, char *policy, size_t pn, char *uid, char *owner,
                          const char **why)
{
    const char *dot1 = strchr(id, '.'), *dot2 = dot1 ? strrchr(id, '.') : NULL;
    if (!dot1 || dot2 == dot1 || strlen(id) > 900 || dot1 - id != 36) {
        *why = "not a decision id of this service";
        return -1;
    }
    /* the owner's segment, when there is one, ends the signed part */
    const char *dot3 = strchr(dot1 + 1, '.');
    owner[0] = '\0';
    char body[900], mac[17];
    snprintf(body, sizeof body, "%.*s", (int)(dot2 - id), id);
    sign(p, body, strlen(body), mac);
    if (strlen(dot2 + 1) != 16 || CRYPTO_memcmp(mac, dot2 + 1, 16) != 0) {
        *why = "the decision id's signature does not match";
        return -1;
    }
    snprintf(uid, 37, "%.36s", id);
    if (dot3 != dot2) {
        struct mdp_uuid o;
        if (dot2 - dot3 - 1 != 32 || strchr(dot3 + 1, '.') != dot2 ||
            hex_bytes(dot3 + 1, 16, o.b) != 0) {
            *why = "the decision id is damaged";
            return -1;
        }
        mdp_uuid_format(&o, owner);
        dot2 = dot3;
    }
    char pair[400];
    if (unhex(dot1 + 1, (size_t)(dot2 - dot1 - 1), pair, sizeof pair)) {
        *why = "the decision id is damaged";
        return -1;
    }
    char *sep = strchr(pair, '\x1f'), *sep2 = sep ? strchr(sep + 1, '\x1f') : NULL;
    if (!sep2) {
        *why = "the decision id is damaged";
        return -1;
    }
    *sep = *sep2 = '\0';
    snprintf(context, cn, "%.299s", pair);
    snprintf(variant, vn, "%s", sep + 1);
    snprintf(policy, pn, "%s", sep2 + 1);
    struct mdp_uuid u;
    if (mdp_uuid_parse(uid, &u)) {
        *why = "the decision id is damaged";
        return -1;
    }
    int64_t age = mdp_time_now_ms() - mdp_uuid7_time_ms(&u);
    if (age > (int64_t)p->cfg->pz_ttl_h * 3600000) {
        *why = "the decision is older than personalize.decision_ttl_hours";
        return -2;
    }
    return 0;
}

/* ---- the policy ---- */

static __thread struct mdp_rng tl_rng;
static __thread int tl_seeded;

static struct mdp_rng *rng(void)
{
    if (!tl_seeded) {
        uint64_t seed;
        if (getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = (uint64_t)mdp_time_now_ms();
        mdp_rng_seed(&tl_rng, seed);
        tl_seeded = 1;
    }
    return &tl_rng;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static const char *bucket_of(long day)
{
    return day <= 0 ? "0" : day <= 3 ? "1-3" : day <= 7 ? "4-7" : day <= 14 ? "8-14" : "15+";
}

struct answer {
    const struct mdp__variant *v;
    const char *reason, *policy;
    double propensity;
    char context[300];
};

/* owner (NULL: none), the user's parsed id, when the decision log may name them (consent): the
 * decision id then names them too */
static int respond(struct mdp__pz *p, const struct answer *a, const char *user,
                   const struct mdp_uuid *owner, struct mdp_buf *out)
{
    char id[1000];
    decision_id(p, a->context, a->v->name, a->policy, owner, id, sizeof id);
    /* catalogue names are checked words, reason and policy constants, the id hex: no escaping */
    /* propensity with 6 decimals, without printf's float formatting (this is the hot path) */
    char prop[16];
    long micro = (long)(a->propensity * 1e6 + 0.5);
    prop[0] = (char)('0' + micro / 1000000);
    prop[1] = '.';
    for (int i = 7; i >= 2; i--, micro /= 10)
        prop[i] = (char)('0' + micro % 10);
    prop[8] = '\0';
    struct mdp_piece name = MDP_STR(a->v->name), surface = MDP_STR(a->v->surface);
    struct mdp_piece reason = MDP_STR(a->reason), policy = MDP_STR(a->policy);
    struct mdp_piece pv = {prop, 8};
    const struct mdp_piece parts[] = {MDP_LIT("{\"decision_id\":\""),
                                      MDP_STR(id),
                                      MDP_LIT("\",\"variant\":\""),
                                      name,
                                      MDP_LIT("\",\"copy_id\":\""),
                                      surface,
                                      MDP_LIT("."),
                                      name,
                                      MDP_LIT("\",\"reason\":\""),
                                      reason,
                                      MDP_LIT("\",\"propensity\":"),
                                      pv,
                                      MDP_LIT(",\"policy\":\""),
                                      policy,
                                      MDP_LIT("\"}")};
    mdp_buf_reset(out);
    mdp_buf_cat(out, parts, sizeof parts / sizeof *parts);
    /* the decision log, for offline evaluation; without the user's id when they did not consent */
    if (p->committer) {
        /* the time text changes once a second per thread: format that part only then */
        static __thread int64_t sec = -1;
        static __thread char ts[40];
        int64_t now = mdp_time_now_ms();
        if (now / 1000 != sec) {
            sec = now / 1000;
            mdp_time_format_ms(sec * 1000, ts, sizeof ts); /* ...:SS.000Z */
        }
        size_t tl = strlen(ts);
        if (tl >= 5) {
            ts[tl - 4] = (char)('0' + now % 1000 / 100);
            ts[tl - 3] = (char)('0' + now % 100 / 10);
            ts[tl - 2] = (char)('0' + now % 10);
        }
        /* the decision by its UUID (the rest of its id is context, variant, policy, signature),
         * written straight into this thread's log buffer */
        struct mdp_buf *line =
            mdp__committer_begin(p->committer, "serve", "decisions", mdp_days_from_ms(now));
        if (line) {
            size_t mark = line->len;
            const struct mdp_piece lp[] = {
                MDP_LIT("{\"decision\":\""),  {id, 36}, MDP_LIT("\",\"variant\":\""),  name,
                MDP_LIT("\",\"reason\":\""),  reason,   MDP_LIT("\",\"propensity\":"), pv,
                MDP_LIT(",\"policy\":\""),    policy,   MDP_LIT("\",\"ts\":\""),       MDP_STR(ts),
                MDP_LIT("\",\"surface\":\""), surface,  MDP_LIT("\",\"context\":")};
            int bad = mdp_buf_cat(line, lp, sizeof lp / sizeof *lp);
            bad |= mdp_buf_json_str(line, a->context);
            if (owner && user) {
                /* a parsed UUID: nothing to escape */
                const struct mdp_piece up[] = {MDP_LIT(",\"user_id\":\""), MDP_STR(user),
                                               MDP_LIT("\"")};
                bad |= mdp_buf_cat(line, up, 3);
            }
            bad |= mdp_buf_cat(line, &MDP_LIT("}\n"), 1);
            if (bad) /* never half a line; the next request may append again */
                mdp_buf_truncate(line, mark);
            mdp__committer_end(p->committer);
        }
    }
    return 200;
}

/* ---- the decision log's suppression filter ---- */

#define LOG_UID_FIELD ",\"user_id\":\""
#define LOG_UID_CACHE 4096 /* users remembered per call (a flush names the same users often) */

struct uid_seen {
    char id[36];
    unsigned char state; /* 0 free, 1 kept, 2 suppressed */
};

/* the user id a decision line ends with (..."user_id":"<36>"}), or NULL */
static const char *line_user(const char *b, const char *e)
{
    size_t fl = sizeof LOG_UID_FIELD - 1;
    if ((size_t)(e - b) < fl + 38 || e[-1] != '}' || e[-2] != '"') return NULL;
    const char *f = e - 2 - 36 - fl;
    return memcmp(f, LOG_UID_FIELD, fl) == 0 ? f + fl : NULL;
}

size_t mdp__pz_log_filter(void *ud, char *data, size_t len)
{
    struct mdp__pz *p = ud;
    if (!p->suppress || !len) return len;
    if (p->state) {
        struct mdp_diag d = {0};
        pthread_mutex_lock(p->state_mu);
        int rc = mdp_suppress_live_refresh(p->suppress, p->state, NULL, &d);
        pthread_mutex_unlock(p->state_mu);
        if (rc) /* the list in force stays: what it names is still dropped */
            mdp_log(MDP_LOG_ERROR, "suppression list not reloaded before a decision-log write",
                    LOG_STR("error", d.msg), MDP_LF_END);
    }
    if (!mdp_suppress_live_count(p->suppress)) return len;
    struct uid_seen *seen = mdp_calloc(LOG_UID_CACHE, sizeof *seen); /* NULL: match every line */
    char *w = data;
    long long dropped = 0;
    for (char *b = data, *end = data + len; b < end;) {
        char *nl = memchr(b, '\n', (size_t)(end - b));
        char *e = nl ? nl : end, *next = nl ? nl + 1 : end;
        const char *uid = line_user(b, e);
        int drop = 0;
        if (uid) {
            struct uid_seen *slot = NULL;
            if (seen) {
                uint32_t h = 2166136261u; /* FNV-1a over the id */
                for (int i = 0; i < 36; i++)
                    h = (h ^ (unsigned char)uid[i]) * 16777619u;
                slot = &seen[h % LOG_UID_CACHE];
            }
            if (slot && slot->state && memcmp(slot->id, uid, 36) == 0) {
                drop = slot->state == 2;
            } else {
                drop = mdp_suppress_live_match(p->suppress, uid, 36);
                if (slot) {
                    memcpy(slot->id, uid, 36);
                    slot->state = (unsigned char)(drop ? 2 : 1);
                }
            }
        }
        if (drop) {
            dropped++;
        } else {
            if (w != b) memmove(w, b, (size_t)(next - b));
            w += next - b;
        }
        b = next;
    }
    free(seen);
    if (dropped) {
        p->log_suppressed += dropped;
        mdp_log(MDP_LOG_INFO, "decision-log lines of erased people dropped",
                LOG_INT("lines", dropped), MDP_LF_END);
    }
    return (size_t)(w - data);
}

/* Rejects context keys off the allowed list (spec 6: no sensitive attributes). */
static int check_key(struct mdp__pz *p, const char *k, struct mdp_buf *out)
{
    if (mdp_strlist_has(&p->cfg->pz_allowed, k)) return 0;
    return mdp__error(out, 400, "context_not_allowed",
                      "context key '%.64s' is not allowed (personalize.allowed_context): no "
                      "sensitive attributes",
                      k);
}

int mdp__pz_req_add(struct mdp__pz *p, struct mdp__pz_req *rq, const char *key, const char *value,
                    struct mdp_buf *out)
{
    if (!strcmp(key, "user_id")) {
        rq->user_id = value;
    } else if (!strcmp(key, "surface")) {
        rq->surface = value;
    } else {
        int rc = check_key(p, key, out);
        if (rc) return rc;
        if (!strcmp(key, "persona"))
            rq->persona = value;
        else if (!strcmp(key, "tone"))
            rq->tone = value;
        else if (!strcmp(key, "address"))
            rq->address = value;
        else if (!strcmp(key, "onb_day")) {
            char *end;
            long v = strtol(value, &end, 10);
            if (!*value || *end || v < 0 || v > 100000)
                return mdp__error(out, 400, "invalid_context", "onb_day is a whole number of days");
            rq->onb_day = v;
        }
    }
    return 0;
}

int mdp__personalize(struct mdp__pz *p, json_object *req, struct mdp_buf *out)
{
    struct mdp__pz_req rq = {0};
    rq.onb_day = -1;
    json_object_object_foreach(req, key, val)
    {
        if (!strcmp(key, "context")) {
            if (!json_object_is_type(val, json_type_object))
                return mdp__error(out, 400, "invalid_context", "context must be a JSON object");
            json_object_object_foreach(val, k, v)
            {
                char num[32];
                const char *text = NULL;
                if (json_object_is_type(v, json_type_string))
                    text = json_object_get_string(v);
                else if (json_object_is_type(v, json_type_int))
                    text = (snprintf(num, sizeof num, "%lld", (long long)json_object_get_int64(v)),
                            num);
                int rc = text ? 0 : check_key(p, k, out);
                if (rc) return rc;
                if (!text)
                    return mdp__error(out, 400, "invalid_context",
                                      "context key '%.64s' is not a string", k);
                if ((rc = mdp__pz_req_add(p, &rq, k, text, out))) return rc;
            }
        } else if (!strcmp(key, "user_id") || !strcmp(key, "surface")) {
            if (!json_object_is_type(val, json_type_string))
                return mdp__error(out, 400, "invalid_field", "%s is a string", key);
            mdp__pz_req_add(p, &rq, key, json_object_get_string(val), out);
        } else {
            return mdp__error(out, 400, "unknown_field",
                              "unknown field '%.64s' (user_id, surface, context)", key);
        }
    }
    return mdp__personalize_req(p, &rq, out);
}

int mdp__personalize_req(struct mdp__pz *p, const struct mdp__pz_req *rq, struct mdp_buf *out)
{
    const char *user = rq->user_id, *surface = rq->surface;
    if (!surface) return mdp__error(out, 400, "missing_surface", "surface is required");
    const struct mdp__variant *vs[64];
    int n = surface_variants(&p->cat, surface, vs, 64);
    if (!n)
        return mdp__error(out, 404, "unknown_surface",
                          "surface '%.64s' has no variants (personalize.surfaces)", surface);
    struct mdp_uuid uid;
    if (user && mdp_uuid_parse(user, &uid))
        return mdp__error(out, 400, "invalid_user_id", "user_id is not a UUID");
    struct answer a; /* context is written below: not zeroed on this hot path */
    a.v = vs[0];
    a.reason = a.policy = "default";
    a.propensity = 1.0;
    const char *persona = rq->persona, *tone = rq->tone, *address = rq->address;
    long onb = rq->onb_day;
    int consent = 0, engagement = -1;
    char persona_buf[32] = "", tone_buf[32] = "";
    pthread_rwlock_rdlock(&p->snap->lock);
    const struct mdp_snapshot_rec *r =
        user && p->snap->snap ? mdp_snapshot_find(p->snap->snap, uid.b) : NULL;
    if (r) {
        consent = (r->flags & MDP_SNAP_PERSONALIZATION) != 0;
        /* engagement is derived from the app's usage events: only with analytics consent (spec
         * 7, issue 11); without it the engagement rule does not apply (persona and tone are
         * profile data under the contract, the bandit context may use them) */
        engagement = (r->flags & MDP_SNAP_ANALYTICS) ? r->engagement : -1;
        const char *sp = mdp_snapshot_string(p->snap->snap, r->persona);
        const char *st = mdp_snapshot_string(p->snap->snap, r->tone);
        const char *one[1] = {sp ? sp : ""};
        mdp_join(persona_buf, sizeof persona_buf, "", one, 1);
        one[0] = st ? st : "";
        mdp_join(tone_buf, sizeof tone_buf, "", one, 1);
        if (onb < 0) onb = r->onb_day;
    }
    pthread_rwlock_unlock(&p->snap->lock);
    if (!persona) persona = persona_buf;
    if (!tone) tone = tone_buf;
    if (mdp_bandit_context(a.context, sizeof a.context, persona, tone, address,
                           onb >= 0 ? bucket_of(onb) : NULL, surface))
        return mdp__error(out, 400, "invalid_context", "the context values are too long");
    if (!r) {
        a.reason = user ? "unknown_user" : "no_user";
        return respond(p, &a, user, NULL, out);
    }
    if (!consent) {
        a.reason = "no_personalization_consent";
        return respond(p, &a, user, NULL, out);
    }
    /* spec 9: rules first */
    const char *want = engagement == MDP_ENG_LOW    ? "encouraging"
                       : strcmp(tone, "facts") == 0 ? "facts"
                                                    : NULL;
    for (int i = 0; want && i < n; i++)
        if (strcmp(vs[i]->tone, want) == 0) {
            a.v = vs[i];
            a.reason = engagement == MDP_ENG_LOW ? "engagement_low" : "tone_facts";
            a.policy = "rule";
            return respond(p, &a, user, &uid, out);
        }
    const char *names[64];
    for (int i = 0; i < n; i++)
        names[i] = vs[i]->name;
    enum mdp_bandit_policy pol;
    int pick = mdp_bandit_choose(p->bandit, a.context, names, n, p->cfg->pz_min_events, rng(),
                                 &a.propensity, &pol);
    a.v = vs[pick < 0 ? 0 : pick];
    a.policy = pol == MDP_BANDIT_THOMPSON ? "thompson" : "explore";
    a.reason = pol == MDP_BANDIT_THOMPSON ? "bandit" : "bandit_exploration";
    return respond(p, &a, user, &uid, out);
}

/* ---- feedback ---- */

/* spec 6's signals: 1 positive, 0 negative, -1 neutral (accepted, no update), -2 unknown */
static int signal_value(const char *signal, json_object *req)
{
    json_object *v;
    double dur =
        json_object_object_get_ex(req, "duration_seconds", &v) ? json_object_get_double(v) : -1;
    double val = json_object_object_get_ex(req, "value", &v) ? json_object_get_double(v) : 0;
    if (!strcmp(signal, "step_completed")) return dur >= 0 && dur < 120 ? 1 : -1;
    if (!strcmp(signal, "onb_complete") || !strcmp(signal, "email_click")) return 1;
    if (!strcmp(signal, "vc_score_delta")) return val > 0 ? 1 : -1;
    if (!strcmp(signal, "step_abandoned")) return dur > 300 ? 0 : -1;
    if (!strcmp(signal, "email_bounce") || !strcmp(signal, "unsubscribe")) return 0;
    return -2;
}

/* An Idempotency-Key is 1 to 255 visible ASCII characters (Stripe's limit) */
static int idem_key_ok(const char *k)
{
    size_t n = strlen(k);
    for (const char *c = k; *c; c++)
        if (*c < 0x21 || *c > 0x7e) return 0;
    return n >= 1 && n <= 255;
}

/* The owner of a feedback (the user id text, borrowed): *suppressed is 1 when they were erased
 * (the suppression list, reloaded first if an erasure changed it), else subject gets their
 * pseudonym (as `mdp bandit replay` and the erasure name them; "" without a state store). Returns
 * 0, or the store's error with d. */
static int owner_subject(struct mdp__pz *p, const char *owner, char subject[65], int *suppressed,
                         struct mdp_diag *d)
{
    int rc = 0;
    subject[0] = '\0';
    if (p->state_mu) pthread_mutex_lock(p->state_mu);
    if (p->state && p->suppress) rc = mdp_suppress_live_refresh(p->suppress, p->state, NULL, d);
    if (!rc && p->state && !p->has_subject_key) {
        rc = mdp_subject_key(p->state, p->subject_key, d);
        p->has_subject_key = !rc;
    }
    if (p->state_mu) pthread_mutex_unlock(p->state_mu);
    if (rc) return rc;
    *suppressed = mdp_suppress_live_match(p->suppress, owner, strlen(owner));
    if (!*suppressed && p->has_subject_key)
        rc = mdp_subject_pseudonym(p->subject_key, MDP_PSEUDONYM_USER_ID, owner, subject, d);
    return rc;
}

static int suppressed_answer(struct mdp_buf *out)
{
    mdp_buf_reset(out);
    mdp_buf_puts(out, "{\"counted\":false,\"reason\":\"suppressed\"}");
    return 200;
}

int mdp__feedback(struct mdp__pz *p, json_object *req, const char *idem_key, struct mdp_buf *out)
{
    static const char *const fields[] = {"decision_id",      "user_id", "variant", "signal",
                                         "duration_seconds", "value",   NULL};
    json_object_object_foreach(req, key, val)
    {
        (void)val;
        int known = 0;
        for (int i = 0; fields[i]; i++)
            known |= strcmp(key, fields[i]) == 0;
        if (!known) return mdp__error(out, 400, "unknown_field", "unknown field '%.64s'", key);
    }
    const char *signal = jstr(req, "signal"), *did = jstr(req, "decision_id");
    const char *user = jstr(req, "user_id"), *vname = jstr(req, "variant");
    if (!signal) return mdp__error(out, 400, "missing_signal", "signal is required");
    if (idem_key && !idem_key_ok(idem_key))
        return mdp__error(out, 400, "invalid_idempotency_key",
                          "Idempotency-Key is 1 to 255 visible ASCII characters");
    int value = signal_value(signal, req);
    if (value == -2)
        return mdp__error(out, 400, "unknown_signal",
                          "signal '%.64s' is not one of step_completed, onb_complete, email_click, "
                          "vc_score_delta, step_abandoned, email_bounce, unsubscribe",
                          signal);
    /* dedup: the mark that this feedback was counted; fp: what the request said, for a key reused
     * with another request */
    char context[300], variant[64], uid[37] = "", dedup[300], policy[16] = "", fp[80] = "{}";
    /* owner: the user the feedback is counted for, by their pseudonym (subject), so that an
     * erasure takes it back (docs/privacy.md §6 "The bandit"); "" when unknown */
    char owner[37] = "", subject[65] = "";
    int suppressed = 0;
    struct mdp_diag od = {0};
    if (did) {
        const char *why = NULL;
        int r = parse_decision(p, did, context, sizeof context, variant, sizeof variant, policy,
                               sizeof policy, uid, owner, &why);
        if (r)
            return mdp__error(out, r == -2 ? 410 : 400,
                              r == -2 ? "decision_expired" : "unknown_decision", "%s", why);
        if (owner[0] && owner_subject(p, owner, subject, &suppressed, &od))
            return mdp__error(out, 503, "state_store", "cannot check the suppression list: %s",
                              od.msg);
        if (suppressed) return suppressed_answer(out);
        /* only the bandit's own choices teach it: a rule or the default copy was not randomized
         * (and the default goes to users who did not consent to personalization) */
        if (strcmp(policy, "thompson") != 0 && strcmp(policy, "explore") != 0) {
            mdp_buf_reset(out);
            mdp_buf_printf(out, "{\"counted\":false,\"reason\":\"%s_decision\"}", policy);
            return 200;
        }
        snprintf(dedup, sizeof dedup, "%s|%s", uid, signal);
    } else if (user && vname) {
        const struct mdp__variant *v = variant_named(&p->cat, vname);
        struct mdp_uuid u;
        if (!v) return mdp__error(out, 400, "unknown_variant", "variant '%.64s' is unknown", vname);
        if (mdp_uuid_parse(user, &u))
            return mdp__error(out, 400, "invalid_user_id", "user_id is not a UUID");
        mdp_uuid_format(&u, owner);
        if (owner_subject(p, owner, subject, &suppressed, &od))
            return mdp__error(out, 503, "state_store", "cannot check the suppression list: %s",
                              od.msg);
        if (suppressed) return suppressed_answer(out);
        /* the user's context now (from the snapshot) */
        char persona[32] = "", tone[32] = "";
        const char *bucket = NULL;
        pthread_rwlock_rdlock(&p->snap->lock);
        const struct mdp_snapshot_rec *r =
            p->snap->snap ? mdp_snapshot_find(p->snap->snap, u.b) : NULL;
        int consent = r && (r->flags & MDP_SNAP_PERSONALIZATION);
        if (r) {
            const char *sp = mdp_snapshot_string(p->snap->snap, r->persona);
            const char *st = mdp_snapshot_string(p->snap->snap, r->tone);
            snprintf(persona, sizeof persona, "%s", sp ? sp : "");
            snprintf(tone, sizeof tone, "%s", st ? st : "");
            bucket = mdp_snapshot_bucket_name(r->onb_bucket);
        }
        pthread_rwlock_unlock(&p->snap->lock);
        if (!r) return mdp__error(out, 404, "unknown_user", "the user is not in the snapshot");
        if (!consent)
            return mdp__error(out, 403, "no_personalization_consent",
                              "the user has no valid personalization consent");
        mdp_bandit_context(context, sizeof context, persona, tone, NULL, bucket, v->surface);
        snprintf(variant, sizeof variant, "%s", v->name);
        /* without a decision only the client's Idempotency-Key tells a replay from a new signal;
         * without one the request gets a mark of its own (a fresh UUIDv7), so that the count and
         * the owner's reward record are still one transaction */
        if (!idem_key) {
            struct mdp_uuid fresh;
            thread_uuid7(&fresh);
            memcpy(dedup, "new|", 4);
            mdp_uuid_format(&fresh, dedup + 4);
        } else {
            char raw[600], hash[65];
            snprintf(dedup, sizeof dedup, "idem|%s", idem_key);
            snprintf(raw, sizeof raw, "%s|%s|%s|%d", user, v->name, signal, value);
            if (mdp_sha256_hex(raw, strlen(raw), hash))
                return mdp__error(out, 503, "crypto", "cannot fingerprint the request");
            snprintf(fp, sizeof fp, "{\"fp\":\"%s\"}", hash);
        }
    } else {
        return mdp__error(out, 400, "missing_decision", "give decision_id, or user_id and variant");
    }
    int counted = 0;
    if (value >= 0) {
        struct mdp_diag d = {0};
        int rc = 0;
        int reused = 0;
        if (p->state_mu) pthread_mutex_lock(p->state_mu);
        if (dedup[0] && p->state) {
            /* one update per decision and signal (or per Idempotency-Key), also when the app
             * sends it twice: the mark and the count are one transaction of the store */
            struct mdp_state_item it = {dedup, "fb", fp,
                                        mdp_time_now_ms() / 1000 + p->cfg->pz_ttl_h * 3600};
            rc = mdp_bandit_feedback_owned(p->bandit, p->state, "feedback", &it, subject, context,
                                           variant, value, &d);
            if (rc == MDP_ERR_EXISTS && fp[1] != '}') { /* a key: was it this request? */
                char *was = NULL;
                reused = mdp_state_get(p->state, "feedback", dedup, "fb", &was, NULL, &d) == 0 &&
                         strcmp(was, fp) != 0;
                free(was);
            }
        } else {
            rc = mdp_bandit_feedback(p->bandit, p->state, context, variant, value, &d);
        }
        if (rc == MDP_ERR_EXISTS)
            rc = 0;
        else
            counted = !rc;
        if (p->state_mu) pthread_mutex_unlock(p->state_mu);
        if (rc) return mdp__error(out, 503, "state_store", "cannot record feedback: %s", d.msg);
        if (reused)
            return mdp__error(out, 422, "idempotency_key_reused",
                              "this Idempotency-Key was used with another feedback request");
        if (!counted && dedup[0]) {
            mdp_buf_reset(out);
            mdp_buf_puts(out, "{\"counted\":false,\"reason\":\"duplicate\"}");
            return 200;
        }
    }
    mdp_buf_reset(out);
    mdp_buf_printf(out, "{\"counted\":%s,\"reason\":\"%s\"}", counted ? "true" : "false",
                   value < 0 ? "neutral_signal"
                   : value   ? "success"
                             : "failure");
    return 200;
}
