"""The layer jobs: read a window, transform with the pure functions, write idempotently.
A window is a range of arrival dates [start, end]; downstream of bronze the tables are
keyed by event date, so a window rewrites event dates [start - LATENESS_DAYS, end].

Called by the Dagster assets (ad_assets/defs); no Dagster imports here, so any Spark
driver can call them too."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs import bronze, gold, silver
from spark_jobs.contracts import ATTRIBUTION_WINDOW_DAYS, EVENT_TYPES, LATENESS_DAYS, TABLE_NAMES
from spark_jobs.delta_io import (
    delta_row_counts,
    merge_first_arrival,
    read_window,
    replace_where,
    replace_window,
    window_predicate,
)
from spark_jobs.lake import Lake
from spark_jobs.raw_files import inspect_raw_files

QUARANTINE_TABLE = ("bronze", "quarantine")
GOLD_TABLES = ("campaign_daily", "campaign_hourly", "publisher_daily")


@dataclass(frozen=True)
class Window:
    start: date
    end: date

    @property
    def event_start(self) -> date:
        """First event date that arrivals in this window can touch."""
        return self.start - timedelta(days=LATENESS_DAYS)

    def arrival_dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def event_dates(self) -> list[date]:
        """The event dates this window rewrites downstream of bronze."""
        return [self.event_start + timedelta(days=i) for i in range((self.end - self.event_start).days + 1)]


@dataclass
class LayerStats:
    rows: dict[str, int] = field(default_factory=dict)
    detail: dict[str, dict] = field(default_factory=dict)


# Called with an event type and the frame just written for it, while it is still cached:
# checks judge the data without reading the table back.
OnWritten = Callable[[str, DataFrame], None]


# ---------------------------------------------------------------- bronze
def run_bronze(
    spark: SparkSession, lake: Lake, w: Window, batch_id: str, on_written: OnWritten | None = None
) -> LayerStats:
    """Parse each event type's raw files once (cached), write its bronze table from the
    cache, count lines by verdict and unknown fields from the same cache, then write every
    event type's quarantine rows in one commit."""
    stats = LayerStats()
    ingest_ts = F.current_timestamp()
    # Raw files are one input partition each; writing them as-is would make one small
    # Delta file per raw file (5x slower to write and read back). Line numbers are already
    # fixed in the cached parse, so coalescing the writes is safe.
    files_per_write = spark.sparkContext.defaultParallelism
    cached: list[DataFrame] = []
    quarantine: DataFrame | None = None
    for event_type in EVENT_TYPES:
        files = inspect_raw_files(lake, event_type, w.arrival_dates())
        lines = bronze.read_raw_lines(spark, lake, event_type, files.readable)
        # The raw line is kept only where it is quarantined: the cache holds typed rows.
        parsed = bronze.parse_lines(lines, event_type)
        parsed = parsed.withColumn("value", F.when(F.col("_reason").isNotNull(), F.col("value"))).persist()
        cached.append(parsed)
        verdicts = Counter(
            {r["_reason"]: r["n"] for r in parsed.groupBy("_reason").agg(F.count("*").alias("n")).collect()}
        )
        rows = bronze.bronze_rows(parsed, event_type, ingest_ts, batch_id)
        replace_window(
            rows.coalesce(files_per_write),
            lake.table("bronze", TABLE_NAMES[event_type]),
            "arrival_date",
            w.start,
            w.end,
        )
        if on_written:
            on_written(event_type, rows)
        rejected = bronze.quarantine_rows(parsed, event_type, ingest_ts, batch_id).unionByName(
            bronze.unreadable_file_rows(spark, files.unreadable, event_type, ingest_ts, batch_id)
        )
        quarantine = rejected if quarantine is None else quarantine.unionByName(rejected)
        ok = verdicts.pop(None, 0)
        stats.rows[TABLE_NAMES[event_type]] = ok
        stats.detail[event_type] = {
            "raw_lines": ok + sum(verdicts.values()),
            "bronze_rows": ok,
            "quarantined": sum(verdicts.values()) + len(files.unreadable),  # a file is one row
            "unreadable_files": [f.source_file for f in files.unreadable],
            "reasons": dict(verdicts),
            "unknown_fields": bronze.unknown_field_counts(rows),
        }
    replace_where(
        quarantine.coalesce(1),
        lake.table(*QUARANTINE_TABLE),
        window_predicate("arrival_date", w.start, w.end),
        ("event_type", "arrival_date"),
    )
    for df in cached:
        df.unpersist()
    stats.rows["quarantine"] = sum(d["quarantined"] for d in stats.detail.values())
    return stats


# ---------------------------------------------------------------- silver
def _bronze(spark: SparkSession, lake: Lake, event_type: str, w: Window) -> DataFrame:
    return read_window(spark, lake.table("bronze", TABLE_NAMES[event_type]), "arrival_date", w.start, w.end)


def _silver_path(lake: Lake, event_type: str) -> str:
    return lake.table("silver", TABLE_NAMES[event_type])


def run_silver(spark: SparkSession, lake: Lake, w: Window, key: bytes, key_version: str) -> LayerStats:
    stats = LayerStats()
    batches = {
        "impression": silver.silver_impressions(_bronze(spark, lake, "impression", w), key, key_version),
        "conversion": silver.silver_conversions(_bronze(spark, lake, "conversion", w), key, key_version),
        "bid_request": silver.to_silver(_bronze(spark, lake, "bid_request", w), key, key_version),
        "bid_response": silver.to_silver(_bronze(spark, lake, "bid_response", w)),
    }
    for event_type, batch in batches.items():  # impressions first: clicks join to them
        stats.detail[event_type] = merge_first_arrival(spark, _silver_path(lake, event_type), batch)
    stats.detail["click"] = _merge_clicks(spark, lake, w, key, key_version)
    for event_type, merged in stats.detail.items():
        stats.rows[TABLE_NAMES[event_type]] = merged["inserted"]
    return stats


def _merge_clicks(spark: SparkSession, lake: Lake, w: Window, key: bytes, key_version: str) -> dict[str, int]:
    """New clicks, plus earlier clicks still waiting for their impression, joined to the
    impressions; an existing click is updated once its impression shows up."""
    path = _silver_path(lake, "click")
    new = silver.to_silver(_bronze(spark, lake, "click", w), key, key_version)
    candidates = new
    if _exists(spark, path):
        waiting = (
            read_window(spark, path, "event_date", w.event_start, w.end)
            .where("NOT impression_found")
            .select(*new.columns)
        )
        candidates = silver.first_rows(new.unionByName(waiting), "event_id")
    # A click follows its impression within minutes: its impression is dated the same day
    # or the day before.
    impressions = read_window(
        spark,
        _silver_path(lake, "impression"),
        "event_date",
        w.event_start - timedelta(days=1),
        w.end + timedelta(days=1),
    )
    return merge_first_arrival(
        spark,
        path,
        silver.attach_impressions(candidates, impressions),
        also_update_when="NOT t.impression_found AND s.impression_found",
    )


def _exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


# ---------------------------------------------------------------- gold
def run_gold(spark: SparkSession, lake: Lake, w: Window) -> LayerStats:
    start, end = w.event_start, w.end

    def silver_window(event_type: str, first: date) -> DataFrame:
        return read_window(spark, _silver_path(lake, event_type), "event_date", first, end)

    credits = gold.last_click_credits(
        silver_window("conversion", start),
        silver_window("click", start - timedelta(days=ATTRIBUTION_WINDOW_DAYS)),
    )
    impressions, clicks = silver_window("impression", start), silver_window("click", start)
    hourly = gold.campaign_hourly(impressions, clicks, credits).persist()
    daily = gold.rollup_daily(hourly)
    publishers = gold.publisher_daily(impressions, clicks, credits)
    replace_window(hourly, lake.table("gold", "campaign_hourly"), "event_date", start, end)
    replace_window(daily, lake.table("gold", "campaign_daily"), "event_date", start, end)
    replace_window(publishers, lake.table("gold", "publisher_daily"), "event_date", start, end)
    stats = LayerStats()
    window = {(d.isoformat(),) for d in w.event_dates()}
    for name in GOLD_TABLES:
        counts = delta_row_counts(lake, "gold", name, ("event_date",))
        stats.rows[name] = sum(n for day, n in counts.items() if day in window)
    hourly.unpersist()
    return stats
