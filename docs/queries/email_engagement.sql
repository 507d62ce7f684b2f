-- Email Engagement (spec 4): dim_user -> fact_email_events -> dim_time.
-- Opens and clicks per delivered mail by copy variant and persona, per month.
SELECT t."year", t."month", e.copy_variant, u.persona,
       count(*) FILTER (WHERE e.event_type = 'delivered') AS delivered,
       count(*) FILTER (WHERE e.event_type = 'open') AS opens,
       count(*) FILTER (WHERE e.event_type = 'click') AS clicks,
       round(count(*) FILTER (WHERE e.event_type = 'open')
             / nullif(count(*) FILTER (WHERE e.event_type = 'delivered'), 0), 3) AS open_rate
FROM dim_user u
JOIN fact_email_events e ON e.user_id = u.user_id
JOIN dim_time t ON t.date_key = e.date_key
GROUP BY ALL
ORDER BY t."year", t."month", e.copy_variant, u.persona
