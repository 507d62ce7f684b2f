-- table: ml/features
-- partition_by: feature_date
-- ml_user_features of spec 5 for D = {{date}}: one row per user as of D (inputs.sql) with valid
-- `ml` consent at the end of D. Windows end with D: 7d = [t_end - 7 days, t_end), 30d likewise.
--   steps_completed_*    onboarding steps with event_type completed
--   email_opens_*, email_clicks_*  fact_email_events of type open / click
--   vc_score_delta_7d    overall_score of the latest visibility check before t_end minus that of
--                        the latest check before the window (or, with none, the first check in
--                        the window); NULL without any check before t_end, 0 when unchanged
--   login_count_30d      successful OAuth logins
--   avg_step_duration_seconds  mean duration of all completed steps before t_end, 2 decimals
--   preferred_comm_tone  the tone of the user's communication preferences as of D
--   last_activity_days_ago  D minus the day of the latest step, check, login or email open/click
--   updated_at           the instant the row is "as of": t_end (deterministic, so a backfill
--                        reproduces the row byte for byte)
WITH email AS (
    SELECT e.user_id,
           count(*) FILTER (WHERE e.event_type = 'open' AND e."timestamp" >= p.t_end - INTERVAL 7 DAY) AS opens_7d,
           count(*) FILTER (WHERE e.event_type = 'click' AND e."timestamp" >= p.t_end - INTERVAL 7 DAY) AS clicks_7d,
           count(*) FILTER (WHERE e.event_type = 'open' AND e."timestamp" >= p.t_end - INTERVAL 30 DAY) AS opens_30d,
           count(*) FILTER (WHERE e.event_type = 'click' AND e."timestamp" >= p.t_end - INTERVAL 30 DAY) AS clicks_30d,
           max(e."timestamp") FILTER (WHERE e.event_type IN ('open', 'click')) AS last_ts
    FROM fact_email_events e, ml_params p
    WHERE e.user_id IS NOT NULL AND e.date_key <= p.d_key
      AND e."timestamp" < p.t_end
    GROUP BY e.user_id
),
steps AS (
    SELECT s.user_id,
           count(*) FILTER (WHERE s.event_type = 'completed' AND s.ts >= p.t_end - INTERVAL 7 DAY) AS completed_7d,
           count(*) FILTER (WHERE s.event_type = 'completed' AND s.ts >= p.t_end - INTERVAL 30 DAY) AS completed_30d,
           avg(s.duration_seconds) FILTER (WHERE s.event_type = 'completed') AS avg_duration,
           max(s.ts) AS last_ts
    FROM ml_steps s, ml_params p
    GROUP BY s.user_id
),
logins AS (
    SELECT l.user_id,
           count(*) FILTER (WHERE l.success AND l."timestamp" >= p.t_end - INTERVAL 30 DAY) AS n_30d,
           max(l."timestamp") FILTER (WHERE l.success) AS last_ts
    FROM fact_login_oauth l, ml_params p
    WHERE l.user_id IS NOT NULL AND l.date_key <= p.d_key AND l."timestamp" < p.t_end
    GROUP BY l.user_id
),
checks AS (
    SELECT c.user_id, c.overall_score, c."timestamp" AS ts,
           c."timestamp" >= p.t_end - INTERVAL 7 DAY AS in_window
    FROM fact_visibility_check c, ml_params p
    WHERE c.date_key <= p.d_key AND c."timestamp" < p.t_end
),
vc AS (
    SELECT user_id,
           arg_max(overall_score, ts) AS score_end,
           coalesce(arg_max(overall_score, ts) FILTER (WHERE NOT in_window),
                    arg_min(overall_score, ts) FILTER (WHERE in_window)) AS score_start,
           max(ts) AS last_ts
    FROM checks
    GROUP BY user_id
),
tone AS (
    SELECT try_cast(v.user_id AS UUID) AS user_id, CAST(v.tone AS VARCHAR) AS tone
    FROM read_csv('{{raw}}/supabase/communication_prefs/*/*.csv', header = true, delim = ',', quote = '"', escape = '"',
                  auto_detect = false, ignore_errors = true, null_padding = false,
                  columns = {'user_id': 'VARCHAR', 'tone': 'VARCHAR', 'address': 'VARCHAR', 'help_level': 'VARCHAR', 'updated_at': 'VARCHAR'}) v,
         ml_params p
    WHERE try_cast(v.updated_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC' < p.t_end
    QUALIFY row_number() OVER (PARTITION BY try_cast(v.user_id AS UUID)
                               ORDER BY try_cast(v.updated_at AS TIMESTAMPTZ) DESC) = 1
)
SELECT
    u.user_id,
    p.d AS feature_date,
    CAST(coalesce(st.completed_7d, 0) AS INTEGER) AS steps_completed_7d,
    CAST(coalesce(em.opens_7d, 0) AS INTEGER) AS email_opens_7d,
    CAST(coalesce(em.clicks_7d, 0) AS INTEGER) AS email_clicks_7d,
    CAST(vc.score_end - vc.score_start AS INTEGER) AS vc_score_delta_7d,
    CAST(coalesce(st.completed_30d, 0) AS INTEGER) AS steps_completed_30d,
    CAST(coalesce(em.opens_30d, 0) AS INTEGER) AS email_opens_30d,
    CAST(coalesce(em.clicks_30d, 0) AS INTEGER) AS email_clicks_30d,
    CAST(coalesce(lg.n_30d, 0) AS INTEGER) AS login_count_30d,
    CAST(round(st.avg_duration, 2) AS DECIMAL(10, 2)) AS avg_step_duration_seconds,
    t.tone AS preferred_comm_tone,
    CAST(date_diff('day', CAST(greatest(st.last_ts, vc.last_ts, lg.last_ts, em.last_ts) AS DATE), p.d)
         AS INTEGER) AS last_activity_days_ago,
    p.t_end AS updated_at
FROM ml_users u
CROSS JOIN ml_params p
JOIN (SELECT user_id FROM ml_consent WHERE purpose = 'ml' AND valid) c USING (user_id)
LEFT JOIN steps st USING (user_id)
LEFT JOIN email em USING (user_id)
LEFT JOIN logins lg USING (user_id)
LEFT JOIN vc USING (user_id)
LEFT JOIN tone t USING (user_id)
ORDER BY u.user_id
