"""Bronze: typed rows per event type plus a quarantine table, by arrival date."""

import functools

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Definitions,
    MetadataValue,
    PartitionsDefinition,
    multi_asset,
)
from pyspark.sql import DataFrame

from ad_assets.lib.contract_checks import (
    contract_result,
    contract_spec,
    import_expectations_in_background,
)
from ad_assets.lib.materializations import table_result
from ad_assets.lib.outages import STORAGE_RETRY, outage_aware
from ad_assets.lib.partitions import daily_partitions, single_run, window_of
from ad_assets.quality.results import record
from ad_assets.resources import LakeResource, SparkResource
from ad_assets.settings import Settings
from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.drift import DRIFT_SHARE, drift_report, field_problems
from spark_jobs.layers import BRONZE, QUARANTINE_TABLE
from spark_jobs.pipeline import run_bronze
from spark_jobs.reconcile import raw_vs_bronze

BRONZE_KEYS = {t: AssetKey(f"bronze_{TABLE_NAMES[t]}") for t in EVENT_TYPES}
QUARANTINE_KEY = AssetKey("bronze_quarantine")


def defs_for(s: Settings) -> Definitions:
    return Definitions(assets=[build_bronze_tables(daily_partitions(s.start_date))])


@functools.cache
def build_bronze_tables(partitions: PartitionsDefinition) -> AssetsDefinition:
    return multi_asset(
        name="bronze_tables",
        specs=[
            *[
                AssetSpec(
                    key,
                    deps=["raw_logs"],
                    group_name=BRONZE,
                    kinds={"spark", "delta"},
                    description=f"{t} lines parsed with the contract schema, unknown fields kept in "
                    "extra_json, with ingest metadata (file, line, ingest time, batch). Partitioned by "
                    "arrival_date.",
                )
                for t, key in BRONZE_KEYS.items()
            ],
            AssetSpec(
                QUARANTINE_KEY,
                deps=["raw_logs"],
                group_name=BRONZE,
                kinds={"spark", "delta"},
                description="Lines that failed parsing or the contract, with the raw line and the reason.",
            ),
        ],
        check_specs=[
            AssetCheckSpec(
                "raw_lines_reconcile",
                asset=QUARANTINE_KEY,
                blocking=True,
                description="Per event type and arrival date: raw lines = bronze rows + quarantined rows.",
            ),
            AssetCheckSpec(
                "schema_drift",
                asset=QUARANTINE_KEY,
                description=f"Warns when a field fails its type or is missing in >= {DRIFT_SHARE:.0%} of an "
                "event type's lines (the sender changed or dropped it), or an unknown field appears that "
                "often (kept in extra_json). Lists every unknown field seen.",
            ),
            *[contract_spec(key, "bronze") for key in BRONZE_KEYS.values()],
        ],
        partitions_def=partitions,
        backfill_policy=single_run,
        pool="spark",
        retry_policy=STORAGE_RETRY,
    )(materialize_bronze)


@outage_aware
def materialize_bronze(context: AssetExecutionContext, lake: LakeResource, spark: SparkResource):
    import_expectations_in_background()
    the_lake = lake.writable_lake("bronze", "quality")
    session = spark.session(the_lake)
    w = window_of(context)
    checks: list[AssetCheckResult] = []

    def judge(event_type: str, rows: DataFrame) -> None:  # the rows just written, still cached
        checks.append(contract_result(BRONZE_KEYS[event_type], rows, "bronze", event_type))

    stats = run_bronze(session, the_lake, w, batch_id=context.run_id, on_written=judge)
    context.log.info(f"bronze {w.start}..{w.end}: " + ", ".join(f"{k} {v:,}" for k, v in stats.rows.items()))
    for event_type, key in BRONZE_KEYS.items():
        d = stats.detail[event_type]
        yield table_result(
            the_lake, key, "bronze", TABLE_NAMES[event_type], rows=d["bronze_rows"], raw_lines=d["raw_lines"]
        )
    unreadable = [f for d in stats.detail.values() for f in d["unreadable_files"]]
    if unreadable:
        context.log.warning(
            f"{len(unreadable)} raw file(s) could not be read, quarantined whole: {unreadable}"
        )
    yield table_result(
        the_lake,
        QUARANTINE_KEY,
        *QUARANTINE_TABLE,
        rows=stats.rows["quarantine"],
        unreadable_files=MetadataValue.json(unreadable),
    )

    rows = raw_vs_bronze(the_lake, w)
    bad = [r for r in rows if not r["ok"]]
    lines = {t: sum(r["raw_lines"] for r in rows if r["event_type"] == t) for t in EVENT_TYPES}
    drift = drift_report(*field_problems(stats.detail), lines)
    checks.append(
        AssetCheckResult(
            check_name="schema_drift",
            asset_key=QUARANTINE_KEY,
            passed=not drift["drift"],
            severity=AssetCheckSeverity.WARN,
            metadata={
                "changed_fields": MetadataValue.json(drift["changed_fields"]),
                "unknown_fields": MetadataValue.json(drift["unknown_fields"]),
            },
        )
    )
    checks.append(
        AssetCheckResult(
            check_name="raw_lines_reconcile",
            asset_key=QUARANTINE_KEY,
            passed=not bad,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "raw_lines": sum(r["raw_lines"] for r in rows),
                "bronze_rows": sum(r["bronze_rows"] for r in rows),
                "quarantined": sum(r["quarantined"] for r in rows),
                "mismatches": MetadataValue.json(bad),
            },
        )
    )
    record(session, the_lake, checks, w, context.run_id, layer=BRONZE)  # then hand them to Dagster
    yield from checks
