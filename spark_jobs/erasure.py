"""Erasure in the Delta tables (docs/privacy.md, "Erasure"): delete a set of users' rows,
keep line numbers true to the rewritten raw files, purge and VACUUM so that no readable
version holds them, and rescan every file of every table for them.

The users' ids and pseudonyms reach Spark as DataFrames, never as SQL literals: a
literal would be written into the Delta log's commitInfo (the operation's predicate),
which no VACUUM removes.

A table's rows are erased in one commit tagged with the request (commitInfo
userMetadata): a rerun of an interrupted request skips the tables already done, so the
line renumbering, which is not idempotent, is applied once."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import reduce
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from prediction.features import FEATURES_LAYER, STATS_TABLE
from spark_jobs.delta_io import table_properties
from spark_jobs.lake import Lake
from spark_jobs.lake_read import open_table, table_exists
from spark_jobs.layers import BRONZE, GOLD, QUARANTINE_TABLE, SILVER
from spark_jobs.privacy_scan import RAW_ID_TABLES
from spark_jobs.segment_rules import AUDIENCE_TABLES

PRIVACY = "privacy"  # the lake's folder for the erasure log
ERASURE_LOG = "erasure_log"
REMOVED_LINES_SCHEMA = "_source_file string, removed_line bigint"
_TAG_CONF = "spark.databricks.delta.commitInfo.userMetadata"


@dataclass(frozen=True)
class ErasableTable:
    """A table holding users' rows: matched by `column` (a raw id or a pseudonym) and, for
    tables whose rows come from raw lines, by the lines removed from the raw files."""

    layer: str
    name: str
    column: str  # user_id, user_pid, or raw_line (searched for the quoted id)
    has_lines: bool  # carries _source_file/_line_number
    holds: str = ""  # what `column` holds when its name does not say: user_pid, user_id

    @property
    def subject(self) -> str:
        """The kind of value matched: the key of the subjects' frames."""
        return self.holds or self.column

    @property
    def label(self) -> str:
        return f"{self.layer}.{self.name}"


ERASABLE: tuple[ErasableTable, ...] = (
    *[ErasableTable(BRONZE, n, "user_id", True) for n in RAW_ID_TABLES],
    ErasableTable(*QUARANTINE_TABLE, "raw_line", True),
    *[ErasableTable(SILVER, n, "user_pid", True) for n in RAW_ID_TABLES],
    *[ErasableTable(GOLD, n, "user_pid", False) for n in AUDIENCE_TABLES],
    # The CTR model's user counts, keyed by pseudonym (prediction/features.py USER); the
    # training set holds none, and Redis's snapshot is republished without them.
    ErasableTable(FEATURES_LAYER, STATS_TABLE, "key", False, holds="user_pid"),
)


def values_frame(spark: SparkSession, values: Iterable[str]) -> DataFrame:
    return spark.createDataFrame([(v,) for v in sorted(set(values))], "value string")


def event_dates(spark: SparkSession, lake: Lake, pids: DataFrame) -> tuple[date, date] | None:
    """First and last event date of these pseudonyms' rows in silver, or None."""
    dated = [
        spark.read.format("delta")
        .load(lake.table(SILVER, n))
        .join(pids.hint("broadcast"), F.col("user_pid") == F.col("value"), "left_semi")
        .select("event_date")
        for n in RAW_ID_TABLES
        if table_exists(lake, SILVER, n)
    ]
    if not dated:
        return None
    r = reduce(DataFrame.unionByName, dated).agg(F.min("event_date"), F.max("event_date")).first()
    return (r[0], r[1]) if r[0] else None


def subject_rows(spark: SparkSession, lake: Lake, table: ErasableTable, subjects: DataFrame) -> DataFrame:
    """The rows of `table` that belong to the subjects (`subjects`: values of table.column;
    for raw_line, the quoted ids it may hold)."""
    target = spark.read.format("delta").load(lake.table(table.layer, table.name))
    s = subjects.hint("broadcast")
    if table.column == "raw_line":
        return target.join(s, F.instr(F.col("raw_line"), F.col("value")) > 0, "left_semi")
    return target.join(s, F.col(table.column) == F.col("value"), "left_semi")


def count_subject_rows(spark: SparkSession, lake: Lake, subjects: dict[str, DataFrame]) -> int:
    """Rows of every erasable table that belong to the subjects, in one Spark job
    (`subjects`: per matching column, the values to match)."""
    counts = [
        subject_rows(spark, lake, t, subjects[t.subject]).select(F.lit(1).alias("one"))
        for t in ERASABLE
        if table_exists(lake, t.layer, t.name)
    ]
    return reduce(DataFrame.unionByName, counts).count() if counts else 0


def already_erased(lake: Lake, table: ErasableTable, tag: str) -> bool:
    """Whether the table's history has the commit tagged `tag`."""
    history = open_table(lake, table.layer, table.name).history(100)
    return any(h.get("userMetadata") == tag for h in history)


@contextmanager
def _tagged(spark: SparkSession, tag: str):
    spark.conf.set(_TAG_CONF, tag)
    try:
        yield
    finally:
        spark.conf.unset(_TAG_CONF)


def erase_rows(
    spark: SparkSession,
    lake: Lake,
    table: ErasableTable,
    subjects: DataFrame,
    removed_lines: DataFrame,
    tag: str,
) -> int | None:
    """One commit, tagged `tag`: delete the subjects' rows (`subjects`: the values of
    table.column to match, quoted ids for raw_line) and the rows of removed raw lines,
    and move the line numbers of the rows after them up. Rows deleted, or None when the
    tagged commit exists already."""
    if not table_exists(lake, table.layer, table.name):
        return 0
    if already_erased(lake, table, tag):
        return None
    path = lake.table(table.layer, table.name)
    target = spark.read.format("delta").load(path)
    mine = subject_rows(spark, lake, table, subjects)
    with _tagged(spark, tag):
        if not table.has_lines:
            return _merge_delete(spark, path, mine.select(table.column), [table.column])
        return _erase_and_renumber(spark, path, target, mine, removed_lines)


def _merge_delete(spark: SparkSession, path: str, keys: DataFrame, columns: list[str]) -> int:
    on = " AND ".join(f"t.{c} = s.{c}" for c in columns)
    metrics = (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(keys.distinct().alias("s"), on)
        .whenMatchedDelete()
        .execute()
        .first()
    )
    return int(metrics["num_deleted_rows"])


def _erase_and_renumber(
    spark: SparkSession, path: str, target: DataFrame, mine: DataFrame, removed_lines: DataFrame
) -> int:
    """Rows keyed by (_source_file, _line_number): the subjects' and the removed lines'
    are deleted; a row after removed lines of its file moves up by their number."""
    key = ["_source_file", "_line_number"]
    removed = removed_lines.withColumnRenamed("_source_file", "_file").hint("broadcast")
    lines = target.select(*key)
    at_removed = lines.join(
        removed,
        (F.col("_source_file") == F.col("_file")) & (F.col("_line_number") == F.col("removed_line")),
        "left_semi",
    )
    erase = mine.select(*key).unionByName(at_removed).distinct()
    shifted = (
        lines.join(
            removed,
            (F.col("_source_file") == F.col("_file")) & (F.col("removed_line") < F.col("_line_number")),
        )
        .groupBy(*key)
        .agg(F.count("*").alias("shift"))
        .join(erase, key, "left_anti")
    )
    source = erase.select(*key, F.lit(True).alias("erase"), F.lit(None).cast("bigint").alias("new_line"))
    source = source.unionByName(
        shifted.select(
            *key, F.lit(False).alias("erase"), (F.col("_line_number") - F.col("shift")).alias("new_line")
        )
    )
    metrics = (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(source.alias("s"), "t._source_file = s._source_file AND t._line_number = s._line_number")
        .whenMatchedDelete(condition="s.erase")
        .whenMatchedUpdate(condition="NOT s.erase", set={"_line_number": "s.new_line"})
        .execute()
        .first()
    )
    return int(metrics["num_deleted_rows"])


# ---------------------------------------------------------------- purge and VACUUM
@dataclass(frozen=True)
class Vacuumed:
    files_deleted: int
    versions_unreadable: int  # earlier versions whose files are gone: time travel ends


def purge_and_vacuum(
    spark: SparkSession, lake: Lake, layer: str, name: str, log: Callable[[str], None]
) -> Vacuumed:
    """Rewrite files with deletion vectors (their deleted rows are still in the file),
    then VACUUM with no retention, so that only the current version's files remain.

    The VACUUM is delta-rs's full one (every file on storage that the current version does
    not use, orphans of killed writes too): a second a table where Spark's takes twenty
    here. Delta refuses a retention under 7 days unless told otherwise; delta-rs is told so
    for this call only (`enforce_retention_duration=False`), and it is logged."""
    readable_before = _readable_versions(lake, layer, name)
    if "deletionVectors" in (open_table(lake, layer, name).protocol().reader_features or []):
        spark.sql(f"REORG TABLE delta.`{lake.table(layer, name)}` APPLY (PURGE)")
    log(f"VACUUM {layer}.{name} retaining 0 hours (retention check off for this call)")
    deleted = open_table(lake, layer, name).vacuum(
        retention_hours=0, dry_run=False, enforce_retention_duration=False, full=True
    )
    return Vacuumed(len(deleted), len(readable_before - _readable_versions(lake, layer, name)))


def _readable_versions(lake: Lake, layer: str, name: str) -> set[int]:
    """The versions of the table that can still be read (all their data files exist)."""
    from deltalake import DeltaTable as RsTable  # delta-rs: a version's file list without Spark
    from deltalake.exceptions import DeltaError

    present = set(_files(lake, layer, name)[0])
    latest = open_table(lake, layer, name).version()
    uri, options = lake.delta_rs_uri(layer, name), lake.delta_rs_storage_options()
    readable = set()
    for v in range(latest + 1):
        try:
            files = RsTable(uri, version=v, storage_options=options).file_uris()
        except DeltaError:  # its log entry is gone (log retention): it cannot be read
            continue
        if all(unquote(f.split("://", 1)[-1]) in present for f in files):
            readable.add(v)
    return readable


# ---------------------------------------------------------------- the Delta log
_LOG_FILE = re.compile(r"^(\d{20})\.(json|crc|checkpoint.*\.parquet)$")


def compact_log(spark: SparkSession, lake: Lake, layer: str, name: str) -> int:
    """Drop the table's log before its current version; the log files deleted.

    For a table created before NO_STATS_COLUMNS, whose old commits keep per-file min/max
    of an id column: those commits describe files VACUUM already deleted, so no reader
    can use them. The statistics policy is set for what comes next, a checkpoint of the
    current version is written (delta-rs), and the log files before it are deleted, as
    Delta's own log cleanup does once they expire. The checkpoint holds the current
    files' statistics only, and no current file holds an erased user."""
    path = lake.table(layer, name)
    table = open_table(lake, layer, name)
    wanted = table_properties(
        spark.read.format("delta").load(path).schema, tuple(table.metadata().partition_columns)
    )
    for k, v in wanted.items():
        if table.metadata().configuration.get(k) != v:
            spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('{k}' = '{v}')")
    table = open_table(lake, layer, name)
    table.create_checkpoint()
    current = table.version()
    fs, base = lake.arrow_fs()
    deleted = 0
    for info in fs.get_file_info(pafs.FileSelector(f"{base}/{layer}/{name}/_delta_log")):
        m = _LOG_FILE.match(info.base_name)
        if info.is_file and m and int(m.group(1)) < current:
            fs.delete_file(info.path)
            deleted += 1
    return deleted


# ---------------------------------------------------------------- rescans
def delta_tables(lake: Lake) -> list[tuple[str, str]]:
    """(layer, name) of every Delta table in the lake."""
    fs, base = lake.arrow_fs()
    out = []
    for layer in fs.get_file_info(pafs.FileSelector(base, allow_not_found=True)):
        if layer.type != pafs.FileType.Directory or layer.base_name == "raw":
            continue
        for t in fs.get_file_info(pafs.FileSelector(layer.path, allow_not_found=True)):
            if fs.get_file_info(f"{t.path}/_delta_log").type == pafs.FileType.Directory:
                out.append((layer.base_name, t.base_name))
    return sorted(out)


def _files(lake: Lake, layer: str, name: str) -> tuple[list[str], list[str]]:
    """(every parquet data file, every log file) of a table, current or not: paths in the
    lake's Arrow filesystem."""
    fs, base = lake.arrow_fs()
    root = f"{base}/{layer}/{name}"
    data, log = [], []
    for i in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        if not i.is_file:
            continue
        if "/_delta_log/" in i.path:
            log.append(i.path)
        elif i.path.endswith(".parquet"):
            data.append(i.path)
    return data, log


def data_file_mentions(
    lake: Lake, tables: list[tuple[str, str]], marks: list[str]
) -> dict[tuple[str, str], int]:
    """{(table, column): rows holding any of marks}, over every data file on storage, so
    every version that can still be read, and rows that deletion vectors hide. Read with
    Arrow, string columns only, one regex pass per column."""
    fs, _ = lake.arrow_fs()
    pattern = "|".join(re.escape(m) for m in marks)
    found: Counter = Counter()
    for layer, name in tables:
        data, _ = _files(lake, layer, name)
        for path in data:
            f = pq.ParquetFile(path, filesystem=fs)
            columns = [
                c.name
                for c in f.schema_arrow
                if pa.types.is_string(c.type) or pa.types.is_large_string(c.type)
            ]
            if not columns:
                continue
            t = f.read(columns=columns)
            for c in columns:
                n = pc.sum(pc.match_substring_regex(t[c], pattern)).as_py() or 0
                if n:
                    found[(f"{layer}.{name}", c)] += n
    return dict(found)


def log_mentions(lake: Lake, tables: list[tuple[str, str]], marks: list[str]) -> dict[str, int]:
    """{table: files of its Delta log (commits, checkpoints, checksums) holding any of marks}."""
    fs, _ = lake.arrow_fs()
    needles = [m.encode() for m in marks]
    found: dict[str, int] = {}
    for layer, name in tables:
        _, log = _files(lake, layer, name)
        hits = 0
        for path in log:
            if path.endswith(".parquet"):  # a checkpoint: compressed, so read as rows
                text = json.dumps(pq.read_table(path, filesystem=fs).to_pylist(), default=str).encode()
            else:
                with fs.open_input_stream(path, compression=None) as f:
                    text = f.read()
            hits += any(n in text for n in needles)
        if hits:
            found[f"{layer}.{name}"] = hits
    return found
