/* The minimum TLS version of outbound connections (include/mdp/net.h). */
#include "mdp/net.h"
#include "mdp/config.h"

#include <string.h>

static int tls_min = 3; /* TLS 1.3 */

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

PGconn *mdp_net_pg_connect_params(const char *conninfo, const char *const *keys,
                                  const char *const *vals)
{
    /* PQconnectdbParams: later keywords override earlier ones and the expanded dbname overrides
     * those before it, so the default goes first and a conninfo naming its own wins */
    const char *k[16], *v[16];
    int n = 0;
    k[n] = "ssl_min_protocol_version";
    v[n++] = tls_min == 3 ? "TLSv1.3" : "TLSv1.2";
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
