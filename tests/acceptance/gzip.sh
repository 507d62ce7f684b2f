#!/usr/bin/env bash
# Acceptance test of gzip'd deliveries (Firehose with GZIP compression) end to end, and of what
# erasure finds in bytes that hide text:
# - ingest: a gzip'd DynamoDB Firehose delivery is taken inflated: its records are checked and
#   counted, raw holds their text (no gzip bytes, no U+FFFD "repairs" of binary data), curate
#   reads it; a truncated gzip'd delivery gives its records up to the damage, and the delivery as
#   it came is kept in the quarantine (gzip_corrupt, base64): nothing lost;
# - erasure of a person those deliveries hold: the gzip'd landing objects and the base64 payload
#   in the quarantine lose the person too (checked by the erasure tests' independent scan, which
#   inflates every gzip'd file and decodes every base64 payload); the re-scan of `mdp dsar verify` looks into gzip'd files and
#   base64 payloads (a planted copy of each is found, by name);
# - a superseded serving snapshot (a features run after the one that made it, not yet vacuumed)
#   that holds the person is deleted, not left behind as a survivor.
# Usage: gzip.sh path/to/mdp
MDP=${1:?usage: gzip.sh path/to/mdp}
source "$(dirname "$0")/lib.sh"
INV=$ROOT/config/inventory.yaml
L=$T/lake
m() { "$MDP" --log-level off "$@"; }
expect_rc 0 "demo" -- m demo --dir "$L" --users 60 --days 3 --bad-rate 0
# the person: an address the DynamoDB stream holds (VcTokens, ConsentJournal) that names one user
E=$(python3 - "$L" <<'PY'
import collections, glob, re, sys
c = collections.Counter()
for f in glob.glob(sys.argv[1] + "/raw/dynamodb/firehose/*/*.json"):
    c.update(re.findall(r'"email_lower":\{"S":"([^"]+)"', open(f).read()))
print(c.most_common(1)[0][0])
PY
)
[ -n "$E" ] && ok || bad "no address in the DynamoDB stream"
# a gzip'd delivery of new records of that person (new event ids), and a truncated copy of it
python3 - "$L" "$E" <<'PY' && ok || bad "the gzip'd deliveries"
import glob, gzip, re, sys, uuid, os
src = next(f for f in sorted(glob.glob(sys.argv[1] + "/raw/dynamodb/firehose/*/*.json"))
           if sys.argv[2] in open(f).read())
t = re.sub(r'"eventID":"[^"]*"', lambda m: '"eventID":"%s"' % uuid.uuid4(), open(src).read())
d = sys.argv[1] + "/landing/dynamodb/firehose/2026/10/02/23"
os.makedirs(d, exist_ok=True)
z = gzip.compress(t.encode())
open(d + "/vc-ddb-cdc-2-2026-10-02-23-00-00-gz", "wb").write(z)
open(d + "/vc-ddb-cdc-2-2026-10-02-23-00-01-cut", "wb").write(z[: len(z) * 2 // 3])
open(sys.argv[1] + "/../records", "w").write(str(t.count('"eventID"')))
PY
N=$(cat "$T/records")
m --json ingest ddb --date 2026-10-02 --dir "$L" >"$T/ing.json" 2>/dev/null
python3 - "$L" "$T/ing.json" "$N" <<'PY' && ok || bad "ingest of gzip'd deliveries: $(head -c 600 "$T/ing.json")"
import base64, glob, gzip, json, sys, zlib
lake, n = sys.argv[1], int(sys.argv[3])
out = json.load(open(sys.argv[2]))
runs = out if isinstance(out, list) else out.get("runs", [out])
r = next(x for x in runs if x.get("job", x.get("stage", "")).endswith("ddb"))
# every record of the whole delivery is taken (valid), the cut copy's are duplicates or, for the
# one cut in the middle, quarantined; plus the cut delivery itself as gzip_corrupt
assert r["out"] == n, (r, n)
assert r["quarantined"] in (1, 2), r
for f in glob.glob(lake + "/raw/dynamodb/**/*.json", recursive=True):
    b = open(f, "rb").read()
    assert b[:2] != b"\x1f\x8b" and "\ufffd".encode() not in b, f
q = [json.loads(l) for f in glob.glob(lake + "/raw/_quarantine/dynamodb/**/*.ndjson", recursive=True)
     for l in open(f)]
cut = open(glob.glob(lake + "/landing/dynamodb/firehose/2026/10/02/23/*-cut")[0], "rb").read()
g = [x for x in q if x["reason"] == "gzip_corrupt"]
assert len(g) == 1 and g[0]["payload_encoding"] == "base64" and base64.b64decode(g[0]["payload"]) == cut, g
PY
# the run record says what was inflated (the demo's own gzip'd objects of that day were taken
# before: not counted again)
m --json runs --dir "$L" >"$T/runs.json"
python3 - "$T/runs.json" <<'PY' && ok || bad "the run record: $(head -c 400 "$T/runs.json")"
import json, sys
d = json.load(open(sys.argv[1])); runs = d if isinstance(d, list) else d.get("runs", [])
msg = [r.get("message", "") for r in runs if r.get("job") == "ingest.ddb"][-1]
assert "2 gzip'd taken inflated (1 damaged, originals in quarantine)" in msg, msg
PY
# two deliveries from which nothing inflates (gzip's magic, then garbage): each is kept whole in
# the quarantine; neither is taken for the other (their empty texts would name one raw object)
G=$L/landing/dynamodb/firehose/2026/10/03/07
mkdir -p "$G"
printf '\x1f\x8bgarbage-not-deflate' >"$G/vc-ddb-cdc-3-2026-10-03-07-00-00-a.gz"
printf '\x1f\x8bother-garbage' >"$G/vc-ddb-cdc-3-2026-10-03-07-00-01-b.gz"
m ingest ddb --date 2026-10-03 --dir "$L" >/dev/null 2>&1
python3 - "$L" "$G" <<'PY' && ok || bad "deliveries that do not inflate are not both in the quarantine"
import base64, glob, json, sys
q = [json.loads(l) for f in glob.glob(sys.argv[1] + "/raw/_quarantine/dynamodb/**/*.ndjson", recursive=True)
     for l in open(f)]
got = {base64.b64decode(x["payload"]) for x in q if x["reason"] == "gzip_corrupt"}
for f in ("vc-ddb-cdc-3-2026-10-03-07-00-00-a.gz", "vc-ddb-cdc-3-2026-10-03-07-00-01-b.gz"):
    assert open(sys.argv[2] + "/" + f, "rb").read() in got, f
PY
expect_rc 0 "curate reads the raw zone with the inflated delivery" -- m curate --dir "$L"
# a features run publishes a second snapshot version; the first stays until vacuum
expect_rc 0 "features again" -- m features --dir "$L"
[ "$(find "$L/serving" -name '*.bin' | wc -l)" -ge 2 ] && ok || bad "one snapshot version only"
U=$(m query --dir "$L" --format csv "SELECT CAST(user_id AS VARCHAR) FROM dim_user WHERE email_hash = sha256('$E')" | tail -n +2)
[ -n "$U" ] && ok || bad "no user with the address $E"
expect_rc 0 "erasure of the person" -- m dsar erase --email "$E" --dir "$L" --file "$INV" --out "$T/cert"
# the independent scan of the erasure tests (tests/acceptance/dsar_scan.py: every file's bytes,
# gzip'd ones inflated and base64 quarantine payloads decoded, and every Parquet row)
python3 "$ROOT/tests/acceptance/dsar_scan.py" "$L" "$U" "$E" "$ROOT/deps/node/node_modules" \
  "$ROOT/tests/integration/parquet_rows.mjs" >"$T/left" 2>&1 && ok || bad "erasure left the person in: $(head -5 "$T/left")"
expect_rc 0 "verify after erasure" -- m dsar verify "$T/cert" --email "$E" --dir "$L" --file "$INV"
# the re-scan looks into gzip'd files and base64 payloads: a planted copy of each is found
python3 - "$L" "$E" <<'PY'
import base64, gzip, json, os, sys
lake, e = sys.argv[1], sys.argv[2]
rec = json.dumps({"tableName": "VcTokens", "NewImage": {"email_lower": {"S": e}}}).encode()
os.makedirs(lake + "/landing/dynamodb/firehose/2026/10/03/01", exist_ok=True)
open(lake + "/landing/dynamodb/firehose/2026/10/03/01/planted-gz", "wb").write(gzip.compress(rec))
os.makedirs(lake + "/raw/_quarantine/dynamodb/firehose/dt=2026-10-03", exist_ok=True)
q = {"reason": "gzip_corrupt", "location": "x", "payload_encoding": "base64",
     "payload": base64.b64encode(gzip.compress(rec)).decode()}
open(lake + "/raw/_quarantine/dynamodb/firehose/dt=2026-10-03/planted.ndjson", "w").write(json.dumps(q) + "\n")
PY
m dsar verify "$T/cert" --email "$E" --dir "$L" --file "$INV" >"$T/v.out" 2>&1
[ $? = 1 ] && ok || bad "verify with planted copies should fail: $(cat "$T/v.out")"
expect_in "$T/v.out" "2 place" "the re-scan names both planted copies"
finish gzip
