"""What a layer step reports: the tables it wrote and its checks' results, as plain data.
No Dagster import: the step runs in the Dagster process (local Spark) or in a Spark driver
on EMR Serverless (spark_jobs/submit.py), and each side turns the same report into
Dagster's results (ad_assets/resources/spark_steps.py) or Pipes messages (submit.py).

Metadata values are plain Python; a list or a dict is shown as JSON on both sides."""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyspark.sql import DataFrame

from spark_jobs.lake import Lake
from spark_jobs.lake_read import open_table

ERROR, WARN = "ERROR", "WARN"  # Dagster's AssetCheckSeverity values
CONTRACT = "contract"  # the contract check's name, on every bronze and silver table

Metadata = dict[str, Any]


class Log(Protocol):
    """Where a step's messages go: the step context's log, or Pipes' log on EMR."""

    def info(self, msg: str) -> Any: ...

    def warning(self, msg: str) -> Any: ...


def asset_name(layer: str, table: str) -> str:
    """The asset that stands for a layer's table, e.g. bronze_impressions."""
    return f"{layer}_{table}"


@dataclass(frozen=True)
class Materialized:
    asset: str
    path: str
    delta_version: int
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    name: str
    passed: bool
    severity: str = ERROR
    metadata: Metadata = field(default_factory=dict)


# What a step yields, in order: each table as it is written, then the checks' outcomes
# once they are recorded in the quality table.
StepResult = Materialized | CheckOutcome


def table_written(lake: Lake, asset: str, layer: str, name: str, **metadata: Any) -> Materialized:
    """A table as written: its path and committed version (read from the log by delta-rs:
    no Spark job)."""
    version = open_table(lake, layer, name).version()
    return Materialized(asset, lake.table(layer, name), int(version), metadata)


def import_expectations_in_background() -> None:
    """Great Expectations takes seconds to import, all Python: a step that will validate
    starts the import on a thread while its Spark work (in the JVM) keeps the main thread
    waiting on a socket; contract_outcome's own import then finds it done."""
    threading.Thread(
        target=importlib.import_module, args=("spark_jobs.expectations",), name="gx-import", daemon=True
    ).start()


def contract_outcome(asset: str, df: DataFrame, layer: str, event_type: str) -> CheckOutcome:
    """The contract suite on `df`; cache df first: each expectation is a Spark job over it."""
    # Only processes that validate pay for Great Expectations' import, not every process
    # that loads the definitions (the UI, sensors, services).
    from spark_jobs.expectations import validate

    outcome = validate(df, layer, event_type)
    return CheckOutcome(
        asset,
        CONTRACT,
        passed=outcome.success,
        metadata={
            "suite": outcome.suite,
            "expectations": outcome.evaluated,
            "failed_expectations": len(outcome.failed),
            "failures": outcome.failed,
        },
    )
