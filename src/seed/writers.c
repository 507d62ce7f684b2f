/* The seed module's registry of source writers: one line per source. The world reports each
 * happening to every writer in this order; finish runs them in the same order, so the bytes of a
 * run depend only on its options. Adding a source's seed is a w_<source>.c file and a line here. */
#include "seed_world.h"

#include <string.h>

static const struct mdp__writer *const WRITERS[] = {
    &mdp__writer_supabase, &mdp__writer_events, &mdp__writer_ses,  &mdp__writer_ddb,
    &mdp__writer_ga4,      &mdp__writer_gbp,    &mdp__writer_meta,
};
#define NWRITERS (sizeof WRITERS / sizeof *WRITERS)
_Static_assert(NWRITERS <= sizeof((struct mdp__seed *)0)->writer_state / sizeof(void *),
               "one state slot per writer");

int mdp__writers_init(struct mdp__seed *s)
{
    int rc = 0;
    for (size_t i = 0; i < NWRITERS && !rc; i++)
        if (WRITERS[i]->init) rc = WRITERS[i]->init(s, &s->writer_state[i]);
    return rc;
}

int mdp__seed_emit(struct mdp__seed *s, const struct mdp__happening *h)
{
    int rc = 0;
    for (size_t i = 0; i < NWRITERS && !rc; i++)
        if (WRITERS[i]->on) rc = WRITERS[i]->on(s, s->writer_state[i], h);
    return rc;
}

int mdp__writers_finish(struct mdp__seed *s)
{
    int rc = 0;
    for (size_t i = 0; i < NWRITERS && !rc; i++)
        if (WRITERS[i]->finish) rc = WRITERS[i]->finish(s, s->writer_state[i]);
    for (size_t i = 0; i < NWRITERS; i++) { /* the threads a finish left running, always */
        struct mdp_diag keep = {0};
        if (rc && s->d) keep = *s->d;
        int wrc = WRITERS[i]->wait ? WRITERS[i]->wait(s, s->writer_state[i]) : 0;
        if (rc && s->d) *s->d = keep; /* the first error's detail stays */
        if (!rc) rc = wrc;
    }
    return rc;
}

void mdp__writers_cleanup(struct mdp__seed *s)
{
    for (size_t i = 0; i < NWRITERS; i++) {
        if (WRITERS[i]->cleanup) WRITERS[i]->cleanup(s, s->writer_state[i]);
        s->writer_state[i] = NULL;
    }
}
