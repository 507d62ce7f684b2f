#!/usr/bin/env bash
# Acceptance: `mdp freshness` and `mdp alarms` through the binary. A lake that never got data is
# NEVER for every source (exit 1); what ingest landed counts from then on (--now before it: NEVER
# again). A bad alarms file is named with file, line and key. A webhook answered 500 twice is
# retried and succeeds on the third attempt; one that never answers is given up after its bounded
# attempts, recorded, and the evaluation still finishes and stores the state. Actions run only on
# a change of state. Usage: alarms.sh path/to/mdp
MDP=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
cd "$T"
cat > mdp.yaml <<YAML
lake:
  dir: $T/lake
seed:
  users: 30
  days: 2
alarms:
  file: $T/alarms.yaml
  webhook_retries: 2
  webhook_timeout_ms: 400
YAML
expect_rc 0 "init" -- "$MDP" init
expect_rc 1 "freshness of an empty lake" -- "$MDP" freshness
expect_in "$T/out" "ga4        NEVER" "ga4 never delivered"
expect_in "$T/err" "7 source(s) never delivered" "the error counts them"
"$MDP" seed >/dev/null 2>&1
expect_rc 0 "ingest ga4" -- "$MDP" ingest ga4
expect_rc 1 "freshness after ga4" -- "$MDP" --json freshness
python3 - "$T/out" <<'PY' || bad "freshness JSON"
import json, sys
doc = json.load(open(sys.argv[1]))
src = {s["source"]: s for s in doc["sources"]}
assert src["ga4"]["state"] in ("OK", "LATE"), src["ga4"]
assert src["ga4"]["newest_event"] and src["ga4"]["newest_landing"], src["ga4"]
assert src["supabase"]["state"] == "NEVER" and src["supabase"]["age_s"] is None
assert all(len(s["daily"]) == 30 for s in doc["sources"])
assert src["ga4"]["sla_s"] == 86400 and src["ddb"]["sla_s"] == 300 and src["ses"]["sla_s"] == 60
PY
expect_rc 1 "freshness before the landing" -- "$MDP" freshness --now 2026-01-01T00:00:00Z
expect_in "$T/out" "ga4        NEVER" "nothing landed before --now"
expect_rc 2 "a bad --now" -- "$MDP" freshness --now yesterday

# a strict alarms file: the key is named with its line
cat > "$T/alarms.yaml" <<'YAML'
alarms:
  - name: job_failure
    metric: runs.failed
    statistic: Sum
    period: 3600
    evaluation_periods: 1
    threshold: 0
    comparison_operator: GreaterThanThreshold
    treat_missing_data: notbreaching
YAML
expect_rc 1 "bad alarms file" -- "$MDP" alarms check
expect_in "$T/err" "alarms.yaml:9:25: alarm 'job_failure': 'treat_missing_data': 'notbreaching' is not one of" "names line and key"

# a web server that answers 500 twice, then 200; and one that never answers
cat > "$T/hooks.py" <<'PY'
import http.server, socket, sys, threading, time
log = open(sys.argv[1], "a")
class H(http.server.BaseHTTPRequestHandler):
    n = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        H.n += 1
        log.write("%d %s\n" % (H.n, body.decode())); log.flush()
        self.send_response(500 if H.n <= 2 else 200); self.end_headers()
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
silent = socket.socket(); silent.bind(("127.0.0.1", 0)); silent.listen(16)
held = []
def hold():
    while True:
        c, _ = silent.accept(); held.append(c)  # read nothing, answer nothing
threading.Thread(target=hold, daemon=True).start()
open(sys.argv[2], "w").write("%d %d\n" % (srv.server_address[1], silent.getsockname()[1]))
srv.serve_forever()
PY
python3 "$T/hooks.py" "$T/hooks.log" "$T/ports" &
HOOKS=$!
trap 'kill $HOOKS 2>/dev/null; [ -n "${SERVE:-}" ] && kill $SERVE 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -s "$T/ports" ] && break; sleep 0.1; done
read -r FLAKY SILENT < "$T/ports"
cat > "$T/alarms.yaml" <<YAML
alarms:
  - name: job_failure
    metric: runs.failed
    statistic: Sum
    period: 3600
    evaluation_periods: 1
    threshold: 0
    comparison_operator: GreaterThanThreshold
    treat_missing_data: notBreaching
    alarm_actions:
      - webhook: http://127.0.0.1:$FLAKY/hook?token=s3cret
  - name: quarantine_share
    metric: ingest.quarantine_pct
    statistic: Maximum
    period: 3600
    evaluation_periods: 1
    threshold: -1
    comparison_operator: GreaterThanThreshold
    alarm_actions:
      - webhook: http://127.0.0.1:$SILENT/never
      - command: echo "\$MDP_ALARM_NAME \$MDP_ALARM_STATE" >> $T/commands.log
YAML
expect_rc 0 "alarms check" -- "$MDP" alarms check
expect_in "$T/out" "2 alarms defined" "both parsed"
# a failed run 30 minutes before --now
mkdir -p lake/_meta/runs/dt=2026-11-01
cat > lake/_meta/runs/dt=2026-11-01/019a0000-0000-7000-8000-000000000001.json <<'JSON'
{"run_id":"019a0000-0000-7000-8000-000000000001","job":"curate","status":"failed","start":"2026-11-01T09:29:00.000Z","end":"2026-11-01T09:30:00.000Z","duration_ms":60000,"in":0,"out":0,"quarantined":0,"duplicates":0,"bytes":0,"message":"boom","newest_event":null}
JSON
cat > lake/_meta/runs/dt=2026-11-01/019a0000-0000-7000-8000-000000000002.json <<'JSON'
{"run_id":"019a0000-0000-7000-8000-000000000002","job":"ingest.ses","status":"ok","start":"2026-11-01T09:29:00.000Z","end":"2026-11-01T09:31:00.000Z","duration_ms":60000,"in":10,"out":9,"quarantined":1,"duplicates":0,"bytes":5,"message":"","newest_event":null}
JSON
start=$(date +%s)
expect_rc 0 "alarms eval" -- "$MDP" alarms eval --now 2026-11-01T10:00:00Z
took=$(( $(date +%s) - start ))
[ "$took" -lt 20 ] && ok || bad "alarms eval took ${took}s with a silent webhook (bounded: 3 x 0.4 s + backoff)"
expect_in "$T/out" "job_failure                  ALARM             (was INSUFFICIENT_DATA)" "job failure alarms"
expect_in "$T/out" "quarantine_share             ALARM" "quarantine alarms"
expect_in "$T/out" "an action failed" "the silent webhook is reported"
[ "$(wc -l < "$T/hooks.log")" = 3 ] && ok || bad "flaky webhook: $(wc -l < "$T/hooks.log") requests, want 3"
expect_in "$T/hooks.log" '3 {"AlarmName":"job_failure"' "the notification names the alarm"
expect_in "$T/hooks.log" '"NewStateValue":"ALARM","OldStateValue":"INSUFFICIENT_DATA"' "and the change"
expect_rc 0 "alarms history" -- "$MDP" --json alarms history
python3 - "$T/out" <<'PY' || bad "history JSON"
import json, sys
h = {c["alarm"]: c for c in json.load(open(sys.argv[1]))["history"]}
a = h["job_failure"]["actions"]
assert a == [a[0]] and a[0]["type"] == "webhook" and a[0]["ok"] is True and a[0]["attempts"] == 3, a
assert a[0]["host"] == "127.0.0.1:%s" % open(sys.argv[1].replace("out", "ports")).read().split()[0], a
q = h["quarantine_share"]["actions"]
assert q[0]["ok"] is False and q[0]["attempts"] == 3 and "imeout" in q[0]["error"], q
assert q[1] == {"type": "command", "ok": True, "ms": q[1]["ms"], "exit": 0}, q
PY
if grep -rq "s3cret" lake/_meta/alarms; then bad "the webhook's query (a secret) was recorded"; else ok; fi
expect_in "$T/commands.log" "quarantine_share ALARM" "the command ran with the change in its environment"
# the same instant again: no change, so no action
expect_rc 0 "alarms eval again" -- "$MDP" alarms eval --now 2026-11-01T10:00:00Z
[ "$(wc -l < "$T/hooks.log")" = 3 ] && ok || bad "an action ran without a change of state"
[ "$(wc -l < "$T/commands.log")" = 1 ] && ok || bad "a command ran without a change of state"
expect_rc 0 "alarms list" -- "$MDP" --json alarms list --now 2026-11-01T10:00:00Z
expect_in "$T/out" '"name":"job_failure","metric":"runs.failed","state":"ALARM"' "list shows the state"
expect_rc 0 "history of one alarm" -- "$MDP" alarms history --alarm job_failure
expect_in "$T/out" "job_failure                  INSUFFICIENT_DATA -> ALARM" "one line"
expect_rc 1 "unknown alarm" -- "$MDP" alarms eval --alarm nope
expect_rc 2 "unknown subcommand" -- "$MDP" alarms silence

# the service leaves its latency figures in the lake; the latency alarm reads them
cat >> mdp.yaml <<YAML
serve:
  listen: 127.0.0.1:0
  metrics_snapshot_seconds: 1
YAML
"$MDP" serve >"$T/serve.out" 2>"$T/serve.err" &
SERVE=$!
for _ in $(seq 100); do grep -q "listening on" "$T/serve.out" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$T/serve.out" | head -1)
for _ in 1 2 3 4 5 6 7 8; do curl -s "$URL/healthz" >/dev/null; done
sleep 1.5
kill -TERM $SERVE; wait $SERVE
ls lake/_meta/metrics/serve/dt=*/*.json >/dev/null 2>&1 && ok || bad "no metrics snapshot in the lake"
python3 - lake/_meta/metrics/serve <<'PY' || bad "snapshot format"
import glob, json, sys
snaps = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + "/dt=*/*.json"))]
assert sum(s["interval"]["requests"] for s in snaps) == 8, [s["interval"] for s in snaps]
last = snaps[-1]
h = [r for r in last["routes"] if r["route"] == "/healthz"][0]
assert h["requests"] == 8 and sum(h["hist"]) == 8 and h["status"]["2xx"] == 8, h
assert len(last["buckets_le_s"]) == len(h["hist"]) and last["buckets_le_s"][-1] is None
busy = [s for s in snaps if s["interval"]["requests"]]
assert all(0 < s["interval"]["p99_ms"] <= 1000 for s in busy), busy
PY
cat > "$T/alarms.yaml" <<'YAML'
alarms:
  - name: serve_latency_p99
    metric: serve.latency_p99_ms
    statistic: Maximum
    period: 60
    evaluation_periods: 1
    threshold: 0
    comparison_operator: GreaterThanThreshold
  - name: s3_storage_cost
    metric: cost.s3_usd_month_forecast
    statistic: Maximum
    period: 86400
    evaluation_periods: 1
    threshold: -1
    comparison_operator: GreaterThanThreshold
YAML
expect_rc 0 "latency alarm" -- "$MDP" alarms eval
expect_in "$T/out" "serve_latency_p99            ALARM" "a p99 above 0 ms breaches a 0 ms threshold"
expect_in "$T/out" "s3_storage_cost              ALARM" "the cost model's forecast reaches the alarm"
# a damaged snapshot ("time": null, a null route name) is skipped, not a crash
day=$(ls -d lake/_meta/metrics/serve/dt=* | tail -1)
printf '{"time":null,"interval":{"requests":1,"p99_ms":5},"routes":[{"route":null,"interval":{}}]}' \
  >"$day/zz-damaged.json"
expect_rc 0 "latency alarm beside a damaged snapshot" -- "$MDP" alarms eval
expect_in "$T/out" "serve_latency_p99            ALARM" "the good snapshots still count"
finish alarms
