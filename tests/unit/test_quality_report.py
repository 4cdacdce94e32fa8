"""The check results table's rows and the `adlake quality` report, without Spark: the layer
of a result is the one its caller names (never guessed from the asset's name), and the
report lists layers in data-flow order."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pytest
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey
from deltalake import write_deltalake

from ad_assets.quality.report import render, status
from ad_assets.quality.results import COLUMNS, QUALITY_TABLE, latest_results, rows_for
from spark_jobs.lake import Lake
from spark_jobs.layers import GOLD, MARTS, ArrivalWindow

W = ArrivalWindow(date(2026, 11, 2), date(2026, 11, 2))


def _row(layer: str, asset: str, check: str, passed: bool = True, severity: str = "ERROR", minute: int = 0):
    return {
        "partition_start": W.start,
        "partition_end": W.end,
        "layer": layer,
        "asset": asset,
        "check_name": check,
        "passed": passed,
        "severity": severity,
        "detail": "{}",
        "run_id": "r",
        "checked_at": datetime(2026, 11, 3, 1, minute),
    }


def test_rows_carry_the_layer_their_caller_names():
    result = AssetCheckResult(
        asset_key=AssetKey("stg_gold__campaign_daily"),  # a staging view: its name says nothing
        check_name="not_null",
        passed=False,
        severity=AssetCheckSeverity.WARN,
        metadata={"n": 3},
    )
    (row,) = rows_for([result], MARTS, W, "run-1")
    values = dict(zip(COLUMNS, row, strict=True))
    assert (values["layer"], values["asset"], values["severity"], values["detail"]) == (
        MARTS,
        "stg_gold__campaign_daily",
        "WARN",
        '{"n": 3}',
    )
    with pytest.raises(ValueError, match="unknown layer 'stg'"):
        rows_for([result], "stg", W, "run-1")


def test_latest_results_keep_the_last_run_of_each_check_in_layer_order(tmp_path):
    rows = [
        _row(MARTS, "mart_campaign_daily", "chain_reconciles"),
        _row(GOLD, "gold_campaign_daily", "metric_bounds", passed=False, severity="WARN", minute=1),
        _row(GOLD, "gold_campaign_daily", "metric_bounds", minute=2),  # a later run passed
        _row("bronze", "bronze_clicks", "contract", passed=False),
    ]
    lake = Lake(str(tmp_path))
    write_deltalake(lake.delta_rs_uri(*QUALITY_TABLE), pa.Table.from_pylist(rows))
    latest = latest_results(lake)
    assert [(r["layer"], r["check_name"], r["passed"]) for r in latest] == [
        ("bronze", "contract", False),
        (GOLD, "metric_bounds", True),
        (MARTS, "chain_reconciles", True),
    ]
    assert [status(r) for r in latest] == ["FAIL", "pass", "pass"]
    report = render(latest).splitlines()
    assert report[0].startswith("quality of arrival dates 2026-11-02..2026-11-02: 3 checks, 2 passed")
    assert [line.split()[0] for line in report[1:]] == ["bronze", "FAIL", "gold", "marts"]


def test_nothing_recorded_yet(tmp_path):
    assert latest_results(Lake(str(tmp_path))) == []
    assert render([]).startswith("no check results yet")
