"""The models docs/prediction.md compares, trained on the same feature columns:

- `rule`: for clicks, the campaign x placement click rate of the lookback, smoothed toward
  the global rate (what a bidder without a model would use); for conversions, the
  campaign's conversion rate over the training clicks, smoothed toward their overall rate;
- `logistic`: logistic regression on one-hot categories and the (logit) historical rates;
- `lightgbm`: gradient-boosted trees on the category codes and rates, with early stopping.

A model is a picklable object with `predict(columns) -> probabilities`; `columns` is a
mapping of feature-column arrays (prediction.features), one element per impression."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from prediction.features import CATEGORICAL, FEATURES, NUMERIC, Vocabulary, design_matrix, numeric_features

RULE, LOGISTIC, LIGHTGBM = "rule", "logistic", "lightgbm"
MODEL_KINDS: tuple[str, ...] = (RULE, LOGISTIC, LIGHTGBM)
RULE_FEATURE = "campaign_placement_ctr"

LIGHTGBM_PARAMS: dict[str, object] = {
    "objective": "binary",
    "learning_rate": 0.05,
    # Small, regularised trees: about 1% of ~100k impressions click, and deeper trees (31
    # leaves, LightGBM's native categories on the ids) overfitted the ids: AUC 0.723 against
    # 0.755 for these on `make run`'s lake (docs/prediction.md "Tuning").
    "num_leaves": 15,
    "min_data_in_leaf": 200,
    "lambda_l2": 10.0,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "num_threads": 2,
    "verbose": -1,
    "seed": 7,
    # A retrain on the same rows gives the same trees (the promotion check compares versions).
    "deterministic": True,
    "force_row_wise": True,
}
# Conversions given a click: a few hundred clicks a day, not a hundred thousand impressions.
CVR_LIGHTGBM_PARAMS: dict[str, object] = {**LIGHTGBM_PARAMS, "num_leaves": 7, "min_data_in_leaf": 30}
MAX_ROUNDS = 1000
PARALLEL_ROWS = 10_000  # fewer rows are predicted on one thread
EARLY_STOPPING_ROUNDS = 50
CATEGORY_MIN_COUNT = 5  # rarer values are "unseen": too few to learn from
_CAT = list(range(len(CATEGORICAL)))
_CTR = [len(CATEGORICAL) + NUMERIC.index(n) for n in NUMERIC if n.endswith("_ctr")]


@dataclass
class RuleModel:
    kind: str = RULE

    def predict(self, columns: Mapping[str, object]) -> np.ndarray:
        return numeric_features(columns, len(columns[CATEGORICAL[0]]))[RULE_FEATURE]


@dataclass
class CampaignRateModel:
    """The conversion baseline: each campaign's rate over the training rows, smoothed with
    `prior_weight` pseudo-rows at the overall rate (an unseen campaign gets the overall)."""

    rates: dict[str, float]
    overall: float
    kind: str = RULE

    @classmethod
    def fit(cls, columns: Mapping[str, object], label: np.ndarray, prior_weight: float = 20.0):
        campaigns = np.asarray(columns["campaign_id"], dtype=object).astype(str)
        overall = float(np.mean(label))
        rates = {}
        for c in np.unique(campaigns):
            y = label[campaigns == c]
            rates[c] = float((y.sum() + prior_weight * overall) / (len(y) + prior_weight))
        return cls(rates, overall)

    def predict(self, columns: Mapping[str, object]) -> np.ndarray:
        return np.array(
            [self.rates.get(str(c), self.overall) for c in columns["campaign_id"]], dtype=np.float64
        )


def _logistic_inputs(x: np.ndarray) -> np.ndarray:
    """Categories with no code become -1 (a category of their own, ignored by the one-hot
    encoder as unknown); rates enter as log odds, the scale they act on."""
    x = x.copy()
    cat = x[:, _CAT]
    x[:, _CAT] = np.where(np.isnan(cat), -1.0, cat)
    rates = np.clip(x[:, _CTR], 1e-6, 1 - 1e-6)
    x[:, _CTR] = np.log(rates / (1 - rates))
    return x


@dataclass
class LogisticModel:
    vocabulary: Vocabulary
    pipeline: Pipeline
    kind: str = LOGISTIC

    def predict(self, columns: Mapping[str, object]) -> np.ndarray:
        x = _logistic_inputs(design_matrix(columns, self.vocabulary))
        return self.pipeline.predict_proba(x)[:, 1]


@dataclass
class LightGBMModel:
    vocabulary: Vocabulary
    booster: lgb.Booster
    best_iteration: int
    kind: str = LIGHTGBM
    feature_names: tuple[str, ...] = field(default=FEATURES)

    def predict(self, columns: Mapping[str, object]) -> np.ndarray:
        x = design_matrix(columns, self.vocabulary)
        # A request's few rows on one thread: waking OpenMP's threads costs more than the trees
        # (157 us against 38 us for one row), and the server's other requests need the core.
        threads = 1 if len(x) < PARALLEL_ROWS else LIGHTGBM_PARAMS["num_threads"]
        p = self.booster.predict(x, num_iteration=self.best_iteration, num_threads=threads)
        return np.asarray(p, dtype=np.float64)


def train_logistic(columns: Mapping[str, object], label: np.ndarray, vocabulary: Vocabulary) -> LogisticModel:
    numeric = list(range(len(CATEGORICAL), len(FEATURES)))
    pipeline = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [
                        ("categories", OneHotEncoder(handle_unknown="ignore", categories="auto"), _CAT),
                        ("numbers", StandardScaler(), numeric),
                    ]
                ),
            ),
            ("model", LogisticRegression(C=0.5, max_iter=2000)),
        ]
    )
    pipeline.fit(_logistic_inputs(design_matrix(columns, vocabulary)), label)
    return LogisticModel(vocabulary, pipeline)


def train_lightgbm(
    train: Mapping[str, object],
    train_label: np.ndarray,
    valid: Mapping[str, object],
    valid_label: np.ndarray,
    vocabulary: Vocabulary,
    params: Mapping[str, object] = LIGHTGBM_PARAMS,
) -> LightGBMModel:
    """Boosting rounds stop when the validation log loss has not improved for
    EARLY_STOPPING_ROUNDS; the model keeps the best round."""
    # Categories enter as their vocabulary codes (ordered by value), not as LightGBM
    # categories: the historical rates carry the ids' signal, and splits on code ranges
    # overfit less than per-category ones (see LIGHTGBM_PARAMS).
    dtrain = lgb.Dataset(
        design_matrix(train, vocabulary),
        label=train_label,
        feature_name=list(FEATURES),
        categorical_feature=[],
        free_raw_data=True,
    )
    dvalid = lgb.Dataset(design_matrix(valid, vocabulary), label=valid_label, reference=dtrain)
    booster = lgb.train(
        {**params, "metric": "binary_logloss"},
        dtrain,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[dvalid],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    return LightGBMModel(vocabulary, booster, booster.best_iteration or booster.current_iteration())


def train_models(
    train: Mapping[str, np.ndarray],
    train_label: np.ndarray,
    valid: Mapping[str, np.ndarray],
    valid_label: np.ndarray,
    conversions: bool = False,
) -> dict[str, RuleModel | CampaignRateModel | LogisticModel | LightGBMModel]:
    """Every model kind, fit on `train` (LightGBM stops early on `valid`; the others refit
    on both). `conversions`: the rows are clicks labelled by conversion (CVR), which take
    the campaign-rate rule and smaller trees."""
    both = {k: np.concatenate([np.asarray(train[k]), np.asarray(valid[k])]) for k in train}
    both_label = np.concatenate([train_label, valid_label])
    vocabulary = Vocabulary.fit(both, min_count=CATEGORY_MIN_COUNT)
    return {
        RULE: CampaignRateModel.fit(both, both_label) if conversions else RuleModel(),
        LOGISTIC: train_logistic(both, both_label, vocabulary),
        LIGHTGBM: train_lightgbm(
            train,
            train_label,
            valid,
            valid_label,
            vocabulary,
            CVR_LIGHTGBM_PARAMS if conversions else LIGHTGBM_PARAMS,
        ),
    }
