"""`adlake stream demo`: the simulator's traffic into Kafka at a given rate, and what the
counters made of it: sustained events/s, latency from the broker's append to the counter
that includes the event (p50/p95/p99), consumer lag, and whether the counters equal what
was sent (computed from the simulator's columns, traffic.py).

The latency histogram (LATENCY_KEY) is reset at the start: a demo measures its own events."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ad_assets.realtime.status import lag
from ad_assets.realtime.traffic import LiveTraffic, simulate_live
from spark_jobs.kafka_auth import client_config
from spark_jobs.stream_layout import LATENCY_KEY, PROGRESS_KEY, day_key, topic

PRODUCER_CONFIG = {
    "linger.ms": 20,
    "batch.size": 1_000_000,
    # Uncompressed over loopback: lz4 cost the producer, the broker and the counters query
    # CPU on the two cores they share (p99 10.1 s -> 7.9 s at 100k events/s).
    "compression.type": "none",
    "queue.buffering.max.messages": 2_000_000,
    "queue.buffering.max.kbytes": 2_000_000,
    "acks": "all",
    "enable.idempotence": True,
}
SETTLE_TIMEOUT = 120.0
WARMUP_SECONDS = 5.0  # after the last event is sent, for the counters to include it


@dataclass
class DemoReport:
    rate_wanted: int
    seconds_wanted: float
    events_sent: int = 0
    send_seconds: float = 0.0
    sustained_events_per_s: float = 0.0
    counted_events: int = 0  # by the counters query, resends dropped
    unique_events: int = 0  # what it should count
    settle_seconds: float = 0.0  # from the last send until every event was counted
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p95, p99, max
    max_lag: int = 0  # records in Kafka not yet read by the counters query, sampled each second
    final_lag: int = 0
    counters_match: bool = False
    mismatches: list[dict] = field(default_factory=list)

    def text(self) -> str:
        lat = self.latency_ms
        ok = "yes" if self.counters_match else f"NO ({len(self.mismatches)} campaign fields differ)"
        return "\n".join(
            [
                f"events sent       {self.events_sent:,} in {self.send_seconds:.1f} s "
                f"({self.sustained_events_per_s:,.0f} events/s; wanted {self.rate_wanted:,}/s)",
                f"counted           {self.counted_events:,} of {self.unique_events:,} unique events, "
                f"all in {self.settle_seconds:.1f} s after the last send",
                f"latency           p50 {lat.get('p50', 0):,.0f} ms, p95 {lat.get('p95', 0):,.0f} ms, "
                f"p99 {lat.get('p99', 0):,.0f} ms, max {lat.get('max', 0):,.0f} ms (append to counter)",
                f"consumer lag      max {self.max_lag:,} records, {self.final_lag:,} at the end",
                f"counters match    {ok}",
            ]
        )


def percentiles(histogram: dict[int, int]) -> dict[str, float]:
    """p50/p95/p99/max of a latency histogram (bucket lower bound in ms -> events)."""
    if not histogram:
        return {}
    buckets = np.array(sorted(histogram))
    counts = np.array([histogram[b] for b in buckets])
    cum = np.cumsum(counts) / counts.sum()
    pick = {
        name: float(buckets[np.searchsorted(cum, q)])
        for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
    }
    return {**pick, "max": float(buckets[-1])}


def send(traffic: LiveTraffic, bootstrap: str, on_second=None) -> float:
    """Produces every line at its send time; returns the seconds it took."""
    from confluent_kafka import Producer

    producer = Producer({**client_config(bootstrap), **PRODUCER_CONFIG})
    topics = {t: topic(t) for t in set(traffic.topics)}
    names = [topics[t] for t in traffic.topics]
    n = len(traffic)
    start = time.perf_counter()
    i, next_tick = 0, 1.0
    while i < n:
        now = time.perf_counter() - start
        j = int(np.searchsorted(traffic.send_at, now, side="right"))
        while i < j:
            try:
                producer.produce(names[i], traffic.lines[i], traffic.keys[i])
                i += 1
            except BufferError:  # the local queue is full: let it drain
                producer.poll(0.05)
        producer.poll(0)
        if on_second and now >= next_tick:
            on_second()
            next_tick += 1.0
        if i < n:
            time.sleep(max(0.0, min(0.005, traffic.send_at[i] - (time.perf_counter() - start))))
    left = producer.flush(60)
    if left:
        raise RuntimeError(f"{left} events were not delivered to Kafka within 60 s")
    return time.perf_counter() - start


def _campaign_totals(client, day: str, campaigns: list[str]) -> dict[str, Counter]:
    pipe = client.pipeline(transaction=False)
    for c in campaigns:
        pipe.hgetall(day_key(day, "campaign", c))
    return {
        c: Counter({k.decode(): int(v) for k, v in h.items()})
        for c, h in zip(campaigns, pipe.execute(), strict=True)
    }


def run_demo(
    bootstrap: str,
    redis_url: str,
    checkpoint: Path,
    rate: int,
    seconds: float,
    seed: int = 42,
    warmup: float = WARMUP_SECONDS,
) -> DemoReport:
    import redis

    client = redis.Redis.from_url(redis_url)
    report = DemoReport(rate_wanted=rate, seconds_wanted=seconds)
    events = int(rate * seconds)
    if warmup:
        # A cold driver compiles its code on the first batches: a few seconds of traffic
        # first (counted, not measured), so the figures describe the steady state.
        warm_start = int((time.time() + 1 + rate * warmup / 120_000) * 1e6)
        warm = simulate_live(int(rate * warmup), warmup, warm_start, seed + 1)
        time.sleep(max(0.0, warm_start / 1e6 - time.time()))
        send(warm, bootstrap)
    # Event times start when sending does: generation takes about 8 s per million events.
    lead = 3.0 + events / 120_000
    start_us = int((time.time() + lead) * 1e6)
    traffic = simulate_live(events, seconds, start_us, seed)
    report.unique_events = traffic.unique_events
    # What was sent before (a driver rebuilding its counters from Kafka) is counted first:
    # the comparison below needs counters that no longer move.
    drained = time.monotonic() + SETTLE_TIMEOUT
    while lag(bootstrap, checkpoint) and time.monotonic() < drained:
        time.sleep(0.5)
    campaigns = sorted(key for scope, key in traffic.expected if scope == "campaign")
    before = _campaign_totals(client, traffic.day, campaigns)
    counted_before = int(client.hget(PROGRESS_KEY, "events") or 0)
    client.delete(LATENCY_KEY)
    time.sleep(max(0.0, start_us / 1e6 - time.time()))

    lags: list[int] = []
    report.send_seconds = send(traffic, bootstrap, on_second=lambda: lags.append(lag(bootstrap, checkpoint)))
    report.events_sent = len(traffic)
    report.sustained_events_per_s = len(traffic) / report.send_seconds
    sent_at = time.monotonic()
    while True:
        report.counted_events = int(client.hget(PROGRESS_KEY, "events") or 0) - counted_before
        if report.counted_events >= traffic.unique_events or time.monotonic() - sent_at > SETTLE_TIMEOUT:
            break
        time.sleep(0.1)
        if len(lags) < 1000 and time.monotonic() - sent_at > len(lags) - report.send_seconds:
            lags.append(lag(bootstrap, checkpoint))
    report.settle_seconds = time.monotonic() - sent_at
    # Spark records a batch done (its commit file) just after its counts reach Redis.
    done = time.monotonic() + 15
    while (final := lag(bootstrap, checkpoint)) and time.monotonic() < done:
        time.sleep(0.2)
    report.final_lag = final
    report.max_lag = max([*lags, report.final_lag])
    hist = {int(k): int(v) for k, v in client.hgetall(LATENCY_KEY).items()}
    report.latency_ms = percentiles(hist)
    after = _campaign_totals(client, traffic.day, campaigns)
    for c in campaigns:
        for fld, want in traffic.expected[("campaign", c)].items():
            got = after[c][fld] - before[c][fld]
            if got != want:
                report.mismatches.append({"campaign": c, "field": fld, "expected": want, "counted": got})
    report.counters_match = not report.mismatches and report.counted_events == traffic.unique_events
    return report


def as_json(report: DemoReport) -> str:
    return json.dumps(asdict(report), indent=2)
