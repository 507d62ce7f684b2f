#!/usr/bin/env bash
# mdp dq end to end: parse prints canonical rules or FILE:LINE:COL, eval scores a CSV whose
# outcomes were worked out by hand.
set -euo pipefail
MDP=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

printf 'Rules = [\n  IsComplete '"'"'user_id'"'"',\n  IsCompleet "x"\n]\n' > "$T/bad.dqdl"
if "$MDP" dq parse "$T/bad.dqdl" > "$T/out" 2> "$T/err"; then fail "a broken ruleset parsed"; fi
grep -qx "$T/bad.dqdl:3:3: 'IsCompleet' is not a DQDL rule type" "$T/err" || fail "error: $(cat "$T/err")"

printf 'Rules = [ IsComplete '"'"'user_id'"'"', ColumnValues "plan" in ["free","pro"] ]\n' > "$T/ok.dqdl"
"$MDP" dq parse "$T/ok.dqdl" > "$T/out"
printf 'IsComplete "user_id"\nColumnValues "plan" in ["free", "pro"]\n' | diff - "$T/out" || fail "canonical form"

# 3 rows; plan of row 3 is not allowed: IsComplete passes, ColumnValues fails, score 1/2
printf 'user_id,plan\nu1,free\nu2,pro\nu3,gold\n' > "$T/users.csv"
printf '{"null_token": "\\\\N", "tables": {"users": {"file": "users.csv", "columns": [["user_id", "string"], ["plan", "string"]]}}}\n' > "$T/m.json"
set +e
"$MDP" --json dq eval --rules "$T/ok.dqdl" --datasets "$T/m.json" --failed-rows "$T/keys.tsv" > "$T/res.json"
rc=$?
set -e
[ "$rc" = 1 ] || fail "eval exit $rc, expected 1 (a rule failed)"
python3 - "$T/res.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["score"] == 0.5 and r["passed"] == 1 and r["total"] == 2, r
a, b = r["rules"]
assert a["outcome"] == "PASS" and a["metrics"]["Column.user_id.Completeness"] == 1.0, a
assert b["outcome"] == "FAIL" and abs(b["metrics"]["Column.plan.ColumnValues.Compliance"] - 2 / 3) < 1e-12, b
assert b["failed_rows"] == 1, b
PY
printf '2\t3\tu3\n' | diff - "$T/keys.tsv" || fail "failing row keys"
echo "dq acceptance: ok"
