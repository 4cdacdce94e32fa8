"""Searching tables for identifiers (spark_jobs/privacy_scan.py) on hand-built frames."""

from spark_jobs.privacy_scan import RAW_ID_TABLES, find, identifiers, string_values


def test_the_bronze_tables_with_raw_ids():
    assert set(RAW_ID_TABLES) == {"bid_requests", "impressions", "clicks", "conversions"}


def test_every_string_column_is_searched_and_nothing_else(spark):
    df = spark.createDataFrame(
        [("u-1", "x", 7, "u-1"), ("a", None, 8, "b")], "c1 string, c2 string, n int, c3 string"
    )
    values = {tuple(r) for r in string_values("t", df).collect()}
    assert values == {
        ("t", "c1", "u-1"),
        ("t", "c1", "a"),
        ("t", "c2", "x"),
        ("t", "c3", "u-1"),
        ("t", "c3", "b"),
    }
    first = spark.createDataFrame([("u-1",), ("u-2",)], "user_id string")
    ids = identifiers([first, spark.createDataFrame([("u-2",)], "user_id string")])
    assert sorted(r.value for r in ids.collect()) == ["u-1", "u-2"]
    clean = spark.createDataFrame([("9f2c",)], "user_pid string")
    found = find([string_values("t", df), string_values("clean", clean)], ids)
    assert found == {("t", "c1"): 1, ("t", "c3"): 1}
    assert find([string_values("clean", clean)], ids) == {}
