# Shared harness of the shell acceptance tests: a temporary folder removed on exit, pass/fail
# counters, assertions, and the closing "N passed, N failed" line. Source it after setting MDP.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect_rc() { # want_rc description -- command...
  local want=$1 what=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  if [ "$rc" = "$want" ]; then ok; else bad "$what: exit $rc, want $want; stderr: $(head -c 300 "$T/err")"; fi
}
expect_in() { # file needle description
  if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in $(head -c 300 "$1")"; fi
}
finish() { # name
  echo "$1: $pass passed, $fail failed"
  [ "$fail" = 0 ]
}
