SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(model)::LowCardinality(String) AS model,
    assumeNotNull(cause_channel)::LowCardinality(String) AS cause_channel,
    coalesce(conversions, 0)::Int64 AS conversions,
    coalesce(credit_to_cause, 0)::Float64 AS credit_to_cause,
    coalesce(revenue_micros, 0)::Int64 AS revenue_micros,
    coalesce(revenue_to_cause_micros, 0)::Float64 AS revenue_to_cause_micros
FROM {{ source('evaluation', 'attribution_accuracy') }}
