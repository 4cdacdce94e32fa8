"""An injected incident: conversions that collapse for a while, so the KPI alerts
(docs/alerts.md) have something real to fire on and recover from.

From `first_day` to `last_day` (inclusive, UTC; open-ended without one), each order of
the incident's target that would happen in that window happens only with probability
`factor`. The target breaks what it controls:

- a campaign (`campaign_id`): its landing page, so the orders it caused (its click's or,
  in a journey, its touch's) are lost; orders other touches caused are not;
- an advertiser (`advertiser_id`): its checkout or conversion pixel, so every order of
  the advertiser is lost, organic ones too;
- by default, the platform: the conversion collection itself, so every order is lost.
  Only the whole platform has the conversions to show a collapse at the default 30,000
  impressions a day (docs/alerts.md, "The incident").

The rest of the world is untouched: the thinning draws from a random stream of its
own after every other draw, so every other line of the logs is the same as without the
incident, and the truth loses exactly the orders the logs lose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from ad_assets.generator.catalog import Catalog

DEFAULT_FACTOR = 0.1
TARGETS = ("campaign", "advertiser")  # what an incident can hit; neither: the platform
ALL = ("platform", "all")  # the target without one of them
_STREAM = 0x1C1D  # the thinning's own random stream, beside the day's


@dataclass(frozen=True)
class Incident:
    first_day: date
    last_day: date | None = None  # inclusive; None: conversions never recover
    factor: float = DEFAULT_FACTOR  # share of the target's orders that still happen
    # At most one target; none: the whole platform.
    campaign_id: str | None = None
    advertiser_id: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.factor <= 1.0:
            raise ValueError(f"incident factor must lie in [0, 1], got {self.factor}")
        if self.last_day is not None and self.last_day < self.first_day:
            raise ValueError(f"incident ends ({self.last_day}) before it starts ({self.first_day})")
        if self.campaign_id is not None and self.advertiser_id is not None:
            raise ValueError("an incident hits one campaign or one advertiser, not both")

    @property
    def target(self) -> tuple[str, str]:
        """(kind, id) of what the incident hits, e.g. ('campaign', 'cmp-00113'); ALL without one."""
        if self.campaign_id is not None:
            return "campaign", self.campaign_id
        if self.advertiser_id is not None:
            return "advertiser", self.advertiser_id
        return ALL

    def window_us(self) -> tuple[int, int]:
        """[start, end) of the incident in µs since the epoch (end: far future if open)."""
        start = _day_us(self.first_day)
        end = np.iinfo(np.int64).max if self.last_day is None else _day_us(self.last_day + timedelta(days=1))
        return start, int(end)

    def check(self, cat: Catalog) -> None:
        """A target the catalog does not hold is an error (a typo would inject nothing)."""
        kind, ident = self.target
        known = {"campaign": cat.campaign_id, "advertiser": cat.advertiser_id}.get(kind)
        if known is not None and ident not in set(known.tolist()):
            raise ValueError(f"incident {kind} {ident!r} is not in the simulated catalog")


def kept_orders(
    incident: Incident,
    cat: Catalog,
    seed: int,
    day: date,
    order_ts: np.ndarray,
    order_advertiser: np.ndarray,
    order_campaign: np.ndarray,
) -> np.ndarray:
    """Which of the orders of simulated `day` still happen: all but the target's inside the
    window, of which a share `factor` survives. Per order: its time, its advertiser (into
    the catalog's) and the campaign that caused it (-1 for organic orders)."""
    incident.check(cat)
    start, end = incident.window_us()
    kind, ident = incident.target
    if kind == "campaign":
        hit = order_campaign == int(np.flatnonzero(cat.campaign_id == ident)[0])
    elif kind == "advertiser":
        hit = order_advertiser == int(np.flatnonzero(cat.advertiser_id == ident)[0])
    else:
        hit = np.ones(len(order_ts), dtype=bool)
    hit &= (order_ts >= start) & (order_ts < end)
    rng = np.random.default_rng([seed, day.toordinal(), _STREAM])
    return ~hit | (rng.random(len(order_ts)) < incident.factor)


def parse_incident(text: str) -> Incident:
    """The command line's form, keys in any order, `from` required:
    `from=2026-11-05[,to=2026-11-06][,factor=0.1][,campaign=cmp-00113|advertiser=adv-0024]`."""
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
    )


def _day_us(day: date) -> int:
    return int(np.datetime64(day, "D").astype("datetime64[us]").astype(np.int64))
