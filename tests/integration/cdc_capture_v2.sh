#!/usr/bin/env bash
# Captures tests/fuzz/corpus/cdc/session_v2.bin from a real PostgreSQL (scripts/pg.sh) with
# logical_decoding_work_mem = 64kB: pgoutput protocol version 2 with streaming on, read with
# pg_logical_slot_peek_binary_changes, in the fuzz framing (a protocol byte, then each message as
# a 4-byte big-endian length and its bytes). The session: a streamed transaction whose savepoint
# is rolled back (a subtransaction's Stream Abort) and that commits, a streamed transaction that
# aborts, and an UPDATE that leaves a TOASTed column unchanged ('u'). Not run by the tests (the
# file is committed); kept to regenerate it. Usage: cdc_capture_v2.sh OUT.bin
set -euo pipefail
out=${1:?usage: cdc_capture_v2.sh OUT.bin}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PG=$(mktemp -d /tmp/mdp-pg-XXXXXX)
chmod 755 "$PG"
trap '"$ROOT/scripts/pg.sh" stop "$PG"; rm -rf "$PG"' EXIT
port=$("$ROOT/scripts/pg.sh" start "$PG")
psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
"${psql[@]}" -c "ALTER SYSTEM SET logical_decoding_work_mem = '64kB'" -c "SELECT pg_reload_conf()" >/dev/null
"${psql[@]}" <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, name text, big text);
CREATE PUBLICATION p FOR TABLE t;
SELECT 1 FROM pg_create_logical_replication_slot('s', 'pgoutput');
BEGIN;
INSERT INTO t SELECT g, md5(g::text), NULL FROM generate_series(1, 400) g;
SAVEPOINT a;
INSERT INTO t SELECT g, md5(g::text), NULL FROM generate_series(401, 800) g;
ROLLBACK TO SAVEPOINT a;
INSERT INTO t SELECT g, md5(g::text), NULL FROM generate_series(801, 1000) g;
COMMIT;
BEGIN;
INSERT INTO t SELECT g, md5(g::text), NULL FROM generate_series(2001, 2600) g;
ROLLBACK;
INSERT INTO t SELECT 5000, 'toast', string_agg(md5(g::text), '') FROM generate_series(1, 200) g;
UPDATE t SET name = 'toast, renamed' WHERE id = 5000;
SQL
"${psql[@]}" -At -c "SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('s', NULL, NULL,
  'proto_version', '2', 'publication_names', 'p', 'streaming', 'on')" | python3 -c '
import sys
out = bytearray([1])  # 1 + 1 % 2 = protocol version 2
for line in sys.stdin:
    m = bytes.fromhex(line.strip())
    out += len(m).to_bytes(4, "big") + m
sys.stdout.buffer.write(out)' >"$out"
echo "$out: $(stat -c %s "$out") bytes"
