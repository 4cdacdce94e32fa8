"""Reading the lake with delta-rs (spark_jobs/lake_read.py), without Spark."""

from __future__ import annotations

import pyarrow as pa
from deltalake import write_deltalake

from spark_jobs.gold_tables import GOLD_TABLES
from spark_jobs.lake import Lake
from spark_jobs.lake_read import LAKE_TABLES, delta_row_counts, open_table, table_exists
from spark_jobs.layers import QUARANTINE_TABLE
from spark_jobs.segment_rules import AUDIENCE_TABLES


def test_row_counts_per_partition_come_from_the_log(tmp_path):
    lake = Lake(str(tmp_path))
    assert not table_exists(lake, *QUARANTINE_TABLE)
    rows = pa.table(
        {
            "event_type": ["click", "click", "impression"],
            "arrival_date": ["2026-11-01", "2026-11-02", "2026-11-01"],
            "reason": ["a", "b", "c"],
        }
    )
    uri = lake.delta_rs_uri(*QUARANTINE_TABLE)
    write_deltalake(uri, rows, partition_by=["event_type", "arrival_date"])
    write_deltalake(uri, rows.slice(0, 1), mode="append", partition_by=["event_type", "arrival_date"])
    assert table_exists(lake, *QUARANTINE_TABLE)
    assert open_table(lake, *QUARANTINE_TABLE).version() == 1
    assert delta_row_counts(lake, *QUARANTINE_TABLE, ("event_type", "arrival_date")) == {
        ("click", "2026-11-01"): 2,
        ("click", "2026-11-02"): 1,
        ("impression", "2026-11-01"): 1,
    }


def test_the_lake_tables_are_every_layer_job_output():
    assert len(LAKE_TABLES) == 5 + 1 + 5 + len(GOLD_TABLES) + len(AUDIENCE_TABLES)
    assert LAKE_TABLES[5] == QUARANTINE_TABLE
    assert [name for layer, name in LAKE_TABLES if layer == "gold"] == [*GOLD_TABLES, *AUDIENCE_TABLES]
