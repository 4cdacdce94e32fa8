"""Great Expectations suites for bronze and silver, built from the data contract.

One definition: the required fields, their types and the accepted values come from
`contracts.py`, so a field added there is checked here without another edit. Suites run
on the Spark DataFrame of the partition's window through an ephemeral (in-memory,
offline) GX context; the result keeps each failed expectation with sample values."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import ProgressBarsConfig
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.contracts import (
    AD_FORMATS,
    CHANNELS,
    CONV_TYPES,
    DEVICE_TYPES,
    IVT_VALUES,
    LOSS_REASONS,
    MAX_LATENESS,
    OPERATING_SYSTEMS,
    RAW_FIELDS,
    TABLE_NAMES,
)

LAYERS = ("bronze", "silver")

# Columns whose values come from a closed vocabulary.
ACCEPTED_VALUES: dict[str, tuple] = {
    "channel": CHANNELS,
    "ad_format": AD_FORMATS,
    "device_type": DEVICE_TYPES,
    "os": OPERATING_SYSTEMS,
    "ivt": IVT_VALUES,
    "conv_type": CONV_TYPES,
    "loss_reason": tuple(LOSS_REASONS),
}
NON_NEGATIVE: tuple[str, ...] = (
    "cost_micros",
    "value_micros",
    "bidfloor_cpm",
    "bid_price_cpm",
    "clear_price_cpm",
)
# GX names Spark types by their class.
_SPARK_TYPE = {
    "string": "StringType",
    "bigint": "LongType",
    "int": "IntegerType",
    "double": "DoubleType",
    "boolean": "BooleanType",
    "timestamp": "TimestampType",
}
# An event is written to the hour folder of its arrival, at most MAX_LATENESS after it
# happened; one hour of slack for the folder's own width and clock skew.
ARRIVAL_DELAY = "_arrival_delay_s"
ARRIVAL_DELAY_BOUNDS = (-3600, int(MAX_LATENESS.total_seconds()))
SILVER_COLUMNS: dict[str, str] = {"event_date": "DateType", "event_hour": "IntegerType"}
SAMPLE_SIZE = 5


def suite_name(layer: str, event_type: str) -> str:
    return f"{layer}_{TABLE_NAMES[event_type]}"


def ephemeral_context() -> AbstractDataContext:
    """An in-memory GX context: no project files, no network, no usage statistics."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def build_suite(
    layer: str, event_type: str, context: AbstractDataContext | None = None
) -> gx.ExpectationSuite:
    """The contract of one table in one layer as a GX suite (in `context`, or a new one)."""
    if layer not in LAYERS:
        raise ValueError(f"no suite for layer {layer!r}; expected one of {LAYERS}")
    context = context or ephemeral_context()
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name(layer, event_type)))
    fields = RAW_FIELDS[event_type]
    columns = {f.name for f in fields}
    if layer == "silver":
        columns.discard("user_id")  # replaced by its pseudonym
    for f in fields:
        if f.name not in columns:
            continue
        suite.add_expectation(gxe.ExpectColumnValuesToBeOfType(column=f.name, type_=_SPARK_TYPE[f.dtype]))
        if f.required:
            suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=f.name))
    for column in sorted(columns & ACCEPTED_VALUES.keys()):
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(ACCEPTED_VALUES[column]))
        )
    for column in sorted(columns & set(NON_NEGATIVE)):
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0))
    low, high = ARRIVAL_DELAY_BOUNDS
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(column=ARRIVAL_DELAY, min_value=low, max_value=high)
    )
    if layer == "silver":
        suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column="event_id"))
        for column, type_ in SILVER_COLUMNS.items():
            suite.add_expectation(gxe.ExpectColumnValuesToBeOfType(column=column, type_=type_))
            suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column))
        if "user_id" in {f.name for f in fields}:
            suite.add_expectation(gxe.ExpectColumnToExist(column="user_pid"))
            suite.add_expectation(gxe.ExpectColumnToExist(column="key_version"))
    return suite


def with_arrival_delay(df: DataFrame) -> DataFrame:
    """Seconds from the event to the start of the hour folder it arrived in."""
    arrival = F.to_timestamp(
        F.concat_ws(
            " ", F.col("arrival_date").cast("string"), F.lpad(F.col("arrival_hour").cast("string"), 2, "0")
        ),
        "yyyy-MM-dd HH",
    )
    return df.withColumn(ARRIVAL_DELAY, F.unix_timestamp(arrival) - F.unix_timestamp("event_ts"))


@dataclass
class SuiteOutcome:
    suite: str
    evaluated: int
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failed


def _failure(result: Any) -> dict[str, Any]:
    config = result.expectation_config
    detail = result.result or {}
    out: dict[str, Any] = {"expectation": config.type, "column": config.kwargs.get("column")}
    for key in ("unexpected_count", "unexpected_percent", "observed_value"):
        if detail.get(key) is not None:
            out[key] = detail[key]
    sample = detail.get("partial_unexpected_list")
    if sample:
        out["sample"] = [str(v) for v in sample[:SAMPLE_SIZE]]
    if result.exception_info and result.exception_info.get("raised_exception"):
        out["error"] = str(result.exception_info.get("exception_message"))[:300]
    return out


# One GX context, data source, asset and suite per table for the process: building them
# is pure Python (about 0.5 s a table, mostly the suite's expectations), the same each time.
_lock = threading.Lock()


@functools.cache
def _context() -> AbstractDataContext:
    return ephemeral_context()


@functools.cache
def _prepared(layer: str, event_type: str) -> tuple[Any, gx.ExpectationSuite]:
    """(batch definition, suite) of one table, in the process's context."""
    context = _context()
    name = suite_name(layer, event_type)
    sources = {ds.name: ds for ds in context.data_sources.all().values()}
    source = sources.get(layer) or context.data_sources.add_spark(layer, persist=False)
    definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("window")
    return definition, build_suite(layer, event_type, context)


def validate(df: DataFrame, layer: str, event_type: str) -> SuiteOutcome:
    """Run the table's suite on `df` (the partition's window) and summarise it.

    A first pass asks only pass/fail (GX computes no samples, the cheap path on Spark);
    the expectations that failed run again with counts and sample values."""
    with _lock:
        definition, suite = _prepared(layer, event_type)
        batch = definition.get_batch(batch_parameters={"dataframe": with_arrival_delay(df)})
        first = batch.validate(suite, result_format="BOOLEAN_ONLY")
        failed = [r.expectation_config for r in first.results if not r.success]
        outcome = SuiteOutcome(suite=suite.name, evaluated=len(first.results))
        if failed:
            # Only what failed, again, with counts and samples.
            detail = gx.ExpectationSuite(name=f"{suite.name}_failed")
            for config in failed:
                detail.add_expectation_configuration(config)
            result = batch.validate(
                detail,
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
            )
            outcome.failed = [_failure(r) for r in result.results]
    return outcome
