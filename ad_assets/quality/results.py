"""The check results table: every asset check AdLake runs is also appended to the Delta
table `quality/check_results` (one row per check, partition window and run), which the
`quality_daily` mart and `adlake quality` read. The Dagster UI keeps the same results
per asset; the table puts them in the lake beside the data they judge.

Each row carries the layer of the asset checked. The caller passes it (the layer whose
step ran the checks, the same name as its assets' group): it is never guessed from an
asset's name."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue
from pyspark.sql import SparkSession

from spark_jobs.lake import Lake
from spark_jobs.lake_read import table_exists
from spark_jobs.layers import LAYERS, ArrivalWindow
from spark_jobs.quality_table import (
    COLUMNS,
    QUALITY_TABLE,
    SCHEMA,
    append_outcomes,
    ensure_table,
    outcome_rows,
)
from spark_jobs.step_report import CheckOutcome

QUALITY_MART = "quality_daily"  # the dbt model over it
__all__ = ["COLUMNS", "QUALITY_MART", "QUALITY_TABLE", "SCHEMA", "ensure_table", "latest_results", "record"]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, MetadataValue) else value


def outcome_of(r: AssetCheckResult) -> CheckOutcome:
    """A Dagster check result as the plain outcome the table stores (spark_jobs/quality_table.py)."""
    severity = r.severity or AssetCheckSeverity.ERROR
    metadata = {k: _plain(v) for k, v in (r.metadata or {}).items()}
    return CheckOutcome(r.asset_key.to_user_string(), r.check_name, r.passed, severity.value, metadata)


def rows_for(results: Iterable[AssetCheckResult], layer: str, w: ArrivalWindow, run_id: str) -> list[tuple]:
    return outcome_rows([outcome_of(r) for r in results], layer, w, run_id)


def record(
    spark: SparkSession,
    lake: Lake,
    results: list[AssetCheckResult],
    w: ArrivalWindow,
    run_id: str,
    *,
    layer: str,
) -> None:
    """Append the results of checks on `layer`'s assets (one Delta commit, by Spark)."""
    append_outcomes(spark, lake, [outcome_of(r) for r in results], w, run_id, layer=layer)


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
