"""The gold step: every table of the gold registry for the window's event dates
(pipeline.run_gold), judged (bounds, reconciled with silver, rollups add up, attribution,
auctions, volume anomalies), the judgements recorded in the quality table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.anomalies import TRAILING_DAYS, anomalies
from spark_jobs.attribution_checks import (
    credit_sum_problems,
    data_driven_total_problems,
    last_click_problems,
    touch_window_problems,
)
from spark_jobs.attribution_windows import AttributionWindows
from spark_jobs.auction import auction_problems, served_problems
from spark_jobs.contracts import TABLE_NAMES
from spark_jobs.delta_io import read_rewritten, read_window
from spark_jobs.gold_tables import DAILY, GOLD_TABLES, ROLLUPS
from spark_jobs.lake import Lake
from spark_jobs.layers import EVENT_DATE, GOLD, SILVER, ArrivalWindow, date_column
from spark_jobs.metric_definitions import COUNT_METRICS, MONEY_METRICS
from spark_jobs.pipeline import run_gold
from spark_jobs.quality_table import append_outcomes
from spark_jobs.reconcile import silver_vs_gold
from spark_jobs.step_report import WARN, CheckOutcome, Log, StepResult, asset_name, table_written

TABLE_ASSETS = {name: asset_name(GOLD, name) for name in GOLD_TABLES}
DAILY_ASSET = TABLE_ASSETS[DAILY]
ATTRIBUTION_ASSET, ATTRIBUTION_DAILY_ASSET = (
    TABLE_ASSETS["attribution"],
    TABLE_ASSETS["attribution_campaign_daily"],
)
AUCTION_ASSET = TABLE_ASSETS["auction_daily"]
# The checks' names (the asset's specs use them too: ad_assets/defs/gold.py).
METRIC_BOUNDS, RECONCILES, ADDS_UP = "metric_bounds", "reconciles_with_silver", "adds_up_to_daily"
CREDITS_SUM, TOUCHES_INSIDE = "credits_sum_to_one", "touches_inside_window"
LAST_CLICK_EQUALS, DATA_DRIVEN_TOTALS = "last_click_equals_daily", "data_driven_totals"
AUCTION_BOUNDS, WINS_SERVED, VOLUME_ANOMALY = "auction_bounds", "wins_served", "volume_anomaly"

# Rows that break a business bound (null ratios, from a zero divisor, are fine). CVR has
# no upper one: a campaign-day's conversions may follow clicks of earlier days.
OUT_OF_BOUNDS = (
    "ctr < 0 OR ctr > 1 OR cvr < 0 OR spend_micros < 0 OR revenue_micros < 0 "
    "OR isnan(roas) OR abs(roas) = double('inf')"
)


def gold_step(
    session: SparkSession, lake: Lake, w: ArrivalWindow, run_id: str, windows: AttributionWindows, log: Log
) -> Iterator[StepResult]:
    stats = run_gold(session, lake, w, windows)
    for done in stats.detail["migrations"]["done"]:
        log.info(f"migrated gold_{done}")
    log.info(f"gold {w.start}..{w.end}: " + ", ".join(f"{k} {v:,}" for k, v in stats.rows.items()))
    for name, asset in TABLE_ASSETS.items():
        yield table_written(
            lake,
            asset,
            GOLD,
            name,
            rows_in_window=stats.rows[name],
            event_dates=f"{w.event_start}..{w.end}",
            attribution_windows=windows.as_dict(),
        )
    checks: list[CheckOutcome] = []
    daily = read_rewritten(session, lake, GOLD, DAILY, w)
    bad = daily.where(OUT_OF_BOUNDS).count()
    totals = daily.agg(*[F.sum(c).alias(c) for c in (*COUNT_METRICS, *MONEY_METRICS)])
    checks.append(
        CheckOutcome(
            DAILY_ASSET,
            METRIC_BOUNDS,
            passed=bad == 0,
            severity=WARN,
            metadata={"rows_out_of_bounds": bad, "totals": totals.first().asDict()},
        )
    )
    rows = silver_vs_gold(session, lake, w)
    checks.append(
        CheckOutcome(
            DAILY_ASSET,
            RECONCILES,
            passed=not any(r["problems"] for r in rows),
            metadata={
                "event_dates": len(rows),
                "mismatches": [
                    {k: v for k, v in r.items() if k != "rollup_problems"} for r in rows if r["problems"]
                ],
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
            CheckOutcome(
                TABLE_ASSETS[table.name],
                ADDS_UP,
                passed=not problems,
                metadata={"event_dates": len(rows), "mismatches": problems},
            )
        )
    checks.extend(attribution_checks(session, lake, w, daily, windows))
    checks.extend(auction_checks(session, lake, w))
    found, unjudged = anomalies(daily_totals(session, lake, w), w.event_dates())
    checks.append(
        CheckOutcome(
            DAILY_ASSET,
            VOLUME_ANOMALY,
            passed=not found,
            severity=WARN,
            metadata={"anomalies": found, "without_history": [d.isoformat() for d in unjudged]},
        )
    )
    append_outcomes(session, lake, checks, w, run_id, layer=GOLD)  # then hand them to Dagster
    yield from checks


def attribution_checks(
    session: SparkSession, lake: Lake, w: ArrivalWindow, daily: DataFrame, windows: AttributionWindows
) -> list[CheckOutcome]:
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
        CheckOutcome(
            ATTRIBUTION_ASSET,
            CREDITS_SUM,
            bad_sums == 0,
            metadata={"conversions_off": bad_sums, "sample": sum_sample},
        ),
        CheckOutcome(
            ATTRIBUTION_ASSET,
            TOUCHES_INSIDE,
            outside == 0,
            metadata={"touches_outside": outside, "sample": outside_sample},
        ),
        CheckOutcome(
            ATTRIBUTION_DAILY_ASSET,
            LAST_CLICK_EQUALS,
            not last_click,
            metadata={"mismatches": last_click},
        ),
        CheckOutcome(
            ATTRIBUTION_DAILY_ASSET, DATA_DRIVEN_TOTALS, not totals, metadata={"mismatches": totals}
        ),
    ]


def auction_checks(session: SparkSession, lake: Lake, w: ArrivalWindow) -> list[CheckOutcome]:
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
        CheckOutcome(AUCTION_ASSET, AUCTION_BOUNDS, not bounds, metadata={"sample": bounds}),
        CheckOutcome(AUCTION_ASSET, WINS_SERVED, not served, metadata={"mismatches": served}),
    ]


def daily_totals(session: SparkSession, lake: Lake, w: ArrivalWindow) -> dict[date, dict[str, int]]:
    """Impressions and clicks per event date, the window and the trailing days before it."""
    first = w.event_start - timedelta(days=TRAILING_DAYS)
    df = read_window(session, lake.table(GOLD, DAILY), date_column(GOLD), first, w.end)
    rows = df.groupBy(EVENT_DATE).agg(F.sum("impressions").alias("i"), F.sum("clicks").alias("c")).collect()
    return {r[EVENT_DATE]: {"impressions": r["i"], "clicks": r["c"]} for r in rows}
