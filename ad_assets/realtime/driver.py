"""The streaming driver as a managed process: `python -m spark_jobs.stream_job` started
detached like the servers (pid file, log, lock; see servers.py), its checkpoint under
its home. It is up once its counters query has started and said so in Redis
(DRIVER_KEY, with its pid). Imports neither Spark nor Dagster: the CLI and the demo use it."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from ad_assets.realtime.servers import _Daemon
from spark_jobs.stream_layout import DRIVER_KEY

DRIVER_START_TIMEOUT = 180.0  # a cold JVM with the Kafka connector on two busy cores


def counters_checkpoint(driver_home: Path) -> Path:
    """The counters query's checkpoint (its offsets, state and commits)."""
    return Path(driver_home) / "checkpoints" / "counters"


class StreamDriver(_Daemon):
    name = "stream-driver"

    def __init__(self, home: Path, kafka_bootstrap: str, redis_url: str, spark_jars_dir: str) -> None:
        super().__init__(home)
        self.kafka = kafka_bootstrap
        self.redis_url = redis_url
        self.jars = spark_jars_dir
        self._last_probe = "none"

    @property
    def checkpoint(self) -> Path:
        return counters_checkpoint(self.home)

    def _client(self):
        import redis

        return redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)

    def _is_ours(self, cmdline: str) -> bool:
        return "spark_jobs.stream_job" in cmdline and str(self.checkpoint) in cmdline

    def _healthy(self, timeout: float) -> bool:
        import redis

        pid = self.pid()
        try:
            said = self._client().hget(DRIVER_KEY, "pid")
        except redis.RedisError as e:
            self._last_probe = f"pid file {pid}, Redis not answering: {e}"
            return False
        self._last_probe = f"pid file {pid}, {DRIVER_KEY} names pid {said.decode() if said else None}"
        return pid is not None and said is not None and int(said) == pid

    def _launch(self) -> None:
        cmd = [
            sys.executable, "-m", "spark_jobs.stream_job",
            "--kafka", self.kafka, "--redis", self.redis_url,
            "--checkpoint", str(self.checkpoint), "--jars", self.jars,
        ]  # fmt: skip
        self._spawn(cmd)
        deadline = time.monotonic() + DRIVER_START_TIMEOUT
        while not self._healthy(1.0):
            if self._exited() is not None:
                self._fail(f"exited with code {self._exited()} before its query started")
            if time.monotonic() > deadline:
                self._fail(
                    f"did not start its query within {DRIVER_START_TIMEOUT:.0f} s "
                    f"(last probe: {self._last_probe})"
                )
            time.sleep(0.5)

    def wait_exit(self, timeout: float) -> int | None:
        """The exit code of the driver this object started, once it has exited (reaped);
        None if it still runs after `timeout`."""
        deadline = time.monotonic() + timeout
        while (code := self._exited()) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        return code

    def kill(self) -> None:
        """SIGKILL the driver and its JVM at once (tests of a crashed driver)."""
        pid = self.pid()
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)  # its own session: the JVM goes with it
            self._wait_gone(pid, 30)
            self.pid_file.unlink(missing_ok=True)
            self._child = None
