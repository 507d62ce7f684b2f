-- model: stg_analytics_consent
-- depends: dim_user
-- The consent journal's decisions for the `analytics` purpose, per user (spec 7's consent-gating
-- query; docs/consent.md "Validity at a point in time"). consent_journal is the state store's
-- journal, loaded by the runner before the models run. A record names its subject by user_id or by
-- address (here only its SHA-256, matched against dim_user.email_hash); a record naming both
-- matches either. Of two decisions with the same time the later appended (seq) wins, so that an
-- ASOF join finds exactly one decision per instant.
WITH d AS (
    SELECT try_cast(j.user_id AS UUID) AS user_id, j.ts, j.seq, j.granted, j.expires_at
    FROM consent_journal j
    WHERE j.purpose = 'analytics' AND try_cast(j.user_id AS UUID) IS NOT NULL
    UNION ALL
    SELECT u.user_id, j.ts, j.seq, j.granted, j.expires_at
    FROM consent_journal j JOIN dim_user u ON j.email_hash = u.email_hash
    WHERE j.purpose = 'analytics'
)
SELECT user_id, ts, granted, expires_at
FROM d
QUALIFY row_number() OVER (PARTITION BY user_id, ts ORDER BY seq DESC) = 1
