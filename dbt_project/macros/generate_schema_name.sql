{# Models land in the database named by their folder config (staging, marts), not in
   "<target schema>_marts": dashboards query marts.campaign_daily on every target. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
