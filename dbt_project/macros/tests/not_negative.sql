{% test not_negative(model, column_name) %}
    SELECT {{ column_name }} AS value FROM {{ model }} WHERE {{ column_name }} < 0
{% endtest %}
