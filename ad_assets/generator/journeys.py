"""In-market users' journeys: how a user comes to buy from an advertiser after seeing and
clicking several of its campaigns, and which touch really caused the purchase.

A journey starts on a simulated day: a user comes in market for an advertiser and, over
the following days (median two, at most `max_span_days`), is reached by the advertiser's
campaigns in stages (docs/attribution.md, "The simulated journeys"):

1. prospecting: views on its display, video, social and native campaigns;
2. after the user's first click, retargeting: more views, mostly display, bid higher;
3. search: the user looks the brand up, likelier after a click, and sees its text ad.

Every touch is a real auction the campaign must win (simulate.py serves it like any other
request). In-market users click more than the average user (`ctr_boost`).

Whether and why the user converts (competing risks): each touch the user saw or clicked
causes a purchase with a probability that depends on its channel and on whether it was
clicked (CLICK_EFFECT, VIEW_EFFECT), lowered for every earlier touch of the same
campaign (`fatigue`: frequency); a touch that would cause one does so after a delay, and
the purchase comes from the touch whose delay ends first (recency: recent touches with
short delays win over old ones). A user no touch persuades may still buy on their own
(`organic_rate`): no campaign caused that purchase."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import numpy as np

from ad_assets.generator.catalog import Catalog
from spark_jobs.contracts import CHANNELS

US = 1_000_000
_Rows = TypeVar("_Rows")
DAY_US = 86_400 * US
STAGES = ("prospecting", "retargeting", "search")
PROSPECTING, RETARGETING, SEARCH = 0, 1, 2

# How a stage picks among the advertiser's campaigns: weight by the campaign's channel.
STAGE_CHANNEL_WEIGHT: dict[int, dict[str, float]] = {
    PROSPECTING: {"display": 1.0, "video": 0.5, "social": 0.6, "native": 0.6},
    RETARGETING: {"display": 1.0, "native": 0.6, "social": 0.6, "video": 0.2},
    SEARCH: {"search": 1.0},
}
# Probability that one touch of an in-market user causes the purchase: a click far more
# than a view; a brand-search click most of all; a view of a text ad hardly at all.
CLICK_EFFECT: dict[str, float] = {
    "display": 0.10,
    "native": 0.12,
    "video": 0.10,
    "social": 0.10,
    "search": 0.25,
}
VIEW_EFFECT: dict[str, float] = {
    "display": 0.002,
    "native": 0.003,
    "video": 0.005,
    "social": 0.003,
    "search": 0.0,
}


def concat_rows(cls: type[_Rows], parts: list[_Rows]) -> _Rows:
    """Instances of a dataclass of parallel arrays, one after another, as one."""
    return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))


@dataclass(frozen=True)
class JourneyProfile:
    """Rates of the journeys; tests and docs/attribution.md read them."""

    per_1k_impressions: float = 60.0  # journeys that start per 1,000 impressions of the day
    span_median_days: float = 2.0
    max_span_days: float = 10.0  # some touches fall outside the 7-day attribution window
    prospecting_touches: float = 5.0  # mean views planned before any click
    retargeting_touches: float = 6.0  # mean views planned after the first click
    search_after_click: float = 0.8  # chance the user searches the brand after a click
    search_after_views: float = 0.25  # ... after views only
    ctr_boost: tuple[float, float, float] = (2.0, 4.0, 8.0)  # per stage, x the channel's CTR
    bid_boost: tuple[float, float, float] = (1.2, 1.8, 1.5)  # per stage, x the campaign's bid
    fatigue: float = 0.8  # effect of a touch x this, per earlier touch of the same campaign
    organic_rate: float = 0.005  # in-market users who buy with no ad's doing
    max_conversion_days: int = 30  # after the journey's day, as for clicked conversions


@dataclass(frozen=True)
class Journeys:
    """One row per journey."""

    user: np.ndarray  # into the catalog's users
    advertiser: np.ndarray
    start: np.ndarray  # µs since the epoch
    span: np.ndarray  # µs


@dataclass(frozen=True)
class Touches:
    """Planned touches: the auctions a journey's campaigns bid in for the user."""

    journey: np.ndarray
    ts: np.ndarray  # the bid request's time, µs
    campaign: np.ndarray
    stage: np.ndarray  # into STAGES

    def __len__(self) -> int:
        return len(self.journey)


@dataclass(frozen=True)
class Seen:
    """Touches that reached the user: the campaign won, the ad rendered (maybe clicked)."""

    journey: np.ndarray
    campaign: np.ndarray
    stage: np.ndarray
    impression_ts: np.ndarray
    click_ts: np.ndarray  # -1 where not clicked
    impression_id: np.ndarray  # (rows, 16) uint8: the impression's event_id bytes
    click_id: np.ndarray  # (rows, 16) uint8: the click's event_id bytes (zeros if none)

    @property
    def clicked(self) -> np.ndarray:
        return self.click_ts >= 0

    @staticmethod
    def concat(parts: list[Seen]) -> Seen:
        return concat_rows(Seen, parts)


@dataclass(frozen=True)
class Purchases:
    """Journeys' conversions: the touch that caused each (row of Seen), -1 for organic."""

    journey: np.ndarray
    ts: np.ndarray
    cause: np.ndarray


def start_journeys(
    rng: np.random.Generator, cat: Catalog, day: date, start: np.ndarray, jp: JourneyProfile
) -> Journeys:
    """Users come in market on `day`, at `start`, each for an advertiser with a campaign in
    flight (likelier the more its campaigns spend)."""
    n = len(start)
    day64 = np.datetime64(day, "D")
    active = (cat.campaign_start <= day64) & (cat.campaign_end > day64)
    budget = np.bincount(
        cat.campaign_advertiser,
        weights=cat.campaign_daily_budget_micros * active,
        minlength=len(cat.advertiser_id),
    )
    advertiser = rng.choice(len(budget), n, p=budget / budget.sum())
    user = cat.user_choice.draw(rng, n)
    span = np.minimum(rng.lognormal(np.log(jp.span_median_days), 0.8, n), jp.max_span_days) * DAY_US
    return Journeys(user=user, advertiser=advertiser, start=start, span=span.astype(np.int64))


def prospecting(rng: np.random.Generator, cat: Catalog, j: Journeys, jp: JourneyProfile) -> Touches:
    """Views planned over each journey's span, before any click."""
    per = 1 + rng.poisson(jp.prospecting_touches - 1, len(j.user))
    journey = np.repeat(np.arange(len(j.user)), per)
    ts = j.start[journey] + (j.span[journey] * rng.random(len(journey))).astype(np.int64)
    return _touches(rng, cat, j, journey, ts, PROSPECTING)


def follow_ups(
    rng: np.random.Generator, cat: Catalog, j: Journeys, seen: Seen, jp: JourneyProfile
) -> Touches:
    """Retargeting views after each journey's first click, over the rest of its span, and
    brand searches (likelier after a click) towards its end."""
    n = len(j.user)
    first_click = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_click, seen.journey[seen.clicked], seen.click_ts[seen.clicked])
    clicked = first_click < np.iinfo(np.int64).max
    end = j.start + j.span
    # Retargeting: from the first click to the journey's end (at least a day after the click).
    per = np.where(clicked, rng.poisson(jp.retargeting_touches, n), 0)
    rt = np.repeat(np.arange(n), per)
    after = np.maximum(end[rt] - first_click[rt], DAY_US)
    rt_ts = first_click[rt] + (after * rng.random(len(rt))).astype(np.int64)
    # Search: one or two lookups in the last third of the journey (after the click, if any).
    searches = rng.random(n) < np.where(clicked, jp.search_after_click, jp.search_after_views)
    per = np.where(searches, 1 + (rng.random(n) < 0.3), 0)
    sr = np.repeat(np.arange(n), per)
    lo = np.where(
        clicked[sr], np.maximum(first_click[sr], end[sr] - j.span[sr] // 3), end[sr] - j.span[sr] // 3
    )
    sr_ts = lo + (np.maximum(end[sr] - lo, US) * rng.random(len(sr))).astype(np.int64)
    a = _touches(rng, cat, j, rt, rt_ts, RETARGETING)
    b = _touches(rng, cat, j, sr, sr_ts, SEARCH)
    return concat_rows(Touches, [a, b])


def _touches(
    rng: np.random.Generator, cat: Catalog, j: Journeys, journey: np.ndarray, ts: np.ndarray, stage: int
) -> Touches:
    """Each touch goes to one of the journey advertiser's campaigns, by the stage's channel
    weights; touches whose advertiser has no such campaign in flight that day are dropped."""
    cand = cat.advertiser_campaigns[j.advertiser[journey]]  # (touches, slots), -1 padded
    weight_of = np.array([STAGE_CHANNEL_WEIGHT[stage].get(c, 0.0) for c in CHANNELS])
    day = ts // DAY_US
    in_flight = (cand >= 0) & (cat.campaign_end_day[cand] > day[:, None])
    in_flight &= cat.campaign_start_day[cand] <= day[:, None]
    w = np.where(in_flight, weight_of[cat.campaign_channel_code[cand]], 0.0)
    total = w.sum(axis=1)
    u = rng.random(len(journey)) * total
    pick = np.minimum((np.cumsum(w, axis=1) <= u[:, None]).sum(axis=1), cand.shape[1] - 1)
    campaign = cand[np.arange(len(journey)), pick]
    keep = total > 0
    return Touches(
        journey=journey[keep],
        ts=ts[keep],
        campaign=campaign[keep],
        stage=np.full(int(keep.sum()), stage, dtype=np.int8),
    )


def targeted_placements(rng: np.random.Generator, cat: Catalog, campaign: np.ndarray) -> np.ndarray:
    """A placement of each touch's campaign's channel, by traffic weight."""
    channel = cat.campaign_channel_code[campaign]
    plc = np.empty(len(campaign), dtype=np.int64)
    for code, (pool, choice) in cat.channel_placement_choice.items():
        rows = np.flatnonzero(channel == code)
        plc[rows] = pool[choice.draw(rng, len(rows))]
    return plc


def purchases(
    rng: np.random.Generator, cat: Catalog, j: Journeys, seen: Seen, jp: JourneyProfile, day_start: int
) -> Purchases:
    """Competing risks over the touches each user saw (module docstring); then organic
    purchases of the users no touch persuaded."""
    order = np.lexsort((seen.impression_ts, seen.campaign, seen.journey))
    jrn, camp = seen.journey[order], seen.campaign[order]
    new_group = np.r_[True, (jrn[1:] != jrn[:-1]) | (camp[1:] != camp[:-1])]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(order)), 0))
    earlier = np.empty(len(order), dtype=np.int64)
    earlier[order] = np.arange(len(order)) - group_start  # earlier touches of that campaign
    channel = cat.campaign_channel_code[seen.campaign]
    click_effect = np.array([CLICK_EFFECT[c] for c in CHANNELS])
    view_effect = np.array([VIEW_EFFECT[c] for c in CHANNELS])
    effect = np.where(seen.clicked, click_effect[channel], view_effect[channel]) * jp.fatigue**earlier
    fires = rng.random(len(effect)) < effect
    delay = conversion_delay(rng, len(effect))
    at = np.where(seen.clicked, seen.click_ts, seen.impression_ts) + delay
    at = np.minimum(at, day_start + jp.max_conversion_days * DAY_US - 1)
    f = np.flatnonzero(fires)
    f = f[np.lexsort((at[f], seen.journey[f]))]
    first = f[np.r_[True, seen.journey[f][1:] != seen.journey[f][:-1]]] if len(f) else f
    converted = np.zeros(len(j.user), dtype=bool)
    converted[seen.journey[first]] = True
    organic = np.flatnonzero(~converted & (rng.random(len(j.user)) < jp.organic_rate))
    organic_ts = j.start[organic] + (j.span[organic] * rng.random(len(organic))).astype(np.int64)
    return Purchases(
        journey=np.concatenate([seen.journey[first], organic]),
        ts=np.concatenate([at[first], organic_ts]),
        cause=np.concatenate([first, np.full(len(organic), -1)]),
    )


def conversion_delay(rng: np.random.Generator, n: int) -> np.ndarray:
    """From the causing touch to the purchase: a third within the hour, most within days,
    none after 30."""
    fast = rng.random(n) < 1 / 3
    return np.where(
        fast,
        rng.uniform(30e6, 3600e6, n),
        np.minimum(rng.lognormal(np.log(1.2 * DAY_US), 1.1, n), 30 * DAY_US - 1),
    ).astype(np.int64)
