"""KPI alerts in Dagster (docs/alerts.md): the `kpi_alert_history` asset evaluates the rules
over the marts after each daily run (a run-status sensor starts the `kpi_alerts` job), and a
clock sensor judges the marts' staleness between runs. Notices (fired, recovered) go to the
webhook in ADLAKE_ALERT_WEBHOOK_URL and into the history table in the lake, which also holds
the de-duplication state: rerunning an evaluation sends nothing twice."""

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    DagsterRunStatus,
    DefaultSensorStatus,
    Definitions,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    run_status_sensor,
    sensor,
)

from ad_assets import marts_snapshot
from ad_assets.alerts.evaluate import CAMPAIGN_MART, CHANNEL_MART, Finding, evaluate
from ad_assets.alerts.history import NO_WEBHOOK, history_rows, history_table
from ad_assets.alerts.rules import Rule, load_rules
from ad_assets.alerts.state import FIRED, Notice, State, state_from_history, transitions
from ad_assets.alerts.webhook import deliver, slack_payload
from ad_assets.defs.erasure import ERASE_JOB
from ad_assets.defs.marts import mart_key
from ad_assets.defs.schedules import GOLD_ONWARDS_JOB, LAKEHOUSE_JOB, REPROCESS_JOB
from ad_assets.resources import ClickHouseResource, LakeResource, SparkResource
from ad_assets.settings import Settings
from spark_jobs.lake import Lake
from spark_jobs.lake_read import open_table, table_exists
from spark_jobs.layers import ALERT_HISTORY_TABLE, ALERTS

ALERTS_JOB = "kpi_alerts"
HISTORY_KEY = AssetKey("kpi_alert_history")
DELIVERED_CHECK = "notices_delivered"
WEBHOOK_ENV = "ADLAKE_ALERT_WEBHOOK_URL"
# The jobs that rebuild the marts (ad_assets/defs/schedules.py, ad_assets/defs/erasure.py).
MART_JOBS = (LAKEHOUSE_JOB, REPROCESS_JOB, GOLD_ONWARDS_JOB, ERASE_JOB)
# A run the clock sensor starts judges staleness as of this day (the tag's value).
STALE_AS_OF_TAG = "adlake/stale_as_of"


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation found and what it would record."""

    findings: list[Finding]
    notices: list[Notice]
    state: State
    dates: list[date]


def read_marts(clickhouse: ClickHouseResource) -> dict[str, pd.DataFrame]:
    """campaign_daily and channel_daily, from the marts snapshot (embedded) or the server:
    never by opening the embedded engine, which a dbt build may hold."""
    if clickhouse.embedded:
        snap = marts_snapshot.current(Path(clickhouse.snapshot_path))
        if snap is None:
            raise FileNotFoundError(f"no marts snapshot at {clickhouse.snapshot_path}: build the marts first")
        return {m: snap.table(m).to_pandas() for m in (CAMPAIGN_MART, CHANNEL_MART)}
    with clickhouse.client() as client:
        return {m: client.query_df(f"SELECT * FROM marts.{m}") for m in (CAMPAIGN_MART, CHANNEL_MART)}


def read_history(lake: Lake) -> list[dict]:
    if not table_exists(lake, *ALERT_HISTORY_TABLE):
        return []
    return open_table(lake, *ALERT_HISTORY_TABLE).to_pyarrow_table().to_pylist()


def run_evaluation(
    rules: list[Rule], marts: dict[str, pd.DataFrame], history: list[dict], stale_as_of: date | None = None
) -> Evaluation:
    """The rules on every event date of the marts, against the state the history holds:
    the notices are the changes of status only. Staleness is judged against a wall-clock
    day (`stale_as_of`, the clock sensor's), not against the marts' own dates."""
    dates = sorted(set(pd.to_datetime(marts[CAMPAIGN_MART]["event_date"]).dt.date))
    data_rules = [r for r in rules if r.compare != "stale"]
    findings = evaluate(data_rules, marts[CAMPAIGN_MART], dates, marts[CHANNEL_MART])
    if stale_as_of is not None:
        stale = [r for r in rules if r.compare == "stale"]
        findings += evaluate(stale, marts[CAMPAIGN_MART], [stale_as_of], marts[CHANNEL_MART])
    notices, state = transitions(state_from_history(history), findings)
    return Evaluation(findings, notices, state, dates)


def notify(notices: list[Notice], url: str | None) -> str:
    """Posts the notices (one message) and says how: the history's `delivery` column."""
    if not url:
        return NO_WEBHOOK
    return deliver(url, slack_payload(notices)).status


def build_alert_history(rules_path: str | None):
    @asset(
        name=HISTORY_KEY.path[-1],
        group_name=ALERTS,
        kinds={"delta"},
        deps=[mart_key(CAMPAIGN_MART), mart_key(CHANNEL_MART)],
        check_specs=[AssetCheckSpec(DELIVERED_CHECK, asset=HISTORY_KEY, blocking=False)],
        description="KPI alerts (ad_assets/alerts/rules.yaml) evaluated over the marts: every fired and "
        "recovered notice with its delivery (Delta table alerts/kpi_alert_history).",
    )
    def kpi_alert_history(
        context: AssetExecutionContext,
        lake: LakeResource,
        clickhouse: ClickHouseResource,
        spark: SparkResource,
    ):
        rules = load_rules(rules_path)
        the_lake = lake.writable_lake(ALERTS)
        stale_as_of = context.run.tags.get(STALE_AS_OF_TAG)
        ev = run_evaluation(
            rules,
            read_marts(clickhouse),
            read_history(the_lake),
            date.fromisoformat(stale_as_of) if stale_as_of else None,
        )
        delivery = notify(ev.notices, os.environ.get(WEBHOOK_ENV)) if ev.notices else NO_WEBHOOK
        rows = history_rows(ev.notices, datetime.now(UTC), delivery)
        if rows:
            append_history(spark, the_lake, rows)
        for n in ev.notices:
            context.log.warning(f"{n.status}: {n.finding.message}")
        firing = sorted(":".join(k) for k, alert in ev.state.items() if alert.firing)
        yield MaterializeResult(
            metadata={
                "event_dates": f"{ev.dates[0]}..{ev.dates[-1]}" if ev.dates else "none",
                "findings": len(ev.findings),
                "fired": sum(n.status == FIRED for n in ev.notices),
                "recovered": sum(n.status != FIRED for n in ev.notices),
                "firing_now": MetadataValue.json(firing),
                "delivery": delivery,
            }
        )
        failed = delivery.startswith("failed")
        yield AssetCheckResult(
            check_name=DELIVERED_CHECK,
            passed=not failed,
            severity=AssetCheckSeverity.WARN,
            metadata={"delivery": delivery, "notices": len(ev.notices)},
        )

    return kpi_alert_history


def append_history(spark: SparkResource, lake: Lake, rows: list[dict]) -> None:
    """Appends the notices to the Delta table in one commit (Spark writes the lake)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    table = history_table(rows)
    session = spark.session(lake)
    df = session.createDataFrame(table.to_pylist(), from_arrow_schema(table.schema))
    df.coalesce(1).write.format("delta").mode("append").save(lake.table(*ALERT_HISTORY_TABLE))


def defs_for(s: Settings) -> Definitions:
    history = build_alert_history(s.alert_rules)
    job = define_asset_job(
        ALERTS_JOB,
        selection=AssetSelection.assets(history),
        description="Evaluates the KPI alert rules over the marts; notifies and records changes.",
    )
    return Definitions(
        assets=[history],
        jobs=[job],
        sensors=[build_after_marts_sensor(job), build_staleness_sensor(job, s.alert_rules)],
    )


def build_after_marts_sensor(job):
    @run_status_sensor(
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=None,
        request_job=job,
        default_status=DefaultSensorStatus.RUNNING,
        description="Evaluates the KPI alerts after every successful run that rebuilt the marts.",
    )
    def kpi_alerts_after_marts(context: RunStatusSensorContext):
        run = context.dagster_run
        if run.job_name not in MART_JOBS:
            return SkipReason(f"{run.job_name} builds no marts")
        return RunRequest(run_key=f"after-{run.run_id}")

    return kpi_alerts_after_marts


def build_staleness_sensor(job, rules_path: str | None):
    @sensor(
        job=job,
        minimum_interval_seconds=3600,
        default_status=DefaultSensorStatus.RUNNING,
        description="Hourly: starts the alerts job when a stale-marts rule changes status as of today.",
    )
    def kpi_alerts_stale_marts(
        context: SensorEvaluationContext, lake: LakeResource, clickhouse: ClickHouseResource
    ):
        rules = [r for r in load_rules(rules_path) if r.compare == "stale"]
        if not rules:
            return SkipReason("no stale-marts rule")
        try:
            marts = read_marts(clickhouse)
        except FileNotFoundError as ex:
            return SkipReason(str(ex))
        today = datetime.now(UTC).date()
        ev = run_evaluation(rules, marts, read_history(lake.lake()), stale_as_of=today)
        if not ev.notices:
            return SkipReason("no stale-marts alert changes status")
        keys = ",".join(":".join(n.finding.key) + f"={n.status}" for n in ev.notices)
        return RunRequest(run_key=f"stale-{today}-{keys}", tags={STALE_AS_OF_TAG: today.isoformat()})

    return kpi_alerts_stale_marts
