"""Metric definitions (see DESIGN.md): counts and sums are computed in gold.py; the ratios
are defined once here, as numerator / denominator x scale, null where the divisor is 0."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

MICROS = 1_000_000

# name -> (numerator, denominator, scale)
RATIOS: dict[str, tuple[str, str, float]] = {
    "ctr": ("clicks", "impressions", 1.0),
    "cvr": ("conversions", "clicks", 1.0),
    "cpc": ("spend", "clicks", 1.0),
    "cpm": ("spend", "impressions", 1000.0),
    "roas": ("revenue", "spend", 1.0),
}


def safe_ratio(numerator: Column, denominator: Column, scale: float = 1.0) -> Column:
    return F.when(denominator != 0, numerator * F.lit(scale) / denominator)


def with_money_and_ratios(df: DataFrame) -> DataFrame:
    """Adds spend and revenue (currency units from micros) and every ratio of RATIOS."""
    df = df.withColumn("spend", F.col("spend_micros") / MICROS).withColumn(
        "revenue", F.col("revenue_micros") / MICROS
    )
    for name, (num, den, scale) in RATIOS.items():
        df = df.withColumn(name, safe_ratio(F.col(num), F.col(den), scale))
    return df
