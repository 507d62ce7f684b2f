-- Business Performance (spec 4): dim_account -> fact_visibility_check -> dim_location.
-- Average visibility scores per category and city, with the number of checks.
SELECT a.main_category, l.city, count(*) AS checks, round(avg(v.overall_score), 1) AS avg_overall,
       round(avg(v.gbp_score), 1) AS avg_gbp, round(avg(v.social_score), 1) AS avg_social
FROM dim_account a
JOIN fact_visibility_check v ON v.account_id = a.account_id
JOIN dim_location l ON l.location_id = v.location_id
GROUP BY ALL
ORDER BY checks DESC, a.main_category, l.city
