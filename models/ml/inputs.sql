-- The inputs of the derived tables for one date D = {{date}}, as they were at the end of D (UTC):
-- t_end = D + 1 day is the first instant that is NOT seen. Everything below reads only what has a
-- timestamp before t_end, so a backfill of an old date gives what a run on that date would have
-- given (late events change only the dates they belong to).
CREATE OR REPLACE TEMP TABLE ml_params AS
SELECT DATE '{{date}}' AS d,
       CAST(DATE '{{date}}' AS TIMESTAMP) + INTERVAL 1 DAY AS t_end,
       CAST(strftime(DATE '{{date}}', '%Y%m%d') AS INTEGER) AS d_key;

-- A user's profile as of t_end: the latest exported version of the Supabase row updated before
-- t_end (the raw zone keeps every daily export; dim_user only keeps the newest). A user whose first
-- version is later (signed up after D) has no profile as of D.
CREATE OR REPLACE TEMP TABLE ml_profile AS
SELECT try_cast(v.user_id AS UUID) AS user_id,
       CAST(v.persona AS VARCHAR) AS persona,
       v.is_active = 't' AS is_active,
       CAST(try_cast(v.signup_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS DATE) AS signup_date
FROM read_csv('{{raw}}/supabase/user_profiles/*/*.csv', header = true, delim = ',', quote = '"', escape = '"',
              auto_detect = false, ignore_errors = true, null_padding = false,
              columns = {'user_id': 'VARCHAR', 'account_id': 'VARCHAR', 'email': 'VARCHAR', 'name': 'VARCHAR', 'persona': 'VARCHAR', 'preferences': 'VARCHAR', 'settings': 'VARCHAR', 'is_active': 'VARCHAR', 'signup_at': 'VARCHAR', 'last_login_at': 'VARCHAR', 'created_at': 'VARCHAR', 'updated_at': 'VARCHAR'}) v,
     ml_params p
WHERE try_cast(v.user_id AS UUID) IS NOT NULL
  AND try_cast(v.updated_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC' < p.t_end
QUALIFY row_number() OVER (PARTITION BY try_cast(v.user_id AS UUID)
                           ORDER BY try_cast(v.updated_at AS TIMESTAMPTZ) DESC) = 1;

-- The users as of D: known to the curated dim_user, with a profile version before t_end and a
-- signup on or before D.
CREATE OR REPLACE TEMP TABLE ml_users AS
SELECT u.user_id, u.email_hash, pr.signup_date, pr.persona, pr.is_active
FROM dim_user u
JOIN ml_profile pr USING (user_id), ml_params p
WHERE pr.signup_date IS NOT NULL AND pr.signup_date <= p.d;

-- Consent as of t_end (spec 7's gating rule): per user and purpose, the latest decision made before
-- t_end, matched by user_id or by the address's hash; valid when it is a grant not expired at the
-- end of D. consent_journal is the state store's journal, loaded by the job.
CREATE OR REPLACE TEMP TABLE ml_consent AS
WITH decisions AS (
    SELECT u.user_id, j.purpose, j.granted, j.ts, j.seq, j.expires_at, j.source
    FROM ml_users u JOIN consent_journal j ON j.user_id = CAST(u.user_id AS VARCHAR)
    UNION ALL
    SELECT u.user_id, j.purpose, j.granted, j.ts, j.seq, j.expires_at, j.source
    FROM ml_users u JOIN consent_journal j ON j.email_hash = u.email_hash
)
SELECT user_id, purpose, granted AND (expires_at IS NULL OR expires_at >= p.t_end) AS valid
FROM decisions, ml_params p
WHERE ts < p.t_end
QUALIFY row_number() OVER (PARTITION BY user_id, purpose ORDER BY ts DESC, seq DESC) = 1;

-- A verified address: a double opt-in confirmed before t_end (the platform's own `mdp consent doi
-- confirm`, source doi, or a VcTokens confirmation from the DynamoDB stream, source ddb-doi).
CREATE OR REPLACE TEMP TABLE ml_verified AS
WITH doi AS (
    SELECT j.* FROM consent_journal j, ml_params p
    WHERE j.source IN ('doi', 'ddb-doi') AND j.granted AND j.ts < p.t_end
)
SELECT u.user_id FROM ml_users u JOIN doi j ON j.email_hash = u.email_hash
UNION
SELECT u.user_id FROM ml_users u JOIN doi j ON j.user_id = CAST(u.user_id AS VARCHAR);

-- Onboarding step events before t_end (date_key bounds the partitions read).
CREATE OR REPLACE TEMP TABLE ml_steps AS
SELECT f.user_id, f.event_type, f.duration_seconds, f."timestamp" AS ts
FROM fact_onboarding_steps f, ml_params p
WHERE f.date_key <= p.d_key AND f."timestamp" < p.t_end;
