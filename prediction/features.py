"""The CTR model's features, defined once (docs/prediction.md). Training computes them from
the lake (spark_jobs/ctr_features.py counts, `numeric_features` turns counts into features);
serving computes them from the online store (prediction/online_store.py) with the same
functions. Pure Python and numpy: the prediction API imports this without Spark or Dagster.

A feature row has three parts:
- the impression's context, as the raw log contract names it (categorical strings, and
  the hour of `event_ts`);
- per entity (placement, creative, campaign x placement, user pseudonym), the valid
  impressions and their clicks in the LOOKBACK_DAYS event dates before the impression's
  date that had *arrived* by the end of the day before: what the online store holds when
  the impression is served, so training sees no more than serving does (point in time);
- the global click rate of the same lookback, the prior every rate is smoothed toward.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

LOOKBACK_DAYS = 7
TRAIN_DAYS = 14  # the most event dates a model trains on (prediction/training.py)

# Where the Spark step writes them in the lake (lake layer `features`).
FEATURES_LAYER = "features"
STATS_TABLE = "entity_stats"  # counts per as-of day, entity and key
TRAINING_TABLE = "ctr_training"  # one row per valid impression: context, counts, label
LABEL = "clicked"

# The impression's own fields (raw log contract) the model sees as categories.
CONTEXT: tuple[str, ...] = (
    "channel",
    "ad_format",
    "device_type",
    "os",
    "country",
    "publisher_id",
    "placement_id",
    "creative_id",
    "campaign_id",
)
HOUR = "hour"  # UTC hour of event_ts, 0-23: a category too
CATEGORICAL: tuple[str, ...] = (*CONTEXT, HOUR)


@dataclass(frozen=True)
class Entity:
    """Something with a click history: its key columns and how many pseudo-impressions at
    the global rate its rate is smoothed with (few for users: a user's own history is short
    but telling)."""

    name: str
    columns: tuple[str, ...]
    prior_weight: float


PLACEMENT = Entity("placement", ("placement_id",), 200.0)
CREATIVE = Entity("creative", ("creative_id",), 200.0)
CAMPAIGN_PLACEMENT = Entity("campaign_placement", ("campaign_id", "placement_id"), 200.0)
USER = Entity("user", ("user_pid",), 20.0)
ENTITIES: tuple[Entity, ...] = (PLACEMENT, CREATIVE, CAMPAIGN_PLACEMENT, USER)
GLOBAL = "global"  # the lookback's totals over every valid impression: the prior

# The counts each entity contributes (columns `<entity>_<count>` in the training set).
IMPRESSIONS, CLICKS, LAST_CLICK_DAYS = "impressions", "clicks", "last_click_days"
COUNTS: tuple[str, ...] = (IMPRESSIONS, CLICKS, LAST_CLICK_DAYS)
# A user with no click in the lookback: as if the last one were just beyond it.
NO_CLICK_DAYS = LOOKBACK_DAYS + 1
# Before any history (the first day of a lake): the prior is this rate.
DEFAULT_CTR = 0.01


def count_column(entity: str, count: str) -> str:
    return f"{entity}_{count}"


def entity_key(entity: Entity, values: Mapping[str, object]) -> str | None:
    """The entity's key in the online store and the training set: its columns' values
    joined by '|' (None when one is missing: such a row has no history)."""
    parts = [values.get(c) for c in entity.columns]
    if any(p is None or p == "" for p in parts):
        return None
    return "|".join(str(p) for p in parts)


# The numeric features, in the model's column order.
NUMERIC: tuple[str, ...] = (
    *(f"{e.name}_ctr" for e in ENTITIES),
    *(f"{e.name}_log_impressions" for e in ENTITIES),
    "user_last_click_days",
    "global_ctr",
)
FEATURES: tuple[str, ...] = (*CATEGORICAL, *NUMERIC)


def prior_rate(global_impressions, global_clicks):
    """The lookback's global click rate (DEFAULT_CTR before any history); scalars or arrays."""
    imps = np.asarray(global_impressions, dtype=np.float64)
    clicks = np.asarray(global_clicks, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(imps > 0, clicks / np.maximum(imps, 1.0), DEFAULT_CTR)


_IMPRESSION_COUNTS = [count_column(e.name, IMPRESSIONS) for e in ENTITIES]
_CLICK_COUNTS = [count_column(e.name, CLICKS) for e in ENTITIES]
_PRIOR_WEIGHTS = np.array([e.prior_weight for e in ENTITIES])


def _count_matrix(counts: Mapping[str, object], names: Sequence[str], default: float, n: int) -> np.ndarray:
    out = np.empty((n, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        v = counts.get(name)
        out[:, j] = default if v is None else v
    out[np.isnan(out)] = default  # a null count: no history
    return out


def numeric_matrix(counts: Mapping[str, object], n: int) -> np.ndarray:
    """The numeric features from the counts (`<entity>_<count>` and `global_<count>`, each
    a scalar or an array of n; a missing entity's counts are 0 and null), one column per
    NUMERIC name. The one definition training and serving share."""
    imps = _count_matrix(counts, _IMPRESSION_COUNTS, 0.0, n)
    clicks = _count_matrix(counts, _CLICK_COUNTS, 0.0, n)
    glob = _count_matrix(counts, (count_column(GLOBAL, IMPRESSIONS), count_column(GLOBAL, CLICKS)), 0.0, n)
    prior = prior_rate(glob[:, 0], glob[:, 1])
    last = _count_matrix(counts, (count_column(USER.name, LAST_CLICK_DAYS),), float(NO_CLICK_DAYS), n)
    ctr = (clicks + prior[:, None] * _PRIOR_WEIGHTS) / (imps + _PRIOR_WEIGHTS)
    return np.hstack([ctr, np.log1p(imps), last, prior[:, None]])


def numeric_features(counts: Mapping[str, object], n: int | None = None) -> dict[str, np.ndarray]:
    """numeric_matrix by name (n: the rows; by default the length of the count arrays)."""
    if n is None:
        n = max((np.size(v) for v in counts.values() if not isinstance(v, str)), default=1)
    m = numeric_matrix(counts, n)
    return {name: m[:, j] for j, name in enumerate(NUMERIC)}


def hour_of(event_ts_micros) -> np.ndarray:
    """UTC hour of microsecond timestamps, as the category string the model sees."""
    hours = (np.asarray(event_ts_micros, dtype=np.int64) // 3_600_000_000) % 24
    return hours.astype(str)


@dataclass(frozen=True)
class Vocabulary:
    """Category -> code per categorical feature, fixed at training time; unseen values get
    no code (NaN: LightGBM's missing value, the logistic regression's all-zero one-hot)."""

    codes: dict[str, dict[str, int]]

    @classmethod
    def fit(cls, columns: Mapping[str, object], min_count: int = 1) -> Vocabulary:
        codes = {}
        for name in CATEGORICAL:
            values, counts = np.unique(
                np.asarray(columns[name], dtype=object).astype(str), return_counts=True
            )
            kept = sorted(v for v, n in zip(values, counts, strict=True) if n >= min_count)
            codes[name] = {v: i for i, v in enumerate(kept)}
        return cls(codes)

    def encode(self, name: str, values) -> np.ndarray:
        table = self.codes[name]
        return np.array(
            [np.nan if v is None else table.get(str(v), np.nan) for v in values], dtype=np.float64
        )


def design_matrix(columns: Mapping[str, object], vocabulary: Vocabulary) -> np.ndarray:
    """The model's input, one row per impression, columns in FEATURES' order: categorical
    codes, then the numeric features. `columns` holds the context (CONTEXT and HOUR) and the
    counts, as arrays (training) or short ones (serving)."""
    n = len(columns[CONTEXT[0]])
    x = np.empty((n, len(FEATURES)), dtype=np.float64)
    for j, name in enumerate(CATEGORICAL):
        x[:, j] = vocabulary.encode(name, columns[name])
    x[:, len(CATEGORICAL) :] = numeric_matrix(columns, n)
    return x


def serving_columns(
    impressions: Sequence[Mapping[str, object]], counts: Sequence[Mapping[str, float]]
) -> dict[str, np.ndarray]:
    """The feature columns for impressions being served: each impression's context (CONTEXT
    and HOUR, as training names them) and the counts the online store returned for it (a
    missing count is NaN: numeric_features' defaults). What design_matrix takes."""
    columns: dict[str, np.ndarray] = {
        name: np.array([imp.get(name) for imp in impressions], dtype=object) for name in CATEGORICAL
    }
    names = {k for c in counts for k in c}
    for name in names:
        columns[name] = np.array([c.get(name, np.nan) for c in counts], dtype=np.float64)
    return columns
