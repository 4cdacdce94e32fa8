SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(channel)::LowCardinality(String) AS channel,
    assumeNotNull(ad_format)::LowCardinality(String) AS ad_format,
    assumeNotNull(bid_bucket_cpm)::Float64 AS bid_bucket_cpm,
    coalesce(bids, 0)::Int64 AS bids,
    coalesce(wins, 0)::Int64 AS wins,
    avg_clear_price_cpm::Nullable(Float64) AS avg_clear_price_cpm
FROM {{ source('gold', 'bid_landscape') }}
