SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(advertiser_id)::LowCardinality(String) AS advertiser_id,
    coalesce(campaign_id, '(unattributed)')::LowCardinality(String) AS campaign_id,
    coalesce(channel, '(none)')::LowCardinality(String) AS channel,
    assumeNotNull(model)::LowCardinality(String) AS model,
    coalesce(credited_conversions, 0)::Float64 AS credited_conversions,
    coalesce(credited_revenue_micros, 0)::Float64 AS credited_revenue_micros,
    coalesce(spend_micros, 0)::Int64 AS spend_micros
FROM {{ source('gold', 'attribution_campaign_daily') }}
