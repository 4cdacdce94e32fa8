{{ config(order_by='(event_date, channel)') }}
-- Channel is the impression's; built from the unsuppressed publisher rows (no user counts
-- here, so nothing to suppress).
SELECT
    event_date,
    channel,
    uniqExact(publisher_id) AS publishers,
    {{ additive_sums() }},
    {{ money_columns() }},
    {{ metric_ratios() }}
FROM {{ ref('stg_gold__publisher_daily') }}
WHERE {{ partition_window() }}
GROUP BY event_date, channel
