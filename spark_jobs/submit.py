"""spark-submit entry point of the layer steps: `spark-submit submit.py <layer> --lake-root ...
--start D --end D --run-id ID` builds the session spark-submit launched, runs the layer's
step (spark_jobs/steps) and reports what it yields through Dagster Pipes when Dagster
started it (EMR Serverless: ad_assets/resources/spark_steps.py), else prints it as JSON
lines. spark_jobs/ travels beside it as a zip (--py-files).

`step_arguments` and `parse_arguments` are each other's inverse: the runner builds the
arguments with the first, the driver reads them with the second (tests/unit/test_submit.py).
No Dagster import here: dagster-pipes is a small package of its own."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from dagster_pipes import PipesContext, PipesMappingParamsLoader, open_dagster_pipes

from spark_jobs.attribution_windows import parse_windows
from spark_jobs.lake import Lake, S3Options
from spark_jobs.layers import GOLD, SILVER, ArrivalWindow
from spark_jobs.session import SparkSettings, build_spark
from spark_jobs.step_report import CheckOutcome, Log, Materialized, Metadata, StepResult
from spark_jobs.steps import LAYER_STEPS, StepRequest, run_step


@dataclass(frozen=True)
class SubmitArguments:
    request: StepRequest
    lake: Lake  # no credentials: the driver uses the job's role
    key_secret: str | None = None  # silver: Secrets Manager id of the HMAC key
    spark_conf: tuple[tuple[str, str], ...] = ()  # over AdLake's session settings, as locally


def step_arguments(args: SubmitArguments) -> list[str]:
    """The entry point's arguments for `args` (what the runner sends)."""
    r, lake = args.request, args.lake
    out = [r.layer, "--lake-root", lake.root, "--start", r.window.start.isoformat()]
    out += ["--end", r.window.end.isoformat(), "--run-id", r.run_id]
    if lake.s3:
        if lake.s3.endpoint:
            out += ["--s3-endpoint", lake.s3.endpoint]
        out += ["--s3-region", lake.s3.region, "--s3-path-style", str(lake.s3.path_style).lower()]
    if r.key_version:
        out += ["--key-version", r.key_version]
    if args.key_secret:
        out += ["--key-secret", args.key_secret]
    if r.layer == GOLD:
        out += ["--attribution-windows", json.dumps(r.windows.as_dict(), sort_keys=True)]
    if args.spark_conf:
        out += ["--spark-conf", json.dumps(dict(args.spark_conf), sort_keys=True)]
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="submit.py", description="Run one AdLake layer step on Spark.")
    p.add_argument("layer", choices=LAYER_STEPS)
    p.add_argument("--lake-root", required=True)
    p.add_argument("--start", required=True, type=date.fromisoformat, help="first arrival date")
    p.add_argument("--end", required=True, type=date.fromisoformat, help="last arrival date")
    p.add_argument("--run-id", required=True, help="the Dagster run (batch id, quality rows)")
    p.add_argument("--s3-endpoint")
    p.add_argument("--s3-region", default="us-east-1")
    p.add_argument("--s3-path-style", choices=("true", "false"), default="false")
    p.add_argument("--key-version", help="silver: the HMAC key's version")
    p.add_argument("--key-secret", help="silver: Secrets Manager id of the HMAC key")
    p.add_argument("--attribution-windows", type=json.loads, help="gold: the windows, as JSON")
    p.add_argument("--spark-conf", type=json.loads, default={}, help="Spark settings, a JSON object")
    return p


def parse_arguments(argv: Sequence[str]) -> SubmitArguments:
    a = _parser().parse_args(argv)
    s3 = None
    if Lake(a.lake_root).is_s3:
        s3 = S3Options(endpoint=a.s3_endpoint, region=a.s3_region, path_style=a.s3_path_style == "true")
    request = StepRequest(
        a.layer,
        ArrivalWindow(a.start, a.end),
        a.run_id,
        key_version=a.key_version,
        windows=parse_windows(a.attribution_windows, "--attribution-windows"),
    )
    if a.layer == SILVER and not a.key_secret:
        raise SystemExit("submit.py: the silver step needs --key-secret (the HMAC key's secret)")
    conf = tuple((str(k), str(v)) for k, v in a.spark_conf.items())
    return SubmitArguments(request, Lake(a.lake_root, s3), a.key_secret, conf)


# ---------------------------------------------------------------- Pipes
# The Pipes metadata type of a plain value: Dagster's type for it in-process (bool before
# int: a bool is an int too; a list or a dict is JSON).
_PIPES_TYPES: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("bool", bool),
    ("int", int),
    ("float", float),
    ("text", str),
    ("json", (list, dict)),
)


def _pipes_type(value: Any) -> str:
    if value is None:
        return "null"
    for kind, types in _PIPES_TYPES:
        if isinstance(value, types):
            return kind
    raise TypeError(f"metadata value {value!r} has no Pipes type")


def pipes_metadata(values: Metadata) -> dict[str, dict[str, Any]]:
    return {k: {"raw_value": v, "type": _pipes_type(v)} for k, v in values.items()}


def materialization_metadata(m: Materialized) -> dict[str, dict[str, Any]]:
    return {
        "path": {"raw_value": m.path, "type": "path"},
        "delta_version": {"raw_value": m.delta_version, "type": "int"},
        **pipes_metadata(m.metadata),
    }


def report(pipes: PipesContext, result: StepResult) -> None:
    """One result of a step as a Pipes message."""
    if isinstance(result, Materialized):
        pipes.report_asset_materialization(metadata=materialization_metadata(result), asset_key=result.asset)
    elif isinstance(result, CheckOutcome):
        pipes.report_asset_check(
            result.name,
            result.passed,
            severity=result.severity,
            metadata=pipes_metadata(result.metadata),
            asset_key=result.asset,
        )


# ---------------------------------------------------------------- the driver
def read_key(secret_id: str, region: str) -> bytes:
    """The HMAC key from Secrets Manager, as the code location gets it (ADLAKE_HMAC_KEY)."""
    import boto3  # the driver's only AWS call outside the lake

    secret = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=secret_id)
    return secret["SecretString"].encode()


def run_and_report(step: Callable[[Log], Iterator[StepResult]], environ: Mapping[str, str]) -> None:
    """Run `step`, reporting each result through Dagster Pipes when Dagster launched this
    driver (its bootstrap parameters are in `environ`), else printing it as a JSON line.
    A failure reaches Dagster too (Pipes' closing message), then fails the job."""
    params = PipesMappingParamsLoader(environ)
    if params.is_dagster_pipes_process():
        with open_dagster_pipes(params_loader=params) as pipes:
            for result in step(pipes.log):
                report(pipes, result)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for result in step(logging.getLogger("adlake")):
        print(json.dumps({"kind": type(result).__name__, **asdict(result)}, default=str), flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    r = args.request
    settings = SparkSettings(master=None, app_name=f"adlake-{r.layer}", extra_conf=args.spark_conf)
    session = build_spark(settings, args.lake)
    key = None
    if r.layer == SILVER and args.key_secret:
        key = read_key(args.key_secret, args.lake.s3.region if args.lake.s3 else "us-east-1")
    run_and_report(lambda log: run_step(session, args.lake, r, log, key), os.environ)


if __name__ == "__main__":
    main()
