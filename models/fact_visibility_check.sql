-- model: fact_visibility_check
-- table: curated/facts/fact_visibility_check
-- partition_by: date_key
-- depends: stg_visibility_checks
-- One row per visibility check (spec 4), from Supabase's visibility_checks.
SELECT
    CAST(check_id AS UUID) AS check_id,
    CAST(user_id AS UUID) AS user_id,
    CAST(account_id AS UUID) AS account_id,
    try_cast(location_id AS UUID) AS location_id,
    try_cast(overall_score AS INTEGER) AS overall_score,
    try_cast(gbp_score AS INTEGER) AS gbp_score,
    try_cast(social_score AS INTEGER) AS social_score,
    try_cast(web_score AS INTEGER) AS web_score,
    try_cast(competitor_count AS INTEGER) AS competitor_count,
    try_cast(processing_time_seconds AS INTEGER) AS processing_time_seconds,
    try_cast(created_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS "timestamp",
    CAST(strftime(try_cast(created_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y%m%d') AS INTEGER) AS date_key
FROM stg_visibility_checks
WHERE try_cast(check_id AS UUID) IS NOT NULL AND try_cast(user_id AS UUID) IS NOT NULL
  AND try_cast(account_id AS UUID) IS NOT NULL AND try_cast(created_at AS TIMESTAMPTZ) IS NOT NULL
