/* The serving snapshot (include/mdp/snapshot.h): written by the features job, mapped by the
 * personalization service. */
#include "mdp/snapshot.h"
#include "mdp/buf.h"
#include "mdp/lake.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(struct mdp_snapshot_rec) == 48, "snapshot records are 48 bytes");

#define MAGIC       "MDPSNAP1"
#define VERSION     1
#define HEADER_SIZE 64

struct header {
    char magic[8];
    uint32_t version, rec_size;
    uint64_t count;
    int64_t day;
    uint64_t nstrings, strings_off, records_off;
    uint8_t pad[8];
};
_Static_assert(sizeof(struct header) == HEADER_SIZE, "the header is 64 bytes");

struct mdp_snapshot {
    void *map;
    size_t len;
    const struct header *h;
    const char (*strings)[32];
    const struct mdp_snapshot_rec *recs;
};

int mdp_snapshot_open(const char *path, struct mdp_snapshot **out, struct mdp_diag *d)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mdp_diag_set(d, MDP_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || st.st_size < HEADER_SIZE) {
        close(fd);
        return mdp_diag_set(d, MDP_ERR_PARSE, "%s: not a serving snapshot (too short)", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return mdp_diag_set(d, MDP_ERR_IO, "%s: mmap: %s", path, strerror(errno));
    const struct header *h = map;
    size_t len = (size_t)st.st_size;
    int ok = memcmp(h->magic, MAGIC, 8) == 0 && h->version == VERSION &&
             h->rec_size == sizeof(struct mdp_snapshot_rec) && h->nstrings <= 0xFFFF &&
             h->strings_off == HEADER_SIZE && h->records_off == HEADER_SIZE + h->nstrings * 32 &&
             h->records_off <= len &&
             h->count <= (len - h->records_off) / sizeof(struct mdp_snapshot_rec) &&
             h->records_off + h->count * sizeof(struct mdp_snapshot_rec) == len;
    if (!ok) {
        munmap(map, len);
        return mdp_diag_set(d, MDP_ERR_PARSE,
                            "%s: not a serving snapshot of version %d (bad header or size)", path,
                            VERSION);
    }
    const struct mdp_snapshot_rec *recs =
        ok ? (const struct mdp_snapshot_rec *)((const char *)map + h->records_off) : NULL;
    for (uint64_t i = 1; ok && i < h->count; i++)
        ok = memcmp(recs[i - 1].user_id, recs[i].user_id, 16) <= 0;
    if (!ok) {
        munmap(map, len);
        return mdp_diag_set(d, MDP_ERR_PARSE, "%s: the records are not sorted by user_id", path);
    }
    struct mdp_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        munmap(map, len);
        return mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory");
    }
    s->map = map;
    s->len = len;
    s->h = h;
    s->strings = (const char(*)[32])((const char *)map + h->strings_off);
    s->recs = (const struct mdp_snapshot_rec *)((const char *)map + h->records_off);
    *out = s;
    return 0;
}

int mdp_snapshot_open_lake(struct mdp_lake *lake, struct mdp_snapshot **out, struct mdp_diag *d)
{
    struct mdp_manifest m;
    int rc = mdp_lake_current(lake, MDP_SNAPSHOT_TABLE, &m, d);
    if (rc == MDP_ERR_NOT_FOUND)
        return mdp_diag_set(d, rc, "no serving snapshot yet: run `mdp features`");
    if (rc) return rc;
    struct mdp_buf path;
    mdp_buf_init(&path);
    if (m.nfiles != 1)
        rc = mdp_diag_set(d, MDP_ERR_PARSE, "%s: the manifest holds %zu files, not one",
                          MDP_SNAPSHOT_TABLE, m.nfiles);
    else if ((rc = mdp_store_local_path(lake->store, m.files[0].key, &path)))
        mdp_diag_set(d, rc, "the lake's store has no local paths");
    else if (!(rc = mdp_store_stage_object(lake->store, m.files[0].key, m.files[0].bytes, d)))
        rc = mdp_snapshot_open(path.data, out, d);
    mdp_buf_cleanup(&path);
    mdp_manifest_cleanup(&m);
    return rc;
}

void mdp_snapshot_close(struct mdp_snapshot *s)
{
    if (!s) return;
    munmap(s->map, s->len);
    free(s);
}

int64_t mdp_snapshot_count(const struct mdp_snapshot *s)
{
    return (int64_t)s->h->count;
}

int64_t mdp_snapshot_day(const struct mdp_snapshot *s)
{
    return s->h->day;
}

const struct mdp_snapshot_rec *mdp_snapshot_at(const struct mdp_snapshot *s, int64_t i)
{
    return i >= 0 && (uint64_t)i < s->h->count ? &s->recs[i] : NULL;
}

/* the 8 bytes at p as a big-endian number (their memcmp order) */
static uint64_t be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return be64toh(v);
}

const struct mdp_snapshot_rec *mdp_snapshot_find(const struct mdp_snapshot *s,
                                                 const uint8_t user_id[16])
{
    /* the ids are sorted as bytes (memcmp): compared as two big-endian 64-bit halves, inline (a
     * lookup is on every personalize request) */
    uint64_t khi = be64(user_id), klo = be64(user_id + 8);
    size_t lo = 0, hi = s->h->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const uint8_t *m = s->recs[mid].user_id;
        uint64_t mhi = be64(m), mlo = be64(m + 8);
        if (mhi == khi && mlo == klo) return &s->recs[mid];
        if (mhi < khi || (mhi == khi && mlo < klo))
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *mdp_snapshot_string(const struct mdp_snapshot *s, uint16_t idx)
{
    if (idx == MDP_SNAPSHOT_NONE || idx >= s->h->nstrings) return NULL;
    /* the writer NUL-pads; a damaged table must not run off its slot */
    return memchr(s->strings[idx], '\0', 32) ? s->strings[idx] : NULL;
}

const char *mdp_snapshot_bucket_name(int code)
{
    static const char *const names[] = {"0", "1-3", "4-7", "8-14", "15+"};
    return code >= 0 && code < 5 ? names[code] : NULL;
}

const char *mdp_snapshot_engagement_name(int code)
{
    static const char *const names[] = {"low", "medium", "high"};
    return code >= 0 && code < 3 ? names[code] : NULL;
}

const char *mdp_snapshot_consent_name(int code)
{
    static const char *const names[] = {"unverified", "email_only", "marketing_opted_in"};
    return code >= 0 && code < 3 ? names[code] : NULL;
}

/* ---- writing ---- */

void mdp_snapshot_writer_init(struct mdp_snapshot_writer *w)
{
    memset(w, 0, sizeof *w);
}

uint16_t mdp_snapshot_writer_string(struct mdp_snapshot_writer *w, const char *s)
{
    if (!s || strlen(s) >= 32) return MDP_SNAPSHOT_NONE;
    for (size_t i = 0; i < w->nstrings; i++)
        if (strcmp(w->strings[i], s) == 0) return (uint16_t)i;
    if (w->nstrings >= MDP_SNAPSHOT_NONE) return MDP_SNAPSHOT_NONE;
    char(*nv)[32] = realloc(w->strings, (w->nstrings + 1) * sizeof *nv);
    if (!nv) return MDP_SNAPSHOT_NONE;
    w->strings = nv;
    memset(nv[w->nstrings], 0, 32);
    memcpy(nv[w->nstrings], s, strlen(s));
    return (uint16_t)w->nstrings++;
}

int mdp_snapshot_writer_add(struct mdp_snapshot_writer *w, const struct mdp_snapshot_rec *r)
{
    if (mdp_grow(&w->v, &w->cap, w->n, sizeof *w->v, 1024)) return MDP_ERR_NOMEM;
    w->v[w->n++] = *r;
    return 0;
}

static int by_user(const void *a, const void *b)
{
    return memcmp(((const struct mdp_snapshot_rec *)a)->user_id,
                  ((const struct mdp_snapshot_rec *)b)->user_id, 16);
}

int mdp_snapshot_writer_bytes(struct mdp_snapshot_writer *w, int64_t day, struct mdp_buf *out)
{
    if (w->n) qsort(w->v, w->n, sizeof *w->v, by_user);
    struct header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, 8);
    h.version = VERSION;
    h.rec_size = sizeof(struct mdp_snapshot_rec);
    h.count = w->n;
    h.day = day;
    h.nstrings = w->nstrings;
    h.strings_off = HEADER_SIZE;
    h.records_off = HEADER_SIZE + w->nstrings * 32;
    mdp_buf_reset(out);
    int rc = mdp_buf_append(out, &h, sizeof h);
    if (!rc && w->nstrings) rc = mdp_buf_append(out, w->strings, w->nstrings * 32);
    if (!rc && w->n) rc = mdp_buf_append(out, w->v, w->n * sizeof *w->v);
    return rc;
}

void mdp_snapshot_writer_cleanup(struct mdp_snapshot_writer *w)
{
    free(w->v);
    free(w->strings);
    memset(w, 0, sizeof *w);
}
