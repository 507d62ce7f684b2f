-- model: stg_user_profiles
-- Supabase's user_profiles from the raw zone: the daily exports (PostgreSQL COPY CSV) of the rows changed
-- that day, and the changes CDC captured (raw/supabase_cdc/user_profiles, docs/cdc.md), deletes and
-- truncates included. The current state of a row is its latest version: an export row counts at its
-- updated_at, a change at its commit time (a tie goes to the change, then to the later LSN); a row whose
-- latest version is a delete, or that a later truncate emptied, is gone. An update that changed the
-- key deletes the old key. An update that left a TOASTed value (text, jsonb over ~2 kB) untouched does not
-- carry it (PostgreSQL sends it as unchanged, listed in the change's unchanged_toast): such a column keeps
-- the value of the row's previous version.
WITH export AS (
    SELECT *, try_cast(updated_at AS TIMESTAMPTZ) AS _ts, 0 AS _src, '' AS _lsn, 'export' AS _op
    FROM read_csv('{{raw}}/supabase/user_profiles/*/*.csv', header = true, delim = ',', quote = '"', escape = '"',
                  auto_detect = false, ignore_errors = true, null_padding = false,
                  columns = {'user_id': 'VARCHAR', 'account_id': 'VARCHAR', 'email': 'VARCHAR', 'name': 'VARCHAR', 'persona': 'VARCHAR', 'preferences': 'VARCHAR', 'settings': 'VARCHAR', 'is_active': 'VARCHAR', 'signup_at': 'VARCHAR', 'last_login_at': 'VARCHAR', 'created_at': 'VARCHAR', 'updated_at': 'VARCHAR'})
    WHERE user_id IS NOT NULL
),
changes AS (
    SELECT json AS j,
           try_cast(json_extract_string(json, '$.commit_time') AS TIMESTAMPTZ) AS _ts,
           lpad(split_part(json_extract_string(json, '$.commit_lsn'), '/', 1), 8, '0') || lpad(split_part(json_extract_string(json, '$.commit_lsn'), '/', 2), 8, '0')
               || lpad(split_part(json_extract_string(json, '$.lsn'), '/', 1), 8, '0') || lpad(split_part(json_extract_string(json, '$.lsn'), '/', 2), 8, '0') AS _lsn,
           json_extract_string(json, '$.op') AS _op,
           CAST(json_extract(json, '$.unchanged_toast') AS VARCHAR[]) AS _u
    FROM read_ndjson_objects('{{raw}}/supabase_cdc/user_profiles/*/*.ndjson')
),
versions AS (
    SELECT * FROM export
    UNION ALL BY NAME
    SELECT coalesce(json_extract_string(j, '$.row.user_id'), json_extract_string(j, '$.key.user_id')) AS user_id,
           json_extract_string(j, '$.row.account_id') AS account_id,
           json_extract_string(j, '$.row.email') AS email,
           json_extract_string(j, '$.row.name') AS name,
           json_extract_string(j, '$.row.persona') AS persona,
           json_extract_string(j, '$.row.preferences') AS preferences,
           json_extract_string(j, '$.row.settings') AS settings,
           json_extract_string(j, '$.row.is_active') AS is_active,
           json_extract_string(j, '$.row.signup_at') AS signup_at,
           json_extract_string(j, '$.row.last_login_at') AS last_login_at,
           json_extract_string(j, '$.row.created_at') AS created_at,
           json_extract_string(j, '$.row.updated_at') AS updated_at,
           _ts, 1 AS _src, _lsn, _op, _u
    FROM changes
    WHERE _op IN ('insert', 'update', 'delete')
    UNION ALL BY NAME
    SELECT json_extract_string(j, '$.key.user_id') AS user_id, NULL AS account_id, NULL AS email, NULL AS name, NULL AS persona, NULL AS preferences, NULL AS settings, NULL AS is_active, NULL AS signup_at, NULL AS last_login_at, NULL AS created_at, NULL AS updated_at, _ts, 1 AS _src, _lsn, 'delete' AS _op
    FROM changes
    WHERE _op = 'update' AND json_extract_string(j, '$.key.user_id') <> json_extract_string(j, '$.row.user_id')
),
filled AS (
    SELECT * REPLACE (
        CASE WHEN list_contains(_u, 'email') THEN (last_value(CASE WHEN NOT coalesce(list_contains(_u, 'email'), false) THEN {'v': email} END IGNORE NULLS) OVER prev).v ELSE email END AS email,
        CASE WHEN list_contains(_u, 'name') THEN (last_value(CASE WHEN NOT coalesce(list_contains(_u, 'name'), false) THEN {'v': name} END IGNORE NULLS) OVER prev).v ELSE name END AS name,
        CASE WHEN list_contains(_u, 'persona') THEN (last_value(CASE WHEN NOT coalesce(list_contains(_u, 'persona'), false) THEN {'v': persona} END IGNORE NULLS) OVER prev).v ELSE persona END AS persona,
        CASE WHEN list_contains(_u, 'preferences') THEN (last_value(CASE WHEN NOT coalesce(list_contains(_u, 'preferences'), false) THEN {'v': preferences} END IGNORE NULLS) OVER prev).v ELSE preferences END AS preferences,
        CASE WHEN list_contains(_u, 'settings') THEN (last_value(CASE WHEN NOT coalesce(list_contains(_u, 'settings'), false) THEN {'v': settings} END IGNORE NULLS) OVER prev).v ELSE settings END AS settings)
    FROM versions
    WINDOW prev AS (PARTITION BY user_id ORDER BY _ts NULLS FIRST, _src, _lsn ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
truncated AS (
    SELECT arg_max(_ts, _lsn) AS ts, max(_lsn) AS lsn FROM changes WHERE _op = 'truncate'
),
latest AS (
    SELECT v.*
    FROM filled v, truncated t
    WHERE v.user_id IS NOT NULL
      AND (t.ts IS NULL OR v._ts > t.ts OR (v._ts = t.ts AND v._src = 1 AND v._lsn > t.lsn))
    QUALIFY row_number() OVER (PARTITION BY v.user_id ORDER BY v._ts DESC NULLS LAST, v._src DESC, v._lsn DESC) = 1
)
SELECT * EXCLUDE (_ts, _src, _lsn, _op, _u)
FROM latest
WHERE _op <> 'delete'
