-- model: dim_user
-- table: curated/dimensions/dim_user
-- depends: stg_user_profiles, stg_communication_prefs
-- One row per user (spec 4). email_hash is the spec 7 pseudonym: SHA-256 of the trimmed,
-- lower-cased address; the address itself never enters the curated zone.
SELECT
    CAST(u.user_id AS UUID) AS user_id,
    sha256(lower(trim(u.email))) AS email_hash,
    CAST(try_cast(u.signup_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS DATE) AS signup_date,
    CAST(u.persona AS VARCHAR) AS persona,
    CAST(CASE WHEN p.user_id IS NULL THEN NULL
              ELSE json_object('tone', p.tone, 'address', p.address, 'help_level', p.help_level) END AS JSON)
        AS communication_prefs,
    u.is_active = 't' AS is_active,
    try_cast(u.last_login_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS last_login
FROM stg_user_profiles u
LEFT JOIN stg_communication_prefs p USING (user_id)
WHERE try_cast(u.user_id AS UUID) IS NOT NULL
