"""One day of ad-server traffic, vectorised with numpy: bid requests, OpenRTB auctions,
impressions for won auctions, clicks and the conversions they lead to, plus invalid and
test traffic. Each event carries `_arrival_us`, when the log shipper delivered it.

Times are integer microseconds since the epoch (UTC) until serialisation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from ad_assets.generator.catalog import CHANNEL_CTR, VERTICALS, Catalog, hex_ids
from spark_jobs.contracts import CHANNELS

US = 1_000_000
HOUR_US = 3600 * US
DAY_US = 24 * HOUR_US
MAX_BIDS = 4  # bid responses per request at most


@dataclass(frozen=True)
class TrafficProfile:
    """Rates of the simulation; the defaults are realistic ranges, tests read them."""

    fill_rate: float = 0.30  # share of requests that end in an impression (calibrated below)
    test_rate: float = 0.003
    givt_rate: float = 0.020
    sivt_rate: float = 0.010
    night_ivt_multiplier: float = 2.5  # bots are a larger share of traffic at night
    bot_ctr_multiplier: float = 6.0
    click_givt_rate: float = 0.015
    organic_conversion_share: float = 0.25  # conversions with no click behind them
    duplicate_pixel_rate: float = 0.01  # same order reported twice by the pixel
    not_rendered_rate: float = 0.03  # won auctions whose ad never rendered
    gdpr_countries: tuple[str, ...] = ("GB", "DE", "FR", "ES", "IT", "NL", "PL", "SE")


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


def day_start_us(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * US


def _timestamps(rng: np.random.Generator, day: date, n: int) -> np.ndarray:
    hours = rng.choice(24, n, p=HOURLY_WEIGHTS)
    return np.sort(day_start_us(day) + hours * HOUR_US + rng.integers(0, HOUR_US, n))


def _run_auctions(rng: np.random.Generator, cat: Catalog, day: date, n_req: int) -> dict:
    """Requests and up to MAX_BIDS bids each; second-price with floor. Returns arrays."""
    day64 = np.datetime64(day, "D")
    active = (cat.campaign_start <= day64) & (cat.campaign_end > day64)
    plc = rng.choice(len(cat.placement_id), n_req, p=cat.placement_weight)
    channel_of_req = cat.placement_channel[plc]
    # Most open-exchange requests draw no bid at all (no matching demand or budget).
    has_demand = rng.random(n_req) < 0.38
    n_bids = np.where(has_demand, np.minimum(rng.poisson(1.6, n_req), MAX_BIDS), 0)
    bid_camp = np.full((n_req, MAX_BIDS), -1)
    for ch in CHANNELS:
        pool = np.flatnonzero(active & (cat.campaign_channel == ch))
        rows = np.flatnonzero(channel_of_req == ch)
        if len(pool) == 0 or len(rows) == 0:
            n_bids[rows] = 0
            continue
        weight = cat.campaign_daily_budget_micros[pool].astype(float)
        bid_camp[rows] = pool[rng.choice(len(pool), (len(rows), MAX_BIDS), p=weight / weight.sum())]
    slot = np.arange(MAX_BIDS)[None, :]
    has_bid = slot < n_bids[:, None]
    price = np.where(
        has_bid, cat.campaign_base_bid_cpm[bid_camp] * rng.lognormal(0, 0.35, bid_camp.shape), 0.0
    )
    price = np.round(price, 4)
    floor = np.round(cat.placement_floor_cpm[plc] * rng.lognormal(0, 0.15, n_req), 4)
    above = has_bid & (price >= floor[:, None])
    ranked = np.where(above, price, -1.0)
    winner = ranked.argmax(axis=1)
    has_winner = above.any(axis=1)
    sorted_prices = np.sort(ranked, axis=1)
    second = np.where(sorted_prices[:, -2] > 0, sorted_prices[:, -2], floor)
    top = sorted_prices[:, -1]
    clear = np.where(has_winner, np.minimum(np.maximum(second, floor) + 0.01, top), np.nan)
    return {
        "placement": plc,
        "floor": floor,
        "bid_campaign": bid_camp,
        "has_bid": has_bid,
        "price": price,
        "above_floor": above,
        "winner": winner,
        "has_winner": has_winner,
        "clear": np.round(clear, 4),
    }


def calibrate_fill_rate(cat: Catalog, seed: int, day: date) -> float:
    """Share of requests that end in an impression, estimated on a sample."""
    rng = np.random.default_rng([seed, 0xF111])
    a = _run_auctions(rng, cat, day, 20_000)
    return max(float(a["has_winner"].mean()) * (1 - TrafficProfile().not_rendered_rate), 0.01)


def generate_day(
    cat: Catalog, seed: int, day: date, impressions_per_day: int, profile: TrafficProfile | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Events whose event_ts falls on `day` (conversions: whose click does), as columns."""
    p = profile or TrafficProfile()
    rng = np.random.default_rng([seed, day.toordinal()])
    fill = calibrate_fill_rate(cat, seed, day)
    n_req = int(impressions_per_day * WEEKDAY_FACTOR[day.weekday()] / fill)

    # Bid requests.
    req_ts = _timestamps(rng, day, n_req)
    user = rng.choice(len(cat.user_id), n_req, p=cat.user_weight)
    a = _run_auctions(rng, cat, day, n_req)
    plc = a["placement"]
    pub = cat.placement_publisher[plc]
    req_test = rng.random(n_req) < p.test_rate
    country = cat.user_country[user]
    requests = {
        "event_id": hex_ids(rng, n_req),
        "event_ts": req_ts,
        "request_id": hex_ids(rng, n_req, 12),
        "imp_id": np.full(n_req, "1"),
        "bidfloor_cpm": a["floor"],
        "placement_id": cat.placement_id[plc],
        "ad_format": cat.placement_format[plc],
        "channel": cat.placement_channel[plc],
        "publisher_id": cat.publisher_id[pub],
        "publisher_is_app": cat.publisher_is_app[pub],
        "publisher_domain": cat.publisher_domain[pub],
        "device_type": cat.user_device[user],
        "os": cat.user_os[user],
        "country": country,
        "user_id": cat.user_id[user],
        "gdpr": np.isin(country, p.gdpr_countries).astype(np.int8),
        "consent": np.where(rng.random(n_req) < 0.85, "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA", ""),
        "is_test": req_test,
    }

    # Bid responses: one per bid, the auction outcome known to the exchange's logger.
    r_idx, s_idx = np.nonzero(a["has_bid"])
    camp = a["bid_campaign"][r_idx, s_idx]
    won = a["has_winner"][r_idx] & (a["winner"][r_idx] == s_idx)
    loss = np.where(won, 0, np.where(a["above_floor"][r_idx, s_idx], 102, 100))
    expired = ~won & (rng.random(len(r_idx)) < 0.01)
    loss = np.where(expired, 2, loss)
    responses = {
        "event_id": hex_ids(rng, len(r_idx)),
        "event_ts": req_ts[r_idx] + rng.integers(20_000, 120_000, len(r_idx)),  # 20-120 ms
        "request_id": requests["request_id"][r_idx],
        "imp_id": np.full(len(r_idx), "1"),
        "bidder_id": np.char.add("dsp-", (camp % 7).astype(str)),
        "advertiser_id": cat.advertiser_id[cat.campaign_advertiser[camp]],
        "campaign_id": cat.campaign_id[camp],
        "creative_id": cat.creative_id(camp, rng.integers(1, cat.creatives_per_campaign + 1, len(r_idx))),
        "bid_price_cpm": a["price"][r_idx, s_idx],
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
        "sivt",
        np.where(u < (p.sivt_rate + p.givt_rate) * ivt_mult, "givt", "none"),
    )
    imp_camp = camp[w]
    impressions = {
        "event_id": hex_ids(rng, n_imp),
        "event_ts": imp_ts,
        "impression_id": hex_ids(rng, n_imp),
        "request_id": requests["request_id"][wr],
        "advertiser_id": responses["advertiser_id"][w],
        "campaign_id": responses["campaign_id"][w],
        "creative_id": responses["creative_id"][w],
        "publisher_id": requests["publisher_id"][wr],
        "placement_id": requests["placement_id"][wr],
        "channel": requests["channel"][wr],
        "ad_format": requests["ad_format"][wr],
        "device_type": requests["device_type"][wr],
        "os": requests["os"][wr],
        "country": requests["country"][wr],
        "user_id": requests["user_id"][wr],
        # CPM is per thousand impressions: micros per impression = CPM * 1e6 / 1000.
        "cost_micros": np.round(a["clear"][wr] * 1000).astype(np.int64),
        "ivt": ivt,
        "is_test": req_test[wr],
    }

    # Clicks: channel CTR x campaign factor; bots click far more often.
    ctr = np.array([CHANNEL_CTR[c] for c in impressions["channel"]]) * cat.campaign_ctr_factor[imp_camp]
    ctr = np.where(ivt == "sivt", ctr * p.bot_ctr_multiplier, ctr)
    c = np.flatnonzero(rng.random(n_imp) < np.minimum(ctr, 0.5))
    n_clk = len(c)
    click_ivt = np.where(
        ivt[c] != "none", ivt[c], np.where(rng.random(n_clk) < p.click_givt_rate, "givt", "none")
    )
    clicks = {
        "event_id": hex_ids(rng, n_clk),
        "event_ts": imp_ts[c]
        + np.minimum(rng.lognormal(np.log(15e6), 1.0, n_clk), 1800e6).astype(np.int64)
        + 1,
        "click_id": hex_ids(rng, n_clk),
        "impression_id": impressions["impression_id"][c],
        "user_id": impressions["user_id"][c],
        "ivt": click_ivt,
        "is_test": impressions["is_test"][c],
    }

    # Conversions after valid clicks: a third within the hour, most within days, none after 30.
    adv = cat.campaign_advertiser[imp_camp[c]]
    vertical = cat.advertiser_vertical[adv]
    cvr = np.array([VERTICALS[v]["cvr"] for v in vertical])
    human = (click_ivt == "none") & ~clicks["is_test"]
    k = np.flatnonzero(human & (rng.random(n_clk) < cvr))
    fast = rng.random(len(k)) < 1 / 3
    delay = np.where(
        fast,
        rng.uniform(30e6, HOUR_US, len(k)),
        np.minimum(rng.lognormal(np.log(1.2 * DAY_US), 1.1, len(k)), 30 * DAY_US - 1),
    ).astype(np.int64)
    conv_ts = clicks["event_ts"][k] + delay
    conv_adv = adv[k]
    conv_user = clicks["user_id"][k]
    # Organic conversions (no ad click) on the same day, from random users.
    n_org = int(len(k) * p.organic_conversion_share)
    org_adv = rng.integers(0, len(cat.advertiser_id), n_org)
    org_user = cat.user_id[rng.choice(len(cat.user_id), n_org, p=cat.user_weight)]
    conv_ts = np.concatenate([conv_ts, _timestamps(rng, day, n_org)])
    conv_adv = np.concatenate([conv_adv, org_adv])
    conv_user = np.concatenate([conv_user, org_user])
    conversions = _conversions(rng, cat, p, conv_ts, conv_adv, conv_user)
    return {
        "bid_request": requests,
        "bid_response": responses,
        "impression": impressions,
        "click": clicks,
        "conversion": conversions,
    }


def _conversions(
    rng: np.random.Generator,
    cat: Catalog,
    p: TrafficProfile,
    ts: np.ndarray,
    adv: np.ndarray,
    user: np.ndarray,
) -> dict[str, np.ndarray]:
    n = len(ts)
    vertical = cat.advertiser_vertical[adv]
    conv_type = np.empty(n, dtype="U12")
    value = np.zeros(n, dtype=np.int64)
    for name, v in VERTICALS.items():
        m = np.flatnonzero(vertical == name)
        types = np.array(list(v["conv"]))
        conv_type[m] = types[rng.choice(len(types), len(m), p=list(v["conv"].values()))]
        amount = rng.lognormal(np.log(v["median"]), v["sigma"], len(m))
        value[m] = np.where(conv_type[m] == "signup", 0, np.round(amount * 1e6)).astype(np.int64)
    order = np.char.add("ord-", hex_ids(rng, n, 10))
    # The advertiser's pixel sometimes fires twice for one order, seconds apart.
    dup = np.flatnonzero(rng.random(n) < p.duplicate_pixel_rate)
    idx = np.concatenate([np.arange(n), dup])
    ts_all = np.concatenate([ts, ts[dup] + rng.integers(1_000_000, 20_000_000, len(dup))])
    m = len(idx)
    return {
        "event_id": hex_ids(rng, m),
        "event_ts": ts_all,
        "conversion_id": hex_ids(rng, m),
        "order_id": order[idx],
        "advertiser_id": cat.advertiser_id[adv[idx]],
        "user_id": user[idx],
        "conv_type": conv_type[idx],
        "value_micros": value[idx],
        "currency": np.full(m, "USD"),
        "is_test": rng.random(m) < 0.002,
    }
