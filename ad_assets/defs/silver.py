"""Silver: one row per real event by event date; user ids pseudonymised; clicks carry
the campaign of their impression."""

import functools

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Definitions,
    MetadataValue,
    PartitionsDefinition,
    multi_asset,
)

from ad_assets.defs.bronze import BRONZE_KEYS
from ad_assets.lib.contract_checks import (
    contract_result,
    contract_spec,
    import_expectations_in_background,
)
from ad_assets.lib.materializations import table_result
from ad_assets.lib.outages import STORAGE_RETRY, outage_aware
from ad_assets.lib.partitions import daily_partitions, single_run, window_of
from ad_assets.quality.results import record
from ad_assets.resources import LakeResource, PseudonymKeyResource, SparkResource
from ad_assets.settings import Settings
from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.delta_io import read_rewritten
from spark_jobs.layers import SILVER
from spark_jobs.pipeline import run_silver
from spark_jobs.reconcile import bronze_vs_silver_table

SILVER_KEYS = {t: AssetKey(f"silver_{TABLE_NAMES[t]}") for t in EVENT_TYPES}
_DESCRIPTIONS = {
    "impression": "Impressions, deduplicated (first arrival wins), user_pid instead of user_id, "
    "is_valid = human and not test.",
    "click": "Clicks with the advertiser and campaign of their impression; valid when the click "
    "and its impression are valid. A click waiting for a late impression is attached when it lands.",
    "conversion": "Conversions, deduplicated, pseudonymised; is_valid = not test.",
    "bid_request": "OpenRTB bid requests, deduplicated and pseudonymised.",
    "bid_response": "Bid responses with auction outcome (won, clearing price, loss reason).",
}


RECONCILE = "reconciles_with_bronze"


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
    pseudonym_key: PseudonymKeyResource,
):
    import_expectations_in_background()
    the_lake = lake.writable_lake("silver", "quality")
    session = spark.session(the_lake)
    w = window_of(context)
    stats = run_silver(session, the_lake, w, pseudonym_key.key_bytes(), pseudonym_key.version())
    context.log.info(
        f"silver {w.start}..{w.end}: new rows " + ", ".join(f"{k} {v:,}" for k, v in stats.rows.items())
    )
    for event_type, key in SILVER_KEYS.items():
        yield table_result(
            the_lake,
            key,
            "silver",
            TABLE_NAMES[event_type],
            rows_inserted=stats.detail[event_type]["inserted"],
            rows_updated=stats.detail[event_type]["updated"],
            batch_rows=stats.detail[event_type]["source"],
            event_dates=f"{w.event_start}..{w.end}",
        )
    checks = []
    for event_type, key in SILVER_KEYS.items():
        # The window is read once, cached, and judged by both checks.
        window = read_rewritten(session, the_lake, SILVER, TABLE_NAMES[event_type], w).persist()
        checks.append(contract_result(key, window, "silver", event_type))
        rows = bronze_vs_silver_table(session, the_lake, w, event_type, silver=window)
        window.unpersist()
        checks.append(
            AssetCheckResult(
                check_name=RECONCILE,
                asset_key=key,
                passed=all(r["ok"] for r in rows),
                severity=AssetCheckSeverity.ERROR,
                metadata={
                    "bronze_ids": sum(r["bronze_ids"] for r in rows),
                    "silver_rows": sum(r["silver_rows"] for r in rows),
                    "mismatches": MetadataValue.json([r for r in rows if not r["ok"]]),
                },
            )
        )
    record(session, the_lake, checks, w, context.run_id, layer=SILVER)  # then hand them to Dagster
    yield from checks
