"""Audience segments on the shared end-to-end lake (conftest `lakehouse`): user activity
recomputed from the raw files, consent honoured, the segments against what the
simulator knows (who bought, who is a bot), and the segment mart against gold with its
privacy floor."""

import hashlib
import hmac
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from ad_assets.generator.catalog import build_catalog
from spark_jobs.consent import measurement_allowed
from spark_jobs.lake_read import open_table
from spark_jobs.segment_rules import CONVERTER, DEFAULT_RULES, SUSPECTED_BOT
from tests import reference
from tests.integration.helpers import END, START, mart_rows


@pytest.fixture(scope="module")
def audiences(lakehouse):
    key = lakehouse["resources"]["pseudonym_key"].key_bytes()
    lake = lakehouse["lake"]

    def rows(name: str) -> list[dict]:
        return open_table(lake, "gold", name).to_pyarrow_table().to_pylist()

    return {
        **lakehouse,
        "raw": reference.read_raw(Path(lakehouse["settings"].lake_root)),
        "pid": lambda user_id: hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest(),
        "activity": rows("user_activity_daily"),
        "segments": rows("user_segments"),
        "history": rows("segment_history"),
    }


def test_activity_equals_recomputation_from_raw(audiences):
    key = audiences["resources"]["pseudonym_key"].key_bytes()
    expected = reference.user_activity(audiences["raw"], key)
    got = {
        (r["event_date"], r["user_pid"]): (r["valid_impressions"], r["valid_clicks"], r["orders"])
        for r in audiences["activity"]
    }
    assert {k: v for k, v in got.items() if any(v)} == expected
    assert sum(v[2] for v in expected.values()) > 10  # orders were there to count


def test_users_without_consent_are_in_no_user_level_table(audiences):
    verdicts: dict[str, set[bool]] = defaultdict(set)
    for event_type in ("impression", "click", "conversion"):
        for e in audiences["raw"].events[event_type]:
            if e.get("user_id"):
                verdicts[e["user_id"]].add(measurement_allowed(e.get("gdpr"), e.get("consent")))
    refused = {audiences["pid"](u) for u, v in verdicts.items() if v == {False}}
    assert len(refused) > 20, "the simulator sends users without consent"
    for table in ("activity", "segments", "history"):
        assert not refused & {r["user_pid"] for r in audiences[table]}, table


def test_converters_are_the_users_who_ordered_in_the_lookback(audiences):
    last = max(r["event_date"] for r in audiences["segments"])
    first = last - timedelta(days=DEFAULT_RULES.lookback_days - 1)
    ordered = {pid for (day, pid), (_, _, orders) in _activity(audiences).items() if orders and day >= first}
    members = {
        r["user_pid"] for r in audiences["segments"] if r["event_date"] == last and r["segment"] == CONVERTER
    }
    assert members == ordered and members


def test_suspected_bots_are_the_simulated_bots(audiences):
    """The simulator's bots (catalog.user_is_bot) are what suspected_bot should find: the
    exchange flags part of their traffic, their clicks come too fast."""
    s = audiences["settings"]
    cat = build_catalog(s.seed, date.fromisoformat(s.start_date), s.impressions_per_day)
    bots = {audiences["pid"](u) for u in cat.user_id[cat.user_is_bot]}
    enough = DEFAULT_RULES.bot_min_impressions
    seen = {r["user_pid"] for r in audiences["activity"] if r["impressions"] >= enough}
    flagged = {r["user_pid"] for r in audiences["segments"] if r["segment"] == SUSPECTED_BOT}
    precision = len(flagged & bots) / len(flagged)
    recall = len(flagged & bots & seen) / len(bots & seen)
    print(
        f"suspected_bot: {len(flagged)} flagged, precision {precision:.2f}, recall {recall:.2f} "
        f"(bots with {DEFAULT_RULES.bot_min_impressions}+ impressions: {len(bots & seen)})"
    )
    assert len(flagged) >= 5 and precision >= 0.9 and recall >= 0.6


def test_segment_mart_is_gold_with_the_privacy_floor(audiences):
    activity = {(r["event_date"], r["user_pid"]): r for r in audiences["activity"]}
    expected: dict = defaultdict(lambda: {"users": 0, "impressions": 0, "clicks": 0, "orders": 0})
    for m in audiences["segments"]:
        row = expected[(m["event_date"], m["segment"])]
        a = activity.get((m["event_date"], m["user_pid"]))
        row["users"] += 1
        if a:
            row["impressions"] += a["valid_impressions"]
            row["clicks"] += a["valid_clicks"]
            row["orders"] += a["orders"]
    floor = audiences["settings"].privacy_min_users
    got = {
        (r["event_date"], r["segment"]): {k: r[k] for k in ("users", "impressions", "clicks", "orders")}
        for r in mart_rows(audiences["resources"]["clickhouse"], "segment_daily")
    }
    assert got == {k: v for k, v in expected.items() if v["users"] >= floor}
    assert any(v["users"] < floor for v in expected.values()), "some segment-day was small enough to suppress"
    assert {d for d, _ in got} <= {START + timedelta(days=i) for i in range((END - START).days + 1)} | {
        START - timedelta(days=i) for i in (1, 2)
    }


def _activity(audiences) -> dict[tuple[date, str], tuple[int, int, int]]:
    return {
        (r["event_date"], r["user_pid"]): (r["valid_impressions"], r["valid_clicks"], r["orders"])
        for r in audiences["activity"]
    }
