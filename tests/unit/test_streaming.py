"""The stream's transformations on static frames shaped like the Kafka source's records:
counters computed by plain Python from the same events must equal Spark's increments."""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from spark_jobs.stream_layout import LIVE_LATENESS, WINDOW_SECONDS, topic
from spark_jobs.stream_sink import redis_ops
from spark_jobs.streaming import (
    DEAD,
    DEAD_LINE,
    LATE,
    LATENCY,
    WINDOW,
    batch_rows,
    deduplicated,
    kafka_lines,
    parse_events,
)

T0 = datetime(2026, 12, 1, 9, 0, 3, tzinfo=UTC)
RECORDS = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _imp(i: int, campaign: str, channel: str, cost: int, at: datetime, ivt: str = "none", test: bool = False):
    return {
        "event_type": "impression", "event_id": f"ie{i}", "event_ts": _ts(at), "impression_id": f"i{i}",
        "advertiser_id": "a1", "campaign_id": campaign, "channel": channel, "user_id": f"u{i}",
        "cost_micros": cost, "ivt": ivt, "is_test": test,
    }  # fmt: skip


def _click(i: int, campaign: str, at: datetime, ivt: str = "none"):
    return {
        "event_type": "click", "event_id": f"ce{i}", "event_ts": _ts(at), "click_id": f"c{i}",
        "impression_id": f"i{i}", "campaign_id": campaign, "ivt": ivt, "is_test": False,
    }  # fmt: skip


def _conv(i: int, value: int, at: datetime):
    return {
        "event_type": "conversion", "event_id": f"ve{i}", "event_ts": _ts(at), "conversion_id": f"v{i}",
        "order_id": f"o{i}", "advertiser_id": "a1", "conv_type": "purchase", "value_micros": value,
        "is_test": False,
    }  # fmt: skip


def _records(spark, events: list[tuple[dict | str, str, datetime]]):
    rows = [
        (None, (e if isinstance(e, str) else json.dumps(e)).encode(), topic(t), 0, n, arrived)
        for n, (e, t, arrived) in enumerate(events)
    ]
    return spark.createDataFrame(rows, RECORDS)


def _events(spark, events):
    return deduplicated(parse_events(kafka_lines(_records(spark, events))))


def test_increments_equal_counts_computed_in_python(spark):
    late_at = T0 - LIVE_LATENESS - timedelta(seconds=5)
    imps = [
        _imp(1, "c1", "display", 1000, T0),
        _imp(2, "c1", "video", 2500, T0 + timedelta(seconds=4)),
        _imp(3, "c2", "display", 700, T0 + timedelta(seconds=9)),  # the next window
        _imp(4, "c2", "display", 900, T0, ivt="sivt"),  # invalid traffic: not counted
        _imp(5, "c2", "display", 900, T0, test=True),  # test traffic: not counted
        _imp(6, "c1", "display", 300, late_at),  # arrives past the lateness: late
    ]
    sent = [(e, "impression", datetime.fromisoformat(e["event_ts"]) + timedelta(seconds=1)) for e in imps]
    sent[5] = (imps[5], "impression", T0 + timedelta(seconds=2))
    sent.append((imps[0], "impression", T0 + timedelta(seconds=20)))  # a resend: dropped
    sent += [
        (_click(1, "c1", T0 + timedelta(seconds=2)), "click", T0 + timedelta(seconds=3)),
        (_click(4, "c2", T0 + timedelta(seconds=2), ivt="sivt"), "click", T0 + timedelta(seconds=3)),
        (_conv(1, 5_000_000, T0 + timedelta(seconds=5)), "conversion", T0 + timedelta(seconds=6)),
        ('{"event_type": "click", "event_id": "broken', "click", T0 + timedelta(seconds=6)),
    ]
    rows = batch_rows(_events(spark, sent)).collect()
    got = {tuple(r)[:6]: r["value"] for r in rows if r["kind"] in (WINDOW, LATE)}
    assert {(r["kind"], r["key"]): r["value"] for r in rows if r["kind"] == DEAD} == {(DEAD, "click"): 1}
    # Every valid line is in the latency (6 impressions, 2 clicks, 1 conversion; not the resend).
    assert sum(r["value"] for r in rows if r["kind"] == LATENCY) == 9

    # Independently: window start = event second floored to 10 s.
    def ws(t: datetime) -> int:
        return int(t.timestamp()) // WINDOW_SECONDS * WINDOW_SECONDS

    want: Counter = Counter()
    day = "2026-12-01"
    for e in imps[:3]:
        t = datetime.fromisoformat(e["event_ts"])
        for scope, key in (("campaign", e["campaign_id"]), ("channel", e["channel"])):
            want[(WINDOW, ws(t), day, scope, key, "impressions")] += 1
            want[(WINDOW, ws(t), day, scope, key, "spend_micros")] += e["cost_micros"]
    want[(WINDOW, ws(T0 + timedelta(seconds=2)), day, "campaign", "c1", "clicks")] += 1
    want[(WINDOW, ws(T0 + timedelta(seconds=5)), day, "advertiser", "a1", "conversions")] += 1
    want[(WINDOW, ws(T0 + timedelta(seconds=5)), day, "advertiser", "a1", "revenue_micros")] += 5_000_000
    for scope, key in (("campaign", "c1"), ("channel", "display")):
        want[(LATE, None, day, scope, key, "impressions")] += 1
        want[(LATE, None, day, scope, key, "spend_micros")] += 300
    assert got == dict(want)


def test_dead_letters_name_their_line_and_reason(spark):
    good = _click(1, "c1", T0)
    bad = {**good, "event_id": "e2", "is_test": "maybe"}
    events = _events(spark, [(good, "click", T0), (bad, "click", T0), ("not json", "impression", T0)])
    rows = batch_rows(events).collect()
    assert {(r["kind"], r["key"]): r["value"] for r in rows if r["kind"] in (DEAD, LATENCY)} == {
        (DEAD, "click"): 1,
        (DEAD, "impression"): 1,
        (LATENCY, "all"): 1,
    }
    letters = sorted((r for r in rows if r["kind"] == DEAD_LINE), key=lambda r: r["key"])
    assert [r["key"] for r in letters] == [f"{topic('click')}/0/1", f"{topic('impression')}/0/2"]
    body = json.loads(letters[0]["field"])
    assert body["reason"] == "bad_type:is_test" and json.loads(body["line"])["is_test"] == "maybe"
    assert json.loads(letters[1]["field"])["reason"] == "malformed_json"


def test_redis_ops_cover_windows_days_late_and_latency():
    rows = [
        (WINDOW, 1764579600, "2026-12-01", "campaign", "c1", "spend_micros", 1500),
        (LATE, None, "2026-12-01", "campaign", "c1", "impressions", 2),
        (LATENCY, 1_764_579_600_000, None, "all", "all", "events", 7),
        (DEAD, None, None, "event_type", "click", "lines", 1),
    ]
    ops, report = redis_ops(rows, now_ms=1_764_579_601_234)
    keys = {(ops[i], ops[i + 1], ops[i + 2]) for i in range(0, len(ops), 5)}
    assert ("h", "adlake:w10:1764579600:campaign:c1", "spend_micros") in keys
    assert ("h", "adlake:day:2026-12-01:campaign:c1", "spend_micros") in keys
    assert ("z", "adlake:w10:1764579600:top_spend", "c1") in keys
    assert ("h", "adlake:late:2026-12-01:campaign:c1", "impressions") in keys
    assert report.late == 2 and report.dead_letter == 1 and report.events == 7
    assert report.latency_ms == {1200: 7}  # 1,234 ms, in 50 ms buckets


def test_a_campaign_with_clicks_only_joins_its_window_index_at_zero_spend():
    rows = [
        (WINDOW, 1764579600, "2026-12-01", "campaign", "c1", "spend_micros", 1500),
        (WINDOW, 1764579600, "2026-12-01", "campaign", "c2", "clicks", 3),
    ]
    ops, _ = redis_ops(rows, now_ms=1_764_579_601_000)
    zadds = {ops[i + 2]: ops[i + 3] for i in range(0, len(ops), 5) if ops[i] == "z"}
    assert zadds == {"c1": 1500, "c2": 0}
