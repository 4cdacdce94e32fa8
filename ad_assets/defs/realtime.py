"""The real-time path in Dagster (docs/streaming.md): the lake landing of what Kafka
holds, the counters query's health, and the stream-versus-batch reconciliation.

The counters query itself runs outside Dagster (`adlake stream up`: a long-lived driver is
a service, not a step); Dagster lands the stream into the lake on its own cadence and
judges both. None of this is in the daily job: it needs Kafka and Redis."""

import time
from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from ad_assets.lib.partitions import daily_partitions
from ad_assets.resources import LakeResource, SparkResource
from ad_assets.resources.stream import StreamResource
from ad_assets.settings import Settings
from spark_jobs.contracts import MAX_LATENESS
from spark_jobs.stream_layout import REALTIME

LAND_JOB = "land_stream"
RECONCILE_JOB = "reconcile_stream"
# The counters are stale when the last batch is older than this while Kafka holds unread
# records; lag is judged per run of the health asset.
STALE_AFTER = timedelta(seconds=60)
MAX_LAG = 1_000_000  # records: about 10 s of traffic at 100k events/s


def defs_for(s: Settings) -> Definitions:
    partitions = daily_partitions(s.start_date)
    reconciliation = build_reconciliation(partitions)
    land = define_asset_job(LAND_JOB, selection=AssetSelection.assets(raw_stream_landing))
    reconcile = define_asset_job(
        RECONCILE_JOB,
        selection=AssetSelection.assets(reconciliation),
        partitions_def=partitions,
        description="Live counters of an event date versus gold.campaign_daily (after its lateness window).",
    )
    return Definitions(
        assets=[raw_stream_landing, stream_counters, reconciliation],
        jobs=[land, reconcile],
        # Stopped by default: they need the stream running (`adlake stream up`).
        schedules=[
            ScheduleDefinition(
                name="land_stream_every_10_minutes",
                job=land,
                cron_schedule="*/10 * * * *",
                default_status=DefaultScheduleStatus.STOPPED,
            )
        ],
        resources={
            "stream": StreamResource(
                kafka_bootstrap=s.kafka_bootstrap, redis_url=s.redis_url, home=str(s.stream_home)
            )
        },
    )


@asset(
    group_name=REALTIME,
    pool="spark",
    description="Every Kafka record not yet landed, written as it came into raw/ (by arrival date and "
    "hour), exactly once across restarts (spark_jobs/stream_landing.py); the daily job reads them.",
    check_specs=[
        AssetCheckSpec(
            "every_record_landed",
            asset="raw_stream_landing",
            description="The lines of the files written, counted back from them, equal the records read.",
        )
    ],
)
def raw_stream_landing(
    context: AssetExecutionContext, lake: LakeResource, spark: SparkResource, stream: StreamResource
) -> MaterializeResult:
    from spark_jobs.stream_landing import land

    the_lake = lake.writable_lake("raw")
    report = land(spark.session(the_lake), stream.kafka_bootstrap, the_lake, stream.landing_checkpoint())
    lines = sum(report.lines.values())
    context.log.info(f"landed {lines} lines in {report.files} files")
    return MaterializeResult(
        metadata={
            "batches": report.batches,
            "files": report.files,
            "lines": lines,
            "lines_per_event_type": MetadataValue.json(report.lines),
        },
        check_results=[
            AssetCheckResult(
                check_name="every_record_landed",
                passed=lines == report.lines_written,
                metadata={"records_read": lines, "lines_written": report.lines_written},
            )
        ],
    )


@asset(
    group_name=REALTIME,
    description="The live counters in Redis as the counters query keeps them: its last batch, what it "
    "counted, how far it is behind Kafka.",
    check_specs=[
        AssetCheckSpec("counters_complete", asset="stream_counters"),
        AssetCheckSpec("counters_fresh", asset="stream_counters"),
        AssetCheckSpec("consumer_lag", asset="stream_counters", description=f"at most {MAX_LAG:,} records"),
    ],
)
def stream_counters(stream: StreamResource):
    from pathlib import Path

    from ad_assets.realtime.status import counters_status, lag

    st = counters_status(stream.redis_url)
    behind = lag(stream.kafka_bootstrap, Path(stream.counters_checkpoint()))
    age = st.seconds_since_batch
    yield MaterializeResult(
        metadata={
            "last_batch": st.last_batch if st.last_batch is not None else -1,
            "seconds_since_batch": round(age, 1) if age is not None else -1.0,
            "events_counted": st.events,
            "late_events": st.late,
            "dead_letters": st.dead_letter,
            "lag_records": behind,
        }
    )
    yield AssetCheckResult(
        check_name="counters_complete",
        passed=not st.incomplete,
        metadata={"incomplete": MetadataValue.json(st.incomplete)},
        description=st.incomplete.get("reason") if st.incomplete else None,
    )
    fresh = behind == 0 or (age is not None and age <= STALE_AFTER.total_seconds())
    yield AssetCheckResult(
        check_name="counters_fresh",
        passed=fresh,
        metadata={"seconds_since_batch": round(age, 1) if age is not None else -1.0, "lag_records": behind},
    )
    yield AssetCheckResult(
        check_name="consumer_lag",
        passed=behind <= MAX_LAG,
        severity=AssetCheckSeverity.WARN,
        metadata={"lag_records": behind},
    )


def build_reconciliation(partitions):
    @asset(
        name="stream_reconciliation",
        group_name=REALTIME,
        partitions_def=partitions,
        deps=[AssetKey("gold_campaign_daily")],
        description="Per campaign, an event date's live counters plus its late events versus "
        "gold.campaign_daily's valid impressions, clicks and spend (spark_jobs/stream_reconcile.py).",
        check_specs=[AssetCheckSpec("stream_matches_batch", asset="stream_reconciliation")],
    )
    def stream_reconciliation(context: AssetExecutionContext, lake: LakeResource, stream: StreamResource):
        from ad_assets.realtime.status import day_totals
        from spark_jobs.stream_reconcile import reconcile

        day = date.fromisoformat(context.partition_key)
        # Gold takes events up to MAX_LATENESS after the day (through the landing and the
        # daily rerun); before then a difference would only say "not landed yet".
        closes = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + MAX_LATENESS
        if time.time() < closes.timestamp():
            raise RuntimeError(
                f"events of {day} may arrive until {closes:%Y-%m-%d %H:%M} UTC: reconcile after that "
                "(and after the landing and the daily run of that arrival date)"
            )
        batch = _gold_day(lake, day)
        live, late = day_totals(stream.redis_url, day.isoformat())
        r = reconcile(batch, live, late)
        yield MaterializeResult(
            metadata={
                "campaigns": r.campaigns,
                "batch": MetadataValue.json(r.batch),
                "live": MetadataValue.json(r.live),
                "late": MetadataValue.json(r.late),
                "differences": len(r.differences),
            }
        )
        yield AssetCheckResult(
            check_name="stream_matches_batch",
            passed=r.matches,
            metadata={"differences": MetadataValue.json(r.differences[:50])},
            description=None if r.matches else f"{len(r.differences)} campaign figures differ",
        )

    return stream_reconciliation


def _gold_day(lake: LakeResource, day: date) -> dict[str, dict[str, int]]:
    """gold.campaign_daily of one event date, read with delta-rs (no Spark needed)."""
    from spark_jobs.lake_read import open_table
    from spark_jobs.stream_reconcile import RECONCILED

    table = open_table(lake.lake(), "gold", "campaign_daily")
    rows = table.to_pyarrow_table(filters=[("event_date", "=", day)], columns=["campaign_id", *RECONCILED])
    out: dict[str, dict[str, int]] = {}
    for r in rows.to_pylist():
        totals = out.setdefault(r["campaign_id"], dict.fromkeys(RECONCILED, 0))
        for m in RECONCILED:
            totals[m] += int(r[m] or 0)
    return out
