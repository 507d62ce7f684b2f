/* The group committer (serve_internal.h): concurrent requests' records become one durable raw
 * object per stream and day per round, so a round pays one fsync whatever the number of requests.
 */
#include "mdp/log.h"
#include "serve_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

struct job {
    char source[32], dataset[32];
    int64_t day;
    char *data;
    size_t len;
    mdp__commit_done done;
    void *ud;
    struct job *next;
};

struct mdp__committer {
    struct mdp_lake *lake;
    struct job *lazy; /* appends that wait for the next round (one per stream and day) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    int stop;
    atomic_llong objects;
};

int mdp__committer_submit(struct mdp__committer *c, const char *source, const char *dataset,
                          int64_t day, const char *data, size_t len, mdp__commit_done done,
                          void *ud)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j || !(j->data = malloc(len ? len : 1))) {
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

int mdp__committer_append(struct mdp__committer *c, const char *source, const char *dataset,
                          int64_t day, const char *data, size_t len)
{
    struct job probe;
    snprintf(probe.source, sizeof probe.source, "%s", source);
    snprintf(probe.dataset, sizeof probe.dataset, "%s", dataset);
    probe.day = day;
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    struct job *j = c->lazy;
    while (j && !same_stream(j, &probe))
        j = j->next;
    if (!j && (j = calloc(1, sizeof *j))) {
        *j = probe;
        j->data = NULL;
        j->len = 0;
        j->done = NULL;
        j->next = c->lazy;
        c->lazy = j;
    }
    char *nd = j ? realloc(j->data, j->len + len) : NULL;
    if (nd) {
        memcpy(nd + j->len, data, len);
        j->data = nd;
        j->len += len;
    } else {
        rc = MDP_ERR_NOMEM;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int same_stream(const struct job *a, const struct job *b)
{
    return a->day == b->day && strcmp(a->source, b->source) == 0 &&
           strcmp(a->dataset, b->dataset) == 0;
}

/* Writes one round: the jobs of each stream and day together, then tells their submitters. */
static void commit_round(struct mdp__committer *c, struct job *list)
{
    while (list) {
        struct mdp_buf all;
        mdp_buf_init(&all);
        int rc = 0;
        for (struct job *j = list; j && !rc; j = j->next)
            if (same_stream(j, list)) rc = mdp_buf_append(&all, j->data, j->len);
        struct mdp_diag d = {0};
        if (!rc && all.len)
            rc = mdp_lake_raw_put(c->lake, list->source, list->dataset, list->day, all.data,
                                  all.len, "ndjson", NULL, NULL, &d);
        if (rc)
            mdp_log(MDP_LOG_ERROR, "group commit failed", LOG_STR("source", list->source),
                    LOG_STR("error", d.msg[0] ? d.msg : mdp_strerror(rc)), MDP_LF_END);
        else
            c->objects++;
        mdp_buf_cleanup(&all);
        /* hand the results out, and keep the jobs of the other streams for the next pass */
        struct job *rest = NULL, **tail = &rest, *first = list;
        for (struct job *j = list, *next; j; j = next) {
            next = j->next;
            if (j == first || same_stream(j, first)) {
                if (j != first) {
                    if (j->done) j->done(j->ud, rc);
                    free(j->data);
                    free(j);
                }
            } else {
                j->next = NULL;
                *tail = j;
                tail = &j->next;
            }
        }
        if (first->done) first->done(first->ud, rc);
        free(first->data);
        free(first);
        list = rest;
    }
}

static void *run(void *arg)
{
    struct mdp__committer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        /* wake for submitted work; the appends are written at least once a second */
        if (!c->head && !c->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            while (!c->head && !c->stop)
                if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT) break;
        }
        if (!c->head && !c->lazy) {
            if (c->stop) break;
            continue;
        }
        struct job *list = c->head, *last = c->tail, *lazy = c->lazy;
        c->head = c->tail = NULL;
        c->lazy = NULL;
        /* the appends ride along, after the submitted work someone waits for */
        if (last)
            last->next = lazy;
        else
            list = lazy;
        pthread_mutex_unlock(&c->mu);
        commit_round(c, list);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int mdp__committer_start(struct mdp_lake *lake, struct mdp__committer **out, struct mdp_diag *d)
{
    struct mdp__committer *c = calloc(1, sizeof *c);
    if (!c) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    c->lake = lake;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->thread, NULL, run, c)) {
        free(c);
        return mdp_diag_set(d, MDP_ERR_IO, "cannot start the committer thread");
    }
    *out = c;
    return 0;
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
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
