"""The real-time path's servers as the project runs them: the broker's topics, a message
that outlives a broker restart, Redis counters that outlive a restart and a crash, and
`adlake stream up/status/down` (docs/streaming.md)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ad_assets.cli import main
from ad_assets.realtime.servers import RETENTION_MS, STREAM_TOPICS
from spark_jobs.stream_layout import TOPIC_PARTITIONS, topic
from tests.stream_fixtures import StreamServers, free_port, free_port_pair

# The CLI test starts its own servers without the fixture: mark the whole module.
pytestmark = pytest.mark.stream


def test_topics_have_their_partitions_and_retention(stream_servers: StreamServers) -> None:
    from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

    admin = AdminClient({"bootstrap.servers": stream_servers.kafka_bootstrap})
    md = admin.list_topics(timeout=10)
    assert {t: len(md.topics[t].partitions) for t in STREAM_TOPICS} == dict.fromkeys(
        STREAM_TOPICS, TOPIC_PARTITIONS
    )
    configs = admin.describe_configs([ConfigResource(ResourceType.TOPIC, t) for t in STREAM_TOPICS])
    for resource, future in configs.items():
        assert future.result()["retention.ms"].value == str(RETENTION_MS), resource
    # No topic appears because someone asked for it: a misspelt name fails instead.
    unknown = admin.list_topics(topic="adlake.events.no_such_type", timeout=10)
    assert unknown.topics["adlake.events.no_such_type"].error is not None
    assert "adlake.events.no_such_type" not in admin.list_topics(timeout=10).topics


def test_a_message_is_read_back_after_the_broker_restarts(stream_servers: StreamServers) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition

    value = uuid.uuid4().hex.encode()
    delivered = []
    producer = Producer({"bootstrap.servers": stream_servers.kafka_bootstrap, "acks": "all"})
    producer.produce(
        topic("click"), key=b"u-1", value=value, on_delivery=lambda err, msg: delivered.append((err, msg))
    )
    assert producer.flush(15) == 0
    [(err, msg)] = delivered
    assert err is None, err

    stream_servers.broker.restart()

    consumer = Consumer(
        {
            "bootstrap.servers": stream_servers.kafka_bootstrap,
            "group.id": "test-restart",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(msg.topic(), msg.partition(), msg.offset())])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = consumer.poll(1.0)
            if got is not None and got.error() is None:
                assert (got.key(), got.value()) == (b"u-1", value)
                return
        pytest.fail("the message produced before the restart was not read back")
    finally:
        consumer.close()


def test_redis_counters_survive_a_restart_and_a_crash(stream_servers: StreamServers) -> None:
    import redis

    server = stream_servers.redis
    client = redis.Redis.from_url(stream_servers.redis_url)
    key = f"adlake:test:{uuid.uuid4().hex}"
    client.hincrby(key, "impressions", 3)
    server.restart()  # SHUTDOWN: fsync, exit
    assert client.hget(key, "impressions") == b"3"
    client.hincrby(key, "impressions", 4)
    # A crash: nothing is flushed on the way out, only what appendfsync always wrote counts.
    os.kill(server.pid(), signal.SIGKILL)
    server.start()
    assert client.hget(key, "impressions") == b"7"
    client.delete(key)


@pytest.mark.spark  # `stream up` starts the counters query, a Spark process
def test_adlake_stream_up_status_down(tmp_path: Path, monkeypatch, capsys) -> None:
    kafka_port, redis_port = free_port_pair(), free_port()
    monkeypatch.setenv("ADLAKE_HOME", str(tmp_path))
    monkeypatch.setenv("ADLAKE_KAFKA_BOOTSTRAP", f"127.0.0.1:{kafka_port}")
    monkeypatch.setenv("ADLAKE_REDIS_URL", f"redis://127.0.0.1:{redis_port}/0")
    try:
        # In its own process: the servers outlive the command that started them.
        up = subprocess.run(
            [sys.executable, "-m", "ad_assets.cli", "stream", "up"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert up.returncode == 0, up.stderr
        assert f"kafka: 127.0.0.1:{kafka_port} (started" in up.stdout
        assert f"redis: redis://127.0.0.1:{redis_port}/0 (started" in up.stdout
        assert "counters query: started" in up.stdout

        assert main(["stream", "status"]) == 0
        status = capsys.readouterr().out
        assert f"kafka: running, 127.0.0.1:{kafka_port}" in status
        for t in STREAM_TOPICS:
            assert f"  {t}: {TOPIC_PARTITIONS} partitions" in status
        # The counters query announced itself in Redis and has nothing to read yet.
        assert (
            "redis: running" in status and "counters query: running" in status and "lag 0 records" in status
        )

        assert main(["stream", "up"]) == 0  # nothing is started twice
        assert capsys.readouterr().out.count("already running") == 3
    finally:
        assert main(["stream", "down"]) == 0
    # down returns once the servers have exited, the JVM's last thread too: a server
    # started next can bind their ports.
    for port in (kafka_port, kafka_port + 1, redis_port):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    assert main(["stream", "status"]) == 1
    assert capsys.readouterr().out.count("DOWN") == 3  # Kafka, Redis, the counters query

    # A pid file naming a live process that is not the server (a pid reused) is stale.
    pid_file = tmp_path / "stream" / "redis" / "redis.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    assert main(["stream", "status"]) == 1
    assert "redis: DOWN" in capsys.readouterr().out
    assert not pid_file.exists()
