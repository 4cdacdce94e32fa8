"""Late data: events arriving two days after they happened land in their event date and
correct that date's metrics, without double counting resends."""

from datetime import date
from pathlib import Path

import pytest

from spark_jobs.attribution_windows import DEFAULT_WINDOWS, AttributionWindows, TouchWindow
from spark_jobs.lake import Lake
from spark_jobs.layers import ArrivalWindow
from spark_jobs.pipeline import run_bronze, run_gold, run_silver
from tests.helpers import jsonl_gz, land

KEY = b"test-key"


def _imp(i: str, ts: str, campaign="cmp-1") -> dict:
    return {
        "event_id": f"ev-imp-{i}",
        "event_type": "impression",
        "event_ts": ts,
        "impression_id": f"imp-{i}",
        "advertiser_id": "adv-1",
        "campaign_id": campaign,
        "user_id": f"u{i}",
        "cost_micros": 1500,
        "ivt": "none",
        "is_test": False,
    }


def _click(i: str, ts: str, imp: str) -> dict:
    return {
        "event_id": f"ev-clk-{i}",
        "event_type": "click",
        "event_ts": ts,
        "click_id": f"clk-{i}",
        "impression_id": f"imp-{imp}",
        "user_id": f"u{imp}",
        "ivt": "none",
        "is_test": False,
    }


def _gold(spark, lake: Lake) -> dict:
    rows = spark.read.format("delta").load(lake.table("gold", "campaign_daily")).collect()
    return {(r["event_date"].isoformat(), r["campaign_id"]): (r["impressions"], r["clicks"]) for r in rows}


def _process(spark, lake: Lake, day: date, windows: AttributionWindows = DEFAULT_WINDOWS) -> None:
    w = ArrivalWindow(day, day)
    run_bronze(spark, lake, w, "test")
    run_silver(spark, lake, w, KEY, "v1")
    run_gold(spark, lake, w, windows)


# The first two tests read one lake, built by the `late_lake` fixture below: each adds its
# own events (its campaigns, users, ids and file names are its own, so neither touches the
# other's metrics or attribution: touches join orders on the user) and the two arrival
# dates, the late day's rerun included, are processed once for both. Separately they
# processed the same three arrivals twice (~60 s). Each test reads back only its own rows,
# and the tables hold nothing else (asserted).
DATE_CAMPAIGNS = {"cmp-1"}  # test_late_events_correct_their_event_date
ORDER_CAMPAIGNS = {"cmp-display", "cmp-search"}  # test_a_late_click_and_a_late_conversion_...
DATE_CLICKS = {"ev-clk-1", "ev-clk-2", "ev-clk-3"}
BUYER = "u9"  # the attribution test's one user: none of the other test's impressions or clicks
ORDER_FILES = "part-orders.jsonl.gz"  # the attribution test's raw files, beside the other's


def _conv(order: str, ts: str, user: str, value: int) -> dict:
    return {
        "event_id": f"ev-conv-{order}",
        "event_type": "conversion",
        "event_ts": ts,
        "conversion_id": f"conv-{order}",
        "order_id": order,
        "advertiser_id": "adv-1",
        "user_id": user,
        "conv_type": "purchase",
        "value_micros": value,
        "is_test": False,
    }


def _credits(spark, lake: Lake, model: str) -> dict:
    rows = spark.read.format("delta").load(lake.table("gold", "attribution")).where(f"model = '{model}'")
    return {(r["order_id"], r["campaign_id"]): r["credit"] for r in rows.collect()}


def _land_first_arrivals(root: Path) -> None:
    # Dates: arrival 2026-11-02: three impressions, one click; the click of impression 3
    # arrives before its impression (which is late).
    land(
        root,
        "impression",
        "2026-11-02",
        10,
        jsonl_gz([_imp("1", "2026-11-02T09:00:00.000000Z"), _imp("2", "2026-11-02T09:30:00.000000Z")]),
    )
    land(
        root,
        "click",
        "2026-11-02",
        10,
        jsonl_gz(
            [_click("1", "2026-11-02T09:00:30.000000Z", "1"), _click("3", "2026-11-02T09:50:00.000000Z", "3")]
        ),
    )
    # Orders: a display ad, clicked, and a search ad, not clicked yet; an order at noon.
    display = {
        **_imp("a", "2026-11-02T09:00:00.000000Z", "cmp-display"),
        "user_id": BUYER,
        "channel": "display",
    }
    search = {**_imp("b", "2026-11-02T10:00:00.000000Z", "cmp-search"), "user_id": BUYER, "channel": "search"}
    land(root, "impression", "2026-11-02", 10, jsonl_gz([display, search]), name=ORDER_FILES)
    land(
        root,
        "click",
        "2026-11-02",
        10,
        jsonl_gz([{**_click("a", "2026-11-02T09:01:00.000000Z", "a"), "user_id": BUYER}]),
        name=ORDER_FILES,
    )
    land(
        root,
        "conversion",
        "2026-11-02",
        12,
        jsonl_gz([_conv("o1", "2026-11-02T12:00:00.000000Z", BUYER, 60)]),
        name=ORDER_FILES,
    )


def _land_late_arrivals(root: Path) -> None:
    # Dates: arrival 2026-11-04, two days later: impression 3 (event date 11-02), a late
    # click on impression 2, a resend of click 1, and a fresh impression dated 11-04.
    land(
        root,
        "impression",
        "2026-11-04",
        8,
        jsonl_gz([_imp("3", "2026-11-02T09:45:00.000000Z"), _imp("4", "2026-11-04T07:00:00.000000Z")]),
    )
    land(
        root,
        "click",
        "2026-11-04",
        8,
        jsonl_gz(
            [_click("2", "2026-11-02T09:31:00.000000Z", "2"), _click("1", "2026-11-02T09:00:30.000000Z", "1")]
        ),
    )
    # Orders, two days later: the click on the search ad (10:01 on 11-02, before o1) and a
    # second order of the same user that evening, both dated 11-02.
    late_click = {**_click("b", "2026-11-02T10:01:00.000000Z", "b"), "user_id": BUYER}
    land(root, "click", "2026-11-04", 8, jsonl_gz([late_click]), name=ORDER_FILES)
    land(
        root,
        "conversion",
        "2026-11-04",
        8,
        jsonl_gz([_conv("o2", "2026-11-02T18:00:00.000000Z", BUYER, 40)]),
        name=ORDER_FILES,
    )


@pytest.fixture(scope="module")
def late_lake(spark, tmp_path_factory) -> dict:
    """Both tests' arrivals processed in order, and what each reads after each step: the
    first arrival date, then the late one, then the late one again."""
    root = tmp_path_factory.mktemp("late")
    lake = Lake(str(root))
    _land_first_arrivals(root)
    _process(spark, lake, date(2026, 11, 2))
    first = {"gold": _gold(spark, lake), "last_click": _credits(spark, lake, "last_click")}
    _land_late_arrivals(root)
    _process(spark, lake, date(2026, 11, 4))
    clicks = spark.read.format("delta").load(lake.table("silver", "clicks")).collect()
    daily = spark.read.format("delta").load(lake.table("gold", "campaign_daily")).collect()
    late = {
        "gold": _gold(spark, lake),
        "clicks": [
            (r["event_id"], r["impression_found"] and r["is_valid"], r["arrival_date"]) for r in clicks
        ],
        "credits": {m: _credits(spark, lake, m) for m in ("last_click", "first_click", "linear")},
        "daily": [(r["campaign_id"], r["conversions"], r["revenue_micros"]) for r in daily],
    }
    # Rerunning the late day.
    _process(spark, lake, date(2026, 11, 4))
    rerun = {"gold": _gold(spark, lake), "last_click": _credits(spark, lake, "last_click")}
    return {"first": first, "late": late, "rerun": rerun}


def _of(gold: dict, campaigns: set[str]) -> dict:
    return {k: v for k, v in gold.items() if k[1] in campaigns}


def test_late_events_correct_their_event_date(late_lake):
    first, late, rerun = late_lake["first"], late_lake["late"], late_lake["rerun"]
    for seen in (first, late, rerun):  # the two tests' campaigns, nothing else
        assert {c for _, c in seen["gold"]} == DATE_CAMPAIGNS | ORDER_CAMPAIGNS
    assert _of(first["gold"], DATE_CAMPAIGNS) == {("2026-11-02", "cmp-1"): (2, 1)}

    # After the arrival of 2026-11-04 (see _land_late_arrivals).
    assert _of(late["gold"], DATE_CAMPAIGNS) == {
        ("2026-11-02", "cmp-1"): (3, 3),
        ("2026-11-04", "cmp-1"): (1, 0),
    }

    clicks = [c for c in late["clicks"] if c[0] in DATE_CLICKS]
    assert len(clicks) == 3 and len(late["clicks"]) == 3 + 2  # and the other test's two
    assert all(found_and_valid for _, found_and_valid, _ in clicks)
    # The resent click keeps its first arrival.
    (first_click,) = [c for c in clicks if c[0] == "ev-clk-1"]
    assert first_click[2] == date(2026, 11, 2)

    # Rerunning the late day changes nothing.
    assert _of(rerun["gold"], DATE_CAMPAIGNS) == {
        ("2026-11-02", "cmp-1"): (3, 3),
        ("2026-11-04", "cmp-1"): (1, 0),
    }


def test_a_late_click_and_a_late_conversion_correct_attribution_when_their_day_is_rerun(late_lake):
    # Only this test's user orders: the credits are all its own.
    first, late, rerun = late_lake["first"], late_lake["late"], late_lake["rerun"]
    assert first["last_click"] == {("o1", "cmp-display"): 1.0}

    # After the late click on the search ad and the second order (see _land_late_arrivals).
    both = {
        ("o1", "cmp-display"): 0.0,
        ("o1", "cmp-search"): 1.0,
        ("o2", "cmp-display"): 0.0,
        ("o2", "cmp-search"): 1.0,
    }
    assert late["credits"]["last_click"] == both
    assert late["credits"]["first_click"] == {k: 1.0 - v for k, v in both.items()}
    assert late["credits"]["linear"] == dict.fromkeys(both, 0.5)
    assert {c: (n, v) for c, n, v in late["daily"] if c in ORDER_CAMPAIGNS} == {
        "cmp-display": (0, 0),
        "cmp-search": (2, 100),
    }
    assert not any(n or v for c, n, v in late["daily"] if c not in ORDER_CAMPAIGNS)  # no other orders
    # Rerunning changes nothing.
    assert rerun["last_click"] == both


def test_windows_longer_than_the_default_read_enough_history_and_clicked_impressions_are_no_views(
    spark, tmp_path
):
    """A 5-day click window and a 10-day view window (longer than any click window): gold
    reads 10 days of impressions and the clicks that followed them, so an impression
    clicked 9 days before an order is no view touch, and neither is one clicked the day
    after the rerun's last date."""
    lake = Lake(str(tmp_path))
    windows = AttributionWindows(TouchWindow(click_days=5, view_hours=240))

    def imp(i: str, ts: str, channel: str) -> dict:
        return {**_imp(i, ts, f"cmp-{channel}"), "user_id": "u1", "channel": channel}

    def click(i: str, ts: str) -> dict:
        return {**_click(i, ts, i), "user_id": "u1"}

    seen = imp("v", "2026-11-02T12:00:00.000000Z", "video")  # never clicked: a view
    clicked = imp("k", "2026-11-02T13:00:00.000000Z", "display")  # clicked a minute later
    land(tmp_path, "impression", "2026-11-02", 13, jsonl_gz([seen, clicked]))
    land(tmp_path, "click", "2026-11-02", 13, jsonl_gz([click("k", "2026-11-02T13:01:00.000000Z")]))
    # 23:59 on 11-10: an impression, then an order 30 s later; the click comes at 00:01.
    # They all arrive on 11-11.
    late = jsonl_gz([imp("n", "2026-11-10T23:59:00.000000Z", "search")])
    land(tmp_path, "impression", "2026-11-11", 0, late)
    land(tmp_path, "click", "2026-11-11", 0, jsonl_gz([click("n", "2026-11-11T00:01:00.000000Z")]))
    orders = [
        _conv("o2", "2026-11-10T23:59:30.000000Z", "u1", 20),
        _conv("o1", "2026-11-11T11:00:00.000000Z", "u1", 60),
    ]
    land(tmp_path, "conversion", "2026-11-11", 11, jsonl_gz(orders))
    for day in (date(2026, 11, 2), date(2026, 11, 11)):
        _process(spark, lake, day, windows)

    def touches() -> dict:
        rows = spark.read.format("delta").load(lake.table("gold", "attribution")).where("model = 'linear'")
        return {(r["order_id"], r["touch_type"], r["touch_event_id"]) for r in rows.collect()}

    expected = {
        ("o1", "view", "ev-imp-v"),  # 8 days 23 hours before: inside 240 hours
        ("o1", "click", "ev-clk-n"),  # k's click, 8 days before, is outside 5 days; k is no view
        ("o2", "view", "ev-imp-v"),  # n was clicked, the day after: no view
    }
    assert touches() == expected
    # Rerunning only 11-10 (its event dates end on 11-10) gives the same touches.
    run_gold(spark, lake, ArrivalWindow(date(2026, 11, 10), date(2026, 11, 10)), windows)
    assert touches() == expected
