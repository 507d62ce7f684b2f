-- model: identity_links
-- table: curated/dimensions/identity_links
-- depends: stg_events
-- Spec 2's identity links from the external ids the app's events carry (gbp_place_id,
-- ga4_client_id, ga4_user_id, fb_page_id, ig_business_id). Junk ids ('', 'null', 'undefined', '0',
-- 'unknown', any case) are never linked. An external id seen with more users than
-- {{identity_max_users}} is held back, not linked: over-stitching (one shared id merging many
-- people) is the classic failure of identity resolution; `mdp ids resolve` shows held-back ids.
WITH seen AS (
    SELECT CAST(e.user_id AS UUID) AS user_id, trim(x.value) AS external_id,
           CASE x.key WHEN 'gbp_place_id' THEN 'gbp' WHEN 'ga4_client_id' THEN 'ga4'
                      WHEN 'ga4_user_id' THEN 'ga4' WHEN 'fb_page_id' THEN 'facebook'
                      WHEN 'ig_business_id' THEN 'instagram' END AS source,
           x.key AS id_type, e.ts
    FROM stg_events e, unnest(map_entries(e.external_ids)) AS t(x)
    WHERE e._reason IS NULL AND e.external_ids IS NOT NULL
),
clean AS (
    SELECT * FROM seen
    WHERE source IS NOT NULL AND external_id IS NOT NULL
      AND lower(external_id) NOT IN ('', 'null', 'undefined', '0', 'unknown', 'none', 'nan')
),
fanout AS (
    SELECT external_id, source, count(DISTINCT user_id) AS users FROM clean GROUP BY ALL
)
SELECT
    c.user_id,
    c.external_id,
    c.source,
    min(c.ts) AS first_seen,
    max(c.ts) AS last_seen,
    max(c.ts) >= (SELECT max(ts) FROM clean) - INTERVAL 90 DAY AS is_active,
    CAST(json_object('id_type', any_value(c.id_type), 'events', count(*), 'users_sharing', any_value(f.users)) AS JSON)
        AS metadata
FROM clean c
JOIN fanout f USING (external_id, source)
WHERE f.users <= {{identity_max_users}}
GROUP BY c.user_id, c.external_id, c.source
