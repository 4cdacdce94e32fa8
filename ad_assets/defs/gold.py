"""Gold: campaign metrics by event date and by hour, publisher metrics by day, with
last-click conversions."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MetadataValue,
    multi_asset,
)
from pyspark.sql import functions as F

from ad_assets.defs.partitions import daily_partitions, single_run, window_of
from ad_assets.defs.results import table_result
from ad_assets.defs.silver import SILVER_KEYS
from ad_assets.resources import LakeResource, SparkResource
from spark_jobs.delta_io import read_window
from spark_jobs.pipeline import GOLD_TABLES, run_gold

GOLD_KEYS = {name: AssetKey(f"gold_{name}") for name in GOLD_TABLES}
_DEPS = [SILVER_KEYS["impression"], SILVER_KEYS["click"], SILVER_KEYS["conversion"]]
_DESCRIPTIONS = {
    "campaign_daily": "Per event date and campaign: impressions, clicks, spend, last-click "
    "conversions and revenue, CTR, CVR, CPC, CPM, ROAS (valid traffic only).",
    "campaign_hourly": "The same metrics per event date, hour and campaign.",
    "publisher_daily": "Per event date, publisher and channel: the same metrics (clicks and "
    "conversions credited to the publisher of the impression clicked) and unique_users.",
}


@multi_asset(
    specs=[
        AssetSpec(
            key, deps=_DEPS, group_name="gold", kinds={"spark", "delta"}, description=_DESCRIPTIONS[name]
        )
        for name, key in GOLD_KEYS.items()
    ],
    check_specs=[
        AssetCheckSpec(
            "metric_bounds",
            asset=GOLD_KEYS["campaign_daily"],
            description="CTR within [0, 1], spend and revenue >= 0. A warning, not a block: clicks "
            "are dated by their own time, so a campaign with an impression at 23:59 and its click "
            "at 00:01 can show CTR > 1 on a tiny day.",
        )
    ],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool="spark",
)
def gold_tables(context: AssetExecutionContext, lake: LakeResource, spark: SparkResource):
    the_lake = lake.lake()
    session = spark.session(the_lake)
    w = window_of(context)
    stats = run_gold(session, the_lake, w)
    context.log.info(f"gold {w.start}..{w.end}: " + ", ".join(f"{k} {v:,}" for k, v in stats.rows.items()))
    for name, key in GOLD_KEYS.items():
        yield table_result(
            session,
            key,
            the_lake.table("gold", name),
            rows_in_window=stats.rows[name],
            event_dates=f"{w.event_start}..{w.end}",
        )
    daily = read_window(session, the_lake.table("gold", "campaign_daily"), "event_date", w.event_start, w.end)
    out_of_bounds = daily.where("ctr < 0 OR ctr > 1 OR spend_micros < 0 OR revenue_micros < 0")
    totals = daily.agg(
        F.sum("impressions").alias("impressions"),
        F.sum("clicks").alias("clicks"),
        F.sum("conversions").alias("conversions"),
        F.sum("spend").alias("spend"),
        F.sum("revenue").alias("revenue"),
    ).first()
    bad = out_of_bounds.count()
    yield AssetCheckResult(
        check_name="metric_bounds",
        asset_key=GOLD_KEYS["campaign_daily"],
        passed=bad == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={"rows_out_of_bounds": bad, "totals": MetadataValue.json(totals.asDict())},
    )
