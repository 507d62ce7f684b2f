-- User Journey (spec 4): dim_user -> fact_onboarding_steps -> dim_time.
-- Completed onboarding steps per persona and ISO week, with the median step time.
SELECT u.persona, t.iso_year, t.iso_week, count(*) AS steps_completed,
       median(f.duration_seconds) AS median_seconds
FROM dim_user u
JOIN fact_onboarding_steps f ON f.user_id = u.user_id
JOIN dim_time t ON t.date_key = f.date_key
WHERE f.event_type = 'completed'
GROUP BY ALL
ORDER BY t.iso_year, t.iso_week, u.persona
