-- model: stg_events
-- The app's events (spec 2 Event-Payload) from the raw zone, typed and deduplicated on event_id.
-- Raw keeps every line as delivered, so the checks of ingestion are applied again: a row that
-- cannot be curated gets a _reason and goes to quarantine instead of the tables. An event delivered
-- more than once is kept once, as first delivered (by file name). The dedup aggregates row ids
-- only, and the curate build runs in an on-disk scratch database, so memory stays bounded by
-- engine.memory_limit (and DuckDB's own overhead) whatever the input size.
WITH ev AS (
    SELECT *, row_number() OVER () AS _rn
    FROM read_json('{{raw}}/events/app_events/*/*.ndjson',
                   format = 'newline_delimited', ignore_errors = true, filename = true,
                   columns = {event_id: 'VARCHAR', user_id: 'VARCHAR', account_id: 'VARCHAR',
                              location_id: 'VARCHAR', external_ids: 'MAP(VARCHAR, VARCHAR)',
                              "timestamp": 'VARCHAR', event_type: 'VARCHAR', properties: 'JSON'})
),
-- the first delivery of each event_id: a small aggregate (row ids), then a semi join
firsts AS (
    SELECT arg_min(_rn, filename) AS _rn FROM ev WHERE event_id IS NOT NULL GROUP BY event_id
),
once AS (
    SELECT * EXCLUDE (_rn), "timestamp" AS ts_text
    FROM ev
    WHERE event_id IS NULL OR _rn IN (SELECT _rn FROM firsts)
)
SELECT
    event_id,
    user_id,
    account_id,
    location_id,
    external_ids,
    event_type,
    properties,
    try_cast(ts_text AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS ts,
    filename AS _location,
    CASE
        WHEN event_id IS NULL OR try_cast(event_id AS UUID) IS NULL THEN 'invalid_event_id'
        WHEN user_id IS NULL THEN 'missing_user_id'
        WHEN try_cast(user_id AS UUID) IS NULL THEN 'invalid_user_id'
        WHEN try_cast(ts_text AS TIMESTAMPTZ) IS NULL THEN 'invalid_timestamp'
    END AS _reason
FROM once
