/* Object store: the lake's only way to touch bytes. Keys are relative '/'-separated paths
 * ("raw/ses/sqs/dt=2026-10-01/ab12.json"). Every put is atomic: a reader sees the whole old object
 * or the whole new one, never a part; a crash leaves the old object. MDP_PUT_IF_ABSENT makes the
 * put conditional (S3's If-None-Match: *), which is how manifests are published without a lock.
 * Backends are tables of operations (file:// now; s3:// plugs in with the same contract).
 * A store is not thread-safe for concurrent open/close; operations on one store from many threads
 * are safe when they touch different keys. */
#ifndef MDP_STORE_H
#define MDP_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "mdp/buf.h"
#include "mdp/err.h"

#define MDP_PUT_IF_ABSENT 1
/* Still atomic, but not made durable (no fsync): for data that can be regenerated, such as what
 * `mdp seed` writes, where a crash costs a re-run and fsyncing every small file costs minutes. */
#define MDP_PUT_NO_SYNC 2

struct mdp_store;
struct mdp_store_writer;

/* Called per object in key order; return non-zero to stop (the value is returned by list). */
typedef int (*mdp_store_list_cb)(const char *key, int64_t size, void *ud);
/* As mdp_store_list_cb, with the object's last modification time (ms since the epoch; S3's
 * LastModified). */
typedef int (*mdp_store_list_time_cb)(const char *key, int64_t size, int64_t mtime_ms, void *ud);
/* One version of an object (mdp_store_versions): version_id is the backend's ("null" for an object
 * written before versioning was on), latest 1 for the current version (or the delete marker that
 * hides the object), marker 1 for a delete marker (size 0). All borrowed for the call. */
typedef int (*mdp_store_version_cb)(const char *key, const char *version_id, int64_t size,
                                    int latest, int marker, void *ud);
/* One leftover of a write that never finished (name: where the backend keeps it, for messages). */
typedef int (*mdp_store_orphan_cb)(const char *name, int64_t size, int64_t mtime_ms, void *ud);

struct mdp_store_ops {
    const char *scheme;
    int (*put)(struct mdp_store *s, const char *key, const void *data, size_t len, int flags,
               struct mdp_diag *d);
    int (*get)(struct mdp_store *s, const char *key, struct mdp_buf *out, struct mdp_diag *d);
    int (*head)(struct mdp_store *s, const char *key, int64_t *out_size, struct mdp_diag *d);
    int (*list)(struct mdp_store *s, const char *prefix, mdp_store_list_cb cb, void *ud,
                struct mdp_diag *d);
    int (*del)(struct mdp_store *s, const char *key, struct mdp_diag *d);
    /* Optional (NULL: MDP_ERR_UNSUPPORTED): list with modification times; the sweep of
     * unfinished writes (file: .tmp-* files; S3: incomplete multipart uploads). */
    int (*list_time)(struct mdp_store *s, const char *prefix, mdp_store_list_time_cb cb, void *ud,
                     struct mdp_diag *d);
    int (*orphans)(struct mdp_store *s, int64_t before_ms, int remove, mdp_store_orphan_cb cb,
                   void *ud, struct mdp_diag *d);
    /* Streaming write: open, write chunks, then commit (atomic like put) or abort. */
    int (*writer_open)(struct mdp_store *s, const char *key, struct mdp_store_writer **out,
                       struct mdp_diag *d);
    /* Local path of a key when the backend has one (the engine reads files directly), else NULL. */
    int (*local_path)(struct mdp_store *s, const char *key, struct mdp_buf *out);
    /* Optional (NULL: nothing to do, the local paths are the objects): a backend whose local
     * paths are a cache (S3) copies objects there, and uploads files written there. */
    int (*stage)(struct mdp_store *s, const char *prefix, struct mdp_diag *d);
    /* Optional (NULL: stage the key as a prefix): one object of a known size, not listed first. */
    int (*stage_object)(struct mdp_store *s, const char *key, int64_t bytes, struct mdp_diag *d);
    int (*upload_local)(struct mdp_store *s, const char *prefix, struct mdp_diag *d);
    /* Optional (NULL: the backend keeps no old versions; S3 with versioning does): every version
     * and delete marker of the keys under prefix, one version read, one version deleted. */
    int (*versions)(struct mdp_store *s, const char *prefix, mdp_store_version_cb cb, void *ud,
                    struct mdp_diag *d);
    int (*get_version)(struct mdp_store *s, const char *key, const char *version_id,
                       struct mdp_buf *out, struct mdp_diag *d);
    int (*delete_version)(struct mdp_store *s, const char *key, const char *version_id,
                          struct mdp_diag *d);
    /* Optional (NULL: the local paths are the objects): drops local cached copies under prefix,
     * all of them, or with gone_only those whose object no longer exists. */
    int (*evict)(struct mdp_store *s, const char *prefix, int gone_only, struct mdp_diag *d);
    /* Optional (NULL: MDP_ERR_UNSUPPORTED; a local folder lists its files as cheaply): the
     * folders directly under prefix, as mdp_store_list_dirs sees them. */
    int (*list_dirs)(struct mdp_store *s, const char *prefix, mdp_store_list_cb cb, void *ud,
                     struct mdp_diag *d);
    void (*close)(struct mdp_store *s);
};

struct mdp_store {
    const struct mdp_store_ops *ops;
    void *impl;
};

/* A streaming write of one object: nothing is visible under the key until commit, which is atomic
 * (as mdp_store_put); abort (or a crash) leaves the old object. */
struct mdp_store_writer {
    int (*write)(struct mdp_store_writer *w, const void *p, size_t n, struct mdp_diag *d);
    int (*commit)(struct mdp_store_writer *w, struct mdp_diag *d); /* frees w */
    void (*abort)(struct mdp_store_writer *w);                     /* frees w */
};
/* Starts a streaming write of key. *out (NULL on failure) is owned by the caller until it hands it
 * back: commit and abort both free it, and exactly one of them must be called. Returns 0,
 * MDP_ERR_INVALID (bad key), MDP_ERR_UNSUPPORTED (backend without streaming writes), MDP_ERR_IO /
 * MDP_ERR_NOSPACE / MDP_ERR_PERM, MDP_ERR_NOMEM, with d. */
int mdp_store_writer_open(struct mdp_store *s, const char *key, struct mdp_store_writer **out,
                          struct mdp_diag *d);

/* Opens a store from a URL ("file:///abs/dir", "s3://bucket/prefix") or a plain folder path. The folder is created when
 * create is non-zero. *out (NULL on failure) is freed by the caller with mdp_store_close. Returns
 * 0, MDP_ERR_INVALID (empty url), MDP_ERR_UNSUPPORTED (another scheme), MDP_ERR_NOT_FOUND (no
 * such folder and create is 0), MDP_ERR_IO / MDP_ERR_PERM (not a folder, cannot create or
 * resolve it), MDP_ERR_NOMEM, with the reason in d. */
int mdp_store_open(const char *url, int create, struct mdp_store **out, struct mdp_diag *d);
/* Frees s and everything it holds (NULL is fine). Not while other threads use s. */
void mdp_store_close(struct mdp_store *s);

/* Returns 1 if key is acceptable, else 0: non-empty, shorter than 1024 bytes, relative, no "." or
 * ".." segments, no empty segments, no control characters or backslash, no segment starting with
 * ".tmp-" (reserved for in-flight writes). */
int mdp_store_key_valid(const char *key);

/* Writes len bytes of data (borrowed for the call) as key, atomically; with MDP_PUT_IF_ABSENT only
 * when key does not exist. Returns 0, MDP_ERR_INVALID (bad key), MDP_ERR_EXISTS (IF_ABSENT and the
 * key exists; nothing written), MDP_ERR_IO / MDP_ERR_NOSPACE / MDP_ERR_PERM (the old object
 * stays), MDP_ERR_NOMEM, with d. */
int mdp_store_put(struct mdp_store *s, const char *key, const void *data, size_t len, int flags,
                  struct mdp_diag *d);
/* Reads key into out, the caller's buffer: reset and filled; the caller frees it with
 * mdp_buf_cleanup. Returns 0, MDP_ERR_NOT_FOUND if absent (or a folder), MDP_ERR_INVALID (bad
 * key), MDP_ERR_IO, MDP_ERR_NOMEM, with d. */
int mdp_store_get(struct mdp_store *s, const char *key, struct mdp_buf *out, struct mdp_diag *d);
/* The size of key in *out_size. Returns 0, MDP_ERR_NOT_FOUND if absent, MDP_ERR_INVALID (bad key),
 * MDP_ERR_IO, with d. */
int mdp_store_head(struct mdp_store *s, const char *key, int64_t *out_size, struct mdp_diag *d);
/* Calls cb for every object whose key starts with prefix (NULL or "" for all), in key order; the
 * key is borrowed for the call. In-flight writes are never listed; a missing folder lists nothing.
 * Returns 0, the first non-zero return of cb (which stops the walk), or MDP_ERR_IO / MDP_ERR_NOMEM
 * with d. */
int mdp_store_list(struct mdp_store *s, const char *prefix, mdp_store_list_cb cb, void *ud,
                   struct mdp_diag *d);
/* The folders directly under prefix (which ends in '/'): cb sees each one's key prefix, prefix
 * included and ending in '/', in key order, with size -1; a missing folder lists none. On S3 one
 * delimited listing (a request per 1,000 folders) tells which of many folders hold anything, where
 * listing each would cost a request per folder. Returns as mdp_store_list, or MDP_ERR_UNSUPPORTED
 * (with d) for a backend without it (a file lake: list the folders themselves). */
int mdp_store_list_dirs(struct mdp_store *s, const char *prefix, mdp_store_list_cb cb, void *ud,
                        struct mdp_diag *d);
/* The keys under prefix (as mdp_store_list) that end in suffix ("" or NULL: every key), in key
 * order, appended to the array *keys of *n strings (both may start NULL / 0; the array and its
 * strings are malloc'd, the caller frees them with mdp_store_keys_free, also after an error).
 * Returns 0, or the listing's MDP_ERR_IO / MDP_ERR_NOMEM with d. */
int mdp_store_list_keys(struct mdp_store *s, const char *prefix, const char *suffix, char ***keys,
                        size_t *n, struct mdp_diag *d);
/* Frees what mdp_store_list_keys collected (keys may be NULL). */
void mdp_store_keys_free(char **keys, size_t n);
/* Deletes key. Returns 0, MDP_ERR_NOT_FOUND if absent, MDP_ERR_INVALID (bad key), MDP_ERR_IO /
 * MDP_ERR_PERM, with d. */
int mdp_store_delete(struct mdp_store *s, const char *key, struct mdp_diag *d);
/* As mdp_store_list, with each object's last modification time; returns as it does, or
 * MDP_ERR_UNSUPPORTED when the backend cannot tell. */
int mdp_store_list_time(struct mdp_store *s, const char *prefix, mdp_store_list_time_cb cb,
                        void *ud, struct mdp_diag *d);
/* The leftovers of writes that never finished and were last modified before before_ms: the file
 * backend's temporary files (in <root>/_tmp/, and the .tmp-* files older versions left inside data
 * folders), S3's incomplete multipart uploads. cb (may be NULL) sees each; with remove non-zero
 * each is then removed (an in-flight write touches its leftover, so pass a before_ms well in the
 * past). A non-zero return from cb stops and is returned. Never touches a whole object. Returns 0,
 * cb's value, MDP_ERR_UNSUPPORTED (backend without the sweep), MDP_ERR_IO / MDP_ERR_NOMEM, with
 * d. */
int mdp_store_orphans(struct mdp_store *s, int64_t before_ms, int remove, mdp_store_orphan_cb cb,
                      void *ud, struct mdp_diag *d);
/* Puts the local file path of key (not checked; it need not exist) into out, the caller's
 * buffer (reset and filled; freed with mdp_buf_cleanup). Returns 0, MDP_ERR_UNSUPPORTED when the
 * backend has no local paths, or MDP_ERR_NOMEM (out's sticky error). No diag. */
int mdp_store_local_path(struct mdp_store *s, const char *key, struct mdp_buf *out);

/* mkdir -p on the local file system: every folder of path (whole), or of path up to its last '/'
 * (the folders of a file path), created with mode where missing. Returns 0, MDP_ERR_INVALID (a
 * path over 4095 bytes) or the mkdir error (mdp_err_from_errno) with d naming the folder. */
int mdp_local_mkdirs(const char *path, int whole, int mode, struct mdp_diag *d);

/* Makes every object whose key starts with prefix readable at its mdp_store_local_path, and the
 * local folder of prefix exist (so an engine may write into it): a no-op for the file backend;
 * S3 downloads into its bounded local cache what is missing there (objects are immutable, so a
 * cached copy of the same size is current). Returns 0, MDP_ERR_INVALID (bad prefix), MDP_ERR_IO /
 * MDP_ERR_NOSPACE / MDP_ERR_PERM, MDP_ERR_NOMEM, or the store's request errors, with d. */
int mdp_store_stage(struct mdp_store *s, const char *prefix, struct mdp_diag *d);
/* mdp_store_stage of one object whose size is known (bytes, e.g. a manifest's file; < 0: unknown)
 * without listing it first: S3 stats the cached copy and GETs the object only when the copy is
 * missing or of another size, where staging its key as a prefix costs a LIST request per file.
 * Returns what mdp_store_stage returns, and MDP_ERR_NOT_FOUND for an object that is not there. */
int mdp_store_stage_object(struct mdp_store *s, const char *key, int64_t bytes, struct mdp_diag *d);
/* Uploads every file below the local folder of prefix (an engine wrote them at local paths) as
 * the object of the same key: a no-op for the file backend. Returns 0 or the errors of
 * mdp_store_stage, with d. */
int mdp_store_upload_local(struct mdp_store *s, const char *prefix, struct mdp_diag *d);

/* ---- old versions and the local cache (erasure, docs/privacy.md §7) ---- */
/* Calls cb for every version and delete marker of every key starting with prefix, in key order
 * (S3's ListObjectVersions; the newest version of a key first). Returns 0, cb's non-zero value
 * (which stops the walk), MDP_ERR_UNSUPPORTED (a backend without versions: file://), MDP_ERR_IO /
 * MDP_ERR_PARSE / MDP_ERR_PERM / MDP_ERR_NOMEM, with d. */
int mdp_store_versions(struct mdp_store *s, const char *prefix, mdp_store_version_cb cb, void *ud,
                       struct mdp_diag *d);
/* Reads one version of key (version_id as mdp_store_versions reported it) into out, as
 * mdp_store_get. Returns 0, MDP_ERR_NOT_FOUND, MDP_ERR_INVALID (bad key or empty version id),
 * MDP_ERR_UNSUPPORTED (file://), the request's errors, with d. */
int mdp_store_get_version(struct mdp_store *s, const char *key, const char *version_id,
                          struct mdp_buf *out, struct mdp_diag *d);
/* Deletes every noncurrent version and every delete marker of exactly key (not of the keys it
 * is a prefix of), so that only the current object, if there is one, remains: what an erasure
 * does after deleting or overwriting an object that held a person in a versioned bucket.
 * *out_n (may be NULL) counts what went. A no-op for a backend without versions (file://).
 * Returns 0, MDP_ERR_INVALID (bad key), the listing's or the deletions' errors, with d. */
int mdp_store_purge_versions(struct mdp_store *s, const char *key, int64_t *out_n,
                             struct mdp_diag *d);
/* Deletes key for good: every noncurrent version and delete marker of exactly key first, then
 * its current version by its id, so that a versioned bucket keeps nothing of it and no marker,
 * and a crash half-way leaves the current object (still readable) with fewer old versions. A
 * plain delete on a backend without versions (file://); an absent key is no error. *out_n (may
 * be NULL) counts the versions and markers that went. Returns 0, MDP_ERR_INVALID (bad key), the
 * listing's or the deletions' errors, with d. */
int mdp_store_delete_every_version(struct mdp_store *s, const char *key, int64_t *out_n,
                                   struct mdp_diag *d);
/* Drops the local cached copies of the objects under prefix (a key or a folder): all of them, or
 * with gone_only only those whose object the store no longer has (one listing). A no-op for a
 * backend whose local paths are the objects (file://). Never touches the store's objects, nor
 * local files outside the object zones (S3: raw/, landing/, curated/, ml/, serving/; the cache's
 * _meta/ may hold an embedded state file). Returns 0, MDP_ERR_INVALID (bad prefix), the
 * listing's errors, MDP_ERR_IO (a file that cannot be removed), with d. */
int mdp_store_evict(struct mdp_store *s, const char *prefix, int gone_only, struct mdp_diag *d);

/* ---- request counts (the cost model, docs/quality.md "Cost") ---- */
/* Requests this process made of object stores, counted as S3 bills them: put (put, conditional
 * put, a committed streaming write), get (get, head) and list (one per call and per further 1,000
 * keys listed). Deletes are free on S3 and not counted. */
struct mdp_store_requests {
    int64_t put, get, list;
};
/* Fills out with the process's totals since it started (all stores). Thread-safe. */
void mdp_store_requests_total(struct mdp_store_requests *out);

/* The file backend's constructor (used by mdp_store_open): dir is a folder path; returns and frees
 * as mdp_store_open. */
int mdp__store_file_open(const char *dir, int create, struct mdp_store **out, struct mdp_diag *d);
/* The S3 backend's constructor (used by mdp_store_open): url is s3://BUCKET[/PREFIX]; the bucket
 * must exist (create does not make buckets: `mdp aws bootstrap` does). Uses the process-wide AWS
 * settings (mdp_aws_configure). Returns and frees as mdp_store_open; MDP_ERR_CONFIG for a missing
 * region or credentials, MDP_ERR_NOT_FOUND for an unknown bucket, MDP_ERR_PERM for refused
 * credentials, each naming the setting. */
int mdp__store_s3_open(const char *url, int create, struct mdp_store **out, struct mdp_diag *d);

/* ---- the S3 backend's answer walkers (internal; public for the fuzz target fuzz_s3_xml) ---- */
/* One ListObjectsV2 page (body: len bytes, borrowed, need not end in NUL): cb sees each Contents
 * entry's Key (with its first strip bytes cut off; keys not longer than strip are skipped), Size
 * and LastModified (0 when absent or unreadable), and each CommonPrefixes entry's Prefix (cut
 * alike) with size -1 (a delimited listing's folders). out_token (the caller's buffer, reset) receives
 * NextContinuationToken and *out_more 1 when IsTruncated is "true". Returns 0, cb's non-zero
 * value (which stops the walk), MDP_ERR_PARSE (not XML, or truncated without a token) or
 * MDP_ERR_NOMEM, with d for the last two. */
int mdp__s3_list_page(const char *body, size_t len, size_t strip, mdp_store_list_time_cb cb,
                      void *ud, struct mdp_buf *out_token, int *out_more, struct mdp_diag *d);
/* One ListObjectVersions page (body: len bytes, borrowed, need not end in NUL): cb sees each
 * Version and DeleteMarker entry's Key (first strip bytes cut off; keys not longer than strip and
 * entries without a VersionId are skipped), VersionId, Size, IsLatest. When IsTruncated is "true",
 * *out_more is 1 and out_key_marker / out_vid_marker (the caller's buffers, reset) receive
 * NextKeyMarker / NextVersionIdMarker. Returns 0, cb's non-zero value (which stops the walk),
 * MDP_ERR_PARSE (not XML, or truncated without a key marker) or MDP_ERR_NOMEM, with d for the
 * last two. */
int mdp__s3_versions_page(const char *body, size_t len, size_t strip, mdp_store_version_cb cb,
                          void *ud, struct mdp_buf *out_key_marker, struct mdp_buf *out_vid_marker,
                          int *out_more, struct mdp_diag *d);
/* The UploadId of a CreateMultipartUpload answer (InitiateMultipartUploadResult) into *out_id
 * (malloc'd, the caller frees it; NULL on failure). Returns 0, MDP_ERR_PARSE (not that XML, or no
 * or an empty UploadId), MDP_ERR_NOMEM. No diag. */
int mdp__s3_upload_id(const char *body, size_t len, char **out_id);
/* Returns 1 when a CompleteMultipartUpload answered 200 carries an <Error> (S3 fails late that
 * way), else 0. body may be NULL. */
int mdp__s3_complete_failed(const char *body, size_t len);

#endif
