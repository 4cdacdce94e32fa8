{{ config(order_by='(event_date, advertiser_id, path)') }}
-- Channel paths per event date and advertiser: how many journeys took each path, how many
-- converted, their revenue and the path's conversion rate. Top paths: ORDER BY conversions.
SELECT
    event_date,
    advertiser_id,
    path,
    path_length,
    conversions,
    revenue_micros / 1e6 AS revenue,
    non_conversions,
    conversions + non_conversions AS journeys,
    if(journeys = 0, NULL, conversions / journeys) AS conversion_rate
FROM {{ ref('stg_gold__conversion_paths') }}
WHERE {{ partition_window() }}
