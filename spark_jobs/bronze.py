"""Bronze: raw JSON lines -> typed rows with ingest metadata, or quarantine rows with the
raw line and the reason. Nothing is dropped: lines in = bronze rows + quarantine rows."""

from __future__ import annotations

from datetime import date

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.contracts import RAW_FIELDS, TIMESTAMP_FORMAT, Field, top_level_keys
from spark_jobs.lake import Lake

RAW_LINE_SCHEMA = (
    "value string, _source_file string, arrival_date date, arrival_hour int, _line_number bigint"
)
# Where a line came from; every bronze and quarantine row carries it.
LINE_ORIGIN: tuple[str, ...] = ("arrival_date", "arrival_hour", "_source_file", "_line_number")
_ROW_IN_PARTITION = (1 << 33) - 1  # monotonically_increasing_id = partition << 33 | row


def read_raw_lines(spark: SparkSession, lake: Lake, event_type: str, dates: list[date]) -> DataFrame:
    """Lines of the raw files of these arrival dates, with file, date, hour and line number.

    Line numbers rely on one file per input partition (session.py sets the split sizes so),
    which also matches gzip: a gzip file cannot be split."""
    base = lake.raw_dir(event_type)
    days = ",".join(d.isoformat() for d in dates)
    try:
        df = spark.read.option("basePath", base).text(f"{base}/dt={{{days}}}/hour=*/*.jsonl.gz")
    except AnalysisException as e:
        if "PATH_NOT_FOUND" in str(e) or "Path does not exist" in str(e):
            return spark.createDataFrame([], RAW_LINE_SCHEMA)
        raise
    return df.select(
        "value",
        F.col("_metadata.file_path").alias("_source_file"),
        F.col("dt").cast("date").alias("arrival_date"),
        F.col("hour").cast("int").alias("arrival_hour"),
        (F.monotonically_increasing_id().bitwiseAND(F.lit(_ROW_IN_PARTITION)) + 1).alias("_line_number"),
    )


def _map_col(prefix: str) -> str:
    return "_m" if not prefix else "_m__" + prefix.replace(".", "__")


def _raw_value(f: Field) -> Column:
    parent, _, key = f.json_path.rpartition(".")
    return F.col(_map_col(parent))[key]


def _typed(f: Field, raw: Column) -> Column:
    if f.dtype == "timestamp":
        return F.try_to_timestamp(raw, F.lit(TIMESTAMP_FORMAT))
    return raw.try_cast(f.dtype)


def parse_lines(lines: DataFrame, event_type: str) -> DataFrame:
    """Typed contract columns, `extra_json` (unknown fields) and `_reason` (null = valid).

    One JSON parse per line into a string map: a value of the wrong type then shows as a
    present raw value whose typed cast is null, and unknown keys stay available."""
    fields = RAW_FIELDS[event_type]
    df = lines.withColumn("_m", F.from_json("value", "map<string,string>"))
    prefixes = sorted(  # every enclosing object of a nested path: device, device.geo
        {
            ".".join(parts[:i])
            for f in fields
            for parts in [f.json_path.split(".")]
            for i in range(1, len(parts))
        },
        key=lambda p: p.count("."),
    )
    for prefix in prefixes:  # nested objects, parents first: device, then device.geo
        parent, _, key = prefix.rpartition(".")
        df = df.withColumn(_map_col(prefix), F.from_json(F.col(_map_col(parent))[key], "map<string,string>"))

    problems: list[Column] = [
        F.when(F.col("_m")["event_type"] != F.lit(event_type), F.lit("wrong_event_type"))
    ]
    typed_cols: list[Column] = []
    for f in fields:
        raw = _raw_value(f)
        typed = _typed(f, raw)
        if f.required:
            problems.append(F.when(raw.isNull(), F.lit(f"missing:{f.name}")))
        problems.append(F.when(raw.isNotNull() & typed.isNull(), F.lit(f"bad_type:{f.name}")))
        typed_cols.append(typed.alias(f.name))
    listed = F.concat_ws("; ", *problems)
    reason = F.when(F.col("_m").isNull(), F.lit("malformed_json")).when(listed != "", listed)

    known = sorted(top_level_keys(event_type))
    extra = F.map_filter("_m", lambda k, _v: ~k.isin(known))
    extra_json = F.when(F.size(extra) > 0, F.to_json(extra))
    return df.select(
        "value",
        *typed_cols,
        extra_json.alias("extra_json"),
        reason.alias("_reason"),
        *LINE_ORIGIN,
    )


def bronze_rows(parsed: DataFrame, event_type: str, ingest_ts: Column, batch_id: str) -> DataFrame:
    names = [f.name for f in RAW_FIELDS[event_type]]
    return parsed.where(F.col("_reason").isNull()).select(
        *names,
        "extra_json",
        *LINE_ORIGIN,
        ingest_ts.alias("_ingest_ts"),
        F.lit(batch_id).alias("_batch_id"),
    )


def quarantine_rows(parsed: DataFrame, event_type: str, ingest_ts: Column, batch_id: str) -> DataFrame:
    return parsed.where(F.col("_reason").isNotNull()).select(
        F.lit(event_type).alias("event_type"),
        F.col("value").alias("raw_line"),
        F.col("_reason").alias("reason"),
        *LINE_ORIGIN,
        ingest_ts.alias("_ingest_ts"),
        F.lit(batch_id).alias("_batch_id"),
    )
