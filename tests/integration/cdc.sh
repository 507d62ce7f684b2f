#!/usr/bin/env bash
# Integration test of `mdp cdc` against a real PostgreSQL 15 with wal_level=logical
# (scripts/pg.sh), checked independently by a second slot with the server's test_decoding plugin
# (tests/integration/cdc_check.py): setup is idempotent and warns about a table without primary
# key; inserts, updates, deletes and a truncate across the app's tables arrive in raw in commit
# order, each once, and replaying raw gives the database's rows; schema drift is recorded;
# `mdp cdc run` killed with SIGKILL again and again under a steady write load, then restarted,
# has every committed change exactly once; a connection the server drops is resumed; the lag is
# measured and recorded. Usage: cdc.sh path/to/mdp
MDP=${1:?usage: cdc.sh path/to/mdp}
source "$(dirname "$0")/../acceptance/lib.sh"
PG=$(mktemp -d /tmp/mdp-pg-XXXXXX)
chmod 755 "$PG"
LOADPID=
cleanup() {
  [ -n "$LOADPID" ] && { pkill -P "$LOADPID"; kill "$LOADPID"; } 2>/dev/null
  "$ROOT/scripts/pg.sh" stop "$PG"
  rm -rf "$T" "$PG"
}
trap cleanup EXIT
port=$("$ROOT/scripts/pg.sh" start "$PG") || { echo "cannot start PostgreSQL" >&2; exit 1; }
psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
conn=(-h 127.0.0.1 -p "$port" -U postgres -d app)
CHECK=(python3 "$ROOT/tests/integration/cdc_check.py")
"${psql[@]}" -d postgres -c "CREATE DATABASE app" && ok || bad "create database"
"${psql[@]}" -d app -f "$ROOT/config/supabase-schema.sql" && ok || bad "the schema does not load"
"${psql[@]}" -d app -c "CREATE TABLE public.nopk (a int, b text)" && ok || bad "nopk"

export MDP_SUPABASE_DSN="postgresql://postgres@127.0.0.1:$port/app"
export CDC_TABLES=accounts,user_profiles,communication_prefs,onboarding_progress,locations,visibility_checks,oauth_logins,nopk
LAKE="$T/lake"
"$MDP" --log-level off init --dir "$LAKE" >/dev/null
cfg="$T/mdp.yaml"
cat >"$cfg" <<EOF
lake:
  dir: $LAKE
ingest:
  non_v7_ids: count # the load's ids are random UUIDs
cdc:
  tables: [$CDC_TABLES]
  flush_ms: 200
  status_interval_seconds: 1
  lag_interval_seconds: 1
  reconnect_timeout_seconds: 30
EOF
cdc() { "$MDP" --config "$cfg" --log-level warn "$@"; }

# --- setup: creates, then finds everything in place; warns about the table without a key
cdc cdc setup >"$T/s1" 2>"$T/e1" && ok || bad "setup: $(cat "$T/e1")"
expect_in "$T/s1" "created publication mdp_cdc" "setup creates the publication"
expect_in "$T/s1" "created slot mdp_cdc" "setup creates the slot"
expect_in "$T/s1" "warning: public.nopk has no primary key" "setup warns about nopk"
cdc cdc setup >"$T/s2" 2>"$T/e2" && ok || bad "second setup: $(cat "$T/e2")"
expect_in "$T/s2" "publication mdp_cdc exists" "setup is idempotent (publication)"
expect_in "$T/s2" "slot mdp_cdc exists" "setup is idempotent (slot)"
[ -s "$LAKE/_meta/state/supabase_cdc/mdp_cdc/slot.json" ] && ok || bad "no slot.json"
# the independent witness, from the same point on
"${psql[@]}" -d app -At -c "SELECT 1 FROM pg_create_logical_replication_slot('audit', 'test_decoding')" >/dev/null \
  && ok || bad "audit slot"

# --- a workload across the app's tables, in several transactions
A1=01900000-0000-7000-8000-000000000a01 A2=01900000-0000-7000-8000-000000000a02
U1=01900000-0000-7000-8000-000000000b01 U2=01900000-0000-7000-8000-000000000b02
"${psql[@]}" -d app <<EOF && ok || bad "workload"
INSERT INTO accounts (account_id, business_name, price_range) VALUES ('$A1', 'Trattoria "Uno", Köln', '€€'), ('$A2', 'Zwei', NULL);
BEGIN;
INSERT INTO user_profiles (user_id, account_id, email, name, persona, signup_at, preferences)
  VALUES ('$U1', '$A1', 'eins@example.com', 'Eins', 'solo-sarah', now(), '{"x": [1, 2]}'),
         ('$U2', '$A2', 'zwei@example.com', E'Zwei\\\\Tab\there', 'bewahrer-ben', now(), '{}');
INSERT INTO communication_prefs (user_id, tone, address, help_level) VALUES ('$U1', 'brief', 'du', 'minimal'), ('$U2', 'facts', 'sie', 'detailed');
INSERT INTO onboarding_progress (progress_id, user_id, account_id, step_id, completion_status, started_at)
  VALUES ('01900000-0000-7000-8000-000000000c01', '$U1', '$A1', 'gbp_connect', 'started', now());
INSERT INTO locations (location_id, account_id, city, country, latitude, longitude)
  VALUES ('01900000-0000-7000-8000-000000000d01', '$A1', 'Köln', 'DE', 50.93753000, 6.96028000);
INSERT INTO visibility_checks (check_id, user_id, account_id, overall_score) VALUES ('01900000-0000-7000-8000-000000000e01', '$U1', '$A1', 71);
INSERT INTO oauth_logins (event_id, user_id, provider, success) VALUES ('01900000-0000-7000-8000-000000000f01', '$U1', 'google', true), ('01900000-0000-7000-8000-000000000f02', '$U2', 'facebook', false);
COMMIT;
UPDATE onboarding_progress SET completion_status = 'completed', completed_at = now(), duration_seconds = 42;
UPDATE user_profiles SET last_login_at = now(), updated_at = now() WHERE user_id = '$U1';
UPDATE accounts SET account_id = '01900000-0000-7000-8000-000000000a03' WHERE account_id = '$A2' AND NOT EXISTS (SELECT 1 FROM user_profiles WHERE account_id = '$A2');
BEGIN; DELETE FROM communication_prefs WHERE user_id = '$U2'; DELETE FROM oauth_logins WHERE user_id = '$U2'; DELETE FROM user_profiles WHERE user_id = '$U2'; COMMIT;
BEGIN; INSERT INTO nopk VALUES (1, 'one'), (2, NULL); ROLLBACK;
INSERT INTO nopk VALUES (3, 'three');
TRUNCATE oauth_logins;
INSERT INTO oauth_logins (event_id, user_id, provider, success) VALUES ('01900000-0000-7000-8000-000000000f03', '$U1', 'google', true);
EOF
# a delete from the table without a key is refused by PostgreSQL itself while it is published
"${psql[@]}" -d app -c "DELETE FROM nopk" 2>"$T/pgerr" && bad "PostgreSQL took a delete it cannot publish" || ok
expect_in "$T/pgerr" "does not have a replica identity" "the server's refusal"
# with REPLICA IDENTITY FULL the delete is captured, identified by the whole row, with a warning
"${psql[@]}" -d app -c "ALTER TABLE nopk REPLICA IDENTITY FULL; DELETE FROM nopk WHERE a = 3" && ok || bad "nopk full"

cdc --json cdc run --once >"$T/r1" 2>"$T/e1" && ok || bad "first run: $(cat "$T/e1")"
grep -q '"changes":' "$T/r1" && ok || bad "no summary: $(cat "$T/r1")"
expect_in "$T/e1" "table has no primary key" "run warns about nopk"
expect_in "$T/e1" "delete from a table without primary key" "run warns on the delete from nopk"
"${CHECK[@]}" state "$LAKE" "${conn[@]}" >"$T/c1" 2>&1 && ok || bad "state after the workload: $(cat "$T/c1")"
grep -q '"op":"truncate","schema":"public","table":"oauth_logins"' "$LAKE"/raw/supabase_cdc/oauth_logins/*/*.ndjson \
  && ok || bad "no truncate line"
grep -q "\"key\":{\"user_id\":\"$U2\"},\"row\":null" "$LAKE"/raw/supabase_cdc/user_profiles/*/*.ndjson \
  && ok || bad "the delete of user_profiles has no old key"
grep -q '"op":"delete".*"key":{"a":"3","b":"three"}' "$LAKE"/raw/supabase_cdc/nopk/*/*.ndjson \
  && ok || bad "the nopk delete is not identified by its row"
# nothing new: a second run writes nothing
before=$(find "$LAKE/raw/supabase_cdc" -type f | wc -l)
cdc --json cdc run --once >"$T/r2" 2>"$T/e2" && ok || bad "second run: $(cat "$T/e2")"
grep -q '"changes":0,' "$T/r2" && ok || bad "second run took changes: $(cat "$T/r2")"
[ "$(find "$LAKE/raw/supabase_cdc" -type f | wc -l)" = "$before" ] && ok || bad "second run changed raw"

# --- schema drift: a column added between transactions
"${psql[@]}" -d app -c "ALTER TABLE accounts ADD COLUMN vat_id text;
  INSERT INTO accounts (account_id, business_name, vat_id) VALUES ('01900000-0000-7000-8000-000000000a09', 'Neu', 'DE1')" \
  && ok || bad "alter"
cdc --json cdc run --once >"$T/r3" 2>"$T/e3" && ok || bad "drift run: $(cat "$T/e3")"
grep -q '"schema_changes":1' "$T/r3" && ok || bad "drift not counted: $(cat "$T/r3")"
ls "$LAKE"/_meta/state/supabase/accounts/drift/*.json >/dev/null 2>&1 && ok || bad "no drift record"
grep -q vat_id "$LAKE/_meta/state/supabase/accounts/columns" && ok || bad "columns not updated"

# --- kill -9 under a steady write load, then restart: every committed change exactly once
load() { # one session, a transaction of 1-3 inserts and an update every few milliseconds
  local i=0
  while :; do
    i=$((i + 1))
    echo "BEGIN;
      INSERT INTO accounts (account_id, business_name) SELECT gen_random_uuid(), 'load-$i-' || g FROM generate_series(1, 1 + $i % 3) g;
      UPDATE accounts SET is_active = NOT is_active WHERE business_name = 'load-$i-1';
      COMMIT; SELECT pg_sleep(0.003);"
  done | "${psql[@]}" -d app >/dev/null 2>&1
}
load &
LOADPID=$!
for round in 1 2 3 4 5 6; do
  "$MDP" --config "$cfg" --log-level warn cdc run >"$T/k$round" 2>&1 & # the process itself, not a subshell
  pid=$!
  sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
  sleep $((round % 2))
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
pkill -P "$LOADPID" 2>/dev/null # the loop's psql and shell, children of the job started here
kill "$LOADPID" 2>/dev/null
wait "$LOADPID" 2>/dev/null
LOADPID=
loaded=$("${psql[@]}" -d app -At -c "SELECT count(*) FROM accounts WHERE business_name LIKE 'load-%'")
[ "${loaded:-0}" -gt 100 ] && ok || bad "the load wrote only $loaded rows"
echo "kill -9 test: $loaded rows loaded in 6 rounds of kill -9"

# --- a connection the server drops is resumed
cdc --json cdc run --duration 6 >"$T/r4" 2>"$T/e4" &
runpid=$!
# wait until its walsender streams (polled: a slow machine may take more than the 2 s this slept)
for _ in $(seq 150); do
  [ "$("${psql[@]}" -d app -At -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'mdp_cdc' AND active")" = 1 ] && break
  sleep 0.1
done
"${psql[@]}" -d app -At -c "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'mdp_cdc' AND active" \
  | grep -q t && ok || bad "no active walsender to terminate"
sleep 0.5
"${psql[@]}" -d app -c "INSERT INTO accounts (account_id, business_name) VALUES ('01900000-0000-7000-8000-000000000a10', 'after the drop')" \
  && ok || bad "insert after the drop"
wait "$runpid" && ok || bad "run across a dropped connection failed: $(cat "$T/e4")"
grep -q '"reconnects":[1-9]' "$T/r4" && ok || bad "no reconnect counted: $(cat "$T/r4")"
grep -rq '"business_name":"after the drop"' "$LAKE/raw/supabase_cdc/accounts" && ok || bad "the change after the drop is missing"

cdc cdc run --once >/dev/null 2>"$T/e5" && ok || bad "final run: $(cat "$T/e5")"
"${CHECK[@]}" audit "$LAKE" "${conn[@]}" >"$T/c2" 2>&1 && ok || bad "audit: $(cat "$T/c2")"
"${CHECK[@]}" state "$LAKE" "${conn[@]}" >"$T/c3" 2>&1 && ok || bad "state at the end: $(cat "$T/c3")"
cat "$T/c2" "$T/c3"

# --- curate applies CDC over the export (the bootstrap): a deleted user leaves dim_user, an update
# shows, and a row both paths saw is counted once
U3=01900000-0000-7000-8000-000000000b03
"${psql[@]}" -d app -c "INSERT INTO user_profiles (user_id, account_id, email, persona, signup_at)
  VALUES ('$U3', '$A1', 'drei@example.com', 'ketten-katrin', now())" && ok || bad "insert U3"
cdc ingest supabase --pull >/dev/null 2>"$T/ex" && ok || bad "export: $(cat "$T/ex")"
cdc cdc run --once >/dev/null 2>"$T/e8" && ok || bad "run before curate: $(cat "$T/e8")"
qv() { "$MDP" --log-level off query --dir "$LAKE" --format csv "$1" | tail -n +2 | tr -d '"'; }
cdc curate >/dev/null 2>"$T/cu1" && ok || bad "curate: $(cat "$T/cu1")"
users=$("${psql[@]}" -d app -At -c "SELECT count(*) FROM user_profiles")
[ "$(qv "SELECT count(*) FROM dim_user")" = "$users" ] && ok || bad "dim_user has $(qv "SELECT count(*) FROM dim_user") users, the database $users"
[ "$(qv "SELECT count(*) FROM dim_user WHERE user_id = '$U3'")" = 1 ] && ok || bad "U3 not in dim_user"
[ "$(qv "SELECT count(*) FROM dim_user WHERE user_id = '$U2'")" = 0 ] && ok || bad "the deleted U2 is in dim_user"
"${psql[@]}" -d app -c "DELETE FROM user_profiles WHERE user_id = '$U3';
  UPDATE user_profiles SET persona = 'wachstums-walter' WHERE user_id = '$U1'" && ok || bad "delete U3"
cdc cdc run --once >/dev/null 2>"$T/e9" && ok || bad "run after the delete: $(cat "$T/e9")"
cdc curate >/dev/null 2>"$T/cu2" && ok || bad "second curate: $(cat "$T/cu2")"
[ "$(qv "SELECT count(*) FROM dim_user WHERE user_id = '$U3'")" = 0 ] && ok || bad "the deleted U3 is still in dim_user"
[ "$(qv "SELECT persona FROM dim_user WHERE user_id = '$U1'")" = wachstums-walter ] && ok || bad "the update of U1 did not arrive"
[ "$(qv "SELECT count(*) FROM dim_user")" = "$((users - 1))" ] && ok || bad "dim_user count after the delete"
accounts=$("${psql[@]}" -d app -At -c "SELECT count(*) FROM accounts")
[ "$(qv "SELECT count(*) FROM dim_account")" = "$accounts" ] && ok || bad "dim_account has $(qv "SELECT count(*) FROM dim_account"), the database $accounts"

# --- the data inventory classifies what CDC wrote (other findings of this partial lake aside)
"$MDP" --config "$cfg" inventory check --file "$ROOT/config/inventory.yaml" >"$T/inv" 2>&1
# (nopk is this test's own table, not the app's: the check must name it)
grep -q "unlisted_dataset: raw/supabase_cdc/nopk" "$T/inv" && ok || bad "inventory did not name nopk"
grep "supabase_cdc" "$T/inv" | grep -vq "supabase_cdc/nopk" && bad "inventory: $(grep supabase_cdc "$T/inv" | head -3)" || ok

# --- lag: measured on a normal connection and recorded for the alarms
cdc --json cdc lag --record >"$T/lag" 2>"$T/elag" && ok || bad "lag: $(cat "$T/elag")"
grep -q '"lag_bytes":' "$T/lag" && ok || bad "lag output: $(cat "$T/lag")"
ls "$LAKE"/_meta/metrics/cdc/dt=*/*.json >/dev/null 2>&1 && ok || bad "no lag snapshot"

# --- bad input: a missing slot and a missing connection string are clear errors
cdc cdc run --once --slot nosuchslot >/dev/null 2>"$T/e6"
[ $? = 1 ] && ok || bad "a missing slot did not fail"
expect_in "$T/e6" "nosuchslot" "the missing slot is named"
env -u MDP_SUPABASE_DSN "$MDP" --config "$cfg" cdc run --once >/dev/null 2>"$T/e7"
[ $? = 1 ] && ok || bad "a missing DSN did not fail"
expect_in "$T/e7" "MDP_SUPABASE_DSN" "the variable is named"

finish cdc
