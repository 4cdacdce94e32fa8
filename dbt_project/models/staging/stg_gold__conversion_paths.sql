SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(advertiser_id)::LowCardinality(String) AS advertiser_id,
    assumeNotNull(path)::String AS path,
    coalesce(path_length, 0)::Int32 AS path_length,
    coalesce(conversions, 0)::Int64 AS conversions,
    coalesce(revenue_micros, 0)::Int64 AS revenue_micros,
    coalesce(non_conversions, 0)::Int64 AS non_conversions
FROM {{ source('gold', 'conversion_paths') }}
