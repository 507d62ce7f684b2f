#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL for the tests (wal_level=logical, for the CDC tests): initdb into DIR/data, listening only on
# 127.0.0.1 at a free port (written to DIR/port), run as the postgres user when we are root.
# Usage: scripts/pg.sh start DIR | stop DIR
set -euo pipefail
cmd=${1:?usage: pg.sh start|stop DIR}
dir=${2:?usage: pg.sh start|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as=()
if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
case "$cmd" in
start)
  mkdir -p "$dir/sock"
  [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -w -t 60 -l "$dir/pg.log" \
    -o "-p $port -h 127.0.0.1 -k $dir/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c wal_level=logical" start >/dev/null \
    || { cat "$dir/pg.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  echo "$port"
  ;;
stop)
  [ -d "$dir/data" ] && "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
*) echo "usage: pg.sh start|stop DIR" >&2; exit 2 ;;
esac
