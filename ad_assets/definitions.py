"""The `ad_assets` code location: raw -> bronze -> silver -> gold -> marts, with checks, a
daily schedule and a landing sensor.

Settings are read once, here at the edge (`defs`, which Dagster calls when it loads the
location), and passed down: every module of `ad_assets/defs/` that defines a
`defs_for(settings) -> Definitions` contributes its part, so a new domain (analytics,
streaming, models) is a new module there, not an edit to a central list."""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
import warnings
from types import ModuleType

from dagster import (
    BetaWarning,
    Definitions,
    EnvVar,
    PreviewWarning,
    SupersessionWarning,
    definitions,
    in_process_executor,
)

import ad_assets.defs
from ad_assets.defs.marts import DBT_EXECUTABLE, dbt_project
from ad_assets.resources import (
    ClickHouseResource,
    LakeResource,
    LogSourceResource,
    PseudonymKeyResource,
    SparkResource,
    SparkStepsResource,
)
from ad_assets.resources.dbt import MartsDbtResource
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
            spark_config=dict(s.spark_conf),
        ),
        "spark_steps": SparkStepsResource.from_settings(s),  # where bronze, silver and gold run
        "pseudonym_key": PseudonymKeyResource(
            key=_secret("ADLAKE_HMAC_KEY"),
            key_file=str(s.home / "secrets" / "hmac.key"),
            key_version=s.hmac_key_version,
            salt=_secret("ADLAKE_ERASURE_SALT"),
        ),
        "clickhouse": ClickHouseResource.from_settings(s, password=_secret("ADLAKE_CLICKHOUSE_PASSWORD")),
        # dbt runs as a subprocess; the server target reads its password from the environment.
        "dbt": MartsDbtResource(
            project_dir=dbt_project, target=s.clickhouse_target, dbt_executable=DBT_EXECUTABLE
        ),
        "log_source": LogSourceResource(
            mode=s.raw_source,
            world_start=s.start_date,
            impressions_per_day=s.impressions_per_day,
            seed=s.seed,
            incident=s.incident or "",
        ),
    }


def defs_modules() -> list[ModuleType]:
    """The modules of ad_assets/defs/ that contribute definitions (those with `defs_for`);
    the others hold shared helpers."""
    found = (
        importlib.import_module(f"{ad_assets.defs.__name__}.{m.name}")
        for m in pkgutil.iter_modules(ad_assets.defs.__path__)
    )
    return [m for m in found if hasattr(m, "defs_for")]


@functools.cache
def build_definitions(s: Settings) -> Definitions:
    """Every asset, check, job, schedule and sensor, for these settings."""
    with warnings.catch_warnings():
        # Dagster flags APIs AdLake uses knowingly, with the Dagster family pinned: partitioned
        # asset checks (preview), single-run backfill policies (beta) and the time-partition
        # freshness checks (superseded by FreshnessPolicy, which does not yet judge partitions).
        # They would print on every command; they are listed here instead.
        for category in (PreviewWarning, BetaWarning, SupersessionWarning):
            warnings.filterwarnings("ignore", category=category)
        parts = [module.defs_for(s) for module in defs_modules()]
    return Definitions.merge(
        *parts,
        Definitions(
            resources=build_resources(s),
            # Spark steps share one process and so one SparkSession (start-up costs seconds).
            executor=in_process_executor,
        ),
    )


@definitions
def defs() -> Definitions:
    """What Dagster loads (workspace.yaml): the definitions for this environment's settings."""
    return build_definitions(load_settings())
