"""A table made before ids were kept out of Delta's statistics names users in its old
commits; after an erasure, compact_log (spark_jobs/erasure.py) leaves a log that names
no erased user, and a table both engines still read, whose next writes keep no
statistics on ids."""

from datetime import date

from deltalake import DeltaTable

from spark_jobs.erasure import _merge_delete, compact_log, log_mentions, purge_and_vacuum, values_frame

DAY = date(2026, 11, 1)
SCHEMA = "event_id string, user_id string, arrival_date date"


def test_an_old_tables_log_stops_naming_an_erased_user(spark, tmp_lake):
    path, table = tmp_lake.table("bronze", "clicks"), [("bronze", "clicks")]
    rows = [("e1", "u-aaaa", DAY), ("e2", "u-mmmm", DAY), ("e3", "u-zzzz", DAY)]
    # As AdLake wrote tables before: no table property, so min/max of user_id in the log.
    spark.createDataFrame(rows, SCHEMA).coalesce(1).write.format("delta").partitionBy("arrival_date").save(
        path
    )
    assert log_mentions(tmp_lake, table, ["u-aaaa"])

    _merge_delete(
        spark, path, values_frame(spark, ["u-aaaa"]).withColumnRenamed("value", "user_id"), ["user_id"]
    )
    purge_and_vacuum(spark, tmp_lake, "bronze", "clicks", log=lambda _: None)
    assert log_mentions(tmp_lake, table, ["u-aaaa"])  # VACUUM leaves the log as it is

    assert compact_log(spark, tmp_lake, "bronze", "clicks") >= 2
    assert not log_mentions(tmp_lake, table, ["u-aaaa"])  # the others' are the current file's
    assert sorted(r.event_id for r in spark.read.format("delta").load(path).collect()) == ["e2", "e3"]
    assert sorted(DeltaTable(path).to_pyarrow_table().column("event_id").to_pylist()) == ["e2", "e3"]
    spark.createDataFrame([("e4", "u-0000", DAY)], SCHEMA).write.format("delta").mode("append").save(path)
    assert not log_mentions(tmp_lake, table, ["u-0000"])
