"""The bronze step: parse the window's raw files into the bronze tables and the quarantine
(pipeline.run_bronze), judge them (contract, raw lines reconciled, schema drift) and
record the judgements in the quality table."""

from __future__ import annotations

from collections.abc import Iterator

from pyspark.sql import DataFrame, SparkSession

from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.drift import drift_report, field_problems
from spark_jobs.lake import Lake
from spark_jobs.layers import BRONZE, QUARANTINE_TABLE, ArrivalWindow
from spark_jobs.pipeline import run_bronze
from spark_jobs.quality_table import append_outcomes
from spark_jobs.reconcile import raw_vs_bronze
from spark_jobs.step_report import (
    ERROR,
    WARN,
    CheckOutcome,
    Log,
    StepResult,
    asset_name,
    contract_outcome,
    import_expectations_in_background,
    table_written,
)

TABLE_ASSETS = {t: asset_name(BRONZE, TABLE_NAMES[t]) for t in EVENT_TYPES}
QUARANTINE_ASSET = asset_name(*QUARANTINE_TABLE)
RAW_LINES_RECONCILE, SCHEMA_DRIFT = "raw_lines_reconcile", "schema_drift"


def bronze_step(
    session: SparkSession, lake: Lake, w: ArrivalWindow, run_id: str, log: Log
) -> Iterator[StepResult]:
    import_expectations_in_background()
    checks: list[CheckOutcome] = []

    def judge(event_type: str, rows: DataFrame) -> None:  # the rows just written, still cached
        checks.append(contract_outcome(TABLE_ASSETS[event_type], rows, BRONZE, event_type))

    stats = run_bronze(session, lake, w, batch_id=run_id, on_written=judge)
    log.info(f"bronze {w.start}..{w.end}: " + ", ".join(f"{k} {v:,}" for k, v in stats.rows.items()))
    for event_type, asset in TABLE_ASSETS.items():
        d = stats.detail[event_type]
        yield table_written(
            lake, asset, BRONZE, TABLE_NAMES[event_type], rows=d["bronze_rows"], raw_lines=d["raw_lines"]
        )
    unreadable = [f for d in stats.detail.values() for f in d["unreadable_files"]]
    if unreadable:
        log.warning(f"{len(unreadable)} raw file(s) could not be read, quarantined whole: {unreadable}")
    yield table_written(
        lake,
        QUARANTINE_ASSET,
        *QUARANTINE_TABLE,
        rows=stats.rows["quarantine"],
        unreadable_files=unreadable,
    )

    rows = raw_vs_bronze(lake, w)
    bad = [r for r in rows if not r["ok"]]
    lines = {t: sum(r["raw_lines"] for r in rows if r["event_type"] == t) for t in EVENT_TYPES}
    drift = drift_report(*field_problems(stats.detail), lines)
    checks.append(
        CheckOutcome(
            QUARANTINE_ASSET,
            SCHEMA_DRIFT,
            passed=not drift["drift"],
            severity=WARN,
            metadata={"changed_fields": drift["changed_fields"], "unknown_fields": drift["unknown_fields"]},
        )
    )
    checks.append(
        CheckOutcome(
            QUARANTINE_ASSET,
            RAW_LINES_RECONCILE,
            passed=not bad,
            severity=ERROR,
            metadata={
                "raw_lines": sum(r["raw_lines"] for r in rows),
                "bronze_rows": sum(r["bronze_rows"] for r in rows),
                "quarantined": sum(r["quarantined"] for r in rows),
                "mismatches": bad,
            },
        )
    )
    append_outcomes(session, lake, checks, w, run_id, layer=BRONZE)  # then hand them to Dagster
    yield from checks
