#!/usr/bin/env python3
"""Integration test of `mdp serve` in AWS mode (issue 14): the lake on S3 and the state in DynamoDB,
against moto with SigV4 verified (scripts/moto.sh), boto3 as the independent reader. serve is
started, gets app events (POST /v1/events), SES feedback through its SNS endpoint (curated into
fact_email_events on S3 by the server's micro-batch), personalize requests and feedback, and is stopped
(SIGTERM: it flushes what it holds); then the collected events are objects under
raw/events/app_events/, the decision log under raw/serve/decisions/ (each decision id once), and
the bandit's counters and feedback marks items of the state table. The serving snapshot serve
reads is built by a small file-mode run and its table (manifest and file) copied to the bucket with
boto3, so serve must fetch it from S3 into its cache (a fresh cache folder).
Usage: aws_serve.py path/to/mdp"""
import json, os, re, shutil, subprocess, sys, tempfile, time, uuid, urllib.request, urllib.error

MDP = sys.argv[1]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TMP = tempfile.mkdtemp(prefix="mdp-aws-serve-")
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, file=sys.stderr)


def uuid7():
    ms = int(time.time() * 1000)
    r = uuid.uuid4().int
    v = (ms << 80) | (0x7 << 76) | ((r >> 64) & 0xFFF) << 64 | (0b10 << 62) | (r & ((1 << 62) - 1))
    return str(uuid.UUID(int=v))


subprocess.run(["bash", f"{ROOT}/scripts/moto.sh", "start", f"{TMP}/moto"], check=True,
               stdout=subprocess.DEVNULL)
srv = None
try:
    ENV = dict(os.environ)
    for line in open(f"{TMP}/moto/env"):
        k, v = line.replace("export ", "", 1).strip().split("=", 1)
        ENV[k] = v
    import boto3
    admin = dict(region_name=ENV["AWS_REGION"], endpoint_url=ENV["AWS_ENDPOINT_URL"],
                 aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"],
                 aws_secret_access_key=ENV["AWS_SECRET_ACCESS_KEY"])
    ddb, s3 = (boto3.client(s, **admin) for s in ("dynamodb", "s3"))
    BUCKET, TABLE, KEY = "matbakh-data-serve", "matbakh-state-serve", ENV["MDP_TEST_KMS_KEY"]
    CFG = f"{TMP}/mdp.yaml"

    def newkey(scopes):
        out = subprocess.run([MDP, "--json", "serve", "key", "new", "--name", "k", "--scopes", scopes],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)

    CKEY, PKEY = newkey("collect"), newkey("personalize")
    with open(CFG, "w") as f:
        f.write(f"""lake:
  dir: s3://{BUCKET}/lake
state:
  backend: dynamodb
  dynamodb_table: {TABLE}
aws:
  kms_key_id: {KEY}
  s3_addressing: path
  cache_dir: {TMP}/cache
serve:
  listen: 127.0.0.1:0
  keys: ["{CKEY['config_item']}", "{PKEY['config_item']}"]
  decision_log_flush_seconds: 1
  ses_publish_seconds: 1
sources:
  ses:
    verify_signatures: "off"
personalize:
  surfaces: [onboarding_tip:default_tip:neutral, onboarding_tip:tip_facts:facts]
""")

    def mdp(*args, ok=True):
        p = subprocess.run([MDP, "--log-level", "warn", "--config", CFG, *args], capture_output=True,
                           text=True, env=ENV)
        if ok and p.returncode:
            check(False, f"mdp {' '.join(args)}: exit {p.returncode}: {p.stderr[-800:]}")
        return p

    mdp("aws", "bootstrap", "--bucket", BUCKET)
    mdp("init")
    # the serving snapshot: built in file mode, its table copied to the bucket
    FL = f"{TMP}/filelake"
    with open(f"{TMP}/file.yaml", "w") as f:
        f.write(f"lake:\n  dir: {FL}\n  landing_dir: {TMP}/landing\nseed:\n  users: 40\n")
    for args in (["seed"], ["init"], ["run"]):
        p = subprocess.run([MDP, "--log-level", "warn", "--config", f"{TMP}/file.yaml", *args],
                           capture_output=True, text=True)
        check(p.returncode == 0, f"file-mode {args}: {p.stderr[-600:]}")
    for top in ("serving/user_context", "_meta/manifests/serving/user_context"):
        for d, _, fs in os.walk(os.path.join(FL, top)):
            for name in fs:
                rel = os.path.relpath(os.path.join(d, name), FL)
                s3.upload_file(os.path.join(d, name), BUCKET, f"lake/{rel}")
    uid = None
    users = json.loads(subprocess.run([MDP, "--log-level", "warn", "--config", f"{TMP}/file.yaml", "query",
                                       "SELECT user_id FROM segments", "--format", "json", "--dir", FL],
                                      capture_output=True, text=True).stdout or "[]")
    for u in (r["user_id"] for r in users):  # a user the rules leave to the bandit
        p = subprocess.run([MDP, "snapshot", "get", u, "--dir", FL, "--json"], capture_output=True, text=True)
        r = json.loads(p.stdout) if p.returncode == 0 else {}
        if r.get("personalization_consent") and r.get("engagement_level") != "low" \
                and r.get("preferred_comm_tone") != "facts":
            uid = u
            break
    check(uid is not None, "a demo user the bandit decides for")
    srv = subprocess.Popen([MDP, "--log-level", "warn", "--config", CFG, "serve"], stdout=subprocess.PIPE,
                           stderr=open(f"{TMP}/serve.err", "w"), text=True, env=ENV)
    line = srv.stdout.readline()
    m = re.search(r"http://[0-9.:]+", line)
    check(m is not None, f"serve did not start: {line} {open(f'{TMP}/serve.err').read()[-800:]}")
    base = m.group(0) if m else ""

    def req(method, path, body=None, key=PKEY["key"], ctype="application/json"):
        h = {"Authorization": f"Bearer {key}", "Content-Type": ctype}
        r = urllib.request.Request(base + path, data=body.encode() if body else None, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=20) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    events = [{"event_id": uuid7(), "user_id": uid, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "event_type": "page_view", "properties": {}} for _ in range(5)]
    st, js = req("POST", "/v1/events", json.dumps(events), key=CKEY["key"])
    check(st == 202, f"events accepted once durable on S3: {st} {js}")
    decisions, counted = [], 0
    for i in range(6):
        st, dec = req("GET", f"/v1/personalize?user_id={uid}&surface=onboarding_tip")
        check(st == 200 and "decision_id" in dec, f"personalize: {st} {dec}")
        decisions.append((dec.get("decision_id") or "").split(".")[0])
        st, fb = req("POST", "/v1/feedback", json.dumps({"decision_id": dec.get("decision_id"),
                                                         "signal": "email_click" if i % 2 else "email_bounce"}))
        check(st == 200, f"feedback: {st} {fb}")
        counted += fb.get("counted") is True
    # SES feedback through the SNS endpoint (signatures off: a collect key): committed to S3 before
    # the answer, then curated into fact_email_events on S3 by the server's micro-batch
    import glob
    fixtures = sorted(glob.glob(os.path.join(ROOT, "tests/data/fixtures/ses/*/*.sns.json")))
    for f in fixtures:
        st, js = req("POST", "/v1/ses/sns", open(f).read(), key=CKEY["key"], ctype="text/plain")
        check(st == 200 and js == {"accepted": 1}, f"SNS {os.path.basename(f)}: {st} {js}")
    kinds, t0 = [], time.time()
    while time.time() - t0 < 90:
        p = mdp("query", "SELECT DISTINCT event_type FROM fact_email_events ORDER BY 1", "--format",
                "json", ok=False)
        kinds = [r["event_type"] for r in json.loads(p.stdout or "[]")] if p.returncode == 0 else []
        if {"bounce", "complaint", "delivered", "open", "click"} <= set(kinds):
            break
        time.sleep(1)
    check({"bounce", "complaint", "delivered", "open", "click"} <= set(kinds),
          f"the SNS fixtures are in fact_email_events on S3 ({time.time() - t0:.0f} s): {kinds} "
          f"{open(f'{TMP}/serve.err').read()[-600:]}")
    srv.terminate()
    check(srv.wait(timeout=60) == 0, f"serve stops cleanly: {open(f'{TMP}/serve.err').read()[-800:]}")
    srv = None

    def objects(prefix):
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def lines(keys):
        out = []
        for k in keys:
            body = s3.get_object(Bucket=BUCKET, Key=k)["Body"].read().decode()
            out += [json.loads(l) for l in body.splitlines() if l.strip()]
        return out

    ev_keys = objects("lake/raw/events/app_events/")
    got = {e.get("event_id") for e in lines(ev_keys)}
    check({e["event_id"] for e in events} <= got, f"the events are objects on S3: {ev_keys} {sorted(got)[:3]}")
    for k in ev_keys:
        h = s3.head_object(Bucket=BUCKET, Key=k)
        check(h.get("ServerSideEncryption") == "aws:kms", f"{k} is SSE-KMS: {h.get('ServerSideEncryption')}")
    ses_keys = objects("lake/raw/ses/http/")
    got = sorted(e.get("MessageId", "") for e in lines(ses_keys))
    want = sorted(json.load(open(f))["MessageId"] for f in fixtures)
    check(got == want, f"each SNS message is on S3 once: {got} {want}")
    for k in ses_keys:
        check(s3.head_object(Bucket=BUCKET, Key=k).get("ServerSideEncryption") == "aws:kms", f"{k} is SSE-KMS")
    dec_keys = objects("lake/raw/serve/decisions/")
    logged = [d.get("decision") for d in lines(dec_keys)]
    check(sorted(logged) == sorted(decisions), f"each decision logged once on S3: {dec_keys} {sorted(logged)} {sorted(decisions)}")
    items = ddb.scan(TableName=TABLE, FilterExpression="tbl = :t",
                     ExpressionAttributeValues={":t": {"S": "bandit"}}, ConsistentRead=True)["Items"]
    n = sum(int(i.get("n_s", {"N": "0"})["N"]) + int(i.get("n_f", {"N": "0"})["N"]) for i in items)
    check(counted > 0 and n == counted, f"bandit counters in DynamoDB: {n}, counted {counted}; {items[:2]}")
    print(f"events {len(ev_keys)} objects, SES {len(ses_keys)} objects, decisions {len(dec_keys)} objects, bandit items {len(items)}, "
          f"feedback counted {counted}")
finally:
    if srv:
        srv.kill()
    subprocess.run(["bash", f"{ROOT}/scripts/moto.sh", "stop", f"{TMP}/moto"])
    if not FAILS:
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print("kept", TMP, file=sys.stderr)
print(f"aws_serve: {len(FAILS)} failed")
sys.exit(1 if FAILS else 0)
