"""The real-time path's local servers (Kafka, Redis) as the project starts them. Nothing in
this package imports Dagster, Spark or dbt: the CLI and the services use it directly."""
