-- model: identity_held_back
-- table: curated/dimensions/identity_held_back
-- depends: stg_external_ids
-- The external ids identity_links does not link because more users than
-- {{identity_max_users}} carry them (over-stitching): reported here for review, with how many
-- users share each and when it was seen. `mdp ids resolve` shows them.
SELECT external_id, source, count(DISTINCT user_id) AS users, min(ts) AS first_seen, max(ts) AS last_seen
FROM stg_external_ids
GROUP BY external_id, source
HAVING count(DISTINCT user_id) > {{identity_max_users}}
