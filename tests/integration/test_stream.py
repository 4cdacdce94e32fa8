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
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from dagster import DagsterInstance, materialize

from ad_assets.defs.realtime import raw_stream_landing
from ad_assets.realtime.demo import run_demo, send
from ad_assets.realtime.driver import StreamDriver
from ad_assets.realtime.status import counters_status, day_totals, lag
from ad_assets.realtime.traffic import simulate_live
from ad_assets.resources import LakeResource, SparkResource
from ad_assets.resources.stream import StreamResource
from ad_assets.settings import load_settings
from spark_jobs.contracts import EVENT_TYPES
from spark_jobs.stream_layout import DEAD_LETTER_TOPIC, PROGRESS_KEY, TOPIC_PARTITIONS, TOPICS, topic

# The driver is a Spark process of its own; the landing runs Spark in this one.
pytestmark = [pytest.mark.spark]
# In the full suite the landing's foreachBatch once hung in this process (its py4j callback,
# on the session the other tests used), while the module passes on its own: `make
# test-stream` runs it (docs/streaming.md). The counters-query tests are in `make test`: their
# flake, a driver start that timed out, was the pid-file race fixed in servers._process.
landing_in_process = pytest.mark.skipif(
    not os.environ.get("ADLAKE_STREAM_TESTS"),
    reason="the in-process landing test runs with `make test-stream` (ADLAKE_STREAM_TESTS=1): "
    "its foreachBatch once hung inside the full suite, see the module comment",
)

SETTLE = 90.0


def _settled(servers, driver: StreamDriver, timeout: float = SETTLE) -> None:
    deadline = time.monotonic() + timeout
    while lag(servers.kafka_bootstrap, driver.checkpoint):
        assert time.monotonic() < deadline, f"the counters query did not catch up in {timeout:.0f} s"
        time.sleep(0.5)


def _traffic(events: int, seed: int):
    """About `events` lines over 3 s from now, all on today's date (UTC)."""
    to_midnight = 86_400 - time.time() % 86_400
    if to_midnight < 60:  # the counters are compared per event date: keep one
        time.sleep(to_midnight + 1)
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


def test_counters_equal_the_traffic_through_a_crashed_driver_and_server_restarts(
    stream_servers, driver, monkeypatch, tmp_path
):
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

    def sent_all(t) -> None:
        send(t, stream_servers.kafka_bootstrap)
        sent.update({(c, f): n for (_, c), fields in t.expected.items() for f, n in fields.items()})

    first = _traffic(30_000, seed=11)
    day = first.day
    before = counted()
    replays = int(stream_servers.redis.client().hget(PROGRESS_KEY, "replays_skipped") or 0)
    # The driver dies right after Redis took a batch and before Spark recorded it done:
    # on restart Spark replays that batch, and the fence must make it change nothing.
    driver.stop()
    monkeypatch.setenv("ADLAKE_STREAM_CRASH_ONCE", str(tmp_path / "crashed"))
    driver.start()
    sent_all(first)
    assert driver.wait_exit(60) == 137, "the driver did not crash after its first batch"
    monkeypatch.delenv("ADLAKE_STREAM_CRASH_ONCE")
    driver.start()
    second = _traffic(30_000, seed=12)
    sent_all(second)
    stream_servers.redis.restart()  # while the query works: it retries, the counters are on disk
    stream_servers.broker.restart()  # the query reconnects and goes on
    sent_all(_traffic(20_000, seed=13))
    _settled(stream_servers, driver)

    after = counted()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    assert {k: v for k, v in delta.items() if v} == {k: v for k, v in sent.items() if v}
    assert sum(v for (_, f), v in sent.items() if f == "clicks") > 0  # not vacuous
    status = counters_status(stream_servers.redis_url)
    assert not status.incomplete, status.incomplete
    assert int(stream_servers.redis.client().hget(PROGRESS_KEY, "replays_skipped")) > replays


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
    consumer.assign([TopicPartition(DEAD_LETTER_TOPIC, p, 0) for p in range(TOPIC_PARTITIONS)])
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
        files = sorted((root / "raw" / t).glob("dt=*/hour=*/stream-*.jsonl.gz"))
        out[t] = sum(len(gzip.decompress(f.read_bytes()).splitlines()) for f in files)
    return out


@landing_in_process
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
