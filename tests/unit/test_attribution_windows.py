"""Attribution windows per advertiser and the view-through window: configuration, the
touches they admit (hand-built journeys, exact expected credits), the window check, the
gold code version, and the migration of a gold_attribution written before touch types."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ad_assets.defs.gold import build_gold_tables, gold_code_version
from ad_assets.lib.partitions import daily_partitions
from ad_assets.settings import DEFAULT_START_DATE, load_settings
from spark_jobs import attribution as A
from spark_jobs.attribution_checks import touch_window_problems
from spark_jobs.attribution_windows import (
    DEFAULT_WINDOWS,
    AttributionWindows,
    TouchWindow,
    load_windows,
    parse_windows,
)
from spark_jobs.delta_io import replace_window
from spark_jobs.gold_migrations import migrate_gold
from spark_jobs.lake import Lake
from spark_jobs.layers import GOLD
from tests.unit.test_gold import CONV

T0 = datetime(2026, 11, 10, 12)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)

CLICK = (
    "event_id string, event_ts timestamp, impression_id string, user_pid string, advertiser_id string, "
    "campaign_id string, is_valid boolean, publisher_id string, channel string, event_date date"
)
IMPRESSION = (
    "event_id string, event_ts timestamp, impression_id string, user_pid string, advertiser_id string, "
    "campaign_id string, is_valid boolean, publisher_id string, channel string, event_date date"
)


def _event(event_id, ts, impression_id, user, campaign, advertiser="adv1", valid=True, channel="display"):
    return (event_id, ts, impression_id, user, advertiser, campaign, valid, "pub1", channel, ts.date())


def _conv(event_id, ts, order, user, advertiser="adv1", value=10_000_000):
    return (event_id, ts, order, advertiser, user, value, True, ts.date(), ts.hour)


# ------------------------------------------------------------------ configuration
def test_the_defaults_are_seven_day_clicks_and_no_view_through():
    assert load_windows(None) == DEFAULT_WINDOWS == parse_windows(None)
    assert DEFAULT_WINDOWS.for_advertiser("any") == TouchWindow(click_days=7, view_hours=0)
    assert not DEFAULT_WINDOWS.view_through
    assert (DEFAULT_WINDOWS.click_lookback_days, DEFAULT_WINDOWS.view_lookback_days) == (7, 0)


def test_a_yaml_file_sets_the_default_and_per_advertiser_windows(tmp_path):
    path = tmp_path / "windows.yaml"
    path.write_text(
        "default: {click_days: 14}\n"
        "advertisers:\n"
        "  adv2: {click_days: 30, view_hours: 25}\n"
        "  adv3: {view_hours: 6}  # its click window: the default's\n"
    )
    w = load_windows(str(path))
    assert w.for_advertiser("adv1") == TouchWindow(14, 0)
    assert w.for_advertiser("adv2") == TouchWindow(30, 25)
    assert w.for_advertiser("adv3") == TouchWindow(14, 6)
    assert w.view_through
    assert (w.click_lookback_days, w.view_lookback_days) == (30, 2)  # 25 hours: 2 calendar days back


def test_the_fingerprint_follows_the_settings_not_their_order():
    one = parse_windows({"advertisers": {"a": {"click_days": 3}, "b": {"view_hours": 1}}})
    same = parse_windows({"advertisers": {"b": {"view_hours": 1}, "a": {"click_days": 3}}})
    other = parse_windows({"advertisers": {"a": {"click_days": 4}, "b": {"view_hours": 1}}})
    assert one == same and one.fingerprint() == same.fingerprint()
    assert one.fingerprint() != other.fingerprint() != DEFAULT_WINDOWS.fingerprint()


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"defaults": {}}, "expected the keys 'default' and/or 'advertisers'"),
        ({"default": {"click_day": 3}}, r"default: unknown setting\(s\) \['click_day'\]"),
        ({"default": {"click_days": 0}}, r"click_days must be a whole number in \[1, 90\], got 0"),
        ({"default": {"click_days": 2.5}}, "click_days must be a whole number"),
        ({"default": {"click_days": True}}, "click_days must be a whole number"),
        ({"advertisers": {"adv9": {"view_hours": -1}}}, r"advertiser adv9: view_hours .* got -1"),
        ({"advertisers": {"adv9": {"view_hours": 24 * 31}}}, r"view_hours must be a whole .* \[0, 720\]"),
        ({"advertisers": ["adv9"]}, "expected a mapping of advertiser_id to a window"),
        ({"advertisers": {"adv9": 7}}, "advertiser adv9: expected a mapping"),
        ({"advertisers": {3: {"view_hours": 1}, "3": {"view_hours": 2}}}, r"\['3'\] listed more than once"),
        ({"default": []}, "default: expected a mapping"),
    ],
)
def test_bad_windows_are_refused_with_the_reason(doc, message):
    with pytest.raises(ValueError, match=message):
        parse_windows(doc)


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="which is not a file"):
        load_windows(str(tmp_path / "nope.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("default: {click_days: [\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_windows(str(broken))


def test_settings_and_the_gold_code_version_follow_the_windows_file(tmp_path):
    path = tmp_path / "windows.yaml"
    path.write_text("advertisers: {adv2: {view_hours: 24}}\n")
    settings = load_settings({"ADLAKE_ATTRIBUTION_WINDOWS": str(path)})
    windows = load_windows(settings.attribution_windows)
    assert load_settings({}).attribution_windows is None
    partitions = daily_partitions(DEFAULT_START_DATE)
    configured, default = build_gold_tables(partitions, windows), build_gold_tables(partitions)
    versions = {spec.code_version for spec in configured.specs}
    assert versions == {gold_code_version(windows)} == {f"windows-{windows.fingerprint()}"}
    assert {spec.code_version for spec in default.specs} == {gold_code_version(DEFAULT_WINDOWS)} != versions


# ------------------------------------------------------------------ touches
VIEW_THROUGH = AttributionWindows(
    TouchWindow(click_days=7, view_hours=24),
    (("adv2", TouchWindow(click_days=2, view_hours=0)),),
)


@pytest.fixture(scope="module")
def windowed(spark):
    """adv1: 7-day clicks and a 24-hour view window; adv2: 2-day clicks, no views."""
    clicks = spark.createDataFrame(
        [
            _event("k1", T0 - 4 * DAY, "i1", "u1", "cD"),  # clicks i1
            _event("k2", T0 - 5 * HOUR, "i2", "u1", "cS", channel="search"),  # clicks i2
            _event("k_bot", T0 - 2 * HOUR, "i_bot", "u1", "cD", valid=False),
            _event("q_in", T0 - DAY - HOUR, "j_in", "u2", "cA", advertiser="adv2"),
            _event("q_out", T0 - 2 * DAY - HOUR, "j_out", "u2", "cA", advertiser="adv2"),
        ],
        CLICK,
    )
    impressions = spark.createDataFrame(
        [
            _event("e_i1", T0 - 4 * DAY - HOUR, "i1", "u1", "cD"),  # clicked: a click touch only
            _event("e_i2", T0 - 6 * HOUR, "i2", "u1", "cS", channel="search"),  # clicked, inside 24 h
            _event("e_view", T0 - 10 * HOUR, "i_view", "u1", "cV", channel="video"),
            _event("e_edge", T0 - 24 * HOUR, "i_edge", "u1", "cN", channel="native"),  # exactly 24 h
            _event("e_old", T0 - 24 * HOUR - timedelta(seconds=1), "i_old", "u1", "cN", channel="native"),
            _event("e_bot", T0 - 2 * HOUR, "i_bot", "u1", "cD"),  # only an invalid click: a view
            _event("e_ivt", T0 - HOUR, "i_ivt", "u1", "cD", valid=False),
            _event("e_after", T0 + HOUR, "i_after", "u1", "cV"),
            _event("e_adv2", T0 - HOUR, "j_view", "u2", "cA", advertiser="adv2"),  # adv2: no views
            _event("e_u3", T0 - HOUR, "i_u3", "u3", "cV", channel="video"),  # u3: a view, no click
        ],
        IMPRESSION,
    )
    conversions = spark.createDataFrame(
        [
            _conv("c1", T0, "o1", "u1", value=40_000_000),
            _conv("c2", T0, "o2", "u2", advertiser="adv2"),
            _conv("c3", T0, "o3", "u3"),
        ],
        CONV,
    )
    orders = A.orders(conversions)
    candidates = A.candidate_touches(clicks, impressions, VIEW_THROUGH)
    touches = A.with_paths(A.touches(orders, candidates))
    credited = A.attribution(orders, A.heuristic_credits(touches))
    return {"orders": orders, "candidates": candidates, "touches": touches, "credited": credited}


def test_view_touches_are_unclicked_valid_impressions_inside_the_view_window(windowed):
    got = {
        (r["order_id"], r["touch_event_id"]): (r["touch_type"], r["position"], r["touches"], r["path"])
        for r in windowed["touches"].collect()
    }
    path = "display > native > video > search > display"
    assert got == {
        ("o1", "k1"): ("click", 1, 5, path),  # 4 days: inside the 7-day click window
        ("o1", "e_edge"): ("view", 2, 5, path),  # exactly 24 hours: inside
        ("o1", "e_view"): ("view", 3, 5, path),
        ("o1", "k2"): ("click", 4, 5, path),  # its impression e_i2 is no view touch
        ("o1", "e_bot"): ("view", 5, 5, path),  # its only click was invalid
        ("o2", "q_in"): ("click", 1, 1, "display"),  # adv2: 2-day clicks, its impression no touch
        ("o3", "e_u3"): ("view", 1, 1, "video"),  # a view-through conversion
    }


def test_every_model_credits_view_touches_like_clicks(windowed):
    rows = windowed["credited"].collect()

    def credits(model):
        return {(r["order_id"], r["touch_event_id"]): r["credit"] for r in rows if r["model"] == model}

    assert credits("last_click") == {
        ("o1", "k1"): 0.0,
        ("o1", "e_edge"): 0.0,
        ("o1", "e_view"): 0.0,
        ("o1", "k2"): 0.0,
        ("o1", "e_bot"): 1.0,
        ("o2", "q_in"): 1.0,
        ("o3", "e_u3"): 1.0,
    }
    assert credits("first_click")[("o1", "k1")] == 1.0
    position = credits("position_based")
    assert [position[("o1", k)] for k in ("k1", "e_edge", "e_view", "k2", "e_bot")] == pytest.approx(
        [0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4]
    )
    ages_hours = {"k1": 96, "e_edge": 24, "e_view": 10, "k2": 5, "e_bot": 2}
    weights = {k: 2 ** (-h / (7 * 24)) for k, h in ages_hours.items()}
    decay = credits("time_decay")
    for k, weight in weights.items():
        assert decay[("o1", k)] == pytest.approx(weight / sum(weights.values()), abs=1e-12)
    revenue = {r["touch_event_id"]: r["credited_revenue_micros"] for r in rows if r["model"] == "linear"}
    assert revenue["e_view"] == pytest.approx(8_000_000)  # 40 / 5 touches
    assert not [r for r in rows if r["model"] == A.UNATTRIBUTED]


def test_without_a_view_window_the_same_journeys_have_click_touches_only(spark, windowed):
    clicks_only = AttributionWindows(TouchWindow(7, 0), (("adv2", TouchWindow(2, 0)),))
    candidates = windowed["candidates"].where("touch_type = 'click'")
    rows = A.attribution(
        windowed["orders"],
        A.heuristic_credits(A.with_paths(A.touches(windowed["orders"], candidates))),
    ).collect()
    assert {
        (r["order_id"], r["touch_event_id"]) for r in rows if r["model"] == "last_click" and r["credit"]
    } == {
        ("o1", "k2"),
        ("o2", "q_in"),
    }
    assert {r["order_id"] for r in rows if r["model"] == A.UNATTRIBUTED} == {"o3"}
    # The check agrees: judged against windows without views, the view touches are outside.
    assert touch_window_problems(windowed["credited"].where("touch_type = 'click'"), clicks_only)[0] == 0
    outside, sample = touch_window_problems(windowed["credited"], clicks_only)
    assert outside == 4 * len(A.HEURISTIC_MODELS)  # e_edge, e_bot, e_view, e_u3 under each model
    assert {s["touch_type"] for s in sample} == {"view"}


def test_the_window_check_judges_each_touch_by_its_advertisers_window(windowed):
    assert touch_window_problems(windowed["credited"], VIEW_THROUGH) == (0, [])
    # Were adv2's click window one day, its 25-hour-old click would be outside.
    tighter = AttributionWindows(VIEW_THROUGH.default, (("adv2", TouchWindow(click_days=1)),))
    outside, sample = touch_window_problems(windowed["credited"], tighter)
    assert outside == len(A.HEURISTIC_MODELS)
    assert {s["touch_event_id"] for s in sample} == {"q_in"}


def test_a_view_keeps_a_non_converting_journey_open_for_its_view_window(windowed):
    day = T0.date()
    rows = A.non_converting_paths(windowed["candidates"], windowed["orders"], day, day + DAY).collect()
    got = {(r["event_date"], r["advertiser_id"], r["path"]): r["non_conversions"] for r in rows}
    # Nov 10: every journey converted. Nov 11: u1's clicks (7 days) and its views from Nov
    # 10 00:00 on (24 hours; the one after its order too) make a journey, without the views
    # of Nov 9, whose window ends on Nov 10; u3's view of Nov 10 11:00 reaches Nov 11 11:00;
    # adv2's click of Nov 9 reaches Nov 11 (2 days), its click of Nov 8 does not.
    assert got == {
        (day + DAY, "adv1", "display > video > search > display > display"): 1,
        (day + DAY, "adv1", "video"): 1,
        (day + DAY, "adv2", "display"): 1,
    }


def test_view_through_needs_the_impressions(spark):
    clicks = spark.createDataFrame([], CLICK)
    with pytest.raises(ValueError, match="needs the impressions"):
        A.candidate_touches(clicks, None, VIEW_THROUGH)


# ------------------------------------------------------------------ migration
OLD_ATTRIBUTION = (
    "event_date date, order_id string, model string, click_event_id string, click_ts timestamp, "
    "campaign_id string, credit double"
)


def test_an_attribution_table_with_click_columns_is_migrated_once(spark, tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    path = lake.table(GOLD, "attribution")
    old = spark.createDataFrame(
        [
            (T0.date(), "o1", "linear", "k1", T0 - DAY, "cD", 1.0),
            (T0.date(), "o2", "none", None, None, None, 1.0),
        ],
        OLD_ATTRIBUTION,
    )
    old.write.format("delta").partitionBy("event_date").save(path)
    assert migrate_gold(spark, lake) == [
        "attribution: click_ts/click_event_id renamed touch_ts/touch_event_id, touch_type added"
    ]
    df = spark.read.format("delta").load(path)
    assert "click_event_id" not in df.columns and "click_ts" not in df.columns
    got = {r["order_id"]: (r["touch_event_id"], r["touch_ts"], r["touch_type"]) for r in df.collect()}
    assert got == {"o1": ("k1", T0 - DAY, "click"), "o2": (None, None, None)}
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count()
    assert migrate_gold(spark, lake) == []  # already migrated: no new version
    assert spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count() == history
    assert migrate_gold(spark, Lake(str(tmp_path / "new"))) == []  # a new lake: nothing to do
    # Gold then writes another date with the new schema (its columns in another order).
    later = spark.createDataFrame(
        [(T0.date() + DAY, "o3", "linear", 1.0, "cV", "view", T0, "e9")],
        "event_date date, order_id string, model string, credit double, campaign_id string, "
        "touch_type string, touch_ts timestamp, touch_event_id string",
    )
    replace_window(later, path, "event_date", T0.date() + DAY, T0.date() + DAY)
    rows = spark.read.format("delta").load(path).collect()
    assert {r["order_id"]: (r["touch_event_id"], r["touch_type"], r["campaign_id"]) for r in rows} == {
        "o1": ("k1", "click", "cD"),
        "o2": (None, None, None),
        "o3": ("e9", "view", "cV"),
    }
