import gzip
import json
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from ad_assets.generator import generate
from ad_assets.generator.catalog import CHANNEL_CTR, build_catalog
from ad_assets.generator.columns import concat_columns, materialise
from ad_assets.generator.delivery import DeliveryProfile
from ad_assets.generator.incident import ALL, Incident, kept_orders, parse_incident
from ad_assets.generator.journeys import CLICK_EFFECT, VIEW_EFFECT
from ad_assets.generator.simulate import NIGHT_HOURS, TRUTH, TrafficProfile, simulate_day
from spark_jobs.contracts import (
    AD_FORMATS,
    CHANNELS,
    CONV_TYPES,
    DEVICE_TYPES,
    EVENT_TYPES,
    IVT_VALUES,
    LOSS_REASONS,
    OPERATING_SYSTEMS,
)
from spark_jobs.lake import Lake

START = date(2026, 11, 2)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): gzip.decompress(p.read_bytes()) for p in sorted(root.rglob("*.jsonl.gz"))
    }


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        generate(Lake(str(tmp_path / name)), START, 2, 2_000, seed=seed)
    a, b, c = (_files(tmp_path / n) for n in "abc")
    assert a == b
    assert a != c


def test_an_arrival_date_is_the_same_whichever_window_wrote_it(tmp_path):
    generate(Lake(str(tmp_path / "all")), START, 3, 2_000, seed=3)
    generate(Lake(str(tmp_path / "one")), START, 3, 2_000, seed=3, arrival_dates=[START + timedelta(days=1)])
    day = "dt=2026-11-03"
    all_files = {k: v for k, v in _files(tmp_path / "all").items() if day in k}
    assert all_files and all_files == _files(tmp_path / "one")


@pytest.fixture(scope="module")
def simulated():
    """Three days' events and truth, materialised (truth under TRUTH)."""
    cat = build_catalog(42, START, 20_000)
    days = [simulate_day(cat, 42, START + timedelta(days=d), 20_000) for d in range(3)]

    def plain(cols):
        return {k: materialise(v) for k, v in cols.items()}

    def day(ev):
        out = {t: plain(concat_columns(parts)) for t, parts in ev.items() if t != TRUTH}
        return {**out, TRUTH: {t: plain(cols) for t, cols in ev[TRUTH].items()}}

    return cat, [day(d) for d in days]


@pytest.fixture(scope="module")
def day_events(simulated):
    cat, days = simulated
    return cat, days[1]


def test_volumes_and_auctions(day_events):
    _, ev = day_events
    n_imp = len(ev["impression"]["event_id"])
    assert 0.85 * 20_000 < n_imp < 1.15 * 20_000
    assert len(ev["bid_request"]["event_id"]) > 2.5 * n_imp  # bids outnumber impressions
    assert len(ev["bid_response"]["event_id"]) > n_imp
    won_requests = set(ev["bid_response"]["request_id"][ev["bid_response"]["won"]])
    assert set(ev["impression"]["request_id"]) <= won_requests  # impressions only for won auctions
    won = ev["bid_response"]["won"]
    assert np.all(
        ev["bid_response"]["clear_price_cpm"][won] <= ev["bid_response"]["bid_price_cpm"][won] + 1e-9
    )
    assert set(ev["bid_response"]["loss_reason"][~won]) <= set(LOSS_REASONS) - {0}
    assert set(ev["bid_response"]["loss_reason"][won]) == {0}


def test_values_stay_in_the_contract_vocabulary(day_events):
    _, ev = day_events
    imp = ev["impression"]
    for column, allowed in (
        ("channel", CHANNELS),
        ("ad_format", AD_FORMATS),
        ("device_type", DEVICE_TYPES),
        ("os", OPERATING_SYSTEMS),
        ("ivt", IVT_VALUES),
    ):
        assert set(imp[column]) <= set(allowed), column


def test_click_through_rates_by_channel(day_events):
    _, ev = day_events
    imp, clk = ev["impression"], ev["click"]
    human = imp["ivt"] == "none"
    clicked = set(clk["impression_id"])
    for ch in CHANNELS:
        m = human & (imp["channel"] == ch)
        if m.sum() < 1000:
            continue
        ctr = np.isin(imp["impression_id"][m], list(clicked)).mean()
        assert 0.4 * CHANNEL_CTR[ch] < ctr < 2.5 * CHANNEL_CTR[ch], ch
    display = human & (imp["channel"] == "display")
    assert 0.001 < np.isin(imp["impression_id"][display], list(clicked)).mean() < 0.006


def test_invalid_traffic_share_and_night_effect(day_events):
    """Invalid traffic: the exchange's background rates, higher at night, plus the bot
    users (catalog.user_is_bot), most of whose impressions it flags at any hour."""
    cat, ev = day_events
    imp = ev["impression"]
    assert set(imp["ivt"]) <= set(IVT_VALUES)
    invalid = imp["ivt"] != "none"
    assert 0.01 < invalid.mean() < 0.08
    hours = (imp["event_ts"] // 3_600_000_000) % 24
    night = np.isin(hours, list(NIGHT_HOURS))
    bots = np.isin(imp["user_id"], cat.user_id[cat.user_is_bot])
    assert invalid[night & ~bots].mean() > 1.5 * invalid[~night & ~bots].mean()
    assert 0.01 < bots.mean() < 0.05 and invalid[bots].mean() > 0.3
    assert 0 < imp["is_test"].mean() < 0.01


def test_diurnal_curve_has_night_trough_and_evening_peak(day_events):
    _, ev = day_events
    hours = Counter(((ev["bid_request"]["event_ts"] // 3_600_000_000) % 24).tolist())
    assert hours[4] < 0.5 * hours[20]
    assert max(hours, key=hours.get) in (19, 20, 21, 22)


def test_conversions_follow_clicks_within_30_days(day_events):
    _, ev = day_events
    clk, conv = ev["click"], ev["conversion"]
    first_click = clk["event_ts"].min()
    assert len(conv["event_id"]) > 0
    delays = conv["event_ts"] - first_click
    assert delays.max() < 31 * 86_400_000_000
    assert set(conv["conv_type"]) <= set(CONV_TYPES)
    assert (conv["value_micros"] >= 0).all()
    # The pixel sometimes fires twice for an order: fewer orders than conversion events.
    assert len(set(conv["order_id"])) <= len(conv["order_id"])


def test_delivery_lateness_resends_and_malformed_lines(tmp_path):
    report = generate(Lake(str(tmp_path)), START, 4, 5_000, seed=11)
    ids: Counter = Counter()
    late = total = malformed = 0
    for path in tmp_path.rglob("*.jsonl.gz"):
        dt = path.parent.parent.name.removeprefix("dt=")
        hour = int(path.parent.name.removeprefix("hour="))
        arrival_end = datetime.fromisoformat(dt) + timedelta(hours=hour + 1)
        for line in gzip.decompress(path.read_bytes()).splitlines():
            total += 1
            try:
                obj = json.loads(line)
                ts = datetime.fromisoformat(obj["event_ts"].removesuffix("Z"))
            except (ValueError, KeyError, TypeError):
                malformed += 1
                continue
            ids[obj.get("event_id")] += 1
            assert ts <= arrival_end  # nothing arrives before it happened
            assert arrival_end - ts <= timedelta(hours=49)
            late += arrival_end - ts > timedelta(hours=2)
    p = DeliveryProfile()
    assert total == sum(report.lines.values())
    assert 0.5 * p.late_rate < late / total < 2 * p.late_rate
    resent = sum(n - 1 for n in ids.values() if n > 1)
    assert 0.4 * p.resend_rate < resent / total < 2 * p.resend_rate
    assert 0 < malformed / total < 3 * p.malformed_rate
    assert set(report.lines) == set(EVENT_TYPES)


def test_profile_defaults_are_realistic():
    p = TrafficProfile()
    assert 0.01 <= p.givt_rate + p.sivt_rate <= 0.06


def test_the_truth_names_a_real_touch_of_the_buyer_before_each_order(simulated):
    cat, days = simulated
    campaign_advertiser = dict(zip(cat.campaign_id, cat.advertiser_id[cat.campaign_advertiser], strict=True))
    for ev in days:
        truth, conv = ev[TRUTH]["conversion"], ev["conversion"]
        first = {o: i for i, o in reversed(list(enumerate(conv["order_id"])))}
        clicks = {e: i for i, e in enumerate(ev["click"]["event_id"])}
        views = {e: i for i, e in enumerate(ev["impression"]["event_id"])}
        imp_of = {e: i for i, e in enumerate(ev["impression"]["impression_id"])}
        caused = [i for i, c in enumerate(truth["cause_event_id"]) if c is not None]
        assert caused and len(caused) < len(truth["order_id"])  # some orders are organic
        for i in caused:
            order = first[truth["order_id"][i]]
            if truth["cause_type"][i] == "click":
                c = clicks[truth["cause_event_id"][i]]
                ts, imp = ev["click"]["event_ts"][c], imp_of[ev["click"]["impression_id"][c]]
            else:
                imp = views[truth["cause_event_id"][i]]
                ts = ev["impression"]["event_ts"][imp]
            assert ev["impression"]["campaign_id"][imp] == truth["cause_campaign_id"][i]
            assert ev["impression"]["channel"][imp] == truth["cause_channel"][i]
            assert ev["impression"]["user_id"][imp] == conv["user_id"][order]
            assert campaign_advertiser[truth["cause_campaign_id"][i]] == conv["advertiser_id"][order]
            assert ts <= conv["event_ts"][order]


def test_journeys_reach_buyers_through_several_campaigns_and_channels(simulated):
    """Users who buy after a journey saw and clicked several of the advertiser's campaigns,
    and the cause is often not their last click: what makes attribution models differ."""
    _, days = simulated
    week = 7 * 86_400_000_000
    paths = []  # per order caused by a touch: (its clicks' campaigns in time order, the cause)
    for ev in days:
        truth, conv, clk, imp = ev[TRUTH]["conversion"], ev["conversion"], ev["click"], ev["impression"]
        imp_of = {e: i for i, e in enumerate(imp["impression_id"])}
        by_user = {}
        for c, iid in enumerate(clk["impression_id"]):
            i = imp_of[iid]
            touch = (clk["event_ts"][c], clk["event_id"][c], imp["campaign_id"][i])
            by_user.setdefault((clk["user_id"][c], imp["advertiser_id"][i]), []).append(touch)
        first = {o: i for i, o in reversed(list(enumerate(conv["order_id"])))}
        for i, cause in enumerate(truth["cause_event_id"]):
            if cause is None:
                continue
            o = first[truth["order_id"][i]]
            touches = sorted(
                t
                for t in by_user.get((conv["user_id"][o], conv["advertiser_id"][o]), [])
                if conv["event_ts"][o] - week <= t[0] <= conv["event_ts"][o]
            )
            paths.append((touches, cause, truth["cause_type"][i]))
    multi = [p for p in paths if len(p[0]) >= 2]
    assert len(multi) >= 0.1 * len(paths)
    assert len({c for p in multi for _, _, c in p[0]}) > 1
    # The last click is not always the cause: an earlier click, or a view, caused some.
    assert any(p[0][-1][1] != p[1] for p in multi)
    assert {p[2] for p in paths} == {"click", "impression"}


def test_a_click_persuades_more_than_a_view():
    assert all(CLICK_EFFECT[c] > 10 * VIEW_EFFECT[c] for c in CHANNELS)


def _plain_day(events):
    out = {
        t: {k: materialise(v) for k, v in concat_columns(parts).items()}
        for t, parts in events.items()
        if t != TRUTH
    }
    return {**out, TRUTH: {t: {k: materialise(v) for k, v in c.items()} for t, c in events[TRUTH].items()}}


INCIDENT_DAY = START + timedelta(days=1)


@pytest.fixture(scope="module")
def incident_world():
    """A day simulated without an incident, and a function that simulates it with one."""
    cat = build_catalog(42, START, 20_000)

    def day(incident=None):
        return _plain_day(simulate_day(cat, 42, INCIDENT_DAY, 20_000, incident=incident))

    return day(), day


def _orders(ev) -> dict:
    """order_id -> (time, advertiser, cause campaign or None) of the day's orders."""
    truth, conv = ev[TRUTH]["conversion"], ev["conversion"]
    first = {o: i for i, o in reversed(list(enumerate(conv["order_id"])))}
    causes = list(truth["cause_campaign_id"]) + [None] * (
        len(truth["order_id"]) - len(truth["cause_campaign_id"])
    )
    return {
        o: (conv["event_ts"][first[o]], conv["advertiser_id"][first[o]], c)
        for o, c in zip(truth["order_id"], causes, strict=True)
    }


def _assert_only_orders_gone(base, hit, gone):
    """`hit` is `base` without the orders `gone`: every other line the same, the truth too."""
    for t in ("bid_request", "bid_response", "impression", "click"):
        for k, v in base[t].items():
            assert np.array_equal(v, hit[t][k], equal_nan=v.dtype.kind == "f"), (t, k)
    conv, truth = base["conversion"], base[TRUTH]["conversion"]
    kept = ~np.isin(conv["order_id"], list(gone))
    for k, v in conv.items():  # the other orders' lines are the same, resent pixels too
        assert np.array_equal(v[kept], hit["conversion"][k], equal_nan=v.dtype.kind == "f"), k
    assert list(hit[TRUTH]["conversion"]["order_id"]) == [o for o in truth["order_id"] if o not in gone]
    # The truth's cause columns stay aligned with its orders.
    caused = [i for i, o in enumerate(truth["order_id"][: len(truth["cause_event_id"])]) if o not in gone]
    for k in ("cause_event_id", "cause_type", "cause_campaign_id", "cause_channel"):
        assert list(hit[TRUTH]["conversion"][k]) == [truth[k][i] for i in caused], k


def test_a_platform_incident_removes_every_order_in_its_window_and_nothing_else(incident_world):
    base, simulate = incident_world
    last = INCIDENT_DAY + timedelta(days=1)  # the day's orders mostly come later: two days
    end = (last - date(1970, 1, 1)).days * 86_400_000_000 + 86_400_000_000
    orders = _orders(base)
    gone = {o for o, (ts, _, _) in orders.items() if ts < end}
    assert gone and len(gone) < len(orders)  # some in the window, some after it
    _assert_only_orders_gone(base, simulate(Incident(INCIDENT_DAY, last, factor=0.0)), gone)


def test_a_campaign_loses_the_orders_it_caused_an_advertiser_all_its_orders(incident_world):
    base, simulate = incident_world
    orders = _orders(base)
    campaign = Counter(c for _, _, c in orders.values() if c is not None).most_common(1)[0][0]
    gone = {o for o, (_, _, c) in orders.items() if c == campaign}
    _assert_only_orders_gone(base, simulate(Incident(INCIDENT_DAY, factor=0.0, campaign_id=campaign)), gone)
    advertiser = Counter(a for _, a, _ in orders.values()).most_common(1)[0][0]
    gone = {o for o, (_, a, _) in orders.items() if a == advertiser}
    assert any(orders[o][2] is None for o in gone)  # organic orders too: the pixel is broken
    _assert_only_orders_gone(
        base, simulate(Incident(INCIDENT_DAY, factor=0.0, advertiser_id=advertiser)), gone
    )


def test_an_incident_keeps_a_share_factor_of_its_orders_in_its_window():
    cat = build_catalog(42, START, 5_000)
    day = INCIDENT_DAY
    n = 20_000
    ts = np.full(n, (day - date(1970, 1, 1)).days * 86_400_000_000 + 1)
    adv, camp = np.zeros(n, int), np.zeros(n, int)
    kept = kept_orders(Incident(day, day, factor=0.25), cat, 42, day, ts, adv, camp)
    assert 0.23 < kept.mean() < 0.27
    assert kept_orders(Incident(day, day, factor=0.0), cat, 42, day, ts + 86_400_000_000, adv, camp).all()
    assert not kept_orders(Incident(day, factor=0.0), cat, 42, day, ts + 86_400_000_000, adv, camp).any()
    other = Incident(day, factor=0.0, campaign_id=str(cat.campaign_id[1]))
    assert kept_orders(other, cat, 42, day, ts, adv, camp).all()
    with pytest.raises(ValueError, match="cmp-99999"):
        kept_orders(Incident(day, campaign_id="cmp-99999"), cat, 42, day, ts, adv, camp)
    with pytest.raises(ValueError, match="adv-9999"):
        generate(Lake("/nonexistent"), START, 2, 1_000, incident=Incident(day, advertiser_id="adv-9999"))


def test_parse_incident():
    assert parse_incident("campaign=cmp-00113,from=2026-11-05,to=2026-11-06,factor=0.1") == Incident(
        date(2026, 11, 5), date(2026, 11, 6), 0.1, campaign_id="cmp-00113"
    )
    assert parse_incident(" from=2026-11-05 ") == Incident(date(2026, 11, 5))
    assert parse_incident("from=2026-11-05,advertiser=adv-0024").target == ("advertiser", "adv-0024")
    assert parse_incident("from=2026-11-05").target == ALL
    for text, match in (
        ("to=2026-11-06", "'from=YYYY-MM-DD' is required"),
        ("from=2026-11-05,when=now", "unknown key 'when'"),
        ("from=2026-11-05,from=2026-11-06", "given twice"),
        ("from=2026-11-05,factor", "expected key=value"),
        ("from=5 Nov", "dates are YYYY-MM-DD"),
        ("from=2026-11-05,factor=lots", "factor must be a number"),
        ("from=2026-11-05,factor=1.5", r"factor must lie in \[0, 1\]"),
        ("from=2026-11-05,to=2026-11-04", "ends .* before it starts"),
        ("from=2026-11-05,campaign=cmp-00001,advertiser=adv-0001", "not both"),
        ("from=2026-11-05,channel=search", "unknown key 'channel'"),
    ):
        with pytest.raises(ValueError, match=match):
            parse_incident(text)
