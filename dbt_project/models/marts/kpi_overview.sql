{{ config(materialized='table', partition_by=none, order_by='event_date') }}
-- Whole-platform KPIs for the last kpi_days event dates, with the change against the
-- calendar day before (NULL when that day is missing or its value is 0).
{% set tracked = ['impressions', 'clicks', 'conversions', 'spend', 'revenue', 'ctr', 'cpm', 'roas'] %}
WITH daily AS (
    SELECT event_date, {{ additive_sums() }}
    FROM {{ ref('campaign_daily') }}
    GROUP BY event_date
),
with_ratios AS (
    SELECT *, {{ money_columns() }}, {{ metric_ratios() }}
    FROM daily
),
with_previous AS (
    SELECT
        *,
        lagInFrame(toNullable(event_date)) OVER w AS previous_date,
        {%- for col in tracked %}
        lagInFrame(toNullable({{ col }})) OVER w AS previous_{{ col }}{{ ',' if not loop.last }}
        {%- endfor %}
    FROM with_ratios
    WINDOW w AS (ORDER BY event_date ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
SELECT
    event_date,
    impressions,
    clicks,
    conversions,
    spend,
    revenue,
    ctr,
    cvr,
    cpc,
    cpm,
    roas,
    {%- for col in tracked %}
    if(previous_date = event_date - 1 AND previous_{{ col }} != 0,
       {{ col }} / previous_{{ col }} - 1, NULL) AS {{ col }}_change{{ ',' if not loop.last }}
    {%- endfor %}
FROM with_previous
WHERE event_date > (SELECT max(event_date) FROM daily) - {{ var('kpi_days') }}
