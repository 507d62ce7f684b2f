/* Fuzz target: the compaction records vacuum keeps in _meta/state/vacuum/compacted/ and reads back
 * to finish an interrupted compaction. Whatever a record says (a lie about which parts an object
 * holds, keys outside its folder, garbage), vacuum must never lose a line: afterwards every line
 * the raw folder held is still in it. The lake: three small objects of a closed day and one daily
 * object holding the first two (the state a crash leaves). */
#include "mdp/lake.h"
#include "mdp/store.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void rm_tree(const char *path)
{
    DIR *dh = opendir(path);
    if (dh) {
        struct dirent *de;
        while ((de = readdir(dh))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            rm_tree(sub);
        }
        closedir(dh);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int cat_cb(const char *key, int64_t size, void *ud)
{
    (void)size;
    void **a = ud;
    struct mdp_buf one;
    struct mdp_diag d = {0};
    mdp_buf_init(&one);
    if (mdp_store_get(a[0], key, &one, &d) == 0) mdp_buf_append(a[1], one.data, one.len);
    mdp_buf_cleanup(&one);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const LINES[] = {"{\"e\":1}\n", "{\"e\":2}\n", "{\"e\":3}\n", "{\"e\":4}\n"};
    char dir[] = "/tmp/fuzz-vacuum-XXXXXX";
    if (!mkdtemp(dir)) return 0;
    struct mdp_lake *lake = NULL;
    struct mdp_diag d = {0};
    struct mdp_buf all;
    mdp_buf_init(&all);
    if (mdp_lake_open(dir, 1, &lake, &d)) goto out;
    const int64_t day = 20362; /* 2025-10-01 */
    char both[64];
    snprintf(both, sizeof both, "%s%s", LINES[0], LINES[1]);
    const char *bodies[] = {LINES[0], LINES[1], LINES[2], both, LINES[3]};
    for (int i = 0; i < 5; i++)
        if (mdp_lake_raw_put(lake, i < 4 ? "events" : "serve", i < 4 ? "app_events" : "decisions",
                             day, bodies[i], strlen(bodies[i]), "ndjson", NULL, NULL, &d))
            goto out;
    if (mdp_store_put(lake->store,
                      "_meta/state/vacuum/compacted/events/app_events/dt=2025-10-01/f.txt", data,
                      size, 0, &d))
        goto out;
    struct mdp_vacuum_opts o = {0, 0, 0};
    (void)mdp_lake_raw_compacted(lake, "raw/events/app_events/dt=2025-10-01/x.ndjson", NULL, &d);
    (void)mdp_lake_vacuum(lake, &o, NULL, NULL, NULL, &d);
    (void)mdp_lake_vacuum(lake, &o, NULL, NULL, NULL, &d);
    void *ud[2] = {lake->store, &all};
    const char *folders[] = {"raw/events/app_events/dt=2025-10-01/", "raw/serve/decisions/"};
    for (int f = 0; f < 2; f++)
        mdp_store_list(lake->store, folders[f], cat_cb, ud, &d);
    for (int i = 0; i < 4; i++)
        if (!all.data || !strstr(all.data, LINES[i])) __builtin_trap();
out:
    mdp_buf_cleanup(&all);
    mdp_lake_close(lake);
    rm_tree(dir);
    return 0;
}
