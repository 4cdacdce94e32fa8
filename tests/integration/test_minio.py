"""The chain on S3: a real MinIO server on 127.0.0.1, Spark through s3a://, the generator
through pyarrow's S3 client, delta-rs reading the gold tables back, and the ClickHouse
marts built by dbt from gold read in place over S3 (the DeltaLake table engine)."""

from datetime import date
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from dagster import DagsterInstance
from dagster_dbt import DbtCliResource

from ad_assets.defs.marts import DBT_EXECUTABLE, dbt_project
from ad_assets.generator import generate
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
from tests.integration.helpers import gold_by_key, mart_rows, run_assets

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
    yield lake_res.lake(), result, resources["clickhouse"]
    mp.undo()


def test_tables_live_in_the_bucket(s3_run):
    lake, _, _ = s3_run
    fs, base = lake.arrow_fs()
    listing = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    paths = [f.path for f in listing if f.is_file]
    assert any("/raw/impression/dt=2026-11-02/" in p and p.endswith(".jsonl.gz") for p in paths)
    for table in ("bronze/impressions", "silver/clicks", "gold/campaign_daily"):
        assert any(f"/{table}/_delta_log/" in p and p.endswith(".json") for p in paths), table


def test_gold_on_s3_matches_reference_and_reads_the_same_in_spark_and_delta_rs(s3_run, spark, tmp_path):
    lake, result, _ = s3_run
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
    lake, _, clickhouse = s3_run
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
