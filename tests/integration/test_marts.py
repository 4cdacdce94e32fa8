"""The ClickHouse marts, built by dbt on the embedded engine (chDB) through Dagster:
values against gold and an independent recomputation from gold, suppression, reruns,
late corrections, the engine held by another process, and one SQL for both targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance

from ad_assets.definitions import build_resources
from ad_assets.defs import marts as marts_module
from ad_assets.defs.marts import DBT_EXECUTABLE, DBT_PROJECT_DIR, ENGINE_BUSY_RETRY, mart_keys
from ad_assets.quality.results import QUALITY_TABLE
from ad_assets.settings import load_settings
from spark_jobs.contracts import CHANNELS
from spark_jobs.gold_tables import GOLD_TABLES
from spark_jobs.lake_read import open_table
from spark_jobs.metric_definitions import ADDITIVE_METRICS, MONEY_METRICS, RATIOS, money_and_ratios
from spark_jobs.segment_rules import USER_ACTIVITY, USER_SEGMENTS
from tests.helpers import hold_engine
from tests.integration.helpers import (
    END,
    PARTITIONS,
    START,
    all_marts,
    gold_tables,
    mart_rows,
    marts,
    run_assets,
)

DBT_VARS = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


@pytest.fixture(scope="module")
def built(lakehouse):
    return lakehouse


def _gold(built, name: str, keys: tuple[str, ...]) -> dict[tuple, dict]:
    rows = open_table(built["lake"], "gold", name).to_pyarrow_table().to_pylist()
    return {tuple(r[k] for k in keys): r for r in rows}


def _mart(built, name: str, keys: tuple[str, ...]) -> dict[tuple, dict]:
    return {tuple(r[k] for k in keys): r for r in mart_rows(built["resources"]["clickhouse"], name)}


def _same(a, b) -> bool:
    return a == b if a is None or b is None else a == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize(
    "name, keys",
    [
        ("campaign_daily", ("event_date", "campaign_id")),
        ("campaign_hourly", ("event_date", "event_hour", "campaign_id")),
    ],
)
def test_campaign_marts_equal_gold_for_every_metric_day_and_campaign(built, name, keys):
    gold, mart = _gold(built, name, keys), _mart(built, name, keys)
    assert mart.keys() == gold.keys() and len(gold) > 100
    for key, g in gold.items():
        m = mart[key]
        assert {c: m[c] for c in (*ADDITIVE_METRICS, "advertiser_id")} == {
            c: g[c] for c in (*ADDITIVE_METRICS, "advertiser_id")
        }
        for c in (*MONEY_METRICS, *RATIOS):
            assert _same(m[c], g[c]), (key, c, m[c], g[c])


def test_publisher_mart_suppresses_rows_about_few_users(built):
    keys = ("event_date", "publisher_id", "channel")
    gold, mart = _gold(built, "publisher_daily", keys), _mart(built, "publisher_daily", keys)
    minimum = DBT_VARS["privacy_min_users"]
    kept = {k for k, r in gold.items() if r["unique_users"] >= minimum}
    assert mart.keys() == kept
    assert 0 < len(kept) < len(gold), "the data should have both small and large publisher-days"
    assert min(r["unique_users"] for r in mart.values()) >= minimum
    for key in kept:
        assert {c: mart[key][c] for c in (*ADDITIVE_METRICS, "unique_users")} == {
            c: gold[key][c] for c in (*ADDITIVE_METRICS, "unique_users")
        }


def test_channel_mart_sums_every_publisher_including_suppressed(built):
    gold = _gold(built, "publisher_daily", ("event_date", "publisher_id", "channel"))
    sums: dict = defaultdict(lambda: dict.fromkeys(ADDITIVE_METRICS, 0))
    for (day, _, channel), r in gold.items():
        for c in ADDITIVE_METRICS:
            sums[(day, channel)][c] += r[c]
    mart = _mart(built, "channel_daily", ("event_date", "channel"))
    assert mart.keys() == sums.keys()
    assert {ch for _, ch in mart} <= set(CHANNELS) | {"unknown"}
    for key, s in sums.items():
        want = money_and_ratios(s)
        for c in (*ADDITIVE_METRICS, *MONEY_METRICS, *RATIOS):
            assert _same(mart[key][c], want[c]), (key, c)


def test_kpi_overview_has_day_over_day_changes(built):
    daily: dict = defaultdict(lambda: dict.fromkeys(ADDITIVE_METRICS, 0))
    for (day, _), r in _gold(built, "campaign_daily", ("event_date", "campaign_id")).items():
        for c in ADDITIVE_METRICS:
            daily[day][c] += r[c]
    days = sorted(daily)[-DBT_VARS["kpi_days"] :]
    kpi = _mart(built, "kpi_overview", ("event_date",))
    assert sorted(k[0] for k in kpi) == days
    for day in days:
        today, row = money_and_ratios(daily[day]), kpi[(day,)]
        before = daily.get(day - timedelta(days=1))
        prev = money_and_ratios(before) if before else None
        for c in ("impressions", "clicks", "spend", "ctr", "roas"):
            assert _same(row[c], today[c]), (day, c)
            change = None if not prev or not prev[c] else today[c] / prev[c] - 1
            assert _same(row[f"{c}_change"], change), (day, c)


def test_dbt_tests_ran_as_asset_checks(built):
    # The shared run (conftest `lakehouse`) built the marts with `dbt build`, so its result
    # already holds every dbt test as an asset check of the marts step: the same proof as a
    # marts-only rerun of END, without the extra dbt run (~20 s).
    evaluations = [
        e for e in built["result"].get_asset_check_evaluations() if e.asset_check_key in marts.check_keys
    ]
    checked = {e.asset_key.to_user_string() for e in evaluations}
    assert {k.to_user_string() for k in mart_keys().values()} <= checked
    assert all(e.passed for e in evaluations), [e.asset_check_key for e in evaluations if not e.passed]


def test_late_correction_in_gold_reaches_the_mart_after_a_rerun(built, spark):
    """Change one gold day behind the marts' back (what a late-event rerun of gold does),
    rerun that day's marts partition, and the mart shows the new value; rerunning gold and
    marts restores both."""
    lake, day = built["lake"], START + timedelta(days=1)
    path = lake.table("gold", "campaign_daily")
    gold_day = spark.read.format("delta").load(path).where(f"event_date = '{day}'")
    target = gold_day.orderBy("campaign_id").first()["campaign_id"]
    corrected = gold_day.selectExpr(
        *[
            f"impressions + IF(campaign_id = '{target}', 1000, 0) AS impressions" if c == "impressions" else c
            for c in gold_day.columns
        ]
    )
    corrected.write.format("delta").mode("overwrite").option("replaceWhere", f"event_date = '{day}'").save(
        path
    )
    before = _mart(built, "campaign_daily", ("event_date", "campaign_id"))[(day, target)]["impressions"]
    run_assets(built["resources"], day, day, built["instance"], assets=[marts])
    after = _mart(built, "campaign_daily", ("event_date", "campaign_id"))[(day, target)]["impressions"]
    assert after == before + 1000

    run_assets(built["resources"], day, day, built["instance"], assets=[gold_tables, marts])
    assert (
        _mart(built, "campaign_daily", ("event_date", "campaign_id"))[(day, target)]["impressions"] == before
    )


def _mart_tables(built) -> set[str]:
    with built["resources"]["clickhouse"].client() as client:
        return {
            r[0] for r in client.query("SELECT name FROM system.tables WHERE database = 'marts'").result_rows
        }


def _failure_messages(result) -> list[str]:
    """The error text (with its causes) of each failed try of a step."""
    return [
        e.event_specific_data.error.to_string()
        for e in result.all_events
        if e.event_type in (DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_UP_FOR_RETRY)
        and e.event_specific_data.error
    ]


def _run_marts_while_held(built, seconds: float, assets=(marts,)):
    """Run the marts of the last day while another process holds the engine for `seconds`."""
    holder = hold_engine(built["resources"]["clickhouse"].chdb_path, seconds)
    try:
        return run_assets(
            built["resources"], END, END, built["instance"], assets=list(assets), raise_on_error=False
        )
    finally:
        holder.kill()
        holder.wait()


def test_engine_held_by_another_process_fails_clearly_and_leaves_marts_unchanged(built, monkeypatch):
    clickhouse = built["resources"]["clickhouse"]
    before, tables = all_marts(clickhouse), _mart_tables(built)
    # The marts asset built as the definitions build it, with the same number of tries and
    # backoff, but pauses of 1, 3 and 7 s instead of 5, 15 and 35 s: what this test proves
    # (every try fails naming the held engine, the last one fails the run, the marts are
    # untouched) does not depend on the pauses' length, and the run never outlasts the
    # holder (120 s). The real pause is the next test's (released within its first 5 s).
    # Saves ~44 s of sleeping.
    monkeypatch.setattr(marts_module, "ENGINE_BUSY_RETRY", ENGINE_BUSY_RETRY._replace(delay=1))
    quick_retries = marts_module.build_marts.__wrapped__(PARTITIONS)  # not the cached one
    assert quick_retries.op.retry_policy.max_retries == ENGINE_BUSY_RETRY.max_retries
    result = _run_marts_while_held(built, 120, assets=[quick_retries])
    assert not result.success
    messages = _failure_messages(result)
    assert len(messages) == 4  # the first try and three retries
    assert all("is in use by another process" in m and clickhouse.chdb_path in m for m in messages), messages
    assert all_marts(clickhouse) == before and _mart_tables(built) == tables


def test_engine_released_during_the_retry_pause_lets_the_run_finish(built):
    before = all_marts(built["resources"]["clickhouse"])
    result = _run_marts_while_held(built, 3)  # released before the first retry (5 s)
    assert result.success
    assert len(_failure_messages(result)) == 1
    assert all_marts(built["resources"]["clickhouse"]) == before


SERVER_COMPILE = """
import sys
import dbt.adapters.clickhouse.connections as connections
from dbt.adapters.chdb.client import ChdbClient
from dbt.cli.main import dbtRunner

path, files_root = sys.argv[1], sys.argv[2]


def get_db_client(credentials):
    # The server target's adapter (type clickhouse: its own dispatch, macros and
    # materializations), with the HTTP transport swapped for the same ClickHouse engine
    # in-process: no ClickHouse server runs on this machine.
    credentials.path, credentials.files_root = path, files_root
    return ChdbClient(credentials)


connections.get_db_client = get_db_client
result = dbtRunner().invoke(sys.argv[3:])
sys.exit(0 if result.success else 1)
"""


def _compiled(target_path: Path) -> dict[str, str]:
    root = target_path / "compiled" / "adlake"
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.sql"))}


def _dbt_env(built) -> dict[str, str]:
    s = built["settings"]
    return {
        **os.environ,
        "ADLAKE_CHDB_PATH": s.chdb_path,
        "ADLAKE_LAKE_ROOT": s.lake_root,
        "DO_NOT_TRACK": "1",
    }


DIRS = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]


def test_embedded_and_server_targets_compile_the_same_sql(built, tmp_path):
    s = built["settings"]
    dbt_vars = f'{{"min_date": "{START}", "max_date": "{END}", "lake_root": "{s.lake_root}"}}'
    common = ["compile", *DIRS]
    env = _dbt_env(built)
    embedded, server = tmp_path / "embedded", tmp_path / "server"
    subprocess.run(
        [DBT_EXECUTABLE, *common, "--target", "embedded", "--target-path", str(embedded), "--vars", dbt_vars],
        env=env,
        check=True,
        capture_output=True,
    )
    server_args = [*common, "--target", "server", "--target-path", str(server), "--vars", dbt_vars]
    subprocess.run(
        [sys.executable, "-c", SERVER_COMPILE, s.chdb_path, s.lake_root, *server_args],
        env=env,
        check=True,
        capture_output=True,
    )
    a, b = _compiled(embedded), _compiled(server)
    assert a.keys() == b.keys() and len(a) > 30
    assert a == b
    # On a partition run the incremental marts select exactly their window.
    assert f"BETWEEN toDate('{START}') AND toDate('{END}')" in a["models/marts/campaign_daily.sql"]


def test_dbt_docs_generate_catalogs_every_model_and_source(built, tmp_path):
    subprocess.run(
        [DBT_EXECUTABLE, "docs", "generate", *DIRS, "--target-path", str(tmp_path)],
        env=_dbt_env(built),
        check=True,
        capture_output=True,
    )
    catalog = json.loads((tmp_path / "catalog.json").read_text())
    models = {n.split(".")[-1] for n in catalog["nodes"]}
    staging = {p.stem for p in (Path(DBT_PROJECT_DIR) / "models" / "staging").glob("stg_*.sql")}
    assert models == set(mart_keys()) | staging
    sources = {n.split(".")[-1] for n in catalog["sources"]}
    assert sources == {*GOLD_TABLES, USER_ACTIVITY, USER_SEGMENTS, QUALITY_TABLE[1], "attribution_accuracy"}
    assert (tmp_path / "index.html").exists()


def test_marts_without_gold_fail_naming_the_missing_tables(tmp_path):
    settings = load_settings({"ADLAKE_HOME": str(tmp_path), "ADLAKE_START_DATE": START.isoformat()})
    result = run_assets(
        build_resources(settings), END, END, DagsterInstance.ephemeral(), assets=[marts], raise_on_error=False
    )
    assert not result.success
    (message,) = {m for m in _failure_messages(result)}
    for name in GOLD_TABLES:
        assert f"gold_{name} ({tmp_path}/lake/gold/{name})" in message
    assert not (tmp_path / "clickhouse").exists()  # dbt never started
