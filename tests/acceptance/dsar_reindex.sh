#!/usr/bin/env bash
# Acceptance of `mdp dsar reindex` (issue 12, docs/privacy.md §8): on a state file whose items were
# written before the per-subject index existed (a lake's consent contact rows and DOI token, their
# subject column emptied as an older mdp left it), the dry run counts what it would set and
# changes nothing; the run gives every one of them the subject its writer gives it today (the
# same pseudonyms as before, one of them recomputed here in Python from the subject key), leaves
# items of nobody (the journal, its head, the key) without one, and a second run writes nothing.
# Usage: dsar_reindex.sh path/to/mdp
MDP=${1:?usage: dsar_reindex.sh path/to/mdp}
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
printf 'lake:\n  dir: %s/lake\n' "$T" >mdp.yaml
m() { "$MDP" --log-level off --config "$T/mdp.yaml" "$@"; }
DB=$T/lake/_meta/state.sqlite
expect_rc 0 "init" -- m init
expect_rc 0 "consent" -- m consent record --email anna@example.de --user-id 0190f5c2-0000-7000-8000-000000000001 --purpose ml --decision granted
expect_rc 0 "doi issue" -- m consent doi issue --email ' Carla@Example.DE ' --ip 192.0.2.1
# the subjects the writers gave, then a state file as it was before the index
py() { python3 - "$DB" "$@"; }
py "$T/want.json" <<'PY' && ok || bad "the writers' subjects"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
want = {f"{t}/{p}/{s}": subj for t, p, s, subj in db.execute("SELECT tbl, pk, sk, subject FROM items WHERE subject IS NOT NULL")}
assert sorted(k.split("/")[0] for k in want) == ["consent_contact", "consent_contact", "vc_tokens"], want
json.dump(want, open(sys.argv[2], "w"))
db.execute("UPDATE items SET subject = NULL")
db.commit()
PY
count() { py <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM items WHERE subject IS NOT NULL").fetchone()[0])
PY
}
m --json dsar reindex --dry-run >"$T/dry.json" && ok || bad "dry run: $(cat "$T/dry.json")"
python3 -c "import json,sys; r=json.load(open('$T/dry.json')); t={x['table']: (x['items'], x['set'], x['already']) for x in r['tables']}; sys.exit(0 if r['dry_run'] and r['set'] == 3 and t == {'consent_contact': (2, 2, 0), 'vc_tokens': (1, 1, 0)} else 1)" && ok || bad "dry run counts: $(cat "$T/dry.json")"
[ "$(count)" = 0 ] && ok || bad "the dry run wrote"
m --json dsar reindex >"$T/run.json" && ok || bad "reindex: $(cat "$T/run.json")"
python3 -c "import json,sys; r=json.load(open('$T/run.json')); sys.exit(0 if not r['dry_run'] and r['set'] == 3 and r['unreadable'] == 0 else 1)" && ok || bad "reindex counts: $(cat "$T/run.json")"
py "$T/want.json" <<'PY' && ok || bad "the index after the backfill"
import hashlib, hmac, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
want = json.load(open(sys.argv[2]))
got = {f"{t}/{p}/{s}": subj for t, p, s, subj in db.execute("SELECT tbl, pk, sk, subject FROM items WHERE subject IS NOT NULL")}
assert got == want, (got, want)
# the token's owner is the pseudonym of the address, as erasure computes it
k = bytes.fromhex(json.loads(db.execute("SELECT body FROM items WHERE tbl='subject_key'").fetchone()[0])["key_hex"])
tok = [s for key, s in got.items() if key.startswith("vc_tokens/")]
assert tok == [hmac.new(k, b"email:carla@example.de", hashlib.sha256).hexdigest()], tok
# found through the index itself
plan = " ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN SELECT tbl FROM items INDEXED BY items_subject WHERE subject = ?", (tok[0],)))
assert "items_subject" in plan, plan
PY
m --json dsar reindex >"$T/again.json" && ok || bad "reindex again"
python3 -c "import json,sys; r=json.load(open('$T/again.json')); sys.exit(0 if r['set'] == 0 and sum(x['already'] for x in r['tables']) == 3 else 1)" && ok || bad "a second run wrote: $(cat "$T/again.json")"
# usage errors
expect_rc 2 "a person is not an argument" -- m dsar reindex 0190f5c2-0000-7000-8000-000000000001
expect_rc 2 "an unknown option" -- m dsar reindex --force
m dsar reindex --help | grep -q -- "--dry-run" && ok || bad "help"
finish dsar_reindex
