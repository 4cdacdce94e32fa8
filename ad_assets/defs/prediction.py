"""Prediction in Dagster (docs/prediction.md): the features' counts and training set from
silver (Spark); the click (CTR) and conversion-given-click (CVR) models trained, scored (the
CTR model against the simulator's truth) and promoted in the registry behind a blocking
check; and the online features published to Redis.

Training is not in the daily job (a model that fails its promotion check must not fail the
lake's run): `train_models` runs after it (a sensor, and `adlake run`). Publishing needs
Redis: a job of its own, as the real-time group's."""

import base64
import importlib
from dataclasses import dataclass
from datetime import date, timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
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

from ad_assets.defs.gold import GOLD_KEYS
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
from prediction.registry import CTR, CVR
from spark_jobs.contracts import TABLE_NAMES
from spark_jobs.delta_io import read_window
from spark_jobs.lake_read import delta_row_counts
from spark_jobs.layers import SILVER
from spark_jobs.pipeline import run_ctr_features

PREDICTION = "prediction"  # the assets' group
TRAIN_JOB = "train_models"
PUBLISH_JOB = "publish_online_features"
FEATURE_KEYS = {STATS_TABLE: AssetKey("ctr_entity_stats"), TRAINING_TABLE: AssetKey("ctr_training_set")}
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
            *(build(partitions, t) for t in TARGETS for build in (build_model, build_model_current)),
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
    """What `train_models` materializes (ad_assets/defs/schedules.py builds the job)."""
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


# ---------------------------------------------------------------- the models
@dataclass(frozen=True)
class ModelTarget:
    """What a model predicts; its registry name prefixes its assets (`<name>_model`,
    `<name>_model_current`). `train` and `can_train` name functions in prediction/
    (module:function), imported when they are called: the model libraries load with a
    training run, not with the definitions."""

    name: str
    title: str
    rows: str
    deps: tuple[AssetKey, ...]
    train: str
    can_train: str  # module:function(first_event_date, window_end) -> bool
    young_lake: str  # what a lake too young to train it needs
    description: str

    def _function(self, ref: str):
        module, function = ref.split(":")
        return getattr(importlib.import_module(module), function)

    def train_latest(self, lake, window_end: date, incumbent: object | None):
        return self._function(self.train)(lake, window_end, incumbent)

    def lake_allows_training(self, first_event_date: date, window_end: date) -> bool:
        return self._function(self.can_train)(first_event_date, window_end)

    @property
    def key(self) -> AssetKey:
        return AssetKey(f"{self.name}_model")

    @property
    def current_key(self) -> AssetKey:
        return AssetKey(f"{self.name}_model_current")


CTR_TARGET = ModelTarget(
    name=CTR,
    title="CTR",
    rows="impressions",
    deps=(FEATURE_KEYS[TRAINING_TABLE],),
    train="prediction.training:train_latest",
    can_train="prediction.training:can_train",
    young_lake="an evaluation day after a training day, --days 4 or more",
    description="The rule baseline, logistic regression and LightGBM trained on the event dates before the "
    "last complete one and scored on it, with the ceiling (the simulator's true probability) and the "
    "promoted version; the LightGBM model stored in the registry as a candidate.",
)
CVR_TARGET = ModelTarget(
    name=CVR,
    title="CVR",
    rows="clicks",
    deps=(FEATURE_KEYS[TRAINING_TABLE], SILVER_KEYS["click"], GOLD_KEYS["attribution"]),
    train="prediction.conversions:train_latest",
    can_train="prediction.conversions:can_train",
    young_lake="clicks wait a day for their conversions, --days 5 or more",
    description="Conversion given a click (a last-click conversion within a day): the campaign-rate "
    "baseline, logistic regression and LightGBM trained on the clicks whose labels are final, scored on "
    "the last such day with the promoted version; the LightGBM model stored as a candidate.",
)
TARGETS: tuple[ModelTarget, ...] = (CTR_TARGET, CVR_TARGET)


def _image(png: bytes, alt: str) -> MetadataValue:
    return MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})")


def build_model(partitions: PartitionsDefinition, target: ModelTarget) -> AssetsDefinition:
    @asset(
        key=target.key,
        deps=list(target.deps),
        group_name=PREDICTION,
        kinds={"lightgbm", "scikitlearn"},
        partitions_def=partitions,
        backfill_policy=single_run,
        description=target.description,
        check_specs=[
            AssetCheckSpec(
                PROMOTABLE,
                asset=target.key,
                blocking=True,
                description="The candidate's AUC and log loss beat the rule baseline's, and its AUC is at "
                "least the promoted version's on the same evaluation day. A warning when the lake has no "
                "evaluation day yet (nothing trained, nothing promoted).",
            )
        ],
    )
    def model_asset(context: AssetExecutionContext, lake: LakeResource):
        # The model libraries (scikit-learn, LightGBM, matplotlib: seconds to import) load
        # when a model trains, not with the definitions.
        from prediction.evaluation import format_table
        from prediction.plots import calibration_png, pr_curve_png
        from prediction.registry import MODELS_DIR, Registry
        from prediction.training import CANDIDATE, NotEnoughHistory, promotion_verdict

        the_lake = lake.writable_lake(MODELS_DIR)
        registry = Registry(the_lake, target.name)
        current = registry.current()
        incumbent = registry.load(current) if current and _comparable(registry, current) else None
        try:
            ev = target.train_latest(the_lake, window_of(context).end, incumbent)
        except NotEnoughHistory as ex:
            # Not a fault of the lake's: a young lake has no day to judge a model on yet.
            context.log.warning(f"{target.title} model not trained: {ex}")
            yield MaterializeResult(metadata={"trained": False, "reason": str(ex)})
            yield AssetCheckResult(
                check_name=PROMOTABLE,
                asset_key=target.key,
                passed=False,
                severity=AssetCheckSeverity.WARN,
                metadata={"reason": f"nothing trained: {ex}"},
            )
            return
        verdict = promotion_verdict(ev.scores)
        table = ev.table()
        candidate = ev.models[CANDIDATE]
        card = {
            "kind": CANDIDATE,
            "target": target.name,
            "features": list(FEATURES),
            "params": {k: v for k, v in candidate.booster.params.items() if k != "metric"},
            "best_iteration": candidate.best_iteration,
            "split": ev.split.as_dict(),
            "train_rows": ev.train_rows,
            "rows": target.rows,
            "evaluation": table,
            "calibration": ev.calibration,
            "compared_with": current if incumbent is not None else None,
            "promotable": verdict.passed,
            "promotion_reasons": list(verdict.reasons),
        }
        version = registry.save(candidate, card)
        title = f"{target.title}, evaluation day {ev.split.evaluate}"
        plots = {
            "calibration.png": calibration_png(ev.calibration, f"Calibration, {title}"),
            "pr_curve.png": pr_curve_png(ev.label, ev.predictions, ev.scores, f"Precision-recall, {title}"),
        }
        for name, png in plots.items():
            registry.attach(version, name, png)
        registry.nominate(version)
        context.log.info(f"{target.title} model {version} on {title}:\n{format_table(table)}")
        yield MaterializeResult(
            metadata={
                "trained": True,
                "version": version,
                "evaluation": MetadataValue.md(format_table(table, markdown=True)),
                "calibration": _image(plots["calibration.png"], "calibration"),
                "pr_curve": _image(plots["pr_curve.png"], "precision-recall"),
                "train_days": ev.split.as_dict()["train"],
                "evaluation_day": ev.split.evaluate.isoformat(),
                f"train_{target.rows}": ev.train_rows,
                "auc": ev.scores[CANDIDATE].auc,
                "best_iteration": candidate.best_iteration,
            }
        )
        yield error_check(
            PROMOTABLE,
            target.key,
            verdict.passed,
            version=version,
            reasons=list(verdict.reasons),
            compared_with=current or "nothing promoted yet",
            **{f"auc_{k}": round(s.auc, 4) for k, s in ev.scores.items()},
        )

    return model_asset


def _comparable(registry, version: str) -> bool:
    """A promoted version built on other features cannot score today's columns."""
    card = registry.card(version) or {}
    return card.get("features") == list(FEATURES)


def build_model_current(partitions: PartitionsDefinition, target: ModelTarget) -> AssetsDefinition:
    @asset(
        key=target.current_key,
        deps=[target.key],
        group_name=PREDICTION,
        partitions_def=partitions,
        backfill_policy=single_run,
        description=f"The registry's pointer to the {target.title} model the prediction API serves: the "
        f"candidate, once it passed `{PROMOTABLE}` (the API reloads when it moves).",
        check_specs=[
            AssetCheckSpec(
                SERVES_A_PROMOTABLE_VERSION,
                asset=target.current_key,
                description="The pointer names a version whose artifact loads and whose card passed the "
                "promotion check (a warning while none has: a young lake).",
            )
        ],
    )
    def model_current(context: AssetExecutionContext, lake: LakeResource):
        from prediction.registry import MODELS_DIR, Registry

        registry = Registry(lake.writable_lake(MODELS_DIR), target.name)
        version = registry.candidate()
        card = registry.card(version) if version else None
        previous = registry.current()
        # The candidate passed the blocking check, or this run trained none (a young lake):
        # only a promotable candidate moves the pointer, so a re-run is always safe.
        if card and card.get("promotable") and version != previous:
            registry.promote(version)
            context.log.info(f"promoted {target.title} model {version} (was {previous})")
        served = registry.current()
        yield MaterializeResult(metadata={"version": served or "none", "previous": previous or "none"})
        served_card = registry.card(served) if served else None
        model = registry.load(served) if served_card else None
        ok = bool(served_card and served_card.get("promotable")) and hasattr(model, "predict")
        yield AssetCheckResult(
            check_name=SERVES_A_PROMOTABLE_VERSION,
            asset_key=target.current_key,
            passed=ok,
            severity=AssetCheckSeverity.ERROR if served else AssetCheckSeverity.WARN,
            metadata={
                "current": served or "none",
                "card_promotable": bool(served_card and served_card.get("promotable")),
            },
        )

    return model_current


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
