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
        sum(avg_bid_cpm * bids) AS bid_cpm_total,
        sum(avg_clear_price_cpm * wins) AS clear_cpm_total,
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
    if(n_bids = 0, NULL, bid_cpm_total / n_bids) AS avg_bid_cpm,
    if(n_wins = 0, NULL, clear_cpm_total / n_wins) AS avg_clear_price_cpm,
    n_floor_losses AS floor_losses,
    n_outbid_losses AS outbid_losses,
    n_expired_losses AS expired_losses,
    n_other_losses AS other_losses,
    n_impressions AS impressions,
    total_spend_micros / 1e6 AS spend
FROM sums
