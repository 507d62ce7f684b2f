#!/usr/bin/env bash
# Acceptance of retention (issue 12 part 2) with an injected clock on a demo lake whose six days
# end five days ago: +8 days (DOI tokens past their TTL gone), +15 months (the GA4 copy and every
# 90-day raw dataset gone, SES kept), +19 months (email events gone: raw SES and
# fact_email_events), +25 months (curated and ml partitions gone, the consent journal intact),
# inactive users at 36 months (a clock chosen so that only some are inactive), then all of them,
# and the consent journal's records 3 years after their decision stopped being in force (pruned to
# their hashes: the chain still verifies; the ledger lists them; contact rows named by none go).
# Every expected count is computed here independently: the raw files by walking the folders
# against the specification's periods, rows and tokens by direct queries before the run. Also: the
# ledger's chain verifies and a tampered entry is named; curate after retention does not rebuild
# what retention emptied; a features backfill inside the kept raw window works and one of a day
# retention removed is refused; the landing folder's deliveries of the removed days go too, and
# one dropped there again is not ingested. Usage: retention.sh /path/to/mdp
MDP=${1:?usage: retention.sh /path/to/mdp}
source "$(dirname "$0")/lib.sh"
L=$T/lake
INV=$ROOT/config/inventory.yaml
export INV

py() { python3 - "$@"; }
q() { "$MDP" --log-level off query --dir "$L" --format csv "$1" 2>>"$T/q.err" | tail -n +2; }
plan() { "$MDP" --log-level off --json retention plan --dir "$L" --file "$INV" --now "$1"; }
apply() { "$MDP" --log-level off --json retention apply --dir "$L" --file "$INV" --now "$1"; }

start=$(date -u -d '10 days ago' +%F)
end=$(date -u -d '5 days ago' +%F)
expect_rc 0 "demo" -- "$MDP" --log-level off demo --dir "$L" --users 60 --days 6 --start "$start"
for e in a b c; do
  "$MDP" --log-level off consent doi issue --dir "$L" --email "$e@example.com" >/dev/null || bad "doi issue"
done

# the specification's periods (spec 7 and spec 1), written here, not read from the inventory
cat >"$T/rules.py" <<'PY'
import datetime as dt, os, sys, json, sqlite3
RAW = {"ses": (0, 18), "ga4": (0, 14)}  # (days, months); every other raw dataset: 90 days
def months_before(t, m):
    y, mo = divmod(t.year * 12 + t.month - 1 - m, 12)
    import calendar
    d = min(t.day, calendar.monthrange(y, mo + 1)[1])
    return t.replace(year=y, month=mo + 1, day=d)
def cutoff(t, days=0, months=0):
    return months_before(t, months) - dt.timedelta(days=days)
def due(day, cut):  # a day folder is due when the whole day lies before the cutoff
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.timezone.utc) <= cut
def raw_due(lake, t):
    out = {}
    for src in sorted(os.listdir(f"{lake}/raw")):
        if src == "_quarantine": continue
        for ds in sorted(os.listdir(f"{lake}/raw/{src}")):
            days, months = RAW.get(src, (90, 0))
            cut = cutoff(t, days, months)
            n = 0
            for f in os.listdir(f"{lake}/raw/{src}/{ds}"):
                day = dt.date.fromisoformat(f[3:])
                if due(day, cut): n += len(os.listdir(f"{lake}/raw/{src}/{ds}/{f}"))
            out[f"raw.{src}.{ds}"] = n
    return out
def parse_t(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
def landing_days(lake):  # every dated delivery of the landing folder: (path, source, day)
    import re
    out = []
    for root, _, files in os.walk(f"{lake}/landing"):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), f"{lake}/landing")
            m = re.search(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})/", rel) or re.search(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/", rel)
            if not m: continue
            day = dt.date.fromisoformat(m.group(1) if m.lastindex == 1 else "-".join(m.groups()))
            out.append((rel, rel.split("/")[0], day))
    return out
def landing_due(lake, t):
    return sorted(p for p, src, day in landing_days(lake) if due(day, cutoff(t, *RAW.get(src, (90, 0)))))
PY
export PYTHONPATH=$T

# the clock of each step, from the demo's last day
at() { py "$end" "$1" "$2" <<'PY'
import sys, datetime as dt, calendar
e = dt.date.fromisoformat(sys.argv[1]); m, d = int(sys.argv[2]), int(sys.argv[3])
y, mo = divmod(e.year * 12 + e.month - 1 + m, 12)
t = dt.date(y, mo + 1, min(e.day, calendar.monthrange(y, mo + 1)[1])) + dt.timedelta(days=d)
print(t.isoformat() + "T12:00:00Z")
PY
}
# per dataset of the lake: objects and rows the plan lists (Supabase's own rows: see below and
# tests/integration/retention_supabase.sh)
by_ds() { py "$1" <<'PY'
import json, sys
p = json.load(open(sys.argv[1])); out = {}
for s in p["steps"]:
    if s["unit"] in ("source_rows", "landing"): continue
    o = out.setdefault(s["dataset"], [0, 0]); o[0] += s["objects"]; o[1] += s["rows"] if s["rows"] > 0 else 0
print(json.dumps(out, sort_keys=True))
PY
}
rows_of() { q "SELECT count(*) FROM $1"; }
# the consent journal's records due at T: a decision stops being in force when a later one for the
# purpose names all of its subject keys, when its grant expires, or (a withdrawal) when made; it is
# due 36 months after that (spec 7: 3 years). Prints the due seqs, those pruned before left out.
jdue() { py "$L/_meta/state.sqlite" "$1" <<'PY'
import json, sqlite3, sys, rules
cut = int(rules.months_before(rules.parse_t(sys.argv[2]), 36).timestamp() * 1000)
recs = [json.loads(b) for (b,) in sqlite3.connect(sys.argv[1]).execute(
    "SELECT body FROM items WHERE tbl='consent_journal' ORDER BY sk")]
live = [r for r in recs if not r.get("pruned")]
out = []
for r in live:
    if r["decision"] == "withdrawn":
        end = r["ts_ms"]
    else:
        later = [x["ts_ms"] for x in live if x["purpose"] == r["purpose"]
                 and (x["ts_ms"], x["seq"]) > (r["ts_ms"], r["seq"])
                 and (not r["email_hmac"] or x["email_hmac"] == r["email_hmac"])
                 and (not r["user_hmac"] or x["user_hmac"] == r["user_hmac"])]
        end = min(later + ([r["expires_at_ms"]] if r["expires_at_ms"] else []), default=None)
    if end is not None and end <= cut:
        out.append(str(r["seq"]))
print(" ".join(out))
PY
}

# ---- +8 days: the DOI tokens go, nothing else is due
T1=$(date -u -d '8 days' +%FT%TZ)
tokens=$(py "$L/_meta/state.sqlite" "$T1" <<'PY'
import sqlite3, sys, rules
t = int(rules.parse_t(sys.argv[2]).timestamp())
print(sqlite3.connect(sys.argv[1]).execute(
    "SELECT count(*) FROM items WHERE tbl='vc_tokens' AND expires_at > 0 AND expires_at <= ?", (t,)).fetchone()[0])
PY
)
[ "$tokens" = 3 ] && ok || bad "3 tokens issued, $tokens expire by +8 days"
plan "$T1" >"$T/p1.json"
[ "$(by_ds "$T/p1.json")" = "{\"state.vc_tokens\": [$tokens, $tokens]}" ] && ok || bad "+8 days plan: $(by_ds "$T/p1.json")"
plan "$(date -u -d '6 days' +%FT%TZ)" >"$T/p0.json"
[ "$(by_ds "$T/p0.json")" = "{}" ] && ok || bad "+6 days: nothing due yet: $(by_ds "$T/p0.json")"
apply "$T1" >/dev/null && ok || bad "apply +8 days"
left=$(py "$L/_meta/state.sqlite" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM items WHERE tbl='vc_tokens'").fetchone()[0])
PY
)
[ "$left" = 0 ] && ok || bad "$left tokens left after +8 days"
# a backfill inside the kept raw window still works
expect_rc 0 "features backfill inside the raw window" -- "$MDP" --log-level off features --dir "$L" --date "$start"

# before: rows of every published table, the consent journal
declare -A before cols
cols_of() { q "SELECT string_agg(column_name || ' ' || column_type, ',' ORDER BY column_name) FROM (DESCRIBE $1)"; }
for t in fact_email_events fact_login_oauth fact_onboarding_steps fact_visibility_check ml_user_segments ml_user_features dim_user identity_links; do
  before[$t]=$(rows_of "$t")
  cols[$t]=$(cols_of "$t")
done
# a table retention empties stays: no row, the same columns (a reader's query still runs)
emptied() { [ "$(rows_of "$1")" = 0 ] && [ "$(cols_of "$1")" = "${cols[$1]}" ] && [ -n "${cols[$1]}" ]; }
journal=$("$MDP" --log-level off consent verify --dir "$L")
"$MDP" --log-level off curate --dir "$L" >/dev/null

# ---- +15 months: GA4 and the 90-day raw datasets go; SES and the curated zone stay
T2=$(at 15 0)
py "$L" "$T2" >"$T/want2.json" <<'PY'
import json, sys, rules
print(json.dumps({k: v for k, v in rules.raw_due(sys.argv[1], rules.parse_t(sys.argv[2])).items() if v}, sort_keys=True))
PY
plan "$T2" >"$T/p2.json"
py "$T/p2.json" "$T/want2.json" <<'PY' && ok || bad "+15 months plan differs from the walk: $(cat "$T/want2.json")"
import json, sys
p = json.load(open(sys.argv[1])); want = json.load(open(sys.argv[2])); got = {}
for s in p["steps"]:
    if s["dataset"].startswith("raw.") and s["unit"] == "day_folder":
        got[s["dataset"]] = got.get(s["dataset"], 0) + s["objects"]
assert got == want, (got, want)
assert "raw.ga4.runreport" in want and "raw.events.app_events" in want and "raw.ses.sqs" not in want
assert not [s for s in p["steps"] if s["dataset"].startswith(("curated.", "ml.", "raw.ses."))], p
PY
# the landing folder's deliveries of the due days go too (the same records, past their period)
py "$L" "$T2" >"$T/landing_due" <<'PY'
import sys, rules
print("\n".join(rules.landing_due(sys.argv[1], rules.parse_t(sys.argv[2]))))
PY
(cd "$L/landing" && find . -type f | sed 's|^\./||' | sort) >"$T/landing_before"
py "$T/p2.json" "$T/landing_due" <<'PY' && ok || bad "+15 months: the plan's landing deliveries differ from the walk"
import json, sys
p = json.load(open(sys.argv[1])); want = [l for l in open(sys.argv[2]).read().split("\n") if l]
got = sum(s["objects"] for s in p["steps"] if s["unit"] == "landing")
assert want and got == len(want), (got, len(want))
PY
apply "$T2" >/dev/null && ok || bad "apply +15 months"
(cd "$L/landing" && find . -type f | sed 's|^\./||' | sort) >"$T/landing_after"
[ "$(comm -23 "$T/landing_before" "$T/landing_after")" = "$(sort "$T/landing_due" | grep .)" ] && [ -n "$(cat "$T/landing_after")" ] \
  && ok || bad "landing after +15 months: removed $(comm -23 "$T/landing_before" "$T/landing_after" | wc -l), due $(grep -c . "$T/landing_due")"
[ -n "$(find "$L/landing/ses" -type f)" ] && ok || bad "SES landing went before 18 months"
[ ! -d "$L/raw/ga4/runreport" ] || [ -z "$(ls "$L/raw/ga4/runreport")" ] && ok || bad "GA4 copy left"
[ -z "$(ls "$L/raw/events/app_events" 2>/dev/null)" ] && ok || bad "app events left after 90 days"
[ -n "$(ls "$L/raw/ses/sqs")" ] && ok || bad "SES went before 18 months"
for t in fact_email_events fact_onboarding_steps ml_user_features; do
  [ "$(rows_of "$t")" = "${before[$t]}" ] && ok || bad "$t changed at +15 months"
done
# curate afterwards does not rebuild the days retention emptied
"$MDP" --log-level off curate --dir "$L" >/dev/null || bad "curate after retention"
for t in fact_onboarding_steps fact_login_oauth dim_user; do
  [ "$(rows_of "$t")" = "${before[$t]}" ] && ok || bad "curate after retention changed $t: $(rows_of "$t") rows, ${before[$t]} before"
done
# a delivery of a removed day dropped into the landing folder again (a source's re-delivery, a
# landing folder outside the lake): ingest brings nothing back
rawn=$(find "$L/raw" -type f | wc -l)
g=$(grep -m1 '^ga4/' "$T/landing_due")
[ -n "$g" ] && mkdir -p "$L/landing/$(dirname "$g")" && printf '{"rows":[]}' >"$L/landing/$g" || bad "no GA4 delivery was due"
"$MDP" --log-level off run --stages ingest --dir "$L" >/dev/null || bad "ingest after retention"
[ "$(find "$L/raw" -type f | wc -l)" = "$rawn" ] && ok || bad "ingest brought back $(( $(find "$L/raw" -type f | wc -l) - rawn )) raw objects retention removed"
[ -z "$(ls "$L/raw/ga4/runreport" 2>/dev/null)" ] && ok || bad "the GA4 copy came back"
# a backfill of a day retention removed is refused
expect_rc 1 "a backfill of a removed raw day is refused" -- "$MDP" features --dir "$L" --date "$start"
expect_in "$T/err" "cannot backfill $start: retention removed the raw data up to $end" "says why"
expect_rc 1 "segments too" -- "$MDP" segments --dir "$L" --date "$end"

# ---- +19 months: email events go (raw SES and fact_email_events), the other facts stay
T3=$(at 19 0)
sesfiles=$(find "$L/raw/ses" -type f | wc -l)
plan "$T3" >"$T/p3.json"
[ "$(by_ds "$T/p3.json")" = "{\"curated.fact_email_events\": [6, ${before[fact_email_events]}], \"raw.ses.sqs\": [$sesfiles, 0]}" ] \
  && ok || bad "+19 months plan: $(by_ds "$T/p3.json"), want $sesfiles SES files, ${before[fact_email_events]} email rows"
apply "$T3" >/dev/null && ok || bad "apply +19 months"
emptied fact_email_events && ok || bad "fact_email_events: $(rows_of fact_email_events) rows, columns $(cols_of fact_email_events)"
[ "$(find "$L/raw/ses" -type f 2>/dev/null | wc -l)" = 0 ] && ok || bad "raw SES left"
# on disk: only the table's file of no rows
[ "$(find "$L/curated/facts/fact_email_events" -name '*.parquet' | wc -l)" = 1 ] && [ "$(q "SELECT count(*) FROM read_parquet('$L/curated/facts/fact_email_events/**/*.parquet')")" = 0 ] && ok || bad "email Parquet with rows left on disk"
[ "$(rows_of fact_onboarding_steps)" = "${before[fact_onboarding_steps]}" ] && ok || bad "onboarding facts went early"

# ---- +25 months: the curated and ml partitions go; the consent journal survives
T4=$(at 25 0)
plan "$T4" >"$T/p4.json"
want4="{\"curated.fact_login_oauth\": [$(find "$L/curated/facts/fact_login_oauth" -name '*.parquet' | wc -l), ${before[fact_login_oauth]}], \"curated.fact_onboarding_steps\": [$(find "$L/curated/facts/fact_onboarding_steps" -name '*.parquet' | wc -l), ${before[fact_onboarding_steps]}], \"curated.fact_visibility_check\": [$(find "$L/curated/facts/fact_visibility_check" -name '*.parquet' | wc -l), ${before[fact_visibility_check]}], \"ml.features\": [$(find "$L/ml/features" -name '*.parquet' | wc -l), ${before[ml_user_features]}], \"ml.segments\": [$(find "$L/ml/segments" -name '*.parquet' | wc -l), ${before[ml_user_segments]}]}"
[ "$(by_ds "$T/p4.json")" = "$want4" ] && ok || bad "+25 months plan: $(by_ds "$T/p4.json"), want $want4"
apply "$T4" >/dev/null && ok || bad "apply +25 months"
n=$(q "SELECT count(*) FROM read_parquet(['$L/curated/facts/**/*.parquet', '$L/ml/**/*.parquet'], union_by_name = true)")
[ "$n" = 0 ] && ok || bad "$n fact/ml rows left on disk at +25 months"
for t in fact_login_oauth fact_onboarding_steps fact_visibility_check ml_user_segments ml_user_features; do
  emptied "$t" && ok || bad "$t at +25 months: $(rows_of "$t") rows, columns $(cols_of "$t")"
done
[ "$("$MDP" --log-level off consent verify --dir "$L")" = "$journal" ] && ok || bad "the consent journal changed"
[ "$(rows_of dim_user)" = "${before[dim_user]}" ] && ok || bad "users went before 36 months"

# ---- 36 months after the median user's last activity: exactly the users inactive since then go
act="SELECT CAST(u.user_id AS VARCHAR) AS u, greatest(CAST(u.signup_date AS TIMESTAMP), coalesce(u.last_login, TIMESTAMP '1970-01-01'), coalesce(max(l.last_seen), TIMESTAMP '1970-01-01')) AS last FROM dim_user u LEFT JOIN identity_links l ON l.user_id = u.user_id GROUP BY u.user_id, u.signup_date, u.last_login"
mid=$(q "SELECT strftime(quantile_disc(last, 0.5), '%Y-%m-%dT%H:%M:%SZ') FROM ($act)")
T5=$(py "$mid" <<'PY'
import sys, rules, datetime as dt
t = rules.parse_t(sys.argv[1]) + dt.timedelta(seconds=1)
y, m = divmod(t.year * 12 + t.month - 1 + 36, 12)
print(t.replace(year=y, month=m + 1).strftime("%Y-%m-%dT%H:%M:%SZ"))
PY
)
cut=$(q "SELECT strftime(TIMESTAMP '${mid/T/ } ' + INTERVAL 1 SECOND, '%Y-%m-%d %H:%M:%S')" | tr -d Z)
inactive=$(q "SELECT count(*) FROM ($act) WHERE last < TIMESTAMP '$cut'")
links=$(q "SELECT count(*) FROM identity_links WHERE CAST(user_id AS VARCHAR) IN (SELECT u FROM ($act) WHERE last < TIMESTAMP '$cut')")
[ "$inactive" -gt 0 ] && [ "$inactive" -lt "${before[dim_user]}" ] && ok || bad "the clock should split the users: $inactive of ${before[dim_user]}"
j5=$(jdue "$T5" | wc -w)
want5="\"curated.dim_user\": [1, $inactive], \"curated.identity_links\": [1, $links]"
[ "$j5" -gt 0 ] && want5="$want5, \"state.consent_journal\": [$j5, $j5]"
plan "$T5" >"$T/p5.json"
[ "$(by_ds "$T/p5.json")" = "{$want5}" ] \
  && ok || bad "36 months plan: $(by_ds "$T/p5.json"), want $inactive users, $links links, $j5 journal records"
py "$T/p5.json" "$inactive" <<'PY' && ok || bad "the plan lists other users due in Supabase than in the lake"
import json, sys
p = json.load(open(sys.argv[1]))
up = [s for s in p["steps"] if s["dataset"] == "supabase.user_profiles"]
assert len(up) == 1 and up[0]["unit"] == "source_rows" and up[0]["objects"] == int(sys.argv[2]), up
PY
apply "$T5" >/dev/null 2>"$T/apply5.err" && ok || bad "apply 36 months"
expect_in "$T/apply5.err" "left alone without --supabase" "says Supabase was not touched"
[ "$(rows_of dim_user)" = "$((before[dim_user] - inactive))" ] && ok || bad "dim_user: $(rows_of dim_user) rows"
[ "$(rows_of identity_links)" = "$((before[identity_links] - links))" ] && ok || bad "identity_links: $(rows_of identity_links) rows"
[ "$(q "SELECT count(*) FROM ($act) WHERE last < TIMESTAMP '$cut'")" = 0 ] && ok || bad "an inactive user survived"
[ "$(find "$L/curated/dimensions/dim_user" -name '*.parquet' | wc -l)" = 1 ] && ok || bad "the old dim_user file is still there"

# ---- +37 months: everybody is inactive now; every decision of the demo that ended is 3 years old
j37=$(jdue "$(at 37 0)")
records=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM items WHERE tbl = ?", ("consent_journal",)).fetchone()[0])' "$L/_meta/state.sqlite")
pruned=$((j5 + $(wc -w <<<"$j37")))
[ "$(wc -w <<<"$j37")" -gt 0 ] && ok || bad "the demo's journal has no decision that ended (superseded or withdrawn)"
apply "$(at 37 0)" >"$T/p6.json" 2>/dev/null && ok || bad "apply +37 months"
emptied dim_user && ok || bad "dim_user at +37 months: $(rows_of dim_user) rows, columns $(cols_of dim_user)"
# the consent journal: the due records pruned to their hashes, the chain intact, the rest unchanged
[ "$("$MDP" --log-level off consent verify --dir "$L")" = "consent journal intact: $records records, hash chain verified ($pruned pruned by retention: their hashes kept in the chain)" ] \
  && ok || bad "the consent journal at +37 months: $("$MDP" --log-level off consent verify --dir "$L" 2>&1), want $pruned of $records pruned"
py "$L" "$j37" <<'PY' && ok || bad "the ledger lists other journal records than those due, or a contact row outlived its records"
import glob, json, os, sqlite3, sys
lake, want = sys.argv[1], set(sys.argv[2].split())
listed = set()
for f in sorted(glob.glob(os.path.join(lake, "_meta/ledger/*.json"))):
    e = json.load(open(f))
    if e.get("dataset") == "state.consent_journal":
        for t in e["targets"]:
            listed.update(k.split(":")[0] for k in t["records"])
db = sqlite3.connect(os.path.join(lake, "_meta/state.sqlite"))
recs = [json.loads(b) for (b,) in db.execute("SELECT body FROM items WHERE tbl='consent_journal'")]
pruned = {str(r["seq"]) for r in recs if r.get("pruned")}
assert want <= listed == pruned, (sorted(want - listed), sorted(listed ^ pruned))
named = {r[k] for r in recs if not r.get("pruned") for k in ("email_hmac", "user_hmac") if r[k]}
rows = {pk for (pk,) in db.execute("SELECT pk FROM items WHERE tbl='consent_contact'")}
assert rows <= named, sorted(rows - named)[:3]
PY
plan "$(at 37 0)" >"$T/p7.json"
[ "$(by_ds "$T/p7.json")" = "{}" ] && ok || bad "a second run finds more: $(by_ds "$T/p7.json")"

# ---- the ledger: one entry per dataset applied, chained
entries=$(ls "$L/_meta/ledger" | wc -l)
expect_rc 0 "ledger verifies" -- "$MDP" retention verify --dir "$L"
expect_in "$T/out" "ledger intact: $entries entries" "every entry counted"
py "$L/_meta/ledger" <<'PY' && ok || bad "ledger entries lack what, how many, bytes or the rule"
import json, os, sys
d = sys.argv[1]
for f in sorted(os.listdir(d)):
    e = json.load(open(os.path.join(d, f)))
    assert e["dataset"] and e["rule"]["period"] and e["rule"]["clock"] and e["targets"], f
    assert e["objects"] + e["rows"] > 0 and e["bytes"] > 0 and len(e["hash"]) == 64, f
PY
# a live journal record replaced by a tombstone with its own hashes still chains (consent verify
# cannot tell), but no ledger entry made it: retention verify names it
py "$L/_meta/state.sqlite" <<'PY' || bad "forging a tombstone"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for sk, b in db.execute("SELECT sk, body FROM items WHERE tbl='consent_journal' ORDER BY sk"):
    r = json.loads(b)
    if not r.get("pruned"):
        t = '{"seq":%d,"pruned":true,"prev_hash":"%s","hash":"%s"}' % (r["seq"], r["prev_hash"], r["hash"])
        db.execute("UPDATE items SET body = ? WHERE tbl='consent_journal' AND sk = ?", (t, sk))
        db.commit()
        print(r["seq"], file=open(sys.argv[1] + ".forged", "w"))
        break
PY
expect_rc 0 "the forged tombstone chains" -- "$MDP" consent verify --dir "$L"
expect_rc 1 "retention verify finds the forged tombstone" -- "$MDP" retention verify --dir "$L"
expect_in "$T/err" "consent journal record $(cat "$L/_meta/state.sqlite.forged") is a tombstone no retention entry" "the record named"
sed -i 's/"objects":1,/"objects":2,/' "$L/_meta/ledger/0000000004.json"
expect_rc 1 "a tampered entry is found" -- "$MDP" retention verify --dir "$L"
expect_in "$T/err" "0000000004.json was altered" "the entry named"

# ---- the retention stage of `mdp run` (today's clock) on a lake whose data is 4 months old
O=$T/old
"$MDP" --log-level off demo --dir "$O" --users 20 --days 2 --start "$(date -u -d '120 days ago' +%F)" >/dev/null 2>&1 \
  || bad "the old demo lake"
printf 'governance:\n  inventory: %s\n' "$INV" >"$T/stage.yaml"
now=$(date -u +%FT%TZ)
due_now() { py "$O" "$now" <<'PY'
import sys, rules
print(sum(rules.raw_due(sys.argv[1], rules.parse_t(sys.argv[2])).values()))
PY
}
files() { find "$O/raw" "$O/landing" -type f 2>/dev/null | wc -l; }
due0=$(due_now)
[ "$due0" -gt 0 ] && ok || bad "the 4-month-old lake should have raw data past 90 days"
n0=$(files)
expect_rc 0 "mdp run --stages retention" -- "$MDP" --log-level off --config "$T/stage.yaml" run --stages retention --dir "$O"
[ "$(due_now)" = 0 ] && ok || bad "raw past its period after the stage: $(due_now)"
"$MDP" --log-level off runs --dir "$O" --json >"$T/runs.json" 2>/dev/null
py "$T/runs.json" "$((n0 - $(files)))" <<'PY' && ok || bad "the retention stage's run record"
import json, sys
r = [x for x in json.load(open(sys.argv[1])) if x["job"] == "retention"]
assert len(r) == 1 and r[0]["status"] == "ok", r
assert r[0]["out"] >= int(sys.argv[2]) > 0 and "ledger entries" in r[0]["message"], (r, sys.argv[2])
PY
expect_rc 0 "the stage's ledger verifies" -- "$MDP" retention verify --dir "$O"
finish retention
