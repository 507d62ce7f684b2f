"""Independent survivor scan for the erasure tests (shares no code with mdp): every file under the
lake folder is read as bytes (a gzip'd one inflated, the base64 payloads of quarantine records
decoded) and searched, ASCII case-insensitively, for the user id, the address
and the SHA-256 of the address (the serving snapshot also for the id's 16 bytes); every Parquet
file is decoded by hyparquet (parquet_rows.mjs, not DuckDB) and its rows searched the same way;
with a PostgreSQL connection every table of the app schema is dumped with row_to_json and
searched. Prints one line per survivor and exits 1 when there is any.
Usage: dsar_scan.py LAKE USER_ID EMAIL NODE_MODULES PARQUET_ROWS_MJS [PSQL ARGS...]"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import uuid
import zlib

lake, uid, email, nm, mjs = sys.argv[1:6]
psql = sys.argv[6:]
low = email.strip().lower()
needles = [uid.lower().encode(), low.encode(), hashlib.sha256(low.encode()).hexdigest().encode()]
uid16 = uuid.UUID(uid).bytes
found = []
parquet = []
files = 0


def inflate(b):
    """a gzip'd file (a Firehose delivery) as far as it inflates (and its bytes), else the bytes"""
    if b[:2] != b"\x1f\x8b":
        return b
    z, out = zlib.decompressobj(31), b""
    try:
        out = z.decompress(b)
    except zlib.error:
        pass
    return out + b"\n" + b


def readable(b):
    """the bytes, a gzip'd file inflated, with the decoded base64 payloads of its quarantine
    records (deliveries that were no UTF-8) appended"""
    b = inflate(b)
    if b'"payload_encoding"' not in b:
        return b
    extra = []
    for line in b.splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict) and r.get("payload_encoding") == "base64":
            extra.append(inflate(base64.b64decode(r.get("payload", ""))))
    return b + b"\n" + b"\n".join(extra)
for root, dirs, names in os.walk(lake):
    rel_root = os.path.relpath(root, lake)
    if rel_root == os.path.join("_meta", "erasure", "log"):
        continue  # certificates: checked on their own (no personal data in them)
    for n in names:
        p = os.path.join(root, n)
        files += 1
        if n.endswith(".parquet"):
            parquet.append(p)
            continue
        with open(p, "rb") as f:
            b = f.read()
        b = readable(b)
        lb = b.lower()
        rel = os.path.relpath(p, lake)
        for nd in needles:
            if nd in lb or nd in rel.lower().encode():
                found.append(f"{rel}: bytes ({nd[:8].decode()}...)")
                break
        else:
            if uid16 in b:
                found.append(f"{rel}: the id's 16 bytes")
for i in range(0, len(parquet), 200):
    out = subprocess.run(["node", mjs, nm] + parquet[i:i + 200], check=True,
                         capture_output=True).stdout
    for orig in out.splitlines():
        line = orig.lower()
        if any(nd in line for nd in needles):
            # the file in full (a row names its file first; as given, not lowercased), then the
            # start of the row
            path = orig.split(b'"path":"', 1)[-1].split(b'"', 1)[0].decode(errors="replace")
            found.append(f"parquet row: {os.path.relpath(path, lake)}: "
                         + line[:120].decode(errors="replace"))
if psql:
    tables = subprocess.run(psql + ["-At", "-c", "SELECT tablename FROM pg_tables WHERE "
                                    "schemaname = 'public' ORDER BY 1"],
                            check=True, capture_output=True, text=True).stdout.split()
    for t in tables:
        rows = subprocess.run(psql + ["-At", "-c", f"SELECT row_to_json(x)::text FROM public.{t} x"],
                              check=True, capture_output=True).stdout.lower()
        for line in rows.splitlines():
            if any(nd in line for nd in needles):
                found.append(f"supabase {t}: a row")
for s in found:
    print("SURVIVOR", s)
print(f"scanned {files} files, {len(parquet)} Parquet, {len(psql) and 'supabase' or 'no supabase'}:"
      f" {len(found)} survivor(s)")
sys.exit(1 if found else 0)
