/* Fuzz target: the service's request bodies. Every input goes through the collector's batch
 * splitter (JSON and NDJSON) and the events check (each rejected event marked once), and, as JSON,
 * through the personalization and feedback handlers (no snapshot, no state store); each must answer
 * with a status and a JSON body, never crash; and as an SNS envelope, whose SES message's day is
 * read. The input's bytes also size the allocations of a request arena: each must be aligned,
 * zeroed and its own until the arena is reset. */
#include "mdp/config.h"
#include "../../src/serve/server.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mdp_config cfg;
static struct mdp__pz pz;
static struct mdp__snap_holder snap;

static void setup(void)
{
    static int done;
    if (done) return;
    done = 1;
    struct mdp_diag d = {0};
    mdp_config_defaults(&cfg);
    pthread_rwlock_init(&snap.lock, NULL);
    pz.cfg = &cfg;
    pz.snap = &snap;
    memcpy(pz.key, "0123456789abcdef0123456789abcdef", 33);
    if (mdp__catalogue_load(&cfg, &pz.cat, &d) || mdp_bandit_open(NULL, &pz.bandit, &d)) abort();
}

/* 1 when all n bytes at p are v. Compared with memcmp, not byte by byte: the coverage
 * instrumentation of a byte loop over 20,000 bytes took 99% of this target's time (4 inputs/s) */
static int all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    return n == 0 || (p[0] == v && memcmp(p, p + 1, n - 1) == 0);
}

/* allocations sized by pairs of input bytes (0 to 20,000 bytes, so that some leave the first
 * chunk), filled with their number and checked after all were made */
static void arena_check(const uint8_t *data, size_t size)
{
    struct mdp__arena a = {0};
    for (int round = 0; round < 2; round++) { /* the second round reuses the first chunk */
        unsigned char *ptr[64];
        size_t len[64];
        int k = 0;
        for (size_t i = 0; i + 1 < size && k < 64; i += 2, k++) {
            len[k] = ((size_t)data[i] << 8 | data[i + 1]) % 20000;
            ptr[k] = mdp__arena_alloc(&a, len[k]);
            if (!ptr[k] || (uintptr_t)ptr[k] % _Alignof(max_align_t)) __builtin_trap();
            if (!all_bytes(ptr[k], len[k], 0)) __builtin_trap();
            memset(ptr[k], k + 1, len[k]);
        }
        for (int m = 0; m < k; m++)
            if (!all_bytes(ptr[m], len[m], (unsigned char)(m + 1))) __builtin_trap();
        mdp__arena_reset(&a);
    }
    mdp__arena_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    arena_check(data, size);
    const char *p = (const char *)data, *why = NULL;
    for (int ndjson = 0; ndjson < 2; ndjson++) {
        struct mdp_buf lines;
        mdp_buf_init(&lines);
        if (mdp__events_split(p, size, ndjson, &lines, &why) == 0) {
            size_t n = 0;
            for (size_t i = 0; i < lines.len; i++)
                n += lines.data[i] == '\n';
            unsigned char *rejected = calloc(n ? n : 1, 1);
            struct mdp_quarantine q;
            mdp_quarantine_init(&q, "events", "app_events", 0);
            long bad = rejected ? mdp__events_check(lines.data, lines.len, &q, rejected, n) : 0;
            /* every quarantined event is marked, and no more */
            long marked = 0;
            for (size_t i = 0; rejected && i < n; i++)
                marked += rejected[i];
            if (bad < 0 || marked != bad || bad != q.count) __builtin_trap();
            mdp_quarantine_cleanup(&q);
            free(rejected);
        } else if (!why) {
            __builtin_trap(); /* a refusal says why */
        }
        mdp_buf_cleanup(&lines);
    }
    json_object *o = mdp__parse_json(p, size, &why);
    if (o && json_object_is_type(o, json_type_object)) {
        struct mdp_buf out;
        mdp_buf_init(&out);
        int st = mdp__personalize(&pz, o, &out);
        if (st < 200 || st > 599 || !out.data || out.data[0] != '{') __builtin_trap();
        st = mdp__feedback(&pz, o, NULL, &out);
        if (st < 200 || st > 599 || !out.data || out.data[0] != '{') __builtin_trap();
        /* the input's first bytes as an Idempotency-Key (often not a valid one) */
        char key[17];
        snprintf(key, sizeof key, "%.*s", (int)(size < 16 ? size : 16), (const char *)p);
        st = mdp__feedback(&pz, o, key, &out);
        if (st < 200 || st > 599 || !out.data || out.data[0] != '{') __builtin_trap();
        mdp_buf_cleanup(&out);
        /* as an SNS envelope: the day of its SES message (any day; it must not crash) */
        (void)mdp__sns_event_day(o, 0);
    }
    json_object_put(o);
    return 0;
}
