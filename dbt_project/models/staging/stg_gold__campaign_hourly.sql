SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(event_hour)::UInt8 AS event_hour,
    assumeNotNull(advertiser_id)::LowCardinality(String) AS advertiser_id,
    assumeNotNull(campaign_id)::LowCardinality(String) AS campaign_id,
    {{ typed_counts() }}
FROM {{ source('gold', 'campaign_hourly') }}
