#!/usr/bin/env bash
# Integration test of the state store's DynamoDB backend: the unit tests of the state store
# (tests/unit/test_state.c: items, conditional writes, put-if-newer, counters, transactions, TTL
# purge, pagination, the consent journal, DOI tokens and the bandit on top) run against moto's
# DynamoDB with SigV4 verified (scripts/moto.sh), each test on a table of its own made as
# `mdp aws bootstrap` makes one; boto3 then reads one of those tables back independently.
# Usage: state_dynamodb.sh path/to/test_state
TEST_STATE=${1:?usage: state_dynamodb.sh path/to/test_state}
MDP=$TEST_STATE
source "$(dirname "$0")/../acceptance/lib.sh"
trap 'bash "$ROOT/scripts/moto.sh" stop "$T/moto"; rm -rf "$T"' EXIT
bash "$ROOT/scripts/moto.sh" start "$T/moto" >/dev/null || { bad "moto did not start"; finish state_dynamodb; exit 1; }
source "$T/moto/env"
MDP_TEST_STATE_DYNAMODB=1 "$TEST_STATE" >"$T/out" 2>&1 && ok || { bad "test_state against DynamoDB"; cat "$T/out" >&2; }
grep -qF "PASSED  ] 14 test" "$T/out" && ok || bad "not the DynamoDB run of every shared test"
python3 - <<'PY' && ok || bad "boto3 read-back"
import boto3, os
ddb = boto3.client("dynamodb", region_name=os.environ["AWS_REGION"], endpoint_url=os.environ["AWS_ENDPOINT_URL"])
names = [n for n in ddb.list_tables()["TableNames"] if n.startswith("mdp-test-state-")]
assert len(names) == 14, names  # one per test that opens a store
# every table as bootstrap makes it: keys pk/sk, TTL on expires_at, the by_subject index
for n in names:
    t = ddb.describe_table(TableName=n)["Table"]
    assert [k["AttributeName"] for k in t["KeySchema"]] == ["pk", "sk"], t["KeySchema"]
    assert [g["IndexName"] for g in t["GlobalSecondaryIndexes"]] == ["by_subject"], t
    ttl = ddb.describe_time_to_live(TableName=n)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == "expires_at", ttl
# the consent journal of one test, as DynamoDB holds it: the state table folded into pk
found = 0
for n in names:
    for it in ddb.scan(TableName=n)["Items"]:
        if it["pk"]["S"] == "consent_head#journal":
            assert it["tbl"]["S"] == "consent_head" and int(it["n_seq"]["N"]) >= 1, it
            found += 1
        if it["tbl"]["S"] == "bandit" and "body" not in it:
            assert it["pk"]["S"].startswith("bandit#") and "N" in (it.get("n_s") or it.get("n_f")), it
assert found >= 3, found
# the per-subject index (issue 12): the items written with a subject carry it, and the by_subject
# index finds them with a Query
subj = 0
for n in names:
    for it in ddb.scan(TableName=n)["Items"]:
        if "subject" in it:
            q = ddb.query(TableName=n, IndexName="by_subject", KeyConditionExpression="subject = :s",
                          ExpressionAttributeValues={":s": it["subject"]})["Items"]
            assert any(x["pk"] == it["pk"] and x["sk"] == it["sk"] for x in q), (it, q)
            subj += 1
assert subj >= 3, subj
# the backfill of the index (mdp_state_set_subject, issue 12): an item written without a subject
# and given one afterwards is found by the index's Query
moved = [it for n in names for it in ddb.scan(TableName=n)["Items"]
         if it["pk"]["S"] == "contact#p1" and it.get("subject", {}).get("S") == "bob"]
assert moved and moved[0]["body"]["S"] == '{"v":1}', moved
PY
finish state_dynamodb
