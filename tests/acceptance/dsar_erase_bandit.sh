#!/usr/bin/env bash
# Acceptance of issue 12's erasure of a person from the learning loop and the collector
# (docs/privacy.md §6 "The bandit" and "Suppression"), on a demo lake whose email campaigns carry
# subject variants in the copy catalogue, replayed into the bandit (`mdp bandit replay`):
#  - the erasure takes the person's rewards off the bandit's counters: afterwards every arm equals
#    the arm of an independent oracle, a fresh replay of the erased lake's remaining email events
#    into empty counters; the counters differ from before; per variant, the successes and failures
#    removed equal the subject's clicks and bounces as DuckDB counts them in the lake before; the
#    certificate records it and the reward records of the person are gone (the state store's
#    per-subject index, read here with Python's sqlite3 and the pseudonym computed in Python);
#  - a replay never brings the person back: on a copy of the lake from before (the person still in
#    every table) with the person on the suppression list, a replay counts their events as
#    suppressed and its counters equal the oracle's;
#  - the collector (`mdp serve`, POST /v1/events), started before the erasure, drops the person's
#    events after it (the list reloaded on change): acknowledged as suppressed, never written to
#    raw or quarantine, counted in /metrics; another user's event is accepted.
# Usage: dsar_erase_bandit.sh path/to/mdp
MDP=${1:?usage: dsar_erase_bandit.sh path/to/mdp}
source "$(dirname "$0")/lib.sh"
INV=$ROOT/config/inventory.yaml
L=$T/lake
read -r CK CI < <("$MDP" --json serve key new --name c --scopes collect | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["key"], o["config_item"])')
read -r AK AI < <("$MDP" --json serve key new --name a --scopes admin | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["key"], o["config_item"])')
cat >"$T/mdp.yaml" <<EOF
lake:
  dir: $L
serve:
  listen: 127.0.0.1:0
  keys: ["$CI", "$AI"]
  snapshot_reload_seconds: 1
  decision_log_flush_seconds: 1
personalize:
  surfaces: [onboarding_tip:default_tip:neutral, email_subject:s1:neutral, email_subject:s2:brief]
EOF
m() { "$MDP" --log-level off --config "$T/mdp.yaml" "$@"; }
m demo --dir "$L" --users 200 --days 30 --bad-rate 0 --start 2026-09-01 >/dev/null || bad "demo"
cp -a "$L" "$T/pre" # before any replay: the lake the suppression check replays
m --json bandit replay --dir "$L" >"$T/r0.json" || bad "replay"
python3 -c "import json,sys; r=json.load(open('$T/r0.json')); sys.exit(0 if r['applied'] > 0 else 1)" && ok || bad "the replay applied nothing: $(cat "$T/r0.json")"
report() { m --json bandit report --dir "$1" >"$2"; [ $? -le 1 ] || bad "bandit report of $1"; }
report "$L" "$T/c0.json"

# the subject: the user with the most reward records, found by computing every user's pseudonym
# (HMAC-SHA256 of "user_id:<id>" under the lake's subject key) in Python
m query --dir "$L" --format csv "SELECT DISTINCT CAST(user_id AS VARCHAR) FROM fact_email_events WHERE user_id IS NOT NULL ORDER BY 1" | tail -n +2 >"$T/users"
U=$(python3 - "$L/_meta/state.sqlite" "$T/users" <<'PY'
import collections, hashlib, hmac, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
k = bytes.fromhex(json.loads(db.execute("SELECT body FROM items WHERE tbl='subject_key'").fetchone()[0])["key_hex"])
n = collections.Counter(s for (s,) in db.execute("SELECT subject FROM items WHERE tbl='bandit_reward'"))
best = max((n[hmac.new(k, b"user_id:" + u.strip().encode(), hashlib.sha256).hexdigest()], u.strip())
           for u in open(sys.argv[2]) if u.strip())
print(best[1] if best[0] > 0 else "")
PY
)
[ -n "$U" ] && ok || bad "no user with rewards"
OTHER=$(grep -v "$U" "$T/users" | head -1)
# the subject's clicks and bounces per variant, as DuckDB counts them before the erasure
m query --dir "$L" --format csv "SELECT coalesce(subject_variant, copy_variant) AS v, count(*) FILTER (WHERE event_type = 'click') AS s, count(*) FILTER (WHERE event_type = 'bounce') AS f FROM fact_email_events WHERE CAST(user_id AS VARCHAR) = '$U' AND event_type IN ('click', 'bounce') AND coalesce(subject_variant, copy_variant) IN ('s1', 's2') GROUP BY 1 ORDER BY 1" >"$T/subject.csv"

# the collector, started before the erasure
m serve >"$T/serve.out" 2>"$T/serve.err" &
SPID=$!
for _ in $(seq 100); do grep -q "listening on" "$T/serve.out" && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$T/serve.out" | head -1)
[ -n "$PORT" ] && ok || bad "mdp serve did not start: $(head -c 300 "$T/serve.err")"

expect_rc 0 "erase" -- m dsar erase "$U" --file "$INV" --dir "$L" --out "$T/cert.json"
report "$L" "$T/c1.json"

# the oracle: a fresh replay of the erased lake's remaining events into empty counters
cp -a "$L" "$T/oracle"
python3 - "$T/oracle/_meta/state.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DELETE FROM items WHERE tbl IN ('bandit', 'bandit_reward', 'bandit_replayed')")
db.commit()
PY
m --json bandit replay --dir "$T/oracle" >/dev/null || bad "oracle replay"
report "$T/oracle" "$T/c2.json"
# a replay of the lake from before, with the person on the suppression list
expect_rc 0 "suppress the subject in the old lake" -- m consent suppress add --user-id "$U" --reason test --dir "$T/pre"
m --json bandit replay --dir "$T/pre" >"$T/r3.json" || bad "replay with suppression"
report "$T/pre" "$T/c3.json"

python3 - "$T" "$U" <<'PY' && ok || bad "the bandit's counters after the erasure"
import csv, hashlib, hmac, json, sqlite3, sys
t, u = sys.argv[1], sys.argv[2]
arms = lambda n: {(a["context"], a["variant"]): (a["successes"], a["failures"])
                  for a in json.load(open(f"{t}/{n}.json"))["arms"]}
nz = lambda d: {k: v for k, v in d.items() if v != (0, 0)}
c0, c1, c2, c3 = arms("c0"), arms("c1"), arms("c2"), arms("c3")
assert nz(c1) == nz(c2), f"after erasure != fresh replay without the person:\n{nz(c1)}\n{nz(c2)}"
assert nz(c0) != nz(c1), "the counters did not change"
# per variant, what went equals the subject's clicks and bounces
gone = {}
for k, (s, f) in c0.items():
    s1, f1 = c1.get(k, (0, 0))
    g = gone.setdefault(k[1], [0, 0]); g[0] += s - s1; g[1] += f - f1
want = {r["v"]: [int(r["s"]), int(r["f"])] for r in csv.DictReader(open(f"{t}/subject.csv"))}
assert {v: g for v, g in gone.items() if g != [0, 0]} == want, (gone, want)
c = json.load(open(f"{t}/cert.json"))
b = c["stores"]["bandit_counters"]
assert b["rewards_removed"] == sum(sum(v) for v in want.values()) > 0, b
assert b["successes_removed"] == sum(v[0] for v in want.values()), b
assert c["verification"]["survivors"] == 0
assert any(x["dataset"] == "state.bandit_reward" for x in c["stores"]["state"]["deleted"]), c["stores"]["state"]
db = sqlite3.connect(f"{t}/lake/_meta/state.sqlite")
k = bytes.fromhex(json.loads(db.execute("SELECT body FROM items WHERE tbl='subject_key'").fetchone()[0])["key_hex"])
p = hmac.new(k, b"user_id:" + u.encode(), hashlib.sha256).hexdigest()
left = db.execute("SELECT tbl, count(*) FROM items WHERE subject = ? GROUP BY 1", (p,)).fetchall()
assert left == [], left
# the replay with the person suppressed: their events counted as suppressed, the oracle's counters
r3 = json.load(open(f"{t}/r3.json"))
assert r3["suppressed"] >= b["rewards_removed"], r3
assert nz(c3) == nz(c2), f"replay with suppression != oracle:\n{nz(c3)}\n{nz(c2)}"
PY

# the collector after the erasure: the list reloads within a second or two
sleep 2.5
ev() { # an app event of user $1 with a UUIDv7 event id
  python3 - "$1" <<'PY'
import json, sys, time, uuid
ms, r = int(time.time() * 1000), uuid.uuid4().int
v = (ms << 80) | (0x7 << 76) | ((r >> 64) & 0xFFF) << 64 | (0b10 << 62) | (r & ((1 << 62) - 1))
print(json.dumps({"event_id": str(uuid.UUID(int=v)), "user_id": sys.argv[1],
                  "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "event_type": "page_view", "properties": {}}))
PY
}
post() { curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $CK" -H 'Content-Type: application/x-ndjson' --data-binary @"$1" "http://127.0.0.1:$PORT/v1/events"; }
{ ev "$U"; ev "$U"; } >"$T/ev_u"
code=$(post "$T/ev_u")
[ "$code" = 202 ] && python3 -c "import json,sys; r=json.load(open('$T/resp')); sys.exit(0 if (r['accepted'], r['rejected'], r['suppressed']) == (0, 0, 2) else 1)" && ok || bad "the erased person's events: $code $(cat "$T/resp")"
{ ev "$U"; ev "$OTHER"; printf '{"user_id":"%s","broken":true}\n' "$U"; } >"$T/ev_mix"
code=$(post "$T/ev_mix")
[ "$code" = 202 ] && python3 -c "import json,sys; r=json.load(open('$T/resp')); sys.exit(0 if (r['accepted'], r['rejected'], r['suppressed']) == (1, 0, 2) else 1)" && ok || bad "a mixed batch: $code $(cat "$T/resp")"
curl -s -H "Authorization: Bearer $AK" "http://127.0.0.1:$PORT/metrics" >"$T/metrics"
grep -qx "mdp_events_suppressed_total 4" "$T/metrics" && ok || bad "metrics: $(grep suppressed "$T/metrics")"
kill "$SPID"; wait "$SPID" 2>/dev/null
grep -rqF "$OTHER" "$L/raw/events" && ok || bad "the other user's event was not written"
grep -rqiF "$U" "$L/raw" && bad "the erased person is back in raw or quarantine" || ok
finish dsar_erase_bandit
