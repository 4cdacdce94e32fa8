{{ config(order_by='(event_date, advertiser_id, campaign_id)') }}
-- The attribution models side by side: one row per event date and campaign, credited
-- conversions and revenue under each model (docs/attribution.md), the campaign's spend
-- and ROAS per model. Unattributed conversions are the '(unattributed)' row.
SELECT
    event_date,
    advertiser_id,
    campaign_id,
    any(channel) AS channel,
    -- Not aliased spend_micros: ClickHouse would read the max() below as this alias.
    max(spend_micros) / 1e6 AS spend,
    sumIf(credited_conversions, model = 'none') AS unattributed_conversions,
    {%- for m in var('attribution_models') %}
    sumIf(credited_conversions, model = '{{ m }}') AS conversions_{{ m }},
    sumIf(credited_revenue_micros, model = '{{ m }}') / 1e6 AS revenue_{{ m }},
    if(max(spend_micros) = 0, NULL, sumIf(credited_revenue_micros, model = '{{ m }}') / max(spend_micros)) AS roas_{{ m }}{{ ',' if not loop.last }}
    {%- endfor %}
FROM {{ ref('stg_gold__attribution_campaign_daily') }}
WHERE {{ partition_window() }}
GROUP BY event_date, advertiser_id, campaign_id
