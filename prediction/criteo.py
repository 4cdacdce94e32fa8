"""Criteo's click logs (the Display Advertising Challenge / Terabyte format), for users with
real data: one impression per line, tab separated, no header -

    label  I1 .. I13  C1 .. C26
    0/1    integer counts (may be empty)   32-bit hashed categories as 8 hex digits (may be empty)

`read_criteo` loads a file (plain or .gz) with pyarrow; `train_and_evaluate` trains the same
model kinds as the lake's CTR model on a time split (Criteo's rows are in time order: the
first rows train, the next validate early stopping, the last are scored) and scores them
with prediction.evaluation. Real data has no known truth: there is no ceiling here.

    adlake criteo day_0.gz --limit 1000000
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from prediction.evaluation import Scores, score
from prediction.models import EARLY_STOPPING_ROUNDS, LIGHTGBM_PARAMS, MAX_ROUNDS

LABEL = "label"
INTEGERS: tuple[str, ...] = tuple(f"I{i}" for i in range(1, 14))
CATEGORIES: tuple[str, ...] = tuple(f"C{i}" for i in range(1, 27))
COLUMNS: tuple[str, ...] = (LABEL, *INTEGERS, *CATEGORIES)
CATEGORY_MIN_COUNT = 10  # rarer hashes share one "rare" code
# The share of the rows, in file order, that validate early stopping and that are scored.
VALID_SHARE, TEST_SHARE = 0.1, 0.1


class CriteoFormatError(ValueError):
    """The file is not in Criteo's format (the message says where)."""


@dataclass
class CriteoData:
    label: np.ndarray  # int8
    integers: np.ndarray  # float64, rows x 13, NaN where empty
    categories: np.ndarray  # object (str or None), rows x 26

    def __len__(self) -> int:
        return len(self.label)

    def rows(self, start: int, stop: int) -> CriteoData:
        return CriteoData(self.label[start:stop], self.integers[start:stop], self.categories[start:stop])


def read_criteo(path: Path, limit: int | None = None) -> CriteoData:
    """The first `limit` rows (all by default) of a Criteo file."""
    types = {
        LABEL: pa.int8(),
        **dict.fromkeys(INTEGERS, pa.float64()),
        **dict.fromkeys(CATEGORIES, pa.string()),
    }
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=list(COLUMNS), block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as ex:
        raise CriteoFormatError(
            f"{path}: not Criteo's format (label, 13 integers, 26 categories): {ex}"
        ) from None
    if limit is not None:
        table = table.slice(0, limit)
    label = table[LABEL].to_numpy(zero_copy_only=False)
    if table[LABEL].null_count or not np.isin(label, (0, 1)).all():
        raise CriteoFormatError(f"{path}: the label (first column) must be 0 or 1 on every line")
    integers = np.column_stack([table[c].to_numpy(zero_copy_only=False) for c in INTEGERS]).astype(np.float64)
    categories = np.column_stack([np.asarray(table[c].to_pylist(), dtype=object) for c in CATEGORIES])
    return CriteoData(label.astype(np.int8), integers, categories)


@dataclass(frozen=True)
class CriteoEncoding:
    """Category hash -> code per column, from the training rows (rare and unseen: -1)."""

    codes: tuple[dict[str, int], ...]

    @classmethod
    def fit(cls, categories: np.ndarray) -> CriteoEncoding:
        codes = []
        for j in range(categories.shape[1]):
            values, counts = np.unique(categories[:, j].astype(str), return_counts=True)
            kept = [v for v, n in zip(values, counts, strict=True) if n >= CATEGORY_MIN_COUNT and v != "None"]
            codes.append({v: i for i, v in enumerate(kept)})
        return cls(tuple(codes))

    def matrix(self, data: CriteoData) -> np.ndarray:
        """The model input: log1p of the integers (negatives as 0; missing NaN), then codes."""
        ints = np.log1p(np.maximum(data.integers, 0))
        cats = np.column_stack(
            [
                np.array(
                    [table.get(v, -1) if v is not None else -1 for v in data.categories[:, j]], np.float64
                )
                for j, table in enumerate(self.codes)
            ]
        )
        return np.hstack([ints, cats])


_N_INT = len(INTEGERS)


def _logistic() -> Pipeline:
    ints = list(range(_N_INT))
    cats = list(range(_N_INT, _N_INT + len(CATEGORIES)))
    return Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [
                        ("categories", OneHotEncoder(handle_unknown="ignore"), cats),
                        ("integers", StandardScaler(), ints),
                    ]
                ),
            ),
            ("model", LogisticRegression(C=0.5, max_iter=2000)),
        ]
    )


def train_and_evaluate(data: CriteoData) -> dict[str, Scores]:
    """Logistic regression and LightGBM on the first rows, scored on the last TEST_SHARE;
    and `constant`, the training click rate (what a model must beat to be worth anything)."""
    n = len(data)
    test_from = int(n * (1 - TEST_SHARE))
    valid_from = int(n * (1 - TEST_SHARE - VALID_SHARE))
    if valid_from < 100 or n - test_from < 100:
        raise ValueError(f"{n} rows are too few to train and score (at least 1,000)")
    train, valid, test = data.rows(0, valid_from), data.rows(valid_from, test_from), data.rows(test_from, n)
    encoding = CriteoEncoding.fit(train.categories)
    x_train, x_valid, x_test = (encoding.matrix(d) for d in (train, valid, test))
    logistic = _logistic().fit(
        np.nan_to_num(np.vstack([x_train, x_valid])), np.concatenate([train.label, valid.label])
    )
    booster = lgb.train(
        {**LIGHTGBM_PARAMS, "metric": "binary_logloss"},
        lgb.Dataset(x_train, label=train.label, categorical_feature=[]),
        num_boost_round=MAX_ROUNDS,
        valid_sets=[lgb.Dataset(x_valid, label=valid.label)],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    rate = float(np.concatenate([train.label, valid.label]).mean())
    return {
        "constant": score(test.label, np.full(len(test), rate)),
        "logistic": score(test.label, logistic.predict_proba(np.nan_to_num(x_test))[:, 1]),
        "lightgbm": score(test.label, booster.predict(x_test, num_iteration=booster.best_iteration)),
    }
