#!/usr/bin/env bash
# AWS mode against moto on loopback (scripts/moto.sh, SigV4 enforced): ingest of the demo month
# (mdp seed defaults) into an s3:// lake versus a file lake (the ratio of their times: target
# >= 0.5x), the requests by kind (mdp's own counts, --json), and the peak RSS of a 1 GiB object
# streamed through the multipart writer (target < 64 MB).
# Usage: bench/aws.sh path/to/mdp path/to/aws_store [MB]
set -euo pipefail
mdp=${1:?usage: aws.sh path/to/mdp path/to/aws_store [MB]}
tool=${2:?usage: aws.sh path/to/mdp path/to/aws_store [MB]}
mb=${3:-1024}
root=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/mdp-bench-aws-XXXXXX)
trap '"$root/scripts/moto.sh" stop "$T/moto"; rm -rf "$T"' EXIT
"$root/scripts/moto.sh" start "$T/moto" mdp-bench-lake >/dev/null
source "$T/moto/env"
conf() {
  printf 'lake:\n  dir: %s\n  landing_dir: %s\naws:\n  s3_addressing: path\n  kms_key_id: %s\n' \
    "$2" "$T/landing" "$MDP_TEST_KMS_KEY" >"$1"
}
conf "$T/file.yaml" "$T/filelake"
conf "$T/s3.yaml" "s3://mdp-bench-lake/lake"
"$mdp" --log-level off seed --out "$T/landing" >/dev/null
secs() { python3 -c 'import time; print(time.monotonic())'; }
for m in file s3; do
  "$mdp" --config "$T/$m.yaml" --log-level off init >/dev/null
  t0=$(secs)
  "$mdp" --config "$T/$m.yaml" --log-level off run --stages ingest --json >"$T/$m.json"
  t1=$(secs)
  echo "$m: ingest of the demo month $(python3 -c "print(f'{$t1-$t0:.2f}')") s"
  eval "t_$m=$(python3 -c "print($t1-$t0)")"
done
python3 -c "print(f'ingest ratio (file time / s3 time): {$t_file/$t_s3:.2f}x (target >= 0.5x)')"
"$tool" upload s3://mdp-bench-lake/bench big/one.bin "$mb" >"$T/up.out"
python3 - "$T/up.out" "$mb" <<'PY'
import sys
kv = dict(l.split() for l in open(sys.argv[1]) if l.strip())
print(f"{sys.argv[2]} MiB streamed upload: peak RSS {int(kv['maxrss_kb']) / 1024:.1f} MB (target < 64 MB)")
PY
