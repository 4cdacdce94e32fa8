"""Helpers shared by unit and integration tests, defined once: raw files landed by hand,
raw lines as a Spark frame, a process holding the embedded ClickHouse engine, and a
MinIO server. Nothing here starts Spark or Dagster by itself."""

from __future__ import annotations

import gzip
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pytest

from spark_jobs.bronze import RAW_LINE_SCHEMA

CACHE = Path(os.environ.get("ADLAKE_CACHE", Path.home() / ".cache" / "adlake"))
MINIO_BIN = CACHE / "bin" / "minio"


# ------------------------------------------------------------------ raw files and lines
def jsonl_gz(events: Iterable[dict | str]) -> bytes:
    """Gzip JSON Lines, one event per line (a str is written as it is)."""
    body = "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)
    return gzip.compress(body.encode())


def land(
    root: str | Path,
    event_type: str,
    day: date | str,
    hour: int,
    data: bytes,
    name: str = "part-00000.jsonl.gz",
) -> Path:
    """Write one raw file where a sender delivers it: <root>/raw/<event_type>/dt=<day>/hour=HH/<name>."""
    folder = Path(root) / "raw" / event_type / f"dt={day}" / f"hour={hour:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def raw_line_frame(spark, values: list[str], source_file: str = "f.jsonl.gz", arrival_hour: int = 10):
    """Raw lines as bronze reads them (numbered from 1), arrived on 2026-11-02."""
    rows = [(v, source_file, date(2026, 11, 2), arrival_hour, i + 1) for i, v in enumerate(values)]
    return spark.createDataFrame(rows, RAW_LINE_SCHEMA)


# ------------------------------------------------------------------ the embedded engine
HOLD_ENGINE = """
import sys, time
from dbt.adapters.chdb.engine import EmbeddedClient
client = EmbeddedClient(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
client.close()
"""


def hold_engine(path: str, seconds: float = 60) -> subprocess.Popen:
    """Another process that opens the chDB directory `path` and holds it for `seconds`;
    returns once it holds it. Kill it to release the engine sooner."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_ENGINE, path, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


# ------------------------------------------------------------------ MinIO
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MinioServer:
    """A MinIO server (built by scripts/bootstrap.sh --minio) on 127.0.0.1 with one bucket,
    which a test may stop and start again on the same port and data directory."""

    def __init__(self, data: Path, bucket: str = "adlake-test") -> None:
        if not MINIO_BIN.exists():
            pytest.fail(
                f"MinIO binary missing at {MINIO_BIN}: run scripts/bootstrap.sh --minio (make test does)"
            )
        self.data, self.port, self.console = data, _free_port(), _free_port()
        self.info = {
            "endpoint": f"http://127.0.0.1:{self.port}",
            "access_key": "adlake-test",
            "secret_key": secrets.token_hex(16),
            "bucket": bucket,
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "MINIO_ROOT_USER": self.info["access_key"],
            "MINIO_ROOT_PASSWORD": self.info["secret_key"],
            "MINIO_BROWSER": "off",
        }
        cmd = [str(MINIO_BIN), "server", str(self.data), "--address", f"127.0.0.1:{self.port}"]
        cmd += ["--console-address", f"127.0.0.1:{self.console}", "--quiet"]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        import pyarrow.fs as pafs

        fs = pafs.S3FileSystem(
            access_key=self.info["access_key"],
            secret_key=self.info["secret_key"],
            endpoint_override=f"127.0.0.1:{self.port}",
            scheme="http",
            region="us-east-1",
            force_virtual_addressing=False,
            allow_bucket_creation=True,
        )
        # Ready = the health probe answers and the bucket really exists (a request made
        # while MinIO is still initialising can be lost).
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.info['endpoint']}/minio/health/ready", timeout=2) as r:
                    if r.status == 200:
                        fs.create_dir(self.info["bucket"])
                        if fs.get_file_info(self.info["bucket"]).type == pafs.FileType.Directory:
                            return
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                err = self.proc.stderr.read().decode()[-2000:] if self.proc.stderr else ""
                raise RuntimeError(f"MinIO did not start: {err}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


class SparkStandalone:
    """A Spark standalone cluster on 127.0.0.1: one master and one worker, started from
    pyspark's own distribution (`spark-class`), so it runs the Spark the driver runs. The
    master's JSON status page says which applications ran and with how many cores."""

    def __init__(self, work: Path, cores: int = 2, memory: str = "2g") -> None:
        import pyspark

        self.spark_home = Path(pyspark.__file__).parent
        self.work, self.cores, self.memory = work, cores, memory
        self.port, self.ui = _free_port(), _free_port()
        self.procs: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "SPARK_HOME": str(self.spark_home),
            "SPARK_LOCAL_IP": "127.0.0.1",
            # Executors run Python with the driver's interpreter (and its installed AdLake).
            "PYSPARK_PYTHON": sys.executable,
            "SPARK_LOG_DIR": str(work / "logs"),
            "SPARK_WORKER_DIR": str(work / "worker"),
        }

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _spark_class(self, *args: str, log: str) -> None:
        out = open(self.work / log, "wb")  # noqa: SIM115 (the process's log, closed with it)
        cmd = [str(self.spark_home / "bin" / "spark-class"), *args]
        self.procs.append(subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT))

    def status(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui}/json/", timeout=5) as r:
            return json.loads(r.read())

    def start(self, timeout: float = 120) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        master = "org.apache.spark.deploy.master.Master"
        self._spark_class(
            master,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--webui-port",
            str(self.ui),
            log="master.log",
        )
        self._spark_class(
            "org.apache.spark.deploy.worker.Worker", self.url, "--host", "127.0.0.1",
            "--cores", str(self.cores), "--memory", self.memory, "--webui-port", str(_free_port()),
            log="worker.log",
        )  # fmt: skip
        deadline = time.time() + timeout
        while True:
            try:
                if self.status().get("aliveworkers", 0) >= 1:
                    return
            except OSError:
                pass
            if any(p.poll() is not None for p in self.procs) or time.time() > deadline:
                logs = {n: (self.work / n).read_text()[-2000:] for n in ("master.log", "worker.log")}
                self.stop()
                raise RuntimeError(f"the Spark cluster did not come up: {logs}")
            time.sleep(0.5)

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.procs.clear()
