-- model: dim_time
-- table: curated/dimensions/dim_time
-- depends: fact_onboarding_steps, fact_visibility_check, fact_email_events, fact_login_oauth
-- One row per day (the ERD's date_key) from the first to the last day any fact has.
WITH bounds AS (
    SELECT min(d) AS lo, max(d) AS hi FROM (
        SELECT CAST("timestamp" AS DATE) AS d FROM fact_onboarding_steps
        UNION ALL SELECT CAST("timestamp" AS DATE) FROM fact_visibility_check
        UNION ALL SELECT CAST("timestamp" AS DATE) FROM fact_email_events
        UNION ALL SELECT CAST("timestamp" AS DATE) FROM fact_login_oauth)
)
SELECT
    CAST(strftime(d, '%Y%m%d') AS INTEGER) AS date_key,
    CAST(d AS DATE) AS "date",
    CAST(isodow(d) AS INTEGER) AS weekday,
    strftime(d, '%A') AS weekday_name,
    CAST(weekofyear(d) AS INTEGER) AS iso_week,
    CAST(isoyear(d) AS INTEGER) AS iso_year,
    CAST(month(d) AS INTEGER) AS "month",
    CAST(quarter(d) AS INTEGER) AS "quarter",
    CAST(year(d) AS INTEGER) AS "year",
    isodow(d) >= 6 AS is_weekend
FROM bounds, generate_series(bounds.lo, bounds.hi, INTERVAL 1 DAY) AS t(d)
WHERE bounds.lo IS NOT NULL
