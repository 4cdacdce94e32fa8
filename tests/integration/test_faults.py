"""Faults survived, with the real engines: a Spark process killed in the middle of a
write and then its partition rerun (on a Spark standalone cluster), and a lake directory
that cannot take writes. The killed run reruns the last arrival date of the shared
end-to-end lake; the write refusal uses a small lake (one arrival date). The object store
outage is staged on the S3 lake of test_minio.py."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance
from deltalake import DeltaTable

from ad_assets.definitions import build_resources
from ad_assets.resources import LakeResource
from ad_assets.settings import Settings, load_settings
from tests.helpers import SparkStandalone
from tests.integration.helpers import (
    END,
    adlake_run,
    all_marts,
    gold_and_counts,
    run_assets,
    silver_tables,
    table_versions,
)

# Every test here runs Spark: in this process, or in the `adlake run` processes it starts.
pytestmark = pytest.mark.spark

DAY = date(2026, 11, 1)
SMALL = "1500"


def _settings(home: Path) -> Settings:
    return load_settings(
        {
            "ADLAKE_HOME": str(home),
            "ADLAKE_IMPRESSIONS_PER_DAY": SMALL,
            "ADLAKE_START_DATE": DAY.isoformat(),
        }
    )


# ------------------------------------------------------------------ Spark killed mid-write
def _data_files(table_dir: Path) -> set[str]:
    return {str(p.relative_to(table_dir)) for p in table_dir.rglob("*.parquet")}


@pytest.fixture
def cluster():
    c = SparkStandalone(Path(tempfile.mkdtemp(prefix="adlake-spark-cluster-")))
    c.start()
    yield c
    c.stop()


def test_a_killed_run_then_its_rerun_on_a_cluster_leave_the_lake_as_one_run_did(lakehouse, cluster):
    # The reference that the `adlake run` processes below must leave unchanged is the shared
    # end-to-end lake (conftest `lakehouse`), rerun on its last arrival date as the next
    # daily run would: a rerun of a partition must leave the lake and marts as one run left
    # them. The killed run goes from bronze: it is killed while bronze writes; the raw files
    # stay the ones the lake was built from. What the runs leave behind in the shared lake is
    # put back or unchanged by design: the killed write's uncommitted files are removed, every
    # table and mart ends with the content it had (asserted below).
    #
    # The rerun goes to a Spark standalone cluster (docs/deploy.md): a real master and
    # worker from pyspark's own distribution, with only ADLAKE_SPARK_MASTER changed, from
    # bronze through silver, gold, the audiences and the marts. It was a test of its own,
    # a third run of this partition; and two reruns at once after the kill proved that
    # `adlake` runs of one home take turns, which tests/unit/test_run_lock.py proves with
    # real processes for seconds. (The three runs cost ~9 minutes of the suite; ~6 now.)
    settings, day = lakehouse["settings"], END
    lake, clickhouse = lakehouse["lake"], lakehouse["resources"]["clickhouse"]
    before, versions, marts_before = gold_and_counts(lake), table_versions(lake), all_marts(clickhouse)
    table_dir = Path(lake.local_root) / "bronze" / "bid_requests"
    committed = _data_files(table_dir)

    # An `adlake run`, killed (driver and JVM) the moment bronze's first table has a new
    # data file on disk, i.e. while its write is in flight and not yet committed.
    killed = adlake_run(settings, day, "--from", "bronze")
    deadline = time.time() + 600
    while not (_data_files(table_dir) - committed):
        assert killed.poll() is None, "the run ended before it wrote: " + killed.stdout.read()[-3000:]
        assert time.time() < deadline
        time.sleep(0.05)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(timeout=60)

    in_flight = _data_files(table_dir) - committed
    table = DeltaTable(str(table_dir))
    assert table.version() == versions["bronze_bid_requests"]  # the write never committed
    assert not in_flight & {Path(u).relative_to(table_dir).as_posix() for u in table.file_uris()}
    assert gold_and_counts(lake) == before
    for name in in_flight:  # the shared lake as it was: no uncommitted files left behind
        for path in (table_dir / name, (table_dir / name).with_name(f".{Path(name).name}.crc")):
            path.unlink(missing_ok=True)

    # The rerun. The killed run never reported its end and still holds its pool slot: the
    # rerun marks it failed, frees the slot and completes. It neither trains nor runs the
    # KPI alerts' job: not what this is about.
    rerun = adlake_run(
        settings, day, "--from", "bronze", "--no-train", "--no-alerts",
        env={"ADLAKE_SPARK_MASTER": cluster.url, "ADLAKE_SPARK_DRIVER_MEMORY": "1g"},
    )  # fmt: skip
    code = rerun.wait(timeout=1500)
    output = rerun.stdout.read()
    assert code == 0, output[-4000:]
    assert "was killed before it ended: marked failed, its pool slots freed" in output
    assert gold_and_counts(lake) == before
    assert all_marts(clickhouse) == marts_before
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        statuses = sorted((r.job_name, r.status.value) for r in instance.get_runs())
    assert statuses == [("reprocess_landed", "FAILURE"), ("reprocess_landed", "SUCCESS")], statuses

    # The work was done by executors on the worker: the application's task logs are there.
    apps = cluster.status()["completedapps"]
    assert apps, cluster.status()
    for app in apps:
        logs = list((cluster.work / "worker" / app["id"]).glob("*/stderr"))
        assert logs and any("Finished task" in p.read_text() for p in logs), (app, logs)


# ------------------------------------------------------------------ lake cannot take writes
def _silver_failure(resources: dict) -> str:
    result = run_assets(
        resources, DAY, DAY, DagsterInstance.ephemeral(), assets=[silver_tables], raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    return failure.event_specific_data.error.message


def test_a_lake_directory_that_refuses_writes_fails_naming_it(spark, tmp_path):
    settings = _settings(tmp_path / "home")
    resources = build_resources(settings)
    silver_dir = Path(settings.lake_root) / "silver"
    silver_dir.mkdir(parents=True)
    # Read-only even for root: the immutable attribute (ext4 and most Linux filesystems).
    if subprocess.run(["chattr", "+i", str(silver_dir)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here, so a write refusal cannot be staged")
    try:
        message = _silver_failure(resources)
    finally:
        subprocess.run(["chattr", "-i", str(silver_dir)], check=True)
    assert f"cannot write to the lake directory {silver_dir}: Operation not permitted" in message, message

    full = {**resources, "lake": LakeResource(root=settings.lake_root, min_free_mb=2**40)}
    message = _silver_failure(full)
    assert f"the lake directory {silver_dir} has" in message and "ADLAKE_MIN_FREE_MB" in message, message
    assert not list(silver_dir.iterdir())  # nothing was written
