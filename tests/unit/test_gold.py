from datetime import date, datetime, timedelta

import pytest

from spark_jobs.gold import UNKNOWN, campaign_daily, last_click_credits, publisher_daily

CONV = (
    "event_id string, event_ts timestamp, order_id string, advertiser_id string, "
    "user_pid string, value_micros bigint, is_valid boolean, event_date date, event_hour int"
)
CLICK = (
    "event_id string, event_ts timestamp, user_pid string, advertiser_id string, "
    "campaign_id string, is_valid boolean, publisher_id string, channel string, "
    "event_date date, event_hour int"
)
IMP = (
    "event_id string, event_ts timestamp, advertiser_id string, campaign_id string, "
    "cost_micros bigint, is_valid boolean, event_date date, event_hour int"
)

T0 = datetime(2026, 11, 10, 12)


def _row(event_id, ts, *rest):
    return (event_id, ts, *rest, ts.date(), ts.hour)


def _clk(event_id, ts, user, advertiser, campaign, valid, publisher="pub1", channel="display"):
    return _row(event_id, ts, user, advertiser, campaign, valid, publisher, channel)


def test_last_click_within_seven_days_same_user_and_advertiser(spark):
    clicks = spark.createDataFrame(
        [
            _clk("k_old", T0 - timedelta(days=6), "u1", "adv1", "cmpA", True),
            _clk("k_late", T0 - timedelta(hours=1), "u1", "adv1", "cmpB", True),  # latest valid: wins
            _clk("k_invalid", T0 - timedelta(minutes=5), "u1", "adv1", "cmpC", False),
            _clk("k_other_adv", T0 - timedelta(minutes=4), "u1", "adv2", "cmpD", True),
            _clk("k_after", T0 + timedelta(minutes=1), "u1", "adv1", "cmpE", True),
            _clk("k_u2_expired", T0 - timedelta(days=7, seconds=1), "u2", "adv1", "cmpF", True),
            _clk("k_u3_edge", T0 - timedelta(days=7), "u3", "adv1", "cmpG", True),
        ],
        CLICK,
    )
    conversions = spark.createDataFrame(
        [
            _row("c1", T0, "o1", "adv1", "u1", 50_000_000, True),
            _row("c1b", T0 + timedelta(seconds=5), "o1", "adv1", "u1", 50_000_000, True),  # pixel fired twice
            _row("c2", T0, "o2", "adv1", "u2", 10_000_000, True),  # its only click is 7 days + 1 s old
            _row("c3", T0, "o3", "adv1", "u3", 20_000_000, True),  # exactly 7 days: credited
            _row("c4", T0, "o4", "adv1", "u1", 30_000_000, False),  # test conversion
        ],
        CONV,
    )
    got = {
        r["order_id"]: (r["campaign_id"], r["touch_event_id"], r["value_micros"])
        for r in last_click_credits(conversions, clicks).collect()
    }
    assert got == {"o1": ("cmpB", "k_late", 50_000_000), "o3": ("cmpG", "k_u3_edge", 20_000_000)}


def test_campaign_daily_metrics(spark):
    day = datetime(2026, 11, 10, 9)
    imps = spark.createDataFrame(
        [_row(f"i{i}", day, "adv1", "cmpA", 2_000, True) for i in range(4)]
        + [_row("ibad", day, "adv1", "cmpA", 9_999, False)]
        + [_row("j1", day, "adv1", "cmpB", 500, True)],
        IMP,
    )
    clicks = spark.createDataFrame(
        [_clk("k1", day, "u1", "adv1", "cmpA", True), _clk("k2", day, "u2", "adv1", "cmpA", False)], CLICK
    )
    credits = spark.createDataFrame(
        [("o1", "adv1", "cmpA", 30_000_000, day, day.date(), day.hour)],
        "order_id string, advertiser_id string, campaign_id string, value_micros bigint, event_ts timestamp, "
        "event_date date, event_hour int",
    )
    rows = {r["campaign_id"]: r.asDict() for r in campaign_daily(imps, clicks, credits).collect()}
    a, b = rows["cmpA"], rows["cmpB"]
    assert (a["impressions"], a["clicks"], a["conversions"], a["spend_micros"], a["revenue_micros"]) == (
        4,
        1,
        1,
        8_000,
        30_000_000,
    )
    assert a["spend"] == pytest.approx(0.008) and a["revenue"] == pytest.approx(30.0)
    assert a["ctr"] == pytest.approx(0.25) and a["cvr"] == pytest.approx(1.0)
    assert a["cpc"] == pytest.approx(0.008) and a["cpm"] == pytest.approx(2.0)
    assert a["roas"] == pytest.approx(30.0 / 0.008)
    assert a["event_date"] == date(2026, 11, 10)
    assert (b["impressions"], b["clicks"], b["ctr"], b["cvr"], b["cpc"]) == (1, 0, 0.0, None, None)
    assert b["cpm"] == pytest.approx(0.5)


def test_publisher_daily_credits_the_publisher_of_the_clicked_impression_and_counts_users(spark):
    day = datetime(2026, 11, 10, 9)
    imp_schema = (
        "event_id string, event_ts timestamp, user_pid string, publisher_id string, channel string, "
        "cost_micros bigint, is_valid boolean, event_date date, event_hour int"
    )
    imps = spark.createDataFrame(
        [
            _row("i1", day, "u1", "pubA", "display", 1_000, True),
            _row("i2", day, "u1", "pubA", "display", 1_000, True),  # same user: one unique user
            _row("i3", day, "u2", "pubA", "display", 1_000, True),
            _row("i4", day, "u3", "pubA", "display", 1_000, False),  # invalid: not a user, not counted
            _row("i5", day, "u4", None, None, 2_000, True),  # publisher unknown
        ],
        imp_schema,
    )
    clicks = spark.createDataFrame(
        [
            _clk("k1", day, "u1", "adv1", "cmpA", True, "pubA", "display"),
            _clk("k2", day, "u4", "adv1", "cmpA", True, None, None),
        ],
        CLICK,
    )
    credits = spark.createDataFrame(
        [("o1", "pubA", "display", 5_000_000, day.date(), day.hour)],
        "order_id string, publisher_id string, channel string, value_micros bigint, "
        "event_date date, event_hour int",
    )
    rows = {
        (r["publisher_id"], r["channel"]): r.asDict()
        for r in publisher_daily(imps, clicks, credits).collect()
    }
    a, u = rows[("pubA", "display")], rows[(UNKNOWN, UNKNOWN)]
    assert (a["impressions"], a["clicks"], a["conversions"], a["spend_micros"], a["unique_users"]) == (
        3,
        1,
        1,
        3_000,
        2,
    )
    assert a["revenue_micros"] == 5_000_000 and a["ctr"] == pytest.approx(1 / 3)
    assert (u["impressions"], u["clicks"], u["unique_users"]) == (1, 1, 1)
    assert len(rows) == 2
