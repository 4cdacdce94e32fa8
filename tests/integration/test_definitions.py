from dagster import AssetKey

from ad_assets.definitions import defs
from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES


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
    for g in ("gold_campaign_daily", "gold_campaign_hourly"):
        assert parents[g] == {"silver_impressions", "silver_clicks", "silver_conversions"}
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {groups[k] for k in groups if k.startswith("gold_")} == {"gold"}
    assert groups["raw_logs"] == "raw" and groups["bronze_quarantine"] == "bronze"


def test_checks_schedule_and_sensor_are_defined():
    graph = defs.resolve_asset_graph()
    checks = {(c.asset_key, c.name) for c in graph.asset_check_keys}
    assert (AssetKey("bronze_quarantine"), "raw_lines_reconcile") in checks
    assert all((AssetKey(f"silver_{TABLE_NAMES[t]}"), "event_id_unique") in checks for t in EVENT_TYPES)
    assert (AssetKey("gold_campaign_daily"), "metric_bounds") in checks
    assert defs.resolve_schedule_def("lakehouse_daily_schedule").cron_schedule == "30 1 * * *"
    assert defs.resolve_sensor_def("raw_landing_sensor") is not None
    job = defs.resolve_job_def("lakehouse_daily")
    assert job.partitions_def is not None
