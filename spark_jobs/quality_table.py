"""The check results table `quality/check_results`, written by Spark: one row per check,
partition window and run (ad_assets/quality/results.py describes it and reads it back).
No Dagster import: the layer steps append to it from wherever their Spark driver runs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from delta.tables import DeltaTable as SparkDeltaTable
from pyspark.sql import SparkSession

from spark_jobs.lake import Lake
from spark_jobs.layers import LAYERS, ArrivalWindow
from spark_jobs.step_report import ERROR, CheckOutcome

QUALITY_TABLE = ("quality", "check_results")
SCHEMA = (
    "partition_start date, partition_end date, layer string, asset string, check_name string, "
    "passed boolean, severity string, detail string, run_id string, checked_at timestamp"
)
COLUMNS = tuple(c.split()[0] for c in SCHEMA.split(", "))


def outcome_rows(outcomes: Iterable[CheckOutcome], layer: str, w: ArrivalWindow, run_id: str) -> list[tuple]:
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; one of {LAYERS}")
    now = datetime.now(UTC).replace(tzinfo=None)
    return [
        (
            w.start,
            w.end,
            layer,
            o.asset,
            o.name,
            o.passed,
            o.severity or ERROR,
            json.dumps(o.metadata, default=str),
            run_id,
            now,
        )
        for o in outcomes
    ]


def ensure_table(spark: SparkSession, lake: Lake) -> None:
    """Create the (empty) results table when missing, so that ClickHouse can open it."""
    path = lake.table(*QUALITY_TABLE)
    if not SparkDeltaTable.isDeltaTable(spark, path):
        spark.createDataFrame([], SCHEMA).write.format("delta").mode("append").save(path)


def append_outcomes(
    spark: SparkSession,
    lake: Lake,
    outcomes: list[CheckOutcome],
    w: ArrivalWindow,
    run_id: str,
    *,
    layer: str,
) -> None:
    """Append the results of checks on `layer`'s assets (one Delta commit). Spark writes it
    so that S3 and local lakes get the same commit protocol as every other table."""
    if outcomes:
        df = spark.createDataFrame(outcome_rows(outcomes, layer, w, run_id), SCHEMA)
        df.coalesce(1).write.format("delta").mode("append").save(lake.table(*QUALITY_TABLE))
