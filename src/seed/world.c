/* The simulated world of `mdp seed` (seed_world.h): accounts with their locations, and users who
 * sign up, confirm their address (or not), decide on consent, walk through onboarding, log in,
 * look around, run visibility checks and receive the weekly campaign. Users are simulated one at a
 * time, their whole window each, so the world holds one user and a ring of recent accounts
 * whatever the run's size; every happening goes to the writers through mdp__seed_emit. The world
 * knows nothing of formats: it decides what happens and when, the writers how a source tells it. */
#include "seed_world.h"
#include "mdp/time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a)   (sizeof(a) / sizeof *(a))
#define RING       1024 /* accounts a new user can join: the most recent ones */
#define PERSONA_KK 3    /* ketten-katrin runs several locations */

static const double PERSONA_W[4] = {0.40, 0.25, 0.20, 0.15};

/* onboarding steps of matbakh.app, in order (12 steps: "high" engagement needs 10) */
static const char *const STEPS[] = {"welcome",           "business_info", "persona_quiz",
                                    "comm_prefs",        "connect_gbp",   "connect_facebook",
                                    "connect_instagram", "first_vc",      "review_report",
                                    "set_goals",         "invite_team",   "onboarding_done"};

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
static const char *const STREETS[] = {
    "Hauptstraße", "Bahnhofstraße",  "Schillerstraße",  "Gartenweg",      "Marktplatz",
    "Lindenallee", "Kastanienallee", "Friedrichstraße", "Bergmannstraße", "Am Hafen"};

struct world {
    struct mdp__seed *s;
    struct mdp__account *ring; /* RING slots, account n in slot n % RING */
    int64_t naccounts, nlocations;
};

static int emit(struct world *w, enum mdp__happening_kind kind, int64_t t,
                const struct mdp__user *u, struct mdp__happening *h)
{
    h->kind = kind;
    h->t = t;
    h->u = u;
    if (u) h->a = u->acc;
    if (!h->l && h->a) h->l = &h->a->loc[0];
    return mdp__seed_emit(w->s, h);
}

static int pick_weighted(struct mdp__seed *s, const double *wt, int n)
{
    double u = mdp__rng_unit(&s->r), acc = 0;
    for (int i = 0; i < n; i++) {
        acc += wt[i];
        if (u < acc) return i;
    }
    return n - 1;
}

static int64_t business_hours(struct mdp__seed *s, int64_t day_start)
{
    /* 06:00-22:00 UTC, busier around noon and in the evening */
    double h = 6 + 16 * mdp__rng_unit(&s->r);
    if (mdp__rng_chance(&s->r, 0.4)) h = 11 + 3 * mdp__rng_unit(&s->r);
    return day_start + (int64_t)(h * 3600000.0) + (int64_t)mdp__rng_below(&s->r, 1000);
}

static int new_account(struct world *w, int64_t t, int persona, const struct mdp__account **out)
{
    struct mdp__seed *s = w->s;
    struct mdp__account *a = &w->ring[w->naccounts % RING];
    memset(a, 0, sizeof *a);
    mdp__uuid7_at(s, t, &a->id);
    snprintf(a->name, sizeof a->name, "%s %s", BIZ_PREFIX[mdp__rng_below(&s->r, COUNT(BIZ_PREFIX))],
             BIZ_NAME[mdp__rng_below(&s->r, COUNT(BIZ_NAME))]);
    a->category = (int)mdp__rng_below(&s->r, COUNT(MDP__CATEGORIES));
    a->price = (int)mdp__rng_below(&s->r, 4);
    a->created_ms = t;
    a->gbp = mdp__rng_chance(&s->r, 0.7);
    if (a->gbp) mdp__digits(s, a->gbp_account, 20);
    a->nloc = persona == PERSONA_KK ? 2 + (int)mdp__rng_below(&s->r, 4) : 1;
    for (int i = 0; i < a->nloc; i++) {
        struct mdp__location *l = &a->loc[i];
        mdp__uuid7_at(s, t + i, &l->id);
        l->number = w->nlocations++;
        l->city = (int)mdp__rng_below(&s->r, COUNT(MDP__CITIES));
        const struct mdp__city *c = &MDP__CITIES[l->city];
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
    }
    w->naccounts++;
    s->st->accounts++;
    s->st->locations += a->nloc;
    *out = a;
    struct mdp__happening h = {.a = a};
    return emit(w, MDP__H_ACCOUNT, t, NULL, &h);
}

static int login(struct world *w, struct mdp__user *u, int64_t t)
{
    static const char *errs[] = {"access_denied", "invalid_grant", "token_expired",
                                 "temporarily_unavailable"};
    struct mdp__seed *s = w->s;
    struct mdp__happening h = {0};
    h.login.provider = u->fb && mdp__rng_chance(&s->r, 0.5) ? "facebook" : "google";
    int ok = !mdp__rng_chance(&s->r, 0.06);
    h.login.error = ok ? NULL : errs[mdp__rng_below(&s->r, COUNT(errs))];
    int rc = emit(w, MDP__H_LOGIN, t, u, &h);
    if (ok) u->last_login_ms = t;
    return rc;
}

static int visibility_check(struct world *w, struct mdp__user *u, int64_t t, int nth)
{
    struct mdp__seed *s = w->s;
    const struct mdp__account *a = u->acc;
    struct mdp__happening h = {0};
    h.l = &a->loc[(int)mdp__rng_below(&s->r, (uint64_t)a->nloc)];
    int gbp = a->gbp ? 55 + (int)mdp__rng_below(&s->r, 35) : 10 + (int)mdp__rng_below(&s->r, 30);
    int social = u->fb ? 40 + (int)mdp__rng_below(&s->r, 45) : 5 + (int)mdp__rng_below(&s->r, 35);
    int web = 20 + (int)mdp__rng_below(&s->r, 70);
    gbp = gbp + 2 * nth > 100 ? 100 : gbp + 2 * nth;
    h.vc.gbp = gbp;
    h.vc.social = social;
    h.vc.web = web;
    h.vc.overall = (gbp * 5 + social * 3 + web * 2) / 10;
    h.vc.competitors = 3 + (int)mdp__rng_below(&s->r, 25);
    h.vc.secs = 8 + (int)mdp__rng_lognormal(&s->r, 25, 0.5);
    mdp__uuid7_at(s, t, &h.vc.check_id);
    return emit(w, MDP__H_VC, t, u, &h);
}

static int onboarding(struct world *w, struct mdp__user *u, int64_t t)
{
    /* how far and how fast each persona goes */
    static const double p_continue[4] = {0.88, 0.80, 0.93, 0.90};
    struct mdp__seed *s = w->s;
    int rc = 0;
    for (size_t i = 0; i < COUNT(STEPS) && !rc && t < s->end_ms; i++) {
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
        struct mdp__happening h = {0};
        h.step.step = step;
        h.step.status = status;
        h.step.dur_s = dur;
        rc = emit(w, MDP__H_ONB_STEP, t, u, &h);
        int finished = strcmp(status, "abandoned") != 0;
        if (!rc && strcmp(step, "first_vc") == 0 && finished)
            rc = visibility_check(w, u, t + dur * 1000, 0);
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
        struct mdp__happening h = {0};
        rc = emit(w, MDP__H_ONB_DONE, t, u, &h);
    }
    return rc;
}

static int consent(struct world *w, struct mdp__user *u, int64_t t, const char *purpose,
                   const char *decision)
{
    struct mdp__happening h = {0};
    h.consent.purpose = purpose;
    h.consent.decision = decision;
    return emit(w, MDP__H_CONSENT, t, u, &h);
}

static int simulate_user(struct world *w, struct mdp__user *u)
{
    struct mdp__seed *s = w->s;
    int64_t t = u->signup_ms;
    int64_t day0 = mdp__day_index(s, t);
    struct mdp__happening h = {0};
    int rc = emit(w, MDP__H_SIGNUP, t, u, &h);

    /* double opt-in: token issued, mail sent, maybe confirmed */
    int delivered_ok = 1;
    if (!rc) {
        double r = mdp__rng_unit(&s->r);
        h = (struct mdp__happening){.doi_kind = r < 0.03    ? "Bounce"
                                                : r < 0.035 ? "Complaint"
                                                            : "Delivery"};
        delivered_ok = h.doi_kind[0] == 'D';
        rc = emit(w, MDP__H_DOI_MAIL, t + 1500, u, &h);
    }
    int confirms = delivered_ok && mdp__rng_chance(&s->r, 0.85);
    int64_t confirm_ms = t + 60000 + (int64_t)mdp__rng_lognormal(&s->r, 600000, 1.2);
    if (!rc) {
        h = (struct mdp__happening){.token = {confirms, confirm_ms}};
        rc = emit(w, MDP__H_TOKEN, t + 800, u, &h);
    }
    u->marketing_from = u->marketing_until = -1;
    if (confirms && !rc) {
        u->verified = 1;
        static const char *purposes[] = {"marketing_email", "analytics", "personalization", "ml",
                                         "vc_report"};
        static const double p_grant[] = {0.6, 0.7, 0.65, 0.5, 0.95};
        for (size_t i = 0; i < COUNT(purposes) && !rc; i++) {
            if (!mdp__rng_chance(&s->r, p_grant[i])) continue;
            int64_t gt = confirm_ms + 1000 + (int64_t)i * 350;
            rc = consent(w, u, gt, purposes[i], "granted");
            if (i == 0) u->marketing_from = gt;
            if (!rc && i != 0 && mdp__rng_chance(&s->r, 0.05)) {
                int64_t wt = gt + MDP_MS_PER_DAY * (1 + (int64_t)mdp__rng_below(&s->r, 20));
                rc = consent(w, u, wt, purposes[i], "withdrawn");
            }
        }
    }
    if (!rc) rc = onboarding(w, u, t + 30000 + (int64_t)mdp__rng_below(&s->r, 300000));

    /* daily life: logins, page views, sometimes a visibility check */
    static const double p_active[4] = {0.35, 0.25, 0.55, 0.6};
    int vc_n = 1;
    for (int64_t day = day0 + 1; day >= 1 && day < s->ndays && !rc; day++) {
        double decay = 1.0 / (1.0 + (double)(day - day0) / 20.0);
        if (!mdp__rng_chance(&s->r, p_active[u->persona] * (0.5 + decay))) continue;
        int64_t ds = s->start_ms + day * MDP_MS_PER_DAY;
        int64_t lt = business_hours(s, ds);
        h = (struct mdp__happening){.active = {day, 1 + (int)mdp__rng_below(&s->r, 2), 0}};
        rc = emit(w, MDP__H_ACTIVE_DAY, lt, u, &h);
        if (!rc) rc = login(w, u, lt);
        int views = 1 + (int)mdp__rng_below(&s->r, 8);
        for (int k = 0; k < views && !rc; k++) {
            static const char *pages[] = {"/dashboard", "/visibility",     "/reviews",
                                          "/settings",  "/reports/weekly", "/profile"};
            h = (struct mdp__happening){.path = pages[mdp__rng_below(&s->r, COUNT(pages))]};
            rc = emit(w, MDP__H_PAGE_VIEW, lt + 20000 * (k + 1), u, &h);
        }
        if (!rc && mdp__rng_chance(&s->r, 0.15)) rc = visibility_check(w, u, lt + 600000, vc_n++);
    }
    if (!rc && day0 >= 0) {
        h = (struct mdp__happening){.active = {day0, 1, 1}};
        rc = emit(w, MDP__H_ACTIVE_DAY, t, u, &h);
    }
    return rc;
}

/* One campaign mail and its fate: sent, then rejected, not rendered, bounced, or delivered
 * (maybe after a delay), opened, clicked, unsubscribed from, complained about. */
static int campaign_mail(struct world *w, struct mdp__user *u, int64_t t, const char *campaign,
                         const char *subject)
{
    struct mdp__seed *s = w->s;
    struct mdp__mail m = {campaign,
                          subject,
                          (int)mdp__rng_below(&s->r, 3),
                          (int)mdp__rng_below(&s->r, 2),
                          MDP__MAIL_DELIVERED,
                          -1,
                          -1,
                          -1,
                          -1,
                          -1,
                          -1};
    double r = mdp__rng_unit(&s->r);
    int64_t dt = t + 800 + (int64_t)mdp__rng_below(&s->r, 4000);
    if (r < 0.003) {
        m.fate = MDP__MAIL_REJECTED;
    } else if (r < 0.005) {
        m.fate = MDP__MAIL_RENDER_FAILED;
    } else if (r < 0.025) {
        m.fate = MDP__MAIL_BOUNCED;
        m.delivered_ms = dt; /* the bounce's time */
    } else {
        if (r < 0.035) { /* delayed first, delivered later */
            m.delayed_ms = dt;
            dt += 1800000;
        }
        m.delivered_ms = dt;
        if (mdp__rng_chance(&s->r, 0.45)) {
            int64_t ot = dt + (int64_t)mdp__rng_lognormal(&s->r, 3 * 3600000.0, 1.2);
            m.opened_ms = ot;
            if (mdp__rng_chance(&s->r, 0.35))
                m.clicked_ms = ot + 5000 + (int64_t)mdp__rng_below(&s->r, 120000);
            if (mdp__rng_chance(&s->r, 0.01)) m.unsubscribed_ms = ot + 60000;
        }
        if (mdp__rng_chance(&s->r, 0.002)) m.complained_ms = dt + 7200000;
    }
    struct mdp__happening h = {.mail = &m};
    int rc = emit(w, MDP__H_CAMPAIGN, t, u, &h);
    if (!rc && m.unsubscribed_ms >= 0) {
        rc = consent(w, u, m.unsubscribed_ms + 500, "marketing_email", "withdrawn");
        u->marketing_until = m.unsubscribed_ms;
    }
    return rc;
}

/* The weekly campaign, Tuesdays 09:00 UTC (user by user a little later), to the user if opted in
 * to marketing email by then. */
static int campaigns(struct world *w, struct mdp__user *u)
{
    static const char *subjects[] = {"Deine Sichtbarkeit diese Woche", "3 Tipps für mehr Gäste",
                                     "So steht dein Restaurant im Vergleich", "Neue Bewertungen"};
    struct mdp__seed *s = w->s;
    int rc = 0, n = 0;
    for (int64_t day = 0; day < s->ndays && !rc; day++) {
        int64_t abs_day = s->o->start_day + day;
        if (mdp_weekday_iso(abs_day) != 2) continue;
        int64_t t = abs_day * MDP_MS_PER_DAY + 9 * 3600000;
        int64_t y;
        unsigned mo, dd;
        mdp_civil_from_days(abs_day, &y, &mo, &dd);
        char campaign[48];
        snprintf(campaign, sizeof campaign, "cmp_%04d_%02u_w%02u", (int)y, mo, dd);
        const char *subject = subjects[n++ % 4];
        if (u->marketing_from < 0 || u->marketing_from > t) continue;
        if (u->marketing_until >= 0 && u->marketing_until <= t) continue;
        rc = campaign_mail(w, u, t + (u->number % 100000) * 37, campaign, subject);
    }
    return rc;
}

static int new_user(struct world *w, int64_t number, struct mdp__user *u)
{
    struct mdp__seed *s = w->s;
    int64_t window = s->end_ms - s->start_ms;
    memset(u, 0, sizeof *u);
    u->number = number;
    u->marketing_from = u->marketing_until = -1;
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
    snprintf(local, sizeof local, "%c%s.user%lld", fn[0], mdp__rng_chance(&s->r, 0.2) ? "X" : "x",
             (long long)number);
    snprintf(u->email, sizeof u->email, "%s@%s", local, domains[mdp__rng_below(&s->r, 4)]);
    if (!mdp__rng_chance(&s->r, 0.3))
        for (char *c = u->email; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c + 32);
    char rnd[12];
    mdp__digits(s, rnd, 10);
    snprintf(u->ga4_client_id, sizeof u->ga4_client_id, "%s.%lld", rnd,
             (long long)(u->signup_ms / 1000));
    int rc = 0;
    if (w->naccounts > 0 && mdp__rng_chance(&s->r, 0.2)) {
        /* joins a colleague's account, one of the recent ones */
        int64_t recent = w->naccounts < RING ? w->naccounts : RING;
        int64_t k = w->naccounts - 1 - (int64_t)mdp__rng_below(&s->r, (uint64_t)recent);
        u->acc = &w->ring[k % RING];
    } else {
        rc = new_account(w, u->signup_ms - 1000, u->persona, &u->acc);
    }
    u->fb = mdp__rng_chance(&s->r, 0.4);
    if (u->fb) {
        snprintf(u->fb_page_id, sizeof u->fb_page_id, "1045");
        mdp__digits(s, u->fb_page_id + 4, 11);
        snprintf(u->fb_page_name, sizeof u->fb_page_name, "%s", u->acc->name);
        u->ig = mdp__rng_chance(&s->r, 0.6);
        if (u->ig) {
            snprintf(u->ig_id, sizeof u->ig_id, "178414");
            mdp__digits(s, u->ig_id + 6, 11);
        }
    }
    s->st->users++;
    return rc;
}

int mdp__world_run(struct mdp__seed *s)
{
    struct world w = {s, calloc(RING, sizeof *w.ring), 0, 0};
    if (!w.ring) return mdp__nomem(s);
    int rc = 0;
    struct mdp__user u;
    for (long i = 0; i < s->o->users && !rc; i++) {
        rc = new_user(&w, i, &u);
        if (!rc) rc = simulate_user(&w, &u);
        if (!rc) rc = campaigns(&w, &u);
        struct mdp__happening h = {0};
        if (!rc) rc = emit(&w, MDP__H_USER_END, s->end_ms, &u, &h);
    }
    free(w.ring);
    return rc;
}
