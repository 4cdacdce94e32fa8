from __future__ import annotations

from dagster import AssetKey, MaterializeResult, MetadataValue
from deltalake import DeltaTable

from spark_jobs.lake import Lake


def table_result(lake: Lake, key: AssetKey, layer: str, name: str, **metadata) -> MaterializeResult:
    """A materialization with the Delta table's path and committed version (read from the
    log by delta-rs: no Spark job)."""
    version = DeltaTable(
        lake.delta_rs_uri(layer, name), storage_options=lake.delta_rs_storage_options()
    ).version()
    return MaterializeResult(
        asset_key=key,
        metadata={
            "path": MetadataValue.path(lake.table(layer, name)),
            "delta_version": int(version),
            **metadata,
        },
    )
