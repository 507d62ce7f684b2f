#!/usr/bin/env bash
# Installs everything matbakh-dp needs to build and test: Debian packages (apt, with sudo when not
# root) and DuckDB's C library and header from the npm registry at one pinned version, checked
# against the registry's sha512 integrity values. Idempotent and fast when all is present.
# Usage: scripts/install-deps.sh [--no-apt | --bench]   (--bench adds wrk, the HTTP load generator
# of `make bench`)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/deps"

# --- pinned DuckDB (1.4.4): the library ships in the node bindings, the header in the duckdb package
DUCKDB_VERSION=1.4.4
LIB_PKG="@duckdb/node-bindings-linux-x64@1.4.4-r.4"
LIB_TGZ="duckdb-node-bindings-linux-x64-1.4.4-r.4.tgz"
LIB_SHA512="jBTL/WvfwxLToFa/pVHfT6elMtltJGnc3wSuxZD9OfMltit9YUdVFS37vBFQzXMT1Z8OWjtSjMh+zPKxOwHLHA=="
HDR_PKG="duckdb@1.4.4"
HDR_TGZ="duckdb-1.4.4.tgz"
HDR_SHA512="hEJJ5hyVF0VLj3dmOLpsWrQR0b3d4Ykqtygm6iUXjHJDDnSqg/USKxcb5qvNrOhFYPgktayU6dXCtgPqcmmpog=="

APT_PACKAGES="build-essential cmake pkg-config clang libclang-rt-14-dev python3
  libpq-dev libcurl4-openssl-dev libssl-dev libjson-c-dev libyajl-dev libmicrohttpd-dev libyaml-dev
  libxml2-dev libsqlite3-dev libzstd-dev zlib1g-dev libcmocka-dev postgresql openssl curl"
# the report's browser test (tests/acceptance/report_browser.sh) renders the page in Chromium
APT_PACKAGES="$APT_PACKAGES chromium"

say() { printf 'install-deps: %s\n' "$*" >&2; }

want_apt=1
[ "${1:-}" = "--no-apt" ] && want_apt=0
[ "${1:-}" = "--bench" ] && APT_PACKAGES="$APT_PACKAGES wrk"

if [ "$want_apt" = 1 ]; then
  missing=""
  for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  # npm fetches DuckDB; an image may bring its own Node.js, so only install Debian's when absent
  command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
  if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    say "installing Debian packages:$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi

# An independent Parquet reader for the tests (pure JavaScript, not DuckDB): hyparquet with
# hyparquet-compressors (ZSTD), pinned; npm checks the registry's integrity hashes itself.
PARQUET_READER="hyparquet@1.33.0 hyparquet-compressors@1.1.2"
if [ ! -f "$deps/node/.installed-hyparquet-1.33.0" ]; then
  say "installing the test Parquet reader ($PARQUET_READER)"
  mkdir -p "$deps/node"
  (cd "$deps/node" && npm install --silent --no-audit --no-fund --no-save $PARQUET_READER >/dev/null)
  touch "$deps/node/.installed-hyparquet-1.33.0"
fi

stamp="$deps/duckdb/.installed-$DUCKDB_VERSION"
if [ -f "$stamp" ] && [ -f "$deps/duckdb/lib/libduckdb.so" ] && [ -f "$deps/duckdb/include/duckdb.h" ]; then
  exit 0
fi

check_integrity() { # file expected-base64-sha512
  local got
  got=$(openssl dgst -sha512 -binary "$1" | base64 -w0)
  if [ "$got" != "$2" ]; then
    say "integrity check FAILED for $1: expected sha512-$2, got sha512-$got"
    return 1
  fi
}

cache="$deps/cache"
mkdir -p "$cache"
for spec in "$LIB_PKG|$LIB_TGZ|$LIB_SHA512" "$HDR_PKG|$HDR_TGZ|$HDR_SHA512"; do
  IFS='|' read -r pkg tgz sha <<<"$spec"
  if [ -f "$cache/$tgz" ] && check_integrity "$cache/$tgz" "$sha" 2>/dev/null; then
    continue
  fi
  rm -f "$cache/$tgz"
  say "fetching $pkg from the npm registry"
  (cd "$cache" && npm pack --silent "$pkg" >/dev/null)
  check_integrity "$cache/$tgz" "$sha" || { rm -f "$cache/$tgz"; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$cache/$LIB_TGZ" -C "$tmp" package/libduckdb.so
mkdir -p "$tmp/h"
tar -xzf "$cache/$HDR_TGZ" -C "$tmp/h" package/src/duckdb/src/include/duckdb.h
rm -rf "$deps/duckdb.new"
mkdir -p "$deps/duckdb.new/lib" "$deps/duckdb.new/include"
mv "$tmp/package/libduckdb.so" "$deps/duckdb.new/lib/"
mv "$tmp/h/package/src/duckdb/src/include/duckdb.h" "$deps/duckdb.new/include/"
touch "$deps/duckdb.new/.installed-$DUCKDB_VERSION"
rm -rf "$deps/duckdb"
mv "$deps/duckdb.new" "$deps/duckdb"
say "DuckDB $DUCKDB_VERSION installed in deps/duckdb"
