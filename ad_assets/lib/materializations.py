from __future__ import annotations

from dagster import AssetKey, MaterializeResult, MetadataValue

from spark_jobs.lake import Lake
from spark_jobs.lake_read import open_table


def table_result(lake: Lake, key: AssetKey, layer: str, name: str, **metadata) -> MaterializeResult:
    """A materialization with the Delta table's path and committed version (read from the
    log by delta-rs: no Spark job)."""
    version = open_table(lake, layer, name).version()
    return MaterializeResult(
        asset_key=key,
        metadata={
            "path": MetadataValue.path(lake.table(layer, name)),
            "delta_version": int(version),
            **metadata,
        },
    )
