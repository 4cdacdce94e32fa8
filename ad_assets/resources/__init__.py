"""Dagster resources: where the lake is, the Spark session, where the layer steps run, the
pseudonymisation key, where raw logs come from, and where the ClickHouse marts live. Built
from the settings of the chosen environment."""

from ad_assets.resources.clickhouse import ClickHouseResource
from ad_assets.resources.lake import LakeResource
from ad_assets.resources.log_source import LogSourceResource
from ad_assets.resources.pseudonym_key import PseudonymKeyResource
from ad_assets.resources.spark import SparkResource
from ad_assets.resources.spark_steps import SparkStepsResource

__all__ = [
    "ClickHouseResource",
    "LakeResource",
    "LogSourceResource",
    "PseudonymKeyResource",
    "SparkResource",
    "SparkStepsResource",
]
