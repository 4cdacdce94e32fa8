{#
  Gold (and the quality results) stay in Delta; ClickHouse reads them in place. Before
  every dbt run this creates (or refreshes, so a new Delta version is seen) one table per
  source of the lake folders LAKE_SOURCES (source name = folder under the lake root):
    local lake:  ENGINE = DeltaLakeLocal('/abs/lake/<folder>/<table>')
    S3 / MinIO:  ENGINE = DeltaLake('<endpoint>/<bucket>/<prefix>/<folder>/<table>/')
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

{% macro lake_table_engine(folder, table_name) %}
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
        {{ return("DeltaLake('" ~ url ~ "/" ~ folder ~ "/" ~ table_name ~ "/')") }}
    {%- elif root.startswith('/') -%}
        {{ return("DeltaLakeLocal('" ~ root ~ "/" ~ folder ~ "/" ~ table_name ~ "')") }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("lake_root must be an absolute path or an s3:// URL, got '" ~ root ~ "'") }}
    {%- endif -%}
{% endmacro %}

{% macro create_lake_sources() %}
    {% if execute %}
        {% for src in graph.sources.values() if src.source_name in ('gold', 'quality', 'evaluation') %}
            {% do run_query('CREATE DATABASE IF NOT EXISTS ' ~ adapter.quote(src.schema)) %}
            {% set relation = adapter.quote(src.schema) ~ '.' ~ adapter.quote(src.identifier) %}
            {% set engine = lake_table_engine(src.source_name, src.identifier) %}
            {% do log('lake source ' ~ relation ~ ' <- ' ~ engine, info=false) %}
            {% do run_query('CREATE OR REPLACE TABLE ' ~ relation ~ ' ENGINE = ' ~ engine) %}
        {% endfor %}
    {% endif %}
{% endmacro %}
