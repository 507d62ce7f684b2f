/* Leases in the state store (include/mdp/lease.h): one writing job at a time per lake. */
#define _GNU_SOURCE /* pthread_condattr_setclock's CLOCK_MONOTONIC, gethostname */
#include "mdp/lease.h"
#include "mdp/alloc.h"
#include "mdp/buf.h"
#include "mdp/lake.h"
#include "mdp/log.h"
#include "mdp/ml.h"
#include "mdp/state.h"
#include "mdp/time.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* one item per lease, overwritten by every holder (it names only the last one): it never
 * expires, so retention leaves it alone (the inventory's state.leases) */
#define TABLE "leases"

struct mdp_lease {
    struct mdp_state *st; /* written under mu: by the renewing thread, the fence, release */
    char name[64], holder[64], host[256], since[40];
    char *location;         /* the lake's, as opened: the fence finds the lease by it */
    struct mdp_lease *next; /* in HELD */
    int64_t ttl_s;
    int64_t until; /* the lease_until last written */
    int lost, stop, started;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
};

/* The leases this process holds, for mdp_lease_fence: taken under HELD_MU, then a lease's mu. */
static pthread_mutex_t HELD_MU = PTHREAD_MUTEX_INITIALIZER;
static struct mdp_lease *HELD;

static int64_t now_s(void)
{
    return (int64_t)time(NULL); /* wall clock: compared with other hosts' */
}

static int name_ok(const char *s)
{
    if (!*s || strlen(s) >= 64) return 0;
    for (; *s; s++)
        if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') || ('0' <= *s && *s <= '9') ||
              strchr("_-/:", *s)))
            return 0;
    return 1;
}

/* Writes the lease's item with lease_until = until when the stored lease_until is below `below`
 * (or there is none). Returns mdp_state_put_if_newer's result. */
static int write_if(struct mdp_lease *l, int64_t below, int64_t until, struct mdp_diag *d)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    mdp_buf_printf(&b, "{\"lease_until\":%lld,\"holder\":", (long long)until);
    mdp_buf_json_str(&b, l->holder);
    mdp_buf_cat(&b, &MDP_LIT(",\"host\":"), 1);
    mdp_buf_json_str(&b, l->host);
    mdp_buf_printf(&b, ",\"pid\":%ld,\"since\":\"%s\"}", (long)getpid(), l->since);
    int rc = mdp_buf_error(&b);
    if (rc) {
        mdp_buf_cleanup(&b);
        return mdp_diag_set(d, rc, "out of memory");
    }
    struct mdp_state_item it = {l->name, "-", b.data, 0};
    rc = mdp_state_put_if_below(l->st, TABLE, &it, "lease_until", below, until, d);
    mdp_buf_cleanup(&b);
    return rc;
}

/* Reads who holds lease name of st into *h (zeroed first). Returns 0, MDP_ERR_NOT_FOUND (no
 * item: never taken, or purged), the store's error, or MDP_ERR_PARSE for a body that is not a
 * lease's, with d. */
static int read_holder(struct mdp_state *st, const char *name, struct mdp_lease_info *h,
                       struct mdp_diag *d)
{
    memset(h, 0, sizeof *h);
    char *body;
    int rc = mdp_state_get(st, TABLE, name, "-", &body, NULL, d);
    if (rc) return rc;
    json_object *o = json_tokener_parse(body), *v;
    if (!o || !json_object_object_get_ex(o, "lease_until", &v))
        rc = mdp_diag_set(d, MDP_ERR_PARSE, "state store: lease %s: not a lease's item", name);
    else
        h->until = json_object_get_int64(v);
    h->taken = !rc;
    h->held = !rc && h->until > now_s();
    if (!rc && json_object_object_get_ex(o, "pid", &v)) h->pid = (long)json_object_get_int64(v);
    static const char *const KEYS[] = {"holder", "host", "since"};
    char *const outs[] = {h->holder, h->host, h->since};
    const size_t sizes[] = {sizeof h->holder, sizeof h->host, sizeof h->since};
    for (int i = 0; !rc && i < 3; i++)
        if (json_object_object_get_ex(o, KEYS[i], &v))
            snprintf(outs[i], sizes[i], "%s", json_object_get_string(v));
    json_object_put(o);
    free(body);
    return rc;
}

/* 1 when the holder ran on this host and its process is gone (a crash, kill -9) */
static int holder_dead(const struct mdp_lease *l, const struct mdp_lease_info *h)
{
    return h->pid > 0 && h->pid != (long)getpid() && strcmp(h->host, l->host) == 0 &&
           kill((pid_t)h->pid, 0) != 0 && errno == ESRCH;
}

/* 1 when the item read (h) is l's own: the same process of the same host, taken at the same
 * second (its lease_until may be newer than the one l knows: a write that failed to answer may
 * have been done) */
static int is_own(const struct mdp_lease *l, const struct mdp_lease_info *h)
{
    return h->pid == (long)getpid() && strcmp(h->host, l->host) == 0 &&
           strcmp(h->since, l->since) == 0 && strcmp(h->holder, l->holder) == 0;
}

/* Writes l's item with lease_until = until while it is still l's (caller holds l->mu), and then
 * notes until in l. Returns 0, MDP_ERR_EXISTS when another holder has it, the store's errors. */
static int write_own(struct mdp_lease *l, int64_t until, struct mdp_diag *d)
{
    int rc = write_if(l, l->until + 1, until, d);
    struct mdp_lease_info h;
    if (rc == MDP_ERR_EXISTS && read_holder(l->st, l->name, &h, d) == 0 && is_own(l, &h)) {
        l->until = h.until; /* an earlier write was done though it failed to answer */
        rc = write_if(l, l->until + 1, until, d);
    }
    if (rc == 0) l->until = until;
    return rc;
}

static void *renew(void *arg)
{
    struct mdp_lease *l = arg;
    int64_t every_ms = l->ttl_s * 1000 / 3;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += (time_t)(every_ms / 1000);
        t.tv_nsec += (long)(every_ms % 1000) * 1000000;
        if (t.tv_nsec >= 1000000000) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000;
        }
        int w = 0;
        while (!l->stop && w != ETIMEDOUT)
            w = pthread_cond_timedwait(&l->cv, &l->mu, &t);
        if (l->stop || l->lost) break;
        struct mdp_diag d = {0};
        int64_t until = now_s() + l->ttl_s;
        int rc = write_own(l, until, &d); /* under mu: the fence writes too */
        if (rc == MDP_ERR_EXISTS) {
            /* another job took it after ours lapsed: this one stalled past the ttl */
            l->lost = 1;
            mdp_log(MDP_LOG_ERROR, "lease lost: another job took it", LOG_STR("lease", l->name),
                    LOG_STR("holder", l->holder), MDP_LF_END);
            break;
        } else {
            /* the store failed (a network blip): try again next time; the lease lapses only
             * when the failures last a whole ttl */
            mdp_log(MDP_LOG_WARN, "lease not renewed", LOG_STR("lease", l->name),
                    LOG_STR("error", d.msg), MDP_LF_END);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void lease_free(struct mdp_lease *l)
{
    mdp_state_close(l->st);
    free(l->location);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

int mdp_lease_take(struct mdp_lake *lake, const char *name, const struct mdp_lease_opts *o,
                   struct mdp_lease **out, struct mdp_diag *d)
{
    *out = NULL;
    if (!name_ok(name))
        return mdp_diag_set(d, MDP_ERR_INVALID, "lease name '%s': letters, digits, _-/: only",
                            name);
    if (o->ttl_s < 3 || o->wait_s < 0)
        return mdp_diag_set(d, MDP_ERR_INVALID, "lease %s: a ttl of at least 3 s and a wait >= 0",
                            name);
    struct mdp_lease *l = mdp_calloc(1, sizeof *l);
    if (!l) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(l->name, sizeof l->name, "%s", name);
    snprintf(l->holder, sizeof l->holder, "%s", o->holder ? o->holder : "mdp");
    if (gethostname(l->host, sizeof l->host - 1) != 0) snprintf(l->host, sizeof l->host, "?");
    mdp_time_format_ms(now_s() * 1000, l->since, sizeof l->since);
    l->ttl_s = o->ttl_s;
    if (!(l->location = mdp_strdup(lake->location ? lake->location : ""))) {
        lease_free(l);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    int rc = mdp_state_open_lake(lake, &l->st, d);
    int64_t deadline = now_s() + o->wait_s;
    while (!rc) {
        int64_t now = now_s();
        /* absent, released (0) or lapsed */
        rc = write_if(l, now, now + l->ttl_s, d);
        if (rc == 0) {
            l->until = now + l->ttl_s;
            break;
        }
        if (rc != MDP_ERR_EXISTS) break;
        struct mdp_lease_info h;
        rc = read_holder(l->st, l->name, &h, d);
        if (rc == MDP_ERR_NOT_FOUND) { /* released and purged in between */
            rc = 0;
            continue;
        }
        if (rc) break;
        if (holder_dead(l, &h)) {
            /* only if nobody moved it since it was read */
            rc = write_if(l, h.until + 1, now + l->ttl_s, d);
            if (rc == 0) {
                l->until = now + l->ttl_s;
                mdp_log(MDP_LOG_WARN, "lease taken over from a process that is gone",
                        LOG_STR("lease", name), LOG_STR("from", h.holder), LOG_INT("pid", h.pid),
                        MDP_LF_END);
                break;
            }
            if (rc != MDP_ERR_EXISTS) break;
            rc = 0;
            continue;
        }
        if (now >= deadline) {
            char until[40];
            mdp_time_format_ms(h.until * 1000, until, sizeof until);
            rc = mdp_diag_set(d, MDP_ERR_EXISTS,
                              "the lake is busy: `%s` (process %ld on %s) has held its lease since "
                              "%s (renewed until %s); one writing job runs at a time. Wait for it "
                              "(--wait SECONDS, or lake.lease_wait_seconds), or, if that job is "
                              "gone, for its lease to lapse",
                              h.holder, h.pid, h.host, h.since, until);
            break;
        }
        struct timespec pause = {1, 0};
        nanosleep(&pause, NULL);
        rc = 0;
    }
    if (!rc) {
        rc = pthread_create(&l->thread, NULL, renew, l);
        if (rc) {
            write_if(l, l->until + 1, 0, &(struct mdp_diag){0});
            rc = mdp_diag_set(d, MDP_ERR_NOMEM, "lease %s: cannot start its renewal: %s", name,
                              strerror(rc));
        } else {
            l->started = 1;
        }
    }
    if (rc) {
        lease_free(l);
        return rc;
    }
    pthread_mutex_lock(&HELD_MU);
    l->next = HELD;
    HELD = l;
    pthread_mutex_unlock(&HELD_MU);
    *out = l;
    return 0;
}

int mdp_lease_fence(const struct mdp_lake *lake, struct mdp_diag *d)
{
    int rc = 0;
    pthread_mutex_lock(&HELD_MU);
    struct mdp_lease *l = HELD;
    while (l && !(strcmp(l->name, MDP_LEASE_LAKE) == 0 && lake->location &&
                  strcmp(l->location, lake->location) == 0))
        l = l->next;
    if (l) {
        pthread_mutex_lock(&l->mu);
        struct mdp_lease_info h;
        int64_t now = now_s();
        if (!l->lost) {
            rc = read_holder(l->st, l->name, &h, d);
            if (rc == 0 && is_own(l, &h) && h.until > l->until) l->until = h.until;
            if ((rc == 0 && is_own(l, &h) && h.until <= now) || rc == MDP_ERR_NOT_FOUND) {
                /* not renewed in time (a stalled job), or removed by `mdp lake lease --break`,
                 * and nobody took it since: take it again now, as the renewal would (the write
                 * is conditional: a job that takes it meanwhile wins, and this one lost it) */
                rc = write_own(l, now + l->ttl_s, d);
            } else if (rc == 0 && !is_own(l, &h)) {
                rc = MDP_ERR_EXISTS;
            }
            if (rc == MDP_ERR_EXISTS || rc == MDP_ERR_PARSE) {
                l->lost = 1; /* taken by another job, or replaced by what is not a lease */
                mdp_log(MDP_LOG_ERROR, "lease lost: found at publish", LOG_STR("lease", l->name),
                        LOG_STR("holder", l->holder), MDP_LF_END);
            } else if (rc) {
                char why[sizeof d->msg];
                snprintf(why, sizeof why, "%s", d->msg);
                mdp_diag_set(d, rc, "cannot confirm that this job still holds the lake's lease: %s",
                             why);
            }
        }
        if (l->lost)
            rc = mdp_diag_set(d, MDP_ERR_EXISTS,
                              "this job lost the lake's lease (another job took it after `mdp "
                              "lake lease --break` or while this one stalled), so it publishes "
                              "nothing more");
        pthread_mutex_unlock(&l->mu);
    }
    pthread_mutex_unlock(&HELD_MU);
    return rc;
}

int mdp_lease_show(struct mdp_lake *lake, const char *name, struct mdp_lease_info *out,
                   struct mdp_diag *d)
{
    memset(out, 0, sizeof *out);
    if (!name_ok(name))
        return mdp_diag_set(d, MDP_ERR_INVALID, "lease name '%s': letters, digits, _-/: only",
                            name);
    struct mdp_state *st = NULL;
    int rc = mdp_state_open_lake(lake, &st, d);
    if (!rc) rc = read_holder(st, name, out, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        *d = (struct mdp_diag){0};
        rc = 0; /* never taken: out says so */
    }
    mdp_state_close(st);
    return rc;
}

int mdp_lease_break(struct mdp_lake *lake, const char *name, struct mdp_diag *d)
{
    if (!name_ok(name))
        return mdp_diag_set(d, MDP_ERR_INVALID, "lease name '%s': letters, digits, _-/: only",
                            name);
    struct mdp_state *st = NULL;
    int rc = mdp_state_open_lake(lake, &st, d);
    if (!rc) rc = mdp_state_delete(st, TABLE, name, "-", d);
    mdp_state_close(st);
    return rc;
}

int mdp_lease_lost(struct mdp_lease *l)
{
    pthread_mutex_lock(&l->mu);
    int lost = l->lost;
    pthread_mutex_unlock(&l->mu);
    return lost;
}

int mdp_lease_release(struct mdp_lease *l, struct mdp_diag *d)
{
    if (!l) return 0;
    struct mdp_diag scratch = {0};
    if (!d) d = &scratch;
    pthread_mutex_lock(&HELD_MU);
    for (struct mdp_lease **p = &HELD; *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            break;
        }
    pthread_mutex_unlock(&HELD_MU);
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->started) pthread_join(l->thread, NULL);
    int rc = 0;
    if (l->lost) {
        rc = 1;
        mdp_diag_set(d, MDP_ERR_EXISTS,
                     "lost the lake's lease during the run: another job took it (after it was not "
                     "renewed for %lld s, or after `mdp lake lease --break`). Nothing was "
                     "published after that was found; what the job wrote before may need a rerun",
                     (long long)l->ttl_s);
    } else {
        rc = write_own(l, 0, d);
        if (rc == MDP_ERR_EXISTS) {
            rc = 1;
            mdp_diag_set(d, MDP_ERR_EXISTS,
                         "lost the lake's lease at the end of the run: another job took it");
        }
    }
    lease_free(l);
    return rc;
}
