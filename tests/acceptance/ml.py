#!/usr/bin/env python3
"""Acceptance test of consent gating, segments, features and the serving snapshot on a small,
deliberately tricky data set whose expected values are computed by hand (below, next to each
case): a user who withdraws `ml` consent mid-window, consent that expires, consent that arrives
through the DynamoDB stream, a late event, a user with no events, a user who signs up after the
date, events at midnight UTC and one with a +02:00 offset that belongs to the previous UTC day, a
persona and a tone that change after the date. Then: a backfill equals the original run row for
row; a late event changes only the dates it belongs to; a withdrawal removes the user from later
dates only; ConsentJournal changes with an unknown purpose or a future time are quarantined at
ingest; `mdp demo` produces every column of the spec's ml_user_features.
The analytics consent gate (issue 11, defect 6): the app's step events reach fact_onboarding_steps
(and what derives from it: features, engagement) only with valid `analytics` consent at the
event's time; a user without it, a withdrawal mid-window (before kept, after withheld) and an
expiry (kept before, withheld at and after the instant); the run log counts what was withheld;
raw keeps it; the spec's table names (ml_user_features, ml_user_segments) and the aliases.

Usage: ml.py path/to/mdp path/to/config/mdp.yaml
"""
import glob, hashlib, json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

MDP, DEMO_CFG = sys.argv[1], sys.argv[2]


CFG = None  # the tricky lake's configuration (set in main)


def mdp(*args, ok=True):
    pre = ["--config", CFG] if CFG and "--config" not in args else []
    p = subprocess.run([MDP, "--log-level", "warn", *pre, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise SystemExit(f"mdp {' '.join(args)} failed ({p.returncode}): {p.stderr[:800]}")
    return p


def query(lake, sql):
    out = mdp("query", sql, "--format", "json", "--dir", lake).stdout
    return json.loads(out) if out.strip() else []


def write(root, key, text):
    path = os.path.join(root, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


ALICE = "0192a000-0000-7000-8000-00000000000a"
BOB = "0192a000-0000-7000-8000-00000000000b"
CAROL = "0192a000-0000-7000-8000-00000000000c"
DAVE = "0192a000-0000-7000-8000-00000000000d"
ERIN = "0192a000-0000-7000-8000-00000000000e"
FRANK = "0192a000-0000-7000-8000-00000000000f"
GRACE = "0192a000-0000-7000-8000-000000000010"  # no profile: events and analytics consent only
HEIDI = "0192a000-0000-7000-8000-000000000011"  # no profile, no consent at all
ACCOUNT = "0192a000-0000-7000-8000-0000000000aa"
EMAIL = {ALICE: "alice@t.example", BOB: "bob@t.example", CAROL: "Carol@T.example",
         DAVE: "dave@t.example", ERIN: "erin@t.example", FRANK: "frank@t.example"}

_seq = 0


def uuid7(ts):
    """A UUIDv7 for an ISO time (only its uniqueness and shape matter here)."""
    global _seq
    _seq += 1
    from datetime import datetime
    ms = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
    h = f"{ms:012x}"
    return f"{h[:8]}-{h[8:]}-7{_seq:03x}-8000-{_seq:012x}"


PROFILE_COLS = "user_id,account_id,email,name,persona,preferences,settings,is_active,signup_at," \
               "last_login_at,created_at,updated_at"


def profile(uid, persona, active, signup, updated):
    return f"{uid},{ACCOUNT},{EMAIL[uid]},Test User,{persona},{{}},{{}},{active},{signup},,{signup},{updated}"


def step(uid, ts, kind, duration=None):
    props = {"step_id": "profile"}
    if duration is not None:
        props["duration_seconds"] = duration
    return json.dumps({"event_id": uuid7(ts), "user_id": uid, "account_id": ACCOUNT,
                       "external_ids": {}, "timestamp": ts, "event_type": kind,
                       "properties": props})


def ses(kind, email, ts, n):
    member = kind.lower()
    body = {"eventType": kind,
            "mail": {"timestamp": ts, "source": "no-reply@mail.example.com",
                     "messageId": f"0100019302300a7b-test-{n:04d}-000000",
                     "destination": [email], "tags": {"campaign_id": ["cmp_test"]}},
            member: {"timestamp": ts, "ipAddress": "192.0.2.1", "userAgent": "test"}}
    if kind == "Click":
        body[member]["link"] = "https://example.com/x"
    text = json.dumps(body)
    return {"messageId": f"00000000-0000-4000-8000-{n:012d}", "receiptHandle": f"AQEB{n}",
            "body": text, "attributes": {"ApproximateReceiveCount": "1",
                                         "SentTimestamp": "1791404930304",
                                         "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                                         "ApproximateFirstReceiveTimestamp": "1791404930981"},
            "messageAttributes": {}, "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:ses-feedback-queue",
            "awsRegion": "eu-central-1"}


def ddb(event_id, table, name, created_ms, keys, new=None, old=None):
    d = {"ApproximateCreationDateTime": created_ms, "Keys": keys, "SizeBytes": 100}
    if new:
        d["NewImage"] = new
    if old:
        d["OldImage"] = old
    return json.dumps({"awsRegion": "eu-central-1", "eventID": event_id, "eventName": name,
                       "userIdentity": None, "recordFormat": "application/json",
                       "tableName": table, "dynamodb": d, "eventSource": "aws:dynamodb"})


def consent_item(email, ts, purpose, decision):
    return {"email": {"S": email}, "ts": {"S": ts}, "consent_type": {"S": purpose},
            "decision": {"S": decision}}


def ms(ts):
    from datetime import datetime
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def build_landing(land):
    # profiles: alice changes persona on 10-11 (after D=10-10); dave signs up on 10-12; frank is
    # inactive; erin signs up on D itself
    write(land, "supabase/user_profiles/dt=2026-10-01/user_profiles.csv", "\n".join([
        PROFILE_COLS,
        profile(ALICE, "solo-sarah", "t", "2026-10-01 10:00:00+00", "2026-10-01 10:00:00+00"),
        profile(BOB, "bewahrer-ben", "t", "2026-10-02 09:00:00+00", "2026-10-02 09:00:00+00"),
        profile(CAROL, "solo-sarah", "t", "2026-10-01 12:00:00+00", "2026-10-01 12:00:00+00"),
        profile(FRANK, "solo-sarah", "f", "2026-10-01 08:00:00+00", "2026-10-01 08:00:00+00"),
    ]) + "\n")
    write(land, "supabase/user_profiles/dt=2026-10-10/user_profiles.csv", "\n".join([
        PROFILE_COLS,
        profile(ERIN, "ketten-katrin", "t", "2026-10-10 06:00:00+00", "2026-10-10 06:00:00+00"),
    ]) + "\n")
    write(land, "supabase/user_profiles/dt=2026-10-11/user_profiles.csv", "\n".join([
        PROFILE_COLS,
        profile(ALICE, "wachstums-walter", "t", "2026-10-01 10:00:00+00", "2026-10-11 09:00:00+00"),
    ]) + "\n")
    write(land, "supabase/user_profiles/dt=2026-10-12/user_profiles.csv", "\n".join([
        PROFILE_COLS,
        profile(DAVE, "solo-sarah", "t", "2026-10-12 08:00:00+00", "2026-10-12 08:00:00+00"),
    ]) + "\n")
    prefs = "user_id,tone,address,help_level,updated_at\n"
    write(land, "supabase/communication_prefs/dt=2026-10-01/communication_prefs.csv", prefs +
          f"{ALICE},facts,sie,short,2026-10-01 10:00:00+00\n"
          f"{CAROL},encouraging,du,detailed,2026-10-01 12:00:00+00\n")
    write(land, "supabase/communication_prefs/dt=2026-10-11/communication_prefs.csv", prefs +
          f"{ALICE},brief,sie,short,2026-10-11 09:00:00+00\n")
    # visibility checks of alice: 40 (10-02), 55 (10-06), 61 (10-09)
    vc = "check_id,user_id,account_id,location_id,overall_score,gbp_score,social_score,web_score," \
         "competitor_count,processing_time_seconds,created_at,updated_at\n"
    for day, score in (("02", 40), ("06", 55), ("09", 61)):
        t = f"2026-10-{day} 12:00:00+00"
        vc += f"{uuid7(f'2026-10-{day}T12:00:00Z')},{ALICE},{ACCOUNT},,{score},50,50,50,3,20,{t},{t}\n"
    write(land, "supabase/visibility_checks/dt=2026-10-09/visibility_checks.csv", vc)
    # logins of alice: 09-05 (outside 30 days of 10-10), 10-05, 10-10 ok, 10-10 failed
    lg = "event_id,user_id,provider,success,error_code,created_at\n"
    for ts, ok in (("2026-09-05 08:00:00+00", "t"), ("2026-10-05 08:00:00+00", "t"),
                   ("2026-10-10 07:00:00+00", "t"), ("2026-10-10 06:59:00+00", "f")):
        lg += f"{uuid7(ts.replace(' ', 'T').replace('+00', 'Z'))},{ALICE},google,{ok}," \
              f"{'' if ok == 't' else 'access_denied'},{ts}\n"
    write(land, "supabase/oauth_logins/dt=2026-10-10/oauth_logins.csv", lg)
    # steps (the late one, delivered on 10-11 for 10-08, comes in phase 2)
    ev = [
        step(ALICE, "2026-10-03T23:59:59Z", "step_completed", 100),   # 30d only
        step(ALICE, "2026-10-04T00:00:00Z", "step_completed", 50),    # first instant of 7d
        step(ALICE, "2026-10-09T12:00:00Z", "step_started"),          # activity, not completed
        step(ALICE, "2026-10-10T23:59:59.999Z", "step_completed", 30),  # last ms of D
        step(ALICE, "2026-10-11T01:30:00+02:00", "step_completed", 40),  # = 10-10T23:30Z
        step(ALICE, "2026-10-11T00:00:00Z", "step_completed", 1000),  # after D
        step(BOB, "2026-10-05T10:00:00Z", "step_completed", 10),
    ] + [step(ERIN, f"2026-10-10T07:{m:02d}:00Z", "step_completed", 5) for m in range(10)] + [
        # the analytics gate: bob withdraws analytics on 10-07 00:00 (this one is withheld);
        # grace's grant expires 10-06 12:00 (the 10-04 step kept, the one at the very instant of
        # expiry and the later one withheld); heidi never consented (both withheld)
        step(BOB, "2026-10-09T10:00:00Z", "step_completed", 11),
        step(GRACE, "2026-10-04T10:00:00Z", "step_completed", 12),
        step(GRACE, "2026-10-06T12:00:00Z", "step_completed", 13),
        step(GRACE, "2026-10-08T10:00:00Z", "step_completed", 14),
        step(HEIDI, "2026-10-05T10:00:00Z", "step_completed", 15),
        step(HEIDI, "2026-10-06T10:00:00Z", "step_started"),
    ]
    write(land, "events/dt=2026-10-10/app.ndjson", "\n".join(ev) + "\n")
    # email of alice: opens 09-05 (outside 30d), 09-20 (30d), 10-09 (7d), a click 10-09
    recs = [ses("Open", "alice@t.example", "2026-09-05T08:00:00.000Z", 1),
            ses("Open", "alice@t.example", "2026-09-20T08:00:00.000Z", 2),
            ses("Open", "alice@t.example", "2026-10-09T08:00:00.000Z", 3),
            ses("Click", "alice@t.example", "2026-10-09T08:01:00.000Z", 4)]
    write(land, "ses/sqs/dt=2026-10-10/batch.json", json.dumps({"Records": recs}))
    # the DynamoDB stream: carol's ml grant (by email, mixed case on the wire), bob's double
    # opt-in confirmation, and two changes to quarantine
    t = "2026-10-02T10:00:00.000Z"
    recs = [
        ddb("c0000000-0000-4000-8000-000000000001", "ConsentJournal", "INSERT", ms(t),
            {"email": {"S": "carol@t.example"}, "ts": {"S": t}},
            new=consent_item("carol@t.example", t, "ml", "granted")),
        ddb("c0000000-0000-4000-8000-000000000002", "VcTokens", "MODIFY", ms(t),
            {"token_hash": {"S": "ab" * 32}},
            new={"token_hash": {"S": "ab" * 32}, "email_lower": {"S": "bob@t.example"},
                 "status": {"S": "verified"}, "verified_at": {"S": t}},
            old={"token_hash": {"S": "ab" * 32}, "email_lower": {"S": "bob@t.example"},
                 "status": {"S": "pending"}}),
        ddb("c0000000-0000-4000-8000-000000000003", "ConsentJournal", "INSERT", ms(t),
            {"email": {"S": "erin@t.example"}, "ts": {"S": t}},
            new=consent_item("erin@t.example", t, "newsletter_xyz", "granted")),
        ddb("c0000000-0000-4000-8000-000000000004", "ConsentJournal", "INSERT", ms(t),
            {"email": {"S": "erin@t.example"}, "ts": {"S": "2026-10-03T10:00:00.000Z"}},
            new=consent_item("erin@t.example", "2026-10-03T10:00:00.000Z", "ml", "granted")),
    ]
    write(land, "dynamodb/firehose/2026/10/02/10/vc-ddb-cdc-2-2026-10-02-10-05-00-"
          "00000000-0000-4000-8000-000000000001", "\n".join(recs) + "\n")


def consent(lake, *args):
    mdp("consent", "record", "--dir", lake, *args)


FEATURE_COLS = ["user_id", "feature_date", "steps_completed_7d", "email_opens_7d",
                "email_clicks_7d", "vc_score_delta_7d", "steps_completed_30d", "email_opens_30d",
                "email_clicks_30d", "login_count_30d", "avg_step_duration_seconds",
                "preferred_comm_tone", "last_activity_days_ago", "updated_at"]


def features(lake, day):
    rows = query(lake, f"SELECT * FROM features WHERE feature_date = DATE '{day}' ORDER BY user_id")
    return {r["user_id"]: r for r in rows}


def checksum(lake, table, col, day):
    rows = query(lake, f"SELECT md5(string_agg(CAST(t AS VARCHAR), '\n' ORDER BY user_id)) AS h, "
                       f"count(*) AS n FROM {table} t WHERE {col} = DATE '{day}'")
    return (rows[0]["h"], rows[0]["n"]) if rows else None


def main():
    global CFG
    tmp = tempfile.mkdtemp()
    CFG = os.path.join(tmp, "mdp.yaml")
    # the stream here is mostly bad on purpose: the run must not fail on its quarantine share
    write(tmp, "mdp.yaml", "ingest:\n  max_quarantine_share: 0.9\n")
    lake, land = os.path.join(tmp, "lake"), os.path.join(tmp, "lake", "landing")
    mdp("init", "--dir", lake)
    build_landing(land)
    mdp("run", "--stages", "ingest", "--dir", lake)
    q = "".join(open(p).read() for p in
                [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(lake, "raw", "_quarantine"))
                 for f in fs])
    check("consent_unknown_purpose" in q, "a ConsentJournal change naming an unknown purpose is "
          "quarantined at ingest")
    check("consent_future_ts" in q, "a ConsentJournal decision later than its change is quarantined")
    mdp("curate", "--dir", lake)
    p = mdp("consent", "import", "--dir", lake, "--json")
    im = json.loads(p.stdout)
    check(im["imported"] == 2, f"consent import takes carol's grant and bob's confirmation: {im}")
    im2 = json.loads(mdp("consent", "import", "--dir", lake, "--json").stdout)
    check(im2["imported"] == 0 and im2["already"] == 2, f"a second import adds nothing: {im2}")
    # the platform's own records
    consent(lake, "--user-id", ALICE, "--purpose", "ml", "--decision", "granted",
            "--ts", "2026-10-01T10:05:00Z")
    consent(lake, "--email", "ALICE@t.example ", "--purpose", "marketing_email", "--decision",
            "granted", "--ts", "2026-10-01T10:06:00Z")
    consent(lake, "--user-id", BOB, "--purpose", "ml", "--decision", "granted",
            "--ts", "2026-10-02T09:00:00Z")
    consent(lake, "--user-id", BOB, "--purpose", "ml", "--decision", "withdrawn",
            "--ts", "2026-10-08T12:00:00Z")
    consent(lake, "--user-id", DAVE, "--purpose", "ml", "--decision", "granted",
            "--ts", "2026-10-12T08:00:00Z")
    consent(lake, "--user-id", FRANK, "--purpose", "ml", "--decision", "granted",
            "--ts", "2026-10-01T08:00:00Z", "--expires-at", "2026-10-10T12:00:00Z")
    consent(lake, "--user-id", ERIN, "--purpose", "personalization", "--decision", "granted",
            "--ts", "2026-10-10T06:00:00Z")
    check(mdp("consent", "verify", "--dir", lake, ok=False).returncode == 0, "the journal verifies")

    # the analytics consent gate at curate (spec 7): alice (by address) and erin from before their
    # events; bob until his withdrawal; grace until her grant expires; carol and heidi never
    consent(lake, "--email", "alice@t.example", "--purpose", "analytics", "--decision", "granted",
            "--ts", "2026-10-01T10:05:00Z")
    consent(lake, "--user-id", ERIN, "--purpose", "analytics", "--decision", "granted",
            "--ts", "2026-10-10T06:00:00Z")
    consent(lake, "--user-id", BOB, "--purpose", "analytics", "--decision", "granted",
            "--ts", "2026-10-02T09:00:00Z")
    consent(lake, "--user-id", BOB, "--purpose", "analytics", "--decision", "withdrawn",
            "--ts", "2026-10-07T00:00:00Z")
    consent(lake, "--user-id", GRACE, "--purpose", "analytics", "--decision", "granted",
            "--ts", "2026-10-01T00:00:00Z", "--expires-at", "2026-10-06T12:00:00Z")
    mdp("curate", "--dir", lake, "--full")
    steps = query(lake, "SELECT user_id, strftime(\"timestamp\", '%Y-%m-%dT%H:%M:%S') AS ts "
                        "FROM fact_onboarding_steps ORDER BY ALL")
    by = {}
    for r in steps:
        by.setdefault(r["user_id"], []).append(r["ts"])
    check(HEIDI not in by, f"heidi (no analytics consent) has no onboarding facts: {by.get(HEIDI)}")
    check(by.get(BOB) == ["2026-10-05T10:00:00"], f"bob: the step before his withdrawal is kept, "
          f"the one after is withheld: {by.get(BOB)}")
    check(by.get(GRACE) == ["2026-10-04T10:00:00"], f"grace: kept before her grant expires, "
          f"withheld at the instant and after: {by.get(GRACE)}")
    check(len(by.get(ALICE, [])) == 6 and len(by.get(ERIN, [])) == 10,
          f"alice (consent by address) and erin keep all their steps: {len(by.get(ALICE, []))} "
          f"{len(by.get(ERIN, []))}")
    runs = [json.loads(l) for p in glob.glob(os.path.join(lake, "_meta", "runs", "*", "*.json"))
            for l in open(p) if '"curate.fact_onboarding_steps"' in l]
    last = max(runs, key=lambda r: r["start"])
    check("(18 rows; 5 withheld: no valid analytics consent)" in last["message"],
          f"the run log counts the withheld rows (bob 1, grace 2, heidi 2): {last['message']}")
    raw = "".join(open(os.path.join(dp, f)).read() for dp, _, fs in
                  os.walk(os.path.join(lake, "raw", "events")) for f in fs)
    check(raw.count(HEIDI) == 2, "raw keeps the withheld events")
    q = "".join(open(os.path.join(dp, f)).read() for dp, _, fs in
                os.walk(os.path.join(lake, "curated")) for f in fs if f.endswith(".ndjson"))
    check(HEIDI not in q, "withheld events are not copied into the curated quarantine")

    mdp("features", "--from", "2026-10-05", "--to", "2026-10-12", "--dir", lake)
    mdp("segments", "--from", "2026-10-05", "--to", "2026-10-12", "--dir", lake)
    cols = [r["column_name"] for r in query(lake, "SELECT column_name FROM (DESCRIBE ml_user_features)")]
    check(cols == FEATURE_COLS, f"ml_user_features has the spec's columns in order: {cols}")
    # issue 11, defect 2: the spec's names, and the short names as aliases of the same rows
    for spec, short in (("ml_user_features", "features"), ("ml_user_segments", "segments")):
        a = query(lake, f"SELECT count(*) AS n FROM {spec}")
        b = query(lake, f"SELECT count(*) AS n FROM {short}")
        check(a and a == b and a[0]["n"] > 0, f"{spec} and its alias {short}: {a} {b}")

    # who has a row: ml consent valid at the end of the date, signed up by then
    want = {"2026-10-07": {ALICE, BOB, CAROL, FRANK},  # bob withdraws on 10-08 12:00
            "2026-10-08": {ALICE, CAROL, FRANK},
            "2026-10-09": {ALICE, CAROL, FRANK},       # frank's grant expires 10-10 12:00
            "2026-10-10": {ALICE, CAROL},              # erin: no ml consent (ddb one quarantined)
            "2026-10-12": {ALICE, CAROL, DAVE}}        # dave signed up on 10-12
    for day, users in want.items():
        got = set(features(lake, day))
        check(got == users, f"features {day}: users {sorted(got)}, want {sorted(users)}")

    f = features(lake, "2026-10-10")
    a = f.get(ALICE, {})
    exp_a = {"steps_completed_7d": 3,        # 10-04 00:00, 10-10 23:59:59.999, 10-11 01:30+02
             "steps_completed_30d": 4,       # and 10-03 23:59:59; not 10-11 00:00
             "email_opens_7d": 1, "email_clicks_7d": 1,
             "email_opens_30d": 2, "email_clicks_30d": 1,  # 09-20 in, 09-05 out
             "login_count_30d": 2,           # successes on 10-05 and 10-10
             "vc_score_delta_7d": 21,        # 61 (10-09) - 40 (10-02, before the window)
             "avg_step_duration_seconds": 55.0,  # (100 + 50 + 30 + 40) / 4
             "preferred_comm_tone": "facts",  # brief only from 10-11
             "last_activity_days_ago": 0,
             "updated_at": "2026-10-11 00:00:00"}
    for k, v in exp_a.items():
        got = a.get(k)
        if isinstance(v, float):
            got = float(got) if got is not None else None
        check(got == v, f"alice 2026-10-10 {k} = {got!r}, want {v!r}")
    c = f.get(CAROL, {})
    exp_c = {"steps_completed_7d": 0, "steps_completed_30d": 0, "email_opens_30d": 0,
             "login_count_30d": 0, "vc_score_delta_7d": None, "avg_step_duration_seconds": None,
             "preferred_comm_tone": "encouraging", "last_activity_days_ago": None}
    for k, v in exp_c.items():
        check(c.get(k, "absent") == v, f"carol (no events) {k} = {c.get(k, 'absent')!r}, want {v!r}")
    a5 = features(lake, "2026-10-05").get(ALICE, {})
    check(a5.get("vc_score_delta_7d") == 0, f"alice 10-05: one check, delta 0: {a5.get('vc_score_delta_7d')}")
    check(features(lake, "2026-10-07").get(BOB, {}).get("last_activity_days_ago") == 2,
          "bob 10-07: last activity on 10-05")
    check(features(lake, "2026-10-12").get(ALICE, {}).get("preferred_comm_tone") == "brief",
          "alice 10-12: the tone set on 10-11")

    seg = {r["user_id"]: r for r in query(
        lake, "SELECT * FROM segments WHERE segment_date = DATE '2026-10-10'")}
    check(set(seg) == {ALICE, BOB, CAROL, ERIN}, f"segments 10-10: active users signed up by then "
          f"(frank inactive, dave later): {sorted(seg)}")
    exp_seg = {ALICE: ("8-14", 9, "low", "marketing_opted_in", "solo-sarah"),
               BOB: ("8-14", 8, None, "email_only", "bewahrer-ben"),   # DOI via VcTokens;
               # bob withdrew analytics on 10-07: his engagement is unknown from then on
               CAROL: ("8-14", 9, None, "unverified", "solo-sarah"),  # no analytics consent
               ERIN: ("0", 0, "high", "unverified", "ketten-katrin")}  # 10 steps on day 0
    for u, (bucket, day, eng, cs, persona) in exp_seg.items():
        r = seg.get(u, {})
        got = (r.get("onb_day_bucket"), r.get("onb_day"), r.get("engagement_level"),
               r.get("consent_state"), r.get("persona_current"))
        check(got == (bucket, day, eng, cs, persona), f"segment of {u[-2:]}: {got}")
    s11 = query(lake, f"SELECT persona_current FROM segments WHERE segment_date = DATE "
                      f"'2026-10-11' AND user_id = '{ALICE}'")
    check(s11 == [{"persona_current": "wachstums-walter"}], f"alice's persona from 10-11: {s11}")

    # the serving snapshot is of the last date (10-12)
    info = json.loads(mdp("snapshot", "info", "--dir", lake, "--json").stdout)
    check(info["date"] == "2026-10-12", f"snapshot date: {info}")
    sa = json.loads(mdp("snapshot", "get", ALICE, "--dir", lake, "--json").stdout)
    fa = features(lake, "2026-10-12")[ALICE]
    for k in ("steps_completed_7d", "steps_completed_30d", "email_opens_30d", "login_count_30d",
              "vc_score_delta_7d", "preferred_comm_tone", "last_activity_days_ago"):
        check(sa.get(k) == fa.get(k), f"snapshot {k} = {sa.get(k)!r}, features say {fa.get(k)!r}")
    check(abs(float(sa["avg_step_duration_seconds"]) - float(fa["avg_step_duration_seconds"])) < 0.006,
          "snapshot avg_step_duration_seconds")
    check(sa["ml_consent"] is True and sa["persona_current"] == "wachstums-walter", f"snapshot: {sa}")
    sc = json.loads(mdp("snapshot", "get", CAROL, "--dir", lake, "--json").stdout)
    check(sc["analytics_consent"] is False and sc["engagement_level"] is None,
          f"without analytics consent the snapshot has no engagement for carol: {sc}")
    check(sa["analytics_consent"] is True and sa["engagement_level"] == "medium",
          f"alice's engagement is in the snapshot: {sa}")
    check(mdp("snapshot", "get", "0192a000-0000-7000-8000-000000000099", "--dir", lake,
              ok=False).returncode == 1, "an unknown user is not in the snapshot")

    # a backfill of one date equals the range run; a late event changes only its dates
    before = {d: checksum(lake, "features", "feature_date", d) for d in
              ("2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08", "2026-10-09", "2026-10-10")}
    mdp("features", "--date", "2026-10-09", "--dir", lake)
    check(checksum(lake, "features", "feature_date", "2026-10-09") == before["2026-10-09"],
          "a backfill of 2026-10-09 equals what the range run computed")
    check(json.loads(mdp("snapshot", "info", "--dir", lake, "--json").stdout)["date"] == "2026-10-12",
          "a backfill does not turn the serving snapshot back")
    write(land, "events/dt=2026-10-11/late.ndjson",
          step(ALICE, "2026-10-08T12:00:00Z", "step_completed", 20) + "\n")
    mdp("run", "--stages", "ingest", "--dir", lake)
    mdp("curate", "--dir", lake)
    mdp("features", "--from", "2026-10-05", "--to", "2026-10-10", "--dir", lake)
    for d, h in before.items():
        now = checksum(lake, "features", "feature_date", d)
        if d < "2026-10-08":
            check(now == h, f"the late 10-08 event leaves {d} unchanged")
        else:
            check(now != h, f"the late 10-08 event changes {d}")
    a = features(lake, "2026-10-10")[ALICE]
    check((a["steps_completed_7d"], a["steps_completed_30d"], float(a["avg_step_duration_seconds"]))
          == (4, 5, 48.0), f"alice 10-10 with the late event: {a}")

    # withdrawing removes the user from the dates after the withdrawal, not before
    consent(lake, "--user-id", ALICE, "--purpose", "ml", "--decision", "withdrawn",
            "--ts", "2026-10-11T10:00:00Z")
    mdp("features", "--from", "2026-10-10", "--to", "2026-10-12", "--dir", lake)
    check(ALICE in features(lake, "2026-10-10"), "alice keeps her row before the withdrawal")
    check(ALICE not in features(lake, "2026-10-11") and ALICE not in features(lake, "2026-10-12"),
          "alice has no row from the day of her withdrawal")
    sa = json.loads(mdp("snapshot", "get", ALICE, "--dir", lake, "--json").stdout)
    check(sa["ml_consent"] is False and sa["has_features"] is False,
          f"the snapshot drops alice's features: {sa}")

    # bad usage
    check(mdp("features", "--from", "2026-10-10", "--dir", lake, ok=False).returncode == 2,
          "--from without --to is a usage error")
    check(mdp("features", "--date", "2026-13-01", "--dir", lake, ok=False).returncode == 2,
          "a bad date is a usage error")
    empty = os.path.join(tmp, "empty")
    mdp("init", "--dir", empty)
    p = mdp("features", "--dir", empty, ok=False)
    check(p.returncode == 1 and "mdp curate" in p.stderr, f"an uncurated lake: {p.stderr.strip()}")

    # the demo: mdp run produces segments and features with the spec's columns
    demo = os.path.join(tmp, "demo")
    mdp("--config", DEMO_CFG, "demo", "--dir", demo)
    cols = [r["column_name"] for r in query(demo, "SELECT column_name FROM (DESCRIBE features)")]
    check(cols == FEATURE_COLS, f"demo ml/features columns: {cols}")
    n = query(demo, "SELECT count(*) AS n, count(DISTINCT feature_date) AS d FROM features")[0]
    check(n["n"] > 0 and n["d"] == 1, f"demo features rows: {n}")
    n = query(demo, "SELECT count(*) AS n FROM segments")[0]["n"]
    check(n > 0, f"demo segments rows: {n}")
    gate = query(demo, "SELECT count(*) AS n FROM features f JOIN dim_user u USING (user_id)")[0]["n"]
    check(gate == query(demo, "SELECT count(*) AS n FROM features")[0]["n"], "demo features join dim_user")
    check(json.loads(mdp("snapshot", "info", "--dir", demo, "--json").stdout)["users"] >= n,
          "the demo snapshot holds every segmented user")

    subprocess.run(["rm", "-rf", tmp])
    return finish("ml")


if __name__ == "__main__":
    sys.exit(main())
