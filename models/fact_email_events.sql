-- model: fact_email_events
-- table: curated/facts/fact_email_events
-- partition_by: date_key
-- depends: stg_ses, stg_user_profiles
-- One row per email event and recipient (spec 4), from SES feedback. email_lower is the one
-- clear-text address the spec keeps in curated (docs/curated.md: why, and who may read it); the
-- user is found by it, and an event for an address no user has keeps user_id NULL.
SELECT
    s.event_id,
    CAST(u.user_id AS UUID) AS user_id,
    s.email_lower,
    s.campaign_id,
    s.event_type,
    s.copy_variant,
    s.subject_variant,
    s.ts AS "timestamp",
    CAST(strftime(s.ts, '%Y%m%d') AS INTEGER) AS date_key
FROM stg_ses s
LEFT JOIN (SELECT lower(trim(email)) AS email_lower, min(user_id) AS user_id
           FROM stg_user_profiles GROUP BY ALL) u USING (email_lower)
WHERE s._reason IS NULL
