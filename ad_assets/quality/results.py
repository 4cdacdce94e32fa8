"""The check results table: every asset check AdLake runs is also appended to the Delta
table `quality/check_results` (one row per check, partition window and run), which the
`quality_daily` mart and `adlake quality` read. The Dagster UI keeps the same results
per asset; the table puts them in the lake beside the data they judge.

Each row carries the layer of the asset checked. The caller passes it (the layer whose
step ran the checks, the same name as its assets' group): it is never guessed from an
asset's name."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue
from delta.tables import DeltaTable as SparkDeltaTable
from pyspark.sql import SparkSession

from spark_jobs.lake import Lake
from spark_jobs.lake_read import table_exists
from spark_jobs.layers import LAYERS, ArrivalWindow

QUALITY_TABLE = ("quality", "check_results")
QUALITY_MART = "quality_daily"  # the dbt model over it
SCHEMA = (
    "partition_start date, partition_end date, layer string, asset string, check_name string, "
    "passed boolean, severity string, detail string, run_id string, checked_at timestamp"
)
COLUMNS = tuple(c.split()[0] for c in SCHEMA.split(", "))


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, MetadataValue) else value


def rows_for(results: Iterable[AssetCheckResult], layer: str, w: ArrivalWindow, run_id: str) -> list[tuple]:
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; one of {LAYERS}")
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for r in results:
        severity = r.severity or AssetCheckSeverity.ERROR
        detail = json.dumps({k: _plain(v) for k, v in (r.metadata or {}).items()}, default=str)
        rows.append(
            (
                w.start,
                w.end,
                layer,
                r.asset_key.to_user_string(),
                r.check_name,
                r.passed,
                severity.value,
                detail,
                run_id,
                now,
            )
        )
    return rows


def ensure_table(spark: SparkSession, lake: Lake) -> None:
    """Create the (empty) results table when missing, so that ClickHouse can open it."""
    path = lake.table(*QUALITY_TABLE)
    if not SparkDeltaTable.isDeltaTable(spark, path):
        spark.createDataFrame([], SCHEMA).write.format("delta").mode("append").save(path)


def record(
    spark: SparkSession,
    lake: Lake,
    results: list[AssetCheckResult],
    w: ArrivalWindow,
    run_id: str,
    *,
    layer: str,
) -> None:
    """Append the results of checks on `layer`'s assets (one Delta commit). Spark writes it
    so that S3 and local lakes get the same commit protocol as every other table."""
    if results:
        df = spark.createDataFrame(rows_for(results, layer, w, run_id), SCHEMA)
        df.coalesce(1).write.format("delta").mode("append").save(lake.table(*QUALITY_TABLE))


def _layer_rank(layer: str) -> int:
    """Upstream layers first; a layer this code does not know (an older row) last."""
    return LAYERS.index(layer) if layer in LAYERS else len(LAYERS)


def latest_results(lake: Lake, day: date | None = None) -> list[dict]:
    """The latest result of each (asset, check) for the newest partition that has results
    (or for the partitions that contain `day`), ordered by layer, asset and check."""
    if not table_exists(lake, *QUALITY_TABLE):
        return []
    uri, options = lake.delta_rs_uri(*QUALITY_TABLE), lake.delta_rs_storage_options()
    # polars reads the files itself: delta-rs's pyarrow dataset can abort the process at exit.
    rows = pl.read_delta(uri, storage_options=options or None).to_dicts()
    if day is None and rows:
        day = max(r["partition_end"] for r in rows)
    rows = [r for r in rows if r["partition_start"] <= day <= r["partition_end"]]
    latest: dict[tuple[str, str], dict] = {}
    for r in sorted(rows, key=lambda r: r["checked_at"]):
        latest[(r["asset"], r["check_name"])] = r
    return sorted(latest.values(), key=lambda r: (_layer_rank(r["layer"]), r["asset"], r["check_name"]))
