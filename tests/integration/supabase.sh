#!/usr/bin/env bash
# Integration test of the supabase connector against a real PostgreSQL 15 (scripts/pg.sh): the app
# schema (config/supabase-schema.sql) is loaded with `mdp seed`'s exports, then `mdp ingest
# supabase --pull` exports every table with COPY, a second pull finds nothing new, a new row and a
# new column are picked up (schema drift recorded), and a refused connection is one clear error
# that does not print the password. Usage: supabase.sh path/to/mdp
MDP=${1:?usage: supabase.sh path/to/mdp}
source "$(dirname "$0")/../acceptance/lib.sh"
PG=$(mktemp -d /tmp/mdp-pg-XXXXXX)
chmod 755 "$PG" # the postgres user owns what is inside
trap '"$ROOT/scripts/pg.sh" stop "$PG"; rm -rf "$T" "$PG"' EXIT
port=$("$ROOT/scripts/pg.sh" start "$PG") || { echo "cannot start PostgreSQL" >&2; exit 1; }
psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "CREATE DATABASE app" && ok || bad "create database"
"${psql[@]}" -d app -f "$ROOT/config/supabase-schema.sql" && ok || bad "the schema does not load"

# the seed's exports load into the real schema (types, checks, keys): the latest row per key
"$MDP" --log-level off seed --users 150 --days 6 --bad-rate 0 --out "$T/seed" >/dev/null || bad "seed"
for t in accounts user_profiles communication_prefs onboarding_progress locations visibility_checks oauth_logins; do
  pk=$(head -1 "$(ls "$T"/seed/supabase/$t/dt=*/$t.csv | head -1)" | cut -d, -f1)
  ts=updated_at; [ "$t" = oauth_logins ] && ts=created_at
  {
    echo "CREATE TEMP TABLE s (LIKE public.$t);"
    for f in "$T"/seed/supabase/$t/dt=*/$t.csv; do echo "\\copy s FROM '$f' WITH (FORMAT csv, HEADER)"; done
    echo "INSERT INTO public.$t SELECT DISTINCT ON ($pk) * FROM s ORDER BY $pk, $ts DESC;"
  } | "${psql[@]}" -d app && ok || bad "loading the seed's $t export"
done
total=$("${psql[@]}" -d app -At -c "SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM user_profiles)
  + (SELECT count(*) FROM communication_prefs) + (SELECT count(*) FROM onboarding_progress)
  + (SELECT count(*) FROM locations) + (SELECT count(*) FROM visibility_checks) + (SELECT count(*) FROM oauth_logins)")
[ "${total:-0}" -gt 1000 ] && ok || bad "only $total rows loaded"

export MDP_SUPABASE_DSN="postgresql://postgres@127.0.0.1:$port/app"
LAKE="$T/lake"
"$MDP" --log-level off init --dir "$LAKE" >/dev/null
cfg="$T/mdp.yaml"
printf 'lake:\n  dir: %s\n  landing_dir: %s/landing\n' "$LAKE" "$LAKE" >"$cfg"
run_json() { "$MDP" --config "$cfg" --log-level warn --json ingest supabase "$@"; }
field() { python3 -c "import json,sys; r=[x for x in json.load(sys.stdin) if x['job']=='ingest.supabase']; print(r[0]['$1'] if r else -1)"; }

run_json --pull >"$T/p1" 2>"$T/e1" && ok || bad "first pull: $(cat "$T/e1")"
[ "$(field out <"$T/p1")" = "$total" ] && ok || bad "first pull took $(field out <"$T/p1") rows, the database has $total"
[ "$(field quarantined <"$T/p1")" = 0 ] && ok || bad "first pull quarantined rows"
for t in accounts oauth_logins; do
  [ -s "$LAKE/_meta/state/supabase/$t/watermark" ] && ok || bad "no watermark for $t"
  [ ! -e "$LAKE/_meta/state/supabase/$t/watermark.pending" ] && ok || bad "pending watermark left for $t"
done
raw_before=$(find "$LAKE/raw/supabase" -type f | wc -l)

run_json --pull >"$T/p2" 2>"$T/e2" && ok || bad "second pull: $(cat "$T/e2")"
[ "$(field in <"$T/p2")" = 0 ] && ok || bad "second pull took $(field in <"$T/p2") rows"
[ "$(find "$LAKE/raw/supabase" -type f | wc -l)" = "$raw_before" ] && ok || bad "second pull changed raw"

"${psql[@]}" -d app -c "ALTER TABLE accounts ADD COLUMN vat_id text;
  INSERT INTO accounts (account_id, business_name, vat_id, updated_at)
  VALUES ('01900000-0000-7000-8000-0000000000aa', 'Neu GmbH', 'DE123', now() + interval '1 day')" && ok || bad "alter"
run_json --pull >"$T/p3" 2>"$T/e3" && ok || bad "third pull: $(cat "$T/e3")"
[ "$(field out <"$T/p3")" = 1 ] && ok || bad "third pull took $(field out <"$T/p3") rows, want the 1 new one"
grep -q "1 schema changes" "$T/p3" && ok || bad "the new column was not recorded as drift: $(cat "$T/p3")"
ls "$LAKE"/_meta/state/supabase/accounts/drift/*.json >/dev/null 2>&1 && ok || bad "no drift record"
grep -q vat_id "$LAKE/_meta/state/supabase/accounts/columns" && ok || bad "columns not updated"

# --full exports every table again: an unchanged table's export is byte-identical to the first
# one and lands nothing (content addressing); only accounts, which changed, lands anew
run_json --pull --full >"$T/p4" 2>"$T/e4" && ok || bad "full pull: $(cat "$T/e4")"
accounts=$("${psql[@]}" -d app -At -c "SELECT count(*) FROM accounts")
[ "$(field out <"$T/p4")" = "$accounts" ] && ok || bad "full pull took $(field out <"$T/p4"), want the $accounts accounts"
grep -q ", 1 tables," "$T/p4" && ok || bad "unchanged tables were not recognised: $(cat "$T/p4")"

# a refused connection: exit 1, one message, no password
MDP_SUPABASE_DSN="postgresql://postgres:s3cr3t-pw@127.0.0.1:1/app?connect_timeout=3" \
  "$MDP" --config "$cfg" ingest supabase --pull >"$T/out" 2>"$T/err"
[ $? = 1 ] && ok || bad "refused connection did not exit 1"
grep -q "cannot connect" "$T/err" && ok || bad "no clear message: $(cat "$T/err")"
grep -q "s3cr3t-pw" "$T/err" "$T/out" && bad "the password was printed" || ok
env -u MDP_SUPABASE_DSN "$MDP" --config "$cfg" ingest supabase --pull >"$T/out" 2>"$T/err"
[ $? = 1 ] && grep -q "MDP_SUPABASE_DSN" "$T/err" && ok || bad "missing DSN: $(cat "$T/err")"

finish supabase
