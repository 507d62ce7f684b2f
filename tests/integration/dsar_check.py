#!/usr/bin/env python3
"""Independent check of a `mdp dsar export` bundle (docs/privacy.md §5), without DuckDB and
without the platform's code: reads the inventory with PyYAML, raw CSV/JSON/NDJSON objects with
Python, the current Parquet files of published tables with hyparquet (node), the state store with
sqlite3 and Supabase with psql, finds the subject there by the rule of include/mdp/subject.h, and
compares every dataset's count with the bundle's file and manifest. Also checks the manifest's
hashes and sizes, and that the tar holds exactly the folder's files.

Usage: dsar_check.py LAKE INVENTORY BUNDLE_DIR NODE_MODULES USER_ID [PSQL_ARGS...]
Prints one line per mismatch and "dsar_check: N datasets checked, M rows" on success."""
import csv
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
PERSON = {"user_id", "email", "email_lower", "email_sha256", "email_hmac"}


def norm_email(v):
    return v.strip(" \t\r\n\v\f").lower()


def parquet_rows(node_modules, paths):
    if not paths:
        return []
    out = subprocess.run(["node", os.path.join(HERE, "parquet_rows.mjs"), node_modules] + paths,
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line]


def current_files(lake, table):
    cur = os.path.join(lake, "_meta/manifests", table, "CURRENT")
    if not os.path.exists(cur):
        return []
    ver = open(cur).read().strip()
    m = json.load(open(os.path.join(lake, "_meta/manifests", table, ver + ".json")))
    return [f["key"] for f in m["files"]]


class Subject:
    def __init__(self, user_id):
        self.user_id = user_id.lower()
        self.emails, self.accounts, self.external = set(), set(), set()

    @property
    def shas(self):
        return {hashlib.sha256(e.encode()).hexdigest() for e in self.emails}

    def values(self, kind, use_account):
        if kind == "user_id":
            return {self.user_id}
        if kind in ("email", "email_lower"):
            return self.emails
        if kind == "email_sha256":
            return self.shas
        if kind == "external_id":
            return self.external
        if kind == "account_id" and use_account:
            return self.accounts
        return set()

    def matches(self, kind, use_account, v):
        if v is None or isinstance(v, (dict, list, bool)):
            return False
        v = str(v)
        if kind in ("email", "email_lower"):
            v = norm_email(v)
        elif kind in ("email_sha256", "email_hmac"):
            v = v.lower()
        return v in self.values(kind, use_account)


def use_account(ds):
    return not any(k in PERSON for k in ds["subject_keys"].values())


def flat_holds(subj, ds, row):
    ua = use_account(ds)
    return any(subj.matches(kind, ua, row.get(col)) for col, kind in ds["subject_keys"].items())


def json_holds(subj, ds, o, kind=None, depth=0):
    if depth > 12:
        return False
    ua = use_account(ds)
    if isinstance(o, dict):
        return any(json_holds(subj, ds, v, ds["subject_keys"].get(k, kind), depth + 1)
                   for k, v in o.items())
    if isinstance(o, list):
        return any(json_holds(subj, ds, v, kind, depth + 1) for v in o)
    if isinstance(o, bool) or o is None:
        return False
    if kind and subj.matches(kind, ua, o if isinstance(o, str) else json.dumps(o)):
        return True
    if isinstance(o, str) and o.lstrip()[:1] in ("{", "["):
        try:
            inner = json.loads(o)
        except ValueError:
            return False
        return json_holds(subj, ds, inner, kind, depth + 1)
    return False


def records(o):
    if isinstance(o, dict):
        arrays = [v for v in o.values()
                  if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        if len(arrays) == 1:
            return arrays[0]
    return [o]


def raw_objects(lake, ds):
    root = os.path.join(lake, ds["location"])
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            yield os.path.join(dirpath, f)


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def json_values(path):
    text = open(path, encoding="utf-8").read()
    if path.endswith(".ndjson"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    # one JSON value, or several written one after the other (Firehose concatenates records)
    dec, out, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i >= len(text):
            return out
        o, i = dec.raw_decode(text, i)
        out.append(o)


def resolve(lake, inv, node_modules, subj, psql):
    """The subject's addresses and accounts from the rows that name the user_id (raw CSV, curated
    tables, Supabase); external ids from identity_links."""
    for name, ds in inv.items():
        keys = ds["subject_keys"]
        if "user_id" not in keys.values():
            continue
        uid_cols = [c for c, k in keys.items() if k == "user_id"]
        want = [(c, k) for c, k in keys.items() if k in ("email", "email_lower", "account_id")
                or (k == "external_id" and ds["store"] in ("curated", "ml"))]
        if not want:
            continue
        rows = []
        if ds["store"] == "raw":
            for p in raw_objects(lake, ds):
                if p.endswith(".csv"):
                    rows += csv_rows(p)
        elif ds["store"] in ("curated", "ml"):
            files = [os.path.join(lake, k) for k in current_files(lake, ds["location"])
                     if k.endswith(".parquet")]
            rows = [r["row"] for r in parquet_rows(node_modules, files)]
        elif ds["store"] == "supabase" and psql:
            cols = ",".join(f'"{c}"::text' for c, _ in want)
            out = run_psql(psql, f'SELECT json_build_array({cols}) FROM {ds["location"]} t '
                                 f'WHERE {" OR ".join(f"t.{c}::text = $${subj.user_id}$$" for c in uid_cols)}')
            for line in out:
                vals = json.loads(line)
                rows.append({c: v for (c, _), v in zip(want, vals)})
                for c in uid_cols:
                    rows[-1][c] = subj.user_id
        for r in rows:
            if not any(str(r.get(c) or "").lower() == subj.user_id for c in uid_cols):
                continue
            for c, k in want:
                v = r.get(c)
                if not v:
                    continue
                if k in ("email", "email_lower"):
                    subj.emails.add(norm_email(v))
                elif k == "account_id":
                    subj.accounts.add(str(v))
                else:
                    subj.external.add(str(v))


def run_psql(psql, sql):
    out = subprocess.run(psql + ["-At", "-c", sql], check=True, capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if line]


def expected(lake, inv, node_modules, subj, psql):
    want = {}
    for name, ds in inv.items():
        if not ds["subject_keys"]:
            continue
        st = ds["store"]
        n = None
        if st == "raw":
            n = 0
            for p in raw_objects(lake, ds):
                if p.endswith(".csv"):
                    n += sum(1 for r in csv_rows(p) if flat_holds(subj, ds, r))
                elif p.endswith(".json") or p.endswith(".ndjson"):
                    for o in json_values(p):
                        n += sum(1 for r in records(o) if json_holds(subj, ds, r))
        elif st in ("curated", "ml"):
            files = [os.path.join(lake, k) for k in current_files(lake, ds["location"])]
            n = sum(1 for r in parquet_rows(node_modules, [f for f in files if f.endswith(".parquet")])
                    if flat_holds(subj, ds, r["row"]))
        elif st == "serving":
            n = 0
            raw = bytes.fromhex(subj.user_id.replace("-", ""))
            for k in current_files(lake, ds["location"]):
                if k.endswith(".bin"):
                    data = open(os.path.join(lake, k), "rb").read()
                    n += 1 if raw in data else 0
        elif st == "state":
            db = sqlite3.connect(os.path.join(lake, "_meta/state.sqlite"))
            n = sum(1 for (body,) in db.execute("SELECT body FROM items WHERE tbl = ?",
                                                (ds["location"],))
                    if json_holds(subj, ds, json.loads(body)))
            db.close()
        elif st == "supabase" and psql:
            ua = use_account(ds)
            terms = []
            for c, k in ds["subject_keys"].items():
                vals = subj.values(k, ua)
                if not vals:
                    continue
                lit = ",".join(f"$${v}$$" for v in sorted(vals))
                expr = f"lower(btrim(t.{c}::text))" if k in ("email", "email_lower") else f"t.{c}::text"
                terms.append(f"{expr} IN ({lit})")
            n = int(run_psql(psql, f"SELECT count(*) FROM {ds['location']} t WHERE "
                                   f"{' OR '.join(terms) if terms else 'false'}")[0])
        if n is not None:
            want[name] = n
    return want


def main():
    lake, inventory, bundle, node_modules, user_id = sys.argv[1:6]
    psql = sys.argv[6:]
    inv = yaml.safe_load(open(inventory))["datasets"]
    subj = Subject(user_id)
    resolve(lake, inv, node_modules, subj, psql)
    want = expected(lake, inv, node_modules, subj, psql)
    bad = []
    man = json.load(open(os.path.join(bundle, "manifest.json")))
    files = {f["name"]: f for f in man["files"]}
    on_disk = sorted(os.listdir(bundle))
    if sorted(list(files) + ["manifest.json"]) != on_disk:
        bad.append(f"manifest lists {sorted(files)}, folder holds {on_disk}")
    for name, f in files.items():
        data = open(os.path.join(bundle, name), "rb").read()
        if hashlib.sha256(data).hexdigest() != f["sha256"] or len(data) != f["bytes"]:
            bad.append(f"{name}: hash or size differs from the manifest")
        lines = data.count(b"\n")
        if f["rows"] is not None and lines != f["rows"]:
            bad.append(f"{name}: {lines} lines, manifest says {f['rows']}")
    rows = 0
    for name, n in sorted(want.items()):
        f = files.get(name + ".ndjson")
        if f is None:
            bad.append(f"{name}: no file in the bundle (want {n} rows)")
            continue
        rows += n
        if f["rows"] != n:
            bad.append(f"{name}: bundle has {f['rows']} rows, the store holds {n}")
    extra = [n for n in files if n.endswith(".ndjson") and n[:-7] not in want]
    if extra:
        bad.append(f"files for datasets not expected: {extra}")
    if sum(want.values()) == 0:
        bad.append("the subject holds nothing: the check proves nothing")
    if set(man["subject"]["emails"]) != subj.emails:
        bad.append(f"addresses {man['subject']['emails']} != {sorted(subj.emails)}")
    if set(man["subject"]["account_ids"]) != subj.accounts:
        bad.append(f"accounts {man['subject']['account_ids']} != {sorted(subj.accounts)}")
    if set(man["subject"]["external_ids"]) != subj.external:
        bad.append(f"external ids {man['subject']['external_ids']} != {sorted(subj.external)}")
    # the archive: the folder's files, byte for byte, under the folder's name
    base = os.path.basename(bundle.rstrip("/"))
    with tarfile.open(bundle.rstrip("/") + ".tar") as t:
        members = {m.name: m for m in t.getmembers()}
        names = sorted(n for n in members if n != base)
        if names != [f"{base}/{n}" for n in on_disk]:
            bad.append(f"tar holds {names}")
        for n in on_disk:
            m = members.get(f"{base}/{n}")
            if m is None:
                continue
            if t.extractfile(m).read() != open(os.path.join(bundle, n), "rb").read():
                bad.append(f"tar: {n} differs from the folder")
            if m.mtime != 0 or m.uid != 0 or m.gid != 0:
                bad.append(f"tar: {n} has mtime/uid/gid {m.mtime}/{m.uid}/{m.gid}")
    for b in bad:
        print("FAIL:", b)
    if not bad:
        print(f"dsar_check: {len(want)} datasets checked, {rows} rows, "
              f"{sum(1 for n in want.values() if n)} non-empty")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
