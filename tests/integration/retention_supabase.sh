#!/usr/bin/env bash
# Integration test of `mdp retention apply --supabase` against a real PostgreSQL 15
# (scripts/pg.sh): the app schema holds the same users as a demo lake (one seed), the clock is set
# 36 months after the median user's last activity in the lake, and apply deletes exactly the users
# the lake's activity facts call inactive from user_profiles, with their rows in the tables that
# reference them; every other user's rows stay. The expected set is computed by a direct query of
# the lake. Also the retention stage of `mdp run` with governance.retention_stage_supabase off
# (rows left) and on (the inactive users' rows deleted). Usage: retention_supabase.sh path/to/mdp
MDP=${1:?usage: retention_supabase.sh path/to/mdp}
source "$(dirname "$0")/../acceptance/lib.sh"
PG=$(mktemp -d /tmp/mdp-pg-XXXXXX)
chmod 755 "$PG"
trap '"$ROOT/scripts/pg.sh" stop "$PG"; rm -rf "$T" "$PG"' EXIT
port=$("$ROOT/scripts/pg.sh" start "$PG") || { echo "cannot start PostgreSQL" >&2; exit 1; }
psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "CREATE DATABASE app" && ok || bad "create database"
"${psql[@]}" -d app -f "$ROOT/config/supabase-schema.sql" && ok || bad "the schema does not load"
INV=$ROOT/config/inventory.yaml
L=$T/lake
args=(--users 50 --days 5 --bad-rate 0 --start 2026-10-01)
"$MDP" --log-level off demo --dir "$L" "${args[@]}" >/dev/null || bad "demo"
load_app() { # database lake: the lake's Supabase exports (newest row per key) into the database
  for t in accounts user_profiles communication_prefs onboarding_progress locations visibility_checks oauth_logins; do
    pk=$(head -1 "$(ls "$2"/landing/supabase/$t/dt=*/$t.csv | head -1)" | cut -d, -f1)
    ts=updated_at; [ "$t" = oauth_logins ] && ts=created_at
    {
      echo "CREATE TEMP TABLE s (LIKE public.$t);"
      for f in "$2"/landing/supabase/$t/dt=*/$t.csv; do echo "\\copy s FROM '$f' WITH (FORMAT csv, HEADER)"; done
      echo "INSERT INTO public.$t SELECT DISTINCT ON ($pk) * FROM s ORDER BY $pk, $ts DESC;"
    } | "${psql[@]}" -d "$1" && ok || bad "loading $t into $1"
  done
}
load_app app "$L"
pgq() { "${psql[@]}" -d app -At -c "$1"; }
users0=$(pgq "SELECT count(*) FROM user_profiles")
q() { "$MDP" --log-level off query --dir "$L" --format csv "$1" | tail -n +2; }
act="SELECT CAST(u.user_id AS VARCHAR) AS u, greatest(CAST(u.signup_date AS TIMESTAMP), coalesce(u.last_login, TIMESTAMP '1970-01-01'), coalesce(max(l.last_seen), TIMESTAMP '1970-01-01'), coalesce(max(f.timestamp), TIMESTAMP '1970-01-01'), coalesce(max(o.timestamp), TIMESTAMP '1970-01-01'), coalesce(max(v.timestamp), TIMESTAMP '1970-01-01'), coalesce(max(e.timestamp), TIMESTAMP '1970-01-01')) AS last FROM dim_user u LEFT JOIN identity_links l ON l.user_id = u.user_id LEFT JOIN fact_onboarding_steps f ON f.user_id = u.user_id LEFT JOIN fact_login_oauth o ON o.user_id = u.user_id LEFT JOIN fact_visibility_check v ON v.user_id = u.user_id LEFT JOIN fact_email_events e ON e.user_id = u.user_id GROUP BY 1, u.signup_date, u.last_login"
mid=$(q "SELECT strftime(quantile_disc(last, 0.5), '%Y-%m-%d %H:%M:%S') FROM ($act)")
T5=$(python3 -c "
import sys, datetime as dt
t = dt.datetime.fromisoformat('$mid') + dt.timedelta(seconds=1)
print(t.replace(year=t.year + 3).strftime('%Y-%m-%dT%H:%M:%SZ'))")
cut=$(q "SELECT strftime(TIMESTAMP '$mid' + INTERVAL 1 SECOND, '%Y-%m-%d %H:%M:%S')")
q "SELECT u FROM ($act) WHERE last < TIMESTAMP '$cut' ORDER BY 1" >"$T/inactive"
n=$(wc -l <"$T/inactive")
[ "$n" -gt 0 ] && [ "$n" -lt "$users0" ] && ok || bad "the clock should split the $users0 users: $n"
ids=$(paste -sd, "$T/inactive" | sed "s/,/','/g")
in_pg=$(pgq "SELECT count(*) FROM user_profiles WHERE user_id::text IN ('$ids')")
prefs_other=$(pgq "SELECT count(*) FROM communication_prefs WHERE user_id::text NOT IN ('$ids')")
# users pending from an earlier apply without the connection: one active in the lake at T5 (it came
# back: left out, and no longer pending after the apply), one the lake does not know (planned)
back=$(q "SELECT u FROM ($act) WHERE last >= TIMESTAMP '$cut' ORDER BY 1 LIMIT 1")
gone=01900000-0000-7000-8000-0000000000ff
python3 - "$L/_meta/state.sqlite" "$back" "$gone" <<'PY' && ok || bad "pending users written"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for u in sys.argv[2:]:
    db.execute("INSERT INTO items (tbl, pk, sk, body) VALUES ('retention_pending', 'supabase.user_profiles', ?, ?)",
               (u, '{"user_id":"%s","dataset":"supabase.user_profiles","since":"2029-01-01T00:00:00.000Z"}' % u))
db.commit()
PY
"$MDP" --log-level off --json retention plan --dir "$L" --file "$INV" --now "$T5" >"$T/plan.json"
python3 - "$T/plan.json" "$n" <<'PY' && ok || bad "the plan's Supabase users: the inactive ones and the unknown pending one, not the active one"
import json, sys
up = [s for s in json.load(open(sys.argv[1]))["steps"] if s["dataset"] == "supabase.user_profiles"]
assert len(up) == 1 and up[0]["objects"] == int(sys.argv[2]) + 1, (up, sys.argv[2])
PY
export MDP_SUPABASE_DSN="postgresql://postgres@127.0.0.1:$port/app"
expect_rc 0 "apply --supabase" -- "$MDP" retention apply --supabase --dir "$L" --file "$INV" --now "$T5"
python3 -c 'import sqlite3, sys; sys.exit(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM items WHERE tbl = ?", ("retention_pending",)).fetchone()[0])' \
  "$L/_meta/state.sqlite" && ok || bad "users still pending after the apply with the connection"
expect_in "$T/out" "row(s) of inactive users in Supabase" "says what it deleted"
[ "$(pgq "SELECT count(*) FROM user_profiles")" = "$((users0 - in_pg))" ] && ok \
  || bad "user_profiles: $(pgq "SELECT count(*) FROM user_profiles") rows, want $((users0 - in_pg))"
[ "$(pgq "SELECT count(*) FROM user_profiles WHERE user_id::text IN ('$ids')")" = 0 ] && ok || bad "an inactive user survived"
for t in communication_prefs onboarding_progress visibility_checks oauth_logins; do
  [ "$(pgq "SELECT count(*) FROM $t WHERE user_id::text IN ('$ids')")" = 0 ] && ok || bad "$t keeps inactive users' rows"
done
[ "$(pgq "SELECT count(*) FROM communication_prefs")" = "$prefs_other" ] && ok || bad "other users' prefs changed"
# the ledger holds one entry per Supabase table, without a user id
grep -l '"dataset":"supabase.user_profiles"' "$L"/_meta/ledger/*.json >/dev/null && ok || bad "no ledger entry for user_profiles"
grep -qF "$(head -1 "$T/inactive")" "$L"/_meta/ledger/*.json && bad "a user id in the ledger" || ok
expect_rc 0 "the ledger verifies" -- "$MDP" retention verify --dir "$L"
# a refused connection: nothing in the lake changes, the error names no password
cp -a "$L" "$T/lake2"
before=$(cd "$T/lake2" && find . -path ./landing -prune -o -type f -print | sort | md5sum)
MDP_SUPABASE_DSN="postgresql://postgres:s3cr3t-pw@127.0.0.1:1/app?connect_timeout=3" \
  expect_rc 1 "a refused connection fails" -- "$MDP" retention apply --supabase --dir "$T/lake2" --file "$INV" --now "$(date -u -d '40 months' +%FT%TZ)"
expect_in "$T/err" "cannot connect to PostgreSQL" "says so"
grep -q "s3cr3t" "$T/err" "$T/out" && bad "the password was printed" || ok
[ "$(cd "$T/lake2" && find . -path ./landing -prune -o -type f -print | sort | md5sum)" = "$before" ] && ok \
  || bad "the lake changed although Supabase could not be reached"

# ---- the retention stage of `mdp run` (today's clock) on a lake whose users were last active
# 40 months ago: with governance.retention_stage_supabase off it lists and leaves their rows, on
# it deletes them, as apply --supabase does
O=$T/old
"$MDP" --log-level off demo --dir "$O" --users 20 --days 2 --bad-rate 0 --start "$(date -u -d '40 months ago' +%F)" >/dev/null \
  || bad "the old demo lake"
"${psql[@]}" -d postgres -c "CREATE DATABASE app2" && "${psql[@]}" -d app2 -f "$ROOT/config/supabase-schema.sql" \
  && ok || bad "the second database"
load_app app2 "$O"
old_users=$("${psql[@]}" -d app2 -At -c "SELECT count(*) FROM user_profiles")
[ "$old_users" -gt 0 ] && ok || bad "no users in app2"
export MDP_SUPABASE_DSN="postgresql://postgres@127.0.0.1:$port/app2"
printf 'governance:\n  inventory: %s\n  retention_stage_supabase: "%s"\n' "$INV" off >"$T/off.yaml"
printf 'governance:\n  inventory: %s\n  retention_stage_supabase: "%s"\n' "$INV" on >"$T/on.yaml"
expect_rc 0 "the stage, Supabase off" -- "$MDP" --log-level off --config "$T/off.yaml" run --stages retention --dir "$O"
[ "$("${psql[@]}" -d app2 -At -c "SELECT count(*) FROM user_profiles")" = "$old_users" ] && ok || bad "off: Supabase rows were deleted"
runs=$("$MDP" --log-level off runs --dir "$O" --json 2>/dev/null)
grep -q "governance.retention_stage_supabase is off" <<<"$runs" && ok || bad "off: the run record says the rows were left"
# the lake's rewrite took the users out of the activity facts: they wait in the state store, each
# with its pseudonym as subject (an erasure removes it), for the run with the connection
pending() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM items WHERE tbl = ? AND pk = ? AND subject IS NOT NULL", ("retention_pending", "supabase.user_profiles")).fetchone()[0])' "$O/_meta/state.sqlite"; }
[ "$(pending)" = "$old_users" ] && ok || bad "off: $(pending) users pending, want $old_users"
MDP_SUPABASE_DSN= expect_rc 1 "on without a connection string" -- "$MDP" --config "$T/on.yaml" run --stages retention --dir "$O"
expect_in "$T/err" "holds no connection string" "says which variable is empty"
expect_rc 0 "the stage, Supabase on" -- "$MDP" --log-level off --config "$T/on.yaml" run --stages retention --dir "$O"
[ "$("${psql[@]}" -d app2 -At -c "SELECT count(*) FROM user_profiles")" = 0 ] && ok \
  || bad "on: $("${psql[@]}" -d app2 -At -c "SELECT count(*) FROM user_profiles") of $old_users inactive users left"
[ "$("${psql[@]}" -d app2 -At -c "SELECT count(*) FROM communication_prefs")" = 0 ] && ok || bad "on: their prefs left"
[ "$(pending)" = 0 ] && ok || bad "on: $(pending) users still pending after their rows were deleted"
expect_rc 0 "the old lake's ledger verifies" -- "$MDP" retention verify --dir "$O"
finish retention_supabase
