-- model: identity_links
-- table: curated/dimensions/identity_links
-- depends: stg_external_ids
-- Spec 2's identity links from the external ids the app's events carry (stg_external_ids: junk
-- ids already dropped). An external id seen with more users than {{identity_max_users}} is held
-- back, not linked: over-stitching (one shared id merging many people) is the classic failure of
-- identity resolution; identity_held_back reports those and `mdp ids resolve` shows them.
WITH fanout AS (
    SELECT external_id, source, count(DISTINCT user_id) AS users FROM stg_external_ids GROUP BY ALL
)
SELECT
    c.user_id,
    c.external_id,
    c.source,
    min(c.ts) AS first_seen,
    max(c.ts) AS last_seen,
    max(c.ts) >= (SELECT max(ts) FROM stg_external_ids) - INTERVAL 90 DAY AS is_active,
    CAST(json_object('id_type', any_value(c.id_type), 'events', count(*), 'users_sharing', any_value(f.users)) AS JSON)
        AS metadata
FROM stg_external_ids c
JOIN fanout f USING (external_id, source)
WHERE f.users <= {{identity_max_users}}
GROUP BY c.user_id, c.external_id, c.source
