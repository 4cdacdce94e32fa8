"""The Criteo-format loader and its models, on a file the test writes: label, 13 integer
and 26 hashed categorical columns, tab separated, with empty fields, where the click
probability depends on I1, I2 and C1 in a known way."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from ad_assets.cli import main
from prediction.criteo import CATEGORIES, INTEGERS, CriteoFormatError, read_criteo, train_and_evaluate


def _write(path, n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    i1 = rng.poisson(3, n)
    i2 = rng.integers(0, 1000, n)
    c1 = rng.integers(0, 50, n)
    effect = np.random.default_rng(0).normal(0, 1.0, 50)
    logit = -2.5 + 0.5 * np.log1p(i1) - 0.3 * np.log1p(i2) / 3 + effect[c1]
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    lines = []
    for k in range(n):
        ints = [str(i1[k]), "" if k % 7 == 0 else str(i2[k])] + [str(rng.integers(0, 9))] * 11
        cats = [f"{c1[k] * 2654435761 % 2**32:08x}"] + [f"{rng.integers(0, 5):08x}"] * 24 + [""]
        lines.append("\t".join([str(label[k]), *ints, *cats]))
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    return label


def test_a_criteo_file_reads_with_its_empty_fields(tmp_path):
    path = tmp_path / "day_0.gz"
    label = _write(path, 50)
    data = read_criteo(path)
    assert len(data) == 50 and data.integers.shape == (50, len(INTEGERS))
    assert data.categories.shape == (50, len(CATEGORIES))
    assert np.array_equal(data.label, label)
    assert np.isnan(data.integers[0, 1]) and not np.isnan(data.integers[1, 1])  # every 7th I2 is empty
    assert data.categories[0, -1] is None and len(data.categories[0, 0]) == 8
    assert len(read_criteo(path, limit=10)) == 10


def test_a_file_in_another_format_is_refused_with_the_reason(tmp_path):
    short = tmp_path / "short.tsv"
    short.write_text("1\t2\t3\n")
    with pytest.raises(CriteoFormatError, match="13 integers, 26 categories"):
        read_criteo(short)
    bad_label = tmp_path / "label.tsv"
    bad_label.write_text("\t".join(["2"] + ["1"] * 13 + ["ab"] * 26) + "\n")
    with pytest.raises(CriteoFormatError, match="0 or 1"):
        read_criteo(bad_label)


def test_the_models_learn_what_the_file_holds(tmp_path, capsys):
    path = tmp_path / "day_0.gz"
    _write(path, 30_000)
    scores = train_and_evaluate(read_criteo(path))
    constant = scores["constant"]
    assert constant.auc == 0.5
    for kind in ("logistic", "lightgbm"):
        assert scores[kind].auc > 0.68, (kind, scores[kind])
        assert scores[kind].logloss < constant.logloss, kind
    assert main(["criteo", str(path), "--limit", "20000"]) == 0
    out = capsys.readouterr().out
    assert "20,000 rows" in out and "lightgbm" in out
    assert main(["criteo", str(tmp_path / "missing.gz")]) == 2
