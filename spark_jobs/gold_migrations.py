"""Schema changes of gold tables that a lake written by an earlier AdLake needs before
gold writes again. Each migration checks the table's schema first, so running it twice,
or on a new lake, does nothing; each rewrites its table in one commit (readers see the
old table or the new one, never a mix), and Delta keeps the old version for time travel.

A gold table can always be rebuilt from silver; a migration spares that rebuild."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_jobs.lake import Lake
from spark_jobs.layers import GOLD, date_column


def migrate_gold(spark: SparkSession, lake: Lake) -> list[str]:
    """Apply every migration a gold table still needs; returns what was done."""
    done = []
    if _attribution_touch_columns(spark, lake.table(GOLD, "attribution")):
        done.append("attribution: click_ts/click_event_id renamed touch_ts/touch_event_id, touch_type added")
    return done


def _attribution_touch_columns(spark: SparkSession, path: str) -> bool:
    """gold_attribution before view-through touches named its touch columns after clicks.
    Every touch of such a table is a click; a conversion's `none` row has no touch type."""
    if not DeltaTable.isDeltaTable(spark, path):
        return False
    old = spark.read.format("delta").load(path)
    if "click_event_id" not in old.columns:
        return False
    new = (
        old.withColumnRenamed("click_event_id", "touch_event_id")
        .withColumnRenamed("click_ts", "touch_ts")
        .withColumn("touch_type", F.when(F.col("touch_event_id").isNotNull(), F.lit("click")))
    )
    (
        new.write.format("delta")
        .mode("overwrite")
        .option("overwriteSchema", "true")
        .partitionBy(date_column(GOLD))
        .save(path)
    )
    return True
