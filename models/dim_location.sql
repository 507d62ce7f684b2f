-- model: dim_location
-- table: curated/dimensions/dim_location
-- depends: stg_locations
-- One row per restaurant location (spec 4); the place id links it to Google Business Profile.
SELECT
    CAST(location_id AS UUID) AS location_id,
    CAST(account_id AS UUID) AS account_id,
    address,
    city,
    country,
    gbp_place_id,
    try_cast(latitude AS DECIMAL(10, 8)) AS latitude,
    try_cast(longitude AS DECIMAL(11, 8)) AS longitude
FROM stg_locations
WHERE try_cast(location_id AS UUID) IS NOT NULL AND try_cast(account_id AS UUID) IS NOT NULL
