-- model: stg_ses
-- SES feedback from the raw zone: Lambda SQS events whose bodies are SNS envelopes (or, with raw
-- message delivery, the SES JSON itself), one row per message and recipient. The spec's email
-- event types come from notifications and event publishing alike: Delivery -> delivered, Open ->
-- open, Click -> click, Bounce -> bounce, Complaint -> complaint (Send, Reject, DeliveryDelay,
-- Subscription and Rendering Failure are not in fact_email_events' enum). SNS and SQS deliver at
-- least once: a message is identified by its SES feedbackId, or by mail.messageId + type + time,
-- and the event_id is a UUID derived from that identity and the recipient, so a message delivered
-- twice gives one row.
WITH bodies AS (
    SELECT r.body AS body, filename
    FROM (SELECT unnest(Records) AS r, filename
          FROM read_json('{{raw}}/ses/sqs/*/*.json', filename = true,
                         columns = {Records: 'STRUCT(body VARCHAR)[]'}))
    UNION ALL
    -- SNS envelopes that `mdp serve` took over HTTP, one per line
    SELECT CAST(json AS VARCHAR) AS body, filename
    FROM read_ndjson_objects('{{raw}}/ses/http/*/*.ndjson', filename = true)
),
-- a body cut in transit was quarantined at ingestion and is skipped here (the guards keep the JSON
-- functions from seeing it, whatever order the engine evaluates them in)
messages AS (
    SELECT CASE WHEN NOT json_valid(body) THEN NULL
                WHEN json_extract_string(body, '$.Type') IS NOT NULL THEN json_extract_string(body, '$.Message')
                ELSE body END AS m,
           filename
    FROM bodies
),
typed AS (
    SELECT m, filename,
           CASE WHEN json_valid(m) THEN coalesce(json_extract_string(m, '$.eventType'),
                                                 json_extract_string(m, '$.notificationType')) END AS kind
    FROM messages
    WHERE m IS NOT NULL
),
feedback AS (
    SELECT m, filename, kind,
           CASE kind WHEN 'Delivery' THEN 'delivered' WHEN 'Open' THEN 'open' WHEN 'Click' THEN 'click'
                     WHEN 'Bounce' THEN 'bounce' WHEN 'Complaint' THEN 'complaint' END AS event_type,
           lower(kind) AS member
    FROM typed
    WHERE kind IN ('Delivery', 'Open', 'Click', 'Bounce', 'Complaint')
),
recipients AS (
    SELECT f.*,
           CASE member
               WHEN 'bounce' THEN json_extract_string(m, '$.bounce.bouncedRecipients[*].emailAddress')
               WHEN 'complaint' THEN json_extract_string(m, '$.complaint.complainedRecipients[*].emailAddress')
               WHEN 'delivery' THEN json_extract_string(m, '$.delivery.recipients[*]')
               ELSE json_extract_string(m, '$.mail.destination[*]')
           END AS rcpts
    FROM feedback f
)
SELECT
    CAST(md5(coalesce(json_extract_string(m, '$.' || member || '.feedbackId'),
                      json_extract_string(m, '$.mail.messageId') || '|' || kind || '|' ||
                      coalesce(json_extract_string(m, '$.' || member || '.timestamp'), ''))
             || '|' || lower(trim(rcpt))) AS UUID) AS event_id,
    lower(trim(rcpt)) AS email_lower,
    json_extract_string(m, '$.mail.tags.campaign_id[0]') AS campaign_id,
    event_type,
    json_extract_string(m, '$.mail.tags.copy_variant[0]') AS copy_variant,
    json_extract_string(m, '$.mail.tags.subject_variant[0]') AS subject_variant,
    try_cast(coalesce(json_extract_string(m, '$.' || member || '.timestamp'),
                      json_extract_string(m, '$.mail.timestamp')) AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS ts,
    filename AS _location,
    CASE WHEN rcpt IS NULL OR trim(rcpt) = '' THEN 'ses_missing_recipient'
         WHEN try_cast(coalesce(json_extract_string(m, '$.' || member || '.timestamp'),
                                json_extract_string(m, '$.mail.timestamp')) AS TIMESTAMPTZ) IS NULL
              THEN 'ses_invalid_timestamp' END AS _reason
FROM recipients, unnest(coalesce(rcpts, [NULL::VARCHAR])) AS t(rcpt)
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY filename) = 1
