#!/usr/bin/env bash
# Integration test of `mdp catalog ddl`: the Glue CreateTable inputs are accepted by Glue (moto's,
# through boto3, the independent client) and read back with the published tables' columns, the
# facts partitioned by date_key with projection; the Athena DDL names every table.
# Usage: catalog.sh path/to/mdp
MDP=${1:?usage: catalog.sh path/to/mdp}
source "$(dirname "$0")/../acceptance/lib.sh"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >"$T/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/moto-api/" >/dev/null && break; sleep 0.1; done
"$MDP" --log-level off demo --dir "$T/lake" --users 60 --days 4 >/dev/null 2>&1 && ok || bad "demo"
"$MDP" --log-level off catalog ddl --dir "$T/lake" --env test --glue-json >"$T/glue.json" && ok || bad "glue json"
"$MDP" --log-level off catalog ddl --dir "$T/lake" --env test --bucket my-bucket >"$T/ddl.sql" && ok || bad "ddl"
for t in fact_onboarding_steps fact_visibility_check fact_email_events fact_login_oauth dim_user dim_account \
         dim_location dim_time identity_links; do
  grep -q "CREATE EXTERNAL TABLE IF NOT EXISTS \`matbakh_test\`.\`$t\`" "$T/ddl.sql" && ok || bad "no DDL for $t"
done
grep -q "LOCATION 's3://my-bucket/curated/facts/fact_email_events/run-" "$T/ddl.sql" && ok || bad "bucket/location"
AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test python3 - "$T/glue.json" "$port" <<'PY' && ok || bad "Glue refused the tables"
import json, sys, boto3
inputs = json.load(open(sys.argv[1]))
glue = boto3.client("glue", region_name="eu-central-1", endpoint_url=f"http://127.0.0.1:{sys.argv[2]}")
glue.create_database(DatabaseInput={"Name": "matbakh_test"})
for t in inputs:
    glue.create_table(**t)
tables = {t["Name"]: t for t in glue.get_tables(DatabaseName="matbakh_test")["TableList"]}
assert len(tables) == 10 and "identity_held_back" in tables, sorted(tables)
f = tables["fact_email_events"]
cols = [c["Name"] for c in f["StorageDescriptor"]["Columns"]]
assert cols == ["event_id", "user_id", "email_lower", "campaign_id", "event_type", "copy_variant",
                "subject_variant", "timestamp"], cols
assert [p["Name"] for p in f["PartitionKeys"]] == ["date_key"], f["PartitionKeys"]
assert f["Parameters"]["projection.enabled"] == "true"
assert f["StorageDescriptor"]["Location"].startswith("s3://matbakh-data-test/curated/facts/fact_email_events/run-")
assert not tables["dim_user"]["PartitionKeys"]
assert {c["Name"]: c["Type"] for c in tables["dim_location"]["StorageDescriptor"]["Columns"]}["latitude"] == "decimal(10,8)"
PY
finish catalog
