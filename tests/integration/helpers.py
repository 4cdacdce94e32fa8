"""Running the real Dagster assets in tests, and reading tables back with delta-rs."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pyarrow as pa
from dagster import DagsterInstance, materialize

from ad_assets.defs.audiences import build_audience_tables
from ad_assets.defs.bronze import build_bronze_tables
from ad_assets.defs.evaluation import build_attribution_accuracy
from ad_assets.defs.gold import build_gold_tables
from ad_assets.defs.marts import build_marts, mart_keys
from ad_assets.defs.privacy import build_leak_check
from ad_assets.defs.quality import build_chain_check
from ad_assets.defs.raw import build_raw_logs
from ad_assets.defs.silver import build_silver_tables
from ad_assets.lib.partitions import daily_partitions, partition_range_tags
from ad_assets.quality.results import QUALITY_MART
from ad_assets.resources import ClickHouseResource
from ad_assets.settings import Settings
from spark_jobs.lake import Lake
from spark_jobs.lake_read import LAKE_TABLES, open_table

# The shared end-to-end run (tests/conftest.py `lakehouse`): four arrival dates.
START, END = date(2026, 11, 1), date(2026, 11, 4)
# The assets as the definitions build them for a world starting on START (every test's).
PARTITIONS = daily_partitions(START.isoformat())
raw_logs = build_raw_logs(PARTITIONS)
bronze_tables = build_bronze_tables(PARTITIONS)
silver_tables = build_silver_tables(PARTITIONS)
gold_tables = build_gold_tables(PARTITIONS)
audience_tables = build_audience_tables(PARTITIONS)
marts = build_marts(PARTITIONS)
attribution_accuracy = build_attribution_accuracy(PARTITIONS)
chain_reconciles = build_chain_check(PARTITIONS)
pseudonyms_only = build_leak_check(PARTITIONS)
ASSETS = [
    raw_logs,
    bronze_tables,
    silver_tables,
    gold_tables,
    audience_tables,
    attribution_accuracy,
    marts,
    chain_reconciles,
    pseudonyms_only,
]
INGEST_METADATA = ("_ingest_ts", "_batch_id")


def run_assets(resources: dict, start: date, end: date, instance: DagsterInstance, assets=ASSETS, **kw):
    tags = partition_range_tags(start, end)
    result = materialize(assets, resources=resources, instance=instance, tags=tags, **kw)
    if kw.get("raise_on_error", True):
        assert result.success
    return result


def mart_rows(clickhouse: ClickHouseResource, name: str) -> list[dict]:
    """Every row of marts.<name>, as dicts (the client is closed again: chDB admits one process)."""
    with clickhouse.client() as client:
        result = client.query(f"SELECT * FROM marts.{name}")
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def all_marts(clickhouse: ClickHouseResource) -> dict[str, list[tuple]]:
    """Every data mart's rows (quality_daily records when checks ran, so it changes by design)."""
    return {
        name: sorted((tuple(r.values()) for r in mart_rows(clickhouse, name)), key=sortable)
        for name in mart_keys()
        if name != QUALITY_MART
    }


def table_content(lake: Lake, layer: str, name: str) -> list[tuple]:
    """Sorted rows of a table, without the per-load ingest metadata."""
    t: pa.Table = open_table(lake, layer, name).to_pyarrow_table()
    t = t.select([c for c in t.column_names if c not in INGEST_METADATA])
    return sorted((tuple(r.values()) for r in t.to_pylist()), key=sortable)


def sortable(row: tuple) -> tuple:
    """A sort key for rows with NULLs (None does not compare with values)."""
    return tuple((v is None, "" if v is None else v) for v in row)


def all_contents(lake: Lake) -> dict[str, list[tuple]]:
    return {f"{layer}_{name}": table_content(lake, layer, name) for layer, name in LAKE_TABLES}


def gold_by_key(lake: Lake) -> dict[tuple, dict]:
    rows = open_table(lake, "gold", "campaign_daily").to_pyarrow_table().to_pylist()
    return {(r["event_date"], r["campaign_id"]): r for r in rows}


def adlake_run(
    settings: Settings, day: date, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """`adlake run` of the home of `settings` for `day`, in its own process (its own Spark
    driver), as a user would. It reads the settings from its environment, as a user's shell
    gives them (`env` adds to it); the pseudonym key is the home's key file."""
    environ = {
        **os.environ,
        "ADLAKE_HOME": str(settings.home),
        "ADLAKE_START_DATE": settings.start_date,
        "ADLAKE_IMPRESSIONS_PER_DAY": str(settings.impressions_per_day),
        "ADLAKE_SEED": str(settings.seed),
        "DAGSTER_HOME": str(settings.dagster_home),
        **(env or {}),
    }
    cmd = [sys.executable, "-m", "ad_assets.cli", "run", "--start", day.isoformat(), "--days", "1", *args]
    # Its own process group: killing it takes the JVM child along.
    return subprocess.Popen(
        cmd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True
    )


def gold_and_counts(lake: Lake) -> dict:
    """What must equal between two lakes fed the same raw files: every gold row and the
    row count of every table (bronze and silver rows name their absolute source file)."""
    out: dict = {name: table_content(lake, "gold", name) for name in ("campaign_daily", "publisher_daily")}
    for layer, name in LAKE_TABLES:
        out[f"{layer}_{name}_rows"] = open_table(lake, layer, name).to_pyarrow_dataset().count_rows()
    return out


def table_versions(lake: Lake) -> dict[str, int]:
    """The Delta version of every lake table, by `<layer>_<name>`."""
    return {f"{layer}_{name}": open_table(lake, layer, name).version() for layer, name in LAKE_TABLES}
