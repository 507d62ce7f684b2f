#!/bin/bash
# The suppression list end to end: a seeded user is suppressed (by user id and address), the seeded
# deliveries are ingested, and raw and quarantine hold no byte of the user (the id, the address in
# any case, the address's SHA-256) while every other record is landed; ingest counts exactly the
# records that named the user as suppressed, in its output and in the run log.
set -u
MDP=$(readlink -f "$1")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
printf 'lake:\n  dir: ./lake\n  landing_dir: ./landing\n' >mdp.yaml
fails=0
ok() { echo "ok   $1"; }
no() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else no "$1: expected [$3], got [$2]"; fi; }

"$MDP" --log-level off seed --users 30 --days 3 --bad-rate 0 --out landing >/dev/null || no "seed"
"$MDP" init --dir lake >/dev/null 2>&1 || true
row=$(sed -n 2p landing/supabase/user_profiles/dt=2026-10-01/user_profiles.csv)
U=${row%%,*}
E=$(echo "$row" | cut -d, -f3)
SHA=$(printf '%s' "$E" | tr 'A-Z' 'a-z' | sha256sum | cut -c1-64)
[[ $U =~ ^[0-9a-f-]{36}$ && $E == *@* ]] && ok "seeded user picked" || no "seeded user: [$U] [$E]"

out=$("$MDP" consent suppress add --user-id "$U" --email "$E" --reason erasure:test --json)
check "suppress add" "$out" '{"added":3}'
check "suppress add again is idempotent" "$("$MDP" consent suppress add --user-id "$U" --json)" '{"added":0}'
check "check by address (other case)" "$("$MDP" consent suppress check --email " ${E^^} ")" true
check "check by user id" "$("$MDP" consent suppress check --user-id "$U")" true
check "another user is not suppressed" "$("$MDP" consent suppress check --user-id 01a0f72f-0000-7000-8000-000000000000)" false
list=$("$MDP" consent suppress list)
check "list has three entries" "$(echo "$list" | grep -c .)" 3
echo "$list" | grep -qiF -e "$U" -e "$E" -e "$SHA" && no "the list holds a clear value" || ok "the list holds no clear value"
"$MDP" consent suppress add >/dev/null 2>&1
check "add without a subject is a usage error" "$?" 2

# What the deliveries hold about the user, counted independently of the code under test: lines of
# the line formats, Records[] entries of the SQS batches, records of the Firehose objects.
python3 - "$U" "$E" "$SHA" >expected.txt <<'PY'
import glob, json, sys
u, e, sha = sys.argv[1], sys.argv[2].lower(), sys.argv[3]
hit = lambda t: u in t.lower() or e in t.lower() or sha in t.lower()
n = {}
for f in glob.glob("landing/events/**/*.ndjson", recursive=True):
    n["events"] = n.get("events", 0) + sum(hit(l) for l in open(f))
for f in glob.glob("landing/supabase/**/*.csv", recursive=True):
    n["supabase"] = n.get("supabase", 0) + sum(hit(l) for l in open(f))
for f in glob.glob("landing/ses/**/*.json", recursive=True):
    n["ses"] = n.get("ses", 0) + sum(hit(json.dumps(r)) for r in json.load(open(f))["Records"])
dec = json.JSONDecoder()
for f in glob.glob("landing/dynamodb/**/*", recursive=True):
    try:
        t = open(f).read()
    except IsADirectoryError:
        continue
    i = 0
    while i < len(t):
        while i < len(t) and t[i] in " \r\n\t": i += 1
        if i >= len(t): break
        o, j = dec.raw_decode(t, i)
        n["ddb"] = n.get("ddb", 0) + hit(t[i:j])
        i = j
for k in ("events", "supabase", "ses", "ddb"):
    print(k, n.get(k, 0))
PY
total=0
for src in events supabase ses ddb ga4 gbp meta; do
    js=$("$MDP" ingest "$src" --json 2>err.txt) || no "ingest $src: $(cat err.txt)"
    got=$(echo "$js" | python3 -c 'import json,sys; print(sum(r.get("suppressed",0) for r in json.load(sys.stdin)))')
    q=$(echo "$js" | python3 -c 'import json,sys; print(sum(r["quarantined"] for r in json.load(sys.stdin)))')
    check "$src: nothing quarantined (no bad records seeded; rewritten batches stay valid)" "$q" 0
    want=$(awk -v s="$src" '$1==s {print $2}' expected.txt)
    if [ -n "$want" ]; then
        check "$src: suppressed count equals the records naming the user" "$got" "$want"
        [ "$want" -gt 0 ] || no "$src: the seeded user has no records (test data)"
    fi
    total=$((total + got))
done
[ "$total" -gt 0 ] && ok "records suppressed: $total" || no "nothing suppressed"

# raw and quarantine hold no byte of the user
if grep -rqiF -e "$U" -e "$E" -e "$SHA" lake/raw; then
    no "raw still holds the user: $(grep -rliF -e "$U" -e "$E" -e "$SHA" lake/raw | head -3)"
else
    ok "raw holds no byte of the user (id, address, SHA-256)"
fi
[ -d lake/raw/_quarantine ] && grep -rqiF -e "$U" -e "$E" lake/raw/_quarantine && no "quarantine holds the user" || ok "quarantine holds nothing of the user"
# everyone else is landed: every event line not naming the user is in raw
python3 - "$U" "$E" "$SHA" <<'PY' && ok "every other event landed" || no "other events missing"
import glob, sys
u, e, sha = sys.argv[1], sys.argv[2].lower(), sys.argv[3]
want = {l for f in glob.glob("landing/events/**/*.ndjson", recursive=True) for l in open(f)
        if not (u in l.lower() or e in l.lower() or sha in l.lower())}
have = {l if l.endswith("\n") else l + "\n" for f in glob.glob("lake/raw/events/**/*.ndjson", recursive=True) for l in open(f)}
sys.exit(0 if want and want <= have else 1)
PY
# the run log counts them too
runlog=$(cat lake/_meta/runs/*/*.json | python3 -c '
import json, sys
print(sum(json.loads(l).get("suppressed", 0) for l in sys.stdin if l.strip()))')
check "run log: suppressed" "$runlog" "$total"
runs=$("$MDP" runs --json 2>/dev/null) # whole: grep -q on a pipe could cut the writer (pipefail)
grep -q "suppressed (erased subjects)" <<<"$runs" && ok "run message names them" || no "run message"
# a second ingest of the same deliveries lands nothing new
js=$("$MDP" ingest events --json)
check "re-ingest: nothing new" "$(echo "$js" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(sum(x["out"] for x in r), sum(x.get("suppressed",0) for x in r))')" "0 0"
# the curated zone never sees the user either
"$MDP" --log-level off curate >/dev/null 2>&1 || no "curate"
grep -rqaiF -e "$U" lake/curated 2>/dev/null && no "curated holds the user id" || ok "curated holds nothing of the user"

echo "$fails failed"
[ "$fails" -eq 0 ]
