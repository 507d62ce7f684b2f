#!/usr/bin/env bash
# Acceptance of `mdp lake vacuum` (issue 11, defect 9): a demo lake whose app events of two closed
# days arrive as many small objects (as `mdp serve` writes them, one per commit round, named by
# their SHA-256), plus decision logs, orphaned temporary files and run folders no manifest names.
# Checks that --dry-run changes nothing; that vacuum removes the orphans (old ones only), compacts
# each day into one object holding every line, keeps what CURRENT names; that the curated tables
# are the same before, after, after an incremental `mdp curate` and after `mdp curate --full`; that
# re-ingesting the landing folder lands nothing again; and that a vacuum killed at random points,
# or stopped after the daily object was written and before the small ones were removed, is
# finished by a re-run with every line counted once.
# Usage: vacuum.sh /path/to/mdp
MDP=${1:?usage: vacuum.sh /path/to/mdp}
source "$(dirname "$0")/lib.sh"
L=$T/lake

py() { python3 - "$@"; }

# one checksum line per curated table: rows and md5 of the sorted rows (one query: one DuckDB)
tables() {
  local q="" t
  for t in fact_email_events fact_login_oauth fact_onboarding_steps fact_visibility_check \
    dim_user dim_account dim_location dim_time identity_links; do
    q="$q${q:+ UNION ALL }SELECT '$t' t, count(*) n, md5(coalesce(string_agg(CAST(x AS VARCHAR), '|' ORDER BY CAST(x AS VARCHAR)), '')) h FROM $t x"
  done
  "$MDP" query --dir "$L" --format csv "$q ORDER BY t" 2>>"$T/query.err" | tail -n +2 >"$1"
}

# every object file of the lake (not the landing folder) with its md5, for "nothing changed"
snapshot() { (cd "$L" && find . -path ./landing -prune -o -type f -print0 | sort -z | xargs -0 md5sum) >"$1"; }

# splits the raw app events of day $1 into small objects of $2 lines each, named like raw objects
# (the last one without its final newline; one line repeated in two objects: a retried round);
# they came through the collector then, not the landing folder
split_day() {
  rm -rf "$L/landing/events/dt=$1"
  py "$L/raw/events/app_events/dt=$1" "$2" <<'EOF'
import hashlib, os, sys
d, k = sys.argv[1], int(sys.argv[2])
names = os.listdir(d)
lines = []
for n in names:
    with open(os.path.join(d, n), 'rb') as f:
        lines += f.read().splitlines(keepends=True)
    os.remove(os.path.join(d, n))
chunks = [lines[i:i + k] for i in range(0, len(lines), k)]
chunks[1] = chunks[1] + [chunks[0][0]]
chunks[-1][-1] = chunks[-1][-1].rstrip(b'\n')
for c in chunks:
    b = b''.join(c)
    with open(os.path.join(d, hashlib.sha256(b).hexdigest()[:32] + '.ndjson'), 'wb') as f:
        f.write(b)
print(len(chunks))
EOF
}

# the sorted lines of a folder's objects (each object's last line counted with its newline)
lines_of() {
  py "$1" <<'EOF'
import os, sys
out = []
for n in sorted(os.listdir(sys.argv[1])):
    with open(os.path.join(sys.argv[1], n), 'rb') as f:
        out += [l if l.endswith(b'\n') else l + b'\n' for l in f.read().splitlines(keepends=True)]
sys.stdout.buffer.write(b''.join(sorted(out)))
EOF
}

# adds to day $1 (keeping the landed object) three small objects re-sending some of its events, as
# a client retrying through the collector does
resend_day() {
  py "$L/raw/events/app_events/dt=$1" <<'EOF'
import hashlib, os, sys
d = sys.argv[1]
lines = open(os.path.join(d, os.listdir(d)[0]), 'rb').read().splitlines(keepends=True)
for i in range(3):
    b = b''.join(lines[2 * i:2 * i + 2])
    open(os.path.join(d, hashlib.sha256(b).hexdigest()[:32] + '.ndjson'), 'wb').write(b)
EOF
}

count() { find "$1" -maxdepth 1 -type f | wc -l; }

expect_rc 0 "demo" -- "$MDP" demo --dir "$L" --users 60 --days 6
n3=$(split_day 2026-10-03 7)
n4=$(split_day 2026-10-04 11)
resend_day 2026-10-01
landed1=$(ls "$L/raw/events/app_events/dt=2026-10-01")
[ "$n3" -gt 5 ] && [ "$n4" -gt 5 ] && ok || bad "split: $n3 and $n4 objects"
# decision logs, one small object per flush
D=$L/raw/serve/decisions/dt=2026-10-02
py "$D" <<'EOF'
import hashlib, os, sys
os.makedirs(sys.argv[1], exist_ok=True)
for i in range(12):
    b = b'{"decision_id":"d%d","variant":"v%d"}\n{"decision_id":"d%db"}\n' % (i, i % 3, i)
    open(os.path.join(sys.argv[1], hashlib.sha256(b).hexdigest()[:32] + '.ndjson'), 'wb').write(b)
EOF
[ "$(count "$D")" = 12 ] && ok || bad "decision objects: $(count "$D")"
lines_of "$L/raw/events/app_events/dt=2026-10-01" >"$T/l1.before"
lines_of "$L/raw/events/app_events/dt=2026-10-03" >"$T/l3.before"
lines_of "$L/raw/events/app_events/dt=2026-10-04" >"$T/l4.before"
lines_of "$D" >"$T/ld.before"

expect_rc 0 "curate --full over the small objects" -- "$MDP" curate --dir "$L" --full
tables "$T/t0"
[ "$(wc -l <"$T/t0")" = 9 ] && ok || bad "table checksums: $(cat "$T/t0" "$T/query.err")"
expect_in "$T/t0" "fact_onboarding_steps" "checksums name the tables"

# orphans: old and young leftovers in _tmp/, old .tmp-* files inside data folders, and run folders
# no manifest names (an old one, and a young one a job may still be writing)
mkdir -p "$L/_tmp"
echo partial >"$L/_tmp/.tmp-999-1-old.parquet"
touch -d '3 hours ago' "$L/_tmp/.tmp-999-1-old.parquet"
echo partial >"$L/_tmp/.tmp-999-2-young.parquet"
fact=$(ls -d "$L"/curated/facts/fact_onboarding_steps/run-* | head -1)
echo partial >"$fact/.tmp-123-4-part_9.parquet"
touch -d '3 days ago' "$fact/.tmp-123-4-part_9.parquet"
echo '{"partial' >"$L/raw/events/app_events/dt=2026-10-05/.tmp-77-1-abc.ndjson"
touch -d '3 days ago' "$L/raw/events/app_events/dt=2026-10-05/.tmp-77-1-abc.ndjson"
old_id=$(py <<'EOF'
import time
ms = int(time.time() * 1000) - 3 * 86400 * 1000
h = '%012x' % ms
print(h[:8] + '-' + h[8:12] + '-7abc-8def-0123456789ab')
EOF
)
young_id=$("$MDP" ids new 2>/dev/null | head -1)
[ -n "$young_id" ] || young_id=$(py <<'EOF'
import time
h = '%012x' % int(time.time() * 1000)
print(h[:8] + '-' + h[8:12] + '-7abc-8def-0123456789ab')
EOF
)
OLD=$L/curated/facts/fact_login_oauth/run-$old_id
YOUNG=$L/ml/segments/run-$young_id-20261003
mkdir -p "$OLD/date_key=20261001" "$YOUNG/segment_date=2026-10-03"
echo x >"$OLD/date_key=20261001/part_0.parquet"
touch -d '3 days ago' "$OLD/date_key=20261001/part_0.parquet"
echo y >"$YOUNG/segment_date=2026-10-03/part_0.parquet"

# --dry-run: lists, changes nothing (no run-log record either)
snapshot "$T/s.before"
expect_rc 0 "dry run" -- "$MDP" lake vacuum --dir "$L" --dry-run --grace 2
cp "$T/out" "$T/dry.out"
snapshot "$T/s.after"
cmp -s "$T/s.before" "$T/s.after" && ok || bad "dry run changed the lake: $(diff "$T/s.before" "$T/s.after" | head -5)"
expect_in "$T/dry.out" "would remove      _tmp/.tmp-999-1-old.parquet" "dry run lists the old _tmp orphan"
expect_in "$T/dry.out" ".tmp-123-4-part_9.parquet" "dry run lists the orphan inside a run folder"
expect_in "$T/dry.out" "would remove      curated/facts/fact_login_oauth/run-$old_id/" "dry run lists the unnamed old run folder"
expect_in "$T/dry.out" "would compact     raw/events/app_events/dt=2026-10-03/: $n3 objects" "dry run lists the compaction"
expect_in "$T/dry.out" "dry run, nothing changed" "dry run says so"
if grep -q "young" "$T/dry.out"; then bad "dry run would remove the young orphan"; else ok; fi

# the real thing, with a grace period of 2 hours
expect_rc 0 "vacuum" -- "$MDP" --json lake vacuum --dir "$L" --grace 2
cp "$T/out" "$T/vac.json"
py "$T/vac.json" <<'EOF' >"$T/vac.check" 2>&1 && ok || bad "vacuum JSON: $(cat "$T/vac.check")"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["dry_run"] is False
assert v["tmp_files"] == 3, v
assert v["run_folders"] == 1, v
assert v["compacted_days"] == 4, v
kinds = {a["what"] for a in v["actions"]}
assert kinds == {"tmp", "run_folder", "compact"}, kinds
EOF
[ ! -e "$L/_tmp/.tmp-999-1-old.parquet" ] && ok || bad "old _tmp orphan still there"
[ -e "$L/_tmp/.tmp-999-2-young.parquet" ] && ok || bad "young _tmp orphan removed"
[ ! -e "$fact/.tmp-123-4-part_9.parquet" ] && ok || bad ".tmp- orphan in a run folder still there"
[ ! -e "$L/raw/events/app_events/dt=2026-10-05/.tmp-77-1-abc.ndjson" ] && ok || bad ".tmp- orphan in raw still there"
[ ! -e "$OLD" ] && ok || bad "old unnamed run folder still there"
[ -e "$YOUNG/segment_date=2026-10-03/part_0.parquet" ] && ok || bad "young run folder removed"
for d in 1 3 4; do
  F=$L/raw/events/app_events/dt=2026-10-0$d
  [ "$(count "$F")" = 1 ] && ok || bad "day $d holds $(count "$F") objects"
  lines_of "$F" >"$T/l$d.after"
  cmp -s "$T/l$d.before" "$T/l$d.after" && ok || bad "day $d: the lines changed"
  f=$(ls "$F")
  [ "${f%.ndjson}" = "$(sha256sum "$F/$f" | cut -c1-32)" ] && ok || bad "day $d: $f not named by its SHA-256"
done
[ "$(count "$D")" = 1 ] && ok || bad "decisions hold $(count "$D") objects"
lines_of "$D" >"$T/ld.after"
cmp -s "$T/ld.before" "$T/ld.after" && ok || bad "decision lines changed"
# every file a CURRENT manifest names is there
py "$L" <<'EOF' >"$T/cur.check" 2>&1 && ok || bad "CURRENT names a missing file: $(cat "$T/cur.check")"
import json, os, sys
root = sys.argv[1]
n = 0
for dp, dn, fn in os.walk(os.path.join(root, '_meta/manifests')):
    if 'CURRENT' in fn:
        v = open(os.path.join(dp, 'CURRENT')).read().strip()
        for f in json.load(open(os.path.join(dp, v + '.json')))['files']:
            assert os.path.isfile(os.path.join(root, f['key'])), f['key']
            n += 1
assert n > 10, n
EOF
expect_rc 0 "runs" -- "$MDP" runs --dir "$L" --last 1
expect_in "$T/out" "vacuum" "a run-log record"

tables "$T/t1"
cmp -s "$T/t0" "$T/t1" && ok || bad "published tables changed by vacuum: $(diff "$T/t0" "$T/t1")"
expect_rc 0 "curate after vacuum" -- "$MDP" curate --dir "$L"
tables "$T/t2"
cmp -s "$T/t0" "$T/t2" && ok || bad "incremental curate after vacuum differs: $(diff "$T/t0" "$T/t2")"
expect_rc 0 "curate --full after vacuum" -- "$MDP" curate --dir "$L" --full
tables "$T/t3"
cmp -s "$T/t0" "$T/t3" && ok || bad "full curate after vacuum differs: $(diff "$T/t0" "$T/t3")"
# the landing folder's events were compacted away: ingesting them again lands nothing twice
expect_rc 0 "ingest again" -- "$MDP" run --dir "$L" --stages ingest
for f in $landed1; do
  [ ! -e "$L/raw/events/app_events/dt=2026-10-01/$f" ] && ok || bad "re-ingest landed the compacted delivery $f again"
done
[ "$(count "$L/raw/events/app_events/dt=2026-10-01")" = 1 ] && ok || bad "day 1 holds $(count "$L/raw/events/app_events/dt=2026-10-01") objects after re-ingest"

# grace 0: the superseded manifest versions and the run folders only they named go, and the
# tables stay the same
expect_rc 0 "vacuum --grace 0" -- "$MDP" --json lake vacuum --dir "$L" --grace 0
py "$T/out" <<'EOF' >"$T/g0.check" 2>&1 && ok || bad "grace 0: $(cat "$T/g0.check")"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["manifests"] > 0 and v["run_folders"] > 0, v
EOF
[ ! -e "$YOUNG" ] && ok || bad "grace 0 kept the unnamed run folder"
tables "$T/t4"
cmp -s "$T/t0" "$T/t4" && ok || bad "tables changed by vacuum --grace 0: $(diff "$T/t0" "$T/t4")"
expect_rc 0 "vacuum again: nothing left to do" -- "$MDP" --json lake vacuum --dir "$L" --grace 0
expect_in "$T/out" '"actions":[]' "a second vacuum finds nothing"

# crash safety 1: a vacuum killed at random points, then a run to the end
n5=$(split_day 2026-10-05 3)
expect_rc 0 "curate over day 5's small objects" -- "$MDP" curate --dir "$L"
tables "$T/t5"
cmp -s "$T/t0" "$T/t5" && ok || bad "splitting day 5 changed the tables: $(diff "$T/t0" "$T/t5")"
lines_of "$L/raw/events/app_events/dt=2026-10-05" >"$T/l5.before"
for i in 1 2 3 4 5 6 7 8; do
  "$MDP" lake vacuum --dir "$L" >/dev/null 2>&1 &
  pid=$!
  sleep "0.0$((RANDOM % 9 + 1))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
expect_rc 0 "vacuum after the kills" -- "$MDP" lake vacuum --dir "$L"
F=$L/raw/events/app_events/dt=2026-10-05
[ "$(count "$F")" = 1 ] && ok || bad "day 5 holds $(count "$F") objects after the kills"
lines_of "$F" >"$T/l5.after"
cmp -s "$T/l5.before" "$T/l5.after" && ok || bad "day 5 lines changed across the kills"

# crash safety 2: stopped after the daily object and its record were written, before the small
# objects were removed (the state a crash there leaves); curate in that window, then the re-run
split_day 2026-10-02 4 >/dev/null
expect_rc 0 "curate over day 2's small objects" -- "$MDP" curate --dir "$L"
F=$L/raw/events/app_events/dt=2026-10-02
lines_of "$F" >"$T/l2.before"
py "$L" "$F" <<'EOF'
import hashlib, os, sys
root, d = sys.argv[1], sys.argv[2]
parts = sorted(os.listdir(d))
data = b''
for n in parts:
    b = open(os.path.join(d, n), 'rb').read()
    data += b if b.endswith(b'\n') else b + b'\n'
name = hashlib.sha256(data).hexdigest()[:32] + '.ndjson'
rel = os.path.relpath(d, root)
rec = os.path.join(root, '_meta/state/vacuum/compacted', os.path.relpath(d, os.path.join(root, 'raw')))
os.makedirs(rec, exist_ok=True)
with open(os.path.join(rec, name + '.txt'), 'w') as f:
    f.write('pending\nobject %s/%s\n' % (rel, name) + ''.join('part %s/%s\n' % (rel, p) for p in parts))
open(os.path.join(d, name), 'wb').write(data)
EOF
expect_rc 0 "curate in the crash window" -- "$MDP" curate --dir "$L"
tables "$T/t6"
cmp -s "$T/t0" "$T/t6" && ok || bad "curate in the crash window differs: $(diff "$T/t0" "$T/t6")"
expect_rc 0 "vacuum finishes the interrupted compaction" -- "$MDP" lake vacuum --dir "$L"
expect_in "$T/out" "finish      _meta/state/vacuum/compacted/events/app_events/dt=2026-10-02/" "the re-run says it finished"
[ "$(count "$F")" = 1 ] && ok || bad "day 2 holds $(count "$F") objects after the re-run"
lines_of "$F" >"$T/l2.after"
cmp -s "$T/l2.before" "$T/l2.after" && ok || bad "day 2 lines: $(diff "$T/l2.before" "$T/l2.after" | wc -l) differ"
expect_rc 0 "curate after the re-run" -- "$MDP" curate --dir "$L"
# the small objects curate took in are gone: their day is rebuilt (the window counted the records
# twice before the event_id dedup; a record without one would have stayed doubled in quarantine)
expect_in "$T/out" "curate.fact_onboarding_steps" "curate rebuilt the day whose small objects went"
tables "$T/t7"
cmp -s "$T/t0" "$T/t7" && ok || bad "curate after the re-run differs: $(diff "$T/t0" "$T/t7")"
expect_rc 0 "curate --full at the end" -- "$MDP" curate --dir "$L" --full
tables "$T/t8"
cmp -s "$T/t0" "$T/t8" && ok || bad "full curate at the end differs: $(diff "$T/t0" "$T/t8")"
# vacuum as an optional stage of mdp run
expect_rc 0 "vacuum as a stage" -- "$MDP" run --dir "$L" --stages vacuum
expect_in "$T/out" "vacuum" "the stage is reported"

finish vacuum
