"""Segment rules (spark_jobs/segment_rules.py) as computed by spark_jobs/segments.py, on
small frames whose answers are worked out by hand."""

from datetime import date, datetime, timedelta

from spark_jobs.segment_rules import (
    CONVERTER,
    DEFAULT_RULES,
    ENGAGED_CLICKER,
    LAPSED,
    RFM_HIGH,
    RFM_LOW,
    SUSPECTED_BOT,
    SegmentRules,
    rfm_tier,
)
from spark_jobs.segments import segment_history, user_activity_daily, user_segments

D1 = date(2026, 11, 1)
T0 = datetime(2026, 11, 1, 12)

IMPRESSIONS = (
    "impression_id string, event_ts timestamp, event_date date, user_pid string, ivt string, "
    "is_test boolean, is_valid boolean, measurement_consent boolean"
)
CLICKS = (
    "impression_id string, event_ts timestamp, event_date date, user_pid string, ivt string, "
    "is_test boolean, is_valid boolean, measurement_consent boolean"
)
ORDERS = "order_id string, event_date date, user_pid string, value_micros bigint, measurement_consent boolean"
ACTIVITY = (
    "event_date date, user_pid string, impressions bigint, ivt_impressions bigint, valid_impressions bigint, "
    "valid_clicks bigint, fast_clicks bigint, orders bigint, revenue_micros bigint, "
    "max_clicks_per_minute bigint"
)


def test_activity_counts_consented_users_only_and_times_clicks(spark):
    imps = [
        ("i1", T0, D1, "a", "none", False, True, True),
        ("i2", T0, D1, "a", "sivt", False, False, True),
        ("i3", T0, D1, "a", "none", True, False, True),  # test traffic: not a user's activity
        ("i4", T0, D1, "n", "none", False, True, False),  # no consent: left out
        ("i5", T0, D1, "b", "none", False, True, None),  # written before the verdict: counted
    ]
    clicks = [
        ("i1", T0 + timedelta(seconds=20), D1, "a", "none", False, True, True),
        ("i2", T0 + timedelta(milliseconds=300), D1, "a", "sivt", False, False, True),  # fast
        ("i4", T0 + timedelta(seconds=5), D1, "n", "none", False, True, False),
    ]
    orders = [("o1", D1, "a", 40_000_000, True), ("o2", D1, "n", 9, False)]
    imp_df = spark.createDataFrame(imps, IMPRESSIONS)
    got = user_activity_daily(
        imp_df, spark.createDataFrame(clicks, CLICKS), spark.createDataFrame(orders, ORDERS), imp_df
    )
    rows = {r.user_pid: r.asDict() for r in got.collect()}
    assert set(rows) == {"a", "b"}
    a = rows["a"]
    assert (a["impressions"], a["ivt_impressions"], a["valid_impressions"]) == (2, 1, 1)
    assert (a["valid_clicks"], a["fast_clicks"], a["max_clicks_per_minute"]) == (1, 1, 2)
    assert (a["orders"], a["revenue_micros"]) == (1, 40_000_000)
    assert rows["b"]["impressions"] == 1 and rows["b"]["orders"] == 0


def _activity(user, day, impressions=0, ivt=0, clicks=0, fast=0, orders=0, revenue=0, burst=0):
    return (
        D1 + timedelta(days=day),
        user,
        impressions,
        ivt,
        impressions - ivt,
        clicks,
        fast,
        orders,
        revenue,
        burst,
    )


def test_segments_by_rule(spark):
    rows = [
        # buyer: two orders worth 300 (frequency 2, monetary >= 250), last 2 days before day 5
        _activity("buyer", 0, impressions=3, clicks=2, orders=1, revenue=100_000_000),
        _activity("buyer", 3, clicks=1, orders=1, revenue=200_000_000),
        # one click on day 0, nothing after: lapsed from day 7 on
        _activity("gone", 0, impressions=1, clicks=1),
        # 5 of 10 impressions flagged as invalid traffic
        _activity("ivt_bot", 1, impressions=10, ivt=5),
        _activity("fast_bot", 2, impressions=2, clicks=2, fast=2),
        _activity("burst_bot", 2, impressions=6, clicks=5, burst=5),
        # a person: 9% invalid traffic, one fast click
        _activity("person", 1, impressions=11, ivt=1, clicks=1, fast=1),
    ]
    got = user_segments(spark.createDataFrame(rows, ACTIVITY), D1, D1 + timedelta(days=8))
    members: dict[tuple[str, int], set[str]] = {}
    scores = {}
    for r in got.collect():
        members.setdefault((r.user_pid, (r.event_date - D1).days), set()).add(r.segment)
        if r.rfm_score is not None:
            scores[(r.user_pid, (r.event_date - D1).days)] = r.rfm_score
    # Day 0: one order of 100: recency 3 + frequency 1 + monetary 2 = 6 -> rfm_medium.
    assert members[("buyer", 0)] == {CONVERTER, "rfm_medium"}
    assert scores[("buyer", 0)] == 6
    # Day 4: 2 orders (2), 300 (3), last order a day ago (3) = 8; 3 clicks: engaged.
    assert members[("buyer", 4)] == {CONVERTER, RFM_HIGH, ENGAGED_CLICKER}
    assert scores[("buyer", 4)] == 8
    # Day 8: last order 5 days ago: recency 2 -> 7, still high.
    assert scores[("buyer", 8)] == 7
    assert all(LAPSED not in members.get(("gone", d), set()) for d in range(7))
    assert members[("gone", 7)] == {LAPSED} == members[("gone", 8)]
    for bot in ("ivt_bot", "fast_bot", "burst_bot"):
        assert SUSPECTED_BOT in members[(bot, 2)], bot
    assert ("person", 1) not in members
    assert ("ivt_bot", 0) not in members  # nothing before its first activity


def test_lookback_forgets_old_activity(spark):
    rules = SegmentRules(lookback_days=3)
    got = user_segments(
        spark.createDataFrame([_activity("buyer", 0, orders=1, revenue=1)], ACTIVITY),
        D1,
        D1 + timedelta(days=5),
        rules,
    )
    days = sorted((r.event_date - D1).days for r in got.where(f"segment = '{CONVERTER}'").collect())
    assert days == [0, 1, 2]


def test_rfm_tiers_follow_the_rules():
    assert rfm_tier(9) == rfm_tier(DEFAULT_RULES.rfm_high_min_score) == RFM_HIGH
    assert rfm_tier(DEFAULT_RULES.rfm_high_min_score - 1) == "rfm_medium"
    assert rfm_tier(3) == RFM_LOW


def test_history_is_one_row_per_run_of_days(spark):
    days = [0, 1, 2, 4, 5]
    members = spark.createDataFrame(
        [(D1 + timedelta(days=d), "a", CONVERTER) for d in days] + [(D1, "b", LAPSED)],
        "event_date date, user_pid string, segment string",
    )
    got = sorted(
        (r.user_pid, r.valid_from, r.valid_to, r.is_current, r.member_days)
        for r in segment_history(members, D1 + timedelta(days=5)).collect()
    )
    assert got == [
        ("a", D1, D1 + timedelta(days=3), False, 3),
        ("a", D1 + timedelta(days=4), None, True, 2),
        ("b", D1, D1 + timedelta(days=1), False, 1),
    ]
