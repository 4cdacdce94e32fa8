"""Anomalies against the trailing days: a day whose volume or CTR falls far below the
mean of the days before it (an outage, a broken tag, a lost feed). Pure Python over
daily totals, so the rule is tested on its own and used by the gold check."""

from __future__ import annotations

from datetime import date, timedelta

from spark_jobs.metric_definitions import RATIOS, ratio

TRAILING_DAYS = 7
MIN_HISTORY_DAYS = 3  # fewer trailing days than this: no verdict
MAX_DROP = 0.5  # a fall of more than 50% against the trailing mean warns
# What is compared: total impressions, and CTR = clicks / impressions of the day.
MEASURES = ("impressions", "ctr")


def _measure(totals: dict[str, int], name: str) -> float | None:
    if name in RATIOS:  # null when the day has no divisor (no impressions for CTR)
        return ratio(totals, name)
    return float(totals.get(name, 0))


def anomalies(daily: dict[date, dict[str, int]], days: list[date]) -> tuple[list[dict], list[date]]:
    """For each day in `days`: each measure that dropped more than MAX_DROP against the
    mean of the TRAILING_DAYS before it (missing days count as zero volume). Returns the
    anomalies and the days that lacked MIN_HISTORY_DAYS of history."""
    found: list[dict] = []
    unjudged: list[date] = []
    for day in days:
        history = [day - timedelta(days=i) for i in range(1, TRAILING_DAYS + 1)]
        known = [d for d in history if d in daily]
        if len(known) < MIN_HISTORY_DAYS:
            unjudged.append(day)
            continue
        today = daily.get(day, {"impressions": 0, "clicks": 0})
        for name in MEASURES:
            past = [_measure(daily[d], name) for d in known]
            past = [v for v in past if v is not None]
            value = _measure(today, name)
            if not past or value is None:
                continue
            baseline = sum(past) / len(past)
            if baseline > 0 and value < baseline * (1 - MAX_DROP):
                found.append(
                    {
                        "event_date": day.isoformat(),
                        "measure": name,
                        "value": round(value, 6),
                        "trailing_mean": round(baseline, 6),
                        "drop": round(1 - value / baseline, 4),
                    }
                )
    return found, unjudged
