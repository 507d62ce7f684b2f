#!/usr/bin/env bash
# mdp dq run end to end on a small seeded lake: the dq stage of mdp run (after curate and after
# features) with its run records; a ruleset for every published curated and ml table, each with
# an exact ColumnCount that passes; dq_results appended per run with exactly its columns; the
# history behind dynamic rules and DetectAnomalies; dq.fail_stage; a broken ruleset named by
# file, line and column, changing nothing.
set -euo pipefail
MDP=$1
RULES=$2 # config/dq of the source tree
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
L=$T/lake
q() { "$MDP" query --dir "$L" --format csv "$1"; }

"$MDP" demo --dir "$L" --users 60 --days 5 > "$T/demo.out" 2> "$T/demo.err" || {
    cat "$T/demo.err" >&2; fail "demo"; }

# the dq stage ran twice (after curate: the ml tables are not published yet; after features)
"$MDP" runs --dir "$L" --json > "$T/runs.json"
python3 - "$T/runs.json" <<'PY'
import json, sys
dq = [r for r in json.load(open(sys.argv[1])) if r["job"] == "dq"]
assert len(dq) == 2, dq
assert all(r["status"] == "ok" and r["in"] > 0 for r in dq), dq
assert "2 rulesets skipped" in dq[0]["message"] and "0 rulesets skipped" in dq[1]["message"], dq
assert dq[1]["in"] > dq[0]["in"], dq
PY
q "SELECT count(DISTINCT run_id) FROM dq_results" | tail -1 | grep -qx 2 || fail "two runs in dq_results"

# exactly the documented columns and types
q "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'dq_results'" | tail -1 > "$T/cols"
echo '"run_id VARCHAR, evaluated_at TIMESTAMP, table_name VARCHAR, rule_index INTEGER, rule VARCHAR, outcome VARCHAR, metrics VARCHAR, message VARCHAR, dt DATE"' | diff - "$T/cols" || fail "dq_results columns"

# a ruleset for every published curated and ml table (views; the aliases features and segments
# are the same tables) and nothing else
q "SELECT table_name FROM information_schema.tables WHERE table_name NOT IN ('features', 'segments', 'dq_results') ORDER BY 1" | tail -n +2 > "$T/tables"
(cd "$RULES" && ls *.dqdl | sed 's/\.dqdl$//' | sort) > "$T/rulesets"
diff "$T/tables" "$T/rulesets" || fail "rulesets differ from the published tables"

"$MDP" --json dq run --dir "$L" --run-id acc-1 > "$T/run1.json"
python3 - "$T/run1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["run_id"] == "acc-1" and r["errors"] == 0, r
assert r["rules"] == r["passed"] + r["failed"], r
for t in r["tables"]:
    assert "skipped" not in t, t
    cc = [x for x in t["rules"] if x["rule"].startswith("ColumnCount = ")]
    assert len(cc) == 1 and cc[0]["outcome"] == "PASS", (t["table"], cc)
    assert cc[0]["metrics"]["Dataset.*.ColumnCount"] == int(cc[0]["rule"].split("= ")[1]), cc
names = {t["table"]: t for t in r["tables"]}
spec = [x["rule"] for x in names["fact_onboarding_steps"]["rules"]]
assert spec[:2] == ["ColumnCount = 10", 'IsComplete "user_id"'], spec
assert spec[2].startswith('ColumnValues "persona" in $personas'), spec
assert 'IsUnique "user_id"' in [x["rule"] for x in names["dim_user"]["rules"]]
PY
# the rows of that run in the lake equal what it printed
n=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['rules'])" "$T/run1.json")
q "SELECT count(*) FROM dq_results WHERE run_id = 'acc-1' AND dt = CAST(evaluated_at AS DATE)" | tail -1 | grep -qx "$n" || fail "rows of acc-1"

# own rulesets: history (ml_user_segments: no shipped rule measures its RowCount, so there is
# none yet), file rules relative to the lake, fail policies
mkdir "$T/rules"
cat > "$T/rules/ml_user_segments.dqdl" <<'DQ'
Rules = [
    RowCount = 60,
    RowCount >= avg(last(3)),
    DetectAnomalies "RowCount",
    FileSize "_meta/lake.json" > 1 B
]
DQ
cfg() { printf 'lake:\n  dir: %s\ndq:\n  rules_dir: %s\n  fail_stage: %s\n' "$L" "$T/rules" "$1" > "$T/mdp.yaml"; }
cfg on_error
set +e
"$MDP" --config "$T/mdp.yaml" --json dq run --run-id h-1 > "$T/h1.json" 2> "$T/h1.err"; rc=$?
set -e
[ "$rc" = 1 ] || fail "an ERROR with on_error: exit $rc"
python3 - "$T/h1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["tables"][0]["rules"]
assert [x["outcome"] for x in r] == ["PASS", "ERROR", "ERROR", "PASS"], r
assert "no earlier run" in r[1]["message"], r[1]
assert "at least 3 earlier runs" in r[2]["message"], r[2]
PY
cfg never
for i in 2 3 4; do "$MDP" --config "$T/mdp.yaml" dq run --run-id "h-$i" > /dev/null; done
"$MDP" --config "$T/mdp.yaml" --json dq run --run-id h-5 > "$T/h5.json"
python3 - "$T/h5.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["tables"][0]["rules"]
assert [x["outcome"] for x in r] == ["PASS"] * 4, r
# RowCount 60 in every earlier run: the expected range is [60, 60]
assert r[2]["metrics"]["Dataset.*.RowCount.LowerBound"] == 60, r[2]
PY
sed -i "s/RowCount = 60,/RowCount = 61,/" "$T/rules/ml_user_segments.dqdl"
cfg on_error
"$MDP" --config "$T/mdp.yaml" dq run > /dev/null || fail "a FAIL with on_error must not fail"
cfg on_fail
if "$MDP" --config "$T/mdp.yaml" dq run > /dev/null 2>&1; then fail "a FAIL with on_fail must fail"; fi

# a broken ruleset: file, line and column; nothing evaluated, nothing written
before=$(q "SELECT count(*) FROM dq_results" | tail -1)
printf 'Rules = [\n  RowCount > 0,\n  IsComplete "a" with threshold > 0.5\n]\n' > "$T/rules/dim_account.dqdl"
set +e
"$MDP" --config "$T/mdp.yaml" dq run > "$T/out" 2> "$T/err"; rc=$?
set -e
[ "$rc" = 1 ] || fail "broken ruleset: exit $rc"
grep -q "^$T/rules/dim_account.dqdl:3:23: IsComplete does not take .with threshold." "$T/err" || fail "error position: $(cat "$T/err")"
after=$(q "SELECT count(*) FROM dq_results" | tail -1)
[ "$before" = "$after" ] || fail "a broken ruleset wrote results ($before -> $after)"
echo "dq run acceptance: ok"
