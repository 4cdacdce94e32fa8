"""Keeping the lake fresh: a daily schedule for yesterday's arrival date, and a sensor
that starts a run when new raw files land (for logs shipped from outside)."""

import json
from collections.abc import Sequence

from dagster import (
    AssetChecksDefinition,
    AssetSelection,
    DagsterRunStatus,
    DefaultSensorStatus,
    Definitions,
    PartitionsDefinition,
    RunRequest,
    RunStatusSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    build_schedule_from_partitioned_job,
    define_asset_job,
    run_status_sensor,
    sensor,
)

from ad_assets.defs.prediction import PREDICTION, TRAIN_JOB, training_selection
from ad_assets.defs.quality import build_freshness_checks
from ad_assets.defs.raw import landed_files
from ad_assets.lib.partitions import (
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    daily_partitions,
)
from ad_assets.resources import LakeResource
from ad_assets.settings import Settings
from spark_jobs.contracts import EVENT_TYPES
from spark_jobs.erasure import PRIVACY
from spark_jobs.layers import ALERTS
from spark_jobs.stream_layout import REALTIME

LAKEHOUSE_JOB = "lakehouse_daily"
REPROCESS_JOB = "reprocess_landed"
GOLD_ONWARDS_JOB = "gold_onwards"


def defs_for(s: Settings) -> Definitions:
    partitions = daily_partitions(s.start_date)
    lakehouse, reprocess, gold_onwards = build_jobs(partitions, build_freshness_checks(s.freshness_deadline))
    train = define_asset_job(
        TRAIN_JOB,
        selection=training_selection(),
        partitions_def=partitions,
        description="CTR features -> model -> promotion for one arrival date's lake (after the daily run).",
    )
    return Definitions(
        jobs=[lakehouse, reprocess, gold_onwards, train],
        schedules=[build_schedule_from_partitioned_job(lakehouse, hour_of_day=1, minute_of_hour=30)],
        sensors=[
            build_landing_sensor(lakehouse, partitions, enabled=s.raw_source == "landed"),
            build_training_sensor(lakehouse, train),
        ],
    )


def build_jobs(partitions: PartitionsDefinition, freshness_checks: Sequence[AssetChecksDefinition]) -> tuple:
    """The daily job, the reprocessing job and the gold-onwards job (define_asset_job's
    result has no public type).
    Neither runs `freshness_checks`: freshness is judged on a clock (their sensor), not by
    the runs themselves."""
    # The erasure log is written by its own job, for one request (ad_assets/defs/erasure.py).
    # The real-time group needs Kafka and Redis: its own jobs (ad_assets/defs/realtime.py).
    # The model trains in a job of its own, after this one (build_training_sensor); the KPI
    # alerts are evaluated by theirs (ad_assets/defs/alerts.py).
    everything = (
        AssetSelection.all()
        - AssetSelection.checks(*freshness_checks)
        - AssetSelection.groups(PRIVACY, REALTIME, PREDICTION, ALERTS)
    )
    lakehouse = define_asset_job(
        LAKEHOUSE_JOB,
        selection=everything,
        partitions_def=partitions,
        description="raw -> bronze -> silver -> gold -> marts for one arrival date (or a range, in one run).",
    )
    # Reprocessing what has already landed (after a fix to the parser, the contract or a
    # re-delivered file): every asset but raw_logs, so the raw files are read, never rewritten.
    reprocess = define_asset_job(
        REPROCESS_JOB,
        selection=everything - AssetSelection.assets("raw_logs"),
        partitions_def=partitions,
        description="bronze -> silver -> gold -> marts from the raw files already landed "
        "(replays quarantine).",
    )
    # After a change that only gold and what follows it depend on (attribution windows, a
    # gold or mart definition): silver is read as it is.
    gold_onwards = define_asset_job(
        GOLD_ONWARDS_JOB,
        selection=(
            AssetSelection.groups("gold").downstream()
            # the quality mart: the gold checks record their results in the lake
            | AssetSelection.assets("quality_check_results").downstream(include_self=False)
        )
        - AssetSelection.checks(*freshness_checks)
        - AssetSelection.groups(REALTIME, PREDICTION, ALERTS),
        partitions_def=partitions,
        description="gold -> evaluation -> marts from silver as it is (after a change of attribution "
        "windows, docs/attribution.md).",
    )
    return lakehouse, reprocess, gold_onwards


def build_landing_sensor(job, partitions: PartitionsDefinition, enabled: bool) -> SensorDefinition:
    @sensor(
        job=job,
        minimum_interval_seconds=300,
        default_status=DefaultSensorStatus.RUNNING if enabled else DefaultSensorStatus.STOPPED,
        description="Starts a run for an arrival date when its raw files change (count or size).",
    )
    def raw_landing_sensor(context: SensorEvaluationContext, lake: LakeResource):
        seen: dict[str, list[int]] = json.loads(context.cursor or "{}")
        the_lake = lake.lake()
        requests = []
        for day in partitions.get_partition_keys()[-3:]:  # late files land up to 48 h on
            files = [f for t in EVENT_TYPES for f in landed_files(the_lake, t, day)]
            fingerprint = [len(files), sum(f.size for f in files)]
            if files and seen.get(day) != fingerprint:
                seen[day] = fingerprint
                requests.append(RunRequest(partition_key=day, run_key=f"{day}:{fingerprint}"))
        context.update_cursor(json.dumps(seen))
        return requests or SkipReason("no new raw files")

    return raw_landing_sensor


def build_training_sensor(lakehouse, train) -> SensorDefinition:
    @run_status_sensor(
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[lakehouse],
        request_job=train,
        default_status=DefaultSensorStatus.RUNNING,
        description="Trains the CTR model on the lake each successful daily run leaves, for the same "
        "arrival dates (a failed promotion fails this run, not the lake's).",
    )
    def train_after_daily_run(context: RunStatusSensorContext):
        tags = context.dagster_run.tags
        run_key = f"after-{context.dagster_run.run_id}"
        if PARTITION_RANGE_START_TAG in tags:
            span = {k: tags[k] for k in (PARTITION_RANGE_START_TAG, PARTITION_RANGE_END_TAG)}
            return RunRequest(run_key=run_key, tags=span)
        if key := tags.get("dagster/partition"):
            return RunRequest(run_key=run_key, partition_key=key)
        return SkipReason("the daily run had no partition")

    return train_after_daily_run
