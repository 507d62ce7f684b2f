/* Fuzz target: the manifest reader (mdp_lake_current: a table's CURRENT pointer, then the manifest
 * it names), which every job and query goes through. Each input is read twice on a file lake: as
 * the manifest CURRENT points to, and as CURRENT itself in front of a valid manifest. Checked: no
 * crash or leak, a refusal comes with a message, and a manifest that is taken lists only files
 * whose keys stay inside the lake (a store key: no "..", no absolute path). */
#include "mdp/lake.h"
#include "mdp/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TABLE "curated/facts/fact_fuzz"
#define PTR   "_meta/manifests/" TABLE "/CURRENT"
#define MAN   "_meta/manifests/" TABLE "/v0000000001.json"

static struct mdp_lake *lake;
static char dir[64];

static void close_lake(void)
{
    mdp_lake_close(lake);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) return;
}

static void read_once(const char *ptr, size_t pn, const char *man, size_t mn)
{
    struct mdp_diag d = {0};
    if (mdp_store_put(lake->store, PTR, ptr, pn, 0, &d) ||
        mdp_store_put(lake->store, MAN, man, mn, 0, &d))
        return;
    struct mdp_manifest m;
    d = (struct mdp_diag){0};
    if (mdp_lake_current(lake, TABLE, &m, &d) == 0) {
        for (size_t i = 0; i < m.nfiles; i++)
            if (!mdp_store_key_valid(m.files[i].key)) __builtin_trap();
        mdp_manifest_cleanup(&m);
    } else if (!d.msg[0]) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!lake) {
        snprintf(dir, sizeof dir, "/tmp/mdp-fuzz-manifest-%ld", (long)getpid());
        struct mdp_diag d = {0};
        if (mdp_lake_open(dir, 1, &lake, &d)) return 0;
        atexit(close_lake);
    }
    static const char good[] = "{\"table\":\"" TABLE "\",\"version\":1,\"run_id\":\"r\","
                               "\"files\":[{\"key\":\"" TABLE "/run-r/part_0.parquet\","
                               "\"bytes\":10,\"rows\":1,\"sha256\":\"00\"}]}";
    read_once("v0000000001", 11, (const char *)data, size);
    read_once((const char *)data, size, good, sizeof good - 1);
    return 0;
}
