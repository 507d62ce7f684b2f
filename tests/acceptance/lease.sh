#!/usr/bin/env bash
# Acceptance of the lake's lease (docs/lake.md, "One writer at a time"): while another job holds
# it, every writing command exits 75 naming the holder and changes nothing, and the reading ones
# still work; --wait and lake.lease_wait_seconds wait for a lease that lapses; a lease left by a
# process of this host that is gone is taken over at once, one of a live process is not; a running
# job renews its lease, and one whose lease another job took exits 1 saying so and publishes
# nothing after it found out.
# Usage: lease.sh /path/to/mdp
MDP=${1:?usage: lease.sh /path/to/mdp}
source "$(dirname "$0")/lib.sh"
L=$T/lake
DB=$L/_meta/state.sqlite
CFG=$T/mdp.yaml
GOV="governance:
  inventory: $ROOT/config/inventory.yaml"
printf 'lake:\n  dir: %s\nseed:\n  users: 200\n  days: 10\n%s\n' "$L" "$GOV" >"$CFG"
m() { "$MDP" --config "$CFG" "$@"; }

# the lease's item: prints lease_until holder (spaces as +) host pid, or "none"
lease() {
  python3 - "$DB" <<'EOF'
import json, sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(
    "SELECT body FROM items WHERE tbl = 'leases' AND pk = 'lake'").fetchone()
if r is None:
    print("none")
else:
    b = json.loads(r[0])
    print(b["lease_until"], b["holder"].replace(" ", "+"), b["host"], b["pid"])
EOF
}
# plants a lease held by another job: $1 seconds from now (lease_until), $2 host, $3 pid
plant() {
  python3 - "$DB" "$1" "$2" "$3" <<'EOF'
import json, sqlite3, sys, time
db, secs, host, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
until = int(time.time()) + secs
body = json.dumps({"lease_until": until, "holder": "ingest ga4", "host": host, "pid": pid,
                   "since": "2026-12-01T00:00:00.000Z"})
c = sqlite3.connect(db)
c.execute("INSERT OR REPLACE INTO items (tbl, pk, sk, body, expires_at) VALUES "
          "('leases', 'lake', '-', ?, ?)", (body, until + 86400))
c.commit()
EOF
}
# every file of the lake with its checksum, the state store and the landing folder left out
snapshot() { (cd "$L" && find . -path ./landing -prune -o -path ./_meta/state.sqlite\* -prune -o -type f -print0 | sort -z | xargs -0 md5sum) >"$1"; }

m init >/dev/null 2>&1 || bad "init"
m seed >/dev/null 2>&1 || bad "seed"
m run >"$T/run.out" 2>"$T/run.err" || bad "run: $(tail -c 300 "$T/run.err")"

# a finished job leaves the lease released, saying who held it last
read -r until holder host pid <<<"$(lease)"
[ "$until" = 0 ] && ok || bad "after run, lease_until $until, want 0 (released)"
[ "$holder" = run ] && ok || bad "after run, the last holder is '$holder', want run"
expect_rc 0 "lake lease, released" -- m lake lease
expect_in "$T/out" "free: last held by \`run\` (process $pid on $host)" "lake lease names the last holder"

# ---- another host's job holds it: every writing command refuses, changing nothing
# a person the lake knows (an unknown one is refused before the lease: exit 1, nothing written)
u=$(m query --format csv "SELECT CAST(user_id AS VARCHAR) FROM dim_user ORDER BY 1 LIMIT 1" 2>/dev/null | tail -1)
[ -n "$u" ] && ok || bad "no user in dim_user"
plant 300 other-host 4242
snapshot "$T/before"
for cmd in "ingest events" "curate" "run" "segments" "features" "dq run" "retention apply" \
  "dsar erase $u" "lake vacuum"; do
  # shellcheck disable=SC2086
  expect_rc 75 "$cmd while another job holds the lease" -- m $cmd
  expect_in "$T/err" "the lake is busy: \`ingest ga4\` (process 4242 on other-host)" "$cmd: names the holder"
  expect_in "$T/err" "--wait" "$cmd: says how to wait"
done
snapshot "$T/after"
cmp -s "$T/before" "$T/after" && ok || bad "the refused commands changed the lake: $(diff "$T/before" "$T/after" | head -5)"
read -r _ holder host _ <<<"$(lease)"
[ "$holder $host" = "ingest+ga4 other-host" ] && ok || bad "the refused commands touched the lease: $holder $host"
# reading commands do not need it
expect_rc 0 "query while the lease is held" -- m query "SELECT count(*) FROM dim_user"
expect_rc 0 "retention plan while the lease is held" -- m retention plan
expect_rc 0 "lake vacuum --dry-run while the lease is held" -- m lake vacuum --dry-run
expect_rc 0 "runs while the lease is held" -- m runs
expect_rc 0 "lake lease while it is held" -- m lake lease
expect_in "$T/out" "held by \`ingest ga4\` (process 4242 on other-host) since 2026-12-01T00:00:00.000Z" "lake lease names the holder"
expect_rc 0 "lake lease --json" -- m --json lake lease
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["held"] and j["holder"] == "ingest ga4" and j["pid"] == 4242 and j["host"] == "other-host" else 1)' "$T/out" \
  && ok || bad "lake lease --json: $(cat "$T/out")"

# ---- waiting: a lease that lapses in 3 s is waited for; one that does not is given up on
plant 3 other-host 4242
t0=$(date +%s)
expect_rc 0 "--wait 30 curate, the lease lapsing in 3 s" -- m --wait 30 curate
t1=$(date +%s)
[ $((t1 - t0)) -ge 2 ] && ok || bad "curate did not wait for the lease ($((t1 - t0)) s)"
plant 300 other-host 4242
t0=$(date +%s)
expect_rc 75 "--wait 2 curate, the lease held for 5 minutes" -- m --wait 2 curate
t1=$(date +%s)
[ $((t1 - t0)) -ge 2 ] && [ $((t1 - t0)) -le 20 ] && ok || bad "--wait 2 gave up after $((t1 - t0)) s"
printf 'lake:\n  dir: %s\n  lease_wait_seconds: 30\n%s\n' "$L" "$GOV" >"$T/wait.yaml"
plant 3 other-host 4242
expect_rc 0 "lake.lease_wait_seconds 30, the lease lapsing in 3 s" -- "$MDP" --config "$T/wait.yaml" curate
expect_rc 2 "--wait with a bad number" -- m --wait soon curate

# ---- this host: a holder that is gone is taken over at once; a live one is not
me=$(python3 -c 'import socket; print(socket.gethostname())')
sleep 0 &
gone=$!
wait $gone
plant 300 "$me" "$gone"
expect_rc 0 "curate, the lease held by a process of this host that is gone" -- m curate
read -r until holder _ <<<"$(lease)"
[ "$until $holder" = "0 curate" ] && ok || bad "after taking over: $until $holder"
sleep 60 &
live=$!
plant 300 "$me" "$live"
expect_rc 75 "curate, the lease held by a live process of this host" -- m curate
kill $live 2>/dev/null
wait $live 2>/dev/null

# ---- a lease item that is not a lease's: a clear error naming the way out, which works
python3 - "$DB" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE items SET body = 'garbage{' WHERE tbl = 'leases'")
c.commit()
EOF
expect_rc 1 "curate with a broken lease item" -- m curate
expect_in "$T/err" "mdp lake lease --break" "names the way out"
expect_rc 1 "lake lease with a broken item" -- m lake lease
expect_in "$T/err" "not a lease's item" "says what is wrong"
expect_rc 0 "lake lease --break" -- m lake lease --break
expect_in "$T/out" "removed the lease's item" "says what it removed"
expect_rc 0 "curate after the break" -- m curate
# --break of a held one (another host's job, known to be gone) lets the next job run at once
plant 300 other-host 4242
expect_rc 0 "lake lease --break of a held lease" -- m lake lease --break
expect_in "$T/out" "broke the lease held by \`ingest ga4\` (process 4242 on other-host)" "names what it broke"
expect_rc 0 "curate after breaking a held lease" -- m curate

# ---- a running job renews its lease; one whose lease was taken exits 1 saying so (a lake of
# the default seed, whose first run takes seconds)
L=$T/lake2
DB=$L/_meta/state.sqlite
printf 'lake:\n  dir: %s\n  lease_seconds: 3\n%s\n' "$L" "$GOV" >"$T/short.yaml"
"$MDP" --config "$T/short.yaml" init >/dev/null 2>&1 || bad "init lake2"
"$MDP" --config "$T/short.yaml" seed >/dev/null 2>&1 || bad "seed lake2"
"$MDP" --config "$T/short.yaml" run >"$T/long.out" 2>"$T/long.err" &
job=$!
first=""
for _ in $(seq 200); do
  if [ -f "$DB" ]; then
    read -r until holder _ <<<"$(lease 2>/dev/null)"
    if [ "${holder:-}" = run ] && [ "${until:-0}" != 0 ]; then first=$until; break; fi
  fi
  sleep 0.05
done
[ -n "$first" ] && ok || bad "the running job's lease never showed"
for _ in $(seq 50); do # renewed every third of its 3 s: the first renewal within about 1 s
  read -r until holder _ <<<"$(lease)"
  [ -n "$first" ] && [ "$holder" = run ] && [ "$until" -gt "$first" ] && break
  sleep 0.1
done
if [ -n "$first" ] && [ "$holder" = run ] && [ "$until" -gt "$first" ]; then ok; else
  bad "the lease was not renewed while the job ran: $first -> $until ($holder)"
fi
planted_ms=$(python3 -c 'import time; print(int(time.time() * 1000))')
plant 600 other-host 4242
wait $job
rc=$?
[ "$rc" = 1 ] && ok || bad "the job whose lease was taken exited $rc, want 1"
expect_in "$T/long.err" "lost the lake's lease" "the job says it lost its lease"
# the fence: the job's next publish found the lease gone and refused, so no table version is
# newer than the other job's lease (planted a second into the run, before its tables)
expect_in "$T/long.err" "publishes nothing more" "the publish after the loss was refused"
late=$(python3 - "$L" "$planted_ms" <<'EOF'
import glob, json, sys
late = [f for f in glob.glob(sys.argv[1] + "/_meta/manifests/*/*/v*.json") +
        glob.glob(sys.argv[1] + "/_meta/manifests/*/v*.json")
        if json.load(open(f))["published_ms"] > int(sys.argv[2])]
print(len(late), *sorted(late)[:3])
EOF
)
[ "${late%% *}" = 0 ] && ok || bad "versions published after the lease was lost: $late"
read -r _ holder _ <<<"$(lease)"
[ "$holder" = "ingest+ga4" ] && ok || bad "the job released a lease it no longer held: $holder"

finish "acceptance_lease"
