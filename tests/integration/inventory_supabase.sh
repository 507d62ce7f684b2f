#!/usr/bin/env bash
# Integration test of `mdp inventory check --supabase` against a real PostgreSQL 15 (scripts/pg.sh)
# holding the app schema (config/supabase-schema.sql): every table and column is classified by
# config/inventory.yaml; a new column, a new table and a dropped table are each named (exit 1); a
# refused connection is one clear error without the password; --supabase without a configured
# connection says which variable to set. Usage: inventory_supabase.sh path/to/mdp
MDP=${1:?usage: inventory_supabase.sh path/to/mdp}
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
"$MDP" --log-level off demo --dir "$L" --users 30 --days 3 >/dev/null || bad "demo"
export MDP_SUPABASE_DSN="postgresql://postgres@127.0.0.1:$port/app"
expect_rc 0 "the app schema is classified" -- "$MDP" inventory check --supabase --dir "$L" --file "$INV"
expect_in "$T/out" "Supabase included" "says Supabase was checked"

"${psql[@]}" -d app -c "ALTER TABLE public.user_profiles ADD COLUMN phone text" || bad "alter"
expect_rc 1 "a new column fails" -- "$MDP" inventory check --supabase --dir "$L" --file "$INV"
expect_in "$T/out" "unclassified_column: supabase.user_profiles.phone:" "dataset and column named"
"${psql[@]}" -d app -c "ALTER TABLE public.user_profiles DROP COLUMN phone" || bad "alter back"

"${psql[@]}" -d app -c "CREATE TABLE public.invoices (invoice_id uuid primary key, user_id uuid)" || bad "create"
expect_rc 1 "a new table fails" -- "$MDP" inventory check --supabase --dir "$L" --file "$INV"
expect_in "$T/out" "unlisted_dataset: public.invoices:" "the table named"
"${psql[@]}" -d app -c "DROP TABLE public.invoices" || bad "drop"

"${psql[@]}" -d app -c "DROP TABLE public.oauth_logins" || bad "drop oauth_logins"
expect_rc 1 "a table the inventory names but the database lacks fails" -- \
  "$MDP" inventory check --supabase --dir "$L" --file "$INV"
expect_in "$T/out" "missing_dataset: supabase.oauth_logins:" "the missing table named"

MDP_SUPABASE_DSN="postgresql://postgres:s3cr3t-pw@127.0.0.1:1/app?connect_timeout=3" \
  expect_rc 1 "a refused connection fails" -- "$MDP" inventory check --supabase --dir "$L" --file "$INV"
expect_in "$T/err" "cannot connect to PostgreSQL" "says so"
grep -q "s3cr3t" "$T/err" "$T/out" && bad "the password was printed" || ok
env -u MDP_SUPABASE_DSN "$MDP" inventory check --supabase --dir "$L" --file "$INV" >"$T/out" 2>"$T/err"
[ $? = 1 ] && grep -q "MDP_SUPABASE_DSN" "$T/err" && ok || bad "no DSN: $(cat "$T/err")"
finish inventory_supabase
