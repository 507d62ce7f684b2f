#!/usr/bin/env bash
# Integration test of AWS mode's S3 half against moto with SigV4 enforced (scripts/moto.sh: an IAM
# user's access key signs every request; boto3 is the independent checker of what landed):
# - the s3:// store contract (tests/integration/aws_store.c): get/put/head/list past one page/
#   delete, keys with '=' and spaces, conditional put; N concurrent publishers of one manifest:
#   exactly one wins, the others report the lost race;
# - a 20 MiB streamed multipart upload: the endpoint dies mid-upload (a proxy exits after three
#   requests): the object is not visible, a rerun completes it byte for byte, the sweep removes
#   the unfinished upload;
# - the pipeline into an S3 lake: the raw zone (objects named by SHA-256, quarantine) is identical,
#   key for key and byte for byte, to the same run in file mode; every object is SSE-KMS with the
#   configured key; consent, curate, segments and features (staged through the local cache) publish
#   tables with the same rows as in file mode; through a proxy answering 503 SlowDown the ingest
#   still succeeds (retried) with the same raw zone;
# - clear one-line errors and exit 1: wrong secret key, unknown access key, unknown bucket, no
#   region, no credentials, a bucket whose default encryption is not the configured key;
# - the credentials chain: shared credentials file with AWS_PROFILE, the container credentials
#   endpoint with its authorization token, instance metadata with IMDSv2 tokens;
# - retention at three clocks: the same plan, deletions, raw zone, tables and ledger as file mode.
# Usage: aws.sh path/to/mdp path/to/aws_store
MDP=${1:?usage: aws.sh path/to/mdp path/to/aws_store}
TOOL=${2:?usage: aws.sh path/to/mdp path/to/aws_store}
source "$(dirname "$0")/../acceptance/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  "$ROOT/scripts/moto.sh" stop "$T/moto"
  rm -rf "$T"
}
trap cleanup EXIT
BUCKET=mdp-it-lake
"$ROOT/scripts/moto.sh" start "$T/moto" "$BUCKET" >/dev/null || { echo "FAIL: moto did not start" >&2; exit 1; }
source "$T/moto/env"
ENDPOINT=$AWS_ENDPOINT_URL

# ---- the store contract ----
"$TOOL" basic "s3://$BUCKET/store" >"$T/basic.out" 2>&1 && ok || bad "store contract: $(grep FAIL "$T/basic.out" | head -5)"
"$TOOL" race "s3://$BUCKET/store" "_meta/manifests/t/v0000000001.json" 4 >"$T/race.out" 2>&1 \
  && ok || bad "concurrent publishers: $(tail -1 "$T/race.out")"
expect_in "$T/race.out" "winners 1 losers 3" "exactly one publisher wins"
expect_in "$T/race.out" "exists (conditional put lost)" "the losers report the lost race"

# ---- the endpoint dies mid-upload ----
proxy() { # portfile args... : starts aws_proxy.py in front of moto, waits for its port
  python3 "$HERE/aws_proxy.py" "$ENDPOINT" "$@" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$1" ] && break; sleep 0.05; done
}
proxy "$T/die.port" --die-after 3
AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$T/die.port") MDP_TEST_KMS_KEY_CONFIGURED=$MDP_TEST_KMS_KEY \
  "$TOOL" upload "s3://$BUCKET/store" big/object.bin 20 >"$T/up1.out" 2>&1
[ $? = 1 ] && ok || bad "an upload whose endpoint died must fail: $(cat "$T/up1.out")"
expect_in "$T/up1.out" "upload failed" "the failed upload says so"
python3 - "$BUCKET" <<'PY' && ok || bad "the interrupted upload must not be visible"
import sys, boto3, botocore
try:
    boto3.client("s3").head_object(Bucket=sys.argv[1], Key="store/big/object.bin")
    sys.exit(1)
except botocore.exceptions.ClientError as e:
    sys.exit(0 if e.response["Error"]["Code"] in ("404", "NoSuchKey") else 1)
PY
MDP_TEST_KMS_KEY_CONFIGURED=$MDP_TEST_KMS_KEY "$TOOL" upload "s3://$BUCKET/store" big/object.bin 20 >"$T/up2.out" 2>&1 \
  && ok || bad "the rerun of the upload: $(cat "$T/up2.out")"
python3 - "$BUCKET" "$(awk '/^sha256/{print $2}' "$T/up2.out")" "$MDP_TEST_KMS_KEY" <<'PY' && ok || bad "the rerun's object (boto3)"
import hashlib, sys, boto3
o = boto3.client("s3").get_object(Bucket=sys.argv[1], Key="store/big/object.bin")
body = o["Body"].read()
assert len(body) == 20 << 20, len(body)
assert hashlib.sha256(body).hexdigest() == sys.argv[2], "bytes differ"
assert o["ServerSideEncryption"] == "aws:kms", o.get("ServerSideEncryption")
assert o["SSEKMSKeyId"].endswith(sys.argv[3]), o.get("SSEKMSKeyId")
PY
"$TOOL" orphans "s3://$BUCKET/store" >"$T/orph.out" 2>&1 && ok || bad "orphan sweep: $(cat "$T/orph.out")"
expect_in "$T/orph.out" "orphans 1" "the interrupted upload is swept"
python3 -c "import boto3,sys; sys.exit(len(boto3.client('s3').list_multipart_uploads(Bucket='$BUCKET').get('Uploads', [])))" \
  && ok || bad "unfinished uploads remain after the sweep"

# ---- ingest into an S3 lake vs file mode ----
conf() { # file lake-dir
  printf 'lake:\n  dir: %s\n  landing_dir: %s\naws:\n  s3_addressing: path\n  kms_key_id: %s\n  retry_base_ms: 5\n  cache_dir: %s\n' \
    "$2" "$T/landing" "$MDP_TEST_KMS_KEY" "$T/cache" >"$1"
}
"$MDP" --log-level off seed --users 25 --days 2 --out "$T/landing" >/dev/null && ok || bad "seed"
conf "$T/file.yaml" "$T/filelake"
conf "$T/s3.yaml" "s3://$BUCKET/lake"
"$MDP" --config "$T/file.yaml" --log-level off init >/dev/null && ok || bad "init (file)"
"$MDP" --config "$T/file.yaml" --log-level off run --stages ingest >"$T/file.out" 2>&1 && ok || bad "ingest (file): $(tail -3 "$T/file.out")"
expect_rc 0 "init (s3)" -- "$MDP" --config "$T/s3.yaml" --log-level off init
expect_rc 0 "ingest (s3)" -- "$MDP" --config "$T/s3.yaml" --log-level off run --stages ingest
compare_raw() { # prefix what [empty-ok]: the raw zone under s3://BUCKET/prefix equals the file lake's
  python3 - "$BUCKET" "$1" "$T/filelake" "$MDP_TEST_KMS_KEY" "${3:-}" <<'PY' && ok || bad "$2"
import os, sys, boto3
bucket, prefix, local, kms, empty_ok = sys.argv[1:]
s3 = boto3.client("s3")
want = {}
for d, _, files in os.walk(os.path.join(local, "raw")):
    for f in files:
        p = os.path.join(d, f)
        want[os.path.relpath(p, local)] = open(p, "rb").read()
got = {}
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/raw/"):
    for o in page.get("Contents", []):
        r = s3.get_object(Bucket=bucket, Key=o["Key"])
        assert r["ServerSideEncryption"] == "aws:kms" and r["SSEKMSKeyId"].endswith(kms), o["Key"]
        got[o["Key"][len(prefix) + 1:]] = r["Body"].read()
assert want or empty_ok, "the file lake has no raw zone"
missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
assert not missing and not extra, f"missing {missing[:3]} extra {extra[:3]}"
diff = [k for k in want if want[k] != got[k]]
assert not diff, f"bytes differ: {diff[:3]}"
print(len(want), "raw objects identical", file=sys.stderr)
PY
}
compare_raw lake "raw zone of the S3 lake = file lake"
python3 - "$BUCKET" "$MDP_TEST_KMS_KEY" <<'PY' && ok || bad "every lake object is SSE-KMS with the configured key"
import sys, boto3
s3 = boto3.client("s3")
n = 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[1], Prefix="lake/"):
    for o in page.get("Contents", []):
        h = s3.head_object(Bucket=sys.argv[1], Key=o["Key"])
        assert h["ServerSideEncryption"] == "aws:kms" and h["SSEKMSKeyId"].endswith(sys.argv[2]), o["Key"]
        n += 1
assert n > 10, n
PY
# a second ingest adds nothing (idempotent, as in file mode)
"$MDP" --config "$T/s3.yaml" --log-level off run --stages ingest --json >"$T/again.json" 2>&1 && ok || bad "second ingest (s3)"
compare_raw lake "raw zone unchanged by a second ingest"

# the rest of the pipeline on both lakes: every published table has the same rows
for stage in consent curate segments features; do
  "$MDP" --config "$T/file.yaml" --log-level off run --stages $stage >"$T/f.out" 2>&1 && ok || bad "$stage (file): $(tail -2 "$T/f.out")"
  "$MDP" --config "$T/s3.yaml" --log-level off run --stages $stage >"$T/s.out" 2>&1 && ok || bad "$stage (s3): $(tail -2 "$T/s.out")"
done
for t in fact_visibility_check fact_email_events fact_login_oauth dim_user dim_account dim_location \
         dim_time identity_links ml_user_segments ml_user_features; do
  "$MDP" --config "$T/file.yaml" --log-level off query "SELECT * FROM $t ORDER BY ALL" --format csv >"$T/f.csv" 2>&1 || bad "query $t (file): $(head -c 300 "$T/f.csv")"
  "$MDP" --config "$T/s3.yaml" --log-level off query "SELECT * FROM $t ORDER BY ALL" --format csv >"$T/s.csv" 2>&1 || bad "query $t (s3): $(head -c 300 "$T/s.csv")"
  [ "$(wc -l <"$T/f.csv")" -gt 1 ] && ok || bad "$t is empty in file mode"
  cmp -s "$T/f.csv" "$T/s.csv" && ok || bad "$t differs between the file and the S3 lake"
done
python3 - "$BUCKET" <<'PY' && ok || bad "the published run folders are in the bucket"
import sys, boto3
keys = [o["Key"] for p in boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=sys.argv[1], Prefix="lake/")
        for o in p.get("Contents", [])]
for want in ("lake/curated/facts/fact_email_events/run-", "lake/curated/dimensions/dim_user/run-",
             "lake/ml/segments/run-", "lake/ml/features/run-"):
    assert any(k.startswith(want) for k in keys), want
assert any(k.startswith("lake/_meta/manifests/") and "fact_email_events" in k and k.endswith("/CURRENT")
           for k in keys), "no CURRENT manifest pointer of fact_email_events"
assert any(k.endswith(".parquet") for k in keys)
PY

# A published table's files are staged into the local cache by their manifest's keys and sizes:
# a GET per file missing from the cache, none for a file cached whole, and no LIST per file.
proxy "$T/log.port" --log "$T/requests.log"
sed "s|cache_dir: .*|cache_dir: $T/cold-cache|" "$T/s3.yaml" >"$T/cold.yaml"
nfiles=$(python3 - "$BUCKET" <<'PY'
import json, sys, boto3
s3 = boto3.client("s3")
pre = "lake/_meta/manifests/curated/facts/fact_email_events/"
cur = s3.get_object(Bucket=sys.argv[1], Key=pre + "CURRENT")["Body"].read().decode().strip()
print(len(json.loads(s3.get_object(Bucket=sys.argv[1], Key=pre + cur + ".json")["Body"].read())["files"]))
PY
)
for round in cold warm; do
  : >"$T/requests.log"
  AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$T/log.port") "$MDP" --config "$T/cold.yaml" --log-level off \
    query "SELECT count(*) AS n FROM fact_email_events" --format csv >"$T/q.csv" 2>&1 \
    && ok || bad "query through the logging proxy ($round): $(head -c 300 "$T/q.csv")"
  gets=$(grep -c "^GET .*/fact_email_events/run-.*\.parquet" "$T/requests.log")
  lists=$(grep "^GET [^ ]*[?&]list-type=2" "$T/requests.log" | grep -c "prefix=[^& ]*\.parquet")
  want=$([ $round = cold ] && echo "$nfiles" || echo 0)
  [ "$nfiles" -gt 1 ] && [ "$gets" = "$want" ] && [ "$lists" = 0 ] && ok \
    || bad "staging fact_email_events ($round, $nfiles files): $gets Parquet GETs (want $want), $lists LISTs of a file (want 0)"
done

# throttling: the first 5 requests answered 503 SlowDown, then every 7th, retried; no request more
# than 4 times (the client makes 6 attempts), so concurrent uploads cannot make it flaky
proxy "$T/slow.port" --slowdown 5 --every 7 --max-per-key 4
conf "$T/slow.yaml" "s3://$BUCKET/slowlake"
AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$T/slow.port") "$MDP" --config "$T/slow.yaml" init >/dev/null 2>"$T/slow.err" \
  && ok || bad "init through throttling: $(tail -2 "$T/slow.err")"
AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$T/slow.port") "$MDP" --config "$T/slow.yaml" run --stages ingest >/dev/null 2>>"$T/slow.err" \
  && ok || bad "ingest through throttling: $(tail -2 "$T/slow.err")"
grep -q '"code":"SlowDown"' "$T/slow.err" && ok || bad "the SlowDown answers were retried (log)"
compare_raw slowlake "raw zone after throttling = file lake"

# ---- clear errors, exit 1, one line ----
err_case() { # description needle env... -- : runs `mdp init` with the env changes
  local what=$1 needle=$2; shift 2
  env "$@" "$MDP" --config "$T/s3.yaml" init >"$T/out" 2>"$T/err"; local rc=$?
  [ "$rc" = 1 ] && ok || bad "$what: exit $rc, want 1"
  [ "$(wc -l <"$T/err")" = 1 ] && ok || bad "$what: want one line, got: $(cat "$T/err")"
  expect_in "$T/err" "$needle" "$what"
}
err_case "wrong secret key" "wrong secret access key" AWS_SECRET_ACCESS_KEY=wrong-secret
err_case "unknown access key" "is not known to AWS" AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
err_case "no region" "aws.region is not set" -u AWS_REGION -u AWS_DEFAULT_REGION
err_case "no credentials" "no AWS credentials" -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME="$T/nohome"
"$MDP" --config "$T/s3.yaml" init --dir "s3://no-such-bucket-$$/lake" >/dev/null 2>"$T/err"
[ $? = 1 ] && ok || bad "unknown bucket: want exit 1"
expect_in "$T/err" "bucket 'no-such-bucket-$$' does not exist" "unknown bucket"
conf "$T/otherkey.yaml" "s3://$BUCKET/lake"
sed -i "s/kms_key_id: .*/kms_key_id: 11111111-2222-3333-4444-555555555555/" "$T/otherkey.yaml"
"$MDP" --config "$T/otherkey.yaml" run --stages ingest >/dev/null 2>"$T/err"
[ $? = 1 ] && ok || bad "another KMS key: want exit 1"
expect_in "$T/err" "but aws.kms_key_id is 11111111-2222-3333-4444-555555555555" "another KMS key is refused"

# ---- the credentials chain ----
printf '[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = nope\n\n[mdp-it]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
  "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$T/credentials"
expect_rc 0 "shared credentials file, AWS_PROFILE" -- env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
  AWS_SHARED_CREDENTIALS_FILE="$T/credentials" AWS_PROFILE=mdp-it "$MDP" --config "$T/s3.yaml" init
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$T/credentials" AWS_PROFILE=nope \
  "$MDP" --config "$T/s3.yaml" init >/dev/null 2>"$T/err"
expect_in "$T/err" "AWS_PROFILE=nope but $T/credentials has no such profile" "an unknown profile"
python3 "$HERE/aws_creds_server.py" "$T/creds.port" &
pids+=($!)
for _ in $(seq 100); do [ -s "$T/creds.port" ] && break; sleep 0.05; done
CP=$(cat "$T/creds.port")
expect_rc 0 "container credentials endpoint" -- env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME="$T/nohome" \
  AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$CP/container/creds" \
  AWS_CONTAINER_AUTHORIZATION_TOKEN=container-secret "$MDP" --config "$T/s3.yaml" init
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME="$T/nohome" \
  AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$CP/container/creds" \
  AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong "$MDP" --config "$T/s3.yaml" init >/dev/null 2>"$T/err"
expect_in "$T/err" "the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI) failed" "a refused container token"
expect_rc 0 "instance metadata (IMDSv2)" -- env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME="$T/nohome" \
  AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$CP" \
  "$MDP" --config "$T/s3.yaml" init

# ---- retention on the S3 lake: the same plan, the same deletions, the same ledger as file mode ----
# (last, since it removes the file lake's raw days that the sections above compare with). The
# seed's days are 2026-10-01/02: at the first clock the 90-day raw datasets are due, at the second
# the curated partitions (24 months), GA4 (14) and SES (18), at the third the inactive users (36).
INV=$ROOT/config/inventory.yaml
both_same() { # what cmd...: the JSON answers of the file and the S3 lake are equal and non-empty
  # (the sizes of Parquet files aside)
  local what=$1; shift
  "$MDP" --config "$T/file.yaml" --log-level warn --json "$@" >"$T/rf.json" 2>"$T/rf.err" || bad "$what (file): $(tail -2 "$T/rf.err")"
  "$MDP" --config "$T/s3.yaml" --log-level warn --json "$@" >"$T/rs.json" 2>"$T/rs.err" || bad "$what (s3): $(tail -2 "$T/rs.err")"
  python3 - "$T/rf.json" "$T/rs.json" <<'PY' && ok || bad "$what: the S3 lake's answer differs from the file lake's"
import json, sys
f, s = (json.load(open(p)) for p in sys.argv[1:])
assert f["steps"], "nothing due"
for x in f["steps"] + s["steps"]:  # a Parquet file's size differs by its metadata; raw bytes do not
    if x["unit"] != "day_folder":
        x.pop("bytes")
diff = [(a, b) for a, b in zip(f["steps"], s["steps"]) if a != b]
assert f == s, diff[:2] or (len(f["steps"]), len(s["steps"]))
PY
}
tables_same() { # what: the same tables with the same rows in both lakes
  "$MDP" --config "$T/file.yaml" --log-level off query "SHOW TABLES" --format csv >"$T/tf" 2>&1
  "$MDP" --config "$T/s3.yaml" --log-level off query "SHOW TABLES" --format csv >"$T/ts" 2>&1
  cmp -s "$T/tf" "$T/ts" && ok || bad "$1: the lakes publish different tables: $(tr '\n' ' ' <"$T/tf") / $(tr '\n' ' ' <"$T/ts")"
  for t in $(tail -n +2 "$T/tf"); do
    "$MDP" --config "$T/file.yaml" --log-level off query "SELECT * FROM $t ORDER BY ALL" --format csv >"$T/f.csv" 2>&1
    "$MDP" --config "$T/s3.yaml" --log-level off query "SELECT * FROM $t ORDER BY ALL" --format csv >"$T/s.csv" 2>&1
    cmp -s "$T/f.csv" "$T/s.csv" && ok || bad "$1: $t differs between the file and the S3 lake"
  done
}
for now in 2027-01-05T00:00:00Z 2028-12-01T00:00:00Z 2029-12-01T00:00:00Z; do
  both_same "retention plan at $now" retention plan --file "$INV" --now "$now"
  both_same "retention apply at $now" retention apply --file "$INV" --now "$now"
  compare_raw lake "raw zone after retention at $now = file lake" empty-ok
  tables_same "after retention at $now"
  # nothing is due again but the Supabase users, which wait for an apply with the connection
  "$MDP" --config "$T/s3.yaml" --log-level off --json retention plan --file "$INV" --now "$now" >"$T/again.json" \
    && python3 -c 'import json, sys; sys.exit(any(s["unit"] != "source_rows" for s in json.load(open(sys.argv[1]))["steps"]))' "$T/again.json" \
    && ok || bad "nothing is due after apply at $now: $(head -c 300 "$T/again.json")"
done
python3 - "$T/filelake" "$BUCKET" <<'PY' && ok || bad "retention removed the due raw days and kept the ledger in the bucket"
import os, sys, boto3
local, bucket = sys.argv[1:]
keys = [o["Key"] for p in boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="lake/")
        for o in p.get("Contents", [])]
assert not [k for k in keys if k.startswith("lake/raw/supabase/")], "raw Supabase days survived 90 days"
assert not [k for k in keys if k.startswith("lake/raw/ses/")], "raw SES days survived 18 months"
ledger = sorted(k for k in keys if k.startswith("lake/_meta/ledger/"))
assert ledger and len(ledger) == len(os.listdir(os.path.join(local, "_meta/ledger"))), len(ledger)
PY
"$MDP" --config "$T/s3.yaml" --log-level off retention verify >"$T/rv.out" 2>&1 && ok || bad "retention verify (s3): $(cat "$T/rv.out")"
expect_in "$T/rv.out" "ledger intact" "the S3 lake's ledger chain verifies"
finish integration_aws
