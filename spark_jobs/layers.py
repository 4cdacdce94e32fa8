"""The layers, the date that keys each, and the window of dates a partition run
rewrites. Pure Python (no Spark, Dagster or dbt import), so the Spark jobs, the Dagster
assets and checks, the summary and the tests share one definition. A layer's name is also
the Dagster group of its assets and the `layer` of its checks' results.

Raw files and bronze tables (the quarantine too) are partitioned by the date a line
*arrived* (`arrival_date`); silver and gold by the date the event *happened*
(`event_date`). A partition run processes a range of arrival dates, an ArrivalWindow;
because events arrive up to MAX_LATENESS after they happen, it rewrites the event dates
[start - LATENESS_DAYS, end] downstream of bronze."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from spark_jobs.contracts import MAX_LATENESS

RAW, BRONZE, SILVER, GOLD = "raw", "bronze", "silver", "gold"  # in the lake
EVALUATION = "evaluation"  # in the lake: models judged against the simulator's truth
MARTS = "marts"  # ClickHouse tables (and staging views) that dbt builds from gold
ALERTS = "alerts"  # in the lake: the KPI alerts' history (ad_assets/alerts)
LAYERS: tuple[str, ...] = (RAW, BRONZE, SILVER, GOLD, MARTS)  # in data-flow order

ARRIVAL_DATE = "arrival_date"
EVENT_DATE = "event_date"
# The partition column of every Delta table of a layer (raw files use dt=<arrival date>).
DATE_COLUMN: dict[str, str] = {BRONZE: ARRIVAL_DATE, SILVER: EVENT_DATE, GOLD: EVENT_DATE}

# Lines that failed parsing or the contract: a bronze table, keyed like bronze.
QUARANTINE_TABLE: tuple[str, str] = (BRONZE, "quarantine")
# Every KPI alert that fired or recovered, with its delivery (ad_assets/alerts, docs/alerts.md).
ALERT_HISTORY_TABLE: tuple[str, str] = (ALERTS, "kpi_alert_history")

# How many event dates before its arrival date a line can belong to: an event at 00:00 of
# day D - n, arriving MAX_LATENESS later, must still land by the end of D.
LATENESS_DAYS: int = math.ceil(MAX_LATENESS / timedelta(days=1))


def date_column(layer: str) -> str:
    """The column that partitions (and keys a window of) the tables of `layer`."""
    try:
        return DATE_COLUMN[layer]
    except KeyError:
        raise ValueError(
            f"no Delta tables in layer {layer!r}; layers with tables: {tuple(DATE_COLUMN)}"
        ) from None


@dataclass(frozen=True)
class ArrivalWindow:
    """The arrival dates [start, end] (both inclusive) that one partition run, or one
    backfill of a range, processes."""

    start: date
    end: date

    @property
    def event_start(self) -> date:
        """First event date that arrivals in this window can touch."""
        return self.start - timedelta(days=LATENESS_DAYS)

    def arrival_dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def event_dates(self) -> list[date]:
        """The event dates this window rewrites downstream of bronze."""
        return [self.event_start + timedelta(days=i) for i in range((self.end - self.event_start).days + 1)]

    def dates(self, layer: str) -> tuple[date, date]:
        """First and last partition of `layer` this window rewrites: its arrival dates in
        bronze, the event dates those arrivals can touch in silver and gold."""
        first = self.start if date_column(layer) == ARRIVAL_DATE else self.event_start
        return first, self.end
