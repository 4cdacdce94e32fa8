"""Stream versus batch (docs/streaming.md): once an event date's lateness window has
closed, the live counters summed over the day, plus the events that arrived too late for
the live windows, equal gold.campaign_daily's valid impressions, clicks and spend per
campaign. Pure Python: the Dagster check reads both sides and calls `reconcile`."""

from __future__ import annotations

from dataclasses import dataclass, field

RECONCILED = ("impressions", "clicks", "spend_micros")
Totals = dict[str, dict[str, int]]  # campaign -> metric -> value


@dataclass
class Reconciliation:
    campaigns: int = 0
    batch: dict[str, int] = field(default_factory=dict)  # metric -> total in gold
    live: dict[str, int] = field(default_factory=dict)  # metric -> total in the live windows
    late: dict[str, int] = field(default_factory=dict)  # metric -> arrived past LIVE_LATENESS
    differences: list[dict] = field(default_factory=list)  # campaign fields that do not add up

    @property
    def matches(self) -> bool:
        return not self.differences


def reconcile(batch: Totals, live: Totals, late: Totals) -> Reconciliation:
    """Per campaign and metric: batch == live + late, else a difference is listed (with
    the three figures). A campaign only one side has counts as zero on the other."""
    out = Reconciliation()
    campaigns = sorted(set(batch) | set(live) | set(late))
    out.campaigns = len(campaigns)
    for metric in RECONCILED:
        out.batch[metric] = sum(batch.get(c, {}).get(metric, 0) for c in campaigns)
        out.live[metric] = sum(live.get(c, {}).get(metric, 0) for c in campaigns)
        out.late[metric] = sum(late.get(c, {}).get(metric, 0) for c in campaigns)
    for c in campaigns:
        for metric in RECONCILED:
            b, v, x = (side.get(c, {}).get(metric, 0) for side in (batch, live, late))
            if b != v + x:
                out.differences.append({"campaign": c, "metric": metric, "batch": b, "live": v, "late": x})
    return out
