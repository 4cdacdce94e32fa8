from __future__ import annotations

from dagster import AssetKey, MaterializeResult, MetadataValue
from delta.tables import DeltaTable
from pyspark.sql import SparkSession


def table_result(spark: SparkSession, key: AssetKey, path: str, **metadata) -> MaterializeResult:
    """A materialization with the Delta table's path and committed version."""
    version = DeltaTable.forPath(spark, path).history(1).select("version").first()[0]
    return MaterializeResult(
        asset_key=key,
        metadata={"path": MetadataValue.path(path), "delta_version": int(version), **metadata},
    )
