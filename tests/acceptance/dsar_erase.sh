#!/usr/bin/env bash
# Acceptance of `mdp dsar erase|verify` (docs/privacy.md §6) on a demo lake, and with DSAR_PG=1
# also against a real PostgreSQL 15 (scripts/pg.sh) holding the same users (the integration test
# integration_dsar_erase runs it so). The subject is the user with the most email events (raw
# Supabase exports, app events, SES, DynamoDB, curated facts and dimensions, identity links, ml
# tables, the serving snapshot and the consent journal all hold them). Checks:
#  - an unknown user and an unknown address exit 1 and change no file; --dry-run changes no file
#    and prints no personal data;
#  - the erasure exits 0; an independent scan (dsar_scan.py: Python over every file's bytes,
#    hyparquet over every Parquet file, psql over every table) finds the id, the address and its
#    SHA-256 nowhere, superseded run folders and leftovers included; nothing stays pending;
#  - three other users' exports (`mdp dsar export`) hold the same records before and after; every
#    raw CSV/NDJSON line that is not the subject's is still there, byte for byte; rewritten
#    Parquet files keep their schema (hyparquet's schema elements: names, types, units);
#  - the certificate holds no personal data, `mdp dsar verify` passes, a tampered one fails; the
#    ledger and the erasure log chain verify;
#  - a kill -9 during the erasure (at named steps in fault-injection builds, by timing in every
#    build) leaves a lake on which the same command finishes with zero survivors.
# Usage: dsar_erase.sh path/to/mdp
MDP=${1:?usage: dsar_erase.sh path/to/mdp}
source "$(dirname "$0")/lib.sh"
INV=$ROOT/config/inventory.yaml
NM=$ROOT/deps/node/node_modules
ROWS=$ROOT/tests/integration/parquet_rows.mjs
SCAN=$ROOT/tests/acceptance/dsar_scan.py
L=$T/lake
psqlargs=()
if [ "${DSAR_PG:-0}" = 1 ]; then
  PG=$(mktemp -d /tmp/mdp-pg-XXXXXX)
  chmod 755 "$PG"
  trap '"$ROOT/scripts/pg.sh" stop "$PG"; rm -rf "$T" "$PG"' EXIT
  port=$("$ROOT/scripts/pg.sh" start "$PG") || { echo "cannot start PostgreSQL" >&2; exit 1; }
  psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
fi
"$MDP" --log-level off demo --dir "$L" --users 40 --days 5 --bad-rate 0 --start 2026-10-01 >/dev/null || bad "demo"
load_pg() { # database: the app schema with the demo's users
  "${psql[@]}" -d postgres -c "CREATE DATABASE $1" && "${psql[@]}" -d "$1" -f "$ROOT/config/supabase-schema.sql" || return 1
  for t in accounts user_profiles communication_prefs onboarding_progress locations visibility_checks oauth_logins; do
    pk=$(head -1 "$(ls "$L"/landing/supabase/$t/dt=*/$t.csv | head -1)" | cut -d, -f1)
    ts=updated_at; [ "$t" = oauth_logins ] && ts=created_at
    {
      echo "CREATE TEMP TABLE s (LIKE public.$t);"
      for f in "$L"/landing/supabase/$t/dt=*/$t.csv; do echo "\\copy s FROM '$f' WITH (FORMAT csv, HEADER)"; done
      echo "INSERT INTO public.$t SELECT DISTINCT ON ($pk) * FROM s ORDER BY $pk, $ts DESC;"
    } | "${psql[@]}" -d "$1" || return 1
  done
}
dsn_for() { echo "postgresql://postgres@127.0.0.1:$port/$1"; }
if [ "${DSAR_PG:-0}" = 1 ]; then
  load_pg app && ok || bad "loading the app schema"
  export MDP_SUPABASE_DSN=$(dsn_for app)
  psqlargs=("${psql[@]}" -d app)
fi
q() { "$MDP" --log-level off query --dir "$L" --format csv "$1" | tail -n +2; }
tree() { (cd "$1" && find . -type f ! -name '*.sqlite-*' -print0 | sort -z | xargs -0 md5sum | md5sum); }
erase() { "$MDP" --log-level off dsar erase --file "$INV" "$@"; }

U=$(q "SELECT CAST(user_id AS VARCHAR) FROM fact_email_events WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
E=$(python3 - "$L" "$U" <<'PY'
import csv, glob, sys
for f in sorted(glob.glob(f"{sys.argv[1]}/raw/supabase/user_profiles/*/*.csv")):
    for r in csv.DictReader(open(f, newline="")):
        if r["user_id"] == sys.argv[2]: print(r["email"]); sys.exit(0)
PY
)
mapfile -t OTHERS < <(q "SELECT CAST(user_id AS VARCHAR) FROM dim_user WHERE CAST(user_id AS VARCHAR) <> '$U' ORDER BY 1 LIMIT 3")
[ -n "$U" ] && [ -n "$E" ] && [ "${#OTHERS[@]}" = 3 ] && ok || bad "no subject ($U, $E) or others"
grep -rqi -- "$E" "$L/_meta/state.sqlite" && ok || bad "the consent journal should hold the subject's address"
cp -a "$L" "$T/L0"

# ---- bad input and the dry run change nothing
t0=$(tree "$L")
expect_rc 1 "an unknown user" -- erase 01a0f655-0000-7000-8000-000000000000 --dir "$L"
expect_in "$T/err" "no such user" "says so"
expect_rc 1 "an unknown address" -- erase --email nobody@example.invalid --dir "$L"
expect_rc 2 "no subject" -- erase --dir "$L"
expect_rc 0 "dry run" -- erase "$U" --dry-run --dir "$L"
python3 -c "import json,sys; p=json.load(open('$T/out')); sys.exit(0 if p.get('parquet') and p.get('raw') else 1)" && ok || bad "the plan lists no files"
grep -qiF -e "$U" -e "$E" "$T/out" && bad "the plan printed personal data" || ok
[ "$(tree "$L")" = "$t0" ] && ok || bad "bad input or the dry run changed the lake"

# ---- three other users, before
export_user() { # user dir -> normalized records per dataset
  rm -rf "$2" "$2.tar"
  "$MDP" --log-level off dsar export "$1" --out "$2" --dir "$L" --file "$INV" >/dev/null || { echo "export $1 failed" >&2; return 1; }
  python3 - "$2" <<'PY'
import json, os, sys
d = sys.argv[1]
for n in sorted(os.listdir(d)):
    if not n.endswith(".ndjson"): continue
    recs = sorted(json.dumps(json.loads(l)["record"], sort_keys=True) for l in open(os.path.join(d, n)) if l.strip())
    print(n, len(recs), json.dumps(recs))
PY
}
for i in 0 1 2; do export_user "${OTHERS[$i]}" "$T/x$i" >"$T/before$i" || bad "export before"; done

# ---- the erasure
expect_rc 0 "erase" -- erase "$U" --dir "$L" --out "$T/cert.json"
[ -z "$(ls -A "$L/_meta/erasure/pending" 2>/dev/null)" ] && ok || bad "something stayed pending"
python3 "$SCAN" "$L" "$U" "$E" "$NM" "$ROWS" "${psqlargs[@]}" >"$T/scan" && ok || bad "survivors: $(head -5 "$T/scan")"
grep -qiF -e "$U" -e "$E" -e "$(printf %s "${E,,}" | sha256sum | cut -c1-64)" "$T/cert.json" && bad "the certificate holds personal data" || ok
python3 - "$T/cert.json" "${DSAR_PG:-0}" <<'PY' && ok || bad "certificate content"
import json, sys
c = json.load(open(sys.argv[1])); s = c["stores"]
assert c["verification"]["survivors"] == 0, c["verification"]
assert len(c["hmac"]) == 64 and len(c["subject_hmac"]) == 64
raw = s["raw"]["rewritten"]; assert raw and all(r["old_sha256"] != r["new_sha256"] for r in raw)
assert all(r["records_removed"] > 0 for r in raw)
assert s["parquet"] and all(p["rows_removed"] > 0 for p in s["parquet"])
assert s["serving_snapshot"]["old_sha256"] != s["serving_snapshot"]["new_sha256"]
assert s["state"]["consent_contact_rows_deleted"] > 0, "the journal's contact rows go"
if sys.argv[2] == "1":
    assert s["supabase"]["status"] == "deleted" and sum(t["deleted"] for t in s["supabase"]["deleted"]) > 0
PY
expect_rc 0 "verify with the subject" -- "$MDP" --log-level off dsar verify "$T/cert.json" "$U" --email "$E" --dir "$L" --file "$INV"
expect_rc 0 "the ledger verifies" -- "$MDP" --log-level off retention verify --dir "$L"
expect_rc 0 "the consent journal still verifies" -- "$MDP" --log-level off consent verify --dir "$L"
python3 - "$T/cert.json" "$T/bad.json" <<'PY'
import sys
t = open(sys.argv[1]).read()
i = t.index('"records_removed":') + len('"records_removed":')
open(sys.argv[2], "w").write(t[:i] + str(int(t[i]) + 1) + t[i + 1:])
PY
expect_rc 1 "a tampered certificate" -- "$MDP" --log-level off dsar verify "$T/bad.json" --dir "$L" --file "$INV"
expect_in "$T/err" "altered" "names the tampering"
expect_rc 1 "the certificate of another subject" -- "$MDP" --log-level off dsar verify "$T/cert.json" "${OTHERS[0]}" --dir "$L" --file "$INV"
expect_rc 1 "erasing again: nobody left" -- erase "$U" --dir "$L"
# the success-metrics report audits the erasure log: one certificate, verified, no survivors
"$MDP" --log-level off --json report --dir "$L" >"$T/report.json" 2>"$T/err" || bad "report --json: $(cat "$T/err")"
python3 - "$T/report.json" <<'PY' && ok || bad "report's audit of the erasure log"
import json, sys
r = json.load(open(sys.argv[1]))
a = r["audit"]
assert (a["erasure"], a["erasure_verified"], a["erasure_clean"]) == (1, 1, 1), a
m = [m for m in r["metrics"] if m["id"] == "audit"][0]
assert m["value"] == 100 and m["met"] is True, m
PY
# a tampered certificate in the log (of a copy of the lake) is counted, not verified
cp -a "$L" "$T/tampered"
python3 - "$T/tampered" <<'PY'
import glob, sys
p = sorted(glob.glob(sys.argv[1] + "/_meta/erasure/log/*.json"))[0]
t = open(p).read()
i = t.index('"records_removed":') + len('"records_removed":')
open(p, "w").write(t[:i] + str(int(t[i]) + 1) + t[i + 1:])
PY
"$MDP" --log-level off --json report --dir "$T/tampered" >"$T/report.json" 2>"$T/err" || bad "report --json (tampered): $(cat "$T/err")"
rm -rf "$T/tampered"
python3 - "$T/report.json" <<'PY' && ok || bad "report's audit of a tampered erasure log"
import json, sys
r = json.load(open(sys.argv[1]))
a = r["audit"]
assert (a["erasure"], a["erasure_verified"], a["erasure_clean"]) == (1, 0, 0), a
m = [m for m in r["metrics"] if m["id"] == "audit"][0]
assert m["value"] == 0 and m["met"] is False, m
PY

# ---- every other user unchanged
for i in 0 1 2; do
  export_user "${OTHERS[$i]}" "$T/y$i" >"$T/after$i" || bad "export after"
  cmp -s "$T/before$i" "$T/after$i" && ok || bad "user ${OTHERS[$i]}'s export changed: $(diff "$T/before$i" "$T/after$i" | head -c 300)"
done
python3 - "$T/L0" "$L" "$U" "$E" "$NM" "$ROWS" <<'PY' && ok || bad "raw lines of other people changed"
# every CSV/NDJSON line of raw that holds none of the subject's keys is still in raw, as often
import collections, glob, hashlib, json, os, subprocess, sys
old, new, u, e = sys.argv[1:5]
keys = {u.lower(), e.lower(), hashlib.sha256(e.lower().encode()).hexdigest()}
# the subject's external ids (identity_links) and own accounts reach further (docs/privacy.md §6)
rows = subprocess.run(["node", sys.argv[6], sys.argv[5]] + glob.glob(f"{old}/curated/dimensions/identity_links/**/*.parquet", recursive=True), capture_output=True, text=True).stdout
ext = {json.loads(l)["row"]["external_id"] for l in rows.splitlines() if json.loads(l)["row"]["user_id"] == u}
keys |= {x.lower() for x in ext if x and len(x) >= 6}
# the subject's accounts that no other user has (the app's accounts and locations go with them)
import csv
owners = collections.defaultdict(set)
for f in glob.glob(f"{old}/raw/supabase/user_profiles/*/*.csv"):
    for r in csv.DictReader(open(f, newline="")):
        if r["account_id"]: owners[r["account_id"]].add(r["user_id"])
accounts = {a for a, us in owners.items() if us == {u}}
def lines(root):
    c = collections.Counter()
    for f in glob.glob(f"{root}/raw/**/*.*", recursive=True):
        if "/_quarantine/" in f or not f.endswith((".csv", ".ndjson")): continue
        for i, l in enumerate(open(f, "rb")):
            if f.endswith(".csv") and i == 0: continue
            c[l] += 1
    return c
a, b = lines(old), lines(new)
has = lambda l, ks: any(k.encode() in l.lower() for k in ks)
missing = [l for l in a if b[l] < a[l] and not has(l, keys) and not has(l, accounts)]
extra = [l for l in b if b[l] > a[l]]
gone = sum(a[l] - b[l] for l in a if b[l] < a[l])
print(f"{gone} raw lines removed, {len(missing)} of others missing, {len(extra)} new", file=sys.stderr)
for l in missing[:3]: print(l[:200], file=sys.stderr)
sys.exit(1 if missing or extra or not gone else 0)
PY
cat >"$T/schema.mjs" <<'JS'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
const require = createRequire(resolve(process.argv[2], '..') + '/')
const { parquetMetadata } = await import(require.resolve('hyparquet'))
for (const path of process.argv.slice(3)) {
  const b = readFileSync(path)
  const m = parquetMetadata(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
  const big = (k, v) => (typeof v === 'bigint' ? v.toString() : v)
  console.log(JSON.stringify(m.schema.map(e => [e.name, e.type, e.converted_type, e.logical_type, e.repetition_type]), big))
}
JS
python3 - "$T/cert.json" "$T/L0" "$L" "$NM" "$T/schema.mjs" <<'PY' && ok || bad "a rewritten Parquet file changed its schema"
import json, subprocess, sys
c = json.load(open(sys.argv[1]))
n = 0
for p in c["stores"]["parquet"]:
    if not p["new"]: continue
    s = [subprocess.run(["node", sys.argv[5], sys.argv[4], f"{root}/{k}"], check=True, capture_output=True, text=True).stdout
         for root, k in ((sys.argv[2], p["old"]), (sys.argv[3], p["new"]))]
    assert s[0] == s[1], (p["old"], s)
    n += 1
assert n > 0
PY

# ---- crashes: every step's kill -9 leaves a lake the same command finishes
crash_check() { # lake what
  if [ "${DSAR_PG:-0}" = 1 ]; then export MDP_SUPABASE_DSN=$(dsn_for "$3"); fi
  if [ "${5:-}" = finished ]; then # the job ended before the kill: nothing left to finish
    expect_rc 1 "rerun after $2 (the job had finished)" -- erase "$U" --dir "$1" --out "$1.cert"
    cp "$(ls "$1"/_meta/erasure/log/*.json | tail -1)" "$1.cert"
  else
    expect_rc 0 "rerun after $2" -- erase "$U" --dir "$1" --out "$1.cert"
  fi
  local pa=(); [ "${DSAR_PG:-0}" = 1 ] && pa=("${psql[@]}" -d "$3")
  python3 "$SCAN" "$1" "$U" "$E" "$NM" "$ROWS" "${pa[@]}" >"$T/scan" && ok || bad "after $2: $(head -3 "$T/scan")"
  "$MDP" --log-level off dsar verify "$1.cert" "$U" --email "$E" --dir "$1" --file "$INV" >/dev/null 2>&1 && ok || bad "verify after $2"
  if [ "${4:-}" = export ]; then
    local save=$L; L=$1
    export_user "${OTHERS[0]}" "$T/z0" >"$T/c0" && cmp -s "$T/before0" "$T/c0" && ok || bad "after $2 user ${OTHERS[0]} changed"
    L=$save
  fi
}
n=0
fi_build=1
for step in plan raw-first parquet-published certificate end; do
  n=$((n + 1)); C=$T/c$n; rm -rf "$C"; cp -a "$T/L0" "$C"
  db=c$n
  if [ "${DSAR_PG:-0}" = 1 ]; then load_pg "$db" >/dev/null || bad "db $db"; export MDP_SUPABASE_DSN=$(dsn_for "$db"); fi
  MDP_ERASE_CRASH_AFTER=$step "$MDP" --log-level off dsar erase "$U" --dir "$C" --file "$INV" >/dev/null 2>&1
  rc=$?
  if [ "$rc" != 137 ] && [ "$step" = plan ]; then fi_build=0; echo "not a fault-injection build: crash points by timing only"; break; fi
  [ "$rc" = 137 ] && ok || bad "crash after $step: exit $rc, want 137 (SIGKILL)"
  # a pending plan damaged by hand: refused by name, no file changed (the state store's SQLite
  # file aside: opening it checkpoints the killed run's write-ahead log)
  if [ "$step" = plan ]; then
    for damage in 'p["subject"]["user_id"] = None' 'p["raw"][0]["key"] = 5' \
      'p["parquet"][0]["table"] = []' 'p["subject"]["emails"] = [None]' 'p["state"] = {}'; do
      D=$T/damaged; rm -rf "$D"; cp -a "$C" "$D"
      python3 - "$D" "$damage" <<'PY'
import glob, json, sys
f, = glob.glob(sys.argv[1] + "/_meta/erasure/pending/*.json")
p = json.load(open(f))
exec(sys.argv[2])
json.dump(p, open(f, "w"))
PY
      (cd "$D" && find . -type f ! -path "./_meta/erasure/pending/*" ! -path "./_meta/state.sqlite*" | sort | xargs sha256sum) >"$T/dmg.before"
      out=$("$MDP" --log-level off dsar erase "$U" --dir "$D" --file "$INV" 2>&1); rc=$?
      (cd "$D" && find . -type f ! -path "./_meta/erasure/pending/*" ! -path "./_meta/state.sqlite*" | sort | xargs sha256sum) >"$T/dmg.after"
      [ "$rc" = 1 ] && [[ "$out" == *"pending plan is damaged"* ]] && cmp -s "$T/dmg.before" "$T/dmg.after" &&
        ok || bad "damaged plan ($damage): exit $rc, $out"
    done
  fi
  # after "end" the job is done: the rerun finds nobody, the certificate is the log's
  crash_check "$C" "a kill after $step" "$db" "$([ "$step" = parquet-published ] && echo export)" \
    "$([ "$step" = end ] && echo finished)"
done
delays="0.5 2"; [ "$fi_build" = 1 ] && delays=""  # named points cover the steps there
for delay in $delays; do
  n=$((n + 1)); C=$T/c$n; rm -rf "$C"; cp -a "$T/L0" "$C"
  db=c$n
  if [ "${DSAR_PG:-0}" = 1 ]; then load_pg "$db" >/dev/null || bad "db $db"; export MDP_SUPABASE_DSN=$(dsn_for "$db"); fi
  "$MDP" --log-level off dsar erase "$U" --dir "$C" --file "$INV" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rc=$? # 137: killed; 0: it finished first (a fast machine)
  # a kill after the plan's removal (the job's last write) but before the exit finds it finished too
  done_=$([ "$rc" = 0 ] || { [ -z "$(ls -A "$C/_meta/erasure/pending" 2>/dev/null)" ] &&
    ls "$C"/_meta/erasure/log/*.json >/dev/null 2>&1; } && echo finished)
  crash_check "$C" "a kill at ${delay}s" "$db" export "$done_"
done

# ---- the only person of a lake: every table that held them stays, empty, with its columns
O=$T/one
expect_rc 0 "a one-user demo" -- "$MDP" --log-level off demo --dir "$O" --users 1 --days 2 --bad-rate 0
qo() { "$MDP" --log-level off query --dir "$O" --format csv "$1" | tail -n +2; }
shape() { # every table: name, rows, columns with types
  for t in $(qo "SELECT table_name FROM information_schema.tables ORDER BY 1"); do
    printf '%s %s %s\n' "$t" "$(qo "SELECT count(*) FROM $t")" \
      "$(qo "SELECT string_agg(column_name || ' ' || column_type, ',' ORDER BY column_name) FROM (DESCRIBE $t)")"
  done
}
shape >"$T/one.before"
U1=$(qo "SELECT CAST(user_id AS VARCHAR) FROM dim_user")
expect_rc 0 "erase the only user" -- erase "$U1" --dir "$O" --out "$T/one.cert"
shape >"$T/one.after"
python3 - "$T/one.before" "$T/one.after" "$T/one.cert" <<'PY' && ok || bad "the one-user lake after erasure: $(cat "$T/one.after")"
import json, sys
read = lambda f: {l.split(" ", 2)[0]: l.rstrip("\n").split(" ", 2)[1:] for l in open(f) if l.strip()}
b, a = read(sys.argv[1]), read(sys.argv[2])
assert set(a) == set(b), ("tables", sorted(set(b) - set(a)), sorted(set(a) - set(b)))
held = [t for t in b if t in ("dim_user", "fact_onboarding_steps", "identity_links", "ml_user_segments")]
assert len(held) == 4 and all(int(b[t][0]) > 0 for t in held), b
for t in b:
    assert a[t][1] == b[t][1], (t, "columns", b[t][1], a[t][1])
for t in held:
    assert a[t][0] == "0", (t, a[t])
assert json.load(open(sys.argv[3]))["verification"]["survivors"] == 0
PY
finish dsar_erase
