-- table: ml/segments
-- partition_by: segment_date
-- The daily segments of spec 5 for D = {{date}}, one row per active user as of D (inputs.sql):
--   onb_day         days from signup_date to D (0 on the day of signup)
--   onb_day_bucket  spec 6's context buckets: 0, 1-3, 4-7, 8-14, 15+
--   engagement_level  onboarding steps completed in the 30 days ending with D (the same window as
--                   steps_completed_30d): high >= 10, medium >= 5, else low; NULL without valid
--                   `analytics` consent at the end of D (the steps are usage analytics: the
--                   curated fact keeps only consented events, so a count would say "low" for
--                   what is in fact unknown)
--   consent_state   marketing_opted_in (valid marketing_email consent), email_only (address
--                   verified by double opt-in), unverified
--   persona_current the persona of the user's profile as of D
SELECT
    u.user_id,
    p.d AS segment_date,
    CAST(date_diff('day', u.signup_date, p.d) AS INTEGER) AS onb_day,
    CASE WHEN date_diff('day', u.signup_date, p.d) = 0 THEN '0'
         WHEN date_diff('day', u.signup_date, p.d) <= 3 THEN '1-3'
         WHEN date_diff('day', u.signup_date, p.d) <= 7 THEN '4-7'
         WHEN date_diff('day', u.signup_date, p.d) <= 14 THEN '8-14'
         ELSE '15+' END AS onb_day_bucket,
    CASE WHEN NOT coalesce(an.valid, false) THEN NULL
         WHEN coalesce(s.n, 0) >= 10 THEN 'high'
         WHEN coalesce(s.n, 0) >= 5 THEN 'medium'
         ELSE 'low' END AS engagement_level,
    CASE WHEN m.valid THEN 'marketing_opted_in'
         WHEN v.user_id IS NOT NULL THEN 'email_only'
         ELSE 'unverified' END AS consent_state,
    u.persona AS persona_current
FROM ml_users u
CROSS JOIN ml_params p
LEFT JOIN (SELECT user_id, count(*) AS n FROM ml_steps, ml_params p
           WHERE event_type = 'completed' AND ts >= p.t_end - INTERVAL 30 DAY
           GROUP BY user_id) s USING (user_id)
LEFT JOIN (SELECT user_id, valid FROM ml_consent WHERE purpose = 'marketing_email') m USING (user_id)
LEFT JOIN (SELECT user_id, valid FROM ml_consent WHERE purpose = 'analytics') an USING (user_id)
LEFT JOIN ml_verified v USING (user_id)
WHERE u.is_active
ORDER BY u.user_id
