"""The quality rules on small frames: the GX contract suites (real Great Expectations on
Spark), schema drift and volume/CTR anomalies. Thresholds are imported, not copied."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import functions as F

from spark_jobs.anomalies import MAX_DROP, MIN_HISTORY_DAYS, TRAILING_DAYS, anomalies
from spark_jobs.bronze import bronze_rows, parse_lines
from spark_jobs.contracts import IVT_VALUES, MAX_LATENESS, RAW_FIELDS
from spark_jobs.drift import DRIFT_SHARE, drift_report
from spark_jobs.expectations import ARRIVAL_DELAY_BOUNDS, build_suite, validate
from spark_jobs.silver import silver_impressions
from tests.helpers import raw_line_frame

IMPRESSION = {
    "event_type": "impression",
    "event_ts": "2026-11-02T09:30:00Z",  # arrives in the 10:00 folder of 2026-11-02
    "impression_id": "i1",
    "advertiser_id": "a1",
    "campaign_id": "c1",
    "channel": "display",
    "ad_format": "banner",
    "user_id": "u1",
    "cost_micros": 1500,
    "ivt": "none",
    "is_test": False,
}


def _bronze(spark, objs: list[dict]):
    lines = [json.dumps({"event_id": f"e{i}", **o}) for i, o in enumerate(objs)]
    parsed = parse_lines(raw_line_frame(spark, lines), "impression")
    assert parsed.where("_reason IS NOT NULL").count() == 0  # the parser let them all through
    return bronze_rows(parsed, "impression", F.current_timestamp(), "t")


def _failed(outcome) -> dict[tuple[str, str], dict]:
    return {(f["expectation"], f["column"]): f for f in outcome.failed}


def test_the_suites_cover_every_contract_field():
    for layer in ("bronze", "silver"):
        suite = build_suite(layer, "impression")
        typed = {
            e.column for e in suite.expectations if e.expectation_type == "expect_column_values_to_be_of_type"
        }
        expected = {f.name for f in RAW_FIELDS["impression"]} - ({"user_id"} if layer == "silver" else set())
        assert expected <= typed
    with pytest.raises(ValueError, match="no suite for layer"):
        build_suite("gold", "impression")


def test_conforming_rows_pass_the_bronze_and_silver_suites(spark):
    bronze = _bronze(spark, [IMPRESSION, {**IMPRESSION, "impression_id": "i2", "ivt": "givt"}])
    outcome = validate(bronze, "bronze", "impression")
    assert outcome.success, outcome.failed
    assert outcome.evaluated == len(build_suite("bronze", "impression").expectations)
    silver = silver_impressions(bronze, b"k", "v1")
    assert validate(silver, "silver", "impression").success


def test_contract_breaches_fail_with_counts_and_samples(spark):
    too_late = MAX_LATENESS + timedelta(hours=3)
    # Long before the 10:00 folder of 2026-11-02 it arrived in.
    late_ts = (datetime(2026, 11, 2, 10) - too_late).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = [
        IMPRESSION,
        {**IMPRESSION, "channel": "billboard"},
        {**IMPRESSION, "ivt": "robot"},
        {**IMPRESSION, "cost_micros": -3},
        {**IMPRESSION, "event_ts": late_ts},
    ]
    failed = _failed(validate(_bronze(spark, rows), "bronze", "impression"))
    assert set(failed) == {
        ("expect_column_values_to_be_in_set", "channel"),
        ("expect_column_values_to_be_in_set", "ivt"),
        ("expect_column_values_to_be_between", "cost_micros"),
        ("expect_column_values_to_be_between", "_arrival_delay_s"),
    }
    assert failed[("expect_column_values_to_be_in_set", "channel")]["sample"] == ["billboard"]
    assert failed[("expect_column_values_to_be_in_set", "ivt")]["unexpected_count"] == 1
    assert "robot" not in IVT_VALUES
    delay = int(failed[("expect_column_values_to_be_between", "_arrival_delay_s")]["sample"][0])
    assert delay > ARRIVAL_DELAY_BOUNDS[1]


def test_silver_suite_catches_a_duplicated_event_id(spark):
    bronze = _bronze(spark, [IMPRESSION, {**IMPRESSION, "impression_id": "i2"}])
    silver = silver_impressions(bronze, b"k", "v1")
    doubled = silver.unionByName(silver.limit(1))
    failed = _failed(validate(doubled, "silver", "impression"))
    assert set(failed) == {("expect_column_values_to_be_unique", "event_id")}
    assert failed[("expect_column_values_to_be_unique", "event_id")]["unexpected_count"] == 2


def test_schema_drift_separates_a_changed_field_from_noise():
    lines = {"impression": 1000, "click": 200}
    noise = Counter({("impression", "bad_type:cost_micros"): 1, ("impression", "malformed_json"): 50})
    assert drift_report(noise, Counter(), lines)["drift"] is False
    changed = int(lines["click"] * DRIFT_SHARE)
    report = drift_report(
        noise + Counter({("click", "bad_type:is_test"): changed}),
        Counter({("impression", "referrer"): 3}),
        lines,
    )
    assert report["drift"] is True
    assert report["changed_fields"] == [
        {
            "event_type": "click",
            "field": "is_test",
            "problem": "bad_type",
            "lines": changed,
            "share": DRIFT_SHARE,
        }
    ]
    assert report["unknown_fields"] == [
        {"event_type": "impression", "field": "referrer", "lines": 3, "share": 0.003}
    ]
    # A new field in a real share of lines is drift too (it is kept, and reported).
    assert drift_report(Counter(), Counter({("impression", "referrer"): 10}), lines)["drift"] is True


def _days(start: date, values: list[tuple[int, int]]) -> dict[date, dict[str, int]]:
    return {start + timedelta(days=i): {"impressions": n, "clicks": c} for i, (n, c) in enumerate(values)}


def test_anomalies_flag_a_drop_against_the_trailing_mean():
    start = date(2026, 11, 1)
    steady = [(1000, 10)] * TRAILING_DAYS
    day = start + timedelta(days=TRAILING_DAYS)
    ok = _days(start, [*steady, (int(1000 * (1 - MAX_DROP)) + 1, 10)])
    assert anomalies(ok, [day]) == ([], [])
    outage = _days(start, [*steady, (300, 3)])
    found, _ = anomalies(outage, [day])
    assert [(a["measure"], a["drop"]) for a in found] == [("impressions", 0.7)]
    ctr_fall = _days(start, [*steady, (1000, 2)])
    assert [a["measure"] for a in anomalies(ctr_fall, [day])[0]] == ["ctr"]
    # A day with no rows at all is the worst outage.
    assert [a["drop"] for a in anomalies(_days(start, steady), [day])[0]] == [1.0]


def test_anomalies_need_history():
    start = date(2026, 11, 1)
    short = _days(start, [(1000, 10)] * (MIN_HISTORY_DAYS - 1) + [(10, 0)])
    day = start + timedelta(days=MIN_HISTORY_DAYS - 1)
    assert anomalies(short, [day]) == ([], [day])
