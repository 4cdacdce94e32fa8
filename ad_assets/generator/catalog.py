"""The simulated ad ecosystem: advertisers, campaigns, creatives, publishers, placements and
users. Fixed by the seed, so every day of traffic is drawn against the same world."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np

from ad_assets.generator.columns import Coded, HexIds, random_ids
from ad_assets.generator.sampling import WeightedChoice
from spark_jobs.consent import encode_tcf
from spark_jobs.contracts import CHANNELS

# Per vertical: conversion type mix, value model (log-normal median in currency units and
# sigma; 0 = no monetary value), and post-click conversion rate.
VERTICALS: dict[str, dict] = {
    "retail": {"conv": {"purchase": 0.85, "signup": 0.15}, "median": 55.0, "sigma": 0.8, "cvr": 0.030},
    "travel": {"conv": {"purchase": 0.7, "lead": 0.3}, "median": 380.0, "sigma": 0.7, "cvr": 0.012},
    "finance": {"conv": {"lead": 0.8, "signup": 0.2}, "median": 40.0, "sigma": 0.3, "cvr": 0.045},
    "gaming": {"conv": {"app_install": 0.75, "purchase": 0.25}, "median": 4.0, "sigma": 1.0, "cvr": 0.080},
    "auto": {"conv": {"lead": 1.0}, "median": 60.0, "sigma": 0.4, "cvr": 0.018},
    "cpg": {"conv": {"purchase": 0.6, "signup": 0.4}, "median": 18.0, "sigma": 0.5, "cvr": 0.022},
}
# Base click-through rate by channel (display banners ~0.1-0.5%, native higher, search 2-6%).
CHANNEL_CTR: dict[str, float] = {
    "display": 0.0025,
    "native": 0.0085,
    "video": 0.0060,
    "search": 0.0350,
    "social": 0.0090,
}
CHANNEL_FORMATS: dict[str, tuple[str, ...]] = {
    "display": ("banner",),
    "native": ("native",),
    "video": ("video",),
    "search": ("text",),
    "social": ("native", "banner", "video"),
}
# Share of requests per channel, and the typical floor (CPM) of its inventory.
CHANNEL_SHARE: dict[str, float] = {
    "display": 0.45,
    "native": 0.18,
    "video": 0.12,
    "search": 0.10,
    "social": 0.15,
}
CHANNEL_FLOOR_CPM: dict[str, float] = {
    "display": 0.6,
    "native": 1.2,
    "video": 4.0,
    "search": 2.0,
    "social": 1.5,
}
COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN", "JP", "CA", "AU", "ES", "IT", "MX", "NL", "PL", "SE")
COUNTRY_WEIGHTS = np.array([38, 9, 8, 6, 7, 8, 5, 4, 3, 3, 3, 2, 2, 1, 1], dtype=float)
DEVICES = {  # device type -> (share, operating systems, their weights)
    "mobile": (0.58, ("android", "ios"), (0.6, 0.4)),
    "desktop": (0.30, ("windows", "macos", "linux"), (0.72, 0.24, 0.04)),
    "tablet": (0.07, ("ios", "android"), (0.6, 0.4)),
    "ctv": (0.05, ("tvos", "android", "other"), (0.3, 0.4, 0.3)),
}
DEVICE_TYPES = np.array(list(DEVICES))
OPERATING_SYSTEMS = np.array(list(dict.fromkeys(os for _, oses, _ in DEVICES.values() for os in oses)))
USER_AGENTS = {
    "android": "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0 Mobile Safari/537.36",  # noqa: E501
    "ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 19_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/19.1 Mobile/15E148 Safari/604.1",  # noqa: E501
    "windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0 Safari/537.36",  # noqa: E501
    "macos": "Mozilla/5.0 (Macintosh; Intel Mac OS X 15_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/19.1 Safari/605.1.15",  # noqa: E501
    "linux": "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "tvos": "AppleTV14,1/19.1",
    "other": "Roku/DVP-14.5 (14.5.0.4101)",
}
WORDS = (
    "news",
    "daily",
    "sport",
    "tech",
    "recipes",
    "travel",
    "weather",
    "games",
    "music",
    "auto",
    "money",
    "health",
    "style",
    "movies",
    "home",
    "garden",
    "pets",
    "science",
    "outdoor",
    "deals",
)


@dataclass(frozen=True)
class Catalog:
    """Entities as parallel numpy arrays (index = entity number)."""

    advertiser_id: np.ndarray
    advertiser_vertical: np.ndarray
    campaign_id: np.ndarray
    campaign_advertiser: np.ndarray  # index into advertisers
    campaign_channel: np.ndarray
    campaign_format: np.ndarray
    campaign_start: np.ndarray  # datetime64[D]
    campaign_end: np.ndarray
    campaign_daily_budget_micros: np.ndarray
    campaign_base_bid_cpm: np.ndarray
    campaign_ctr_factor: np.ndarray
    creatives_per_campaign: int
    placement_id: np.ndarray
    placement_publisher: np.ndarray
    placement_channel: np.ndarray
    placement_format: np.ndarray
    placement_floor_cpm: np.ndarray
    placement_weight: np.ndarray
    publisher_id: np.ndarray
    publisher_is_app: np.ndarray
    publisher_domain: np.ndarray  # domain or app bundle
    # Users as codes (millions of them at scale): strings only when asked for.
    user_key: np.ndarray  # (users, 8) uint8: the random bytes of the id "u-<hex>"
    user_weight: np.ndarray  # Zipf-like activity, sums to 1
    user_device_code: np.ndarray  # index into DEVICE_TYPES
    user_os_code: np.ndarray  # index into OPERATING_SYSTEMS
    user_country_code: np.ndarray  # index into COUNTRIES
    user_consent_code: np.ndarray  # index into CONSENT_STRINGS, sent where GDPR applies
    user_is_bot: np.ndarray  # bool: automated traffic posing as a user (docs/segments.md)

    @cached_property
    def user_id(self) -> np.ndarray:
        return HexIds(self.user_key, USER_PREFIX).materialise()

    @cached_property
    def user_device(self) -> np.ndarray:
        return DEVICE_TYPES[self.user_device_code]

    @cached_property
    def user_os(self) -> np.ndarray:
        return OPERATING_SYSTEMS[self.user_os_code]

    @cached_property
    def user_country(self) -> np.ndarray:
        return np.array(COUNTRIES)[self.user_country_code]

    @cached_property
    def creative_ids(self) -> np.ndarray:
        """Every campaign's creatives: campaign c's slot s (from 1) is at c * per_campaign + s - 1."""
        slots = range(1, self.creatives_per_campaign + 1)
        return np.array([f"{c}-cr{s}" for c in self.campaign_id for s in slots])

    # Samplers of the weighted draws made every day (their tables are built once).

    @cached_property
    def user_choice(self) -> WeightedChoice:
        return WeightedChoice(self.user_weight)

    @cached_property
    def placement_choice(self) -> WeightedChoice:
        return WeightedChoice(self.placement_weight)

    @cached_property
    def placement_channel_code(self) -> np.ndarray:
        """Index into CHANNELS of each placement's channel."""
        return np.array([CHANNELS.index(c) for c in self.placement_channel])

    @cached_property
    def campaign_channel_code(self) -> np.ndarray:
        """Index into CHANNELS of each campaign's channel."""
        return np.array([CHANNELS.index(c) for c in self.campaign_channel])

    @cached_property
    def campaign_start_day(self) -> np.ndarray:
        """Each campaign's first day as days since the epoch."""
        return self.campaign_start.astype("datetime64[D]").astype(np.int64)

    @cached_property
    def campaign_end_day(self) -> np.ndarray:
        """Each campaign's end as days since the epoch (its flight ends before that day)."""
        return self.campaign_end.astype("datetime64[D]").astype(np.int64)

    @cached_property
    def advertiser_campaigns(self) -> np.ndarray:
        """(advertisers, most campaigns of one) campaign numbers of each advertiser, -1 padded."""
        counts = np.bincount(self.campaign_advertiser, minlength=len(self.advertiser_id))
        slots = np.full((len(counts), max(int(counts.max()), 1)), -1, dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        order = np.argsort(self.campaign_advertiser, kind="stable")
        rank = np.arange(len(order)) - first[self.campaign_advertiser[order]]
        slots[self.campaign_advertiser[order], rank] = order
        return slots

    @cached_property
    def channel_placement_choice(self) -> dict[int, tuple[np.ndarray, WeightedChoice]]:
        """Per channel code: its placements and a sampler of them by traffic weight."""
        out = {}
        for code in range(len(CHANNELS)):
            pool = np.flatnonzero(self.placement_channel_code == code)
            if len(pool):
                w = self.placement_weight[pool]
                out[code] = (pool, WeightedChoice(w / w.sum()))
        return out

    def creative(self, campaign: np.ndarray, slot: np.ndarray) -> Coded:
        return Coded(campaign * self.creatives_per_campaign + slot - 1, self.creative_ids)

    def creative_id(self, campaign: np.ndarray, slot: np.ndarray) -> np.ndarray:
        return self.creative(campaign, slot).materialise()


USER_PREFIX = "u-"


def hex_ids(rng: np.random.Generator, n: int, nbytes: int = 16) -> np.ndarray:
    """n random lowercase hex ids, vectorised (one hex string, cut into fixed widths)."""
    return random_ids(rng, n, nbytes).materialise()


# Campaign flights start or end within this many days of the simulation start.
FLIGHT_HORIZON_DAYS = 14


def build_catalog(seed: int, start: date, impressions_per_day: int, n_advertisers: int = 30) -> Catalog:
    """The world depends only on its arguments, so any day can be generated on its own."""
    rng = np.random.default_rng([seed, 0xCA7])
    verticals = np.array(list(VERTICALS))
    adv_ids = np.array([f"adv-{i:04d}" for i in range(1, n_advertisers + 1)])
    adv_vertical = verticals[rng.integers(0, len(verticals), n_advertisers)]

    # Campaigns: 3-7 per advertiser, each on one channel, some starting or ending mid-window.
    per_adv = rng.integers(3, 8, n_advertisers)
    camp_adv = np.repeat(np.arange(n_advertisers), per_adv)
    n_camp = len(camp_adv)
    camp_ids = np.array([f"cmp-{i:05d}" for i in range(1, n_camp + 1)])
    channels = np.array(CHANNELS)
    camp_channel = channels[rng.choice(len(channels), n_camp, p=[0.38, 0.2, 0.15, 0.12, 0.15])]
    camp_format = np.array([rng.choice(CHANNEL_FORMATS[c]) for c in camp_channel])
    start64 = np.datetime64(start, "D")
    offset_start = np.where(rng.random(n_camp) < 0.25, rng.integers(1, FLIGHT_HORIZON_DAYS, n_camp), -30)
    offset_end = np.where(rng.random(n_camp) < 0.2, rng.integers(1, FLIGHT_HORIZON_DAYS, n_camp), 10_000)
    camp_start = start64 + np.minimum(offset_start, offset_end - 1)
    camp_end = start64 + offset_end
    base_bid = np.array([CHANNEL_FLOOR_CPM[c] for c in camp_channel]) * rng.lognormal(0.45, 0.3, n_camp)
    budget = (rng.lognormal(np.log(impressions_per_day / 60), 0.8, n_camp) * base_bid * 1000).astype(np.int64)

    # Inventory: publishers (sites or apps) with placements of one channel/format each.
    n_pub = max(40, n_advertisers * 4)
    pub_ids = np.array([f"pub-{i:04d}" for i in range(1, n_pub + 1)])
    pub_is_app = rng.random(n_pub) < 0.4
    w1 = np.array(WORDS)[rng.integers(0, len(WORDS), n_pub)]
    w2 = np.array(WORDS)[rng.integers(0, len(WORDS), n_pub)]
    pub_domain = np.where(
        pub_is_app,
        np.char.add(np.char.add(np.char.add("com.", w1), "."), np.char.add(w2, "app")),
        np.char.add(np.char.add(w1, w2), ".example.com"),
    )
    n_plc = n_pub * 3
    plc_pub = rng.integers(0, n_pub, n_plc)
    share = np.array([CHANNEL_SHARE[c] for c in CHANNELS])
    plc_channel = channels[rng.choice(len(channels), n_plc, p=share / share.sum())]
    plc_format = np.array([rng.choice(CHANNEL_FORMATS[c]) for c in plc_channel])
    plc_floor = np.array([CHANNEL_FLOOR_CPM[c] for c in plc_channel]) * rng.lognormal(0, 0.35, n_plc)
    plc_weight = rng.pareto(1.5, n_plc) + 0.2
    plc_weight /= plc_weight.sum()

    # Users: heavy-tailed (Zipf-like) activity over a fixed population.
    n_users = max(5_000, impressions_per_day * 2)
    ranks = np.arange(1, n_users + 1, dtype=float)
    user_weight = rng.permutation(1.0 / ranks**1.05)
    # Bots: a few users, each making BOT_ACTIVITY times the requests of a person.
    is_bot = np.random.default_rng([seed, 0xB07]).random(n_users) < BOT_SHARE
    user_weight = np.where(is_bot, user_weight * BOT_ACTIVITY, user_weight)
    user_weight /= user_weight.sum()
    user_device = rng.choice(len(DEVICE_TYPES), n_users, p=[d[0] for d in DEVICES.values()]).astype(np.int8)
    user_os = np.empty(n_users, dtype=np.int8)
    for dev, (_, oses, weights) in enumerate(DEVICES.values()):
        mask = user_device == dev
        os_codes = np.array([list(OPERATING_SYSTEMS).index(o) for o in oses])
        user_os[mask] = os_codes[rng.choice(len(oses), int(mask.sum()), p=weights)]
    country_share = COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum()
    user_country = rng.choice(len(COUNTRIES), n_users, p=country_share).astype(np.int8)
    return Catalog(
        advertiser_id=adv_ids,
        advertiser_vertical=adv_vertical,
        campaign_id=camp_ids,
        campaign_advertiser=camp_adv,
        campaign_channel=camp_channel,
        campaign_format=camp_format,
        campaign_start=camp_start,
        campaign_end=camp_end,
        campaign_daily_budget_micros=budget,
        campaign_base_bid_cpm=base_bid,
        campaign_ctr_factor=rng.lognormal(0, 0.3, n_camp),
        creatives_per_campaign=3,
        placement_id=np.array([f"plc-{i:05d}" for i in range(1, n_plc + 1)]),
        placement_publisher=plc_pub,
        placement_channel=plc_channel,
        placement_format=plc_format,
        placement_floor_cpm=plc_floor,
        placement_weight=plc_weight,
        publisher_id=pub_ids,
        publisher_is_app=pub_is_app,
        publisher_domain=pub_domain,
        user_key=random_ids(rng, n_users, 8).raw,
        user_weight=user_weight,
        user_device_code=user_device,
        user_os_code=user_os,
        user_country_code=user_country,
        user_consent_code=_user_consent(seed, n_users),
        user_is_bot=is_bot,
    )


# What a user answered their consent banner: the TCF string every request of theirs
# carries where GDPR applies (docs/privacy.md). Code 0: no string (refused everything, or
# no banner shown); 1: every purpose; 2: ads, but not the measurement purposes.
CONSENT_STRINGS = np.array(
    [
        "",
        encode_tcf(range(1, 11), vendors=(10, 32, 52, 91)),
        encode_tcf((1, 2, 3, 4)),  # device access and ads, but not measurement (7)
    ]
)
CONSENT_SHARES = (0.08, 0.78, 0.14)
BOT_SHARE = 0.003  # of users (a stream of its own)
BOT_ACTIVITY = 10.0  # European opt-in rates run around 70-85%


def _user_consent(seed: int, n_users: int) -> np.ndarray:
    # A stream of its own: the rest of the world does not change with the consent mix.
    rng = np.random.default_rng([seed, 0xC0])
    return rng.choice(len(CONSENT_STRINGS), n_users, p=CONSENT_SHARES).astype(np.int8)
