-- model: fact_onboarding_steps
-- table: curated/facts/fact_onboarding_steps
-- partition_by: date_key
-- depends: stg_events, dim_user
-- One row per onboarding step event (spec 4): the app's step_started, step_completed and
-- step_skipped events (step_abandoned is outside the spec's enum and stays in raw). persona and
-- comm_prefs are the user's as known when the table is built.
SELECT
    CAST(e.event_id AS UUID) AS event_id,
    CAST(e.user_id AS UUID) AS user_id,
    try_cast(e.account_id AS UUID) AS account_id,
    json_extract_string(e.properties, '$.step_id') AS step_id,
    replace(e.event_type, 'step_', '') AS event_type,
    u.persona,
    u.communication_prefs AS comm_prefs,
    try_cast(json_extract(e.properties, '$.duration_seconds') AS INTEGER) AS duration_seconds,
    e.ts AS "timestamp",
    CAST(strftime(e.ts, '%Y%m%d') AS INTEGER) AS date_key
FROM stg_events e
LEFT JOIN dim_user u ON u.user_id = CAST(e.user_id AS UUID)
WHERE e._reason IS NULL
  AND e.event_type IN ('step_started', 'step_completed', 'step_skipped')
  AND json_extract_string(e.properties, '$.step_id') IS NOT NULL
