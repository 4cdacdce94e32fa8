"""Raw landing: gzip JSON Lines by arrival date and hour under raw/<event_type>/."""

import functools

import pyarrow.fs as pafs
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    Definitions,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from ad_assets.lib.partitions import daily_partitions, single_run, window_of
from ad_assets.resources import LakeResource, LogSourceResource
from ad_assets.settings import Settings
from spark_jobs.contracts import EVENT_TYPES
from spark_jobs.lake import Lake
from spark_jobs.layers import RAW
from spark_jobs.raw_files import inspect_raw_files


def landed_files(lake: Lake, event_type: str, day: str) -> list[pafs.FileInfo]:
    fs, base = lake.arrow_fs()
    sel = pafs.FileSelector(f"{base}/raw/{event_type}/dt={day}", recursive=True, allow_not_found=True)
    return [f for f in fs.get_file_info(sel) if f.is_file and f.base_name.endswith(".jsonl.gz")]


def defs_for(s: Settings) -> Definitions:
    return Definitions(assets=[build_raw_logs(daily_partitions(s.start_date))])


@functools.cache
def build_raw_logs(partitions: PartitionsDefinition) -> AssetsDefinition:
    return asset(
        name="raw_logs",
        group_name=RAW,
        partitions_def=partitions,
        backfill_policy=single_run,
        kinds={"json", "s3"},
        description="Ad-server logs (bid requests and responses, impressions, clicks, conversions) "
        "as gzip JSON Lines, by arrival date and hour. Written by the built-in simulator in the "
        "embedded default; shipped by ad servers when ADLAKE_RAW_SOURCE=landed.",
        check_specs=[
            AssetCheckSpec(
                "files_readable",
                asset="raw_logs",
                description="Every raw file of the partition is a complete, non-empty gzip. A warning: "
                "bronze quarantines an unreadable file whole and loads the rest.",
            )
        ],
    )(materialize_raw_logs)


def materialize_raw_logs(
    context: AssetExecutionContext, lake: LakeResource, log_source: LogSourceResource
) -> MaterializeResult:
    w = window_of(context)
    generating = log_source.mode == "generator"
    the_lake = lake.writable_lake("raw") if generating else lake.lake()
    meta: dict = {}
    if generating:
        report = log_source.generate(the_lake, w.arrival_dates())
        meta["generated_lines"] = MetadataValue.json(report.lines)
        context.log.info(f"generated {sum(report.lines.values()):,} lines in {report.files} files")
    files = {
        t: [f for d in w.arrival_dates() for f in landed_files(the_lake, t, d.isoformat())]
        for t in EVENT_TYPES
    }
    n_files = sum(len(v) for v in files.values())
    if n_files == 0:
        raise FileNotFoundError(
            f"no raw files for arrival dates {w.start}..{w.end} under {the_lake.raw_dir('*')}"
        )
    meta.update(
        files=n_files,
        bytes=sum(f.size for v in files.values() for f in v),
        files_per_event_type=MetadataValue.json({t: len(v) for t, v in files.items()}),
        location=the_lake.spark_path("raw"),
    )
    unreadable = [
        f for t in EVENT_TYPES for f in inspect_raw_files(the_lake, t, w.arrival_dates()).unreadable
    ]
    return MaterializeResult(
        metadata=meta,
        check_results=[
            AssetCheckResult(
                check_name="files_readable",
                passed=not unreadable,
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "unreadable_files": MetadataValue.json(
                        [{"file": f.source_file, "reason": f.reason} for f in unreadable]
                    )
                },
            )
        ],
    )
