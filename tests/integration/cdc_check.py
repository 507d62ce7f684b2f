#!/usr/bin/env python3
"""Independent checks of what `mdp cdc run` wrote to raw/supabase_cdc (tests/integration/cdc.sh).

  cdc_check.py audit LAKE PSQL_ARGS...   compares the raw lines with the changes of a test_decoding
      slot named 'audit' (the server's own plugin, read here through SQL): the same changes, each
      exactly once, in commit order (commit LSN, then change LSN), with the same operation
  cdc_check.py state LAKE PSQL_ARGS...   replays the raw lines in commit order (insert, update,
      delete, truncate) and compares every published table's rows with the database's, column by
      column in PostgreSQL's text form
Prints what differs and exits 1 on a difference."""
import glob
import json
import os
import subprocess
import sys


def lines(lake):
    out = []
    for f in sorted(glob.glob(os.path.join(lake, "raw/supabase_cdc/*/dt=*/*.ndjson"))):
        with open(f, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.endswith("\n"):
                    sys.exit(f"{f}:{n}: a line without its newline")
                out.append(json.loads(line))
    return out


def lsn(s):
    hi, lo = s.split("/")
    return int(hi, 16) << 32 | int(lo, 16)


def psql(args, sql):
    r = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", *args, "-c", sql],
                       capture_output=True, text=True, check=True)
    return [l.split("\x1f") for l in r.stdout.splitlines()]


def ordered(recs):
    return sorted(recs, key=lambda r: (lsn(r["commit_lsn"]), lsn(r["lsn"]), r["table"]))


def audit(lake, args):
    recs = lines(lake)
    seen = {}
    for r in recs:
        k = (r["commit_lsn"], r["lsn"], r["table"])
        seen[k] = seen.get(k, 0) + 1
    dups = [k for k, c in seen.items() if c > 1]
    tables = {r["table"] for r in recs}
    rows = psql(args, "SELECT lsn::text, data FROM pg_logical_slot_get_changes('audit', NULL, NULL, "
                      "'include-xids', '0', 'skip-empty-xacts', '1')")
    exp = []
    pend = []
    for l, data in rows:
        if data == "BEGIN":
            pend = []
        elif data.startswith("table "):
            head, op = data[6:].split(": ", 2)[:2]
            for t in head.split(", "):
                pend.append((l, t.split(".", 1)[1], op.lower()))
        elif data == "COMMIT":
            exp.extend(pend)
    published = set(os.environ.get("CDC_TABLES", "").split(",")) | tables
    exp = [e for e in exp if e[1] in published]
    got = [(r["lsn"], r["table"], r["op"]) for r in ordered(recs)]
    bad = 0
    if dups:
        print(f"{len(dups)} changes more than once, e.g. {dups[:3]}")
        bad = 1
    if got != exp:
        print(f"raw has {len(got)} changes, the audit slot {len(exp)}")
        for i, (g, e) in enumerate(zip(got, exp)):
            if g != e:
                print(f"first difference at #{i}: raw {g}, audit {e}")
                break
        bad = 1
    print(f"audit: {len(got)} changes, {len(dups)} duplicates")
    return bad


def state(lake, args):
    recs = ordered(lines(lake))
    tables = {}
    for r in recs:
        t = tables.setdefault(r["table"], {})
        if r["op"] == "truncate":
            t.clear()
            continue
        key = json.dumps(r["key"], sort_keys=True)
        if r["op"] == "delete":
            if key not in t:
                print(f"delete of a row raw never had: {r['table']} {key} at {r['lsn']}")
                return 1
            del t[key]
        else:
            row = dict(r["row"])
            if r["op"] == "update":
                old = t.pop(key, None)
                for c in r.get("unchanged_toast", []):
                    row[c] = old[c] if old else None
            newkey = {k: row[k] for k in r["key"]} if r["key"] is not None else row
            t[json.dumps(newkey, sort_keys=True)] = row
    bad = 0
    for name, rows in sorted(tables.items()):
        cols = psql(args, f"SELECT column_name FROM information_schema.columns WHERE table_schema = "
                          f"'public' AND table_name = '{name}' ORDER BY ordinal_position")
        cols = [c[0] for c in cols]
        sel = ", ".join(f"CASE WHEN {c} IS NULL THEN '\\N' ELSE format('%s', {c}) END" for c in cols)
        db = sorted(tuple(r) for r in psql(args, f"SELECT {sel} FROM public.{name}"))
        mine = sorted(tuple("\\N" if row.get(c) is None else row[c] for c in cols) for row in rows.values())
        if db != mine:
            print(f"{name}: the database has {len(db)} rows, the replay of raw {len(mine)}")
            for a, b in zip(db, mine):
                if a != b:
                    print(f"  first difference: db {a}\n                    raw {b}")
                    break
            bad = 1
    print(f"state: {sum(len(v) for v in tables.values())} rows in {len(tables)} tables")
    return bad


if __name__ == "__main__":
    what, lake, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    sys.exit({"audit": audit, "state": state}[what](lake, args))
