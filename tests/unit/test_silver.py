import hashlib
import hmac
from datetime import date, datetime

from pyspark.sql import functions as F

from spark_jobs.delta_io import merge_first_arrival
from spark_jobs.silver import attach_impressions, first_rows, hmac_sha256_hex, silver_impressions, to_silver

BRONZE_CLICK = (
    "event_id string, event_ts timestamp, click_id string, impression_id string, user_id string, ivt string, "
    "is_test boolean, extra_json string, arrival_date date, arrival_hour int, _source_file string, "
    "_line_number bigint, _ingest_ts timestamp, _batch_id string"
)


def click(
    event_id, arrival_day, hour=1, line=1, ivt="none", imp="i1", user="u1", ts=datetime(2026, 11, 2, 9)
):
    return (
        event_id,
        ts,
        "c-" + event_id,
        imp,
        user,
        ivt,
        False,
        None,
        date(2026, 11, arrival_day),
        hour,
        "f",
        line,
        datetime(2026, 11, 5),
        "b",
    )


def test_hmac_matches_python_hmac(spark):
    values = ["u-1", "", "ü-ñ", "x" * 200]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    for key in (b"k", b"secret-key-0123456789", b"K" * 100):  # short, typical, longer than a block
        got = [r[0] for r in df.select(hmac_sha256_hex(F.col("v"), key)).collect()]
        assert got == [hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in values]


def test_first_arrival_wins(spark):
    df = spark.createDataFrame(
        [click("a", 3, line=1), click("a", 2, hour=5, line=9), click("a", 2, hour=5, line=3), click("b", 4)],
        BRONZE_CLICK,
    )
    kept = {
        r["event_id"]: (r["arrival_date"].day, r["_line_number"])
        for r in first_rows(df, "event_id").collect()
    }
    assert kept == {"a": (2, 3), "b": (4, 1)}


def test_to_silver_pseudonymises_and_dates_events(spark):
    df = spark.createDataFrame([click("a", 2, ts=datetime(2026, 11, 1, 23, 59))], BRONZE_CLICK)
    (row,) = to_silver(df, b"key", "v7").collect()
    assert "user_id" not in row.asDict() and "_ingest_ts" not in row.asDict()
    assert row["user_pid"] == hmac.new(b"key", b"u1", hashlib.sha256).hexdigest()
    assert (row["key_version"], row["event_date"], row["event_hour"]) == ("v7", date(2026, 11, 1), 23)


def _impressions(spark):
    schema = (
        "event_id string, event_ts timestamp, impression_id string, advertiser_id string, "
        "campaign_id string, publisher_id string, channel string, user_id string, cost_micros bigint, "
        "ivt string, is_test boolean, arrival_date date, arrival_hour int, "
        "_source_file string, _line_number bigint, _ingest_ts timestamp, _batch_id string"
    )
    rows = [
        ("ie1", datetime(2026, 11, 2, 8), "i1", "adv1", "cmp1", "pub1", "video", "u1", 1000, "none", False),
        ("ie2", datetime(2026, 11, 2, 8), "i2", "adv1", "cmp2", "pub2", "native", "u1", 1000, "givt", False),
        ("ie3", datetime(2026, 11, 2, 8), "i3", "adv1", "cmp3", "pub3", "display", "u1", 1000, "none", True),
    ]
    meta = (date(2026, 11, 2), 8, "f", 1, datetime(2026, 11, 2), "b")
    return silver_impressions(spark.createDataFrame([r + meta for r in rows], schema), b"k", "v1")


def test_click_validity_needs_a_valid_impression(spark):
    clicks = to_silver(
        spark.createDataFrame(
            [
                click("ok", 2, imp="i1"),
                click("bot", 2, imp="i1", ivt="sivt"),
                click("ivt_imp", 2, imp="i2"),
                click("test_imp", 2, imp="i3"),
                click("orphan", 2, imp="i404"),
            ],
            BRONZE_CLICK,
        ),
        b"k",
        "v1",
    )
    got = {
        r["event_id"]: (
            r["campaign_id"],
            r["publisher_id"],
            r["channel"],
            r["impression_found"],
            r["is_valid"],
        )
        for r in attach_impressions(clicks, _impressions(spark)).collect()
    }
    assert got == {
        "ok": ("cmp1", "pub1", "video", True, True),
        "bot": ("cmp1", "pub1", "video", True, False),
        "ivt_imp": ("cmp2", "pub2", "native", True, False),
        "test_imp": ("cmp3", "pub3", "display", True, False),
        "orphan": (None, None, None, False, False),
    }


def test_merge_keeps_first_arrival_and_is_idempotent(spark, tmp_path):
    path = str(tmp_path / "silver_clicks")

    def merge(rows):
        counts = merge_first_arrival(
            spark, path, to_silver(spark.createDataFrame(rows, BRONZE_CLICK), b"k", "v1")
        )
        # The counts it returns are the ones the commit recorded in the Delta log.
        logged = spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").first()["operationMetrics"]
        assert counts == {
            "source": len(rows),
            "inserted": int(logged["numTargetRowsInserted"]),
            "updated": int(logged["numTargetRowsUpdated"]),
        }
        return sorted(
            (r["event_id"], r["arrival_date"].day) for r in spark.read.format("delta").load(path).collect()
        )

    assert merge([click("a", 3), click("b", 3)]) == [("a", 3), ("b", 3)]
    assert merge([click("a", 4), click("c", 4)]) == [("a", 3), ("b", 3), ("c", 4)]  # a resend changes nothing
    assert merge([click("b", 2)]) == [("a", 3), ("b", 2), ("c", 4)]  # an earlier arrival replaces
    version = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").agg(F.max("version")).first()[0]
    assert merge([click("b", 2)]) == [("a", 3), ("b", 2), ("c", 4)]
    rows_after = spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").first()["operationMetrics"]
    assert int(rows_after["numTargetRowsUpdated"]) == 0 and int(rows_after["numTargetRowsInserted"]) == 0
    assert spark.sql(f"DESCRIBE HISTORY delta.`{path}`").agg(F.max("version")).first()[0] == version + 1
