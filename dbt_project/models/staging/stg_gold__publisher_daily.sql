SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(publisher_id)::LowCardinality(String) AS publisher_id,
    assumeNotNull(channel)::LowCardinality(String) AS channel,
    {{ typed_counts() }},
    coalesce(unique_users, 0)::Int64 AS unique_users
FROM {{ source('gold', 'publisher_daily') }}
