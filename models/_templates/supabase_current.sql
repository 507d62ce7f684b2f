-- template: supabase_current
-- The current rows of a Supabase table from the raw zone: the daily exports (PostgreSQL COPY CSV)
-- of the rows changed that day, and the changes CDC captured (raw/supabase_cdc/<table>,
-- docs/cdc.md), deletes and truncates included. The current state of a row is its latest version:
-- an export row counts at its version_ts column, a change at its commit time (a tie goes to the
-- change, then to the later LSN); a row whose latest version is a delete, or that a later
-- truncate emptied, is gone. An update that changed the key deletes the old key.
-- An update that left a large (TOASTed) value untouched does not carry it: PostgreSQL sends it
-- as unchanged, and the change lists it in its unchanged_toast. A column the model names under
-- `toast` then keeps the value of the row's previous version (export row or change), not NULL.
-- A model uses it with the headers `-- template: supabase_current`, `-- source: <table>` (the
-- raw folder), `-- key: <column>`, `-- version_ts: <column>` and `-- columns: <c1>, <c2>, ...`
-- (the key first, every column as VARCHAR, as the exports carry them), and optionally
-- `-- toast: <c>, ...` (columns that can be TOASTed: text or jsonb that can grow past ~2 kB).
-- Placeholders: {{source}}, {{key}}, {{version_ts}}, {{csv_columns}} (the CSV reader's map),
-- {{row_columns}} (each column but the key from a change's row, one line each),
-- {{null_columns}} (each but the key as NULL), {{toast_list}} (a change's unchanged_toast list
-- as the column _u, with toast columns), {{toast_u}} (", _u" with toast columns) and
-- {{toast_fill}} (the versions with each toast column filled from the previous version).
WITH export AS (
    SELECT *, try_cast({{version_ts}} AS TIMESTAMPTZ) AS _ts, 0 AS _src, '' AS _lsn, 'export' AS _op
    FROM read_csv('{{raw}}/supabase/{{source}}/*/*.csv', header = true, delim = ',', quote = '"', escape = '"',
                  auto_detect = false, ignore_errors = true, null_padding = false,
                  columns = {{{csv_columns}}})
    WHERE {{key}} IS NOT NULL
),
changes AS (
    SELECT json AS j,
           try_cast(json_extract_string(json, '$.commit_time') AS TIMESTAMPTZ) AS _ts,
           lpad(split_part(json_extract_string(json, '$.commit_lsn'), '/', 1), 8, '0') || lpad(split_part(json_extract_string(json, '$.commit_lsn'), '/', 2), 8, '0')
               || lpad(split_part(json_extract_string(json, '$.lsn'), '/', 1), 8, '0') || lpad(split_part(json_extract_string(json, '$.lsn'), '/', 2), 8, '0') AS _lsn,
           json_extract_string(json, '$.op') AS _op{{toast_list}}
    FROM read_ndjson_objects('{{raw}}/supabase_cdc/{{source}}/*/*.ndjson')
),
versions AS (
    SELECT * FROM export
    UNION ALL BY NAME
    SELECT coalesce(json_extract_string(j, '$.row.{{key}}'), json_extract_string(j, '$.key.{{key}}')) AS {{key}},
{{row_columns}}
           _ts, 1 AS _src, _lsn, _op{{toast_u}}
    FROM changes
    WHERE _op IN ('insert', 'update', 'delete')
    UNION ALL BY NAME
    SELECT json_extract_string(j, '$.key.{{key}}') AS {{key}}, {{null_columns}}, _ts, 1 AS _src, _lsn, 'delete' AS _op
    FROM changes
    WHERE _op = 'update' AND json_extract_string(j, '$.key.{{key}}') <> json_extract_string(j, '$.row.{{key}}')
),
filled AS (
{{toast_fill}}
),
truncated AS (
    SELECT arg_max(_ts, _lsn) AS ts, max(_lsn) AS lsn FROM changes WHERE _op = 'truncate'
),
latest AS (
    SELECT v.*
    FROM filled v, truncated t
    WHERE v.{{key}} IS NOT NULL
      AND (t.ts IS NULL OR v._ts > t.ts OR (v._ts = t.ts AND v._src = 1 AND v._lsn > t.lsn))
    QUALIFY row_number() OVER (PARTITION BY v.{{key}} ORDER BY v._ts DESC NULLS LAST, v._src DESC, v._lsn DESC) = 1
)
SELECT * EXCLUDE (_ts, _src, _lsn, _op{{toast_u}})
FROM latest
WHERE _op <> 'delete'
