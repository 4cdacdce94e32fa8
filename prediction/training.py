"""Training and evaluating the CTR models on a time split (docs/prediction.md): train on the
event dates before the evaluation day, score every model and the ceiling (the simulator's
true click probability) on that day. Reads the training set the Spark step wrote
(`features/ctr_training`) with delta-rs; no Spark here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ad_assets.generator.truth import truth_path
from prediction.evaluation import Scores, calibration_curve, score
from prediction.features import (
    CATEGORICAL,
    CLICKS,
    ENTITIES,
    FEATURES_LAYER,
    GLOBAL,
    IMPRESSIONS,
    LABEL,
    LAST_CLICK_DAYS,
    TRAIN_DAYS,
    TRAINING_TABLE,
    USER,
    count_column,
)
from prediction.models import LIGHTGBM, MODEL_KINDS, RULE, train_models
from spark_jobs.lake import Lake
from spark_jobs.lake_read import open_table, partition_dates
from spark_jobs.layers import LATENESS_DAYS

CANDIDATE = LIGHTGBM  # the kind that is registered and served
CEILING = "ceiling"  # the true click probability, scored like a model
INCUMBENT = "current"  # the promoted version, rescored on the same day
VALIDATION_SHARE = 0.2  # early stopping's share when there is one training day only
TRUTH_LOOKBACK_DAYS = 14  # journeys' follow-up impressions are in the truth of the day they began
# The training set's count columns (prediction.features.numeric_features reads them).
COUNT_COLUMNS: tuple[str, ...] = (
    *(count_column(name, c) for name in (*(e.name for e in ENTITIES), GLOBAL) for c in (IMPRESSIONS, CLICKS)),
    count_column(USER.name, LAST_CLICK_DAYS),
)


class NotEnoughHistory(ValueError):
    """The lake has no complete evaluation day with a training day before it."""


@dataclass(frozen=True)
class Split:
    train: tuple[date, ...]
    evaluate: date

    def as_dict(self) -> dict[str, str]:
        return {"train": f"{self.train[0]}..{self.train[-1]}", "evaluate": self.evaluate.isoformat()}


def complete_until(window_end: date) -> date:
    """The last event date whose late arrivals have all landed once the arrival dates up
    to `window_end` are in."""
    return window_end - timedelta(days=LATENESS_DAYS)


def can_train(first_event_date: date, window_end: date) -> bool:
    """Whether a lake whose events start on `first_event_date` has, by `window_end`, a
    complete evaluation day with a training day before it."""
    return complete_until(window_end) > first_event_date


def plan_split(event_dates: list[date], complete_until: date) -> Split:
    """The evaluation day is the last event date whose late arrivals have all landed
    (`complete_until`); the training days are up to TRAIN_DAYS event dates before it."""
    evaluate = max((d for d in event_dates if d <= complete_until), default=None)
    train = tuple(
        d for d in event_dates if evaluate and evaluate - timedelta(days=TRAIN_DAYS) <= d < evaluate
    )
    if evaluate is None or not train:
        raise NotEnoughHistory(
            f"no complete evaluation day with a training day before it (event dates {event_dates[:1]}.."
            f"{event_dates[-1:]}, complete until {complete_until})"
        )
    return Split(train, evaluate)


def event_dates(lake: Lake) -> list[date]:
    """The event dates the training set holds, from its log."""
    return partition_dates(lake, FEATURES_LAYER, TRAINING_TABLE, "event_date")


@dataclass
class Columns:
    """Feature columns (prediction.features names) as numpy arrays, with labels and ids."""

    values: dict[str, np.ndarray]
    label: np.ndarray
    impression_id: np.ndarray
    event_date: np.ndarray

    def __len__(self) -> int:
        return len(self.label)

    def take(self, mask: np.ndarray) -> Columns:
        return Columns(
            {k: v[mask] for k, v in self.values.items()},
            self.label[mask],
            self.impression_id[mask],
            self.event_date[mask],
        )


def to_columns(t: pa.Table, label: str = LABEL) -> Columns:
    values: dict[str, np.ndarray] = {}
    for name in CATEGORICAL:
        values[name] = np.asarray(t[name].to_pylist(), dtype=object)
    for name in COUNT_COLUMNS:
        values[name] = t[name].to_numpy(zero_copy_only=False).astype(np.float64)  # nulls -> NaN
    return Columns(
        values,
        t[label].to_numpy().astype(np.int8),
        np.asarray(t["impression_id"].to_pylist(), dtype=object),
        np.asarray(t["event_date"].to_pylist(), dtype=object),
    )


def training_rows(lake: Lake, days: tuple[date, ...], label: str | None = LABEL) -> pa.Table:
    """The training set's rows of `days` (features, ids, and the click label unless None),
    in a fixed order (event date, impression id)."""
    t = open_table(lake, FEATURES_LAYER, TRAINING_TABLE).to_pyarrow_table(
        filters=[("event_date", "in", [d.isoformat() for d in days])],
        columns=["impression_id", "event_date", *([label] if label else []), *CATEGORICAL, *COUNT_COLUMNS],
    )
    return t.sort_by([("event_date", "ascending"), ("impression_id", "ascending")])


def read_days(lake: Lake, days: tuple[date, ...]) -> Columns:
    return to_columns(training_rows(lake, days))


def true_probability(lake: Lake, day: date, impression_ids: np.ndarray) -> np.ndarray | None:
    """The simulator's click probability of each impression (None for a lake without truth,
    or when it misses one of them). A simulated day's truth also holds the follow-up
    impressions of its journeys, served on later days: the files of the TRUTH_LOOKBACK_DAYS
    before `day` are read too."""
    fs, base = lake.arrow_fs()
    wanted = pa.array(impression_ids, pa.string())
    found: list[pa.Table] = []
    for back in range(TRUTH_LOOKBACK_DAYS + 1):
        path = truth_path(base, "impressions", day - timedelta(days=back))
        if fs.get_file_info(path).type.name == "NotFound":
            continue
        t = pq.read_table(path, filesystem=fs, columns=["impression_id", "click_probability"])
        found.append(t.filter(pc.is_in(t["impression_id"], wanted)))
    if not found:
        return None
    truth = pa.concat_tables(found)
    lookup = dict(
        zip(truth["impression_id"].to_pylist(), truth["click_probability"].to_pylist(), strict=True)
    )
    p = np.array([lookup.get(i, np.nan) for i in impression_ids], dtype=np.float64)
    return None if np.isnan(p).any() else p


@dataclass
class Evaluation:
    split: Split
    scores: dict[str, Scores]  # model kind (and CEILING) -> its scores on the evaluation day
    calibration: dict[str, list[dict[str, float]]]
    predictions: dict[str, np.ndarray]  # for the plots
    label: np.ndarray
    models: dict[str, object] = field(default_factory=dict)
    train_rows: int = 0

    def table(self) -> list[dict[str, object]]:
        """One row per model and the ceiling, and each model's share of the ceiling's AUC
        lift over a coin toss (1 = as good as the truth)."""
        ceiling = self.scores.get(CEILING)
        rows = []
        for name, s in self.scores.items():
            row: dict[str, object] = {"model": name, **s.as_dict()}
            if ceiling:
                row["auc_share_of_ceiling"] = (s.auc - 0.5) / (ceiling.auc - 0.5)
            rows.append(row)
        return rows


def split_validation(train: Columns, split: Split) -> tuple[Columns, Columns]:
    """Early stopping's validation set: the last training day, or a seeded VALIDATION_SHARE
    of the only one."""
    if len(split.train) > 1:
        last = split.train[-1]
        is_last = np.array([d == last for d in train.event_date])
        return train.take(~is_last), train.take(is_last)
    held = np.random.default_rng(11).random(len(train)) < VALIDATION_SHARE
    return train.take(~held), train.take(held)


def train_and_evaluate(lake: Lake, split: Split, incumbent: object | None = None) -> Evaluation:
    """Every model kind trained on the split's training days and scored on its evaluation
    day with the ceiling, and the `incumbent` (the promoted model) scored on the same day."""
    test = read_days(lake, (split.evaluate,))
    truth = true_probability(lake, split.evaluate, test.impression_id)
    return fit_and_score(split, read_days(lake, split.train), test, incumbent, truth)


def train_latest(lake: Lake, window_end: date, incumbent: object | None = None) -> Evaluation:
    """The CTR models on the split the lake allows once the arrival dates up to
    `window_end` are in (NotEnoughHistory when it allows none)."""
    return train_and_evaluate(lake, plan_split(event_dates(lake), complete_until(window_end)), incumbent)


def fit_and_score(
    split: Split,
    train: Columns,
    test: Columns,
    incumbent: object | None = None,
    truth: np.ndarray | None = None,
    conversions: bool = False,
) -> Evaluation:
    """Every model kind fit on `train` and scored on `test`, with the incumbent and the
    ceiling (`truth`) where given (prediction.models.train_models: `conversions`)."""
    fit, valid = split_validation(train, split)
    models = train_models(fit.values, fit.label, valid.values, valid.label, conversions=conversions)
    predictions = {kind: models[kind].predict(test.values) for kind in MODEL_KINDS}
    if incumbent is not None:
        predictions[INCUMBENT] = incumbent.predict(test.values)
    if truth is not None:
        predictions[CEILING] = truth
    return Evaluation(
        split=split,
        scores={k: score(test.label, p) for k, p in predictions.items()},
        calibration={k: calibration_curve(test.label, p) for k, p in predictions.items()},
        predictions=predictions,
        label=test.label,
        models=models,
        train_rows=len(train),
    )


@dataclass(frozen=True)
class Verdict:
    """Whether the candidate may replace the promoted model, and why."""

    passed: bool
    reasons: tuple[str, ...]


def promotion_verdict(scores: dict[str, Scores]) -> Verdict:
    """The candidate must rank better (AUC) and predict better (log loss) than the rule
    baseline, and rank at least as well as the promoted version on the same day (a retrain
    on the same rows is identical, so re-running a day keeps its model)."""
    cand, rule = scores[CANDIDATE], scores[RULE]
    reasons = []
    if not cand.auc > rule.auc:
        reasons.append(f"AUC {cand.auc:.4f} is not above the rule baseline's {rule.auc:.4f}")
    if not cand.logloss < rule.logloss:
        reasons.append(f"log loss {cand.logloss:.5f} is not below the rule baseline's {rule.logloss:.5f}")
    current = scores.get(INCUMBENT)
    if current is not None and not cand.auc >= current.auc:
        reasons.append(f"AUC {cand.auc:.4f} is below the promoted version's {current.auc:.4f}")
    return Verdict(not reasons, tuple(reasons))
