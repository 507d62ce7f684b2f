/* The seed module's bottom layer (seed_util.h): the PRNG (xoshiro256** seeded by splitmix64),
 * ids, time and JSON text helpers, and the spool that keeps a run's records per day on disk so
 * that `mdp seed` runs in flat memory whatever the number of users. */
#include "seed_util.h"
#include "mdp/time.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* all spool buffers together stay below this (unless the options say); then they go to the
 * scratch files */
#define SPOOL_BUDGET (32u << 20)
#define REC_HEAD     12 /* int64 ts + uint32 len */

/* ---- PRNG ---- */

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

int64_t mdp__day_index(struct mdp__seed *s, int64_t ts)
{
    if (ts < s->start_ms || ts >= s->end_ms) return -1;
    return (ts - s->start_ms) / MDP_MS_PER_DAY;
}

int mdp__nomem(struct mdp__seed *s)
{
    return mdp_diag_set(s->d, MDP_ERR_NOMEM, "seed: out of memory");
}

/* ---- landing writes ----
 * Creating a file costs more kernel time than making its bytes (ext4 allocates an inode, the
 * rename journals), so puts go to two writer threads through a bounded queue while the world goes
 * on. The bytes and names do not depend on the order files are created in; the first error is
 * kept and returned by the next put or by mdp__io_finish. */

#define IO_THREADS 2
#define IO_PENDING (16u << 20) /* bytes queued at most */

struct put_job {
    struct put_job *next;
    size_t len;
    char *data;
    char key[];
};

struct mdp__io {
    pthread_mutex_t mu;
    pthread_cond_t more, room;
    struct put_job *head, *tail;
    size_t pending;
    int stop, nthreads, rc;
    struct mdp_diag err;
    struct mdp_store *out;
    pthread_t t[IO_THREADS];
};

static void *io_main(void *arg)
{
    struct mdp__io *io = arg;
    pthread_mutex_lock(&io->mu);
    for (;;) {
        while (!io->head && !io->stop)
            pthread_cond_wait(&io->more, &io->mu);
        struct put_job *j = io->head;
        if (!j) break;
        io->head = j->next;
        if (!io->head) io->tail = NULL;
        pthread_mutex_unlock(&io->mu);
        struct mdp_diag d = {0};
        int rc = mdp_store_put(io->out, j->key, j->data, j->len, MDP_PUT_NO_SYNC, &d);
        pthread_mutex_lock(&io->mu);
        if (rc && !io->rc) {
            io->rc = rc;
            io->err = d;
        }
        io->pending -= j->len;
        pthread_cond_broadcast(&io->room);
        free(j->data);
        free(j);
    }
    pthread_mutex_unlock(&io->mu);
    return NULL;
}

int mdp__io_start(struct mdp__seed *s)
{
    struct mdp__io *io = calloc(1, sizeof *io);
    if (!io) return mdp__nomem(s);
    pthread_mutex_init(&io->mu, NULL);
    pthread_cond_init(&io->more, NULL);
    pthread_cond_init(&io->room, NULL);
    io->out = s->out;
    s->io = io;
    for (int i = 0; i < IO_THREADS; i++) {
        if (pthread_create(&io->t[i], NULL, io_main, io) != 0) break;
        io->nthreads++;
    }
    return 0; /* without threads, puts are made in place */
}

int mdp__io_finish(struct mdp__seed *s)
{
    struct mdp__io *io = s->io;
    if (!io) return 0;
    pthread_mutex_lock(&io->mu);
    io->stop = 1;
    pthread_cond_broadcast(&io->more);
    pthread_mutex_unlock(&io->mu);
    for (int i = 0; i < io->nthreads; i++)
        pthread_join(io->t[i], NULL);
    int rc = io->rc;
    if (rc && s->d) *s->d = io->err;
    for (struct put_job *j = io->head, *n; j; j = n) { /* left when no thread ever ran */
        n = j->next;
        free(j->data);
        free(j);
    }
    pthread_mutex_destroy(&io->mu);
    pthread_cond_destroy(&io->more);
    pthread_cond_destroy(&io->room);
    free(io);
    s->io = NULL;
    return rc;
}

int mdp__seed_put(struct mdp__seed *s, const char *key, const char *data, size_t len)
{
    struct mdp__io *io = s->io;
    if (!io || !io->nthreads) {
        int rc = mdp_store_put(s->out, key, data, len, MDP_PUT_NO_SYNC, s->d);
        if (!rc) {
            s->st->files++;
            s->st->bytes += (int64_t)len;
        }
        return rc;
    }
    size_t klen = strlen(key);
    struct put_job *j = malloc(sizeof *j + klen + 1);
    char *copy = malloc(len ? len : 1);
    if (!j || !copy) {
        free(j);
        free(copy);
        return mdp__nomem(s);
    }
    memcpy(j->key, key, klen + 1);
    memcpy(copy, data, len);
    j->data = copy;
    j->len = len;
    j->next = NULL;
    pthread_mutex_lock(&io->mu);
    while (io->pending > IO_PENDING && !io->rc)
        pthread_cond_wait(&io->room, &io->mu);
    int rc = io->rc;
    if (!rc) {
        if (io->tail)
            io->tail->next = j;
        else
            io->head = j;
        io->tail = j;
        io->pending += len;
        pthread_cond_signal(&io->more);
    }
    pthread_mutex_unlock(&io->mu);
    if (rc) { /* a put failed: report it here, as a put made in place would have */
        free(copy);
        free(j);
        if (s->d) *s->d = io->err;
        return rc;
    }
    s->st->files++;
    s->st->bytes += (int64_t)len;
    return 0;
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

/* Formats as mdp_time_format_ms does, without printf: most records carry a time, and a run's
 * times fall on few days, so the date part is kept per thread for the last day seen. */
void mdp__iso(int64_t ms, char out[32])
{
    static _Thread_local int64_t day = INT64_MIN;
    static _Thread_local char date[12];
    int64_t d = mdp_days_from_ms(ms);
    if (d != day) {
        if (mdp_time_format_ms(ms, out, 32) != 0) return; /* out of range: as it formats it */
        memcpy(date, out, 11);
        day = d;
    }
    int64_t rem = ms - d * MDP_MS_PER_DAY;
    int v[4] = {(int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                (int)(rem % 1000)};
    memcpy(out, date, 11); /* YYYY-MM-DDT */
    char *p = out + 11;
    for (int i = 0; i < 3; i++) {
        *p++ = (char)('0' + v[i] / 10);
        *p++ = (char)('0' + v[i] % 10);
        *p++ = i < 2 ? ':' : '.';
    }
    *p++ = (char)('0' + v[3] / 100);
    *p++ = (char)('0' + v[3] / 10 % 10);
    *p++ = (char)('0' + v[3] % 10);
    *p++ = 'Z';
    *p = '\0';
}

void mdp__pg_ts(int64_t ms, char out[40])
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

/* ---- spool ----
 * A day's records sit in its chain of blocks until all days together pass the budget; then every
 * day is sorted and appended to its day's scratch file as one sorted run, and its blocks go back to
 * the pool. Draining a day merges its runs (reading each sequentially through a small window) or,
 * when it never spilled, sorts the day in place. Ties keep the order of adding: within a run by
 * position, between runs by run number. Every record is followed by a NUL, in blocks and in runs,
 * so the text handed to a drain callback is used where it lies. */

#define BLOCK (64u << 10) /* bytes of a pooled block; a bigger record gets a block of its own */

struct mdp__block {
    struct mdp__block *next;
    size_t len, cap;
    char data[];
};

/* Shared by the spools of a run, also by a writer draining its days on threads of its own (a
 * shallow copy of the run's context points at the same pool). */
struct mdp__pool {
    pthread_mutex_t mu;
    struct mdp__block *free; /* blocks of BLOCK bytes */
    size_t buffered;         /* block bytes held by all spools' days */
};

static size_t rec_size(uint32_t len)
{
    return REC_HEAD + (size_t)len + 1;
}

static struct mdp__block *block_get(struct mdp__seed *s, size_t need)
{
    struct mdp__pool *p = s->pool;
    size_t cap = need > BLOCK ? need : BLOCK;
    struct mdp__block *b = NULL;
    pthread_mutex_lock(&p->mu);
    if (cap == BLOCK && p->free) {
        b = p->free;
        p->free = b->next;
    }
    if (b) p->buffered += cap;
    pthread_mutex_unlock(&p->mu);
    if (!b) {
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        pthread_mutex_lock(&p->mu);
        s->pool->buffered += cap;
        pthread_mutex_unlock(&p->mu);
    }
    b->next = NULL;
    b->len = 0;
    b->cap = cap;
    return b;
}

/* Gives a day's blocks back to the pool (bigger ones to the allocator) and empties the day. */
static void day_release(struct mdp__seed *s, struct mdp__dayq *q)
{
    struct mdp__pool *p = s->pool;
    if (!q->head) return;
    pthread_mutex_lock(&p->mu);
    for (struct mdp__block *b = q->head, *n; b; b = n) {
        n = b->next;
        s->pool->buffered -= b->cap;
        if (b->cap == BLOCK) {
            b->next = p->free;
            p->free = b;
        } else {
            free(b);
        }
    }
    pthread_mutex_unlock(&p->mu);
    q->head = q->tail = NULL;
    q->bytes = 0;
    q->nrec = 0;
}

static size_t buffered(struct mdp__seed *s)
{
    pthread_mutex_lock(&s->pool->mu);
    size_t n = s->pool->buffered;
    pthread_mutex_unlock(&s->pool->mu);
    return n;
}

struct rec {
    int64_t ts;
    uint64_t seq; /* order of adding */
    const char *text;
    uint32_t len;
};

static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Indexes and sorts the records of a day's blocks. *out is NULL when there are none. */
static int index_day(struct mdp__seed *s, const struct mdp__dayq *q, struct rec **out)
{
    *out = NULL;
    if (!q->nrec) return 0;
    struct rec *v = malloc(q->nrec * sizeof *v);
    if (!v) return mdp__nomem(s);
    size_t n = 0;
    for (const struct mdp__block *b = q->head; b; b = b->next)
        for (size_t off = 0; off + REC_HEAD <= b->len && n < q->nrec;) {
            struct rec *r = &v[n];
            memcpy(&r->ts, b->data + off, 8);
            memcpy(&r->len, b->data + off + 8, 4);
            r->text = b->data + off + REC_HEAD;
            r->seq = n++;
            off += rec_size(r->len);
        }
    qsort(v, n, sizeof *v, cmp_rec);
    *out = v;
    return 0;
}

int mdp__spool_init(struct mdp__seed *s, struct mdp__spool *sp, const char *name)
{
    memset(sp, 0, sizeof *sp);
    sp->name = name;
    if (s->nspools == MDP__MAX_SPOOLS)
        return mdp_diag_set(s->d, MDP_ERR_INVALID, "seed: too many spools");
    if (!s->pool) {
        s->pool = calloc(1, sizeof *s->pool);
        if (!s->pool) return mdp__nomem(s);
        pthread_mutex_init(&s->pool->mu, NULL);
    }
    sp->day = calloc((size_t)s->ndays, sizeof *sp->day);
    sp->runs = calloc((size_t)s->ndays, sizeof *sp->runs);
    if (!sp->day || !sp->runs) return mdp__nomem(s);
    s->spools[s->nspools++] = sp;
    return 0;
}

int mdp__spool_empty(const struct mdp__spool *sp, int64_t day)
{
    return sp->day[day].nrec == 0 && sp->runs[day].n == 0;
}

static void scratch_file(struct mdp__seed *s, const struct mdp__spool *sp, int64_t day,
                         char out[320])
{
    snprintf(out, 320, "%s/%s-%lld", s->scratch, sp->name, (long long)day);
}

static int io_fail(struct mdp__seed *s, const char *what, const char *path)
{
    int e = errno;
    return mdp_diag_set(s->d, mdp_err_from_errno(e), "seed: %s %s: %s", what, path, strerror(e));
}

static int write_all(struct mdp__seed *s, int fd, const char *p, size_t left, const char *path)
{
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_fail(s, "cannot write", path);
        }
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

/* Appends one day's records, sorted, to its scratch file as a run and frees its blocks. */
static int spill_day(struct mdp__seed *s, struct mdp__spool *sp, int64_t day)
{
    struct mdp__dayq *q = &sp->day[day];
    struct mdp__runs *runs = &sp->runs[day];
    if (!q->nrec) return 0;
    if (!s->scratch[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(s->scratch, sizeof s->scratch, "%s/mdp-seed-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(s->scratch)) {
            int rc = io_fail(s, "cannot create scratch folder", s->scratch);
            s->scratch[0] = '\0';
            return rc;
        }
    }
    if (runs->n == runs->cap) {
        size_t nc = runs->cap ? runs->cap * 2 : 16;
        uint64_t *nv = realloc(runs->start, nc * sizeof *nv);
        if (!nv) return mdp__nomem(s);
        runs->start = nv;
        runs->cap = nc;
    }
    struct rec *v;
    int rc = index_day(s, q, &v);
    if (rc) return rc;
    size_t n = q->nrec;
    struct mdp_buf out;
    mdp_buf_init(&out);
    uint64_t written = 0;
    char path[320];
    scratch_file(s, sp, day, path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = io_fail(s, "cannot open", path);
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (mdp_buf_append(&out, v[i].text - REC_HEAD, rec_size(v[i].len))) rc = mdp__nomem(s);
        if (!rc && (out.len >= (1u << 20) || i + 1 == n)) {
            rc = write_all(s, fd, out.data, out.len, path);
            written += out.len;
            mdp_buf_reset(&out);
        }
    }
    if (close(fd) != 0 && !rc) rc = io_fail(s, "cannot write", path);
    if (rc) goto out;
    runs->start[runs->n++] = runs->end;
    runs->end += written;
    day_release(s, q);
out:
    mdp_buf_cleanup(&out);
    free(v);
    return rc;
}

/* Spills the big days first (fewer, longer runs; fewer files touched), then, if that freed less
 * than half the budget, all of them. */
static int spill_all(struct mdp__seed *s, size_t budget)
{
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        size_t min = pass == 0 ? 256u << 10 : 0;
        if (pass == 1 && buffered(s) <= budget / 2) break;
        for (int i = 0; i < s->nspools && !rc; i++)
            for (int64_t day = 0; day < s->ndays && !rc; day++)
                if (s->spools[i]->day[day].nrec && s->spools[i]->day[day].bytes >= min)
                    rc = spill_day(s, s->spools[i], day);
    }
    return rc;
}

static int spool_add_now(struct mdp__seed *s, struct mdp__spool *sp, int64_t ts, const char *text,
                         size_t len)
{
    int64_t day = ts < s->start_ms ? 0 : (ts - s->start_ms) / MDP_MS_PER_DAY;
    if (day >= s->ndays) day = s->ndays - 1;
    if (len > UINT32_MAX - REC_HEAD - 1)
        return mdp_diag_set(s->d, MDP_ERR_INVALID, "seed: a %s record of %zu bytes is too long",
                            sp->name, len);
    struct mdp__dayq *q = &sp->day[day];
    uint32_t n = (uint32_t)len;
    size_t need = rec_size(n);
    struct mdp__block *b = q->tail;
    int grew = 0;
    if (!b || b->cap - b->len < need) {
        if (!(b = block_get(s, need))) return mdp__nomem(s);
        if (q->tail)
            q->tail->next = b;
        else
            q->head = b;
        q->tail = b;
        q->bytes += b->cap;
        grew = 1;
    }
    char *p = b->data + b->len;
    memcpy(p, &ts, 8);
    memcpy(p + 8, &n, 4);
    memcpy(p + REC_HEAD, text, len);
    p[REC_HEAD + len] = '\0';
    b->len += need;
    q->nrec++;
    if (!grew) return 0;
    size_t budget = s->o->spool_budget ? s->o->spool_budget : SPOOL_BUDGET;
    return buffered(s) > budget ? spill_all(s, budget) : 0;
}

/* ---- the spools' thread ----
 * Storing records (copying them into blocks, sorting and writing runs to the scratch files) is a
 * good part of the world's time and needs no random number, so it runs on a thread of its own:
 * adds are copied into hand-over batches of 256 KiB, which the thread stores in the order they were
 * made (so the bytes do not depend on it). At most FEED_QUEUED batches wait; the thread works on a
 * shallow copy of the run's context with an error detail of its own. */

#define FEED_BATCH  (256u << 10)
#define FEED_QUEUED 16

struct feed_batch {
    struct feed_batch *next;
    size_t len, cap;
    char data[];
};

struct feed_rec { /* followed by len bytes, padded to 8 */
    struct mdp__spool *sp;
    int64_t ts;
    size_t len;
};

struct mdp__feed {
    pthread_mutex_t mu;
    pthread_cond_t more, room;
    struct feed_batch *head, *tail, *free, *cur;
    int queued, stop, rc;
    struct mdp_diag err;
    struct mdp__seed ctx; /* the thread's view of the run */
    pthread_t t;
};

static size_t feed_size(size_t len)
{
    return sizeof(struct feed_rec) + ((len + 7) & ~(size_t)7);
}

static void *feed_main(void *arg)
{
    struct mdp__feed *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->head && !f->stop)
            pthread_cond_wait(&f->more, &f->mu);
        struct feed_batch *b = f->head;
        if (!b) break;
        f->head = b->next;
        if (!f->head) f->tail = NULL;
        int failed = f->rc;
        pthread_mutex_unlock(&f->mu);
        int rc = 0;
        for (size_t off = 0; off < b->len && !rc && !failed;) {
            struct feed_rec r;
            memcpy(&r, b->data + off, sizeof r);
            rc = spool_add_now(&f->ctx, r.sp, r.ts, b->data + off + sizeof r, r.len);
            off += feed_size(r.len);
        }
        pthread_mutex_lock(&f->mu);
        if (rc && !f->rc) f->rc = rc; /* the detail is in f->err (f->ctx.d) */
        f->queued--;
        if (b->cap == FEED_BATCH) {
            b->next = f->free;
            f->free = b;
        } else {
            free(b);
        }
        pthread_cond_broadcast(&f->room);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

int mdp__spool_thread_start(struct mdp__seed *s)
{
    struct mdp__feed *f = calloc(1, sizeof *f);
    if (!f) return mdp__nomem(s);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->more, NULL);
    pthread_cond_init(&f->room, NULL);
    f->ctx = *s;
    f->ctx.d = &f->err;
    f->ctx.feed = NULL;
    if (pthread_create(&f->t, NULL, feed_main, f) != 0) { /* adds in place, then */
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->more);
        pthread_cond_destroy(&f->room);
        free(f);
        return 0;
    }
    s->feed = f;
    return 0;
}

/* Queues the batch being filled (if any); waits while FEED_QUEUED are waiting. Returns the
 * thread's first error (detail in s->d) or 0. */
static int feed_push(struct mdp__seed *s, struct mdp__feed *f)
{
    pthread_mutex_lock(&f->mu);
    while (f->queued >= FEED_QUEUED && !f->rc)
        pthread_cond_wait(&f->room, &f->mu);
    struct feed_batch *b = f->cur;
    f->cur = NULL;
    if (b && b->len) {
        b->next = NULL;
        if (f->tail)
            f->tail->next = b;
        else
            f->head = b;
        f->tail = b;
        f->queued++;
        pthread_cond_signal(&f->more);
    } else if (b) {
        b->next = f->free;
        f->free = b;
    }
    int rc = f->rc;
    if (rc && s->d) *s->d = f->err;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int feed_add(struct mdp__seed *s, struct mdp__feed *f, struct mdp__spool *sp, int64_t ts,
                    const char *text, size_t len)
{
    size_t need = feed_size(len);
    if (f->cur && f->cur->cap - f->cur->len < need) {
        int rc = feed_push(s, f);
        if (rc) return rc;
    }
    if (!f->cur) {
        size_t cap = need > FEED_BATCH ? need : FEED_BATCH;
        if (cap == FEED_BATCH) {
            pthread_mutex_lock(&f->mu);
            f->cur = f->free;
            if (f->cur) f->free = f->cur->next;
            pthread_mutex_unlock(&f->mu);
        }
        if (!f->cur && !(f->cur = malloc(sizeof *f->cur + cap))) return mdp__nomem(s);
        f->cur->cap = cap;
        f->cur->len = 0;
    }
    struct feed_rec r = {sp, ts, len};
    char *p = f->cur->data + f->cur->len;
    memcpy(p, &r, sizeof r);
    memcpy(p + sizeof r, text, len);
    f->cur->len += need;
    return 0;
}

int mdp__spool_thread_stop(struct mdp__seed *s)
{
    struct mdp__feed *f = s->feed;
    if (!f) return 0;
    int rc = feed_push(s, f);
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_broadcast(&f->more);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->t, NULL);
    if (!rc && f->rc) {
        rc = f->rc;
        if (s->d) *s->d = f->err;
    }
    if (!s->scratch[0] && f->ctx.scratch[0]) /* the thread's first spill made the folder */
        memcpy(s->scratch, f->ctx.scratch, sizeof s->scratch);
    for (struct feed_batch *b = f->free, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(f->cur);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->more);
    pthread_cond_destroy(&f->room);
    free(f);
    s->feed = NULL;
    return rc;
}

int mdp__spool_add(struct mdp__seed *s, struct mdp__spool *sp, int64_t ts, const char *text,
                   size_t len)
{
    return s->feed ? feed_add(s, s->feed, sp, ts, text, len) : spool_add_now(s, sp, ts, text, len);
}

/* One run being merged: a window of the scratch file. */
struct reader {
    uint64_t pos, end; /* next file offset to read, end of the run */
    struct mdp_buf win;
    size_t at;    /* current record's header in win */
    int64_t ts;   /* current record's time */
    uint32_t len; /* current record's length */
    int live;
};

/* Makes `need` bytes from win.at available in the window. 0, or an error. */
static int window(struct mdp__seed *s, int fd, struct reader *r, size_t need, size_t chunk,
                  const char *path)
{
    if (r->win.len - r->at >= need) return 0;
    size_t keep = r->win.len - r->at;
    if (keep) memmove(r->win.data, r->win.data + r->at, keep);
    r->win.len = keep;
    r->at = 0;
    size_t want = need > chunk ? need : chunk;
    if (r->end - r->pos < want - keep) want = keep + (size_t)(r->end - r->pos);
    if (mdp_buf_reserve(&r->win, want - keep)) return mdp__nomem(s);
    while (r->win.len < want) {
        ssize_t k = pread(fd, r->win.data + r->win.len, want - r->win.len, (off_t)r->pos);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return k < 0 ? io_fail(s, "cannot read", path)
                         : mdp_diag_set(s->d, MDP_ERR_IO, "seed: %s: short read", path);
        r->win.len += (size_t)k;
        r->pos += (uint64_t)k;
    }
    return r->win.len - r->at >= need ? 0
                                      : mdp_diag_set(s->d, MDP_ERR_IO, "seed: %s: cut run", path);
}

/* Moves r to its next record (or marks it done). */
static int reader_next(struct mdp__seed *s, int fd, struct reader *r, size_t chunk,
                       const char *path)
{
    if (r->live) r->at += rec_size(r->len);
    if (r->win.len - r->at == 0 && r->pos == r->end) {
        r->live = 0;
        return 0;
    }
    int rc = window(s, fd, r, REC_HEAD, chunk, path);
    if (!rc) {
        memcpy(&r->ts, r->win.data + r->at, 8);
        memcpy(&r->len, r->win.data + r->at + 8, 4);
        rc = window(s, fd, r, rec_size(r->len), chunk, path);
    }
    r->live = !rc;
    return rc;
}

/* heap order: earlier time first, then the earlier run */
static int before(const struct reader *rd, int a, int b)
{
    return rd[a].ts != rd[b].ts ? rd[a].ts < rd[b].ts : a < b;
}

static void sift_down(const struct reader *rd, int *heap, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(rd, heap[l], heap[m])) m = l;
        if (r < n && before(rd, heap[r], heap[m])) m = r;
        if (m == i) return;
        int t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

int mdp__spool_drain(struct mdp__seed *s, struct mdp__spool *sp, int64_t day, mdp__spool_cb cb,
                     void *ud)
{
    struct mdp__runs *runs = &sp->runs[day];
    struct rec *v = NULL;
    struct reader *rd = NULL;
    int *heap = NULL;
    int fd = -1, rc = 0;
    char path[320] = "";
    size_t nr = 0;
    if (!runs->n) { /* never spilled: sort the day where it lies */
        const struct mdp__dayq *q = &sp->day[day];
        if ((rc = index_day(s, q, &v))) goto out;
        for (size_t i = 0; i < q->nrec && !rc; i++)
            rc = cb(s, ud, v[i].ts, v[i].text, v[i].len);
        goto out;
    }
    if ((rc = spill_day(s, sp, day))) goto out;
    scratch_file(s, sp, day, path);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = io_fail(s, "cannot open", path);
        goto out;
    }
    nr = runs->n;
    /* windows of 4-256 KiB, about 16 MiB in all (days may be drained on two threads at once) */
    size_t chunk = (16u << 20) / nr;
    chunk = chunk < (4u << 10) ? (4u << 10) : chunk > (256u << 10) ? (256u << 10) : chunk;
    rd = calloc(nr, sizeof *rd);
    heap = calloc(nr, sizeof *heap);
    if (!rd || !heap) {
        rc = mdp__nomem(s);
        goto out;
    }
    size_t nh = 0;
    for (size_t i = 0; i < nr && !rc; i++) {
        rd[i].pos = runs->start[i];
        rd[i].end = i + 1 < nr ? runs->start[i + 1] : runs->end;
        mdp_buf_init(&rd[i].win);
        rc = reader_next(s, fd, &rd[i], chunk, path);
        if (!rc && rd[i].live) heap[nh++] = (int)i;
    }
    for (size_t i = nh / 2; i-- > 0;)
        sift_down(rd, heap, nh, i);
    while (nh && !rc) {
        struct reader *r = &rd[heap[0]];
        rc = cb(s, ud, r->ts, r->win.data + r->at + REC_HEAD, r->len);
        if (!rc) rc = reader_next(s, fd, r, chunk, path);
        if (!r->live) heap[0] = heap[--nh];
        sift_down(rd, heap, nh, 0);
    }
out:
    if (fd >= 0) close(fd);
    if (path[0]) unlink(path);
    if (rd)
        for (size_t i = 0; i < nr; i++)
            mdp_buf_cleanup(&rd[i].win);
    free(rd);
    free(heap);
    free(v);
    runs->n = 0;
    runs->end = 0;
    day_release(s, &sp->day[day]);
    return rc;
}

void mdp__spool_cleanup(struct mdp__seed *s, struct mdp__spool *sp)
{
    if (!sp->day) return;
    for (int64_t day = 0; day < s->ndays; day++) {
        if (sp->runs && sp->runs[day].n) {
            char path[320];
            scratch_file(s, sp, day, path);
            unlink(path);
        }
        if (sp->runs) free(sp->runs[day].start);
        day_release(s, &sp->day[day]);
    }
    free(sp->day);
    free(sp->runs);
    sp->day = NULL;
    sp->runs = NULL;
}

void mdp__scratch_cleanup(struct mdp__seed *s)
{
    if (s->scratch[0]) rmdir(s->scratch);
    s->scratch[0] = '\0';
    if (s->pool) {
        for (struct mdp__block *b = s->pool->free, *n; b; b = n) {
            n = b->next;
            free(b);
        }
        pthread_mutex_destroy(&s->pool->mu);
        free(s->pool);
        s->pool = NULL;
    }
}
