SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(publisher_id)::LowCardinality(String) AS publisher_id,
    assumeNotNull(placement_id)::LowCardinality(String) AS placement_id,
    assumeNotNull(channel)::LowCardinality(String) AS channel,
    assumeNotNull(campaign_id)::LowCardinality(String) AS campaign_id,
    {%- for c in ['placement_requests', 'bid_requests', 'bids', 'wins', 'floor_losses', 'outbid_losses',
                  'expired_losses', 'other_losses', 'impressions', 'spend_micros'] %}
    coalesce({{ c }}, 0)::Int64 AS {{ c }},
    {%- endfor %}
    avg_bid_cpm::Nullable(Float64) AS avg_bid_cpm,
    avg_clear_price_cpm::Nullable(Float64) AS avg_clear_price_cpm,
    bid_shading::Nullable(Float64) AS bid_shading
FROM {{ source('gold', 'auction_daily') }}
