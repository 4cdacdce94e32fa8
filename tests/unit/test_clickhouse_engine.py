"""The embedded ClickHouse engine (chDB) as AdLake opens it: the lock, its message, the
working-directory rule for Delta sources, and `adlake sql`'s error handling."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest
from dbt.adapters.chdb.engine import EmbeddedClient, EngineBusyError, lock_holder
from deltalake import write_deltalake

from ad_assets.marts_sql import SqlError, first_line, run_sql
from ad_assets.settings import load_settings
from tests.helpers import hold_engine


def test_a_second_process_gets_a_clear_busy_error_naming_path_and_holder(tmp_path: Path):
    path = str(tmp_path / "ch")
    proc = hold_engine(path)
    try:
        assert f"PID: {proc.pid}" in (lock_holder(path) or "")
        with pytest.raises(EngineBusyError, match="in use by another process") as info:
            EmbeddedClient(path)
        assert path in str(info.value) and str(proc.pid) in str(info.value)
    finally:
        proc.kill()
        proc.wait()
    assert lock_holder(path) is None
    with EmbeddedClient(path) as client:  # free again
        assert client.command("SELECT 41 + 1") == 42


def test_delta_tables_are_readable_only_inside_the_files_root(tmp_path: Path):
    """chDB reads local files only under its working directory: EmbeddedClient runs each
    call in files_root (and restores the directory), so DeltaLakeLocal works there."""
    lake = tmp_path / "lake"
    write_deltalake(str(lake / "gold" / "t"), pa.table({"x": pa.array([1, 2, 39], pa.int64())}))
    cwd = os.getcwd()
    create = f"CREATE TABLE default.t ENGINE = DeltaLakeLocal('{lake}/gold/t')"
    with (
        EmbeddedClient(str(tmp_path / "outside")) as outside,
        pytest.raises(Exception, match=r"PATH_ACCESS_DENIED|is not inside"),
    ):
        outside.command(create)
    with EmbeddedClient(str(tmp_path / "ch"), files_root=str(lake)) as a:
        a.command(create)
        with EmbeddedClient(str(tmp_path / "ch"), files_root=str(lake)) as b:  # same process: shared
            assert b.command("SELECT sum(x) FROM default.t") == 42
        assert os.getcwd() == cwd
    with EmbeddedClient(str(tmp_path / "ch"), files_root=str(lake)) as again:  # persisted, reloaded
        assert again.command("SELECT count() FROM default.t") == 3


def test_adlake_sql_reports_bad_sql_in_one_line(tmp_path: Path):
    settings = load_settings({"ADLAKE_HOME": str(tmp_path)})
    assert "answer" in run_sql(settings, "SELECT 42 AS answer")
    with pytest.raises(SqlError) as info:
        run_sql(settings, "SELECT nope FROM marts.campaign_daily")
    message = str(info.value)
    assert "\n" not in message and "UNKNOWN" not in message.upper().split(".")[-1]
    assert message.startswith("Code: ")


def test_first_line_drops_the_stack_trace_and_version():
    raw = "Code: 60. DB::Exception: Unknown table marts.x. (UNKNOWN_TABLE) (version 26.9)\nStack trace:\n0."
    assert first_line(raw) == "Code: 60. DB::Exception: Unknown table marts.x."
