"""The HTTP collector against the session's real Kafka broker: events posted as one
object, a JSON array or JSON Lines arrive in their topics byte for byte, keyed, once each;
a request with a bad event is rejected whole (nothing produced); /health and the docs;
a broker that cannot be reached gives 503, never 202."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import zlib
from collections import Counter
from datetime import date

import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient

from ad_assets.generator import generate
from serving.collector import BodyError, create_app, split_events
from spark_jobs.contracts import EVENT_TYPES, line_problems
from spark_jobs.lake import Lake
from spark_jobs.stream_layout import TOPIC_PARTITIONS, TOPICS, message_key, topic
from tests.stream_fixtures import free_port

NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> dict[str, list[bytes]]:
    """Valid generator lines per event type (the generator also mangles a few: left out)."""
    root = tmp_path_factory.mktemp("collector-lake")
    generate(Lake(str(root)), date(2026, 11, 2), 2, 1500, seed=21)
    out: dict[str, list[bytes]] = {}
    for event_type in EVENT_TYPES:
        raw = [
            line
            for p in sorted((root / "raw" / event_type).rglob("*.jsonl.gz"))
            for line in gzip.decompress(p.read_bytes()).splitlines()
        ]
        out[event_type] = [line for line in raw if line_problems(event_type, line) is None][:300]
    assert all(out[t] for t in ("bid_request", "bid_response", "impression", "click"))
    return out


@pytest.fixture(scope="module")
def client(stream_servers):
    with TestClient(create_app({"bootstrap.servers": stream_servers.kafka_bootstrap})) as c:
        yield c


def _offsets(bootstrap: str) -> dict[tuple[str, int], int]:
    """The end offset of every partition of the event topics."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "collector-test"})
    try:
        return {
            (t, p): consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1]
            for t in TOPICS
            for p in range(TOPIC_PARTITIONS)
        }
    finally:
        consumer.close()


def _produced(bootstrap: str, since: dict[tuple[str, int], int]) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) of every message after `since`, up to the end offsets now."""
    until = _offsets(bootstrap)
    todo = {tp: end for tp, end in until.items() if end > since[tp]}
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "collector-test", "enable.auto.commit": False}
    )
    out = []
    try:
        consumer.assign([TopicPartition(t, p, since[(t, p)]) for t, p in todo])
        deadline = time.monotonic() + 20
        while todo and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            out.append((msg.topic(), msg.key(), msg.value()))
            if msg.offset() + 1 >= todo.get((msg.topic(), msg.partition()), 0):
                todo.pop((msg.topic(), msg.partition()), None)
        assert not todo, f"messages not read back: {todo}"
    finally:
        consumer.close()
    return out


def _expected(raw_lines: list[bytes]) -> Counter:
    out: Counter = Counter()
    for raw in raw_lines:
        event = json.loads(raw)
        out[(topic(event["event_type"]), message_key(event).encode(), raw)] += 1
    return out


def test_one_event_arrives_as_posted_in_its_topic_with_its_key(client, stream_servers, lines):
    bootstrap = stream_servers.kafka_bootstrap
    event = lines["impression"][0]
    before = _offsets(bootstrap)
    r = client.post("/v1/events", content=event, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()) == (202, {"accepted": 1})
    assert Counter(_produced(bootstrap, before)) == _expected([event])


def test_an_array_and_json_lines_arrive_byte_for_byte_once_each(client, stream_servers, lines):
    bootstrap = stream_servers.kafka_bootstrap
    mixed = [line for t in EVENT_TYPES for line in lines[t][:8]]
    batch = [line for t in EVENT_TYPES for line in lines[t][8:208]]
    before = _offsets(bootstrap)

    array = b"[\n  " + b",\n  ".join(mixed) + b"\n]\n"
    r = client.post("/v1/events", content=array, headers={"Content-Type": "application/json; charset=utf-8"})
    assert (r.status_code, r.json()) == (202, {"accepted": len(mixed)})
    # JSON Lines as a shipper writes them: CRLF endings and a blank line are fine.
    body = b"\r\n".join(batch[:50]) + b"\r\n\r\n" + b"\n".join(batch[50:]) + b"\n"
    r = client.post("/v1/events", content=body, headers=NDJSON)
    assert (r.status_code, r.json()) == (202, {"accepted": len(batch)})
    # gzip-encoded: the same events once more.
    gz = client.post(
        "/v1/events", content=gzip.compress(body), headers={**NDJSON, "Content-Encoding": "gzip"}
    )
    assert (gz.status_code, gz.json()) == (202, {"accepted": len(batch)})

    got = Counter(_produced(bootstrap, before))
    assert got == _expected(mixed) + _expected(batch) + _expected(batch)
    assert {t for t, _, _ in got} == {topic(t) for t in EVENT_TYPES if lines[t]}


def test_a_request_with_one_bad_event_is_rejected_whole(client, stream_servers, lines):
    bootstrap = stream_servers.kafka_bootstrap
    good = lines["click"][:5] + lines["impression"][:40]
    mangled = json.loads(lines["impression"][40])
    mangled["cost_micros"] = "n/a"
    unknown = {**json.loads(lines["click"][5]), "event_type": "view"}
    huge = {**json.loads(lines["click"][8]), "note": "x" * 900_000}  # valid, but over a Kafka message
    body = [
        *good[:10],
        json.dumps(mangled).encode(),
        *good[10:],
        json.dumps(unknown).encode(),
        b'{"event_id": 1',
        json.dumps(huge).encode(),
    ]
    before = _offsets(bootstrap)

    r = client.post("/v1/events", content=b"\n".join(body), headers=NDJSON)
    assert r.status_code == 422
    assert r.json() == {
        "rejected": 4,
        "errors": [
            {"line": 11, "event_type": "impression", "reason": "bad_type:cost_micros"},
            {"line": 47, "event_type": "view", "reason": "unknown_event_type"},
            {"line": 48, "event_type": None, "reason": "malformed_json"},
            {"line": 49, "event_type": "click", "reason": "too_large"},
        ],
    }
    single = client.post("/v1/events", json=unknown)
    assert single.status_code == 422
    assert single.json()["errors"] == [{"line": 1, "event_type": "view", "reason": "unknown_event_type"}]
    missing = {k: v for k, v in json.loads(lines["click"][6]).items() if k != "event_type"}
    r = client.post("/v1/events", json=[json.loads(lines["click"][7]), missing])
    assert r.json()["errors"] == [{"line": 2, "event_type": None, "reason": "unknown_event_type"}]
    assert _offsets(bootstrap) == before  # nothing produced


def test_bodies_that_are_not_events(client):
    assert client.post("/v1/events", content=b"{}", headers={"Content-Type": "text/csv"}).status_code == 415
    assert (
        client.post("/v1/events", content=b"[1, 2", headers={"Content-Type": "application/json"}).status_code
        == 400
    )
    assert (
        client.post("/v1/events", content=b"  ", headers={"Content-Type": "application/json"}).status_code
        == 400
    )
    big = client.post("/v1/events", content=b" " * (10 * 1024 * 1024 + 1), headers=NDJSON)
    assert big.status_code == 413
    bomb = client.post(
        "/v1/events",
        content=gzip.compress(b"\n" * (11 * 1024 * 1024)),
        headers={**NDJSON, "Content-Encoding": "gzip"},
    )
    assert bomb.status_code == 413
    broken = client.post(
        "/v1/events", content=zlib.compress(b"{}"), headers={**NDJSON, "Content-Encoding": "gzip"}
    )
    assert broken.status_code == 400
    with pytest.raises(BodyError) as ex:
        split_events(b"{}\n" * 4, "application/x-ndjson", max_events=3)
    assert ex.value.status == 413
    empty = client.post("/v1/events", content=b"\n\n", headers=NDJSON)
    assert (empty.status_code, empty.json()) == (202, {"accepted": 0})


def test_health_and_docs(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["brokers"] == 1 and r.json()["missing_topics"] == []
    spec = client.get("/openapi.json").json()
    assert {"/v1/events", "/health"} <= set(spec["paths"])
    assert "application/x-ndjson" in spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_no_broker_means_503_never_202(lines):
    app = create_app({"bootstrap.servers": f"127.0.0.1:{free_port()}"}, delivery_timeout=2.5)
    with TestClient(app) as c:
        r = c.post("/v1/events", content=lines["click"][0], headers={"Content-Type": "application/json"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert "failed" in r.json()["detail"] or "unconfirmed" in r.json()["detail"]
        assert c.get("/health").status_code == 503


def test_the_collector_imports_no_dagster_spark_or_dbt():
    code = (
        "import serving.collector, sys; "
        "assert not any(m.startswith(('dagster', 'pyspark', 'dbt')) for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
