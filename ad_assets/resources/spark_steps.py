"""Where the bronze, silver and gold Spark steps run (ADLAKE_SPARK_RUNNER). The assets hand
the runner a StepRequest; the step itself is one function of spark_jobs/steps either way:

- `local`: in this process, on the SparkResource's session (local mode, or a standalone
  cluster through ADLAKE_SPARK_MASTER), its results turned into Dagster's here;
- `emr_serverless`: spark_jobs/ zipped and uploaded to S3 under its content hash
  (ad_assets/lib/spark_artifact.py), the entry point spark_jobs/submit.py started on the
  EMR Serverless application through Dagster Pipes (dagster-aws' PipesEMRServerlessClient);
  the driver reports the same results as Pipes messages on its stdout, which Dagster reads
  back from CloudWatch Logs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    ConfigurableResource,
    Failure,
    MaterializeResult,
    MetadataValue,
)
from pydantic import Field

from ad_assets.lib.spark_artifact import Artifact, ArtifactLocation, build_artifact, upload_artifact
from ad_assets.resources.spark import SparkResource
from ad_assets.settings import SPARK_RUNNERS, Settings
from spark_jobs.lake import Lake
from spark_jobs.layers import SILVER
from spark_jobs.session import JIT_OPTION
from spark_jobs.step_report import CheckOutcome, Materialized, Metadata, StepResult
from spark_jobs.steps import StepRequest, run_step
from spark_jobs.submit import SubmitArguments, step_arguments

LOCAL, EMR_SERVERLESS = SPARK_RUNNERS

StepOutput = MaterializeResult | AssetCheckResult


class SparkStepsResource(ConfigurableResource):
    """Runs a layer step locally or on EMR Serverless (module docstring)."""

    runner: str = LOCAL
    region: str = "us-east-1"
    emr_application_id: str | None = None
    emr_execution_role_arn: str | None = None
    emr_artifacts_uri: str | None = None  # s3://bucket/prefix for the zip and the entry point
    emr_log_group: str | None = None  # CloudWatch: the jobs' logs, and Pipes' messages in them
    emr_hmac_key_secret: str | None = None  # Secrets Manager id of the HMAC key (silver)
    spark_config: dict[str, str] = Field(default_factory=dict)  # ADLAKE_SPARK_CONF, for the jobs
    poll_interval: float = 10.0  # seconds between two looks at a job's state

    @classmethod
    def from_settings(cls, s: Settings) -> SparkStepsResource:
        return cls(
            runner=s.spark_runner,
            region=s.s3_region,
            emr_application_id=s.emr_application_id,
            emr_execution_role_arn=s.emr_execution_role_arn,
            emr_artifacts_uri=s.emr_artifacts_uri,
            emr_log_group=s.emr_log_group,
            emr_hmac_key_secret=s.emr_hmac_key_secret,
            spark_config=dict(s.spark_conf),
        )

    def run(
        self,
        context: AssetExecutionContext,
        request: StepRequest,
        *,
        lake: Lake,
        spark: SparkResource,
        key: Callable[[], bytes] | None = None,
    ) -> Iterator[StepOutput]:
        """The step's materializations, then its check results. `key`: the HMAC key (silver),
        read only when the step runs here; on EMR the driver reads it from Secrets Manager."""
        if self.runner == LOCAL:
            session = spark.session(lake)
            the_key = key() if request.layer == SILVER and key else None
            for result in run_step(session, lake, request, context.log, the_key):
                yield dagster_result(result)
        elif self.runner == EMR_SERVERLESS:
            yield from self._on_emr_serverless(context, request, lake)
        else:
            raise Failure(
                f"unknown Spark runner {self.runner!r}; one of {SPARK_RUNNERS}", allow_retries=False
            )

    # ------------------------------------------------------------ EMR Serverless
    def submission(self, request: StepRequest, lake: Lake, location: ArtifactLocation) -> dict[str, Any]:
        """start_job_run's parameters for `request` (before Pipes adds its own)."""
        self._check(request, lake)
        # The driver uses the job's role: no credential travels in the job's arguments.
        s3 = replace(lake.s3, access_key=None, secret_key=None) if lake.s3 else None
        arguments = SubmitArguments(
            request,
            Lake(lake.root, s3),
            key_secret=self.emr_hmac_key_secret if request.layer == SILVER else None,
            spark_conf=tuple(self.spark_config.items()),
        )
        return job_run_params(
            application_id=self.emr_application_id or "",
            role_arn=self.emr_execution_role_arn or "",
            name=f"adlake-{request.layer}-{request.window.start}-{request.window.end}",
            location=location,
            arguments=step_arguments(arguments),
            spark_conf=self.spark_config,
            log_group=self.emr_log_group or "",
        )

    def _check(self, request: StepRequest, lake: Lake) -> None:
        """Refuse, before any upload, a step this runner cannot submit."""
        if not lake.is_s3:
            raise Failure(f"EMR Serverless steps need the lake on S3, not {lake.root}", allow_retries=False)
        missing = [
            name
            for name in ("emr_application_id", "emr_execution_role_arn", "emr_artifacts_uri", "emr_log_group")
            if not getattr(self, name)
        ]
        if request.layer == SILVER and not self.emr_hmac_key_secret:
            missing.append("emr_hmac_key_secret")
        if missing:
            raise Failure(f"the EMR Serverless runner lacks {missing} (docs/deploy.md)", allow_retries=False)

    def _on_emr_serverless(
        self, context: AssetExecutionContext, request: StepRequest, lake: Lake
    ) -> Iterator[StepOutput]:
        import boto3  # only this runner talks to AWS

        self._check(request, lake)
        location = upload_artifact(
            boto3.client("s3", region_name=self.region), self.emr_artifacts_uri or "", _artifact()
        )
        context.log.info(f"{request.layer} step on EMR Serverless, code {location.zip_uri}")
        params = self.submission(request, lake, location)
        invocation = _pipes_client(self.region, self.poll_interval).run(
            context=context, start_job_run_params=params
        )
        # No implicit materializations: a table the driver did not report fails the step.
        yield from invocation.get_results(implicit_materializations=False)


def _pipes_client(region: str, poll_interval: float) -> Any:
    """dagster-aws' EMR Serverless Pipes client, reading the driver's messages from CloudWatch.
    Imported here: dagster-aws adds seconds to every process that loads the definitions."""
    import boto3
    from dagster_aws.pipes import PipesCloudWatchMessageReader, PipesEMRServerlessClient

    class MessagesOnlyReader(PipesCloudWatchMessageReader):
        def add_log_reader(self, log_reader: Any) -> None:
            # dagster-aws would also copy the driver's stdout and stderr here, each with a
            # thread that polls CloudWatch without pause and never ends once the stream stops
            # growing. The step's results and log lines come as messages; the driver's own
            # logs stay in the log group.
            return

    return PipesEMRServerlessClient(
        client=boto3.client("emr-serverless", region_name=region),
        message_reader=MessagesOnlyReader(client=boto3.client("logs", region_name=region)),
        poll_interval=poll_interval,
    )


@functools.cache
def _artifact() -> Artifact:
    """Zipped once per process: the code does not change under a running code location."""
    return build_artifact()


def job_run_params(
    *,
    application_id: str,
    role_arn: str,
    name: str,
    location: ArtifactLocation,
    arguments: list[str],
    spark_conf: dict[str, str],
    log_group: str,
) -> dict[str, Any]:
    """EMR Serverless start_job_run parameters: the entry point with its arguments, the zip on
    the Python path, AdLake's JVM option and ADLAKE_SPARK_CONF for the launcher, and the
    driver's stdout in CloudWatch (where Pipes reads the step's results)."""
    conf = {
        "spark.driver.extraJavaOptions": JIT_OPTION,
        "spark.executor.extraJavaOptions": JIT_OPTION,
        **spark_conf,
    }
    if spaced := [k for k, v in conf.items() if any(c.isspace() for c in f"{k}{v}")]:
        # sparkSubmitParameters is one string split on spaces.
        raise Failure(f"Spark settings with spaces cannot be submitted to EMR Serverless: {spaced}")
    submit = " ".join([f"--py-files {location.zip_uri}", *(f"--conf {k}={v}" for k, v in conf.items())])
    return {
        "applicationId": application_id,
        "executionRoleArn": role_arn,
        "name": name,
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": location.entry_point_uri,
                "entryPointArguments": arguments,
                "sparkSubmitParameters": submit,
            }
        },
        "configurationOverrides": {
            "monitoringConfiguration": {
                "cloudWatchLoggingConfiguration": {"enabled": True, "logGroupName": log_group}
            }
        },
    }


# ------------------------------------------------------------ local results
def _value(value: Any) -> Any:
    return MetadataValue.json(value) if isinstance(value, list | dict) else value


def _metadata(values: Metadata) -> dict[str, Any]:
    return {k: _value(v) for k, v in values.items()}


def dagster_result(result: StepResult) -> StepOutput:
    """A step's result as Dagster's: the metadata the driver sends over Pipes
    (spark_jobs/submit.py pipes_metadata) resolves to the same values."""
    if isinstance(result, Materialized):
        return MaterializeResult(
            asset_key=AssetKey(result.asset),
            metadata={
                "path": MetadataValue.path(result.path),
                "delta_version": result.delta_version,
                **_metadata(result.metadata),
            },
        )
    if isinstance(result, CheckOutcome):
        return AssetCheckResult(
            check_name=result.name,
            asset_key=AssetKey(result.asset),
            passed=result.passed,
            severity=AssetCheckSeverity(result.severity),
            metadata=_metadata(result.metadata),
        )
    raise TypeError(f"not a step result: {result!r}")
