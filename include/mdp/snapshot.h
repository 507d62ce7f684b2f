/* The serving snapshot: the latest segments and features of every user in one compact file that
 * the personalization service maps into memory (no parsing: open + mmap + header check, so a
 * million users load in milliseconds) and searches by user id.
 *
 * Layout (little-endian, all offsets from the start of the file):
 *   header  64 bytes: magic "MDPSNAP1", version, record size, record count, snapshot date (days
 *           since epoch), string count, offset of the string table, offset of the records
 *   strings string count x 32 bytes, NUL-padded (personas and tones; index 0xFFFF = none)
 *   records count x sizeof(struct mdp_snapshot_rec), sorted by user_id (bytewise)
 * Published as the lake table serving/user_context (one file per version, atomically). */
#ifndef MDP_SNAPSHOT_H
#define MDP_SNAPSHOT_H
#include <stdint.h>
#include "mdp/err.h"

#define MDP_SNAPSHOT_TABLE "serving/user_context"
#define MDP_SNAPSHOT_NONE  0xFFFF /* no string */
#define MDP_SNAPSHOT_NULL  INT16_MIN

enum { MDP_ENG_LOW = 0, MDP_ENG_MEDIUM = 1, MDP_ENG_HIGH = 2 };
enum { MDP_CS_UNVERIFIED = 0, MDP_CS_EMAIL_ONLY = 1, MDP_CS_MARKETING = 2 };
enum {
    MDP_SNAP_PERSONALIZATION = 1, /* valid personalization consent as of the snapshot date */
    MDP_SNAP_ML = 2,              /* valid ml consent */
    MDP_SNAP_FEATURES = 4,        /* the feature fields are set (the user has an ml row) */
    MDP_SNAP_ACTIVE = 8,          /* the user has a segment row (active as of the date) */
    MDP_SNAP_ANALYTICS = 16       /* valid analytics consent: engagement may be used */
};

struct mdp_snapshot_rec {
    uint8_t user_id[16];
    int16_t onb_day;
    uint8_t onb_bucket;    /* 0: 0, 1: 1-3, 2: 4-7, 3: 8-14, 4: 15+ */
    uint8_t engagement;    /* MDP_ENG_* */
    uint8_t consent_state; /* MDP_CS_* */
    uint8_t flags;         /* MDP_SNAP_* */
    uint16_t persona;      /* string index or MDP_SNAPSHOT_NONE */
    uint16_t tone;         /* string index or MDP_SNAPSHOT_NONE */
    uint16_t steps_completed_7d, steps_completed_30d;
    uint16_t email_opens_7d, email_clicks_7d, email_opens_30d, email_clicks_30d;
    uint16_t login_count_30d;
    int16_t vc_score_delta_7d;      /* MDP_SNAPSHOT_NULL when unknown */
    int16_t last_activity_days_ago; /* MDP_SNAPSHOT_NULL when unknown */
    int32_t avg_step_centiseconds;  /* avg_step_duration_seconds x 100, -1 when unknown */
};

struct mdp_snapshot;
/* Maps the snapshot file at path and checks its header, its size and the order of its records.
 * *out (NULL on failure) is freed by the caller with mdp_snapshot_close; every record and string
 * it hands out lives in the mapping (lifetime: until mdp_snapshot_close). Read-only once open: any
 * number of threads may read one snapshot. Returns 0, MDP_ERR_IO (cannot open or map),
 * MDP_ERR_PARSE (too short, bad header or size, records not sorted), MDP_ERR_NOMEM, with d. */
int mdp_snapshot_open(const char *path, struct mdp_snapshot **out, struct mdp_diag *d);
struct mdp_lake;
/* Opens the current snapshot of lake (the file its serving/user_context manifest names) as
 * mdp_snapshot_open does; *out is freed by the caller with mdp_snapshot_close. Returns 0,
 * MDP_ERR_NOT_FOUND (no snapshot published yet), MDP_ERR_PARSE (a manifest without exactly one
 * file, or a bad file), MDP_ERR_UNSUPPORTED (a store without local paths), MDP_ERR_IO,
 * MDP_ERR_NOMEM, with d. */
int mdp_snapshot_open_lake(struct mdp_lake *lake, struct mdp_snapshot **out, struct mdp_diag *d);
/* Unmaps and frees s (NULL is fine); records and strings it handed out become invalid. */
void mdp_snapshot_close(struct mdp_snapshot *s);
/* Returns the number of records. */
int64_t mdp_snapshot_count(const struct mdp_snapshot *s);
/* Returns the snapshot's date (days since epoch). */
int64_t mdp_snapshot_day(const struct mdp_snapshot *s);
/* Returns the i-th record (0 <= i < count), in user_id order, or NULL when i is out of range;
 * owned by s (in its mapping). */
const struct mdp_snapshot_rec *mdp_snapshot_at(const struct mdp_snapshot *s, int64_t i);
/* Binary search by the 16 bytes of a user id: returns the record, owned by s (in its mapping), or
 * NULL when absent. */
const struct mdp_snapshot_rec *mdp_snapshot_find(const struct mdp_snapshot *s,
                                                 const uint8_t user_id[16]);
/* Returns a string of the table, owned by s (in its mapping), or NULL for MDP_SNAPSHOT_NONE, out
 * of range or a slot that is not NUL-terminated. */
const char *mdp_snapshot_string(const struct mdp_snapshot *s, uint16_t idx);
/* Returns the text of an onboarding bucket code ("0", "1-3", ... "15+"): a static string, or NULL
 * for an unknown code. */
const char *mdp_snapshot_bucket_name(int code);
/* Returns the text of an MDP_ENG_* code ("low", "medium", "high"): a static string, or NULL. */
const char *mdp_snapshot_engagement_name(int code);
/* Returns the text of an MDP_CS_* code ("unverified", "email_only", "marketing_opted_in"): a
 * static string, or NULL. */
const char *mdp_snapshot_consent_name(int code);

/* Writing (the features job): records in any order, strings by index. _bytes sorts the records and
 * fills out with the whole file. */
struct mdp_snapshot_writer {
    struct mdp_snapshot_rec *v;
    size_t n, cap;
    char (*strings)[32];
    size_t nstrings;
};
/* Makes w, the caller's storage, an empty writer; allocates nothing. Release with
 * mdp_snapshot_writer_cleanup. */
void mdp_snapshot_writer_init(struct mdp_snapshot_writer *w);
/* Returns the index of string s (copied into w when new); MDP_SNAPSHOT_NONE for NULL, a string of
 * 32 bytes or more, a full table, or out of memory (the field then reads as none). */
uint16_t mdp_snapshot_writer_string(struct mdp_snapshot_writer *w, const char *s);
/* Adds a copy of *r. Returns 0 or MDP_ERR_NOMEM (w unchanged). */
int mdp_snapshot_writer_add(struct mdp_snapshot_writer *w, const struct mdp_snapshot_rec *r);
struct mdp_buf;
/* Sorts w's records by user_id and puts the whole file, dated day, into out, the caller's buffer
 * (reset and filled; freed with mdp_buf_cleanup). Returns 0 or MDP_ERR_NOMEM. */
int mdp_snapshot_writer_bytes(struct mdp_snapshot_writer *w, int64_t day, struct mdp_buf *out);
/* Frees what w owns and empties it; w itself is the caller's storage. */
void mdp_snapshot_writer_cleanup(struct mdp_snapshot_writer *w);

#endif
