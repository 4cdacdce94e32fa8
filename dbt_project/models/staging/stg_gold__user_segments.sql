SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(user_pid)::String AS user_pid,
    assumeNotNull(segment)::LowCardinality(String) AS segment,
    rfm_score::Nullable(Int32) AS rfm_score
FROM {{ source('gold', 'user_segments') }}
