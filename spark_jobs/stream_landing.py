"""The lake landing: every Kafka record written, as it came, into the raw layout the batch
reads (raw/<event_type>/dt=<arrival date>/hour=<HH>/*.jsonl.gz, arrival = the broker's
append time), exactly once across restarts.

A micro-batch's offsets are fixed in the query's checkpoint before it runs, so a replayed
batch carries the same records. Its files get names from the batch id
(`stream-<query>-b<batch>-<n>.jsonl.gz`): the batch is written to a staging folder, the files a
failed attempt may have moved already are deleted, and the new ones are moved in. The
batch layers then read them like any delivered file; lines that fail the contract reach
bronze's quarantine with their reason, as they would from any sender.

Run with `trigger(availableNow=True)`: everything up to now, then stop (the Dagster asset
`raw_stream_landing` does this on its own cadence, see docs/streaming.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow.fs as pafs
from isal import igzip
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.kafka_auth import KafkaAuth
from spark_jobs.lake import Lake
from spark_jobs.raw_files import count_lines
from spark_jobs.stream_job import kafka_source
from spark_jobs.stream_layout import TOPIC_PREFIX, TOPICS
from spark_jobs.stream_sink import query_id

STAGING = "_stream_staging"  # under the lake root, outside raw/: the batch never reads it
_PREFIX = "stream-b"


def landing_lines(records: DataFrame) -> DataFrame:
    """Kafka records -> (value, event_type, dt, hour) by the record's append time."""
    return records.select(
        F.col("value").cast("string").alias("value"),
        F.regexp_replace("topic", "^" + re.escape(TOPIC_PREFIX), "").alias("event_type"),
        F.date_format("timestamp", "yyyy-MM-dd").alias("dt"),
        F.date_format("timestamp", "HH").alias("hour"),
    )


def batch_prefix(query: str, batch_id: int) -> str:
    """Names of one batch's files: the query's id (kept in its checkpoint) and the batch id.
    A new checkpoint numbers its batches from 0 again under another id, so it never takes
    an older query's files for a failed attempt of its own."""
    return f"{_PREFIX}{query[:8]}-b{batch_id:010d}-"


def file_name(query: str, batch_id: int, n: int) -> str:
    return f"{batch_prefix(query, batch_id)}{n:05d}.jsonl.gz"


@dataclass
class LandingReport:
    batches: int = 0
    files: int = 0
    lines: dict[str, int] = field(default_factory=dict)  # records read from Kafka, per event type
    lines_written: int = 0  # lines in the files written, counted back from the files


class LandingSink:
    """foreachBatch function of the landing query."""

    def __init__(self, lake: Lake, checkpoint: str) -> None:
        self.lake = lake
        self.checkpoint = checkpoint
        self.report = LandingReport()

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        # Read from Kafka once: counted, then written from the cache.
        batch.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            self._land(batch, batch_id)
        finally:
            batch.unpersist()

    def _land(self, batch: DataFrame, batch_id: int) -> None:
        counts = {r["event_type"]: r["count"] for r in batch.groupBy("event_type").count().collect()}
        if not counts:
            return
        fs, base = self.lake.arrow_fs()
        staging = f"{STAGING}/b{batch_id:010d}"
        _delete(fs, f"{base}/{staging}")
        (
            batch.write.partitionBy("event_type", "dt", "hour")
            .option("compression", "gzip")
            .mode("overwrite")
            .text(self.lake.spark_path(staging))
        )
        staged = fs.get_file_info(pafs.FileSelector(f"{base}/{staging}", recursive=True))
        parts = sorted(i.path for i in staged if i.is_file and i.path.endswith(".gz"))
        # What the files hold, counted by a second reader (as raw_files counts raw files).
        for part in parts:
            with fs.open_input_stream(part, compression=None) as f:
                self.report.lines_written += count_lines(igzip.decompress(f.read()))
        query = query_id(self.checkpoint)
        folders = sorted({p.rsplit("/", 1)[0] for p in parts})
        for folder in folders:
            target = _raw_folder(base, folder)
            fs.create_dir(target, recursive=True)
            for old in fs.get_file_info(pafs.FileSelector(target)):
                if old.base_name.startswith(batch_prefix(query, batch_id)):
                    fs.delete_file(old.path)  # a failed attempt's files
            for n, part in enumerate(p for p in parts if p.rsplit("/", 1)[0] == folder):
                fs.move(part, f"{target}/{file_name(query, batch_id, n)}")
                self.report.files += 1
        _delete(fs, f"{base}/{staging}")
        self.report.batches += 1
        for t, n in counts.items():
            self.report.lines[t] = self.report.lines.get(t, 0) + n


def _raw_folder(base: str, staged_folder: str) -> str:
    """.../event_type=click/dt=2026-12-01/hour=07 -> <base>/raw/click/dt=2026-12-01/hour=07"""
    parts = dict(seg.split("=", 1) for seg in staged_folder.split("/")[-3:])
    return f"{base}/raw/{parts['event_type']}/dt={parts['dt']}/hour={parts['hour']}"


def _delete(fs: pafs.FileSystem, path: str) -> None:
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_dir(path)


def land(
    spark: SparkSession, bootstrap: str, lake: Lake, checkpoint: str, auth: KafkaAuth | None = None
) -> LandingReport:
    """Lands every record up to now, then returns (trigger availableNow). `auth` None: the
    environment's (spark_jobs/kafka_auth.py)."""
    # Every topic; large slices: the landing catches up, nobody waits on its latency.
    records = kafka_source(spark, bootstrap, max_offsets=2_000_000, topics=TOPICS, auth=auth)
    sink = LandingSink(lake, checkpoint)
    query = (
        landing_lines(records)
        .writeStream.queryName("adlake_landing")
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .foreachBatch(sink)
        .start()
    )
    query.awaitTermination()
    return sink.report
