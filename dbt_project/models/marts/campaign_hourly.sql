{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    engine='MergeTree()',
    partition_by='event_date',
    order_by='(event_date, event_hour, advertiser_id, campaign_id)',
) }}
SELECT
    event_date,
    event_hour,
    toDateTime(event_date) + toIntervalHour(event_hour) AS event_hour_start,
    advertiser_id,
    campaign_id,
    impressions,
    clicks,
    conversions,
    spend_micros,
    revenue_micros,
    {{ money_columns() }},
    {{ metric_ratios() }}
FROM {{ ref('stg_gold__campaign_hourly') }}
WHERE {{ partition_window() }}
