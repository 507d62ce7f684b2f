-- model: dim_account
-- table: curated/dimensions/dim_account
-- depends: stg_accounts
-- One row per business account (spec 4).
SELECT
    CAST(account_id AS UUID) AS account_id,
    business_name,
    main_category,
    price_range,
    CAST(try_cast(created_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS DATE) AS created_date,
    is_active = 't' AS is_active
FROM stg_accounts
WHERE try_cast(account_id AS UUID) IS NOT NULL
