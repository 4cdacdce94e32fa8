"""What is in quarantine, read with delta-rs: rows per arrival date, event type and reason."""

from __future__ import annotations

import pyarrow.compute as pc

from spark_jobs.lake import Lake
from spark_jobs.lake_read import open_table, table_exists
from spark_jobs.layers import QUARANTINE_TABLE


def quarantined(lake: Lake, event_type: str | None = None, reason_prefix: str | None = None) -> list[dict]:
    """[{arrival_date, event_type, reason, count}], sorted; empty when nothing matches."""
    if not table_exists(lake, *QUARANTINE_TABLE):
        return []  # nothing was ever loaded
    table = open_table(lake, *QUARANTINE_TABLE).to_pyarrow_table(
        columns=["arrival_date", "event_type", "reason"]
    )
    if event_type:
        table = table.filter(pc.equal(table["event_type"], event_type))
    if reason_prefix:
        table = table.filter(pc.starts_with(table["reason"], reason_prefix))
    counts = table.group_by(["arrival_date", "event_type", "reason"]).aggregate([("reason", "count")])
    rows = [
        {**{k: r[k] for k in ("arrival_date", "event_type", "reason")}, "count": r["reason_count"]}
        for r in counts.to_pylist()
    ]
    return sorted(rows, key=lambda r: (r["arrival_date"], r["event_type"], r["reason"]))
