#!/usr/bin/env bash
# Acceptance test of `mdp demo`: it completes and prints the summary, and running it twice gives
# the same lake content (raw zone, quarantine and landing folder byte for byte; a fresh lake made
# with the same seed is identical too). Usage: demo.sh path/to/mdp
MDP=${1:?usage: demo.sh path/to/mdp}
source "$(dirname "$0")/lib.sh"
tree_digest() { # every file below the data zones with its hash (the run log and manifests excluded)
  (cd "$1" && find raw landing -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum
}

args=(--users 300 --days 14 --seed 11 --bad-rate 0.03)
"$MDP" --config "$ROOT/config/mdp.yaml" demo --dir "$T/a" "${args[@]}" >"$T/out1" 2>"$T/err1" && ok || bad "demo failed: $(tail -3 "$T/err1")"
for w in "matbakh-dp demo" "ingest.events" "ingest.ses" "ingest.ddb" "ingest.supabase" "ingest.ga4" \
         "ingest.gbp" "ingest.meta" "inventory" "quarantined" "duplicates" "total"; do
  grep -qF "$w" "$T/out1" && ok || bad "summary lacks '$w'"
done
q=$(awk '$1 == "ingest" {print $5}' "$T/out1")
[ "${q:-0}" -gt 0 ] && ok || bad "nothing quarantined at bad rate 0.03"
d1=$(tree_digest "$T/a")
"$MDP" --config "$ROOT/config/mdp.yaml" demo --dir "$T/a" "${args[@]}" >"$T/out2" 2>"$T/err2" && ok || bad "second demo failed"
d2=$(tree_digest "$T/a")
[ "$d1" = "$d2" ] && ok || bad "the second run changed the lake"
new=$(awk '$1 == "ingest" {print $3}' "$T/out2")
[ "$new" = 0 ] && ok || bad "the second run landed $new records again"
"$MDP" --config "$ROOT/config/mdp.yaml" demo --dir "$T/b" "${args[@]}" >/dev/null 2>&1 && ok || bad "third demo failed"
[ "$(tree_digest "$T/b")" = "$d1" ] && ok || bad "a fresh lake with the same seed differs"
# the inventory table is published and lists every raw object
n_raw=$(find "$T/a/raw" -type f | wc -l)
grep -q '"rows"' "$T/a/_meta/manifests/_meta/tables/raw_inventory/"v*.json && ok || bad "no inventory manifest"
rows=$(cat "$T/a/_meta/manifests/_meta/tables/raw_inventory/CURRENT" | xargs -I{} cat "$T/a/_meta/manifests/_meta/tables/raw_inventory/{}.json" \
       | python3 -c 'import json,sys; print(sum(f["rows"] for f in json.load(sys.stdin)["files"]))')
[ "$rows" = "$n_raw" ] && ok || bad "inventory has $rows rows for $n_raw raw objects"

finish demo
