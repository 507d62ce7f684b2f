#!/usr/bin/env bash
# Benchmark of `mdp cdc run` (docs/cdc.md) against a throwaway PostgreSQL (scripts/pg.sh):
#  1. throughput: a write-heavy backlog (pgbench, pgbench-style inserts into the app's tables) is
#     drained by `mdp cdc run --once` and, from a second slot over the same WAL, by the server's own
#     pg_recvlogical with the same plugin, protocol (2, streaming on) and publication writing the raw messages to a file (the
#     bare baseline: no decoding, no JSON, one file). Prints changes/s of both and the ratio
#     (target >= 0.8);
#  2. latency commit -> raw: a steady rate-limited load while `mdp cdc run` follows; per change,
#     the time its raw object was written minus its commit time; p50 and p99 (target < 1 s).
# QUICK=1: a smaller load (10,000 transactions, 5 s of latency load; under a minute). When
# MDP_BENCH_SUMMARY names a file, one line per figure is appended to it:
# name<TAB>ours<TAB>baseline<TAB>ratio<TAB>target<TAB>PASS|FAIL.
# Usage: bench/cdc.sh path/to/mdp [TRANSACTIONS] [RATE_PER_S]
set -euo pipefail
MDP=${1:?usage: cdc.sh path/to/mdp [TRANSACTIONS] [RATE]}
MDP=$(cd "$(dirname "$MDP")" && pwd)/$(basename "$MDP")
if [ "${QUICK:-0}" = 1 ]; then N=${2:-10000} SECS=5; else N=${2:-20000} SECS=10; fi
RATE=${3:-200}
export MDP_BENCH_SUMMARY=${MDP_BENCH_SUMMARY:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
T=$(mktemp -d /tmp/mdp-bench-cdc-XXXXXX)
chmod 755 "$T"
trap '"$ROOT/scripts/pg.sh" stop "$T/pg"; rm -rf "$T"' EXIT
mkdir -p "$T/pg" && chmod 755 "$T/pg"
port=$("$ROOT/scripts/pg.sh" start "$T/pg")
psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "CREATE DATABASE app"
"${psql[@]}" -d app -f "$ROOT/config/supabase-schema.sql"
export MDP_SUPABASE_DSN="postgresql://postgres@127.0.0.1:$port/app"
"$MDP" --log-level off init --dir "$T/lake" >/dev/null
printf 'lake:\n  dir: %s\ncdc:\n  lag_interval_seconds: 0\n' "$T/lake" >"$T/mdp.yaml"
mdp() { "$MDP" --config "$T/mdp.yaml" --log-level warn "$@"; }
mdp cdc setup >/dev/null
"$bin/pg_recvlogical" -h 127.0.0.1 -p "$port" -U postgres -d app --slot base --create-slot -P pgoutput

# one transaction: an account, its user profile and a login (3 inserts), as the app writes them
# (no colon inside literals: pgbench would take it for a variable)
cat >"$T/tx.sql" <<'EOF'
\set n random(1, 1000000000)
BEGIN;
INSERT INTO accounts (account_id, business_name, price_range) VALUES (gen_random_uuid(), 'bench ' || :n, '€€') RETURNING account_id \gset
INSERT INTO user_profiles (user_id, account_id, email, name, persona, signup_at, preferences) VALUES (gen_random_uuid(), :account_id, 'u' || :n || '@example.com', 'Bench User', 'solo-sarah', now(), '{"tone": "brief"}') RETURNING user_id \gset
INSERT INTO oauth_logins (event_id, user_id, provider, success) VALUES (gen_random_uuid(), :user_id, 'google', true);
COMMIT;
EOF
"$bin/pgbench" -n -M extended -h 127.0.0.1 -p "$port" -U postgres -c 2 -t $((N / 2)) -f "$T/tx.sql" app >/dev/null
# the insert position, as `mdp cdc run --once` waits for: with synchronous_commit=off the write
# position can stand before the last commits, and the baseline would stop short of them
end=$("${psql[@]}" -d app -At -c "SELECT pg_current_wal_insert_lsn()")
changes=$((N / 2 * 2 * 3))

now_ns() { date +%s%N; }
t0=$(now_ns)
"$bin/pg_recvlogical" -h 127.0.0.1 -p "$port" -U postgres -d app --slot base --start --endpos="$end" \
  -o proto_version=2 -o streaming=on -o publication_names=mdp_cdc -f "$T/base.bin" --no-loop
t1=$(now_ns)
mdp --json cdc run --once >"$T/run.json"
t2=$(now_ns)
got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["changes"])' "$T/run.json")
[ "$got" = "$changes" ] || { echo "cdc run took $got changes, want $changes" >&2; exit 1; }
python3 - "$changes" "$t0" "$t1" "$t2" "$(stat -c %s "$T/base.bin")" <<'EOF'
import os, sys
n, t0, t1, t2, size = map(int, sys.argv[1:])
base = n / ((t1 - t0) / 1e9)
mine = n / ((t2 - t1) / 1e9)
print(f"throughput: {n} changes in {n // 3} transactions")
print(f"  pg_recvlogical (pgoutput to a file, {size} bytes): {base:,.0f} changes/s ({(t1 - t0) / 1e9:.2f} s)")
print(f"  mdp cdc run --once (decoded, NDJSON to raw, checkpointed): {mine:,.0f} changes/s ({(t2 - t1) / 1e9:.2f} s)")
print(f"  ratio {mine / base:.2f} (target >= 0.8)")
out = os.environ.get("MDP_BENCH_SUMMARY")
if out:
    with open(out, "a") as f:
        f.write(f"cdc changes/s\t{mine:.0f}\t{base:.0f}\t{mine / base:.2f}\t>=0.8\t{'PASS' if mine / base >= 0.8 else 'FAIL'}\n")
EOF

# latency: mdp follows a steady load of RATE transactions/s for SECS s
rm -rf "$T/lake/raw/supabase_cdc"
"$MDP" --config "$T/mdp.yaml" --log-level warn cdc run >"$T/follow.out" 2>"$T/follow.err" & # the process, not a subshell
pid=$!
sleep 1
"$bin/pgbench" -n -M extended -h 127.0.0.1 -p "$port" -U postgres -c 2 -R "$RATE" -T "$SECS" -f "$T/tx.sql" app >/dev/null
sleep 2
kill -TERM "$pid"
wait "$pid" || { echo "mdp cdc run failed: $(cat "$T/follow.err")" >&2; exit 1; }
python3 - "$T/lake" <<'EOF'
import glob, json, os, sys
from datetime import datetime
lat = []
for f in glob.glob(os.path.join(sys.argv[1], "raw/supabase_cdc/*/dt=*/*.ndjson")):
    written = os.stat(f).st_mtime
    for line in open(f):
        r = json.loads(line)
        t = datetime.fromisoformat(r["commit_time"].replace("Z", "+00:00")).timestamp()
        lat.append(written - t)
lat.sort()
if not lat:
    sys.exit("no changes arrived")
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
print(f"latency commit -> raw over {len(lat)} changes: p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms, max {lat[-1] * 1000:.0f} ms (target < 1000 ms)")
out = os.environ.get("MDP_BENCH_SUMMARY")
if out:
    with open(out, "a") as f:
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            f.write(f"cdc commit->raw {name} ms\t{p(q):.0f}\t-\t-\t<1000\t{'PASS' if p(q) < 1000 else 'FAIL'}\n")
EOF
