"""Gold: campaign metrics per event date (and hour), as defined in docs/metrics.md
(spark_jobs/metric_definitions.py), with last-click attribution of conversions. Inputs
are silver frames; pure functions. The tables are declared in spark_jobs/gold_tables.py;
BUILDERS says which function computes each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs import attribution, auction
from spark_jobs.attribution_windows import DEFAULT_WINDOWS, AttributionWindows
from spark_jobs.contracts import UNKNOWN
from spark_jobs.gold_tables import GOLD_TABLES
from spark_jobs.metric_definitions import ADDITIVE_METRICS
from spark_jobs.metrics import with_money_and_ratios

DAILY_KEYS = GOLD_TABLES["campaign_daily"].grain
HOURLY_KEYS = GOLD_TABLES["campaign_hourly"].grain
PUBLISHER_KEYS = GOLD_TABLES["publisher_daily"].grain


def last_click_credits(
    conversions: DataFrame,
    clicks: DataFrame,
    impressions: DataFrame | None = None,
    windows: AttributionWindows = DEFAULT_WINDOWS,
) -> DataFrame:
    """One row per valid order: the conversion (first by event_ts, then event_id) credited
    to its latest touch: by default the latest valid click of the same user on a campaign of
    the same advertiser, at most ATTRIBUTION_WINDOW_DAYS before it. Orders with no touch are
    not returned. The same touches as every attribution model's (spark_jobs/attribution.py)."""
    candidates = attribution.candidate_touches(clicks, impressions, windows)
    return attribution.last_touches(attribution.touches(attribution.orders(conversions), candidates))


def _campaign_metrics(
    impressions: DataFrame, clicks: DataFrame, credits: DataFrame, keys: tuple[str, ...]
) -> DataFrame:
    imp = (
        impressions.where("is_valid")
        .groupBy(*keys)
        .agg(F.count("*").alias("impressions"), F.sum("cost_micros").alias("spend_micros"))
    )
    clk = clicks.where("is_valid").groupBy(*keys).agg(F.count("*").alias("clicks"))
    conv = credits.groupBy(*keys).agg(
        F.count("*").alias("conversions"), F.sum("value_micros").alias("revenue_micros")
    )
    joined = imp.join(clk, list(keys), "full").join(conv, list(keys), "full")
    filled = joined.select(
        *keys, *[F.coalesce(F.col(c), F.lit(0)).cast("bigint").alias(c) for c in ADDITIVE_METRICS]
    )
    return with_money_and_ratios(filled)


def campaign_daily(impressions: DataFrame, clicks: DataFrame, credits: DataFrame) -> DataFrame:
    return rollup_daily(campaign_hourly(impressions, clicks, credits))


def campaign_hourly(impressions: DataFrame, clicks: DataFrame, credits: DataFrame) -> DataFrame:
    return _campaign_metrics(impressions, clicks, credits, HOURLY_KEYS)


def rollup_daily(hourly: DataFrame) -> DataFrame:
    """Daily metrics from hourly ones: counts and sums add up across hours (each event lies
    in exactly one hour); ratios are recomputed from the sums, never averaged."""
    sums = hourly.groupBy(*DAILY_KEYS).agg(*[F.sum(c).cast("bigint").alias(c) for c in ADDITIVE_METRICS])
    return with_money_and_ratios(sums)


def publisher_daily(impressions: DataFrame, clicks: DataFrame, credits: DataFrame) -> DataFrame:
    """Per event date, publisher and channel: the campaign metrics, with clicks and
    conversions credited to the publisher that served the impression clicked, plus
    `unique_users`, the distinct users who saw a valid impression (marts suppress rows
    about too few users)."""

    def keyed(df: DataFrame) -> DataFrame:  # null keys would not join: name them
        return df.fillna(UNKNOWN, subset=["publisher_id", "channel"])

    impressions, clicks, credits = keyed(impressions), keyed(clicks), keyed(credits)
    metrics = _campaign_metrics(impressions, clicks, credits, PUBLISHER_KEYS)
    users = (
        impressions.where("is_valid")
        .groupBy(*PUBLISHER_KEYS)
        .agg(F.countDistinct("user_pid").cast("bigint").alias("unique_users"))
    )
    return metrics.join(users, list(PUBLISHER_KEYS), "left").withColumn(
        "unique_users", F.coalesce("unique_users", F.lit(0)).cast("bigint")
    )


@dataclass(frozen=True)
class GoldInputs:
    """What the gold tables of a window are computed from: valid-flagged silver
    impressions and clicks, the last-click credits of the conversions, the hourly
    campaign metrics (which the caller caches: the daily table is their rollup), every
    model's credits (gold_attribution), the channel paths, and the bid logs."""

    impressions: DataFrame
    clicks: DataFrame
    credits: DataFrame
    hourly: DataFrame
    attribution: DataFrame
    paths: DataFrame
    auction_requests: DataFrame  # auction.auction_requests, from the day before the window
    bids: DataFrame  # auction.keyed_bids: a bid is dated by its request
    dates: tuple[date, date]  # the event dates the window rewrites

    def in_window(self, df: DataFrame) -> DataFrame:
        return df.where(F.col("event_date").between(*self.dates))


# The Spark function behind each table of the registry (spark_jobs/gold_tables.py). A test
# checks that every registered table has exactly one.
BUILDERS: dict[str, Callable[[GoldInputs], DataFrame]] = {
    "campaign_hourly": lambda g: g.hourly,
    "campaign_daily": lambda g: rollup_daily(g.hourly),
    "publisher_daily": lambda g: publisher_daily(g.impressions, g.clicks, g.credits),
    "attribution": lambda g: g.attribution,
    "attribution_campaign_daily": lambda g: attribution.attribution_campaign_daily(
        g.attribution, rollup_daily(g.hourly)
    ),
    "conversion_paths": lambda g: g.paths,
    "auction_daily": lambda g: g.in_window(
        auction.auction_daily_of_bids(g.auction_requests, g.bids, g.impressions)
    ),
    "bid_landscape": lambda g: g.in_window(auction.bid_landscape_of_bids(g.bids)),
}
# Written first, one after the other: their frames are cached (the hourly metrics, every
# model's credits, the keyed bids) and the other tables read them. The others are written concurrently,
# WRITERS at a time: a write is mostly fixed latency (Spark's job scheduling, Delta's
# commit) on small windows, and the concurrent ones overlap it.
WRITTEN_FIRST: tuple[str, ...] = ("campaign_hourly", "attribution", "auction_daily")
WRITERS = 3
