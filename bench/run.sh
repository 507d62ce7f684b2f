#!/usr/bin/env bash
# `make bench`: every benchmark, one after the other, then one summary table (benchmark, our
# figure, the baseline's, the ratio, the target, PASS/FAIL). Each benchmark appends its rows to
# the file named by MDP_BENCH_SUMMARY (bench_summary() in benchlib.c for the C ones, a tab-separated
# line for the scripts). A benchmark that fails to run is listed as ERROR and the others still
# run. QUICK=1 runs every part at a size that finishes in a few minutes (before and after a
# hot-path change); the full size is the default.
# Usage: bench/run.sh BUILD_DIR   (exit 1 when a benchmark could not run; a missed target is
# reported as FAIL in the table, not as an error)
set -uo pipefail
build=${1:?usage: run.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
export QUICK=${QUICK:-0}
summary=$(mktemp /tmp/mdp-bench-summary-XXXXXX)
export MDP_BENCH_SUMMARY=$summary
tmp=$(mktemp -d /tmp/mdp-bench-run-XXXXXX)
trap 'rm -rf "$summary" "$tmp"' EXIT
errors=0
t_start=$(date +%s)

part() { # part TITLE COMMAND...: runs one benchmark, records an ERROR row when it fails to run
    local title=$1
    shift
    echo "== $title"
    local n0
    n0=$(wc -l <"$summary")
    "$@"
    local rc=$?
    # a benchmark that exits non-zero after writing its rows has measured (and missed a target);
    # one that wrote nothing could not run
    if [ "$rc" -ne 0 ] && [ "$(wc -l <"$summary")" -eq "$n0" ]; then
        printf '%s\t-\t-\t-\t-\tERROR (exit %d)\n' "$title" "$rc" >>"$summary"
        errors=$((errors + 1))
    fi
}

dsar() { # a demo lake (10,000 users; 1,000 with QUICK=1), then export and erasure of one user
    local users=10000
    [ "$QUICK" != 0 ] && users=1000
    "$build/mdp" --log-level off demo --dir "$tmp/lake" --users "$users" >/dev/null || return 1
    local e=0
    "$root/bench/dsar.sh" "$build/mdp" "$tmp/lake" || e=$?
    "$root/bench/dsar_erase.sh" "$build/mdp" "$users" "$tmp/lake" || e=$?
    return $e
}

# curate and features measure on one lake, seeded and ingested once (by the first of them)
export MDP_BENCH_LAKE="$tmp/bench-lake"
for b in land ingest curate features bandit state dq; do
    part "bench_$b" "$build/bench/bench_$b"
done
part "bench_supabase (PostgreSQL on a free loopback port)" \
    "$root/bench/supabase.sh" "$build/bench/bench_supabase"
command -v wrk >/dev/null || "$root/scripts/install-deps.sh" --bench
part "serve (wrk against mdp serve and a bare libmicrohttpd)" "$root/bench/serve.sh" "$build"
part "seed (peak RSS and time against 200 MB, 60 s)" "$root/bench/seed.sh" "$build/mdp"
part "cdc (changes/s against pg_recvlogical, commit->raw latency)" \
    "$root/bench/cdc.sh" "$build/mdp"
cmake --build "$build" --target aws_store >/dev/null
part "aws (ingest into moto's S3 vs file mode; streamed upload)" \
    "$root/bench/aws.sh" "$build/mdp" "$build/tests/aws_store"
part "dsar (export < 10 s, erasure < 60 s of one user of a demo lake)" dsar

echo
echo "== summary ($([ "$QUICK" != 0 ] && echo "QUICK=1, reduced sizes" || echo "full size"), $(($(date +%s) - t_start)) s, load $(cut -d' ' -f1-3 /proc/loadavg))"
python3 - "$summary" <<'PY'
import sys
head = ("benchmark", "ours", "baseline", "ratio", "target", "result")
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
rows = [(r + ["-"] * 6)[:6] for r in rows]
w = [max(len(x[i]) for x in rows + [head]) for i in range(6)]
for r in [head] + rows:
    print("  ".join(c.ljust(w[i]) if i in (0, 4, 5) else c.rjust(w[i]) for i, c in enumerate(r)))
fails = sum(r[5] == "FAIL" for r in rows)
print(f"{len(rows)} figures, {sum(r[5] == 'PASS' for r in rows)} pass, {fails} fail, "
      f"{sum(r[5].startswith('ERROR') for r in rows)} could not run")
PY
[ "$errors" -eq 0 ]
