"""The layer jobs: read a window, transform with the pure functions, write idempotently.
A window (spark_jobs.layers.ArrivalWindow) is a range of arrival dates [start, end];
downstream of bronze the tables are keyed by event date, so a window rewrites event dates
[start - LATENESS_DAYS, end].

Called by the Dagster assets (ad_assets/defs); no Dagster imports here, so any Spark
driver can call them too."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from prediction.features import FEATURES_LAYER, LOOKBACK_DAYS, STATS_TABLE, TRAIN_DAYS, TRAINING_TABLE
from spark_jobs import attribution, auction, bronze, ctr_features, gold, segments, silver
from spark_jobs.attribution_models import DATA_DRIVEN_MODELS, PathCount, path_shares
from spark_jobs.attribution_windows import DEFAULT_WINDOWS, AttributionWindows
from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.delta_io import (
    merge_first_arrival,
    read_rewritten,
    read_window,
    replace_where,
    replace_window,
    table_properties,
    window_predicate,
)
from spark_jobs.gold_migrations import migrate_gold
from spark_jobs.gold_tables import GOLD_TABLES
from spark_jobs.lake import Lake
from spark_jobs.lake_read import delta_row_counts, partition_dates
from spark_jobs.layers import (
    BRONZE,
    GOLD,
    LATENESS_DAYS,
    QUARANTINE_TABLE,
    SILVER,
    ArrivalWindow,
    date_column,
)
from spark_jobs.raw_files import inspect_raw_files
from spark_jobs.segment_rules import (
    DEFAULT_RULES,
    SEGMENT_HISTORY,
    USER_ACTIVITY,
    USER_SEGMENTS,
    SegmentRules,
)


@dataclass
class LayerStats:
    rows: dict[str, int] = field(default_factory=dict)
    detail: dict[str, dict] = field(default_factory=dict)


# Called with an event type and the frame just written for it, while it is still cached:
# checks judge the data without reading the table back.
OnWritten = Callable[[str, DataFrame], None]


# ---------------------------------------------------------------- bronze
def run_bronze(
    spark: SparkSession, lake: Lake, w: ArrivalWindow, batch_id: str, on_written: OnWritten | None = None
) -> LayerStats:
    """Parse each event type's raw files once (cached), write its bronze table from the
    cache, count lines by verdict and unknown fields from the same cache, then write every
    event type's quarantine rows in one commit."""
    stats = LayerStats()
    ingest_ts = F.current_timestamp()
    # Raw files are one input partition each; writing them as-is would make one small
    # Delta file per raw file (5x slower to write and read back). Line numbers are already
    # fixed in the cached parse, so coalescing the writes is safe.
    files_per_write = spark.sparkContext.defaultParallelism
    cached: list[DataFrame] = []
    quarantine: DataFrame | None = None
    for event_type in EVENT_TYPES:
        files = inspect_raw_files(lake, event_type, w.arrival_dates())
        lines = bronze.read_raw_lines(spark, lake, event_type, files.readable)
        # The raw line is kept only where it is quarantined: the cache holds typed rows.
        parsed = bronze.parse_lines(lines, event_type)
        parsed = parsed.withColumn("value", F.when(F.col("_reason").isNotNull(), F.col("value"))).persist()
        cached.append(parsed)
        verdicts = Counter(
            {r["_reason"]: r["n"] for r in parsed.groupBy("_reason").agg(F.count("*").alias("n")).collect()}
        )
        rows = bronze.bronze_rows(parsed, event_type, ingest_ts, batch_id)
        replace_window(
            rows.coalesce(files_per_write),
            lake.table(BRONZE, TABLE_NAMES[event_type]),
            date_column(BRONZE),
            *w.dates(BRONZE),
        )
        if on_written:
            on_written(event_type, rows)
        rejected = bronze.quarantine_rows(parsed, event_type, ingest_ts, batch_id).unionByName(
            bronze.unreadable_file_rows(spark, files.unreadable, event_type, ingest_ts, batch_id)
        )
        quarantine = rejected if quarantine is None else quarantine.unionByName(rejected)
        ok = verdicts.pop(None, 0)
        stats.rows[TABLE_NAMES[event_type]] = ok
        stats.detail[event_type] = {
            "raw_lines": ok + sum(verdicts.values()),
            "bronze_rows": ok,
            "quarantined": sum(verdicts.values()) + len(files.unreadable),  # a file is one row
            "unreadable_files": [f.source_file for f in files.unreadable],
            "reasons": dict(verdicts),
            "unknown_fields": bronze.unknown_field_counts(rows),
        }
    replace_where(
        quarantine.coalesce(1),
        lake.table(*QUARANTINE_TABLE),
        window_predicate(date_column(BRONZE), *w.dates(BRONZE)),
        ("event_type", date_column(BRONZE)),
    )
    for df in cached:
        df.unpersist()
    stats.rows["quarantine"] = sum(d["quarantined"] for d in stats.detail.values())
    return stats


# ---------------------------------------------------------------- silver
def _bronze(spark: SparkSession, lake: Lake, event_type: str, w: ArrivalWindow) -> DataFrame:
    return read_rewritten(spark, lake, BRONZE, TABLE_NAMES[event_type], w)


def _silver_path(lake: Lake, event_type: str) -> str:
    return lake.table(SILVER, TABLE_NAMES[event_type])


def run_silver(spark: SparkSession, lake: Lake, w: ArrivalWindow, key: bytes, key_version: str) -> LayerStats:
    stats = LayerStats()
    batches = {
        "impression": silver.silver_impressions(_bronze(spark, lake, "impression", w), key, key_version),
        "conversion": silver.silver_conversions(_bronze(spark, lake, "conversion", w), key, key_version),
        "bid_request": silver.to_silver(_bronze(spark, lake, "bid_request", w), key, key_version),
        "bid_response": silver.to_silver(_bronze(spark, lake, "bid_response", w)),
    }
    for event_type, batch in batches.items():  # impressions first: clicks join to them
        stats.detail[event_type] = merge_first_arrival(spark, _silver_path(lake, event_type), batch)
    stats.detail["click"] = _merge_clicks(spark, lake, w, key, key_version)
    for event_type, merged in stats.detail.items():
        stats.rows[TABLE_NAMES[event_type]] = merged["inserted"]
    return stats


def _merge_clicks(
    spark: SparkSession, lake: Lake, w: ArrivalWindow, key: bytes, key_version: str
) -> dict[str, int]:
    """New clicks, plus earlier clicks still waiting for their impression, joined to the
    impressions; an existing click is updated once its impression shows up."""
    path = _silver_path(lake, "click")
    new = silver.to_silver(_bronze(spark, lake, "click", w), key, key_version)
    candidates = new
    if _exists(spark, path):
        waiting = (
            read_rewritten(spark, lake, SILVER, TABLE_NAMES["click"], w)
            .where("NOT impression_found")
            .select(*new.columns)
        )
        candidates = silver.first_rows(new.unionByName(waiting), "event_id")
    # A click follows its impression within minutes: its impression is dated the same day
    # or the day before.
    impressions = read_window(
        spark,
        _silver_path(lake, "impression"),
        date_column(SILVER),
        w.event_start - timedelta(days=1),
        w.end + timedelta(days=1),
    )
    return merge_first_arrival(
        spark,
        path,
        silver.attach_impressions(candidates, impressions),
        also_update_when="NOT t.impression_found AND s.impression_found",
    )


def _exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


# ---------------------------------------------------------------- gold
def run_gold(
    spark: SparkSession, lake: Lake, w: ArrivalWindow, windows: AttributionWindows = DEFAULT_WINDOWS
) -> LayerStats:
    """Every table of the gold registry for the window's event dates, each computed by its
    function in gold.BUILDERS and written in one commit (its event dates replaced).
    `windows`: how far back each advertiser's conversions look for touches."""
    if gold.BUILDERS.keys() != GOLD_TABLES.keys():
        raise ValueError(
            f"gold tables registered {sorted(GOLD_TABLES)} but computed {sorted(gold.BUILDERS)}: "
            "each table of spark_jobs/gold_tables.py needs one function in spark_jobs/gold.py BUILDERS"
        )
    stats = LayerStats()
    stats.detail["migrations"] = {"done": migrate_gold(spark, lake)}
    start, end = w.dates(GOLD)

    def silver_window(event_type: str, first: date, last: date = end) -> DataFrame:
        return read_window(spark, _silver_path(lake, event_type), date_column(SILVER), first, last)

    conversions = attribution.orders(silver_window("conversion", start)).persist()
    # Touches reach back the longest window before the first conversion they can credit.
    click_lookback = start - timedelta(days=windows.click_lookback_days)
    views, view_clicks = None, None
    if windows.view_through:
        view_lookback = start - timedelta(days=windows.view_lookback_days)
        views = silver_window("impression", view_lookback)
        # Whether an impression was clicked: its click comes minutes later, possibly the
        # next day, so from the first impression's date to the day after the window.
        view_clicks = silver_window("click", min(view_lookback, click_lookback), end + timedelta(days=1))
    candidates = attribution.candidate_touches(
        silver_window("click", click_lookback), views, windows, clicks_after_views=view_clicks
    )
    touches = attribution.with_paths(attribution.touches(conversions, candidates)).persist()
    impressions, clicks = silver_window("impression", start), silver_window("click", start)
    last_clicks = attribution.last_touches(touches)  # the campaign metrics' conversions
    hourly = gold.campaign_hourly(impressions, clicks, last_clicks).persist()
    paths = attribution.conversion_paths(
        touches, attribution.non_converting_paths(candidates, conversions, start, end)
    ).persist()
    credits = attribution.heuristic_credits(touches).unionByName(
        attribution.data_driven_credits(touches, _data_driven_shares(spark, paths))
    )
    credited = attribution.attribution(conversions, credits).persist()
    # A bid is dated by its request, which may come from the day before the window.
    requests = auction.auction_requests(silver_window("bid_request", start - timedelta(days=1))).persist()
    bids = auction.keyed_bids_of(requests, silver_window("bid_response", start)).persist()
    inputs = gold.GoldInputs(
        impressions,
        clicks,
        last_clicks,
        hourly,
        credited,
        paths,
        auction_requests=requests,
        bids=bids,
        dates=(start, end),
    )

    def write(name: str) -> None:
        table = GOLD_TABLES[name]
        replace_window(gold.BUILDERS[name](inputs), lake.table(GOLD, name), table.date_column, start, end)

    for name in gold.WRITTEN_FIRST:
        write(name)
    with ThreadPoolExecutor(gold.WRITERS, thread_name_prefix="gold-write") as pool:
        for done in [pool.submit(write, n) for n in gold.BUILDERS if n not in gold.WRITTEN_FIRST]:
            done.result()  # a failed write raises here, after the others have ended
    for name, table in GOLD_TABLES.items():
        stats.rows[name] = _rows_in_window(delta_row_counts(lake, GOLD, name, (table.date_column,)), w)
    for df in (conversions, touches, hourly, paths, credited, requests, bids):
        df.unpersist()
    return stats


def _rows_in_window(rows_per_date: Counter, w: ArrivalWindow) -> int:
    """The rows of the window's event dates, from delta_row_counts(..., ("event_date",))."""
    window = {(d.isoformat(),) for d in w.event_dates()}
    return sum(n for day, n in rows_per_date.items() if day in window)


def _last_date(rows_per_date: Counter) -> date | None:
    """The last event date with rows, from delta_row_counts(..., ("event_date",))."""
    days = [day for (day,), n in rows_per_date.items() if n]
    return date.fromisoformat(max(days)) if days else None


def _data_driven_shares(spark: SparkSession, paths: DataFrame) -> DataFrame:
    """Per event date, path, data-driven model and channel: the channel's share of a
    conversion with that path. The models are fitted per event date on the paths of every
    advertiser (converting and not), on the driver: a day has few distinct paths."""
    by_date: dict[date, list[PathCount]] = {}
    totals = paths.groupBy("event_date", "path").agg(
        F.sum("conversions").alias("conversions"), F.sum("non_conversions").alias("non_conversions")
    )
    for r in totals.collect():
        channels = tuple(r["path"].split(attribution.PATH_SEPARATOR))
        by_date.setdefault(r["event_date"], []).append(
            PathCount(channels, int(r["conversions"]), int(r["non_conversions"]))
        )
    rows = [
        (day, attribution.PATH_SEPARATOR.join(channels), model, channel, float(share))
        for day, counts in by_date.items()
        for model in DATA_DRIVEN_MODELS
        for channels, shares in path_shares(counts, model).items()
        for channel, share in shares.items()
    ]
    return spark.createDataFrame(
        rows, "event_date date, path string, model string, channel string, share double"
    )


# ---------------------------------------------------------------- audiences
def run_segments(
    spark: SparkSession, lake: Lake, w: ArrivalWindow, rules: SegmentRules = DEFAULT_RULES
) -> LayerStats:
    """The audience tables (spark_jobs/segments.py): user activity for the window's event
    dates; memberships from the first of them to as far as that activity reaches (a rerun
    of older dates changes the lookback of the days after them, up to the last day with
    activity); the history, recomputed from every membership and overwritten."""
    start, end = w.dates(GOLD)
    stats = LayerStats()

    def silver_window(event_type: str, first: date) -> DataFrame:
        return read_window(spark, _silver_path(lake, event_type), date_column(SILVER), first, end)

    # A click's impression is shown minutes earlier: the day before at the earliest.
    shown = silver_window("impression", start - timedelta(days=1))
    activity = segments.user_activity_daily(
        shown.where(F.col("event_date") >= F.lit(start)),
        silver_window("click", start),
        attribution.orders(silver_window("conversion", start)),
        shown,
        rules,
    )
    activity_path = lake.table(GOLD, USER_ACTIVITY)
    replace_window(activity, activity_path, "event_date", start, end)
    # Rows per event date, from the Delta log (delta-rs: no Spark job).
    active_days = delta_row_counts(lake, GOLD, USER_ACTIVITY, ("event_date",))
    last = min(max(_last_date(active_days) or end, end), end + timedelta(days=rules.lookback_days - 1))
    history_of = read_window(
        spark, activity_path, "event_date", start - timedelta(days=rules.lookback_days - 1), last
    )
    members_path = lake.table(GOLD, USER_SEGMENTS)
    members = segments.user_segments(history_of, start, last, rules)
    replace_window(members, members_path, "event_date", start, last)
    member_days = delta_row_counts(lake, GOLD, USER_SEGMENTS, ("event_date",))
    last_member_day = _last_date(member_days) or last
    # Every date: a run of member days can span any number of windows.
    history = segments.segment_history(spark.read.format("delta").load(members_path), last_member_day)
    (
        history.write.format("delta")
        .mode("overwrite")
        .options(**table_properties(history.schema, ()))
        .save(lake.table(GOLD, SEGMENT_HISTORY))
    )
    stats.rows[USER_ACTIVITY] = _rows_in_window(active_days, w)
    stats.rows[USER_SEGMENTS] = _rows_in_window(member_days, w)
    stats.rows[SEGMENT_HISTORY] = sum(delta_row_counts(lake, GOLD, SEGMENT_HISTORY, ()).values())
    stats.detail["segment_dates"] = {"first": start.isoformat(), "last": last.isoformat()}
    return stats


# ---------------------------------------------------------------- prediction features
def _first_missing_training_date(lake: Lake, end: date) -> date | None:
    """The first event date of the training span up to `end` that silver impressions have
    and the training set has not (None when none is missing)."""
    first = end - timedelta(days=LATENESS_DAYS + TRAIN_DAYS)
    in_silver = partition_dates(lake, SILVER, TABLE_NAMES["impression"], "event_date")
    built = set(partition_dates(lake, FEATURES_LAYER, TRAINING_TABLE, "event_date"))
    return next((d for d in in_silver if first <= d <= end and d not in built), None)


def run_ctr_features(spark: SparkSession, lake: Lake, w: ArrivalWindow) -> LayerStats:
    """The CTR model's counts and training set (spark_jobs/ctr_features.py) for the window:
    counts as of each event date the window rewrites and the day after its last arrival date
    (what serving uses next), from the silver events of the lookback before them; the
    training rows of the window's event dates. Event dates a model trained after this
    window needs (TRAIN_DAYS before its evaluation day) that silver has but the training
    set lacks are built too: the first training on an existing lake backfills itself."""
    start, end = w.dates(SILVER)
    start = min(start, _first_missing_training_date(lake, end) or start)
    as_of = [start + timedelta(days=i) for i in range((end - start).days + 2)]

    def silver_window(event_type: str) -> DataFrame:
        first = start - timedelta(days=LOOKBACK_DAYS)
        return read_window(spark, _silver_path(lake, event_type), date_column(SILVER), first, end)

    impressions, clicks = silver_window("impression").cache(), silver_window("click").cache()
    try:
        stats_path = lake.table(FEATURES_LAYER, STATS_TABLE)
        stats = ctr_features.entity_stats(spark, ctr_features.history_events(impressions, clicks), as_of)
        replace_window(stats, stats_path, "as_of_date", as_of[0], as_of[-1])
        in_window = F.col("event_date") >= F.lit(start)
        training = ctr_features.training_set(
            impressions.where(in_window),
            clicks,
            read_window(spark, stats_path, "as_of_date", start, end),
        )
        replace_window(
            training,
            lake.table(FEATURES_LAYER, TRAINING_TABLE),
            "event_date",
            start,
            end,
        )
    finally:
        impressions.unpersist()
        clicks.unpersist()
    out = LayerStats()
    for name, col, first, last in (
        (STATS_TABLE, "as_of_date", as_of[0], as_of[-1]),
        (TRAINING_TABLE, "event_date", start, end),
    ):
        per_day = delta_row_counts(lake, FEATURES_LAYER, name, (col,))
        out.rows[name] = sum(n for (d,), n in per_day.items() if first.isoformat() <= d <= last.isoformat())
    out.detail["dates"] = {"as_of": f"{as_of[0]}..{as_of[-1]}", "event_dates": f"{start}..{end}"}
    return out
