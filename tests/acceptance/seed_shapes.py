#!/usr/bin/env python3
"""Checks that every file `mdp seed` writes has the documented shape of its format: the fields,
nesting and JSON types of the official examples in tests/data/fixtures (copied from shared/fixtures),
and for the Supabase exports the columns of config/supabase-schema.sql. Written in Python on
purpose: an independent reader of what the C generator writes.

Rules: a seeded object may leave out fields the format marks optional, never invent a field the
format does not have, and every field it has carries the fixture's JSON type. Where no visible fixture
exists for a variant (some SES event types), the AWS documentation's field names are listed here.

Usage: seed_shapes.py path/to/mdp path/to/fixtures
"""
import csv, glob, gzip, hashlib, io, json, os, re, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

MDP, FIX = sys.argv[1], sys.argv[2]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def jtype(v):
    if v is None: return "null"
    if isinstance(v, bool): return "bool"
    if isinstance(v, int): return "int"
    if isinstance(v, float): return "float"
    if isinstance(v, str): return "string"
    if isinstance(v, list): return "array"
    return "object"


def shape(v):
    """A shape: type name, or ('object', {key: shape}), or ('array', merged element shape)."""
    t = jtype(v)
    if t == "object":
        return ("object", {k: shape(x) for k, x in v.items()})
    if t == "array":
        merged = None
        for x in v:
            merged = merge(merged, shape(x))
        return ("array", merged)
    return t


def merge(a, b):
    if a is None: return b
    if b is None: return a
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "object":
        keys = dict(a[1])
        for k, s in b[1].items():
            keys[k] = merge(keys.get(k), s)
        return ("object", keys)
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "array":
        return ("array", merge(a[1], b[1]))
    return a


def conforms(v, sh, path, where, optional=(), required_all=False):
    """v must fit shape sh: no unknown keys, same JSON types; with required_all every key of the
    shape must be present unless its path is in optional."""
    t = jtype(v)
    if sh is None:
        return
    if isinstance(sh, tuple) and sh[0] == "object":
        check(t == "object", f"{where}: {path} is {t}, want object")
        if t != "object": return
        for k, x in v.items():
            p = f"{path}.{k}"
            check(k in sh[1], f"{where}: unknown field {p}")
            if k in sh[1]:
                conforms(x, sh[1][k], p, where, optional, required_all)
        if required_all:
            for k in sh[1]:
                p = f"{path}.{k}"
                check(k in v or any(re.fullmatch(o, p) for o in optional), f"{where}: missing field {p}")
    elif isinstance(sh, tuple) and sh[0] == "array":
        check(t == "array", f"{where}: {path} is {t}, want array")
        if t == "array":
            for i, x in enumerate(v):
                conforms(x, sh[1], f"{path}[]", where, optional, required_all)
    else:
        ok = t == sh or (sh == "float" and t == "int") or sh == "null"
        check(ok, f"{where}: {path} is {t}, want {sh}")


OPEN_MAPS = {"tags", "linkTags", "commonHeaders"}  # maps whose keys are the sender's, not the format's


def strip_open_maps(v, where, path=""):
    """Checks open maps (string -> array of strings, or header values) and removes them from v."""
    if isinstance(v, dict):
        for k in list(v):
            if k in OPEN_MAPS and isinstance(v[k], dict):
                for tk, tv in v[k].items():
                    check(isinstance(tk, str) and (isinstance(tv, str) or (isinstance(tv, list) and all(isinstance(x, str) for x in tv))),
                          f"{where}: {path}.{k}.{tk} is a string or an array of strings")
                if k != "commonHeaders":
                    check(all(isinstance(tv, list) for tv in v[k].values()), f"{where}: {path}.{k} values are arrays of strings")
                v[k] = {}
            else:
                strip_open_maps(v[k], where, f"{path}.{k}")
    elif isinstance(v, list):
        for x in v:
            strip_open_maps(x, where, path)
    return v


def load(path):
    with open(path, "rb") as f:
        return f.read()


def fixture(rel, body=False):
    v = json.loads(load(os.path.join(FIX, rel)))
    return v["body"] if body else v


# ---------------------------------------------------------------- run the generator
out = tempfile.mkdtemp(prefix="mdp-seed-shapes-")
r = subprocess.run([MDP, "--log-level", "off", "seed", "--users", "400", "--days", "21", "--seed", "5",
                    "--bad-rate", "0", "--out", out], capture_output=True, text=True)
check(r.returncode == 0, f"mdp seed failed: {r.stderr[-500:]}")
files = sorted(p for p in glob.glob(out + "/**/*", recursive=True) if os.path.isfile(p))
check(len(files) > 100, f"only {len(files)} files")
rel = lambda p: os.path.relpath(p, out)
seen = {}

# ---------------------------------------------------------------- SES through SNS in SQS
SNS_ORDER = ["Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature",
             "SigningCertURL", "UnsubscribeURL"]
SQS_RECORD = {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
              "eventSource", "eventSourceARN", "awsRegion"}
SQS_ATTRS = {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"}
sns_fixture = fixture("ses/event-publishing/click.sns.json")
records = {os.path.basename(p).split(".")[0]: strip_open_maps(json.loads(load(p)), p)
           for p in glob.glob(FIX + "/ses/event-publishing/*.record.json")}
notes = {os.path.basename(p).split(".")[0]: strip_open_maps(json.loads(load(p)), p)
         for p in glob.glob(FIX + "/ses/notifications/*.message.json")}
# the mail object of event publishing, and of notifications, as the fixtures show them
mail_ep = shape({})
for rec in records.values():
    mail_ep = merge(mail_ep if mail_ep != "object" else None, shape(rec["mail"]))
mail_note = None
for n in notes.values():
    mail_note = merge(mail_note, shape(n["mail"]))
# members of event types without a visible fixture, by the SES documentation
DOC_MEMBERS = {
    "Complaint": ("complaint", {"feedbackId", "complaintSubType", "complainedRecipients", "timestamp",
                                "userAgent", "complaintFeedbackType", "arrivalDate"}),
    "Reject": ("reject", {"reason"}),
    "DeliveryDelay": ("deliveryDelay", {"timestamp", "delayType", "expirationTime", "delayedRecipients",
                                        "reportingMTA"}),
    "Subscription": ("subscription", {"contactList", "timestamp", "source", "newTopicPreferences",
                                      "oldTopicPreferences"}),
    "Rendering Failure": ("failure", {"errorMessage", "templateName"}),
}
DELIVERY_DOC = {"timestamp", "processingTimeMillis", "recipients", "smtpResponse", "remoteMtaIp", "reportingMTA"}
ses_types = set()
for p in files:
    if not rel(p).startswith("ses/sqs/"): continue
    ev = json.loads(load(p))
    check(set(ev) == {"Records"} and 1 <= len(ev["Records"]) <= 10, f"{rel(p)}: not a Lambda SQS event")
    for i, rec in enumerate(ev["Records"]):
        where = f"{rel(p)}#Records[{i}]"
        check(set(rec) == SQS_RECORD, f"{where}: SQS record fields {sorted(set(rec) ^ SQS_RECORD)}")
        check(set(rec["attributes"]) == SQS_ATTRS and all(isinstance(x, str) for x in rec["attributes"].values()),
              f"{where}: SQS attributes are strings")
        check(rec["attributes"]["SentTimestamp"].isdigit(), f"{where}: SentTimestamp epoch ms as a string")
        check(rec["messageAttributes"] == {}, f"{where}: messageAttributes is {{}} (SNS attributes live in the envelope)")
        body = rec["body"]
        check(hashlib.md5(body.encode()).hexdigest() == rec["md5OfBody"], f"{where}: md5OfBody")
        # the envelope as SNS prints it: pretty, ' : ', no trailing newline
        check(body.startswith('{\n  "Type" : "Notification",\n') and body.endswith("\n}"), f"{where}: envelope layout")
        env = json.loads(body)
        check(list(env) == SNS_ORDER, f"{where}: envelope keys {list(env)}")
        conforms(env, shape(sns_fixture), "envelope", where, required_all=True)
        msg = json.loads(env["Message"])
        check(": " not in env["Message"][:40], f"{where}: Message is compact JSON")
        raw_tags = dict(msg["mail"].get("tags", {}))
        strip_open_maps(msg, where)
        if "notificationType" in msg:
            t = msg["notificationType"]
            ses_types.add("n:" + t)
            check(t in ("Bounce", "Complaint", "Delivery"), f"{where}: notificationType {t}")
            conforms(msg["mail"], mail_note, "mail", where)
            if t.lower() in notes:
                conforms(msg, shape(notes[t.lower()]), "message", where, required_all=True)
            else:
                check(set(msg) == {"notificationType", "mail", "delivery"}, f"{where}: delivery members")
                check(set(msg.get("delivery", {})) <= DELIVERY_DOC, f"{where}: delivery fields")
                check("headers" not in msg["mail"], f"{where}: this delivery notification has no headers")
        else:
            t = msg.get("eventType")
            ses_types.add("e:" + str(t))
            key = t.lower().replace(" ", "") if t else ""
            check("campaign_id" in raw_tags and "copy_variant" in raw_tags and "subject_variant" in raw_tags,
                  f"{where}: campaign and variant tags")
            check(all(k in raw_tags for k in ("ses:operation", "ses:configuration-set")), f"{where}: SES auto tags")
            conforms(msg["mail"], mail_ep, "mail", where)
            if key in records:
                conforms(msg, shape(records[key]), "record", where,
                         optional=[r"record\.mail\.sourceArn", r"record\.bounce\.(action|status|diagnosticCode)"],
                         required_all=True)
            else:
                check(t in DOC_MEMBERS, f"{where}: unknown eventType {t}")
                if t in DOC_MEMBERS:
                    member, fields = DOC_MEMBERS[t]
                    check(set(msg) == {"eventType", "mail", member}, f"{where}: members {sorted(msg)}")
                    check(set(msg.get(member, {})) <= fields, f"{where}: {member} fields {sorted(msg.get(member, {}))}")
for t in ["n:Bounce", "n:Delivery", "e:Send", "e:Delivery", "e:Open", "e:Click"]:
    check(t in ses_types, f"no SES {t} generated")
seen["ses"] = len(ses_types)

# ---------------------------------------------------------------- DynamoDB via Firehose
fh_fixture = glob.glob(FIX + "/dynamodb/firehose-s3/**/vc-ddb-cdc-*", recursive=True)[0]
fx_records = [json.loads(l) for l in load(fh_fixture).decode().splitlines() if l.strip()]
# the record envelope is fixed; items are schemaless, so images are checked per table below
fx_shape = None
table_attrs, table_keys = {}, {}
for x in fx_records:
    d = x["dynamodb"]
    table_keys[x["tableName"]] = set(d["Keys"])
    for img in ("NewImage", "OldImage"):
        table_attrs.setdefault(x["tableName"], set()).update(d.get(img, {}))
    env = json.loads(json.dumps(x))
    for k in ("Keys", "NewImage", "OldImage"):
        env["dynamodb"].pop(k, None)
    fx_shape = merge(fx_shape, shape(env))
AV_TYPES = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}


def check_av(v, where):
    check(isinstance(v, dict) and len(v) == 1 and next(iter(v)) in AV_TYPES, f"{where}: attribute value {v!r:.80}")
    if not isinstance(v, dict) or len(v) != 1: return
    (t, x), = v.items()
    if t == "N": check(isinstance(x, str) and re.fullmatch(r"-?\d+(\.\d+)?", x), f"{where}: N is decimal text")
    if t == "S": check(isinstance(x, str), f"{where}: S is a string")
    if t == "BOOL": check(isinstance(x, bool), f"{where}: BOOL is a JSON boolean")
    if t == "NULL": check(x is True, f"{where}: NULL is true")
    if t in ("SS", "NS", "BS"): check(isinstance(x, list) and x and len(set(x)) == len(x), f"{where}: {t} is a non-empty set")
    if t == "M":
        for k, y in x.items(): check_av(y, f"{where}.{k}")
    if t == "L":
        for i, y in enumerate(x): check_av(y, f"{where}[{i}]")


dec = json.JSONDecoder()
n_ddb = n_gz = 0
names = set()
for p in files:
    if not rel(p).startswith("dynamodb/firehose/"): continue
    name = os.path.basename(p)
    m = re.fullmatch(r"vc-ddb-cdc-(\d+)-(\d{4})-(\d\d)-(\d\d)-(\d\d)-\d\d-\d\d-[0-9a-f-]{36}(\.gz)?", name)
    check(m is not None, f"{rel(p)}: Firehose object name")
    if m:  # the default prefix YYYY/MM/DD/HH/ is the hour of the object's first record (UTC)
        check(rel(p) == "dynamodb/firehose/%s/%s/%s/%s/%s" % (m[2], m[3], m[4], m[5], name), f"{rel(p)}: prefix and name disagree")
    raw = load(p)
    # GZIP compression (stream version 3): gzip bytes, named .gz; the others are plain
    gz = raw[:2] == b"\x1f\x8b"
    if m:
        check(gz == (m[6] == ".gz") == (m[1] == "3"), f"{rel(p)}: gzip'd exactly when named .gz (version 3)")
        n_gz += gz
    text = (gzip.decompress(raw) if gz else raw).decode()
    pos = 0
    while pos < len(text):
        while pos < len(text) and text[pos] in " \n": pos += 1
        if pos >= len(text): break
        rec, end = dec.raw_decode(text, pos)
        where = f"{rel(p)}@{pos}"
        pos = end
        n_ddb += 1
        names.add((rec["tableName"], rec["eventName"], rec["userIdentity"] is not None))
        d = rec["dynamodb"]
        env = json.loads(json.dumps(rec))
        for k in ("Keys", "NewImage", "OldImage"):
            env["dynamodb"].pop(k, None)
        conforms(env, fx_shape, "record", where, required_all=True)
        t = rec["tableName"]
        check(t in table_keys, f"{where}: table {t}")
        check(set(d.get("Keys", {})) == table_keys.get(t), f"{where}: key attributes {sorted(d.get('Keys', {}))}")
        for img in ("NewImage", "OldImage"):
            if img in d:
                check(set(d[img]) <= table_attrs.get(t, set()), f"{where}: {img} attributes {sorted(set(d[img]) - table_attrs.get(t, set()))} not in {t}")
                check(table_keys.get(t, set()) <= set(d[img]), f"{where}: {img} lacks the key attributes")
        check(isinstance(d["ApproximateCreationDateTime"], int) and len(str(d["ApproximateCreationDateTime"])) == 13,
              f"{where}: ApproximateCreationDateTime in epoch ms")
        want = {"INSERT": {"NewImage"}, "MODIFY": {"NewImage", "OldImage"}, "REMOVE": {"OldImage"}}[rec["eventName"]]
        check({k for k in d if k.endswith("Image")} == want, f"{where}: images for {rec['eventName']}")
        for img in ("Keys", "NewImage", "OldImage"):
            for k, v in d.get(img, {}).items(): check_av(v, f"{where}.{img}.{k}")
        check(not any(k in rec for k in ("SequenceNumber", "StreamViewType", "eventVersion")), f"{where}: Firehose shape has no stream fields")
check(n_ddb > 100, f"only {n_ddb} DynamoDB records")
check(n_gz > 0, "no gzip'd Firehose object (GZIP compression in the window's last quarter)")
for want in [("VcTokens", "INSERT", False), ("VcTokens", "MODIFY", False), ("VcTokens", "REMOVE", False),
             ("VcTokens", "REMOVE", True), ("ConsentJournal", "INSERT", False)]:
    check(want in names, f"no DynamoDB record {want}")

# ---------------------------------------------------------------- GA4 runReport
ga4 = fixture("ga4/runreport.response.json")
n_ga4 = 0
for p in files:
    if not rel(p).startswith("ga4/runreport/"): continue
    r = json.loads(load(p))
    n_ga4 += 1
    conforms(r, shape(ga4), "response", rel(p), optional=[r"response\.(rows|rowCount)", r"response\.propertyQuota\..*"],
             required_all=True)
    for row in r.get("rows", []):
        check(all(isinstance(m["value"], str) and m["value"].isdigit() for m in row["metricValues"]), f"{rel(p)}: metric values are strings")
        check(re.fullmatch(r"\d{8}", row["dimensionValues"][0]["value"]), f"{rel(p)}: date is YYYYMMDD")
        check(len(row["metricValues"]) == len(r["metricHeaders"]), f"{rel(p)}: positional metrics")
    check(("rows" in r) == ("rowCount" in r) and r.get("rowCount", 0) == len(r.get("rows", [])), f"{rel(p)}: rowCount")
check(n_ga4 == 21, f"{n_ga4} GA4 responses for 21 days")

# ---------------------------------------------------------------- Business Profile
loc = fixture("gbp/location.get.json", body=True)
n_gbp = 0
for p in files:
    if not rel(p).startswith("gbp/locations/"): continue
    r = json.loads(load(p))
    check(set(r) <= {"locations", "nextPageToken", "totalSize"}, f"{rel(p)}: list response fields")
    for i, l in enumerate(r["locations"]):
        n_gbp += 1
        where = f"{rel(p)}#locations[{i}]"
        conforms(l, shape(loc), "location", where)
        check(re.fullmatch(r"locations/\d+", l["name"]), f"{where}: v1 resource name")
        for per in l.get("regularHours", {}).get("periods", []):
            for k in ("openTime", "closeTime"):
                check(all(isinstance(x, int) and x != 0 for x in per[k].values()), f"{where}: TimeOfDay omits zero members")
        check(all(v is True for v in l.get("metadata", {}).values() if isinstance(v, bool)), f"{where}: metadata flags only when true")
check(n_gbp > 50, f"only {n_gbp} GBP locations")

# ---------------------------------------------------------------- Meta Graph API
me = fixture("meta/me-accounts.json", body=True)
page = fixture("meta/page.json", body=True)
ig = fixture("meta/ig-user.json", body=True)
# /me/accounts with the instagram_business_account field expanded: the Page node's field
me_shape = merge(shape(me), ("object", {"data": ("array", ("object", {
    "instagram_business_account": shape(page)[1]["instagram_business_account"]}))}))
n_meta = 0
for p in files:
    r = rel(p)
    if not r.startswith("meta/"): continue
    v = json.loads(load(p))
    n_meta += 1
    if r.startswith("meta/me_accounts/"):
        conforms(v, me_shape, "me_accounts", r, optional=[r".*instagram_business_account.*", r".*paging.*"], required_all=True)
    elif r.startswith("meta/pages/"):
        conforms(v, shape(page), "page", r, optional=[r"page\.(website|instagram_business_account)"], required_all=True)
    elif r.startswith("meta/ig_users/"):
        conforms(v, shape(ig), "ig_user", r, optional=[r"ig_user\.website"], required_all=True)
        check(isinstance(v["id"], str) and len(v["id"]) == 17, f"{r}: IG ids are 17-digit strings")
    else:
        check(False, f"{r}: unexpected Meta file")
check(n_meta > 50, f"only {n_meta} Meta objects")

# ---------------------------------------------------------------- app events (spec 2 Event-Payload)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
n_ev = 0
for p in files:
    if not rel(p).startswith("events/"): continue
    for ln, line in enumerate(load(p).decode().splitlines(), 1):
        e = json.loads(line)
        n_ev += 1
        where = f"{rel(p)}:{ln}"
        check(set(e) == {"event_id", "user_id", "account_id", "location_id", "external_ids", "timestamp",
                         "event_type", "properties"}, f"{where}: fields {sorted(e)}")
        check(all(UUID.fullmatch(e[k]) for k in ("event_id", "user_id", "account_id", "location_id")), f"{where}: UUIDv7 ids")
        check(isinstance(e["external_ids"], dict) and all(isinstance(v, str) for v in e["external_ids"].values()),
              f"{where}: external_ids is a string map")
        check(set(e["external_ids"]) <= {"gbp_place_id", "ga4_client_id", "ga4_user_id", "fb_page_id", "ig_business_id"},
              f"{where}: external id names of spec 2")
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["timestamp"]), f"{where}: ISO-8601 timestamp")
        check(isinstance(e["properties"], dict), f"{where}: properties is an object")
check(n_ev > 1000, f"only {n_ev} events")

# ---------------------------------------------------------------- Supabase CSV exports
schema = load(os.path.join(ROOT, "config", "supabase-schema.sql")).decode()
tables = {}
for m in re.finditer(r"create table if not exists public\.(\w+) \((.*?)\n\);", schema, re.S):
    cols = [l.strip().split()[0] for l in m.group(2).splitlines() if l.strip() and not l.strip().startswith("--")]
    tables[m.group(1)] = cols
check(len(tables) == 7, f"schema has {len(tables)} tables")
n_rows = 0
for p in files:
    r = rel(p)
    if not r.startswith("supabase/"): continue
    table = r.split("/")[1]
    check(table in tables, f"{r}: table not in the schema")
    raw = load(p).decode()
    check(raw.endswith("\n"), f"{r}: COPY output ends with a newline")
    rows = list(csv.reader(io.StringIO(raw)))
    check(rows[0] == tables.get(table), f"{r}: header {rows[0]} != schema {tables.get(table)}")
    for i, row in enumerate(rows[1:], 2):
        n_rows += 1
        check(len(row) == len(rows[0]), f"{r}:{i}: {len(row)} fields")
        for col, val in zip(rows[0], row):
            if col.endswith("_at") and val:
                check(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?\+00", val), f"{r}:{i}: {col} '{val}' is not timestamptz text")
            if col in ("preferences", "settings"):
                check(isinstance(json.loads(val), dict), f"{r}:{i}: {col} is a JSON object")
            if col in ("is_active", "success"):
                check(val in ("t", "f"), f"{r}:{i}: {col} boolean text")
check(n_rows > 1000, f"only {n_rows} CSV rows")

subprocess.run(["rm", "-rf", out])
sys.exit(finish("seed shapes"))
