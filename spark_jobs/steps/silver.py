"""The silver step: deduplicate and pseudonymise the window's bronze rows into silver
(pipeline.run_silver), judge each table (contract, reconciled with bronze) and record the
judgements in the quality table."""

from __future__ import annotations

from collections.abc import Iterator

from pyspark.sql import SparkSession

from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.delta_io import read_rewritten
from spark_jobs.lake import Lake
from spark_jobs.layers import SILVER, ArrivalWindow
from spark_jobs.pipeline import run_silver
from spark_jobs.quality_table import append_outcomes
from spark_jobs.reconcile import bronze_vs_silver_table
from spark_jobs.step_report import (
    CheckOutcome,
    Log,
    StepResult,
    asset_name,
    contract_outcome,
    import_expectations_in_background,
    table_written,
)

TABLE_ASSETS = {t: asset_name(SILVER, TABLE_NAMES[t]) for t in EVENT_TYPES}
RECONCILE = "reconciles_with_bronze"


def silver_step(
    session: SparkSession, lake: Lake, w: ArrivalWindow, run_id: str, key: bytes, key_version: str, log: Log
) -> Iterator[StepResult]:
    import_expectations_in_background()
    checks: list[CheckOutcome] = []
    stats = run_silver(session, lake, w, key, key_version)
    log.info(f"silver {w.start}..{w.end}: new rows " + ", ".join(f"{k} {v:,}" for k, v in stats.rows.items()))
    for event_type, asset in TABLE_ASSETS.items():
        yield table_written(
            lake,
            asset,
            SILVER,
            TABLE_NAMES[event_type],
            rows_inserted=stats.detail[event_type]["inserted"],
            rows_updated=stats.detail[event_type]["updated"],
            batch_rows=stats.detail[event_type]["source"],
            event_dates=f"{w.event_start}..{w.end}",
        )
    for event_type, asset in TABLE_ASSETS.items():
        # The window is read once, cached, and judged by both checks.
        window = read_rewritten(session, lake, SILVER, TABLE_NAMES[event_type], w).persist()
        checks.append(contract_outcome(asset, window, SILVER, event_type))
        rows = bronze_vs_silver_table(session, lake, w, event_type, silver=window)
        window.unpersist()
        checks.append(
            CheckOutcome(
                asset,
                RECONCILE,
                passed=all(r["ok"] for r in rows),
                metadata={
                    "bronze_ids": sum(r["bronze_ids"] for r in rows),
                    "silver_rows": sum(r["silver_rows"] for r in rows),
                    "mismatches": [r for r in rows if not r["ok"]],
                },
            )
        )
    append_outcomes(session, lake, checks, w, run_id, layer=SILVER)  # then hand them to Dagster
    yield from checks
