-- Marts = gold: per event date, marts.campaign_daily adds up to exactly what the gold
-- Delta table holds, for every additive metric (macros/metrics.sql). A day that disagrees
-- (say gold was rebuilt but the marts step of that run failed) is returned, with both
-- sides' sums.
{{ config(meta={'dagster': {'ref': {'name': 'campaign_daily'}}}) }}

{% set metrics = metric_counts() %}

WITH mart AS (
    SELECT event_date, {{ additive_sums() }} FROM {{ ref('campaign_daily') }} GROUP BY event_date
),
gold AS (
    SELECT event_date, {{ additive_sums() }} FROM {{ ref('stg_gold__campaign_daily') }} GROUP BY event_date
)
SELECT
    if(mart.event_date = toDate(0), gold.event_date, mart.event_date) AS day,
    mart.impressions AS mart_impressions, gold.impressions AS gold_impressions,
    mart.spend_micros AS mart_spend_micros, gold.spend_micros AS gold_spend_micros
FROM mart
FULL OUTER JOIN gold ON mart.event_date = gold.event_date
WHERE (mart.{{ metrics | join(', mart.') }})
   != (gold.{{ metrics | join(', gold.') }})
