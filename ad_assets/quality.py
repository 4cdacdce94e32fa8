"""Check results over time: every asset check AdLake runs is also appended to the Delta
table `quality/check_results` (one row per check, partition window and run), which the
`quality_daily` mart and `adlake quality` read. The Dagster UI keeps the same results
per asset; the table puts them in the lake beside the data they judge."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue
from delta.tables import DeltaTable as SparkDeltaTable
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from spark_jobs.lake import Lake
from spark_jobs.layers import ArrivalWindow

QUALITY_TABLE = ("quality", "check_results")
QUALITY_MART = "quality_daily"  # the dbt model over it
SCHEMA = (
    "partition_start date, partition_end date, layer string, asset string, check_name string, "
    "passed boolean, severity string, detail string, run_id string, checked_at timestamp"
)
COLUMNS = tuple(c.split()[0] for c in SCHEMA.split(", "))


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, MetadataValue) else value


def layer_of(asset: str) -> str:
    """bronze_clicks -> bronze, mart_campaign_daily -> marts."""
    prefix = asset.split("_", 1)[0]
    return "marts" if prefix in ("mart", "stg") else prefix


def rows_for(results: Iterable[AssetCheckResult], w: ArrivalWindow, run_id: str) -> list[tuple]:
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for r in results:
        asset = r.asset_key.to_user_string()
        severity = r.severity or AssetCheckSeverity.ERROR
        detail = json.dumps({k: _plain(v) for k, v in (r.metadata or {}).items()}, default=str)
        rows.append(
            (
                w.start,
                w.end,
                layer_of(asset),
                asset,
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
    spark: SparkSession, lake: Lake, results: list[AssetCheckResult], w: ArrivalWindow, run_id: str
) -> None:
    """Append the results (one Delta commit). Spark writes it so that S3 and local lakes
    get the same commit protocol as every other table."""
    if results:
        df = spark.createDataFrame(rows_for(results, w, run_id), SCHEMA)
        df.coalesce(1).write.format("delta").mode("append").save(lake.table(*QUALITY_TABLE))


def latest_results(lake: Lake, day: date | None = None) -> list[dict]:
    """The latest result of each (asset, check) for the newest partition that has results
    (or for the partitions that contain `day`)."""
    uri, options = lake.delta_rs_uri(*QUALITY_TABLE), lake.delta_rs_storage_options()
    if not DeltaTable.is_deltatable(uri, options):
        return []
    # polars reads the files itself: delta-rs's pyarrow dataset can abort the process at exit.
    rows = pl.read_delta(uri, storage_options=options or None).to_dicts()
    if day is None and rows:
        day = max(r["partition_end"] for r in rows)
    rows = [r for r in rows if r["partition_start"] <= day <= r["partition_end"]]
    latest: dict[tuple[str, str], dict] = {}
    for r in sorted(rows, key=lambda r: r["checked_at"]):
        latest[(r["asset"], r["check_name"])] = r
    return sorted(latest.values(), key=lambda r: (LAYERS.index(r["layer"]), r["asset"], r["check_name"]))


LAYERS = ("bronze", "silver", "gold", "marts")


def status(row: dict) -> str:
    if row["passed"]:
        return "pass"
    return "WARN" if row["severity"] == AssetCheckSeverity.WARN.value else "FAIL"


def render(rows: list[dict], day: date | None = None) -> str:
    """A short status report: counts, then one line per check that did not pass."""
    if not rows:
        if day:
            return f"no check results for arrival date {day}"
        return "no check results yet: run `make run` (or materialize a partition) first"
    first, last = min(r["partition_start"] for r in rows), max(r["partition_end"] for r in rows)
    counts = {k: sum(status(r) == k for r in rows) for k in ("pass", "WARN", "FAIL")}
    lines = [
        f"quality of arrival dates {first}..{last}: {len(rows)} checks, "
        f"{counts['pass']} passed, {counts['WARN']} warnings, {counts['FAIL']} failed "
        f"(latest run {max(r['checked_at'] for r in rows):%Y-%m-%d %H:%M} UTC)"
    ]
    for layer in LAYERS:
        mine = [r for r in rows if r["layer"] == layer]
        if mine:
            bad = [r for r in mine if not r["passed"]]
            lines.append(f"  {layer:<7} {len(mine) - len(bad):>3}/{len(mine)} passed")
            lines += [f"    {status(r)} {r['asset']}.{r['check_name']}: {_gist(r['detail'])}" for r in bad]
    return "\n".join(lines)


def _gist(detail: str, width: int = 160) -> str:
    text = detail.replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."
