/* The simulated world of `mdp seed` and the contract between it and the source writers.
 *
 * world.c simulates accounts, locations and users one user at a time (a user's whole life over the
 * window, then the next), with the run's one PRNG, and reports each happening (a signup, a consent
 * decision, an onboarding step, a campaign mail and what became of it ...) to every writer through
 * mdp__seed_emit (writers.c). Each writer (w_<source>.c) turns the happenings it cares about into
 * its source's deliveries in the official format, and writes what is left at finish. The world
 * knows no format, a writer never calls the world nor another writer: the dependencies run
 * seed.c -> world.c -> writers.c -> w_*.c -> util.c and never back. */
#ifndef MDP_SEED_WORLD_H
#define MDP_SEED_WORLD_H

#include "seed_util.h"

#define MDP__MAX_LOC 5

extern const char *const MDP__PERSONAS[4];
extern const char *const MDP__TONES[3];
extern const char *const MDP__ADDRESSES[3];
extern const char *const MDP__HELP_LEVELS[3];
extern const char *const MDP__CATEGORIES[10];
extern const char *const MDP__PRICES[4];
struct mdp__city {
    const char *name, *plz;
    double lat, lng;
};
extern const struct mdp__city MDP__CITIES[10];

struct mdp__location {
    struct mdp_uuid id;
    int64_t number; /* the how-manieth location of the run */
    int city;
    char street[96], postal[8];
    double lat, lng;
    int on_maps;
    char place_id[40];
    char gbp_id[24];
    char title[200];
};

struct mdp__account {
    struct mdp_uuid id;
    char name[96];
    int category, price;
    int64_t created_ms;
    int gbp; /* linked to Google Business Profile */
    char gbp_account[24];
    int nloc;
    struct mdp__location loc[MDP__MAX_LOC];
};

struct mdp__user {
    struct mdp_uuid id;
    int64_t number; /* the how-manieth user of the run */
    const struct mdp__account *acc;
    int persona, tone, address, help;
    char email[128], name[80];
    int64_t signup_ms;
    char ga4_client_id[32];
    int fb, ig;
    char fb_page_id[24], ig_id[24], fb_page_name[96];
    int verified;
    int64_t marketing_from, marketing_until; /* consent interval, -1 = never */
    int64_t last_login_ms;
    int onb_done;
};

/* What became of one campaign mail (times in ms; -1 = did not happen). */
struct mdp__mail {
    const char *campaign, *subject;
    int copy, subject_variant;
    enum {
        MDP__MAIL_REJECTED,
        MDP__MAIL_RENDER_FAILED,
        MDP__MAIL_BOUNCED,
        MDP__MAIL_DELIVERED
    } fate;
    int64_t delivered_ms, delayed_ms, opened_ms, clicked_ms, unsubscribed_ms, complained_ms;
};

enum mdp__happening_kind {
    MDP__H_ACCOUNT,    /* a new account with its locations (a) */
    MDP__H_SIGNUP,     /* a user signed up (u) */
    MDP__H_DOI_MAIL,   /* the double-opt-in mail and its fate (doi_kind) */
    MDP__H_TOKEN,      /* the DOI token issued, maybe confirmed (confirms, confirm_ms) */
    MDP__H_CONSENT,    /* a consent decision (purpose, decision) */
    MDP__H_ONB_STEP,   /* an onboarding step ended (step, status, dur_s) */
    MDP__H_ONB_DONE,   /* onboarding complete */
    MDP__H_LOGIN,      /* an OAuth login (provider, ok, error) */
    MDP__H_ACTIVE_DAY, /* the user was active on day (sessions, first) */
    MDP__H_PAGE_VIEW,  /* a page view (path) */
    MDP__H_VC,         /* a visibility check (l, check id and scores) */
    MDP__H_CAMPAIGN,   /* a campaign mail (mail) */
    MDP__H_USER_END,   /* the user's simulation is over: state as at the end of the window */
    MDP__H_NKINDS
};

struct mdp__happening {
    enum mdp__happening_kind kind;
    int64_t t;
    const struct mdp__user *u;
    const struct mdp__account *a;
    const struct mdp__location *l; /* where, when it matters */
    union {
        const char *doi_kind; /* Delivery, Bounce, Complaint */
        struct {
            int confirms;
            int64_t confirm_ms;
        } token;
        struct {
            const char *purpose, *decision;
        } consent;
        struct {
            const char *step, *status;
            int64_t dur_s;
        } step;
        struct {
            const char *provider, *error; /* error NULL when ok */
        } login;
        struct {
            int64_t day;
            int sessions, first;
        } active;
        const char *path;
        struct {
            struct mdp_uuid check_id;
            int overall, gbp, social, web, competitors, secs;
        } vc;
        const struct mdp__mail *mail;
    };
};

/* A source's writer, registered in the one table of writers.c. state is the writer's slot in
 * s->writer_state (init fills it, cleanup frees it; cleanup runs also after a failed init). */
struct mdp__writer {
    const char *name;
    int (*init)(struct mdp__seed *s, void **state);
    int (*on)(struct mdp__seed *s, void *state, const struct mdp__happening *h);
    int (*finish)(struct mdp__seed *s, void *state); /* writes what is left (or starts to) */
    void (*cleanup)(struct mdp__seed *s, void *state);
    /* Optional: waits for what finish left running on threads of the writer's own (which must use
     * no random number: the other writers finish meanwhile); runs after every finish, also after a
     * failed one, and also for a writer whose finish never ran. Returns finish's error, if any. */
    int (*wait)(struct mdp__seed *s, void *state);
};

extern const struct mdp__writer mdp__writer_supabase, mdp__writer_events, mdp__writer_ses,
    mdp__writer_ddb, mdp__writer_ga4, mdp__writer_gbp, mdp__writer_meta;

/* writers.c: the registry */
int mdp__writers_init(struct mdp__seed *s);
int mdp__seed_emit(struct mdp__seed *s, const struct mdp__happening *h);
int mdp__writers_finish(struct mdp__seed *s);
void mdp__writers_cleanup(struct mdp__seed *s);

/* world.c: simulates the run's users one by one, emitting their happenings */
int mdp__world_run(struct mdp__seed *s);

#endif
