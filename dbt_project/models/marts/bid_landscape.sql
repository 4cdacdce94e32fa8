{{ config(order_by='(event_date, channel, ad_format, bid_bucket_cpm)') }}
-- Win rate by bid price (0.5 CPM buckets) per channel and format: what a bid buys.
SELECT
    event_date,
    channel,
    ad_format,
    bid_bucket_cpm,
    bids,
    wins,
    if(bids = 0, NULL, wins / bids) AS win_rate,
    avg_clear_price_cpm
FROM {{ ref('stg_gold__bid_landscape') }}
WHERE {{ partition_window() }}
