/* The app-events writer of `mdp seed`: the app's own events, one JSON object per line in the spec
 * 2 Event-Payload standard plus event_id (UUIDv7), one events.ndjson per day in time order,
 * streamed to the landing store so that a day of any size never sits in memory whole. */
#include "seed_world.h"
#include "mdp/time.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FINISH_THREADS 2 /* threads writing the days' files at finish */

struct events;
struct events_fin {
    pthread_t t;
    struct events *w;
    struct mdp__seed s; /* the run's context with st and d of its own */
    struct mdp_seed_stats st;
    struct mdp_diag d;
    int rc;
    int64_t day; /* the day that failed */
};

struct events {
    struct mdp__spool lines;
    struct mdp_buf line, props;
    /* finish: the days' threads */
    pthread_mutex_t mu;
    int64_t next_day;
    int failed, started, nthreads;
    struct events_fin fin[FINISH_THREADS];
};

/* Appends "key":"value" (value a JSON string), with the comma before it unless first. */
static int kv(struct mdp_buf *b, const char *key, const char *value, int first)
{
    int e = first ? 0 : mdp_buf_putc(b, ',');
    e |= mdp_buf_json_str(b, key);
    e |= mdp_buf_putc(b, ':');
    return e | mdp_buf_json_str(b, value);
}

/* One event line as json-c would print it compact; props is a JSON object's text (NULL: out of
 * memory printing it). The
 * lines are printed, not built as json-c objects: they are most of a run's bytes. */
static int emit_event(struct mdp__seed *s, struct events *w, const struct mdp__user *u, int64_t ts,
                      const char *type, const char *props, const struct mdp__location *loc)
{
    if (mdp__day_index(s, ts) < 0) return 0;
    const struct mdp__account *a = u->acc;
    struct mdp_uuid eid;
    char id[37], uid[37], aid[37], lid[37], when[32];
    mdp__uuid7_at(s, ts, &eid);
    mdp_uuid_format(&eid, id);
    mdp_uuid_format(&u->id, uid);
    mdp_uuid_format(&a->id, aid);
    mdp__iso(ts, when);
    if (!loc) loc = &a->loc[0];
    mdp_uuid_format(&loc->id, lid);

    int bad = mdp__bad(s) ? 1 + (int)mdp__rng_below(&s->r, 5) : 0;
    struct mdp_buf *b = &w->line;
    mdp_buf_reset(b);
    int e = mdp_buf_putc(b, '{');
    e |= kv(b, "event_id", id, 1);
    if (bad != 2) e |= kv(b, "user_id", uid, 0);
    e |= kv(b, "account_id", aid, 0);
    e |= kv(b, "location_id", lid, 0);
    e |= mdp_buf_puts(b, ",\"external_ids\":{");
    int first = 1;
    if (a->gbp && loc->on_maps) e |= kv(b, "gbp_place_id", loc->place_id, first), first = 0;
    e |= kv(b, "ga4_client_id", u->ga4_client_id, first);
    if (u->fb) e |= kv(b, "fb_page_id", u->fb_page_id, 0);
    if (u->ig) e |= kv(b, "ig_business_id", u->ig_id, 0);
    e |= mdp_buf_putc(b, '}');
    e |= kv(b, "timestamp", bad == 4 ? "2026-13-45T25:61:00Z" : when, 0);
    e |= kv(b, "event_type", bad == 3 ? "step_teleported" : type, 0);
    e |= mdp_buf_puts(b, ",\"properties\":");
    if (!props) return mdp__nomem(s); /* the properties could not be printed */
    e |= mdp_buf_puts(b, props);
    e |= mdp_buf_putc(b, '}');
    if (e) return mdp__nomem(s);
    size_t len = b->len;
    if (bad == 1) { /* truncated in transit */
        len = len / 2 + mdp__rng_below(&s->r, len / 3);
        s->st->bad_truncated++;
    } else if (bad == 2) {
        s->st->bad_missing_id++;
    } else if (bad == 3) {
        s->st->bad_unknown_enum++;
    } else if (bad == 4) {
        s->st->bad_bad_timestamp++;
    }
    s->st->events++;
    int rc = mdp__spool_add(s, &w->lines, ts, b->data, len);
    if (!rc && bad == 5) { /* at-least-once delivery: the same event again, a little later */
        s->st->bad_duplicate++;
        s->st->events++;
        rc = mdp__spool_add(s, &w->lines, ts + 1 + (int64_t)mdp__rng_below(&s->r, 5000), b->data,
                            len);
    }
    return rc;
}

/* Properties: the object's text in w->props. */
static const char *props(struct events *w, const char *k1, const char *v1, const char *k2,
                         const char *v2)
{
    struct mdp_buf *b = &w->props;
    mdp_buf_reset(b);
    int e = mdp_buf_putc(b, '{');
    e |= kv(b, k1, v1, 1);
    if (k2 && v2) e |= kv(b, k2, v2, 0);
    e |= mdp_buf_putc(b, '}');
    return e ? NULL : b->data;
}

static const char *props_step(struct events *w, const char *step, int64_t dur_s)
{
    struct mdp_buf *b = &w->props;
    mdp_buf_reset(b);
    int e = mdp_buf_putc(b, '{');
    e |= kv(b, "step_id", step, 1);
    if (dur_s >= 0) e |= mdp_buf_printf(b, ",\"duration_seconds\":%lld", (long long)dur_s);
    e |= mdp_buf_putc(b, '}');
    return e ? NULL : b->data;
}

static int events_on(struct mdp__seed *s, void *state, const struct mdp__happening *h)
{
    struct events *w = state;
    const struct mdp__user *u = h->u;
    int rc;
    char cid[37];
    switch (h->kind) {
    case MDP__H_SIGNUP:
        return emit_event(s, w, u, h->t, "signed_up",
                          props(w, "method", u->fb ? "facebook" : "email", NULL, NULL), NULL);
    case MDP__H_ONB_STEP: {
        const char *st = h->step.status;
        const char *ev = strcmp(st, "completed") == 0 ? "step_completed"
                         : strcmp(st, "skipped") == 0 ? "step_skipped"
                                                      : "step_abandoned";
        rc = emit_event(s, w, u, h->t, "step_started", props_step(w, h->step.step, -1), NULL);
        return rc ? rc
                  : emit_event(s, w, u, h->t + h->step.dur_s * 1000, ev,
                               props_step(w, h->step.step, h->step.dur_s), NULL);
    }
    case MDP__H_ONB_DONE:
        return emit_event(s, w, u, h->t, "onb_complete", "{}", NULL);
    case MDP__H_LOGIN:
        return emit_event(s, w, u, h->t, h->login.error ? "login_failed" : "login_succeeded",
                          props(w, "provider", h->login.provider, "error_code", h->login.error),
                          NULL);
    case MDP__H_PAGE_VIEW:
        return emit_event(s, w, u, h->t, "page_view", props(w, "path", h->path, NULL, NULL), NULL);
    case MDP__H_VC:
        mdp_uuid_format(&h->vc.check_id, cid);
        rc = emit_event(s, w, u, h->t, "vc_started", props(w, "check_id", cid, NULL, NULL), h->l);
        if (rc) return rc;
        mdp_buf_reset(&w->props);
        if (mdp_buf_printf(
                &w->props,
                "{\"check_id\":\"%s\",\"overall_score\":%d,\"processing_time_seconds\":%d}", cid,
                h->vc.overall, h->vc.secs))
            return mdp__nomem(s);
        return emit_event(s, w, u, h->t + h->vc.secs * 1000, "vc_completed", w->props.data, h->l);
    default:
        return 0;
    }
}

static int events_init(struct mdp__seed *s, void **state)
{
    struct events *w = calloc(1, sizeof *w);
    if (!w) return mdp__nomem(s);
    pthread_mutex_init(&w->mu, NULL);
    *state = w;
    return mdp__spool_init(s, &w->lines, "events");
}

/* A day's file goes out through a streaming writer in chunks of this size. */
#define CHUNK (1u << 20)

struct day_out {
    struct mdp_store_writer *sw;
    struct mdp_buf b;
    int64_t bytes;
};

static int day_flush(struct mdp__seed *s, struct day_out *o)
{
    if (!o->b.len) return 0;
    int rc = o->sw->write(o->sw, o->b.data, o->b.len, s->d);
    o->bytes += (int64_t)o->b.len;
    mdp_buf_reset(&o->b);
    return rc;
}

static int day_line(struct mdp__seed *s, void *ud, int64_t ts, const char *text, size_t len)
{
    struct day_out *o = ud;
    (void)ts;
    if (mdp_buf_append(&o->b, text, len) || mdp_buf_putc(&o->b, '\n')) return mdp__nomem(s);
    return o->b.len >= CHUNK ? day_flush(s, o) : 0;
}

/* Writes one day's events.ndjson (nothing for a day without events); b is the chunk buffer. */
static int write_day(struct mdp__seed *s, struct events *w, int64_t day, struct mdp_buf *b)
{
    if (mdp__spool_empty(&w->lines, day)) return 0; /* a day without events */
    char date[11], key[96];
    mdp_date_format(s->o->start_day + day, date, sizeof date);
    snprintf(key, sizeof key, "events/dt=%s/events.ndjson", date);
    struct day_out o = {NULL, *b, 0};
    mdp_buf_reset(&o.b);
    int rc = mdp_store_writer_open(s->out, key, &o.sw, s->d);
    if (!rc) {
        rc = mdp__spool_drain(s, &w->lines, day, day_line, &o);
        if (!rc) rc = day_flush(s, &o);
        if (!rc) {
            rc = o.sw->commit(o.sw, s->d);
            if (!rc) {
                s->st->files++;
                s->st->bytes += o.bytes;
            }
        } else {
            o.sw->abort(o.sw);
        }
    }
    *b = o.b; /* the buffer is kept for the next day */
    return rc;
}

/* Draining a day is most of a run's finishing (the events are most of its bytes), and it needs no
 * random number: the days go to threads of their own, taking the next day not yet taken, while the
 * other writers finish on the calling thread. Each thread has a shallow copy of the run's context
 * with its own counters and error detail, merged in events_wait; the bytes of a day do not depend
 * on the thread that writes it. */
static void *finish_main(void *arg)
{
    struct events_fin *f = arg;
    struct events *w = f->w;
    struct mdp_buf b;
    mdp_buf_init(&b);
    for (;;) {
        pthread_mutex_lock(&w->mu);
        int64_t day = w->failed ? f->s.ndays : w->next_day++;
        pthread_mutex_unlock(&w->mu);
        if (day >= f->s.ndays) break;
        if ((f->rc = write_day(&f->s, w, day, &b))) {
            f->day = day;
            pthread_mutex_lock(&w->mu);
            w->failed = 1;
            pthread_mutex_unlock(&w->mu);
            break;
        }
    }
    mdp_buf_cleanup(&b);
    return NULL;
}

static int events_finish(struct mdp__seed *s, void *state)
{
    struct events *w = state;
    w->next_day = 0;
    w->failed = 0;
    w->started = 1;
    for (int i = 0; i < FINISH_THREADS; i++) {
        struct events_fin *f = &w->fin[i];
        memset(f, 0, sizeof *f);
        f->w = w;
        f->s = *s;
        f->s.st = &f->st;
        f->s.d = &f->d;
    }
    for (int i = 0; i < FINISH_THREADS && !s->o->single_thread; i++) {
        if (pthread_create(&w->fin[i].t, NULL, finish_main, &w->fin[i]) != 0) break;
        w->nthreads++;
    }
    if (!w->nthreads) finish_main(&w->fin[0]); /* single-threaded (or no thread to be had) */
    return 0;
}

/* Waits for the days' threads; merges their counters and returns the error of the earliest day
 * that failed (detail in s->d), or 0. */
static int events_wait(struct mdp__seed *s, void *state)
{
    struct events *w = state;
    if (!w || !w->started) return 0;
    for (int i = 0; i < w->nthreads; i++)
        pthread_join(w->fin[i].t, NULL);
    w->nthreads = 0;
    w->started = 0;
    int rc = 0;
    int64_t first = s->ndays;
    for (int i = 0; i < FINISH_THREADS; i++) {
        struct events_fin *f = &w->fin[i];
        s->st->files += f->st.files;
        s->st->bytes += f->st.bytes;
        if (f->rc && f->day < first) {
            first = f->day;
            rc = f->rc;
            if (s->d) *s->d = f->d;
        }
    }
    return rc;
}

static void events_cleanup(struct mdp__seed *s, void *state)
{
    struct events *w = state;
    if (!w) return;
    events_wait(s, w); /* a run that failed before the wait: its threads end first */
    pthread_mutex_destroy(&w->mu);
    mdp__spool_cleanup(s, &w->lines);
    mdp_buf_cleanup(&w->line);
    mdp_buf_cleanup(&w->props);
    free(w);
}

const struct mdp__writer mdp__writer_events = {"events",      events_init,    events_on,
                                               events_finish, events_cleanup, events_wait};
