#!/usr/bin/env bash
# Integration test of the GA4 client against a local server that speaks the documented token
# endpoint and runReport (tests/integration/ga4_server.py): service-account JWT (RS256, verified by
# the server), one token for all pages, pagination until rowCount, a 429 and a 503 retried, quota
# recorded, every page landed; a key the server does not know fails clearly; an empty range is fine.
# Usage: ga4.sh path/to/mdp
MDP=${1:?usage: ga4.sh path/to/mdp}
source "$(dirname "$0")/../acceptance/lib.sh"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/key.pem" 2>/dev/null
openssl pkey -in "$T/key.pem" -pubout -out "$T/pub.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.pem" 2>/dev/null
python3 "$(dirname "$0")/ga4_server.py" "$T/port" "$T/server.log" "$T/pub.pem" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
port=$(cat "$T/port")
keyfile() { # pem -> service account key JSON
  python3 -c "import json,sys; print(json.dumps({'type':'service_account','project_id':'matbakh-test',
    'private_key_id':'k1','private_key':open(sys.argv[1]).read(),
    'client_email':'mdp-ingest@matbakh-test.iam.gserviceaccount.com','token_uri':'http://127.0.0.1:$port/token'}))" "$1"
}
keyfile "$T/key.pem" >"$T/sa.json"
keyfile "$T/other.pem" >"$T/sa-other.json"
LAKE="$T/lake"
"$MDP" --log-level off init --dir "$LAKE" >/dev/null
cat >"$T/mdp.yaml" <<YAML
lake:
  dir: $LAKE
  landing_dir: $LAKE/landing
sources:
  ga4:
    property_id: "495696125"
    api_base: http://127.0.0.1:$port
    page_size: 7
ingest:
  http_retry_base_ms: 5
YAML
field() { python3 -c "import json,sys; r=[x for x in json.load(sys.stdin) if x['job']=='ingest.ga4']; print(r[0]['$1'] if r else -1)"; }

GOOGLE_APPLICATION_CREDENTIALS="$T/sa.json" "$MDP" --config "$T/mdp.yaml" --log-level warn --json \
  ingest ga4 --pull --from 2026-10-01 --to 2026-10-03 >"$T/out" 2>"$T/err" && ok || bad "pull failed: $(cat "$T/err")"
[ "$(field out <"$T/out")" = 15 ] && ok || bad "took $(field out <"$T/out") rows, want 3 days x 5 events"
[ "$(field quarantined <"$T/out")" = 0 ] && ok || bad "rows quarantined"
[ "$(grep -c '^token ok' "$T/server.log")" = 1 ] && ok || bad "the token was not reused: $(grep -c '^token' "$T/server.log") token requests"
grep -q "report 429" "$T/server.log" && grep -q "report 503" "$T/server.log" && ok || bad "the retries were not exercised"
[ "$(grep -c 'report offset=' "$T/server.log")" = 3 ] && ok || bad "want 3 pages of 7: $(grep 'report offset' "$T/server.log")"
grep -q '"status":429' "$T/err" && ok || bad "the retry was not logged"
[ "$(find "$LAKE/raw/ga4" -name '*.json' | wc -l)" = 3 ] && ok || bad "want 3 page responses in raw"
grep -q tokensPerDay "$LAKE/_meta/state/ga4/quota.json" && ok || bad "quota not recorded"
grep -q "ya29" "$T/err" "$T/out" && bad "the access token was printed" || ok

# the same pull again: the same pages, nothing new
GOOGLE_APPLICATION_CREDENTIALS="$T/sa.json" "$MDP" --config "$T/mdp.yaml" --log-level off --json \
  ingest ga4 --pull --from 2026-10-01 --to 2026-10-03 >"$T/out2" 2>"$T/err2" && ok || bad "second pull: $(cat "$T/err2")"
[ "$(field in <"$T/out2")" = 0 ] && ok || bad "the second pull took $(field in <"$T/out2") rows"

# an empty range: a report without rows or rowCount
GOOGLE_APPLICATION_CREDENTIALS="$T/sa.json" "$MDP" --config "$T/mdp.yaml" --log-level off --json \
  ingest ga4 --pull --from 2027-01-01 --to 2027-01-02 >"$T/out3" 2>"$T/err3" && ok || bad "empty pull: $(cat "$T/err3")"

# a key the server does not know: exit 1, one message naming the token endpoint
GOOGLE_APPLICATION_CREDENTIALS="$T/sa-other.json" "$MDP" --config "$T/mdp.yaml" --log-level off \
  ingest ga4 --pull >"$T/out4" 2>"$T/err4"
[ $? = 1 ] && ok || bad "an unknown key did not fail"
grep -q "token endpoint http://127.0.0.1:$port/token answered HTTP 401" "$T/err4" && ok || bad "unclear: $(cat "$T/err4")"
env -u GOOGLE_APPLICATION_CREDENTIALS "$MDP" --config "$T/mdp.yaml" ingest ga4 --pull >/dev/null 2>"$T/err5"
grep -q "GOOGLE_APPLICATION_CREDENTIALS" "$T/err5" && ok || bad "missing key variable: $(cat "$T/err5")"

finish ga4
