"""The chain on S3: a real MinIO server on 127.0.0.1, Spark through s3a://, the generator
through pyarrow's S3 client, delta-rs reading the gold tables back, and the ClickHouse
marts built by dbt from gold read in place over S3 (the DeltaLake table engine). Last, the
object store goes away in the middle of a rerun of that lake."""

import threading
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from dagster import DagsterEventType, DagsterInstance, Failure
from dagster_dbt import DbtCliResource

from ad_assets.defs.marts import DBT_EXECUTABLE, dbt_project
from ad_assets.generator import generate
from ad_assets.lib import outages
from ad_assets.lib.outages import STORAGE_RETRY
from ad_assets.resources import (
    ClickHouseResource,
    LakeResource,
    LogSourceResource,
    PseudonymKeyResource,
    SparkResource,
    SparkStepsResource,
)
from ad_assets.settings import load_settings
from spark_jobs.lake import Lake, LakeNotWritable, S3Options
from spark_jobs.metric_definitions import ADDITIVE_METRICS
from tests import reference
from tests.integration.helpers import (
    gold_and_counts,
    gold_by_key,
    gold_tables,
    mart_rows,
    run_assets,
    silver_tables,
    table_versions,
)

START, END = date(2026, 11, 1), date(2026, 11, 2)
IMPRESSIONS, SEED = 3000, 9


@pytest.fixture(scope="module")
def s3_run(spark, minio, tmp_path_factory):
    # ClickHouse (in the dbt subprocess) takes S3 credentials from the environment, as it
    # would from the usual AWS variables or an instance role.
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ACCESS_KEY_ID", minio["access_key"])
    mp.setenv("AWS_SECRET_ACCESS_KEY", minio["secret_key"])
    lake_res = LakeResource(
        root=f"s3a://{minio['bucket']}/lake",
        s3_endpoint=minio["endpoint"],
        s3_access_key=minio["access_key"],
        s3_secret_key=minio["secret_key"],
    )
    resources = {
        "lake": lake_res,
        "spark": SparkResource(jars_dir=load_settings().spark_jars_dir),
        "spark_steps": SparkStepsResource(),  # local: the steps run on the session above
        "pseudonym_key": PseudonymKeyResource(key="minio-test-key"),
        "log_source": LogSourceResource(
            world_start=START.isoformat(), impressions_per_day=IMPRESSIONS, seed=SEED
        ),
        "clickhouse": ClickHouseResource(chdb_path=str(tmp_path_factory.mktemp("s3-home") / "clickhouse")),
        "dbt": DbtCliResource(project_dir=dbt_project, target="embedded", dbt_executable=DBT_EXECUTABLE),
    }
    result = run_assets(resources, START, END, DagsterInstance.ephemeral())
    yield lake_res.lake(), result, resources["clickhouse"], resources
    mp.undo()


def test_tables_live_in_the_bucket(s3_run):
    lake, *_ = s3_run
    fs, base = lake.arrow_fs()
    listing = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    paths = [f.path for f in listing if f.is_file]
    assert any("/raw/impression/dt=2026-11-02/" in p and p.endswith(".jsonl.gz") for p in paths)
    for table in ("bronze/impressions", "silver/clicks", "gold/campaign_daily"):
        assert any(f"/{table}/_delta_log/" in p and p.endswith(".json") for p in paths), table


def test_gold_on_s3_matches_reference_and_reads_the_same_in_spark_and_delta_rs(s3_run, spark, tmp_path):
    lake, result, *_ = s3_run
    assert all(e.passed for e in result.get_asset_check_evaluations())
    # The generator is deterministic: the same raw files, written locally, feed the reference.
    generate(Lake(str(tmp_path)), START, (END - START).days + 1, IMPRESSIONS, SEED)
    expected = reference.campaign_daily(reference.read_raw(Path(tmp_path)))
    gold = gold_by_key(lake)  # delta-rs over S3
    assert set(gold) == set(expected) and len(gold) > 50
    for key, exp in expected.items():
        for c in ADDITIVE_METRICS:
            assert gold[key][c] == exp.get(c, 0), (key, c)
    via_spark = spark.read.format("delta").load(lake.table("gold", "campaign_daily"))
    assert via_spark.count() == len(gold)
    spark_sum = via_spark.selectExpr("sum(spend_micros)").first()[0]
    assert spark_sum == sum(r["spend_micros"] for r in gold.values())


def test_marts_read_gold_in_place_on_s3(s3_run):
    lake, _, clickhouse, _ = s3_run
    gold = gold_by_key(lake)
    mart = {(r["event_date"], r["campaign_id"]): r for r in mart_rows(clickhouse, "campaign_daily")}
    assert mart.keys() == gold.keys()
    for key, g in gold.items():
        assert (mart[key]["impressions"], mart[key]["spend_micros"]) == (g["impressions"], g["spend_micros"])


def test_a_missing_bucket_or_refused_credentials_fail_before_any_write(minio):
    """The write probe (boto3) names the bucket, where Spark's S3A would report an I/O error."""
    good = S3Options(
        endpoint=minio["endpoint"], access_key=minio["access_key"], secret_key=minio["secret_key"]
    )
    Lake(f"s3a://{minio['bucket']}/probe", good).check_writable("bronze")  # writes and removes a probe
    with pytest.raises(LakeNotWritable, match="bucket no-such-bucket does not exist"):
        Lake("s3a://no-such-bucket/lake", good).check_writable("bronze")
    refused = S3Options(endpoint=minio["endpoint"], access_key=minio["access_key"], secret_key="wrong")
    with pytest.raises(LakeNotWritable, match=f"s3://{minio['bucket']}/lake/silver: SignatureDoesNotMatch"):
        Lake(f"s3a://{minio['bucket']}/lake", refused).check_writable("silver")


def _messages(error) -> str:
    """An error's message and its causes' (a retry wraps the step's own failure)."""
    out = []
    while error is not None:
        out.append(error.message)
        error = error.cause
    return "\n".join(out)


def test_an_object_store_outage_fails_clearly_is_retried_and_leaves_no_partial_table(
    s3_run, minio_server, monkeypatch
):
    """Last in this module: it stops the session's MinIO and brings it back. (It had a
    server, bucket and one-day lake of its own, ~60 s more; the S3 lake above serves.)"""
    lake, _, _, resources = s3_run
    m = minio_server.info
    before, versions = gold_and_counts(lake), table_versions(lake)

    # The store goes down as silver starts and comes back once silver has failed against
    # it; Dagster retries silver after its first pause (10 s). Restarting on the failure
    # itself (not on a timer) keeps the proof to one pause and independent of how long the
    # first try takes to fail.
    restart = threading.Thread(target=minio_server.start)
    real_outages_retried = outages.outages_retried

    @contextmanager
    def back_after_the_first_failure(the_lake):
        try:
            with real_outages_retried(the_lake):  # the step's own handling, unchanged
                yield
        except Failure as failure:
            if failure.allow_retries and restart.ident is None:
                restart.start()
            raise

    monkeypatch.setattr(outages, "outages_retried", back_after_the_first_failure)
    minio_server.stop()
    try:
        t = time.time()
        result = run_assets(
            resources, END, END, DagsterInstance.ephemeral(), assets=[silver_tables, gold_tables]
        )
        assert time.time() - t >= STORAGE_RETRY.delay
    finally:
        if restart.ident is not None:
            restart.join()
        if minio_server.proc is None or minio_server.proc.poll() is not None:
            minio_server.start()  # the session's server, for whatever runs after
    retried = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert retried and not failures
    message = _messages(retried[0].event_specific_data.error)
    assert f"object store {m['endpoint']} unreachable for s3a://{m['bucket']}/lake" in message, message
    # No duplicates, nothing partial: the same content, at most one new commit per
    # rewritten table (a MERGE of an empty batch commits nothing), bronze untouched.
    assert gold_and_counts(lake) == before
    for table, version in table_versions(lake).items():
        rewritten = table.startswith(("silver_", "gold_"))
        assert version - versions[table] in ((0, 1) if rewritten else (0,)), table
