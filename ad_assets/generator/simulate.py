"""One day of ad-server traffic, vectorised with numpy: bid requests, OpenRTB auctions,
impressions for won auctions, clicks and the conversions they lead to, plus invalid and
test traffic.

Times are integer microseconds since the epoch (UTC) until serialisation. `simulate_day`
keeps strings as codes and random bytes (see columns.py); `generate_day` gives the same
columns as plain arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np

from ad_assets.generator.catalog import (
    CHANNEL_CTR,
    CONSENT_STRINGS,
    COUNTRIES,
    DEVICE_TYPES,
    OPERATING_SYSTEMS,
    USER_PREFIX,
    VERTICALS,
    Catalog,
)
from ad_assets.generator.columns import (
    Coded,
    Column,
    HexIds,
    concat_columns,
    materialise,
    random_ids,
    take,
    take_columns,
)
from ad_assets.generator.incident import Incident, kept_orders
from ad_assets.generator.journeys import (
    JourneyProfile,
    Seen,
    Touches,
    concat_rows,
    conversion_delay,
    follow_ups,
    prospecting,
    purchases,
    start_journeys,
    targeted_placements,
)
from ad_assets.generator.sampling import WeightedChoice
from spark_jobs.contracts import CHANNELS

US = 1_000_000
HOUR_US = 3600 * US
DAY_US = 24 * HOUR_US
MAX_BIDS = 4  # bid responses per request at most
_ROWS = 1 << 15  # rows per slice of row-wise arithmetic


@dataclass(frozen=True)
class TrafficProfile:
    """Rates of the simulation; the defaults are realistic ranges, tests read them."""

    fill_rate: float = 0.30  # share of requests that end in an impression (calibrated below)
    test_rate: float = 0.003
    givt_rate: float = 0.020
    sivt_rate: float = 0.010
    night_ivt_multiplier: float = 2.5  # bots are a larger share of traffic at night
    bot_ctr_multiplier: float = 6.0
    # Bot users (catalog.user_is_bot): the exchange flags this share of their impressions
    # as SIVT; the rest look human until their clicks (fast, many) give them away.
    bot_flagged_share: float = 0.6
    click_givt_rate: float = 0.015
    organic_conversion_share: float = 0.25  # conversions with no click behind them
    duplicate_pixel_rate: float = 0.01  # same order reported twice by the pixel
    not_rendered_rate: float = 0.03  # won auctions whose ad never rendered
    gdpr_countries: tuple[str, ...] = ("GB", "DE", "FR", "ES", "IT", "NL", "PL", "SE")
    journeys: JourneyProfile = field(default_factory=JourneyProfile)  # in-market users


# Traffic share by hour of day (UTC): trough around 04:00, evening peak around 20:00.
_HOURS = np.arange(24)
HOURLY_WEIGHTS = (
    0.25
    + 0.55 * (0.5 - 0.5 * np.cos(2 * np.pi * (_HOURS - 4) / 24))
    + 0.35 * np.exp(-((_HOURS - 20.5) ** 2) / 6)
)
HOURLY_WEIGHTS = HOURLY_WEIGHTS / HOURLY_WEIGHTS.sum()
WEEKDAY_FACTOR = (1.0, 0.98, 1.0, 1.02, 1.06, 0.93, 0.88)  # Monday first
NIGHT_HOURS = frozenset(range(0, 6))
_HOUR_CHOICE = WeightedChoice(HOURLY_WEIGHTS)

# Vocabularies of the coded columns.
IVT = np.array(["none", "givt", "sivt"])  # codes 0, 1, 2
IVT_NONE, IVT_GIVT, IVT_SIVT = 0, 1, 2
BIDDERS = np.array([f"dsp-{i}" for i in range(7)])  # a campaign bids through dsp-<campaign % 7>
CONV_TYPES = np.array(list(dict.fromkeys(t for v in VERTICALS.values() for t in v["conv"])))
_IMPRESSION_FROM_REQUEST = (
    "request_id",
    "publisher_id",
    "placement_id",
    "channel",
    "ad_format",
    "device_type",
    "os",
    "country",
    "user_id",
    "gdpr",
    "consent",
)
_ONE = np.array(["1"])
_COUNTRIES = np.array(COUNTRIES)
_USD = np.array(["USD"])


def day_start_us(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * US


def _timestamps(rng: np.random.Generator, day: date, n: int) -> np.ndarray:
    hours = _HOUR_CHOICE.draw(rng, n)
    return np.sort(day_start_us(day) + hours * HOUR_US + rng.integers(0, HOUR_US, n))


def _run_auctions(
    rng: np.random.Generator,
    cat: Catalog,
    day: date,
    plc: np.ndarray,
    bidder: np.ndarray | None = None,
    boost: np.ndarray | float = 1.0,
) -> dict:
    """Up to MAX_BIDS bids on each request of placements `plc`; second-price with floor.
    `bidder`: a campaign that bids on each request (a journey's targeted buy), in the first
    slot, its bid x `boost`. Returns arrays."""
    n_req = len(plc)
    day64 = np.datetime64(day, "D")
    active = (cat.campaign_start <= day64) & (cat.campaign_end > day64)
    channel_of_req = cat.placement_channel_code[plc]
    if bidder is None:
        # Most open-exchange requests draw no bid at all (no matching demand or budget).
        has_demand = rng.random(n_req) < 0.38
        n_bids = np.where(has_demand, np.minimum(rng.poisson(1.6, n_req), MAX_BIDS), 0)
    else:
        n_bids = np.minimum(1 + rng.poisson(1.6, n_req), MAX_BIDS)
    bid_camp = np.full((n_req, MAX_BIDS), -1, dtype=np.int32)
    for code, ch in enumerate(CHANNELS):
        pool = np.flatnonzero(active & (cat.campaign_channel == ch))
        rows = np.flatnonzero(channel_of_req == code)
        if len(pool) == 0 or len(rows) == 0:
            n_bids[rows] = 0
            continue
        weight = cat.campaign_daily_budget_micros[pool].astype(float)
        bid_camp[rows] = pool[WeightedChoice(weight / weight.sum()).draw(rng, (len(rows), MAX_BIDS))]
    bid_noise = rng.lognormal(0, 0.35, bid_camp.shape)
    if bidder is not None:
        bid_camp[:, 0] = bidder
        n_bids = np.maximum(n_bids, 1)
        bid_noise[:, 0] *= boost
    floor_noise = rng.lognormal(0, 0.15, n_req)
    # Row-wise arithmetic on millions of rows runs several times faster on slices that stay
    # in cache: settle the auctions a slice of requests at a time, into arrays made once.
    first_bid = np.concatenate([[0], np.cumsum(n_bids)])  # of each request, in request order
    out: dict[str, np.ndarray] = {}
    for a in range(0, max(n_req, 1), _ROWS):
        b = min(a + _ROWS, n_req)
        per_request, per_bid = _settle(
            cat, a, plc[a:b], n_bids[a:b], bid_camp[a:b], bid_noise[a:b], floor_noise[a:b]
        )
        for name, v in per_request.items():
            _slice_of(out, name, n_req, v.dtype)[a:b] = v
        for name, v in per_bid.items():
            _slice_of(out, name, first_bid[-1], v.dtype)[first_bid[a] : first_bid[b]] = v
    return {"placement": plc, **out}


def _slice_of(out: dict[str, np.ndarray], name: str, n: int, dtype: np.dtype) -> np.ndarray:
    if name not in out:
        out[name] = np.empty(n, dtype=dtype)
    return out[name]


def _settle(
    cat: Catalog,
    first: int,
    plc: np.ndarray,
    n_bids: np.ndarray,
    bid_camp: np.ndarray,
    bid_noise: np.ndarray,
    floor_noise: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Prices, floors and the second-price outcome of the auctions of requests `first`
    onwards: per request, and per bid (request, slot, campaign, price, above the floor)."""
    has_bid = np.arange(MAX_BIDS)[None, :] < n_bids[:, None]
    price = np.round(np.where(has_bid, cat.campaign_base_bid_cpm[bid_camp] * bid_noise, 0.0), 4)
    floor = np.round(cat.placement_floor_cpm[plc] * floor_noise, 4)
    above = has_bid & (price >= floor[:, None])
    ranked = np.where(above, price, -1.0)
    has_winner = above.any(axis=1)
    top, runner_up = _top_two(ranked)
    second = np.where(runner_up > 0, runner_up, floor)
    clear = np.where(has_winner, np.minimum(np.maximum(second, floor) + 0.01, top), np.nan)
    r_idx, s_idx = np.nonzero(has_bid)  # by request, then slot
    per_request = {
        "floor": floor,
        "winner": ranked.argmax(axis=1),
        "has_winner": has_winner,
        "clear": np.round(clear, 4),
    }
    per_bid = {
        "bid_request": r_idx + first,
        "bid_slot": s_idx,
        "bid_campaign": bid_camp[r_idx, s_idx],
        "bid_price": price[r_idx, s_idx],
        "bid_above_floor": above[r_idx, s_idx],
    }
    return per_request, per_bid


def _top_two(ranked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's highest and second-highest value (a row sort's last two columns, ties
    included), column by column rather than sorting every short row."""
    top = ranked[:, 0].copy()
    second = np.full(len(ranked), -np.inf)
    for c in range(1, ranked.shape[1]):
        col = ranked[:, c]
        second = np.maximum(second, np.minimum(top, col))
        top = np.maximum(top, col)
    return top, second


def calibrate_fill_rate(cat: Catalog, seed: int, day: date) -> float:
    """Share of requests that end in an impression, estimated on a sample."""
    rng = np.random.default_rng([seed, 0xF111])
    a = _run_auctions(rng, cat, day, cat.placement_choice.draw(rng, 20_000))
    return max(float(a["has_winner"].mean()) * (1 - TrafficProfile().not_rendered_rate), 0.01)


def generate_day(
    cat: Catalog,
    seed: int,
    day: date,
    impressions_per_day: int,
    profile: TrafficProfile | None = None,
    incident: Incident | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """The events that begin on `day`, as columns: its traffic (conversions may follow days
    later) and the journeys that start on it (their touches too)."""
    events = simulate_day(cat, seed, day, impressions_per_day, profile, incident)
    return {
        t: {k: materialise(c) for k, c in concat_columns(parts).items()}
        for t, parts in events.items()
        if t != TRUTH
    }


TRUTH = "truth"  # simulate_day's key for what the simulator knows and the logs do not
_CAUSE_TYPES = np.array(["click", "impression"])


def simulate_day(
    cat: Catalog,
    seed: int,
    day: date,
    impressions_per_day: int,
    profile: TrafficProfile | None = None,
    incident: Incident | None = None,
) -> dict[str, dict[str, Column]]:
    """`generate_day` with strings left as codes and random bytes, each event type's rows
    in parts (a list of column sets), and the truth under TRUTH. The draws, and their
    order, are what fix the output: keep both when editing. An `incident` removes orders
    of its target after every draw (incident.py), so nothing else changes."""
    p = profile or TrafficProfile()
    jp = p.journeys
    rng = np.random.default_rng([seed, day.toordinal()])
    fill = calibrate_fill_rate(cat, seed, day)
    volume = impressions_per_day * WEEKDAY_FACTOR[day.weekday()]
    n_journeys = int(volume * jp.per_1k_impressions / 1000)
    # Journeys' first touches are served too: open traffic makes up the rest of the volume.
    n_req = int(max(volume - n_journeys * jp.prospecting_touches, 0) / fill)

    # Open traffic: requests from anyone, bid on by whoever has demand.
    req_ts = _timestamps(rng, day, n_req)
    user = cat.user_choice.draw(rng, n_req)
    open_auctions = _run_auctions(rng, cat, day, cat.placement_choice.draw(rng, n_req))
    # Journeys' first stage rides with it; retargeting and search follow its clicks.
    journeys = start_journeys(rng, cat, day, _timestamps(rng, day, n_journeys), jp)
    first = prospecting(rng, cat, journeys, jp)
    served = _serve(
        rng,
        cat,
        p,
        np.concatenate([req_ts, first.ts]),
        np.concatenate([user, journeys.user[first.journey]]),
        _concat_auctions(open_auctions, _targeted_auctions(rng, cat, day, first, jp)),
        planned=np.concatenate([np.full(n_req, -1), first.campaign]),
        ctr_boost=np.concatenate([np.ones(n_req), np.take(jp.ctr_boost, first.stage)]),
    )
    seen = _seen(served, first)
    second = follow_ups(rng, cat, journeys, seen, jp)
    served_later = _serve(
        rng,
        cat,
        p,
        second.ts,
        journeys.user[second.journey],
        _targeted_auctions(rng, cat, day, second, jp),
        planned=second.campaign,
        ctr_boost=np.take(jp.ctr_boost, second.stage),
    )
    seen = Seen.concat([seen, _seen(served_later, second)])
    # Each event type's rows in parts, shipped part by part: joining the day's millions of
    # rows into one copy would cost more than the rest of the simulation.
    parts = [served.events, served_later.events]

    # Conversions after other valid clicks (one touch each, the vertical's rate) ...
    click_event_id = concat_columns([p["click"] for p in parts])["event_id"]
    clicks = _Clicks.concat([served.clicks, served_later.clicks])
    adv = cat.campaign_advertiser[clicks.campaign]
    advertiser_cvr = np.array([VERTICALS[v]["cvr"] for v in cat.advertiser_vertical])
    k = np.flatnonzero(clicks.valid & ~clicks.touch & (rng.random(len(adv)) < advertiser_cvr[adv]))
    click_conv_ts = clicks.ts[k] + conversion_delay(rng, len(k))
    # ... the journeys' purchases, caused by a click or a view, or organic ...
    bought = purchases(rng, cat, journeys, seen, jp, day_start_us(day))
    caused = bought.cause >= 0
    cause = bought.cause[caused]
    # ... and organic conversions (no ad behind them) on the day, from random users.
    n_org = int(len(k) * p.organic_conversion_share)
    org_adv = rng.integers(0, len(cat.advertiser_id), n_org)
    org_user = cat.user_choice.draw(rng, n_org)
    # Orders with a cause come first (clicked, then journeys'), organic ones after them.
    order_journey = np.concatenate([bought.journey[caused], bought.journey[~caused]])
    conv_ts = np.concatenate(
        [click_conv_ts, bought.ts[caused], bought.ts[~caused], _timestamps(rng, day, n_org)]
    )
    conv_adv = np.concatenate([adv[k], journeys.advertiser[order_journey], org_adv])
    conv_user = np.concatenate([clicks.user[k], journeys.user[order_journey], org_user])
    cause_campaign = np.concatenate([clicks.campaign[k], seen.campaign[cause]])
    # The incident's orders that no longer happen (None: every order happens).
    keep = None
    if incident is not None:
        order_campaign = np.concatenate([cause_campaign, np.full(len(conv_ts) - len(cause_campaign), -1)])
        keep = kept_orders(incident, cat, seed, day, conv_ts, conv_adv, order_campaign)
    conversions_ = _conversions(rng, cat, p, conv_ts, conv_adv, conv_user, keep)
    # Ground truth, which no ad server logs: the touch behind each order (organic ones have
    # none; the first rows of the conversions are the orders, resent pixels follow them),
    # and each impression's true click probability.
    by_click = seen.clicked[cause]
    cause_ids = np.concatenate(
        [click_event_id.raw[k], np.where(by_click[:, None], seen.click_id[cause], seen.impression_id[cause])]
    )
    cause_type = np.concatenate([np.zeros(len(k), np.int8), (~by_click).astype(np.int8)])
    caused_kept = slice(None) if keep is None else keep[: len(cause_campaign)]
    truth = {
        # The orders come first in the conversions (those the incident removed are gone).
        "order_id": take(conversions_["order_id"], np.arange(len(conv_ts) if keep is None else keep.sum())),
        # For the orders with a cause; the organic ones after them have none.
        "cause_event_id": HexIds(cause_ids[caused_kept], click_event_id.prefix),
        "cause_type": Coded(cause_type[caused_kept], _CAUSE_TYPES),
        "cause_campaign_id": Coded(cause_campaign[caused_kept], cat.campaign_id),
        "cause_channel": Coded(cause_campaign[caused_kept], cat.campaign_channel),
    }
    return {
        **{t: [p[t] for p in parts] for t in ("bid_request", "bid_response", "impression", "click")},
        "conversion": [conversions_],
        TRUTH: {
            "conversion": truth,
            "impression": {
                "impression_id": HexIds(
                    np.concatenate([p["impression"]["impression_id"].raw for p in parts]), ""
                ),
                "click_probability": np.concatenate(
                    [served.click_probability, served_later.click_probability]
                ),
            },
        },
    }


def _targeted_auctions(
    rng: np.random.Generator, cat: Catalog, day: date, t: Touches, jp: JourneyProfile
) -> dict:
    return _run_auctions(
        rng,
        cat,
        day,
        targeted_placements(rng, cat, t.campaign),
        bidder=t.campaign,
        boost=np.take(jp.bid_boost, t.stage),
    )


def _concat_auctions(a: dict, b: dict) -> dict:
    """Auctions of two sets of requests as one, the second's after the first's."""
    n = len(a["placement"])
    return {k: np.concatenate([a[k], b[k] + n if k == "bid_request" else b[k]]) for k in a}


@dataclass(frozen=True)
class _Clicks:
    """What the conversions need to know of each click (rows as in the click events)."""

    ts: np.ndarray
    user: np.ndarray  # into the catalog's users
    campaign: np.ndarray
    valid: np.ndarray  # a human's, not test traffic
    touch: np.ndarray  # on a journey's planned touch (its conversions are the journey's)

    @staticmethod
    def concat(parts: list[_Clicks]) -> _Clicks:
        return concat_rows(_Clicks, parts)


@dataclass(frozen=True)
class _Served:
    events: dict[str, dict[str, Column]]  # bid_request, bid_response, impression, click
    impression_request: np.ndarray  # each impression's request row
    impression_touch: np.ndarray  # each impression's planned touch (request row - first), or -1
    click_probability: np.ndarray  # each impression's, the truth
    click_impression: np.ndarray  # each click's impression row
    clicks: _Clicks


def _serve(
    rng: np.random.Generator,
    cat: Catalog,
    p: TrafficProfile,
    req_ts: np.ndarray,
    user: np.ndarray,
    a: dict,
    planned: np.ndarray,
    ctr_boost: np.ndarray,
) -> _Served:
    """Requests and their auctions `a` become bid requests, responses, impressions and
    clicks. A request with a `planned` campaign (not -1) targets an in-market user: a human,
    not test traffic, who clicks that campaign's ad `ctr_boost` times more often."""
    n_req = len(req_ts)
    plc = a["placement"]
    pub = cat.placement_publisher
    targeted = planned >= 0
    req_test = (rng.random(n_req) < p.test_rate) & ~targeted
    country = cat.user_country_code[user]
    gdpr, consent = _consent(cat, p, user)
    # Placement-level columns share the placement codes, so serialisation writes each
    # placement's fields once.
    requests: dict[str, Column] = {
        "event_id": random_ids(rng, n_req),
        "event_ts": req_ts,
        "request_id": random_ids(rng, n_req, 12),
        "imp_id": Coded(np.zeros(n_req, dtype=np.int8), _ONE),
        "bidfloor_cpm": a["floor"],
        "placement_id": Coded(plc, cat.placement_id),
        "ad_format": Coded(plc, cat.placement_format),
        "channel": Coded(plc, cat.placement_channel),
        "publisher_id": Coded(plc, cat.publisher_id[pub]),
        "publisher_is_app": Coded(plc, cat.publisher_is_app[pub]),
        "publisher_domain": Coded(plc, cat.publisher_domain[pub]),
        "device_type": Coded(cat.user_device_code[user], DEVICE_TYPES),
        "os": Coded(cat.user_os_code[user], OPERATING_SYSTEMS),
        "country": Coded(country, _COUNTRIES),
        "user_id": HexIds(cat.user_key[user], USER_PREFIX),
        "gdpr": gdpr,
        "consent": consent,
        "is_test": req_test,
    }

    # Bid responses: one per bid, the auction outcome known to the exchange's logger.
    r_idx, s_idx, camp = a["bid_request"], a["bid_slot"], a["bid_campaign"]
    won = a["has_winner"][r_idx] & (a["winner"][r_idx] == s_idx)
    loss = np.where(won, 0, np.where(a["bid_above_floor"], 102, 100))
    expired = ~won & (rng.random(len(r_idx)) < 0.01)
    loss = np.where(expired, 2, loss)
    responses: dict[str, Column] = {
        "event_id": random_ids(rng, len(r_idx)),
        "event_ts": req_ts[r_idx] + rng.integers(20_000, 120_000, len(r_idx)),  # 20-120 ms
        "request_id": take(requests["request_id"], r_idx),
        "imp_id": Coded(np.zeros(len(r_idx), dtype=np.int8), _ONE),
        "bidder_id": Coded(camp % len(BIDDERS), BIDDERS),
        "advertiser_id": Coded(camp, cat.advertiser_id[cat.campaign_advertiser]),
        "campaign_id": Coded(camp, cat.campaign_id),
        "creative_id": cat.creative(camp, rng.integers(1, cat.creatives_per_campaign + 1, len(r_idx))),
        "bid_price_cpm": a["bid_price"],
        "won": won,
        "clear_price_cpm": np.where(won, a["clear"][r_idx], np.nan),
        "loss_reason": loss,
        "is_test": req_test[r_idx],
    }

    # Impressions: won auctions that rendered.
    rendered = won & (rng.random(len(won)) >= p.not_rendered_rate)
    w = np.flatnonzero(rendered)
    wr = r_idx[w]
    n_imp = len(w)
    imp_ts = responses["event_ts"][w] + rng.integers(100_000, 2_500_000, n_imp)
    hour = ((imp_ts // HOUR_US) % 24).astype(int)
    night = np.isin(hour, list(NIGHT_HOURS))
    ivt_mult = np.where(night, p.night_ivt_multiplier, 1.0)
    u = rng.random(n_imp)
    ivt = np.where(
        u < p.sivt_rate * ivt_mult,
        IVT_SIVT,
        np.where(u < (p.sivt_rate + p.givt_rate) * ivt_mult, IVT_GIVT, IVT_NONE),
    )
    bot = cat.user_is_bot[user[wr]]
    ivt = np.where(bot & (u < p.bot_flagged_share), IVT_SIVT, ivt)
    ivt = np.where(targeted[wr], IVT_NONE, ivt)  # in-market users are people
    bot = bot & ~targeted[wr]
    imp_camp = camp[w]
    touch = targeted[wr] & (imp_camp == planned[wr])
    req = take_columns(requests, wr, _IMPRESSION_FROM_REQUEST)
    resp = take_columns(responses, w, ("advertiser_id", "campaign_id", "creative_id"))
    impressions: dict[str, Column] = {
        "event_id": random_ids(rng, n_imp),
        "event_ts": imp_ts,
        "impression_id": random_ids(rng, n_imp),
        "request_id": req["request_id"],
        "advertiser_id": resp["advertiser_id"],
        "campaign_id": resp["campaign_id"],
        "creative_id": resp["creative_id"],
        "publisher_id": req["publisher_id"],
        "placement_id": req["placement_id"],
        "channel": req["channel"],
        "ad_format": req["ad_format"],
        "device_type": req["device_type"],
        "os": req["os"],
        "country": req["country"],
        "user_id": req["user_id"],
        "gdpr": req["gdpr"],  # the ad tag's TCF macros: the request's consent, logged again
        "consent": req["consent"],
        # CPM is per thousand impressions: micros per impression = CPM * 1e6 / 1000.
        "cost_micros": np.round(a["clear"][wr] * 1000).astype(np.int64),
        "ivt": Coded(ivt, IVT),
        "is_test": req_test[wr],
    }

    # Clicks: channel CTR x campaign factor; bots click far more often, in-market users too.
    channel_ctr = np.array([CHANNEL_CTR[c] for c in cat.placement_channel])
    ctr = channel_ctr[plc[wr]] * cat.campaign_ctr_factor[imp_camp]
    ctr = np.where((ivt == IVT_SIVT) | bot, ctr * p.bot_ctr_multiplier, ctr)
    ctr = np.minimum(np.where(touch, ctr * ctr_boost[wr], ctr), 0.5)
    c = np.flatnonzero(rng.random(n_imp) < ctr)
    n_clk = len(c)
    click_ivt = np.where(
        ivt[c] != IVT_NONE, ivt[c], np.where(rng.random(n_clk) < p.click_givt_rate, IVT_GIVT, IVT_NONE)
    )
    click_ivt = np.where(targeted[wr[c]], IVT_NONE, click_ivt)
    delay = np.minimum(rng.lognormal(np.log(15e6), 1.0, n_clk), 1800e6).astype(np.int64) + 1
    # People take seconds to click; bots click within a second of the ad rendering.
    delay = np.where(bot[c], 200_000 + delay % 700_000, delay)
    click_ts = imp_ts[c] + delay
    clicks: dict[str, Column] = {
        "event_id": random_ids(rng, n_clk),
        "event_ts": click_ts,
        "click_id": random_ids(rng, n_clk),
        "impression_id": take(impressions["impression_id"], c),
        # The click tracker's URL carries the campaign (as real ones do): the live counters
        # count a click without joining it to its impression (docs/streaming.md).
        "campaign_id": take(impressions["campaign_id"], c),
        "user_id": take(impressions["user_id"], c),
        "gdpr": take(impressions["gdpr"], c),
        "consent": take(impressions["consent"], c),
        "ivt": Coded(click_ivt, IVT),
        "is_test": impressions["is_test"][c],
    }
    first_touch = int(np.argmax(targeted)) if targeted.any() else n_req
    return _Served(
        events={
            "bid_request": requests,
            "bid_response": responses,
            "impression": impressions,
            "click": clicks,
        },
        impression_request=wr,
        impression_touch=np.where(touch, wr - first_touch, -1),
        click_probability=ctr,
        click_impression=c,
        clicks=_Clicks(
            ts=click_ts,
            user=user[wr[c]],
            campaign=imp_camp[c],
            valid=(click_ivt == IVT_NONE) & ~clicks["is_test"],
            touch=touch[c],
        ),
    )


def _consent(cat: Catalog, p: TrafficProfile, user: np.ndarray) -> tuple[np.ndarray, Coded]:
    """Per event of these users: whether GDPR applies (by the user's country) and, where it
    does, the consent string the user's answer produced (docs/privacy.md)."""
    gdpr = np.isin(COUNTRIES, p.gdpr_countries).astype(np.int8)[cat.user_country_code[user]]
    return gdpr, Coded(np.where(gdpr == 1, cat.user_consent_code[user], 0).astype(np.int8), CONSENT_STRINGS)


def _seen(served: _Served, touches: Touches) -> Seen:
    """The planned touches that reached the user, from what was served."""
    imp = np.flatnonzero(served.impression_touch >= 0)
    t = served.impression_touch[imp]
    click_of = np.full(len(served.impression_request), -1)
    click_of[served.click_impression] = np.arange(len(served.click_impression))
    clk = click_of[imp]
    clicked = clk >= 0
    impressions, clicks = served.events["impression"], served.events["click"]
    click_ids = np.zeros((len(imp), 16), dtype=np.uint8)
    click_ids[clicked] = clicks["event_id"].raw[clk[clicked]]
    click_ts = np.full(len(imp), -1, dtype=np.int64)
    click_ts[clicked] = clicks["event_ts"][clk[clicked]]
    return Seen(
        journey=touches.journey[t],
        campaign=touches.campaign[t],
        stage=touches.stage[t],
        impression_ts=impressions["event_ts"][imp],
        click_ts=click_ts,
        impression_id=impressions["event_id"].raw[imp],
        click_id=click_ids,
    )


def _conversions(
    rng: np.random.Generator,
    cat: Catalog,
    p: TrafficProfile,
    ts: np.ndarray,
    adv: np.ndarray,
    user: np.ndarray,
    keep: np.ndarray | None = None,
) -> dict[str, Column]:
    """One row per order (in order), then the pixel's resends. Orders not in `keep` are
    dropped with their resends once everything is drawn (the other rows stay the same)."""
    n = len(ts)
    vertical = cat.advertiser_vertical[adv]
    conv_type = np.zeros(n, dtype=np.int8)  # into CONV_TYPES
    value = np.zeros(n, dtype=np.int64)
    signup = list(CONV_TYPES).index("signup")
    for name, v in VERTICALS.items():
        m = np.flatnonzero(vertical == name)
        types = np.array([list(CONV_TYPES).index(t) for t in v["conv"]], dtype=np.int8)
        conv_type[m] = types[rng.choice(len(types), len(m), p=list(v["conv"].values()))]
        amount = rng.lognormal(np.log(v["median"]), v["sigma"], len(m))
        value[m] = np.where(conv_type[m] == signup, 0, np.round(amount * 1e6)).astype(np.int64)
    gdpr, consent = _consent(cat, p, user)
    order = random_ids(rng, n, 10, prefix="ord-")
    # The advertiser's pixel sometimes fires twice for one order, seconds apart.
    dup = np.flatnonzero(rng.random(n) < p.duplicate_pixel_rate)
    idx = np.concatenate([np.arange(n), dup])
    ts_all = np.concatenate([ts, ts[dup] + rng.integers(1_000_000, 20_000_000, len(dup))])
    m = len(idx)
    rows = {
        "event_id": random_ids(rng, m),
        "event_ts": ts_all,
        "conversion_id": random_ids(rng, m),
        "order_id": take(order, idx),
        "advertiser_id": Coded(adv[idx], cat.advertiser_id),
        "user_id": HexIds(cat.user_key[user[idx]], USER_PREFIX),
        # The conversion pixel's TCF macros, like the ad tag's.
        "gdpr": gdpr[idx],
        "consent": consent.take(idx),
        "conv_type": Coded(conv_type[idx], CONV_TYPES),
        "value_micros": value[idx],
        "currency": Coded(np.zeros(m, dtype=np.int8), _USD),
        "is_test": rng.random(m) < 0.002,
    }
    return rows if keep is None else take_columns(rows, np.flatnonzero(keep[idx]))
