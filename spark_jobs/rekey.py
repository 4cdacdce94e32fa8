"""Key rotation's data side: re-pseudonymise silver under a new HMAC key from the raw ids
that bronze keeps, then rebuild the gold tables that hold pseudonyms (the audience
tables). Campaign, attribution and auction tables hold none and are left as they are;
joins work across the rotation because every pseudonym in the lake moves to the new key
(docs/privacy.md, "Key rotation").

Safe to interrupt and to rerun: a row is updated only while its pseudonym or version
differs from the target's, so a second run finishes what the first left."""

from __future__ import annotations

from datetime import date, timedelta

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.lake import Lake
from spark_jobs.lake_read import delta_row_counts
from spark_jobs.layers import BRONZE, LATENESS_DAYS, SILVER, ArrivalWindow, date_column
from spark_jobs.pipeline import LayerStats, run_segments
from spark_jobs.privacy_scan import RAW_ID_TABLES
from spark_jobs.silver import first_rows, pseudonymise

# Silver tables whose rows carry user_pid: those built from bronze tables with raw ids.
PSEUDONYMISED_TABLES: tuple[str, ...] = RAW_ID_TABLES


def pseudonyms(bronze: DataFrame, key: bytes, version: str) -> DataFrame:
    """Per event (its first arrival, as silver keeps it): event_id, event_date, and the
    user_pid and key_version under `key`."""
    first = first_rows(bronze, "event_id").select("event_id", "event_ts", "user_id")
    return pseudonymise(first, key, version).select(
        "event_id", F.to_date("event_ts").alias("event_date"), "user_pid", "key_version"
    )


def rekey_silver(spark: SparkSession, lake: Lake, key: bytes, version: str) -> dict[str, int]:
    """{silver table: rows updated}: every row's pseudonym recomputed under `key`."""
    updated = {}
    for name in PSEUDONYMISED_TABLES:
        source = pseudonyms(spark.read.format("delta").load(lake.table(BRONZE, name)), key, version)
        metrics = (
            DeltaTable.forPath(spark, lake.table(SILVER, name))
            .alias("t")
            .merge(source.alias("s"), "t.event_id = s.event_id AND t.event_date = s.event_date")
            .whenMatchedUpdate(
                condition="NOT (t.user_pid <=> s.user_pid) OR NOT (t.key_version <=> s.key_version)",
                set={"user_pid": "s.user_pid", "key_version": "s.key_version"},
            )
            .execute()
            .first()
        )
        updated[name] = int(metrics["num_updated_rows"])
    return updated


def rekey_lake(spark: SparkSession, lake: Lake, key: bytes, version: str) -> LayerStats:
    """Silver re-pseudonymised (`rows`: updated per table), then the audience tables
    rebuilt (`detail["audiences"]`: their rows) over every event date silver holds."""
    stats = LayerStats(rows=rekey_silver(spark, lake, key, version))
    days = {
        day
        for name in PSEUDONYMISED_TABLES
        for (day,), n in delta_row_counts(lake, SILVER, name, (date_column(SILVER),)).items()
        if n
    }
    if days:
        first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
        stats.detail["audiences"] = run_segments(spark, lake, covering_window(first, last)).rows
    return stats


def covering_window(first: date, last: date) -> ArrivalWindow:
    """The arrival window whose rewritten event dates cover [first, last]."""
    return ArrivalWindow(min(first + timedelta(days=LATENESS_DAYS), last), last)
