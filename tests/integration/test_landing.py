"""Logs shipped from outside: the raw asset takes stock of landed files, and the sensor
starts a run for an arrival date when its files change."""

import gzip
from pathlib import Path

import pytest
from dagster import DagsterInstance, SkipReason, build_sensor_context, materialize

from ad_assets.defs.partitions import daily_partitions
from ad_assets.defs.raw import raw_logs
from ad_assets.defs.schedules import build_landing_sensor
from ad_assets.resources import LakeResource, LogSourceResource


def _land(root: Path, day: str, name: str = "part-00000.jsonl.gz", lines: int = 3) -> None:
    folder = root / "raw" / "click" / f"dt={day}" / "hour=05"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(gzip.compress(b'{"event_id":"x"}\n' * lines))


def test_sensor_requests_a_run_when_files_land_or_change(tmp_path):
    sensor = build_landing_sensor(enabled=True)
    resources = {"lake": LakeResource(root=str(tmp_path))}
    recent = daily_partitions.get_partition_keys()[-2]

    def evaluate(cursor):
        ctx = build_sensor_context(cursor=cursor, resources=resources)
        return sensor(ctx), ctx.cursor

    result, cursor = evaluate(None)
    assert isinstance(result, SkipReason)
    _land(tmp_path, recent)
    result, cursor = evaluate(cursor)
    assert [r.partition_key for r in result] == [recent]
    result, cursor = evaluate(cursor)
    assert isinstance(result, SkipReason)  # nothing new
    _land(tmp_path, recent, name="part-00001.jsonl.gz")  # a late file for the same day
    result, cursor = evaluate(cursor)
    assert [r.partition_key for r in result] == [recent]


def test_raw_asset_in_landed_mode_counts_files_and_fails_clearly_without_any(tmp_path):
    resources = {"lake": LakeResource(root=str(tmp_path)), "log_source": LogSourceResource(mode="landed")}
    _land(tmp_path, "2026-11-02", lines=5)
    result = materialize(
        [raw_logs], resources=resources, partition_key="2026-11-02", instance=DagsterInstance.ephemeral()
    )
    (mat,) = result.asset_materializations_for_node("raw_logs")
    assert mat.metadata["files"].value == 1
    with pytest.raises(FileNotFoundError, match="no raw files for arrival dates 2026-11-03"):
        materialize(
            [raw_logs], resources=resources, partition_key="2026-11-03", instance=DagsterInstance.ephemeral()
        )
