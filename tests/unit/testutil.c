/* Test helpers (testutil.h). */
#define _XOPEN_SOURCE 700
#include "testutil.h"
#include "mdp/config.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/mdp-test-XXXXXX", base && *base ? base : "/tmp");
    char *p = mkdtemp(tmpl);
    return p ? strdup(p) : NULL;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmdir(char *path)
{
    if (!path) return;
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(path);
}

char *tu_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return b;
}

int tu_write(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

const char *tu_data(const char *rel)
{
    static char buf[1024];
    const char *base = getenv("MDP_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", base ? base : "tests/data", rel);
    return buf;
}

void tu_lake_config(const char *dir, struct mdp_config *cfg, char *landing, size_t n)
{
    snprintf(landing, n, "%s/landing", dir);
    assert_int_equal(mdp_config_defaults(cfg), 0);
    free(cfg->lake_dir);
    cfg->lake_dir = strdup(dir);
    free(cfg->landing_dir);
    cfg->landing_dir = strdup(landing);
}
