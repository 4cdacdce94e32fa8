{{ config(order_by='(event_date, advertiser_id, campaign_id)') }}
SELECT
    event_date,
    advertiser_id,
    campaign_id,
    {{ metric_columns() }}
FROM {{ ref('stg_gold__campaign_daily') }}
WHERE {{ partition_window() }}
