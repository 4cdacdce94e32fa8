"""Attribution on hand-built journeys: every model's credits, exactly (docs/attribution.md)."""

from datetime import date, datetime, timedelta

import pytest

from spark_jobs import attribution as A
from tests.unit.test_gold import CLICK, CONV

T0 = datetime(2026, 11, 10, 12)
DAY = timedelta(days=1)


def _conv(event_id, ts, order, user, value=10_000_000, valid=True, advertiser="adv1"):
    return (event_id, ts, order, advertiser, user, value, valid, ts.date(), ts.hour)


def _clk(event_id, ts, user, campaign, channel, valid=True, advertiser="adv1"):
    return (event_id, ts, user, advertiser, campaign, valid, "pub1", channel, ts.date(), ts.hour)


@pytest.fixture(scope="module")
def journeys(spark):
    clicks = spark.createDataFrame(
        [
            # u1: three touches in the window, and clicks that are not touches.
            _clk("k1", T0 - 3 * DAY, "u1", "cD", "display"),
            _clk("k2", T0 - 2 * DAY, "u1", "cN", "native"),
            _clk("k3", T0 - timedelta(hours=1), "u1", "cS", "search"),
            _clk("k0_expired", T0 - 7 * DAY - timedelta(seconds=1), "u1", "cD", "display"),
            _clk("k_invalid", T0 - timedelta(minutes=5), "u1", "cD", "display", valid=False),
            _clk("k_other_adv", T0 - timedelta(minutes=4), "u1", "cX", "display", advertiser="adv2"),
            _clk("k_after", T0 + timedelta(minutes=1), "u1", "cD", "display"),
            # u2: one touch exactly 7 days before.
            _clk("m1", T0 - 7 * DAY, "u2", "cV", "video"),
            # u3: two touches at the same instant: ordered by event id.
            _clk("n_b", T0 - DAY, "u3", "cS", "search"),
            _clk("n_a", T0 - DAY, "u3", "cD", "display"),
            # u5: clicks, no conversion: a non-converting journey.
            _clk("p1", T0 - DAY, "u5", "cD", "display"),
            _clk("p2", T0 - timedelta(hours=2), "u5", "cS", "search"),
        ],
        CLICK,
    )
    conversions = spark.createDataFrame(
        [
            _conv("c1", T0, "o1", "u1", 60_000_000),
            _conv("c1_again", T0 + timedelta(seconds=5), "o1", "u1", 60_000_000),  # pixel fired twice
            _conv("c2", T0, "o2", "u2", 20_000_000),
            _conv("c3", T0, "o3", "u3", 30_000_000),
            _conv("c4", T0, "o4", "u4", 40_000_000),  # no click at all: unattributed
            _conv("c5", T0, "o5", "u1", 1, valid=False),  # test traffic: not a conversion
        ],
        CONV,
    )
    orders = A.orders(conversions)
    touches = A.with_paths(A.touches(orders, A.candidate_touches(clicks)))
    return {"clicks": clicks, "orders": orders, "touches": touches}


def _credits(df, model):
    return {
        (r["order_id"], r["touch_event_id"]): r["credit"] for r in df.where(f"model = '{model}'").collect()
    }


def test_touches_are_the_valid_clicks_of_the_user_on_the_advertiser_within_seven_days(journeys):
    got = {
        (r["order_id"], r["touch_event_id"]): (r["position"], r["touches"], r["path"])
        for r in journeys["touches"].collect()
    }
    path1 = "display > native > search"
    assert got == {
        ("o1", "k1"): (1, 3, path1),
        ("o1", "k2"): (2, 3, path1),
        ("o1", "k3"): (3, 3, path1),
        ("o2", "m1"): (1, 1, "video"),  # exactly 7 days: in the window
        ("o3", "n_a"): (1, 2, "display > search"),  # same instant: event id breaks the tie
        ("o3", "n_b"): (2, 2, "display > search"),
    }
    assert {r["order_id"] for r in journeys["orders"].collect()} == {"o1", "o2", "o3", "o4"}


def test_heuristic_models_credit_exactly_as_defined(journeys):
    credits = A.heuristic_credits(journeys["touches"])
    assert _credits(credits, "first_click") == {
        ("o1", "k1"): 1.0,
        ("o1", "k2"): 0.0,
        ("o1", "k3"): 0.0,
        ("o2", "m1"): 1.0,
        ("o3", "n_a"): 1.0,
        ("o3", "n_b"): 0.0,
    }
    assert _credits(credits, "last_click") == {
        ("o1", "k1"): 0.0,
        ("o1", "k2"): 0.0,
        ("o1", "k3"): 1.0,
        ("o2", "m1"): 1.0,
        ("o3", "n_a"): 0.0,
        ("o3", "n_b"): 1.0,
    }
    linear = _credits(credits, "linear")
    assert linear[("o1", "k2")] == pytest.approx(1 / 3) and linear[("o3", "n_a")] == 0.5
    position = _credits(credits, "position_based")
    assert [position[("o1", k)] for k in ("k1", "k2", "k3")] == pytest.approx([0.4, 0.2, 0.4])
    assert [position[("o3", k)] for k in ("n_a", "n_b")] == [0.5, 0.5]
    assert position[("o2", "m1")] == 1.0
    # time_decay: weight 2^(-age / 7 days), normalised over the conversion's touches.
    ages_days = {"k1": 3.0, "k2": 2.0, "k3": 1 / 24}
    weights = {k: 2 ** (-age / 7) for k, age in ages_days.items()}
    decay = _credits(credits, "time_decay")
    for k, weight in weights.items():
        assert decay[("o1", k)] == pytest.approx(weight / sum(weights.values()), abs=1e-12)
    assert decay[("o2", "m1")] == 1.0


def test_position_based_splits_the_middle_of_a_long_path(spark):
    clicks = spark.createDataFrame(
        [_clk(f"k{i}", T0 - timedelta(hours=10 - i), "u1", "cD", "display") for i in range(5)], CLICK
    )
    orders = A.orders(spark.createDataFrame([_conv("c1", T0, "o1", "u1")], CONV))
    got = _credits(A.heuristic_credits(A.touches(orders, A.candidate_touches(clicks))), "position_based")
    assert [got[("o1", f"k{i}")] for i in range(5)] == pytest.approx([0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4])


def test_data_driven_credits_split_a_channel_share_among_its_touches(spark):
    clicks = spark.createDataFrame(
        [
            _clk("k1", T0 - 2 * DAY, "u1", "cS1", "search"),
            _clk("k2", T0 - DAY, "u1", "cD", "display"),
            _clk("k3", T0 - timedelta(hours=1), "u1", "cS2", "search"),
        ],
        CLICK,
    )
    orders = A.orders(spark.createDataFrame([_conv("c1", T0, "o1", "u1")], CONV))
    touches = A.with_paths(A.touches(orders, A.candidate_touches(clicks)))
    path = "search > display > search"
    shares = spark.createDataFrame(
        [
            (T0.date(), path, "markov", "search", 0.8),
            (T0.date(), path, "markov", "display", 0.2),
            (T0.date(), "video", "markov", "video", 1.0),  # another path: joins nothing here
        ],
        "event_date date, path string, model string, channel string, share double",
    )
    got = _credits(A.data_driven_credits(touches, shares), "markov")
    assert got == pytest.approx({("o1", "k1"): 0.4, ("o1", "k2"): 0.2, ("o1", "k3"): 0.4})


def test_attribution_keeps_unattributed_conversions_and_credits_revenue(journeys):
    rows = A.attribution(journeys["orders"], A.heuristic_credits(journeys["touches"])).collect()
    none = [r for r in rows if r["model"] == A.UNATTRIBUTED]
    assert [(r["order_id"], r["credit"], r["campaign_id"], r["touches"]) for r in none] == [
        ("o4", 1.0, None, 0)
    ]
    for model in A.HEURISTIC_MODELS:
        per_order: dict[str, float] = {}
        for r in rows:
            if r["model"] == model:
                per_order[r["order_id"]] = per_order.get(r["order_id"], 0.0) + r["credit"]
                assert r["credited_revenue_micros"] == pytest.approx(r["credit"] * r["value_micros"])
        assert per_order == pytest.approx({"o1": 1.0, "o2": 1.0, "o3": 1.0}), model


def test_campaign_daily_sums_credits_with_spend_and_roas(spark, journeys):
    credited = A.attribution(journeys["orders"], A.heuristic_credits(journeys["touches"]))
    spend = spark.createDataFrame(
        [(T0.date(), "adv1", "cS", 15_000_000), (T0.date(), "adv1", "cD", 0)],
        "event_date date, advertiser_id string, campaign_id string, spend_micros bigint",
    )
    rows = {
        (r["campaign_id"], r["model"]): r for r in A.attribution_campaign_daily(credited, spend).collect()
    }
    # linear: o1 gives 1/3 of 60 to cS; o3 gives 1/2 of 30 to cS.
    search = rows[("cS", "linear")]
    assert search["credited_conversions"] == pytest.approx(1 / 3 + 1 / 2)
    assert search["credited_revenue_micros"] == pytest.approx(20_000_000 + 15_000_000)
    assert search["roas"] == pytest.approx(35_000_000 / 15_000_000)
    assert search["channel"] == "search"
    assert rows[("cD", "linear")]["roas"] is None  # no spend: no ROAS
    assert rows[("cV", "last_click")]["spend_micros"] == 0  # no spend row at all
    assert rows[(None, A.UNATTRIBUTED)]["credited_conversions"] == 1.0


def test_paths_count_converting_and_non_converting_journeys(journeys):
    day = T0.date()
    candidates = A.candidate_touches(journeys["clicks"])
    non_converting = A.non_converting_paths(candidates, journeys["orders"], day, day)
    paths = {
        r["path"]: (r["conversions"], r["revenue_micros"], r["non_conversions"], r["path_length"])
        for r in A.conversion_paths(journeys["touches"], non_converting).collect()
        if r["event_date"] == day and r["advertiser_id"] == "adv1"
    }
    assert paths == {
        "display > native > search": (1, 60_000_000, 0, 3),
        "video": (1, 20_000_000, 0, 1),
        "display > search": (1, 30_000_000, 1, 2),  # o3 converted; u5 did not
    }


def test_a_click_stays_in_the_non_converting_paths_for_the_window_after_it(journeys):
    first, last = date(2026, 11, 9), date(2026, 11, 20)
    candidates = A.candidate_touches(journeys["clicks"])
    rows = A.non_converting_paths(candidates, journeys["orders"], first, last).collect()
    got = {
        r["event_date"].day: r["non_conversions"]
        for r in rows
        if r["advertiser_id"] == "adv1" and r["path"] == "display > search"
    }
    # u3 clicked both on Nov 9 and converted on Nov 10 (not a non-conversion that day);
    # u5 clicked display on Nov 9 and search on Nov 10, and never converted. A click
    # counts for 7 days after its own: u5's display leaves the path after Nov 16.
    assert got == {9: 1, 10: 1, **dict.fromkeys(range(11, 17), 2)}
