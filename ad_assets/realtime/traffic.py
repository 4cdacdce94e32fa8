"""Live traffic for the stream: the simulator's day (the same world, auctions, clicks,
conversions, shipping delays and resends as the batch logs) replayed as a time-lapse.
Simulated time is compressed so the day's arrivals fill `seconds` of wall time at an even
rate; event timestamps are compressed alike, so an event is sent at its (compressed)
arrival and names its (compressed) event time: lateness, resends and click delays keep
their order, shorter.

`expected` holds what the counters must show for the traffic, computed here from the
simulator's columns (not from the lines): valid impressions, clicks and spend per campaign
after dropping resends. Pure Python and numpy: no Spark, no Kafka."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from ad_assets.generator.catalog import build_catalog
from ad_assets.generator.columns import Column, take
from ad_assets.generator.delivery import DeliveryProfile, Phases, ship
from ad_assets.generator.simulate import DAY_US, day_start_us, simulate_day
from spark_jobs.contracts import EVENT_TYPES
from spark_jobs.stream_layout import COUNTED_TYPES, LIVE_LATENESS

# Events per impression in the simulator's mix (requests, responses, clicks, conversions
# included), to size the day for a wanted number of events.
EVENTS_PER_IMPRESSION = 6.9


@dataclass
class LiveTraffic:
    lines: list[bytes]  # in send order
    keys: list[bytes]  # partitioning key of each line (stream_layout.message_key)
    topics: list[str]  # event type of each line
    send_at: np.ndarray  # seconds after the start, ascending
    day: str  # event date of every line (UTC)
    expected: dict[tuple[str, str], Counter] = field(default_factory=dict)  # (scope, key) -> field -> n
    unique_events: int = 0  # lines of the counted types minus resends: what the counters count

    def __len__(self) -> int:
        return len(self.lines)


def _strings(col: Column, rows: np.ndarray) -> np.ndarray:
    c = take(col, rows)
    return c if isinstance(c, np.ndarray) else c.materialise()


def simulate_live(
    events: int, seconds: float, start_us: int, seed: int = 42, delivery: DeliveryProfile | None = None
) -> LiveTraffic:
    """About `events` lines: one simulated day's arrivals, sent evenly over `seconds` from
    `start_us`. Time is warped by the arrivals' own distribution (arrival i of n is sent
    at i/n of the span; event times map through the same monotone warp), so the send rate
    is even while every event still arrives after it happened, in the simulated order.
    Mangled lines are off by default: the dead-letter path is tested with its own lines."""
    day = datetime.fromtimestamp(start_us / 1e6, UTC).date()
    # A margin, then the first `events` arrivals: the day's mix varies by weekday.
    impressions = max(100, int(1.3 * events / EVENTS_PER_IMPRESSION))
    cat = build_catalog(seed, day, impressions)
    sim = simulate_day(cat, seed, day, impressions)
    dp = delivery or DeliveryProfile(malformed_rate=0.0)
    rng = np.random.default_rng([seed, day.toordinal(), 0x57E])
    day_end = day_start_us(day) + DAY_US
    shipped = []
    for event_type in EVENT_TYPES:
        for cols in sim[event_type]:
            s = ship(rng, event_type, cols, dp, lambda a: a < day_end, Phases())
            if len(s.rows):
                shipped.append(s)
    known = np.sort(np.concatenate([s.arrival for s in shipped]))[:events]
    cut = known[-1]
    for s in shipped:
        kept = s.arrival <= cut
        s.rows, s.arrival = s.rows[kept], s.arrival[kept]
    shipped = [s for s in shipped if len(s.rows)]
    span = np.arange(len(known)) * (seconds * 1e6 / len(known))

    def warp(ts: np.ndarray) -> np.ndarray:
        return (start_us + np.interp(ts, known, span)).astype(np.int64)

    parts: list[tuple[str, np.ndarray, list[bytes], np.ndarray]] = []
    expected: dict[tuple[str, str], Counter] = {}
    unique = 0
    for s in shipped:
        s.cols = {**s.cols, "event_ts": warp(np.asarray(s.cols["event_ts"]))}  # before s.writer
        arrival = warp(s.arrival)
        data, ends = s.writer.write(s.rows)
        raw = data.tobytes()
        starts = [0, *ends[:-1].tolist()]
        lines = [raw[a : b - 1] for a, b in zip(starts, ends.tolist(), strict=True)]
        ids = _strings(s.cols["event_id"], s.rows)
        users = _strings(s.cols["user_id"], s.rows) if "user_id" in s.cols else ids
        keys = np.array([str(u or e).encode() for u, e in zip(users, ids, strict=True)], dtype=object)
        parts.append((s.event_type, arrival, lines, keys))
        first = np.unique(s.rows)
        unique += len(first) if s.event_type in COUNTED_TYPES else 0
        # A resend arrives after its first copy, which decides lateness and is counted.
        first_arrival = np.full(int(s.rows.max()) + 1, np.iinfo(np.int64).max)
        np.minimum.at(first_arrival, s.rows, arrival)
        _expect(expected, s.event_type, s.cols, first, first_arrival[first])
    arrival = np.concatenate([p[1] for p in parts])
    order = np.argsort(arrival, kind="stable")
    lines = [line for p in parts for line in p[2]]
    keys = np.concatenate([p[3] for p in parts])
    topics = np.concatenate([np.full(len(p[2]), p[0], dtype=object) for p in parts])
    return LiveTraffic(
        lines=[lines[i] for i in order],
        keys=keys[order].tolist(),
        topics=topics[order].tolist(),
        send_at=(arrival[order] - start_us) / 1e6,
        day=day.isoformat(),
        expected=expected,
        unique_events=unique,
    )


def _expect(
    out: dict[tuple[str, str], Counter], event_type: str, cols: dict, rows: np.ndarray, arrival: np.ndarray
) -> None:
    """Counters of the first copies of `rows`: valid traffic that arrived in time."""
    if event_type not in ("impression", "click"):
        return
    ts = np.asarray(cols["event_ts"])[rows]
    live = arrival - ts <= LIVE_LATENESS.total_seconds() * 1e6
    valid = (_strings(cols["ivt"], rows) == "none") & ~np.asarray(cols["is_test"])[rows] & live
    campaigns = _strings(cols["campaign_id"], rows)[valid]
    name = "impressions" if event_type == "impression" else "clicks"
    for c, n in zip(*np.unique(campaigns, return_counts=True), strict=True):
        out.setdefault(("campaign", str(c)), Counter())[name] += int(n)
    if event_type == "impression":
        cost = np.asarray(cols["cost_micros"])[rows][valid]
        for c, v in zip(campaigns, cost, strict=True):
            out[("campaign", str(c))]["spend_micros"] += int(v)
