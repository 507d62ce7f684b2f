-- Authentication (spec 4): dim_user -> fact_login_oauth -> dim_time.
-- Login attempts and failure rate per provider and weekday.
SELECT l.provider, t.weekday_name, count(*) AS attempts,
       count(*) FILTER (WHERE NOT l.success) AS failures,
       round(count(*) FILTER (WHERE NOT l.success) / count(*), 3) AS failure_rate,
       count(DISTINCT u.user_id) AS users
FROM dim_user u
JOIN fact_login_oauth l ON l.user_id = u.user_id
JOIN dim_time t ON t.date_key = l.date_key
GROUP BY ALL
ORDER BY l.provider, min(t.weekday)
