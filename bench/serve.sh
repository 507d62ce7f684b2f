#!/usr/bin/env bash
# Benchmark of `mdp serve` with wrk on this machine: the bare libmicrohttpd baseline
# (bench_mhd_bare: a fixed 200-byte JSON, the same daemon options as ours) and our /v1/personalize
# (a snapshot of MDP_BENCH_USERS users, default 100,000; warm bandit state) in the same run:
# requests/s, p50, p99 and the ratios (issue 16's targets: at least 0.9x the baseline's
# requests/s under the same requests and p99 at most 2x the baseline's, both under 64 connections;
# p50 under 0.3 ms and p99 at most 2x the baseline's under a light load of 4 connections, since
# at 64 the median is the queue: 64 / throughput), once with server and load sharing both cores
# (wrk -t2 -c64) and once pinned (servers on CPU 0, so one worker thread each, wrk on CPU 1);
# then /v1/events with batches of 100 events, durable before each answer (target: at least
# 100,000 events/s; its p50 and p99 are reported).
# The baseline is measured twice per round: with wrk's plain request (GET /, no script), and with
# the very requests sent to /v1/personalize (the same Lua script: user ids from the snapshot, the
# Authorization header; the bare server ignores them). The second is the like-for-like ratio: on
# shared cores wrk's own per-request work takes CPU from the server.
# Usage: bench/serve.sh path/to/build   (make bench runs it)
# Environment: MDP_BENCH_USERS, WRK_SECONDS (per wrk run, default 10), ROUNDS (best of, default 3);
# QUICK=1: 10,000 users, 2-second runs, best of 2 (the whole script in well under a minute);
# MDP_BENCH_SUMMARY=FILE: appends one line per figure, name TAB ours TAB baseline TAB ratio TAB
# target TAB PASS|FAIL (make bench's summary table).
set -euo pipefail
B=${1:?usage: serve.sh BUILD}
MDP=$B/mdp
if [ "${QUICK:-0}" = 1 ]; then
  export MDP_BENCH_USERS=${MDP_BENCH_USERS:-10000}
  SECS=${WRK_SECONDS:-2}
  ROUNDS=${ROUNDS:-2}
else
  SECS=${WRK_SECONDS:-10}
  ROUNDS=${ROUNDS:-3}
fi
command -v wrk >/dev/null || { echo "serve.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
T=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; rm -rf "$T"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# "Requests/sec", and the 50% / 99% latency in ms, from wrk --latency
parse() {
  python3 - "$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
def ms(p):
    v, u = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)\b" % p, t).groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(rps, ms(50), ms(99), errs.group(1) if errs else 0)
PY
}

"$B/bench/bench_serve_prep" "$T/lake" "$T/ids.lua"
key=$("$MDP" --json serve key new --name bench --scopes collect+personalize)
tok=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["key"])' "$key")
item=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["config_item"])' "$key")
port=$(free_port)
cat >"$T/mdp.yaml" <<YAML
lake:
  dir: $T/lake
log:
  level: warn
serve:
  listen: 127.0.0.1:$port
  keys: ["$item"]
  max_in_flight: 4096
YAML

# the requests are formatted once, up front: wrk's per-request work is a table lookup
cat >"$T/pz.lua" <<LUA
dofile("$T/ids.lua")
wrk.headers["Authorization"] = "Bearer $tok"
local reqs, i = {}, 0
for k = 1, #ids do
  reqs[k] = wrk.format("GET", "/v1/personalize?surface=onboarding_tip&user_id=" .. ids[k])
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
LUA
# Starts the baseline and the service (under $1, e.g. "taskset -c 0"), lets them alternate ROUNDS
# times with wrk (under $2, with $3 threads; this machine's throughput drifts), keeps each one's
# best round (b_*: baseline, plain request; q_*: baseline, the same requests; p_*: ours), stops them.
best() { # $1 prefix, then rps p50 p99 non-2xx: keeps the round with more requests/s
  local v="$1_rps"
  if python3 -c "import sys; sys.exit(0 if $2 > ${!v} else 1)"; then
    printf -v "$1_rps" %s "$2"
    printf -v "$1_p50" %s "$3"
    printf -v "$1_p99" %s "$4"
    printf -v "$1_err" %s "$5"
  fi
}
# the CPU time (user + system, clock ticks) a process has used, and the requests of a wrk output
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
nreq() { grep -oE '[0-9]+ requests in' "$1" | cut -d' ' -f1; }
pair() {
  local bport bpid spid c0
  bport=$(free_port)
  $1 "$B/bench/bench_mhd_bare" "$bport" >"$T/bare.out" &
  bpid=$!
  $1 "$MDP" --config "$T/mdp.yaml" serve >"$T/serve.out" 2>"$T/serve.err" &
  spid=$!
  pids+=($bpid $spid)
  for _ in $(seq 100); do grep -q listening "$T/serve.out" && break; sleep 0.1; done
  b_rps=0 q_rps=0 p_rps=0 l_rps=0 m_rps=0 q_cpu=0 q_n=0 p_cpu=0 p_n=0
  for _ in $(seq "$ROUNDS"); do
    $2 wrk -t"$3" -c64 -d"${SECS}s" --latency "http://127.0.0.1:$bport/" >"$T/bare.txt"
    best b $(parse "$T/bare.txt")
    c0=$(cpu $bpid)
    $2 wrk -t"$3" -c64 -d"${SECS}s" --latency -s "$T/pz.lua" "http://127.0.0.1:$bport" >"$T/bareq.txt"
    q_cpu=$((q_cpu + $(cpu $bpid) - c0)) q_n=$((q_n + $(nreq "$T/bareq.txt")))
    best q $(parse "$T/bareq.txt")
    c0=$(cpu $spid)
    $2 wrk -t"$3" -c64 -d"${SECS}s" --latency -s "$T/pz.lua" "http://127.0.0.1:$port" >"$T/pz.txt"
    p_cpu=$((p_cpu + $(cpu $spid) - c0)) p_n=$((p_n + $(nreq "$T/pz.txt")))
    best p $(parse "$T/pz.txt")
    # the latency at a light load: 4 connections, each waiting for its answer (at 64 the median
    # is 64 / throughput by Little's law, the queue's length, not the service's latency)
    $2 wrk -t1 -c4 -d"${SECS}s" --latency -s "$T/pz.lua" "http://127.0.0.1:$bport" >"$T/lq.txt"
    best l $(parse "$T/lq.txt")
    $2 wrk -t1 -c4 -d"${SECS}s" --latency -s "$T/pz.lua" "http://127.0.0.1:$port" >"$T/lp.txt"
    best m $(parse "$T/lp.txt")
  done
  kill -TERM $bpid $spid 2>/dev/null
  wait $bpid $spid 2>/dev/null || true
}
# prints the round's figures; with MDP_BENCH_SUMMARY appends them as summary lines (name prefix $2)
report() {
  python3 - "$1" "$2" "$ROUNDS" "$(getconf CLK_TCK)" "$q_cpu" "$q_n" "$p_cpu" "$p_n" "$b_rps" "$b_p50" "$b_p99" "$q_rps" "$q_p50" "$q_p99" "$p_rps" "$p_p50" "$p_p99" "$p_err" "$l_rps" "$l_p50" "$l_p99" "$m_rps" "$m_p50" "$m_p99" "$m_err" <<'PY'
import os, sys
mode, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
tck, q_cpu, q_n, p_cpu, p_n = map(float, sys.argv[4:9])
b_rps, b_p50, b_p99, q_rps, q_p50, q_p99, p_rps, p_p50, p_p99, p_err = map(float, sys.argv[9:19])
l_rps, l_p50, l_p99, m_rps, m_p50, m_p99, m_err = map(float, sys.argv[19:])
# the server process's CPU time per request over all rounds: steadier than requests/s on a
# machine shared with other work (what the others take changes the throughput, not this)
q_us, p_us = q_cpu / tck * 1e6 / max(q_n, 1), p_cpu / tck * 1e6 / max(p_n, 1)
users = int(os.environ.get("MDP_BENCH_USERS", "100000"))
print(f"[{mode}] bare libmicrohttpd (fixed 200-byte JSON), plain request, best of {rounds}: {b_rps:,.0f} req/s, p50 {b_p50:.3f} ms, p99 {b_p99:.3f} ms")
print(f"[{mode}] bare libmicrohttpd, the same requests as ours, best of {rounds}: {q_rps:,.0f} req/s, p50 {q_p50:.3f} ms, p99 {q_p99:.3f} ms")
print(f"[{mode}] mdp serve /v1/personalize ({users:,}-user snapshot, warm bandit), best of {rounds}: {p_rps:,.0f} req/s, p50 {p_p50:.3f} ms, p99 {p_p99:.3f} ms, non-2xx {p_err:.0f}")
r, r99 = p_rps / q_rps, p_p99 / q_p99
print(f"[{mode}] ratio requests/s to the baseline with the same requests: {r:.2f} (target >= 0.90); "
      f"to the plain request: {p_rps / b_rps:.2f}; p50 {p_p50:.3f} ms (the baseline's {q_p50:.3f}); "
      f"p99 ratio {r99:.2f} (target <= 2.0)")
print(f"[{mode}] light load (wrk -t1 -c4), best of {rounds}: bare {l_rps:,.0f} req/s, p50 {l_p50:.3f} ms, "
      f"p99 {l_p99:.3f} ms; ours {m_rps:,.0f} req/s, p50 {m_p50:.3f} ms (target < 0.3), p99 {m_p99:.3f} ms "
      f"(ratio {m_p99 / l_p99:.2f}, target <= 2.0)")
print(f"[{mode}] server CPU per request, all rounds, the same requests: bare {q_us:.2f} us, ours {p_us:.2f} us "
      f"(ratio {p_us / q_us:.2f})")
out = os.environ.get("MDP_BENCH_SUMMARY")
if out:
    ok = lambda c: "PASS" if c else "FAIL"
    with open(out, "a") as f:
        f.write(f"{name} req/s\t{p_rps:.0f}\t{q_rps:.0f}\t{r:.2f}\t>=0.9\t{ok(r >= 0.9 and p_err == 0)}\n")
        # at 64 connections the median is the queue (Little's law): reported beside the baseline's
        f.write(f"{name} p50 ms c64\t{p_p50:.3f}\t{q_p50:.3f}\t{p_p50 / q_p50:.2f}\t-\tPASS\n")
        f.write(f"{name} p99 ms c64\t{p_p99:.3f}\t{q_p99:.3f}\t{r99:.2f}\t<=2x\t{ok(r99 <= 2.0)}\n")
        f.write(f"{name} p50 ms c4\t{m_p50:.3f}\t{l_p50:.3f}\t{m_p50 / l_p50:.2f}\t<0.3\t{ok(m_p50 < 0.3 and m_err == 0)}\n")
        f.write(f"{name} p99 ms c4\t{m_p99:.3f}\t{l_p99:.3f}\t{m_p99 / l_p99:.2f}\t<=2x\t{ok(m_p99 / l_p99 <= 2.0)}\n")
        # reported, no target of its own (the requests/s target is its inverse on idle cores)
        f.write(f"{name} cpu us/req\t{p_us:.2f}\t{q_us:.2f}\t{p_us / q_us:.2f}\t-\tPASS\n")
PY
}
# as the issue names it: server and load share both cores (wrk -t2 -c64)
pair "" "" 2
report "shared cores, wrk -t2" "serve personalize"
# the server's own efficiency: server (and baseline) on CPU 0, wrk -t1 on CPU 1
pair "taskset -c 0" "taskset -c 1" 1
report "pinned: server CPU 0, wrk CPU 1" "serve personalize pinned"

"$MDP" --config "$T/mdp.yaml" serve >"$T/serve.out" 2>"$T/serve.err" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$T/serve.out" && break; sleep 0.1; done
python3 - "$T/events.lua" "$tok" <<'PY'
import json, sys, time, uuid
evs = []
for i in range(100):
    ms = int(time.time() * 1000)
    u = uuid.UUID(int=(ms << 80) | (7 << 76) | (i << 64) | (2 << 62) | uuid.uuid4().int % (1 << 62))
    evs.append({"event_id": str(u), "user_id": "01a106a4-8862-77fd-8bdf-4732fe0034d5",
                "timestamp": "2026-11-27T07:00:00Z", "event_type": "page_view", "properties": {}})
body = json.dumps(evs).replace("\\", "\\\\").replace('"', '\\"')
open(sys.argv[1], "w").write(f'''wrk.method = "POST"
wrk.body = "{body}"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {sys.argv[2]}"
''')
PY
wrk -t2 -c64 -d"${SECS}s" --latency -s "$T/events.lua" "http://127.0.0.1:$port/v1/events" >"$T/ev.txt"
read -r e_rps e_p50 e_p99 e_err < <(parse "$T/ev.txt")
objects=$(ls "$T/lake/raw/events/app_events/"*/ | wc -l)

python3 - "$e_rps" "$e_p50" "$e_p99" "$e_err" "$objects" <<'PY'
import os, sys
e_rps, e_p50, e_p99, e_err, objs = map(float, sys.argv[1:])
print(f"mdp serve /v1/events (batches of 100, fsync'd before 202): {e_rps * 100:,.0f} events/s "
      f"({e_rps:,.0f} req/s, p50 {e_p50:.2f} ms, p99 {e_p99:.2f} ms, non-2xx {e_err:.0f}, {objs:.0f} raw objects) "
      f"(target >= 100,000)")
out = os.environ.get("MDP_BENCH_SUMMARY")
if out:
    with open(out, "a") as f:
        ok = e_rps * 100 >= 100000 and e_err == 0
        f.write(f"serve events/s\t{e_rps * 100:.0f}\t-\t-\t>=100000\t{'PASS' if ok else 'FAIL'}\n")
        # reported, no target: it passes when every batch was answered 202
        f.write(f"serve events p99 ms\t{e_p99:.2f}\t-\t-\t-\t{'PASS' if e_err == 0 else 'FAIL'}\n")
PY
kill -TERM "${pids[-1]}" && wait "${pids[-1]}" || true
