"""Erasure as a Dagster job (docs/privacy.md, "Erasure"): `erase_users` materializes the
erasure log for one request and judges it with the blocking check `erasure_complete`.
`adlake erase` writes the request and runs this job; from the UI, launch it with the
request id as config (the ids stay in the request file, out of Dagster's run storage).

The work itself is ad_assets/privacy/erasure.py; this module gives it the resources:
Spark, the key, and the rebuild of gold, the evaluation and the marts."""

import functools
import json
from pathlib import Path

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    Config,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
    define_asset_job,
)
from pydantic import Field
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ad_assets.defs.evaluation import score_window
from ad_assets.defs.marts import build_vars, dbt_project, mart_keys, publish
from ad_assets.defs.privacy import mart_values
from ad_assets.lib.check_results import error_check
from ad_assets.privacy.erasure import erase, request_path
from ad_assets.resources import ClickHouseResource, LakeResource, PseudonymKeyResource, SparkResource
from ad_assets.resources.dbt import MartsDbtResource
from ad_assets.settings import Settings
from spark_jobs.attribution_windows import AttributionWindows, load_windows
from spark_jobs.erasure import ERASURE_LOG, PRIVACY
from spark_jobs.layers import ArrivalWindow
from spark_jobs.pipeline import run_gold

ERASURE_LOG_KEY = AssetKey(f"{PRIVACY}_{ERASURE_LOG}")
ERASURE_COMPLETE = "erasure_complete"
ERASE_JOB = "erase_users"


class EraseUsers(Config):
    request: str = Field(
        description="The request id that `adlake erase` printed: a file under ADLAKE_HOME/erasure "
        "holding the user ids (kept out of the run's config on purpose)."
    )


def defs_for(s: Settings) -> Definitions:
    log_asset = build_erasure_log(
        s.home / "erasure", load_windows(s.attribution_windows), s.privacy_min_users
    )
    job = define_asset_job(
        ERASE_JOB,
        selection=AssetSelection.assets(log_asset),
        description="Erase users from every layer, rebuild what they fed, VACUUM, and prove it by a "
        "rescan (config: the request id from `adlake erase`).",
    )
    return Definitions(assets=[log_asset], jobs=[job])


@functools.cache
def build_erasure_log(
    requests: Path, windows: AttributionWindows, privacy_min_users: int
) -> AssetsDefinition:
    @asset(
        key=ERASURE_LOG_KEY,
        group_name=PRIVACY,
        pool="spark",
        description="One row per erased user and request: a salted hash of the id (never the id), when, "
        "the rows removed per table, raw lines removed, the event dates rebuilt, the files and table "
        "versions VACUUMed, and whether the rescan found anything left.",
        check_specs=[
            AssetCheckSpec(
                ERASURE_COMPLETE,
                asset=ERASURE_LOG_KEY,
                blocking=True,
                description="A rescan of every data and log file of every Delta table (so every "
                "readable version), the quarantine, every raw file and every ClickHouse mart finds "
                "no raw id or pseudonym of the erased users.",
            )
        ],
    )
    def privacy_erasure_log(
        context: AssetExecutionContext,
        config: EraseUsers,
        lake: LakeResource,
        spark: SparkResource,
        pseudonym_key: PseudonymKeyResource,
        dbt: MartsDbtResource,
        clickhouse: ClickHouseResource,
    ):
        the_lake = lake.writable_lake(PRIVACY)
        session = spark.session(the_lake)

        def rebuild(w: ArrivalWindow) -> None:
            run_gold(session, the_lake, w, windows)
            scores, _ = score_window(session, the_lake, w, context.log.warning)
            scores.unpersist()
            busy = clickhouse.busy()
            if busy:
                raise RuntimeError(busy)
            dbt_vars = build_vars(the_lake, clickhouse, w, privacy_min_users)
            dbt.cli(["build", "--vars", json.dumps(dbt_vars)], manifest=dbt_project.manifest_path).wait()
            if clickhouse.embedded and clickhouse.snapshot_path:  # the dashboard's copy follows
                publish(clickhouse, mart_keys(), context.run_id)

        report = erase(
            session,
            the_lake,
            pseudonym_key,
            request_path(requests, config.request),
            rebuild,
            lambda marks: scan_marts(session, clickhouse, marks),
            context.log.info,
        )
        yield MaterializeResult(
            metadata={
                "request_id": report.request_id,
                "users": len(report.found),
                "users_found": sum(1 for n in report.found.values() if n),
                "rows_removed": MetadataValue.json(report.rows_removed),
                "raw_lines_removed": report.raw_lines_removed,
                "raw_files_rewritten": report.raw_files_rewritten,
                "event_dates_rebuilt": f"{report.rebuilt[0]}..{report.rebuilt[1]}"
                if report.rebuilt
                else "none",
                "files_vacuumed": sum(report.files_vacuumed.values()),
                "path": MetadataValue.path(the_lake.table(PRIVACY, ERASURE_LOG)),
            }
        )
        yield error_check(
            ERASURE_COMPLETE,
            ERASURE_LOG_KEY,
            report.verified,
            request_id=report.request_id,
            leftovers=report.leftovers,
        )

    return privacy_erasure_log


def scan_marts(
    session: SparkSession, clickhouse: ClickHouseResource, marks: list[str]
) -> dict[tuple[str, str], int]:
    """{(mart, column): distinct values holding any of marks}."""
    values, _ = mart_values(session, clickhouse)
    needles = F.array(*[F.lit(m) for m in marks])
    hits = values.where(F.exists(needles, lambda m: F.instr(F.col("value"), m) > 0))
    return {
        (r["table"], r["column"]): r["n"]
        for r in hits.groupBy("table", "column").agg(F.count("*").alias("n")).collect()
    }
