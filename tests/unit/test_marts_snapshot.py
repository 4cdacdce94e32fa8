"""The marts snapshot's file handling: versions, the atomic pointer, pruning. The export
itself (ClickHouse writing Parquet) runs for real in the shared lakehouse run, and the
dashboard's browser test reads it back with chDB; here a client that answers with Parquet
bytes written by pyarrow stands in for the engine, since only the files are under test."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ad_assets import marts_snapshot


class ParquetAnswers:
    """Answers `SELECT * FROM marts.<name> FORMAT Parquet` from in-memory tables."""

    def __init__(self, tables: dict[str, pa.Table]) -> None:
        self.tables = tables
        self.sql: list[str] = []

    def raw_query(self, sql: str) -> bytes:
        self.sql.append(sql)
        name = sql.split("marts.`")[1].split("`")[0]
        buf = io.BytesIO()
        pq.write_table(self.tables[name], buf)
        return buf.getvalue()


def test_publish_writes_every_mart_and_moves_the_pointer(tmp_path: Path) -> None:
    root = tmp_path / "snap"
    assert marts_snapshot.current(root) is None
    client = ParquetAnswers(
        {"campaign_daily": pa.table({"x": [1, 2, 3]}), "kpi_overview": pa.table({"y": [1]})}
    )
    first = marts_snapshot.publish(client, root, ["kpi_overview", "campaign_daily"], label="run-0001-abc")
    assert first.rows == {"campaign_daily": 3, "kpi_overview": 1}
    assert (
        first.version.endswith("-run-0001") and (root / marts_snapshot.POINTER).read_text() == first.version
    )
    assert first.table("campaign_daily")["x"].to_pylist() == [1, 2, 3]
    client.tables["campaign_daily"] = pa.table({"x": [4]})
    second = marts_snapshot.publish(client, root, ["campaign_daily", "kpi_overview"])
    assert marts_snapshot.current(root) == second != first
    assert second.table("campaign_daily")["x"].to_pylist() == [4]
    assert first.table("campaign_daily")["x"].to_pylist() == [1, 2, 3]  # still readable
    with pytest.raises(KeyError, match="not in snapshot"):
        second.file("no_such_mart")


def test_old_versions_and_dead_staging_folders_are_pruned(tmp_path: Path) -> None:
    root = tmp_path / "snap"
    client = ParquetAnswers({"m": pa.table({"x": [1]})})
    root.mkdir()
    (root / ".v0-dead.tmp").mkdir()  # a publish killed half-way
    versions = [marts_snapshot.publish(client, root, ["m"]).version for _ in range(5)]
    kept = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert kept == versions[-marts_snapshot.KEEP_VERSIONS :]
