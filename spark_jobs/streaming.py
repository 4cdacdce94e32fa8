"""The real-time path's transformations (docs/streaming.md): Kafka records -> contract
parse -> dedup -> counter increments per 10-second window. Pure functions over DataFrames,
the same ones for a streaming query and for a static frame in the unit tests; the IO (the
Kafka source, Redis, the dead-letter topic) lives in stream_sink.py and stream_job.py.

Times: `kafka_ts` is the broker's append time (the topics use LogAppendTime), so it is
the event's arrival; `event_ts` is the event's own time, from the line."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.bronze import parse_lines
from spark_jobs.contracts import RAW_FIELDS
from spark_jobs.stream_layout import COUNTED_TYPES, DEDUP_HORIZON, LIVE_LATENESS, WINDOW_SECONDS, topic

KAFKA_META = ("topic", "partition", "offset", "kafka_ts")
# What the counters and the dead-letter topic need from any event type; a type without
# a field has it null (a click has no channel, an impression no value).
EVENT_COLUMNS: dict[str, str] = {
    "event_id": "string",
    "event_ts": "timestamp",
    "campaign_id": "string",
    "channel": "string",
    "advertiser_id": "string",
    "cost_micros": "bigint",
    "value_micros": "bigint",
    "ivt": "string",
    "is_test": "boolean",
}
WINDOW, LATE, LATENCY, DEAD = "window", "late", "latency", "dead_letter"
LATENCY_BUCKET_MS = 10  # kafka_ts is grouped this finely before the latency is computed
_US = 1_000_000


def kafka_lines(records: DataFrame) -> DataFrame:
    """Kafka records (the source's columns) as raw lines with bronze's origin columns: the
    arrival date and hour of the record, `topic/partition` as the source and the offset as
    the line number."""
    return records.select(
        F.col("value").cast("string").alias("value"),
        "topic",
        "partition",
        "offset",
        F.col("timestamp").alias("kafka_ts"),
        F.to_date("timestamp").alias("arrival_date"),
        F.hour("timestamp").alias("arrival_hour"),
        F.concat_ws("/", "topic", "partition").alias("_source_file"),
        F.col("offset").alias("_line_number"),
    )


def parse_events(lines: DataFrame) -> DataFrame:
    """Every line of the counted topics parsed by its topic's contract (bronze's
    parse_lines, one definition): `event_type`, EVENT_COLUMNS, `_reason` (null = valid),
    the raw `value` and KAFKA_META."""
    parts = []
    for event_type in COUNTED_TYPES:
        parsed = parse_lines(lines.where(F.col("topic") == topic(event_type)), event_type, KAFKA_META)
        names = {f.name for f in RAW_FIELDS[event_type]}
        parts.append(
            parsed.select(
                F.lit(event_type).alias("event_type"),
                *[
                    (F.col(c) if c in names else F.lit(None)).cast(t).alias(c)
                    for c, t in EVENT_COLUMNS.items()
                ],
                "_reason",
                "value",
                *KAFKA_META,
            )
        )
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


def deduplicated(lines: DataFrame) -> DataFrame:
    """Drops resends from kafka_lines: the same event_id on the same topic within
    DEDUP_HORIZON of arrival time. The watermark is on arrival (kafka_ts), which only moves
    forward, so no record is ever dropped as late here: lateness is judged per event by
    `is_live`. A line without a readable event_id is its own key (it fails the contract
    and goes to the dead-letter topic).

    Runs on the raw lines, before parsing: the streaming part of the query stays one scan
    of Kafka and one JSON path; the contract parse runs on each micro-batch (parse_events
    on a static frame, stream_sink.py)."""
    event_id = F.get_json_object("value", "$.event_id")
    key = F.when(event_id.isNotNull(), F.concat_ws(":", F.col("topic"), event_id)).otherwise(
        F.concat_ws("/", "topic", "partition", "offset")
    )
    keyed = lines.withColumn("_dedup_key", key)
    if not lines.isStreaming:  # a static frame (tests, a replay): keep each key's first arrival
        first = Window.partitionBy("_dedup_key").orderBy("kafka_ts", "topic", "partition", "offset")
        keyed = keyed.withColumn("_n", F.row_number().over(first))
        return keyed.where("_n = 1").drop("_dedup_key", "_n")
    horizon = f"{int(DEDUP_HORIZON.total_seconds())} seconds"
    return (
        keyed.withWatermark("kafka_ts", horizon)
        .dropDuplicatesWithinWatermark(["_dedup_key"])
        .drop("_dedup_key")
    )


def is_valid_traffic() -> Column:
    """What the counters count: not invalid traffic, not test (a conversion has no ivt)."""
    return (F.coalesce(F.col("ivt"), F.lit("none")) == "none") & ~F.coalesce(F.col("is_test"), F.lit(False))


def is_live() -> Column:
    """Arrived within LIVE_LATENESS of its event time: goes to the windows, else counted late."""
    lateness_us = F.unix_micros("kafka_ts") - F.unix_micros("event_ts")
    return lateness_us <= F.lit(int(LIVE_LATENESS.total_seconds() * _US))


def _measure(scope: str, key: str, field: str, value: Column) -> Column:
    return F.struct(
        F.lit(scope).alias("scope"),
        F.col(key).alias("key"),
        F.lit(field).alias("field"),
        value.cast("bigint").alias("value"),
    )


def counter_increments(events: DataFrame) -> DataFrame:
    """One micro-batch's increments: (kind, window_start, day, scope, key, field, value).

    kind `window`: a 10-second event-time window (window_start in epoch seconds); `late`:
    the events past LIVE_LATENESS, per event date (window_start null). Valid contract rows
    and valid traffic only. Per campaign: impressions, clicks, spend; per channel:
    impressions, spend; per advertiser: conversions, revenue."""
    imp = F.col("event_type") == "impression"
    clk = F.col("event_type") == "click"
    conv = F.col("event_type") == "conversion"
    zero = F.lit(0)
    measures = F.array(
        _measure("campaign", "campaign_id", "impressions", imp.cast("int")),
        _measure("campaign", "campaign_id", "clicks", clk.cast("int")),
        _measure(
            "campaign", "campaign_id", "spend_micros", F.when(imp, F.col("cost_micros")).otherwise(zero)
        ),
        _measure("channel", "channel", "impressions", imp.cast("int")),
        _measure("channel", "channel", "spend_micros", F.when(imp, F.col("cost_micros")).otherwise(zero)),
        _measure("advertiser", "advertiser_id", "conversions", conv.cast("int")),
        _measure(
            "advertiser",
            "advertiser_id",
            "revenue_micros",
            F.when(conv, F.col("value_micros")).otherwise(zero),
        ),
    )
    live = is_live()
    window_start = F.floor(F.unix_seconds("event_ts") / WINDOW_SECONDS) * WINDOW_SECONDS
    rows = events.where(F.col("_reason").isNull() & is_valid_traffic()).select(
        F.when(live, F.lit(WINDOW)).otherwise(F.lit(LATE)).alias("kind"),
        F.when(live, window_start).cast("bigint").alias("window_start"),
        F.date_format("event_ts", "yyyy-MM-dd").alias("day"),
        F.explode(measures).alias("m"),
    )
    return (
        rows.where(F.col("m.key").isNotNull() & (F.col("m.value") != 0))
        .groupBy("kind", "window_start", "day", "m.scope", "m.key", "m.field")
        .agg(F.sum("m.value").cast("bigint").alias("value"))
    )


def batch_summary(events: DataFrame) -> DataFrame:
    """The rest of what a micro-batch reports, in the same shape as counter_increments so
    that one job collects both: contract failures (kind `dead_letter`, per event type) and
    arrivals per LATENCY_BUCKET_MS of kafka_ts (kind `latency`, bucket in window_start)."""
    bucket = F.floor(F.unix_millis("kafka_ts") / LATENCY_BUCKET_MS) * LATENCY_BUCKET_MS
    dead = events.where(F.col("_reason").isNotNull()).groupBy("event_type").count()
    dead = dead.select(
        F.lit(DEAD).alias("kind"),
        F.lit(None).cast("bigint").alias("window_start"),
        F.lit(None).cast("string").alias("day"),
        F.lit("event_type").alias("scope"),
        F.col("event_type").alias("key"),
        F.lit("lines").alias("field"),
        F.col("count").alias("value"),
    )
    arrivals = events.where(F.col("_reason").isNull()).groupBy(bucket.alias("b")).count()
    arrivals = arrivals.select(
        F.lit(LATENCY).alias("kind"),
        F.col("b").cast("bigint").alias("window_start"),
        F.lit(None).cast("string").alias("day"),
        F.lit("all").alias("scope"),
        F.lit("all").alias("key"),
        F.lit("events").alias("field"),
        F.col("count").alias("value"),
    )
    return dead.unionByName(arrivals)


def dead_letters(events: DataFrame) -> DataFrame:
    """Lines that failed the contract, as dead-letter records: keyed by where they were
    read (topic/partition/offset, so a consumer can drop the copy a replayed batch sends
    again), the value a JSON object with the reason and the line as it came."""
    bad = events.where(F.col("_reason").isNotNull())
    return bad.select(
        F.concat_ws("/", "topic", "partition", "offset").alias("key"),
        F.to_json(
            F.struct(
                "topic",
                "partition",
                "offset",
                F.date_format("kafka_ts", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX").alias("kafka_ts"),
                F.col("_reason").alias("reason"),
                F.col("value").alias("line"),
            )
        ).alias("value"),
    )
