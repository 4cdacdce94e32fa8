{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    engine='MergeTree()',
    partition_by='event_date',
    order_by='(event_date, advertiser_id, campaign_id)',
) }}
-- Daily partitions: a Dagster partition run replaces exactly its event dates.
SELECT
    event_date,
    advertiser_id,
    campaign_id,
    impressions,
    clicks,
    conversions,
    spend_micros,
    revenue_micros,
    {{ money_columns() }},
    {{ metric_ratios() }}
FROM {{ ref('stg_gold__campaign_daily') }}
WHERE {{ partition_window() }}
