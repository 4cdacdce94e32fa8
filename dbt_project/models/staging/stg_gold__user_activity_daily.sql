SELECT
    assumeNotNull(event_date)::Date AS event_date,
    assumeNotNull(user_pid)::String AS user_pid,
    coalesce(impressions, 0)::Int64 AS impressions,
    coalesce(ivt_impressions, 0)::Int64 AS ivt_impressions,
    coalesce(valid_impressions, 0)::Int64 AS valid_impressions,
    coalesce(valid_clicks, 0)::Int64 AS valid_clicks,
    coalesce(fast_clicks, 0)::Int64 AS fast_clicks,
    coalesce(orders, 0)::Int64 AS orders,
    coalesce(revenue_micros, 0)::Int64 AS revenue_micros,
    coalesce(max_clicks_per_minute, 0)::Int64 AS max_clicks_per_minute
FROM {{ source('gold', 'user_activity_daily') }}
