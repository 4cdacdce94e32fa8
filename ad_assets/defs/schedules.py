"""Keeping the lake fresh: a daily schedule for yesterday's arrival date, and a sensor
that starts a run when new raw files land (for logs shipped from outside)."""

import json

from dagster import (
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    build_schedule_from_partitioned_job,
    define_asset_job,
    sensor,
)

from ad_assets.defs.partitions import daily_partitions
from ad_assets.defs.quality_checks import freshness_checks
from ad_assets.defs.raw import landed_files, raw_logs
from ad_assets.resources import LakeResource
from spark_jobs.contracts import EVENT_TYPES

# Freshness is judged on a clock (freshness_checks_sensor), not by the runs themselves.
_EVERYTHING = AssetSelection.all() - AssetSelection.checks(*freshness_checks)

lakehouse_job = define_asset_job(
    "lakehouse_daily",
    selection=_EVERYTHING,
    partitions_def=daily_partitions,
    description="raw -> bronze -> silver -> gold -> marts for one arrival date (or a range, in one run).",
)

# Reprocessing what has already landed (after a fix to the parser, the contract or a
# re-delivered file): every asset but raw_logs, so the raw files are read, never rewritten.
reprocess_job = define_asset_job(
    "reprocess_landed",
    selection=_EVERYTHING - AssetSelection.assets(raw_logs),
    partitions_def=daily_partitions,
    description="bronze -> silver -> gold -> marts from the raw files already landed (replays quarantine).",
)

daily_schedule = build_schedule_from_partitioned_job(lakehouse_job, hour_of_day=1, minute_of_hour=30)


def build_landing_sensor(enabled: bool):
    @sensor(
        job=lakehouse_job,
        minimum_interval_seconds=300,
        default_status=DefaultSensorStatus.RUNNING if enabled else DefaultSensorStatus.STOPPED,
        description="Starts a run for an arrival date when its raw files change (count or size).",
    )
    def raw_landing_sensor(context: SensorEvaluationContext, lake: LakeResource):
        seen: dict[str, list[int]] = json.loads(context.cursor or "{}")
        the_lake = lake.lake()
        requests = []
        for day in daily_partitions.get_partition_keys()[-3:]:  # late files land up to 48 h on
            files = [f for t in EVENT_TYPES for f in landed_files(the_lake, t, day)]
            fingerprint = [len(files), sum(f.size for f in files)]
            if files and seen.get(day) != fingerprint:
                seen[day] = fingerprint
                requests.append(RunRequest(partition_key=day, run_key=f"{day}:{fingerprint}"))
        context.update_cursor(json.dumps(seen))
        return requests or SkipReason("no new raw files")

    return raw_landing_sensor
