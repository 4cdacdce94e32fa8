from __future__ import annotations

import contextlib
import threading

from dagster import ConfigurableResource, InitResourceContext
from dagster_pyspark.resources import spark_session_from_config
from pydantic import Field
from pyspark.sql import SparkSession

from spark_jobs.lake import Lake
from spark_jobs.session import SparkSettings, build_spark

_lock = threading.Lock()


class SparkResource(ConfigurableResource):
    """A local SparkSession with Delta Lake (and S3A when the lake is on S3).

    Starting Spark costs seconds, so one session serves every step of the process: the
    jobs use the in-process executor and the session outlives a single step. The run
    sets the resource up before its first step: the JVM starts then, in the background,
    while the steps before Spark's (generating the raw files) work. The session is made by
    dagster-pyspark from AdLake's conf (spark_jobs/session.py) with `spark_config` over it,
    as dagster_pyspark.PySparkResource takes it."""

    master: str = "local[2]"
    jars_dir: str | None = None
    driver_memory: str = "4g"
    local_dir: str | None = None
    spark_config: dict[str, str] = Field(default_factory=dict)

    def _settings(self) -> SparkSettings:
        return SparkSettings(
            master=self.master,
            jars_dir=self.jars_dir,
            driver_memory=self.driver_memory,
            local_dir=self.local_dir,
            extra_conf=tuple(self.spark_config.items()),
        )

    def setup_for_execution(self, context: InitResourceContext) -> None:
        threading.Thread(target=self._start, name="spark-warm-up", daemon=True).start()

    def _start(self) -> None:
        # A failure here is the step's to report, when its own session() call meets it.
        with _lock, contextlib.suppress(Exception):
            build_spark(self._settings(), create=spark_session_from_config)

    def session(self, lake: Lake) -> SparkSession:
        with _lock:
            return build_spark(self._settings(), lake, create=spark_session_from_config)
