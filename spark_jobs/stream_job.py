"""The streaming driver: `python -m spark_jobs.stream_job` (or spark-submit) runs the
counters query (Kafka -> contract parse -> dedup -> Redis, every TRIGGER) until stopped;
`--land` runs the lake landing once instead (spark_jobs/stream_landing.py), which Dagster
does on its own cadence. Settings come from the command line, read once here."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from spark_jobs.kafka_auth import KafkaAuth, spark_kafka_options
from spark_jobs.stream_layout import COUNTED_TOPICS, DRIVER_KEY, INCOMPLETE_KEY
from spark_jobs.stream_sink import CounterSink, reset_counters
from spark_jobs.streaming import deduplicated, kafka_lines, parse_events, report_rows

TRIGGER = "1 second"
# A burst is read in slices: each micro-batch stays short, so the counters keep moving
# while the lag drains (about 3 s of traffic at 100k events/s).
MAX_OFFSETS_PER_TRIGGER = 300_000
PROGRESS_LOG_SECONDS = 10
log = logging.getLogger("adlake.stream")


def kafka_source(
    spark: SparkSession,
    bootstrap: str,
    max_offsets: int | None = MAX_OFFSETS_PER_TRIGGER,
    topics: tuple[str, ...] = COUNTED_TOPICS,
    auth: KafkaAuth | None = None,
) -> DataFrame:
    """The stream's topics from their earliest retained offset (a new checkpoint); `auth`
    None: the environment's (spark_jobs/kafka_auth.py)."""
    reader = (
        spark.readStream.format("kafka")
        .options(**spark_kafka_options(bootstrap, auth))
        .option("subscribe", ",".join(topics))
        .option("startingOffsets", "earliest")
        # Offsets that retention removed before they were read are an error, not a skip.
        .option("failOnDataLoss", "true")
    )
    if max_offsets:
        reader = reader.option("maxOffsetsPerTrigger", str(max_offsets))
    return reader.load()


def start_counters(
    spark: SparkSession,
    bootstrap: str,
    redis_url: str,
    checkpoint: str,
    trigger: str = TRIGGER,
    max_offsets: int | None = MAX_OFFSETS_PER_TRIGGER,
    auth: KafkaAuth | None = None,
) -> StreamingQuery:
    # No batches without data: the dedup state is pruned by the next batch that has some,
    # and an idle stream costs nothing.
    spark.conf.set("spark.sql.streaming.noDataMicroBatches.enabled", "false")
    # The dedup state holds every event id of the last DEDUP_HORIZON (about a million at
    # 100k events/s): RocksDB updates it in place, where the default store copies it whole
    # every batch; the changelog makes a batch's commit write only what changed. Fixed
    # for a checkpoint at its first start.
    spark.conf.set(
        "spark.sql.streaming.stateStore.providerClass",
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
    )
    spark.conf.set("spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled", "true")
    # Counting the state's rows costs a read before every write (a fifth of the updates).
    spark.conf.set("spark.sql.streaming.stateStore.rocksdb.trackTotalNumberOfRows", "false")
    events = deduplicated(parse_events(kafka_lines(kafka_source(spark, bootstrap, max_offsets, auth=auth))))
    rows = report_rows(events)
    sink = CounterSink(redis_url, bootstrap, checkpoint, auth)
    return (
        rows.writeStream.queryName("adlake_counters")
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime=trigger)
        .foreachBatch(sink)
        .start()
    )


def _spark(driver_memory: str, jars: str | None) -> SparkSession:
    from spark_jobs.session import SparkSettings, build_spark

    jars = jars or str(Path.home() / ".cache/adlake/jars-current")
    # Few shuffle partitions: the dedup state is split this many ways for the query's life.
    return build_spark(
        SparkSettings(
            jars_dir=jars, driver_memory=driver_memory, shuffle_partitions=2, app_name="adlake-stream"
        )
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m spark_jobs.stream_job", description=__doc__)
    p.add_argument(
        "--kafka",
        default=os.environ.get("ADLAKE_KAFKA_BOOTSTRAP"),
        help="bootstrap servers, e.g. 127.0.0.1:9092 (default: $ADLAKE_KAFKA_BOOTSTRAP)",
    )
    # From the environment by default: a URL with a password must not show in `ps`.
    p.add_argument(
        "--redis",
        default=os.environ.get("ADLAKE_REDIS_URL"),
        help="e.g. redis://127.0.0.1:6379/0 (default: $ADLAKE_REDIS_URL)",
    )
    p.add_argument("--checkpoint", required=True, help="the counters query's checkpoint directory")
    p.add_argument("--trigger", default=TRIGGER)
    p.add_argument("--max-offsets", type=int, default=MAX_OFFSETS_PER_TRIGGER)
    p.add_argument("--driver-memory", default="2g")
    p.add_argument("--jars", default=os.environ.get("ADLAKE_SPARK_JARS_DIR"), help="Spark jars folder")
    a = p.parse_args(argv)
    if not a.redis:
        p.error("--redis or ADLAKE_REDIS_URL is required")
    if not a.kafka:
        p.error("--kafka or ADLAKE_KAFKA_BOOTSTRAP is required")
    # How to authenticate to the broker (ADLAKE_KAFKA_AUTH: MSK's IAM on AWS), read once.
    try:
        auth = KafkaAuth.from_env()
    except ValueError as ex:
        p.error(str(ex))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    if not (Path(a.checkpoint) / "offsets").exists():
        import redis

        n = reset_counters(redis.Redis.from_url(a.redis))
        log.info("new checkpoint: %d counter keys deleted, rebuilding from Kafka's earliest offsets", n)
    spark = _spark(a.driver_memory, a.jars)
    query = start_counters(spark, a.kafka, a.redis, a.checkpoint, a.trigger, a.max_offsets or None, auth)
    # SIGTERM (adlake stream down) stops the query; a batch it interrupts is replayed on the
    # next start, and the fence makes that replay change nothing.
    signal.signal(signal.SIGTERM, lambda *_: query.stop())
    _announce(a.redis, query)
    log.info("counters query %s started: %s -> %s", query.id, a.kafka, a.redis)
    seen = -1
    while not query.awaitTermination(PROGRESS_LOG_SECONDS):
        for p in query.recentProgress:
            if p["batchId"] > seen:
                seen = p["batchId"]
                _flag_dropped(a.redis, p)
                log.info(
                    "batch %d: %d rows in %d ms",
                    p["batchId"], p["numInputRows"], p["durationMs"].get("triggerExecution", 0),
                )  # fmt: skip
    return 0


def _announce(redis_url: str, query: StreamingQuery) -> None:
    """Tells `adlake stream status` (and whoever waits for the start) who runs the query."""
    import time

    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete(DRIVER_KEY)
    client.hset(
        DRIVER_KEY,
        mapping={"pid": os.getpid(), "query": str(query.id), "started_ms": int(time.time() * 1000)},
    )


def _flag_dropped(redis_url: str, progress: dict) -> None:
    """A record older than the dedup's watermark is dropped by Spark before the sink sees
    it (a partition far behind the others while a backlog drains): the counters are then
    marked incomplete, never silently low."""
    dropped = sum(op.get("numRowsDroppedByWatermark", 0) for op in progress.get("stateOperators", []))
    if dropped:
        import redis

        client = redis.Redis.from_url(redis_url)
        client.hsetnx(INCOMPLETE_KEY, "reason", f"{dropped} records dropped by the dedup watermark")
        client.hsetnx(INCOMPLETE_KEY, "since_batch", progress["batchId"])
        log.warning("batch %d: %d records dropped by the watermark", progress["batchId"], dropped)


if __name__ == "__main__":
    sys.exit(main())
