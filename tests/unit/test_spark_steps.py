"""The Spark step runner's pieces that need no Spark and no AWS: the entry point's arguments
(what the runner sends is what the driver reads), the Pipes metadata types, the artifact
(deterministic, holding every first-party module a step imports, no Dagster), the settings,
the submitted driver's Spark conf, and the names the steps report under, which must be the
assets' (tests/integration/test_emr_serverless.py runs the submission against moto)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from dagster import Failure

from ad_assets.defs.bronze import build_bronze_tables
from ad_assets.defs.gold import build_gold_tables
from ad_assets.defs.silver import build_silver_tables
from ad_assets.lib.partitions import daily_partitions
from ad_assets.lib.spark_artifact import ENTRY_POINT, PACKAGES, ROOT, ArtifactLocation, build_artifact
from ad_assets.resources.spark_steps import SparkStepsResource, job_run_params
from ad_assets.settings import DEFAULT_START_DATE, EMR_SETTINGS, load_settings
from spark_jobs import steps
from spark_jobs.attribution_windows import parse_windows
from spark_jobs.lake import Lake, S3Options
from spark_jobs.layers import ArrivalWindow
from spark_jobs.session import LAUNCHER_KEYS, SparkSettings, spark_conf
from spark_jobs.step_report import CONTRACT, Materialized
from spark_jobs.steps import StepRequest, bronze, gold, silver
from spark_jobs.submit import (
    SubmitArguments,
    materialization_metadata,
    parse_arguments,
    pipes_metadata,
    step_arguments,
)

W = ArrivalWindow(date(2026, 11, 2), date(2026, 11, 4))
S3_LAKE = Lake("s3a://adlake-prod/lake", S3Options(region="eu-west-1", path_style=False))
WINDOWS = parse_windows({"default": {"click_days": 14}, "advertisers": {"adv_0003": {"view_hours": 24}}})
EMR = {
    "ADLAKE_SPARK_RUNNER": "emr_serverless",
    "ADLAKE_EMR_APPLICATION_ID": "00fabc",
    "ADLAKE_EMR_EXECUTION_ROLE_ARN": "arn:aws:iam::111122223333:role/adlake-prod-spark",
    "ADLAKE_EMR_ARTIFACTS_URI": "s3://adlake-prod/emr-artifacts",
    "ADLAKE_EMR_LOG_GROUP": "/adlake/adlake-prod/spark",
    "ADLAKE_EMR_HMAC_KEY_SECRET": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:adlake-prod/hmac-key",
}


@pytest.mark.parametrize(
    "args",
    [
        SubmitArguments(StepRequest("bronze", W, "run-1"), S3_LAKE),
        SubmitArguments(
            StepRequest("silver", W, "run-2", key_version="v7"),
            Lake("s3a://lake/root", S3Options(endpoint="http://127.0.0.1:9000", path_style=True)),
            key_secret=EMR["ADLAKE_EMR_HMAC_KEY_SECRET"],
            spark_conf=(("spark.executor.memory", "8g"), ("spark.sql.shuffle.partitions", "64")),
        ),
        SubmitArguments(StepRequest("gold", W, "run-3", windows=WINDOWS), S3_LAKE),
        SubmitArguments(StepRequest("gold", W, "run-4"), Lake("/data/lake")),
    ],
    ids=lambda a: a.request.run_id,
)
def test_the_driver_reads_the_arguments_the_runner_sends(args):
    sent = step_arguments(args)
    assert sent[0] == args.request.layer and all(isinstance(a, str) for a in sent)
    assert parse_arguments(sent) == args


def test_the_entry_point_refuses_what_it_cannot_run():
    with pytest.raises(SystemExit):
        parse_arguments(
            ["platinum", "--lake-root", "/l", "--start", "2026-11-01", "--end", "2026-11-01", "--run-id", "r"]
        )
    silver_without_key = ["silver", "--lake-root", "/l", "--start", "2026-11-01", "--end", "2026-11-01"]
    with pytest.raises(SystemExit, match="--key-secret"):
        parse_arguments([*silver_without_key, "--run-id", "r", "--key-version", "v1"])
    with pytest.raises(ValueError, match="key's version"):
        StepRequest("silver", W, "r")


def test_pipes_metadata_gives_each_value_the_type_dagster_gives_it_in_process():
    values = {"n": 3, "ok": True, "share": 0.5, "text": "a", "none": None, "rows": [1], "totals": {"a": 1}}
    typed = pipes_metadata(values)
    assert {k: v["type"] for k, v in typed.items()} == {
        "n": "int",
        "ok": "bool",
        "share": "float",
        "text": "text",
        "none": "null",
        "rows": "json",
        "totals": "json",
    }
    assert {k: v["raw_value"] for k, v in typed.items()} == values
    table = materialization_metadata(
        Materialized("bronze_clicks", "s3a://b/lake/bronze/clicks", 4, {"rows": 2})
    )
    assert table["path"] == {"raw_value": "s3a://b/lake/bronze/clicks", "type": "path"}
    assert table["delta_version"] == {"raw_value": 4, "type": "int"}
    with pytest.raises(TypeError, match="no Pipes type"):
        pipes_metadata({"when": date(2026, 11, 1)})


def test_the_artifact_is_the_same_bytes_from_the_same_sources():
    first, second = build_artifact(), build_artifact()
    assert first.zip_bytes == second.zip_bytes and first.digest == second.digest
    names = zipfile.ZipFile(io.BytesIO(first.zip_bytes)).namelist()
    assert names == sorted(names) and not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert first.entry_point == (ROOT / ENTRY_POINT).read_bytes() and ENTRY_POINT.as_posix() in names


def test_the_artifact_holds_every_first_party_module_a_step_imports_and_no_dagster(tmp_path):
    """Imports the entry point and what the steps import lazily in a fresh interpreter (no
    Spark starts), and lists the first-party modules it loaded."""
    # A script, not `python -c`: pyspark takes a __main__ without a file for its doctests, and
    # exits when Great Expectations imports pyspark.sql.connect.
    probe, listing = tmp_path / "probe.py", tmp_path / "modules.json"
    probe.write_text(
        "import json, sys\n"
        "import spark_jobs.submit, spark_jobs.expectations\n"
        "files = {m: getattr(v, '__file__', None) for m, v in list(sys.modules.items())}\n"
        "open(sys.argv[1], 'w').write(json.dumps(files))\n"
    )
    subprocess.run([sys.executable, str(probe), str(listing)], cwd=ROOT, check=True, timeout=300)
    modules: dict[str, str | None] = json.loads(listing.read_text())
    assert not [m for m in modules if m == "dagster" or m.startswith(("dagster.", "ad_assets"))]
    first_party = {
        Path(f).resolve().relative_to(ROOT).as_posix()
        for f in modules.values()
        if f and Path(f).resolve().is_relative_to(ROOT) and ".venv" not in Path(f).parts
    }
    names = set(zipfile.ZipFile(io.BytesIO(build_artifact().zip_bytes)).namelist())
    assert first_party and first_party <= names, first_party - names
    assert {p.split("/")[0] for p in first_party} == set(PACKAGES)


def test_the_runner_settings_are_read_once_and_complete():
    local = load_settings({})
    assert local.spark_runner == "local" and local.emr_application_id is None
    s = load_settings(EMR)
    resource = SparkStepsResource.from_settings(s)
    assert (resource.runner, resource.emr_application_id, resource.emr_log_group) == (
        "emr_serverless",
        "00fabc",
        "/adlake/adlake-prod/spark",
    )
    assert resource.emr_execution_role_arn == EMR["ADLAKE_EMR_EXECUTION_ROLE_ARN"]
    assert resource.emr_hmac_key_secret == EMR["ADLAKE_EMR_HMAC_KEY_SECRET"]
    for name in EMR_SETTINGS:
        with pytest.raises(ValueError, match=name):
            load_settings({k: v for k, v in EMR.items() if k != name})
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        load_settings({**EMR, "ADLAKE_EMR_ARTIFACTS_URI": "/tmp/artifacts"})
    with pytest.raises(ValueError, match="ADLAKE_SPARK_RUNNER"):
        load_settings({"ADLAKE_SPARK_RUNNER": "yarn"})


def test_the_job_runs_the_entry_point_with_the_zip_the_conf_and_its_logs_in_cloudwatch():
    runner = SparkStepsResource.from_settings(
        load_settings({**EMR, "ADLAKE_SPARK_CONF": '{"spark.executor.cores": "4"}'})
    )
    where = ArtifactLocation(
        "s3://b/emr-artifacts/abc/adlake-spark.zip", "s3://b/emr-artifacts/abc/submit.py"
    )
    lake = Lake(S3_LAKE.root, replace(S3_LAKE.s3, access_key="AKIAEXAMPLE", secret_key="wJalrEXAMPLE"))
    params = runner.submission(StepRequest("silver", W, "run-9", key_version="v2"), lake, where)
    submit = params["jobDriver"]["sparkSubmit"]
    assert params["executionRoleArn"] == EMR["ADLAKE_EMR_EXECUTION_ROLE_ARN"]
    assert submit["entryPoint"] == where.entry_point_uri
    assert submit["sparkSubmitParameters"].startswith(f"--py-files {where.zip_uri} ")
    assert "--conf spark.executor.cores=4" in submit["sparkSubmitParameters"]
    assert "AKIAEXAMPLE" not in json.dumps(params) and "wJalrEXAMPLE" not in json.dumps(params)
    assert parse_arguments(submit["entryPointArguments"]).key_secret == EMR["ADLAKE_EMR_HMAC_KEY_SECRET"]
    with pytest.raises(Failure, match="lake on S3"):
        runner.submission(StepRequest("bronze", W, "r"), Lake("/data/lake"), where)
    with pytest.raises(Failure, match="emr_hmac_key_secret"):
        SparkStepsResource(**{**runner.model_dump(), "emr_hmac_key_secret": None}).submission(
            StepRequest("silver", W, "r", key_version="v1"), S3_LAKE, where
        )
    with pytest.raises(Failure, match="spaces"):
        job_run_params(
            application_id="a",
            role_arn="r",
            name="n",
            location=where,
            arguments=[],
            spark_conf={"spark.driver.extraJavaOptions": "-Da=1 -Db=2"},
            log_group="g",
        )


def test_a_submitted_driver_keeps_the_launchers_settings_and_takes_adlakes_session_settings():
    local = spark_conf(SparkSettings())
    submitted = spark_conf(SparkSettings(master=None, extra_conf=(("spark.sql.shuffle.partitions", "64"),)))
    assert not set(LAUNCHER_KEYS) & set(submitted) and set(LAUNCHER_KEYS) <= set(local)
    assert submitted["spark.sql.extensions"] == local["spark.sql.extensions"]
    assert submitted["spark.sql.shuffle.partitions"] == "64"
    assert {k: v for k, v in local.items() if k not in LAUNCHER_KEYS} == spark_conf(
        SparkSettings(master=None)
    )


def test_the_steps_report_under_the_assets_keys_and_check_names():
    partitions = daily_partitions(DEFAULT_START_DATE)
    layers = (
        (build_bronze_tables(partitions), bronze.TABLE_ASSETS.values(), [bronze.QUARANTINE_ASSET]),
        (build_silver_tables(partitions), silver.TABLE_ASSETS.values(), []),
        (build_gold_tables(partitions), gold.TABLE_ASSETS.values(), []),
    )
    names = {
        "bronze": {CONTRACT, bronze.RAW_LINES_RECONCILE, bronze.SCHEMA_DRIFT},
        "silver": {CONTRACT, silver.RECONCILE},
        "gold": {
            gold.METRIC_BOUNDS,
            gold.RECONCILES,
            gold.ADDS_UP,
            gold.CREDITS_SUM,
            gold.TOUCHES_INSIDE,
            gold.LAST_CLICK_EQUALS,
            gold.DATA_DRIVEN_TOTALS,
            gold.AUCTION_BOUNDS,
            gold.WINS_SERVED,
            gold.VOLUME_ANOMALY,
        },
    }
    for (assets, tables, extra), layer in zip(layers, steps.LAYER_STEPS, strict=True):
        assert {k.to_user_string() for k in assets.keys} == {*tables, *extra}, layer
        assert {spec.name for spec in assets.check_specs} == names[layer], layer
