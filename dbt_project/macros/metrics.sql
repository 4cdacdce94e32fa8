{#
  The metric definitions of docs/metrics.md in ClickHouse SQL. The lists come from the
  vars in dbt_project.yml (additive_metrics, money_metrics, metric_ratios), which mirror
  spark_jobs/metric_definitions.py: tests/unit/test_dbt_definitions.py fails when they differ.
  Ratios are numerator / denominator (x scale), NULL where the divisor is 0; the
  integration tests check that marts and gold agree on every row.
#}
{% macro metric_ratios() %}
    {%- for name, (num, den, scale) in var('metric_ratios').items() %}
    if({{ den }} = 0, NULL, {{ num }} * {{ scale }} / {{ den }}) AS {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
{% endmacro %}

{# Money columns (currency units) from exact micros. #}
{% macro money_columns() %}
    {%- for money, micros in var('money_metrics').items() %}
    {{ micros }} / 1e6 AS {{ money }}{{ ',' if not loop.last }}
    {%- endfor %}
{% endmacro %}

{# The counts and micros sums of gold: they add up across rows (ratios never do). #}
{% macro metric_counts() %}
    {{ return(var('additive_metrics')) }}
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
