"""The alert history table's rows: one per notice (fired or recovered), with how it was
delivered. The lake keeps them (a Delta table, docs/alerts.md "History"); the dashboard
shows them and state.state_from_history rebuilds the de-duplication state from them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ad_assets.alerts.state import Notice

HISTORY_SCHEMA = pa.schema(
    [
        pa.field("evaluated_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("event_date", pa.date32(), nullable=False),  # the day judged
        pa.field("rule", pa.string(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),  # info, warning, critical
        pa.field("scope", pa.string(), nullable=False),  # platform, advertiser, campaign, channel, mart
        pa.field("scope_id", pa.string(), nullable=False),  # "all" for the platform
        pa.field("metric", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("baseline", pa.float64()),
        pa.field("change", pa.float64()),
        pa.field("status", pa.string(), nullable=False),  # fired, recovered
        pa.field("message", pa.string(), nullable=False),
        pa.field("delivery", pa.string(), nullable=False),  # sent, failed: <reason>, no webhook, dry run
    ]
)
HISTORY_COLUMNS: tuple[str, ...] = tuple(HISTORY_SCHEMA.names)

# `delivery` when nothing was posted: no URL in the environment, or a dry run.
NO_WEBHOOK = "no webhook"
DRY_RUN = "dry run"


def history_rows(notices: Iterable[Notice], evaluated_at: datetime, delivery: str) -> list[dict[str, Any]]:
    """One row per notice, in HISTORY_COLUMNS order. `evaluated_at` is made UTC (a naive
    datetime is taken as UTC); `delivery` is webhook.DeliveryResult.status, NO_WEBHOOK or
    DRY_RUN."""
    at = evaluated_at.replace(tzinfo=UTC) if evaluated_at.tzinfo is None else evaluated_at.astimezone(UTC)
    return [
        {
            "evaluated_at": at,
            "event_date": n.finding.event_date,
            "rule": n.finding.rule,
            "severity": n.finding.severity,
            "scope": n.finding.scope,
            "scope_id": n.finding.scope_id,
            "metric": n.finding.metric,
            "value": n.finding.value,
            "baseline": n.finding.baseline,
            "change": n.finding.change,
            "status": n.status,
            "message": n.finding.message,
            "delivery": delivery,
        }
        for n in notices
    ]


def history_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The rows as an Arrow table of HISTORY_SCHEMA (what the Delta writer takes)."""
    return pa.Table.from_pylist(rows, schema=HISTORY_SCHEMA)
