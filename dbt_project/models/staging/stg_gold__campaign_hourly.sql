SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(event_hour)::UInt8 AS event_hour,
    assumeNotNull(advertiser_id)::LowCardinality(String) AS advertiser_id,
    assumeNotNull(campaign_id)::LowCardinality(String) AS campaign_id,
    coalesce(impressions, 0)::Int64 AS impressions,
    coalesce(clicks, 0)::Int64 AS clicks,
    coalesce(conversions, 0)::Int64 AS conversions,
    coalesce(spend_micros, 0)::Int64 AS spend_micros,
    coalesce(revenue_micros, 0)::Int64 AS revenue_micros
FROM {{ source('gold', 'campaign_hourly') }}
