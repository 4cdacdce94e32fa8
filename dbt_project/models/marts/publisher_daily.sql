{{ config(order_by='(event_date, publisher_id, channel)') }}
-- User-level mart: rows about fewer than privacy_min_users distinct users are suppressed
-- (docs/metrics.md, privacy floor). channel_daily still counts them in its totals.
SELECT
    event_date,
    publisher_id,
    channel,
    unique_users,
    {{ metric_columns() }}
FROM {{ ref('stg_gold__publisher_daily') }}
WHERE {{ partition_window() }}
  AND unique_users >= {{ var('privacy_min_users') }}
