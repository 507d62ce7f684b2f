#!/usr/bin/env python3
"""Acceptance test of ingestion on the official examples: every file of the fixtures folder for ses,
dynamodb, ga4, gbp and meta is ingested by `mdp ingest` with zero quarantined records; then, in a
fresh lake, a corrupted copy (cut to 60%) of each file next to the originals is quarantined with a
reason and does not stop the run, and the originals are still taken in full. A third run on the
same input lands nothing new.

Usage: fixtures.py path/to/mdp path/to/fixtures
"""
import glob, hashlib, json, os, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

MDP, FIX = sys.argv[1], sys.argv[2]


def landing_key(path):
    rel = os.path.relpath(path, FIX)
    parts = rel.split(os.sep)
    name = parts[-1]
    if parts[0] == "ses":
        return "ses/fixtures/dt=2024-11-05/" + "_".join(parts[1:])
    if parts[0] == "dynamodb" and parts[1] == "firehose-s3":
        return "dynamodb/firehose/" + "/".join(parts[2:])
    if parts[0] == "dynamodb":
        return "dynamodb/lambda/dt=2024-11-05/" + name
    if parts[0] == "ga4":
        return "ga4/runreport/dt=2024-11-01/" + name
    if parts[0] == "gbp":
        return "gbp/locations/dt=2024-11-05/" + name
    if parts[0] == "meta":
        return "meta/fixtures/dt=2024-11-05/" + name
    return None


SOURCES = {"ses": "ses", "dynamodb": "ddb", "ga4": "ga4", "gbp": "gbp", "meta": "meta"}
files = [p for p in glob.glob(FIX + "/**/*", recursive=True)
         if os.path.isfile(p) and landing_key(p) and not p.endswith(".md")]
check(len(files) >= 20, f"only {len(files)} fixture files")


def place(landing, path, data=None, suffix=""):
    key = landing_key(path) + suffix
    dst = os.path.join(landing, key)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "wb") as f:
        f.write(data if data is not None else open(path, "rb").read())
    return key


def ingest(lake, config):
    runs = {}
    for src in SOURCES.values():
        r = subprocess.run([MDP, "--config", config, "--log-level", "off", "--json", "ingest", src, "--dir", lake],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"mdp ingest {src}: exit {r.returncode}: {r.stderr[-300:]}")
        for run in json.loads(r.stdout or "[]"):
            runs[run["job"]] = run
    return runs


tmp = tempfile.mkdtemp(prefix="mdp-fixtures-")
try:
    for case in ("clean", "corrupted"):
        lake = os.path.join(tmp, case)
        landing = os.path.join(lake, "landing")
        config = os.path.join(tmp, case + ".yaml")
        with open(config, "w") as f:
            # the corrupted run has as many bad files as good ones: allow that share
            f.write(f"lake:\n  dir: {lake}\n  landing_dir: {landing}\ningest:\n  max_quarantine_share: 1\n")
        subprocess.run([MDP, "--log-level", "off", "init", "--dir", lake], check=True, capture_output=True)
        corrupted = []
        for p in files:
            place(landing, p)
            if case == "corrupted":
                data = open(p, "rb").read()
                cut = data[: int(len(data) * 0.6)]
                place(landing, p, cut, ".cut")
                corrupted.append((p, hashlib.sha256(cut).hexdigest()[:32]))
        runs = ingest(lake, config)
        for top, src in SOURCES.items():
            run = runs.get("ingest." + src)
            check(run is not None, f"{case}: no run for {src}")
            if not run:
                continue
            if case == "clean":
                check(run["quarantined"] == 0, f"clean: {src} quarantined {run['quarantined']}")
                check(run["out"] > 0, f"clean: {src} took nothing")
                check(run["status"] == "ok", f"clean: {src} status {run['status']}")
                clean_out = globals().setdefault("clean_out", {})
                clean_out[src] = run["out"]
            else:
                check(run["status"] == "ok", f"corrupted: {src} stopped ({run['status']})")
                check(run["out"] >= clean_out.get(src, 0),
                      f"corrupted: {src} took {run['out']} records, the originals alone give {clean_out.get(src)}")
        if case == "corrupted":
            # each cut copy has its quarantine batch, named after its bytes, with reasons
            qfiles = {os.path.basename(q)[:32]: q for q in glob.glob(lake + "/raw/_quarantine/**/*.ndjson", recursive=True)}
            for p, h in corrupted:
                q = qfiles.get(h)
                check(q is not None, f"corrupted copy of {os.path.relpath(p, FIX)} was not quarantined")
                if q:
                    recs = [json.loads(l) for l in open(q)]
                    check(recs and all(r.get("reason") and r.get("location") for r in recs),
                          f"{q}: records without reason or location")
        # every delivery is in raw, byte for byte
        raw = {}
        for r in glob.glob(lake + "/raw/*/*/dt=*/*"):
            if "_quarantine" not in r:
                raw[os.path.basename(r).split(".")[0]] = r
        for p in files:
            h = hashlib.sha256(open(p, "rb").read()).hexdigest()[:32]
            check(h in raw and open(raw[h], "rb").read() == open(p, "rb").read(), f"{case}: {p} not in raw as delivered")
        # a second run on the same input lands nothing new
        runs = ingest(lake, config)
        for src in SOURCES.values():
            run = runs.get("ingest." + src, {})
            check(run.get("in") == 0 and run.get("out") == 0, f"{case}: second run of {src} took {run.get('in')} records")
finally:
    shutil.rmtree(tmp)
sys.exit(finish("fixtures"))
