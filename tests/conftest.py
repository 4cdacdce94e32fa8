"""Shared fixtures: one SparkSession for the whole test session (start-up costs seconds),
a temporary ADLAKE_HOME, a real MinIO server on 127.0.0.1, and the real-time path's Kafka
and Redis servers (tests/stream_fixtures.py); and the test tiers: every test is marked by
what it needs (`spark`, `integration`, `minio`, `stream`), so that `pytest -m "not spark"`
is the quick loop."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ad_assets.settings import DEFAULT_START_DATE, load_settings  # reads no setting yet

# Tests that go through the CLI (`main`, `adlake run`) read the environment's settings, as
# a user's shell would: point them at a scratch home.
_HOME = Path(tempfile.mkdtemp(prefix="adlake-test-"))
os.environ["ADLAKE_HOME"] = str(_HOME)
os.environ.setdefault("ADLAKE_START_DATE", DEFAULT_START_DATE)

from ad_assets.cli import prepare_dagster_home  # noqa: E402
from spark_jobs.lake import Lake  # noqa: E402
from spark_jobs.session import SparkSettings, build_spark  # noqa: E402
from tests.helpers import MinioServer  # noqa: E402
from tests.stream_fixtures import stream_servers  # noqa: E402, F401 (a fixture for every test)

prepare_dagster_home(load_settings())  # Dagster's instance for the tests, telemetry off

INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by what it needs, from where it lives and the fixtures it uses
    (directly or through another fixture, e.g. `lakehouse` needs `spark`). Tests that
    start Spark another way (an `adlake run` process, a Dagster job in process) carry the
    `spark` mark in their module."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if INTEGRATION_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)
        if "spark" in fixtures:
            item.add_marker(pytest.mark.spark)
        if "minio" in fixtures:
            item.add_marker(pytest.mark.minio)
        if "stream_servers" in fixtures:
            item.add_marker(pytest.mark.stream)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._adlake_exitstatus = int(exitstatus)  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Exit with the session's status once pytest has reported, without the native
    libraries' teardown: a process that has loaded chDB and delta-rs can hang in their exit
    handlers (ad_assets/cli.py `entry`). Fixtures have been torn down by then."""
    status = getattr(config, "_adlake_exitstatus", None)
    if status is not None:
        import logging
        import sys

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


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


@pytest.fixture(scope="session")
def minio_server() -> Iterator[MinioServer]:
    """A MinIO server with a fresh bucket for the session (a test may stop and restart it)."""
    server = MinioServer(Path(tempfile.mkdtemp(prefix="adlake-minio-")))
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.data, ignore_errors=True)


@pytest.fixture(scope="session")
def minio(minio_server: MinioServer) -> dict[str, str]:
    """The session MinIO's endpoint, credentials and bucket."""
    return minio_server.info


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
