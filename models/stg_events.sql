-- model: stg_events
-- The app's events (spec 2 Event-Payload) from the raw zone, typed and deduplicated on event_id.
-- Raw keeps every line as delivered, so the checks of ingestion are applied again: a row that
-- cannot be curated gets a _reason and goes to quarantine instead of the tables.
SELECT
    event_id,
    user_id,
    account_id,
    location_id,
    external_ids,
    event_type,
    properties,
    try_cast("timestamp" AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS ts,
    filename AS _location,
    CASE
        WHEN event_id IS NULL OR try_cast(event_id AS UUID) IS NULL THEN 'invalid_event_id'
        WHEN user_id IS NULL THEN 'missing_user_id'
        WHEN try_cast(user_id AS UUID) IS NULL THEN 'invalid_user_id'
        WHEN try_cast("timestamp" AS TIMESTAMPTZ) IS NULL THEN 'invalid_timestamp'
    END AS _reason
FROM read_json('{{raw}}/events/app_events/*/*.ndjson',
               format = 'newline_delimited', ignore_errors = true, filename = true,
               columns = {event_id: 'VARCHAR', user_id: 'VARCHAR', account_id: 'VARCHAR',
                          location_id: 'VARCHAR', external_ids: 'MAP(VARCHAR, VARCHAR)',
                          "timestamp": 'VARCHAR', event_type: 'VARCHAR', properties: 'JSON'})
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY filename) = 1
