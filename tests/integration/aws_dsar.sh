#!/usr/bin/env bash
# Integration test of `mdp dsar export|erase|verify` on an AWS lake (docs/privacy.md §7): the lake
# in a versioned moto bucket (SSE-KMS), the state store in a moto DynamoDB table, SigV4 enforced
# (scripts/moto.sh); export, erasure and verification run as an IAM user holding only the policy
# `mdp aws policy --job dsar` prints, so moto refuses any call that policy does not cover.
# - the demo's deliveries are ingested into the bucket, then consent, curate, segments, features;
#   the same on a file lake for comparison;
# - the export of the subject holds, dataset by dataset, the same records as the same export on the
#   file lake, and its fact_email_events file as many rows as a direct query counts;
# - the erasure exits 0 with no survivor; then boto3, sharing no code with mdp, finds the subject's
#   id, address and the address's SHA-256 in no version of any object (every version downloaded,
#   Parquet read with hyparquet by dsar_scan.py), in no delete marker's key and no DynamoDB item,
#   and the local cache holds none of it either;
# - three other users' exports hold the same records before and after, and every current Parquet
#   file's rows of other users are unchanged;
# - `mdp dsar verify CERT USER --email ADDRESS` passes; a tampered certificate fails; a user whose
#   policy lacks the version actions (s3:ListBucketVersions, ...) gets a clear permission error;
# - an erasure killed mid-way is finished by its rerun, and verify passes.
# Usage: aws_dsar.sh path/to/mdp
MDP=${1:?usage: aws_dsar.sh path/to/mdp}
source "$(dirname "$0")/../acceptance/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
cleanup() {
  "$ROOT/scripts/moto.sh" stop "$T/moto"
  rm -rf "$T"
}
trap cleanup EXIT
BUCKET=mdp-dsar-lake
TABLE=mdp-dsar-state
INV=$ROOT/config/inventory.yaml
NM=$ROOT/deps/node/node_modules
ROWS=$ROOT/tests/integration/parquet_rows.mjs
"$ROOT/scripts/moto.sh" start "$T/moto" >/dev/null || { echo "FAIL: moto did not start" >&2; exit 1; }
source "$T/moto/env"
export AWS_DEFAULT_REGION=$AWS_REGION

conf() { # file lake-dir [state-lines]
  printf 'lake:\n  dir: %s\n  landing_dir: %s\naws:\n  s3_addressing: path\n  kms_key_id: %s\n  retry_base_ms: 5\n  cache_dir: %s\n%s' \
    "$2" "$T/landing" "$MDP_TEST_KMS_KEY" "$T/cache" "${3:-}" >"$1"
}
conf "$T/s3.yaml" "s3://$BUCKET/lake" "$(printf 'state:\n  backend: dynamodb\n  dynamodb_table: %s\n' "$TABLE")"
conf "$T/file.yaml" "$T/filelake"
m3() { "$MDP" --config "$T/s3.yaml" --log-level off "$@"; }
mf() { "$MDP" --config "$T/file.yaml" --log-level off "$@"; }

m3 aws bootstrap >"$T/boot.out" 2>&1 && ok || bad "bootstrap: $(tail -3 "$T/boot.out")"
expect_in "$T/boot.out" "versioning enabled" "the bucket is versioned"
mf seed --users 25 --days 3 --bad-rate 0.02 --start 2026-10-01 --out "$T/landing" >/dev/null && ok || bad "seed"
mf init >/dev/null && ok || bad "init (file)"
m3 init >/dev/null && ok || bad "init (s3)"
for stage in ingest consent curate segments features; do
  mf run --stages $stage >"$T/f.out" 2>&1 && ok || bad "$stage (file): $(tail -2 "$T/f.out")"
  m3 run --stages $stage >"$T/s.out" 2>&1 && ok || bad "$stage (s3): $(tail -2 "$T/s.out")"
done

q3() { m3 query --format csv "$1" | tail -n +2; }
U=$(q3 "SELECT CAST(user_id AS VARCHAR) FROM fact_email_events WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
E=$(python3 - "$T/filelake" "$U" <<'PY'
import csv, glob, sys
for f in sorted(glob.glob(f"{sys.argv[1]}/raw/supabase/user_profiles/*/*.csv")):
    for r in csv.DictReader(open(f, newline="")):
        if r["user_id"] == sys.argv[2]: print(r["email"]); sys.exit(0)
PY
)
mapfile -t OTHERS < <(q3 "SELECT CAST(user_id AS VARCHAR) FROM dim_user WHERE CAST(user_id AS VARCHAR) <> '$U' ORDER BY 1 LIMIT 3")
[ -n "$U" ] && [ -n "$E" ] && [ "${#OTHERS[@]}" = 3 ] && ok || bad "no subject ($U, $E) or others"

# ---- the dsar job's IAM user: only what `mdp aws policy --job dsar` grants
read -r DK DS < <(python3 - "$BUCKET" "$MDP" "$T/s3.yaml" <<'PY'
import json, subprocess, sys, boto3
_, mdp, cfg = sys.argv[1:]
doc = json.loads(subprocess.run([mdp, "--config", cfg, "--log-level", "off", "aws", "policy", "--job",
                                 "dsar"],
                                check=True, capture_output=True, text=True).stdout)
for s in doc["Statement"]:  # moto knows no DynamoDB or KMS ARNs: those name "*" (aws_state.py)
    if any(a.startswith(("dynamodb:", "kms:")) for a in s["Action"]):
        s["Resource"] = "*"
iam = boto3.client("iam")
iam.create_user(UserName="mdp-dsar")
iam.put_user_policy(UserName="mdp-dsar", PolicyName="dsar", PolicyDocument=json.dumps(doc))
k = iam.create_access_key(UserName="mdp-dsar")["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"])
PY
)
[ -n "$DK" ] && ok || bad "the dsar user"
d3() { AWS_ACCESS_KEY_ID=$DK AWS_SECRET_ACCESS_KEY=$DS "$MDP" --config "$T/s3.yaml" --log-level off "$@"; }

# ---- export: the same records as in file mode; counts equal a direct query
records() { # bundle-dir [stores] -> per file: dataset, count, sorted records
  python3 - "$@" <<'PY'
import json, os, sys
d = sys.argv[1]
stores = set(sys.argv[2].split(",")) if len(sys.argv) > 2 else None
m = json.load(open(os.path.join(d, "manifest.json")))
for f in sorted(m["files"], key=lambda f: f["name"]):
    if not f["name"].endswith(".ndjson") or (stores and f["store"] not in stores):
        continue
    recs = sorted(json.dumps(json.loads(l)["record"], sort_keys=True)
                  for l in open(os.path.join(d, f["name"])) if l.strip())
    print(f["name"], f["rows"], len(recs), json.dumps(recs))
PY
}
d3 dsar export "$U" --out "$T/bs" --file "$INV" >"$T/out" 2>"$T/err" && ok || bad "export (s3): $(tail -3 "$T/err")"
mf dsar export "$U" --out "$T/bf" --file "$INV" >/dev/null 2>"$T/err" && ok || bad "export (file): $(tail -3 "$T/err")"
records "$T/bs" raw,curated,ml,serving >"$T/rs"
records "$T/bf" raw,curated,ml,serving >"$T/rf"
[ -s "$T/rs" ] && cmp -s "$T/rs" "$T/rf" && ok || bad "the S3 bundle differs from the file bundle: $(diff "$T/rs" "$T/rf" | cut -c1-200 | head -4)"
records "$T/bs" state | cut -d' ' -f1-3 >"$T/cs"
records "$T/bf" state | cut -d' ' -f1-3 >"$T/cf"
cmp -s "$T/cs" "$T/cf" && ok || bad "state datasets' counts differ: $(diff "$T/cs" "$T/cf" | head -4)"
want=$(q3 "SELECT count(*) FROM fact_email_events WHERE CAST(user_id AS VARCHAR) = '$U'")
got=$(python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(sum(f['rows'] or 0 for f in m['files'] if f['dataset']=='curated.fact_email_events'))" "$T/bs/manifest.json")
[ -n "$want" ] && [ "$want" -gt 0 ] && [ "$got" = "$want" ] && ok || bad "fact_email_events: bundle $got rows, query $want"

# ---- other users before
for i in 0 1 2; do
  d3 dsar export "${OTHERS[$i]}" --out "$T/x$i" --file "$INV" >/dev/null 2>&1 || bad "export ${OTHERS[$i]} before"
  records "$T/x$i" raw,curated,ml,serving >"$T/before$i"
done
others_rows() { # the current Parquet rows of every published table that are not the subject's
  for t in fact_email_events fact_visibility_check fact_login_oauth dim_user ml_user_segments ml_user_features; do
    q3 "SELECT * FROM $t WHERE user_id IS NULL OR CAST(user_id AS VARCHAR) <> '$U' ORDER BY ALL"
  done
}
others_rows >"$T/rows_before"
[ "$(wc -l <"$T/rows_before")" -gt 50 ] && ok || bad "too few rows of other users"

# ---- the erasure, as the dsar user
d3 dsar erase "$U" --file "$INV" --out "$T/cert.json" >"$T/out" 2>"$T/err" && ok || bad "erase (s3): $(tail -3 "$T/err")"
python3 - "$T/cert.json" <<'PY' && ok || bad "certificate content"
import json, sys
c = json.load(open(sys.argv[1])); s = c["stores"]
assert c["verification"]["survivors"] == 0, c["verification"]
assert s["raw"]["rewritten"] and all(r["records_removed"] > 0 for r in s["raw"]["rewritten"])
assert s["parquet"] and all(p["rows_removed"] > 0 for p in s["parquet"])
assert s["object_versions_purged"] > 0, "a versioned bucket keeps what the erasure replaced"
PY
grep -qiF -e "$U" -e "$E" "$T/cert.json" "$T/out" "$T/err" && bad "the certificate or the output holds personal data" || ok

# ---- independent check (boto3): every version of every object, every delete marker, every item
python3 - "$BUCKET" "$TABLE" "$U" "$E" "$T/mirror" <<'PY' >"$T/indep" 2>&1 && ok || bad "survivors in the bucket or the table: $(head -8 "$T/indep")"
import hashlib, json, os, sys, boto3
bucket, table, uid, email, mirror = sys.argv[1:]
low = email.strip().lower()
needles = [uid.lower(), low, hashlib.sha256(low.encode()).hexdigest()]
s3 = boto3.client("s3")
found, n = [], 0
for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
    for m in page.get("DeleteMarkers", []):
        if any(x in m["Key"].lower() for x in needles):
            found.append(f"delete marker {m['Key']}")
    for v in page.get("Versions", []):
        n += 1
        key, vid = v["Key"], v["VersionId"]
        if any(x in key.lower() for x in needles):
            found.append(f"key {key} ({vid})")
        if key.startswith("lake/_meta/erasure/log/"):
            continue  # certificates: checked on their own
        body = s3.get_object(Bucket=bucket, Key=key, VersionId=vid)["Body"].read()
        # the mirror: one folder per version, read by dsar_scan.py (bytes and Parquet rows)
        p = os.path.join(mirror, vid.replace("/", "_"), key)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        open(p, "wb").write(body)
ddb = boto3.client("dynamodb")
items, kw = 0, {}
while True:
    r = ddb.scan(TableName=table, ConsistentRead=True, **kw)
    for it in r["Items"]:
        items += 1
        text = json.dumps(it).lower()
        if any(x in text for x in needles):
            found.append(f"dynamodb item {it.get('tbl', {}).get('S', '?')}")
    if "LastEvaluatedKey" not in r:
        break
    kw = {"ExclusiveStartKey": r["LastEvaluatedKey"]}
for f in found:
    print("SURVIVOR", f)
print(f"{n} object versions, {items} items: {len(found)} survivor(s)")
assert n > 50 and items > 0
sys.exit(1 if found else 0)
PY
cat "$T/indep"
python3 "$ROOT/tests/acceptance/dsar_scan.py" "$T/mirror" "$U" "$E" "$NM" "$ROWS" >"$T/scan" 2>&1 \
  && ok || bad "survivors in the bucket's versions: $(grep SURVIVOR "$T/scan" | head -5)"
python3 "$ROOT/tests/acceptance/dsar_scan.py" "$T/cache" "$U" "$E" "$NM" "$ROWS" >"$T/scan" 2>&1 \
  && ok || bad "survivors in the local cache: $(grep SURVIVOR "$T/scan" | head -5)"
python3 - "$BUCKET" <<'PY' && ok || bad "erasure left old versions of objects it rewrote"
import sys, boto3
s3 = boto3.client("s3")
pend = [v["Key"] for p in s3.get_paginator("list_object_versions").paginate(Bucket=sys.argv[1],
        Prefix="lake/_meta/erasure/pending/") for v in p.get("Versions", []) + p.get("DeleteMarkers", [])]
assert not pend, pend
PY

# ---- other users unchanged
for i in 0 1 2; do
  d3 dsar export "${OTHERS[$i]}" --out "$T/y$i" --file "$INV" >/dev/null 2>&1 || bad "export ${OTHERS[$i]} after"
  records "$T/y$i" raw,curated,ml,serving >"$T/after$i"
  cmp -s "$T/before$i" "$T/after$i" && ok || bad "user $i's records changed: $(diff "$T/before$i" "$T/after$i" | cut -c1-200 | head -4)"
done
others_rows >"$T/rows_after"
cmp -s "$T/rows_before" "$T/rows_after" && ok || bad "other users' rows changed: $(diff "$T/rows_before" "$T/rows_after" | head -4)"
[ "$(q3 "SELECT count(*) FROM fact_email_events WHERE CAST(user_id AS VARCHAR) = '$U'")" = 0 ] && ok || bad "the subject's rows are still queryable"

# ---- verify
d3 dsar verify "$T/cert.json" "$U" --email "$E" --file "$INV" >"$T/out" 2>"$T/err" && ok || bad "verify: $(tail -3 "$T/err")"
expect_in "$T/out" "no survivor" "verify re-scans"
sed 's/"survivors":0/"survivors":1/' "$T/cert.json" >"$T/bad.json"
d3 dsar verify "$T/bad.json" --file "$INV" >/dev/null 2>&1
[ $? = 1 ] && ok || bad "a tampered certificate must fail"

# ---- the version actions are needed: without them (moto enforces IAM) verify fails, clearly
read -r NK NS < <(python3 - "$MDP" "$T/s3.yaml" <<'PY'
import json, subprocess, sys, boto3
mdp, cfg = sys.argv[1:]
doc = json.loads(subprocess.run([mdp, "--config", cfg, "--log-level", "off", "aws", "policy", "--job",
                                 "dsar"], check=True, capture_output=True, text=True).stdout)
for s in doc["Statement"]:
    if any(a.startswith(("dynamodb:", "kms:")) for a in s["Action"]):
        s["Resource"] = "*"
    s["Action"] = [a for a in s["Action"] if "Version" not in a]
doc["Statement"] = [s for s in doc["Statement"] if s["Action"]]
iam = boto3.client("iam")
iam.create_user(UserName="mdp-dsar-noversions")
iam.put_user_policy(UserName="mdp-dsar-noversions", PolicyName="dsar", PolicyDocument=json.dumps(doc))
k = iam.create_access_key(UserName="mdp-dsar-noversions")["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"])
PY
)
AWS_ACCESS_KEY_ID=$NK AWS_SECRET_ACCESS_KEY=$NS "$MDP" --config "$T/s3.yaml" --log-level off \
  dsar verify "$T/cert.json" "$U" --email "$E" --file "$INV" >/dev/null 2>"$T/err"
[ $? = 1 ] && ok || bad "verify without the version actions must fail"
grep -qiE "denied|not authorized|policy that does not allow it" "$T/err" && ok || bad "a clear permission error: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" = 1 ] && ok || bad "one line: $(cat "$T/err")"
grep -qiF -e "$U" -e "$E" "$T/err" && bad "the error names the person" || ok

# ---- a kill mid-erasure (after the first raw object: its old versions may be left): the rerun
# finishes the job and nothing of the person survives (a build without fault injection is killed
# after a delay instead; when that run finished first, there is nothing to rerun)
V=$(q3 "SELECT CAST(user_id AS VARCHAR) FROM dim_user WHERE CAST(user_id AS VARCHAR) <> '$U' ORDER BY 1 LIMIT 1 OFFSET 3")
log0=$(python3 -c "import boto3,sys; print(boto3.client('s3').list_objects_v2(Bucket=sys.argv[1], Prefix='lake/_meta/erasure/log/').get('KeyCount', 0))" "$BUCKET")
# (mdp itself in the background, not the d3 function: kill -9 of a function's subshell would leave
# its mdp running on beside the rerun)
AWS_ACCESS_KEY_ID=$DK AWS_SECRET_ACCESS_KEY=$DS MDP_ERASE_CRASH_AFTER=raw-first "$MDP" --config "$T/s3.yaml" \
  --log-level off dsar erase "$V" --file "$INV" --out "$T/cert2.json" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -9 "$pid" 2>/dev/null
wait "$pid"
rc=$?
echo "the erasure of a second user was killed: exit $rc (137: killed, 0: it finished first)"
[ "$rc" = 137 ] || [ "$rc" = 0 ] && ok || bad "the killed erasure: exit $rc"
# a kill after the plan's last version went (the job's last write) but before the exit finds the
# job finished (no plan, one more log entry): nobody is left to erase, and the certificate is the
# erasure log's last entry; a kill before the plan was written leaves neither (a build with
# sanitizers can take the 4 s locating the subject)
done_=
if [ "$rc" = 0 ]; then done_=finished; else
python3 - "$BUCKET" "$T/cert2.json" "$log0" <<'PY' && done_=finished
import sys, boto3
s3, b = boto3.client("s3"), sys.argv[1]
if s3.list_objects_v2(Bucket=b, Prefix="lake/_meta/erasure/pending/").get("KeyCount"): sys.exit(1)
log = [o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix="lake/_meta/erasure/log/").get("Contents", [])]
if len(log) <= int(sys.argv[3]): sys.exit(1)  # killed before its plan was written
open(sys.argv[2], "wb").write(s3.get_object(Bucket=b, Key=max(log))["Body"].read())
PY
fi
echo "the killed erasure had finished: ${done_:-no}"
if [ "$rc" = 137 ] && [ "$done_" = finished ]; then
  d3 dsar erase "$V" --file "$INV" >/dev/null 2>"$T/err"
  [ $? = 1 ] && grep -q "no such user" "$T/err" && ok || bad "the rerun of a finished erasure: $(tail -3 "$T/err")"
elif [ "$rc" = 137 ]; then
  d3 dsar erase "$V" --file "$INV" --out "$T/cert2.json" >/dev/null 2>"$T/err" && ok || bad "the rerun after a kill: $(tail -3 "$T/err")"
fi
d3 dsar verify "$T/cert2.json" "$V" --file "$INV" >"$T/out" 2>"$T/err" && ok || bad "verify after a kill: $(tail -3 "$T/err")"
python3 - "$BUCKET" <<'PY' && ok || bad "a plan's versions stayed after the rerun"
import sys, boto3
p = boto3.client("s3").list_object_versions(Bucket=sys.argv[1], Prefix="lake/_meta/erasure/pending/")
assert not p.get("Versions") and not p.get("DeleteMarkers"), p
PY
finish aws_dsar
