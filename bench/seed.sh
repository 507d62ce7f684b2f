#!/usr/bin/env bash
# `mdp seed` at scale (issue 11, defect 8): seeds 100,000 users (default days) into a scratch
# landing folder under /usr/bin/time -v and prints peak RSS, wall seconds, CPU seconds and
# records/s against the targets (peak RSS < 200 MB, wall < 60 s), with pass/fail.
# Usage: bench/seed.sh path/to/mdp [users]   (exit 1 when a target is missed)
set -euo pipefail
mdp=${1:?usage: seed.sh path/to/mdp [users]}
users=${2:-100000}
[ "${QUICK:-0}" != 0 ] && [ -z "${2:-}" ] && users=20000
out=$(mktemp -d /tmp/mdp-bench-seed-XXXXXX)
trap 'rm -rf "$out"' EXIT
/usr/bin/time -v "$mdp" --json seed --users "$users" --out "$out/landing" >"$out/stats.json" \
    2>"$out/time.txt" || { cat "$out/time.txt" >&2; exit 1; }
python3 - "$out/stats.json" "$out/time.txt" "$users" <<'PY'
import json, re, sys
st = json.load(open(sys.argv[1]))
tv = open(sys.argv[2]).read()
def field(name):
    return re.search(re.escape(name) + r":\s*(\S+)", tv).group(1)
rss_mb = int(field("Maximum resident set size (kbytes)")) / 1024
parts = [float(p) for p in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
records = sum(st[k] for k in ("events", "ses_messages", "ddb_records", "csv_rows", "ga4_rows",
                              "gbp_locations", "meta_objects"))
ok_rss, ok_wall = rss_mb < 200, wall < 60
print(f"seed {sys.argv[3]} users: {st['files']} files, {st['bytes'] / 1048576:.0f} MiB, "
      f"{records} records")
print(f"  peak RSS   {rss_mb:8.1f} MB   target < 200 MB   {'PASS' if ok_rss else 'FAIL'}")
print(f"  wall       {wall:8.1f} s    target < 60 s     {'PASS' if ok_wall else 'FAIL'}"
      f"   (CPU {cpu:.1f} s: the machine's other load counts in wall time)")
print(f"  throughput {records / wall:8.0f} records/s, {st['bytes'] / 1048576 / wall:.1f} MiB/s")
import os
summary = os.environ.get("MDP_BENCH_SUMMARY")
if summary:
    with open(summary, "a") as f:
        f.write(f"seed {sys.argv[3]} users peak RSS\t{rss_mb:.1f} MB\t-\t-\t< 200 MB\t{'PASS' if ok_rss else 'FAIL'}\n")
        f.write(f"seed {sys.argv[3]} users wall\t{wall:.1f} s\t-\t-\t< 60 s\t{'PASS' if ok_wall else 'FAIL'}\n")
sys.exit(0 if ok_rss and ok_wall else 1)
PY
