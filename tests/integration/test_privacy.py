"""The leak check on the shared end-to-end lake (conftest `lakehouse`): it searched real
tables and would have found a raw id."""

from pyspark.sql import functions as F

from ad_assets.defs.privacy import LEAK_CHECK, lake_values, mart_values
from spark_jobs.delta_io import read_rewritten
from spark_jobs.layers import ArrivalWindow
from spark_jobs.privacy_scan import RAW_ID_TABLES, find, identifiers, string_values
from tests.integration.helpers import END, START


def test_no_raw_id_past_bronze_and_a_planted_one_is_found(lakehouse, spark):
    lake, w = lakehouse["lake"], ArrivalWindow(START, END)
    passed = [e for e in lakehouse["result"].get_asset_check_evaluations() if e.check_name == LEAK_CHECK]
    assert passed and all(e.passed for e in passed)
    raw_ids = identifiers([read_rewritten(spark, lake, "bronze", t, w) for t in RAW_ID_TABLES])
    in_lake = lake_values(spark, lake, w)
    in_marts, mart_tables = mart_values(spark, lakehouse["resources"]["clickhouse"])
    assert len(in_lake) == 5 + 8 + 3 and mart_tables >= 10
    assert find([*in_lake, in_marts], raw_ids) == {}
    # A gold table that kept a raw id, as a bug in a transformation would.
    one_id = raw_ids.first()["value"]
    segments = read_rewritten(spark, lake, "gold", "user_segments", w)
    leaked = segments.limit(3).withColumn("user_pid", F.lit(one_id))
    assert find([*in_lake, string_values("gold.user_segments", leaked)], raw_ids) == {
        ("gold.user_segments", "user_pid"): 1
    }
