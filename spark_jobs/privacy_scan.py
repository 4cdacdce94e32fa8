"""Searching tables for personal identifiers: the leak check (no raw user id past bronze).
Pure DataFrame functions: the caller reads the tables and decides which identifiers to
look for (docs/privacy.md). The erasure's rescan reads every file on storage instead,
with Arrow (spark_jobs/erasure.py).

Every string column of every table becomes one (table, column, value) row, and one
semi-join against the identifiers finds them all: one Spark job, however many tables.
What is reported is where an identifier was found and how often, never the identifier."""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from spark_jobs.contracts import RAW_FIELDS, TABLE_NAMES

# The bronze tables holding raw user ids, by table name: every event type whose contract
# has `user_id`.
RAW_ID_TABLES: tuple[str, ...] = tuple(
    TABLE_NAMES[t] for t, fields in RAW_FIELDS.items() if any(f.name == "user_id" for f in fields)
)
HAYSTACK_SCHEMA = "table string, column string, value string"


def string_values(table: str, df: DataFrame) -> DataFrame:
    """(table, column, value): the distinct non-null values of every string column of df."""
    columns = [f.name for f in df.schema.fields if isinstance(f.dataType, StringType)]
    if not columns:
        return df.sparkSession.createDataFrame([], HAYSTACK_SCHEMA)
    pairs = F.array(*[F.struct(F.lit(c).alias("column"), F.col(c).alias("value")) for c in columns])
    return (
        df.select(F.explode(pairs).alias("p"))
        .select(F.lit(table).alias("table"), "p.column", "p.value")
        .where(F.col("value").isNotNull())
        .distinct()
    )


def identifiers(frames: list[DataFrame], column: str = "user_id") -> DataFrame:
    """The distinct non-null values of `column` across frames, as one column `value`."""
    values = [df.select(F.col(column).alias("value")) for df in frames]
    return reduce(DataFrame.unionByName, values).where(F.col("value").isNotNull()).distinct()


def find(haystack: list[DataFrame], needles: DataFrame) -> dict[tuple[str, str], int]:
    """{(table, column): how many distinct identifiers of `needles` appear there}."""
    if not haystack:
        return {}
    everything = reduce(DataFrame.unionByName, haystack)
    found = everything.join(needles, "value", "left_semi")
    return {
        (r["table"], r["column"]): r["n"]
        for r in found.groupBy("table", "column").agg(F.count("*").alias("n")).collect()
    }
