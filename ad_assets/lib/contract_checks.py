"""The contract check the layers share: its spec. The step computes its result with Great
Expectations (spark_jobs/step_report.py contract_outcome) and records it in the quality
table."""

from __future__ import annotations

from dagster import AssetCheckSpec, AssetKey

from spark_jobs.step_report import CONTRACT


def contract_spec(key: AssetKey, layer: str) -> AssetCheckSpec:
    return AssetCheckSpec(
        CONTRACT,
        asset=key,
        blocking=True,
        description=f"Great Expectations suite built from the data contract for {layer}: column types, "
        "required fields not null, accepted values, amounts >= 0, event time within the documented "
        "lateness of its arrival" + (", event_id unique." if layer == "silver" else "."),
    )
