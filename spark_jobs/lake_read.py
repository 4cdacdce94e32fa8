"""Reading the lake's Delta tables with delta-rs (the `deltalake` package): a second engine
beside the Spark that wrote them, with no Spark or Dagster import. The summary, the
quarantine listing, materialization metadata, the reconciliations' row counts and the
tests read tables through here."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pyarrow as pa
from deltalake import DeltaTable

from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.gold_tables import GOLD_TABLES
from spark_jobs.lake import Lake
from spark_jobs.layers import BRONZE, GOLD, QUARANTINE_TABLE, SILVER
from spark_jobs.segment_rules import AUDIENCE_TABLES

# Every Delta table the layer jobs write, as (layer, name), in data-flow order.
LAKE_TABLES: tuple[tuple[str, str], ...] = (
    *[(BRONZE, TABLE_NAMES[t]) for t in EVENT_TYPES],
    QUARANTINE_TABLE,
    *[(SILVER, TABLE_NAMES[t]) for t in EVENT_TYPES],
    *[(GOLD, name) for name in GOLD_TABLES],
    *[(GOLD, name) for name in AUDIENCE_TABLES],
)


def open_table(lake: Lake, layer: str, name: str) -> DeltaTable:
    """The Delta table `layer`/`name` at its latest version."""
    return DeltaTable(lake.delta_rs_uri(layer, name), storage_options=lake.delta_rs_storage_options())


def table_exists(lake: Lake, layer: str, name: str) -> bool:
    """Whether `layer`/`name` holds a Delta table (a first commit exists)."""
    return DeltaTable.is_deltatable(lake.delta_rs_uri(layer, name), lake.delta_rs_storage_options())


def delta_row_counts(lake: Lake, layer: str, name: str, group_by: tuple[str, ...]) -> Counter:
    """Rows per partition value(s) of a Delta table, from its log's add actions (no data
    file is read)."""
    actions = pa.table(open_table(lake, layer, name).get_add_actions(flatten=True))
    out: Counter = Counter()
    cols = [actions[f"partition.{c}"].to_pylist() for c in group_by]
    for n, *key in zip(actions["num_records"].to_pylist(), *cols, strict=True):
        out[tuple(str(k) for k in key)] += n
    return out


def partition_dates(lake: Lake, layer: str, name: str, column: str) -> list[date]:
    """The dates of a date-partitioned table's partitions that hold rows, ascending, from its
    log (no data file is read); [] before the table's first commit."""
    if not table_exists(lake, layer, name):
        return []
    counts = delta_row_counts(lake, layer, name, (column,))
    return sorted(date.fromisoformat(d) for (d,), n in counts.items() if n)
