#!/usr/bin/env bash
# Integration test of the TLS minimum of outbound connections (spec 7: TLS 1.3; mdp/net.h,
# security.tls_min_version), against real TLS servers with a throwaway self-signed certificate:
# - libcurl (the AWS client; every other HTTPS client sets the same option): `openssl s_server`
#   offering only TLS 1.2 is refused at the handshake ("SSL connect error", with the hint naming the
#   setting), while one offering TLS 1.3 gets as far as the certificate check (which a self-signed
#   certificate fails); with tls_min_version 1.2 the 1.2 server gets that far too;
# - libpq (Supabase): a PostgreSQL with SSL capped at TLS 1.2 (scripts/pg.sh, then ALTER SYSTEM) is
#   refused with sslmode=require; a DSN naming ssl_min_protocol_version=TLSv1.2 connects, as does
#   the default once the server offers TLS 1.3 (pg_stat_ssl shows the version); a DSN naming
#   another machine gets sslmode=require by default (refused once the server has no TLS, unless
#   the DSN says sslmode=disable), one on this machine does not.
# Usage: tls.sh path/to/mdp
MDP=${1:?usage: tls.sh path/to/mdp}
source "$(dirname "$0")/../acceptance/lib.sh"
PG=$(mktemp -d /tmp/mdp-pg-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  "$ROOT/scripts/pg.sh" stop "$PG"
  rm -rf "$PG" "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
  -subj /CN=localhost >/dev/null 2>&1 && ok || bad "openssl req (a self-signed certificate)"

# ---- libcurl, through the AWS client
conf() { # file [min]
  printf 'lake:\n  dir: s3://tls-bucket/lake\naws:\n  region: eu-central-1\n  s3_addressing: path\n  max_retries: 0\n' >"$1"
  [ -n "${2:-}" ] && printf 'security:\n  tls_min_version: "%s"\n' "$2" >>"$1"
}
conf "$T/13.yaml"
conf "$T/12.yaml" 1.2
serve_tls() { # version -> port
  local p
  p=$(free_port)
  openssl s_server -accept "127.0.0.1:$p" "-tls$1" -cert "$T/cert.pem" -key "$T/key.pem" -www -quiet \
    >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.1; done
  echo "$p"
}
init_at() { # port config -> stderr of mdp init (exit 1 expected: nothing gets past TLS here)
  AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret AWS_ENDPOINT_URL="https://127.0.0.1:$1" \
    "$MDP" --config "$2" init 2>&1 >/dev/null
}
p12=$(serve_tls 1_2)
p13=$(serve_tls 1_3)
init_at "$p12" "$T/13.yaml" >"$T/c1" && bad "init against a TLS 1.2 server succeeded" || ok
expect_in "$T/c1" "SSL connect error: the TLS handshake failed; an endpoint without TLS 1.3 is refused (security.tls_min_version)" \
  "TLS 1.2 only: refused at the handshake, the setting named"
init_at "$p13" "$T/13.yaml" >"$T/c2"
expect_in "$T/c2" "SSL peer certificate" "TLS 1.3: the handshake gets to the certificate"
init_at "$p12" "$T/12.yaml" >"$T/c3"
expect_in "$T/c3" "SSL peer certificate" "tls_min_version 1.2: the TLS 1.2 server gets to the certificate"
grep -q "handshake failed" "$T/c3" && bad "tls_min_version 1.2 still refused TLS 1.2: $(cat "$T/c3")" || ok

# ---- libpq, through mdp cdc lag (it connects with sources.supabase's DSN first)
port=$("$ROOT/scripts/pg.sh" start "$PG") || { bad "PostgreSQL did not start"; finish tls; exit 1; }
cp "$T/cert.pem" "$T/key.pem" "$PG/data/"
chmod 600 "$PG/data/key.pem"
[ "$(id -u)" = 0 ] && chown postgres "$PG/data/cert.pem" "$PG/data/key.pem"
P="host=127.0.0.1 port=$port user=postgres dbname=postgres"
settle() { # NAME VALUE: polls until a new connection sees the reloaded setting (reload is async)
  for _ in $(seq 100); do
    [ "$(psql -X "$P sslmode=disable" -Atc "SHOW $1" 2>/dev/null)" = "$2" ] && return 0
    sleep 0.1
  done
  bad "the server did not take $1 = $2"
}
for q in "ALTER SYSTEM SET ssl = on" "ALTER SYSTEM SET ssl_cert_file = 'cert.pem'" \
  "ALTER SYSTEM SET ssl_key_file = 'key.pem'" "ALTER SYSTEM SET ssl_max_protocol_version = 'TLSv1.2'" \
  "SELECT pg_reload_conf()"; do
  psql -X "$P" -qAtc "$q" >/dev/null || bad "psql: $q"
done
settle ssl on
settle ssl_max_protocol_version TLSv1.2
[ "$(psql -X "$P sslmode=require" -Atc "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")" = TLSv1.2 ] \
  && ok || bad "the server should speak TLS 1.2 at most"
lag() { # dsn -> stderr of mdp cdc lag (no slot: it fails after connecting, saying so)
  MDP_SUPABASE_DSN="$1" "$MDP" cdc lag --dir "$T/lake" 2>&1 >/dev/null
}
"$MDP" --log-level off init --dir "$T/lake" >/dev/null || bad "init"
lag "$P sslmode=require" >"$T/p1"
expect_in "$T/p1" "cannot connect" "TLS 1.2 only: libpq refuses"
expect_in "$T/p1" "between TLSv1.3 and TLSv1.3" "libpq says which versions it offered"
lag "$P sslmode=require ssl_min_protocol_version=TLSv1.2" >"$T/p2"
expect_in "$T/p2" "no replication slot" "a DSN naming its own minimum connects"
psql -X "$P" -qAtc "ALTER SYSTEM SET ssl_max_protocol_version = 'TLSv1.3'" >/dev/null && psql -X "$P" -qAtc "SELECT pg_reload_conf()" >/dev/null
settle ssl_max_protocol_version TLSv1.3
lag "$P sslmode=require" >"$T/p3"
expect_in "$T/p3" "no replication slot" "the server offering TLS 1.3: the default connects"
# a DSN naming another machine (hostaddr only routes it here) gets sslmode=require by default:
# libpq's own default (prefer) would fall back to plain TCP; one on this machine does not
R="host=db.example.com hostaddr=127.0.0.1 port=$port user=postgres dbname=postgres"
lag "$R" >"$T/p4"
expect_in "$T/p4" "no replication slot" "a remote host, TLS available: connects (with TLS)"
# security.pg_ca_file: the server's certificate must chain to it and name the host (verify-full)
printf 'security:\n  pg_ca_file: %s\n' "$T/cert.pem" >"$T/ca.yaml"
printf 'security:\n  pg_ca_file: %s\n' "$T/db.pem" >"$T/ca2.yaml"
lagc() { MDP_SUPABASE_DSN="$2" "$MDP" --config "$1" cdc lag --dir "$T/lake" 2>&1 >/dev/null; }
lagc "$T/ca.yaml" "$R" >"$T/v1"
expect_in "$T/v1" 'does not match host name "db.example.com"' "pg_ca_file: a certificate for another name is refused"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/db.key" -out "$T/db.pem" -days 2 \
  -subj /CN=db.example.com -addext subjectAltName=DNS:db.example.com >/dev/null 2>&1 && ok || bad "openssl req db"
cp "$T/db.pem" "$T/db.key" "$PG/data/"
chmod 600 "$PG/data/db.key"
[ "$(id -u)" = 0 ] && chown postgres "$PG/data/db.pem" "$PG/data/db.key"
for q in "ALTER SYSTEM SET ssl_cert_file = 'db.pem'" "ALTER SYSTEM SET ssl_key_file = 'db.key'" \
  "SELECT pg_reload_conf()"; do
  psql -X "$P" -qAtc "$q" >/dev/null || bad "psql: $q"
done
settle ssl_cert_file db.pem
lagc "$T/ca2.yaml" "$R" >"$T/v2"
expect_in "$T/v2" "no replication slot" "pg_ca_file: the host's own certificate from that authority connects"
lagc "$T/ca.yaml" "$R" >"$T/v3"
expect_in "$T/v3" "certificate verify failed" "pg_ca_file: a certificate from another authority is refused"
lagc "$T/ca.yaml" "$R sslmode=require sslrootcert=$T/db.pem" >"$T/v4"
expect_in "$T/v4" "no replication slot" "the connection string's own sslrootcert wins"
lagc "$T/ca.yaml" "$P" >"$T/v5"
expect_in "$T/v5" "no replication slot" "pg_ca_file leaves a loopback DSN alone (no verification)"
printf 'security:\n  pg_ca_file: %s\n' "$T/missing.pem" >"$T/ca3.yaml"
lagc "$T/ca3.yaml" "$R" >"$T/v6"
expect_in "$T/v6" "security.pg_ca_file: cannot read $T/missing.pem" "an unreadable pg_ca_file is named"
psql -X "$P" -qAtc "ALTER SYSTEM SET ssl = off" >/dev/null && psql -X "$P" -qAtc "SELECT pg_reload_conf()" >/dev/null
settle ssl off
lag "$R" >"$T/p5"
expect_in "$T/p5" "SSL was required" "a remote host without TLS: refused, not plain"
lag "$R sslmode=disable" >"$T/p6"
expect_in "$T/p6" "no replication slot" "the DSN's own sslmode wins"
lag "$P" >"$T/p7"
expect_in "$T/p7" "no replication slot" "a loopback DSN without sslmode still connects (the tests' own servers)"
finish tls
