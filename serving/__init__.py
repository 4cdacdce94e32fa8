"""Services that start without Dagster, Spark or dbt: the HTTP collector (and, later, the
prediction API)."""
