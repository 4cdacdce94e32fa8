"""Privacy checks across layers (docs/privacy.md): raw user ids never leave bronze.

`pseudonyms_only` takes every raw user id that bronze received in the partition's arrival
dates and searches every string column of silver and gold (the partition's event dates;
the segment history whole) and of every ClickHouse mart. Any hit fails it, and the
result names the table and column, never the id."""

import functools

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    Definitions,
    PartitionsDefinition,
    asset_check,
)
from pyspark.sql import DataFrame, SparkSession

from ad_assets.defs.marts import mart_key
from ad_assets.lib.check_results import error_check
from ad_assets.lib.partitions import daily_partitions, window_of
from ad_assets.quality.results import record
from ad_assets.resources import ClickHouseResource, LakeResource, SparkResource
from ad_assets.settings import Settings
from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.delta_io import read_rewritten
from spark_jobs.gold_tables import GOLD_TABLES
from spark_jobs.lake import Lake
from spark_jobs.lake_read import table_exists
from spark_jobs.layers import BRONZE, GOLD, MARTS, SILVER, ArrivalWindow
from spark_jobs.privacy_scan import HAYSTACK_SCHEMA, RAW_ID_TABLES, find, identifiers, string_values
from spark_jobs.segment_rules import SEGMENT_HISTORY, USER_ACTIVITY, USER_SEGMENTS

LEAK_CHECK = "pseudonyms_only"
# On the user-level mart: the check runs once the marts are built.
LEAK_CHECKED = mart_key("segment_daily")


def defs_for(s: Settings) -> Definitions:
    return Definitions(asset_checks=[build_leak_check(daily_partitions(s.start_date))])


@functools.cache
def build_leak_check(partitions: PartitionsDefinition) -> AssetChecksDefinition:
    return asset_check(
        asset=LEAK_CHECKED,
        name=LEAK_CHECK,
        partitions_def=partitions,
        pool="chdb",
        description="No raw user id that bronze received in the partition appears in any string column "
        "of silver, gold or the ClickHouse marts (pseudonyms only past bronze).",
    )(check_pseudonyms_only)


def check_pseudonyms_only(
    context: AssetCheckExecutionContext,
    lake: LakeResource,
    spark: SparkResource,
    clickhouse: ClickHouseResource,
) -> AssetCheckResult:
    w = window_of(context)
    the_lake = lake.lake()
    session = spark.session(the_lake)
    raw_ids = identifiers([read_rewritten(session, the_lake, BRONZE, t, w) for t in RAW_ID_TABLES])
    in_lake = lake_values(session, the_lake, w)
    in_marts, mart_tables = mart_values(session, clickhouse)
    found = find([*in_lake, in_marts], raw_ids)
    result = error_check(
        LEAK_CHECK,
        LEAK_CHECKED,
        not found,
        tables_searched=len(in_lake) + mart_tables,
        leaks=[{"table": t, "column": c, "ids": n} for (t, c), n in sorted(found.items())],
    )
    record(session, the_lake, [result], w, context.run.run_id, layer=MARTS)
    return result


def lake_values(session: SparkSession, lake: Lake, w: ArrivalWindow) -> list[DataFrame]:
    """The (table, column, value) rows of silver and gold that the window wrote."""
    tables = [(SILVER, TABLE_NAMES[t]) for t in EVENT_TYPES]
    tables += [(GOLD, name) for name in (*GOLD_TABLES, USER_ACTIVITY, USER_SEGMENTS)]
    out = [string_values(f"{layer}.{n}", read_rewritten(session, lake, layer, n, w)) for layer, n in tables]
    if table_exists(lake, GOLD, SEGMENT_HISTORY):  # not partitioned: all of it
        history = session.read.format("delta").load(lake.table(GOLD, SEGMENT_HISTORY))
        out.append(string_values(f"{GOLD}.{SEGMENT_HISTORY}", history))
    return out


def mart_values(session: SparkSession, clickhouse: ClickHouseResource) -> tuple[DataFrame, int]:
    """The marts' distinct string values as (table, column, value), and how many mart
    tables there are. The marts hold aggregates, so their distinct strings are few (ids
    of campaigns and publishers, segment names, paths)."""
    rows: list[tuple[str, str, str]] = []
    with clickhouse.client() as client:
        columns = client.query(  # LowCardinality and Nullable strings too
            "SELECT table, name FROM system.columns WHERE database = 'marts' AND type LIKE '%String%'"
        ).result_rows
        tables: dict[str, list[str]] = {}
        for table, column in columns:
            tables.setdefault(table, []).append(column)
        for table, names in tables.items():
            pairs = ", ".join(f"tuple('{c}', toString(`{c}`))" for c in names)
            sql = f"SELECT DISTINCT arrayJoin([{pairs}]) AS p FROM marts.`{table}`"
            rows += [(f"{MARTS}.{table}", c, v) for ((c, v),) in client.query(sql).result_rows if v]
    return session.createDataFrame(rows, HAYSTACK_SCHEMA), len(tables)
