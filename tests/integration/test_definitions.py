import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    materialize,
)

from ad_assets.cli import DAGSTER_YAML
from ad_assets.definitions import build_definitions, build_resources, defs_modules
from ad_assets.defs.audiences import AUDIENCE_KEYS
from ad_assets.defs.erasure import ERASURE_LOG_KEY
from ad_assets.defs.gold import GOLD_KEYS
from ad_assets.defs.marts import mart_keys
from ad_assets.defs.prediction import PREDICTION, PUBLISH_JOB, TRAIN_JOB
from ad_assets.defs.quality import build_freshness_checks
from ad_assets.settings import load_settings
from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.gold_tables import DAILY, GOLD_TABLES, ROLLUPS
from spark_jobs.stream_layout import REALTIME
from tests.integration.helpers import audience_tables, gold_tables, marts

SETTINGS = load_settings()
defs = build_definitions(SETTINGS)
MART_KEYS = mart_keys()


def test_importing_the_definitions_reads_no_setting_and_builds_nothing():
    """Settings are read at the edge: an invalid environment fails when definitions are
    built, not when a service imports the module."""
    code = (
        "import ad_assets.definitions as d\n"
        "try:\n    d.defs()\nexcept ValueError as e:\n    print('built:', e)\n"
    )
    env = {"ADLAKE_ENV": "nowhere", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "built: ADLAKE_ENV must be one of" in out.stdout


def test_definitions_follow_the_settings_passed_in():
    later = replace(SETTINGS, start_date="2026-11-20", freshness_deadline="0 9 * * *")
    other = build_definitions(later)
    graph = other.resolve_asset_graph()
    for key in (AssetKey("raw_logs"), GOLD_KEYS[DAILY], MART_KEYS["campaign_daily"]):
        assert graph.get(key).partitions_def.start.date().isoformat() == "2026-11-20"
    assert defs.resolve_asset_graph().get(GOLD_KEYS[DAILY]).partitions_def.start.date().isoformat() == (
        SETTINGS.start_date
    )
    assert other.resolve_job_def("lakehouse_daily").partitions_def.get_first_partition_key() == "2026-11-20"


def test_each_domain_module_contributes_its_own_definitions():
    names = {m.__name__.rsplit(".", 1)[1] for m in defs_modules()}
    assert names == {
        "raw",
        "bronze",
        "silver",
        "gold",
        "audiences",
        "evaluation",
        "marts",
        "quality",
        "privacy",
        "erasure",
        "realtime",
        "prediction",
        "schedules",
        "alerts",
    }


def test_definitions_load_with_expected_lineage():
    graph = defs.resolve_asset_graph()
    parents = {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
        for k in graph.get_all_asset_keys()
    }
    assert parents["raw_logs"] == set()
    for t in EVENT_TYPES:
        name = TABLE_NAMES[t]
        assert parents[f"bronze_{name}"] == {"raw_logs"}
        assert f"bronze_{name}" in parents[f"silver_{name}"]
    assert parents["silver_clicks"] == {"bronze_clicks", "silver_impressions"}
    for g in GOLD_KEYS.values():
        assert parents[g.to_user_string()] == {f"silver_{TABLE_NAMES[t]}" for t in EVENT_TYPES}
    assert parents["attribution_accuracy"] == {"gold_attribution"}
    # gold -> staging view -> mart, in one graph
    for name in GOLD_TABLES:
        assert parents[f"stg_gold__{name}"] == {f"gold_{name}"}
    assert parents["mart_campaign_daily"] == {"stg_gold__campaign_daily"}
    assert parents["mart_channel_daily"] == {"stg_gold__publisher_daily"}
    assert parents["mart_kpi_overview"] == {"mart_campaign_daily"}
    # silver -> user activity -> segments -> history; the segment mart reads both
    read = {f"silver_{t}" for t in ("impressions", "clicks", "conversions")}
    assert parents["gold_user_activity_daily"] == read
    assert parents["gold_user_segments"] == {"gold_user_activity_daily"}
    assert parents["gold_segment_history"] == {"gold_user_segments"}
    assert parents["mart_segment_daily"] == {"stg_gold__user_segments", "stg_gold__user_activity_daily"}
    assert {groups_of(graph)[k] for k in MART_KEYS.values()} == {"marts"}
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {groups[k] for k in groups if k.startswith("gold_")} == {"gold"}
    assert groups["raw_logs"] == "raw" and groups["bronze_quarantine"] == "bronze"
    # The real-time path: the landing stands alone (Kafka is its source), the
    # reconciliation reads gold.
    assert parents["raw_stream_landing"] == set() and parents["stream_counters"] == set()
    assert parents["stream_reconciliation"] == {"gold_campaign_daily"}
    assert {groups[k] for k in ("raw_stream_landing", "stream_counters", "stream_reconciliation")} == {
        REALTIME
    }


def groups_of(graph) -> dict[AssetKey, str | None]:
    return {k: graph.get(k).group_name for k in graph.get_all_asset_keys()}


def test_marts_share_the_daily_partitions_and_carry_dbt_tests_as_checks():
    graph = defs.resolve_asset_graph()
    partitions = graph.get(AssetKey("gold_campaign_daily")).partitions_def
    checks = {(c.asset_key, c.name) for c in graph.asset_check_keys}
    for key in MART_KEYS.values():
        assert graph.get(key).partitions_def == partitions
        assert any(asset == key for asset, _ in checks), key
    assert (
        MART_KEYS["campaign_daily"],
        "unique_combination_campaign_daily_event_date__campaign_id",
    ) in checks


def test_checks_schedule_and_sensor_are_defined():
    graph = defs.resolve_asset_graph()
    checks = {(c.asset_key, c.name) for c in graph.asset_check_keys}
    assert (AssetKey("bronze_quarantine"), "raw_lines_reconcile") in checks
    for t in EVENT_TYPES:
        assert (AssetKey(f"bronze_{TABLE_NAMES[t]}"), "contract") in checks
        assert (AssetKey(f"silver_{TABLE_NAMES[t]}"), "contract") in checks
        assert (AssetKey(f"silver_{TABLE_NAMES[t]}"), "reconciles_with_bronze") in checks
    for name in ("metric_bounds", "reconciles_with_silver", "volume_anomaly", "freshness_check"):
        assert (AssetKey("gold_campaign_daily"), name) in checks
    # adds_up_to_daily exactly on the gold tables that declare they roll up to the daily one.
    adds_up = {asset for asset, name in checks if name == "adds_up_to_daily"}
    assert adds_up == {GOLD_KEYS[t.name] for t in ROLLUPS} and GOLD_KEYS[DAILY] not in adds_up
    assert (MART_KEYS["campaign_daily"], "chain_reconciles") in checks
    assert (MART_KEYS["segment_daily"], "pseudonyms_only") in checks
    assert (AUDIENCE_KEYS["user_activity_daily"], "activity_reconciles_with_silver") in checks
    assert (AUDIENCE_KEYS["segment_history"], "history_matches_membership") in checks
    assert (AssetKey("raw_logs"), "files_readable") in checks
    # Every asset of every layer has checks; the check results table is written by them.
    unchecked = set(graph.get_all_asset_keys()) - {asset for asset, _ in checks}
    assert unchecked == {AssetKey("quality_check_results")}
    assert defs.resolve_schedule_def("lakehouse_daily_schedule").cron_schedule == "30 1 * * *"
    assert defs.resolve_sensor_def("raw_landing_sensor") is not None
    job = defs.resolve_job_def("lakehouse_daily")
    assert job.partitions_def is not None


def test_the_gold_onwards_job_rebuilds_gold_and_what_reads_it_only():
    """`adlake run --from gold` (after a change of attribution windows): silver is read as it is."""
    selected = defs.resolve_job_def("gold_onwards").asset_layer.selected_asset_keys
    graph = defs.resolve_asset_graph()
    assert set(GOLD_KEYS.values()) <= selected
    assert {
        MART_KEYS["campaign_daily"],
        MART_KEYS["quality_daily"],
        AssetKey("attribution_accuracy"),
    } <= selected
    groups = {graph.get(k).group_name for k in selected}
    assert not groups & {"raw", "bronze", "silver"}, groups


def test_the_erasure_job_is_apart_from_the_partitioned_jobs():
    """`erase_users` writes the erasure log for one request; no daily run touches it."""
    erase = defs.resolve_job_def("erase_users").asset_layer
    assert erase.selected_asset_keys == {ERASURE_LOG_KEY}
    assert {c.name for c in erase.asset_graph.asset_check_keys if c.asset_key == ERASURE_LOG_KEY} == {
        "erasure_complete"
    }
    assert defs.resolve_asset_graph().get(ERASURE_LOG_KEY).group_name == "privacy"
    for job in ("lakehouse_daily", "reprocess_landed", "gold_onwards"):
        assert ERASURE_LOG_KEY not in defs.resolve_job_def(job).asset_layer.selected_asset_keys, job


def test_the_realtime_jobs_are_apart_from_the_daily_ones():
    """The real-time assets need Kafka and Redis: no daily run selects them."""
    realtime = {k for k, g in groups_of(defs.resolve_asset_graph()).items() if g == REALTIME}
    assert defs.resolve_job_def("land_stream").asset_layer.selected_asset_keys == {
        AssetKey("raw_stream_landing")
    }
    reconcile = defs.resolve_job_def("reconcile_stream").asset_layer
    assert reconcile.selected_asset_keys == {AssetKey("stream_reconciliation")}
    for job in ("lakehouse_daily", "reprocess_landed", "gold_onwards"):
        assert not realtime & defs.resolve_job_def(job).asset_layer.selected_asset_keys, job


def test_the_instance_admits_one_step_at_a_time_per_pool(tmp_path):
    """Pools `spark` and `chdb` (one process per chDB directory) are limited to 1."""
    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    graph = defs.resolve_asset_graph()
    assert all(graph.get(k).pools == {"chdb"} for k in MART_KEYS.values())


def _freshness(instance: DagsterInstance) -> dict:
    freshness_checks = build_freshness_checks(SETTINGS.freshness_deadline)
    result = materialize(
        [gold_tables, audience_tables, marts, *freshness_checks],
        selection=AssetSelection.checks(*freshness_checks),
        instance=instance,
        resources=build_resources(SETTINGS),
    )
    return {e.asset_key: e for e in result.get_asset_check_evaluations()}


def test_freshness_wants_yesterdays_gold_and_marts_by_the_deadline():
    """Gold and marts are fresh when the arrival date before the latest deadline tick
    (ADLAKE_FRESHNESS_DEADLINE, UTC) is materialized; older data warns."""
    instance = DagsterInstance.ephemeral()
    watched = [*GOLD_KEYS.values(), *AUDIENCE_KEYS.values(), *MART_KEYS.values()]
    for key in watched:
        instance.report_runless_asset_event(AssetMaterialization(asset_key=key, partition="2026-11-02"))
    stale = _freshness(instance)
    assert set(stale) == set(watched)
    assert not any(e.passed for e in stale.values())
    assert all(e.severity == AssetCheckSeverity.WARN for e in stale.values())
    tick = stale[GOLD_KEYS["campaign_daily"]].metadata["dagster/latest_cron_tick_timestamp"].value
    due = (datetime.fromtimestamp(tick, UTC).date() - timedelta(days=1)).isoformat()
    for key in watched:
        instance.report_runless_asset_event(AssetMaterialization(asset_key=key, partition=due))
    assert all(e.passed for e in _freshness(instance).values())


def test_the_model_trains_in_its_own_job_after_the_daily_one():
    """A model that fails its promotion check must not fail the lake's run; publishing needs
    Redis. Lineage: silver -> counts -> training set -> model -> current; counts -> Redis."""
    graph = defs.resolve_asset_graph()
    parents = {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
        for k in graph.get_all_asset_keys()
    }
    assert parents["ctr_entity_stats"] == {"silver_impressions", "silver_clicks"}
    assert parents["ctr_training_set"] == {"ctr_entity_stats", "silver_impressions", "silver_clicks"}
    assert parents["ctr_model"] == {"ctr_training_set"}
    assert parents["ctr_model_current"] == {"ctr_model"}
    assert parents["cvr_model"] == {"ctr_training_set", "silver_clicks", "gold_attribution"}
    assert parents["cvr_model_current"] == {"cvr_model"}
    assert parents["ctr_online_features"] == {"ctr_entity_stats"}
    prediction = {k for k, g in groups_of(graph).items() if g == PREDICTION}
    train = defs.resolve_job_def(TRAIN_JOB)
    assert {k.to_user_string() for k in train.asset_layer.selected_asset_keys} == {
        "ctr_entity_stats",
        "ctr_training_set",
        "ctr_model",
        "ctr_model_current",
        "cvr_model",
        "cvr_model_current",
    }
    assert train.partitions_def is not None
    assert defs.resolve_job_def(PUBLISH_JOB).asset_layer.selected_asset_keys == {
        AssetKey("ctr_online_features")
    }
    for job in ("lakehouse_daily", "reprocess_landed", "gold_onwards"):
        assert not prediction & defs.resolve_job_def(job).asset_layer.selected_asset_keys, job
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("ctr_model", "beats_baseline_and_current") in checks
    assert ("cvr_model", "beats_baseline_and_current") in checks
    assert ("ctr_entity_stats", "global_counts_point_in_time") in checks
    sensor = defs.resolve_sensor_def("train_after_daily_run")
    assert sensor.job_name == TRAIN_JOB


def test_kpi_alerts_run_in_their_own_job_after_the_marts():
    """The alert history reads the marts (their snapshot), apart from the partitioned jobs;
    a sensor starts it after runs that built marts, another on a clock for staleness."""
    from ad_assets.defs.alerts import ALERTS_JOB, DELIVERED_CHECK, HISTORY_KEY

    graph = defs.resolve_asset_graph()
    assert {p.to_user_string() for p in graph.get(HISTORY_KEY).parent_keys} == {
        "mart_campaign_daily",
        "mart_channel_daily",
    }
    assert graph.get(HISTORY_KEY).group_name == "alerts"
    assert defs.resolve_job_def(ALERTS_JOB).asset_layer.selected_asset_keys == {HISTORY_KEY}
    for job in ("lakehouse_daily", "reprocess_landed", "gold_onwards"):
        assert HISTORY_KEY not in defs.resolve_job_def(job).asset_layer.selected_asset_keys, job
    assert ("kpi_alert_history", DELIVERED_CHECK) in {
        (c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys
    }
    assert defs.resolve_sensor_def("kpi_alerts_after_marts").job_name == ALERTS_JOB
    assert defs.resolve_sensor_def("kpi_alerts_stale_marts").job_name == ALERTS_JOB
