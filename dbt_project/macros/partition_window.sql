{#
  A Dagster daily partition passes its event-date window as vars min_date / max_date
  (inclusive). On an incremental run a model selects only that window and
  insert_overwrite replaces those day partitions, so a rerun of a day changes nothing and
  a correction in gold replaces the stale day. With no window (first build, or plain
  `dbt build`), models cover all of gold.
#}
{% macro partition_window(column='event_date') %}
    {%- if is_incremental() and var('min_date', none) and var('max_date', none) -%}
        {{ column }} BETWEEN toDate('{{ var("min_date") }}') AND toDate('{{ var("max_date") }}')
    {%- else -%}
        1 = 1
    {%- endif -%}
{% endmacro %}
