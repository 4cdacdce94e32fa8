SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(publisher_id)::LowCardinality(String) AS publisher_id,
    assumeNotNull(channel)::LowCardinality(String) AS channel,
    coalesce(impressions, 0)::Int64 AS impressions,
    coalesce(clicks, 0)::Int64 AS clicks,
    coalesce(conversions, 0)::Int64 AS conversions,
    coalesce(spend_micros, 0)::Int64 AS spend_micros,
    coalesce(revenue_micros, 0)::Int64 AS revenue_micros,
    coalesce(unique_users, 0)::Int64 AS unique_users
FROM {{ source('gold', 'publisher_daily') }}
