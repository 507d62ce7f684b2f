-- model: stg_external_ids
-- depends: stg_events
-- Every (user, external id) pair the app's events carry, once per event, with its source:
-- gbp_place_id -> gbp, ga4_client_id and ga4_user_id -> ga4, fb_page_id -> facebook,
-- ig_business_id -> instagram. Junk ids ('', 'null', 'undefined', '0', 'unknown', 'none', 'nan',
-- any case) are dropped here, so they are never linked.
SELECT CAST(e.user_id AS UUID) AS user_id,
       trim(x.value) AS external_id,
       CASE x.key WHEN 'gbp_place_id' THEN 'gbp' WHEN 'ga4_client_id' THEN 'ga4'
                  WHEN 'ga4_user_id' THEN 'ga4' WHEN 'fb_page_id' THEN 'facebook'
                  WHEN 'ig_business_id' THEN 'instagram' END AS source,
       x.key AS id_type,
       e.ts
FROM stg_events e, unnest(map_entries(e.external_ids)) AS t(x)
WHERE e._reason IS NULL AND e.external_ids IS NOT NULL
  AND x.key IN ('gbp_place_id', 'ga4_client_id', 'ga4_user_id', 'fb_page_id', 'ig_business_id')
  AND x.value IS NOT NULL
  AND lower(trim(x.value)) NOT IN ('', 'null', 'undefined', '0', 'unknown', 'none', 'nan')
