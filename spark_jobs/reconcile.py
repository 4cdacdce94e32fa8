"""Reconciliation between layers, per partition window: each function returns one row
per (table, date) with both sides and `ok`.

- raw -> bronze: raw lines = bronze rows + quarantined rows (per arrival date). Raw lines
  are counted straight from the decompressed files, not by the Spark job that parsed them
  (an unreadable file counts as the one quarantine row it becomes); table rows come from
  the Delta log read by delta-rs, a second engine that does not trust the writer's own
  bookkeeping.
- bronze -> silver: silver rows = distinct event ids in bronze (per event date).
- silver -> gold: gold impressions, clicks and spend = the valid silver events; gold
  conversions <= valid orders; every gold table that declares `adds_up_to_daily` (the
  registry, spark_jobs/gold_tables.py) adds up to the daily one."""

from __future__ import annotations

from collections import Counter

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.delta_io import read_rewritten, read_window
from spark_jobs.gold_tables import DAILY, GOLD_TABLES, ROLLUPS, GoldTable
from spark_jobs.lake import Lake
from spark_jobs.lake_read import delta_row_counts
from spark_jobs.layers import (
    ARRIVAL_DATE,
    BRONZE,
    EVENT_DATE,
    GOLD,
    QUARANTINE_TABLE,
    SILVER,
    ArrivalWindow,
    date_column,
)
from spark_jobs.raw_files import inspect_raw_files
from spark_jobs.silver import with_event_time

# The gold metrics that silver counts exactly (valid impressions, their cost, valid clicks);
# conversions are credited orders, so at most the valid orders, and revenue follows them.
SILVER_COUNTED = ("impressions", "clicks", "spend_micros")


def raw_line_counts(lake: Lake, w: ArrivalWindow) -> Counter:
    """(event_type, arrival date) -> lines in the readable raw files (decompressed and
    counted outside Spark, see raw_files.py), plus one per file that cannot be read
    (quarantined whole)."""
    out: Counter = Counter()
    for event_type in EVENT_TYPES:
        files = inspect_raw_files(lake, event_type, w.arrival_dates())
        for day, n in files.lines.items():
            out[(event_type, day.isoformat())] += n
        for f in files.unreadable:
            out[(event_type, f.arrival_date.isoformat())] += 1
    return out


def raw_vs_bronze(lake: Lake, w: ArrivalWindow) -> list[dict]:
    """Per event type and arrival date: raw lines, bronze rows, quarantined rows, ok."""
    raw = raw_line_counts(lake, w)
    quarantined = delta_row_counts(lake, *QUARANTINE_TABLE, ("event_type", ARRIVAL_DATE))
    days = {d.isoformat() for d in w.arrival_dates()}
    rows = []
    for event_type in EVENT_TYPES:
        loaded = delta_row_counts(lake, BRONZE, TABLE_NAMES[event_type], (ARRIVAL_DATE,))
        for day in sorted(days):
            r, b, q = raw[(event_type, day)], loaded[(day,)], quarantined[(event_type, day)]
            if r or b or q:
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


def aggregates_by_date(df: DataFrame, date_col: str, **aggs: Column) -> dict[str, dict[str, int]]:
    rows = df.groupBy(date_col).agg(*[c.alias(n) for n, c in aggs.items()]).collect()
    return {r[date_col].isoformat(): {n: int(r[n] or 0) for n in aggs} for r in rows}


def bronze_vs_silver_table(
    spark: SparkSession, lake: Lake, w: ArrivalWindow, event_type: str, silver: DataFrame | None = None
) -> list[dict]:
    """Per event date of the window: distinct event ids in bronze (arrived by the window's
    end) and silver rows whose first arrival is by the window's end. `silver` is the
    table's window when the caller holds it already (cached), else it is read."""
    table = TABLE_NAMES[event_type]
    # Events of the window's dates arrive at most LATENESS_DAYS later, so from event_start.
    bronze = with_event_time(
        read_window(spark, lake.table(BRONZE, table), date_column(BRONZE), w.event_start, w.end)
    ).where(F.col(EVENT_DATE) >= F.lit(w.event_start))
    if silver is None:
        silver = read_rewritten(spark, lake, SILVER, table, w)
    b = aggregates_by_date(bronze, EVENT_DATE, n=F.countDistinct("event_id"))
    s = aggregates_by_date(silver.where(F.col(ARRIVAL_DATE) <= F.lit(w.end)), EVENT_DATE, n=F.count("*"))
    rows = []
    for day in sorted(b.keys() | s.keys()):
        nb, ns = b.get(day, {}).get("n", 0), s.get(day, {}).get("n", 0)
        rows.append({"table": table, "event_date": day, "bronze_ids": nb, "silver_rows": ns, "ok": nb == ns})
    return rows


def bronze_vs_silver(spark: SparkSession, lake: Lake, w: ArrivalWindow) -> list[dict]:
    """bronze_vs_silver_table for every event type."""
    return [row for t in EVENT_TYPES for row in bronze_vs_silver_table(spark, lake, w, t)]


def gold_sums_by_date(
    spark: SparkSession, lake: Lake, table: GoldTable, w: ArrivalWindow
) -> dict[str, dict[str, int]]:
    """Event date -> the sum of each additive metric of a gold table, over the event dates
    the window rewrote."""
    df = read_window(spark, lake.table(GOLD, table.name), table.date_column, *w.dates(GOLD))
    return aggregates_by_date(df, table.date_column, **{m: F.sum(m) for m in table.metrics})


def silver_vs_gold(spark: SparkSession, lake: Lake, w: ArrivalWindow) -> list[dict]:
    """Per event date of the window: gold sums against the valid silver events."""

    def window(layer: str, name: str) -> DataFrame:
        return read_rewritten(spark, lake, layer, name, w)

    imp = aggregates_by_date(
        window(SILVER, "impressions").where("is_valid"),
        EVENT_DATE,
        impressions=F.count("*"),
        spend_micros=F.sum("cost_micros"),
    )
    clk = aggregates_by_date(window(SILVER, "clicks").where("is_valid"), EVENT_DATE, clicks=F.count("*"))
    orders = aggregates_by_date(
        window(SILVER, "conversions").where("is_valid"), EVENT_DATE, orders=F.countDistinct("order_id")
    )
    # The daily table and the tables that must add up to it (the others have no such metrics).
    gold = {t.name: gold_sums_by_date(spark, lake, t, w) for t in (GOLD_TABLES[DAILY], *ROLLUPS)}
    rows = []
    for day in sorted(imp.keys() | clk.keys() | orders.keys() | gold[DAILY].keys()):
        daily = gold[DAILY].get(day, dict.fromkeys(GOLD_TABLES[DAILY].metrics, 0))
        silver = {**imp.get(day, {}), **clk.get(day, {})}
        problems = [
            f"{m}: gold {daily[m]} != silver {silver.get(m, 0)}"
            for m in SILVER_COUNTED
            if daily[m] != silver.get(m, 0)
        ]
        valid_orders = orders.get(day, {}).get("orders", 0)
        if daily["conversions"] > valid_orders:
            problems.append(f"conversions: gold {daily['conversions']} > valid orders {valid_orders}")
        rollups = {}
        for table in ROLLUPS:
            other = gold[table.name].get(day, dict.fromkeys(table.metrics, 0))
            rollups[table.name] = [
                f"{m}: {other[m]} != {DAILY} {daily[m]}" for m in table.metrics if other[m] != daily[m]
            ]
        rows.append(
            {
                "event_date": day,
                **daily,
                "valid_orders": valid_orders,
                "problems": problems,
                "rollup_problems": rollups,
                "ok": not problems and not any(rollups.values()),
            }
        )
    return rows
