"""The layer jobs: read a window, transform with the pure functions, write idempotently.
A window is a range of arrival dates [start, end]; downstream of bronze the tables are
keyed by event date, so a window rewrites event dates [start - LATENESS_DAYS, end].

Called by the Dagster assets (ad_assets/defs); no Dagster imports here, so any Spark
driver can call them too."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs import bronze, gold, silver
from spark_jobs.contracts import ATTRIBUTION_WINDOW_DAYS, EVENT_TYPES, LATENESS_DAYS, TABLE_NAMES
from spark_jobs.delta_io import (
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


# ---------------------------------------------------------------- bronze
def run_bronze(spark: SparkSession, lake: Lake, w: Window, batch_id: str) -> LayerStats:
    stats = LayerStats()
    ingest_ts = F.current_timestamp()
    # Raw files are one input partition each; writing them as-is would make one small
    # Delta file per raw file (5x slower to write and read back). Line numbers are already
    # fixed in the cached parse, so coalescing the writes is safe.
    files_per_write = spark.sparkContext.defaultParallelism
    for event_type in EVENT_TYPES:
        files = inspect_raw_files(lake, event_type, w.arrival_dates())
        lines = bronze.read_raw_lines(spark, lake, event_type, files.readable)
        parsed = bronze.parse_lines(lines, event_type).persist()
        counts = {
            (r["arrival_date"].isoformat(), r["ok"]): r["n"]
            for r in parsed.groupBy("arrival_date", F.col("_reason").isNull().alias("ok"))
            .agg(F.count("*").alias("n"))
            .collect()
        }
        replace_window(
            bronze.bronze_rows(parsed, event_type, ingest_ts, batch_id).coalesce(files_per_write),
            lake.table("bronze", TABLE_NAMES[event_type]),
            "arrival_date",
            w.start,
            w.end,
        )
        quarantine = bronze.quarantine_rows(parsed, event_type, ingest_ts, batch_id).unionByName(
            bronze.unreadable_file_rows(spark, files.unreadable, event_type, ingest_ts, batch_id)
        )
        replace_where(
            quarantine.coalesce(1),
            lake.table(*QUARANTINE_TABLE),
            f"event_type = '{event_type}' AND {window_predicate('arrival_date', w.start, w.end)}",
            ("event_type", "arrival_date"),
        )
        parsed.unpersist()
        ok = sum(n for (_, good), n in counts.items() if good)
        bad_lines = sum(n for (_, good), n in counts.items() if not good)
        stats.rows[TABLE_NAMES[event_type]] = ok
        stats.detail[event_type] = {
            "raw_lines": ok + bad_lines,
            "bronze_rows": ok,
            "quarantined": bad_lines + len(files.unreadable),  # an unreadable file is one row
            "unreadable_files": [f.source_file for f in files.unreadable],
        }
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
    for name in GOLD_TABLES:
        stats.rows[name] = read_window(spark, lake.table("gold", name), "event_date", start, end).count()
    hourly.unpersist()
    return stats
