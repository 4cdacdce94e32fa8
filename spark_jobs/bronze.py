"""Bronze: raw JSON lines -> typed rows with ingest metadata, or quarantine rows with the
raw line and the reason; a file that cannot be read at all becomes one quarantine row.
Nothing is dropped: lines in = bronze rows + quarantine rows."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from spark_jobs.contracts import RAW_FIELDS, TIMESTAMP_FORMAT, Field, top_level_keys
from spark_jobs.lake import Lake
from spark_jobs.raw_files import UnreadableFile
from spark_jobs.spark_json import MAX_TIMESTAMP_YEAR

RAW_LINE_SCHEMA = (
    "value string, _source_file string, arrival_date date, arrival_hour int, _line_number bigint"
)
# Where a line came from; every bronze and quarantine row carries it.
LINE_ORIGIN: tuple[str, ...] = ("arrival_date", "arrival_hour", "_source_file", "_line_number")
_ROW_IN_PARTITION = (1 << 33) - 1  # monotonically_increasing_id = partition << 33 | row
_CORRUPT = "_corrupt_record"


def read_raw_lines(spark: SparkSession, lake: Lake, event_type: str, paths: list[str]) -> DataFrame:
    """Lines of these raw files (the readable ones of a window, see raw_files.py), with
    file, arrival date and hour, and line number.

    Line numbers rely on one file per input partition (session.py sets the split sizes so),
    which also matches gzip: a gzip file cannot be split."""
    if not paths:
        return spark.createDataFrame([], RAW_LINE_SCHEMA)
    df = spark.read.option("basePath", lake.raw_dir(event_type)).text(paths)
    return df.select(
        "value",
        F.col("_metadata.file_path").alias("_source_file"),
        F.col("dt").cast("date").alias("arrival_date"),
        F.col("hour").cast("int").alias("arrival_hour"),
        (F.monotonically_increasing_id().bitwiseAND(F.lit(_ROW_IN_PARTITION)) + 1).alias("_line_number"),
    )


def string_schema(event_type: str) -> StructType:
    """The contract as a JSON schema whose leaves are all strings, nested objects as structs.

    Spark's JSON reader turns any scalar into a string for a string field, so a value of
    the wrong type never nulls the record: it shows as a present raw value whose typed cast
    fails, and each field's problem is reported on its own."""
    tree: dict = {}
    for f in RAW_FIELDS[event_type]:
        *parents, leaf = f.json_path.split(".")
        node = tree
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = None

    def build(node: dict) -> StructType:
        return StructType([StructField(k, StringType() if v is None else build(v)) for k, v in node.items()])

    root = build(tree)
    return StructType(
        [*root.fields, StructField("event_type", StringType()), StructField(_CORRUPT, StringType())]
    )


def _typed(f: Field, raw: Column) -> Column:
    if f.dtype == "timestamp":
        # Only a signed year can be long enough to overflow (see MAX_TIMESTAMP_YEAR); the
        # sign test first keeps the regex off the usual, unsigned, timestamps.
        signed_year = F.regexp_extract(raw, r"^[+-]([0-9]{6,})-", 1)
        year = signed_year.try_cast("decimal(38,0)")
        too_far = (
            (raw.startswith("+") | raw.startswith("-"))
            & (F.length(signed_year) > 0)
            & (year.isNull() | (year >= MAX_TIMESTAMP_YEAR))  # null: more digits than a decimal holds
        )
        # A null raw gives null either way.
        return F.when(~too_far, F.try_to_timestamp(raw, F.lit(TIMESTAMP_FORMAT)))
    return raw.try_cast(f.dtype)


@dataclass(frozen=True)
class ContractColumns:
    """A line judged by its event type's contract, as columns over the parsed struct."""

    typed: dict[str, Column]  # contract field -> typed value (null where absent or uncastable)
    reason: Column  # null = valid; else why, e.g. "missing:campaign_id; bad_type:is_test"
    extra_json: Column  # unknown top-level fields as a JSON object, null when there are none


def parsed_struct(event_type: str, value: Column) -> Column:
    """The line parsed against the contract's all-string schema (see string_schema)."""
    return F.from_json(value, string_schema(event_type), {"columnNameOfCorruptRecord": _CORRUPT})


def contract_columns(event_type: str, value: Column, s: Column) -> ContractColumns:
    """The contract's verdict on a line `value` whose parsed_struct is the column `s`.
    Column expressions only: bronze applies them to a file's lines (parse_lines), the
    stream to each topic's records in one projection (spark_jobs/streaming.py)."""
    fields = RAW_FIELDS[event_type]
    # (condition, problem) pairs; a null condition is no problem.
    checks: list[tuple[Column, str]] = [(s["event_type"] != F.lit(event_type), "wrong_event_type")]
    typed: dict[str, Column] = {}
    for f in fields:
        raw = s
        for part in f.json_path.split("."):
            raw = raw[part]
        value_typed = _typed(f, raw)
        if f.required:
            checks.append((raw.isNull(), f"missing:{f.name}"))
        checks.append((raw.isNotNull() & value_typed.isNull(), f"bad_type:{f.name}"))
        typed[f.name] = value_typed
    # The list of problems is built only for a line that has one: one OR over booleans per
    # line, where concatenating ~40 optional strings for every valid line was most of the
    # contract check's cost (docs/streaming.md, "Where the time goes").
    any_problem = F.lit(False)
    for cond, _ in checks:
        any_problem = any_problem | F.coalesce(cond, F.lit(False))
    listed = F.concat_ws("; ", *[F.when(cond, F.lit(problem)) for cond, problem in checks])

    # Top-level keys: null when the line is not a JSON object at all.
    keys = F.json_object_keys(value)
    corrupt = s.isNull() | s[_CORRUPT].isNotNull()
    reason = (
        F.when(keys.isNull(), F.lit("malformed_json"))
        # Valid JSON whose nested objects do not have the contract's shape.
        .when(corrupt, F.lit("schema_mismatch"))
        .when(any_problem, listed)
    )
    # Unknown fields are rare: the second parse runs only for lines that have them.
    known = F.array(*[F.lit(k) for k in sorted(top_level_keys(event_type))])
    unknown = F.array_except(keys, known)
    extra = F.map_filter(F.from_json(value, "map<string,string>"), lambda k, _v: F.array_contains(unknown, k))
    extra_json = F.when(F.size(unknown) > 0, F.to_json(extra))
    return ContractColumns(typed, reason, extra_json)


def parse_lines(lines: DataFrame, event_type: str, keep: tuple[str, ...] = ()) -> DataFrame:
    """Typed contract columns, `extra_json` (unknown fields) and `_reason` (null = valid),
    with the line's origin and the `keep` columns of `lines`."""
    df = lines.withColumn("_s", parsed_struct(event_type, F.col("value")))
    c = contract_columns(event_type, F.col("value"), F.col("_s"))
    return df.select(
        "value",
        *[col.alias(name) for name, col in c.typed.items()],
        c.extra_json.alias("extra_json"),
        c.reason.alias("_reason"),
        *LINE_ORIGIN,
        *keep,
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


def unreadable_file_rows(
    spark: SparkSession, files: list[UnreadableFile], event_type: str, ingest_ts: Column, batch_id: str
) -> DataFrame:
    """One quarantine row per raw file that could not be read at all (no raw line, no line
    number: the reason says what was wrong with the file)."""
    rows = [(event_type, None, f.reason, f.arrival_date, f.arrival_hour, f.source_file, None) for f in files]
    schema = (
        "event_type string, raw_line string, reason string, arrival_date date, arrival_hour int, "
        "_source_file string, _line_number bigint"
    )
    return spark.createDataFrame(rows, schema).select(
        "*", ingest_ts.alias("_ingest_ts"), F.lit(batch_id).alias("_batch_id")
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


def unknown_field_counts(bronze: DataFrame) -> dict[str, int]:
    """Unknown field -> bronze rows that carried it (kept in extra_json)."""
    keys = bronze.where("extra_json IS NOT NULL").select(
        F.explode(F.json_object_keys("extra_json")).alias("k")
    )
    return {r["k"]: r["count"] for r in keys.groupBy("k").count().collect()}
