"""The evaluation plots (docs/prediction.md) as PNG bytes: the calibration curve and the
precision-recall curve of every model and the ceiling, on the evaluation day."""

from __future__ import annotations

import io
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt  # after the backend is chosen
import numpy as np
from sklearn.metrics import precision_recall_curve

from prediction.evaluation import Scores


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def calibration_png(curves: Mapping[str, list[dict[str, float]]], title: str) -> bytes:
    """Mean prediction against the observed rate per equal-count bin; the diagonal is
    perfect calibration."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    top = max(max(p["predicted"], p["observed"]) for c in curves.values() for p in c)
    ax.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect")
    for name, curve in curves.items():
        ax.plot([p["predicted"] for p in curve], [p["observed"] for p in curve], marker="o", label=name)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed rate")
    ax.set_title(title)
    ax.legend()
    return _png(fig)


def pr_curve_png(
    label: np.ndarray, predictions: Mapping[str, np.ndarray], scores: Mapping[str, Scores], title: str
) -> bytes:
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for name, p in predictions.items():
        precision, recall, _ = precision_recall_curve(label, p)
        ax.plot(recall, precision, label=f"{name} (PR AUC {scores[name].pr_auc:.3f})")
    ax.axhline(float(np.mean(label)), color="grey", linestyle=":", label="base rate")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title)
    ax.legend()
    return _png(fig)
