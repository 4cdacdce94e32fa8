"""Gold: campaign metrics by event date and by hour, publisher metrics by day, with
last-click conversions. One asset per table of the gold registry (spark_jobs/gold_tables.py),
which also decides the checks: `reconciles_with_silver` on the daily table,
`adds_up_to_daily` on each table that declares it rolls up to it."""

import functools
from datetime import date, timedelta

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
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ad_assets.defs.silver import SILVER_KEYS
from ad_assets.lib.check_results import error_check
from ad_assets.lib.materializations import table_result
from ad_assets.lib.outages import STORAGE_RETRY, outage_aware
from ad_assets.lib.partitions import daily_partitions, single_run, window_of
from ad_assets.quality.results import record
from ad_assets.resources import LakeResource, SparkResource
from ad_assets.settings import Settings
from spark_jobs.anomalies import MAX_DROP, TRAILING_DAYS, anomalies
from spark_jobs.attribution_checks import (
    credit_sum_problems,
    data_driven_total_problems,
    last_click_problems,
    touch_window_problems,
)
from spark_jobs.attribution_windows import DEFAULT_WINDOWS, AttributionWindows, load_windows
from spark_jobs.auction import auction_problems, served_problems
from spark_jobs.contracts import TABLE_NAMES
from spark_jobs.delta_io import read_rewritten, read_window
from spark_jobs.gold_tables import DAILY, GOLD_TABLES, ROLLUPS
from spark_jobs.lake import Lake
from spark_jobs.layers import EVENT_DATE, GOLD, SILVER, ArrivalWindow, date_column
from spark_jobs.metric_definitions import COUNT_METRICS, MONEY_METRICS
from spark_jobs.pipeline import run_gold
from spark_jobs.reconcile import silver_vs_gold

GOLD_KEYS = {name: AssetKey(f"gold_{name}") for name in GOLD_TABLES}
DAILY_KEY = GOLD_KEYS[DAILY]
ADDS_UP = "adds_up_to_daily"
_DEPS = list(SILVER_KEYS.values())  # the auction tables read the bid logs too


ATTRIBUTION_KEY, ATTRIBUTION_DAILY_KEY = GOLD_KEYS["attribution"], GOLD_KEYS["attribution_campaign_daily"]
ATTRIBUTION_CHECKS = [
    AssetCheckSpec(
        "credits_sum_to_one",
        asset=ATTRIBUTION_KEY,
        blocking=True,
        description="Under every model, the credits of each attributed conversion sum to 1.",
    ),
    AssetCheckSpec(
        "touches_inside_window",
        asset=ATTRIBUTION_KEY,
        blocking=True,
        description="Every touch precedes its conversion, by at most its advertiser's window for its "
        "type (click or view).",
    ),
    AssetCheckSpec(
        "last_click_equals_daily",
        asset=ATTRIBUTION_DAILY_KEY,
        blocking=True,
        description="Per event date and campaign, the last_click model's conversions and revenue "
        f"equal {DAILY_KEY.to_user_string()}'s.",
    ),
    AssetCheckSpec(
        "data_driven_totals",
        asset=ATTRIBUTION_DAILY_KEY,
        blocking=True,
        description="Per event date, markov and shapley distribute exactly the day's attributed "
        "conversions and revenue.",
    ),
]

AUCTION_KEY = GOLD_KEYS["auction_daily"]
AUCTION_CHECKS = [
    AssetCheckSpec(
        "auction_bounds",
        asset=AUCTION_KEY,
        blocking=True,
        description="Win rate and bid rate within [0, 1], wins <= bids, impressions <= wins.",
    ),
    AssetCheckSpec(
        "wins_served",
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
    def gold_tables(context: AssetExecutionContext, lake: LakeResource, spark: SparkResource):
        yield from materialize_gold(context, lake, spark, windows)

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
                "metric_bounds",
                asset=DAILY_KEY,
                description="CTR and CVR within [0, 1], spend and revenue >= 0, ROAS finite. A warning, "
                "not a block: clicks are dated by their own time, so a campaign with an impression at "
                "23:59 and its click at 00:01 can show CTR > 1 on a tiny day.",
            ),
            AssetCheckSpec(
                "reconciles_with_silver",
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
                "volume_anomaly",
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
    context: AssetExecutionContext, lake: LakeResource, spark: SparkResource, windows: AttributionWindows
):
    the_lake = lake.writable_lake("gold", "quality")
    session = spark.session(the_lake)
    w = window_of(context)
    stats = run_gold(session, the_lake, w, windows)
    for done in stats.detail["migrations"]["done"]:
        context.log.info(f"migrated gold_{done}")
    context.log.info(f"gold {w.start}..{w.end}: " + ", ".join(f"{k} {v:,}" for k, v in stats.rows.items()))
    for name, key in GOLD_KEYS.items():
        yield table_result(
            the_lake,
            key,
            "gold",
            name,
            rows_in_window=stats.rows[name],
            event_dates=f"{w.event_start}..{w.end}",
            attribution_windows=MetadataValue.json(windows.as_dict()),
        )
    daily = read_rewritten(session, the_lake, GOLD, DAILY, w)
    bad = daily.where(OUT_OF_BOUNDS).count()
    totals = daily.agg(*[F.sum(c).alias(c) for c in (*COUNT_METRICS, *MONEY_METRICS)])
    checks = [
        AssetCheckResult(
            check_name="metric_bounds",
            asset_key=DAILY_KEY,
            passed=bad == 0,
            severity=AssetCheckSeverity.WARN,
            metadata={"rows_out_of_bounds": bad, "totals": MetadataValue.json(totals.first().asDict())},
        )
    ]
    rows = silver_vs_gold(session, the_lake, w)
    checks.append(
        AssetCheckResult(
            check_name="reconciles_with_silver",
            asset_key=DAILY_KEY,
            passed=not any(r["problems"] for r in rows),
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "event_dates": len(rows),
                "mismatches": MetadataValue.json(
                    [{k: v for k, v in r.items() if k != "rollup_problems"} for r in rows if r["problems"]]
                ),
            },
        )
    )
    for table in ROLLUPS:
        problems = [
            {"event_date": r["event_date"], "problem": p}
            for r in rows
            for p in r["rollup_problems"][table.name]
        ]
        checks.append(
            AssetCheckResult(
                check_name=ADDS_UP,
                asset_key=GOLD_KEYS[table.name],
                passed=not problems,
                severity=AssetCheckSeverity.ERROR,
                metadata={"event_dates": len(rows), "mismatches": MetadataValue.json(problems)},
            )
        )
    checks.extend(attribution_checks(session, the_lake, w, daily, windows))
    checks.extend(auction_checks(session, the_lake, w))
    found, unjudged = anomalies(daily_totals(session, the_lake, w), w.event_dates())
    checks.append(
        AssetCheckResult(
            check_name="volume_anomaly",
            asset_key=DAILY_KEY,
            passed=not found,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "anomalies": MetadataValue.json(found),
                "without_history": MetadataValue.json([d.isoformat() for d in unjudged]),
            },
        )
    )
    record(session, the_lake, checks, w, context.run_id, layer=GOLD)  # then hand them to Dagster
    yield from checks


def attribution_checks(
    session: SparkSession, lake: Lake, w: ArrivalWindow, daily: DataFrame, windows: AttributionWindows
) -> list[AssetCheckResult]:
    """The attribution tables just written, judged (spark_jobs/attribution_checks.py)."""
    credited = read_rewritten(session, lake, GOLD, "attribution", w).persist()
    by_campaign = read_rewritten(session, lake, GOLD, "attribution_campaign_daily", w).persist()
    try:
        bad_sums, sum_sample = credit_sum_problems(credited)
        outside, outside_sample = touch_window_problems(credited, windows)
        last_click = last_click_problems(by_campaign, daily)
        totals = data_driven_total_problems(by_campaign)
    finally:
        credited.unpersist()
        by_campaign.unpersist()

    return [
        error_check(
            "credits_sum_to_one", ATTRIBUTION_KEY, bad_sums == 0, conversions_off=bad_sums, sample=sum_sample
        ),
        error_check(
            "touches_inside_window",
            ATTRIBUTION_KEY,
            outside == 0,
            touches_outside=outside,
            sample=outside_sample,
        ),
        error_check("last_click_equals_daily", ATTRIBUTION_DAILY_KEY, not last_click, mismatches=last_click),
        error_check("data_driven_totals", ATTRIBUTION_DAILY_KEY, not totals, mismatches=totals),
    ]


def auction_checks(session: SparkSession, lake: Lake, w: ArrivalWindow) -> list[AssetCheckResult]:
    """auction_daily as written, judged; served impressions recounted from silver."""
    start, end = w.dates(GOLD)
    written = read_rewritten(session, lake, GOLD, "auction_daily", w).persist()
    try:

        def silver(event_type: str, first: date) -> DataFrame:
            return read_window(session, lake.table(SILVER, TABLE_NAMES[event_type]), EVENT_DATE, first, end)

        bounds = auction_problems(written)
        served = [
            p
            for p in served_problems(
                written,
                silver("impression", start),
                silver("bid_request", start - timedelta(days=1)),
                silver("bid_response", start),
            )
            if start.isoformat() <= p[EVENT_DATE] <= end.isoformat()  # the day before is context only
        ]
    finally:
        written.unpersist()
    return [
        error_check("auction_bounds", AUCTION_KEY, not bounds, sample=bounds),
        error_check("wins_served", AUCTION_KEY, not served, mismatches=served),
    ]


# Rows that break a business bound (null ratios, from a zero divisor, are fine). CVR has
# no upper one: a campaign-day's conversions may follow clicks of earlier days.
OUT_OF_BOUNDS = (
    "ctr < 0 OR ctr > 1 OR cvr < 0 OR spend_micros < 0 OR revenue_micros < 0 "
    "OR isnan(roas) OR abs(roas) = double('inf')"
)


def daily_totals(session: SparkSession, lake: Lake, w: ArrivalWindow) -> dict[date, dict[str, int]]:
    """Impressions and clicks per event date, the window and the trailing days before it."""
    first = w.event_start - timedelta(days=TRAILING_DAYS)
    df = read_window(session, lake.table(GOLD, DAILY), date_column(GOLD), first, w.end)
    rows = df.groupBy(EVENT_DATE).agg(F.sum("impressions").alias("i"), F.sum("clicks").alias("c")).collect()
    return {r[EVENT_DATE]: {"impressions": r["i"], "clicks": r["c"]} for r in rows}
