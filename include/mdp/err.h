/* Error codes of libmdp. Fallible functions return 0 or a negative enum mdp_err; the numbers are
 * stable (never renumbered, only appended) so that logs and scripts can rely on them. The detail of
 * a failure (which file, line, key) goes into a caller-owned struct mdp_diag. */
#ifndef MDP_ERR_H
#define MDP_ERR_H

#include <stddef.h>

enum mdp_err {
    MDP_OK = 0,
    MDP_ERR_NOMEM = -1,       /* out of memory */
    MDP_ERR_INVALID = -2,     /* invalid argument or input */
    MDP_ERR_IO = -3,          /* I/O error (read, write, fsync, rename) */
    MDP_ERR_NOT_FOUND = -4,   /* object, file or key does not exist */
    MDP_ERR_EXISTS = -5,      /* object exists (conditional write lost) */
    MDP_ERR_PARSE = -6,       /* malformed input (JSON, YAML, CSV, time, UUID) */
    MDP_ERR_CONFIG = -7,      /* configuration error */
    MDP_ERR_ENGINE = -8,      /* the SQL engine failed */
    MDP_ERR_NO_ENGINE = -9,   /* the DuckDB library could not be loaded */
    MDP_ERR_NOSPACE = -10,    /* no space left on the device */
    MDP_ERR_PERM = -11,       /* permission denied */
    MDP_ERR_RANGE = -12,      /* value out of range */
    MDP_ERR_CRYPTO = -13,     /* a cryptographic primitive failed */
    MDP_ERR_STAGE = -14,      /* a pipeline stage failed */
    MDP_ERR_UNSUPPORTED = -15 /* not supported by this backend */
};

/* Returns a static, human-readable name for an error code ("no space left on device", ...). */
const char *mdp_strerror(int err);

/* Diagnostics: the detail of the last failure, filled by the function that failed. Caller-owned;
 * zero-initialize it. msg is always NUL-terminated. */
struct mdp_diag {
    int code;
    char msg[512];
};

/* Sets d (if not NULL) to code and a printf-formatted message; returns code for tail calls. */
int mdp_diag_set(struct mdp_diag *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns the mdp_err code of an errno value (ENOSPC -> MDP_ERR_NOSPACE, ENOENT -> NOT_FOUND, ...;
 * MDP_ERR_IO for the rest). */
int mdp_err_from_errno(int e);

#endif
