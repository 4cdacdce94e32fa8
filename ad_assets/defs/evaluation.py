"""Evaluation: how right the pipeline's models are, against the simulator's ground truth
(truth/ beside raw/, written by the generator; a lake of real logs has none). Today: the
accuracy of every attribution model (spark_jobs/accuracy.py, docs/attribution.md)."""

import functools
from collections.abc import Callable, Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Definitions,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ad_assets.defs.gold import GOLD_KEYS
from ad_assets.generator.truth import TRUTH_DIR, truth_exists
from ad_assets.lib.outages import STORAGE_RETRY, outage_aware
from ad_assets.lib.partitions import daily_partitions, single_run, window_of
from ad_assets.resources import LakeResource, SparkResource
from ad_assets.settings import Settings
from spark_jobs.accuracy import ACCURACY_SCHEMA, attribution_accuracy
from spark_jobs.attribution import MODELS
from spark_jobs.delta_io import ensure_table, read_rewritten, replace_window
from spark_jobs.lake import Lake
from spark_jobs.lake_read import table_exists
from spark_jobs.layers import EVALUATION, EVENT_DATE, GOLD, ArrivalWindow

ACCURACY_KEY = AssetKey("attribution_accuracy")
SCORES_EVERY_CONVERSION = "scores_every_conversion"
ACCURACY_TABLE = "attribution_accuracy"  # evaluation/<this>


def defs_for(s: Settings) -> Definitions:
    return Definitions(assets=[build_attribution_accuracy(daily_partitions(s.start_date))])


@functools.cache
def build_attribution_accuracy(partitions: PartitionsDefinition) -> AssetsDefinition:
    return asset(
        key=ACCURACY_KEY,
        deps=[GOLD_KEYS["attribution"]],
        group_name=EVALUATION,
        kinds={"spark", "delta"},
        description="Per event date, attribution model and the true cause's channel: the share of "
        "conversions and of revenue each model credited to the campaign that really caused them "
        "(the simulator's ground truth; empty for a lake without it).",
        check_specs=[
            AssetCheckSpec(
                SCORES_EVERY_CONVERSION,
                asset=ACCURACY_KEY,
                description="Every model is scored on every conversion of gold_attribution that the "
                "truth knows, and accuracies lie within [0, 1].",
            )
        ],
        partitions_def=partitions,
        backfill_policy=single_run,
        pool="spark",
        retry_policy=STORAGE_RETRY,
    )(materialize_attribution_accuracy)


def ensure_accuracy_table(session: SparkSession, lake: Lake) -> None:
    """An empty accuracy table where none was written yet (a lake without truth, or marts
    built before the evaluation ran): the marts read it either way."""
    path = lake.table(EVALUATION, ACCURACY_TABLE)
    if not table_exists(lake, EVALUATION, ACCURACY_TABLE):
        ensure_table(session, path, session.createDataFrame([], ACCURACY_SCHEMA).schema, EVENT_DATE)


def score_window(
    session: SparkSession, lake: Lake, w: ArrivalWindow, warn: Callable[[str], None]
) -> tuple[DataFrame, int]:
    """Writes the accuracy of the window's event dates; (the scores, cached: unpersist
    them; how many conversions the truth judged)."""
    start, end = w.dates(GOLD)
    fs, base = lake.arrow_fs()
    judged = 0
    if truth_exists(fs, base):
        truth = session.read.parquet(lake.table(TRUTH_DIR, "conversions"))
        credited = read_rewritten(session, lake, GOLD, "attribution", w)
        scores = attribution_accuracy(credited, truth).persist()
        judged = credited.select("order_id").distinct().join(truth.select("order_id"), "order_id").count()
    else:  # still written: the marts read the table whether or not the lake has truth
        warn("this lake holds no ground truth (truth/): attribution accuracy left empty")
        scores = session.createDataFrame([], ACCURACY_SCHEMA)
    replace_window(scores, lake.table(EVALUATION, ACCURACY_TABLE), EVENT_DATE, start, end)
    return scores, judged


@outage_aware
def materialize_attribution_accuracy(
    context: AssetExecutionContext, lake: LakeResource, spark: SparkResource
) -> Iterator[MaterializeResult]:
    the_lake = lake.writable_lake(EVALUATION)
    session = spark.session(the_lake)
    w = window_of(context)
    start, end = w.dates(GOLD)
    scores, judged = score_window(session, the_lake, w, context.log.warning)
    per_model = {
        r["model"]: (r["conversions"], r["bad"])
        for r in scores.groupBy("model")
        .agg(
            F.sum("conversions").alias("conversions"),
            F.count(F.when(~F.col("accuracy").between(0.0, 1.0 + 1e-9), 1)).alias("bad"),
        )
        .collect()
    }
    overall = {
        r["model"]: round(r["accuracy"], 4)
        for r in scores.groupBy("model")
        .agg((F.sum("credit_to_cause") / F.sum("conversions")).alias("accuracy"))
        .collect()
    }
    scores.unpersist()
    short = {m: n for m, (n, _) in per_model.items() if n != judged}
    out_of_range = {m: bad for m, (_, bad) in per_model.items() if bad}
    yield MaterializeResult(
        metadata={
            "path": MetadataValue.path(the_lake.table(EVALUATION, ACCURACY_TABLE)),
            "event_dates": f"{start}..{end}",
            "accuracy_by_model": MetadataValue.json(overall),
        }
    )
    yield AssetCheckResult(
        check_name=SCORES_EVERY_CONVERSION,
        asset_key=ACCURACY_KEY,
        passed=not short and not out_of_range and (judged == 0 or len(per_model) == len(MODELS)),
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "conversions_with_truth": judged,
            "models_scored": len(per_model),
            "models_short": MetadataValue.json(short),
            "rows_out_of_range": MetadataValue.json(out_of_range),
        },
    )
