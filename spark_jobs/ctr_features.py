"""The CTR model's counts from silver (docs/prediction.md): per entity and "as of" day, the
valid impressions and their clicks of the lookback that had arrived by the day before; and
the training set, one row per valid impression with its context, the counts as of its own
event date and its label. Pure DataFrame functions; the features themselves (smoothing,
encoding) are computed from these counts by prediction/features.py, online and offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from prediction.features import (
    CLICKS,
    CONTEXT,
    ENTITIES,
    GLOBAL,
    HOUR,
    IMPRESSIONS,
    LABEL,
    LAST_CLICK_DAYS,
    LOOKBACK_DAYS,
    USER,
    count_column,
)
from spark_jobs.consent import CONSENT_COLUMN

STATS_SCHEMA = (
    "as_of_date date, entity string, key string, impressions bigint, clicks bigint, last_click_days int"
)


def _consented_user() -> F.Column:
    """The pseudonym where the event may enter user-level processing (docs/privacy.md; a
    null verdict counts as measurable, as consent.user_level has it), else null: a user's
    history is built from consented events, and only a consented impression looks it up."""
    return F.when(F.coalesce(F.col(CONSENT_COLUMN), F.lit(True)), F.col("user_pid")).alias("user_pid")


def _entity_key(columns: Sequence[str]) -> F.Column:
    # Null when a column is null, as prediction.features.entity_key.
    return F.concat_ws("|", *columns) if len(columns) > 1 else F.col(columns[0]).cast("string")


def _key_or_null(columns: Sequence[str]) -> F.Column:
    any_null = F.lit(False)
    for c in columns:
        any_null = any_null | F.col(c).isNull() | (F.col(c).cast("string") == "")
    return F.when(~any_null, _entity_key(columns))


def history_events(impressions: DataFrame, clicks: DataFrame) -> DataFrame:
    """Valid impressions (is_impression 1) and the clicks on them (is_impression 0), each with
    the impression's entity columns and its own event and arrival dates: what counts
    build on. A click counts once per impression (the first, by event time)."""
    imp = impressions.where("is_valid")
    entity_cols = sorted({c for e in ENTITIES for c in e.columns if c != "user_pid"})
    user = _consented_user()
    imp_side = imp.select("impression_id", *entity_cols, user)
    first_clicks = (
        clicks.where("impression_id IS NOT NULL")
        .groupBy("impression_id")
        .agg(F.min_by(F.struct("event_date", "arrival_date"), "event_ts").alias("c"))
        .select("impression_id", "c.event_date", "c.arrival_date")
    )
    return imp.select(
        "impression_id", *entity_cols, user, "event_date", "arrival_date", F.lit(1).alias("is_impression")
    ).unionByName(first_clicks.join(imp_side, "impression_id").withColumn("is_impression", F.lit(0)))


def entity_stats(spark: SparkSession, events: DataFrame, as_of: Sequence[date]) -> DataFrame:
    """Per as-of day, entity and key: impressions, clicks and (users) days since the last
    click, over the event dates [as_of - LOOKBACK_DAYS, as_of - 1] that arrived before as_of.
    The global totals are entity GLOBAL with key ''."""
    days = spark.createDataFrame([(d,) for d in as_of], "as_of_date date")
    visible = events.join(
        F.broadcast(days),
        (F.col("event_date") < F.col("as_of_date"))
        & (F.col("event_date") >= F.date_sub("as_of_date", LOOKBACK_DAYS))
        & (F.col("arrival_date") < F.col("as_of_date")),
    )
    keyed = [
        visible.select(
            "as_of_date",
            F.lit(e.name).alias("entity"),
            _key_or_null(e.columns).alias("key"),
            "event_date",
            "is_impression",
        )
        for e in ENTITIES
    ]
    keyed.append(
        visible.select(
            "as_of_date", F.lit(GLOBAL).alias("entity"), F.lit("").alias("key"), "event_date", "is_impression"
        )
    )
    union = keyed[0]
    for k in keyed[1:]:
        union = union.unionByName(k)
    last_click = F.max(F.when(F.col("is_impression") == 0, F.col("event_date")))
    return (
        union.where("key IS NOT NULL")
        .groupBy("as_of_date", "entity", "key")
        .agg(
            F.sum("is_impression").cast("bigint").alias(IMPRESSIONS),
            F.sum(1 - F.col("is_impression")).cast("bigint").alias(CLICKS),
            F.date_diff("as_of_date", last_click).cast("int").alias(LAST_CLICK_DAYS),
        )
        .select("as_of_date", "entity", "key", IMPRESSIONS, CLICKS, LAST_CLICK_DAYS)
    )


def training_set(impressions: DataFrame, clicks: DataFrame, stats: DataFrame) -> DataFrame:
    """One row per valid impression: impression_id, event_date, its context and hour, the
    counts of each entity and the global ones as of its event date (null where the entity
    has no history), and the label: whether it was clicked (any click, as the simulator's
    true click probability counts them)."""
    imp = impressions.where("is_valid").select(
        "impression_id",
        "event_date",
        *CONTEXT,
        F.hour("event_ts").cast("string").alias(HOUR),
        _consented_user(),
    )
    clicked = clicks.where("impression_id IS NOT NULL").select("impression_id").distinct()
    df = imp.join(clicked.withColumn(LABEL, F.lit(1)), "impression_id", "left").withColumn(
        LABEL, F.coalesce(F.col(LABEL), F.lit(0)).cast("int")
    )
    for e in (*ENTITIES, None):
        name = e.name if e else GLOBAL
        s = stats.where(F.col("entity") == name).select(
            F.col("as_of_date").alias("event_date"),
            F.col("key").alias(f"_{name}_key"),
            *[F.col(c).alias(count_column(name, c)) for c in (IMPRESSIONS, CLICKS, LAST_CLICK_DAYS)],
        )
        key = _key_or_null(e.columns) if e else F.lit("")
        df = (
            df.withColumn(f"_{name}_key", key)
            .join(s, ["event_date", f"_{name}_key"], "left")
            .drop(f"_{name}_key")
        )
        if e is not USER:
            df = df.drop(count_column(name, LAST_CLICK_DAYS))
    return df.drop("user_pid")
