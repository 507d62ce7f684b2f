-- model: stg_locations
-- Supabase's locations from the raw zone: the daily exports (PostgreSQL COPY CSV) of the rows changed
-- that day, so the current state of a row is its latest version by updated_at.
SELECT *
FROM read_csv('{{raw}}/supabase/locations/*/*.csv', header = true, delim = ',', quote = '"', escape = '"',
              auto_detect = false, ignore_errors = true, null_padding = false,
              columns = {'location_id': 'VARCHAR', 'account_id': 'VARCHAR', 'address': 'VARCHAR', 'city': 'VARCHAR', 'country': 'VARCHAR', 'gbp_place_id': 'VARCHAR', 'latitude': 'VARCHAR', 'longitude': 'VARCHAR', 'created_at': 'VARCHAR', 'updated_at': 'VARCHAR'})
WHERE location_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY location_id ORDER BY try_cast(updated_at AS TIMESTAMPTZ) DESC NULLS LAST) = 1
