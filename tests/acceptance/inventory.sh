#!/usr/bin/env bash
# Acceptance of the data inventory (issue 12 part 1): on a demo lake, `mdp inventory check` passes
# with config/inventory.yaml (so `make test` fails when a new column, raw dataset or state-store
# table arrives without a classification), and fails naming dataset and column when a column of a
# published table is not classified, when a raw dataset or a state-store table is not listed, and
# when the inventory names a table that does not exist; an invalid inventory names file, line and
# key; `mdp inventory ropa` renders the Art. 30 record with no empty field, as markdown and JSON.
# Usage: inventory.sh /path/to/mdp
MDP=${1:?usage: inventory.sh /path/to/mdp}
source "$(dirname "$0")/lib.sh"
L=$T/lake
INV=$ROOT/config/inventory.yaml

expect_rc 0 "demo" -- "$MDP" --log-level off demo --dir "$L" --users 60 --days 6
expect_rc 0 "check passes on the demo lake" -- "$MDP" inventory check --dir "$L" --file "$INV"
expect_in "$T/out" "inventory ok" "check says so"
"$MDP" --json inventory check --dir "$L" --file "$INV" >"$T/check.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['ok'] and d['count']==0 and d['datasets']>=50, d" \
  "$T/check.json" && ok || bad "check --json: $(head -c 300 "$T/check.json")"

# without --file the configured inventory (governance.inventory) is used; its default is the
# source tree's config/inventory.yaml, so the commands that read it work from any folder
(cd "$T" && "$MDP" inventory check --dir "$L" >/dev/null 2>&1) && ok || bad "check with the default inventory, outside the source tree"
(cd "$T" && "$MDP" retention plan --dir "$L" >/dev/null 2>&1) && ok || bad "retention plan with the default inventory, outside the source tree"
# a relative governance.inventory is taken from the working folder
mkdir -p "$T/wd/gov"
cp "$INV" "$T/wd/gov/inv.yaml"
printf 'governance:\n  inventory: gov/inv.yaml\n' >"$T/wd/conf.yaml"
(cd "$T/wd" && "$MDP" --config conf.yaml inventory check --dir "$L" >/dev/null 2>&1) && ok || bad "a relative inventory from the working folder"
(cd "$T" && "$MDP" --config wd/conf.yaml inventory check --dir "$L" >/dev/null 2>"$T/relerr") && bad "a relative inventory resolved outside the working folder" || ok
expect_in "$T/relerr" "gov/inv.yaml" "the missing relative inventory is named"

# a column of a published table without a PII class: named with its dataset
python3 - "$INV" "$T/no_col.yaml" <<'PY'
import sys
s = open(sys.argv[1]).read()
i = s.index("  curated.fact_email_events:")
j = s.index("      campaign_id: none\n", i)
open(sys.argv[2], "w").write(s[:j] + s[j + len("      campaign_id: none\n"):])
PY
expect_rc 1 "an unclassified column fails" -- "$MDP" inventory check --dir "$L" --file "$T/no_col.yaml"
expect_in "$T/out" "unclassified_column: curated.fact_email_events.campaign_id:" "dataset and column named"

# a classified column the table does not have
sed 's/^      campaign_id: none$/      campaign_id: none\n      campaign_name: none/' "$INV" >"$T/extra_col.yaml"
expect_rc 1 "a column that does not exist fails" -- "$MDP" inventory check --dir "$L" --file "$T/extra_col.yaml"
expect_in "$T/out" "unknown_column: curated.fact_email_events.campaign_name:" "the phantom column named"

# a published table missing from the inventory, and an entry naming a table nobody produces
python3 - "$INV" "$T/no_table.yaml" "$T/phantom.yaml" <<'PY'
import sys
s = open(sys.argv[1]).read()
i = s.index("  curated.dim_time:"); j = s.index("\n  curated.", i + 5)
open(sys.argv[2], "w").write(s[:i] + s[j + 1:])
block = s[i:j + 1].replace("curated.dim_time", "curated.dim_weather").replace(
    "curated/dimensions/dim_time", "curated/dimensions/dim_weather")
open(sys.argv[3], "w").write(s.rstrip("\n") + "\n\n" + block)
PY
expect_rc 1 "an unlisted published table fails" -- "$MDP" inventory check --dir "$L" --file "$T/no_table.yaml"
expect_in "$T/out" "unlisted_dataset: curated/dimensions/dim_time:" "the table named"
expect_rc 1 "a phantom table fails" -- "$MDP" inventory check --dir "$L" --file "$T/phantom.yaml"
expect_in "$T/out" "missing_dataset: curated.dim_weather:" "the phantom named"

# a raw dataset that arrived without a classification
mkdir -p "$L/raw/events/push_tokens/dt=2026-10-02"
echo '{"token":"x"}' >"$L/raw/events/push_tokens/dt=2026-10-02/0123456789abcdef0123456789abcdef.ndjson"
expect_rc 1 "an unlisted raw dataset fails" -- "$MDP" inventory check --dir "$L" --file "$INV"
expect_in "$T/out" "unlisted_dataset: raw/events/push_tokens:" "the raw dataset named"
# export and erasure refuse such a lake (they search by the inventory: the export would be
# incomplete, the erasure would leave the person there), naming it, and change nothing
U=$("$MDP" --log-level off query --dir "$L" --format csv "SELECT CAST(user_id AS VARCHAR) FROM dim_user LIMIT 1" | tail -1)
echo "{\"token\":\"x\",\"user_id\":\"$U\"}" >>"$L/raw/events/push_tokens/dt=2026-10-02/0123456789abcdef0123456789abcdef.ndjson"
(cd "$L" && find . -type f ! -name 'state.sqlite*' | sort | xargs sha256sum) >"$T/before"
expect_rc 1 "export refuses a lake with an unlisted dataset" -- "$MDP" dsar export "$U" --dir "$L" --file "$INV" --out "$T/x"
expect_in "$T/err" "does not list (first: raw/events/push_tokens), which the export could not search" "export names it"
expect_rc 1 "erasure refuses a lake with an unlisted dataset" -- "$MDP" dsar erase "$U" --dir "$L" --file "$INV"
expect_in "$T/err" "does not list (first: raw/events/push_tokens), which the erasure could not search" "erasure names it"
(cd "$L" && find . -type f ! -name 'state.sqlite*' | sort | xargs sha256sum) >"$T/after"
cmp -s "$T/before" "$T/after" && [ ! -e "$T/x" ] && ok || bad "a refused export or erasure changed the lake: $(diff "$T/before" "$T/after" | head -3)"
rm -rf "$L/raw/events/push_tokens"
expect_rc 0 "export once it is gone" -- "$MDP" --log-level off dsar export "$U" --dir "$L" --file "$INV" --out "$T/x"

# a state-store table nobody classified
python3 - "$INV" "$T/no_state.yaml" <<'PY'
import sys
s = open(sys.argv[1]).read()
i = s.index("  state.consent_head:"); j = s.index("\n  state.", i + 5)
open(sys.argv[2], "w").write(s[:i] + s[j + 1:])
PY
expect_rc 1 "an unlisted state-store table fails" -- "$MDP" inventory check --dir "$L" --file "$T/no_state.yaml"
expect_in "$T/out" "unlisted_dataset: consent_head:" "the state-store table named"

# an invalid inventory: file, line and key
line=$(grep -n "^  curated.dim_user:" "$INV" | cut -d: -f1)
sed "$((line + 1))a\\    colour: red" "$INV" >"$T/bad.yaml"
expect_rc 1 "an unknown key fails" -- "$MDP" inventory check --dir "$L" --file "$T/bad.yaml"
expect_in "$T/err" "$T/bad.yaml:$((line + 2)):5: datasets.curated.dim_user.colour: unknown key" "file, line and key"
sed 's/period: P18M, clock: since_event, column: date_key/period: 18 months, clock: since_event, column: date_key/' "$INV" >"$T/bad2.yaml"
expect_rc 1 "a bad duration fails" -- "$MDP" inventory ropa --file "$T/bad2.yaml"
expect_in "$T/err" "datasets.curated.fact_email_events.retention.period: '18 months' is not an ISO 8601 duration" "the duration named"
expect_rc 1 "a missing file fails" -- "$MDP" inventory ropa --file "$T/none.yaml"

# the record of processing activities: every dataset, no empty field
expect_rc 0 "ropa json" -- "$MDP" inventory ropa --format json --file "$INV"
python3 - "$T/out" "$INV" <<'PY' && ok || bad "ropa json has empty fields"
import json, sys, re
r = json.load(open(sys.argv[1]))["record_of_processing_activities"]
n = len(re.findall(r"^  [a-z]+\.[A-Za-z0-9_.]+:$", open(sys.argv[2]).read(), re.M))
assert len(r["activities"]) == n, (len(r["activities"]), n)
def walk(x, path):
    if isinstance(x, str): assert x.strip(), path
    elif x is None: raise AssertionError(path)
    elif isinstance(x, dict):
        for k, v in x.items(): walk(v, path + "." + k)
    elif isinstance(x, list):
        for i, v in enumerate(x): walk(v, "%s[%d]" % (path, i))
walk(r, "$")
need = ["purpose", "legal_basis_text", "owner", "data_subjects", "recipients", "transfers",
        "retention", "deletion", "source", "subject_keys"]
for a in r["activities"]:
    for k in need: assert a[k].strip(), (a["dataset"], k)
    assert "Art. 6(1)" in a["legal_basis_text"]
for k in ["controller", "dpo", "security_measures"]: assert r[k].strip()
up = [a for a in r["activities"] if a["dataset"] == "supabase.user_profiles"][0]
assert up["personal_data_direct"] == ["email", "name"], up
PY
expect_rc 0 "ropa markdown" -- "$MDP" inventory ropa --file "$INV"
python3 - "$T/out" <<'PY' && ok || bad "ropa markdown has an empty cell"
import sys
for line in open(sys.argv[1]):
    if line.startswith("|") and not line.startswith("|---"):
        cells = line.strip().strip("|").split(" | ")
        assert len(cells) == 2 and all(c.strip() for c in cells), line
PY
expect_in "$T/out" "| legal basis | legal obligation (Art. 6(1)(c) GDPR) |" "the journal's basis"
finish inventory
