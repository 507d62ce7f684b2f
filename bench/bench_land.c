/* Benchmark: throughput of the land stage's structural checks on seeded deliveries, as a ratio to
 * the baseline of parsing the same records with json-c alone (what any validating reader pays:
 * NDJSON split into lines, Firehose objects read value after value, one tokener reused). A ratio
 * near 1 means the checks add little beyond parsing. Times are CPU times of this process, so that
 * other work on shared cores does not count; best of 5 (QUICK=1: 500 users, best of 3). With
 * MDP_BENCH_SUMMARY set, the ratio is appended there (benchlib.h). Also reports seed throughput.
 * Run by `make bench`; never part of the tests. */
#include "benchlib.h"
#include "mdp/lake.h"
#include "mdp/ingest.h"
#include "mdp/pipeline.h"
#include "mdp/seed.h"
#include "mdp/store.h"
#include "mdp/time.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct file {
    char *key;
    struct mdp_buf data;
};

struct files {
    struct mdp_store *s;
    struct file v[20000];
    int n;
    size_t bytes;
};

static int keep(const char *key, int64_t size, void *ud)
{
    (void)size;
    struct files *f = ud;
    if (f->n >= 20000) return 0;
    if (strncmp(key, "events/", 7) != 0 && strncmp(key, "dynamodb/", 9) != 0) return 0;
    struct file *x = &f->v[f->n++];
    x->key = strdup(key);
    mdp_buf_init(&x->data);
    struct mdp_diag d = {0};
    mdp_store_get(f->s, key, &x->data, &d);
    f->bytes += x->data.len;
    return 0;
}

/* baseline: parse every record with json-c, nothing else: an NDJSON delivery line by line, a
 * Firehose object value after value (a gzip'd one inflated first: any reader must), one tokener
 * for all */
static long baseline(struct files *f)
{
    long n = 0;
    json_tokener *tok = json_tokener_new_ex(64);
    struct mdp_buf plain;
    mdp_buf_init(&plain);
    for (int i = 0; i < f->n; i++) {
        const char *p = f->v[i].data.data, *end = p + f->v[i].data.len;
        if (mdp_gzip_magic(p, f->v[i].data.len)) {
            mdp_buf_reset(&plain);
            mdp_buf_gunzip(&plain, p, f->v[i].data.len);
            p = plain.data ? plain.data : "";
            end = p + plain.len;
        }
        int lines = strncmp(f->v[i].key, "events/", 7) == 0;
        while (p < end) {
            if (lines) {
                const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
                if (e > p) {
                    json_tokener_reset(tok);
                    json_object_put(json_tokener_parse_ex(tok, p, (int)(e - p)));
                    n++;
                }
                p = e + 1;
                continue;
            }
            while (p < end && (*p == '\n' || *p == ' '))
                p++;
            if (p >= end) break;
            json_tokener_reset(tok);
            json_object *o = json_tokener_parse_ex(tok, p, (int)(end - p));
            size_t used = json_tokener_get_parse_end(tok);
            if (!o || !used) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                p = nl ? nl + 1 : end;
            } else {
                p += used;
            }
            json_object_put(o);
            n++;
        }
    }
    json_tokener_free(tok);
    mdp_buf_cleanup(&plain);
    return n;
}

static long checks(struct files *f)
{
    long n = 0;
    for (int i = 0; i < f->n; i++) {
        struct mdp_ingest_counts c;
        memset(&c, 0, sizeof c);
        struct mdp_quarantine q;
        mdp_quarantine_init(&q, "b", "b", 0);
        mdp_ingest_check(f->v[i].key, f->v[i].data.data, f->v[i].data.len, &c, &q);
        mdp_quarantine_cleanup(&q);
        n += c.in;
    }
    return n;
}

int main(void)
{
    char dir[] = "/tmp/mdp-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    struct mdp_store *s;
    struct mdp_diag d = {0};
    if (mdp_store_open(dir, 1, &s, &d)) return 1;
    const int quick = bench_quick(), reps = quick ? 3 : 5;
    struct mdp_seed_opts o = {quick ? 500 : 2000, 30, 42, 0.01, 20362, "495696125",
                              "Europe/Berlin",    0,  0};
    struct mdp_seed_stats st;
    double t0 = bench_now_s(); /* the seed's wall time */
    if (mdp_seed_generate(&o, s, &st, &d)) {
        fprintf(stderr, "seed: %s\n", d.msg);
        return 1;
    }
    double t_seed = bench_now_s() - t0;
    printf("seed: %lld files, %.1f MiB in %.2f s (%.1f MiB/s)\n", (long long)st.files,
           st.bytes / 1048576.0, t_seed, st.bytes / 1048576.0 / t_seed);
    static struct files f;
    f.s = s;
    mdp_store_list(s, "", keep, &f, &d);
    double best_base = 1e9, best_check = 1e9;
    long nb = 0, nc = 0;
    for (int rep = 0; rep < reps; rep++) {
        t0 = now_s();
        nb = baseline(&f);
        double tb = now_s() - t0;
        t0 = now_s();
        nc = checks(&f);
        double tc = now_s() - t0;
        if (tb < best_base) best_base = tb;
        if (tc < best_check) best_check = tc;
    }
    double mib = f.bytes / 1048576.0;
    printf("land checks: %ld records, %.1f MiB: %.1f MiB/s (best of %d, CPU time)\n", nc, mib,
           mib / best_check, reps);
    printf("baseline json-c parse: %ld records: %.1f MiB/s\n", nb, mib / best_base);
    printf("ratio land checks / json-c parse time: %.2f\n", best_check / best_base);
    bench_summary("land checks", "MiB/s", mib / best_check, mib / best_base, best_check / best_base,
                  "<= 1.2", best_check / best_base <= 1.2);
    for (int i = 0; i < f.n; i++) {
        free(f.v[i].key);
        mdp_buf_cleanup(&f.v[i].data);
    }
    mdp_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
