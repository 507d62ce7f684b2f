#!/usr/bin/env bash
# Integration test of `mdp cdc run` beyond protocol version 1, against a real PostgreSQL 15
# (scripts/pg.sh) whose logical_decoding_work_mem is 64kB, so that large transactions are streamed
# before their commit (pgoutput protocol version 2): a streamed transaction that commits arrives
# whole and once, one that aborts and a rolled-back savepoint leave nothing; an UPDATE that leaves
# a TOASTed column untouched is recorded as unchanged (not null) and curate keeps the previous
# value; with --curate-every 2s a row deleted in PostgreSQL leaves dim_user without a `mdp curate`
# by hand, and a failing curate is reported and retried while CDC goes on. Raw is checked
# against a test_decoding slot (tests/integration/cdc_check.py). Usage: cdc_stream.sh path/to/mdp
MDP=${1:?usage: cdc_stream.sh path/to/mdp}
source "$(dirname "$0")/../acceptance/lib.sh"
PG=$(mktemp -d /tmp/mdp-pg-XXXXXX)
chmod 755 "$PG"
RUNPID=
cleanup() {
  [ -n "$RUNPID" ] && kill "$RUNPID" 2>/dev/null && wait "$RUNPID" 2>/dev/null
  "$ROOT/scripts/pg.sh" stop "$PG"
  rm -rf "$T" "$PG"
}
trap cleanup EXIT
port=$("$ROOT/scripts/pg.sh" start "$PG") || { echo "cannot start PostgreSQL" >&2; exit 1; }
psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
conn=(-h 127.0.0.1 -p "$port" -U postgres -d app)
CHECK=(python3 "$ROOT/tests/integration/cdc_check.py")
"${psql[@]}" -d postgres -c "ALTER SYSTEM SET logical_decoding_work_mem = '64kB'" -c "SELECT pg_reload_conf()" >/dev/null \
  && ok || bad "logical_decoding_work_mem"
"${psql[@]}" -d postgres -c "CREATE DATABASE app" && ok || bad "create database"
"${psql[@]}" -d app -f "$ROOT/config/supabase-schema.sql" && ok || bad "the schema does not load"

export MDP_SUPABASE_DSN="postgresql://postgres@127.0.0.1:$port/app"
export CDC_TABLES=accounts,user_profiles,communication_prefs
LAKE="$T/lake"
"$MDP" --log-level off init --dir "$LAKE" >/dev/null
cfg="$T/mdp.yaml"
cat >"$cfg" <<EOF
lake:
  dir: $LAKE
cdc:
  tables: [$CDC_TABLES]
  flush_ms: 200
  status_interval_seconds: 1
  reconnect_timeout_seconds: 30
EOF
cdc() { "$MDP" --config "$cfg" --log-level warn "$@"; }
qv() { "$MDP" --log-level off query --dir "$LAKE" --format csv "$1" 2>/dev/null | tail -n +2 | tr -d '"'; }
# waits up to $1 seconds for the query $2 to print $3
wait_for() {
  local i
  for ((i = 0; i < $1 * 2; i++)); do
    [ "$(qv "$2")" = "$3" ] && return 0
    sleep 0.5
  done
  return 1
}

cdc cdc setup >"$T/s1" 2>"$T/e1" && ok || bad "setup: $(cat "$T/e1")"
"${psql[@]}" -d app -At -c "SELECT 1 FROM pg_create_logical_replication_slot('audit', 'test_decoding')" >/dev/null \
  && ok || bad "audit slot"

A1=01900000-0000-7000-8000-000000000a01
U1=01900000-0000-7000-8000-000000000b01 U2=01900000-0000-7000-8000-000000000b02
U3=01900000-0000-7000-8000-000000000b03
# U3's email and preferences are over 2 kB of md5 hex (which compression does not shrink below
# the TOAST threshold): stored out of line
"${psql[@]}" -d app <<EOF && ok || bad "seed"
INSERT INTO accounts (account_id, business_name) VALUES ('$A1', 'Eins');
INSERT INTO user_profiles (user_id, account_id, email, persona, signup_at) VALUES
  ('$U1', '$A1', 'eins@example.com', 'solo-sarah', now()),
  ('$U2', '$A1', 'zwei@example.com', 'bewahrer-ben', now());
INSERT INTO user_profiles (user_id, account_id, email, persona, signup_at, preferences)
  SELECT '$U3', '$A1', string_agg(md5(random()::text), '') || '@example.com', 'ketten-katrin', now(),
         jsonb_build_object('blob', string_agg(md5(random()::text), ''))
  FROM generate_series(1, 200);
EOF

# --- a failing curate is reported and retried at each tick; CDC goes on
mkdir -p "$T/badmodels"
printf -- '-- model: dim_user\n-- table: curated/dimensions/dim_user\nSELECT * FROM no_such_table\n' >"$T/badmodels/dim_user.sql"
sed "s|^cdc:|curate:\n  models_dir: $T/badmodels\ncdc:|" "$cfg" >"$T/bad.yaml"
"$MDP" --config "$T/bad.yaml" --log-level info --json cdc run --curate-every 1s --duration 5 >"$T/rb" 2>"$T/eb" \
  && ok || bad "a failing curate stopped CDC: $(tail -3 "$T/eb")"
grep -q '"curate_failures":[2-9]' "$T/rb" && ok || bad "curate failures not counted or not retried: $(cat "$T/rb")"
grep -q '"changes":[1-9]' "$T/rb" && ok || bad "no changes while curate failed: $(cat "$T/rb")"
expect_in "$T/eb" "curate failed; retrying at the next tick" "the failure is logged"
expect_in "$T/eb" "no_such_table" "the log names the curate error"
grep -q '"protocol":2' "$T/rb" && ok || bad "protocol 2 not used on PostgreSQL 15: $(cat "$T/rb")"

# --- --curate-every: a deleted row leaves dim_user within a few intervals
"$MDP" --config "$cfg" --log-level warn --json cdc run --curate-every 2s --duration 90 >"$T/r1" 2>"$T/e1r" & # the process itself, not a subshell
RUNPID=$!
wait_for 30 "SELECT count(*) FROM dim_user WHERE user_id IN ('$U1', '$U2')" 2 \
  && ok || bad "U1 and U2 did not reach dim_user by the curate ticks: $(tail -3 "$T/e1r")"
"${psql[@]}" -d app -c "DELETE FROM user_profiles WHERE user_id = '$U2'" && ok || bad "delete U2"
t0=$(date +%s)
wait_for 20 "SELECT count(*) FROM dim_user WHERE user_id = '$U2'" 0 \
  && ok || bad "the deleted U2 is still in dim_user after 20 s"
echo "curate-every: U2 left dim_user $(($(date +%s) - t0)) s after its delete (interval 2 s)"

# --- streamed transactions: far over 64kB each
"${psql[@]}" -d app <<'EOF' && ok || bad "the large transactions"
BEGIN;
INSERT INTO accounts (account_id, business_name) SELECT gen_random_uuid(), 'big-commit-' || g || '-' || md5(g::text) FROM generate_series(1, 3000) g;
COMMIT;
BEGIN;
INSERT INTO accounts (account_id, business_name) SELECT gen_random_uuid(), 'big-abort-' || g || '-' || md5(g::text) FROM generate_series(1, 3000) g;
ROLLBACK;
BEGIN;
INSERT INTO accounts (account_id, business_name) SELECT gen_random_uuid(), 'sp-kept-' || g || '-' || md5(g::text) FROM generate_series(1, 1500) g;
SAVEPOINT s1;
INSERT INTO accounts (account_id, business_name) SELECT gen_random_uuid(), 'sp-rolled-' || g || '-' || md5(g::text) FROM generate_series(1, 1500) g;
ROLLBACK TO SAVEPOINT s1;
INSERT INTO accounts (account_id, business_name) SELECT gen_random_uuid(), 'sp-after-' || g || '-' || md5(g::text) FROM generate_series(1, 1500) g;
COMMIT;
EOF
# --- TOAST: an update of another column leaves U3's email and preferences out of line, unchanged
"${psql[@]}" -d app -c "UPDATE user_profiles SET last_login_at = now(), persona = 'wachstums-walter' WHERE user_id = '$U3'" \
  && ok || bad "update U3"
want=$("${psql[@]}" -d app -At -c "SELECT encode(sha256(convert_to(lower(trim(email)), 'UTF8')), 'hex') FROM user_profiles WHERE user_id = '$U3'")
wait_for 30 "SELECT persona || ' ' || coalesce(email_hash, 'null') FROM dim_user WHERE user_id = '$U3'" "wachstums-walter $want" \
  && ok || bad "dim_user has U3 as '$(qv "SELECT persona || ' ' || coalesce(email_hash, 'null') FROM dim_user WHERE user_id = '$U3'")', want its update with the unchanged email's hash"
kill -TERM "$RUNPID"
wait "$RUNPID" && ok || bad "run with --curate-every failed: $(tail -5 "$T/e1r")"
RUNPID=
grep -q '"curate_runs":[1-9]' "$T/r1" && grep -q '"curate_failures":0' "$T/r1" \
  && ok || bad "curate runs: $(cat "$T/r1")"
grep -q '"streamed_transactions":[2-9]' "$T/r1" && ok || bad "no streamed transactions: $(cat "$T/r1")"
grep -q '"streamed_aborts":[1-9]' "$T/r1" && ok || bad "no streamed abort: $(cat "$T/r1")"
count() { cat "$LAKE"/raw/supabase_cdc/accounts/*/*.ndjson | grep -c "\"business_name\":\"$1-" ; }
[ "$(count big-commit)" = 3000 ] && ok || bad "the streamed commit: $(count big-commit) of 3000 rows in raw"
[ "$(count big-abort)" = 0 ] && ok || bad "the streamed abort left $(count big-abort) rows in raw"
[ "$(count sp-kept)" = 1500 ] && [ "$(count sp-after)" = 1500 ] && ok || bad "the savepoint transaction: $(count sp-kept) + $(count sp-after) of 1500 + 1500"
[ "$(count sp-rolled)" = 0 ] && ok || bad "the rolled-back savepoint left $(count sp-rolled) rows in raw"
# the TOASTed columns are recorded as unchanged, not as null
line=$(grep -h "\"op\":\"update\"" "$LAKE"/raw/supabase_cdc/user_profiles/*/*.ndjson | grep "$U3")
echo "$line" | grep -q '"unchanged_toast":\["email","preferences"\]' && ok || bad "unchanged_toast: ${line:0:300}"
echo "$line" | grep -q '"email":' && bad "the unchanged email is in the row: ${line:0:300}" || ok
"${CHECK[@]}" audit "$LAKE" "${conn[@]}" >"$T/c1" 2>&1 && ok || bad "audit: $(cat "$T/c1")"
"${CHECK[@]}" state "$LAKE" "${conn[@]}" >"$T/c2" 2>&1 && ok || bad "state: $(cat "$T/c2")"
cat "$T/c1" "$T/c2"

# --- a streamed transaction in a --once run
"${psql[@]}" -d app -c "INSERT INTO accounts (account_id, business_name) SELECT gen_random_uuid(), 'big-two-' || g || '-' || md5(g::text) FROM generate_series(1, 3000) g" \
  && ok || bad "big-two"
cdc --json cdc run --once >"$T/r2" 2>"$T/e2" && ok || bad "run: $(cat "$T/e2")"
[ "$(count big-two)" = 3000 ] && ok || bad "big-two: $(count big-two) of 3000: $(cat "$T/r2")"
# --protocol 1: the same server, nothing streamed
"${psql[@]}" -d app -c "INSERT INTO accounts (account_id, business_name) SELECT gen_random_uuid(), 'big-v1-' || g FROM generate_series(1, 3000) g" \
  && ok || bad "big-v1"
cdc --json cdc run --once --protocol 1 >"$T/r3" 2>"$T/e3" && ok || bad "v1 run: $(cat "$T/e3")"
grep -q '"protocol":1' "$T/r3" && grep -q '"streamed_transactions":0' "$T/r3" && ok || bad "v1: $(cat "$T/r3")"
[ "$(count big-v1)" = 3000 ] && ok || bad "big-v1: $(count big-v1) of 3000"
# (the audit slot was read up to the first check: the state check covers the rest)
"${CHECK[@]}" state "$LAKE" "${conn[@]}" >"$T/c3" 2>&1 && ok || bad "final state: $(cat "$T/c3")"

# --- bad flags
cdc cdc run --curate-every 5x >/dev/null 2>"$T/e4"; [ $? = 2 ] && ok || bad "a bad duration was taken"
expect_in "$T/e4" "--curate-every needs a duration" "the bad duration is named"

finish cdc_stream
