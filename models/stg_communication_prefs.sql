-- model: stg_communication_prefs
-- Supabase's communication_prefs from the raw zone: the daily exports (PostgreSQL COPY CSV) of the rows changed
-- that day, so the current state of a row is its latest version by updated_at.
SELECT *
FROM read_csv('{{raw}}/supabase/communication_prefs/*/*.csv', header = true, delim = ',', quote = '"', escape = '"',
              auto_detect = false, ignore_errors = true, null_padding = false,
              columns = {'user_id': 'VARCHAR', 'tone': 'VARCHAR', 'address': 'VARCHAR', 'help_level': 'VARCHAR', 'updated_at': 'VARCHAR'})
WHERE user_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY try_cast(updated_at AS TIMESTAMPTZ) DESC NULLS LAST) = 1
