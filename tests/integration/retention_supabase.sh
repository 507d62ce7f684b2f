#!/usr/bin/env bash
# Integration test of `mdp retention apply --supabase` against a real PostgreSQL 15
# (scripts/pg.sh): the app schema holds the same users as a demo lake (one seed), the clock is set
# 36 months after the median user's last activity in the lake, and apply deletes exactly the users
# the lake's activity facts call inactive from user_profiles, with their rows in the tables that
# reference them; every other user's rows stay. The expected set is computed by a direct query of
# the lake. Usage: retention_supabase.sh path/to/mdp
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
for t in accounts user_profiles communication_prefs onboarding_progress locations visibility_checks oauth_logins; do
  pk=$(head -1 "$(ls "$L"/landing/supabase/$t/dt=*/$t.csv | head -1)" | cut -d, -f1)
  ts=updated_at; [ "$t" = oauth_logins ] && ts=created_at
  {
    echo "CREATE TEMP TABLE s (LIKE public.$t);"
    for f in "$L"/landing/supabase/$t/dt=*/$t.csv; do echo "\\copy s FROM '$f' WITH (FORMAT csv, HEADER)"; done
    echo "INSERT INTO public.$t SELECT DISTINCT ON ($pk) * FROM s ORDER BY $pk, $ts DESC;"
  } | "${psql[@]}" -d app && ok || bad "loading $t"
done
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
export MDP_SUPABASE_DSN="postgresql://postgres@127.0.0.1:$port/app"
expect_rc 0 "apply --supabase" -- "$MDP" retention apply --supabase --dir "$L" --file "$INV" --now "$T5"
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
finish retention_supabase
