#!/usr/bin/env bash
# Data subject requests at scale (issue 12): on the demo lake of N users (default 10,000), the
# erasure of one user (`mdp dsar erase`): seconds, and the files it rewrote or deleted against the
# files that hold the user before (found independently by tests/acceptance/dsar_scan.py: bytes
# and hyparquet rows). Target: only those files (plus the ones holding only the user's external
# ids or own accounts, which erasure also rewrites), under 60 s on this machine's 2 cores.
# Usage: bench/dsar_erase.sh path/to/mdp [users] [lake]   (an existing lake is copied, not changed;
# exit 1 when a target is missed)
set -uo pipefail
mdp=${1:?usage: dsar_erase.sh path/to/mdp [users] [lake]}
users=${2:-10000}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d /tmp/mdp-bench-dsar-XXXXXX)
trap 'rm -rf "$out"' EXIT
L=$out/lake
if [ -n "${3:-}" ]; then
  cp -a "$3" "$L"
else
  s=$(date +%s.%N)
  "$mdp" --log-level off demo --dir "$L" --users "$users" --days 7 --start 2026-10-01 >/dev/null 2>&1 \
    || { echo "demo failed" >&2; exit 1; }
  echo "demo of $users users: $(python3 -c "print(round($(date +%s.%N) - $s, 1))") s"
fi
q() { "$mdp" --log-level off query --dir "$L" --format csv "$1" | tail -n +2; }
U=$(q "SELECT CAST(user_id AS VARCHAR) FROM fact_email_events WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
E=$(python3 - "$L" "$U" <<'PY'
import csv, glob, sys
for f in sorted(glob.glob(f"{sys.argv[1]}/raw/supabase/user_profiles/*/*.csv")):
    for r in csv.DictReader(open(f, newline="")):
        if r["user_id"] == sys.argv[2]: print(r["email"]); sys.exit(0)
PY
)
files_total=$(find "$L" -type f | wc -l)
python3 "$root/tests/acceptance/dsar_scan.py" "$L" "$U" "$E" "$root/deps/node/node_modules" \
  "$root/tests/integration/parquet_rows.mjs" >"$out/before" 2>&1
holding=$(grep -c '^SURVIVOR' "$out/before")
s=$(date +%s.%N)
"$mdp" --log-level off dsar erase "$U" --dir "$L" --out "$out/cert.json" >/dev/null 2>"$out/err" \
  || { echo "erase failed: $(cat "$out/err")" >&2; exit 1; }
secs=$(python3 -c "print(round($(date +%s.%N) - $s, 2))")
python3 - "$out/cert.json" "$secs" "$holding" "$files_total" "$users" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); s = c["stores"]
secs, holding, total, users = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
raw = len(s["raw"]["rewritten"]); inplace = len(s["landing_and_quarantine"])
pq = len(s["parquet"]); sup = len(s["superseded_parquet_deleted"])
snap = 1 if s["serving_snapshot"].get("new_sha256") else 0
touched = raw + inplace + pq + sup + snap
print(f"erase of 1 user on the {users}-user lake ({total} files): {secs} s; files rewritten or "
      f"deleted {touched} (raw {raw}, landing+quarantine {inplace}, parquet {pq}, superseded "
      f"{sup}, snapshot {snap}), files holding the user's id/address/hash before: {holding} "
      f"(+ the state store, compacted); survivors after: {c['verification']['survivors']}")
ok = secs < 60 and c["verification"]["survivors"] == 0
sys.exit(0 if ok else 1)
PY
