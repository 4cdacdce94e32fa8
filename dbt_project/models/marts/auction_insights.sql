{{ config(order_by='(event_date, publisher_id, channel, campaign_id)') }}
-- How the bidding went, per event date, publisher, channel and campaign (placements
-- summed): bids, wins, win rate, what was paid against what was bid, and why bids lost.
-- Bid rate stays per placement in gold (its denominator does not add up across campaigns).
-- The sums get other names first: ClickHouse would read `bids` inside sum() as the alias.
WITH sums AS (
    SELECT
        event_date,
        publisher_id,
        channel,
        campaign_id,
        sum(bids) AS n_bids,
        sum(wins) AS n_wins,
        -- Back to exact integer micros before adding up: a sum of doubles depends on the
        -- order rows arrive in, and a rerun must build the same mart.
        sum(toInt64(round(coalesce(avg_bid_cpm, 0) * bids * 1e6))) AS bid_micros_total,
        sum(toInt64(round(coalesce(avg_clear_price_cpm, 0) * wins * 1e6))) AS clear_micros_total,
        sum(floor_losses) AS n_floor_losses,
        sum(outbid_losses) AS n_outbid_losses,
        sum(expired_losses) AS n_expired_losses,
        sum(other_losses) AS n_other_losses,
        sum(impressions) AS n_impressions,
        sum(spend_micros) AS total_spend_micros
    FROM {{ ref('stg_gold__auction_daily') }}
    WHERE {{ partition_window() }}
    GROUP BY event_date, publisher_id, channel, campaign_id
)
SELECT
    event_date,
    publisher_id,
    channel,
    campaign_id,
    n_bids AS bids,
    n_wins AS wins,
    if(n_bids = 0, NULL, n_wins / n_bids) AS win_rate,
    if(n_bids = 0, NULL, bid_micros_total / n_bids / 1e6) AS avg_bid_cpm,
    if(n_wins = 0, NULL, clear_micros_total / n_wins / 1e6) AS avg_clear_price_cpm,
    n_floor_losses AS floor_losses,
    n_outbid_losses AS outbid_losses,
    n_expired_losses AS expired_losses,
    n_other_losses AS other_losses,
    n_impressions AS impressions,
    total_spend_micros / 1e6 AS spend
FROM sums
