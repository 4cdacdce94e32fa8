"""The metrics of spark_jobs/metric_definitions.py in Spark: counts and sums are computed in
gold.py; money and the ratios are derived here, from the definitions' lists, on any frame
that holds the additive columns."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.metric_definitions import MICROS, MONEY_METRICS, RATIOS


def safe_ratio(numerator: Column, denominator: Column, scale: float = 1.0) -> Column:
    return F.when(denominator != 0, numerator * F.lit(scale) / denominator)


def with_money_and_ratios(df: DataFrame) -> DataFrame:
    """Adds spend and revenue (currency units from micros) and every ratio of RATIOS."""
    for money, micros in MONEY_METRICS.items():
        df = df.withColumn(money, F.col(micros) / MICROS)
    for name, (num, den, scale) in RATIOS.items():
        df = df.withColumn(name, safe_ratio(F.col(num), F.col(den), scale))
    return df
