"""Marts: the dbt project (dbt_project/) on ClickHouse, built from gold. One Dagster asset
per dbt model in the `marts` group, dbt tests as asset checks, dbt sources mapped to the
gold assets they read (`meta.dagster.asset_key` in the sources YAML), and the same daily
partitions as the lake: a partition run passes its event-date window to dbt as vars."""

import functools
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Backoff,
    Definitions,
    Failure,
    PartitionsDefinition,
    RetryPolicy,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from ad_assets import marts_snapshot
from ad_assets.defs.audiences import AUDIENCE_KEYS
from ad_assets.defs.evaluation import ensure_accuracy_table
from ad_assets.defs.gold import GOLD_KEYS
from ad_assets.lib.partitions import daily_partitions, single_run, window_of
from ad_assets.quality.results import ensure_table, record
from ad_assets.resources import ClickHouseResource, LakeResource, SparkResource
from ad_assets.settings import DEFAULT_PRIVACY_MIN_USERS, Settings
from spark_jobs.lake import Lake
from spark_jobs.lake_read import table_exists
from spark_jobs.layers import GOLD, MARTS, ArrivalWindow

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# The dbt of this interpreter's environment, whether or not the venv is on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
# chDB admits one process per data directory: marts steps run one at a time (pool "chdb",
# limit 1 in the instance), and a step that still finds the engine held retries.
ENGINE_BUSY_RETRY = RetryPolicy(max_retries=3, delay=5, backoff=Backoff.EXPONENTIAL)


def dbt_lake_root(lake: Lake) -> str:
    """The lake as the gold-sources macro wants it: an s3 URL or an absolute path."""
    return lake.root if lake.is_s3 else str(Path(lake.local_root).resolve())


def ensure_manifest(project: DbtProject) -> Path:
    """Parse the dbt project when its manifest is missing or older than any project file,
    so the definitions load without a manual `dbt parse`."""
    manifest = project.manifest_path
    root = project.project_dir
    # Only the project's own files: target/ gains a folder per dbt invocation.
    sources = [root / "dbt_project.yml", root / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        sources += [p for p in (root / folder).rglob("*") if p.suffix in (".sql", ".yml")]
    newest = max(p.stat().st_mtime for p in sources)
    if not manifest.exists() or manifest.stat().st_mtime < newest:
        cli = DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)
        cli.cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return manifest


class MartsTranslator(DagsterDbtTranslator):
    """Models become `mart_<name>` (marts) and `<name>` (staging) assets in group `marts`;
    sources keep the gold keys set in their YAML meta."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            name = dbt_resource_props["name"]
            return mart_key(name) if "marts" in dbt_resource_props["fqn"] else AssetKey(name)
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return MARTS if dbt_resource_props["resource_type"] == "model" else None


translator = MartsTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def mart_key(model: str) -> AssetKey:
    """The asset key of the mart built by dbt model `model` (what the translator names it)."""
    return AssetKey(f"mart_{model}")


@functools.cache
def mart_keys() -> dict[str, AssetKey]:
    """dbt model name -> asset key, for every mart model of the project (from its manifest,
    parsed first when missing or stale)."""
    manifest = json.loads(ensure_manifest(dbt_project).read_text())
    return {
        n["name"]: translator.get_asset_key(n)
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and "marts" in n["fqn"]
    }


def defs_for(s: Settings) -> Definitions:
    return Definitions(assets=[build_marts(daily_partitions(s.start_date), s.privacy_min_users)])


@functools.cache
def build_marts(
    partitions: PartitionsDefinition, privacy_min_users: int = DEFAULT_PRIVACY_MIN_USERS
) -> AssetsDefinition:
    """One asset per dbt model; the manifest is prepared here, when definitions are built,
    not when this module is imported."""
    ensure_manifest(dbt_project)

    def marts(
        context: AssetExecutionContext,
        dbt: DbtCliResource,
        lake: LakeResource,
        clickhouse: ClickHouseResource,
        spark: SparkResource,
    ) -> Iterator:
        yield from materialize_marts(context, dbt, lake, clickhouse, spark, privacy_min_users)

    return dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=translator,
        partitions_def=partitions,
        backfill_policy=single_run,
        pool="chdb",
        retry_policy=ENGINE_BUSY_RETRY,
        name="marts",
    )(marts)


def build_vars(lake: Lake, clickhouse: ClickHouseResource, w: ArrivalWindow, privacy_min_users: int) -> dict:
    """dbt's vars for building the marts of the window's event dates."""
    return {
        "min_date": w.event_start.isoformat(),
        "max_date": w.end.isoformat(),
        "lake_root": dbt_lake_root(lake),
        "s3_endpoint": (lake.s3.endpoint if lake.s3 else None) or "",
        "chdb_path": str(Path(clickhouse.chdb_path).resolve()),
        "privacy_min_users": privacy_min_users,
    }


def publish(clickhouse: ClickHouseResource, marts: Iterable[str], label: str) -> marts_snapshot.Snapshot:
    """The marts as Parquet for the readers that must not hold the embedded engine."""
    with clickhouse.client() as client:
        return marts_snapshot.publish(client, Path(clickhouse.snapshot_path), marts, label)


def materialize_marts(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    lake: LakeResource,
    clickhouse: ClickHouseResource,
    spark: SparkResource,
    privacy_min_users: int,
) -> Iterator:
    w = window_of(context)
    the_lake = lake.writable_lake("quality")
    missing = [n for n in (*GOLD_KEYS, *AUDIENCE_KEYS) if not table_exists(the_lake, GOLD, n)]
    if missing:
        raise Failure(
            description="gold tables not found, so the marts have nothing to read: "
            + ", ".join(f"gold_{n} ({the_lake.table('gold', n)})" for n in missing)
            + ". Materialize gold for this partition first.",
            allow_retries=False,  # waiting will not make them appear
        )
    busy = clickhouse.busy()
    if busy:  # the retry policy tries again after a pause
        raise Failure(description=busy, allow_retries=True)
    dbt_vars = build_vars(the_lake, clickhouse, w, privacy_min_users)
    context.log.info(f"dbt build for event dates {w.event_start}..{w.end} on {clickhouse.target}")
    session = spark.session(the_lake)
    ensure_table(session, the_lake)  # the quality_daily mart reads it
    ensure_accuracy_table(session, the_lake)  # and attribution_accuracy this one
    tests: list[AssetCheckResult] = []
    try:
        for event in dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream():
            if isinstance(event, AssetCheckResult):
                tests.append(event)
            yield event
        if clickhouse.embedded and clickhouse.snapshot_path:  # readers never open the engine itself
            snap = publish(clickhouse, mart_keys(), context.run_id)
            context.log.info(f"marts snapshot {snap.version} published at {snap.path}")
    finally:  # failed tests are the ones most worth keeping
        record(session, the_lake, tests, w, context.run_id, layer=MARTS)  # tests of models and views
