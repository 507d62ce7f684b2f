#!/usr/bin/env bash
# `mdp cost` through the binary, over the report's fixture lake (tests/unit/report_fixture.c):
# the month's figures against hand-computed ones, the text output, usage errors, and the counters
# the pipeline leaves for the model (a query's bytes scanned, the requests in run records).
# usage: cost.sh MDP REPORT_FIXTURE
set -u
MDP=$1
FIXTURE=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

"$FIXTURE" "$T/lake" || { echo "FAIL: fixture"; exit 1; }
NOW=2026-10-16T12:00:00Z
"$MDP" --json cost --dir "$T/lake" --now "$NOW" >"$T/cost.json" 2>"$T/err" && ok || bad "cost --json: $(cat "$T/err")"
# half of October: 1 GiB stored since September (0.5 GB-months), 4 runs of 10 PUT, 20 GET,
# 1 LIST, 300 personalization requests (1 RRU + 1 WRU each); the forecast doubles the usage
python3 - "$T/cost.json" <<'EOF' && ok || bad "cost figures"
import json, sys
c = json.load(open(sys.argv[1]))
storage = 0.5 * 0.0245
requests = 44 / 1000 * 0.0054 + 80 / 1000 * 0.00043
ddb = 300 * (0.1525 + 0.7625) / 1e6
def near(a, b, what):
    assert abs(a - b) < 1e-9, (what, a, b)
near(c["usd"]["s3_storage"], storage, "storage")
near(c["usd"]["s3_requests"], requests, "requests")
near(c["usd"]["dynamodb"], ddb, "dynamodb")
near(c["usd"]["athena"], 0, "athena")
near(c["usd"]["total"], storage + requests + ddb, "total")
near(c["forecast_usd"]["s3"], storage + 0.5 * 0.0245 + 2 * requests, "s3 forecast")
near(c["forecast_usd"]["total"], storage + 0.5 * 0.0245 + 2 * requests + 2 * ddb, "total forecast")
assert c["month"] == "2026-10", c["month"]
raw = [z for z in c["storage"]["zones"] if z["zone"] == "raw"][0]
assert raw["bytes"] == 1 << 30 and raw["storage_class"] == "STANDARD", raw
assert c["usage"]["put"] == 40 and c["usage"]["get"] == 80 and c["usage"]["list"] == 4, c["usage"]
assert c["usage"]["requests_served"] == 450, c["usage"]
EOF
"$MDP" cost --dir "$T/lake" --now "$NOW" >"$T/cost.txt" 2>&1 && ok || bad "cost: $(cat "$T/cost.txt")"
grep -Eq '^total +0\.0128 +0\.0256$' "$T/cost.txt" && ok || bad "text total line: $(cat "$T/cost.txt")"
grep -Eq '^raw +STANDARD +1 +1073741824 +0\.500000$' "$T/cost.txt" && ok || bad "text raw zone line"

# usage errors and a missing lake
"$MDP" cost --now yesterday >/dev/null 2>"$T/err"; [ $? = 2 ] && grep -q -- '--now' "$T/err" && ok || bad "a bad --now is a usage error"
"$MDP" cost --bogus >/dev/null 2>&1; [ $? = 2 ] && ok || bad "an unknown option is a usage error"
"$MDP" cost --dir "$T/nolake" >/dev/null 2>"$T/err"; [ $? = 1 ] && grep -q 'nolake' "$T/err" && ok || bad "no lake: $(cat "$T/err")"
"$MDP" report >/dev/null 2>"$T/err"; [ $? = 2 ] && grep -q -- '--out' "$T/err" && ok || bad "report without --out or --json"
"$MDP" report --dir "$T/lake" --out "$T/no/such/dir/r.html" >/dev/null 2>"$T/err"; [ $? = 1 ] && grep -q 'cannot write' "$T/err" && ok || bad "report to an unwritable path: $(cat "$T/err")"
"$MDP" cost --help | grep -q 'month-end forecast' && ok || bad "cost --help"
"$MDP" report --help | grep -q 'self-contained' && ok || bad "report --help"

# a query records the bytes of the files of the tables it names
"$MDP" query --dir "$T/lake" "SELECT count(*) FROM dim_user" >/dev/null 2>"$T/err" && ok || bad "query: $(cat "$T/err")"
python3 - "$T/lake" <<'EOF' && ok || bad "the query's run record"
import glob, json, os, sys
lake = sys.argv[1]
runs = [json.loads(open(p).read()) for p in glob.glob(os.path.join(lake, "_meta/runs/*/*.json"))]
q = [r for r in runs if r["job"] == "query"]
assert len(q) == 1, q
m = os.path.join(lake, "_meta/manifests/curated/dimensions/dim_user")
cur = open(os.path.join(m, "CURRENT")).read().strip()
files = json.load(open(os.path.join(m, cur + ".json")))["files"]
want = sum(f["bytes"] for f in files)
assert want > 0 and q[0]["scanned_bytes"] == want, (q[0], want)
assert q[0]["requests"]["get"] > 0 and q[0]["requests"]["put"] >= 1, q[0]
EOF

echo "cost: $pass passed, $fail failed"
[ $fail -eq 0 ]
