"""Bronze: typed rows per event type plus a quarantine table, by arrival date."""

import functools

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Definitions,
    PartitionsDefinition,
    multi_asset,
)

from ad_assets.lib.contract_checks import contract_spec
from ad_assets.lib.outages import STORAGE_RETRY, outage_aware
from ad_assets.lib.partitions import daily_partitions, single_run, window_of
from ad_assets.resources import LakeResource, SparkResource, SparkStepsResource
from ad_assets.settings import Settings
from spark_jobs.drift import DRIFT_SHARE
from spark_jobs.layers import BRONZE
from spark_jobs.steps import StepRequest
from spark_jobs.steps.bronze import QUARANTINE_ASSET, RAW_LINES_RECONCILE, SCHEMA_DRIFT, TABLE_ASSETS

# The asset names come from the step (spark_jobs/steps/bronze.py), which reports under them.
BRONZE_KEYS = {t: AssetKey(name) for t, name in TABLE_ASSETS.items()}
QUARANTINE_KEY = AssetKey(QUARANTINE_ASSET)


def defs_for(s: Settings) -> Definitions:
    return Definitions(assets=[build_bronze_tables(daily_partitions(s.start_date))])


@functools.cache
def build_bronze_tables(partitions: PartitionsDefinition) -> AssetsDefinition:
    return multi_asset(
        name="bronze_tables",
        specs=[
            *[
                AssetSpec(
                    key,
                    deps=["raw_logs"],
                    group_name=BRONZE,
                    kinds={"spark", "delta"},
                    description=f"{t} lines parsed with the contract schema, unknown fields kept in "
                    "extra_json, with ingest metadata (file, line, ingest time, batch). Partitioned by "
                    "arrival_date.",
                )
                for t, key in BRONZE_KEYS.items()
            ],
            AssetSpec(
                QUARANTINE_KEY,
                deps=["raw_logs"],
                group_name=BRONZE,
                kinds={"spark", "delta"},
                description="Lines that failed parsing or the contract, with the raw line and the reason.",
            ),
        ],
        check_specs=[
            AssetCheckSpec(
                RAW_LINES_RECONCILE,
                asset=QUARANTINE_KEY,
                blocking=True,
                description="Per event type and arrival date: raw lines = bronze rows + quarantined rows.",
            ),
            AssetCheckSpec(
                SCHEMA_DRIFT,
                asset=QUARANTINE_KEY,
                description=f"Warns when a field fails its type or is missing in >= {DRIFT_SHARE:.0%} of an "
                "event type's lines (the sender changed or dropped it), or an unknown field appears that "
                "often (kept in extra_json). Lists every unknown field seen.",
            ),
            *[contract_spec(key, "bronze") for key in BRONZE_KEYS.values()],
        ],
        partitions_def=partitions,
        backfill_policy=single_run,
        pool="spark",
        retry_policy=STORAGE_RETRY,
    )(materialize_bronze)


@outage_aware
def materialize_bronze(
    context: AssetExecutionContext, lake: LakeResource, spark: SparkResource, spark_steps: SparkStepsResource
):
    the_lake = lake.writable_lake("bronze", "quality")
    request = StepRequest(BRONZE, window_of(context), context.run_id)
    yield from spark_steps.run(context, request, lake=the_lake, spark=spark)
