/* The baseline of bench/serve.sh: a bare libmicrohttpd server with the same daemon options as mdp
 * serve (poll, a thread pool of one thread per CPU it may run on, suspend/resume allowed, 8 KiB of
 * memory per connection, the same backlog and timeout; the response queued on the request's second
 * call)
 * that answers every request with a fixed 200-byte JSON. With MHD's default 32 KiB per connection
 * it spent 0.6 us a request more than mdp serve clearing that memory (perf), which flattered the
 * ratio. Usage: bench_mhd_bare PORT [WORK_NS] (until SIGTERM). WORK_NS (default 0): busy work per
 * request, the clock polled for that many nanoseconds before answering, standing in for a
 * handler's own CPU time: what a server that only added that much work would measure here
 * (docs/serve.md, "What a microsecond of work costs"). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <microhttpd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char body[201];
static long work_ns;

static long elapsed_ns(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1000000000L + (b->tv_nsec - a->tv_nsec);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    if (!*con_cls) {
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (work_ns > 0) {
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do
            clock_gettime(CLOCK_MONOTONIC, &t);
        while (elapsed_ns(&t0, &t) < work_ns);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(200, body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) return 2;
    work_ns = argc == 3 ? atol(argv[2]) : 0;
    snprintf(body, sizeof body, "{\"decision_id\":\"%0150d\",\"variant\":\"tip\",\"x\":1}", 0);
    size_t n = strlen(body);
    memset(body + n, ' ', 200 - n);
    body[200] = '\0';
    /* one thread per CPU of the affinity mask, as mdp serve does */
    cpu_set_t cpus;
    long threads = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct MHD_OptionItem pool[] = {{MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
                                    {MHD_OPTION_END, 0, NULL}};
    if (threads < 2) pool[0].option = MHD_OPTION_END; /* MHD's one internal thread */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        (uint16_t)atoi(argv[1]), NULL, NULL, handler, NULL, MHD_OPTION_ARRAY, pool,
        MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_END);
    if (!d) return 1;
    printf("listening\n");
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
