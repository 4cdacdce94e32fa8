"""Rules evaluated over the daily marts, one as-of date after another (docs/alerts.md).

Input: a frame shaped like `marts.campaign_daily` (event_date, advertiser_id, campaign_id
and the additive metrics of spark_jobs/metric_definitions.py) and, for channel rules,
one shaped like `marts.channel_daily` (event_date, channel, the same metrics). Every value
is computed from sums of the additive metrics: a ratio over a window is its summed
numerator over its summed denominator, never a mean of daily ratios.

An as-of date is the event date being judged (the sensor judges yesterday, the last
complete day). A finding is emitted for every scope a rule could judge on that date;
scopes too small to judge (`min_volume`, `min_baseline_days`) get none, so they neither
fire nor recover. A finding is `firing` (the rule's condition holds), `clear` (the value is
back within limits: what a firing alert needs to recover, state.py) or neither: a
trailing-mean change past its limit but not beyond chance (`max_p_value`), or back inside
the limit but not yet within RECOVERY_SHARE of it, holds the alert where it is, so a
borderline day neither fires nor ends an alert (hysteresis)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from ad_assets.alerts.rules import Rule
from spark_jobs.metric_definitions import ADDITIVE_METRICS, MONEY_METRICS, RATIOS, money_and_ratios

PLATFORM_ID = "all"  # scope_id of the platform scope
STALE_SCOPE = "mart"  # stale findings: scope_id is the mart's name
STALE_METRIC = "lag_days"
# The column of each scope in its mart.
SCOPE_COLUMN = {"advertiser": "advertiser_id", "campaign": "campaign_id", "channel": "channel"}
CAMPAIGN_MART, CHANNEL_MART = "campaign_daily", "channel_daily"
# Above this expected count the Poisson tail is taken from its normal approximation.
_NORMAL_ABOVE = 1_000.0
# A trailing-mean alert recovers once the change is back within this share of its limit
# (limit -50%: above -25%), so a day just inside the limit does not end it.
RECOVERY_SHARE = 0.5

Sums = Mapping[str, float]  # additive metric -> sum
Daily = dict[str, dict[date, Sums]]  # scope_id -> event_date -> sums


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    scope: str  # platform, advertiser, campaign, channel; "mart" for stale
    scope_id: str  # "all" for the platform
    metric: str
    event_date: date
    value: float | None  # the day's value (stale: days behind)
    baseline: float | None  # trailing mean, bound crossed, or mean delivery (no_data)
    change: float | None  # value / baseline - 1 (trailing_mean, no_data)
    firing: bool  # the rule's condition holds
    clear: bool  # back within limits: a firing alert recovers (never both; neither: holds)
    message: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule, self.scope, self.scope_id)


def evaluate(
    rules: Iterable[Rule],
    campaign_daily: pd.DataFrame,
    as_of_dates: Iterable[date],
    channel_daily: pd.DataFrame | None = None,
) -> list[Finding]:
    """Findings of the enabled rules on each as-of date, by date, then rule order, then scope."""
    rules = [r for r in rules if r.enabled]
    if channel_daily is None and (channel_rule := next((r for r in rules if r.scope == "channel"), None)):
        raise ValueError(f"rule {channel_rule.name!r} has scope channel: pass channel_daily")
    marts = {CAMPAIGN_MART: _normalised(campaign_daily, CAMPAIGN_MART, ("advertiser_id", "campaign_id"))}
    if channel_daily is not None:
        marts[CHANNEL_MART] = _normalised(channel_daily, CHANNEL_MART, ("channel",))
    daily = {
        scope: _daily_sums(marts[CHANNEL_MART if scope == "channel" else CAMPAIGN_MART], scope)
        for scope in {r.scope for r in rules if r.compare != "stale"}
    }
    dates_with_data = set(marts[CAMPAIGN_MART]["event_date"])
    findings: list[Finding] = []
    for day in sorted(set(as_of_dates)):
        for rule in rules:
            if rule.compare == "stale":
                findings += [_stale(rule, name, frame, day) for name, frame in marts.items()]
            elif rule.compare == "no_data":
                # No row at all on the day is the marts' staleness, not every scope's outage.
                if day in dates_with_data:
                    findings += _no_data(rule, daily[rule.scope], day)
            else:
                judge = _trailing_mean if rule.compare == "trailing_mean" else _threshold
                for scope_id, by_day in sorted(daily[rule.scope].items()):
                    if (f := judge(rule, scope_id, by_day, day)) is not None:
                        findings.append(f)
    return findings


def metric_value(sums: Sums, metric: str) -> float | None:
    """A metric from additive sums: the sum itself, money in currency units, or a ratio of
    the sums (None where its divisor is 0)."""
    if metric in ADDITIVE_METRICS:
        return float(sums[metric])
    return money_and_ratios({m: sums[m] for m in ADDITIVE_METRICS})[metric]


def poisson_tail(observed: float, expected: float, lower: bool) -> float:
    """P(X <= observed) (lower) or P(X >= observed) for X ~ Poisson(expected): how likely a
    day this low (or high) is by chance alone."""
    k = round(observed)
    if expected <= 0:
        return 1.0 if lower or k <= 0 else 0.0
    if expected > _NORMAL_ABOVE:  # continuity-corrected normal: the sum below would be long
        z = ((k + 0.5 if lower else k - 0.5) - expected) / math.sqrt(expected)
        return 0.5 * math.erfc(-z / math.sqrt(2)) if lower else 0.5 * math.erfc(z / math.sqrt(2))
    cdf_below = _poisson_cdf(k if lower else k - 1, expected)
    return cdf_below if lower else max(0.0, 1.0 - cdf_below)


def _poisson_cdf(k: int, lam: float) -> float:
    # Terms in logs: exp(-lam) alone underflows from lam of about 745.
    log_lam = math.log(lam)
    terms = (math.exp(i * log_lam - lam - math.lgamma(i + 1)) for i in range(k + 1))
    return min(math.fsum(terms), 1.0)


# --- the comparisons ------------------------------------------------------------------


def _trailing_mean(rule: Rule, scope_id: str, by_day: Mapping[date, Sums], day: date) -> Finding | None:
    today = by_day.get(day)
    window = [d for d in _window(day, rule.window_days) if d in by_day]
    if today is None or len(window) < rule.min_baseline_days:
        return None
    base_sums = _add(by_day[d] for d in window)
    if not (_enough(today, rule.min_volume) and _enough(base_sums, rule.min_volume)):
        return None
    metric = rule.metric
    assert metric is not None  # validated
    value = metric_value(today, metric)
    baseline = _baseline(base_sums, metric, len(window))
    if value is None or not baseline:  # no ratio, or nothing to compare against
        return None
    change = value / baseline - 1
    down = rule.change_below is not None and change <= rule.change_below
    up = rule.change_above is not None and change >= rule.change_above
    p = None
    if (down or up) and rule.max_p_value is not None:
        observed, expected = _count_and_expectation(today, metric, baseline)
        p = poisson_tail(observed, expected, lower=down)
        down, up = down and p <= rule.max_p_value, up and p <= rule.max_p_value
    firing = down or up
    clear = (rule.change_below is None or change > RECOVERY_SHARE * rule.change_below) and (
        rule.change_above is None or change < RECOVERY_SHARE * rule.change_above
    )
    limit = rule.change_below if change < 0 else rule.change_above
    text = (
        f"{_label(metric)} of {_scope_text(rule.scope, scope_id)} on {day}: {_fmt(metric, value)} "
        f"against {_fmt(metric, baseline)} over the previous {len(window)} day(s) ({change:+.0%})"
    )
    if firing:
        text += f", past the {limit:+.0%} limit{_volume_text(today, metric)}"
        text += f"; chance of a day this far off: {p:.2g}" if p is not None else ""
    elif clear:
        text += ", within limits"
    elif p is not None and p > (rule.max_p_value or 0):
        text += f", past the {limit:+.0%} limit but within chance ({p:.2g}){_volume_text(today, metric)}"
    else:
        text += f", inside the {limit:+.0%} limit but not yet within {RECOVERY_SHARE * (limit or 0):+.0%}"
    return _finding(rule, scope_id, metric, day, value, baseline, change, firing, clear, text)


def _threshold(rule: Rule, scope_id: str, by_day: Mapping[date, Sums], day: date) -> Finding | None:
    today = by_day.get(day)
    if today is None or not _enough(today, rule.min_volume):
        return None
    metric = rule.metric
    assert metric is not None  # validated
    value = metric_value(today, metric)
    if value is None:
        return None
    low = rule.below is not None and value < rule.below
    high = rule.above is not None and value > rule.above
    bound = rule.below if low or rule.above is None else rule.above
    head = f"{_label(metric)} of {_scope_text(rule.scope, scope_id)} on {day}: {_fmt(metric, value)}"
    if low or high:
        text = f"{head}, {'below' if low else 'above'} {_fmt(metric, bound)}{_volume_text(today, metric)}"
    else:
        text = f"{head}, within limits"
    return _finding(rule, scope_id, metric, day, value, bound, None, low or high, not (low or high), text)


def _no_data(rule: Rule, daily: Daily, day: date) -> list[Finding]:
    """Scopes that delivered on enough days of the window and have nothing on the day fire;
    every scope that delivers on the day is OK (which is how an outage recovers)."""
    out = []
    for scope_id, by_day in sorted(daily.items()):
        today = by_day.get(day)
        active = [
            by_day[d]
            for d in _window(day, rule.window_days)
            if d in by_day and by_day[d]["impressions"] > 0 and _enough(by_day[d], rule.min_volume)
        ]
        mean = sum(s["impressions"] for s in active) / len(active) if active else None
        where = _scope_text(rule.scope, scope_id)
        if today is not None and today["impressions"] > 0:
            text = f"{where} delivered {today['impressions']:,.0f} impressions on {day}"
            value = float(today["impressions"])
            out.append(_finding(rule, scope_id, "impressions", day, value, mean, None, False, True, text))
        elif len(active) >= rule.active_days:
            text = (
                f"{where} has no impressions on {day}, after delivering on {len(active)} of the "
                f"previous {rule.window_days} day(s) ({mean:,.0f} a day)"
            )
            out.append(_finding(rule, scope_id, "impressions", day, 0.0, mean, -1.0, True, False, text))
    return out


def _stale(rule: Rule, mart: str, frame: pd.DataFrame, day: date) -> Finding:
    dates = frame["event_date"][frame["event_date"] <= day]
    newest = max(dates) if len(dates) else None
    lag = (day - newest).days if newest is not None else None
    assert rule.max_lag_days is not None  # validated
    firing = lag is None or lag > rule.max_lag_days
    if newest is None:
        text = f"marts.{mart} holds no day up to {day}"
    else:
        text = f"marts.{mart}'s newest day is {newest}, {lag} day(s) before {day}"
        text += f" (more than {rule.max_lag_days} allowed)" if firing else ""
    value = float(lag) if lag is not None else None
    return Finding(
        rule=rule.name,
        severity=rule.severity,
        scope=STALE_SCOPE,
        scope_id=mart,
        metric=STALE_METRIC,
        event_date=day,
        value=value,
        baseline=float(rule.max_lag_days),
        change=None,
        firing=firing,
        clear=not firing,
        message=text,
    )


# --- sums -----------------------------------------------------------------------------


def _normalised(frame: pd.DataFrame, mart: str, keys: tuple[str, ...]) -> pd.DataFrame:
    missing = [c for c in ("event_date", *keys, *ADDITIVE_METRICS) if c not in frame.columns]
    if missing:
        raise ValueError(f"{mart} frame lacks column(s) {', '.join(missing)}")
    out = frame[["event_date", *keys, *ADDITIVE_METRICS]].copy()
    # ClickHouse clients give dates as date objects or datetime64; compare as dates.
    out["event_date"] = pd.to_datetime(out["event_date"]).dt.date
    out[list(ADDITIVE_METRICS)] = out[list(ADDITIVE_METRICS)].fillna(0)
    return out


def _daily_sums(frame: pd.DataFrame, scope: str) -> Daily:
    if scope == "platform":
        grouped = frame.groupby("event_date")[list(ADDITIVE_METRICS)].sum()
        return {PLATFORM_ID: {d: row for d, row in zip(grouped.index, _records(grouped), strict=True)}}
    col = SCOPE_COLUMN[scope]
    grouped = frame.groupby([col, "event_date"])[list(ADDITIVE_METRICS)].sum()
    out: Daily = {}
    for (scope_id, d), row in zip(grouped.index, _records(grouped), strict=True):
        out.setdefault(str(scope_id), {})[d] = row
    return out


def _records(grouped: pd.DataFrame) -> list[dict[str, float]]:
    return [dict(zip(grouped.columns, map(float, values), strict=True)) for values in grouped.to_numpy()]


def _window(day: date, days: int) -> list[date]:
    """The `days` days before `day`, oldest first."""
    return [day - timedelta(days=n) for n in range(days, 0, -1)]


def _add(sums: Iterable[Sums]) -> dict[str, float]:
    total = dict.fromkeys(ADDITIVE_METRICS, 0.0)
    for s in sums:
        for m in ADDITIVE_METRICS:
            total[m] += s[m]
    return total


def _enough(sums: Sums, min_volume: Mapping[str, float]) -> bool:
    return all((metric_value(sums, m) or 0.0) >= v for m, v in min_volume.items())


def _baseline(window_sums: Sums, metric: str, days: int) -> float | None:
    """The window's value: a ratio of its sums, or a sum's daily mean."""
    value = metric_value(window_sums, metric)
    return value if metric in RATIOS or value is None else value / days


def _count_and_expectation(today: Sums, metric: str, baseline: float) -> tuple[float, float]:
    """The day's count and the count the baseline expects: a ratio's numerator against the
    baseline ratio times the day's denominator; a count against its daily mean."""
    if metric in RATIOS:
        num, den, scale = RATIOS[metric]
        return today[num], baseline * today[den] / scale
    return today[metric], baseline


# --- text -----------------------------------------------------------------------------

_PERCENT = {"ctr", "cvr"}
_CURRENCY = {*MONEY_METRICS, "cpc", "cpm"}


def _label(metric: str) -> str:
    return metric.upper() if metric in RATIOS else metric.replace("_", " ")


def _fmt(metric: str, value: float) -> str:
    if metric in _PERCENT:
        return f"{value:.2%}"
    if metric in _CURRENCY:
        return f"{value:,.2f}"
    if metric in RATIOS:
        return f"{value:.2f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _scope_text(scope: str, scope_id: str) -> str:
    return "the platform" if scope == "platform" else f"{scope} {scope_id}"


def _volume_text(today: Sums, metric: str) -> str:
    """The day's sums behind a ratio: " (conversions 3, clicks 140)"."""
    if metric not in RATIOS:
        return ""
    num, den, _ = RATIOS[metric]
    num_value, den_value = metric_value(today, num) or 0.0, metric_value(today, den) or 0.0
    return f" ({num} {_fmt(num, num_value)}, {den} {_fmt(den, den_value)})"


def _finding(
    rule: Rule,
    scope_id: str,
    metric: str,
    day: date,
    value: float | None,
    baseline: float | None,
    change: float | None,
    firing: bool,
    clear: bool,
    message: str,
) -> Finding:
    return Finding(
        rule=rule.name,
        severity=rule.severity,
        scope=rule.scope,
        scope_id=scope_id,
        metric=metric,
        event_date=day,
        value=value,
        baseline=baseline,
        change=change,
        firing=firing,
        clear=clear,
        message=message,
    )
