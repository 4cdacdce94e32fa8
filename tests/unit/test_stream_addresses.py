"""Which of the real-time path's servers this machine runs, from the configured addresses
(ad_assets/realtime/servers.py); no server is started here."""

from __future__ import annotations

from pathlib import Path

from ad_assets.cli import main
from ad_assets.realtime.servers import kafka_local_port, local_servers, redis_local_port
from ad_assets.settings import load_settings


def test_only_addresses_on_this_machine_are_run_locally() -> None:
    assert kafka_local_port("127.0.0.1:9092") == 9092
    assert kafka_local_port("localhost:19092") == 19092
    assert kafka_local_port("kafka-1.internal:9092") is None
    assert kafka_local_port("127.0.0.1:9092,127.0.0.1:9094") is None  # a cluster
    assert redis_local_port("redis://127.0.0.1:6379/0") == 6379
    assert redis_local_port("redis://localhost/0") == 6379
    assert redis_local_port("rediss://127.0.0.1:6380/0") is None
    assert redis_local_port("redis://cache.internal:6379/0") is None


def test_the_local_servers_live_under_adlake_home(tmp_path: Path) -> None:
    s = load_settings({"ADLAKE_HOME": str(tmp_path), "ADLAKE_KAFKA_JARS_DIR": "/jars"})
    assert (s.kafka_bootstrap, s.redis_url) == ("127.0.0.1:9092", "redis://127.0.0.1:6379/0")
    broker, redis_server = local_servers(s)
    assert (broker.home, broker.port, broker.controller_port, broker.jars_dir) == (
        tmp_path / "stream" / "kafka",
        9092,
        9093,
        "/jars",
    )
    assert (redis_server.home, redis_server.url) == (
        tmp_path / "stream" / "redis",
        "redis://127.0.0.1:6379/0",
    )


def test_stream_up_uses_external_servers_as_they_are(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ADLAKE_HOME", str(tmp_path))
    monkeypatch.setenv("ADLAKE_KAFKA_BOOTSTRAP", "kafka-1.internal:9092")
    monkeypatch.setenv("ADLAKE_REDIS_URL", "rediss://cache.internal:6380/0")
    # The servers only: the counters query would connect to them (unreachable here).
    assert main(["stream", "up", "--servers-only"]) == 0
    out = capsys.readouterr().out
    assert "kafka: using the configured external server kafka-1.internal:9092" in out
    assert "redis: using the configured external server rediss://cache.internal:6380/0" in out
    assert not (tmp_path / "stream").exists()
