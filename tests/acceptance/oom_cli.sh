#!/usr/bin/env bash
# Out-of-memory walk of the mdp binary (label oom; only in a -DMDP_FAULT_INJECTION=ON build, so
# under `make test` it runs in the ASan build): a command runs once cleanly, then again and again
# with MDP_FAIL_ALLOC_AT=1, 2, ... (the N-th allocation through mdp/alloc.h fails) until 10 runs in
# a row reach the clean result. Every run must end without a signal or a sanitizer report, and
# leave in the lake only objects the clean run also wrote, byte for byte (never a truncated one);
# a run that exits 0 must have written all of them. A run that fails must say why: an empty error
# message ("mdp ingest: " and nothing after), or cli_fail's stand-in for one, fails the test.
# Usage: oom_cli.sh path/to/mdp   (MDP_TEST_DATA=tests/data)
set -u
MDP=$1
FIX=${MDP_TEST_DATA:?}/fixtures
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
MAX_RUNS=3000
fail=0

# the lake's objects as "sha256  path" (sorted as comm wants them), without the run log (its
# names are fresh UUIDs); the state store by its items, without the lake's lease (its holder's
# process id and start differ from run to run)
objects() {
    (cd "$1" && {
        find . -type f ! -path './_meta/runs/*' ! -path './landing/*' \
            ! -path './_meta/state.sqlite*' -print0 | sort -z | xargs -0r sha256sum
        [ ! -f _meta/state.sqlite ] || python3 - <<'PY'
import hashlib, sqlite3
rows = sqlite3.connect("_meta/state.sqlite").execute(
    "SELECT tbl, pk, sk, body, expires_at FROM items WHERE tbl <> 'leases' ORDER BY 1, 2, 3")
print(hashlib.sha256(repr(list(rows)).encode()).hexdigest() + "  ./_meta/state.sqlite (items)")
PY
    }) | LC_ALL=C sort
}

# walk NAME SETUP_FN -- ARGS...: SETUP_FN makes $TMP/w (the lake at $TMP/w/lake) before each run
walk() {
    local name=$1 setup=$2
    shift 3
    "$setup"
    "$MDP" "$@" >"$TMP/clean.out" 2>"$TMP/clean.err"
    local rc0=$?
    objects "$TMP/w/lake" >"$TMP/clean.obj" 2>/dev/null
    local same=0 n=0 empty=""
    while [ $same -lt 10 ] && [ $n -lt $MAX_RUNS ]; do
        n=$((n + 1))
        "$setup"
        MDP_FAIL_ALLOC_AT=$n "$MDP" "$@" >"$TMP/run.out" 2>"$TMP/run.err"
        local rc=$?
        objects "$TMP/w/lake" >"$TMP/run.obj" 2>/dev/null
        if [ $rc -ge 128 ] || grep -q 'Sanitizer' "$TMP/run.err"; then
            echo "FAIL: $name: allocation $n: exit $rc"
            head -c 2000 "$TMP/run.err"
            fail=1
            return
        fi
        local extra
        extra=$(LC_ALL=C comm -13 "$TMP/clean.obj" "$TMP/run.obj")
        if [ -n "$extra" ]; then
            echo "FAIL: $name: allocation $n (exit $rc) left objects the clean run did not write:"
            echo "$extra"
            fail=1
            return
        fi
        if [ $rc -eq 0 ] && ! cmp -s "$TMP/clean.obj" "$TMP/run.obj"; then
            echo "FAIL: $name: allocation $n failed, exit 0, but objects are missing:"
            LC_ALL=C comm -23 "$TMP/clean.obj" "$TMP/run.obj"
            fail=1
            return
        fi
        if [ $rc -eq $rc0 ] && cmp -s "$TMP/clean.obj" "$TMP/run.obj"; then
            same=$((same + 1))
        else
            same=0
        fi
        if [ $rc -ne 0 ] && grep -qE '^mdp( [a-z]+)?: *$|the library gave no detail' "$TMP/run.err"; then
            empty="$empty $n"
        fi
    done
    if [ $n -ge $MAX_RUNS ]; then
        echo "FAIL: $name: no clean result after $MAX_RUNS runs"
        fail=1
        return
    fi
    if [ $n -le 10 ]; then # nothing ever failed: a walk that tests nothing
        echo "FAIL: $name: no run differed from the clean one (built without MDP_FAULT_INJECTION?)"
        fail=1
        return
    fi
    if [ -n "$empty" ]; then
        echo "FAIL: $name: an empty error message at allocation$empty"
        fail=1
        return
    fi
    echo "ok: $name: allocations 1..$((n - 10)) failed in turn"
}

no_lake() {
    rm -rf "$TMP/w"
    mkdir -p "$TMP/w/lake"
}

# a lake whose landing folder holds the DynamoDB Firehose fixture and one cut-off record
DDB=dynamodb/firehose-s3/2024/11/05/14/vc-ddb-cdc-2-2024-11-05-14-09-47-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d
"$MDP" init --dir "$TMP/tpl/lake" >/dev/null || exit 1
mkdir -p "$TMP/tpl/lake/landing/dynamodb/firehose/2024/11/05/14"
{
    cat "$FIX/$DDB"
    printf '{"Keys": {"pk": "cut\n'
} >"$TMP/tpl/lake/landing/dynamodb/firehose/2024/11/05/14/delivery"
printf 'ingest:\n  max_quarantine_share: 1.0\n' >"$TMP/cfg.yaml"
ddb_lake() {
    rm -rf "$TMP/w"
    cp -r "$TMP/tpl" "$TMP/w"
}

walk config_check no_lake -- --config "$TMP/cfg.yaml" config check
walk ingest_ddb ddb_lake -- --config "$TMP/cfg.yaml" ingest ddb --dir "$TMP/w/lake"
exit $fail
