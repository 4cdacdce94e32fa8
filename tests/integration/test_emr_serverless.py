"""The EMR Serverless runner's submission path against moto's emulated S3, EMR Serverless and
CloudWatch Logs (one light in-process server, no Spark): the real bronze, silver and gold
assets run with ADLAKE_SPARK_RUNNER=emr_serverless; the runner uploads the code, starts the
job through dagster-aws' Pipes client and reads the results back from CloudWatch.

moto runs no code: its job runs succeed at once. So the test plays the driver the moment
the job starts: it reads the job's arguments with the entry point's own parser, runs the
entry point's reporting (spark_jobs/submit.py run_and_report, the real dagster-pipes) over
a step's canned results with the Pipes bootstrap parameters the job carries, and writes what
it printed where EMR Serverless puts a driver's stdout. moto lacks get_dashboard_for_job_run,
which the client asks for; it is answered here. What only AWS can show (the image, the
zip on the Python path, the job role's access, CloudWatch delivery) is listed in
docs/deploy.md."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import boto3
import pytest
from dagster import AssetCheckSeverity, AssetsDefinition, DagsterInstance, MetadataValue, materialize
from dagster_pipes import PipesContext, decode_param
from moto.server import ThreadedMotoServer

from ad_assets.defs.bronze import build_bronze_tables
from ad_assets.defs.gold import build_gold_tables
from ad_assets.defs.silver import build_silver_tables
from ad_assets.lib.partitions import daily_partitions
from ad_assets.lib.spark_artifact import ENTRY_NAME, ZIP_NAME, build_artifact
from ad_assets.resources import (
    LakeResource,
    PseudonymKeyResource,
    SparkResource,
    SparkStepsResource,
    spark_steps,
)
from spark_jobs.attribution_windows import parse_windows
from spark_jobs.lake import Lake, S3Options
from spark_jobs.layers import ArrivalWindow
from spark_jobs.step_report import WARN, CheckOutcome, Materialized, StepResult
from spark_jobs.steps import StepRequest
from spark_jobs.submit import SubmitArguments, parse_arguments, run_and_report

REGION, ACCOUNT = "us-east-1", "123456789012"  # moto's account
BUCKET, LOG_GROUP = "adlake-test-lake", "/adlake/test/spark"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/adlake-test-spark"
KEY_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:adlake-test/hmac-key"
HMAC_KEY = "the-hmac-key-never-leaves-the-code-location"
START, DAY = "2026-11-01", "2026-11-03"
SPARK_CONF = {"spark.executor.memory": "4g"}
WINDOWS = parse_windows({"advertisers": {"adv_0003": {"click_days": 30, "view_hours": 24}}})


class NoSpark(SparkResource):
    """The assets' Spark resource, which the EMR runner must never use: no local JVM."""

    def setup_for_execution(self, context: Any) -> None:
        pass

    def session(self, lake: Lake) -> Any:
        raise AssertionError("the EMR Serverless runner started a local Spark session")


class SessionStub(NoSpark):
    """For the local runner with a stubbed step: a session it only hands on."""

    def session(self, lake: Lake) -> Any:
        return object()


@dataclass
class Aws:
    endpoint: str
    application_id: str
    s3_puts: list[str] = field(default_factory=list)
    jobs: list[dict] = field(default_factory=list)  # start_job_run's parameters, as sent
    job_run_ids: list[str] = field(default_factory=list)
    assets: AssetsDefinition | None = None  # what the driver reports on: the asset in the run

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)


def _canned(assets: AssetsDefinition, args: SubmitArguments) -> list[StepResult]:
    """What a step of `assets` yields: a table per asset, in the order of the specs (a
    multi-asset yields its assets in dependency order), then a result per check (the first
    non-blocking one fails, a warning), with metadata of every plain type."""
    tables: list[StepResult] = [
        Materialized(
            key.to_user_string(),
            f"{args.lake.root}/{key.to_user_string()}",
            delta_version=3,
            metadata={"rows": 7, "share": 0.25, "note": f"{args.request.window.start}", "sample": [{"a": 1}]},
        )
        for key in (spec.key for spec in assets.specs)
    ]
    specs = sorted(assets.check_specs, key=lambda s: (s.asset_key.to_user_string(), s.name))
    warned = next((s for s in specs if not s.blocking), None)  # silver has none
    checks: list[StepResult] = [
        CheckOutcome(
            spec.asset_key.to_user_string(),
            spec.name,
            passed=spec is not warned,
            severity=WARN if spec is warned else "ERROR",
            metadata={"mismatches": [], "totals": {"n": 1}, "none": None, "flag": spec is warned},
        )
        for spec in specs
    ]
    return tables + checks


class DriverOnStart:
    """The emr-serverless client the Pipes client uses, plus what moto does not do: its
    start_job_run also plays the job's driver (module docstring), and the dashboard URL."""

    def __init__(self, real: Any, aws: Aws) -> None:
        self._real, self._aws = real, aws

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def get_dashboard_for_job_run(self, **_: Any) -> dict:
        return {"url": "https://emr-serverless.invalid/dashboard"}

    def start_job_run(self, **params: Any) -> dict:
        response = self._real.start_job_run(**params)
        self._aws.jobs.append(json.loads(json.dumps(params)))
        self._aws.job_run_ids.append(response["jobRunId"])
        driver = params["jobDriver"]["sparkSubmit"]
        env = dict(
            re.findall(
                r"--conf spark\.emr-serverless\.driverEnv\.(\w+)=(\S+)", driver["sparkSubmitParameters"]
            )
        )
        args = parse_arguments(driver["entryPointArguments"])
        results = _canned(self._aws.assets, args)

        def step(log: Any):
            log.info(f"{args.request.layer} step of {args.request.window.start} on the driver")
            yield from results

        printed = io.StringIO()
        PipesContext._instance = None  # each job its own driver process (fresh_pipes_context restores)
        with redirect_stdout(printed):
            run_and_report(step, env)
        stream = f"/applications/{response['applicationId']}/jobs/{response['jobRunId']}/SPARK_DRIVER"
        logs = self._aws.client("logs")
        for name, text in (("stdout", printed.getvalue()), ("stderr", "spark's own log lines\n")):
            logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=f"{stream}/{name}")
            now = int(time.time() * 1000)
            events = [{"timestamp": now, "message": line} for line in text.splitlines() if line]
            logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=f"{stream}/{name}", logEvents=events)
        return response


class S3Spy:
    def __init__(self, real: Any, aws: Aws) -> None:
        self._real, self._aws = real, aws

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def put_object(self, **params: Any) -> dict:
        if params["Key"].startswith("emr-artifacts/"):  # not the lake's write probes
            self._aws.s3_puts.append(params["Key"])
        return self._real.put_object(**params)


@pytest.fixture(scope="module")
def aws():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    mp = pytest.MonkeyPatch()
    endpoint = f"http://{host}:{port}"
    for name, value in (
        ("AWS_ENDPOINT_URL", endpoint),  # every boto3 client of the runner goes to moto
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        mp.setenv(name, value)
    try:
        aws = Aws(endpoint, "")
        aws.client("s3").create_bucket(Bucket=BUCKET)
        aws.client("logs").create_log_group(logGroupName=LOG_GROUP)
        app = aws.client("emr-serverless").create_application(
            name="adlake-test-spark", releaseLabel="emr-7.12.0", type="SPARK"
        )
        aws.application_id = app["applicationId"]
        real_client = boto3.client

        def client(service: str, *args: Any, **kwargs: Any) -> Any:
            made = real_client(service, *args, **kwargs)
            return {"emr-serverless": DriverOnStart, "s3": S3Spy}.get(service, lambda c, _: c)(made, aws)

        mp.setattr(boto3, "client", client)
        yield aws
    finally:
        mp.undo()
        server.stop()


@pytest.fixture(autouse=True)
def fresh_pipes_context(monkeypatch):
    """open_dagster_pipes keeps one context per process (a driver runs one step); the
    test plays several drivers in one process, and leaves none behind."""
    monkeypatch.setattr(PipesContext, "_instance", None)


def _resources(aws: Aws) -> dict:
    return {
        "lake": LakeResource(
            root=f"s3a://{BUCKET}/lake",
            s3_endpoint=aws.endpoint,
            s3_access_key="testing",
            s3_secret_key="testing",
        ),
        "spark": NoSpark(),
        "spark_steps": SparkStepsResource(
            runner="emr_serverless",
            region=REGION,
            emr_application_id=aws.application_id,
            emr_execution_role_arn=ROLE,
            emr_artifacts_uri=f"s3://{BUCKET}/emr-artifacts",
            emr_log_group=LOG_GROUP,
            emr_hmac_key_secret=KEY_SECRET,
            spark_config=SPARK_CONF,
            poll_interval=0.2,
        ),
        "pseudonym_key": PseudonymKeyResource(key=HMAC_KEY, key_version="v3"),
    }


def _run(aws: Aws, assets: AssetsDefinition, day: str = DAY) -> tuple[Any, dict]:
    aws.assets = assets
    before = len(aws.jobs)
    result = materialize(
        [assets], partition_key=day, resources=_resources(aws), instance=DagsterInstance.ephemeral()
    )
    assert result.success
    assert len(aws.jobs) == before + 1
    return result, aws.jobs[-1]


def _recorded(result: Any) -> tuple[dict, dict]:
    """The materializations' metadata by asset and the check evaluations by (asset, check)."""
    materialized = {
        e.asset_key: dict(e.materialization.metadata) for e in result.get_asset_materialization_events()
    }
    checks = {(c.asset_key, c.check_name): c for c in result.get_asset_check_evaluations()}
    return materialized, checks


def _assert_recorded_as_the_local_runner_does(
    aws: Aws, result: Any, assets: AssetsDefinition, args: SubmitArguments, monkeypatch: Any
) -> None:
    """What Dagster recorded from the driver's messages equals what it records when the
    local runner yields the same step results in-process."""
    monkeypatch.setattr(spark_steps, "run_step", lambda *_, **__: iter(_canned(assets, args)))
    resources = {**_resources(aws), "spark": SessionStub(), "spark_steps": SparkStepsResource()}
    day = args.request.window.start.isoformat()
    local = materialize(
        [assets], partition_key=day, resources=resources, instance=DagsterInstance.ephemeral()
    )
    (emr_tables, emr_checks), (local_tables, local_checks) = _recorded(result), _recorded(local)
    assert set(emr_tables) == set(local_tables) == set(assets.keys)
    for key, metadata in local_tables.items():
        assert metadata["path"] == MetadataValue.path(f"{args.lake.root}/{key.to_user_string()}")
        assert _without_the_job(aws, emr_tables[key]) == metadata
    assert emr_checks.keys() == local_checks.keys() and len(emr_checks) == len(list(assets.check_specs))
    for name, check in local_checks.items():
        got = emr_checks[name]
        assert (got.passed, got.severity) == (check.passed, check.severity)
        assert _without_the_job(aws, dict(got.metadata)) == dict(check.metadata)


def _without_the_job(aws: Aws, metadata: dict) -> dict:
    """The metadata without what the Pipes client adds to every result: the job's ids."""
    assert metadata.pop("AWS EMR Serverless Application ID") == MetadataValue.text(aws.application_id)
    assert metadata.pop("AWS EMR Serverless Job Run ID") == MetadataValue.text(aws.job_run_ids[-1])
    return metadata


def test_bronze_uploads_its_code_once_and_starts_the_entry_point_with_its_window(aws, monkeypatch):
    partitions = daily_partitions(START)
    bronze = build_bronze_tables(partitions)
    result, job = _run(aws, bronze)
    artifact = build_artifact()

    # The code: one zip and the entry point, under the zip's content hash.
    folder = f"emr-artifacts/{artifact.digest}"
    listed = aws.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="emr-artifacts/")["Contents"]
    assert {o["Key"] for o in listed} == {f"{folder}/{ZIP_NAME}", f"{folder}/{ENTRY_NAME}"}
    body = aws.client("s3").get_object(Bucket=BUCKET, Key=f"{folder}/{ZIP_NAME}")["Body"].read()
    assert body == artifact.zip_bytes
    names = set(zipfile.ZipFile(io.BytesIO(body)).namelist())
    assert {"spark_jobs/submit.py", "spark_jobs/steps/bronze.py", "prediction/features.py"} <= names

    # The job: the configured application and role, the entry point, the layer, window and lake.
    emr = aws.client("emr-serverless")
    run = emr.get_job_run(applicationId=aws.application_id, jobRunId=aws.job_run_ids[-1])["jobRun"]
    assert run["state"] == "SUCCESS"  # moto's terminal state, at once
    assert run["executionRole"] == ROLE and job["applicationId"] == aws.application_id
    submit = job["jobDriver"]["sparkSubmit"]
    assert submit["entryPoint"] == f"s3://{BUCKET}/{folder}/{ENTRY_NAME}"
    args = parse_arguments(submit["entryPointArguments"])
    assert args == SubmitArguments(
        StepRequest("bronze", ArrivalWindow(date.fromisoformat(DAY), date.fromisoformat(DAY)), result.run_id),
        Lake(f"s3a://{BUCKET}/lake", S3Options(endpoint=aws.endpoint, region=REGION, path_style=True)),
        key_secret=None,
        spark_conf=tuple(SPARK_CONF.items()),
    )
    params = submit["sparkSubmitParameters"]
    assert f"--py-files s3://{BUCKET}/{folder}/{ZIP_NAME}" in params
    assert "--conf spark.executor.memory=4g" in params
    assert "--conf spark.driver.extraJavaOptions=-XX:-DontCompileHugeMethods" in params
    assert "testing" not in json.dumps(job)  # the lake's credentials stay here: the job has its role

    # Pipes: its bootstrap parameters in the driver's environment, the run's tags on the job.
    env = dict(re.findall(r"--conf spark\.emr-serverless\.driverEnv\.(\w+)=(\S+)", params))
    context = decode_param(env["DAGSTER_PIPES_CONTEXT"])["data"]  # the context, inline
    assert context["run_id"] == result.run_id and context["partition_key"] == DAY
    assert set(context["asset_keys"]) == {k.to_user_string() for k in bronze.keys}
    assert decode_param(env["DAGSTER_PIPES_MESSAGES"]) == {"stdio": "stdout"}
    assert job["tags"]["dagster/run-id"] == result.run_id
    logging = job["configurationOverrides"]["monitoringConfiguration"]["cloudWatchLoggingConfiguration"]
    assert logging == {"enabled": True, "logGroupName": LOG_GROUP}

    # The results: what the driver reported, as Dagster records them from the local runner.
    drift = next(c for c in result.get_asset_check_evaluations() if c.check_name == "schema_drift")
    assert not drift.passed and drift.severity == AssetCheckSeverity.WARN
    _assert_recorded_as_the_local_runner_does(aws, result, bronze, args, monkeypatch)

    # A second run of the same code uploads nothing.
    puts = len(aws.s3_puts)
    _run(aws, bronze, day="2026-11-04")
    assert aws.s3_puts[puts:] == [] and aws.s3_puts == [f"{folder}/{ENTRY_NAME}", f"{folder}/{ZIP_NAME}"]


def test_silver_sends_the_key_secret_and_version_never_the_key(aws, monkeypatch):
    silver = build_silver_tables(daily_partitions(START))
    result, job = _run(aws, silver)
    args = parse_arguments(job["jobDriver"]["sparkSubmit"]["entryPointArguments"])
    assert args.request.layer == "silver" and args.request.key_version == "v3"
    assert args.key_secret == KEY_SECRET
    assert HMAC_KEY not in json.dumps(job)
    _assert_recorded_as_the_local_runner_does(aws, result, silver, args, monkeypatch)


def test_gold_sends_the_attribution_windows(aws, monkeypatch):
    gold = build_gold_tables(daily_partitions(START), WINDOWS)
    result, job = _run(aws, gold)
    args = parse_arguments(job["jobDriver"]["sparkSubmit"]["entryPointArguments"])
    assert args.request.layer == "gold" and args.request.windows == WINDOWS
    assert job["name"] == f"adlake-gold-{DAY}-{DAY}"
    _assert_recorded_as_the_local_runner_does(aws, result, gold, args, monkeypatch)
