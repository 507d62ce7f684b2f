#!/usr/bin/env bash
# Integration test of the gbp and meta pulls against a local server speaking the documented APIs
# (tests/integration/api_server.py): paging by nextPageToken and paging.next, readMask sent, ids
# kept as strings, tokens only in the Authorization header, a paging.next to another host not
# followed, and expired or missing tokens failing with one clear message. Usage: gbp_meta.sh mdp
MDP=${1:?usage: gbp_meta.sh path/to/mdp}
source "$(dirname "$0")/../acceptance/lib.sh"
python3 "$(dirname "$0")/api_server.py" "$T/port" "$T/server.log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
port=$(cat "$T/port")
LAKE="$T/lake"
"$MDP" --log-level off init --dir "$LAKE" >/dev/null
cat >"$T/mdp.yaml" <<YAML
lake:
  dir: $LAKE
  landing_dir: $LAKE/landing
ingest:
  http_retry_base_ms: 5
sources:
  gbp:
    api_base: http://127.0.0.1:$port
    accounts: ["111", "222"]
  meta:
    api_base: http://127.0.0.1:$port
YAML
field() { python3 -c "import json,sys; r=[x for x in json.load(sys.stdin) if x['job']=='ingest.$1']; print(r[0]['$2'] if r else -1)"; }
m() { "$MDP" --config "$T/mdp.yaml" --log-level off --json "$@"; }

MDP_GBP_TOKEN=gbp-token m ingest gbp --pull >"$T/g" 2>"$T/ge" && ok || bad "gbp pull: $(cat "$T/ge")"
[ "$(field gbp out <"$T/g")" = 3 ] && ok || bad "gbp took $(field gbp out <"$T/g") locations, want 3 over two pages"
[ "$(grep -c 'GET /v1/accounts/111/locations' "$T/server.log")" = 2 ] && ok || bad "gbp did not follow nextPageToken"
grep -q 'GET /v1/accounts/222/locations' "$T/server.log" && ok || bad "second account not pulled"
grep -q "ChIJTestPlace0003" "$LAKE"/raw/gbp/locations/dt=*/*.json && ok || bad "place ids not in raw"

MDP_META_TOKEN=meta-token m ingest meta --pull >"$T/m" 2>"$T/me" && ok || bad "meta pull: $(cat "$T/me")"
[ "$(field meta out <"$T/m")" = 4 ] && ok || bad "meta took $(field meta out <"$T/m"), want 3 pages + 1 IG user"
[ "$(field meta quarantined <"$T/m")" = 0 ] && ok || bad "meta quarantined records"
grep -q 'GET /17841400000000001 ' "$T/server.log" && ok || bad "the IG user was not fetched"
grep -rq '"17841400000000001"' "$LAKE/raw/meta" && ok || bad "the 17-digit IG id is not kept as a string"
grep -q "access_token-in-url" "$T/server.log" && bad "a token travelled in a URL" || ok
grep -rq "EAAEXAMPLEPAGETOKEN\|meta-token" "$T/me" "$T/m" && bad "a token was printed" || ok

# a paging.next to another host is not followed (it would carry the token there)
rm -rf "$LAKE/landing/meta"
MDP_META_TOKEN=meta-evil m ingest meta --pull >"$T/m2" 2>"$T/me2" && ok || bad "meta-evil pull: $(cat "$T/me2")"
[ "$(ls "$LAKE"/landing/meta/me_accounts/dt=*/ | wc -l)" = 1 ] && ok || bad "a foreign paging.next was followed"

# expired, wrong and missing tokens
MDP_META_TOKEN=meta-expired "$MDP" --config "$T/mdp.yaml" --log-level off ingest meta --pull >/dev/null 2>"$T/e1"
[ $? = 1 ] && grep -q "Graph error 190 (the access token is expired or invalid)" "$T/e1" && ok || bad "expired: $(cat "$T/e1")"
MDP_GBP_TOKEN=wrong "$MDP" --config "$T/mdp.yaml" --log-level off ingest gbp --pull >/dev/null 2>"$T/e2"
[ $? = 1 ] && grep -q "HTTP 401 (the access token is invalid or expired)" "$T/e2" && ok || bad "wrong gbp token: $(cat "$T/e2")"
env -u MDP_GBP_TOKEN "$MDP" --config "$T/mdp.yaml" ingest gbp --pull >/dev/null 2>"$T/e3"
[ $? = 1 ] && grep -q "MDP_GBP_TOKEN" "$T/e3" && ok || bad "missing gbp token: $(cat "$T/e3")"

finish gbp_meta
