"""What the attribution checks measure on the tables gold just wrote (docs/attribution.md,
"Checks"). Pure functions over the window's frames; ad_assets/defs/gold.py turns each
list of problems into a blocking asset check."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.attribution import UNATTRIBUTED, inside_window, window_seconds
from spark_jobs.attribution_models import DATA_DRIVEN_MODELS
from spark_jobs.attribution_windows import DEFAULT_WINDOWS, AttributionWindows

TOLERANCE = 1e-9  # credits are doubles: a sum of 1/3s is 1 within rounding
SAMPLE = 5  # problems listed per check (the counts are complete)


def _sample(df: DataFrame) -> list[dict]:
    return [{k: str(v) for k, v in r.asDict().items()} for r in df.limit(SAMPLE).collect()]


def credit_sum_problems(attribution: DataFrame) -> tuple[int, list[dict]]:
    """Attributed conversions whose credits under one model do not sum to 1."""
    sums = (
        attribution.where(F.col("model") != UNATTRIBUTED)
        .groupBy("event_date", "order_id", "model")
        .agg(F.sum("credit").alias("credit_sum"))
        .where(F.abs(F.col("credit_sum") - 1.0) > TOLERANCE)
    ).persist()
    try:
        return sums.count(), _sample(sums)
    finally:
        sums.unpersist()


def touch_window_problems(
    attribution: DataFrame, windows: AttributionWindows = DEFAULT_WINDOWS
) -> tuple[int, list[dict]]:
    """Touches after their conversion, or further before it than their advertiser's
    window for their type (a view touch where the advertiser has no view window)."""
    reach_s = window_seconds(windows)
    outside = attribution.where(
        (F.col("model") != UNATTRIBUTED) & ((reach_s <= 0) | ~inside_window(reach_s))
    ).select(
        "event_date",
        "order_id",
        "model",
        "advertiser_id",
        "touch_type",
        "touch_event_id",
        "touch_ts",
        "conv_ts",
    )
    return outside.count(), _sample(outside)


def last_click_problems(attribution_daily: DataFrame, campaign_daily: DataFrame) -> list[dict]:
    """Campaign-days where the last_click model's conversions or revenue differ from
    campaign_daily's (the same definition, so they must be equal)."""
    model = attribution_daily.where("model = 'last_click'").select(
        "event_date",
        "campaign_id",
        F.col("credited_conversions").alias("model_conversions"),
        F.col("credited_revenue_micros").alias("model_revenue_micros"),
    )
    daily = campaign_daily.where("conversions > 0").select(
        "event_date", "campaign_id", "conversions", "revenue_micros"
    )
    joined = model.join(daily, ["event_date", "campaign_id"], "full").fillna(0)
    differ = joined.where(
        (F.abs(F.col("model_conversions") - F.col("conversions")) > TOLERANCE)
        | (F.abs(F.col("model_revenue_micros") - F.col("revenue_micros")) > 1e-3)
    )
    return _sample(differ)


def data_driven_total_problems(attribution_daily: DataFrame) -> list[dict]:
    """Days where a data-driven model does not distribute exactly the attributed
    conversions and revenue of the day (last_click's totals: each attributed conversion
    once)."""
    per_model = (
        attribution_daily.groupBy("event_date")
        .pivot("model", [*DATA_DRIVEN_MODELS, "last_click"])
        .agg(
            F.sum("credited_conversions").alias("conversions"),
            F.sum("credited_revenue_micros").alias("revenue"),
        )
    )
    problems = []
    for r in per_model.collect():
        expected = (r["last_click_conversions"] or 0.0, r["last_click_revenue"] or 0.0)
        for m in DATA_DRIVEN_MODELS:
            got = (r[f"{m}_conversions"] or 0.0, r[f"{m}_revenue"] or 0.0)
            if abs(got[0] - expected[0]) > 1e-6 or abs(got[1] - expected[1]) > max(1.0, 1e-9 * expected[1]):
                problems.append(
                    {"event_date": str(r["event_date"]), "model": m, "credited": got, "attributed": expected}
                )
    return problems
