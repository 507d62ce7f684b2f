/* The group committer (serve_internal.h): concurrent requests' records become one durable raw
 * object per stream and day per round, so a round pays one fsync whatever the number of requests.
 * Appends nobody waits for (decision logs) are buffered per thread and written, merged into one
 * object per stream and day, every flush interval or when a thread's buffer is full (Firehose's
 * buffering hints), so the raw zone gets few large objects instead of one per round. Those
 * appends are written by a log writer thread of low priority in small steps, so their hashing and
 * copying yields to the request threads and never delays a commit someone waits for. */
#include "mdp/alloc.h"
#include "mdp/hash.h"
#include "mdp/lake.h"
#include "mdp/log.h"
#include "serve_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

struct job {
    char source[32], dataset[32];
    int64_t day;
    char *data;
    size_t len, cap; /* cap: a thread buffer's capacity, when the job took it over (else 0) */
    mdp__commit_done done;
    void *ud;
    struct job *next;
};

/* a thread's own buffer of appends: its lock is only ever shared with the committer */
struct tbuf {
    pthread_mutex_t mu;
    struct mdp__committer *owner;
    char source[32], dataset[32];
    int64_t day;
    struct mdp_buf data;
    struct tbuf *next;
};

struct mdp__committer {
    struct mdp_lake *lake;
    struct job *lazy;       /* appends that wait for the next round (one per stream and day) */
    struct tbuf *tbufs;     /* every thread's append buffer */
    struct mdp_buf pool[4]; /* written thread buffers, handed back empty (no new pages) */
    int npool;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    struct job *head, *tail;
    int stop;
    int64_t flush_ms;   /* the appends are written at least this often */
    size_t flush_bytes; /* ... or when a thread has buffered this much */
    size_t flush_slack; /* reserved past flush_bytes: appends until the committer takes it */
    int64_t next_flush; /* monotonic ms */
    atomic_int flush_now;
    atomic_llong objects;
    struct mdp_buf merged; /* the committer's buffer for merged groups: its pages stay mapped */
    /* the log writer: a thread of low priority that writes the appends (the decision log) in
     * small steps, so its hashing and copying (tens of milliseconds of CPU per 16 MiB) yields to
     * the request threads and never delays a group commit someone waits for; guarded by mu */
    pthread_t logger;
    int logger_started, log_stop;
    pid_t logger_tid; /* its thread id, once it runs (0 before) */
    pthread_cond_t log_cv;
    struct job *logq; /* rounds of appends, in order */
    int log_rounds;   /* queued; past LOG_BACKLOG the committer writes them itself */
    struct mdp_buf log_merged;
    mdp__append_filter filter; /* set before the first append */
    void *filter_ud;
};

/* rounds of appends the log writer may fall behind by before the committer writes them itself
 * (a machine that never idles must not grow the queue without bound) */
#define LOG_BACKLOG 2

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mdp__committer_submit(struct mdp__committer *c, const char *source, const char *dataset,
                          int64_t day, const char *data, size_t len, mdp__commit_done done,
                          void *ud)
{
    struct job *j = mdp_calloc(1, sizeof *j);
    if (!j || !(j->data = mdp_malloc(len ? len : 1))) {
        free(j);
        return MDP_ERR_NOMEM;
    }
    snprintf(j->source, sizeof j->source, "%s", source);
    snprintf(j->dataset, sizeof j->dataset, "%s", dataset);
    j->day = day;
    memcpy(j->data, data, len);
    j->len = len;
    j->done = done;
    j->ud = ud;
    pthread_mutex_lock(&c->mu);
    if (c->tail)
        c->tail->next = j;
    else
        c->head = j;
    c->tail = j;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static int same_stream(const struct job *a, const struct job *b);
/* moves data into the lazy job of its stream and day (c->mu held) */
static int lazy_add(struct mdp__committer *c, const char *source, const char *dataset, int64_t day,
                    const char *data, size_t len)
{
    struct job probe;
    memset(&probe, 0, sizeof probe);
    snprintf(probe.source, sizeof probe.source, "%s", source);
    snprintf(probe.dataset, sizeof probe.dataset, "%s", dataset);
    probe.day = day;
    struct job *j = c->lazy;
    while (j && !same_stream(j, &probe))
        j = j->next;
    if (!j) {
        if (!(j = mdp_calloc(1, sizeof *j))) return MDP_ERR_NOMEM;
        *j = probe;
        j->next = c->lazy;
        c->lazy = j;
    }
    char *nd = mdp_realloc(j->data, j->len + len + 1);
    if (!nd) return MDP_ERR_NOMEM;
    memcpy(nd + j->len, data, len);
    j->data = nd;
    j->len += len;
    return 0;
}

/* takes what the threads buffered (c->mu held): a thread's buffer becomes the job as it is and
 * the thread gets an emptied one from the pool, so nothing is copied and no fresh pages are
 * touched per round */
static void collect_tbufs(struct mdp__committer *c)
{
    for (struct tbuf *t = c->tbufs; t; t = t->next) {
        pthread_mutex_lock(&t->mu);
        struct job *j = t->data.len ? mdp_calloc(1, sizeof *j) : NULL;
        if (j) {
            snprintf(j->source, sizeof j->source, "%s", t->source);
            snprintf(j->dataset, sizeof j->dataset, "%s", t->dataset);
            j->day = t->day;
            j->len = t->data.len;
            j->cap = t->data.cap;
            j->data = t->data.data;
            mdp_buf_init(&t->data);
            if (c->npool) t->data = c->pool[--c->npool];
            j->next = c->lazy;
            c->lazy = j;
        }
        pthread_mutex_unlock(&t->mu);
    }
}

/* a written job's buffer back to the pool when it came from a thread (c->mu not held) */
static void recycle(struct mdp__committer *c, struct job *j)
{
    pthread_mutex_lock(&c->mu);
    if (j->cap && c->npool < (int)(sizeof c->pool / sizeof *c->pool)) {
        c->pool[c->npool].data = j->data;
        c->pool[c->npool].len = 0;
        c->pool[c->npool].cap = j->cap;
        c->pool[c->npool].data[0] = '\0';
        c->npool++;
        j->data = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    free(j->data);
}

/* Asks for transparent huge pages under a large buffer: its first fill then takes one page fault
 * per 2 MiB instead of one per 4 KiB (a fresh 16 MiB buffer cost 4,096 faults on a request's
 * thread, a microsecond each under this machine's paravirtualized MMU). Advice only: the kernel
 * may ignore it, and nothing depends on it. */
static void huge_pages(struct mdp_buf *b)
{
#ifdef MADV_HUGEPAGE
    uintptr_t page = 4096, start = ((uintptr_t)b->data + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)b->data + b->cap) & ~(page - 1);
    if (end > start + (2u << 20)) madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)b;
#endif
}

static __thread struct tbuf *mine;

struct mdp_buf *mdp__committer_begin(struct mdp__committer *c, const char *source,
                                     const char *dataset, int64_t day)
{
    if (!mine || mine->owner != c) {
        struct tbuf *t = mdp_calloc(1, sizeof *t);
        if (!t) return NULL;
        pthread_mutex_init(&t->mu, NULL);
        t->owner = c;
        mdp_buf_init(&t->data);
        pthread_mutex_lock(&c->mu);
        t->next = c->tbufs;
        c->tbufs = t;
        pthread_mutex_unlock(&c->mu);
        mine = t;
    }
    struct tbuf *t = mine;
    pthread_mutex_lock(&t->mu);
    /* room for a whole flush up front: a buffer that doubles on the way to flush_bytes copies
     * itself on a request's thread (16 MiB at the last step, into fresh pages: milliseconds that
     * every connection of the thread waits for; it was the personalize path's p99). Untouched
     * pages cost no memory; recycled buffers keep theirs. Failing only costs that speed. */
    if (t->data.cap < c->flush_bytes + c->flush_slack) {
        if (mdp_buf_reserve(&t->data, c->flush_bytes + c->flush_slack - t->data.len))
            mdp_buf_truncate(&t->data, t->data.len); /* clears the error the failed reserve left */
        else
            huge_pages(&t->data);
    }
    if (t->day != day || strcmp(t->source, source) || strcmp(t->dataset, dataset)) {
        /* another stream or a new day: hand the buffered lines over first (rare) */
        if (t->data.len) {
            pthread_mutex_lock(&c->mu);
            int rc = lazy_add(c, t->source, t->dataset, t->day, t->data.data, t->data.len);
            pthread_mutex_unlock(&c->mu);
            if (rc) {
                pthread_mutex_unlock(&t->mu);
                return NULL;
            }
            mdp_buf_reset(&t->data);
        }
        snprintf(t->source, sizeof t->source, "%s", source);
        snprintf(t->dataset, sizeof t->dataset, "%s", dataset);
        t->day = day;
    }
    return &t->data;
}

void mdp__committer_end(struct mdp__committer *c)
{
    int full = mine->data.len >= c->flush_bytes;
    pthread_mutex_unlock(&mine->mu);
    /* a full buffer wakes the committer once (every later append asks again until it is taken) */
    if (full && !atomic_exchange(&c->flush_now, 1)) {
        pthread_mutex_lock(&c->mu);
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
}

static int same_stream(const struct job *a, const struct job *b)
{
    return a->day == b->day && strcmp(a->source, b->source) == 0 &&
           strcmp(a->dataset, b->dataset) == 0;
}

static int write_object(struct mdp__committer *c, const struct job *j, const char *data, size_t len)
{
    struct mdp_diag d = {0};
    int rc = len ? mdp_lake_raw_put(c->lake, j->source, j->dataset, j->day, data, len, "ndjson",
                                    NULL, NULL, &d)
                 : 0;
    if (rc)
        mdp_log(MDP_LOG_ERROR, "group commit failed", LOG_STR("source", j->source),
                LOG_STR("error", d.msg[0] ? d.msg : mdp_strerror(rc)), MDP_LF_END);
    else if (len)
        c->objects++;
    return rc;
}

/* Moves the jobs of the first job's stream and day out of *list (order kept); returns them. */
static struct job *take_group(struct job **list)
{
    struct job *first = *list, *group = NULL, **gt = &group, *rest = NULL, **rt = &rest;
    for (struct job *j = first, *next; j; j = next) {
        next = j->next;
        j->next = NULL;
        if (same_stream(j, first)) {
            *gt = j;
            gt = &j->next;
        } else {
            *rt = j;
            rt = &j->next;
        }
    }
    *list = rest;
    return group;
}

/* Writes a group (one stream and day) as one object: one fsync for all of it. The merged copy
 * goes to a buffer the committer keeps (fresh pages for every flush cost page faults); without
 * memory for it each job becomes its own object, so nothing is lost. */
static int write_group(struct mdp__committer *c, const struct job *group, struct mdp_buf *merged)
{
    if (!group->next) return write_object(c, group, group->data, group->len);
    size_t total = 0;
    for (const struct job *j = group; j; j = j->next)
        total += j->len;
    mdp_buf_reset(merged);
    int rc = 0;
    size_t had = merged->cap;
    if (!mdp_buf_reserve(merged, total)) {
        if (merged->cap != had) huge_pages(merged);
        for (const struct job *j = group; j; j = j->next)
            mdp_buf_append(merged, j->data, j->len); /* reserved: cannot fail */
        rc = write_object(c, group, merged->data, merged->len);
    } else {
        for (const struct job *j = group; j && !rc; j = j->next)
            rc = write_object(c, j, j->data, j->len);
    }
    return rc;
}

/* The log writer's step: it hashes and writes the appends PACE bytes at a time (about 0.1 ms of
 * SHA-256 and 0.3 ms of copying into the page cache on this machine) and gives the core back after
 * each step. In one call (mdp_lake_raw_put) a 16 MiB flush ran up to 18 ms without giving the
 * core back (perf sched, the server pinned to one core), and a request thread sharing that core
 * could wait as long, with every connection it serves: the personalize path's p99. With the
 * writer's short slice (log_run), steps of 16 or 32 KiB gave a worse p99 than 128 KiB (1.1 to 1.7
 * against 0.4 to 0.7 ms, pinned, four connections), 512 KiB a little worse, no yields 3 ms. */
#define PACE ((size_t)128 << 10)

/* Writes a group of appends as write_group does (one object under the same content-addressed
 * key, put if absent), in steps of PACE with sched_yield() between them: a request thread waiting
 * for the core gets it within a step; an idle core lets the writer run on at once. The log writer
 * writes appends so, and the committer too when it takes over the log writer's backlog. No merged
 * copy either: the pieces are hashed and streamed in order. Returns 0, or the error of a step (also
 * MDP_ERR_UNSUPPORTED for a store without streaming writes), having written nothing. */
static int write_group_paced(struct mdp__committer *c, const struct job *group)
{
    struct mdp_sha256 *h = mdp_sha256_new();
    if (!h) return MDP_ERR_NOMEM;
    int rc = 0;
    size_t total = 0;
    for (const struct job *j = group; j && !rc; j = j->next) {
        for (size_t off = 0; off < j->len && !rc; off += PACE) {
            rc = mdp_sha256_update(h, j->data + off, j->len - off < PACE ? j->len - off : PACE);
            sched_yield();
        }
        total += j->len;
    }
    char hex[65];
    if (rc) {
        mdp_sha256_free(h);
        return rc;
    }
    if ((rc = mdp_sha256_final_hex(h, hex)) || !total) return rc;
    struct mdp_diag d = {0};
    struct mdp_buf key;
    mdp_buf_init(&key);
    rc = mdp_lake_raw_key_hex(group->source, group->dataset, group->day, hex, "ndjson", &key, &d);
    int64_t size;
    int exists = 0;
    if (!rc) {
        int hr = mdp_store_head(c->lake->store, key.data, &size, &d);
        if (hr == 0)
            exists = 1; /* the same bytes are there already (as mdp_lake_raw_put's if-absent) */
        else if (hr != MDP_ERR_NOT_FOUND)
            rc = hr;
        else
            d = (struct mdp_diag){0};
    }
    struct mdp_store_writer *w = NULL;
    if (!rc && !exists && (rc = mdp_store_writer_open(c->lake->store, key.data, &w, &d)) == 0) {
        for (const struct job *j = group; j && !rc; j = j->next)
            for (size_t off = 0; off < j->len && !rc; off += PACE) {
                rc = w->write(w, j->data + off, j->len - off < PACE ? j->len - off : PACE, &d);
                sched_yield();
            }
        if (rc)
            w->abort(w);
        else
            rc = w->commit(w, &d);
    }
    mdp_buf_cleanup(&key);
    if (!rc && !exists) c->objects++;
    return rc;
}

/* Writes one round, one object per stream and day: the appends (nobody waits; their buffers go
 * back to the pool), then the jobs someone waits for, whose submitters are told the result. */
static void commit_round(struct mdp__committer *c, struct job *list, struct mdp_buf *merged)
{
    struct job *waiting = NULL, **wt = &waiting, *appends = NULL, **at = &appends;
    for (struct job *j = list, *next; j; j = next) {
        next = j->next;
        j->next = NULL;
        if (j->done) {
            *wt = j;
            wt = &j->next;
        } else {
            *at = j;
            at = &j->next;
        }
    }
    for (struct job *j = appends; j && c->filter; j = j->next)
        j->len = c->filter(c->filter_ud, j->data, j->len);
    while (appends) {
        struct job *group = take_group(&appends);
        /* a paced write that failed left nothing visible: the group gets the one-call write
         * (which logs a failure of its own), so a step's error loses no lines either */
        if (write_group_paced(c, group)) write_group(c, group, merged);
        for (struct job *j = group, *next; j; j = next) {
            next = j->next;
            recycle(c, j);
            free(j);
        }
    }
    while (waiting) {
        struct job *group = take_group(&waiting);
        int rc = write_group(c, group, merged);
        for (struct job *j = group, *next; j; j = next) {
            next = j->next;
            j->done(j->ud, rc);
            free(j->data);
            free(j);
        }
    }
}

static void *run(void *arg)
{
    struct mdp__committer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        /* wake for submitted work, a full append buffer, the flush interval or the stop */
        int64_t now = mono_ms();
        while (!c->head && !c->stop && !c->flush_now && now < c->next_flush) {
            struct timespec until = {(time_t)(c->next_flush / 1000),
                                     (long)(c->next_flush % 1000) * 1000000};
            pthread_cond_timedwait(&c->cv, &c->mu, &until);
            now = mono_ms();
        }
        struct job *lazy = NULL;
        if (c->stop || c->flush_now || now >= c->next_flush) {
            c->flush_now = 0;
            collect_tbufs(c);
            lazy = c->lazy;
            c->lazy = NULL;
            c->next_flush = now + c->flush_ms;
        }
        if (lazy && c->logger_started && !c->stop && c->log_rounds < LOG_BACKLOG) {
            struct job **lt = &c->logq;
            while (*lt)
                lt = &(*lt)->next;
            *lt = lazy;
            c->log_rounds++;
            lazy = NULL;
            pthread_cond_signal(&c->log_cv);
        }
        struct job *list = c->head, *last = c->tail;
        c->head = c->tail = NULL;
        /* the appends ride along, after the submitted work someone waits for */
        if (last)
            last->next = lazy;
        else
            list = lazy;
        if (!list) {
            if (c->stop) break;
            continue;
        }
        pthread_mutex_unlock(&c->mu);
        commit_round(c, list, &c->merged);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* struct sched_attr of sched_setattr(2), which glibc 2.36 does not declare */
struct sched_attr_v1 {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

/* Sets the thread tid (of this process) to SCHED_OTHER at the nice value nice, with a time slice
 * of slice_us microseconds (0: the kernel's default). Linux 6.12 and later take the slice of a
 * normal thread from sched_runtime (clamped to 0.1 to 100 ms), older kernels ignore it; where
 * sched_setattr is missing, only the nice value is set. Failing leaves the thread as it was. */
static void set_writer_sched(pid_t tid, int nice, uint64_t slice_us)
{
    struct sched_attr_v1 a = {
        .size = sizeof a, .policy = SCHED_OTHER, .nice = nice, .runtime = slice_us * 1000};
    if (syscall(SYS_sched_setattr, tid, &a, 0u)) setpriority(PRIO_PROCESS, (id_t)tid, nice);
}

/* The log writer's scheduling. Nice 10: a tenth of a request thread's weight when they compete for
 * a core. A slice of 0.1 ms (the kernel's default is 1.4 ms on a 2-core machine): under EEVDF a
 * request thread that wakes while the writer runs can only take the core once the writer's slice
 * is used up; with the short one, the writer's runs last about a step (perf sched: 0.14 to 0.17 ms
 * at the median) instead of up to the rest of the default slice. Measured with the server pinned
 * to one core, under four connections, 3 to 4 rounds each (docs/serve.md): p99 0.35 to 0.87 ms
 * with both, 1.0 to 1.7 ms at nice 10 alone; neither the short slice at nice 0, nor a 1 ms slice,
 * nor the idle class helped. Its steps (PACE) give the core back often, so it need not be lower
 * (the idle class would also starve it on a busy machine, leaving its backlog to the committer). */
#define LOG_WRITER_NICE     10
#define LOG_WRITER_SLICE_US 100

static void *log_run(void *arg)
{
    struct mdp__committer *c = arg;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    set_writer_sched(tid, LOG_WRITER_NICE, LOG_WRITER_SLICE_US);
    pthread_mutex_lock(&c->mu);
    c->logger_tid = tid;
    for (;;) {
        while (!c->logq && !c->log_stop)
            pthread_cond_wait(&c->log_cv, &c->mu);
        struct job *list = c->logq;
        c->logq = NULL;
        c->log_rounds = 0;
        if (!list) break; /* stopping, and everything written */
        pthread_mutex_unlock(&c->mu);
        commit_round(c, list, &c->log_merged);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int mdp__committer_start(struct mdp_lake *lake, long flush_seconds, long flush_mb,
                         struct mdp__committer **out, struct mdp_diag *d)
{
    struct mdp__committer *c = mdp_calloc(1, sizeof *c);
    if (!c) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    c->lake = lake;
    c->flush_ms = (flush_seconds > 0 ? flush_seconds : 60) * 1000;
    c->flush_bytes = (size_t)(flush_mb > 0 ? flush_mb : 16) << 20;
    c->flush_slack = c->flush_bytes / 8 + 65536;
    c->next_flush = mono_ms() + c->flush_ms;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&c->log_cv, NULL);
    /* without the log writer the committer writes the appends itself */
    c->logger_started = pthread_create(&c->logger, NULL, log_run, c) == 0;
    if (pthread_create(&c->thread, NULL, run, c)) {
        if (c->logger_started) {
            pthread_mutex_lock(&c->mu);
            c->log_stop = 1;
            pthread_cond_signal(&c->log_cv);
            pthread_mutex_unlock(&c->mu);
            pthread_join(c->logger, NULL);
        }
        pthread_cond_destroy(&c->log_cv);
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return mdp_diag_set(d, MDP_ERR_IO, "cannot start the committer thread");
    }
    *out = c;
    return 0;
}

void mdp__committer_filter(struct mdp__committer *c, mdp__append_filter fn, void *ud)
{
    pthread_mutex_lock(&c->mu);
    c->filter = fn;
    c->filter_ud = ud;
    pthread_mutex_unlock(&c->mu);
}

int64_t mdp__committer_objects(struct mdp__committer *c)
{
    return c->objects;
}

void mdp__committer_stop(struct mdp__committer *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL); /* its last round wrote what the threads had buffered */
    if (c->logger_started) {
        /* the log writer finishes its queue first, at the priority of this (the stopping) thread
         * where the process may raise a thread's priority (root, RLIMIT_NICE), else at its own */
        errno = 0;
        int nice = getpriority(PRIO_PROCESS, 0); /* Linux: this thread's; -1 is a valid value */
        if (errno) nice = 0;
        pthread_mutex_lock(&c->mu);
        if (c->logger_tid) set_writer_sched(c->logger_tid, nice, 0);
        c->log_stop = 1;
        pthread_cond_signal(&c->log_cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->logger, NULL);
    }
    for (int i = 0; i < c->npool; i++)
        mdp_buf_cleanup(&c->pool[i]);
    mdp_buf_cleanup(&c->merged);
    mdp_buf_cleanup(&c->log_merged);
    for (struct tbuf *t = c->tbufs, *next; t; t = next) {
        next = t->next;
        mdp_buf_cleanup(&t->data);
        pthread_mutex_destroy(&t->mu);
        free(t);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    pthread_cond_destroy(&c->log_cv);
    free(c);
}
