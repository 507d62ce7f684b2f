#!/usr/bin/env bash
# `mdp report` in a real browser: builds the fixture lake (tests/unit/report_fixture.c), writes the
# HTML report and its --json, loads the page in Debian's headless Chromium with no network, and
# checks that the script ran without a console message or error and that every chart has exactly
# one SVG point per data point of the JSON. Never skipped: scripts/install-deps.sh installs
# chromium; without it this test fails.
# usage: report_browser.sh MDP REPORT_FIXTURE
set -u
MDP=$1
FIXTURE=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

CHROMIUM=${MDP_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "FAIL: $CHROMIUM not found (scripts/install-deps.sh installs Debian's chromium)"
  exit 1
fi
NOW=2026-10-16T12:00:00Z
"$FIXTURE" "$T/lake" || { echo "FAIL: fixture"; exit 1; }
# alarm states and history: the shipped alarms evaluated on three days (no actions)
for t in 2026-10-14T12:00:00Z 2026-10-15T12:00:00Z "$NOW"; do
  "$MDP" alarms eval --dir "$T/lake" --now "$t" --no-actions >/dev/null 2>"$T/err" || bad "alarms eval: $(cat "$T/err")"
done
"$MDP" report --dir "$T/lake" --now "$NOW" --out "$T/report.html" >"$T/out" 2>"$T/err" && ok || bad "report: $(cat "$T/err")"
"$MDP" --json report --dir "$T/lake" --now "$NOW" >"$T/report.json" 2>"$T/err" && ok || bad "report --json: $(cat "$T/err")"
[ -s "$T/report.html" ] && ok || bad "no report.html"

# self-contained: nothing to fetch (no src/href attribute, no URL but the SVG namespace)
grep -Eq '(src|href)=' "$T/report.html" && bad "the page references a resource" || ok
grep -Eo 'https?://[^" ]*' "$T/report.html" | grep -v '^http://www.w3.org/2000/svg$' | grep -q . &&
  bad "the page holds a URL: $(grep -Eo 'https?://[^" ]*' "$T/report.html" | sort -u | tr '\n' ' ')" || ok

# the page as the browser left it after its scripts ran; console messages go to stderr
render() {
  local prof
  prof=$(mktemp -d "$T/prof.XXXX")
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$prof" \
    --enable-logging=stderr --v=0 --virtual-time-budget=5000 --dump-dom "file://$1" >"$2" 2>"$3"
}
render "$T/report.html" "$T/dom.html" "$T/chrome.err" && ok || bad "chromium exited $?: $(tail -3 "$T/chrome.err")"
grep -q 'data-rendered="ok"' "$T/dom.html" && ok || bad "the page's script did not finish: $(grep -o 'class="error">[^<]*' "$T/dom.html")"
grep -E 'CONSOLE|Uncaught|Content Security Policy' "$T/chrome.err" >"$T/console" 
[ -s "$T/console" ] && bad "console messages: $(head -5 "$T/console")" || ok

# every chart: SVG points (class "pt") against the JSON's data points
python3 - "$T/report.json" "$T/dom.html" "$T/report.html" >"$T/charts" <<'EOF'
import json, re, sys
r = json.load(open(sys.argv[1]))
dom = open(sys.argv[2]).read()
def points(chart):
    m = re.search(r'<svg[^>]*data-chart="%s"[^>]*>(.*?)</svg>' % re.escape(chart), dom, re.S)
    if not m:
        return 0
    return len(re.findall(r'<(?:circle|rect)[^>]*class="pt"', m.group(1)))
fresh = (r.get("freshness") or {}).get("sources") or []
alarms = (r.get("alarms") or {}).get("alarms") or []
want = {
    "sla": sum(len(s.get("daily") or []) for s in fresh),
    "dq-trend": sum(len(t["runs"]) for t in r["dq"]["tables"]),
    "violations": len(r["dq"]["daily"]),
    "cost": 8,
    "alarms": sum(len(a.get("history") or []) for a in alarms),
    "quarantine": len(r["quarantine"]["sources"]),
    "latency": 3 * len(r["latency"]["routes"]),
    "latency-trend": len(r["latency"]["p99_trend"]),
}
for chart, n in want.items():
    print(chart, n, points(chart))
# the values too: each point's data-y is the JSON's figure
ys = [float(y) for y in re.findall(r'data-chart="dq-trend".*?</svg>', dom, re.S) and
      re.findall(r'class="pt"[^>]*data-y="([0-9.]+)"', re.search(r'data-chart="dq-trend".*?</svg>', dom, re.S).group(0))]
exp = [run["score"] for t in r["dq"]["tables"] for run in t["runs"]]
print("dq-values", len(exp), sum(1 for a, b in zip(sorted(ys), sorted(exp)) if abs(a - b) < 1e-9))
# the cost bars carry the JSON's dollars, in the page's order
cost = re.search(r'data-chart="cost".*?</svg>', dom, re.S).group(0)
got = [float(y) for y in re.findall(r'class="pt"[^>]*data-y="([-0-9.e]+)"', cost)]
u, f = r["cost"]["usd"], r["cost"]["forecast_usd"]
exp = [u["s3_storage"] + u["s3_requests"], f["s3"], u["athena"], f["athena"], u["dynamodb"],
       f["dynamodb"], u["total"], f["total"]]
print("cost-values", len(exp), sum(1 for a, b in zip(got, exp) if abs(a - b) <= 1e-12 + 1e-9 * abs(b)))
# the page embeds exactly the document --json prints
m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', open(sys.argv[3]).read(), re.S)
print("embedded-json", 1, 1 if m and json.loads(m.group(1)) == r else 0)
EOF
while read -r chart want got; do
  [ "$want" = "$got" ] && ok || bad "chart $chart: $got points, the JSON has $want"
done <"$T/charts"
# the fixture fills these charts: they must not be empty
for c in sla dq-trend violations cost alarms quarantine latency latency-trend; do
  grep -q "^$c [1-9]" "$T/charts" && ok || bad "chart $c has no data in the fixture"
done

# a broken page is caught: the same page with a script error must fail the checks above
sed 's|render(JSON.parse|undefinedFunction(); render(JSON.parse|' "$T/report.html" >"$T/broken.html"
render "$T/broken.html" "$T/dom2.html" "$T/chrome2.err"
grep -q 'data-rendered="ok"' "$T/dom2.html" && bad "a script error went unnoticed" || ok
grep -q 'Uncaught' "$T/chrome2.err" && ok || bad "the console did not show the script error"

echo "report_browser: $pass passed, $fail failed"
[ $fail -eq 0 ]
