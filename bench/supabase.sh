#!/usr/bin/env bash
# Starts a throwaway PostgreSQL (scripts/pg.sh), loads 1,000,000 event-shaped rows (200,000 with
# QUICK=1) and runs bench_supabase against it. Usage: bench/supabase.sh path/to/bench_supabase
set -euo pipefail
bin=${1:?usage: supabase.sh path/to/bench_supabase}
root=$(cd "$(dirname "$0")/.." && pwd)
pg=$(mktemp -d /tmp/mdp-bench-pgdata-XXXXXX)
chmod 755 "$pg"
trap '"$root/scripts/pg.sh" stop "$pg"; rm -rf "$pg"' EXIT
port=$("$root/scripts/pg.sh" start "$pg")
rows=1000000
[ "${QUICK:-0}" != 0 ] && rows=200000
psql -X -q -v ON_ERROR_STOP=1 -v rows="$rows" -h 127.0.0.1 -p "$port" -U postgres -d postgres <<'SQL'
CREATE TABLE public.events_bench (
  event_id uuid PRIMARY KEY, user_id uuid NOT NULL, account_id uuid, step_id text NOT NULL,
  event_type text NOT NULL, persona text, comm_prefs jsonb, duration_seconds integer,
  created_at timestamptz NOT NULL);
INSERT INTO public.events_bench
SELECT md5(i::text)::uuid, md5((i % 5000)::text)::uuid, md5((i % 3000)::text || 'a')::uuid,
       (ARRAY['welcome','business_info','persona_quiz','comm_prefs','connect_gbp'])[1 + i % 5],
       (ARRAY['started','completed','skipped'])[1 + i % 3],
       (ARRAY['solo-sarah','bewahrer-ben','wachstums-walter','ketten-katrin'])[1 + i % 4],
       jsonb_build_object('tone', 'facts', 'address', 'du'), i % 900,
       timestamptz '2026-10-01' + i * interval '2 seconds'
FROM generate_series(1, :rows) i;
VACUUM ANALYZE public.events_bench;
SQL
MDP_SUPABASE_DSN="postgresql://postgres@127.0.0.1:$port/postgres" "$bin"
