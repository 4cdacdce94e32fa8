{# Vendored equivalent of dbt_utils.unique_combination_of_columns (no hub packages here). #}
{% test unique_combination(model, combination_of_columns) %}
    SELECT {{ combination_of_columns | join(', ') }}, count() AS n
    FROM {{ model }}
    GROUP BY {{ combination_of_columns | join(', ') }}
    HAVING n > 1
{% endtest %}
