"""The layer steps the Spark runner executes: bronze, silver and gold, each one function of
(session, lake, request) that writes its tables, judges them, records the judgements in
the quality table and returns a plain StepResult. The Dagster assets run them in-process
(local Spark or a standalone cluster) or on EMR Serverless through spark_jobs/submit.py:
the same function either way (ad_assets/resources/spark_steps.py). No Dagster import."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pyspark.sql import SparkSession

from spark_jobs.attribution_windows import DEFAULT_WINDOWS, AttributionWindows
from spark_jobs.lake import Lake
from spark_jobs.layers import BRONZE, GOLD, SILVER, ArrivalWindow
from spark_jobs.step_report import Log, StepResult
from spark_jobs.steps.bronze import bronze_step
from spark_jobs.steps.gold import gold_step
from spark_jobs.steps.silver import silver_step

LAYER_STEPS: tuple[str, ...] = (BRONZE, SILVER, GOLD)


@dataclass(frozen=True)
class StepRequest:
    """What one step needs besides the session, the lake and the pseudonymisation key:
    plain values, so that they travel as spark-submit arguments (spark_jobs/submit.py)."""

    layer: str
    window: ArrivalWindow
    run_id: str  # the Dagster run: bronze's batch id and every quality row's run
    key_version: str | None = None  # silver: the HMAC key's version
    windows: AttributionWindows = DEFAULT_WINDOWS  # gold: the attribution windows

    def __post_init__(self) -> None:
        if self.layer not in LAYER_STEPS:
            raise ValueError(f"no Spark step for layer {self.layer!r}; one of {LAYER_STEPS}")
        if self.layer == SILVER and not self.key_version:
            raise ValueError("the silver step needs the pseudonymisation key's version")


def run_step(
    session: SparkSession, lake: Lake, request: StepRequest, log: Log, key: bytes | None = None
) -> Iterator[StepResult]:
    """Run the request's layer step. `key`: the HMAC key (silver only)."""
    w, run_id = request.window, request.run_id
    if request.layer == BRONZE:
        return bronze_step(session, lake, w, run_id, log)
    if request.layer == SILVER:
        if key is None:
            raise ValueError("the silver step needs the pseudonymisation key")
        return silver_step(session, lake, w, run_id, key, request.key_version or "", log)
    return gold_step(session, lake, w, run_id, request.windows, log)
