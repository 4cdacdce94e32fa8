"""The CTR models, evaluation and promotion rule on synthetic impressions whose true click
probability is known (no Spark, no lake): the models must recover most of what the truth
knows, the rule must be beaten, and scores must be what their definitions say."""

from __future__ import annotations

import numpy as np
import pytest

from prediction.evaluation import calibration_curve, format_table, score
from prediction.features import (
    CAMPAIGN_PLACEMENT,
    CLICKS,
    CONTEXT,
    GLOBAL,
    HOUR,
    IMPRESSIONS,
    PLACEMENT,
    count_column,
    numeric_features,
)
from prediction.models import LIGHTGBM, LOGISTIC, RULE, train_models
from prediction.training import CANDIDATE, INCUMBENT, promotion_verdict


def synthetic(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Impressions whose log-odds add a placement, a creative, a device and an hour effect;
    each placement's history is drawn from its own true rate (so the counts carry signal
    the categories also carry, as in the lake)."""
    world = np.random.default_rng(0)  # the same world for every sample
    effects = {
        "placement_id": world.normal(0, 0.7, 60),
        "creative_id": world.normal(0, 0.5, 40),
        "device_type": np.array([0.4, 0.0, -0.4]),
        HOUR: 0.4 * np.sin(np.arange(24) / 24 * 2 * np.pi),
    }
    rng = np.random.default_rng(seed)
    idx = {name: rng.integers(0, len(e), n) for name, e in effects.items()}
    logit = -4.6 + sum(effects[name][idx[name]] for name in effects)
    p = 1 / (1 + np.exp(-logit))
    label = (rng.random(n) < p).astype(np.int8)
    columns: dict[str, np.ndarray] = {name: np.full(n, None, dtype=object) for name in CONTEXT}
    for name, i in idx.items():
        columns[name] = np.array([f"{name}-{v}" for v in i], dtype=object)
    columns["campaign_id"] = np.array(["cmp-1"] * n, dtype=object)
    # History: 2,000 impressions per placement, clicks at its mean rate over the other effects.
    placement_rate = 1 / (1 + np.exp(-(-4.6 + effects["placement_id"])))
    hist_imps = np.full(n, 2000.0)
    hist_clicks = rng.binomial(2000, placement_rate[idx["placement_id"]]).astype(np.float64)
    for entity in (PLACEMENT, CAMPAIGN_PLACEMENT):
        columns[count_column(entity.name, IMPRESSIONS)] = hist_imps
        columns[count_column(entity.name, CLICKS)] = hist_clicks
    columns[count_column(GLOBAL, IMPRESSIONS)] = np.full(n, 1e6)
    columns[count_column(GLOBAL, CLICKS)] = np.full(n, 1e6 * p.mean())
    return columns, label, p


@pytest.fixture(scope="module")
def trained():
    train, train_label, _ = synthetic(60_000, 1)
    valid, valid_label, _ = synthetic(15_000, 2)
    test, test_label, truth = synthetic(60_000, 3)
    models = train_models(train, train_label, valid, valid_label)
    scores = {kind: score(test_label, m.predict(test)) for kind, m in models.items()}
    scores["ceiling"] = score(test_label, truth)
    return models, scores


def test_models_get_close_to_the_ceiling_and_beat_the_rule(trained):
    _, scores = trained
    ceiling, rule = scores["ceiling"], scores[RULE]
    print("\n" + format_table([{"model": k, **s.as_dict()} for k, s in scores.items()]))
    for kind in (LOGISTIC, LIGHTGBM):
        s = scores[kind]
        assert s.auc > rule.auc + 0.02, kind
        assert s.logloss < rule.logloss, kind
        # Most of the truth's lift over a coin toss; not more than the truth (sampling noise aside).
        share = (s.auc - 0.5) / (ceiling.auc - 0.5)
        assert 0.85 < share < 1.02, (kind, share)
        # Calibrated: the mean prediction is the click rate within 10%.
        assert abs(s.mean_prediction - s.clicks / s.rows) < 0.1 * s.clicks / s.rows, kind


def test_the_rule_is_the_smoothed_campaign_placement_rate():
    counts = {
        count_column(CAMPAIGN_PLACEMENT.name, IMPRESSIONS): np.array([0.0, 800.0]),
        count_column(CAMPAIGN_PLACEMENT.name, CLICKS): np.array([0.0, 24.0]),
        count_column(GLOBAL, IMPRESSIONS): np.array([1000.0, 1000.0]),
        count_column(GLOBAL, CLICKS): np.array([10.0, 10.0]),
        **{name: np.array([None, None], dtype=object) for name in CONTEXT},
    }
    w = CAMPAIGN_PLACEMENT.prior_weight
    expected = [0.01, (24 + 0.01 * w) / (800 + w)]
    assert numeric_features(counts)["campaign_placement_ctr"] == pytest.approx(expected)
    from prediction.models import RuleModel

    assert RuleModel().predict(counts) == pytest.approx(expected)


def test_a_retrain_on_the_same_rows_is_identical(trained):
    models, _ = trained
    train, train_label, _ = synthetic(60_000, 1)
    valid, valid_label, _ = synthetic(15_000, 2)
    again = train_models(train, train_label, valid, valid_label)
    test, _, _ = synthetic(2_000, 4)
    assert np.array_equal(again[LIGHTGBM].predict(test), models[LIGHTGBM].predict(test))


def test_unseen_categories_and_missing_history_still_predict(trained):
    models, _ = trained
    one = {name: np.array([None], dtype=object) for name in CONTEXT}
    one["placement_id"] = np.array(["never-seen"], dtype=object)
    one[HOUR] = np.array(["3"], dtype=object)
    for kind, model in models.items():
        p = model.predict(one)
        assert p.shape == (1,) and 0 < p[0] < 1, kind


def test_scores_follow_their_definitions():
    label = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    s = score(label, p)
    assert s.auc == pytest.approx(0.75)  # 3 of the 4 (clicked, unclicked) pairs ordered right
    expected_logloss = -np.mean(np.log([0.9, 0.6, 0.35, 0.8]))
    assert s.logloss == pytest.approx(expected_logloss)
    assert s.brier == pytest.approx(np.mean((p - label) ** 2))
    assert s.pr_auc == pytest.approx((1 / 1 + 2 / 3) / 2)  # precision at each click's rank
    curve = calibration_curve(label, p, bins=2)
    assert curve == [
        {"predicted": pytest.approx(0.225), "observed": 0.5, "impressions": 2},
        {"predicted": pytest.approx(0.6), "observed": 0.5, "impressions": 2},
    ]
    with pytest.raises(ValueError, match="clicked and unclicked"):
        score(np.zeros(3), np.full(3, 0.1))


def test_promotion_needs_the_baseline_and_the_current_version_beaten():
    label = np.array([0, 0, 1, 1, 0, 1])
    good, bad = np.array([0.1, 0.2, 0.7, 0.8, 0.3, 0.6]), np.array([0.5, 0.6, 0.4, 0.5, 0.5, 0.4])
    ok = promotion_verdict({CANDIDATE: score(label, good), RULE: score(label, bad)})
    assert ok.passed and ok.reasons == ()
    worse = promotion_verdict({CANDIDATE: score(label, bad), RULE: score(label, good)})
    assert not worse.passed and len(worse.reasons) == 2
    behind = promotion_verdict(
        {CANDIDATE: score(label, good * 0.9 + 0.05), RULE: score(label, bad), INCUMBENT: score(label, good)}
    )
    assert behind.passed  # the same ranking: equal AUC keeps the day's model
    one_pair_wrong = np.array([0.1, 0.65, 0.7, 0.8, 0.3, 0.6])
    behind = promotion_verdict(
        {CANDIDATE: score(label, one_pair_wrong), RULE: score(label, bad), INCUMBENT: score(label, good)}
    )
    assert not behind.passed and "promoted version" in behind.reasons[-1]


def test_the_conversion_rule_is_the_campaigns_smoothed_rate():
    from prediction.models import CampaignRateModel

    columns = {"campaign_id": np.array(["a"] * 10 + ["b"] * 30, dtype=object)}
    label = np.array([1] * 5 + [0] * 5 + [1] * 3 + [0] * 27)
    rule = CampaignRateModel.fit(columns, label, prior_weight=20.0)
    overall = 8 / 40
    assert rule.predict({"campaign_id": np.array(["a", "b", "new"], dtype=object)}) == pytest.approx(
        [(5 + 20 * overall) / 30, (3 + 20 * overall) / 50, overall]
    )


def test_conversion_models_learn_from_a_few_hundred_clicks():
    """Clicks whose conversion odds depend on the placement's history (as the simulator's on
    the user's journey): with CVR's small trees, the models must rank better than the
    campaign-rate rule, which knows nothing of the placement."""
    train, _, _ = synthetic(900, 5)
    test, _, _ = synthetic(600, 6)
    rng = np.random.default_rng(8)

    def converted(columns) -> np.ndarray:
        rate = (
            columns[count_column(PLACEMENT.name, CLICKS)] / columns[count_column(PLACEMENT.name, IMPRESSIONS)]
        )
        return (rng.random(len(rate)) < np.where(rate > 0.012, 0.3, 0.03)).astype(np.int8)

    label, test_label = converted(train), converted(test)
    fit, valid = ({k: v[:700] for k, v in train.items()}, {k: v[700:] for k, v in train.items()})
    models = train_models(fit, label[:700], valid, label[700:], conversions=True)
    scores = {kind: score(test_label, m.predict(test)) for kind, m in models.items()}
    assert scores[LIGHTGBM].auc > scores[RULE].auc + 0.1
    assert scores[LOGISTIC].auc > scores[RULE].auc + 0.1
