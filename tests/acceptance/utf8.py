#!/usr/bin/env python3
"""Acceptance test of a delivery that is not well-formed UTF-8 (an SQS message body cut in transit
inside a two-byte character, as SNS/SQS truncation does): `mdp ingest` lands it with the offending
byte replaced by U+FFFD and keeps the delivered bytes in quarantine (reason invalid_utf8, the
payload byte for byte), the cut record is quarantined as before, the raw object is valid UTF-8, and
`mdp curate` then builds fact_email_events from the other records instead of failing on the whole
object (DuckDB refuses a JSON file with one bad byte). A second ingest lands nothing new.

Usage: utf8.py path/to/mdp
"""
import base64, glob, json, os, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

MDP = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="mdp-utf8-")
lake, landing = os.path.join(tmp, "lake"), os.path.join(tmp, "landing")
r = subprocess.run([MDP, "--log-level", "off", "seed", "--users", "30", "--days", "1", "--out", landing],
                   capture_output=True, text=True)
check(r.returncode == 0, f"mdp seed: {r.stderr[-300:]}")
sqs = sorted(glob.glob(landing + "/ses/sqs/*/*.json"))
check(len(sqs) > 0, "the seed wrote no SQS batch")
records = []
for p in sqs:
    doc = json.load(open(p, encoding="utf-8"))
    records += [x for x in doc["Records"] if json.loads(x["body"]).get("Type") == "Notification"]
    os.remove(p)
check(len(records) >= 4, f"only {len(records)} SES notifications seeded")
records = records[:20]

# the delivery: record 0's body cut after the first byte of a two-byte character
body = records[0]["body"]
cut = len(body) // 2
cut_bytes = json.dumps(body[:cut])[1:-1].encode() + b"G\xc3"
parts = []
for i, rec in enumerate(records):
    enc = json.dumps(dict(rec, body="@@BODY@@"), ensure_ascii=False).encode()
    parts.append(enc.replace(b"@@BODY@@", cut_bytes if i == 0 else json.dumps(rec["body"])[1:-1].encode()))
delivery = b'{"Records": [' + b",\n".join(parts) + b"]}\n"
check(b"\xc3\"" in delivery, "the delivery holds the cut character")
day = os.path.basename(os.path.dirname(sqs[0]))
key = f"ses/sqs/{day}/cut.json"
with open(os.path.join(landing, key), "wb") as f:
    f.write(delivery)


config = os.path.join(tmp, "mdp.yaml")
with open(config, "w") as f:
    f.write(f"lake:\n  dir: {lake}\n  landing_dir: {landing}\ningest:\n  max_quarantine_share: 1\n")


def mdp(*args):
    return subprocess.run([MDP, "--config", config, "--log-level", "off"] + list(args),
                          capture_output=True, text=True)


subprocess.run([MDP, "--log-level", "off", "init", "--dir", lake], check=True, capture_output=True)


def ingest():
    r = mdp("--json", "ingest", "ses")
    check(r.returncode == 0, f"mdp ingest ses: exit {r.returncode}: {r.stderr[-400:]}")
    return {x["job"]: x for x in json.loads(r.stdout or "[]")}


runs = ingest()
ses = runs.get("ingest.ses", {})
check(ses.get("in") == len(records), f"records read {ses.get('in')} != {len(records)}")
check(ses.get("quarantined") == 1, f"quarantined {ses.get('quarantined')} (the cut record only)")
check("invalid UTF-8 replaced" in ses.get("message", ""), f"run message: {ses.get('message')}")

raw = glob.glob(lake + "/raw/ses/sqs/*/*.json")
check(len(raw) == 1, f"{len(raw)} raw objects")
data = open(raw[0], "rb").read()
try:
    data.decode("utf-8")
    check(True, "")
except UnicodeDecodeError as e:
    check(False, f"raw object not UTF-8: {e}")
check(data == delivery.replace(b"G\xc3\"", "G\ufffd\"".encode()), "raw is the delivery with U+FFFD for the one byte")

entries = []
for p in glob.glob(lake + "/raw/_quarantine/**/*", recursive=True):
    if os.path.isfile(p):
        for line in open(p, encoding="utf-8"):
            if line.strip():
                entries.append(json.loads(line))
reasons = sorted(e.get("reason") for e in entries)
check("invalid_utf8" in reasons, f"quarantine reasons {reasons}")
check(len(entries) == 2, f"{len(entries)} quarantine entries: {reasons}")
for e in entries:
    if e.get("reason") == "invalid_utf8":
        check(e.get("payload_encoding") == "base64", f"payload encoding {e.get('payload_encoding')}")
        check(base64.b64decode(e.get("payload", "")) == delivery, "the quarantined payload is the delivery byte for byte")
        check(f"{key}@" in e.get("location", ""), f"location {e.get('location')}")

again = ingest().get("ingest.ses", {})
check("1 taken before" in again.get("message", ""), f"second run: {again.get('message')}")

r = mdp("curate")
check(r.returncode == 0, f"mdp curate: exit {r.returncode}: {r.stderr[-400:]}")
r = mdp("query", "--format", "csv", "SELECT count(*) AS n FROM fact_email_events")
check(r.returncode == 0, f"mdp query: {r.stderr[-300:]}")
rows = r.stdout.split()
check(len(rows) == 2 and rows[1].isdigit() and int(rows[1]) >= len(records) - 1,
      f"fact_email_events after curate: {r.stdout!r} (expected at least {len(records) - 1} rows)")
shutil.rmtree(tmp, ignore_errors=True)
sys.exit(finish("acceptance_utf8"))
