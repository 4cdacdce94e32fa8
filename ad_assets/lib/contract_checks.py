"""The contract check the layers share: its spec and its Great Expectations result (the
results go to the quality table through ad_assets.quality.results.record)."""

from __future__ import annotations

import importlib
import threading

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue
from pyspark.sql import DataFrame

CONTRACT = "contract"


def contract_spec(key: AssetKey, layer: str) -> AssetCheckSpec:
    return AssetCheckSpec(
        CONTRACT,
        asset=key,
        blocking=True,
        description=f"Great Expectations suite built from the data contract for {layer}: column types, "
        "required fields not null, accepted values, amounts >= 0, event time within the documented "
        "lateness of its arrival" + (", event_id unique." if layer == "silver" else "."),
    )


def import_expectations_in_background() -> None:
    """Great Expectations takes seconds to import, all Python: a step that will validate
    starts the import on a thread while its Spark work (in the JVM) keeps the main thread
    waiting on a socket; contract_result's own import then finds it done."""
    threading.Thread(
        target=importlib.import_module, args=("spark_jobs.expectations",), name="gx-import", daemon=True
    ).start()


def contract_result(key: AssetKey, df: DataFrame, layer: str, event_type: str) -> AssetCheckResult:
    """The contract suite on `df`; cache df first: each expectation is a Spark job over it."""
    # Great Expectations takes seconds to import: only processes that validate pay for it,
    # not every process that loads the definitions (the UI, sensors, services).
    from spark_jobs.expectations import validate

    outcome = validate(df, layer, event_type)
    return AssetCheckResult(
        check_name=CONTRACT,
        asset_key=key,
        passed=outcome.success,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "suite": outcome.suite,
            "expectations": outcome.evaluated,
            "failed_expectations": len(outcome.failed),
            "failures": MetadataValue.json(outcome.failed),
        },
    )
