from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource


class StreamResource(ConfigurableResource):
    """The real-time path: Kafka, Redis, and where the project keeps the stream's state
    (the landing's checkpoint, the counters driver's home)."""

    kafka_bootstrap: str
    redis_url: str
    home: str  # $ADLAKE_HOME/stream

    def landing_checkpoint(self) -> str:
        return f"{self.home}/checkpoints/landing"

    def counters_checkpoint(self) -> str:
        from ad_assets.realtime.driver import counters_checkpoint

        return str(counters_checkpoint(Path(self.home) / "driver"))
