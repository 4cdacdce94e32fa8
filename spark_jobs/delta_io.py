"""Idempotent Delta Lake writes with Spark: replace a window of partitions, or MERGE on ids
keeping the first arrival. Running the same window twice leaves the table content
unchanged. Reading windows back with Spark lives here too; reading with delta-rs (no
Spark) is spark_jobs/lake_read.py."""

from __future__ import annotations

from datetime import date

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    DateType,
    NumericType,
    StringType,
    StructType,
    TimestampNTZType,
    TimestampType,
)

from spark_jobs.lake import Lake
from spark_jobs.layers import DATE_COLUMN, SILVER, ArrivalWindow, date_column

# Arrival order of a line: the first arrival of a resent event is the one kept.
ARRIVAL_ORDER: tuple[str, ...] = ("arrival_date", "arrival_hour", "_source_file", "_line_number")


# Columns that hold personal identifiers or raw log lines. Delta writes every file's
# min/max per column into its log, which no VACUUM removes: these columns get no
# statistics, so an erased user's id cannot survive in the log (docs/privacy.md,
# "Erasure"). Random ids are useless for file skipping anyway.
NO_STATS_COLUMNS: frozenset[str] = frozenset({"user_id", "user_pid", "raw_line"})
_STATS_TYPES = (DateType, NumericType, StringType, TimestampNTZType, TimestampType)
_MAX_STATS_COLUMNS = 32  # Delta's default number of indexed columns


def table_properties(schema: StructType, partition_cols: tuple[str, ...]) -> dict[str, str]:
    """Properties for a new table: where it has a NO_STATS_COLUMNS column, statistics only
    on its other columns (Delta's default otherwise: the first 32)."""
    names = {f.name for f in schema.fields}
    if not names & NO_STATS_COLUMNS:
        return {}
    kept = [
        f.name
        for f in schema.fields
        if f.name not in NO_STATS_COLUMNS
        and f.name not in partition_cols
        and isinstance(f.dataType, _STATS_TYPES)
    ]
    return {"delta.dataSkippingStatsColumns": ",".join(kept[:_MAX_STATS_COLUMNS])}


def window_predicate(column: str, start: date, end: date) -> str:
    return f"{column} >= '{start.isoformat()}' AND {column} <= '{end.isoformat()}'"


def replace_where(df: DataFrame, path: str, predicate: str, partition_cols: tuple[str, ...]) -> None:
    """Atomically replace the rows matching `predicate` with df (one commit). Delta checks
    that every row of df matches the predicate, so a write cannot spill outside it."""
    (
        df.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", predicate)
        .options(**table_properties(df.schema, partition_cols))  # used when it creates the table
        .partitionBy(*partition_cols)
        .save(path)
    )


def replace_window(df: DataFrame, path: str, partition_col: str, start: date, end: date) -> None:
    """Atomically replace the partitions [start, end] of the table with df."""
    replace_where(df, path, window_predicate(partition_col, start, end), (partition_col,))


def ensure_table(spark: SparkSession, path: str, schema: StructType, partition_col: str) -> None:
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    builder = builder.partitionedBy(partition_col)
    for k, v in table_properties(schema, (partition_col,)).items():
        builder = builder.property(k, v)
    builder.execute()


def merge_first_arrival(
    spark: SparkSession,
    path: str,
    batch: DataFrame,
    partition_col: str = DATE_COLUMN[SILVER],
    key: str = "event_id",
    also_update_when: str | None = None,
) -> dict[str, int]:
    """Upsert `batch` (one row per key) keyed by `key`: new keys are inserted, an existing
    key is replaced only by an earlier arrival (or when `also_update_when` holds).
    Returns the merge's row counts (source, inserted, updated)."""
    if not DeltaTable.isDeltaTable(spark, path):  # a look for _delta_log, no snapshot load
        ensure_table(spark, path, batch.schema, partition_col)
    # The batch is used three times (its dates, the files it touches, the write): computed
    # once (deduplication and pseudonyms are the costly part), then read from the cache.
    batch = batch.persist()
    try:
        return _merge(spark, path, batch, partition_col, key, also_update_when)
    finally:
        batch.unpersist()


def _merge(
    spark: SparkSession,
    path: str,
    batch: DataFrame,
    partition_col: str,
    key: str,
    also_update_when: str | None,
) -> dict[str, int]:
    # Its first action fills the batch's cache: rows per date, for the pruning predicate.
    per_date = {r[0]: r[1] for r in batch.groupBy(partition_col).count().collect()}
    if not per_date:
        return {"source": 0, "inserted": 0, "updated": 0}
    in_dates = ", ".join(f"'{d.isoformat()}'" for d in per_date)
    s_order = ", ".join(f"s.{c}" for c in ARRIVAL_ORDER)
    t_order = ", ".join(f"t.{c}" for c in ARRIVAL_ORDER)
    update_when = f"struct({s_order}) < struct({t_order})"
    if also_update_when:
        update_when = f"({update_when}) OR ({also_update_when})"
    metrics = (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(
            batch.alias("s"),
            # The partition predicate lets Delta prune files to the batch's event dates.
            f"t.{key} = s.{key} AND t.{partition_col} = s.{partition_col} "
            f"AND t.{partition_col} IN ({in_dates})",
        )
        .whenMatchedUpdateAll(condition=update_when)
        .whenNotMatchedInsertAll()
        # A column added to silver (e.g. clicks gaining publisher_id) joins the table
        # instead of failing the merge; earlier rows read it as NULL.
        .withSchemaEvolution()
        .execute()  # its metrics, as one local row: no job, no read of the table's history
        .first()
    )
    return {
        "source": sum(per_date.values()),
        "inserted": int(metrics["num_inserted_rows"]),
        "updated": int(metrics["num_updated_rows"]),
    }


def read_window(spark: SparkSession, path: str, partition_col: str, start: date, end: date) -> DataFrame:
    return spark.read.format("delta").load(path).where(window_predicate(partition_col, start, end))


def read_rewritten(spark: SparkSession, lake: Lake, layer: str, name: str, w: ArrivalWindow) -> DataFrame:
    """The partitions of table `layer`/`name` that window `w` rewrites (its arrival dates
    in bronze, its event dates in silver and gold)."""
    return read_window(spark, lake.table(layer, name), date_column(layer), *w.dates(layer))
