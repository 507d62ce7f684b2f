#!/usr/bin/env bash
# Integration test of the GA4 User Deletion API client (mdp_ga4_user_deletion, called by erasure)
# against the local stand-in for Google (tests/integration/ga4_server.py): a token for the
# analytics.user.deletion scope, a request the server validates as the documented
# userDeletionRequest resource, a 503 retried, the recorded response with its deletionRequestTime;
# bad input and a property the account may not touch fail clearly.
# Usage: ga4_deletion.sh path/to/ga4_user_deletion
DRV=${1:?usage: ga4_deletion.sh path/to/ga4_user_deletion}
source "$(dirname "$0")/../acceptance/lib.sh"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/key.pem" 2>/dev/null
openssl pkey -in "$T/key.pem" -pubout -out "$T/pub.pem"
python3 "$(dirname "$0")/ga4_server.py" "$T/port" "$T/server.log" "$T/pub.pem" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
port=$(cat "$T/port")
python3 -c "import json,sys; print(json.dumps({'type':'service_account','project_id':'matbakh-test',
  'private_key_id':'k1','private_key':open(sys.argv[1]).read(),
  'client_email':'mdp-erase@matbakh-test.iam.gserviceaccount.com','token_uri':'http://127.0.0.1:$port/token'}))" \
  "$T/key.pem" >"$T/sa.json"
conf() { # property -> config file
  cat <<YAML
lake:
  dir: $T/lake
sources:
  ga4:
    property_id: "$1"
    user_deletion_base: http://127.0.0.1:$port/analytics/v3
ingest:
  http_retry_base_ms: 5
YAML
}
conf 495696125 >"$T/mdp.yaml"
conf 111 >"$T/other.yaml"
export GOOGLE_APPLICATION_CREDENTIALS="$T/sa.json"
j() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

"$DRV" "$T/mdp.yaml" CLIENT_ID 4958447997.1790853465 >"$T/out" 2>"$T/err" && ok || bad "deletion failed: $(cat "$T/out" "$T/err")"
[ "$(j 'd["ok"], d["status"], d["attempts"]' <"$T/out")" = "(True, 200, 2)" ] && ok || bad "outcome: $(cat "$T/out")"
t=$(j 'd["deletionRequestTime"]' <"$T/out")
[[ $t =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$ ]] && ok || bad "deletionRequestTime: $t"
[ "$(j 'd["response"]["deletionRequestTime"] == d["deletionRequestTime"] and d["response"]["id"] == {"type":"CLIENT_ID","userId":"4958447997.1790853465"} and d["response"]["propertyId"] == "495696125"' <"$T/out")" = True ] && ok || bad "recorded response: $(cat "$T/out")"
grep -q "token scope user.deletion" "$T/server.log" && ok || bad "no token for the deletion scope"
grep -q "deletion 503" "$T/server.log" && grep -q "deletion ok type=CLIENT_ID" "$T/server.log" && ok || bad "server log: $(cat "$T/server.log")"
grep -q ya29 "$T/out" "$T/err" && bad "the access token was printed" || ok

# a user id, and the same person asked again (upsert: idempotent on Google's side)
"$DRV" "$T/mdp.yaml" USER_ID 01a0f72f-4460-7af2-b727-dae9b5062370 >"$T/out2" && ok || bad "USER_ID: $(cat "$T/out2")"
"$DRV" "$T/mdp.yaml" USER_ID 01a0f72f-4460-7af2-b727-dae9b5062370 >"$T/out3" && ok || bad "again: $(cat "$T/out3")"
[ "$(grep -c '^token ok' "$T/server.log")" = 3 ] && ok || bad "one token per process: $(grep -c '^token ok' "$T/server.log")"

# bad input is refused before any request; a property the account may not touch: exit 1
n=$(wc -l <"$T/server.log")
"$DRV" "$T/mdp.yaml" EMAIL a@b.de >"$T/out4"
[ $? = 1 ] && grep -q "CLIENT_ID, USER_ID or APP_INSTANCE_ID" "$T/out4" && ok || bad "bad type: $(cat "$T/out4")"
"$DRV" "$T/mdp.yaml" CLIENT_ID "" >"$T/out5"
[ $? = 1 ] && grep -q "the id is empty" "$T/out5" && ok || bad "empty id: $(cat "$T/out5")"
[ "$(wc -l <"$T/server.log")" = "$n" ] && ok || bad "bad input reached the server"
"$DRV" "$T/other.yaml" CLIENT_ID 1.2 >"$T/out6"
[ $? = 1 ] && grep -q "HTTP 403: the service account may not delete users of property 111" "$T/out6" && ok || bad "forbidden property: $(cat "$T/out6")"
env -u GOOGLE_APPLICATION_CREDENTIALS "$DRV" "$T/mdp.yaml" CLIENT_ID 1.2 >"$T/out7"
[ $? = 1 ] && grep -q GOOGLE_APPLICATION_CREDENTIALS "$T/out7" && ok || bad "no key: $(cat "$T/out7")"

finish ga4_deletion
