"""Reconciliation between layers: nothing is lost between raw and bronze.

Raw lines are counted by Spark straight from the files (no parsing; an unreadable file
counts as the one quarantine row it becomes); table rows come from
the Delta log that delta-rs reads (row counts per committed file), a second engine that
does not trust the writer's own bookkeeping."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
from deltalake import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.delta_io import read_window
from spark_jobs.lake import Lake
from spark_jobs.pipeline import QUARANTINE_TABLE, Window
from spark_jobs.raw_files import inspect_raw_files

_RAW_PATH = r"/raw/([a-z_]+)/dt=(\d{4}-\d{2}-\d{2})/"


def raw_line_counts(spark: SparkSession, lake: Lake, w: Window) -> Counter:
    """(event_type, arrival date) -> lines in the readable raw files, counted by Spark for
    every event type at once, plus one per file that cannot be read (quarantined whole)."""
    out: Counter = Counter()
    readable: list[str] = []
    for event_type in EVENT_TYPES:
        files = inspect_raw_files(lake, event_type, w.arrival_dates())
        readable += files.readable
        for f in files.unreadable:
            out[(event_type, f.arrival_date.isoformat())] += 1
    if not readable:
        return out
    path = F.col("_metadata.file_path")
    counts = (
        spark.read.text(readable)
        .groupBy(
            F.regexp_extract(path, _RAW_PATH, 1).alias("t"), F.regexp_extract(path, _RAW_PATH, 2).alias("d")
        )
        .count()
    )
    out.update({(r["t"], r["d"]): r["count"] for r in counts.collect()})
    return out


def delta_row_counts(lake: Lake, layer: str, name: str, group_by: tuple[str, ...]) -> Counter:
    """Rows per partition value(s) of a Delta table, from its log's add actions (delta-rs)."""
    dt = DeltaTable(lake.delta_rs_uri(layer, name), storage_options=lake.delta_rs_storage_options())
    actions = pa.table(dt.get_add_actions(flatten=True))
    out: Counter = Counter()
    cols = [actions[f"partition.{c}"].to_pylist() for c in group_by]
    for n, *key in zip(actions["num_records"].to_pylist(), *cols, strict=True):
        out[tuple(str(k) for k in key)] += n
    return out


def raw_vs_bronze(spark: SparkSession, lake: Lake, w: Window) -> list[dict]:
    """Per event type and arrival date: raw lines, bronze rows, quarantined rows, ok."""
    raw = raw_line_counts(spark, lake, w)
    quarantined = delta_row_counts(lake, *QUARANTINE_TABLE, ("event_type", "arrival_date"))
    days = {d.isoformat() for d in w.arrival_dates()}
    rows = []
    for event_type in EVENT_TYPES:
        loaded = delta_row_counts(lake, "bronze", TABLE_NAMES[event_type], ("arrival_date",))
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


def duplicate_keys(spark: SparkSession, path: str, w: Window, key: str = "event_id") -> int:
    """Number of keys that occur more than once in the event-date window of a silver table."""
    df = read_window(spark, path, "event_date", w.event_start, w.end)
    return df.groupBy(key).count().where(F.col("count") > 1).count()
