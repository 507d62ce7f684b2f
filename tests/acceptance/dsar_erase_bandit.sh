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
#  - the same for the feedback the person gave the server (POST /v1/feedback, issue 12): a consenting
#    user's decision id names them, so their feedback is counted as theirs (also a feedback without
#    a decision id or Idempotency-Key); after the erasure the counters equal the oracle plus the
#    other user's server feedback, which stays (with an old-format decision id, counted without an
#    owner, among it); the person's feedback after the erasure answers 200 "suppressed" and counts
#    nothing;
#  - a replay never brings the person back: on a copy of the lake from before (the person still in
#    every table) with the person on the suppression list, a replay counts their events as
#    suppressed and its counters equal the oracle's;
#  - the collector (`mdp serve`, POST /v1/events), started before the erasure, drops the person's
#    events after it (the list reloaded on change): acknowledged as suppressed, never written to
#    raw or quarantine, counted in /metrics; another user's event is accepted;
#  - the server's decision log, held in memory across the erasure and written at the stop, keeps
#    the other user's decisions and drops the person's.
# Usage: dsar_erase_bandit.sh path/to/mdp
MDP=${1:?usage: dsar_erase_bandit.sh path/to/mdp}
source "$(dirname "$0")/lib.sh"
INV=$ROOT/config/inventory.yaml
L=$T/lake
read -r CK CI < <("$MDP" --json serve key new --name c --scopes collect | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["key"], o["config_item"])')
read -r AK AI < <("$MDP" --json serve key new --name a --scopes admin | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["key"], o["config_item"])')
read -r PK PI < <("$MDP" --json serve key new --name p --scopes personalize | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["key"], o["config_item"])')
cat >"$T/mdp.yaml" <<EOF
lake:
  dir: $L
serve:
  listen: 127.0.0.1:0
  keys: ["$CI", "$AI", "$PI"]
  snapshot_reload_seconds: 1
  decision_log_flush_seconds: 900
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
# (HMAC-SHA256 of "user_id:<id>" under the lake's subject key) in Python; OTHER, the next one
# (both consent to personalization: their rewards were replayed)
m query --dir "$L" --format csv "SELECT DISTINCT CAST(user_id AS VARCHAR) FROM fact_email_events WHERE user_id IS NOT NULL ORDER BY 1" | tail -n +2 >"$T/users"
U=$(python3 - "$L/_meta/state.sqlite" "$T/users" <<'PY'
import collections, hashlib, hmac, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
k = bytes.fromhex(json.loads(db.execute("SELECT body FROM items WHERE tbl='subject_key'").fetchone()[0])["key_hex"])
n = collections.Counter(s for (s,) in db.execute("SELECT subject FROM items WHERE tbl='bandit_reward'"))
best = sorted(((n[hmac.new(k, b"user_id:" + u.strip().encode(), hashlib.sha256).hexdigest()], u.strip())
               for u in open(sys.argv[2]) if u.strip()), reverse=True)
print(" ".join(u for c, u in best[:2] if c > 0))
PY
)
read -r U OTHER <<<"$U"
[ -n "$U" ] && [ -n "$OTHER" ] && ok || bad "no two users with rewards"
# the subject's clicks and bounces per variant, as DuckDB counts them before the erasure
m query --dir "$L" --format csv "SELECT coalesce(subject_variant, copy_variant) AS v, count(*) FILTER (WHERE event_type = 'click') AS s, count(*) FILTER (WHERE event_type = 'bounce') AS f FROM fact_email_events WHERE CAST(user_id AS VARCHAR) = '$U' AND event_type IN ('click', 'bounce') AND coalesce(subject_variant, copy_variant) IN ('s1', 's2') GROUP BY 1 ORDER BY 1" >"$T/subject.csv"

# the collector, started before the erasure
# (the binary itself, not the function m: a kill of a function's subshell would leave it running)
"$MDP" --log-level info --config "$T/mdp.yaml" serve >"$T/serve.out" 2>"$T/serve.err" &
SPID=$!
for _ in $(seq 100); do grep -q "listening on" "$T/serve.out" && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$T/serve.out" | head -1)
[ -n "$PORT" ] && ok || bad "mdp serve did not start: $(head -c 300 "$T/serve.err")"
curl -s -H "Authorization: Bearer $AK" "http://127.0.0.1:$PORT/metrics" >"$T/metrics0" # whole: grep -q would cut curl's pipe
grep -qx "mdp_suppressed_subjects 0" "$T/metrics0" \
  && ok || bad "before the erasure the server suppresses nobody (/metrics): $(grep suppressed_subjects "$T/metrics0")"

# feedback through the server: decisions on the email_subject surface (the bandit's: neither user
# meets a rule there), each decision's id naming its user; OTHER also with an old-format id (no
# owner: <uuid7>.<body>.<tag>, signed here with the server's key as an older server signed it)
feedback() { # user n_decisions out.json [old]
  python3 - "$PORT" "$PK" "$1" "$2" "$3" "$L/_meta/state.sqlite" "${4:-}" <<'PY'
import json, sqlite3, subprocess, sys, time, urllib.request, uuid
port, key, user, n, out, state, old = sys.argv[1:]
def call(method, path, body=None):
    r = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                               data=json.dumps(body).encode() if body is not None else None,
                               headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=10) as f:
            return f.status, json.load(f)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
counted, spare = [], None
for i in range(int(n) + 1):
    st, js = call("GET", f"/v1/personalize?user_id={user}&surface=email_subject")
    assert st == 200 and js["policy"] in ("thompson", "explore"), (st, js)
    parts = js["decision_id"].split(".")
    assert len(parts) == 4 and parts[2] == uuid.UUID(user).hex, js["decision_id"]
    if i == int(n):
        spare = js["decision_id"]  # kept for after the erasure
        break
    sig = "email_click" if i % 3 else "email_bounce"
    st, fb = call("POST", "/v1/feedback", {"decision_id": js["decision_id"], "signal": sig})
    assert st == 200 and fb == {"counted": True, "reason": "success" if i % 3 else "failure"}, (st, fb)
    counted.append([js["variant"], sig == "email_click"])
# without a decision id nor an Idempotency-Key: still counted once, as the user's
st, fb = call("POST", "/v1/feedback", {"user_id": user, "variant": "s2", "signal": "email_click"})
assert st == 200 and fb == {"counted": True, "reason": "success"}, (st, fb)
counted.append(["s2", True])
if old:
    db = sqlite3.connect(state)
    dkey = db.execute("SELECT body FROM items WHERE tbl='serve' AND pk='decision_key'").fetchone()[0]
    uid, body, _, _ = spare.split(".")
    signed = f"{uid}.{body}"
    mac = subprocess.run(["openssl", "mac", "-macopt", "hexkey:" + dkey[:32], "-macopt", "size:16", "SIPHASH"],
                         input=signed.encode(), capture_output=True, check=True).stdout.decode().strip()
    st, fb = call("POST", "/v1/feedback", {"decision_id": f"{signed}.{mac[:16].lower()}", "signal": "email_click"})
    assert st == 200 and fb == {"counted": True, "reason": "success"}, ("old-format id", st, fb)
    counted.append([bytes.fromhex(body).split(b"\x1f")[1].decode(), True])
    # counted without an owner: no reward record for it
    time.sleep(0.1)
    assert db.execute("SELECT count(*) FROM items WHERE tbl='bandit_reward' AND pk=?",
                      (f"feedback|{uid}|email_click",)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM items WHERE tbl='feedback' AND pk=?",
                      (f"{uid}|email_click",)).fetchone()[0] == 1
json.dump({"counted": counted, "spare": spare}, open(out, "w"))
PY
}
feedback "$OTHER" 5 "$T/fb_other.json" old && ok || bad "the other user's feedback through the server"
report "$L" "$T/cA.json"
feedback "$U" 9 "$T/fb_u.json" && ok || bad "the subject's feedback through the server"
report "$L" "$T/cF.json"

# the server's decision log keeps both users' decisions in memory all along (a flush interval of
# 15 minutes): they are written when it stops, after the erasure, and the person's must not be
# (docs/privacy.md §6: the flush drops suppressed users' lines)
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
# the person's feedback after the erasure: refused as suppressed (with a decision id from before,
# and without one), nothing counted
python3 - "$PORT" "$PK" "$U" "$T/fb_u.json" <<'PY' && ok || bad "the erased person's feedback after the erasure"
import json, sys, urllib.request
port, key, user, fb = sys.argv[1:]
spare = json.load(open(fb))["spare"]
for body in ({"decision_id": spare, "signal": "email_click"},
             {"user_id": user, "variant": "s1", "signal": "email_click"}):
    r = urllib.request.Request(f"http://127.0.0.1:{port}/v1/feedback", data=json.dumps(body).encode(),
                               headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=10) as f:
        got = (f.status, json.load(f))
    assert got == (200, {"counted": False, "reason": "suppressed"}), (body, got)
PY
report "$L" "$T/c1b.json"
python3 -c "import json,sys; a=lambda n: sorted(map(str, json.load(open(n))['arms'])); sys.exit(a('$T/c1.json') != a('$T/c1b.json'))" && ok || bad "the erased person's later feedback changed the counters"
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
c0, cA, cF, c1, c2, c3 = arms("c0"), arms("cA"), arms("cF"), arms("c1"), arms("c2"), arms("c3")
def diff(a, b):  # a - b, arm by arm
    return nz({k: (a.get(k, (0, 0))[0] - b.get(k, (0, 0))[0], a.get(k, (0, 0))[1] - b.get(k, (0, 0))[1])
               for k in set(a) | set(b)})
def plus(a, b):
    return nz({k: (a.get(k, (0, 0))[0] + b.get(k, (0, 0))[0], a.get(k, (0, 0))[1] + b.get(k, (0, 0))[1])
               for k in set(a) | set(b)})
# the server's feedback of each user, as it landed on the arms
other_fb, u_fb = diff(cA, c0), diff(cF, cA)
fo, fu = json.load(open(f"{t}/fb_other.json"))["counted"], json.load(open(f"{t}/fb_u.json"))["counted"]
assert sum(map(sum, other_fb.values())) == len(fo) and sum(map(sum, u_fb.values())) == len(fu), (other_fb, u_fb)
# after the erasure: a replay without the person, plus the other user's server feedback (it stays)
assert nz(c1) == plus(c2, other_fb), \
    f"after erasure != fresh replay without the person + others' feedback:\n{nz(c1)}\n{plus(c2, other_fb)}"
assert nz(cF) != nz(c1), "the counters did not change"
# per variant, what went equals the subject's clicks and bounces and their server feedback
gone = {}
for k, (s, f) in diff(cF, c1).items():
    g = gone.setdefault(k[1], [0, 0]); g[0] += s; g[1] += f
want = {r["v"]: [int(r["s"]), int(r["f"])] for r in csv.DictReader(open(f"{t}/subject.csv"))}
email_rewards = sum(sum(v) for v in want.values())
for v, pos in fu:
    w = want.setdefault(v, [0, 0]); w[0 if pos else 1] += 1
assert {v: g for v, g in gone.items() if g != [0, 0]} == {v: w for v, w in want.items() if w != [0, 0]}, (gone, want)
c = json.load(open(f"{t}/cert.json"))
b = c["stores"]["bandit_counters"]
assert b["rewards_removed"] == sum(sum(v) for v in want.values()) > 0, (b, want)
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
assert r3["suppressed"] >= email_rewards > 0, (r3, email_rewards)
assert nz(c3) == nz(c2), f"replay with suppression != oracle:\n{nz(c3)}\n{nz(c2)}"
PY

# the collector after the erasure: the list reloads within a second or two (snapshot_reload_seconds);
# /metrics shows when it has (no fixed sleep: a slow machine may take longer)
reloaded=
for _ in $(seq 300); do
  n=$(curl -s -H "Authorization: Bearer $AK" "http://127.0.0.1:$PORT/metrics" | awk '$1 == "mdp_suppressed_subjects" {print $2}')
  [ "${n:-0}" -ge 1 ] && { reloaded=1; break; }
  sleep 0.1
done
[ -n "$reloaded" ] && ok || bad "the server did not pick up the suppression list within 30 s (mdp_suppressed_subjects ${n:-missing})"
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
grep -rqF "\"user_id\":\"$OTHER\"" "$L/raw/serve/decisions" && ok || bad "the other user's decisions were not written at the stop"
# the person's 10 decisions (feedback "$U" 9 asked 10 times) were dropped, as the server logs it
python3 - "$T/serve.err" <<'PY' && ok || bad "the server did not log the 10 dropped decisions: $(grep -i dropped "$T/serve.err")"
import json, sys
n = sum(json.loads(l).get("lines", 0) for l in open(sys.argv[1])
        if l.startswith("{") and "decision-log lines of erased people dropped" in l)
sys.exit(0 if n == 10 else 1)
PY
grep -rqiF "$U" "$L/raw" && bad "the erased person is back in raw or quarantine" || ok
finish dsar_erase_bandit
