{#
  The ratios of DESIGN.md's metric definitions, in ClickHouse SQL: numerator / denominator
  (x scale), NULL where the divisor is 0. Spark's twin is spark_jobs/metrics.py RATIOS; the
  tests check that marts and gold agree on every row.
#}
{% macro metric_ratios() %}
    {%- set ratios = {
        'ctr':  ('clicks', 'impressions', 1),
        'cvr':  ('conversions', 'clicks', 1),
        'cpc':  ('spend', 'clicks', 1),
        'cpm':  ('spend', 'impressions', 1000),
        'roas': ('revenue', 'spend', 1),
    } -%}
    {%- for name, (num, den, scale) in ratios.items() %}
    if({{ den }} = 0, NULL, {{ num }} * {{ scale }} / {{ den }}) AS {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
{% endmacro %}

{# Money columns from exact micros. #}
{% macro money_columns() %}
    spend_micros / 1e6 AS spend,
    revenue_micros / 1e6 AS revenue
{% endmacro %}

{# Counts and sums that add up across rows (ratios never do: recompute them). #}
{% macro additive_sums() %}
    sum(impressions) AS impressions,
    sum(clicks) AS clicks,
    sum(conversions) AS conversions,
    sum(spend_micros) AS spend_micros,
    sum(revenue_micros) AS revenue_micros
{% endmacro %}
