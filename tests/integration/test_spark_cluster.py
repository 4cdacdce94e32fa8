"""The same assets on a Spark standalone cluster (docs/deploy.md): a real master and worker
on 127.0.0.1, started from pyspark's own distribution, run the shared lake's last arrival
date from bronze through silver, gold, the audiences and the marts, with only
ADLAKE_SPARK_MASTER changed. The lake and the marts end as local mode left them, and the
master saw AdLake's application run on its worker."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.helpers import SparkStandalone
from tests.integration.helpers import END, adlake_run, all_marts, gold_and_counts

pytestmark = pytest.mark.spark  # Spark runs in the cluster and in the `adlake run` it starts


@pytest.fixture
def cluster():
    c = SparkStandalone(Path(tempfile.mkdtemp(prefix="adlake-spark-cluster-")))
    c.start()
    yield c
    c.stop()


def test_a_day_runs_on_a_standalone_cluster_with_local_modes_results(lakehouse, cluster):
    settings, lake = lakehouse["settings"], lakehouse["lake"]
    clickhouse = lakehouse["resources"]["clickhouse"]
    before, marts_before = gold_and_counts(lake), all_marts(clickhouse)
    run = adlake_run(
        settings,
        END,
        "--from", "bronze", "--no-train", "--no-alerts",
        env={"ADLAKE_SPARK_MASTER": cluster.url, "ADLAKE_SPARK_DRIVER_MEMORY": "1g"},
    )  # fmt: skip
    code = run.wait(timeout=1200)
    output = run.stdout.read()
    assert code == 0, output[-4000:]
    assert gold_and_counts(lake) == before
    assert all_marts(clickhouse) == marts_before
    # The work was done by executors on the worker: each application's task logs are there.
    apps = cluster.status()["completedapps"]
    assert apps, cluster.status()
    for app in apps:
        logs = list((cluster.work / "worker" / app["id"]).glob("*/stderr"))
        assert logs and any("Finished task" in p.read_text() for p in logs), (app, logs)
