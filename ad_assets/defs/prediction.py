"""CTR prediction in Dagster (docs/prediction.md): the model's counts and training set from
silver (Spark), the models trained and scored against the simulator's truth, the registry's
promotion behind a blocking check, and the online features published to Redis.

Training is not in the daily job (a model that fails its promotion check must not fail the
lake's run): `train_ctr_model` runs after it (a sensor, and `adlake run`). Publishing needs
Redis: a job of its own, as the real-time group's."""

import base64
from datetime import date, timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
    define_asset_job,
    multi_asset,
)
from pyspark.sql import functions as F

from ad_assets.defs.silver import SILVER_KEYS
from ad_assets.lib.check_results import error_check
from ad_assets.lib.materializations import table_result
from ad_assets.lib.outages import STORAGE_RETRY, outage_aware
from ad_assets.lib.partitions import daily_partitions, single_run, window_of
from ad_assets.resources import LakeResource, SparkResource
from ad_assets.resources.stream import StreamResource
from ad_assets.settings import Settings
from prediction import online_store
from prediction.features import FEATURES, FEATURES_LAYER, GLOBAL, LOOKBACK_DAYS, STATS_TABLE, TRAINING_TABLE
from spark_jobs.contracts import TABLE_NAMES
from spark_jobs.delta_io import read_window
from spark_jobs.lake_read import delta_row_counts
from spark_jobs.layers import SILVER
from spark_jobs.pipeline import run_ctr_features

PREDICTION = "prediction"  # the assets' group
TRAIN_JOB = "train_ctr_model"
PUBLISH_JOB = "publish_online_features"
FEATURE_KEYS = {STATS_TABLE: AssetKey("ctr_entity_stats"), TRAINING_TABLE: AssetKey("ctr_training_set")}
MODEL_KEY = AssetKey("ctr_model")
CURRENT_KEY = AssetKey("ctr_model_current")
ONLINE_KEY = AssetKey("ctr_online_features")
ONE_ROW_PER_IMPRESSION = "one_row_per_valid_impression"
GLOBAL_COUNTS_POINT_IN_TIME = "global_counts_point_in_time"
SERVES_A_PROMOTABLE_VERSION = "serves_a_promotable_version"
PROMOTABLE = "beats_baseline_and_current"
SNAPSHOT_COMPLETE = "snapshot_matches_lake"
_DESCRIPTIONS = {
    STATS_TABLE: f"Per as-of day, entity (placement, creative, campaign x placement, user pseudonym; "
    f"global) and key: valid impressions and clicks of the {LOOKBACK_DAYS} event dates before it that had "
    "arrived by then, and a user's days since the last click. What serving knows that morning.",
    TRAINING_TABLE: "One row per valid impression: its context and hour, the counts as of its event date "
    "(point in time) and whether it was clicked.",
}


def defs_for(s: Settings) -> Definitions:
    partitions = daily_partitions(s.start_date)
    return Definitions(
        assets=[
            build_ctr_features(partitions),
            build_ctr_model(partitions),
            build_ctr_model_current(partitions),
            build_online_features(partitions),
        ],
        jobs=[
            define_asset_job(
                PUBLISH_JOB,
                selection=AssetSelection.assets(ONLINE_KEY),
                partitions_def=partitions,
                description="The counts as of the day after the window into Redis, for the prediction API.",
            )
        ],
    )


def training_selection() -> AssetSelection:
    """What `train_ctr_model` materializes (ad_assets/defs/schedules.py builds the job)."""
    return AssetSelection.groups(PREDICTION) - AssetSelection.assets(ONLINE_KEY)


# ---------------------------------------------------------------- features (Spark)
def build_ctr_features(partitions: PartitionsDefinition) -> AssetsDefinition:
    @outage_aware
    def ctr_features(context: AssetExecutionContext, lake: LakeResource, spark: SparkResource):
        the_lake = lake.writable_lake(FEATURES_LAYER)
        session = spark.session(the_lake)
        w = window_of(context)
        stats = run_ctr_features(session, the_lake, w)
        context.log.info(f"CTR features {stats.detail['dates']}: {stats.rows}")
        for name, key in FEATURE_KEYS.items():
            yield table_result(
                the_lake, key, FEATURES_LAYER, name, rows=stats.rows[name], **stats.detail["dates"]
            )
        # Independently: valid silver impressions per event date, against the rows written.
        start, end = w.dates(SILVER)
        silver = read_window(
            session, the_lake.table(SILVER, TABLE_NAMES["impression"]), "event_date", start, end
        )
        expected = {
            r["event_date"].isoformat(): r["count"]
            for r in silver.where("is_valid").groupBy("event_date").count().collect()
        }
        written = {
            d: n
            for (d,), n in delta_row_counts(the_lake, FEATURES_LAYER, TRAINING_TABLE, ("event_date",)).items()
            if start.isoformat() <= d <= end.isoformat() and n
        }
        yield error_check(
            ONE_ROW_PER_IMPRESSION,
            FEATURE_KEYS[TRAINING_TABLE],
            written == expected,
            training_rows=written,
            valid_silver_impressions=expected,
        )
        yield global_counts_check(session, the_lake, start, end + timedelta(days=1))

    return multi_asset(
        name="ctr_features",
        specs=[
            AssetSpec(
                FEATURE_KEYS[STATS_TABLE],
                deps=[SILVER_KEYS["impression"], SILVER_KEYS["click"]],
                group_name=PREDICTION,
                kinds={"spark", "delta"},
                description=_DESCRIPTIONS[STATS_TABLE],
            ),
            AssetSpec(
                FEATURE_KEYS[TRAINING_TABLE],
                deps=[FEATURE_KEYS[STATS_TABLE], SILVER_KEYS["impression"], SILVER_KEYS["click"]],
                group_name=PREDICTION,
                kinds={"spark", "delta"},
                description=_DESCRIPTIONS[TRAINING_TABLE],
            ),
        ],
        check_specs=[
            AssetCheckSpec(
                GLOBAL_COUNTS_POINT_IN_TIME,
                asset=FEATURE_KEYS[STATS_TABLE],
                blocking=True,
                description=f"Per as-of day of the window: the global impressions equal the valid silver "
                f"impressions of the {LOOKBACK_DAYS} event dates before it that arrived before it, "
                "counted again independently (no count sees the future).",
            ),
            AssetCheckSpec(
                ONE_ROW_PER_IMPRESSION,
                asset=FEATURE_KEYS[TRAINING_TABLE],
                blocking=True,
                description="Per event date of the window: training rows equal the valid silver impressions.",
            ),
        ],
        partitions_def=partitions,
        backfill_policy=single_run,
        pool="spark",
        retry_policy=STORAGE_RETRY,
    )(ctr_features)


def global_counts_check(session, lake, first: date, last: date) -> AssetCheckResult:
    """The global counts as of first..last against silver, recounted with the lookback's
    and arrival's bounds spelled out again here."""
    # Per valid impression: the as-of days that may see it (the day after it arrived, or
    # after it happened if later, through LOOKBACK_DAYS after it happened), one count each.
    silver = read_window(
        session,
        lake.table(SILVER, TABLE_NAMES["impression"]),
        "event_date",
        first - timedelta(days=LOOKBACK_DAYS),
        last,
    ).where("is_valid")
    seen_from = F.greatest(F.date_add("arrival_date", 1), F.date_add("event_date", 1))
    seen_until = F.least(F.date_add("event_date", LOOKBACK_DAYS), F.lit(last))
    days = F.explode(F.sequence(seen_from, seen_until)).alias("as_of")
    recounted = {
        r["as_of"].isoformat(): r["count"]
        for r in silver.where(seen_from <= seen_until)
        .select(days)
        .where(F.col("as_of") >= F.lit(first))
        .groupBy("as_of")
        .count()
        .collect()
    }
    stats = read_window(session, lake.table(FEATURES_LAYER, STATS_TABLE), "as_of_date", first, last)
    written = {
        r["as_of_date"].isoformat(): r["impressions"]
        for r in stats.where(F.col("entity") == GLOBAL).select("as_of_date", "impressions").collect()
    }
    # An as-of day with nothing visible has no global row: zero impressions.
    mismatches = {
        d: {"stats": written.get(d, 0), "silver": recounted.get(d, 0)}
        for d in sorted(set(written) | set(recounted))
        if written.get(d, 0) != recounted.get(d, 0)
    }
    return error_check(
        GLOBAL_COUNTS_POINT_IN_TIME,
        FEATURE_KEYS[STATS_TABLE],
        not mismatches,
        as_of_days=f"{first}..{last}",
        mismatches=mismatches,
    )


# ---------------------------------------------------------------- the model
def _image(png: bytes, alt: str) -> MetadataValue:
    return MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})")


def build_ctr_model(partitions: PartitionsDefinition) -> AssetsDefinition:
    @asset(
        key=MODEL_KEY,
        deps=[FEATURE_KEYS[TRAINING_TABLE]],
        group_name=PREDICTION,
        kinds={"lightgbm", "scikitlearn"},
        partitions_def=partitions,
        backfill_policy=single_run,
        description="The rule baseline, logistic regression and LightGBM trained on the event dates before "
        "the last complete one and scored on it, with the ceiling (the simulator's true probability) and "
        "the promoted version; the LightGBM model stored in the registry as a candidate.",
        check_specs=[
            AssetCheckSpec(
                PROMOTABLE,
                asset=MODEL_KEY,
                blocking=True,
                description="The candidate's AUC and log loss beat the rule baseline's, and its AUC is at "
                "least the promoted version's on the same evaluation day.",
            )
        ],
    )
    def ctr_model(context: AssetExecutionContext, lake: LakeResource):
        # The model libraries (scikit-learn, LightGBM, matplotlib: seconds to import) load
        # when a model trains, not with the definitions.
        from prediction.evaluation import format_table
        from prediction.models import LIGHTGBM_PARAMS
        from prediction.plots import calibration_png, pr_curve_png
        from prediction.registry import MODELS_DIR, Registry
        from prediction.training import (
            CANDIDATE,
            NotEnoughHistory,
            complete_until,
            event_dates,
            plan_split,
            promotion_verdict,
            train_and_evaluate,
        )

        the_lake = lake.writable_lake(MODELS_DIR)
        w = window_of(context)
        try:
            split = plan_split(event_dates(the_lake), complete_until(w.end))
        except NotEnoughHistory as ex:
            raise Failure(description=str(ex), allow_retries=False) from ex
        registry = Registry(the_lake)
        current = registry.current()
        incumbent = registry.load(current) if current and _comparable(registry, current) else None
        ev = train_and_evaluate(the_lake, split, incumbent)
        verdict = promotion_verdict(ev.scores)
        table = ev.table()
        card = {
            "kind": CANDIDATE,
            "features": list(FEATURES),
            "params": LIGHTGBM_PARAMS,
            "best_iteration": ev.models[CANDIDATE].best_iteration,
            "split": ev.split.as_dict(),
            "train_rows": ev.train_rows,
            "evaluation": table,
            "calibration": ev.calibration,
            "compared_with": current if incumbent is not None else None,
            "promotable": verdict.passed,
            "promotion_reasons": list(verdict.reasons),
        }
        version = registry.save(ev.models[CANDIDATE], card)
        title = f"evaluation day {ev.split.evaluate}"
        plots = {
            "calibration.png": calibration_png(ev.calibration, f"Calibration, {title}"),
            "pr_curve.png": pr_curve_png(ev.label, ev.predictions, ev.scores, f"Precision-recall, {title}"),
        }
        for name, png in plots.items():
            registry.attach(version, name, png)
        registry.nominate(version)
        context.log.info(f"CTR model {version} on {title}:\n{format_table(table)}")
        yield MaterializeResult(
            metadata={
                "version": version,
                "evaluation": MetadataValue.md(format_table(table, markdown=True)),
                "calibration": _image(plots["calibration.png"], "calibration"),
                "pr_curve": _image(plots["pr_curve.png"], "precision-recall"),
                "train_days": ev.split.as_dict()["train"],
                "evaluation_day": ev.split.evaluate.isoformat(),
                "train_rows": ev.train_rows,
                "auc": ev.scores[CANDIDATE].auc,
                "best_iteration": ev.models[CANDIDATE].best_iteration,
            }
        )
        yield error_check(
            PROMOTABLE,
            MODEL_KEY,
            verdict.passed,
            version=version,
            reasons=list(verdict.reasons),
            compared_with=current or "nothing promoted yet",
            **{f"auc_{k}": round(s.auc, 4) for k, s in ev.scores.items()},
        )

    return ctr_model


def _comparable(registry, version: str) -> bool:
    """A promoted version built on other features cannot score today's columns."""
    card = registry.card(version) or {}
    return card.get("features") == list(FEATURES)


def build_ctr_model_current(partitions: PartitionsDefinition) -> AssetsDefinition:
    @asset(
        key=CURRENT_KEY,
        deps=[MODEL_KEY],
        group_name=PREDICTION,
        partitions_def=partitions,
        backfill_policy=single_run,
        description="The registry's pointer to the model the prediction API serves: the candidate, once it "
        f"passed `{PROMOTABLE}` (the API reloads when it moves).",
        check_specs=[
            AssetCheckSpec(
                SERVES_A_PROMOTABLE_VERSION,
                asset=CURRENT_KEY,
                description="The pointer names a version whose artifact loads and whose card passed the "
                "promotion check.",
            )
        ],
    )
    def ctr_model_current(context: AssetExecutionContext, lake: LakeResource):
        from prediction.registry import MODELS_DIR, Registry

        registry = Registry(lake.writable_lake(MODELS_DIR))
        version = registry.candidate()
        if version is None:
            raise Failure(description="no candidate model in the registry", allow_retries=False)
        previous = registry.current()
        registry.promote(version)
        context.log.info(f"promoted CTR model {version} (was {previous})")
        yield MaterializeResult(metadata={"version": version, "previous": previous or "none"})
        served = registry.current()
        card = registry.card(served) if served else None
        model = registry.load(served) if card else None
        yield error_check(
            SERVES_A_PROMOTABLE_VERSION,
            CURRENT_KEY,
            served == version and bool(card and card.get("promotable")) and hasattr(model, "predict"),
            current=served,
            card_promotable=bool(card and card.get("promotable")),
        )

    return ctr_model_current


# ---------------------------------------------------------------- online features
def build_online_features(partitions: PartitionsDefinition) -> AssetsDefinition:
    @asset(
        key=ONLINE_KEY,
        deps=[FEATURE_KEYS[STATS_TABLE]],
        group_name=PREDICTION,
        kinds={"redis"},
        partitions_def=partitions,
        backfill_policy=single_run,
        description="The counts as of the day after the window's last arrival date, published to Redis as "
        "one snapshot (prediction/online_store.py) that the prediction API reads.",
        check_specs=[
            AssetCheckSpec(
                SNAPSHOT_COMPLETE,
                asset=ONLINE_KEY,
                blocking=True,
                description="The published snapshot holds as many entries as the lake's counts of its day.",
            )
        ],
    )
    def ctr_online_features(context: AssetExecutionContext, lake: LakeResource, stream: StreamResource):
        import redis

        as_of = window_of(context).end + timedelta(days=1)
        rows = online_store.stats_as_of(lake.lake(), as_of)
        if not rows:
            raise Failure(description=f"no counts as of {as_of} in the lake: run {online_train_hint(as_of)}")
        client = redis.Redis.from_url(stream.redis_url)
        try:
            snapshot, n = online_store.publish(client, as_of, rows)
            info = online_store.snapshot_info(client, snapshot)
        except redis.ConnectionError as ex:
            raise Failure(
                description=f"Redis at {stream.redis_url} is not reachable ({ex}): adlake stream up"
            ) from ex
        finally:
            client.close()
        yield MaterializeResult(metadata={"snapshot": snapshot, "as_of": as_of.isoformat(), "entries": n})
        yield error_check(
            SNAPSHOT_COMPLETE,
            ONLINE_KEY,
            int(info.get("rows", -1)) == len(rows),
            lake_rows=len(rows),
            redis=info,
        )

    return ctr_online_features


def online_train_hint(as_of: date) -> str:
    return f"the {TRAIN_JOB} job for arrival date {as_of - timedelta(days=1)} first"
