-- model: stg_oauth_logins
-- Supabase's oauth_logins from the raw zone: the daily exports (PostgreSQL COPY CSV) of the rows changed
-- that day, so the current state of a row is its latest version by created_at.
SELECT *
FROM read_csv('{{raw}}/supabase/oauth_logins/*/*.csv', header = true, delim = ',', quote = '"', escape = '"',
              auto_detect = false, ignore_errors = true, null_padding = false,
              columns = {'event_id': 'VARCHAR', 'user_id': 'VARCHAR', 'provider': 'VARCHAR', 'success': 'VARCHAR', 'error_code': 'VARCHAR', 'created_at': 'VARCHAR'})
WHERE event_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY try_cast(created_at AS TIMESTAMPTZ) DESC NULLS LAST) = 1
