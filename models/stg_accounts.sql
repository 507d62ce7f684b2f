-- model: stg_accounts
-- Supabase's accounts from the raw zone: the daily exports (PostgreSQL COPY CSV) of the rows changed
-- that day, so the current state of a row is its latest version by updated_at.
SELECT *
FROM read_csv('{{raw}}/supabase/accounts/*/*.csv', header = true, delim = ',', quote = '"', escape = '"',
              auto_detect = false, ignore_errors = true, null_padding = false,
              columns = {'account_id': 'VARCHAR', 'business_name': 'VARCHAR', 'main_category': 'VARCHAR', 'price_range': 'VARCHAR', 'is_active': 'VARCHAR', 'created_at': 'VARCHAR', 'updated_at': 'VARCHAR'})
WHERE account_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY try_cast(updated_at AS TIMESTAMPTZ) DESC NULLS LAST) = 1
