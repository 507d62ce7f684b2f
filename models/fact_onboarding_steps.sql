-- model: fact_onboarding_steps
-- table: curated/facts/fact_onboarding_steps
-- partition_by: date_key
-- depends: stg_events, dim_user, stg_analytics_consent
-- One row per onboarding step event (spec 4): the app's step_started, step_completed and
-- step_skipped events (step_abandoned is outside the spec's enum and stays in raw). persona and
-- comm_prefs are the user's as known when the table is built.
-- Consent gate (spec 7; docs/curated.md "Consent"): the app's events are usage analytics, whose
-- legal basis is the `analytics` consent. An event is kept only when the user's latest analytics
-- decision at or before the event's time is a grant not expired at that time; otherwise it is
-- _withheld (counted in the run log, left out of this table and of everything derived from it;
-- raw keeps it). A withdrawal excludes the events after it, not those before.
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
    CAST(strftime(e.ts, '%Y%m%d') AS INTEGER) AS date_key,
    CASE WHEN c.granted AND (c.expires_at IS NULL OR c.expires_at > e.ts) THEN NULL
         ELSE 'no_analytics_consent' END AS _withheld
FROM stg_events e
LEFT JOIN dim_user u ON u.user_id = CAST(e.user_id AS UUID)
ASOF LEFT JOIN stg_analytics_consent c ON c.user_id = CAST(e.user_id AS UUID) AND e.ts >= c.ts
WHERE e._reason IS NULL
  AND e.event_type IN ('step_started', 'step_completed', 'step_skipped')
  AND json_extract_string(e.properties, '$.step_id') IS NOT NULL
