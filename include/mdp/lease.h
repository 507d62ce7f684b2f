/* Leases: one writing job at a time per lake (docs/lake.md, "One writer at a time").
 *
 * A lease is an item of the state store's table `leases` (the lake's SQLite file, or DynamoDB in
 * AWS mode, so jobs on different machines see the same one) whose body says who holds it and
 * until when: {"lease_until":EPOCH_S,"holder":"curate","host":"...","pid":N,"since":"ISO"}. It is
 * taken with one conditional write (absent, or lease_until in the past), renewed by a thread of
 * the holder every third of its time to live with a write conditioned on it still being the
 * holder's, and released by setting lease_until to 0. A holder that dies stops renewing: its lease
 * lapses after ttl seconds, or at once when it ran on this host and its process is gone. Clocks
 * of different hosts must agree to well within ttl (NTP does). */
#ifndef MDP_LEASE_H
#define MDP_LEASE_H

#include <stdint.h>
#include "mdp/err.h"

struct mdp_lake;
struct mdp_lease;

struct mdp_lease_opts {
    const char *holder; /* what holds it, for the message another job gets ("curate") */
    int64_t ttl_s;      /* time to live without renewal, at least 3 */
    int64_t wait_s;     /* how long to wait for a held lease; 0: fail at once */
};

/* Who holds a lease, or held it last. */
struct mdp_lease_info {
    int taken;       /* 0: no job ever took it (the rest is empty) */
    int held;        /* 1 while lease_until is in the future */
    int64_t until;   /* lease_until, epoch seconds; 0 once released */
    long pid;        /* the holder's process, on host */
    char holder[64]; /* what holds it ("curate", "ingest") */
    char host[256];  /* the holder's host name */
    char since[40];  /* when it took it, ISO 8601 UTC */
};

/* The lease of the lake's writing jobs (a name of the table `leases`). */
#define MDP_LEASE_LAKE "lake"

/* Takes lease name (letters, digits, '_', '-', '/', ':'; borrowed) of lake's state store, waiting up
 * to o->wait_s seconds while another holds it, and starts renewing it. *out (NULL on failure) is
 * released and freed by the caller with mdp_lease_release. Returns 0; MDP_ERR_EXISTS when another
 * holder kept it past the wait, d naming it (what, host, process, since when, until when);
 * MDP_ERR_INVALID (name, ttl); mdp_state_open_lake's and the store's errors; MDP_ERR_NOMEM. */
int mdp_lease_take(struct mdp_lake *lake, const char *name, const struct mdp_lease_opts *o,
                   struct mdp_lease **out, struct mdp_diag *d);

/* Reads who holds lease name (borrowed) of lake's state store, or held it last, into *out
 * (caller's). Writes nothing. Returns 0, MDP_ERR_INVALID (name), mdp_state_open_lake's and the
 * store's errors, MDP_ERR_PARSE (an item that is not a lease's), with d. */
int mdp_lease_show(struct mdp_lake *lake, const char *name, struct mdp_lease_info *out,
                   struct mdp_diag *d);

/* Removes lease name's item (borrowed) from lake's state store, whoever holds it: for a holder
 * known to be gone that another host's job cannot take over before its ttl, or an item that is
 * not a lease's. A live holder that renews afterwards takes it again, or, when another job took it
 * meanwhile, learns that it lost it. Returns 0 (also when there was none), MDP_ERR_INVALID (name),
 * mdp_state_open_lake's and the store's errors, with d. */
int mdp_lease_break(struct mdp_lake *lake, const char *name, struct mdp_diag *d);

/* The fence of a publish (mdp_lake_publish calls it before a new version becomes visible): when
 * this process holds the lake lease (MDP_LEASE_LAKE) of lake's location, reads the lease's item
 * and confirms it is still this holder's, taking it again first when it lapsed or was removed
 * (`mdp lake lease --break`) while nobody took it, as the renewal would. A job whose lease another
 * took so publishes nothing after it finds out. Returns 0 (also when this process holds no lease
 * of lake); MDP_ERR_EXISTS when the lease was lost (and mdp_lease_lost says 1 from then on); the
 * store's errors when it cannot be confirmed; with d. */
int mdp_lease_fence(const struct mdp_lake *lake, struct mdp_diag *d);

/* Returns 1 when a renewal of l (not NULL) or a publish's fence found the lease taken by another
 * holder (l's own had lapsed: the job stalled past ttl), else 0. */
int mdp_lease_lost(struct mdp_lease *l);

/* Stops renewing l, releases the lease when l still holds it, and frees l (NULL is fine). Returns
 * 0, 1 when the lease had been lost (mdp_lease_lost), or the store's error of the release (the
 * lease then lapses after its ttl), with d (may be NULL). */
int mdp_lease_release(struct mdp_lease *l, struct mdp_diag *d);

#endif
