-- model: identity_held_back
-- table: curated/dimensions/identity_held_back
-- depends: stg_events
-- The external ids identity_links does not link because more users than
-- {{identity_max_users}} carry them (over-stitching): reported here for review, with how many
-- users share each and when it was seen. `mdp ids resolve` shows them.
WITH seen AS (
    SELECT CAST(e.user_id AS UUID) AS user_id, trim(x.value) AS external_id,
           CASE x.key WHEN 'gbp_place_id' THEN 'gbp' WHEN 'ga4_client_id' THEN 'ga4'
                      WHEN 'ga4_user_id' THEN 'ga4' WHEN 'fb_page_id' THEN 'facebook'
                      WHEN 'ig_business_id' THEN 'instagram' END AS source,
           e.ts
    FROM stg_events e, unnest(map_entries(e.external_ids)) AS t(x)
    WHERE e._reason IS NULL AND e.external_ids IS NOT NULL
)
SELECT external_id, source, count(DISTINCT user_id) AS users, min(ts) AS first_seen, max(ts) AS last_seen
FROM seen
WHERE source IS NOT NULL AND external_id IS NOT NULL
  AND lower(external_id) NOT IN ('', 'null', 'undefined', '0', 'unknown', 'none', 'nan')
GROUP BY external_id, source
HAVING count(DISTINCT user_id) > {{identity_max_users}}
