{{ config(order_by='(event_date, event_hour, advertiser_id, campaign_id)') }}
SELECT
    event_date,
    event_hour,
    toDateTime(event_date) + toIntervalHour(event_hour) AS event_hour_start,
    advertiser_id,
    campaign_id,
    {{ metric_columns() }}
FROM {{ ref('stg_gold__campaign_hourly') }}
WHERE {{ partition_window() }}
