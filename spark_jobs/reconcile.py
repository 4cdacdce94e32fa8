"""Reconciliation between layers: nothing is lost between raw and bronze."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_jobs.bronze import read_raw_lines
from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.delta_io import read_window
from spark_jobs.lake import Lake
from spark_jobs.pipeline import QUARANTINE_TABLE, Window


def _by_date(df) -> dict[str, int]:
    return {r[0].isoformat(): r[1] for r in df.groupBy("arrival_date").count().collect()}


def raw_vs_bronze(spark: SparkSession, lake: Lake, w: Window) -> list[dict]:
    """Per event type and arrival date: raw lines, bronze rows, quarantined rows, ok."""
    quarantine = read_window(spark, lake.table(*QUARANTINE_TABLE), "arrival_date", w.start, w.end)
    q_counts = {
        (r["event_type"], r["arrival_date"].isoformat()): r["count"]
        for r in quarantine.groupBy("event_type", "arrival_date").count().collect()
    }
    rows = []
    for event_type in EVENT_TYPES:
        raw = _by_date(read_raw_lines(spark, lake, event_type, w.arrival_dates()).select("arrival_date"))
        loaded = _by_date(
            read_window(spark, lake.table("bronze", TABLE_NAMES[event_type]), "arrival_date", w.start, w.end)
        )
        for day in sorted(set(raw) | set(loaded)):
            r, b, q = raw.get(day, 0), loaded.get(day, 0), q_counts.get((event_type, day), 0)
            rows.append(
                {
                    "event_type": event_type,
                    "arrival_date": day,
                    "raw_lines": r,
                    "bronze_rows": b,
                    "quarantined": q,
                    "ok": r == b + q,
                }
            )
    return rows


def duplicate_keys(spark: SparkSession, path: str, w: Window, key: str = "event_id") -> int:
    """Number of keys that occur more than once in the event-date window of a silver table."""
    df = read_window(spark, path, "event_date", w.event_start, w.end)
    return df.groupBy(key).count().where(F.col("count") > 1).count()
