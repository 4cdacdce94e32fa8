"""Checks that span layers or time: the chain reconciliation of a partition from raw to
marts, and the freshness of gold and marts."""

import functools

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    AssetSpec,
    Definitions,
    MetadataValue,
    PartitionsDefinition,
    asset_check,
    build_sensor_for_freshness_checks,
    build_time_partition_freshness_checks,
)
from pyspark.sql import SparkSession

from ad_assets.defs.audiences import AUDIENCE_KEYS
from ad_assets.defs.gold import GOLD_KEYS
from ad_assets.defs.marts import mart_key, mart_keys
from ad_assets.lib.partitions import daily_partitions, window_of
from ad_assets.quality.results import record
from ad_assets.resources import ClickHouseResource, LakeResource, SparkResource
from ad_assets.settings import Settings
from spark_jobs.gold_tables import DAILY, GOLD_TABLES
from spark_jobs.lake import Lake
from spark_jobs.layers import MARTS, ArrivalWindow
from spark_jobs.reconcile import bronze_vs_silver, gold_sums_by_date, raw_vs_bronze, silver_vs_gold

CHAIN_CHECK = "chain_reconciles"
CHAIN_CHECKED = mart_key("campaign_daily")  # the chain ends at the daily mart

# Written by the checks themselves (not materialized): shown so that lineage reaches the
# quality_daily mart that reads it.
quality_results = AssetSpec(
    "quality_check_results",
    group_name="quality",
    kinds={"delta"},
    description="Every check result of bronze, silver, gold and marts, per partition and run "
    "(Delta table quality/check_results; `adlake quality` prints the latest).",
)


def gold_vs_marts(
    session: SparkSession, lake: Lake, w: ArrivalWindow, clickhouse: ClickHouseResource
) -> list[dict]:
    """Per event date of the window: marts.campaign_daily sums = gold campaign_daily sums,
    for every additive metric of the gold registry's daily table."""
    metrics = GOLD_TABLES[DAILY].metrics
    gold = gold_sums_by_date(session, lake, GOLD_TABLES[DAILY], w)
    sql = (
        f"SELECT toString(event_date), {', '.join(f'toInt64(sum({m}))' for m in metrics)} "
        f"FROM marts.campaign_daily WHERE event_date BETWEEN '{w.event_start}' AND '{w.end}' "
        "GROUP BY event_date"
    )
    with clickhouse.client() as client:
        mart = {row[0]: dict(zip(metrics, row[1:], strict=True)) for row in client.query(sql).result_rows}
    zero = dict.fromkeys(metrics, 0)
    return [
        {
            "event_date": d,
            "gold": gold.get(d, zero),
            "marts": mart.get(d, zero),
            "ok": gold.get(d) == mart.get(d),
        }
        for d in sorted(gold.keys() | mart.keys())
    ]


def check_chain(
    context: AssetCheckExecutionContext,
    lake: LakeResource,
    spark: SparkResource,
    clickhouse: ClickHouseResource,
) -> AssetCheckResult:
    w = window_of(context)
    the_lake = lake.lake()
    session = spark.session(the_lake)
    links = {
        "raw -> bronze": raw_vs_bronze(the_lake, w),
        "bronze -> silver": bronze_vs_silver(session, the_lake, w),
        "silver -> gold": silver_vs_gold(session, the_lake, w),
        "gold -> marts": gold_vs_marts(session, the_lake, w, clickhouse),
    }
    broken = {name: [r for r in rows if not r["ok"]] for name, rows in links.items()}
    first = next((name for name, bad in broken.items() if bad), None)
    result = AssetCheckResult(
        asset_key=CHAIN_CHECKED,
        check_name=CHAIN_CHECK,
        passed=first is None,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "first_disagreement": first or "none",
            "detail": MetadataValue.json(broken[first] if first else []),
            "links_checked": MetadataValue.json({name: len(rows) for name, rows in links.items()}),
        },
    )
    record(session, the_lake, [result], w, context.run.run_id, layer=MARTS)  # it judges a mart
    return result


def defs_for(s: Settings) -> Definitions:
    freshness = build_freshness_checks(s.freshness_deadline)
    return Definitions(
        assets=[quality_results],
        asset_checks=[build_chain_check(daily_partitions(s.start_date)), *freshness],
        sensors=[build_sensor_for_freshness_checks(freshness_checks=freshness, minimum_interval_seconds=600)],
    )


@functools.cache
def build_chain_check(partitions: PartitionsDefinition) -> AssetChecksDefinition:
    return asset_check(
        asset=CHAIN_CHECKED,
        name=CHAIN_CHECK,
        partitions_def=partitions,
        pool="chdb",
        description="Walks the partition's data from raw to marts: raw lines = bronze + quarantine, "
        "silver = distinct bronze ids, gold = valid silver, marts = gold; names the first link that "
        "disagrees.",
    )(check_chain)


def freshness_watched() -> list[AssetKey]:
    return [*GOLD_KEYS.values(), *AUDIENCE_KEYS.values(), *mart_keys().values()]


@functools.cache
def build_freshness_checks(deadline_cron: str) -> tuple[AssetChecksDefinition, ...]:
    """Gold and marts of yesterday's arrival date must exist by the deadline (cron, UTC)."""
    return tuple(
        build_time_partition_freshness_checks(
            assets=freshness_watched(), deadline_cron=deadline_cron, timezone="UTC"
        )
    )
