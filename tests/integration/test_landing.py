"""Logs shipped from outside: the raw asset takes stock of landed files, and the sensor
starts a run for an arrival date when its files change."""

import pytest
from dagster import DagsterInstance, SkipReason, build_sensor_context, materialize

from ad_assets.defs.quality import build_freshness_checks
from ad_assets.defs.schedules import build_jobs, build_landing_sensor
from ad_assets.resources import LakeResource, LogSourceResource
from ad_assets.settings import load_settings
from tests.helpers import jsonl_gz, land
from tests.integration.helpers import PARTITIONS, raw_logs


def _click_file(lines: int = 3) -> bytes:
    return jsonl_gz(['{"event_id":"x"}'] * lines)


def test_sensor_requests_a_run_when_files_land_or_change(tmp_path):
    lakehouse_job, *_ = build_jobs(PARTITIONS, build_freshness_checks(load_settings().freshness_deadline))
    sensor = build_landing_sensor(lakehouse_job, PARTITIONS, enabled=True)
    resources = {"lake": LakeResource(root=str(tmp_path))}
    recent = PARTITIONS.get_partition_keys()[-2]

    def evaluate(cursor):
        ctx = build_sensor_context(cursor=cursor, resources=resources)
        return sensor(ctx), ctx.cursor

    result, cursor = evaluate(None)
    assert isinstance(result, SkipReason)
    land(tmp_path, "click", recent, 5, _click_file())
    result, cursor = evaluate(cursor)
    assert [r.partition_key for r in result] == [recent]
    result, cursor = evaluate(cursor)
    assert isinstance(result, SkipReason)  # nothing new
    land(tmp_path, "click", recent, 5, _click_file(), name="part-00001.jsonl.gz")  # a late file, same day
    result, cursor = evaluate(cursor)
    assert [r.partition_key for r in result] == [recent]


def test_raw_asset_in_landed_mode_counts_files_and_fails_clearly_without_any(tmp_path):
    resources = {"lake": LakeResource(root=str(tmp_path)), "log_source": LogSourceResource(mode="landed")}
    land(tmp_path, "click", "2026-11-02", 5, _click_file(lines=5))
    result = materialize(
        [raw_logs], resources=resources, partition_key="2026-11-02", instance=DagsterInstance.ephemeral()
    )
    (mat,) = result.asset_materializations_for_node("raw_logs")
    assert mat.metadata["files"].value == 1
    with pytest.raises(FileNotFoundError, match="no raw files for arrival dates 2026-11-03"):
        materialize(
            [raw_logs], resources=resources, partition_key="2026-11-03", instance=DagsterInstance.ephemeral()
        )
