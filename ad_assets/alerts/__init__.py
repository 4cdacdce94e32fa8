"""KPI alerts (issue 15, docs/alerts.md): rules read from YAML (rules.py) are evaluated
over the daily marts (evaluate.py); only changes of status become notices (state.py:
de-duplication and recovery), posted to a Slack-compatible webhook (webhook.py) and kept
in the alert history table (history.py). Pure Python: no Spark, Dagster or dbt import;
the Dagster sensor, the Delta writer, the command line and the dashboard call it."""
