"""The real-time path's transformations (docs/streaming.md): Kafka records -> contract
parse -> dedup -> counter increments per 10-second window. Pure functions over DataFrames,
the same ones for a streaming query and for a static frame in the unit tests; the IO (the
Kafka source, Redis, the dead-letter topic) lives in stream_sink.py and stream_job.py.

Times: `kafka_ts` is the broker's append time (the topics use LogAppendTime), so it is
the event's arrival; `event_ts` is the event's own time, from the line."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.bronze import contract_columns, parsed_struct
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
WINDOW, LATE, LATENCY, DEAD, DEAD_LINE = "window", "late", "latency", "dead_letter", "dead_line"
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
    """Each line of the counted topics judged by its topic's contract (bronze's
    contract_columns, one definition), in one projection (no union: one scan of the
    source): `event_type`, EVENT_COLUMNS, `_reason` (null = valid), `value`, KAFKA_META."""
    topic_col = F.col("topic")
    df = lines.withColumns(
        {f"_s_{t}": F.when(topic_col == topic(t), parsed_struct(t, F.col("value"))) for t in COUNTED_TYPES}
    )
    judged = {t: contract_columns(t, F.col("value"), F.col(f"_s_{t}")) for t in COUNTED_TYPES}

    def by_topic(pick) -> Column:
        out = None
        for t in COUNTED_TYPES:
            value = pick(t)
            if value is not None:
                out = (
                    F.when(topic_col == topic(t), value)
                    if out is None
                    else out.when(topic_col == topic(t), value)
                )
        return out if out is not None else F.lit(None)

    columns = {
        "event_type": by_topic(F.lit),
        **{
            name: by_topic(lambda t, name=name: judged[t].typed.get(name)).cast(dtype)
            for name, dtype in EVENT_COLUMNS.items()
        },
        "_reason": by_topic(lambda t: judged[t].reason),
    }
    # The raw line is kept for the dead-letter record only: a valid event does not carry it on.
    line = F.when(columns["_reason"].isNotNull(), F.col("value")).alias("value")
    return df.select(*[c.alias(n) for n, c in columns.items()], line, *KAFKA_META)


def deduplicated(events: DataFrame) -> DataFrame:
    """Drops resends from parse_events: the same event_id of an event type within
    DEDUP_HORIZON of arrival time. The watermark is on arrival (kafka_ts), which only moves
    forward, so no record is ever dropped as late here: lateness is judged per event by
    `is_live`. A line that fails the contract is its own key (it goes to the dead-letter
    topic). Runs after the parse, on its narrow columns: the shuffle into the dedup state
    then carries a few fields per event rather than the whole line."""
    key = F.when(F.col("_reason").isNull(), F.concat_ws(":", "event_type", "event_id")).otherwise(
        F.concat_ws("/", "topic", "partition", "offset")
    )
    keyed = events.withColumn("_dedup_key", key)
    if not events.isStreaming:  # a static frame (tests, a replay): keep each key's first arrival
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


REPORT_KEY = ("kind", "window_start", "day", "scope", "key", "field")
_ROW_TYPE = "kind:string,window_start:bigint,day:string,scope:string,key:string,field:string,value:bigint"


def _row(
    kind: Column | str,
    window_start: Column | None,
    day: Column | None,
    scope: str,
    key: Column,
    field: Column | str,
    value: Column,
) -> Column:
    def lit(v: Column | str | None) -> Column:
        return F.lit(v) if v is None or isinstance(v, str) else v

    return F.struct(
        lit(kind).alias("kind"),
        lit(window_start).cast("bigint").alias("window_start"),
        lit(day).cast("string").alias("day"),
        F.lit(scope).alias("scope"),
        key.cast("string").alias("key"),
        lit(field).alias("field"),
        value.cast("bigint").alias("value"),
    )


def report_rows(events: DataFrame) -> DataFrame:
    """What each event reports, as (kind, window_start, day, scope, key, field, value) rows,
    summed per micro-batch by `summed`. Stateless: part of the streaming plan, which Spark
    plans in the JVM once per batch (building these expressions from Python each batch
    took about a second):

    - `window`: counters of a 10-second event-time window (window_start in epoch seconds)
      per campaign (impressions, clicks, spend), channel (impressions, spend) and
      advertiser (conversions, revenue); valid contract rows and valid traffic only;
    - `late`: the same for events past LIVE_LATENESS, per event date (no window);
    - `latency`: valid rows per LATENCY_BUCKET_MS of arrival (bucket in window_start);
    - `dead_letter`: per event type, the lines that failed the contract; `dead_line`: each
      of them (key topic/partition/offset, field the dead-letter record as JSON)."""
    imp = F.col("event_type") == "impression"
    clk = F.col("event_type") == "click"
    conv = F.col("event_type") == "conversion"
    ok = F.col("_reason").isNull()
    counted = ok & is_valid_traffic()
    live = is_live()
    kind = F.when(live, F.lit(WINDOW)).otherwise(F.lit(LATE))
    ws = F.when(live, F.floor(F.unix_seconds("event_ts") / WINDOW_SECONDS) * WINDOW_SECONDS)
    day = F.date_format("event_ts", "yyyy-MM-dd")
    one = F.lit(1)

    def counter(scope: str, key: str, field: str, value: Column) -> Column:
        return _row(kind, ws, day, scope, F.col(key), field, value)

    # Only the counters an event type feeds: fewer rows to sum.
    counters = (
        F.when(
            imp,
            F.array(
                counter("campaign", "campaign_id", "impressions", one),
                counter("campaign", "campaign_id", "spend_micros", F.col("cost_micros")),
                counter("channel", "channel", "impressions", one),
                counter("channel", "channel", "spend_micros", F.col("cost_micros")),
            ),
        )
        .when(clk, F.array(counter("campaign", "campaign_id", "clicks", one)))
        .when(
            conv,
            F.array(
                counter("advertiser", "advertiser_id", "conversions", one),
                counter("advertiser", "advertiser_id", "revenue_micros", F.col("value_micros")),
            ),
        )
    )
    bucket = F.floor(F.unix_millis("kafka_ts") / LATENCY_BUCKET_MS) * LATENCY_BUCKET_MS
    latency = F.array(_row(LATENCY, bucket, None, "all", F.lit("all"), "events", one))
    dead = F.array(
        _row(DEAD, None, None, "event_type", F.col("event_type"), "lines", one),
        _row(
            DEAD_LINE,
            None,
            None,
            "line",
            F.concat_ws("/", "topic", "partition", "offset"),
            _dead_record(),
            one,
        ),
    )
    empty = F.array().cast(f"array<struct<{_ROW_TYPE}>>")
    rows = events.select(
        F.explode(
            F.concat(
                F.when(counted, F.coalesce(counters, empty)).otherwise(empty),
                F.when(ok, latency).otherwise(empty),
                F.when(~ok, dead).otherwise(empty),
            )
        ).alias("r")
    ).select("r.*")
    return rows.where(F.col("key").isNotNull() & (F.col("value") != 0))


def summed(rows: DataFrame) -> DataFrame:
    """report_rows summed per (kind, window_start, day, scope, key, field): a micro-batch's
    report, small enough to collect."""
    return rows.groupBy(*REPORT_KEY).agg(F.sum("value").cast("bigint").alias("value"))


def batch_rows(events: DataFrame) -> DataFrame:
    """The report of a static frame of parsed events (tests, a replay)."""
    return summed(report_rows(events))


def _dead_record() -> Column:
    """The dead-letter record of a line: where it was read, why it failed, the line."""
    return F.to_json(
        F.struct(
            "topic",
            "partition",
            "offset",
            F.date_format("kafka_ts", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX").alias("kafka_ts"),
            F.col("_reason").alias("reason"),
            F.col("value").alias("line"),
        )
    )
