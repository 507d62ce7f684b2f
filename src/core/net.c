/* The minimum TLS version of outbound connections (include/mdp/net.h). */
#include "mdp/net.h"
#include "mdp/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tls_min = 3;        /* TLS 1.3 */
static char ca_file[PATH_MAX]; /* security.pg_ca_file, absolute; "" when {none} */

int mdp_net_configure(const struct mdp_config *cfg, struct mdp_diag *d)
{
    const char *v = cfg->tls_min_version ? cfg->tls_min_version : "1.3";
    if (strcmp(v, "1.3") == 0)
        tls_min = 3;
    else if (strcmp(v, "1.2") == 0)
        tls_min = 2;
    else
        return mdp_diag_set(d, MDP_ERR_CONFIG,
                            "security.tls_min_version must be 1.2 or 1.3, not %.20s", v);
    ca_file[0] = '\0';
    const char *ca = cfg->pg_ca_file;
    if (ca && strcmp(ca, "{none}") != 0) {
        /* absolute, so that libpq finds it whatever the working folder when it connects */
        if (!realpath(ca, ca_file) || access(ca_file, R_OK) != 0) {
            int e = errno;
            ca_file[0] = '\0';
            return mdp_diag_set(d, MDP_ERR_CONFIG, "security.pg_ca_file: cannot read %s: %s", ca,
                                strerror(e));
        }
    }
    return 0;
}

int mdp_net_tls_min(void)
{
    return tls_min;
}

CURLcode mdp_net_curl_tls(CURL *c)
{
    return curl_easy_setopt(
        c, CURLOPT_SSLVERSION,
        (long)(tls_min == 3 ? CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2));
}

const char *mdp_net_curl_hint(CURLcode cc)
{
    if (cc != CURLE_SSL_CONNECT_ERROR) return "";
    return tls_min == 3 ? ": the TLS handshake failed; an endpoint without TLS 1.3 is refused "
                          "(security.tls_min_version)"
                        : ": the TLS handshake failed";
}

/* a host of a connection string on this machine: a socket folder, localhost, 127.0.0.0/8, ::1 */
static int local_host(const char *h, size_t n)
{
    return n == 0 || h[0] == '/' || h[0] == '@' || (n == 9 && !strncmp(h, "localhost", 9)) ||
           (n >= 4 && !strncmp(h, "127.", 4) && strspn(h, "0123456789.") >= n) ||
           (n == 3 && !strncmp(h, "::1", 3));
}

int mdp_net_pg_remote(const char *conninfo)
{
    char *err = NULL;
    PQconninfoOption *o = PQconninfoParse(conninfo ? conninfo : "", &err);
    if (!o) { /* libpq will refuse it with its own message; the safe answer meanwhile */
        PQfreemem(err);
        return 1;
    }
    const char *host = NULL, *addr = NULL;
    for (const PQconninfoOption *p = o; p->keyword; p++) {
        if (!strcmp(p->keyword, "host")) host = p->val;
        if (!strcmp(p->keyword, "hostaddr")) addr = p->val;
    }
    if (!host || !*host) host = getenv("PGHOST");
    if ((!host || !*host) && addr && *addr) host = addr; /* only an address: judge that */
    int remote = 0;
    for (const char *h = host ? host : ""; !remote;) { /* a comma-separated list: each */
        size_t n = strcspn(h, ",");
        remote = !local_host(h, n);
        if (!h[n]) break;
        h += n + 1;
    }
    PQconninfoFree(o);
    return remote;
}

PGconn *mdp_net_pg_connect_params(const char *conninfo, const char *const *keys,
                                  const char *const *vals)
{
    /* PQconnectdbParams: later keywords override earlier ones and the expanded dbname overrides
     * those before it, so the defaults go first and a conninfo naming its own wins */
    const char *k[16], *v[16];
    int n = 0;
    k[n] = "ssl_min_protocol_version";
    v[n++] = tls_min == 3 ? "TLSv1.3" : "TLSv1.2";
    /* libpq's default sslmode, prefer, falls back to plain TCP when TLS fails: to a host of
     * another machine TLS is required unless the DSN (or PGSSLMODE) says otherwise; with the
     * authorities' file of security.pg_ca_file, the certificate and the host name are checked */
    const char *env = getenv("PGSSLMODE");
    int remote = mdp_net_pg_remote(conninfo);
    if (remote && ca_file[0]) {
        k[n] = "sslrootcert";
        v[n++] = ca_file;
    }
    if ((!env || !*env) && remote) {
        k[n] = "sslmode";
        v[n++] = ca_file[0] ? "verify-full" : "require";
    }
    k[n] = "dbname";
    v[n++] = conninfo ? conninfo : "";
    for (int i = 0; keys && keys[i] && n < 15; i++) {
        k[n] = keys[i];
        v[n++] = vals[i];
    }
    k[n] = v[n] = NULL;
    return PQconnectdbParams(k, v, 1);
}

PGconn *mdp_net_pg_connect(const char *conninfo)
{
    return mdp_net_pg_connect_params(conninfo, NULL, NULL);
}
