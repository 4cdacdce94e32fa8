{# Rows whose value lies outside [min_value, max_value]; NULLs pass (no divisor). #}
{% test value_between(model, column_name, min_value, max_value) %}
    SELECT {{ column_name }} AS value, *
    FROM {{ model }}
    WHERE {{ column_name }} IS NOT NULL
      AND ({{ column_name }} < {{ min_value }} OR {{ column_name }} > {{ max_value }})
{% endtest %}
