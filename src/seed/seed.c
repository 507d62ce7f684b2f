/* `mdp seed`'s entry point (include/mdp/seed.h): sets up the run (options, window, the one PRNG),
 * opens the source writers, lets the world simulate its users one by one while the writers spool
 * or write their deliveries, then has each writer write what is left. Beside the main thread (the
 * only one that draws random numbers) two threads make the landing puts (util.c), one stores the
 * spooled records while the world goes on (util.c), and two write the app events' days at the end
 * (w_events.c). Memory stays flat in the number of users: the world holds one user, the writers
 * spool per day to scratch files. */
#include "seed_world.h"
#include "mdp/time.h"

#include <string.h>

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
    int rc = o->single_thread ? 0 : mdp__io_start(&s);
    if (!rc) rc = mdp__writers_init(&s);
    if (!rc && !o->single_thread) rc = mdp__spool_thread_start(&s);
    if (!rc) rc = mdp__world_run(&s);
    int feed_rc = mdp__spool_thread_stop(&s); /* every record stored before the spools drain */
    if (!rc) rc = feed_rc;
    if (!rc) rc = mdp__writers_finish(&s);
    int io_rc = mdp__io_finish(&s); /* every queued put done (or failed) before returning */
    if (!rc) rc = io_rc;
    mdp__writers_cleanup(&s);
    mdp__scratch_cleanup(&s);
    return rc;
}
