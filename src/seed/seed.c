/* Seed generator, part 1: the PRNG and helpers, the simulated world (accounts, locations, users and
 * their activity over the window), the app's events and the Supabase exports; then the driver that
 * runs every source and writes the files. See include/mdp/seed.h. */
#include "seed_internal.h"
#include "mdp/hash.h"
#include "mdp/time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const MDP__PERSONAS[4] = {"solo-sarah", "bewahrer-ben", "wachstums-walter",
                                      "ketten-katrin"};
const char *const MDP__TONES[3] = {"encouraging", "facts", "brief"};
const char *const MDP__ADDRESSES[3] = {"sie", "du", "neutral"};
static const char *const HELP_LEVELS[3] = {"minimal", "standard", "detailed"};
static const double PERSONA_W[4] = {0.40, 0.25, 0.20, 0.15};

/* onboarding steps of matbakh.app, in order (12 steps: "high" engagement needs 10) */
static const char *const STEPS[] = {"welcome",           "business_info", "persona_quiz",
                                    "comm_prefs",        "connect_gbp",   "connect_facebook",
                                    "connect_instagram", "first_vc",      "review_report",
                                    "set_goals",         "invite_team",   "onboarding_done"};
#define NSTEPS (sizeof STEPS / sizeof *STEPS)

static const char *const FIRST[] = {"Anna",  "Ben",    "Clara", "David", "Elif",   "Felix",
                                    "Greta", "Hakan",  "Ines",  "Jonas", "Katrin", "Lukas",
                                    "Mia",   "Noah",   "Olga",  "Paul",  "Rosa",   "Sarah",
                                    "Tim",   "Walter", "Yusuf", "Zoë",   "Jörg",   "Ayşe"};
static const char *const LAST[] = {
    "Müller", "Schmidt",  "Schneider", "Fischer", "Weber",  "Meyer",     "Wagner", "Becker",
    "Schulz", "Hoffmann", "Koch",      "Richter", "Yılmaz", "Kaya",      "Rossi",  "Nguyen",
    "Klein",  "Wolf",     "Neumann",   "Schwarz", "Braun",  "Zimmermann"};
static const char *const BIZ_PREFIX[] = {"Trattoria", "Café",   "Bistro",  "Restaurant", "Bäckerei",
                                         "Brasserie", "Imbiss", "Weinbar", "Ramen-Bar",  "Kantine"};
static const char *const BIZ_NAME[] = {"Roma",     "am Markt", "Lindenhof", "Sonnenschein",
                                       "Zur Post", "Anatolia", "Saigon",    "Goldener Hirsch",
                                       "Elbblick", "Kiez",     "Nord",      "Stern",
                                       "Kranich",  "Oase"};
const char *const MDP__CATEGORIES[] = {"gcid:restaurant",
                                       "gcid:italian_restaurant",
                                       "gcid:cafe",
                                       "gcid:bakery",
                                       "gcid:bar",
                                       "gcid:german_restaurant",
                                       "gcid:pizza_restaurant",
                                       "gcid:sushi_restaurant",
                                       "gcid:turkish_restaurant",
                                       "gcid:vegan_restaurant"};
static const char *const PRICES[] = {"€", "€€", "€€€", "€€€€"};
struct city {
    const char *name, *plz;
    double lat, lng;
};
const struct city MDP__CITIES[] = {
    {"Berlin", "10", 52.5200, 13.4050},           {"Hamburg", "20", 53.5511, 9.9937},
    {"München", "80", 48.1351, 11.5820},          {"Köln", "50", 50.9375, 6.9603},
    {"Frankfurt am Main", "60", 50.1109, 8.6821}, {"Stuttgart", "70", 48.7758, 9.1829},
    {"Düsseldorf", "40", 51.2277, 6.7735},        {"Leipzig", "04", 51.3397, 12.3731},
    {"Dresden", "01", 51.0504, 13.7373},          {"Nürnberg", "90", 49.4521, 11.0767}};
static const char *const STREETS[] = {
    "Hauptstraße", "Bahnhofstraße",  "Schillerstraße",  "Gartenweg",      "Marktplatz",
    "Lindenallee", "Kastanienallee", "Friedrichstraße", "Bergmannstraße", "Am Hafen"};
#define COUNT(a) (sizeof(a) / sizeof *(a))

/* ---- PRNG: xoshiro256** seeded by splitmix64 ---- */

void mdp__rng_seed(struct mdp__rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        r->s[i] = z ^ (z >> 31);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t mdp__rng_next(struct mdp__rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t mdp__rng_next_cb(void *r)
{
    return mdp__rng_next(r);
}

uint64_t mdp__rng_below(struct mdp__rng *r, uint64_t n)
{
    return n ? mdp__rng_next(r) % n : 0;
}

double mdp__rng_unit(struct mdp__rng *r)
{
    return (double)(mdp__rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

int mdp__rng_chance(struct mdp__rng *r, double p)
{
    return mdp__rng_unit(r) < p;
}

double mdp__rng_lognormal(struct mdp__rng *r, double median, double sigma)
{
    double u1 = mdp__rng_unit(r), u2 = mdp__rng_unit(r);
    if (u1 < 1e-12) u1 = 1e-12;
    double z = sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
    return median * exp(sigma * z);
}

/* ---- helpers ---- */

int mdp__queue_push(struct mdp__seed *s, struct mdp__queue *q, int64_t ts, char *text)
{
    if (!text) return mdp_diag_set(s->d, MDP_ERR_NOMEM, "seed: out of memory");
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        struct mdp__item *nv = realloc(q->v, cap * sizeof *nv);
        if (!nv) {
            free(text);
            return mdp_diag_set(s->d, MDP_ERR_NOMEM, "seed: out of memory");
        }
        q->v = nv;
        q->cap = cap;
    }
    q->v[q->n++] = (struct mdp__item){ts, s->seq++, text};
    return 0;
}

static int cmp_item(const void *a, const void *b)
{
    const struct mdp__item *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void mdp__queue_sort(struct mdp__queue *q)
{
    if (q->n) qsort(q->v, q->n, sizeof *q->v, cmp_item);
}

void mdp__queue_free(struct mdp__queue *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->v[i].text);
    free(q->v);
    q->v = NULL;
    q->n = q->cap = 0;
}

int64_t mdp__day_index(struct mdp__seed *s, int64_t ts)
{
    if (ts < s->start_ms || ts >= s->end_ms) return -1;
    return (ts - s->start_ms) / MDP_MS_PER_DAY;
}

int mdp__seed_put(struct mdp__seed *s, const char *key, const char *data, size_t len)
{
    int rc = mdp_store_put(s->out, key, data, len, 0, s->d);
    if (!rc) {
        s->st->files++;
        s->st->bytes += (int64_t)len;
    }
    return rc;
}

void mdp__uuid7_at(struct mdp__seed *s, int64_t ms, struct mdp_uuid *out)
{
    struct mdp_uuid7_gen g;
    mdp_uuid7_gen_init(&g, mdp__rng_next_cb, &s->r);
    mdp_uuid7_next(&g, ms, out);
    /* a fresh generator starts its counter in the lower half: use the full random rand_a */
    out->b[6] = (uint8_t)(0x70 | (mdp__rng_next(&s->r) & 0x0f));
}

void mdp__uuid4(struct mdp__seed *s, char out[37])
{
    struct mdp_uuid u;
    uint64_t a = mdp__rng_next(&s->r), b = mdp__rng_next(&s->r);
    for (int i = 0; i < 8; i++)
        u.b[i] = (uint8_t)(a >> (56 - 8 * i));
    for (int i = 0; i < 8; i++)
        u.b[8 + i] = (uint8_t)(b >> (56 - 8 * i));
    u.b[6] = (uint8_t)(0x40 | (u.b[6] & 0x0f));
    u.b[8] = (uint8_t)(0x80 | (u.b[8] & 0x3f));
    mdp_uuid_format(&u, out);
}

void mdp__digits(struct mdp__seed *s, char *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = (char)('0' + (i == 0 ? 1 + mdp__rng_below(&s->r, 9) : mdp__rng_below(&s->r, 10)));
    out[n] = '\0';
}

void mdp__iso(int64_t ms, char out[32])
{
    mdp_time_format_ms(ms, out, 32);
}

char *mdp__json_text(json_object *o, int pretty)
{
    int flags =
        JSON_C_TO_STRING_NOSLASHESCAPE |
        (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);
    const char *t = json_object_to_json_string_ext(o, flags);
    char *copy = t ? strdup(t) : NULL;
    json_object_put(o);
    return copy;
}

json_object *mdp__jstr(const char *s)
{
    return json_object_new_string(s);
}

json_object *mdp__jdouble(double v, int decimals)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%.*f", decimals, v);
    /* trim trailing zeros as JSON producers do, keeping at least one digit after the point */
    char *e = buf + strlen(buf) - 1;
    while (e > buf && *e == '0' && e[-1] != '.')
        *e-- = '\0';
    return json_object_new_double_s(v, buf);
}

int mdp__bad(struct mdp__seed *s)
{
    return s->o->bad_rate > 0 && mdp__rng_chance(&s->r, s->o->bad_rate);
}

/* ---- CSV as PostgreSQL's COPY (FORMAT csv) writes it ---- */

/* PostgreSQL timestamptz text in UTC: 2026-10-01 14:03:27.512+00 (trailing zeros dropped). */
static void pg_ts(int64_t ms, char out[40])
{
    char iso[32];
    mdp__iso(ms, iso);
    iso[10] = ' ';
    iso[23] = '\0'; /* drop Z */
    size_t n = strlen(iso);
    while (iso[n - 1] == '0')
        iso[--n] = '\0';
    if (iso[n - 1] == '.') iso[--n] = '\0';
    snprintf(out, 40, "%s+00", iso);
}

/* Appends one CSV field: NULL is empty and unquoted; '' and values with , " CR LF are quoted. */
static void csv_field(struct mdp_buf *b, const char *v, int first)
{
    if (!first) mdp_buf_putc(b, ',');
    if (!v) return;
    if (!*v || strpbrk(v, ",\"\r\n")) {
        mdp_buf_putc(b, '"');
        for (const char *p = v; *p; p++) {
            if (*p == '"') mdp_buf_putc(b, '"');
            mdp_buf_putc(b, *p);
        }
        mdp_buf_putc(b, '"');
    } else {
        mdp_buf_puts(b, v);
    }
}

static int csv_row(struct mdp__seed *s, int table, int64_t ts, int n, const char *const *vals)
{
    int64_t day = mdp__day_index(s, ts);
    if (day < 0) return 0;
    struct mdp_buf b;
    mdp_buf_init(&b);
    for (int i = 0; i < n; i++)
        csv_field(&b, vals[i], i == 0);
    mdp_buf_putc(&b, '\n');
    s->st->csv_rows++;
    return mdp__queue_push(s, &s->csv[table][day], ts, mdp_buf_steal(&b));
}

static const char *const CSV_HEADERS[T_NTABLES] = {
    "account_id,business_name,main_category,price_range,is_active,created_at,updated_at",
    "user_id,account_id,email,name,persona,preferences,settings,is_active,signup_at,last_login_at,"
    "created_at,updated_at",
    "user_id,tone,address,help_level,updated_at",
    "progress_id,user_id,account_id,step_id,completion_status,started_at,completed_at,"
    "duration_seconds,updated_at",
    "location_id,account_id,address,city,country,gbp_place_id,latitude,longitude,created_at,"
    "updated_at",
    "check_id,user_id,account_id,location_id,overall_score,gbp_score,social_score,web_score,"
    "competitor_count,processing_time_seconds,created_at,updated_at",
    "event_id,user_id,provider,success,error_code,created_at"};
static const char *const CSV_TABLES[T_NTABLES] = {
    "accounts",  "user_profiles",     "communication_prefs", "onboarding_progress",
    "locations", "visibility_checks", "oauth_logins"};

/* ---- the app's events (spec 2 Event-Payload standard, with event_id) ---- */

static int emit_event(struct mdp__seed *s, struct mdp__user *u, int64_t ts, const char *type,
                      json_object *props, const struct mdp__location *loc)
{
    int64_t day = mdp__day_index(s, ts);
    if (day < 0) {
        json_object_put(props);
        return 0;
    }
    struct mdp_uuid eid;
    char id[37], uid[37], aid[37], lid[37], when[32];
    mdp__uuid7_at(s, ts, &eid);
    mdp_uuid_format(&eid, id);
    mdp_uuid_format(&u->id, uid);
    mdp_uuid_format(&s->acc[u->account].id, aid);
    mdp__iso(ts, when);
    const struct mdp__account *a = &s->acc[u->account];
    if (!loc) loc = &s->loc[a->first_loc];
    mdp_uuid_format(&loc->id, lid);

    int bad = mdp__bad(s) ? 1 + (int)mdp__rng_below(&s->r, 5) : 0;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "event_id", mdp__jstr(id));
    if (bad != 2) json_object_object_add(o, "user_id", mdp__jstr(uid));
    json_object_object_add(o, "account_id", mdp__jstr(aid));
    json_object_object_add(o, "location_id", mdp__jstr(lid));
    json_object *ext = json_object_new_object();
    if (a->gbp && loc->on_maps)
        json_object_object_add(ext, "gbp_place_id", mdp__jstr(loc->place_id));
    json_object_object_add(ext, "ga4_client_id", mdp__jstr(u->ga4_client_id));
    if (u->fb) json_object_object_add(ext, "fb_page_id", mdp__jstr(u->fb_page_id));
    if (u->ig) json_object_object_add(ext, "ig_business_id", mdp__jstr(u->ig_id));
    json_object_object_add(o, "external_ids", ext);
    json_object_object_add(o, "timestamp", mdp__jstr(bad == 4 ? "2026-13-45T25:61:00Z" : when));
    json_object_object_add(o, "event_type", mdp__jstr(bad == 3 ? "step_teleported" : type));
    json_object_object_add(o, "properties", props ? props : json_object_new_object());
    char *text = mdp__json_text(o, 0);
    if (!text) return mdp_diag_set(s->d, MDP_ERR_NOMEM, "seed: out of memory");
    if (bad == 1) { /* truncated in transit */
        text[strlen(text) / 2 + mdp__rng_below(&s->r, strlen(text) / 3)] = '\0';
        s->st->bad_truncated++;
    } else if (bad == 2) {
        s->st->bad_missing_id++;
    } else if (bad == 3) {
        s->st->bad_unknown_enum++;
    } else if (bad == 4) {
        s->st->bad_bad_timestamp++;
    }
    s->st->events++;
    int rc = mdp__queue_push(s, &s->events[day], ts, text);
    if (!rc && bad == 5) { /* at-least-once delivery: the same event again, a little later */
        s->st->bad_duplicate++;
        s->st->events++;
        char *dup = strdup(s->events[day].v[s->events[day].n - 1].text);
        rc =
            mdp__queue_push(s, &s->events[day], ts + 1 + (int64_t)mdp__rng_below(&s->r, 5000), dup);
    }
    return rc;
}

static json_object *props_step(const char *step, int64_t dur_s)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "step_id", mdp__jstr(step));
    if (dur_s >= 0) json_object_object_add(p, "duration_seconds", json_object_new_int64(dur_s));
    return p;
}

/* ---- the world ---- */

static int pick_weighted(struct mdp__seed *s, const double *w, int n)
{
    double u = mdp__rng_unit(&s->r), acc = 0;
    for (int i = 0; i < n; i++) {
        acc += w[i];
        if (u < acc) return i;
    }
    return n - 1;
}

static int new_account(struct mdp__seed *s, int64_t t, int persona)
{
    struct mdp__account *a = &s->acc[s->nacc];
    memset(a, 0, sizeof *a);
    mdp__uuid7_at(s, t, &a->id);
    snprintf(a->name, sizeof a->name, "%s %s", BIZ_PREFIX[mdp__rng_below(&s->r, COUNT(BIZ_PREFIX))],
             BIZ_NAME[mdp__rng_below(&s->r, COUNT(BIZ_NAME))]);
    a->category = (int)mdp__rng_below(&s->r, COUNT(MDP__CATEGORIES));
    a->price = (int)mdp__rng_below(&s->r, 4);
    a->created_ms = t;
    a->gbp = mdp__rng_chance(&s->r, 0.7);
    if (a->gbp) mdp__digits(s, a->gbp_account, 20);
    a->nloc = persona == 3 ? 2 + (int)mdp__rng_below(&s->r, 4) : 1;
    a->first_loc = (int)s->nloc;
    char id[37];
    mdp_uuid_format(&a->id, id);
    char created[40];
    pg_ts(t, created);
    const char *row[] = {id,      a->name, MDP__CATEGORIES[a->category], PRICES[a->price], "t",
                         created, created};
    int rc = csv_row(s, T_ACCOUNTS, t, 7, row);
    for (int i = 0; i < a->nloc && !rc; i++) {
        struct mdp__location *l = &s->loc[s->nloc++];
        memset(l, 0, sizeof *l);
        mdp__uuid7_at(s, t + i, &l->id);
        l->account = (int)s->nacc;
        l->city = (int)mdp__rng_below(&s->r, COUNT(MDP__CITIES));
        const struct city *c = &MDP__CITIES[l->city];
        snprintf(l->street, sizeof l->street, "%s %d",
                 STREETS[mdp__rng_below(&s->r, COUNT(STREETS))],
                 1 + (int)mdp__rng_below(&s->r, 180));
        snprintf(l->postal, sizeof l->postal, "%s%03d", c->plz, (int)mdp__rng_below(&s->r, 1000));
        l->lat = c->lat + (mdp__rng_unit(&s->r) - 0.5) * 0.12;
        l->lng = c->lng + (mdp__rng_unit(&s->r) - 0.5) * 0.18;
        l->on_maps = a->gbp && mdp__rng_chance(&s->r, 0.9);
        if (l->on_maps) {
            static const char b64[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            strcpy(l->place_id, "ChIJ");
            for (int k = 4; k < 27; k++)
                l->place_id[k] = b64[mdp__rng_below(&s->r, 64)];
            l->place_id[27] = '\0';
        }
        mdp__digits(s, l->gbp_id, 19);
        snprintf(l->title, sizeof l->title, "%s%s%s", a->name, a->nloc > 1 ? " " : "",
                 a->nloc > 1 ? c->name : "");
        char lid[37], lat[24], lng[24], lcreated[40];
        mdp_uuid_format(&l->id, lid);
        snprintf(lat, sizeof lat, "%.8f", l->lat);
        snprintf(lng, sizeof lng, "%.8f", l->lng);
        pg_ts(t + i, lcreated);
        char addr[128];
        snprintf(addr, sizeof addr, "%s, %s %s", l->street, l->postal, c->name);
        const char *lrow[] = {lid, id,  addr,     c->name, "DE", l->on_maps ? l->place_id : NULL,
                              lat, lng, lcreated, lcreated};
        rc = csv_row(s, T_LOCATIONS, t + i, 10, lrow);
        s->st->locations++;
    }
    s->nacc++;
    s->st->accounts++;
    return rc;
}

static int profile_row(struct mdp__seed *s, struct mdp__user *u, int64_t t, int onb_done)
{
    char uid[37], aid[37], signup[40], now[40], last[40], prefs[256], settings[160];
    mdp_uuid_format(&u->id, uid);
    mdp_uuid_format(&s->acc[u->account].id, aid);
    pg_ts(u->signup_ms, signup);
    pg_ts(t, now);
    if (u->last_login_ms > 0) pg_ts(u->last_login_ms, last);
    snprintf(prefs, sizeof prefs, "{\"tone\": \"%s\", \"address\": \"%s\", \"language\": \"de\"}",
             MDP__TONES[u->tone], MDP__ADDRESSES[u->address]);
    snprintf(settings, sizeof settings,
             "{\"onboarding_completed\": %s, \"newsletter\": %s, \"theme\": \"%s\"}",
             onb_done ? "true" : "false", u->marketing_from >= 0 ? "true" : "false",
             (u->persona & 1) ? "dark" : "light");
    const char *persona = MDP__PERSONAS[u->persona];
    if (mdp__bad(s)) { /* a persona the app added before the platform knew it */
        persona = "unknown-uwe";
        s->st->bad_unknown_enum++;
    }
    const char *row[] = {uid,    aid,      u->email, u->name, persona,
                         prefs,  settings, "t",      signup,  u->last_login_ms > 0 ? last : NULL,
                         signup, now};
    return csv_row(s, T_USER_PROFILES, t, 12, row);
}

static int64_t business_hours(struct mdp__seed *s, int64_t day_start)
{
    /* 06:00-22:00 UTC, busier around noon and in the evening */
    double h = 6 + 16 * mdp__rng_unit(&s->r);
    if (mdp__rng_chance(&s->r, 0.4)) h = 11 + 3 * mdp__rng_unit(&s->r);
    return day_start + (int64_t)(h * 3600000.0) + (int64_t)mdp__rng_below(&s->r, 1000);
}

static int login(struct mdp__seed *s, struct mdp__user *u, int64_t t)
{
    static const char *errs[] = {"access_denied", "invalid_grant", "token_expired",
                                 "temporarily_unavailable"};
    const char *provider = u->fb && mdp__rng_chance(&s->r, 0.5) ? "facebook" : "google";
    int ok = !mdp__rng_chance(&s->r, 0.06);
    const char *err = ok ? NULL : errs[mdp__rng_below(&s->r, COUNT(errs))];
    struct mdp_uuid id;
    mdp__uuid7_at(s, t, &id);
    char eid[37], uid[37], ts[40];
    mdp_uuid_format(&id, eid);
    mdp_uuid_format(&u->id, uid);
    pg_ts(t, ts);
    const char *row[] = {eid, uid, provider, ok ? "t" : "f", err, ts};
    int rc = csv_row(s, T_OAUTH, t, 6, row);
    json_object *p = json_object_new_object();
    json_object_object_add(p, "provider", mdp__jstr(provider));
    if (err) json_object_object_add(p, "error_code", mdp__jstr(err));
    if (!rc) rc = emit_event(s, u, t, ok ? "login_succeeded" : "login_failed", p, NULL);
    if (ok) u->last_login_ms = t;
    return rc;
}

static int visibility_check(struct mdp__seed *s, struct mdp__user *u, int64_t t, int nth)
{
    const struct mdp__account *a = &s->acc[u->account];
    const struct mdp__location *l =
        &s->loc[a->first_loc + (int)mdp__rng_below(&s->r, (uint64_t)a->nloc)];
    int gbp = a->gbp ? 55 + (int)mdp__rng_below(&s->r, 35) : 10 + (int)mdp__rng_below(&s->r, 30);
    int social = u->fb ? 40 + (int)mdp__rng_below(&s->r, 45) : 5 + (int)mdp__rng_below(&s->r, 35);
    int web = 20 + (int)mdp__rng_below(&s->r, 70);
    gbp = gbp + 2 * nth > 100 ? 100 : gbp + 2 * nth;
    int overall = (gbp * 5 + social * 3 + web * 2) / 10;
    int competitors = 3 + (int)mdp__rng_below(&s->r, 25);
    int secs = 8 + (int)mdp__rng_lognormal(&s->r, 25, 0.5);
    struct mdp_uuid id;
    mdp__uuid7_at(s, t, &id);
    char cid[37], uid[37], aid[37], lid[37], ts[40], done[40], so[16], sg[16], ss[16], sw[16],
        sc[16], sp[16];
    mdp_uuid_format(&id, cid);
    mdp_uuid_format(&u->id, uid);
    mdp_uuid_format(&a->id, aid);
    mdp_uuid_format(&l->id, lid);
    pg_ts(t, ts);
    pg_ts(t + secs * 1000, done);
    snprintf(so, sizeof so, "%d", overall);
    snprintf(sg, sizeof sg, "%d", gbp);
    snprintf(ss, sizeof ss, "%d", social);
    snprintf(sw, sizeof sw, "%d", web);
    snprintf(sc, sizeof sc, "%d", competitors);
    snprintf(sp, sizeof sp, "%d", secs);
    const char *row[] = {cid, uid, aid, lid, so, sg, ss, sw, sc, sp, ts, done};
    int rc = csv_row(s, T_VC, t, 12, row);
    json_object *p = json_object_new_object();
    json_object_object_add(p, "check_id", mdp__jstr(cid));
    if (!rc) rc = emit_event(s, u, t, "vc_started", p, l);
    p = json_object_new_object();
    json_object_object_add(p, "check_id", mdp__jstr(cid));
    json_object_object_add(p, "overall_score", json_object_new_int(overall));
    json_object_object_add(p, "processing_time_seconds", json_object_new_int(secs));
    if (!rc) rc = emit_event(s, u, t + secs * 1000, "vc_completed", p, l);
    return rc;
}

static int onboarding(struct mdp__seed *s, struct mdp__user *u, int64_t t)
{
    /* how far and how fast each persona goes */
    static const double p_continue[4] = {0.88, 0.80, 0.93, 0.90};
    int rc = 0;
    char uid[37], aid[37];
    mdp_uuid_format(&u->id, uid);
    mdp_uuid_format(&s->acc[u->account].id, aid);
    for (size_t i = 0; i < NSTEPS && !rc && t < s->end_ms; i++) {
        const char *step = STEPS[i];
        int optional = i == 5 || i == 6 || i == 10;
        const char *status;
        int64_t dur = (int64_t)mdp__rng_lognormal(&s->r, 70, 0.9);
        if (optional && (strcmp(step, "connect_facebook") == 0    ? !u->fb
                         : strcmp(step, "connect_instagram") == 0 ? !u->ig
                                                                  : mdp__rng_chance(&s->r, 0.6)))
            status = "skipped", dur = 2 + (int64_t)mdp__rng_below(&s->r, 10);
        else if (!mdp__rng_chance(&s->r, p_continue[u->persona]))
            status = "abandoned", dur = 300 + (int64_t)mdp__rng_lognormal(&s->r, 200, 0.6);
        else
            status = "completed";
        struct mdp_uuid pid;
        mdp__uuid7_at(s, t, &pid);
        char id[37], st_ts[40], end_ts[40], ds[24];
        mdp_uuid_format(&pid, id);
        pg_ts(t, st_ts);
        pg_ts(t + dur * 1000, end_ts);
        snprintf(ds, sizeof ds, "%lld", (long long)dur);
        int finished = strcmp(status, "abandoned") != 0;
        const char *row[] = {
            id,    uid, aid, step, status, st_ts, finished ? end_ts : NULL, finished ? ds : NULL,
            end_ts};
        rc = csv_row(s, T_ONBOARDING, t + dur * 1000, 9, row);
        if (!rc) rc = emit_event(s, u, t, "step_started", props_step(step, -1), NULL);
        const char *ev = strcmp(status, "completed") == 0 ? "step_completed"
                         : strcmp(status, "skipped") == 0 ? "step_skipped"
                                                          : "step_abandoned";
        if (!rc) rc = emit_event(s, u, t + dur * 1000, ev, props_step(step, dur), NULL);
        if (!rc && strcmp(step, "first_vc") == 0 && finished)
            rc = visibility_check(s, u, t + dur * 1000, 0);
        t += dur * 1000 + 5000 + (int64_t)mdp__rng_below(&s->r, 60000);
        if (!finished) {
            /* come back another day, or never */
            if (mdp__rng_chance(&s->r, 0.5)) return rc;
            t += MDP_MS_PER_DAY * (1 + (int64_t)mdp__rng_below(&s->r, 4));
            i--; /* retry the same step */
        } else if (mdp__rng_chance(&s->r, 0.15)) {
            t += MDP_MS_PER_DAY * (1 + (int64_t)mdp__rng_below(&s->r, 3));
        }
    }
    if (!rc && t < s->end_ms) {
        u->onb_done = 1;
        rc = emit_event(s, u, t, "onb_complete", NULL, NULL);
        if (!rc) rc = profile_row(s, u, t, 1);
    }
    return rc;
}

static int simulate_user(struct mdp__seed *s, struct mdp__user *u)
{
    int64_t t = u->signup_ms;
    char uid[37], ts[40];
    mdp_uuid_format(&u->id, uid);
    pg_ts(t, ts);
    int rc = profile_row(s, u, t, 0);
    const char *crow[] = {uid, MDP__TONES[u->tone], MDP__ADDRESSES[u->address],
                          HELP_LEVELS[u->help], ts};
    if (!rc) rc = csv_row(s, T_COMM_PREFS, t, 5, crow);
    int64_t day0 = mdp__day_index(s, t);
    if (day0 >= 0) {
        s->ga4[day0][GA4_FIRST_VISIT][0]++;
        s->ga4[day0][GA4_SIGN_UP][0]++;
    }
    json_object *p = json_object_new_object();
    json_object_object_add(p, "method", mdp__jstr(u->fb ? "facebook" : "email"));
    if (!rc) rc = emit_event(s, u, t, "signed_up", p, NULL);

    /* double opt-in: token issued, mail sent, maybe confirmed */
    int delivered_ok = 1;
    if (!rc) {
        double r = mdp__rng_unit(&s->r);
        const char *kind = r < 0.03 ? "Bounce" : r < 0.035 ? "Complaint" : "Delivery";
        delivered_ok = kind[0] == 'D';
        rc = mdp__seed_ses_user(s, u, t + 1500, kind);
    }
    int confirms = delivered_ok && mdp__rng_chance(&s->r, 0.85);
    int64_t confirm_ms = t + 60000 + (int64_t)mdp__rng_lognormal(&s->r, 600000, 1.2);
    if (!rc) rc = mdp__seed_ddb_token(s, u, t + 800, confirms, confirm_ms);
    u->marketing_from = u->marketing_until = -1;
    if (confirms && !rc) {
        u->verified = 1;
        static const char *purposes[] = {"marketing_email", "analytics", "personalization", "ml",
                                         "vc_report"};
        static const double p_grant[] = {0.6, 0.7, 0.65, 0.5, 0.95};
        for (size_t i = 0; i < COUNT(purposes) && !rc; i++) {
            if (!mdp__rng_chance(&s->r, p_grant[i])) continue;
            int64_t gt = confirm_ms + 1000 + (int64_t)i * 350;
            rc = mdp__seed_ddb_consent(s, u, gt, purposes[i], "granted");
            if (i == 0) u->marketing_from = gt;
            if (!rc && i != 0 && mdp__rng_chance(&s->r, 0.05)) {
                int64_t wt = gt + MDP_MS_PER_DAY * (1 + (int64_t)mdp__rng_below(&s->r, 20));
                rc = mdp__seed_ddb_consent(s, u, wt, purposes[i], "withdrawn");
            }
        }
    }
    if (!rc) rc = onboarding(s, u, t + 30000 + (int64_t)mdp__rng_below(&s->r, 300000));

    /* daily life: logins, page views, sometimes a visibility check */
    static const double p_active[4] = {0.35, 0.25, 0.55, 0.6};
    int vc_n = 1;
    for (int64_t day = day0 + 1; day >= 1 && day < s->ndays && !rc; day++) {
        double decay = 1.0 / (1.0 + (double)(day - day0) / 20.0);
        if (!mdp__rng_chance(&s->r, p_active[u->persona] * (0.5 + decay))) continue;
        int64_t ds = s->start_ms + day * MDP_MS_PER_DAY;
        int64_t lt = business_hours(s, ds);
        s->active_users[day]++;
        s->ga4[day][GA4_SESSION_START][0] += 1 + (int64_t)mdp__rng_below(&s->r, 2);
        rc = login(s, u, lt);
        int views = 1 + (int)mdp__rng_below(&s->r, 8);
        for (int k = 0; k < views && !rc; k++) {
            static const char *pages[] = {"/dashboard", "/visibility",     "/reviews",
                                          "/settings",  "/reports/weekly", "/profile"};
            p = json_object_new_object();
            json_object_object_add(p, "path",
                                   mdp__jstr(pages[mdp__rng_below(&s->r, COUNT(pages))]));
            rc = emit_event(s, u, lt + 20000 * (k + 1), "page_view", p, NULL);
            s->ga4[day][GA4_PAGE_VIEW][0]++;
            s->ga4[day][GA4_SCROLL][0] += mdp__rng_chance(&s->r, 0.6);
            s->ga4[day][GA4_USER_ENGAGEMENT][0]++;
        }
        if (!rc && mdp__rng_chance(&s->r, 0.15)) rc = visibility_check(s, u, lt + 600000, vc_n++);
    }
    if (!rc && day0 >= 0) {
        s->active_users[day0]++;
        s->ga4[day0][GA4_SESSION_START][0]++;
        s->ga4[day0][GA4_PAGE_VIEW][0] += 3;
    }
    return rc;
}

int mdp__seed_world(struct mdp__seed *s)
{
    int rc = 0;
    int64_t window = s->end_ms - s->start_ms;
    for (long i = 0; i < s->o->users && !rc; i++) {
        struct mdp__user *u = &s->users[s->nusers];
        memset(u, 0, sizeof *u);
        /* more signups early in the window (a launch), spread over the day */
        double f = pow(mdp__rng_unit(&s->r), 1.3);
        int64_t day_start =
            s->start_ms + ((int64_t)(f * (double)window) / MDP_MS_PER_DAY) * MDP_MS_PER_DAY;
        u->signup_ms = business_hours(s, day_start);
        u->persona = pick_weighted(s, PERSONA_W, 4);
        u->tone = (int)mdp__rng_below(&s->r, 3);
        u->address = (int)mdp__rng_below(&s->r, 3);
        u->help = (int)mdp__rng_below(&s->r, 3);
        mdp__uuid7_at(s, u->signup_ms, &u->id);
        const char *fn = FIRST[mdp__rng_below(&s->r, COUNT(FIRST))];
        const char *ln = LAST[mdp__rng_below(&s->r, COUNT(LAST))];
        snprintf(u->name, sizeof u->name, "%s %s", fn, ln);
        static const char *domains[] = {"example.com", "example.org", "example.net",
                                        "mail.example.com"};
        /* the address as typed: some with capitals, ASCII local part */
        char local[64];
        snprintf(local, sizeof local, "%c%s.user%ld", fn[0],
                 mdp__rng_chance(&s->r, 0.2) ? "X" : "x", i);
        snprintf(u->email, sizeof u->email, "%s@%s", local, domains[mdp__rng_below(&s->r, 4)]);
        if (!mdp__rng_chance(&s->r, 0.3))
            for (char *c = u->email; *c; c++)
                if (*c >= 'A' && *c <= 'Z') *c = (char)(*c + 32);
        char rnd[12];
        mdp__digits(s, rnd, 10);
        snprintf(u->ga4_client_id, sizeof u->ga4_client_id, "%s.%lld", rnd,
                 (long long)(u->signup_ms / 1000));
        if (s->nacc > 0 && mdp__rng_chance(&s->r, 0.2)) {
            u->account = (int)mdp__rng_below(&s->r, s->nacc);
        } else {
            u->account = (int)s->nacc;
            rc = new_account(s, u->signup_ms - 1000, u->persona);
        }
        u->fb = mdp__rng_chance(&s->r, 0.4);
        if (u->fb) {
            snprintf(u->fb_page_id, sizeof u->fb_page_id, "1045");
            mdp__digits(s, u->fb_page_id + 4, 11);
            snprintf(u->fb_page_name, sizeof u->fb_page_name, "%s", s->acc[u->account].name);
            u->ig = mdp__rng_chance(&s->r, 0.6);
            if (u->ig) {
                snprintf(u->ig_id, sizeof u->ig_id, "178414");
                mdp__digits(s, u->ig_id + 6, 11);
            }
        }
        s->nusers++;
        s->st->users++;
        if (!rc) rc = simulate_user(s, u);
    }
    return rc;
}

/* ---- writing ---- */

static int write_csv(struct mdp__seed *s)
{
    int rc = 0;
    for (int t = 0; t < T_NTABLES && !rc; t++) {
        for (int64_t day = 0; day < s->ndays && !rc; day++) {
            struct mdp__queue *q = &s->csv[t][day];
            if (!q->n) continue;
            mdp__queue_sort(q);
            struct mdp_buf b, key;
            mdp_buf_init(&b);
            mdp_buf_init(&key);
            mdp_buf_printf(&b, "%s\n", CSV_HEADERS[t]);
            for (size_t i = 0; i < q->n; i++)
                mdp_buf_puts(&b, q->v[i].text);
            /* an export cut off mid-row (an interrupted transfer) */
            if (t == T_ONBOARDING && mdp__bad(s) && b.len > 40) {
                b.len -= 1 + mdp__rng_below(&s->r, 30);
                b.data[b.len] = '\0';
                s->st->bad_truncated++;
            }
            char date[11];
            mdp_date_format(s->o->start_day + day, date, sizeof date);
            mdp_buf_printf(&key, "supabase/%s/dt=%s/%s.csv", CSV_TABLES[t], date, CSV_TABLES[t]);
            rc = mdp__seed_put(s, key.data, b.data, b.len);
            mdp_buf_cleanup(&b);
            mdp_buf_cleanup(&key);
        }
    }
    return rc;
}

static int write_events(struct mdp__seed *s)
{
    int rc = 0;
    for (int64_t day = 0; day < s->ndays && !rc; day++) {
        struct mdp__queue *q = &s->events[day];
        if (!q->n) continue;
        mdp__queue_sort(q);
        struct mdp_buf b;
        mdp_buf_init(&b);
        for (size_t i = 0; i < q->n; i++) {
            mdp_buf_puts(&b, q->v[i].text);
            mdp_buf_putc(&b, '\n');
        }
        char date[11], key[96];
        mdp_date_format(s->o->start_day + day, date, sizeof date);
        snprintf(key, sizeof key, "events/dt=%s/events.ndjson", date);
        rc = mdp__seed_put(s, key, b.data, b.len);
        mdp_buf_cleanup(&b);
    }
    return rc;
}

int mdp_seed_generate(const struct mdp_seed_opts *o, struct mdp_store *out,
                      struct mdp_seed_stats *stats, struct mdp_diag *d)
{
    memset(stats, 0, sizeof *stats);
    if (o->users < 1 || o->days < 1 || o->bad_rate < 0 || o->bad_rate > 0.5)
        return mdp_diag_set(d, MDP_ERR_INVALID,
                            "seed: users and days must be >= 1, bad rate in [0, 0.5]");
    struct mdp__seed s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.out = out;
    s.st = stats;
    s.d = d;
    mdp__rng_seed(&s.r, o->seed);
    s.ndays = o->days;
    s.start_ms = o->start_day * MDP_MS_PER_DAY;
    s.end_ms = s.start_ms + s.ndays * MDP_MS_PER_DAY;
    size_t n = (size_t)o->users;
    s.users = calloc(n, sizeof *s.users);
    s.acc = calloc(n, sizeof *s.acc);
    s.loc = calloc(n * 5, sizeof *s.loc);
    s.events = calloc((size_t)s.ndays, sizeof *s.events);
    s.sns = calloc((size_t)s.ndays, sizeof *s.sns);
    s.ga4 = calloc((size_t)s.ndays, sizeof *s.ga4);
    s.active_users = calloc((size_t)s.ndays, sizeof *s.active_users);
    int rc = 0;
    for (int t = 0; t < T_NTABLES; t++)
        if (!(s.csv[t] = calloc((size_t)s.ndays, sizeof **s.csv))) rc = MDP_ERR_NOMEM;
    if (rc || !s.users || !s.acc || !s.loc || !s.events || !s.sns || !s.ga4 || !s.active_users) {
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "seed: out of memory for %ld users", o->users);
        goto out;
    }
    if ((rc = mdp__seed_world(&s))) goto out;
    if ((rc = mdp__seed_campaigns(&s))) goto out;
    if ((rc = write_csv(&s))) goto out;
    if ((rc = write_events(&s))) goto out;
    if ((rc = mdp__seed_write_ses(&s))) goto out;
    if ((rc = mdp__seed_write_ddb(&s))) goto out;
    if ((rc = mdp__seed_write_ga4(&s))) goto out;
    if ((rc = mdp__seed_write_gbp(&s))) goto out;
    rc = mdp__seed_write_meta(&s);
out:
    for (int64_t day = 0; day < s.ndays; day++) {
        if (s.events) mdp__queue_free(&s.events[day]);
        if (s.sns) mdp__queue_free(&s.sns[day]);
        for (int t = 0; t < T_NTABLES; t++)
            if (s.csv[t]) mdp__queue_free(&s.csv[t][day]);
    }
    for (int t = 0; t < T_NTABLES; t++)
        free(s.csv[t]);
    mdp__queue_free(&s.ddb);
    free(s.users);
    free(s.acc);
    free(s.loc);
    free(s.events);
    free(s.sns);
    free(s.ga4);
    free(s.active_users);
    return rc;
}
