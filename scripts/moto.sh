#!/usr/bin/env bash
# Starts or stops a throwaway moto server (AWS S3, KMS, IAM, DynamoDB, Glue) for the tests, on
# 127.0.0.1 at a free port, with SigV4 verified: INITIAL_NO_AUTH_ACTION_COUNT lets only the first
# requests in unsigned (an IAM user, its policy and its access key, made here with boto3); every
# later request must carry a valid signature of that key. Writes DIR/env (sourceable: the endpoint,
# region, the user's keys, a KMS key id) and DIR/pid.
# Usage: scripts/moto.sh start DIR [BUCKET] | stop DIR
set -euo pipefail
cmd=${1:?usage: moto.sh start DIR [BUCKET] | stop DIR}
dir=${2:?usage: moto.sh start DIR [BUCKET] | stop DIR}
here=$(cd "$(dirname "$0")" && pwd)
case "$cmd" in
start)
  bucket=${3:-}
  mkdir -p "$dir"
  command -v moto_server >/dev/null || { echo "moto.sh: moto_server not found (pip install 'moto[server]')" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # 3 unsigned actions: CreateUser, PutUserPolicy, CreateAccessKey
  INITIAL_NO_AUTH_ACTION_COUNT=3 MOTO_ALLOW_NONEXISTENT_REGION=false \
    python3 "$here/moto_server.py" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 100); do
    if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1', $port)))" 2>/dev/null; then break; fi
    sleep 0.1
  done
  MOTO_ENDPOINT="http://127.0.0.1:$port" MOTO_BUCKET="$bucket" python3 - "$dir/env" <<'EOF'
import json, os, sys, boto3
ep = os.environ["MOTO_ENDPOINT"]
region = "eu-central-1"
anon = dict(endpoint_url=ep, region_name=region, aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap")
iam = boto3.client("iam", **anon)
iam.create_user(UserName="mdp-test")
iam.put_user_policy(UserName="mdp-test", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="mdp-test")["AccessKey"]
creds = dict(endpoint_url=ep, region_name=region, aws_access_key_id=k["AccessKeyId"],
             aws_secret_access_key=k["SecretAccessKey"])
kms = boto3.client("kms", **creds)
key = kms.create_key(Description="mdp lake")["KeyMetadata"]["KeyId"]
kms.create_alias(AliasName="alias/mdp-lake", TargetKeyId=key)
bucket = os.environ.get("MOTO_BUCKET")
if bucket:
    s3 = boto3.client("s3", **creds)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
         "BucketKeyEnabled": True}]})
with open(sys.argv[1], "w") as f:
    f.write(f"export AWS_ENDPOINT_URL={ep}\nexport AWS_REGION={region}\n"
            f"export AWS_ACCESS_KEY_ID={k['AccessKeyId']}\n"
            f"export AWS_SECRET_ACCESS_KEY={k['SecretAccessKey']}\n"
            f"export MDP_TEST_KMS_KEY={key}\nexport MDP_TEST_BUCKET={bucket or ''}\n"
            "export AWS_EC2_METADATA_DISABLED=true\n")
EOF
  echo "http://127.0.0.1:$port"
  ;;
stop)
  if [ -f "$dir/pid" ]; then
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
  fi
  ;;
*) echo "usage: moto.sh start DIR [BUCKET] | stop DIR" >&2; exit 2 ;;
esac
