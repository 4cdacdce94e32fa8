import gzip
import json
from datetime import date

from pyspark.sql import functions as F

from spark_jobs.bronze import parse_lines, read_raw_lines
from spark_jobs.contracts import EVENT_TYPES, RAW_FIELDS, TABLE_NAMES
from spark_jobs.lake import Lake
from spark_jobs.layers import QUARANTINE_TABLE, ArrivalWindow
from spark_jobs.pipeline import run_bronze
from spark_jobs.raw_files import inspect_raw_files
from spark_jobs.reconcile import raw_vs_bronze
from tests.helpers import jsonl_gz, land, raw_line_frame

CLICK = {
    "event_id": "e1",
    "event_type": "click",
    "event_ts": "2026-11-02T10:00:00.123456Z",
    "click_id": "c1",
    "impression_id": "i1",
    "user_id": "u1",
    "ivt": "none",
    "is_test": False,
}


def _parse(spark, event_type: str, objs: list) -> list:
    values = [o if isinstance(o, str) else json.dumps(o) for o in objs]
    return parse_lines(raw_line_frame(spark, values), event_type).orderBy("_line_number").collect()


def test_valid_click_is_typed_and_keeps_unknown_fields(spark):
    (row,) = _parse(spark, "click", [{**CLICK, "new_field": 7, "referrer": "x.example"}])
    assert row["_reason"] is None
    assert row["event_ts"].isoformat() == "2026-11-02T10:00:00.123456"
    assert row["is_test"] is False and row["ivt"] == "none"
    assert json.loads(row["extra_json"]) == {"new_field": "7", "referrer": "x.example"}


def test_each_kind_of_bad_line_gets_its_reason(spark):
    missing = {k: v for k, v in CLICK.items() if k != "impression_id"}
    bad_type = {**CLICK, "is_test": "n/a"}
    bad_ts = {**CLICK, "event_ts": "yesterday"}
    wrong_type = {**CLICK, "event_type": "impression"}
    two = {k: v for k, v in CLICK.items() if k not in ("click_id", "ivt")}
    lines = [missing, bad_type, json.dumps(CLICK)[:40], "[1, 2]", "", bad_ts, wrong_type, two]
    rows = _parse(spark, "click", lines)
    assert [r["_reason"] for r in rows] == [
        "missing:impression_id",
        "bad_type:is_test",
        "malformed_json",
        "malformed_json",
        "malformed_json",
        "bad_type:event_ts",
        "wrong_event_type",
        "missing:click_id; missing:ivt",
    ]


def test_nested_object_of_the_wrong_shape_is_a_schema_mismatch(spark):
    req = {
        "event_id": "r1",
        "event_type": "bid_request",
        "event_ts": "2026-11-02T10:00:00Z",
        "request_id": "q",
        "imp_id": "1",
        "bidfloor_cpm": 1.0,
        "device": "not-an-object",
    }
    (row,) = _parse(spark, "bid_request", [req])
    assert row["_reason"] == "schema_mismatch"


def test_nested_openrtb_fields_are_flattened(spark):
    req = {
        "event_id": "r1",
        "event_type": "bid_request",
        "event_ts": "2026-11-02T10:00:00Z",
        "request_id": "q1",
        "imp_id": "1",
        "bidfloor_cpm": 0.75,
        "site": {"domain": "news.example.com", "publisher": {"id": "pub-1"}},
        "device": {"devicetype": "mobile", "os": "ios", "geo": {"country": "DE"}},
        "user": {"id": "u9", "consent": "CP"},
        "regs": {"gdpr": 1},
    }
    (row,) = _parse(spark, "bid_request", [req])
    assert row["_reason"] is None
    assert (row["site_domain"], row["site_publisher_id"], row["app_bundle"]) == (
        "news.example.com",
        "pub-1",
        None,
    )
    assert (row["country"], row["os"], row["user_id"], row["gdpr"], row["bidfloor_cpm"]) == (
        "DE",
        "ios",
        "u9",
        1,
        0.75,
    )


def test_read_raw_lines_numbers_lines_per_file(spark, tmp_path):
    lake = Lake(str(tmp_path))
    for hour, n in ((3, 5), (4, 7)):
        land(
            tmp_path,
            "click",
            "2026-11-02",
            hour,
            jsonl_gz({**CLICK, "event_id": f"h{hour}-{i}"} for i in range(1, n + 1)),
        )
    files = inspect_raw_files(lake, "click", [date(2026, 11, 2)])
    assert len(files.readable) == 2 and not files.unreadable
    rows = read_raw_lines(spark, lake, "click", files.readable).collect()
    got = sorted((r["arrival_hour"], r["_line_number"], json.loads(r["value"])["event_id"]) for r in rows)
    expected = sorted((h, i, f"h{h}-{i}") for h, n in ((3, 5), (4, 7)) for i in range(1, n + 1))
    assert got == expected
    assert inspect_raw_files(lake, "click", [date(2026, 11, 9)]).readable == []
    assert read_raw_lines(spark, lake, "click", []).count() == 0


def test_unreadable_files_are_quarantined_whole_and_the_rest_loads(spark, tmp_path):
    lake = Lake(str(tmp_path))
    good = jsonl_gz({**CLICK, "event_id": f"ok-{i}"} for i in range(3))
    bad_files = {
        1: good[:-7],  # truncated in transit
        2: b"\x89PNG\r\n\x1a\n binary garbage",  # not gzip at all
        3: b"",  # zero bytes
        4: gzip.compress(b""),  # a valid gzip with no lines
    }
    for hour, data in {0: good, **bad_files}.items():
        land(tmp_path, "click", "2026-11-02", hour, data)
    w = ArrivalWindow(date(2026, 11, 2), date(2026, 11, 2))
    stats = run_bronze(spark, lake, w, "b1")
    assert stats.rows["clicks"] == 3
    assert len(stats.detail["click"]["unreadable_files"]) == 4
    quarantine = spark.read.format("delta").load(lake.table(*QUARANTINE_TABLE)).where("event_type = 'click'")
    reasons = {
        r["arrival_hour"]: (r["reason"], r["raw_line"], r["_source_file"]) for r in quarantine.collect()
    }
    assert reasons[1][0].startswith("unreadable_file: truncated gzip")
    assert reasons[2][0].startswith("unreadable_file: not gzip")
    assert reasons[3][0] == reasons[4][0] == "empty_file"
    assert all(raw is None and source.endswith("part-00000.jsonl.gz") for _, raw, source in reasons.values())
    assert reasons[1][2] == f"file:{tmp_path}/raw/click/dt=2026-11-02/hour=01/part-00000.jsonl.gz"
    # raw = bronze + quarantine still holds: an unreadable file counts as its one row
    click = [r for r in raw_vs_bronze(lake, w) if r["event_type"] == "click"]
    assert [(r["raw_lines"], r["bronze_rows"], r["quarantined"], r["ok"]) for r in click] == [(7, 3, 4, True)]


def test_run_bronze_reconciles_lines_and_is_idempotent(spark, tmp_path):
    lake = Lake(str(tmp_path))
    good = [json.dumps({**CLICK, "event_id": f"g{i}"}) for i in range(6)]
    land(
        tmp_path,
        "click",
        "2026-11-02",
        10,
        jsonl_gz([*good, "{not json", json.dumps({**CLICK, "ivt": None})]),
    )
    w = ArrivalWindow(date(2026, 11, 2), date(2026, 11, 2))
    for _ in range(2):
        stats = run_bronze(spark, lake, w, batch_id="t")
    expected = {
        "raw_lines": 8,
        "bronze_rows": 6,
        "quarantined": 2,
        "unreadable_files": [],
        "reasons": {"malformed_json": 1, "missing:ivt": 1},
        "unknown_fields": {},
    }
    assert stats.detail["click"] == expected
    bronze = spark.read.format("delta").load(lake.table("bronze", "clicks"))
    assert bronze.count() == 6
    q = spark.read.format("delta").load(lake.table("bronze", "quarantine")).orderBy("_line_number").collect()
    assert [(r["_line_number"], r["reason"]) for r in q] == [(7, "malformed_json"), (8, "missing:ivt")]
    assert q[0]["raw_line"] == "{not json" and q[0]["_source_file"].endswith("hour=10/part-00000.jsonl.gz")
    # Every event type gets its (possibly empty) table, with the contract's columns.
    for t in EVENT_TYPES:
        cols = spark.read.format("delta").load(lake.table("bronze", TABLE_NAMES[t])).columns
        assert [f.name for f in RAW_FIELDS[t]] == cols[: len(RAW_FIELDS[t])]
    assert bronze.where(F.col("_line_number") > 6).count() == 0
