"""Gold: campaign metrics by event date and by hour, publisher metrics by day, with
last-click conversions. One asset per table of the gold registry (spark_jobs/gold_tables.py),
which also decides the checks: `reconciles_with_silver` on the daily table,
`adds_up_to_daily` on each table that declares it rolls up to it."""

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

from ad_assets.defs.silver import SILVER_KEYS
from ad_assets.lib.outages import STORAGE_RETRY, outage_aware
from ad_assets.lib.partitions import daily_partitions, single_run, window_of
from ad_assets.resources import LakeResource, SparkResource, SparkStepsResource
from ad_assets.settings import Settings
from spark_jobs.anomalies import MAX_DROP, TRAILING_DAYS
from spark_jobs.attribution_windows import DEFAULT_WINDOWS, AttributionWindows, load_windows
from spark_jobs.gold_tables import DAILY, GOLD_TABLES, ROLLUPS
from spark_jobs.layers import GOLD
from spark_jobs.steps import StepRequest
from spark_jobs.steps.gold import (
    ADDS_UP,
    ATTRIBUTION_ASSET,
    ATTRIBUTION_DAILY_ASSET,
    AUCTION_ASSET,
    AUCTION_BOUNDS,
    CREDITS_SUM,
    DATA_DRIVEN_TOTALS,
    LAST_CLICK_EQUALS,
    METRIC_BOUNDS,
    RECONCILES,
    TABLE_ASSETS,
    TOUCHES_INSIDE,
    VOLUME_ANOMALY,
    WINS_SERVED,
)

GOLD_KEYS = {name: AssetKey(asset) for name, asset in TABLE_ASSETS.items()}  # the step reports under them
DAILY_KEY = GOLD_KEYS[DAILY]
_DEPS = list(SILVER_KEYS.values())  # the auction tables read the bid logs too


ATTRIBUTION_KEY, ATTRIBUTION_DAILY_KEY = AssetKey(ATTRIBUTION_ASSET), AssetKey(ATTRIBUTION_DAILY_ASSET)
ATTRIBUTION_CHECKS = [
    AssetCheckSpec(
        CREDITS_SUM,
        asset=ATTRIBUTION_KEY,
        blocking=True,
        description="Under every model, the credits of each attributed conversion sum to 1.",
    ),
    AssetCheckSpec(
        TOUCHES_INSIDE,
        asset=ATTRIBUTION_KEY,
        blocking=True,
        description="Every touch precedes its conversion, by at most its advertiser's window for its "
        "type (click or view).",
    ),
    AssetCheckSpec(
        LAST_CLICK_EQUALS,
        asset=ATTRIBUTION_DAILY_KEY,
        blocking=True,
        description="Per event date and campaign, the last_click model's conversions and revenue "
        f"equal {DAILY_KEY.to_user_string()}'s.",
    ),
    AssetCheckSpec(
        DATA_DRIVEN_TOTALS,
        asset=ATTRIBUTION_DAILY_KEY,
        blocking=True,
        description="Per event date, markov and shapley distribute exactly the day's attributed "
        "conversions and revenue.",
    ),
]

AUCTION_KEY = AssetKey(AUCTION_ASSET)
AUCTION_CHECKS = [
    AssetCheckSpec(
        AUCTION_BOUNDS,
        asset=AUCTION_KEY,
        blocking=True,
        description="Win rate and bid rate within [0, 1], wins <= bids, impressions <= wins.",
    ),
    AssetCheckSpec(
        WINS_SERVED,
        asset=AUCTION_KEY,
        blocking=True,
        description="Per event date, the impressions credited to auctions equal the valid silver "
        "impressions served from won auctions, counted again independently.",
    ),
]


def defs_for(s: Settings) -> Definitions:
    windows = load_windows(s.attribution_windows)
    return Definitions(assets=[build_gold_tables(daily_partitions(s.start_date), windows)])


@functools.cache
def build_gold_tables(
    partitions: PartitionsDefinition, windows: AttributionWindows = DEFAULT_WINDOWS
) -> AssetsDefinition:
    """The gold multi-asset. Its code version is the attribution windows' fingerprint:
    after a change of windows, Dagster shows every materialized partition as changed
    code, and rerunning a partition applies the new windows to its dates."""

    @outage_aware
    def gold_tables(
        context: AssetExecutionContext,
        lake: LakeResource,
        spark: SparkResource,
        spark_steps: SparkStepsResource,
    ):
        yield from materialize_gold(context, lake, spark, spark_steps, windows)

    return multi_asset(
        name="gold_tables",
        specs=[
            AssetSpec(
                key,
                deps=_DEPS,
                group_name=GOLD,
                kinds={"spark", "delta"},
                description=GOLD_TABLES[name].description,
                code_version=gold_code_version(windows),
            )
            for name, key in GOLD_KEYS.items()
        ],
        check_specs=[
            AssetCheckSpec(
                METRIC_BOUNDS,
                asset=DAILY_KEY,
                description="CTR and CVR within [0, 1], spend and revenue >= 0, ROAS finite. A warning, "
                "not a block: clicks are dated by their own time, so a campaign with an impression at "
                "23:59 and its click at 00:01 can show CTR > 1 on a tiny day.",
            ),
            AssetCheckSpec(
                RECONCILES,
                asset=DAILY_KEY,
                blocking=True,
                description="Per event date: impressions, clicks and spend = the valid silver events; "
                "conversions <= valid orders (the hourly and publisher tables: adds_up_to_daily).",
            ),
            *[
                AssetCheckSpec(
                    ADDS_UP,
                    asset=GOLD_KEYS[table.name],
                    blocking=True,
                    description=f"Per event date: {', '.join(table.metrics)} add up to "
                    f"{DAILY_KEY.to_user_string()}'s.",
                )
                for table in ROLLUPS
            ],
            *ATTRIBUTION_CHECKS,
            *AUCTION_CHECKS,
            AssetCheckSpec(
                VOLUME_ANOMALY,
                asset=DAILY_KEY,
                description=f"Warns when a day's impressions or CTR fall more than {MAX_DROP:.0%} below the "
                f"mean of the {TRAILING_DAYS} days before it.",
            ),
        ],
        partitions_def=partitions,
        backfill_policy=single_run,
        pool="spark",
        retry_policy=STORAGE_RETRY,
    )(gold_tables)


def gold_code_version(windows: AttributionWindows) -> str:
    return f"windows-{windows.fingerprint()}"


def materialize_gold(
    context: AssetExecutionContext,
    lake: LakeResource,
    spark: SparkResource,
    spark_steps: SparkStepsResource,
    windows: AttributionWindows,
):
    the_lake = lake.writable_lake("gold", "quality")
    request = StepRequest(GOLD, window_of(context), context.run_id, windows=windows)
    yield from spark_steps.run(context, request, lake=the_lake, spark=spark)
