-- One row per conversion, touch and model (docs/attribution.md); the 'none' rows of
-- unattributed conversions have no touch, so their touch columns stay Nullable.
SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(order_id)::String AS order_id,
    assumeNotNull(advertiser_id)::LowCardinality(String) AS advertiser_id,
    assumeNotNull(model)::LowCardinality(String) AS model,
    position::Nullable(Int32) AS position,
    coalesce(touches, 0)::Int32 AS touches,
    touch_event_id::Nullable(String) AS touch_event_id,
    touch_type::LowCardinality(Nullable(String)) AS touch_type,
    campaign_id::Nullable(String) AS campaign_id,
    channel::Nullable(String) AS channel,
    path::Nullable(String) AS path,
    coalesce(credit, 0)::Float64 AS credit,
    coalesce(value_micros, 0)::Int64 AS value_micros,
    coalesce(credited_revenue_micros, 0)::Float64 AS credited_revenue_micros
FROM {{ source('gold', 'attribution') }}
