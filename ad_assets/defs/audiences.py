"""Audiences: user segments by day and their history, from consented silver events
(spark_jobs/segments.py; the rules in spark_jobs/segment_rules.py, docs/segments.md).
Gold tables, so they sit in the gold group, in a step of their own beside the campaign
tables."""

import functools
from collections import defaultdict

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Definitions,
    MetadataValue,
    PartitionsDefinition,
    multi_asset,
)
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ad_assets.defs.silver import SILVER_KEYS
from ad_assets.lib.check_results import error_check
from ad_assets.lib.materializations import table_result
from ad_assets.lib.outages import STORAGE_RETRY, outage_aware
from ad_assets.lib.partitions import daily_partitions, single_run, window_of
from ad_assets.quality.results import record
from ad_assets.resources import LakeResource, SparkResource
from ad_assets.settings import Settings
from spark_jobs import attribution
from spark_jobs.consent import user_level
from spark_jobs.contracts import TABLE_NAMES
from spark_jobs.delta_io import read_rewritten
from spark_jobs.lake import Lake
from spark_jobs.lake_read import delta_row_counts
from spark_jobs.layers import GOLD, SILVER, ArrivalWindow
from spark_jobs.pipeline import run_segments
from spark_jobs.segment_rules import (
    AUDIENCE_TABLES,
    DEFAULT_RULES,
    SEGMENT_HISTORY,
    SEGMENTS,
    USER_ACTIVITY,
    USER_SEGMENTS,
    SegmentRules,
)

AUDIENCE_KEYS = {name: AssetKey(f"gold_{name}") for name in AUDIENCE_TABLES}
_DESCRIPTIONS = {
    USER_ACTIVITY: "Per event date and user pseudonym: impressions (and how many were invalid traffic), "
    "valid clicks, clicks faster than a person clicks, the most clicks in a minute, orders, revenue. "
    "Only events with consent for measurement (docs/privacy.md).",
    USER_SEGMENTS: "Per day and user pseudonym: one row per segment they belong to, judged on their "
    f"activity in the {DEFAULT_RULES.lookback_days} days up to that day: " + ", ".join(SEGMENTS) + ".",
    SEGMENT_HISTORY: "Per user pseudonym and segment: when they entered and left it (SCD type 2: "
    "valid_from, valid_to exclusive, null and is_current while still a member). Rebuilt from "
    "every membership on each run.",
}
_DEPS = {
    USER_ACTIVITY: [SILVER_KEYS[t] for t in ("impression", "click", "conversion")],
    USER_SEGMENTS: [AUDIENCE_KEYS[USER_ACTIVITY]],
    SEGMENT_HISTORY: [AUDIENCE_KEYS[USER_SEGMENTS]],
}
RECONCILES = "activity_reconciles_with_silver"
HISTORY_MATCHES = "history_matches_membership"


def defs_for(s: Settings) -> Definitions:
    return Definitions(assets=[build_audience_tables(daily_partitions(s.start_date))])


@functools.cache
def build_audience_tables(
    partitions: PartitionsDefinition, rules: SegmentRules = DEFAULT_RULES
) -> AssetsDefinition:
    """The audience multi-asset; its code version is the rules' fingerprint, so a changed
    rule shows every materialized partition as changed code."""

    @outage_aware
    def audience_tables(context: AssetExecutionContext, lake: LakeResource, spark: SparkResource):
        yield from materialize_audiences(context, lake, spark, rules)

    return multi_asset(
        name="audience_tables",
        specs=[
            AssetSpec(
                key,
                deps=_DEPS[name],
                group_name=GOLD,
                kinds={"spark", "delta"},
                description=_DESCRIPTIONS[name],
                code_version=f"rules-{rules.fingerprint()}",
            )
            for name, key in AUDIENCE_KEYS.items()
        ],
        check_specs=[
            AssetCheckSpec(
                RECONCILES,
                asset=AUDIENCE_KEYS[USER_ACTIVITY],
                blocking=True,
                description="Per event date: valid impressions, valid clicks and orders equal those of the "
                "consented silver events with a pseudonym, counted again independently.",
            ),
            AssetCheckSpec(
                HISTORY_MATCHES,
                asset=AUDIENCE_KEYS[SEGMENT_HISTORY],
                blocking=True,
                description="The history's intervals cover exactly the daily memberships: as many member "
                "days, one current interval per membership of the last day, no overlaps.",
            ),
        ],
        partitions_def=partitions,
        backfill_policy=single_run,
        pool="spark",
        retry_policy=STORAGE_RETRY,
    )(audience_tables)


def materialize_audiences(
    context: AssetExecutionContext, lake: LakeResource, spark: SparkResource, rules: SegmentRules
):
    the_lake = lake.writable_lake("gold", "quality")
    session = spark.session(the_lake)
    w = window_of(context)
    stats = run_segments(session, the_lake, w, rules)
    dates = stats.detail["segment_dates"]
    counts = ", ".join(f"{k} {v:,}" for k, v in stats.rows.items())
    context.log.info(f"audiences {dates['first']}..{dates['last']}: {counts}")
    members = session.read.format("delta").load(the_lake.table(GOLD, USER_SEGMENTS))
    sizes = {
        r["segment"]: r["n"]
        for r in members.where(F.col("event_date") == F.lit(dates["last"]).cast("date"))
        .groupBy("segment")
        .agg(F.count("*").alias("n"))
        .collect()
    }
    for name, key in AUDIENCE_KEYS.items():
        yield table_result(
            the_lake,
            key,
            GOLD,
            name,
            rows=stats.rows[name],
            segment_dates=f"{dates['first']}..{dates['last']}",
            **({"segment_sizes_last_day": MetadataValue.json(sizes)} if name == USER_SEGMENTS else {}),
            rules=MetadataValue.json(rules.as_dict()),
        )
    checks = [activity_check(session, the_lake, w), history_check(session, the_lake)]
    record(session, the_lake, checks, w, context.run_id, layer=GOLD)
    yield from checks


def activity_check(session: SparkSession, lake: Lake, w: ArrivalWindow) -> AssetCheckResult:
    """user_activity_daily as written against silver, recounted per event date."""
    start, end = w.dates(GOLD)

    def silver(event_type: str) -> DataFrame:
        return read_rewritten(session, lake, SILVER, TABLE_NAMES[event_type], w)

    def of_users(df: DataFrame) -> DataFrame:  # what a user-level table may count
        return user_level(df).where(F.col("user_pid").isNotNull())

    written = read_rewritten(session, lake, GOLD, USER_ACTIVITY, w)
    sums = written.groupBy("event_date").agg(
        *[F.sum(c).alias(c) for c in ("valid_impressions", "valid_clicks", "orders")]
    )
    gold = {r["event_date"]: [r[1], r[2], r[3]] for r in sums.collect()}
    recounted: dict = defaultdict(lambda: [0, 0, 0])
    frames = (
        of_users(silver("impression").where("is_valid")),
        of_users(silver("click").where("is_valid")),
        of_users(attribution.orders(silver("conversion"))),
    )
    for i, frame in enumerate(frames):
        for r in frame.groupBy("event_date").count().collect():
            recounted[r["event_date"]][i] = r["count"]
    mismatches = [
        {"event_date": d.isoformat(), "gold": gold.get(d, [0, 0, 0]), "silver": recounted.get(d, [0, 0, 0])}
        for d in sorted(set(gold) | set(recounted))
        if gold.get(d, [0, 0, 0]) != recounted.get(d, [0, 0, 0])
    ]
    return error_check(
        RECONCILES,
        AUDIENCE_KEYS[USER_ACTIVITY],
        not mismatches,
        event_dates=(end - start).days + 1,
        compared="valid impressions, valid clicks, orders",
        mismatches=mismatches,
    )


def history_check(session: SparkSession, lake: Lake) -> AssetCheckResult:
    # Memberships per day from the Delta log (delta-rs), the history with Spark.
    per_day = {
        day: n for (day,), n in delta_row_counts(lake, GOLD, USER_SEGMENTS, ("event_date",)).items() if n
    }
    member_days = sum(per_day.values())
    on_last_day = per_day[max(per_day)] if per_day else 0
    history = session.read.format("delta").load(lake.table(GOLD, SEGMENT_HISTORY))
    covered = history.agg(F.sum("member_days")).first()[0] or 0
    current = history.where("is_current").count()
    # Two intervals of one user and segment overlap when one starts before the other ends.
    a, b = history.alias("a"), history.alias("b")
    overlaps = (
        a.join(b, ["user_pid", "segment"])
        .where(
            (F.col("a.valid_from") < F.col("b.valid_from"))
            & (F.coalesce(F.col("a.valid_to"), F.lit("9999-12-31").cast("date")) > F.col("b.valid_from"))
        )
        .count()
    )
    return error_check(
        HISTORY_MATCHES,
        AUDIENCE_KEYS[SEGMENT_HISTORY],
        covered == member_days and current == on_last_day and overlaps == 0,
        member_days=member_days,
        days_in_intervals=int(covered),
        current_intervals=current,
        members_on_last_day=on_last_day,
        overlapping_intervals=overlaps,
    )
