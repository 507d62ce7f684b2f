#!/usr/bin/env bash
# Integration test of `mdp dsar export` (docs/privacy.md §5) on a demo lake plus a real PostgreSQL
# 15 (scripts/pg.sh) holding the same users: a user's bundle has, per dataset, exactly the rows an
# independent reader finds in that store (dsar_check.py: Python over raw objects, hyparquet over
# the current Parquet files, sqlite3 over the state store, psql over Supabase); the manifest's
# hashes match; two exports are byte-identical; the export by address equals the export by id;
# an unknown user, an existing folder, a bad id and an unreachable Supabase exit 1 and write
# nothing. Usage: dsar_export.sh path/to/mdp
MDP=${1:?usage: dsar_export.sh path/to/mdp}
source "$(dirname "$0")/../acceptance/lib.sh"
PG=$(mktemp -d /tmp/mdp-pg-XXXXXX)
chmod 755 "$PG"
trap '"$ROOT/scripts/pg.sh" stop "$PG"; rm -rf "$T" "$PG"' EXIT
port=$("$ROOT/scripts/pg.sh" start "$PG") || { echo "cannot start PostgreSQL" >&2; exit 1; }
psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "CREATE DATABASE app" && ok || bad "create database"
"${psql[@]}" -d app -f "$ROOT/config/supabase-schema.sql" && ok || bad "the schema does not load"
INV=$ROOT/config/inventory.yaml
NM=$ROOT/deps/node/node_modules
L=$T/lake
"$MDP" --log-level off demo --dir "$L" --users 40 --days 5 --bad-rate 0 --start 2026-10-01 >/dev/null || bad "demo"
for t in accounts user_profiles communication_prefs onboarding_progress locations visibility_checks oauth_logins; do
  pk=$(head -1 "$(ls "$L"/landing/supabase/$t/dt=*/$t.csv | head -1)" | cut -d, -f1)
  ts=updated_at; [ "$t" = oauth_logins ] && ts=created_at
  {
    echo "CREATE TEMP TABLE s (LIKE public.$t);"
    for f in "$L"/landing/supabase/$t/dt=*/$t.csv; do echo "\\copy s FROM '$f' WITH (FORMAT csv, HEADER)"; done
    echo "INSERT INTO public.$t SELECT DISTINCT ON ($pk) * FROM s ORDER BY $pk, $ts DESC;"
  } | "${psql[@]}" -d app && ok || bad "loading $t"
done
export MDP_SUPABASE_DSN="postgresql://postgres@127.0.0.1:$port/app"
pgargs=("${psql[@]}" -d app)
q() { "$MDP" --log-level off query --dir "$L" --format csv "$1" | tail -n +2; }

# two users: the one with the most email events (SES, DynamoDB, consent journal all hold them) and
# one with visibility checks
u1=$(q "SELECT CAST(user_id AS VARCHAR) FROM fact_email_events WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
u2=$(q "SELECT CAST(user_id AS VARCHAR) FROM fact_visibility_check WHERE CAST(user_id AS VARCHAR) <> '$u1' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
[ -n "$u1" ] && [ -n "$u2" ] && [ "$u1" != "$u2" ] && ok || bad "no users to export"
for u in "$u1" "$u2"; do
  expect_rc 0 "export $u" -- "$MDP" --log-level off dsar export "$u" --out "$T/b-$u" --dir "$L" --file "$INV"
  expect_in "$T/out" "exported" "says what it exported"
  python3 "$ROOT/tests/integration/dsar_check.py" "$L" "$INV" "$T/b-$u" "$NM" "$u" "${pgargs[@]}" >"$T/check" 2>&1 \
    && ok || bad "independent check of $u: $(cat "$T/check")"
  cat "$T/check"
  # Supabase rows are in the bundle, onboarding progress included
  n=$(python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(sum(f['rows'] or 0 for f in m['files'] if f['store']=='supabase'))" "$T/b-$u/manifest.json")
  [ "$n" -gt 0 ] && ok || bad "no Supabase rows for $u"
  [ -s "$T/b-$u/supabase.onboarding_progress.ndjson" ] && ok || bad "no onboarding progress for $u"
done
# the bundle names every dataset that can hold a person: read ones as files, the rest in not_read
python3 - "$INV" "$T/b-$u1/manifest.json" <<'EOF' && ok || bad "datasets missing from the manifest"
import json, sys, yaml
inv = yaml.safe_load(open(sys.argv[1]))["datasets"]
m = json.load(open(sys.argv[2]))
listed = {f["dataset"] for f in m["files"] if f["dataset"]} | {n["dataset"] for n in m["not_read"]}
want = {n for n, ds in inv.items() if ds["subject_keys"]}
sys.exit(0 if listed == want else print(sorted(want ^ listed)) or 1)
EOF
python3 - "$INV" "$T/b-$u1/art15.json" <<'EOF' && ok || bad "art15.json lacks a field"
import json, sys
a = json.load(open(sys.argv[2]))
assert a["controller"] and a["dpo"] and a["datasets"]
for d in a["datasets"]:
    for k in ("purpose", "legal_basis", "legal_basis_text", "recipients", "transfers", "source"):
        assert d[k], (d["dataset"], k)
    assert d["retention"]["period"] and d["retention"]["clock"]
EOF

# deterministic: a second export of the same lake is byte-identical
mkdir -p "$T/again"
expect_rc 0 "second export" -- "$MDP" --log-level off dsar export "$u1" --out "$T/again/b-$u1" --dir "$L" --file "$INV"
cmp "$T/b-$u1.tar" "$T/again/b-$u1.tar" && ok || bad "two exports of one lake differ (tar)"
diff -r "$T/b-$u1" "$T/again/b-$u1" >/dev/null && ok || bad "two exports of one lake differ (folder)"

# by address: the same subject, the same files
email=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['subject']['emails'][0])" "$T/b-$u1/manifest.json")
expect_rc 0 "export by address" -- "$MDP" --log-level off dsar export --email "  ${email^^} " --out "$T/by-mail" --dir "$L" --file "$INV"
diff -r "$T/b-$u1" "$T/by-mail" >/dev/null && ok || bad "the export by address differs from the one by user_id"
grep -qF "$email" "$T/out" "$T/err" && bad "the address was printed" || ok

# bad input: nothing written
unknown=01890a5d-ac96-774b-bcce-b302099a8057
expect_rc 1 "unknown user" -- "$MDP" --log-level off dsar export "$unknown" --out "$T/unknown" --dir "$L" --file "$INV"
expect_in "$T/err" "nothing about this subject" "says why"
[ ! -e "$T/unknown" ] && [ ! -e "$T/unknown.tar" ] && ok || bad "an unknown user left a bundle"
ls "$T" | grep -q "unknown.*tmp" && bad "an unknown user left a temporary file" || ok
expect_rc 1 "not a user id" -- "$MDP" --log-level off dsar export not-a-uuid --out "$T/bad" --dir "$L" --file "$INV"
expect_in "$T/err" "not a user_id" "says why"
expect_rc 1 "an existing folder" -- "$MDP" --log-level off dsar export "$u2" --out "$T/b-$u2" --dir "$L" --file "$INV"
expect_in "$T/err" "exists" "says why"
expect_rc 2 "no subject" -- "$MDP" --log-level off dsar export --out "$T/none" --dir "$L"
expect_rc 0 "help" -- "$MDP" dsar export --help
expect_in "$T/out" "art15.json" "help names the bundle's files"
expect_rc 0 "dsar help" -- "$MDP" dsar --help
expect_in "$T/out" "export" "lists the subcommands"
# Supabase configured but down: exit 1, nothing written, no password printed
MDP_SUPABASE_DSN="postgresql://postgres:s3cr3t-pw@127.0.0.1:1/app?connect_timeout=3" \
  expect_rc 1 "Supabase down" -- "$MDP" --log-level off dsar export "$u1" --out "$T/down" --dir "$L" --file "$INV"
expect_in "$T/err" "cannot connect to PostgreSQL" "says so"
grep -q "s3cr3t" "$T/err" "$T/out" && bad "the password was printed" || ok
[ ! -e "$T/down" ] && [ ! -e "$T/down.tar" ] && ok || bad "Supabase down left a bundle"
# without Supabase configured the export still runs, and lists Supabase as not read
MDP_SUPABASE_DSN= expect_rc 0 "no Supabase configured" -- "$MDP" --log-level off dsar export "$u2" --out "$T/nopg" --dir "$L" --file "$INV"
grep -q '"dataset":"supabase.user_profiles","store":"supabase","why"' "$T/nopg/manifest.json" && ok \
  || bad "Supabase is not listed as not read"
MDP_SUPABASE_DSN= python3 "$ROOT/tests/integration/dsar_check.py" "$L" "$INV" "$T/nopg" "$NM" "$u2" >"$T/check" 2>&1 \
  && ok || bad "independent check without Supabase: $(cat "$T/check")"
finish dsar_export
