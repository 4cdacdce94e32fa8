"""AdLake's dashboard (Streamlit): the marts, the live counters, the models, data quality and
the KPI alerts (docs/dashboards.md). Starts without Dagster, Spark or dbt."""
