"""Late data: events arriving two days after they happened land in their event date and
correct that date's metrics, without double counting resends."""

from datetime import date

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


def test_late_events_correct_their_event_date(spark, tmp_path):
    lake = Lake(str(tmp_path))
    # Arrival 2026-11-02: three impressions, one click; the click of impression 3 arrives
    # before its impression (which is late).
    land(
        tmp_path,
        "impression",
        "2026-11-02",
        10,
        jsonl_gz([_imp("1", "2026-11-02T09:00:00.000000Z"), _imp("2", "2026-11-02T09:30:00.000000Z")]),
    )
    land(
        tmp_path,
        "click",
        "2026-11-02",
        10,
        jsonl_gz(
            [_click("1", "2026-11-02T09:00:30.000000Z", "1"), _click("3", "2026-11-02T09:50:00.000000Z", "3")]
        ),
    )
    _process(spark, lake, date(2026, 11, 2))
    assert _gold(spark, lake) == {("2026-11-02", "cmp-1"): (2, 1)}

    # Arrival 2026-11-04, two days later: impression 3 (event date 11-02), a late click on
    # impression 2, a resend of click 1, and a fresh impression dated 11-04.
    land(
        tmp_path,
        "impression",
        "2026-11-04",
        8,
        jsonl_gz([_imp("3", "2026-11-02T09:45:00.000000Z"), _imp("4", "2026-11-04T07:00:00.000000Z")]),
    )
    land(
        tmp_path,
        "click",
        "2026-11-04",
        8,
        jsonl_gz(
            [_click("2", "2026-11-02T09:31:00.000000Z", "2"), _click("1", "2026-11-02T09:00:30.000000Z", "1")]
        ),
    )
    _process(spark, lake, date(2026, 11, 4))
    assert _gold(spark, lake) == {("2026-11-02", "cmp-1"): (3, 3), ("2026-11-04", "cmp-1"): (1, 0)}

    clicks = spark.read.format("delta").load(lake.table("silver", "clicks"))
    assert clicks.count() == 3
    assert clicks.where("impression_found AND is_valid").count() == 3
    # The resent click keeps its first arrival.
    (first,) = clicks.where("event_id = 'ev-clk-1'").collect()
    assert first["arrival_date"] == date(2026, 11, 2)

    # Rerunning the late day changes nothing.
    _process(spark, lake, date(2026, 11, 4))
    assert _gold(spark, lake) == {("2026-11-02", "cmp-1"): (3, 3), ("2026-11-04", "cmp-1"): (1, 0)}


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


def test_a_late_click_and_a_late_conversion_correct_attribution_when_their_day_is_rerun(spark, tmp_path):
    lake = Lake(str(tmp_path))
    display = {
        **_imp("a", "2026-11-02T09:00:00.000000Z", "cmp-display"),
        "user_id": "u1",
        "channel": "display",
    }
    search = {**_imp("b", "2026-11-02T10:00:00.000000Z", "cmp-search"), "user_id": "u1", "channel": "search"}
    land(tmp_path, "impression", "2026-11-02", 10, jsonl_gz([display, search]))
    land(
        tmp_path,
        "click",
        "2026-11-02",
        10,
        jsonl_gz([{**_click("a", "2026-11-02T09:01:00.000000Z", "a"), "user_id": "u1"}]),
    )
    land(
        tmp_path,
        "conversion",
        "2026-11-02",
        12,
        jsonl_gz([_conv("o1", "2026-11-02T12:00:00.000000Z", "u1", 60)]),
    )
    _process(spark, lake, date(2026, 11, 2))
    assert _credits(spark, lake, "last_click") == {("o1", "cmp-display"): 1.0}

    # Two days later: the click on the search ad (10:01 on 11-02, before o1) and a second
    # order of the same user that evening, both dated 11-02.
    late_click = {**_click("b", "2026-11-02T10:01:00.000000Z", "b"), "user_id": "u1"}
    land(tmp_path, "click", "2026-11-04", 8, jsonl_gz([late_click]))
    land(
        tmp_path,
        "conversion",
        "2026-11-04",
        8,
        jsonl_gz([_conv("o2", "2026-11-02T18:00:00.000000Z", "u1", 40)]),
    )
    _process(spark, lake, date(2026, 11, 4))
    both = {
        ("o1", "cmp-display"): 0.0,
        ("o1", "cmp-search"): 1.0,
        ("o2", "cmp-display"): 0.0,
        ("o2", "cmp-search"): 1.0,
    }
    assert _credits(spark, lake, "last_click") == both
    assert _credits(spark, lake, "first_click") == {k: 1.0 - v for k, v in both.items()}
    assert _credits(spark, lake, "linear") == dict.fromkeys(both, 0.5)
    daily = spark.read.format("delta").load(lake.table("gold", "campaign_daily")).collect()
    assert {r["campaign_id"]: (r["conversions"], r["revenue_micros"]) for r in daily} == {
        "cmp-display": (0, 0),
        "cmp-search": (2, 100),
    }
    # Rerunning changes nothing.
    _process(spark, lake, date(2026, 11, 4))
    assert _credits(spark, lake, "last_click") == both


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
