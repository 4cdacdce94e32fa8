{#
  Gold stays in Delta; ClickHouse reads it in place. Before every dbt run this creates (or
  refreshes, so a new Delta version is seen) one table per `gold` source:
    local lake:  ENGINE = DeltaLakeLocal('/abs/lake/gold/<table>')
    S3 / MinIO:  ENGINE = DeltaLake('<endpoint>/<bucket>/<prefix>/gold/<table>/')
  S3 credentials are not written into SQL (they would land in logs and table metadata):
  ClickHouse takes them from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
  or, on a server, from its own S3 configuration.
#}
{% macro lake_root() %}
    {%- set root = var('lake_root', none) or env_var('ADLAKE_LAKE_ROOT', '') -%}
    {%- if not root -%}
        {{ exceptions.raise_compiler_error("Set ADLAKE_LAKE_ROOT (or --vars lake_root) to the lake that holds gold") }}
    {%- endif -%}
    {{ return(root.rstrip('/')) }}
{% endmacro %}

{% macro gold_table_engine(table_name) %}
    {%- set root = lake_root() -%}
    {%- if root.startswith('s3://') or root.startswith('s3a://') -%}
        {%- set bucket_and_prefix = root.split('://', 1)[1] -%}
        {%- set endpoint = var('s3_endpoint', none) or env_var('ADLAKE_S3_ENDPOINT', '') -%}
        {%- if endpoint -%}
            {%- set url = endpoint.rstrip('/') ~ '/' ~ bucket_and_prefix -%}
        {%- else -%}
            {%- set parts = bucket_and_prefix.split('/', 1) -%}
            {%- set url = 'https://' ~ parts[0] ~ '.s3.amazonaws.com' ~ ('/' ~ parts[1] if parts | length > 1 else '') -%}
        {%- endif -%}
        {{ return("DeltaLake('" ~ url ~ "/gold/" ~ table_name ~ "/')") }}
    {%- elif root.startswith('/') -%}
        {{ return("DeltaLakeLocal('" ~ root ~ "/gold/" ~ table_name ~ "')") }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("lake_root must be an absolute path or an s3:// URL, got '" ~ root ~ "'") }}
    {%- endif -%}
{% endmacro %}

{% macro create_gold_sources() %}
    {% if execute %}
        {% set gold = graph.sources.values() | selectattr('source_name', 'equalto', 'gold') | list %}
        {% for src in gold %}
            {% if loop.first %}
                {% do run_query('CREATE DATABASE IF NOT EXISTS ' ~ adapter.quote(src.schema)) %}
            {% endif %}
            {% set relation = adapter.quote(src.schema) ~ '.' ~ adapter.quote(src.identifier) %}
            {% do log('gold source ' ~ relation ~ ' <- ' ~ gold_table_engine(src.identifier), info=false) %}
            {% do run_query('CREATE OR REPLACE TABLE ' ~ relation ~ ' ENGINE = ' ~ gold_table_engine(src.identifier)) %}
        {% endfor %}
    {% endif %}
{% endmacro %}
