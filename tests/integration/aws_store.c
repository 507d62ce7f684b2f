/* The s3:// store against a real S3 API (moto with SigV4 enforced, or AWS), driven by aws.sh, with
 * boto3 as the independent checker. Subcommands (URL is s3://BUCKET/PREFIX; the AWS settings come
 * from the environment and aws.* defaults, path-style addressing):
 *   basic URL          put/get/head/list/delete contract, keys with '=' and spaces, conditional
 *                      put, listing past 1,000 keys (continuation); prints "ok" lines
 *   race URL KEY N     N processes put KEY with If-None-Match at once; prints the winner count
 *   upload URL KEY MB  streams MB MiB (a deterministic pattern) through the multipart writer in
 *                      64 KiB writes; prints "sha256 HEX" and "maxrss_kb N"; exit 1 with the
 *                      message when the upload fails
 *   orphans URL        lists and removes unfinished multipart uploads; prints their count
 * Exit 0 when everything held, 1 with a "FAIL: ..." line otherwise. */
#include "mdp/aws.h"
#include "mdp/config.h"
#include "mdp/store.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int fails;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL: " __VA_ARGS__);                                                          \
            printf("\n");                                                                          \
            fails++;                                                                               \
        }                                                                                          \
    } while (0)

/* The process-wide AWS settings the store uses: the defaults, path-style for moto, short
 * backoffs, and MDP_TEST_KMS_KEY_CONFIGURED as aws.kms_key_id when set. */
static int configure(void)
{
    struct mdp_config cfg;
    struct mdp_diag d = {0};
    if (mdp_config_defaults(&cfg)) return 1;
    const char *kms = getenv("MDP_TEST_KMS_KEY_CONFIGURED");
    free(cfg.aws_s3_addressing);
    cfg.aws_s3_addressing = strdup("path");
    if (kms) {
        free(cfg.aws_kms_key_id);
        cfg.aws_kms_key_id = strdup(kms);
    }
    cfg.aws_retry_base_ms = 20;
    int rc = mdp_aws_configure(&cfg, &d);
    mdp_config_cleanup(&cfg);
    if (rc) printf("FAIL: configure: %s\n", d.msg);
    return rc;
}

static int open_store(const char *url, struct mdp_store **st)
{
    struct mdp_diag d = {0};
    int rc = mdp_store_open(url, 0, st, &d);
    if (rc) printf("FAIL: open %s: %s\n", url, d.msg);
    return rc;
}

struct count {
    int n;
    char first[256], last[256];
};

static int count_cb(const char *key, int64_t size, void *ud)
{
    struct count *c = ud;
    if (!c->n++) snprintf(c->first, sizeof c->first, "%s", key);
    snprintf(c->last, sizeof c->last, "%s", key);
    return 0;
}

static int cmd_basic(const char *url)
{
    struct mdp_store *st;
    if (open_store(url, &st)) return 1;
    struct mdp_diag d = {0};
    struct mdp_buf b;
    mdp_buf_init(&b);
    const char *key = "raw/x/dt=2026-10-01/a b+c~d.json";
    CHECK(mdp_store_put(st, key, "{\"a\":1}\n", 8, 0, &d) == 0, "put: %s", d.msg);
    CHECK(mdp_store_get(st, key, &b, &d) == 0 && b.len == 8 && !memcmp(b.data, "{\"a\":1}\n", 8),
          "get: %s", d.msg);
    int64_t size = -1;
    CHECK(mdp_store_head(st, key, &size, &d) == 0 && size == 8, "head: %s", d.msg);
    CHECK(mdp_store_head(st, "raw/none", &size, &d) == MDP_ERR_NOT_FOUND, "head of a missing key");
    CHECK(mdp_store_get(st, "raw/none", &b, &d) == MDP_ERR_NOT_FOUND, "get of a missing key");
    CHECK(mdp_store_put(st, "m/v1.json", "one", 3, MDP_PUT_IF_ABSENT, &d) == 0, "cond put: %s",
          d.msg);
    CHECK(mdp_store_put(st, "m/v1.json", "two", 3, MDP_PUT_IF_ABSENT, &d) == MDP_ERR_EXISTS,
          "second conditional put must lose");
    CHECK(mdp_store_get(st, "m/v1.json", &b, &d) == 0 && b.len == 3 && !memcmp(b.data, "one", 3),
          "the first conditional put's bytes stay");
    CHECK(mdp_store_put(st, "empty.txt", "", 0, 0, &d) == 0, "empty put: %s", d.msg);
    CHECK(mdp_store_get(st, "empty.txt", &b, &d) == 0 && b.len == 0, "empty get: %s", d.msg);
    /* a listing past one page */
    char k[64];
    int n = 1001;
    for (int i = 0; i < n && !fails; i++) {
        snprintf(k, sizeof k, "many/k=%04d", i);
        CHECK(mdp_store_put(st, k, "x", 1, 0, &d) == 0, "put %s: %s", k, d.msg);
    }
    struct count c = {0};
    CHECK(mdp_store_list(st, "many/", count_cb, &c, &d) == 0, "list: %s", d.msg);
    CHECK(c.n == n && !strcmp(c.first, "many/k=0000") && !strcmp(c.last, "many/k=1000"),
          "list saw %d keys (%s .. %s), want %d", c.n, c.first, c.last, n);
    CHECK(mdp_store_delete(st, "empty.txt", &d) == 0, "delete: %s", d.msg);
    CHECK(mdp_store_delete(st, "empty.txt", &d) == MDP_ERR_NOT_FOUND, "delete of a missing key");
    mdp_buf_cleanup(&b);
    mdp_store_close(st);
    if (!fails) printf("ok basic\n");
    return fails ? 1 : 0;
}

static int cmd_race(const char *url, const char *key, int n)
{
    int winners = 0, losers = 0;
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) {
            struct mdp_store *st;
            if (open_store(url, &st)) _exit(3);
            char body[64];
            snprintf(body, sizeof body, "publisher %d\n", i);
            struct mdp_diag d = {0};
            int rc = mdp_store_put(st, key, body, strlen(body), MDP_PUT_IF_ABSENT, &d);
            if (rc && rc != MDP_ERR_EXISTS)
                printf("publisher %d: %s\n", i, d.msg);
            else if (rc)
                printf("publisher %d lost: %s\n", i, d.msg);
            mdp_store_close(st);
            fflush(stdout);
            _exit(rc == 0 ? 0 : rc == MDP_ERR_EXISTS ? 1 : 2);
        }
    }
    int status;
    while (wait(&status) > 0) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            winners++;
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
            losers++;
    }
    printf("winners %d losers %d\n", winners, losers);
    return winners == 1 && losers == n - 1 ? 0 : 1;
}

static int cmd_upload(const char *url, const char *key, long mb)
{
    struct mdp_store *st;
    if (open_store(url, &st)) return 1;
    struct mdp_diag d = {0};
    struct mdp_store_writer *w;
    if (mdp_store_writer_open(st, key, &w, &d)) {
        printf("FAIL: writer: %s\n", d.msg);
        return 1;
    }
    static unsigned char chunk[64 << 10];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    int rc = 0;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (long i = 0; i < mb * 16 && !rc; i++) {
        for (size_t j = 0; j < sizeof chunk; j += 8) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            memcpy(chunk + j, &x, 8);
        }
        EVP_DigestUpdate(ctx, chunk, sizeof chunk);
        rc = w->write(w, chunk, sizeof chunk, &d);
    }
    if (rc)
        w->abort(w);
    else
        rc = w->commit(w, &d);
    unsigned char md[32];
    unsigned int mdl = 0;
    EVP_DigestFinal_ex(ctx, md, &mdl);
    EVP_MD_CTX_free(ctx);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    mdp_store_close(st);
    if (rc) {
        printf("upload failed: %s\n", d.msg);
        return 1;
    }
    printf("sha256 ");
    for (unsigned i = 0; i < mdl; i++)
        printf("%02x", md[i]);
    printf("\nmaxrss_kb %ld\n", ru.ru_maxrss);
    return 0;
}

static int orphan_cb(const char *name, int64_t size, int64_t mtime_ms, void *ud)
{
    (*(int *)ud)++;
    return 0;
}

static int cmd_orphans(const char *url)
{
    struct mdp_store *st;
    if (open_store(url, &st)) return 1;
    struct mdp_diag d = {0};
    int n = 0;
    int rc = mdp_store_orphans(st, INT64_MAX, 1, orphan_cb, &n, &d);
    mdp_store_close(st);
    if (rc)
        printf("FAIL: orphans: %s\n", d.msg);
    else
        printf("orphans %d\n", n);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (argc < 3) {
        fprintf(stderr, "usage: aws_store basic|race|upload|orphans URL ...\n");
        return 2;
    }
    if (configure()) return 1;
    if (!strcmp(argv[1], "basic")) return cmd_basic(argv[2]);
    if (!strcmp(argv[1], "race") && argc == 5) return cmd_race(argv[2], argv[3], atoi(argv[4]));
    if (!strcmp(argv[1], "upload") && argc == 5) return cmd_upload(argv[2], argv[3], atol(argv[4]));
    if (!strcmp(argv[1], "orphans")) return cmd_orphans(argv[2]);
    fprintf(stderr, "usage: aws_store basic|race|upload|orphans URL ...\n");
    return 2;
}
