"""An injected incident: conversions that collapse for a while, so the KPI alerts
(docs/alerts.md) have something real to fire on and recover from.

The incident hits one campaign, one advertiser's campaigns, one channel's campaigns or,
by default, every campaign (only the whole platform has the conversions to show a
collapse at the default 30,000 impressions a day; docs/alerts.md, "The incident"). From
`first_day` to `last_day` (inclusive, UTC; open-ended without one), each order a hit
campaign caused (its click's or, in a journey, its touch's) that would happen in that
window happens only with probability `factor`: the landing page or checkout broke for the
visitors those campaigns send. Organic orders, which no campaign caused, are untouched.

The rest of the world is untouched too: the thinning draws from a random stream of its
own after every other draw, so every other line of the logs is the same as without the
incident, and the truth loses exactly the orders the logs lose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from ad_assets.generator.catalog import Catalog
from spark_jobs.contracts import CHANNELS

DEFAULT_FACTOR = 0.1
TARGETS = ("campaign", "advertiser", "channel")  # what an incident can hit: one, or all campaigns
ALL = ("all", "all")  # the target without one of them
_STREAM = 0x1C1D  # the thinning's own random stream, beside the day's


@dataclass(frozen=True)
class Incident:
    first_day: date
    last_day: date | None = None  # inclusive; None: conversions never recover
    factor: float = DEFAULT_FACTOR  # share of the hit campaigns' orders that still happen
    # At most one target; none: every campaign.
    campaign_id: str | None = None
    advertiser_id: str | None = None
    channel: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.factor <= 1.0:
            raise ValueError(f"incident factor must lie in [0, 1], got {self.factor}")
        if self.last_day is not None and self.last_day < self.first_day:
            raise ValueError(f"incident ends ({self.last_day}) before it starts ({self.first_day})")
        if sum(t is not None for t in (self.campaign_id, self.advertiser_id, self.channel)) > 1:
            raise ValueError("an incident hits one campaign, one advertiser or one channel, not several")
        if self.channel is not None and self.channel not in CHANNELS:
            raise ValueError(f"incident channel {self.channel!r} is not one of {', '.join(CHANNELS)}")

    @property
    def target(self) -> tuple[str, str]:
        """(kind, id) of what the incident hits, e.g. ('channel', 'search'); ALL without one."""
        if self.campaign_id is not None:
            return "campaign", self.campaign_id
        if self.advertiser_id is not None:
            return "advertiser", self.advertiser_id
        if self.channel is not None:
            return "channel", self.channel
        return ALL

    def window_us(self) -> tuple[int, int]:
        """[start, end) of the incident in µs since the epoch (end: far future if open)."""
        start = _day_us(self.first_day)
        end = np.iinfo(np.int64).max if self.last_day is None else _day_us(self.last_day + timedelta(days=1))
        return start, int(end)

    def campaigns(self, cat: Catalog) -> np.ndarray:
        """Per campaign of the catalog: whether the incident hits it. An id the catalog
        does not hold is an error (a typo would otherwise inject nothing)."""
        kind, ident = self.target
        if (kind, ident) == ALL:
            return np.ones(len(cat.campaign_id), dtype=bool)
        if kind == "campaign":
            hit = cat.campaign_id == ident
        elif kind == "advertiser":
            hit = cat.advertiser_id[cat.campaign_advertiser] == ident
        else:
            hit = cat.campaign_channel == ident
        if not hit.any():
            raise ValueError(f"incident {kind} {ident!r} has no campaign in the simulated catalog")
        return hit


def kept_orders(
    incident: Incident,
    hit: np.ndarray,
    seed: int,
    day: date,
    order_campaign: np.ndarray,
    order_ts: np.ndarray,
) -> np.ndarray:
    """Which of the orders of simulated `day` still happen: all but those of hit campaigns
    (`hit`: per campaign) inside the window, of which a share `factor` survives.
    `order_campaign`: the campaign that caused each order, -1 for organic orders."""
    start, end = incident.window_us()
    caused = order_campaign >= 0
    hit_order = caused & hit[np.where(caused, order_campaign, 0)] & (order_ts >= start) & (order_ts < end)
    rng = np.random.default_rng([seed, day.toordinal(), _STREAM])
    return ~hit_order | (rng.random(len(order_ts)) < incident.factor)


def parse_incident(text: str) -> Incident:
    """The command line's form, keys in any order, `from` required:
    `from=2026-11-05[,to=2026-11-06][,factor=0.1][,campaign=cmp-00113|advertiser=adv-0024|channel=search]`."""
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not value:
            raise ValueError(f"incident: expected key=value, got {part!r}")
        if key not in ("from", "to", "factor", *TARGETS):
            raise ValueError(f"incident: unknown key {key!r} (from, to, factor, {', '.join(TARGETS)})")
        if key in fields:
            raise ValueError(f"incident: {key!r} given twice")
        fields[key] = value
    if "from" not in fields:
        raise ValueError("incident: 'from=YYYY-MM-DD' is required")
    try:
        first = date.fromisoformat(fields["from"])
        last = date.fromisoformat(fields["to"]) if "to" in fields else None
    except ValueError as e:
        raise ValueError(f"incident: dates are YYYY-MM-DD ({e})") from None
    try:
        factor = float(fields.get("factor", DEFAULT_FACTOR))
    except ValueError:
        raise ValueError(f"incident: factor must be a number, got {fields['factor']!r}") from None
    return Incident(
        first_day=first,
        last_day=last,
        factor=factor,
        campaign_id=fields.get("campaign"),
        advertiser_id=fields.get("advertiser"),
        channel=fields.get("channel"),
    )


def _day_us(day: date) -> int:
    return int(np.datetime64(day, "D").astype("datetime64[us]").astype(np.int64))
