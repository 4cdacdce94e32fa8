"""Builds the SparkSession: local mode by default, Delta Lake enabled, S3A configured when
the lake is on S3/MinIO. No Dagster imports: spark-submit and EMR use this too."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import SparkSession

from spark_jobs.lake import Lake


@dataclass(frozen=True)
class SparkSettings:
    # None: a driver that spark-submit started (EMR Serverless, spark_jobs/submit.py); the
    # launcher has set the master, the driver's address, memory and JVM options already.
    master: str | None = "local[2]"
    jars_dir: str | None = None  # folder of Delta + hadoop-aws jars (scripts/bootstrap.sh)
    driver_memory: str = "4g"
    shuffle_partitions: int = 4
    snapshot_partitions: int = 2
    local_dir: str | None = None  # spill and scratch space
    app_name: str = "adlake"
    # More Spark settings, over AdLake's own (e.g. a cluster's executor sizes).
    extra_conf: tuple[tuple[str, str], ...] = ()


def s3a_options(lake: Lake) -> dict[str, str]:
    """Hadoop S3A settings for the lake (empty for a local lake)."""
    if not lake.is_s3:
        return {}
    s3 = lake.s3
    opts = {
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        # Fail fast instead of retrying for minutes when the object store is down.
        "fs.s3a.attempts.maximum": "3",
        "fs.s3a.retry.limit": "3",
    }
    if s3 and s3.endpoint:
        opts["fs.s3a.endpoint"] = s3.endpoint
        opts["fs.s3a.connection.ssl.enabled"] = str(not s3.insecure).lower()
        opts["fs.s3a.endpoint.region"] = s3.region
    if s3 and s3.path_style:
        opts["fs.s3a.path.style.access"] = "true"
    if s3 and s3.access_key:
        opts["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        opts["fs.s3a.access.key"] = s3.access_key
        opts["fs.s3a.secret.key"] = s3.secret_key or ""
    return opts


LOG4J_CONFIG = os.path.join(os.path.dirname(__file__), "log4j2.properties")
# -XX:-DontCompileHugeMethods: the contract parse generates methods over the JVM's
# 8000-byte JIT limit (17 kB for the stream's three topics); left interpreted they
# took a third of a micro-batch (docs/streaming.md, "Where the time goes").
JIT_OPTION = "-XX:-DontCompileHugeMethods"
# Settings of the driver's process: spark-submit's to make when it starts the driver.
LAUNCHER_KEYS = (
    "spark.master",
    "spark.driver.host",
    "spark.driver.bindAddress",
    "spark.driver.memory",
    "spark.driver.extraJavaOptions",
    "spark.ui.enabled",
    "spark.ui.showConsoleProgress",
)


def spark_conf(settings: SparkSettings) -> dict[str, str]:
    """Every Spark setting of AdLake's session, then `settings.extra_conf` over them."""
    conf = {
        "spark.master": settings.master,
        "spark.app.name": settings.app_name,
        # Loopback only: the driver must not listen on the machine's other interfaces.
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.memory": settings.driver_memory,
        "spark.driver.extraJavaOptions": f"-Dlog4j.configurationFile=file:{LOG4J_CONFIG} {JIT_OPTION}",
        # A cluster's executors run the same generated code (local mode's run in the driver).
        "spark.executor.extraJavaOptions": JIT_OPTION,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        # One raw file per input partition: gzip cannot be split anyway, and bronze derives
        # line numbers from the row position within a partition (see bronze.read_raw_lines).
        "spark.sql.files.openCostInBytes": str(1 << 40),
        "spark.sql.files.maxPartitionBytes": str(1 << 30),
        "spark.databricks.delta.retentionDurationCheck.enabled": "true",
        # MERGE writes the way its source is partitioned (the batch's shuffle partitions,
        # fewer where adaptive execution merges small ones), not one task and one file per
        # event date: the big date of a day is written by every core, and read back so.
        "spark.databricks.delta.merge.repartitionBeforeWrite.enabled": "false",
        "spark.sql.adaptive.enabled": "true",
        # Delta replays a table's log into 50 partitions by default: 50 tasks per snapshot,
        # on every read and write. A few suit a local session (a read of a small table went
        # from 5 s to 0.8 s on 2 cores).
        "spark.databricks.delta.snapshotPartitions": str(settings.snapshot_partitions),
        # MERGE reads its source twice (to find the files it touches, then to write); it
        # copies the source once, in memory where it fits, from the batch delta_io caches.
        "spark.databricks.delta.merge.materializeSource": "all",
        "spark.databricks.delta.merge.materializeSource.rddStorageLevel": "MEMORY_AND_DISK",
        # Delta on S3: one writer per table at a time (Dagster serialises our writers).
        "spark.delta.logStore.s3a.impl": "io.delta.storage.S3SingleDriverLogStore",
    }
    if settings.jars_dir:
        jars = sorted(glob.glob(os.path.join(settings.jars_dir, "*.jar")))
        if not jars:
            raise RuntimeError(f"no Spark jars in {settings.jars_dir}: run scripts/bootstrap.sh (make setup)")
        conf["spark.jars"] = ",".join(jars)
    if settings.local_dir:
        os.makedirs(settings.local_dir, exist_ok=True)
        conf["spark.local.dir"] = settings.local_dir
    if settings.master is None:
        conf = {k: v for k, v in conf.items() if k not in LAUNCHER_KEYS}
    return {**conf, **dict(settings.extra_conf)}


def _get_or_create(conf: dict[str, str]) -> SparkSession:
    builder = SparkSession.builder
    for k, v in conf.items():
        builder = builder.config(k, v)
    return builder.getOrCreate()


def build_spark(
    settings: SparkSettings,
    lake: Lake | None = None,
    create: Callable[[dict[str, str]], SparkSession] = _get_or_create,
) -> SparkSession:
    """The process's session (started on first call), configured for `lake`'s object store.
    `create` makes the session from the conf (Dagster's resource passes dagster-pyspark's)."""
    if settings.master is not None:  # a submitted driver's JVM runs already, on its host
        # Bind to loopback before the JVM starts (otherwise Spark picks the first interface).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = create(spark_conf(settings))
    spark.sparkContext.setLogLevel("ERROR")
    # Set on the live Hadoop configuration, so that a session that already exists in this
    # process (tests, a second lake) also reaches this lake's object store.
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    for k, v in (s3a_options(lake) if lake else {}).items():
        hadoop_conf.set(k, v)
    return spark
