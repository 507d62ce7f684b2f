/* The core of the HTTP server (include/mdp/serve.h, server.h) on libmicrohttpd: poll mode with a
 * thread pool of one thread per CPU of its affinity mask (epoll stalls under a burst of
 * connections on Debian 12's 0.9.75), the request lifecycle (a pooled request per connection with its arena, freed when the request ends), the
 * limits that answer 413/503 at once, the route table's dispatch with its methods and key scopes,
 * a response queued only once the request is complete (queueing on the first call turns keep-alive
 * off), connections suspended while their records are group-committed, and start and graceful
 * stop. The routes are in routes_*.c; the library prints nothing and leaves signals to its caller
 * (the CLI). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "mdp/suppress.h"
#include "mdp/alloc.h"
#include "mdp/hash.h"
#include "mdp/log.h"
#include "mdp/ml.h"
#include "mdp/serve.h"
#include "mdp/snapshot.h"
#include "mdp/time.h"
#include "server.h"

#include <arpa/inet.h>
#include <sched.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define MDP__ROUTE_ENTRY(path, methods, scope, fn) {path, methods, scope, fn},
const struct mdp__route mdp__routes[MDP__NROUTES] = {MDP__ROUTES(MDP__ROUTE_ENTRY)};

const char *mdp__route_name(int route)
{
    return route >= 0 && route < MDP__NROUTES ? mdp__routes[route].path : "other";
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- requests: a pool per thread (a request starts and ends on its connection's thread) ---- */

#define POOL_MAX 64
struct reqpool {
    struct mdp__req *head;
    int n;
};
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void req_free(struct mdp__req *r)
{
    mdp_buf_cleanup(&r->body);
    mdp_buf_cleanup(&r->resp);
    mdp_buf_cleanup(&r->aux);
    mdp__arena_cleanup(&r->arena);
    free(r);
}

static void pool_free(void *p)
{
    struct reqpool *pool = p;
    for (struct mdp__req *r = pool->head, *next; r; r = next) {
        next = r->next_free;
        req_free(r);
    }
    free(pool);
}

static void pool_key_create(void)
{
    pthread_key_create(&pool_key, pool_free);
}

static struct reqpool *my_pool(void)
{
    static __thread struct reqpool *mine;
    if (!mine && (mine = mdp_calloc(1, sizeof *mine))) {
        pthread_once(&pool_once, pool_key_create);
        pthread_setspecific(pool_key, mine); /* freed when the thread ends */
    }
    return mine;
}

/* a cleared request whose buffers and arena keep their storage */
static struct mdp__req *req_get(void)
{
    struct reqpool *pool = my_pool();
    struct mdp__req *r = pool ? pool->head : NULL;
    if (!r) {
        if ((r = mdp_calloc(1, sizeof *r))) {
            mdp_buf_init(&r->body);
            mdp_buf_init(&r->resp);
            mdp_buf_init(&r->aux);
        }
        return r;
    }
    pool->head = r->next_free;
    pool->n--;
    struct mdp_buf body = r->body, resp = r->resp, aux = r->aux;
    struct mdp__arena arena = r->arena;
    memset(r, 0, sizeof *r);
    r->body = body;
    r->resp = resp;
    r->aux = aux;
    r->arena = arena;
    mdp_buf_reset(&r->body);
    mdp_buf_reset(&r->resp);
    mdp_buf_reset(&r->aux);
    return r;
}

/* the request has ended: its arena's allocations go now */
static void req_put(struct mdp__req *r)
{
    mdp__arena_reset(&r->arena);
    struct reqpool *pool = my_pool();
    /* a large body's storage is not kept */
    if (!pool || pool->n >= POOL_MAX || r->body.cap > 65536 || r->aux.cap > 65536) {
        req_free(r);
        return;
    }
    r->next_free = pool->head;
    pool->head = r;
    pool->n++;
}

/* ---- responses ---- */

static const char *allow(int methods)
{
    return methods == (MDP__GET | MDP__POST) ? "GET, POST" : methods == MDP__GET ? "GET" : "POST";
}

/* what a client gets instead of a body that ran out of memory while it was built (static: building
 * another body could fail the same way) */
static const char OOM_BODY[] =
    "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"the server ran out of memory building "
    "the response; retry\"}}";

enum MHD_Result mdp__respond(struct mdp__req *r)
{
    r->ready = 1;
    /* the body stays in r->resp until the request completes: no copy. A body whose build failed
     * (the buffer's error is sticky) is never sent cut off: a 503 says so instead. */
    const char *body = r->resp.data ? r->resp.data : "";
    size_t len = r->resp.len;
    if (mdp_buf_error(&r->resp)) {
        r->status = 503;
        r->ctype = NULL;
        body = OOM_BODY;
        len = sizeof OOM_BODY - 1;
    }
    struct MHD_Response *res =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!res) return MHD_NO;
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->ctype ? r->ctype : "application/json");
    if (r->status == 401) MHD_add_response_header(res, "WWW-Authenticate", "Bearer");
    if (r->status == 405 && r->route < MDP__NROUTES)
        MHD_add_response_header(res, MHD_HTTP_HEADER_ALLOW, allow(mdp__routes[r->route].methods));
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, res);
    MHD_destroy_response(res);
    return ret;
}

enum MHD_Result mdp__fail(struct mdp__req *r, int status, const char *code, const char *msg)
{
    r->status = mdp__error(&r->resp, status, code, "%s", msg);
    return mdp__respond(r);
}

const char *mdp__header(const struct mdp__req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- the group commit: suspend, resume ---- */

static void commit_done(void *ud, int rc)
{
    struct mdp__req *r = ud;
    r->commit_rc = rc;
    MHD_resume_connection(r->conn);
}

enum MHD_Result mdp__commit_and_wait(struct mdp__req *r, const char *source, const char *dataset,
                                     int64_t day, const struct mdp_buf *lines,
                                     void (*resumed)(struct mdp__req *r))
{
    r->waiting = 1;
    r->resumed = resumed;
    MHD_suspend_connection(r->conn);
    /* lines that ran out of memory while they were built are never committed in part */
    if (mdp_buf_error(lines) || mdp__committer_submit(r->s->committer, source, dataset, day,
                                                      lines->data, lines->len, commit_done, r)) {
        r->commit_rc = MDP_ERR_NOMEM;
        MHD_resume_connection(r->conn);
    }
    return MHD_YES;
}

/* ---- the access handler ---- */

static int route_of(const char *url)
{
    for (int i = 0; i < MDP__NROUTES; i++)
        if (strcmp(url, mdp__routes[i].path) == 0) return i;
    return MDP__NROUTES;
}

static int method_ok(int methods, const char *m)
{
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) return (methods & MDP__GET) != 0;
    return strcmp(m, "POST") == 0 && (methods & MDP__POST);
}

/* the first call of a request: limits, route, method, key; an early answer closes the connection
 * (its body is not read) */
static enum MHD_Result begin(struct mdp__req *r, const char *method)
{
    struct mdp_server *s = r->s;
    int n = ++s->in_flight;
    if (s->stopping) return mdp__fail(r, 503, "shutting_down", "the server is shutting down");
    if (n > s->cfg->serve_max_in_flight)
        return mdp__fail(r, 503, "overloaded", "too many requests in flight; retry later");
    const char *cl = mdp__header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoll(cl, NULL, 10) > s->cfg->serve_max_body)
        return mdp__fail(r, 413, "body_too_large", "the body is larger than serve.max_body_bytes");
    if (r->route == MDP__NROUTES) return mdp__fail(r, 404, "not_found", "no such route");
    const struct mdp__route *rt = &mdp__routes[r->route];
    if (!method_ok(rt->methods, method))
        return mdp__fail(r, 405, "method_not_allowed", "this route does not take that method");
    int scope = rt->scope & ~MDP__SIGNED;
    if ((rt->scope & MDP__SIGNED) && s->verify_sns) scope = 0; /* the signature is the credential */
    int a = scope ? mdp__authorize(s, r->conn, scope) : 0;
    if (a == 401)
        return mdp__fail(r, 401, "unauthorized",
                         "send Authorization: Bearer <key> (a key of serve.keys)");
    if (a == 403) return mdp__fail(r, 403, "forbidden", "the key lacks this route's scope");
    return MHD_YES; /* the response waits for the whole request (keep-alive) */
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    struct mdp_server *s = cls;
    struct mdp__req *r = *con_cls;
    if (!r) {
        if (!(r = req_get())) return MHD_NO;
        r->s = s;
        r->conn = c;
        r->method = method;
        r->t0_us = now_us();
        r->route = route_of(url);
        *con_cls = r;
        return begin(r, method);
    }
    if (r->ready) return MHD_YES; /* an early answer is queued; the rest of the body is dropped */
    if (*upload_size) {
        if (r->body.len + *upload_size > (size_t)s->cfg->serve_max_body)
            r->too_big = 1;
        else if (mdp_buf_append(&r->body, upload, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->waiting) { /* resumed after the group commit */
        r->resumed(r);
        r->waiting = 0;
        return mdp__respond(r);
    }
    if (r->too_big)
        return mdp__fail(r, 413, "body_too_large", "the body is larger than serve.max_body_bytes");
    return mdp__routes[r->route].handle(r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    struct mdp_server *s = cls;
    struct mdp__req *r = *con_cls;
    if (!r) return;
    mdp__metrics_request(s, r->route, r->status, now_us() - r->t0_us);
    req_put(r); /* MHD is done with the response, which pointed into r->resp */
    *con_cls = NULL;
    s->in_flight--;
}

/* ---- start and stop ---- */

static int listen_addr(const char *listen, struct sockaddr_in *sa, struct mdp_diag *d)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    long port;
    if (!colon || colon - listen >= (long)sizeof host || (port = strtol(colon + 1, NULL, 10)) < 0 ||
        port > 65535)
        return mdp_diag_set(d, MDP_ERR_CONFIG, "serve.listen: '%s' is not HOST:PORT", listen);
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sa->sin_addr) != 1)
        return mdp_diag_set(d, MDP_ERR_CONFIG, "serve.listen: '%s' is not an IPv4 address", host);
    return 0;
}

static int decision_key(struct mdp_server *s, struct mdp_diag *d)
{
    char *body = NULL;
    int rc = mdp_state_get(s->state, "serve", "decision_key", "k", &body, NULL, d);
    if (rc == MDP_ERR_NOT_FOUND) {
        unsigned char raw[32];
        char hex[65];
        if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
            return mdp_diag_set(d, MDP_ERR_IO, "no randomness for the decision key");
        mdp_hex_encode(raw, sizeof raw, hex);
        hex[64] = '\0';
        struct mdp_state_item it = {"decision_key", "k", hex, 0};
        rc = mdp_state_put(s->state, "serve", &it, MDP_STATE_IF_ABSENT, d);
        if (rc == MDP_ERR_EXISTS) rc = 0;
        if (!rc) rc = mdp_state_get(s->state, "serve", "decision_key", "k", &body, NULL, d);
    }
    if (!rc) snprintf(s->pz.key, sizeof s->pz.key, "%s", body);
    free(body);
    if (!rc && mdp__pz_sign_check(&s->pz))
        rc = mdp_diag_set(d, MDP_ERR_CONFIG,
                          "cannot sign decision ids: the stored decision key is not 64 hex digits "
                          "or OpenSSL lacks SipHash");
    return rc;
}

/* frees what start set up (the daemon and the background thread are stopped before) */
static void server_free(struct mdp_server *s)
{
    mdp__committer_stop(s->committer); /* writes and fsyncs what was queued */
    mdp_bandit_close(s->bandit);
    mdp_suppress_live_free(s->suppress);
    mdp__catalogue_free(&s->pz.cat);
    OPENSSL_cleanse(s->pz.subject_key, sizeof s->pz.subject_key);
    mdp_state_close(s->state);
    if (s->snap.snap) mdp_snapshot_close(s->snap.snap);
    pthread_rwlock_destroy(&s->snap.lock);
    pthread_mutex_destroy(&s->state_mu);
    pthread_mutex_destroy(&s->days_mu);
    free(s->keys);
    mdp__metrics_cleanup(&s->metrics);
    free(s);
}

/* The CPUs this process may run on (its affinity mask: taskset, a container's cpuset), not the
 * machine's: a thread pool larger than that only time-slices one core, and a connection of a
 * descheduled worker waits a whole slice (milliseconds: the p99 of a server pinned to one core). */
static long usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

int mdp_serve_start(const struct mdp_config *cfg, struct mdp_lake *lake, struct mdp_server **out,
                    struct mdp_diag *d)
{
    *out = NULL;
    struct mdp_server *s = mdp_calloc(1, sizeof *s);
    if (!s) return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    s->cfg = cfg;
    s->lake = lake;
    s->verify_sns = strcmp(cfg->ses_verify, "off") != 0;
    pthread_mutex_init(&s->state_mu, NULL);
    pthread_mutex_init(&s->days_mu, NULL);
    pthread_rwlock_init(&s->snap.lock, NULL);
    struct mdp_buf cc;
    mdp_buf_init(&cc);
    if (mdp_store_local_path(lake->store, "_meta/cache/sns-certs", &cc) == 0 && !mdp_buf_error(&cc))
        snprintf(s->cert_cache, sizeof s->cert_cache, "%s", cc.data ? cc.data : "");
    mdp_buf_cleanup(&cc);
    struct sockaddr_in sa;
    int rc = mdp__metrics_init(&s->metrics) ? mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory") : 0;
    if (!rc) rc = mdp__keys_parse(cfg, &s->keys, &s->nkeys, d);
    if (!rc) rc = listen_addr(cfg->serve_listen, &sa, d);
    if (!rc) rc = mdp_state_open_lake(lake, &s->state, d);
    if (!rc) rc = decision_key(s, d);
    if (!rc) rc = mdp_bandit_open(s->state, &s->bandit, d);
    if (!rc) rc = mdp_suppress_live_new(&s->suppress, d);
    if (!rc) rc = mdp_suppress_live_refresh(s->suppress, s->state, NULL, d);
    if (!rc) rc = mdp__catalogue_load(cfg, &s->pz.cat, d);
    if (!rc)
        rc = mdp__committer_start(lake, cfg->serve_log_flush_s, cfg->serve_log_flush_mb,
                                  &s->committer, d);
    if (rc) goto fail;
    struct mdp_diag sd = {0};
    if (mdp__snap_reload(&s->snap, lake, &sd) < 0)
        mdp_log(MDP_LOG_ERROR, "serving snapshot not loaded", LOG_STR("error", sd.msg), MDP_LF_END);
    s->pz.cfg = cfg;
    s->pz.bandit = s->bandit;
    s->pz.snap = &s->snap;
    s->pz.state = s->state;
    s->pz.state_mu = &s->state_mu;
    s->pz.committer = s->committer;
    s->pz.suppress = s->suppress;
    mdp__committer_filter(s->committer, mdp__pz_log_filter, &s->pz);
    long threads = cfg->serve_threads ? cfg->serve_threads : usable_cpus();
    /* a pool of one is MHD's one internal thread (it warns about a pool size of 0 or 1) */
    struct MHD_OptionItem pool[] = {{MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
                                    {MHD_OPTION_END, 0, NULL}};
    if (threads < 2) pool[0].option = MHD_OPTION_END;
    s->mhd = MHD_start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_ARRAY, pool,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->serve_max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->serve_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    if (!s->mhd) {
        rc = mdp_diag_set(d, MDP_ERR_IO, "cannot listen on %s: %s", cfg->serve_listen,
                          strerror(errno));
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_in bound;
    socklen_t bl = sizeof bound;
    int port = ntohs(sa.sin_port);
    if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &bl) == 0)
        port = ntohs(bound.sin_port);
    char host[64];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    snprintf(s->url, sizeof s->url, "http://%s:%d", host, port);
    if (mdp__background_start(s)) {
        MHD_stop_daemon(s->mhd);
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "cannot start the background thread");
        goto fail;
    }
    if (!s->nkeys)
        mdp_log(MDP_LOG_WARN,
                "serve.keys is empty: every route that needs a key answers 401 (mdp serve "
                "key new makes a key)",
                MDP_LF_END);
    mdp_log(MDP_LOG_INFO, "serving", LOG_STR("host", host), LOG_INT("port", port),
            LOG_INT("threads", threads), LOG_INT("keys", s->nkeys), MDP_LF_END);
    *out = s;
    return 0;
fail:
    server_free(s);
    return rc;
}

const char *mdp_serve_url(const struct mdp_server *s)
{
    return s->url;
}

void mdp_serve_stop(struct mdp_server *s)
{
    if (!s) return;
    mdp_log(MDP_LOG_INFO, "shutting down", MDP_LF_END);
    /* stop accepting; let what is in flight finish (bounded by the request timeout) */
    s->stopping = 1;
    MHD_socket lfd = MHD_quiesce_daemon(s->mhd);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    for (int i = 0; i < s->cfg->serve_timeout_s * 100 && s->in_flight > 0; i++)
        usleep(10000);
    mdp__background_stop(s);
    MHD_stop_daemon(s->mhd);
    server_free(s);
}
