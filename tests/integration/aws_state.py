#!/usr/bin/env python3
"""Integration test of AWS mode's state, setup and catalog half, against moto with SigV4 verified
(scripts/moto.sh) and boto3 as the independent reader:
- `mdp aws bootstrap` twice: the state table (keys, TTL on expires_at, the by_subject index) and
  the bucket (versioning, SSE-KMS with the configured key, public access block, the lifecycle of
  noncurrent versions and unfinished uploads); the second run changes nothing and says so; another
  period is applied, a lifecycle with rules of its own is left alone;
- `mdp demo` with state.backend dynamodb: the consent stage's journal lands in DynamoDB (the state
  table folded into pk) and segments/features read it from there;
- `mdp aws policy`: each job's policy; users holding only one job's policy run that job's calls
  (moto enforces IAM): curate records consent and applies the catalog, serve counts bandit
  feedback; ingest's policy may not touch the catalog (a clear permission error, exit 1);
- `mdp catalog apply`: Glue holds every published table and the ml partitions at their current
  run folders; a second apply changes nothing; a rebuilt date moves its partition;
- `mdp serve` with state.backend dynamodb: feedback counters in DynamoDB, read back with boto3.
moto authorizes DynamoDB and Glue requests against the resource "*" (it knows no table ARNs), so
for those two services the policies given to moto's users keep their exact actions but name "*";
S3 statements are given as printed (moto checks object ARNs).
Usage: aws_state.py path/to/mdp"""
import json, os, re, shutil, subprocess, sys, tempfile, time, urllib.request

MDP = sys.argv[1]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TMP = tempfile.mkdtemp(prefix="mdp-aws-state-")
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, file=sys.stderr)


subprocess.run(["bash", f"{ROOT}/scripts/moto.sh", "start", f"{TMP}/moto"], check=True,
               stdout=subprocess.DEVNULL)
try:
    ENV = dict(os.environ)
    for line in open(f"{TMP}/moto/env"):
        k, v = line.replace("export ", "", 1).strip().split("=", 1)
        ENV[k] = v
    import boto3
    admin = dict(region_name=ENV["AWS_REGION"], endpoint_url=ENV["AWS_ENDPOINT_URL"],
                 aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"],
                 aws_secret_access_key=ENV["AWS_SECRET_ACCESS_KEY"])
    ddb, s3, glue, iam = (boto3.client(s, **admin) for s in ("dynamodb", "s3", "glue", "iam"))
    BUCKET, TABLE, KEY = "matbakh-data-test", "matbakh-state-test", ENV["MDP_TEST_KMS_KEY"]
    LAKE, CFG = f"{TMP}/lake", f"{TMP}/mdp.yaml"

    def newkey(scopes):
        out = subprocess.run([MDP, "--json", "serve", "key", "new", "--name", "k", "--scopes", scopes],
                             capture_output=True, text=True, check=True).stdout
        out = json.loads(out)
        return out["key"], out["config_item"]

    PKEY = newkey("personalize")
    with open(CFG, "w") as f:
        f.write(f"""lake:
  dir: {LAKE}
state:
  backend: dynamodb
  dynamodb_table: {TABLE}
aws:
  kms_key_id: {KEY}
  s3_addressing: path
serve:
  listen: 127.0.0.1:0
  keys: ["{PKEY[1]}"]
personalize:
  surfaces: [onboarding_tip:default_tip:neutral, onboarding_tip:tip_facts:facts]
""")

    def mdp(*args, creds=None, ok=True):
        env = dict(ENV)
        if creds:
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = creds
        p = subprocess.run([MDP, "--log-level", "warn", "--config", CFG, *args], capture_output=True,
                           text=True, env=env)
        if ok and p.returncode:
            check(False, f"mdp {' '.join(args)}: exit {p.returncode}: {p.stderr[-800:]}")
        return p

    # ---- bootstrap, twice
    first = mdp("aws", "bootstrap", "--bucket", BUCKET).stdout
    second = mdp("aws", "bootstrap", "--bucket", BUCKET).stdout
    check(f"table {TABLE}: created" in first and f"bucket {BUCKET}: created" in first, first)
    check("versioning enabled" in first and "public access blocked" in first, first)
    check(f"table {TABLE}: exists" in second and "already enabled" in second
          and "versioning already enabled" in second and f"already aws:kms {KEY}" in second
          and "public access already blocked" in second
          and "lifecycle already expires noncurrent versions after 30 days" in second,
          f"a second bootstrap changes nothing: {second}")
    check("lifecycle set: noncurrent versions expire after 30 days" in first, first)
    t = ddb.describe_table(TableName=TABLE)["Table"]
    check([k["AttributeName"] for k in t["KeySchema"]] == ["pk", "sk"], t["KeySchema"])
    check([g["IndexName"] for g in t.get("GlobalSecondaryIndexes", [])] == ["by_subject"], t)
    ttl = ddb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    check(ttl.get("TimeToLiveStatus") == "ENABLED" and ttl.get("AttributeName") == "expires_at", ttl)
    check(s3.get_bucket_versioning(Bucket=BUCKET).get("Status") == "Enabled", "versioning")
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    check(rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY},
          rule)
    pab = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    check(all(pab[k] for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                               "RestrictPublicBuckets")), pab)
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]}
    check(sorted(rules) == ["mdp-incomplete-uploads", "mdp-noncurrent-versions"], rules)
    check(rules["mdp-noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
          and rules["mdp-noncurrent-versions"]["Status"] == "Enabled", rules)
    check(rules["mdp-incomplete-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1,
          rules)
    # another period is applied; a lifecycle with someone else's rule is left alone and said so
    third = mdp("aws", "bootstrap", "--bucket", BUCKET, "--noncurrent-days", "7").stdout
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]}
    check("noncurrent versions expire after 7 days" in third
          and rules["mdp-noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7, third)
    other = {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 5}}
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": [other]})
    fourth = mdp("aws", "bootstrap", "--bucket", BUCKET).stdout
    rules = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    check("lifecycle has 1 rule(s) of its own, left alone" in fourth and [r["ID"] for r in rules] == ["logs"],
          (fourth, rules))
    p = mdp("aws", "bootstrap", "--bucket", BUCKET, "--noncurrent-days", "0", ok=False)
    check(p.returncode == 2 and "--noncurrent-days needs a number of days" in p.stderr, p.stderr)
    p = mdp("aws", "bootstrap", ok=False)
    check(p.returncode == 2 and "no bucket" in p.stderr, f"bootstrap without a bucket: {p.stderr}")

    # ---- the demo with its state in DynamoDB
    mdp("demo", "--dir", LAKE, "--users", "60", "--days", "4")
    check(not os.path.exists(f"{LAKE}/_meta/state.sqlite"), "the state stayed out of the lake's SQLite file")
    items = []
    kw = {}
    while True:
        r = ddb.scan(TableName=TABLE, **kw)
        items += r["Items"]
        if "LastEvaluatedKey" not in r:
            break
        kw = {"ExclusiveStartKey": r["LastEvaluatedKey"]}
    journal = [i for i in items if i["tbl"]["S"] == "consent_journal"]
    head = [i for i in items if i["pk"]["S"] == "consent_head#journal"]
    check(len(journal) > 0 and len(head) == 1, f"{len(journal)} journal records, heads {head}")
    check(head and int(head[0]["n_seq"]["N"]) == len(journal), f"the head names the last record: {head}")
    p = mdp("consent", "verify")
    check(p.returncode == 0, f"verify on DynamoDB: {p.stdout} {p.stderr}")

    # ---- policies
    pol = {}
    for job in ("ingest", "curate", "serve", "dsar", "all"):
        out = mdp("aws", "policy", "--job", job, "--bucket", BUCKET, "--env", "test",
                  "--account", "123456789012").stdout
        pol[job] = json.loads(out)

    def actions(doc):
        return {a for s in doc["Statement"] for a in s["Action"]}

    def resources(doc):
        return {r for s in doc["Statement"] for r in s["Resource"]}

    # ingest keeps no catalog; it reads the state table (the suppression list) and writes there
    # only the lake's lease, by its key
    check(not any(a.startswith("glue:") for a in actions(pol["ingest"]))
          and {a for a in actions(pol["ingest"]) if a.startswith("dynamodb:")}
          == {"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan",
              "dynamodb:PutItem"},
          f"ingest's state and catalog actions: {actions(pol['ingest'])}")
    lease_st = [s for s in pol["ingest"]["Statement"] if s["Sid"] == "LakeLease"]
    check(len(lease_st) == 1 and lease_st[0]["Action"] == ["dynamodb:PutItem"]
          and lease_st[0].get("Condition") == {
              "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["leases#lake"]}},
          f"ingest writes only the lease's item: {lease_st}")
    check(not any(s["Sid"] == "StateTable" and "dynamodb:PutItem" in s["Action"]
                  for s in pol["ingest"]["Statement"]), "ingest's state table statement is read-only")
    check("glue:UpdateTable" in actions(pol["curate"]) and "glue:CreateTable" not in actions(pol["serve"]),
          "the catalog is curate's")
    check(f"arn:aws:dynamodb:eu-central-1:123456789012:table/{TABLE.replace('-test', '')}/index/by_subject"
          in resources(pol["dsar"]) or any(r.endswith("/index/by_subject") for r in resources(pol["dsar"])),
          f"dsar queries the subject index: {resources(pol['dsar'])}")
    check(not any(r.endswith("/index/by_subject") for r in resources(pol["serve"])), "serve has no index")
    check(actions(pol["all"]) == set().union(*(actions(pol[j]) for j in ("ingest", "curate", "serve", "dsar"))),
          "all is the union")
    check(f"arn:aws:kms:eu-central-1:123456789012:key/{KEY}" in resources(pol["serve"]), "the lake's key by ARN")
    check(f"arn:aws:s3:::{BUCKET}/raw/events/*" in resources(pol["serve"])
          and f"arn:aws:s3:::{BUCKET}/curated/*" not in resources(pol["serve"]), "serve's prefixes")
    p = mdp("aws", "policy", "--job", "nope", ok=False)
    check(p.returncode == 2 and "nope" in p.stderr, f"unknown job: {p.stderr}")

    def for_moto(doc):
        doc = json.loads(json.dumps(doc))
        for s in doc["Statement"]:
            if any(a.startswith(("dynamodb:", "glue:", "kms:")) for a in s["Action"]):
                s["Resource"] = "*"
        return json.dumps(doc)

    def user(job):
        # the policy as printed for this account's table, bucket and region (no --account: '*')
        doc = json.loads(mdp("aws", "policy", "--job", job, "--bucket", BUCKET, "--env", "test").stdout)
        iam.create_user(UserName=f"mdp-{job}")
        iam.put_user_policy(UserName=f"mdp-{job}", PolicyName=job, PolicyDocument=for_moto(doc))
        k = iam.create_access_key(UserName=f"mdp-{job}")["AccessKey"]
        return k["AccessKeyId"], k["SecretAccessKey"]

    CURATE, SERVE, INGEST = user("curate"), user("serve"), user("ingest")

    # ---- curate's user: consent in the state table, the catalog in Glue
    mdp("consent", "record", "--email", "ann@example.de", "--purpose", "analytics", "--decision",
        "granted", creds=CURATE)
    p = mdp("consent", "status", "--email", "ann@example.de", creds=CURATE)
    check("analytics" in p.stdout, f"status as curate: {p.stdout}")
    mdp("features", "--dir", LAKE, "--from", "2026-10-02", "--to", "2026-10-03", creds=CURATE)
    a1 = mdp("catalog", "apply", "--env", "test", "--bucket", BUCKET, creds=CURATE).stdout
    check("database matbakh_test: created" in a1 and "tables created" in a1, a1)
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName="matbakh_test")["TableList"]}
    check(len(tables) == 12 and "ml_user_features" in tables and "fact_email_events" in tables, sorted(tables))
    parts = glue.get_partitions(DatabaseName="matbakh_test", TableName="ml_user_features")["Partitions"]
    check(sorted(p["Values"][0] for p in parts) == ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"]
          or len(parts) >= 3, parts)
    loc = {p["Values"][0]: p["StorageDescriptor"]["Location"] for p in parts}
    check(all(l.startswith(f"s3://{BUCKET}/ml/features/run-") for l in loc.values()), loc)
    def glue_matches_lake(when):
        """every table's partitions in Glue = the partition values its published rows hold (read
        back through mdp query), each at a folder of the table's current manifest; none for an
        unpartitioned table. Returns the tables checked, partitioned ones first"""
        tabs = {t["Name"]: t for t in glue.get_tables(DatabaseName="matbakh_test")["TableList"]}
        done = []
        for name, t in sorted(tabs.items(), key=lambda kv: (not kv[1].get("PartitionKeys"), kv[0])):
            pages = glue.get_paginator("get_partitions").paginate(DatabaseName="matbakh_test", TableName=name)
            parts = [p for page in pages for p in page["Partitions"]]
            keys = [k["Name"] for k in t.get("PartitionKeys", [])]
            if not keys:
                check(parts == [], f"{when}: unpartitioned {name} has partitions {parts[:2]}")
                continue
            rows = json.loads(mdp("query", f"SELECT DISTINCT CAST({keys[0]} AS VARCHAR) AS v FROM {name}",
                                  "--format", "json", "--dir", LAKE).stdout)
            want = sorted(r["v"] for r in rows)
            got = sorted(p["Values"][0] for p in parts)
            check(got == want and want, f"{when}: {name} partitions in Glue {got[:5]}..., published {want[:5]}...")
            root = t["StorageDescriptor"]["Location"].split("/run-")[0]
            check(all(p["StorageDescriptor"]["Location"].startswith(root + "/run-")
                      and p["StorageDescriptor"]["Location"].endswith(f"/{keys[0]}={p['Values'][0]}/")
                      for p in parts), f"{when}: {name} partition locations {parts[:1]}")
            done.append(name)
        return done

    # the projected facts' partitions are registered too, for engines without projection
    checked = glue_matches_lake("first apply")
    check("fact_email_events" in checked and "ml_user_features" in checked, f"partitioned tables: {checked}")
    a2 = mdp("catalog", "apply", "--env", "test", "--bucket", BUCKET, creds=CURATE).stdout
    check("0 tables created" in a2 and re.search(r"0 partitions created, 0 moved, 0 removed", a2),
          f"second apply: {a2}")
    mdp("features", "--dir", LAKE, "--date", "2026-10-03", creds=CURATE)
    a3 = mdp("catalog", "apply", "--env", "test", "--bucket", BUCKET, creds=CURATE).stdout
    check("1 moved" in a3, f"a rebuilt date moves its partition: {a3}")
    parts = glue.get_partitions(DatabaseName="matbakh_test", TableName="ml_user_features")["Partitions"]
    loc2 = {p["Values"][0]: p["StorageDescriptor"]["Location"] for p in parts}
    check(loc2.get("2026-10-03") != loc.get("2026-10-03") and loc2.get("2026-10-02") == loc.get("2026-10-02"),
          f"only 2026-10-03 moved: {loc} -> {loc2}")
    # ingest's user may not touch the catalog: a clear error, exit 1
    p = mdp("catalog", "apply", "--env", "test", "--bucket", BUCKET, creds=INGEST, ok=False)
    check(p.returncode == 1 and re.search(r"denied|not authorized|policy that does not allow it", p.stderr, re.I),
          f"ingest's policy and the catalog: {p.returncode} {p.stderr}")
    p = mdp("consent", "record", "--email", "bob@example.de", "--purpose", "analytics", "--decision",
            "granted", creds=INGEST, ok=False)
    check(p.returncode == 1 and re.search(r"denied|not authorized|policy that does not allow it", p.stderr, re.I),
          f"ingest's policy and the state table: {p.returncode} {p.stderr}")
    # ... but takes the lake's lease there (a writing job), and gives it back
    mdp("ingest", "events", "--dir", LAKE, creds=INGEST)
    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "leases#lake"}, "sk": {"S": "-"}}).get("Item")
    body = json.loads(item["body"]["S"]) if item else {}
    check(body.get("holder") == "ingest" and body.get("lease_until") == 0,
          f"ingest took and released the lease in DynamoDB: {body}")

    # ---- serve's user: bandit counters and feedback in DynamoDB
    env = dict(ENV)
    env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = SERVE
    srv = subprocess.Popen([MDP, "--log-level", "warn", "--config", CFG, "serve"], stdout=subprocess.PIPE,
                           stderr=open(f"{TMP}/serve.err", "w"), text=True, env=env)
    try:
        line = srv.stdout.readline()
        m = re.search(r"http://[0-9.:]+", line)
        check(m is not None, f"serve did not start: {line} {open(f'{TMP}/serve.err').read()[-600:]}")
        base = m.group(0) if m else ""

        def req(method, path, body=None, headers=None):
            h = {"Authorization": f"Bearer {PKEY[0]}", "Content-Type": "application/json", **(headers or {})}
            r = urllib.request.Request(base + path, data=body.encode() if body else None, method=method, headers=h)
            try:
                with urllib.request.urlopen(r, timeout=10) as resp:
                    return resp.status, json.loads(resp.read() or b"null")
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read() or b"null")

        users = [r["user_id"] for r in json.loads(mdp("query", "SELECT user_id FROM segments", "--format",
                                                      "json", "--dir", LAKE).stdout)]
        uid = None
        for u in users:  # a user the rules leave to the bandit: consent, not low engagement
            p = mdp("snapshot", "get", u, "--dir", LAKE, "--json", ok=False)
            r = json.loads(p.stdout) if p.returncode == 0 else {}
            if r.get("personalization_consent") and r.get("engagement_level") != "low" \
                    and r.get("preferred_comm_tone") != "facts":
                uid = u
                break
        check(uid is not None, "a demo user the bandit decides for")
        sent = {"s": 0, "f": 0}
        for i in range(6):
            st, dec = req("GET", f"/v1/personalize?user_id={uid}&surface=onboarding_tip")
            check(st == 200 and "decision_id" in dec, f"personalize: {st} {dec}")
            sig = "email_click" if i % 3 else "email_bounce"
            st, fb = req("POST", "/v1/feedback", json.dumps({"decision_id": dec.get("decision_id"), "signal": sig}))
            check(st == 200 and fb.get("counted") is True, f"feedback: {st} {fb}")
            sent["s" if sig == "email_click" else "f"] += 1
        st, fb = req("POST", "/v1/feedback", json.dumps({"decision_id": dec.get("decision_id"), "signal": sig}))
        check(fb == {"counted": False, "reason": "duplicate"}, f"the same feedback twice counts once: {fb}")
    finally:
        srv.terminate()
        srv.wait(timeout=30)
    items = ddb.scan(TableName=TABLE, FilterExpression="tbl = :t",
                     ExpressionAttributeValues={":t": {"S": "bandit"}}, ConsistentRead=True)["Items"]
    s = sum(int(i.get("n_s", {"N": "0"})["N"]) for i in items)
    f = sum(int(i.get("n_f", {"N": "0"})["N"]) for i in items)
    check(s == sent["s"] and f == sent["f"] and all("body" not in i for i in items),
          f"bandit counters in DynamoDB: s={s} f={f}, sent {sent}; {items[:2]}")
    marks = ddb.scan(TableName=TABLE, FilterExpression="tbl = :t",
                     ExpressionAttributeValues={":t": {"S": "feedback"}}, ConsistentRead=True)["Items"]
    check(len(marks) == 6, f"one feedback mark per counted feedback: {len(marks)}")

    # ---- retention drops the oldest feature dates (P24M): the next apply removes their partitions
    # from Glue (before: Glue kept them, pointing at deleted files), and Glue matches the lake
    before = {p["Values"][0] for p in glue.get_partitions(DatabaseName="matbakh_test",
                                                          TableName="ml_user_features")["Partitions"]}
    mdp("retention", "apply", "--dir", LAKE, "--file", f"{ROOT}/config/inventory.yaml", "--now", "2028-10-03")
    a4 = mdp("catalog", "apply", "--env", "test", "--bucket", BUCKET, creds=CURATE).stdout
    m = re.search(r"(\d+) removed", a4)
    check(m and int(m.group(1)) > 0, f"the apply after retention removes partitions: {a4}")
    after = {p["Values"][0] for p in glue.get_partitions(DatabaseName="matbakh_test",
                                                         TableName="ml_user_features")["Partitions"]}
    check(after and after < before and max(before - after) < min(after),
          f"the oldest feature dates left Glue: {sorted(before)} -> {sorted(after)}")
    glue_matches_lake("after retention")
    a5 = mdp("catalog", "apply", "--env", "test", "--bucket", BUCKET, creds=CURATE).stdout
    check(re.search(r"0 partitions created, 0 moved, 0 removed", a5), f"apply again: {a5}")
finally:
    subprocess.run(["bash", f"{ROOT}/scripts/moto.sh", "stop", f"{TMP}/moto"])
    if not FAILS:
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print("kept", TMP, file=sys.stderr)
print(f"aws_state: {len(FAILS)} failed")
sys.exit(1 if FAILS else 0)
