/* Error names and diagnostics shared by every module (see include/mdp/err.h). */
#include "mdp/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

const char *mdp_strerror(int err)
{
    switch (err) {
    case MDP_OK:
        return "ok";
    case MDP_ERR_NOMEM:
        return "out of memory";
    case MDP_ERR_INVALID:
        return "invalid argument";
    case MDP_ERR_IO:
        return "I/O error";
    case MDP_ERR_NOT_FOUND:
        return "not found";
    case MDP_ERR_EXISTS:
        return "already exists";
    case MDP_ERR_PARSE:
        return "parse error";
    case MDP_ERR_CONFIG:
        return "configuration error";
    case MDP_ERR_ENGINE:
        return "SQL engine error";
    case MDP_ERR_NO_ENGINE:
        return "DuckDB library not available";
    case MDP_ERR_NOSPACE:
        return "no space left on device";
    case MDP_ERR_PERM:
        return "permission denied";
    case MDP_ERR_RANGE:
        return "value out of range";
    case MDP_ERR_CRYPTO:
        return "cryptographic failure";
    case MDP_ERR_STAGE:
        return "pipeline stage failed";
    case MDP_ERR_UNSUPPORTED:
        return "not supported";
    }
    return "unknown error";
}

int mdp_diag_set(struct mdp_diag *d, int code, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
        d->code = code;
    }
    return code;
}

int mdp_err_from_errno(int e)
{
    switch (e) {
    case 0:
        return MDP_OK;
    case ENOMEM:
        return MDP_ERR_NOMEM;
    case ENOENT:
    case ENOTDIR:
        return MDP_ERR_NOT_FOUND;
    case EEXIST:
        return MDP_ERR_EXISTS;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return MDP_ERR_NOSPACE;
    case EACCES:
    case EPERM:
    case EROFS:
        return MDP_ERR_PERM;
    case EINVAL:
        return MDP_ERR_INVALID;
    default:
        return MDP_ERR_IO;
    }
}
