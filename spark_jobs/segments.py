"""Audience segments by user pseudonym and day, with their history (docs/segments.md).
Pure DataFrame functions; the rules and their parameters are spark_jobs/segment_rules.py,
the IO is pipeline.run_segments.

Three steps, each a gold table:
- user_activity_daily: per event date and user, what they did (only events with consent
  for measurement: segments are user-level processing);
- user_segments: per day D and user, the segments their activity in the lookback up to D
  puts them in (one row per membership);
- segment_history: per user and segment, the intervals of consecutive days they were a
  member (SCD type 2: valid_from inclusive, valid_to exclusive, null while current)."""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from spark_jobs.consent import user_level
from spark_jobs.segment_rules import (
    ACTIVITY_GRAIN,
    CONVERTER,
    DEFAULT_RULES,
    ENGAGED_CLICKER,
    LAPSED,
    RFM_HIGH,
    RFM_LOW,
    RFM_MEDIUM,
    SUSPECTED_BOT,
    SegmentRules,
)

ACTIVITY_COUNTS: tuple[str, ...] = (
    "impressions",  # not test traffic, invalid or not
    "ivt_impressions",
    "valid_impressions",
    "valid_clicks",
    "fast_clicks",  # clicks (not test) sooner after their impression than a person clicks
    "orders",  # valid orders (first arrival of each order_id)
    "revenue_micros",
)


def _users(df: DataFrame) -> DataFrame:
    """Rows a user-level table may hold: consented, with a pseudonym, not test traffic."""
    return user_level(df).where(F.col("user_pid").isNotNull() & ~F.coalesce("is_test", F.lit(False)))


def user_activity_daily(
    impressions: DataFrame,
    clicks: DataFrame,
    orders: DataFrame,
    click_impressions: DataFrame,
    rules: SegmentRules = DEFAULT_RULES,
) -> DataFrame:
    """Per event date and user: ACTIVITY_COUNTS and `max_clicks_per_minute`. `impressions`,
    `clicks` (silver) and `orders` (attribution.orders) cover the dates to compute;
    `click_impressions` (silver impressions from the day before) time each click."""
    imp = (
        _users(impressions)
        .groupBy(*ACTIVITY_GRAIN)
        .agg(
            F.count("*").alias("impressions"),
            F.count(F.when(F.col("ivt") != "none", 1)).alias("ivt_impressions"),
            F.count(F.when(F.col("is_valid"), 1)).alias("valid_impressions"),
        )
    )
    shown = click_impressions.select("impression_id", F.col("event_ts").alias("impression_ts"))
    delay_ms = (F.unix_micros("event_ts") - F.unix_micros("impression_ts")) / 1000
    timed = _users(clicks).join(shown, "impression_id", "left")
    clk = timed.groupBy(*ACTIVITY_GRAIN).agg(
        F.count(F.when(F.col("is_valid"), 1)).alias("valid_clicks"),
        F.count(F.when(delay_ms < rules.bot_max_click_delay_ms, 1)).alias("fast_clicks"),
    )
    minute = timed.groupBy(*ACTIVITY_GRAIN, F.date_trunc("minute", "event_ts")).count()
    burst = minute.groupBy(*ACTIVITY_GRAIN).agg(F.max("count").alias("max_clicks_per_minute"))
    # orders carry their own consent verdict (attribution.orders).
    ordered = (
        user_level(orders)
        .where(F.col("user_pid").isNotNull())
        .groupBy(*ACTIVITY_GRAIN)
        .agg(F.count("*").alias("orders"), F.sum("value_micros").alias("revenue_micros"))
    )
    joined = imp.join(clk, list(ACTIVITY_GRAIN), "full").join(burst, list(ACTIVITY_GRAIN), "full")
    joined = joined.join(ordered, list(ACTIVITY_GRAIN), "full")
    return joined.select(
        *ACTIVITY_GRAIN,
        *[F.coalesce(c, F.lit(0)).cast("bigint").alias(c) for c in ACTIVITY_COUNTS],
        F.coalesce("max_clicks_per_minute", F.lit(0)).cast("bigint").alias("max_clicks_per_minute"),
    )


def _score(value: Column, cutoffs: tuple[int, int], higher_is_better: bool = True) -> Column:
    low, high = cutoffs
    if higher_is_better:
        return F.when(value >= high, 3).when(value >= low, 2).otherwise(1)
    return F.when(value <= low, 3).when(value <= high, 2).otherwise(1)


def user_segments(
    activity: DataFrame, first: date, last: date, rules: SegmentRules = DEFAULT_RULES
) -> DataFrame:
    """Per day D in [first, last] and user: one row per segment they belong to, judged on
    `activity` (user_activity_daily) from D - lookback + 1 to D, which the caller reads
    from first - lookback + 1. Columns: event_date, user_pid, segment, rfm_score (the
    RFM tier's score, else null)."""
    a = F.col("event_date")
    days = F.sequence(
        F.greatest(a, F.lit(first)), F.least(F.date_add(a, rules.lookback_days - 1), F.lit(last))
    )
    spread = activity.where(a <= F.lit(last)).select("*", F.explode(days).alias("day"))
    acted = (F.col("valid_clicks") > 0) | (F.col("orders") > 0)
    users = spread.groupBy("day", "user_pid").agg(
        *[F.sum(c).alias(c) for c in ACTIVITY_COUNTS],
        F.max("max_clicks_per_minute").alias("max_clicks_per_minute"),
        F.max(F.when(F.col("orders") > 0, a)).alias("last_order_date"),
        F.max(F.when(acted, a)).alias("last_action_date"),
    )
    since_order = F.datediff("day", "last_order_date")
    rfm = (
        _score(since_order, rules.recency_days, higher_is_better=False)
        + _score(F.col("orders"), rules.frequency_orders)
        + _score(F.col("revenue_micros"), rules.monetary_micros)
    )
    converter = F.col("orders") > 0
    tier = (
        F.when(rfm >= rules.rfm_high_min_score, RFM_HIGH)
        .when(rfm >= rules.rfm_medium_min_score, RFM_MEDIUM)
        .otherwise(RFM_LOW)
    )
    bot = (
        (
            (F.col("impressions") >= rules.bot_min_impressions)
            & (F.col("ivt_impressions") >= rules.bot_min_ivt_share * F.col("impressions"))
        )
        | (F.col("fast_clicks") >= rules.bot_min_fast_clicks)
        | (F.col("max_clicks_per_minute") >= rules.bot_burst_clicks)
    )
    lapsed = F.col("last_action_date").isNotNull() & (
        F.datediff("day", "last_action_date") >= rules.lapsed_after_days
    )
    named = F.array(
        F.when(converter, F.lit(CONVERTER)),
        F.when(converter, tier),
        F.when(F.col("valid_clicks") >= rules.engaged_min_clicks, F.lit(ENGAGED_CLICKER)),
        F.when(lapsed, F.lit(LAPSED)),
        F.when(bot, F.lit(SUSPECTED_BOT)),
    )
    members = users.select(
        F.col("day").alias("event_date"),
        "user_pid",
        F.explode(F.filter(named, lambda s: s.isNotNull())).alias("segment"),
        rfm.alias("_rfm"),
    )
    is_tier = F.col("segment").isin(RFM_HIGH, RFM_MEDIUM, RFM_LOW)
    return members.withColumn("rfm_score", F.when(is_tier, F.col("_rfm")).cast("int")).drop("_rfm")


def segment_history(memberships: DataFrame, last_date: date) -> DataFrame:
    """SCD type 2 from daily memberships (user_segments, every date up to `last_date`):
    one row per run of consecutive member days. valid_to is the day after the run, null
    when the run reaches `last_date` (still a member); is_current says the same."""
    by_user = Window.partitionBy("user_pid", "segment").orderBy("event_date")
    # Consecutive days share date - row_number (the classic gaps-and-islands key).
    runs = memberships.select("user_pid", "segment", "event_date").withColumn(
        "_run", F.date_sub("event_date", F.row_number().over(by_user))
    )
    spans = runs.groupBy("user_pid", "segment", "_run").agg(
        F.min("event_date").alias("valid_from"), F.max("event_date").alias("_last")
    )
    current = F.col("_last") >= F.lit(last_date)
    return spans.select(
        "user_pid",
        "segment",
        "valid_from",
        F.when(~current, F.date_add("_last", 1)).alias("valid_to"),
        current.alias("is_current"),
        F.datediff(F.date_add("_last", 1), "valid_from").alias("member_days"),
    )
