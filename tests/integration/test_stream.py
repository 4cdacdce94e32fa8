"""The real-time path end to end with the real engines: the simulator's traffic into the
session's Kafka broker, the counters query (Spark Structured Streaming, its own process)
into the session's Redis, and the lake landing through Dagster.

The counters must equal what the simulator says it sent (traffic.py computes them from its
columns, not from the lines), across a killed driver, a Redis restart and a broker restart;
a line that fails the contract reaches the dead-letter topic with its reason; the landing
writes every record once, and re-running it writes nothing."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from dagster import DagsterInstance, materialize

from ad_assets.defs.realtime import raw_stream_landing
from ad_assets.realtime.demo import lag, run_demo, send
from ad_assets.realtime.driver import StreamDriver
from ad_assets.realtime.status import counters_status, day_totals
from ad_assets.realtime.traffic import simulate_live
from ad_assets.resources import LakeResource, SparkResource
from ad_assets.resources.stream import StreamResource
from ad_assets.settings import load_settings
from spark_jobs.contracts import EVENT_TYPES
from spark_jobs.stream_layout import DEAD_LETTER_TOPIC, TOPICS, topic

pytestmark = pytest.mark.spark  # the driver is a Spark process; the landing runs Spark here

SETTLE = 90.0


def _settled(servers, driver: StreamDriver, timeout: float = SETTLE) -> None:
    deadline = time.monotonic() + timeout
    while lag(servers.kafka_bootstrap, driver.checkpoint):
        assert time.monotonic() < deadline, f"the counters query did not catch up in {timeout:.0f} s"
        time.sleep(0.5)


def _traffic(events: int, seed: int):
    start = int((time.time() + 2) * 1e6)
    t = simulate_live(events, 3, start, seed)
    time.sleep(max(0.0, start / 1e6 - time.time()))
    return t


@pytest.fixture(scope="module")
def driver(stream_servers, tmp_path_factory):
    stream_servers.redis.client().flushdb()
    d = StreamDriver(
        tmp_path_factory.mktemp("stream") / "driver",
        stream_servers.kafka_bootstrap,
        stream_servers.redis_url,
        load_settings().spark_jars_dir,
    )
    d.start()
    yield d
    d.stop()


def test_counters_equal_the_traffic_through_a_killed_driver_and_server_restarts(stream_servers, driver):
    sent: Counter = Counter()
    day = None

    def counted():
        live, late = day_totals(stream_servers.redis_url, day)
        return {
            (c, f): v + late.get(c, {}).get(f, 0)
            for c, fields in live.items()
            for f, v in fields.items()
            if f in ("impressions", "clicks", "spend_micros")
        }

    first = _traffic(30_000, seed=11)
    day = first.day
    before = counted()
    for t in (first,):
        send(t, stream_servers.kafka_bootstrap)
        sent.update({(c, f): n for (_, c), fields in t.expected.items() for f, n in fields.items()})
    # Killed while it works through a burst: the batch in flight is replayed on restart.
    time.sleep(1.5)
    driver.kill()
    assert not driver.running()
    stream_servers.redis.restart()  # the counters are on disk (append-only, fsync always)
    driver.start()
    second = _traffic(30_000, seed=12)
    send(second, stream_servers.kafka_bootstrap)
    sent.update({(c, f): n for (_, c), fields in second.expected.items() for f, n in fields.items()})
    stream_servers.broker.restart()  # the query reconnects and goes on
    third = _traffic(20_000, seed=13)
    send(third, stream_servers.kafka_bootstrap)
    sent.update({(c, f): n for (_, c), fields in third.expected.items() for f, n in fields.items()})
    _settled(stream_servers, driver)

    after = counted()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    assert {k: v for k, v in delta.items() if v} == {k: v for k, v in sent.items() if v}
    assert sum(v for (_, f), v in sent.items() if f == "clicks") > 0  # not vacuous
    status = counters_status(stream_servers.redis_url)
    assert not status.incomplete, status.incomplete


def test_the_demo_reports_what_the_counters_made_of_its_traffic(stream_servers, driver):
    r = run_demo(
        stream_servers.kafka_bootstrap, stream_servers.redis_url, driver.checkpoint, 10_000, 3, warmup=0
    )
    assert r.counters_match, r.mismatches[:5]
    assert r.events_sent > 25_000 and r.counted_events == r.unique_events > 3_000
    assert 0 < r.latency_ms["p50"] <= r.latency_ms["p99"] <= r.latency_ms["max"] < 60_000
    assert r.final_lag == 0


def test_a_line_that_fails_the_contract_goes_to_the_dead_letter_topic(stream_servers, driver):
    producer = Producer({"bootstrap.servers": stream_servers.kafka_bootstrap})
    bad = json.dumps({"event_type": "impression", "event_id": "dead-1", "event_ts": "soon"}).encode()
    producer.produce(topic("impression"), bad, b"dead-1")
    assert producer.flush(10) == 0
    _settled(stream_servers, driver)
    consumer = Consumer({"bootstrap.servers": stream_servers.kafka_bootstrap, "group.id": "t-dlq"})
    consumer.assign([TopicPartition(DEAD_LETTER_TOPIC, p, 0) for p in range(4)])
    found = None
    deadline = time.monotonic() + 20
    while found is None and time.monotonic() < deadline:
        msg = consumer.poll(1)
        if msg is not None and not msg.error():
            record = json.loads(msg.value())
            if json.loads(record["line"]).get("event_id") == "dead-1":
                found = record
    consumer.close()
    assert found is not None
    assert found["topic"] == topic("impression")
    assert found["reason"].startswith("bad_type:event_ts")


def _end_offsets(bootstrap: str) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "t-offsets"})
    try:
        meta = c.list_topics(timeout=10)
        return sum(
            c.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1]
            for t in TOPICS
            for p in meta.topics[t].partitions
        )
    finally:
        c.close()


def _raw_lines(root: Path) -> dict[str, int]:
    out = {}
    for t in EVENT_TYPES:
        files = sorted((root / "raw" / t).glob("dt=*/hour=*/stream-b*.jsonl.gz"))
        out[t] = sum(len(gzip.decompress(f.read_bytes()).splitlines()) for f in files)
    return out


def test_the_landing_writes_every_record_once(stream_servers, spark, tmp_path):
    settings = load_settings()
    resources = {
        "lake": LakeResource(root=str(tmp_path / "lake")),
        "spark": SparkResource(jars_dir=settings.spark_jars_dir, driver_memory="3g"),
        "stream": StreamResource(
            kafka_bootstrap=stream_servers.kafka_bootstrap,
            redis_url=stream_servers.redis_url,
            home=str(tmp_path),
        ),
    }
    send(_traffic(10_000, seed=21), stream_servers.kafka_bootstrap)  # every topic has some
    records = _end_offsets(stream_servers.kafka_bootstrap)
    result = materialize([raw_stream_landing], resources=resources, instance=DagsterInstance.ephemeral())
    (check,) = result.get_asset_check_evaluations()
    assert check.passed, check.metadata
    landed = _raw_lines(tmp_path / "lake")
    assert sum(landed.values()) == records >= 9_000
    files = sorted(p.name for p in (tmp_path / "lake" / "raw").rglob("*.jsonl.gz"))
    # Again: nothing new in Kafka, nothing new in the lake.
    result = materialize([raw_stream_landing], resources=resources, instance=DagsterInstance.ephemeral())
    (mat,) = result.asset_materializations_for_node("raw_stream_landing")
    assert mat.metadata["lines"].value == 0
    assert _raw_lines(tmp_path / "lake") == landed
    assert sorted(p.name for p in (tmp_path / "lake" / "raw").rglob("*.jsonl.gz")) == files
