{{ config(order_by='(event_date, model, cause_channel)') }}
-- How right each attribution model is (docs/attribution.md, "Accuracy"): per event date,
-- model and the channel that really caused the conversions ('organic' when no ad did), the
-- share of conversions and of revenue the model credited to the true campaign. Overall:
-- sum(credit_to_cause) / sum(conversions) over the rows of a model.
SELECT
    event_date,
    model,
    cause_channel,
    conversions,
    credit_to_cause,
    if(conversions = 0, NULL, credit_to_cause / conversions) AS accuracy,
    revenue_micros / 1e6 AS revenue,
    if(revenue_micros = 0, NULL, revenue_to_cause_micros / revenue_micros) AS revenue_accuracy
FROM {{ ref('stg_evaluation__attribution_accuracy') }}
WHERE {{ partition_window() }}
