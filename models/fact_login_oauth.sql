-- model: fact_login_oauth
-- table: curated/facts/fact_login_oauth
-- partition_by: date_key
-- depends: stg_oauth_logins
-- One row per OAuth login attempt (spec 4), from Supabase's oauth_logins.
SELECT
    CAST(event_id AS UUID) AS event_id,
    try_cast(user_id AS UUID) AS user_id,
    provider,
    success = 't' AS success,
    error_code,
    try_cast(created_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS "timestamp",
    CAST(strftime(try_cast(created_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER) AS date_key
FROM stg_oauth_logins
WHERE try_cast(event_id AS UUID) IS NOT NULL AND provider IN ('google', 'facebook')
  AND success IN ('t', 'f') AND try_cast(created_at AS TIMESTAMPTZ) IS NOT NULL
