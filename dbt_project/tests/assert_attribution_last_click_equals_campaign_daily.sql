-- The last_click model is the campaign metrics' attribution (docs/attribution.md): per
-- event date and campaign its credited conversions and revenue must equal campaign_daily's.
-- A row returned is a campaign-day where they differ.
{{ config(meta={'dagster': {'ref': {'name': 'attribution_models'}}}) }}

WITH models AS (
    SELECT event_date, campaign_id, conversions_last_click AS conversions, revenue_last_click AS revenue
    FROM {{ ref('attribution_models') }}
    WHERE campaign_id != '(unattributed)' AND conversions_last_click > 0
),
daily AS (
    SELECT event_date, campaign_id, conversions, revenue
    FROM {{ ref('campaign_daily') }}
    WHERE conversions > 0
)
SELECT
    if(models.event_date = toDate(0), daily.event_date, models.event_date) AS day,
    if(models.campaign_id = '', daily.campaign_id, models.campaign_id) AS campaign,
    models.conversions AS model_conversions, daily.conversions AS daily_conversions,
    models.revenue AS model_revenue, daily.revenue AS daily_revenue
FROM models
FULL OUTER JOIN daily ON models.event_date = daily.event_date AND models.campaign_id = daily.campaign_id
WHERE abs(models.conversions - daily.conversions) > 1e-9 OR abs(models.revenue - daily.revenue) > 1e-6
