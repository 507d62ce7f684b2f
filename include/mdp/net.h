/* Transport security of every outbound connection (spec 7: "TLS 1.3 für alle Verbindungen"): the
 * lowest TLS version a connection may negotiate, security.tls_min_version ("1.3" by default,
 * "1.2" for an endpoint that has no 1.3 yet), applied to every libcurl handle (AWS, the Google and
 * Meta APIs, SNS certificates and subscription confirmations, alarm webhooks) and to every libpq
 * connection (Supabase: `ssl_min_protocol_version`, which a connection string naming its own
 * overrides; to a host of another machine also sslmode=require unless the string or PGSSLMODE
 * says otherwise, or with security.pg_ca_file sslrootcert=FILE and sslmode=verify-full). Plain
 * http:// endpoints (moto, a local MinIO) are not affected.
 *
 * Usage: mdp_net_configure(&cfg, &d) once at startup (before other threads); then
 *     mdp_net_curl_tls(curl);                  // after curl_easy_init or curl_easy_reset
 *     PGconn *pg = mdp_net_pg_connect(dsn);    // instead of PQconnectdb */
#ifndef MDP_NET_H
#define MDP_NET_H

#include <curl/curl.h>
#include <libpq-fe.h>
#include "mdp/err.h"

struct mdp_config;

/* Takes security.tls_min_version ("1.2" or "1.3"; validated by the config loader) as the process's
 * minimum (1.3 until called), and security.pg_ca_file (made absolute; "{none}": none). Not
 * thread-safe: call it once at startup. Returns 0 or MDP_ERR_CONFIG (another version, a CA file
 * that cannot be read, named) with d. */
int mdp_net_configure(const struct mdp_config *cfg, struct mdp_diag *d);
/* Returns the minimum in force: 2 for TLS 1.2, 3 for TLS 1.3. */
int mdp_net_tls_min(void);
/* Sets c's lowest TLS version to the minimum in force (CURLOPT_SSLVERSION). Returns curl's code
 * (CURLE_OK; an error only from a libcurl without that TLS version). */
CURLcode mdp_net_curl_tls(CURL *c);
/* Returns what to add to curl_easy_strerror(cc)'s text (a static string): for a failed TLS
 * handshake the likely cause, an endpoint without the minimum version (naming
 * security.tls_min_version), else "". */
const char *mdp_net_curl_hint(CURLcode cc);
/* Returns 1 when conninfo (a key=value string or a postgresql:// URI, borrowed) names a host of
 * another machine: any host (or, without one, PGHOST, else hostaddr) that is not a socket folder,
 * localhost, 127.0.0.0/8 or ::1; also for a string libpq cannot parse. Returns 0 otherwise. */
int mdp_net_pg_remote(const char *conninfo);
/* PQconnectdb(conninfo) with ssl_min_protocol_version set to the minimum in force and, for a
 * remote host (mdp_net_pg_remote): sslrootcert=security.pg_ca_file when one is set, and when
 * PGSSLMODE is unset sslmode=verify-full with that file, else require (libpq's default, prefer,
 * would fall back to plain TCP), each unless conninfo (borrowed) names its own. Returns the connection as
 * libpq does, owned by the caller (PQfinish it; check PQstatus; NULL only when out of memory);
 * never logs conninfo. */
PGconn *mdp_net_pg_connect(const char *conninfo);
/* The same with more keywords after conninfo's, which override it (keys and vals NULL-terminated,
 * borrowed, as PQconnectdbParams, e.g. the replication connection's "replication"); conninfo is
 * expanded as its "dbname". Returns the connection, owned by the caller, as above. */
PGconn *mdp_net_pg_connect_params(const char *conninfo, const char *const *keys,
                                  const char *const *vals);

#endif
