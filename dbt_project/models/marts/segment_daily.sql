{{ config(order_by='(event_date, segment)') }}
-- User-level mart: a segment-day with fewer than privacy_min_users members is suppressed
-- (docs/privacy.md). Performance is the members' own activity on that day.
WITH members AS (
    SELECT event_date, segment, user_pid
    FROM {{ ref('stg_gold__user_segments') }}
    WHERE {{ partition_window() }}
),

activity AS (
    SELECT event_date, user_pid, valid_impressions, valid_clicks, orders, revenue_micros
    FROM {{ ref('stg_gold__user_activity_daily') }}
    WHERE {{ partition_window() }}
)

SELECT
    m.event_date AS event_date,
    m.segment AS segment,
    uniqExact(m.user_pid) AS users,
    -- ClickHouse fills a LEFT JOIN's missing side with zeros: a member idle that day adds 0.
    countIf(a.valid_impressions + a.valid_clicks + a.orders > 0) AS active_users,
    sum(a.valid_impressions) AS impressions,
    sum(a.valid_clicks) AS clicks,
    sum(a.orders) AS orders,
    sum(a.revenue_micros) AS revenue_micros,
    revenue_micros / 1e6 AS revenue,
    if(impressions > 0, clicks / impressions, NULL) AS ctr,
    if(clicks > 0, orders / clicks, NULL) AS cvr
FROM members AS m
LEFT JOIN activity AS a ON a.event_date = m.event_date AND a.user_pid = m.user_pid
GROUP BY m.event_date, m.segment
HAVING users >= {{ var('privacy_min_users') }}
