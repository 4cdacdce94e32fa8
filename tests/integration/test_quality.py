"""A day with injected faults (a corrupt file, an empty file, a whole file resent, broken
lines, late events, an hour-long outage of one feed) ends with correct gold and mart
numbers and every bad line accounted for; a silver contract breach stops gold and marts
in the same run; check results land in the quality table, mart and command."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from dagster import AssetKey, DagsterInstance
from deltalake import DeltaTable, write_deltalake

from ad_assets.cli import main
from ad_assets.definitions import build_resources
from ad_assets.defs.gold import GOLD_KEYS
from ad_assets.defs.marts import mart_keys
from ad_assets.quality.results import QUALITY_MART, latest_results
from ad_assets.quarantine import quarantined
from ad_assets.settings import load_settings
from spark_jobs.metric_definitions import ADDITIVE_METRICS
from tests import reference
from tests.integration.helpers import (
    audience_tables,
    bronze_tables,
    chain_reconciles,
    gold_by_key,
    gold_tables,
    mart_rows,
    marts,
    raw_logs,
    run_assets,
    silver_tables,
)

START, END = date(2026, 11, 1), date(2026, 11, 2)
FAULTY = END
DOWNSTREAM = [bronze_tables, silver_tables, gold_tables, audience_tables, marts, chain_reconciles]


def _inject_faults(raw: Path) -> dict[str, int]:
    """Damage the landed raw files of FAULTY the way real deliveries go wrong."""
    day = f"dt={FAULTY}"
    impressions = sorted((raw / "impression" / day).glob("hour=*/*.jsonl.gz"))
    # A feed outage: the impression files of three hours never arrive.
    for path in impressions[13:16]:
        path.unlink()
    # A whole file delivered twice (every line a resend) and one from the day before again.
    resent = impressions[10]
    shutil.copy(resent, resent.with_name("part-resent.jsonl.gz"))
    late = sorted((raw / "impression" / f"dt={START}").glob("hour=23/*.jsonl.gz"))[0]
    (raw / "impression" / day / "hour=00").mkdir(exist_ok=True)
    shutil.copy(late, raw / "impression" / day / "hour=00" / "part-late.jsonl.gz")
    # Garbage bytes with a .gz name, an empty file, and broken lines in a good file.
    (raw / "impression" / day / "hour=23" / "part-corrupt.jsonl.gz").write_bytes(os.urandom(4096))
    (raw / "click" / day / "hour=23").mkdir(parents=True, exist_ok=True)
    (raw / "click" / day / "hour=23" / "part-empty.jsonl.gz").write_bytes(b"")
    good = json.loads(gzip.decompress(impressions[5].read_bytes()).splitlines()[0])
    broken = ["{truncated", json.dumps({**good, "event_id": "x-1", "cost_micros": "lots"})]
    (raw / "impression" / day / "hour=20" / "part-broken.jsonl.gz").write_bytes(
        gzip.compress(("\n".join(broken) + "\n").encode())
    )
    return {"unreadable": 1, "empty": 1, "broken": len(broken)}


@pytest.fixture(scope="module")
def faulty(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("faulty")
    settings = load_settings(
        {
            "ADLAKE_HOME": str(home),
            "ADLAKE_IMPRESSIONS_PER_DAY": "2500",
            "ADLAKE_START_DATE": START.isoformat(),
        }
    )
    resources = build_resources(settings)
    instance = DagsterInstance.ephemeral()
    run_assets(resources, START, END, instance, assets=[raw_logs])
    injected = _inject_faults(Path(settings.lake_root) / "raw")
    result = run_assets(resources, START, END, instance, assets=DOWNSTREAM)
    return {
        "settings": settings,
        "resources": resources,
        "instance": instance,
        "result": result,
        "injected": injected,
    }


def test_a_faulty_day_ends_with_correct_gold_and_marts(faulty):
    lake = faulty["settings"].lake()
    raw = reference.read_raw(Path(faulty["settings"].lake_root))
    expected = reference.campaign_daily(raw)
    gold = gold_by_key(lake)
    assert set(gold) == set(expected) and len(gold) > 100
    for key, exp in expected.items():
        assert {c: gold[key][c] for c in ADDITIVE_METRICS} == {c: exp.get(c, 0) for c in ADDITIVE_METRICS}, (
            key
        )
    marts_by_key = {
        (r["event_date"], r["campaign_id"]): r
        for r in mart_rows(faulty["resources"]["clickhouse"], "campaign_daily")
    }
    assert {k: {c: r[c] for c in ADDITIVE_METRICS} for k, r in marts_by_key.items()} == {
        k: {c: r[c] for c in ADDITIVE_METRICS} for k, r in gold.items()
    }


def test_every_bad_line_is_accounted_for(faulty):
    lake = faulty["settings"].lake()
    raw = reference.read_raw(Path(faulty["settings"].lake_root))
    rows = quarantined(lake)
    by_reason = {}
    for r in rows:
        if r["arrival_date"] == FAULTY:
            kind = r["reason"].split(" ")[0].split(":")[0]
            by_reason[kind] = by_reason.get(kind, 0) + r["count"]
    assert by_reason["unreadable_file"] == faulty["injected"]["unreadable"]
    assert by_reason["empty_file"] == faulty["injected"]["empty"]
    assert by_reason["malformed_json"] >= 1 and by_reason["bad_type"] >= 1
    # Raw lines (an unreadable file counting as its one row) = bronze rows + quarantine.
    assert sum(r["count"] for r in rows) == sum(raw.invalid.values())
    evaluations = {(e.asset_key, e.check_name): e for e in faulty["result"].get_asset_check_evaluations()}
    assert evaluations[(AssetKey("bronze_quarantine"), "raw_lines_reconcile")].passed
    chain = evaluations[(mart_keys()["campaign_daily"], "chain_reconciles")]
    assert chain.passed and chain.metadata["first_disagreement"].value == "none"
    failed = [k for k, e in evaluations.items() if not e.passed]
    assert failed == [], failed  # resends, late and broken lines are handled, not flagged


def test_check_results_reach_the_quality_table_mart_and_command(faulty, capsys, monkeypatch):
    settings = faulty["settings"]
    rows = latest_results(settings.lake(), FAULTY)
    layers = {r["layer"] for r in rows}
    assert layers == {"bronze", "silver", "gold", "marts"}
    evaluated = {
        (e.asset_key.to_user_string(), e.check_name) for e in faulty["result"].get_asset_check_evaluations()
    }
    assert {(r["asset"], r["check_name"]) for r in rows} == evaluated
    mart = {
        (r["arrival_date"], r["layer"]): r for r in mart_rows(faulty["resources"]["clickhouse"], QUALITY_MART)
    }
    # The mart was built before this run's dbt tests and chain check were recorded.
    bronze = mart[(FAULTY, "bronze")]
    assert bronze["checks"] == sum(r["layer"] == "bronze" for r in rows) and bronze["failures"] == 0
    monkeypatch.setenv("ADLAKE_HOME", str(settings.home))
    assert main(["quality", "--date", FAULTY.isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"{len(rows)} checks, {len(rows)} passed, 0 warnings, 0 failed" in out, out


def test_a_silver_contract_breach_stops_gold_and_marts_in_the_same_run(faulty, monkeypatch, capsys):
    settings, resources = faulty["settings"], faulty["resources"]
    lake = settings.lake()
    # Bid requests join nothing downstream, so the duplicate reaches the check unchanged.
    silver = DeltaTable(lake.delta_rs_uri("silver", "bid_requests"))
    clean_version = silver.version()
    gold_version = DeltaTable(lake.delta_rs_uri("gold", "campaign_daily")).version()
    one = silver.to_pyarrow_dataset().head(1, filter=pa.compute.field("event_date") == pa.scalar(FAULTY))
    write_deltalake(silver.table_uri, one, mode="append")  # a second copy of an event
    try:
        result = run_assets(
            resources,
            FAULTY,
            FAULTY,
            DagsterInstance.ephemeral(),
            assets=[silver_tables, gold_tables, marts],
            raise_on_error=False,
        )
        assert not result.success
        check = {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}
        contract = check[(AssetKey("silver_bid_requests"), "contract")]
        assert not contract.passed
        (failure,) = contract.metadata["failures"].value
        assert failure["expectation"] == "expect_column_values_to_be_unique"
        assert failure["sample"][0] == one["event_id"][0].as_py()
        materialized = {e.asset_key for e in result.get_asset_materialization_events()}
        assert not materialized & {*GOLD_KEYS.values(), *mart_keys().values()}
        assert DeltaTable(lake.delta_rs_uri("gold", "campaign_daily")).version() == gold_version
        monkeypatch.setenv("ADLAKE_HOME", str(settings.home))
        assert main(["quality", "--date", FAULTY.isoformat()]) == 1
        assert "FAIL silver_bid_requests.contract" in capsys.readouterr().out
    finally:
        DeltaTable(silver.table_uri).restore(clean_version)
    result = run_assets(
        resources, FAULTY, FAULTY, DagsterInstance.ephemeral(), assets=[silver_tables, gold_tables, marts]
    )
    assert all(e.passed for e in result.get_asset_check_evaluations())
    # The mart counts each check once per day, by its latest result: the failure is gone.
    silver_day = {
        (r["arrival_date"], r["layer"]): r for r in mart_rows(resources["clickhouse"], QUALITY_MART)
    }[(FAULTY, "silver")]
    assert (silver_day["checks"], silver_day["passed"], silver_day["failures"]) == (10, 10, 0)
