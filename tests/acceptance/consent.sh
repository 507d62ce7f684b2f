#!/bin/bash
# The consent journal end to end: decisions, point-in-time status (a withdrawal mid-window, expiry at
# the exact instant), rejected input that writes nothing, concurrent appenders, and verification that
# catches a record altered, removed or cut off in the store itself.
set -u
MDP=$(readlink -f "$1")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
printf 'lake:\n  dir: ./lake\n' >mdp.yaml
fails=0
ok() { echo "ok   $1"; }
no() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else no "$1: expected [$3], got [$2]"; fi; }
DB=lake/_meta/state.sqlite
valid() { # email-or-user purpose at -> yes/no
    "$MDP" consent status "$1" "$2" --at "$4" --json |
        python3 -c "import json,sys; print([s['valid'] for s in json.load(sys.stdin) if s['purpose']=='$3'][0])"
}

"$MDP" consent record --email ' Anna@Example.DE ' --purpose ml --decision granted \
    --ts 2026-11-01T10:00:00Z --evidence form-v3 >/dev/null || no "record 1"
"$MDP" consent record --email anna@example.de --user-id 0190f5c2-0000-7000-8000-000000000001 \
    --purpose ml --decision withdrawn --ts 2026-11-15T00:00:00Z >/dev/null || no "record 2"
"$MDP" consent record --user-id 0190f5c2-0000-7000-8000-000000000002 --purpose vc_report \
    --decision granted --ts 2026-11-01T00:00:00Z --expires-at 2026-11-08T00:00:00Z \
    --source ddb >/dev/null || no "record 3"
# A decision recorded late (seq 4) but dated before the withdrawal does not override it.
"$MDP" consent record --email anna@example.de --purpose ml --decision granted \
    --ts 2026-11-10T00:00:00Z >/dev/null || no "record 4"

check "granted before the withdrawal (email)" "$(valid --email ANNA@example.de ml 2026-11-05T00:00:00Z)" True
check "not yet granted before the grant" "$(valid --email anna@example.de ml 2026-11-01T09:59:59Z)" False
check "granted at the exact decision instant" "$(valid --email anna@example.de ml 2026-11-01T10:00:00Z)" True
check "withdrawn after mid-window withdrawal" "$(valid --email anna@example.de ml 2026-11-20T00:00:00Z)" False
check "withdrawal found by user_id" "$(valid --user-id 0190f5c2-0000-7000-8000-000000000001 ml 2026-11-20T00:00:00Z)" False
# ts order decides, not arrival order: on 2026-11-16 the latest decision by time is the withdrawal.
check "latest by decision time wins" "$(valid --email anna@example.de ml 2026-11-16T00:00:00Z)" False
check "grant of 2026-11-10 counts between it and the withdrawal" "$(valid --email anna@example.de ml 2026-11-12T00:00:00Z)" True
check "other purposes untouched" "$(valid --email anna@example.de marketing_email 2026-11-05T00:00:00Z)" False
check "valid just before expiry" "$(valid --user-id 0190f5c2-0000-7000-8000-000000000002 vc_report 2026-11-07T23:59:59.999Z)" True
check "invalid at the expiry instant" "$(valid --user-id 0190f5c2-0000-7000-8000-000000000002 vc_report 2026-11-08T00:00:00Z)" False

# Rejected input: clear message, exit 1, nothing written.
out=$("$MDP" consent record --email a@b.de --purpose newsletter --decision granted 2>&1)
check "unknown purpose exit" "$?" 1
case $out in *"unknown purpose 'newsletter'"*) ok "unknown purpose message" ;; *) no "unknown purpose message: $out" ;; esac
out=$("$MDP" consent record --email a@b.de --purpose ml --decision yes 2>&1)
check "bad decision exit" "$?" 1
case $out in *"'yes' is neither granted nor withdrawn"*) ok "bad decision message" ;; *) no "bad decision message: $out" ;; esac
future=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
out=$("$MDP" consent record --email a@b.de --purpose ml --decision granted --ts "$future" 2>&1)
check "future decision exit" "$?" 1
case $out in *"in the future"*) ok "future decision message" ;; *) no "future decision message: $out" ;; esac
near=$(date -u -d '+2 minutes' +%Y-%m-%dT%H:%M:%SZ)
"$MDP" consent record --email a@b.de --purpose ml --decision granted --ts "$near" >/dev/null
check "decision within the clock skew accepted" "$?" 0
"$MDP" consent record --purpose ml --decision granted >/dev/null 2>&1
check "missing subject is a usage error" "$?" 2
"$MDP" consent record --email >/dev/null 2>&1
check "option without value is a usage error" "$?" 2
out=$("$MDP" consent status --email a@b.de --at yesterday 2>&1)
check "bad --at is a usage error" "$?" 2
case $out in *"--at: 'yesterday' is not an ISO-8601 time"*) ok "bad --at message" ;; *) no "bad --at message: $out" ;; esac
"$MDP" consent doi confirm >/dev/null 2>&1
check "confirm without token is a usage error" "$?" 2
out=$("$MDP" consent record --email a@b.de --purpose ml --decision granted --evidence "$(head -c 100000 /dev/zero | tr '\0' x)" 2>&1)
check "huge evidence rejected" "$?" 1
case $out in *"too long"*) ok "huge evidence message" ;; *) no "huge evidence message: ${out:0:200}" ;; esac
"$MDP" consent record --email "$(head -c 5000 /dev/zero | tr '\0' a)@b.de" --purpose ml --decision granted >/dev/null 2>&1
check "huge email rejected" "$?" 1
case $("$MDP" consent record --email a@b.de --purpose ml --decision granted --json 2>&1) in
*'"seq":6'*) ok "rejected records took no sequence number" ;; *) no "sequence after rejections" ;; esac

# Concurrent appenders keep one unbroken chain.
for p in 1 2; do
    (for i in $(seq 1 15); do
        "$MDP" consent record --user-id "u$p-$i" --purpose analytics --decision granted >/dev/null || echo "append failed"
    done) >"append$p.log" 2>&1 &
done
wait
check "concurrent appends all succeeded" "$(cat append1.log append2.log)" ""
out=$("$MDP" consent verify --json)
check "verify exit on intact journal" "$?" 0
check "verify counts every record" "$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["intact"], d["records"])')" "True 36"
"$MDP" consent verify | grep -q "intact: 36 records" && ok "verify text" || no "verify text"

# Tampering in the store itself.
sql() { python3 -c "import sqlite3,sys; c=sqlite3.connect('$DB'); c.execute(sys.argv[1]); c.commit()" "$1"; }
cp "$DB" pristine.sqlite
sql "UPDATE items SET body=replace(body,'\"withdrawn\"','\"granted\"') WHERE tbl='consent_journal' AND sk='0000000000000002'"
out=$("$MDP" consent verify 2>&1)
check "altered record: exit" "$?" 1
case $out in *"broken at seq 2: its content does not match its hash"*) ok "altered record named" ;; *) no "altered record: $out" ;; esac
cp pristine.sqlite "$DB"; rm -f "$DB-wal" "$DB-shm"
sql "DELETE FROM items WHERE tbl='consent_journal' AND sk='0000000000000003'"
out=$("$MDP" consent verify 2>&1)
check "removed record: exit" "$?" 1
case $out in *"broken at seq 4: the record before it is missing"*) ok "removed record named" ;; *) no "removed record: $out" ;; esac
cp pristine.sqlite "$DB"; rm -f "$DB-wal" "$DB-shm"
sql "DELETE FROM items WHERE tbl='consent_journal' AND sk >= '0000000000000035'"
out=$("$MDP" consent verify 2>&1)
check "cut-off tail: exit" "$?" 1
case $out in *"broken at seq 35: the journal ends at seq 34 but its head records seq 36"*) ok "cut-off tail named" ;; *) no "cut-off tail: $out" ;; esac
cp pristine.sqlite "$DB"; rm -f "$DB-wal" "$DB-shm"
# A forged record with a recomputed own hash still breaks the chain at the next record.
python3 - "$DB" <<'PY'
import hashlib, json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
body, = c.execute("SELECT body FROM items WHERE tbl='consent_journal' AND sk='0000000000000002'").fetchone()
head, _, _ = body.rpartition(',"hash":"')
head = head.replace('"withdrawn"', '"granted"') + '}'
forged = head[:-1] + ',"hash":"' + hashlib.sha256(head.encode()).hexdigest() + '"}'
c.execute("UPDATE items SET body=? WHERE tbl='consent_journal' AND sk='0000000000000002'", (forged,))
c.commit()
PY
out=$("$MDP" consent verify 2>&1)
check "forged record: exit" "$?" 1
case $out in *"broken at seq 3: its prev_hash does not match"*) ok "forged record caught at the next" ;; *) no "forged record: $out" ;; esac
cp pristine.sqlite "$DB"; rm -f "$DB-wal" "$DB-shm"
"$MDP" consent verify >/dev/null
check "restored journal verifies" "$?" 0

# DOI: a token printed once, stored only as its hash, confirmed exactly once even when raced.
tok=$("$MDP" consent doi issue --email ' Carla@Example.DE ' --ip 192.0.2.1)
check "doi issue exit" "$?" 0
[[ $tok =~ ^[0-9a-f]{64}$ ]] && ok "token is 64 hex chars" || no "token format: $tok"
python3 -c "
import sqlite3; c=sqlite3.connect('$DB')
print(sum('$tok' in b for b, in c.execute('SELECT body FROM items')))" | grep -qx 0 &&
    ok "plain token not stored" || no "plain token stored"
for k in 1 2 3; do ("$MDP" consent doi confirm "$tok" >"confirm$k.out" 2>&1; echo $? >"confirm$k.rc") & done
wait
check "raced confirmations: exactly one succeeds" "$(cat confirm*.rc | sort | tr -d '\n')" "011"
check "the losers were told it was used" "$(grep -l 'already used' confirm*.out | wc -l)" 2
check "confirmed address has vc_report" "$(valid --email carla@example.de vc_report "$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ)")" True
out=$("$MDP" consent doi confirm 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 2>&1)
check "unknown token exit" "$?" 1
case $out in *"unknown token"*) ok "unknown token message" ;; *) no "unknown token message: $out" ;; esac
"$MDP" consent doi issue --email x@y.de --ip 300.1.1.1 >/dev/null 2>&1
check "bad ip rejected" "$?" 1
"$MDP" consent verify >/dev/null
check "journal intact after DOI confirmations" "$?" 0

# No email in the store except as email_lower of the journal (the P1 record itself).
python3 -c "
import sqlite3; c=sqlite3.connect('$DB')
print(sum('Anna@Example' in b for b, in c.execute('SELECT body FROM items')))" | grep -qx 0 &&
    ok "email stored normalized" || no "email stored as given"

echo "$fails failed"
[ "$fails" -eq 0 ]
