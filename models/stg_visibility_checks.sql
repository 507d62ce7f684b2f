-- model: stg_visibility_checks
-- Supabase's visibility_checks from the raw zone: the daily exports (PostgreSQL COPY CSV) of the rows changed
-- that day, so the current state of a row is its latest version by updated_at.
SELECT *
FROM read_csv('{{raw}}/supabase/visibility_checks/*/*.csv', header = true, delim = ',', quote = '"', escape = '"',
              auto_detect = false, ignore_errors = true, null_padding = false,
              columns = {'check_id': 'VARCHAR', 'user_id': 'VARCHAR', 'account_id': 'VARCHAR', 'location_id': 'VARCHAR', 'overall_score': 'VARCHAR', 'gbp_score': 'VARCHAR', 'social_score': 'VARCHAR', 'web_score': 'VARCHAR', 'competitor_count': 'VARCHAR', 'processing_time_seconds': 'VARCHAR', 'created_at': 'VARCHAR', 'updated_at': 'VARCHAR'})
WHERE check_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY check_id ORDER BY try_cast(updated_at AS TIMESTAMPTZ) DESC NULLS LAST) = 1
