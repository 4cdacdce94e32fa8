"""De-duplication and recovery: only changes of an alert's status become notices.

An alert is a (rule, scope, scope_id). Findings are taken in event-date order: a firing
finding of an alert that was not firing is a `fired` notice; a clear finding of a firing
alert is a `recovered` notice; anything else (still firing, still fine, or a finding that
is neither firing nor clear: evaluate.py's hysteresis) changes nothing. The state keeps
each alert's last transition and its event date, and a finding dated on or before it is a
replay of a judged day (a rerun, the sensor's next tick) and changes nothing either, so
rerunning an evaluation sends nothing twice."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from ad_assets.alerts.evaluate import Finding

FIRED, RECOVERED = "fired", "recovered"
STATUSES = (FIRED, RECOVERED)

StateKey = tuple[str, str, str]  # (rule, scope, scope_id)


@dataclass(frozen=True)
class AlertState:
    firing: bool
    event_date: date  # of the finding that made the last transition


State = dict[StateKey, AlertState]


@dataclass(frozen=True)
class Notice:
    status: Literal["fired", "recovered"]
    finding: Finding


def transitions(
    state: Mapping[StateKey, AlertState], findings: Iterable[Finding]
) -> tuple[list[Notice], State]:
    """The notices the findings make from `state`, and the state after them. Pure: `state`
    is not modified."""
    new: State = dict(state)
    notices: list[Notice] = []
    for f in sorted(findings, key=lambda f: f.event_date):  # stable: rule and scope order kept
        before = new.get(f.key)
        if before is not None and f.event_date <= before.event_date:
            continue  # a day already judged
        was_firing = before is not None and before.firing
        if f.firing and not was_firing:
            notices.append(Notice(FIRED, f))
            new[f.key] = AlertState(True, f.event_date)
        elif f.clear and was_firing:
            notices.append(Notice(RECOVERED, f))
            new[f.key] = AlertState(False, f.event_date)
    return notices, new


def state_from_history(rows: Iterable[Mapping[str, Any]]) -> State:
    """The state the history table's rows leave (history.HISTORY_COLUMNS): each alert's
    latest row by event date, then evaluation time."""
    latest: dict[StateKey, tuple[date, datetime, str]] = {}
    for r in rows:
        if r["status"] not in STATUSES:
            raise ValueError(
                f"alert history row with status {r['status']!r} (expected {' or '.join(STATUSES)})"
            )
        key = (r["rule"], r["scope"], r["scope_id"])
        stamp = (_as_date(r["event_date"]), r["evaluated_at"], r["status"])
        if key not in latest or stamp[:2] > latest[key][:2]:
            latest[key] = stamp
    return {key: AlertState(status == FIRED, day) for key, (day, _, status) in latest.items()}


def _as_date(value: date | datetime) -> date:
    # Spark and pandas may hand a date column back as datetimes.
    return value.date() if isinstance(value, datetime) else value
