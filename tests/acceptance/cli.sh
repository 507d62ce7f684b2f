#!/usr/bin/env bash
# Acceptance tests of the mdp command line: the issue's acceptance points for ids and hash, exit
# codes and messages for usage errors, bad configuration, unusable lakes and a missing DuckDB
# library, --help everywhere, and no PII in logs. Usage: cli.sh path/to/mdp
MDP=${1:?usage: cli.sh path/to/mdp}
source "$(dirname "$0")/lib.sh"

# --- ids: a million unique, strictly increasing v7 ids
"$MDP" ids new --count 1000000 >"$T/ids" || bad "ids new failed"
[ "$(wc -l <"$T/ids")" = 1000000 ] && ok || bad "ids new: not 1000000 lines"
LC_ALL=C sort -c -u "$T/ids" 2>/dev/null && ok || bad "ids new: not strictly increasing"
[ "$(grep -cvE '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' "$T/ids")" = 0 ] && ok || bad "ids new: not all v7"
expect_rc 0 "ids inspect" -- "$MDP" ids inspect 017F22E2-79B0-7CC3-98C4-DC0C0C07398F
expect_in "$T/out" "timestamp:  1645557742000" "ids inspect timestamp"
expect_in "$T/out" "2022-02-22T19:22:22.000Z" "ids inspect iso"
expect_rc 0 "ids inspect --json" -- "$MDP" --json ids inspect 017F22E2-79B0-7CC3-98C4-DC0C0C07398F
expect_in "$T/out" '"timestamp_ms":1645557742000' "ids inspect json"
expect_rc 1 "ids inspect junk" -- "$MDP" ids inspect not-a-uuid
expect_in "$T/err" "'not-a-uuid' is not a UUID" "ids inspect message"
expect_rc 2 "ids new bad count" -- "$MDP" ids new --count lots
expect_in "$T/err" "Try 'mdp ids new --help'" "usage hint"

# --- hash: the SHA-256 of the normalized address, and the keyed variant
want=$(printf '%s' 'foo@example.com' | sha256sum | cut -d' ' -f1)
expect_rc 0 "hash email" -- "$MDP" hash email "  Foo@Example.COM "
[ "$(cat "$T/out")" = "$want" ] && ok || bad "hash email: $(cat "$T/out") != $want"
expect_rc 1 "keyed without key" -- env -u MDP_PSEUDONYM_KEY "$MDP" hash email a@example.com --keyed
expect_in "$T/err" "MDP_PSEUDONYM_KEY" "keyed names the variable"
key=0123456789abcdef0123
want=$(printf '%s' 'a@example.com' | openssl dgst -sha256 -hmac "$key" | sed 's/.*= //')
expect_rc 0 "keyed" -- env MDP_PSEUDONYM_KEY=$key "$MDP" hash email " A@Example.com" --keyed
[ "$(cat "$T/out")" = "hmac-sha256:k1:$want" ] && ok || bad "keyed: $(cat "$T/out")"
grep -q "$key" "$T/out" "$T/err" && bad "the key was printed" || ok

# --- help, version, usage errors
expect_rc 0 "--help" -- "$MDP" --help
expect_in "$T/out" "Usage: mdp" "help text"
for c in init seed run demo runs ids hash config; do
  expect_rc 0 "$c --help" -- "$MDP" "$c" --help
  expect_in "$T/out" "Usage: mdp $c" "$c help"
done
expect_rc 0 "--version" -- "$MDP" --version
expect_in "$T/out" "DuckDB v1.4.4" "version names DuckDB"
expect_rc 2 "no command" -- "$MDP"
expect_rc 2 "unknown command" -- "$MDP" frobnicate
expect_in "$T/err" "no such command 'frobnicate'" "unknown command message"
expect_rc 2 "unknown option" -- "$MDP" seed --usres 5
expect_in "$T/err" "unexpected argument '--usres'" "unknown option message"
expect_rc 2 "bad date" -- "$MDP" run --date 2026-02-30

# --- configuration: strict, with file and line
printf 'lake:\n  dir: %s/lake\nseed:\n  userz: 3\n' "$T" >"$T/bad.yaml"
expect_rc 1 "bad config" -- "$MDP" --config "$T/bad.yaml" config check
expect_in "$T/err" "$T/bad.yaml:4:3: unknown key 'seed.userz' (did you mean 'seed.users'?)" "config error location"
expect_rc 1 "missing config" -- "$MDP" --config "$T/none.yaml" demo
expect_in "$T/err" "$T/none.yaml: cannot open configuration" "missing config message"
expect_rc 0 "shipped config" -- "$MDP" config check "$ROOT/config/mdp.yaml"
"$MDP" config keys --markdown >"$T/keys.md"
if sed -n '/<!-- keys:begin -->/,/<!-- keys:end -->/p' "$ROOT/docs/configuration.md" | sed '1d;$d' | diff -q - "$T/keys.md" >/dev/null; then ok
else bad "docs/configuration.md is not the output of mdp config keys --markdown"; fi

# --- unusable lakes and a missing DuckDB library: one clear message, exit 1
expect_rc 1 "run on a non-lake" -- "$MDP" run --dir "$T/nolake"
expect_in "$T/err" "$T/nolake" "names the path"
touch "$T/afile"
expect_rc 1 "init under a file" -- "$MDP" init --dir "$T/afile/lake"
expect_in "$T/err" "afile" "names the file"
expect_rc 0 "init" -- "$MDP" init --dir "$T/lake"
expect_rc 1 "missing duckdb" -- env MDP_DUCKDB_LIB=/nonexistent/libduckdb.so "$MDP" run --dir "$T/lake" --stages inventory
expect_in "$T/err" "cannot load the DuckDB library /nonexistent/libduckdb.so" "duckdb message"
[ ! -e "$T/lake/_meta/manifests/_meta/tables/raw_inventory/CURRENT" ] && ok || bad "a failed stage published"
expect_rc 0 "runs" -- "$MDP" runs --dir "$T/lake"
expect_in "$T/out" "failed" "the failure is in the run log"

# --- a full disk (a file size limit makes writes fail the same way): a clear message, exit 1,
#     and no half-written object left behind
( ulimit -f 256; "$MDP" seed --users 300 --days 5 --out "$T/full" ) >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" = 1 ] && ok || bad "seed on a full disk: exit $rc, want 1"
expect_in "$T/err" "cannot write $T/full/" "full disk names the file"
[ -z "$(find "$T/full" -name '.tmp-*')" ] && ok || bad "temporary files left after a failed write"

# --- logs never carry an email address
expect_rc 0 "small demo" -- "$MDP" --log-level debug demo --dir "$T/demo" --users 30 --days 5
if grep -Eq '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}' "$T/err"; then bad "an email in the logs"; else ok; fi
expect_in "$T/out" "inventory" "demo summary lists the stages"

finish cli
