-- Gold columns arrive Nullable (Delta has no NOT NULL here): keys become non-null, ids
-- low-cardinality strings, counts Int64.
SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(advertiser_id)::LowCardinality(String) AS advertiser_id,
    assumeNotNull(campaign_id)::LowCardinality(String) AS campaign_id,
    {{ typed_counts() }}
FROM {{ source('gold', 'campaign_daily') }}
