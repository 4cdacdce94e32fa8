"""The real-time path's servers for tests: one Kafka broker (with the stream's topics) and
one Redis server for the whole session, on free ports of 127.0.0.1 in a scratch folder.
tests/conftest.py imports the fixture, so any test can ask for `stream_servers`; such a
test is marked `stream`."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ad_assets.realtime.servers import KafkaBroker, RedisServer, ServerError
from ad_assets.settings import load_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_pair() -> int:
    """A free port whose next one is free too: a broker's listener and its controller's
    (`adlake stream up` puts the controller on the next port)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free ports on 127.0.0.1")


@dataclass(frozen=True)
class StreamServers:
    """The session's servers. `broker` and `redis` are the server objects: a test may
    restart them (`broker.restart()`), and must leave them running."""

    broker: KafkaBroker
    redis: RedisServer

    @property
    def kafka_bootstrap(self) -> str:
        return self.broker.bootstrap

    @property
    def redis_url(self) -> str:
        return self.redis.url

    def __getitem__(self, name: str):
        """stream_servers["kafka_bootstrap"] reads as stream_servers.kafka_bootstrap."""
        return getattr(self, name)


@pytest.fixture(scope="session")
def stream_servers() -> Iterator[StreamServers]:
    home = Path(tempfile.mkdtemp(prefix="adlake-stream-"))
    port = free_port_pair()
    broker = KafkaBroker(home / "kafka", port, port + 1, load_settings().kafka_jars_dir)
    redis = RedisServer(home / "redis", free_port())
    try:
        try:
            broker.start()
            redis.start()
        except ServerError as ex:
            pytest.fail(f"the stream's servers did not start (scripts/bootstrap.sh sets them up): {ex}")
        yield StreamServers(broker, redis)
    finally:
        broker.stop()
        redis.stop()
        shutil.rmtree(home, ignore_errors=True)
