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

{# The counts and micros sums of gold: they add up across rows (ratios never do). #}
{% macro metric_counts() %}
    {{ return(['impressions', 'clicks', 'conversions', 'spend_micros', 'revenue_micros']) }}
{% endmacro %}

{# Staging: gold's Nullable counts as Int64. #}
{% macro typed_counts() %}
    {%- for c in metric_counts() %}
    coalesce({{ c }}, 0)::Int64 AS {{ c }}{{ ',' if not loop.last }}
    {%- endfor %}
{% endmacro %}

{# Marts: counts, money and ratios, from columns of the same names. #}
{% macro metric_columns() %}
    {{ metric_counts() | join(', ') }},
    {{ money_columns() }},
    {{ metric_ratios() }}
{% endmacro %}

{# Rollups: sums of the counts (ratios are recomputed from them, never averaged). #}
{% macro additive_sums() %}
    {%- for c in metric_counts() %}
    sum({{ c }}) AS {{ c }}{{ ',' if not loop.last }}
    {%- endfor %}
{% endmacro %}
