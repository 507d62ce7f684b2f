#!/usr/bin/env bash
# AWS mode against moto on loopback (scripts/moto.sh, SigV4 enforced): ingest of the demo month
# (mdp seed defaults) into an s3:// lake versus a file lake (the ratio of their times: target
# >= 0.5x), the requests by kind (mdp's own counts, --json) with moto's CPU time per request
# (load-independent, unlike the times), and the peak RSS of a 1 GiB object
# streamed through the multipart writer (target < 64 MB).
# QUICK=1 streams 128 MiB instead of 1 GiB (the whole script then takes well under 90 s on the
# idle machine). With MDP_BENCH_SUMMARY naming a file, one line per figure is appended to it:
# name<TAB>ours<TAB>baseline<TAB>ratio<TAB>target<TAB>PASS|FAIL.
# Usage: bench/aws.sh path/to/mdp path/to/aws_store [MB]
set -euo pipefail
mdp=${1:?usage: aws.sh path/to/mdp path/to/aws_store [MB]}
tool=${2:?usage: aws.sh path/to/mdp path/to/aws_store [MB]}
if [ "${QUICK:-0}" = 1 ]; then mb=${3:-128}; else mb=${3:-1024}; fi
summary=${MDP_BENCH_SUMMARY:-}
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
sync # seed does not fsync: its write-back would otherwise land in the file ingest's fsyncs
secs() { python3 -c 'import time; print(time.monotonic())'; }
# moto's CPU time (user + system, clock ticks): its cost per request does not depend on the load
moto_cpu() { awk '{print $14 + $15}' "/proc/$(cat "$T/moto/pid")/stat"; }
for m in file s3; do
  "$mdp" --config "$T/$m.yaml" --log-level off init >/dev/null
  c0=$(moto_cpu)
  r0=$(wc -l <"$T/moto/moto.log") # moto logs one line per request it served
  t0=$(secs)
  "$mdp" --config "$T/$m.yaml" --log-level off run --stages ingest --json >"$T/$m.json"
  t1=$(secs)
  c1=$(moto_cpu)
  r1=$(wc -l <"$T/moto/moto.log")
  echo "$m: ingest of the demo month $(python3 -c "print(f'{$t1-$t0:.2f}')") s"
  eval "t_$m=$(python3 -c "print($t1-$t0)")"
done
# the s3 ingest's requests by kind, as mdp counts them (its run records add up to them; the gets
# and a list include the reads of the local landing folder, one per delivery), the requests moto
# served, and moto's CPU per request
python3 - "$T/s3.json" "$((c1 - c0))" "$(getconf CLK_TCK)" "$((r1 - r0))" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
deliveries = sum(int(r["message"].split()[0]) for r in runs
                 if r["job"].startswith("ingest.") and r["message"].split()[0].isdigit())
req = {k: sum(r["requests"][k] for r in runs) for k in ("put", "get", "list")}
served = int(sys.argv[4])
ms = 1000 * int(sys.argv[2]) / int(sys.argv[3])
print(f"s3 ingest of {deliveries} deliveries: mdp counted {req['put']} put, {req['get']} get "
      f"(landing reads included), {req['list']} list; moto served {served} requests "
      f"({served / max(deliveries, 1):.3f} per delivery) with {ms / 1000:.2f} s of CPU, "
      f"{ms / max(served, 1):.2f} ms per request")
PY
python3 - "$t_file" "$t_s3" "$summary" <<'PY'
import sys
f, s, out = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
r = f / s
print(f"ingest ratio (file time / s3 time): {r:.2f}x (target >= 0.5x)")
if out:
    with open(out, "a") as o:
        o.write(f"aws ingest s3 vs file\t{s:.1f}s\t{f:.1f}s\t{r:.2f}\t>=0.5\t{'PASS' if r >= 0.5 else 'FAIL'}\n")
PY
"$tool" upload s3://mdp-bench-lake/bench big/one.bin "$mb" >"$T/up.out"
python3 - "$T/up.out" "$mb" "$summary" <<'PY'
import sys
kv = dict(l.split() for l in open(sys.argv[1]) if l.strip())
mb = int(kv['maxrss_kb']) / 1024
print(f"{sys.argv[2]} MiB streamed upload: peak RSS {mb:.1f} MB (target < 64 MB)")
if sys.argv[3]:
    size = "1GiB" if sys.argv[2] == "1024" else f"{sys.argv[2]}MiB"
    with open(sys.argv[3], "a") as o:
        o.write(f"aws {size} upload peak RSS MB\t{mb:.0f}\t-\t-\t<64\t{'PASS' if mb < 64 else 'FAIL'}\n")
PY
