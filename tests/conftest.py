"""Shared fixtures: one SparkSession for the whole test session (start-up costs seconds),
a temporary ADLAKE_HOME, and a real MinIO server on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ad_assets.settings import DEFAULT_START_DATE, load_settings  # reads no setting yet

# Settings are read when ad_assets' definitions are imported: point them at a scratch home first.
_HOME = Path(tempfile.mkdtemp(prefix="adlake-test-"))
os.environ["ADLAKE_HOME"] = str(_HOME)
os.environ.setdefault("ADLAKE_START_DATE", DEFAULT_START_DATE)

from ad_assets.cli import prepare_dagster_home  # noqa: E402
from spark_jobs.lake import Lake  # noqa: E402
from spark_jobs.session import SparkSettings, build_spark  # noqa: E402

prepare_dagster_home(load_settings())  # Dagster's instance for the tests, telemetry off

CACHE = Path(os.environ.get("ADLAKE_CACHE", Path.home() / ".cache" / "adlake"))
MINIO_BIN = CACHE / "bin" / "minio"


@pytest.fixture(scope="session", autouse=True)
def _scratch_home() -> Iterator[Path]:
    """The scratch ADLAKE_HOME lives for the session and is removed after it."""
    yield _HOME
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def spark():
    s = load_settings()
    session = build_spark(
        SparkSettings(jars_dir=s.spark_jars_dir, driver_memory="3g", local_dir=str(_HOME / "spark-tmp")),
        Lake(str(_HOME / "lake")),
    )
    yield session
    session.stop()


@pytest.fixture
def tmp_lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


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


@pytest.fixture(scope="session")
def minio() -> Iterator[dict[str, str]]:
    """A MinIO server with a fresh bucket for the session."""
    server = MinioServer(Path(tempfile.mkdtemp(prefix="adlake-minio-")))
    server.start()
    yield server.info
    server.stop()
    shutil.rmtree(server.data, ignore_errors=True)


@pytest.fixture(scope="session")
def lakehouse(spark, tmp_path_factory) -> dict:
    """The whole chain (raw -> marts) through Dagster over four arrival dates at 4,000
    impressions a day, once per session; tests that change it put it back."""
    from dagster import DagsterInstance

    from ad_assets.definitions import build_resources
    from tests.integration.helpers import END, START, run_assets

    home = tmp_path_factory.mktemp("home")
    settings = load_settings(
        {
            "ADLAKE_HOME": str(home),
            "ADLAKE_IMPRESSIONS_PER_DAY": "4000",
            "ADLAKE_SEED": "5",
            "ADLAKE_START_DATE": START.isoformat(),
        }
    )
    resources = build_resources(settings)
    instance = DagsterInstance.ephemeral()
    result = run_assets(resources, START, END, instance)
    return {
        "settings": settings,
        "lake": settings.lake(),
        "resources": resources,
        "instance": instance,
        "result": result,
    }
