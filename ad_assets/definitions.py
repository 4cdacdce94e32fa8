"""The `ad_assets` code location: raw -> bronze -> silver -> gold -> marts, with checks, a
daily schedule and a landing sensor. Resources come from the environment (ad_assets.settings)."""

from __future__ import annotations

import os

from dagster import Definitions, EnvVar, in_process_executor
from dagster_dbt import DbtCliResource

from ad_assets.defs.bronze import bronze_tables
from ad_assets.defs.gold import gold_tables
from ad_assets.defs.marts import DBT_EXECUTABLE, dbt_project, marts
from ad_assets.defs.quality_checks import (
    chain_reconciles,
    freshness_checks,
    freshness_sensor,
    quality_results,
)
from ad_assets.defs.raw import raw_logs
from ad_assets.defs.schedules import build_landing_sensor, daily_schedule, lakehouse_job, reprocess_job
from ad_assets.defs.silver import silver_tables
from ad_assets.resources import (
    ClickHouseResource,
    LakeResource,
    LogSourceResource,
    PseudonymKeyResource,
    SparkResource,
)
from ad_assets.settings import Settings, load_settings


def _secret(name: str, default: str | None = None):
    """Secrets stay in the environment: Dagster resolves EnvVar at run time."""
    return EnvVar(name) if os.environ.get(name) else default


def build_resources(s: Settings) -> dict:
    return {
        "lake": LakeResource(
            root=s.lake_root,
            s3_endpoint=s.s3_endpoint,
            s3_access_key=_secret("AWS_ACCESS_KEY_ID"),
            s3_secret_key=_secret("AWS_SECRET_ACCESS_KEY"),
            s3_region=s.s3_region,
            s3_path_style=s.s3_path_style,
            min_free_mb=s.min_free_mb,
        ),
        "spark": SparkResource(
            master=s.spark_master,
            jars_dir=s.spark_jars_dir,
            driver_memory=s.spark_driver_memory,
            local_dir=str(s.home / "spark-tmp"),
        ),
        "pseudonym_key": PseudonymKeyResource(
            key=_secret("ADLAKE_HMAC_KEY"),
            key_file=str(s.home / "secrets" / "hmac.key"),
            key_version=s.hmac_key_version,
        ),
        "clickhouse": ClickHouseResource.from_settings(s, password=_secret("ADLAKE_CLICKHOUSE_PASSWORD")),
        # dbt runs as a subprocess; the server target reads its password from the environment.
        "dbt": DbtCliResource(
            project_dir=dbt_project, target=s.clickhouse_target, dbt_executable=DBT_EXECUTABLE
        ),
        "log_source": LogSourceResource(
            mode=s.raw_source,
            world_start=s.start_date,
            impressions_per_day=s.impressions_per_day,
            seed=s.seed,
        ),
    }


def build_definitions(s: Settings) -> Definitions:
    return Definitions(
        assets=[raw_logs, bronze_tables, silver_tables, gold_tables, marts, quality_results],
        asset_checks=[chain_reconciles, *freshness_checks],
        jobs=[lakehouse_job, reprocess_job],
        schedules=[daily_schedule],
        sensors=[build_landing_sensor(enabled=s.raw_source == "landed"), freshness_sensor],
        resources=build_resources(s),
        # Spark steps share one process and so one SparkSession (start-up costs seconds).
        executor=in_process_executor,
    )


defs = build_definitions(load_settings())
