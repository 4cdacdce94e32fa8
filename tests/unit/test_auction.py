"""Auction analytics on hand-built auctions: every column of auction_daily and bid_landscape,
exactly, and the checks on good and on broken data."""

from datetime import datetime, timedelta

import pytest
from pyspark.sql import functions as F

from spark_jobs import auction as A
from spark_jobs.contracts import LOSS_REASONS, UNKNOWN

REQ = (
    "event_id string, event_ts timestamp, request_id string, site_publisher_id string, "
    "app_publisher_id string, placement_id string, channel string, ad_format string, "
    "bidfloor_cpm double, is_test boolean, event_date date, event_hour int"
)
RESP = (
    "event_id string, event_ts timestamp, request_id string, advertiser_id string, campaign_id string, "
    "bid_price_cpm double, won boolean, clear_price_cpm double, loss_reason int, is_test boolean, "
    "event_date date, event_hour int"
)
IMP = (
    "event_id string, event_ts timestamp, impression_id string, request_id string, campaign_id string, "
    "cost_micros bigint, is_valid boolean, event_date date, event_hour int"
)
T0 = datetime(2026, 11, 10, 12)
DAY = T0.date()
BEFORE = DAY - timedelta(days=1)
U = UNKNOWN


def _req(request_id, site, app, placement, channel, ad_format, test=False, ts=T0):
    keys = (site, app, placement, channel, ad_format)
    return (f"e-{request_id}", ts, request_id, *keys, 0.4, test, ts.date(), ts.hour)


def _bid(event_id, request_id, campaign, price, won=False, clear=None, reason=None, test=False, ts=T0):
    reason = 0 if won else reason
    return (event_id, ts, request_id, "adv1", campaign, price, won, clear, reason, test, ts.date(), ts.hour)


def _imp(event_id, request_id, cost, valid=True, campaign="cmpA", ts=T0):
    return (event_id, ts, f"imp-{event_id}", request_id, campaign, cost, valid, ts.date(), ts.hour)


@pytest.fixture(scope="module")
def frames(spark):
    plc1 = ("pubS", None, "plc1", "display", "banner")  # a site
    plc2 = (None, "pubApp", "plc2", "video", "video")  # an app
    requests = spark.createDataFrame(
        [
            *[_req(r, *plc1) for r in ("r1", "r2", "r3", "r4")],
            _req("r5", *plc1, test=True),  # test traffic: neither a request nor its bids count
            *[_req(q, *plc2) for q in ("q1", "q2", "q3")],
            _req("u1", None, None, None, None, None),  # no keys at all: 'unknown'
        ],
        REQ,
    )
    responses = spark.createDataFrame(
        [
            # plc1: 3 bids from two campaigns on 4 requests.
            _bid("b1", "r1", "cmpA", 2.0, won=True, clear=1.25),
            _bid("b2", "r1", "cmpB", 1.0, reason=102),
            _bid("b3", "r2", "cmpA", 0.5, reason=100),
            _bid("b4", "r3", "cmpB", 1.0, reason=102, test=True),  # a test response
            _bid("b5", "r5", "cmpA", 3.0, won=True, clear=2.0, test=True),
            _bid("b6", "r5", "cmpB", 1.0, reason=102, test=None),  # not test itself; its request is
            # plc2: cmpA wins all 3 auctions (one ad never rendered, one impression invalid).
            _bid("c1", "q1", "cmpA", 4.0, won=True, clear=3.0),
            _bid("c2", "q2", "cmpA", 2.0, won=True, clear=0.75),
            _bid("c3", "q3", "cmpA", 3.0, won=True, clear=0.75),
            _bid("c4", "q2", "cmpB", 1.0, reason=2),
            _bid("c5", "q1", "cmpC", 0.75, reason=7),  # twice in one auction, odd reasons: other
            _bid("c6", "q1", "cmpC", 0.5, reason=None),
            # unknown keys: a request without them, and a response whose request is missing
            # (dated by its own event date).
            _bid("d1", "u1", "cmpD", 0.49, reason=100),
            _bid("d2", "r_missing", "cmpD", 1.74, reason=102, ts=T0 - timedelta(days=1)),
        ],
        RESP,
    )
    impressions = spark.createDataFrame(
        [
            _imp("i1", "r1", 1_250),
            _imp("i2", "q1", 3_000),
            _imp("i3", "q3", 750, valid=False),  # invalid traffic: not counted
            _imp("i4", None, 999),  # no request id
            _imp("i5", "r2", 500),  # its request has no winning response
            _imp("i6", "r5", 2_000, valid=False),  # test
        ],
        IMP,
    )
    return {"requests": requests, "responses": responses, "impressions": impressions}


def _daily(f, responses=None, impressions=None):
    return A.auction_daily(
        f["requests"],
        f["responses"] if responses is None else responses,
        f["impressions"] if impressions is None else impressions,
    )


def test_loss_columns_are_contract_loss_reasons():
    assert set(A.LOSS_COLUMNS) <= set(LOSS_REASONS) - {0}


def test_auction_daily_schema(frames):
    assert _daily(frames).dtypes == [
        ("event_date", "date"),
        ("publisher_id", "string"),
        ("placement_id", "string"),
        ("channel", "string"),
        ("campaign_id", "string"),
        ("placement_requests", "bigint"),
        ("bid_requests", "bigint"),
        ("bids", "bigint"),
        ("wins", "bigint"),
        ("win_rate", "double"),
        ("bid_rate", "double"),
        ("avg_bid_cpm", "double"),
        ("avg_clear_price_cpm", "double"),
        ("bid_shading", "double"),
        ("floor_losses", "bigint"),
        ("outbid_losses", "bigint"),
        ("expired_losses", "bigint"),
        ("other_losses", "bigint"),
        ("impressions", "bigint"),
        ("spend_micros", "bigint"),
    ]


def test_auction_daily_every_column(frames):
    rows = {tuple(r[k] for k in A.AUCTION_KEYS): r.asDict() for r in _daily(frames).collect()}
    columns = (
        "placement_requests",
        "bid_requests",
        "bids",
        "wins",
        "win_rate",
        "bid_rate",
        "avg_bid_cpm",
        "avg_clear_price_cpm",
        "bid_shading",
        "floor_losses",
        "outbid_losses",
        "expired_losses",
        "other_losses",
        "impressions",
        "spend_micros",
    )
    got = {k: tuple(r[c] for c in columns) for k, r in rows.items()}
    plc1, plc2, unknown = (DAY, "pubS", "plc1", "display"), (DAY, "pubApp", "plc2", "video"), (U, U, U)
    assert got == {
        # 4 non-test requests (r5 is test); cmpA: a win (clear 1.25 < bid 2.0) and a floor loss.
        (*plc1, "cmpA"): (4, 2, 2, 1, 0.5, 0.5, 1.25, 1.25, 0.375, 1, 0, 0, 0, 1, 1_250),
        (*plc1, "cmpB"): (4, 1, 1, 0, 0.0, 0.25, 1.0, None, None, 0, 1, 0, 0, 0, 0),
        # 3 wins, 1 impression: q2 never rendered, q3's impression is invalid.
        # Shading: 1 - (3.0 + 0.75 + 0.75) / (4.0 + 2.0 + 3.0) = 0.5.
        (*plc2, "cmpA"): (3, 3, 3, 3, 1.0, 1.0, 3.0, 1.5, 0.5, 0, 0, 0, 0, 1, 3_000),
        (*plc2, "cmpB"): (3, 1, 1, 0, 0.0, 1 / 3, 1.0, None, None, 0, 0, 1, 0, 0, 0),
        # two bids in one auction: one request bid on.
        (*plc2, "cmpC"): (3, 1, 2, 0, 0.0, 1 / 3, 0.625, None, None, 0, 0, 0, 2, 0, 0),
        (DAY, *unknown, "cmpD"): (1, 1, 1, 0, 0.0, 1.0, 0.49, None, None, 1, 0, 0, 0, 0, 0),
        # its request is missing: no placement requests, no bid rate.
        (BEFORE, *unknown, "cmpD"): (0, 0, 1, 0, 0.0, None, 1.74, None, None, 0, 1, 0, 0, 0, 0),
    }


def test_bid_landscape_buckets(frames):
    landscape = A.bid_landscape(frames["requests"], frames["responses"])
    assert landscape.dtypes == [
        ("event_date", "date"),
        ("channel", "string"),
        ("ad_format", "string"),
        ("bid_bucket_cpm", "double"),
        ("bids", "bigint"),
        ("wins", "bigint"),
        ("win_rate", "double"),
        ("avg_clear_price_cpm", "double"),
    ]
    got = {
        tuple(r[k] for k in A.LANDSCAPE_KEYS): (r["bids"], r["wins"], r["win_rate"], r["avg_clear_price_cpm"])
        for r in landscape.collect()
    }
    assert got == {
        (DAY, "display", "banner", 2.0): (1, 1, 1.0, 1.25),
        (DAY, "display", "banner", 1.0): (1, 0, 0.0, None),
        (DAY, "display", "banner", 0.5): (1, 0, 0.0, None),  # 0.5: the lower edge of its bucket
        (DAY, "video", "video", 4.0): (1, 1, 1.0, 3.0),
        (DAY, "video", "video", 3.0): (1, 1, 1.0, 0.75),
        (DAY, "video", "video", 2.0): (1, 1, 1.0, 0.75),
        (DAY, "video", "video", 1.0): (1, 0, 0.0, None),
        (DAY, "video", "video", 0.5): (2, 0, 0.0, None),  # 0.75 and 0.5
        (DAY, U, U, 0.0): (1, 0, 0.0, None),  # 0.49
        (BEFORE, U, U, 1.5): (1, 0, 0.0, None),  # 1.74, its request missing
    }


def test_checks_pass_on_good_data(frames):
    daily = _daily(frames)
    assert A.auction_problems(daily) == []
    assert A.served_problems(daily, frames["impressions"], frames["requests"], frames["responses"]) == []


def test_an_impression_logged_twice_is_more_impressions_than_wins(spark, frames):
    twice = frames["impressions"].unionByName(spark.createDataFrame([_imp("i1_again", "r1", 1_250)], IMP))
    daily = _daily(frames, impressions=twice)
    problems = A.auction_problems(daily)
    assert [
        (p["placement_id"], p["campaign_id"], p["wins"], p["impressions"], p["problem"]) for p in problems
    ] == [("plc1", "cmpA", "1", "2", "impressions > wins")]
    # Both impressions were served from a won auction: the totals still agree.
    assert A.served_problems(daily, twice, frames["requests"], frames["responses"]) == []


def test_a_duplicate_winning_response_counts_an_impression_twice(spark, frames):
    responses = frames["responses"].unionByName(
        spark.createDataFrame([_bid("b1_dup", "r1", "cmpB", 1.0, won=True, clear=0.9)], RESP)
    )
    daily = _daily(frames, responses=responses)
    got = A.served_problems(daily, frames["impressions"], frames["requests"], responses)
    assert got == [{"event_date": str(DAY), "auction_daily_impressions": "3", "served_impressions": "2"}]


def test_auction_problems_lists_at_most_a_sample(frames):
    broken = _daily(frames).withColumn("wins", F.col("bids") + 1)
    problems = A.auction_problems(broken)
    assert len(problems) == A.SAMPLE
    assert {p["problem"] for p in problems} == {"wins > bids"}
