-- model: stg_communication_prefs
-- Supabase's communication_prefs from the raw zone: the daily exports (PostgreSQL COPY CSV) of the rows changed
-- that day, and the changes CDC captured (raw/supabase_cdc/communication_prefs, docs/cdc.md), deletes and
-- truncates included. The current state of a row is its latest version: an export row counts at its
-- updated_at, a change at its commit time (a tie goes to the change, then to the later LSN); a row whose
-- latest version is a delete, or that a later truncate emptied, is gone. An update that changed the
-- key deletes the old key.
WITH export AS (
    SELECT *, try_cast(updated_at AS TIMESTAMPTZ) AS _ts, 0 AS _src, '' AS _lsn, 'export' AS _op
    FROM read_csv('{{raw}}/supabase/communication_prefs/*/*.csv', header = true, delim = ',', quote = '"', escape = '"',
                  auto_detect = false, ignore_errors = true, null_padding = false,
                  columns = {'user_id': 'VARCHAR', 'tone': 'VARCHAR', 'address': 'VARCHAR', 'help_level': 'VARCHAR', 'updated_at': 'VARCHAR'})
    WHERE user_id IS NOT NULL
),
changes AS (
    SELECT json AS j,
           try_cast(json_extract_string(json, '$.commit_time') AS TIMESTAMPTZ) AS _ts,
           lpad(split_part(json_extract_string(json, '$.commit_lsn'), '/', 1), 8, '0') || lpad(split_part(json_extract_string(json, '$.commit_lsn'), '/', 2), 8, '0')
               || lpad(split_part(json_extract_string(json, '$.lsn'), '/', 1), 8, '0') || lpad(split_part(json_extract_string(json, '$.lsn'), '/', 2), 8, '0') AS _lsn,
           json_extract_string(json, '$.op') AS _op
    FROM read_ndjson_objects('{{raw}}/supabase_cdc/communication_prefs/*/*.ndjson')
),
versions AS (
    SELECT * FROM export
    UNION ALL BY NAME
    SELECT coalesce(json_extract_string(j, '$.row.user_id'), json_extract_string(j, '$.key.user_id')) AS user_id,
           json_extract_string(j, '$.row.tone') AS tone,
           json_extract_string(j, '$.row.address') AS address,
           json_extract_string(j, '$.row.help_level') AS help_level,
           json_extract_string(j, '$.row.updated_at') AS updated_at,
           _ts, 1 AS _src, _lsn, _op
    FROM changes
    WHERE _op IN ('insert', 'update', 'delete')
    UNION ALL BY NAME
    SELECT json_extract_string(j, '$.key.user_id') AS user_id, NULL AS tone, NULL AS address, NULL AS help_level, NULL AS updated_at, _ts, 1 AS _src, _lsn, 'delete' AS _op
    FROM changes
    WHERE _op = 'update' AND json_extract_string(j, '$.key.user_id') <> json_extract_string(j, '$.row.user_id')
),
truncated AS (
    SELECT arg_max(_ts, _lsn) AS ts, max(_lsn) AS lsn FROM changes WHERE _op = 'truncate'
),
latest AS (
    SELECT v.*
    FROM versions v, truncated t
    WHERE v.user_id IS NOT NULL
      AND (t.ts IS NULL OR v._ts > t.ts OR (v._ts = t.ts AND v._src = 1 AND v._lsn > t.lsn))
    QUALIFY row_number() OVER (PARTITION BY v.user_id ORDER BY v._ts DESC NULLS LAST, v._src DESC, v._lsn DESC) = 1
)
SELECT * EXCLUDE (_ts, _src, _lsn, _op)
FROM latest
WHERE _op <> 'delete'
