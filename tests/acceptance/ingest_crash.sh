#!/usr/bin/env bash
# Acceptance test: ingestion killed with SIGKILL at random moments, then re-run to the end, leaves
# exactly the raw zone and quarantine of a run that was never interrupted (nothing lost, nothing
# twice); and seed output without bad records is ingested with nothing quarantined.
# Usage: ingest_crash.sh path/to/mdp
MDP=${1:?usage: ingest_crash.sh path/to/mdp}
source "$(dirname "$0")/lib.sh"
digest() { # raw zone and quarantine as readers see them (in-flight .tmp- files are invisible)
  (cd "$1" && find raw -type f ! -name '.tmp-*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum
}
cfg() { printf 'lake:\n  dir: %s\n  landing_dir: %s\ningest:\n  max_quarantine_share: 1\n' "$1" "$2" >"$1.yaml"; }

"$MDP" --log-level off seed --users 400 --days 12 --bad-rate 0.02 --out "$T/landing" >/dev/null || bad "seed"
for l in ref crash; do "$MDP" --log-level off init --dir "$T/$l" >/dev/null; cfg "$T/$l" "$T/landing"; done
"$MDP" --config "$T/ref.yaml" --log-level off run --stages ingest >/dev/null 2>&1 && ok || bad "reference run"
want=$(digest "$T/ref")
kills=0
for i in $(seq 8); do
  "$MDP" --config "$T/crash.yaml" --log-level off run --stages ingest >/dev/null 2>&1 &
  pid=$!
  sleep "0.$((RANDOM % 9))$((RANDOM % 10))"
  kill -9 $pid 2>/dev/null && kills=$((kills + 1))
  wait $pid 2>/dev/null
done
[ "$kills" -gt 0 ] && ok || bad "no run was killed"
"$MDP" --config "$T/crash.yaml" --log-level off run --stages ingest >/dev/null 2>&1 && ok || bad "the final run failed"
[ "$(digest "$T/crash")" = "$want" ] && ok || bad "after $kills kills the lake differs from an uninterrupted run"
# the killed writes left their partial files in _tmp/ only, never beside the data
[ -z "$(find "$T/crash/raw" -name '.tmp-*' | head -1)" ] && ok || bad "a partial object sits in raw/"
# a lake from before _tmp/ (a partial object beside the data) or copied from a Mac (._ files): DuckDB's
# glob would read them; curate reads only the whole objects and builds what the reference builds
ev=$T/crash/raw/events/app_events/$(ls "$T/crash/raw/events/app_events" | head -1)
ses=$T/crash/raw/ses/sqs/$(ls "$T/crash/raw/ses/sqs" | head -1)
# a whole line of a new event (it would be counted) and a cut one; a cut SQS delivery; AppleDouble
head -1 "$(ls "$ev"/*.ndjson | head -1)" | sed 's/"event_id":"[^"]*"/"event_id":"01a1a1a1-0000-7000-8000-000000000001"/' >"$ev/.tmp-1-1-x.ndjson"
printf '{"event_id":"01a1' >>"$ev/.tmp-1-1-x.ndjson"
printf '{"Records":[{"body":"{\\"Type' >"$ses/.tmp-1-2-y.json"
printf '\0\5Mac OS X' >"$ev/._y.ndjson"
facts() {
  "$MDP" --config "$1.yaml" --log-level off run --stages curate >/dev/null 2>&1 || echo "curate failed"
  "$MDP" --log-level off query --dir "$1" --format csv \
    "SELECT (SELECT count(*) FROM fact_events), (SELECT count(DISTINCT event_id) FROM fact_events),
            (SELECT count(*) FROM fact_email_events), (SELECT count(*) FROM dim_user)" 2>&1
}
ref_facts=$(facts "$T/ref")
case $ref_facts in *[1-9]*,*) ok ;; *) bad "reference curate: $ref_facts" ;; esac
[ "$(facts "$T/crash")" = "$ref_facts" ] && ok || bad "curate after kills and stray dot files: $(facts "$T/crash") vs $ref_facts"

# clean seed output: every connector takes everything
"$MDP" --log-level off seed --users 150 --days 5 --bad-rate 0 --seed 9 --out "$T/clean/landing" >/dev/null
"$MDP" --log-level off init --dir "$T/clean" >/dev/null
cfg "$T/clean" "$T/clean/landing"
"$MDP" --config "$T/clean.yaml" --log-level off --json run --stages ingest >"$T/out" 2>&1 && ok || bad "clean run: $(tail -2 "$T/out")"
python3 - "$T/out" <<'PY' && ok || bad "clean seed output had quarantined records"
import json, sys
runs = json.load(open(sys.argv[1]))
bad = [r for r in runs if r["job"].startswith("ingest.") and r["quarantined"]]
for r in bad: print(r["job"], r["quarantined"], file=sys.stderr)
sys.exit(1 if bad or len(runs) < 8 else 0)
PY
finish ingest_crash
