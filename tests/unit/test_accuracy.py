"""Attribution accuracy against hand-written truth (spark_jobs/accuracy.py)."""

from datetime import date

import pytest

from spark_jobs.accuracy import ORGANIC, attribution_accuracy

D = date(2026, 11, 10)
ATTRIBUTION = (
    "event_date date, order_id string, model string, campaign_id string, credit double, "
    "value_micros bigint, touches int"
)
TRUTH = "order_id string, cause_campaign_id string, cause_channel string"


def test_each_model_is_scored_on_the_credit_that_reached_the_true_campaign(spark):
    rows = [
        # o1: two touches, cA then cB; the truth says cA caused it.
        (D, "o1", "first_click", "cA", 1.0, 100, 2),
        (D, "o1", "first_click", "cB", 0.0, 100, 2),
        (D, "o1", "last_click", "cA", 0.0, 100, 2),
        (D, "o1", "last_click", "cB", 1.0, 100, 2),
        (D, "o1", "linear", "cA", 0.5, 100, 2),
        (D, "o1", "linear", "cB", 0.5, 100, 2),
        # o2: no touch, and organic in truth: every model is right to leave it.
        (D, "o2", "none", None, 1.0, 300, 0),
        # o3: a touch, but organic in truth: every model that credits it is wrong.
        (D, "o3", "first_click", "cC", 1.0, 50, 1),
        (D, "o3", "last_click", "cC", 1.0, 50, 1),
        (D, "o3", "linear", "cC", 1.0, 50, 1),
        # o4: no touch found, but an ad caused it (its click was older than the window).
        (D, "o4", "none", None, 1.0, 10, 0),
        # o5: no truth (a real order in a simulated lake cannot happen; it is not judged).
        (D, "o5", "none", None, 1.0, 10, 0),
    ]
    truth = [("o1", "cA", "display"), ("o2", None, None), ("o3", None, None), ("o4", "cD", "search")]
    got = {
        (r["model"], r["cause_channel"]): (
            r["conversions"],
            r["credit_to_cause"],
            r["accuracy"],
            r["revenue_accuracy"],
        )
        for r in attribution_accuracy(
            spark.createDataFrame(rows, ATTRIBUTION), spark.createDataFrame(truth, TRUTH)
        ).collect()
    }
    assert got[("first_click", "display")] == (1, 1.0, 1.0, 1.0)
    assert got[("last_click", "display")] == (1, 0.0, 0.0, 0.0)
    assert got[("linear", "display")] == (1, 0.5, 0.5, 0.5)
    # Organic: o2 right (left unattributed), o3 wrong; revenue 300 of 350 right.
    assert got[("linear", ORGANIC)] == (2, 1.0, 0.5, pytest.approx(300 / 350))
    assert got[("markov", ORGANIC)] == (2, 1.0, 0.5, pytest.approx(300 / 350))
    assert got[("first_click", "search")] == (1, 0.0, 0.0, 0.0)
    # A model with no rows for o1 (markov here) gave the true campaign nothing.
    assert got[("markov", "display")] == (1, 0.0, 0.0, 0.0)
    assert {m for m, _ in got} == {
        "first_click",
        "last_click",
        "linear",
        "time_decay",
        "position_based",
        "markov",
        "shapley",
    }
