"""Silver: one row per real event by event date; user ids pseudonymised; clicks carry
the campaign of their impression."""

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

from ad_assets.defs.bronze import BRONZE_KEYS
from ad_assets.lib.contract_checks import contract_spec
from ad_assets.lib.outages import STORAGE_RETRY, outage_aware
from ad_assets.lib.partitions import daily_partitions, single_run, window_of
from ad_assets.resources import LakeResource, PseudonymKeyResource, SparkResource, SparkStepsResource
from ad_assets.settings import Settings
from spark_jobs.layers import SILVER
from spark_jobs.steps import StepRequest
from spark_jobs.steps.silver import RECONCILE, TABLE_ASSETS

SILVER_KEYS = {t: AssetKey(name) for t, name in TABLE_ASSETS.items()}  # the step reports under them
_DESCRIPTIONS = {
    "impression": "Impressions, deduplicated (first arrival wins), user_pid instead of user_id, "
    "is_valid = human and not test.",
    "click": "Clicks with the advertiser and campaign of their impression; valid when the click "
    "and its impression are valid. A click waiting for a late impression is attached when it lands.",
    "conversion": "Conversions, deduplicated, pseudonymised; is_valid = not test.",
    "bid_request": "OpenRTB bid requests, deduplicated and pseudonymised.",
    "bid_response": "Bid responses with auction outcome (won, clearing price, loss reason).",
}


def _deps(event_type: str) -> list[AssetKey]:
    extra = [SILVER_KEYS["impression"]] if event_type == "click" else []
    return [BRONZE_KEYS[event_type], *extra]


def defs_for(s: Settings) -> Definitions:
    return Definitions(assets=[build_silver_tables(daily_partitions(s.start_date))])


@functools.cache
def build_silver_tables(partitions: PartitionsDefinition) -> AssetsDefinition:
    return multi_asset(
        name="silver_tables",
        specs=[
            AssetSpec(
                key, deps=_deps(t), group_name=SILVER, kinds={"spark", "delta"}, description=_DESCRIPTIONS[t]
            )
            for t, key in SILVER_KEYS.items()
        ],
        check_specs=[
            *[contract_spec(key, "silver") for key in SILVER_KEYS.values()],
            *[
                AssetCheckSpec(
                    RECONCILE,
                    asset=key,
                    blocking=True,
                    description="Per event date rewritten: silver rows = distinct event ids in bronze "
                    "(both counting what arrived by the partition's end).",
                )
                for key in SILVER_KEYS.values()
            ],
        ],
        partitions_def=partitions,
        backfill_policy=single_run,
        pool="spark",
        retry_policy=STORAGE_RETRY,
    )(materialize_silver)


@outage_aware
def materialize_silver(
    context: AssetExecutionContext,
    lake: LakeResource,
    spark: SparkResource,
    spark_steps: SparkStepsResource,
    pseudonym_key: PseudonymKeyResource,
):
    the_lake = lake.writable_lake("silver", "quality")
    request = StepRequest(SILVER, window_of(context), context.run_id, key_version=pseudonym_key.version())
    yield from spark_steps.run(context, request, lake=the_lake, spark=spark, key=pseudonym_key.key_bytes)
