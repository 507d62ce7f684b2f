/* The Thompson-sampling bandit (include/mdp/bandit.h). */
#include "mdp/bandit.h"
#include "mdp/buf.h"
#include "mdp/state.h"

#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE             "bandit"
#define PROPENSITY_ROUNDS 2000
#define MAX_VARIANTS      64

struct arm {
    char *key; /* context \x1f variant */
    int64_t s, f;
    _Atomic int64_t decisions;
    /* the probability that Thompson sampling picks this arm, estimated when the context's
     * counts were prop_total events over prop_n variants (-1: never) */
    double prop;
    int64_t prop_total;
    int prop_n;
};

struct mdp_bandit {
    pthread_rwlock_t mu; /* readers choose; writers add arms and counts */
    struct arm *arms;
    size_t n, cap;
    size_t *slots; /* open addressing: index + 1, 0 empty */
    size_t nslots;
    /* per context, the arms of the variants it was last asked with (one lookup per decision) */
    struct ctxent *ctxs;
    size_t nctx, capctx;
    size_t *cslots;
    size_t ncslots;
};

struct ctxent {
    char *context;
    int n;
    const char *vname[MAX_VARIANTS]; /* the variant names (the catalogue's strings: stable) */
    size_t arm[MAX_VARIANTS];        /* indices into arms (stable when the array grows) */
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int rehash(struct mdp_bandit *b, size_t nslots)
{
    size_t *slots = calloc(nslots, sizeof *slots);
    if (!slots) return MDP_ERR_NOMEM;
    for (size_t i = 0; i < b->n; i++) {
        size_t h = fnv(b->arms[i].key) & (nslots - 1);
        while (slots[h])
            h = (h + 1) & (nslots - 1);
        slots[h] = i + 1;
    }
    free(b->slots);
    b->slots = slots;
    b->nslots = nslots;
    return 0;
}

/* The arm of key, created when create is set; NULL when absent (or out of memory). */
static struct arm *find(struct mdp_bandit *b, const char *key, int create)
{
    if (b->nslots) {
        size_t h = fnv(key) & (b->nslots - 1);
        while (b->slots[h]) {
            struct arm *a = &b->arms[b->slots[h] - 1];
            if (strcmp(a->key, key) == 0) return a;
            h = (h + 1) & (b->nslots - 1);
        }
    }
    if (!create) return NULL;
    if (mdp_grow(&b->arms, &b->cap, b->n, sizeof *b->arms, 64)) return NULL;
    if ((b->n + 1) * 2 > b->nslots && rehash(b, b->nslots ? b->nslots * 2 : 128)) return NULL;
    struct arm *a = &b->arms[b->n];
    memset(a, 0, sizeof *a);
    a->prop_total = -1;
    if (!(a->key = strdup(key))) return NULL;
    b->n++;
    size_t h = fnv(key) & (b->nslots - 1);
    while (b->slots[h])
        h = (h + 1) & (b->nslots - 1);
    b->slots[h] = b->n;
    return a;
}

static struct ctxent *ctx_find(struct mdp_bandit *b, const char *context)
{
    if (!b->ncslots) return NULL;
    size_t h = fnv(context) & (b->ncslots - 1);
    while (b->cslots[h]) {
        struct ctxent *e = &b->ctxs[b->cslots[h] - 1];
        if (strcmp(e->context, context) == 0) return e;
        h = (h + 1) & (b->ncslots - 1);
    }
    return NULL;
}

/* remembers the arms of a context's variants (write lock held); failures only cost speed */
static void ctx_remember(struct mdp_bandit *b, const char *context, const char *const *variants,
                         int n, struct arm *const *arms)
{
    struct ctxent *e = ctx_find(b, context);
    if (!e) {
        if ((b->nctx + 1) * 2 > b->ncslots) {
            size_t ns = b->ncslots ? b->ncslots * 2 : 64;
            size_t *slots = calloc(ns, sizeof *slots);
            if (!slots) return;
            for (size_t i = 0; i < b->nctx; i++) {
                size_t h = fnv(b->ctxs[i].context) & (ns - 1);
                while (slots[h])
                    h = (h + 1) & (ns - 1);
                slots[h] = i + 1;
            }
            free(b->cslots);
            b->cslots = slots;
            b->ncslots = ns;
        }
        if (mdp_grow(&b->ctxs, &b->capctx, b->nctx, sizeof *b->ctxs, 64)) return;
        e = &b->ctxs[b->nctx];
        memset(e, 0, sizeof *e);
        if (!(e->context = strdup(context))) return;
        size_t h = fnv(context) & (b->ncslots - 1);
        while (b->cslots[h])
            h = (h + 1) & (b->ncslots - 1);
        b->cslots[h] = ++b->nctx;
    }
    e->n = n;
    for (int i = 0; i < n; i++) {
        e->vname[i] = variants[i];
        e->arm[i] = (size_t)(arms[i] - b->arms);
    }
}

static void arm_key(char *out, size_t n, const char *context, const char *variant)
{
    const char *parts[2] = {context, variant};
    mdp_join(out, n, "\x1f", parts, 2);
}

static int64_t field(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static int load_one(const struct mdp_state_item *it, void *ud)
{
    struct mdp_bandit *b = ud;
    char key[512];
    arm_key(key, sizeof key, it->pk, it->sk);
    struct arm *a = find(b, key, 1);
    if (!a) return MDP_ERR_NOMEM;
    json_object *o = json_tokener_parse(it->body);
    a->s = field(o, "s");
    a->f = field(o, "f");
    json_object_put(o);
    return 0;
}

int mdp_bandit_open(struct mdp_state *st, struct mdp_bandit **out, struct mdp_diag *d)
{
    struct mdp_bandit *b = calloc(1, sizeof *b);
    if (!b) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    pthread_rwlock_init(&b->mu, NULL);
    int rc = st ? mdp_state_scan(st, TABLE, load_one, b, d) : 0;
    if (rc) {
        mdp_bandit_close(b);
        return rc == MDP_ERR_NOMEM ? mdp_diag_set(d, rc, "out of memory") : rc;
    }
    *out = b;
    return 0;
}

void mdp_bandit_close(struct mdp_bandit *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n; i++)
        free(b->arms[i].key);
    free(b->arms);
    free(b->slots);
    for (size_t i = 0; i < b->nctx; i++)
        free(b->ctxs[i].context);
    free(b->ctxs);
    free(b->cslots);
    pthread_rwlock_destroy(&b->mu);
    free(b);
}

/* ---- random numbers ---- */

void mdp_rng_seed(struct mdp_rng *r, uint64_t seed)
{
    /* splitmix64 to fill the state */
    for (int i = 0; i < 2; i++) {
        uint64_t z = (seed += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        r->s[i] = z ^ (z >> 31);
    }
    r->has_spare = 0;
    if (!r->s[0] && !r->s[1]) r->s[0] = 1;
}

uint64_t mdp_rng_next(struct mdp_rng *r)
{
    uint64_t s1 = r->s[0];
    const uint64_t s0 = r->s[1];
    r->s[0] = s0;
    s1 ^= s1 << 23;
    r->s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return r->s[1] + s0;
}

double mdp_rng_unit(struct mdp_rng *r)
{
    return ((double)(mdp_rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(struct mdp_rng *r)
{
    /* Marsaglia's polar method: no trigonometry, and the pair's second value is kept */
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, q;
    do {
        u = 2.0 * mdp_rng_unit(r) - 1.0;
        v = 2.0 * mdp_rng_unit(r) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    double f = sqrt(-2.0 * log(q) / q);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

static double gamma_draw(struct mdp_rng *r, double a)
{
    if (a < 1.0) /* boost: Gamma(a) = Gamma(a + 1) * U^(1/a) */
        return gamma_draw(r, a + 1.0) * pow(mdp_rng_unit(r), 1.0 / a);
    double dd = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * dd);
    for (;;) {
        double x, v;
        do {
            x = normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = mdp_rng_unit(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return dd * v;
        if (log(u) < 0.5 * x * x + dd * (1.0 - v + log(v))) return dd * v;
    }
}

double mdp_rng_beta(struct mdp_rng *r, double a, double b)
{
    double x = gamma_draw(r, a), y = gamma_draw(r, b);
    return x / (x + y);
}

/* ---- choosing ---- */

int mdp_bandit_context(char *out, size_t n, const char *persona, const char *tone,
                       const char *address, const char *bucket, const char *surface)
{
    const char *parts[5] = {
        persona && *persona ? persona : "unknown", tone && *tone ? tone : "unknown",
        address && *address ? address : "unknown", bucket && *bucket ? bucket : "unknown", surface};
    size_t need = 4;
    for (int i = 0; i < 5; i++)
        need += strlen(parts[i]);
    if (need >= n) return MDP_ERR_RANGE;
    mdp_join(out, n, "|", parts, 5);
    return 0;
}

static int argmax_draw(struct mdp_rng *rng, const double *a, const double *b, int n)
{
    int best = 0;
    double top = -1.0;
    for (int i = 0; i < n; i++) {
        double x = mdp_rng_beta(rng, a[i], b[i]);
        if (x > top) top = x, best = i;
    }
    return best;
}

int mdp_bandit_choose(struct mdp_bandit *b, const char *context, const char *const *variants, int n,
                      long min_events, struct mdp_rng *rng, double *propensity,
                      enum mdp_bandit_policy *policy)
{
    if (n <= 0 || n > MAX_VARIANTS) return -1;
    double a[MAX_VARIANTS], bb[MAX_VARIANTS];
    char key[512];
    struct arm *arms[MAX_VARIANTS];
    /* the arms exist from the first decision on; creating them is the only write here */
    pthread_rwlock_rdlock(&b->mu);
    struct ctxent *e = ctx_find(b, context);
    int hit = e && e->n == n;
    for (int i = 0; hit && i < n; i++)
        hit = e->vname[i] == variants[i] || strcmp(e->vname[i], variants[i]) == 0;
    if (hit) {
        for (int i = 0; i < n; i++)
            arms[i] = &b->arms[e->arm[i]];
    } else {
        for (int pass = 0; pass < 2; pass++) {
            int missing = 0;
            if (pass == 1) pthread_rwlock_wrlock(&b->mu);
            for (int i = 0; i < n; i++) {
                arm_key(key, sizeof key, context, variants[i]);
                arms[i] = find(b, key, pass);
                missing |= !arms[i];
            }
            if (!missing) {
                if (pass == 1) ctx_remember(b, context, variants, n, arms);
                if (pass == 1) break;
            }
            pthread_rwlock_unlock(&b->mu);
            if (pass == 1) return -1; /* out of memory */
        }
    }
    /* held (read or write) from here: arms[] stay valid */
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        a[i] = 1.0 + (double)arms[i]->s;
        bb[i] = 1.0 + (double)arms[i]->f;
        total += arms[i]->s + arms[i]->f;
    }
    int pick, fresh = 0;
    if (total < min_events) {
        pick = (int)(mdp_rng_unit(rng) * n);
        if (pick >= n) pick = n - 1;
        *policy = MDP_BANDIT_EXPLORE;
        *propensity = 1.0 / n;
    } else {
        pick = argmax_draw(rng, a, bb, n);
        *policy = MDP_BANDIT_THOMPSON;
        fresh = arms[pick]->prop_total == total && arms[pick]->prop_n == n;
        if (fresh) *propensity = arms[pick]->prop;
    }
    arms[pick]->decisions++;
    pthread_rwlock_unlock(&b->mu);
    if (*policy == MDP_BANDIT_THOMPSON && !fresh) {
        /* the choice probabilities change only with feedback: estimate them for the whole
         * context once per change of its counts, not per decision */
        int wins[MAX_VARIANTS] = {0};
        for (int k = 0; k < PROPENSITY_ROUNDS; k++)
            wins[argmax_draw(rng, a, bb, n)]++;
        pthread_rwlock_wrlock(&b->mu);
        for (int i = 0; i < n; i++) {
            arm_key(key, sizeof key, context, variants[i]);
            struct arm *o = find(b, key, 1);
            if (!o) continue;
            /* never 0: a variant that was chosen had a chance */
            o->prop = (wins[i] + 1.0) / (PROPENSITY_ROUNDS + n);
            o->prop_total = total;
            o->prop_n = n;
            if (i == pick) *propensity = o->prop;
        }
        pthread_rwlock_unlock(&b->mu);
    }
    return pick;
}

/* the count of an arm in memory, after the store's (when st) is v */
static int feedback_apply(struct mdp_bandit *b, struct mdp_state *st, const char *context,
                          const char *variant, int positive, int64_t v, struct mdp_diag *d)
{
    char key[512];
    arm_key(key, sizeof key, context, variant);
    pthread_rwlock_wrlock(&b->mu);
    struct arm *arm = find(b, key, 1);
    if (arm) {
        /* the store's count is the truth (another process may have added too) */
        if (positive)
            arm->s = st ? v : arm->s + 1;
        else
            arm->f = st ? v : arm->f + 1;
    }
    pthread_rwlock_unlock(&b->mu);
    return arm ? 0 : mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
}

int mdp_bandit_feedback(struct mdp_bandit *b, struct mdp_state *st, const char *context,
                        const char *variant, int positive, struct mdp_diag *d)
{
    int64_t v = 0;
    int rc = st ? mdp_state_add(st, TABLE, context, variant, positive ? "s" : "f", 1, &v, d) : 0;
    return rc ? rc : feedback_apply(b, st, context, variant, positive, v, d);
}

int mdp_bandit_feedback_once(struct mdp_bandit *b, struct mdp_state *st, const char *mark_table,
                             const struct mdp_state_item *mark, const char *context,
                             const char *variant, int positive, struct mdp_diag *d)
{
    int64_t v = 0;
    struct mdp_state_write w[2] = {
        {MDP_STATE_PUT, mark_table, *mark, MDP_STATE_IF_ABSENT, NULL, 0, NULL, NULL},
        {MDP_STATE_ADD, TABLE, {context, variant, NULL, 0}, 0, positive ? "s" : "f", 1, &v, NULL},
    };
    int rc = mdp_state_transact(st, w, 2, d);
    return rc ? rc : feedback_apply(b, st, context, variant, positive, v, d);
}

int mdp_bandit_feedback_owned(struct mdp_bandit *b, struct mdp_state *st, const char *mark_table,
                              const struct mdp_state_item *mark, const char *subject,
                              const char *context, const char *variant, int positive,
                              struct mdp_diag *d)
{
    if (!subject || !*subject)
        return mdp_bandit_feedback_once(b, st, mark_table, mark, context, variant, positive, d);
    struct mdp_buf pk, body;
    mdp_buf_init(&pk);
    mdp_buf_init(&body);
    mdp_buf_printf(&pk, "%s|%s", mark_table, mark->pk);
    mdp_buf_puts(&body, "{\"c\":");
    mdp_buf_json_str(&body, context);
    mdp_buf_puts(&body, ",\"v\":");
    mdp_buf_json_str(&body, variant);
    mdp_buf_printf(&body, ",\"p\":%d}", positive ? 1 : 0);
    int rc = mdp_buf_error(&pk) || mdp_buf_error(&body)
                 ? mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory")
                 : 0;
    int64_t v = 0;
    if (!rc) {
        struct mdp_state_write w[3] = {
            {MDP_STATE_PUT, mark_table, *mark, MDP_STATE_IF_ABSENT, NULL, 0, NULL, subject},
            {MDP_STATE_ADD,
             TABLE,
             {context, variant, NULL, 0},
             0,
             positive ? "s" : "f",
             1,
             &v,
             NULL},
            {MDP_STATE_PUT,
             MDP_BANDIT_REWARDS,
             {pk.data, mark->sk, body.data, 0},
             0,
             NULL,
             0,
             NULL,
             subject},
        };
        rc = mdp_state_transact(st, w, 3, d);
    }
    mdp_buf_cleanup(&pk);
    mdp_buf_cleanup(&body);
    return rc ? rc : feedback_apply(b, st, context, variant, positive, v, d);
}

/* ---- forgetting a person ---- */

struct reward {
    char *pk, *sk, *context, *variant;
    int positive;
};

struct rewards {
    struct reward *v;
    size_t n, cap;
    struct mdp_diag *d;
};

static int reward_one(const char *table, const struct mdp_state_item *it, void *ud)
{
    struct rewards *r = ud;
    if (strcmp(table, MDP_BANDIT_REWARDS) != 0) return 0;
    json_object *o = json_tokener_parse(it->body), *c, *v, *p;
    int ok = o && json_object_object_get_ex(o, "c", &c) &&
             json_object_is_type(c, json_type_string) && json_object_object_get_ex(o, "v", &v) &&
             json_object_is_type(v, json_type_string) && json_object_object_get_ex(o, "p", &p) &&
             json_object_is_type(p, json_type_int);
    int rc = 0;
    if (!ok) {
        rc = mdp_diag_set(r->d, MDP_ERR_PARSE, "state store: %s item %s/%s is not {c, v, p}", table,
                          it->pk, it->sk);
    } else if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        struct reward *nv = realloc(r->v, cap * sizeof *nv);
        if (!nv) {
            rc = mdp_diag_set(r->d, MDP_ERR_NOMEM, "out of memory");
        } else {
            r->v = nv;
            r->cap = cap;
        }
    }
    if (!rc) {
        struct reward *x = &r->v[r->n];
        x->pk = strdup(it->pk);
        x->sk = strdup(it->sk);
        x->context = strdup(json_object_get_string(c));
        x->variant = strdup(json_object_get_string(v));
        x->positive = json_object_get_int(p) != 0;
        r->n++;
        if (!x->pk || !x->sk || !x->context || !x->variant)
            rc = mdp_diag_set(r->d, MDP_ERR_NOMEM, "out of memory");
    }
    json_object_put(o);
    return rc;
}

static int by_arm(const void *x, const void *y)
{
    const struct reward *a = x, *b = y;
    int c = strcmp(a->context, b->context);
    return c ? c : strcmp(a->variant, b->variant);
}

int mdp_bandit_forget(struct mdp_state *st, const char *subject, struct mdp_bandit_forgotten *out,
                      struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    struct rewards r = {NULL, 0, 0, d};
    int rc = mdp_state_query_subject(st, subject, reward_one, &r, d);
    if (!rc && r.n) qsort(r.v, r.n, sizeof *r.v, by_arm);
    for (size_t i = 0; i < r.n && !rc; i++) {
        const struct reward *x = &r.v[i];
        /* the count and its record go together: a rerun finds only what is still counted */
        struct mdp_state_write w[2] = {
            {MDP_STATE_ADD,
             TABLE,
             {x->context, x->variant, NULL, 0},
             0,
             x->positive ? "s" : "f",
             -1,
             NULL,
             NULL},
            {MDP_STATE_DELETE, MDP_BANDIT_REWARDS, {x->pk, x->sk, NULL, 0}, 0, NULL, 0, NULL, NULL},
        };
        rc = mdp_state_transact(st, w, 2, d);
        if (rc) break;
        out->rewards++;
        if (x->positive)
            out->successes++;
        else
            out->failures++;
        if (i == 0 || by_arm(x, &r.v[i - 1]) != 0) out->arms++;
    }
    for (size_t i = 0; i < r.n; i++) {
        free(r.v[i].pk);
        free(r.v[i].sk);
        free(r.v[i].context);
        free(r.v[i].variant);
    }
    free(r.v);
    return rc;
}

static int by_key(const void *x, const void *y)
{
    return strcmp(((const struct arm *)x)->key, ((const struct arm *)y)->key);
}

int mdp_bandit_each(struct mdp_bandit *b, int (*cb)(const struct mdp_bandit_arm *a, void *ud),
                    void *ud)
{
    pthread_rwlock_wrlock(&b->mu);
    size_t n = b->n;
    struct arm *copy = malloc((n ? n : 1) * sizeof *copy);
    int rc = copy ? 0 : MDP_ERR_NOMEM;
    for (size_t i = 0; copy && i < n; i++) {
        copy[i].s = b->arms[i].s;
        copy[i].f = b->arms[i].f;
        copy[i].decisions = b->arms[i].decisions;
        copy[i].key = strdup(b->arms[i].key);
        if (!copy[i].key) rc = MDP_ERR_NOMEM, n = i;
    }
    pthread_rwlock_unlock(&b->mu);
    if (rc) n = copy ? n : 0;
    if (copy) qsort(copy, n, sizeof *copy, by_key);
    for (size_t i = 0; i < n; i++) {
        char *sep = strchr(copy[i].key, '\x1f');
        if (!rc && sep) {
            *sep = '\0';
            struct mdp_bandit_arm a = {copy[i].key, sep + 1, copy[i].s, copy[i].f,
                                       copy[i].decisions};
            rc = cb(&a, ud);
        }
        free(copy[i].key);
    }
    free(copy);
    return rc;
}
