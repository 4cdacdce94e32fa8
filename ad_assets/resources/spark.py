from __future__ import annotations

import threading

from dagster import ConfigurableResource
from pyspark.sql import SparkSession

from spark_jobs.lake import Lake
from spark_jobs.session import SparkSettings, build_spark

_lock = threading.Lock()


class SparkResource(ConfigurableResource):
    """A local SparkSession with Delta Lake (and S3A when the lake is on S3).

    Starting Spark costs seconds, so one session serves every step of the process: the
    jobs use the in-process executor and the session outlives a single step."""

    master: str = "local[2]"
    jars_dir: str | None = None
    driver_memory: str = "4g"
    local_dir: str | None = None

    def session(self, lake: Lake) -> SparkSession:
        with _lock:
            return build_spark(
                SparkSettings(
                    master=self.master,
                    jars_dir=self.jars_dir,
                    driver_memory=self.driver_memory,
                    local_dir=self.local_dir,
                ),
                lake,
            )
