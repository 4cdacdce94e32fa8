"""How good a click-probability estimate is, by the measures docs/prediction.md defines:
ranking (ROC AUC, PR AUC), calibrated probability (log loss, Brier score) and a calibration
curve. The same functions score the models and the ceiling (the simulator's true
probability), so the report can say how close each model gets to the best possible."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

CALIBRATION_BINS = 10
# Log loss is undefined at 0 and 1: probabilities are clipped to this margin.
EPSILON = 1e-6


@dataclass(frozen=True)
class Scores:
    rows: int
    clicks: int
    auc: float
    pr_auc: float
    logloss: float
    brier: float
    mean_prediction: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def score(label: np.ndarray, p: np.ndarray) -> Scores:
    """Every measure of one estimate; the labels must hold both classes."""
    y = np.asarray(label, dtype=np.int8)
    q = np.clip(np.asarray(p, dtype=np.float64), EPSILON, 1 - EPSILON)
    if y.min() == y.max():
        raise ValueError("scoring needs clicked and unclicked impressions")
    return Scores(
        rows=len(y),
        clicks=int(y.sum()),
        auc=float(roc_auc_score(y, q)),
        pr_auc=float(average_precision_score(y, q)),
        logloss=float(log_loss(y, q, labels=[0, 1])),
        brier=float(brier_score_loss(y, q)),
        mean_prediction=float(q.mean()),
    )


def calibration_curve(
    label: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS
) -> list[dict[str, float]]:
    """Impressions in `bins` groups of equal size by predicted probability: per group the
    mean prediction, the observed click rate and the count (equal-count bins: click rates
    are small, equal-width bins would put nearly every impression in the first)."""
    y = np.asarray(label, dtype=np.float64)
    q = np.asarray(p, dtype=np.float64)
    order = np.argsort(q, kind="stable")
    return [
        {"predicted": float(q[i].mean()), "observed": float(y[i].mean()), "impressions": len(i)}
        for i in np.array_split(order, bins)
        if len(i)
    ]


# The report's columns: (key in a row of training.Evaluation.table, heading, format).
_COLUMNS = (
    ("model", "model", "{}"),
    ("auc", "AUC", "{:.4f}"),
    ("pr_auc", "PR AUC", "{:.4f}"),
    ("logloss", "log loss", "{:.5f}"),
    ("brier", "Brier", "{:.5f}"),
    ("mean_prediction", "mean p", "{:.4f}"),
    ("auc_share_of_ceiling", "share of ceiling AUC", "{:.0%}"),
)


def format_table(rows: list[dict[str, object]], markdown: bool = False) -> str:
    """The evaluation table as text (aligned columns) or Markdown."""
    cols = [c for c in _COLUMNS if any(c[0] in r for r in rows)]
    cells = [[fmt.format(r[k]) if k in r else "" for k, _, fmt in cols] for r in rows]
    heads = [h for _, h, _ in cols]
    if markdown:
        lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    line = "  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))
    rows_text = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join([line, *rows_text])
